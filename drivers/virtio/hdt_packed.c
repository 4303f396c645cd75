/* SPDX-License-Identifier: Apache-2.0 */
/*
 * hdt_packed.c - the hostile-driver engine's packed-ring half (hdt.h,
 * hdt_internal.h): the driver side of a packed virtqueue (VIRTIO 1.2
 * section 2.8, packed-ring.tex of oasis-tcs/virtio-spec) built by hand in
 * the arena, so that cases can make available what a real driver never
 * would; hdt.c calls in here at its dispatch points (wait, probe, collect,
 * the canary's writable set) when the session negotiated
 * VIRTIO_F_RING_PACKED.
 *
 * Layout (same offsets as split, hdt_internal.h): the Descriptor Ring at
 * HDT_DESC_OFF (16 * qsize bytes, 16-aligned, 2.8.10.1), the Driver Event
 * Suppression structure at HDT_AVAIL_OFF (ours; "read-only by the device",
 * 2.8), the Device Event Suppression structure at HDT_USED_OFF ("write-only
 * by the device"). Everything else of the ring page is canary.
 *
 * What the device may write (the oracle, 2.8 and 2.8.6): the Device Event
 * Suppression structure, and a descriptor of the ring only when it is the
 * used descriptor the driver then reads there ("it writes a used device
 * descriptor including the Buffer ID into the Descriptor Ring (overwriting
 * a driver descriptor previously made available)"). A used descriptor's
 * addr is "unused" (2.8.4): a device that rewrites it is noted, not failed.
 *
 * The driver state mirrors 2.8.1 / 2.8.22: next_avail with the Driver Ring
 * Wrap Counter, next_used with the wrap counter the device's used
 * descriptors carry, and the lists made available in ring order (id, ring
 * offset, descriptor count) so that a used id tells how far to skip (2.8.6:
 * "The driver needs to keep track of the size of the list corresponding to
 * each buffer ID"). Everything the device wrote is read once and checked:
 * a used id must be < Queue Size and belong to a list made available and
 * not yet used; a used len must not exceed the writable bytes; we never
 * poll more used descriptors than lists are outstanding.
 */
#include <errno.h>
#include <string.h>

#include "hdt_internal.h"
#include "virtio_platform.h"

#define PK_PROBE_WAIT_NS 1000000000ull

/* ---- session and ring writes ---- */

void hdt_packed_reset(struct hdt_ctx *c)
{
    uint32_t off;

    memset(&c->pk, 0, sizeof(c->pk));
    c->pk.avail_wrap = c->pk.used_wrap = true; /* 2.8.1: both counters start at 1 */
    /* 2.8.13: "The descriptor ring is zero-initialized" (hdt_open zeroed
     * the whole ring page); the two 4-byte event suppression structures
     * are zero too (flags ENABLE, 2.8.14). Everything around the three
     * parts goes back to canary so that a stray write there is seen. */
    for (off = HDT_DESC_OFF + 16u * c->qsize; off < HDT_BUF_OFF; off++) {
        if ((off >= HDT_AVAIL_OFF && off < HDT_AVAIL_OFF + 4) ||
            (off >= HDT_USED_OFF && off < HDT_USED_OFF + 4))
            continue;
        c->arena[off] = hdt_canary_byte(off);
    }
}

/* Mirror [p, p+len) of the arena into the snapshot once it is taken: the
 * case's own writes after the first publication are no device writes. */
static void pk_mirror(struct hdt_ctx *c, const void *p, uint32_t len)
{
    uint32_t off = (uint32_t)((const uint8_t *)p - c->arena);

    if (c->snapped && off < HDT_ARENA && len <= HDT_ARENA - off)
        memcpy(c->shadow + off, c->arena + off, len);
}

void hdt_pstore16(struct hdt_ctx *c, uint16_t *p, uint16_t v)
{
    /* Release: whatever the case wrote before (the rest of a list, its
     * buffers) is visible before this store, which may be the one that
     * makes a descriptor available (2.8.21.1.1); pairs with the device's
     * acquire of the flags it polls. */
    virt_store_release16(p, v);
    pk_mirror(c, p, 2);
}

void hdt_pdesc(struct hdt_ctx *c, unsigned off, uint64_t addr, uint32_t len, uint16_t id,
               uint16_t flags)
{
    struct pvirtq_desc *d;

    if (off >= c->qsize)
        return; /* a case bug; the oracle then shows the missing list */
    d = &hdt_pring(c)[off];
    d->addr = addr;
    d->len = len;
    d->id = id;
    /* 2.8.21.1 step 7: the fields before the flags (a release store). */
    virt_store_release16(&d->flags, flags);
    pk_mirror(c, d, sizeof(*d));
}

