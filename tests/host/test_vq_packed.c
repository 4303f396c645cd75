/* SPDX-License-Identifier: Apache-2.0 */
/*
 * test_vq_packed.c - cmocka tests of the packed virtqueue, driver side
 * (drivers/virtio/virtqueue_packed.c through the virtqueue.h API), against
 * a small fake device written here from virtio 1.2 section 2.8 (not
 * hostsim's): it polls the next descriptor in ring order (2.8.2), checks
 * the AVAIL/USED bits of every descriptor of a chain against its own wrap
 * counter (2.8.1), takes the buffer id from the last descriptor (2.8.6)
 * and checks all of them carry it, walks indirect tables (2.8.7), writes
 * one used descriptor per chain at its used position and skips the rest
 * (2.8.6), and decides interrupts from the Driver Event Suppression
 * structure (2.8.10).
 *
 * Covered here: descriptors as written; wrap at sizes 1, 2, 3, 255, 256,
 * 32768 (in-order and out-of-order completion, chains wrapping
 * mid-chain); a chain exactly the ring size; indirect tables; kick
 * suppression (ENABLE, DISABLE, DESC with EVENT_IDX, events in the next
 * lap, reserved flags); callbacks (disable, enable, enable-delayed, the
 * offset following get_buf); publish_on_kick. The hostile-device cases,
 * detach and checking mode are in test_vq_packed_hostile.c.
 */
#include "vqp_fixture.h"

/* ---- create / descriptors ---- */

static void test_create_any_size(void **state)
{
    struct vq_config cfg = {0};
    struct virtqueue *vq;
    uint32_t good[] = {1, 2, 3, 5, 7, 100, 255, 256, 1000, 32767, 32768};
    uint32_t bad[] = {0, 32769, 65536};
    unsigned i;

    (void)state;
    cfg.packed = true;
    for (i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
        cfg.num = good[i];
        assert_int_equal(vq_create(&cfg, &vq), 0);
        assert_int_equal(vq_get_size(vq), good[i]);
        assert_int_equal(vq_num_free(vq), good[i]);
        assert_false(vq_is_broken(vq));
        assert_false(vq_kick_prepare(vq)); /* nothing added */
        vq_destroy(vq);
    }
    for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        cfg.num = bad[i];
        assert_int_equal(vq_create(&cfg, &vq), -EINVAL);
    }
    cfg.num = 8;
    cfg.indirect_max = 1000;
    assert_int_equal(vq_create(&cfg, &vq), -EINVAL);
}

static void test_add_descriptors(void **state)
{
    struct pfx *f = *state;
    struct pvirtq_desc *d = f->d.desc;
    void *t;
    uint32_t len;
    unsigned i;

    assert_int_equal(add(f->vq, 2, 1, tokn(1)), 0);
    assert_int_equal(vq_num_free(f->vq), 5);
    for (i = 0; i < 3; i++) {
        assert_int_equal(d[i].addr, virt_to_dma(scratch + 8 * i));
        assert_int_equal(d[i].len, 8);
        assert_int_equal(d[i].id, d[2].id); /* id in every descriptor */
        assert_true(pvirtq_is_avail(d[i].flags, true));
        assert_int_equal(!!(d[i].flags & VIRTQ_DESC_F_NEXT), i < 2);
        assert_int_equal(!!(d[i].flags & VIRTQ_DESC_F_WRITE), i == 2);
    }
    assert_int_equal(d[3].flags, 0); /* untouched */
    assert_int_equal(vq_get_buf(f->vq, &t, &len), -EAGAIN);
    assert_true(fd_pop(&f->d, &f->c));
    assert_int_equal(f->c.ndescs, 3);
    assert_int_equal(f->c.in_len, 8);
    assert_false(vq_has_used(f->vq));
    memset(f->c.segs[2].buf, 0xab, 5);
    fd_push(&f->d, &f->c, 5);
    assert_true(vq_has_used(f->vq));
    assert_int_equal(vq_get_buf(f->vq, &t, &len), 0);
    assert_ptr_equal(t, tokn(1));
    assert_int_equal(len, 5);
    assert_int_equal(scratch[16], 0xab);
    assert_int_equal(vq_num_free(f->vq), 8);
    assert_int_equal(vq_get_buf(f->vq, &t, &len), -EAGAIN);
    assert_int_equal(vq_get_stats(f->vq)->adds, 1);
    assert_int_equal(vq_get_stats(f->vq)->used, 1);
}

