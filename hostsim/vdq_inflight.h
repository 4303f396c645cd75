/* SPDX-License-Identifier: Apache-2.0 */
/*
 * vdq_inflight.h - inflight I/O tracking for a split device queue, in the
 * shared-memory layout of QEMU docs/interop/vhost-user.rst, section
 * "Inflight I/O tracking" (VHOST_USER_PROTOCOL_F_INFLIGHT_SHMFD,
 * GET_INFLIGHT_FD / SET_INFLIGHT_FD). hostsim/vdq_inflight.c.
 *
 * Why: a backend that crashes and restarts gets the frontend's ring base,
 * which after a crash is only used->idx; with completions out of order the
 * avail entries of chains still in flight may already be overwritten by
 * new ones. The region (one per queue, kept by the frontend across our
 * restarts) says which heads were in flight and in which order they were
 * fetched, so the next backend resubmits exactly those, oldest first, and
 * nothing that completed is done twice.
 *
 * Layout (native byte order, "All numbers are in the machine native byte
 * order"): per queue a QueueRegionSplit header then desc_num DescStateSplit
 * entries; queue i's region starts at i * vdqi_queue_bytes(queue_size) of
 * the mapping (the backend that creates the region picks the per-queue
 * size; ours is the header and entries rounded up to 64 bytes).
 *
 * Who writes what: the region is written only by the backend (us); the
 * frontend keeps it and hands it to the next backend. The reader is that
 * next backend, after this one is gone, so the stores below need program
 * order (a crash stops us between two instructions), not a concurrent
 * reader; everything read from it on recovery is untrusted and checked.
 *
 * Concurrency: a tracker belongs to one queue; its calls come from the
 * vdq calls of that queue (serialised by their caller, vdq.h).
 */
#ifndef RINGLOOP_VDQ_INFLIGHT_H
#define RINGLOOP_VDQ_INFLIGHT_H

#include <stdbool.h>
#include <stdint.h>

/* DescStateSplit: one per descriptor-table entry; meaningful for heads. */
struct vdqi_desc {
    uint8_t inflight; /* 1 while the chain with this head is in flight */
    uint8_t padding[5];
    uint16_t next;    /* the last batch of used heads, as a list */
    uint64_t counter; /* fetch order (the tracker's counter at pop) */
};

/* QueueRegionSplit */
struct vdqi_region {
    uint64_t features;        /* 0 */
    uint16_t version;         /* VDQI_VERSION; 0: not initialised yet */
    uint16_t desc_num;        /* entries in desc[] (the queue size) */
    uint16_t last_batch_head; /* head of the last batch list */
    uint16_t used_idx;        /* used->idx once the last batch is settled */
    struct vdqi_desc desc[];
};

/* The header both inflight layouts of vhost-user.rst begin with (features,
 * version, desc_num): 1 when version is 0 (a fresh region the caller must
 * initialise), 0 when it is ours and sized for queue_size, -EINVAL (why
 * set) otherwise. Read once each: the region is shared with the frontend. */
int vdq_inflight_header_check(const uint64_t *features, const uint16_t *version,
                              const uint16_t *desc_num, uint16_t want_version,
                              uint32_t queue_size, const char **why);

_Static_assert(sizeof(struct vdqi_desc) == 16, "DescStateSplit is 16 bytes");
_Static_assert(__builtin_offsetof(struct vdqi_desc, next) == 6, "DescStateSplit.next");
_Static_assert(__builtin_offsetof(struct vdqi_desc, counter) == 8, "DescStateSplit.counter");
_Static_assert(sizeof(struct vdqi_region) == 16, "QueueRegionSplit header is 16 bytes");
_Static_assert(__builtin_offsetof(struct vdqi_region, used_idx) == 14, "QueueRegionSplit.used_idx");

#define VDQI_VERSION 1
#define VDQI_ALIGN 64

/* Bytes of one queue's region for queue_size entries (our choice of
 * per-queue stride; the spec leaves it to the backend). */
