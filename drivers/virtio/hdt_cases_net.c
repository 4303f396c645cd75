/* SPDX-License-Identifier: Apache-2.0 */
/*
 * hdt_cases_net.c - hostile-driver device-request cases for net (5.1): each
 * breaks the clause it names (oasis-tcs/virtio-spec
 * device-types/net/description.tex), except the "ctl." and
 * "edge." cases: well-formed or legal-but-unusual requests the device MUST
 * serve (2.7.4.1 "The device MUST NOT make assumptions about the
 * particular arrangement of descriptors").
 *
 * The queue a case runs on, the probe and the aux queue come from the case
 * flags (hdt_dev.h). Receive-side cases post their hostile buffers on the
 * receive queue and then transmit one frame / a few bytes on the aux queue,
 * so that a loopback device (ours; QEMU with a looped netdev) has something
 * to deliver; a device that never receives leaves them unconsumed (REJECT).
 * Descriptors 0..qsize-4 are the case's. A used len that counts a writable
 * buffer outside RAM is a FAIL here as for blk (the device says it wrote
 * memory that does not exist); the random mode (hdt_random.c) lets it pass.
 */
#include <errno.h>
#include <string.h>

#include "hdt_dev.h"
#include "virtio_platform.h"

#define F_N VIRTQ_DESC_F_NEXT
#define F_W VIRTQ_DESC_F_WRITE
#define OUTSIDE_RAM (1ull << 46) /* far above any RAM a test machine has */
#define NET VIRTIO_ID_NET
#define RXQ HDT_DEV_RXQ
#define GSO_TCPV4 1
#define GSO_UDP 3
#define GSO_ECN 0x80
#define BIG_CHUNK (16u << 10)

/* ---- net shapes ---- */

/* A tx frame at 0,1 whose header the caller edits before posting. */
static struct virtio_net_hdr *tx_hdr(struct hdt_ctx *c, uint32_t frame_len)
{
    struct virtio_net_hdr *h;

    (void)hdt_net_tx(c, 0, frame_len, &h);
    return h;
}

/* A tx frame of total bytes: header, then descriptors of up to BIG_CHUNK
 * bytes each, all naming one readable buffer (the device only reads). */
static int tx_big(struct hdt_ctx *c, uint32_t total)
{
    struct virtq_desc *t = hdt_desc_table(c);
    struct virtio_net_hdr *h = hdt_net_hdr(c, HDT_NET_HDR);
    uint64_t a;
    uint8_t *f = hdt_buf(c, BIG_CHUNK, false, &a);
    unsigned i = 1;

    hdt_net_frame(f, BIG_CHUNK);
    hdt_set_desc(t, 0, hdt_dma_of(c, h), HDT_NET_HDR, F_N, 1);
    while (total && i < c->qsize - 3) {
        uint32_t n = total < BIG_CHUNK ? total : BIG_CHUNK;

        total -= n;
        hdt_set_desc(t, i, a, n, total ? F_N : 0, (uint16_t)(i + 1));
        i++;
    }
    if (total) {
        hdt_note(c->note, "frame does not fit the queue");
        return -ENOSPC;
    }
    return hdt_post0(c);
}

/* ---- control ---- */

static int ctl_net_rx(struct hdt_ctx *c)
{
    /* 5.1.6.3.1: at least 1526 bytes without MRG_RXBUF / GSO. */
    return hdt_rx_one(c, 1526, F_W);
}

/* ---- net transmit (5.1.6.2) ---- */

static int net_tx_short_hdr(struct hdt_ctx *c)
{
    uint8_t *h = (uint8_t *)hdt_net_hdr(c, HDT_NET_HDR);

    hdt_set_desc(hdt_desc_table(c), 0, hdt_dma_of(c, h), 8, 0, 0);
    return hdt_post0(c);
}

