/* SPDX-License-Identifier: Apache-2.0 */
/*
 * vdq_packed.c - device side of a packed virtqueue (virtio 1.2 section 2.8,
 * packed-ring.tex) behind the vdq API of vdq.h; vdq.c dispatches here when
 * the queue was created with cfg.packed (VIRTIO_F_RING_PACKED negotiated).
 * The ring ABI is drivers/virtio/virtio_ring_packed.h.
 *
 * Layout (2.8, 2.8.10.1): one descriptor ring of num 16-byte descriptors
 * (any num in 1..32768, not only powers of two), written by both sides;
 * the Driver Event Suppression structure (driver area, read by us) and the
 * Device Event Suppression structure (device area, written by us).
 *
 * State:
 *  - next_avail / avail_wrap: ring offset of the next descriptor we expect
 *    the driver to make available and the driver wrap counter it will carry
 *    there (2.8.1: available when AVAIL == wrap and USED != wrap);
 *  - next_used / used_wrap: where our next used element goes, and our
 *    device ring wrap counter (both counters start at 1, 2.8.1);
 *  - ids[id]: ring descriptors of buffer id's chain while it is in flight,
 *    0 when it is not. A used element is written at next_used, which then
 *    skips that many descriptors (2.8.6: "It then skips forward according
 *    to the number of descriptors in the list"); the driver skips the same
 *    count it remembers for the id.
 *
 * The driver is not trusted. Each descriptor field is read once into a
 * private copy; every guest address goes through vdq_mem_translate(). The
 * walk never reads more than num ring descriptors, nor more than an
 * indirect table holds.
 *
 * Bad chain (returned at once with used len 0, counted in stats.bad[], the
 * queue goes on: the same policy as split, vdq.c) when the chain, whose end
 * and buffer id are known, has:
 *  - INDIRECT without VIRTIO_F_INDIRECT_DESC (2.8.19 driver: MUST NOT);
 *  - INDIRECT on a descriptor of a multi-descriptor list (with NEXT, or at
 *    the end of a list linked by NEXT; 2.8.19 "MUST NOT write direct
 *    descriptors with DESC_F_INDIRECT set in a scatter-gather list linked
 *    by VIRTQ_DESC_F_NEXT") -> VDQ_BAD_INDIRECT_NEXT;
 *  - WRITE on an INDIRECT descriptor -> VDQ_BAD_INDIRECT_WRITE. 2.8.7 calls
 *    that bit reserved there ("ignored by the device"); we refuse it as the
 *    ring policy of issue 11 asks (no driver we know sets it: it is a
 *    driver that does not know the layout);
 *  - an indirect table of length 0, not a multiple of 16, or above 65535
 *    entries (as split; packed has no 16-bit next, the limit is ours);
 *  - INDIRECT inside an indirect table (2.8.7: only WRITE is valid there;
 *    NEXT and the id are reserved there and ignored);
 *  - a device-readable element after a device-writable one (2.8.17 driver:
 *    "MUST place any device-writable descriptor elements after any
 *    device-readable descriptor elements");
 *  - an address range outside guest memory; more segments than the
 *    caller's iov array; more than 2^32 bytes in all (as split).
 * Corrupt ring (no chain we could return: the queue is broken, the device
 * sets DEVICE_NEEDS_RESET, every later call returns -EIO):
 *  - a list that does not end within num descriptors (2.8.17: "MUST NOT
 *    create a descriptor list longer than the Queue Size"; a list of
 *    exactly num is legal) - its last descriptor, which holds the id, is
 *    never reached;
 *  - a continuation descriptor that is not available (2.8.17: the first
 *    descriptor is made available after all the others);
 *  - a buffer id >= num (the split head out of range), or an id already in
 *    flight (we could not tell the driver which of the two we return, nor
 *    how far to skip).
 * Once broken, no shared memory is touched again.
 */
#include "vdq_packed.h"

#include <errno.h>
#include <string.h>

#include "vdq_inflight_packed.h"

#include "virtio_platform.h"

static uint16_t *vdqp_ids(struct vdq *q)
{
    return q->ids_ext ? q->ids_ext : q->ids_inline;
}

