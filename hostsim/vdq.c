/* SPDX-License-Identifier: Apache-2.0 */
/*
 * vdq.c - device side of a split virtqueue (virtio 1.2 section 2.7).
 *
 * The driver is not trusted: every value read from the descriptor table,
 * the available ring and indirect tables is read once into a private copy
 * and checked before use, and every guest address goes through
 * vdq_mem_translate() with bounds checks.
 *
 * Invariants:
 *  - next_avail, next_used and num_added are private shadows; used->idx is
 *    written only by vdq_push() and always equals next_used after it.
 *  - (uint16_t)(avail->idx - next_avail) <= num, otherwise the ring is
 *    corrupt and the queue is broken.
 *  - once broken, no shared memory is touched again.
 *
 * Bad-chain policy. A chain is "bad" when walking it hits any of (each one
 * a vdq_bad reason, counted in stats.bad[]):
 *  - a next index outside the descriptor table or indirect table (2.7.5);
 *  - a loop: more descriptors than the table holds (2.7.5.2 forbids loops,
 *    2.7.5.3.1 chains longer than the queue size: a chain of exactly num
 *    descriptors is legal, one more is not);
 *  - an indirect table whose length is 0 or not a multiple of 16, or that
 *    holds more than 65535 entries (2.7.5.3);
 *  - INDIRECT inside an indirect table, INDIRECT together with NEXT, or
 *    INDIRECT when VIRTIO_F_INDIRECT_DESC was not negotiated (2.7.5.3.1);
 *  - a device-readable descriptor after a device-writable one (2.7.4.2);
 *  - an address/length outside guest memory, or wrapping around;
 *  - more segments than the caller's iov array (a device limit), or more
 *    than 2^32 bytes in all (2.7.5.2).
 * A bad chain is returned to the driver at once with used len 0, counted,
 * and the queue goes on with the next chain: one buggy request must not
 * take the device down, and the driver gets its descriptors back.
 * A corrupt ring is different: if avail->idx is more than num ahead of
 * next_avail (this includes avail->idx going backwards, which 2.7.6.1
 * forbids) or a head index
 * is outside the table, there is no chain we could return, so the queue is
 * marked broken (the device model sets DEVICE_NEEDS_RESET) and every later
 * call returns -EIO.
 *
 * Packed queues (cfg.packed, VIRTIO_F_RING_PACKED) live in vdq_packed.c:
 * each public function below hands a packed queue over to its vdqp_*
 * counterpart first; the chain copy helpers and the broken state are
 * shared.
 */
#include "vdq.h"
#include "vdq_inflight.h"
#include "vdq_inflight_packed.h"
#include "vdq_packed.h"

#include <errno.h>
#include <string.h>

#include "virtio_platform.h"

void *vdq_mem_translate(const struct vdq_mem *mem, uint64_t gpa, uint64_t len)
{
    uint32_t i;

    if (len > UINT64_MAX - gpa) /* wraps around the address space */
        return NULL;
    for (i = 0; i < mem->nregions; i++) {
        const struct vdq_mem_region *r = &mem->regions[i];
        uint64_t off;

        if (gpa < r->gpa)
            continue;
        off = gpa - r->gpa;
        if (off > r->size || len > r->size - off)
            continue;
        return (uint8_t *)r->hva + off;
    }
    return NULL;
}

void vdq_set_broken(struct vdq *q, const char *why, uint32_t a, uint32_t b)
{
    if (q->broken)
        return;
    /* Debug only: the owner reports it once with the queue's name. */
    virt_log(VIRT_LOG_DEBUG, "vdq %p broken: %s (%u, %u)", (void *)q, why, a, b);
    q->broken = true;
    q->broken_why = why;
    q->broken_a = a;
    q->broken_b = b;
}

