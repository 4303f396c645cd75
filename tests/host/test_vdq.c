/* SPDX-License-Identifier: Apache-2.0 */
/*
 * test_vdq.c - cmocka unit tests of the device side (hostsim/vdq.c): every
 * public function, every case of the validation catalogue (each bad chain is
 * returned with len 0, counted, and the queue goes on), the corrupt-ring
 * cases that break the queue, and the EVENT_IDX interrupt decision across
 * the 16-bit wrap. Rings are written by hand here, as a buggy driver would.
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

#define W VIRTQ_DESC_F_WRITE
#define N VIRTQ_DESC_F_NEXT
#define I VIRTQ_DESC_F_INDIRECT

static int setup_raw8(void **state)
{
    static struct ring_fixture fx;

    fx_setup_raw(&fx, 8, false, true);
    *state = &fx;
    return 0;
}

static int setup_raw8_event(void **state)
{
    static struct ring_fixture fx;

    fx_setup_raw(&fx, 8, true, true);
    *state = &fx;
    return 0;
}

static int teardown(void **state)
{
    fx_teardown(*state);
    return 0;
}

/* A data buffer in guest memory. */
static uint64_t buf(struct ring_fixture *fx, size_t len, uint8_t **p)
{
    uint64_t gpa;
    uint8_t *b = fx_alloc(fx, len, &gpa);

    if (p)
        *p = b;
    return gpa;
}

/* Publish a good one-descriptor chain at head and check it pops. */
static void expect_good_after(struct ring_fixture *fx, uint16_t head)
{
    fx_set_desc(fx, fx->desc, head, buf(fx, 16, NULL), 16, 0, 0);
    fx_publish(fx, head);
    assert_int_equal(vdq_pop(&fx->q, &fx->chain), 0);
    assert_int_equal(fx->chain.head, head);
}

/* The chain at head was published: expect it back with len 0 for `why`,
 * and the queue still working. */
static void expect_bad(struct ring_fixture *fx, uint16_t head, enum vdq_bad why)
{
    uint64_t before = fx->q.stats.bad[why];
    uint16_t used_before = fx_used_idx(fx);
    struct virtq_used_elem e;

    fx_publish(fx, head);
    assert_int_equal(vdq_pop(&fx->q, &fx->chain), -EAGAIN);
    assert_int_equal(fx->q.stats.bad[why], before + 1);
    assert_int_equal(fx_used_idx(fx), (uint16_t)(used_before + 1));
    e = fx_used_elem(fx, used_before);
    assert_int_equal(e.id, head);
    assert_int_equal(e.len, 0);
    assert_false(vdq_is_broken(&fx->q));
    expect_good_after(fx, (uint16_t)((head + 1) % fx->num));
}

/* ---- vdq_mem_translate ---- */

static void test_translate(void **state)
{
    struct ring_fixture *fx = *state;
    struct vdq_mem_region r[2] = {
        {.gpa = 0x1000, .size = 0x1000, .hva = fx->arena},
        {.gpa = 0x10000, .size = 0x100, .hva = fx->arena + 0x2000},
    };
    struct vdq_mem m = {.regions = r, .nregions = 2};

    assert_ptr_equal(vdq_mem_translate(&m, 0x1000, 0x1000), fx->arena);
    assert_ptr_equal(vdq_mem_translate(&m, 0x1ff0, 0x10), fx->arena + 0xff0);
    assert_null(vdq_mem_translate(&m, 0x1ff0, 0x11)); /* crosses the end */
    assert_null(vdq_mem_translate(&m, 0xfff, 2));     /* starts before */
    assert_ptr_equal(vdq_mem_translate(&m, 0x10080, 0x80), fx->arena + 0x2080);
    assert_null(vdq_mem_translate(&m, 0x5000, 1));                          /* hole */
    assert_null(vdq_mem_translate(&m, UINT64_MAX - 4, 16));                 /* wraps */
    assert_ptr_equal(vdq_mem_translate(&m, 0x2000, 0), fx->arena + 0x1000); /* empty at end */
}

/* ---- vdq_init / vdq_init_state / vdq_get_state ---- */

