/* SPDX-License-Identifier: Apache-2.0 */
/*
 * test_vring.c - suite "vring": the portable split-ring core inside the
 * image. The driver side (virtqueue.c) and the device side (vdq.c) run on
 * one CPU in a loop, with no transport: a "kick" or "interrupt" is just the
 * other side's turn. Requests have pseudo-random scatter-gather shapes; the
 * device checks the readable bytes and fills the writable ones, the driver
 * checks the length and the bytes. Cases: plain, EVENT_IDX (including the
 * 16-bit index wrap), indirect, several ring sizes, a malformed chain (bad
 * chain returned with len 0, queue continues) and a corrupt ring (broken).
 *
 * Guest memory for the device is the kernel's identity map: guest-physical
 * == virtual, every page but page 0.
 */
#include <errno.h>
#include <stdint.h>
#include <string.h>

#include "kernel.h"
#include "kernel/tests/ktest.h"
#include "vdq.h"
#include "virtio_platform.h"
#include "virtqueue.h"

#define VR_MAX_SEGS 8
#define VR_SEG 256
#define VR_SLOTS 64

static const struct vdq_mem_region vr_ram = {
    .gpa = PAGE_SIZE, .size = (64ULL << 30) - PAGE_SIZE, .hva = (void *)(uintptr_t)PAGE_SIZE};
static const struct vdq_mem vr_mem = {.regions = &vr_ram, .nregions = 1};

struct vr_slot {
    uint8_t *buf; /* VR_MAX_SEGS * VR_SEG bytes of DMA memory */
    struct vq_sg sg[VR_MAX_SEGS];
    uint32_t seq;
    uint8_t nout, nin;
    uint8_t busy;
    uint8_t pad;
};

struct vr_loop {
    struct virtqueue *vq;
    struct vdq q;
    struct vdq_iov iov[VR_MAX_SEGS];
    struct vr_slot slots[VR_SLOTS];
    uint8_t *arena;
    uint64_t arena_dma;
    uint32_t rng;
    uint32_t kicks, interrupts, completed;
};

static uint32_t vr_rand(struct vr_loop *l)
{
    l->rng = l->rng * 1103515245u + 12345u;
    return l->rng >> 8;
}

static uint8_t vr_pat(uint32_t seq, uint32_t off, uint8_t salt)
{
    return (uint8_t)(seq * 13u + off * 7u + salt);
}

static int vr_setup(struct vr_loop *l, uint32_t num, bool event_idx, bool indirect, bool burst)
{
    struct vq_config cfg = {.num = num,
                            .event_idx = event_idx,
                            .indirect = indirect,
                            .indirect_max = VR_MAX_SEGS,
                            .publish_on_kick = burst};
    struct vdq_config dcfg = {
        .num = num, .event_idx = event_idx, .indirect = indirect, .publish_on_interrupt = burst};
    int err, i;

    memset(l, 0, sizeof(*l));
    l->rng = num * 7919u + (event_idx ? 1 : 0) + (indirect ? 2 : 0);
    err = vq_create(&cfg, &l->vq);
    if (err)
        return err;
    vq_get_ring_addrs(l->vq, &dcfg.desc_gpa, &dcfg.avail_gpa, &dcfg.used_gpa);
    err = vdq_init(&l->q, &vr_mem, &dcfg);
    if (err)
        goto err_vq;
    l->arena = virt_dma_alloc(VR_SLOTS * VR_MAX_SEGS * VR_SEG, &l->arena_dma);
    if (!l->arena) {
        err = -1;
        goto err_vq;
    }
    for (i = 0; i < VR_SLOTS; i++)
        l->slots[i].buf = l->arena + i * VR_MAX_SEGS * VR_SEG;
    return 0;

err_vq:
    vq_destroy(l->vq);
    return err;
}

static void vr_teardown(struct vr_loop *l)
{
    vq_destroy(l->vq);
    virt_dma_free(l->arena, VR_SLOTS * VR_MAX_SEGS * VR_SEG);
}

/* Device turn: pop everything, check, fill, push; report "interrupt". */
static int vr_device(struct vr_loop *l)
{
    struct vdq_chain c = {.iov = l->iov, .max_iov = VR_MAX_SEGS};
    int rc;

    while ((rc = vdq_pop(&l->q, &c)) == 0) {
        uint32_t seq, i, j, off = 0;

        if (vdq_chain_read(&c, 0, &seq, sizeof(seq)) != sizeof(seq))
            return -1;
        for (i = 0; i < c.nout; i++)
            for (j = 0; j < l->iov[i].len; j++, off++)
                if (off >= 4 && ((uint8_t *)l->iov[i].base)[j] != vr_pat(seq, off, 1))
                    return -2;
        off = 0;
        for (i = c.nout; i < c.nout + c.nin; i++)
            for (j = 0; j < l->iov[i].len; j++, off++)
                ((uint8_t *)l->iov[i].base)[j] = vr_pat(seq, off, 2);
        if (vdq_push(&l->q, c.head, c.in_len))
            return -3;
    }
    if (rc != -EAGAIN)
        return -4;
    if (vdq_interrupt_prepare(&l->q))
        l->interrupts++;
    return 0;
}

