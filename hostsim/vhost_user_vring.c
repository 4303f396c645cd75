/* SPDX-License-Identifier: Apache-2.0 */
/*
 * vhost_user_vring.c - the vhost-user rings and the device behind them:
 * ring state (SET_VRING_NUM/ADDR/BASE/KICK/CALL/ERR/ENABLE, GET_VRING_BASE),
 * the device's life (program, start, stop, suspend, reset) through the
 * register file, and device state transfer (SET_DEVICE_STATE_FD,
 * CHECK_DEVICE_STATE) through the snapshot codec. Split from vhost_user.c,
 * which frames and validates the messages and calls in here. Message
 * semantics follow QEMU's docs/interop/vhost-user.rst; section names below
 * are from that file.
 *
 * Ring life ("Starting and stopping rings"): a ring is started by
 * SET_VRING_KICK and stopped by GET_VRING_BASE, which returns its vring
 * base: the next avail index of a split ring, or, when VIRTIO_F_RING_PACKED
 * was acked, the packed ring's two offsets and wrap counters (the encoding
 * in vhost_user.h, VU_PACKED_*). It is enabled from the start unless
 * VHOST_USER_F_PROTOCOL_FEATURES was negotiated (then SET_VRING_ENABLE
 * decides). The device runs with the rings that are started and enabled
 * (the active set, vu_active_mask()): "Multiple queue support" lets the
 * frontend use fewer rings than GET_QUEUE_NUM offers (QEMU starts only the
 * rings its guest driver set up, e.g. one of num-queues=4), and rings never
 * started must not hold the others up. Whenever the active set changes the
 * device is put to sleep (each running ring's next avail index saved as
 * its base), then, if the set is not empty, activated with exactly those
 * queues ready and woken; with no active ring it sleeps.
 *
 * Activation: if the device is already activated with the same ring
 * geometry and features (a restart after GET_VRING_BASE, or a restored
 * snapshot), only the indices are set (split: next_avail = the frontend's
 * base, next_used = used->idx in guest memory; packed: both offsets and
 * wrap counters from the base; vdq_init_state checks them);
 * otherwise it is reset and programmed from scratch (Status 0, features,
 * queue registers, DRIVER_OK), then the indices are set the same way.
 *
 * Invariants: vu_update() is the one place that starts or suspends the
 * device for the rings (the invariant in vhost_user.h; SET_MEM_TABLE only
 * puts it to sleep across the swap and wakes it as it was); a device state
 * transfer runs only with every ring stopped and the device asleep.
 */
#include "vhost_user.h"

#include <errno.h>
#include <string.h>

#include "snap_le.h"
#include "snapshot.h"
#include "vhost_user_internal.h"
#include "virtio_mmio.h"
#include "virtio_platform.h"

/* ---- small helpers ---- */

/* "Ring states": with VHOST_USER_F_PROTOCOL_FEATURES negotiated rings start
 * disabled; without it they are enabled from the start. */
static bool vu_is_ring_enabled(const struct vu_backend *b, const struct vu_ring *r)
{
    bool pf = b->has_features && ((b->features >> VU_F_PROTOCOL_FEATURES) & 1);

    return pf ? r->enabled : true;
}

static bool vu_is_pow2(uint32_t v)
{
    return v && !(v & (v - 1));
}

bool vu_is_packed(const struct vu_backend *b)
{
    return b->has_features && ((b->features >> VIRTIO_F_RING_PACKED) & 1);
}

/* ---- the vring base (SET/GET_VRING_BASE num) ---- */

/* A running queue's state as the frontend's vring base: vhost-user.rst
 * GET_VRING_BASE, "For a split virtqueue, returns only the 16-bit next
 * descriptor index to process in the *Available Ring*"; "For a packed
 * virtqueue, neither index is explicitly available to read from memory,
 * so both indices (as maintained by the device) are returned". */
static uint32_t vu_base_of(const struct vdq_state *st)
{
    if (!st->packed)
        return st->next_avail;
    return (st->next_avail & VU_PACKED_IDX_MASK) | (st->avail_wrap ? VU_PACKED_AVAIL_WRAP : 0) |
           ((uint32_t)(st->next_used & VU_PACKED_IDX_MASK) << VU_PACKED_USED_SHIFT) |
           (st->used_wrap ? VU_PACKED_USED_WRAP : 0);
}