static uint16_t pk_outstanding_desc(const struct hdt_ctx *c)
{
    unsigned i, n = 0;

    for (i = 0; i < c->pk.nlists; i++) {
        if (!c->pk.lists[i].done)
            n += c->pk.lists[i].ndesc;
    }
    return (uint16_t)n;
}

static void pk_record(struct hdt_ctx *c, uint16_t id, unsigned first, unsigned n, bool hostile)
{
    struct hdt_plist *l;

    if (c->pk.nlists >= HDT_PK_MAX_LISTS) {
        /* Forget the oldest used one (the table is a window). */
        unsigned i, j = 0;

        for (i = 0; i < c->pk.nlists; i++) {
            if (!c->pk.lists[i].done)
                c->pk.lists[j++] = c->pk.lists[i];
        }
        c->pk.nlists = (uint16_t)j;
        if (j >= HDT_PK_MAX_LISTS)
            return;
    }
    l = &c->pk.lists[c->pk.nlists++];
    l->id = id;
    l->off = (uint16_t)first;
    l->ndesc = (uint16_t)(n > 0xffffu ? 0xffffu : n);
    l->done = false;
    l->hostile = hostile;
    if (hostile && c->nheads < HDT_MAX_HEADS)
        c->heads[c->nheads++] = id;
}

/* The list writer under hdt_ppost and the probe; snap: take the snapshot
 * before the head's flags (the publication). */
static unsigned pk_post(struct hdt_ctx *c, const struct hdt_pseg *seg, unsigned n, uint16_t id,
                        unsigned mode, bool snap, bool hostile)
{
    struct pvirtq_desc *ring = hdt_pring(c);
    unsigned first = c->pk.next_avail, off = first, i;
    bool wrap = c->pk.avail_wrap;
    uint16_t head_flags = 0;

    for (i = 0; i < n; i++) {
        uint16_t f = seg[i].flags;
        uint16_t did = (mode & HDT_PP_SEG_IDS) ? seg[i].id : id;

        if (!(mode & HDT_PP_RAW_FLAGS)) {
            /* 2.8.21.1 step 6: WRITE as the element is, AVAIL = the
             * Driver Ring Wrap Counter, USED its inverse; 2.8.6: NEXT on
             * all but the last. */
            f = (uint16_t)((f & ~(VIRTQ_DESC_F_NEXT | VIRTQ_DESC_F_AVAIL | VIRTQ_DESC_F_USED)) |
                           (i + 1 < n ? VIRTQ_DESC_F_NEXT : 0) | hdt_pavail_bits(wrap));
        }
        if (i == 0 && !(mode & HDT_PP_NO_LAST_FIRST)) {
            /* 2.8.6: the first descriptor is made available after the rest
             * of the list: its flags wait (the old flags stay, which say
             * "not available" in this lap). */
            struct pvirtq_desc *d = &ring[off];

            d->addr = seg[i].addr;
            d->len = seg[i].len;
            d->id = did;
            pk_mirror(c, d, 14); /* addr, len, id: all but the flags */
            head_flags = f;
        } else {
            hdt_pdesc(c, off, seg[i].addr, seg[i].len, did, f);
        }
        if (++off == c->qsize) {
            off = 0;
            wrap = !wrap; /* 2.8.1: toggled after the last descriptor */
        }
    }
    if (snap)
        hdt_snapshot(c);
    if (n && !(mode & HDT_PP_NO_LAST_FIRST)) {
        /* Release: the rest of the list and the head's addr/len/id before
         * the head's flags (2.8.21.1.1 "The driver MUST perform a suitable
         * memory barrier before the flags update"); pairs with the
         * device's acquire of the flags it polls (2.8.2). */
        virt_store_release16(&ring[first].flags, head_flags);
        if (c->snapped)
            ((struct pvirtq_desc *)(c->shadow + HDT_DESC_OFF))[first].flags = head_flags;
    }
    if (!(mode & HDT_PP_NOT_AVAIL)) {
        c->pk.next_avail = (uint16_t)off;
        c->pk.avail_wrap = wrap;
        pk_record(c, id, first, n, hostile);
    }
    return first;
}

unsigned hdt_ppost(struct hdt_ctx *c, const struct hdt_pseg *seg, unsigned n, uint16_t id,
                   unsigned mode)
{
    return pk_post(c, seg, n, id, mode, true, true);
}

