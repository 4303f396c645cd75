/* SPDX-License-Identifier: Apache-2.0 */
/*
 * virtio_blk.c - virtio-blk driver (VIRTIO 1.2 5.2; see virtio_blk.h).
 *
 * A request is one chain (5.2.6): the 16-byte header (device-readable),
 * the data segments (readable for OUT, writable for IN and GET_ID), one
 * status byte (writable). Header and status live in a DMA slot owned by the
 * driver, one slot per queue entry; the chain's token is the slot.
 *
 * Invariants:
 *  - a slot is free iff slot->req == NULL; free slots form a stack in
 *    free_slots[0..nfree);
 *  - in_flight == number of slots with a request, all under lock;
 *  - the status byte and used len are untrusted: a len that does not cover
 *    the status byte, a short IN, or an unknown status is -EIO.
 */
#include "virtio_blk.h"

#include <errno.h>
#include <string.h>

#include "virtio_blk_internal.h"
#include "virtio_driver.h"
#include "virtio_platform.h"

/* 5.2.3: everything we can use (virtio_blk_ext.c does DISCARD,
 * WRITE_ZEROES, RO, TOPOLOGY, CONFIG_WCE); a feature the device does not
 * offer is simply not negotiated. */
#define BLK_DRIVER_FEATURES                                                                        \
    ((1ull << VIRTIO_BLK_F_FLUSH) | (1ull << VIRTIO_BLK_F_SEG_MAX) |                               \
     (1ull << VIRTIO_BLK_F_BLK_SIZE) | (1ull << VIRTIO_BLK_F_RO) |                                 \
     (1ull << VIRTIO_BLK_F_TOPOLOGY) | (1ull << VIRTIO_BLK_F_CONFIG_WCE) |                         \
     (1ull << VIRTIO_BLK_F_DISCARD) | (1ull << VIRTIO_BLK_F_WRITE_ZEROES))

/* ---- completion ---- */

static int blk_status_to_errno(uint8_t st)
{
    switch (st) {
    case VIRTIO_BLK_S_OK:
        return 0;
    case VIRTIO_BLK_S_UNSUPP:
        return -EOPNOTSUPP;
    default:
        return -EIO; /* IOERR, or a value the spec does not define */
    }
}

/* A finished request whose done callback is still to be called (outside
 * the lock). fn is read before the result is published: from then on the
 * owner may reuse the request. */
struct blk_done {
    void (*fn)(struct virtio_blk_req *req);
    struct virtio_blk_req *req;
};

/* Under lock: end the request of slot s with result, free the slot. */
static struct blk_done blk_slot_finish(struct virtio_blk *blk, struct blk_slot *s, int result,
                                       uint32_t len)
{
    struct blk_done d = {s->req->done, s->req};

    s->req = NULL;
    blk->free_slots[blk->nfree++] = (uint32_t)(s - blk->slots);
    blk->in_flight--;
    blk->stats.completed++;
    if (result)
        blk->stats.errors++;
    d.req->len = len;
    /* Release: whoever sees result also sees len and the data. */
    __atomic_store_n(&d.req->result, result, __ATOMIC_RELEASE);
    return d;
}

static int blk_used_result(const struct blk_slot *s, uint32_t len)
{
    uint8_t st;

    /* 5.2.6: the status byte is the last byte written; len must cover it. */
    if (len < 1)
        return -EIO;
    st = __atomic_load_n(&s->dma->status, __ATOMIC_RELAXED);
    if (st == VIRTIO_BLK_S_OK && s->req->type == VIRTIO_BLK_T_IN && len != s->data_len + 1)
        return -EIO; /* short read: never hand back stale bytes as data */
    return blk_status_to_errno(st);
}

#define BLK_DONE_BATCH 32

