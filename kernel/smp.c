/* SPDX-License-Identifier: Apache-2.0 */
/*
 * smp.c - brings up every application processor (AP) listed in the MADT and
 * parks each in a loop that runs work handed to it through a per-CPU mailbox.
 *
 * Bring-up (Intel SDM vol. 3 §9.4.4.1, "Typical BSP Initialization
 * Sequence"): INIT IPI to every AP, wait 10 ms, then per AP: STARTUP IPI
 * (vector = page of boot/trampoline.S's copy below 1 MiB), wait up to
 * 200 us for it to check in, a second STARTUP if it has not, then wait for it
 * to finish its set-up. The 10 ms INIT wait is skipped on CPUs that do not
 * need it (Intel family >= 6, AMD family >= 0xf: Linux's
 * smp_quirk_init_udelay() does the same; QEMU handles a pending INIT before
 * a pending SIPI); an AP that does not answer that fast path is retried once
 * with the SDM's full timing. One that still does not answer is reported,
 * sent INIT again so it cannot wake later under a reused index, and left
 * out. APs come up one at a time because they share one trampoline
 * parameter block. CPU indices are handed out in bring-up order to APs that
 * answered: 0 is the BSP. While it waits for an AP the BSP sleeps in hlt
 * (woken by the AP's check-in IPI or a short LAPIC timer), so under TCG its
 * vCPU thread does not compete with the AP's for a busy host CPU.
 *
 * cpu_id(): GS base points at the CPU's struct percpu (set on the BSP in
 * smp_init, on an AP right after cpu_tables_init(), which loads a null GS),
 * so cpu_id() is one GS-relative load; before smp_init only the BSP exists.
 *
 * Mailbox protocol (one poster at a time per CPU, enforced by the CAS):
 *   poster:  CAS state IDLE->BUSY; write fn,arg; store-release job_seq+1;
 *            full fence; if is_sleeping: wake IPI.
 *   AP:      load-acquire job_seq; if new: run fn(arg), store-release
 *            state = IDLE. After PARK_SPIN_NS without work, smp_sleep():
 *            cli; is_sleeping = 1; full fence; re-check job_seq; sti; hlt.
 * smp_sleep()/smp_wake() are the same pair for any doorbell a job polls.
 * The two full fences make the Dekker pair (job_seq, is_sleeping): either the
 * AP sees the new job before sleeping or the poster sees is_sleeping and
 * sends the IPI; "sti; hlt" takes the IPI only once hlt has begun (STI's
 * one-instruction interrupt shadow, SDM vol. 2 STI), so it is never lost.
 * Jobs run with interrupts enabled and may print (kernel/console.c keeps
 * each CPU's lines whole); what a job leaves without a "\n" goes out when it
 * returns.
 */
#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include "acpi.h"
#include "apic.h"
#include "init.h"
#include "kernel.h"
#include "smp.h"
#include "trap.h"
#include "x86.h"

#define AP_STACK_PAGES 16           /* 64 KiB */
#define INIT_DELAY_US 10000         /* SDM §9.4.4.1: 10 ms after INIT */
#define SIPI_WAIT_US 200            /* SDM §9.4.4.1: 200 us after each SIPI */
#define AP_ALIVE_TIMEOUT_US 250000  /* SIPI to C entry: seen 27 ms on a busy TCG host */
#define AP_READY_TIMEOUT_US 1000000 /* C entry to parked */
#define PARK_SPIN_NS 200000ULL      /* spin this long after work before hlt */
#define WAIT_POLL_TICKS 0x1000      /* LAPIC timer /16: ~65 us at QEMU's 1 GHz */

struct percpu {
    uint32_t cpu; /* offset 0: what cpu_id() reads through GS */
    uint32_t apic_id;
    uint32_t state;           /* enum cpu_state; written by posters (CAS) and the AP */
    uint32_t job_seq;         /* written by the poster (release) */
    uint32_t is_sleeping;     /* written by the AP */
    uint32_t pad;
    void (*fn)(void *);       /* written by the poster before job_seq */
    void *arg;
    uint64_t jobs_run;        /* written by the AP */
    uint64_t wakeups;         /* written by the AP */
    void *stack;
} __attribute__((aligned(64)));

