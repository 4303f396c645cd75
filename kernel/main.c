/* SPDX-License-Identifier: Apache-2.0 */
/*
 * main.c - kernel_main(): brings the machine up after the firmware has gone
 * (boot/efi_main.c) and starts the shell. Order matters: exceptions first so
 * every later fault is reported, then memory, then time, then the devices.
 */
#include <stdio.h>

#include "boot_info.h"
#include "init.h"
#include "kernel.h"
#include "kernel/shell/shell.h"
#include "trap.h"

#define HEAP_MAX (256ULL << 20)

struct boot_info boot_info; /* filled by the entry point: efi_main() or pvh_main() */

void kernel_main(void)
{
    idt_init();
    cpu_tables_init(0);
    mm_init();
    paging_init();

    size_t heap = page_free_count() * PAGE_SIZE / 4;
    if (heap > HEAP_MAX)
        heap = HEAP_MAX;
    heap &= ~(PAGE_SIZE - 1);
    if (heap_init(heap))
        panic("heap: cannot reserve %zu bytes", heap);

    timer_init();
    acpi_init(boot_info.rsdp);
    apic_init();
    smp_init();
    pci_init();
    virtio_mmio_init();
    virtio_pci_init();

    uint64_t init_us = timer_tsc_to_ns(__builtin_ia32_rdtsc() - boot_info.entry_tsc) / 1000;
    printf("ringloop: %u cpu(s), %zu MiB free, TSC %lu MHz, kernel up in %lu.%03lu ms\n",
           cpu_count(), page_free_count() * PAGE_SIZE >> 20, (unsigned long)(tsc_hz() / 1000000),
           (unsigned long)(init_us / 1000), (unsigned long)(init_us % 1000));
    shell_run();
}