unsigned hdt_pblk_req(struct hdt_ctx *c, struct hdt_pseg *seg, uint32_t type, uint64_t sector,
                      uint32_t data_len, uint16_t data_flags)
{
    uint8_t *h = hdt_blk_hdr(c, type, sector, 16);
    unsigned n = 0;
    uint64_t a;
    uint8_t *st;

    memset(seg, 0, sizeof(*seg) * 3);
    seg[n].addr = hdt_dma_of(c, h);
    seg[n].len = 16;
    n++;
    if (data_len) {
        (void)hdt_buf(c, data_len, (data_flags & VIRTQ_DESC_F_WRITE) != 0, &a);
        seg[n].addr = a;
        seg[n].len = data_len;
        seg[n].flags = data_flags;
        n++;
    }
    st = hdt_buf(c, 1, true, &a);
    seg[n].addr = a;
    seg[n].len = 1;
    seg[n].flags = VIRTQ_DESC_F_WRITE;
    n++;
    c->status_off = (int32_t)(st - c->arena);
    return n;
}

/* ---- reading used descriptors ---- */

struct pk_used {
    uint16_t id;
    uint16_t flags;
    uint32_t len;
    int list; /* index into pk.lists, -1: none */
};

/* The outstanding list an id belongs to (the oldest, for a reused id). */
static int pk_find(const struct hdt_ctx *c, uint16_t id, uint32_t skip_mask)
{
    unsigned i;

    for (i = 0; i < c->pk.nlists; i++) {
        if (!c->pk.lists[i].done && !(skip_mask & (1u << i)) && c->pk.lists[i].id == id)
            return (int)i;
    }
    return -1;
}

/* Read the descriptor at off as a used one for wrap: 1 and *u when used
 * (u->list -1 when its id is none of ours), 0 when not. */
static int pk_read_used(struct hdt_ctx *c, uint16_t off, bool wrap, uint32_t skip_mask,
                        struct pk_used *u)
{
    struct pvirtq_desc *d = &hdt_pring(c)[off];
    /* Acquire: id and len are read after the flags that say "used";
     * pairs with the device's release of those flags (2.8.22, 2.8.1). */
    uint16_t flags = virt_load_acquire16(&d->flags);

    if (!pvirtq_is_used(flags, wrap))
        return 0;
    /* A descriptor exactly as the driver wrote it is no used one, even
     * when its bits read so (a case wrote AVAIL == USED itself): a
     * device's used descriptor always differs, its AVAIL/USED pattern is
     * never the available one the driver wrote (2.8.1). */
    if (c->snapped && memcmp(d, c->shadow + HDT_DESC_OFF + 16u * off, sizeof(*d)) == 0)
        return 0;
    u->flags = flags;
    u->id = virt_read_once16(&d->id);
    u->len = virt_read_once32(&d->len);
    /* Only an id of a list we made available and have not seen used is
     * accepted (we never index by it); one >= Queue Size is named so in
     * the verdict (no driver hands out such an id, 2.8.21.1 step 2),
     * unless a case made it available itself. */
    u->list = pk_find(c, u->id, skip_mask);
    return 1;
}

static void pk_skip(const struct hdt_ctx *c, uint16_t *off, bool *wrap, uint16_t n)
{
    uint32_t o = *off + (uint32_t)n;

    /* 2.8.6: skip the list's descriptor count; a list as long as the ring
     * (or longer: a hostile case) still moves at most one lap. */
    while (o >= c->qsize) {
        o -= c->qsize;
        *wrap = !*wrap;
    }
    *off = (uint16_t)o;
}

unsigned hdt_packed_peek(struct hdt_ctx *c)
{
    uint16_t off = c->pk.next_used;
    bool wrap = c->pk.used_wrap;
    uint32_t taken = 0;
    unsigned n = 0, limit = c->pk.nlists + 1u;
    struct pk_used u;

    while (n < limit && pk_read_used(c, off, wrap, taken, &u)) {
        n++;
        if (u.list < 0)
            break; /* cannot tell how far to skip: the collector will say */
        taken |= 1u << u.list;
        pk_skip(c, &off, &wrap, c->pk.lists[u.list].ndesc);
    }
    return n;
}

