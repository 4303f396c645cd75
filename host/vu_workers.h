/* SPDX-License-Identifier: Apache-2.0 */
/*
 * vu_workers.h - per-ring worker threads of ringloop-vhost-user-blk: one
 * thread per ring the backend offers, each sleeping on its ring's kick
 * eventfd (or polling a ring started without one) and calling vu_kick()
 * for it; also on its disk engine's completion eventfd (vu_service()),
 * and with --poll-us busy-polling the ring for a while after work. The message thread (the socket) never waits for disk I/O, and
 * a busy queue does not delay the kicks of another.
 *
 * Ownership: each worker polls a dup() of its ring's kick fd, so the
 * handler may close the original at any message (SET_VRING_KICK replaces
 * it, GET_VRING_BASE drops it) without a worker polling a closed or
 * reused fd number. vuw_sync(), called by the message thread after every
 * message, hands each worker the current fd.
 */
#ifndef RINGLOOP_VU_WORKERS_H
#define RINGLOOP_VU_WORKERS_H

#include "vhost_user.h"

struct vu_workers;

struct vuw_opts {
    /* Per ring: an eventfd that says its asynchronous I/O completed (the
     * disk engine's, host/vub_uring.c; not closed by the workers), or -1. */
    int done_fd[VU_MAX_RINGS];
    /* --poll-us: after work, busy-poll the ring this long before sleeping. */
    unsigned poll_us;
};

struct vuw_stats {
    unsigned long long kicks;       /* wakeups by a kick eventfd (or a polled ring's tick) */
    unsigned long long completions; /* wakeups by a completion eventfd */
    unsigned long long polled;      /* chains completed while busy-polling */
    unsigned long long poll_rounds; /* busy-poll periods */
};

/* One worker per ring of b (vu_num_rings); 0 or -errno (none started). */
int vuw_start(struct vu_backend *b, const struct vuw_opts *o, struct vu_workers **out);
/* Message thread, after each message: follow the rings' kick fds. */
void vuw_sync(struct vu_workers *w);
/* Stop and join every worker (before vu_destroy); NULL is fine. last
 * (may be NULL) gets their final counters. */
void vuw_stop(struct vu_workers *w, struct vuw_stats *last);
/* Kicks served by the workers so far (all rings). */
unsigned long long vuw_kicks(const struct vu_workers *w);
void vuw_get_stats(const struct vu_workers *w, struct vuw_stats *st);

#endif
