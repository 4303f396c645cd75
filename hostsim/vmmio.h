/* SPDX-License-Identifier: Apache-2.0 */
/*
 * vmmio.h - a virtio-mmio version 2 register file in front of a vdev
 * (VIRTIO 1.2 4.2.2; register offsets in drivers/virtio/virtio_mmio.h), the
 * device side of the in-image loopback transport: the driver's loopback
 * transport calls vmmio_read()/vmmio_write() where a real MMIO transport
 * would load/store. The state kept here is real transport state, the fields
 * Firecracker's MmioTransportState saves: features_select,
 * acked_features_select, queue_select, device_status, config_generation,
 * interrupt_status.
 *
 * Concurrency: register accesses come from the driver's CPU; queue work
 * runs on the device CPU in vmmio_process(). A lock inside serialises them,
 * except QueueNotify, InterruptStatus and InterruptACK, which are lock-free
 * and so safe from the driver's interrupt handler.
 * QueueNotify does no work on the driver's CPU: it marks the queue pending
 * and calls hooks.notify (the doorbell: an IPI or a flag the device CPU
 * polls). Interrupts go out through hooks.interrupt with the
 * InterruptStatus bits already set, from the device CPU, with the lock
 * held: the hooks must not call back into vmmio_* (send the IPI / set the
 * flag and return).
 */
#ifndef RINGLOOP_VMMIO_H
#define RINGLOOP_VMMIO_H

#include <stdbool.h>
#include <stdint.h>

#include "vdev.h"

struct vmmio;

struct vmmio_hooks {
    void (*notify)(struct vmmio *m, unsigned queue, void *ctx);
    void (*interrupt)(struct vmmio *m, uint32_t int_status, void *ctx);
    void *ctx;
    /* Optional: a used-buffer interrupt for queue qi alone (same rules as
     * interrupt; while asleep it is held and goes out through interrupt
     * at wake). Without it, interrupt gets every one. */
    void (*queue_interrupt)(struct vmmio *m, unsigned qi, void *ctx);
    /* Optional: queue went broken (a corrupt ring, vdq.h), why and the two
     * values that showed it; called once per queue until the next reset,
     * from vmmio_process() with the lock held (same rules as interrupt).
     * DEVICE_NEEDS_RESET is set either way; with this hook the owner
     * reports the queue (one line), without it vmmio logs that line.
     * Also called, with only that queue's processing lock held and
     * without DEVICE_NEEDS_RESET, for each new stall of a queue with the
     * vdq corrupt_stall policy (vdq.h; vdq_is_broken() then false). */
    void (*broken)(struct vmmio *m, unsigned queue, const char *why, uint32_t a, uint32_t b,
                   void *ctx);
};

struct vmmio_transport_state {
    uint32_t features_select;
    uint32_t acked_features_select;
    uint32_t queue_select;
    uint32_t device_status;
    uint32_t config_generation;
    uint32_t interrupt_status;
};

int vmmio_create(struct vdev *dev, const struct vmmio_hooks *hooks, struct vmmio **out);
void vmmio_destroy(struct vmmio *m);
/* size is 1, 2 or 4 (1/2 only inside config space); bad accesses read 0 /
 * are ignored and counted, never crash. */
uint32_t vmmio_read(struct vmmio *m, uint32_t offset, unsigned size);
void vmmio_write(struct vmmio *m, uint32_t offset, uint32_t value, unsigned size);
/* Device CPU: process every pending queue; returns chains completed. A
 * queue with more work than one batch stays pending: the device loop must
 * call again while vmmio_has_pending() (it does not ring hooks.notify). */
int vmmio_process(struct vmmio *m);
bool vmmio_has_pending(struct vmmio *m);
/* Change config space from the device side (bumps config_generation and
 * raises a config-change interrupt). */
void vmmio_config_changed(struct vmmio *m);
void vmmio_get_state(const struct vmmio *m, struct vmmio_transport_state *st);
struct vdev *vmmio_vdev(struct vmmio *m);

