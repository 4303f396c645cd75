/* SPDX-License-Identifier: Apache-2.0 */
/*
 * vhost_user_inflight.c - VHOST_USER_PROTOCOL_F_INFLIGHT_SHMFD: the shared
 * region a backend tracks its in-flight requests in so that the next
 * backend, after a crash or restart, resubmits them (QEMU
 * docs/interop/vhost-user.rst, "Inflight I/O tracking", and the messages
 * VHOST_USER_GET_INFLIGHT_FD / VHOST_USER_SET_INFLIGHT_FD). The tracking
 * itself is hostsim/vdq_inflight.c, called from the queue's pops and
 * pushes; this file owns the region and ties it to the rings.
 *
 * The life of a region (QEMU's vhost-user-blk, vhost_user_blk_start):
 * SET_FEATURES, then GET_INFLIGHT_FD on the device's first start (and
 * after a guest reset): we create num_queues x queue_size entries of
 * shared memory (ops->shm_create), initialise each queue's header and
 * hand the fd back; then SET_INFLIGHT_FD with that region on every start,
 * including the first one after a new backend process connected: the
 * region is then the previous backend's, and each ring recovers from it
 * at its next start (vu_inflight_start): the chains it had fetched and not
 * completed are handed out again, oldest first, before the avail ring;
 * the next avail index is used->idx + those chains, whatever base the
 * frontend sent (after a crash QEMU can only send used->idx).
 *
 * Packed rings (VIRTIO_F_RING_PACKED acked before GET/SET): the region
 * has the packed layout instead (QueueRegionPacked, hostsim/
 * vdq_inflight_packed.h: copies of the fetched descriptors and the used
 * position with its wrap counter, current and settled); at a ring start
 * the recovery gives the ring's positions itself (after a crash QEMU has
 * no packed base to send), and the chains in flight are walked from the
 * copies. A ring started with the other layout than the region's is
 * refused.
 *
 * Bad input (each one line, then the usual policy of vhost_user.h: GET
 * closes the connection, SET gets a REPLY_ACK error): a payload of the
 * wrong size, no fd, num_queues 0 or above our rings, queue_size 0 or above
 * the model's maximum, mmap_size not the size of that many queue regions,
 * an mmap_offset not 64-aligned, a region past its fd (ops->map), an unknown region version or features,
 * a desc_num that is not queue_size, a region while rings are started; at
 * a ring start: a ring larger than the region's queues, a region whose
 * contents do not add up (vdqi_recover) -> the ring is not started (its
 * err fd is signalled).
 *
 * Invariants: the region changes only with the device asleep and every
 * ring stopped; attached rings have b->infl.base; a ring's tracker is on
 * its vdq iff attached and the queue is split.
 */
#include <errno.h>
#include <string.h>

#include "snap_le.h"
#include "vdq_inflight.h"
#include "vhost_user_internal.h"
#include "virtio_platform.h"

struct vu_infl_desc {
    uint64_t mmap_size, mmap_offset;
    uint16_t num_queues, queue_size;
};

static bool vu_is_any_ring_started(const struct vu_backend *b)
{
    for (unsigned i = 0; i < b->nrings; i++)
        if (b->rings[i].started)
            return true;
    return false;
}

static int vu_infl_parse(const struct vu_backend *b, const char *what, const uint8_t *p,
                         uint32_t size, struct vu_infl_desc *d)
{
    if (size != VU_INFLIGHT_BYTES && size != VU_INFLIGHT_MIN_BYTES) {
        virt_log(VIRT_LOG_ERR, "vhost-user: %s with %u payload bytes (want %u)", what, size,
                 VU_INFLIGHT_BYTES);
        return -EINVAL;
    }
    d->mmap_size = snap_get64(p);
    d->mmap_offset = snap_get64(p + 8);
    d->num_queues = snap_get16(p + 16);
    d->queue_size = snap_get16(p + 18);
    if (!d->num_queues || d->num_queues > b->nrings || !d->queue_size ||
        d->queue_size > b->dev->ops->queue_max_size) {
        virt_log(VIRT_LOG_ERR,
                 "vhost-user: %s for %u queues of %u (we have %u rings of at most %u)", what,
                 d->num_queues, d->queue_size, b->nrings, b->dev->ops->queue_max_size);
        return -EINVAL;
    }
    if (vu_is_any_ring_started(b) || !vmmio_is_asleep(b->m)) {
        virt_log(VIRT_LOG_ERR, "vhost-user: %s with rings started", what);
        return -EBUSY;
    }
    return 0;
}

