/* SPDX-License-Identifier: Apache-2.0 */
/*
 * shell.c - the serial shell on COM1.
 *
 * Reads a line with echo (backspace edits, CR or LF ends it), splits it on
 * blanks and runs the registered command. Every failure is one line starting
 * with "error: " and the shell carries on: unknown commands, missing or
 * malformed arguments, and lines over SHELL_MAX_LINE-1 characters (the rest
 * of such a line is read and dropped, never run).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "boot_info.h"
#include "kernel.h"
#include "kernel/tests/ktest.h"
#include "kernel/shell/shell.h"

extern const struct shell_cmd *const __shell_cmds_start[], *const __shell_cmds_end[];
extern const struct bench_entry *const __benches_start[], *const __benches_end[];

#define FOR_EACH_CMD(c)                                                               \
    for (const struct shell_cmd *const *c = __shell_cmds_start; c < __shell_cmds_end; c++)

int shell_parse_u64(const char *what, const char *s, unsigned long long max,
                    unsigned long long *out)
{
    char *end;
    if (!s || !*s || *s == '-') {
        printf("error: %s: expected a number, got '%s'\n", what, s ? s : "");
        return -EINVAL;
    }
    errno = 0;
    unsigned long long v = strtoull(s, &end, 0);
    if (*end || errno) {
        printf("error: %s: expected a number, got '%s'\n", what, s);
        return -EINVAL;
    }
    if (v > max) {
        printf("error: %s: %llu is out of range (max %llu)\n", what, v, max);
        return -ERANGE;
    }
    *out = v;
    return 0;
}

static int cmd_help(int argc, char **argv)
{
    (void)argc;
    (void)argv;
    /* Print in name order, whatever the link order was. */
    const char *last = "";
    for (;;) {
        const struct shell_cmd *next = NULL;
        FOR_EACH_CMD(c)
        {
            if (strcmp((*c)->name, last) > 0 && (!next || strcmp((*c)->name, next->name) < 0))
                next = *c;
        }
        if (!next)
            break;
        char usage[64];
        snprintf(usage, sizeof(usage), "%s%s%s", next->name, next->usage[0] ? " " : "",
                 next->usage);
        printf("  %-28s %s\n", usage, next->help);
        last = next->name;
    }
    return 0;
}
SHELL_COMMAND(help, "help", "", "list commands", cmd_help);

static int cmd_version(int argc, char **argv)
{
    (void)argc;
    (void)argv;
    printf("ringloop %s %s\n", ringloop_version, ringloop_git_hash);
    return 0;
}
SHELL_COMMAND(version, "version", "", "print the version and git hash", cmd_version);

size_t heap_size(void);
size_t heap_used(void);

static int cmd_mem(int argc, char **argv)
{
    (void)argc;
    (void)argv;
    uint64_t usable = 0, reserved = 0;
    for (uint32_t i = 0; i < boot_info.nranges; i++) {
        const struct mem_range *r = &boot_info.ranges[i];
        if (r->kind == MEM_USABLE)
            usable += r->npages * PAGE_SIZE;
        else if (r->kind != MEM_MMIO)
            reserved += r->npages * PAGE_SIZE;
    }
    printf("memory map: %u ranges, %lu KiB usable, %lu KiB firmware/reserved\n",
           boot_info.nranges, (unsigned long)(usable >> 10), (unsigned long)(reserved >> 10));
    printf("pages: %zu free of %zu (%zu KiB free)\n", page_free_count(), page_total_count(),
           page_free_count() * 4);
    printf("heap: %zu KiB used of %zu KiB\n", heap_used() >> 10, heap_size() >> 10);
    printf("image: base 0x%lx size %lu KiB, entry %s\n", (unsigned long)boot_info.image_base,
           (unsigned long)(boot_info.image_size >> 10), boot_info.entry);
    return 0;
}
SHELL_COMMAND(mem, "mem", "", "memory map, free pages and heap", cmd_mem);

static int cmd_test(int argc, char **argv)
{
    if (argc != 2) {
        printf("error: usage: test list | test <suite> | test all\n");
        return -EINVAL;
    }
    if (!strcmp(argv[1], "list")) {
        ktest_list();
        return 0;
    }
    int r = ktest_run(argv[1]);
    if (r < 0) {
        printf("error: no test suite '%s' (try: test list)\n", argv[1]);
        return -ENOENT;
    }
    return r ? -EIO : 0;
}
SHELL_COMMAND(test, "test", "list|<suite>|all", "run in-image test suites (KTAP)", cmd_test);

