/* SPDX-License-Identifier: Apache-2.0 */
/*
 * test_net_features.c - virtio-net features of issue 14 (VIRTIO 1.2 5.1)
 * on both sides:
 *  - the loopback model (hostsim/dev_net.c) by hand-made chains through
 *    the register file (dev_fixture): MRG_RXBUF (5.1.6.4: a frame over
 *    several buffers, num_buffers, all chains visible together, a ring
 *    that runs dry mid-frame, a bad chain mid-frame, a ring too small),
 *    MTU (5.1.4.1: TX above mtu + 14 dropped), STATUS (link with its
 *    config interrupt) and the link in the snapshot blob;
 *  - the driver (drivers/virtio/virtio_net.c) against the model over the
 *    loopback transport (lb_env) in the four modes: frames larger than one
 *    receive buffer, the mtu limit, a frame too large for the caller, the
 *    link change seen through config_changed.
 */
#include <errno.h>
#include <sched.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "dev_fixture.h"
#include "lb_env.h"
#include "vdev_models.h"
#include "virtio_mmio.h"
#include "virtio_net.h"
#include "virtio_platform.h"

#define HDR ((uint32_t)sizeof(struct virtio_net_hdr))
#define RXB 2048u
#define BIG (VDEV_NET_DEFAULT_MTU + 14u) /* the largest frame: > one RXB */

static struct dev_fixture fixture;

/* ------------------------------------------------------------ device model */

static int setup_dev(void **state)
{
    struct dev_fixture *f = &fixture;

    dfx_arena(f);
    assert_int_equal(vdev_net_create(&f->dev, &f->fx.mem, NULL), 0);
    dfx_attach(f);
    *state = f;
    return 0;
}

static int teardown_dev(void **state)
{
    dfx_teardown(*state);
    return 0;
}

static void *galloc(struct dev_fixture *f, size_t len)
{
    return fx_alloc(&f->fx, len, NULL);
}

static struct vdev_net_stats st(struct dev_fixture *f)
{
    struct vdev_net_stats s;

    vdev_net_get_stats(&f->dev, &s);
    return s;
}

static uint64_t feat_without(struct dev_fixture *f, unsigned bit)
{
    return dfx_device_features(f) & ~(1ull << bit);
}

/* Add an RX buffer (no kick). */
static uint8_t *post(struct dev_fixture *f, uint32_t len)
{
    uint8_t *b = galloc(f, len);
    struct vq_sg sg = {.buf = b, .len = len};

    assert_int_equal(vq_add_sgs(f->vq[VIRTIO_NET_RXQ], &sg, 0, 1, b), 0);
    return b;
}

static void kick_rx(struct dev_fixture *f)
{
    assert_int_equal(vq_kick(f->vq[VIRTIO_NET_RXQ]), 0);
    vmmio_process(f->m);
}

static uint8_t pat(uint32_t i, uint8_t v)
{
    return (uint8_t)(v + i * 7 + (i >> 8));
}

/* Transmit a len-byte patterned frame; the TX chain comes back at once. */
static void send(struct dev_fixture *f, uint32_t len, uint8_t v)
{
    struct virtio_net_hdr *h = galloc(f, sizeof(*h));
    uint8_t *fr = galloc(f, len);
    struct vq_sg sg[2] = {{.buf = h, .len = HDR}, {.buf = fr, .len = len}};
    uint32_t i;

    memset(h, 0, sizeof(*h));
    for (i = 0; i < len; i++)
        fr[i] = pat(i, v);
    dfx_submit(f, VIRTIO_NET_TXQ, sg, 2, 0, h);
    assert_int_equal(dfx_used(f, VIRTIO_NET_TXQ, h), 0);
}

static uint16_t num_buffers(const uint8_t *b)
{
    struct virtio_net_hdr h;

    memcpy(&h, b, sizeof(h));
    return vr_le16_to_cpu(h.num_buffers);
}

/* A frame of len bytes (pattern v) spread over bufs[0..n) of RXB bytes. */
static void expect_merged(struct dev_fixture *f, uint8_t **bufs, unsigned n, uint32_t len,
                          uint8_t v)
{
    uint32_t off = 0, i, ul;
    unsigned k;

    for (k = 0; k < n; k++) {
        uint32_t skip = k ? 0 : HDR;

        ul = dfx_used(f, VIRTIO_NET_RXQ, bufs[k]);
        if (k == 0)
            assert_int_equal(num_buffers(bufs[0]), n);
        assert_true(ul > skip);
        for (i = skip; i < ul; i++, off++)
            assert_int_equal(bufs[k][i], pat(off, v));
    }
    assert_int_equal(off, len);
}

