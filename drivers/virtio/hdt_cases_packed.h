/* SPDX-License-Identifier: Apache-2.0 */
/*
 * hdt_cases_packed.h - what the two packed-class files (hdt_cases_packed.c:
 * ring, ids, AVAIL/USED bits, chains; hdt_cases_packed_el.c: elements,
 * indirect tables, event suppression, blk) share: status masks, flag
 * shorthands, and the builders of a read of sector 0 as segments.
 */
#ifndef RINGLOOP_HDT_CASES_PACKED_H
#define RINGLOOP_HDT_CASES_PACKED_H

#include <string.h>

#include "hdt_internal.h"

#define S_OK (1u << VIRTIO_BLK_S_OK)
#define S_ERR ((1u << VIRTIO_BLK_S_IOERR) | (1u << VIRTIO_BLK_S_UNSUPP))
#define S_ANY (S_OK | S_ERR)
#define F_N VIRTQ_DESC_F_NEXT
#define F_W VIRTQ_DESC_F_WRITE
#define F_I VIRTQ_DESC_F_INDIRECT
#define F_A VIRTQ_DESC_F_AVAIL
#define F_U VIRTQ_DESC_F_USED
#define OUTSIDE_RAM (1ull << 46) /* 64 TiB: no RAM on a test machine */
#define BLK VIRTIO_ID_BLOCK

/* A read of sector 0 as 3 segments (header, data, status). */
static inline unsigned pread0(struct hdt_ctx *c, struct hdt_pseg *s)
{
    return hdt_pblk_req(c, s, VIRTIO_BLK_T_IN, 0, 512, F_W);
}

/* Make s[0..n) available as buffer id 0, judged acceptable with a status
 * in mask. */
static inline int ppost_expect(struct hdt_ctx *c, const struct hdt_pseg *s, unsigned n,
                               uint8_t mask)
{
    c->status_mask = mask;
    (void)hdt_ppost(c, s, n, 0, 0);
    return 0;
}

/* An indirect table (2.8.7: struct pvirtq_desc entries, only WRITE valid)
 * holding a read of sector 0 in its first three entries; n >= 3 entries. */
static inline struct pvirtq_desc *pind_read0(struct hdt_ctx *c, unsigned n, uint64_t *dma)
{
    struct pvirtq_desc *t = (struct pvirtq_desc *)hdt_buf(c, 16 * (n > 3 ? n : 3), false, dma);
    uint8_t *h = hdt_blk_hdr(c, VIRTIO_BLK_T_IN, 0, 16);
    uint64_t a;
    uint8_t *st;

    memset(t, 0, 16 * (n > 3 ? n : 3));
    t[0].addr = hdt_dma_of(c, h);
    t[0].len = 16;
    (void)hdt_buf(c, 512, true, &a);
    t[1].addr = a;
    t[1].len = 512;
    t[1].flags = F_W;
    st = hdt_buf(c, 1, true, &a);
    t[2].addr = a;
    t[2].len = 1;
    t[2].flags = F_W;
    c->status_off = (int32_t)(st - c->arena);
    return t;
}

/* One segment naming an indirect table. */
static inline int ppost_table(struct hdt_ctx *c, uint64_t addr, uint32_t len, uint16_t flags,
                              uint8_t mask)
{
    struct hdt_pseg s = {addr, len, flags, 0};

    return ppost_expect(c, &s, 1, mask);
}

/* RAW flags for a list in lap wrap: the element's own bits, NEXT on all
 * but the last unless all_next, and avail (AVAIL/USED pattern). */
static inline void raw_flags(struct hdt_pseg *s, unsigned n, uint16_t avail, bool all_next)
{
    unsigned i;

    for (i = 0; i < n; i++)
        s[i].flags = (uint16_t)(s[i].flags | avail | ((all_next || i + 1 < n) ? F_N : 0));
}

#define C(id, fn, fl, clause, text)                                                                \
    {                                                                                              \
        id, text, clause, BLK, (fl) | HDT_WANT_PACKED, fn                                          \
    }
#define IND HDT_WANT_INDIRECT
#define OWN HDT_OWN_SESSION

#endif
