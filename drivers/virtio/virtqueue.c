/* SPDX-License-Identifier: Apache-2.0 */
/*
 * virtqueue.c - driver side of a split virtqueue (virtio 1.2 section 2.7).
 *
 * What it does: hands scatter-gather requests to the device through the
 * descriptor table and available ring (2.7.13), decides whether the device
 * needs a kick (2.7.10), takes completed requests from the used ring
 * (2.7.14) and asks for / suppresses used-buffer notifications (2.7.7).
 *
 * Invariants:
 *  - Shared memory (struct virtq_desc/avail/used) is only ever *written* by
 *    us in the descriptor table and available ring, and only *read* by us in
 *    the used ring, each field once per use, and every value read there is
 *    checked before it is used (the device is not trusted).
 *  - Private shadows (avail_idx_shadow, last_used_idx, the free list in
 *    next[], state[]) are never re-read from shared memory.
 *  - A head descriptor is in flight iff state[head].token != NULL. Free
 *    descriptors form a list through next[], starting at free_head, num_free
 *    long. num_free + descriptors held by in-flight chains == num.
 *  - Once broken, nothing touches the rings again until vq_destroy().
 *
 * Indirect tables (2.7.5.3) are preallocated, one per possible head, so
 * adding never allocates: head h uses indir[h * indirect_max ...]. We use
 * one when it was negotiated and the request has more than one segment (it
 * then costs one ring slot instead of n, like Linux).
 *
 * A queue created with vq_config.packed is a struct virtqueue whose pk
 * points at the packed ring (virtqueue_packed.c); every public function
 * forwards to it, the split fields stay unused.
 */
#include "virtqueue.h"

#include <errno.h>
#include <string.h>

#include "virtio_platform.h"
#include "virtqueue_packed.h"
#include "vq_check.h"

#define VQ_INDIRECT_DEFAULT 16
#define VQ_INDIRECT_LIMIT 256
#define VQ_RING_ALIGN 64 /* keep avail and used on different cache lines */

/* Per head descriptor; private. */
struct vq_desc_state {
    void *token;              /* NULL: this head is not in flight */
    uint32_t in_len;          /* device-writable bytes of the chain (used len bound) */
    uint16_t ndescs;          /* ring descriptors the chain holds */
    uint16_t last;            /* its last ring descriptor */
    struct vq_bounce *bounce; /* checking mode: its writable segments' bounce */
};

struct virtqueue {
    struct vq_packed *pk; /* non-NULL: a packed queue, everything forwards */
    /* Shared with the device. */
    struct virtq_desc *desc;   /* written by driver */
    struct virtq_avail *avail; /* written by driver */
    struct virtq_used *used;   /* written by device: read and check */
    __le16 *used_event;        /* in the avail area: written by driver */
    __le16 *avail_event;       /* in the used area: written by device */

    /* Private. */
    uint32_t num;
    uint32_t num_free;
    uint32_t num_added; /* published since the last vq_kick_prepare() */
    uint16_t mask;
    uint16_t free_head;
    uint16_t avail_idx_shadow; /* our copy of avail->idx */
    uint16_t last_used_idx;    /* next used entry we will read */
    uint16_t used_idx_seen;    /* used->idx as last read (checked) */
    uint16_t avail_flags_shadow;
    uint16_t indirect_max;
    uint32_t detach_next; /* vq_detach_unused() resumes its scan here */
    bool event_idx;
    bool indirect;
    bool publish_on_kick;
    bool broken;
    bool cb_disabled;
    uint16_t *next; /* free-list links, private (never desc[].next) */
    struct vq_desc_state *state;
    struct virtq_desc *indir; /* num * indirect_max entries, or NULL */
    uint64_t indir_dma;
    void *ring_mem;
    size_t ring_bytes;
    size_t indir_bytes;
    uint64_t ring_dma;
    uint64_t avail_dma;
    uint64_t used_dma;
    void (*notify)(struct virtqueue *vq, void *priv);
    void *priv;
    const char *name;
    uint32_t index;
    struct vq_stats stats;
};

/* Checking mode (vq_set_checking); read once per add. */
static bool vq_checking;

