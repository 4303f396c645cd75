/* SPDX-License-Identifier: Apache-2.0 */
/*
 * test_acpi.c - suite "acpi": acpi_parse() on tables built here, good and
 * corrupt (bad checksums, zero or overlong entry lengths, absurd table
 * lengths, bad pointers, too many CPUs, a bad RSDP 2.0 part or XSDT falling
 * back to the RSDT), then the firmware's own tables, the ISA override lookup
 * and the MSI composition. Layouts: ACPI 6.5 §5.2.5 (RSDP), §5.2.6 (header),
 * §5.2.12 (MADT), PCI Firmware spec 3.0 §4.1.2 (MCFG), §5.2.9 (FADT).
 */
#include <errno.h>
#include <string.h>

#include "acpi.h"
#include "apic.h"
#include "kernel.h"
#include "kernel/tests/ktest.h"

/* Scratch layout inside two pages: RSDP, XSDT, RSDT, MADT, MCFG, FADT. */
#define OFF_RSDP 0x000
#define OFF_XSDT 0x040
#define OFF_RSDT 0x0c0 /* the XSDT (68 bytes) ends at 0x84 */
#define OFF_MCFG 0x100
#define OFF_FADT 0x200
#define OFF_MADT 0x400 /* last: tests grow it */

struct scratch {
    uint8_t *b;
    uint64_t pa;
    uint32_t madt_len;
};

static void put16(uint8_t *p, uint16_t v) { memcpy(p, &v, 2); }
static void put32(uint8_t *p, uint32_t v) { memcpy(p, &v, 4); }
static void put64(uint8_t *p, uint64_t v) { memcpy(p, &v, 8); }

static uint8_t sum(const uint8_t *p, size_t n)
{
    uint8_t s = 0;
    while (n--)
        s += *p++;
    return s;
}

static void table_seal(uint8_t *t)
{
    uint32_t len;
    memcpy(&len, t + 4, 4);
    t[9] = 0;
    t[9] = (uint8_t)-sum(t, len);
}

static void table_begin(uint8_t *t, const char *sig, uint32_t len)
{
    memcpy(t, sig, 4);
    put32(t + 4, len);
    t[8] = 1;
}

static void rsdp_build(struct scratch *s, uint8_t rev)
{
    uint8_t *r = s->b + OFF_RSDP;
    memset(r, 0, 36);
    memcpy(r, "RSD PTR ", 8);
    r[15] = rev;
    put32(r + 16, (uint32_t)(s->pa + OFF_RSDT));
    put32(r + 20, 36);
    put64(r + 24, s->pa + OFF_XSDT);
    r[8] = (uint8_t)-sum(r, 20);
    r[32] = (uint8_t)-sum(r, 36);
}

static void roots_build(struct scratch *s, uint64_t extra)
{
    static const unsigned offs[] = {OFF_MADT, OFF_MCFG, OFF_FADT};
    uint8_t *x = s->b + OFF_XSDT, *r = s->b + OFF_RSDT;
    table_begin(x, "XSDT", 36 + 8 * 4);
    table_begin(r, "RSDT", 36 + 4 * 4);
    for (unsigned i = 0; i < 3; i++) {
        put64(x + 36 + 8 * i, s->pa + offs[i]);
        put32(r + 36 + 4 * i, (uint32_t)(s->pa + offs[i]));
    }
    put64(x + 36 + 24, extra); /* a 4th entry: a bad pointer, or 0 */
    put32(r + 36 + 12, (uint32_t)extra);
    table_seal(x);
    table_seal(r);
}

static uint8_t *madt_entry(struct scratch *s, uint8_t type, uint8_t len)
{
    uint8_t *e = s->b + OFF_MADT + s->madt_len;
    memset(e, 0, len);
    e[0] = type;
    e[1] = len;
    s->madt_len += len;
    return e;
}

static void madt_lapic(struct scratch *s, uint8_t id, uint32_t flags)
{
    uint8_t *e = madt_entry(s, 0, 8);
    e[2] = id;
    e[3] = id;
    put32(e + 4, flags);
}

static void madt_x2apic(struct scratch *s, uint32_t id, uint32_t flags)
{
    uint8_t *e = madt_entry(s, 9, 16);
    put32(e + 4, id);
    put32(e + 8, flags);
    put32(e + 12, id);
}

