/* SPDX-License-Identifier: Apache-2.0 */
/*
 * dev_net.c - virtio-net device model (VIRTIO 1.2 5.1) wired as a loopback
 * cable: every frame the driver transmits on transmitq (queue 1) comes
 * back on receiveq (queue 0), with a fresh struct virtio_net_hdr (no
 * offloads, num_buffers 1: 5.1.6.4).
 *
 * Flow: a TX kick drains transmitq into a FIFO backlog (bounded:
 * VDEV_NET_BACKLOG frames), then delivers the backlog to receiveq while it
 * has buffers. When receiveq runs dry, the frames wait; the device asks for
 * receiveq kicks (vdq_enable_notify with re-check) and an RX kick delivers
 * them. A frame that finds the backlog full is dropped and counted, as a
 * NIC with a full FIFO would.
 *
 * Driver mistakes (never fatal, each counted):
 *  - a TX chain shorter than the 12-byte header, or with device-writable
 *    buffers (5.1.6.2: transmit buffers are device-readable only):
 *    returned with len 0, no frame (bad);
 *  - a TX frame above VDEV_NET_MAX_FRAME: dropped;
 *  - an RX chain with no writable part, or with device-readable buffers
 *    (5.1.6.3: receive buffers are device-writable): returned with len 0
 *    (bad), nothing written, the frame waits for the next buffer;
 *  - an RX chain too small for header + frame (without MRG_RXBUF a frame
 *    must fit one buffer, 5.1.6.3.1): the frame is dropped, the buffer
 *    returned with len 0.
 * Invariants: frame bytes live in one byte ring allocated at create
 * (VDEV_NET_BACKLOG_BYTES; frames in FIFO order, a frame may wrap around
 * its end), so the device CPU never allocates while it runs; a frame that
 * does not fit is dropped like one that finds all VDEV_NET_BACKLOG slots
 * taken. Reset empties the backlog (in-flight data is dropped, 2.4).
 */
#include <errno.h>
#include <string.h>

#include "snap_le.h"
#include "vdev_models.h"
#include "virtio_platform.h"

struct dev_net {
    struct virtio_net_config cfg;
    uint32_t frame_len[VDEV_NET_BACKLOG]; /* FIFO ring of frame lengths */
    unsigned head, count;
    uint8_t *bytes;      /* VDEV_NET_BACKLOG_BYTES, FIFO byte ring */
    uint32_t bytes_head; /* first byte of the head frame */
    uint32_t bytes_used;
    struct vdev_net_stats stats;
};

static struct dev_net *net_of(const struct vdev *d)
{
    return d->priv;
}

static void net_read_config(struct vdev *d, uint32_t off, void *buf, uint32_t len)
{
    memcpy(buf, (const uint8_t *)&net_of(d)->cfg + off, len);
}

static void net_frame_drop_head(struct dev_net *n)
{
    uint32_t len = n->frame_len[n->head];

    n->bytes_head = (n->bytes_head + len) % VDEV_NET_BACKLOG_BYTES;
    n->bytes_used -= len;
    n->head = (n->head + 1) % VDEV_NET_BACKLOG;
    n->count--;
}

/* The head frame's bytes as (up to) two runs of the byte ring. */
static void net_frame_runs(const struct dev_net *n, uint32_t *len0, uint32_t *len1)
{
    uint32_t len = n->frame_len[n->head];
    uint32_t to_end = VDEV_NET_BACKLOG_BYTES - n->bytes_head;

    *len0 = len < to_end ? len : to_end;
    *len1 = len - *len0;
}

