/* SPDX-License-Identifier: Apache-2.0 */
/*
 * vmmio.c - a virtio-mmio version 2 register file in front of a vdev
 * (VIRTIO 1.2, 4.2.2 "MMIO Device Register Layout", 4.2.3 "MMIO-specific
 * Initialization And Device Operation"); see vmmio.h for the roles.
 *
 * What the driver gets wrong is never fatal: a bad access (unknown offset,
 * size other than 4 on a control register, misaligned, out of config
 * bounds, reading a W register or writing an R one) reads 0 / is dropped;
 * a valid write at the wrong moment (queue registers after DRIVER_OK or on
 * a ready queue, DriverFeatures after FEATURES_OK, a Status write that
 * breaks the 3.1.1 sequence) is ignored. Each is counted in vmmio_stats
 * and each kind is logged the first time only.
 *
 * Invariants:
 *  - every register access except QueueNotify, InterruptStatus and
 *    InterruptACK, and vmmio_process(), run under m->lock; QueueNotify only
 *    sets a bit in m->pending (atomic) and rings hooks.notify, so no queue
 *    work ever runs on the driver's CPU; InterruptStatus/ACK are atomic on
 *    dev->interrupt_status so a driver interrupt handler may use them even
 *    when it interrupted its own CPU inside a locked register access (the
 *    lock does not mask interrupts);
 *  - st.device_status only gains bits through the 3.1.1 sequence
 *    ACKNOWLEDGE -> DRIVER -> FEATURES_OK -> DRIVER_OK (FAILED at any time,
 *    DEVICE_NEEDS_RESET only from the device) and returns to 0 by reset;
 *  - the queue registers change only while FEATURES_OK is set and
 *    DRIVER_OK is not (3.1.1 step 7), and QueueNum / the addresses only
 *    while that queue is not ready (4.2.2: "When QueueReady is not zero,
 *    the driver MUST NOT access QueueNum, QueueDesc*...");
 *  - config_generation changes with every config-change interrupt and is
 *    never reset, so a driver can never see the same generation around a
 *    change (4.2.2 ConfigGeneration, 2.5.1).
 */
#include "vmmio.h"

#include <errno.h>
#include <string.h>

#include "hostile.h"
#include "virtio_mmio.h"
#include "virtio_platform.h"

/* 4.2.2 registers not in virtio_mmio.h (we have no shared memory regions). */
#define VMMIO_SHM_LEN_LOW 0x0b0
#define VMMIO_SHM_LEN_HIGH 0x0b4
#define VMMIO_SHM_BASE_LOW 0x0b8
#define VMMIO_SHM_BASE_HIGH 0x0bc
#define VMMIO_VENDOR_ID 0x706f6c72u /* "rlop" */

#define VMMIO_STATUS_DRIVER_BITS                                                                   \
    (VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER | VIRTIO_STATUS_FEATURES_OK |                \
     VIRTIO_STATUS_DRIVER_OK)

enum vmmio_log_kind { LOG_BAD_READ, LOG_BAD_WRITE, LOG_IGNORED, LOG_STATUS, LOG_FEATURES };

struct vmmio {
    struct vdev *dev;
    struct vmmio_hooks hooks;
    struct virt_lock lock;
    uint32_t pending;                /* queues notified, not processed yet (atomic) */
    uint32_t logged;                 /* vmmio_log_kind bits already logged */
    uint32_t broken_told;            /* queues reported broken since the last reset */
    struct vmmio_transport_state st; /* interrupt_status lives in dev */
    struct vmmio_stats stats;
    /* vmmio_set_concurrent: queue qi is processed under qlock[qi] (with or
     * without lock), each queue with its own chain scratch. */
    bool concurrent;
    struct virt_lock qlock[VDEV_MAX_QUEUES];
    struct vdq_iov *qiov; /* VDEV_MAX_QUEUES * VDEV_MAX_IOV */
};

/* The device, from a lock-free path (vmmio_rebind() may replace it);
 * acquire pairs with its release store. */
static struct vdev *vmmio_dev_load(const struct vmmio *m)
{
    return __atomic_load_n(&m->dev, __ATOMIC_ACQUIRE);
}

