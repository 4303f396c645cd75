/* SPDX-License-Identifier: Apache-2.0 */
/*
 * test_net_ctrl.c - virtio-net control queue, receive filter and checksum
 * offload (VIRTIO 1.2 5.1.6.5, 5.1.6.2, 5.1.6.4), issue 14, model side:
 *  - the loopback model (hostsim/dev_net.c, dev_net_ctrl.c) by hand-made
 *    chains through the register file (dev_fixture): each RX mode and its
 *    precedence, the two MAC tables and their overflow, MAC_ADDR_SET in
 *    config space, bad commands answered VIRTIO_NET_ERR with the device
 *    still serving, the filter after reset and in the snapshot blob; the
 *    checksum passed through (GUEST_CSUM) or completed (without), bad
 *    offsets dropped;
 *  - the driver side is test_net_ctrl_drv.c.
 * Frames are looped back (the model's TX feeds its RX), so "received" is
 * "the filter let it through".
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

#include "dev_fixture.h"
#include "net_ctrl_util.h"
#include "vdev_models.h"
#include "virtio_mmio.h"
#include "virtio_net.h"
#include "virtio_platform.h"

#define HDR ((uint32_t)sizeof(struct virtio_net_hdr))

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

/* A control command: class, command, dlen bytes of data; returns the ack
 * (asserting the used length is 1). */
static uint8_t ctrl(struct dev_fixture *f, uint8_t cls, uint8_t cmd, const void *data, uint32_t dlen)
{
    uint8_t *c = galloc(f, 2 + dlen), *ack = galloc(f, 1);
    struct vq_sg sg[2] = {{.buf = c, .len = 2 + dlen}, {.buf = ack, .len = 1}};

    c[0] = cls;
    c[1] = cmd;
    if (dlen)
        memcpy(c + 2, data, dlen);
    *ack = 0xee;
    dfx_submit(f, VIRTIO_NET_CTRLQ, sg, 1, 1, c);
    assert_int_equal(dfx_used(f, VIRTIO_NET_CTRLQ, c), 1);
    return *ack;
}

static uint8_t rx_mode(struct dev_fixture *f, uint8_t mode, uint8_t on)
{
    return ctrl(f, VIRTIO_NET_CTRL_RX, mode, &on, 1);
}

/* MAC_TABLE_SET payload: le32 nu, macs, le32 nm, macs. */
static uint32_t table(uint8_t *p, const uint8_t (*u)[6], uint32_t nu, const uint8_t (*m)[6],
                      uint32_t nm)
{
    uint32_t off = 0;

    p[off] = (uint8_t)nu, p[off + 1] = (uint8_t)(nu >> 8), p[off + 2] = p[off + 3] = 0;
    off += 4;
    memcpy(p + off, u, 6u * nu);
    off += 6 * nu;
    p[off] = (uint8_t)nm, p[off + 1] = p[off + 2] = p[off + 3] = 0;
    off += 4;
    memcpy(p + off, m, 6u * nm);
    return off + 6 * nm;
}

/* Transmit frame fr (its destination replaced by dst unless NULL) with
 * the given header; true when the device took it for delivery. */
static bool send_hdr(struct dev_fixture *f, const uint8_t dst[6], const struct virtio_net_hdr *hh,
                     uint8_t *fr, uint32_t len)
{
    struct virtio_net_hdr *h = galloc(f, sizeof(*h));
    uint8_t *b = galloc(f, len);
    struct vq_sg sg[2] = {{.buf = h, .len = HDR}, {.buf = b, .len = len}};
    struct vdev_net_stats s0 = st(f), s1;

    *h = *hh;
    memcpy(b, fr, len);
    if (dst)
        memcpy(b, dst, 6);
    dfx_submit(f, VIRTIO_NET_TXQ, sg, 2, 0, h);
    assert_int_equal(dfx_used(f, VIRTIO_NET_TXQ, h), 0);
    s1 = st(f);
    assert_int_equal(s1.tx_frames, s0.tx_frames + 1);
    /* Taken (into the backlog or straight to an RX buffer) unless the
     * filter or a drop kept it. */
    return s1.rx_filtered == s0.rx_filtered && s1.dropped == s0.dropped;
}

