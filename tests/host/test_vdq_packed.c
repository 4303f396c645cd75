/* SPDX-License-Identifier: Apache-2.0 */
/*
 * test_vdq_packed.c - cmocka unit tests of the packed device queue
 * (hostsim/vdq_packed.c, virtio 1.2 section 2.8) through the vdq API.
 *
 * The driver is the test-local one of packed_fixture.c, written from the
 * spec's text (not from drivers/virtio).
 *
 * Covered: ring wrap at sizes 1, 3, 255, 256, 32768 with lists crossing the
 * end; a list of exactly the ring size; every bad-chain reason (returned
 * with len 0, id from the last descriptor, counted, queue goes on); every
 * corrupt-ring case (broken, -EIO). Event suppression, batches, state and
 * the vdev/vmmio switch are in test_vdq_packed_event.c.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "packed_fixture.h"

/* ---- init ---- */

static void test_init_sizes(void **state)
{
    uint32_t good[] = {1, 2, 3, 100, 255, 256, 257, 1000, 32767, 32768};
    uint32_t bad[] = {0, 32769, 65536};
    struct vdq q;
    unsigned k;

    (void)state;
    p_setup_q(&F, 32768, false, false, false);
    for (k = 0; k < sizeof(good) / sizeof(good[0]); k++) {
        F.cfg.num = good[k];
        F.cfg.packed_ids = F.ids;
        assert_int_equal(vdq_init(&q, &F.mem, &F.cfg), 0);
        assert_true(q.avail_wrap);
        assert_true(q.used_wrap);
        /* Above the inline table, the caller's storage is required. */
        F.cfg.packed_ids = NULL;
        assert_int_equal(vdq_init(&q, &F.mem, &F.cfg), good[k] > VDQ_PACKED_IDS_INLINE ? -EINVAL : 0);
    }
    for (k = 0; k < sizeof(bad) / sizeof(bad[0]); k++) {
        F.cfg.num = bad[k];
        F.cfg.packed_ids = F.ids;
        assert_int_equal(vdq_init(&q, &F.mem, &F.cfg), -EINVAL);
    }
    /* The split layout still refuses 3 (it needs a power of two). */
    F.cfg.num = 3;
    F.cfg.packed = false;
    assert_int_equal(vdq_init(&q, &F.mem, &F.cfg), -EINVAL);
}

static void test_init_placement(void **state)
{
    struct vdq q;
    struct vdq_config c;

    (void)state;
    p_setup_q(&F, 8, false, false, false);
    c = F.cfg;
    c.desc_gpa += 8; /* 2.8.10.1: 16-aligned */
    assert_int_equal(vdq_init(&q, &F.mem, &c), -EINVAL);
    c = F.cfg;
    c.avail_gpa += 2; /* 4-aligned */
    assert_int_equal(vdq_init(&q, &F.mem, &c), -EINVAL);
    c = F.cfg;
    c.used_gpa += 2;
    assert_int_equal(vdq_init(&q, &F.mem, &c), -EINVAL);
    c = F.cfg;
    c.desc_gpa = GPA_BASE + ARENA_SIZE - 64; /* 8 descriptors run off memory */
    assert_int_equal(vdq_init(&q, &F.mem, &c), -EINVAL);
    c = F.cfg;
    c.used_gpa = 0x1000; /* outside */
    assert_int_equal(vdq_init(&q, &F.mem, &c), -EINVAL);
    c = F.cfg;
    c.avail_gpa = GPA_BASE + ARENA_SIZE; /* 4 bytes past the end */
    assert_int_equal(vdq_init(&q, &F.mem, &c), -EINVAL);
}

/* ---- pop / push ---- */

