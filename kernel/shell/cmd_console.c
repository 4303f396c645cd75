/* SPDX-License-Identifier: Apache-2.0 */
/*
 * cmd_console.c - `logstress [lines] [period_us]`: the console under
 * concurrent printing. Four sources print `lines` numbered lines each, at
 * the same time:
 *
 *   T0  CPU 0, thread context (this command)
 *   I0  CPU 0's periodic tick interrupt (irq_tick_start): it interrupts T0
 *   T1  CPU 1, thread context (an smp job)
 *   I1  CPU 1's periodic tick interrupt: it interrupts T1
 *
 * Each line is "LS <tag> <seq> <payload> <crc>", crc the CRC-32C of the text
 * before its space, and is printed in pieces (printf, then putchar per
 * character), the way virt_log and most commands build their lines, so a
 * console that does not keep lines whole mixes them. Each thread stays
 * within LS_LAG lines of the slowest source, so all four really overlap;
 * the summary line says how many lines of the others came while T0 ran.
 * tests/test_console.py reads every line back.
 */
#include <errno.h>
#include <stdio.h>

#include "crc32c.h"
#include "kernel.h"
#include "kernel/shell/shell.h"

#define LS_DEFAULT_LINES 200
#define LS_MAX_LINES 10000
#define LS_DEFAULT_PERIOD_US 200
#define LS_MAX_PERIOD_US 100000
#define LS_LAG 8                     /* lines a thread may run ahead of the slowest */
#define LS_TIMEOUT_NS 30000000000ull /* a source that stalls: give up, say so */
#define LS_PAYLOAD_MAX 40

enum { LS_T0, LS_I0, LS_T1, LS_I1, LS_SOURCES };
static const char *const ls_tags[LS_SOURCES] = {"T0", "I0", "T1", "I1"};

static struct {
    unsigned lines;
    uint32_t period_us;
    uint64_t deadline_ns;
    uint32_t done[LS_SOURCES];      /* lines printed so far (atomic) */
    uint32_t during_t0[LS_SOURCES]; /* of those, while T0 was running (atomic) */
    uint32_t is_t0_running;         /* atomic */
    int tick1_err;
} ls;

static bool is_ls_late(void)
{
    return timer_ns() > __atomic_load_n(&ls.deadline_ns, __ATOMIC_RELAXED);
}

static void ls_give_up(void)
{
    __atomic_store_n(&ls.deadline_ns, 0, __ATOMIC_RELAXED); /* no source waits any more */
}

static void ls_emit(unsigned src, unsigned seq)
{
    char head[16], payload[LS_PAYLOAD_MAX];
    int hn = snprintf(head, sizeof(head), "LS %s %04u ", ls_tags[src], seq);
    uint32_t x = (src + 1) * 2654435761u ^ (seq + 1) * 40503u;
    unsigned len = 8 + x % (LS_PAYLOAD_MAX - 8);
    for (unsigned i = 0; i < len; i++) {
        x = x * 1103515245u + 12345u;
        payload[i] = (char)('a' + (x >> 16) % 26);
    }
    uint32_t crc = crc32c(crc32c(0, head, (size_t)hn), payload, len);
    printf("LS %s ", ls_tags[src]);
    printf("%04u ", seq);
    printf("%.*s", (int)(len / 2), payload);
    for (unsigned i = len / 2; i < len; i++)
        putchar(payload[i]);
    printf(" %08x", (unsigned)crc);
    putchar('\n');
}

static void ls_count(unsigned src, unsigned seq)
{
    if (__atomic_load_n(&ls.is_t0_running, __ATOMIC_RELAXED))
        __atomic_fetch_add(&ls.during_t0[src], 1, __ATOMIC_RELAXED);
    __atomic_store_n(&ls.done[src], seq + 1, __ATOMIC_RELEASE);
}

static unsigned ls_slowest(void)
{
    unsigned m = ls.lines;
    for (unsigned s = 0; s < LS_SOURCES; s++) {
        unsigned d = __atomic_load_n(&ls.done[s], __ATOMIC_ACQUIRE);
        m = d < m ? d : m;
    }
    return m;
}