int virtio_blk_poll(struct virtio_blk *blk)
{
    struct blk_done done[BLK_DONE_BATCH];
    unsigned n, i;
    int total = 0, err = 0;

    do {
        n = 0;
        virt_lock_acquire(&blk->lock);
        while (n < BLK_DONE_BATCH) {
            struct virtqueue *vq = virtio_vq(blk->dev, BLK_REQUESTQ);
            void *token;
            uint32_t len;
            int r;

            if (!vq) {
                err = -EIO;
                break;
            }
            r = vq_get_buf(vq, &token, &len);
            if (r == -EAGAIN)
                break;
            if (r < 0) {
                err = r;
                break;
            }
            done[n++] = blk_slot_finish(blk, token, blk_used_result(token, len), len);
        }
        virt_lock_release(&blk->lock);
        for (i = 0; i < n; i++) {
            if (done[i].fn)
                done[i].fn(done[i].req);
        }
        total += (int)n;
    } while (n == BLK_DONE_BATCH && !err);
    return err ? err : total;
}

/* ---- submission ---- */

static bool blk_is_data_writable(uint32_t type)
{
    return type == VIRTIO_BLK_T_IN || type == VIRTIO_BLK_T_GET_ID;
}

static int blk_check_req(const struct virtio_blk *blk, const struct virtio_blk_req *req,
                         uint32_t *data_len)
{
    uint64_t total = 0;
    uint32_t i;
    int err;

    switch (req->type) {
    case VIRTIO_BLK_T_IN:
    case VIRTIO_BLK_T_OUT:
        if (req->nsegs == 0)
            return -EINVAL;
        break;
    case VIRTIO_BLK_T_FLUSH:
        /* 5.2.6.2: no FLUSH unless VIRTIO_BLK_F_FLUSH was negotiated. */
        if (!virtio_has_feature(blk->dev, VIRTIO_BLK_F_FLUSH))
            return -EOPNOTSUPP;
        if (req->nsegs != 0)
            return -EINVAL;
        break;
    case VIRTIO_BLK_T_GET_ID:
        if (req->nsegs != 1 || req->segs[0].len < VIRTIO_BLK_ID_BYTES)
            return -EINVAL;
        break;
    case VIRTIO_BLK_T_DISCARD:
    case VIRTIO_BLK_T_WRITE_ZEROES:
        err = blk_ext_check_dwz(blk, req);
        if (err < 0)
            return err;
        break;
    default:
        return -EINVAL;
    }
    /* 5.2.5: with VIRTIO_BLK_F_RO any write fails: do not send it. */
    if (req->type != VIRTIO_BLK_T_IN && req->type != VIRTIO_BLK_T_GET_ID &&
        req->type != VIRTIO_BLK_T_FLUSH && virtio_has_feature(blk->dev, VIRTIO_BLK_F_RO))
        return -EROFS;
    if (req->nsegs > VIRTIO_BLK_MAX_SEGS || (blk->seg_max && req->nsegs > blk->seg_max))
        return -EINVAL;
    for (i = 0; i < req->nsegs; i++) {
        if (req->segs[i].len == 0)
            return -EINVAL;
        total += req->segs[i].len;
    }
    /* 5.2.6.2: IN/OUT data is a multiple of 512 bytes. */
    if ((req->type == VIRTIO_BLK_T_IN || req->type == VIRTIO_BLK_T_OUT) &&
        total % VIRTIO_BLK_SECTOR_SIZE)
        return -EINVAL;
    if (total >= UINT32_MAX)
        return -EINVAL;
    *data_len = (uint32_t)total;
    return 0;
}

