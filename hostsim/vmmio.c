/* SPDX-License-Identifier: Apache-2.0 */
/*
 * vmmio.c - a virtio-mmio version 2 register file in front of a vdev
 * (VIRTIO 1.2, 4.2.2 "MMIO Device Register Layout", 4.2.3 "MMIO-specific
 * Initialization And Device Operation"); see vmmio.h for the roles.
 *
 * This half: create/destroy, the device-side work (queue processing, the
 * concurrent per-queue variant, interrupts, DEVICE_NEEDS_RESET and broken
 * or stalled queues), sleep/wake, rebind and the snapshot state hooks. The
 * driver-facing register decoding and the Status state machine are in
 * vmmio_regs.c; the shared struct and the invariants in vmmio_internal.h.
 */
#include "vmmio.h"

#include <errno.h>
#include <string.h>

#include "vmmio_internal.h"
#include "virtio_mmio.h"
#include "virtio_platform.h"

/* Called by the vdev (with our lock held) when it raises an interrupt. */
static void vmmio_irq(struct vdev *d, uint32_t bits, void *ctx)
{
    struct vmmio *m = ctx;

    if (bits & VIRTIO_INT_CONFIG_CHANGE)
        m->st.config_generation++;
    /* Asleep: the bit stays in InterruptStatus and goes out at wake. */
    if (vdev_is_asleep(d))
        return;
    if (m->hooks.interrupt)
        m->hooks.interrupt(m, __atomic_load_n(&d->interrupt_status, __ATOMIC_RELAXED),
                           m->hooks.ctx);
}

/* The same for a used-buffer interrupt of queue qi (vdev irq_queue), for
 * an owner with a queue_interrupt hook: only that queue's interrupt goes
 * out (a vhost-user ring's call eventfd), not one for every queue. */
static void vmmio_irq_queue(struct vdev *d, unsigned qi, void *ctx)
{
    struct vmmio *m = ctx;

    if (vdev_is_asleep(d))
        return; /* the bit stays in InterruptStatus and goes out at wake */
    m->hooks.queue_interrupt(m, qi, m->hooks.ctx);
}

int vmmio_create(struct vdev *dev, const struct vmmio_hooks *hooks, struct vmmio **out)
{
    struct vmmio *m;

    if (!dev || !dev->ops || dev->ops->num_queues > VDEV_MAX_QUEUES || !out)
        return -EINVAL;
    m = virt_zalloc(sizeof(*m));
    if (!m)
        return -ENOMEM;
    m->dev = dev;
    if (hooks)
        m->hooks = *hooks;
    m->lock = (struct virt_lock)VIRT_LOCK_INIT;
    dev->irq = vmmio_irq;
    dev->irq_queue = m->hooks.queue_interrupt ? vmmio_irq_queue : NULL;
    dev->irq_ctx = m;
    *out = m;
    return 0;
}

void vmmio_destroy(struct vmmio *m)
{
    if (!m)
        return;
    m->dev->irq = NULL;
    m->dev->irq_queue = NULL;
    m->dev->irq_ctx = NULL;
    if (m->qiov) {
        memset(m->dev->qiov, 0, sizeof(m->dev->qiov));
        virt_free(m->qiov);
    }
    virt_free(m);
}

struct vdev *vmmio_vdev(struct vmmio *m)
{
    return m->dev;
}

/* Locked: 2.1.2 "the device SHOULD set DEVICE_NEEDS_RESET" then, once
 * DRIVER_OK was set, "MUST send a device configuration change notification". */
void vmmio_needs_reset(struct vmmio *m, bool quiet)
{
    if (m->st.device_status & VIRTIO_STATUS_DEVICE_NEEDS_RESET)
        return;
    m->st.device_status |= VIRTIO_STATUS_DEVICE_NEEDS_RESET;
    m->dev->needs_reset = true;
    m->stats.needs_reset++;
    if (!quiet) /* quiet: the caller's line said it */
        virt_log(VIRT_LOG_ERR, "vmmio %s: DEVICE_NEEDS_RESET", m->dev->ops->type);
    if (m->st.device_status & VIRTIO_STATUS_DRIVER_OK)
        vdev_signal_config(m->dev);
}

