/* SPDX-License-Identifier: Apache-2.0 */
/*
 * ring_fixture.h - shared setup for the hosted ring unit tests: one "guest
 * memory" arena (heap memory whose device-visible addresses start at
 * FX_GPA_BASE, so driver pointers and guest addresses differ), a driver
 * virtqueue and/or a device queue over it, and helpers to poke ring memory
 * the way a buggy or hostile peer would.
 */
#ifndef RINGLOOP_RING_FIXTURE_H
#define RINGLOOP_RING_FIXTURE_H

#include <stdbool.h>
#include <stdint.h>

#include "vdq.h"
#include "virtqueue.h"

#define FX_GPA_BASE 0x40000000ull
#define FX_ARENA_SIZE (4u << 20)
#define FX_MAX_IOV 1024

struct ring_fixture {
    uint8_t *arena;
    struct vdq_mem_region region;
    struct vdq_mem mem;
    struct virtqueue *vq; /* driver side (fx_setup) */
    struct vdq q;         /* device side */
    struct vdq_iov iov[FX_MAX_IOV];
    struct vdq_chain chain;
    /* Raw ring (fx_setup_raw): we play the driver by hand. */
    struct virtq_desc *desc;
    struct virtq_avail *avail;
    struct virtq_used *used;
    uint64_t desc_gpa, avail_gpa, used_gpa;
    uint32_t num;
    uint16_t avail_idx;
    int notifies;
    uint8_t *scratch; /* 4 KiB of guest memory for test buffers */
};

/* Arena only. */
void fx_arena_init(struct ring_fixture *fx);
/* Arena + driver vq + device vdq on the vq's rings. */
void fx_setup(struct ring_fixture *fx, uint32_t num, bool event_idx, bool indirect);
/* Arena + hand-made rings + device vdq (no driver vq). */
void fx_setup_raw(struct ring_fixture *fx, uint32_t num, bool event_idx, bool indirect);
void fx_teardown(struct ring_fixture *fx);

/* Arena allocation (zeroed) and its guest address. */
void *fx_alloc(struct ring_fixture *fx, size_t size, uint64_t *gpa);
uint64_t fx_gpa(struct ring_fixture *fx, const void *p);

/* Raw ring helpers. */
void fx_set_desc(struct ring_fixture *fx, struct virtq_desc *table, uint16_t i, uint64_t addr,
                 uint32_t len, uint16_t flags, uint16_t next);
void fx_publish(struct ring_fixture *fx, uint16_t head); /* avail ring + idx */
struct virtq_used_elem fx_used_elem(struct ring_fixture *fx, uint16_t idx);
uint16_t fx_used_idx(struct ring_fixture *fx);

/* For driver-side tests: the vq's rings, seen through guest memory. */
struct virtq_used *fx_vq_used(struct ring_fixture *fx);
struct virtq_avail *fx_vq_avail(struct ring_fixture *fx);
struct virtq_desc *fx_vq_desc(struct ring_fixture *fx);

#endif
