/* SPDX-License-Identifier: Apache-2.0 */
/*
 * test_vmmio.c - cmocka tests of the virtio-mmio v2 register file
 * (hostsim/vmmio.c) and the generic device (hostsim/vdev.c), with a small
 * made-up device ("tst": 2 queues, 16 bytes of config) so that nothing
 * here depends on a real model. Spec references: VIRTIO 1.2 4.2.2 (register
 * layout and device requirements), 3.1.1 (initialisation), 2.1 (status).
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "dev_fixture.h"
#include "virtio_mmio.h"

#define TST_ID 42
#define TST_QMAX 16
#define TST_FEAT_LOW 0   /* a device feature in the low window */
#define TST_FEAT_HIGH 40 /* ... and one in the high window */
#define TST_FEATURES                                                                               \
    ((1ull << TST_FEAT_LOW) | (1ull << TST_FEAT_HIGH) | (1ull << VIRTIO_F_VERSION_1) |             \
     (1ull << VIRTIO_F_EVENT_IDX) | (1ull << VIRTIO_F_INDIRECT_DESC))
#define ST_ACK VIRTIO_STATUS_ACKNOWLEDGE
#define ST_DRV VIRTIO_STATUS_DRIVER
#define ST_FOK VIRTIO_STATUS_FEATURES_OK
#define ST_DOK VIRTIO_STATUS_DRIVER_OK

struct tst_config {
    uint64_t a;
    uint32_t b;
    uint8_t c[4];
};

struct tst {
    struct tst_config cfg;
    int activations, resets, fail_activate;
    int processed;
};

static void tst_read_config(struct vdev *d, uint32_t off, void *buf, uint32_t len)
{
    struct tst *t = d->priv;

    memcpy(buf, (uint8_t *)&t->cfg + off, len);
}

static void tst_write_config(struct vdev *d, uint32_t off, const void *buf, uint32_t len)
{
    struct tst *t = d->priv;

    memcpy((uint8_t *)&t->cfg + off, buf, len);
}

static int tst_activate(struct vdev *d)
{
    struct tst *t = d->priv;

    t->activations++;
    return t->fail_activate ? -EIO : 0;
}

static void tst_reset(struct vdev *d)
{
    struct tst *t = d->priv;

    t->resets++;
}

/* Fill the writable part with 0xab; a chain without one is "bad". */
static bool tst_chain(struct vdev *d, unsigned qi, const struct vdq_chain *c, uint32_t *written)
{
    uint8_t b[64];
    uint32_t off;

    (void)d;
    (void)qi;
    memset(b, 0xab, sizeof(b));
    for (off = 0; off < c->in_len; off += sizeof(b))
        vdq_chain_write(c, off, b, sizeof(b));
    *written = c->in_len;
    return c->in_len == 0;
}

static int tst_process(struct vdev *d, unsigned qi)
{
    struct tst *t = d->priv;

    t->processed++;
    return vdev_queue_drain(d, qi, tst_chain);
}

static const struct vdev_ops tst_ops = {
    .type = "tst",
    .device_id = TST_ID,
    .num_queues = 2,
    .queue_max_size = TST_QMAX,
    .config_size = sizeof(struct tst_config),
    .read_config = tst_read_config,
    .write_config = tst_write_config,
    .activate = tst_activate,
    .reset = tst_reset,
    .process_queue = tst_process,
};

struct tst_fixture {
    struct dev_fixture f;
    struct tst t;
};

static int setup(void **state)
{
    static struct tst_fixture tf;

    dfx_arena(&tf.f);
    memset(&tf.t, 0, sizeof(tf.t));
    tf.t.cfg.a = 0x1122334455667788ull;
    tf.t.cfg.b = 0xdeadbeef;
    memcpy(tf.t.cfg.c, "wxyz", 4);
    vdev_init(&tf.f.dev, &tst_ops, &tf.t, TST_FEATURES, &tf.f.fx.mem);
    dfx_attach(&tf.f);
    *state = &tf;
    return 0;
}

static int teardown(void **state)
{
    struct tst_fixture *tf = *state;

    dfx_teardown(&tf->f);
    return 0;
}

static struct vmmio_stats stats(struct dev_fixture *f)
{
    struct vmmio_stats st;

    vmmio_get_stats(f->m, &st);
    return st;
}

static const uint64_t good_features = (1ull << VIRTIO_F_VERSION_1) | (1ull << TST_FEAT_HIGH);

static void test_identity(void **state)
{
    struct dev_fixture *f = *state;

    assert_int_equal(dfx_rd(f, VIRTIO_MMIO_MAGIC_VALUE), 0x74726976);
    assert_int_equal(dfx_rd(f, VIRTIO_MMIO_VERSION), 2);
    assert_int_equal(dfx_rd(f, VIRTIO_MMIO_DEVICE_ID), TST_ID);
    assert_int_not_equal(dfx_rd(f, VIRTIO_MMIO_VENDOR_ID), 0);
    assert_int_equal(dfx_rd(f, VIRTIO_MMIO_STATUS), 0);
    assert_ptr_equal(vmmio_vdev(f->m), &f->dev);
    /* No shared memory regions: length and base read as -1 (4.2.2). */
    dfx_wr(f, VIRTIO_MMIO_SHM_SEL, 0);
    assert_int_equal(dfx_rd(f, 0x0b0), 0xffffffffu);
    assert_int_equal(dfx_rd(f, 0x0bc), 0xffffffffu);
}