int vdqp_init(struct vdq *q, const struct vdq_mem *mem, const struct vdq_config *cfg)
{
    void *desc, *drv, *dev;

    if (!pvirtq_is_valid_size(cfg->num))
        return -EINVAL;
    if (cfg->num > VDQ_PACKED_IDS_INLINE && !cfg->packed_ids)
        return -EINVAL;
    /* 2.8.10.1: descriptor ring 16-aligned, both structures 4-aligned. */
    if (cfg->desc_gpa % PVIRTQ_DESC_ALIGN || cfg->avail_gpa % PVIRTQ_EVENT_ALIGN ||
        cfg->used_gpa % PVIRTQ_EVENT_ALIGN)
        return -EINVAL;
    desc = vdq_mem_translate(mem, cfg->desc_gpa, pvirtq_desc_size(cfg->num));
    drv = vdq_mem_translate(mem, cfg->avail_gpa, sizeof(struct pvirtq_event_suppress));
    dev = vdq_mem_translate(mem, cfg->used_gpa, sizeof(struct pvirtq_event_suppress));
    if (!desc || !drv || !dev)
        return -EINVAL;
    memset(q, 0, sizeof(*q));
    q->mem = *mem;
    q->cfg = *cfg;
    q->cfg.packed = true;
    q->pdesc = desc;
    q->driver_event = drv;
    q->device_event = dev;
    q->avail_wrap = q->used_wrap = true; /* 2.8.1: both counters start at 1 */
    q->ids_ext = cfg->num > VDQ_PACKED_IDS_INLINE ? cfg->packed_ids : NULL;
    if (q->ids_ext)
        memset(q->ids_ext, 0, sizeof(uint16_t) * cfg->num);
    q->notify_enabled = true;
    return 0;
}

int vdqp_init_state(struct vdq *q, const struct vdq_mem *mem, const struct vdq_state *st)
{
    struct vdq_config cfg = {
        .num = st->size,
        .desc_gpa = st->desc_gpa,
        .avail_gpa = st->avail_gpa,
        .used_gpa = st->used_gpa,
        .event_idx = st->event_idx != 0,
        .indirect = st->indirect != 0,
        .packed = true,
    };
    struct vdq tmp;
    int err;

    /* The state carries no per-id storage: only the inline table. */
    if (st->size > VDQ_PACKED_IDS_INLINE)
        return -EINVAL;
    err = vdqp_init(&tmp, mem, &cfg);
    if (err)
        return err;
    if (st->next_avail >= st->size || st->next_used >= st->size || st->avail_wrap > 1 ||
        st->used_wrap > 1)
        return -EINVAL;
    /* 2.8.10: what we had published; DESC only with EVENT_IDX. */
    if (st->dev_ev_flags > RING_EVENT_FLAGS_DESC ||
        (!st->event_idx && (st->dev_ev_flags == RING_EVENT_FLAGS_DESC || st->dev_ev_off_wrap)) ||
        (st->dev_ev_off_wrap & 0x7fff) >= st->size)
        return -EINVAL;
    tmp.next_avail = st->next_avail;
    tmp.avail_wrap = st->avail_wrap != 0;
    tmp.next_used = st->next_used;
    tmp.used_wrap = st->used_wrap != 0;
    tmp.num_added = st->num_added;
    tmp.added_desc = st->added_desc;
    tmp.ev_flags_pub = st->dev_ev_flags;
    tmp.ev_desc_pub = st->dev_ev_off_wrap;
    tmp.notify_enabled = st->dev_ev_flags != RING_EVENT_FLAGS_DISABLE;
    *q = tmp;
    return 0;
}

void vdqp_get_state(const struct vdq *q, struct vdq_state *st)
{
    memset(st, 0, sizeof(*st));
    st->size = q->cfg.num;
    st->desc_gpa = q->cfg.desc_gpa;
    st->avail_gpa = q->cfg.avail_gpa;
    st->used_gpa = q->cfg.used_gpa;
    st->next_avail = q->next_avail;
    st->next_used = q->next_used;
    st->num_added = (uint16_t)q->num_added;
    st->event_idx = q->cfg.event_idx;
    st->indirect = q->cfg.indirect;
    st->broken = q->broken;
    st->packed = 1;
    st->avail_wrap = q->avail_wrap;
    st->used_wrap = q->used_wrap;
    st->dev_ev_flags = q->ev_flags_pub;
    st->dev_ev_off_wrap = q->ev_desc_pub;
    st->added_desc = q->added_desc;
}

