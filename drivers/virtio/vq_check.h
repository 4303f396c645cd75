/* SPDX-License-Identifier: Apache-2.0 */
/*
 * vq_check.h - the virtqueue's checking mode (`virtio check on`): every
 * device-writable segment of a chain is bounced through a buffer of its own
 * followed by VQC_GUARD_BYTES guard bytes; on completion the bounce tells
 * whether the device wrote past the writable bytes (the guard changed) or
 * past the used length it reported (bytes at or beyond used len changed),
 * then its contents go back to the caller's buffers and it is freed.
 *
 * Why a bounce: the memory after a caller's buffer is not ours to fill with
 * guard bytes (it is the next slot, the next struct), so the device gets a
 * copy with room for the guard. The copy starts as the caller's bytes, so
 * a device that writes nothing changes nothing, and a correct device gives
 * the caller exactly what it would have had without checking.
 *
 * Used only by virtqueue.c; state private to one chain, no locking (the
 * virtqueue's caller serialises).
 */
#ifndef RINGLOOP_VQ_CHECK_H
#define RINGLOOP_VQ_CHECK_H

#include <stdbool.h>
#include <stdint.h>

#include "virtqueue.h"

#define VQC_GUARD_BYTES 64u
#define VQC_MAX_SGS 130u /* chains with more segments are not bounced */

struct vq_bounce;

/* What one completion showed (all zero: nothing wrong). */
struct vqc_report {
    uint32_t guard_bytes;  /* guard bytes changed, over all segments */
    uint32_t guard_seg;    /* first segment whose guard changed */
    uint32_t past_len;     /* bytes changed at or beyond the used length */
    uint32_t past_len_off; /* offset (in the writable bytes) of the first */
};

/*
 * Bounce the writable segments sgs[out..out+in): out_sgs gets the list to
 * give the device (readable segments as they are). NULL when there is
 * nothing to bounce, too many segments, or no memory: the chain then goes
 * out unchecked.
 */
struct vq_bounce *vqc_bounce(const struct vq_sg *sgs, unsigned out, unsigned in,
                             struct vq_sg *out_sgs);
/* The device used the chain with len: check, copy back, free. */
void vqc_complete(struct vq_bounce *b, uint32_t len, struct vqc_report *r);
/* The chain was taken back unused (after a reset): copy back, free. */
void vqc_discard(struct vq_bounce *b);
/* Free without copying (the queue goes away; the buffers may be gone). */
void vqc_drop(struct vq_bounce *b);

#endif
