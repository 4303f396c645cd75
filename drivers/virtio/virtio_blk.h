/* SPDX-License-Identifier: Apache-2.0 */
/*
 * virtio_blk.h - virtio-blk driver (VIRTIO 1.2 5.2), transport-agnostic.
 *
 * Two APIs over one queue:
 *  - asynchronous: fill a struct virtio_blk_req, virtio_blk_submit() it
 *    (several may be in flight, up to the queue size), then
 *    virtio_blk_poll() / virtio_blk_wait() complete them; req->result
 *    leaves -EINPROGRESS when done, and req->done (optional) is called
 *    from virtio_blk_poll(), outside the driver lock. A request with a
 *    done callback belongs to the driver until the callback has run (do
 *    not free it on seeing the result); one without may be reused as soon
 *    as its result is set;
 *  - synchronous: virtio_blk_read/write/flush/get_id submit one request and
 *    wait for it.
 * Data buffers must be memory the device can reach (virt_to_dma()).
 *
 * Results: 0, -EIO (device said IOERR, or answered impossibly, or the
 * queue broke), -EOPNOTSUPP (UNSUPP, or FLUSH not negotiated), -EINVAL,
 * -ENOSPC (ring full: poll and retry), -ETIMEDOUT (the device did not
 * answer: the driver resets and re-initialises it, every request in flight
 * ends with -ECANCELED), -ECANCELED. After an I/O error the device stays
 * usable. When the device needs a reset (DEVICE_NEEDS_RESET, broken ring),
 * virtio_blk_wait() and the synchronous calls re-initialise it; an
 * asynchronous caller whose submit fails with -EIO calls
 * virtio_blk_reinit().
 *
 * Concurrency: every call may come from any thread; one lock inside
 * serialises queue access. done callbacks must not call virtio_blk_wait.
 */
#ifndef RINGLOOP_VIRTIO_BLK_H
#define RINGLOOP_VIRTIO_BLK_H

#include <stdbool.h>
#include <stdint.h>

#include "virtio.h"

#define VIRTIO_BLK_MAX_SEGS 64 /* data segments per request we support */
#define VIRTIO_BLK_TIMEOUT_NS 2000000000ull

struct virtio_blk;

struct virtio_blk_req {
    /* Set by the caller. */
    uint32_t type;            /* VIRTIO_BLK_T_IN/OUT/FLUSH/GET_ID */
    uint32_t nsegs;           /* data segments (0 for FLUSH) */
    uint64_t sector;          /* in 512-byte units */
    const struct vq_sg *segs; /* data: readable for OUT, writable for IN/GET_ID */
    void (*done)(struct virtio_blk_req *req);
    void *ctx;
    /* Set by the driver. */
    int result;   /* -EINPROGRESS while in flight */
    uint32_t len; /* bytes the device reported written */
};

struct virtio_blk_stats {
    uint64_t submitted;
    uint64_t completed;
    uint64_t errors; /* completed with result != 0 */
    uint64_t reinits;
};

int virtio_blk_probe(struct virtio_device *dev, struct virtio_blk **out);
/* Reset the device, cancel what is in flight (-ECANCELED), free. */
void virtio_blk_remove(struct virtio_blk *blk);
/* Reset + init again (in-flight requests end with -ECANCELED). */
int virtio_blk_reinit(struct virtio_blk *blk);

int virtio_blk_submit(struct virtio_blk *blk, struct virtio_blk_req *req);
/* Complete what the device has used; returns how many, or -EIO. */
int virtio_blk_poll(struct virtio_blk *blk);
/* Until req is complete: its result, or -ETIMEDOUT / -EIO. */
int virtio_blk_wait(struct virtio_blk *blk, struct virtio_blk_req *req, uint64_t timeout_ns);
/* Until nothing is in flight. */
int virtio_blk_drain(struct virtio_blk *blk, uint64_t timeout_ns);

int virtio_blk_read(struct virtio_blk *blk, uint64_t sector, void *buf, uint32_t nsectors);
int virtio_blk_write(struct virtio_blk *blk, uint64_t sector, const void *buf, uint32_t nsectors);
int virtio_blk_flush(struct virtio_blk *blk);
/* id: at least VIRTIO_BLK_ID_BYTES + 1 bytes, NUL-terminated on success. */
int virtio_blk_get_id(struct virtio_blk *blk, char *id);

uint64_t virtio_blk_capacity(const struct virtio_blk *blk); /* sectors */
uint32_t virtio_blk_block_size(const struct virtio_blk *blk);
uint32_t virtio_blk_seg_max(const struct virtio_blk *blk);
unsigned virtio_blk_in_flight(const struct virtio_blk *blk);
struct virtio_device *virtio_blk_device(struct virtio_blk *blk);
const struct virtio_blk_stats *virtio_blk_get_stats(const struct virtio_blk *blk);

#endif
