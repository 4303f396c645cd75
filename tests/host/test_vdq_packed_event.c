/* SPDX-License-Identifier: Apache-2.0 */
/*
 * test_vdq_packed_event.c - cmocka tests of the packed device queue
 * (hostsim/vdq_packed.c, virtio 1.2 section 2.8), second part: the
 * used-buffer interrupt decision from the Driver Event Suppression
 * structure against an independent reference over every position, batch
 * and event (ENABLE / DISABLE / DESC, the reserved value, DESC without
 * EVENT_IDX); our own Device Event Suppression structure; batch
 * publication order (first element last); queue state; and the
 * default-off VIRTIO_F_RING_PACKED switch of vdev behind virtio-mmio. The
 * driver is the test-local one of packed_fixture.c.
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
#include "snapshot.h"
#include "vdev.h"
#include "vdev_models.h"
#include "virtio_mmio.h"
#include "vmmio.h"

/* ---- used buffer notifications: the Driver Event Suppression structure ---- */

/* Unwrapped position u of a descriptor: lap u / num; the wrap counter in lap
 * L is 1 for even L (it starts at 1 and flips each lap, 2.8.1). */
static bool ref_fires(uint32_t num, uint32_t old_u, uint32_t n, uint16_t ev_off, bool ev_wrap)
{
    uint32_t u;

    for (u = old_u; u < old_u + n; u++)
        if (u % num == ev_off && ((u / num) % 2 == 0) == ev_wrap)
            return true;
    return false;
}

/* A queue whose used side sits at (off, wrap), with buffer 0 in flight as
 * a list of n descriptors. */
static void place_used(uint32_t num, uint16_t off, bool wrap, uint16_t n)
{
    struct vdq_state st;

    vdq_get_state(&F.q, &st);
    st.next_used = st.next_avail = off;
    st.used_wrap = st.avail_wrap = wrap;
    st.num_added = 0;
    assert_int_equal(vdq_init_state(&F.q, &F.mem, &st), 0);
    assert_int_equal(vdq_packed_set_inflight(&F.q, 0, n), 0);
    (void)num;
}

static void test_event_desc_exhaustive(void **state)
{
    uint32_t sizes[] = {1, 2, 3, 5, 8};
    unsigned si, checked = 0, fired = 0;

    (void)state;
    for (si = 0; si < sizeof(sizes) / sizeof(sizes[0]); si++) {
        uint32_t num = sizes[si], off, n, eo;
        unsigned w, ew;

        p_setup_q(&F, num, true, false, false);
        for (off = 0; off < num; off++)
            for (w = 0; w < 2; w++)
                for (n = 1; n <= num; n++)
                    for (eo = 0; eo < num; eo++)
                        for (ew = 0; ew < 2; ew++) {
                            /* old_u: lap 0 (wrap 1) or lap 1 (wrap 0). */
                            uint32_t old_u = (w ? 0 : num) + off;
                            bool want = ref_fires(num, old_u, n, (uint16_t)eo, ew);

                            place_used(num, (uint16_t)off, w, (uint16_t)n);
                            F.drv_ev->desc = pvirtq_event_off_wrap((uint16_t)eo, ew);
                            F.drv_ev->flags = RING_EVENT_FLAGS_DESC;
                            assert_int_equal(vdq_push(&F.q, 0, 0), 0);
                            if (vdq_interrupt_prepare(&F.q) != want)
                                fail_msg("num %u off %u wrap %u n %u event %u/%u: want %d", num,
                                         off, w, n, eo, ew, want);
                            checked++;
                            fired += want;
                        }
        p_teardown(&F);
    }
    assert_true(checked > 1000);
    assert_true(fired > 0 && fired < checked);
}

