/* SPDX-License-Identifier: Apache-2.0 */
/*
 * platform_host.c - virtio_platform.h for Linux user space (build/host/).
 *
 * DMA memory comes from the arena a test set up (platform_host.h) or, when
 * there is none, from the C heap with identity addresses. Locks are a
 * test-and-set spin with sched_yield(); time is CLOCK_MONOTONIC; the log
 * goes to stderr.
 */
#define _GNU_SOURCE
#include "virtio_platform.h"
#include "platform_host.h"

#include <pthread.h>
#include <sched.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static pthread_mutex_t arena_mutex = PTHREAD_MUTEX_INITIALIZER;
static uint8_t *arena_base;
static size_t arena_size;
static size_t arena_next;
static uint64_t arena_gpa;
static int log_level = VIRT_LOG_WARN;

void host_dma_arena_setup(void *base, size_t size, uint64_t gpa_base)
{
    pthread_mutex_lock(&arena_mutex);
    arena_base = base;
    arena_size = size;
    arena_next = 0;
    arena_gpa = gpa_base;
    pthread_mutex_unlock(&arena_mutex);
}

void host_dma_arena_clear(void)
{
    host_dma_arena_setup(NULL, 0, 0);
}

size_t host_dma_arena_used(void)
{
    return arena_next;
}

void host_log_level_set(int level)
{
    log_level = level;
}

void *virt_dma_alloc(size_t size, uint64_t *dma)
{
    void *p = NULL;

    if (size == 0)
        size = 1;
    pthread_mutex_lock(&arena_mutex);
    if (arena_base) {
        size_t off = (arena_next + 63) & ~(size_t)63;
        if (off <= arena_size && size <= arena_size - off) {
            p = arena_base + off;
            arena_next = off + size;
            memset(p, 0, size);
            *dma = arena_gpa + off;
        }
        pthread_mutex_unlock(&arena_mutex);
        return p;
    }
    pthread_mutex_unlock(&arena_mutex);
    if (posix_memalign(&p, 4096, size) != 0)
        return NULL;
    memset(p, 0, size);
    *dma = (uint64_t)(uintptr_t)p;
    return p;
}

void virt_dma_free(void *p, size_t size)
{
    uint8_t *b = p;

    (void)size;
    if (!p)
        return;
    /* Arena memory is released all at once by host_dma_arena_clear(). */
    if (arena_base && b >= arena_base && b < arena_base + arena_size)
        return;
    free(p);
}

uint64_t virt_to_dma(const void *p)
{
    const uint8_t *b = p;

    if (arena_base && b >= arena_base && b < arena_base + arena_size)
        return arena_gpa + (uint64_t)(b - arena_base);
    return (uint64_t)(uintptr_t)p;
}

void *virt_zalloc(size_t size)
{
    return calloc(1, size ? size : 1);
}

void virt_free(void *p)
{
    free(p);
}

void virt_lock_acquire(struct virt_lock *l)
{
    while (__atomic_exchange_n(&l->word, 1, __ATOMIC_ACQUIRE) != 0) {
        while (__atomic_load_n(&l->word, __ATOMIC_RELAXED) != 0)
            sched_yield();
    }
}

void virt_lock_release(struct virt_lock *l)
{
    __atomic_store_n(&l->word, 0, __ATOMIC_RELEASE);
}

static uint64_t log_problems;

uint64_t host_log_problems(void)
{
    return __atomic_load_n(&log_problems, __ATOMIC_RELAXED);
}

void virt_log(int level, const char *fmt, ...)
{
    static const char *const names[] = {"err", "warn", "info", "debug"};
    va_list ap;

    /* Warnings and errors are counted even when quiet (host_log_problems). */
    if (level <= VIRT_LOG_WARN)
        __atomic_fetch_add(&log_problems, 1, __ATOMIC_RELAXED);
    if (level > log_level)
        return;
    fprintf(stderr, "virtio %s: ", names[level < 0 ? 0 : level > 3 ? 3 : level]);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
}

uint64_t virt_time_ns(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* sched_getcpu: where the thread runs now (-1 where the kernel cannot
 * say: then 0, one queue for everybody, which is always correct). */
unsigned virt_cpu_id(void)
{
    int c = sched_getcpu();

    return c < 0 ? 0u : (unsigned)c;
}