int vdq_packed_set_inflight(struct vdq *q, uint16_t id, uint16_t ndesc)
{
    uint16_t *ids;

    if (!q->cfg.packed || id >= q->cfg.num || ndesc == 0 || ndesc > q->cfg.num)
        return -EINVAL;
    ids = vdqp_ids(q);
    if (ids[id])
        return -EINVAL;
    ids[id] = ndesc;
    q->inflight++;
    return 0;
}

/* addr, len, id of one descriptor, each read once (flags are read on their
 * own, first). Indirect tables need not be aligned: bytes then. */
static void vdqp_desc_read(const struct pvirtq_desc *src, struct pvirtq_desc *d)
{
    if (((uintptr_t)src & 7) == 0) {
        d->addr = vr_le64_to_cpu(virt_read_once64(&src->addr));
        d->len = vr_le32_to_cpu(virt_read_once32(&src->len));
        d->id = vr_le16_to_cpu(virt_read_once16(&src->id));
        d->flags = vr_le16_to_cpu(virt_read_once16(&src->flags));
    } else {
        const volatile uint8_t *s = (const volatile uint8_t *)src;
        uint8_t buf[sizeof(*d)];
        size_t i;

        for (i = 0; i < sizeof(buf); i++)
            buf[i] = s[i];
        memcpy(d, buf, sizeof(*d));
        d->addr = vr_le64_to_cpu(d->addr);
        d->len = vr_le32_to_cpu(d->len);
        d->id = vr_le16_to_cpu(d->id);
        d->flags = vr_le16_to_cpu(d->flags);
    }
}

/* What the walk has gathered so far. */
struct vdqp_walk {
    uint64_t out_len, in_len;
    uint32_t nseg;
    bool seen_write;
};

/* One buffer element (not INDIRECT): 0 or a vdq_bad reason + 1. */
static int vdqp_add_seg(const struct vdq *q, struct vdq_chain *c, struct vdqp_walk *w,
                        uint64_t addr, uint32_t len, bool write)
{
    if (write)
        w->seen_write = true;
    else if (w->seen_write)
        return VDQ_BAD_WRITE_ORDER + 1;
    if (w->nseg >= c->max_iov)
        return VDQ_BAD_TOO_MANY_SEGS + 1;
    c->iov[w->nseg].base = vdq_mem_translate(&q->mem, addr, len);
    if (!c->iov[w->nseg].base)
        return VDQ_BAD_ADDR + 1;
    c->iov[w->nseg].len = len;
    c->iov[w->nseg].pad = 0;
    w->nseg++;
    if (write) {
        w->in_len += len;
        c->nin++;
    } else {
        w->out_len += len;
        c->nout++;
    }
    /* 2.7.5.2 / as split: at most 2^32 bytes in all. */
    if (w->out_len + w->in_len > (1ull << 32))
        return VDQ_BAD_TOO_LONG + 1;
    return 0;
}

/* An INDIRECT ring descriptor d (flags already known to say INDIRECT) that
 * is the whole list (2.8.7): walk its table. 0 or a vdq_bad reason + 1. */