static bool passes(struct dev_fixture *f, const uint8_t dst[6])
{
    static uint8_t fr[60];
    struct virtio_net_hdr h;

    bool want, got;

    memset(&h, 0, sizeof(h));
    memset(fr, 0x42, sizeof(fr));
    want = vdev_net_rx_accepts(&f->dev, dst);
    got = send_hdr(f, dst, &h, fr, sizeof(fr));
    assert_int_equal(want, got); /* the query and the data path agree */
    return got;
}

static void test_dev_offered(void **state)
{
    struct dev_fixture *f = *state;
    uint64_t feat = dfx_device_features(f);
    struct vdev_net_rx_filter flt;

    assert_true(feat & (1ull << VIRTIO_NET_F_CTRL_VQ));
    assert_true(feat & (1ull << VIRTIO_NET_F_CTRL_RX));
    assert_true(feat & (1ull << VIRTIO_NET_F_CTRL_RX_EXTRA));
    assert_true(feat & (1ull << VIRTIO_NET_F_CTRL_MAC_ADDR));
    assert_true(feat & (1ull << VIRTIO_NET_F_CSUM));
    assert_true(feat & (1ull << VIRTIO_NET_F_GUEST_CSUM));
    assert_int_equal(f->dev.ops->num_queues, 3);
    vdev_net_get_rx_filter(&f->dev, &flt);
    assert_int_equal(flt.mode[VIRTIO_NET_CTRL_RX_PROMISC], 1); /* until told otherwise */
    assert_int_equal(flt.n_uni + flt.n_multi, 0);
}

/* 5.1.6.5.1: each mode, and which wins. */
static void test_dev_rx_modes(void **state)
{
    struct dev_fixture *f = *state;

    dfx_start(f, dfx_device_features(f), 64);
    assert_true(passes(f, other_uni)); /* promiscuous after reset */
    assert_int_equal(rx_mode(f, VIRTIO_NET_CTRL_RX_PROMISC, 0), VIRTIO_NET_OK);
    assert_false(passes(f, other_uni));
    assert_true(passes(f, own_mac));
    assert_true(passes(f, bcast));
    assert_false(passes(f, mcast));
    assert_int_equal(st(f).rx_filtered, 2);
    assert_int_equal(rx_mode(f, VIRTIO_NET_CTRL_RX_ALLMULTI, 1), VIRTIO_NET_OK);
    assert_true(passes(f, mcast));
    /* NOMULTI "SHOULD take effect even if ALLMULTI is on", not on broadcast. */
    assert_int_equal(rx_mode(f, VIRTIO_NET_CTRL_RX_NOMULTI, 1), VIRTIO_NET_OK);
    assert_false(passes(f, mcast));
    assert_true(passes(f, bcast));
    assert_int_equal(rx_mode(f, VIRTIO_NET_CTRL_RX_NOBCAST, 1), VIRTIO_NET_OK);
    assert_false(passes(f, bcast));
    assert_int_equal(rx_mode(f, VIRTIO_NET_CTRL_RX_ALLUNI, 1), VIRTIO_NET_OK);
    assert_true(passes(f, other_uni));
    /* NOUNI wins over ALLUNI and drops even our own mac. */
    assert_int_equal(rx_mode(f, VIRTIO_NET_CTRL_RX_NOUNI, 1), VIRTIO_NET_OK);
    assert_false(passes(f, other_uni));
    assert_false(passes(f, own_mac));
    /* PROMISC "SHOULD take effect even if one of the other modes ... is on". */
    assert_int_equal(rx_mode(f, VIRTIO_NET_CTRL_RX_PROMISC, 1), VIRTIO_NET_OK);
    assert_true(passes(f, own_mac));
    assert_true(passes(f, mcast));
    assert_true(passes(f, bcast));
    assert_int_equal(st(f).ctrl_ok, 7);
    assert_int_equal(st(f).ctrl_err, 0);
    /* A reset puts everything back (promiscuous, tables empty). */
    dfx_start(f, dfx_device_features(f), 64);
    assert_true(passes(f, other_uni));
    {
        struct vdev_net_rx_filter flt;

        vdev_net_get_rx_filter(&f->dev, &flt);
        assert_int_equal(flt.mode[VIRTIO_NET_CTRL_RX_NOUNI], 0);
    }
}