/*
 * Ring i's base into st (its queue as activated, so st->packed is the
 * layout the device runs): vhost-user.rst SET_VRING_BASE, "For a split
 * virtqueue, sets only the next descriptor index to process in the
 * *Available Ring*. The device is supposed to read the next index in the
 * *Used Ring* from the respective vring structure in guest memory"; "For a
 * packed virtqueue, both indices are supplied, as they are not explicitly
 * available in memory". vdq_init_state checks the result (split: avail and
 * used within a ring of each other; packed: both offsets below the size).
 * A packed start has no chain in flight: what the frontend counts between
 * the two offsets is not ours to return (QEMU 7.2 resubmits nothing for a
 * packed ring without INFLIGHT_SHMFD, which we do not offer).
 */
static int vu_base_to_state(const struct vu_backend *b, unsigned i, struct vdq_state *st)
{
    uint32_t base = b->rings[i].base;

    if (st->packed) {
        st->next_avail = (uint16_t)(base & VU_PACKED_IDX_MASK);
        st->avail_wrap = !!(base & VU_PACKED_AVAIL_WRAP);
        st->next_used = (uint16_t)((base >> VU_PACKED_USED_SHIFT) & VU_PACKED_IDX_MASK);
        st->used_wrap = !!(base & VU_PACKED_USED_WRAP);
    } else {
        const __le16 *used_idx = vdq_mem_translate(&b->mem, st->used_gpa + 2, 2);

        if (!used_idx) {
            virt_log(VIRT_LOG_ERR, "vhost-user: ring %u: used ring outside guest memory", i);
            return -EFAULT;
        }
        if (base > 0xffff) {
            /* Set while the packed layout was acked, started split. */
            virt_log(VIRT_LOG_ERR, "vhost-user: ring %u refused: split base %#x above 16 bits", i,
                     base);
            return -EINVAL;
        }
        st->next_avail = (uint16_t)base;
        st->next_used = vr_le16_to_cpu(virt_read_once16((const uint16_t *)used_idx));
    }
    st->num_added = 0;
    st->broken = 0;
    return 0;
}

int vu_set_vring_base(struct vu_backend *b, struct vu_ring *r, uint32_t num)
{
    uint32_t avail = num & VU_PACKED_IDX_MASK;
    uint32_t used = (num >> VU_PACKED_USED_SHIFT) & VU_PACKED_IDX_MASK;

    if (r->started) {
        virt_log(VIRT_LOG_ERR, "vhost-user: SET_VRING_BASE %#x on a started ring", num);
        return -EINVAL;
    }
    if (vu_is_packed(b)) {
        /* The offsets index a ring of r->num descriptors (checked again at
         * start, when the size is certain). */
        if (r->num && (avail >= r->num || used >= r->num)) {
            virt_log(VIRT_LOG_ERR,
                     "vhost-user: SET_VRING_BASE %#x: packed avail %u / used %u not below the "
                     "ring size %u",
                     num, avail, used, r->num);
            return -EINVAL;
        }
    } else if (num > 0xffff) {
        virt_log(VIRT_LOG_ERR, "vhost-user: SET_VRING_BASE %#x: split base above 16 bits", num);
        return -EINVAL;
    }
    r->base = num;
    return 0;
}

/* ---- the device ---- */

void vu_irq_hook(struct vmmio *m, uint32_t int_status, void *ctx)
{
    struct vu_backend *b = ctx;
    unsigned i;

    (void)m;
    if (!(int_status & VIRTIO_INT_USED_BUFFER))
        return; /* config change: the carrier tells the frontend (BACKEND_REQ) */
    /* vmmio does not say which queue: signal every running ring (a spurious
     * call costs the driver a look, a missing one stalls it). running_mask
     * is stable here (changed only while asleep); call_fd changes under
     * fd_lock (vu_set_vring_fd), and the ring workers may be here at once. */
    virt_lock_acquire(&b->fd_lock);
    for (i = 0; i < b->nrings; i++) {
        if ((b->running_mask & (1u << i)) && b->rings[i].call_fd >= 0 && b->ops->signal) {
            b->ops->signal(b->ctx, b->rings[i].call_fd);
            __atomic_fetch_add(&b->stats.calls, 1, __ATOMIC_RELAXED);
        }
    }
    virt_lock_release(&b->fd_lock);
}