static struct percpu percpu[MAX_CPUS];
static unsigned ncpus = 1;
static bool is_percpu_ready;
static uint32_t failed_apic_ids[MAX_CPUS];
static unsigned nfailed;
static uint64_t bringup_us;
static volatile uint32_t ap_alive; /* written by an AP at its C entry (index + 1) */

extern char smp_tramp_start[], smp_tramp_end[], smp_tramp_long[], smp_tramp_gdt[];
extern char smp_tramp_gdtr[], smp_tramp_farptr[], smp_tramp_cr3[], smp_tramp_efer[];
extern char smp_tramp_stack[], smp_tramp_entry[], smp_tramp_cpu[];

unsigned cpu_id(void)
{
    if (!is_percpu_ready)
        return 0;
    uint32_t v;
    __asm__("movl %%gs:%c1, %0" : "=r"(v) : "i"(offsetof(struct percpu, cpu)));
    return v;
}

unsigned cpu_count(void)
{
    return ncpus;
}

uint32_t cpu_apic_id(unsigned cpu)
{
    return cpu < ncpus ? percpu[cpu].apic_id : 0xffffffffu;
}

enum cpu_state smp_state(unsigned cpu)
{
    if (cpu >= ncpus)
        return CPU_OFFLINE;
    return (enum cpu_state)__atomic_load_n(&percpu[cpu].state, __ATOMIC_ACQUIRE);
}

bool smp_is_sleeping(unsigned cpu)
{
    return cpu > 0 && cpu < ncpus && __atomic_load_n(&percpu[cpu].is_sleeping, __ATOMIC_RELAXED);
}

uint64_t smp_jobs_run(unsigned cpu)
{
    return cpu < ncpus ? __atomic_load_n(&percpu[cpu].jobs_run, __ATOMIC_RELAXED) : 0;
}

uint64_t smp_wakeups(unsigned cpu)
{
    return cpu < ncpus ? __atomic_load_n(&percpu[cpu].wakeups, __ATOMIC_RELAXED) : 0;
}

uint64_t smp_bringup_us(void)
{
    return bringup_us;
}

static void percpu_load(unsigned cpu)
{
    wrmsr(MSR_GS_BASE, (uint64_t)(uintptr_t)&percpu[cpu]);
}

/* ---- mailbox ---- */

int smp_run_on(unsigned cpu, void (*fn)(void *), void *arg)
{
    if (cpu == 0 || cpu >= ncpus || !fn)
        return -EINVAL;
    struct percpu *pc = &percpu[cpu];
    uint32_t expect = CPU_IDLE;
    /* acquire: pairs with the AP's release of state = IDLE, so its last job
     * has finished with fn/arg before we overwrite them */
    if (!__atomic_compare_exchange_n(&pc->state, &expect, CPU_BUSY, false, __ATOMIC_ACQUIRE,
                                     __ATOMIC_RELAXED))
        return -EBUSY;
    pc->fn = fn;
    pc->arg = arg;
    /* publish fn/arg before the new sequence; pairs with park_loop's acquire */
    __atomic_store_n(&pc->job_seq, pc->job_seq + 1, __ATOMIC_RELEASE);
    /* job_seq store before the is_sleeping load; pairs with smp_sleep's fence
     * between its is_sleeping store and its job_seq re-check */
    __atomic_thread_fence(__ATOMIC_SEQ_CST);
    if (__atomic_load_n(&pc->is_sleeping, __ATOMIC_RELAXED))
        lapic_send_ipi(pc->apic_id, APIC_WAKE_VECTOR);
    return 0;
}

void smp_wait(unsigned cpu)
{
    if (cpu == 0 || cpu >= ncpus)
        return;
    /* acquire: pairs with park_loop's release; fn's effects are visible after */
    while (__atomic_load_n(&percpu[cpu].state, __ATOMIC_ACQUIRE) == CPU_BUSY)
        cpu_relax();
}

bool smp_is_idle(unsigned cpu)
{
    return cpu < ncpus && smp_state(cpu) == CPU_IDLE;
}