static void test_init_sizes(void **state)
{
    struct ring_fixture *fx = *state;
    struct vdq q;
    struct vdq_config c = {.desc_gpa = FX_GPA_BASE,
                           .avail_gpa = FX_GPA_BASE + 0x100000,
                           .used_gpa = FX_GPA_BASE + 0x200000};
    uint32_t bad[] = {0, 3, 6, 100, 32767, 32769, 65536, 1u << 20};
    uint32_t n;

    for (n = 1; n <= 32768; n <<= 1) {
        c.num = n;
        assert_int_equal(vdq_init(&q, &fx->mem, &c), 0);
    }
    for (n = 0; n < sizeof(bad) / sizeof(bad[0]); n++) {
        c.num = bad[n];
        assert_int_equal(vdq_init(&q, &fx->mem, &c), -EINVAL);
    }
}

static void test_init_placement(void **state)
{
    struct ring_fixture *fx = *state;
    struct vdq q;
    struct vdq_config c = {.num = 8,
                           .desc_gpa = FX_GPA_BASE,
                           .avail_gpa = FX_GPA_BASE + 0x1000,
                           .used_gpa = FX_GPA_BASE + 0x2000};

    assert_int_equal(vdq_init(&q, &fx->mem, &c), 0);
    c.desc_gpa += 8; /* 2.7: desc needs 16 */
    assert_int_equal(vdq_init(&q, &fx->mem, &c), -EINVAL);
    c.desc_gpa -= 8;
    c.avail_gpa += 1;
    assert_int_equal(vdq_init(&q, &fx->mem, &c), -EINVAL);
    c.avail_gpa -= 1;
    c.used_gpa += 2;
    assert_int_equal(vdq_init(&q, &fx->mem, &c), -EINVAL);
    c.used_gpa -= 2;
    c.used_gpa = FX_GPA_BASE + FX_ARENA_SIZE - 16; /* used ring runs off memory */
    assert_int_equal(vdq_init(&q, &fx->mem, &c), -EINVAL);
    c.used_gpa = FX_GPA_BASE + 0x2000;
    c.desc_gpa = 0x1000; /* outside */
    assert_int_equal(vdq_init(&q, &fx->mem, &c), -EINVAL);
}

static void test_state_roundtrip(void **state)
{
    struct ring_fixture *fx = *state;
    struct vdq_state st;
    struct vdq q2;

    expect_good_after(fx, 1);
    assert_int_equal(vdq_push(&fx->q, 1, 4), 0);
    expect_good_after(fx, 2);
    vdq_get_state(&fx->q, &st);
    assert_int_equal(st.size, 8);
    assert_int_equal(st.desc_gpa, fx->desc_gpa);
    assert_int_equal(st.avail_gpa, fx->avail_gpa);
    assert_int_equal(st.used_gpa, fx->used_gpa);
    assert_int_equal(st.next_avail, 2);
    assert_int_equal(st.next_used, 1);
    assert_int_equal(st.num_added, 1);
    assert_int_equal(vdq_init_state(&q2, &fx->mem, &st), 0);
    assert_int_equal(q2.next_avail, 2);
    assert_int_equal(q2.next_used, 1);
    /* A state that claims more in flight than the size, or an avail idx
     * too far ahead, is refused and leaves the target untouched. */
    st.next_used = (uint16_t)(st.next_avail - 9);
    q2.next_avail = 77;
    assert_int_equal(vdq_init_state(&q2, &fx->mem, &st), -EINVAL);
    assert_int_equal(q2.next_avail, 77);
    st.next_used = 1;
    st.next_avail = (uint16_t)(fx->avail_idx - 9);
    assert_int_equal(vdq_init_state(&q2, &fx->mem, &st), -EINVAL);
    st.next_avail = 2;
    st.size = 12;
    assert_int_equal(vdq_init_state(&q2, &fx->mem, &st), -EINVAL);
}

/* ---- vdq_pop / vdq_push / chain copy ---- */

static void test_pop_empty(void **state)
{
    struct ring_fixture *fx = *state;

    assert_int_equal(vdq_pop(&fx->q, &fx->chain), -EAGAIN);
    assert_false(vdq_has_avail(&fx->q));
}

