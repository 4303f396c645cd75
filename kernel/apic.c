/* SPDX-License-Identifier: Apache-2.0 */
/*
 * apic.c - the local APIC of each CPU and the IOAPIC(s); the legacy 8259s are
 * masked for good.
 *
 * LAPIC (Intel SDM vol. 3 ch. 11): x2APIC mode (registers as MSRs 0x800 +
 * offset/16, §11.12) when CPUID.1:ECX[21] says the CPU has it, else xAPIC
 * MMIO at the MADT's address. Every CPU runs its LAPIC in the same mode (the
 * BSP decides in apic_init, APs follow in lapic_init_ap). The MMIO windows
 * (LAPIC, IOAPIC) are inside the identity map; the firmware's MTRRs make them
 * uncacheable (UC wins over the page tables' WB), and mmio_map() is still
 * called so a later non-identity layout only changes there.
 *
 * IOAPIC (82093AA datasheet, §3.2): IOREGSEL at +0x00, IOWIN at +0x10; the
 * redirection table starts at register 0x10, two 32-bit halves per entry.
 * All entries are masked at init; ioapic_route() unmasks one. The
 * select/window pair is protected by ioapic_lock.
 *
 * Invariants: lapic_eoi() is the only thing an interrupt handler must call
 * (spurious vector excepted: SDM §11.9 says it gets no EOI). ICR writes in
 * xAPIC mode run with interrupts off (two register writes must not be split
 * by a handler that also sends an IPI).
 */
#include <errno.h>
#include <stdio.h>

#include "acpi.h"
#include "apic.h"
#include "init.h"
#include "kernel.h"
#include "x86.h"

/* LAPIC register offsets (SDM vol. 3 Table 11-1); x2APIC MSR = 0x800 + off/16. */
#define LAPIC_ID 0x020
#define LAPIC_VER 0x030
#define LAPIC_TPR 0x080
#define LAPIC_EOI 0x0b0
#define LAPIC_SVR 0x0f0
#define LAPIC_ESR 0x280
#define LAPIC_ICR_LO 0x300
#define LAPIC_ICR_HI 0x310
#define LAPIC_LVT_TIMER 0x320
#define LAPIC_LVT_LINT0 0x350
#define LAPIC_LVT_LINT1 0x360
#define LAPIC_LVT_ERROR 0x370
#define LAPIC_TIMER_INIT 0x380
#define LAPIC_TIMER_CUR 0x390
#define LAPIC_TIMER_DIV 0x3e0

#define X2APIC_MSR_BASE 0x800
#define X2APIC_MSR_ICR 0x830 /* one 64-bit register, destination in 63:32 (§11.12.9) */

#define APIC_BASE_BSP (1ULL << 8)
#define APIC_BASE_EXTD (1ULL << 10) /* x2APIC mode */
#define APIC_BASE_EN (1ULL << 11)

#define SVR_ENABLE 0x100
#define LVT_MASKED (1u << 16)
#define LVT_TIMER_PERIODIC (1u << 17) /* timer mode 01 (SDM §11.5.4, Figure 11-8) */
#define TIMER_DIV_16 0x3
#define LVT_NMI (4u << 8)

/* ICR low word (§11.6.1) */
#define ICR_FIXED (0u << 8)
#define ICR_INIT (5u << 8)
#define ICR_STARTUP (6u << 8)
#define ICR_BUSY (1u << 12) /* delivery status, xAPIC only */
#define ICR_ASSERT (1u << 14)

#define IOAPIC_REGSEL 0x00
#define IOAPIC_WIN 0x10
#define IOAPIC_REG_VER 0x01
#define IOAPIC_REDTBL(n) (0x10 + 2 * (n))
#define IOREDTBL_ACTIVE_LOW (1u << 13)
#define IOREDTBL_LEVEL (1u << 15)
#define IOREDTBL_MASKED (1u << 16)

#define MSI_ADDR_BASE 0xfee00000u

