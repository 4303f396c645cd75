/* SPDX-License-Identifier: Apache-2.0 */
/*
 * dev_blk.c - virtio-blk device model (VIRTIO 1.2 5.2) over a RAM disk the
 * caller provides: one requestq (or up to VDEV_MAX_QUEUES with
 * VIRTIO_BLK_F_MQ, vdev_blk_set_num_queues); IN, OUT, FLUSH, GET_ID here,
 * DISCARD, WRITE_ZEROES, RO and the write cache mode (CONFIG_WCE) in
 * dev_blk_ext.c.
 *
 * A request (5.2.6) is a device-readable struct virtio_blk_req_hdr, the
 * data (readable for OUT, writable for IN / GET_ID), and one writable
 * status byte at the very end of the chain. We do not care how the driver
 * splits that into descriptors: the header is the first 16 readable bytes,
 * the status is the last writable byte, the data is what lies between.
 *
 * Device requirements honoured (5.2.6.1 / 5.2.6.2):
 *  - a request touching any sector at or past capacity (also partially, or
 *    with sector * 512 overflowing) fails with VIRTIO_BLK_S_IOERR and
 *    transfers nothing; so does a data length that is not a multiple of 512;
 *  - an unknown type gets VIRTIO_BLK_S_UNSUPP;
 *  - GET_ID writes the 20-byte serial (NUL-padded, not terminated when it
 *    is 20 bytes long), truncated to the buffer;
 *  - FLUSH completes after every earlier write (trivially: a RAM disk
 *    completes writes in order, before we return).
 * A malformed chain (no writable byte for the status, or fewer than 16
 * readable bytes of header) is counted as bad and completed as well as the
 * chain allows: IOERR in the status byte if there is one. So is a request
 * whose data bytes are on the wrong side for its type (5.2.6: IN and
 * GET_ID fill data, so it is device-writable; OUT's is device-readable):
 * IN or GET_ID with readable data past the header, GET_ID with no
 * writable byte but the status, OUT with writable data before the status.
 * It never succeeds ("VIRTIO_BLK_S_IOERR for device or driver error"):
 * IOERR, nothing read or written, counted in bad (not ioerr).
 *
 * Used length (2.7.8: bytes written into the writable part, as a prefix):
 * in_len when the status byte was written (it is the last byte), else 0.
 *
 * Storage: the RAM disk, or a caller's backend (vdev_blk_create_backend:
 * read/write/flush callbacks, one call per chain segment; any failure is
 * VIRTIO_BLK_S_IOERR). A backend with submit/commit/reap serves IN, OUT
 * and FLUSH asynchronously, many per queue, completed out of order
 * (dev_blk_async.c).
 */
#include <errno.h>
#include <string.h>

#include "dev_blk_internal.h"
#include "snap_le.h"
#include "vdev_models.h"
#include "virtio_platform.h"

/* 5.2.3 / 5.2.4: multiqueue, and where num_queues sits in the config
 * (driver headers call those bytes unused0[1..2]). */
#ifndef VIRTIO_BLK_F_MQ
#define VIRTIO_BLK_F_MQ 12
#endif
#define BLK_CFG_NUM_QUEUES 34

/* Counters are bumped from every queue, which a concurrent transport
 * (vmmio_set_concurrent) processes at the same time. */
#define BLK_COUNT(field, n) __atomic_fetch_add(&(field), (n), __ATOMIC_RELAXED)

static struct dev_blk *blk_of(const struct vdev *d)
{
    return d->priv;
}

static void blk_read_config(struct vdev *d, uint32_t off, void *buf, uint32_t len)
{
    struct dev_blk *b = blk_of(d);
    struct virtio_blk_config cfg = b->cfg;

    /* writeback: the mode set (or the default), but 0 once CONFIG_WCE was
     * acked without FLUSH (5.2.5 device requirement). Not the mode in
     * effect before negotiation: a vhost-user frontend reads and caches
     * the config before any feature is acked. */
    if (vdev_has_feature(d, VIRTIO_BLK_F_CONFIG_WCE) && !vdev_has_feature(d, VIRTIO_BLK_F_FLUSH))
        cfg.writeback = 0;
    memcpy(buf, (const uint8_t *)&cfg + off, len);
}