static void test_pop_push_simple(void **state)
{
    struct ring_fixture *fx = *state;
    uint8_t *a, *b, *c;
    uint8_t tmp[64];
    struct virtq_used_elem e;

    fx_set_desc(fx, fx->desc, 3, buf(fx, 10, &a), 10, N, 5);
    fx_set_desc(fx, fx->desc, 5, buf(fx, 20, &b), 20, N, 0);
    fx_set_desc(fx, fx->desc, 0, buf(fx, 30, &c), 30, W, 7);
    memset(a, 0xaa, 10);
    memset(b, 0xbb, 20);
    fx_publish(fx, 3);
    assert_true(vdq_has_avail(&fx->q));
    assert_int_equal(vdq_pop(&fx->q, &fx->chain), 0);
    assert_int_equal(fx->chain.head, 3);
    assert_int_equal(fx->chain.nout, 2);
    assert_int_equal(fx->chain.nin, 1);
    assert_int_equal(fx->chain.ndesc, 3);
    assert_int_equal(fx->chain.out_len, 30);
    assert_int_equal(fx->chain.in_len, 30);
    assert_ptr_equal(fx->iov[0].base, a);
    assert_ptr_equal(fx->iov[1].base, b);
    assert_ptr_equal(fx->iov[2].base, c);
    /* chain_read spans segments; chain_write fills the writable part. */
    assert_int_equal(vdq_chain_read(&fx->chain, 8, tmp, 64), 22);
    assert_int_equal(tmp[0], 0xaa);
    assert_int_equal(tmp[1], 0xaa);
    assert_int_equal(tmp[2], 0xbb);
    assert_int_equal(tmp[21], 0xbb);
    memset(tmp, 0x5c, sizeof(tmp));
    assert_int_equal(vdq_chain_write(&fx->chain, 5, tmp, 64), 25);
    assert_int_equal(c[4], 0);
    assert_int_equal(c[5], 0x5c);
    assert_int_equal(c[29], 0x5c);
    assert_int_equal(vdq_pop(&fx->q, &fx->chain), -EAGAIN);

    assert_int_equal(vdq_push(&fx->q, 3, 30), 0);
    assert_int_equal(fx_used_idx(fx), 1);
    e = fx_used_elem(fx, 0);
    assert_int_equal(e.id, 3);
    assert_int_equal(e.len, 30);
    assert_int_equal(vdq_push(&fx->q, 8, 0), -EINVAL); /* head out of range */
    assert_int_equal(fx->q.stats.popped, 1);
    assert_int_equal(fx->q.stats.pushed, 1);
}

static void test_chain_of_size_is_legal(void **state)
{
    struct ring_fixture *fx = *state;
    uint16_t i;

    for (i = 0; i < 8; i++)
        fx_set_desc(fx, fx->desc, i, buf(fx, 8, NULL), 8, i < 7 ? N : 0, (uint16_t)(i + 1));
    fx_publish(fx, 0);
    assert_int_equal(vdq_pop(&fx->q, &fx->chain), 0);
    assert_int_equal(fx->chain.nout, 8);
    assert_int_equal(fx->q.stats.bad_chains, 0);
}

static void test_zero_length_segment(void **state)
{
    struct ring_fixture *fx = *state;

    fx_set_desc(fx, fx->desc, 0, buf(fx, 8, NULL), 0, 0, 0);
    fx_publish(fx, 0);
    assert_int_equal(vdq_pop(&fx->q, &fx->chain), 0);
    assert_int_equal(fx->chain.nout, 1);
    assert_int_equal(fx->chain.out_len, 0);
}

static void test_indirect_good(void **state)
{
    struct ring_fixture *fx = *state;
    uint64_t tgpa;
    struct virtq_desc *t = fx_alloc(fx, 3 * 16, &tgpa);
    uint8_t *p;

    /* A direct descriptor, then an indirect one ending the main chain. */
    fx_set_desc(fx, fx->desc, 2, buf(fx, 4, NULL), 4, N, 6);
    fx_set_desc(fx, fx->desc, 6, tgpa, 48, I | W /* W ignored */, 0);
    fx_set_desc(fx, t, 0, buf(fx, 5, NULL), 5, N, 2);
    fx_set_desc(fx, t, 2, buf(fx, 6, &p), 6, N | W, 1);
    fx_set_desc(fx, t, 1, buf(fx, 7, NULL), 7, W, 0);
    fx_publish(fx, 2);
    assert_int_equal(vdq_pop(&fx->q, &fx->chain), 0);
    assert_int_equal(fx->chain.head, 2);
    assert_int_equal(fx->chain.nout, 2);
    assert_int_equal(fx->chain.nin, 2);
    assert_int_equal(fx->chain.out_len, 9);
    assert_int_equal(fx->chain.in_len, 13);
    assert_ptr_equal(fx->iov[2].base, p);
}

