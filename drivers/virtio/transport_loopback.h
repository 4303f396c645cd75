/* SPDX-License-Identifier: Apache-2.0 */
/*
 * transport_loopback.h - the loopback transport: the virtio core's ops
 * implemented as register accesses to a device-side virtio-mmio v2
 * register file (hostsim/vmmio.h) living in the same address space. It
 * knows exactly what a real MMIO transport would know: register offsets
 * (virtio_mmio.h), nothing of the device model behind them.
 *
 * Interrupts: the platform (or a test) receives the register file's
 * interrupt hook and calls virtio_handle_interrupt() on the device from a
 * context where no register access is in progress; this file does not
 * install hooks itself.
 */
#ifndef RINGLOOP_TRANSPORT_LOOPBACK_H
#define RINGLOOP_TRANSPORT_LOOPBACK_H

#include "virtio.h"

struct vmmio;

/*
 * Probe the register file (4.2.3.1.1: magic, version 2, device id != 0) and
 * fill a new device called name. Returns 0, -ENODEV (not a virtio-mmio v2
 * device, or device id 0), -ENOMEM.
 */
int loopback_device_create(struct vmmio *m, const char *name, struct virtio_device **out);

/*
 * Optional: bracket every register access. A real MMIO access is one
 * instruction, atomic with respect to the CPU's own interrupts; an emulated
 * one takes the register file's lock for a while, so an interrupt handler
 * on the same CPU that touches the registers (virtio_handle_interrupt())
 * would spin on a lock its own CPU holds. The kernel passes
 * "save and disable interrupts" / "restore" here; hosted tests need none.
 */
struct loopback_access_guard {
    uint64_t (*enter)(void *ctx);
    void (*exit)(void *ctx, uint64_t saved);
    void *ctx;
};
void loopback_device_set_guard(struct virtio_device *dev, const struct loopback_access_guard *g);
void loopback_device_destroy(struct virtio_device *dev);
struct vmmio *loopback_device_vmmio(struct virtio_device *dev);

/* The MMIO protocol's ops under the name "loopback" (transport_mmio.c). */
#define loopback_transport_ops virtio_mmio_loopback_ops
extern const struct virtio_transport_ops virtio_mmio_loopback_ops;

#endif
