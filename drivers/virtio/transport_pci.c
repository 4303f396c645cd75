/* SPDX-License-Identifier: Apache-2.0 */
/*
 * transport_pci.c - virtio core ops over the virtio PCI modern common
 * configuration (see transport_pci.h). Register-level sequences follow
 * VIRTIO 1.2 4.1.5 (PCI-specific initialization and device operation):
 * 4.1.5.1.2 MSI-X vector configuration, 4.1.5.1.3 virtqueue configuration,
 * 4.1.5.2 available buffer notifications, 4.1.5.3/4 used buffer and
 * configuration change notifications (ISR for INTx), 4.1.4.3.2 reset.
 *
 * Invariants: the device is untrusted: queue sizes come back through the
 * core's clamping, notify offsets and config accesses are bounds-checked
 * here; 64-bit fields are written as two 32-bit halves (4.1.3.1 allows it).
 */
#include "transport_pci.h"

#include <errno.h>
#include <string.h>

#include "virtio_platform.h"

struct vpci_priv {
    struct virtio_pci_layout l;
    struct virtio_pci_io io;
    uint16_t num_queues;
    uint16_t config_entry;                    /* what we write */
    uint16_t queue_entry[VIRTIO_MAX_VQS];     /* what we write */
    uint16_t config_vector;                   /* what the device accepted */
    uint16_t queue_vector[VIRTIO_MAX_VQS];    /* what the device accepted */
    volatile uint8_t *notify[VIRTIO_MAX_VQS]; /* checked at queue_setup */
    unsigned refused;
};

static struct vpci_priv *vpci(struct virtio_device *dev)
{
    return dev->transport_priv;
}

bool virtio_pci_is_region_valid(uint64_t bar_size, uint32_t offset, uint32_t length,
                                uint32_t min_len)
{
    return length >= min_len && (uint64_t)offset + length <= bar_size;
}

/* ---- bounded register access ---- */

static uint32_t rd(struct vpci_priv *p, const struct virtio_pci_region *r, uint32_t off,
                   unsigned size)
{
    if (!r->base || off > r->len || size > r->len - off || (off & (size - 1)))
        return 0xffffffffu >> (32 - 8 * size);
    return p->io.read(p->io.ctx, r->base + off, size);
}

static void wr(struct vpci_priv *p, const struct virtio_pci_region *r, uint32_t off, uint32_t v,
               unsigned size)
{
    if (!r->base || off > r->len || size > r->len - off || (off & (size - 1)))
        return;
    p->io.write(p->io.ctx, r->base + off, v, size);
}

static uint32_t common_rd(struct virtio_device *dev, uint32_t off, unsigned size)
{
    return rd(vpci(dev), &vpci(dev)->l.common, off, size);
}

static void common_wr(struct virtio_device *dev, uint32_t off, uint32_t v, unsigned size)
{
    wr(vpci(dev), &vpci(dev)->l.common, off, v, size);
}

/* ---- ops ---- */

static uint64_t vpci_get_features(struct virtio_device *dev)
{
    uint64_t lo, hi;

    common_wr(dev, VIRTIO_PCI_COMMON_DFSELECT, 0, 4);
    lo = common_rd(dev, VIRTIO_PCI_COMMON_DF, 4);
    common_wr(dev, VIRTIO_PCI_COMMON_DFSELECT, 1, 4);
    hi = common_rd(dev, VIRTIO_PCI_COMMON_DF, 4);
    return lo | hi << 32;
}

static void vpci_set_features(struct virtio_device *dev, uint64_t features)
{
    common_wr(dev, VIRTIO_PCI_COMMON_GFSELECT, 0, 4);
    common_wr(dev, VIRTIO_PCI_COMMON_GF, (uint32_t)features, 4);
    common_wr(dev, VIRTIO_PCI_COMMON_GFSELECT, 1, 4);
    common_wr(dev, VIRTIO_PCI_COMMON_GF, (uint32_t)(features >> 32), 4);
}

static uint8_t vpci_get_status(struct virtio_device *dev)
{
    return (uint8_t)common_rd(dev, VIRTIO_PCI_COMMON_STATUS, 1);
}

static void vpci_set_status(struct virtio_device *dev, uint8_t status)
{
    common_wr(dev, VIRTIO_PCI_COMMON_STATUS, status, 1);
}