int virtio_blk_submit(struct virtio_blk *blk, struct virtio_blk_req *req)
{
    struct vq_sg sgs[VIRTIO_BLK_MAX_SEGS + 2];
    struct virtqueue *vq;
    struct blk_slot *s;
    uint32_t data_len, i;
    unsigned nout, nin;
    int err;

    err = blk_check_req(blk, req, &data_len);
    if (err < 0)
        return err;
    virt_lock_acquire(&blk->lock);
    vq = virtio_vq(blk->dev, BLK_REQUESTQ);
    if (!vq || blk->dev->needs_reset || vq_is_broken(vq)) {
        err = -EIO;
        goto out_unlock;
    }
    if (blk->nfree == 0) {
        err = -ENOSPC;
        goto out_unlock;
    }
    s = &blk->slots[blk->free_slots[blk->nfree - 1]];
    s->dma->hdr.type = vr_cpu_to_le32(req->type);
    s->dma->hdr.reserved = 0;
    /* 5.2.6.1: sector is 0 for FLUSH and GET_ID. */
    s->dma->hdr.sector = vr_cpu_to_le64(
        req->type == VIRTIO_BLK_T_IN || req->type == VIRTIO_BLK_T_OUT ? req->sector : 0);
    s->dma->status = 0xff; /* not a valid status: a device that skips it is caught */
    s->data_len = data_len;

    sgs[0].buf = &s->dma->hdr;
    sgs[0].len = sizeof(s->dma->hdr);
    for (i = 0; i < req->nsegs; i++)
        sgs[1 + i] = req->segs[i];
    sgs[1 + req->nsegs].buf = &s->dma->status;
    sgs[1 + req->nsegs].len = 1;
    nout = 1 + (blk_is_data_writable(req->type) ? 0 : req->nsegs);
    nin = 1 + req->nsegs + 1 - nout;

    req->len = 0;
    req->result = -EINPROGRESS;
    s->req = req;
    err = vq_add_sgs(vq, sgs, nout, nin, s);
    if (err < 0) {
        s->req = NULL;
        req->result = err;
        goto out_unlock;
    }
    blk->nfree--;
    blk->in_flight++;
    blk->stats.submitted++;
    err = vq_kick(vq);
out_unlock:
    virt_lock_release(&blk->lock);
    return err;
}

/* ---- waiting ---- */

static bool blk_is_device_failed(struct virtio_blk *blk)
{
    struct virtqueue *vq = virtio_vq(blk->dev, BLK_REQUESTQ);

    return !vq || vq_is_broken(vq) || __atomic_load_n(&blk->dev->needs_reset, __ATOMIC_ACQUIRE);
}

struct blk_wait_ctx {
    struct virtio_blk *blk;
    struct virtio_blk_req *req; /* NULL: until nothing is in flight */
};

static int blk_wait_poll(void *ctx)
{
    struct blk_wait_ctx *w = ctx;
    int r = virtio_blk_poll(w->blk);

    if (r < 0)
        return r;
    if (w->req)
        return __atomic_load_n(&w->req->result, __ATOMIC_ACQUIRE) != -EINPROGRESS;
    return __atomic_load_n(&w->blk->in_flight, __ATOMIC_ACQUIRE) == 0;
}

static int blk_wait_cond(struct virtio_blk *blk, struct virtio_blk_req *req, uint64_t timeout_ns)
{
    struct blk_wait_ctx w = {blk, req};
    int r;

    if (!virtio_vq(blk->dev, BLK_REQUESTQ))
        return -EIO;
    r = virtio_vq_wait(blk->dev, BLK_REQUESTQ, blk_wait_poll, &w, timeout_ns);
    if (r == -ETIMEDOUT || (r == -EIO && blk_is_device_failed(blk))) {
        /* The device may still write into the buffers: stop it before the
         * caller reuses them, and bring it back for the next request
         * (3.1.1: re-initialise after DEVICE_NEEDS_RESET or a broken ring). */
        virt_log(VIRT_LOG_ERR, "%s: %s, resetting", blk->dev->name,
                 r == -ETIMEDOUT ? "request timed out" : "device failed");
        (void)virtio_blk_reinit(blk);
        return r;
    }
    return r < 0 ? r : 0;
}

