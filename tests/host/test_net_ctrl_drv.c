/* SPDX-License-Identifier: Apache-2.0 */
/*
 * test_net_ctrl_drv.c - virtio-net control queue, receive filter and checksum
 * offload (VIRTIO 1.2 5.1.6.5, 5.1.6.2, 5.1.6.4), issue 14, driver side
 * (the model by hand-made chains is test_net_ctrl.c):
 *  - the driver (drivers/virtio/virtio_net.c) against the model over the
 *    loopback transport (lb_env): the commands' effect on what comes back,
 *    features the device does not offer not used (-EOPNOTSUPP, two queues),
 *    an ERR answer, checksum offload with and without CSUM / GUEST_CSUM,
 *    a lying device's checksum offsets.
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

#include "lb_env.h"
#include "net_ctrl_util.h"
#include "vdev_models.h"
#include "virtio_mmio.h"
#include "virtio_net.h"
#include "virtio_platform.h"

#define HDR ((uint32_t)sizeof(struct virtio_net_hdr))

static void frame_to(uint8_t *fr, size_t len, const uint8_t dst[6], unsigned seed)
{
    size_t i;

    for (i = 0; i < len; i++)
        fr[i] = (uint8_t)(seed * 17 + i * 3);
    memcpy(fr, dst, 6);
}

/* Send to dst; true when it came back (the filter let it through). */
static bool loops(struct virtio_net *net, const uint8_t dst[6], unsigned seed)
{
    static uint8_t fr[80], got[VIRTIO_NET_MAX_FRAME_CAP];
    int r;

    frame_to(fr, sizeof(fr), dst, seed);
    assert_int_equal(virtio_net_send(net, fr, sizeof(fr)), 0);
    r = virtio_net_recv(net, got, sizeof(got), 50000000ull);
    if (r == -ETIMEDOUT)
        return false;
    assert_int_equal(r, (int)sizeof(fr));
    assert_memory_equal(got, fr, sizeof(fr));
    return true;
}

static struct virtio_net *probe(struct env *e, uint64_t drop_features)
{
    struct virtio_net *net = NULL;

    assert_int_equal(vdev_net_create(&e->lb.vd, &e->mem, NULL), 0);
    e->lb.vd.avail_features &= ~drop_features;
    lb_attach("lnet0");
    assert_int_equal(virtio_net_probe(e->lb.dev, &net), 0);
    return net;
}

static void dev_mac(struct vdev *d, void *arg)
{
    vdev_net_get_mac(d, arg);
}

