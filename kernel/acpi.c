/* SPDX-License-Identifier: Apache-2.0 */
/*
 * acpi.c - finds and parses the ACPI tables the platform code needs:
 * MADT (CPUs, IOAPICs, ISA interrupt overrides), MCFG (PCI ECAM windows) and
 * FADT (PM timer, reset register).
 *
 * Path (ACPI 6.5 §5.2.5-5.2.8): RSDP -> XSDT (revision >= 2, 64-bit entries)
 * or RSDT (32-bit entries) -> tables by signature.
 *
 * Invariants: nothing from firmware is trusted. Every table is checked for a
 * sane length (header <= length <= ACPI_MAX_TABLE), an address inside the
 * identity map, and a zero byte-sum checksum before any field is read; every
 * structure inside a table is bounds-checked against the table's length; a
 * bad table is reported and skipped, never fatal. Fields are read with
 * memcpy (tables are byte-packed and often misaligned). Runs once on the BSP
 * before any other CPU exists; read-only afterwards.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "acpi.h"
#include "init.h"
#include "kernel.h"

#define ACPI_HDR_LEN 36
#define ACPI_MAX_TABLE (1u << 20)
#define ACPI_ADDR_LIMIT (64ULL << 30) /* the kernel's identity map (mm.c) */

static struct acpi_info info;

const struct acpi_info *acpi_get(void)
{
    return &info;
}

static uint8_t rd8(const uint8_t *p, size_t off)
{
    return p[off];
}
static uint16_t rd16(const uint8_t *p, size_t off)
{
    uint16_t v;
    memcpy(&v, p + off, sizeof(v));
    return v;
}
static uint32_t rd32(const uint8_t *p, size_t off)
{
    uint32_t v;
    memcpy(&v, p + off, sizeof(v));
    return v;
}
static uint64_t rd64(const uint8_t *p, size_t off)
{
    uint64_t v;
    memcpy(&v, p + off, sizeof(v));
    return v;
}

static bool is_checksum_ok(const uint8_t *p, size_t len)
{
    uint8_t sum = 0;
    for (size_t i = 0; i < len; i++)
        sum += p[i];
    return sum == 0;
}

static bool is_quiet; /* acpi_parse(..., is_verbose = false): tests feed bad tables */

__attribute__((format(printf, 1, 2))) static void warn(const char *fmt, ...)
{
    if (is_quiet)
        return;
    va_list ap;
    va_start(ap, fmt);
    vprintf(fmt, ap);
    va_end(ap);
}

static bool is_addr_ok(uint64_t pa, uint64_t len)
{
    return pa != 0 && len <= ACPI_ADDR_LIMIT && pa <= ACPI_ADDR_LIMIT - len;
}

/* Returns the table at pa if its header, length and checksum are sound. */
static const uint8_t *table_map(uint64_t pa, uint32_t *len_out)
{
    if (!is_addr_ok(pa, ACPI_HDR_LEN))
        return NULL;
    const uint8_t *t = phys_to_virt(pa);
    uint32_t len = rd32(t, 4);
    if (len < ACPI_HDR_LEN || len > ACPI_MAX_TABLE || !is_addr_ok(pa, len)) {
        warn("acpi: table %.4s at 0x%lx: bad length %u, skipped\n", (const char *)t,
               (unsigned long)pa, len);
        return NULL;
    }
    if (!is_checksum_ok(t, len)) {
        warn("acpi: table %.4s at 0x%lx: bad checksum, skipped\n", (const char *)t,
               (unsigned long)pa);
        return NULL;
    }
    *len_out = len;
    return t;
}

/* ---- MADT (ACPI 6.5 §5.2.12): 44-byte fixed part, then {type, length} entries ---- */

#define MADT_LAPIC 0
#define MADT_IOAPIC 1
#define MADT_ISO 2
#define MADT_LAPIC_ADDR 5
#define MADT_X2APIC 9
#define MADT_CPU_ENABLED 0x1 /* Local APIC Flags (Table 5.23) bit 0 */

static void madt_add_cpu(struct acpi_info *ai, uint32_t apic_id, uint32_t flags)
{
    if (!(flags & MADT_CPU_ENABLED))
        return; /* disabled or only online-capable (hot-plug): not started */
    for (unsigned i = 0; i < ai->ncpus; i++)
        if (ai->cpu_apic_ids[i] == apic_id)
            return; /* listed twice (LAPIC and x2APIC entry): keep one */
    if (ai->ncpus == MAX_CPUS) {
        ai->cpus_dropped++;
        return;
    }
    ai->cpu_apic_ids[ai->ncpus++] = apic_id;
}

