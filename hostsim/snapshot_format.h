/* SPDX-License-Identifier: Apache-2.0 */
/*
 * snapshot_format.h - the section sizes and flag bits of the snapshot
 * format (documented in snapshot.h), shared by the writer (snapshot.c) and
 * the validating reader (snapshot_restore.c). Private to hostsim/.
 *
 * Invariants: each value here is the one snapshot.h documents; the writer
 * emits only these bits and the reader refuses any other, so changing one
 * is a format change (see "Versions" in snapshot.h).
 */
#ifndef RINGLOOP_SNAPSHOT_FORMAT_H
#define RINGLOOP_SNAPSHOT_FORMAT_H

#define TRNS_BYTES 24
#define DEVC_BYTES 32
#define QUEU_BYTES 40
/* 1.1: a live packed queue's QUEU (QUEU_F_PACKED): the 40 bytes, 12 more,
 * then 4 bytes (id, ndesc) per buffer in flight. */
#define QUEU_PACKED_BYTES 52
#define SNAP_MINOR_PACKED 1 /* first minor with QUEU_F_PACKED */

#define DEVC_F_ACTIVATED 1u
#define DEVC_F_NEEDS_RESET 2u
#define QUEU_F_LIVE 1u
#define QUEU_F_EVENT_IDX 2u
#define QUEU_F_INDIRECT 4u
#define QUEU_F_BROKEN 8u
#define QUEU_F_PACKED 16u /* 1.1 */
#define HDR_F_CONTENT 1u

#include <stdint.h>

#include "vdev.h"
#include "vdq.h"

/* The reader's error text (snapshot_restore.c). */
struct snap_err {
    char *buf;
    size_t cap, len;
};

/*
 * "<section>[index]: <reason>" into e; reason is a format with %s, %u
 * (unsigned), %U (uint64_t) and %X (uint64_t, hex) only. Returns -EINVAL.
 */
int snap_fail(struct snap_err *e, const char *section, int index, const char *fmt, ...);

/* One decoded QUEU section (snapshot_restore.c, snapshot_packed.c). */
struct plan_queue {
    uint16_t max_size, size;
    uint8_t ready, flags;
    uint8_t avail_wrap, used_wrap; /* packed */
    uint64_t desc, avail, used;
    uint16_t next_avail, next_used, num_added, n_inflight;
    uint16_t ev_flags, ev_off_wrap, reserved; /* packed */
    uint16_t pad;
    uint32_t added_desc; /* packed */
    uint32_t pad2;
    const uint8_t *inflight; /* split: n u16 heads; packed: n (u16 id, u16 ndesc) */
    struct vdq q;            /* built in snap_plan(), installed by snap_apply() */
};

/* A live packed queue's ring state (snapshot_packed.c): validated, the
 * in-flight buffers checked against the ring, and pq->q built. */
int snap_plan_packed(struct plan_queue *pq, const struct vdev *d, uint64_t acked, unsigned qi,
                     struct snap_err *e);

#endif
