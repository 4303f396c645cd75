/* SPDX-License-Identifier: Apache-2.0 */
/*
 * test_vring_packed.c - suite "vring_packed": the packed ring's driver side
 * (drivers/virtio/virtqueue_packed.c, through virtqueue.h) inside the
 * image, against the small spec-written packed device of the hosted tests
 * (tests/host/packed_fakedev.h), both on one CPU in turns: a "kick" or an
 * "interrupt" is the other side's turn, counted when the event suppression
 * structures (2.8.10) ask for it. Requests have pseudo-random shapes; the
 * device checks the readable bytes and fills the writable ones, completing
 * every other batch in reverse order; the driver checks length and bytes.
 * Cases: sizes 1, 3, 255, 256, 32768 with EVENT_IDX / indirect /
 * publish_on_kick mixed in, a chain the size of the ring wrapping
 * mid-chain, and a hostile used descriptor (queue broken, -EIO).
 *
 * Guest memory is the kernel's identity map: a DMA address is the pointer.
 */
#include <errno.h>
#include <stdint.h>
#include <string.h>

#include "kernel.h"
#include "kernel/tests/ktest.h"
#include "virtio_platform.h"
#include "virtqueue.h"

static bool vrp_rule_broken; /* the device saw the driver break a 2.8 rule */
#define FD_CHECK(c)                                                                                \
    do {                                                                                           \
        if (!(c))                                                                                  \
            vrp_rule_broken = true;                                                                \
    } while (0)
#define FD_MAX_SEGS 8
#include "tests/host/packed_fakedev.h"

#define VRP_SEG 128
#define VRP_SLOTS 64
#define VRP_BATCH 16

struct vrp_slot {
    struct vq_sg sg[FD_MAX_SEGS];
    uint32_t seq, in_len;
    uint8_t nout, nin, busy, pad;
};

struct vrp_loop {
    struct virtqueue *vq;
    struct fdev d;
    struct fd_chain c;
    struct vrp_slot slots[VRP_SLOTS];
    struct fd_chain done[VRP_BATCH];
    uint8_t *arena;
    uint64_t arena_dma;
    uint32_t rng, turns;
    bool indirect;
    uint32_t kicks, interrupts, completed;
};

static uint32_t vrp_rand(struct vrp_loop *l)
{
    l->rng = l->rng * 1103515245u + 12345u;
    return l->rng >> 8;
}

static uint8_t vrp_pat(uint32_t seq, uint32_t off, uint8_t salt)
{
    return (uint8_t)(seq * 13u + off * 7u + salt);
}

/* Device turn: take up to a batch, check, fill, use (reversed every other
 * turn), decide the interrupt over the descriptors used. */
static int vrp_device(struct vrp_loop *l)
{
    unsigned n = 0, i, j, k;
    uint32_t descs = 0;

    while (n < VRP_BATCH && fd_pop(&l->d, &l->done[n])) {
        struct fd_chain *c = &l->done[n];
        uint32_t seq, off = 0;

        if (c->nsegs == 0 || c->segs[0].write || c->segs[0].len < 4)
            return -1;
        memcpy(&seq, c->segs[0].buf, 4);
        for (i = 0; i < c->nsegs; i++)
            for (j = 0; j < c->segs[i].len; j++, off++) {
                if (!c->segs[i].write) {
                    if (off >= 4 && c->segs[i].buf[j] != vrp_pat(seq, off, 1))
                        return -2;
                } else {
                    c->segs[i].buf[j] = vrp_pat(seq, off, 2);
                }
            }
        n++;
    }
    if (vrp_rule_broken)
        return -3;
    for (k = 0; k < n; k++) {
        struct fd_chain *c = &l->done[(l->turns & 1) ? n - 1 - k : k];

        fd_push(&l->d, c, c->in_len);
        descs += c->ndescs;
    }
    l->turns++;
    if (n && fd_need_interrupt(&l->d, (uint16_t)(descs < l->d.num ? descs : l->d.num)))
        l->interrupts++;
    return 0;
}