/* A used-buffer interrupt of one queue (vmmio queue_interrupt): that
 * ring's call eventfd only. vhost-user.rst, VHOST_USER_SET_VRING_CALL: the
 * call fd is per ring. Signalling every ring here made a second ring's
 * driver see interrupts with nothing used (the ringloop guest's storm
 * guard masked that queue for 10 ms at a time: `bench blk ... queues 2`).
 * Device queue qi is ring qi (vu_attach). */
void vu_queue_irq_hook(struct vmmio *m, unsigned qi, void *ctx)
{
    struct vu_backend *b = ctx;

    (void)m;
    virt_lock_acquire(&b->fd_lock);
    if (qi < b->nrings && (b->running_mask & (1u << qi)) && b->rings[qi].call_fd >= 0 &&
        b->ops->signal) {
        b->ops->signal(b->ctx, b->rings[qi].call_fd);
        __atomic_fetch_add(&b->stats.calls, 1, __ATOMIC_RELAXED);
    }
    virt_lock_release(&b->fd_lock);
}

/*
 * The register file's broken hook (vu_attach): ring qi is corrupt
 * (vdq.h: avail->idx more than the ring size ahead, a head outside the
 * table), so the queue serves nothing until the frontend restarts it.
 * vhost-user.rst, VHOST_USER_SET_VRING_ERR: "Set the event file descriptor
 * to signal when error occurs": signal it through the carrier, and say it
 * in one line. The other rings and the connection go on; "Starting and
 * stopping rings": GET_VRING_BASE stops the ring, SET_VRING_KICK starts it
 * again, which re-programs the device (it has DEVICE_NEEDS_RESET set, so
 * vu_is_same_activation() fails) and clears the broken state.
 */
void vu_broken_hook(struct vmmio *m, unsigned qi, const char *why, uint32_t va, uint32_t vb,
                    void *ctx)
{
    struct vu_backend *b = ctx;
    bool told = false, waits;

    (void)m;
    /* The line first: a frontend that sees the err fd finds it written
     * (the hook runs on a ring worker, not in message order). */
    virt_lock_acquire(&b->fd_lock);
    told = qi < b->nrings && b->rings[qi].err_fd >= 0 && b->ops->signal;
    __atomic_fetch_add(&b->stats.ring_errors, 1, __ATOMIC_RELAXED);
    waits = qi < b->nrings && !vdq_is_broken(&b->dev->queues[qi].q);
    virt_log(VIRT_LOG_ERR, "vhost-user %s: ring %u broken: %s (%u, %u); %s%s", b->dev->ops->type,
             qi, why, va, vb, told ? "error fd signalled" : "no error fd to signal",
             waits ? "; nothing consumed, later well-formed entries are served" : "");
    if (told)
        b->ops->signal(b->ctx, b->rings[qi].err_fd);
    virt_lock_release(&b->fd_lock);
}

int vu_process(struct vu_backend *b)
{
    int total = 0;

    while (vmmio_has_pending(b->m)) {
        int n = vmmio_process(b->m);

        if (n > 0)
            total += n;
    }
    /* The calls went out; nothing reads InterruptStatus on this transport. */
    vmmio_write(b->m, VIRTIO_MMIO_INTERRUPT_ACK, VIRTIO_INT_USED_BUFFER, 4);
    return total;
}

static void vu_write64(struct vmmio *m, uint32_t lo_off, uint64_t v)
{
    vmmio_write(m, lo_off, (uint32_t)v, 4);
    vmmio_write(m, lo_off + 4, (uint32_t)(v >> 32), 4);
}

/*
 * The features the device is activated with: the frontend's, without
 * VHOST_USER_F_PROTOCOL_FEATURES, and with VERSION_1 even when the guest
 * driver is a legacy one (OVMF's virtio-blk on a transitional
 * vhost-user-blk-pci acks no VERSION_1): the frontend (QEMU) runs the
 * legacy transport, and what reaches us, the split ring and the requests,
 * is the same for a little-endian legacy driver. The register file
 * requires VERSION_1 (MMIO v2), hence the bit.
 */
static uint64_t vu_device_features(const struct vu_backend *b)
{
    uint64_t f = b->features & ~((1ull << VU_F_PROTOCOL_FEATURES) | (1ull << VU_F_LOG_ALL));

    return f | (b->dev->avail_features & (1ull << VIRTIO_F_VERSION_1));
}

