/* SPDX-License-Identifier: Apache-2.0 */
/*
 * virtio_pci.c - virtio PCI modern devices, kernel part: finds virtio
 * functions (vendor 0x1af4; device 0x1040 + type, or a transitional
 * 0x1000-0x103f one that has the modern capabilities: VIRTIO 1.2 4.1.2),
 * reads their virtio capabilities (4.1.4), maps the BAR ranges they name,
 * wires interrupts, binds the drivers (virtio_bind.c) and registers the
 * devices (vblk0, vnet0, vcon0, vrng0, vpmem0, ...). The register protocol
 * itself is drivers/virtio/transport_pci.c.
 *
 * Interrupts, best first:
 *  - MSI-X (PCI LB 3.0 6.8.2; 4.1.5.1.2): entry 0 carries config changes,
 *    entry 1+q queue q; with a smaller table the last entry is shared by
 *    the remaining queues, a one-entry table carries everything. Every
 *    entry gets its own IDT vector, delivered to CPU 0. A handler bumps
 *    the queues whose accepted vector is its entry (per-queue: no ISR
 *    read); the config entry's handler also reads the ISR through
 *    virtio_handle_interrupt() (config change / NEEDS_RESET);
 *  - INTx + ISR (4.1.5.3/4.1.5.4) when there is no MSI-X capability: the
 *    GSI is QEMU q35's fixed routing (ICH9 LPC: slot s pin p -> PIRQ
 *    E..H = GSI 20 + (s + p - 1) % 4 on bus 0, swizzled through bridges),
 *    level-triggered, active low; devices on one GSI share one vector.
 *    This is QEMU's q35 table, not parsed from the ACPI _PRT (AML);
 *  - polled (dev->polled) when neither works, or the device refuses a
 *    vector (transport_pci.c falls back on its own).
 *
 * Invariants: capability offsets/lengths are checked against the BAR size
 * before anything is mapped; the MSI-X table must fit its BAR; BARs are
 * sized (pci_bar_get) before decode is switched on. Runs once on the BSP
 * at boot; the device table never changes afterwards.
 */
#include "kernel/virtio/virtio_pci.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "apic.h"
#include "init.h"
#include "kernel.h"
#include "transport_pci.h"
#include "kernel/virtio/virtio_bind.h"
#include "x86.h"

#define VPCI_MAX_DEVS 16
#define VPCI_MAX_ENTRIES (1 + VIRTIO_MAX_VQS)
#define VIRTIO_PCI_VENDOR 0x1af4
#define RFLAGS_IF (1u << 9)

/* PCI LB 3.0 6.8.2: MSI-X capability and table entry layout. */
#define MSIX_CTRL 2
#define MSIX_TABLE 4
#define MSIX_CTRL_SIZE_MASK 0x7ff
#define MSIX_CTRL_MASKALL (1u << 14)
#define MSIX_CTRL_ENABLE (1u << 15)
#define MSIX_ENTRY_BYTES 16
#define MSIX_ENTRY_VCTRL_MASKED 1u

enum vpci_irq_mode { VPCI_IRQ_POLLED, VPCI_IRQ_MSIX, VPCI_IRQ_INTX };

struct vpci_entry {
    struct vpci_dev *vd;
    uint16_t entry; /* MSI-X table entry */
    int vector;     /* IDT vector, -1 none */
};

struct vpci_dev {
    struct pci_dev *pci;
    struct virtio_device *dev;
    enum vpci_irq_mode mode;
    unsigned nentries; /* MSI-X entries in use */
    struct vpci_entry entries[VPCI_MAX_ENTRIES];
    volatile uint32_t *msix_table; /* mapped MSI-X table (vpci_irq_mask) */
    unsigned gsi;                  /* INTx */
    int intx_vector;               /* INTx */
};

struct vpci_intx_line {
    unsigned gsi;
    int vector;
    unsigned n;
    struct vpci_dev *devs[VPCI_MAX_DEVS];
};

static struct vpci_dev vdevs[VPCI_MAX_DEVS];
static unsigned nvdevs;
static struct vpci_intx_line lines[VPCI_MAX_DEVS];
static unsigned nlines;

/* ---- register accessor for transport_pci.c ---- */

