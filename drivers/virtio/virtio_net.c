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
 * Checksum (5.1.6.2, 5.1.6.4): virtio_net_send_csum() asks the device
 * (NEEDS_CSUM, with VIRTIO_NET_F_CSUM) or does it here; with GUEST_CSUM a
 * received NEEDS_CSUM frame is checked (offsets inside it) and either
 * handed back partial with its flags (virtio_net_recv_info) or completed
 * (virtio_net_recv).
 * Control queue (5.1.6.5, with VIRTIO_NET_F_CTRL_VQ): one command at a
 * time under tx_lock, in a buffer after the transmit one: class + command
 * + data device-readable, the ack byte device-writable.
 *
 * MTU (5.1.4.2): negotiated when offered; the frame limit is then mtu + 14
 * ("plus low level ethernet header length"), capped by
 * VIRTIO_NET_DRV_MAX_MTU; sends above it are refused (-EINVAL) and, without
 * MRG_RXBUF, each receive buffer holds header + a full frame (5.1.6.3.1:
 * "MUST supply enough receive buffers to receive at least one receive
 * packet of size mtu").
 * MRG_RXBUF (5.1.6.3.1, 5.1.6.4): 2048-byte buffers; a frame arrives in
 * num_buffers of them, the header only in the first. num_buffers is the
 * device's word: 0, more than we posted, or a frame longer than the limit
 * (or the caller's buffer) drops the frame (counted) and its buffers are
 * re-posted. The remaining buffers of a frame are waited for within the
 * caller's timeout; buffers still owed when it expires are skipped by the
 * next recv (net->mrg_skip).
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
#define NET_BUF_SIZE 2048u /* MRG_RXBUF receive buffers */
#define NET_HDR_SIZE ((uint32_t)sizeof(struct virtio_net_hdr))
#define NET_ETH_HLEN 14u
#define NET_TX_BUF_SIZE (NET_HDR_SIZE + VIRTIO_NET_MAX_FRAME_CAP)
#define NET_CTRLQ VIRTIO_NET_CTRLQ
/* The control buffer after the transmit one in the DMA block: class,
 * command, up to two full MAC tables, then the ack byte on its own. */
#define NET_CTRL_OFF ((NET_TX_BUF_SIZE + 63u) & ~63u)
#define NET_CTRL_DATA_MAX (2u * (4u + 6u * VIRTIO_NET_MAC_TABLE_MAX))
#define NET_CTRL_ACK_OFF (2u + NET_CTRL_DATA_MAX)
#define NET_DMA_SIZE (NET_CTRL_OFF + NET_CTRL_ACK_OFF + 1u)
#define NET_CTRL_TIMEOUT_NS VIRTIO_NET_TIMEOUT_NS
#define NET_DRIVER_FEATURES                                                                        \
    ((1ull << VIRTIO_NET_F_MAC) | (1ull << VIRTIO_NET_F_STATUS) |                                  \
     (1ull << VIRTIO_NET_F_MRG_RXBUF) | (1ull << VIRTIO_NET_F_MTU) |                              \
     (1ull << VIRTIO_NET_F_CTRL_VQ) | (1ull << VIRTIO_NET_F_CTRL_RX) |                            \
     (1ull << VIRTIO_NET_F_CTRL_RX_EXTRA) | (1ull << VIRTIO_NET_F_CTRL_MAC_ADDR) |                \
     (1ull << VIRTIO_NET_F_CSUM) | (1ull << VIRTIO_NET_F_GUEST_CSUM))

_Static_assert(NET_BUF_SIZE >= NET_HDR_SIZE + VIRTIO_NET_MAX_FRAME, "5.1.6.3.1 buffer size");

struct virtio_net {
    struct virtio_device *dev;
    struct virt_lock rx_lock; /* lock order: rx_lock, then tx_lock */
    struct virt_lock tx_lock;
    struct virtio_rx_bufs rx; /* NET_BUF_SIZE each */
    void *tx_buf; /* NET_DMA_SIZE: the tx buffer, then the ctrl one (under tx_lock) */
    uint8_t mac[6];
    uint16_t mtu;       /* negotiated mtu (1500 without VIRTIO_NET_F_MTU) */
    uint32_t max_frame; /* mtu + 14, capped */
    uint32_t mrg_skip;  /* buffers of a frame given up on, still to come */
    bool link_up;       /* last status read (config_changed) */
    uint8_t pad[3];
    struct virtio_net_filter filt; /* what we set since the last start */
    struct virtio_net_stats stats;
};

/* ---- life cycle (virtio_driver.h) ---- */

static bool net_link_read(struct virtio_device *dev)
{
    __le16 st = 0;

    if (!virtio_has_feature(dev, VIRTIO_NET_F_STATUS))
        return true; /* 5.1.4.2: assume the link is up */
    if (virtio_cread(dev, offsetof(struct virtio_net_config, status), &st, sizeof(st)) < 0)
        return false;
    return vr_le16_to_cpu(st) & VIRTIO_NET_S_LINK_UP;
}

/* 5.1.4.2 "SHOULD read the link status from the bottom bit of status":
 * again on every configuration change notification. */
static void net_config_changed(struct virtio_device *dev)
{
    struct virtio_net *net = dev->driver_priv;
    bool up = net_link_read(dev);

    if (up != net->link_up) {
        net->link_up = up;
        net->stats.link_changes++;
        virt_log(VIRT_LOG_INFO, "%s: link %s", dev->name, up ? "up" : "down");
    }
}

static int net_read_config(struct virtio_device *dev)
{
    struct virtio_net *net = dev->driver_priv;

    memset(net->mac, 0, sizeof(net->mac));
    if (virtio_has_feature(dev, VIRTIO_NET_F_MAC))
        (void)virtio_cread(dev, offsetof(struct virtio_net_config, mac), net->mac,
                           sizeof(net->mac));
    net->mtu = 1500;
    if (virtio_has_feature(dev, VIRTIO_NET_F_MTU)) {
        __le16 m = 0;
        uint16_t mtu;

        (void)virtio_cread(dev, offsetof(struct virtio_net_config, mtu), &m, sizeof(m));
        mtu = vr_le16_to_cpu(m);
        /* 5.1.4.1: the device sets 68..65535; below 68 is not a value we
         * can honour: keep 1500 and say so. */
        if (mtu < 68)
            virt_log(VIRT_LOG_ERR, "%s: device mtu %u below 68, using 1500", dev->name, mtu);
        else
            net->mtu = mtu > VIRTIO_NET_DRV_MAX_MTU ? VIRTIO_NET_DRV_MAX_MTU : mtu;
    }
    net->max_frame = (uint32_t)net->mtu + NET_ETH_HLEN;
    if (net->max_frame < VIRTIO_NET_MAX_FRAME && !virtio_has_feature(dev, VIRTIO_NET_F_MTU))
        net->max_frame = VIRTIO_NET_MAX_FRAME;
    net->mrg_skip = 0;
    net->link_up = net_link_read(dev);
    /* The reset put the device's filter back to its defaults. */
    memset(net->filt.mode, 0xff, sizeof(net->filt.mode));
    net->filt.n_uni = net->filt.n_multi = -1;
    return 0;
}

/* 5.1.2: receiveq1, transmitq1, and controlq with VIRTIO_NET_F_CTRL_VQ. */
static uint32_t net_num_vqs(struct virtio_device *dev)
{
    return virtio_has_feature(dev, VIRTIO_NET_F_CTRL_VQ) ? 3 : 2;
}

/* 5.1.6.3 / 3.1.1 step 7: the receive buffers, before DRIVER_OK. */
static int net_setup(struct virtio_device *dev)
{
    struct virtio_net *net = dev->driver_priv;

    uint32_t size = NET_BUF_SIZE;

    /* 5.1.6.3.1: without MRG_RXBUF every buffer holds header + a whole
     * frame of max_frame bytes. */
    if (!virtio_has_feature(dev, VIRTIO_NET_F_MRG_RXBUF) &&
        NET_HDR_SIZE + net->max_frame > size)
        size = NET_HDR_SIZE + net->max_frame;
    return virtio_rx_bufs_fill(dev, NET_RXQ, &net->rx, VIRTIO_NET_RX_BUFS, size);
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
    .nvqs = 3,
    .features = NET_DRIVER_FEATURES,
    .dma_offset = offsetof(struct virtio_net, tx_buf),
    .dma_size = NET_DMA_SIZE,
    .lock_offsets = {offsetof(struct virtio_net, rx_lock), offsetof(struct virtio_net, tx_lock)},
    .nlocks = 2,
    .config = net_read_config,
    .num_vqs = net_num_vqs,
    .setup = net_setup,
    .teardown = net_teardown,
    .config_changed = net_config_changed,
};

/* virtio_net_probe(), virtio_net_remove(), virtio_net_reinit() */
VIRTIO_DRIVER_ENTRY_POINTS(net, net_driver)

/* ---- I/O ---- */

/* The internet checksum of f[start..len) stored big-endian at start + off
 * (the field's initial content, the pseudo-header sum, is included). */
static void net_csum_fill(uint8_t *f, uint32_t len, uint32_t start, uint32_t off)
{
    uint32_t sum = 0, i;
    uint16_t res;

    for (i = start; i + 1 < len; i += 2)
        sum += (uint32_t)f[i] << 8 | f[i + 1];
    if (i < len)
        sum += (uint32_t)f[i] << 8;
    while (sum >> 16)
        sum = (sum & 0xffff) + (sum >> 16);
    res = (uint16_t)~sum;
    f[start + off] = (uint8_t)(res >> 8);
    f[start + off + 1] = (uint8_t)res;
}

/* csum: NULL for a plain frame, else {csum_start, csum_offset}. */
static int net_send(struct virtio_net *net, const void *frame, size_t len, const uint16_t *csum)
{
    struct virtio_net_hdr *hdr;
    uint8_t *data;
    struct vq_sg sg;
    int r;

    /* 5.1.4.2: not above mtu + 14 once VIRTIO_NET_F_MTU is negotiated. */
    if (len == 0 || len > net->max_frame)
        return -EINVAL;
    if (csum && (size_t)csum[0] + csum[1] + 2 > len)
        return -EINVAL;
    virt_lock_acquire(&net->tx_lock);
    /* 5.1.6.2: no GSO: GSO_NONE; num_buffers is only meaningful on
     * receive and 0 on transmit; flags 0 unless the device completes the
     * checksum (NEEDS_CSUM, only with VIRTIO_NET_F_CSUM: "If
     * VIRTIO_NET_F_CSUM is not negotiated, the driver MUST set flags to
     * zero and SHOULD supply a fully checksummed packet"). */
    hdr = net->tx_buf;
    data = (uint8_t *)net->tx_buf + NET_HDR_SIZE;
    memset(hdr, 0, sizeof(*hdr));
    hdr->gso_type = VIRTIO_NET_HDR_GSO_NONE;
    memcpy(data, frame, len);
    if (csum && virtio_has_feature(net->dev, VIRTIO_NET_F_CSUM)) {
        hdr->flags = VIRTIO_NET_HDR_F_NEEDS_CSUM;
        hdr->csum_start = vr_cpu_to_le16(csum[0]);
        hdr->csum_offset = vr_cpu_to_le16(csum[1]);
        net->stats.tx_csum_offload++;
    } else if (csum) {
        net_csum_fill(data, (uint32_t)len, csum[0], csum[1]);
        net->stats.tx_csum_sw++;
    }
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

int virtio_net_send(struct virtio_net *net, const void *frame, size_t len)
{
    return net_send(net, frame, len, NULL);
}

int virtio_net_send_csum(struct virtio_net *net, const void *frame, size_t len,
                         uint16_t csum_start, uint16_t csum_offset)
{
    const uint16_t c[2] = {csum_start, csum_offset};

    return net_send(net, frame, len, c);
}

struct net_rx_ctx {
    struct virtio_net *net;
    void *frame;
    size_t cap;
    int result;
    uint32_t want;  /* MRG_RXBUF: buffers of the current frame still to come */
    uint32_t got;   /* bytes of the frame copied so far */
    uint32_t total; /* bytes of the frame so far (copied or not) */
    uint32_t bufs;  /* buffers it took */
    bool dropping;  /* the current frame is being dropped */
    uint8_t pad[3];
    struct virtio_net_hdr hdr; /* the header of the current frame */
};

static void net_rx_repost(struct virtio_net *net, uint32_t i)
{
    if (virtio_rx_bufs_post(net->dev, NET_RXQ, &net->rx, i) < 0)
        net->stats.rx_refill_failed++;
    (void)vq_kick(virtio_vq(net->dev, NET_RXQ));
}

/* One used buffer without MRG_RXBUF: 1 when ctx->result is set. */
static int net_rx_one(struct net_rx_ctx *ctx, uint8_t *buf, uint32_t len)
{
    struct virtio_net *net = ctx->net;

    if (len <= NET_HDR_SIZE) {
        /* Untrusted length: no room for a header and a frame. Drop. */
        net->stats.rx_dropped++;
        return 0;
    }
    if (len - NET_HDR_SIZE > ctx->cap) {
        net->stats.rx_dropped++;
        ctx->result = -EMSGSIZE;
        return 1;
    }
    memcpy(&ctx->hdr, buf, sizeof(ctx->hdr));
    memcpy(ctx->frame, buf + NET_HDR_SIZE, len - NET_HDR_SIZE);
    ctx->result = (int)(len - NET_HDR_SIZE);
    net->stats.rx_frames++;
    return 1;
}

/* One used buffer with MRG_RXBUF (5.1.6.4): the first of a frame carries
 * the header and num_buffers; the others are frame bytes only. 1 when
 * ctx->result is set. */
static int net_rx_mrg(struct net_rx_ctx *ctx, uint8_t *buf, uint32_t len)
{
    struct virtio_net *net = ctx->net;
    uint32_t off = 0, limit = net->max_frame;

    if (limit > ctx->cap)
        limit = (uint32_t)ctx->cap;
    if (net->mrg_skip) {
        /* The rest of a frame an earlier recv gave up on. */
        net->mrg_skip--;
        return 0;
    }
    if (ctx->want == 0) {
        struct virtio_net_hdr h;
        uint16_t nb;

        if (len < NET_HDR_SIZE) {
            net->stats.rx_dropped++;
            return 0;
        }
        memcpy(&h, buf, sizeof(h));
        nb = vr_le16_to_cpu(h.num_buffers);
        /* Untrusted: at least this buffer, at most what we have posted. */
        if (nb == 0 || nb > net->rx.n) {
            net->stats.rx_bad_mrg++;
            net->stats.rx_dropped++;
            return 0;
        }
        ctx->want = nb;
        ctx->hdr = h;
        ctx->got = ctx->total = ctx->bufs = 0;
        ctx->dropping = false;
        off = NET_HDR_SIZE;
    }
    ctx->want--;
    ctx->bufs++;
    ctx->total += len - off;
    if (!ctx->dropping) {
        if (ctx->total > limit)
            ctx->dropping = true; /* too large: the whole frame goes */
        else
            memcpy((uint8_t *)ctx->frame + ctx->got, buf + off, len - off);
        if (!ctx->dropping)
            ctx->got = ctx->total;
    }
    if (ctx->want)
        return 0;
    if (ctx->dropping) {
        net->stats.rx_dropped++;
        if (ctx->total > net->max_frame) {
            net->stats.rx_bad_mrg++; /* the device broke the limit */
            return 0;
        }
        ctx->result = -EMSGSIZE; /* the caller's buffer is too small */
        return 1;
    }
    if (ctx->got == 0) {
        net->stats.rx_dropped++; /* a header and no frame */
        return 0;
    }
    ctx->result = (int)ctx->got;
    net->stats.rx_frames++;
    if (ctx->bufs > 1)
        net->stats.rx_merged++;
    return 1;
}

/* Under rx_lock: take used rx buffers; >0 when a frame (or an error for
 * the caller) is ready in ctx->result, 0 when nothing is used yet. */
static int net_rx_poll(void *c)
{
    struct net_rx_ctx *ctx = c;
    struct virtio_net *net = ctx->net;
    bool mrg = virtio_has_feature(net->dev, VIRTIO_NET_F_MRG_RXBUF);
    uint32_t len, i;
    int r, done;

    for (;;) {
        r = virtio_rx_bufs_get(net->dev, NET_RXQ, &net->rx, &i, &len);
        if (r <= 0)
            return r;
        ctx->result = 0;
        done = mrg ? net_rx_mrg(ctx, virtio_rx_buf(&net->rx, i), len)
                   : net_rx_one(ctx, virtio_rx_buf(&net->rx, i), len);
        net_rx_repost(net, i);
        if (done)
            return 1;
    }
}

/* 5.1.6.4, the received header (untrusted): only with GUEST_CSUM may
 * flags be set; NEEDS_CSUM's offsets must lie inside the frame ("MUST NOT
 * use the csum_start and csum_offset" otherwise: a frame whose checksum
 * cannot be completed is dropped). 0, or -EPROTO to drop. */
static int net_rx_flags(struct virtio_net *net, const struct virtio_net_hdr *h, uint32_t len,
                        struct virtio_net_rx_info *info)
{
    memset(info, 0, sizeof(*info));
    if (!virtio_has_feature(net->dev, VIRTIO_NET_F_GUEST_CSUM))
        return 0; /* the device must set 0; anything else is ignored */
    info->flags = h->flags & (VIRTIO_NET_HDR_F_NEEDS_CSUM | VIRTIO_NET_HDR_F_DATA_VALID);
    if (info->flags & VIRTIO_NET_HDR_F_NEEDS_CSUM) {
        info->csum_start = vr_le16_to_cpu(h->csum_start);
        info->csum_offset = vr_le16_to_cpu(h->csum_offset);
        if ((uint32_t)info->csum_start + info->csum_offset + 2 > len) {
            net->stats.rx_csum_bad++;
            return -EPROTO;
        }
        net->stats.rx_csum_partial++;
    }
    return 0;
}

static int net_recv(struct virtio_net *net, void *frame, size_t cap, uint64_t timeout_ns,
                    struct virtio_net_rx_info *info)
{
    struct net_rx_ctx ctx = {.net = net, .frame = frame, .cap = cap};
    int r;

    memset(info, 0, sizeof(*info));
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
    if (r <= 0 && ctx.want) {
        /* Gave up in the middle of a frame: its remaining buffers are
         * skipped when they come. */
        net->mrg_skip = ctx.want;
        net->stats.rx_dropped++;
    }
    if (r < 0 && r != -EAGAIN && r != -ETIMEDOUT && virtio_is_failed(net->dev)) {
        /* Broken queue / NEEDS_RESET: reset and start again (rx then tx). */
        virt_log(VIRT_LOG_ERR, "%s: rx failed (%d), resetting", net->dev->name, r);
        (void)virtio_driver_reinit(net->dev, 1); /* rx_lock held */
    }
    if (r > 0 && ctx.result > 0 &&
        net_rx_flags(net, &ctx.hdr, (uint32_t)ctx.result, info) < 0) {
        net->stats.rx_frames--; /* counted as taken: it is dropped instead */
        net->stats.rx_dropped++;
        ctx.result = -EAGAIN;
    }
    virt_lock_release(&net->rx_lock);
    if (r < 0)
        return r;
    return ctx.result;
}

int virtio_net_recv_info(struct virtio_net *net, void *frame, size_t cap, uint64_t timeout_ns,
                         struct virtio_net_rx_info *info)
{
    struct virtio_net_rx_info tmp;
    int r;

    for (;;) {
        r = net_recv(net, frame, cap, timeout_ns, info ? info : &tmp);
        /* A dropped bad-checksum frame: look for the next one (within
         * the same timeout budget in the common case: the next is there). */
        if (r != -EAGAIN || timeout_ns == 0)
            return r;
    }
}

int virtio_net_recv(struct virtio_net *net, void *frame, size_t cap, uint64_t timeout_ns)
{
    struct virtio_net_rx_info info;
    int r = virtio_net_recv_info(net, frame, cap, timeout_ns, &info);

    /* Partial checksum (GUEST_CSUM): complete it for callers that do not
     * look at the flags. */
    if (r > 0 && (info.flags & VIRTIO_NET_HDR_F_NEEDS_CSUM))
        net_csum_fill(frame, (uint32_t)r, info.csum_start, info.csum_offset);
    return r;
}

/* ---- control queue (5.1.6.5) ---- */

/* Under tx_lock: class + command + dlen bytes already at ctrl[2..]; the
 * ack comes in its own device-writable byte. */
static int net_ctrl_exec(struct virtio_net *net, uint8_t cls, uint8_t cmd, uint32_t dlen)
{
    uint8_t *ctrl = (uint8_t *)net->tx_buf + NET_CTRL_OFF;
    struct vq_sg sg[2] = {{.buf = ctrl, .len = 2 + dlen}, {.buf = ctrl + NET_CTRL_ACK_OFF, .len = 1}};
    volatile uint8_t *ack = ctrl + NET_CTRL_ACK_OFF;
    int r;

    ctrl[0] = cls;
    ctrl[1] = cmd;
    *ack = 0xff; /* neither OK nor ERR: an ack the device never wrote */
    r = virtio_vq_exec(net->dev, NET_CTRLQ, sg, 1, 1, NET_CTRL_TIMEOUT_NS);
    if (r < 0) {
        virt_lock_release(&net->tx_lock);
        if (r == -ETIMEDOUT || virtio_is_failed(net->dev)) {
            virt_log(VIRT_LOG_ERR, "%s: ctrl failed (%d), resetting", net->dev->name, r);
            (void)virtio_driver_reinit(net->dev, 0);
        }
        return r;
    }
    /* The used buffer is ours again (virtio_vq_exec saw it used): the
     * ack byte the device wrote before it is visible now. */
    /* r is the used length: 0 means the device wrote no ack. */
    if (r < 1 || *ack != VIRTIO_NET_OK) {
        net->stats.ctrl_errs++;
        virt_log(VIRT_LOG_ERR, "%s: ctrl class %u cmd %u: device said %u", net->dev->name, cls,
                 cmd, *ack);
        r = -EPROTO;
    } else {
        net->stats.ctrl_cmds++;
        r = 0;
    }
    virt_lock_release(&net->tx_lock);
    return r;
}

static bool net_ctrl_has(struct virtio_net *net, unsigned feature)
{
    return virtio_has_feature(net->dev, VIRTIO_NET_F_CTRL_VQ) &&
           virtio_has_feature(net->dev, feature);
}

int virtio_net_set_rx_mode(struct virtio_net *net, unsigned mode, bool on)
{
    uint8_t *ctrl = (uint8_t *)net->tx_buf + NET_CTRL_OFF;
    int r;

    if (mode > VIRTIO_NET_CTRL_RX_NOBCAST)
        return -EINVAL;
    /* 5.1.6.5.1: PROMISC/ALLMULTI only with CTRL_RX, the others only with
     * CTRL_RX_EXTRA ("MUST NOT issue commands ..."). */
    if (!net_ctrl_has(net, mode <= VIRTIO_NET_CTRL_RX_ALLMULTI ? VIRTIO_NET_F_CTRL_RX
                                                               : VIRTIO_NET_F_CTRL_RX_EXTRA))
        return -EOPNOTSUPP;
    virt_lock_acquire(&net->tx_lock);
    ctrl[2] = on ? 1 : 0;
    r = net_ctrl_exec(net, VIRTIO_NET_CTRL_RX, (uint8_t)mode, 1);
    if (r == 0)
        net->filt.mode[mode] = on ? 1 : 0;
    return r;
}

int virtio_net_set_mac(struct virtio_net *net, const uint8_t mac[6])
{
    uint8_t *ctrl = (uint8_t *)net->tx_buf + NET_CTRL_OFF;
    int r;

    if (mac[0] & 1)
        return -EINVAL; /* a group address is no station address */
    if (!net_ctrl_has(net, VIRTIO_NET_F_CTRL_MAC_ADDR))
        return -EOPNOTSUPP;
    virt_lock_acquire(&net->tx_lock);
    memcpy(ctrl + 2, mac, 6);
    r = net_ctrl_exec(net, VIRTIO_NET_CTRL_MAC, VIRTIO_NET_CTRL_MAC_ADDR_SET, 6);
    if (r == 0)
        memcpy(net->mac, mac, 6); /* with F_MAC the config shows it too (5.1.6.5.2) */
    return r;
}

static uint32_t net_put_table(uint8_t *p, const uint8_t (*t)[6], uint32_t n)
{
    p[0] = (uint8_t)n; /* le32; n <= VIRTIO_NET_MAC_TABLE_MAX */
    p[1] = p[2] = p[3] = 0;
    if (n)
        memcpy(p + 4, t, 6u * n);
    return 4 + 6u * n;
}

int virtio_net_set_mac_table(struct virtio_net *net, const uint8_t (*uni)[6], uint32_t n_uni,
                             const uint8_t (*multi)[6], uint32_t n_multi)
{
    uint8_t *ctrl = (uint8_t *)net->tx_buf + NET_CTRL_OFF;
    uint32_t i, off;
    int r;

    if (n_uni > VIRTIO_NET_MAC_TABLE_MAX || n_multi > VIRTIO_NET_MAC_TABLE_MAX ||
        (n_uni && !uni) || (n_multi && !multi))
        return -EINVAL;
    /* 5.1.6.5.2: "non-multicast MAC addresses, ... multicast addresses" */
    for (i = 0; i < n_uni; i++)
        if (uni[i][0] & 1)
            return -EINVAL;
    for (i = 0; i < n_multi; i++)
        if (!(multi[i][0] & 1))
            return -EINVAL;
    if (!net_ctrl_has(net, VIRTIO_NET_F_CTRL_RX))
        return -EOPNOTSUPP; /* "MUST NOT issue VIRTIO_NET_CTRL_MAC class commands" */
    virt_lock_acquire(&net->tx_lock);
    off = net_put_table(ctrl + 2, uni, n_uni);
    off += net_put_table(ctrl + 2 + off, multi, n_multi);
    r = net_ctrl_exec(net, VIRTIO_NET_CTRL_MAC, VIRTIO_NET_CTRL_MAC_TABLE_SET, off);
    if (r == 0) {
        net->filt.n_uni = (int32_t)n_uni;
        net->filt.n_multi = (int32_t)n_multi;
    }
    return r;
}

void virtio_net_get_filter(const struct virtio_net *net, struct virtio_net_filter *f)
{
    *f = net->filt;
}

void virtio_net_get_mac(const struct virtio_net *net, uint8_t mac[6])
{
    memcpy(mac, net->mac, 6);
}

bool virtio_net_is_link_up(struct virtio_net *net)
{
    return net_link_read(net->dev);
}

uint32_t virtio_net_max_frame(const struct virtio_net *net)
{
    return net->max_frame;
}

uint16_t virtio_net_mtu(const struct virtio_net *net)
{
    return net->mtu;
}

struct virtio_device *virtio_net_device(struct virtio_net *net)
{
    return net->dev;
}

const struct virtio_net_stats *virtio_net_get_stats(const struct virtio_net *net)
{
    return &net->stats;
}
