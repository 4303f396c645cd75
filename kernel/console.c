/* SPDX-License-Identifier: Apache-2.0 */
/*
 * console.c - kernel output that never interleaves: whole lines, from any
 * CPU and from interrupt handlers.
 *
 * Design: one line buffer per CPU and per context (thread, interrupt). A
 * buffer is only ever touched by its own CPU in its own context, so filling
 * it needs no lock, and an interrupt never writes into the line it
 * interrupted (it has a buffer of its own). Text collects there until a
 * "\n"; then everything up to the last "\n" goes to the UART in one
 * serial_write(), which holds the console lock with interrupts off: no other
 * CPU's bytes land inside the line, and the lock is never held by code that
 * an interrupt on the same CPU interrupted, so an interrupt handler waits at
 * most for another CPU's line, never forever. Why this and not a try-lock
 * with per-CPU deferral: the lock is only ever held for one line's worth of
 * UART writes, which is short and bounded, and output stays in program
 * order on each CPU without a second queue to drain.
 *
 * Formatting is newlib's vsnprintf straight into the buffer (no FILE is
 * shared: printf & co in libc/stdio.c come here and never touch stdout).
 * What does not end in "\n" waits for the rest of its line, except where
 * nothing more may come: before the shell reads input (console_flush), at
 * the end of every interrupt handler (isr_dispatch) and of every job on an
 * AP (smp.c), and on panic (console_flush_unlocked, no lock). A line longer
 * than CONSOLE_LINE_MAX goes out in CONSOLE_LINE_MAX pieces.
 *
 * Byte for byte the output is what the unbuffered stdout of before sent;
 * only the grouping into UART writes changed.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kernel.h"

#define CONSOLE_LINE_MAX 512
#define CONSOLE_CONTEXTS 2 /* 0: thread, 1: interrupt (handlers never nest) */

struct console_line {
    size_t len;
    char buf[CONSOLE_LINE_MAX + 1]; /* + the NUL vsnprintf always writes */
};

static struct console_line lines[MAX_CPUS][CONSOLE_CONTEXTS];

static struct console_line *this_line(void)
{
    return &lines[cpu_id()][in_interrupt() ? 1 : 0];
}

/* Send buf[0, n) and keep the rest for later. */
static void line_send(struct console_line *l, size_t n)
{
    serial_write(l->buf, n);
    memmove(l->buf, l->buf + n, l->len - n);
    l->len -= n;
}

/* After l->buf[from, len) was added: send through its last "\n", if any. */
static void line_added(struct console_line *l, size_t from)
{
    for (size_t i = l->len; i > from; i--) {
        if (l->buf[i - 1] == '\n') {
            line_send(l, i);
            return;
        }
    }
}

void console_write(const char *s, size_t n)
{
    struct console_line *l = this_line();
    while (n) {
        if (l->len == CONSOLE_LINE_MAX)
            line_send(l, l->len); /* an overlong line: this piece now */
        size_t k = CONSOLE_LINE_MAX - l->len;
        if (k > n)
            k = n;
        size_t from = l->len;
        memcpy(l->buf + from, s, k);
        l->len += k;
        line_added(l, from);
        s += k;
        n -= k;
    }
}

int console_vprintf(const char *fmt, va_list ap)
{
    struct console_line *l = this_line();
    size_t from = l->len;
    va_list again, whole;
    va_copy(again, ap);
    va_copy(whole, ap);
    int n = vsnprintf(l->buf + from, CONSOLE_LINE_MAX + 1 - from, fmt, ap);
    if (n > 0 && (size_t)n > CONSOLE_LINE_MAX - from && from) {
        /* No room after what is waiting (a line longer than the buffer):
         * that part goes now, this text starts the buffer afresh. */
        line_send(l, from);
        from = 0;
        n = vsnprintf(l->buf, CONSOLE_LINE_MAX + 1, fmt, again);
    }
    if (n > 0 && (size_t)n <= CONSOLE_LINE_MAX - from) {
        l->len = from + (size_t)n;
        line_added(l, from);
    } else if (n > 0) {
        /* One call's text is longer than a buffer. Thread context formats
         * it whole on the heap and console_write cuts it; a handler (no
         * malloc there) keeps the CONSOLE_LINE_MAX characters that fit. */
        char *big = in_interrupt() ? NULL : malloc((size_t)n + 1);
        if (big) {
            vsnprintf(big, (size_t)n + 1, fmt, whole);
            console_write(big, (size_t)n);
            free(big);
        } else {
            l->len = CONSOLE_LINE_MAX;
            line_added(l, 0);
        }
    }
    va_end(again);
    va_end(whole);
    return n;
}

void console_flush(void)
{
    struct console_line *l = this_line();
    if (l->len)
        line_send(l, l->len);
}

void console_flush_unlocked(void)
{
    for (unsigned c = 0; c < CONSOLE_CONTEXTS; c++) {
        struct console_line *l = &lines[cpu_id()][c];
        serial_write_unlocked(l->buf, l->len);
        l->len = 0;
    }
}
