/* SPDX-License-Identifier: Apache-2.0 */
/*
 * loopback.h - the in-image loopback devices: five device models (blk, net,
 * rng, console, pmem; hostsim/) behind virtio-mmio v2 register files, the
 * device side running on CPU 1, the drivers (drivers/virtio/) on CPU 0
 * over the loopback transport, registered with the virtio core under the
 * names below.
 *
 * Doorbell: QueueNotify sets a per-device flag that the device loop on
 * CPU 1 polls; the loop runs only while there is work (it leaves CPU 1 to
 * other smp_run_on() users after 20 ms idle) and the doorbell starts it
 * again (smp_run_on wakes a sleeping CPU with an IPI). Interrupts: CPU 1 sends an IPI to CPU 0 on
 * a vector from irq_alloc_vector(); its handler runs
 * virtio_handle_interrupt() for every device with one pending. Register
 * accesses on CPU 0 run with interrupts off (the transport's access guard),
 * so that handler never waits for a lock its own CPU holds.
 *
 * The RNG device is seeded with LOOPBACK_RNG_SEED: `rng read` output is the
 * splitmix64 stream described in hostsim/vdev_models.h.
 */
#ifndef RINGLOOP_LOOPBACK_H
#define RINGLOOP_LOOPBACK_H

#include <stdbool.h>
#include <stdint.h>

#define LOOPBACK_RNG_SEED 42ull
#define LOOPBACK_DISK_BYTES (8u << 20)
#define LOOPBACK_PMEM_BYTES (2u << 20)
#define LOOPBACK_CPU 1

struct virtio_device;
struct vdev;

/* Create the devices and probe the drivers (idempotent). 0, or -ENODEV
 * (no second CPU), -ENOMEM, or a driver's probe error. */
int loopback_init(void);
bool loopback_is_up(void);

/*
 * Re-initialise dev's driver in another mode: interrupt-driven or polled,
 * EVENT_IDX (and INDIRECT_DESC) on or off, queues capped at queue_limit
 * entries (0: the device's maximum). For `test loopback` and `bench
 * loopback`; 0 or the driver's re-init error.
 */
int loopback_set_mode(struct virtio_device *dev, bool polled, bool event_idx, uint32_t queue_limit);

/* For `stats` and the tests: the device side behind a registered device,
 * its current instance (NULL when dev is not a loopback device).
 * Read-only use. */
struct vdev *loopback_vdev(struct virtio_device *dev);
/*
 * Persistence (issue 6, kernel/virtio/persist.c): the register file behind a
 * loopback device, and a fresh model instance of the same kind over the
 * same guest memory, RAM disk and pmem region, created on caller memory d
 * (put it behind the register file with vmmio_rebind()). NULL / -ENODEV
 * when dev is not a loopback device.
 */
struct vmmio *loopback_vmmio(struct virtio_device *dev);
/*
 * Whether the five models offer VIRTIO_F_RING_PACKED (virtio 1.2 2.8; on
 * by default, like QEMU's packed=on): a driver that asks for the packed
 * ring (`virtio packed on`) gets it from its next init, one that does not
 * keeps the split ring. Off: a device that cannot do packed, for testing
 * a driver's fallback. Applies to restored instances too.
 */
void loopback_set_offer_packed(bool on);
bool loopback_offer_packed(void);
int loopback_model_create(struct virtio_device *dev, struct vdev *d);
/*
 * How a queue notify reaches CPU 1:
 *  POLL    the device loop never leaves CPU 1 and polls the doorbells;
 *  IPI     the loop returns as soon as it is idle, so every doorbell after
 *          idle wakes CPU 1 with an IPI (smp_run_on);
 *  HYBRID  (default) poll for 20 ms after the last work, then IPI.
 * A POLL loop holds CPU 1 until the mode changes (other smp_run_on users
 * get -EBUSY meanwhile). 0 or -EINVAL.
 */
enum loopback_wake { LOOPBACK_WAKE_HYBRID, LOOPBACK_WAKE_POLL, LOOPBACK_WAKE_IPI };
int loopback_set_wake(enum loopback_wake mode);
enum loopback_wake loopback_get_wake(void);

/*
 * Hostile device mode (issue 10, hostsim/hostile.h): make dev's device side
 * misbehave as cfg says (HOSTILE_OFF: behave). Takes effect at once, under
 * the register file's lock; a mode's after/count start from zero. 0,
 * -ENODEV (not a loopback device) or -EINVAL (unknown mode).
 */
struct hostile_cfg;
struct hostile;
int loopback_set_hostile(struct virtio_device *dev, const struct hostile_cfg *cfg);
/* A copy of dev's hostile state (served, fired, ...); -ENODEV. */
int loopback_get_hostile(struct virtio_device *dev, struct hostile *out);

/* Doorbells CPU 1 answered, IPIs it sent to CPU 0, device loops started,
 * starts given up because CPU 1 stayed busy with another job. */
uint64_t loopback_doorbells(void);
uint64_t loopback_loop_starts(void);
uint64_t loopback_start_failures(void);
uint64_t loopback_ipis(void);

#endif
