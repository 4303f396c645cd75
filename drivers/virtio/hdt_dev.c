/* SPDX-License-Identifier: Apache-2.0 */
/*
 * hdt_dev.c - the hostile-driver engine's per-device-type part (see
 * hdt_dev.h): queue choice, probes, the aux queue and request builders for
 * net, console, entropy and pmem. blk keeps the engine's own probe (hdt.c).
 *
 * As in hdt.c, everything the device wrote is read once and bounds-checked
 * (used idx movement against the queue size; the probe's own id found or
 * not): the device under test is the untrusted side (DESIGN.md 8).
 */
#include "hdt_dev.h"

#include <errno.h>
#include <string.h>

#include "virtio_platform.h"

#define PROBE_WAIT_NS 1000000000ull
#define AUX_DESC_OFF (HDT_PROBE_OFF + 0x000u)
#define AUX_AVAIL_OFF (HDT_PROBE_OFF + 0x100u)
#define AUX_USED_OFF (HDT_PROBE_OFF + 0x200u)
#define PROBE_BUF_OFF (HDT_PROBE_OFF + 0x400u)
#define AUX_BUF_OFF (HDT_PROBE_OFF + 0x1000u)
#define AUX_SLOT 128u /* bytes of aux buffer per descriptor (header + frame fits) */

_Static_assert(AUX_USED_OFF + 6 + 8 * HDT_QSIZE <= PROBE_BUF_OFF, "aux used ring fits");
_Static_assert(AUX_BUF_OFF + AUX_SLOT * HDT_QSIZE <= HDT_ARENA, "aux buffers fit");

/* ---- builders ---- */

void hdt_net_frame(uint8_t *p, uint32_t len)
{
    static const uint8_t head[14] = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x02,
                                     0x72, 0x6c, 0x68, 0x64, 0x74, 0x88, 0xb5};
    uint32_t i;

    for (i = 0; i < len; i++)
        p[i] = i < sizeof(head) ? head[i] : (uint8_t)(i * 13u + 1u);
}

struct virtio_net_hdr *hdt_net_hdr(struct hdt_ctx *c, uint32_t len)
{
    uint8_t *h = hdt_buf(c, len < HDT_NET_HDR ? HDT_NET_HDR : len, false, NULL);

    memset(h, 0, len < HDT_NET_HDR ? HDT_NET_HDR : len);
    return (struct virtio_net_hdr *)h;
}

unsigned hdt_net_tx(struct hdt_ctx *c, unsigned head, uint32_t frame_len,
                    struct virtio_net_hdr **hdr)
{
    struct virtq_desc *t = hdt_desc_table(c);
    struct virtio_net_hdr *h = hdt_net_hdr(c, HDT_NET_HDR);
    uint64_t a;
    uint8_t *f = hdt_buf(c, frame_len, false, &a);

    hdt_net_frame(f, frame_len);
    /* 5.1.6.2: header and packet device-readable (two descriptors: 2.7.4.1
     * lets the driver split them anywhere). */
    hdt_set_desc(t, head, hdt_dma_of(c, h), HDT_NET_HDR, VIRTQ_DESC_F_NEXT, (uint16_t)(head + 1));
    hdt_set_desc(t, head + 1, a, frame_len, 0, 0);
    if (hdr)
        *hdr = h;
    return head + 2;
}

uint8_t *hdt_con_ctrl(struct hdt_ctx *c, uint32_t id, uint16_t event, uint16_t value, uint32_t len)
{
    uint8_t *p = hdt_buf(c, len < 8 ? 8 : len, false, NULL);
    struct virtio_console_control m;

    /* 5.3.6.2: le32 id, le16 event, le16 value (x86 and our targets are
     * little-endian, as the rest of the core assumes). */
    m.id = id;
    m.event = event;
    m.value = value;
    memset(p, 0, len < 8 ? 8 : len);
    memcpy(p, &m, len < sizeof(m) ? len : sizeof(m));
    return p;
}

unsigned hdt_pmem_req(struct hdt_ctx *c, unsigned head, uint32_t type)
{
    struct virtq_desc *t = hdt_desc_table(c);
    uint64_t a, b;
    uint8_t *req = hdt_buf(c, 4, false, &a);
    uint8_t *resp = hdt_buf(c, 4, true, &b);

    memcpy(req, &type, 4); /* 5.19.6: le32 type */
    hdt_set_desc(t, head, a, 4, VIRTQ_DESC_F_NEXT, (uint16_t)(head + 1));
    hdt_set_desc(t, head + 1, b, 4, VIRTQ_DESC_F_WRITE, 0);
    c->status_off = (int32_t)(resp - c->arena);
    return head + 2;
}