static int vrp_add(struct vrp_loop *l, uint32_t seq)
{
    struct vrp_slot *s = NULL;
    uint32_t i, j, off = 0, max = l->indirect ? FD_MAX_SEGS : vq_get_size(l->vq);
    int err;

    for (i = 0; i < VRP_SLOTS; i++)
        if (!l->slots[i].busy) {
            s = &l->slots[i];
            break;
        }
    if (!s)
        return -ENOSPC;
    if (max > FD_MAX_SEGS)
        max = FD_MAX_SEGS;
    s->nout = (uint8_t)(1 + vrp_rand(l) % (max > 4 ? 4 : max));
    s->nin = (uint8_t)(vrp_rand(l) % (max - s->nout + 1));
    s->seq = seq;
    s->in_len = 0;
    for (i = 0; i < (uint32_t)(s->nout + s->nin); i++) {
        s->sg[i].buf = l->arena + ((size_t)(s - l->slots) * FD_MAX_SEGS + i) * VRP_SEG;
        s->sg[i].len = 1 + vrp_rand(l) % VRP_SEG;
        if (i == 0 && s->sg[i].len < 4)
            s->sg[i].len = 4;
        if (i < s->nout) {
            for (j = 0; j < s->sg[i].len; j++, off++)
                ((uint8_t *)s->sg[i].buf)[j] = vrp_pat(seq, off, 1);
        } else {
            memset(s->sg[i].buf, 0, s->sg[i].len);
            s->in_len += s->sg[i].len;
        }
    }
    memcpy(s->sg[0].buf, &seq, sizeof(seq));
    err = vq_add_sgs(l->vq, s->sg, s->nout, s->nin, s);
    if (!err)
        s->busy = 1;
    return err;
}

static int vrp_reap(struct vrp_loop *l)
{
    void *token;
    uint32_t len;

    while (vq_get_buf(l->vq, &token, &len) == 0) {
        struct vrp_slot *s = token;
        uint32_t i, j, off = 0;

        if (!s->busy || len != s->in_len)
            return -1;
        for (i = 0; i < s->nout; i++)
            off += s->sg[i].len;
        for (i = s->nout; i < (uint32_t)(s->nout + s->nin); i++)
            for (j = 0; j < s->sg[i].len; j++, off++)
                if (((uint8_t *)s->sg[i].buf)[j] != vrp_pat(s->seq, off, 2))
                    return -2;
        s->busy = 0;
        l->completed++;
    }
    return vq_is_broken(l->vq) ? -3 : 0;
}

#define VRP_EVENT_IDX 1u
#define VRP_INDIRECT 2u
#define VRP_BURST 4u

static void vrp_case(struct ktest *t, uint32_t num, unsigned flags, uint32_t n)
{
    struct vq_config cfg = {.packed = true,
                            .num = num,
                            .event_idx = flags & VRP_EVENT_IDX,
                            .indirect = flags & VRP_INDIRECT,
                            .indirect_max = FD_MAX_SEGS,
                            .publish_on_kick = flags & VRP_BURST,
                            .name = "vring_packed"};
    struct vrp_loop *l = virt_zalloc(sizeof(*l));
    uint32_t seq = 0;
    int rc = 0;

    KT_ASSERT(t, l != NULL);
    vrp_rule_broken = false;
    l->rng = num * 7919u + flags;
    l->indirect = flags & VRP_INDIRECT;
    l->arena = virt_dma_alloc(VRP_SLOTS * FD_MAX_SEGS * VRP_SEG, &l->arena_dma);
    if (!l->arena || vq_create(&cfg, &l->vq) != 0) {
        virt_free(l);
        KT_FAIL(t, "setup ring %u", num);
    }
    fd_init(&l->d, l->vq);
    if (flags & VRP_EVENT_IDX) /* kicks only at the next descriptor we poll */
        fd_set_event(&l->d, RING_EVENT_FLAGS_DESC, 0, true);
    while (rc == 0 && l->completed < n) {
        uint32_t batch = 1 + vrp_rand(l) % VRP_BATCH;

        while (batch-- && seq < n && vrp_add(l, seq) == 0)
            seq++;
        if (vq_kick_prepare(l->vq))
            l->kicks++;
        /* One CPU: the device runs whether kicked or not (polling). */
        rc = vrp_device(l);
        if (rc == 0 && (flags & VRP_EVENT_IDX))
            fd_set_event(&l->d, RING_EVENT_FLAGS_DESC, l->d.avail_off, l->d.avail_wrap);
        if (rc == 0)
            rc = vrp_reap(l) * 10;
    }
    ktest_diag("packed ring %u flags %u: %u requests, %u kicks, %u interrupts, %llu indirect", num,
               flags, l->completed, l->kicks, l->interrupts,
               (unsigned long long)vq_get_stats(l->vq)->indirect_adds);
    if (rc == 0 && vq_num_free(l->vq) != num)
        rc = -100;
    if (rc == 0 && (flags & VRP_INDIRECT) && vq_get_stats(l->vq)->indirect_adds == 0)
        rc = -101;
    vq_destroy(l->vq);
    virt_dma_free(l->arena, VRP_SLOTS * FD_MAX_SEGS * VRP_SEG);
    virt_free(l);
    KT_ASSERT_EQ(t, rc, 0);
}