static int vdqp_indirect(const struct vdq *q, struct vdq_chain *c, struct vdqp_walk *w,
                         const struct pvirtq_desc *d)
{
    const struct pvirtq_desc *table;
    uint32_t n, i;
    int bad;

    if (!q->cfg.indirect)
        return VDQ_BAD_INDIRECT_FEATURE + 1;
    if (d->flags & VIRTQ_DESC_F_WRITE)
        return VDQ_BAD_INDIRECT_WRITE + 1;
    if (d->len == 0 || d->len % sizeof(struct pvirtq_desc))
        return VDQ_BAD_INDIRECT_LEN + 1;
    n = d->len / sizeof(struct pvirtq_desc);
    if (n > VIRTQ_INDIRECT_MAX)
        return VDQ_BAD_INDIRECT_SIZE + 1;
    table = vdq_mem_translate(&q->mem, d->addr, d->len);
    if (!table)
        return VDQ_BAD_ADDR + 1;
    for (i = 0; i < n; i++) {
        struct pvirtq_desc t;

        vdqp_desc_read(&table[i], &t);
        c->ndesc++;
        /* 2.8.7: only WRITE is valid in a table; NEXT and id are reserved
         * and ignored, the table is walked in order to its end. */
        if (t.flags & VIRTQ_DESC_F_INDIRECT)
            return VDQ_BAD_INDIRECT_NESTED + 1;
        bad = vdqp_add_seg(q, c, w, t.addr, t.len, t.flags & VIRTQ_DESC_F_WRITE);
        if (bad)
            return bad;
    }
    return 0;
}

/* Descriptor n of chain resub from the inflight region's copies (CPU
 * order, like vdqp_desc_read); -EIO (queue broken) when there is none. */
static int vdqp_desc_copy(struct vdq *q, uint16_t resub, uint32_t n, struct pvirtq_desc *d)
{
    struct pvirtq_desc le;

    if (vdqip_chain_desc(q->ptracker, resub, (uint16_t)n, &le)) {
        vdq_set_broken(q, "inflight chain shorter than its flags say", resub, n);
        return -EIO;
    }
    d->addr = vr_le64_to_cpu(le.addr);
    d->len = vr_le32_to_cpu(le.len);
    d->id = vr_le16_to_cpu(le.id);
    d->flags = vr_le16_to_cpu(le.flags);
    return 0;
}

/* The inflight region's copy of a descriptor just fetched (d in CPU order). */
static void vdqp_track_pop(struct vdq *q, const struct pvirtq_desc *d, bool is_head)
{
    struct pvirtq_desc le = {vr_cpu_to_le64(d->addr), vr_cpu_to_le32(d->len),
                             vr_cpu_to_le16(d->id), vr_cpu_to_le16(d->flags)};

    vdqip_pop(q->ptracker, &le, is_head, !(d->flags & VIRTQ_DESC_F_NEXT));
}

/*
 * Walk the list starting at next_avail, whose flags (head_flags) showed it
 * available, or (resub >= 0) the inflight region's copy of chain resub.
 * Always runs to the list's last descriptor, which holds the
 * buffer id (2.8.6), even past a bad element, so a bad chain can be
 * returned. Returns 0 (good), a vdq_bad reason + 1 (bad; *id and *ring
 * valid), or -EIO (corrupt ring, q broken). *ring: ring descriptors used.
 */
static int vdqp_walk(struct vdq *q, uint16_t head_flags, struct vdq_chain *c, uint16_t *id,
                     uint16_t *ring, int resub)
{
    struct vdqp_walk w = {0};
    uint32_t num = q->cfg.num, off = q->next_avail, n = 0;
    bool wrap = q->avail_wrap;
    uint16_t flags = head_flags;
    int bad = 0;

    c->nout = c->nin = 0;
    c->ndesc = 0;
    for (;;) {
        struct pvirtq_desc d;

        if (n == num) {
            vdq_set_broken(q, "packed list longer than the ring", n, q->next_avail);
            return -EIO;
        }
        if (resub >= 0) {
            /* Fetched before a restart: the ring may hold used elements
             * over it by now; the region kept what we read then. */
            if (vdqp_desc_copy(q, (uint16_t)resub, n, &d))
                return -EIO;
            flags = d.flags;
        } else {
            if (n > 0) {
                /* The rest of the list was written before the head's flags
                 * (2.8.6), so the head's load-acquire in vdqp_pop() covers it. */
                flags = vr_le16_to_cpu(virt_read_once16(&q->pdesc[off].flags));
                if (!pvirtq_is_avail(flags, wrap)) {
                    vdq_set_broken(q, "packed list continues into a descriptor not available",
                                   off, flags);
                    return -EIO;
                }
            }
            vdqp_desc_read(&q->pdesc[off], &d);
            d.flags = flags; /* the value we checked, not a second read */
            if (q->ptracker)
                vdqp_track_pop(q, &d, n == 0);
        }
        n++;
        c->ndesc++;
        if (++off == num) {
            off = 0;
            wrap = !wrap;
        }
        if (!bad) {
            if (!(flags & VIRTQ_DESC_F_INDIRECT))
                bad = vdqp_add_seg(q, c, &w, d.addr, d.len, flags & VIRTQ_DESC_F_WRITE);
            else if ((flags & VIRTQ_DESC_F_NEXT) || n > 1)
                bad = VDQ_BAD_INDIRECT_NEXT + 1; /* INDIRECT inside a list */
            else
                bad = vdqp_indirect(q, c, &w, &d);
        }
        if (!(flags & VIRTQ_DESC_F_NEXT)) {
            *id = d.id;
            break;
        }
    }
    *ring = (uint16_t)n;
    if (!bad && (w.out_len > UINT32_MAX || w.in_len > UINT32_MAX))
        bad = VDQ_BAD_TOO_LONG + 1;
    c->out_len = (uint32_t)w.out_len;
    c->in_len = (uint32_t)w.in_len;
    return bad;
}