/* 4.1.5.1.2: write a vector, read it back; NO_VECTOR back means refused. */
static uint16_t vpci_write_vector(struct virtio_device *dev, uint32_t off, uint16_t entry)
{
    uint16_t got;

    common_wr(dev, off, entry, 2);
    got = (uint16_t)common_rd(dev, off, 2);
    if (entry != VIRTIO_MSI_NO_VECTOR && got != entry) {
        vpci(dev)->refused++;
        virt_log(VIRT_LOG_WARN, "%s: device refused MSI-X entry %u (reads 0x%x)", dev->name, entry,
                 got);
        return VIRTIO_MSI_NO_VECTOR;
    }
    return got;
}

static int vpci_reset(struct virtio_device *dev)
{
    struct vpci_priv *p = vpci(dev);
    uint64_t start = virt_time_ns();

    /* 4.1.4.3.2: after writing 0 the driver waits for device_status to
     * read 0 before re-initialising. */
    vpci_set_status(dev, 0);
    while (vpci_get_status(dev) != 0) {
        if (virt_time_ns() - start > VIRTIO_RESET_TIMEOUT_NS)
            return -ETIMEDOUT;
    }
    /* Reset returned every vector to NO_VECTOR: route config changes again. */
    p->config_vector = vpci_write_vector(dev, VIRTIO_PCI_COMMON_MSIX, p->config_entry);
    for (unsigned q = 0; q < VIRTIO_MAX_VQS; q++) {
        p->queue_vector[q] = VIRTIO_MSI_NO_VECTOR;
        p->notify[q] = NULL;
    }
    return 0;
}

static uint32_t vpci_config_generation(struct virtio_device *dev)
{
    return common_rd(dev, VIRTIO_PCI_COMMON_CFGGENERATION, 1);
}

static void vpci_read_config(struct virtio_device *dev, uint32_t off, void *buf, uint32_t len)
{
    struct vpci_priv *p = vpci(dev);
    uint8_t *out = buf;
    uint32_t i = 0;

    /* Outside the device's config region (shorter than the driver's
     * struct): zeroes, never an access beyond the capability. */
    memset(buf, 0, len);
    while (i < len && (uint64_t)off + i < p->l.device.len) {
        uint32_t room = p->l.device.len - (off + i);
        unsigned n = virtio_config_access_size(off + i, len - i < room ? len - i : room);
        uint32_t v;

        v = rd(p, &p->l.device, off + i, n);
        memcpy(out + i, &v, n); /* little-endian */
        i += n;
    }
}

static void vpci_write_config(struct virtio_device *dev, uint32_t off, const void *buf,
                              uint32_t len)
{
    struct vpci_priv *p = vpci(dev);
    const uint8_t *in = buf;
    uint32_t i = 0;

    /* Bytes beyond the device's config region are dropped. */
    while (i < len && (uint64_t)off + i < p->l.device.len) {
        uint32_t room = p->l.device.len - (off + i);
        unsigned n = virtio_config_access_size(off + i, len - i < room ? len - i : room);
        uint32_t v = 0;

        memcpy(&v, in + i, n);
        wr(p, &p->l.device, off + i, v, n);
        i += n;
    }
}

static void vpci_select(struct virtio_device *dev, unsigned q)
{
    common_wr(dev, VIRTIO_PCI_COMMON_Q_SELECT, q, 2);
}

static uint32_t vpci_queue_max(struct virtio_device *dev, unsigned q)
{
    struct vpci_priv *p = vpci(dev);

    if (q >= VIRTIO_MAX_VQS || q >= p->num_queues)
        return 0;
    vpci_select(dev, q);
    /* 4.1.5.1.3: a queue already enabled is not ours to set up. */
    if (common_rd(dev, VIRTIO_PCI_COMMON_Q_ENABLE, 2) != 0)
        return 0;
    return common_rd(dev, VIRTIO_PCI_COMMON_Q_SIZE, 2); /* 0: unavailable */
}

static void vpci_write64(struct virtio_device *dev, uint32_t lo_off, uint64_t v)
{
    common_wr(dev, lo_off, (uint32_t)v, 4);
    common_wr(dev, lo_off + 4, (uint32_t)(v >> 32), 4);
}