static void t_sizes(struct ktest *t)
{
    static const struct {
        uint32_t num;
        unsigned flags;
    } cases[] = {
        {1, 0},
        {1, VRP_INDIRECT},
        {3, VRP_EVENT_IDX},
        {3, VRP_INDIRECT | VRP_BURST},
        {255, VRP_EVENT_IDX | VRP_INDIRECT},
        {255, VRP_BURST},
        {256, 0},
        {256, VRP_EVENT_IDX | VRP_INDIRECT | VRP_BURST},
        {32768, VRP_EVENT_IDX},
    };
    unsigned i;

    for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        vrp_case(t, cases[i].num, cases[i].flags, cases[i].num == 32768 ? 40000 : 3000);
        if (t->failed)
            return;
    }
}

/* A direct chain of exactly the ring's size, starting mid-ring so it
 * wraps (and flips the wrap bit) in the middle. */
static void t_chain_ring_size(struct ktest *t)
{
    struct vq_config cfg = {.packed = true, .num = 8};
    static struct fd_chain c;
    struct vq_sg sg[8];
    struct virtqueue *vq;
    struct fdev d;
    uint8_t buf[8][8];
    void *tok;
    uint32_t len;
    unsigned i;

    vrp_rule_broken = false;
    KT_ASSERT_EQ(t, vq_create(&cfg, &vq), 0);
    fd_init(&d, vq);
    for (i = 0; i < 8; i++)
        sg[i] = (struct vq_sg){buf[i], 8, 0};
    KT_ASSERT_EQ(t, vq_add_sgs(vq, sg, 3, 0, buf), 0);
    KT_ASSERT(t, fd_pop(&d, &c));
    fd_push(&d, &c, 0);
    KT_ASSERT_EQ(t, vq_get_buf(vq, &tok, &len), 0);
    KT_ASSERT_EQ(t, vq_add_sgs(vq, sg, 7, 1, buf[1]), 0);
    KT_ASSERT_EQ(t, vq_num_free(vq), 0);
    KT_ASSERT_EQ(t, vq_add_sgs(vq, sg, 1, 0, buf[2]), -ENOSPC);
    KT_ASSERT(t, fd_pop(&d, &c));
    KT_ASSERT_EQ(t, c.ndescs, 8);
    KT_ASSERT(t, !vrp_rule_broken);
    fd_push(&d, &c, 8);
    KT_ASSERT_EQ(t, vq_get_buf(vq, &tok, &len), 0);
    KT_ASSERT(t, tok == buf[1]);
    KT_ASSERT_EQ(t, len, 8);
    KT_ASSERT_EQ(t, vq_num_free(vq), 8);
    vq_destroy(vq);
}

/* The device answers with an id that was never handed out. */
static void t_hostile_id(struct ktest *t)
{
    struct vq_config cfg = {.packed = true, .num = 4, .name = "vring_packed"};
    uint8_t buf[16];
    struct vq_sg sg = {buf, sizeof(buf), 0};
    struct virtqueue *vq;
    struct fdev d;
    void *tok;
    uint32_t len;

    KT_ASSERT_EQ(t, vq_create(&cfg, &vq), 0);
    fd_init(&d, vq);
    KT_ASSERT_EQ(t, vq_add_sgs(vq, &sg, 0, 1, buf), 0);
    fd_push_raw(&d, 3, 0, 1, pvirtq_used_flags(true));
    ktest_diag("expect one 'packed broken' line next");
    KT_ASSERT_EQ(t, vq_get_buf(vq, &tok, &len), -EIO);
    KT_ASSERT(t, vq_is_broken(vq));
    KT_ASSERT_EQ(t, vq_add_sgs(vq, &sg, 0, 1, buf), -EIO);
    KT_ASSERT_EQ(t, vq_notify(vq), -EIO);
    KT_ASSERT(t, vq_detach_unused(vq) == buf);
    KT_ASSERT(t, vq_detach_unused(vq) == NULL);
    vq_destroy(vq);
}

KTEST_SUITE(ktest_vring_packed, "vring_packed", {"sizes", t_sizes},
            {"chain_ring_size", t_chain_ring_size}, {"hostile_id", t_hostile_id});
