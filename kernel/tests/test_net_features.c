/* SPDX-License-Identifier: Apache-2.0 */
/*
 * test_net_features.c - suite "net-features": the net driver's MRG_RXBUF,
 * MTU and STATUS (VIRTIO 1.2 5.1.4, 5.1.6.3, 5.1.6.4) against the loopback
 * net model (lnet0, offered mtu 3000): frames larger than one 2048-byte
 * receive buffer come back intact in all four interrupt/poll x EVENT_IDX
 * modes (each a reset + re-init), nothing above mtu + 14 is sent, and a
 * link change made on the device side reaches the driver through the
 * config interrupt and back; the control queue's rx mode / MAC table /
 * station mac change what the loopback lets through (5.1.6.5), and a
 * partial checksum comes back as NEEDS_CSUM (CSUM + GUEST_CSUM) or
 * completed by virtio_net_recv.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kernel.h"
#include "kernel/tests/ktest.h"
#include "kernel/virtio/loopback.h"
#include "transport_loopback.h"
#include "vdev.h"
#include "vdev_models.h"
#include "virtio.h"
#include "virtio_net.h"
#include "vmmio.h"

#define TN_TIMEOUT_NS 2000000000ull

static const struct {
    bool polled, event_idx;
} tn_modes[4] = {{false, true}, {false, false}, {true, true}, {true, false}};

static struct virtio_device *tn_dev(struct ktest *t)
{
    struct virtio_device *d;

    if (loopback_init()) {
        ktest_fail(t, __FILE__, __LINE__, "loopback_init failed");
        return NULL;
    }
    d = virtio_find("lnet0");
    if (!d || !d->driver_priv) {
        ktest_fail(t, __FILE__, __LINE__, "no device lnet0");
        return NULL;
    }
    return d;
}

static void tn_fill(uint8_t *b, size_t n, unsigned seed)
{
    for (size_t i = 0; i < n; i++)
        b[i] = (uint8_t)(seed * 29 + i * 11 + (i >> 8));
}

/* Frames left over by other suites. */
static void tn_drain(struct virtio_net *net, uint8_t *buf)
{
    while (virtio_net_recv(net, buf, VIRTIO_NET_MAX_FRAME_CAP, 0) >= 0)
        ;
}

static void t_negotiated(struct ktest *t)
{
    struct virtio_device *d = tn_dev(t);
    struct virtio_net *net;

    if (!d)
        return;
    net = d->driver_priv;
    KT_ASSERT(t, virtio_has_feature(d, VIRTIO_NET_F_MRG_RXBUF));
    KT_ASSERT(t, virtio_has_feature(d, VIRTIO_NET_F_MTU));
    KT_ASSERT_EQ(t, virtio_net_mtu(net), VDEV_NET_DEFAULT_MTU);
    KT_ASSERT_EQ(t, virtio_net_max_frame(net), VDEV_NET_DEFAULT_MTU + 14);
}

static void t_big_frames_all_modes(struct ktest *t)
{
    static const size_t lens[] = {VDEV_NET_DEFAULT_MTU + 14, 2036, 2037, 60, 4000};
    struct virtio_device *d = tn_dev(t);
    struct virtio_net *net;
    uint8_t *f, *g;
    uint64_t merged0;

    if (!d)
        return;
    f = malloc(VIRTIO_NET_MAX_FRAME_CAP);
    g = malloc(VIRTIO_NET_MAX_FRAME_CAP);
    if (!f || !g) {
        free(f);
        free(g);
        ktest_fail(t, __FILE__, __LINE__, "out of memory");
        return;
    }
    for (unsigned m = 0; m < 4; m++) {
        if (loopback_set_mode(d, tn_modes[m].polled, tn_modes[m].event_idx, 0)) {
            ktest_fail(t, __FILE__, __LINE__, "loopback_set_mode failed");
            break;
        }
        net = d->driver_priv;
        tn_drain(net, g);
        merged0 = virtio_net_get_stats(net)->rx_merged;
        for (unsigned i = 0; i < sizeof(lens) / sizeof(lens[0]); i++) {
            int r;

            tn_fill(f, lens[i], m * 10 + i);
            r = virtio_net_send(net, f, lens[i]);
            if (lens[i] > virtio_net_max_frame(net)) {
                KT_ASSERT_EQ(t, r, -EINVAL); /* 5.1.4.2: not above mtu + 14 */
                continue;
            }
            KT_ASSERT_EQ(t, r, 0);
            r = virtio_net_recv(net, g, VIRTIO_NET_MAX_FRAME_CAP, TN_TIMEOUT_NS);
            KT_ASSERT_EQ(t, r, (int)lens[i]);
            KT_ASSERT(t, r == (int)lens[i] && memcmp(f, g, lens[i]) == 0);
        }
        /* 3014 and 2037 take two buffers each. */
        KT_ASSERT_EQ(t, virtio_net_get_stats(net)->rx_merged - merged0, 2);
    }
    (void)loopback_set_mode(d, false, true, 0);
    free(f);
    free(g);
}

