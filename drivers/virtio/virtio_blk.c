/* SPDX-License-Identifier: Apache-2.0 */
/*
 * virtio_blk.c - virtio-blk driver (VIRTIO 1.2 5.2; see virtio_blk.h).
 *
 * A request is one chain (5.2.6): the 16-byte header (device-readable),
 * the data segments (readable for OUT, writable for IN and GET_ID), one
 * status byte (writable). Header and status live in a DMA slot owned by the
 * driver, one slot per queue entry; the chain's token is the slot.
 *
 * Multiqueue (5.2.2 / 5.2.3 VIRTIO_BLK_F_MQ): "N=1 if VIRTIO_BLK_F_MQ is
 * not negotiated, otherwise N is set by num_queues" (5.2.4: the field
 * "only exists if VIRTIO_BLK_F_MQ is set"). We set up min(num_queues,
 * VIRTIO_BLK_MAX_QUEUES) queues, each with its own slots. A request goes
 * on the submitting CPU's queue (cpu % nqueues) rather than round robin:
 * one CPU's stream then stays on one ring, in the order it was submitted,
 * which a backend serving each ring on its own worker (our daemon, QEMU's
 * iothreads) keeps; and CPUs do not contend for one ring's cache lines.
 * Who wants several rings from one CPU says so (virtio_blk_submit_queue:
 * `bench blk ... queues N`). One lock still covers every queue: the
 * gain we are after is the device serving rings in parallel; per-queue
 * locks are a later step (the core holds at most VIRTIO_DRIVER_MAX_LOCKS
 * around a reinit).
 *
 * Invariants:
 *  - a slot is free iff slot->req == NULL; each queue's free slots form a
 *    stack in its free_slots[0..nfree);
 *  - q[i].in_flight == number of q[i]'s slots with a request, in_flight
 *    their sum, all under lock;
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
     (1ull << VIRTIO_BLK_F_DISCARD) | (1ull << VIRTIO_BLK_F_WRITE_ZEROES) |                        \
     (1ull << VIRTIO_BLK_F_MQ))

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

/* Under lock: end the request of slot s (of queue bq) with result, free
 * the slot. */
static struct blk_done blk_slot_finish(struct virtio_blk *blk, struct blk_queue *bq,
                                       struct blk_slot *s, int result, uint32_t len)
{
    struct blk_done d = {s->req->done, s->req};

