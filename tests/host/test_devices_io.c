/* SPDX-License-Identifier: Apache-2.0 */
/*
 * test_devices_io.c - cmocka tests of the rng and net device models
 * (hostsim/dev_*.c) driven through the virtio-mmio register file by the
 * real driver virtqueue (tests/host/dev_fixture.c): rng against a reference
 * splitmix64 written here, net byte for byte. blk is in test_devices.c,
 * console and pmem in test_devices_con.c.
 *
 * TEST_FILTER='test_net_*' runs only the matching cases.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <pthread.h>
#include <sched.h>

#include "dev_fixture.h"
#include "vdev_models.h"
#include "virtio_mmio.h"
#include "virtio_platform.h"

static struct dev_fixture fixture;

/* ------------------------------------------------------------------ rng */

#define RNG_SEED 0x1234u

static int setup_rng(void **state)
{
    struct dev_fixture *f = &fixture;

    dfx_arena(f);
    assert_int_equal(vdev_rng_create(&f->dev, &f->fx.mem, RNG_SEED), 0);
    dfx_attach(f);
    *state = f;
    return 0;
}

/* Reference stream, written from the description in vdev_models.h:
 * splitmix64 words, each as 8 little-endian bytes. */
static void rng_ref(uint64_t seed, uint8_t *out, size_t len)
{
    uint64_t s = seed;
    size_t i;

    for (i = 0; i < len; i += 8) {
        uint64_t z;
        unsigned b;

        s += 0x9e3779b97f4a7c15ull;
        z = s;
        z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
        z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
        z ^= z >> 31;
        for (b = 0; b < 8 && i + b < len; b++)
            out[i + b] = (uint8_t)(z >> (8 * b));
    }
}

static void test_rng_known_answer(void **state)
{
    /* Computed independently in Python (the same lines pytest will use):
     * seed 0 -> first word 0xe220a8397b1dcdaf. */
    static const uint8_t seed0[16] = {0xaf, 0xcd, 0x1d, 0x7b, 0x39, 0xa8, 0x20, 0xe2,
                                      0xf4, 0x65, 0xb9, 0xa1, 0x6a, 0x9e, 0x78, 0x6e};
    static const uint8_t seed1234[8] = {0x88, 0x38, 0xe2, 0xd5, 0x87, 0x2f, 0x64, 0x5f};
    uint8_t b[16];

    (void)state;
    rng_ref(0, b, 16);
    assert_memory_equal(b, seed0, 16);
    rng_ref(0x1234, b, 8);
    assert_memory_equal(b, seed1234, 8);
}

static void test_rng_bytes(void **state)
{
    struct dev_fixture *f = *state;
    static const uint32_t sizes[] = {1, 3, 8, 13, 64, 1000, 4096, 7};
    size_t total = 0, i;
    uint8_t *ref = malloc(8192);
    struct vdev_rng_state st;

    assert_non_null(ref);
    rng_ref(RNG_SEED, ref, 8192);
    assert_int_equal(dfx_rd(f, VIRTIO_MMIO_DEVICE_ID), VIRTIO_ID_RNG);
    assert_int_equal(vmmio_read(f->m, VIRTIO_MMIO_CONFIG, 1), 0); /* no config */
    dfx_start(f, dfx_device_features(f), 8);
    for (i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
        uint8_t *buf = dfx_galloc(f, sizes[i]);
        struct vq_sg sg = {.buf = buf, .len = sizes[i]};

        dfx_submit(f, 0, &sg, 0, 1, buf);
        assert_int_equal(dfx_used(f, 0, buf), sizes[i]);
        assert_memory_equal(buf, ref + total, sizes[i]);
        total += sizes[i];
    }
    /* A chain split over several writable segments: the stream flows on. */
    {
        uint8_t *a = dfx_galloc(f, 5), *b = dfx_galloc(f, 11);
        struct vq_sg sg[2] = {{.buf = a, .len = 5}, {.buf = b, .len = 11}};

        dfx_submit(f, 0, sg, 0, 2, a);
        assert_int_equal(dfx_used(f, 0, a), 16);
        assert_memory_equal(a, ref + total, 5);
        assert_memory_equal(b, ref + total + 5, 11);
        total += 16;
    }
    vdev_rng_get_state(&f->dev, &st);
    assert_true(st.produced == total);
    /* Reset does not replay the stream. */
    dfx_start(f, dfx_no_event_idx(f), 4);
    {
        uint8_t *buf = dfx_galloc(f, 32);
        struct vq_sg sg = {.buf = buf, .len = 32};

        dfx_submit(f, 0, &sg, 0, 1, buf);
        assert_int_equal(dfx_used(f, 0, buf), 32);
        assert_memory_equal(buf, ref + total, 32);
    }
    free(ref);
}