unsigned hdt_dev_valid_req(struct hdt_ctx *c, unsigned head)
{
    struct virtq_desc *t = hdt_desc_table(c);
    uint64_t a;
    uint8_t *p;

    switch (c->dev->device_id) {
    case VIRTIO_ID_BLOCK:
        return hdt_blk_req(c, head, VIRTIO_BLK_T_IN, 0, 512, VIRTQ_DESC_F_WRITE);
    case VIRTIO_ID_NET:
        return hdt_net_tx(c, head, HDT_NET_FRAME, NULL);
    case VIRTIO_ID_CONSOLE:
        p = hdt_buf(c, 4, false, &a);
        memcpy(p, "hdt\n", 4);
        hdt_set_desc(t, head, a, 4, 0, 0);
        return head + 1;
    case VIRTIO_ID_PMEM:
        return hdt_pmem_req(c, head, VIRTIO_PMEM_REQ_TYPE_FLUSH);
    default: /* entropy (5.4.6): one device-writable buffer */
        (void)hdt_buf(c, 64, true, &a);
        hdt_set_desc(t, head, a, 64, VIRTQ_DESC_F_WRITE, 0);
        return head + 1;
    }
}

/* ---- shapes the case files share (hdt_cases_dev.c, hdt_cases_net.c) ---- */

/* One descriptor at 0 of len bytes with flags, posted. */
int hdt_one_desc(struct hdt_ctx *c, uint32_t len, uint16_t flags)
{
    uint64_t a;

    (void)hdt_buf(c, len, flags & VIRTQ_DESC_F_WRITE, &a);
    hdt_set_desc(hdt_desc_table(c), 0, a, len, flags, 0);
    hdt_post(c, 0);
    return 0;
}

/* The device's well-formed request at 0, posted (the controls). */
int hdt_valid(struct hdt_ctx *c)
{
    (void)hdt_dev_valid_req(c, 0);
    hdt_post(c, 0);
    return 0;
}

int hdt_post0(struct hdt_ctx *c)
{
    hdt_post(c, 0);
    return 0;
}

/* Receive side: kick the receive queue for what the case posted, then send
 * one frame / bytes on the aux transmitq for the device to deliver. */
int hdt_rx_go(struct hdt_ctx *c)
{
    hdt_kick(c);
    c->no_kick = true;
    (void)hdt_aux_tx(c, c->dev->device_id == VIRTIO_ID_NET ? HDT_NET_HDR + HDT_NET_FRAME : 8,
                     false);
    return 0;
}

/* One receive chain at head: descriptors of the given lengths and flags. */
unsigned hdt_rx_chain(struct hdt_ctx *c, unsigned head, const uint32_t *len, const uint16_t *flags,
                      unsigned n)
{
    struct virtq_desc *t = hdt_desc_table(c);
    unsigned i;
    uint64_t a;

    for (i = 0; i < n; i++) {
        (void)hdt_buf(c, len[i], flags[i] & VIRTQ_DESC_F_WRITE, &a);
        hdt_set_desc(t, head + i, a, len[i],
                     (uint16_t)(flags[i] | (i + 1 < n ? VIRTQ_DESC_F_NEXT : 0)),
                     (uint16_t)(head + i + 1));
    }
    return head + n;
}

int hdt_rx_one(struct hdt_ctx *c, uint32_t len, uint16_t flags)
{
    (void)hdt_rx_chain(c, 0, &len, &flags, 1);
    hdt_post(c, 0);
    return hdt_rx_go(c);
}

/* ---- the aux queue ---- */

static struct virtq_desc *aux_desc(struct hdt_ctx *c)
{
    return (struct virtq_desc *)(c->arena + AUX_DESC_OFF);
}

static struct virtq_avail *aux_avail(struct hdt_ctx *c)
{
    return (struct virtq_avail *)(c->arena + AUX_AVAIL_OFF);
}

static struct virtq_used *aux_used(struct hdt_ctx *c)
{
    return (struct virtq_used *)(c->arena + AUX_USED_OFF);
}

int hdt_dev_setup_aux(struct hdt_ctx *c)
{
    const struct virtio_transport_ops *ops = c->dev->ops;
    uint32_t qmax = ops->queue_max(c->dev, (unsigned)c->aux_q);
    int err;

    if (qmax == 0)
        return -ENODEV;
    c->aux_qsize = HDT_QSIZE;
    while (c->aux_qsize > qmax)
        c->aux_qsize /= 2;
    c->aux_avail = 0;
    c->aux_used = 0;
    /* 2.7.10.1: used flags 0 (the whole ring zeroed). */
    memset(c->arena + AUX_DESC_OFF, 0, PROBE_BUF_OFF - AUX_DESC_OFF);
    err = ops->queue_setup(c->dev, (unsigned)c->aux_q, c->aux_qsize, c->dma + AUX_DESC_OFF,
                           c->dma + AUX_AVAIL_OFF, c->dma + AUX_USED_OFF);
    return err < 0 ? err : ops->queue_enable(c->dev, (unsigned)c->aux_q);
}