static void test_feature_windows(void **state)
{
    struct dev_fixture *f = *state;

    dfx_wr(f, VIRTIO_MMIO_DEVICE_FEATURES_SEL, 0);
    assert_int_equal(dfx_rd(f, VIRTIO_MMIO_DEVICE_FEATURES), (uint32_t)TST_FEATURES);
    dfx_wr(f, VIRTIO_MMIO_DEVICE_FEATURES_SEL, 1);
    assert_int_equal(dfx_rd(f, VIRTIO_MMIO_DEVICE_FEATURES), (uint32_t)(TST_FEATURES >> 32));
    dfx_wr(f, VIRTIO_MMIO_DEVICE_FEATURES_SEL, 2);
    assert_int_equal(dfx_rd(f, VIRTIO_MMIO_DEVICE_FEATURES), 0);
    dfx_wr(f, VIRTIO_MMIO_DEVICE_FEATURES_SEL, 0xffffffff);
    assert_int_equal(dfx_rd(f, VIRTIO_MMIO_DEVICE_FEATURES), 0);
    assert_true(dfx_device_features(f) == TST_FEATURES);

    /* Driver windows: each half lands in its place. */
    assert_int_equal(dfx_negotiate(f, good_features | 1), ST_ACK | ST_DRV | ST_FOK);
    assert_true(f->dev.acked_features == (good_features | 1));
    assert_true(vdev_has_feature(&f->dev, TST_FEAT_HIGH));
    assert_false(vdev_has_feature(&f->dev, VIRTIO_F_EVENT_IDX));
    assert_false(vdev_has_feature(&f->dev, 64));

    /* After FEATURES_OK the driver features are frozen (3.1.1). */
    dfx_wr(f, VIRTIO_MMIO_DRIVER_FEATURES_SEL, 0);
    dfx_wr(f, VIRTIO_MMIO_DRIVER_FEATURES, 0);
    assert_true(f->dev.acked_features == (good_features | 1));
    assert_int_equal(stats(f).ignored_writes, 1);
}

static void test_features_ok_refused(void **state)
{
    struct dev_fixture *f = *state;

    /* A feature the device does not offer. */
    assert_int_equal(dfx_negotiate(f, good_features | (1ull << 5)), ST_ACK | ST_DRV);
    assert_int_equal(stats(f).features_refused, 1);
    /* Without VERSION_1 (a legacy driver on an MMIO v2 device). */
    assert_int_equal(dfx_negotiate(f, 1ull << TST_FEAT_HIGH), ST_ACK | ST_DRV);
    assert_int_equal(stats(f).features_refused, 2);
    /* DRIVER_OK on top of a refused FEATURES_OK is refused too. */
    dfx_wr(f, VIRTIO_MMIO_STATUS, ST_ACK | ST_DRV | ST_FOK | ST_DOK);
    assert_int_equal(dfx_rd(f, VIRTIO_MMIO_STATUS), ST_ACK | ST_DRV);
    assert_false(f->dev.activated);
    /* Accepted after a reset with a proper set. */
    assert_int_equal(dfx_negotiate(f, good_features), ST_ACK | ST_DRV | ST_FOK);
}

static void test_status_sequence(void **state)
{
    struct dev_fixture *f = *state;
    uint64_t refused;

    /* DRIVER without ACKNOWLEDGE. */
    dfx_wr(f, VIRTIO_MMIO_STATUS, ST_DRV);
    assert_int_equal(dfx_rd(f, VIRTIO_MMIO_STATUS), 0);
    dfx_wr(f, VIRTIO_MMIO_STATUS, ST_ACK);
    /* DRIVER_OK without FEATURES_OK. */
    dfx_wr(f, VIRTIO_MMIO_STATUS, ST_ACK | ST_DRV | ST_DOK);
    assert_int_equal(dfx_rd(f, VIRTIO_MMIO_STATUS), ST_ACK);
    dfx_wr(f, VIRTIO_MMIO_STATUS, ST_ACK | ST_DRV);
    /* Clearing a bit is only possible through reset. */
    dfx_wr(f, VIRTIO_MMIO_STATUS, ST_DRV);
    assert_int_equal(dfx_rd(f, VIRTIO_MMIO_STATUS), ST_ACK | ST_DRV);
    /* Unknown bits. */
    dfx_wr(f, VIRTIO_MMIO_STATUS, ST_ACK | ST_DRV | 0x10);
    assert_int_equal(dfx_rd(f, VIRTIO_MMIO_STATUS), ST_ACK | ST_DRV);
    refused = stats(f).status_refused;
    assert_int_equal(refused, 4);
    /* The driver cannot set DEVICE_NEEDS_RESET (device-owned). */
    dfx_wr(f, VIRTIO_MMIO_STATUS, ST_ACK | ST_DRV | VIRTIO_STATUS_DEVICE_NEEDS_RESET);
    assert_int_equal(dfx_rd(f, VIRTIO_MMIO_STATUS), ST_ACK | ST_DRV);
    /* FAILED sticks on top of what was there. */
    dfx_wr(f, VIRTIO_MMIO_STATUS, VIRTIO_STATUS_FAILED);
    assert_int_equal(dfx_rd(f, VIRTIO_MMIO_STATUS), ST_ACK | ST_DRV | VIRTIO_STATUS_FAILED);
    dfx_wr(f, VIRTIO_MMIO_STATUS, 0);
    assert_int_equal(dfx_rd(f, VIRTIO_MMIO_STATUS), 0);
}

