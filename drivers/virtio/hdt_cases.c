/* SPDX-License-Identifier: Apache-2.0 */
/*
 * hdt_cases.c - the hostile-driver catalogue (see hdt.h): split-ring,
 * state-machine, transport and virtio-blk request cases. Each breaks the
 * VIRTIO 1.2 clause it names (split-ring.tex, content.tex,
 * device-types/blk/description.tex of oasis-tcs/virtio-spec), except the
 * "ctl." and "edge." cases: legal but unusual requests a device MUST serve
 * (controls for the engine and for 2.7.4.1 "The device MUST NOT make
 * assumptions about the particular arrangement of descriptors").
 *
 * A case writes descriptors, buffers and available entries and sets what
 * the engine judges by: status_mask (blk status values acceptable when the
 * chain is served), need_consume (false: the case is judged by the probe
 * alone). Descriptors 0..qsize-4 are the case's; the last three are the
 * probe's.
 */
#include <errno.h>
#include <string.h>

#include "hdt_internal.h"
#include "virtio_platform.h"

#define S_OK (1u << VIRTIO_BLK_S_OK)
#define S_ERR ((1u << VIRTIO_BLK_S_IOERR) | (1u << VIRTIO_BLK_S_UNSUPP))
#define S_ANY (S_OK | S_ERR)
#define F_N VIRTQ_DESC_F_NEXT
#define F_W VIRTQ_DESC_F_WRITE
#define F_I VIRTQ_DESC_F_INDIRECT
/* Far above any RAM a test machine has (64 TiB), below 2^52. */
#define OUTSIDE_RAM (1ull << 46)
#define BLK VIRTIO_ID_BLOCK

/* A read of sector 0 at descriptors 0..2 (header, data, status), not yet
 * posted: the case pokes the table it returns, then post_expect(). */
static struct virtq_desc *read0_desc(struct hdt_ctx *c)
{
    (void)hdt_blk_req(c, 0, VIRTIO_BLK_T_IN, 0, 512, F_W);
    return hdt_desc_table(c);
}

/* Post head 0, judged acceptable when served with a status in mask. */
static int post_expect(struct hdt_ctx *c, uint8_t mask)
{
    c->status_mask = mask;
    hdt_post(c, 0);
    return 0;
}

/* A plain read of sector 0 at descriptors 0..2, posted. */
static int read0(struct hdt_ctx *c)
{
    (void)read0_desc(c);
    return post_expect(c, S_OK);
}

/* An indirect table holding a read of sector 0 (header, data, status). */
static struct virtq_desc *indirect_read0(struct hdt_ctx *c, unsigned n, uint64_t *dma)
{
    struct virtq_desc *t = (struct virtq_desc *)hdt_buf(c, 16 * (n > 3 ? n : 3), false, dma);
    uint8_t *h = hdt_blk_hdr(c, VIRTIO_BLK_T_IN, 0, 16);
    uint64_t a;
    uint8_t *st;

    hdt_set_desc(t, 0, hdt_dma_of(c, h), 16, F_N, 1);
    (void)hdt_buf(c, 512, true, &a);
    hdt_set_desc(t, 1, a, 512, F_W | F_N, 2);
    st = hdt_buf(c, 1, true, &a);
    hdt_set_desc(t, 2, a, 1, F_W, 0);
    c->status_off = (int32_t)(st - c->arena);
    return t;
}

/* ---- controls ---- */

static int ctl_read(struct hdt_ctx *c)
{
    return read0(c);
}

static int ctl_indirect(struct hdt_ctx *c)
{
    uint64_t a;

    (void)indirect_read0(c, 3, &a);
    hdt_set_desc(hdt_desc_table(c), 0, a, 48, F_I, 0);
    c->status_mask = S_OK;
    hdt_post(c, 0);
    return 0;
}

/* ---- split ring: descriptor indices and chains ---- */

static int desc_index_oob(struct hdt_ctx *c)
{
    (void)hdt_blk_req(c, 0, VIRTIO_BLK_T_IN, 0, 512, F_W);
    hdt_post(c, (uint16_t)(c->qsize + (c->seed % 64)));
    return 0;
}

