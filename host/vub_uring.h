/* SPDX-License-Identifier: Apache-2.0 */
/*
 * vub_uring.h - one io_uring (liburing) as the daemon's disk engine uses
 * it (vub_uring.c). Kept apart from the project headers: liburing.h brings
 * linux/types.h, whose __le64 clashes with virtio_ring.h's.
 */
#ifndef RINGLOOP_HOST_VUB_URING_H
#define RINGLOOP_HOST_VUB_URING_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/uio.h>

struct vub_uq;

enum { VUB_UQ_READV, VUB_UQ_WRITEV, VUB_UQ_FDATASYNC };

/* A ring of entries SQEs with an eventfd signalled on each completion;
 * 0 or -errno (why says which call failed). */
int vub_uq_create(struct vub_uq **out, unsigned entries, char *why, size_t whylen);
void vub_uq_destroy(struct vub_uq *q);
int vub_uq_event_fd(const struct vub_uq *q);
/* Prepare one operation (tag comes back with its result); -EBUSY when the
 * submission queue is full even after submitting it. The iovec array is
 * read when the kernel takes the entry: keep it until submitted. */
int vub_uq_prep(struct vub_uq *q, int op, int fd, const struct iovec *iov, unsigned niov,
                uint64_t pos, void *tag);
/* Hand the prepared entries to the kernel; 0 or -errno (they stay queued). */
int vub_uq_submit(struct vub_uq *q);
/* cb(tag, res, arg) for every completion there is (res: bytes or -errno);
 * with wait, block for one first. 0 or -errno of the wait. */
int vub_uq_reap(struct vub_uq *q, bool wait, void (*cb)(void *tag, int res, void *arg),
                void *arg);

#endif
