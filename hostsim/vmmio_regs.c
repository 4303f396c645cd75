/* SPDX-License-Identifier: Apache-2.0 */
/*
 * vmmio_regs.c - the driver-facing half of the virtio-mmio v2 register file
 * (VIRTIO 1.2, 4.2.2 "MMIO Device Register Layout"): vmmio_read() and
 * vmmio_write() decoding of the control registers and config space,
 * QueueNotify, and the Status state machine (3.1.1 sequence, FEATURES_OK
 * check, reset, activation at DRIVER_OK). Lifecycle and queue processing
 * are in vmmio.c; the shared struct and the invariants in vmmio_internal.h.
 *
 * What the driver gets wrong is never fatal: a bad access (unknown offset,
 * size other than 4 on a control register, misaligned, out of config
 * bounds, reading a W register or writing an R one) reads 0 / is dropped;
 * a valid write at the wrong moment (queue registers after DRIVER_OK or on
 * a ready queue, DriverFeatures after FEATURES_OK, a Status write that
 * breaks the 3.1.1 sequence) is ignored. Each is counted in vmmio_stats
 * and each kind is logged the first time only.
 */
#include "vmmio.h"

#include <string.h>

#include "hostile.h"
#include "vmmio_internal.h"
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

static void vmmio_note(struct vmmio *m, uint64_t *counter, enum vmmio_log_kind kind,
                       const char *what, uint32_t offset, uint32_t value)
{
    __atomic_fetch_add(counter, 1, __ATOMIC_RELAXED);
    if (__atomic_fetch_or(&m->logged, 1u << kind, __ATOMIC_RELAXED) & (1u << kind))
        return;
    virt_log(VIRT_LOG_WARN, "vmmio %s: %s at %#x (value %#x); further ones only counted",
             m->dev->ops->type, what, offset, value);
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
