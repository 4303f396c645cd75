/* SPDX-License-Identifier: Apache-2.0 */
/*
 * virtio_mmio_probe.h - the virtio-mmio windows found at boot
 * (kernel/virtio/virtio_mmio_probe.c: the PVH command line's
 * virtio_mmio.device= entries, or microvm's fixed layout), for the shell.
 */
#ifndef RINGLOOP_VIRTIO_MMIO_PROBE_H
#define RINGLOOP_VIRTIO_MMIO_PROBE_H

#include <stdbool.h>
#include <stdint.h>

struct virtio_device;

struct virtio_mmio_slot_info {
    uint64_t base;
    uint64_t size;
    int gsi;                   /* -1: none given */
    bool is_polled;            /* no interrupt vector */
    struct virtio_device *dev; /* NULL: empty window or no driver bound */
};

unsigned virtio_mmio_slot_count(void);
/* 0, or -ENOENT past the last window. */
int virtio_mmio_slot_get(unsigned i, struct virtio_mmio_slot_info *out);

#endif
