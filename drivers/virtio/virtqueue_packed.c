/* SPDX-License-Identifier: Apache-2.0 */
/*
 * virtqueue_packed.c - driver side of a packed virtqueue (virtio 1.2
 * section 2.8, packed-ring.tex), behind the same API as the split ring
 * (virtqueue.h; virtqueue.c forwards here when vq_config.packed is set).
 *
 * What it does: writes chains into the descriptor ring in ring order
 * (2.8.21.1 "Placing Available Buffers Into The Descriptor Ring"), head
 * flags last (2.8.6: "The driver always makes the first descriptor in the
 * list available after the rest of the list has been written out"),
 * decides whether the device wants a kick from the Device Event
 * Suppression structure (2.8.10, 2.8.21.3), takes used descriptors at the
 * next position in ring order (2.8.2, 2.8.22) and asks for / suppresses used
 * buffer notifications through its own Driver Event Suppression structure.
 *
 * Invariants:
 *  - Buffer ids come from a private free list (ids[].next); an id is in
 *    flight iff ids[id].token != NULL; it holds ids[id].ndescs ring
 *    descriptors. num_free + the descriptors of in-flight ids == num, so a
 *    free descriptor implies a free id.
 *  - In flight are the ring positions [last_used, next_avail) (circular,
 *    num - num_free of them); the driver wrote all of them in the lap whose
 *    wrap counter is used_wrap at last_used, so the descriptor at last_used
 *    reads either (AVAIL, USED) = (used_wrap, !used_wrap) (still ours) or
 *    (used_wrap, used_wrap) (used, 2.8.1). Any other value there while
 *    something is in flight, or a used-looking one while nothing is, is an
 *    impossible device write: the queue breaks.
 *  - The buffer id is written into every descriptor of a chain (2.8.6 only
 *    asks for the last: devices differ in which one they read, so both
 *    work), and into the ring descriptor of an indirect chain.
 *  - Shared memory is read once per use and checked (id range, in flight,
 *    used len <= the chain's writable bytes); private state is never
 *    re-read from it. Once broken nothing touches the ring until destroy.
 *  - Any queue size 1..32768 (2.8.10.1: "does not have to be a power of
 *    2"): positions wrap by comparison, never by mask.
 */
#include "virtqueue_packed.h"

#include <errno.h>
#include <string.h>

#include "virtio_platform.h"
#include "virtio_ring_packed.h"
#include "vq_check.h"

#define VQP_INDIRECT_DEFAULT 16
#define VQP_INDIRECT_LIMIT 256
#define VQP_LINE 64 /* event structures on their own cache lines */

/* Per buffer id; private. */
struct vqp_id_state {
    void *token;              /* NULL: id free */
    uint32_t in_len;          /* device-writable bytes (used len bound) */
    uint16_t ndescs;          /* ring descriptors the chain holds */
    uint16_t next;            /* free-id list link */
    struct vq_bounce *bounce; /* checking mode */
};

struct vq_packed {
    /* Shared with the device. */
    struct pvirtq_desc *desc;                /* written by both (2.8) */
    struct pvirtq_event_suppress *drv_event; /* driver area: written by us */
    struct pvirtq_event_suppress *dev_event; /* device area: read, untrusted */

    /* Private. */
    uint32_t num;
    uint32_t num_free;   /* free ring descriptors */
    uint32_t num_added;  /* descriptors made available since the last kick_prepare (capped) */
    uint16_t next_avail; /* ring offset of the next descriptor we write */
    uint16_t last_used;  /* ring offset of the next used descriptor */
    uint16_t free_id;
    uint16_t indirect_max;
    uint16_t drv_flags_shadow; /* drv_event->flags as we last wrote it */
    uint16_t pending_off;      /* publish_on_kick: head not yet published */
    uint16_t pending_flags;
    bool pending_head;
    bool avail_wrap; /* Driver Ring Wrap Counter (2.8.1), starts at 1 */
    bool used_wrap;  /* the device's counter as we track it, starts at 1 */
    bool event_idx;
    bool indirect;
    bool publish_on_kick;
    bool broken;
    bool cb_disabled;
    uint32_t detach_next;
    uint32_t used_total; /* buffers taken (for vqp_peek_used_idx) */
    uint32_t peek_word;  /* last_used | used_wrap << 15 | used_total << 16 (atomic) */
    struct vqp_id_state *ids;
    struct pvirtq_desc *indir; /* num * indirect_max entries, or NULL */
    uint64_t indir_dma;
    size_t indir_bytes;
    void *ring_mem;
    size_t ring_bytes;
    uint64_t ring_dma;
    uint64_t drv_dma;
    uint64_t dev_dma;
    const char *name;
    uint32_t index;
    struct vq_stats stats;
};