static uint32_t vpci_mmio_read(void *ctx, volatile uint8_t *a, unsigned size)
{
    (void)ctx;
    if (size == 1)
        return *a;
    if (size == 2)
        return *(volatile uint16_t *)a;
    return *(volatile uint32_t *)a;
}

static void vpci_mmio_write(void *ctx, volatile uint8_t *a, uint32_t v, unsigned size)
{
    (void)ctx;
    if (size == 1)
        *a = (uint8_t)v;
    else if (size == 2)
        *(volatile uint16_t *)a = (uint16_t)v;
    else
        *(volatile uint32_t *)a = v;
}

static const struct virtio_pci_io vpci_io = {vpci_mmio_read, vpci_mmio_write, NULL};

/* ---- capabilities ---- */

/* Map [offset, offset+length) of BAR bar, checked against its size. */
static int vpci_map_region(struct pci_dev *d, unsigned bar, uint32_t offset, uint32_t length,
                           uint32_t min_len, struct virtio_pci_region *r)
{
    const struct pci_bar *b = pci_bar_get(d, bar);

    if (!b || (b->kind != PCI_BAR_MEM32 && b->kind != PCI_BAR_MEM64) || b->addr == 0 ||
        !virtio_pci_is_region_valid(b->size, offset, length, min_len))
        return -EINVAL;
    r->base = mmio_map(b->addr + offset, length);
    r->len = length;
    return 0;
}

/* 4.1.4.1: take the first capability of each type we can use. */
static int vpci_read_caps(struct pci_dev *d, struct virtio_pci_layout *l)
{
    bool seen[VIRTIO_PCI_CAP_PCI_CFG + 1] = {false};
    unsigned off = 0;

    memset(l, 0, sizeof(*l));
    while ((off = pci_cap_find(d, PCI_CAP_VENDOR, off)) != 0) {
        uint8_t cap_len = pci_cfg_read8(d, off + 2), type = pci_cfg_read8(d, off + 3);
        uint8_t bar = pci_cfg_read8(d, off + 4);
        uint32_t offset = pci_cfg_read32(d, off + 8), length = pci_cfg_read32(d, off + 12);
        struct virtio_pci_region *r;
        uint32_t min_len = 1;

        if (cap_len < sizeof(struct virtio_pci_cap) || off + cap_len > 0x100 || bar > 5 ||
            type == 0 || type >= VIRTIO_PCI_CAP_PCI_CFG || seen[type])
            continue;
        switch (type) {
        case VIRTIO_PCI_CAP_COMMON_CFG:
            r = &l->common;
            min_len = VIRTIO_PCI_COMMON_MIN_LEN;
            break;
        case VIRTIO_PCI_CAP_NOTIFY_CFG:
            if (cap_len < VIRTIO_PCI_NOTIFY_CAP_MULT + 4)
                continue;
            r = &l->notify;
            min_len = 2;
            break;
        case VIRTIO_PCI_CAP_ISR_CFG:
            r = &l->isr;
            break;
        default:
            r = &l->device;
            break;
        }
        if (vpci_map_region(d, bar, offset, length, min_len, r) < 0) {
            printf("virtio-pci %02x:%02x.%x: capability type %u (BAR%u +0x%x len 0x%x) does "
                   "not fit the BAR: ignored\n",
                   d->bus, d->dev, d->fn, type, bar, offset, length);
            continue;
        }
        if (type == VIRTIO_PCI_CAP_NOTIFY_CFG)
            l->notify_off_multiplier = pci_cfg_read32(d, off + VIRTIO_PCI_NOTIFY_CAP_MULT);
        seen[type] = true;
    }
    return l->common.base && l->notify.base && l->isr.base ? 0 : -ENODEV;
}

/* ---- interrupts ---- */

/* MSI-X entry handler: queues routed to this entry, and the config. */
static void vpci_msix_irq(unsigned vector, void *ctx)
{
    struct vpci_entry *e = ctx;
    struct virtio_device *dev = e->vd->dev;
    uint32_t qmask = 0;

    (void)vector;
    lapic_eoi(); /* edge-triggered: nothing to hold off */
    if (!dev)
        return;
    if (virtio_pci_config_vector(dev) == e->entry)
        virtio_handle_interrupt(dev); /* reads the ISR: config change bit */
    /* Every queue routed here, with a virtqueue or not (hdt's own). */
    for (unsigned q = 0; q < VIRTIO_MAX_VQS; q++) {
        if (virtio_pci_queue_vector(dev, q) == e->entry)
            qmask |= 1u << q;
    }
    if (qmask) {
        /* The queues on this vector: one source for storm accounting. */
        virtio_count_queue_interrupts(dev, qmask);
        virtio_vqs_interrupt(dev, qmask);
        __atomic_fetch_add(&dev->interrupts, 1, __ATOMIC_RELAXED);
    }
}