static void vdqp_publish(struct vdq *q);

int vdqp_pop(struct vdq *q, struct vdq_chain *c)
{
    uint16_t *ids = vdqp_ids(q);

    for (;;) {
        uint16_t flags = 0, id = 0, ring = 0, rh;
        uint32_t off;
        int bad, resub = -1;

        if (q->broken)
            return -EIO;
        if (q->ptracker) {
            /* A held batch settles before the next fetch (the tracking's
             * fetch steps assume no open batch). */
            vdqp_publish(q);
            if (vdqip_next_resubmit(q->ptracker, &rh))
                resub = rh; /* what was in flight before a restart, first */
        }
        if (resub < 0) {
            /* 2.8.2: poll the one descriptor after the last list we took
             * (2.8.12: lists are taken in ring order; 2.8.15: only once its
             * AVAIL bit has changed, i.e. matches the wrap counter).
             * Load-acquire: the descriptor's fields and the rest of its
             * list, written by the driver before these flags, are visible
             * to our later loads; pairs with the driver's write barrier
             * before it stores the head's flags (2.8.21.1.1 "Updating
             * flags"). */
            flags = vr_le16_to_cpu(virt_load_acquire16(&q->pdesc[q->next_avail].flags));
            if (!pvirtq_is_avail(flags, q->avail_wrap))
                return -EAGAIN;
        }
        bad = vdqp_walk(q, flags, c, &id, &ring, resub);
        if (bad < 0)
            return bad;
        if (id >= q->cfg.num) {
            vdq_set_broken(q, "packed buffer id out of range", id, q->cfg.num);
            return -EIO;
        }
        if (ids[id]) {
            vdq_set_broken(q, "packed buffer id already in flight", id, ids[id]);
            return -EIO;
        }
        ids[id] = ring;
        q->inflight++;
        q->more_valid = false; /* past a give-back: vdqp_unpop() sets it again */
        /* A resubmitted chain lies before next_avail already (the recovery
         * put next_avail past every chain in flight). */
        off = q->next_avail + (resub < 0 ? ring : 0);
        if (off >= q->cfg.num) {
            off -= q->cfg.num;
            q->avail_wrap = !q->avail_wrap;
        }
        q->next_avail = (uint16_t)off;
        if (q->cfg.event_idx && q->notify_enabled) {
            /* 2.8.10 DESC: kick me when the next list is made available.
             * No fence: going to sleep goes through vdq_enable_notify(),
             * which has it. */
            q->ev_desc_pub = pvirtq_event_off_wrap(q->next_avail, q->avail_wrap);
            virt_write_once16(&q->device_event->desc, vr_cpu_to_le16(q->ev_desc_pub));
            vdq_log_used(q, 0, 4); /* device event suppression */
        }
        c->head = id;
        if (!bad) {
            q->stats.popped++;
            return 0;
        }
        /* Bad chain: hand it back empty and go on (policy at the top). */
        q->stats.bad_chains++;
        q->stats.bad[bad - 1]++;
        virt_log(VIRT_LOG_DEBUG, "vdq %p: bad packed chain id %u reason %d", (void *)q, id,
                 bad - 1);
        c->nout = c->nin = 0;
        vdqp_push(q, id, 0);
    }
}

