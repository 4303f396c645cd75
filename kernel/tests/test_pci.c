/* SPDX-License-Identifier: Apache-2.0 */
/*
 * test_pci.c - suite "pci": the ECAM enumeration of kernel/pci.c on q35.
 * Checks the host bridge (8086:29c0 at 00:00.0), that ECAM reads agree with
 * the legacy 0xcf8/0xcfc mechanism (PCI LB 3.0 §3.2.2.3.2, bus 0-255, first
 * 256 bytes), that every decoded BAR is sane (power-of-two size, aligned,
 * inside its address space), that capability walks end, and the lookups.
 */
#include <stdint.h>

#include "kernel.h"
#include "kernel/tests/ktest.h"
#include "pci.h"
#include "x86.h"

static uint32_t legacy_read32(const struct pci_dev *d, unsigned off)
{
    outl(0xcf8, 0x80000000u | (uint32_t)d->bus << 16 | (uint32_t)d->dev << 11 |
                    (uint32_t)d->fn << 8 | (off & 0xfc));
    return inl(0xcfc);
}

static bool need_pci(struct ktest *t)
{
    if (pci_dev_count() == 0) {
        ktest_skip(t, "no PCI functions (no MCFG: e.g. microvm)");
        return false;
    }
    return true;
}

static void t_host_bridge(struct ktest *t)
{
    if (!need_pci(t))
        return;
    struct pci_dev *d = pci_dev_find_bdf(0, 0, 0);
    KT_ASSERT(t, d != NULL);
    KT_ASSERT_EQ(t, d->vendor, 0x8086);
    KT_ASSERT_EQ(t, d->device, 0x29c0);
    KT_ASSERT_EQ(t, d->class_code, 0x06);
    KT_ASSERT_EQ(t, d->subclass, 0x00);
    KT_ASSERT(t, pci_dev_find(0x8086, 0x29c0, NULL) == d);
    ktest_diag("%u function(s), enumerated in %lu us", pci_dev_count(),
               (unsigned long)pci_scan_us());
}

static void t_ecam_vs_legacy(struct ktest *t)
{
    if (!need_pci(t))
        return;
    static const unsigned offs[] = {PCI_VENDOR_ID, PCI_CLASS_REV, 0x0c, 0x2c, PCI_CAP_PTR};
    for (unsigned i = 0; i < pci_dev_count(); i++) {
        const struct pci_dev *d = pci_dev_get(i);
        if (d->segment != 0)
            continue; /* the legacy mechanism reaches segment 0 only */
        for (unsigned k = 0; k < ARRAY_SIZE(offs); k++) {
            uint32_t e = pci_cfg_read32(d, offs[k]), l = legacy_read32(d, offs[k]);
            if (e != l)
                KT_FAIL(t, "%02x:%02x.%x +0x%02x: ECAM 0x%08x legacy 0x%08x", d->bus, d->dev,
                        d->fn, offs[k], (unsigned)e, (unsigned)l);
        }
    }
}

static bool is_pow2(uint64_t x)
{
    return x && !(x & (x - 1));
}

