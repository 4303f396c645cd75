/* SPDX-License-Identifier: Apache-2.0 */
/*
 * vub_uring.c - a thin layer over liburing for the disk engine
 * (host/vub_async.c): IORING_OP_READV / WRITEV and IORING_OP_FSYNC with
 * IORING_FSYNC_DATASYNC, an eventfd registered for completions
 * (io_uring_register_eventfd; not _async, which stays silent for
 * completions from interrupt context, i.e. every O_DIRECT one). No
 * locking: the caller uses one ring from
 * one thread at a time.
 */
#define _GNU_SOURCE
#include "vub_uring.h"

#include <errno.h>
#include <liburing.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

struct vub_uq {
    struct io_uring ring;
    int efd;
    unsigned queued; /* prepared, not yet submitted */
};

int vub_uq_create(struct vub_uq **out, unsigned entries, char *why, size_t whylen)
{
    struct vub_uq *q = calloc(1, sizeof(*q));
    int err;

    if (!q) {
        snprintf(why, whylen, "out of memory");
        return -ENOMEM;
    }
    err = io_uring_queue_init(entries, &q->ring, 0);
    if (err) {
        snprintf(why, whylen, "io_uring_queue_init: %s", strerror(-err));
        free(q);
        return err;
    }
    q->efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    err = q->efd < 0 ? -errno : io_uring_register_eventfd(&q->ring, q->efd);
    if (err) {
        snprintf(why, whylen, "io_uring_register_eventfd: %s", strerror(-err));
        if (q->efd >= 0)
            close(q->efd);
        io_uring_queue_exit(&q->ring);
        free(q);
        return err;
    }
    *out = q;
    return 0;
}

void vub_uq_destroy(struct vub_uq *q)
{
    if (!q)
        return;
    io_uring_queue_exit(&q->ring);
    close(q->efd);
    free(q);
}

int vub_uq_event_fd(const struct vub_uq *q)
{
    return q->efd;
}

int vub_uq_prep(struct vub_uq *q, int op, int fd, const struct iovec *iov, unsigned niov,
                uint64_t pos, void *tag)
{
    struct io_uring_sqe *sqe = io_uring_get_sqe(&q->ring);

    if (!sqe && vub_uq_submit(q) == 0)
        sqe = io_uring_get_sqe(&q->ring);
    if (!sqe)
        return -EBUSY;
    if (op == VUB_UQ_FDATASYNC)
        io_uring_prep_fsync(sqe, fd, IORING_FSYNC_DATASYNC);
    else if (op == VUB_UQ_READV)
        io_uring_prep_readv(sqe, fd, iov, niov, pos);
    else
        io_uring_prep_writev(sqe, fd, iov, niov, pos);
    io_uring_sqe_set_data(sqe, tag);
    q->queued++;
    return 0;
}

int vub_uq_submit(struct vub_uq *q)
{
    int rc;

    if (!q->queued)
        return 0;
    rc = io_uring_submit(&q->ring);
    if (rc < 0)
        return rc;
    q->queued = 0;
    return 0;
}

int vub_uq_reap(struct vub_uq *q, bool wait, void (*cb)(void *tag, int res, void *arg), void *arg)
{
    struct io_uring_cqe *cqe;

    if (wait) {
        int rc;

        do
            rc = io_uring_wait_cqe(&q->ring, &cqe);
        while (rc == -EINTR);
        if (rc < 0)
            return rc;
    }
    while (io_uring_peek_cqe(&q->ring, &cqe) == 0) {
        void *tag = io_uring_cqe_get_data(cqe);
        int res = cqe->res;

        /* Seen first: cb may prepare and submit more (a FLUSH the write
         * released). */
        io_uring_cqe_seen(&q->ring, cqe);
        cb(tag, res, arg);
    }
    return 0;
}
