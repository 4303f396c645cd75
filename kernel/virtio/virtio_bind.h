/* SPDX-License-Identifier: Apache-2.0 */
/*
 * virtio_bind.h - bind the right driver to a virtio device by device id,
 * for every transport (loopback, PCI, MMIO): one switch instead of one per
 * transport. The driver's state ends up in dev->driver_priv (the drivers
 * put it there), which the shell finds through the registry.
 */
#ifndef RINGLOOP_VIRTIO_BIND_H
#define RINGLOOP_VIRTIO_BIND_H

#include <stdint.h>

#include "virtio.h"

/* pmem_map: how a pmem region is made addressable (virtio_pmem.h). */
typedef void *(*virtio_bind_map_fn)(uint64_t start, uint64_t size, void *ctx);

/* Probe the driver for dev->device_id: 0, -ENODEV (no driver for that
 * id), or the probe's error. */
int virtio_bind_driver(struct virtio_device *dev, virtio_bind_map_fn pmem_map, void *map_ctx);
/* Name prefix of a device of this type on a QEMU transport (PCI, MMIO):
 * "vblk", "vnet", "vrng", "vcon", "vpmem", else "vdev"; loopback devices
 * are "l..." (kernel/virtio/loopback.c). */
const char *virtio_bind_prefix(uint32_t device_id);
/* Reset and re-initialise the bound driver (its reinit). -ENODEV: none. */
int virtio_bind_reinit(struct virtio_device *dev);

#endif