void vq_set_checking(bool on)
{
    __atomic_store_n(&vq_checking, on, __ATOMIC_RELAXED);
}

bool vq_is_checking(void)
{
    return __atomic_load_n(&vq_checking, __ATOMIC_RELAXED);
}

static size_t align_up(size_t x, size_t a)
{
    return (x + a - 1) & ~(a - 1);
}

static void vq_set_broken(struct virtqueue *vq, const char *why, uint32_t a, uint32_t b)
{
    if (!vq->broken)
        virt_log(VIRT_LOG_ERR, "virtqueue %p broken: %s (%u, %u)", (void *)vq, why, a, b);
    vq->broken = true;
}

/* Fresh ring state: all descriptors free, indices at 0. */
static void vq_reset_rings(struct virtqueue *vq)
{
    uint32_t i;

    memset(vq->ring_mem, 0, vq->ring_bytes);
    for (i = 0; i < vq->num; i++) {
        vq->next[i] = (uint16_t)(i + 1); /* last one wraps to 0: never followed */
        vq->state[i].token = NULL;
    }
    vq->free_head = 0;
    vq->num_free = vq->num;
    vq->num_added = 0;
    vq->avail_idx_shadow = 0;
    vq->last_used_idx = 0;
    vq->used_idx_seen = 0;
    vq->avail_flags_shadow = 0;
    vq->cb_disabled = false;
}

/* The packed ring: a shell holding the callback, the ring in vq->pk. */
static int vq_create_packed(const struct vq_config *cfg, struct virtqueue **out)
{
    struct virtqueue *vq = virt_zalloc(sizeof(*vq));
    int err;

    if (!vq)
        return -ENOMEM;
    err = vqp_create(cfg, &vq->pk);
    if (err < 0) {
        virt_free(vq);
        return err;
    }
    vq->notify = cfg->notify;
    vq->priv = cfg->priv;
    vq->name = cfg->name ? cfg->name : "virtqueue";
    vq->index = cfg->index;
    *out = vq;
    return 0;
}

int vq_create(const struct vq_config *cfg, struct virtqueue **out)
{
    struct virtqueue *vq;
    size_t desc_sz, avail_off, used_off;
    int err = -ENOMEM;

    if (cfg && out && cfg->packed)
        return vq_create_packed(cfg, out);
    if (!cfg || !out || !virtq_is_valid_size(cfg->num))
        return -EINVAL;
    if (cfg->indirect_max > VQ_INDIRECT_LIMIT)
        return -EINVAL;
    vq = virt_zalloc(sizeof(*vq));
    if (!vq)
        return -ENOMEM;
    vq->num = cfg->num;
    vq->mask = (uint16_t)(cfg->num - 1);
    vq->event_idx = cfg->event_idx;
    vq->indirect = cfg->indirect;
    vq->publish_on_kick = cfg->publish_on_kick;
    vq->indirect_max = cfg->indirect_max ? cfg->indirect_max : VQ_INDIRECT_DEFAULT;
    vq->notify = cfg->notify;
    vq->priv = cfg->priv;
    vq->name = cfg->name ? cfg->name : "virtqueue";
    vq->index = cfg->index;

    /* 2.7: desc 16-aligned, avail 2, used 4; we use more to split lines. */
    desc_sz = (size_t)virtq_desc_size(vq->num);
    avail_off = align_up(desc_sz, VQ_RING_ALIGN);
    used_off = align_up(avail_off + (size_t)virtq_avail_size(vq->num), VQ_RING_ALIGN);
    vq->ring_bytes = align_up(used_off + (size_t)virtq_used_size(vq->num), VQ_RING_ALIGN);
    vq->ring_mem = virt_dma_alloc(vq->ring_bytes, &vq->ring_dma);
    if (!vq->ring_mem)
        goto err_free_vq;
    vq->desc = vq->ring_mem;
    vq->avail = (struct virtq_avail *)(void *)((uint8_t *)vq->ring_mem + avail_off);
    vq->used = (struct virtq_used *)(void *)((uint8_t *)vq->ring_mem + used_off);
    vq->avail_dma = vq->ring_dma + avail_off;
    vq->used_dma = vq->ring_dma + used_off;
    vq->used_event = virtq_used_event(vq->avail, vq->num);
    vq->avail_event = virtq_avail_event(vq->used, vq->num);

    vq->next = virt_zalloc(sizeof(*vq->next) * vq->num);
    vq->state = virt_zalloc(sizeof(*vq->state) * vq->num);
    if (!vq->next || !vq->state)
        goto err_free_ring;
    if (vq->indirect) {
        vq->indir_bytes = sizeof(struct virtq_desc) * vq->num * vq->indirect_max;
        vq->indir = virt_dma_alloc(vq->indir_bytes, &vq->indir_dma);
        if (!vq->indir)
            goto err_free_ring;
    }
    vq_reset_rings(vq);
    *out = vq;
    return 0;

err_free_ring:
    virt_free(vq->next);
    virt_free(vq->state);
    virt_dma_free(vq->ring_mem, vq->ring_bytes);
err_free_vq:
    virt_free(vq);
    return err;
}