/* Locked: queue qi's ring is corrupt (vdq.h: no chain left to return).
 * Said once per queue (one line naming it and the reason, or the owner's
 * broken hook), then 2.1.2 DEVICE_NEEDS_RESET as above; the other queues
 * go on being served. */
static void vmmio_queue_broken(struct vmmio *m, unsigned qi)
{
    uint32_t a = 0, b = 0;
    const char *why = vdq_broken_reason(&m->dev->queues[qi].q, &a, &b);
    bool was_set = m->st.device_status & VIRTIO_STATUS_DEVICE_NEEDS_RESET;

    if (!(m->broken_told & (1u << qi))) {
        m->broken_told |= 1u << qi;
        if (!why)
            why = "queue processing failed";
        if (m->hooks.broken)
            m->hooks.broken(m, qi, why, a, b, m->hooks.ctx);
        else
            virt_log(VIRT_LOG_ERR, "vmmio %s: queue %u broken: %s (%u, %u)%s", m->dev->ops->type,
                     qi, why, a, b, was_set ? "" : ": DEVICE_NEEDS_RESET");
    }
    vmmio_needs_reset(m, true);
}

/* Queue qi's processing lock held: a queue with the corrupt_stall policy
 * (vdq.h; vhost-user, which has no DEVICE_NEEDS_RESET to set) began to
 * wait on a corrupt ring. Said once per stall through the owner's broken
 * hook (or one line); the queue is not broken and the status stays. */
static void vmmio_queue_stalled(struct vmmio *m, unsigned qi)
{
    const char *why;
    uint32_t a, b;

    if (!vdq_take_stall(&m->dev->queues[qi].q, &why, &a, &b))
        return;
    if (m->hooks.broken)
        m->hooks.broken(m, qi, why, a, b, m->hooks.ctx);
    else
        virt_log(VIRT_LOG_ERR, "vmmio %s: queue %u: %s (%u, %u): not consumed, waiting",
                 m->dev->ops->type, qi, why, a, b);
}

/* Locked: after activation, have the device CPU look at every ready queue
 * once, so buffers the driver made available before DRIVER_OK (e.g. RX
 * buffers) are seen without a kick. Not counted as kicks. */
void vmmio_poke_ready_queues(struct vmmio *m)
{
    unsigned qi;

    for (qi = 0; qi < m->dev->ops->num_queues; qi++) {
        if (!vdev_is_queue_live(m->dev, qi))
            continue;
        __atomic_fetch_or(&m->pending, 1u << qi, __ATOMIC_RELEASE);
        if (m->hooks.notify)
            m->hooks.notify(m, qi, m->hooks.ctx);
    }
}

bool vmmio_has_pending(struct vmmio *m)
{
    return !vdev_is_asleep(vmmio_dev_load(m)) &&
           __atomic_load_n(&m->pending, __ATOMIC_ACQUIRE) != 0;
}

/* With concurrent queues, the queue locks too (after lock, in order):
 * what changes every queue's state excludes their processing. */
static void vmmio_qlocks(struct vmmio *m, bool take)
{
    unsigned qi;

    if (!m->concurrent)
        return;
    for (qi = 0; qi < VDEV_MAX_QUEUES; qi++) {
        if (take)
            virt_lock_acquire(&m->qlock[qi]);
        else
            virt_lock_release(&m->qlock[VDEV_MAX_QUEUES - 1 - qi]);
    }
}

void vmmio_sleep(struct vmmio *m)
{
    /* Taking the locks waits for queue processing in progress: models
     * complete every chain they pop before returning, or (asynchronous
     * storage, VDEV_CHAIN_PENDING) in ops->quiesce, which vdev_sleep()
     * calls while we hold them; so afterwards nothing is in flight and
     * nothing will run until vmmio_wake(). */
    virt_lock_acquire(&m->lock);
    vmmio_qlocks(m, true);
    vdev_sleep(m->dev);
    vmmio_qlocks(m, false);
    virt_lock_release(&m->lock);
}

