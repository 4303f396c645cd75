/* SPDX-License-Identifier: Apache-2.0 */
/*
 * vdq_inflight.c - inflight I/O tracking for split queues (vdq_inflight.h;
 * QEMU docs/interop/vhost-user.rst, "Inflight I/O tracking"). The steps
 * below are the spec's, in its order; each one is a single store and the
 * order between them is what makes a crash at any point recoverable:
 *
 *   fetch:   desc[i].counter = counter++; desc[i].inflight = 1
 *            (a crash before inflight = 1: the chain is not counted, so
 *            the next backend fetches its avail entry again)
 *   used:    desc[i].next = last_batch_head; last_batch_head = i;
 *            (the used element;) used->idx += batch  [vdq.c]
 *            desc[each in batch].inflight = 0; used_idx = used->idx
 *            (a crash before used->idx: still in flight, resubmitted; after
 *            it, used_idx != used->idx tells the next backend to clear the
 *            batch list itself: completed, not repeated)
 *
 * Invariants: t->used_idx and t->batch_head are private copies of what we
 * last stored in the region, so a frontend scribbling over the region
 * while we run can only spoil its own recovery; every index read back from
 * the region (the batch links) is range-checked.
 */
#include "vdq_inflight.h"

#include <errno.h>
#include <string.h>

#include "virtio_platform.h"

/* Program order of the region stores is the crash order (the reader is
 * the next backend, after we are gone): a release fence keeps the compiler
 * (and a weakly ordered CPU) from moving a later step's store before an
 * earlier one. Pairs with nothing concurrent: vdqi_recover() reads the
 * region in another process's lifetime. */
static void vdqi_order(void)
{
    virt_wmb();
}

static void vdqi_step(struct vdq_inflight *t, enum vdqi_step s, uint16_t head)
{
    if (t->step)
        t->step(t->step_ctx, s, head);
}

void vdqi_region_init(struct vdqi_region *r, uint32_t queue_size)
{
    memset(r->desc, 0, (size_t)queue_size * sizeof(r->desc[0]));
    r->features = 0;
    r->desc_num = (uint16_t)queue_size;
    r->last_batch_head = 0;
    r->used_idx = 0;
    vdqi_order(); /* the version last: a header half written reads as fresh */
    r->version = VDQI_VERSION;
}

int vdq_inflight_header_check(const uint64_t *features, const uint16_t *version,
                              const uint16_t *desc_num, uint16_t want_version,
                              uint32_t queue_size, const char **why)
{
    uint16_t v = virt_read_once16(version);

    if (v == 0)
        return 1; /* "Zero value indicates an uninitialized buffer". */
    if (v != want_version) {
        *why = "unknown region version";
        return -EINVAL;
    }
    if (virt_read_once16(desc_num) != queue_size) {
        *why = "region desc_num is not the queue size";
        return -EINVAL;
    }
    if (virt_read_once64(features) != 0) {
        *why = "region features we do not know";
        return -EINVAL;
    }
    return 0;
}

int vdqi_region_check(struct vdqi_region *r, uint32_t queue_size, const char **why)
{
    int e = vdq_inflight_header_check(&r->features, &r->version, &r->desc_num, VDQI_VERSION,
                                      queue_size, why);

    if (e == 1)
        vdqi_region_init(r, queue_size);
    return e < 0 ? e : 0;
}

void vdqi_attach(struct vdq_inflight *t, struct vdqi_region *r, uint16_t desc_num,
                 uint16_t *storage)
{
    memset(t, 0, sizeof(*t));
    t->r = r;
    t->desc_num = desc_num;
    t->resubmit = storage;
}

/* The head of desc[i], as one read of the shared byte. */
static bool vdqi_is_inflight(const struct vdqi_region *r, uint32_t i)
{
    return __atomic_load_n(&r->desc[i].inflight, __ATOMIC_RELAXED) == 1;
}

