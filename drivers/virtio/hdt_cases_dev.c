/* SPDX-License-Identifier: Apache-2.0 */
/*
 * hdt_cases_dev.c - hostile-driver device-request cases for net (5.1),
 * console (5.3), entropy (5.4) and pmem (5.19): each breaks the clause it
 * names (oasis-tcs/virtio-spec device-types/net/description.tex,
 * console/description.tex, entropy/description.tex; pmem after VIRTIO 1.2
 * 5.19.6 "Driver Requirements: Device Operation"), except the "ctl." and
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
#define CON VIRTIO_ID_CONSOLE
#define RNG VIRTIO_ID_RNG
#define PMEM VIRTIO_ID_PMEM
#define RXQ HDT_DEV_RXQ
#define CTRLQ HDT_DEV_CTRLQ
#define GSO_TCPV4 1
#define GSO_UDP 3
#define GSO_ECN 0x80
#define PMEM_OK 1u     /* ret 0 (low byte) */
#define PMEM_ERR 0xfeu /* any non-zero ret low byte (1 is Firecracker's / ours) */
#define BIG_CHUNK (16u << 10)

/* ---- shared shapes ---- */

/* One descriptor at 0 of len bytes with flags, posted. */
static int one_desc(struct hdt_ctx *c, uint32_t len, uint16_t flags)
{
    uint64_t a;

    (void)hdt_buf(c, len, flags & F_W, &a);
    hdt_set_desc(hdt_desc_table(c), 0, a, len, flags, 0);
    hdt_post(c, 0);
    return 0;
}

/* The device's well-formed request at 0, posted (the controls). */
static int valid(struct hdt_ctx *c)
{
    (void)hdt_dev_valid_req(c, 0);
    hdt_post(c, 0);
    return 0;
}

/* A tx frame at 0,1 whose header the caller edits before posting. */
static struct virtio_net_hdr *tx_hdr(struct hdt_ctx *c, uint32_t frame_len)
{
    struct virtio_net_hdr *h;

    (void)hdt_net_tx(c, 0, frame_len, &h);
    return h;
}

static int post0(struct hdt_ctx *c)
{
    hdt_post(c, 0);
    return 0;
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
    return post0(c);
}

/* Receive side: kick the receive queue for what the case posted, then send
 * one frame / bytes on the aux transmitq for the device to deliver. */
static int rx_go(struct hdt_ctx *c)
{
    hdt_kick(c);
    c->no_kick = true;
    (void)hdt_aux_tx(c, c->dev->device_id == NET ? HDT_NET_HDR + HDT_NET_FRAME : 8, false);
    return 0;
}

/* One receive chain at head: descriptors of the given lengths and flags. */
static unsigned rx_chain(struct hdt_ctx *c, unsigned head, const uint32_t *len,
                         const uint16_t *flags, unsigned n)
{
    struct virtq_desc *t = hdt_desc_table(c);
    unsigned i;
    uint64_t a;

    for (i = 0; i < n; i++) {
        (void)hdt_buf(c, len[i], flags[i] & F_W, &a);
        hdt_set_desc(t, head + i, a, len[i], (uint16_t)(flags[i] | (i + 1 < n ? F_N : 0)),
                     (uint16_t)(head + i + 1));
    }
    return head + n;
}

static int rx_one(struct hdt_ctx *c, uint32_t len, uint16_t flags)
{
    (void)rx_chain(c, 0, &len, &flags, 1);
    hdt_post(c, 0);
    return rx_go(c);
}

/* ---- controls ---- */

static int ctl_net_rx(struct hdt_ctx *c)
{
    /* 5.1.6.3.1: at least 1526 bytes without MRG_RXBUF / GSO. */
    return rx_one(c, 1526, F_W);
}

static int ctl_con_ctrl(struct hdt_ctx *c)
{
    struct virtq_desc *t = hdt_desc_table(c);
    uint8_t *m = hdt_con_ctrl(c, 0, VIRTIO_CONSOLE_DEVICE_READY, 1, 8);

    hdt_set_desc(t, 0, hdt_dma_of(c, m), 8, 0, 0);
    return post0(c);
}

static int ctl_pmem(struct hdt_ctx *c)
{
    (void)hdt_pmem_req(c, 0, VIRTIO_PMEM_REQ_TYPE_FLUSH);
    c->status_mask = PMEM_OK;
    return post0(c);
}