static int vpci_queue_setup(struct virtio_device *dev, unsigned q, uint32_t size, uint64_t desc,
                            uint64_t avail, uint64_t used)
{
    struct vpci_priv *p = vpci(dev);
    uint64_t noff;

    if (q >= VIRTIO_MAX_VQS || q >= p->num_queues)
        return -ENOENT;
    /* 4.1.5.1.3 steps 1-6 (the core chose size <= queue_size). */
    vpci_select(dev, q);
    common_wr(dev, VIRTIO_PCI_COMMON_Q_SIZE, size, 2);
    vpci_write64(dev, VIRTIO_PCI_COMMON_Q_DESCLO, desc);
    vpci_write64(dev, VIRTIO_PCI_COMMON_Q_AVAILLO, avail);
    vpci_write64(dev, VIRTIO_PCI_COMMON_Q_USEDLO, used);
    /* 4.1.4.4: the queue's notify address; it must lie in the region. */
    noff = (uint64_t)common_rd(dev, VIRTIO_PCI_COMMON_Q_NOFF, 2) * p->l.notify_off_multiplier;
    if (noff + 2 > p->l.notify.len) {
        virt_log(VIRT_LOG_ERR, "%s: queue %u notify offset 0x%llx outside the %u-byte region",
                 dev->name, q, (unsigned long long)noff, p->l.notify.len);
        return -EIO;
    }
    p->notify[q] = p->l.notify.base + noff;
    /* 4.1.5.1.2: MSI-X vector for this queue, read back. */
    p->queue_vector[q] = vpci_write_vector(dev, VIRTIO_PCI_COMMON_Q_MSIX, p->queue_entry[q]);
    if (p->queue_entry[q] != VIRTIO_MSI_NO_VECTOR && p->queue_vector[q] == VIRTIO_MSI_NO_VECTOR &&
        !dev->polled) {
        /* No interrupt will come for this queue: poll the whole device. */
        virt_log(VIRT_LOG_WARN, "%s: falling back to polled mode", dev->name);
        dev->polled = true;
    }
    return 0;
}

static int vpci_queue_enable(struct virtio_device *dev, unsigned q)
{
    /* 4.1.5.1.3 step 7. */
    vpci_select(dev, q);
    common_wr(dev, VIRTIO_PCI_COMMON_Q_ENABLE, 1, 2);
    return common_rd(dev, VIRTIO_PCI_COMMON_Q_ENABLE, 2) == 1 ? 0 : -EIO;
}

static void vpci_notify(struct virtio_device *dev, unsigned q)
{
    struct vpci_priv *p = vpci(dev);

    /* 4.1.5.2: write the queue index (no NOTIFICATION_DATA) at the queue's
     * notify address; checked in queue_setup. */
    if (q < VIRTIO_MAX_VQS && p->notify[q])
        p->io.write(p->io.ctx, p->notify[q], q, 2);
}

static uint32_t vpci_interrupt_ack(struct virtio_device *dev)
{
    struct vpci_priv *p = vpci(dev);

    /* 4.1.4.5: reading the ISR byte returns and clears it. */
    return rd(p, &p->l.isr, 0, 1) & (VIRTIO_INT_USED_BUFFER | VIRTIO_INT_CONFIG_CHANGE);
}

static int vpci_set_vector(struct virtio_device *dev, int q, uint16_t entry)
{
    struct vpci_priv *p = vpci(dev);

    if (q < 0) {
        p->config_entry = entry;
        p->config_vector = vpci_write_vector(dev, VIRTIO_PCI_COMMON_MSIX, entry);
        return p->config_vector == entry ? 0 : -EIO;
    }
    if ((unsigned)q >= VIRTIO_MAX_VQS || (unsigned)q >= p->num_queues)
        return -ENOENT;
    p->queue_entry[q] = entry;
    vpci_select(dev, (unsigned)q);
    p->queue_vector[q] = vpci_write_vector(dev, VIRTIO_PCI_COMMON_Q_MSIX, entry);
    return p->queue_vector[q] == entry ? 0 : -EIO;
}

/* Raw accesses for hdt (virtio.h reg_read/reg_write): inside the mapped
 * region only (a notify write "past the region" is outside what the
 * platform mapped and cannot be expressed), naturally aligned (the
 * accessor is a plain load/store; 4.1.3.1 asks drivers for that too). */
static const struct virtio_pci_region *vpci_space(struct vpci_priv *p, unsigned space)
{
    switch (space) {
    case VIRTIO_REGS_PCI_COMMON:
        return &p->l.common;
    case VIRTIO_REGS_PCI_NOTIFY:
        return &p->l.notify;
    case VIRTIO_REGS_PCI_ISR:
        return &p->l.isr;
    case VIRTIO_REGS_PCI_DEVICE:
        return &p->l.device;
    default:
        return NULL;
    }
}

static int vpci_raw_check(const struct virtio_pci_region *r, uint32_t off, unsigned size)
{
    if (!r || !r->base)
        return -ENOTSUP;
    if ((size != 1 && size != 2 && size != 4) || off > r->len || size > r->len - off ||
        (off & (size - 1)))
        return -EINVAL;
    return 0;
}

static int vpci_reg_read(struct virtio_device *dev, unsigned space, uint32_t off, unsigned size,
                         uint32_t *val)
{
    struct vpci_priv *p = vpci(dev);
    const struct virtio_pci_region *r = vpci_space(p, space);
    int err = vpci_raw_check(r, off, size);

    if (err == 0)
        *val = p->io.read(p->io.ctx, r->base + off, size);
    return err;
}