static int net_tx_hdr_only(struct hdt_ctx *c)
{
    uint8_t *h = (uint8_t *)hdt_net_hdr(c, HDT_NET_HDR);

    hdt_set_desc(hdt_desc_table(c), 0, hdt_dma_of(c, h), HDT_NET_HDR, 0, 0);
    return hdt_post0(c);
}

static int net_tx_runt(struct hdt_ctx *c)
{
    (void)tx_hdr(c, 6); /* a destination address and nothing else */
    return hdt_post0(c);
}

static int net_tx_above_1514(struct hdt_ctx *c)
{
    return tx_big(c, 4000);
}

static int net_tx_above_64k(struct hdt_ctx *c)
{
    return tx_big(c, 65550 - HDT_NET_HDR + 4096);
}

static int net_tx_above_mtu(struct hdt_ctx *c)
{
    uint16_t mtu = 0;

    /* 5.1.4: le16 mtu at offset 10. */
    c->dev->ops->read_config(c->dev, 10, &mtu, sizeof(mtu));
    if (mtu < 68) {
        hdt_note(c->note, "mtu below 68 in config");
        return -EINVAL;
    }
    return tx_big(c, (uint32_t)mtu + 14u + 1u);
}

static int net_tx_gso_unknown(struct hdt_ctx *c)
{
    struct virtio_net_hdr *h = tx_hdr(c, HDT_NET_FRAME);

    h->gso_type = 2; /* not defined */
    h->gso_size = 100;
    h->flags = VIRTIO_NET_HDR_F_NEEDS_CSUM;
    return hdt_post0(c);
}

static int net_tx_gso_tcpv4(struct hdt_ctx *c)
{
    struct virtio_net_hdr *h = tx_hdr(c, HDT_NET_FRAME);

    h->gso_type = GSO_TCPV4;
    h->gso_size = 16;
    h->hdr_len = 54;
    h->flags = VIRTIO_NET_HDR_F_NEEDS_CSUM;
    h->csum_start = 34;
    h->csum_offset = 16;
    return hdt_post0(c);
}

static int net_tx_gso_udp(struct hdt_ctx *c)
{
    struct virtio_net_hdr *h = tx_hdr(c, HDT_NET_FRAME);

    h->gso_type = GSO_UDP;
    h->gso_size = 8;
    h->flags = VIRTIO_NET_HDR_F_NEEDS_CSUM;
    h->csum_start = 34;
    h->csum_offset = 6;
    return hdt_post0(c);
}

static int net_tx_gso_ecn(struct hdt_ctx *c)
{
    struct virtio_net_hdr *h = tx_hdr(c, HDT_NET_FRAME);

    h->gso_type = GSO_TCPV4 | GSO_ECN;
    h->gso_size = 16;
    h->flags = VIRTIO_NET_HDR_F_NEEDS_CSUM;
    h->csum_start = 34;
    h->csum_offset = 16;
    return hdt_post0(c);
}

static int net_tx_gso_no_csum(struct hdt_ctx *c)
{
    struct virtio_net_hdr *h = tx_hdr(c, HDT_NET_FRAME);

    h->gso_type = GSO_TCPV4; /* and neither NEEDS_CSUM nor gso_size */
    return hdt_post0(c);
}

static int net_tx_hdr_len_past(struct hdt_ctx *c)
{
    struct virtio_net_hdr *h = tx_hdr(c, HDT_NET_FRAME);

    h->hdr_len = 0xffff;
    return hdt_post0(c);
}

static int net_tx_csum_no_feature(struct hdt_ctx *c)
{
    struct virtio_net_hdr *h = tx_hdr(c, HDT_NET_FRAME);

    h->flags = VIRTIO_NET_HDR_F_NEEDS_CSUM;
    h->csum_start = 34;
    h->csum_offset = 16;
    return hdt_post0(c);
}