static void test_drv_filter(void **state)
{
    struct env *e = *state;
    struct virtio_net *net = probe(e, 0);
    static const uint8_t nm[6] = {0x02, 0xaa, 0xbb, 0xcc, 0xdd, 0xee};
    const uint8_t(*u)[6] = &other_uni, (*m)[6] = &mcast;
    struct virtio_net_filter vf;
    uint8_t mac[6];

    assert_true(virtio_has_feature(e->lb.dev, VIRTIO_NET_F_CTRL_VQ));
    assert_int_equal(e->lb.dev->nvqs, 3);
    virtio_net_get_filter(net, &vf);
    assert_int_equal(vf.mode[VIRTIO_NET_CTRL_RX_PROMISC], -1);
    assert_true(loops(net, other_uni, 1));
    assert_int_equal(virtio_net_set_rx_mode(net, VIRTIO_NET_CTRL_RX_PROMISC, false), 0);
    assert_false(loops(net, other_uni, 2));
    assert_true(loops(net, own_mac, 3));
    assert_false(loops(net, mcast, 4));
    assert_int_equal(virtio_net_set_mac_table(net, u, 1, m, 1), 0);
    assert_true(loops(net, other_uni, 5));
    assert_true(loops(net, mcast, 6));
    assert_int_equal(virtio_net_set_rx_mode(net, VIRTIO_NET_CTRL_RX_NOBCAST, true), 0);
    assert_false(loops(net, bcast, 7));
    assert_int_equal(virtio_net_set_mac(net, nm), 0);
    virtio_net_get_mac(net, mac);
    assert_memory_equal(mac, nm, 6);
    vmmio_run_locked(e->lb.m, dev_mac, mac);
    assert_memory_equal(mac, nm, 6);
    assert_true(loops(net, nm, 8));
    assert_false(loops(net, own_mac, 9));
    virtio_net_get_filter(net, &vf);
    assert_int_equal(vf.mode[VIRTIO_NET_CTRL_RX_PROMISC], 0);
    assert_int_equal(vf.mode[VIRTIO_NET_CTRL_RX_NOBCAST], 1);
    assert_int_equal(vf.n_uni, 1);
    assert_int_equal(virtio_net_get_stats(net)->ctrl_cmds, 4);
    /* Driver-side argument checks, nothing sent. */
    assert_int_equal(virtio_net_set_mac(net, mcast), -EINVAL);
    assert_int_equal(virtio_net_set_mac_table(net, m, 1, NULL, 0), -EINVAL);
    assert_int_equal(virtio_net_set_mac_table(net, NULL, 0, u, 1), -EINVAL);
    assert_int_equal(virtio_net_set_mac_table(net, u, VIRTIO_NET_MAC_TABLE_MAX + 1, NULL, 0), -EINVAL);
    assert_int_equal(virtio_net_set_rx_mode(net, 6, true), -EINVAL);
    assert_int_equal(virtio_net_get_stats(net)->ctrl_cmds, 4);
    /* Reset: the device forgets; so does our record; mac from config. */
    assert_int_equal(virtio_net_reinit(net), 0);
    virtio_net_get_filter(net, &vf);
    assert_int_equal(vf.mode[VIRTIO_NET_CTRL_RX_PROMISC], -1);
    assert_int_equal(vf.n_uni, -1);
    virtio_net_get_mac(net, mac);
    assert_memory_equal(mac, own_mac, 6);
    assert_true(loops(net, other_uni, 10));
    virtio_net_remove(net);
}

/* Features the device does not offer are not used. */
static void test_drv_not_offered(void **state)
{
    struct env *e = *state;
    struct virtio_net *net = probe(e, 1ull << VIRTIO_NET_F_CTRL_VQ); /* CTRL_RX still offered */
    const uint8_t(*u)[6] = &other_uni;

    /* 2.2.1 / 5.1.3.1: CTRL_RX etc. need CTRL_VQ: not accepted. */
    assert_false(virtio_has_feature(e->lb.dev, VIRTIO_NET_F_CTRL_RX));
    assert_false(virtio_has_feature(e->lb.dev, VIRTIO_NET_F_CTRL_MAC_ADDR));
    assert_int_equal(e->lb.dev->nvqs, 2);
    assert_int_equal(virtio_net_set_rx_mode(net, VIRTIO_NET_CTRL_RX_PROMISC, false), -EOPNOTSUPP);
    assert_int_equal(virtio_net_set_mac(net, other_uni), -EOPNOTSUPP);
    assert_int_equal(virtio_net_set_mac_table(net, u, 1, NULL, 0), -EOPNOTSUPP);
    assert_true(loops(net, other_uni, 1));
    virtio_net_remove(net);
}

static void test_drv_not_offered_extra(void **state)
{
    struct virtio_net *net =
        probe(*state, (1ull << VIRTIO_NET_F_CTRL_RX_EXTRA) | (1ull << VIRTIO_NET_F_CTRL_MAC_ADDR));

    assert_int_equal(virtio_net_set_rx_mode(net, VIRTIO_NET_CTRL_RX_ALLUNI, true), -EOPNOTSUPP);
    assert_int_equal(virtio_net_set_mac(net, other_uni), -EOPNOTSUPP);
    assert_int_equal(virtio_net_set_rx_mode(net, VIRTIO_NET_CTRL_RX_ALLMULTI, true), 0);
    virtio_net_remove(net);
}

static void unack_extra(struct vdev *d, void *arg)
{
    (void)arg;
    d->acked_features &= ~(1ull << VIRTIO_NET_F_CTRL_RX_EXTRA);
}