static void test_reset_clears_transport(void **state)
{
    struct tst_fixture *tf = *state;
    struct dev_fixture *f = &tf->f;
    struct vmmio_transport_state st;
    uint32_t gen;

    dfx_start(f, good_features | (1ull << VIRTIO_F_EVENT_IDX), 8);
    vmmio_config_changed(f->m); /* leaves InterruptStatus CONFIG set */
    dfx_wr(f, VIRTIO_MMIO_DEVICE_FEATURES_SEL, 1);
    dfx_wr(f, VIRTIO_MMIO_DRIVER_FEATURES_SEL, 1);
    dfx_wr(f, VIRTIO_MMIO_QUEUE_SEL, 1);
    dfx_wr(f, VIRTIO_MMIO_QUEUE_NOTIFY, 0); /* pending, never processed */
    vmmio_get_state(f->m, &st);
    assert_int_equal(st.features_select, 1);
    assert_int_equal(st.queue_select, 1);
    assert_int_equal(st.interrupt_status, VIRTIO_INT_CONFIG_CHANGE);
    assert_int_equal(st.device_status, ST_ACK | ST_DRV | ST_FOK | ST_DOK);
    gen = st.config_generation;
    assert_true(vmmio_has_pending(f->m));

    dfx_wr(f, VIRTIO_MMIO_STATUS, 0);
    vmmio_get_state(f->m, &st);
    assert_int_equal(st.features_select, 0);
    assert_int_equal(st.acked_features_select, 0);
    assert_int_equal(st.queue_select, 0);
    assert_int_equal(st.device_status, 0);
    assert_int_equal(st.interrupt_status, 0);
    assert_int_equal(st.config_generation, gen); /* never goes back */
    assert_false(vmmio_has_pending(f->m));
    assert_int_equal(dfx_rd(f, VIRTIO_MMIO_INTERRUPT_STATUS), 0);
    assert_int_equal(dfx_rd(f, VIRTIO_MMIO_QUEUE_READY), 0);
    dfx_wr(f, VIRTIO_MMIO_QUEUE_SEL, 1);
    assert_int_equal(dfx_rd(f, VIRTIO_MMIO_QUEUE_READY), 0);
    assert_false(f->dev.activated);
    assert_true(f->dev.acked_features == 0);
    assert_int_equal(tf->t.resets, 2); /* dfx_start's reset and this one */
    assert_int_equal(stats(f).resets, 2);
    assert_int_equal(vmmio_process(f->m), 0);
    assert_int_equal(tf->t.processed, 0);
    /* And the device comes back up. */
    dfx_start(f, good_features, 4);
}