struct ioapic {
    volatile uint32_t *regs;
    unsigned gsi_base;
    unsigned nentries;
};

static bool use_x2apic;
static volatile uint32_t *lapic_mmio;
static struct ioapic ioapics[ACPI_MAX_IOAPICS];
static unsigned nioapics;
static struct spinlock ioapic_lock;

bool apic_is_x2apic(void)
{
    return use_x2apic;
}

static uint32_t lapic_read(unsigned reg)
{
    if (use_x2apic)
        return (uint32_t)rdmsr(X2APIC_MSR_BASE + (reg >> 4));
    return lapic_mmio[reg / 4];
}

static void lapic_write(unsigned reg, uint32_t v)
{
    if (use_x2apic)
        wrmsr(X2APIC_MSR_BASE + (reg >> 4), v);
    else
        lapic_mmio[reg / 4] = v;
}

void lapic_eoi(void)
{
    if (use_x2apic)
        wrmsr(X2APIC_MSR_BASE + (LAPIC_EOI >> 4), 0);
    else if (lapic_mmio)
        lapic_mmio[LAPIC_EOI / 4] = 0;
}

uint32_t lapic_id(void)
{
    if (use_x2apic)
        return (uint32_t)rdmsr(X2APIC_MSR_BASE + (LAPIC_ID >> 4)); /* full 32-bit ID */
    if (!lapic_mmio)
        return 0;
    return lapic_mmio[LAPIC_ID / 4] >> 24;
}

static void icr_send(uint32_t apic_id, uint32_t lo)
{
    /* Stores before the IPI (e.g. a job in a mailbox) must be globally
     * visible before the target can take it. WRMSR to x2APIC registers is not
     * serializing (SDM §11.12.3), so fence explicitly; for xAPIC the UC store
     * is already ordered after earlier stores, the fence costs little.
     * Pairs with the target's load of the data after it wakes. */
    __asm__ volatile("mfence" ::: "memory");
    if (use_x2apic) {
        wrmsr(X2APIC_MSR_ICR, ((uint64_t)apic_id << 32) | lo);
        return;
    }
    uint64_t flags = read_rflags();
    irq_disable();
    for (int i = 0; i < 1000000 && (lapic_read(LAPIC_ICR_LO) & ICR_BUSY); i++)
        cpu_relax();
    lapic_write(LAPIC_ICR_HI, apic_id << 24);
    lapic_write(LAPIC_ICR_LO, lo); /* this write sends */
    for (int i = 0; i < 1000000 && (lapic_read(LAPIC_ICR_LO) & ICR_BUSY); i++)
        cpu_relax();
    if (flags & (1u << 9))
        irq_enable();
}

void lapic_send_ipi(uint32_t apic_id, uint8_t vector)
{
    icr_send(apic_id, ICR_FIXED | ICR_ASSERT | vector);
}

/* SDM vol. 3 §9.4.4.1 (typical BSP sequence): INIT IPI, 10 ms, SIPI, 200 us, SIPI. */
void lapic_send_init(uint32_t apic_id)
{
    icr_send(apic_id, ICR_INIT | ICR_ASSERT);
}

void lapic_send_sipi(uint32_t apic_id, uint8_t page)
{
    icr_send(apic_id, ICR_STARTUP | ICR_ASSERT | page);
}

void lapic_timer_oneshot(uint8_t vector, uint32_t ticks)
{
    lapic_write(LAPIC_TIMER_DIV, TIMER_DIV_16);
    lapic_write(LAPIC_LVT_TIMER, ticks ? vector : LVT_MASKED);
    lapic_write(LAPIC_TIMER_INIT, ticks); /* one-shot mode (bits 18:17 = 0) */
}

/* ---- the periodic tick (kernel.h: irq_tick_start / irq_tick_stop) ----
 *
 * The calling CPU's LAPIC timer in periodic mode on APIC_TICK_VECTOR; the
 * handler looks up that CPU's callback. The timer's rate is measured once
 * against the TSC (the first start on any CPU; every LAPIC timer runs at the
 * same bus clock), so periods are real microseconds, unlike the one-shot
 * safety nets above. A CPU's callback is only written by that CPU, with
 * interrupts off, so the handler never sees half of it.
 */
