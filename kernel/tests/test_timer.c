/* SPDX-License-Identifier: Apache-2.0 */
/*
 * test_timer.c - suite "timer": timer_ns() (TSC calibrated against the PIT)
 * checked for monotonicity and against an independent QEMU clock, the HPET
 * main counter (fixed at 0xfed00000 on q35; its period is in femtoseconds in
 * the capabilities register, IA-PC HPET spec 1.0a §2.3.4).
 */
#include <stdint.h>

#include "kernel.h"
#include "kernel/tests/ktest.h"

#define HPET_BASE 0xfed00000ULL
#define HPET_CAP 0x000
#define HPET_CONFIG 0x010
#define HPET_COUNTER 0x0f0

static volatile uint64_t *hpet_reg(unsigned off)
{
    return (volatile uint64_t *)((uintptr_t)mmio_map(HPET_BASE, 0x400) + off);
}

static void t_monotonic(struct ktest *t)
{
    uint64_t prev = timer_ns();
    for (int i = 0; i < 200000; i++) {
        uint64_t now = timer_ns();
        if (now < prev)
            KT_FAIL(t, "went backwards: %llu after %llu", (unsigned long long)now,
                    (unsigned long long)prev);
        prev = now;
    }
    KT_ASSERT(t, tsc_hz() > 100000000ULL && tsc_hz() < 10000000000ULL);
}

static void t_udelay(struct ktest *t)
{
    uint64_t t0 = timer_ns();
    udelay(10000);
    uint64_t d = timer_ns() - t0;
    KT_ASSERT(t, d >= 10000000ULL);
    KT_ASSERT(t, d < 50000000ULL);
}

static void t_vs_hpet(struct ktest *t)
{
    uint64_t cap = *hpet_reg(HPET_CAP);
    uint64_t period_fs = cap >> 32;
    if (cap == ~0ULL || period_fs == 0 || period_fs > 100000000ULL) {
        ktest_skip(t, "no HPET at 0xfed00000");
        return;
    }
    *hpet_reg(HPET_CONFIG) |= 1; /* ENABLE_CNF: main counter runs */
    uint64_t h0 = *hpet_reg(HPET_COUNTER), n0 = timer_ns();
    uint64_t want = 200000000000000ULL / period_fs; /* 200 ms in HPET ticks */
    while (*hpet_reg(HPET_COUNTER) - h0 < want)
        cpu_relax();
    uint64_t h1 = *hpet_reg(HPET_COUNTER), n1 = timer_ns();
    uint64_t hpet_ns = (uint64_t)((unsigned __int128)(h1 - h0) * period_fs / 1000000ULL);
    uint64_t ours = n1 - n0;
    long long diff = (long long)ours - (long long)hpet_ns;
    ktest_diag("200 ms by HPET (%llu ns): timer_ns %llu ns, diff %lld ns",
               (unsigned long long)hpet_ns, (unsigned long long)ours, diff);
    if (diff < 0)
        diff = -diff;
    if ((unsigned long long)diff * 20 > hpet_ns)
        KT_FAIL(t, "timer_ns off by more than 5%%: %llu vs %llu ns", (unsigned long long)ours,
                (unsigned long long)hpet_ns);
}

KTEST_SUITE(ktest_timer, "timer",
            {"monotonic", t_monotonic},
            {"udelay", t_udelay},
            {"vs_hpet", t_vs_hpet});