/* Program the register file from scratch (3.1.1 through registers), with
 * the rings of mask ready and the others not (4.2.2: a queue not ready is
 * never touched). */
static int vu_device_program(struct vu_backend *b, uint32_t mask, const struct vu_ring_geo *geo)
{
    uint64_t f = vu_device_features(b);
    uint32_t st = VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER;
    unsigned i;

    vmmio_write(b->m, VIRTIO_MMIO_STATUS, 0, 4);
    vmmio_write(b->m, VIRTIO_MMIO_STATUS, VIRTIO_STATUS_ACKNOWLEDGE, 4);
    vmmio_write(b->m, VIRTIO_MMIO_STATUS, st, 4);
    vmmio_write(b->m, VIRTIO_MMIO_DRIVER_FEATURES_SEL, 0, 4);
    vmmio_write(b->m, VIRTIO_MMIO_DRIVER_FEATURES, (uint32_t)f, 4);
    vmmio_write(b->m, VIRTIO_MMIO_DRIVER_FEATURES_SEL, 1, 4);
    vmmio_write(b->m, VIRTIO_MMIO_DRIVER_FEATURES, (uint32_t)(f >> 32), 4);
    st |= VIRTIO_STATUS_FEATURES_OK;
    vmmio_write(b->m, VIRTIO_MMIO_STATUS, st, 4);
    if (!(vmmio_read(b->m, VIRTIO_MMIO_STATUS, 4) & VIRTIO_STATUS_FEATURES_OK)) {
        virt_log(VIRT_LOG_ERR, "vhost-user: device refused features %#llx", (unsigned long long)f);
        return -EINVAL;
    }
    for (i = 0; i < b->nrings; i++) {
        if (!(mask & (1u << i)))
            continue;
        vmmio_write(b->m, VIRTIO_MMIO_QUEUE_SEL, i, 4);
        vmmio_write(b->m, VIRTIO_MMIO_QUEUE_NUM, b->rings[i].num, 4);
        vu_write64(b->m, VIRTIO_MMIO_QUEUE_DESC_LOW, geo[i].desc);
        vu_write64(b->m, VIRTIO_MMIO_QUEUE_DRIVER_LOW, geo[i].avail);
        vu_write64(b->m, VIRTIO_MMIO_QUEUE_DEVICE_LOW, geo[i].used);
        vmmio_write(b->m, VIRTIO_MMIO_QUEUE_READY, 1, 4);
    }
    vmmio_write(b->m, VIRTIO_MMIO_STATUS, st | VIRTIO_STATUS_DRIVER_OK, 4);
    st = vmmio_read(b->m, VIRTIO_MMIO_STATUS, 4);
    if (!(st & VIRTIO_STATUS_DRIVER_OK) || (st & VIRTIO_STATUS_DEVICE_NEEDS_RESET) ||
        !b->dev->activated) {
        virt_log(VIRT_LOG_ERR, "vhost-user: device activation failed (status %#x)", st);
        return -EINVAL;
    }
    return 0;
}

/* Is the device activated with exactly these rings, this geometry and
 * these features? */
static bool vu_is_same_activation(const struct vu_backend *b, uint32_t mask,
                                  const struct vu_ring_geo *geo)
{
    const struct vdev *d = b->dev;
    unsigned i;

    if (!d->activated || d->needs_reset || d->acked_features != vu_device_features(b))
        return false;
    for (i = 0; i < b->nrings; i++) {
        const struct vdev_queue *vq = &d->queues[i];

        if (vq->ready != !!(mask & (1u << i)))
            return false;
        if (!vq->ready)
            continue;
        if (vq->size != b->rings[i].num || vq->desc_gpa != geo[i].desc ||
            vq->avail_gpa != geo[i].avail || vq->used_gpa != geo[i].used)
            return false;
    }
    return true;
}

struct vu_reload {
    struct vu_backend *b;
    bool set_base; /* next_avail = ring base, next_used = used->idx */
    int err;
    int bad_ring; /* the ring refused, -1: none or not one ring's fault */
};

/* Locked (vmmio_run_locked): rebuild each queue's vdq over b->mem (new
 * mappings) and, on a start, at the frontend's indices. Validates every
 * queue before changing any. */