static void test_add_args(void **state)
{
    struct pfx *f = *state;
    struct vq_sg sg = {scratch, 8, 0};

    assert_int_equal(vq_add_sgs(f->vq, &sg, 1, 0, NULL), -EINVAL);
    assert_int_equal(vq_add_sgs(f->vq, NULL, 1, 0, tokn(1)), -EINVAL);
    assert_int_equal(vq_add_sgs(f->vq, &sg, 0, 0, tokn(1)), -EINVAL);
    assert_int_equal(add(f->vq, 5, 4, tokn(1)), -EINVAL); /* 9 > ring of 8: never fits */
    assert_int_equal(vq_num_free(f->vq), 8);
    assert_false(vq_is_broken(f->vq));
}

/* ---- wrap at every size ---- */

/*
 * Over three laps through a ring of num: chains of 1..3 descriptors (1
 * when the ring is smaller), rounds of up to 64 chains (the ring full when
 * it is small), completions in order or in reverse (out of order), each
 * one's token and length checked.
 */
static void run_wrap(uint32_t num, bool reverse)
{
    struct pfx f;
    static struct fd_chain popped[64];
    void *toks[64];
    uint64_t next_tok = 0, done = 0, laps_descs = 0;
    uint64_t target = 3ull * num + 7;
    void *t;
    uint32_t len;

    assert_int_equal(pq_make(&f, num, true, false, false), 0);
    while (laps_descs < target) {
        unsigned np = 0, i;
        uint64_t added = 0;

        /* Fill: as many chains as fit, at most 64 per round. */
        for (;;) {
            unsigned segs = 1 + (unsigned)(next_tok % 3);
            unsigned nin = segs > 1 ? 1 : (unsigned)(next_tok & 1);

            if (segs > num)
                segs = 1;
            if (np + added >= 64)
                break;
            if (add(f.vq, segs - nin, nin, tokn((unsigned)next_tok)) != 0) {
                assert_true(vq_num_free(f.vq) < segs);
                break;
            }
            toks[added] = tokn((unsigned)next_tok);
            next_tok++;
            added++;
            laps_descs += segs;
        }
        (void)vq_kick_prepare(f.vq);
        while (np < 64 && fd_pop(&f.d, &f.c)) {
            popped[np] = f.c;
            np++;
        }
        assert_int_equal(np, added);
        for (i = 0; i < np; i++) {
            struct fd_chain *c = &popped[reverse ? np - 1 - i : i];
            uint32_t l = c->in_len ? 1 + c->id % c->in_len : 0;

            fd_push(&f.d, c, l);
        }
        for (i = 0; i < np; i++) {
            struct fd_chain *c = &popped[reverse ? np - 1 - i : i];
            uint32_t want = c->in_len ? 1 + c->id % c->in_len : 0;

            assert_int_equal(vq_get_buf(f.vq, &t, &len), 0);
            assert_ptr_equal(t, toks[reverse ? np - 1 - i : i]);
            assert_int_equal(len, want);
            done++;
        }
        assert_int_equal(vq_get_buf(f.vq, &t, &len), -EAGAIN);
        assert_int_equal(vq_num_free(f.vq), num);
    }
    assert_int_equal(done, next_tok);
    assert_false(vq_is_broken(f.vq));
    vq_destroy(f.vq);
}

static void test_wrap_sizes(void **state)
{
    uint32_t sizes[] = {1, 2, 3, 255, 256, 32768};
    unsigned i;

    (void)state;
    for (i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
        run_wrap(sizes[i], false);
        run_wrap(sizes[i], true);
    }
}

/* Tokens come back right across wraps, out of order (checked by token). */
static void test_wrap_tokens_out_of_order(void **state)
{
    struct pfx *f = *state;
    struct fd_chain c[3];
    void *t;
    uint32_t len;
    unsigned lap;

    for (lap = 0; lap < 20; lap++) {
        assert_int_equal(add(f->vq, 1, 0, tokn(3 * lap)), 0);
        assert_int_equal(add(f->vq, 1, 1, tokn(3 * lap + 1)), 0);
        assert_int_equal(add(f->vq, 0, 1, tokn(3 * lap + 2)), 0);
        assert_true(fd_pop(&f->d, &c[0]) && fd_pop(&f->d, &c[1]) && fd_pop(&f->d, &c[2]));
        fd_push(&f->d, &c[2], 8);
        fd_push(&f->d, &c[0], 0);
        fd_push(&f->d, &c[1], 3);
        assert_int_equal(vq_get_buf(f->vq, &t, &len), 0);
        assert_ptr_equal(t, tokn(3 * lap + 2));
        assert_int_equal(len, 8);
        assert_int_equal(vq_get_buf(f->vq, &t, &len), 0);
        assert_ptr_equal(t, tokn(3 * lap));
        assert_int_equal(len, 0);
        assert_int_equal(vq_get_buf(f->vq, &t, &len), 0);
        assert_ptr_equal(t, tokn(3 * lap + 1));
        assert_int_equal(len, 3);
        assert_int_equal(vq_num_free(f->vq), 8);
    }
}