static void vqp_set_broken(struct vq_packed *p, const char *why, uint32_t a, uint32_t b)
{
    if (!p->broken)
        virt_log(VIRT_LOG_ERR, "%s q%u (packed) broken: %s (%u, %u)", p->name, p->index, why, a,
                 b);
    p->broken = true;
}

static void vqp_update_peek(struct vq_packed *p)
{
    uint32_t w = p->last_used | ((uint32_t)p->used_wrap << 15) | (p->used_total << 16);

    __atomic_store_n(&p->peek_word, w, __ATOMIC_RELAXED);
}

/* Fresh ring: 2.8.13 "The descriptor ring is zero-initialized"; both wrap
 * counters 1 (2.8.1); every id free; events enabled. */
static void vqp_reset(struct vq_packed *p)
{
    uint32_t i;

    memset(p->ring_mem, 0, p->ring_bytes);
    for (i = 0; i < p->num; i++) {
        p->ids[i].token = NULL;
        p->ids[i].next = (uint16_t)(i + 1); /* num: end (never followed) */
    }
    p->free_id = 0;
    p->num_free = p->num;
    p->num_added = 0;
    p->next_avail = 0;
    p->last_used = 0;
    p->avail_wrap = true;
    p->used_wrap = true;
    p->pending_head = false;
    p->drv_flags_shadow = RING_EVENT_FLAGS_ENABLE;
    p->cb_disabled = false;
    p->used_total = 0;
    vqp_update_peek(p);
}

int vqp_create(const struct vq_config *cfg, struct vq_packed **out)
{
    struct vq_packed *p;
    size_t desc_sz, drv_off, dev_off;

    if (!cfg || !out || !pvirtq_is_valid_size(cfg->num) || cfg->indirect_max > VQP_INDIRECT_LIMIT)
        return -EINVAL;
    p = virt_zalloc(sizeof(*p));
    if (!p)
        return -ENOMEM;
    p->num = cfg->num;
    p->event_idx = cfg->event_idx;
    p->indirect = cfg->indirect;
    p->publish_on_kick = cfg->publish_on_kick;
    p->indirect_max = cfg->indirect_max ? cfg->indirect_max : VQP_INDIRECT_DEFAULT;
    p->name = cfg->name ? cfg->name : "virtqueue";
    p->index = cfg->index;

    /* 2.8.10.1: ring 16-aligned, event structures 4-aligned; each on its
     * own line (virt_dma_alloc gives 64). */
    desc_sz = (size_t)pvirtq_desc_size(p->num);
    drv_off = (desc_sz + VQP_LINE - 1) & ~(size_t)(VQP_LINE - 1);
    dev_off = drv_off + VQP_LINE;
    p->ring_bytes = dev_off + VQP_LINE;
    p->ring_mem = virt_dma_alloc(p->ring_bytes, &p->ring_dma);
    if (!p->ring_mem)
        goto err;
    p->desc = p->ring_mem;
    p->drv_event = (struct pvirtq_event_suppress *)(void *)((uint8_t *)p->ring_mem + drv_off);
    p->dev_event = (struct pvirtq_event_suppress *)(void *)((uint8_t *)p->ring_mem + dev_off);
    p->drv_dma = p->ring_dma + drv_off;
    p->dev_dma = p->ring_dma + dev_off;
    p->ids = virt_zalloc(sizeof(*p->ids) * p->num);
    if (!p->ids)
        goto err;
    if (p->indirect) {
        p->indir_bytes = sizeof(struct pvirtq_desc) * p->num * p->indirect_max;
        p->indir = virt_dma_alloc(p->indir_bytes, &p->indir_dma);
        if (!p->indir)
            goto err;
    }
    vqp_reset(p);
    *out = p;
    return 0;

err:
    virt_free(p->ids);
    if (p->ring_mem)
        virt_dma_free(p->ring_mem, p->ring_bytes);
    virt_free(p);
    return -ENOMEM;
}

