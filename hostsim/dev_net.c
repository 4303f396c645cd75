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
 * Control queue (queue 2, VIRTIO_NET_F_CTRL_VQ), the receive filter the
 * transmit path applies before a frame enters the backlog, and checksum
 * offload (CSUM / GUEST_CSUM): hostsim/dev_net_ctrl.c.
 * Invariants: frame bytes live in one byte ring allocated at create
 * (VDEV_NET_BACKLOG_BYTES; frames in FIFO order, a frame may wrap around
 * its end), so the device CPU never allocates while it runs; a frame that
 * does not fit is dropped like one that finds all VDEV_NET_BACKLOG slots
 * taken. Reset empties the backlog (in-flight data is dropped, 2.4).
 */
#include <errno.h>
#include <string.h>

#include "dev_net_internal.h"
#include "hostile.h"
#include "snap_le.h"
#include "vdev_models.h"
#include "virtio_platform.h"

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

static bool net_tx_chain(struct vdev *d, unsigned qi, const struct vdq_chain *c, uint32_t *written)
{
    struct dev_net *n = net_of(d);
    struct virtio_net_hdr h;
    uint32_t len, tail, len0;
    uint8_t dst[6];
    unsigned slot;

    (void)qi;
    *written = 0; /* 5.1.6.2: the device writes nothing into TX buffers */
    if (c->out_len < sizeof(struct virtio_net_hdr) || c->in_len) {
        n->stats.bad++;
        return true;
    }
    len = c->out_len - sizeof(struct virtio_net_hdr);
    n->stats.tx_frames++;
    n->stats.tx_bytes += len;
    /* 5.1.4.1: with VIRTIO_NET_F_MTU negotiated the driver must not send
     * more than mtu + the Ethernet header; a frame above it is dropped. */
    if (vdev_has_feature(d, VIRTIO_NET_F_MTU) && len > (uint32_t)n->mtu + NET_ETH_HLEN) {
        n->stats.tx_oversize++;
        n->stats.dropped++;
        return false;
    }
    if (n->link_down) {
        /* No carrier: the frame goes nowhere (QEMU drops TX likewise). */
        n->stats.link_down_drops++;
        n->stats.dropped++;
        return false;
    }
    /* The loopback's far end is our own receive side: its filter
     * (5.1.6.5.1, 5.1.6.5.2) decides by destination mac. */
    if (len < 6 ? !n->filt.mode[VIRTIO_NET_CTRL_RX_PROMISC]
                : (vdq_chain_read(c, NET_HDR, dst, 6), !net_filter_accepts(d, dst))) {
        n->stats.rx_filtered++;
        return false;
    }
    if (len > VDEV_NET_MAX_FRAME || n->count == VDEV_NET_BACKLOG ||
        len > VDEV_NET_BACKLOG_BYTES - n->bytes_used) {
        n->stats.dropped++;
        return false;
    }
    tail = (n->bytes_head + n->bytes_used) % VDEV_NET_BACKLOG_BYTES;
    len0 = VDEV_NET_BACKLOG_BYTES - tail < len ? VDEV_NET_BACKLOG_BYTES - tail : len;
    vdq_chain_read(c, sizeof(struct virtio_net_hdr), n->bytes + tail, len0);
    vdq_chain_read(c, sizeof(struct virtio_net_hdr) + len0, n->bytes, len - len0);
    /* The driver's header: checksum offload (5.1.6.2); no GSO offered. */
    vdq_chain_read(c, 0, &h, sizeof(h));
    slot = (n->head + n->count) % VDEV_NET_BACKLOG;
    if (!net_csum_tx(d, &h, slot, tail, len)) {
        n->stats.dropped++;
        return false; /* nothing committed: bytes_used / count unchanged */
    }
    n->bytes_used += len;
    n->frame_len[slot] = len;
    n->count++;
    if (n->count > n->stats.backlog_max)
        n->stats.backlog_max = n->count;
    return false;
}