static void test_indirect_unaligned_table(void **state)
{
    struct ring_fixture *fx = *state;
    uint64_t tgpa;
    uint8_t *raw = fx_alloc(fx, 64, &tgpa);
    struct virtq_desc d = {.addr = buf(fx, 9, NULL), .len = 9, .flags = 0, .next = 0};

    memcpy(raw + 4, &d, sizeof(d));
    fx_set_desc(fx, fx->desc, 0, tgpa + 4, 16, I, 0);
    fx_publish(fx, 0);
    assert_int_equal(vdq_pop(&fx->q, &fx->chain), 0);
    assert_int_equal(fx->chain.out_len, 9);
}

/* ---- the validation catalogue: each a bad chain, queue goes on ---- */

static void test_bad_next_range(void **state)
{
    struct ring_fixture *fx = *state;

    fx_set_desc(fx, fx->desc, 0, buf(fx, 8, NULL), 8, N, 8);
    expect_bad(fx, 0, VDQ_BAD_NEXT_RANGE);
}

static void test_bad_loop(void **state)
{
    struct ring_fixture *fx = *state;

    fx_set_desc(fx, fx->desc, 0, buf(fx, 8, NULL), 8, N, 1);
    fx_set_desc(fx, fx->desc, 1, buf(fx, 8, NULL), 8, N, 0);
    expect_bad(fx, 0, VDQ_BAD_LOOP);
}

static void test_bad_loop_self(void **state)
{
    struct ring_fixture *fx = *state;

    fx_set_desc(fx, fx->desc, 4, buf(fx, 8, NULL), 8, N, 4);
    expect_bad(fx, 4, VDQ_BAD_LOOP);
}

static void test_bad_indirect_len_zero(void **state)
{
    struct ring_fixture *fx = *state;

    fx_set_desc(fx, fx->desc, 0, buf(fx, 16, NULL), 0, I, 0);
    expect_bad(fx, 0, VDQ_BAD_INDIRECT_LEN);
}

static void test_bad_indirect_len_unaligned(void **state)
{
    struct ring_fixture *fx = *state;

    fx_set_desc(fx, fx->desc, 0, buf(fx, 32, NULL), 24, I, 0);
    expect_bad(fx, 0, VDQ_BAD_INDIRECT_LEN);
}

static void test_bad_indirect_too_big(void **state)
{
    struct ring_fixture *fx = *state;

    /* 65536 entries: refused on the count before memory is looked at. */
    fx_set_desc(fx, fx->desc, 0, FX_GPA_BASE, 65536u * 16, I, 0);
    expect_bad(fx, 0, VDQ_BAD_INDIRECT_SIZE);
}

static void test_indirect_max_entries_ok(void **state)
{
    struct ring_fixture *fx = *state;
    uint64_t tgpa, dgpa = buf(fx, 1, NULL);
    struct virtq_desc *t = fx_alloc(fx, 65535u * 16, &tgpa);
    static struct vdq_iov big[65535];
    struct vdq_chain c = {.iov = big, .max_iov = 65535};
    uint32_t i;

    for (i = 0; i < 65535; i++)
        fx_set_desc(fx, t, (uint16_t)i, dgpa, 1, i < 65534 ? N : 0, (uint16_t)(i + 1));
    fx_set_desc(fx, fx->desc, 0, tgpa, 65535u * 16, I, 0);
    fx_publish(fx, 0);
    assert_int_equal(vdq_pop(&fx->q, &c), 0);
    assert_int_equal(c.nout, 65535);
    assert_int_equal(c.out_len, 65535);
}

static void test_bad_indirect_nested(void **state)
{
    struct ring_fixture *fx = *state;
    uint64_t tgpa;
    struct virtq_desc *t = fx_alloc(fx, 32, &tgpa);

    fx_set_desc(fx, t, 0, buf(fx, 8, NULL), 8, N, 1);
    fx_set_desc(fx, t, 1, tgpa, 32, I, 0);
    fx_set_desc(fx, fx->desc, 0, tgpa, 32, I, 0);
    expect_bad(fx, 0, VDQ_BAD_INDIRECT_NESTED);
}