/* ---- a chain exactly the size of the ring ---- */

static void chain_of_ring_size(uint32_t num, unsigned pre)
{
    struct pfx f;
    void *t;
    uint32_t len;

    assert_int_equal(pq_make(&f, num, false, false, false), 0);
    /* Move the ring position so the big chain wraps mid-chain. */
    if (pre) {
        assert_int_equal(add(f.vq, pre, 0, tokn(1)), 0);
        assert_true(fd_pop(&f.d, &f.c));
        fd_push(&f.d, &f.c, 0);
        assert_int_equal(vq_get_buf(f.vq, &t, &len), 0);
    }
    assert_int_equal(add(f.vq, num - 1, 1, tokn(2)), 0);
    assert_int_equal(vq_num_free(f.vq), 0);
    assert_int_equal(add(f.vq, 1, 0, tokn(3)), -ENOSPC);
    assert_true(fd_pop(&f.d, &f.c));
    assert_int_equal(f.c.ndescs, num);
    assert_int_equal(f.c.nsegs, num);
    assert_int_equal(f.c.in_len, 8);
    assert_false(fd_pop(&f.d, &f.c)); /* the whole ring was that chain */
    fd_push(&f.d, &f.c, 8);
    assert_int_equal(vq_get_buf(f.vq, &t, &len), 0);
    assert_ptr_equal(t, tokn(2));
    assert_int_equal(len, 8);
    assert_int_equal(vq_num_free(f.vq), num);
    /* And the ring goes on after it. */
    assert_int_equal(add(f.vq, 1, 0, tokn(4)), 0);
    assert_true(fd_pop(&f.d, &f.c));
    fd_push(&f.d, &f.c, 0);
    assert_int_equal(vq_get_buf(f.vq, &t, &len), 0);
    assert_ptr_equal(t, tokn(4));
    assert_false(vq_is_broken(f.vq));
    vq_destroy(f.vq);
}

static void test_chain_ring_size(void **state)
{
    (void)state;
    chain_of_ring_size(8, 0);
    chain_of_ring_size(8, 3);
    chain_of_ring_size(3, 2);
    chain_of_ring_size(1, 0);
    chain_of_ring_size(255, 100);
    chain_of_ring_size(256, 255);
}

/* ---- indirect ---- */

static void test_indirect(void **state)
{
    struct pfx *f = *state;
    struct pvirtq_desc *d = f->d.desc;
    void *t;
    uint32_t len;

    assert_int_equal(add(f->vq, 2, 2, tokn(1)), 0);
    assert_int_equal(vq_num_free(f->vq), 7); /* one ring slot */
    assert_true(d[0].flags & VIRTQ_DESC_F_INDIRECT);
    assert_int_equal(d[0].len, 4 * sizeof(struct pvirtq_desc));
    assert_true(fd_pop(&f->d, &f->c));
    assert_true(f->c.indirect);
    assert_int_equal(f->c.ndescs, 1);
    assert_int_equal(f->c.nsegs, 4);
    assert_int_equal(f->c.in_len, 16);
    assert_ptr_equal(f->c.segs[3].buf, scratch + 24);
    fd_push(&f->d, &f->c, 16);
    assert_int_equal(vq_get_buf(f->vq, &t, &len), 0);
    assert_ptr_equal(t, tokn(1));
    assert_int_equal(len, 16);
    /* One segment: direct. More than indirect_max (16): direct chain. */
    assert_int_equal(add(f->vq, 1, 0, tokn(2)), 0);
    assert_false(d[1].flags & VIRTQ_DESC_F_INDIRECT);
    assert_int_equal(add(f->vq, 17, 0, tokn(3)), -EINVAL); /* 17 ring slots > 8 */
    /* Fill the ring with indirect chains: 7 more fit, each one slot. */
    for (unsigned i = 0; i < 7; i++)
        assert_int_equal(add(f->vq, 1, 2, tokn(10 + i)), 0);
    assert_int_equal(vq_num_free(f->vq), 0);
    assert_int_equal(add(f->vq, 1, 1, tokn(20)), -ENOSPC);
    for (unsigned i = 0; i < 8; i++) {
        assert_true(fd_pop(&f->d, &f->c));
        fd_push(&f->d, &f->c, f->c.in_len);
    }
    for (unsigned i = 0; i < 8; i++)
        assert_int_equal(vq_get_buf(f->vq, &t, &len), 0);
    assert_int_equal(vq_get_stats(f->vq)->indirect_adds, 8);
    assert_int_equal(vq_num_free(f->vq), 8);
}