/* Two pushes between decisions count the descriptors of both. */
static void test_event_desc_batch(void **state)
{
    (void)state;
    p_setup_q(&F, 4, true, false, false);
    place_used(4, 3, true, 1);
    assert_int_equal(vdq_packed_set_inflight(&F.q, 1, 2), 0);
    /* Event for offset 1 in the next lap (wrap 0): the second list covers
     * offsets 0 and 1 of that lap. */
    F.drv_ev->desc = pvirtq_event_off_wrap(1, false);
    F.drv_ev->flags = RING_EVENT_FLAGS_DESC;
    assert_int_equal(vdq_push(&F.q, 0, 0), 0);
    assert_int_equal(vdq_push(&F.q, 1, 0), 0);
    assert_int_equal(F.q.next_used, 2);
    assert_false(F.q.used_wrap);
    assert_true(vdq_interrupt_prepare(&F.q));
    /* Nothing pushed since: no interrupt whatever the structure says. */
    F.drv_ev->flags = RING_EVENT_FLAGS_ENABLE;
    assert_false(vdq_interrupt_prepare(&F.q));
    /* More than a ring since the last decision always fires. */
    place_used(4, 2, false, 4);
    assert_int_equal(vdq_packed_set_inflight(&F.q, 1, 1), 0);
    F.drv_ev->desc = pvirtq_event_off_wrap(1, false); /* a lap behind */
    F.drv_ev->flags = RING_EVENT_FLAGS_DESC;
    assert_int_equal(vdq_push(&F.q, 0, 0), 0);
    assert_int_equal(vdq_push(&F.q, 1, 0), 0);
    assert_true(vdq_interrupt_prepare(&F.q));
}

static void test_event_flags(void **state)
{
    uint64_t ints, saved;

    (void)state;
    p_setup_q(&F, 4, false, false, false);
    place_used(4, 0, true, 1);
    F.drv_ev->flags = RING_EVENT_FLAGS_ENABLE;
    assert_int_equal(vdq_push(&F.q, 0, 0), 0);
    assert_true(vdq_interrupt_prepare(&F.q));
    place_used(4, 1, true, 1);
    F.drv_ev->flags = RING_EVENT_FLAGS_DISABLE;
    assert_int_equal(vdq_push(&F.q, 0, 0), 0);
    assert_false(vdq_interrupt_prepare(&F.q));
    /* DESC without EVENT_IDX is not valid (2.8.10): treated as ENABLE, as
     * is the reserved value 3, even for an event that does not match. */
    place_used(4, 2, true, 1);
    F.drv_ev->desc = pvirtq_event_off_wrap(0, false);
    F.drv_ev->flags = RING_EVENT_FLAGS_DESC;
    assert_int_equal(vdq_push(&F.q, 0, 0), 0);
    assert_true(vdq_interrupt_prepare(&F.q));
    place_used(4, 3, true, 1);
    F.drv_ev->flags = 3;
    assert_int_equal(vdq_push(&F.q, 0, 0), 0);
    assert_true(vdq_interrupt_prepare(&F.q));
    /* Reserved upper bits are ignored: DISABLE | 0x4 is DISABLE. */
    place_used(4, 0, false, 1);
    F.drv_ev->flags = RING_EVENT_FLAGS_DISABLE | 0x4;
    assert_int_equal(vdq_push(&F.q, 0, 0), 0);
    ints = F.q.stats.interrupts;
    saved = F.q.stats.interrupts_saved;
    assert_false(vdq_interrupt_prepare(&F.q));
    assert_int_equal(F.q.stats.interrupts, ints);
    assert_int_equal(F.q.stats.interrupts_saved, saved + 1);
}

/* ---- available buffer notifications: our Device Event Suppression ---- */

static void test_device_event_plain(void **state)
{
    (void)state;
    p_setup_q(&F, 4, false, false, false);
    vdq_disable_notify(&F.q);
    assert_int_equal(F.dev_ev->flags, RING_EVENT_FLAGS_DISABLE);
    assert_int_equal(vdq_enable_notify(&F.q), 0);
    assert_int_equal(F.dev_ev->flags, RING_EVENT_FLAGS_ENABLE);
    /* Enable re-checks: a list made available meanwhile is reported. */
    vdq_disable_notify(&F.q);
    drv_add1(&F, 0, p_buf(&F, 8, NULL), 8, 0);
    assert_int_equal(vdq_enable_notify(&F.q), -EAGAIN);
    assert_int_equal(vdq_pop(&F.q, &F.chain), 0);
    assert_int_equal(vdq_enable_notify(&F.q), 0);
}

