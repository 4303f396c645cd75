/* SPDX-License-Identifier: Apache-2.0 */
/*
 * virtio_net.c - virtio-net driver (VIRTIO 1.2 5.1; see virtio_net.h).
 *
 * Receive (5.1.6.3): VIRTIO_NET_RX_BUFS buffers of NET_BUF_SIZE bytes, each
 * one device-writable descriptor holding header + frame. Without
 * MRG_RXBUF and guest offloads, 5.1.6.3.1 asks for buffers of at least
 * 1526 bytes (12 + 1514); we post 2048. They are added before DRIVER_OK
 * (3.1.1 step 7 "population of virtqueues") and the first kick comes after
 * it (a driver must not notify before DRIVER_OK).
 * Transmit (5.1.6.2): one DMA buffer, header + frame, one request at a time.
 *
 * Invariants: a receive buffer is either posted (in the ring) or being
 * copied out under rx_lock and re-posted before the lock is dropped; used
 * lengths are checked (>= header, <= buffer: virtqueue.c bounds the
 * latter) before a single byte is copied.
 */
#include "virtio_net.h"

#include <errno.h>
#include <string.h>

#include "virtio_driver.h"
#include "virtio_platform.h"

#define NET_RXQ VIRTIO_NET_RXQ
#define NET_TXQ VIRTIO_NET_TXQ
#define NET_BUF_SIZE 2048u
#define NET_HDR_SIZE ((uint32_t)sizeof(struct virtio_net_hdr))
#define NET_DRIVER_FEATURES ((1ull << VIRTIO_NET_F_MAC) | (1ull << VIRTIO_NET_F_STATUS))

_Static_assert(NET_BUF_SIZE >= NET_HDR_SIZE + VIRTIO_NET_MAX_FRAME, "5.1.6.3.1 buffer size");

struct virtio_net {
    struct virtio_device *dev;
    struct virt_lock rx_lock; /* lock order: rx_lock, then tx_lock */
    struct virt_lock tx_lock;
    struct virtio_rx_bufs rx; /* NET_BUF_SIZE each */
    void *tx_buf;             /* NET_BUF_SIZE, written by driver */
    uint8_t mac[6];
    uint8_t pad[2];
    struct virtio_net_stats stats;
};

/* ---- life cycle (virtio_driver.h) ---- */

static int net_read_config(struct virtio_device *dev)
{
    struct virtio_net *net = dev->driver_priv;

    memset(net->mac, 0, sizeof(net->mac));
    if (virtio_has_feature(dev, VIRTIO_NET_F_MAC))
        (void)virtio_cread(dev, offsetof(struct virtio_net_config, mac), net->mac,
                           sizeof(net->mac));
    return 0;
}

/* 5.1.6.3 / 3.1.1 step 7: the receive buffers, before DRIVER_OK. */
static int net_setup(struct virtio_device *dev)
{
    struct virtio_net *net = dev->driver_priv;

    return virtio_rx_bufs_fill(dev, NET_RXQ, &net->rx, VIRTIO_NET_RX_BUFS, NET_BUF_SIZE);
}

/* After the reset the device no longer writes to the rx buffers. */
static void net_teardown(struct virtio_device *dev)
{
    struct virtio_net *net = dev->driver_priv;

    virtio_rx_bufs_free(&net->rx);
}

static const struct virtio_driver net_driver = {
    VIRTIO_DRIVER_STATE(struct virtio_net),
    .device_id = VIRTIO_ID_NET,
    .nvqs = 2,
    .features = NET_DRIVER_FEATURES,
    .dma_offset = offsetof(struct virtio_net, tx_buf),
    .dma_size = NET_BUF_SIZE,
    .lock_offsets = {offsetof(struct virtio_net, rx_lock), offsetof(struct virtio_net, tx_lock)},
    .nlocks = 2,
    .config = net_read_config,
    .setup = net_setup,
    .teardown = net_teardown,
};

/* virtio_net_probe(), virtio_net_remove(), virtio_net_reinit() */
VIRTIO_DRIVER_ENTRY_POINTS(net, net_driver)

/* ---- I/O ---- */