static inline uint64_t vdqi_queue_bytes(uint32_t queue_size)
{
    uint64_t n = sizeof(struct vdqi_region) + (uint64_t)queue_size * sizeof(struct vdqi_desc);

    return (n + VDQI_ALIGN - 1) & ~(uint64_t)(VDQI_ALIGN - 1);
}

/* The steps of the tracking, in the spec's order, for a test hook that
 * stops the world after each one (a simulated crash). */
enum vdqi_step {
    VDQI_STEP_POP_COUNTER,    /* desc[i].counter set */
    VDQI_STEP_POP_INFLIGHT,   /* desc[i].inflight = 1 */
    VDQI_STEP_PUSH_NEXT,      /* desc[i].next = last_batch_head */
    VDQI_STEP_PUSH_HEAD,      /* last_batch_head = i */
    VDQI_STEP_USED_IDX,       /* used->idx published (in guest memory) */
    VDQI_STEP_CLEAR,          /* one entry of the batch: inflight = 0 */
    VDQI_STEP_REGION_USED_IDX /* region used_idx = used->idx */
};

/* One queue's tracker: private state over its shared region. */
struct vdq_inflight {
    struct vdqi_region *r; /* shared (written by us only) */
    uint16_t desc_num;     /* private copy, checked at attach */
    uint16_t used_idx;     /* private: what r->used_idx was set to last */
    uint16_t batch_head;   /* private: what r->last_batch_head was set to last */
    uint16_t nresubmit;    /* heads in resubmit[] */
    uint16_t resubmit_next; /* next of them to hand out */
    uint16_t pad[3];
    uint64_t counter;      /* next fetch counter */
    uint16_t *resubmit;    /* desc_num entries of the owner's storage */
    uint64_t resubmitted;  /* handed out again since the last recovery */
    /* Test hook: called after each step (NULL in production). */
    void (*step)(void *ctx, enum vdqi_step s, uint16_t head);
    void *step_ctx;
};

/* Look at a queue region header for queue_size entries: a fresh one
 * (version 0) is initialised, ours (version 1, same size, features 0) is
 * kept. Else -EINVAL and *why says what is wrong (nothing written). */
int vdqi_region_check(struct vdqi_region *r, uint32_t queue_size, const char **why);
/* Initialise a region header for queue_size entries (entries zeroed). */
void vdqi_region_init(struct vdqi_region *r, uint32_t queue_size);

/* Attach t to region r of desc_num entries, storage for the resubmit list
 * (desc_num entries); no recovery: a fresh start. */
void vdqi_attach(struct vdq_inflight *t, struct vdqi_region *r, uint16_t desc_num,
                 uint16_t *storage);

/*
 * "When reconnecting": used_idx is used->idx in guest memory, num the ring
 * size (<= desc_num). Settles the last batch if its used->idx went out
 * before the backend died, then lists the heads still in flight in counter
 * order for vdqi_next_resubmit(). *ninflight: how many; the next avail
 * index to fetch is then used_idx + *ninflight (every fetched chain is
 * either in the used ring or in flight). A region with nothing in flight
 * (fresh, or left clean) only takes used_idx. Validates the region before it
 * writes anything: a batch longer than the ring, a list index or an
 * in-flight head out of range, more heads in flight than the ring holds:
 * -EINVAL with *why.
 */
int vdqi_recover(struct vdq_inflight *t, uint16_t used_idx, uint32_t num, uint16_t *ninflight,
                 const char **why);

/* vdq.c's hooks: a head fetched from the avail ring; a head about to be
 * written to the used ring; used->idx just published as used_idx (settles
 * the batch since the last publish); the next head to resubmit. */
void vdqi_pop(struct vdq_inflight *t, uint16_t head);
void vdqi_push(struct vdq_inflight *t, uint16_t head);
void vdqi_publish(struct vdq_inflight *t, uint16_t used_idx);
bool vdqi_next_resubmit(struct vdq_inflight *t, uint16_t *head);
/* A fetched head given back (vdq_unpop): no longer in flight. */
void vdqi_unpop(struct vdq_inflight *t, uint16_t head);

#endif