static int next_oob(struct hdt_ctx *c)
{
    (void)hdt_blk_req(c, 0, VIRTIO_BLK_T_IN, 0, 512, F_W);
    hdt_desc_table(c)[0].next = (uint16_t)(c->qsize + 3 + (c->seed % 32));
    hdt_post(c, 0);
    return 0;
}

static int next_loop(struct hdt_ctx *c)
{
    struct virtq_desc *t = hdt_desc_table(c);
    uint8_t *h = hdt_blk_hdr(c, VIRTIO_BLK_T_IN, 0, 16);
    uint64_t a;

    hdt_set_desc(t, 0, hdt_dma_of(c, h), 16, F_N, 1);
    (void)hdt_buf(c, 512, true, &a);
    hdt_set_desc(t, 1, a, 512, F_W | F_N, 2);
    (void)hdt_buf(c, 512, true, &a);
    hdt_set_desc(t, 2, a, 512, F_W | F_N, 1); /* 1 -> 2 -> 1 ... */
    hdt_post(c, 0);
    return 0;
}

static int next_self(struct hdt_ctx *c)
{
    struct virtq_desc *t = hdt_desc_table(c);
    uint8_t *h = hdt_blk_hdr(c, VIRTIO_BLK_T_IN, 0, 16);

    hdt_set_desc(t, 0, hdt_dma_of(c, h), 16, F_N, 0);
    hdt_post(c, 0);
    return 0;
}

static int chain_longer_than_queue(struct hdt_ctx *c)
{
    unsigned n = c->qsize + 4, i;
    uint64_t ta, a;
    struct virtq_desc *t = (struct virtq_desc *)hdt_buf(c, 16 * n, false, &ta);
    uint8_t *h = hdt_blk_hdr(c, VIRTIO_BLK_T_IN, 0, 16);
    uint8_t *st;

    hdt_set_desc(t, 0, hdt_dma_of(c, h), 16, F_N, 1);
    for (i = 1; i < n - 1; i++) {
        (void)hdt_buf(c, 512, true, &a);
        hdt_set_desc(t, i, a, 512, F_W | F_N, (uint16_t)(i + 1));
    }
    st = hdt_buf(c, 1, true, &a);
    hdt_set_desc(t, n - 1, a, 1, F_W, 0);
    c->status_off = (int32_t)(st - c->arena);
    hdt_set_desc(hdt_desc_table(c), 0, ta, 16 * n, F_I, 0);
    c->status_mask = S_ANY;
    hdt_post(c, 0);
    return 0;
}

static int zero_len_header(struct hdt_ctx *c)
{
    read0_desc(c)[0].len = 0;
    return post_expect(c, S_ERR);
}

static int zero_len_data(struct hdt_ctx *c)
{
    struct virtq_desc *t = hdt_desc_table(c);
    uint8_t *h = hdt_blk_hdr(c, VIRTIO_BLK_T_IN, 0, 16);
    uint64_t a;
    uint8_t *st;

    hdt_set_desc(t, 0, hdt_dma_of(c, h), 16, F_N, 1);
    (void)hdt_buf(c, 16, false, &a); /* a zero-length writable descriptor */
    hdt_set_desc(t, 1, a, 0, F_W | F_N, 2);
    (void)hdt_buf(c, 512, true, &a);
    hdt_set_desc(t, 2, a, 512, F_W | F_N, 3);
    st = hdt_buf(c, 1, true, &a);
    hdt_set_desc(t, 3, a, 1, F_W, 0);
    c->status_off = (int32_t)(st - c->arena);
    c->status_mask = S_OK;
    hdt_post(c, 0);
    return 0;
}

static int huge_len(struct hdt_ctx *c)
{
    read0_desc(c)[0].len = 0xffffffffu; /* readable: the device only reads */
    return post_expect(c, S_ERR);
}

static int addr_outside_ram_w(struct hdt_ctx *c)
{
    read0_desc(c)[1].addr = OUTSIDE_RAM + ((c->seed % 1024) << 12);
    return post_expect(c, S_ERR);
}

