/* SPDX-License-Identifier: Apache-2.0 */
/*
 * vdq_inflight_packed.c - inflight I/O tracking for packed queues
 * (vdq_inflight_packed.h; QEMU docs/interop/vhost-user.rst, "Inflight I/O
 * tracking", the packed virtqueue part). The steps are the spec's, in its
 * order; each is one store and their order is what makes a crash at any
 * point recoverable:
 *
 *   fetch d:  head: desc[old_free_head].num = 0, .counter = counter++,
 *                   .inflight = 1
 *             last: desc[old_free_head].last = free_head
 *             desc[old_free_head].num++; desc[free_head] = copy of d;
 *             free_head = desc[free_head].next
 *             last: old_free_head = free_head        (the chain committed)
 *   used e:   desc[e.last].next = free_head; free_head = e;
 *             used_idx (+ wrap) moves on by e's descriptors;
 *             the used descriptor's flags [the caller, guest memory];
 *             each head of the batch: inflight = 0;
 *             old_free_head, old_used_idx, old_used_wrap_counter = current
 *
 * A crash before "old = current" leaves old_* at the last settled state:
 * the next backend rolls back to it, unless the flags at old_used_idx show
 * the batch reached the driver (then it rolls forward). A chain not yet
 * committed has its head at old_free_head, which after the roll back is
 * the first free entry: its flag is cleared, and its descriptors, still
 * available in the ring, are fetched again.
 *
 * The caller settles a batch before the next fetch (the spec's fetch
 * writes the head at old_free_head and the copies at free_head: they are
 * the same entry only with no batch open).
 *
 * Invariants: every index we follow while running comes from our private
 * copies (next[], last[], head_of_id[]), never from the region, which the
 * frontend could change under us; recovery checks everything it reads
 * before it writes anything.
 */
#include "vdq_inflight_packed.h"
#include "vdq_inflight.h"

#include <errno.h>
#include <string.h>

#include "virtio_platform.h"

/* Program order of the region stores is the crash order; pairs with
 * nothing concurrent (vdqip_recover runs in the next backend's lifetime). */
static void vdqip_order(void)
{
    virt_wmb();
}

static void vdqip_step(struct vdq_inflight_packed *t, enum vdqip_step s, uint16_t i)
{
    if (t->step)
        t->step(t->step_ctx, s, i);
}

void vdqip_region_init(struct vdqip_region *r, uint32_t queue_size)
{
    uint32_t i;

    memset(r->desc, 0, (size_t)queue_size * sizeof(r->desc[0]));
    for (i = 0; i < queue_size; i++)
        r->desc[i].next = (uint16_t)(i + 1); /* queue_size: the end of the list */
    r->features = 0;
    r->desc_num = (uint16_t)queue_size;
    r->free_head = r->old_free_head = 0;
    r->used_idx = r->old_used_idx = 0;
    r->used_wrap_counter = r->old_used_wrap_counter = 1; /* 2.8.1: starts at 1 */
    vdqip_order(); /* the version last: a header half written reads as fresh */
    r->version = VDQIP_VERSION;
}

int vdqip_region_check(struct vdqip_region *r, uint32_t queue_size, const char **why)
{
    int e = vdq_inflight_header_check(&r->features, &r->version, &r->desc_num, VDQIP_VERSION,
                                      queue_size, why);

    if (e == 1)
        vdqip_region_init(r, queue_size);
    return e < 0 ? e : 0;
}

void vdqip_attach(struct vdq_inflight_packed *t, struct vdqip_region *r, uint16_t desc_num,
                  uint16_t *storage)
{
    uint16_t i;

    memset(t, 0, sizeof(*t));
    t->r = r;
    t->desc_num = desc_num;
    t->ring_num = desc_num;
    t->batch = storage;
    t->resubmit = storage + desc_num;
    t->head_of_id = storage + 2 * desc_num;
    t->next = storage + 3 * desc_num;
    t->last = storage + 4 * desc_num;
    for (i = 0; i < desc_num; i++) {
        t->next[i] = (uint16_t)(i + 1);
        t->head_of_id[i] = desc_num;
    }
    t->used_wrap = t->old_used_wrap = true;
}

/* ---- while running ---- */