void vqp_destroy(struct vq_packed *p)
{
    uint32_t i;

    if (!p)
        return;
    for (i = 0; i < p->num; i++) {
        if (p->ids[i].bounce)
            vqc_drop(p->ids[i].bounce);
    }
    if (p->indir)
        virt_dma_free(p->indir, p->indir_bytes);
    virt_free(p->ids);
    virt_dma_free(p->ring_mem, p->ring_bytes);
    virt_free(p);
}

static void vqp_desc_write(struct pvirtq_desc *d, const struct vq_sg *sg, uint16_t id)
{
    d->addr = vr_cpu_to_le64(virt_to_dma(sg->buf));
    d->len = vr_cpu_to_le32(sg->len);
    d->id = vr_cpu_to_le16(id);
}

/* Write the chain's segments into the indirect table of id (2.8.7: only
 * WRITE is valid in a table; its ids are reserved, written 0). Returns the
 * ring descriptor's flags without AVAIL/USED. */
static uint16_t vqp_fill_indirect(struct vq_packed *p, uint16_t id, const struct vq_sg *sgs,
                                  unsigned out_sgs, unsigned total)
{
    struct pvirtq_desc *table = p->indir + (size_t)id * p->indirect_max;
    struct pvirtq_desc *d = &p->desc[p->next_avail];
    unsigned i;

    for (i = 0; i < total; i++) {
        vqp_desc_write(&table[i], &sgs[i], 0);
        table[i].flags = vr_cpu_to_le16(i >= out_sgs ? VIRTQ_DESC_F_WRITE : 0);
    }
    d->addr = vr_cpu_to_le64(p->indir_dma + (uint64_t)id * p->indirect_max * 16u);
    d->len = vr_cpu_to_le32((uint32_t)(total * sizeof(struct pvirtq_desc)));
    d->id = vr_cpu_to_le16(id);
    return VIRTQ_DESC_F_INDIRECT;
}

/* Write the chain into the ring from next_avail on (wrapping, toggling the
 * wrap bit mid-chain as 2.8.21.1 says). Every descriptor but the head gets
 * its flags now: invisible until the head is. Returns the head's flags. */
static uint16_t vqp_fill_direct(struct vq_packed *p, uint16_t id, const struct vq_sg *sgs,
                                unsigned out_sgs, unsigned total)
{
    uint32_t off = p->next_avail;
    bool wrap = p->avail_wrap;
    uint16_t head_flags = 0;
    unsigned n;

    for (n = 0; n < total; n++) {
        uint16_t f = pvirtq_avail_flags(wrap);

        if (n + 1 < total)
            f |= VIRTQ_DESC_F_NEXT;
        if (n >= out_sgs)
            f |= VIRTQ_DESC_F_WRITE;
        vqp_desc_write(&p->desc[off], &sgs[n], id);
        if (n == 0)
            head_flags = f;
        else
            virt_write_once16(&p->desc[off].flags, vr_cpu_to_le16(f));
        if (++off == p->num) {
            off = 0;
            wrap = !wrap;
        }
    }
    return head_flags;
}