static int vpci_reg_write(struct virtio_device *dev, unsigned space, uint32_t off, unsigned size,
                          uint32_t val)
{
    struct vpci_priv *p = vpci(dev);
    const struct virtio_pci_region *r = vpci_space(p, space);
    int err = vpci_raw_check(r, off, size);

    if (err == 0)
        p->io.write(p->io.ctx, r->base + off, val, size);
    return err;
}

uint32_t virtio_pci_region_len(struct virtio_device *dev, unsigned space)
{
    const struct virtio_pci_region *r = vpci_space(vpci(dev), space);

    return r && r->base ? r->len : 0;
}

uint32_t virtio_pci_notify_multiplier(struct virtio_device *dev)
{
    return vpci(dev)->l.notify_off_multiplier;
}

const struct virtio_transport_ops virtio_pci_transport_ops = {
    .name = "pci",
    .get_features = vpci_get_features,
    .set_features = vpci_set_features,
    .get_status = vpci_get_status,
    .set_status = vpci_set_status,
    .reset = vpci_reset,
    .config_generation = vpci_config_generation,
    .read_config = vpci_read_config,
    .write_config = vpci_write_config,
    .queue_max = vpci_queue_max,
    .queue_setup = vpci_queue_setup,
    .queue_enable = vpci_queue_enable,
    .queue_reset = NULL, /* VIRTIO_F_RING_RESET is not negotiated */
    .notify = vpci_notify,
    .interrupt_ack = vpci_interrupt_ack,
    .set_vector = vpci_set_vector,
    .reg_read = vpci_reg_read,
    .reg_write = vpci_reg_write,
};

int virtio_pci_device_create(const struct virtio_pci_layout *l, const struct virtio_pci_io *io,
                             uint32_t device_id, const char *name, struct virtio_device **out)
{
    struct virtio_device *dev;
    struct vpci_priv *p;

    if (!l->common.base || l->common.len < VIRTIO_PCI_COMMON_MIN_LEN || !l->notify.base ||
        l->notify.len < 2 || !l->isr.base || l->isr.len < 1 || !io->read || !io->write)
        return -EINVAL;
    dev = virt_zalloc(sizeof(*dev));
    p = virt_zalloc(sizeof(*p));
    if (!dev || !p) {
        virt_free(dev);
        virt_free(p);
        return -ENOMEM;
    }
    p->l = *l;
    if (!p->l.device.base)
        p->l.device.len = 0;
    p->io = *io;
    p->config_entry = VIRTIO_MSI_NO_VECTOR;
    p->config_vector = VIRTIO_MSI_NO_VECTOR;
    for (unsigned q = 0; q < VIRTIO_MAX_VQS; q++) {
        p->queue_entry[q] = VIRTIO_MSI_NO_VECTOR;
        p->queue_vector[q] = VIRTIO_MSI_NO_VECTOR;
    }
    strncpy(dev->name, name, VIRTIO_NAME_MAX - 1);
    dev->device_id = device_id;
    dev->ops = &virtio_pci_transport_ops;
    dev->transport_priv = p;
    p->num_queues = (uint16_t)common_rd(dev, VIRTIO_PCI_COMMON_NUMQ, 2);
    *out = dev;
    return 0;
}

void virtio_pci_device_destroy(struct virtio_device *dev)
{
    if (!dev)
        return;
    virtio_del_vqs(dev);
    virt_free(dev->transport_priv);
    virt_free(dev);
}

void virtio_pci_device_set_msix(struct virtio_device *dev, uint16_t config_entry,
                                const uint16_t *queue_entries, unsigned nq)
{
    struct vpci_priv *p = vpci(dev);

    p->config_entry = config_entry;
    for (unsigned q = 0; q < VIRTIO_MAX_VQS; q++)
        p->queue_entry[q] = q < nq ? queue_entries[q] : VIRTIO_MSI_NO_VECTOR;
}

uint16_t virtio_pci_config_vector(struct virtio_device *dev)
{
    return vpci(dev)->config_vector;
}

uint16_t virtio_pci_queue_vector(struct virtio_device *dev, unsigned q)
{
    return q < VIRTIO_MAX_VQS ? vpci(dev)->queue_vector[q] : VIRTIO_MSI_NO_VECTOR;
}

unsigned virtio_pci_num_queues(struct virtio_device *dev)
{
    return vpci(dev)->num_queues;
}

unsigned virtio_pci_refused_vectors(struct virtio_device *dev)
{
    return vpci(dev)->refused;
}
