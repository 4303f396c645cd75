/* SPDX-License-Identifier: Apache-2.0 */
/*
 * virtio_mmio_probe.c - finds microvm's virtio-mmio devices, binds the
 * drivers over the MMIO transport (drivers/virtio/transport_mmio.c) and
 * registers them (vblk0, vnet0, vrng0, vcon0, ...), so the shell and tests
 * use them exactly as they use PCI or loopback devices.
 *
 * Discovery, in order:
 *  1. "virtio_mmio.device=<size>@<base>:<irq>" entries on the kernel command
 *     line (the Linux convention; QEMU's microvm adds them when ACPI is off,
 *     and a user may pass them with -append); PVH hands us that line.
 *  2. Otherwise, when booted through PVH (microvm), the fixed layout of QEMU's
 *     microvm (hw/i386/microvm.c, microvm_devices_init): transports at
 *     0xfeb00000 + 512 * i with GSI base + i, where the base is 24 with the
 *     second IOAPIC (24 transports), 16 with ACPI but one IOAPIC, 5 without
 *     ACPI (8 transports each). Empty slots read device id 0.
 * Each window is checked (magic, version 2, id != 0) before use; QEMU's
 * virtio-mmio is legacy (version 1) unless started with
 * -global virtio-mmio.force-legacy=false, and we say so. Interrupts: the GSI
 * routed level / active-high through the IOAPIC to CPU 0 (virtio-mmio's
 * line follows InterruptStatus, 4.2.2); if routing fails the device runs
 * polled.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "acpi.h"
#include "apic.h"
#include "boot_info.h"
#include "kernel.h"
#include "transport_mmio.h"
#include "virtio_mmio.h"
#include "kernel/virtio/virtio_bind.h"
#include "kernel/virtio/virtio_mmio_probe.h"

#define MMIO_MAX_DEVICES 32
#define MICROVM_MMIO_BASE 0xfeb00000ULL
#define MICROVM_MMIO_STRIDE 512
#define MMIO_WINDOW_MIN 0x100 /* registers up to and including 0x0fc */

struct mmio_slot {
    uint64_t base;
    uint64_t size;
    int gsi;    /* -1: none given */
    int vector; /* -1: polled */
    struct virtio_device *dev;
    struct virtio_mmio_regs regs;
};

static struct mmio_slot slots[MMIO_MAX_DEVICES];
static unsigned nslots;

static uint32_t direct_read(void *ctx, uint32_t off, unsigned size)
{
    return virtio_mmio_direct_read(ctx, off, size);
}

static void direct_write(void *ctx, uint32_t off, uint32_t value, unsigned size)
{
    virtio_mmio_direct_write(ctx, off, value, size);
}

/* "512@0xfeb00e00:12" or "4K@0xd0000000:5:0": size[K|M]@base:irq[:id] */
static int parse_device(const char *s, struct mmio_slot *out)
{
    char *end;
    unsigned long long size = strtoull(s, &end, 0);
    if (end == s)
        return -EINVAL;
    if (*end == 'K' || *end == 'k')
        size <<= 10, end++;
    else if (*end == 'M' || *end == 'm')
        size <<= 20, end++;
    if (*end != '@')
        return -EINVAL;
    s = end + 1;
    unsigned long long base = strtoull(s, &end, 0);
    if (end == s || *end != ':')
        return -EINVAL;
    s = end + 1;
    long irq = strtol(s, &end, 0);
    if (end == s || irq < 0 || irq > 255)
        return -EINVAL;
    if (size < MMIO_WINDOW_MIN || size > (1ULL << 20) || base & 3 || base + size < base)
        return -EINVAL;
    out->base = base;
    out->size = size;
    out->gsi = (int)irq;
    return 0;
}

static void mmio_irq(unsigned vector, void *ctx)
{
    (void)vector;
    struct mmio_slot *s = ctx;
    if (s->dev)
        virtio_handle_interrupt(s->dev);
    lapic_eoi();
}

/* dev->irq_mask: the slot's IOAPIC pin (its own GSI on microvm). The line
 * is level-triggered and follows InterruptStatus (4.2.2), so an interrupt
 * the device raised while masked is delivered when the pin is unmasked. */
static int mmio_irq_mask(struct virtio_device *dev, unsigned q, bool masked)
{
    struct mmio_slot *s = dev->irq_mask_ctx;

    (void)q;
    if (s->vector < 0)
        return -EOPNOTSUPP;
    if (masked) {
        ioapic_mask((unsigned)s->gsi);
        return 0;
    }
    return ioapic_route_flags((unsigned)s->gsi, (uint8_t)s->vector, cpu_apic_id(0), false, true);
}