static uint32_t lapic_ticks_per_ms; /* at divide-by-16; 0 until measured */
static bool (*tick_fn[MAX_CPUS])(void *ctx);
static void *tick_ctx[MAX_CPUS];

static uint32_t lapic_timer_rate(void)
{
    uint32_t rate = __atomic_load_n(&lapic_ticks_per_ms, __ATOMIC_RELAXED);
    if (rate)
        return rate;
    /* Count down from the top for 1 ms, masked (no interrupt). Two CPUs
     * measuring at once store about the same number: either is fine. */
    lapic_write(LAPIC_TIMER_DIV, TIMER_DIV_16);
    lapic_write(LAPIC_LVT_TIMER, LVT_MASKED);
    lapic_write(LAPIC_TIMER_INIT, 0xffffffffu);
    udelay(1000);
    rate = 0xffffffffu - lapic_read(LAPIC_TIMER_CUR);
    lapic_write(LAPIC_TIMER_INIT, 0);
    if (!rate)
        rate = 1;
    __atomic_store_n(&lapic_ticks_per_ms, rate, __ATOMIC_RELAXED);
    return rate;
}

static void tick_disarm(unsigned cpu)
{
    lapic_write(LAPIC_LVT_TIMER, LVT_MASKED);
    lapic_write(LAPIC_TIMER_INIT, 0);
    tick_fn[cpu] = NULL;
}

static void tick_handler(unsigned vec, void *ctx)
{
    (void)vec;
    (void)ctx;
    unsigned cpu = cpu_id();
    bool (*fn)(void *) = tick_fn[cpu];
    if (!fn || !fn(tick_ctx[cpu]))
        tick_disarm(cpu);
    lapic_eoi();
}

int irq_tick_start(uint32_t period_us, bool (*fn)(void *ctx), void *ctx)
{
    unsigned cpu = cpu_id();
    if (!period_us || !fn)
        return -EINVAL;
    if (tick_fn[cpu])
        return -EBUSY;
    uint64_t ticks = (uint64_t)period_us * lapic_timer_rate() / 1000;
    if (ticks > 0xffffffffu)
        return -ERANGE;
    bool was_on = read_rflags() & (1u << 9);
    irq_disable();
    tick_fn[cpu] = fn;
    tick_ctx[cpu] = ctx;
    lapic_write(LAPIC_TIMER_DIV, TIMER_DIV_16);
    lapic_write(LAPIC_LVT_TIMER, APIC_TICK_VECTOR | LVT_TIMER_PERIODIC);
    lapic_write(LAPIC_TIMER_INIT, ticks ? (uint32_t)ticks : 1); /* this write starts it */
    if (was_on)
        irq_enable();
    return 0;
}

void irq_tick_stop(void)
{
    bool was_on = read_rflags() & (1u << 9);
    irq_disable();
    tick_disarm(cpu_id());
    if (was_on)
        irq_enable();
}

/* Common LAPIC set-up for the calling CPU (mode chosen in apic_init). */
static void lapic_enable(bool is_bsp)
{
    uint64_t base = rdmsr(MSR_APIC_BASE);
    if (!(base & APIC_BASE_EN)) {
        base |= APIC_BASE_EN;
        wrmsr(MSR_APIC_BASE, base);
    }
    /* xAPIC -> x2APIC is a legal transition (SDM §11.12.5, Figure 11-27). */
    if (use_x2apic && !(base & APIC_BASE_EXTD))
        wrmsr(MSR_APIC_BASE, base | APIC_BASE_EXTD);

    lapic_write(LAPIC_TPR, 0); /* accept every priority class */
    lapic_write(LAPIC_LVT_TIMER, LVT_MASKED);
    lapic_write(LAPIC_LVT_LINT0, LVT_MASKED); /* no ExtINT: the 8259s are gone */
    lapic_write(LAPIC_LVT_LINT1, is_bsp ? LVT_NMI : LVT_MASKED);
    lapic_write(LAPIC_LVT_ERROR, LVT_MASKED);
    lapic_write(LAPIC_ESR, 0); /* back-to-back writes clear ESR (§11.5.3) */
    lapic_write(LAPIC_ESR, 0);
    lapic_write(LAPIC_SVR, SVR_ENABLE | APIC_SPURIOUS_VECTOR);
}

