/* SPDX-License-Identifier: Apache-2.0 */
/*
 * packed_fixture.h - hosted test harness for the packed device queue
 * (hostsim/vdq_packed.c): a guest-memory arena, a vdq over a packed ring in
 * it, and a test-local packed driver written from the spec's text
 * (packed-ring.tex 2.8.21 "Supplying Buffers", 2.8.22 "Receiving Used
 * Buffers"), not from drivers/virtio: wrap counters start at 1, a list's
 * head flags are stored last with a release, the buffer id goes in the last
 * descriptor, the driver skips by the descriptor count it remembers per id.
 * It can also write whatever a buggy driver would (raw descriptors).
 * One fixture at a time (F); cmocka asserts inside.
 */
#ifndef RINGLOOP_PACKED_FIXTURE_H
#define RINGLOOP_PACKED_FIXTURE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "vdq.h"
#include "virtio_ring_packed.h"

#define GPA_BASE 0x40000000ull
#define ARENA_SIZE (8u << 20)
#define MAX_IOV 64

#define W VIRTQ_DESC_F_WRITE
#define N VIRTQ_DESC_F_NEXT
#define I VIRTQ_DESC_F_INDIRECT

struct seg {
    uint64_t gpa;
    uint32_t len;
    uint16_t flags; /* W, and for raw lists anything */
};

struct pfx {
    uint8_t *arena;
    size_t used;
    struct vdq_mem_region region[2];
    struct vdq_mem mem;
    struct vdq q;
    struct vdq_config cfg;
    uint16_t *ids; /* cfg.packed_ids for big rings */
    struct vdq_iov iov[MAX_IOV];
    struct vdq_chain chain;
    /* Driver. */
    struct pvirtq_desc *ring;
    struct pvirtq_event_suppress *drv_ev; /* driver area: we write */
    struct pvirtq_event_suppress *dev_ev; /* device area: device writes */
    uint32_t num;
    uint16_t next_avail, next_used;
    bool avail_wrap, used_wrap;
    uint16_t *sgs; /* descriptors per buffer id (2.8.22 example's vq->sgs) */
};

extern struct pfx F;

void *p_alloc(struct pfx *f, size_t size, uint64_t *gpa);
uint64_t p_buf(struct pfx *f, size_t len, uint8_t **hva);
void p_init_cfg(struct pfx *f, uint32_t num, bool event_idx, bool indirect, bool batch);
void p_setup_q(struct pfx *f, uint32_t num, bool event_idx, bool indirect, bool batch);
void p_teardown(struct pfx *f);
int p_teardown_state(void **state); /* cmocka teardown: p_teardown(&F) */
/* Make a list available (2.8.21.1); raw_flags: no NEXT added; first_id >= 0:
 * that id in the first descriptor. Returns the head's offset. */
uint16_t drv_add_ex(struct pfx *f, uint16_t id, const struct seg *s, unsigned n, bool raw_flags,
                    int first_id);
uint16_t drv_add(struct pfx *f, uint16_t id, const struct seg *s, unsigned n);
void drv_add1(struct pfx *f, uint16_t id, uint64_t gpa, uint32_t len, uint16_t flags);
/* 2.8.22: the next used element (false: none yet). */
bool drv_get_used(struct pfx *f, uint16_t *id, uint32_t *len, uint16_t *flags);
void expect_used(struct pfx *f, uint16_t id, uint32_t len);
void expect_no_used(struct pfx *f);
void expect_good_after(struct pfx *f, uint16_t id);
/* The list just made available is bad for why: back at once, len 0. */
void expect_bad(struct pfx *f, uint16_t id, enum vdq_bad why);
void expect_broken(struct pfx *f);

#endif