/* With EVENT_IDX: DESC with the offset and wrap counter of the next list
 * we expect, kept current by pop, across the wrap; a driver that applies
 * pvirtq_need_event to it kicks exactly when its list covers that spot. */
static void test_device_event_desc(void **state)
{
    unsigned k;

    (void)state;
    p_setup_q(&F, 3, true, false, false);
    assert_int_equal(vdq_enable_notify(&F.q), 0);
    assert_int_equal(F.dev_ev->flags, RING_EVENT_FLAGS_DESC);
    assert_int_equal(F.dev_ev->desc, pvirtq_event_off_wrap(0, true));
    for (k = 0; k < 7; k++) {
        uint16_t ev = F.dev_ev->desc;
        bool kick;

        drv_add1(&F, (uint16_t)(k % 3), p_buf(&F, 8, NULL), 8, 0);
        /* Driver side (2.8.21): full barrier, then read our structure. */
        __atomic_thread_fence(__ATOMIC_SEQ_CST);
        kick = pvirtq_need_event(ev, F.next_avail, F.avail_wrap, 1, 3);
        assert_true(kick); /* we asked for exactly this descriptor */
        assert_int_equal(vdq_pop(&F.q, &F.chain), 0);
        assert_int_equal(F.dev_ev->desc, pvirtq_event_off_wrap(F.next_avail, F.avail_wrap));
        assert_int_equal(vdq_push(&F.q, F.chain.head, 0), 0);
        expect_used(&F, (uint16_t)(k % 3), 0);
    }
    /* Disabled: DISABLE, and desc stops moving. */
    vdq_disable_notify(&F.q);
    assert_int_equal(F.dev_ev->flags, RING_EVENT_FLAGS_DISABLE);
    k = F.dev_ev->desc;
    drv_add1(&F, 0, p_buf(&F, 8, NULL), 8, 0);
    assert_int_equal(vdq_pop(&F.q, &F.chain), 0);
    assert_int_equal(F.dev_ev->desc, k);
    assert_int_equal(vdq_enable_notify(&F.q), 0);
    assert_int_equal(F.dev_ev->flags, RING_EVENT_FLAGS_DESC);
    assert_int_equal(F.dev_ev->desc, pvirtq_event_off_wrap(F.next_avail, F.avail_wrap));
}

/* ---- batch publication order ---- */

static void test_batch_first_published_last(void **state)
{
    uint16_t id;
    uint32_t len;
    unsigned k;

    (void)state;
    p_setup_q(&F, 8, false, false, true);
    for (k = 0; k < 3; k++)
        drv_add1(&F, (uint16_t)(k + 4), p_buf(&F, 8, NULL), 8, W);
    for (k = 0; k < 3; k++)
        assert_int_equal(vdq_pop(&F.q, &F.chain), 0);
    F.drv_ev->flags = RING_EVENT_FLAGS_ENABLE;
    assert_int_equal(vdq_push(&F.q, 5, 1), 0);
    assert_int_equal(vdq_push(&F.q, 4, 2), 0);
    assert_int_equal(vdq_push(&F.q, 6, 3), 0);
    /* The rest of the batch is written, the first still looks available
     * (the driver polls only it, 2.8.2): nothing is visible yet. */
    assert_true(pvirtq_is_used(F.ring[1].flags, true));
    assert_true(pvirtq_is_used(F.ring[2].flags, true));
    assert_true(pvirtq_is_avail(F.ring[0].flags, true));
    assert_int_equal(F.ring[0].id, 5); /* its id and len are there */
    expect_no_used(&F);
    assert_true(vdq_interrupt_prepare(&F.q));
    expect_used(&F, 5, 1);
    expect_used(&F, 4, 2);
    expect_used(&F, 6, 3);
    /* Next batch starts fresh. */
    drv_add1(&F, 1, p_buf(&F, 8, NULL), 8, W);
    assert_int_equal(vdq_pop(&F.q, &F.chain), 0);
    assert_int_equal(vdq_push(&F.q, 1, 7), 0);
    assert_false(drv_get_used(&F, &id, &len, NULL));
    F.drv_ev->flags = RING_EVENT_FLAGS_DISABLE;
    assert_false(vdq_interrupt_prepare(&F.q)); /* published, no interrupt */
    expect_used(&F, 1, 7);
}