static void test_pop_push_simple(void **state)
{
    uint8_t *a, *b, *c, tmp[64];
    struct seg s[3];
    uint16_t fl, id;
    uint32_t len;

    (void)state;
    p_setup_q(&F, 8, false, false, false);
    assert_int_equal(vdq_pop(&F.q, &F.chain), -EAGAIN); /* zeroed ring: nothing */
    assert_false(vdq_has_avail(&F.q));
    s[0] = (struct seg){p_buf(&F, 10, &a), 10, 0};
    s[1] = (struct seg){p_buf(&F, 20, &b), 20, 0};
    s[2] = (struct seg){p_buf(&F, 30, &c), 30, W};
    memset(a, 0xaa, 10);
    memset(b, 0xbb, 20);
    drv_add(&F, 5, s, 3);
    assert_true(vdq_has_avail(&F.q));
    assert_int_equal(vdq_pop(&F.q, &F.chain), 0);
    assert_int_equal(F.chain.head, 5);
    assert_int_equal(F.chain.nout, 2);
    assert_int_equal(F.chain.nin, 1);
    assert_int_equal(F.chain.ndesc, 3);
    assert_int_equal(F.chain.out_len, 30);
    assert_int_equal(F.chain.in_len, 30);
    assert_ptr_equal(F.iov[0].base, a);
    assert_ptr_equal(F.iov[2].base, c);
    assert_int_equal(vdq_chain_read(&F.chain, 8, tmp, 64), 22);
    assert_int_equal(tmp[1], 0xaa);
    assert_int_equal(tmp[2], 0xbb);
    memset(tmp, 0x5c, sizeof(tmp));
    assert_int_equal(vdq_chain_write(&F.chain, 0, tmp, 64), 30);
    assert_int_equal(c[29], 0x5c);
    assert_int_equal(vdq_pop(&F.q, &F.chain), -EAGAIN);
    assert_int_equal(F.q.next_avail, 3);

    assert_int_equal(vdq_push(&F.q, 6, 0), -EINVAL); /* not in flight */
    assert_int_equal(vdq_push(&F.q, 8, 0), -EINVAL); /* out of range */
    assert_int_equal(vdq_push(&F.q, 5, 30), 0);
    assert_int_equal(vdq_push(&F.q, 5, 30), -EINVAL); /* no longer in flight */
    /* The used element overwrites the list's first descriptor (2.8.6), with
     * WRITE since bytes were written (2.8.3), and the device skips 3. */
    assert_true(drv_get_used(&F, &id, &len, &fl));
    assert_int_equal(id, 5);
    assert_int_equal(len, 30);
    assert_true(fl & W);
    assert_int_equal(F.q.next_used, 3);
    assert_int_equal(F.q.stats.popped, 1);
    assert_int_equal(F.q.stats.pushed, 1);
    /* len 0: no WRITE. */
    drv_add1(&F, 1, p_buf(&F, 4, NULL), 4, W);
    assert_int_equal(vdq_pop(&F.q, &F.chain), 0);
    assert_int_equal(vdq_push(&F.q, 1, 0), 0);
    assert_true(drv_get_used(&F, &id, &len, &fl));
    assert_false(fl & W);
}

/* 2.8.6: the buffer id is in the last descriptor; the others' id fields
 * mean nothing. */
static void test_id_from_last_descriptor(void **state)
{
    struct seg s[3];

    (void)state;
    p_setup_q(&F, 8, false, false, false);
    s[0] = (struct seg){p_buf(&F, 8, NULL), 8, 0};
    s[1] = (struct seg){p_buf(&F, 8, NULL), 8, 0};
    s[2] = (struct seg){p_buf(&F, 8, NULL), 8, W};
    drv_add_ex(&F, 2, s, 3, false, 6);
    assert_int_equal(vdq_pop(&F.q, &F.chain), 0);
    assert_int_equal(F.chain.head, 2);
    assert_int_equal(vdq_push(&F.q, 6, 0), -EINVAL);
    assert_int_equal(vdq_push(&F.q, 2, 8), 0);
    expect_used(&F, 2, 8);
}

/* Out-of-order completion: each used element goes at next_used and skips
 * its own list's length; the driver finds every id with its length. */
