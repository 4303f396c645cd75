/* SPDX-License-Identifier: Apache-2.0 */
/*
 * test_vdq_inflight.c - inflight I/O tracking (hostsim/vdq_inflight.c, the
 * layout of QEMU docs/interop/vhost-user.rst "Inflight I/O tracking") on a
 * real split device queue (hostsim/vdq.c) over hand-made rings.
 *
 * The crash tests stop the world after every single store of the tracking
 * (the step hook), keep what a killed backend leaves behind (the inflight
 * region and the used ring; the avail ring and descriptors are the
 * driver's), and start a new queue + tracker from that image the way the
 * next backend does: recovery must list exactly the chains that were
 * fetched and not visibly completed, oldest fetch first, and popping on
 * from there must hand out every chain the driver is still waiting for
 * exactly once: none lost, none repeated.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "ring_fixture.h"
#include "vdq.h"
#include "vdq_inflight.h"

#define NUM 8
#define MAX_SNAPS 256

struct snap {
    enum vdqi_step step;
    uint16_t head;
    uint8_t region[512];
    uint8_t used[512];
    /* Truth at this moment: fetches committed (inflight flag set), in
     * order. */
    uint16_t fetched[64];
    unsigned nfetched;
};

struct world {
    struct ring_fixture fx;
    struct vdqi_region *r;
    struct vdq_inflight t;
    uint16_t storage[NUM];
    uint64_t rbytes;
    /* Fetches committed so far (the step hook keeps it). */
    uint16_t fetched[64];
    unsigned nfetched;
    struct snap *snaps;
    unsigned nsnaps;
    bool recording;
};

static void w_snap(void *ctx, enum vdqi_step s, uint16_t head)
{
    struct world *w = ctx;
    struct snap *sn;

    if (s == VDQI_STEP_POP_INFLIGHT)
        w->fetched[w->nfetched++] = head;
    if (!w->recording)
        return;
    assert_true(w->nsnaps < MAX_SNAPS);
    sn = &w->snaps[w->nsnaps++];
    sn->step = s;
    sn->head = head;
    memcpy(sn->region, w->r, w->rbytes);
    memcpy(sn->used, w->fx.used, virtq_used_size(NUM));
    memcpy(sn->fetched, w->fetched, sizeof(w->fetched));
    sn->nfetched = w->nfetched;
}

/* Rings of NUM one-descriptor chains (head i -> 64 bytes of scratch), a
 * fresh region, the tracker on the queue. */
static void w_setup(struct world *w, bool batched)
{
    uint16_t n;
    uint32_t i;

    memset(w, 0, sizeof(*w));
    fx_setup_raw(&w->fx, NUM, false, false);
    if (batched) {
        struct vdq_config cfg = w->fx.q.cfg;

        cfg.publish_on_interrupt = true;
        assert_int_equal(vdq_init(&w->fx.q, &w->fx.mem, &cfg), 0);
    }
    for (i = 0; i < NUM; i++)
        fx_set_desc(&w->fx, w->fx.desc, (uint16_t)i, fx_gpa(&w->fx, w->fx.scratch) + 64 * i, 64,
                    VIRTQ_DESC_F_WRITE, 0);
    w->rbytes = vdqi_queue_bytes(NUM);
    assert_true(w->rbytes <= sizeof(w->snaps[0].region));
    w->r = calloc(1, w->rbytes);
    assert_non_null(w->r);
    assert_int_equal(vdqi_region_check(w->r, NUM, &(const char *){NULL}), 0);
    assert_int_equal(w->r->version, VDQI_VERSION);
    vdqi_attach(&w->t, w->r, NUM, w->storage);
    assert_int_equal(vdqi_recover(&w->t, 0, NUM, &n, &(const char *){NULL}), 0);
    assert_int_equal(n, 0);
    w->t.step = w_snap;
    w->t.step_ctx = w;
    assert_int_equal(vdq_set_inflight(&w->fx.q, &w->t), 0);
    w->snaps = calloc(MAX_SNAPS, sizeof(*w->snaps));
    assert_non_null(w->snaps);
}

static void w_teardown(struct world *w)
{
    free(w->snaps);
    free(w->r);
    fx_teardown(&w->fx);
}

static uint16_t w_pop(struct world *w)
{
    w->fx.chain.iov = w->fx.iov;
    w->fx.chain.max_iov = FX_MAX_IOV;
    assert_int_equal(vdq_pop(&w->fx.q, &w->fx.chain), 0);
    return w->fx.chain.head;
}