/* 5.1.6.5.2: both tables; more than VDEV_NET_MAC_TABLE entries overflow. */
static void test_dev_mac_table(void **state)
{
    struct dev_fixture *f = *state;
    static uint8_t p[2 * (4 + 6 * 70)], many[70][6];
    static const uint8_t m2[6] = {0x33, 0x33, 0, 0, 0, 1};
    const uint8_t(*u)[6] = &other_uni, (*m)[6] = &mcast;
    struct vdev_net_rx_filter flt;
    uint32_t n, i;

    dfx_start(f, dfx_device_features(f), 64);
    assert_int_equal(rx_mode(f, VIRTIO_NET_CTRL_RX_PROMISC, 0), VIRTIO_NET_OK);
    n = table(p, u, 1, m, 1);
    assert_int_equal(ctrl(f, VIRTIO_NET_CTRL_MAC, VIRTIO_NET_CTRL_MAC_TABLE_SET, p, n), VIRTIO_NET_OK);
    assert_true(passes(f, other_uni));
    assert_true(passes(f, mcast));
    assert_true(passes(f, own_mac)); /* the station mac stays */
    assert_false(passes(f, m2));
    {
        uint8_t u2[6] = {0x02, 0, 0, 0, 0, 0x78};

        assert_false(passes(f, u2));
    }
    vdev_net_get_rx_filter(&f->dev, &flt);
    assert_int_equal(flt.n_uni, 1);
    assert_int_equal(flt.n_multi, 1);
    assert_memory_equal(flt.uni[0], other_uni, 6);
    /* 70 unicast entries: overflow, every unicast passes. */
    for (i = 0; i < 70; i++) {
        many[i][0] = 0x02;
        many[i][5] = (uint8_t)i;
    }
    n = table(p, (const uint8_t(*)[6])many, 70, m, 0);
    assert_int_equal(ctrl(f, VIRTIO_NET_CTRL_MAC, VIRTIO_NET_CTRL_MAC_TABLE_SET, p, n), VIRTIO_NET_OK);
    vdev_net_get_rx_filter(&f->dev, &flt);
    assert_int_equal(flt.uni_overflow, 1);
    assert_int_equal(flt.n_uni, VDEV_NET_MAC_TABLE);
    assert_true(passes(f, other_uni));
    assert_false(passes(f, mcast)); /* the multicast table is now empty */
    /* Both empty: back to the station mac only. */
    n = table(p, u, 0, m, 0);
    assert_int_equal(ctrl(f, VIRTIO_NET_CTRL_MAC, VIRTIO_NET_CTRL_MAC_TABLE_SET, p, n), VIRTIO_NET_OK);
    assert_false(passes(f, other_uni));
    assert_true(passes(f, own_mac));
}

/* MAC_ADDR_SET: config space shows it before the command is used; the
 * filter follows; a reset brings back the create-time mac. */
static void test_dev_mac_addr_set(void **state)
{
    struct dev_fixture *f = *state;
    static const uint8_t nm[6] = {0x02, 0x11, 0x22, 0x33, 0x44, 0x55};
    uint8_t cfg[6];
    unsigned i;

    dfx_start(f, dfx_device_features(f), 64);
    assert_int_equal(rx_mode(f, VIRTIO_NET_CTRL_RX_PROMISC, 0), VIRTIO_NET_OK);
    assert_int_equal(ctrl(f, VIRTIO_NET_CTRL_MAC, VIRTIO_NET_CTRL_MAC_ADDR_SET, nm, 6), VIRTIO_NET_OK);
    for (i = 0; i < 6; i++)
        cfg[i] = (uint8_t)vmmio_read(f->m, VIRTIO_MMIO_CONFIG + i, 1);
    assert_memory_equal(cfg, nm, 6);
    assert_true(passes(f, nm));
    assert_false(passes(f, own_mac));
    /* A group address or a wrong length: ERR, mac unchanged. */
    assert_int_equal(ctrl(f, VIRTIO_NET_CTRL_MAC, VIRTIO_NET_CTRL_MAC_ADDR_SET, mcast, 6),
                     VIRTIO_NET_ERR);
    assert_int_equal(ctrl(f, VIRTIO_NET_CTRL_MAC, VIRTIO_NET_CTRL_MAC_ADDR_SET, nm, 5),
                     VIRTIO_NET_ERR);
    vdev_net_get_mac(&f->dev, cfg);
    assert_memory_equal(cfg, nm, 6);
    dfx_start(f, dfx_device_features(f), 64);
    vdev_net_get_mac(&f->dev, cfg);
    assert_memory_equal(cfg, own_mac, 6);
}

