/* SPDX-License-Identifier: Apache-2.0 */
/*
 * test_snapshot_packed.c - the snapshot format's packed queues (format 1.1,
 * hostsim/snapshot.h, hostsim/snapshot_packed.c) under ASan+UBSan, with the
 * models offering VIRTIO_F_RING_PACKED and the fixture driver acking it:
 *  - versions: a 1.1 snapshot says 1.1; a 1.0 (split) snapshot still loads
 *    and saves back identical but for the minor; a packed QUEU in a 1.0
 *    file and a 1.2 file are refused;
 *  - save -> restore -> save identical for every model, at a queue size
 *    that is not a power of two, after wrapping the ring (wrap counters);
 *  - every packed field refused with an error naming the section and the
 *    field, the device unchanged (snap_harness.c: expect_refused);
 *  - buffers in flight (id, ndesc): checked against the ring, then
 *    rewound and processed once: 0 lost, 0 duplicated;
 *  - every bit flip and truncation refused; a broken packed queue stays
 *    broken; wake re-publishes the device event suppression structure.
 * Traffic with packed rings is test_snapshot_traffic.c.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "snap_fixture.h"
#include "snap_harness.h"
#include "snap_le.h"
#include "snapshot.h"
#include "virtio_mmio.h"
#include "virtio_platform.h"

/* QUEU payload offsets (snapshot.h). */
#define Q_SIZE 4
#define Q_FLAGS 7
#define Q_DESC 8
#define Q_AVAIL 16
#define Q_USED 24
#define Q_NEXT_AVAIL 32
#define Q_NEXT_USED 34
#define Q_NINFLIGHT 38
#define P_AVAIL_WRAP 40
#define P_USED_WRAP 41
#define P_EV_FLAGS 42
#define P_EV_OFF_WRAP 44
#define P_RESERVED 46
#define P_ADDED_DESC 48
#define P_INFLIGHT 52
#define F_PACKED 16u

static int setup_pk(void **state, enum kind k)
{
    return setup_kind_packed(state, k, true);
}
static int setup_blk_pk(void **state)
{
    return setup_pk(state, K_BLK);
}
static int setup_net_pk(void **state)
{
    return setup_pk(state, K_NET);
}
static int setup_rng_pk(void **state)
{
    return setup_pk(state, K_RNG);
}
static int setup_con_pk(void **state)
{
    return setup_pk(state, K_CON);
}
static int setup_pmem_pk(void **state)
{
    return setup_pk(state, K_PMEM);
}
static int setup_blk_split(void **state)
{
    return setup_kind_packed(state, K_BLK, false);
}

/* ------------------------------------------------------------ versions */

static void test_pk_versions(void **state)
{
    struct dev_fixture *f = *state;
    uint8_t *ref, *b, *q;
    size_t len;

    warm_up(f);
    assert_true(f->dev.queues[0].q.cfg.packed);
    vmmio_sleep(f->m);
    ref = save(f, 0, &len);
    assert_int_equal(snap_get16(ref + 10), 1);
    q = sfx_find(ref, len, "QUEU", 0, NULL);
    assert_non_null(q);
    assert_true(q[Q_FLAGS] & F_PACKED);
    b = edit_copy(ref, len);
    snap_put16(b + 10, 0);
    sfx_fix_crcs(b, len, 0);
    expect_refused(f, b, len, "QUEU[0]: packed flag in a version 1.0 snapshot (packed from 1.1)");
    snap_put16(b + 10, 2);
    sfx_fix_crcs(b, len, 0);
    expect_refused(f, b, len, "header: format version 1.2 is newer than this reader's 1.1");
    free(b);
    free(ref);
    vmmio_wake(f->m);
}

/* A version 1.0 snapshot (split queues: the 1.0 encoding, unchanged in 1.1)
 * loads; saved again it is the same bytes with minor 1. */