/* dev->irq_mask for MSI-X: the entry's Vector Control mask bit (PCI 3.0
 * 6.8.2.9). A masked entry keeps its message pending and sends it when
 * unmasked, so nothing is lost. INTx lines are shared: not masked here. */
static int vpci_irq_mask(struct virtio_device *dev, unsigned q, bool masked)
{
    struct vpci_dev *vd = dev->irq_mask_ctx;
    uint16_t e = virtio_pci_queue_vector(dev, q);

    if (vd->mode != VPCI_IRQ_MSIX || !vd->msix_table || e >= vd->nentries)
        return -EOPNOTSUPP;
    vd->msix_table[e * (MSIX_ENTRY_BYTES / 4) + 3] = masked ? MSIX_ENTRY_VCTRL_MASKED : 0;
    return 0;
}

/* INTx: every device on the line reads (and so deasserts) its ISR, then EOI. */
static void vpci_intx_irq(unsigned vector, void *ctx)
{
    struct vpci_intx_line *line = ctx;

    (void)vector;
    for (unsigned i = 0; i < line->n; i++) {
        if (line->devs[i]->dev)
            virtio_handle_interrupt(line->devs[i]->dev);
    }
    lapic_eoi();
}

static int vpci_setup_msix(struct vpci_dev *vd, unsigned cap, unsigned nq)
{
    struct pci_dev *d = vd->pci;
    uint16_t ctrl = pci_cfg_read16(d, cap + MSIX_CTRL);
    uint32_t tbl = pci_cfg_read32(d, cap + MSIX_TABLE);
    unsigned tsize = (ctrl & MSIX_CTRL_SIZE_MASK) + 1u, n;
    uint16_t qentry[VIRTIO_MAX_VQS];
    struct virtio_pci_region r;
    int err;

    n = 1 + nq < tsize ? 1 + nq : tsize;
    if (n > VPCI_MAX_ENTRIES)
        n = VPCI_MAX_ENTRIES;
    err = vpci_map_region(d, tbl & 7, tbl & ~7u, tsize * MSIX_ENTRY_BYTES, MSIX_ENTRY_BYTES, &r);
    if (err) {
        printf("virtio-pci %02x:%02x.%x: MSI-X table does not fit its BAR\n", d->bus, d->dev,
               d->fn);
        return err;
    }
    /* Function mask while the table is written, enable, then unmask. */
    pci_cfg_write16(d, cap + MSIX_CTRL, ctrl | MSIX_CTRL_MASKALL | MSIX_CTRL_ENABLE);
    for (unsigned i = 0; i < n; i++) {
        volatile uint32_t *ent = (volatile uint32_t *)(r.base + i * MSIX_ENTRY_BYTES);
        struct vpci_entry *e = &vd->entries[i];
        uint64_t addr;
        uint32_t data;

        e->vd = vd;
        e->entry = (uint16_t)i;
        e->vector = irq_alloc_vector(vpci_msix_irq, e);
        if (e->vector < 0 ||
            apic_msi_compose(cpu_apic_id(0), (uint8_t)e->vector, &addr, &data) < 0) {
            pci_cfg_write16(d, cap + MSIX_CTRL, ctrl & ~MSIX_CTRL_ENABLE);
            return -ENOSPC; /* vectors already taken stay with their entries */
        }
        ent[3] = MSIX_ENTRY_VCTRL_MASKED;
        ent[0] = (uint32_t)addr;
        ent[1] = (uint32_t)(addr >> 32);
        ent[2] = data;
        ent[3] = 0;
    }
    vd->nentries = n;
    vd->msix_table = (volatile uint32_t *)r.base;
    vd->dev->irq_mask = vpci_irq_mask;
    vd->dev->irq_mask_ctx = vd;
    pci_cfg_write16(d, PCI_COMMAND, pci_cfg_read16(d, PCI_COMMAND) | PCI_CMD_INTX_DISABLE);
    pci_cfg_write16(d, cap + MSIX_CTRL, (ctrl | MSIX_CTRL_ENABLE) & ~MSIX_CTRL_MASKALL);
    /* Entry 0: config (and everything, with a 1-entry table); queue q:
     * entry 1+q, the last entry shared by the queues beyond the table. */
    for (unsigned q = 0; q < nq && q < VIRTIO_MAX_VQS; q++)
        qentry[q] = (uint16_t)(n == 1 ? 0 : (1 + q < n ? 1 + q : n - 1));
    virtio_pci_device_set_msix(vd->dev, 0, qentry, nq < VIRTIO_MAX_VQS ? nq : VIRTIO_MAX_VQS);
    vd->mode = VPCI_IRQ_MSIX;
    vd->dev->queue_irqs_per_vector = true;
    return 0;
}

