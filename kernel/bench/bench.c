/* SPDX-License-Identifier: Apache-2.0 */
/*
 * bench.c - in-image micro-benchmarks for the platform itself (`bench NAME`).
 * They print numbers and never judge them; device benchmarks register their
 * own entries with BENCH() next to their drivers.
 */
#include <stdio.h>
#include <stdlib.h>

#include "kernel.h"
#include "kernel/shell/shell.h"

static int parse_iters(int argc, char **argv, unsigned long long def, unsigned long long *n)
{
    *n = def;
    if (argc > 2) {
        printf("error: usage: bench %s [iterations]\n", argv[0]);
        return -1;
    }
    if (argc == 2 && shell_parse_u64("iterations", argv[1], 100000000ULL, n))
        return -1;
    if (*n == 0) {
        printf("error: iterations must be at least 1\n");
        return -1;
    }
    return 0;
}

static int bench_timer(int argc, char **argv)
{
    unsigned long long n;
    if (parse_iters(argc, argv, 1000000, &n))
        return -1;
    uint64_t t0 = timer_ns(), sink = 0;
    for (unsigned long long i = 0; i < n; i++)
        sink += timer_ns();
    uint64_t dt = timer_ns() - t0;
    printf("timer_ns: %llu calls, %llu ns/call (tsc %llu Hz) [%llu]\n", n,
           (unsigned long long)(dt / n), (unsigned long long)tsc_hz(),
           (unsigned long long)(sink & 1));
    return 0;
}
BENCH(timer, "timer", "cost of one timer_ns() call", bench_timer);

static int bench_pages(int argc, char **argv)
{
    unsigned long long n;
    if (parse_iters(argc, argv, 100000, &n))
        return -1;
    uint64_t t0 = timer_ns();
    for (unsigned long long i = 0; i < n; i++) {
        void *p = page_alloc(1);
        if (!p) {
            printf("error: out of pages after %llu iterations\n", i);
            return -1;
        }
        page_free(p, 1);
    }
    uint64_t dt = timer_ns() - t0;
    printf("page_alloc+page_free (1 page, zeroed): %llu ns/pair over %llu pairs\n",
           (unsigned long long)(dt / n), n);
    return 0;
}
BENCH(pages, "pages", "page_alloc(1) + page_free cost", bench_pages);

static int bench_malloc(int argc, char **argv)
{
    unsigned long long n;
    if (parse_iters(argc, argv, 1000000, &n))
        return -1;
    uint64_t t0 = timer_ns();
    for (unsigned long long i = 0; i < n; i++) {
        void *p = malloc(16 + (i % 64) * 8);
        if (!p) {
            printf("error: malloc failed after %llu iterations\n", i);
            return -1;
        }
        free(p);
    }
    uint64_t dt = timer_ns() - t0;
    printf("malloc+free (16..520 bytes): %llu ns/pair over %llu pairs\n",
           (unsigned long long)(dt / n), n);
    return 0;
}
BENCH(malloc, "malloc", "newlib malloc + free cost", bench_malloc);