static void test_dev_config(void **state)
{
    struct dev_fixture *f = *state;
    uint64_t feat = dfx_device_features(f);

    assert_true(feat & (1ull << VIRTIO_NET_F_MRG_RXBUF));
    assert_true(feat & (1ull << VIRTIO_NET_F_MTU));
    assert_int_equal(vmmio_read(f->m, VIRTIO_MMIO_CONFIG + offsetof(struct virtio_net_config, mtu), 2),
                     VDEV_NET_DEFAULT_MTU);
    /* 5.1.4.1: mtu 68..65535 (and within a backlog frame); 0: not offered. */
    {
        struct vdev d2;

        assert_int_equal(vdev_net_create_mtu(&d2, &f->fx.mem, NULL, 67), -EINVAL);
        assert_int_equal(vdev_net_create_mtu(&d2, &f->fx.mem, NULL, 0), 0);
        assert_false(d2.avail_features & (1ull << VIRTIO_NET_F_MTU));
        vdev_destroy(&d2);
    }
}

/* 5.1.6.4: a frame larger than one buffer takes several, num_buffers in the
 * first header; small frames take one (num_buffers 1). */
static void test_dev_mrg_spread(void **state)
{
    struct dev_fixture *f = *state;
    uint8_t *b[5];
    unsigned i;

    dfx_start(f, dfx_device_features(f), 16);
    for (i = 0; i < 5; i++)
        b[i] = post(f, RXB);
    kick_rx(f);
    send(f, BIG, 1);
    expect_merged(f, b, 2, BIG, 1);
    send(f, 100, 2);
    expect_merged(f, b + 2, 1, 100, 2);
    /* Exactly one buffer's worth: header + 2036 bytes fill one buffer. */
    send(f, RXB - HDR, 3);
    expect_merged(f, b + 3, 1, RXB - HDR, 3);
    assert_int_equal(st(f).rx_merged, 1);
    assert_int_equal(st(f).rx_frames, 3);
}

/* The ring runs dry mid-frame: nothing of the frame is visible to the
 * driver (no chain of it used), the chains are given back; once the driver
 * adds a buffer (and kicks: the device asked for it) the whole frame comes
 * out. Both notification modes. */
static void dry_ring(struct dev_fixture *f, uint64_t features)
{
    uint8_t *b[3];

    dfx_start(f, features, 16);
    b[0] = post(f, RXB);
    kick_rx(f);
    send(f, BIG, 9);
    assert_false(vq_has_used(f->vq[VIRTIO_NET_RXQ]));
    assert_int_equal(vdev_net_backlog_len(&f->dev), 1);
    /* Still waiting after another pass (no double use of the chain). */
    vmmio_process(f->m);
    assert_false(vq_has_used(f->vq[VIRTIO_NET_RXQ]));
    b[1] = post(f, RXB);
    assert_true(vq_kick_prepare(f->vq[VIRTIO_NET_RXQ])); /* the device asked for it */
    assert_int_equal(vq_notify(f->vq[VIRTIO_NET_RXQ]), 0);
    vmmio_process(f->m);
    expect_merged(f, b, 2, BIG, 9);
    assert_int_equal(vdev_net_backlog_len(&f->dev), 0);
    assert_int_equal(f->dev.queues[VIRTIO_NET_RXQ].q.stats.popped, 2);
    /* And the queue goes on. */
    b[2] = post(f, RXB);
    kick_rx(f);
    send(f, 60, 4);
    expect_merged(f, b + 2, 1, 60, 4);
}

static void test_dev_mrg_dry_ring(void **state)
{
    struct dev_fixture *f = *state;

    dry_ring(f, dfx_device_features(f));
    dry_ring(f, feat_without(f, VIRTIO_F_EVENT_IDX));
}

/* A bad chain (device-readable) after the first chain of a frame: the held
 * chain cannot be given back behind it, so the frame is dropped (its chain
 * returned with len 0, counted); the next frame is delivered normally. A
 * bad first chain only skips that chain. */
