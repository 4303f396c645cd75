/* SPDX-License-Identifier: Apache-2.0 */
/*
 * vdq.h - device side of a virtqueue, split (virtio 1.2 section 2.7,
 * hostsim/vdq.c) or packed (section 2.8, hostsim/vdq_packed.c, chosen by
 * vdq_config.packed): what a device model uses to take requests from a
 * driver and return them. The API is the same for both layouts; "head" is
 * the split head index or the packed buffer id.
 *
 * Concurrency: one device-side user per queue at a time (the caller
 * serialises); the driver runs concurrently on the other side of the rings.
 *
 * Guest memory is described by a table of regions (guest-physical address
 * -> pointer in our address space). Every address read from the rings is
 * translated through it with bounds checks; nothing outside a region is
 * ever touched.
 *
 * Policy for what the driver gets wrong (see vdq.c for the full catalogue):
 *  - a bad chain (malformed descriptors, addresses outside guest memory, ...)
 *    is returned to the driver in the used ring with len 0, counted in
 *    vdq_stats.bad_chains (and per reason), and the queue keeps running;
 *  - a corrupt ring (avail->idx more than the queue size ahead of next_avail,
 *    which includes avail->idx moving backwards, or a head index outside the
 *    table) leaves no chain to return: the queue becomes broken (the device
 *    should set DEVICE_NEEDS_RESET) and every later call returns -EIO;
 *    with vdq_set_corrupt_stall() (a transport without DEVICE_NEEDS_RESET,
 *    vhost-user) a split queue instead consumes nothing and waits for the
 *    driver (below).
 *  Packed (vdq_packed.c): the same two classes; a chain with no end within
 *  the ring, a buffer id >= size or already in flight, or a continuation
 *  descriptor not available is a corrupt ring (there is no id to return).
 */
#ifndef RINGLOOP_VDQ_H
#define RINGLOOP_VDQ_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "virtio_ring.h"
#include "virtio_ring_packed.h"

struct vdq_inflight;        /* hostsim/vdq_inflight.h */
struct vdq_inflight_packed; /* hostsim/vdq_inflight_packed.h */

/* Packed queues up to this size keep their per-id table inside struct vdq;
 * bigger ones need vdq_config.packed_ids (>= the device models' maximum
 * queue size, 256). */
#define VDQ_PACKED_IDS_INLINE 256

struct vdq_mem_region {
    uint64_t gpa;  /* guest-physical start */
    uint64_t size; /* bytes */
    void *hva;     /* where we see it */
};

/*
 * Dirty page log (vhost-user live migration; QEMU docs/interop/vhost-user.rst
 * "Migration"): "page = addr / VHOST_LOG_PAGE; log[page / 8] |= 1 << page %
 * 8 Where addr is the guest physical address. Use atomic operations, as the
 * log may be concurrently manipulated." VHOST_LOG_PAGE is 0x1000. While
 * bitmap is set, every byte the device writes into guest memory marks its
 * page (hostsim/vdq_log.c); bitmap NULL: not logging, every call a no-op.
 * Owned by whoever set vdq_mem.log (the vhost-user backend), changed only
 * while nothing processes the queues (device asleep).
 */
#define VDQ_LOG_PAGE 0x1000u
struct vdq_log {
    uint8_t *bitmap; /* NULL: not logging */
    uint64_t bytes;  /* bitmap size: pages [0, bytes * 8) */
    uint64_t dropped; /* pages past the bitmap (atomic; a frontend's too small log) */
};

struct vdq_mem {
    const struct vdq_mem_region *regions;
    uint32_t nregions;
    uint32_t pad;
    struct vdq_log *log; /* NULL: no dirty log (copies share it) */
};

struct vdq_config {
    uint32_t num; /* split: power of two 1..32768; packed: any 1..32768 */
    uint32_t pad;
    /* Packed (2.8.10.1): descriptor ring (16-aligned), driver area = Driver
     * Event Suppression (4-aligned), device area = Device Event Suppression
     * (4-aligned). */
    uint64_t desc_gpa;  /* 16-aligned */
    uint64_t avail_gpa; /* 2-aligned */
    uint64_t used_gpa;  /* 4-aligned */
    bool event_idx;     /* VIRTIO_F_EVENT_IDX negotiated */
    bool indirect;      /* VIRTIO_F_INDIRECT_DESC negotiated */
    /* Publish used->idx once per batch, in vdq_interrupt_prepare(), instead
     * of on every push: fewer index-line transfers; the driver sees used
     * entries only at the next vdq_interrupt_prepare(). */
    bool publish_on_interrupt;
    bool packed; /* VIRTIO_F_RING_PACKED negotiated: packed layout (2.8) */
    uint8_t pad2[4];
    /* Packed with num > VDQ_PACKED_IDS_INLINE: num entries of caller
     * storage for the per-id table (must outlive the queue); else NULL. */
    uint16_t *packed_ids;
};

