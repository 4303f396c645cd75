/* SPDX-License-Identifier: Apache-2.0 */
/*
 * test_vdq_inflight_packed.c - inflight I/O tracking for packed rings
 * (hostsim/vdq_inflight_packed.c, the QueueRegionPacked layout of QEMU
 * docs/interop/vhost-user.rst "Inflight I/O tracking") against a simulated
 * driver and device on a hand-made packed ring (virtio 1.2 2.8).
 *
 * The driver makes chains of 1-3 descriptors available; the device fetches
 * them in order and completes them out of order (a seeded PRNG), each
 * completion a batch: push, the used descriptor's flags, settle. The step
 * hook stops the world after every store of the tracking and keeps what a
 * killed backend leaves behind (the region and the ring). From each image a
 * new tracker recovers the way the next backend does; it must list exactly
 * the chains fetched and not visibly completed, oldest fetch first, with
 * copies of their descriptors equal to what the driver wrote (the ring may
 * hold used elements over them by then), and the ring positions to go on
 * from: the next used element after the visibly completed ones, the next
 * descriptor to fetch after every chain in flight. Then it completes them
 * and a second recovery finds nothing left. Bad regions are refused.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "vdq_inflight_packed.h"
#include "virtio_platform.h"

#define NUM 8
#define OPS 120
#define MAX_SNAPS 2048
#define RBYTES 512 /* >= vdqip_queue_bytes(NUM) */

struct chain {
    uint16_t n;
    uint64_t addr[3];
    uint32_t len[3];
};

struct snap {
    enum vdqip_step step;
    uint64_t region[RBYTES / 8];
    struct pvirtq_desc ring[NUM];
    uint16_t expect[NUM]; /* ids in flight, fetch order */
    unsigned nexpect;
    uint16_t used_idx, avail_idx;
    bool used_wrap, avail_wrap;
    struct chain chains[NUM];
};

struct world {
    struct pvirtq_desc ring[NUM];
    uint64_t region[RBYTES / 8];
    struct vdq_inflight_packed t;
    uint16_t storage[VDQIP_STORAGE_PER_DESC * NUM];
    struct chain chains[NUM]; /* by id: what the driver wrote */
    bool id_busy[NUM];
    /* driver */
    uint16_t drv_avail;
    bool drv_wrap;
    unsigned drv_outstanding; /* descriptors not yet seen used */
    /* device */
    uint16_t dev_avail, dev_used;
    bool dev_avail_wrap, dev_used_wrap;
    /* truth: committed fetches not visibly completed, fetch order */
    uint16_t inflight[NUM];
    unsigned ninflight;
    uint16_t fetching; /* id of the chain being fetched */
    uint64_t rnd;
    struct snap *snaps;
    unsigned nsnaps;
    unsigned forward_snaps; /* images with a batch visible, not settled */
};

static struct world W;

static uint32_t w_rand(struct world *w)
{
    w->rnd ^= w->rnd << 13;
    w->rnd ^= w->rnd >> 7;
    w->rnd ^= w->rnd << 17;
    return (uint32_t)w->rnd;
}

static struct vdqip_region *w_region(struct world *w)
{
    return (struct vdqip_region *)w->region;
}

/* Where the device goes on after the chains in flight: used position plus
 * their descriptors. */
static void w_expect_avail(const struct world *w, uint16_t *idx, bool *wrap)
{
    uint32_t off = w->dev_used;
    unsigned i;

    *wrap = w->dev_used_wrap;
    for (i = 0; i < w->ninflight; i++)
        off += w->chains[w->inflight[i]].n;
    if (off >= NUM) {
        off -= NUM;
        *wrap = !*wrap;
    }
    *idx = (uint16_t)off;
}

static void w_step(void *ctx, enum vdqip_step s, uint16_t i)
{
    struct world *w = ctx;
    struct snap *sn;

    (void)i;
    if (s == VDQIP_STEP_POP_LAST)
        w->inflight[w->ninflight++] = w->fetching; /* committed now */
    assert_true(w->nsnaps < MAX_SNAPS);
    sn = &w->snaps[w->nsnaps++];
    sn->step = s;
    memcpy(sn->region, w->region, sizeof(sn->region));
    memcpy(sn->ring, w->ring, sizeof(sn->ring));
    memcpy(sn->expect, w->inflight, sizeof(sn->expect));
    sn->nexpect = w->ninflight;
    sn->used_idx = w->dev_used;
    sn->used_wrap = w->dev_used_wrap;
    w_expect_avail(w, &sn->avail_idx, &sn->avail_wrap);
    memcpy(sn->chains, w->chains, sizeof(sn->chains));
    if (s == VDQIP_STEP_FLAGS || s == VDQIP_STEP_CLEAR)
        w->forward_snaps++;
}