struct tn_link {
    bool up;
};

static void tn_link_locked(struct vdev *vd, void *arg)
{
    vdev_net_set_link(vd, ((struct tn_link *)arg)->up);
}

/* The config interrupt's handler (on this CPU) reads the config through
 * the register file's lock, which vmmio_run_locked holds: with interrupts
 * off the IPI waits until the lock is released (as register accesses on
 * CPU 0 do, loopback.h). */
static void tn_set_link(struct virtio_device *d, struct tn_link *a)
{
    irq_disable();
    vmmio_run_locked(loopback_device_vmmio(d), tn_link_locked, a);
    irq_enable();
}

static bool tn_wait_changes(struct virtio_net *net, uint64_t want)
{
    uint64_t end = timer_ns() + TN_TIMEOUT_NS;

    while (virtio_net_get_stats(net)->link_changes < want && timer_ns() < end)
        ;
    return virtio_net_get_stats(net)->link_changes == want;
}

static void t_link_change(struct ktest *t)
{
    struct virtio_device *d = tn_dev(t);
    struct virtio_net *net;
    struct tn_link a = {.up = false};
    uint64_t c0;

    if (!d)
        return;
    net = d->driver_priv;
    c0 = virtio_net_get_stats(net)->link_changes;
    KT_ASSERT(t, virtio_net_is_link_up(net));
    tn_set_link(d, &a);
    KT_ASSERT(t, tn_wait_changes(net, c0 + 1));
    KT_ASSERT(t, !virtio_net_is_link_up(net));
    a.up = true;
    tn_set_link(d, &a);
    KT_ASSERT(t, tn_wait_changes(net, c0 + 2));
    KT_ASSERT(t, virtio_net_is_link_up(net));
}

/* Send an 80-byte frame to dst; did it come back? (filtered: no) */
static bool tn_loops(struct virtio_net *net, const uint8_t dst[6], uint8_t *f, uint8_t *g,
                     unsigned seed)
{
    int r;

    tn_fill(f, 80, seed);
    memcpy(f, dst, 6);
    if (virtio_net_send(net, f, 80))
        return false;
    r = virtio_net_recv(net, g, VIRTIO_NET_MAX_FRAME_CAP, 50000000ull);
    return r == 80 && memcmp(f, g, 80) == 0;
}