static void madt_parse(struct acpi_info *ai, const uint8_t *t, uint32_t len)
{
    if (len < 44)
        return;
    ai->lapic_addr = rd32(t, 36);
    ai->has_8259 = rd32(t, 40) & 1; /* PCAT_COMPAT */
    for (uint32_t off = 44; off + 2 <= len;) {
        uint8_t type = rd8(t, off), elen = rd8(t, off + 1);
        if (elen < 2 || off + elen > len) {
            warn("acpi: MADT entry at +%u has bad length %u; rest ignored\n", off, elen);
            break;
        }
        const uint8_t *e = t + off;
        switch (type) {
        case MADT_LAPIC: /* Table 5.22: uid u8 @2, apic id u8 @3, flags u32 @4 */
            if (elen >= 8)
                madt_add_cpu(ai, rd8(e, 3), rd32(e, 4));
            break;
        case MADT_X2APIC: /* Table 5.40: x2apic id u32 @4, flags u32 @8, uid @12 */
            if (elen >= 16)
                madt_add_cpu(ai, rd32(e, 4), rd32(e, 8));
            break;
        case MADT_IOAPIC: /* Table 5.24: id u8 @2, address u32 @4, GSI base u32 @8 */
            if (elen >= 12 && ai->nioapics < ACPI_MAX_IOAPICS)
                ai->ioapics[ai->nioapics++] = (struct acpi_ioapic){
                    .id = rd8(e, 2), .addr = rd32(e, 4), .gsi_base = rd32(e, 8)};
            break;
        case MADT_ISO: /* Table 5.25: bus @2 (0 = ISA), source @3, GSI u32 @4, flags u16 @8 */
            if (elen >= 10 && rd8(e, 2) == 0 && ai->noverrides < ACPI_MAX_OVERRIDES)
                ai->overrides[ai->noverrides++] = (struct acpi_override){
                    .isa_irq = rd8(e, 3), .flags = rd16(e, 8), .gsi = rd32(e, 4)};
            break;
        case MADT_LAPIC_ADDR: /* Table 5.33: 64-bit address @4 overrides the 32-bit one */
            if (elen >= 12)
                ai->lapic_addr = rd64(e, 4);
            break;
        default:
            break;
        }
        off += elen;
    }
    ai->has_madt = true;
}

/* ---- MCFG (PCI Firmware spec 3.0 §4.1.2): 8 reserved bytes, then 16-byte entries ---- */

static void mcfg_parse(struct acpi_info *ai, const uint8_t *t, uint32_t len)
{
    for (uint32_t off = 44; off + 16 <= len && ai->nmcfg < ACPI_MAX_MCFG; off += 16) {
        struct acpi_mcfg m = {
            .base = rd64(t, off),
            .segment = rd16(t, off + 8),
            .bus_start = rd8(t, off + 10),
            .bus_end = rd8(t, off + 11),
        };
        if (m.bus_end < m.bus_start || m.base == 0 || (m.base & 0xfffff)) {
            warn("acpi: MCFG entry %u is malformed, skipped\n", (off - 44) / 16);
            continue;
        }
        ai->mcfg[ai->nmcfg++] = m;
    }
    ai->has_mcfg = ai->nmcfg > 0;
}

/* ---- FADT (ACPI 6.5 §5.2.9, Table 5.9 offsets) ---- */

#define FADT_PM1A_CNT_BLK 64
#define FADT_PM_TMR_BLK 76
#define FADT_FLAGS 112
#define FADT_RESET_REG 116
#define FADT_RESET_VALUE 128
#define FADT_X_PM_TMR_BLK 208
#define FADT_F_TMR_VAL_EXT (1u << 8)
#define FADT_F_RESET_REG_SUP (1u << 10)

static struct acpi_gas gas_read(const uint8_t *t, size_t off)
{
    return (struct acpi_gas){.space = rd8(t, off), .bit_width = rd8(t, off + 1),
                             .addr = rd64(t, off + 4)};
}

