/* SPDX-License-Identifier: Apache-2.0 */
/*
 * test_vdq_packed_inflight.c - the packed device queue (hostsim/
 * vdq_packed.c) tracked in a packed inflight region (hostsim/
 * vdq_inflight_packed.c, vdq_set_inflight_packed), against the spec-written
 * test driver of packed_fixture.c: a backend fetches chains, completes one
 * out of order (its used element lands on the ring offset of a chain still
 * in flight), and "dies"; a new queue recovers from the region and the
 * ring alone. It must hand out the chains in flight first, oldest first,
 * with the buffers the driver gave (from the region's copies: the ring no
 * longer holds them), then the chains not yet fetched; the driver sees
 * every buffer used exactly once. With and without batched publishing
 * (publish_on_interrupt), and with a chain given back (vdq_unpop).
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
#include "vdq_inflight_packed.h"

#define QN 8

static uint64_t region[(sizeof(struct vdqip_region) + QN * sizeof(struct vdqip_desc)) / 8 + 8];
static uint16_t storage1[VDQIP_STORAGE_PER_DESC * QN], storage2[VDQIP_STORAGE_PER_DESC * QN];

/* Chain id: 1 + id % 2 readable segments then one writable one. */
static unsigned make_chain(uint16_t id, struct seg *s)
{
    unsigned n = 1 + id % 2, k;

    for (k = 0; k < n; k++)
        s[k] = (struct seg){p_buf(&F, 64 + 16 * k, NULL), 64 + 16 * k, 0};
    s[n] = (struct seg){p_buf(&F, 512, NULL), 512, W};
    return n + 1;
}

static void expect_chain(const struct vdq_chain *c, uint16_t id, const struct seg *s, unsigned n)
{
    unsigned k;

    assert_int_equal(c->head, id);
    assert_int_equal(c->nout + c->nin, n);
    for (k = 0; k < n; k++) {
        assert_ptr_equal(c->iov[k].base, F.arena + (s[k].gpa - GPA_BASE));
        assert_int_equal(c->iov[k].len, s[k].len);
    }
}