void smp_wake(unsigned cpu)
{
    if (cpu >= ncpus)
        return;
    /* the caller's doorbell store before the is_sleeping load; pairs with
     * smp_sleep's fence between its is_sleeping store and is_ready() */
    __atomic_thread_fence(__ATOMIC_SEQ_CST);
    if (__atomic_load_n(&percpu[cpu].is_sleeping, __ATOMIC_RELAXED))
        lapic_send_ipi(percpu[cpu].apic_id, APIC_WAKE_VECTOR);
}

void smp_sleep(bool (*is_ready)(void *ctx), void *ctx)
{
    struct percpu *pc = &percpu[cpu_id()];
    bool was_on = read_rflags() & (1u << 9);
    irq_disable();
    __atomic_store_n(&pc->is_sleeping, 1, __ATOMIC_RELAXED);
    /* is_sleeping store before is_ready()'s loads; pairs with the fence in
     * smp_wake / smp_run_on between the waker's store and its is_sleeping
     * load (Dekker: one of the two sides sees the other) */
    __atomic_thread_fence(__ATOMIC_SEQ_CST);
    if (!is_ready(ctx)) {
        /* a wake IPI sent from here on stays pending until hlt has begun
         * (STI shadow), so it ends the hlt instead of being lost */
        __asm__ volatile("sti; hlt" ::: "memory");
        __atomic_store_n(&pc->wakeups, pc->wakeups + 1, __ATOMIC_RELAXED);
        irq_disable();
    }
    __atomic_store_n(&pc->is_sleeping, 0, __ATOMIC_RELAXED);
    if (was_on)
        irq_enable();
}

struct park_ctx {
    struct percpu *pc;
    uint32_t seen;
};

static bool is_job_posted(void *arg)
{
    struct park_ctx *k = arg;
    return __atomic_load_n(&k->pc->job_seq, __ATOMIC_RELAXED) != k->seen;
}

__attribute__((noreturn)) static void park_loop(struct percpu *pc)
{
    struct park_ctx k = {pc, __atomic_load_n(&pc->job_seq, __ATOMIC_RELAXED)};
    uint64_t idle_since = timer_ns();
    irq_enable();
    for (;;) {
        /* acquire: pairs with smp_run_on's release of job_seq (fn/arg) */
        uint32_t seq = __atomic_load_n(&pc->job_seq, __ATOMIC_ACQUIRE);
        if (seq != k.seen) {
            k.seen = seq;
            pc->fn(pc->arg);
            console_flush();
            __atomic_store_n(&pc->jobs_run, pc->jobs_run + 1, __ATOMIC_RELAXED);
            /* release: fn's stores before IDLE; pairs with smp_wait's acquire */
            __atomic_store_n(&pc->state, CPU_IDLE, __ATOMIC_RELEASE);
            irq_enable(); /* whatever the job left */
            idle_since = timer_ns();
            continue;
        }
        if (timer_ns() - idle_since < PARK_SPIN_NS) {
            cpu_relax();
            continue;
        }
        smp_sleep(is_job_posted, &k);
        idle_since = timer_ns();
    }
}

/* C entry of an AP, called by boot/trampoline.S in 64-bit mode with SSE on. */
__attribute__((noreturn)) void smp_ap_entry(uint64_t cpu);
void smp_ap_entry(uint64_t cpu)
{
    __atomic_store_n(&ap_alive, (uint32_t)cpu + 1, __ATOMIC_RELEASE);
    cpu_tables_init((unsigned)cpu);
    percpu_load((unsigned)cpu); /* after cpu_tables_init: it loads a null GS */
    struct percpu *pc = &percpu[cpu];
    __asm__ volatile("ldmxcsr %0" : : "m"((uint32_t){0x1f80})); /* SSE defaults */
    lapic_init_ap();
    if (lapic_id() != pc->apic_id) {
        printf("smp: cpu %u expected APIC ID %u, has %u; halting it\n", (unsigned)cpu,
               pc->apic_id, lapic_id());
        for (;;)
            hlt();
    }
    /* release: everything above before the BSP (load-acquire in ap_start)
     * counts us in */
    __atomic_store_n(&pc->state, CPU_IDLE, __ATOMIC_RELEASE);
    lapic_send_ipi(percpu[0].apic_id, APIC_WAKE_VECTOR); /* BSP may be in hlt */
    park_loop(pc);
}