int vqp_add_sgs(struct vq_packed *p, const struct vq_sg *sgs, unsigned out_sgs, unsigned in_sgs,
                void *token)
{
    unsigned total = out_sgs + in_sgs, i;
    uint64_t out_len = 0, in_len = 0;
    struct vq_sg bounced[VQC_MAX_SGS];
    struct vq_bounce *bounce = NULL;
    struct vqp_id_state *st;
    bool use_indirect;
    uint16_t id, head_off, head_flags;
    uint32_t ndescs, next;

    if (p->broken)
        return -EIO;
    if (!token || !sgs || total == 0 || total < out_sgs)
        return -EINVAL;
    use_indirect = p->indirect && total > 1 && total <= p->indirect_max;
    ndescs = use_indirect ? 1 : total;
    /* 2.8.18: "MUST NOT create a descriptor list longer than the Queue Size". */
    if (ndescs > p->num)
        return -EINVAL;
    for (i = 0; i < total; i++) {
        if (i < out_sgs)
            out_len += sgs[i].len;
        else
            in_len += sgs[i].len;
    }
    /* 2.8.4: used len is 32-bit; a buffer is at most 2^32 bytes. */
    if (in_len > UINT32_MAX || out_len + in_len > (1ull << 32))
        return -EINVAL;
    /* 2.8.18: "enough space in the ring for the whole list" first. */
    if (ndescs > p->num_free)
        return -ENOSPC;
    id = p->free_id;
    if (id >= p->num || p->ids[id].token) /* impossible: num_free says an id is free */
        return -ENOSPC;

    if (vq_is_checking() && in_sgs) {
        bounce = vqc_bounce(sgs, out_sgs, in_sgs, bounced);
        if (bounce) {
            sgs = bounced;
            p->stats.check_bounced++;
        } else {
            p->stats.check_skipped++;
        }
    }
    head_off = p->next_avail;
    if (use_indirect)
        head_flags = (uint16_t)(vqp_fill_indirect(p, id, sgs, out_sgs, total) |
                                pvirtq_avail_flags(p->avail_wrap));
    else
        head_flags = vqp_fill_direct(p, id, sgs, out_sgs, total);

    st = &p->ids[id];
    p->free_id = st->next;
    st->token = token;
    st->in_len = (uint32_t)in_len;
    st->ndescs = (uint16_t)ndescs;
    st->bounce = bounce;
    p->num_free -= ndescs;
    p->detach_next = 0;
    next = p->next_avail + ndescs;
    if (next >= p->num) {
        next -= p->num;
        p->avail_wrap = !p->avail_wrap;
    }
    p->next_avail = (uint16_t)next;
    if (p->num_added < p->num)
        p->num_added += ndescs;
    p->stats.adds++;
    if (use_indirect)
        p->stats.indirect_adds++;

    if (p->publish_on_kick && !p->pending_head) {
        /* The first head of a burst waits for vqp_kick_prepare(); the device
         * polls in ring order (2.8.2) and cannot get past it, so later heads
         * of the burst are published at once below and cost nothing. */
        p->pending_head = true;
        p->pending_off = head_off;
        p->pending_flags = head_flags;
        return 0;
    }
    /* 2.8.21.1 "Updating flags": write barrier, then the head's flags. It
     * orders every store of the chain (addr/len/id of all its descriptors,
     * the flags of the non-head ones, the indirect table, and the caller's
     * readable data) before the flags store that makes the head available.
     * Pairs with the device's load-acquire (or read barrier) after it sees
     * the head's AVAIL bit flip. */
    virt_wmb();
    virt_write_once16(&p->desc[head_off].flags, vr_cpu_to_le16(head_flags));
    return 0;
}

bool vqp_kick_prepare(struct vq_packed *p)
{
    uint16_t flags, off_wrap;
    bool needs;

    if (p->broken || p->num_added == 0)
        return false;
    if (p->pending_head) {
        /* publish_on_kick: same barrier, same pairing as in vqp_add_sgs(). */
        virt_wmb();
        virt_write_once16(&p->desc[p->pending_off].flags, vr_cpu_to_le16(p->pending_flags));
        p->pending_head = false;
    }
    /* 2.8.21.3.1: "MUST perform a suitable memory barrier before reading the
     * Event Suppression structure occupying the Device Area". Store->load:
     * our head flags stores must be visible before we read the device's
     * flags/offset, otherwise the device may enable events, re-poll a stale
     * descriptor and sleep while we read its old DISABLE and skip the kick.
     * Pairs with the device's full barrier between writing its event
     * suppression structure and re-polling the ring. */
    virt_mb();
    /* Written by the device: any value is safe (at worst a kick more or
     * less). Reserved 0x3, and DESC without EVENT_IDX (2.8.10: "Only valid
     * if VIRTIO_F_RING_EVENT_IDX has been negotiated"), mean kick. */
    /* Load-acquire: a device that writes its offset, then (after a write
     * barrier) DESC in the flags, has its offset seen with the flags. */
    flags = vr_le16_to_cpu(virt_load_acquire16(&p->dev_event->flags)) & RING_EVENT_FLAGS_MASK;
    if (flags == RING_EVENT_FLAGS_DISABLE) {
        needs = false;
    } else if (flags == RING_EVENT_FLAGS_DESC && p->event_idx) {
        off_wrap = vr_le16_to_cpu(virt_read_once16(&p->dev_event->desc));
        needs = p->num_added >= p->num ||
                pvirtq_need_event(off_wrap, p->next_avail, p->avail_wrap, (uint16_t)p->num_added,
                                  p->num);
    } else {
        needs = true;
    }
    p->num_added = 0;
    if (needs)
        p->stats.kicks++;
    else
        p->stats.kicks_saved++;
    return needs;
}