static void test_queue_registers(void **state)
{
    struct dev_fixture *f = *state;
    struct vdev_queue *q0 = &f->dev.queues[0];
    uint64_t ignored;

    dfx_wr(f, VIRTIO_MMIO_QUEUE_SEL, 0);
    assert_int_equal(dfx_rd(f, VIRTIO_MMIO_QUEUE_NUM_MAX), TST_QMAX);
    dfx_wr(f, VIRTIO_MMIO_QUEUE_SEL, 1);
    assert_int_equal(dfx_rd(f, VIRTIO_MMIO_QUEUE_NUM_MAX), TST_QMAX);
    dfx_wr(f, VIRTIO_MMIO_QUEUE_SEL, 2); /* no such queue */
    assert_int_equal(dfx_rd(f, VIRTIO_MMIO_QUEUE_NUM_MAX), 0);
    assert_int_equal(dfx_rd(f, VIRTIO_MMIO_QUEUE_READY), 0);

    /* Before FEATURES_OK the queue registers are not the driver's yet. */
    dfx_wr(f, VIRTIO_MMIO_QUEUE_SEL, 0);
    dfx_wr(f, VIRTIO_MMIO_QUEUE_NUM, 4);
    dfx_wr(f, VIRTIO_MMIO_QUEUE_READY, 1);
    assert_int_equal(q0->size, TST_QMAX);
    assert_false(q0->ready);
    assert_int_equal(stats(f).ignored_writes, 2);

    assert_int_equal(dfx_negotiate(f, good_features), ST_ACK | ST_DRV | ST_FOK);
    dfx_wr(f, VIRTIO_MMIO_QUEUE_NUM, 8);
    dfx_wr(f, VIRTIO_MMIO_QUEUE_DESC_LOW, 0x40001000);
    dfx_wr(f, VIRTIO_MMIO_QUEUE_DESC_HIGH, 0x1);
    dfx_wr(f, VIRTIO_MMIO_QUEUE_DRIVER_LOW, 0x40002000);
    dfx_wr(f, VIRTIO_MMIO_QUEUE_DRIVER_HIGH, 0x2);
    dfx_wr(f, VIRTIO_MMIO_QUEUE_DEVICE_LOW, 0x40003000);
    dfx_wr(f, VIRTIO_MMIO_QUEUE_DEVICE_HIGH, 0x3);
    assert_int_equal(q0->size, 8);
    assert_true(q0->desc_gpa == 0x140001000ull);
    assert_true(q0->avail_gpa == 0x240002000ull);
    assert_true(q0->used_gpa == 0x340003000ull);
    /* Queue 2 does not exist: writes go nowhere. */
    ignored = stats(f).ignored_writes;
    dfx_wr(f, VIRTIO_MMIO_QUEUE_SEL, 2);
    dfx_wr(f, VIRTIO_MMIO_QUEUE_NUM, 8);
    dfx_wr(f, VIRTIO_MMIO_QUEUE_READY, 1);
    assert_int_equal(stats(f).ignored_writes, ignored + 2);

    /* Ready: size and addresses are frozen; QueueReady reads back. */
    dfx_wr(f, VIRTIO_MMIO_QUEUE_SEL, 0);
    dfx_wr(f, VIRTIO_MMIO_QUEUE_READY, 1);
    assert_int_equal(dfx_rd(f, VIRTIO_MMIO_QUEUE_READY), 1);
    dfx_wr(f, VIRTIO_MMIO_QUEUE_NUM, 4);
    dfx_wr(f, VIRTIO_MMIO_QUEUE_DESC_LOW, 0);
    assert_int_equal(q0->size, 8);
    assert_true(q0->desc_gpa == 0x140001000ull);
    assert_int_equal(stats(f).ignored_writes, ignored + 4);
    /* Values other than 0/1 are not a ready bit. */
    dfx_wr(f, VIRTIO_MMIO_QUEUE_READY, 7);
    assert_int_equal(dfx_rd(f, VIRTIO_MMIO_QUEUE_READY), 1);
    /* Writing 0 stops the queue (before DRIVER_OK) and unfreezes it. */
    dfx_wr(f, VIRTIO_MMIO_QUEUE_READY, 0);
    assert_int_equal(dfx_rd(f, VIRTIO_MMIO_QUEUE_READY), 0);
    dfx_wr(f, VIRTIO_MMIO_QUEUE_NUM, 4);
    assert_int_equal(q0->size, 4);
}

static void test_queue_frozen_after_driver_ok(void **state)
{
    struct dev_fixture *f = *state;
    uint64_t ignored;

    dfx_start(f, good_features, 8);
    ignored = stats(f).ignored_writes;
    dfx_wr(f, VIRTIO_MMIO_QUEUE_SEL, 1);
    dfx_wr(f, VIRTIO_MMIO_QUEUE_READY, 0);
    assert_int_equal(dfx_rd(f, VIRTIO_MMIO_QUEUE_READY), 1);
    dfx_wr(f, VIRTIO_MMIO_QUEUE_NUM, 2);
    assert_int_equal(f->dev.queues[1].size, 8);
    dfx_wr(f, VIRTIO_MMIO_QUEUE_RESET, 1); /* RING_RESET is not offered */
    assert_int_equal(dfx_rd(f, VIRTIO_MMIO_QUEUE_RESET), 0);
    assert_int_equal(stats(f).ignored_writes, ignored + 3);
}

static void expect_activate_fails(struct dev_fixture *f)
{
    int irqs = f->interrupts;
    uint32_t gen = dfx_rd(f, VIRTIO_MMIO_CONFIG_GENERATION);

    dfx_wr(f, VIRTIO_MMIO_STATUS, ST_ACK | ST_DRV | ST_FOK | ST_DOK);
    assert_int_equal(dfx_rd(f, VIRTIO_MMIO_STATUS),
                     ST_ACK | ST_DRV | ST_FOK | ST_DOK | VIRTIO_STATUS_DEVICE_NEEDS_RESET);
    assert_false(f->dev.activated);
    assert_true(f->dev.needs_reset);
    /* 2.1.2: and a configuration change notification. */
    assert_int_equal(f->interrupts, irqs + 1);
    assert_true(f->last_int & VIRTIO_INT_CONFIG_CHANGE);
    assert_int_not_equal(dfx_rd(f, VIRTIO_MMIO_CONFIG_GENERATION), gen);
    /* Nothing runs on the queues of a device that failed. */
    dfx_wr(f, VIRTIO_MMIO_QUEUE_NOTIFY, 0);
    assert_int_equal(vmmio_process(f->m), 0);
    /* Reset recovers. */
    dfx_wr(f, VIRTIO_MMIO_STATUS, 0);
    assert_int_equal(dfx_rd(f, VIRTIO_MMIO_STATUS), 0);
    assert_false(f->dev.needs_reset);
}

