/* SPDX-License-Identifier: Apache-2.0 */
/*
 * vq_check.c - bounce buffers with guard bytes for the virtqueue's checking
 * mode (see vq_check.h).
 *
 * Layout of one bounce (one DMA allocation per chain):
 *   [seg 0 bytes][guard][seg 1 bytes][guard] ... (writable segments only)
 * each segment starting 8-byte aligned. The guard is a position-dependent
 * pattern, so a device that fills memory with one value, or copies a
 * neighbour, still changes it.
 *
 * VIRTIO 1.2 2.7.8: "The device MUST write at least len bytes to
 * descriptor ... The device MAY write more than len bytes" and the driver
 * "MUST NOT make assumptions about data in device-writable buffers beyond
 * the first len bytes". So bytes changed beyond the used length are legal
 * but mean the used length under-reports what the device did (the
 * hostile-device catalogue's "used len smaller than what was written");
 * they are reported apart from guard writes, which no device may do.
 */
#include "vq_check.h"

#include <string.h>

#include "virtio_platform.h"

struct vqc_seg {
    uint8_t *user; /* the caller's buffer */
    uint32_t len;
    uint32_t off; /* in the bounce */
};

struct vq_bounce {
    uint8_t *mem;
    size_t bytes;
    unsigned nsegs;
    struct vqc_seg segs[];
};

static size_t vqc_align8(size_t x)
{
    return (x + 7) & ~(size_t)7;
}

static uint8_t vqc_guard_byte(uint32_t i)
{
    return (uint8_t)(0xa5u ^ (i * 0x3bu));
}

struct vq_bounce *vqc_bounce(const struct vq_sg *sgs, unsigned out, unsigned in,
                             struct vq_sg *out_sgs)
{
    struct vq_bounce *b;
    size_t bytes = 0;
    uint64_t dma;
    unsigned i;

    if (in == 0 || out + in > VQC_MAX_SGS)
        return NULL;
    for (i = out; i < out + in; i++)
        bytes = vqc_align8(bytes + sgs[i].len + VQC_GUARD_BYTES);
    b = virt_zalloc(sizeof(*b) + sizeof(b->segs[0]) * in);
    if (!b)
        return NULL;
    b->mem = virt_dma_alloc(bytes, &dma);
    if (!b->mem) {
        virt_free(b);
        return NULL;
    }
    b->bytes = bytes;
    b->nsegs = in;
    bytes = 0;
    for (i = 0; i < out + in; i++) {
        struct vqc_seg *s;
        uint32_t g;

        out_sgs[i] = sgs[i];
        if (i < out)
            continue;
        s = &b->segs[i - out];
        s->user = sgs[i].buf;
        s->len = sgs[i].len;
        s->off = (uint32_t)bytes;
        /* The device starts from the caller's bytes (see vq_check.h). */
        memcpy(b->mem + s->off, s->user, s->len);
        for (g = 0; g < VQC_GUARD_BYTES; g++)
            b->mem[s->off + s->len + g] = vqc_guard_byte(g);
        out_sgs[i].buf = b->mem + s->off;
        bytes = vqc_align8(bytes + s->len + VQC_GUARD_BYTES);
    }
    return b;
}

void vqc_drop(struct vq_bounce *b)
{
    virt_dma_free(b->mem, b->bytes);
    virt_free(b);
}

/* Copy back what the device wrote (all of it: a correct device's caller
 * sees what it would have seen unbounced). */
static void vqc_copy_back(struct vq_bounce *b)
{
    unsigned i;

    for (i = 0; i < b->nsegs; i++)
        memcpy(b->segs[i].user, b->mem + b->segs[i].off, b->segs[i].len);
}

void vqc_complete(struct vq_bounce *b, uint32_t len, struct vqc_report *r)
{
    uint64_t pos = 0; /* offset of the segment in the chain's writable bytes */
    unsigned i;
    uint32_t j;

    memset(r, 0, sizeof(*r));
    for (i = 0; i < b->nsegs; i++) {
        const struct vqc_seg *s = &b->segs[i];
        const uint8_t *d = b->mem + s->off;
        uint32_t guard = 0;

        for (j = 0; j < VQC_GUARD_BYTES; j++)
            guard += d[s->len + j] != vqc_guard_byte(j);
        if (guard && !r->guard_bytes)
            r->guard_seg = i;
        r->guard_bytes += guard;
        /* Bytes at or beyond len that differ from the caller's. */
        for (j = pos >= len ? 0 : (uint32_t)(len - pos); j < s->len; j++) {
            if (d[j] != s->user[j]) {
                if (!r->past_len)
                    r->past_len_off = (uint32_t)(pos + j);
                r->past_len++;
            }
        }
        pos += s->len;
    }
    vqc_copy_back(b);
    vqc_drop(b);
}

void vqc_discard(struct vq_bounce *b)
{
    vqc_copy_back(b);
    vqc_drop(b);
}
