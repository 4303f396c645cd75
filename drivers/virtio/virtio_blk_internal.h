/* SPDX-License-Identifier: Apache-2.0 */
/*
 * virtio_blk_internal.h - the blk driver's state, shared by virtio_blk.c
 * (queue, requests, life cycle) and virtio_blk_ext.c (DISCARD,
 * WRITE_ZEROES, RO, TOPOLOGY, CONFIG_WCE: VIRTIO 1.2 5.2). Nobody else
 * includes it.
 */
#ifndef RINGLOOP_VIRTIO_BLK_INTERNAL_H
#define RINGLOOP_VIRTIO_BLK_INTERNAL_H

#include "virtio_blk.h"
#include "virtio_platform.h"


/* Device-visible part of a slot. */
struct blk_slot_dma {
    struct virtio_blk_req_hdr hdr; /* written by driver */
    uint8_t status;                /* written by device */
    uint8_t pad[15];
};
_Static_assert(sizeof(struct blk_slot_dma) == 32, "blk slot layout");

struct blk_slot {
    struct virtio_blk_req *req; /* NULL: free */
    struct blk_slot_dma *dma;
    uint32_t data_len;
    uint32_t pad;
};

/* One request queue (5.2.2 requestq1..N): its slots, one per queue
 * entry, and its counters. All under virtio_blk.lock. */
struct blk_queue {
    uint32_t nslots;
    uint32_t nfree;
    struct blk_slot *slots;
    uint32_t *free_slots;
    struct blk_slot_dma *slot_mem;
    size_t slot_mem_bytes;
    unsigned in_flight;
    uint32_t pad;
    uint64_t submitted, completed;
};

struct virtio_blk {
    struct virtio_device *dev;
    struct virt_lock lock;
    uint32_t nqueues; /* queues set up: 1, or min(num_queues, VIRTIO_BLK_MAX_QUEUES) with MQ */
    struct blk_queue q[VIRTIO_BLK_MAX_QUEUES];
    uint64_t capacity; /* sectors; updated on config change */
    uint32_t blk_size;
    uint32_t seg_max;
    struct virtio_blk_limits lim; /* virtio_blk_ext.c, read at start and on config change */
    unsigned in_flight; /* over every queue */
    struct virtio_blk_stats stats;
};

/* virtio_blk.c: one request of type on buf[0..len) (len 0: none), waited for. */
int blk_do_sync(struct virtio_blk *blk, uint32_t type, uint64_t sector, void *buf, uint32_t len);

/* virtio_blk_ext.c */
void blk_ext_read_config(struct virtio_blk *blk);
/* A DISCARD / WRITE_ZEROES request within the negotiated features and limits? */
int blk_ext_check_dwz(const struct virtio_blk *blk, const struct virtio_blk_req *req);

#endif