static void test_activate_bad_queue(void **state)
{
    struct tst_fixture *tf = *state;
    struct dev_fixture *f = &tf->f;

    /* Size not a power of two. */
    assert_int_equal(dfx_negotiate(f, good_features), ST_ACK | ST_DRV | ST_FOK);
    dfx_setup_queue(f, 0, 8);
    dfx_wr(f, VIRTIO_MMIO_QUEUE_SEL, 1);
    dfx_wr(f, VIRTIO_MMIO_QUEUE_NUM, 3);
    dfx_wr(f, VIRTIO_MMIO_QUEUE_READY, 1);
    expect_activate_fails(f);
    /* Size above QueueNumMax. */
    assert_int_equal(dfx_negotiate(f, good_features), ST_ACK | ST_DRV | ST_FOK);
    dfx_wr(f, VIRTIO_MMIO_QUEUE_SEL, 1);
    dfx_wr(f, VIRTIO_MMIO_QUEUE_NUM, 2 * TST_QMAX);
    dfx_wr(f, VIRTIO_MMIO_QUEUE_READY, 1);
    expect_activate_fails(f);
    /* Rings outside guest memory. */
    assert_int_equal(dfx_negotiate(f, good_features), ST_ACK | ST_DRV | ST_FOK);
    dfx_wr(f, VIRTIO_MMIO_QUEUE_SEL, 0);
    dfx_wr(f, VIRTIO_MMIO_QUEUE_NUM, 4);
    dfx_wr(f, VIRTIO_MMIO_QUEUE_DESC_LOW, 0x1000);
    dfx_wr(f, VIRTIO_MMIO_QUEUE_READY, 1);
    expect_activate_fails(f);
    /* The model refuses. */
    tf->t.fail_activate = 1;
    assert_int_equal(dfx_negotiate(f, good_features), ST_ACK | ST_DRV | ST_FOK);
    expect_activate_fails(f);
    assert_int_equal(stats(f).activate_failed, 4);
    tf->t.fail_activate = 0;
    dfx_start(f, good_features, 16);
}

static void test_notify_pending_and_process(void **state)
{
    struct tst_fixture *tf = *state;
    struct dev_fixture *f = &tf->f;
    uint8_t *buf;
    struct vq_sg sg;
    uint32_t len = 0;
    void *tok = NULL;

    dfx_start(f, good_features, 8);
    /* DRIVER_OK had the device look at each ready queue once. */
    assert_int_equal(f->notifies, 2);
    assert_true(vmmio_has_pending(f->m));
    assert_int_equal(vmmio_process(f->m), 0);
    assert_int_equal(tf->t.processed, 2);
    assert_true(f->dev.queues[0].stats.kicks == 0);
    tf->t.processed = 0;
    f->notifies = 0;
    buf = fx_alloc(&f->fx, 100, NULL);
    sg.buf = buf;
    sg.len = 100;
    assert_int_equal(vq_add_sgs(f->vq[1], &sg, 0, 1, buf), 0);
    assert_int_equal(vq_kick(f->vq[1]), 0);
    /* The notify did no queue work: only a pending bit and the hook. */
    assert_int_equal(f->notifies, 1);
    assert_int_equal(f->last_notified, 1);
    assert_true(vmmio_has_pending(f->m));
    assert_int_equal(tf->t.processed, 0);
    assert_int_equal(buf[0], 0);
    assert_true(f->dev.queues[1].stats.kicks == 1);

    assert_int_equal(vmmio_process(f->m), 1);
    assert_false(vmmio_has_pending(f->m));
    assert_int_equal(tf->t.processed, 1);
    assert_int_equal(vq_get_buf(f->vq[1], &tok, &len), 0);
    assert_ptr_equal(tok, buf);
    assert_int_equal(len, 100);
    assert_int_equal(buf[0], 0xab);
    assert_int_equal(buf[99], 0xab);
    assert_true(f->dev.queues[1].stats.requests == 1);

    /* Used-buffer interrupt: status bit, hook, then ACK clears it. */
    assert_int_equal(f->interrupts, 1);
    assert_int_equal(f->last_int, VIRTIO_INT_USED_BUFFER);
    assert_true(f->dev.queues[1].stats.interrupts == 1);
    assert_int_equal(dfx_rd(f, VIRTIO_MMIO_INTERRUPT_STATUS), VIRTIO_INT_USED_BUFFER);
    dfx_wr(f, VIRTIO_MMIO_INTERRUPT_ACK, VIRTIO_INT_USED_BUFFER);
    assert_int_equal(dfx_rd(f, VIRTIO_MMIO_INTERRUPT_STATUS), 0);

    /* Nothing pending: nothing done. */
    assert_int_equal(vmmio_process(f->m), 0);
    assert_int_equal(tf->t.processed, 1);

    /* Notify of a queue that does not exist: ignored. */
    dfx_wr(f, VIRTIO_MMIO_QUEUE_NOTIFY, 5);
    dfx_wr(f, VIRTIO_MMIO_QUEUE_NOTIFY, 0xffffffff);
    assert_false(vmmio_has_pending(f->m));
    assert_int_equal(stats(f).notifies, 3);
}

static void test_buffers_before_driver_ok(void **state)
{
    struct dev_fixture *f = *state;
    uint8_t *buf = fx_alloc(&f->fx, 8, NULL);
    struct vq_sg sg = {.buf = buf, .len = 8};

    assert_true(dfx_negotiate(f, good_features) & ST_FOK);
    dfx_setup_queue(f, 0, 8);
    dfx_setup_queue(f, 1, 8);
    assert_int_equal(vq_add_sgs(f->vq[0], &sg, 0, 1, buf), 0); /* no kick */
    assert_int_equal(vmmio_process(f->m), 0);                  /* not live yet */
    dfx_wr(f, VIRTIO_MMIO_STATUS, ST_ACK | ST_DRV | ST_FOK | ST_DOK);
    assert_int_equal(vmmio_process(f->m), 1);
    assert_int_equal(dfx_used(f, 0, buf), 8);
    assert_int_equal(buf[7], 0xab);
}

