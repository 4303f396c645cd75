/* SPDX-License-Identifier: Apache-2.0 */
/* init.h - the boot-time initialisers kernel_main() calls, in this order. */
#ifndef RINGLOOP_INIT_H
#define RINGLOOP_INIT_H

#include <stddef.h>
#include <stdint.h>

void mm_init(void);
void paging_init(void);
uint64_t paging_root(void); /* physical address of the PML4 (below 4 GiB) */
int heap_init(size_t bytes);
void timer_init(void);
void acpi_init(uint64_t rsdp);  /* MADT, MCFG, FADT */
void apic_init(void);           /* LAPIC (x2APIC if present) + IOAPIC on the BSP */
void smp_init(void);            /* bring up and park every AP */
void pci_init(void);            /* ECAM enumeration */
void virtio_mmio_init(void);    /* microvm virtio-mmio devices from the PVH command line */
void virtio_pci_init(void);     /* virtio PCI modern devices: map, MSI-X, bind drivers */
void irq_set_handler(unsigned vec, void (*h)(unsigned, void *), void *ctx);

#endif
