/* SPDX-License-Identifier: Apache-2.0 */
/*
 * hdt_cases_packed_el.c - the packed class, second half (hdt_cases_packed.c
 * has the ring, id and AVAIL/USED cases): element fields, indirect tables
 * (2.8.7, 2.8.19), the Driver Event Suppression structure (2.8.10, 2.8.14)
 * and virtio-blk layouts (5.2.6), each on a packed ring built by
 * hdt_packed.c. Same conventions as hdt_cases_packed.c.
 */
#include <errno.h>
#include <string.h>

#include "hdt_cases_packed.h"
#include "virtio_platform.h"

/* ---- element fields ---- */

static int zero_len_header(struct hdt_ctx *c)
{
    struct hdt_pseg s[3];
    unsigned n = pread0(c, s);

    s[0].len = 0;
    return ppost_expect(c, s, n, S_ERR);
}

static int huge_len(struct hdt_ctx *c)
{
    struct hdt_pseg s[3];
    unsigned n = pread0(c, s);

    s[0].len = 0xffffffffu; /* readable: the device only reads */
    return ppost_expect(c, s, n, S_ERR);
}

static int addr_outside_ram_w(struct hdt_ctx *c)
{
    struct hdt_pseg s[3];
    unsigned n = pread0(c, s);

    s[1].addr = OUTSIDE_RAM + ((c->seed % 1024) << 12);
    return ppost_expect(c, s, n, S_ERR);
}

static int addr_outside_ram_r(struct hdt_ctx *c)
{
    struct hdt_pseg s[3];
    unsigned n = pread0(c, s);

    s[0].addr = OUTSIDE_RAM + ((c->seed % 1024) << 12);
    return ppost_expect(c, s, n, S_ERR);
}

static int addr_wrap(struct hdt_ctx *c)
{
    struct hdt_pseg s[3];
    unsigned n = pread0(c, s);

    s[1].addr = 0xffffffffffffff00ull; /* 512 bytes wrap past 2^64 */
    return ppost_expect(c, s, n, S_ERR);
}

static int readable_after_writable(struct hdt_ctx *c)
{
    struct hdt_pseg s[4];
    unsigned n = pread0(c, s);
    uint64_t a;

    (void)hdt_buf(c, 16, false, &a);
    s[n].addr = a;
    s[n].len = 16;
    s[n].flags = 0;
    s[n].id = 0;
    c->status_mask = 0; /* the status moved: judged by the canary alone */
    (void)hdt_ppost(c, s, n + 1, 0, 0);
    return 0;
}

/* ---- indirect tables (2.8.7, 2.8.19) ---- */

static int indirect_no_feature(struct hdt_ctx *c)
{
    uint64_t a;

    (void)pind_read0(c, 3, &a);
    return ppost_table(c, a, 48, F_I, S_ANY);
}

static int indirect_empty(struct hdt_ctx *c)
{
    uint64_t a;

    (void)hdt_buf(c, 48, false, &a);
    return ppost_table(c, a, 0, F_I, S_ANY);
}

static int indirect_len_unaligned(struct hdt_ctx *c)
{
    uint64_t a;

    (void)pind_read0(c, 3, &a);
    return ppost_table(c, a, 40, F_I, S_ANY);
}

static int indirect_misaligned(struct hdt_ctx *c)
{
    uint64_t a;

    (void)pind_read0(c, 3, &a);
    memmove(c->arena + (a - c->dma) + 4, c->arena + (a - c->dma), 48);
    return ppost_table(c, a + 4, 48, F_I, S_ANY);
}

static int indirect_nested(struct hdt_ctx *c)
{
    uint64_t inner, outer;
    struct pvirtq_desc *t;

    (void)pind_read0(c, 3, &inner);
    t = (struct pvirtq_desc *)hdt_buf(c, 16, false, &outer);
    memset(t, 0, 16);
    t[0].addr = inner;
    t[0].len = 48;
    t[0].flags = F_I;
    return ppost_table(c, outer, 16, F_I, S_ANY);
}