/* ---- net transmit (5.1.6.2) ---- */

static int net_tx_short_hdr(struct hdt_ctx *c)
{
    uint8_t *h = (uint8_t *)hdt_net_hdr(c, HDT_NET_HDR);

    hdt_set_desc(hdt_desc_table(c), 0, hdt_dma_of(c, h), 8, 0, 0);
    return post0(c);
}

static int net_tx_hdr_only(struct hdt_ctx *c)
{
    uint8_t *h = (uint8_t *)hdt_net_hdr(c, HDT_NET_HDR);

    hdt_set_desc(hdt_desc_table(c), 0, hdt_dma_of(c, h), HDT_NET_HDR, 0, 0);
    return post0(c);
}

static int net_tx_runt(struct hdt_ctx *c)
{
    (void)tx_hdr(c, 6); /* a destination address and nothing else */
    return post0(c);
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
    return post0(c);
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
    return post0(c);
}

static int net_tx_gso_udp(struct hdt_ctx *c)
{
    struct virtio_net_hdr *h = tx_hdr(c, HDT_NET_FRAME);

    h->gso_type = GSO_UDP;
    h->gso_size = 8;
    h->flags = VIRTIO_NET_HDR_F_NEEDS_CSUM;
    h->csum_start = 34;
    h->csum_offset = 6;
    return post0(c);
}

static int net_tx_gso_ecn(struct hdt_ctx *c)
{
    struct virtio_net_hdr *h = tx_hdr(c, HDT_NET_FRAME);

    h->gso_type = GSO_TCPV4 | GSO_ECN;
    h->gso_size = 16;
    h->flags = VIRTIO_NET_HDR_F_NEEDS_CSUM;
    h->csum_start = 34;
    h->csum_offset = 16;
    return post0(c);
}

static int net_tx_gso_no_csum(struct hdt_ctx *c)
{
    struct virtio_net_hdr *h = tx_hdr(c, HDT_NET_FRAME);

    h->gso_type = GSO_TCPV4; /* and neither NEEDS_CSUM nor gso_size */
    return post0(c);
}

static int net_tx_hdr_len_past(struct hdt_ctx *c)
{
    struct virtio_net_hdr *h = tx_hdr(c, HDT_NET_FRAME);

    h->hdr_len = 0xffff;
    return post0(c);
}

static int net_tx_csum_no_feature(struct hdt_ctx *c)
{
    struct virtio_net_hdr *h = tx_hdr(c, HDT_NET_FRAME);

    h->flags = VIRTIO_NET_HDR_F_NEEDS_CSUM;
    h->csum_start = 34;
    h->csum_offset = 16;
    return post0(c);
}

static int net_tx_csum_past(struct hdt_ctx *c)
{
    struct virtio_net_hdr *h = tx_hdr(c, HDT_NET_FRAME);

    h->flags = VIRTIO_NET_HDR_F_NEEDS_CSUM;
    h->csum_start = 0xfff0;
    h->csum_offset = 0x20;
    return post0(c);
}

static int net_tx_csum_at_end(struct hdt_ctx *c)
{
    struct virtio_net_hdr *h = tx_hdr(c, HDT_NET_FRAME);

    /* The checksum's two bytes would straddle the frame's end. */
    h->flags = VIRTIO_NET_HDR_F_NEEDS_CSUM;
    h->csum_start = HDT_NET_FRAME - 2;
    h->csum_offset = 1;
    return post0(c);
}

static int net_tx_data_valid(struct hdt_ctx *c)
{
    tx_hdr(c, HDT_NET_FRAME)->flags = VIRTIO_NET_HDR_F_DATA_VALID;
    return post0(c);
}

static int net_tx_rsc_info(struct hdt_ctx *c)
{
    tx_hdr(c, HDT_NET_FRAME)->flags = 4; /* VIRTIO_NET_HDR_F_RSC_INFO */
    return post0(c);
}

static int net_tx_num_buffers(struct hdt_ctx *c)
{
    tx_hdr(c, HDT_NET_FRAME)->num_buffers = 5;
    return post0(c);
}

static int net_tx_writable_frame(struct hdt_ctx *c)
{
    struct virtq_desc *t = hdt_desc_table(c);

    (void)tx_hdr(c, HDT_NET_FRAME);
    t[1].flags |= F_W;
    /* A device that writes there may (the flag said so): not the oracle's. */
    hdt_mark_writable(c, c->arena + (t[1].addr - c->dma), HDT_NET_FRAME);
    return post0(c);
}