static void test_no_batch_published_at_once(void **state)
{
    (void)state;
    p_setup_q(&F, 8, false, false, false);
    drv_add1(&F, 2, p_buf(&F, 8, NULL), 8, W);
    drv_add1(&F, 3, p_buf(&F, 8, NULL), 8, W);
    assert_int_equal(vdq_pop(&F.q, &F.chain), 0);
    assert_int_equal(vdq_pop(&F.q, &F.chain), 0);
    assert_int_equal(vdq_push(&F.q, 3, 4), 0);
    expect_used(&F, 3, 4);
    assert_int_equal(vdq_push(&F.q, 2, 5), 0);
    expect_used(&F, 2, 5);
}

/* ---- state ---- */

static void test_state_roundtrip(void **state)
{
    struct vdq_state st;
    struct vdq q2;

    (void)state;
    p_setup_q(&F, 3, true, true, false);
    expect_good_after(&F, 0);
    expect_good_after(&F, 1);
    expect_good_after(&F, 2);
    expect_good_after(&F, 0); /* both at 1, wrap 0 */
    vdq_get_state(&F.q, &st);
    assert_int_equal(st.packed, 1);
    assert_int_equal(st.size, 3);
    assert_int_equal(st.next_avail, 1);
    assert_int_equal(st.avail_wrap, 0);
    assert_int_equal(st.next_used, 1);
    assert_int_equal(st.used_wrap, 0);
    assert_int_equal(st.event_idx, 1);
    assert_int_equal(st.indirect, 1);
    assert_int_equal(vdq_init_state(&q2, &F.mem, &st), 0);
    assert_true(q2.cfg.packed);
    assert_int_equal(q2.next_avail, 1);
    assert_false(q2.avail_wrap);
    /* Carries on where the first left off. */
    F.q = q2;
    expect_good_after(&F, 1);
    /* Offsets past the ring, or a ring above the inline table, refused
     * and the target untouched. */
    st.next_avail = 3;
    q2.next_avail = 2;
    assert_int_equal(vdq_init_state(&q2, &F.mem, &st), -EINVAL);
    assert_int_equal(q2.next_avail, 2);
    st.next_avail = 0;
    st.next_used = 5;
    assert_int_equal(vdq_init_state(&q2, &F.mem, &st), -EINVAL);
    st.next_used = 0;
    st.size = VDQ_PACKED_IDS_INLINE + 1;
    assert_int_equal(vdq_init_state(&q2, &F.mem, &st), -EINVAL);
    /* set_inflight checks. */
    assert_int_equal(vdq_packed_set_inflight(&F.q, 3, 1), -EINVAL);
    assert_int_equal(vdq_packed_set_inflight(&F.q, 0, 0), -EINVAL);
    assert_int_equal(vdq_packed_set_inflight(&F.q, 0, 4), -EINVAL);
    assert_int_equal(vdq_packed_set_inflight(&F.q, 0, 3), 0);
    assert_int_equal(vdq_packed_set_inflight(&F.q, 0, 1), -EINVAL);
}

/* ---- vdev / virtio-mmio: the default-off VIRTIO_F_RING_PACKED switch ---- */

static int irqs;

static void on_irq(struct vmmio *m, uint32_t st, void *ctx)
{
    (void)m;
    (void)ctx;
    if (st & VIRTIO_INT_USED_BUFFER)
        irqs++;
}