void vq_destroy(struct virtqueue *vq)
{
    if (!vq)
        return;
    if (vq->pk) {
        vqp_destroy(vq->pk);
        virt_free(vq);
        return;
    }
    /* Chains still out (a broken queue): their buffers may be gone. */
    for (uint32_t i = 0; i < vq->num; i++) {
        if (vq->state[i].bounce)
            vqc_drop(vq->state[i].bounce);
    }
    if (vq->indir)
        virt_dma_free(vq->indir, vq->indir_bytes);
    virt_free(vq->next);
    virt_free(vq->state);
    virt_dma_free(vq->ring_mem, vq->ring_bytes);
    virt_free(vq);
}

/*
 * Write a descriptor, skipping the store when it already holds the value.
 * Drivers often reuse the same buffers (request headers, status bytes,
 * recycled receive buffers); an unchanged line stays shared with the
 * device's cache instead of moving back and forth. Only we write these
 * fields, so reading them back is reading our own earlier stores.
 */
static void desc_fill(struct virtq_desc *d, const struct vq_sg *sg, uint16_t flags, uint16_t next)
{
    __le64 addr = vr_cpu_to_le64(virt_to_dma(sg->buf));
    __le32 len = vr_cpu_to_le32(sg->len);
    /* 2.7.5: next only means something with F_NEXT; keep it stable. */
    __le16 nx = vr_cpu_to_le16((flags & VIRTQ_DESC_F_NEXT) ? next : 0);

    if (d->addr != addr)
        d->addr = addr;
    if (d->len != len)
        d->len = len;
    if (d->flags != vr_cpu_to_le16(flags))
        d->flags = vr_cpu_to_le16(flags);
    if (d->next != nx)
        d->next = nx;
}

/* Byte counts of a chain being written (checked before it is published). */
struct vq_lens {
    uint64_t out;
    uint64_t in;
};

/*
 * Write the chain into a preallocated indirect table plus the head slot.
 * Only free descriptors are written; nothing is visible to the device until
 * the head is published. Returns the next free head.
 */
static uint16_t vq_fill_indirect(struct virtqueue *vq, uint16_t head, const struct vq_sg *sgs,
                                 unsigned out_sgs, unsigned total, struct vq_lens *lens)
{
    struct virtq_desc *table = vq->indir + (size_t)head * vq->indirect_max;
    unsigned i;

    for (i = 0; i < total; i++) {
        uint16_t flags = i + 1 < total ? VIRTQ_DESC_F_NEXT : 0;

        if (i >= out_sgs) {
            flags |= VIRTQ_DESC_F_WRITE;
            lens->in += sgs[i].len;
        } else {
            lens->out += sgs[i].len;
        }
        desc_fill(&table[i], &sgs[i], flags, (uint16_t)(i + 1));
    }
    vq->desc[head].addr = vr_cpu_to_le64(vq->indir_dma + (uint64_t)head * vq->indirect_max * 16);
    vq->desc[head].len = vr_cpu_to_le32((uint32_t)(total * sizeof(struct virtq_desc)));
    vq->desc[head].flags = vr_cpu_to_le16(VIRTQ_DESC_F_INDIRECT);
    vq->desc[head].next = 0;
    return vq->next[head];
}