/* Why a chain was refused (index into vdq_stats.bad[]). */
enum vdq_bad {
    VDQ_BAD_NEXT_RANGE,       /* next index outside the (indirect) table */
    VDQ_BAD_LOOP,             /* more descriptors than the table holds */
    VDQ_BAD_INDIRECT_LEN,     /* indirect table empty or not a multiple of 16 */
    VDQ_BAD_INDIRECT_SIZE,    /* indirect table above 65535 entries */
    VDQ_BAD_INDIRECT_NESTED,  /* INDIRECT inside an indirect table */
    VDQ_BAD_INDIRECT_NEXT,    /* INDIRECT together with NEXT */
    VDQ_BAD_INDIRECT_FEATURE, /* INDIRECT without VIRTIO_F_INDIRECT_DESC */
    VDQ_BAD_WRITE_ORDER,      /* readable descriptor after a writable one */
    VDQ_BAD_ADDR,             /* address/length outside guest memory or wrapping */
    VDQ_BAD_TOO_MANY_SEGS,    /* more segments than the caller's iov array */
    VDQ_BAD_TOO_LONG,         /* more than 2^32 bytes in all */
    VDQ_BAD_INDIRECT_WRITE,   /* packed: WRITE on an INDIRECT descriptor */
    VDQ_BAD_COUNT
};

struct vdq_stats {
    uint64_t popped;     /* good chains handed to the caller */
    uint64_t pushed;     /* used entries written (good + bad) */
    uint64_t bad_chains; /* chains returned with len 0 */
    uint64_t bad[VDQ_BAD_COUNT];
    uint64_t interrupts;       /* vdq_interrupt_prepare() said yes */
    uint64_t interrupts_saved; /* ... said no */
};

/* One segment of a chain, in our address space. */
struct vdq_iov {
    void *base;
    uint32_t len;
    uint32_t pad;
};

/*
 * A popped chain. The caller points iov at max_iov entries before
 * vdq_pop(); on success iov[0..nout) are device-readable and
 * iov[nout..nout+nin) device-writable.
 */
struct vdq_chain {
    struct vdq_iov *iov;
    uint32_t max_iov;
    uint32_t nout;
    uint32_t nin;
    uint16_t head;
    uint16_t ndesc; /* descriptors walked (ring + indirect) */
    uint32_t out_len;
    uint32_t in_len;
};

/* The state a snapshot needs (Firecracker's QueueState fields). */
struct vdq_state {
    uint32_t size;
    uint32_t pad;
    uint64_t desc_gpa;
    uint64_t avail_gpa;
    uint64_t used_gpa;
    uint16_t next_avail;
    uint16_t next_used;
    uint16_t num_added; /* used entries since the last interrupt decision */
    uint8_t event_idx;  /* VIRTIO_F_EVENT_IDX */
    uint8_t indirect;   /* VIRTIO_F_INDIRECT_DESC */
    uint8_t broken;
    /* Packed (2.8.1): next_avail / next_used above are ring offsets
     * (0..size-1) and these the wrap counters that go with them. */
    uint8_t packed;
    uint8_t avail_wrap; /* driver ring wrap counter expected at next_avail */
    uint8_t used_wrap;  /* device ring wrap counter at next_used */
    /* Packed: the Device Event Suppression structure as we last published
     * it (2.8.10; flags RING_EVENT_FLAGS_*, off_wrap the desc field) and
     * the ring descriptors used since the last interrupt decision. */
    uint16_t dev_ev_flags;
    uint16_t dev_ev_off_wrap;
    uint32_t added_desc;
    uint32_t pad3;
};

struct vdq {
    /* Shared with the driver (pointers into guest memory). */
    const struct virtq_desc *desc;   /* written by driver: read once, check */
    const struct virtq_avail *avail; /* written by driver: read once, check */
    struct virtq_used *used;         /* written by device (us) */
    const __le16 *used_event;        /* in avail area: written by driver */
    __le16 *avail_event;             /* in used area: written by device */