static int net_tx_csum_past(struct hdt_ctx *c)
{
    struct virtio_net_hdr *h = tx_hdr(c, HDT_NET_FRAME);

    h->flags = VIRTIO_NET_HDR_F_NEEDS_CSUM;
    h->csum_start = 0xfff0;
    h->csum_offset = 0x20;
    return hdt_post0(c);
}

static int net_tx_csum_at_end(struct hdt_ctx *c)
{
    struct virtio_net_hdr *h = tx_hdr(c, HDT_NET_FRAME);

    /* The checksum's two bytes would straddle the frame's end. */
    h->flags = VIRTIO_NET_HDR_F_NEEDS_CSUM;
    h->csum_start = HDT_NET_FRAME - 2;
    h->csum_offset = 1;
    return hdt_post0(c);
}

static int net_tx_data_valid(struct hdt_ctx *c)
{
    tx_hdr(c, HDT_NET_FRAME)->flags = VIRTIO_NET_HDR_F_DATA_VALID;
    return hdt_post0(c);
}

static int net_tx_rsc_info(struct hdt_ctx *c)
{
    tx_hdr(c, HDT_NET_FRAME)->flags = 4; /* VIRTIO_NET_HDR_F_RSC_INFO */
    return hdt_post0(c);
}

static int net_tx_num_buffers(struct hdt_ctx *c)
{
    tx_hdr(c, HDT_NET_FRAME)->num_buffers = 5;
    return hdt_post0(c);
}

static int net_tx_writable_frame(struct hdt_ctx *c)
{
    struct virtq_desc *t = hdt_desc_table(c);

    (void)tx_hdr(c, HDT_NET_FRAME);
    t[1].flags |= F_W;
    /* A device that writes there may (the flag said so): not the oracle's. */
    hdt_mark_writable(c, c->arena + (t[1].addr - c->dma), HDT_NET_FRAME);
    return hdt_post0(c);
}

static int net_tx_all_writable(struct hdt_ctx *c)
{
    struct virtq_desc *t = hdt_desc_table(c);

    (void)tx_hdr(c, HDT_NET_FRAME);
    t[0].flags |= F_W;
    t[1].flags |= F_W;
    hdt_mark_writable(c, c->arena + (t[0].addr - c->dma), HDT_NET_HDR);
    hdt_mark_writable(c, c->arena + (t[1].addr - c->dma), HDT_NET_FRAME);
    return hdt_post0(c);
}

static int net_tx_outside_ram(struct hdt_ctx *c)
{
    (void)tx_hdr(c, HDT_NET_FRAME);
    hdt_desc_table(c)[1].addr = OUTSIDE_RAM;
    return hdt_post0(c);
}

static int edge_net_hdr_split(struct hdt_ctx *c)
{
    struct virtq_desc *t = hdt_desc_table(c);
    struct virtio_net_hdr *h = hdt_net_hdr(c, HDT_NET_HDR);
    uint64_t a;
    uint8_t *f = hdt_buf(c, HDT_NET_FRAME, false, &a);

    hdt_net_frame(f, HDT_NET_FRAME);
    hdt_set_desc(t, 0, hdt_dma_of(c, h), 5, F_N, 1);
    hdt_set_desc(t, 1, hdt_dma_of(c, h) + 5, HDT_NET_HDR - 5, F_N, 2);
    hdt_set_desc(t, 2, a, HDT_NET_FRAME, 0, 0);
    return hdt_post0(c);
}

/* ---- net receive (5.1.6.3) ---- */

static int net_rx_below_hdr(struct hdt_ctx *c)
{
    return hdt_rx_one(c, 8, F_W);
}

static int net_rx_too_small(struct hdt_ctx *c)
{
    return hdt_rx_one(c, HDT_NET_HDR + 30, F_W);
}

static int net_rx_readable(struct hdt_ctx *c)
{
    return hdt_rx_one(c, 1526, 0);
}