/* Write the chain into free ring descriptors, following the private free
 * list from head. *last gets its last descriptor; returns the next free. */
static uint16_t vq_fill_direct(struct virtqueue *vq, uint16_t head, const struct vq_sg *sgs,
                               unsigned out_sgs, unsigned total, struct vq_lens *lens,
                               uint16_t *last)
{
    uint16_t i = head;
    unsigned n;

    for (n = 0; n < total; n++) {
        uint16_t flags = n + 1 < total ? VIRTQ_DESC_F_NEXT : 0;

        if (n >= out_sgs) {
            flags |= VIRTQ_DESC_F_WRITE;
            lens->in += sgs[n].len;
        } else {
            lens->out += sgs[n].len;
        }
        desc_fill(&vq->desc[i], &sgs[n], flags, vq->next[i]);
        *last = i;
        i = vq->next[i];
    }
    return i;
}

int vq_add_sgs(struct virtqueue *vq, const struct vq_sg *sgs, unsigned out_sgs, unsigned in_sgs,
               void *token)
{
    unsigned total = out_sgs + in_sgs;
    struct vq_lens lens = {0, 0};
    struct vq_sg bounced[VQC_MAX_SGS];
    struct vq_bounce *bounce = NULL;
    bool use_indirect;
    uint16_t head, last, next_free;
    uint32_t ndescs;

    if (vq->pk)
        return vqp_add_sgs(vq->pk, sgs, out_sgs, in_sgs, token);
    if (vq->broken)
        return -EIO;
    if (!token || !sgs || total == 0 || total < out_sgs)
        return -EINVAL;
    use_indirect = vq->indirect && total > 1 && total <= vq->indirect_max;
    ndescs = use_indirect ? 1 : total;
    if (ndescs > vq->num)
        return -EINVAL; /* can never fit */
    if (ndescs > vq->num_free)
        return -ENOSPC;

    head = last = vq->free_head;
    if (vq_is_checking() && in_sgs) {
        bounce = vqc_bounce(sgs, out_sgs, in_sgs, bounced);
        if (bounce) {
            sgs = bounced;
            vq->stats.check_bounced++;
        } else {
            vq->stats.check_skipped++;
        }
    }
    if (use_indirect)
        next_free = vq_fill_indirect(vq, head, sgs, out_sgs, total, &lens);
    else
        next_free = vq_fill_direct(vq, head, sgs, out_sgs, total, &lens, &last);
    /* 2.7.8: used len is 32-bit; 2.7.5.2: a chain is at most 2^32 bytes.
     * Refusing here leaves only unpublished free descriptors written. */
    if (lens.in > UINT32_MAX || lens.out + lens.in > (1ull << 32)) {
        if (bounce)
            vqc_drop(bounce);
        return -EINVAL;
    }
    vq->state[head].bounce = bounce;
    vq->free_head = next_free;
    vq->num_free -= ndescs;
    vq->detach_next = 0; /* a detach scan must look at every head again */
    vq->state[head].token = token;
    vq->state[head].in_len = (uint32_t)lens.in;
    vq->state[head].ndescs = (uint16_t)ndescs;
    vq->state[head].last = last;

    /* 2.7.13.2: put the head in the next ring entry, then bump idx. */
    {
        __le16 *slot = &vq->avail->ring[vq->avail_idx_shadow & vq->mask];

        /* Unchanged since the last lap: leave the line alone (see desc_fill). */
        if (virt_read_once16(slot) != vr_cpu_to_le16(head))
            virt_write_once16(slot, vr_cpu_to_le16(head));
    }
    vq->avail_idx_shadow++;
    /* 2.7.13.3: descriptors and ring entry must be visible before the new
     * idx: store-release; pairs with the load-acquire of avail->idx in
     * vdq_pop() (device side). */
    if (!vq->publish_on_kick)
        virt_store_release16(&vq->avail->idx, vr_cpu_to_le16(vq->avail_idx_shadow));
    vq->num_added++;
    vq->stats.adds++;
    if (use_indirect)
        vq->stats.indirect_adds++;
    return 0;
}