    s->req = NULL;
    bq->free_slots[bq->nfree++] = (uint32_t)(s - bq->slots);
    bq->in_flight--;
    bq->completed++;
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

/* Under lock: up to max used buffers of queue qi into done[]; how many,
 * or -EIO (queue gone or broken). */
static int blk_poll_queue(struct virtio_blk *blk, unsigned qi, struct blk_done *done, unsigned max)
{
    struct virtqueue *vq = virtio_vq(blk->dev, qi);
    unsigned n = 0;

    if (!vq || qi >= blk->nqueues)
        return -EIO;
    while (n < max) {
        void *token;
        uint32_t len;
        int r = vq_get_buf(vq, &token, &len);

        if (r == -EAGAIN)
            break;
        if (r < 0)
            return n ? (int)n : r; /* report the error on the next poll */
        done[n++] = blk_slot_finish(blk, &blk->q[qi], token, blk_used_result(token, len), len);
    }
    return (int)n;
}

/* Every queue in turn, each to its share of the batch; the first with
 * more than its share makes the caller come back. */
int virtio_blk_poll(struct virtio_blk *blk)
{
    struct blk_done done[BLK_DONE_BATCH];
    unsigned n, i, qi;
    int total = 0, err = 0;
    bool more;

    do {
        n = 0;
        more = false;
        virt_lock_acquire(&blk->lock);
        if (blk->nqueues == 0)
            err = -EIO;
        for (qi = 0; qi < blk->nqueues && !err; qi++) {
            unsigned share = BLK_DONE_BATCH / blk->nqueues;
            int r = blk_poll_queue(blk, qi, done + n, share);

            if (r < 0) {
                err = r;
                break;
            }
            n += (unsigned)r;
            if ((unsigned)r == share)
                more = true;
        }
        virt_lock_release(&blk->lock);
        for (i = 0; i < n; i++) {
            if (done[i].fn)
                done[i].fn(done[i].req);
        }
        total += (int)n;
    } while (more && !err);
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

/* q: a queue index, or BLK_QUEUE_BY_CPU. */
#define BLK_QUEUE_BY_CPU UINT32_MAX

static int blk_submit_on(struct virtio_blk *blk, uint32_t q, struct virtio_blk_req *req)
{
    struct vq_sg sgs[VIRTIO_BLK_MAX_SEGS + 2];
    struct blk_queue *bq;
    struct virtqueue *vq;
    struct blk_slot *s;
    uint32_t data_len, i;
    unsigned nout, nin;
    int err;

    err = blk_check_req(blk, req, &data_len);
    if (err < 0)
        return err;
    virt_lock_acquire(&blk->lock);
    /* nqueues is 0 while the device is down (a failed reinit). */
    if (q == BLK_QUEUE_BY_CPU && blk->nqueues)
        q = virt_cpu_id() % blk->nqueues;
    if (q >= blk->nqueues && blk->nqueues) {
        err = -EINVAL;
        goto out_unlock;
    }
    vq = virtio_vq(blk->dev, q);
    if (!vq || blk->dev->needs_reset || vq_is_broken(vq)) {
        err = -EIO;
        goto out_unlock;
    }
    bq = &blk->q[q];
    if (bq->nfree == 0) {
        err = -ENOSPC;
        goto out_unlock;
    }
    s = &bq->slots[bq->free_slots[bq->nfree - 1]];
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
    req->queue = q;
    req->result = -EINPROGRESS;
    s->req = req;
    err = vq_add_sgs(vq, sgs, nout, nin, s);
    if (err < 0) {
        s->req = NULL;
        req->result = err;
        goto out_unlock;
    }
    bq->nfree--;
    bq->in_flight++;
    bq->submitted++;
    blk->in_flight++;
    blk->stats.submitted++;
    err = vq_kick(vq);
out_unlock:
    virt_lock_release(&blk->lock);
    return err;
}

int virtio_blk_submit(struct virtio_blk *blk, struct virtio_blk_req *req)
{
    return blk_submit_on(blk, BLK_QUEUE_BY_CPU, req);
}

int virtio_blk_submit_queue(struct virtio_blk *blk, unsigned q, struct virtio_blk_req *req)
{
    if (q >= VIRTIO_BLK_MAX_QUEUES)
        return -EINVAL;
    return blk_submit_on(blk, q, req);
}

/* ---- waiting ---- */

static bool blk_is_device_failed(struct virtio_blk *blk)
{
    unsigned qi, nq = blk->nqueues;

    if (nq == 0 || __atomic_load_n(&blk->dev->needs_reset, __ATOMIC_ACQUIRE))
        return true;
    for (qi = 0; qi < nq; qi++) {
        struct virtqueue *vq = virtio_vq(blk->dev, qi);

        if (!vq || vq_is_broken(vq))
            return true;
    }
    return false;
}

struct blk_wait_ctx {
    struct virtio_blk *blk;
    struct virtio_blk_req *req; /* NULL: until queue qi has nothing in flight */
    unsigned qi;
    unsigned pad;
};

static int blk_wait_poll(void *ctx)
{
    struct blk_wait_ctx *w = ctx;
    int r = virtio_blk_poll(w->blk);

    if (r < 0)
        return r;
    if (w->req)
        return __atomic_load_n(&w->req->result, __ATOMIC_ACQUIRE) != -EINPROGRESS;
    return __atomic_load_n(&w->blk->q[w->qi].in_flight, __ATOMIC_ACQUIRE) == 0;
}

/* Wait on the queue the request went on (its interrupt says when), or,
 * for a drain, on each queue in turn within one overall timeout. */
static int blk_wait_queues(struct virtio_blk *blk, struct virtio_blk_req *req, uint64_t timeout_ns)
{
    struct blk_wait_ctx w = {blk, req, req ? req->queue : 0, 0};
    uint64_t start = virt_time_ns(), spent;
    unsigned nq = req ? req->queue + 1 : blk->nqueues;
    int r = -EIO;

    for (; w.qi < nq; w.qi++) {
        if (!virtio_vq(blk->dev, w.qi))
            return -EIO;
        spent = virt_time_ns() - start;
        r = virtio_vq_wait(blk->dev, w.qi, blk_wait_poll, &w,
                           spent < timeout_ns ? timeout_ns - spent : 0);
        if (r < 0)
            return r;
    }
    return r;
}

static int blk_wait_cond(struct virtio_blk *blk, struct virtio_blk_req *req, uint64_t timeout_ns)
{
    int r;

    /* No queue to wait on (the device is down): not a new failure. */
    if (blk->nqueues == 0 || !virtio_vq(blk->dev, req ? req->queue : 0))
        return -EIO;
    r = blk_wait_queues(blk, req, timeout_ns);
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

static void blk_free_slots(struct blk_queue *bq)
{
    if (bq->slot_mem)
        virt_dma_free(bq->slot_mem, bq->slot_mem_bytes);
    virt_free(bq->slots);
    virt_free(bq->free_slots);
    bq->slot_mem = NULL;
    bq->slots = NULL;
    bq->free_slots = NULL;
    bq->nslots = bq->nfree = 0;
    bq->in_flight = 0;
}

static int blk_alloc_slots(struct blk_queue *bq, uint32_t n)
{
    uint64_t dma;
    uint32_t i;

    bq->slot_mem_bytes = sizeof(struct blk_slot_dma) * n;
    bq->slot_mem = virt_dma_alloc(bq->slot_mem_bytes, &dma);
    bq->slots = virt_zalloc(sizeof(*bq->slots) * n);
    bq->free_slots = virt_zalloc(sizeof(*bq->free_slots) * n);
    if (!bq->slot_mem || !bq->slots || !bq->free_slots) {
        blk_free_slots(bq);
        return -ENOMEM;
    }
    for (i = 0; i < n; i++) {
        bq->slots[i].dma = &bq->slot_mem[i];
        bq->free_slots[i] = n - 1 - i;
    }
    bq->nslots = bq->nfree = n;
    return 0;
}

/* Stop, after the reset: end every request still in flight (-ECANCELED),
 * done callbacks outside the lock. */
static void blk_cancel(struct virtio_device *dev)
{
    struct virtio_blk *blk = dev->driver_priv;
    struct blk_done d;
    struct virtqueue *vq;
    unsigned qi;
    void *token;

    for (qi = 0; qi < blk->nqueues; qi++) {
        for (;;) {
            virt_lock_acquire(&blk->lock);
            vq = virtio_vq(dev, qi);
            token = vq ? vq_detach_unused(vq) : NULL;
            if (token)
                d = blk_slot_finish(blk, &blk->q[qi], token, -ECANCELED, 0);
            virt_lock_release(&blk->lock);
            if (!token)
                break;
            if (d.fn)
                d.fn(d.req);
        }
    }
}

/* 5.2.4 num_queues, read when MQ was negotiated: 0 is no queue count a
 * device can mean (requestq1 always exists): 1, said once. More than we
 * drive: the first VIRTIO_BLK_MAX_QUEUES (5.2.2 lets a driver use fewer). */
static void blk_read_num_queues(struct virtio_blk *blk)
{
    uint16_t v;

    blk->nqueues = 1;
    if (!virtio_has_feature(blk->dev, VIRTIO_BLK_F_MQ) ||
        virtio_cread(blk->dev, offsetof(struct virtio_blk_config, num_queues), &v, sizeof(v)) < 0)
        return;
    v = vr_le16_to_cpu(v);
    if (v == 0)
        virt_log(VIRT_LOG_WARN, "%s: num_queues 0 with VIRTIO_BLK_F_MQ: using 1", blk->dev->name);
    else
        blk->nqueues = v < VIRTIO_BLK_MAX_QUEUES ? v : VIRTIO_BLK_MAX_QUEUES;
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
    blk_read_num_queues(blk);
    return 0;
}

static uint32_t blk_num_vqs(struct virtio_device *dev)
{
    struct virtio_blk *blk = dev->driver_priv;

    return blk->nqueues;
}

/* One slot per queue entry, on every queue. */
static int blk_setup(struct virtio_device *dev)
{
    struct virtio_blk *blk = dev->driver_priv;
    unsigned qi;
    int err;

    blk->nqueues = dev->nvqs; /* what find_vqs made */
    for (qi = 0; qi < blk->nqueues; qi++) {
        err = blk_alloc_slots(&blk->q[qi], vq_get_size(virtio_vq(dev, qi)));
        if (err < 0)
            return err; /* teardown frees the others */
    }
    return 0;
}

/* Under the lock, with the queues gone. */
static void blk_teardown(struct virtio_device *dev)
{
    struct virtio_blk *blk = dev->driver_priv;
    unsigned qi;

    for (qi = 0; qi < VIRTIO_BLK_MAX_QUEUES; qi++)
        blk_free_slots(&blk->q[qi]);
    blk->nqueues = 0;
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
    .nvqs = VIRTIO_BLK_MAX_QUEUES, /* the most: num_vqs says how many */
    .features = BLK_DRIVER_FEATURES,
    .config = blk_config,
    .num_vqs = blk_num_vqs,
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

unsigned virtio_blk_num_queues(const struct virtio_blk *blk)
{
    return blk->nqueues;
}

int virtio_blk_get_queue_stats(const struct virtio_blk *blk, unsigned q,
                               struct virtio_blk_queue_stats *st)
{
    if (q >= blk->nqueues)
        return -EINVAL;
    st->submitted = blk->q[q].submitted;
    st->completed = blk->q[q].completed;
    st->in_flight = __atomic_load_n(&blk->q[q].in_flight, __ATOMIC_RELAXED);
    st->size = blk->q[q].nslots;
    return 0;
}