static int addr_outside_ram_r(struct hdt_ctx *c)
{
    read0_desc(c)[0].addr = OUTSIDE_RAM + ((c->seed % 1024) << 12);
    return post_expect(c, S_ERR);
}

static int addr_wrap(struct hdt_ctx *c)
{
    read0_desc(c)[1].addr = 0xffffffffffffff00ull; /* 512 bytes wrap past 2^64 */
    return post_expect(c, S_ERR);
}

static int readable_after_writable(struct hdt_ctx *c)
{
    struct virtq_desc *t = hdt_desc_table(c);
    unsigned n = hdt_blk_req(c, 0, VIRTIO_BLK_T_IN, 0, 512, F_W);
    uint64_t a;

    (void)hdt_buf(c, 16, false, &a);
    t[n - 1].flags |= F_N;
    t[n - 1].next = (uint16_t)n;
    hdt_set_desc(t, n, a, 16, 0, 0);
    c->status_mask = 0; /* the status byte moved: judged by the canary alone */
    hdt_post(c, 0);
    return 0;
}

/* ---- split ring: indirect tables ---- */

static int indirect_no_feature(struct hdt_ctx *c)
{
    uint64_t a;

    (void)indirect_read0(c, 3, &a);
    hdt_set_desc(hdt_desc_table(c), 0, a, 48, F_I, 0);
    c->status_mask = S_ANY;
    hdt_post(c, 0);
    return 0;
}

static int indirect_empty(struct hdt_ctx *c)
{
    uint64_t a;

    (void)hdt_buf(c, 48, false, &a);
    hdt_set_desc(hdt_desc_table(c), 0, a, 0, F_I, 0);
    hdt_post(c, 0);
    return 0;
}

static int indirect_len_unaligned(struct hdt_ctx *c)
{
    uint64_t a;

    (void)indirect_read0(c, 3, &a);
    hdt_set_desc(hdt_desc_table(c), 0, a, 40, F_I, 0); /* 2.5 descriptors */
    c->status_mask = S_ANY;
    hdt_post(c, 0);
    return 0;
}

static int indirect_misaligned_addr(struct hdt_ctx *c)
{
    uint64_t a;

    /* A well-formed table moved 4 bytes up (into the canary gap after its
     * buffer, before the snapshot). */
    (void)indirect_read0(c, 3, &a);
    memmove(c->arena + (a - c->dma) + 4, c->arena + (a - c->dma), 48);
    hdt_set_desc(hdt_desc_table(c), 0, a + 4, 48, F_I, 0);
    c->status_mask = S_ANY;
    hdt_post(c, 0);
    return 0;
}

static int indirect_nested(struct hdt_ctx *c)
{
    uint64_t inner, outer;
    struct virtq_desc *t;

    (void)indirect_read0(c, 3, &inner);
    t = (struct virtq_desc *)hdt_buf(c, 16, false, &outer);
    hdt_set_desc(t, 0, inner, 48, F_I, 0);
    hdt_set_desc(hdt_desc_table(c), 0, outer, 16, F_I, 0);
    hdt_post(c, 0);
    return 0;
}

static int indirect_with_next(struct hdt_ctx *c)
{
    struct virtq_desc *d = hdt_desc_table(c);
    uint64_t a;

    (void)indirect_read0(c, 3, &a);
    hdt_set_desc(d, 0, a, 48, F_I | F_N, 1);
    (void)hdt_buf(c, 16, true, &a);
    hdt_set_desc(d, 1, a, 16, F_W, 0);
    hdt_post(c, 0);
    return 0;
}

static int indirect_next_oob(struct hdt_ctx *c)
{
    uint64_t a;
    struct virtq_desc *t = indirect_read0(c, 3, &a);

    t[0].next = (uint16_t)(7 + (c->seed % 8)); /* the table has 3 */
    hdt_set_desc(hdt_desc_table(c), 0, a, 48, F_I, 0);
    hdt_post(c, 0);
    return 0;
}