/* One call handles at most a queue size of chains, then leaves the queue
 * pending so the lock is let go between batches. */
static void test_drain_budget(void **state)
{
    struct tst_fixture *tf = *state;
    struct dev_fixture *f = &tf->f;
    uint8_t *buf = fx_alloc(&f->fx, 8 * 4, NULL);
    unsigned i;

    dfx_start(f, good_features, 4);
    assert_int_equal(vmmio_process(f->m), 0);
    for (i = 0; i < 4; i++) {
        struct vq_sg sg = {.buf = buf + 4 * i, .len = 4};

        assert_int_equal(vq_add_sgs(f->vq[0], &sg, 0, 1, buf + 4 * i), 0);
    }
    assert_int_equal(vq_kick(f->vq[0]), 0);
    assert_int_equal(vmmio_process(f->m), 4);
    assert_true(vmmio_has_pending(f->m)); /* budget reached: come back */
    for (i = 0; i < 2; i++) {
        struct vq_sg sg = {.buf = buf + 16 + 4 * i, .len = 4};

        assert_int_equal(dfx_used(f, 0, buf + 4 * i), 4);
        assert_int_equal(vq_add_sgs(f->vq[0], &sg, 0, 1, buf + 16 + 4 * i), 0);
    }
    /* No kick needed: the device is still on it. */
    assert_int_equal(vmmio_process(f->m), 2);
    assert_false(vmmio_has_pending(f->m));
    assert_int_equal(dfx_used(f, 0, buf + 8), 4);
    assert_int_equal(dfx_used(f, 0, buf + 12), 4);
    assert_int_equal(dfx_used(f, 0, buf + 16), 4);
    assert_int_equal(dfx_used(f, 0, buf + 20), 4);
}

static void test_interrupt_suppressed(void **state)
{
    struct dev_fixture *f = *state;
    uint8_t *buf = NULL;
    struct vq_sg sg;

    dfx_start(f, good_features, 8);
    buf = fx_alloc(&f->fx, 16, NULL);
    sg.buf = buf;
    sg.len = 16;
    vq_disable_cb(f->vq[0]); /* VIRTQ_AVAIL_F_NO_INTERRUPT */
    dfx_submit(f, 0, &sg, 0, 1, buf);
    assert_int_equal(dfx_used(f, 0, buf), 16);
    assert_int_equal(f->interrupts, 0);
    assert_int_equal(dfx_rd(f, VIRTIO_MMIO_INTERRUPT_STATUS), 0);
}

static void test_event_idx_from_acked(void **state)
{
    struct dev_fixture *f = *state;

    dfx_start(f, good_features | (1ull << VIRTIO_F_EVENT_IDX), 8);
    assert_true(f->dev.queues[0].q.cfg.event_idx);
    assert_false(f->dev.queues[0].q.cfg.indirect);
    dfx_start(f, good_features | (1ull << VIRTIO_F_INDIRECT_DESC), 8);
    assert_false(f->dev.queues[0].q.cfg.event_idx);
    assert_true(f->dev.queues[0].q.cfg.indirect);
}

