/* SPDX-License-Identifier: Apache-2.0 */
/*
 * test_vq_packed_hostile.c - cmocka tests of the packed driver
 * (drivers/virtio/virtqueue_packed.c) against a device that lies, next to
 * the spec-written fake device of packed_fakedev.h (test_vq_packed.c has
 * the ring behaviour): every hostile case (id out of range, not in flight,
 * duplicate, len past the writable bytes with or without WRITE,
 * inconsistent AVAIL/USED bits, a previous lap's bits, used with nothing
 * in flight) -> broken, every call -EIO; legal out-of-order use is not
 * broken; detach returns every buffer and gives a fresh ring; the
 * peek value moves; checking mode works on packed queues.
 */
#include "vqp_fixture.h"

/* ---- a hostile device ---- */

static void one_popped(struct pfx *f, unsigned nin)
{
    assert_int_equal(add(f->vq, 1, nin, tokn(1)), 0);
    assert_true(fd_pop(&f->d, &f->c));
}

static void test_broken_id_out_of_range(void **state)
{
    struct pfx *f = *state;
    void *t;
    uint32_t len;

    one_popped(f, 1);
    fd_push_raw(&f->d, 8, 0, 2, pvirtq_used_flags(true));
    assert_int_equal(vq_get_buf(f->vq, &t, &len), -EIO);
    assert_all_eio(f);
}

static void test_broken_id_not_in_flight(void **state)
{
    struct pfx *f = *state;
    void *t;
    uint32_t len;

    one_popped(f, 1);
    fd_push_raw(&f->d, (uint16_t)(f->c.id + 1), 0, 2, pvirtq_used_flags(true));
    assert_int_equal(vq_get_buf(f->vq, &t, &len), -EIO);
    assert_all_eio(f);
}

static void test_broken_duplicate_id(void **state)
{
    struct pfx *f = *state;
    void *t;
    uint32_t len;
    uint16_t id;

    one_popped(f, 0);
    id = f->c.id;
    assert_int_equal(add(f->vq, 1, 0, tokn(2)), 0);
    fd_push_raw(&f->d, id, 0, 1, pvirtq_used_flags(true));
    fd_push_raw(&f->d, id, 0, 1, pvirtq_used_flags(true)); /* again */
    assert_int_equal(vq_get_buf(f->vq, &t, &len), 0);
    assert_int_equal(vq_get_buf(f->vq, &t, &len), -EIO);
    assert_all_eio(f);
}

static void test_broken_len_too_big(void **state)
{
    struct pfx *f = *state;
    void *t;
    uint32_t len;

    one_popped(f, 2); /* 16 writable bytes */
    fd_push_raw(&f->d, f->c.id, 17, f->c.ndescs,
                (uint16_t)(pvirtq_used_flags(true) | VIRTQ_DESC_F_WRITE));
    assert_int_equal(vq_get_buf(f->vq, &t, &len), -EIO);
    assert_all_eio(f);
}

static void test_len_equal_and_no_write(void **state)
{
    struct pfx *f = *state;
    void *t;
    uint32_t len;

    one_popped(f, 2);
    fd_push(&f->d, &f->c, 16); /* exactly the writable bytes: fine */
    assert_int_equal(vq_get_buf(f->vq, &t, &len), 0);
    assert_int_equal(len, 16);
    /* Without WRITE (QEMU 7.2 never sets it): the length still counts,
     * like Linux's driver takes it... */
    one_popped(f, 1);
    fd_push_raw(&f->d, f->c.id, 7, f->c.ndescs, pvirtq_used_flags(f->d.used_wrap));
    assert_int_equal(vq_get_buf(f->vq, &t, &len), 0);
    assert_int_equal(len, 7);
    assert_false(vq_is_broken(f->vq));
    /* ...and is checked the same way. */
    one_popped(f, 1);
    fd_push_raw(&f->d, f->c.id, 9, f->c.ndescs, pvirtq_used_flags(f->d.used_wrap));
    assert_int_equal(vq_get_buf(f->vq, &t, &len), -EIO);
    assert_all_eio(f);
}

static void test_broken_bits_inconsistent(void **state)
{
    struct pfx *f = *state;
    void *t;
    uint32_t len;

    one_popped(f, 0);
    /* USED set, AVAIL not, with wrap 1: neither available nor used. */
    fd_push_raw(&f->d, f->c.id, 0, 1, VIRTQ_DESC_F_USED);
    assert_int_equal(vq_get_buf(f->vq, &t, &len), -EIO);
    assert_all_eio(f);
}

static void test_broken_bits_previous_lap(void **state)
{
    struct pfx *f = *state;
    void *t;
    uint32_t len;

    one_popped(f, 0);
    /* Used with the wrong (previous lap's) wrap: AVAIL = USED = 0. */
    fd_push_raw(&f->d, f->c.id, 0, 1, 0);
    assert_false(vq_has_used(f->vq));
    assert_all_eio(f);
    (void)t;
    (void)len;
}

static void test_broken_used_nothing_in_flight(void **state)
{
    struct pfx *f = *state;
    void *t;
    uint32_t len;

    fd_push_raw(&f->d, 0, 0, 1, pvirtq_used_flags(true));
    assert_int_equal(vq_get_buf(f->vq, &t, &len), -EIO);
    assert_all_eio(f);
}

/* The device takes a chain but answers with another in-flight id whose
 * chain is longer: legal out-of-order use, not broken. */