void vdqip_pop(struct vdq_inflight_packed *t, const struct pvirtq_desc *d, bool is_head,
               bool is_last)
{
    struct vdqip_region *r = t->r;
    uint16_t h = t->old_free_head, f = t->free_head;
    struct vdqip_desc *e;

    if (h >= t->desc_num || f >= t->desc_num)
        return; /* no free entry: more in flight than a ring, vdq refuses that first */
    if (is_head) {
        t->cur_num = 0;
        virt_write_once16(&r->desc[h].num, 0);
        virt_write_once64(&r->desc[h].counter, t->counter++);
        vdqip_order();
        __atomic_store_n(&r->desc[h].inflight, 1, __ATOMIC_RELAXED);
        vdqip_step(t, VDQIP_STEP_POP_HEAD, h);
    }
    if (is_last) {
        virt_write_once16(&r->desc[h].last, f);
        t->last[h] = f;
    }
    virt_write_once16(&r->desc[h].num, ++t->cur_num);
    e = &r->desc[f];
    virt_write_once64(&e->addr, vr_le64_to_cpu(d->addr));
    virt_write_once32(&e->len, vr_le32_to_cpu(d->len));
    virt_write_once16(&e->flags, vr_le16_to_cpu(d->flags));
    virt_write_once16(&e->id, vr_le16_to_cpu(d->id));
    vdqip_order(); /* the copy before the entry leaves the free list */
    t->free_head = t->next[f];
    virt_write_once16(&r->free_head, t->free_head);
    vdqip_step(t, VDQIP_STEP_POP_COPY, f);
    if (is_last) {
        uint16_t id = vr_le16_to_cpu(d->id);

        vdqip_order(); /* the whole chain before it counts as fetched */
        t->old_free_head = t->free_head;
        virt_write_once16(&r->old_free_head, t->old_free_head);
        if (id < t->desc_num)
            t->head_of_id[id] = h;
        vdqip_step(t, VDQIP_STEP_POP_LAST, h);
    }
}

int vdqip_push(struct vdq_inflight_packed *t, uint16_t id, uint16_t ndesc)
{
    struct vdqip_region *r = t->r;
    uint16_t e, l;
    uint32_t off;

    if (id >= t->desc_num || (e = t->head_of_id[id]) >= t->desc_num || t->nbatch >= t->desc_num)
        return -EINVAL; /* not a chain we tracked */
    l = t->last[e];
    virt_write_once16(&r->desc[l].next, t->free_head);
    t->next[l] = t->free_head;
    vdqip_step(t, VDQIP_STEP_PUSH_LINK, l);
    vdqip_order();
    t->free_head = e;
    virt_write_once16(&r->free_head, e);
    t->head_of_id[id] = t->desc_num;
    t->batch[t->nbatch++] = e;
    vdqip_step(t, VDQIP_STEP_PUSH_FREE, e);
    off = (uint32_t)t->used_idx + ndesc;
    if (off >= t->ring_num) {
        off -= t->ring_num;
        t->used_wrap = !t->used_wrap;
    }
    t->used_idx = (uint16_t)off;
    vdqip_order(); /* the free list before the used position */
    virt_write_once16(&r->used_idx, t->used_idx);
    __atomic_store_n(&r->used_wrap_counter, t->used_wrap ? 1 : 0, __ATOMIC_RELAXED);
    vdqip_step(t, VDQIP_STEP_PUSH_USED_IDX, t->used_idx);
    /* "Update d.flags" follows: the caller's store in guest memory. */
    return 0;
}

void vdqip_flags_written(struct vdq_inflight_packed *t)
{
    vdqip_step(t, VDQIP_STEP_FLAGS, t->old_used_idx);
}

void vdqip_settle(struct vdq_inflight_packed *t)
{
    struct vdqip_region *r = t->r;
    uint16_t k;

    if (!t->nbatch)
        return;
    vdqip_order(); /* the used flags (guest memory) before the entries */
    for (k = 0; k < t->nbatch; k++) {
        __atomic_store_n(&r->desc[t->batch[k]].inflight, 0, __ATOMIC_RELAXED);
        vdqip_step(t, VDQIP_STEP_CLEAR, t->batch[k]);
    }
    vdqip_order();
    t->old_free_head = t->free_head;
    t->old_used_idx = t->used_idx;
    t->old_used_wrap = t->used_wrap;
    virt_write_once16(&r->old_free_head, t->old_free_head);
    virt_write_once16(&r->old_used_idx, t->old_used_idx);
    __atomic_store_n(&r->old_used_wrap_counter, t->old_used_wrap ? 1 : 0, __ATOMIC_RELAXED);
    t->nbatch = 0;
    vdqip_step(t, VDQIP_STEP_OLD, t->old_used_idx);
}

/* Order: link, free_head, old_free_head (from here a crash sees the chain
 * free: its flag is cleared by the recovery), then the flag itself. Before
 * old_free_head a crash rolls back to the chain in flight, and the avail
 * position then lies past it: resubmitted from the copies, consistent. */