/* Make the held first element of a batch used. */
static void vdqp_publish(struct vdq *q)
{
    if (!q->batch_pending)
        return;
    q->batch_pending = false;
    /* Store-release: every element of the batch (id, len and flags, written
     * by vdqp_push()) is visible before the first element's flags, so a
     * driver that sees the first sees the batch (2.8.9 "Multi-buffer
     * requests": the first marked used after the rest). Pairs with the
     * driver's read barrier between reading a used descriptor's flags and
     * its id/len. */
    virt_store_release16(&q->pdesc[q->batch_off].flags, vr_cpu_to_le16(q->batch_flags));
    /* Dirty log: marked again after this store (vdqp_push marked it when
     * it wrote id and len; the log may have been read and cleared since). */
    vdq_log_gpa(&q->mem, q->cfg.desc_gpa + 16ull * q->batch_off, 16);
    if (q->ptracker) { /* the batch reached the driver: settle it */
        vdqip_flags_written(q->ptracker);
        vdqip_settle(q->ptracker);
    }
}

int vdqp_push(struct vdq *q, uint16_t id, uint32_t len)
{
    uint16_t *ids = vdqp_ids(q);
    struct pvirtq_desc *e;
    uint16_t flags, n;
    uint32_t off;

    if (q->broken)
        return -EIO;
    if (id >= q->cfg.num || ids[id] == 0)
        return -EINVAL; /* not a buffer id we handed out */
    /* A batch that went all the way round (only a driver that reused
     * descriptors it never got back can make that happen) publishes its
     * head before we write over it. */
    if (q->batch_pending && q->batch_off == q->next_used)
        vdqp_publish(q);
    n = ids[id];
    /* Tracking: the chain goes back to the region's free list and the
     * used position moves on before the flags (an id fetched before the
     * tracker was attached is not in it: nothing to do). */
    if (q->ptracker)
        (void)vdqip_push(q->ptracker, id, n);
    e = &q->pdesc[q->next_used];
    /* 2.8.4: a used descriptor's len is the bytes written; 2.8.3: WRITE
     * says whether any were (len is reserved without it). */
    virt_write_once16(&e->id, vr_cpu_to_le16(id));
    virt_write_once32(&e->len, vr_cpu_to_le32(len));
    flags = (uint16_t)(pvirtq_used_flags(q->used_wrap) | (len ? VIRTQ_DESC_F_WRITE : 0));
    if (q->cfg.publish_on_interrupt && !q->batch_pending) {
        /* First of a batch: its flags go last, in vdqp_publish(). */
        q->batch_pending = true;
        q->batch_off = q->next_used;
        q->batch_flags = flags;
    } else {
        /* 2.8.1 / 2.8.22: id and len are visible before the flags that make
         * the element used: store-release; pairs with the driver's read
         * barrier between seeing USED == its wrap counter and reading id
         * and len (vq_get_buf()). */
        virt_store_release16(&e->flags, vr_cpu_to_le16(flags));
        if (q->ptracker && !q->batch_pending) { /* a batch of one, visible */
            vdqip_flags_written(q->ptracker);
            vdqip_settle(q->ptracker);
        }
    }
    /* Dirty log: the descriptor written back (a batch's first gets its
     * flags in vdqp_publish, which marks it again). */
    vdq_log_gpa(&q->mem, q->cfg.desc_gpa + 16ull * q->next_used, 16);
    ids[id] = 0;
    q->inflight--;
    off = q->next_used + n;
    if (off >= q->cfg.num) {
        off -= q->cfg.num;
        q->used_wrap = !q->used_wrap;
    }
    q->next_used = (uint16_t)off;
    q->num_added++;
    q->added_desc += n;
    q->stats.pushed++;
    return 0;
}