/* QEMU q35: ICH9 routes slot s pin p (1..4) of bus 0 to PIRQ E..H, GSI
 * 20 + (s + p - 1) % 4; bridges swizzle (PCI-PCI bridge 1.2 9.1). */
static int vpci_intx_gsi(const struct pci_dev *d, unsigned *gsi)
{
    unsigned pin = d->irq_pin, bus = d->bus, slot = d->dev;

    if (pin < 1 || pin > 4)
        return -ENODEV;
    for (unsigned depth = 0; bus != 0; depth++) {
        struct pci_dev *br = NULL;

        if (depth > 8)
            return -ENODEV;
        for (unsigned i = 0; i < pci_dev_count(); i++) {
            struct pci_dev *c = pci_dev_get(i);

            if (c->header_type == 1 && pci_cfg_read8(c, PCI_SECONDARY_BUS) == bus) {
                br = c;
                break;
            }
        }
        if (!br)
            return -ENODEV;
        pin = (pin - 1 + slot) % 4 + 1;
        bus = br->bus;
        slot = br->dev;
    }
    *gsi = 20 + (slot + pin - 1) % 4;
    return 0;
}

static int vpci_setup_intx(struct vpci_dev *vd)
{
    struct vpci_intx_line *line = NULL;
    unsigned gsi;
    int err = vpci_intx_gsi(vd->pci, &gsi);

    if (err)
        return err;
    for (unsigned i = 0; i < nlines; i++) {
        if (lines[i].gsi == gsi)
            line = &lines[i];
    }
    if (!line) {
        if (nlines == VPCI_MAX_DEVS)
            return -ENOSPC;
        line = &lines[nlines];
        line->gsi = gsi;
        line->vector = irq_alloc_vector(vpci_intx_irq, line);
        if (line->vector < 0)
            return -ENOSPC;
        nlines++;
    }
    if (line->n == VPCI_MAX_DEVS)
        return -ENOSPC;
    line->devs[line->n++] = vd;
    pci_cfg_write16(vd->pci, PCI_COMMAND,
                    pci_cfg_read16(vd->pci, PCI_COMMAND) & ~PCI_CMD_INTX_DISABLE);
    err = ioapic_route_flags(gsi, (uint8_t)line->vector, cpu_apic_id(0), true, true);
    if (err) {
        line->n--;
        return err;
    }
    vd->gsi = gsi;
    vd->intx_vector = line->vector;
    vd->mode = VPCI_IRQ_INTX;
    return 0;
}

/* ---- discovery ---- */

static bool vpci_is_supported_type(unsigned type)
{
    return type == VIRTIO_ID_BLOCK || type == VIRTIO_ID_NET || type == VIRTIO_ID_RNG ||
           type == VIRTIO_ID_CONSOLE || type == VIRTIO_ID_PMEM;
}

static void *vpci_pmem_map(uint64_t start, uint64_t size, void *ctx)
{
    (void)ctx;
    return mmio_map(start, size);
}