/*
 * Is the descriptor at last_used a used one? 1 yes (*flags_out its flags),
 * 0 no, -EIO broken (impossible AVAIL/USED bits, see the invariants).
 */
static int vqp_next_used(struct vq_packed *p, uint16_t *flags_out)
{
    bool in_flight = p->num_free < p->num;
    uint16_t f;
    bool a, u;

    /* An unpublished head (publish_on_kick) there: the device cannot have
     * seen anything in flight, and the slot still holds last lap's bits. */
    if (p->pending_head && p->pending_off == p->last_used)
        return 0;
    /* Load-acquire: the id/len loads that follow see what the device wrote
     * before its flags store; pairs with the device's write barrier (or
     * store-release) before the used descriptor's flags. */
    f = vr_le16_to_cpu(virt_load_acquire16(&p->desc[p->last_used].flags));
    a = !!(f & VIRTQ_DESC_F_AVAIL);
    u = !!(f & VIRTQ_DESC_F_USED);
    if (!in_flight) {
        if (a == p->used_wrap) {
            vqp_set_broken(p, "used descriptor with nothing in flight", p->last_used, f);
            return -EIO;
        }
        return 0;
    }
    if (a != p->used_wrap) {
        vqp_set_broken(p, "inconsistent AVAIL/USED bits at the used position", p->last_used, f);
        return -EIO;
    }
    if (u != p->used_wrap)
        return 0; /* still (wrap, !wrap): available, not used yet */
    *flags_out = f;
    return 1;
}

static bool vqp_should_log(uint64_t n)
{
    return n <= 4 || (n & 255) == 0;
}

/* Checking mode: what the device did to the bounce of id (vq_check.h). */
static void vqp_check_used(struct vq_packed *p, uint16_t id, uint32_t ulen)
{
    struct vqc_report r;

    vqc_complete(p->ids[id].bounce, ulen, &r);
    p->ids[id].bounce = NULL;
    if (r.guard_bytes && vqp_should_log(++p->stats.check_overruns))
        virt_log(VIRT_LOG_ERR,
                 "%s q%u: device wrote past the writable buffer: id %u, segment %u, "
                 "%u guard bytes changed (used len %u of %u)",
                 p->name, p->index, id, r.guard_seg, r.guard_bytes, ulen, p->ids[id].in_len);
    if (r.past_len && vqp_should_log(++p->stats.check_past_len))
        virt_log(VIRT_LOG_WARN,
                 "%s q%u: device wrote more than the used length: id %u, used len %u, "
                 "%u bytes changed from offset %u",
                 p->name, p->index, id, ulen, r.past_len, r.past_len_off);
}

static void vqp_free_id(struct vq_packed *p, uint16_t id)
{
    struct vqp_id_state *st = &p->ids[id];

    st->token = NULL;
    st->next = p->free_id;
    p->free_id = id;
    p->num_free += st->ndescs;
}

static void vqp_write_event_off(struct vq_packed *p, uint16_t off, bool wrap)
{
    virt_write_once16(&p->drv_event->desc, vr_cpu_to_le16(pvirtq_event_off_wrap(off, wrap)));
}

static void vqp_write_event_flags(struct vq_packed *p, uint16_t flags)
{
    if (p->drv_flags_shadow == flags)
        return; /* unchanged: leave the line shared */
    p->drv_flags_shadow = flags;
    virt_write_once16(&p->drv_event->flags, vr_cpu_to_le16(flags));
}