int virtio_blk_wait(struct virtio_blk *blk, struct virtio_blk_req *req, uint64_t timeout_ns)
{
    int r = blk_wait_cond(blk, req, timeout_ns);
    int result = __atomic_load_n(&req->result, __ATOMIC_ACQUIRE);

    if (r < 0 && (result == -EINPROGRESS || result == -ECANCELED))
        return r;
    return result;
}

int virtio_blk_drain(struct virtio_blk *blk, uint64_t timeout_ns)
{
    return blk_wait_cond(blk, NULL, timeout_ns);
}

int blk_do_sync(struct virtio_blk *blk, uint32_t type, uint64_t sector, void *buf, uint32_t len)
{
    struct vq_sg sg = {.buf = buf, .len = len};
    struct virtio_blk_req req = {
        .type = type,
        .nsegs = len ? 1 : 0,
        .sector = sector,
        .segs = &sg,
    };
    int err = virtio_blk_submit(blk, &req);

    if (err == -ENOSPC) {
        /* Full ring: let what is in flight finish, then try once more. */
        err = virtio_blk_drain(blk, VIRTIO_BLK_TIMEOUT_NS);
        if (err == 0)
            err = virtio_blk_submit(blk, &req);
    }
    if (err == -EIO && blk_is_device_failed(blk)) {
        /* NEEDS_RESET / broken ring seen before this request went out:
         * re-initialise (3.1.1) and send it on the fresh device. */
        virt_log(VIRT_LOG_ERR, "%s: device failed, resetting", blk->dev->name);
        err = virtio_blk_reinit(blk);
        if (err == 0)
            err = virtio_blk_submit(blk, &req);
    }
    if (err < 0)
        return err;
    return virtio_blk_wait(blk, &req, VIRTIO_BLK_TIMEOUT_NS);
}

int virtio_blk_read(struct virtio_blk *blk, uint64_t sector, void *buf, uint32_t nsectors)
{
    if (nsectors == 0 || nsectors > UINT32_MAX / VIRTIO_BLK_SECTOR_SIZE)
        return -EINVAL;
    return blk_do_sync(blk, VIRTIO_BLK_T_IN, sector, buf, nsectors * VIRTIO_BLK_SECTOR_SIZE);
}

int virtio_blk_write(struct virtio_blk *blk, uint64_t sector, const void *buf, uint32_t nsectors)
{
    if (nsectors == 0 || nsectors > UINT32_MAX / VIRTIO_BLK_SECTOR_SIZE)
        return -EINVAL;
    /* The device only reads an OUT buffer; the sg type is not const. */
    return blk_do_sync(blk, VIRTIO_BLK_T_OUT, sector, (void *)(uintptr_t)buf,
                       nsectors * VIRTIO_BLK_SECTOR_SIZE);
}

int virtio_blk_flush(struct virtio_blk *blk)
{
    return blk_do_sync(blk, VIRTIO_BLK_T_FLUSH, 0, NULL, 0);
}

int virtio_blk_get_id(struct virtio_blk *blk, char *id)
{
    uint64_t dma;
    char *buf = virt_dma_alloc(VIRTIO_BLK_ID_BYTES, &dma);
    int err;

    if (!buf)
        return -ENOMEM;
    err = blk_do_sync(blk, VIRTIO_BLK_T_GET_ID, 0, buf, VIRTIO_BLK_ID_BYTES);
    if (err == 0) {
        /* 5.2.6: the id is NUL-padded, not NUL-terminated when 20 long. */
        memcpy(id, buf, VIRTIO_BLK_ID_BYTES);
        id[VIRTIO_BLK_ID_BYTES] = '\0';
    }
    virt_dma_free(buf, VIRTIO_BLK_ID_BYTES);
    return err;
}

/* ---- config ---- */

/*
 * 5.2.4: capacity in 512-byte sectors. One whose byte size does not fit in
 * 64 bits is no disk anybody has: refused at start (the device is FAILED),
 * ignored on a config change (the old capacity stays). One clear line each.
 */
