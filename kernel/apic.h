/* SPDX-License-Identifier: Apache-2.0 */
/*
 * apic.h - local APIC / IOAPIC services beyond the ones in kernel.h
 * (lapic_eoi, lapic_id, lapic_send_ipi, ioapic_route): AP start-up IPIs,
 * ISA IRQ lookup, MSI composition. Platform code only.
 */
#ifndef RINGLOOP_APIC_H
#define RINGLOOP_APIC_H

#include <stdbool.h>
#include <stdint.h>

#define APIC_SPURIOUS_VECTOR 0xff
#define APIC_WAKE_VECTOR 0xf1 /* smp.c: wakes a parked CPU; handler only EOIs */
#define APIC_TICK_VECTOR 0xf2 /* irq_tick_start (kernel.h): the periodic LAPIC timer */

bool apic_is_x2apic(void);
/* On an AP: enable its LAPIC in the BSP's mode (x2APIC or xAPIC). */
void lapic_init_ap(void);
/* INIT (assert, edge) and STARTUP with the 4 KiB page number `page` (< 0x100). */
void lapic_send_init(uint32_t apic_id);
void lapic_send_sipi(uint32_t apic_id, uint8_t page);
/* One-shot LAPIC timer: an interrupt on `vector` after roughly `ticks` bus
 * ticks / 16 (uncalibrated: a safety-net wake-up, not a clock). 0 stops it.
 * It overrides (and 0 stops) a periodic irq_tick_start() on the same CPU. */
void lapic_timer_oneshot(uint8_t vector, uint32_t ticks);

/* How an ISA IRQ reaches the IOAPIC: its GSI and ACPI_INTI_* style flags,
 * from the MADT interrupt source overrides (ACPI 6.5 §5.2.12.5), else
 * identity GSI, edge, active high (ISA defaults). */
struct ioapic_isa_route {
    unsigned gsi;
    bool is_active_low;
    bool is_level;
};
struct ioapic_isa_route ioapic_isa_lookup(unsigned isa_irq);
/* Route `gsi` with explicit polarity/trigger. -ENODEV when no IOAPIC serves it,
 * -ERANGE when dest_apic_id does not fit the 8-bit IOAPIC destination. */
int ioapic_route_flags(unsigned gsi, uint8_t vector, uint32_t dest_apic_id, bool is_active_low,
                       bool is_level);
void ioapic_mask(unsigned gsi);

/* MSI/MSI-X message for a fixed, edge, physical-destination interrupt
 * (Intel SDM vol. 3 §11.11.1-2). -ERANGE if dest_apic_id > 255 (would need
 * interrupt remapping or the extended destination ID). */
int apic_msi_compose(uint32_t dest_apic_id, uint8_t vector, uint64_t *addr, uint32_t *data);

/* kernel/serial.c: route COM1's receive interrupt (ISA IRQ 4) to this CPU;
 * apic_init() calls it on the BSP. */
void serial_irq_init(void);

#endif
