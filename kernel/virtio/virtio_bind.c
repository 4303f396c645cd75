/* SPDX-License-Identifier: Apache-2.0 */
/*
 * virtio_bind.c - driver binding by device id (see virtio_bind.h). The
 * drivers are transport-agnostic; only the pmem map hook differs between
 * platforms, so the caller passes it.
 */
#include "kernel/virtio/virtio_bind.h"

#include <errno.h>

#include "virtio_blk.h"
#include "virtio_console.h"
#include "virtio_net.h"
#include "virtio_pmem.h"
#include "virtio_rng.h"

int virtio_bind_driver(struct virtio_device *dev, virtio_bind_map_fn pmem_map, void *map_ctx)
{
    switch (dev->device_id) {
    case VIRTIO_ID_BLOCK: {
        struct virtio_blk *blk;
        return virtio_blk_probe(dev, &blk);
    }
    case VIRTIO_ID_NET: {
        struct virtio_net *net;
        return virtio_net_probe(dev, &net);
    }
    case VIRTIO_ID_RNG: {
        struct virtio_rng *rng;
        return virtio_rng_probe(dev, &rng);
    }
    case VIRTIO_ID_CONSOLE: {
        struct virtio_console *con;
        return virtio_console_probe(dev, &con);
    }
    case VIRTIO_ID_PMEM: {
        struct virtio_pmem *pmem;
        return virtio_pmem_probe(dev, pmem_map, map_ctx, &pmem);
    }
    default:
        return -ENODEV;
    }
}

const char *virtio_bind_prefix(uint32_t device_id)
{
    switch (device_id) {
    case VIRTIO_ID_BLOCK:
        return "vblk";
    case VIRTIO_ID_NET:
        return "vnet";
    case VIRTIO_ID_RNG:
        return "vrng";
    case VIRTIO_ID_CONSOLE:
        return "vcon";
    case VIRTIO_ID_PMEM:
        return "vpmem";
    default:
        return "vdev";
    }
}

int virtio_bind_reinit(struct virtio_device *dev)
{
    void *drv = dev->driver_priv;

    if (!drv)
        return -ENODEV;
    switch (dev->device_id) {
    case VIRTIO_ID_BLOCK:
        return virtio_blk_reinit(drv);
    case VIRTIO_ID_NET:
        return virtio_net_reinit(drv);
    case VIRTIO_ID_RNG:
        return virtio_rng_reinit(drv);
    case VIRTIO_ID_CONSOLE:
        return virtio_console_reinit(drv);
    case VIRTIO_ID_PMEM:
        return virtio_pmem_reinit(drv);
    default:
        return -ENODEV;
    }
}
