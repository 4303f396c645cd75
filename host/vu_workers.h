/* SPDX-License-Identifier: Apache-2.0 */
/*
 * vu_workers.h - per-ring worker threads of ringloop-vhost-user-blk: one
 * thread per ring the backend offers, each sleeping on its ring's kick
 * eventfd (or polling a ring started without one) and calling vu_kick()
 * for it. The message thread (the socket) never waits for disk I/O, and
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

/* One worker per ring of b (vu_num_rings); 0 or -errno (none started). */
int vuw_start(struct vu_backend *b, struct vu_workers **out);
/* Message thread, after each message: follow the rings' kick fds. */
void vuw_sync(struct vu_workers *w);
/* Stop and join every worker (before vu_destroy); NULL is fine. */
void vuw_stop(struct vu_workers *w);
/* Kicks served by the workers so far (all rings). */
unsigned long long vuw_kicks(const struct vu_workers *w);

#endif