/* Is [sector, sector + len) inside the disk? (5.2.6.2; no overflow.) */
static bool blk_is_in_range(const struct dev_blk *b, uint64_t sector, uint32_t len)
{
    /* Atomic: a resize (under the transport's lock) may run beside a
     * queue of a concurrent transport; either size is a consistent one. */
    uint64_t capacity = __atomic_load_n(&b->bytes, __ATOMIC_RELAXED) / VIRTIO_BLK_SECTOR_SIZE;

    if (len % VIRTIO_BLK_SECTOR_SIZE)
        return false;
    return sector <= capacity && len / VIRTIO_BLK_SECTOR_SIZE <= capacity - sector;
}

/*
 * Backend I/O over the data part of chain c: the readable bytes from off
 * (OUT) or the writable ones from off (IN), len bytes, segment by segment,
 * at store position pos. 0 or the backend's -errno.
 */
static int blk_backend_io(struct dev_blk *b, const struct vdq_chain *c, bool is_in, uint32_t off,
                          uint32_t len, uint64_t pos)
{
    uint32_t first = is_in ? c->nout : 0, end = is_in ? c->nout + c->nin : c->nout, i;

    for (i = first; i < end && len; i++) {
        const struct vdq_iov *v = &c->iov[i];
        uint32_t n;
        int err;

        if (off >= v->len) {
            off -= v->len;
            continue;
        }
        n = v->len - off < len ? v->len - off : len;
        err = is_in ? b->be.read(b->be.ctx, pos, (uint8_t *)v->base + off, n)
                    : b->be.write(b->be.ctx, pos, (const uint8_t *)v->base + off, n);
        if (err)
            return err;
        pos += n;
        len -= n;
        off = 0;
    }
    return len ? -EIO : 0;
}

/* blk_request's status for a request handed to the async backend. */
#define BLK_S_PENDING 0xffu

/* Handle one request; returns the status byte (or BLK_S_PENDING). */
static uint8_t blk_request(struct vdev *d, struct dev_blk *b, unsigned qi,
                           const struct vdq_chain *c, const struct virtio_blk_req_hdr *h,
                           uint32_t data_in)
{
    uint32_t data_out = c->out_len - sizeof(*h);
    bool async = blk_async_on(d, b);
    uint64_t pos;

    switch (h->type) {
    case VIRTIO_BLK_T_IN:
        if (!blk_is_in_range(b, h->sector, data_in))
            goto err_io;
        pos = h->sector * VIRTIO_BLK_SECTOR_SIZE;
        if (async && blk_async_request(d, b, qi, c, h->type, data_in, pos) == 0)
            return BLK_S_PENDING;
        if (!b->disk) {
            if (blk_backend_io(b, c, true, 0, data_in, pos))
                goto err_io;
        } else {
            vdq_chain_write(c, 0, b->disk + pos, data_in);
        }
        BLK_COUNT(b->stats.reads, 1);
        BLK_COUNT(b->stats.read_bytes, data_in);
        return VIRTIO_BLK_S_OK;
    case VIRTIO_BLK_T_OUT:
        if (b->read_only) {
            /* 5.2.6.2: IOERR for a write with VIRTIO_BLK_F_RO offered, and
             * no data written. */
            b->stats.ro_refused++;
            goto err_io;
        }
        if (!blk_is_in_range(b, h->sector, data_out))
            goto err_io;
        pos = h->sector * VIRTIO_BLK_SECTOR_SIZE;
        if (async && blk_async_request(d, b, qi, c, h->type, data_out, pos) == 0)
            return BLK_S_PENDING;
        if (!b->disk) {
            if (blk_backend_io(b, c, false, sizeof(*h), data_out, pos))
                goto err_io;
        } else {
            vdq_chain_read(c, sizeof(*h), b->disk + pos, data_out);
        }
        BLK_COUNT(b->stats.writes, 1);
        BLK_COUNT(b->stats.write_bytes, data_out);
        return blk_write_done(d, b);
    case VIRTIO_BLK_T_FLUSH:
        /* Async: after the writes popped before it (dev_blk_async.c). */
        if (async && blk_async_request(d, b, qi, c, h->type, 0, 0) == 0)
            return BLK_S_PENDING;
        /* Writes are in the RAM disk before their completion is pushed;
         * the barrier orders them before the status the driver will see. */
        virt_mb();
        if (!b->disk && b->be.flush && b->be.flush(b->be.ctx))
            goto err_io;
        BLK_COUNT(b->stats.flushes, 1);
        return VIRTIO_BLK_S_OK;
    case VIRTIO_BLK_T_GET_ID:
        vdq_chain_write(c, 0, b->serial,
                        data_in < VIRTIO_BLK_ID_BYTES ? data_in : VIRTIO_BLK_ID_BYTES);
        BLK_COUNT(b->stats.get_ids, 1);
        return VIRTIO_BLK_S_OK;
    case VIRTIO_BLK_T_DISCARD:
    case VIRTIO_BLK_T_WRITE_ZEROES:
        return blk_dwz_request(d, b, c, h->type);
    default:
        BLK_COUNT(b->stats.unsupp, 1);
        return VIRTIO_BLK_S_UNSUPP;
    }

err_io:
    BLK_COUNT(b->stats.ioerr, 1);
    return VIRTIO_BLK_S_IOERR;
}