/* Driver: add one request into a free slot; -ENOSPC when full. */
static int vr_add(struct vr_loop *l, uint32_t seq)
{
    struct vr_slot *s = NULL;
    uint32_t i, j, off = 0, max = vq_get_size(l->vq);
    int err;

    for (i = 0; i < VR_SLOTS; i++)
        if (!l->slots[i].busy) {
            s = &l->slots[i];
            break;
        }
    if (!s)
        return -ENOSPC;
    if (max > VR_MAX_SEGS)
        max = VR_MAX_SEGS;
    s->nout = (uint8_t)(1 + vr_rand(l) % (max > 4 ? 4 : max));
    s->nin = (uint8_t)(vr_rand(l) % (max - s->nout + 1));
    s->seq = seq;
    for (i = 0; i < (uint32_t)(s->nout + s->nin); i++) {
        s->sg[i].buf = s->buf + i * VR_SEG;
        s->sg[i].len = 1 + vr_rand(l) % VR_SEG;
        if (i == 0 && s->sg[i].len < 4)
            s->sg[i].len = 4;
        if (i < s->nout) {
            for (j = 0; j < s->sg[i].len; j++, off++)
                ((uint8_t *)s->sg[i].buf)[j] = vr_pat(seq, off, 1);
        } else {
            memset(s->sg[i].buf, 0, s->sg[i].len);
        }
    }
    memcpy(s->buf, &seq, sizeof(seq));
    err = vq_add_sgs(l->vq, s->sg, s->nout, s->nin, s);
    if (!err)
        s->busy = 1;
    return err;
}

static int vr_reap(struct vr_loop *l)
{
    void *token;
    uint32_t len;

    while (vq_get_buf(l->vq, &token, &len) == 0) {
        struct vr_slot *s = token;
        uint32_t i, j, off = 0, in_len = 0;

        for (i = s->nout; i < (uint32_t)(s->nout + s->nin); i++) {
            in_len += s->sg[i].len;
            for (j = 0; j < s->sg[i].len; j++, off++)
                if (((uint8_t *)s->sg[i].buf)[j] != vr_pat(s->seq, off, 2))
                    return -1;
        }
        if (!s->busy || len != in_len)
            return -2;
        s->busy = 0;
        l->completed++;
    }
    return vq_is_broken(l->vq) ? -3 : 0;
}

/* Run n requests in batches; returns 0 or a negative step number. */
static int vr_run(struct vr_loop *l, uint32_t n)
{
    uint32_t seq = 0;

    while (l->completed < n) {
        uint32_t batch = 1 + vr_rand(l) % 16;

        while (batch-- && seq < n && vr_add(l, seq) == 0)
            seq++;
        if (vq_kick_prepare(l->vq))
            l->kicks++;
        /* Single CPU: the device runs whether or not it was kicked (that
         * is what a polling device does); the counts show suppression. */
        if (vr_device(l))
            return -10;
        if (vr_reap(l))
            return -20;
    }
    return 0;
}

/* flags for vr_case() */
#define VR_EVENT_IDX 1u
#define VR_INDIRECT 2u
#define VR_BURST 4u /* indices published per batch on both sides */

static void vr_case(struct ktest *t, uint32_t num, unsigned flags, uint32_t n)
{
    struct vr_loop *l = virt_zalloc(sizeof(*l));
    int rc;

    KT_ASSERT(t, l != NULL);
    bool event_idx = flags & VR_EVENT_IDX, indirect = flags & VR_INDIRECT;

    rc = vr_setup(l, num, event_idx, indirect, flags & VR_BURST);
    if (rc) {
        virt_free(l);
        KT_FAIL(t, "setup ring %u: %d", num, rc);
    }
    rc = vr_run(l, n);
    ktest_diag("ring %u event_idx %d indirect %d: %u requests, %u kicks, %u interrupts, "
               "%llu indirect",
               num, event_idx, indirect, l->completed, l->kicks, l->interrupts,
               (unsigned long long)vq_get_stats(l->vq)->indirect_adds);
    if (rc == 0 && vq_num_free(l->vq) != num)
        rc = -30;
    if (rc == 0 && l->q.stats.bad_chains != 0)
        rc = -31;
    if (rc == 0 && indirect && vq_get_stats(l->vq)->indirect_adds == 0)
        rc = -32;
    vr_teardown(l);
    virt_free(l);
    KT_ASSERT_EQ(t, rc, 0);
}