/* Bytes [foff, foff + len) of the head frame into chain c at offset coff. */
static void net_copy_out(const struct dev_net *n, const struct vdq_chain *c, uint32_t coff,
                         uint32_t foff, uint32_t len)
{
    uint32_t start = (n->bytes_head + foff) % VDEV_NET_BACKLOG_BYTES;
    uint32_t to_end = VDEV_NET_BACKLOG_BYTES - start;
    uint32_t len0 = len < to_end ? len : to_end;

    vdq_chain_write(c, coff, n->bytes + start, len0);
    vdq_chain_write(c, coff + len0, n->bytes, len - len0);
}

/* Put the frame at the head of the backlog into chain c; returns the used
 * length and whether the chain counts as bad. */
static bool net_rx_fill(struct vdev *d, const struct vdq_chain *c, uint32_t *written)
{
    struct dev_net *n = net_of(d);
    uint32_t len = n->frame_len[n->head];
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
    net_rx_hdr(d, &h);
    h.num_buffers = vr_cpu_to_le16(1);
    vdq_chain_write(c, 0, &h, sizeof(h));
    net_copy_out(n, c, sizeof(h), 0, len);
    *written = sizeof(h) + len;
    n->stats.rx_frames++;
    if (h.flags)
        n->stats.rx_csum_passed++;
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
    return net_rx_fill(d, c, written);
}

/* Give back (or, when that is not allowed, drop) the chains held for the
 * head frame. */
static int net_mrg_release(struct vdev *d, uint16_t chains, bool drop)
{
    struct dev_net *n = net_of(d);
    uint16_t i;

    for (i = 0; i < chains; i++) {
        if (vdev_queue_push(d, VIRTIO_NET_RXQ, n->mrg_head[i], drop ? 0 : n->mrg_len[i], false))
            return -EIO;
    }
    return 0;
}

/*
 * MRG_RXBUF (5.1.6.4, "If VIRTIO_NET_F_MRG_RXBUF has been negotiated, the
 * device MAY use more than one buffer ... num_buffers"): the head frame over
 * as many RX chains as it needs, the header (num_buffers) in the first.
 * Each chain is written right after its pop (d->iov is reused by the next
 * pop); the host address of the first chain's num_buffers bytes is kept.
 * The chains are pushed only once the whole frame is in them, so the
 * driver sees all of them at once (the RX vdq publishes used->idx per
 * batch, see net_rx_deliver_mrg). Returns 1 when the frame left the
 * backlog (delivered or dropped), 0 when it waits for buffers (the chains
 * popped for it were given back), -EIO when the ring is corrupt.
 */
static int net_rx_mrg_one(struct vdev *d)
{
    struct dev_net *n = net_of(d);
    struct vdq *q = &d->queues[VIRTIO_NET_RXQ].q;
    uint32_t len = n->frame_len[n->head], foff = 0;
    uint8_t *nb_lo = NULL, *nb_hi = NULL;
    uint16_t chains = 0;
    bool drop = false;
    struct vdq_chain c;
    int err;

    while (foff < len || chains == 0) {
        uint64_t bad_before = q->stats.bad_chains;
        uint32_t coff = 0, take, written;

        err = vdev_queue_pop(d, VIRTIO_NET_RXQ, &c);
        /* vdq returned a malformed chain (len 0) behind the ones we hold:
         * a used entry now follows them, so they can no longer be given
         * back (vdq_unpop) and the frame is dropped. */
        if (chains && q->stats.bad_chains != bad_before)
            drop = true;
        if (err == -EAGAIN) {
            if (drop)
                break;
            /* Ring dry mid-frame: give the chains back, wait for more. */
            if (chains)
                (void)vdq_unpop(q, n->mrg_head, chains);
            return 0;
        }
        if (err)
            return err; /* broken: the held chains go with the ring */
        if (c.out_len || c.in_len < NET_HDR) {
            /* 5.1.6.3: receive buffers are device-writable only; and
             * 5.1.6.3.1: each one at least the header's size. */
            n->stats.bad++;
            if (vdev_queue_push(d, VIRTIO_NET_RXQ, c.head, 0, true))
                return -EIO;
            if (chains) {
                drop = true;
                break;
            }
            continue; /* nothing held yet: the frame waits for the next */
        }
        if (chains == 0) {
            struct virtio_net_hdr h;

            net_rx_hdr(d, &h);
            vdq_chain_write(&c, 0, &h, sizeof(h));
            nb_lo = vdq_chain_in_byte(&c, offsetof(struct virtio_net_hdr, num_buffers));
            nb_hi = vdq_chain_in_byte(&c, offsetof(struct virtio_net_hdr, num_buffers) + 1);
            coff = NET_HDR;
        }
        take = c.in_len - coff < len - foff ? c.in_len - coff : len - foff;
        net_copy_out(n, &c, coff, foff, take);
        foff += take;
        written = hostile_chain(d, VIRTIO_NET_RXQ, &c, coff + take);
        n->mrg_head[chains] = c.head;
        n->mrg_len[chains] = written;
        chains++;
        if (foff < len && chains >= q->cfg.num) {
            /* The whole ring is not enough: it never will be. */
            drop = true;
            break;
        }
    }
    if (!drop) {
        uint16_t nb = chains;

        if (n->lie_num_buffers >= 0) {
            nb = (uint16_t)n->lie_num_buffers; /* a lying device, for driver tests */
            n->lie_num_buffers = -1;
    n->lie_csum_start = -1;
        }
        /* num_buffers, little-endian, in the first chain's header. */
        *nb_lo = (uint8_t)(nb & 0xff);
        *nb_hi = (uint8_t)(nb >> 8);
        n->stats.rx_frames++;
        n->stats.rx_bytes += len;
        if (chains > 1)
            n->stats.rx_merged++;
        if (n->meta[n->head].flags)
            n->stats.rx_csum_passed++;
    } else {
        n->stats.rx_mrg_dropped++;
        n->stats.dropped++;
    }
    net_frame_drop_head(n);
    return net_mrg_release(d, chains, drop) ? -EIO : 1;
}