/* Do the data bytes lie where a request of this type needs them (5.2.6)?
 * data_out: readable bytes after the header, data_in: writable bytes
 * before the status. Unknown types are UNSUPP whatever their buffers. */
static bool blk_is_misdirected(uint32_t type, uint32_t data_out, uint32_t data_in)
{
    switch (type) {
    case VIRTIO_BLK_T_IN:
        return data_out != 0; /* nothing to read into them */
    case VIRTIO_BLK_T_OUT:
        return data_in != 0; /* nothing to write from them */
    case VIRTIO_BLK_T_GET_ID:
        return data_out != 0 || data_in == 0;
    case VIRTIO_BLK_T_DISCARD:
    case VIRTIO_BLK_T_WRITE_ZEROES:
        return data_in != 0; /* segments are device-readable */
    default:
        return false;
    }
}

static bool blk_chain(struct vdev *d, unsigned qi, const struct vdq_chain *c, uint32_t *written)
{
    struct dev_blk *b = blk_of(d);
    struct virtio_blk_req_hdr h;
    uint8_t status;

    if (c->in_len < 1) {
        /* Nowhere to put the status: nothing we can tell the driver. */
        BLK_COUNT(b->stats.bad, 1);
        *written = 0;
        return true;
    }
    if (c->out_len < sizeof(h)) {
        status = VIRTIO_BLK_S_IOERR;
        vdq_chain_write(c, c->in_len - 1, &status, 1);
        BLK_COUNT(b->stats.bad, 1);
        *written = c->in_len;
        return true;
    }
    vdq_chain_read(c, 0, &h, sizeof(h)); /* a private copy: read once */
    h.type = vr_le32_to_cpu(h.type);
    h.sector = vr_le64_to_cpu(h.sector);
    if (blk_is_misdirected(h.type, c->out_len - sizeof(h), c->in_len - 1)) {
        status = VIRTIO_BLK_S_IOERR;
        vdq_chain_write(c, c->in_len - 1, &status, 1);
        BLK_COUNT(b->stats.bad, 1);
        *written = c->in_len;
        return true;
    }
    status = blk_request(d, b, qi, c, &h, c->in_len - 1);
    if (status == BLK_S_PENDING) {
        *written = VDEV_CHAIN_PENDING;
        return false;
    }
    if (blk_async_on(d, b))
        blk_async_note_sync(b, qi);
    vdq_chain_write(c, c->in_len - 1, &status, 1);
    *written = c->in_len;
    return false;
}

