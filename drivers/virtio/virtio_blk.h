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
 * queue broke), -EOPNOTSUPP (UNSUPP, or FLUSH / DISCARD / WRITE_ZEROES /
 * CONFIG_WCE not negotiated), -EROFS (a write on a VIRTIO_BLK_F_RO device:
 * never sent), -EINVAL,
 * -ENOSPC (ring full: poll and retry), -ETIMEDOUT (the device did not
 * answer: the driver resets and re-initialises it, every request in flight
 * ends with -ECANCELED), -ECANCELED. After an I/O error the device stays
 * usable. When the device needs a reset (DEVICE_NEEDS_RESET, broken ring),
 * virtio_blk_wait() and the synchronous calls re-initialise it; an
 * asynchronous caller whose submit fails with -EIO calls
 * virtio_blk_reinit().
 *
 * Multiqueue (5.2.2, VIRTIO_BLK_F_MQ): with MQ offered the driver sets up
 * min(num_queues, VIRTIO_BLK_MAX_QUEUES) request queues, else one.
 * virtio_blk_submit() puts a request on the submitting CPU's queue
 * (cpu % queues); virtio_blk_submit_queue() on a given one (benchmarks,
 * tests). Completions are taken from every queue by virtio_blk_poll().
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
#define VIRTIO_BLK_MAX_QUEUES 4 /* request queues we set up at most (MQ) */

struct virtio_blk;

struct virtio_blk_req {
    /* Set by the caller. */
    uint32_t type;            /* VIRTIO_BLK_T_IN/OUT/FLUSH/GET_ID/DISCARD/WRITE_ZEROES */
    uint32_t nsegs;           /* data segments (0 for FLUSH) */
    uint64_t sector;          /* in 512-byte units */
    /* data: readable for OUT, writable for IN/GET_ID; for DISCARD and
     * WRITE_ZEROES readable struct virtio_blk_discard_write_zeroes[] */
    const struct vq_sg *segs;
    void (*done)(struct virtio_blk_req *req);
    void *ctx;
    /* Set by the driver. */
    int result;     /* -EINPROGRESS while in flight */
    uint32_t len;   /* bytes the device reported written */
    uint32_t queue; /* the request queue it went on */
    uint32_t pad;
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
/* On request queue q (< virtio_blk_num_queues(), else -EINVAL). */
int virtio_blk_submit_queue(struct virtio_blk *blk, unsigned q, struct virtio_blk_req *req);
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

/*
 * 5.2.4 / 5.2.6 optional features (virtio_blk_ext.c). What was negotiated
 * and the config limits the driver honours (sanitised: a 0 sector limit
 * means none, as in Linux; a 0 segment limit or alignment is 1; segments
 * are capped at VIRTIO_BLK_DWZ_MAX_SEGS).
 */
#define VIRTIO_BLK_DWZ_MAX_SEGS 64   /* segments per DISCARD / WRITE_ZEROES request we build */
#define VIRTIO_BLK_DWZ_MAX_RANGES 256 /* ranges per virtio_blk_dwz_ranges() call */

struct virtio_blk_limits {
    bool discard, write_zeroes, read_only, topology, config_wce, flush;
    uint32_t max_discard_sectors, max_discard_seg, discard_sector_alignment;
    uint32_t max_write_zeroes_sectors, max_write_zeroes_seg;
    bool write_zeroes_may_unmap;
    uint8_t physical_block_exp, alignment_offset; /* TOPOLOGY */
    uint16_t min_io_size;                         /* in blocks */
    uint32_t opt_io_size;                         /* in blocks */
};

struct virtio_blk_range {
    uint64_t sector;
    uint32_t nsectors;
};

void virtio_blk_get_limits(const struct virtio_blk *blk, struct virtio_blk_limits *lim);
/*
 * DISCARD (type VIRTIO_BLK_T_DISCARD) or WRITE_ZEROES of n ranges, packed
 * into as few requests as the limits allow: at most max_*_seg segments and
 * max_*_sectors sectors a request, a range cut where needed (discard: at
 * discard_sector_alignment boundaries). Requests go one after the other;
 * after a failure the earlier ones are done, the rest not sent. -EINVAL
 * (nothing sent) for an empty or overlapping range, one past capacity, a
 * discard off the alignment (start; length unless it ends at capacity),
 * unmap on a discard, n of 0 or past VIRTIO_BLK_DWZ_MAX_RANGES;
 * -EOPNOTSUPP when the feature was not negotiated; -EROFS on RO.
 */
int virtio_blk_dwz_ranges(struct virtio_blk *blk, uint32_t type, const struct virtio_blk_range *r,
                          uint32_t n, bool unmap);
int virtio_blk_discard(struct virtio_blk *blk, uint64_t sector, uint64_t nsectors);
int virtio_blk_write_zeroes(struct virtio_blk *blk, uint64_t sector, uint64_t nsectors,
                            bool unmap);
/* 5.2.5 cache mode: with CONFIG_WCE the config field writeback; without,
 * what the driver deduces (FLUSH negotiated: writeback, else writethrough). */
int virtio_blk_get_writeback(struct virtio_blk *blk, bool *writeback);
/* Writes writeback (CONFIG_WCE, else -EOPNOTSUPP; writeback without FLUSH
 * -EOPNOTSUPP too) and reads it back: -EIO if the device kept its mode. */
int virtio_blk_set_writeback(struct virtio_blk *blk, bool writeback);
bool virtio_blk_is_read_only(const struct virtio_blk *blk);

uint64_t virtio_blk_capacity(const struct virtio_blk *blk); /* sectors */
uint32_t virtio_blk_block_size(const struct virtio_blk *blk);
uint32_t virtio_blk_seg_max(const struct virtio_blk *blk);
unsigned virtio_blk_in_flight(const struct virtio_blk *blk);
struct virtio_device *virtio_blk_device(struct virtio_blk *blk);
const struct virtio_blk_stats *virtio_blk_get_stats(const struct virtio_blk *blk);

/* Request queues in use (1 without MQ), and one queue's counters. */
struct virtio_blk_queue_stats {
    uint64_t submitted;
    uint64_t completed;
    unsigned in_flight;
    uint32_t size; /* ring entries */
};
unsigned virtio_blk_num_queues(const struct virtio_blk *blk);
/* 0, or -EINVAL for q past the queues in use. */
int virtio_blk_get_queue_stats(const struct virtio_blk *blk, unsigned q,
                               struct virtio_blk_queue_stats *st);

#endif
