/* SPDX-License-Identifier: Apache-2.0 */
/*
 * pci.c - PCI enumeration through ECAM (PCIe base spec §7.2.2, "Enhanced
 * Configuration Access Mechanism"), the window(s) coming from the ACPI MCFG
 * table (PCI Firmware spec 3.0 §4.1.2).
 *
 * Each MCFG range is scanned from its first bus, following PCI-to-PCI
 * bridges to their secondary buses; function 0 decides multi-function
 * (header type bit 7).
 * A function's config space is at base + (bus << 20 | dev << 15 | fn << 12),
 * where base is the ECAM address of bus 0 of that segment.
 * BARs (PCI Local Bus spec 3.0 §6.2.5.1) are sized by the write-ones probe
 * with I/O and memory decode turned off in the command register while the
 * BARs hold the probe value, then restored; this happens on the first
 * pci_bar_get() of a function (under probe_lock), not at boot. Only the BSP
 * runs pci_init(), before anything else touches PCI; the table does not
 * change afterwards except for that one-time BAR fill.
 */
#include <stdio.h>
#include <string.h>

#include "acpi.h"
#include "init.h"
#include "kernel.h"
#include "pci.h"

#define ECAM_OFF(bus, dev, fn) (((uint64_t)(bus) << 20) | ((dev) << 15) | ((fn) << 12))
#define VIRTIO_VENDOR 0x1af4

static struct pci_dev devs[PCI_MAX_DEVS];
static unsigned ndevs, ndropped;
static uint64_t scan_us;
static struct spinlock probe_lock; /* serialises lazy BAR probing */

uint64_t pci_scan_us(void)
{
    return scan_us;
}

unsigned pci_dev_count(void)
{
    return ndevs;
}

struct pci_dev *pci_dev_get(unsigned index)
{
    return index < ndevs ? &devs[index] : NULL;
}

struct pci_dev *pci_dev_find(uint16_t vendor, uint16_t device, struct pci_dev *prev)
{
    unsigned i = prev ? (unsigned)(prev - devs) + 1 : 0;
    for (; i < ndevs; i++)
        if ((vendor == 0xffff || devs[i].vendor == vendor) &&
            (device == 0xffff || devs[i].device == device))
            return &devs[i];
    return NULL;
}

struct pci_dev *pci_dev_find_bdf(uint8_t bus, uint8_t dev, uint8_t fn)
{
    for (unsigned i = 0; i < ndevs; i++)
        if (devs[i].bus == bus && devs[i].dev == dev && devs[i].fn == fn)
            return &devs[i];
    return NULL;
}

/* Config space is 4 KiB; offsets are masked so a bad one cannot leave it,
 * and aligned down to the access size (ECAM wants naturally aligned accesses). */
uint8_t pci_cfg_read8(const struct pci_dev *d, unsigned off)
{
    return *(volatile uint8_t *)(d->cfg + (off & 0xfff));
}
uint16_t pci_cfg_read16(const struct pci_dev *d, unsigned off)
{
    return *(volatile uint16_t *)(d->cfg + (off & 0xffe));
}
uint32_t pci_cfg_read32(const struct pci_dev *d, unsigned off)
{
    return *(volatile uint32_t *)(d->cfg + (off & 0xffc));
}
void pci_cfg_write8(const struct pci_dev *d, unsigned off, uint8_t v)
{
    *(volatile uint8_t *)(d->cfg + (off & 0xfff)) = v;
}
void pci_cfg_write16(const struct pci_dev *d, unsigned off, uint16_t v)
{
    *(volatile uint16_t *)(d->cfg + (off & 0xffe)) = v;
}
void pci_cfg_write32(const struct pci_dev *d, unsigned off, uint32_t v)
{
    *(volatile uint32_t *)(d->cfg + (off & 0xffc)) = v;
}

void pci_command_set(const struct pci_dev *d, uint16_t bits)
{
    pci_cfg_write16(d, PCI_COMMAND, pci_cfg_read16(d, PCI_COMMAND) | bits);
}