static void fadt_parse(struct acpi_info *ai, const uint8_t *t, uint32_t len)
{
    if (len < FADT_FLAGS + 4)
        return;
    ai->pm1a_cnt_port = rd32(t, FADT_PM1A_CNT_BLK);
    ai->pm_timer_port = rd32(t, FADT_PM_TMR_BLK);
    uint32_t flags = rd32(t, FADT_FLAGS);
    ai->is_pm_timer_32bit = flags & FADT_F_TMR_VAL_EXT;
    if (len >= FADT_X_PM_TMR_BLK + 12) {
        struct acpi_gas x = gas_read(t, FADT_X_PM_TMR_BLK);
        if (x.space == 1 && x.addr && x.addr < 0x10000)
            ai->pm_timer_port = (uint32_t)x.addr;
    }
    if ((flags & FADT_F_RESET_REG_SUP) && len > FADT_RESET_VALUE) {
        ai->reset_reg = gas_read(t, FADT_RESET_REG);
        ai->reset_value = rd8(t, FADT_RESET_VALUE);
        ai->has_reset_reg = ai->reset_reg.addr != 0;
    }
    ai->has_fadt = true;
}

static void table_dispatch(struct acpi_info *ai, uint64_t pa)
{
    uint32_t len;
    const uint8_t *t = table_map(pa, &len);
    if (!t)
        return;
    if (!memcmp(t, "APIC", 4) && !ai->has_madt)
        madt_parse(ai, t, len);
    else if (!memcmp(t, "MCFG", 4) && !ai->has_mcfg)
        mcfg_parse(ai, t, len);
    else if (!memcmp(t, "FACP", 4) && !ai->has_fadt)
        fadt_parse(ai, t, len);
}

/* RSDP (ACPI 6.5 §5.2.5.3): 20 bytes in 1.0 (checksum over them), 36 in 2.0+
 * (Length @20, XsdtAddress @24, extended checksum over Length bytes). */
int acpi_parse(uint64_t rsdp_pa, struct acpi_info *ai, bool is_verbose)
{
    memset(ai, 0, sizeof(*ai));
    is_quiet = !is_verbose;
    if (!is_addr_ok(rsdp_pa, 36)) {
        warn("acpi: no RSDP from the firmware\n");
        return -ENOENT;
    }
    const uint8_t *r = phys_to_virt(rsdp_pa);
    if (memcmp(r, "RSD PTR ", 8) || !is_checksum_ok(r, 20)) {
        warn("acpi: RSDP at 0x%lx is invalid\n", (unsigned long)rsdp_pa);
        return -EINVAL;
    }
    ai->revision = rd8(r, 15);
    uint64_t root = rd32(r, 16);
    unsigned esize = 4;
    if (ai->revision >= 2) {
        uint32_t rlen = rd32(r, 20);
        uint64_t xsdt = rd64(r, 24);
        if (rlen >= 36 && rlen <= 4096 && is_addr_ok(rsdp_pa, rlen) && is_checksum_ok(r, rlen) &&
            xsdt) {
            root = xsdt;
            esize = 8;
        } else {
            warn("acpi: RSDP 2.0 part invalid, using the RSDT\n");
        }
    }
    uint32_t len;
    const uint8_t *t = table_map(root, &len);
    if ((!t || memcmp(t, "XSDT", 4)) && esize == 8) {
        warn("acpi: XSDT at 0x%lx is invalid, using the RSDT\n", (unsigned long)root);
        root = rd32(r, 16);
        esize = 4;
        t = table_map(root, &len);
    }
    if (!t || memcmp(t, esize == 8 ? "XSDT" : "RSDT", 4)) {
        warn("acpi: root table at 0x%lx is invalid\n", (unsigned long)root);
        return -EINVAL;
    }
    for (uint32_t off = ACPI_HDR_LEN; off + esize <= len; off += esize)
        table_dispatch(ai, esize == 8 ? rd64(t, off) : rd32(t, off));

    if (!ai->has_madt)
        warn("acpi: no valid MADT: single CPU, no IOAPIC\n");
    if (ai->cpus_dropped)
        warn("acpi: %u enabled CPU(s) beyond MAX_CPUS=%d ignored\n", ai->cpus_dropped,
               MAX_CPUS);
    return 0;
}

void acpi_init(uint64_t rsdp_pa)
{
    acpi_parse(rsdp_pa, &info, true);
}
