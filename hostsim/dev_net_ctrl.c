/* SPDX-License-Identifier: Apache-2.0 */
/*
 * dev_net_ctrl.c - the loopback net model's control queue, receive filter
 * and checksum offload (VIRTIO 1.2 5.1.6.5, 5.1.6.2, 5.1.6.4).
 *
 * Control queue (5.1.6.5, queue 2 when VIRTIO_NET_F_CTRL_VQ is
 * negotiated): each chain is class, command, command-specific data
 * (device-readable) and the ack byte (the first device-writable byte).
 * Every well-formed chain is answered VIRTIO_NET_OK or VIRTIO_NET_ERR, and
 * the state changes before the chain is used ("MUST update the MAC
 * filtering table before it consumes the ... command"). ERR, state
 * unchanged, for: a class/command we do not know, a command whose feature
 * was not negotiated (CTRL_RX for PROMISC/ALLMULTI and the MAC table,
 * CTRL_RX_EXTRA for ALLUNI/NOMULTI/NOUNI/NOBCAST, CTRL_MAC_ADDR for
 * MAC_ADDR_SET), an RX-mode byte other than 0/1, a payload of the wrong
 * length (short, or table entries counted past its end, or bytes after the
 * second table), a multicast address in the unicast table (or the other
 * way round, 5.1.6.5.2 "non-multicast MAC addresses ... multicast
 * addresses"), and a multicast station address. A chain without a
 * device-writable byte cannot be answered: it is returned with len 0 and
 * counted (ctrl_bad); one shorter than class + command gets ERR and counts
 * as a bad chain. Nothing of it is fatal: the queue keeps serving.
 *
 * Receive filter (5.1.6.5.1, 5.1.6.5.2), applied to each frame the
 * loopback transmit path would hand to the receive queue, by destination
 * mac: PROMISC passes everything ("SHOULD take effect even if one of the
 * other modes ... is on"); broadcast passes unless NOBCAST; multicast is
 * dropped under NOMULTI ("even if ALLMULTI is on"), else passes with
 * ALLMULTI, an overflowing multicast table, or a table hit; unicast is
 * dropped under NOUNI, else passes with ALLUNI, an overflowing unicast
 * table, the station mac (cfg.mac, or the one MAC_ADDR_SET gave) or a
 * table hit ("SHOULD drop incoming packets which have a destination MAC
 * which matches neither the mac ... nor the MAC filtering table"). A frame
 * shorter than a mac passes only in promiscuous mode.
 *
 * Checksum (5.1.6.2 / 5.1.6.4): with VIRTIO_NET_F_CSUM a TX header may
 * carry NEEDS_CSUM; csum_start + csum_offset + 2 must lie within the frame
 * (else the frame is dropped and counted: the device cannot complete a
 * checksum outside it). With GUEST_CSUM negotiated the header goes to the
 * receive side as it came (NEEDS_CSUM, csum_start, csum_offset: the
 * checksum is still partial, which 5.1.6.4 allows); without it the device
 * completes the checksum before delivery ("MUST set flags to zero and
 * SHOULD supply a fully checksummed packet"): the ones' complement sum from
 * csum_start to the end of the frame, complemented, stored big-endian at
 * csum_start + csum_offset. Without CSUM the flag is not one we recognise
 * ("MUST ignore flag bits that it does not recognize") and the frame goes
 * as it is.
 */
#include <string.h>

#include "dev_net_internal.h"
#include "snap_le.h"
#include "virtio_platform.h"

static const uint8_t net_bcast[6] = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff};

void net_filter_reset(struct dev_net *n)
{
    memset(&n->filt, 0, sizeof(n->filt));
    n->filt.mode[VIRTIO_NET_CTRL_RX_PROMISC] = 1;
    memcpy(n->cfg.mac, n->create_mac, 6);
}

static bool net_in_table(const uint8_t (*t)[6], uint32_t n, const uint8_t dst[6])
{
    uint32_t i;

    for (i = 0; i < n && i < VDEV_NET_MAC_TABLE; i++)
        if (!memcmp(t[i], dst, 6))
            return true;
    return false;
}