static int vdq_map_rings(struct vdq *q, const struct vdq_mem *mem, const struct vdq_config *cfg)
{
    uint64_t ev = cfg->event_idx ? 2 : 0; /* 2.7: event words only with EVENT_IDX */
    void *desc, *avail, *used;

    if (!virtq_is_valid_size(cfg->num))
        return -EINVAL;
    if (cfg->desc_gpa % VIRTQ_DESC_ALIGN || cfg->avail_gpa % VIRTQ_AVAIL_ALIGN ||
        cfg->used_gpa % VIRTQ_USED_ALIGN)
        return -EINVAL;
    desc = vdq_mem_translate(mem, cfg->desc_gpa, virtq_desc_size(cfg->num));
    avail = vdq_mem_translate(mem, cfg->avail_gpa, virtq_avail_size(cfg->num) - 2 + ev);
    used = vdq_mem_translate(mem, cfg->used_gpa, virtq_used_size(cfg->num) - 2 + ev);
    if (!desc || !avail || !used)
        return -EINVAL;
    memset(q, 0, sizeof(*q));
    q->mem = *mem;
    q->cfg = *cfg;
    q->mask = (uint16_t)(cfg->num - 1);
    q->desc = desc;
    q->avail = avail;
    q->used = used;
    q->used_event = &q->avail->ring[cfg->num];
    q->avail_event = virtq_avail_event(q->used, cfg->num);
    q->notify_enabled = true;
    return 0;
}

int vdq_init(struct vdq *q, const struct vdq_mem *mem, const struct vdq_config *cfg)
{
    if (cfg->packed)
        return vdqp_init(q, mem, cfg);
    return vdq_map_rings(q, mem, cfg);
}

static int vdq_init_state_as(struct vdq *q, const struct vdq_mem *mem, const struct vdq_state *st,
                             bool stall);

int vdq_init_state(struct vdq *q, const struct vdq_mem *mem, const struct vdq_state *st)
{
    return vdq_init_state_as(q, mem, st, false);
}

int vdq_init_state_stall(struct vdq *q, const struct vdq_mem *mem, const struct vdq_state *st)
{
    return vdq_init_state_as(q, mem, st, true);
}

static int vdq_init_state_as(struct vdq *q, const struct vdq_mem *mem, const struct vdq_state *st,
                             bool stall)
{
    struct vdq_config cfg = {
        .num = st->size,
        .desc_gpa = st->desc_gpa,
        .avail_gpa = st->avail_gpa,
        .used_gpa = st->used_gpa,
        .event_idx = st->event_idx != 0,
        .indirect = st->indirect != 0,
    };
    struct vdq tmp;
    uint16_t avail_idx;
    int err;

    if (st->packed)
        return vdqp_init_state(q, mem, st);
    err = vdq_map_rings(&tmp, mem, &cfg);
    if (err)
        return err;
    /* Check everything before touching q: avail ahead of next_avail by at
     * most size, and at most size chains in flight. */
    avail_idx = vr_le16_to_cpu(virt_load_acquire16(&tmp.avail->idx));
    if ((!stall && (uint16_t)(avail_idx - st->next_avail) > st->size) ||
        (uint16_t)(st->next_avail - st->next_used) > st->size)
        return -EINVAL;
    tmp.next_avail = st->next_avail;
    tmp.avail_idx_seen = st->next_avail;
    tmp.next_used = st->next_used;
    tmp.num_added = st->num_added;
    tmp.corrupt_stall = stall;
    *q = tmp;
    return 0;
}

void vdq_get_state(const struct vdq *q, struct vdq_state *st)
{
    if (q->cfg.packed) {
        vdqp_get_state(q, st);
        return;
    }
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
}

/* Copy one descriptor out of shared memory, each byte read once. Indirect
 * tables need not be aligned, so fall back to bytes when they are not. */
static void vdq_desc_read(const struct virtq_desc *src, struct virtq_desc *d)
{
    if (((uintptr_t)src & 7) == 0) {
        d->addr = vr_le64_to_cpu(virt_read_once64(&src->addr));
        d->len = vr_le32_to_cpu(virt_read_once32(&src->len));
        d->flags = vr_le16_to_cpu(virt_read_once16(&src->flags));
        d->next = vr_le16_to_cpu(virt_read_once16(&src->next));
    } else {
        const volatile uint8_t *s = (const volatile uint8_t *)src;
        uint8_t buf[sizeof(*d)];
        size_t i;

        for (i = 0; i < sizeof(buf); i++)
            buf[i] = s[i];
        memcpy(d, buf, sizeof(*d));
    }
}

