/* SPDX-License-Identifier: Apache-2.0 */
/*
 * hdt.h - the hostile-driver device tester (issue 12, first slice): a
 * catalogue of named driver misbehaviours, each breaking one "driver MUST"
 * of VIRTIO 1.2, committed against a device through the ordinary transport
 * ops (virtio.h), with a verdict per case. The mirror image of
 * hostsim/hostile.h (the hostile *device*).
 *
 * How a case runs (hdt.c): the device is taken from its driver by a reset,
 * then for every case
 *   1. a fresh session: reset, ACKNOWLEDGE, DRIVER, features (VERSION_1,
 *      INDIRECT_DESC when the case wants it), FEATURES_OK, queue 0 of
 *      HDT_QSIZE entries on our own rings inside one DMA arena, DRIVER_OK;
 *   2. the arena is filled with a canary pattern, the case writes its
 *      descriptors, buffers and available entries directly, a snapshot of
 *      the arena is taken before the available index is published, and the
 *      queue is notified;
 *   3. the engine waits for used entries or DEVICE_NEEDS_RESET, then the
 *      oracle compares the arena with the snapshot: only the used ring and
 *      the buffers the case declared device-writable may have changed;
 *   4. a well-formed request (a blk read of sector 0) proves the device
 *      still serves; if not, a reset and a new session say whether a reset
 *      recovers it.
 * After the run the device is left reset; the caller re-initialises its
 * driver (virtio_bind_reinit in the image).
 *
 * Verdicts: PASS (served, e.g. with an error status), REJECT (the hostile
 * chain was not consumed, the device still serves), NEEDS_RESET (the device
 * set DEVICE_NEEDS_RESET and the config interrupt arrived), WEDGED (no
 * progress; the detail says whether a reset recovers), FAIL (an oracle
 * caught a wrong result), SKIP (the case cannot be expressed against this
 * device or transport; the detail says why).
 *
 * The oracle covers the arena (rings, indirect tables, every buffer and the
 * canary space around them), not the whole of guest RAM. Bytes written past
 * the used length inside a writable buffer are reported ("past-len") but are
 * no FAIL: 2.7.8.2 says "The device MAY write more than len bytes".
 *
 * Concurrency: one run at a time, nothing else may use the device meanwhile.
 */
#ifndef RINGLOOP_HDT_H
#define RINGLOOP_HDT_H

#include <stdbool.h>
#include <stdint.h>

#include "virtio.h"

enum hdt_verdict { HDT_PASS, HDT_REJECT, HDT_NEEDS_RESET, HDT_WEDGED, HDT_FAIL, HDT_SKIP, HDT_NV };

#define HDT_DETAIL_MAX 160

struct hdt_result {
    enum hdt_verdict verdict;
    bool recovered; /* WEDGED / NEEDS_RESET: a reset made the device serve again */
    char detail[HDT_DETAIL_MAX];
};

struct hdt_ctx;

/* What a case needs of the session (hdt_case.flags). */
#define HDT_WANT_INDIRECT 1u /* negotiate VIRTIO_F_INDIRECT_DESC (SKIP if not offered) */
#define HDT_OWN_SESSION 2u   /* the case opens the session itself (state machine cases) */
#define HDT_WANT_PACKED 4u   /* negotiate VIRTIO_F_RING_PACKED (SKIP if not offered) */

struct hdt_case {
    const char *id;     /* "split.desc_index_oob" */
    const char *desc;   /* one line */
    const char *clause; /* the VIRTIO 1.2 clause it breaks */
    uint32_t device_id; /* VIRTIO_ID_*; 0: any device */
    uint32_t flags;     /* HDT_WANT_* */
    /* Build and post the case: 0, or a negative errno for "cannot express"
     * (the result then is SKIP with the detail the case set). */
    int (*run)(struct hdt_ctx *c);
};

unsigned hdt_count(void);
const struct hdt_case *hdt_case_at(unsigned i);
const struct hdt_case *hdt_find(const char *id);
/* The index of id in the catalogue (hdt_case_at), or -1. */
int hdt_index(const char *id);
const char *hdt_verdict_name(enum hdt_verdict v);

/* Run one case against dev (which must be a blk device for blk cases; the
 * run resets it). seed varies the choices a case makes (which head, which
 * address). 0 or -ENOMEM / -ENODEV (no such queue). */
int hdt_run_case(struct virtio_device *dev, const struct hdt_case *k, uint64_t seed,
                 struct hdt_result *out);
/* Leave the device reset (after the last case). */
void hdt_finish(struct virtio_device *dev);

#endif