static void test_bad_indirect_with_next(void **state)
{
    struct ring_fixture *fx = *state;
    uint64_t tgpa;
    struct virtq_desc *t = fx_alloc(fx, 16, &tgpa);

    fx_set_desc(fx, t, 0, buf(fx, 8, NULL), 8, 0, 0);
    fx_set_desc(fx, fx->desc, 0, tgpa, 16, I | N, 1);
    fx_set_desc(fx, fx->desc, 1, buf(fx, 8, NULL), 8, 0, 0);
    expect_bad(fx, 0, VDQ_BAD_INDIRECT_NEXT);
}

static void test_bad_indirect_not_negotiated(void **state)
{
    struct ring_fixture *fx = *state;
    uint64_t tgpa;
    struct virtq_desc *t = fx_alloc(fx, 16, &tgpa);

    fx->q.cfg.indirect = false;
    fx_set_desc(fx, t, 0, buf(fx, 8, NULL), 8, 0, 0);
    fx_set_desc(fx, fx->desc, 0, tgpa, 16, I, 0);
    expect_bad(fx, 0, VDQ_BAD_INDIRECT_FEATURE);
}

static void test_bad_indirect_loop_and_range(void **state)
{
    struct ring_fixture *fx = *state;
    uint64_t tgpa;
    struct virtq_desc *t = fx_alloc(fx, 32, &tgpa);

    fx_set_desc(fx, t, 0, buf(fx, 8, NULL), 8, N, 1);
    fx_set_desc(fx, t, 1, buf(fx, 8, NULL), 8, N, 0);
    fx_set_desc(fx, fx->desc, 0, tgpa, 32, I, 0);
    expect_bad(fx, 0, VDQ_BAD_LOOP);
    fx_set_desc(fx, t, 1, buf(fx, 8, NULL), 8, N, 2); /* table has 2 entries */
    fx_set_desc(fx, fx->desc, 2, tgpa, 32, I, 0);
    expect_bad(fx, 2, VDQ_BAD_NEXT_RANGE);
    fx_set_desc(fx, fx->desc, 4, FX_GPA_BASE + FX_ARENA_SIZE - 16, 32, I, 0);
    expect_bad(fx, 4, VDQ_BAD_ADDR); /* table itself outside memory */
}

static void test_bad_read_after_write(void **state)
{
    struct ring_fixture *fx = *state;

    fx_set_desc(fx, fx->desc, 0, buf(fx, 8, NULL), 8, N | W, 1);
    fx_set_desc(fx, fx->desc, 1, buf(fx, 8, NULL), 8, 0, 0);
    expect_bad(fx, 0, VDQ_BAD_WRITE_ORDER);
}

static void test_bad_addr_outside(void **state)
{
    struct ring_fixture *fx = *state;

    fx_set_desc(fx, fx->desc, 0, 0x1000, 8, 0, 0);
    expect_bad(fx, 0, VDQ_BAD_ADDR);
    /* starts inside, runs past the end */
    fx_set_desc(fx, fx->desc, 2, FX_GPA_BASE + FX_ARENA_SIZE - 4, 8, 0, 0);
    expect_bad(fx, 2, VDQ_BAD_ADDR);
    /* wraps around the 64-bit space */
    fx_set_desc(fx, fx->desc, 4, UINT64_MAX - 3, 8, W, 0);
    expect_bad(fx, 4, VDQ_BAD_ADDR);
    /* huge length */
    fx_set_desc(fx, fx->desc, 6, FX_GPA_BASE, UINT32_MAX, 0, 0);
    expect_bad(fx, 6, VDQ_BAD_ADDR);
}

static void test_bad_too_many_segments(void **state)
{
    struct ring_fixture *fx = *state;
    struct vdq_iov small[2];
    struct vdq_chain c = {.iov = small, .max_iov = 2};
    uint16_t i;

    for (i = 0; i < 3; i++)
        fx_set_desc(fx, fx->desc, i, buf(fx, 8, NULL), 8, i < 2 ? N : 0, (uint16_t)(i + 1));
    fx_publish(fx, 0);
    assert_int_equal(vdq_pop(&fx->q, &c), -EAGAIN);
    assert_int_equal(fx->q.stats.bad[VDQ_BAD_TOO_MANY_SEGS], 1);
    assert_int_equal(fx_used_elem(fx, 0).len, 0);
}