    /* Private. */
    struct vdq_mem mem;
    struct vdq_config cfg;
    uint16_t mask;
    uint16_t next_avail;     /* next avail entry to pop */
    uint16_t next_used;      /* our copy of used->idx */
    uint16_t avail_idx_seen; /* avail->idx as last read (checked) */
    uint32_t num_added;      /* pushed since last vdq_interrupt_prepare() */
    bool notify_enabled;     /* driver kicks wanted (we publish avail_event) */
    bool broken;
    bool used_log;           /* vdq_set_used_log: log used-area writes */
    bool corrupt_stall;      /* vdq_set_corrupt_stall: a corrupt ring waits */
    uint64_t used_log_gpa;   /* where the used area's first byte is logged */
    struct vdq_stats stats;
    /* Why the queue broke (NULL while it is not) and the two values that
     * showed it (e.g. avail->idx and next_avail), for its owner's report. */
    const char *broken_why;
    uint32_t broken_a, broken_b;
    /* corrupt_stall (split only): what the ring waits on (VDQ_STALL_*),
     * avail->idx when it began (and, for a bad head, the entry), why, and
     * whether vdq_take_stall() has reported it; counters of each outcome. */
    uint8_t stall;
    bool stall_new;
    uint16_t stall_idx, stall_at;
    const char *stall_why;
    uint32_t stall_a, stall_b;
    uint32_t stalls, skipped_heads, resyncs;
    uint32_t resync_skipped; /* avail entries jumped over by resyncs */
    /* Inflight tracking (vdq_set_inflight; split only), NULL: none. */
    struct vdq_inflight *tracker;
    /* The same for packed queues (vdq_set_inflight_packed). */
    struct vdq_inflight_packed *ptracker;

    /* Packed layout (cfg.packed; hostsim/vdq_packed.c). desc, avail, used,
     * used_event and avail_event above stay NULL; next_avail / next_used
     * are ring offsets and num_added counts used elements. */
    struct pvirtq_desc *pdesc;                        /* written by both */
    const struct pvirtq_event_suppress *driver_event; /* written by driver */
    struct pvirtq_event_suppress *device_event;       /* written by device (us) */
    bool avail_wrap;        /* driver wrap counter expected at next_avail */
    bool used_wrap;         /* device ring wrap counter at next_used */
    bool batch_pending;     /* batch_off's flags not yet written */
    bool more_valid;        /* vdq_unpop() set more_off / more_wrap */
    uint16_t batch_off;     /* first used element of the unpublished batch */
    uint16_t batch_flags;   /* its flags, written last */
    uint32_t added_desc;    /* ring descriptors used since last decision */
    uint32_t inflight;      /* buffer ids popped, not pushed */
    uint16_t ev_flags_pub;  /* device_event->flags as we last wrote it */
    uint16_t ev_desc_pub;   /* device_event->desc as we last wrote it */
    /* Where the last given-back chains ended (vdq_unpop): the first ring
     * descriptor not yet seen available, and its wrap counter, for
     * vdq_enable_notify_more(). */
    uint16_t more_off;
    bool more_wrap;
    uint8_t pad3;
    uint16_t *ids_ext;      /* cfg.packed_ids, or NULL: ids_inline */
    /* Per buffer id: ring descriptors of its chain while in flight, 0 when
     * not in flight (how far vdq_push() skips, 2.8.6). */
    uint16_t ids_inline[VDQ_PACKED_IDS_INLINE];
};

/* Translate [gpa, gpa+len) to a pointer, NULL if not inside one region. */
void *vdq_mem_translate(const struct vdq_mem *mem, uint64_t gpa, uint64_t len);

/* Set up a queue over guest memory (mem->regions must stay valid). Checks
 * size, alignment and that the three areas lie inside guest memory. */
int vdq_init(struct vdq *q, const struct vdq_mem *mem, const struct vdq_config *cfg);
/* Resume at given indices (snapshot restore); same checks as vdq_init,
 * plus, split: avail->idx - next_avail <= size and next_avail - next_used
 * <= size; packed (st->packed): size <= VDQ_PACKED_IDS_INLINE (the state
 * carries no id storage), offsets < size, wrap counters 0/1, dev_ev_flags
 * ENABLE/DISABLE/DESC (DESC and a non-zero dev_ev_off_wrap only with
 * EVENT_IDX, its offset < size; DISABLE means notifications off), and no
 * chain in flight until
 * vdq_packed_set_inflight() says which (a used element may already have
 * overwritten an in-flight list's descriptors, so they cannot be re-read);
 * all before q is touched. Afterwards call vdq_enable_notify() (it
 * re-publishes avail_event or the flags) and pop once: a kick lost across
 * the snapshot must not stall the queue. */
