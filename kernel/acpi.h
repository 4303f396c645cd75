/* SPDX-License-Identifier: Apache-2.0 */
/*
 * acpi.h - what the kernel takes from the firmware's ACPI tables, parsed once
 * at boot by acpi_init() (kernel/acpi.c) and read-only afterwards.
 *
 * Only enabled CPUs are listed; counts never exceed the array sizes (extra
 * entries are counted in *_dropped and ignored). Tables that were absent or
 * failed validation leave their has_* flag false.
 */
#ifndef RINGLOOP_ACPI_H
#define RINGLOOP_ACPI_H

#include <stdbool.h>
#include <stdint.h>

#include "kernel.h"

#define ACPI_MAX_IOAPICS 8
#define ACPI_MAX_OVERRIDES 16
#define ACPI_MAX_MCFG 4

/* MPS INTI flags (ACPI 6.5 Table 5.26): polarity bits 1:0, trigger mode bits 3:2. */
#define ACPI_INTI_POLARITY_MASK 0x3
#define ACPI_INTI_POLARITY_HIGH 0x1
#define ACPI_INTI_POLARITY_LOW 0x3
#define ACPI_INTI_TRIGGER_MASK 0xc
#define ACPI_INTI_TRIGGER_EDGE 0x4
#define ACPI_INTI_TRIGGER_LEVEL 0xc

struct acpi_ioapic {
    uint32_t id;
    uint32_t addr;     /* physical MMIO base */
    uint32_t gsi_base; /* first GSI it serves */
};

struct acpi_override {
    uint8_t isa_irq;
    uint16_t flags; /* ACPI_INTI_* */
    uint32_t gsi;
};

struct acpi_mcfg {
    uint64_t base; /* ECAM address of bus 0 of this segment (PCI FW spec 3.0 §4.1.2) */
    uint16_t segment;
    uint8_t bus_start;
    uint8_t bus_end;
};

/* A Generic Address Structure (ACPI 6.5 §5.2.3.2), copied out. */
struct acpi_gas {
    uint8_t space; /* 0 memory, 1 system I/O */
    uint8_t bit_width;
    uint64_t addr;
};

struct acpi_info {
    uint8_t revision; /* RSDP revision: 0 = ACPI 1.0 (RSDT), 2+ = XSDT */
    bool has_madt, has_mcfg, has_fadt;

    /* MADT (ACPI 6.5 §5.2.12) */
    uint64_t lapic_addr;
    bool has_8259; /* PCAT_COMPAT: legacy PICs present (to be masked) */
    unsigned ncpus;
    uint32_t cpu_apic_ids[MAX_CPUS]; /* enabled CPUs in MADT order */
    unsigned cpus_dropped;           /* enabled CPUs beyond MAX_CPUS */
    unsigned nioapics;
    struct acpi_ioapic ioapics[ACPI_MAX_IOAPICS];
    unsigned noverrides;
    struct acpi_override overrides[ACPI_MAX_OVERRIDES];

    /* MCFG (PCI Firmware spec 3.0 §4.1.2) */
    unsigned nmcfg;
    struct acpi_mcfg mcfg[ACPI_MAX_MCFG];

    /* FADT (ACPI 6.5 §5.2.9) */
    uint32_t pm_timer_port; /* 0 if none */
    bool is_pm_timer_32bit;
    uint32_t pm1a_cnt_port;
    bool has_reset_reg;
    struct acpi_gas reset_reg;
    uint8_t reset_value;
};

/* The parsed tables (zeroed when acpi_init found no valid RSDP). */
const struct acpi_info *acpi_get(void);
/* Parse the tables reachable from the RSDP at rsdp_pa into *out (zeroed
 * first). 0, -ENOENT (no RSDP address) or -EINVAL (bad RSDP or root table);
 * bad individual tables are skipped, reported when is_verbose. acpi_init()
 * is acpi_parse(rsdp, <the kernel's copy>, true); tests call it on crafted
 * tables. */
int acpi_parse(uint64_t rsdp_pa, struct acpi_info *out, bool is_verbose);

#endif