bool vq_kick_prepare(struct virtqueue *vq)
{
    uint16_t new_idx, old_idx;
    bool needs;

    if (vq->pk)
        return vqp_kick_prepare(vq->pk);
    if (vq->broken || vq->num_added == 0)
        return false;
    /* publish_on_kick: the burst becomes visible now (same release as in
     * vq_add_sgs(), same pairing). */
    if (vq->publish_on_kick)
        virt_store_release16(&vq->avail->idx, vr_cpu_to_le16(vq->avail_idx_shadow));
    /* 2.7.13.4: full fence. Our avail->idx store (vq_add_sgs) must be
     * visible before we read avail_event / used->flags, otherwise the device
     * may re-enable notifications, re-check a stale avail->idx and sleep
     * while we read its old event index and skip the kick. Store->load, so
     * only a full barrier does it. Pairs with the virt_mb() in
     * vdq_enable_notify() (device publishes avail_event/flags, then re-reads
     * avail->idx). */
    virt_mb();
    new_idx = vq->avail_idx_shadow;
    old_idx = (uint16_t)(new_idx - vq->num_added);
    if (vq->num_added > 0xffff) {
        needs = true; /* window wider than the index space: always kick */
    } else if (vq->event_idx) {
        /* 2.7.10: avail_event is written by the device; any value is safe. */
        uint16_t event = vr_le16_to_cpu(virt_read_once16(vq->avail_event));
        needs = vring_need_event(event, new_idx, old_idx);
    } else {
        needs = !(vr_le16_to_cpu(virt_read_once16(&vq->used->flags)) & VIRTQ_USED_F_NO_NOTIFY);
    }
    vq->num_added = 0;
    if (needs)
        vq->stats.kicks++;
    else
        vq->stats.kicks_saved++;
    return needs;
}

int vq_notify(struct virtqueue *vq)
{
    if (vq_is_broken(vq))
        return -EIO;
    if (vq->notify)
        vq->notify(vq, vq->priv);
    return 0;
}

int vq_kick(struct virtqueue *vq)
{
    if (vq_kick_prepare(vq))
        return vq_notify(vq);
    return vq_is_broken(vq) ? -EIO : 0;
}

/*
 * Number of used entries waiting. Entries up to the used->idx we saw last
 * time are known without touching the shared line again; only when they are
 * used up (or `fresh` is asked for, after a fence) is used->idx re-read.
 * -EIO (broken) when it moved more than num.
 */
static int vq_used_pending(struct virtqueue *vq, uint16_t *pending, bool fresh)
{
    uint16_t used_idx, n;

    if (!fresh && vq->used_idx_seen != vq->last_used_idx) {
        *pending = (uint16_t)(vq->used_idx_seen - vq->last_used_idx);
        return 0;
    }
    /* Load-acquire: the used elements we read next are at least as new as
     * this idx; pairs with the store-release of used->idx in vdq_push(). */
    used_idx = vr_le16_to_cpu(virt_load_acquire16(&vq->used->idx));
    n = (uint16_t)(used_idx - vq->last_used_idx);
    if (n > vq->num) {
        vq_set_broken(vq, "used idx moved more than the queue size", used_idx, vq->last_used_idx);
        return -EIO;
    }
    vq->used_idx_seen = used_idx;
    *pending = n;
    return 0;
}

static void vq_free_chain(struct virtqueue *vq, uint16_t head)
{
    struct vq_desc_state *st = &vq->state[head];

    st->token = NULL;
    vq->next[st->last] = vq->free_head;
    vq->free_head = head;
    vq->num_free += st->ndescs;
}

/* Log the first few incidents of a queue, then one in 256. */
static bool vq_check_should_log(uint64_t n)
{
    return n <= 4 || (n & 255) == 0;
}

/* Checking mode: what the device did to the bounce of head (vq_check.h).
 * The request still completes: the bounce took the damage. */