static int indirect_with_next(struct hdt_ctx *c)
{
    struct hdt_pseg s[2];
    uint64_t a;

    (void)pind_read0(c, 3, &a);
    memset(s, 0, sizeof(s));
    s[0].addr = a;
    s[0].len = 48;
    s[0].flags = F_I; /* hdt_ppost adds NEXT: INDIRECT | NEXT */
    (void)hdt_buf(c, 16, true, &a);
    s[1].addr = a;
    s[1].len = 16;
    s[1].flags = F_W;
    c->status_mask = S_ANY;
    (void)hdt_ppost(c, s, 2, 0, 0);
    return 0;
}

static int indirect_after_direct(struct hdt_ctx *c)
{
    struct hdt_pseg s[2];
    uint8_t *h = hdt_blk_hdr(c, VIRTIO_BLK_T_IN, 0, 16);
    uint64_t ta, a;
    struct pvirtq_desc *t = (struct pvirtq_desc *)hdt_buf(c, 32, false, &ta);
    uint8_t *st;

    /* Legal on a split ring (2.7.5.3.2), forbidden on a packed one: 2.8.19
     * "MUST NOT write direct descriptors with DESC_F_INDIRECT set in a
     * scatter-gather list linked by VIRTQ_DESC_F_NEXT". */
    memset(s, 0, sizeof(s));
    memset(t, 0, 32);
    s[0].addr = hdt_dma_of(c, h);
    s[0].len = 16;
    s[1].addr = ta;
    s[1].len = 32;
    s[1].flags = F_I;
    (void)hdt_buf(c, 512, true, &a);
    t[0].addr = a;
    t[0].len = 512;
    t[0].flags = F_W;
    st = hdt_buf(c, 1, true, &a);
    t[1].addr = a;
    t[1].len = 1;
    t[1].flags = F_W;
    c->status_off = (int32_t)(st - c->arena);
    return ppost_expect(c, s, 2, S_ANY);
}

static int indirect_table_flags(struct hdt_ctx *c)
{
    uint64_t a;
    struct pvirtq_desc *t = pind_read0(c, 3, &a);

    /* 2.8.19: "MUST NOT set any flags except DESC_F_WRITE within an
     * indirect descriptor"; 2.8.7: the others "are reserved and are
     * ignored by the device" (also the id). */
    t[0].flags |= F_N | F_A;
    t[1].flags |= F_N | F_U;
    t[0].id = 0x7777;
    t[1].id = (uint16_t)(0x1234 ^ c->seed);
    return ppost_table(c, a, 48, F_I, S_ANY);
}

static int indirect_outside_ram(struct hdt_ctx *c)
{
    return ppost_table(c, OUTSIDE_RAM + ((c->seed % 1024) << 12), 48, F_I, S_ANY);
}

static int indirect_write_flag(struct hdt_ctx *c)
{
    uint64_t a;

    (void)pind_read0(c, 3, &a);
    /* 2.8.7: "In descriptors with VIRTQ_DESC_F_INDIRECT set
     * VIRTQ_DESC_F_WRITE is reserved and is ignored by the device". */
    return ppost_table(c, a, 48, F_I | F_W, S_ANY);
}

static int edge_indirect_zero_len(struct hdt_ctx *c)
{
    uint64_t a, z;
    struct pvirtq_desc *t = pind_read0(c, 4, &a);

    /* A zero-length writable element inside a table (legal as on the
     * ring, 2.7.4.1): header, empty, data, status. */
    (void)hdt_buf(c, 16, false, &z);
    t[3] = t[2];
    t[2] = t[1];
    t[1].addr = z;
    t[1].len = 0;
    t[1].flags = F_W;
    t[1].id = 0;
    return ppost_table(c, a, 64, F_I, S_OK);
}

/* ---- Driver Event Suppression (2.8.10, 2.8.14) ---- */

static int event_read0(struct hdt_ctx *c, uint16_t desc, uint16_t flags)
{
    struct pvirtq_event_suppress *e = hdt_pdriver_event(c);

    hdt_pstore16(c, &e->desc, desc);
    hdt_pstore16(c, &e->flags, flags);
    {
        struct hdt_pseg s[3];
        unsigned n = pread0(c, s);

        return ppost_expect(c, s, n, S_OK);
    }
}

static int event_flags_reserved(struct hdt_ctx *c)
{
    return event_read0(c, 0, 3); /* 2.8.10: "The value 0x3 is reserved" */
}