int vmmio_set_concurrent(struct vmmio *m)
{
    unsigned qi;

    if (m->concurrent)
        return 0;
    m->qiov = virt_zalloc(sizeof(*m->qiov) * VDEV_MAX_QUEUES * VDEV_MAX_IOV);
    if (!m->qiov)
        return -ENOMEM;
    virt_lock_acquire(&m->lock);
    for (qi = 0; qi < VDEV_MAX_QUEUES; qi++) {
        m->qlock[qi] = (struct virt_lock)VIRT_LOCK_INIT;
        m->dev->qiov[qi] = m->qiov + (size_t)qi * VDEV_MAX_IOV;
    }
    m->concurrent = true;
    virt_lock_release(&m->lock);
    return 0;
}

/* One round of queue qi under its own lock: chains completed, -EIO when
 * the ring is corrupt; *more: it stopped at its budget. */
static int vmmio_queue_round(struct vmmio *m, unsigned qi, bool *more)
{
    struct vdev *d;
    uint32_t bit = 1u << qi;
    int n = 0;

    *more = false;
    virt_lock_acquire(&m->qlock[qi]);
    d = m->dev;
    /* Acquire: pairs with the release in vmmio_notify(). */
    if (!vdev_is_asleep(d) && (__atomic_fetch_and(&m->pending, ~bit, __ATOMIC_ACQUIRE) & bit) &&
        vdev_is_queue_live(d, qi)) {
        n = d->ops->process_queue(d, qi);
        vmmio_queue_stalled(m, qi);
        if (__atomic_fetch_and(&d->more_work, ~bit, __ATOMIC_RELAXED) & bit) {
            __atomic_fetch_or(&m->pending, bit, __ATOMIC_RELAXED);
            *more = true;
        }
    }
    virt_lock_release(&m->qlock[qi]);
    return n;
}

int vmmio_process_queue(struct vmmio *m, unsigned qi)
{
    int total = 0, n;
    bool more = true;

    if (!m->concurrent || m->dev->hostile)
        return vmmio_process(m); /* hostile state is shared by every queue */
    if (qi >= m->dev->ops->num_queues)
        return 0;
    while (more) {
        n = vmmio_queue_round(m, qi, &more);
        if (n < 0) {
            /* Corrupt ring: said and DEVICE_NEEDS_RESET under the register
             * lock (lock, then the queue's lock: the order sleep uses). */
            virt_lock_acquire(&m->lock);
            virt_lock_acquire(&m->qlock[qi]);
            vmmio_queue_broken(m, qi);
            virt_lock_release(&m->qlock[qi]);
            virt_lock_release(&m->lock);
            break;
        }
        total += n;
    }
    return total;
}

void vmmio_wake(struct vmmio *m)
{
    struct vdev *d = m->dev;
    uint32_t int_status;

    virt_lock_acquire(&m->lock);
    if (!vdev_is_asleep(d)) {
        virt_lock_release(&m->lock);
        return;
    }
    vmmio_qlocks(m, true);
    vdev_wake(d); /* re-enables notifications: avail_event re-published */
    /* An interrupt held while asleep (or restored unacknowledged) goes out
     * now: a spurious one is harmless, a lost one stalls the driver. */
    int_status = __atomic_load_n(&d->interrupt_status, __ATOMIC_ACQUIRE);
    if (int_status && m->hooks.interrupt)
        m->hooks.interrupt(m, int_status, m->hooks.ctx);
    /* Every live queue is processed once: kicks that came while asleep,
     * or were lost across a snapshot, cannot stall it. */
    vmmio_poke_ready_queues(m);
    vmmio_qlocks(m, false);
    virt_lock_release(&m->lock);
}

struct vdev *vmmio_rebind(struct vmmio *m, struct vdev *dev)
{
    struct vdev *old;

    if (!dev || !dev->ops || dev->ops->num_queues > VDEV_MAX_QUEUES)
        return NULL;
    vdev_sleep(dev); /* a new instance starts asleep: restore, then wake */
    virt_lock_acquire(&m->lock);
    old = m->dev;
    dev->irq = vmmio_irq;
    dev->irq_queue = m->hooks.queue_interrupt ? vmmio_irq_queue : NULL;
    dev->irq_ctx = m;
    memset(&m->st, 0, sizeof(m->st));
    m->logged = 0;
    m->broken_told = 0;
    /* Release: the new device's state before the pointer; the lock-free
     * paths (QueueNotify, InterruptStatus/ACK) load it with acquire. */
    __atomic_store_n(&m->dev, dev, __ATOMIC_RELEASE);
    virt_lock_release(&m->lock);
    old->irq = NULL;
    old->irq_queue = NULL;
    old->irq_ctx = NULL;
    return old;
}

