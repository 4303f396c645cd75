/* SPDX-License-Identifier: Apache-2.0 */
/*
 * packed_fakedev.h - a small packed-ring device for driver tests, written
 * from virtio 1.2 section 2.8 (not hostsim's, so the driver is checked
 * against an independent reading of the spec). Header-only, used by
 * test_vq_packed.c (single thread, cmocka) and vq_packed_2thread.c (the
 * device on its own thread). The includer defines FD_CHECK(cond): what to
 * do when the driver broke a rule (it may return: fd_pop() then gives up
 * on the chain and returns false).
 *
 * What it does: polls the next descriptor in ring order (2.8.2), checks
 * the AVAIL/USED bits of every descriptor of a chain against its own wrap
 * counter (2.8.1), that every descriptor of a chain carries the id (our
 * driver's promise; 2.8.6 puts it in the last), that readable precede
 * writable (2.8.18), walks indirect tables (2.8.7: only WRITE inside, no
 * INDIRECT in a list); writes one used descriptor per chain at its used
 * position (id, len, then flags with release) and skips the rest of the
 * chain (2.8.6); decides interrupts from the Driver Event Suppression
 * structure (2.8.10) and publishes its own Device Event Suppression.
 *
 * Memory: a DMA address is a pointer (host platform without an arena) or
 * goes through fd_mem (a second mapping of the same pages).
 */
#ifndef RINGLOOP_PACKED_FAKEDEV_H
#define RINGLOOP_PACKED_FAKEDEV_H

#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include "virtio_ring_packed.h"
#include "virtqueue.h"

/* A rule fd_pop() cannot go on without. */
#define FD_REQUIRE(c)                                                                              \
    do {                                                                                           \
        if (!(c)) {                                                                                \
            FD_CHECK(c);                                                                           \
            return false;                                                                          \
        }                                                                                          \
    } while (0)

#ifndef FD_MAX_SEGS
#define FD_MAX_SEGS 300
#endif

struct fd_seg {
    uint8_t *buf;
    uint32_t len;
    bool write;
};

struct fd_chain {
    uint16_t id;
    uint16_t ndescs; /* ring descriptors */
    bool indirect;
    unsigned nsegs;
    uint32_t in_len;
    struct fd_seg segs[FD_MAX_SEGS];
};

struct fdev {
    struct pvirtq_desc *desc;
    struct pvirtq_event_suppress *drv; /* driver area: we read it */
    struct pvirtq_event_suppress *dev; /* device area: we write it */
    uint32_t num;
    uint16_t avail_off;
    bool avail_wrap;
    uint16_t used_off;
    bool used_wrap;
};

/*
 * Optional translation, for a device that sees guest memory through a
 * second mapping (vq_packed_2thread.c): gpa..gpa+size maps to hva. Unset
 * (hva NULL): a DMA address is the pointer. Every range is checked.
 */
struct fd_xlate {
    uint64_t gpa;
    uint64_t size;
    uint8_t *hva;
};
static struct fd_xlate fd_mem;

static inline void *fd_ptr_len(uint64_t dma, uint64_t len)
{
    if (!fd_mem.hva)
        return (void *)(uintptr_t)dma;
    FD_CHECK(dma >= fd_mem.gpa && dma - fd_mem.gpa <= fd_mem.size &&
             len <= fd_mem.size - (dma - fd_mem.gpa));
    return fd_mem.hva + (dma - fd_mem.gpa);
}

static inline void *fd_ptr(uint64_t dma)
{
    return fd_ptr_len(dma, 16);
}

static inline void fd_init(struct fdev *d, struct virtqueue *vq)
{
    uint64_t desc, drv, dev;

    vq_get_ring_addrs(vq, &desc, &drv, &dev);
    FD_CHECK(desc % 16 == 0); /* 2.8.10.1 alignment */
    FD_CHECK(drv % 4 == 0);
    FD_CHECK(dev % 4 == 0);
    d->num = vq_get_size(vq);
    d->desc = fd_ptr_len(desc, 16ull * d->num);
    d->drv = fd_ptr_len(drv, 4);
    d->dev = fd_ptr_len(dev, 4);
    d->avail_off = 0;
    d->avail_wrap = true;
    d->used_off = 0;
    d->used_wrap = true;
}

/* Is the next descriptor in ring order available? */
static inline bool fd_has_avail(struct fdev *d)
{
    return pvirtq_is_avail(__atomic_load_n(&d->desc[d->avail_off].flags, __ATOMIC_ACQUIRE),
                           d->avail_wrap);
}