/* Bad commands: ERR and nothing changed; chains that cannot be answered
 * are returned empty; the queue keeps serving after each. */
static void test_dev_ctrl_bad_input(void **state)
{
    struct dev_fixture *f = *state;
    static uint8_t p[64];
    const uint8_t(*u)[6] = &other_uni, (*m)[6] = &mcast;
    struct vdev_net_rx_filter flt;
    uint8_t two = 2, pair[2] = {0, 0};
    uint32_t n;

    dfx_start(f, dfx_device_features(f), 64);
    n = table(p, u, 1, m, 1);
    assert_int_equal(ctrl(f, VIRTIO_NET_CTRL_MAC, VIRTIO_NET_CTRL_MAC_TABLE_SET, p, n), VIRTIO_NET_OK);
    /* Short / long / out-of-range payloads for an RX mode. */
    assert_int_equal(ctrl(f, VIRTIO_NET_CTRL_RX, VIRTIO_NET_CTRL_RX_PROMISC, NULL, 0), VIRTIO_NET_ERR);
    assert_int_equal(ctrl(f, VIRTIO_NET_CTRL_RX, VIRTIO_NET_CTRL_RX_PROMISC, pair, 2), VIRTIO_NET_ERR);
    assert_int_equal(ctrl(f, VIRTIO_NET_CTRL_RX, VIRTIO_NET_CTRL_RX_PROMISC, &two, 1), VIRTIO_NET_ERR);
    /* Unknown class / command. */
    assert_int_equal(ctrl(f, 9, 0, &two, 1), VIRTIO_NET_ERR);
    assert_int_equal(rx_mode(f, 6, 1), VIRTIO_NET_ERR);
    assert_int_equal(ctrl(f, VIRTIO_NET_CTRL_MAC, 2, own_mac, 6), VIRTIO_NET_ERR);
    /* Table entries counted past the payload; a payload cut inside the
     * second count; bytes after the tables; a multicast address in the
     * unicast table and the other way round. */
    n = table(p, u, 1, m, 1);
    p[0] = 5;
    assert_int_equal(ctrl(f, VIRTIO_NET_CTRL_MAC, VIRTIO_NET_CTRL_MAC_TABLE_SET, p, n), VIRTIO_NET_ERR);
    p[0] = 0xff, p[3] = 0xff; /* 0xff0000ff entries: 6 x count overflows 32 bits */
    assert_int_equal(ctrl(f, VIRTIO_NET_CTRL_MAC, VIRTIO_NET_CTRL_MAC_TABLE_SET, p, n), VIRTIO_NET_ERR);
    n = table(p, u, 1, m, 0);
    assert_int_equal(ctrl(f, VIRTIO_NET_CTRL_MAC, VIRTIO_NET_CTRL_MAC_TABLE_SET, p, n - 2), VIRTIO_NET_ERR);
    assert_int_equal(ctrl(f, VIRTIO_NET_CTRL_MAC, VIRTIO_NET_CTRL_MAC_TABLE_SET, p, n + 1), VIRTIO_NET_ERR);
    n = table(p, m, 1, m, 0);
    assert_int_equal(ctrl(f, VIRTIO_NET_CTRL_MAC, VIRTIO_NET_CTRL_MAC_TABLE_SET, p, n), VIRTIO_NET_ERR);
    n = table(p, u, 0, u, 1);
    assert_int_equal(ctrl(f, VIRTIO_NET_CTRL_MAC, VIRTIO_NET_CTRL_MAC_TABLE_SET, p, n), VIRTIO_NET_ERR);
    vdev_net_get_rx_filter(&f->dev, &flt);
    assert_int_equal(flt.n_uni, 1); /* the good table is still there */
    assert_int_equal(flt.n_multi, 1);
    assert_int_equal(flt.mode[VIRTIO_NET_CTRL_RX_PROMISC], 1);
    assert_int_equal(st(f).ctrl_err, 12);
    {
        /* Only the class byte: ERR, and a bad chain. */
        uint8_t *c = galloc(f, 1), *ack = galloc(f, 1);
        struct vq_sg sg[2] = {{.buf = c, .len = 1}, {.buf = ack, .len = 1}};
        uint64_t bad = f->dev.queues[VIRTIO_NET_CTRLQ].stats.bad_chains;

        c[0] = VIRTIO_NET_CTRL_RX;
        *ack = 0xee;
        dfx_submit(f, VIRTIO_NET_CTRLQ, sg, 1, 1, c);
        assert_int_equal(dfx_used(f, VIRTIO_NET_CTRLQ, c), 1);
        assert_int_equal(*ack, VIRTIO_NET_ERR);
        assert_int_equal(f->dev.queues[VIRTIO_NET_CTRLQ].stats.bad_chains, bad + 1);
    }
    {
        /* The ack buffer device-readable: nothing to answer into. */
        uint8_t *c = galloc(f, 3);
        struct vq_sg sg[2] = {{.buf = c, .len = 3}, {.buf = c + 2, .len = 1}};

        c[0] = VIRTIO_NET_CTRL_RX;
        c[1] = VIRTIO_NET_CTRL_RX_PROMISC;
        c[2] = 0;
        dfx_submit(f, VIRTIO_NET_CTRLQ, sg, 2, 0, c);
        assert_int_equal(dfx_used(f, VIRTIO_NET_CTRLQ, c), 0);
        assert_int_equal(st(f).ctrl_bad, 1);
        vdev_net_get_rx_filter(&f->dev, &flt);
        assert_int_equal(flt.mode[VIRTIO_NET_CTRL_RX_PROMISC], 1); /* not applied */
    }
    /* Still serving. */
    assert_int_equal(rx_mode(f, VIRTIO_NET_CTRL_RX_PROMISC, 0), VIRTIO_NET_OK);
    assert_true(passes(f, other_uni)); /* in the table */
    {
        static const uint8_t u2[6] = {0x02, 0, 0, 0, 0, 0x78};

        assert_false(passes(f, u2));
    }
}