static uint64_t mmio_features(struct vmmio *m)
{
    uint64_t lo, hi;

    vmmio_write(m, VIRTIO_MMIO_DEVICE_FEATURES_SEL, 0, 4);
    lo = vmmio_read(m, VIRTIO_MMIO_DEVICE_FEATURES, 4);
    vmmio_write(m, VIRTIO_MMIO_DEVICE_FEATURES_SEL, 1, 4);
    hi = vmmio_read(m, VIRTIO_MMIO_DEVICE_FEATURES, 4);
    return lo | hi << 32;
}

/* 3.1.1 through the registers; returns whether FEATURES_OK stuck. */
static bool mmio_negotiate(struct vmmio *m, uint64_t features)
{
    uint32_t s = VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER;

    vmmio_write(m, VIRTIO_MMIO_STATUS, 0, 4);
    vmmio_write(m, VIRTIO_MMIO_STATUS, VIRTIO_STATUS_ACKNOWLEDGE, 4);
    vmmio_write(m, VIRTIO_MMIO_STATUS, s, 4);
    vmmio_write(m, VIRTIO_MMIO_DRIVER_FEATURES_SEL, 0, 4);
    vmmio_write(m, VIRTIO_MMIO_DRIVER_FEATURES, (uint32_t)features, 4);
    vmmio_write(m, VIRTIO_MMIO_DRIVER_FEATURES_SEL, 1, 4);
    vmmio_write(m, VIRTIO_MMIO_DRIVER_FEATURES, (uint32_t)(features >> 32), 4);
    vmmio_write(m, VIRTIO_MMIO_STATUS, s | VIRTIO_STATUS_FEATURES_OK, 4);
    return vmmio_read(m, VIRTIO_MMIO_STATUS, 4) & VIRTIO_STATUS_FEATURES_OK;
}

/* 4.2.3.2: queue 0 on our packed ring (QueueDriver / QueueDevice are the
 * two event suppression areas), then DRIVER_OK. */
static void mmio_queue_and_go(struct vmmio *m, const struct vdq_config *c)
{
    vmmio_write(m, VIRTIO_MMIO_QUEUE_SEL, 0, 4);
    vmmio_write(m, VIRTIO_MMIO_QUEUE_NUM, c->num, 4);
    vmmio_write(m, VIRTIO_MMIO_QUEUE_DESC_LOW, (uint32_t)c->desc_gpa, 4);
    vmmio_write(m, VIRTIO_MMIO_QUEUE_DESC_HIGH, (uint32_t)(c->desc_gpa >> 32), 4);
    vmmio_write(m, VIRTIO_MMIO_QUEUE_DRIVER_LOW, (uint32_t)c->avail_gpa, 4);
    vmmio_write(m, VIRTIO_MMIO_QUEUE_DRIVER_HIGH, (uint32_t)(c->avail_gpa >> 32), 4);
    vmmio_write(m, VIRTIO_MMIO_QUEUE_DEVICE_LOW, (uint32_t)c->used_gpa, 4);
    vmmio_write(m, VIRTIO_MMIO_QUEUE_DEVICE_HIGH, (uint32_t)(c->used_gpa >> 32), 4);
    vmmio_write(m, VIRTIO_MMIO_QUEUE_READY, 1, 4);
    vmmio_write(m, VIRTIO_MMIO_STATUS,
                VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER | VIRTIO_STATUS_FEATURES_OK |
                    VIRTIO_STATUS_DRIVER_OK,
                4);
}

