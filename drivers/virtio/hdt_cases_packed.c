/* SPDX-License-Identifier: Apache-2.0 */
/*
 * hdt_cases_packed.c - the hostile-driver catalogue's packed-ring class
 * (hdt.h), first half: controls, legal arrangements, buffer ids, the
 * AVAIL/USED bits and wrap counter, lists and chains (elements, indirect
 * tables, event suppression and blk layouts: hdt_cases_packed_el.c;
 * shared builders: hdt_cases_packed.h). Every case runs on a packed virtqueue (VIRTIO_F_RING_PACKED
 * negotiated; SKIP when the device does not offer it) built by the engine
 * of hdt_packed.c, and breaks the clause of VIRTIO 1.2 section 2.8
 * (packed-ring.tex of oasis-tcs/virtio-spec) it names, except "ctl." and
 * "edge." cases: legal requests a device MUST serve (controls, and
 * arrangements a packed device has to cope with: a list that wraps the
 * ring end, the second lap's inverted AVAIL/USED polarity, ids only in the
 * last descriptor, out-of-order ids, a full ring).
 *
 * Cases build lists as hdt_pseg arrays and make them available with
 * hdt_ppost() at the driver's next ring offset; warm-up reads
 * (hdt_padvance) move that offset (and the wrap counter) first. A list
 * posted with HDT_PP_NOT_AVAIL was not made available by the driver's own
 * count (2.8.1): a device that uses it gets a FAIL ("never made
 * available"), and the probe later writes over it.
 */
#include <errno.h>
#include <string.h>

#include "hdt_cases_packed.h"
#include "virtio_platform.h"

/* ---- controls and legal arrangements ---- */

static int ctl_packed_read(struct hdt_ctx *c)
{
    struct hdt_pseg s[3];
    unsigned n = pread0(c, s);

    return ppost_expect(c, s, n, S_OK);
}

static int ctl_packed_indirect(struct hdt_ctx *c)
{
    uint64_t a;

    (void)pind_read0(c, 3, &a);
    return ppost_table(c, a, 48, F_I, S_OK);
}

static int edge_chain_wraps(struct hdt_ctx *c)
{
    struct hdt_pseg s[3];
    unsigned n;

    /* 2.8: "After reaching the end of the ring, the next descriptor is
     * placed at the head of the ring": a list at qsize-2, qsize-1, 0; the
     * last one carries the next lap's polarity (2.8.1). */
    if (!hdt_padvance(c, c->qsize - 2, 0))
        return 0;
    n = pread0(c, s);
    return ppost_expect(c, s, n, S_OK);
}

static int edge_second_lap(struct hdt_ctx *c)
{
    struct hdt_pseg s[3];
    unsigned n;

    /* After one lap the Driver Ring Wrap Counter is 0: AVAIL clear, USED
     * set means available (2.8.1). */
    if (!hdt_padvance(c, 0, 1))
        return 0;
    n = pread0(c, s);
    return ppost_expect(c, s, n, S_OK);
}

static int edge_id_only_last(struct hdt_ctx *c)
{
    struct hdt_pseg s[3];
    unsigned n = pread0(c, s);
    uint16_t id = (uint16_t)(5 % c->qsize);

    /* 2.8.6: "Buffer ID is included in the last descriptor in the list",
     * and the 2.8.21.3 example writes it only there (desc[last].id = id);
     * the step list of 2.8.21.1 sets d.id in each element, so a device
     * that reads the first one works with Linux but not with this. */
    s[0].id = (uint16_t)(0xdead ^ c->seed);
    s[1].id = 0xbeef;
    s[2].id = id;
    c->status_mask = S_OK;
    (void)hdt_ppost(c, s, n, id, HDT_PP_SEG_IDS);
    return 0;
}

static int edge_out_of_order_ids(struct hdt_ctx *c)
{
    struct hdt_pseg a[3], b[3];
    unsigned na = pread0(c, a), nb = pread0(c, b);

    /* Ids are the driver's to choose (2.8.21.1 step 2), not ring order. */
    c->status_mask = S_OK;
    (void)hdt_ppost(c, a, na, (uint16_t)(7 % c->qsize), 0);
    (void)hdt_ppost(c, b, nb, (uint16_t)(2 % c->qsize), 0);
    return 0;
}