/* A command whose feature the driver did not take: ERR (the model does
 * not guess). */
static void test_dev_ctrl_not_negotiated(void **state)
{
    struct dev_fixture *f = *state;
    uint64_t all = dfx_device_features(f);
    static uint8_t p[16];
    const uint8_t(*u)[6] = &other_uni;

    dfx_start(f, all & ~(1ull << VIRTIO_NET_F_CTRL_RX_EXTRA), 64);
    assert_int_equal(rx_mode(f, VIRTIO_NET_CTRL_RX_ALLUNI, 1), VIRTIO_NET_ERR);
    assert_int_equal(rx_mode(f, VIRTIO_NET_CTRL_RX_NOBCAST, 1), VIRTIO_NET_ERR);
    assert_int_equal(rx_mode(f, VIRTIO_NET_CTRL_RX_ALLMULTI, 1), VIRTIO_NET_OK);
    dfx_start(f, all & ~(1ull << VIRTIO_NET_F_CTRL_MAC_ADDR), 64);
    assert_int_equal(ctrl(f, VIRTIO_NET_CTRL_MAC, VIRTIO_NET_CTRL_MAC_ADDR_SET, other_uni, 6),
                     VIRTIO_NET_ERR);
    dfx_start(f, all & ~((1ull << VIRTIO_NET_F_CTRL_RX) | (1ull << VIRTIO_NET_F_CTRL_RX_EXTRA)), 64);
    assert_int_equal(rx_mode(f, VIRTIO_NET_CTRL_RX_PROMISC, 0), VIRTIO_NET_ERR);
    assert_int_equal(ctrl(f, VIRTIO_NET_CTRL_MAC, VIRTIO_NET_CTRL_MAC_TABLE_SET, p, table(p, u, 1, u, 0)),
                     VIRTIO_NET_ERR);
    assert_true(passes(f, other_uni)); /* still promiscuous */
}

/* Take the one RX buffer back: header and frame. */
static uint32_t rx_one(struct dev_fixture *f, uint8_t *b)
{
    return dfx_used(f, VIRTIO_NET_RXQ, b);
}

static uint8_t *post_rx(struct dev_fixture *f)
{
    uint8_t *b = galloc(f, 2048);
    struct vq_sg sg = {.buf = b, .len = 2048};

    assert_int_equal(vq_add_sgs(f->vq[VIRTIO_NET_RXQ], &sg, 0, 1, b), 0);
    assert_int_equal(vq_kick(f->vq[VIRTIO_NET_RXQ]), 0);
    vmmio_process(f->m);
    return b;
}