static void vu_reload_locked(struct vdev *d, void *arg)
{
    struct vu_reload *rl = arg;
    struct vu_backend *b = rl->b;
    struct vdq_state st[VU_MAX_RINGS];
    struct vdq scratch;
    unsigned i;

    d->mem = b->mem;
    for (i = 0; i < b->nrings; i++) {
        if (!vdev_has_queue_state(d, i))
            continue;
        /* Without set_base (a new memory table, the device asleep) the
         * state carries over as it is; the models here return every chain
         * before their processing ends, so no packed chain is in flight
         * (vdq_init_state would forget it). */
        vdq_get_state(&d->queues[i].q, &st[i]);
        if (rl->set_base) {
            rl->err = vu_base_to_state(b, i, &st[i]);
            if (rl->err) {
                rl->bad_ring = (int)i;
                return;
            }
            /* INFLIGHT_SHMFD: chains in flight before a restart come
             * first and the avail ring goes on after them. */
            rl->err = st[i].packed ? vu_inflight_start_packed(b, i, &st[i])
                                   : vu_inflight_start(b, i, st[i].next_used, &st[i].next_avail);
            if (rl->err) {
                rl->bad_ring = (int)i;
                return;
            }
        }
        /* The driver's avail->idx is not the frontend's fault: one more
         * than a ring ahead at the start is a stall (vdq.h corrupt_stall). */
        rl->err = vdq_init_state_stall(&scratch, &b->mem, &st[i]);
        if (rl->err) {
            rl->bad_ring = (int)i;
            virt_log(VIRT_LOG_ERR,
                     "vhost-user: ring %u refused (%s base %#x: avail %u, used %u, size %u): %d",
                     i, st[i].packed ? "packed" : "split", b->rings[i].base, st[i].next_avail,
                     st[i].next_used, st[i].size, rl->err);
            return;
        }
    }
    for (i = 0; i < b->nrings; i++) {
        struct vdq_stats keep;

        if (!vdev_has_queue_state(d, i))
            continue;
        keep = d->queues[i].q.stats;
        (void)vdq_init_state_stall(&d->queues[i].q, &b->mem, &st[i]); /* checked above */
        d->queues[i].q.stats = keep;
        vu_inflight_attach(b, i, &d->queues[i].q, rl->set_base); /* init_state dropped it */
        vu_log_attach(b, i, &d->queues[i].q); /* and the used-area logging */
        /* vhost-user has no DEVICE_NEEDS_RESET the backend could set (QEMU
         * only logs the err eventfd): a corrupt ring waits, is told on
         * the err fd and serves the driver's later well-formed entries
         * (vdq.h corrupt_stall). */
        vdq_set_corrupt_stall(&d->queues[i].q, true);
    }
}

int vu_reload(struct vu_backend *b, bool set_base, int *bad_ring)
{
    struct vu_reload rl = {.b = b, .set_base = set_base, .err = 0, .bad_ring = -1};

    vmmio_run_locked(b->m, vu_reload_locked, &rl);
    if (bad_ring)
        *bad_ring = rl.bad_ring;
    return rl.err;
}

uint32_t vu_active_mask(const struct vu_backend *b)
{
    uint32_t mask = 0;
    unsigned i;

    if (!b->has_owner || !b->mem.nregions)
        return 0;
    for (i = 0; i < b->nrings; i++) {
        const struct vu_ring *r = &b->rings[i];

        if (r->started && vu_is_ring_enabled(b, r) && r->has_addr && r->num)
            mask |= 1u << i;
    }
    return mask;
}

/* A start failed: signal the err fd of the ring at fault (ring >= 0), or
 * of every ring when it is not one ring's fault. */
static void vu_ring_error(struct vu_backend *b, int ring)
{
    unsigned i;

    for (i = 0; i < b->nrings; i++)
        if ((ring < 0 || (unsigned)ring == i) && b->rings[i].err_fd >= 0 && b->ops->signal)
            b->ops->signal(b->ctx, b->rings[i].err_fd);
}

/* Asleep, with each running ring's state kept as its base (split: next
 * avail index; packed: offsets and wrap counters; a ring that stays
 * started resumes there; GET_VRING_BASE returns it). */