/* ---- kicks: the Device Event Suppression structure ---- */

static void test_kick_flags(void **state)
{
    struct pfx *f = *state;

    assert_int_equal(add(f->vq, 1, 0, tokn(1)), 0);
    assert_true(vq_kick_prepare(f->vq)); /* ENABLE (zero) */
    assert_false(vq_kick_prepare(f->vq)); /* nothing new */
    fd_set_event(&f->d, RING_EVENT_FLAGS_DISABLE, 0, 0);
    assert_int_equal(add(f->vq, 1, 0, tokn(2)), 0);
    assert_false(vq_kick_prepare(f->vq));
    /* DESC without EVENT_IDX is not valid (2.8.10): kick. Reserved too. */
    fd_set_event(&f->d, RING_EVENT_FLAGS_DESC, 7, 0);
    assert_int_equal(add(f->vq, 1, 0, tokn(3)), 0);
    assert_true(vq_kick_prepare(f->vq));
    fd_set_event(&f->d, 0x3, 0, 0);
    assert_int_equal(add(f->vq, 1, 0, tokn(4)), 0);
    assert_true(vq_kick_prepare(f->vq));
    assert_int_equal(vq_get_stats(f->vq)->kicks, 3);
    assert_int_equal(vq_get_stats(f->vq)->kicks_saved, 1);
}

/* With EVENT_IDX: a kick exactly when the event's descriptor is added,
 * including an event in the next lap and one at the last offset. */
static void test_kick_event_idx(void **state)
{
    struct pfx *f = *state; /* num 4 */
    void *t;
    uint32_t len;
    unsigned i;

    fd_set_event(&f->d, RING_EVENT_FLAGS_DESC, 2, true);
    assert_int_equal(add(f->vq, 1, 0, tokn(0)), 0); /* off 0 */
    assert_false(vq_kick_prepare(f->vq));
    assert_int_equal(add(f->vq, 1, 0, tokn(1)), 0); /* off 1 */
    assert_false(vq_kick_prepare(f->vq));
    assert_int_equal(add(f->vq, 1, 0, tokn(2)), 0); /* off 2: the event */
    assert_true(vq_kick_prepare(f->vq));
    for (i = 0; i < 3; i++) {
        assert_true(fd_pop(&f->d, &f->c));
        fd_push(&f->d, &f->c, 0);
        assert_int_equal(vq_get_buf(f->vq, &t, &len), 0);
    }
    /* next_avail is 3, wrap 1. Event at offset 0 of the next lap (wrap 0):
     * adding offset 3 (lap 1) must not kick; offset 0 of lap 0 must. */
    fd_set_event(&f->d, RING_EVENT_FLAGS_DESC, 0, false);
    assert_int_equal(add(f->vq, 1, 0, tokn(3)), 0);
    assert_false(vq_kick_prepare(f->vq));
    assert_int_equal(add(f->vq, 1, 0, tokn(4)), 0);
    assert_true(vq_kick_prepare(f->vq));
    /* An event in the past lap (offset 3, wrap 1; we are at 1, wrap 0):
     * already passed, no kick. */
    fd_set_event(&f->d, RING_EVENT_FLAGS_DESC, 3, true);
    assert_int_equal(add(f->vq, 1, 0, tokn(5)), 0);
    assert_false(vq_kick_prepare(f->vq));
    /* Batch over the event: one kick. Last offset of the lap, 3 wrap 0. */
    while (fd_pop(&f->d, &f->c)) {
        fd_push(&f->d, &f->c, 0);
        assert_int_equal(vq_get_buf(f->vq, &t, &len), 0);
    }
    assert_int_equal(vq_num_free(f->vq), 4);
    fd_set_event(&f->d, RING_EVENT_FLAGS_DESC, 3, false); /* next_avail is 2, wrap 0 */
    assert_int_equal(add(f->vq, 1, 0, tokn(6)), 0);        /* off 2 */
    assert_int_equal(add(f->vq, 1, 0, tokn(7)), 0);        /* off 3: the event */
    assert_int_equal(add(f->vq, 1, 0, tokn(8)), 0);        /* off 0, wrap 1 */
    assert_true(vq_kick_prepare(f->vq));
    assert_false(vq_kick_prepare(f->vq));
}

