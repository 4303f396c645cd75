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
void loopback_device_destroy(struct virtio_device *dev);
struct vmmio *loopback_device_vmmio(struct virtio_device *dev);

extern const struct virtio_transport_ops loopback_transport_ops;

#endif