static void test_out_of_order(void **state)
{
    struct seg s[3];
    unsigned k;

    (void)state;
    p_setup_q(&F, 7, false, false, false);
    for (k = 0; k < 3; k++)
        s[k] = (struct seg){p_buf(&F, 8, NULL), 8, k == 2 ? W : 0};
    drv_add(&F, 4, s, 3); /* offsets 0-2 */
    drv_add(&F, 0, s, 1); /* 3 */
    drv_add(&F, 6, s, 2); /* 4-5 */
    assert_int_equal(vdq_pop(&F.q, &F.chain), 0);
    assert_int_equal(F.chain.head, 4);
    assert_int_equal(vdq_pop(&F.q, &F.chain), 0);
    assert_int_equal(F.chain.head, 0);
    assert_int_equal(vdq_pop(&F.q, &F.chain), 0);
    assert_int_equal(F.chain.head, 6);
    assert_int_equal(F.q.next_avail, 6);
    assert_int_equal(vdq_push(&F.q, 6, 1), 0); /* at 0, skip 2 */
    assert_int_equal(vdq_push(&F.q, 0, 2), 0); /* at 2, skip 1 */
    assert_int_equal(vdq_push(&F.q, 4, 3), 0); /* at 3, skip 3 */
    assert_int_equal(F.q.next_used, 6);
    expect_used(&F, 6, 1);
    expect_used(&F, 0, 2);
    expect_used(&F, 4, 3);
    expect_no_used(&F);
}

/*
 * Many laps at size num, lists of 1..3 elements so they cross the end of
 * the ring at every phase, up to `depth` in flight, completed in a rotating
 * order (so used elements land out of order). Data is checked on the
 * device side, ids and lengths on the driver side; with publish_on_interrupt
 * nothing is visible before the interrupt decision.
 */
static void run_wrap(uint32_t num, unsigned laps, unsigned depth)
{
    uint64_t total = (uint64_t)laps * num + 3, done = 0, issued = 0;
    unsigned maxlen = num < 3 ? num : 3, k;
    uint16_t held[8], order[8], next_id = 0, nh = 0;
    uint8_t *mem, expect[8] = {0};
    uint64_t base = p_buf(&F, 4096, &mem);
    bool saw_wrap_mid_list = false;

    if (depth > 8)
        depth = 8;
    while (done < total) {
        uint32_t room = num; /* everything was returned last round */
        unsigned inflight = 0, no = 0;

        /* Fill: the driver needs room for the whole list (2.8.17). */
        while (issued < total && inflight < depth) {
            unsigned n = 1 + (unsigned)((issued / 2) % maxlen); /* 1,1,2,2,3,3 */
            struct seg s[3];
            uint16_t id = next_id;

            if (n > room || F.sgs[id])
                break;
            next_id = (uint16_t)((next_id + 1) % num);
            for (k = 0; k < n; k++) {
                uint32_t o = (uint32_t)((issued * 7 + k * 64) % 4000);

                s[k] = (struct seg){base + o, 8, k + 1 == n && n > 1 ? W : 0};
                if (k == 0)
                    mem[o] = (uint8_t)issued;
            }
            expect[inflight] = (uint8_t)issued;
            if (n > 1 && F.next_avail + n > num)
                saw_wrap_mid_list = true;
            drv_add(&F, id, s, n);
            issued++;
            inflight++;
            room -= n;
        }
        /* Device: pop all (in ring order), hold them. */
        for (;;) {
            int err = vdq_pop(&F.q, &F.chain);

            if (err == -EAGAIN)
                break;
            assert_int_equal(err, 0);
            assert_true(nh < inflight);
            assert_int_equal(F.chain.ndesc, F.sgs[F.chain.head]);
            assert_int_equal(((uint8_t *)F.iov[0].base)[0], expect[nh]);
            held[nh++] = F.chain.head;
        }
        assert_false(vdq_is_broken(&F.q));
        assert_int_equal(nh, inflight);
        /* Complete in a rotating order. */
        while (nh) {
            unsigned pick = (unsigned)(done % nh);
            uint16_t id = held[pick];

            held[pick] = held[--nh];
            assert_int_equal(vdq_push(&F.q, id, id), 0);
            order[no++] = id;
            done++;
        }
        if (F.cfg.publish_on_interrupt && no)
            expect_no_used(&F); /* the batch's first is held back */
        F.drv_ev->flags = RING_EVENT_FLAGS_ENABLE;
        assert_int_equal(vdq_interrupt_prepare(&F.q), no > 0);
        for (k = 0; k < no; k++)
            expect_used(&F, order[k], order[k]);
    }
    expect_no_used(&F);
    assert_int_equal(F.q.next_avail, F.next_avail);
    assert_int_equal(F.q.avail_wrap, F.avail_wrap);
    assert_int_equal(F.q.next_used, F.next_used);
    assert_int_equal(F.q.used_wrap, F.used_wrap);
    assert_int_equal(F.q.stats.bad_chains, 0);
    assert_int_equal(F.q.stats.popped, total);
    assert_int_equal(F.q.inflight, 0);
    if (num > 1)
        assert_true(saw_wrap_mid_list);
}