static void test_rng_bad_and_state(void **state)
{
    struct dev_fixture *f = *state;
    uint8_t *buf = dfx_galloc(f, 16), ref[16];
    struct vq_sg sg = {.buf = buf, .len = 16};
    struct vdev_rng_state st;

    dfx_start(f, dfx_device_features(f), 8);
    /* Readable only: nothing to fill. */
    dfx_submit(f, 0, &sg, 1, 0, buf);
    assert_int_equal(dfx_used(f, 0, buf), 0);
    assert_true(f->dev.queues[0].stats.bad_chains == 1);
    /* Save the state, draw, restore, draw again: same bytes. */
    vdev_rng_get_state(&f->dev, &st);
    dfx_submit(f, 0, &sg, 0, 1, buf);
    assert_int_equal(dfx_used(f, 0, buf), 16);
    memcpy(ref, buf, 16);
    vdev_rng_set_state(&f->dev, &st);
    memset(buf, 0, 16);
    dfx_submit(f, 0, &sg, 0, 1, buf);
    assert_int_equal(dfx_used(f, 0, buf), 16);
    assert_memory_equal(buf, ref, 16);
}

/* 5.4.6: the request is a device-writable buffer. One with readable
 * buffers gets nothing, and the stream does not move. */
static void test_rng_wrong_direction(void **state)
{
    struct dev_fixture *f = *state;
    uint8_t *in = dfx_galloc(f, 8), *buf = dfx_galloc(f, 16), ref[16];
    struct vq_sg sg[2] = {{.buf = in, .len = 8}, {.buf = buf, .len = 16}};

    dfx_start(f, dfx_device_features(f), 8);
    memset(in, 0x11, 8);
    memset(buf, 0, 16);
    dfx_submit(f, 0, sg, 1, 1, buf);
    assert_int_equal(dfx_used(f, 0, buf), 0);
    dfx_assert_all(buf, 0, 16);
    dfx_assert_all(in, 0x11, 8);
    assert_true(f->dev.queues[0].stats.bad_chains == 1);
    assert_true(f->dev.queues[0].stats.requests == 0);
    /* The first good request gets the first bytes of the stream. */
    rng_ref(RNG_SEED, ref, 16);
    dfx_submit(f, 0, sg + 1, 0, 1, buf);
    assert_int_equal(dfx_used(f, 0, buf), 16);
    assert_memory_equal(buf, ref, 16);
}

/* ------------------------------------------------------------------ net */

static int setup_net(void **state)
{
    struct dev_fixture *f = &fixture;

    dfx_arena(f);
    assert_int_equal(vdev_net_create(&f->dev, &f->fx.mem, NULL), 0);
    dfx_attach(f);
    *state = f;
    return 0;
}

#define NET_RX_BUF 2048

/* These cases test the one-buffer receive path (5.1.6.3.1 without
 * MRG_RXBUF) and no MTU limit: the device's features without those two
 * (test_net_features.c covers them); no_evt: without EVENT_IDX too. */
static uint64_t net_plain(struct dev_fixture *f, int no_evt)
{
    uint64_t feat = dfx_device_features(f) &
                    ~((1ull << VIRTIO_NET_F_MRG_RXBUF) | (1ull << VIRTIO_NET_F_MTU));

    return no_evt ? feat & ~(1ull << VIRTIO_F_EVENT_IDX) : feat;
}

static struct vdev_net_stats net_stats(struct dev_fixture *f)
{
    struct vdev_net_stats st;

    vdev_net_get_stats(&f->dev, &st);
    return st;
}

/* Post one RX buffer of len bytes; returns it. */
static uint8_t *net_post_rx(struct dev_fixture *f, uint32_t len)
{
    uint8_t *b = dfx_galloc(f, len);
    struct vq_sg sg = {.buf = b, .len = len};

    assert_int_equal(vq_add_sgs(f->vq[VIRTIO_NET_RXQ], &sg, 0, 1, b), 0);
    return b;
}