static void vq_check_used(struct virtqueue *vq, uint16_t head, uint32_t ulen)
{
    struct vqc_report r;

    vqc_complete(vq->state[head].bounce, ulen, &r);
    vq->state[head].bounce = NULL;
    if (r.guard_bytes && vq_check_should_log(++vq->stats.check_overruns))
        virt_log(VIRT_LOG_ERR,
                 "%s q%u: device wrote past the writable buffer: head %u, segment %u, "
                 "%u guard bytes changed (used len %u of %u)",
                 vq->name, vq->index, head, r.guard_seg, r.guard_bytes, ulen,
                 vq->state[head].in_len);
    if (r.past_len && vq_check_should_log(++vq->stats.check_past_len))
        virt_log(VIRT_LOG_WARN,
                 "%s q%u: device wrote more than the used length: head %u, used len %u, "
                 "%u bytes changed from offset %u",
                 vq->name, vq->index, head, ulen, r.past_len, r.past_len_off);
}

int vq_get_buf(struct virtqueue *vq, void **token, uint32_t *len)
{
    struct virtq_used_elem *e;
    uint16_t pending;
    uint32_t id, ulen;

    if (vq->pk)
        return vqp_get_buf(vq->pk, token, len);
    if (vq->broken)
        return -EIO;
    if (vq_used_pending(vq, &pending, false) < 0)
        return -EIO;
    if (pending == 0)
        return -EAGAIN;
    /* 2.7.8: read the element once, then check it. */
    e = &vq->used->ring[vq->last_used_idx & vq->mask];
    id = vr_le32_to_cpu(virt_read_once32(&e->id));
    ulen = vr_le32_to_cpu(virt_read_once32(&e->len));
    if (id >= vq->num) {
        vq_set_broken(vq, "used id out of range", id, vq->num);
        return -EIO;
    }
    if (!vq->state[id].token) {
        vq_set_broken(vq, "used id not in flight", id, vq->last_used_idx);
        return -EIO;
    }
    if (ulen > vq->state[id].in_len) {
        vq_set_broken(vq, "used len larger than the writable buffer", ulen, vq->state[id].in_len);
        return -EIO;
    }
    if (vq->state[id].bounce)
        vq_check_used(vq, (uint16_t)id, ulen);
    *token = vq->state[id].token;
    *len = ulen;
    vq_free_chain(vq, (uint16_t)id);
    vq->last_used_idx++;
    vq->stats.used++;
    if (vq->event_idx && !vq->cb_disabled) {
        /* 2.7.7: callbacks are on, so ask for an interrupt at the next
         * entry. The full fence orders this store before the used->idx load
         * of the next vq_get_buf()/vq_has_used(), so a buffer the device
         * uses meanwhile either is seen there or gets an interrupt; pairs
         * with the virt_mb() in vdq_interrupt_prepare(). */
        virt_write_once16(vq->used_event, vr_cpu_to_le16(vq->last_used_idx));
        virt_mb();
    }
    return 0;
}

bool vq_has_used(struct virtqueue *vq)
{
    uint16_t pending;

    if (vq->pk)
        return vqp_has_used(vq->pk);
    if (vq->broken || vq_used_pending(vq, &pending, false) < 0)
        return false;
    return pending != 0;
}

uint16_t vq_peek_used_idx(const struct virtqueue *vq)
{
    if (vq->pk)
        return vqp_peek_used_idx(vq->pk);
    /* Written by device; pairs with the store-release in vdq_push(). */
    return vr_le16_to_cpu(virt_load_acquire16(&vq->used->idx));
}

void vq_disable_cb(struct virtqueue *vq)
{
    if (vq->pk) {
        vqp_disable_cb(vq->pk);
        return;
    }
    if (vq->broken || vq->cb_disabled)
        return;
    vq->cb_disabled = true;
    if (vq->event_idx) {
        /* 2.7.7.1: with EVENT_IDX the flags stay 0; move used_event half the
         * index space away. At worst one spurious interrupt after 32768
         * completions, which is harmless. */
        virt_write_once16(vq->used_event, vr_cpu_to_le16((uint16_t)(vq->last_used_idx + 0x8000)));
    } else {
        vq->avail_flags_shadow |= VIRTQ_AVAIL_F_NO_INTERRUPT;
        virt_write_once16(&vq->avail->flags, vr_cpu_to_le16(vq->avail_flags_shadow));
    }
}