static void madt_begin(struct scratch *s)
{
    s->madt_len = 44;
    memset(s->b + OFF_MADT, 0, 44);
    put32(s->b + OFF_MADT + 36, 0xfee00000u);
    put32(s->b + OFF_MADT + 40, 1);
}

static void madt_end(struct scratch *s)
{
    table_begin(s->b + OFF_MADT, "APIC", s->madt_len);
    table_seal(s->b + OFF_MADT);
}

/* A complete, valid set: 2 enabled LAPICs, one disabled, one only
 * online-capable, an x2APIC CPU, a duplicate; an IOAPIC; two overrides;
 * MCFG with one good and one malformed entry; a FADT with a PM timer. */
static void tables_build(struct scratch *s)
{
    memset(s->b, 0, 2 * PAGE_SIZE);
    madt_begin(s);
    madt_lapic(s, 0, 1);
    madt_lapic(s, 1, 1);
    madt_lapic(s, 2, 0); /* disabled */
    madt_lapic(s, 3, 2); /* online capable only: not started */
    madt_x2apic(s, 300, 1);
    madt_x2apic(s, 1, 1); /* the same CPU again */
    uint8_t *io = madt_entry(s, 1, 12);
    io[2] = 7;
    put32(io + 4, 0xfec00000u);
    put32(io + 8, 24);
    uint8_t *iso = madt_entry(s, 2, 10);
    iso[3] = 0;
    put32(iso + 4, 2);
    iso = madt_entry(s, 2, 10);
    iso[3] = 9;
    put32(iso + 4, 9);
    put16(iso + 8, ACPI_INTI_POLARITY_LOW | ACPI_INTI_TRIGGER_LEVEL);
    madt_end(s);

    uint8_t *m = s->b + OFF_MCFG;
    table_begin(m, "MCFG", 44 + 32);
    put64(m + 44, 0xb0000000u);
    m[44 + 11] = 0x3f;
    put64(m + 60, 0xc0000000u);
    m[60 + 10] = 5; /* start 5 > end 0: malformed */
    table_seal(m);

    uint8_t *f = s->b + OFF_FADT;
    table_begin(f, "FACP", 244);
    put32(f + 76, 0x608);
    put32(f + 112, (1u << 8) | (1u << 10)); /* TMR_VAL_EXT, RESET_REG_SUP */
    f[116] = 1;                             /* reset register: system I/O */
    f[117] = 8;
    put64(f + 120, 0xcf9);
    f[128] = 6;
    table_seal(f);

    roots_build(s, 0);
    rsdp_build(s, 2);
}

static bool scratch_get(struct ktest *t, struct scratch *s)
{
    s->b = page_alloc(2);
    if (!s->b) {
        ktest_fail(t, __FILE__, __LINE__, "out of pages");
        return false;
    }
    s->pa = virt_to_phys(s->b);
    tables_build(s);
    return true;
}

static void t_good_tables(struct ktest *t)
{
    struct scratch s;
    struct acpi_info a;
    if (!scratch_get(t, &s))
        return;
    int err = acpi_parse(s.pa + OFF_RSDP, &a, false);
    page_free(s.b, 2);
    KT_ASSERT_EQ(t, err, 0);
    KT_ASSERT(t, a.has_madt && a.has_mcfg && a.has_fadt);
    KT_ASSERT_EQ(t, a.revision, 2);
    KT_ASSERT_EQ(t, a.lapic_addr, 0xfee00000u);
    KT_ASSERT(t, a.has_8259);
    KT_ASSERT_EQ(t, a.ncpus, 3);
    KT_ASSERT_EQ(t, a.cpu_apic_ids[0], 0);
    KT_ASSERT_EQ(t, a.cpu_apic_ids[1], 1);
    KT_ASSERT_EQ(t, a.cpu_apic_ids[2], 300);
    KT_ASSERT_EQ(t, a.nioapics, 1);
    KT_ASSERT_EQ(t, a.ioapics[0].id, 7);
    KT_ASSERT_EQ(t, a.ioapics[0].gsi_base, 24);
    KT_ASSERT_EQ(t, a.noverrides, 2);
    KT_ASSERT_EQ(t, a.overrides[1].isa_irq, 9);
    KT_ASSERT_EQ(t, a.overrides[1].flags, ACPI_INTI_POLARITY_LOW | ACPI_INTI_TRIGGER_LEVEL);
    KT_ASSERT_EQ(t, a.nmcfg, 1);
    KT_ASSERT_EQ(t, a.mcfg[0].base, 0xb0000000u);
    KT_ASSERT_EQ(t, a.mcfg[0].bus_end, 0x3f);
    KT_ASSERT_EQ(t, a.pm_timer_port, 0x608);
    KT_ASSERT(t, a.is_pm_timer_32bit);
    KT_ASSERT(t, a.has_reset_reg);
    KT_ASSERT_EQ(t, a.reset_reg.addr, 0xcf9);
    KT_ASSERT_EQ(t, a.reset_value, 6);
}