static int edge_ring_full(struct hdt_ctx *c)
{
    struct hdt_pseg s[5][4];
    unsigned n[5], i, total = 0;
    uint64_t a;
    uint8_t *st;

    if (c->qsize < 16) {
        hdt_note(c->note, "queue smaller than 16");
        return -ENOTSUP;
    }
    /* Four reads of 3 and one of 4 descriptors: exactly Queue Size in
     * flight (2.8: "Once the ring is full of driver descriptors, the
     * driver stops sending new requests"). All built before the first is
     * made available (the snapshot). */
    for (i = 0; i < 4; i++)
        total += n[i] = pread0(c, s[i]);
    (void)hdt_pblk_req(c, s[4], VIRTIO_BLK_T_IN, 0, 256, F_W);
    s[4][3] = s[4][2]; /* status */
    (void)hdt_buf(c, 256, true, &a);
    s[4][2].addr = a;
    s[4][2].len = 256;
    s[4][2].flags = F_W;
    st = c->arena + (s[4][3].addr - c->dma);
    c->status_off = (int32_t)(st - c->arena);
    n[4] = 4;
    total += 4;
    c->status_mask = S_OK;
    for (i = 0; i < 5; i++)
        (void)hdt_ppost(c, s[i], n[i], (uint16_t)i, 0);
    (void)total;
    return 0;
}

static int edge_zero_len_data(struct hdt_ctx *c)
{
    struct hdt_pseg s[4];
    uint8_t *h = hdt_blk_hdr(c, VIRTIO_BLK_T_IN, 0, 16);
    uint64_t a;
    uint8_t *st;

    memset(s, 0, sizeof(s));
    s[0].addr = hdt_dma_of(c, h);
    s[0].len = 16;
    (void)hdt_buf(c, 16, false, &a); /* a zero-length writable element */
    s[1].addr = a;
    s[1].flags = F_W;
    (void)hdt_buf(c, 512, true, &a);
    s[2].addr = a;
    s[2].len = 512;
    s[2].flags = F_W;
    st = hdt_buf(c, 1, true, &a);
    s[3].addr = a;
    s[3].len = 1;
    s[3].flags = F_W;
    c->status_off = (int32_t)(st - c->arena);
    return ppost_expect(c, s, 4, S_OK);
}

static int edge_header_split(struct hdt_ctx *c)
{
    struct hdt_pseg s[4];
    uint8_t *h = hdt_blk_hdr(c, VIRTIO_BLK_T_IN, 0, 16);
    uint64_t a;
    uint8_t *st;

    memset(s, 0, sizeof(s));
    s[0].addr = hdt_dma_of(c, h);
    s[0].len = 8;
    s[1].addr = hdt_dma_of(c, h) + 8;
    s[1].len = 8;
    (void)hdt_buf(c, 512, true, &a);
    s[2].addr = a;
    s[2].len = 512;
    s[2].flags = F_W;
    st = hdt_buf(c, 1, true, &a);
    s[3].addr = a;
    s[3].len = 1;
    s[3].flags = F_W;
    c->status_off = (int32_t)(st - c->arena);
    return ppost_expect(c, s, 4, S_OK);
}

static int edge_extra_kicks(struct hdt_ctx *c)
{
    struct hdt_pseg s[3];
    unsigned n = pread0(c, s), i;

    /* 2.8.16: "A driver MAY send multiple available buffer notifications
     * without making any new descriptors available to the device". */
    for (i = 0; i < 3; i++)
        hdt_kick(c);
    return ppost_expect(c, s, n, S_OK);
}