static void test_dev_mrg_bad_chain_mid_frame(void **state)
{
    struct dev_fixture *f = *state;
    uint8_t *ok1, *ro = galloc(f, RXB), *ok2, *ro2 = galloc(f, RXB), *ok3;
    struct vq_sg sg = {.buf = ro, .len = RXB};

    dfx_start(f, dfx_device_features(f), 16);
    ok1 = post(f, RXB);
    assert_int_equal(vq_add_sgs(f->vq[VIRTIO_NET_RXQ], &sg, 1, 0, ro), 0);
    ok2 = post(f, RXB);
    kick_rx(f);
    send(f, BIG, 5);
    /* Used order: the bad chain when it was met, then the held one. */
    assert_int_equal(dfx_used(f, VIRTIO_NET_RXQ, ro), 0);
    assert_int_equal(dfx_used(f, VIRTIO_NET_RXQ, ok1), 0);
    assert_int_equal(st(f).rx_mrg_dropped, 1);
    assert_int_equal(st(f).bad, 1);
    assert_int_equal(vdev_net_backlog_len(&f->dev), 0);
    send(f, 80, 6);
    expect_merged(f, &ok2, 1, 80, 6);
    /* Bad chain first: skipped, the frame takes the next ones. */
    sg.buf = ro2;
    assert_int_equal(vq_add_sgs(f->vq[VIRTIO_NET_RXQ], &sg, 1, 0, ro2), 0);
    ok3 = post(f, RXB);
    {
        uint8_t *ok4 = post(f, RXB), *pair[2] = {ok3, ok4};

        kick_rx(f);
        send(f, BIG, 7);
        assert_int_equal(dfx_used(f, VIRTIO_NET_RXQ, ro2), 0);
        expect_merged(f, pair, 2, BIG, 7);
    }
    assert_int_equal(st(f).rx_mrg_dropped, 1);
    assert_int_equal(st(f).bad, 2);
}

/* A chain shorter than the header (5.1.6.3.1: each buffer at least the
 * header's size) after the first: dropped like a bad chain. */
static void test_dev_mrg_short_chain(void **state)
{
    struct dev_fixture *f = *state;
    uint8_t *a, *tiny, *c;

    dfx_start(f, dfx_device_features(f), 16);
    a = post(f, RXB);
    tiny = post(f, HDR - 1);
    c = post(f, RXB);
    kick_rx(f);
    send(f, BIG, 8);
    assert_int_equal(dfx_used(f, VIRTIO_NET_RXQ, tiny), 0);
    assert_int_equal(dfx_used(f, VIRTIO_NET_RXQ, a), 0);
    assert_int_equal(st(f).rx_mrg_dropped, 1);
    send(f, 10, 1);
    expect_merged(f, &c, 1, 10, 1);
}

/* The whole ring is not enough for the frame: it never will be, so the
 * frame is dropped instead of waiting for ever. */
static void test_dev_mrg_ring_too_small(void **state)
{
    struct dev_fixture *f = *state;
    uint8_t *b[4];
    unsigned i;

    dfx_start(f, dfx_device_features(f), 4);
    for (i = 0; i < 4; i++)
        b[i] = post(f, 100);
    kick_rx(f);
    send(f, BIG, 1);
    for (i = 0; i < 4; i++)
        assert_int_equal(dfx_used(f, VIRTIO_NET_RXQ, b[i]), 0);
    assert_int_equal(st(f).rx_mrg_dropped, 1);
    assert_int_equal(vdev_net_backlog_len(&f->dev), 0);
}

/* 5.1.4.1: with MTU negotiated a TX frame above mtu + 14 is dropped
 * (counted); without it the device's own limit applies. */
static void test_dev_mtu(void **state)
{
    struct dev_fixture *f = *state;

    dfx_start(f, dfx_device_features(f), 16);
    send(f, BIG, 1);
    assert_int_equal(vdev_net_backlog_len(&f->dev), 1);
    send(f, BIG + 1, 1);
    assert_int_equal(vdev_net_backlog_len(&f->dev), 1);
    assert_int_equal(st(f).tx_oversize, 1);
    dfx_start(f, feat_without(f, VIRTIO_NET_F_MTU), 16);
    send(f, BIG + 1, 1);
    assert_int_equal(vdev_net_backlog_len(&f->dev), 1);
    assert_int_equal(st(f).tx_oversize, 1);
}

/* Without MRG_RXBUF a frame larger than its buffer is dropped (5.1.6.3.1:
 * the driver must post buffers for a whole frame). */