static int net_rx_readable_hdr(struct hdt_ctx *c)
{
    static const uint32_t len[2] = {HDT_NET_HDR, 1514};
    static const uint16_t fl[2] = {0, F_W};

    (void)hdt_rx_chain(c, 0, len, fl, 2);
    hdt_post(c, 0);
    return hdt_rx_go(c);
}

static int net_rx_outside_ram(struct hdt_ctx *c)
{
    struct virtq_desc *t = hdt_desc_table(c);

    hdt_set_desc(t, 0, OUTSIDE_RAM, 1526, F_W, 0);
    hdt_post(c, 0);
    return hdt_rx_go(c);
}

/* MRG_RXBUF: eight chains of one byte (each MUST hold a whole header). */
static int net_rx_mrg_tiny(struct hdt_ctx *c)
{
    static const uint32_t len[1] = {1};
    static const uint16_t fl[1] = {F_W};
    unsigned i;

    for (i = 0; i < 8; i++)
        (void)hdt_rx_chain(c, i, len, fl, 1);
    for (i = 0; i < 8; i++)
        hdt_post(c, (uint16_t)i);
    return hdt_rx_go(c);
}

static int net_rx_mrg_below_hdr(struct hdt_ctx *c)
{
    static const uint32_t l0[1] = {HDT_NET_HDR - 1}, l1[1] = {1526};
    static const uint16_t fl[1] = {F_W};

    (void)hdt_rx_chain(c, 0, l0, fl, 1);
    (void)hdt_rx_chain(c, 1, l1, fl, 1);
    hdt_post(c, 0);
    hdt_post(c, 1);
    return hdt_rx_go(c);
}

#define C(id, fn, dev, fl, feat, clause, desc)                                                     \
    {                                                                                              \
        id, desc, clause, dev, (fl) | (feat), fn                                                   \
    }
#define TX "5.1.6.2.1 (Driver Requirements: Packet Transmission)"
#define RXB "5.1.6.3.1 (Driver Requirements: Setting Up Receive Buffers)"
#define ANY "2.7.4.1 (device MUST NOT assume arrangement)"

