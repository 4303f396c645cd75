/* SPDX-License-Identifier: Apache-2.0 */
/*
 * virtio_rng.h - virtio entropy device driver (VIRTIO 1.2 5.4):
 * transport-agnostic, one requestq, no features, no config.
 *
 * virtio_rng_read() fills the caller's buffer (any memory: the device
 * writes into a DMA bounce buffer owned by the driver) in chunks of at
 * most VIRTIO_RNG_CHUNK bytes. Results: the byte count, or -EIO (queue
 * broken / device needs reset; the driver re-initialises the device),
 * -ETIMEDOUT (likewise), -EINVAL.
 *
 * Concurrency: calls are serialised by a lock inside.
 */
#ifndef RINGLOOP_VIRTIO_RNG_H
#define RINGLOOP_VIRTIO_RNG_H

#include <stddef.h>
#include <stdint.h>

#include "virtio.h"

#define VIRTIO_RNG_CHUNK 512
#define VIRTIO_RNG_TIMEOUT_NS 2000000000ull

struct virtio_rng;

struct virtio_rng_stats {
    uint64_t requests;
    uint64_t bytes;
    uint64_t empty; /* requests the device answered with 0 bytes */
    uint64_t reinits;
};

int virtio_rng_probe(struct virtio_device *dev, struct virtio_rng **out);
void virtio_rng_remove(struct virtio_rng *rng);
int virtio_rng_reinit(struct virtio_rng *rng);
/* Read exactly n bytes (n <= INT32_MAX): returns n or -errno. */
int virtio_rng_read(struct virtio_rng *rng, void *buf, size_t n);
struct virtio_device *virtio_rng_device(struct virtio_rng *rng);
const struct virtio_rng_stats *virtio_rng_get_stats(const struct virtio_rng *rng);

#endif