static bool wait_until(volatile uint32_t *p, uint32_t want, uint64_t us)
{
    uint64_t end = timer_ns() + us * 1000;
    do {
        if (__atomic_load_n(p, __ATOMIC_ACQUIRE) == want)
            return true;
        cpu_relax();
    } while (timer_ns() < end);
    return __atomic_load_n(p, __ATOMIC_ACQUIRE) == want;
}

/* Whether the 10 ms wait after INIT may be skipped (see the file comment). */
static bool is_init_delay_needed(void)
{
    uint32_t a, b, c, d, vendor[3];
    cpuid(0, 0, &a, &vendor[0], &vendor[2], &vendor[1]);
    cpuid(1, 0, &a, &b, &c, &d);
    unsigned family = (a >> 8) & 0xf;
    if (family == 0xf)
        family += (a >> 20) & 0xff;
    if (!memcmp(vendor, "GenuineIntel", 12))
        return family < 6;
    if (!memcmp(vendor, "AuthenticAMD", 12) || !memcmp(vendor, "HygonGenuine", 12))
        return family < 0xf;
    return true;
}

/*
 * Like wait_until, but sleeping in hlt between checks (woken by the AP's
 * check-in IPI or a short LAPIC timer), so that under TCG on a busy host the
 * BSP's vCPU thread leaves the host CPU to the AP it is waiting for.
 */
static bool wait_until_halting(volatile uint32_t *p, uint32_t want, uint64_t us)
{
    bool was_on = read_rflags() & (1u << 9);
    uint64_t end = timer_ns() + us * 1000;
    bool ok;
    for (;;) {
        irq_disable();
        /* acquire: pairs with smp_ap_entry's release of state */
        ok = __atomic_load_n(p, __ATOMIC_ACQUIRE) == want;
        if (ok || timer_ns() >= end)
            break;
        /* a check-in IPI arriving from here on stays pending until hlt
         * (STI shadow), so it still wakes us */
        lapic_timer_oneshot(APIC_WAKE_VECTOR, WAIT_POLL_TICKS);
        __asm__ volatile("sti; hlt" ::: "memory");
    }
    lapic_timer_oneshot(0, 0);
    if (was_on)
        irq_enable();
    return ok;
}

/* STARTUP (and a second one if needed) to an AP in wait-for-SIPI, then wait
 * for it to finish smp_ap_entry's set-up. The parameter block must be set. */
static bool ap_sipi(uint8_t vec, unsigned cpu, uint32_t apic_id)
{
    __atomic_store_n(&ap_alive, 0, __ATOMIC_RELAXED);
    /* parameter stores before the SIPI: icr_send() fences (mfence) first */
    lapic_send_sipi(apic_id, vec);
    if (!wait_until(&ap_alive, cpu + 1, SIPI_WAIT_US))
        lapic_send_sipi(apic_id, vec); /* ignored by a CPU that has already started */
    if (!wait_until_halting(&ap_alive, cpu + 1, AP_ALIVE_TIMEOUT_US))
        return false; /* never reached C: do not wait the full set-up timeout */
    return wait_until_halting(&percpu[cpu].state, CPU_IDLE, AP_READY_TIMEOUT_US);
}

/* Start one AP as CPU `cpu` from the trampoline copy at `page` (< 1 MiB).
 * It has been sent INIT already. */
