/* SPDX-License-Identifier: Apache-2.0 */
/*
 * virtio_platform.h - everything the portable virtio core needs from the
 * platform it runs on, in one place. Two implementations exist:
 * kernel/virtio/virtio_platform_kernel.c (the image) and host/platform_host.c
 * (Linux user space: tests, benchmarks, fuzzers).
 *
 * The core includes only this header, virtio_ring.h and freestanding C
 * headers (stdint, stddef, stdbool, string.h). A core file that compiles in
 * one build and not the other is a bug.
 *
 * Memory model: the driver and device sides run on different CPUs (or
 * threads) and meet in normal write-back memory, so SMP barriers suffice
 * (like Linux's weak_barriers). Barriers are inline here, expressed with the
 * compiler's __atomic builtins so they mean the same thing in both builds:
 *   virt_wmb()  orders earlier stores before later stores (release fence);
 *   virt_rmb()  orders earlier loads before later loads (acquire fence);
 *   virt_mb()   full fence, also store->load (the only one that costs on x86:
 *               it is what the EVENT_IDX / flags checks need, 2.7.7, 2.7.10).
 * Shared-memory fields are read and written exactly once per use through
 * virt_read_once*()/virt_write_once*() so the compiler can neither tear nor
 * repeat an access; ring indices use acquire/release.
 */
#ifndef RINGLOOP_VIRTIO_PLATFORM_H
#define RINGLOOP_VIRTIO_PLATFORM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* ---- barriers and single-copy accesses to shared memory ---- */

static inline void virt_wmb(void)
{
    __atomic_thread_fence(__ATOMIC_RELEASE);
}
static inline void virt_rmb(void)
{
    __atomic_thread_fence(__ATOMIC_ACQUIRE);
}
static inline void virt_mb(void)
{
    __atomic_thread_fence(__ATOMIC_SEQ_CST);
}

/* Ring index published by the other side: later loads see what it wrote
 * before its matching virt_store_release16(). */
static inline uint16_t virt_load_acquire16(const uint16_t *p)
{
    return __atomic_load_n(p, __ATOMIC_ACQUIRE);
}
/* Publish an index: every earlier load/store is visible first. */
static inline void virt_store_release16(uint16_t *p, uint16_t v)
{
    __atomic_store_n(p, v, __ATOMIC_RELEASE);
}

static inline uint16_t virt_read_once16(const uint16_t *p)
{
    return __atomic_load_n(p, __ATOMIC_RELAXED);
}
static inline uint32_t virt_read_once32(const uint32_t *p)
{
    return __atomic_load_n(p, __ATOMIC_RELAXED);
}
static inline uint64_t virt_read_once64(const uint64_t *p)
{
    return __atomic_load_n(p, __ATOMIC_RELAXED);
}
static inline void virt_write_once16(uint16_t *p, uint16_t v)
{
    __atomic_store_n(p, v, __ATOMIC_RELAXED);
}
static inline void virt_write_once32(uint32_t *p, uint32_t v)
{
    __atomic_store_n(p, v, __ATOMIC_RELAXED);
}
static inline void virt_write_once64(uint64_t *p, uint64_t v)
{
    __atomic_store_n(p, v, __ATOMIC_RELAXED);
}

/* ---- memory ---- */

/*
 * DMA-able memory: zeroed, at least 64-byte aligned, contiguous in the
 * device's address space. *dma receives the address the device uses.
 * Returns NULL when out of memory.
 */
void *virt_dma_alloc(size_t size, uint64_t *dma);
void virt_dma_free(void *p, size_t size);
/* Device-visible address of driver memory (from virt_dma_alloc or any
 * buffer the platform lets the device reach). */
uint64_t virt_to_dma(const void *p);

/* Private (never shared) memory for bookkeeping: zeroed, NULL when out. */
void *virt_zalloc(size_t size);
void virt_free(void *p);

/* ---- locks (a spinning lock; callers keep critical sections short) ---- */

struct virt_lock {
    uint32_t word; /* 0 free, 1 held; only the platform code touches it */
};
#define VIRT_LOCK_INIT                                                                             \
    {                                                                                              \
        0                                                                                          \
    }
void virt_lock_acquire(struct virt_lock *l);
void virt_lock_release(struct virt_lock *l);

/* ---- log and time ---- */

#define VIRT_LOG_ERR 0
#define VIRT_LOG_WARN 1
#define VIRT_LOG_INFO 2
#define VIRT_LOG_DEBUG 3
void virt_log(int level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
uint64_t virt_time_ns(void); /* monotonic */
/* The CPU the caller runs on (0..): a hint for per-CPU choices such as a
 * blk request queue; it may change right after the call. */
unsigned virt_cpu_id(void);

#endif