static void test_wrap_1(void **state)
{
    (void)state;
    p_setup_q(&F, 1, false, false, false);
    run_wrap(1, 5, 1);
    /* 8 lists of one descriptor: 8 flips of both counters. */
    assert_true(F.q.avail_wrap);
    assert_true(F.q.used_wrap);
    assert_int_equal(F.q.next_avail, 0);
}

static void test_wrap_3(void **state)
{
    (void)state;
    p_setup_q(&F, 3, true, false, false);
    run_wrap(3, 9, 2);
}

static void test_wrap_255(void **state)
{
    (void)state;
    p_setup_q(&F, 255, false, false, false);
    run_wrap(255, 4, 5);
}

static void test_wrap_256(void **state)
{
    (void)state;
    p_setup_q(&F, 256, true, false, true);
    run_wrap(256, 4, 8);
}

static void test_wrap_32768(void **state)
{
    (void)state;
    p_setup_q(&F, 32768, false, false, false);
    run_wrap(32768, 3, 8);
}

/* A list of exactly the ring size is legal (2.8.17), also when it starts
 * mid-ring and so crosses the end; one that does not end is not. */
static void test_list_of_ring_size(void **state)
{
    struct seg s[8];
    unsigned k;

    (void)state;
    p_setup_q(&F, 8, false, false, false);
    expect_good_after(&F, 0);
    expect_good_after(&F, 1);
    expect_good_after(&F, 2); /* now at offset 3 */
    for (k = 0; k < 8; k++)
        s[k] = (struct seg){p_buf(&F, 8, NULL), 8, k >= 6 ? W : 0};
    drv_add(&F, 7, s, 8);
    assert_int_equal(vdq_pop(&F.q, &F.chain), 0);
    assert_int_equal(F.chain.head, 7);
    assert_int_equal(F.chain.ndesc, 8);
    assert_int_equal(F.chain.nout, 6);
    assert_int_equal(F.chain.nin, 2);
    assert_int_equal(F.q.next_avail, 3);
    assert_false(F.q.avail_wrap);
    assert_int_equal(vdq_push(&F.q, 7, 16), 0);
    assert_int_equal(F.q.next_used, 3);
    assert_false(F.q.used_wrap);
    expect_used(&F, 7, 16);
    expect_good_after(&F, 3);
}

static void test_list_longer_than_ring(void **state)
{
    struct seg s[8];
    unsigned k;

    (void)state;
    p_setup_q(&F, 8, false, false, false);
    for (k = 0; k < 8; k++)
        s[k] = (struct seg){p_buf(&F, 8, NULL), 8, N};
    drv_add_ex(&F, 3, s, 8, true, -1); /* every one with NEXT: no end */
    expect_broken(&F);
}

/* ---- bad chains: len 0, counted, the queue goes on ---- */

static uint64_t table(struct pfx *f, unsigned n, struct pvirtq_desc **t)
{
    uint64_t gpa;

    *t = p_alloc(f, 16u * n, &gpa);
    return gpa;
}