static int event_desc_no_event_idx(struct hdt_ctx *c)
{
    /* 2.8.10: RING_EVENT_FLAGS_DESC "Only valid if
     * VIRTIO_F_RING_EVENT_IDX has been negotiated" (it is not). */
    return event_read0(c, pvirtq_event_off_wrap((uint16_t)(5 % c->qsize), true),
                       RING_EVENT_FLAGS_DESC);
}

static int event_reserved_bits(struct hdt_ctx *c)
{
    /* 2.8.14: flags bits 2..15 "reserved, set to 0". */
    return event_read0(c, 0, (uint16_t)(0xfffcu - ((c->seed % 8) << 2)));
}

static int event_off_oob(struct hdt_ctx *c)
{
    uint64_t ev;
    int err = hdt_open(c, HDT_OPEN_PACKED, 0);

    if (err == -ENOTSUP)
        return err; /* the note says RING_PACKED */
    if (err < 0)
        return -EIO;
    ev = c->dev->ops->get_features(c->dev) & (1ull << VIRTIO_F_EVENT_IDX);
    if (!ev) {
        hdt_note(c->note, "VIRTIO_F_EVENT_IDX not offered");
        return -ENOTSUP;
    }
    err = hdt_open(c, HDT_OPEN_PACKED, ev);
    if (err == -ENOTSUP)
        return err;
    if (err < 0)
        return -EIO;
    /* 2.8.14: desc_event_off is an offset within the ring; this one is
     * past its end, so no descriptor ever matches. */
    return event_read0(c, pvirtq_event_off_wrap((uint16_t)(c->qsize + (c->seed % 64)), true),
                       RING_EVENT_FLAGS_DESC);
}

/* ---- virtio-blk requests on a packed ring (5.2.6) ---- */

static int blk_no_status(struct hdt_ctx *c)
{
    uint8_t *h = hdt_blk_hdr(c, VIRTIO_BLK_T_IN, 0, 16);
    struct hdt_pseg s = {hdt_dma_of(c, h), 16, 0, 0};

    return ppost_expect(c, &s, 1, 0); /* one readable descriptor, nothing writable */
}

static int blk_status_readable(struct hdt_ctx *c)
{
    struct hdt_pseg s[3];
    unsigned n = pread0(c, s);

    s[2].flags = 0;
    c->nwr--; /* the status buffer is not writable any more */
    c->status_off = -1;
    return ppost_expect(c, s, n, 0);
}

static int blk_short_header(struct hdt_ctx *c)
{
    struct hdt_pseg s[3];
    unsigned n = pread0(c, s);

    s[0].len = 8;
    return ppost_expect(c, s, n, S_ERR);
}

static int blk_data_wrong_direction(struct hdt_ctx *c)
{
    struct hdt_pseg s[3];
    unsigned n = hdt_pblk_req(c, s, VIRTIO_BLK_T_IN, 0, 512, 0);

    return ppost_expect(c, s, n, S_ANY); /* the readable buffer must not change */
}

static int blk_header_writable(struct hdt_ctx *c)
{
    struct hdt_pseg s[3];
    unsigned n = pread0(c, s);

    s[0].flags = F_W;
    hdt_mark_writable(c, c->arena + (s[0].addr - c->dma), 16);
    return ppost_expect(c, s, n, S_ERR);
}

static int blk_past_capacity(struct hdt_ctx *c)
{
    struct hdt_pseg s[3];
    unsigned n = hdt_pblk_req(c, s, VIRTIO_BLK_T_IN, c->capacity, 512, F_W);

    return ppost_expect(c, s, n, S_ERR);
}

static int blk_bad_type(struct hdt_ctx *c)
{
    struct hdt_pseg s[3];
    unsigned n = hdt_pblk_req(c, s, 0x7f0u + (uint32_t)(c->seed % 16), 0, 512, F_W);

    return ppost_expect(c, s, n, S_ERR);
}

