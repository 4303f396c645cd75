/* SPDX-License-Identifier: Apache-2.0 */
/*
 * vub_async.c - the asynchronous disk engine of ringloop-vhost-user-blk:
 * the blk model's submit / commit / reap callbacks (vdev_models.h,
 * hostsim/dev_blk_async.c) over one io_uring per queue (liburing, through
 * host/vub_uring.c).
 *
 * Why one ring per queue: the model calls a queue's callbacks only with
 * that queue's processing lock held, and different queues' at the same
 * time (their worker threads, host/vu_workers.c); a ring of its own needs
 * no lock of ours (liburing's submission and completion sides are not
 * thread-safe, but one queue's calls never overlap). The ring's eventfd
 * is what the queue's worker sleeps on besides the kick fd: a completion
 * that did not happen during the submission wakes it, and it processes
 * the queue, whose first step is reap (the model reaps right after each
 * commit for the ones that did).
 *
 * IN / OUT are IORING_OP_READV / WRITEV straight between the file and
 * guest memory (a struct vdq_iov array has struct iovec's layout: pad is
 * 0); FLUSH is IORING_OP_FSYNC with IORING_FSYNC_DATASYNC (fdatasync).
 * A short transfer (end of file, or a partial write) is finished with
 * the synchronous pread / pwrite loops of vub_disk.c.
 *
 * --direct (O_DIRECT): the file, offsets, lengths and buffers must be
 * aligned to the file's direct-I/O block (probed at open: 512 or 4096). A
 * request at an aligned position and length with an unaligned segment
 * goes through an aligned bounce buffer (copied in before a write, out
 * after a read). One at an unaligned position (512-byte I/O on a
 * 4096-byte device) is served synchronously by vub_disk.c, which
 * read-modify-writes through a bounce: such writes are not atomic against another queue's write to the
 * same 4096-byte block (blk_size says 512; a guest that cares uses 4096).
 */
#define _GNU_SOURCE
#include "vub_disk.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/uio.h>
#include <unistd.h>

#include "vdev_models.h"
#include "vub_uring.h"

_Static_assert(VUB_MAX_QUEUES == VDEV_MAX_QUEUES, "one ring per possible queue");
_Static_assert(sizeof(struct vdq_iov) == sizeof(struct iovec) &&
                   offsetof(struct vdq_iov, base) == offsetof(struct iovec, iov_base) &&
                   offsetof(struct vdq_iov, len) == offsetof(struct iovec, iov_len),
               "a vdq_iov array is passed to readv/writev as struct iovec");

int vub_uring_init(struct vub_disk *d, unsigned nq, char *why, size_t whylen)
{
    unsigned i;
    int err = 0;

    for (i = 0; i < nq && i < VUB_MAX_QUEUES && !err; i++)
        err = vub_uq_create(&d->uq[i], VDEV_BLK_QUEUE_MAX, why, whylen);
    if (err)
        vub_uring_exit(d);
    return err;
}

void vub_uring_exit(struct vub_disk *d)
{
    unsigned i;

    for (i = 0; i < VUB_MAX_QUEUES; i++) {
        vub_uq_destroy(d->uq[i]);
        d->uq[i] = NULL;
    }
}

int vub_uring_event_fd(const struct vub_disk *d, unsigned qi)
{
    return qi < VUB_MAX_QUEUES && d->uq[qi] ? vub_uq_event_fd(d->uq[qi]) : -1;
}

static bool is_aligned(uint64_t v, unsigned a)
{
    return (v & (a - 1)) == 0;
}

/* Do the segments meet O_DIRECT's alignment? */
static bool iov_aligned(const struct vdev_blk_io *io, unsigned a)
{
    uint32_t i;

    for (i = 0; i < io->niov; i++)
        if (!is_aligned((uintptr_t)io->iov[i].base, a) || !is_aligned(io->iov[i].len, a))
            return false;
    return true;
}

/* Between the segments and a flat bounce buffer. */
static void iov_copy(const struct vdev_blk_io *io, uint8_t *flat, bool to_flat)
{
    uint32_t i;

    for (i = 0; i < io->niov; i++) {
        const struct vdq_iov *v = &io->iov[i];

        if (to_flat)
            memcpy(flat, v->base, v->len);
        else
            memcpy(v->base, flat, v->len);
        flat += v->len;
    }
}