static void test_out_of_order_other_chain_ok(void **state)
{
    struct pfx *f = *state;
    struct fd_chain a, b;
    void *t;
    uint32_t len;

    assert_int_equal(add(f->vq, 1, 0, tokn(1)), 0);
    assert_int_equal(add(f->vq, 3, 0, tokn(2)), 0);
    assert_true(fd_pop(&f->d, &a) && fd_pop(&f->d, &b));
    fd_push(&f->d, &b, 0); /* written at offset 0, skips 3 */
    fd_push(&f->d, &a, 0); /* at offset 3 */
    assert_int_equal(vq_get_buf(f->vq, &t, &len), 0);
    assert_ptr_equal(t, tokn(2));
    assert_int_equal(vq_get_buf(f->vq, &t, &len), 0);
    assert_ptr_equal(t, tokn(1));
    assert_false(vq_is_broken(f->vq));
}

/* ---- detach ---- */

static void test_detach_unused(void **state)
{
    struct pfx *f = *state;
    bool seen[8] = {false};
    void *t;
    uint32_t len;
    unsigned i, n = 0;

    for (i = 0; i < 5; i++)
        assert_int_equal(add(f->vq, 1, i & 1, tokn(i)), 0);
    assert_true(fd_pop(&f->d, &f->c));
    fd_push(&f->d, &f->c, 0);
    assert_int_equal(vq_get_buf(f->vq, &t, &len), 0);
    assert_ptr_equal(t, tokn(0));
    /* Device reset: every other buffer comes back once. */
    while ((t = vq_detach_unused(f->vq)) != NULL) {
        unsigned k = (unsigned)((uintptr_t)t - 0x1000);

        assert_true(k >= 1 && k < 5);
        assert_false(seen[k]);
        seen[k] = true;
        n++;
    }
    assert_int_equal(n, 4);
    assert_int_equal(vq_num_free(f->vq), 8);
    /* A fresh ring: a fresh device finds the next chain at offset 0. */
    fd_init(&f->d, f->vq);
    assert_int_equal(f->d.desc[0].flags, 0);
    assert_int_equal(add(f->vq, 1, 0, tokn(7)), 0);
    assert_true(fd_pop(&f->d, &f->c));
    fd_push(&f->d, &f->c, 0);
    assert_int_equal(vq_get_buf(f->vq, &t, &len), 0);
    assert_ptr_equal(t, tokn(7));
}

static void test_peek_used_idx_moves(void **state)
{
    struct pfx *f = *state;
    uint16_t a, b, c;
    void *t;
    uint32_t len;

    a = vq_peek_used_idx(f->vq);
    assert_int_equal(add(f->vq, 1, 0, tokn(1)), 0);
    assert_int_equal(vq_peek_used_idx(f->vq), a);
    assert_true(fd_pop(&f->d, &f->c));
    fd_push(&f->d, &f->c, 0);
    b = vq_peek_used_idx(f->vq);
    assert_int_not_equal(a, b);
    assert_int_equal(vq_get_buf(f->vq, &t, &len), 0);
    c = vq_peek_used_idx(f->vq);
    assert_int_not_equal(c, a);
}

/* Checking mode (vq_check.h) works on packed queues too: the device sees
 * a bounce; a write past the used length or past the buffer is counted and
 * the data still reaches the caller's buffer. */
static void test_checking_mode(void **state)
{
    struct pfx *f = *state;
    void *t;
    uint32_t len;

    memset(scratch, 0, 64);
    vq_set_checking(true);
    assert_int_equal(add(f->vq, 1, 1, tokn(1)), 0);
    vq_set_checking(false);
    assert_true(fd_pop(&f->d, &f->c));
    assert_ptr_not_equal(f->c.segs[1].buf, scratch + 8); /* bounced */
    memset(f->c.segs[1].buf, 0x77, 6);                  /* 6 written, 4 reported */
    fd_push(&f->d, &f->c, 4);
    assert_int_equal(vq_get_buf(f->vq, &t, &len), 0);
    assert_int_equal(len, 4);
    assert_int_equal(scratch[8], 0x77);
    assert_int_equal(vq_get_stats(f->vq)->check_bounced, 1);
    assert_int_equal(vq_get_stats(f->vq)->check_past_len, 1);
    assert_int_equal(vq_get_stats(f->vq)->check_overruns, 0);
    /* Past the 8-byte buffer into the guard bytes. */
    vq_set_checking(true);
    assert_int_equal(add(f->vq, 1, 1, tokn(2)), 0);
    vq_set_checking(false);
    assert_true(fd_pop(&f->d, &f->c));
    memset(f->c.segs[1].buf, 0x55, 10);
    fd_push(&f->d, &f->c, 8);
    assert_int_equal(vq_get_buf(f->vq, &t, &len), 0);
    assert_int_equal(vq_get_stats(f->vq)->check_overruns, 1);
    assert_false(vq_is_broken(f->vq));
}


int main(void)
{
    const struct CMUnitTest tests[] = {
        T(test_broken_id_out_of_range, setup8),
        T(test_broken_id_not_in_flight, setup8),
        T(test_broken_duplicate_id, setup8),
        T(test_broken_len_too_big, setup8),
        T(test_len_equal_and_no_write, setup8),
        T(test_broken_bits_inconsistent, setup8),
        T(test_broken_bits_previous_lap, setup8),
        T(test_broken_used_nothing_in_flight, setup8),
        T(test_out_of_order_other_chain_ok, setup8),
        T(test_detach_unused, setup8),
        T(test_peek_used_idx_moves, setup8),
        T(test_checking_mode, setup8),
    };

    if (getenv("TEST_FILTER"))
        cmocka_set_test_filter(getenv("TEST_FILTER"));
    return cmocka_run_group_tests_name("virtqueue (packed, hostile device)", tests, NULL, NULL);
}
