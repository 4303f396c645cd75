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
 * runs on the device CPU in vmmio_process(). A lock inside serialises them.
 * QueueNotify does no work on the driver's CPU: it marks the queue pending
 * and calls hooks.notify (the doorbell: an IPI or a flag the device CPU
 * polls). Interrupts go out through hooks.interrupt with the
 * InterruptStatus bits already set, from the device CPU.
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
/* Device CPU: process every pending queue; returns chains completed. */
int vmmio_process(struct vmmio *m);
bool vmmio_has_pending(struct vmmio *m);
/* Change config space from the device side (bumps config_generation and
 * raises a config-change interrupt). */
void vmmio_config_changed(struct vmmio *m);
void vmmio_get_state(const struct vmmio *m, struct vmmio_transport_state *st);
struct vdev *vmmio_vdev(struct vmmio *m);

#endif