/* Sort a few heads (multiset comparison). */
static void sort16(uint16_t *v, unsigned n)
{
    for (unsigned i = 1; i < n; i++)
        for (unsigned k = i; k > 0 && v[k - 1] > v[k]; k--) {
            uint16_t x = v[k];

            v[k] = v[k - 1];
            v[k - 1] = x;
        }
}

/*
 * The next backend, from snapshot sn: recover, then pop everything the
 * driver still waits for and push it. Checks the resubmit list against the
 * truth (fetched, not visibly completed, in fetch order), that they come
 * out first, and that what the used ring got before the crash plus what
 * the new backend pushed is exactly what the driver published (pub[0..npub)):
 * none lost, none repeated.
 */
static void w_restart_from(struct world *w, const struct snap *sn, const uint16_t *pub,
                           unsigned npub)
{
    struct vdqi_region *r2 = calloc(1, w->rbytes);
    struct vdq_inflight t2;
    uint16_t storage[NUM], n, used_idx, want[NUM], all[64], expect[64];
    unsigned nwant = 0, nall = 0, i, npost = 0;
    struct vdq_state st;
    struct vdq q2;
    const char *why = NULL;

    assert_non_null(r2);
    memcpy(r2, sn->region, w->rbytes);
    memcpy(w->fx.used, sn->used, virtq_used_size(NUM));
    used_idx = w->fx.used->idx;
    assert_true(used_idx <= NUM);
    for (i = 0; i < used_idx; i++)
        all[nall++] = (uint16_t)w->fx.used->ring[i].id;
    /* Truth: fetched (committed), minus what the used ring shows (a head
     * is in flight once at a time, so by id). */
    for (i = 0; i < sn->nfetched; i++) {
        unsigned k, later = 0, done = 0;

        for (k = i + 1; k < sn->nfetched; k++)
            later += sn->fetched[k] == sn->fetched[i];
        for (k = 0; k < nall; k++)
            done += all[k] == sn->fetched[i];
        for (k = 0; k < i; k++)
            done -= done && sn->fetched[k] == sn->fetched[i];
        if (!later && !done)
            want[nwant++] = sn->fetched[i];
    }

    assert_int_equal(vdqi_region_check(r2, NUM, &why), 0);
    vdqi_attach(&t2, r2, NUM, storage);
    assert_int_equal(vdqi_recover(&t2, used_idx, NUM, &n, &why), 0);
    assert_int_equal(n, nwant);
    for (i = 0; i < nwant; i++)
        assert_int_equal(storage[i], want[i]); /* fetch order */
    /* Every fetched chain is in the used ring or in flight. */
    assert_int_equal((uint16_t)(used_idx + n), sn->nfetched);

    vdq_get_state(&w->fx.q, &st);
    st.next_avail = (uint16_t)(used_idx + n);
    st.next_used = used_idx;
    st.num_added = 0;
    assert_int_equal(vdq_init_state(&q2, &w->fx.mem, &st), 0);
    assert_int_equal(vdq_set_inflight(&q2, &t2), 0);
    for (;;) {
        struct vdq_chain c = {.iov = w->fx.iov, .max_iov = FX_MAX_IOV};
        int err = vdq_pop(&q2, &c);

        if (err == -EAGAIN)
            break;
        assert_int_equal(err, 0);
        if (npost < nwant)
            assert_int_equal(c.head, want[npost]); /* resubmitted first, in order */
        npost++;
        all[nall++] = c.head;
        assert_int_equal(vdq_push(&q2, c.head, 64), 0);
        (void)vdq_interrupt_prepare(&q2);
    }
    assert_int_equal(t2.resubmitted, nwant);
    assert_int_equal(nall, npub);
    memcpy(expect, pub, npub * sizeof(pub[0]));
    sort16(expect, npub);
    sort16(all, nall);
    assert_memory_equal(expect, all, npub * sizeof(pub[0]));
    /* And the region is clean again: nothing in flight. */
    for (i = 0; i < NUM; i++)
        assert_int_equal(r2->desc[i].inflight, 0);
    assert_int_equal(r2->used_idx, (uint16_t)npub);
    free(r2);
}

/* Fetch all 6, complete 3, 1, 5 out of order (batched: all three, then one
 * publish); crash after every step of it. */