static void vu_suspend(struct vu_backend *b)
{
    unsigned i;

    if (!vmmio_is_asleep(b->m)) {
        vmmio_sleep(b->m); /* waits for queue processing in progress */
        b->stats.stops++;
        virt_log(VIRT_LOG_INFO, "vhost-user %s: device suspended", b->dev->ops->type);
    }
    /* (Also after a memory table that left the device asleep.) */
    for (i = 0; i < b->nrings; i++) {
        struct vdq_state st;

        if (!(b->running_mask & (1u << i)) || !vdev_has_queue_state(b->dev, i))
            continue;
        vdq_get_state(&b->dev->queues[i].q, &st);
        b->rings[i].base = vu_base_of(&st);
    }
    b->running_mask = 0;
}

/* Bring the device in line with the rings (the invariant in vhost_user.h). */
int vu_update(struct vu_backend *b)
{
    struct vu_ring_geo geo[VU_MAX_RINGS];
    uint32_t mask = vu_active_mask(b);
    int err, bad_ring = -1;
    unsigned i, n = 0;

    if (!vmmio_is_asleep(b->m) && mask == b->running_mask)
        return 0;
    vu_suspend(b);
    if (!mask)
        return 0;
    for (i = 0; i < b->nrings; i++) {
        if (!(mask & (1u << i)))
            continue;
        n++;
        err = vu_ring_geo_get(b, &b->rings[i], &geo[i]);
        if (err) {
            virt_log(VIRT_LOG_ERR, "vhost-user: ring %u outside guest memory", i);
            bad_ring = (int)i;
            goto err_start;
        }
    }
    if (!vu_is_same_activation(b, mask, geo)) {
        err = vu_device_program(b, mask, geo);
        if (err)
            goto err_start;
    }
    err = vu_reload(b, true, &bad_ring);
    if (err)
        goto err_start;
    /* Before the wake: its lock publishes the mask to the hooks. */
    b->running_mask = mask;
    b->mem_parked = false;
    vmmio_wake(b->m);
    b->stats.starts++;
    virt_log(VIRT_LOG_INFO, "vhost-user %s: device running (%u of %u ring%s, mask %#x), %s rings",
             b->dev->ops->type, n, b->nrings, b->nrings == 1 ? "" : "s", mask,
             vdev_has_feature(b->dev, VIRTIO_F_RING_PACKED) ? "packed" : "split");
    vu_process(b);
    return 0;

err_start:
    vu_ring_error(b, bad_ring);
    return err;
}

/* ---- rings ---- */

struct vu_ring *vu_ring_of(struct vu_backend *b, uint64_t index)
{
    if (index >= b->nrings) {
        virt_log(VIRT_LOG_ERR, "vhost-user: ring index %llu out of range (%u rings)",
                 (unsigned long long)index, b->nrings);
        return NULL;
    }
    return &b->rings[index];
}

int vu_set_vring_num(struct vu_backend *b, struct vu_ring *r, uint32_t num)
{
    /* 2.8 (packed-ring.tex): "the Queue Size value does not have to be a
     * power of 2"; split (2.7) sizes are. */
    bool packed = vu_is_packed(b);

    if (!num || num > b->dev->ops->queue_max_size || (!packed && !vu_is_pow2(num))) {
        virt_log(VIRT_LOG_ERR, "vhost-user: ring size %u (max %u%s)", num,
                 b->dev->ops->queue_max_size, packed ? "" : ", power of two");
        return -EINVAL;
    }
    if (r->started && num != r->num)
        return -EBUSY;
    r->num = num;
    return 0;
}