/*
 * Number of chains waiting, or -EIO (broken) if avail->idx is impossible.
 * Chains up to the avail->idx we saw last time are known without touching
 * the shared line; only when they are used up (or `fresh` is asked for,
 * after a fence) is avail->idx re-read.
 */
static void vdq_stall(struct vdq *q, uint8_t kind, const char *why, uint32_t a, uint32_t b)
{
    virt_log(VIRT_LOG_DEBUG, "vdq %p waits: %s (%u, %u)", (void *)q, why, a, b);
    q->stall = kind;
    q->stall_new = true;
    q->stall_why = why;
    q->stall_a = a;
    q->stall_b = b;
    q->stalls++;
}

/* corrupt_stall: avail_idx is more than the size ahead of next_avail (see
 * vdq.h). Chains waiting from the index the driver went on from, or 0. */
static uint16_t vdq_idx_stall(struct vdq *q, uint16_t avail_idx)
{
    if (q->stall != VDQ_STALL_IDX) {
        vdq_stall(q, VDQ_STALL_IDX, "avail idx more than the queue size ahead", avail_idx,
                  q->next_avail);
        q->stall_idx = avail_idx;
        return 0;
    }
    if (avail_idx == q->stall_idx || (uint16_t)(avail_idx - q->stall_idx) > q->cfg.num)
        return 0; /* nothing new, or nonsense again */
    /* The driver published on top of the bad index: it is the driver's
     * idea of where its ring is; the entries before it are never used. */
    q->resync_skipped += (uint16_t)(q->stall_idx - q->next_avail);
    q->next_avail = q->stall_idx;
    q->resyncs++;
    q->stall = VDQ_STALL_NONE;
    q->avail_idx_seen = avail_idx;
    return (uint16_t)(avail_idx - q->next_avail);
}

static int vdq_avail_pending(struct vdq *q, bool fresh)
{
    uint16_t avail_idx, n;

    if (!fresh && !q->stall && q->avail_idx_seen != q->next_avail)
        return (uint16_t)(q->avail_idx_seen - q->next_avail);
    /* Load-acquire: the ring entry and descriptors the driver wrote before
     * this idx are visible to our later loads; pairs with the store-release
     * of avail->idx in vq_add_sgs(). */
    avail_idx = vr_le16_to_cpu(virt_load_acquire16(&q->avail->idx));
    n = (uint16_t)(avail_idx - q->next_avail);
    if (n > q->cfg.num) {
        if (q->corrupt_stall)
            return vdq_idx_stall(q, avail_idx);
        vdq_set_broken(q, "avail idx more than the queue size ahead", avail_idx, q->next_avail);
        return -EIO;
    }
    if (q->stall == VDQ_STALL_IDX)
        q->stall = VDQ_STALL_NONE; /* repaired, or rewound and gone on */
    /* A bad head waits while avail->idx stays, unless rewritten (read
     * once here; vdq_pop reads it again and judges that value). */
    if (q->stall == VDQ_STALL_HEAD && n && avail_idx == q->stall_idx &&
        vr_le16_to_cpu(virt_read_once16(&q->avail->ring[q->next_avail & q->mask])) >= q->cfg.num)
        n = 0;
    q->avail_idx_seen = avail_idx;
    return n;
}

void vdq_set_corrupt_stall(struct vdq *q, bool on)
{
    q->corrupt_stall = on && !q->cfg.packed;
}

bool vdq_take_stall(struct vdq *q, const char **why, uint32_t *a, uint32_t *b)
{
    if (!q->stall_new)
        return false;
    q->stall_new = false;
    *why = q->stall_why;
    *a = q->stall_a;
    *b = q->stall_b;
    return true;
}