static const struct hdt_case cases[] = {
    C("packed.zero_len_header", zero_len_header, 0, "5.2.6 (the header is 16 bytes)",
      "request header element of length 0"),
    C("packed.huge_len", huge_len, 0, "2.8.4 / 2.7.5.2 (chain at most 2^32 bytes)",
      "readable element of length 0xffffffff"),
    C("packed.addr_outside_ram_w", addr_outside_ram_w, 0, "2.8.4 (addr is physical)",
      "writable data element at 64 TiB (no RAM there)"),
    C("packed.addr_outside_ram_r", addr_outside_ram_r, 0, "2.8.4 (addr is physical)",
      "readable header at 64 TiB (no RAM there)"),
    C("packed.addr_wrap", addr_wrap, 0, "2.8.4 (addr is physical)", "element that wraps past 2^64"),
    C("packed.readable_after_writable", readable_after_writable, 0,
      "2.8.17 (writable after readable)", "a readable element after the writable ones"),
    C("packed.indirect_no_feature", indirect_no_feature, 0, "2.8.19 (INDIRECT only if negotiated)",
      "INDIRECT without VIRTIO_F_INDIRECT_DESC"),
    C("packed.indirect_empty", indirect_empty, IND, "2.8.7 (a table of len/16 descriptors)",
      "indirect descriptor of length 0"),
    C("packed.indirect_len_unaligned", indirect_len_unaligned, IND,
      "2.8.7 (a table of len/16 descriptors)", "indirect table length 40"),
    C("packed.indirect_misaligned", indirect_misaligned, IND,
      "2.8.7 (no alignment stated; 16 for the ring, 2.8.10.1)",
      "indirect table at a 4-byte offset"),
    C("packed.indirect_nested", indirect_nested, IND, "2.8.19 (only WRITE inside a table)",
      "INDIRECT inside an indirect table"),
    C("packed.indirect_with_next", indirect_with_next, IND,
      "2.8.19 (no INDIRECT in a NEXT-linked list)", "INDIRECT and NEXT on one descriptor"),
    C("packed.indirect_after_direct", indirect_after_direct, IND,
      "2.8.19 (no INDIRECT in a NEXT-linked list)",
      "direct header then an indirect table (legal on split)"),
    C("packed.indirect_table_flags", indirect_table_flags, IND,
      "2.8.19 (only WRITE inside a table); 2.8.7 device ignores",
      "NEXT/AVAIL/USED and ids inside an indirect table"),
    C("packed.indirect_outside_ram", indirect_outside_ram, IND, "2.8.4 (addr is physical)",
      "indirect table at 64 TiB (no RAM there)"),
    C("packed.indirect_write_flag", indirect_write_flag, IND,
      "2.8.7 (WRITE reserved on an INDIRECT descriptor, ignored)",
      "INDIRECT descriptor with the WRITE flag"),
    C("edge.packed_indirect_zero_len", edge_indirect_zero_len, IND,
      "2.7.4.1 (device MUST NOT assume arrangement)",
      "a zero-length writable element in an indirect table"),
    C("packed.event_flags_reserved", event_flags_reserved, 0, "2.8.10 (flags value 3 reserved)",
      "driver event suppression flags 3, then a read"),
    C("packed.event_desc_no_event_idx", event_desc_no_event_idx, 0,
      "2.8.10 (DESC only with EVENT_IDX)", "driver event flags DESC without EVENT_IDX"),
    C("packed.event_reserved_bits", event_reserved_bits, 0, "2.8.14 (reserved bits 0)",
      "driver event flags 0xfffc.. (reserved bits), then a read"),
    C("packed.event_off_oob", event_off_oob, OWN, "2.8.14 (offset within the ring)",
      "EVENT_IDX, desc_event_off >= Queue Size"),
    C("packed.blk_no_status", blk_no_status, 0, "5.2.6 (a request ends with a writable status)",
      "header only, one readable descriptor"),
    C("packed.blk_status_readable", blk_status_readable, 0, "5.2.6 (status is device-writable)",
      "status element device-readable"),
    C("packed.blk_short_header", blk_short_header, 0, "5.2.6 (16-byte header)",
      "header element of 8 bytes"),
    C("packed.blk_data_wrong_direction", blk_data_wrong_direction, 0,
      "5.2.6 (IN data is device-writable)", "read into a device-readable element"),
    C("packed.blk_header_writable", blk_header_writable, 0, "5.2.6 (header is device-readable)",
      "header element marked device-writable"),
    C("packed.blk_past_capacity", blk_past_capacity, 0, "5.2.6.1 (no read beyond capacity)",
      "read of the sector at capacity"),
    C("packed.blk_bad_type", blk_bad_type, 0, "5.2.6 (UNSUPP for unsupported requests)",
      "request type 0x7f0.. (unknown)"),
};

const struct hdt_table hdt_table_packed_el = {cases, sizeof(cases) / sizeof(cases[0])};