bool net_filter_accepts(const struct vdev *d, const uint8_t dst[6])
{
    const struct dev_net *n = net_of(d);
    const struct vdev_net_rx_filter *f = &n->filt;

    if (f->mode[VIRTIO_NET_CTRL_RX_PROMISC])
        return true;
    if (!memcmp(dst, net_bcast, 6))
        return !f->mode[VIRTIO_NET_CTRL_RX_NOBCAST];
    if (dst[0] & 1) {
        if (f->mode[VIRTIO_NET_CTRL_RX_NOMULTI])
            return false;
        if (f->mode[VIRTIO_NET_CTRL_RX_ALLMULTI] || f->multi_overflow)
            return true;
        return net_in_table(f->multi, f->n_multi, dst);
    }
    if (f->mode[VIRTIO_NET_CTRL_RX_NOUNI])
        return false;
    if (f->mode[VIRTIO_NET_CTRL_RX_ALLUNI] || f->uni_overflow)
        return true;
    if (!memcmp(dst, n->cfg.mac, 6))
        return true;
    return net_in_table(f->uni, f->n_uni, dst);
}

/* ---- control queue ---- */

static uint8_t net_ctrl_rx(struct vdev *d, uint8_t cmd, const struct vdq_chain *c, uint32_t dlen)
{
    unsigned need = cmd <= VIRTIO_NET_CTRL_RX_ALLMULTI ? VIRTIO_NET_F_CTRL_RX
                                                        : VIRTIO_NET_F_CTRL_RX_EXTRA;
    uint8_t on;

    if (cmd > VIRTIO_NET_CTRL_RX_NOBCAST || !vdev_has_feature(d, need) || dlen != 1)
        return VIRTIO_NET_ERR;
    vdq_chain_read(c, 2, &on, 1);
    if (on > 1)
        return VIRTIO_NET_ERR; /* 5.1.6.5.1: "one byte containing 0 (off) or 1 (on)" */
    net_of(d)->filt.mode[cmd] = on;
    return VIRTIO_NET_OK;
}

/* One table of MAC_TABLE_SET at *off (data offset): le32 count, then count
 * macs, each with the group bit equal to multicast. */
static bool net_ctrl_table(const struct vdq_chain *c, uint32_t dlen, uint32_t *off,
                           bool multicast, uint8_t (*t)[6], uint32_t *n, uint8_t *overflow)
{
    uint8_t le[4], mac[6];
    uint32_t cnt, i;

    if (dlen - *off < 4)
        return false;
    vdq_chain_read(c, 2 + *off, le, 4);
    cnt = snap_get32(le);
    *off += 4;
    /* Untrusted count: the entries must be in the payload. */
    if ((uint64_t)cnt * 6 > dlen - *off)
        return false;
    for (i = 0; i < cnt; i++, *off += 6) {
        vdq_chain_read(c, 2 + *off, mac, 6);
        if (((mac[0] & 1) != 0) != multicast)
            return false;
        if (i < VDEV_NET_MAC_TABLE)
            memcpy(t[i], mac, 6);
    }
    *n = cnt > VDEV_NET_MAC_TABLE ? VDEV_NET_MAC_TABLE : cnt;
    *overflow = cnt > VDEV_NET_MAC_TABLE;
    return true;
}

static uint8_t net_ctrl_mac(struct vdev *d, uint8_t cmd, const struct vdq_chain *c, uint32_t dlen)
{
    struct dev_net *n = net_of(d);
    struct vdev_net_rx_filter t;
    uint32_t off = 0;
    uint8_t mac[6];

    if (cmd == VIRTIO_NET_CTRL_MAC_ADDR_SET) {
        if (!vdev_has_feature(d, VIRTIO_NET_F_CTRL_MAC_ADDR) || dlen != 6)
            return VIRTIO_NET_ERR;
        vdq_chain_read(c, 2, mac, 6);
        if (mac[0] & 1)
            return VIRTIO_NET_ERR; /* a group address is no station address */
        /* "MUST update mac in config space before it consumes the
         * VIRTIO_NET_CTRL_MAC_ADDR_SET command" (5.1.6.5.2). */
        memcpy(n->cfg.mac, mac, 6);
        return VIRTIO_NET_OK;
    }
    if (cmd != VIRTIO_NET_CTRL_MAC_TABLE_SET || !vdev_has_feature(d, VIRTIO_NET_F_CTRL_RX))
        return VIRTIO_NET_ERR;
    /* Parse both tables into a copy; the filter changes only if all of
     * the payload is right, and it is exactly the two tables. */
    t = n->filt;
    memset(t.uni, 0, sizeof(t.uni));
    memset(t.multi, 0, sizeof(t.multi));
    if (!net_ctrl_table(c, dlen, &off, false, t.uni, &t.n_uni, &t.uni_overflow) ||
        !net_ctrl_table(c, dlen, &off, true, t.multi, &t.n_multi, &t.multi_overflow) ||
        off != dlen)
        return VIRTIO_NET_ERR;
    n->filt = t;
    return VIRTIO_NET_OK;
}