static void test_indirect_good(void **state)
{
    struct pvirtq_desc *t;
    uint64_t tg;
    uint8_t *p;
    uint8_t *raw;
    struct pvirtq_desc d;

    (void)state;
    p_setup_q(&F, 4, false, true, false);
    tg = table(&F, 3, &t);
    t[0] = (struct pvirtq_desc){p_buf(&F, 5, NULL), 5, 0x1234 /* ignored */, N /* ignored */};
    t[1] = (struct pvirtq_desc){p_buf(&F, 6, &p), 6, 0, W};
    t[2] = (struct pvirtq_desc){p_buf(&F, 7, NULL), 7, 0, W};
    drv_add1(&F, 3, tg, 48, I);
    assert_int_equal(vdq_pop(&F.q, &F.chain), 0);
    assert_int_equal(F.chain.head, 3);
    assert_int_equal(F.chain.nout, 1);
    assert_int_equal(F.chain.nin, 2);
    assert_int_equal(F.chain.out_len, 5);
    assert_int_equal(F.chain.in_len, 13);
    assert_int_equal(F.chain.ndesc, 4); /* 1 in the ring + 3 in the table */
    assert_ptr_equal(F.iov[1].base, p);
    assert_int_equal(vdq_push(&F.q, 3, 13), 0);
    assert_int_equal(F.q.next_used, 1); /* skips the one ring descriptor */
    expect_used(&F, 3, 13);
    /* An unaligned table is read byte by byte. */
    raw = p_alloc(&F, 64, &tg);
    d = (struct pvirtq_desc){p_buf(&F, 9, NULL), 9, 0, 0};
    memcpy(raw + 4, &d, sizeof(d));
    drv_add1(&F, 1, tg + 4, 16, I);
    assert_int_equal(vdq_pop(&F.q, &F.chain), 0);
    assert_int_equal(F.chain.out_len, 9);
}

static void test_bad_indirect_feature(void **state)
{
    struct pvirtq_desc *t;
    uint64_t tg;

    (void)state;
    p_setup_q(&F, 4, false, false, false);
    tg = table(&F, 1, &t);
    t[0] = (struct pvirtq_desc){p_buf(&F, 5, NULL), 5, 0, 0};
    drv_add1(&F, 2, tg, 16, I);
    expect_bad(&F, 2, VDQ_BAD_INDIRECT_FEATURE);
}

static void test_bad_indirect_in_list(void **state)
{
    struct pvirtq_desc *t;
    uint64_t tg;
    struct seg s[2];

    (void)state;
    p_setup_q(&F, 8, false, true, false);
    tg = table(&F, 1, &t);
    t[0] = (struct pvirtq_desc){p_buf(&F, 5, NULL), 5, 0, 0};
    /* INDIRECT with NEXT, first of two. */
    s[0] = (struct seg){tg, 16, I};
    s[1] = (struct seg){p_buf(&F, 8, NULL), 8, 0};
    drv_add(&F, 1, s, 2);
    expect_bad(&F, 1, VDQ_BAD_INDIRECT_NEXT);
    /* INDIRECT at the end of a list linked by NEXT. */
    s[0] = (struct seg){p_buf(&F, 8, NULL), 8, 0};
    s[1] = (struct seg){tg, 16, I};
    drv_add(&F, 4, s, 2);
    expect_bad(&F, 4, VDQ_BAD_INDIRECT_NEXT);
}

static void test_bad_indirect_write(void **state)
{
    struct pvirtq_desc *t;
    uint64_t tg;

    (void)state;
    p_setup_q(&F, 4, false, true, false);
    tg = table(&F, 1, &t);
    t[0] = (struct pvirtq_desc){p_buf(&F, 5, NULL), 5, 0, W};
    drv_add1(&F, 0, tg, 16, I | W);
    expect_bad(&F, 0, VDQ_BAD_INDIRECT_WRITE);
}