static void t_bars_sane(struct ktest *t)
{
    if (!need_pci(t))
        return;
    unsigned nbars = 0;
    for (unsigned i = 0; i < pci_dev_count(); i++) {
        struct pci_dev *d = pci_dev_get(i);
        for (unsigned b = 0; b < 6; b++) {
            const struct pci_bar *bar = pci_bar_get(d, b);
            if (bar->kind == PCI_BAR_NONE)
                continue;
            nbars++;
            if (!is_pow2(bar->size) || (bar->addr & (bar->size - 1)))
                KT_FAIL(t, "%02x:%02x.%x BAR%u: addr 0x%lx size 0x%lx", d->bus, d->dev, d->fn,
                        b, (unsigned long)bar->addr, (unsigned long)bar->size);
            if (bar->kind == PCI_BAR_IO)
                KT_ASSERT(t, bar->size <= 256 && bar->addr + bar->size <= 0x10000);
            else
                KT_ASSERT(t, bar->size >= 16);
            if (bar->kind == PCI_BAR_MEM32)
                KT_ASSERT(t, bar->addr + bar->size <= (1ULL << 32));
            if (bar->kind == PCI_BAR_MEM64 && b < 5)
                KT_ASSERT_EQ(t, pci_bar_get(d, b + 1)->kind, PCI_BAR_NONE);
        }
    }
    /* q35's SATA controller (00:1f.2) always has its AHCI ABAR in BAR5 */
    struct pci_dev *sata = pci_dev_find(0x8086, 0x2922, NULL);
    if (sata) {
        const struct pci_bar *abar = pci_bar_get(sata, 5);
        KT_ASSERT_EQ(t, abar->kind, PCI_BAR_MEM32);
        KT_ASSERT(t, abar->addr != 0 && abar->size >= 0x1000);
    }
    KT_ASSERT(t, nbars > 0);
    /* probing left the devices decoding: ABAR still reads like AHCI (CAP != ~0) */
    if (sata) {
        volatile uint32_t *abar = mmio_map(pci_bar_get(sata, 5)->addr, 0x1000);
        KT_ASSERT(t, abar[0] != 0xffffffffu);
    }
}

static void t_caps(struct ktest *t)
{
    if (!need_pci(t))
        return;
    unsigned found = 0;
    for (unsigned i = 0; i < pci_dev_count(); i++) {
        const struct pci_dev *d = pci_dev_get(i);
        for (unsigned id = 1; id <= 0x15; id++) {
            unsigned n = 0;
            for (unsigned off = pci_cap_find(d, (uint8_t)id, 0); off;
                 off = pci_cap_find(d, (uint8_t)id, off)) {
                KT_ASSERT(t, off >= 0x40 && off <= 0xfc && !(off & 3));
                KT_ASSERT_EQ(t, pci_cfg_read8(d, off), id);
                if (++n > 48)
                    KT_FAIL(t, "%02x:%02x.%x: cap 0x%x list does not end", d->bus, d->dev,
                            d->fn, id);
                found++;
            }
        }
        /* a modern virtio device has at least common, notify, ISR and device caps */
        if (pci_is_virtio(d) && d->device >= 0x1040) {
            unsigned nv = 0;
            for (unsigned off = pci_cap_find(d, PCI_CAP_VENDOR, 0); off;
                 off = pci_cap_find(d, PCI_CAP_VENDOR, off))
                nv++;
            KT_ASSERT(t, nv >= 4);
        }
    }
    struct pci_dev *sata = pci_dev_find(0x8086, 0x2922, NULL);
    if (sata)
        KT_ASSERT(t, pci_cap_find(sata, PCI_CAP_MSI, 0) != 0);
    ktest_diag("%u capabilities walked", found);
}

static void t_find(struct ktest *t)
{
    if (!need_pci(t))
        return;
    unsigned n = 0;
    for (struct pci_dev *d = pci_dev_find(0x8086, 0xffff, NULL); d;
         d = pci_dev_find(0x8086, 0xffff, d)) {
        KT_ASSERT_EQ(t, d->vendor, 0x8086);
        n++;
    }
    unsigned m = 0;
    for (unsigned i = 0; i < pci_dev_count(); i++)
        m += pci_dev_get(i)->vendor == 0x8086;
    KT_ASSERT_EQ(t, n, m);
    KT_ASSERT(t, pci_dev_get(pci_dev_count()) == NULL);
    KT_ASSERT(t, pci_dev_find_bdf(0xff, 31, 7) == NULL);
}

KTEST_SUITE(pci_suite, "pci", {"host_bridge", t_host_bridge},
            {"ecam_vs_legacy", t_ecam_vs_legacy}, {"bars_sane", t_bars_sane}, {"caps", t_caps},
            {"find", t_find});