/* Adds and gets of more than a ring between two kick_prepares: always kick
 * (the window covers every offset). */
static void test_kick_window_past_ring(void **state)
{
    struct pfx *f = *state; /* num 4, event idx */
    void *t;
    uint32_t len;
    unsigned i;

    fd_set_event(&f->d, RING_EVENT_FLAGS_DESC, 1, false); /* a lap ahead */
    for (i = 0; i < 5; i++) {
        assert_int_equal(add(f->vq, 1, 0, tokn(i)), 0);
        assert_true(fd_pop(&f->d, &f->c));
        fd_push(&f->d, &f->c, 0);
        assert_int_equal(vq_get_buf(f->vq, &t, &len), 0);
    }
    assert_true(vq_kick_prepare(f->vq));
}

static void test_publish_on_kick(void **state)
{
    struct pfx *f = *state;
    void *t;
    uint32_t len;

    assert_int_equal(add(f->vq, 1, 0, tokn(1)), 0);
    assert_int_equal(add(f->vq, 2, 0, tokn(2)), 0);
    assert_false(fd_pop(&f->d, &f->c)); /* first head held back */
    assert_false(vq_has_used(f->vq));
    assert_true(vq_kick_prepare(f->vq));
    assert_true(fd_pop(&f->d, &f->c));
    assert_int_equal(f->c.ndescs, 1);
    fd_push(&f->d, &f->c, 0);
    assert_true(fd_pop(&f->d, &f->c));
    assert_int_equal(f->c.ndescs, 2);
    fd_push(&f->d, &f->c, 0);
    assert_int_equal(vq_get_buf(f->vq, &t, &len), 0);
    assert_ptr_equal(t, tokn(1));
    assert_int_equal(vq_get_buf(f->vq, &t, &len), 0);
    assert_ptr_equal(t, tokn(2));
    /* The next burst starts at the used position: still held back there. */
    assert_int_equal(add(f->vq, 1, 0, tokn(3)), 0);
    assert_false(vq_has_used(f->vq));
    assert_int_equal(vq_get_buf(f->vq, &t, &len), -EAGAIN);
    assert_int_equal(vq_enable_cb_delayed(f->vq), 0);
    assert_false(fd_pop(&f->d, &f->c));
    assert_true(vq_kick_prepare(f->vq));
    assert_true(fd_pop(&f->d, &f->c));
    assert_false(vq_is_broken(f->vq));
}

/* ---- callbacks: the Driver Event Suppression structure ---- */

static void test_cb_flags(void **state)
{
    struct pfx *f = *state; /* no EVENT_IDX */

    assert_int_equal(f->d.drv->flags, RING_EVENT_FLAGS_ENABLE);
    vq_disable_cb(f->vq);
    assert_int_equal(f->d.drv->flags, RING_EVENT_FLAGS_DISABLE);
    assert_int_equal(add(f->vq, 1, 0, tokn(1)), 0);
    assert_true(fd_pop(&f->d, &f->c));
    fd_push(&f->d, &f->c, 0);
    assert_false(fd_need_interrupt(&f->d, 1));
    /* Enable finds the waiting buffer: -EAGAIN, no interrupt promised. */
    assert_int_equal(vq_enable_cb(f->vq), -EAGAIN);
    assert_int_equal(f->d.drv->flags, RING_EVENT_FLAGS_ENABLE);
    assert_true(fd_need_interrupt(&f->d, 1));
    {
        void *t;
        uint32_t len;

        assert_int_equal(vq_get_buf(f->vq, &t, &len), 0);
    }
    assert_int_equal(vq_enable_cb(f->vq), 0);
    /* Delayed without EVENT_IDX is enable. */
    vq_disable_cb(f->vq);
    assert_int_equal(vq_enable_cb_delayed(f->vq), 0);
    assert_int_equal(f->d.drv->flags, RING_EVENT_FLAGS_ENABLE);
}