static int net_tx_all_writable(struct hdt_ctx *c)
{
    struct virtq_desc *t = hdt_desc_table(c);

    (void)tx_hdr(c, HDT_NET_FRAME);
    t[0].flags |= F_W;
    t[1].flags |= F_W;
    hdt_mark_writable(c, c->arena + (t[0].addr - c->dma), HDT_NET_HDR);
    hdt_mark_writable(c, c->arena + (t[1].addr - c->dma), HDT_NET_FRAME);
    return post0(c);
}

static int net_tx_outside_ram(struct hdt_ctx *c)
{
    (void)tx_hdr(c, HDT_NET_FRAME);
    hdt_desc_table(c)[1].addr = OUTSIDE_RAM;
    return post0(c);
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
    return post0(c);
}

/* ---- net receive (5.1.6.3) ---- */

static int net_rx_below_hdr(struct hdt_ctx *c)
{
    return rx_one(c, 8, F_W);
}

static int net_rx_too_small(struct hdt_ctx *c)
{
    return rx_one(c, HDT_NET_HDR + 30, F_W);
}

static int net_rx_readable(struct hdt_ctx *c)
{
    return rx_one(c, 1526, 0);
}

static int net_rx_readable_hdr(struct hdt_ctx *c)
{
    static const uint32_t len[2] = {HDT_NET_HDR, 1514};
    static const uint16_t fl[2] = {0, F_W};

    (void)rx_chain(c, 0, len, fl, 2);
    hdt_post(c, 0);
    return rx_go(c);
}

static int net_rx_outside_ram(struct hdt_ctx *c)
{
    struct virtq_desc *t = hdt_desc_table(c);

    hdt_set_desc(t, 0, OUTSIDE_RAM, 1526, F_W, 0);
    hdt_post(c, 0);
    return rx_go(c);
}

/* MRG_RXBUF: eight chains of one byte (each MUST hold a whole header). */
static int net_rx_mrg_tiny(struct hdt_ctx *c)
{
    static const uint32_t len[1] = {1};
    static const uint16_t fl[1] = {F_W};
    unsigned i;

    for (i = 0; i < 8; i++)
        (void)rx_chain(c, i, len, fl, 1);
    for (i = 0; i < 8; i++)
        hdt_post(c, (uint16_t)i);
    return rx_go(c);
}

static int net_rx_mrg_below_hdr(struct hdt_ctx *c)
{
    static const uint32_t l0[1] = {HDT_NET_HDR - 1}, l1[1] = {1526};
    static const uint16_t fl[1] = {F_W};

    (void)rx_chain(c, 0, l0, fl, 1);
    (void)rx_chain(c, 1, l1, fl, 1);
    hdt_post(c, 0);
    hdt_post(c, 1);
    return rx_go(c);
}

/* ---- console (5.3.6) ---- */

static int con_tx_writable(struct hdt_ctx *c)
{
    return one_desc(c, 16, F_W);
}

static int con_tx_mixed(struct hdt_ctx *c)
{
    struct virtq_desc *t = hdt_desc_table(c);
    uint64_t a, b;
    uint8_t *p = hdt_buf(c, 8, false, &a);

    memcpy(p, "mixed..\n", 8);
    (void)hdt_buf(c, 8, true, &b);
    hdt_set_desc(t, 0, a, 8, F_N, 1);
    hdt_set_desc(t, 1, b, 8, F_W, 0);
    return post0(c);
}

static int con_tx_outside_ram(struct hdt_ctx *c)
{
    hdt_set_desc(hdt_desc_table(c), 0, OUTSIDE_RAM, 64, 0, 0);
    return post0(c);
}

/* 2 GiB readable from a case buffer on: past RAM on any test machine's
 * guest (and what found dev_console.c reading every byte it then dropped). */
static int con_tx_huge(struct hdt_ctx *c)
{
    uint64_t a;

    (void)hdt_buf(c, 64, false, &a);
    hdt_set_desc(hdt_desc_table(c), 0, a, 0x80000000u, 0, 0);
    return post0(c);
}

static int edge_con_tx_zero_len(struct hdt_ctx *c)
{
    return one_desc(c, 0, 0);
}