void vdqip_unpop(struct vdq_inflight_packed *t, uint16_t id)
{
    struct vdqip_region *r = t->r;
    uint16_t e, l;

    if (id >= t->desc_num || (e = t->head_of_id[id]) >= t->desc_num)
        return;
    l = t->last[e];
    virt_write_once16(&r->desc[l].next, t->free_head);
    t->next[l] = t->free_head;
    vdqip_order();
    t->free_head = t->old_free_head = e;
    virt_write_once16(&r->free_head, e);
    vdqip_order();
    virt_write_once16(&r->old_free_head, e);
    vdqip_order();
    __atomic_store_n(&r->desc[e].inflight, 0, __ATOMIC_RELAXED);
    t->head_of_id[id] = t->desc_num;
}

bool vdqip_next_resubmit(struct vdq_inflight_packed *t, uint16_t *head)
{
    if (t->resubmit_next >= t->nresubmit)
        return false;
    *head = t->resubmit[t->resubmit_next++];
    t->resubmitted++;
    return true;
}

int vdqip_chain_desc(const struct vdq_inflight_packed *t, uint16_t head, uint16_t k,
                     struct pvirtq_desc *out)
{
    const struct vdqip_desc *e;
    uint16_t i = head, j;

    for (j = 0; j < k && i < t->desc_num; j++)
        i = t->next[i];
    if (i >= t->desc_num)
        return -EINVAL;
    e = &t->r->desc[i];
    out->addr = vr_cpu_to_le64(virt_read_once64(&e->addr));
    out->len = vr_cpu_to_le32(virt_read_once32(&e->len));
    out->id = vr_cpu_to_le16(virt_read_once16(&e->id));
    out->flags = vr_cpu_to_le16(virt_read_once16(&e->flags));
    return 0;
}

/* ---- when reconnecting ---- */

#define VDQIP_FREE 0xffffu /* mark in the scratch array: on the free list */

/* Walk the free list from fh (checked): marks[i] = VDQIP_FREE, private
 * next[] filled; how many entries, or -1. */
static int vdqip_walk_free(struct vdq_inflight_packed *t, uint16_t fh, uint16_t *marks)
{
    const struct vdqip_region *r = t->r;
    uint32_t n = 0;
    uint16_t i = fh;

    while (i != t->desc_num) {
        if (i > t->desc_num || marks[i] == VDQIP_FREE || ++n > t->desc_num)
            return -1; /* out of range, or a loop */
        marks[i] = VDQIP_FREE;
        t->next[i] = virt_read_once16(&r->desc[i].next);
        i = t->next[i];
    }
    return (int)n;
}

/* A head's chain (checked): its entries marked with the head's index + 1
 * (never VDQIP_FREE: desc_num < 0xffff), next[] and last[] filled; its
 * descriptor count, or 0. */
static uint16_t vdqip_walk_chain(struct vdq_inflight_packed *t, uint16_t h, uint32_t num,
                                 uint16_t *marks)
{
    const struct vdqip_region *r = t->r;
    uint16_t n = virt_read_once16(&r->desc[h].num), i = h, k;

    if (n == 0 || n > num)
        return 0;
    for (k = 0;; k++) {
        if (i >= t->desc_num || (marks[i] && (k || marks[i] != h + 1u)))
            return 0; /* out of range, on the free list, or in another chain */
        marks[i] = (uint16_t)(h + 1);
        if (k + 1u == n)
            break;
        t->next[i] = virt_read_once16(&r->desc[i].next);
        i = t->next[i];
    }
    if (virt_read_once16(&r->desc[h].last) != i)
        return 0;
    t->last[h] = i;
    return n;
}