static void test_cb_event_idx(void **state)
{
    struct pfx *f = *state; /* num 8, EVENT_IDX */
    void *t;
    uint32_t len;
    unsigned i;

    /* Go round so offsets wrap: 11 single-descriptor buffers. */
    for (i = 0; i < 11; i++) {
        assert_int_equal(add(f->vq, 1, 0, tokn(i)), 0);
        assert_true(fd_pop(&f->d, &f->c));
        assert_int_equal(vq_enable_cb(f->vq), 0);
        /* The event is at our next used position: the device's next use. */
        assert_int_equal(f->d.drv->flags, RING_EVENT_FLAGS_DESC);
        fd_push(&f->d, &f->c, 0);
        assert_true(fd_need_interrupt(&f->d, 1));
        assert_int_equal(vq_get_buf(f->vq, &t, &len), 0);
        /* get_buf moved the event along (callbacks on). */
        assert_int_equal(f->d.drv->desc,
                         pvirtq_event_off_wrap((uint16_t)((i + 1) % 8), (i + 1) < 8));
    }
    /* Disabled: no interrupt even at the event. */
    vq_disable_cb(f->vq);
    assert_int_equal(f->d.drv->flags, RING_EVENT_FLAGS_DISABLE);
    assert_int_equal(add(f->vq, 1, 0, tokn(50)), 0);
    assert_true(fd_pop(&f->d, &f->c));
    fd_push(&f->d, &f->c, 0);
    assert_false(fd_need_interrupt(&f->d, 1));
    assert_int_equal(vq_get_buf(f->vq, &t, &len), 0);
    assert_int_equal(vq_enable_cb(f->vq), 0);
}

static void test_cb_delayed(void **state)
{
    struct pfx *f = *state; /* num 8, EVENT_IDX */
    struct fd_chain c[8];
    void *t;
    uint32_t len;
    unsigned i;

    for (i = 0; i < 8; i++) {
        assert_int_equal(add(f->vq, 1, 0, tokn(i)), 0);
        assert_true(fd_pop(&f->d, &c[i]));
    }
    vq_disable_cb(f->vq);
    /* 8 in flight: event after 6 used (offset 6): the 7th use interrupts. */
    assert_int_equal(vq_enable_cb_delayed(f->vq), 0);
    assert_int_equal(f->d.drv->flags, RING_EVENT_FLAGS_DESC);
    assert_int_equal(f->d.drv->desc, pvirtq_event_off_wrap(6, true));
    for (i = 0; i < 6; i++) {
        fd_push(&f->d, &c[i], 0);
        assert_false(fd_need_interrupt(&f->d, 1));
    }
    /* 6 used, not more than 6: still 0. */
    assert_int_equal(vq_enable_cb_delayed(f->vq), 0);
    fd_push(&f->d, &c[6], 0);
    assert_true(fd_need_interrupt(&f->d, 1));
    /* 7 used > 6: the caller must look. */
    assert_int_equal(vq_enable_cb_delayed(f->vq), -EAGAIN);
    fd_push(&f->d, &c[7], 0);
    for (i = 0; i < 8; i++)
        assert_int_equal(vq_get_buf(f->vq, &t, &len), 0);
    assert_int_equal(vq_enable_cb_delayed(f->vq), 0);
    assert_false(vq_is_broken(f->vq));
}


int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_create_any_size),
        T(test_add_descriptors, setup8),
        T(test_add_args, setup8),
        cmocka_unit_test(test_wrap_sizes),
        T(test_wrap_tokens_out_of_order, setup8),
        cmocka_unit_test(test_chain_ring_size),
        T(test_indirect, setup8_indirect),
        T(test_kick_flags, setup8),
        T(test_kick_event_idx, setup4_event),
        T(test_kick_window_past_ring, setup4_event),
        T(test_publish_on_kick, setup8_pok),
        T(test_cb_flags, setup8),
        T(test_cb_event_idx, setup8_event),
        T(test_cb_delayed, setup8_event),
    };

    if (getenv("TEST_FILTER"))
        cmocka_set_test_filter(getenv("TEST_FILTER"));
    return cmocka_run_group_tests_name("virtqueue (packed, driver side)", tests, NULL, NULL);
}