static int con_rx_readable(struct hdt_ctx *c)
{
    return rx_one(c, 64, 0);
}

static int con_rx_zero_len(struct hdt_ctx *c)
{
    return rx_one(c, 0, F_W);
}

static int con_rx_mixed(struct hdt_ctx *c)
{
    static const uint32_t len[2] = {8, 64};
    static const uint16_t fl[2] = {0, F_W};

    (void)rx_chain(c, 0, len, fl, 2);
    hdt_post(c, 0);
    return rx_go(c);
}

/* A control message of len bytes with flags at descriptor 0, posted. */
static int ctrl_msg(struct hdt_ctx *c, uint32_t id, uint16_t event, uint16_t value, uint32_t len,
                    uint16_t flags)
{
    uint8_t *m = hdt_con_ctrl(c, id, event, value, len);

    if (flags & F_W)
        hdt_mark_writable(c, m, len);
    hdt_set_desc(hdt_desc_table(c), 0, hdt_dma_of(c, m), len, flags, 0);
    return post0(c);
}

static uint32_t max_ports(struct hdt_ctx *c)
{
    uint32_t n = 0;

    /* 5.3.4: le32 max_nr_ports at offset 4. */
    c->dev->ops->read_config(c->dev, 4, &n, sizeof(n));
    return n;
}

static int con_ctrl_port_oob(struct hdt_ctx *c)
{
    return ctrl_msg(c, max_ports(c) + (uint32_t)(c->seed % 1000), VIRTIO_CONSOLE_PORT_READY, 1, 8,
                    0);
}

static int con_ctrl_port_huge(struct hdt_ctx *c)
{
    return ctrl_msg(c, 0xffffffffu, VIRTIO_CONSOLE_PORT_OPEN, 1, 8, 0);
}

static int con_ctrl_unknown_event(struct hdt_ctx *c)
{
    return ctrl_msg(c, 0, 0x4242, 1, 8, 0);
}

static int con_ctrl_short(struct hdt_ctx *c)
{
    return ctrl_msg(c, 0, VIRTIO_CONSOLE_DEVICE_READY, 1, 4, 0);
}

static int con_ctrl_empty(struct hdt_ctx *c)
{
    return ctrl_msg(c, 0, VIRTIO_CONSOLE_DEVICE_READY, 1, 0, 0);
}

static int con_ctrl_ready_bad_value(struct hdt_ctx *c)
{
    return ctrl_msg(c, 0, VIRTIO_CONSOLE_DEVICE_READY, 7, 8, 0);
}

static int con_ctrl_open_unadded(struct hdt_ctx *c)
{
    /* No DEVICE_READY yet in this session: the device announced nothing. */
    uint32_t n = max_ports(c);

    return ctrl_msg(c, n > 1 ? n - 1 : 1, VIRTIO_CONSOLE_PORT_OPEN, 1, 8, 0);
}

static int con_ctrl_ready_before_device(struct hdt_ctx *c)
{
    return ctrl_msg(c, 0, VIRTIO_CONSOLE_PORT_READY, 1, 8, 0);
}

static int con_ctrl_device_event(struct hdt_ctx *c)
{
    return ctrl_msg(c, 0, VIRTIO_CONSOLE_DEVICE_ADD, 0, 8, 0);
}

static int con_ctrl_resize(struct hdt_ctx *c)
{
    return ctrl_msg(c, 0, VIRTIO_CONSOLE_RESIZE, 0, 12, 0);
}

static int con_ctrl_writable(struct hdt_ctx *c)
{
    return ctrl_msg(c, 0, VIRTIO_CONSOLE_DEVICE_READY, 1, 8, F_W);
}

/* ---- entropy (5.4.6) ---- */

static int rng_zero_len(struct hdt_ctx *c)
{
    return one_desc(c, 0, F_W);
}

static int rng_readable(struct hdt_ctx *c)
{
    return one_desc(c, 64, 0);
}

static int rng_readable_first(struct hdt_ctx *c)
{
    struct virtq_desc *t = hdt_desc_table(c);
    uint64_t a, b;

    (void)hdt_buf(c, 16, false, &a);
    (void)hdt_buf(c, 64, true, &b);
    hdt_set_desc(t, 0, a, 16, F_N, 1);
    hdt_set_desc(t, 1, b, 64, F_W, 0);
    return post0(c);
}