static int edge_list_of_queue_size(struct hdt_ctx *c)
{
    struct hdt_pseg s[HDT_QSIZE];
    unsigned n = c->qsize, i;
    uint8_t *h;
    uint8_t *st;
    uint64_t a;

    if (n < 3) {
        hdt_note(c->note, "queue smaller than 3");
        return -ENOTSUP;
    }
    /* 2.8.17 forbids a list *longer* than the Queue Size: one of exactly
     * Queue Size descriptors (header, n-2 sectors, status) is legal. */
    h = hdt_blk_hdr(c, VIRTIO_BLK_T_IN, 0, 16);
    memset(s, 0, sizeof(s));
    s[0].addr = hdt_dma_of(c, h);
    s[0].len = 16;
    for (i = 1; i + 1 < n; i++) {
        (void)hdt_buf(c, 512, true, &a);
        s[i].addr = a;
        s[i].len = 512;
        s[i].flags = F_W;
    }
    st = hdt_buf(c, 1, true, &a);
    s[n - 1].addr = a;
    s[n - 1].len = 1;
    s[n - 1].flags = F_W;
    c->status_off = (int32_t)(st - c->arena);
    return ppost_expect(c, s, n, S_OK);
}

/* ---- buffer ids ---- */

static int id_oob(struct hdt_ctx *c)
{
    struct hdt_pseg s[3];
    unsigned n = pread0(c, s);

    c->status_mask = S_ANY;
    (void)hdt_ppost(c, s, n, (uint16_t)(c->qsize + (c->seed % 64)), 0);
    return 0;
}

static int id_in_flight(struct hdt_ctx *c)
{
    struct hdt_pseg a[3], b[3];
    unsigned na = pread0(c, a), nb = pread0(c, b);

    /* The same id twice before the device used the first (2.8.21.1 step
     * 2: "the next free buffer id"): the device cannot tell the driver
     * which list it returns. */
    c->status_mask = S_ANY;
    c->need_consume = false;
    (void)hdt_ppost(c, a, na, 0, 0);
    (void)hdt_ppost(c, b, nb, 0, 0);
    return 0;
}

/* ---- AVAIL / USED bits and the wrap counter ---- */

/* Write a read of sector 0 at next_avail with the AVAIL/USED pattern
 * bits, not counted as made available (the driver keeps the slot). */
static int not_avail(struct hdt_ctx *c, uint16_t bits)
{
    struct hdt_pseg s[3];
    unsigned n = pread0(c, s);

    raw_flags(s, n, bits, false);
    c->status_mask = S_ANY;
    (void)hdt_ppost(c, s, n, 0, HDT_PP_RAW_FLAGS | HDT_PP_NOT_AVAIL);
    return 0; /* need_consume: REJECT when left alone and still serving */
}

static int not_avail_both_set(struct hdt_ctx *c)
{
    return not_avail(c, F_A | F_U); /* AVAIL == USED: a used pattern */
}

static int wrong_wrap_polarity(struct hdt_ctx *c)
{
    return not_avail(c, F_U); /* the second lap's pattern in the first */
}

static int stale_wrap_polarity(struct hdt_ctx *c)
{
    if (!hdt_padvance(c, 0, 1))
        return 0;
    return not_avail(c, F_A); /* the first lap's pattern in the second */
}

static int rewind_avail(struct hdt_ctx *c)
{
    struct hdt_pseg s[3];
    unsigned n;
    uint16_t save;
    bool wrap;

    /* One read served at 0..2; then the driver writes 0..2 again with this
     * lap's available pattern although the device has moved on to 3
     * (2.8.12: the device processes descriptors in ring order, 2.8.2: it
     * polls only the next one). */
    if (!hdt_padvance(c, 3, 0))
        return 0;
    n = pread0(c, s);
    save = c->pk.next_avail;
    wrap = c->pk.avail_wrap;
    c->pk.next_avail = 0;
    c->status_mask = S_ANY;
    (void)hdt_ppost(c, s, n, 1, HDT_PP_NOT_AVAIL);
    c->pk.next_avail = save;
    c->pk.avail_wrap = wrap;
    return 0;
}