int vqp_get_buf(struct vq_packed *p, void **token, uint32_t *len)
{
    struct pvirtq_desc *d;
    struct vqp_id_state *st;
    uint16_t flags = 0, id;
    uint32_t ulen, next;
    int r;

    if (p->broken)
        return -EIO;
    r = vqp_next_used(p, &flags);
    if (r < 0)
        return -EIO;
    if (r == 0)
        return -EAGAIN;
    /* 2.8.22: read the used descriptor once (ordered by the acquire in
     * vqp_next_used()), then check every field. */
    d = &p->desc[p->last_used];
    id = vr_le16_to_cpu(virt_read_once16(&d->id));
    ulen = vr_le32_to_cpu(virt_read_once32(&d->len));
    if (id >= p->num) {
        vqp_set_broken(p, "used id out of range", id, p->num);
        return -EIO;
    }
    st = &p->ids[id];
    if (!st->token) {
        vqp_set_broken(p, "used id not in flight", id, p->last_used);
        return -EIO;
    }
    /* 2.8.5 makes the length reserved in a used descriptor without WRITE
     * ("ignored by drivers"), but QEMU 7.2's packed devices never set WRITE
     * in used descriptors (blk reads came back with len 4097 and no WRITE),
     * and Linux's driver takes the length either way. So do we: the length
     * counts with or without WRITE, and is checked against the chain's
     * writable bytes either way, so it stays safe. */
    (void)flags;
    if (ulen > st->in_len) {
        vqp_set_broken(p, "used len larger than the writable buffer", ulen, st->in_len);
        return -EIO;
    }
    if (st->bounce)
        vqp_check_used(p, id, ulen);
    *token = st->token;
    *len = ulen;
    /* 2.8.6: the device wrote one used descriptor for the whole list; skip
     * the rest of it to where the next used descriptor goes. */
    next = p->last_used + st->ndescs;
    if (next >= p->num) {
        next -= p->num;
        p->used_wrap = !p->used_wrap;
    }
    p->last_used = (uint16_t)next;
    vqp_free_id(p, id);
    p->used_total++;
    vqp_update_peek(p);
    p->stats.used++;
    if (p->event_idx && !p->cb_disabled) {
        /* Callbacks on with EVENT_IDX (flags DESC): ask for the event at the
         * next used position. The full fence orders this store before the
         * flags load of the next vqp_get_buf()/vqp_has_used(): a buffer the
         * device uses meanwhile is either seen there or interrupts. Pairs
         * with the device's full barrier between writing a used descriptor
         * and reading our event suppression structure. */
        vqp_write_event_off(p, p->last_used, p->used_wrap);
        virt_mb();
    }
    return 0;
}

bool vqp_has_used(struct vq_packed *p)
{
    uint16_t flags;

    if (p->broken)
        return false;
    return vqp_next_used(p, &flags) == 1;
}

uint16_t vqp_peek_used_idx(const struct vq_packed *p)
{
    /* No used index in a packed ring: (buffers taken, next slot used?) as
     * one number that moves whenever the device or we make progress. Racy
     * by design (interrupt time, no state change): the word is one atomic
     * load, the flags one load-acquire (pairs with the device's barrier
     * before a used descriptor's flags). */
    uint32_t w = __atomic_load_n(&p->peek_word, __ATOMIC_RELAXED);
    uint16_t off = (uint16_t)(w & PVIRTQ_EVENT_OFF_MASK);
    bool wrap = (w >> 15) & 1;
    uint16_t f;

    if (off >= p->num)
        return 0;
    f = vr_le16_to_cpu(virt_load_acquire16(&p->desc[off].flags));
    return (uint16_t)(((w >> 16) << 1) | (pvirtq_is_used(f, wrap) ? 1u : 0u));
}

void vqp_disable_cb(struct vq_packed *p)
{
    if (p->broken || p->cb_disabled)
        return;
    p->cb_disabled = true;
    /* 2.8.10: DISABLE, with or without EVENT_IDX (a hint to the device). */
    vqp_write_event_flags(p, RING_EVENT_FLAGS_DISABLE);
}

/* Ask for the event at (off, wrap) with EVENT_IDX, or for every event. */
static void vqp_arm(struct vq_packed *p, uint16_t off, bool wrap)
{
    p->cb_disabled = false;
    if (p->event_idx) {
        vqp_write_event_off(p, off, wrap);
        /* Offset before flags: a device that reads flags == DESC (then,
         * after its read barrier, the offset) sees this offset, never a
         * stale one. Pairs with the device's barrier between its loads of
         * our flags and our offset. */
        virt_wmb();
        vqp_write_event_flags(p, RING_EVENT_FLAGS_DESC);
    } else {
        vqp_write_event_flags(p, RING_EVENT_FLAGS_ENABLE);
    }
}

