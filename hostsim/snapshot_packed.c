/* SPDX-License-Identifier: Apache-2.0 */
/*
 * snapshot_packed.c - the reader's half for a live packed queue's QUEU
 * section (format 1.1, snapshot.h): every field validated with its own
 * error, the buffers in flight checked against the descriptor ring, and
 * the new vdq built (not installed: snapshot_restore.c's snap_apply()
 * does that). Packed ring: virtio 1.2 section 2.8 (packed-ring.tex).
 *
 * Invariants:
 *  - nothing is read outside the section (its length was checked against
 *    n_inflight by plan_sections()); guest memory only through
 *    vdq_mem_translate(), each descriptor flag read once, at most
 *    size descriptors walked;
 *  - in flight: the buffers the old instance popped and never returned.
 *    Their lists are still in the ring, untouched: the device writes used
 *    elements only at next_used, moving forward (2.8.6), and the driver
 *    makes descriptors available only at its own next index, ahead of
 *    ours (2.8.1). When they are exactly the lists starting at next_used
 *    in ring order (a model completing in order, as split demands), we
 *    rewind next_avail/avail_wrap to next_used/used_wrap so the new
 *    instance pops and processes each once. Otherwise (completed out of
 *    order: a used element may have overwritten an in-flight list's first
 *    descriptor) they cannot be re-read and the snapshot is refused.
 */
#include <errno.h>
#include <string.h>

#include "snap_le.h"
#include "snapshot_format.h"
#include "virtio_platform.h"

/* Ring descriptors from (from, from_wrap) to (to, to_wrap); -1 when "to"
 * is behind "from" (2.8.1: the device's used position trails its avail
 * position by at most one lap). */
static int packed_distance(uint16_t from, bool from_wrap, uint16_t to, bool to_wrap, uint16_t size)
{
    if (from_wrap == to_wrap)
        return to >= from ? to - from : -1;
    return to <= from ? to + size - from : -1;
}

/* The (id, ndesc) pairs: ids ascending (so no duplicate), each ndesc
 * 1..size, the sum *sum. */
static int check_inflight(const struct plan_queue *pq, unsigned qi, uint32_t *sum,
                          struct snap_err *e)
{
    uint32_t k, total = 0;
    int prev = -1;

    for (k = 0; k < pq->n_inflight; k++) {
        uint16_t id = snap_get16(pq->inflight + 4 * k);
        uint16_t nd = snap_get16(pq->inflight + 4 * k + 2);

        if (id >= pq->size)
            return snap_fail(e, "QUEU", (int)qi, "in-flight id %u not below size %u", id, pq->size);
        if ((int)id == prev)
            return snap_fail(e, "QUEU", (int)qi, "in-flight id %u listed twice", id);
        if ((int)id < prev)
            return snap_fail(e, "QUEU", (int)qi, "in-flight ids not ascending (%u after %u)", id,
                             (unsigned)prev);
        if (nd == 0 || nd > pq->size)
            return snap_fail(e, "QUEU", (int)qi, "in-flight id %u: ndesc %u not in 1..size %u", id,
                             nd, pq->size);
        total += nd;
        if (total > pq->size)
            return snap_fail(e, "QUEU", (int)qi,
                             "in-flight descriptors add up to %u, more than size %u", total,
                             pq->size);
        prev = id;
    }
    *sum = total;
    return 0;
}

/* The in-flight lists are the ring's lists from (next_used, used_wrap), in
 * ring order (see the top). seen: one bit per id, ids < 256. */