unsigned pci_cap_find(const struct pci_dev *d, uint8_t cap_id, unsigned prev)
{
    if (!(pci_cfg_read16(d, PCI_STATUS) & PCI_STATUS_CAP_LIST))
        return 0;
    unsigned off = prev ? pci_cfg_read8(d, prev + 1) : pci_cfg_read8(d, PCI_CAP_PTR);
    /* 48 = (256 - 64) / 4: more entries than that means the list loops */
    for (int n = 0; n < 48; n++) {
        off &= 0xfc; /* the bottom two bits are reserved (PCI LB 3.0 §6.7) */
        if (off < 0x40)
            return 0;
        if (pci_cfg_read8(d, off) == cap_id)
            return off;
        off = pci_cfg_read8(d, off + 1);
    }
    return 0;
}

/* Size and decode BAR `i`; returns how many BAR slots it used (1 or 2).
 * The caller has turned decode off. */
static unsigned bar_probe(struct pci_dev *d, unsigned i, unsigned nbars)
{
    unsigned off = PCI_BAR0 + 4 * i;
    uint32_t orig = pci_cfg_read32(d, off);
    struct pci_bar *b = &d->bars[i];
    bool is_io = orig & 1;
    bool is_64 = !is_io && ((orig >> 1) & 3) == 2;
    if (is_64 && i + 1 >= nbars)
        return 1; /* a 64-bit BAR in the last slot is malformed: leave it NONE */

    pci_cfg_write32(d, off, 0xffffffffu);
    uint32_t lo = pci_cfg_read32(d, off);
    pci_cfg_write32(d, off, orig);
    uint32_t orig_hi = 0, hi = 0;
    if (is_64) {
        orig_hi = pci_cfg_read32(d, off + 4);
        pci_cfg_write32(d, off + 4, 0xffffffffu);
        hi = pci_cfg_read32(d, off + 4);
        pci_cfg_write32(d, off + 4, orig_hi);
    }

    if (is_io) {
        uint32_t mask = lo & ~3u;
        if (mask && !(mask >> 16))
            mask |= 0xffff0000u; /* 16-bit I/O decoders read the top half as 0 */
        if (mask) {
            b->kind = PCI_BAR_IO;
            b->addr = orig & ~3u;
            b->size = (uint32_t)(~mask + 1);
        }
        return 1;
    }
    uint64_t mask = ((uint64_t)hi << 32) | (lo & ~0xfu);
    if (!is_64)
        mask |= 0xffffffff00000000ULL;
    if (mask & 0xfffffff0u || (is_64 && hi)) {
        b->kind = is_64 ? PCI_BAR_MEM64 : PCI_BAR_MEM32;
        b->is_prefetchable = orig & 8;
        b->addr = (((uint64_t)orig_hi << 32) | orig) & ~0xfULL;
        b->size = ~mask + 1;
    }
    return is_64 ? 2 : 1;
}

static void func_add(const struct acpi_mcfg *m, volatile uint8_t *ecam, unsigned bus,
                     unsigned dev, unsigned fn)
{
    if (ndevs == PCI_MAX_DEVS) {
        ndropped++;
        return;
    }
    struct pci_dev *d = &devs[ndevs++];
    memset(d, 0, sizeof(*d));
    d->segment = m->segment;
    d->bus = (uint8_t)bus;
    d->dev = (uint8_t)dev;
    d->fn = (uint8_t)fn;
    d->cfg = ecam + ECAM_OFF(bus - m->bus_start, dev, fn);
    d->vendor = pci_cfg_read16(d, PCI_VENDOR_ID);
    d->device = pci_cfg_read16(d, PCI_DEVICE_ID);
    uint32_t cr = pci_cfg_read32(d, PCI_CLASS_REV);
    d->revision = (uint8_t)cr;
    d->prog_if = (uint8_t)(cr >> 8);
    d->subclass = (uint8_t)(cr >> 16);
    d->class_code = (uint8_t)(cr >> 24);
    d->header_type = pci_cfg_read8(d, PCI_HEADER_TYPE) & 0x7f;
    d->irq_pin = pci_cfg_read8(d, PCI_INTERRUPT_PIN);
    if (d->header_type == 0) {
        d->subsys_vendor = pci_cfg_read16(d, 0x2c);
        d->subsys_id = pci_cfg_read16(d, PCI_SUBSYS_ID);
    }
}