/* Walk chain `head`, filling c. Returns 0 or a vdq_bad reason + 1. */
static int vdq_walk(const struct vdq *q, uint16_t head, struct vdq_chain *c)
{
    const struct virtq_desc *table = q->desc;
    uint32_t table_len = q->cfg.num, seen = 0, i = head, nseg = 0;
    uint64_t out_len = 0, in_len = 0;
    bool in_indirect = false, seen_write = false;
    struct virtq_desc d;

    c->head = head;
    c->ndesc = 0;
    for (;;) {
        if (seen >= table_len)
            return VDQ_BAD_LOOP + 1;
        seen++;
        c->ndesc++;
        vdq_desc_read(&table[i], &d);
        if (d.flags & VIRTQ_DESC_F_INDIRECT) {
            /* 2.7.5.3.2: the WRITE flag of this descriptor is ignored. */
            if (in_indirect)
                return VDQ_BAD_INDIRECT_NESTED + 1;
            if (!q->cfg.indirect)
                return VDQ_BAD_INDIRECT_FEATURE + 1;
            if (d.flags & VIRTQ_DESC_F_NEXT)
                return VDQ_BAD_INDIRECT_NEXT + 1;
            if (d.len == 0 || d.len % sizeof(struct virtq_desc))
                return VDQ_BAD_INDIRECT_LEN + 1;
            if (d.len / sizeof(struct virtq_desc) > VIRTQ_INDIRECT_MAX)
                return VDQ_BAD_INDIRECT_SIZE + 1;
            table = vdq_mem_translate(&q->mem, d.addr, d.len);
            if (!table)
                return VDQ_BAD_ADDR + 1;
            table_len = d.len / sizeof(struct virtq_desc);
            in_indirect = true;
            seen = 0;
            i = 0;
            continue;
        }
        if (d.flags & VIRTQ_DESC_F_WRITE)
            seen_write = true;
        else if (seen_write)
            return VDQ_BAD_WRITE_ORDER + 1;
        if (nseg >= c->max_iov)
            return VDQ_BAD_TOO_MANY_SEGS + 1;
        c->iov[nseg].base = vdq_mem_translate(&q->mem, d.addr, d.len);
        if (!c->iov[nseg].base)
            return VDQ_BAD_ADDR + 1;
        c->iov[nseg].len = d.len;
        c->iov[nseg].pad = 0;
        nseg++;
        if (d.flags & VIRTQ_DESC_F_WRITE) {
            in_len += d.len;
            c->nin++;
        } else {
            out_len += d.len;
            c->nout++;
        }
        /* 2.7.5.2: a chain is at most 2^32 bytes (each part is checked
         * against u32 at the end). */
        if (out_len + in_len > (1ull << 32))
            return VDQ_BAD_TOO_LONG + 1;
        if (!(d.flags & VIRTQ_DESC_F_NEXT))
            break;
        i = d.next;
        if (i >= table_len)
            return VDQ_BAD_NEXT_RANGE + 1;
    }
    if (out_len > UINT32_MAX || in_len > UINT32_MAX)
        return VDQ_BAD_TOO_LONG + 1;
    c->out_len = (uint32_t)out_len;
    c->in_len = (uint32_t)in_len;
    return 0;
}

