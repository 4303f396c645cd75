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
};

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