/* The deliver loop for MRG_RXBUF (vdev_queue_deliver's shape, with a frame
 * taking several chains). */
static int net_rx_deliver_mrg(struct vdev *d)
{
    struct dev_net *n = net_of(d);
    struct vdq *q;
    uint64_t pushed_before;
    int r, err;

    if (!vdev_is_queue_live(d, VIRTIO_NET_RXQ))
        return 0;
    q = &d->queues[VIRTIO_NET_RXQ].q;
    /* All chains of one frame must become visible together: Linux's
     * driver takes num_buffers buffers at once and drops the frame if they
     * are not all used yet; QEMU fills them and then flushes once. So
     * used->idx is published by vdq_interrupt_prepare() (vdev_signal_used)
     * after whole frames, not on every push. Set here, not at activate, so
     * a queue restored from a snapshot (vdq_init_state) gets it too. */
    q->cfg.publish_on_interrupt = true;
    pushed_before = q->stats.pushed;
    for (;;) {
        r = 1;
        while (n->count > 0 && (r = net_rx_mrg_one(d)) == 1)
            ;
        vdev_signal_used(d, VIRTIO_NET_RXQ);
        if (r < 0)
            return -EIO;
        if (n->count == 0)
            break;
        /* Waiting for buffers: ask for a kick once the driver adds past
         * what we have seen (the given-back chains are already there, so
         * vdq_enable_notify's "anything pending?" would say yes), and
         * re-check (2.7.10). */
        err = vdq_enable_notify_more(q);
        if (err == 0)
            break;
        if (err != -EAGAIN)
            return -EIO;
    }
    return (int)(q->stats.pushed - pushed_before);
}

/* Deliver the backlog to receiveq; chains completed or -EIO. */
static int net_rx_flush(struct vdev *d)
{
    if (vdev_has_feature(d, VIRTIO_NET_F_MRG_RXBUF))
        return net_rx_deliver_mrg(d);
    return vdev_queue_deliver(d, VIRTIO_NET_RXQ, net_has_rx, net_rx_chain);
}

static int net_process(struct vdev *d, unsigned qi)
{
    int tx = 0, rx;

    if (qi == VIRTIO_NET_CTRLQ) {
        /* 5.1.2: controlq only exists with VIRTIO_NET_F_CTRL_VQ. */
        if (!vdev_has_feature(d, VIRTIO_NET_F_CTRL_VQ))
            return 0;
        return vdev_queue_drain(d, qi, net_ctrl_chain);
    }
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
    net_filter_reset(n); /* 5.1.6.5.2: "empty MAC filtering table on reset" */
}