static int blk_read_capacity(struct virtio_blk *blk)
{
    uint64_t cap;
    int err =
        virtio_cread(blk->dev, offsetof(struct virtio_blk_config, capacity), &cap, sizeof(cap));

    if (err < 0)
        return err; /* virtio_cread said it: the generation never settled */
    cap = vr_le64_to_cpu(cap);
    if (cap > UINT64_MAX / VIRTIO_BLK_SECTOR_SIZE) {
        virt_log(VIRT_LOG_ERR,
                 "%s: capacity %llu sectors: byte size overflows 64 bits, refused (capacity "
                 "stays %llu)",
                 blk->dev->name, (unsigned long long)cap,
                 (unsigned long long)__atomic_load_n(&blk->capacity, __ATOMIC_RELAXED));
        return -EINVAL;
    }
    __atomic_store_n(&blk->capacity, cap, __ATOMIC_RELAXED);
    return 0;
}

/* 5.2.4 seg_max: the most data segments in a request. 0 cannot be meant
 * (every IN/OUT request has one): clamped to 1, the one value that is safe
 * whatever the device meant. */
static void blk_read_seg_max(struct virtio_blk *blk)
{
    uint32_t v;

    blk->seg_max = 0; /* no limit beyond VIRTIO_BLK_MAX_SEGS */
    if (!virtio_has_feature(blk->dev, VIRTIO_BLK_F_SEG_MAX) ||
        virtio_cread(blk->dev, offsetof(struct virtio_blk_config, seg_max), &v, sizeof(v)) < 0)
        return;
    blk->seg_max = vr_le32_to_cpu(v);
    if (blk->seg_max == 0) {
        virt_log(VIRT_LOG_WARN, "%s: seg_max 0 with VIRTIO_BLK_F_SEG_MAX: clamped to 1",
                 blk->dev->name);
        blk->seg_max = 1;
    }
}

/* 5.2.4 blk_size: only a power of two in [512, 64 KiB] is believed; else
 * 512 (what the spec assumes without the feature), said once. */
static void blk_read_blk_size(struct virtio_blk *blk)
{
    uint32_t v;

    blk->blk_size = VIRTIO_BLK_SECTOR_SIZE;
    if (!virtio_has_feature(blk->dev, VIRTIO_BLK_F_BLK_SIZE) ||
        virtio_cread(blk->dev, offsetof(struct virtio_blk_config, blk_size), &v, sizeof(v)) < 0)
        return;
    v = vr_le32_to_cpu(v);
    if (v >= VIRTIO_BLK_SECTOR_SIZE && v <= 65536 && (v & (v - 1)) == 0)
        blk->blk_size = v;
    else
        virt_log(VIRT_LOG_WARN, "%s: blk_size %u is not a power of two in [512, 65536]: using 512",
                 blk->dev->name, v);
}

/* 5.2.5: a capacity change arrives as a config change interrupt. */
static void blk_config_changed(struct virtio_device *dev)
{
    (void)blk_read_capacity(dev->driver_priv);
    blk_ext_read_config(dev->driver_priv); /* write_zeroes_may_unmap may change */
}

/* ---- set-up and teardown ---- */

static void blk_free_slots(struct virtio_blk *blk)
{
    if (blk->slot_mem)
        virt_dma_free(blk->slot_mem, blk->slot_mem_bytes);
    virt_free(blk->slots);
    virt_free(blk->free_slots);
    blk->slot_mem = NULL;
    blk->slots = NULL;
    blk->free_slots = NULL;
    blk->nslots = blk->nfree = 0;
}

