/* SPDX-License-Identifier: Apache-2.0 */
/*
 * cmd_machine.c - shell commands that show what the machine layer found at
 * boot: `acpi` (kernel/acpi.c), `lspci` (kernel/pci.c, plus the virtio
 * binding of each function) and `cpus` (kernel/smp.c). Read-only: they go
 * through each module's accessors, never its registers or private state.
 */
#include <stdio.h>

#include "acpi.h"
#include "apic.h"
#include "kernel.h"
#include "kernel/shell/shell.h"
#include "kernel/virtio/virtio_pci.h"
#include "pci.h"
#include "smp.h"

/* ---- acpi ---- */
static int cmd_acpi(int argc, char **argv)
{
    (void)argc;
    (void)argv;
    const struct acpi_info *ai = acpi_get();
    if (!ai->has_madt && !ai->has_mcfg && !ai->has_fadt) {
        printf("error: no valid ACPI tables\n");
        return 1;
    }
    printf("RSDP revision %u (%s)\n", ai->revision, ai->revision >= 2 ? "XSDT" : "RSDT");
    if (ai->has_madt) {
        printf("MADT: LAPIC at 0x%lx, %s8259, %u enabled CPU(s):", (unsigned long)ai->lapic_addr,
               ai->has_8259 ? "" : "no ", ai->ncpus);
        for (unsigned i = 0; i < ai->ncpus; i++)
            printf(" %u", ai->cpu_apic_ids[i]);
        printf("\n");
        for (unsigned i = 0; i < ai->nioapics; i++)
            printf("  IOAPIC id %u at 0x%x, GSI base %u\n", ai->ioapics[i].id,
                   ai->ioapics[i].addr, ai->ioapics[i].gsi_base);
        for (unsigned i = 0; i < ai->noverrides; i++) {
            const struct acpi_override *o = &ai->overrides[i];
            unsigned pol = o->flags & ACPI_INTI_POLARITY_MASK;
            unsigned trig = o->flags & ACPI_INTI_TRIGGER_MASK;
            printf("  ISA IRQ %u -> GSI %u %s %s\n", o->isa_irq, o->gsi,
                   pol == ACPI_INTI_POLARITY_LOW    ? "low"
                   : pol == ACPI_INTI_POLARITY_HIGH ? "high"
                                                    : "bus-polarity",
                   trig == ACPI_INTI_TRIGGER_LEVEL   ? "level"
                   : trig == ACPI_INTI_TRIGGER_EDGE ? "edge"
                                                    : "bus-trigger");
        }
    }
    for (unsigned i = 0; i < ai->nmcfg; i++)
        printf("MCFG: segment %u buses %02x-%02x ECAM at 0x%lx\n", ai->mcfg[i].segment,
               ai->mcfg[i].bus_start, ai->mcfg[i].bus_end, (unsigned long)ai->mcfg[i].base);
    if (ai->has_fadt) {
        printf("FADT: PM timer port 0x%x (%s), PM1a_CNT port 0x%x", ai->pm_timer_port,
               ai->is_pm_timer_32bit ? "32-bit" : "24-bit", ai->pm1a_cnt_port);
        if (ai->has_reset_reg)
            printf(", reset %s 0x%lx <- 0x%x", ai->reset_reg.space == 1 ? "port" : "mem",
                   (unsigned long)ai->reset_reg.addr, ai->reset_value);
        printf("\n");
    }
    return 0;
}
SHELL_COMMAND(acpi, "acpi", "", "what the ACPI tables say: CPUs, IOAPICs, IRQ overrides, ECAM, FADT",
              cmd_acpi);

/* ---- lspci ---- */

static const char *bar_kind_name(uint8_t k)
{
    return k == PCI_BAR_IO ? "io" : k == PCI_BAR_MEM32 ? "mem32" : "mem64";
}

static int cmd_lspci(int argc, char **argv)
{
    (void)argc;
    (void)argv;
    if (!acpi_get()->has_mcfg) {
        printf("error: no ECAM (ACPI MCFG table missing)\n");
        return 1;
    }
    for (unsigned i = 0; i < pci_dev_count(); i++) {
        struct pci_dev *d = pci_dev_get(i);
        printf("%02x:%02x.%x %04x:%04x class %02x.%02x.%02x %s\n", d->bus, d->dev, d->fn,
               d->vendor, d->device, d->class_code, d->subclass, d->prog_if, pci_dev_name(d));
        for (unsigned b = 0; b < 6; b++) {
            const struct pci_bar *bar = pci_bar_get(d, b);
            if (bar->kind == PCI_BAR_NONE)
                continue;
            printf("    BAR%u %-5s%s 0x%08lx size 0x%lx\n", b, bar_kind_name(bar->kind),
                   bar->is_prefetchable ? " pref" : "", (unsigned long)bar->addr,
                   (unsigned long)bar->size);
        }
        struct virtio_device *vdev = virtio_pci_device_of(d);
        if (vdev) {
            char irq[128];
            virtio_pci_describe(vdev, irq, sizeof(irq));
            printf("    virtio %s transport %s %s\n", vdev->name, vdev->ops->name, irq);
        }
    }
    return 0;
}
SHELL_COMMAND(lspci, "lspci", "",
              "list PCI functions (bb:dd.f vendor:device class name) and their BARs", cmd_lspci);

/* ---- cpus ---- */

static const char *state_name(enum cpu_state s)
{
    switch (s) {
    case CPU_ONLINE:
        return "online";
    case CPU_IDLE:
        return "idle";
    case CPU_BUSY:
        return "busy";
    default:
        return "offline";
    }
}

static int cmd_cpus(int argc, char **argv)
{
    (void)argc;
    (void)argv;
    const char *mode = apic_is_x2apic() ? "x2apic" : "xapic";
    for (unsigned i = 0; i < cpu_count(); i++)
        printf("cpu %u  apic %-3u %-7s %-3s %s  jobs %lu\n", i, cpu_apic_id(i),
               state_name(smp_state(i)), i == 0 ? "bsp" : "ap", mode,
               (unsigned long)smp_jobs_run(i));
    for (unsigned i = 0; i < smp_failed_count(); i++)
        printf("cpu -  apic %-3u offline (did not answer INIT-SIPI-SIPI)\n", smp_failed_apic_id(i));
    return 0;
}
SHELL_COMMAND(cpus, "cpus", "", "list CPUs: index, APIC ID, state, BSP/AP, APIC mode",
              cmd_cpus);