int virtio_net_send(struct virtio_net *net, const void *frame, size_t len)
{
    struct virtio_net_hdr *hdr;
    struct vq_sg sg;
    int r;

    if (len == 0 || len > VIRTIO_NET_MAX_FRAME)
        return -EINVAL;
    virt_lock_acquire(&net->tx_lock);
    /* 5.1.6.2: no checksum/GSO offload: flags 0, GSO_NONE; num_buffers is
     * only meaningful on receive and 0 on transmit. */
    hdr = net->tx_buf;
    memset(hdr, 0, sizeof(*hdr));
    hdr->gso_type = VIRTIO_NET_HDR_GSO_NONE;
    memcpy((uint8_t *)net->tx_buf + NET_HDR_SIZE, frame, len);
    sg.buf = net->tx_buf;
    sg.len = NET_HDR_SIZE + (uint32_t)len;
    r = virtio_vq_exec(net->dev, NET_TXQ, &sg, 1, 0, VIRTIO_NET_TIMEOUT_NS);
    if (r < 0) {
        /* Lock order is rx then tx: drop tx, take both in the reinit. */
        virt_lock_release(&net->tx_lock);
        if (r == -ETIMEDOUT || virtio_is_failed(net->dev)) {
            virt_log(VIRT_LOG_ERR, "%s: tx failed (%d), resetting", net->dev->name, r);
            (void)virtio_driver_reinit(net->dev, 0);
        }
        return r;
    }
    net->stats.tx_frames++;
    virt_lock_release(&net->tx_lock);
    return 0;
}

struct net_rx_ctx {
    struct virtio_net *net;
    void *frame;
    size_t cap;
    int result;
    int pad;
};

/* Under rx_lock: take one used rx buffer; >0 when a frame (or an error for
 * the caller) is ready in ctx->result, 0 when nothing is used yet. */
static int net_rx_poll(void *c)
{
    struct net_rx_ctx *ctx = c;
    struct virtio_net *net = ctx->net;
    struct virtqueue *vq = virtio_vq(net->dev, NET_RXQ);
    uint8_t *buf;
    uint32_t len, i;
    int r;

    for (;;) {
        r = virtio_rx_bufs_get(net->dev, NET_RXQ, &net->rx, &i, &len);
        if (r <= 0)
            return r;
        buf = virtio_rx_buf(&net->rx, i);
        ctx->result = 0;
        if (len <= NET_HDR_SIZE) {
            /* Untrusted length: no room for a header and a frame. Drop. */
            net->stats.rx_dropped++;
        } else if (len - NET_HDR_SIZE > ctx->cap) {
            net->stats.rx_dropped++;
            ctx->result = -EMSGSIZE;
        } else {
            memcpy(ctx->frame, buf + NET_HDR_SIZE, len - NET_HDR_SIZE);
            ctx->result = (int)(len - NET_HDR_SIZE);
            net->stats.rx_frames++;
        }
        if (virtio_rx_bufs_post(net->dev, NET_RXQ, &net->rx, i) < 0)
            net->stats.rx_refill_failed++;
        (void)vq_kick(vq);
        if (ctx->result != 0)
            return 1;
    }
}

int virtio_net_recv(struct virtio_net *net, void *frame, size_t cap, uint64_t timeout_ns)
{
    struct net_rx_ctx ctx = {.net = net, .frame = frame, .cap = cap};
    int r;

    virt_lock_acquire(&net->rx_lock);
    if (virtio_is_failed(net->dev)) {
        r = -EIO;
    } else if (timeout_ns == 0) {
        r = net_rx_poll(&ctx);
        if (r == 0)
            r = -EAGAIN;
    } else {
        r = virtio_vq_wait(net->dev, NET_RXQ, net_rx_poll, &ctx, timeout_ns);
    }
    if (r < 0 && r != -EAGAIN && r != -ETIMEDOUT && virtio_is_failed(net->dev)) {
        /* Broken queue / NEEDS_RESET: reset and start again (rx then tx). */
        virt_log(VIRT_LOG_ERR, "%s: rx failed (%d), resetting", net->dev->name, r);
        (void)virtio_driver_reinit(net->dev, 1); /* rx_lock held */
    }
    virt_lock_release(&net->rx_lock);
    if (r < 0)
        return r;
    return ctx.result;
}

void virtio_net_get_mac(const struct virtio_net *net, uint8_t mac[6])
{
    memcpy(mac, net->mac, 6);
}

bool virtio_net_is_link_up(struct virtio_net *net)
{
    uint16_t st;

    if (!virtio_has_feature(net->dev, VIRTIO_NET_F_STATUS))
        return true; /* 5.1.4.2: assume the link is up */
    if (virtio_cread(net->dev, offsetof(struct virtio_net_config, status), &st, sizeof(st)) < 0)
        return false;
    return vr_le16_to_cpu(st) & VIRTIO_NET_S_LINK_UP;
}

struct virtio_device *virtio_net_device(struct virtio_net *net)
{
    return net->dev;
}

const struct virtio_net_stats *virtio_net_get_stats(const struct virtio_net *net)
{
    return &net->stats;
}
