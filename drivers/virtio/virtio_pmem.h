/* SPDX-License-Identifier: Apache-2.0 */
/*
 * virtio_pmem.h - virtio persistent memory driver (VIRTIO 1.2 5.19),
 * transport-agnostic: reads the region (start, size) from config, lets the
 * platform map it, and sends FLUSH requests on the one requestq.
 *
 * Mapping the region is the platform's job: the map hook gets the guest
 * physical start and size and returns a pointer (or NULL); without a hook
 * (map == NULL) virtio_pmem_addr() is NULL and callers use start/size
 * themselves. In the loopback case the region is ordinary memory.
 *
 * Results: 0, -EIO (the device answered failure or impossibly, queue
 * broken / needs reset: the driver re-initialises), -ETIMEDOUT, -ENODEV
 * (config describes no usable region).
 *
 * Concurrency: flushes are serialised by a lock inside.
 */
#ifndef RINGLOOP_VIRTIO_PMEM_H
#define RINGLOOP_VIRTIO_PMEM_H

#include <stdint.h>

#include "virtio.h"

#define VIRTIO_PMEM_TIMEOUT_NS 2000000000ull

struct virtio_pmem;

struct virtio_pmem_stats {
    uint64_t flushes;
    uint64_t errors;
    uint64_t reinits;
};

int virtio_pmem_probe(struct virtio_device *dev,
                      void *(*map)(uint64_t start, uint64_t size, void *ctx), void *map_ctx,
                      struct virtio_pmem **out);
void virtio_pmem_remove(struct virtio_pmem *pmem);
int virtio_pmem_reinit(struct virtio_pmem *pmem);
/* 5.19.6: ask the device to make writes to the region persistent. */
int virtio_pmem_flush(struct virtio_pmem *pmem);
uint64_t virtio_pmem_start(const struct virtio_pmem *pmem);
uint64_t virtio_pmem_size(const struct virtio_pmem *pmem);
void *virtio_pmem_addr(const struct virtio_pmem *pmem);
struct virtio_device *virtio_pmem_device(struct virtio_pmem *pmem);
const struct virtio_pmem_stats *virtio_pmem_get_stats(const struct virtio_pmem *pmem);

#endif