static void run_crash_each_step(bool batched)
{
    struct world w;
    uint16_t order[3] = {3, 1, 5};
    unsigned i, s;

    w_setup(&w, batched);
    for (i = 0; i < 6; i++)
        fx_publish(&w.fx, (uint16_t)i);
    w.recording = true;
    for (i = 0; i < 6; i++)
        assert_int_equal(w_pop(&w), i);
    for (i = 0; i < 3; i++)
        assert_int_equal(vdq_push(&w.fx.q, order[i], 64), 0);
    (void)vdq_interrupt_prepare(&w.fx.q); /* batched: publishes here */
    w.recording = false;
    /* 6 pops x 2 steps, 3 pushes x 2, publishes: 3 x (idx, clear, used)
     * or 1 x (idx, 3 clears, used). */
    assert_int_equal(w.nsnaps, 12 + 6 + (batched ? 5 : 9));
    for (s = 0; s < w.nsnaps; s++)
        w_restart_from(&w, &w.snaps[s], (const uint16_t[]){0, 1, 2, 3, 4, 5}, 6);
    w_teardown(&w);
}

static void test_crash_at_each_step(void **state)
{
    (void)state;
    run_crash_each_step(false);
}

static void test_crash_at_each_step_batched(void **state)
{
    (void)state;
    run_crash_each_step(true);
}

/* A crash with chains in flight after a second lap of the ring (counters
 * keep the fetch order even when avail entries were reused). */
static void test_crash_after_wrap(void **state)
{
    struct world w;
    unsigned i;

    (void)state;
    w_setup(&w, false);
    for (i = 0; i < NUM; i++)
        fx_publish(&w.fx, (uint16_t)i);
    for (i = 0; i < NUM; i++)
        (void)w_pop(&w);
    /* Complete all but 2 and 6; the driver reuses the others. */
    for (i = 0; i < NUM; i++)
        if (i != 2 && i != 6)
            assert_int_equal(vdq_push(&w.fx.q, (uint16_t)i, 64), 0);
    fx_publish(&w.fx, 7);
    fx_publish(&w.fx, 0);
    fx_publish(&w.fx, 4);
    assert_int_equal(w_pop(&w), 7);
    assert_int_equal(w_pop(&w), 0);
    w.recording = true;
    (void)w_pop(&w); /* 4: two steps recorded */
    w.recording = false;
    /* In flight: 2, 6 (first lap), 7, 0, 4, oldest first. */
    w_restart_from(&w, &w.snaps[w.nsnaps - 1],
                   (const uint16_t[]){0, 1, 2, 3, 4, 5, 6, 7, 7, 0, 4}, NUM + 3);
    w_teardown(&w);
}

/* The frontend's region is not trusted: each inconsistency is refused
 * before anything is written. */
static void test_bad_regions_refused(void **state)
{
    struct world w;
    struct vdqi_region *copy;
    struct vdq_inflight t2;
    uint16_t storage[NUM], n;
    const char *why;
    unsigned i, c;

    (void)state;
    w_setup(&w, false);
    for (i = 0; i < 4; i++)
        fx_publish(&w.fx, (uint16_t)i);
    for (i = 0; i < 4; i++)
        (void)w_pop(&w);
    copy = malloc(w.rbytes);
    assert_non_null(copy);
    for (c = 0; c < 7; c++) {
        struct vdqi_region *r = calloc(1, w.rbytes);
        uint16_t used = 0;
        uint32_t num = NUM;
        int want = -EINVAL;

        memcpy(r, w.r, w.rbytes);
        switch (c) {
        case 0: /* version unknown */
            r->version = 7;
            why = NULL;
            assert_int_equal(vdqi_region_check(r, NUM, &why), -EINVAL);
            assert_non_null(why);
            free(r);
            continue;
        case 1: /* desc_num is not the queue size */
            why = NULL;
            assert_int_equal(vdqi_region_check(r, NUM * 2, &why), -EINVAL);
            free(r);
            continue;
        case 2: /* a batch longer than the ring */
            used = NUM + 1;
            break;
        case 3: /* a batch list index out of range */
            used = 2;
            r->last_batch_head = 1;
            r->desc[1].next = 200;
            break;
        case 4: /* a head in flight outside the (smaller) ring */
            num = 2;
            break;
        case 5: /* ring larger than the region */
            num = NUM * 2;
            break;
        default: /* all clean: fine, nothing to resubmit */
            for (i = 0; i < NUM; i++)
                r->desc[i].inflight = 0;
            want = 0;
            break;
        }
        memcpy(copy, r, w.rbytes);
        vdqi_attach(&t2, r, NUM, storage);
        why = NULL;
        assert_int_equal(vdqi_recover(&t2, used, num, &n, &why), want);
        if (want) {
            assert_non_null(why);
            assert_memory_equal(copy, r, w.rbytes); /* nothing written */
        } else {
            assert_int_equal(n, 0);
        }
        free(r);
    }
    free(copy);
    w_teardown(&w);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_crash_at_each_step),
        cmocka_unit_test(test_crash_at_each_step_batched),
        cmocka_unit_test(test_crash_after_wrap),
        cmocka_unit_test(test_bad_regions_refused),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
