/* SPDX-License-Identifier: Apache-2.0 */
/*
 * test_virtqueue.c - cmocka unit tests of the driver side
 * (drivers/virtio/virtqueue.c): every public function, the descriptors it
 * writes, kick suppression with and without EVENT_IDX across the 16-bit
 * wrap, callbacks enable/disable with the re-check, detach after reset, and
 * every way a device can break the queue (bad id, duplicate id, len larger
 * than the buffer, used idx jump). The device is either the real vdq or a
 * hand-written used ring.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "ring_fixture.h"

static struct ring_fixture fx_storage;

static int setup8(void **state)
{
    fx_setup(&fx_storage, 8, false, false);
    *state = &fx_storage;
    return 0;
}

static int setup8_event(void **state)
{
    fx_setup(&fx_storage, 8, true, false);
    *state = &fx_storage;
    return 0;
}

static int setup8_indirect(void **state)
{
    fx_setup(&fx_storage, 8, true, true);
    *state = &fx_storage;
    return 0;
}

static int teardown(void **state)
{
    fx_teardown(*state);
    return 0;
}

static int tok[64]; /* tokens: &tok[i] */

/* Add one request: nout readable segments of 8 bytes, nin writable. */
static int add(struct ring_fixture *fx, unsigned nout, unsigned nin, int t)
{
    struct vq_sg sg[32];
    unsigned i;

    assert_true(nout + nin <= 32);
    for (i = 0; i < nout + nin; i++) {
        sg[i].buf = fx->scratch + 8 * i;
        sg[i].len = 8;
        sg[i].pad = 0;
    }
    return vq_add_sgs(fx->vq, sg, nout, nin, &tok[t]);
}

/* Device side: complete everything available, writing `len` bytes each. */
static int complete_all(struct ring_fixture *fx, uint32_t len)
{
    int n = 0;

    while (vdq_pop(&fx->q, &fx->chain) == 0) {
        uint32_t l = len < fx->chain.in_len ? len : fx->chain.in_len;

        assert_int_equal(vdq_push(&fx->q, fx->chain.head, l), 0);
        n++;
    }
    return n;
}

/* Hand-written used entry (a device that may lie). */
static void fake_used(struct ring_fixture *fx, uint32_t id, uint32_t len)
{
    struct virtq_used *u = fx_vq_used(fx);
    uint16_t idx = u->idx;

    u->ring[idx & (fx->num - 1)].id = id;
    u->ring[idx & (fx->num - 1)].len = len;
    __atomic_store_n(&u->idx, (uint16_t)(idx + 1), __ATOMIC_RELEASE);
}

static void assert_all_eio(struct ring_fixture *fx)
{
    void *t;
    uint32_t len;

    assert_true(vq_is_broken(fx->vq));
    assert_int_equal(vq_get_buf(fx->vq, &t, &len), -EIO);
    assert_int_equal(add(fx, 1, 0, 9), -EIO);
    assert_false(vq_kick_prepare(fx->vq));
    assert_int_equal(vq_notify(fx->vq), -EIO);
    assert_int_equal(vq_kick(fx->vq), -EIO);
    assert_int_equal(vq_enable_cb(fx->vq), -EIO);
    assert_false(vq_has_used(fx->vq));
}

/* ---- create / destroy / accessors ---- */

static void test_create_sizes(void **state)
{
    struct vq_config cfg = {0};
    struct virtqueue *vq;
    uint32_t bad[] = {0, 3, 12, 1000, 32767, 65536};
    uint32_t n;

    (void)state;
    for (n = 1; n <= 32768; n <<= 1) {
        cfg.num = n;
        cfg.indirect = n <= 1024;
        assert_int_equal(vq_create(&cfg, &vq), 0);
        assert_int_equal(vq_get_size(vq), n);
        assert_int_equal(vq_num_free(vq), n);
        assert_false(vq_is_broken(vq));
        vq_destroy(vq);
    }
    for (n = 0; n < sizeof(bad) / sizeof(bad[0]); n++) {
        cfg.num = bad[n];
        assert_int_equal(vq_create(&cfg, &vq), -EINVAL);
    }
    cfg.num = 8;
    cfg.indirect_max = 1000;
    assert_int_equal(vq_create(&cfg, &vq), -EINVAL);
    assert_int_equal(vq_create(NULL, &vq), -EINVAL);
    vq_destroy(NULL);
}