/* BAR sizing is deferred to the first pci_bar_get() of a device: turning
 * decode off and on makes QEMU rebuild its memory map (~1-2 ms each under
 * TCG), ~10 ms of boot for the default q35 devices alone. */
static void bars_probe(struct pci_dev *d)
{
    unsigned nbars = d->header_type == 0 ? 6 : d->header_type == 1 ? 2 : 0;
    if (nbars) {
        /* decode off once for all BARs of the function, as the firmware left it after */
        uint16_t cmd = pci_cfg_read16(d, PCI_COMMAND);
        if (cmd & (PCI_CMD_IO | PCI_CMD_MEM))
            pci_cfg_write16(d, PCI_COMMAND, cmd & ~(PCI_CMD_IO | PCI_CMD_MEM));
        for (unsigned i = 0; i < nbars;)
            i += bar_probe(d, i, nbars);
        if (cmd & (PCI_CMD_IO | PCI_CMD_MEM))
            pci_cfg_write16(d, PCI_COMMAND, cmd);
    }
    /* release: bars[] filled before the flag; pairs with pci_bar_get's acquire */
    __atomic_store_n(&d->is_bars_probed, true, __ATOMIC_RELEASE);
}

const struct pci_bar *pci_bar_get(struct pci_dev *d, unsigned i)
{
    if (i >= 6)
        return NULL;
    if (!__atomic_load_n(&d->is_bars_probed, __ATOMIC_ACQUIRE)) {
        spin_lock(&probe_lock);
        if (!d->is_bars_probed)
            bars_probe(d);
        spin_unlock(&probe_lock);
    }
    return &d->bars[i];
}

static void bus_scan(const struct acpi_mcfg *m, volatile uint8_t *ecam, unsigned bus,
                     uint64_t *visited)
{
    if (bus < m->bus_start || bus > m->bus_end || (visited[bus / 64] >> (bus % 64)) & 1)
        return; /* outside the ECAM window, or already scanned (a loop of bridges) */
    visited[bus / 64] |= 1ULL << (bus % 64);
    for (unsigned dev = 0; dev < 32; dev++) {
        volatile uint8_t *f0 = ecam + ECAM_OFF(bus - m->bus_start, dev, 0);
        if (*(volatile uint16_t *)f0 == 0xffff)
            continue;
        bool is_multi = f0[PCI_HEADER_TYPE] & 0x80;
        for (unsigned fn = 0; fn < (is_multi ? 8u : 1u); fn++) {
            volatile uint8_t *f = ecam + ECAM_OFF(bus - m->bus_start, dev, fn);
            if (*(volatile uint16_t *)f == 0xffff)
                continue;
            func_add(m, ecam, bus, dev, fn);
            /* PCI-to-PCI bridge (PCI-PCI Bridge spec 1.2 §3.2.5.3): recurse
             * into its secondary bus */
            if ((f[PCI_HEADER_TYPE] & 0x7f) == 1)
                bus_scan(m, ecam, f[PCI_SECONDARY_BUS], visited);
        }
    }
}

/*
 * Buses are found from the segment's first bus through the bridges' secondary
 * bus numbers (as the firmware programmed them), not by probing all 256:
 * under TCG each probe of an empty slot costs ~9 us, 256 buses ~70 ms of
 * boot. A bus behind a bridge the firmware left unprogrammed is not seen.
 */
