/* SPDX-License-Identifier: Apache-2.0 */
/*
 * hdt_random.c - the seeded random mode of the hostile-driver suite (see
 * hdt_random.h). Each step is a synthetic case run through the engine
 * (hdt_run_case), so it gets the same session, oracle, probe and verdicts
 * as the catalogue; its choices come from the step's seed only.
 */
#include "hdt_random.h"

#include <string.h>

#include "hdt_dev.h"

#define OUTSIDE_RAM (1ull << 46)

uint64_t hdt_random_next(uint64_t *state)
{
    /* splitmix64 (Steele, Lea, Flood 2014): portable, no libc. */
    uint64_t z = (*state += 0x9e3779b97f4a7c15ull);

    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

static void note_edit(struct hdt_ctx *c, unsigned d, const char *what, uint64_t v, bool hex)
{
    hdt_note(c->note, c->note[0] ? " d" : "d");
    hdt_note_u(c->note, d, false);
    hdt_note(c->note, what);
    hdt_note_u(c->note, v, hex);
}

/* Keep every device-writable descriptor where the device may write: the
 * arena's buffer area (clamped to it) or far outside RAM; anything else
 * loses WRITE. The oracle's writable ranges are rebuilt from the result. */
static void make_safe(struct hdt_ctx *c, unsigned lim)
{
    struct virtq_desc *t = hdt_desc_table(c);
    uint64_t lo = c->dma + HDT_BUF_OFF, hi = c->dma + HDT_PROBE_OFF;
    unsigned i;

    c->nwr = 0;
    c->wr_outside = 0;
    for (i = 0; i < lim; i++) {
        t[i].flags &= (uint16_t)~VIRTQ_DESC_F_INDIRECT;
        if (!(t[i].flags & VIRTQ_DESC_F_WRITE))
            continue;
        if (t[i].addr >= lo && t[i].addr < hi) {
            if (t[i].len > hi - t[i].addr)
                t[i].len = (uint32_t)(hi - t[i].addr);
            hdt_mark_writable(c, c->arena + (t[i].addr - c->dma), t[i].len);
        } else if (t[i].addr < OUTSIDE_RAM || t[i].addr + t[i].len < t[i].addr) {
            t[i].flags &= (uint16_t)~VIRTQ_DESC_F_WRITE;
        } else if (c->wr_outside + t[i].len >= c->wr_outside) {
            c->wr_outside += t[i].len; /* a used len may count it */
        }
    }
}

static int random_case(struct hdt_ctx *c)
{
    struct virtq_desc *t = hdt_desc_table(c);
    uint64_t s = c->seed;
    unsigned lim = c->qsize - 4; /* the case's descriptors (hdt_dev.h) */
    unsigned n = hdt_dev_valid_req(c, 0);
    unsigned edits, e;
    uint16_t head = 0;

    if (n > lim)
        return -1;
    if (hdt_random_next(&s) % 2 == 0) {
        /* A well-formed step: served, and with an OK status where there is
         * one (blk status byte, pmem ret low byte: 0). */
        hdt_note(c->note, "valid");
        if (c->status_off >= 0)
            c->status_mask = 1u;
        hdt_post(c, 0);
        return 0;
    }
    c->status_mask = 0; /* any status: the request is no longer one */
    edits = 1 + (unsigned)(hdt_random_next(&s) % 3);
    for (e = 0; e < edits; e++) {
        unsigned i = (unsigned)(hdt_random_next(&s) % n);
        uint64_t r = hdt_random_next(&s);
        uint32_t len;

        switch (r % 5) {
        case 0: /* 2.7.5: WRITE / NEXT flipped (never INDIRECT) */
            t[i].flags ^= (r >> 8) & 1 ? VIRTQ_DESC_F_WRITE : VIRTQ_DESC_F_NEXT;
            note_edit(c, i, ".flags=", t[i].flags, true);
            break;
        case 1: {
            const uint32_t pick[7] = {
                0, 1, t[i].len - 1, t[i].len + 1, 4096, 0xffffffffu, (uint32_t)(r >> 16) & 0xffffu};

            len = pick[(r >> 8) % 7];
            t[i].len = len;
            note_edit(c, i, ".len=", len, true);
            break;
        }
        case 2:
            switch ((r >> 8) % 3) {
            case 0:
                t[i].addr = OUTSIDE_RAM + ((r >> 16) % 256) * 4096;
                break;
            case 1: /* somewhere in the case's own buffers */
                t[i].addr = c->dma + HDT_BUF_OFF + (r >> 16) % (c->buf_next - HDT_BUF_OFF);
                break;
            default:
                t[i].addr += (r >> 16) % 64;
                break;
            }
            /* Arena addresses as offsets: the same seed prints the same
             * line wherever the arena was allocated. */
            if (t[i].addr >= c->dma && t[i].addr - c->dma < HDT_ARENA)
                note_edit(c, i, ".addr=arena+", t[i].addr - c->dma, true);
            else
                note_edit(c, i, ".addr=", t[i].addr, true);
            break;
        case 3:
            t[i].next = (uint16_t)((r >> 8) % 2 ? (r >> 16) % (n + 2) : c->qsize + (r >> 16) % 16);
            note_edit(c, i, ".next=", t[i].next, false);
            break;
        default:
            head = (uint16_t)((r >> 8) % 2 ? (r >> 16) % (n + 1) : c->qsize + (r >> 16) % 16);
            hdt_note(c->note, c->note[0] ? " head=" : "head=");
            hdt_note_u(c->note, head, false);
            break;
        }
    }
    make_safe(c, lim);
    hdt_post(c, head);
    return 0;
}

static const struct hdt_case random_step = {
    "random.step", "one seeded random step", "-", 0, 0, random_case,
};

int hdt_random_run(struct virtio_device *dev, uint64_t seed, unsigned count, hdt_random_cb cb,
                   void *arg, int *stopped, unsigned counts[HDT_NV])
{
    unsigned i;
    int err;

    *stopped = -1;
    for (i = 0; i < count; i++) {
        struct hdt_random_step st;
        uint64_t s = seed ^ (0xd1342543de82ef95ull * (uint64_t)(i + 1));
        const char *sep;
        enum hdt_verdict v;

        memset(&st, 0, sizeof(st));
        st.step = i;
        err = hdt_run_case(dev, &random_step, hdt_random_next(&s), &st.r);
        if (err < 0) {
            hdt_finish(dev);
            return err;
        }
        /* The detail starts with the case's note (the edits) and "; ". */
        sep = strstr(st.r.detail, "; ");
        if (sep) {
            size_t n = (size_t)(sep - st.r.detail);

            if (n >= HDT_RANDOM_WHAT)
                n = HDT_RANDOM_WHAT - 1;
            memcpy(st.what, st.r.detail, n);
            memmove(st.r.detail, sep + 2, strlen(sep + 2) + 1);
        }
        st.malformed = strcmp(st.what, "valid") != 0;
        v = st.r.verdict;
        if (counts && v < HDT_NV)
            counts[v]++;
        if (cb)
            cb(arg, &st);
        if (v == HDT_WEDGED || v == HDT_FAIL || (v == HDT_NEEDS_RESET && !st.r.recovered)) {
            *stopped = (int)i;
            i++;
            break;
        }
    }
    hdt_finish(dev);
    return (int)i;
}