static int cmd_bench(int argc, char **argv)
{
    if (argc < 2) {
        printf("error: usage: bench <name> [args]; benchmarks:");
        for (const struct bench_entry *const *b = __benches_start; b < __benches_end; b++)
            printf(" %s", (*b)->name);
        printf("\n");
        return -EINVAL;
    }
    for (const struct bench_entry *const *b = __benches_start; b < __benches_end; b++)
        if (!strcmp((*b)->name, argv[1]))
            return (*b)->fn(argc - 1, argv + 1);
    printf("error: no benchmark '%s'\n", argv[1]);
    return -ENOENT;
}
SHELL_COMMAND(bench, "bench", "<name> [args]", "run a benchmark", cmd_bench);

static int cmd_panic(int argc, char **argv)
{
    (void)argc;
    (void)argv;
    /* A real CPU exception, so the whole trap path is what gets tested. */
    volatile uint64_t *bad = (volatile uint64_t *)0x400000000000ULL; /* unmapped: #PF */
    printf("about to fault on purpose\n");
    return (int)*bad;
}
SHELL_COMMAND(panic, "panic", "", "fault on purpose (tests the panic path)", cmd_panic);

static int cmd_poweroff(int argc, char **argv)
{
    unsigned long long status = 0;
    if (argc > 2) {
        printf("error: usage: poweroff [status]\n");
        return -EINVAL;
    }
    if (argc == 2 && shell_parse_u64("status", argv[1], 127, &status))
        return -EINVAL;
    printf("powering off (status %llu)\n", status);
    machine_exit((int)status);
}
SHELL_COMMAND(poweroff, "poweroff", "[status]", "leave QEMU with an exit status", cmd_poweroff);

int shell_exec(char *line)
{
    char *argv[SHELL_MAX_ARGS + 1];
    int argc = 0;
    for (char *p = line; *p;) {
        while (*p == ' ' || *p == '\t')
            *p++ = 0;
        if (!*p)
            break;
        if (argc == SHELL_MAX_ARGS) {
            printf("error: too many arguments (max %d)\n", SHELL_MAX_ARGS - 1);
            return -E2BIG;
        }
        argv[argc++] = p;
        while (*p && *p != ' ' && *p != '\t')
            p++;
    }
    argv[argc] = NULL;
    if (argc == 0)
        return 0;
    FOR_EACH_CMD(c)
    {
        if (!strcmp((*c)->name, argv[0]))
            return (*c)->fn(argc, argv);
    }
    printf("error: unknown command '%s' (try: help)\n", argv[0]);
    return -ENOENT;
}

/* Typed characters go back at once, not when their line is done. */
static void echo(const char *s, size_t n)
{
    console_write(s, n);
    console_flush();
}

/* Reads one line; returns its length, or -1 if it was too long (dropped).
 * CR, LF and CRLF all end a line: an LF right after a CR is swallowed. */
static int read_line(char *buf, size_t size)
{
    static bool last_was_cr;
    size_t n = 0;
    bool overflow = false;
    console_flush(); /* the prompt, which has no "\n" */
    for (;;) {
        int c = serial_getc();
        if (c == '\n' && last_was_cr) {
            last_was_cr = false;
            continue;
        }
        last_was_cr = c == '\r';
        if (c == '\r' || c == '\n') {
            echo("\n", 1);
            buf[overflow ? 0 : n] = 0;
            return overflow ? -1 : (int)n;
        }
        if (c == 0x7f || c == 0x08) {
            if (n > 0 && !overflow) {
                n--;
                echo("\b \b", 3);
            }
            continue;
        }
        if (c == 0x03) { /* ^C: drop the line */
            echo("^C\n", 3);
            buf[0] = 0;
            return 0;
        }
        if (c < 0x20 || c > 0x7e)
            continue;
        if (n + 1 >= size)
            overflow = true;
        if (!overflow) {
            buf[n++] = (char)c;
            char ch = (char)c;
            echo(&ch, 1);
        }
    }
}

void shell_run(void)
{
    /* Commands run with interrupts on: the IDT, LAPIC and IOAPIC are set up
     * by now, drivers complete requests on interrupts (MSI-X, INTx, the
     * loopback's IPIs), and code that needs them off says so itself (the
     * serial lock, the loopback register guard, the wait loops). */
    irq_enable();
    static char line[SHELL_MAX_LINE];
    for (;;) {
        printf("%s", SHELL_PROMPT);
        int n = read_line(line, sizeof(line));
        if (n < 0) {
            printf("error: line too long (max %d characters)\n", SHELL_MAX_LINE - 1);
            continue;
        }
        shell_exec(line);
        irq_enable(); /* whatever a command left */
    }
}