static void t_bad_checksum(struct ktest *t)
{
    struct scratch s;
    struct acpi_info a;
    if (!scratch_get(t, &s))
        return;
    s.b[OFF_MADT + 20] ^= 1; /* one OEM byte off: checksum no longer zero */
    int err = acpi_parse(s.pa + OFF_RSDP, &a, false);
    page_free(s.b, 2);
    KT_ASSERT_EQ(t, err, 0);
    KT_ASSERT(t, !a.has_madt);
    KT_ASSERT_EQ(t, a.ncpus, 0);
    KT_ASSERT(t, a.has_mcfg && a.has_fadt); /* the others still count */
}

static void t_entry_lengths(struct ktest *t)
{
    struct scratch s;
    struct acpi_info a;
    if (!scratch_get(t, &s))
        return;
    /* a zero-length entry after one good CPU: parsing stops there, no hang */
    madt_begin(&s);
    madt_lapic(&s, 4, 1);
    madt_entry(&s, 0, 8)[1] = 0;
    madt_lapic(&s, 5, 1);
    madt_end(&s);
    int err0 = acpi_parse(s.pa + OFF_RSDP, &a, false);
    unsigned n0 = a.ncpus;
    /* an entry whose length runs past the table's end */
    madt_begin(&s);
    madt_lapic(&s, 4, 1);
    madt_entry(&s, 1, 12)[1] = 200;
    madt_end(&s);
    int err1 = acpi_parse(s.pa + OFF_RSDP, &a, false);
    unsigned n1 = a.ncpus, io1 = a.nioapics;
    /* entries too short for their type are ignored */
    madt_begin(&s);
    madt_entry(&s, 0, 4)[2] = 6; /* LAPIC needs 8 */
    madt_entry(&s, 9, 8);         /* x2APIC needs 16 */
    madt_lapic(&s, 7, 1);
    madt_end(&s);
    int err2 = acpi_parse(s.pa + OFF_RSDP, &a, false);
    page_free(s.b, 2);
    KT_ASSERT(t, !err0 && !err1 && !err2);
    KT_ASSERT_EQ(t, n0, 1);
    KT_ASSERT_EQ(t, n1, 1);
    KT_ASSERT_EQ(t, io1, 0);
    KT_ASSERT_EQ(t, a.ncpus, 1);
    KT_ASSERT_EQ(t, a.cpu_apic_ids[0], 7);
}

static void t_table_lengths(struct ktest *t)
{
    struct scratch s;
    struct acpi_info a;
    if (!scratch_get(t, &s))
        return;
    put32(s.b + OFF_MCFG + 4, 0x7fffffffu); /* absurd length */
    table_seal(s.b + OFF_FADT);
    put32(s.b + OFF_FADT + 4, 20); /* shorter than a header */
    int err = acpi_parse(s.pa + OFF_RSDP, &a, false);
    page_free(s.b, 2);
    KT_ASSERT_EQ(t, err, 0);
    KT_ASSERT(t, a.has_madt);
    KT_ASSERT(t, !a.has_mcfg);
    KT_ASSERT(t, !a.has_fadt);
}

static void t_bad_pointers(struct ktest *t)
{
    struct scratch s;
    struct acpi_info a;
    if (!scratch_get(t, &s))
        return;
    roots_build(&s, 1ULL << 62); /* a root entry far outside memory */
    int e0 = acpi_parse(s.pa + OFF_RSDP, &a, false);
    bool madt0 = a.has_madt;
    roots_build(&s, 0); /* a null entry */
    int e1 = acpi_parse(s.pa + OFF_RSDP, &a, false);
    bool madt1 = a.has_madt;
    int e2 = acpi_parse(0, &a, false);
    int e3 = acpi_parse(~0ULL - 8, &a, false);
    s.b[OFF_RSDP] = 'X'; /* signature */
    int e4 = acpi_parse(s.pa + OFF_RSDP, &a, false);
    page_free(s.b, 2);
    KT_ASSERT(t, !e0 && madt0);
    KT_ASSERT(t, !e1 && madt1);
    KT_ASSERT_EQ(t, e2, -ENOENT);
    KT_ASSERT_EQ(t, e3, -ENOENT);
    KT_ASSERT_EQ(t, e4, -EINVAL);
}

