/* SPDX-License-Identifier: Apache-2.0 */
/*
 * test_libc.c - suite "libc": newlib as linked into the image, through the
 * glue in libc/syscalls.c (formatted output, conversions, the allocator on
 * the kernel heap, and ENOSYS for what the kernel does not offer).
 */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kernel.h"
#include "kernel/tests/ktest.h"

static void t_printf(struct ktest *t)
{
    char buf[128];
    int n = snprintf(buf, sizeof(buf), "%d|%5s|%-3x|%llu|%p|%c|%%", -42, "ab", 0xbe,
                     18446744073709551615ULL, (void *)0x1000, 'z');
    KT_ASSERT(t, n == (int)strlen(buf));
    if (strcmp(buf, "-42|   ab|be |18446744073709551615|0x1000|z|%"))
        KT_FAIL(t, "got '%s'", buf);
    snprintf(buf, sizeof(buf), "%.3f %e", 3.14159, 1.5e10);
    if (strcmp(buf, "3.142 1.500000e+10"))
        KT_FAIL(t, "floating point: got '%s'", buf);
    /* truncation reports the full length and terminates */
    n = snprintf(buf, 4, "%s", "abcdefgh");
    KT_ASSERT_EQ(t, n, 8);
    KT_ASSERT(t, strcmp(buf, "abc") == 0);
}

static void t_strtol(struct ktest *t)
{
    char *end;
    KT_ASSERT_EQ(t, strtol("12345", &end, 10), 12345);
    KT_ASSERT(t, *end == 0);
    KT_ASSERT_EQ(t, strtol("  -0x1f zz", &end, 0), -31);
    KT_ASSERT(t, strcmp(end, " zz") == 0);
    KT_ASSERT_EQ(t, strtol("0777", NULL, 0), 511);
    KT_ASSERT_EQ(t, strtoul("ffffffff", NULL, 16), 0xffffffffUL);
    errno = 0;
    long v = strtol("99999999999999999999999", NULL, 10);
    KT_ASSERT(t, v == LONG_MAX);
    KT_ASSERT_EQ(t, errno, ERANGE);
    KT_ASSERT_EQ(t, strtol("xyz", &end, 10), 0);
    KT_ASSERT(t, strcmp(end, "xyz") == 0);
}

static void t_malloc(struct ktest *t)
{
    enum { N = 200 };
    unsigned char *p[N];
    size_t sz[N];
    for (int i = 0; i < N; i++) {
        sz[i] = (size_t)(1 + (i * 7919) % 5000) * (i % 10 == 0 ? 40 : 1);
        p[i] = malloc(sz[i]);
        if (!p[i])
            KT_FAIL(t, "malloc(%zu) failed at %d", sz[i], i);
        memset(p[i], i & 0xff, sz[i]);
    }
    for (int i = 0; i < N; i++)
        for (size_t j = 0; j < sz[i]; j += 97)
            if (p[i][j] != (i & 0xff))
                KT_FAIL(t, "block %d byte %zu overwritten", i, j);
    for (int i = 0; i < N; i += 2)
        free(p[i]);
    for (int i = 1; i < N; i += 2) {
        p[i] = realloc(p[i], sz[i] * 2);
        KT_ASSERT(t, p[i] != NULL);
        for (size_t j = 0; j < sz[i]; j += 89)
            if (p[i][j] != (i & 0xff))
                KT_FAIL(t, "realloc lost data in block %d", i);
        free(p[i]);
    }
    unsigned *z = calloc(1000, sizeof(unsigned));
    KT_ASSERT(t, z != NULL);
    for (int i = 0; i < 1000; i++)
        KT_ASSERT(t, z[i] == 0);
    free(z);
    /* a request larger than the heap fails cleanly with ENOMEM */
    errno = 0;
    void *huge = malloc((size_t)1 << 40);
    KT_ASSERT(t, huge == NULL);
    KT_ASSERT_EQ(t, errno, ENOMEM);
}

static void t_string(struct ktest *t)
{
    char a[64] = "hello, ringloop";
    memmove(a + 2, a, 10);
    KT_ASSERT(t, strcmp(a, "hehello, rinoop") == 0);
    KT_ASSERT_EQ(t, strlen("ringloop"), 8);
    KT_ASSERT(t, strcmp("abc", "abd") < 0);
    KT_ASSERT(t, strncmp("abcx", "abcy", 3) == 0);
    KT_ASSERT(t, strchr("a=b", '=') != NULL);
    char *tok = strtok(a, ",");
    KT_ASSERT(t, tok && strcmp(tok, "hehello") == 0);
}

static void t_enosys(struct ktest *t)
{
    errno = 0;
    FILE *f = fopen("/etc/passwd", "r");
    KT_ASSERT(t, f == NULL);
    KT_ASSERT_EQ(t, errno, ENOSYS);
    errno = 0;
    KT_ASSERT(t, fputc('x', stdin) == EOF || errno != 0);
}

KTEST_SUITE(ktest_libc, "libc",
            {"printf", t_printf},
            {"strtol", t_strtol},
            {"malloc", t_malloc},
            {"string", t_string},
            {"enosys", t_enosys});