static void test_dev_csum(void **state)
{
    struct dev_fixture *f = *state;
    uint64_t all = dfx_device_features(f);
    static uint8_t fr[301];
    struct virtio_net_hdr h, got;
    uint8_t *b;

    memset(&h, 0, sizeof(h));
    h.flags = VIRTIO_NET_HDR_F_NEEDS_CSUM;
    h.csum_start = vr_cpu_to_le16(34);
    h.csum_offset = vr_cpu_to_le16(6); /* a UDP checksum's place */
    csum_frame(fr, sizeof(fr), 34, 6, 0x1234);
    /* GUEST_CSUM: the header goes through, the frame as it was. */
    dfx_start(f, all & ~(1ull << VIRTIO_NET_F_MRG_RXBUF), 64);
    b = post_rx(f);
    assert_true(send_hdr(f, NULL, &h, fr, sizeof(fr)));
    vmmio_process(f->m);
    assert_int_equal(rx_one(f, b), HDR + sizeof(fr));
    memcpy(&got, b, HDR);
    assert_int_equal(got.flags, VIRTIO_NET_HDR_F_NEEDS_CSUM);
    assert_int_equal(vr_le16_to_cpu(got.csum_start), 34);
    assert_int_equal(vr_le16_to_cpu(got.csum_offset), 6);
    assert_memory_equal(b + HDR, fr, sizeof(fr));
    assert_int_equal(st(f).rx_csum_passed, 1);
    /* Mergeable path too. */
    dfx_start(f, all, 64);
    b = post_rx(f);
    assert_true(send_hdr(f, NULL, &h, fr, sizeof(fr)));
    rx_one(f, b);
    memcpy(&got, b, HDR);
    assert_int_equal(got.flags, VIRTIO_NET_HDR_F_NEEDS_CSUM);
    assert_int_equal(vr_le16_to_cpu(got.csum_start), 34);
    /* No GUEST_CSUM: the device completes it, flags 0 (5.1.6.4). */
    dfx_start(f, all & ~(1ull << VIRTIO_NET_F_GUEST_CSUM), 64);
    b = post_rx(f);
    assert_true(send_hdr(f, NULL, &h, fr, sizeof(fr)));
    assert_int_equal(rx_one(f, b), HDR + sizeof(fr));
    memcpy(&got, b, HDR);
    assert_int_equal(got.flags, 0);
    assert_int_equal(got.csum_start, 0);
    assert_memory_equal(b + HDR, fr, 34 + 6); /* before the field: untouched */
    assert_csum_complete(b + HDR, sizeof(fr), 34, 0x1234);
    assert_int_equal(st(f).tx_csum_done, 1);
    /* Offsets outside the frame: dropped, counted; the last byte pair is
     * the furthest allowed. */
    h.csum_offset = vr_cpu_to_le16((uint16_t)(sizeof(fr) - 34 - 1));
    assert_false(send_hdr(f, NULL, &h, fr, sizeof(fr)));
    h.csum_start = vr_cpu_to_le16(0xffff);
    h.csum_offset = vr_cpu_to_le16(0xffff);
    assert_false(send_hdr(f, NULL, &h, fr, sizeof(fr)));
    assert_int_equal(st(f).tx_csum_bad, 2);
    h.csum_start = vr_cpu_to_le16(34);
    h.csum_offset = vr_cpu_to_le16((uint16_t)(sizeof(fr) - 34 - 2));
    assert_true(send_hdr(f, NULL, &h, fr, sizeof(fr)));
    /* Without CSUM the flag means nothing: the frame goes as it is. */
    dfx_start(f, all & ~((1ull << VIRTIO_NET_F_CSUM) | (1ull << VIRTIO_NET_F_GUEST_CSUM)), 64);
    b = post_rx(f);
    assert_true(send_hdr(f, NULL, &h, fr, sizeof(fr)));
    rx_one(f, b);
    memcpy(&got, b, HDR);
    assert_int_equal(got.flags, 0);
    assert_memory_equal(b + HDR, fr, sizeof(fr));
}

/* The filter and a pending frame's checksum request are in the snapshot
 * blob; a load brings them back; bad values are refused. */
