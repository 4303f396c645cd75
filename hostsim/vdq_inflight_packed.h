/* SPDX-License-Identifier: Apache-2.0 */
/*
 * vdq_inflight_packed.h - inflight I/O tracking for a packed device queue,
 * in the shared-memory layout of QEMU docs/interop/vhost-user.rst,
 * "Inflight I/O tracking", packed virtqueue part (QueueRegionPacked,
 * DescStatePacked). hostsim/vdq_inflight_packed.c. The split layout is
 * vdq_inflight.h; this file follows the same shape.
 *
 * Why it differs from split: a packed ring has no avail index in memory,
 * and a used element overwrites ring descriptors that may belong to chains
 * still in flight (completions out of order). So the region keeps a copy
 * of every fetched descriptor (addr, len, id, flags) in entries taken from
 * a free list (free_head / next), one head entry per chain with its
 * counter, num and last; and it keeps the device's used position with its
 * wrap counter, twice: the current one and the "old" one of the last
 * settled batch, so a crash half-way through a batch rolls back to the old
 * one (or forward, when the used descriptor flags show the batch reached
 * the driver).
 *
 * Layout (native byte order): per queue a QueueRegionPacked header (32
 * bytes) then desc_num DescStatePacked entries (32 bytes each); queue i at
 * i * vdqip_queue_bytes(queue_size).
 *
 * Who writes what: only the backend (us) writes the region; the reader is
 * the next backend, after we are gone: the stores need program order (a
 * crash stops us between two of them), and everything read back on
 * recovery is untrusted and checked.
 *
 * Concurrency: a tracker belongs to one queue; its calls come from that
 * queue's vdq calls (serialised by their caller, vdq.h).
 */
#ifndef RINGLOOP_VDQ_INFLIGHT_PACKED_H
#define RINGLOOP_VDQ_INFLIGHT_PACKED_H

#include <stdbool.h>
#include <stdint.h>

#include "virtio_ring_packed.h"

/* DescStatePacked */
struct vdqip_desc {
    uint8_t inflight; /* head entries: 1 while the chain is in flight */
    uint8_t padding;
    uint16_t next;    /* next entry of the free list / of the chain */
    uint16_t last;    /* head entries: the chain's last entry */
    uint16_t num;     /* head entries: descriptors in the chain */
    uint64_t counter; /* head entries: fetch order */
    uint16_t id;      /* the descriptor's copy: buffer id */
    uint16_t flags;   /* ... flags */
    uint32_t len;     /* ... length */
    uint64_t addr;    /* ... address */
};

/* QueueRegionPacked */
struct vdqip_region {
    uint64_t features; /* 0 */
    uint16_t version;  /* VDQIP_VERSION; 0: not initialised yet */
    uint16_t desc_num; /* entries in desc[] (the queue size) */
    uint16_t free_head;
    uint16_t old_free_head;
    uint16_t used_idx; /* ring offset of the next used element */
    uint16_t old_used_idx;
    uint8_t used_wrap_counter;
    uint8_t old_used_wrap_counter;
    uint8_t padding[7];
    struct vdqip_desc desc[];
};

_Static_assert(sizeof(struct vdqip_desc) == 32, "DescStatePacked is 32 bytes");
_Static_assert(__builtin_offsetof(struct vdqip_desc, counter) == 8, "DescStatePacked.counter");
_Static_assert(__builtin_offsetof(struct vdqip_desc, id) == 16, "DescStatePacked.id");
_Static_assert(__builtin_offsetof(struct vdqip_desc, addr) == 24, "DescStatePacked.addr");
_Static_assert(__builtin_offsetof(struct vdqip_region, used_wrap_counter) == 20,
               "QueueRegionPacked.used_wrap_counter");
_Static_assert(__builtin_offsetof(struct vdqip_region, desc) == 32,
               "QueueRegionPacked header is 32 bytes");

#define VDQIP_VERSION 1
#define VDQIP_ALIGN 64

static inline uint64_t vdqip_queue_bytes(uint32_t queue_size)
{
    uint64_t n = sizeof(struct vdqip_region) + (uint64_t)queue_size * sizeof(struct vdqip_desc);

    return (n + VDQIP_ALIGN - 1) & ~(uint64_t)(VDQIP_ALIGN - 1);
}

/* The stores of the tracking, in the spec's order, for a test hook that
 * stops the world after each (a simulated crash). */