static int head_before_rest(struct hdt_ctx *c)
{
    struct hdt_pseg s[3], h;
    unsigned n = pread0(c, s);

    /* 2.8.17: "MUST NOT make the first descriptor in the list available
     * before all subsequent descriptors": the head alone, kicked; the rest
     * 100 ms later. */
    h = s[0];
    h.flags = (uint16_t)(F_N | hdt_pavail_bits(c->pk.avail_wrap));
    (void)hdt_ppost(c, &h, 1, 0, HDT_PP_RAW_FLAGS | HDT_PP_NOT_AVAIL);
    hdt_kick(c);
    (void)hdt_packed_wait(c, (uint16_t)(c->used_seen + 1), 100000000ull);
    c->status_mask = S_ANY;
    (void)hdt_ppost(c, s, n, 0, 0); /* the head's flags stay as they are */
    return 0;
}

static int mid_not_avail(struct hdt_ctx *c)
{
    struct hdt_pseg s[3];
    unsigned n = pread0(c, s);
    uint16_t av = hdt_pavail_bits(c->pk.avail_wrap);

    /* 2.8.6: "all flags, including VIRTQ_DESC_F_AVAIL, VIRTQ_DESC_F_USED
     * ... must be set/cleared correctly in all descriptors in the list". */
    s[0].flags = (uint16_t)(F_N | av);
    s[1].flags = (uint16_t)(F_W | F_N | F_A | F_U);
    s[2].flags = (uint16_t)(F_W | av);
    c->status_mask = S_ANY;
    (void)hdt_ppost(c, s, n, 0, HDT_PP_RAW_FLAGS);
    return 0;
}

static int last_has_next(struct hdt_ctx *c)
{
    struct hdt_pseg s[3];
    unsigned n = pread0(c, s);

    /* NEXT on the last descriptor made available; the one after it is
     * zero (never made available): 2.8.17. */
    raw_flags(s, n, hdt_pavail_bits(c->pk.avail_wrap), true);
    c->status_mask = S_ANY;
    (void)hdt_ppost(c, s, n, 0, HDT_PP_RAW_FLAGS);
    return 0;
}

static int chain_longer_than_queue(struct hdt_ctx *c)
{
    struct hdt_pseg s[HDT_QSIZE];
    unsigned n = c->qsize, i;
    uint8_t *h = hdt_blk_hdr(c, VIRTIO_BLK_T_IN, 0, 16);
    uint64_t a;

    /* The whole ring, NEXT on every descriptor: the list would continue
     * into its own head (2.8.17: no list longer than the Queue Size; "loops
     * in the descriptor list are forbidden"). */
    memset(s, 0, sizeof(s));
    s[0].addr = hdt_dma_of(c, h);
    s[0].len = 16;
    for (i = 1; i < n; i++) {
        (void)hdt_buf(c, 512, true, &a);
        s[i].addr = a;
        s[i].len = 512;
        s[i].flags = F_W;
    }
    raw_flags(s, n, hdt_pavail_bits(c->pk.avail_wrap), true);
    c->status_mask = S_ANY;
    (void)hdt_ppost(c, s, n, 0, HDT_PP_RAW_FLAGS);
    return 0;
}

static int indirect_longer_than_queue(struct hdt_ctx *c)
{
    unsigned n = c->qsize + 4, i;
    uint64_t ta, a;
    struct pvirtq_desc *t = (struct pvirtq_desc *)hdt_buf(c, 16 * n, false, &ta);
    uint8_t *h = hdt_blk_hdr(c, VIRTIO_BLK_T_IN, 0, 16);
    uint8_t *st;

    memset(t, 0, 16 * n);
    t[0].addr = hdt_dma_of(c, h);
    t[0].len = 16;
    for (i = 1; i < n - 1; i++) {
        (void)hdt_buf(c, 512, true, &a);
        t[i].addr = a;
        t[i].len = 512;
        t[i].flags = F_W;
    }
    st = hdt_buf(c, 1, true, &a);
    t[n - 1].addr = a;
    t[n - 1].len = 1;
    t[n - 1].flags = F_W;
    c->status_off = (int32_t)(st - c->arena);
    return ppost_table(c, ta, 16 * n, F_I, S_ANY);
}