bool hdt_packed_wait(struct hdt_ctx *c, uint16_t want, uint64_t timeout_ns)
{
    uint16_t need = (uint16_t)(want - c->used_seen);
    uint64_t start = virt_time_ns();

    if (need >= 0x8000u)
        return true;
    for (;;) {
        if (hdt_packed_peek(c) >= need)
            return true;
        if (hdt_status(c) & VIRTIO_STATUS_DEVICE_NEEDS_RESET)
            return false;
        if (virt_time_ns() - start > timeout_ns)
            return false;
    }
}

/* Take the used descriptor at next_used: 1 (consumed, *u), 0 (none), -1
 * (used, but its id is none of ours: nothing consumed). */
static int pk_take(struct hdt_ctx *c, struct pk_used *u)
{
    uint16_t pos = c->pk.next_used;
    struct hdt_plist *l;

    if (!pk_read_used(c, pos, c->pk.used_wrap, 0, u))
        return 0;
    if (u->list < 0)
        return -1;
    l = &c->pk.lists[u->list];
    l->done = true;
    pk_skip(c, &c->pk.next_used, &c->pk.used_wrap, l->ndesc);
    c->used_seen++;
    if (c->snapped && pos < 32) {
        const uint8_t *now = c->arena + HDT_DESC_OFF + 16u * pos;
        const uint8_t *was = c->shadow + HDT_DESC_OFF + 16u * pos;

        c->pk.used_mask |= 1u << pos;
        if (memcmp(now, was, 8) != 0)
            c->pk.addr_rewritten = true;
    }
    return 1;
}

static uint32_t pk_writable_bytes(const struct hdt_ctx *c)
{
    uint32_t n = 0;
    unsigned i;

    for (i = 0; i < c->nwr; i++)
        n += c->wr[i].len;
    return n;
}

static bool pk_writable_changed(const struct hdt_ctx *c)
{
    unsigned i;
    uint32_t j;

    for (i = 0; i < c->nwr; i++) {
        for (j = 0; j < c->wr[i].len; j++) {
            if (c->arena[c->wr[i].off + j] != c->shadow[c->wr[i].off + j])
                return true;
        }
    }
    return false;
}

bool hdt_packed_collect(struct hdt_ctx *c, struct hdt_result *r, unsigned *consumed, uint32_t *len0)
{
    unsigned guard = c->pk.nlists + 1u;
    struct pk_used u;

    *consumed = 0;
    *len0 = 0;
    while (guard--) {
        int t = pk_take(c, &u);

        if (t == 0)
            break;
        if (t < 0) {
            if (c->lax_used) {
                hdt_note(r->detail, "used id ");
                hdt_note_u(r->detail, u.id, false);
                hdt_note(r->detail, " unaccounted (lax); ");
                break;
            }
            r->verdict = HDT_FAIL;
            hdt_note(r->detail, "used id ");
            hdt_note_u(r->detail, u.id, false);
            hdt_note(r->detail, u.id >= c->qsize ? " >= Queue Size" : " was never made available");
            hdt_note(r->detail, " (ring offset ");
            hdt_note_u(r->detail, c->pk.next_used, false);
            hdt_note(r->detail, ")");
            return false;
        }
        /* 2.8.4: len is the bytes written (the driver trusts it no more
         * than the writable bytes it gave). */
        if (u.len > pk_writable_bytes(c)) {
            r->verdict = HDT_FAIL;
            hdt_note(r->detail, "used len ");
            hdt_note_u(r->detail, u.len, false);
            hdt_note(r->detail, " > writable bytes ");
            hdt_note_u(r->detail, pk_writable_bytes(c), false);
            return false;
        }
        if (u.len && !(u.flags & VIRTQ_DESC_F_WRITE))
            c->pk.no_write_flag = true;
        if ((*consumed)++ == 0)
            *len0 = u.len;
    }
    if (*consumed && *len0 == 0 && pk_writable_changed(c))
        hdt_note(r->detail, "len 0 but wrote the buffers; ");
    if (c->pk.addr_rewritten)
        hdt_note(r->detail, "addr of a used descriptor rewritten (2.8.4: unused); ");
    return true;
}

bool hdt_packed_writable(const struct hdt_ctx *c, uint32_t off)
{
    if (off >= HDT_DESC_OFF && off < HDT_DESC_OFF + 16u * c->qsize) {
        uint32_t pos = (off - HDT_DESC_OFF) / 16u;

        return pos < 32 && (c->pk.used_mask & (1u << pos));
    }
    /* 2.8: the Device Event Suppression structure is the device's. */
    return off >= HDT_USED_OFF && off < HDT_USED_OFF + 4;
}