static int indirect_loop(struct hdt_ctx *c)
{
    uint64_t a;
    struct virtq_desc *t = indirect_read0(c, 3, &a);

    t[2].flags |= F_N;
    t[2].next = 1; /* 0 -> 1 -> 2 -> 1 ... */
    hdt_set_desc(hdt_desc_table(c), 0, a, 48, F_I, 0);
    hdt_post(c, 0);
    return 0;
}

static int indirect_outside_ram(struct hdt_ctx *c)
{
    hdt_set_desc(hdt_desc_table(c), 0, OUTSIDE_RAM + ((c->seed % 1024) << 12), 48, F_I, 0);
    hdt_post(c, 0);
    return 0;
}

static int edge_indirect_after_direct(struct hdt_ctx *c)
{
    struct virtq_desc *d = hdt_desc_table(c);
    uint8_t *h = hdt_blk_hdr(c, VIRTIO_BLK_T_IN, 0, 16);
    uint64_t ta, a;
    struct virtq_desc *t = (struct virtq_desc *)hdt_buf(c, 32, false, &ta);
    uint8_t *st;

    hdt_set_desc(d, 0, hdt_dma_of(c, h), 16, F_N, 1);
    hdt_set_desc(d, 1, ta, 32, F_I, 0);
    (void)hdt_buf(c, 512, true, &a);
    hdt_set_desc(t, 0, a, 512, F_W | F_N, 1);
    st = hdt_buf(c, 1, true, &a);
    hdt_set_desc(t, 1, a, 1, F_W, 0);
    c->status_off = (int32_t)(st - c->arena);
    c->status_mask = S_OK;
    hdt_post(c, 0);
    return 0;
}

static int edge_indirect_write_flag(struct hdt_ctx *c)
{
    uint64_t a;

    (void)indirect_read0(c, 3, &a);
    hdt_set_desc(hdt_desc_table(c), 0, a, 48, F_I | F_W, 0);
    c->status_mask = S_OK;
    hdt_post(c, 0);
    return 0;
}

/* ---- split ring: the available ring ---- */

static int avail_idx_jump(struct hdt_ctx *c)
{
    struct virtq_avail *av = hdt_avail(c);
    unsigned i;

    (void)hdt_blk_req(c, 0, VIRTIO_BLK_T_IN, 0, 512, F_W);
    for (i = 0; i < c->qsize; i++)
        av->ring[i] = 0;
    c->heads[c->nheads++] = 0;
    c->lax_used = true;
    c->need_consume = false;
    c->avail_idx = (uint16_t)(c->qsize + 1 + (c->seed % 8));
    hdt_publish_idx(c, c->avail_idx);
    return 0;
}

static int avail_idx_rewind(struct hdt_ctx *c)
{
    (void)read0(c);
    hdt_kick(c);
    if (!hdt_wait_used(c, 1, 300000000ull)) {
        hdt_note(c->note, "the valid request before the rewind was not served");
        c->case_fail = true;
        return 0;
    }
    hdt_publish_idx(c, (uint16_t)(c->avail_idx - 1)); /* 2.7.6.1: MUST NOT decrement */
    hdt_kick(c);
    /* Give the device time to look at the rewound index before the probe
     * publishes a newer one (nothing may be used: the wait ends at
     * DEVICE_NEEDS_RESET or after 150 ms). */
    (void)hdt_wait_used(c, 2, 150000000ull);
    c->no_kick = true;
    c->need_consume = false;
    return 0;
}

static int avail_flags_garbage(struct hdt_ctx *c)
{
    /* 2.7.7.1: without EVENT_IDX "The driver MUST set flags to 0 or 1". */
    hdt_avail(c)->flags = (uint16_t)(0xfffeu - (c->seed % 8) * 2);
    return read0(c);
}

static int head_reused_in_flight(struct hdt_ctx *c)
{
    (void)hdt_blk_req(c, 0, VIRTIO_BLK_T_IN, 0, 512, F_W);
    c->status_mask = S_ANY;
    c->need_consume = false;
    hdt_post(c, 0);
    hdt_post(c, 0); /* the same head again, before the device used it */
    return 0;
}