int vdq_pop(struct vdq *q, struct vdq_chain *c)
{
    if (q->cfg.packed)
        return vdqp_pop(q, c);
    for (;;) {
        int n, bad;
        uint16_t head;

        if (q->broken)
            return -EIO;
        if (q->tracker && vdqi_next_resubmit(q->tracker, &head)) {
            /* A chain the previous backend fetched and never completed
             * (vdq_inflight.h): its descriptors are still the driver's
             * (it gets them back only through the used ring), walk them
             * again. Already flagged in flight with its old counter. */
            if (head >= q->cfg.num) { /* vdqi_recover checked it */
                vdq_set_broken(q, "resubmitted head out of range", head, q->cfg.num);
                return -EIO;
            }
            goto walk;
        }
        n = vdq_avail_pending(q, false);
        if (n <= 0)
            return n < 0 ? n : -EAGAIN;
        head = vr_le16_to_cpu(virt_read_once16(&q->avail->ring[q->next_avail & q->mask]));
        if (head >= q->cfg.num) {
            if (!q->corrupt_stall) {
                vdq_set_broken(q, "avail ring head out of range", head, q->cfg.num);
                return -EIO;
            }
            if (q->stall != VDQ_STALL_HEAD || q->stall_at != q->next_avail) {
                vdq_stall(q, VDQ_STALL_HEAD, "avail ring head out of range", head, q->cfg.num);
                q->stall_at = q->next_avail;
                q->stall_idx = q->avail_idx_seen;
                if ((uint16_t)(q->avail_idx_seen - q->next_avail) <= 1)
                    return -EAGAIN; /* the last entry: the driver may rewrite it */
            }
            /* The driver published past the bad entry (now, or while we
             * waited: vdq_avail_pending let us here). It is dropped, never
             * used (vdq.h). */
            q->stall = VDQ_STALL_NONE;
            q->skipped_heads++;
            q->next_avail++;
            continue;
        }
        if (q->stall == VDQ_STALL_HEAD)
            q->stall = VDQ_STALL_NONE; /* the driver rewrote the entry */
        q->next_avail++;
        if (q->cfg.event_idx && q->notify_enabled) {
            /* 2.7.10: kick me for the entry after this one. No fence: going
             * to sleep goes through vdq_enable_notify(), which has it. */
            virt_write_once16(q->avail_event, vr_cpu_to_le16(q->next_avail));
            vdq_log_used(q, 4 + 8ull * q->cfg.num, 2); /* avail_event */
        }
        if (q->tracker)
            vdqi_pop(q->tracker, head); /* fetched: in flight from now on */
    walk:
        c->nout = c->nin = 0;
        bad = vdq_walk(q, head, c);
        if (!bad) {
            q->stats.popped++;
            return 0;
        }
        /* Bad chain: hand it back empty and go on (policy at the top). */
        q->stats.bad_chains++;
        q->stats.bad[bad - 1]++;
        virt_log(VIRT_LOG_DEBUG, "vdq %p: bad chain head %u reason %d", (void *)q, head, bad - 1);
        c->nout = c->nin = 0;
        vdq_push(q, head, 0);
    }
}

int vdq_push(struct vdq *q, uint16_t head, uint32_t len)
{
    struct virtq_used_elem *e;

    if (q->cfg.packed)
        return vdqp_push(q, head, len);
    if (q->broken)
        return -EIO;
    if (head >= q->cfg.num)
        return -EINVAL;
    if (q->tracker)
        vdqi_push(q->tracker, head); /* "supplying used buffers" steps 1-3 */
    e = &q->used->ring[q->next_used & q->mask];
    /* Skip stores of values already there (same head and length as a lap
     * ago, common with in-order devices): the line can stay shared with
     * the driver's cache. Only we write the used ring. */
    if (virt_read_once32(&e->id) != vr_cpu_to_le32(head))
        virt_write_once32(&e->id, vr_cpu_to_le32(head));
    if (virt_read_once32(&e->len) != vr_cpu_to_le32(len))
        virt_write_once32(&e->len, vr_cpu_to_le32(len));
    /* Dirty log (vdq_set_used_log): the element, after its stores. */
    vdq_log_used(q, 4 + 8ull * (q->next_used & q->mask), 8);
    q->next_used++;
    q->num_added++;
    q->stats.pushed++;
    /* 2.7.8: the element must be visible before the new idx: store-release;
     * pairs with the load-acquire of used->idx in vq_get_buf(). */
    if (!q->cfg.publish_on_interrupt) {
        virt_store_release16(&q->used->idx, vr_cpu_to_le16(q->next_used));
        vdq_log_used(q, 2, 2); /* used->idx */
        if (q->tracker)
            vdqi_publish(q->tracker, q->next_used); /* steps 5-6: settle it */
    }
    return 0;
}