/* Driver: a chain of n descriptors under a free id, head flags last. */
static bool w_driver_add(struct world *w)
{
    uint16_t n = (uint16_t)(1 + w_rand(w) % 3), id, k, heads_flags = 0;
    uint16_t pos = w->drv_avail;
    bool wrap = w->drv_wrap;

    if (w->drv_outstanding + n > NUM)
        return false;
    for (id = 0; id < NUM && w->id_busy[id]; id++)
        ;
    if (id == NUM)
        return false;
    w->id_busy[id] = true;
    w->chains[id].n = n;
    for (k = 0; k < n; k++) {
        uint16_t f = (uint16_t)(pvirtq_avail_flags(wrap) | (k + 1 < n ? VIRTQ_DESC_F_NEXT : 0));

        w->chains[id].addr[k] = 0x100000ull * (id + 1) + 0x1000ull * k + (w_rand(w) & 0xff0);
        w->chains[id].len[k] = 512u * (k + 1) + (w_rand(w) & 0x1f);
        w->ring[pos].addr = vr_cpu_to_le64(w->chains[id].addr[k]);
        w->ring[pos].len = vr_cpu_to_le32(w->chains[id].len[k]);
        w->ring[pos].id = vr_cpu_to_le16(id);
        if (k == 0)
            heads_flags = f;
        else
            w->ring[pos].flags = vr_cpu_to_le16(f);
        if (++pos == NUM) {
            pos = 0;
            wrap = !wrap;
        }
    }
    w->ring[w->drv_avail].flags = vr_cpu_to_le16(heads_flags);
    w->drv_avail = pos;
    w->drv_wrap = wrap;
    w->drv_outstanding += n;
    return true;
}

/* Device: fetch the next available chain (tracked). */
static bool w_device_fetch(struct world *w)
{
    uint16_t k = 0, flags;

    if (!pvirtq_is_avail(vr_le16_to_cpu(w->ring[w->dev_avail].flags), w->dev_avail_wrap))
        return false;
    w->fetching = vr_le16_to_cpu(w->ring[w->dev_avail].id);
    do {
        struct pvirtq_desc d = w->ring[w->dev_avail];

        flags = vr_le16_to_cpu(d.flags);
        vdqip_pop(&w->t, &d, k == 0, !(flags & VIRTQ_DESC_F_NEXT));
        k++;
        if (++w->dev_avail == NUM) {
            w->dev_avail = 0;
            w->dev_avail_wrap = !w->dev_avail_wrap;
        }
    } while (flags & VIRTQ_DESC_F_NEXT);
    return true;
}

/* Device: complete the i-th chain in flight (one batch). */
static void w_device_complete(struct world *w, unsigned i)
{
    uint16_t id = w->inflight[i], n = w->chains[id].n;
    struct pvirtq_desc *e = &w->ring[w->dev_used];

    assert_int_equal(vdqip_push(&w->t, id, n), 0);
    e->id = vr_cpu_to_le16(id);
    e->len = vr_cpu_to_le32(0);
    e->flags = vr_cpu_to_le16(pvirtq_used_flags(w->dev_used_wrap)); /* visible now */
    memmove(&w->inflight[i], &w->inflight[i + 1], (w->ninflight - i - 1) * sizeof(uint16_t));
    w->ninflight--;
    w->dev_used = (uint16_t)(w->dev_used + n);
    if (w->dev_used >= NUM) {
        w->dev_used -= NUM;
        w->dev_used_wrap = !w->dev_used_wrap;
    }
    vdqip_flags_written(&w->t);
    vdqip_settle(&w->t);
    /* The driver sees it used and takes the id back. */
    w->id_busy[id] = false;
    w->drv_outstanding -= n;
}

static void w_init(struct world *w, uint64_t seed)
{
    memset(w, 0, sizeof(*w));
    w->rnd = seed;
    w->drv_wrap = w->dev_avail_wrap = w->dev_used_wrap = true;
    w->snaps = calloc(MAX_SNAPS, sizeof(*w->snaps));
    assert_non_null(w->snaps);
    assert_true(vdqip_queue_bytes(NUM) <= RBYTES);
    vdqip_region_init(w_region(w), NUM);
    vdqip_attach(&w->t, w_region(w), NUM, w->storage);
    w->t.step = w_step;
    w->t.step_ctx = w;
}

static void w_run(struct world *w)
{
    unsigned op;

    for (op = 0; op < OPS; op++) {
        uint32_t r = w_rand(w) % 3;

        if (r == 0)
            (void)w_driver_add(w);
        else if (r == 1)
            (void)w_device_fetch(w);
        else if (w->ninflight)
            w_device_complete(w, w_rand(w) % w->ninflight);
    }
}