int vqp_enable_cb(struct vq_packed *p)
{
    uint16_t flags;
    int r;

    if (p->broken)
        return -EIO;
    vqp_arm(p, p->last_used, p->used_wrap);
    /* Full fence: the event structure stores before the re-poll of the
     * ring (store->load). Otherwise the device could use a descriptor, read
     * our old DISABLE and skip the interrupt while we read the old flags: a
     * lost wakeup. Pairs with the device's full barrier between writing a
     * used descriptor and reading our event suppression structure. */
    virt_mb();
    r = vqp_next_used(p, &flags);
    if (r < 0)
        return -EIO;
    return r ? -EAGAIN : 0;
}

/* Ring descriptors already used from last_used on, walking used
 * descriptors without taking them; stops after more than limit, at the
 * first unused one or at anything odd (vqp_get_buf() judges that). */
static uint32_t vqp_count_used(struct vq_packed *p, uint32_t limit)
{
    uint32_t off = p->last_used, seen = 0;
    bool wrap = p->used_wrap;

    while (seen <= limit && seen < p->num - p->num_free) {
        uint16_t f, id;

        if (p->pending_head && p->pending_off == off)
            break;
        /* Acquire: as in vqp_next_used(). */
        f = vr_le16_to_cpu(virt_load_acquire16(&p->desc[off].flags));
        if (!pvirtq_is_used(f, wrap))
            break;
        id = vr_le16_to_cpu(virt_read_once16(&p->desc[off].id));
        if (id >= p->num || !p->ids[id].token)
            return limit + 1; /* let vqp_get_buf() break the queue */
        seen += p->ids[id].ndescs;
        off += p->ids[id].ndescs;
        if (off >= p->num) {
            off -= p->num;
            wrap = !wrap;
        }
    }
    return seen;
}

int vqp_enable_cb_delayed(struct vq_packed *p)
{
    uint32_t bufs, off;
    bool wrap = p->used_wrap;

    if (p->broken)
        return -EIO;
    if (!p->event_idx)
        return vqp_enable_cb(p);
    /* Event when the device's used position passes 3/4 of what is in
     * flight (counted in ring descriptors, as the device counts). */
    bufs = (p->num - p->num_free) * 3 / 4;
    off = p->last_used + bufs;
    if (off >= p->num) {
        off -= p->num;
        wrap = !wrap;
    }
    vqp_arm(p, (uint16_t)off, wrap);
    /* Full fence, as in vqp_enable_cb(), same pairing. */
    virt_mb();
    if (vqp_next_used(p, &(uint16_t){0}) < 0)
        return -EIO;
    return vqp_count_used(p, bufs) > bufs ? -EAGAIN : 0;
}

void *vqp_detach_unused(struct vq_packed *p)
{
    for (; p->detach_next < p->num; p->detach_next++) {
        struct vqp_id_state *st = &p->ids[p->detach_next];

        if (st->token) {
            void *token = st->token;

            if (st->bounce)
                vqc_discard(st->bounce);
            st->bounce = NULL;
            vqp_free_id(p, (uint16_t)p->detach_next);
            return token;
        }
    }
    /* Nothing left in flight: the device was reset, start the ring anew. */
    p->detach_next = 0;
    if (!p->broken)
        vqp_reset(p);
    return NULL;
}

bool vqp_is_broken(const struct vq_packed *p)
{
    return p->broken;
}

unsigned vqp_num_free(const struct vq_packed *p)
{
    return p->num_free;
}

uint32_t vqp_get_size(const struct vq_packed *p)
{
    return p->num;
}

void vqp_get_ring_addrs(const struct vq_packed *p, uint64_t *desc, uint64_t *driver,
                        uint64_t *device)
{
    *desc = p->ring_dma;
    *driver = p->drv_dma;
    *device = p->dev_dma;
}

const struct vq_stats *vqp_get_stats(const struct vq_packed *p)
{
    return &p->stats;
}