/* Next free index for a name prefix, counting devices already registered
 * on any transport (PCI may have taken vblk0). */
static void pick_name(uint32_t id, char *name, size_t len)
{
    for (unsigned i = 0;; i++) {
        snprintf(name, len, "%s%u", virtio_bind_prefix(id), i);
        if (!virtio_find(name))
            return;
    }
}

static void probe_slot(struct mmio_slot *s)
{
    void *base = mmio_map(s->base, s->size);
    s->regs = (struct virtio_mmio_regs){direct_read, direct_write, base};
    char name[VIRTIO_NAME_MAX];
    uint32_t id = virtio_mmio_direct_read(base, 0x008, 4);
    pick_name(id, name, sizeof(name));
    int err = virtio_mmio_device_create(&s->regs, &virtio_mmio_ops, name, &s->dev);
    if (err) {
        if (virtio_mmio_direct_read(base, 0x000, 4) == VIRTIO_MMIO_MAGIC &&
            virtio_mmio_direct_read(base, 0x004, 4) == 1 && id != 0)
            printf("virtio-mmio: 0x%lx is a legacy (version 1) device; start QEMU with "
                   "-global virtio-mmio.force-legacy=false\n",
                   (unsigned long)s->base);
        return; /* empty slot or not a v2 device */
    }

    s->vector = -1;
    if (s->gsi >= 0) {
        int v = irq_alloc_vector(mmio_irq, s);
        if (v >= 0 &&
            ioapic_route_flags((unsigned)s->gsi, (uint8_t)v, cpu_apic_id(0), false, true) == 0)
            s->vector = v;
    }
    s->dev->polled = s->vector < 0;
    s->dev->irq_mask = mmio_irq_mask;
    s->dev->irq_mask_ctx = s;
    err = virtio_bind_driver(s->dev, NULL, NULL); /* no pmem on microvm */
    if (err) {
        printf("virtio-mmio: %s at 0x%lx: no driver bound (%d)\n", name, (unsigned long)s->base,
               err);
        virtio_mmio_device_destroy(s->dev);
        s->dev = NULL;
        return;
    }
    virtio_register(s->dev);
}

/* QEMU microvm's fixed transport layout (see the top of this file). */
static void add_microvm_layout(void)
{
    const struct acpi_info *ai = acpi_get();
    unsigned gsi_base = 5, n = 8;
    if (ai && ai->nioapics >= 2) {
        gsi_base = 24;
        n = 24;
    } else if (ai && ai->has_madt) {
        gsi_base = 16;
    }
    for (unsigned i = 0; i < n && nslots < MMIO_MAX_DEVICES; i++) {
        uint64_t base = MICROVM_MMIO_BASE + (uint64_t)i * MICROVM_MMIO_STRIDE;
        /* only slots with a device are worth a driver */
        if (virtio_mmio_direct_read(mmio_map(base, MICROVM_MMIO_STRIDE), 0x008, 4) == 0)
            continue;
        slots[nslots++] = (struct mmio_slot){
            .base = base, .size = MICROVM_MMIO_STRIDE, .gsi = (int)(gsi_base + i), .vector = -1};
    }
}

void virtio_mmio_init(void)
{
    const char *key = "virtio_mmio.device=";
    for (const char *p = strstr(boot_info.cmdline, key); p && nslots < MMIO_MAX_DEVICES;
         p = strstr(p + 1, key)) {
        struct mmio_slot s = {.gsi = -1, .vector = -1};
        if (parse_device(p + strlen(key), &s) == 0)
            slots[nslots++] = s;
        else
            printf("virtio-mmio: ignoring malformed '%.40s'\n", p);
    }
    if (nslots == 0 && boot_info.entry && strcmp(boot_info.entry, "pvh") == 0)
        add_microvm_layout();
    for (unsigned i = 0; i < nslots; i++)
        probe_slot(&slots[i]);
}

unsigned virtio_mmio_slot_count(void)
{
    return nslots;
}

int virtio_mmio_slot_get(unsigned i, struct virtio_mmio_slot_info *out)
{
    if (i >= nslots)
        return -ENOENT;
    out->base = slots[i].base;
    out->size = slots[i].size;
    out->gsi = slots[i].gsi;
    out->is_polled = slots[i].vector < 0;
    out->dev = slots[i].dev;
    return 0;
}