static void test_config_space(void **state)
{
    struct tst_fixture *tf = *state;
    struct dev_fixture *f = &tf->f;
    uint32_t gen;

    assert_int_equal(vmmio_read(f->m, VIRTIO_MMIO_CONFIG, 4), 0x55667788);
    assert_int_equal(vmmio_read(f->m, VIRTIO_MMIO_CONFIG + 4, 4), 0x11223344);
    assert_int_equal(vmmio_read(f->m, VIRTIO_MMIO_CONFIG + 8, 2), 0xbeef);
    assert_int_equal(vmmio_read(f->m, VIRTIO_MMIO_CONFIG + 13, 1), 'x');
    assert_int_equal(vmmio_read(f->m, VIRTIO_MMIO_CONFIG + 12, 4), 0x7a797877);
    /* Out of bounds / bad sizes read 0. */
    assert_int_equal(vmmio_read(f->m, VIRTIO_MMIO_CONFIG + 13, 4), 0);
    assert_int_equal(vmmio_read(f->m, VIRTIO_MMIO_CONFIG + 16, 1), 0);
    assert_int_equal(vmmio_read(f->m, VIRTIO_MMIO_CONFIG, 3), 0);
    assert_int_equal(vmmio_read(f->m, VIRTIO_MMIO_CONFIG, 8), 0);
    assert_int_equal(vmmio_read(f->m, 0xffffffff, 1), 0);
    assert_int_equal(vmmio_read(f->m, 0xfffffffc, 4), 0);
    assert_int_equal(stats(f).bad_reads, 6);
    /* Writes within bounds reach the model, others do not. */
    vmmio_write(f->m, VIRTIO_MMIO_CONFIG + 12, 'Q', 1);
    vmmio_write(f->m, VIRTIO_MMIO_CONFIG + 15, 0x12345678, 4);
    vmmio_write(f->m, VIRTIO_MMIO_CONFIG + 0x1000, 1, 4);
    assert_int_equal(tf->t.cfg.c[0], 'Q');
    assert_int_equal(tf->t.cfg.c[3], 'z');
    assert_int_equal(stats(f).bad_writes, 2);

    /* ConfigGeneration moves with every config change, with an interrupt. */
    gen = dfx_rd(f, VIRTIO_MMIO_CONFIG_GENERATION);
    assert_int_equal(dfx_rd(f, VIRTIO_MMIO_CONFIG_GENERATION), gen);
    vmmio_config_changed(f->m);
    assert_int_equal(dfx_rd(f, VIRTIO_MMIO_CONFIG_GENERATION), gen + 1);
    assert_int_equal(f->interrupts, 1);
    assert_int_equal(f->last_int, VIRTIO_INT_CONFIG_CHANGE);
    vmmio_config_changed(f->m);
    assert_int_equal(dfx_rd(f, VIRTIO_MMIO_CONFIG_GENERATION), gen + 2);
    assert_int_equal(dfx_rd(f, VIRTIO_MMIO_INTERRUPT_STATUS), VIRTIO_INT_CONFIG_CHANGE);
    dfx_wr(f, VIRTIO_MMIO_INTERRUPT_ACK, VIRTIO_INT_USED_BUFFER); /* not this one */
    assert_int_equal(dfx_rd(f, VIRTIO_MMIO_INTERRUPT_STATUS), VIRTIO_INT_CONFIG_CHANGE);
    dfx_wr(f, VIRTIO_MMIO_INTERRUPT_ACK, VIRTIO_INT_CONFIG_CHANGE);
    assert_int_equal(dfx_rd(f, VIRTIO_MMIO_INTERRUPT_STATUS), 0);
}

static void bump_b(struct vdev *d, void *arg)
{
    struct tst *t = d->priv;

    t->cfg.b = *(uint32_t *)arg;
    vdev_signal_config(d);
}

static void test_run_locked_config_update(void **state)
{
    struct tst_fixture *tf = *state;
    struct dev_fixture *f = &tf->f;
    uint32_t gen = dfx_rd(f, VIRTIO_MMIO_CONFIG_GENERATION), v = 77;

    vmmio_run_locked(f->m, bump_b, &v);
    assert_int_equal(vmmio_read(f->m, VIRTIO_MMIO_CONFIG + 8, 4), 77);
    assert_int_equal(dfx_rd(f, VIRTIO_MMIO_CONFIG_GENERATION), gen + 1);
}

/* An interrupt handler may run while its CPU holds the lock inside a
 * register access: InterruptStatus / ACK must not take it (this would spin
 * forever if they did). */
static void irq_handler_locked(struct vdev *d, void *arg)
{
    struct dev_fixture *f = arg;

    (void)d;
    assert_int_equal(dfx_rd(f, VIRTIO_MMIO_INTERRUPT_STATUS), VIRTIO_INT_CONFIG_CHANGE);
    dfx_wr(f, VIRTIO_MMIO_INTERRUPT_ACK, VIRTIO_INT_CONFIG_CHANGE);
    assert_int_equal(dfx_rd(f, VIRTIO_MMIO_INTERRUPT_STATUS), 0);
    dfx_wr(f, VIRTIO_MMIO_QUEUE_NOTIFY, 0);
}

static void test_interrupt_regs_lock_free(void **state)
{
    struct dev_fixture *f = *state;

    vmmio_config_changed(f->m);
    vmmio_run_locked(f->m, irq_handler_locked, f);
    assert_true(vmmio_has_pending(f->m));
}

static void test_bad_accesses(void **state)
{
    struct dev_fixture *f = *state;
    static const uint32_t offs[] = {0x001, 0x002, 0x003, 0x00e,  0x018,       0x028,      0x040,
                                    0x0fd, 0x0fe, 0x0ff, 0xfff0, 0x80000000u, 0xfffffffcu};
    static const unsigned sizes[] = {0, 1, 2, 3, 4, 8, 0xffffffffu};
    struct vmmio_stats st;
    size_t i, j;

    /* Write-only registers do not read; read-only ones do not write. */
    assert_int_equal(dfx_rd(f, VIRTIO_MMIO_QUEUE_NOTIFY), 0);
    assert_int_equal(dfx_rd(f, VIRTIO_MMIO_INTERRUPT_ACK), 0);
    assert_int_equal(dfx_rd(f, VIRTIO_MMIO_QUEUE_DESC_LOW), 0);
    assert_int_equal(dfx_rd(f, VIRTIO_MMIO_DRIVER_FEATURES), 0);
    dfx_wr(f, VIRTIO_MMIO_MAGIC_VALUE, 0);
    dfx_wr(f, VIRTIO_MMIO_QUEUE_NUM_MAX, 0);
    dfx_wr(f, VIRTIO_MMIO_INTERRUPT_STATUS, 0);
    dfx_wr(f, VIRTIO_MMIO_CONFIG_GENERATION, 0);
    assert_int_equal(dfx_rd(f, VIRTIO_MMIO_MAGIC_VALUE), 0x74726976);
    st = stats(f);
    assert_int_equal(st.bad_reads, 4);
    assert_int_equal(st.bad_writes, 4);
    /* Control registers only as aligned 32-bit. */
    assert_int_equal(vmmio_read(f->m, VIRTIO_MMIO_MAGIC_VALUE, 2), 0);
    assert_int_equal(vmmio_read(f->m, VIRTIO_MMIO_MAGIC_VALUE, 1), 0);
    vmmio_write(f->m, VIRTIO_MMIO_STATUS, ST_ACK, 1);
    assert_int_equal(dfx_rd(f, VIRTIO_MMIO_STATUS), 0);
    /* A sweep of nonsense never crashes and reads 0. */
    for (i = 0; i < sizeof(offs) / sizeof(offs[0]); i++) {
        for (j = 0; j < sizeof(sizes) / sizeof(sizes[0]); j++) {
            assert_int_equal(vmmio_read(f->m, offs[i], sizes[j]), 0);
            vmmio_write(f->m, offs[i], 0xffffffff, sizes[j]);
        }
    }
    st = stats(f);
    assert_true(st.bad_reads >= 4 + 2 + 13 * 7);
    assert_true(st.bad_writes >= 4 + 1 + 13 * 6);
    assert_int_equal(dfx_rd(f, VIRTIO_MMIO_STATUS), 0);
}

