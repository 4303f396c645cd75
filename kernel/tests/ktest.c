/* SPDX-License-Identifier: Apache-2.0 */
/*
 * ktest.c - runs in-image test suites and prints KTAP v1
 * (https://docs.kernel.org/dev-tools/ktap.html).
 *
 *   test <suite>   KTAP version 1 / 1..N / ok|not ok N case [# reason]
 *   test all       one top-level plan with every suite as an indented subtest
 *   test list      "<suite>: case case ..." per suite
 *
 * Suites register themselves with KTEST_SUITE() (the .ktest_suites section).
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "kernel.h"
#include "kernel/tests/ktest.h"

extern const struct ktest_suite *const __ktest_suites_start[], *const __ktest_suites_end[];

static const char *indent = "";

void ktest_fail(struct ktest *t, const char *file, int line, const char *fmt, ...)
{
    char msg[120];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    const char *base = strrchr(file, '/');
    snprintf(t->reason, sizeof(t->reason), "%s:%d: %s", base ? base + 1 : file, line, msg);
    /* KTAP reasons are one line */
    for (char *p = t->reason; *p; p++)
        if (*p == '\n' || *p == '#')
            *p = ' ';
    t->failed = true;
}

void ktest_skip(struct ktest *t, const char *why)
{
    t->skipped = true;
    snprintf(t->reason, sizeof(t->reason), "%s", why);
}

const char *ktest_indent(void)
{
    return indent;
}

void ktest_diag(const char *fmt, ...)
{
    char msg[200];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    printf("%s# %s\n", indent, msg);
}

static int run_suite(const struct ktest_suite *s)
{
    int failed = 0;
    printf("%sKTAP version 1\n", indent);
    if (indent[0])
        printf("%s# Subtest: %s\n", indent, s->name);
    printf("%s1..%zu\n", indent, s->ncases);
    for (size_t i = 0; i < s->ncases; i++) {
        struct ktest t;
        memset(&t, 0, sizeof(t));
        s->cases[i].run(&t);
        if (t.failed) {
            failed++;
            printf("%snot ok %zu %s # %s\n", indent, i + 1, s->cases[i].name, t.reason);
        } else if (t.skipped) {
            printf("%sok %zu %s # SKIP %s\n", indent, i + 1, s->cases[i].name, t.reason);
        } else {
            printf("%sok %zu %s\n", indent, i + 1, s->cases[i].name);
        }
    }
    return failed;
}

int ktest_run(const char *name)
{
    if (strcmp(name, "all") == 0) {
        size_t n = (size_t)(__ktest_suites_end - __ktest_suites_start);
        int failed_suites = 0, failed = 0;
        printf("KTAP version 1\n1..%zu\n", n);
        for (size_t i = 0; i < n; i++) {
            indent = "    ";
            int f = run_suite(__ktest_suites_start[i]);
            indent = "";
            printf("%s %zu %s\n", f ? "not ok" : "ok", i + 1, __ktest_suites_start[i]->name);
            failed += f;
            failed_suites += f != 0;
        }
        printf("# %zu suites, %d failed\n", n, failed_suites);
        return failed;
    }
    for (const struct ktest_suite *const *s = __ktest_suites_start; s < __ktest_suites_end; s++)
        if (strcmp((*s)->name, name) == 0)
            return run_suite(*s);
    return -1;
}

void ktest_list(void)
{
    for (const struct ktest_suite *const *s = __ktest_suites_start; s < __ktest_suites_end;
         s++) {
        printf("%s:", (*s)->name);
        for (size_t i = 0; i < (*s)->ncases; i++)
            printf(" %s", (*s)->cases[i].name);
        printf("\n");
    }
}
