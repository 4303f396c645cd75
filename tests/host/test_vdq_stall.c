/* SPDX-License-Identifier: Apache-2.0 */
/*
 * test_vdq_stall.c - cmocka tests of vdq's corrupt_stall policy (vdq.h):
 * what a split queue does with a corrupt ring when its transport cannot
 * set DEVICE_NEEDS_RESET (vhost-user). Nothing is consumed, the queue is
 * not broken (chains in flight still complete), each stall is reported
 * once, and the driver's later well-formed entries are served: a bad head
 * is skipped once published past, a jumped avail idx is taken over once
 * built upon, a rewound one is served from next_avail. The same rings
 * without the policy break (test_vdq.c "corrupt ring: broken").
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

static int setup(void **state)
{
    static struct ring_fixture fx;

    fx_setup_raw(&fx, 8, false, true);
    vdq_set_corrupt_stall(&fx.q, true);
    *state = &fx;
    return 0;
}

static int teardown(void **state)
{
    fx_teardown(*state);
    return 0;
}

/* A one-descriptor chain at head (not yet published). */
static void chain_at(struct ring_fixture *fx, uint16_t head)
{
    uint64_t gpa;

    (void)fx_alloc(fx, 16, &gpa);
    fx_set_desc(fx, fx->desc, head, gpa, 16, 0, 0);
}

static void expect_pop(struct ring_fixture *fx, uint16_t head)
{
    assert_int_equal(vdq_pop(&fx->q, &fx->chain), 0);
    assert_int_equal(fx->chain.head, head);
}

/* Waiting, not broken: nothing to pop, pushes and notifications work. */
static void expect_waiting(struct ring_fixture *fx)
{
    assert_int_equal(vdq_pop(&fx->q, &fx->chain), -EAGAIN);
    assert_false(vdq_is_broken(&fx->q));
    assert_false(vdq_has_avail(&fx->q));
    assert_int_equal(vdq_enable_notify(&fx->q), 0); /* no busy loop for the drain */
}

static void expect_told(struct ring_fixture *fx, const char *what)
{
    const char *why = NULL;
    uint32_t a, b;

    assert_true(vdq_take_stall(&fx->q, &why, &a, &b));
    assert_string_equal(why, what);
    assert_false(vdq_take_stall(&fx->q, &why, &a, &b)); /* once */
}

static void test_bad_head_waits_then_skipped(void **state)
{
    struct ring_fixture *fx = *state;

    chain_at(fx, 0);
    fx_publish(fx, 0);
    expect_pop(fx, 0); /* in flight across the stall */
    fx_publish(fx, 8 + 3); /* head >= Queue Size, the last entry */
    expect_waiting(fx);
    expect_told(fx, "avail ring head out of range");
    expect_waiting(fx); /* kicks without news: still waiting, told once */
    assert_int_equal(vdq_push(&fx->q, 0, 16), 0); /* the chain in flight completes */
    assert_int_equal(fx_used_idx(fx), 1);
    /* The driver publishes past it: skipped, the next one served. */
    chain_at(fx, 1);
    fx_publish(fx, 1);
    expect_pop(fx, 1);
    assert_int_equal(fx->q.skipped_heads, 1);
    assert_int_equal(fx->q.next_avail, 3);
    assert_int_equal(fx_used_idx(fx), 1); /* the bad entry was never used */
    assert_false(vdq_take_stall(&fx->q, &(const char *){NULL}, &(uint32_t){0}, &(uint32_t){0}));
}

static void test_bad_head_with_entries_after_skipped_at_once(void **state)
{
    struct ring_fixture *fx = *state;

    fx_publish(fx, 200);
    chain_at(fx, 2);
    fx_publish(fx, 2);
    expect_pop(fx, 2);
    expect_told(fx, "avail ring head out of range");
    assert_int_equal(fx->q.skipped_heads, 1);
    assert_int_equal(vdq_pop(&fx->q, &fx->chain), -EAGAIN);
}

static void test_bad_head_rewritten_is_served(void **state)
{
    struct ring_fixture *fx = *state;

    fx_publish(fx, 9);
    expect_waiting(fx);
    expect_told(fx, "avail ring head out of range");
    /* The driver rewrites the entry in place (same avail idx). */
    chain_at(fx, 4);
    fx->avail->ring[0] = 4;
    expect_pop(fx, 4);
    assert_int_equal(fx->q.skipped_heads, 0);
}