int vq_enable_cb(struct virtqueue *vq)
{
    uint16_t pending;

    if (vq->pk)
        return vqp_enable_cb(vq->pk);
    if (vq->broken)
        return -EIO;
    vq->cb_disabled = false;
    if (vq->event_idx) {
        /* 2.7.7: interrupt me when the device uses entry last_used_idx. */
        virt_write_once16(vq->used_event, vr_cpu_to_le16(vq->last_used_idx));
    } else {
        vq->avail_flags_shadow &= (uint16_t)~VIRTQ_AVAIL_F_NO_INTERRUPT;
        virt_write_once16(&vq->avail->flags, vr_cpu_to_le16(vq->avail_flags_shadow));
    }
    /* Full fence: the used_event/flags store must be visible before we
     * re-read used->idx (store->load). Otherwise the device could publish a
     * used entry, read our old used_event/flags and skip the interrupt while
     * we read the old used->idx: a lost wakeup. Pairs with the virt_mb() in
     * vdq_interrupt_prepare(). */
    virt_mb();
    if (vq_used_pending(vq, &pending, true) < 0)
        return -EIO;
    return pending ? -EAGAIN : 0;
}

int vq_enable_cb_delayed(struct virtqueue *vq)
{
    uint16_t pending, bufs;

    if (vq->pk)
        return vqp_enable_cb_delayed(vq->pk);
    if (vq->broken)
        return -EIO;
    if (!vq->event_idx)
        return vq_enable_cb(vq);
    vq->cb_disabled = false;
    bufs = (uint16_t)((uint16_t)(vq->avail_idx_shadow - vq->last_used_idx) * 3 / 4);
    /* 2.7.7: interrupt me when the device uses entry last_used_idx + bufs. */
    virt_write_once16(vq->used_event, vr_cpu_to_le16((uint16_t)(vq->last_used_idx + bufs)));
    /* Full fence, as in vq_enable_cb(): used_event store before the
     * used->idx load; pairs with the virt_mb() in vdq_interrupt_prepare(). */
    virt_mb();
    if (vq_used_pending(vq, &pending, true) < 0)
        return -EIO;
    return pending > bufs ? -EAGAIN : 0;
}

void *vq_detach_unused(struct virtqueue *vq)
{
    if (vq->pk)
        return vqp_detach_unused(vq->pk);
    /* Heads below detach_next were found free already: one pass in all. */
    for (; vq->detach_next < vq->num; vq->detach_next++) {
        void *token = vq->state[vq->detach_next].token;

        if (token) {
            struct vq_desc_state *st = &vq->state[vq->detach_next];

            if (st->bounce)
                vqc_discard(st->bounce);
            st->bounce = NULL;
            vq_free_chain(vq, (uint16_t)vq->detach_next);
            return token;
        }
    }
    /* Nothing left in flight: the device was reset, start the rings anew. */
    vq->detach_next = 0;
    if (!vq->broken)
        vq_reset_rings(vq);
    return NULL;
}

bool vq_is_broken(const struct virtqueue *vq)
{
    return vq->pk ? vqp_is_broken(vq->pk) : vq->broken;
}

unsigned vq_num_free(const struct virtqueue *vq)
{
    return vq->pk ? vqp_num_free(vq->pk) : vq->num_free;
}

uint32_t vq_get_size(const struct virtqueue *vq)
{
    return vq->pk ? vqp_get_size(vq->pk) : vq->num;
}

void vq_get_ring_addrs(const struct virtqueue *vq, uint64_t *desc, uint64_t *avail, uint64_t *used)
{
    if (vq->pk) {
        vqp_get_ring_addrs(vq->pk, desc, avail, used);
        return;
    }
    *desc = vq->ring_dma;
    *avail = vq->avail_dma;
    *used = vq->used_dma;
}

const struct vq_stats *vq_get_stats(const struct virtqueue *vq)
{
    return vq->pk ? vqp_get_stats(vq->pk) : &vq->stats;
}