static void test_v10_loads(void **state)
{
    struct dev_fixture *f = *state;
    uint8_t *ref, *v10, *again;
    size_t len, l2;

    warm_up(f);
    assert_false(f->dev.queues[0].q.cfg.packed);
    vmmio_sleep(f->m);
    ref = save(f, SNAP_F_CONTENT, &len);
    v10 = edit_copy(ref, len);
    snap_put16(v10 + 10, 0); /* what a 1.0 writer wrote */
    sfx_fix_crcs(v10, len, 0);
    replace_instance(f, v10, len, false);
    again = save(f, SNAP_F_CONTENT, &l2);
    assert_int_equal(len, l2);
    assert_memory_equal(again, ref, len);
    vmmio_wake(f->m);
    warm_up(f);
    free(ref);
    free(v10);
    free(again);
}

/* ------------------------------------------------------------ roundtrip */

static void test_pk_roundtrip(void **state)
{
    struct dev_fixture *f = *state;
    unsigned flags;

    warm_up(f);
    assert_true(f->dev.queues[0].q.cfg.packed);
    for (flags = 0; flags <= SNAP_F_CONTENT; flags++) {
        size_t la, lb;
        uint8_t *a, *b;

        vmmio_sleep(f->m);
        a = save(f, flags, &la);
        replace_instance(f, a, la, false);
        assert_true(f->dev.queues[0].q.cfg.packed);
        b = save(f, flags, &lb);
        assert_int_equal(la, lb);
        assert_memory_equal(a, b, la);
        vmmio_wake(f->m);
        free(a);
        free(b);
    }
    warm_up(f);
}

/* Sizes 1, 3, 13 and the maximum (packed: any size), several laps, a restore at every request:
 * wrap counters and offsets carry over, the rng stream neither skips nor
 * repeats. */
static void test_pk_wrap_sizes(void **state)
{
    uint32_t sizes[] = {1, 3, 13, 0}; /* 0: QueueNumMax */
    struct dev_fixture *f = *state;
    struct rng_ref r = {.s = RNG_SEED, .used = 8};
    unsigned si, i, k;

    dfx_wr(f, VIRTIO_MMIO_QUEUE_SEL, 0);
    sizes[3] = dfx_rd(f, VIRTIO_MMIO_QUEUE_NUM_MAX);
    for (si = 0; si < 4; si++) {
        uint8_t *b;

        dfx_start(f, dfx_device_features(f), sizes[si]);
        b = galloc(f, 32);
        for (i = 0; i < 3 * sizes[si] + 5 && i < 300; i++) {
            size_t len;
            uint8_t *snap;
            uint32_t n = 1 + i % 32;

            rng_submit(f, b, n, i % 2);
            vmmio_sleep(f->m);
            snap = save(f, 0, &len);
            replace_instance(f, snap, len, true); /* wake processes it */
            free(snap);
            vmmio_process(f->m);
            assert_int_equal(dfx_used(f, 0, b), n);
            for (k = 0; k < n; k++)
                assert_int_equal(b[k], rng_ref_byte(&r));
        }
        assert_true(f->dev.queues[0].q.cfg.packed);
        assert_int_equal(f->dev.queues[0].q.cfg.num, sizes[si]);
    }
}

/* ------------------------------------------------------------ validation */