/* Next available chain, or false. Checks the driver followed 2.8. */
static inline bool fd_pop(struct fdev *d, struct fd_chain *c)
{
    uint32_t off = d->avail_off;
    bool wrap = d->avail_wrap;
    uint16_t flags, id = 0;
    unsigned n = 0, i;

    /* Acquire: what the driver wrote before the head's flags (after its
     * write barrier) is visible below. */
    flags = __atomic_load_n(&d->desc[off].flags, __ATOMIC_ACQUIRE);
    if (!pvirtq_is_avail(flags, wrap))
        return false;
    memset(c, 0, offsetof(struct fd_chain, segs));
    for (;;) {
        struct pvirtq_desc *x = &d->desc[off];

        flags = __atomic_load_n(&x->flags, __ATOMIC_ACQUIRE);
        FD_REQUIRE(pvirtq_is_avail(flags, wrap)); /* every descriptor, 2.8.6 note */
        FD_REQUIRE(c->ndescs < d->num);           /* never longer than the ring */
        if (c->ndescs)
            FD_REQUIRE(x->id == id); /* our driver: the id in every one */
        id = x->id;
        c->ndescs++;
        if (flags & VIRTQ_DESC_F_INDIRECT) {
            unsigned cnt = x->len / 16;
            struct pvirtq_desc *t = fd_ptr_len(x->addr, x->len);

            FD_REQUIRE(x->len % 16 == 0);
            FD_REQUIRE(cnt >= 1 && c->ndescs == 1); /* 2.8.7: no INDIRECT in a list */
            FD_REQUIRE(!(flags & (VIRTQ_DESC_F_NEXT | VIRTQ_DESC_F_WRITE)));
            c->indirect = true;
            for (i = 0; i < cnt; i++) {
                FD_REQUIRE((t[i].flags & ~VIRTQ_DESC_F_WRITE) == 0); /* only WRITE */
                FD_REQUIRE(n < FD_MAX_SEGS);
                c->segs[n].buf = fd_ptr_len(t[i].addr, t[i].len);
                c->segs[n].len = t[i].len;
                c->segs[n].write = t[i].flags & VIRTQ_DESC_F_WRITE;
                n++;
            }
        } else {
            FD_REQUIRE(n < FD_MAX_SEGS);
            c->segs[n].buf = fd_ptr_len(x->addr, x->len);
            c->segs[n].len = x->len;
            c->segs[n].write = flags & VIRTQ_DESC_F_WRITE;
            n++;
        }
        if (++off == d->num) {
            off = 0;
            wrap = !wrap;
        }
        if (!(flags & VIRTQ_DESC_F_NEXT))
            break;
    }
    c->id = id;
    c->nsegs = n;
    for (i = 0; i < n; i++) {
        if (c->segs[i].write)
            c->in_len += c->segs[i].len;
        else
            FD_REQUIRE(c->in_len == 0); /* readable after writable */
    }
    d->avail_off = (uint16_t)off;
    d->avail_wrap = wrap;
    return true;
}

/* Write a used descriptor (id, len, then flags with release: pairs with
 * the driver's load-acquire of the flags) and skip ndescs. */
static inline void fd_push_raw(struct fdev *d, uint16_t id, uint32_t len, uint16_t ndescs,
                               uint16_t flags)
{
    struct pvirtq_desc *x = &d->desc[d->used_off];
    uint32_t off;

    __atomic_store_n(&x->id, id, __ATOMIC_RELAXED);
    __atomic_store_n(&x->len, len, __ATOMIC_RELAXED);
    __atomic_store_n(&x->flags, flags, __ATOMIC_RELEASE);
    off = d->used_off + ndescs;
    if (off >= d->num) {
        off -= d->num;
        d->used_wrap = !d->used_wrap;
    }
    d->used_off = (uint16_t)off;
}

/* Used with len written bytes (WRITE set when len > 0, 2.8.4). */
static inline void fd_push(struct fdev *d, const struct fd_chain *c, uint32_t len)
{
    fd_push_raw(d, c->id, len, c->ndescs,
                (uint16_t)(pvirtq_used_flags(d->used_wrap) | (len ? VIRTQ_DESC_F_WRITE : 0)));
}

/* After using n descriptors (up to used_off): does the driver want an
 * interrupt? The full fence orders our used flags stores before the loads
 * of its structure; pairs with the driver's full barrier between writing
 * that structure and re-polling the ring. */
static inline bool fd_need_interrupt(struct fdev *d, uint16_t n)
{
    uint16_t flags, off_wrap;

    __atomic_thread_fence(__ATOMIC_SEQ_CST);
    flags = __atomic_load_n(&d->drv->flags, __ATOMIC_ACQUIRE) & RING_EVENT_FLAGS_MASK;
    if (flags == RING_EVENT_FLAGS_DISABLE)
        return false;
    if (flags == RING_EVENT_FLAGS_DESC) {
        off_wrap = __atomic_load_n(&d->drv->desc, __ATOMIC_RELAXED);
        return n >= d->num || pvirtq_need_event(off_wrap, d->used_off, d->used_wrap, n, d->num);
    }
    return true;
}

/* Our Device Event Suppression structure: offset first, then flags. */
static inline void fd_set_event(struct fdev *d, uint16_t flags, uint16_t off, bool wrap)
{
    __atomic_store_n(&d->dev->desc, pvirtq_event_off_wrap(off, wrap), __ATOMIC_RELAXED);
    __atomic_store_n(&d->dev->flags, flags, __ATOMIC_RELEASE);
}

#endif