static void t_rsdt_fallback(struct ktest *t)
{
    struct scratch s;
    struct acpi_info a;
    if (!scratch_get(t, &s))
        return;
    s.b[OFF_RSDP + 33] ^= 1; /* extended checksum of the 2.0 part broken */
    int e0 = acpi_parse(s.pa + OFF_RSDP, &a, false);
    unsigned n0 = a.ncpus;
    rsdp_build(&s, 2);
    s.b[OFF_XSDT + 20] ^= 1; /* XSDT checksum broken */
    int e1 = acpi_parse(s.pa + OFF_RSDP, &a, false);
    unsigned n1 = a.ncpus;
    s.b[OFF_RSDT + 20] ^= 1; /* and the RSDT's too: nothing left */
    int e2 = acpi_parse(s.pa + OFF_RSDP, &a, false);
    page_free(s.b, 2);
    KT_ASSERT_EQ(t, e0, 0);
    KT_ASSERT_EQ(t, e1, 0);
    KT_ASSERT_EQ(t, n0, 3);
    KT_ASSERT_EQ(t, n1, 3);
    KT_ASSERT_EQ(t, e2, -EINVAL);
}

static void t_too_many_cpus(struct ktest *t)
{
    struct scratch s;
    struct acpi_info a;
    if (!scratch_get(t, &s))
        return;
    madt_begin(&s);
    for (unsigned i = 0; i < MAX_CPUS + 4; i++)
        madt_lapic(&s, (uint8_t)i, 1);
    madt_end(&s);
    int err = acpi_parse(s.pa + OFF_RSDP, &a, false);
    page_free(s.b, 2);
    KT_ASSERT_EQ(t, err, 0);
    KT_ASSERT_EQ(t, a.ncpus, MAX_CPUS);
    KT_ASSERT_EQ(t, a.cpus_dropped, 4);
}

static void t_firmware(struct ktest *t)
{
    const struct acpi_info *a = acpi_get();
    if (!a->has_madt) {
        ktest_skip(t, "no MADT from the firmware");
        return;
    }
    KT_ASSERT(t, a->ncpus >= cpu_count());
    KT_ASSERT(t, a->nioapics >= 1);
    for (unsigned c = 0; c < cpu_count(); c++) {
        bool listed = false;
        for (unsigned i = 0; i < a->ncpus; i++)
            listed |= a->cpu_apic_ids[i] == cpu_apic_id(c);
        KT_ASSERT(t, listed);
    }
    /* the PC's timer override (IRQ 0 -> GSI 2) is on q35 and microvm alike */
    for (unsigned i = 0; i < a->noverrides; i++)
        if (a->overrides[i].isa_irq == 0)
            KT_ASSERT_EQ(t, ioapic_isa_lookup(0).gsi, a->overrides[i].gsi);
    struct ioapic_isa_route r = ioapic_isa_lookup(4); /* COM1: no override: ISA defaults */
    bool has4 = false;
    for (unsigned i = 0; i < a->noverrides; i++)
        has4 |= a->overrides[i].isa_irq == 4;
    if (!has4)
        KT_ASSERT(t, r.gsi == 4 && !r.is_active_low && !r.is_level);
}

static void t_msi(struct ktest *t)
{
    uint64_t addr = 0;
    uint32_t data = 0;
    KT_ASSERT_EQ(t, apic_msi_compose(3, 0x41, &addr, &data), 0);
    KT_ASSERT_EQ(t, addr, 0xfee03000u);
    KT_ASSERT_EQ(t, data, 0x41);
    KT_ASSERT_EQ(t, apic_msi_compose(256, 0x41, &addr, &data), -ERANGE);
}

KTEST_SUITE(acpi_suite, "acpi", {"good_tables", t_good_tables}, {"bad_checksum", t_bad_checksum},
            {"entry_lengths", t_entry_lengths}, {"table_lengths", t_table_lengths},
            {"bad_pointers", t_bad_pointers}, {"rsdt_fallback", t_rsdt_fallback},
            {"too_many_cpus", t_too_many_cpus}, {"firmware_tables", t_firmware},
            {"msi_compose", t_msi});