static void test_idx_jump_waits_then_taken_over(void **state)
{
    struct ring_fixture *fx = *state;
    uint16_t j = 8 + 1 + 5;

    fx->avail->idx = j; /* more than Queue Size ahead of next_avail 0 */
    fx->avail_idx = j;
    expect_waiting(fx);
    expect_told(fx, "avail idx more than the queue size ahead");
    expect_waiting(fx);
    assert_int_equal(fx->q.next_avail, 0); /* nothing consumed */
    /* The driver goes on from its bad index: the entry it publishes there
     * is served, the ones before it never are. */
    chain_at(fx, 5);
    fx_publish(fx, 5);
    expect_pop(fx, 5);
    assert_int_equal(fx->q.resyncs, 1);
    assert_int_equal(fx->q.next_avail, (uint16_t)(j + 1));
    assert_int_equal(vdq_pop(&fx->q, &fx->chain), -EAGAIN);
}

static void test_idx_jump_repaired(void **state)
{
    struct ring_fixture *fx = *state;

    chain_at(fx, 0);
    fx_publish(fx, 0);
    expect_pop(fx, 0);
    fx->avail->idx = 1 + 8 + 1;
    expect_waiting(fx);
    expect_told(fx, "avail idx more than the queue size ahead");
    fx->avail->idx = 1; /* put back */
    expect_waiting(fx);
    chain_at(fx, 1);
    fx_publish(fx, 1); /* the fixture's idx was 1 all along */
    expect_pop(fx, 1);
    assert_int_equal(fx->q.resyncs, 0);
}

static void test_idx_rewind_served_from_next_avail(void **state)
{
    struct ring_fixture *fx = *state;

    chain_at(fx, 0);
    fx_publish(fx, 0);
    expect_pop(fx, 0);
    fx->avail->idx = 0; /* 2.7.6.1: MUST NOT decrement */
    expect_waiting(fx);
    expect_told(fx, "avail idx more than the queue size ahead");
    assert_int_equal(vdq_push(&fx->q, 0, 16), 0); /* completions still go out */
    /* The next publish (slot 1, idx 2) is served; head 0 is not again. */
    chain_at(fx, 3);
    fx_publish(fx, 3);
    expect_pop(fx, 3);
    assert_int_equal(fx->q.next_avail, 2);
    assert_int_equal(vdq_pop(&fx->q, &fx->chain), -EAGAIN);
}

/* The driver jumped avail->idx before the ring started (vhost-user: the
 * guest runs while the backend starts the ring): the start is not refused,
 * the queue waits and takes the driver's next publish. */
static void test_start_with_jumped_idx(void **state)
{
    struct ring_fixture *fx = *state;
    struct vdq_state st;
    uint16_t j = 8 + 3;

    vdq_get_state(&fx->q, &st);
    fx->avail->idx = j;
    fx->avail_idx = j;
    assert_int_equal(vdq_init_state(&fx->q, &fx->q.mem, &st), -EINVAL); /* as ever */
    assert_int_equal(vdq_init_state_stall(&fx->q, &fx->q.mem, &st), 0);
    assert_true(fx->q.corrupt_stall);
    expect_waiting(fx);
    expect_told(fx, "avail idx more than the queue size ahead");
    chain_at(fx, 6);
    fx_publish(fx, 6);
    expect_pop(fx, 6);
    /* next_avail far from next_used is still refused: that is the
     * frontend's base, not the driver's ring. */
    st.next_avail = 40000;
    assert_int_equal(vdq_init_state_stall(&fx->q, &fx->q.mem, &st), -EINVAL);
}

static void test_policy_off_still_breaks(void **state)
{
    struct ring_fixture *fx = *state;

    vdq_set_corrupt_stall(&fx->q, false);
    fx_publish(fx, 8);
    assert_int_equal(vdq_pop(&fx->q, &fx->chain), -EIO);
    assert_true(vdq_is_broken(&fx->q));
    assert_false(vdq_take_stall(&fx->q, &(const char *){NULL}, &(uint32_t){0}, &(uint32_t){0}));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_bad_head_waits_then_skipped, setup, teardown),
        cmocka_unit_test_setup_teardown(test_bad_head_with_entries_after_skipped_at_once, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_bad_head_rewritten_is_served, setup, teardown),
        cmocka_unit_test_setup_teardown(test_idx_jump_waits_then_taken_over, setup, teardown),
        cmocka_unit_test_setup_teardown(test_idx_jump_repaired, setup, teardown),
        cmocka_unit_test_setup_teardown(test_idx_rewind_served_from_next_avail, setup, teardown),
        cmocka_unit_test_setup_teardown(test_start_with_jumped_idx, setup, teardown),
        cmocka_unit_test_setup_teardown(test_policy_off_still_breaks, setup, teardown),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