static void test_dev_no_mrg_big_frame(void **state)
{
    struct dev_fixture *f = *state;
    uint8_t *small, *full;

    dfx_start(f, feat_without(f, VIRTIO_NET_F_MRG_RXBUF), 16);
    small = post(f, RXB);
    full = post(f, HDR + BIG);
    kick_rx(f);
    send(f, BIG, 2);
    send(f, BIG, 3);
    assert_int_equal(dfx_used(f, VIRTIO_NET_RXQ, small), 0);
    expect_merged(f, &full, 1, BIG, 3);
    assert_int_equal(st(f).rx_too_small, 1);
}

/* STATUS: the link follows vdev_net_set_link with a config interrupt;
 * frames sent while it is down are dropped; the link is in the snapshot
 * blob (byte 7) and a load restores it. */
static void test_dev_link(void **state)
{
    struct dev_fixture *f = *state;
    uint32_t soff = VIRTIO_MMIO_CONFIG + offsetof(struct virtio_net_config, status);
    uint8_t *blob;
    uint32_t n;
    int irqs;

    dfx_start(f, dfx_device_features(f), 16);
    assert_int_equal(vmmio_read(f->m, soff, 2), VIRTIO_NET_S_LINK_UP);
    irqs = f->interrupts;
    vdev_net_set_link(&f->dev, false);
    assert_int_equal(vmmio_read(f->m, soff, 2), 0);
    assert_int_equal(f->interrupts, irqs + 1);
    assert_true(f->last_int & VIRTIO_INT_CONFIG_CHANGE);
    vdev_net_set_link(&f->dev, false); /* no change: no interrupt */
    assert_int_equal(f->interrupts, irqs + 1);
    send(f, 60, 1);
    assert_int_equal(vdev_net_backlog_len(&f->dev), 0);
    assert_int_equal(st(f).link_down_drops, 1);
    n = f->dev.ops->state_size(&f->dev);
    blob = malloc(n);
    assert_non_null(blob);
    f->dev.ops->state_save(&f->dev, blob);
    assert_int_equal(blob[7], 1);
    vdev_net_set_link(&f->dev, true);
    assert_int_equal(vmmio_read(f->m, soff, 2), VIRTIO_NET_S_LINK_UP);
    assert_int_equal(st(f).link_changes, 2);
    assert_null(f->dev.ops->state_check(&f->dev, blob, n));
    f->dev.ops->state_load(&f->dev, blob, n);
    assert_false(vdev_net_link_up(&f->dev));
    assert_int_equal(vmmio_read(f->m, soff, 2), 0);
    blob[7] = 2;
    assert_string_equal(f->dev.ops->state_check(&f->dev, blob, n), "net link flag neither 0 nor 1");
    free(blob);
}

/* ------------------------------------------------------- driver vs model */

static void fill(uint8_t *b, size_t n, unsigned seed)
{
    size_t i;

    for (i = 0; i < n; i++)
        b[i] = (uint8_t)(seed * 31 + i * 13 + (i >> 7));
}

