/* SPDX-License-Identifier: Apache-2.0 */
/*
 * transport_mmio.c - the virtio core's transport ops as virtio-mmio v2
 * register sequences (see transport_mmio.h). Sequences follow VIRTIO 1.2
 * 4.2.3 (MMIO driver requirements): 4.2.3.1 device discovery and reset,
 * 4.2.3.2 virtqueue configuration, 4.2.3.3 notification, 4.2.3.4
 * interrupts.
 */
#include "transport_mmio.h"

#include <errno.h>
#include <string.h>

#include "virtio_mmio.h"
#include "virtio_platform.h"

static const struct virtio_mmio_regs *regs_of(struct virtio_device *dev)
{
    return dev->transport_priv;
}

static uint32_t rd(struct virtio_device *dev, uint32_t off, unsigned size)
{
    const struct virtio_mmio_regs *r = regs_of(dev);
    return r->read(r->ctx, off, size);
}

static void wr(struct virtio_device *dev, uint32_t off, uint32_t val, unsigned size)
{
    const struct virtio_mmio_regs *r = regs_of(dev);
    r->write(r->ctx, off, val, size);
}

static uint32_t rd32(struct virtio_device *dev, uint32_t off)
{
    return rd(dev, off, 4);
}

static void wr32(struct virtio_device *dev, uint32_t off, uint32_t val)
{
    wr(dev, off, val, 4);
}

static uint64_t mmio_get_features(struct virtio_device *dev)
{
    uint64_t lo, hi;

    wr32(dev, VIRTIO_MMIO_DEVICE_FEATURES_SEL, 0);
    lo = rd32(dev, VIRTIO_MMIO_DEVICE_FEATURES);
    wr32(dev, VIRTIO_MMIO_DEVICE_FEATURES_SEL, 1);
    hi = rd32(dev, VIRTIO_MMIO_DEVICE_FEATURES);
    return lo | hi << 32;
}

static void mmio_set_features(struct virtio_device *dev, uint64_t features)
{
    wr32(dev, VIRTIO_MMIO_DRIVER_FEATURES_SEL, 0);
    wr32(dev, VIRTIO_MMIO_DRIVER_FEATURES, (uint32_t)features);
    wr32(dev, VIRTIO_MMIO_DRIVER_FEATURES_SEL, 1);
    wr32(dev, VIRTIO_MMIO_DRIVER_FEATURES, (uint32_t)(features >> 32));
}

static uint8_t mmio_get_status(struct virtio_device *dev)
{
    return (uint8_t)rd32(dev, VIRTIO_MMIO_STATUS);
}

static void mmio_set_status(struct virtio_device *dev, uint8_t status)
{
    wr32(dev, VIRTIO_MMIO_STATUS, status);
}

static int mmio_reset(struct virtio_device *dev)
{
    uint64_t start = virt_time_ns();

    /* 4.2.3.1: writing 0 resets; the driver waits until Status reads 0. */
    wr32(dev, VIRTIO_MMIO_STATUS, 0);
    while (rd32(dev, VIRTIO_MMIO_STATUS) != 0) {
        if (virt_time_ns() - start > VIRTIO_RESET_TIMEOUT_NS)
            return -ETIMEDOUT;
    }
    return 0;
}

static uint32_t mmio_config_generation(struct virtio_device *dev)
{
    return rd32(dev, VIRTIO_MMIO_CONFIG_GENERATION);
}

static void mmio_read_config(struct virtio_device *dev, uint32_t off, void *buf, uint32_t len)
{
    uint8_t *p = buf;
    uint32_t i = 0;

    while (i < len) {
        unsigned n = virtio_config_access_size(off + i, len - i);
        uint32_t v = rd(dev, VIRTIO_MMIO_CONFIG + off + i, n);

        memcpy(p + i, &v, n); /* little-endian: low bytes first */
        i += n;
    }
}