static const struct hdt_case cases[] = {
    C("ctl.packed_read", ctl_packed_read, 0, "-", "control: a read of sector 0 on a packed ring"),
    C("ctl.packed_indirect", ctl_packed_indirect, IND, "-",
      "control: the same read in a packed indirect table"),
    C("edge.packed_chain_wraps", edge_chain_wraps, 0, "2.8 / 2.8.1 (the ring is circular)",
      "a 3-descriptor list across the ring's end"),
    C("edge.packed_second_lap", edge_second_lap, 0, "2.8.1 (wrap counter 0: AVAIL 0, USED 1)",
      "a read after one full lap (inverted polarity)"),
    C("edge.packed_id_only_last", edge_id_only_last, 0, "2.8.6 (Buffer ID in the last descriptor)",
      "garbage ids in all but the last descriptor"),
    C("edge.packed_out_of_order_ids", edge_out_of_order_ids, 0, "2.8.21.1 (any free buffer id)",
      "two reads with ids 7 then 2"),
    C("edge.packed_ring_full", edge_ring_full, 0, "2.8 (a ring full of driver descriptors)",
      "five reads filling all 16 descriptors"),
    C("edge.packed_zero_len_data", edge_zero_len_data, 0,
      "2.7.4.1 (device MUST NOT assume arrangement)", "a zero-length writable element in a read"),
    C("edge.packed_header_split", edge_header_split, 0,
      "2.7.4.1 (device MUST NOT assume arrangement)", "header in two 8-byte descriptors"),
    C("edge.packed_extra_kicks", edge_extra_kicks, 0, "2.8.16 (driver MAY notify with nothing new)",
      "three notifications, then a read"),
    C("edge.packed_list_of_queue_size", edge_list_of_queue_size, 0,
      "2.8.17 (no list longer than the Queue Size: equal is legal)",
      "a read as one list of exactly Queue Size descriptors"),
    C("packed.id_oob", id_oob, 0, "2.8.21.1 (a free buffer id; 2.8.22 asserts id < size)",
      "buffer id >= Queue Size"),
    C("packed.id_in_flight", id_in_flight, 0, "2.8.21.1 (the next free buffer id)",
      "the same id in two lists in flight"),
    C("packed.not_avail_both_set", not_avail_both_set, 0, "2.8.1 (available: AVAIL != USED)",
      "AVAIL == USED == 1 (not available), kicked"),
    C("packed.wrong_wrap_polarity", wrong_wrap_polarity, 0,
      "2.8.1 (AVAIL matches the driver wrap counter)", "lap-2 polarity in lap 1, kicked"),
    C("packed.stale_wrap_polarity", stale_wrap_polarity, 0,
      "2.8.1 (AVAIL matches the driver wrap counter)", "lap-1 polarity after a full lap, kicked"),
    C("packed.rewind", rewind_avail, 0, "2.8.12 / 2.8.2 (descriptors in ring order)",
      "descriptors 0..2 made available again behind the device"),
    C("packed.head_before_rest", head_before_rest, 0,
      "2.8.17 (first descriptor available after the rest)",
      "head available and kicked 100 ms before the rest"),
    C("packed.mid_not_avail", mid_not_avail, 0, "2.8.6 (flags correct in all descriptors)",
      "middle descriptor of a list not available"),
    C("packed.last_has_next", last_has_next, 0, "2.8.17 (list within what was made available)",
      "NEXT on the last descriptor made available"),
    C("packed.chain_longer_than_queue", chain_longer_than_queue, 0,
      "2.8.17 (no list longer than the Queue Size)", "every ring descriptor with NEXT"),
    C("packed.indirect_longer_than_queue", indirect_longer_than_queue, IND,
      "2.8.17 (no list longer than the Queue Size)", "indirect table of Queue Size + 4 entries"),
};

const struct hdt_table hdt_table_packed = {cases, sizeof(cases) / sizeof(cases[0])};