/* The device answers ERR: -EPROTO, counted, the queue still works. */
static void test_drv_ctrl_err(void **state)
{
    struct env *e = *state;
    struct virtio_net *net = probe(e, 0);

    vmmio_run_locked(e->lb.m, unack_extra, NULL); /* the device now refuses RX_EXTRA */
    assert_int_equal(virtio_net_set_rx_mode(net, VIRTIO_NET_CTRL_RX_NOUNI, true), -EPROTO);
    assert_int_equal(virtio_net_get_stats(net)->ctrl_errs, 1);
    assert_int_equal(virtio_net_set_rx_mode(net, VIRTIO_NET_CTRL_RX_PROMISC, false), 0);
    assert_false(loops(net, other_uni, 1));
    assert_true(loops(net, own_mac, 2));
    virtio_net_remove(net);
}

static void csum_round(struct env *e, uint64_t drop, bool dev_does, bool partial_rx)
{
    struct virtio_net *net = probe(e, drop);
    static uint8_t fr[200], got[VIRTIO_NET_MAX_FRAME_CAP];
    struct virtio_net_rx_info info;
    int r;

    csum_frame(fr, sizeof(fr), 34, 16, 0xbeef);
    assert_int_equal(virtio_net_send_csum(net, fr, sizeof(fr), 34, 16), 0);
    r = virtio_net_recv_info(net, got, sizeof(got), VIRTIO_NET_TIMEOUT_NS, &info);
    assert_int_equal(r, (int)sizeof(fr));
    if (partial_rx) {
        assert_int_equal(info.flags, VIRTIO_NET_HDR_F_NEEDS_CSUM);
        assert_int_equal(info.csum_start, 34);
        assert_int_equal(info.csum_offset, 16);
        assert_memory_equal(got, fr, sizeof(fr)); /* still partial */
    } else {
        assert_int_equal(info.flags, 0);
        assert_csum_complete(got, sizeof(fr), 34, 0xbeef);
    }
    /* Plain recv always hands back a complete checksum. */
    assert_int_equal(virtio_net_send_csum(net, fr, sizeof(fr), 34, 16), 0);
    assert_int_equal(virtio_net_recv(net, got, sizeof(got), VIRTIO_NET_TIMEOUT_NS), (int)sizeof(fr));
    assert_csum_complete(got, sizeof(fr), 34, 0xbeef);
    assert_memory_equal(got, fr, 34 + 16);
    assert_int_equal(virtio_net_get_stats(net)->tx_csum_offload, dev_does ? 2 : 0);
    assert_int_equal(virtio_net_get_stats(net)->tx_csum_sw, dev_does ? 0 : 2);
    assert_int_equal(virtio_net_get_stats(net)->rx_csum_partial, partial_rx ? 2 : 0);
    /* Offsets past the frame: refused before sending. */
    assert_int_equal(virtio_net_send_csum(net, fr, sizeof(fr), 34, sizeof(fr) - 35), -EINVAL);
    /* The last byte pair: the field there holds the frame's own bytes. */
    assert_int_equal(virtio_net_send_csum(net, fr, sizeof(fr), 34, sizeof(fr) - 36), 0);
    assert_int_equal(virtio_net_recv(net, got, sizeof(got), VIRTIO_NET_TIMEOUT_NS), (int)sizeof(fr));
    assert_csum_complete(got, sizeof(fr), 34,
                         (uint16_t)(fr[sizeof(fr) - 2] << 8 | fr[sizeof(fr) - 1]));
    virtio_net_remove(net);
}

static void test_drv_csum_offload(void **state)
{
    csum_round(*state, 0, true, true);
}

static void test_drv_csum_no_guest_csum(void **state)
{
    csum_round(*state, 1ull << VIRTIO_NET_F_GUEST_CSUM, true, false);
}

static void test_drv_csum_not_offered(void **state)
{
    csum_round(*state, (1ull << VIRTIO_NET_F_CSUM) | (1ull << VIRTIO_NET_F_GUEST_CSUM), false,
               false);
}