static int blk_process(struct vdev *d, unsigned qi)
{
    struct dev_blk *b = blk_of(d);
    int reaped, n;

    if (!blk_async_on(d, b))
        return vdev_queue_drain(d, qi, blk_chain);
    /* What the storage finished, then what the driver added; the new
     * submissions go to the backend together at the end of the round. */
    reaped = blk_async_reap(d, b, qi);
    n = vdev_queue_drain(d, qi, blk_chain);
    reaped += blk_async_commit(d, b, qi);
    return n < 0 ? n : n + reaped;
}

static void blk_destroy(struct vdev *d)
{
    blk_quiesce(d);
    blk_async_free(d->priv);
    virt_free(d->priv);
}

/* Snapshot blob (28 bytes): disk bytes u64 (must match the device's: the
 * disk memory belongs to whoever created it), serial[20]. The disk contents
 * are the optional bulk content (blk_content). */
#define BLK_STATE_BYTES (8 + VIRTIO_BLK_ID_BYTES)

static uint32_t blk_state_size(const struct vdev *d)
{
    (void)d;
    return BLK_STATE_BYTES;
}

static void blk_state_save(const struct vdev *d, uint8_t *out)
{
    const struct dev_blk *b = blk_of(d);

    snap_put64(out, b->bytes);
    memcpy(out + 8, b->serial, VIRTIO_BLK_ID_BYTES);
}

static const char *blk_state_check(const struct vdev *d, const uint8_t *p, uint32_t len)
{
    if (len != BLK_STATE_BYTES)
        return "blk state is not 28 bytes";
    if (snap_get64(p) != blk_of(d)->bytes)
        return "disk size differs from this device's";
    return NULL;
}

static void blk_state_load(struct vdev *d, const uint8_t *p, uint32_t len)
{
    (void)len;
    memcpy(blk_of(d)->serial, p + 8, VIRTIO_BLK_ID_BYTES);
}

static void *blk_content(const struct vdev *d, uint64_t *len)
{
    *len = blk_of(d)->disk ? blk_of(d)->bytes : 0;
    return blk_of(d)->disk;
}

/* One ops table per queue count (VIRTIO_BLK_F_MQ): static, because the
 * transport may still read a destroyed device's ops (vmmio_rebind). */
#define BLK_OPS(n)                                                                                 \
    {                                                                                              \
        .type = "blk", .device_id = VIRTIO_ID_BLOCK, .num_queues = (n),                            \
        .queue_max_size = VDEV_BLK_QUEUE_MAX, .config_size = sizeof(struct virtio_blk_config),     \
        .read_config = blk_read_config, .write_config = blk_write_config,                          \
        .reset = blk_ext_reset, .process_queue = blk_process, .destroy = blk_destroy,              \
        .state_size = blk_state_size, .state_save = blk_state_save,                                \
        .state_check = blk_state_check, .state_load = blk_state_load, .content = blk_content,      \
        .quiesce = blk_quiesce,                                                                    \
    }

static const struct vdev_ops blk_ops[VDEV_MAX_QUEUES] = {
    BLK_OPS(1), BLK_OPS(2), BLK_OPS(3), BLK_OPS(4), BLK_OPS(5), BLK_OPS(6), BLK_OPS(7), BLK_OPS(8),
};
_Static_assert(VDEV_MAX_QUEUES == 8, "one blk_ops entry per queue count");

static bool blk_is_valid_disk(const void *disk, uint64_t bytes)
{
    return disk && bytes >= VIRTIO_BLK_SECTOR_SIZE && bytes % VIRTIO_BLK_SECTOR_SIZE == 0;
}