static void test_bad_total_too_long(void **state)
{
    struct ring_fixture *fx = *state;
    struct vdq_mem_region r = {.gpa = 0, .size = UINT64_MAX, .hva = fx->arena};
    struct vdq_mem m = {.regions = &r, .nregions = 1};
    struct vdq_config c = {.num = 8,
                           .desc_gpa = fx->desc_gpa - FX_GPA_BASE,
                           .avail_gpa = fx->avail_gpa - FX_GPA_BASE,
                           .used_gpa = fx->used_gpa - FX_GPA_BASE};

    /* A memory map so large that two 3 GiB segments "fit": their sum does
     * not fit 32 bits. (The buffers are never touched.) */
    assert_int_equal(vdq_init(&fx->q, &m, &c), 0);
    fx_set_desc(fx, fx->desc, 0, 0, 3u << 30, N, 1);
    fx_set_desc(fx, fx->desc, 1, 0, 3u << 30, 0, 0);
    fx_publish(fx, 0);
    assert_int_equal(vdq_pop(&fx->q, &fx->chain), -EAGAIN);
    assert_int_equal(fx->q.stats.bad[VDQ_BAD_TOO_LONG], 1);
}

static void test_bad_chains_in_a_row(void **state)
{
    struct ring_fixture *fx = *state;

    /* Several bad chains then a good one: one pop skips them all. */
    fx_set_desc(fx, fx->desc, 0, 0x10, 8, 0, 0);
    fx_set_desc(fx, fx->desc, 1, buf(fx, 8, NULL), 8, N, 9);
    fx_set_desc(fx, fx->desc, 2, buf(fx, 8, NULL), 8, 0, 0);
    fx_publish(fx, 0);
    fx_publish(fx, 1);
    fx_publish(fx, 2);
    assert_int_equal(vdq_pop(&fx->q, &fx->chain), 0);
    assert_int_equal(fx->chain.head, 2);
    assert_int_equal(fx->q.stats.bad_chains, 2);
    assert_int_equal(fx_used_idx(fx), 2);
}

/* ---- corrupt ring: broken ---- */

static void assert_all_eio(struct ring_fixture *fx)
{
    assert_true(vdq_is_broken(&fx->q));
    assert_int_equal(vdq_pop(&fx->q, &fx->chain), -EIO);
    assert_int_equal(vdq_push(&fx->q, 0, 0), -EIO);
    assert_int_equal(vdq_enable_notify(&fx->q), -EIO);
    assert_false(vdq_interrupt_prepare(&fx->q));
    assert_false(vdq_has_avail(&fx->q));
}

static void test_corrupt_avail_too_far(void **state)
{
    struct ring_fixture *fx = *state;

    fx->avail->idx = 9; /* 9 > 8 entries ahead */
    assert_int_equal(vdq_pop(&fx->q, &fx->chain), -EIO);
    assert_all_eio(fx);
}

static void test_avail_exactly_size_ahead_ok(void **state)
{
    struct ring_fixture *fx = *state;
    uint16_t i;

    for (i = 0; i < 8; i++) {
        fx_set_desc(fx, fx->desc, i, buf(fx, 8, NULL), 8, 0, 0);
        fx_publish(fx, i);
    }
    for (i = 0; i < 8; i++)
        assert_int_equal(vdq_pop(&fx->q, &fx->chain), 0);
    assert_int_equal(vdq_pop(&fx->q, &fx->chain), -EAGAIN);
}

static void test_corrupt_avail_backwards(void **state)
{
    struct ring_fixture *fx = *state;

    expect_good_after(fx, 0);
    expect_good_after(fx, 1);
    fx->avail->idx = 1; /* moved back below next_avail */
    assert_int_equal(vdq_pop(&fx->q, &fx->chain), -EIO);
    assert_all_eio(fx);
}

static void test_corrupt_head_out_of_range(void **state)
{
    struct ring_fixture *fx = *state;

    fx_publish(fx, 8);
    assert_int_equal(vdq_pop(&fx->q, &fx->chain), -EIO);
    assert_all_eio(fx);
}

/* ---- interrupt decision (2.7.7) ---- */