static void run_restart(bool batch, bool give_back)
{
    struct vdqip_region *r = (struct vdqip_region *)region;
    struct vdq_inflight_packed t1, t2;
    struct seg segs[4][4];
    unsigned nseg[4], i;
    struct vdq_state st;
    struct vdq q2;
    uint16_t ui, ai, n, id, flags;
    bool uw, aw, seen[4] = {false};
    const char *why = NULL;
    uint32_t len;

    p_setup_q(&F, QN, false, false, batch);
    vdqip_region_init(r, QN);
    vdqip_attach(&t1, r, QN, storage1);
    assert_int_equal(vdq_set_inflight_packed(&F.q, &t1), 0);
    /* Chains of 2-3 descriptors on a ring of 8: three now (7), one more
     * once chain 1 is back (3 of the 4 free). */
    for (i = 0; i < 3; i++) {
        nseg[i] = make_chain((uint16_t)i, segs[i]);
        drv_add(&F, (uint16_t)i, segs[i], nseg[i]);
    }
    for (i = 0; i < 3; i++) {
        assert_int_equal(vdq_pop(&F.q, &F.chain), 0);
        expect_chain(&F.chain, (uint16_t)i, segs[i], nseg[i]);
    }
    if (give_back) /* chain 2 goes back to the ring: fetched again later */
        assert_int_equal(vdq_unpop(&F.q, (const uint16_t[]){2}, 1), 0);
    /* Chain 1 completes first: its used element goes to offset 0, over
     * chain 0's head. */
    assert_int_equal(vdq_push(&F.q, 1, 512), 0);
    (void)vdq_interrupt_prepare(&F.q); /* publishes a held batch */
    assert_true(drv_get_used(&F, &id, &len, &flags));
    assert_int_equal(id, 1);
    seen[1] = true;
    for (i = 3; i < 4; i++) { /* the driver adds one more into the freed space */
        nseg[i] = make_chain((uint16_t)i, segs[i]);
        drv_add(&F, (uint16_t)i, segs[i], nseg[i]);
    }
    /* The backend dies here. A new one: the region and the ring only. */
    vdqip_attach(&t2, r, QN, storage2);
    assert_int_equal(vdqip_recover(&t2, F.ring, QN, &ui, &uw, &ai, &aw, &n, &why), 0);
    assert_int_equal(n, give_back ? 1 : 2);
    assert_int_equal(ui, nseg[1]); /* past chain 1's descriptors */
    assert_true(uw);
    assert_int_equal(ai, nseg[0] + nseg[1] + (give_back ? 0 : nseg[2]));
    assert_true(aw);
    vdq_get_state(&F.q, &st);
    st.next_avail = ai;
    st.avail_wrap = aw;
    st.next_used = ui;
    st.used_wrap = uw;
    memset(&q2, 0, sizeof(q2));
    assert_int_equal(vdq_init_state(&q2, &F.mem, &st), 0);
    assert_int_equal(vdq_set_inflight_packed(&q2, &t2), 0);
    /* Chains in flight first, from the copies, then the ring. */
    assert_true(vdq_has_avail(&q2));
    assert_int_equal(vdq_pop(&q2, &F.chain), 0);
    expect_chain(&F.chain, 0, segs[0], nseg[0]);
    if (!give_back) {
        assert_int_equal(vdq_pop(&q2, &F.chain), 0);
        expect_chain(&F.chain, 2, segs[2], nseg[2]);
    }
    for (i = give_back ? 2 : 3; i < 4; i++) {
        assert_int_equal(vdq_pop(&q2, &F.chain), 0);
        expect_chain(&F.chain, (uint16_t)i, segs[i], nseg[i]);
    }
    assert_int_equal(vdq_pop(&q2, &F.chain), -EAGAIN);
    /* All complete; the driver sees each id used once, nothing else. */
    for (i = 0; i < 4; i++) {
        if (i == 1)
            continue;
        assert_int_equal(vdq_push(&q2, (uint16_t)i, 512), 0);
    }
    (void)vdq_interrupt_prepare(&q2);
    F.q = q2; /* the fixture's driver reads the same ring */
    while (drv_get_used(&F, &id, &len, &flags)) {
        assert_true(id < 4);
        assert_false(seen[id]);
        seen[id] = true;
    }
    for (i = 0; i < 4; i++)
        assert_true(seen[i]);
    /* And a third backend finds nothing in flight. */
    vdqip_attach(&t1, r, QN, storage1);
    assert_int_equal(vdqip_recover(&t1, F.ring, QN, &ui, &uw, &ai, &aw, &n, &why), 0);
    assert_int_equal(n, 0);
    assert_int_equal(ui, ai);
    assert_int_equal(uw, aw);
    p_teardown(&F);
}

static void test_restart(void **state)
{
    (void)state;
    run_restart(false, false);
}

static void test_restart_batched(void **state)
{
    (void)state;
    run_restart(true, false);
}

static void test_restart_after_give_back(void **state)
{
    (void)state;
    run_restart(false, true);
}

/* A split queue takes no packed tracker, nor a region smaller than the ring. */
static void test_set_refused(void **state)
{
    struct vdq_inflight_packed t;

    (void)state;
    p_setup_q(&F, QN, false, false, false);
    vdqip_region_init((struct vdqip_region *)region, QN);
    vdqip_attach(&t, (struct vdqip_region *)region, QN / 2, storage1);
    assert_int_equal(vdq_set_inflight_packed(&F.q, &t), -EINVAL);
    assert_int_equal(vdq_set_inflight_packed(&F.q, NULL), 0);
    p_teardown(&F);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_restart),
        cmocka_unit_test(test_restart_batched),
        cmocka_unit_test(test_restart_after_give_back),
        cmocka_unit_test(test_set_refused),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