static void test_ring_addrs(void **state)
{
    struct ring_fixture *fx = *state;
    uint64_t d, a, u;

    vq_get_ring_addrs(fx->vq, &d, &a, &u);
    assert_int_equal(d % 16, 0);
    assert_int_equal(a % 2, 0);
    assert_int_equal(u % 4, 0);
    assert_true(d >= FX_GPA_BASE && d < FX_GPA_BASE + FX_ARENA_SIZE);
    assert_true(a >= d + 8 * 16);
    assert_true(u >= a + 6 + 2 * 8);
}

/* ---- vq_add_sgs ---- */

static void test_add_args(void **state)
{
    struct ring_fixture *fx = *state;
    struct vq_sg sg = {.buf = fx_alloc(fx, 8, NULL), .len = 8};
    struct vq_sg big[2] = {{.buf = sg.buf, .len = UINT32_MAX}, {.buf = sg.buf, .len = 2}};

    assert_int_equal(vq_add_sgs(fx->vq, &sg, 1, 0, NULL), -EINVAL);
    assert_int_equal(vq_add_sgs(fx->vq, &sg, 0, 0, &tok[0]), -EINVAL);
    assert_int_equal(vq_add_sgs(fx->vq, NULL, 1, 0, &tok[0]), -EINVAL);
    assert_int_equal(vq_add_sgs(fx->vq, big, 0, 2, &tok[0]), -EINVAL); /* in_len > 4 GiB */
    assert_int_equal(vq_add_sgs(fx->vq, big, 1, 1, &tok[0]), -EINVAL); /* > 2^32 in all */
    assert_int_equal(add(fx, 9, 0, 0), -EINVAL);                       /* longer than the ring */
    assert_int_equal(vq_num_free(fx->vq), 8);
}

static void test_add_descriptors(void **state)
{
    struct ring_fixture *fx = *state;
    struct vq_sg sg[3];
    struct virtq_desc *d = fx_vq_desc(fx);
    struct virtq_avail *av = fx_vq_avail(fx);
    uint16_t i, head;

    for (i = 0; i < 3; i++) {
        sg[i].buf = fx_alloc(fx, 100 + i, NULL);
        sg[i].len = 100 + i;
    }
    assert_int_equal(vq_add_sgs(fx->vq, sg, 1, 2, &tok[1]), 0);
    assert_int_equal(vq_num_free(fx->vq), 5);
    assert_int_equal(av->idx, 1);
    head = av->ring[0];
    /* out then in, chained with NEXT, addresses translated to guest ones */
    assert_int_equal(d[head].addr, fx_gpa(fx, sg[0].buf));
    assert_int_equal(d[head].len, 100);
    assert_int_equal(d[head].flags, VIRTQ_DESC_F_NEXT);
    i = d[head].next;
    assert_int_equal(d[i].addr, fx_gpa(fx, sg[1].buf));
    assert_int_equal(d[i].flags, VIRTQ_DESC_F_NEXT | VIRTQ_DESC_F_WRITE);
    i = d[i].next;
    assert_int_equal(d[i].len, 102);
    assert_int_equal(d[i].flags, VIRTQ_DESC_F_WRITE);
    assert_int_equal(d[i].next, 0); /* no F_NEXT: next kept at 0 */
    assert_int_equal(vq_get_stats(fx->vq)->adds, 1);
    assert_int_equal(vq_get_stats(fx->vq)->indirect_adds, 0);
}

static void test_add_rewrites_changed_descriptors(void **state)
{
    struct ring_fixture *fx = *state;
    struct virtq_desc *d = fx_vq_desc(fx);
    struct vq_sg sg = {.buf = fx->scratch, .len = 8};
    void *t;
    uint32_t len;
    uint16_t head;

    /* Same buffer again: same descriptor contents; a different one: new. */
    assert_int_equal(vq_add_sgs(fx->vq, &sg, 1, 0, &tok[0]), 0);
    assert_int_equal(complete_all(fx, 0), 1);
    assert_int_equal(vq_get_buf(fx->vq, &t, &len), 0);
    assert_int_equal(vq_add_sgs(fx->vq, &sg, 0, 1, &tok[1]), 0);
    head = fx_vq_avail(fx)->ring[1];
    assert_int_equal(d[head].flags, VIRTQ_DESC_F_WRITE);
    sg.buf = fx->scratch + 64;
    sg.len = 9;
    assert_int_equal(complete_all(fx, 0), 1);
    assert_int_equal(vq_get_buf(fx->vq, &t, &len), 0);
    assert_int_equal(vq_add_sgs(fx->vq, &sg, 1, 0, &tok[2]), 0);
    head = fx_vq_avail(fx)->ring[2];
    assert_int_equal(d[head].addr, fx_gpa(fx, fx->scratch + 64));
    assert_int_equal(d[head].len, 9);
    assert_int_equal(d[head].flags, 0);
    assert_int_equal(vdq_pop(&fx->q, &fx->chain), 0);
    assert_int_equal(fx->chain.out_len, 9);
}