void lapic_init_ap(void)
{
    lapic_enable(false);
}

static void spurious_handler(unsigned vec, void *ctx)
{
    (void)vec;
    (void)ctx; /* no EOI for the spurious vector (SDM §11.9) */
}

static void wake_handler(unsigned vec, void *ctx)
{
    (void)vec;
    (void)ctx;
    lapic_eoi(); /* the wake-up itself is the point; smp.c re-reads its mailbox */
}

/* 8259A: remap to 0x20-0x2f (so a spurious IRQ 7/15 cannot look like an
 * exception) and mask every line. ICW1-4 then OCW1, per the 8259A datasheet. */
static void pic_disable(void)
{
    outb(0x20, 0x11);
    outb(0xa0, 0x11);
    outb(0x21, 0x20);
    outb(0xa1, 0x28);
    outb(0x21, 0x04);
    outb(0xa1, 0x02);
    outb(0x21, 0x01);
    outb(0xa1, 0x01);
    outb(0x21, 0xff);
    outb(0xa1, 0xff);
}

/* ---- IOAPIC ---- */

static uint32_t ioapic_read(struct ioapic *io, uint32_t reg)
{
    io->regs[IOAPIC_REGSEL / 4] = reg;
    return io->regs[IOAPIC_WIN / 4];
}

static void ioapic_write(struct ioapic *io, uint32_t reg, uint32_t v)
{
    io->regs[IOAPIC_REGSEL / 4] = reg;
    io->regs[IOAPIC_WIN / 4] = v;
}

static struct ioapic *ioapic_for(unsigned gsi)
{
    for (unsigned i = 0; i < nioapics; i++)
        if (gsi >= ioapics[i].gsi_base && gsi - ioapics[i].gsi_base < ioapics[i].nentries)
            return &ioapics[i];
    return NULL;
}

static void ioapic_init_all(void)
{
    const struct acpi_info *a = acpi_get();
    for (unsigned i = 0; i < a->nioapics; i++) {
        struct ioapic *io = &ioapics[nioapics];
        io->regs = mmio_map(a->ioapics[i].addr, 0x20);
        io->gsi_base = a->ioapics[i].gsi_base;
        uint32_t ver = ioapic_read(io, IOAPIC_REG_VER);
        if (ver == 0xffffffffu) {
            printf("apic: IOAPIC at 0x%x does not answer, ignored\n", a->ioapics[i].addr);
            continue;
        }
        io->nentries = ((ver >> 16) & 0xff) + 1; /* max redirection entry + 1 */
        for (unsigned n = 0; n < io->nentries; n++) {
            ioapic_write(io, IOAPIC_REDTBL(n), IOREDTBL_MASKED);
            ioapic_write(io, IOAPIC_REDTBL(n) + 1, 0);
        }
        nioapics++;
    }
}

struct ioapic_isa_route ioapic_isa_lookup(unsigned isa_irq)
{
    struct ioapic_isa_route r = {.gsi = isa_irq};
    const struct acpi_info *a = acpi_get();
    for (unsigned i = 0; i < a->noverrides; i++) {
        const struct acpi_override *o = &a->overrides[i];
        if (o->isa_irq != isa_irq)
            continue;
        r.gsi = o->gsi;
        /* "conforms to the bus" (00) means the ISA defaults: high, edge */
        r.is_active_low = (o->flags & ACPI_INTI_POLARITY_MASK) == ACPI_INTI_POLARITY_LOW;
        r.is_level = (o->flags & ACPI_INTI_TRIGGER_MASK) == ACPI_INTI_TRIGGER_LEVEL;
        break;
    }
    return r;
}

