/* SPDX-License-Identifier: Apache-2.0 */
/*
 * transport_loopback.c - virtio transport ops over a virtio-mmio v2 register
 * file reached by vmmio_read()/vmmio_write() instead of loads and stores
 * (see transport_loopback.h). Register-level sequences follow VIRTIO 1.2
 * 4.2.3 (MMIO driver requirements): 4.2.3.1 device discovery, 4.2.3.2
 * virtqueue configuration, 4.2.3.3 notification, 4.2.3.4 interrupts.
 *
 * Invariants: only 32-bit accesses outside config space, 1/2/4-byte
 * naturally aligned accesses inside it (4.2.2); QueueSel is written before
 * every queue register access (it is shared transport state).
 */
#include "transport_loopback.h"

#include <errno.h>
#include <string.h>

#include "virtio_mmio.h"
#include "virtio_platform.h"
#include "vmmio.h"

struct lb_priv {
    struct vmmio *m;
    struct loopback_access_guard guard; /* enter == NULL: none */
};

static struct vmmio *lb_regs(struct virtio_device *dev)
{
    return ((struct lb_priv *)dev->transport_priv)->m;
}

static uint32_t lb_read_sized(struct virtio_device *dev, uint32_t off, unsigned size)
{
    struct lb_priv *p = dev->transport_priv;
    uint64_t saved = 0;
    uint32_t v;

    if (p->guard.enter)
        saved = p->guard.enter(p->guard.ctx);
    v = vmmio_read(p->m, off, size);
    if (p->guard.enter)
        p->guard.exit(p->guard.ctx, saved);
    return v;
}

static void lb_write_sized(struct virtio_device *dev, uint32_t off, uint32_t val, unsigned size)
{
    struct lb_priv *p = dev->transport_priv;
    uint64_t saved = 0;

    if (p->guard.enter)
        saved = p->guard.enter(p->guard.ctx);
    vmmio_write(p->m, off, val, size);
    if (p->guard.enter)
        p->guard.exit(p->guard.ctx, saved);
}

static uint32_t lb_read(struct virtio_device *dev, uint32_t off)
{
    return lb_read_sized(dev, off, 4);
}

static void lb_write(struct virtio_device *dev, uint32_t off, uint32_t val)
{
    lb_write_sized(dev, off, val, 4);
}

static uint64_t lb_get_features(struct virtio_device *dev)
{
    uint64_t lo, hi;

    lb_write(dev, VIRTIO_MMIO_DEVICE_FEATURES_SEL, 0);
    lo = lb_read(dev, VIRTIO_MMIO_DEVICE_FEATURES);
    lb_write(dev, VIRTIO_MMIO_DEVICE_FEATURES_SEL, 1);
    hi = lb_read(dev, VIRTIO_MMIO_DEVICE_FEATURES);
    return lo | hi << 32;
}

static void lb_set_features(struct virtio_device *dev, uint64_t features)
{
    lb_write(dev, VIRTIO_MMIO_DRIVER_FEATURES_SEL, 0);
    lb_write(dev, VIRTIO_MMIO_DRIVER_FEATURES, (uint32_t)features);
    lb_write(dev, VIRTIO_MMIO_DRIVER_FEATURES_SEL, 1);
    lb_write(dev, VIRTIO_MMIO_DRIVER_FEATURES, (uint32_t)(features >> 32));
}

static uint8_t lb_get_status(struct virtio_device *dev)
{
    return (uint8_t)lb_read(dev, VIRTIO_MMIO_STATUS);
}

static void lb_set_status(struct virtio_device *dev, uint8_t status)
{
    lb_write(dev, VIRTIO_MMIO_STATUS, status);
}

static int lb_reset(struct virtio_device *dev)
{
    uint64_t start = virt_time_ns();

    /* 4.2.3.1: writing 0 resets; the driver waits until Status reads 0. */
    lb_write(dev, VIRTIO_MMIO_STATUS, 0);
    while (lb_read(dev, VIRTIO_MMIO_STATUS) != 0) {
        if (virt_time_ns() - start > VIRTIO_RESET_TIMEOUT_NS)
            return -ETIMEDOUT;
    }
    return 0;
}

static uint32_t lb_config_generation(struct virtio_device *dev)
{
    return lb_read(dev, VIRTIO_MMIO_CONFIG_GENERATION);
}

/* Widest naturally aligned access (4, 2, 1) that fits at off. */
static unsigned lb_access_size(uint32_t off, uint32_t left)
{
    if ((off & 3) == 0 && left >= 4)
        return 4;
    if ((off & 1) == 0 && left >= 2)
        return 2;
    return 1;
}

static void lb_read_config(struct virtio_device *dev, uint32_t off, void *buf, uint32_t len)
{
    uint8_t *p = buf;
    uint32_t i = 0;

    while (i < len) {
        unsigned n = lb_access_size(off + i, len - i);
        uint32_t v = lb_read_sized(dev, VIRTIO_MMIO_CONFIG + off + i, n);

        memcpy(p + i, &v, n); /* little-endian: low bytes first */
        i += n;
    }
}