/* Interrupt context: one line per tick until the source has printed them all. */
static bool ls_tick(void *arg)
{
    unsigned src = (unsigned)(uintptr_t)arg;
    unsigned seq = __atomic_load_n(&ls.done[src], __ATOMIC_RELAXED);
    if (seq >= ls.lines)
        return false;
    ls_emit(src, seq);
    ls_count(src, seq);
    return seq + 1 < ls.lines;
}

static void ls_thread(unsigned src)
{
    for (unsigned seq = 0; seq < ls.lines; seq++) {
        while (seq > ls_slowest() + LS_LAG && !is_ls_late())
            cpu_relax();
        ls_emit(src, seq);
        ls_count(src, seq);
    }
}

static void ls_wait_done(unsigned src)
{
    while (__atomic_load_n(&ls.done[src], __ATOMIC_ACQUIRE) < ls.lines && !is_ls_late())
        cpu_relax();
}

/* CPU 1: its own tick, then its thread's lines. */
static void ls_job(void *arg)
{
    (void)arg;
    ls.tick1_err = irq_tick_start(ls.period_us, ls_tick, (void *)(uintptr_t)LS_I1);
    if (ls.tick1_err) {
        ls_give_up();
        return;
    }
    ls_thread(LS_T1);
    ls_wait_done(LS_I1);
    irq_tick_stop();
}

static int cmd_logstress(int argc, char **argv)
{
    unsigned long long lines = LS_DEFAULT_LINES, period = LS_DEFAULT_PERIOD_US;
    if (argc > 3) {
        printf("error: usage: logstress [lines] [period_us]\n");
        return -EINVAL;
    }
    if (argc > 1 && shell_parse_u64("lines", argv[1], LS_MAX_LINES, &lines))
        return -EINVAL;
    if (argc > 2 && shell_parse_u64("period_us", argv[2], LS_MAX_PERIOD_US, &period))
        return -EINVAL;
    if (!lines || !period) {
        printf("error: logstress: lines and period_us must be at least 1\n");
        return -EINVAL;
    }
    if (cpu_count() < 2) {
        printf("error: logstress needs a second CPU (tools/run --smp 2)\n");
        return -ENODEV;
    }
    ls.lines = (unsigned)lines;
    ls.period_us = (uint32_t)period;
    ls.deadline_ns = timer_ns() + LS_TIMEOUT_NS;
    ls.tick1_err = 0;
    for (unsigned s = 0; s < LS_SOURCES; s++)
        ls.done[s] = ls.during_t0[s] = 0;
    /* CPU 1 may still be finishing a job (the loopback's device loop idles
     * out within 20 ms) */
    int err;
    while ((err = smp_run_on(1, ls_job, NULL)) == -EBUSY && !is_ls_late())
        cpu_relax();
    if (err) {
        printf("error: logstress: cannot start CPU 1: %d\n", err);
        return err;
    }
    err = irq_tick_start(ls.period_us, ls_tick, (void *)(uintptr_t)LS_I0);
    if (!err) {
        __atomic_store_n(&ls.is_t0_running, 1, __ATOMIC_RELAXED);
        ls_thread(LS_T0);
        __atomic_store_n(&ls.is_t0_running, 0, __ATOMIC_RELAXED);
        ls_wait_done(LS_I0);
        irq_tick_stop();
    } else {
        ls_give_up();
    }
    smp_wait(1);
    if (err || ls.tick1_err) {
        printf("error: logstress: no tick on cpu %d: %d\n", err ? 0 : 1, err ? err : ls.tick1_err);
        return err ? err : ls.tick1_err;
    }
    printf("logstress: %u lines from each of T0 I0 T1 I1; while T0 ran: I0 %u, T1 %u, I1 %u\n",
           ls.lines, ls.during_t0[LS_I0], ls.during_t0[LS_T1], ls.during_t0[LS_I1]);
    if (ls_slowest() < ls.lines) {
        printf("error: logstress: timed out: T0 %u I0 %u T1 %u I1 %u of %u lines\n", ls.done[LS_T0],
               ls.done[LS_I0], ls.done[LS_T1], ls.done[LS_I1], ls.lines);
        return -ETIMEDOUT;
    }
    return 0;
}
SHELL_COMMAND(logstress, "logstress", "[lines] [period_us]",
              "T0/T1 (threads on CPU 0/1) and I0/I1 (their tick interrupts) print tagged "
              "lines at once",
              cmd_logstress);
