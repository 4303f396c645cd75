/* SPDX-License-Identifier: Apache-2.0 */
/*
 * platform_host.h - hosted-only extras of the virtio_platform.h
 * implementation in platform_host.c.
 *
 * A test can hand the platform a "DMA arena": a region (e.g. one mapping of
 * a memfd) that virt_dma_alloc() carves from, and whose device-visible
 * address is gpa_base + offset. Without an arena, DMA memory comes from the
 * C heap and the device address is the pointer value (identity).
 *
 * Invariant: the arena is set up before any thread allocates from it and
 * torn down after they stop; allocation itself is locked.
 */
#ifndef RINGLOOP_PLATFORM_HOST_H
#define RINGLOOP_PLATFORM_HOST_H

#include <stddef.h>
#include <stdint.h>

void host_dma_arena_setup(void *base, size_t size, uint64_t gpa_base);
void host_dma_arena_clear(void);
size_t host_dma_arena_used(void);
/* Quiet virt_log() below this level (default: VIRT_LOG_WARN shown). */
void host_log_level_set(int level);
/* virt_log() calls at VIRT_LOG_WARN or worse so far, shown or not (tests
 * check that a detection says so in one line). */
uint64_t host_log_problems(void);

#endif