static void test_add_until_full(void **state)
{
    struct ring_fixture *fx = *state;
    void *t;
    uint32_t len;

    assert_int_equal(add(fx, 2, 1, 0), 0);
    assert_int_equal(add(fx, 2, 1, 1), 0);
    assert_int_equal(vq_num_free(fx->vq), 2);
    assert_int_equal(add(fx, 2, 1, 2), -ENOSPC);
    assert_int_equal(add(fx, 1, 1, 2), 0);
    assert_int_equal(vq_num_free(fx->vq), 0);
    assert_int_equal(add(fx, 1, 0, 3), -ENOSPC);
    assert_int_equal(complete_all(fx, 8), 3);
    assert_int_equal(vq_get_buf(fx->vq, &t, &len), 0);
    assert_ptr_equal(t, &tok[0]);
    assert_int_equal(len, 8);
    assert_int_equal(vq_num_free(fx->vq), 3);
    assert_int_equal(add(fx, 1, 2, 3), 0);
}

static void test_add_indirect(void **state)
{
    struct ring_fixture *fx = *state;
    struct virtq_desc *d = fx_vq_desc(fx);
    struct virtq_avail *av = fx_vq_avail(fx);
    void *t;
    uint32_t len;
    int i;

    /* 4 segments take 1 ring slot; a single segment is direct. */
    assert_int_equal(add(fx, 2, 2, 0), 0);
    assert_int_equal(vq_num_free(fx->vq), 7);
    assert_int_equal(d[av->ring[0]].flags, VIRTQ_DESC_F_INDIRECT);
    assert_int_equal(d[av->ring[0]].len, 4 * 16);
    assert_int_equal(add(fx, 1, 0, 1), 0);
    assert_int_equal(d[av->ring[1]].flags, 0);
    assert_int_equal(vq_num_free(fx->vq), 6);
    /* more than indirect_max (16) segments: direct chain, if it fits */
    assert_int_equal(add(fx, 17, 0, 2), -EINVAL);
    assert_int_equal(vq_get_stats(fx->vq)->indirect_adds, 1);
    /* 8 indirect requests of 16 segments each fill an 8-ring */
    assert_int_equal(complete_all(fx, 100), 2);
    for (i = 0; i < 2; i++)
        assert_int_equal(vq_get_buf(fx->vq, &t, &len), 0);
    for (i = 0; i < 8; i++)
        assert_int_equal(add(fx, 8, 8, i), 0);
    assert_int_equal(complete_all(fx, 64), 8);
    for (i = 0; i < 8; i++) {
        assert_int_equal(vq_get_buf(fx->vq, &t, &len), 0);
        assert_ptr_equal(t, &tok[i]);
        assert_int_equal(len, 64);
    }
    assert_int_equal(vq_num_free(fx->vq), 8);
    assert_int_equal(fx->q.stats.bad_chains, 0);
}

/* ---- kick ---- */

static void test_kick_flags(void **state)
{
    struct ring_fixture *fx = *state;
    struct virtq_used *u = fx_vq_used(fx);

    assert_false(vq_kick_prepare(fx->vq)); /* nothing added */
    assert_int_equal(add(fx, 1, 0, 0), 0);
    assert_true(vq_kick_prepare(fx->vq));
    assert_false(vq_kick_prepare(fx->vq)); /* already told */
    u->flags = VIRTQ_USED_F_NO_NOTIFY;
    assert_int_equal(add(fx, 1, 0, 1), 0);
    assert_false(vq_kick_prepare(fx->vq));
    u->flags = 0;
    assert_int_equal(add(fx, 1, 0, 2), 0);
    assert_int_equal(vq_kick(fx->vq), 0);
    assert_int_equal(fx->notifies, 1);
    assert_int_equal(vq_notify(fx->vq), 0);
    assert_int_equal(fx->notifies, 2);
    assert_int_equal(vq_get_stats(fx->vq)->kicks, 2);
    assert_int_equal(vq_get_stats(fx->vq)->kicks_saved, 1);
}