static void net_destroy(struct vdev *d)
{
    struct dev_net *n = net_of(d);

    virt_free(n->bytes);
    virt_free(n);
}

/* Snapshot blob: mac[6] (the current one: MAC_ADDR_SET changes it), pad
 * u8 (0), link u8 (1: down), count u32 (frames in the backlog), bytes u32
 * (their total length), count x len u32, then the frames' bytes in FIFO
 * order (canonical: a load starts the rings at 0), then count x 6 bytes of
 * per-frame checksum meta and the receive filter (net_ext_save). The mtu is a
 * create option that never changes (5.1.4.1 "MUST NOT modify mtu"), so
 * it is not state: the restoring side is created with the same options. The backlog is
 * the only device-held data in flight: TX chains are completed when their
 * frame enters it, RX chains when a frame leaves it. */
#define NET_STATE_HDR 16

static uint32_t net_state_size(const struct vdev *d)
{
    const struct dev_net *n = net_of(d);

    return NET_STATE_HDR + (4 + NET_META_STATE) * n->count + n->bytes_used + NET_FILT_STATE;
}

static void net_state_save(const struct vdev *d, uint8_t *out)
{
    const struct dev_net *n = net_of(d);
    uint8_t *p = out + NET_STATE_HDR;
    uint32_t i, pos = n->bytes_head;

    memcpy(out, n->cfg.mac, 6);
    out[6] = 0;
    out[7] = n->link_down ? 1 : 0; /* the link (vdev_net_set_link) */
    snap_put32(out + 8, n->count);
    snap_put32(out + 12, n->bytes_used);
    for (i = 0; i < n->count; i++, p += 4)
        snap_put32(p, n->frame_len[(n->head + i) % VDEV_NET_BACKLOG]);
    for (i = 0; i < n->bytes_used; i++)
        p[i] = n->bytes[(pos + i) % VDEV_NET_BACKLOG_BYTES];
    net_ext_save(n, p + n->bytes_used);
}

static const char *net_state_check(const struct vdev *d, const uint8_t *p, uint32_t len)
{
    uint32_t count, bytes, i;
    uint64_t sum = 0;

    (void)d;
    if (len < NET_STATE_HDR)
        return "net state shorter than its header";
    if (p[6])
        return "net padding not zero";
    if (p[7] > 1)
        return "net link flag neither 0 nor 1";
    count = snap_get32(p + 8);
    bytes = snap_get32(p + 12);
    if (count > VDEV_NET_BACKLOG)
        return "net backlog holds more than 64 frames";
    if (bytes > VDEV_NET_BACKLOG_BYTES)
        return "net backlog holds more than 256 KiB";
    if ((uint64_t)len != NET_STATE_HDR + (4ull + NET_META_STATE) * count + bytes + NET_FILT_STATE)
        return "net state length does not match its backlog";
    for (i = 0; i < count; i++) {
        uint32_t fl = snap_get32(p + NET_STATE_HDR + 4 * i);

        if (fl > VDEV_NET_MAX_FRAME)
            return "net backlog frame above 65536 bytes";
        sum += fl;
    }
    if (sum != bytes)
        return "net frame lengths do not add up to the backlog bytes";
    if (p[0] & 1)
        return "net mac is a multicast address";
    return net_ext_check(p + NET_STATE_HDR + 4 * count + bytes, count, p + NET_STATE_HDR);
}

static void net_state_load(struct vdev *d, const uint8_t *p, uint32_t len)
{
    struct dev_net *n = net_of(d);
    uint32_t i;

    (void)len;
    memcpy(n->cfg.mac, p, 6);
    n->link_down = p[7] != 0;
    n->cfg.status = vr_cpu_to_le16(n->link_down ? 0 : VIRTIO_NET_S_LINK_UP);
    n->count = snap_get32(p + 8);
    n->bytes_used = snap_get32(p + 12);
    n->head = 0;
    n->bytes_head = 0;
    for (i = 0; i < n->count; i++)
        n->frame_len[i] = snap_get32(p + NET_STATE_HDR + 4 * i);
    memcpy(n->bytes, p + NET_STATE_HDR + 4 * n->count, n->bytes_used);
    net_ext_load(n, p + NET_STATE_HDR + 4 * n->count + n->bytes_used);
}