static void test_pk_refuse_queue(void **state)
{
    struct dev_fixture *f = *state;
    const struct vdev_queue *vq = &f->dev.queues[0];
    uint8_t *ref, *b, *p;
    char want[128];
    size_t len;
    uint16_t na;

    warm_up(f);
    vmmio_sleep(f->m);
    ref = save(f, 0, &len);
    na = vq->q.next_avail; /* 5 blk requests: 5 or 15 descriptors (indirect or not) */
    assert_true(na == 5 || na == 15);
    assert_true(vq->q.avail_wrap && vq->q.used_wrap && vq->q.next_used == na);
    expect_field_refused(f, ref, len, "QUEU", 0, Q_SIZE, F16, 0,
                         "QUEU[0]: activated with an invalid packed queue: size 0");
    expect_field_refused(f, ref, len, "QUEU", 0, Q_SIZE, F16, 300,
                         "QUEU[0]: activated with an invalid packed queue: size 300");
    expect_field_refused(f, ref, len, "QUEU", 0, Q_FLAGS, F8, 0x1 | F_PACKED,
                         "QUEU[0]: ring flags disagree with the acked features");
    expect_field_refused(f, ref, len, "QUEU", 0, Q_FLAGS, F8, 0x7,
                         "QUEU[0]: wrong length 52 for 0 in-flight heads");
    expect_field_refused(f, ref, len, "QUEU", 0, Q_DESC, F64, vq->desc_gpa + 8,
                         "QUEU[0]: misaligned packed ring");
    expect_field_refused(f, ref, len, "QUEU", 0, Q_AVAIL, F64, vq->avail_gpa + 2,
                         "QUEU[0]: misaligned packed ring");
    expect_field_refused(f, ref, len, "QUEU", 0, Q_USED, F64, vq->used_gpa + 1,
                         "QUEU[0]: misaligned packed ring");
    expect_field_refused(f, ref, len, "QUEU", 0, Q_DESC, F64, 0x1000,
                         "QUEU[0]: ring outside guest memory");
    expect_field_refused(f, ref, len, "QUEU", 0, Q_USED, F64, FX_GPA_BASE + FX_ARENA_SIZE,
                         "QUEU[0]: ring outside guest memory");
    expect_field_refused(f, ref, len, "QUEU", 0, Q_NEXT_AVAIL, F16, QSIZE,
                         "QUEU[0]: next_avail 16 not below size 16");
    expect_field_refused(f, ref, len, "QUEU", 0, Q_NEXT_USED, F16, QSIZE + 3,
                         "QUEU[0]: next_used 19 not below size 16");
    expect_field_refused(f, ref, len, "QUEU", 0, P_AVAIL_WRAP, F8, 2,
                         "QUEU[0]: avail_wrap is 2, not 0/1");
    expect_field_refused(f, ref, len, "QUEU", 0, P_USED_WRAP, F8, 7,
                         "QUEU[0]: used_wrap is 7, not 0/1");
    expect_field_refused(f, ref, len, "QUEU", 0, P_RESERVED, F16, 1,
                         "QUEU[0]: packed reserved field not zero");
    expect_field_refused(f, ref, len, "QUEU", 0, P_EV_FLAGS, F16, 3,
                         "QUEU[0]: device event flags 3 unknown");
    expect_field_refused(f, ref, len, "QUEU", 0, P_EV_OFF_WRAP, F16, 0x8000 | QSIZE,
                         "QUEU[0]: device event offset 16 not below size 16");
    expect_field_refused(f, ref, len, "QUEU", 0, P_ADDED_DESC, F32, 1,
                         "QUEU[0]: added_desc 1 inconsistent with num_added 0");
    expect_field_refused(f, ref, len, "QUEU", 0, 36, F16, 2,
                         "QUEU[0]: added_desc 0 inconsistent with num_added 2");
    /* Indices and wrap counters against each other. */
    expect_field_refused(f, ref, len, "QUEU", 0, Q_NEXT_AVAIL, F16, na + 1,
                         "QUEU[0]: 0 descriptors in flight listed, next_avail - next_used is 1");
    expect_field_refused(f, ref, len, "QUEU", 0, P_AVAIL_WRAP, F8, 0,
                         "QUEU[0]: 0 descriptors in flight listed, next_avail - next_used is 16");
    snprintf(want, sizeof(want), "QUEU[0]: next_avail %u (wrap 1) is behind next_used %u (wrap 1)",
             na, na + 1);
    expect_field_refused(f, ref, len, "QUEU", 0, Q_NEXT_USED, F16, na + 1, want);
    /* The device says packed, the features say split (and the reverse). */
    b = edit_copy(ref, len);
    p = sfx_find(b, len, "DEVC", 0, NULL);
    snap_put64(p + 16, snap_get64(p + 16) & ~(1ull << VIRTIO_F_RING_PACKED));
    sfx_fix_crcs(b, len, 0);
    expect_refused(
        f, b, len,
        "QUEU[0]: packed flag disagrees with the acked features (RING_PACKED not acked)");
    free(b);
    free(ref);
    vmmio_wake(f->m);
}

