/* SPDX-License-Identifier: Apache-2.0 */
/*
 * vmmio_internal.h - what the two halves of the virtio-mmio register file
 * share: the struct behind the opaque struct vmmio and the few helpers one
 * half calls in the other. vmmio.c holds the lifecycle and the device-side
 * queue processing; vmmio_regs.c the driver-facing register decoding and
 * the Status state machine. Only for hostsim/vmmio*.c: the API is vmmio.h.
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
#ifndef RINGLOOP_VMMIO_INTERNAL_H
#define RINGLOOP_VMMIO_INTERNAL_H

#include <stdbool.h>
#include <stdint.h>

#include "vmmio.h"
#include "virtio_platform.h"

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
static inline struct vdev *vmmio_dev_load(const struct vmmio *m)
{
    return __atomic_load_n(&m->dev, __ATOMIC_ACQUIRE);
}

/* In vmmio.c, also called from vmmio_regs.c; both with m->lock held. */
void vmmio_needs_reset(struct vmmio *m, bool quiet);
void vmmio_poke_ready_queues(struct vmmio *m);

#endif