static void test_bad_indirect_len(void **state)
{
    struct pvirtq_desc *t;
    uint64_t tg;

    (void)state;
    p_setup_q(&F, 4, false, true, false);
    tg = table(&F, 2, &t);
    t[0] = (struct pvirtq_desc){p_buf(&F, 5, NULL), 5, 0, 0};
    drv_add1(&F, 0, tg, 0, I);
    expect_bad(&F, 0, VDQ_BAD_INDIRECT_LEN);
    drv_add1(&F, 2, tg, 17, I);
    expect_bad(&F, 2, VDQ_BAD_INDIRECT_LEN);
    drv_add1(&F, 0, tg, 8, I);
    expect_bad(&F, 0, VDQ_BAD_INDIRECT_LEN);
}

static void test_bad_indirect_size(void **state)
{
    (void)state;
    p_setup_q(&F, 4, false, true, false);
    /* 65536 entries: refused before the address is looked at. */
    drv_add1(&F, 1, 1ull << 40, 65536u * 16, I);
    expect_bad(&F, 1, VDQ_BAD_INDIRECT_SIZE);
}

static void test_bad_indirect_nested(void **state)
{
    struct pvirtq_desc *t, *t2;
    uint64_t tg, tg2;

    (void)state;
    p_setup_q(&F, 4, false, true, false);
    tg2 = table(&F, 1, &t2);
    t2[0] = (struct pvirtq_desc){p_buf(&F, 5, NULL), 5, 0, 0};
    tg = table(&F, 2, &t);
    t[0] = (struct pvirtq_desc){p_buf(&F, 5, NULL), 5, 0, 0};
    t[1] = (struct pvirtq_desc){tg2, 16, 0, I};
    drv_add1(&F, 3, tg, 32, I);
    expect_bad(&F, 3, VDQ_BAD_INDIRECT_NESTED);
}

static void test_bad_write_order(void **state)
{
    struct pvirtq_desc *t;
    uint64_t tg;
    struct seg s[3];

    (void)state;
    p_setup_q(&F, 8, false, true, false);
    s[0] = (struct seg){p_buf(&F, 8, NULL), 8, 0};
    s[1] = (struct seg){p_buf(&F, 8, NULL), 8, W};
    s[2] = (struct seg){p_buf(&F, 8, NULL), 8, 0};
    drv_add(&F, 5, s, 3);
    expect_bad(&F, 5, VDQ_BAD_WRITE_ORDER);
    tg = table(&F, 2, &t);
    t[0] = (struct pvirtq_desc){p_buf(&F, 5, NULL), 5, 0, W};
    t[1] = (struct pvirtq_desc){p_buf(&F, 5, NULL), 5, 0, 0};
    drv_add1(&F, 2, tg, 32, I);
    expect_bad(&F, 2, VDQ_BAD_WRITE_ORDER);
}

static void test_bad_addr(void **state)
{
    struct pvirtq_desc *t;
    uint64_t tg;
    struct seg s[2];

    (void)state;
    p_setup_q(&F, 8, false, true, false);
    /* In the ring, in the middle of a list: still returned whole. */
    s[0] = (struct seg){0x1000, 8, 0};
    s[1] = (struct seg){p_buf(&F, 8, NULL), 8, W};
    drv_add(&F, 6, s, 2);
    expect_bad(&F, 6, VDQ_BAD_ADDR);
    /* Crossing the end of guest memory. */
    drv_add1(&F, 1, GPA_BASE + ARENA_SIZE - 4, 8, 0);
    expect_bad(&F, 1, VDQ_BAD_ADDR);
    /* Wrapping around. */
    drv_add1(&F, 3, UINT64_MAX - 3, 8, 0);
    expect_bad(&F, 3, VDQ_BAD_ADDR);
    /* The table itself, and an element inside it. */
    drv_add1(&F, 5, GPA_BASE + ARENA_SIZE - 16, 32, I);
    expect_bad(&F, 5, VDQ_BAD_ADDR);
    tg = table(&F, 1, &t);
    t[0] = (struct pvirtq_desc){0x2000, 5, 0, 0};
    drv_add1(&F, 7, tg, 16, I);
    expect_bad(&F, 7, VDQ_BAD_ADDR);
}