bool vdqp_interrupt_prepare(struct vdq *q)
{
    uint16_t ev_flags, off_wrap;
    bool needs;

    if (q->broken || q->num_added == 0)
        return false;
    vdqp_publish(q); /* publish_on_interrupt: the batch becomes visible now */
    /* Full fence: our used flags must be visible before we read the Driver
     * Event Suppression structure (store->load), or the driver may enable
     * interrupts, re-check a stale descriptor and sleep while we read its
     * old DISABLE and skip the interrupt. Pairs with the full barrier the
     * driver puts between writing its structure and re-checking the next
     * used descriptor (2.8.22 note, vq_enable_cb()). */
    virt_mb();
    ev_flags = vr_le16_to_cpu(virt_read_once16(&q->driver_event->flags)) & RING_EVENT_FLAGS_MASK;
    switch (ev_flags) {
    case RING_EVENT_FLAGS_DISABLE:
        needs = false;
        break;
    case RING_EVENT_FLAGS_DESC:
        if (q->cfg.event_idx) {
            /* Read barrier: desc is read after flags; the driver writes
             * desc before it sets DESC (pairs with its write barrier
             * between the two), so a DESC seen here comes with its desc. */
            virt_rmb();
            off_wrap = vr_le16_to_cpu(virt_read_once16(&q->driver_event->desc));
            /* More than a ring since the last decision: every offset
             * the driver can name was passed (pvirtq_need_event wants at
             * most num). */
            needs = q->added_desc > q->cfg.num ||
                    pvirtq_need_event(off_wrap, q->next_used, q->used_wrap, (uint16_t)q->added_desc,
                                      q->cfg.num);
            break;
        }
        /* 2.8.10: DESC is only valid with EVENT_IDX: treat as ENABLE. */
        /* fallthrough */
    default:
        needs = true; /* ENABLE, or reserved 0x3: an interrupt beats a stall */
        break;
    }
    q->num_added = 0;
    q->added_desc = 0;
    if (needs)
        q->stats.interrupts++;
    else
        q->stats.interrupts_saved++;
    return needs;
}

void vdqp_disable_notify(struct vdq *q)
{
    if (q->broken || !q->notify_enabled)
        return;
    q->notify_enabled = false;
    /* 2.8.10: DISABLE in either mode (with EVENT_IDX too: one store, and
     * no last kick for the desc we published). A hint: the driver may
     * still kick. */
    q->ev_flags_pub = RING_EVENT_FLAGS_DISABLE;
    virt_write_once16(&q->device_event->flags, vr_cpu_to_le16(RING_EVENT_FLAGS_DISABLE));
    vdq_log_used(q, 0, 4); /* device event suppression */
}

bool vdqp_has_avail(struct vdq *q)
{
    uint16_t flags;

    if (q->broken)
        return false;
    if (q->ptracker && q->ptracker->resubmit_next < q->ptracker->nresubmit)
        return true; /* resubmissions first */
    flags = vr_le16_to_cpu(virt_read_once16(&q->pdesc[q->next_avail].flags));
    return pvirtq_is_avail(flags, q->avail_wrap);
}

/*
 * Ask for kicks again (notify_enabled) and publish our Device Event
 * Suppression structure: with EVENT_IDX, 2.8.10 DESC for the descriptor at
 * (off, wrap); ENABLE otherwise. Then the full fence: our structure must be
 * visible before the caller re-reads a descriptor's flags (store->load),
 * otherwise the driver may make a list available, read our old DISABLE and
 * skip the kick while we read the old flags and go to sleep. Pairs with the
 * barrier the driver MUST put between making descriptors available and
 * reading the Device Event Suppression structure (2.8.21, "Sending
 * Available Buffer Notifications", driver requirements).
 */