/* Drive the driver's avail index to `at` with add/complete/get cycles. */
static void advance_avail(struct ring_fixture *fx, uint16_t at)
{
    void *t;
    uint32_t len;

    while (fx_vq_avail(fx)->idx != at) {
        assert_int_equal(add(fx, 1, 0, 0), 0);
        vq_kick_prepare(fx->vq);
        assert_int_equal(complete_all(fx, 0), 1);
        assert_int_equal(vq_get_buf(fx->vq, &t, &len), 0);
    }
}

static void set_avail_event(struct ring_fixture *fx, uint16_t v)
{
    *virtq_avail_event(fx_vq_used(fx), fx->num) = v;
}

static void test_kick_event_idx_wrap(void **state)
{
    struct ring_fixture *fx = *state;
    int i;

    advance_avail(fx, 65533);
    /* avail_event 65533, we publish 65533 -> 65534: must kick */
    set_avail_event(fx, 65533);
    assert_int_equal(add(fx, 1, 0, 0), 0);
    assert_true(vq_kick_prepare(fx->vq));
    /* 65534 -> 65535 with the event left behind: no kick */
    assert_int_equal(add(fx, 1, 0, 1), 0);
    assert_false(vq_kick_prepare(fx->vq));
    /* a batch crossing the wrap, 65535 -> 2, event exactly at 0 */
    set_avail_event(fx, 0);
    for (i = 0; i < 3; i++)
        assert_int_equal(add(fx, 1, 0, 2 + i), 0);
    assert_int_equal(fx_vq_avail(fx)->idx, 2);
    assert_true(vq_kick_prepare(fx->vq));
    /* event == new idx: not crossed yet */
    complete_all(fx, 0);
    set_avail_event(fx, 4);
    assert_int_equal(add(fx, 1, 0, 6), 0);
    assert_int_equal(add(fx, 1, 0, 7), 0);
    assert_false(vq_kick_prepare(fx->vq));
}

static void test_kick_event_idx_one_lap(void **state)
{
    struct ring_fixture *fx = *state;
    void *t;
    uint32_t len, i, kicks = 0;

    /* The device never moves avail_event (stays 5): the driver kicks once
     * per lap of the 16-bit index. */
    set_avail_event(fx, 5);
    for (i = 0; i < 2 * 65536; i++) {
        assert_int_equal(add(fx, 1, 0, 0), 0);
        if (vq_kick_prepare(fx->vq))
            kicks++;
        assert_int_equal(vdq_pop(&fx->q, &fx->chain), 0);
        vdq_push(&fx->q, fx->chain.head, 0);
        assert_int_equal(vq_get_buf(fx->vq, &t, &len), 0);
        set_avail_event(fx, 5); /* vdq_pop moved it: put it back */
    }
    assert_int_equal(kicks, 2);
}

static void test_publish_on_kick(void **state)
{
    struct ring_fixture *fx = *state;
    struct vq_config cfg = {.num = 8, .publish_on_kick = true};
    struct vdq_config dcfg = {.num = 8};
    void *t;
    uint32_t len;

    vq_destroy(fx->vq);
    assert_int_equal(vq_create(&cfg, &fx->vq), 0);
    vq_get_ring_addrs(fx->vq, &dcfg.desc_gpa, &dcfg.avail_gpa, &dcfg.used_gpa);
    fx->desc_gpa = dcfg.desc_gpa;
    fx->avail_gpa = dcfg.avail_gpa;
    fx->used_gpa = dcfg.used_gpa;
    assert_int_equal(vdq_init(&fx->q, &fx->mem, &dcfg), 0);
    assert_int_equal(add(fx, 1, 1, 0), 0);
    assert_int_equal(add(fx, 1, 1, 1), 0);
    assert_int_equal(fx_vq_avail(fx)->idx, 0); /* not yet visible */
    assert_int_equal(vdq_pop(&fx->q, &fx->chain), -EAGAIN);
    assert_true(vq_kick_prepare(fx->vq));
    assert_int_equal(fx_vq_avail(fx)->idx, 2);
    assert_int_equal(complete_all(fx, 1), 2);
    assert_int_equal(vq_get_buf(fx->vq, &t, &len), 0);
    assert_ptr_equal(t, &tok[0]);
}

