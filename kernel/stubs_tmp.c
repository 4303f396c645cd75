/* SPDX-License-Identifier: Apache-2.0 */
/* TEMPORARY: stand-ins until acpi.c/apic.c/smp.c/pci.c land. Delete then. */
#include <errno.h>
#include "init.h"
#include "kernel.h"

void acpi_init(uint64_t rsdp) { (void)rsdp; }
void apic_init(void) {}
void smp_init(void) {}
void pci_init(void) {}
unsigned cpu_count(void) { return 1; }
unsigned cpu_id(void) { return 0; }
void lapic_eoi(void) {}
int smp_run_on(unsigned cpu, void (*fn)(void *), void *arg) { (void)cpu; (void)fn; (void)arg; return -EINVAL; }
void smp_wait(unsigned cpu) { (void)cpu; }
