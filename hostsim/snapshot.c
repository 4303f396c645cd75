/* SPDX-License-Identifier: Apache-2.0 */
/*
 * snapshot.c - the snapshot writer: snap_size() and snap_save() encode a
 * sleeping device's state in the format of snapshot.h, section by section.
 * The validating restore is snapshot_restore.c.
 *
 * Invariants:
 *  - save only runs on a sleeping device (-EBUSY otherwise), so no queue
 *    work runs concurrently and no chain is in flight (vmmio_sleep()).
 *  - the file is written by one function in two passes under the
 *    transport's lock: the first only counts (no buffer), the second, into
 *    a buffer at least that large, writes exactly the bytes counted.
 *  - encoding is canonical: save -> restore -> save gives identical bytes.
 */
#include "snapshot.h"

#include <errno.h>
#include <string.h>

#include "crc32c.h"
#include "snap_le.h"
#include "snapshot_format.h"
#include "virtio_platform.h"

/* ---------------------------------------------------------------- save */

struct snap_writer {
    uint8_t *p;   /* NULL: only count */
    size_t len;   /* bytes so far */
    size_t start; /* current section's first byte */
};

static void w_bytes(struct snap_writer *w, const void *src, size_t n)
{
    if (w->p && n)
        memcpy(w->p + w->len, src, n);
    w->len += n;
}

static uint8_t *w_reserve(struct snap_writer *w, size_t n)
{
    uint8_t *at = w->p ? w->p + w->len : NULL;

    w->len += n;
    return at;
}

static void w_section_begin(struct snap_writer *w, const char tag[4])
{
    w->start = w->len;
    w_bytes(w, tag, 4);
    w_reserve(w, 4); /* length, filled in by w_section_end */
}

static void w_section_end(struct snap_writer *w)
{
    size_t payload = w->len - w->start - 8;
    uint8_t *crc = w_reserve(w, 4);

    if (!w->p)
        return;
    snap_put32(w->p + w->start + 4, (uint32_t)payload);
    snap_put32(crc, crc32c(0, w->p + w->start, payload + 8));
}

static void save_trns(struct snap_writer *w, const struct vmmio_transport_state *st)
{
    uint8_t *p;

    w_section_begin(w, "TRNS");
    p = w_reserve(w, TRNS_BYTES);
    if (!p)
        goto out;
    snap_put32(p, st->features_select);
    snap_put32(p + 4, st->acked_features_select);
    snap_put32(p + 8, st->queue_select);
    snap_put32(p + 12, st->device_status);
    snap_put32(p + 16, st->config_generation);
    snap_put32(p + 20, st->interrupt_status);
out:
    w_section_end(w);
}

static void save_devc(struct snap_writer *w, const struct vdev *d, uint32_t int_status)
{
    uint8_t *p;

    w_section_begin(w, "DEVC");
    p = w_reserve(w, DEVC_BYTES);
    if (!p)
        goto out;
    snap_put32(p, d->ops->device_id);
    snap_put16(p + 4, d->ops->num_queues);
    snap_put16(p + 6, (uint16_t)((d->activated ? DEVC_F_ACTIVATED : 0) |
                                 (d->needs_reset ? DEVC_F_NEEDS_RESET : 0)));
    snap_put64(p + 8, d->avail_features);
    snap_put64(p + 16, d->acked_features);
    snap_put32(p + 24, int_status);
    snap_put32(p + 28, 0);
out:
    w_section_end(w);
}

/* A live packed queue's extra fields and in-flight (id, ndesc) pairs,
 * ids ascending, from the per-id table (snapshot.h, format 1.1). */
static void save_queu_packed(uint8_t *p, const struct vdq *q, const struct vdq_state *qs)
{
    const uint16_t *ids = q->ids_ext ? q->ids_ext : q->ids_inline;
    uint16_t id, k = 0;

    p[40] = qs->avail_wrap;
    p[41] = qs->used_wrap;
    snap_put16(p + 42, qs->dev_ev_flags);
    snap_put16(p + 44, qs->dev_ev_off_wrap);
    snap_put16(p + 46, 0);
    snap_put32(p + 48, qs->added_desc);
    for (id = 0; id < qs->size; id++) {
        if (!ids[id])
            continue;
        snap_put16(p + QUEU_PACKED_BYTES + 4 * k, id);
        snap_put16(p + QUEU_PACKED_BYTES + 4 * k + 2, ids[id]);
        k++;
    }
}