static int rng_outside_ram(struct hdt_ctx *c)
{
    hdt_set_desc(hdt_desc_table(c), 0, OUTSIDE_RAM + (c->seed % 64) * 4096, 64, F_W, 0);
    return post0(c);
}

static int rng_huge_outside_ram(struct hdt_ctx *c)
{
    hdt_set_desc(hdt_desc_table(c), 0, OUTSIDE_RAM, 0x80000000u, F_W, 0);
    return post0(c);
}

static int rng_wrap(struct hdt_ctx *c)
{
    /* addr + len wraps the 64-bit space. */
    hdt_set_desc(hdt_desc_table(c), 0, ~0ull - 15, 64, F_W, 0);
    return post0(c);
}

static int edge_rng_many_tiny(struct hdt_ctx *c)
{
    struct virtq_desc *t = hdt_desc_table(c);
    unsigned i, n = c->qsize - 4;
    uint64_t a;

    for (i = 0; i < n; i++) {
        (void)hdt_buf(c, 1, true, &a);
        hdt_set_desc(t, i, a, 1, (uint16_t)(F_W | (i + 1 < n ? F_N : 0)), (uint16_t)(i + 1));
    }
    return post0(c);
}

static int edge_rng_large(struct hdt_ctx *c)
{
    return one_desc(c, 32u << 10, F_W); /* the device MAY use less (5.4.6.2) */
}

/* ---- pmem (5.19.6) ---- */

static int pmem_short_req(struct hdt_ctx *c)
{
    (void)hdt_pmem_req(c, 0, VIRTIO_PMEM_REQ_TYPE_FLUSH);
    hdt_desc_table(c)[0].len = 2;
    c->status_mask = PMEM_ERR;
    return post0(c);
}

static int pmem_no_resp(struct hdt_ctx *c)
{
    (void)hdt_pmem_req(c, 0, VIRTIO_PMEM_REQ_TYPE_FLUSH);
    hdt_desc_table(c)[0].flags = 0;
    c->nwr = 0;
    c->status_off = -1;
    return post0(c);
}

static int pmem_readable_resp(struct hdt_ctx *c)
{
    (void)hdt_pmem_req(c, 0, VIRTIO_PMEM_REQ_TYPE_FLUSH);
    hdt_desc_table(c)[1].flags = 0;
    c->nwr = 0;
    c->status_off = -1;
    return post0(c);
}

static int pmem_unknown_type(struct hdt_ctx *c)
{
    (void)hdt_pmem_req(c, 0, 7 + (uint32_t)(c->seed % 100));
    c->status_mask = PMEM_ERR;
    return post0(c);
}

static int pmem_long_req(struct hdt_ctx *c)
{
    (void)hdt_pmem_req(c, 0, VIRTIO_PMEM_REQ_TYPE_FLUSH);
    hdt_desc_table(c)[0].len = 12; /* 8 bytes past the request */
    return post0(c);
}

static int pmem_short_resp(struct hdt_ctx *c)
{
    (void)hdt_pmem_req(c, 0, VIRTIO_PMEM_REQ_TYPE_FLUSH);
    hdt_desc_table(c)[1].len = 2;
    c->wr[c->nwr - 1].len = 2;
    c->status_off = -1;
    return post0(c);
}

static int pmem_extra_desc(struct hdt_ctx *c)
{
    struct virtq_desc *t = hdt_desc_table(c);
    uint64_t a;

    (void)hdt_pmem_req(c, 0, VIRTIO_PMEM_REQ_TYPE_FLUSH);
    (void)hdt_buf(c, 64, true, &a);
    t[1].flags |= F_N;
    t[1].next = 2;
    hdt_set_desc(t, 2, a, 64, F_W, 0);
    return post0(c);
}

static int pmem_writable_req(struct hdt_ctx *c)
{
    struct virtq_desc *t = hdt_desc_table(c);

    (void)hdt_pmem_req(c, 0, VIRTIO_PMEM_REQ_TYPE_FLUSH);
    t[0].flags |= F_W;
    hdt_mark_writable(c, c->arena + (t[0].addr - c->dma), 4);
    c->status_off = -1;
    return post0(c);
}