enum vdqip_step {
    VDQIP_STEP_POP_HEAD,      /* head entry: num 0, counter, inflight 1 */
    VDQIP_STEP_POP_COPY,      /* one descriptor copied, free_head moved on */
    VDQIP_STEP_POP_LAST,      /* old_free_head = free_head: chain committed */
    VDQIP_STEP_PUSH_LINK,     /* desc[e.last].next = free_head */
    VDQIP_STEP_PUSH_FREE,     /* free_head = e */
    VDQIP_STEP_PUSH_USED_IDX, /* used_idx / used_wrap_counter moved on */
    VDQIP_STEP_FLAGS,         /* the used descriptor's flags (guest memory) */
    VDQIP_STEP_CLEAR,         /* one head of the batch: inflight 0 */
    VDQIP_STEP_OLD            /* old_* = current: the batch settled */
};

/* One chain to resubmit: its head entry; vdqip_chain_desc() gives its
 * descriptors in order. */
struct vdq_inflight_packed {
    struct vdqip_region *r; /* shared (written by us only) */
    uint16_t desc_num;      /* private copies of what we last stored: */
    uint16_t free_head, old_free_head;
    uint16_t used_idx, old_used_idx;
    bool used_wrap, old_used_wrap;
    uint16_t nbatch; /* heads pushed since the last settle */
    uint16_t nresubmit, resubmit_next;
    uint16_t ring_num; /* the ring's size (<= desc_num), for the wrap */
    uint16_t cur_num;  /* descriptors of the chain being fetched */
    uint16_t pad[3];
    uint64_t counter; /* next fetch counter */
    /* Private (never read back from the region), desc_num entries each: */
    uint16_t *batch;      /* heads of this batch */
    uint16_t *resubmit;   /* heads to resubmit, oldest fetch first */
    uint16_t *head_of_id; /* head entry of buffer id's chain */
    uint16_t *next;       /* what we stored in desc[i].next */
    uint16_t *last;       /* what we stored in desc[i].last */
    uint64_t resubmitted;
    void (*step)(void *ctx, enum vdqip_step s, uint16_t i);
    void *step_ctx;
};

/* A fresh region (version 0) is initialised (free list 0 -> 1 -> ...,
 * wrap counters 1, 2.8.1), ours (version 1, same size, features 0) kept;
 * else -EINVAL with *why (nothing written). */
int vdqip_region_check(struct vdqip_region *r, uint32_t queue_size, const char **why);
void vdqip_region_init(struct vdqip_region *r, uint32_t queue_size);

/* storage: VDQIP_STORAGE_PER_DESC * desc_num entries of the owner's. */
#define VDQIP_STORAGE_PER_DESC 5
void vdqip_attach(struct vdq_inflight_packed *t, struct vdqip_region *r, uint16_t desc_num,
                  uint16_t *storage);

/*
 * "When reconnecting". ring/num: the descriptor ring as the device sees it
 * (read only here: the flags at old_used_idx). Rolls an unsettled batch
 * forward (its used flags reached the ring) or back, clears the free
 * list's flags, and lists the chains in flight in counter order. Out: the
 * ring positions to go on from: *used_idx, *used_wrap for the next used
 * element, *avail_idx, *avail_wrap for the next descriptor to fetch (the
 * used position plus the descriptors of every chain in flight: each
 * fetched descriptor is either behind the used position or in flight),
 * *ninflight chains. Validates before it writes: a free list or chain
 * index out of range or looping, a chain whose num or last do not add up,
 * an id out of range or twice, more descriptors in flight than the ring:
 * -EINVAL with *why.
 */
int vdqip_recover(struct vdq_inflight_packed *t, const struct pvirtq_desc *ring, uint32_t num,
                  uint16_t *used_idx, bool *used_wrap, uint16_t *avail_idx, bool *avail_wrap,
                  uint16_t *ninflight, const char **why);

/* Hooks. pop: descriptor d (its private copy) of the chain being fetched;
 * is_head / is_last say where it sits. push: buffer id's chain is about to
 * be written to the used ring at the current used position (ndesc
 * descriptors skipped); settle: the used flags of the batch are in the
 * ring. next_resubmit: the head entry of the next chain to hand out again,
 * whose k-th descriptor (k < desc_num of the head's num) chain_desc copies. */
void vdqip_pop(struct vdq_inflight_packed *t, const struct pvirtq_desc *d, bool is_head,
               bool is_last);
int vdqip_push(struct vdq_inflight_packed *t, uint16_t id, uint16_t ndesc);
void vdqip_flags_written(struct vdq_inflight_packed *t);
void vdqip_settle(struct vdq_inflight_packed *t);
bool vdqip_next_resubmit(struct vdq_inflight_packed *t, uint16_t *head);
/* Buffer id's chain was given back (vdq_unpop): off the region's books,
 * its descriptors are fetched again from the ring. */
void vdqip_unpop(struct vdq_inflight_packed *t, uint16_t id);
int vdqip_chain_desc(const struct vdq_inflight_packed *t, uint16_t head, uint16_t k,
                     struct pvirtq_desc *out);

#endif