static int check_ring(const struct plan_queue *pq, const struct pvirtq_desc *ring, uint32_t dist,
                      unsigned qi, struct snap_err *e)
{
    uint8_t seen[VDQ_PACKED_IDS_INLINE / 8];
    uint32_t off = pq->next_used, walked = 0;
    bool wrap = pq->used_wrap;

    memset(seen, 0, sizeof(seen));
    while (walked < dist) {
        uint32_t start = off, n = 0, k;
        uint16_t flags, id = 0;

        for (;;) {
            flags = vr_le16_to_cpu(virt_read_once16(&ring[off].flags));
            /* 2.8.1: available in this lap = AVAIL == wrap, USED != wrap. */
            if (!pvirtq_is_avail(flags, wrap))
                return snap_fail(e, "QUEU", (int)qi,
                                 "in-flight list at ring offset %u: descriptor %u is not "
                                 "available (the ring moved on since this snapshot)",
                                 start, off);
            id = vr_le16_to_cpu(virt_read_once16(&ring[off].id));
            n++;
            if (++off == pq->size) {
                off = 0;
                wrap = !wrap;
            }
            if (!(flags & VIRTQ_DESC_F_NEXT))
                break;
            if (walked + n == dist)
                return snap_fail(e, "QUEU", (int)qi,
                                 "in-flight list at ring offset %u runs past next_avail %u", start,
                                 pq->next_avail);
        }
        /* 2.8.6: the buffer id is in the list's last descriptor. */
        for (k = 0; k < pq->n_inflight; k++)
            if (snap_get16(pq->inflight + 4 * k) == id)
                break;
        if (k == pq->n_inflight || (seen[id / 8] & (1u << (id % 8))))
            return snap_fail(e, "QUEU", (int)qi,
                             "ring offset %u: list with id %u is not a buffer in flight (out of "
                             "order completion cannot be restored)",
                             start, id);
        if (snap_get16(pq->inflight + 4 * k + 2) != n)
            return snap_fail(e, "QUEU", (int)qi,
                             "ring offset %u: id %u has %u descriptors, in flight with ndesc %u",
                             start, id, n, snap_get16(pq->inflight + 4 * k + 2));
        seen[id / 8] = (uint8_t)(seen[id / 8] | (1u << (id % 8)));
        walked += n;
    }
    return 0;
}

int snap_plan_packed(struct plan_queue *pq, const struct vdev *d, uint64_t acked, unsigned qi,
                     struct snap_err *e)
{
    bool ev = pq->flags & QUEU_F_EVENT_IDX;
    const struct pvirtq_desc *ring;
    struct vdq_state qs;
    uint32_t sum = 0;
    int dist, err;

    if (pq->size == 0 || pq->size > pq->max_size || pq->size > VDQ_PACKED_IDS_INLINE)
        return snap_fail(
            e, "QUEU", (int)qi, "activated with an invalid packed queue: size %u (1..%u)", pq->size,
            pq->max_size < VDQ_PACKED_IDS_INLINE ? pq->max_size : VDQ_PACKED_IDS_INLINE);
    if (ev != !!(acked & (1ull << VIRTIO_F_EVENT_IDX)) ||
        !!(pq->flags & QUEU_F_INDIRECT) != !!(acked & (1ull << VIRTIO_F_INDIRECT_DESC)))
        return snap_fail(e, "QUEU", (int)qi, "ring flags disagree with the acked features");
    /* 2.8.10.1: descriptor ring 16-aligned, the two structures 4-aligned. */
    if (pq->desc % PVIRTQ_DESC_ALIGN || pq->avail % PVIRTQ_EVENT_ALIGN ||
        pq->used % PVIRTQ_EVENT_ALIGN)
        return snap_fail(e, "QUEU", (int)qi, "misaligned packed ring (desc %X driver %X device %X)",
                         pq->desc, pq->avail, pq->used);
    ring = vdq_mem_translate(&d->mem, pq->desc, pvirtq_desc_size(pq->size));
    if (!ring || !vdq_mem_translate(&d->mem, pq->avail, sizeof(struct pvirtq_event_suppress)) ||
        !vdq_mem_translate(&d->mem, pq->used, sizeof(struct pvirtq_event_suppress)))
        return snap_fail(e, "QUEU", (int)qi,
                         "ring outside guest memory (desc %X driver %X device %X)", pq->desc,
                         pq->avail, pq->used);
    if (pq->next_avail >= pq->size)
        return snap_fail(e, "QUEU", (int)qi, "next_avail %u not below size %u", pq->next_avail,
                         pq->size);
    if (pq->next_used >= pq->size)
        return snap_fail(e, "QUEU", (int)qi, "next_used %u not below size %u", pq->next_used,
                         pq->size);
    if (pq->avail_wrap > 1)
        return snap_fail(e, "QUEU", (int)qi, "avail_wrap is %u, not 0/1", pq->avail_wrap);
    if (pq->used_wrap > 1)
        return snap_fail(e, "QUEU", (int)qi, "used_wrap is %u, not 0/1", pq->used_wrap);
    if (pq->reserved)
        return snap_fail(e, "QUEU", (int)qi, "packed reserved field not zero");
    /* 2.8.10: ENABLE, DISABLE, or DESC (only with EVENT_IDX); off_wrap is
     * written only with EVENT_IDX, its offset (bits 0-14) names a ring slot. */
    if (pq->ev_flags > RING_EVENT_FLAGS_DESC)
        return snap_fail(e, "QUEU", (int)qi, "device event flags %u unknown", pq->ev_flags);
    if (pq->ev_flags == RING_EVENT_FLAGS_DESC && !ev)
        return snap_fail(e, "QUEU", (int)qi, "device event flags DESC without EVENT_IDX");
    if (!ev && pq->ev_off_wrap)
        return snap_fail(e, "QUEU", (int)qi, "device event off_wrap %X without EVENT_IDX",
                         (uint64_t)pq->ev_off_wrap);
    if ((pq->ev_off_wrap & 0x7fffu) >= pq->size)
        return snap_fail(e, "QUEU", (int)qi, "device event offset %u not below size %u",
                         pq->ev_off_wrap & 0x7fffu, pq->size);
    /* Each push adds one used element and 1..size descriptors. */
    if (pq->added_desc < pq->num_added || pq->added_desc > (uint32_t)pq->num_added * pq->size)
        return snap_fail(e, "QUEU", (int)qi,
                         "added_desc %u inconsistent with num_added %u (size %u)", pq->added_desc,
                         pq->num_added, pq->size);
    err = check_inflight(pq, qi, &sum, e);
    if (err)
        return err;