static void vmmio_note(struct vmmio *m, uint64_t *counter, enum vmmio_log_kind kind,
                       const char *what, uint32_t offset, uint32_t value)
{
    __atomic_fetch_add(counter, 1, __ATOMIC_RELAXED);
    if (__atomic_fetch_or(&m->logged, 1u << kind, __ATOMIC_RELAXED) & (1u << kind))
        return;
    virt_log(VIRT_LOG_WARN, "vmmio %s: %s at %#x (value %#x); further ones only counted",
             m->dev->ops->type, what, offset, value);
}

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
    dev->irq_ctx = m;
    *out = m;
    return 0;
}

void vmmio_destroy(struct vmmio *m)
{
    if (!m)
        return;
    m->dev->irq = NULL;
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
static void vmmio_needs_reset(struct vmmio *m, bool quiet)
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

/* Locked: Status = 0 (4.2.2 "Writing zero (0x0) to this register triggers
 * a device reset"; "Upon reset, the device MUST clear all bits in
 * InterruptStatus and ready bits in the QueueReady register"). */
static void vmmio_reset(struct vmmio *m)
{
    uint32_t gen = m->st.config_generation;

    vdev_reset(m->dev);
    memset(&m->st, 0, sizeof(m->st));
    m->st.config_generation = gen;
    __atomic_store_n(&m->pending, 0, __ATOMIC_RELAXED);
    __atomic_store_n(&m->dev->more_work, 0, __ATOMIC_RELAXED);
    m->broken_told = 0;
    m->stats.resets++;
}

static bool vmmio_has_status(const struct vmmio *m, uint32_t bits)
{
    return (m->st.device_status & bits) == bits;
}

/* 6.1 / 2.2.2: the driver may accept only offered features, and a modern
 * (MMIO v2) driver MUST accept VERSION_1. */
static bool vmmio_is_features_ok(const struct vmmio *m)
{
    const struct vdev *d = m->dev;

    return (d->acked_features & ~d->avail_features) == 0 && vdev_has_feature(d, VIRTIO_F_VERSION_1);
}

/* Locked: after activation, have the device CPU look at every ready queue
 * once, so buffers the driver made available before DRIVER_OK (e.g. RX
 * buffers) are seen without a kick. Not counted as kicks. */
static void vmmio_poke_ready_queues(struct vmmio *m)
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

/* Locked: a non-zero Status write. 3.1.1: ACKNOWLEDGE, DRIVER, FEATURES_OK
 * (then re-read), DRIVER_OK; FAILED may come at any point. */
static void vmmio_status_write(struct vmmio *m, uint32_t v, uint32_t offset)
{
    uint32_t old = m->st.device_status;
    uint32_t keep = old & VIRTIO_STATUS_DEVICE_NEEDS_RESET; /* device-owned bit */
    uint32_t added;

    v &= ~(uint32_t)VIRTIO_STATUS_DEVICE_NEEDS_RESET;
    if (v & VIRTIO_STATUS_FAILED) {
        /* 2.1: the driver gave up on the device; keep what it had. */
        m->st.device_status = old | VIRTIO_STATUS_FAILED;
        return;
    }
    added = v & ~old;
    if ((old & VMMIO_STATUS_DRIVER_BITS & ~v) || (v & ~VMMIO_STATUS_DRIVER_BITS) ||
        ((v & VIRTIO_STATUS_DRIVER) && !(v & VIRTIO_STATUS_ACKNOWLEDGE)) ||
        ((v & VIRTIO_STATUS_FEATURES_OK) && !(v & VIRTIO_STATUS_DRIVER)) ||
        ((v & VIRTIO_STATUS_DRIVER_OK) && !(v & VIRTIO_STATUS_FEATURES_OK))) {
        vmmio_note(m, &m->stats.status_refused, LOG_STATUS,
                   "status write out of the 3.1.1 sequence", offset, v);
        return;
    }
    if ((added & VIRTIO_STATUS_FEATURES_OK) && !vmmio_is_features_ok(m)) {
        /* 3.1.1 step 6: the device refuses by not keeping FEATURES_OK. */
        vmmio_note(m, &m->stats.features_refused, LOG_FEATURES,
                   "FEATURES_OK refused (unoffered feature or no VERSION_1)", offset, v);
        v &= ~(uint32_t)(VIRTIO_STATUS_FEATURES_OK | VIRTIO_STATUS_DRIVER_OK);
        added = v & ~old;
    }
    m->st.device_status = v | keep;
    if (added & VIRTIO_STATUS_DRIVER_OK) {
        if (vdev_activate(m->dev) != 0) {
            m->stats.activate_failed++;
            vmmio_needs_reset(m, false);
            return;
        }
        vmmio_poke_ready_queues(m);
    }
}

/* May the driver change queue registers now? (3.1.1 step 7 happens between
 * FEATURES_OK and DRIVER_OK; 4.2.2: not while the queue is ready.) */
static struct vdev_queue *vmmio_queue_writable(struct vmmio *m, bool need_not_ready)
{
    struct vdev_queue *vq;

    if (!vmmio_has_status(m, VIRTIO_STATUS_FEATURES_OK) ||
        (m->st.device_status &
         (VIRTIO_STATUS_DRIVER_OK | VIRTIO_STATUS_FAILED | VIRTIO_STATUS_DEVICE_NEEDS_RESET)))
        return NULL;
    if (m->st.queue_select >= m->dev->ops->num_queues)
        return NULL;
    vq = &m->dev->queues[m->st.queue_select];
    if (need_not_ready && vq->ready)
        return NULL;
    return vq;
}

static struct vdev_queue *vmmio_selected(struct vmmio *m)
{
    if (m->st.queue_select >= m->dev->ops->num_queues)
        return NULL;
    return &m->dev->queues[m->st.queue_select];
}

static void vmmio_set_half(uint64_t *v, uint32_t half, bool high)
{
    if (high)
        *v = (*v & 0xffffffffull) | ((uint64_t)half << 32);
    else
        *v = (*v & ~0xffffffffull) | half;
}

static uint32_t vmmio_config_read(struct vmmio *m, uint32_t off, unsigned size)
{
    const struct vdev_ops *ops = m->dev->ops;
    uint32_t v = 0;

    /* 4.2.2: config space allows 8/16/32-bit accesses, byte-aligned. */
    if ((size != 1 && size != 2 && size != 4) || off > ops->config_size ||
        size > ops->config_size - off || !ops->read_config) {
        vmmio_note(m, &m->stats.bad_reads, LOG_BAD_READ, "bad config read",
                   VIRTIO_MMIO_CONFIG + off, size);
        return 0;
    }
    virt_lock_acquire(&m->lock);
    ops->read_config(m->dev, off, &v, size); /* little-endian host: low bytes */
    hostile_config_read(m->dev, off, &v, size);
    virt_lock_release(&m->lock);
    return v;
}

static void vmmio_config_write(struct vmmio *m, uint32_t off, uint32_t value, unsigned size)
{
    const struct vdev_ops *ops = m->dev->ops;

    if ((size != 1 && size != 2 && size != 4) || off > ops->config_size ||
        size > ops->config_size - off) {
        vmmio_note(m, &m->stats.bad_writes, LOG_BAD_WRITE, "bad config write",
                   VIRTIO_MMIO_CONFIG + off, value);
        return;
    }
    if (!ops->write_config) {
        vmmio_note(m, &m->stats.ignored_writes, LOG_IGNORED, "config is read-only",
                   VIRTIO_MMIO_CONFIG + off, value);
        return;
    }
    virt_lock_acquire(&m->lock);
    ops->write_config(m->dev, off, &value, size);
    virt_lock_release(&m->lock);
}

/* Locked: a control register read; false if there is no such readable one. */
static bool vmmio_reg_read(struct vmmio *m, uint32_t offset, uint32_t *v)
{
    struct vdev *d = m->dev;
    struct vdev_queue *vq = vmmio_selected(m);

    switch (offset) {
    case VIRTIO_MMIO_MAGIC_VALUE:
        *v = VIRTIO_MMIO_MAGIC;
        return true;
    case VIRTIO_MMIO_VERSION:
        *v = VIRTIO_MMIO_VERSION_2;
        return true;
    case VIRTIO_MMIO_DEVICE_ID:
        *v = d->ops->device_id;
        return true;
    case VIRTIO_MMIO_VENDOR_ID:
        *v = VMMIO_VENDOR_ID;
        return true;
    case VIRTIO_MMIO_DEVICE_FEATURES:
        /* 4.2.2: bits (32 * DeviceFeaturesSel) .. +31; none above 63. */
        if (m->st.features_select > 1)
            *v = 0;
        else
            *v = (uint32_t)(d->avail_features >> (32 * m->st.features_select));
        return true;
    case VIRTIO_MMIO_QUEUE_NUM_MAX:
        /* 4.2.2: 0 if the selected queue is not available. */
        *v = vq ? vq->max_size : 0;
        return true;
    case VIRTIO_MMIO_QUEUE_READY:
        *v = vq ? vq->ready : 0;
        return true;
    case VIRTIO_MMIO_STATUS:
        *v = m->st.device_status;
        return true;
    case VMMIO_SHM_LEN_LOW:
    case VMMIO_SHM_LEN_HIGH:
    case VMMIO_SHM_BASE_LOW:
    case VMMIO_SHM_BASE_HIGH:
        *v = 0xffffffffu; /* 4.2.2: no such region: length and base are -1 */
        return true;
    case VIRTIO_MMIO_QUEUE_RESET:
        *v = 0; /* VIRTIO_F_RING_RESET is not offered */
        return true;
    case VIRTIO_MMIO_CONFIG_GENERATION:
        *v = m->st.config_generation;
        return true;
    default:
        return false; /* unknown, or a write-only register */
    }
}

uint32_t vmmio_read(struct vmmio *m, uint32_t offset, unsigned size)
{
    uint32_t v = 0;
    bool ok;

    if (offset >= VIRTIO_MMIO_CONFIG)
        return vmmio_config_read(m, offset - VIRTIO_MMIO_CONFIG, size);
    /* 4.2.2: control registers are 32-bit wide and aligned. */
    if (size != 4 || (offset & 3)) {
        vmmio_note(m, &m->stats.bad_reads, LOG_BAD_READ, "bad register read size", offset, size);
        return 0;
    }
    if (offset == VIRTIO_MMIO_INTERRUPT_STATUS) {
        /* Lock-free: the driver's interrupt handler reads it, possibly
         * while its CPU holds our lock in an interrupted register access.
         * Acquire pairs with the fetch_or in vdev_raise(). */
        return __atomic_load_n(&vmmio_dev_load(m)->interrupt_status, __ATOMIC_ACQUIRE);
    }
    virt_lock_acquire(&m->lock);
    ok = vmmio_reg_read(m, offset, &v);
    v = hostile_reg_read(m->dev, offset, v);
    virt_lock_release(&m->lock);
    if (!ok)
        vmmio_note(m, &m->stats.bad_reads, LOG_BAD_READ, "read of no readable register", offset,
                   size);
    return v;
}

/* 4.2.3.3 (Available Buffer Notifications): without NOTIFICATION_DATA the
 * value is the queue index. No lock, no queue work: mark and ring. */
static void vmmio_notify(struct vmmio *m, uint32_t value)
{
    struct vdev *d = vmmio_dev_load(m);

    __atomic_fetch_add(&m->stats.notifies, 1, __ATOMIC_RELAXED);
    if (value >= d->ops->num_queues) {
        vmmio_note(m, &m->stats.ignored_writes, LOG_IGNORED, "notify of no such queue",
                   VIRTIO_MMIO_QUEUE_NOTIFY, value);
        return;
    }
    __atomic_fetch_add(&d->queues[value].stats.kicks, 1, __ATOMIC_RELAXED);
    /* Release: the driver's ring writes (already ordered before its kick)
     * stay ordered before the bit; pairs with the acquire exchange in
     * vmmio_process(). */
    __atomic_fetch_or(&m->pending, 1u << value, __ATOMIC_RELEASE);
    if (m->hooks.notify)
        m->hooks.notify(m, value, m->hooks.ctx);
}

/* Locked: a control register write; false if there is no such writable one. */
static bool vmmio_reg_write(struct vmmio *m, uint32_t offset, uint32_t v)
{
    struct vdev *d = m->dev;
    struct vdev_queue *vq;
    bool high = offset & 4;

    switch (offset) {
    case VIRTIO_MMIO_DEVICE_FEATURES_SEL:
        m->st.features_select = v;
        return true;
    case VIRTIO_MMIO_DRIVER_FEATURES_SEL:
        m->st.acked_features_select = v;
        return true;
    case VIRTIO_MMIO_DRIVER_FEATURES:
        /* 3.1.1 step 5: between DRIVER and FEATURES_OK only. */
        if (!vmmio_has_status(m, VIRTIO_STATUS_DRIVER) ||
            (m->st.device_status & (VIRTIO_STATUS_FEATURES_OK | VIRTIO_STATUS_FAILED)) ||
            m->st.acked_features_select > 1) {
            if (v != 0 || m->st.acked_features_select <= 1)
                vmmio_note(m, &m->stats.ignored_writes, LOG_IGNORED, "DriverFeatures write ignored",
                           offset, v);
            return true;
        }
        vmmio_set_half(&d->acked_features, v, m->st.acked_features_select == 1);
        return true;
    case VIRTIO_MMIO_QUEUE_SEL:
        m->st.queue_select = v;
        return true;
    case VIRTIO_MMIO_QUEUE_NUM:
        vq = vmmio_queue_writable(m, true);
        if (!vq)
            goto ignored;
        /* Checked against QueueNumMax at DRIVER_OK; 0 marks a bad value. */
        vq->size = v > 0xffff ? 0 : (uint16_t)v;
        return true;
    case VIRTIO_MMIO_QUEUE_READY:
        vq = vmmio_queue_writable(m, false);
        if (!vq || v > 1)
            goto ignored;
        vq->ready = v == 1;
        return true;
    case VIRTIO_MMIO_QUEUE_DESC_LOW:
    case VIRTIO_MMIO_QUEUE_DESC_HIGH:
        vq = vmmio_queue_writable(m, true);
        if (!vq)
            goto ignored;
        vmmio_set_half(&vq->desc_gpa, v, high);
        return true;
    case VIRTIO_MMIO_QUEUE_DRIVER_LOW:
    case VIRTIO_MMIO_QUEUE_DRIVER_HIGH:
        vq = vmmio_queue_writable(m, true);
        if (!vq)
            goto ignored;
        vmmio_set_half(&vq->avail_gpa, v, high);
        return true;
    case VIRTIO_MMIO_QUEUE_DEVICE_LOW:
    case VIRTIO_MMIO_QUEUE_DEVICE_HIGH:
        vq = vmmio_queue_writable(m, true);
        if (!vq)
            goto ignored;
        vmmio_set_half(&vq->used_gpa, v, high);
        return true;
    case VIRTIO_MMIO_STATUS:
        if (v == 0)
            vmmio_reset(m);
        else
            vmmio_status_write(m, v, offset);
        return true;
    case VIRTIO_MMIO_SHM_SEL:
        return true; /* no regions: reads of SHMLen/Base say so */
    case VIRTIO_MMIO_QUEUE_RESET:
        goto ignored; /* VIRTIO_F_RING_RESET is not offered */
    default:
        return false; /* unknown, or a read-only register */
    }

ignored:
    vmmio_note(m, &m->stats.ignored_writes, LOG_IGNORED, "queue register write at the wrong moment",
               offset, v);
    return true;
}

void vmmio_write(struct vmmio *m, uint32_t offset, uint32_t value, unsigned size)
{
    bool ok;

    if (offset >= VIRTIO_MMIO_CONFIG) {
        vmmio_config_write(m, offset - VIRTIO_MMIO_CONFIG, value, size);
        return;
    }
    if (size != 4 || (offset & 3)) {
        vmmio_note(m, &m->stats.bad_writes, LOG_BAD_WRITE, "bad register write size", offset,
                   value);
        return;
    }
    if (offset == VIRTIO_MMIO_QUEUE_NOTIFY) {
        vmmio_notify(m, value);
        return;
    }
    if (offset == VIRTIO_MMIO_INTERRUPT_ACK) {
        /* 4.2.2: the acked events stop being presented. Lock-free, like
         * the InterruptStatus read, for interrupt handlers. */
        __atomic_fetch_and(&vmmio_dev_load(m)->interrupt_status, ~value, __ATOMIC_ACQ_REL);
        return;
    }
    virt_lock_acquire(&m->lock);
    ok = vmmio_reg_write(m, offset, value);
    virt_lock_release(&m->lock);
    if (!ok)
        vmmio_note(m, &m->stats.bad_writes, LOG_BAD_WRITE, "write of no writable register", offset,
                   value);
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
    dev->irq_ctx = m;
    memset(&m->st, 0, sizeof(m->st));
    m->logged = 0;
    m->broken_told = 0;
    /* Release: the new device's state before the pointer; the lock-free
     * paths (QueueNotify, InterruptStatus/ACK) load it with acquire. */
    __atomic_store_n(&m->dev, dev, __ATOMIC_RELEASE);
    virt_lock_release(&m->lock);
    old->irq = NULL;
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