static void test_bad_too_many_segs(void **state)
{
    struct seg s[5];
    unsigned k;

    (void)state;
    p_setup_q(&F, 8, false, false, false);
    F.chain.max_iov = 4;
    for (k = 0; k < 5; k++)
        s[k] = (struct seg){p_buf(&F, 8, NULL), 8, 0};
    drv_add(&F, 0, s, 5);
    expect_bad(&F, 0, VDQ_BAD_TOO_MANY_SEGS);
    drv_add(&F, 2, s, 4); /* exactly max_iov is fine */
    assert_int_equal(vdq_pop(&F.q, &F.chain), 0);
}

static void test_bad_too_long(void **state)
{
    struct seg s[2];

    (void)state;
    p_setup_q(&F, 8, false, false, false);
    s[0] = (struct seg){1ull << 40, 0xffffffffu, 0};
    s[1] = (struct seg){(1ull << 40) + (1ull << 32), 2, 0};
    drv_add(&F, 4, s, 2);
    expect_bad(&F, 4, VDQ_BAD_TOO_LONG);
    /* Exactly 2^32 - 1 readable is fine. */
    drv_add(&F, 7, s, 1);
    assert_int_equal(vdq_pop(&F.q, &F.chain), 0);
    assert_int_equal(F.chain.out_len, 0xffffffffu);
}

/* A bad list of several descriptors skips all of them. */
static void test_bad_list_skips_whole(void **state)
{
    struct seg s[3];

    (void)state;
    p_setup_q(&F, 5, false, false, false);
    expect_good_after(&F, 0);
    expect_good_after(&F, 1); /* at 2: the bad list crosses the end */
    s[0] = (struct seg){p_buf(&F, 8, NULL), 8, W};
    s[1] = (struct seg){p_buf(&F, 8, NULL), 8, 0};
    s[2] = (struct seg){p_buf(&F, 8, NULL), 8, 0};
    drv_add(&F, 3, s, 3);
    drv_add1(&F, 4, p_buf(&F, 8, NULL), 8, 0); /* at 0, wrap 0 */
    assert_int_equal(vdq_pop(&F.q, &F.chain), 0);
    assert_int_equal(F.chain.head, 4);
    assert_int_equal(F.q.stats.bad[VDQ_BAD_WRITE_ORDER], 1);
    expect_used(&F, 3, 0);
    assert_int_equal(vdq_push(&F.q, 4, 0), 0);
    expect_used(&F, 4, 0);
}

/* ---- corrupt ring: broken ---- */

static void test_corrupt_id_range(void **state)
{
    (void)state;
    p_setup_q(&F, 3, false, false, false);
    drv_add1(&F, 3, p_buf(&F, 8, NULL), 8, 0);
    expect_broken(&F);
}

static void test_corrupt_id_in_flight(void **state)
{
    (void)state;
    p_setup_q(&F, 4, false, false, false);
    drv_add1(&F, 2, p_buf(&F, 8, NULL), 8, 0);
    assert_int_equal(vdq_pop(&F.q, &F.chain), 0);
    drv_add1(&F, 2, p_buf(&F, 8, NULL), 8, 0);
    expect_broken(&F);
}

static void test_corrupt_continuation(void **state)
{
    struct seg s[2];

    (void)state;
    p_setup_q(&F, 4, false, false, false);
    s[0] = (struct seg){p_buf(&F, 8, NULL), 8, N};
    s[1] = (struct seg){p_buf(&F, 8, NULL), 8, 0};
    drv_add_ex(&F, 1, s, 2, true, -1);
    F.ring[1].flags = pvirtq_avail_flags(false); /* the wrong lap */
    expect_broken(&F);
}

/* The list's second descriptor would be in the next lap: its flags must
 * carry the flipped wrap counter. */