bool net_ctrl_chain(struct vdev *d, unsigned qi, const struct vdq_chain *c, uint32_t *written)
{
    struct dev_net *n = net_of(d);
    uint8_t hdr[2], ack = VIRTIO_NET_ERR;
    bool bad = false;

    (void)qi;
    *written = 0;
    if (c->in_len < 1) {
        /* No device-writable ack byte (a readable one, or none). */
        n->stats.ctrl_bad++;
        return true;
    }
    if (c->out_len < 2) {
        bad = true; /* not even class + command */
    } else {
        uint32_t dlen = c->out_len - 2;

        vdq_chain_read(c, 0, hdr, 2);
        if (hdr[0] == VIRTIO_NET_CTRL_RX)
            ack = net_ctrl_rx(d, hdr[1], c, dlen);
        else if (hdr[0] == VIRTIO_NET_CTRL_MAC)
            ack = net_ctrl_mac(d, hdr[1], c, dlen);
    }
    if (ack == VIRTIO_NET_OK)
        n->stats.ctrl_ok++;
    else
        n->stats.ctrl_err++;
    vdq_chain_write(c, 0, &ack, 1);
    *written = 1;
    return bad;
}

/* ---- checksum offload ---- */

static uint8_t *net_ring(struct dev_net *n, uint32_t pos, uint32_t i)
{
    return &n->bytes[(pos + i) % VDEV_NET_BACKLOG_BYTES];
}

bool net_csum_tx(struct vdev *d, const struct virtio_net_hdr *h, unsigned slot, uint32_t pos,
                 uint32_t len)
{
    struct dev_net *n = net_of(d);
    struct net_frame_meta *m = &n->meta[slot];
    uint32_t start, off, i, sum = 0;
    uint16_t res;

    memset(m, 0, sizeof(*m));
    if (!vdev_has_feature(d, VIRTIO_NET_F_CSUM) || !(h->flags & VIRTIO_NET_HDR_F_NEEDS_CSUM))
        return true;
    start = vr_le16_to_cpu(h->csum_start);
    off = vr_le16_to_cpu(h->csum_offset);
    if (start + off + 2 > len) {
        n->stats.tx_csum_bad++;
        return false;
    }
    if (vdev_has_feature(d, VIRTIO_NET_F_GUEST_CSUM)) {
        m->flags = VIRTIO_NET_HDR_F_NEEDS_CSUM;
        m->csum_start = (uint16_t)start;
        m->csum_offset = (uint16_t)off;
        return true;
    }
    /* 16-bit big-endian words from csum_start (the field holds the
     * pseudo-header sum), an odd last byte padded with zero. */
    for (i = start; i + 1 < len; i += 2)
        sum += (uint32_t)*net_ring(n, pos, i) << 8 | *net_ring(n, pos, i + 1);
    if (i < len)
        sum += (uint32_t)*net_ring(n, pos, i) << 8;
    while (sum >> 16)
        sum = (sum & 0xffff) + (sum >> 16);
    res = (uint16_t)~sum;
    *net_ring(n, pos, start + off) = (uint8_t)(res >> 8);
    *net_ring(n, pos, start + off + 1) = (uint8_t)res;
    n->stats.tx_csum_done++;
    return true;
}