/* ---- get_buf ---- */

static void test_get_buf(void **state)
{
    struct ring_fixture *fx = *state;
    void *t;
    uint32_t len;

    assert_int_equal(vq_get_buf(fx->vq, &t, &len), -EAGAIN);
    assert_false(vq_has_used(fx->vq));
    assert_int_equal(add(fx, 1, 1, 3), 0);
    assert_int_equal(add(fx, 1, 1, 4), 0);
    assert_int_equal(complete_all(fx, 5), 2);
    assert_true(vq_has_used(fx->vq));
    assert_int_equal(vq_get_buf(fx->vq, &t, &len), 0);
    assert_ptr_equal(t, &tok[3]);
    assert_int_equal(len, 5);
    assert_int_equal(vq_get_buf(fx->vq, &t, &len), 0);
    assert_ptr_equal(t, &tok[4]);
    assert_int_equal(vq_get_buf(fx->vq, &t, &len), -EAGAIN);
    assert_int_equal(vq_num_free(fx->vq), 8);
    assert_int_equal(vq_get_stats(fx->vq)->used, 2);
}

static void test_get_buf_out_of_order(void **state)
{
    struct ring_fixture *fx = *state;
    void *t;
    uint32_t len;
    uint16_t h[3];
    int i;

    for (i = 0; i < 3; i++) {
        assert_int_equal(add(fx, 1, 1, i), 0);
        assert_int_equal(vdq_pop(&fx->q, &fx->chain), 0);
        h[i] = fx->chain.head;
    }
    vdq_push(&fx->q, h[2], 1);
    vdq_push(&fx->q, h[0], 2);
    vdq_push(&fx->q, h[1], 3);
    for (i = 0; i < 3; i++) {
        int want = i == 0 ? 2 : i == 1 ? 0 : 1;

        assert_int_equal(vq_get_buf(fx->vq, &t, &len), 0);
        assert_ptr_equal(t, &tok[want]);
        assert_int_equal(len, (uint32_t)i + 1);
    }
    assert_int_equal(vq_num_free(fx->vq), 8);
}

/* ---- broken by the device ---- */

static void test_broken_bad_id(void **state)
{
    struct ring_fixture *fx = *state;
    void *t;
    uint32_t len;

    assert_int_equal(add(fx, 1, 1, 0), 0);
    fake_used(fx, 8, 0);
    assert_int_equal(vq_get_buf(fx->vq, &t, &len), -EIO);
    assert_all_eio(fx);
}

static void test_broken_id_not_in_flight(void **state)
{
    struct ring_fixture *fx = *state;
    void *t;
    uint32_t len;

    assert_int_equal(add(fx, 1, 1, 0), 0); /* head 0 */
    fake_used(fx, 5, 0);                   /* never added */
    assert_int_equal(vq_get_buf(fx->vq, &t, &len), -EIO);
    assert_all_eio(fx);
}

static void test_broken_duplicate_id(void **state)
{
    struct ring_fixture *fx = *state;
    void *t;
    uint32_t len;
    uint16_t head = fx_vq_avail(fx)->ring[0];

    assert_int_equal(add(fx, 1, 1, 0), 0);
    assert_int_equal(add(fx, 1, 1, 1), 0);
    head = fx_vq_avail(fx)->ring[0];
    fake_used(fx, head, 1);
    fake_used(fx, head, 1);
    assert_int_equal(vq_get_buf(fx->vq, &t, &len), 0);
    assert_int_equal(vq_get_buf(fx->vq, &t, &len), -EIO);
    assert_all_eio(fx);
}

static void test_broken_len_too_big(void **state)
{
    struct ring_fixture *fx = *state;
    void *t;
    uint32_t len;

    assert_int_equal(add(fx, 2, 2, 0), 0); /* 16 writable bytes */
    fake_used(fx, fx_vq_avail(fx)->ring[0], 17);
    assert_int_equal(vq_get_buf(fx->vq, &t, &len), -EIO);
    assert_all_eio(fx);
}