bool vdq_interrupt_prepare(struct vdq *q)
{
    uint16_t new_idx, old_idx;
    bool needs;

    if (q->cfg.packed)
        return vdqp_interrupt_prepare(q);
    if (q->broken || q->num_added == 0)
        return false;
    /* publish_on_interrupt: the batch becomes visible now (same release as
     * in vdq_push(), same pairing). */
    if (q->cfg.publish_on_interrupt) {
        virt_store_release16(&q->used->idx, vr_cpu_to_le16(q->next_used));
        vdq_log_used(q, 2, 2); /* used->idx */
        if (q->tracker)
            vdqi_publish(q->tracker, q->next_used); /* the batch's flags */
    }
    /* 2.7.7: full fence. Our used->idx store (vdq_push) must be visible
     * before we read used_event / avail->flags (store->load), or the driver
     * may enable callbacks, re-check a stale used->idx and sleep while we
     * read its old used_event and skip the interrupt. Pairs with the
     * virt_mb() in vq_enable_cb() and in vq_get_buf(). */
    virt_mb();
    new_idx = q->next_used;
    old_idx = (uint16_t)(new_idx - q->num_added);
    if (q->num_added > 0xffff) {
        needs = true;
    } else if (q->cfg.event_idx) {
        uint16_t event = vr_le16_to_cpu(virt_read_once16(q->used_event));
        needs = vring_need_event(event, new_idx, old_idx);
    } else {
        needs = !(vr_le16_to_cpu(virt_read_once16(&q->avail->flags)) & VIRTQ_AVAIL_F_NO_INTERRUPT);
    }
    q->num_added = 0;
    if (needs)
        q->stats.interrupts++;
    else
        q->stats.interrupts_saved++;
    return needs;
}

void vdq_disable_notify(struct vdq *q)
{
    if (q->cfg.packed) {
        vdqp_disable_notify(q);
        return;
    }
    if (q->broken || !q->notify_enabled)
        return;
    q->notify_enabled = false;
    /* 2.7.10: with EVENT_IDX the flags stay 0 and avail_event simply stops
     * moving, so the driver kicks at most once more. */
    if (!q->cfg.event_idx) {
        virt_write_once16(&q->used->flags, vr_cpu_to_le16(VIRTQ_USED_F_NO_NOTIFY));
        vdq_log_used(q, 0, 2); /* used->flags */
    }
}

int vdq_enable_notify(struct vdq *q)
{
    int n;

    if (q->cfg.packed)
        return vdqp_enable_notify(q);
    if (q->broken)
        return -EIO;
    q->notify_enabled = true;
    if (q->cfg.event_idx)
        virt_write_once16(q->avail_event, vr_cpu_to_le16(q->next_avail));
    else
        virt_write_once16(&q->used->flags, 0);
    /* Dirty log: avail_event or used->flags, whichever was written. */
    vdq_log_used(q, q->cfg.event_idx ? 4 + 8ull * q->cfg.num : 0, 2);
    /* Full fence: avail_event / flags must be visible before we re-read
     * avail->idx (store->load), otherwise the driver may publish a chain,
     * read our old avail_event/flags and skip the kick while we read the
     * old avail->idx and go to sleep. Pairs with the virt_mb() in
     * vq_kick_prepare(). */
    virt_mb();
    n = vdq_avail_pending(q, true);
    if (n < 0)
        return n;
    return n ? -EAGAIN : 0;
}

int vdq_set_inflight(struct vdq *q, struct vdq_inflight *t)
{
    if (t && (q->cfg.packed || !t->r || t->desc_num < q->cfg.num))
        return -EINVAL;
    q->tracker = t;
    return 0;
}

int vdq_set_inflight_packed(struct vdq *q, struct vdq_inflight_packed *t)
{
    if (t && (!q->cfg.packed || !t->r || t->desc_num < q->cfg.num))
        return -EINVAL;
    if (t)
        t->ring_num = (uint16_t)q->cfg.num; /* the wrap of its used position */
    q->ptracker = t;
    return 0;
}

bool vdq_has_avail(struct vdq *q)
{
    if (q->cfg.packed)
        return vdqp_has_avail(q);
    if (!q->broken && q->tracker && q->tracker->resubmit_next < q->tracker->nresubmit)
        return true; /* resubmissions first */
    return !q->broken && vdq_avail_pending(q, false) > 0;
}

bool vdq_is_broken(const struct vdq *q)
{
    return q->broken;
}