static void test_continuation_across_wrap(void **state)
{
    struct seg s[2];

    (void)state;
    p_setup_q(&F, 2, false, false, false);
    expect_good_after(&F, 0); /* at 1 */
    s[0] = (struct seg){p_buf(&F, 8, NULL), 8, 0};
    s[1] = (struct seg){p_buf(&F, 8, NULL), 8, W};
    drv_add(&F, 1, s, 2);
    assert_int_equal(vdq_pop(&F.q, &F.chain), 0);
    assert_int_equal(F.chain.ndesc, 2);
    assert_int_equal(vdq_push(&F.q, 1, 0), 0);
    expect_used(&F, 1, 0);
    /* Same list again (at 1, then 0 of the next lap), but the second
     * descriptor carries the stale lap's counter: broken. */
    drv_add(&F, 1, s, 2);
    F.ring[0].flags = (uint16_t)(pvirtq_avail_flags(false) | W);
    expect_broken(&F);
}

static void test_broken_touches_nothing(void **state)
{
    struct pvirtq_event_suppress before;

    (void)state;
    p_setup_q(&F, 4, true, false, false);
    drv_add1(&F, 9, p_buf(&F, 8, NULL), 8, 0);
    expect_broken(&F);
    before = *F.dev_ev;
    vdq_disable_notify(&F.q);
    assert_int_equal(vdq_enable_notify(&F.q), -EIO);
    assert_memory_equal(&before, F.dev_ev, sizeof(before));
    assert_false(vdq_has_avail(&F.q));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_teardown(test_init_sizes, p_teardown_state),
        cmocka_unit_test_teardown(test_init_placement, p_teardown_state),
        cmocka_unit_test_teardown(test_pop_push_simple, p_teardown_state),
        cmocka_unit_test_teardown(test_id_from_last_descriptor, p_teardown_state),
        cmocka_unit_test_teardown(test_out_of_order, p_teardown_state),
        cmocka_unit_test_teardown(test_wrap_1, p_teardown_state),
        cmocka_unit_test_teardown(test_wrap_3, p_teardown_state),
        cmocka_unit_test_teardown(test_wrap_255, p_teardown_state),
        cmocka_unit_test_teardown(test_wrap_256, p_teardown_state),
        cmocka_unit_test_teardown(test_wrap_32768, p_teardown_state),
        cmocka_unit_test_teardown(test_list_of_ring_size, p_teardown_state),
        cmocka_unit_test_teardown(test_list_longer_than_ring, p_teardown_state),
        cmocka_unit_test_teardown(test_indirect_good, p_teardown_state),
        cmocka_unit_test_teardown(test_bad_indirect_feature, p_teardown_state),
        cmocka_unit_test_teardown(test_bad_indirect_in_list, p_teardown_state),
        cmocka_unit_test_teardown(test_bad_indirect_write, p_teardown_state),
        cmocka_unit_test_teardown(test_bad_indirect_len, p_teardown_state),
        cmocka_unit_test_teardown(test_bad_indirect_size, p_teardown_state),
        cmocka_unit_test_teardown(test_bad_indirect_nested, p_teardown_state),
        cmocka_unit_test_teardown(test_bad_write_order, p_teardown_state),
        cmocka_unit_test_teardown(test_bad_addr, p_teardown_state),
        cmocka_unit_test_teardown(test_bad_too_many_segs, p_teardown_state),
        cmocka_unit_test_teardown(test_bad_too_long, p_teardown_state),
        cmocka_unit_test_teardown(test_bad_list_skips_whole, p_teardown_state),
        cmocka_unit_test_teardown(test_corrupt_id_range, p_teardown_state),
        cmocka_unit_test_teardown(test_corrupt_id_in_flight, p_teardown_state),
        cmocka_unit_test_teardown(test_corrupt_continuation, p_teardown_state),
        cmocka_unit_test_teardown(test_continuation_across_wrap, p_teardown_state),
        cmocka_unit_test_teardown(test_broken_touches_nothing, p_teardown_state),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