int vdqi_recover(struct vdq_inflight *t, uint16_t used_idx, uint32_t num, uint16_t *ninflight,
                 const char **why)
{
    struct vdqi_region *r = t->r;
    uint16_t batch = (uint16_t)(used_idx - virt_read_once16(&r->used_idx));
    uint16_t head = virt_read_once16(&r->last_batch_head);
    uint32_t i, k, j, n = 0;
    uint64_t max_counter = 0;

    if (num > t->desc_num) {
        *why = "ring larger than the region's desc_num";
        return -EINVAL;
    }
    /* Everything flagged in flight, into the (private) resubmit list. */
    for (i = 0; i < t->desc_num; i++)
        if (vdqi_is_inflight(r, i))
            t->resubmit[n++] = (uint16_t)i;
    if (n == 0)
        goto settled; /* fresh, or left clean: only used_idx must follow */
    /* 1. used_idx != used->idx: the last batch reached the used ring but
     * its flags may not all be cleared: those heads completed. Walk the
     * list (checked) and take them off the list. */
    if (batch > num) {
        *why = "last batch longer than the ring";
        return -EINVAL;
    }
    for (k = 0, i = head; k < batch; k++) {
        if (i >= t->desc_num) {
            *why = "last batch list index out of range";
            return -EINVAL;
        }
        for (j = 0; j < n; j++) {
            if (t->resubmit[j] == i) {
                t->resubmit[j] = t->resubmit[--n];
                break;
            }
        }
        i = virt_read_once16(&r->desc[i].next);
    }
    /* What is left is in flight: heads inside the ring, at most a ring. */
    if (n > num) {
        *why = "more heads in flight than the ring holds";
        return -EINVAL;
    }
    for (j = 0; j < n; j++) {
        if (t->resubmit[j] >= num) {
            *why = "head in flight outside the ring";
            return -EINVAL;
        }
    }
    /* Checked: now 1.b, clear the batch's flags (1.c is below). */
    for (k = 0, i = head; k < batch; k++) {
        __atomic_store_n(&r->desc[i].inflight, 0, __ATOMIC_RELAXED);
        i = virt_read_once16(&r->desc[i].next);
    }
    /* 2. Resubmit in counter order (insertion sort: n <= num, small;
     * equal counters, only from a corrupt region, keep head order). */
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
            max_counter = c + 1; /* new fetches sort after them */
    }

settled:
    vdqi_order(); /* the flags before used_idx: 1.c */
    virt_write_once16(&r->used_idx, used_idx);
    t->used_idx = used_idx;
    t->batch_head = head;
    t->nresubmit = (uint16_t)n;
    t->resubmit_next = 0;
    t->resubmitted = 0;
    t->counter = max_counter;
    *ninflight = (uint16_t)n;
    return 0;
}

void vdqi_pop(struct vdq_inflight *t, uint16_t head)
{
    struct vdqi_desc *d = &t->r->desc[head];

    virt_write_once64(&d->counter, t->counter++);
    vdqi_step(t, VDQI_STEP_POP_COUNTER, head);
    vdqi_order();
    __atomic_store_n(&d->inflight, 1, __ATOMIC_RELAXED);
    vdqi_step(t, VDQI_STEP_POP_INFLIGHT, head);
}

void vdqi_push(struct vdq_inflight *t, uint16_t head)
{
    virt_write_once16(&t->r->desc[head].next, t->batch_head);
    vdqi_step(t, VDQI_STEP_PUSH_NEXT, head);
    vdqi_order();
    virt_write_once16(&t->r->last_batch_head, head);
    t->batch_head = head;
    vdqi_step(t, VDQI_STEP_PUSH_HEAD, head);
    /* The used element and used->idx follow in vdq.c (its store-release
     * of used->idx orders these before it). */
}

void vdqi_publish(struct vdq_inflight *t, uint16_t used_idx)
{
    uint16_t n = (uint16_t)(used_idx - t->used_idx), i = t->batch_head, k;

    vdqi_step(t, VDQI_STEP_USED_IDX, used_idx);
    vdqi_order(); /* used->idx (guest memory) before the flags */
    if (n > t->desc_num)
        n = t->desc_num; /* cannot happen: at most a ring of pushes */
    for (k = 0; k < n && i < t->desc_num; k++) {
        __atomic_store_n(&t->r->desc[i].inflight, 0, __ATOMIC_RELAXED);
        vdqi_step(t, VDQI_STEP_CLEAR, i);
        i = virt_read_once16(&t->r->desc[i].next);
    }
    vdqi_order();
    virt_write_once16(&t->r->used_idx, used_idx);
    t->used_idx = used_idx;
    vdqi_step(t, VDQI_STEP_REGION_USED_IDX, used_idx);
}

bool vdqi_next_resubmit(struct vdq_inflight *t, uint16_t *head)
{
    if (t->resubmit_next >= t->nresubmit)
        return false;
    *head = t->resubmit[t->resubmit_next++];
    t->resubmitted++;
    return true;
}

void vdqi_unpop(struct vdq_inflight *t, uint16_t head)
{
    if (head < t->desc_num)
        __atomic_store_n(&t->r->desc[head].inflight, 0, __ATOMIC_RELAXED);
}