static void test_dev_snapshot(void **state)
{
    struct dev_fixture *f = *state;
    static uint8_t p[64], fr[100];
    const uint8_t(*u)[6] = &other_uni, (*m)[6] = &mcast;
    struct vdev_net_rx_filter flt;
    struct virtio_net_hdr h;
    uint8_t *blob;
    uint32_t n, tail;

    dfx_start(f, dfx_device_features(f), 64);
    assert_int_equal(rx_mode(f, VIRTIO_NET_CTRL_RX_PROMISC, 0), VIRTIO_NET_OK);
    assert_int_equal(rx_mode(f, VIRTIO_NET_CTRL_RX_NOBCAST, 1), VIRTIO_NET_OK);
    n = table(p, u, 1, m, 1);
    assert_int_equal(ctrl(f, VIRTIO_NET_CTRL_MAC, VIRTIO_NET_CTRL_MAC_TABLE_SET, p, n), VIRTIO_NET_OK);
    memset(&h, 0, sizeof(h));
    h.flags = VIRTIO_NET_HDR_F_NEEDS_CSUM;
    h.csum_start = vr_cpu_to_le16(20);
    h.csum_offset = vr_cpu_to_le16(4);
    csum_frame(fr, sizeof(fr), 20, 4, 0);
    assert_true(send_hdr(f, NULL, &h, fr, sizeof(fr)));
    n = f->dev.ops->state_size(&f->dev);
    blob = malloc(n);
    assert_non_null(blob);
    f->dev.ops->state_save(&f->dev, blob);
    assert_null(f->dev.ops->state_check(&f->dev, blob, n));
    dfx_start(f, dfx_device_features(f), 64); /* reset: filter back to defaults */
    f->dev.ops->state_load(&f->dev, blob, n);
    vdev_net_get_rx_filter(&f->dev, &flt);
    assert_int_equal(flt.mode[VIRTIO_NET_CTRL_RX_PROMISC], 0);
    assert_int_equal(flt.mode[VIRTIO_NET_CTRL_RX_NOBCAST], 1);
    assert_int_equal(flt.n_uni, 1);
    assert_memory_equal(flt.multi[0], mcast, 6);
    assert_false(vdev_net_rx_accepts(&f->dev, bcast));
    {
        /* The frame still carries its request: delivered with NEEDS_CSUM. */
        uint8_t *b = post_rx(f);
        struct virtio_net_hdr got;

        rx_one(f, b);
        memcpy(&got, b, HDR);
        assert_int_equal(got.flags, VIRTIO_NET_HDR_F_NEEDS_CSUM);
        assert_int_equal(vr_le16_to_cpu(got.csum_start), 20);
    }
    /* Tail: 16 header + 4 len + 100 bytes, then 6 meta, then the filter. */
    tail = 16 + 4 + 100;
    blob[tail] = 4;
    assert_string_equal(f->dev.ops->state_check(&f->dev, blob, n),
                        "net frame flags other than NEEDS_CSUM");
    blob[tail] = 1;
    blob[tail + 2] = 99; /* csum_start 99 + 4 + 2 > 100 */
    assert_string_equal(f->dev.ops->state_check(&f->dev, blob, n),
                        "net frame checksum offsets outside the frame");
    blob[tail + 2] = 20;
    blob[tail + 6] = 2;
    assert_string_equal(f->dev.ops->state_check(&f->dev, blob, n), "net rx mode flag neither 0 nor 1");
    blob[tail + 6] = 0;
    blob[tail + 6 + 8] = 65;
    assert_string_equal(f->dev.ops->state_check(&f->dev, blob, n),
                        "net mac table longer than 64 entries");
    blob[tail + 6 + 8] = 1;
    blob[0] = 1;
    assert_string_equal(f->dev.ops->state_check(&f->dev, blob, n), "net mac is a multicast address");
    free(blob);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_dev_offered, setup_dev, teardown_dev),
        cmocka_unit_test_setup_teardown(test_dev_rx_modes, setup_dev, teardown_dev),
        cmocka_unit_test_setup_teardown(test_dev_mac_table, setup_dev, teardown_dev),
        cmocka_unit_test_setup_teardown(test_dev_mac_addr_set, setup_dev, teardown_dev),
        cmocka_unit_test_setup_teardown(test_dev_ctrl_bad_input, setup_dev, teardown_dev),
        cmocka_unit_test_setup_teardown(test_dev_ctrl_not_negotiated, setup_dev, teardown_dev),
        cmocka_unit_test_setup_teardown(test_dev_csum, setup_dev, teardown_dev),
        cmocka_unit_test_setup_teardown(test_dev_snapshot, setup_dev, teardown_dev),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