void net_rx_hdr(struct vdev *d, struct virtio_net_hdr *h)
{
    struct dev_net *n = net_of(d);
    const struct net_frame_meta *m = &n->meta[n->head];

    memset(h, 0, sizeof(*h));
    h->gso_type = VIRTIO_NET_HDR_GSO_NONE;
    if (n->lie_csum_start >= 0) {
        /* A lying device, for driver tests: offsets of our choosing,
         * GUEST_CSUM or not. */
        h->flags = VIRTIO_NET_HDR_F_NEEDS_CSUM;
        h->csum_start = vr_cpu_to_le16((uint16_t)n->lie_csum_start);
        h->csum_offset = vr_cpu_to_le16(n->lie_csum_offset);
        n->lie_csum_start = -1;
        return;
    }
    /* meta carries NEEDS_CSUM only when GUEST_CSUM was negotiated. */
    if (m->flags & VIRTIO_NET_HDR_F_NEEDS_CSUM) {
        h->flags = VIRTIO_NET_HDR_F_NEEDS_CSUM;
        h->csum_start = vr_cpu_to_le16(m->csum_start);
        h->csum_offset = vr_cpu_to_le16(m->csum_offset);
    }
}

/* ---- snapshot tail ---- */

void net_ext_save(const struct dev_net *n, uint8_t *p)
{
    const struct vdev_net_rx_filter *f = &n->filt;
    uint32_t i;

    for (i = 0; i < n->count; i++, p += NET_META_STATE) {
        const struct net_frame_meta *m = &n->meta[(n->head + i) % VDEV_NET_BACKLOG];

        p[0] = m->flags;
        p[1] = 0;
        snap_put16(p + 2, m->csum_start);
        snap_put16(p + 4, m->csum_offset);
    }
    memcpy(p, f->mode, 6);
    p[6] = f->uni_overflow;
    p[7] = f->multi_overflow;
    snap_put32(p + 8, f->n_uni);
    snap_put32(p + 12, f->n_multi);
    memcpy(p + 16, f->uni, sizeof(f->uni));
    memcpy(p + 16 + sizeof(f->uni), f->multi, sizeof(f->multi));
}

const char *net_ext_check(const uint8_t *p, uint32_t count, const uint8_t *lens)
{
    uint32_t i;

    for (i = 0; i < count; i++, p += NET_META_STATE) {
        uint32_t fl = snap_get32(lens + 4 * i);

        if (p[0] & ~VIRTIO_NET_HDR_F_NEEDS_CSUM || p[1])
            return "net frame flags other than NEEDS_CSUM";
        if (p[0] && (uint32_t)snap_get16(p + 2) + snap_get16(p + 4) + 2 > fl)
            return "net frame checksum offsets outside the frame";
    }
    for (i = 0; i < 8; i++)
        if (p[i] > 1)
            return "net rx mode flag neither 0 nor 1";
    if (snap_get32(p + 8) > VDEV_NET_MAC_TABLE || snap_get32(p + 12) > VDEV_NET_MAC_TABLE)
        return "net mac table longer than 64 entries";
    return NULL;
}

void net_ext_load(struct dev_net *n, const uint8_t *p)
{
    struct vdev_net_rx_filter *f = &n->filt;
    uint32_t i;

    for (i = 0; i < n->count; i++, p += NET_META_STATE) {
        n->meta[i].flags = p[0];
        n->meta[i].pad = 0;
        n->meta[i].csum_start = snap_get16(p + 2);
        n->meta[i].csum_offset = snap_get16(p + 4);
    }
    memcpy(f->mode, p, 6);
    f->uni_overflow = p[6];
    f->multi_overflow = p[7];
    f->n_uni = snap_get32(p + 8);
    f->n_multi = snap_get32(p + 12);
    memcpy(f->uni, p + 16, sizeof(f->uni));
    memcpy(f->multi, p + 16 + sizeof(f->uni), sizeof(f->multi));
}

void vdev_net_lie_csum(struct vdev *d, uint16_t csum_start, uint16_t csum_offset)
{
    net_of(d)->lie_csum_start = csum_start;
    net_of(d)->lie_csum_offset = csum_offset;
}