static bool ap_start(uint8_t *page, unsigned cpu, uint32_t apic_id)
{
    struct percpu *pc = &percpu[cpu];
    void *stack = pc->stack;
    memset(pc, 0, sizeof(*pc));
    pc->cpu = cpu;
    pc->apic_id = apic_id;
    pc->state = CPU_OFFLINE;
    pc->stack = stack ? stack : page_alloc(AP_STACK_PAGES);
    if (!pc->stack) {
        printf("smp: no memory for the stack of APIC %u\n", apic_id);
        return false;
    }
    uint64_t top = (uint64_t)(uintptr_t)pc->stack + AP_STACK_PAGES * PAGE_SIZE;
    uint64_t entry = (uint64_t)(uintptr_t)smp_ap_entry, idx = cpu;
    memcpy(page + (smp_tramp_stack - smp_tramp_start), &top, 8);
    memcpy(page + (smp_tramp_entry - smp_tramp_start), &entry, 8);
    memcpy(page + (smp_tramp_cpu - smp_tramp_start), &idx, 8);
    uint8_t vec = (uint8_t)(virt_to_phys(page) >> 12);
    if (ap_sipi(vec, cpu, apic_id))
        return true;
    if (!__atomic_load_n(&ap_alive, __ATOMIC_RELAXED)) {
        /* never started: once more with the SDM's full INIT timing */
        lapic_send_init(apic_id);
        udelay(INIT_DELAY_US);
        if (ap_sipi(vec, cpu, apic_id))
            return true;
    }
    printf("smp: APIC %u did not answer (%s); left out\n", apic_id,
           __atomic_load_n(&ap_alive, __ATOMIC_RELAXED) ? "stuck in set-up" : "no start");
    lapic_send_init(apic_id); /* stop it: it must not wake later with this index */
    udelay(INIT_DELAY_US);
    return false;
}

void smp_init(void)
{
    percpu[0].cpu = 0;
    percpu[0].apic_id = lapic_id();
    percpu[0].state = CPU_ONLINE;
    percpu_load(0);
    is_percpu_ready = true;

    const struct acpi_info *ai = acpi_get();
    if (!ai->has_madt || ai->ncpus <= 1)
        return;
    size_t blob = (size_t)(smp_tramp_end - smp_tramp_start);
    uint8_t *page = page_alloc_below(1, 1u << 20);
    if (blob > PAGE_SIZE || !page || paging_root() >> 32) {
        printf("smp: no trampoline page below 1 MiB (or CR3 above 4 GiB): APs not started\n");
        return;
    }
    uint64_t t0 = timer_ns();
    uint32_t base = (uint32_t)virt_to_phys(page);
    memcpy(page, smp_tramp_start, blob);
    uint32_t gdt = base + (uint32_t)(smp_tramp_gdt - smp_tramp_start);
    uint32_t far = base + (uint32_t)(smp_tramp_long - smp_tramp_start);
    uint32_t cr3 = (uint32_t)paging_root();
    uint32_t efer = (uint32_t)(rdmsr(MSR_EFER) & (1u << 11)) | (1u << 8); /* NXE as BSP, LME */
    memcpy(page + (smp_tramp_gdtr - smp_tramp_start) + 2, &gdt, 4);
    memcpy(page + (smp_tramp_farptr - smp_tramp_start), &far, 4);
    memcpy(page + (smp_tramp_cr3 - smp_tramp_start), &cr3, 4);
    memcpy(page + (smp_tramp_efer - smp_tramp_start), &efer, 4);

    /* INIT every AP, then one 10 ms wait for all of them (SDM §9.4.4.1)
     * unless the CPU is known not to need it. */
    for (unsigned i = 0; i < ai->ncpus; i++)
        if (ai->cpu_apic_ids[i] != percpu[0].apic_id)
            lapic_send_init(ai->cpu_apic_ids[i]);
    if (is_init_delay_needed())
        udelay(INIT_DELAY_US);

    for (unsigned i = 0; i < ai->ncpus && ncpus < MAX_CPUS; i++) {
        uint32_t id = ai->cpu_apic_ids[i];
        if (id == percpu[0].apic_id)
            continue;
        if (ap_start(page, ncpus, id)) {
            ncpus++;
        } else {
            failed_apic_ids[nfailed++] = id;
        }
    }
    bringup_us = (timer_ns() - t0) / 1000;
    /* The trampoline page is kept: an AP that was INITed after a timeout
     * could otherwise run whatever lands there if a stray SIPI reached it. */
    printf("smp: %u of %u CPU(s) online (%s), APs up in %lu.%03lu ms\n", ncpus, ai->ncpus,
           apic_is_x2apic() ? "x2apic" : "xapic", (unsigned long)(bringup_us / 1000),
           (unsigned long)(bringup_us % 1000));
}

unsigned smp_failed_count(void)
{
    return nfailed;
}

uint32_t smp_failed_apic_id(unsigned i)
{
    return i < nfailed ? failed_apic_ids[i] : 0;
}