static void mmio_write_config(struct virtio_device *dev, uint32_t off, const void *buf,
                              uint32_t len)
{
    const uint8_t *p = buf;
    uint32_t i = 0;

    while (i < len) {
        unsigned n = virtio_config_access_size(off + i, len - i);
        uint32_t v = 0;

        memcpy(&v, p + i, n);
        wr(dev, VIRTIO_MMIO_CONFIG + off + i, v, n);
        i += n;
    }
}

static uint32_t mmio_queue_max(struct virtio_device *dev, unsigned q)
{
    wr32(dev, VIRTIO_MMIO_QUEUE_SEL, q);
    /* 4.2.3.2: the queue must not be in use already. */
    if (rd32(dev, VIRTIO_MMIO_QUEUE_READY) != 0)
        return 0;
    return rd32(dev, VIRTIO_MMIO_QUEUE_NUM_MAX);
}

static void wr64(struct virtio_device *dev, uint32_t low_off, uint64_t v)
{
    wr32(dev, low_off, (uint32_t)v);
    wr32(dev, low_off + 4, (uint32_t)(v >> 32));
}

static int mmio_queue_setup(struct virtio_device *dev, unsigned q, uint32_t size, uint64_t desc,
                            uint64_t avail, uint64_t used)
{
    /* 4.2.3.2 steps 1-6 (the caller allocated and zeroed the rings). */
    wr32(dev, VIRTIO_MMIO_QUEUE_SEL, q);
    wr32(dev, VIRTIO_MMIO_QUEUE_NUM, size);
    wr64(dev, VIRTIO_MMIO_QUEUE_DESC_LOW, desc);
    wr64(dev, VIRTIO_MMIO_QUEUE_DRIVER_LOW, avail);
    wr64(dev, VIRTIO_MMIO_QUEUE_DEVICE_LOW, used);
    return 0;
}

static int mmio_queue_enable(struct virtio_device *dev, unsigned q)
{
    /* 4.2.3.2 step 7. */
    wr32(dev, VIRTIO_MMIO_QUEUE_SEL, q);
    wr32(dev, VIRTIO_MMIO_QUEUE_READY, 1);
    return rd32(dev, VIRTIO_MMIO_QUEUE_READY) == 1 ? 0 : -EIO;
}

static void mmio_notify(struct virtio_device *dev, unsigned q)
{
    /* 4.2.3.3: write the queue index to QueueNotify. */
    wr32(dev, VIRTIO_MMIO_QUEUE_NOTIFY, q);
}

static uint32_t mmio_interrupt_ack(struct virtio_device *dev)
{
    /* 4.2.3.4: read InterruptStatus, write the handled bits to InterruptACK. */
    uint32_t isr = rd32(dev, VIRTIO_MMIO_INTERRUPT_STATUS);

    isr &= VIRTIO_INT_USED_BUFFER | VIRTIO_INT_CONFIG_CHANGE;
    if (isr)
        wr32(dev, VIRTIO_MMIO_INTERRUPT_ACK, isr);
    return isr;
}

/* Raw accesses for hdt (virtio.h reg_read/reg_write): any size 1/2/4 at
 * any offset inside the window, exactly as given; what a real device or
 * the register file does with a wrong width or an undefined offset is the
 * point of the exercise (4.2.2.2 forbids the driver both). */
#define VIRTIO_MMIO_RAW_WINDOW 0x200u /* microvm's per-device stride */

static int mmio_raw_check(unsigned space, uint32_t off, unsigned size)
{
    if (space != VIRTIO_REGS_MMIO)
        return -ENOTSUP;
    if ((size != 1 && size != 2 && size != 4) || off > VIRTIO_MMIO_RAW_WINDOW - size)
        return -EINVAL;
    return 0;
}

static int mmio_reg_read(struct virtio_device *dev, unsigned space, uint32_t off, unsigned size,
                         uint32_t *val)
{
    int err = mmio_raw_check(space, off, size);

    if (err == 0)
        *val = rd(dev, off, size);
    return err;
}

static int mmio_reg_write(struct virtio_device *dev, unsigned space, uint32_t off, unsigned size,
                          uint32_t val)
{
    int err = mmio_raw_check(space, off, size);

    if (err == 0)
        wr(dev, off, val, size);
    return err;
}