/* Recover from image sn as the next backend; check it against the truth. */
static void check_recovery(const struct snap *sn)
{
    static uint64_t region[RBYTES / 8];
    struct vdqip_region *r = (struct vdqip_region *)region;
    struct vdq_inflight_packed t;
    uint16_t storage[VDQIP_STORAGE_PER_DESC * NUM];
    uint16_t ui, ai, n, head, k;
    bool uw, aw;
    const char *why = NULL;
    unsigned i = 0;

    memcpy(region, sn->region, sizeof(region));
    assert_int_equal(vdqip_region_check(r, NUM, &why), 0);
    vdqip_attach(&t, r, NUM, storage);
    if (vdqip_recover(&t, sn->ring, NUM, &ui, &uw, &ai, &aw, &n, &why))
        fail_msg("step %d: recovery refused: %s", sn->step, why);
    assert_int_equal(n, sn->nexpect);
    assert_int_equal(ui, sn->used_idx);
    assert_int_equal(uw, sn->used_wrap);
    assert_int_equal(ai, sn->avail_idx);
    assert_int_equal(aw, sn->avail_wrap);
    while (vdqip_next_resubmit(&t, &head)) {
        const struct chain *c;
        struct pvirtq_desc d;
        uint16_t id;

        assert_true(i < sn->nexpect);
        assert_int_equal(
            vdqip_chain_desc(&t, head, (uint16_t)(sn->chains[sn->expect[i]].n - 1), &d), 0);
        id = vr_le16_to_cpu(d.id);
        assert_int_equal(id, sn->expect[i]); /* oldest fetch first */
        c = &sn->chains[id];
        for (k = 0; k < c->n; k++) {
            assert_int_equal(vdqip_chain_desc(&t, head, k, &d), 0);
            assert_int_equal(vr_le64_to_cpu(d.addr), c->addr[k]);
            assert_int_equal(vr_le32_to_cpu(d.len), c->len[k]);
            assert_int_equal(!!(vr_le16_to_cpu(d.flags) & VIRTQ_DESC_F_NEXT), k + 1 < c->n);
        }
        i++;
    }
    assert_int_equal(i, sn->nexpect);
    /* Complete them all (on a scratch copy of the ring), then a second
     * recovery has nothing in flight and agrees on the positions. */
    {
        struct pvirtq_desc ring[NUM];
        uint16_t pos = ui;
        bool wrap = uw;

        memcpy(ring, sn->ring, sizeof(ring));
        for (i = 0; i < sn->nexpect; i++) {
            uint16_t id = sn->expect[i], cn = sn->chains[id].n;

            assert_int_equal(vdqip_push(&t, id, cn), 0);
            ring[pos].id = vr_cpu_to_le16(id);
            ring[pos].flags = vr_cpu_to_le16(pvirtq_used_flags(wrap));
            vdqip_settle(&t);
            pos = (uint16_t)(pos + cn);
            if (pos >= NUM) {
                pos -= NUM;
                wrap = !wrap;
            }
        }
        assert_int_equal(pos, ai);
        vdqip_attach(&t, r, NUM, storage);
        assert_int_equal(vdqip_recover(&t, ring, NUM, &ui, &uw, &ai, &aw, &n, &why), 0);
        assert_int_equal(n, 0);
        assert_int_equal(ui, pos);
        assert_int_equal(ai, pos);
        assert_int_equal(uw, wrap);
    }
}

static void test_crash_at_every_step(void **state)
{
    static const uint64_t seeds[] = {0x9e3779b97f4a7c15ull, 12345, 0xdeadbeefcafef00dull};
    unsigned s, i, total = 0;

    (void)state;
    for (s = 0; s < sizeof(seeds) / sizeof(seeds[0]); s++) {
        w_init(&W, seeds[s]);
        w_run(&W);
        assert_true(W.nsnaps > 100);
        assert_true(W.forward_snaps > 0); /* the roll-forward case happened */
        for (i = 0; i < W.nsnaps; i++)
            check_recovery(&W.snaps[i]);
        total += W.nsnaps;
        free(W.snaps);
    }
    print_message("%u crash images recovered\n", total);
}

/* A fresh region: nothing in flight, positions at the start. */
static void test_fresh_region(void **state)
{
    static uint64_t region[RBYTES / 8];
    struct vdqip_region *r = (struct vdqip_region *)region;
    struct pvirtq_desc ring[NUM] = {{0}};
    struct vdq_inflight_packed t;
    uint16_t storage[VDQIP_STORAGE_PER_DESC * NUM], ui, ai, n;
    const char *why = NULL;
    bool uw, aw;

    (void)state;
    memset(region, 0, sizeof(region));
    assert_int_equal(vdqip_region_check(r, NUM, &why), 0); /* version 0: initialised */
    assert_int_equal(r->version, VDQIP_VERSION);
    assert_int_equal(r->desc_num, NUM);
    vdqip_attach(&t, r, NUM, storage);
    assert_int_equal(vdqip_recover(&t, ring, NUM, &ui, &uw, &ai, &aw, &n, &why), 0);
    assert_int_equal(n, 0);
    assert_int_equal(ui, 0);
    assert_int_equal(ai, 0);
    assert_true(uw);
    assert_true(aw);
}