static void lb_write_config(struct virtio_device *dev, uint32_t off, const void *buf, uint32_t len)
{
    const uint8_t *p = buf;
    uint32_t i = 0;

    while (i < len) {
        unsigned n = lb_access_size(off + i, len - i);
        uint32_t v = 0;

        memcpy(&v, p + i, n);
        lb_write_sized(dev, VIRTIO_MMIO_CONFIG + off + i, v, n);
        i += n;
    }
}

static uint32_t lb_queue_max(struct virtio_device *dev, unsigned q)
{
    lb_write(dev, VIRTIO_MMIO_QUEUE_SEL, q);
    /* 4.2.3.2: the queue must not be in use already. */
    if (lb_read(dev, VIRTIO_MMIO_QUEUE_READY) != 0)
        return 0;
    return lb_read(dev, VIRTIO_MMIO_QUEUE_NUM_MAX);
}

static void lb_write64(struct virtio_device *dev, uint32_t low_off, uint64_t v)
{
    lb_write(dev, low_off, (uint32_t)v);
    lb_write(dev, low_off + 4, (uint32_t)(v >> 32));
}

static int lb_queue_setup(struct virtio_device *dev, unsigned q, uint32_t size, uint64_t desc,
                          uint64_t avail, uint64_t used)
{
    /* 4.2.3.2 steps 1-6 (the caller allocated and zeroed the rings). */
    lb_write(dev, VIRTIO_MMIO_QUEUE_SEL, q);
    lb_write(dev, VIRTIO_MMIO_QUEUE_NUM, size);
    lb_write64(dev, VIRTIO_MMIO_QUEUE_DESC_LOW, desc);
    lb_write64(dev, VIRTIO_MMIO_QUEUE_DRIVER_LOW, avail);
    lb_write64(dev, VIRTIO_MMIO_QUEUE_DEVICE_LOW, used);
    return 0;
}

static int lb_queue_enable(struct virtio_device *dev, unsigned q)
{
    /* 4.2.3.2 step 7. */
    lb_write(dev, VIRTIO_MMIO_QUEUE_SEL, q);
    lb_write(dev, VIRTIO_MMIO_QUEUE_READY, 1);
    return lb_read(dev, VIRTIO_MMIO_QUEUE_READY) == 1 ? 0 : -EIO;
}

static void lb_notify(struct virtio_device *dev, unsigned q)
{
    /* 4.2.3.3: write the queue index to QueueNotify. */
    lb_write(dev, VIRTIO_MMIO_QUEUE_NOTIFY, q);
}

static uint32_t lb_interrupt_ack(struct virtio_device *dev)
{
    /* 4.2.3.4: read InterruptStatus, write the handled bits to InterruptACK. */
    uint32_t isr = lb_read(dev, VIRTIO_MMIO_INTERRUPT_STATUS);

    isr &= VIRTIO_INT_USED_BUFFER | VIRTIO_INT_CONFIG_CHANGE;
    if (isr)
        lb_write(dev, VIRTIO_MMIO_INTERRUPT_ACK, isr);
    return isr;
}

const struct virtio_transport_ops loopback_transport_ops = {
    .name = "loopback",
    .get_features = lb_get_features,
    .set_features = lb_set_features,
    .get_status = lb_get_status,
    .set_status = lb_set_status,
    .reset = lb_reset,
    .config_generation = lb_config_generation,
    .read_config = lb_read_config,
    .write_config = lb_write_config,
    .queue_max = lb_queue_max,
    .queue_setup = lb_queue_setup,
    .queue_enable = lb_queue_enable,
    .queue_reset = NULL, /* VIRTIO_F_RING_RESET is not negotiated */
    .notify = lb_notify,
    .interrupt_ack = lb_interrupt_ack,
    .set_vector = NULL,
};

int loopback_device_create(struct vmmio *m, const char *name, struct virtio_device **out)
{
    struct virtio_device *dev;
    struct lb_priv *p;
    uint32_t id;

    /* 4.2.3.1.1: check magic and version, ignore device id 0. */
    if (vmmio_read(m, VIRTIO_MMIO_MAGIC_VALUE, 4) != VIRTIO_MMIO_MAGIC ||
        vmmio_read(m, VIRTIO_MMIO_VERSION, 4) != VIRTIO_MMIO_VERSION_2)
        return -ENODEV;
    id = vmmio_read(m, VIRTIO_MMIO_DEVICE_ID, 4);
    if (id == 0)
        return -ENODEV;
    dev = virt_zalloc(sizeof(*dev));
    p = virt_zalloc(sizeof(*p));
    if (!dev || !p) {
        virt_free(dev);
        virt_free(p);
        return -ENOMEM;
    }
    p->m = m;
    strncpy(dev->name, name, VIRTIO_NAME_MAX - 1);
    dev->device_id = id;
    dev->ops = &loopback_transport_ops;
    dev->transport_priv = p;
    *out = dev;
    return 0;
}

void loopback_device_set_guard(struct virtio_device *dev, const struct loopback_access_guard *g)
{
    struct lb_priv *p = dev->transport_priv;

    if (g)
        p->guard = *g;
    else
        memset(&p->guard, 0, sizeof(p->guard));
}

void loopback_device_destroy(struct virtio_device *dev)
{
    if (!dev)
        return;
    virtio_del_vqs(dev);
    virt_free(dev->transport_priv);
    virt_free(dev);
}

struct vmmio *loopback_device_vmmio(struct virtio_device *dev)
{
    return lb_regs(dev);
}