bool vmmio_is_asleep(const struct vmmio *m)
{
    return vdev_is_asleep(vmmio_dev_load(m));
}

int vmmio_run_locked_state(struct vmmio *m,
                           int (*fn)(struct vdev *d, struct vmmio_transport_state *st, void *arg),
                           void *arg)
{
    struct vmmio_transport_state st;
    int ret;

    virt_lock_acquire(&m->lock);
    st = m->st;
    st.interrupt_status = __atomic_load_n(&m->dev->interrupt_status, __ATOMIC_ACQUIRE);
    ret = fn(m->dev, &st, arg);
    if (ret > 0) {
        m->st = st;
        m->st.interrupt_status = 0; /* lives in dev */
        __atomic_store_n(&m->dev->interrupt_status, st.interrupt_status, __ATOMIC_RELEASE);
        __atomic_store_n(&m->pending, 0, __ATOMIC_RELAXED);
        __atomic_store_n(&m->dev->more_work, 0, __ATOMIC_RELAXED);
        ret = 0;
    }
    virt_lock_release(&m->lock);
    return ret;
}

int vmmio_process(struct vmmio *m)
{
    struct vdev *d = m->dev;
    uint32_t pending;
    unsigned qi;
    int total = 0;

    virt_lock_acquire(&m->lock);
    /* Asleep: kicks stay pending until vmmio_wake(). */
    if (vdev_is_asleep(d)) {
        virt_lock_release(&m->lock);
        return 0;
    }
    /* Acquire: pairs with the release in vmmio_notify(). */
    pending = __atomic_exchange_n(&m->pending, 0, __ATOMIC_ACQUIRE);
    if (!pending) {
        virt_lock_release(&m->lock);
        return 0;
    }
    for (qi = 0; qi < d->ops->num_queues; qi++) {
        int n;

        if (!(pending & (1u << qi)) || !vdev_is_queue_live(d, qi))
            continue; /* 4.2.2: never touch a queue that is not ready */
        if (m->concurrent)
            virt_lock_acquire(&m->qlock[qi]); /* a worker may be on it */
        n = d->ops->process_queue(d, qi);
        vmmio_queue_stalled(m, qi);
        if (n < 0)
            vmmio_queue_broken(m, qi); /* corrupt ring: the queue is broken */
        else
            total += n;
        if (m->concurrent)
            virt_lock_release(&m->qlock[qi]);
    }
    /* Queues that stopped at their budget go round again; the device CPU
     * sees them through vmmio_has_pending() (no doorbell needed: it is us). */
    pending = __atomic_exchange_n(&d->more_work, 0, __ATOMIC_RELAXED);
    if (pending)
        __atomic_fetch_or(&m->pending, pending, __ATOMIC_RELAXED);
    virt_lock_release(&m->lock);
    return total;
}

void vmmio_config_changed(struct vmmio *m)
{
    virt_lock_acquire(&m->lock);
    vdev_signal_config(m->dev); /* vmmio_irq() bumps the generation */
    virt_lock_release(&m->lock);
}

void vmmio_run_locked(struct vmmio *m, void (*fn)(struct vdev *d, void *arg), void *arg)
{
    virt_lock_acquire(&m->lock);
    fn(m->dev, arg);
    virt_lock_release(&m->lock);
}

/* Unlocked copy: take it while the device is quiesced (snapshots). */
void vmmio_get_state(const struct vmmio *m, struct vmmio_transport_state *st)
{
    *st = m->st;
    st->interrupt_status = __atomic_load_n(&m->dev->interrupt_status, __ATOMIC_RELAXED);
}

void vmmio_get_stats(const struct vmmio *m, struct vmmio_stats *st)
{
    *st = m->stats;
}