static const struct hdt_case cases[] = {
    C("ctl.net_tx", hdt_valid, NET, 0, 0, "-", "control: a 60-byte frame on transmitq"),
    C("ctl.net_rx", ctl_net_rx, NET, RXQ, 0, "-",
      "control: a 1526-byte receive buffer, then a frame on transmitq"),
    C("net.tx_short_hdr", net_tx_short_hdr, NET, 0, 0,
      "5.1.6 (every packet is preceded by the 12-byte header)",
      "transmit chain of 8 bytes, shorter than virtio_net_hdr"),
    C("net.tx_hdr_only", net_tx_hdr_only, NET, 0, 0, "5.1.6.2 (the header and packet)",
      "transmit chain of a header and no packet"),
    C("net.tx_runt", net_tx_runt, NET, 0, 0, "5.1.6.2 (a packet: at least an Ethernet header)",
      "transmit frame of 6 bytes"),
    C("net.tx_above_1514", net_tx_above_1514, NET, 0, 0,
      "5.1.6.2 (packets larger than 1514 bytes only with GSO)",
      "4000-byte frame, no GSO negotiated"),
    C("net.tx_above_64k", net_tx_above_64k, NET, 0, 0,
      "5.1.6.2 / 5.1.6.3 (65550-byte packets at most)", "frame of 69634 bytes"),
    C("net.tx_above_mtu", net_tx_above_mtu, NET, 0, HDT_DEV_F_NET_MTU,
      "5.1.4.1 (driver MUST NOT transmit packets above mtu + Ethernet header)",
      "MTU negotiated, frame of mtu + 15 bytes"),
    C("net.tx_gso_unknown", net_tx_gso_unknown, NET, 0, 0, TX, "gso_type 2 (undefined)"),
    C("net.tx_gso_tcpv4", net_tx_gso_tcpv4, NET, 0, 0, TX,
      "gso_type TCPV4 without HOST_TSO4 negotiated"),
    C("net.tx_gso_udp", net_tx_gso_udp, NET, 0, 0, TX, "gso_type UDP without HOST_UFO negotiated"),
    C("net.tx_gso_ecn", net_tx_gso_ecn, NET, 0, 0, TX, "gso_type TCPV4|ECN without HOST_ECN"),
    C("net.tx_gso_no_csum", net_tx_gso_no_csum, NET, 0, 0, TX,
      "gso_type TCPV4 without NEEDS_CSUM or gso_size"),
    C("net.tx_hdr_len_past", net_tx_hdr_len_past, NET, 0, 0,
      "5.1.6.2.2 (device MUST NOT rely on hdr_len)", "hdr_len 65535 on a 60-byte frame"),
    C("net.tx_csum_no_feature", net_tx_csum_no_feature, NET, 0, 0, TX,
      "NEEDS_CSUM without VIRTIO_NET_F_CSUM negotiated"),
    C("net.tx_csum_past", net_tx_csum_past, NET, 0, HDT_DEV_F_NET_CSUM, TX,
      "CSUM negotiated, csum_start 0xfff0 past the frame"),
    C("net.tx_csum_at_end", net_tx_csum_at_end, NET, 0, HDT_DEV_F_NET_CSUM, TX,
      "CSUM negotiated, checksum field straddles the frame's end"),
    C("net.tx_data_valid", net_tx_data_valid, NET, 0, 0, TX, "DATA_VALID set on transmit"),
    C("net.tx_rsc_info", net_tx_rsc_info, NET, 0, 0, TX, "RSC_INFO set on transmit"),
    C("net.tx_num_buffers", net_tx_num_buffers, NET, 0, 0, TX, "num_buffers 5 on transmit"),
    C("net.tx_writable_frame", net_tx_writable_frame, NET, 0, 0,
      "5.1.6.2 (header and packet are output descriptors)", "frame descriptor device-writable"),
    C("net.tx_all_writable", net_tx_all_writable, NET, 0, 0,
      "5.1.6.2 (header and packet are output descriptors)", "header and frame device-writable"),
    C("net.tx_outside_ram", net_tx_outside_ram, NET, 0, 0,
      "2.7.5 (addr is a guest-physical buffer)", "frame descriptor at 64 TiB"),
    C("edge.net_hdr_split", edge_net_hdr_split, NET, 0, 0, ANY,
      "header split 5 + 7 over two descriptors"),
    C("net.rx_below_hdr", net_rx_below_hdr, NET, RXQ, 0, RXB,
      "receive buffer of 8 bytes, below the header"),
    C("net.rx_too_small", net_rx_too_small, NET, RXQ, 0, RXB,
      "receive buffer of 42 bytes (SHOULD be 1526) for a 60-byte frame"),
    C("net.rx_readable", net_rx_readable, NET, RXQ, 0,
      "5.1.6.3 (buffers for incoming packets are device-writable)",
      "receive buffer device-readable"),
    C("net.rx_readable_hdr", net_rx_readable_hdr, NET, RXQ, 0,
      "5.1.6.3 (buffers for incoming packets are device-writable)",
      "receive chain: readable 12 bytes, then writable 1514"),
    C("net.rx_outside_ram", net_rx_outside_ram, NET, RXQ, 0,
      "2.7.5 (addr is a guest-physical buffer)", "receive buffer at 64 TiB"),
    C("net.rx_mrg_tiny", net_rx_mrg_tiny, NET, RXQ, HDT_DEV_F_NET_MRG, RXB,
      "MRG_RXBUF, eight receive buffers of 1 byte"),
    C("net.rx_mrg_below_hdr", net_rx_mrg_below_hdr, NET, RXQ, HDT_DEV_F_NET_MRG, RXB,
      "MRG_RXBUF, first receive buffer of 11 bytes"),
};

const struct hdt_table hdt_table_net = {cases, sizeof(cases) / sizeof(cases[0])};