static void test_drv_mrg_mtu(void **state)
{
    struct env *e = *state;
    struct virtio_net *net = NULL;
    static uint8_t frame[VIRTIO_NET_MAX_FRAME_CAP], got[VIRTIO_NET_MAX_FRAME_CAP];
    static const size_t lens[] = {BIG, RXB - HDR, RXB - HDR + 1, 60, BIG - 100, BIG - 1, 14};
    unsigned i, round;

    assert_int_equal(vdev_net_create(&e->lb.vd, &e->mem, NULL), 0);
    lb_attach("lnet0");
    assert_int_equal(virtio_net_probe(e->lb.dev, &net), 0);
    assert_true(virtio_has_feature(e->lb.dev, VIRTIO_NET_F_MRG_RXBUF));
    assert_true(virtio_has_feature(e->lb.dev, VIRTIO_NET_F_MTU));
    assert_int_equal(virtio_net_mtu(net), VDEV_NET_DEFAULT_MTU);
    assert_int_equal(virtio_net_max_frame(net), BIG);
    for (round = 0; round < 3; round++) {
        for (i = 0; i < sizeof(lens) / sizeof(lens[0]); i++) {
            fill(frame, lens[i], round * 10 + i);
            assert_int_equal(virtio_net_send(net, frame, lens[i]), 0);
            assert_int_equal(virtio_net_recv(net, got, sizeof(got), VIRTIO_NET_TIMEOUT_NS),
                             (int)lens[i]);
            assert_memory_equal(got, frame, lens[i]);
        }
    }
    /* Many big frames queued before receiving: more buffers than posted
     * at once; order and content kept. */
    for (i = 0; i < 40; i++) {
        fill(frame, BIG, 100 + i);
        assert_int_equal(virtio_net_send(net, frame, BIG), 0);
    }
    for (i = 0; i < 40; i++) {
        fill(frame, BIG, 100 + i);
        assert_int_equal(virtio_net_recv(net, got, sizeof(got), VIRTIO_NET_TIMEOUT_NS), (int)BIG);
        assert_memory_equal(got, frame, BIG);
    }
    assert_int_equal(virtio_net_get_stats(net)->rx_merged, 3 * 4 + 40);
    /* 5.1.4.2: not above mtu + 14. */
    assert_int_equal(virtio_net_send(net, frame, BIG + 1), -EINVAL);
    /* Larger than the caller's buffer: dropped (all its buffers), reported,
     * and the next frame is intact. */
    fill(frame, BIG, 7);
    assert_int_equal(virtio_net_send(net, frame, BIG), 0);
    assert_int_equal(virtio_net_recv(net, got, 1514, VIRTIO_NET_TIMEOUT_NS), -EMSGSIZE);
    fill(frame, 100, 8);
    assert_int_equal(virtio_net_send(net, frame, 100), 0);
    assert_int_equal(virtio_net_recv(net, got, sizeof(got), VIRTIO_NET_TIMEOUT_NS), 100);
    assert_memory_equal(got, frame, 100);
    assert_int_equal(virtio_net_get_stats(net)->rx_bad_mrg, 0);
    /* Reset + re-init: still merging. */
    assert_int_equal(virtio_net_reinit(net), 0);
    fill(frame, BIG, 9);
    assert_int_equal(virtio_net_send(net, frame, BIG), 0);
    assert_int_equal(virtio_net_recv(net, got, sizeof(got), VIRTIO_NET_TIMEOUT_NS), (int)BIG);
    assert_memory_equal(got, frame, BIG);
    virtio_net_remove(net);
}

/* Without MRG_RXBUF offered (the model's MTU only) the driver posts
 * buffers for a whole frame (5.1.6.3.1) and a BIG frame still arrives. */
static void test_drv_no_mrg(void **state)
{
    struct env *e = *state;
    struct virtio_net *net = NULL;
    static uint8_t frame[BIG], got[BIG];

    assert_int_equal(vdev_net_create(&e->lb.vd, &e->mem, NULL), 0);
    e->lb.vd.avail_features &= ~(1ull << VIRTIO_NET_F_MRG_RXBUF);
    lb_attach("lnet0");
    assert_int_equal(virtio_net_probe(e->lb.dev, &net), 0);
    assert_false(virtio_has_feature(e->lb.dev, VIRTIO_NET_F_MRG_RXBUF));
    fill(frame, BIG, 3);
    assert_int_equal(virtio_net_send(net, frame, BIG), 0);
    assert_int_equal(virtio_net_recv(net, got, sizeof(got), VIRTIO_NET_TIMEOUT_NS), (int)BIG);
    assert_memory_equal(got, frame, BIG);
    assert_int_equal(virtio_net_get_stats(net)->rx_merged, 0);
    virtio_net_remove(net);
}

static void lie_fn(struct vdev *d, void *arg)
{
    vdev_net_lie_num_buffers(d, *(uint16_t *)arg);
}

static void send_lie(struct env *e, struct virtio_net *net, uint16_t nb, size_t len, unsigned seed)
{
    static uint8_t frame[BIG];

    vmmio_run_locked(e->lb.m, lie_fn, &nb);
    fill(frame, len, seed);
    assert_int_equal(virtio_net_send(net, frame, len), 0);
}

static void expect_frame(struct virtio_net *net, size_t len, unsigned seed)
{
    static uint8_t frame[BIG], got[BIG];

    fill(frame, len, seed);
    assert_int_equal(virtio_net_recv(net, got, sizeof(got), VIRTIO_NET_TIMEOUT_NS), (int)len);
    assert_memory_equal(got, frame, len);
}

/* Untrusted num_buffers (5.1.6.4 is the device's word): 0, more than we
 * ever posted, a frame that grows past mtu + 14, a frame whose buffers
 * never all come: each dropped and counted, the buffers re-posted, and the
 * next frame intact. */
