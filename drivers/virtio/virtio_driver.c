/* SPDX-License-Identifier: Apache-2.0 */
/*
 * virtio_driver.c - the driver life cycle (see virtio_driver.h): probe,
 * start in the order of VIRTIO 1.2 3.1.1, stop by reset (3.1.1 step 1,
 * 4.2.3.1: after it the device touches no ring and no buffer, so only
 * then are queues and buffers freed), reinit, remove; and the receive
 * buffer set of the net and console drivers.
 *
 * Invariants: while a driver is bound, dev->driver and dev->driver_priv
 * are set; between a successful start and the next stop the queues exist
 * and setup()'s buffers are posted; after a stop (or a failed start) the
 * device is reset, has no queues, and teardown() has run.
 */
#include "virtio_driver.h"

#include <errno.h>

#include "virtio_platform.h"

/* For drivers without specs of their own. */
static const struct virtio_vq_spec default_vqs[VIRTIO_MAX_VQS];

/* The member of the driver's state at offset off (virtio_driver.h). */
static void *priv_member(struct virtio_device *dev, size_t off)
{
    return (uint8_t *)dev->driver_priv + off;
}

static struct virt_lock *priv_lock(struct virtio_device *dev, unsigned i)
{
    return priv_member(dev, dev->driver->lock_offsets[i]);
}

/* Queues and setup()'s buffers go, under the driver's queue lock if any.
 * Only after a reset (or before DRIVER_OK with the device reset). */
static void virtio_driver_release(struct virtio_device *dev)
{
    const struct virtio_driver *drv = dev->driver;
    struct virt_lock *lock = drv->queue_lock ? drv->queue_lock(dev) : NULL;

    if (lock)
        virt_lock_acquire(lock);
    virtio_del_vqs(dev);
    if (drv->teardown)
        drv->teardown(dev);
    if (lock)
        virt_lock_release(lock);
}

static void virtio_driver_stop(struct virtio_device *dev);

/* Steps 1-8 of 3.1.1 around the driver's hooks (virtio_driver.h). */
static int virtio_driver_start(struct virtio_device *dev)
{
    const struct virtio_driver *drv = dev->driver;
    uint32_t nvqs = drv->nvqs;
    unsigned q;
    int err;

    /* 3.1.1 steps 1-6 (FAILED already set where it applies). */
    err = virtio_device_init(dev, drv->features);
    if (err < 0)
        return err;
    /* Step 7: config, queues, population of the queues. */
    if (drv->config) {
        err = drv->config(dev);
        if (err < 0)
            goto err_fail;
    }
    if (drv->num_vqs) {
        uint32_t n = drv->num_vqs(dev);

        if (n > 0 && n < nvqs)
            nvqs = n;
    }
    err = virtio_find_vqs(dev, nvqs, drv->vqs ? drv->vqs : default_vqs);
    if (err < 0)
        goto err_fail; /* the queues are gone again (after a reset) */
    if (drv->setup) {
        err = drv->setup(dev);
        if (err < 0)
            goto err_release;
    }
    if (drv->config_changed)
        dev->config_changed = drv->config_changed;
    /* Step 8, then the first notification: a driver must not notify
     * before DRIVER_OK. A queue nothing was posted to is not notified. */
    virtio_device_ready(dev);
    for (q = 0; q < dev->nvqs; q++) {
        err = vq_kick(dev->vqs[q].vq);
        if (err < 0)
            goto err_stop;
    }
    return 0;

err_stop:
    virtio_driver_stop(dev);
    goto err_fail;
err_release:
    /* The device may know the rings and buffers: reset before freeing. */
    (void)virtio_reset(dev);
    virtio_driver_release(dev);
err_fail:
    virtio_device_fail(dev);
    return err;
}

static void virtio_driver_stop(struct virtio_device *dev)
{
    const struct virtio_driver *drv = dev->driver;

    /* After the reset the device no longer touches rings or buffers. */
    (void)virtio_reset(dev);
    if (drv->config_changed)
        dev->config_changed = NULL;
    if (drv->cancel)
        drv->cancel(dev);
    virtio_driver_release(dev);
}