/* The 4-byte request in two descriptors of 2 bytes: legal (2.7.4.1). */
static int edge_pmem_split_req(struct hdt_ctx *c)
{
    struct virtq_desc *t = hdt_desc_table(c);
    uint64_t a, b;
    uint8_t *req = hdt_buf(c, 4, false, &a);
    uint8_t *resp = hdt_buf(c, 4, true, &b);
    uint32_t type = VIRTIO_PMEM_REQ_TYPE_FLUSH;

    memcpy(req, &type, 4);
    hdt_set_desc(t, 0, a, 2, F_N, 1);
    hdt_set_desc(t, 1, a + 2, 2, F_N, 2);
    hdt_set_desc(t, 2, b, 4, F_W, 0);
    c->status_off = (int32_t)(resp - c->arena);
    c->status_mask = PMEM_OK;
    return post0(c);
}

static int pmem_resp_outside_ram(struct hdt_ctx *c)
{
    (void)hdt_pmem_req(c, 0, VIRTIO_PMEM_REQ_TYPE_FLUSH);
    hdt_desc_table(c)[1].addr = OUTSIDE_RAM;
    c->nwr = 0;
    c->status_off = -1;
    return post0(c);
}

#define C(id, fn, dev, fl, feat, clause, desc)                                                     \
    {                                                                                              \
        id, desc, clause, dev, (fl) | (feat), fn                                                   \
    }
#define TX "5.1.6.2.1 (Driver Requirements: Packet Transmission)"
#define RXB "5.1.6.3.1 (Driver Requirements: Setting Up Receive Buffers)"
#define CONOP "5.3.6.1 (Driver Requirements: Device Operation)"
#define MP "5.3.6.2 (Multiport Device Operation)"
#define RNGOP "5.4.6.1 (Entropy: Driver Requirements: Device Operation)"
#define PMOP "5.19.6 (PMEM Device Operation: le32 type, then le32 ret)"
#define ANY "2.7.4.1 (device MUST NOT assume arrangement)"