#define VIRTIO_MMIO_OPS(transport_name)                                                       \
    {                                                                                         \
        .name = transport_name, .get_features = mmio_get_features,                            \
        .set_features = mmio_set_features, .get_status = mmio_get_status,                     \
        .set_status = mmio_set_status, .reset = mmio_reset,                                   \
        .config_generation = mmio_config_generation, .read_config = mmio_read_config,         \
        .write_config = mmio_write_config, .queue_max = mmio_queue_max,                       \
        .queue_setup = mmio_queue_setup, .queue_enable = mmio_queue_enable,                   \
        .queue_reset = NULL /* VIRTIO_F_RING_RESET is not negotiated */,                      \
        .notify = mmio_notify, .interrupt_ack = mmio_interrupt_ack, .set_vector = NULL,       \
        .reg_read = mmio_reg_read, .reg_write = mmio_reg_write,                               \
    }

const struct virtio_transport_ops virtio_mmio_ops = VIRTIO_MMIO_OPS("mmio");
const struct virtio_transport_ops virtio_mmio_loopback_ops = VIRTIO_MMIO_OPS("loopback");

int virtio_mmio_device_create(const struct virtio_mmio_regs *regs,
                              const struct virtio_transport_ops *ops, const char *name,
                              struct virtio_device **out)
{
    struct virtio_device *dev;
    struct virtio_mmio_regs *r;
    uint32_t id;

    /* 4.2.3.1.1: check magic and version, ignore device id 0 (an empty slot). */
    if (regs->read(regs->ctx, VIRTIO_MMIO_MAGIC_VALUE, 4) != VIRTIO_MMIO_MAGIC ||
        regs->read(regs->ctx, VIRTIO_MMIO_VERSION, 4) != VIRTIO_MMIO_VERSION_2)
        return -ENODEV;
    id = regs->read(regs->ctx, VIRTIO_MMIO_DEVICE_ID, 4);
    if (id == 0)
        return -ENODEV;
    dev = virt_zalloc(sizeof(*dev));
    r = virt_zalloc(sizeof(*r));
    if (!dev || !r) {
        virt_free(dev);
        virt_free(r);
        return -ENOMEM;
    }
    *r = *regs;
    strncpy(dev->name, name, VIRTIO_NAME_MAX - 1);
    dev->device_id = id;
    dev->ops = ops;
    dev->transport_priv = r;
    *out = dev;
    return 0;
}

void virtio_mmio_device_destroy(struct virtio_device *dev)
{
    if (!dev)
        return;
    virtio_del_vqs(dev);
    virt_free(dev->transport_priv);
    virt_free(dev);
}

const struct virtio_mmio_regs *virtio_mmio_device_regs(struct virtio_device *dev)
{
    return regs_of(dev);
}

/*
 * Direct accessors. The compiler fence keeps ring stores the caller made
 * (plain or atomic) on the program-order side of the doorbell write; the CPU
 * side of that ordering is virtqueue.c's virt_mb() before a kick (x86 keeps
 * stores in order, including to uncached MMIO).
 */
uint32_t virtio_mmio_direct_read(void *base, uint32_t off, unsigned size)
{
    volatile uint8_t *p = (volatile uint8_t *)base + off;
    uint32_t v;

    __atomic_signal_fence(__ATOMIC_SEQ_CST);
    if (size == 1)
        v = *p;
    else if (size == 2)
        v = *(volatile uint16_t *)p;
    else
        v = *(volatile uint32_t *)p;
    __atomic_signal_fence(__ATOMIC_SEQ_CST);
    return v;
}

void virtio_mmio_direct_write(void *base, uint32_t off, uint32_t value, unsigned size)
{
    volatile uint8_t *p = (volatile uint8_t *)base + off;

    __atomic_signal_fence(__ATOMIC_SEQ_CST);
    if (size == 1)
        *p = (uint8_t)value;
    else if (size == 2)
        *(volatile uint16_t *)p = (uint16_t)value;
    else
        *(volatile uint32_t *)p = value;
    __atomic_signal_fence(__ATOMIC_SEQ_CST);
}