/* Send a frame of len bytes of value v (header + frame as 2 segments). */
static void net_send(struct dev_fixture *f, uint32_t len, uint8_t v)
{
    struct virtio_net_hdr *h = dfx_galloc(f, sizeof(*h));
    uint8_t *fr = dfx_galloc(f, len ? len : 1);
    struct vq_sg sg[2] = {{.buf = h, .len = sizeof(*h)}, {.buf = fr, .len = len}};

    memset(fr, v, len);
    dfx_submit(f, VIRTIO_NET_TXQ, sg, len ? 2 : 1, 0, h);
    assert_int_equal(dfx_used(f, VIRTIO_NET_TXQ, h), 0);
}

/* Expect the next RX completion to be buf holding a len-byte frame of v. */
static void net_expect_rx(struct dev_fixture *f, uint8_t *buf, uint32_t len, uint8_t v)
{
    struct virtio_net_hdr h;
    uint32_t i;

    assert_int_equal(dfx_used(f, VIRTIO_NET_RXQ, buf), sizeof(h) + len);
    memcpy(&h, buf, sizeof(h));
    assert_int_equal(h.num_buffers, 1);
    assert_int_equal(h.flags, 0);
    assert_int_equal(h.gso_type, VIRTIO_NET_HDR_GSO_NONE);
    for (i = 0; i < len; i++)
        assert_int_equal(buf[sizeof(h) + i], v);
}

static void test_net_config(void **state)
{
    struct dev_fixture *f = *state;
    uint64_t feat = dfx_device_features(f);
    static const uint8_t mac[6] = VDEV_NET_DEFAULT_MAC;
    unsigned i;

    assert_int_equal(dfx_rd(f, VIRTIO_MMIO_DEVICE_ID), VIRTIO_ID_NET);
    assert_true(feat & (1ull << VIRTIO_NET_F_MAC));
    assert_true(feat & (1ull << VIRTIO_NET_F_STATUS));
    assert_true(feat & (1ull << VIRTIO_NET_F_MRG_RXBUF));
    assert_true(feat & (1ull << VIRTIO_NET_F_MTU));
    assert_int_equal(vmmio_read(f->m, VIRTIO_MMIO_CONFIG + 10, 2), VDEV_NET_DEFAULT_MTU);
    for (i = 0; i < 6; i++)
        assert_int_equal(vmmio_read(f->m, VIRTIO_MMIO_CONFIG + i, 1), mac[i]);
    assert_int_equal(vmmio_read(f->m, VIRTIO_MMIO_CONFIG + 6, 2), VIRTIO_NET_S_LINK_UP);
}

static void test_net_loop(void **state)
{
    struct dev_fixture *f = *state;
    uint8_t *rx[3];
    int i;

    dfx_start(f, net_plain(f, 0), 16);
    for (i = 0; i < 3; i++)
        rx[i] = net_post_rx(f, NET_RX_BUF);
    assert_int_equal(vq_kick(f->vq[VIRTIO_NET_RXQ]), 0);
    vmmio_process(f->m);
    net_send(f, 60, 0x11);
    net_expect_rx(f, rx[0], 60, 0x11);
    net_send(f, 1514, 0x22);
    net_expect_rx(f, rx[1], 1514, 0x22);
    net_send(f, 0, 0); /* header only: an empty frame */
    net_expect_rx(f, rx[2], 0, 0);
    assert_true(net_stats(f).rx_frames == 3);
    assert_true(net_stats(f).tx_frames == 3);
    assert_true(net_stats(f).rx_bytes == 1574);
}

static void net_backlog(struct dev_fixture *f, uint64_t features)
{
    uint8_t *rx[VDEV_NET_BACKLOG];
    int i;

    dfx_start(f, features, 128);
    /* No RX buffers: frames wait. */
    for (i = 0; i < 10; i++)
        net_send(f, 100 + i, (uint8_t)i);
    assert_int_equal(vdev_net_backlog_len(&f->dev), 10);
    /* The driver refills and kicks receiveq: the backlog comes out in order. */
    for (i = 0; i < 4; i++)
        rx[i] = net_post_rx(f, NET_RX_BUF);
    assert_true(vq_kick_prepare(f->vq[VIRTIO_NET_RXQ])); /* the device asked for it */
    assert_int_equal(vq_notify(f->vq[VIRTIO_NET_RXQ]), 0);
    vmmio_process(f->m);
    for (i = 0; i < 4; i++)
        net_expect_rx(f, rx[i], 100 + i, (uint8_t)i);
    assert_int_equal(vdev_net_backlog_len(&f->dev), 6);
    for (i = 0; i < 6; i++)
        rx[i] = net_post_rx(f, NET_RX_BUF);
    assert_true(vq_kick_prepare(f->vq[VIRTIO_NET_RXQ]));
    assert_int_equal(vq_notify(f->vq[VIRTIO_NET_RXQ]), 0);
    vmmio_process(f->m);
    for (i = 0; i < 6; i++)
        net_expect_rx(f, rx[i], 104 + i, (uint8_t)(4 + i));
    assert_int_equal(vdev_net_backlog_len(&f->dev), 0);
}