static const struct vdev_ops net_ops = {
    .type = "net",
    .device_id = VIRTIO_ID_NET,
    .num_queues = 3, /* receiveq1, transmitq1, controlq (5.1.2, N = 1) */
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
    return vdev_net_create_mtu(d, mem, mac, VDEV_NET_DEFAULT_MTU);
}

int vdev_net_create_mtu(struct vdev *d, const struct vdq_mem *mem, const uint8_t *mac,
                        uint16_t mtu)
{
    static const uint8_t default_mac[6] = VDEV_NET_DEFAULT_MAC;
    uint64_t features = (1ull << VIRTIO_F_VERSION_1) | (1ull << VIRTIO_F_EVENT_IDX) |
                        (1ull << VIRTIO_F_INDIRECT_DESC) | (1ull << VIRTIO_NET_F_MAC) |
                        (1ull << VIRTIO_NET_F_STATUS) | (1ull << VIRTIO_NET_F_MRG_RXBUF) |
                        (1ull << VIRTIO_NET_F_CTRL_VQ) | (1ull << VIRTIO_NET_F_CTRL_RX) |
                        (1ull << VIRTIO_NET_F_CTRL_RX_EXTRA) | (1ull << VIRTIO_NET_F_CTRL_MAC_ADDR) |
                        (1ull << VIRTIO_NET_F_CSUM) | (1ull << VIRTIO_NET_F_GUEST_CSUM);
    struct dev_net *n;

    if (!d || !mem)
        return -EINVAL;
    /* 5.1.4.1: mtu 68..65535 when offered; 0 here: MTU not offered. And
     * mtu + 14 must fit a backlog frame. */
    if (mtu && (mtu < 68 || (uint32_t)mtu + NET_ETH_HLEN > VDEV_NET_MAX_FRAME))
        return -EINVAL;
    if (mtu)
        features |= 1ull << VIRTIO_NET_F_MTU;
    n = virt_zalloc(sizeof(*n));
    if (!n)
        return -ENOMEM;
    n->bytes = virt_zalloc(VDEV_NET_BACKLOG_BYTES);
    if (!n->bytes)
        goto err_free;
    memcpy(n->create_mac, mac ? mac : default_mac, sizeof(n->create_mac));
    net_filter_reset(n); /* and cfg.mac = create_mac */
    n->cfg.status = vr_cpu_to_le16(VIRTIO_NET_S_LINK_UP);
    n->cfg.max_virtqueue_pairs = vr_cpu_to_le16(1);
    n->mtu = mtu;
    n->lie_num_buffers = -1;
    n->lie_csum_start = -1;
    n->cfg.mtu = vr_cpu_to_le16(mtu);
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

/* 5.1.4: status LINK_UP follows the cable; a change raises the
 * configuration change interrupt (4.x "device configuration change"). */
void vdev_net_set_link(struct vdev *d, bool up)
{
    struct dev_net *n = net_of(d);

    if (n->link_down == !up)
        return;
    n->link_down = !up;
    n->cfg.status = vr_cpu_to_le16(up ? VIRTIO_NET_S_LINK_UP : 0);
    n->stats.link_changes++;
    vdev_signal_config(d);
}

bool vdev_net_link_up(const struct vdev *d)
{
    return !net_of(d)->link_down;
}

void vdev_net_lie_num_buffers(struct vdev *d, uint16_t nb)
{
    net_of(d)->lie_num_buffers = nb;
}

void vdev_net_get_rx_filter(const struct vdev *d, struct vdev_net_rx_filter *f)
{
    *f = net_of(d)->filt;
}

void vdev_net_get_mac(const struct vdev *d, uint8_t mac[6])
{
    memcpy(mac, net_of(d)->cfg.mac, 6);
}

bool vdev_net_rx_accepts(const struct vdev *d, const uint8_t dst[6])
{
    return net_filter_accepts(d, dst);
}