int vdq_init_state(struct vdq *q, const struct vdq_mem *mem, const struct vdq_state *st);
void vdq_get_state(const struct vdq *q, struct vdq_state *st);
/* Packed restore: buffer id is in flight with a chain of ndesc ring
 * descriptors (so a later vdq_push(id) skips that far). -EINVAL if q is not
 * packed, id >= size, already in flight, or ndesc not in 1..size. */
int vdq_packed_set_inflight(struct vdq *q, uint16_t id, uint16_t ndesc);

/*
 * Track this split queue's chains in an inflight region (vhost-user
 * INFLIGHT_SHMFD, hostsim/vdq_inflight.h): every pop marks its head in
 * flight, every push settles it in the spec's order; and the heads t's
 * recovery listed are popped first, in fetch order, before the avail ring.
 * t outlives the queue's use of it; vdq_init / vdq_init_state drop it (set
 * it again after). NULL stops tracking. -EINVAL on a packed queue or when
 * t's region is smaller than the ring.
 */
int vdq_set_inflight(struct vdq *q, struct vdq_inflight *t);
/*
 * The same for a packed queue (hostsim/vdq_inflight_packed.h): every
 * descriptor fetched is copied into the region, every push settles in the
 * spec's order (a batch held for publish_on_interrupt is published before
 * the next pop, so batches never span a fetch); the chains t's recovery
 * listed are walked from their copies first, in fetch order. -EINVAL on a
 * split queue or when t's region is smaller than the ring.
 */
int vdq_set_inflight_packed(struct vdq *q, struct vdq_inflight_packed *t);

/*
 * Pop the next good chain into c. Bad chains met on the way are returned
 * (len 0) and counted, and the next one is tried. Returns 0, -EAGAIN when
 * no chain is available, -EIO when the ring is corrupt (queue broken).
 * After a run of pops/pushes call vdq_interrupt_prepare() (bad chains are
 * pushes too).
 */
int vdq_pop(struct vdq *q, struct vdq_chain *c);
/* Return chain head with len bytes written. -EINVAL if head is out of
 * range, -EIO when broken. Publishes used->idx at once (unless
 * publish_on_interrupt). */
int vdq_push(struct vdq *q, uint16_t head, uint32_t len);
/* Does the driver want an interrupt for what was pushed since the last
 * call? (2.7.7: EVENT_IDX used_event, or VIRTQ_AVAIL_F_NO_INTERRUPT.) */
bool vdq_interrupt_prepare(struct vdq *q);
/* Ask the driver not to kick (a hint). */
void vdq_disable_notify(struct vdq *q);
/* Ask for kicks again and re-check: 0 when the avail ring is empty,
 * -EAGAIN when chains arrived meanwhile (pop them), -EIO when broken. */
int vdq_enable_notify(struct vdq *q);
bool vdq_has_avail(struct vdq *q);
bool vdq_is_broken(const struct vdq *q);
/* Why q is broken (NULL if it is not); *a, *b (may be NULL) get the two
 * values that showed it. vdq logs it only at debug level: the device that
 * owns the queue reports it once, naming the queue (vmmio, vhost-user). */
const char *vdq_broken_reason(const struct vdq *q, uint32_t *a, uint32_t *b);

/*
 * Corrupt-ring policy for a transport that cannot set DEVICE_NEEDS_RESET
 * (vhost-user: the backend has only the error eventfd). With on (split
 * rings; reset by every vdq_init*), a corrupt ring does not break the
 * queue: nothing is consumed and the queue waits for the driver, so
 * chains in flight still complete and later well-formed entries are
 * served. virtio 1.2 2.1.2: "The device SHOULD set DEVICE_NEEDS_RESET
 * when it enters an error state that a reset is needed"; a queue that
 * waits for the driver needs no reset, and over vhost-user the bit cannot
 * be set anyway. The ring is the driver's to get right (split-ring.tex
 * 2.7.13: avail->idx counts the entries it added; 2.7.6.1: it MUST NOT
 * decrement it). Stalls (vdq.c):
 *  - avail->idx more than the size ahead of next_avail (a jump, or moving
 *    back, 2.7.6.1): nothing is popped until either avail->idx is sane
 *    against next_avail again (the driver repaired or rewound it: served
 *    from next_avail), or the driver published more on top of the bad
 *    value, at most a ring ahead of it (it took that index as its own:
 *    next_avail jumps to it, the entries in between are never used);
 *  - a head >= the size at next_avail: skipped (never used) when the
 *    driver has published past it; while it is the last entry published
 *    the queue waits: served if the driver rewrites it, skipped once the
 *    driver publishes more.
 * Each new stall is reported once by vdq_take_stall() (why and the two
 * values that showed it, as vdq_broken_reason()).
 */