static void test_net_backlog(void **state)
{
    struct dev_fixture *f = *state;

    net_backlog(f, net_plain(f, 0));
    net_backlog(f, net_plain(f, 1));
    assert_true(net_stats(f).backlog_max == 10);
    assert_true(net_stats(f).dropped == 0);
}

static void test_net_backlog_overflow(void **state)
{
    struct dev_fixture *f = *state;
    uint8_t *rx;
    int i;

    dfx_start(f, net_plain(f, 0), 128);
    for (i = 0; i < VDEV_NET_BACKLOG + 5; i++)
        net_send(f, 64, (uint8_t)i);
    assert_int_equal(vdev_net_backlog_len(&f->dev), VDEV_NET_BACKLOG);
    assert_true(net_stats(f).dropped == 5);
    /* The oldest frames were kept. */
    rx = net_post_rx(f, NET_RX_BUF);
    assert_int_equal(vq_kick(f->vq[VIRTIO_NET_RXQ]), 0);
    vmmio_process(f->m);
    net_expect_rx(f, rx, 64, 0);
    /* Reset drops the rest (and frees them: ASan checks). */
    dfx_start(f, net_plain(f, 0), 8);
    assert_int_equal(vdev_net_backlog_len(&f->dev), 0);
}

/* Big frames: the byte bound of the backlog, and frames wrapping around
 * the end of the byte ring come out intact. */
static void test_net_big_frames_wrap(void **state)
{
    struct dev_fixture *f = *state;
    const uint32_t big = 60000, rxlen = big + 64;
    uint8_t *rx[6];
    int i;

    dfx_start(f, net_plain(f, 0), 16);
    for (i = 0; i < 5; i++)
        net_send(f, big, (uint8_t)(0x30 + i));
    assert_int_equal(vdev_net_backlog_len(&f->dev), 4); /* 4 * 60000 fit in 256 KiB */
    assert_true(net_stats(f).dropped == 1);
    for (i = 0; i < 2; i++)
        rx[i] = net_post_rx(f, rxlen);
    assert_int_equal(vq_kick(f->vq[VIRTIO_NET_RXQ]), 0);
    vmmio_process(f->m);
    net_expect_rx(f, rx[0], big, 0x30);
    net_expect_rx(f, rx[1], big, 0x31);
    /* These two wrap around the end of the ring. */
    net_send(f, big, 0x40);
    net_send(f, big, 0x41);
    assert_int_equal(vdev_net_backlog_len(&f->dev), 4);
    for (i = 2; i < 6; i++)
        rx[i] = net_post_rx(f, rxlen);
    assert_int_equal(vq_kick(f->vq[VIRTIO_NET_RXQ]), 0);
    vmmio_process(f->m);
    net_expect_rx(f, rx[2], big, 0x32);
    net_expect_rx(f, rx[3], big, 0x33);
    net_expect_rx(f, rx[4], big, 0x40);
    net_expect_rx(f, rx[5], big, 0x41);
    /* Too big for the device at all. */
    net_send(f, VDEV_NET_MAX_FRAME + 1, 0x50);
    assert_true(net_stats(f).dropped == 2);
    assert_int_equal(vdev_net_backlog_len(&f->dev), 0);
}

static void test_net_bad_chains(void **state)
{
    struct dev_fixture *f = *state;
    uint8_t *small, *ok, *hdr = dfx_galloc(f, 8);
    struct vq_sg sg = {.buf = hdr, .len = 8};

    dfx_start(f, net_plain(f, 0), 16);
    /* TX shorter than the header. */
    dfx_submit(f, VIRTIO_NET_TXQ, &sg, 1, 0, hdr);
    assert_int_equal(dfx_used(f, VIRTIO_NET_TXQ, hdr), 0);
    assert_true(net_stats(f).bad == 1);
    assert_int_equal(vdev_net_backlog_len(&f->dev), 0);
    /* RX buffer too small for the frame: the frame is dropped, the next
     * frame uses the next buffer. */
    small = net_post_rx(f, 20);
    ok = net_post_rx(f, NET_RX_BUF);
    assert_int_equal(vq_kick(f->vq[VIRTIO_NET_RXQ]), 0);
    vmmio_process(f->m);
    net_send(f, 100, 0xaa);
    net_send(f, 8, 0xbb);
    assert_int_equal(dfx_used(f, VIRTIO_NET_RXQ, small), 0);
    net_expect_rx(f, ok, 8, 0xbb);
    assert_true(net_stats(f).rx_too_small == 1);
    assert_true(f->dev.queues[VIRTIO_NET_RXQ].stats.bad_chains == 1);
}