int vu_set_vring_addr(struct vu_backend *b, const uint8_t *p)
{
    struct vu_ring *r = vu_ring_of(b, snap_get32(p));
    uint32_t flags = snap_get32(p + 4);
    uint64_t desc = snap_get64(p + 8), used = snap_get64(p + 16), avail = snap_get64(p + 24);
    uint64_t log = snap_get64(p + 32), gpa, min;
    bool log_used = flags & VU_VRING_F_LOG;

    if (!r)
        return -ERANGE;
    if (flags & ~VU_VRING_F_LOG) {
        virt_log(VIRT_LOG_ERR, "vhost-user: SET_VRING_ADDR flags %#x unknown", flags);
        return -EINVAL;
    }
    if (!b->mem.nregions) {
        virt_log(VIRT_LOG_ERR, "vhost-user: SET_VRING_ADDR before SET_MEM_TABLE");
        return -EPROTO;
    }
    /* Each area must at least begin inside guest memory; the full extent
     * is checked at start, when the size is certain. Packed (2.8.10): desc
     * is the descriptor ring, avail the driver and used the device event
     * suppression structure, 4 bytes each (what QEMU's vhost.c maps:
     * virtio_queue_get_avail_size / _used_size of a packed queue). */
    min = vu_is_packed(b) ? 4 : 6;
    if (vu_ua_to_gpa(b, desc, 16, &gpa) || vu_ua_to_gpa(b, avail, min, &gpa) ||
        vu_ua_to_gpa(b, used, min, &gpa)) {
        virt_log(VIRT_LOG_ERR, "vhost-user: ring address outside the memory table");
        return -EFAULT;
    }
    if (r->started && (desc != r->desc_ua || avail != r->avail_ua || used != r->used_ua))
        return -EBUSY;
    r->desc_ua = desc;
    r->used_ua = used;
    r->avail_ua = avail;
    r->has_addr = true;
    /* vhost-user.rst "Migration": "Modifications to "used" vring should be
     * marked if VHOST_VRING_F_LOG is part of ring's flags", at log_guest_addr
     * (which "might be outside the legal guest physical address range").
     * QEMU turns it on and off on a running ring (vhost_dev_set_log). */
    if (r->log_used != log_used || r->log_gpa != (log_used ? log : 0)) {
        r->log_used = log_used;
        r->log_gpa = log_used ? log : 0;
        if (r->started)
            vu_log_update(b);
    }
    return 0;
}

int vu_get_vring_base(struct vu_backend *b, struct vu_ring *r, uint32_t *base)
{
    if (r->started) {
        /* Stop: the device sleeps (vu_suspend saves this ring's next avail
         * index as its base, final: the ring is no longer processed), then
         * runs on with the rings still active, if any. */
        r->started = false;
        vu_update(b);
        vu_close(b, &r->kick_fd);
        vu_close(b, &r->call_fd);
        r->kick_polled = false;
        virt_log(VIRT_LOG_INFO, "vhost-user %s: ring %u stopped at base %#x", b->dev->ops->type,
                 (unsigned)(r - b->rings), r->base);
    }
    *base = r->base;
    return 0;
}

int vu_set_vring_fd(struct vu_backend *b, uint32_t req, uint64_t v, const int *fds, unsigned nfds,
                    unsigned *used_fds)
{
    bool nofd = v & VU_VRING_NOFD;
    struct vu_ring *r;

    if (v & ~(VU_VRING_IDX_MASK | VU_VRING_NOFD)) {
        virt_log(VIRT_LOG_ERR, "vhost-user: %s with reserved bits %#llx", vu_request_name(req),
                 (unsigned long long)v);
        return -EINVAL;
    }
    r = vu_ring_of(b, v & VU_VRING_IDX_MASK);
    if (!r)
        return -ERANGE;
    if (nfds != (nofd ? 0u : 1u)) {
        virt_log(VIRT_LOG_ERR, "vhost-user: %s with %u fds (no-fd flag %d)", vu_request_name(req),
                 nfds, nofd);
        return -EINVAL;
    }
    *used_fds = nofd ? 0 : 1;
    switch (req) {
    case VU_SET_VRING_KICK:
        vu_close(b, &r->kick_fd);
        r->kick_fd = nofd ? -1 : fds[0];
        r->kick_polled = nofd;
        r->started = true;
        return vu_update(b);
    default: {
        /* CALL / ERR may change while the ring runs (QEMU re-sends
         * SET_VRING_CALL when the guest masks its vector): the hooks that
         * signal them take fd_lock, so swap under it. */
        int *slot = req == VU_SET_VRING_CALL ? &r->call_fd : &r->err_fd;
        int old;

        virt_lock_acquire(&b->fd_lock);
        old = *slot;
        *slot = nofd ? -1 : fds[0];
        virt_lock_release(&b->fd_lock);
        vu_close(b, &old); /* out of every hook's reach */
        return 0;
    }
    }
}

void vu_rings_reset(struct vu_backend *b)
{
    unsigned i;

    for (i = 0; i < VU_MAX_RINGS; i++) {
        struct vu_ring *r = &b->rings[i];

        vu_close(b, &r->kick_fd);
        vu_close(b, &r->call_fd);
        vu_close(b, &r->err_fd);
        memset(r, 0, sizeof(*r));
        r->kick_fd = r->call_fd = r->err_fd = -1;
    }
}