static void test_drv_bad_num_buffers(void **state)
{
    struct env *e = *state;
    struct virtio_net *net = NULL;
    static uint8_t got[BIG];
    const struct virtio_net_stats *s;

    assert_int_equal(vdev_net_create(&e->lb.vd, &e->mem, NULL), 0);
    lb_attach("lnet0");
    assert_int_equal(virtio_net_probe(e->lb.dev, &net), 0);
    s = virtio_net_get_stats(net);
    send_lie(e, net, 0, 60, 1);
    send_lie(e, net, 0xffff, 60, 2);
    fill(got, 70, 3);
    assert_int_equal(virtio_net_send(net, got, 70), 0);
    expect_frame(net, 70, 3);
    assert_int_equal(s->rx_bad_mrg, 2);
    /* BIG claims 3 buffers: the next frame's buffer is taken as its third
     * and the total passes mtu + 14: dropped. */
    send_lie(e, net, 3, BIG, 4);
    fill(got, 60, 5);
    assert_int_equal(virtio_net_send(net, got, 60), 0);
    fill(got, 80, 6);
    assert_int_equal(virtio_net_send(net, got, 80), 0);
    expect_frame(net, 80, 6);
    assert_int_equal(s->rx_bad_mrg, 3);
    /* Claims 2 for one buffer and nothing follows: recv gives up at its
     * timeout; the missing buffer, when it comes, is skipped. */
    send_lie(e, net, 2, 60, 7);
    assert_int_equal(virtio_net_recv(net, got, sizeof(got), 100000000ull), -ETIMEDOUT);
    fill(got, 61, 8);
    assert_int_equal(virtio_net_send(net, got, 61), 0);
    fill(got, 62, 9);
    assert_int_equal(virtio_net_send(net, got, 62), 0);
    expect_frame(net, 62, 9);
    assert_int_equal(s->rx_frames, 3); /* 70, 80, 62 */
    virtio_net_remove(net);
}

static void link_fn(struct vdev *d, void *arg)
{
    vdev_net_set_link(d, *(bool *)arg);
}

static void wait_link_changes(struct virtio_net *net, uint64_t n)
{
    unsigned spins;

    /* The config interrupt is delivered by the device thread; wait for
     * the event (bounded), not for a time. */
    for (spins = 0; spins < 10000000 && virtio_net_get_stats(net)->link_changes < n; spins++)
        sched_yield();
    assert_int_equal(virtio_net_get_stats(net)->link_changes, n);
}

static void test_drv_link(void **state)
{
    struct env *e = *state;
    struct virtio_net *net = NULL;
    bool up = false;

    assert_int_equal(vdev_net_create(&e->lb.vd, &e->mem, NULL), 0);
    lb_attach("lnet0");
    assert_int_equal(virtio_net_probe(e->lb.dev, &net), 0);
    assert_true(virtio_net_is_link_up(net));
    vmmio_run_locked(e->lb.m, link_fn, &up);
    wait_link_changes(net, 1);
    assert_false(virtio_net_is_link_up(net));
    up = true;
    vmmio_run_locked(e->lb.m, link_fn, &up);
    wait_link_changes(net, 2);
    assert_true(virtio_net_is_link_up(net));
    virtio_net_remove(net);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_dev_config, setup_dev, teardown_dev),
        cmocka_unit_test_setup_teardown(test_dev_mrg_spread, setup_dev, teardown_dev),
        cmocka_unit_test_setup_teardown(test_dev_mrg_dry_ring, setup_dev, teardown_dev),
        cmocka_unit_test_setup_teardown(test_dev_mrg_bad_chain_mid_frame, setup_dev, teardown_dev),
        cmocka_unit_test_setup_teardown(test_dev_mrg_short_chain, setup_dev, teardown_dev),
        cmocka_unit_test_setup_teardown(test_dev_mrg_ring_too_small, setup_dev, teardown_dev),
        cmocka_unit_test_setup_teardown(test_dev_mtu, setup_dev, teardown_dev),
        cmocka_unit_test_setup_teardown(test_dev_no_mrg_big_frame, setup_dev, teardown_dev),
        cmocka_unit_test_setup_teardown(test_dev_link, setup_dev, teardown_dev),
        MODE_TESTS(test_drv_mrg_mtu),
        MODE_TESTS(test_drv_no_mrg),
        MODE_TESTS(test_drv_link),
        MODE_TESTS(test_drv_bad_num_buffers),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