/* Without EVENT_IDX: no DESC, no off_wrap. */
static void test_pk_refuse_event(void **state)
{
    struct dev_fixture *f = *state;
    uint8_t *ref;
    size_t len;

    dfx_start(f, dfx_device_features(f) & ~(1ull << VIRTIO_F_EVENT_IDX), QSIZE);
    vmmio_sleep(f->m);
    ref = save(f, 0, &len);
    expect_field_refused(f, ref, len, "QUEU", 0, P_EV_FLAGS, F16, 2,
                         "QUEU[0]: device event flags DESC without EVENT_IDX");
    expect_field_refused(f, ref, len, "QUEU", 0, P_EV_OFF_WRAP, F16, 1,
                         "QUEU[0]: device event off_wrap 0x1 without EVENT_IDX");
    free(ref);
    vmmio_wake(f->m);
}

/* ref with queue 0 saying n buffers (id, ndesc) in flight and next_avail
 * moved on by dist descriptors (same lap): a new malloc'd file. */
static uint8_t *with_inflight(const uint8_t *ref, size_t len, const uint16_t (*pairs)[2],
                              unsigned n, uint16_t dist, size_t *out)
{
    uint32_t plen;
    const uint8_t *q = sfx_find((uint8_t *)(uintptr_t)ref, len, "QUEU", 0, &plen);
    size_t at = (size_t)(q - ref) + plen, add = 4u * n; /* end of QUEU's payload */
    uint8_t *b = malloc(len + add), *p;
    unsigned k;

    assert_int_equal(plen, P_INFLIGHT);
    memcpy(b, ref, at);
    memcpy(b + at + add, ref + at, len - at);
    p = b + (q - ref);
    snap_put32(p - 4, plen + (uint32_t)add);
    snap_put16(p + Q_NEXT_AVAIL, (uint16_t)(snap_get16(p + Q_NEXT_AVAIL) + dist));
    snap_put16(p + Q_NINFLIGHT, (uint16_t)n);
    for (k = 0; k < n; k++) {
        snap_put16(p + P_INFLIGHT + 4 * k, pairs[k][0]);
        snap_put16(p + P_INFLIGHT + 4 * k + 2, pairs[k][1]);
    }
    *out = len + add;
    sfx_fix_crcs(b, *out, 1);
    return b;
}

static void expect_inflight_refused(struct dev_fixture *f, const uint8_t *ref, size_t len,
                                    const uint16_t (*pairs)[2], unsigned n, uint16_t dist,
                                    const char *want)
{
    size_t bl;
    uint8_t *b = with_inflight(ref, len, pairs, n, dist, &bl);

    expect_refused(f, b, bl, want);
    free(b);
}

/* Buffers in flight (an async backend's snapshot): two rng lists of one
 * descriptor the device "had popped". Every inconsistency refused; the
 * right list is rewound and each processed exactly once. */