static void test_corrupt_ring_needs_reset(void **state)
{
    struct dev_fixture *f = *state;
    uint64_t desc, avail, used;
    struct virtq_avail *a;

    dfx_start(f, good_features, 8);
    vq_get_ring_addrs(f->vq[0], &desc, &avail, &used);
    a = vdq_mem_translate(&f->fx.mem, avail, 4);
    assert_non_null(a);
    a->idx = 100; /* more than the queue size ahead: the ring is corrupt */
    dfx_wr(f, VIRTIO_MMIO_QUEUE_NOTIFY, 0);
    assert_int_equal(vmmio_process(f->m), 0);
    assert_true(dfx_rd(f, VIRTIO_MMIO_STATUS) & VIRTIO_STATUS_DEVICE_NEEDS_RESET);
    assert_int_equal(f->last_int, VIRTIO_INT_CONFIG_CHANGE);
    assert_int_equal(stats(f).needs_reset, 1);
    /* Again: no second notification. */
    dfx_wr(f, VIRTIO_MMIO_QUEUE_NOTIFY, 0);
    vmmio_process(f->m);
    assert_int_equal(f->interrupts, 1);
    /* Reset + re-init works (the driver side recreates its rings). */
    dfx_start(f, good_features, 8);
    assert_false(dfx_rd(f, VIRTIO_MMIO_STATUS) & VIRTIO_STATUS_DEVICE_NEEDS_RESET);
}

static void test_bad_chain_counted(void **state)
{
    struct dev_fixture *f = *state;
    uint8_t *buf = fx_alloc(&f->fx, 16, NULL);
    struct vq_sg sg = {.buf = buf, .len = 16};

    dfx_start(f, good_features, 8);
    /* Readable-only chain: the tst model calls that bad. */
    dfx_submit(f, 0, &sg, 1, 0, buf);
    assert_int_equal(dfx_used(f, 0, buf), 0);
    assert_true(f->dev.queues[0].stats.bad_chains == 1);
    assert_true(f->dev.queues[0].stats.requests == 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_identity, setup, teardown),
        cmocka_unit_test_setup_teardown(test_feature_windows, setup, teardown),
        cmocka_unit_test_setup_teardown(test_features_ok_refused, setup, teardown),
        cmocka_unit_test_setup_teardown(test_status_sequence, setup, teardown),
        cmocka_unit_test_setup_teardown(test_reset_clears_transport, setup, teardown),
        cmocka_unit_test_setup_teardown(test_queue_registers, setup, teardown),
        cmocka_unit_test_setup_teardown(test_queue_frozen_after_driver_ok, setup, teardown),
        cmocka_unit_test_setup_teardown(test_activate_bad_queue, setup, teardown),
        cmocka_unit_test_setup_teardown(test_notify_pending_and_process, setup, teardown),
        cmocka_unit_test_setup_teardown(test_buffers_before_driver_ok, setup, teardown),
        cmocka_unit_test_setup_teardown(test_drain_budget, setup, teardown),
        cmocka_unit_test_setup_teardown(test_interrupt_suppressed, setup, teardown),
        cmocka_unit_test_setup_teardown(test_event_idx_from_acked, setup, teardown),
        cmocka_unit_test_setup_teardown(test_config_space, setup, teardown),
        cmocka_unit_test_setup_teardown(test_run_locked_config_update, setup, teardown),
        cmocka_unit_test_setup_teardown(test_interrupt_regs_lock_free, setup, teardown),
        cmocka_unit_test_setup_teardown(test_bad_accesses, setup, teardown),
        cmocka_unit_test_setup_teardown(test_corrupt_ring_needs_reset, setup, teardown),
        cmocka_unit_test_setup_teardown(test_bad_chain_counted, setup, teardown),
    };

    return cmocka_run_group_tests_name("vmmio", tests, NULL, NULL);
}