static void test_vdev_packed_switch(void **state)
{
    const uint64_t packed = 1ull << VIRTIO_F_RING_PACKED, v1 = 1ull << VIRTIO_F_VERSION_1;
    struct vmmio_hooks hooks = {.interrupt = on_irq};
    struct vdq_mem mem;
    static struct vdev dev;
    struct vmmio *m;
    unsigned k;

    (void)state;
    p_setup_q(&F, 3, false, false, false); /* the ring the driver will use */
    mem = (struct vdq_mem){.regions = F.region, .nregions = 1};
    assert_int_equal(vdev_rng_create(&dev, &mem, 7), 0);
    assert_int_equal(vmmio_create(&dev, &hooks, &m), 0);
    /* Default: not offered, and a driver that acks it anyway is refused. */
    assert_false(mmio_features(m) & packed);
    assert_false(mmio_negotiate(m, v1 | packed));
    /* Split behaviour as before: size 3 is refused (not a power of two). */
    assert_true(mmio_negotiate(m, v1));
    mmio_queue_and_go(m, &F.cfg);
    assert_true(vmmio_read(m, VIRTIO_MMIO_STATUS, 4) & VIRTIO_STATUS_DEVICE_NEEDS_RESET ||
                !dev.activated);

    /* Switched on: offered; not acked, the queue stays split (size 3 is
     * still refused); acked, queue 0 is a packed vdq of size 3. */
    vdev_set_offer_packed(&dev, true);
    assert_true(mmio_features(m) & packed);
    assert_true(mmio_negotiate(m, v1));
    mmio_queue_and_go(m, &F.cfg);
    assert_false(dev.activated && dev.queues[0].q.cfg.packed);
    assert_true(vmmio_read(m, VIRTIO_MMIO_STATUS, 4) & VIRTIO_STATUS_DEVICE_NEEDS_RESET ||
                !dev.activated);
    assert_true(mmio_negotiate(m, v1 | packed));
    mmio_queue_and_go(m, &F.cfg);
    assert_true(dev.activated);
    assert_true(dev.queues[0].q.cfg.packed);
    assert_int_equal(dev.queues[0].q.cfg.num, 3);
    /* rng requests through the ring, over several laps: each buffer comes
     * back filled with its full length and an interrupt (ENABLE). */
    for (k = 0; k < 10; k++) {
        uint8_t *b, zero[16] = {0};
        uint16_t id = (uint16_t)(k % 3);
        int before = irqs;

        drv_add1(&F, id, p_buf(&F, 16, &b), 16, W);
        vmmio_write(m, VIRTIO_MMIO_QUEUE_NOTIFY, 0, 4);
        vmmio_process(m);
        expect_used(&F, id, 16);
        assert_memory_not_equal(b, zero, 16);
        assert_int_equal(irqs, before + 1);
    }
    expect_no_used(&F);
    assert_int_equal(dev.queues[0].stats.requests, 10);
    /* The device keeps kicks enabled between batches. */
    assert_int_equal(F.dev_ev->flags, RING_EVENT_FLAGS_ENABLE);
    /* Packed queues snapshot since format 1.1 (a NULL buffer: -ENOSPC with
     * the size; the codec itself is tests/host/test_snapshot_packed.c). */
    vmmio_sleep(m);
    assert_int_equal(snap_save(m, 0, NULL, 0, NULL), -ENOSPC);
    assert_true(snap_size(m, 0) > 0);
    vmmio_wake(m);
    /* Switched off again: a reset device offers split only. */
    vdev_set_offer_packed(&dev, false);
    assert_false(mmio_features(m) & packed);
    vmmio_destroy(m);
    vdev_destroy(&dev);
}

/* ---- giving chains back (vdq_unpop, net MRG_RXBUF) ---- */

/* Lists of 2 and 1 descriptors on a ring of 5 that wraps between them:
 * popped, given back, popped again as the same ids at the same offsets;
 * enable_notify_more asks for the descriptor past them (DESC with
 * EVENT_IDX) and says -EAGAIN only once the driver adds past them. */