static void test_pk_inflight(void **state)
{
    struct dev_fixture *f = *state;
    struct rng_ref r = {.s = RNG_SEED, .used = 8};
    const struct vdq *q;
    uint8_t *ref, *b, *bufs[2];
    uint16_t id[2], lo, hi, saved;
    size_t len, bl;
    unsigned i, k;

    warm_up(f); /* 3 x 13 bytes */
    for (i = 0; i < 39; i++)
        rng_ref_byte(&r);
    q = &f->dev.queues[0].q;
    vmmio_sleep(f->m);
    bufs[0] = rng_submit(f, galloc(f, 8), 8, true);
    bufs[1] = rng_submit(f, galloc(f, 8), 8, true);
    ref = save(f, 0, &len);
    for (i = 0; i < 2; i++)
        id[i] = q->pdesc[(q->next_avail + i) % QSIZE].id;
    lo = id[0] < id[1] ? id[0] : id[1];
    hi = id[0] < id[1] ? id[1] : id[0];
    {
        const uint16_t desc_order[2][2] = {{hi, 1}, {lo, 1}};
        const uint16_t twice[2][2] = {{lo, 1}, {lo, 1}};
        const uint16_t big[2][2] = {{lo, 1}, {QSIZE, 1}};
        const uint16_t zero[2][2] = {{lo, 0}, {hi, 1}};
        const uint16_t over[2][2] = {{lo, QSIZE}, {hi, QSIZE}};
        const uint16_t sum3[2][2] = {{lo, 2}, {hi, 1}};
        const uint16_t stranger[2][2] = {{lo, 1}, {(uint16_t)(hi + 1), 1}};
        const uint16_t good[2][2] = {{lo, 1}, {hi, 1}};

        expect_inflight_refused(f, ref, len, desc_order, 2, 2,
                                "QUEU[0]: in-flight ids not ascending");
        expect_inflight_refused(f, ref, len, twice, 2, 2, "QUEU[0]: in-flight id");
        expect_inflight_refused(f, ref, len, twice, 2, 2, "listed twice");
        expect_inflight_refused(f, ref, len, big, 2, 2,
                                "QUEU[0]: in-flight id 16 not below size 16");
        expect_inflight_refused(f, ref, len, zero, 2, 2, "ndesc 0 not in 1..size 16");
        expect_inflight_refused(f, ref, len, over, 2, 2,
                                "QUEU[0]: in-flight descriptors add up to 32, more than size 16");
        expect_inflight_refused(f, ref, len, sum3, 2, 2,
                                "QUEU[0]: 3 descriptors in flight listed, next_avail - next_used "
                                "is 2");
        expect_inflight_refused(f, ref, len, stranger, 2, 2, "is not a buffer in flight");
        expect_inflight_refused(f, ref, len, good, 2, 1,
                                "QUEU[0]: 2 descriptors in flight listed, next_avail - next_used "
                                "is 1");
        /* The ring moved on: the first list is no longer available. */
        saved = q->pdesc[q->next_avail].flags;
        q->pdesc[q->next_avail].flags = (uint16_t)(saved ^ VIRTQ_DESC_F_AVAIL);
        expect_inflight_refused(f, ref, len, good, 2, 2, "is not available");
        q->pdesc[q->next_avail].flags = saved;
        b = with_inflight(ref, len, good, 2, 2, &bl);
    }
    replace_instance(f, b, bl, true);
    while (vmmio_has_pending(f->m))
        vmmio_process(f->m);
    for (i = 0; i < 2; i++) {
        assert_int_equal(dfx_used(f, 0, bufs[i]), 8);
        for (k = 0; k < 8; k++)
            assert_int_equal(bufs[i][k], rng_ref_byte(&r));
    }
    assert_false(vq_has_used(f->vq[0]));
    free(ref);
    free(b);
}

/* ------------------------------------------------------------ corruption */

static void test_pk_corruption(void **state)
{
    struct dev_fixture *f = *state;
    uint8_t *ref;
    size_t len;

    warm_up(f);
    vmmio_sleep(f->m);
    ref = save(f, 0, &len);
    corrupt_all(f, ref, len);
    free(ref);
    vmmio_wake(f->m);
}

/* ------------------------------------------------------------ lifecycle */

/* A buffer id out of range broke the queue: kept broken across the
 * snapshot (identical bytes), DEVICE_NEEDS_RESET; a reset recovers. */