static void test_len_equal_buffer_ok(void **state)
{
    struct ring_fixture *fx = *state;
    void *t;
    uint32_t len;

    assert_int_equal(add(fx, 2, 2, 0), 0);
    fake_used(fx, fx_vq_avail(fx)->ring[0], 16);
    assert_int_equal(vq_get_buf(fx->vq, &t, &len), 0);
    assert_int_equal(len, 16);
}

static void test_broken_used_idx_jump(void **state)
{
    struct ring_fixture *fx = *state;
    void *t;
    uint32_t len;

    assert_int_equal(add(fx, 1, 1, 0), 0);
    fx_vq_used(fx)->idx = 9; /* 9 entries at once in an 8-ring */
    assert_int_equal(vq_get_buf(fx->vq, &t, &len), -EIO);
    assert_all_eio(fx);
}

static void test_broken_used_idx_backwards(void **state)
{
    struct ring_fixture *fx = *state;

    fx_vq_used(fx)->idx = 0xffff; /* went backwards by one */
    assert_int_equal(vq_enable_cb(fx->vq), -EIO);
    assert_all_eio(fx);
}

/* ---- callbacks ---- */

static void test_cb_flags(void **state)
{
    struct ring_fixture *fx = *state;
    struct virtq_avail *av = fx_vq_avail(fx);
    void *t;
    uint32_t len;

    vq_disable_cb(fx->vq);
    assert_int_equal(av->flags, VIRTQ_AVAIL_F_NO_INTERRUPT);
    assert_int_equal(vq_enable_cb(fx->vq), 0);
    assert_int_equal(av->flags, 0);
    /* a buffer used while callbacks were off is reported by enable */
    vq_disable_cb(fx->vq);
    assert_int_equal(add(fx, 1, 1, 0), 0);
    assert_int_equal(complete_all(fx, 1), 1);
    assert_false(vdq_interrupt_prepare(&fx->q)); /* device: suppressed */
    assert_int_equal(vq_enable_cb(fx->vq), -EAGAIN);
    assert_int_equal(vq_get_buf(fx->vq, &t, &len), 0);
    assert_int_equal(vq_enable_cb(fx->vq), 0);
    /* and with callbacks on, the device interrupts */
    assert_int_equal(add(fx, 1, 1, 1), 0);
    assert_int_equal(complete_all(fx, 1), 1);
    assert_true(vdq_interrupt_prepare(&fx->q));
}

static void test_cb_event_idx(void **state)
{
    struct ring_fixture *fx = *state;
    struct virtq_avail *av = fx_vq_avail(fx);
    __le16 *used_event = virtq_used_event(av, fx->num);
    void *t;
    uint32_t len;

    assert_int_equal(vq_enable_cb(fx->vq), 0);
    assert_int_equal(*used_event, 0);
    vq_disable_cb(fx->vq);
    assert_int_equal(av->flags, 0); /* 2.7.7.1: flags stay 0 */
    assert_int_equal(*used_event, 0x8000);
    assert_int_equal(add(fx, 1, 1, 0), 0);
    assert_int_equal(complete_all(fx, 1), 1);
    assert_false(vdq_interrupt_prepare(&fx->q));
    assert_int_equal(vq_enable_cb(fx->vq), -EAGAIN);
    assert_int_equal(*used_event, 0);
    assert_int_equal(vq_get_buf(fx->vq, &t, &len), 0);
    /* callbacks on: get_buf moved used_event to the next entry */
    assert_int_equal(*used_event, 1);
    assert_int_equal(add(fx, 1, 1, 1), 0);
    assert_int_equal(complete_all(fx, 1), 1);
    assert_true(vdq_interrupt_prepare(&fx->q));
}