static void test_unpop_wrap(void **state)
{
    struct seg two[2];
    uint16_t heads[2];
    uint64_t g;

    (void)state;
    p_setup_q(&F, 5, true, false, false);
    g = p_buf(&F, 64, NULL);
    two[0] = (struct seg){g, 16, W};
    two[1] = (struct seg){g + 16, 16, W};
    {
        struct vdq_state st;

        /* Both sides at offset 3 of the first lap. */
        vdq_get_state(&F.q, &st);
        st.next_used = st.next_avail = 3;
        st.used_wrap = st.avail_wrap = 1;
        assert_int_equal(vdq_init_state(&F.q, &F.mem, &st), 0);
    }
    F.next_avail = F.next_used = 3;
    F.avail_wrap = F.used_wrap = true;
    drv_add(&F, 3, two, 2);            /* offsets 3, 4 (wrap 1) */
    drv_add1(&F, 1, g + 32, 16, W);    /* offset 0 (wrap 0) */
    assert_int_equal(vdq_pop(&F.q, &F.chain), 0);
    heads[0] = F.chain.head;
    assert_int_equal(vdq_pop(&F.q, &F.chain), 0);
    heads[1] = F.chain.head;
    assert_int_equal(heads[0], 3);
    assert_int_equal(heads[1], 1);
    assert_int_equal(F.q.next_avail, 1);
    assert_false(F.q.avail_wrap);
    /* A head not in flight is refused before anything moves. */
    {
        uint16_t bad[2] = {3, 2};

        assert_int_equal(vdq_unpop(&F.q, bad, 2), -EINVAL);
        assert_int_equal(F.q.next_avail, 1);
    }
    assert_int_equal(vdq_unpop(&F.q, heads, 2), 0);
    assert_int_equal(F.q.next_avail, 3);
    assert_true(F.q.avail_wrap);
    assert_int_equal(F.q.inflight, 0);
    /* Nothing new: no kick wanted yet, and the request names offset 1 of
     * the lap with wrap 0. */
    assert_int_equal(vdq_enable_notify_more(&F.q), 0);
    assert_int_equal(F.dev_ev->flags, RING_EVENT_FLAGS_DESC);
    assert_int_equal(F.dev_ev->desc, pvirtq_event_off_wrap(1, false));
    /* The same lists come back. */
    assert_int_equal(vdq_pop(&F.q, &F.chain), 0);
    assert_int_equal(F.chain.head, 3);
    assert_int_equal(F.chain.nin, 2);
    assert_int_equal(vdq_pop(&F.q, &F.chain), 0);
    assert_int_equal(F.chain.head, 1);
    assert_int_equal(vdq_pop(&F.q, &F.chain), -EAGAIN);
    assert_int_equal(vdq_unpop(&F.q, heads, 2), 0);
    /* The driver adds one past them: -EAGAIN, go round again. */
    drv_add1(&F, 2, g + 48, 16, W);
    assert_int_equal(vdq_enable_notify_more(&F.q), -EAGAIN);
    /* Pushed in pop order, the driver sees 3 then 1 then 2. */
    assert_int_equal(vdq_pop(&F.q, &F.chain), 0);
    assert_int_equal(vdq_pop(&F.q, &F.chain), 0);
    assert_int_equal(vdq_pop(&F.q, &F.chain), 0);
    assert_int_equal(F.chain.head, 2);
    assert_int_equal(vdq_push(&F.q, 3, 32), 0);
    assert_int_equal(vdq_push(&F.q, 1, 16), 0);
    assert_int_equal(vdq_push(&F.q, 2, 16), 0);
    expect_used(&F, 3, 32);
    expect_used(&F, 1, 16);
    expect_used(&F, 2, 16);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_event_desc_exhaustive),
        cmocka_unit_test_teardown(test_event_desc_batch, p_teardown_state),
        cmocka_unit_test_teardown(test_event_flags, p_teardown_state),
        cmocka_unit_test_teardown(test_device_event_plain, p_teardown_state),
        cmocka_unit_test_teardown(test_device_event_desc, p_teardown_state),
        cmocka_unit_test_teardown(test_batch_first_published_last, p_teardown_state),
        cmocka_unit_test_teardown(test_no_batch_published_at_once, p_teardown_state),
        cmocka_unit_test_teardown(test_state_roundtrip, p_teardown_state),
        cmocka_unit_test_teardown(test_vdev_packed_switch, p_teardown_state),
        cmocka_unit_test_teardown(test_unpop_wrap, p_teardown_state),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