static void lie_csum_fn(struct vdev *d, void *arg)
{
    const uint16_t *o = arg;

    vdev_net_lie_csum(d, o[0], o[1]);
}

/* The device's header is untrusted (5.1.6.4): NEEDS_CSUM with offsets
 * outside the frame drops it (counted) and the next frame comes; without
 * GUEST_CSUM the flag is ignored. */
static void lying_csum(struct env *e, bool guest_csum)
{
    struct virtio_net *net = probe(e, guest_csum ? 0 : 1ull << VIRTIO_NET_F_GUEST_CSUM);
    static uint8_t a[60], b[70], got[VIRTIO_NET_MAX_FRAME_CAP];
    struct virtio_net_rx_info info;
    uint16_t lie[2] = {50, 9}; /* 50 + 9 + 2 > 60 */

    frame_to(a, sizeof(a), own_mac, 1);
    frame_to(b, sizeof(b), own_mac, 2);
    vmmio_run_locked(e->lb.m, lie_csum_fn, lie);
    assert_int_equal(virtio_net_send(net, a, sizeof(a)), 0);
    assert_int_equal(virtio_net_send(net, b, sizeof(b)), 0);
    if (guest_csum) {
        assert_int_equal(virtio_net_recv_info(net, got, sizeof(got), VIRTIO_NET_TIMEOUT_NS, &info),
                         (int)sizeof(b));
        assert_memory_equal(got, b, sizeof(b));
        assert_int_equal(virtio_net_get_stats(net)->rx_csum_bad, 1);
        /* In range: reported as it came (and recv would complete it). */
        lie[0] = 40, lie[1] = 18; /* 40 + 18 + 2 == 60 */
        vmmio_run_locked(e->lb.m, lie_csum_fn, lie);
        assert_int_equal(virtio_net_send(net, a, sizeof(a)), 0);
        assert_int_equal(virtio_net_recv_info(net, got, sizeof(got), VIRTIO_NET_TIMEOUT_NS, &info),
                         (int)sizeof(a));
        assert_int_equal(info.flags, VIRTIO_NET_HDR_F_NEEDS_CSUM);
        assert_int_equal(info.csum_start, 40);
        assert_int_equal(info.csum_offset, 18);
    } else {
        assert_int_equal(virtio_net_recv_info(net, got, sizeof(got), VIRTIO_NET_TIMEOUT_NS, &info),
                         (int)sizeof(a));
        assert_int_equal(info.flags, 0);
        assert_memory_equal(got, a, sizeof(a));
        assert_int_equal(virtio_net_recv(net, got, sizeof(got), VIRTIO_NET_TIMEOUT_NS),
                         (int)sizeof(b));
        assert_int_equal(virtio_net_get_stats(net)->rx_csum_bad, 0);
    }
    virtio_net_remove(net);
}

static void test_drv_lying_csum(void **state)
{
    lying_csum(*state, true);
}

static void test_drv_lying_csum_no_guest_csum(void **state)
{
    lying_csum(*state, false);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        MODE_TESTS(test_drv_filter),
        cmocka_unit_test_prestate_setup_teardown(test_drv_not_offered, env_setup, env_teardown, NULL),
        cmocka_unit_test_prestate_setup_teardown(test_drv_not_offered_extra, env_setup,
                                                 env_teardown, NULL),
        cmocka_unit_test_prestate_setup_teardown(test_drv_ctrl_err, env_setup, env_teardown, NULL),
        MODE_TESTS(test_drv_csum_offload),
        cmocka_unit_test_prestate_setup_teardown(test_drv_csum_no_guest_csum, env_setup,
                                                 env_teardown, NULL),
        cmocka_unit_test_prestate_setup_teardown(test_drv_csum_not_offered, env_setup,
                                                 env_teardown, NULL),
        MODE_TESTS(test_drv_lying_csum),
        cmocka_unit_test_prestate_setup_teardown(test_drv_lying_csum_no_guest_csum, env_setup,
                                                 env_teardown, NULL),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