static void vdqp_ask_kick_at(struct vdq *q, uint16_t off, bool wrap)
{
    q->notify_enabled = true;
    if (q->cfg.event_idx) {
        q->ev_desc_pub = pvirtq_event_off_wrap(off, wrap);
        virt_write_once16(&q->device_event->desc, vr_cpu_to_le16(q->ev_desc_pub));
        vdq_log_used(q, 0, 4); /* device event suppression */
        /* Write barrier: desc before flags, so a driver that sees DESC
         * reads this desc; pairs with the driver's read barrier between
         * reading our flags and our desc (vq_kick_prepare()). */
        virt_wmb();
        q->ev_flags_pub = RING_EVENT_FLAGS_DESC;
        virt_write_once16(&q->device_event->flags, vr_cpu_to_le16(RING_EVENT_FLAGS_DESC));
        vdq_log_used(q, 0, 4); /* device event suppression */
    } else {
        q->ev_flags_pub = RING_EVENT_FLAGS_ENABLE;
        virt_write_once16(&q->device_event->flags, vr_cpu_to_le16(RING_EVENT_FLAGS_ENABLE));
        vdq_log_used(q, 0, 4); /* device event suppression */
    }
    virt_mb();
}

int vdqp_enable_notify(struct vdq *q)
{
    if (q->broken)
        return -EIO;
    /* 2.8.10 DESC: kick when the descriptor at next_avail (with the wrap
     * counter it will carry) is made available; then re-check it. */
    vdqp_ask_kick_at(q, q->next_avail, q->avail_wrap);
    return vdqp_has_avail(q) ? -EAGAIN : 0;
}

/*
 * Give back the last popped lists (vdq_unpop): 2.8.12 lists are taken in
 * ring order, so the last ones popped are the ones just before next_avail;
 * walk back over them newest first by each id's descriptor count, undoing
 * the wrap flips vdqp_pop() made. The descriptors are still the driver's
 * available ones (it cannot reuse a buffer we have not marked used), so the
 * next pops read them again. The ids are validated before anything moves.
 */
int vdqp_unpop(struct vdq *q, const uint16_t *heads, uint16_t chains)
{
    uint16_t *ids = vdqp_ids(q);
    uint32_t i, total = 0;

    if (chains > q->stats.popped || (chains && !heads))
        return -EINVAL;
    for (i = 0; i < chains; i++) {
        if (heads[i] >= q->cfg.num || ids[heads[i]] == 0)
            return -EINVAL;
        total += ids[heads[i]];
    }
    if (total > q->cfg.num)
        return -EINVAL;
    if (q->ptracker) {
        if (q->ptracker->resubmit_next < q->ptracker->nresubmit || q->ptracker->resubmitted)
            return -EBUSY; /* resubmitted chains are not in the ring to fetch again */
        vdqp_publish(q);
        for (i = chains; i-- > 0;)
            vdqip_unpop(q->ptracker, heads[i]); /* fetched back: not in flight */
    }
    if (chains) {
        q->more_off = q->next_avail;
        q->more_wrap = q->avail_wrap;
        q->more_valid = true;
    }
    for (i = chains; i-- > 0;) {
        uint16_t n = ids[heads[i]];

        if (q->next_avail >= n) {
            q->next_avail = (uint16_t)(q->next_avail - n);
        } else {
            q->next_avail = (uint16_t)(q->next_avail + q->cfg.num - n);
            q->avail_wrap = !q->avail_wrap;
        }
        ids[heads[i]] = 0;
        q->inflight--;
        q->stats.popped--;
    }
    return 0;
}

/*
 * vdq_enable_notify_more on a packed queue: after vdqp_unpop() the lists at
 * next_avail are available but too few; ask for a kick at the first
 * descriptor past them (2.8.10 DESC with EVENT_IDX; ENABLE otherwise, a
 * driver kicks only when it adds) and re-check that descriptor.
 */
int vdqp_enable_notify_more(struct vdq *q)
{
    uint16_t flags;

    if (q->broken)
        return -EIO;
    if (!q->more_valid)
        return vdqp_enable_notify(q);
    /* The descriptor past the given-back lists, then re-check it (the
     * fence is in vdqp_ask_kick_at()). */
    vdqp_ask_kick_at(q, q->more_off, q->more_wrap);
    flags = vr_le16_to_cpu(virt_load_acquire16(&q->pdesc[q->more_off].flags));
    if (pvirtq_is_avail(flags, q->more_wrap))
        return -EAGAIN;
    return 0;
}