/* Wait until the aux used idx has reached want (bounded). */
static bool aux_wait(struct hdt_ctx *c, uint16_t want)
{
    uint64_t start = virt_time_ns();

    for (;;) {
        /* Acquire: pairs with the device's release of used->idx (2.7.8.2);
         * we read no element, only the count. */
        uint16_t u = virt_load_acquire16(&aux_used(c)->idx);

        if ((uint16_t)(u - c->aux_used) > c->aux_qsize)
            return false; /* impossible movement */
        if ((uint16_t)(u - want) < 0x8000u) {
            c->aux_used = u;
            return true;
        }
        if (hdt_status(c) & VIRTIO_STATUS_DEVICE_NEEDS_RESET)
            return false;
        if (virt_time_ns() - start > PROBE_WAIT_NS)
            return false;
    }
}

bool hdt_aux_tx(struct hdt_ctx *c, uint32_t len, bool wait)
{
    uint16_t slot = (uint16_t)(c->aux_avail & (c->aux_qsize - 1));
    uint32_t off = AUX_BUF_OFF + slot * AUX_SLOT;
    uint8_t *p = c->arena + off;

    if (c->aux_q < 0)
        return false;
    if (len > AUX_SLOT)
        len = AUX_SLOT;
    if (c->dev->device_id == VIRTIO_ID_NET) {
        memset(p, 0, HDT_NET_HDR);
        hdt_net_frame(p + HDT_NET_HDR, len - HDT_NET_HDR);
    } else {
        memset(p, 'a' + slot % 26, len);
    }
    hdt_set_desc(aux_desc(c), slot, c->dma + off, len, 0, 0);
    aux_avail(c)->ring[slot] = slot;
    c->aux_avail++;
    /* 2.7.13.2-3: descriptor and ring entry before the index (pairs with
     * the device's acquire of avail->idx); then 2.7.13.4: the index store
     * before the notification. */
    virt_store_release16(&aux_avail(c)->idx, c->aux_avail);
    virt_mb();
    c->dev->ops->notify(c->dev, (unsigned)c->aux_q);
    return !wait || aux_wait(c, c->aux_avail);
}

/* ---- probes: one well-formed request on the last descriptors ---- */

/* Make head available on the case queue and wait for its used entry;
 * *len: its used length. False when it never came. */
static bool probe_post(struct hdt_ctx *c, uint16_t head, uint32_t *len)
{
    struct virtq_avail *av = hdt_avail(c);
    uint16_t want, u;

    av->ring[c->avail_idx & (c->qsize - 1)] = head;
    c->avail_idx++;
    want = c->avail_idx;
    /* Descriptors and ring entry before the index (pairs with the device's
     * acquire of avail->idx, 2.7.13.3). */
    virt_store_release16(&av->idx, c->avail_idx);
    hdt_kick(c);
    for (;;) {
        if (!hdt_wait_used(c, (uint16_t)(c->used_seen + 1), PROBE_WAIT_NS))
            return false;
        /* Acquire: the elements below u are read after the index (pairs
         * with the device's release of used->idx, 2.7.8.2). */
        u = virt_load_acquire16(&hdt_used(c)->idx);
        if ((uint16_t)(u - c->used_seen) > c->qsize)
            return false;
        while (c->used_seen != u) {
            struct virtq_used_elem e = hdt_used(c)->ring[c->used_seen & (c->qsize - 1)];

            c->used_seen++;
            if (e.id == head) {
                *len = e.len;
                return true;
            }
        }
        if ((uint16_t)(c->used_seen - want) < 0x8000u)
            return false;
    }
}

static bool probe_net_tx(struct hdt_ctx *c)
{
    struct virtq_desc *t = hdt_desc_table(c);
    uint8_t *p = c->arena + PROBE_BUF_OFF;
    unsigned h = c->qsize - 2;
    uint32_t len;

    memset(p, 0, HDT_NET_HDR);
    hdt_net_frame(p + HDT_NET_HDR, HDT_NET_FRAME);
    hdt_set_desc(t, h, c->dma + PROBE_BUF_OFF, HDT_NET_HDR, VIRTQ_DESC_F_NEXT, (uint16_t)(h + 1));
    hdt_set_desc(t, h + 1, c->dma + PROBE_BUF_OFF + HDT_NET_HDR, HDT_NET_FRAME, 0, 0);
    return probe_post(c, (uint16_t)h, &len);
}

static bool probe_con_tx(struct hdt_ctx *c)
{
    unsigned h = c->qsize - 1;
    uint32_t len;

    memcpy(c->arena + PROBE_BUF_OFF, "ok\n", 3);
    hdt_set_desc(hdt_desc_table(c), h, c->dma + PROBE_BUF_OFF, 3, 0, 0);
    return probe_post(c, (uint16_t)h, &len);
}