static int notify_bad_queue(struct hdt_ctx *c)
{
    const char *t = c->dev->ops->name;

    /* PCI notifies through a per-queue address that only exists for queues
     * that were set up: the bad index cannot be expressed there. */
    if (strcmp(t, "loopback") != 0 && strcmp(t, "mmio") != 0) {
        hdt_note(c->note, "transport has no queue-index doorbell");
        return -ENOTSUP;
    }
    c->dev->ops->notify(c->dev, 5 + (unsigned)(c->seed % 2));
    c->no_kick = true;
    c->need_consume = false;
    return 0;
}

/* ---- device status state machine (3.1.1) ---- */

static int driver_ok_without_features_ok(struct hdt_ctx *c)
{
    int err = hdt_open(c, HDT_OPEN_NO_FEATURES_OK, 0);

    if (err < 0) {
        /* The device refused the queue (or DRIVER_OK) without FEATURES_OK:
         * a rejection; the probe runs on a proper session. */
        hdt_note(c->note, "queue setup refused without FEATURES_OK (");
        hdt_note_u(c->note, (uint64_t)-err, false);
        hdt_note(c->note, ")");
        return hdt_open(c, 0, 0) < 0 ? -EIO : 0;
    }
    (void)read0(c);
    c->status_mask = S_ANY;
    c->need_consume = false;
    return 0;
}

static int unoffered_feature(struct hdt_ctx *c)
{
    uint64_t offered;
    unsigned bit;
    int err;

    if (hdt_open(c, 0, 0) < 0)
        return -EIO;
    offered = c->dev->ops->get_features(c->dev);
    /* 41..49 are reserved for future extensions (6): never offered today. */
    for (bit = 41 + (unsigned)(c->seed % 4); bit < 50; bit++) {
        if (!(offered & (1ull << bit)))
            break;
    }
    err = hdt_open(c, 0, 1ull << bit);
    hdt_note(c->note, "bit ");
    hdt_note_u(c->note, bit, false);
    if (err == -EPROTO) {
        hdt_note(c->note, ": FEATURES_OK refused");
        if (hdt_open(c, 0, 0) < 0)
            return -EIO;
        return 0; /* nothing consumed: REJECT when the device still serves */
    }
    if (err < 0)
        return -EIO;
    hdt_note(c->note, ": accepted");
    (void)read0(c);
    c->status_mask = S_ANY;
    c->need_consume = false;
    return 0;
}

static int notify_before_driver_ok(struct hdt_ctx *c)
{
    if (hdt_open(c, HDT_OPEN_NO_DRIVER_OK, 0) < 0)
        return -EIO;
    (void)read0(c);
    hdt_kick(c);
    /* 2.1.2: "The device MUST NOT consume buffers or send any used buffer
     * notifications to the driver before DRIVER_OK." */
    if (hdt_wait_used(c, 1, 150000000ull)) {
        hdt_note(c->note, "consumed a buffer before DRIVER_OK");
        c->case_fail = true;
        return 0;
    }
    hdt_driver_ok(c);
    return 0;
}

/* ---- virtio-blk requests (5.2.6) ---- */

static int blk_req(struct hdt_ctx *c, uint32_t type, uint64_t sector, uint32_t len, uint8_t mask)
{
    (void)hdt_blk_req(c, 0, type, sector, len, len ? F_W : 0);
    return post_expect(c, mask);
}

static int blk_bad_type(struct hdt_ctx *c)
{
    return blk_req(c, 0x7f0u + (uint32_t)(c->seed % 16), 0, 512, S_ERR);
}

static int blk_past_capacity(struct hdt_ctx *c)
{
    return blk_req(c, VIRTIO_BLK_T_IN, c->capacity, 512, S_ERR);
}

static int blk_sector_overflow(struct hdt_ctx *c)
{
    return blk_req(c, VIRTIO_BLK_T_IN, ~0ull, 1024, S_ERR);
}

static int blk_straddles_end(struct hdt_ctx *c)
{
    return blk_req(c, VIRTIO_BLK_T_IN, c->capacity ? c->capacity - 1 : 0, 1024, S_ERR);
}