static void test_cb_delayed(void **state)
{
    struct ring_fixture *fx = *state;
    __le16 *used_event = virtq_used_event(fx_vq_avail(fx), fx->num);
    void *t;
    uint32_t len;
    int i;

    /* 8 in flight: interrupt wanted after 3/4 of them, at entry 6. */
    vq_disable_cb(fx->vq);
    for (i = 0; i < 8; i++)
        assert_int_equal(add(fx, 1, 0, i), 0);
    assert_int_equal(vq_enable_cb_delayed(fx->vq), 0);
    assert_int_equal(*used_event, 6);
    for (i = 0; i < 6; i++) {
        assert_int_equal(vdq_pop(&fx->q, &fx->chain), 0);
        vdq_push(&fx->q, fx->chain.head, 0);
    }
    assert_false(vdq_interrupt_prepare(&fx->q)); /* entries 0..5 */
    assert_int_equal(vdq_pop(&fx->q, &fx->chain), 0);
    vdq_push(&fx->q, fx->chain.head, 0);
    assert_true(vdq_interrupt_prepare(&fx->q)); /* entry 6 crossed */
    /* 7 used of 8 in flight: more than 3/4 already, so "process now" */
    vq_disable_cb(fx->vq);
    assert_int_equal(vq_enable_cb_delayed(fx->vq), -EAGAIN);
    for (i = 0; i < 7; i++)
        assert_int_equal(vq_get_buf(fx->vq, &t, &len), 0);
    assert_int_equal(vq_enable_cb_delayed(fx->vq), 0); /* 1 in flight: at once */
    assert_int_equal(*used_event, 7);
}

static void test_cb_delayed_no_event_idx(void **state)
{
    struct ring_fixture *fx = *state;

    vq_disable_cb(fx->vq);
    assert_int_equal(vq_enable_cb_delayed(fx->vq), 0);
    assert_int_equal(fx_vq_avail(fx)->flags, 0);
}

/* ---- detach after reset ---- */

static void test_detach_unused(void **state)
{
    struct ring_fixture *fx = *state;
    void *t;
    uint32_t len;
    int seen = 0, i;
    void *tk;

    for (i = 0; i < 4; i++)
        assert_int_equal(add(fx, 1, 1, i), 0);
    assert_int_equal(complete_all(fx, 1), 4);
    assert_int_equal(vq_get_buf(fx->vq, &t, &len), 0);
    /* three still "in flight" as far as the driver knows: device reset */
    while ((tk = vq_detach_unused(fx->vq)) != NULL) {
        int idx = (int)((int *)tk - tok);

        assert_true(idx >= 1 && idx <= 3);
        seen |= 1 << idx;
    }
    assert_int_equal(seen, 0xe);
    assert_int_equal(vq_num_free(fx->vq), 8);
    /* the rings start over: a fresh device queue works with them */
    assert_int_equal(fx_vq_avail(fx)->idx, 0);
    {
        struct vdq_config c = {.num = 8,
                               .desc_gpa = fx->desc_gpa,
                               .avail_gpa = fx->avail_gpa,
                               .used_gpa = fx->used_gpa};
        assert_int_equal(vdq_init(&fx->q, &fx->mem, &c), 0);
    }
    assert_int_equal(add(fx, 1, 1, 5), 0);
    assert_int_equal(complete_all(fx, 1), 1);
    assert_int_equal(vq_get_buf(fx->vq, &t, &len), 0);
    assert_ptr_equal(t, &tok[5]);
}

#define T(f, s) cmocka_unit_test_setup_teardown(f, s, teardown)

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_create_sizes),
        T(test_ring_addrs, setup8),
        T(test_add_args, setup8),
        T(test_add_descriptors, setup8),
        T(test_add_rewrites_changed_descriptors, setup8),
        T(test_add_until_full, setup8),
        T(test_add_indirect, setup8_indirect),
        T(test_kick_flags, setup8),
        T(test_kick_event_idx_wrap, setup8_event),
        T(test_kick_event_idx_one_lap, setup8_event),
        T(test_publish_on_kick, setup8),
        T(test_get_buf, setup8),
        T(test_get_buf_out_of_order, setup8),
        T(test_broken_bad_id, setup8),
        T(test_broken_id_not_in_flight, setup8),
        T(test_broken_duplicate_id, setup8),
        T(test_broken_len_too_big, setup8),
        T(test_len_equal_buffer_ok, setup8),
        T(test_broken_used_idx_jump, setup8),
        T(test_broken_used_idx_backwards, setup8),
        T(test_cb_flags, setup8),
        T(test_cb_event_idx, setup8_event),
        T(test_cb_delayed, setup8_event),
        T(test_cb_delayed_no_event_idx, setup8),
        T(test_detach_unused, setup8),
    };

    /* TEST_FILTER='test_bad_*' runs only the matching cases. */
    if (getenv("TEST_FILTER"))
        cmocka_set_test_filter(getenv("TEST_FILTER"));
    return cmocka_run_group_tests_name("virtqueue (driver side)", tests, NULL, NULL);
}