static void save_queu(struct snap_writer *w, const struct vdev *d, unsigned qi)
{
    const struct vdev_queue *vq = &d->queues[qi];
    struct vdq_state qs;
    uint8_t flags = 0, *p;
    uint16_t n = 0, k;
    size_t bytes;

    memset(&qs, 0, sizeof(qs));
    if (vdev_has_queue_state(d, qi)) {
        vdq_get_state(&vq->q, &qs);
        flags = QUEU_F_LIVE | (qs.event_idx ? QUEU_F_EVENT_IDX : 0) |
                (qs.indirect ? QUEU_F_INDIRECT : 0) | (qs.broken ? QUEU_F_BROKEN : 0) |
                (qs.packed ? QUEU_F_PACKED : 0);
        /* Split: chains popped and not returned (none for our models,
         * which complete synchronously; a model that holds chains
         * completes them in order): their heads are the avail entries
         * [next_used, next_avail), which the driver cannot reuse until they
         * are used. (Also for a broken queue: its count must match on
         * restore.) Packed: the buffer ids the per-id table holds. */
        n = qs.packed ? (uint16_t)vq->q.inflight : (uint16_t)(qs.next_avail - qs.next_used);
    }
    bytes = qs.packed ? QUEU_PACKED_BYTES + 4u * n : QUEU_BYTES + 2u * n;
    w_section_begin(w, "QUEU");
    p = w_reserve(w, bytes);
    if (!p)
        goto out;
    if (qs.packed)
        save_queu_packed(p, &vq->q, &qs);
    for (k = 0; !qs.packed && k < n; k++) {
        uint16_t slot = (uint16_t)(qs.next_used + k) & vq->q.mask;

        snap_put16(p + QUEU_BYTES + 2 * k,
                   vr_le16_to_cpu(virt_read_once16(&vq->q.avail->ring[slot])));
    }
    snap_put16(p, (uint16_t)qi);
    snap_put16(p + 2, vq->max_size);
    snap_put16(p + 4, vq->size);
    p[6] = vq->ready;
    p[7] = flags;
    snap_put64(p + 8, vq->desc_gpa);
    snap_put64(p + 16, vq->avail_gpa);
    snap_put64(p + 24, vq->used_gpa);
    snap_put16(p + 32, qs.next_avail);
    snap_put16(p + 34, qs.next_used);
    snap_put16(p + 36, qs.num_added);
    snap_put16(p + 38, n);
out:
    w_section_end(w);
}

/* The whole file into w (w->p NULL: just count). Locked, device asleep. */
static int save_all(struct snap_writer *w, const struct vdev *d,
                    const struct vmmio_transport_state *st, unsigned flags)
{
    void *content = NULL;
    uint64_t content_len = 0;
    uint8_t *hdr, *p;
    unsigned qi;

    /* Packed queues (1.1): a used batch held back for
     * vdq_interrupt_prepare() (publish_on_interrupt, which vdev's queues
     * never set) is not in the format: refuse rather than lose it. */
    for (qi = 0; qi < d->ops->num_queues; qi++)
        if (vdev_has_queue_state(d, qi) && d->queues[qi].q.cfg.packed &&
            d->queues[qi].q.batch_pending)
            return -EBUSY;
    if ((flags & SNAP_F_CONTENT) && d->ops->content) {
        content = d->ops->content(d, &content_len);
        if (content && content_len > UINT32_MAX - 64)
            return -EFBIG;
    }
    hdr = w_reserve(w, SNAP_HDR_BYTES);
    save_trns(w, st);
    save_devc(w, d, st->interrupt_status);
    for (qi = 0; qi < d->ops->num_queues; qi++)
        save_queu(w, d, qi);
    if (d->ops->state_size) {
        uint32_t n = d->ops->state_size(d);

        w_section_begin(w, "MODL");
        p = w_reserve(w, n);
        if (p)
            d->ops->state_save(d, p);
        w_section_end(w);
    }
    if (content) {
        w_section_begin(w, "CONT");
        w_bytes(w, content, (size_t)content_len);
        w_section_end(w);
    }
    p = w_reserve(w, SNAP_TRAILER_BYTES);
    if (!w->p)
        return 0;
    memcpy(hdr, SNAP_MAGIC, 8);
    snap_put16(hdr + 8, SNAP_VERSION_MAJOR);
    snap_put16(hdr + 10, SNAP_VERSION_MINOR);
    snap_put32(hdr + 12, content ? HDR_F_CONTENT : 0);
    snap_put64(hdr + 16, w->len);
    snap_put32(p, crc32c(0, w->p, w->len - SNAP_TRAILER_BYTES));
    return 0;
}

struct save_arg {
    unsigned flags;
    uint8_t *buf;
    size_t cap, len;
};

static int save_locked(struct vdev *d, struct vmmio_transport_state *st, void *arg)
{
    struct save_arg *a = arg;
    struct snap_writer w = {0};
    int err;

    if (!vdev_is_asleep(d))
        return -EBUSY;
    err = save_all(&w, d, st, a->flags);
    if (err)
        return err;
    a->len = w.len;
    if (!a->buf || a->cap < w.len)
        return -ENOSPC;
    w = (struct snap_writer){.p = a->buf};
    return save_all(&w, d, st, a->flags);
}

size_t snap_size(struct vmmio *m, unsigned flags)
{
    struct save_arg a = {.flags = flags};

    vmmio_run_locked_state(m, save_locked, &a);
    return a.len;
}

int snap_save(struct vmmio *m, unsigned flags, void *buf, size_t cap, size_t *len)
{
    struct save_arg a = {.flags = flags, .buf = buf, .cap = cap};
    int err = vmmio_run_locked_state(m, save_locked, &a);

    if (len)
        *len = a.len;
    return err;
}
