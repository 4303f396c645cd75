/* SPDX-License-Identifier: Apache-2.0 */
/*
 * ktest.h - in-image test suites, reported as KTAP v1 on the console.
 *
 * A suite is a named array of cases. KTEST_SUITE() defines it and registers
 * it in the suite table (the .ktest_suites section, gathered by the linker
 * script), so adding a suite is adding one file under kernel/tests/. A case gets a `struct ktest` and reports
 * failure through KT_ASSERT/KT_FAIL, which record the reason and return.
 * Diagnostics go out with ktest_diag() as "# ..." lines, as KTAP wants.
 */
#ifndef RINGLOOP_KTEST_H
#define RINGLOOP_KTEST_H

#include <stdbool.h>
#include <stddef.h>

struct ktest {
    bool failed;
    bool skipped;
    char reason[160];
};

struct ktest_case {
    const char *name;
    void (*run)(struct ktest *t);
};

struct ktest_suite {
    const char *name;
    const struct ktest_case *cases;
    size_t ncases;
};

#define KTEST_SUITE(var, sname, ...)                                                  \
    static const struct ktest_case var##_cases[] = {__VA_ARGS__};                    \
    const struct ktest_suite var = {sname, var##_cases,                              \
                                    sizeof(var##_cases) / sizeof(var##_cases[0])};   \
    static const struct ktest_suite *const var##_reg                                 \
        __attribute__((section(".ktest_suites"), used)) = &var

void ktest_fail(struct ktest *t, const char *file, int line, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
void ktest_skip(struct ktest *t, const char *why);
void ktest_diag(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* The indent of the KTAP level being printed ("" outside a nested subtest),
 * for other "# ..." lines printed while a test runs. */
const char *ktest_indent(void);

#define KT_FAIL(t, ...)                                                               \
    do {                                                                              \
        ktest_fail((t), __FILE__, __LINE__, __VA_ARGS__);                             \
        return;                                                                       \
    } while (0)
#define KT_ASSERT(t, cond)                                                            \
    do {                                                                              \
        if (!(cond))                                                                  \
            KT_FAIL((t), "%s", #cond);                                                \
    } while (0)
#define KT_ASSERT_EQ(t, a, b)                                                         \
    do {                                                                              \
        long long _a = (long long)(a), _b = (long long)(b);                           \
        if (_a != _b)                                                                 \
            KT_FAIL((t), "%s == %s (%lld != %lld)", #a, #b, _a, _b);                  \
    } while (0)

/* Run one suite by name (or "all"); returns number of failed cases, -1 if unknown. */
int ktest_run(const char *name);
void ktest_list(void);

#endif