const char *hdt_packed_region(uint32_t off)
{
    if (off < HDT_DESC_OFF)
        return "canary before rings";
    if (off < HDT_DESC_OFF + 16u * HDT_QSIZE)
        return "descriptor ring, a descriptor not marked used";
    if (off < HDT_AVAIL_OFF)
        return "canary after descriptor ring";
    if (off < HDT_AVAIL_OFF + 4)
        return "driver event suppression (read-only for the device)";
    if (off < HDT_USED_OFF)
        return "canary after driver area";
    if (off < HDT_BUF_OFF)
        return "canary after device area";
    return "readable buffer/canary";
}

/* ---- the probe and the warm-up: reads of sector 0 in the probe area ---- */

/* Post a read of sector 0 as a list of ndesc (2..4) descriptors at
 * next_avail (not a hostile list, no snapshot), kick, and take used
 * descriptors until its own comes back: true when served with status OK. */
static bool pk_read0(struct hdt_ctx *c, unsigned ndesc)
{
    uint8_t *p = c->arena + HDT_PROBE_OFF;
    uint64_t a = c->dma + HDT_PROBE_OFF;
    uint32_t w[4] = {VIRTIO_BLK_T_IN, 0, 0, 0};
    struct hdt_pseg seg[4];
    uint64_t start;
    uint16_t id;
    unsigned n = 0;
    int probe_list;

    /* An id no outstanding list has (2.8.21.1 step 2: "the next free
     * buffer id"), and room for the whole list (2.8.17: "enough space in
     * the ring for the whole list"). */
    for (id = (uint16_t)(c->qsize - 1);; id--) {
        if (pk_find(c, id, 0) < 0)
            break;
        if (id == 0)
            return false;
    }
    if (pk_outstanding_desc(c) + ndesc > c->qsize)
        return false;
    memcpy(p, w, 16);
    p[16 + 512] = 0xff;
    memset(seg, 0, sizeof(seg));
    seg[n].addr = a;
    seg[n++].len = 16;
    if (ndesc == 2) {
        seg[n].addr = a + 16;
        seg[n].len = 513;
        seg[n++].flags = VIRTQ_DESC_F_WRITE;
    } else {
        if (ndesc == 4) {
            seg[n].addr = a + 16;
            seg[n].len = 256;
            seg[n++].flags = VIRTQ_DESC_F_WRITE;
            seg[n].addr = a + 16 + 256;
            seg[n].len = 256;
            seg[n++].flags = VIRTQ_DESC_F_WRITE;
        } else {
            seg[n].addr = a + 16;
            seg[n].len = 512;
            seg[n++].flags = VIRTQ_DESC_F_WRITE;
        }
        seg[n].addr = a + 16 + 512;
        seg[n].len = 1;
        seg[n++].flags = VIRTQ_DESC_F_WRITE;
    }
    (void)pk_post(c, seg, n, id, 0, false, false);
    probe_list = c->pk.nlists - 1;
    hdt_kick(c);
    start = virt_time_ns();
    for (;;) {
        struct pk_used u;
        int t = pk_take(c, &u);

        if (t < 0)
            return false; /* an id we cannot account for: no trust in the rest */
        if (t > 0 && u.list == probe_list)
            return p[16 + 512] == VIRTIO_BLK_S_OK;
        if (t > 0) {
            /* An earlier list came back first: a case's own one now means
             * it was served after the case's wait (a slow device). */
            if (c->pk.lists[u.list].hostile)
                c->pk.late = true;
            continue;
        }
        if (hdt_status(c) & VIRTIO_STATUS_DEVICE_NEEDS_RESET)
            return false;
        if (virt_time_ns() - start > PK_PROBE_WAIT_NS)
            return false;
    }
}

bool hdt_packed_probe(struct hdt_ctx *c)
{
    return pk_read0(c, 3);
}

bool hdt_padvance(struct hdt_ctx *c, unsigned off, unsigned laps)
{
    uint32_t total = laps * c->qsize + (off + c->qsize - c->pk.next_avail) % c->qsize;

    if (total == 1)
        total += c->qsize; /* no blk request fits one descriptor */
    while (total > 0) {
        unsigned k = total >= 5 ? 3 : total;

        if (!pk_read0(c, k)) {
            hdt_note(c->note, "warm-up read at ring offset ");
            hdt_note_u(c->note, c->pk.next_avail, false);
            hdt_note(c->note, " not served");
            c->case_fail = true;
            return false;
        }
        total -= k;
    }
    return true;
}
