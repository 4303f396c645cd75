/* SPDX-License-Identifier: Apache-2.0 */
/*
 * dev_blk_internal.h - the blk model's state, shared by dev_blk.c (IN, OUT,
 * FLUSH, GET_ID, config, snapshot) and dev_blk_ext.c (DISCARD,
 * WRITE_ZEROES, read-only, the write cache mode: VIRTIO 1.2 5.2). Not for
 * anyone else: the public calls are in vdev_models.h.
 */
#ifndef RINGLOOP_DEV_BLK_INTERNAL_H
#define RINGLOOP_DEV_BLK_INTERNAL_H

#include <stdbool.h>
#include <stdint.h>

#include "vdev_models.h"

struct blk_slot;
/* One queue's asynchronous requests (dev_blk_async.c), under its lock. */
struct blk_aq {
    struct blk_slot *slots; /* VDEV_BLK_QUEUE_MAX, by head; NULL until first used */
    uint32_t inflight;        /* slots in use (FLUSHes waiting included) */
    uint32_t writes_inflight; /* OUT submitted, not completed */
    uint32_t flush_waiting;   /* FLUSHes waiting for earlier writes */
    uint32_t unsignalled;     /* pushed, driver not yet signalled */
    uint64_t write_seq, pop_seq, max_done_seq;
};

struct dev_blk {
    uint8_t *disk; /* RAM disk, or NULL with a backend */
    uint64_t bytes;
    struct vdev_blk_backend be; /* used when disk is NULL */
    char serial[VIRTIO_BLK_ID_BYTES];
    /* The config space as offered; cfg.writeback is the mode the driver
     * set (CONFIG_WCE), reported through blk_is_writeback(). */
    struct virtio_blk_config cfg;
    struct vdev_blk_stats stats;
    bool read_only;            /* VIRTIO_BLK_F_RO offered */
    uint8_t writeback_default; /* cfg.writeback after reset */
    struct blk_aq aq[VDEV_MAX_QUEUES];
};

/* dev_blk_async.c */
/* Is the asynchronous path in use (a backend with submit, not hostile)? */
bool blk_async_on(const struct vdev *d, const struct dev_blk *b);
/* Hand IN / OUT / FLUSH of chain c (checked, in range) to the backend:
 * 0 (pending: pushed when done), or -errno: serve it synchronously. */
int blk_async_request(struct vdev *d, struct dev_blk *b, unsigned qi, const struct vdq_chain *c,
                      uint32_t type, uint32_t data_len, uint64_t pos);
/* A request served synchronously on queue qi (for out_of_order). */
void blk_async_note_sync(struct dev_blk *b, unsigned qi);
/* Start of a processing round: push what the backend finished. End of
 * it: commit the submissions, push what finished meanwhile. Both return
 * chains pushed. */
int blk_async_reap(struct vdev *d, struct dev_blk *b, unsigned qi);
int blk_async_commit(struct vdev *d, struct dev_blk *b, unsigned qi);
/* vdev_ops.quiesce: wait until no request is in flight, pushing each. */
void blk_quiesce(struct vdev *d);
void blk_async_free(struct dev_blk *b);

/* dev_blk_ext.c */
/* The default limits and features of a new device (create). */
void blk_ext_init(struct dev_blk *b, uint64_t *features);
/* DISCARD / WRITE_ZEROES: the status byte. */
uint8_t blk_dwz_request(struct vdev *d, struct dev_blk *b, const struct vdq_chain *c,
                        uint32_t type);
/* A write (OUT, DISCARD, WRITE_ZEROES) is done: in writethrough mode make
 * it stable before it completes (5.2.6.2). 0 or IOERR. */
uint8_t blk_write_done(struct vdev *d, struct dev_blk *b);
/* Is the write cache writeback right now (from the acked features and
 * cfg.writeback, 5.2.6.2 "stable")? */
bool blk_is_writeback(const struct vdev *d, const struct dev_blk *b);
void blk_write_config(struct vdev *d, uint32_t off, const void *buf, uint32_t len);
void blk_ext_reset(struct vdev *d);

#endif
