/* SPDX-License-Identifier: Apache-2.0 */
/*
 * transport_mmio.h - the virtio-mmio version 2 transport, driver side
 * (VIRTIO 1.2 4.2). The register protocol is written once here and reaches
 * the registers through an accessor pair, so the same code drives
 *   - a real virtio-mmio device (microvm's virtio-*-device): loads and
 *     stores on the mapped window (virtio_mmio_regs_direct()), and
 *   - the in-image loopback device: calls into the device-side register file
 *     (drivers/virtio/transport_loopback.c supplies that accessor).
 * A transport built on it knows register offsets (virtio_mmio.h) and nothing
 * of the device behind them.
 *
 * Invariants: only 32-bit accesses outside config space, 1/2/4-byte
 * naturally aligned accesses inside it (4.2.2); QueueSel is written before
 * every queue register access (it is shared transport state); version 1
 * (legacy) devices are refused.
 */
#ifndef RINGLOOP_TRANSPORT_MMIO_H
#define RINGLOOP_TRANSPORT_MMIO_H

#include <stdint.h>

#include "virtio.h"

struct virtio_mmio_regs {
    uint32_t (*read)(void *ctx, uint32_t off, unsigned size);
    void (*write)(void *ctx, uint32_t off, uint32_t value, unsigned size);
    void *ctx;
};

/*
 * Check the window (4.2.3.1.1: magic "virt", version 2, device id != 0) and
 * make a device called name on it. ops is virtio_mmio_ops or
 * virtio_mmio_loopback_ops (the same code; only the name shown differs).
 * Returns 0, -ENODEV (not a v2 device, or id 0: an empty slot), -ENOMEM.
 */
int virtio_mmio_device_create(const struct virtio_mmio_regs *regs,
                              const struct virtio_transport_ops *ops, const char *name,
                              struct virtio_device **out);
void virtio_mmio_device_destroy(struct virtio_device *dev);
const struct virtio_mmio_regs *virtio_mmio_device_regs(struct virtio_device *dev);

/* Accessors for a window mapped at base (volatile loads/stores). */
uint32_t virtio_mmio_direct_read(void *base, uint32_t off, unsigned size);
void virtio_mmio_direct_write(void *base, uint32_t off, uint32_t value, unsigned size);

extern const struct virtio_transport_ops virtio_mmio_ops;          /* name "mmio" */
extern const struct virtio_transport_ops virtio_mmio_loopback_ops; /* name "loopback" */

#endif