static void t_plain(struct ktest *t)
{
    vr_case(t, 16, 0, 5000);
}

static void t_event_idx(struct ktest *t)
{
    /* > 65536 requests: both 16-bit indices wrap at least once. */
    vr_case(t, 64, VR_EVENT_IDX, 70000);
}

static void t_indirect(struct ktest *t)
{
    vr_case(t, 8, VR_EVENT_IDX | VR_INDIRECT, 5000);
}

static void t_burst(struct ktest *t)
{
    vr_case(t, 32, VR_EVENT_IDX | VR_INDIRECT | VR_BURST, 5000);
}

static void t_sizes(struct ktest *t)
{
    static const uint32_t sizes[] = {1, 2, 4, 128, 1024, 32768};
    unsigned i;

    for (i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
        vr_case(t, sizes[i], (i & 1) ? VR_EVENT_IDX : 0, 2000);
        if (t->failed)
            return;
    }
}

static void t_bad_sizes(struct ktest *t)
{
    static const uint32_t bad[] = {0, 3, 48, 65536};
    struct vq_config cfg = {0};
    struct virtqueue *vq;
    unsigned i;

    for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        cfg.num = bad[i];
        KT_ASSERT_EQ(t, vq_create(&cfg, &vq), -EINVAL);
    }
}

/* A hand-made ring with a looping chain, then a good one, then garbage. */
static void t_malformed(struct ktest *t)
{
    const uint32_t num = 4;
    uint64_t dma;
    uint8_t *mem = virt_dma_alloc(PAGE_SIZE, &dma);
    struct virtq_desc *desc = (struct virtq_desc *)(void *)mem;
    struct virtq_avail *avail = (struct virtq_avail *)(void *)(mem + 256);
    struct virtq_used *used = (struct virtq_used *)(void *)(mem + 512);
    struct vdq_config cfg = {
        .num = num, .desc_gpa = dma, .avail_gpa = dma + 256, .used_gpa = dma + 512};
    struct vdq_iov iov[4];
    struct vdq_chain c = {.iov = iov, .max_iov = 4};
    struct vdq q;
    int rc;

    KT_ASSERT(t, mem != NULL);
    KT_ASSERT_EQ(t, vdq_init(&q, &vr_mem, &cfg), 0);
    /* head 0: 0 -> 1 -> 0 loop; head 2: one good readable descriptor */
    desc[0] =
        (struct virtq_desc){.addr = dma + 1024, .len = 8, .flags = VIRTQ_DESC_F_NEXT, .next = 1};
    desc[1] =
        (struct virtq_desc){.addr = dma + 1024, .len = 8, .flags = VIRTQ_DESC_F_NEXT, .next = 0};
    desc[2] = (struct virtq_desc){.addr = dma + 2048, .len = 16, .flags = 0, .next = 0};
    avail->ring[0] = 0;
    avail->ring[1] = 2;
    __atomic_store_n(&avail->idx, 2, __ATOMIC_RELEASE);
    rc = vdq_pop(&q, &c);
    KT_ASSERT_EQ(t, rc, 0);
    KT_ASSERT_EQ(t, c.head, 2);
    KT_ASSERT_EQ(t, q.stats.bad_chains, 1);
    KT_ASSERT_EQ(t, q.stats.bad[VDQ_BAD_LOOP], 1);
    KT_ASSERT_EQ(t, used->idx, 1);
    KT_ASSERT_EQ(t, used->ring[0].id, 0);
    KT_ASSERT_EQ(t, used->ring[0].len, 0);
    KT_ASSERT_EQ(t, vdq_push(&q, 2, 0), 0);
    KT_ASSERT_EQ(t, used->idx, 2);
    /* avail idx 7 entries ahead of a 4-entry ring: corrupt, broken */
    __atomic_store_n(&avail->idx, 9, __ATOMIC_RELEASE);
    ktest_diag("expect one 'vdq broken' line next");
    KT_ASSERT_EQ(t, vdq_pop(&q, &c), -EIO);
    KT_ASSERT(t, vdq_is_broken(&q));
    KT_ASSERT_EQ(t, vdq_push(&q, 0, 0), -EIO);
    virt_dma_free(mem, PAGE_SIZE);
}