static int blk_alloc_slots(struct virtio_blk *blk, uint32_t n)
{
    uint64_t dma;
    uint32_t i;

    blk->slot_mem_bytes = sizeof(struct blk_slot_dma) * n;
    blk->slot_mem = virt_dma_alloc(blk->slot_mem_bytes, &dma);
    blk->slots = virt_zalloc(sizeof(*blk->slots) * n);
    blk->free_slots = virt_zalloc(sizeof(*blk->free_slots) * n);
    if (!blk->slot_mem || !blk->slots || !blk->free_slots) {
        blk_free_slots(blk);
        return -ENOMEM;
    }
    for (i = 0; i < n; i++) {
        blk->slots[i].dma = &blk->slot_mem[i];
        blk->free_slots[i] = n - 1 - i;
    }
    blk->nslots = blk->nfree = n;
    return 0;
}

/* Stop, after the reset: end every request still in flight (-ECANCELED),
 * done callbacks outside the lock. */
static void blk_cancel(struct virtio_device *dev)
{
    struct virtio_blk *blk = dev->driver_priv;
    struct blk_done d;
    struct virtqueue *vq;
    void *token;

    for (;;) {
        virt_lock_acquire(&blk->lock);
        vq = virtio_vq(dev, BLK_REQUESTQ);
        token = vq ? vq_detach_unused(vq) : NULL;
        if (token)
            d = blk_slot_finish(blk, token, -ECANCELED, 0);
        virt_lock_release(&blk->lock);
        if (!token)
            break;
        if (d.fn)
            d.fn(d.req);
    }
}

/* Start: a capacity that cannot be read or believed refuses the device. */
static int blk_config(struct virtio_device *dev)
{
    struct virtio_blk *blk = dev->driver_priv;
    int err = blk_read_capacity(blk);

    if (err < 0)
        return err;
    blk_read_seg_max(blk);
    blk_read_blk_size(blk);
    blk_ext_read_config(blk);
    return 0;
}

/* One slot per queue entry. */
static int blk_setup(struct virtio_device *dev)
{
    return blk_alloc_slots(dev->driver_priv, vq_get_size(virtio_vq(dev, BLK_REQUESTQ)));
}

/* Under the lock, with the queue gone. */
static void blk_teardown(struct virtio_device *dev)
{
    struct virtio_blk *blk = dev->driver_priv;

    blk_free_slots(blk);
    blk->in_flight = 0;
}

/* submit and poll look at the queue under it: they see it whole or gone. */
static struct virt_lock *blk_queue_lock(struct virtio_device *dev)
{
    struct virtio_blk *blk = dev->driver_priv;

    return &blk->lock;
}

static const struct virtio_driver blk_driver = {
    VIRTIO_DRIVER_STATE(struct virtio_blk),
    .device_id = VIRTIO_ID_BLOCK,
    .nvqs = 1,
    .features = BLK_DRIVER_FEATURES,
    .config = blk_config,
    .setup = blk_setup,
    .cancel = blk_cancel,
    .teardown = blk_teardown,
    .queue_lock = blk_queue_lock,
    .config_changed = blk_config_changed,
};

/* virtio_blk_probe(), virtio_blk_remove(), virtio_blk_reinit() */
VIRTIO_DRIVER_ENTRY_POINTS(blk, blk_driver)

uint64_t virtio_blk_capacity(const struct virtio_blk *blk)
{
    return __atomic_load_n(&blk->capacity, __ATOMIC_RELAXED);
}

uint32_t virtio_blk_block_size(const struct virtio_blk *blk)
{
    return blk->blk_size;
}

uint32_t virtio_blk_seg_max(const struct virtio_blk *blk)
{
    return blk->seg_max;
}

unsigned virtio_blk_in_flight(const struct virtio_blk *blk)
{
    return __atomic_load_n(&blk->in_flight, __ATOMIC_RELAXED);
}

struct virtio_device *virtio_blk_device(struct virtio_blk *blk)
{
    return blk->dev;
}

const struct virtio_blk_stats *virtio_blk_get_stats(const struct virtio_blk *blk)
{
    return &blk->stats;
}