/* One queue's bytes in the layout the region has (packed or split). */
static uint64_t vu_infl_qbytes(bool packed, uint16_t queue_size)
{
    return packed ? vdqip_queue_bytes(queue_size) : vdqi_queue_bytes(queue_size);
}

static uint8_t *vu_infl_queue(const struct vu_inflight *in, unsigned i)
{
    return in->base + (uint64_t)i * vu_infl_qbytes(in->packed, in->queue_size);
}

void vu_inflight_drop(struct vu_backend *b)
{
    struct vu_inflight *in = &b->infl;

    if (in->base && b->ops->unmap)
        b->ops->unmap(b->ctx, in->base, in->mapped ? in->offset : 0, in->size);
    virt_free(in->storage);
    memset(in, 0, sizeof(*in));
}

/* Make base (size bytes, num_queues x queue_size) the region; every queue
 * recovers at its ring's next start. */
static int vu_infl_install(struct vu_backend *b, uint8_t *base, bool mapped,
                           const struct vu_infl_desc *d, uint64_t size)
{
    bool packed = vu_is_packed(b);
    size_t per = (size_t)d->queue_size * (packed ? VDQIP_STORAGE_PER_DESC : 1);
    uint16_t *storage = virt_zalloc((size_t)d->num_queues * per * sizeof(uint16_t));
    struct vu_inflight *in = &b->infl;
    unsigned i;

    if (!storage) {
        if (b->ops->unmap)
            b->ops->unmap(b->ctx, base, mapped ? d->mmap_offset : 0, size);
        return -ENOMEM;
    }
    vu_inflight_drop(b);
    in->base = base;
    in->size = size;
    in->offset = mapped ? d->mmap_offset : 0;
    in->mapped = mapped;
    in->num_queues = d->num_queues;
    in->queue_size = d->queue_size;
    in->storage = storage;
    in->packed = packed;
    for (i = 0; i < d->num_queues; i++) {
        if (packed)
            vdqip_attach(&in->pt[i], (struct vdqip_region *)vu_infl_queue(in, i), d->queue_size,
                         storage + (size_t)i * per);
        else
            vdqi_attach(&in->t[i], (struct vdqi_region *)vu_infl_queue(in, i), d->queue_size,
                        storage + (size_t)i * per);
        in->attached |= 1u << i;
    }
    /* A fresh region "recovers" too: vdqi_recover on a region with nothing
     * in flight only takes used->idx (which the tracker must know). */
    in->pending = in->attached;
    return 0;
}

int vu_get_inflight_fd(struct vu_backend *b, const uint8_t *p, uint32_t size, struct vu_reply *r)
{
    struct vu_infl_desc d;
    uint8_t out[VU_INFLIGHT_BYTES] = {0};
    uint8_t *base;
    uint64_t bytes;
    unsigned i;
    int err = vu_infl_parse(b, "GET_INFLIGHT_FD", p, size, &d), fd = -1;

    if (err)
        return err;
    snap_put16(out + 16, d.num_queues);
    snap_put16(out + 18, d.queue_size);
    bytes = (uint64_t)d.num_queues * vu_infl_qbytes(vu_is_packed(b), d.queue_size);
    base = b->ops->shm_create ? b->ops->shm_create(b->ctx, bytes, &fd) : NULL;
    if (!base) {
        virt_log(VIRT_LOG_ERR, "vhost-user: GET_INFLIGHT_FD: no shared memory for %llu bytes",
                 (unsigned long long)bytes);
        return -ENOMEM;
    }
    for (i = 0; i < d.num_queues; i++) {
        uint8_t *q = base + i * vu_infl_qbytes(vu_is_packed(b), d.queue_size);

        if (vu_is_packed(b))
            vdqip_region_init((struct vdqip_region *)q, d.queue_size);
        else
            vdqi_region_init((struct vdqi_region *)q, d.queue_size);
    }
    err = vu_infl_install(b, base, false, &d, bytes);
    if (err) {
        vu_close(b, &fd);
        return err;
    }
    snap_put64(out, bytes);
    snap_put64(out + 8, 0);
    snap_put32(r->buf, VU_GET_INFLIGHT_FD);
    snap_put32(r->buf + 4, VU_FLAG_VERSION | VU_FLAG_REPLY);
    snap_put32(r->buf + 8, size);
    memcpy(r->buf + VU_HDR_BYTES, out, size);
    r->len = VU_HDR_BYTES + size;
    r->fd = fd;
    virt_log(VIRT_LOG_INFO, "vhost-user: inflight region created: %u %s queues of %u, %llu bytes",
             d.num_queues, vu_is_packed(b) ? "packed" : "split", d.queue_size,
             (unsigned long long)bytes);
    return 0;
}