    memset(&qs, 0, sizeof(qs));
    qs.size = pq->size;
    qs.desc_gpa = pq->desc;
    qs.avail_gpa = pq->avail;
    qs.used_gpa = pq->used;
    qs.next_avail = pq->next_avail;
    qs.next_used = pq->next_used;
    qs.num_added = pq->num_added;
    qs.event_idx = ev;
    qs.indirect = !!(pq->flags & QUEU_F_INDIRECT);
    qs.packed = 1;
    qs.avail_wrap = pq->avail_wrap;
    qs.used_wrap = pq->used_wrap;
    qs.dev_ev_flags = pq->ev_flags;
    qs.dev_ev_off_wrap = pq->ev_off_wrap;
    qs.added_desc = pq->added_desc;
    if (pq->flags & QUEU_F_BROKEN) {
        /* As split: a broken queue stays broken (the driver must reset),
         * nothing more to check. Its in-flight ids are kept as they were
         * (never returned; save -> restore -> save stays identical). */
        uint16_t k;

        if (vdq_init_state(&pq->q, &d->mem, &qs))
            return snap_fail(e, "QUEU", (int)qi, "ring unusable");
        for (k = 0; k < pq->n_inflight; k++)
            if (vdq_packed_set_inflight(&pq->q, snap_get16(pq->inflight + 4 * k),
                                        snap_get16(pq->inflight + 4 * k + 2)))
                return snap_fail(e, "QUEU", (int)qi, "in-flight id %u refused by the queue",
                                 snap_get16(pq->inflight + 4 * k));
        pq->q.broken = true;
        return 0;
    }
    dist = packed_distance(pq->next_used, pq->used_wrap, pq->next_avail, pq->avail_wrap, pq->size);
    if (dist < 0)
        return snap_fail(e, "QUEU", (int)qi,
                         "next_avail %u (wrap %u) is behind next_used %u (wrap %u)", pq->next_avail,
                         pq->avail_wrap, pq->next_used, pq->used_wrap);
    if ((uint32_t)dist != sum)
        return snap_fail(e, "QUEU", (int)qi,
                         "%u descriptors in flight listed, next_avail - next_used is %u", sum,
                         (unsigned)dist);
    err = check_ring(pq, ring, (uint32_t)dist, qi, e);
    if (err)
        return err;
    /* Rewind (a no-op with nothing in flight): the new instance pops each
     * in-flight list again, as for split. */
    qs.next_avail = pq->next_used;
    qs.avail_wrap = pq->used_wrap;
    if (vdq_init_state(&pq->q, &d->mem, &qs))
        return snap_fail(e, "QUEU", (int)qi, "ring state refused by the queue");
    return 0;
}