static bool net_tx_chain(struct vdev *d, unsigned qi, const struct vdq_chain *c, uint32_t *written)
{
    struct dev_net *n = net_of(d);
    uint32_t len, tail, len0;

    (void)qi;
    *written = 0; /* 5.1.6.2: the device writes nothing into TX buffers */
    if (c->out_len < sizeof(struct virtio_net_hdr) || c->in_len) {
        n->stats.bad++;
        return true;
    }
    len = c->out_len - sizeof(struct virtio_net_hdr);
    n->stats.tx_frames++;
    n->stats.tx_bytes += len;
    if (len > VDEV_NET_MAX_FRAME || n->count == VDEV_NET_BACKLOG ||
        len > VDEV_NET_BACKLOG_BYTES - n->bytes_used) {
        n->stats.dropped++;
        return false;
    }
    /* We ignore the driver's header: no offloads were negotiated. */
    tail = (n->bytes_head + n->bytes_used) % VDEV_NET_BACKLOG_BYTES;
    len0 = VDEV_NET_BACKLOG_BYTES - tail < len ? VDEV_NET_BACKLOG_BYTES - tail : len;
    vdq_chain_read(c, sizeof(struct virtio_net_hdr), n->bytes + tail, len0);
    vdq_chain_read(c, sizeof(struct virtio_net_hdr) + len0, n->bytes, len - len0);
    n->bytes_used += len;
    n->frame_len[(n->head + n->count) % VDEV_NET_BACKLOG] = len;
    n->count++;
    if (n->count > n->stats.backlog_max)
        n->stats.backlog_max = n->count;
    return false;
}

/* Put the frame at the head of the backlog into chain c; returns the used
 * length and whether the chain counts as bad. */
static bool net_rx_fill(struct dev_net *n, const struct vdq_chain *c, uint32_t *written)
{
    uint32_t len = n->frame_len[n->head], len0, len1;
    struct virtio_net_hdr h;

    *written = 0;
    if (c->in_len == 0 || c->out_len) {
        n->stats.bad++;
        return true; /* the frame stays for the next buffer */
    }
    if (c->in_len < sizeof(h) || c->in_len - sizeof(h) < len) {
        n->stats.rx_too_small++;
        n->stats.dropped++;
        net_frame_drop_head(n);
        return true;
    }
    memset(&h, 0, sizeof(h));
    h.gso_type = VIRTIO_NET_HDR_GSO_NONE;
    h.num_buffers = vr_cpu_to_le16(1);
    vdq_chain_write(c, 0, &h, sizeof(h));
    net_frame_runs(n, &len0, &len1);
    vdq_chain_write(c, sizeof(h), n->bytes + n->bytes_head, len0);
    vdq_chain_write(c, sizeof(h) + len0, n->bytes, len1);
    *written = sizeof(h) + len;
    n->stats.rx_frames++;
    n->stats.rx_bytes += len;
    net_frame_drop_head(n);
    return false;
}

static bool net_has_rx(struct vdev *d)
{
    return net_of(d)->count > 0;
}

static bool net_rx_chain(struct vdev *d, unsigned qi, const struct vdq_chain *c, uint32_t *written)
{
    (void)qi;
    return net_rx_fill(net_of(d), c, written);
}

/* Deliver the backlog to receiveq; chains completed or -EIO. */
static int net_rx_flush(struct vdev *d)
{
    return vdev_queue_deliver(d, VIRTIO_NET_RXQ, net_has_rx, net_rx_chain);
}

static int net_process(struct vdev *d, unsigned qi)
{
    int tx = 0, rx;

    if (qi == VIRTIO_NET_TXQ) {
        tx = vdev_queue_drain(d, qi, net_tx_chain);
        if (tx < 0)
            return tx;
    }
    rx = net_rx_flush(d);
    if (rx < 0)
        return rx;
    return tx + rx;
}

static void net_reset(struct vdev *d)
{
    struct dev_net *n = net_of(d);

    n->head = n->count = 0;
    n->bytes_head = n->bytes_used = 0;
}

static void net_destroy(struct vdev *d)
{
    struct dev_net *n = net_of(d);

    virt_free(n->bytes);
    virt_free(n);
}

/* Snapshot blob: mac[6], pad[2] (0), count u32 (frames in the backlog),
 * bytes u32 (their total length), count x len u32, then the frames' bytes
 * in FIFO order (canonical: a load starts the rings at 0). The backlog is
 * the only device-held data in flight: TX chains are completed when their
 * frame enters it, RX chains when a frame leaves it. */
#define NET_STATE_HDR 16

static uint32_t net_state_size(const struct vdev *d)
{
    const struct dev_net *n = net_of(d);

    return NET_STATE_HDR + 4 * n->count + n->bytes_used;
}

