/* SPDX-License-Identifier: Apache-2.0 */
/*
 * virtio_driver.h - one life cycle for every driver (in the manner of
 * Linux's struct virtio_driver probe/remove + virtio_find_vqs): a driver
 * describes itself in a const struct virtio_driver (device id, feature
 * bits, queue specs, state size, hooks) and the core runs the VIRTIO 1.2
 * 3.1.1 sequence around the hooks:
 *
 *   probe   device id check, zeroed state in dev->driver_priv, init(), start
 *   start   virtio_device_init (reset .. FEATURES_OK), config(),
 *           virtio_find_vqs, setup(), config_changed installed, DRIVER_OK,
 *           first kick of every queue setup() posted to
 *   stop    reset, config_changed removed, cancel(), then under
 *           queue_lock(): del_vqs, teardown()
 *   reinit  stop, count, start
 *   remove  stop, exit(), state freed
 *
 * A start that fails after FEATURES_OK leaves the device FAILED (3.1.1)
 * with no queue and nothing setup() allocated; a probe that fails frees
 * everything and leaves dev->driver_priv NULL.
 *
 * Every hook is optional and gets the device; its state is
 * dev->driver_priv. Hooks run in thread context; the caller of start /
 * stop / reinit holds whatever locks the driver serialises those with
 * (queue_lock excepted: the core takes that one).
 *
 * Also here: a receive-buffer set (net, console): equal buffers in one DMA
 * block, each posted as one device-writable descriptor.
 */
#ifndef RINGLOOP_VIRTIO_DRIVER_H
#define RINGLOOP_VIRTIO_DRIVER_H

#include <stddef.h>
#include <stdint.h>

#include "virtio.h"

struct virt_lock;

struct virtio_driver {
    uint32_t device_id; /* VIRTIO_ID_*: probe refuses other devices (-ENODEV) */
    uint32_t nvqs;
    uint64_t features;                /* driver feature bits (on top of the core's) */
    const struct virtio_vq_spec *vqs; /* nvqs entries; NULL: the device's size, no callback */
    size_t priv_size;                 /* driver state, zeroed at probe */
    /* Probe, once before the first start: what lives until remove. */
    int (*init)(struct virtio_device *dev);
    /* Remove, once after the last stop: free what init() allocated. Also
     * called when the first start fails. */
    void (*exit)(struct virtio_device *dev);
    /* Start, after FEATURES_OK, before the queues: read the config. */
    int (*config)(struct virtio_device *dev);
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

/* 0, -ENODEV (other device type, or start failed so), -ENOMEM, or start's
 * error. On success the state is dev->driver_priv. */
int virtio_driver_probe(struct virtio_device *dev, const struct virtio_driver *drv);
/* Stop the device, exit(), free the state. */
void virtio_driver_remove(struct virtio_device *dev);
int virtio_driver_start(struct virtio_device *dev);
void virtio_driver_stop(struct virtio_device *dev);
/* Stop, (*reinits)++, start again. */
int virtio_driver_reinit(struct virtio_device *dev, uint64_t *reinits);

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
