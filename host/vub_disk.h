/* SPDX-License-Identifier: Apache-2.0 */
/* vub_disk.h - the daemon's disk file as a blk model backend: synchronous
 * callbacks (vub_disk.c) and the io_uring engine (vub_async.c). */
#ifndef RINGLOOP_HOST_VUB_DISK_H
#define RINGLOOP_HOST_VUB_DISK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define VUB_MAX_QUEUES 8 /* VDEV_MAX_QUEUES (checked in vub_async.c) */

struct vdev_blk_io;
struct vub_uq;

struct vub_disk {
    int fd;         /* the open disk file */
    bool direct;    /* opened O_DIRECT (--direct) */
    unsigned align; /* O_DIRECT: offset / length / buffer alignment (512 or 4096) */
    struct vub_uq *uq[VUB_MAX_QUEUES]; /* one io_uring per queue (NULL: synchronous) */
};

/* struct vdev_blk_backend callbacks; ctx is a struct vub_disk. */
int vub_disk_read(void *ctx, uint64_t pos, void *buf, uint32_t len);
int vub_disk_write(void *ctx, uint64_t pos, const void *buf, uint32_t len);
int vub_disk_flush(void *ctx);
int vub_disk_discard(void *ctx, uint64_t pos, uint64_t len);
int vub_disk_write_zeroes(void *ctx, uint64_t pos, uint64_t len, bool unmap);
/* O_DIRECT: the alignment the file accepts (probed with reads at offset 0),
 * or 0 when it refuses direct I/O altogether (*why says how). */
unsigned vub_disk_direct_align(int fd, char *why, size_t whylen);

/* vub_async.c: one io_uring per queue (all nq or none: -errno, *why says which
 * call failed); the asynchronous callbacks; each ring's completion eventfd. */
int vub_uring_init(struct vub_disk *d, unsigned nq, char *why, size_t whylen);
void vub_uring_exit(struct vub_disk *d);
int vub_uring_event_fd(const struct vub_disk *d, unsigned qi);
int vub_disk_submit(void *ctx, struct vdev_blk_io *io);
void vub_disk_commit(void *ctx, unsigned qi);
void vub_disk_reap(void *ctx, unsigned qi, bool wait);

#endif