int ioapic_route_flags(unsigned gsi, uint8_t vector, uint32_t dest_apic_id, bool is_active_low,
                       bool is_level)
{
    if (dest_apic_id > 0xff)
        return -ERANGE; /* physical destination field is 8 bits without remapping */
    struct ioapic *io = ioapic_for(gsi);
    if (!io)
        return -ENODEV;
    unsigned n = gsi - io->gsi_base;
    uint32_t lo = vector | (is_active_low ? IOREDTBL_ACTIVE_LOW : 0) |
                  (is_level ? IOREDTBL_LEVEL : 0); /* fixed delivery, physical dest */
    spin_lock(&ioapic_lock);
    /* destination first, then the low half (which unmasks) */
    ioapic_write(io, IOAPIC_REDTBL(n), IOREDTBL_MASKED);
    ioapic_write(io, IOAPIC_REDTBL(n) + 1, dest_apic_id << 24);
    ioapic_write(io, IOAPIC_REDTBL(n), lo);
    spin_unlock(&ioapic_lock);
    return 0;
}

/* kernel.h API: polarity/trigger from the MADT when gsi is where an ISA IRQ
 * arrives (by override, or identity for an IRQ without one), else the PCI
 * defaults (level, active low). */
void ioapic_route(unsigned gsi, uint8_t vector, uint32_t dest_apic_id)
{
    bool low = true, level = true;
    for (unsigned irq = 0; irq < 16; irq++) {
        struct ioapic_isa_route r = ioapic_isa_lookup(irq);
        if (r.gsi == gsi) {
            low = r.is_active_low;
            level = r.is_level;
            break;
        }
    }
    int err = ioapic_route_flags(gsi, vector, dest_apic_id, low, level);
    if (err)
        printf("apic: cannot route GSI %u to vector 0x%x on APIC %u: %d\n", gsi, vector,
               dest_apic_id, err);
}

void ioapic_mask(unsigned gsi)
{
    struct ioapic *io = ioapic_for(gsi);
    if (!io)
        return;
    spin_lock(&ioapic_lock);
    ioapic_write(io, IOAPIC_REDTBL(gsi - io->gsi_base), IOREDTBL_MASKED);
    spin_unlock(&ioapic_lock);
}

int apic_msi_compose(uint32_t dest_apic_id, uint8_t vector, uint64_t *addr, uint32_t *data)
{
    if (dest_apic_id > 0xff)
        return -ERANGE;
    /* address: 0xFEE, destination ID in 19:12, RH=0, DM=0 (physical) */
    *addr = MSI_ADDR_BASE | (dest_apic_id << 12);
    /* data: vector 7:0, delivery mode 10:8 = fixed, trigger 15 = edge */
    *data = vector;
    return 0;
}

void apic_init(void)
{
    uint32_t a, b, c, d;
    cpuid(1, 0, &a, &b, &c, &d);
    bool has_x2apic = c & (1u << 21);
    bool already_x2 = rdmsr(MSR_APIC_BASE) & APIC_BASE_EXTD;
    use_x2apic = has_x2apic || already_x2;

    const struct acpi_info *ai = acpi_get();
    uint64_t base = ai->lapic_addr ? ai->lapic_addr : (rdmsr(MSR_APIC_BASE) & ~0xfffULL);
    if (!use_x2apic)
        lapic_mmio = mmio_map(base, PAGE_SIZE);

    irq_set_handler(APIC_SPURIOUS_VECTOR, spurious_handler, NULL);
    irq_set_handler(APIC_WAKE_VECTOR, wake_handler, NULL);
    irq_set_handler(APIC_TICK_VECTOR, tick_handler, NULL);
    pic_disable(); /* masked whether or not PCAT_COMPAT is set: harmless if absent */
    lapic_enable(true);
    ioapic_init_all();
    serial_irq_init();
}