int virtio_driver_reinit(struct virtio_device *dev, unsigned held)
{
    const struct virtio_driver *drv = dev->driver;
    uint64_t *reinits = priv_member(dev, drv->reinits_offset);
    unsigned i;
    int err;

    for (i = held; i < drv->nlocks; i++)
        virt_lock_acquire(priv_lock(dev, i));
    virtio_driver_stop(dev);
    (*reinits)++;
    err = virtio_driver_start(dev);
    for (i = drv->nlocks; i-- > held;)
        virt_lock_release(priv_lock(dev, i));
    return err;
}

/* The DMA buffer and the state go; the device has no driver. */
static void virtio_driver_free(struct virtio_device *dev)
{
    const struct virtio_driver *drv = dev->driver;
    void **buf = priv_member(dev, drv->dma_offset);

    if (drv->dma_size && *buf)
        virt_dma_free(*buf, drv->dma_size);
    virt_free(dev->driver_priv);
    dev->driver_priv = NULL;
    dev->driver = NULL;
}

int virtio_driver_probe(struct virtio_device *dev, const struct virtio_driver *drv)
{
    uint64_t dma;
    void **buf;
    int err;

    if (dev->device_id != drv->device_id)
        return -ENODEV;
    dev->driver_priv = virt_zalloc(drv->priv_size);
    if (!dev->driver_priv)
        return -ENOMEM;
    dev->driver = drv;
    *(struct virtio_device **)priv_member(dev, drv->dev_offset) = dev;
    if (drv->dma_size) {
        buf = priv_member(dev, drv->dma_offset);
        *buf = virt_dma_alloc(drv->dma_size, &dma);
        err = -ENOMEM;
        if (!*buf)
            goto err_free;
    }
    err = virtio_driver_start(dev);
    if (err < 0)
        goto err_free;
    return 0;

err_free:
    virtio_driver_free(dev);
    return err;
}

void virtio_driver_remove(struct virtio_device *dev)
{
    virtio_driver_stop(dev);
    virtio_driver_free(dev);
}

/* ---- receive buffers ---- */

int virtio_rx_bufs_post(struct virtio_device *dev, unsigned q, const struct virtio_rx_bufs *rx,
                        uint32_t i)
{
    struct vq_sg sg = {.buf = virtio_rx_buf(rx, i), .len = rx->size};

    /* The token is the buffer address: never NULL, identifies the slot. */
    return vq_add_sgs(virtio_vq(dev, q), &sg, 0, 1, sg.buf);
}

int virtio_rx_bufs_fill(struct virtio_device *dev, unsigned q, struct virtio_rx_bufs *rx,
                        uint32_t max, uint32_t size)
{
    uint64_t dma;
    uint32_t i;
    int err;

    rx->n = vq_get_size(virtio_vq(dev, q));
    if (rx->n > max)
        rx->n = max;
    rx->size = size;
    rx->bytes = (size_t)rx->n * size;
    rx->mem = virt_dma_alloc(rx->bytes, &dma);
    if (!rx->mem)
        return -ENOMEM;
    for (i = 0; i < rx->n; i++) {
        err = virtio_rx_bufs_post(dev, q, rx, i);
        if (err < 0)
            return err;
    }
    return 0;
}

int virtio_rx_bufs_get(struct virtio_device *dev, unsigned q, const struct virtio_rx_bufs *rx,
                       uint32_t *i, uint32_t *len)
{
    void *token;
    int r = virtio_vq_get_buf(virtio_vq(dev, q), &token, len);

    if (r <= 0)
        return r;
    /* A token we posted (the virtqueue checks the id), so inside mem. */
    *i = (uint32_t)((size_t)((uint8_t *)token - rx->mem) / rx->size);
    return 1;
}

void virtio_rx_bufs_free(struct virtio_rx_bufs *rx)
{
    if (rx->mem)
        virt_dma_free(rx->mem, rx->bytes);
    rx->mem = NULL;
    rx->n = 0;
}