static void test_interrupt_flags(void **state)
{
    struct ring_fixture *fx = *state;

    assert_false(vdq_interrupt_prepare(&fx->q)); /* nothing pushed */
    assert_int_equal(vdq_push(&fx->q, 0, 0), 0);
    assert_true(vdq_interrupt_prepare(&fx->q));
    fx->avail->flags = VIRTQ_AVAIL_F_NO_INTERRUPT;
    assert_int_equal(vdq_push(&fx->q, 0, 0), 0);
    assert_false(vdq_interrupt_prepare(&fx->q));
    fx->avail->flags = 0;
    assert_int_equal(vdq_push(&fx->q, 0, 0), 0);
    assert_true(vdq_interrupt_prepare(&fx->q));
    assert_int_equal(fx->q.stats.interrupts, 2);
    assert_int_equal(fx->q.stats.interrupts_saved, 1);
}

static void test_publish_on_interrupt(void **state)
{
    struct ring_fixture *fx = *state;

    fx->q.cfg.publish_on_interrupt = true;
    assert_int_equal(vdq_push(&fx->q, 1, 0), 0);
    assert_int_equal(vdq_push(&fx->q, 2, 0), 0);
    assert_int_equal(fx_used_idx(fx), 0); /* not yet visible */
    assert_int_equal(fx_used_elem(fx, 1).id, 2);
    assert_true(vdq_interrupt_prepare(&fx->q));
    assert_int_equal(fx_used_idx(fx), 2);
}

static void set_used_event(struct ring_fixture *fx, uint16_t v)
{
    *virtq_used_event(fx->avail, fx->num) = v;
}

/* Move the device's used index to `at` without pushes (as a restore). */
static void set_next_used(struct ring_fixture *fx, uint16_t at)
{
    struct vdq_state st;

    vdq_get_state(&fx->q, &st);
    st.next_used = at;
    st.next_avail = at;
    st.num_added = 0;
    fx->avail->idx = at;
    fx->avail_idx = at;
    assert_int_equal(vdq_init_state(&fx->q, &fx->mem, &st), 0);
}

static void test_event_idx_wrap_65532(void **state)
{
    struct ring_fixture *fx = *state;

    /* used_event 65532, next_used goes 65532 -> 65533: must interrupt. */
    set_next_used(fx, 65532);
    set_used_event(fx, 65532);
    assert_int_equal(vdq_push(&fx->q, 1, 0), 0);
    assert_int_equal(fx->q.next_used, 65533);
    assert_true(vdq_interrupt_prepare(&fx->q));
    /* next push (65533 -> 65534) is past the event: no interrupt. */
    assert_int_equal(vdq_push(&fx->q, 1, 0), 0);
    assert_false(vdq_interrupt_prepare(&fx->q));
}

static void test_event_idx_crossing_exactly(void **state)
{
    struct ring_fixture *fx = *state;
    int i;

    /* Batch [65534, 2) crosses the wrap; event at each edge. */
    set_next_used(fx, 65534);
    set_used_event(fx, 65534); /* == old: inside the window */
    for (i = 0; i < 4; i++)
        vdq_push(&fx->q, 1, 0);
    assert_true(vdq_interrupt_prepare(&fx->q));

    set_next_used(fx, 65534);
    set_used_event(fx, 1); /* == new - 1: inside */
    for (i = 0; i < 4; i++)
        vdq_push(&fx->q, 1, 0);
    assert_true(vdq_interrupt_prepare(&fx->q));

    set_next_used(fx, 65534);
    set_used_event(fx, 2); /* == new: not yet crossed */
    for (i = 0; i < 4; i++)
        vdq_push(&fx->q, 1, 0);
    assert_false(vdq_interrupt_prepare(&fx->q));

    set_next_used(fx, 65534);
    set_used_event(fx, 65533); /* == old - 1: already behind */
    for (i = 0; i < 4; i++)
        vdq_push(&fx->q, 1, 0);
    assert_false(vdq_interrupt_prepare(&fx->q));

    set_next_used(fx, 65534);
    set_used_event(fx, 65535); /* the wrap itself */
    for (i = 0; i < 4; i++)
        vdq_push(&fx->q, 1, 0);
    assert_true(vdq_interrupt_prepare(&fx->q));
}

static void test_event_idx_one_lap_later(void **state)
{
    struct ring_fixture *fx = *state;
    uint32_t i, yes = 0;

    /* One push and one decision at a time for two full laps: an event
     * index that does not move is crossed exactly once per lap. */
    set_used_event(fx, 7);
    for (i = 0; i < 2 * 65536; i++) {
        vdq_push(&fx->q, 1, 0);
        if (vdq_interrupt_prepare(&fx->q))
            yes++;
    }
    assert_int_equal(yes, 2);
    assert_int_equal(fx->q.next_used, 0);
}