static void test_pk_broken_roundtrip(void **state)
{
    struct dev_fixture *f = *state;
    struct pvirtq_desc *d;
    const struct vdq *q;
    uint8_t *a, *b;
    size_t la, lb;

    warm_up(f);
    q = &f->dev.queues[0].q;
    d = &q->pdesc[q->next_avail];
    d->id = 200;
    d->len = 8;
    d->addr = f->dev.queues[0].desc_gpa; /* somewhere in guest memory */
    d->flags = (uint16_t)(pvirtq_avail_flags(q->avail_wrap) | VIRTQ_DESC_F_WRITE);
    dfx_wr(f, VIRTIO_MMIO_QUEUE_NOTIFY, 0);
    vmmio_process(f->m);
    assert_true(vdq_is_broken(&f->dev.queues[0].q));
    vmmio_sleep(f->m);
    a = save(f, 0, &la);
    replace_instance(f, a, la, false);
    b = save(f, 0, &lb);
    assert_int_equal(la, lb);
    assert_memory_equal(a, b, la);
    free(b);
    /* Buffers in flight on a broken queue are kept as they were (never
     * returned, not checked against the ring): the re-save is identical. */
    {
        const uint16_t pairs[2][2] = {{2, 1}, {9, 3}};
        size_t lc;
        uint8_t *c = with_inflight(a, la, pairs, 2, 0, &lc);

        replace_instance(f, c, lc, false);
        assert_int_equal(f->dev.queues[0].q.inflight, 2);
        b = save(f, 0, &lb);
        assert_int_equal(lc, lb);
        assert_memory_equal(c, b, lc);
        free(c);
        free(b);
    }
    vmmio_wake(f->m);
    assert_true(vdq_is_broken(&f->dev.queues[0].q));
    assert_true(dfx_rd(f, VIRTIO_MMIO_STATUS) & VIRTIO_STATUS_DEVICE_NEEDS_RESET);
    free(a);
    warm_up(f);
    assert_false(dfx_rd(f, VIRTIO_MMIO_STATUS) & VIRTIO_STATUS_DEVICE_NEEDS_RESET);
}

/* Wake after a restore re-publishes the Device Event Suppression structure
 * (2.8.10) over whatever a new boot's memory held, and a request whose
 * kick was lost with the old instance is processed. */
static void test_pk_republish(void **state)
{
    struct dev_fixture *f = *state;
    struct pvirtq_event_suppress *ev;
    struct blk_req *r;
    uint8_t *d, *ref;
    size_t len;
    void *tok;
    uint32_t ul;

    warm_up(f);
    r = galloc(f, sizeof(*r));
    d = galloc(f, 512);
    ev = vdq_mem_translate(&f->fx.mem, f->dev.queues[0].used_gpa, sizeof(*ev));
    vmmio_sleep(f->m);
    memset(d, 0x66, 512);
    blk_submit(f, r, VIRTIO_BLK_T_OUT, 4, d, 512, true);
    ref = save(f, 0, &len);
    ev->flags = RING_EVENT_FLAGS_DISABLE;
    ev->desc = 0x7fff;
    replace_instance(f, ref, len, false);
    vmmio_wake(f->m);
    assert_int_equal(ev->flags, RING_EVENT_FLAGS_DESC); /* EVENT_IDX acked */
    vmmio_process(f->m);
    assert_int_equal(ev->desc, pvirtq_event_off_wrap(f->dev.queues[0].q.next_avail,
                                                     f->dev.queues[0].q.avail_wrap));
    assert_int_equal(vq_get_buf(f->vq[0], &tok, &ul), 0);
    assert_ptr_equal(tok, r);
    assert_int_equal(r->status, VIRTIO_BLK_S_OK);
    assert_memory_equal(blk_disk + 4 * 512, d, 512);
    free(ref);
}

#define T(fn, setup) cmocka_unit_test_setup_teardown(fn, setup, teardown)

int main(void)
{
    const struct CMUnitTest tests[] = {
        T(test_pk_versions, setup_blk_pk),         T(test_v10_loads, setup_blk_split),
        T(test_pk_roundtrip, setup_blk_pk),        T(test_pk_roundtrip, setup_net_pk),
        T(test_pk_roundtrip, setup_rng_pk),        T(test_pk_roundtrip, setup_con_pk),
        T(test_pk_roundtrip, setup_pmem_pk),       T(test_pk_wrap_sizes, setup_rng_pk),
        T(test_pk_refuse_queue, setup_blk_pk),     T(test_pk_refuse_event, setup_rng_pk),
        T(test_pk_inflight, setup_rng_pk),         T(test_pk_corruption, setup_blk_pk),
        T(test_pk_corruption, setup_net_pk),       T(test_pk_corruption, setup_rng_pk),
        T(test_pk_corruption, setup_con_pk),       T(test_pk_corruption, setup_pmem_pk),
        T(test_pk_broken_roundtrip, setup_blk_pk), T(test_pk_republish, setup_blk_pk),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