/* 5.1.6.5: the controlq commands change what the loopback lets through. */
static void t_ctrl_filter(struct ktest *t)
{
    static const uint8_t other[6] = {0x02, 0, 0, 0, 0, 0x77}, mc[6] = {0x01, 0, 0x5e, 0, 0, 9};
    static const uint8_t nm[6] = {0x02, 0x12, 0x34, 0x56, 0x78, 0x9a};
    const uint8_t(*u)[6] = &other, (*m)[6] = &mc;
    struct virtio_device *d = tn_dev(t);
    struct virtio_net *net;
    uint8_t *f, *g, mac0[6];

    if (!d)
        return;
    net = d->driver_priv;
    f = malloc(VIRTIO_NET_MAX_FRAME_CAP);
    g = malloc(VIRTIO_NET_MAX_FRAME_CAP);
    if (!f || !g) {
        free(f);
        free(g);
        ktest_fail(t, __FILE__, __LINE__, "out of memory");
        return;
    }
    tn_drain(net, g);
    virtio_net_get_mac(net, mac0);
    KT_ASSERT(t, virtio_has_feature(d, VIRTIO_NET_F_CTRL_VQ));
    KT_ASSERT_EQ(t, d->nvqs, 3);
    KT_ASSERT(t, tn_loops(net, other, f, g, 1)); /* promiscuous after reset */
    KT_ASSERT_EQ(t, virtio_net_set_rx_mode(net, VIRTIO_NET_CTRL_RX_PROMISC, false), 0);
    KT_ASSERT(t, !tn_loops(net, other, f, g, 2));
    KT_ASSERT(t, tn_loops(net, mac0, f, g, 3));
    KT_ASSERT(t, !tn_loops(net, mc, f, g, 4));
    KT_ASSERT_EQ(t, virtio_net_set_mac_table(net, u, 1, m, 1), 0);
    KT_ASSERT(t, tn_loops(net, other, f, g, 5));
    KT_ASSERT(t, tn_loops(net, mc, f, g, 6));
    KT_ASSERT_EQ(t, virtio_net_set_rx_mode(net, VIRTIO_NET_CTRL_RX_NOUNI, true), 0);
    KT_ASSERT(t, !tn_loops(net, mac0, f, g, 7));
    KT_ASSERT_EQ(t, virtio_net_set_rx_mode(net, VIRTIO_NET_CTRL_RX_NOUNI, false), 0);
    KT_ASSERT_EQ(t, virtio_net_set_mac(net, nm), 0);
    KT_ASSERT(t, tn_loops(net, nm, f, g, 8));
    KT_ASSERT(t, !tn_loops(net, mac0, f, g, 9));
    KT_ASSERT_EQ(t, virtio_net_set_mac(net, mc), -EINVAL);
    /* Back to how other suites expect the device. */
    KT_ASSERT_EQ(t, virtio_net_set_mac(net, mac0), 0);
    KT_ASSERT_EQ(t, virtio_net_set_mac_table(net, NULL, 0, NULL, 0), 0);
    KT_ASSERT_EQ(t, virtio_net_set_rx_mode(net, VIRTIO_NET_CTRL_RX_PROMISC, true), 0);
    KT_ASSERT(t, tn_loops(net, other, f, g, 10));
    KT_ASSERT_EQ(t, virtio_net_get_stats(net)->ctrl_errs, 0);
    free(f);
    free(g);
}

/* 5.1.6.2 / 5.1.6.4: a partial checksum goes through the loopback
 * (CSUM + GUEST_CSUM) as NEEDS_CSUM; plain recv completes it. */
static void t_csum(struct ktest *t)
{
    struct virtio_device *d = tn_dev(t);
    struct virtio_net_rx_info info;
    struct virtio_net *net;
    uint8_t f[120], g[VIRTIO_NET_MAX_FRAME];
    uint32_t sum = 0;
    int r;

    if (!d)
        return;
    net = d->driver_priv;
    tn_drain(net, g);
    KT_ASSERT(t, virtio_has_feature(d, VIRTIO_NET_F_CSUM));
    KT_ASSERT(t, virtio_has_feature(d, VIRTIO_NET_F_GUEST_CSUM));
    tn_fill(f, sizeof(f), 77);
    f[34 + 16] = 0x12; /* pseudo-header sum 0x1234 */
    f[34 + 17] = 0x34;
    KT_ASSERT_EQ(t, virtio_net_send_csum(net, f, sizeof(f), 34, 16), 0);
    r = virtio_net_recv_info(net, g, sizeof(g), TN_TIMEOUT_NS, &info);
    KT_ASSERT_EQ(t, r, (int)sizeof(f));
    KT_ASSERT_EQ(t, info.flags, VIRTIO_NET_HDR_F_NEEDS_CSUM);
    KT_ASSERT_EQ(t, info.csum_start, 34);
    KT_ASSERT_EQ(t, info.csum_offset, 16);
    KT_ASSERT(t, memcmp(f, g, sizeof(f)) == 0);
    KT_ASSERT_EQ(t, virtio_net_send_csum(net, f, sizeof(f), 34, 16), 0);
    r = virtio_net_recv(net, g, sizeof(g), TN_TIMEOUT_NS);
    KT_ASSERT_EQ(t, r, (int)sizeof(f));
    /* RFC 1071: the completed region plus the pseudo-header sum folds to
     * 0xffff. */
    for (unsigned i = 34; i + 1 < sizeof(f); i += 2)
        sum += (uint32_t)(g[i] << 8 | g[i + 1]);
    sum += 0x1234;
    while (sum >> 16)
        sum = (sum & 0xffff) + (sum >> 16);
    KT_ASSERT_EQ(t, sum, 0xffff);
    KT_ASSERT_EQ(t, virtio_net_send_csum(net, f, sizeof(f), 100, 19), -EINVAL);
}

KTEST_SUITE(net_features_suite, "net-features", {"negotiated", t_negotiated},
            {"big_frames_all_modes", t_big_frames_all_modes}, {"link_change", t_link_change},
            {"ctrl_filter", t_ctrl_filter}, {"csum", t_csum});