static int blk_not_sector_multiple(struct hdt_ctx *c)
{
    return blk_req(c, VIRTIO_BLK_T_IN, 0, 100, S_ERR);
}

static int blk_get_id_short(struct hdt_ctx *c)
{
    /* 5.2.6: the GET_ID string is 20 bytes; a 4-byte buffer must not be
     * overrun (the canary sits right after it). */
    (void)hdt_blk_req(c, 0, VIRTIO_BLK_T_GET_ID, 0, 4, F_W);
    c->status_mask = S_ANY;
    hdt_post(c, 0);
    return 0;
}

static int blk_short_header(struct hdt_ctx *c)
{
    read0_desc(c)[0].len = 8;
    return post_expect(c, S_ERR);
}

static int edge_header_split(struct hdt_ctx *c)
{
    struct virtq_desc *t = hdt_desc_table(c);
    uint8_t *h = hdt_blk_hdr(c, VIRTIO_BLK_T_IN, 0, 16);
    uint64_t a;
    uint8_t *st;

    hdt_set_desc(t, 0, hdt_dma_of(c, h), 8, F_N, 1);
    hdt_set_desc(t, 1, hdt_dma_of(c, h) + 8, 8, F_N, 2);
    (void)hdt_buf(c, 512, true, &a);
    hdt_set_desc(t, 2, a, 512, F_W | F_N, 3);
    st = hdt_buf(c, 1, true, &a);
    hdt_set_desc(t, 3, a, 1, F_W, 0);
    c->status_off = (int32_t)(st - c->arena);
    c->status_mask = S_OK;
    hdt_post(c, 0);
    return 0;
}

static int edge_status_in_data(struct hdt_ctx *c)
{
    struct virtq_desc *t = hdt_desc_table(c);
    uint8_t *h = hdt_blk_hdr(c, VIRTIO_BLK_T_IN, 0, 16);
    uint64_t a;
    uint8_t *d;

    hdt_set_desc(t, 0, hdt_dma_of(c, h), 16, F_N, 1);
    d = hdt_buf(c, 513, true, &a);
    hdt_set_desc(t, 1, a, 513, F_W, 0);
    c->status_off = (int32_t)(d + 512 - c->arena);
    c->status_mask = S_OK;
    hdt_post(c, 0);
    return 0;
}

static int blk_no_status(struct hdt_ctx *c)
{
    struct virtq_desc *t = hdt_desc_table(c);
    uint8_t *h = hdt_blk_hdr(c, VIRTIO_BLK_T_IN, 0, 16);
    uint64_t a;

    hdt_set_desc(t, 0, hdt_dma_of(c, h), 16, 0, 0); /* header only: nothing writable */
    (void)a;
    hdt_post(c, 0);
    return 0;
}

static int blk_status_readable(struct hdt_ctx *c)
{
    (void)hdt_blk_req(c, 0, VIRTIO_BLK_T_IN, 0, 512, F_W);
    hdt_desc_table(c)[2].flags = 0;
    c->nwr--; /* the status buffer is not writable any more */
    c->status_off = -1;
    hdt_post(c, 0);
    return 0;
}

static int blk_data_wrong_direction(struct hdt_ctx *c)
{
    (void)hdt_blk_req(c, 0, VIRTIO_BLK_T_IN, 0, 512, 0); /* read into a readable buffer */
    c->status_mask = S_ANY; /* judged by the canary: the buffer must not change */
    hdt_post(c, 0);
    return 0;
}

static int blk_header_writable(struct hdt_ctx *c)
{
    (void)hdt_blk_req(c, 0, VIRTIO_BLK_T_IN, 0, 512, F_W);
    hdt_desc_table(c)[0].flags |= F_W;
    hdt_mark_writable(c, c->arena + (hdt_desc_table(c)[0].addr - c->dma), 16);
    c->status_mask = S_ERR;
    hdt_post(c, 0);
    return 0;
}

#define C(id, fn, dev, fl, clause, text)                                                           \
    {                                                                                              \
        id, text, clause, dev, fl, fn                                                              \
    }
#define IND HDT_WANT_INDIRECT
#define OWN HDT_OWN_SESSION