static const struct hdt_case cases[] = {
    C("ctl.net_tx", valid, NET, 0, 0, "-", "control: a 60-byte frame on transmitq"),
    C("ctl.net_rx", ctl_net_rx, NET, RXQ, 0, "-",
      "control: a 1526-byte receive buffer, then a frame on transmitq"),
    C("ctl.console_tx", valid, CON, 0, 0, "-", "control: 4 bytes on port 0 transmitq"),
    C("ctl.console_ctrl", ctl_con_ctrl, CON, CTRLQ, 0, "-",
      "control: DEVICE_READY(1) on the control transmitq"),
    C("ctl.rng_read", valid, RNG, 0, 0, "-", "control: a 64-byte device-writable buffer"),
    C("ctl.pmem_flush", ctl_pmem, PMEM, 0, 0, "-", "control: a FLUSH request, ret 0"),
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
    C("console.tx_writable", con_tx_writable, CON, 0, 0, CONOP, "transmitq buffer device-writable"),
    C("console.tx_mixed", con_tx_mixed, CON, 0, 0, CONOP,
      "transmitq chain: readable 8 bytes, then writable 8"),
    C("console.tx_outside_ram", con_tx_outside_ram, CON, 0, 0,
      "2.7.5 (addr is a guest-physical buffer)", "transmitq buffer at 64 TiB"),
    C("console.tx_huge", con_tx_huge, CON, 0, 0, "2.7.5 (addr, len: a buffer in guest memory)",
      "transmitq buffer of 2 GiB from a case buffer on"),
    C("edge.console_tx_zero_len", edge_con_tx_zero_len, CON, 0, 0, ANY,
      "transmitq buffer of 0 bytes"),
    C("console.rx_readable", con_rx_readable, CON, RXQ, 0, CONOP,
      "receiveq buffer device-readable"),
    C("console.rx_zero_len", con_rx_zero_len, CON, RXQ, 0, CONOP, "receiveq buffer of 0 bytes"),
    C("console.rx_mixed", con_rx_mixed, CON, RXQ, 0, CONOP,
      "receiveq chain: readable 8 bytes, then writable 64"),
    C("console.ctrl_port_oob", con_ctrl_port_oob, CON, CTRLQ, 0, MP,
      "PORT_READY for a port id >= max_nr_ports"),
    C("console.ctrl_port_huge", con_ctrl_port_huge, CON, CTRLQ, 0, MP,
      "PORT_OPEN for port id 0xffffffff"),
    C("console.ctrl_unknown_event", con_ctrl_unknown_event, CON, CTRLQ, 0, MP,
      "control event 0x4242 (undefined)"),
    C("console.ctrl_short", con_ctrl_short, CON, CTRLQ, 0, MP, "control message of 4 bytes"),
    C("console.ctrl_empty", con_ctrl_empty, CON, CTRLQ, 0, MP, "control message of 0 bytes"),
    C("console.ctrl_ready_bad_value", con_ctrl_ready_bad_value, CON, CTRLQ, 0, MP,
      "DEVICE_READY with value 7 (1 or 0 only)"),
    C("console.ctrl_open_unadded", con_ctrl_open_unadded, CON, CTRLQ, 0, MP,
      "PORT_OPEN for a port the device never added"),
    C("console.ctrl_ready_early", con_ctrl_ready_before_device, CON, CTRLQ, 0,
      "5.3.6.2.2 (driver MUST send DEVICE_READY)", "PORT_READY before DEVICE_READY"),
    C("console.ctrl_device_event", con_ctrl_device_event, CON, CTRLQ, 0, MP,
      "DEVICE_ADD from the driver (device-only event)"),
    C("console.ctrl_resize", con_ctrl_resize, CON, CTRLQ, 0, MP,
      "RESIZE from the driver (device-only event)"),
    C("console.ctrl_writable", con_ctrl_writable, CON, CTRLQ, 0, CONOP,
      "control transmitq message device-writable"),
    C("rng.zero_len", rng_zero_len, RNG, 0, 0, "5.4.6 (the buffer is filled; one or more bytes)",
      "a device-writable buffer of 0 bytes"),
    C("rng.readable", rng_readable, RNG, 0, 0, RNGOP, "a device-readable buffer"),
    C("rng.readable_first", rng_readable_first, RNG, 0, 0, RNGOP,
      "chain: readable 16 bytes, then writable 64"),
    C("rng.outside_ram", rng_outside_ram, RNG, 0, 0, "2.7.5 (addr is a guest-physical buffer)",
      "64-byte buffer at 64 TiB"),
    C("rng.huge_outside_ram", rng_huge_outside_ram, RNG, 0, 0,
      "2.7.5 (addr is a guest-physical buffer)", "2 GiB buffer at 64 TiB"),
    C("rng.wrap", rng_wrap, RNG, 0, 0, "2.7.5 (addr is a guest-physical buffer)",
      "buffer whose addr + len wraps 2^64"),
    C("edge.rng_many_tiny", edge_rng_many_tiny, RNG, 0, 0, ANY, "chain of 12 one-byte buffers"),
    C("edge.rng_large", edge_rng_large, RNG, 0, 0, "5.4.6.2 (the device MAY use less)",
      "one 32 KiB buffer"),
    C("pmem.short_req", pmem_short_req, PMEM, 0, 0, PMOP, "request descriptor of 2 bytes"),
    C("pmem.no_resp", pmem_no_resp, PMEM, 0, 0, PMOP, "request without a response descriptor"),
    C("pmem.readable_resp", pmem_readable_resp, PMEM, 0, 0, PMOP,
      "response descriptor device-readable"),
    C("pmem.unknown_type", pmem_unknown_type, PMEM, 0, 0, PMOP, "request type other than FLUSH"),
    C("pmem.long_req", pmem_long_req, PMEM, 0, 0, PMOP, "request descriptor of 12 bytes"),
    C("pmem.short_resp", pmem_short_resp, PMEM, 0, 0, PMOP, "response descriptor of 2 bytes"),
    C("pmem.extra_desc", pmem_extra_desc, PMEM, 0, 0, PMOP,
      "a third, writable descriptor after the response"),
    C("pmem.writable_req", pmem_writable_req, PMEM, 0, 0, PMOP,
      "request descriptor device-writable"),
    C("edge.pmem_split_req", edge_pmem_split_req, PMEM, 0, 0, ANY,
      "FLUSH request split 2 + 2 over two descriptors"),
    C("pmem.resp_outside_ram", pmem_resp_outside_ram, PMEM, 0, 0,
      "2.7.5 (addr is a guest-physical buffer)", "response descriptor at 64 TiB"),
};

const struct hdt_table hdt_table_dev = {cases, sizeof(cases) / sizeof(cases[0])};