int vu_set_inflight_fd(struct vu_backend *b, const uint8_t *p, uint32_t size, const int *fds,
                       unsigned nfds)
{
    struct vu_infl_desc d;
    const char *why = NULL;
    uint64_t want;
    uint8_t *base;
    unsigned i;
    int err = vu_infl_parse(b, "SET_INFLIGHT_FD", p, size, &d);

    if (err)
        return err;
    if (nfds != 1) {
        virt_log(VIRT_LOG_ERR, "vhost-user: SET_INFLIGHT_FD with %u fds", nfds);
        return -EINVAL;
    }
    want = (uint64_t)d.num_queues * vu_infl_qbytes(vu_is_packed(b), d.queue_size);
    if (d.mmap_size != want) {
        virt_log(VIRT_LOG_ERR,
                 "vhost-user: SET_INFLIGHT_FD: region of %llu bytes, %u queues of %u need %llu",
                 (unsigned long long)d.mmap_size, d.num_queues, d.queue_size,
                 (unsigned long long)want);
        return -EINVAL;
    }
    if (d.mmap_offset % VDQI_ALIGN) {
        /* The region holds u64 fields: it must be aligned where we see it
         * (the mapping keeps the offset's alignment within a page). */
        virt_log(VIRT_LOG_ERR, "vhost-user: SET_INFLIGHT_FD: mmap_offset %#llx not %u-aligned",
                 (unsigned long long)d.mmap_offset, VDQI_ALIGN);
        return -EINVAL;
    }
    base = b->ops->map(b->ctx, fds[0], d.mmap_offset, d.mmap_size);
    if (!base) {
        virt_log(VIRT_LOG_ERR, "vhost-user: SET_INFLIGHT_FD: region not mapped (past its fd?)");
        return -EFAULT;
    }
    for (i = 0; i < d.num_queues; i++) {
        uint8_t *q = base + i * vu_infl_qbytes(vu_is_packed(b), d.queue_size);
        int bad = vu_is_packed(b)
                      ? vdqip_region_check((struct vdqip_region *)q, d.queue_size, &why)
                      : vdqi_region_check((struct vdqi_region *)q, d.queue_size, &why);

        if (bad) {
            /* version and desc_num sit at the same offsets in both layouts */
            virt_log(VIRT_LOG_ERR, "vhost-user: SET_INFLIGHT_FD: queue %u: %s (version %u, "
                                   "desc_num %u)",
                     i, why, snap_get16(q + 8), snap_get16(q + 10));
            if (b->ops->unmap)
                b->ops->unmap(b->ctx, base, d.mmap_offset, d.mmap_size);
            return -EINVAL;
        }
    }
    err = vu_infl_install(b, base, true, &d, d.mmap_size);
    if (!err)
        virt_log(VIRT_LOG_INFO, "vhost-user: inflight region set: %u queues of %u",
                 d.num_queues, d.queue_size);
    return err;
}