static int blk_create(struct vdev *d, const struct vdq_mem *mem, void *disk, uint64_t bytes,
                      const struct vdev_blk_backend *be, const char *serial)
{
    uint64_t features = (1ull << VIRTIO_F_VERSION_1) | (1ull << VIRTIO_F_EVENT_IDX) |
                        (1ull << VIRTIO_F_INDIRECT_DESC) | (1ull << VIRTIO_BLK_F_SEG_MAX) |
                        (1ull << VIRTIO_BLK_F_SIZE_MAX) | (1ull << VIRTIO_BLK_F_BLK_SIZE) |
                        (1ull << VIRTIO_BLK_F_FLUSH);
    struct dev_blk *b;
    size_t n;

    if (!d || !mem || !blk_is_valid_disk(disk ? disk : (void *)be, bytes))
        return -EINVAL;
    if (!disk && (!be->read || !be->write))
        return -EINVAL;
    b = virt_zalloc(sizeof(*b));
    if (!b)
        return -ENOMEM;
    b->disk = disk;
    b->bytes = bytes;
    if (!disk)
        b->be = *be;
    if (!serial)
        serial = VDEV_BLK_DEFAULT_SERIAL;
    n = strlen(serial);
    memcpy(b->serial, serial, n < sizeof(b->serial) ? n : sizeof(b->serial));
    b->cfg.capacity = vr_cpu_to_le64(bytes / VIRTIO_BLK_SECTOR_SIZE);
    b->cfg.size_max = vr_cpu_to_le32(VDEV_BLK_SIZE_MAX);
    b->cfg.seg_max = vr_cpu_to_le32(VDEV_BLK_SEG_MAX);
    b->cfg.blk_size = vr_cpu_to_le32(VIRTIO_BLK_SECTOR_SIZE);
    blk_ext_init(b, &features);
    vdev_init(d, &blk_ops[0], b, features, mem);
    return 0;
}

int vdev_blk_create(struct vdev *d, const struct vdq_mem *mem, void *disk, uint64_t bytes,
                    const char *serial)
{
    if (!disk)
        return -EINVAL;
    return blk_create(d, mem, disk, bytes, NULL, serial);
}

int vdev_blk_create_backend(struct vdev *d, const struct vdq_mem *mem, uint64_t bytes,
                            const struct vdev_blk_backend *be, const char *serial)
{
    if (!be)
        return -EINVAL;
    return blk_create(d, mem, NULL, bytes, be, serial);
}

int vdev_blk_resize(struct vdev *d, void *disk, uint64_t bytes)
{
    struct dev_blk *b = blk_of(d);

    if (!blk_is_valid_disk(disk, bytes))
        return -EINVAL;
    b->disk = disk;
    b->bytes = bytes;
    b->cfg.capacity = vr_cpu_to_le64(bytes / VIRTIO_BLK_SECTOR_SIZE);
    vdev_signal_config(d); /* the transport bumps ConfigGeneration */
    return 0;
}

int vdev_blk_resize_backend(struct vdev *d, uint64_t bytes)
{
    struct dev_blk *b = blk_of(d);

    if (b->disk || !blk_is_valid_disk(b, bytes))
        return -EINVAL;
    __atomic_store_n(&b->bytes, bytes, __ATOMIC_RELAXED);
    b->cfg.capacity = vr_cpu_to_le64(bytes / VIRTIO_BLK_SECTOR_SIZE);
    vdev_signal_config(d);
    return 0;
}

int vdev_blk_set_num_queues(struct vdev *d, unsigned n)
{
    struct dev_blk *b = blk_of(d);

    if (n < 1 || n > VDEV_MAX_QUEUES || d->activated)
        return -EINVAL;
    d->ops = &blk_ops[n - 1];
    /* 5.2.4: num_queues "only exists if VIRTIO_BLK_F_MQ is set". */
    snap_put16((uint8_t *)&b->cfg + BLK_CFG_NUM_QUEUES, n > 1 ? (uint16_t)n : 0);
    if (n > 1)
        d->avail_features |= 1ull << VIRTIO_BLK_F_MQ;
    else
        d->avail_features &= ~(1ull << VIRTIO_BLK_F_MQ);
    vdev_reset(d); /* queue table for the new count */
    return 0;
}

void vdev_blk_get_stats(const struct vdev *d, struct vdev_blk_stats *st)
{
    *st = blk_of(d)->stats;
}