static void segment_scan(const struct acpi_mcfg *m)
{
    uint64_t visited[4] = {0};
    uint64_t start = m->base + ECAM_OFF(m->bus_start, 0, 0);
    uint64_t len = (uint64_t)(m->bus_end - m->bus_start + 1) << 20;
    volatile uint8_t *ecam = mmio_map(start, len);
    bus_scan(m, ecam, m->bus_start, visited);
}

void pci_init(void)
{
    const struct acpi_info *ai = acpi_get();
    if (!ai->has_mcfg) {
        printf("pci: no MCFG table: no ECAM, PCI not enumerated\n");
        return;
    }
    uint64_t t0 = timer_ns();
    for (unsigned i = 0; i < ai->nmcfg; i++)
        segment_scan(&ai->mcfg[i]);
    scan_us = (timer_ns() - t0) / 1000;
    if (ndropped)
        printf("pci: %u function(s) beyond PCI_MAX_DEVS=%d ignored\n", ndropped, PCI_MAX_DEVS);
}

/* ---- names ---- */

bool pci_is_virtio(const struct pci_dev *d)
{
    return d->vendor == VIRTIO_VENDOR && d->device >= 0x1000 && d->device <= 0x107f;
}

/* virtio 1.2 §4.1.2.1: modern IDs are 0x1040 + type; transitional ones are
 * listed, with the type also in the subsystem device ID. */
unsigned pci_virtio_type(const struct pci_dev *d)
{
    static const uint8_t transitional[] = {1, 2, 5, 3, 8, 4, 0, 0, 0, 9};
    if (!pci_is_virtio(d))
        return 0;
    if (d->device >= 0x1040)
        return d->device - 0x1040u;
    unsigned i = d->device - 0x1000u;
    if (i < sizeof(transitional) && transitional[i])
        return transitional[i];
    return d->subsys_id;
}

static const char *virtio_name(unsigned type)
{
    /* virtio 1.2 §5 "Device Types" */
    switch (type) {
    case 1: return "virtio-net";
    case 2: return "virtio-blk";
    case 3: return "virtio-console";
    case 4: return "virtio-rng";
    case 5: return "virtio-balloon";
    case 8: return "virtio-scsi";
    case 9: return "virtio-9p";
    case 16: return "virtio-gpu";
    case 18: return "virtio-input";
    case 19: return "virtio-vsock";
    case 20: return "virtio-crypto";
    case 23: return "virtio-iommu";
    case 24: return "virtio-mem";
    case 25: return "virtio-sound";
    case 26: return "virtio-fs";
    case 27: return "virtio-pmem";
    case 34: return "virtio-i2c";
    case 41: return "virtio-gpio";
    default: return "virtio (unknown type)";
    }
}

static const struct {
    uint8_t cls, sub;
    const char *name;
} class_names[] = {
    {0x01, 0x00, "SCSI controller"}, {0x01, 0x01, "IDE controller"},
    {0x01, 0x06, "SATA controller"}, {0x01, 0x08, "NVMe controller"},
    {0x01, 0x80, "storage controller"}, {0x02, 0x00, "Ethernet controller"},
    {0x03, 0x00, "VGA controller"},   {0x03, 0x80, "display controller"},
    {0x04, 0x03, "audio device"},     {0x06, 0x00, "host bridge"},
    {0x06, 0x01, "ISA bridge"},       {0x06, 0x04, "PCI bridge"},
    {0x06, 0x80, "bridge"},           {0x07, 0x00, "serial controller"},
    {0x08, 0x80, "system peripheral"}, {0x0c, 0x03, "USB controller"},
    {0x0c, 0x05, "SMBus controller"}, {0xff, 0xff, "unassigned class"},
};

const char *pci_dev_name(const struct pci_dev *d)
{
    if (pci_is_virtio(d))
        return virtio_name(pci_virtio_type(d));
    for (unsigned i = 0; i < ARRAY_SIZE(class_names); i++)
        if (class_names[i].cls == d->class_code && class_names[i].sub == d->subclass)
            return class_names[i].name;
    return "device";
}