/* RESET_DEVICE / RESET_OWNER: every ring stopped, the device reset. */
void vu_device_reset(struct vu_backend *b)
{
    vu_suspend(b); /* no hook may signal an fd closed below */
    vu_rings_reset(b);
    vu_inflight_drop(b); /* "reset all internal device state" */
    vu_update(b); /* stays asleep */
    vmmio_write(b->m, VIRTIO_MMIO_STATUS, 0, 4);
    b->has_features = false;
    b->features = 0;
    vu_log_update(b); /* LOG_ALL gone: logging off (the log stays mapped) */
}

/* ---- device state ---- */

static int vu_state_save(struct vu_backend *b, int fd)
{
    size_t need = snap_size(b->m, 0), len = 0;
    uint8_t *buf = virt_zalloc(need ? need : 1);
    int err;

    if (!buf) {
        vu_close(b, &fd);
        return -ENOMEM;
    }
    err = snap_save(b->m, 0, buf, need, &len);
    if (err) {
        virt_log(VIRT_LOG_ERR, "vhost-user: snapshot failed (%d)", err);
        vu_close(b, &fd);
        goto out;
    }
    err = b->ops->state_put ? b->ops->state_put(b->ctx, fd, buf, len) : -ENOSYS;
    if (err)
        virt_log(VIRT_LOG_ERR, "vhost-user: device state not sent (%d)", err);
    else
        virt_log(VIRT_LOG_INFO, "vhost-user: device state saved (%zu bytes)", len);
out:
    virt_free(buf);
    return err;
}

static int vu_state_load(struct vu_backend *b)
{
    uint8_t *buf = virt_zalloc(VU_STATE_MAX_BYTES);
    char why[128];
    size_t len = 0;
    int err, fd = b->state_fd;

    b->state_fd = -1;
    if (!buf) {
        vu_close(b, &fd);
        return -ENOMEM;
    }
    err =
        b->ops->state_get ? b->ops->state_get(b->ctx, fd, buf, VU_STATE_MAX_BYTES, &len) : -ENOSYS;
    if (err) {
        virt_log(VIRT_LOG_ERR, "vhost-user: device state not received (%d)", err);
        goto out;
    }
    why[0] = 0;
    err = snap_restore(b->m, buf, len, why, sizeof(why));
    if (err)
        virt_log(VIRT_LOG_ERR, "vhost-user: device state refused: %s", why);
    else
        virt_log(VIRT_LOG_INFO, "vhost-user: device state loaded (%zu bytes)", len);
out:
    virt_free(buf);
    return err;
}

static bool vu_is_any_started(const struct vu_backend *b)
{
    unsigned i;

    for (i = 0; i < b->nrings; i++)
        if (b->rings[i].started)
            return true;
    return false;
}

int vu_set_device_state_fd(struct vu_backend *b, const uint8_t *p, int fd)
{
    uint32_t dir = snap_get32(p), phase = snap_get32(p + 4);

    /* A transfer not collected by CHECK_DEVICE_STATE is dropped. */
    vu_close(b, &b->state_fd);
    b->state_dir = -1;
    if (phase != VU_STATE_PHASE_STOPPED || (dir != VU_STATE_SAVE && dir != VU_STATE_LOAD)) {
        virt_log(VIRT_LOG_ERR, "vhost-user: device state direction %u phase %u", dir, phase);
        vu_close(b, &fd);
        return -EINVAL;
    }
    if (vu_is_any_started(b) || !vmmio_is_asleep(b->m)) {
        virt_log(VIRT_LOG_ERR, "vhost-user: device state transfer with rings started");
        vu_close(b, &fd);
        return -EBUSY;
    }
    b->state_dir = (int)dir;
    if (dir == VU_STATE_SAVE) {
        b->state_result = vu_state_save(b, fd);
        return b->state_result;
    }
    b->state_fd = fd;
    b->state_result = -EINPROGRESS;
    return 0;
}

int vu_check_device_state(struct vu_backend *b)
{
    int err;

    if (b->state_dir < 0) {
        virt_log(VIRT_LOG_ERR, "vhost-user: CHECK_DEVICE_STATE without a transfer");
        return -EPROTO;
    }
    if (b->state_dir == VU_STATE_LOAD && b->state_fd >= 0)
        b->state_result = vu_state_load(b);
    err = b->state_result;
    b->state_dir = -1;
    return err;
}