enum { VDQ_STALL_NONE, VDQ_STALL_IDX, VDQ_STALL_HEAD };
void vdq_set_corrupt_stall(struct vdq *q, bool on);
/* vdq_init_state with the policy on from the start: an avail->idx more than
 * the size ahead of st->next_avail (the driver wrote it before the ring
 * started) is a stall to wait out, not a refusal; next_avail against
 * next_used is checked as ever. Packed: vdq_init_state. */
int vdq_init_state_stall(struct vdq *q, const struct vdq_mem *mem, const struct vdq_state *st);
bool vdq_take_stall(struct vdq *q, const char **why, uint32_t *a, uint32_t *b);

/*
 * Give back the last `chains` chains vdq_pop() handed out, so the next pops
 * return them again (a device that needs several chains for one request,
 * net MRG_RXBUF, found too few). heads[] are their c.head values in pop
 * order (the packed ring rewinds by each buffer id's descriptor count; the
 * split ring needs only the count). Only valid when nothing was pushed
 * since they were popped, and that includes no bad chain met by vdq_pop()
 * on the way (it pushes those): the used ring must not get ahead of them.
 * -EINVAL when more chains than were popped (or, packed, a head that is not
 * in flight), -EIO when broken.
 */
int vdq_unpop(struct vdq *q, const uint16_t *heads, uint16_t chains);
/* Like vdq_enable_notify(), but ask for a kick only for chains the driver
 * adds past the ones already seen (after vdq_unpop those chains are pending
 * and not enough; split: past the avail->idx seen, packed: past the end of
 * the given-back chains): -EAGAIN when the driver added some meanwhile. */
int vdq_enable_notify_more(struct vdq *q);

/*
 * Dirty logging (struct vdq_log above; all no-ops unless mem->log->bitmap).
 * vdq_log_gpa: [gpa, gpa+len) was written. vdq_log_hva: the same for a
 * pointer into guest memory (translated back through mem's regions; bytes
 * outside every region are not guest memory and not logged).
 * vdq_log_chain_in: the first len bytes of c's device-writable segments
 * were written (call after the writes, before the chain is pushed: a page
 * marked after its write is sent again, one marked before may not be).
 * vdq_set_used_log: log the used area's writes (split: used ring, idx,
 * flags, avail_event; packed: device event suppression) at gpa + offset
 * (vhost-user.rst: "log_guest_addr should be used to calculate the log
 * offset" when VHOST_VRING_F_LOG is set), or not (on false); vdq_init
 * turns it off. Packed descriptors written back are always logged (at
 * their guest-physical address: "All the modifications to memory pointed
 * by vring descriptor should be marked").
 */
void vdq_log_gpa(const struct vdq_mem *mem, uint64_t gpa, uint64_t len);
void vdq_log_hva(const struct vdq_mem *mem, const void *p, uint64_t len);
void vdq_log_chain_in(const struct vdq_mem *mem, const struct vdq_chain *c, uint32_t len);
void vdq_set_used_log(struct vdq *q, bool on, uint64_t gpa);
/* The queue's used area at offset off, len bytes, was written. Inline
 * test first: every push and publish calls it, and logging is off except
 * while a migration runs. */
void vdq_log_used_on(const struct vdq *q, uint64_t off, uint64_t len);
static inline void vdq_log_used(const struct vdq *q, uint64_t off, uint64_t len)
{
    if (q->used_log)
        vdq_log_used_on(q, off, len);
}

/* Copy between a chain's readable / writable segments and flat memory;
 * return bytes copied (stops at the end of the segments). */
uint32_t vdq_chain_read(const struct vdq_chain *c, uint32_t off, void *dst, uint32_t len);
uint32_t vdq_chain_write(const struct vdq_chain *c, uint32_t off, const void *src, uint32_t len);
/* Where byte off of c's writable segments lives (for a byte written later,
 * after the chain's iov array was reused), or NULL past their end. */
uint8_t *vdq_chain_in_byte(const struct vdq_chain *c, uint32_t off);

#endif