static const struct hdt_case cases[] = {
    C("ctl.read", ctl_read, BLK, 0, "-", "control: a well-formed read of sector 0"),
    C("ctl.indirect", ctl_indirect, BLK, IND, "-", "control: the same read in an indirect table"),
    C("split.desc_index_oob", desc_index_oob, BLK, 0, "2.7.13.2 (split-ring.tex)",
      "available entry names a head >= Queue Size"),
    C("split.next_oob", next_oob, BLK, 0, "2.7.5 (next is an index into the table)",
      "descriptor next >= Queue Size"),
    C("split.next_loop", next_loop, BLK, 0, "2.7.5.2 (loops are forbidden)",
      "chain loops 1 -> 2 -> 1"),
    C("split.next_self", next_self, BLK, 0, "2.7.5.2 (loops are forbidden)",
      "descriptor whose next is itself"),
    C("split.chain_longer_than_queue", chain_longer_than_queue, BLK, IND,
      "2.7.5.3.1 (no chain longer than the Queue Size)",
      "indirect chain of Queue Size + 4 descriptors"),
    C("split.zero_len_header", zero_len_header, BLK, 0, "5.2.6 (the header is 16 bytes)",
      "request header descriptor of length 0"),
    C("edge.zero_len_data", zero_len_data, BLK, 0, "2.7.4.1 (device MUST NOT assume arrangement)",
      "a zero-length writable descriptor inside a valid read"),
    C("split.huge_len", huge_len, BLK, 0, "2.7.5.2 (chain at most 2^32 bytes)",
      "readable descriptor of length 0xffffffff"),
    C("split.addr_outside_ram_w", addr_outside_ram_w, BLK, 0, "2.7.5 (addr is guest-physical)",
      "writable data buffer at 64 TiB (no RAM there)"),
    C("split.addr_outside_ram_r", addr_outside_ram_r, BLK, 0, "2.7.5 (addr is guest-physical)",
      "readable header at 64 TiB (no RAM there)"),
    C("split.addr_wrap", addr_wrap, BLK, 0, "2.7.5 (addr is guest-physical)",
      "buffer that wraps past 2^64"),
    C("split.readable_after_writable", readable_after_writable, BLK, 0,
      "2.7.4.2 (writable after readable)", "a readable descriptor after the writable ones"),
    C("split.indirect_no_feature", indirect_no_feature, BLK, 0,
      "2.7.5.3.1 (INDIRECT only if negotiated)", "INDIRECT without VIRTIO_F_INDIRECT_DESC"),
    C("split.indirect_empty", indirect_empty, BLK, IND, "2.7.5.3 (a table of len/16 descriptors)",
      "indirect descriptor of length 0"),
    C("split.indirect_len_unaligned", indirect_len_unaligned, BLK, IND,
      "2.7.5.3 (a table of len/16 descriptors)", "indirect table length 40 (not a multiple of 16)"),
    C("split.indirect_misaligned", indirect_misaligned_addr, BLK, IND,
      "2.7 (descriptor tables are 16-byte aligned)", "indirect table at a 4-byte offset"),
    C("split.indirect_nested", indirect_nested, BLK, IND, "2.7.5.3.1 (one table per descriptor)",
      "INDIRECT inside an indirect table"),
    C("split.indirect_with_next", indirect_with_next, BLK, IND,
      "2.7.5.3.1 (not both INDIRECT and NEXT)", "INDIRECT and NEXT on one descriptor"),
    C("split.indirect_next_oob", indirect_next_oob, BLK, IND, "2.7.5.3 (next within the table)",
      "indirect next past the table's end"),
    C("split.indirect_loop", indirect_loop, BLK, IND, "2.7.5.2 (loops are forbidden)",
      "loop inside an indirect table"),
    C("split.indirect_outside_ram", indirect_outside_ram, BLK, IND,
      "2.7.5 (addr is guest-physical)", "indirect table at 64 TiB (no RAM there)"),
    C("edge.indirect_after_direct", edge_indirect_after_direct, BLK, IND,
      "2.7.5.3.2 (device MUST handle direct then indirect)",
      "direct header followed by an indirect table"),
    C("edge.indirect_write_flag", edge_indirect_write_flag, BLK, IND,
      "2.7.5.3.2 (device MUST ignore WRITE on the table descriptor)",
      "INDIRECT descriptor with the WRITE flag"),
    C("split.avail_idx_jump", avail_idx_jump, BLK, 0, "2.7 (at most Queue Size buffers queued)",
      "avail idx moves Queue Size + 1 or more ahead"),
    C("split.avail_idx_rewind", avail_idx_rewind, BLK, 0, "2.7.6.1 (MUST NOT decrement idx)",
      "avail idx moves back by one after a served request"),
    C("split.avail_flags_garbage", avail_flags_garbage, BLK, 0,
      "2.7.7.1 (avail flags 0 or 1 without EVENT_IDX)", "avail flags 0xfffe.. then a read"),
    C("split.head_reused", head_reused_in_flight, BLK, 0,
      "2.7.13 (a chain is the device's until used)", "the same head made available twice"),
    C("transport.notify_bad_queue", notify_bad_queue, BLK, 0,
      "2.9 / 4.2.3.3 (notification names an existing queue)", "notify queue 5 or 6 (none there)"),
    C("state.driver_ok_no_features_ok", driver_ok_without_features_ok, BLK, OWN,
      "3.1.1 (FEATURES_OK before DRIVER_OK)", "DRIVER_OK without FEATURES_OK, then a read"),
    C("state.unoffered_feature", unoffered_feature, BLK, OWN,
      "2.2.1 (MUST NOT accept unoffered features)", "accept a reserved feature bit (41..49)"),
    C("state.notify_before_driver_ok", notify_before_driver_ok, BLK, OWN,
      "3.1.1 (no notify before DRIVER_OK); device 2.1.2",
      "request made available and notified before DRIVER_OK"),
    C("blk.bad_type", blk_bad_type, BLK, 0, "5.2.6 (UNSUPP for unsupported requests)",
      "request type 0x7f0.. (unknown)"),
    C("blk.past_capacity", blk_past_capacity, BLK, 0, "5.2.6.1 (no read beyond capacity)",
      "read of the sector at capacity"),
    C("blk.sector_overflow", blk_sector_overflow, BLK, 0, "5.2.6.1 (no read beyond capacity)",
      "read at sector 2^64-1 (offset overflows)"),
    C("blk.straddles_end", blk_straddles_end, BLK, 0, "5.2.6.1 (no read beyond capacity)",
      "1 KiB read of the last sector"),
    C("blk.not_sector_multiple", blk_not_sector_multiple, BLK, 0,
      "5.2.6 (IN/OUT data is a multiple of 512)", "read of 100 bytes"),
    C("blk.get_id_short", blk_get_id_short, BLK, 0, "5.2.6 (GET_ID writes a 20-byte id)",
      "GET_ID into a 4-byte buffer"),
    C("blk.short_header", blk_short_header, BLK, 0, "5.2.6 (16-byte header)",
      "header descriptor of 8 bytes"),
    C("edge.header_split", edge_header_split, BLK, 0,
      "2.7.4.1 (device MUST NOT assume arrangement)", "header in two 8-byte descriptors"),
    C("edge.status_in_data", edge_status_in_data, BLK, 0,
      "2.7.4.1 (device MUST NOT assume arrangement)", "data and status in one 513-byte descriptor"),
    C("blk.no_status", blk_no_status, BLK, 0, "5.2.6 (a request ends with a writable status)",
      "header only, no writable byte at all"),
    C("blk.status_readable", blk_status_readable, BLK, 0, "5.2.6 (status is device-writable)",
      "status descriptor device-readable"),
    C("blk.data_wrong_direction", blk_data_wrong_direction, BLK, 0,
      "5.2.6 (IN data is device-writable)", "read into a device-readable buffer"),
    C("blk.header_writable", blk_header_writable, BLK, 0, "5.2.6 (header is device-readable)",
      "header descriptor marked device-writable"),
};

const struct hdt_table hdt_table_split = {cases, sizeof(cases) / sizeof(cases[0])};