/*
 * The packed device queue (hostsim/vdq_packed.c, virtio 1.2 2.8) over a
 * hand-made 3-entry ring: a good list, a bad one crossing the end of the
 * ring (returned with len 0, both its descriptors skipped), then a buffer
 * id out of range (corrupt: broken).
 */
static void t_packed_device(struct ktest *t)
{
    const uint16_t av1 = VIRTQ_DESC_F_AVAIL, av0 = VIRTQ_DESC_F_USED; /* 2.8.1 */
    uint64_t dma;
    uint8_t *mem = virt_dma_alloc(PAGE_SIZE, &dma);
    struct pvirtq_desc *ring = (struct pvirtq_desc *)(void *)mem;
    struct pvirtq_event_suppress *drv = (void *)(mem + 256), *dev = (void *)(mem + 260);
    struct vdq_config cfg = {.num = 3,
                             .desc_gpa = dma,
                             .avail_gpa = dma + 256,
                             .used_gpa = dma + 260,
                             .packed = true};
    struct vdq_iov iov[4];
    struct vdq_chain c = {.iov = iov, .max_iov = 4};
    struct vdq q;

    KT_ASSERT(t, mem != NULL);
    KT_ASSERT_EQ(t, vdq_init(&q, &vr_mem, &cfg), 0);
    drv->flags = RING_EVENT_FLAGS_DISABLE;
    /* id 1: offsets 0 (readable) and 1 (writable); head flags last. */
    ring[1] = (struct pvirtq_desc){dma + 1024, 16, 1, VIRTQ_DESC_F_WRITE | av1};
    ring[0] = (struct pvirtq_desc){dma + 2048, 8, 0, 0};
    __atomic_store_n(&ring[0].flags, (uint16_t)(VIRTQ_DESC_F_NEXT | av1), __ATOMIC_RELEASE);
    KT_ASSERT_EQ(t, vdq_pop(&q, &c), 0);
    KT_ASSERT_EQ(t, c.head, 1);
    KT_ASSERT_EQ(t, c.nout, 1);
    KT_ASSERT_EQ(t, c.nin, 1);
    KT_ASSERT_EQ(t, vdq_push(&q, 1, 16), 0);
    KT_ASSERT_EQ(t, ring[0].id, 1);
    KT_ASSERT_EQ(t, ring[0].len, 16);
    KT_ASSERT(t, pvirtq_is_used(ring[0].flags, true));
    /* id 2: offset 2 (writable, lap 0) then 0 (readable, lap 1): bad. */
    ring[0] = (struct pvirtq_desc){dma + 2048, 8, 2, av0};
    ring[2] = (struct pvirtq_desc){dma + 1024, 8, 0, 0};
    __atomic_store_n(&ring[2].flags, (uint16_t)(VIRTQ_DESC_F_NEXT | VIRTQ_DESC_F_WRITE | av1),
                     __ATOMIC_RELEASE);
    KT_ASSERT_EQ(t, vdq_pop(&q, &c), -EAGAIN);
    KT_ASSERT_EQ(t, q.stats.bad[VDQ_BAD_WRITE_ORDER], 1);
    KT_ASSERT_EQ(t, ring[2].id, 2);
    KT_ASSERT_EQ(t, ring[2].len, 0);
    KT_ASSERT(t, pvirtq_is_used(ring[2].flags, true));
    KT_ASSERT_EQ(t, q.next_used, 1);
    KT_ASSERT(t, !q.used_wrap);
    KT_ASSERT(t, !vdq_interrupt_prepare(&q)); /* the driver said DISABLE */
    KT_ASSERT_EQ(t, vdq_enable_notify(&q), 0);
    KT_ASSERT_EQ(t, dev->flags, RING_EVENT_FLAGS_ENABLE);
    /* id 5 in a 3-entry ring at offset 1 (lap 1): corrupt. */
    ring[1] = (struct pvirtq_desc){dma + 2048, 8, 5, 0};
    __atomic_store_n(&ring[1].flags, av0, __ATOMIC_RELEASE);
    ktest_diag("expect one 'vdq broken' line next");
    KT_ASSERT_EQ(t, vdq_pop(&q, &c), -EIO);
    KT_ASSERT(t, vdq_is_broken(&q));
    virt_dma_free(mem, PAGE_SIZE);
}

KTEST_SUITE(ktest_vring, "vring", {"plain", t_plain}, {"event_idx_wrap", t_event_idx},
            {"indirect", t_indirect}, {"burst", t_burst}, {"sizes", t_sizes},
            {"bad_sizes", t_bad_sizes}, {"malformed_chain", t_malformed},
            {"packed_device", t_packed_device});