/* ---- notification suppression (2.7.10) ---- */

static void test_notify_flags(void **state)
{
    struct ring_fixture *fx = *state;

    vdq_disable_notify(&fx->q);
    assert_int_equal(fx->used->flags, VIRTQ_USED_F_NO_NOTIFY);
    assert_int_equal(vdq_enable_notify(&fx->q), 0);
    assert_int_equal(fx->used->flags, 0);
    /* A chain that arrived while disabled is reported on enable. */
    vdq_disable_notify(&fx->q);
    fx_set_desc(fx, fx->desc, 0, buf(fx, 8, NULL), 8, 0, 0);
    fx_publish(fx, 0);
    assert_int_equal(vdq_enable_notify(&fx->q), -EAGAIN);
    assert_int_equal(vdq_pop(&fx->q, &fx->chain), 0);
    assert_int_equal(vdq_enable_notify(&fx->q), 0);
}

static void test_notify_event_idx(void **state)
{
    struct ring_fixture *fx = *state;
    __le16 *avail_event = virtq_avail_event(fx->used, fx->num);

    assert_int_equal(vdq_enable_notify(&fx->q), 0);
    assert_int_equal(*avail_event, 0);
    assert_int_equal(fx->used->flags, 0);
    expect_good_after(fx, 3); /* pop publishes avail_event while enabled */
    assert_int_equal(*avail_event, 1);
    vdq_disable_notify(&fx->q);
    assert_int_equal(fx->used->flags, 0); /* flags stay 0 with EVENT_IDX */
    expect_good_after(fx, 4);
    assert_int_equal(*avail_event, 1); /* frozen while disabled */
    fx_set_desc(fx, fx->desc, 5, buf(fx, 8, NULL), 8, 0, 0);
    fx_publish(fx, 5);
    assert_int_equal(vdq_enable_notify(&fx->q), -EAGAIN);
    assert_int_equal(*avail_event, 2);
    assert_int_equal(vdq_pop(&fx->q, &fx->chain), 0);
    assert_int_equal(vdq_enable_notify(&fx->q), 0);
    assert_int_equal(*avail_event, 3);
    /* A corrupt avail idx seen by the re-check breaks the queue. */
    fx->avail->idx = 100;
    assert_int_equal(vdq_enable_notify(&fx->q), -EIO);
}

#define T(f) cmocka_unit_test_setup_teardown(f, setup_raw8, teardown)
#define TE(f) cmocka_unit_test_setup_teardown(f, setup_raw8_event, teardown)

int main(void)
{
    const struct CMUnitTest tests[] = {
        T(test_translate),
        T(test_init_sizes),
        T(test_init_placement),
        T(test_state_roundtrip),
        T(test_pop_empty),
        T(test_pop_push_simple),
        T(test_chain_of_size_is_legal),
        T(test_zero_length_segment),
        T(test_indirect_good),
        T(test_indirect_unaligned_table),
        T(test_bad_next_range),
        T(test_bad_loop),
        T(test_bad_loop_self),
        T(test_bad_indirect_len_zero),
        T(test_bad_indirect_len_unaligned),
        T(test_bad_indirect_too_big),
        T(test_indirect_max_entries_ok),
        T(test_bad_indirect_nested),
        T(test_bad_indirect_with_next),
        T(test_bad_indirect_not_negotiated),
        T(test_bad_indirect_loop_and_range),
        T(test_bad_read_after_write),
        T(test_bad_addr_outside),
        T(test_bad_too_many_segments),
        T(test_bad_total_too_long),
        T(test_bad_chains_in_a_row),
        T(test_corrupt_avail_too_far),
        T(test_avail_exactly_size_ahead_ok),
        T(test_corrupt_avail_backwards),
        T(test_corrupt_head_out_of_range),
        T(test_interrupt_flags),
        T(test_publish_on_interrupt),
        TE(test_event_idx_wrap_65532),
        TE(test_event_idx_crossing_exactly),
        TE(test_event_idx_one_lap_later),
        T(test_notify_flags),
        TE(test_notify_event_idx),
    };

    /* TEST_FILTER='test_bad_*' runs only the matching cases. */
    if (getenv("TEST_FILTER"))
        cmocka_set_test_filter(getenv("TEST_FILTER"));
    return cmocka_run_group_tests_name("vdq (device side)", tests, NULL, NULL);
}