static int vpci_probe_one(struct pci_dev *d, unsigned type, unsigned index)
{
    struct vpci_dev *vd = &vdevs[nvdevs];
    struct virtio_pci_layout l;
    char name[VIRTIO_NAME_MAX];
    unsigned cap, nq;
    int err;

    err = vpci_read_caps(d, &l); /* sizes the BARs with decode off first */
    if (err)
        return err;
    memset(vd, 0, sizeof(*vd));
    vd->pci = d;
    vd->intx_vector = -1;
    pci_command_set(d, PCI_CMD_MEM | PCI_CMD_MASTER);
    snprintf(name, sizeof(name), "%s%u", virtio_bind_prefix(type), index);
    err = virtio_pci_device_create(&l, &vpci_io, type, name, &vd->dev);
    if (err)
        return err;
    nq = virtio_pci_num_queues(vd->dev);
    cap = pci_cap_find(d, PCI_CAP_MSIX, 0);
    if (!cap || vpci_setup_msix(vd, cap, nq) < 0) {
        if (vpci_setup_intx(vd) < 0) {
            printf("virtio-pci %s: no MSI-X and no INTx route: polled mode\n", name);
            vd->dev->polled = true;
            vd->mode = VPCI_IRQ_POLLED;
        }
    }
    nvdevs++; /* from here on the interrupt handlers may see vd */
    err = virtio_bind_driver(vd->dev, vpci_pmem_map, NULL);
    if (err) {
        printf("virtio-pci %s: driver probe failed (%d)\n", name, err);
        (void)virtio_reset(vd->dev);
        return err;
    }
    return virtio_register(vd->dev);
}

void virtio_pci_init(void)
{
    unsigned counts[64] = {0};
    uint64_t flags = read_rflags();
    struct pci_dev *d = NULL;
    int err;

    /* Drivers may wait for an interrupt while probing. */
    irq_enable();
    while ((d = pci_dev_find(VIRTIO_PCI_VENDOR, 0xffff, d)) != NULL && nvdevs < VPCI_MAX_DEVS) {
        unsigned type;

        /* 4.1.2.1: modern 0x1040 + type; transitional 0x1000-0x103f
         * only with the modern capabilities (vpci_read_caps checks). */
        if (d->device < 0x1000 || d->device > 0x107f || d->header_type != 0)
            continue;
        type = pci_virtio_type(d);
        if (!vpci_is_supported_type(type) || type >= ARRAY_SIZE(counts))
            continue;
        err = vpci_probe_one(d, type, counts[type]);
        if (err == 0)
            counts[type]++;
        else
            printf("virtio-pci %02x:%02x.%x: not bound (%d)\n", d->bus, d->dev, d->fn, err);
    }
    if (!(flags & RFLAGS_IF))
        irq_disable();
}

/* ---- shell ---- */

struct virtio_device *virtio_pci_device_of(const struct pci_dev *d)
{
    for (unsigned i = 0; i < nvdevs; i++) {
        if (vdevs[i].pci == d)
            return vdevs[i].dev;
    }
    return NULL;
}

void virtio_pci_describe(struct virtio_device *dev, char *buf, size_t n)
{
    struct vpci_dev *vd = NULL;
    size_t len;

    buf[0] = '\0';
    for (unsigned i = 0; i < nvdevs; i++) {
        if (vdevs[i].dev == dev)
            vd = &vdevs[i];
    }
    if (!vd)
        return;
    if (vd->mode == VPCI_IRQ_INTX && !dev->polled) {
        snprintf(buf, n, "irq=intx gsi=%u vector=0x%x", vd->gsi, (unsigned)vd->intx_vector);
        return;
    }
    if (vd->mode != VPCI_IRQ_MSIX || dev->polled) {
        snprintf(buf, n, "irq=polled");
        return;
    }
    len = (size_t)snprintf(buf, n, "irq=msix");
    if (virtio_pci_config_vector(dev) < vd->nentries && len < n)
        len += (size_t)snprintf(buf + len, n - len, " config=0x%x",
                                (unsigned)vd->entries[virtio_pci_config_vector(dev)].vector);
    for (unsigned q = 0; q < dev->nvqs && len < n; q++) {
        uint16_t e = virtio_pci_queue_vector(dev, q);

        if (e < vd->nentries)
            len += (size_t)snprintf(buf + len, n - len, " q%u=0x%x", q,
                                    (unsigned)vd->entries[e].vector);
        else
            len += (size_t)snprintf(buf + len, n - len, " q%u=none", q);
    }
}