/* 5.1.6.2 / 5.1.6.3: transmit buffers are device-readable, receive
 * buffers device-writable; the other way round, nothing is sent or
 * received and the chain comes back with len 0, counted as bad. */
static void test_net_wrong_direction(void **state)
{
    struct dev_fixture *f = *state;
    struct virtio_net_hdr *h = dfx_galloc(f, sizeof(*h));
    uint8_t *fr = dfx_galloc(f, 100), *ro = dfx_galloc(f, NET_RX_BUF), *ok;
    struct vq_sg sg[2] = {{.buf = h, .len = sizeof(*h)}, {.buf = fr, .len = 100}};

    dfx_start(f, net_plain(f, 0), 16);
    /* TX whose frame is device-writable. */
    memset(fr, 0x42, 100);
    dfx_submit(f, VIRTIO_NET_TXQ, sg, 1, 1, h);
    assert_int_equal(dfx_used(f, VIRTIO_NET_TXQ, h), 0);
    dfx_assert_all(fr, 0x42, 100);
    assert_true(net_stats(f).bad == 1);
    assert_true(net_stats(f).tx_frames == 0);
    assert_int_equal(vdev_net_backlog_len(&f->dev), 0);
    /* RX: a device-readable buffer first, then a good one: the frame skips
     * the readable one and lands in the good one. */
    memset(ro, 0x99, NET_RX_BUF);
    sg[0] = (struct vq_sg){.buf = ro, .len = NET_RX_BUF};
    assert_int_equal(vq_add_sgs(f->vq[VIRTIO_NET_RXQ], sg, 1, 0, ro), 0);
    ok = net_post_rx(f, NET_RX_BUF);
    assert_int_equal(vq_kick(f->vq[VIRTIO_NET_RXQ]), 0);
    vmmio_process(f->m);
    net_send(f, 30, 0xcc);
    assert_int_equal(dfx_used(f, VIRTIO_NET_RXQ, ro), 0);
    dfx_assert_all(ro, 0x99, NET_RX_BUF);
    net_expect_rx(f, ok, 30, 0xcc);
    assert_true(net_stats(f).bad == 2);
    assert_true(f->dev.queues[VIRTIO_NET_RXQ].stats.bad_chains == 1);
    assert_true(f->dev.queues[VIRTIO_NET_TXQ].stats.bad_chains == 1);
}

/* ------------------------------------------------------------------ main */

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_rng_known_answer),
        cmocka_unit_test_setup_teardown(test_rng_bytes, setup_rng, dfx_teardown_state),
        cmocka_unit_test_setup_teardown(test_rng_bad_and_state, setup_rng, dfx_teardown_state),
        cmocka_unit_test_setup_teardown(test_rng_wrong_direction, setup_rng, dfx_teardown_state),
        cmocka_unit_test_setup_teardown(test_net_config, setup_net, dfx_teardown_state),
        cmocka_unit_test_setup_teardown(test_net_loop, setup_net, dfx_teardown_state),
        cmocka_unit_test_setup_teardown(test_net_backlog, setup_net, dfx_teardown_state),
        cmocka_unit_test_setup_teardown(test_net_backlog_overflow, setup_net, dfx_teardown_state),
        cmocka_unit_test_setup_teardown(test_net_big_frames_wrap, setup_net, dfx_teardown_state),
        cmocka_unit_test_setup_teardown(test_net_bad_chains, setup_net, dfx_teardown_state),
        cmocka_unit_test_setup_teardown(test_net_wrong_direction, setup_net, dfx_teardown_state),
    };

    if (getenv("TEST_FILTER"))
        cmocka_set_test_filter(getenv("TEST_FILTER"));
    return cmocka_run_group_tests_name("devices-io", tests, NULL, NULL);
}
