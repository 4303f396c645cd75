/* SPDX-License-Identifier: Apache-2.0 */
/*
 * test_console.c - suite "console": how kernel/console.c groups output into
 * UART writes, seen through serial_set_tap(): a line printed in pieces is one
 * write, an unfinished line waits for its "\n" or console_flush(), a line
 * longer than the buffer goes out in buffer-sized pieces with nothing lost,
 * and an interrupt handler's line neither lands inside nor waits for the
 * line it interrupted. Every line printed here is a KTAP diagnostic.
 * (tests/test_console.py checks the same across CPUs, from the serial log.)
 */
#include <stdio.h>
#include <string.h>

#include "kernel.h"
#include "kernel/tests/ktest.h"

#define CAP_MAX 4096
#define RUNS_MAX 32
#define LINE_MAX_SEEN 512 /* CONSOLE_LINE_MAX in kernel/console.c */
#define TICK_TIMEOUT_NS 2000000000ull

static char cap[CAP_MAX];
static size_t cap_len;
static size_t run_len[RUNS_MAX];
static unsigned nruns;

/* Under the console lock: keep what CPU 0 sends (another CPU may print). */
static void tap(const char *s, size_t n)
{
    if (cpu_id() != 0)
        return;
    if (nruns < RUNS_MAX)
        run_len[nruns] = n;
    nruns++;
    size_t k = n < CAP_MAX - cap_len ? n : CAP_MAX - cap_len;
    memcpy(cap + cap_len, s, k);
    cap_len += k;
}

static void tap_on(void)
{
    cap_len = 0;
    nruns = 0;
    serial_set_tap(tap);
}

static bool is_run(unsigned i, const char *want)
{
    size_t off = 0;
    for (unsigned j = 0; j < i; j++)
        off += run_len[j];
    return i < nruns && run_len[i] == strlen(want) && !memcmp(cap + off, want, run_len[i]);
}

static void t_pieces_one_write(struct ktest *t)
{
    char want[96];
    snprintf(want, sizeof(want), "%s# console: pieces 42 end\n", ktest_indent());
    tap_on();
    printf("%s# console: pieces", ktest_indent());
    printf(" %d", 42);
    putchar(' ');
    puts("end");
    serial_set_tap(NULL);
    KT_ASSERT_EQ(t, nruns, 1);
    KT_ASSERT(t, is_run(0, want));
}

static void t_partial_waits(struct ktest *t)
{
    char head[64];
    snprintf(head, sizeof(head), "%s# console: partial", ktest_indent());
    tap_on();
    printf("%s", head);
    unsigned before_flush = nruns;
    console_flush();
    printf(" line\n");
    serial_set_tap(NULL);
    KT_ASSERT_EQ(t, before_flush, 0);
    KT_ASSERT_EQ(t, nruns, 2);
    KT_ASSERT(t, is_run(0, head));
    KT_ASSERT(t, is_run(1, " line\n"));
}

static char text[1500];
static char want_long[CAP_MAX];

static void fill_text(size_t n)
{
    for (size_t i = 0; i < n; i++)
        text[i] = (char)('a' + i % 26);
    text[n] = 0;
}

/* What came out is exactly `want`, in runs no longer than the buffer. */
static void check_long(struct ktest *t, const char *want)
{
    KT_ASSERT(t, nruns >= 3 && nruns <= RUNS_MAX);
    for (unsigned i = 0; i < nruns; i++)
        KT_ASSERT(t, run_len[i] <= LINE_MAX_SEEN);
    KT_ASSERT_EQ(t, cap_len, strlen(want));
    KT_ASSERT(t, !memcmp(cap, want, cap_len));
}

static void t_overlong_line(struct ktest *t)
{
    fill_text(1200);
    snprintf(want_long, sizeof(want_long), "%s# console: %s\n", ktest_indent(), text);
    tap_on();
    printf("%s# console: ", ktest_indent());
    for (size_t i = 0; i < 1200; i += 100)
        printf("%.*s", 100, text + i);
    printf("\n");
    serial_set_tap(NULL);
    check_long(t, want_long);
}

static void t_long_printf(struct ktest *t)
{
    fill_text(1400);
    snprintf(want_long, sizeof(want_long), "%s# console: %s\n", ktest_indent(), text);
    tap_on();
    printf("%s# console: %s\n", ktest_indent(), text);
    serial_set_tap(NULL);
    check_long(t, want_long);
}

struct irq_print {
    bool has_newline;
    volatile bool is_done;
    bool was_in_interrupt;
};

static bool tick_print(void *arg)
{
    struct irq_print *p = arg;
    p->was_in_interrupt = in_interrupt();
    printf("%s# console: from an interrupt%s", ktest_indent(), p->has_newline ? "\n" : "");
    p->is_done = true;
    return false; /* once */
}

/* Thread context has half a line waiting when the tick prints. */
static void interrupt_prints(struct ktest *t, bool has_newline)
{
    struct irq_print p = {.has_newline = has_newline};
    char irq_line[64], thread_line[64];
    snprintf(irq_line, sizeof(irq_line), "%s# console: from an interrupt%s", ktest_indent(),
             has_newline ? "\n" : "");
    snprintf(thread_line, sizeof(thread_line), "%s# console: thread line\n", ktest_indent());
    tap_on();
    printf("%s# console: thread", ktest_indent());
    int err = irq_tick_start(100, tick_print, &p);
    uint64_t end = timer_ns() + TICK_TIMEOUT_NS;
    while (!err && !p.is_done && timer_ns() < end)
        cpu_relax();
    irq_tick_stop();
    unsigned during = nruns;
    printf(" line\n");
    serial_set_tap(NULL);
    KT_ASSERT_EQ(t, err, 0);
    KT_ASSERT(t, p.is_done);
    KT_ASSERT(t, p.was_in_interrupt);
    KT_ASSERT(t, !in_interrupt());
    /* the handler's text went out by itself, at once, even unfinished */
    KT_ASSERT_EQ(t, during, 1);
    KT_ASSERT(t, is_run(0, irq_line));
    KT_ASSERT(t, is_run(1, thread_line));
}

static void t_interrupt_line(struct ktest *t)
{
    interrupt_prints(t, true);
}

static void t_interrupt_unfinished(struct ktest *t)
{
    interrupt_prints(t, false);
}

KTEST_SUITE(ktest_console, "console",
            {"pieces_one_write", t_pieces_one_write},
            {"partial_waits", t_partial_waits},
            {"overlong_line", t_overlong_line},
            {"long_printf", t_long_printf},
            {"interrupt_line", t_interrupt_line},
            {"interrupt_unfinished", t_interrupt_unfinished});
