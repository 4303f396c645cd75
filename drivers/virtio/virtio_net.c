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

#include "virtio_platform.h"

#define NET_RXQ VIRTIO_NET_RXQ
#define NET_TXQ VIRTIO_NET_TXQ
#define NET_BUF_SIZE 2048u
#define NET_HDR_SIZE ((uint32_t)sizeof(struct virtio_net_hdr))
#define NET_DRIVER_FEATURES ((1ull << VIRTIO_NET_F_MAC) | (1ull << VIRTIO_NET_F_STATUS))

_Static_assert(NET_BUF_SIZE >= NET_HDR_SIZE + VIRTIO_NET_MAX_FRAME, "5.1.6.3.1 buffer size");

struct virtio_net {
    struct virtio_device *dev;
    struct virt_lock rx_lock;
    struct virt_lock tx_lock;
    uint8_t *rx_mem; /* nrx * NET_BUF_SIZE, written by device */
    size_t rx_bytes;
    uint32_t nrx;
    uint32_t pad;
    uint8_t *tx_buf; /* NET_BUF_SIZE, written by driver */
    uint8_t mac[6];
    uint8_t pad2[2];
    struct virtio_net_stats stats;
};

/* Under rx_lock (or before DRIVER_OK): put buffer i back on the receiveq. */
static int net_post_rx(struct virtio_net *net, uint32_t i)
{
    struct vq_sg sg = {.buf = net->rx_mem + (size_t)i * NET_BUF_SIZE, .len = NET_BUF_SIZE};

    /* The token is the buffer address: never NULL, identifies the slot. */
    return vq_add_sgs(virtio_vq(net->dev, NET_RXQ), &sg, 0, 1, sg.buf);
}

static void net_read_config(struct virtio_net *net)
{
    memset(net->mac, 0, sizeof(net->mac));
    if (virtio_has_feature(net->dev, VIRTIO_NET_F_MAC))
        (void)virtio_cread(net->dev, offsetof(struct virtio_net_config, mac), net->mac,
                           sizeof(net->mac));
}

static void net_free_rx(struct virtio_net *net)
{
    if (net->rx_mem)
        virt_dma_free(net->rx_mem, net->rx_bytes);
    net->rx_mem = NULL;
    net->nrx = 0;
}

static int net_start(struct virtio_net *net)
{
    static const struct virtio_vq_spec specs[2] = {
        {.max_size = 0, .callback = NULL},
        {.max_size = 0, .callback = NULL},
    };
    struct virtio_device *dev = net->dev;
    uint64_t dma;
    uint32_t i;
    int err;

    err = virtio_device_init(dev, NET_DRIVER_FEATURES);
    if (err < 0)
        return err;
    net_read_config(net);
    err = virtio_find_vqs(dev, 2, specs);
    if (err < 0)
        goto err_fail;
    net->nrx = vq_get_size(virtio_vq(dev, NET_RXQ));
    if (net->nrx > VIRTIO_NET_RX_BUFS)
        net->nrx = VIRTIO_NET_RX_BUFS;
    net->rx_bytes = (size_t)net->nrx * NET_BUF_SIZE;
    net->rx_mem = virt_dma_alloc(net->rx_bytes, &dma);
    err = -ENOMEM;
    if (!net->rx_mem)
        goto err_del;
    for (i = 0; i < net->nrx; i++) {
        err = net_post_rx(net, i);
        if (err < 0)
            goto err_del;
    }
    virtio_device_ready(dev);
    return vq_kick(virtio_vq(dev, NET_RXQ));

err_del:
    (void)virtio_reset(dev);
    virtio_del_vqs(dev);
    net_free_rx(net);
err_fail:
    virtio_device_fail(dev);
    return err;
}

static void net_stop(struct virtio_net *net)
{
    /* After the reset the device no longer writes to the rx buffers. */
    (void)virtio_reset(net->dev);
    virtio_del_vqs(net->dev);
    net_free_rx(net);
}

/* Both locks held (rx then tx). */
static int net_reinit_locked(struct virtio_net *net)
{
    net_stop(net);
    net->stats.reinits++;
    return net_start(net);
}

int virtio_net_reinit(struct virtio_net *net)
{
    int err;

    virt_lock_acquire(&net->rx_lock);
    virt_lock_acquire(&net->tx_lock);
    err = net_reinit_locked(net);
    virt_lock_release(&net->tx_lock);
    virt_lock_release(&net->rx_lock);
    return err;
}

int virtio_net_probe(struct virtio_device *dev, struct virtio_net **out)
{
    struct virtio_net *net;
    uint64_t dma;
    int err = -ENOMEM;

    if (dev->device_id != VIRTIO_ID_NET)
        return -ENODEV;
    net = virt_zalloc(sizeof(*net));
    if (!net)
        return -ENOMEM;
    net->dev = dev;
    net->tx_buf = virt_dma_alloc(NET_BUF_SIZE, &dma);
    if (!net->tx_buf)
        goto err_free;
    err = net_start(net);
    if (err < 0)
        goto err_free_tx;
    dev->driver_priv = net;
    *out = net;
    return 0;

err_free_tx:
    virt_dma_free(net->tx_buf, NET_BUF_SIZE);
err_free:
    virt_free(net);
    return err;
}

void virtio_net_remove(struct virtio_net *net)
{
    if (!net)
        return;
    net_stop(net);
    net->dev->driver_priv = NULL;
    virt_dma_free(net->tx_buf, NET_BUF_SIZE);
    virt_free(net);
}

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
    hdr = (struct virtio_net_hdr *)(void *)net->tx_buf;
    memset(hdr, 0, sizeof(*hdr));
    hdr->gso_type = VIRTIO_NET_HDR_GSO_NONE;
    memcpy(net->tx_buf + NET_HDR_SIZE, frame, len);
    sg.buf = net->tx_buf;
    sg.len = NET_HDR_SIZE + (uint32_t)len;
    r = virtio_vq_exec(net->dev, NET_TXQ, &sg, 1, 0, VIRTIO_NET_TIMEOUT_NS);
    if (r < 0) {
        /* Lock order is rx then tx: drop tx, take both in recover. */
        virt_lock_release(&net->tx_lock);
        if (r == -ETIMEDOUT || virtio_is_failed(net->dev)) {
            virt_lock_acquire(&net->rx_lock);
            virt_lock_acquire(&net->tx_lock);
            virt_log(VIRT_LOG_ERR, "%s: tx failed (%d), resetting", net->dev->name, r);
            (void)net_reinit_locked(net);
            virt_lock_release(&net->tx_lock);
            virt_lock_release(&net->rx_lock);
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
    void *token;
    uint32_t len, i;
    int r;

    for (;;) {
        r = vq_get_buf(vq, &token, &len);
        if (r == -EAGAIN)
            return 0;
        if (r < 0)
            return r;
        buf = token;
        i = (uint32_t)((size_t)(buf - net->rx_mem) / NET_BUF_SIZE);
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
        if (net_post_rx(net, i) < 0)
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
        virt_lock_acquire(&net->tx_lock);
        (void)net_reinit_locked(net);
        virt_lock_release(&net->tx_lock);
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