/* Synchronous: the rest of io from byte done on (a short transfer). */
static int finish_sync(struct vub_disk *d, const struct vdev_blk_io *io, uint32_t done)
{
    uint64_t pos = io->pos;
    uint32_t i;
    int err = 0;

    for (i = 0; i < io->niov && !err; i++) {
        const struct vdq_iov *v = &io->iov[i];
        uint32_t off = done < v->len ? done : v->len;

        done -= off;
        pos += off;
        if (off == v->len)
            continue;
        err = io->op == VDEV_BLK_IO_READ
                  ? vub_disk_read(d, pos, (uint8_t *)v->base + off, v->len - off)
                  : vub_disk_write(d, pos, (const uint8_t *)v->base + off, v->len - off);
        pos += v->len - off;
    }
    return err;
}

int vub_disk_submit(void *ctx, struct vdev_blk_io *io)
{
    struct vub_disk *d = ctx;
    struct vub_uq *q = io->qi < VUB_MAX_QUEUES ? d->uq[io->qi] : NULL;
    const struct iovec *iov = (const struct iovec *)io->iov;
    unsigned niov = io->niov;
    struct iovec bounce;
    int err;

    if (!q)
        return -EIO;
    io->priv = NULL;
    if (d->direct && io->op != VDEV_BLK_IO_FLUSH) {
        if (!is_aligned(io->pos, d->align) || !is_aligned(io->len, d->align)) {
            vdev_blk_io_done(io, finish_sync(d, io, 0)); /* bounced RMW */
            return 0;
        }
        if (!iov_aligned(io, d->align)) {
            if (posix_memalign(&bounce.iov_base, d->align, io->len))
                return -ENOMEM;
            bounce.iov_len = io->len;
            if (io->op == VDEV_BLK_IO_WRITE)
                iov_copy(io, bounce.iov_base, true);
            io->priv = bounce.iov_base;
            iov = &bounce;
            niov = 1;
        }
    }
    /* readv/writev take the iovec array when the kernel takes the entry:
     * the bounce's is on this stack, so that is now. */
    err = vub_uq_prep(q,
                      io->op == VDEV_BLK_IO_FLUSH  ? VUB_UQ_FDATASYNC
                      : io->op == VDEV_BLK_IO_READ ? VUB_UQ_READV
                                                   : VUB_UQ_WRITEV,
                      d->fd, iov, niov, io->pos, io);
    if (!err && io->priv)
        err = vub_uq_submit(q);
    if (err) {
        free(io->priv);
        io->priv = NULL;
    }
    return err;
}

void vub_disk_commit(void *ctx, unsigned qi)
{
    struct vub_disk *d = ctx;
    int rc;

    if (qi >= VUB_MAX_QUEUES || !d->uq[qi])
        return;
    rc = vub_uq_submit(d->uq[qi]);
    if (rc < 0)
        fprintf(stderr, "vhost-user-blk: queue %u: io_uring_submit: %s (retried)\n", qi,
                strerror(-rc));
}

static void complete_one(void *tag, int res, void *arg)
{
    struct vub_disk *d = arg;
    struct vdev_blk_io *io = tag;
    int err = 0;

    if (res < 0) {
        err = res;
        fprintf(stderr, "vhost-user-blk: %s at %llu: %s\n",
                io->op == VDEV_BLK_IO_FLUSH ? "fdatasync"
                : io->op == VDEV_BLK_IO_READ ? "read"
                                             : "write",
                (unsigned long long)io->pos, strerror(-res));
    } else if (io->op != VDEV_BLK_IO_FLUSH && (uint32_t)res < io->len) {
        if (io->priv) /* bounced: the whole of it again, synchronously */
            err = io->op == VDEV_BLK_IO_READ ? vub_disk_read(d, io->pos, io->priv, io->len)
                                             : vub_disk_write(d, io->pos, io->priv, io->len);
        else
            err = finish_sync(d, io, (uint32_t)res);
    }
    if (io->priv) {
        if (!err && io->op == VDEV_BLK_IO_READ)
            iov_copy(io, io->priv, false);
        free(io->priv);
        io->priv = NULL;
    }
    vdev_blk_io_done(io, err);
}

void vub_disk_reap(void *ctx, unsigned qi, bool wait)
{
    struct vub_disk *d = ctx;
    int rc;

    if (qi >= VUB_MAX_QUEUES || !d->uq[qi])
        return;
    rc = vub_uq_reap(d->uq[qi], wait, complete_one, d);
    if (rc < 0)
        fprintf(stderr, "vhost-user-blk: queue %u: io_uring_wait_cqe: %s\n", qi, strerror(-rc));
}
