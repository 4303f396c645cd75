/* SPDX-License-Identifier: Apache-2.0 */
/*
 * virtio_driver.h - one life cycle for every driver (in the manner of
 * Linux's struct virtio_driver probe/remove + virtio_find_vqs): a driver
 * describes itself in a const struct virtio_driver (device id, feature
 * bits, queues, the members of its state the core looks after, hooks) and
 * the core runs the VIRTIO 1.2 3.1.1 sequence around the hooks:
 *
 *   probe   device id check; zeroed state in dev->driver_priv, its dev
 *           member set, its DMA buffer allocated; start
 *   start   virtio_device_init (reset .. FEATURES_OK), config(),
 *           virtio_find_vqs, setup(), config_changed installed, DRIVER_OK,
 *           first kick of every queue setup() posted to
 *   stop    reset, config_changed removed, cancel(), then under
 *           queue_lock(): del_vqs, teardown()
 *   reinit  with the driver's locks held: stop, count, start
 *   remove  stop, DMA buffer and state freed
 *
 * A start that fails after FEATURES_OK leaves the device FAILED (3.1.1)
 * with no queue and nothing of setup()'s left; a failed probe frees
 * everything and leaves dev->driver_priv NULL.
 *
 * Hooks are optional, get the device (their state is dev->driver_priv)
 * and run in thread context. Start and stop are serialised by the caller
 * (probe, remove, or reinit under the driver's locks).
 *
 * Also here: a receive-buffer set (net, console): equal buffers in one DMA
 * block, each posted as one device-writable descriptor.
 */
#ifndef RINGLOOP_VIRTIO_DRIVER_H
#define RINGLOOP_VIRTIO_DRIVER_H

#include <stddef.h>
#include <stdint.h>

#include "virtio.h"

#define VIRTIO_DRIVER_MAX_LOCKS 2

struct virt_lock;

struct virtio_driver {
    uint32_t device_id; /* VIRTIO_ID_*: probe refuses other devices (-ENODEV) */
    uint32_t nvqs;
    uint64_t features;                /* driver feature bits (on top of the core's) */
    const struct virtio_vq_spec *vqs; /* nvqs entries; NULL: device's size, no callback */
    /* The driver's state (zeroed at probe) and the members of it the core
     * looks after, by offsetof(): */
    size_t priv_size;
    size_t dev_offset;     /* struct virtio_device *dev: set at probe */
    size_t reinits_offset; /* uint64_t: +1 per virtio_driver_reinit() */
    size_t dma_offset;     /* void *: dma_size bytes of DMA memory from probe */
    size_t dma_size;       /* to remove (a bounce buffer); 0: none */
    /* struct virt_lock: the driver's I/O locks in lock order, all held
     * around a reinit. */
    size_t lock_offsets[VIRTIO_DRIVER_MAX_LOCKS];
    uint32_t nlocks;
    uint32_t pad;
    /* Start, after FEATURES_OK, before the queues: read the config. */
    int (*config)(struct virtio_device *dev);
    /* Start, after config(): how many of the nvqs queues to create for the
     * features negotiated (net without CTRL_VQ, console without MULTIPORT
     * have fewer). NULL, 0 or more than nvqs: nvqs. */
    uint32_t (*num_vqs)(struct virtio_device *dev);
    /* Start, after find_vqs, before DRIVER_OK: allocate and post buffers
     * (3.1.1 step 7). On error teardown() frees what it got to. */
    int (*setup)(struct virtio_device *dev);
    /* Stop, after the reset, before the queues go: take back what was in
     * flight (vq_detach_unused). */
    void (*cancel)(struct virtio_device *dev);
    /* Stop (and a failed setup), after del_vqs: free what setup() made. */
    void (*teardown)(struct virtio_device *dev);
    /* Held by the core around del_vqs + teardown, for drivers whose other
     * threads look at the queues under it. */
    struct virt_lock *(*queue_lock)(struct virtio_device *dev);
    /* dev->config_changed while the device runs. */
    void (*config_changed)(struct virtio_device *dev);
};

/* The state members every driver has (struct virtio_device *dev, and
 * stats.reinits), for the descriptor's initialiser. */
#define VIRTIO_DRIVER_STATE(type)                                                                  \
    .priv_size = sizeof(type), .dev_offset = offsetof(type, dev),                                  \
    .reinits_offset = offsetof(type, stats.reinits)

/* 0, -ENODEV (other device type, or start failed so), -ENOMEM, or start's
 * error. On success the state is dev->driver_priv. */
int virtio_driver_probe(struct virtio_device *dev, const struct virtio_driver *drv);
/* Stop the device, free the DMA buffer and the state. */
void virtio_driver_remove(struct virtio_device *dev);
/*
 * Stop, count, start again (the device's reinit and recovery). The caller
 * holds the first `held` of the driver's locks; the others are taken here,
 * in order, and released after. Returns start's result.
 */
int virtio_driver_reinit(struct virtio_device *dev, unsigned held);

/*
 * The public entry points of a driver whose state is struct virtio_<name>
 * (with a member dev) and whose descriptor is drv, in the manner of
 * Linux's module_virtio_driver():
 *   int virtio_<name>_probe(struct virtio_device *dev, struct virtio_<name> **out);
 *   void virtio_<name>_remove(struct virtio_<name> *x);   (NULL: nothing)
 *   int virtio_<name>_reinit(struct virtio_<name> *x);    (no lock held)
 */
#define VIRTIO_DRIVER_ENTRY_POINTS(name, drv)                                                      \
    int virtio_##name##_probe(struct virtio_device *dev, struct virtio_##name **out)               \
    {                                                                                              \
        int err = virtio_driver_probe(dev, &(drv));                                                \
                                                                                                   \
        if (err == 0)                                                                              \
            *out = dev->driver_priv;                                                               \
        return err;                                                                                \
    }                                                                                              \
    void virtio_##name##_remove(struct virtio_##name *x)                                           \
    {                                                                                              \
        if (x)                                                                                     \
            virtio_driver_remove(x->dev);                                                          \
    }                                                                                              \
    int virtio_##name##_reinit(struct virtio_##name *x)                                            \
    {                                                                                              \
        return virtio_driver_reinit(x->dev, 0);                                                    \
    }

/* ---- receive buffers ---- */

struct virtio_rx_bufs {
    uint8_t *mem; /* n * size bytes of DMA memory, written by device */
    size_t bytes;
    uint32_t n;
    uint32_t size;
};

/* In setup(): min(queue size, max) buffers of size bytes, all posted on
 * queue q (not kicked). On error the caller frees (virtio_rx_bufs_free). */
int virtio_rx_bufs_fill(struct virtio_device *dev, unsigned q, struct virtio_rx_bufs *rx,
                        uint32_t max, uint32_t size);
/* Post buffer i again (the token is the buffer's address). */
int virtio_rx_bufs_post(struct virtio_device *dev, unsigned q, const struct virtio_rx_bufs *rx,
                        uint32_t i);
/* Take one used buffer from queue q: 1 (*i, *len: at most size, the
 * virtqueue checked it), 0 (none yet), -EIO (queue broken). */
int virtio_rx_bufs_get(struct virtio_device *dev, unsigned q, const struct virtio_rx_bufs *rx,
                       uint32_t *i, uint32_t *len);
void virtio_rx_bufs_free(struct virtio_rx_bufs *rx);

static inline uint8_t *virtio_rx_buf(const struct virtio_rx_bufs *rx, uint32_t i)
{
    return rx->mem + (size_t)i * rx->size;
}

#endif