int vdqip_recover(struct vdq_inflight_packed *t, const struct pvirtq_desc *ring, uint32_t num,
                  uint16_t *used_idx, bool *used_wrap, uint16_t *avail_idx, bool *avail_wrap,
                  uint16_t *ninflight, const char **why)
{
    struct vdqip_region *r = t->r;
    uint16_t fh = virt_read_once16(&r->free_head), ofh = virt_read_once16(&r->old_free_head);
    uint16_t ui = virt_read_once16(&r->used_idx), oui = virt_read_once16(&r->old_used_idx);
    bool uw = __atomic_load_n(&r->used_wrap_counter, __ATOMIC_RELAXED) & 1;
    bool ouw = __atomic_load_n(&r->old_used_wrap_counter, __ATOMIC_RELAXED) & 1;
    uint16_t *marks = t->batch, n = 0, i, k;
    uint32_t total = 0, off;
    uint64_t max_counter = 0;
    bool forward = false;
    int nfree;

    if (num == 0 || num > t->desc_num) {
        *why = "ring larger than the region's desc_num";
        return -EINVAL;
    }
    if (fh > t->desc_num || ofh > t->desc_num || ui >= num || oui >= num) {
        *why = "free head or used index out of range";
        return -EINVAL;
    }
    /* 1. An unsettled batch: did its used flags reach the ring? The first
     * element of the batch is at old_used_idx; still available there with
     * the old wrap counter means not (its flags are written last). */
    if (ui != oui || uw != ouw) {
        uint16_t fl = vr_le16_to_cpu(virt_read_once16(&ring[oui].flags)) &
                      (VIRTQ_DESC_F_AVAIL | VIRTQ_DESC_F_USED);

        forward = fl != pvirtq_avail_flags(ouw);
    }
    /* 2. Roll back (or forward) to one settled state. */
    if (forward) {
        ofh = fh;
        oui = ui;
        ouw = uw;
    }
    /* 3./4. Check the free list and every chain still in flight. */
    memset(marks, 0, (size_t)t->desc_num * sizeof(*marks));
    for (i = 0; i < t->desc_num; i++)
        t->head_of_id[i] = t->desc_num;
    nfree = vdqip_walk_free(t, ofh, marks);
    if (nfree < 0) {
        *why = "free list index out of range or looping";
        return -EINVAL;
    }
    for (i = 0; i < t->desc_num; i++) {
        uint16_t c, id;

        if (marks[i] == VDQIP_FREE || __atomic_load_n(&r->desc[i].inflight, __ATOMIC_RELAXED) != 1)
            continue;
        c = vdqip_walk_chain(t, i, num, marks);
        if (!c) {
            *why = "chain in flight whose entries do not add up";
            return -EINVAL;
        }
        id = virt_read_once16(&r->desc[t->last[i]].id);
        if (id >= num || t->head_of_id[id] != t->desc_num) {
            *why = "buffer id in flight out of range or twice";
            return -EINVAL;
        }
        t->head_of_id[id] = i;
        t->resubmit[n++] = i;
        total += c;
    }
    if (total > num) {
        *why = "more descriptors in flight than the ring holds";
        return -EINVAL;
    }
    if ((uint32_t)nfree + total != t->desc_num) {
        *why = "entries neither free nor in flight";
        return -EINVAL;
    }
    /* Checked: now the writes. The free list's flags (a rolled-back or
     * settled batch's heads, a chain not committed) go to 0. */
    for (i = ofh; i != t->desc_num; i = t->next[i])
        __atomic_store_n(&r->desc[i].inflight, 0, __ATOMIC_RELAXED);
    vdqip_order();
    virt_write_once16(&r->free_head, ofh);
    virt_write_once16(&r->old_free_head, ofh);
    virt_write_once16(&r->used_idx, oui);
    virt_write_once16(&r->old_used_idx, oui);
    __atomic_store_n(&r->used_wrap_counter, ouw ? 1 : 0, __ATOMIC_RELAXED);
    __atomic_store_n(&r->old_used_wrap_counter, ouw ? 1 : 0, __ATOMIC_RELAXED);
    /* 5. Resubmit in counter order (insertion sort, n <= num). */
    for (i = 1; i < n; i++) {
        uint16_t h = t->resubmit[i];
        uint64_t c = virt_read_once64(&r->desc[h].counter);

        for (k = i; k > 0 && virt_read_once64(&r->desc[t->resubmit[k - 1]].counter) > c; k--)
            t->resubmit[k] = t->resubmit[k - 1];
        t->resubmit[k] = h;
    }
    for (i = 0; i < n; i++) {
        uint64_t c = virt_read_once64(&r->desc[t->resubmit[i]].counter);

        if (c >= max_counter)
            max_counter = c + 1;
    }
    t->ring_num = (uint16_t)num;
    t->free_head = t->old_free_head = ofh;
    t->used_idx = t->old_used_idx = oui;
    t->used_wrap = t->old_used_wrap = ouw;
    t->nbatch = 0;
    t->nresubmit = n;
    t->resubmit_next = 0;
    t->resubmitted = 0;
    t->counter = max_counter;
    *used_idx = oui;
    *used_wrap = ouw;
    off = oui + total;
    *avail_wrap = ouw;
    if (off >= num) {
        off -= num;
        *avail_wrap = !ouw;
    }
    *avail_idx = (uint16_t)off;
    *ninflight = n;
    return 0;
}