/* What the register file refused or ignored (each kind logged once). */
struct vmmio_stats {
    uint64_t bad_reads;        /* unknown offset, bad size/alignment, W-only register */
    uint64_t bad_writes;       /* unknown offset, bad size/alignment, R-only register */
    uint64_t ignored_writes;   /* valid register, wrong moment (4.2.2 / 3.1.1 rules) */
    uint64_t status_refused;   /* Status writes that break the 3.1.1 sequence */
    uint64_t features_refused; /* FEATURES_OK refused (2.2.2 / 6.1) */
    uint64_t activate_failed;  /* DRIVER_OK -> DEVICE_NEEDS_RESET */
    uint64_t notifies;         /* QueueNotify writes */
    uint64_t resets;           /* Status = 0 */
    uint64_t needs_reset;      /* DEVICE_NEEDS_RESET raised (activate or corrupt ring) */
};
void vmmio_get_stats(const struct vmmio *m, struct vmmio_stats *st);

/*
 * Run fn(dev, arg) under the register-file lock: how device-side code that
 * is not queue processing (blk resize, console inject/take) is serialised
 * with the driver's register accesses and with vmmio_process(). A config
 * change made inside fn that calls vdev_signal_config() bumps
 * ConfigGeneration in the same critical section, so the driver's
 * generation check (2.5.1) always sees it.
 */
void vmmio_run_locked(struct vmmio *m, void (*fn)(struct vdev *d, void *arg), void *arg);

/*
 * Device lifecycle (issue 6, crosvm's sleep/wake). vmmio_sleep() waits for
 * queue processing in progress and stops all of it: afterwards no queue is
 * processed, nothing is written to guest memory and no interrupt is sent
 * (status bits still accumulate); QueueNotify still marks queues pending.
 * Register accesses keep working (as they would with vCPUs running).
 * vmmio_wake() re-enables notifications on every live queue (avail_event
 * re-published), sends an interrupt if InterruptStatus is non-zero and marks
 * every live queue pending (rings hooks.notify): every queue is processed
 * once, so no kick is lost. Sleeping twice or waking an awake device is a
 * no-op.
 */
void vmmio_sleep(struct vmmio *m);
void vmmio_wake(struct vmmio *m);
bool vmmio_is_asleep(const struct vmmio *m);
/*
 * Concurrent queues (the vhost-user daemon's per-ring workers): after
 * this, vmmio_process_queue(m, qi) processes queue qi under a lock of its
 * own, so different queues run at the same time (each with its own chain
 * scratch, vdev.qiov); vmmio_process() and sleep/wake take the queue locks
 * too. The owner's promise: every other change to queue state (reset,
 * activation, queue registers, snapshot restore, vdq rebuilds through
 * vmmio_run_locked) is made with the device asleep, and the model's
 * process_queue touches nothing shared between queues but atomics and
 * what is changed only under sleep (blk: counters, capacity). A hostile
 * device (vdev.hostile) is processed as before, one queue at a time.
 * Call before the device is woken; 0 or -ENOMEM.
 */
int vmmio_set_concurrent(struct vmmio *m);
/* Process queue qi (pending), until it has nothing more; chains completed.
 * Without vmmio_set_concurrent (or hostile): vmmio_process(). */
int vmmio_process_queue(struct vmmio *m, unsigned qi);
/*
 * A new device instance at the same register file (what a VMM does when it
 * builds a fresh device at the same MMIO address to restore into): dev, a
 * freshly created model, replaces the current one; the transport state
 * starts over as after vmmio_create() and dev starts asleep (snap_restore,
 * then vmmio_wake). Returns the old vdev, no longer referenced (the caller
 * destroys it), or NULL if dev is unusable. The driver may keep accessing
 * registers meanwhile: every access sees the old or the new device.
 */
struct vdev *vmmio_rebind(struct vmmio *m, struct vdev *dev);
/*
 * For the snapshot codec: fn(dev, st, arg) under the lock with a copy of the
 * transport state (interrupt_status filled in from the device). When fn
 * returns > 0 the copy is written back (interrupt status into the device)
 * and pending kicks are dropped (a restore: the caller wakes the device,
 * which processes every queue); returns fn's value (0 for > 0) otherwise.
 */
int vmmio_run_locked_state(struct vmmio *m,
                           int (*fn)(struct vdev *d, struct vmmio_transport_state *st, void *arg),
                           void *arg);

#endif