int vu_inflight_start(struct vu_backend *b, unsigned i, uint16_t used_idx, uint16_t *next_avail)
{
    struct vu_inflight *in = &b->infl;
    const char *why = NULL;
    uint16_t n = 0;

    if (!(in->attached & (1u << i)) || !(in->pending & (1u << i)))
        return 0;
    if (in->packed) {
        virt_log(VIRT_LOG_ERR, "vhost-user: ring %u: split ring, packed inflight region", i);
        return -EINVAL;
    }
    /* Idempotent: a reload that fails later does it again. */
    if (vdqi_recover(&in->t[i], used_idx, b->rings[i].num, &n, &why)) {
        virt_log(VIRT_LOG_ERR, "vhost-user: ring %u: inflight region refused: %s", i, why);
        return -EINVAL;
    }
    /* A frontend base past used->idx + the recorded chains: the previous
     * backend popped chains it never used and the region does not say
     * which (it did not drain before GET_VRING_BASE, vhost-user.rst
     * "Stopping rings"; or a fresh region after a migration). Nothing
     * here can tell which heads those were: said loudly, since re-serving
     * from the used idx may repeat requests that completed out of order. */
    if (!n && *next_avail != used_idx)
        virt_log(VIRT_LOG_WARN,
                 "vhost-user: ring %u: frontend base %u is %u past used idx %u and the inflight "
                 "region records none of them: the previous backend left them unused; serving "
                 "from %u",
                 i, *next_avail, (uint16_t)(*next_avail - used_idx), used_idx, used_idx);
    else if (n || *next_avail != (uint16_t)(used_idx + n))
        virt_log(VIRT_LOG_INFO,
                 "vhost-user: ring %u: %u request%s in flight before the restart, resubmitted "
                 "first (used idx %u, next avail %u, frontend base %u)",
                 i, n, n == 1 ? "" : "s", used_idx, (uint16_t)(used_idx + n), *next_avail);
    *next_avail = (uint16_t)(used_idx + n);
    return 0;
}

int vu_inflight_start_packed(struct vu_backend *b, unsigned i, struct vdq_state *st)
{
    struct vu_inflight *in = &b->infl;
    const struct pvirtq_desc *ring;
    const char *why = NULL;
    uint16_t ui, ai, n = 0;
    bool uw, aw;

    if (!(in->attached & (1u << i)) || !(in->pending & (1u << i)))
        return 0;
    if (!in->packed) {
        virt_log(VIRT_LOG_ERR, "vhost-user: ring %u: packed ring, split inflight region", i);
        return -EINVAL;
    }
    ring = vdq_mem_translate(&b->mem, st->desc_gpa, (uint64_t)st->size * 16);
    if (!ring || st->size > in->queue_size) {
        virt_log(VIRT_LOG_ERR, "vhost-user: ring %u: descriptor ring of %u outside memory or "
                               "larger than the inflight region's %u", i, st->size, in->queue_size);
        return -EINVAL;
    }
    /* Idempotent: a reload that fails later does it again. */
    if (vdqip_recover(&in->pt[i], ring, st->size, &ui, &uw, &ai, &aw, &n, &why)) {
        virt_log(VIRT_LOG_ERR, "vhost-user: ring %u: inflight region refused: %s", i, why);
        return -EINVAL;
    }
    if (n || ai != st->next_avail || ui != st->next_used || aw != !!st->avail_wrap ||
        uw != !!st->used_wrap)
        virt_log(VIRT_LOG_INFO,
                 "vhost-user: ring %u: %u request%s in flight before the restart, resubmitted "
                 "first (packed: used %u wrap %u, next avail %u wrap %u; frontend base avail %u "
                 "used %u)",
                 i, n, n == 1 ? "" : "s", ui, uw, ai, aw, st->next_avail, st->next_used);
    st->next_used = ui;
    st->used_wrap = uw;
    st->next_avail = ai;
    st->avail_wrap = aw;
    return 0;
}

void vu_inflight_attach(struct vu_backend *b, unsigned i, struct vdq *q, bool started)
{
    struct vu_inflight *in = &b->infl;
    uint16_t nresubmit;
    int err;

    if (!(in->attached & (1u << i))) {
        (void)vdq_set_inflight(q, NULL);
        (void)vdq_set_inflight_packed(q, NULL);
        return;
    }
    err = in->packed ? vdq_set_inflight_packed(q, &in->pt[i]) : vdq_set_inflight(q, &in->t[i]);
    nresubmit = in->packed ? in->pt[i].nresubmit : in->t[i].nresubmit;
    if (err) {
        /* Checked at start (ring <= desc_num); a queue vdq refuses is
         * served untracked rather than not at all. */
        virt_log(VIRT_LOG_WARN, "vhost-user: ring %u: not tracked (ring %u, region %u)", i,
                 q->cfg.num, in->queue_size);
        return;
    }
    if (started && (in->pending & (1u << i))) { /* vu_inflight_start recovered it */
        in->pending &= ~(1u << i);
        b->stats.inflight_recoveries++;
        b->stats.inflight_resubmitted += nresubmit;
    }
}