/* An image with two chains in flight, then spoiled one way at a time. */
static void bad_image(struct snap *out)
{
    w_init(&W, 777);
    W.t.step = NULL;
    while (W.ninflight < 2) {
        (void)w_driver_add(&W);
        if (w_device_fetch(&W))
            W.inflight[W.ninflight++] = W.fetching;
    }
    memcpy(out->region, W.region, sizeof(out->region));
    memcpy(out->ring, W.ring, sizeof(out->ring));
    free(W.snaps);
}

static int recover_image(struct snap *sn, const char **why)
{
    struct vdq_inflight_packed t;
    uint16_t storage[VDQIP_STORAGE_PER_DESC * NUM], ui, ai, n;
    bool uw, aw;

    vdqip_attach(&t, (struct vdqip_region *)sn->region, NUM, storage);
    return vdqip_recover(&t, sn->ring, NUM, &ui, &uw, &ai, &aw, &n, why);
}

static void test_bad_regions(void **state)
{
    static struct snap sn;
    struct vdqip_region *r = (struct vdqip_region *)sn.region;
    const char *why = NULL;
    uint16_t h;

    (void)state;
    bad_image(&sn);
    assert_int_equal(recover_image(&sn, &why), 0); /* the good one */

    bad_image(&sn);
    r->version = 2;
    assert_int_equal(vdqip_region_check(r, NUM, &why), -EINVAL);
    bad_image(&sn);
    assert_int_equal(vdqip_region_check(r, NUM + 1, &why), -EINVAL);
    bad_image(&sn);
    r->features = 1;
    assert_int_equal(vdqip_region_check(r, NUM, &why), -EINVAL);

    bad_image(&sn);
    r->old_used_idx = NUM; /* used index out of range */
    assert_int_equal(recover_image(&sn, &why), -EINVAL);
    bad_image(&sn);
    r->old_free_head = NUM + 1;
    assert_int_equal(recover_image(&sn, &why), -EINVAL);

    /* A free list that loops back on itself. */
    bad_image(&sn);
    h = r->old_free_head;
    r->desc[h].next = h;
    assert_int_equal(recover_image(&sn, &why), -EINVAL);
    assert_string_equal(why, "free list index out of range or looping");

    /* A head in flight whose num is 0, or more than the ring. */
    bad_image(&sn);
    for (h = 0; h < NUM && !(r->desc[h].inflight == 1); h++)
        ;
    assert_true(h < NUM);
    r->desc[h].num = 0;
    assert_int_equal(recover_image(&sn, &why), -EINVAL);
    bad_image(&sn);
    r->desc[h].num = NUM + 1;
    assert_int_equal(recover_image(&sn, &why), -EINVAL);
    /* last not where the chain ends. */
    bad_image(&sn);
    r->desc[h].last = (uint16_t)((r->desc[h].last + 1) % NUM);
    assert_int_equal(recover_image(&sn, &why), -EINVAL);
    /* An id out of range. */
    bad_image(&sn);
    r->desc[r->desc[h].last].id = NUM;
    assert_int_equal(recover_image(&sn, &why), -EINVAL);
    assert_string_equal(why, "buffer id in flight out of range or twice");
    /* A ring larger than the region. */
    bad_image(&sn);
    {
        struct vdq_inflight_packed t;
        uint16_t storage[VDQIP_STORAGE_PER_DESC * NUM], ui, ai, n;
        bool uw, aw;

        vdqip_attach(&t, r, NUM, storage);
        assert_int_equal(vdqip_recover(&t, sn.ring, NUM + 1, &ui, &uw, &ai, &aw, &n, &why),
                         -EINVAL);
    }
    /* A push of an id never fetched is refused. */
    {
        struct vdq_inflight_packed t;
        uint16_t storage[VDQIP_STORAGE_PER_DESC * NUM];

        vdqip_region_init(r, NUM);
        vdqip_attach(&t, r, NUM, storage);
        assert_int_equal(vdqip_push(&t, 3, 1), -EINVAL);
        assert_int_equal(vdqip_push(&t, NUM, 1), -EINVAL);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_fresh_region),
        cmocka_unit_test(test_crash_at_every_step),
        cmocka_unit_test(test_bad_regions),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