/* The control transmitq still takes a DEVICE_READY(1) (5.3.6.2.2: the
 * message every multiport driver sends; the device announces its ports on
 * the control receiveq, which the session does not set up). */
static bool probe_con_ctrl(struct hdt_ctx *c)
{
    unsigned h = c->qsize - 1;
    struct virtio_console_control m = {0, VIRTIO_CONSOLE_DEVICE_READY, 1};
    uint32_t len;

    memcpy(c->arena + PROBE_BUF_OFF, &m, sizeof(m));
    hdt_set_desc(hdt_desc_table(c), h, c->dma + PROBE_BUF_OFF, sizeof(m), 0, 0);
    return probe_post(c, (uint16_t)h, &len);
}

/* 5.4.6.2: "The device MUST place one or more random bytes into the buffer". */
static bool probe_rng(struct hdt_ctx *c)
{
    unsigned h = c->qsize - 1;
    uint32_t len = 0;

    hdt_set_desc(hdt_desc_table(c), h, c->dma + PROBE_BUF_OFF, 64, VIRTQ_DESC_F_WRITE, 0);
    return probe_post(c, (uint16_t)h, &len) && len >= 1 && len <= 64;
}

static bool probe_pmem(struct hdt_ctx *c)
{
    struct virtq_desc *t = hdt_desc_table(c);
    unsigned h = c->qsize - 2;
    uint32_t type = VIRTIO_PMEM_REQ_TYPE_FLUSH, ret = 0xffffffffu, len;
    uint8_t *p = c->arena + PROBE_BUF_OFF;

    memcpy(p, &type, 4);
    memcpy(p + 16, &ret, 4);
    hdt_set_desc(t, h, c->dma + PROBE_BUF_OFF, 4, VIRTQ_DESC_F_NEXT, (uint16_t)(h + 1));
    hdt_set_desc(t, h + 1, c->dma + PROBE_BUF_OFF + 16, 4, VIRTQ_DESC_F_WRITE, 0);
    if (!probe_post(c, (uint16_t)h, &len))
        return false;
    memcpy(&ret, p + 16, 4);
    return ret == 0; /* 5.19.6: 0 success */
}

/* The receive side and the console's data queues: the aux transmitq still
 * serves (the frame / bytes are used). */
static bool probe_aux(struct hdt_ctx *c)
{
    return hdt_aux_tx(c, c->dev->device_id == VIRTIO_ID_NET ? HDT_NET_HDR + HDT_NET_FRAME : 3,
                      true);
}

void hdt_dev_prepare(struct hdt_ctx *c, const struct hdt_case *k)
{
    bool rx = k->flags & HDT_DEV_RXQ;

    c->want_features = 0;
    if (c->dev->device_id == VIRTIO_ID_NET) {
        if (k->flags & HDT_DEV_F_NET_MTU)
            c->want_features |= 1ull << VIRTIO_NET_F_MTU;
        if (k->flags & HDT_DEV_F_NET_CSUM)
            c->want_features |= 1ull << VIRTIO_NET_F_CSUM;
        if (k->flags & HDT_DEV_F_NET_MRG)
            c->want_features |= 1ull << VIRTIO_NET_F_MRG_RXBUF;
    }
    c->aux_q = -1;
    c->qidx = 0;
    c->probe = NULL;
    switch (c->dev->device_id) {
    case VIRTIO_ID_NET: /* 5.1.2: receiveq1 0, transmitq1 1 */
        c->qidx = rx ? VIRTIO_NET_RXQ : VIRTIO_NET_TXQ;
        c->aux_q = rx ? VIRTIO_NET_TXQ : -1;
        c->probe = rx ? probe_aux : probe_net_tx;
        break;
    case VIRTIO_ID_CONSOLE: /* 5.3.2 */
        if (k->flags & HDT_DEV_CTRLQ) {
            c->qidx = VIRTIO_CONSOLE_CTRL_TXQ;
            c->want_features |= 1ull << VIRTIO_CONSOLE_F_MULTIPORT;
            c->probe = probe_con_ctrl;
        } else {
            c->qidx = rx ? VIRTIO_CONSOLE_RXQ0 : VIRTIO_CONSOLE_TXQ0;
            c->aux_q = rx ? VIRTIO_CONSOLE_TXQ0 : -1;
            c->probe = rx ? probe_aux : probe_con_tx;
        }
        break;
    case VIRTIO_ID_RNG:
        c->probe = probe_rng;
        break;
    case VIRTIO_ID_PMEM:
        c->probe = probe_pmem;
        break;
    default: /* blk: queue 0 and the engine's read of sector 0 */
        break;
    }
}