static void net_state_save(const struct vdev *d, uint8_t *out)
{
    const struct dev_net *n = net_of(d);
    uint8_t *p = out + NET_STATE_HDR;
    uint32_t i, pos = n->bytes_head;

    memcpy(out, n->cfg.mac, 6);
    out[6] = out[7] = 0;
    snap_put32(out + 8, n->count);
    snap_put32(out + 12, n->bytes_used);
    for (i = 0; i < n->count; i++, p += 4)
        snap_put32(p, n->frame_len[(n->head + i) % VDEV_NET_BACKLOG]);
    for (i = 0; i < n->bytes_used; i++)
        p[i] = n->bytes[(pos + i) % VDEV_NET_BACKLOG_BYTES];
}

static const char *net_state_check(const struct vdev *d, const uint8_t *p, uint32_t len)
{
    uint32_t count, bytes, i;
    uint64_t sum = 0;

    (void)d;
    if (len < NET_STATE_HDR)
        return "net state shorter than its header";
    if (p[6] || p[7])
        return "net padding not zero";
    count = snap_get32(p + 8);
    bytes = snap_get32(p + 12);
    if (count > VDEV_NET_BACKLOG)
        return "net backlog holds more than 64 frames";
    if (bytes > VDEV_NET_BACKLOG_BYTES)
        return "net backlog holds more than 256 KiB";
    if ((uint64_t)len != NET_STATE_HDR + 4ull * count + bytes)
        return "net state length does not match its backlog";
    for (i = 0; i < count; i++) {
        uint32_t fl = snap_get32(p + NET_STATE_HDR + 4 * i);

        if (fl > VDEV_NET_MAX_FRAME)
            return "net backlog frame above 65536 bytes";
        sum += fl;
    }
    if (sum != bytes)
        return "net frame lengths do not add up to the backlog bytes";
    return NULL;
}

static void net_state_load(struct vdev *d, const uint8_t *p, uint32_t len)
{
    struct dev_net *n = net_of(d);
    uint32_t i;

    (void)len;
    memcpy(n->cfg.mac, p, 6);
    n->count = snap_get32(p + 8);
    n->bytes_used = snap_get32(p + 12);
    n->head = 0;
    n->bytes_head = 0;
    for (i = 0; i < n->count; i++)
        n->frame_len[i] = snap_get32(p + NET_STATE_HDR + 4 * i);
    memcpy(n->bytes, p + NET_STATE_HDR + 4 * n->count, n->bytes_used);
}

static const struct vdev_ops net_ops = {
    .type = "net",
    .device_id = VIRTIO_ID_NET,
    .num_queues = 2, /* receiveq1, transmitq1 (5.1.2); no control queue */
    .queue_max_size = VDEV_NET_QUEUE_MAX,
    .config_size = sizeof(struct virtio_net_config),
    .read_config = net_read_config,
    .reset = net_reset,
    .process_queue = net_process,
    .destroy = net_destroy,
    .state_size = net_state_size,
    .state_save = net_state_save,
    .state_check = net_state_check,
    .state_load = net_state_load,
};

int vdev_net_create(struct vdev *d, const struct vdq_mem *mem, const uint8_t *mac)
{
    static const uint8_t default_mac[6] = VDEV_NET_DEFAULT_MAC;
    uint64_t features = (1ull << VIRTIO_F_VERSION_1) | (1ull << VIRTIO_F_EVENT_IDX) |
                        (1ull << VIRTIO_F_INDIRECT_DESC) | (1ull << VIRTIO_NET_F_MAC) |
                        (1ull << VIRTIO_NET_F_STATUS);
    struct dev_net *n;

    if (!d || !mem)
        return -EINVAL;
    n = virt_zalloc(sizeof(*n));
    if (!n)
        return -ENOMEM;
    n->bytes = virt_zalloc(VDEV_NET_BACKLOG_BYTES);
    if (!n->bytes)
        goto err_free;
    memcpy(n->cfg.mac, mac ? mac : default_mac, sizeof(n->cfg.mac));
    n->cfg.status = vr_cpu_to_le16(VIRTIO_NET_S_LINK_UP);
    n->cfg.max_virtqueue_pairs = vr_cpu_to_le16(1);
    vdev_init(d, &net_ops, n, features, mem);
    return 0;

err_free:
    virt_free(n);
    return -ENOMEM;
}

void vdev_net_get_stats(const struct vdev *d, struct vdev_net_stats *st)
{
    *st = net_of(d)->stats;
}

unsigned vdev_net_backlog_len(const struct vdev *d)
{
    return net_of(d)->count;
}