const char *vdq_broken_reason(const struct vdq *q, uint32_t *a, uint32_t *b)
{
    if (!q->broken)
        return NULL;
    if (a)
        *a = q->broken_a;
    if (b)
        *b = q->broken_b;
    return q->broken_why ? q->broken_why : "broken";
}

static uint32_t vdq_chain_copy(const struct vdq_iov *iov, uint32_t n, uint32_t off, void *flat,
                               uint32_t len, bool to_chain)
{
    uint32_t i, done = 0;

    for (i = 0; i < n && done < len; i++) {
        uint32_t chunk;

        if (off >= iov[i].len) {
            off -= iov[i].len;
            continue;
        }
        chunk = iov[i].len - off;
        if (chunk > len - done)
            chunk = len - done;
        if (to_chain)
            memcpy((uint8_t *)iov[i].base + off, (const uint8_t *)flat + done, chunk);
        else
            memcpy((uint8_t *)flat + done, (const uint8_t *)iov[i].base + off, chunk);
        done += chunk;
        off = 0;
    }
    return done;
}

uint32_t vdq_chain_read(const struct vdq_chain *c, uint32_t off, void *dst, uint32_t len)
{
    return vdq_chain_copy(c->iov, c->nout, off, dst, len, false);
}

uint32_t vdq_chain_write(const struct vdq_chain *c, uint32_t off, const void *src, uint32_t len)
{
    return vdq_chain_copy(c->iov + c->nout, c->nin, off, (void *)(uintptr_t)src, len, true);
}

uint8_t *vdq_chain_in_byte(const struct vdq_chain *c, uint32_t off)
{
    uint32_t i;

    for (i = c->nout; i < c->nout + c->nin && i < c->max_iov; i++) {
        if (off < c->iov[i].len)
            return (uint8_t *)c->iov[i].base + off;
        off -= c->iov[i].len;
    }
    return NULL;
}

/* ---- giving chains back (net MRG_RXBUF; contract in vdq.h) ---- */

int vdq_unpop(struct vdq *q, const uint16_t *heads, uint16_t chains)
{
    if (q->broken)
        return -EIO;
    if (q->cfg.packed)
        return vdqp_unpop(q, heads, chains);
    if (chains > q->stats.popped)
        return -EINVAL;
    if (q->tracker) {
        if (q->tracker->resubmit_next < q->tracker->nresubmit || q->tracker->resubmitted)
            return -EBUSY; /* resubmitted chains have no avail entry */
        for (uint16_t k = 1; k <= chains; k++) {
            uint16_t head = vr_le16_to_cpu(
                virt_read_once16(&q->avail->ring[(uint16_t)(q->next_avail - k) & q->mask]));

            vdqi_unpop(q->tracker, head); /* fetched back: not in flight */
        }
    }
    /* The avail entries are still the driver's published ones (it cannot
     * reuse a chain we have not pushed), so popping again re-reads them. */
    q->next_avail = (uint16_t)(q->next_avail - chains);
    q->stats.popped -= chains;
    return 0;
}

int vdq_enable_notify_more(struct vdq *q)
{
    uint16_t seen = q->avail_idx_seen;
    int n;

    if (q->broken)
        return -EIO;
    if (q->cfg.packed)
        return vdqp_enable_notify_more(q);
    q->notify_enabled = true;
    /* 2.7.10: with EVENT_IDX the driver kicks when it passes avail_event:
     * ask for the entry after the last one seen, not after next_avail. */
    if (q->cfg.event_idx)
        virt_write_once16(q->avail_event, vr_cpu_to_le16(seen));
    else
        virt_write_once16(&q->used->flags, 0);
    /* Dirty log: avail_event or used->flags, whichever was written. */
    vdq_log_used(q, q->cfg.event_idx ? 4 + 8ull * q->cfg.num : 0, 2);
    /* Full fence, as in vdq_enable_notify() (same pairing with the
     * virt_mb() in vq_kick_prepare()). */
    virt_mb();
    n = vdq_avail_pending(q, true);
    if (n < 0)
        return n;
    return q->avail_idx_seen != seen ? -EAGAIN : 0;
}
