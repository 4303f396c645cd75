/* SPDX-License-Identifier: Apache-2.0 */
/*
 * vu_workers.c - per-ring worker threads (see vu_workers.h).
 *
 * Why threads per ring rather than one event loop: a kick is served by
 * the device model synchronously (pread/pwrite inside the blk model), so
 * in one loop a long request on one queue, or a slow message, delays
 * every other queue and the control channel. With a thread per ring the
 * socket thread only handles messages, and each queue is served by its
 * own thread as soon as its kick fires, at the same time as the others
 * (vu_set_concurrent: each queue processed under its own lock in vmmio,
 * with its own chain scratch; pread/pwrite/fdatasync on one fd are safe
 * from several threads, and a FLUSH covers every write completed on any
 * queue). What they share is guarded as vhost_user.h says: vu_kick()
 * touches only atomics and the register file; every change the message
 * thread makes to queue state or guest memory (memory table, ring
 * start/stop, ADD/REM_MEM_REG) first puts the device to sleep, which takes
 * every queue lock and so waits for processing in progress; call/err fds
 * are swapped under the handler's fd_lock. A hostile device (--hostile)
 * is processed one queue at a time (its state is shared).
 *
 * Invariants: a worker's fd is its own dup, closed only by that worker;
 * the handoff (want_*) is under the worker's mutex; vuw_stop() joins every
 * thread before returning, so no vu_kick() runs after it.
 */
#define _GNU_SOURCE
#include "vu_workers.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

struct vu_worker {
    struct vu_workers *w;
    unsigned ring;
    pthread_t th;
    bool started;
    int ctl; /* eventfd: "look at want_*" */
    pthread_mutex_t lock;
    /* Handoff from the message thread (under lock). */
    bool changed, quit;
    int want_fd; /* dup of the kick fd, or -1 */
    bool want_polled;
    /* Message thread's view of what it last handed over. */
    int src_fd;
    bool src_polled;
};

struct vu_workers {
    struct vu_backend *b;
    unsigned n;
    unsigned long long kicks; /* atomic */
    struct vu_worker wk[VU_MAX_RINGS];
};

static void *vuw_main(void *arg)
{
    struct vu_worker *k = arg;
    int fd = -1;
    bool polled = false;

    for (;;) {
        struct pollfd pf[2] = {{.fd = k->ctl, .events = POLLIN}, {.fd = -1}};
        bool quit, kicked = false;
        uint64_t v;
        int rc;

        pthread_mutex_lock(&k->lock);
        if (k->changed) {
            if (fd >= 0)
                close(fd);
            fd = k->want_fd;
            polled = k->want_polled;
            k->want_fd = -1;
            k->changed = false;
        }
        quit = k->quit;
        pthread_mutex_unlock(&k->lock);
        if (quit)
            break;
        pf[1].fd = fd;
        pf[1].events = POLLIN;
        /* A polled ring (SET_VRING_KICK without an fd) is looked at every
         * millisecond; otherwise sleep until a kick or a handoff. */
        rc = poll(pf, 2, polled ? 1 : -1);
        if (rc < 0 && errno != EINTR) {
            fprintf(stderr, "vhost-user-blk: ring %u worker: poll: %s\n", k->ring, strerror(errno));
            break;
        }
        if (rc > 0 && (pf[0].revents & POLLIN) && read(k->ctl, &v, sizeof(v)) < 0 &&
            errno != EAGAIN)
            break;
        if (rc > 0 && (pf[1].revents & POLLIN)) {
            if (read(fd, &v, sizeof(v)) < 0 && errno != EAGAIN)
                continue;
            kicked = true;
        }
        if (kicked || polled) {
            __atomic_fetch_add(&k->w->kicks, 1, __ATOMIC_RELAXED);
            vu_kick(k->w->b, k->ring);
        }
    }
    if (fd >= 0)
        close(fd);
    return NULL;
}

static void vuw_hand(struct vu_worker *k, int fd, bool polled, bool quit)
{
    uint64_t one = 1;

    pthread_mutex_lock(&k->lock);
    if (k->changed && k->want_fd >= 0)
        close(k->want_fd); /* never taken: replaced before the worker looked */
    k->want_fd = fd;
    k->want_polled = polled;
    k->changed = true;
    k->quit = quit;
    pthread_mutex_unlock(&k->lock);
    if (write(k->ctl, &one, sizeof(one)) < 0)
        fprintf(stderr, "vhost-user-blk: ring %u worker: %s\n", k->ring, strerror(errno));
}

int vuw_start(struct vu_backend *b, struct vu_workers **out)
{
    struct vu_workers *w = calloc(1, sizeof(*w));
    unsigned i;
    int err = 0;

    if (!w)
        return -ENOMEM;
    w->b = b;
    w->n = vu_num_rings(b);
    for (i = 0; i < w->n; i++) {
        struct vu_worker *k = &w->wk[i];

        k->w = w;
        k->ring = i;
        k->want_fd = k->src_fd = -1;
        pthread_mutex_init(&k->lock, NULL);
        k->ctl = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
        if (k->ctl < 0) {
            err = -errno;
            break;
        }
        err = -pthread_create(&k->th, NULL, vuw_main, k);
        if (err) {
            close(k->ctl);
            k->ctl = -1;
            break;
        }
        k->started = true;
    }
    if (err) {
        fprintf(stderr, "vhost-user-blk: ring workers: %s\n", strerror(-err));
        vuw_stop(w);
        return err;
    }
    *out = w;
    return 0;
}

void vuw_sync(struct vu_workers *w)
{
    unsigned i;

    if (!w)
        return;
    for (i = 0; i < w->n; i++) {
        struct vu_worker *k = &w->wk[i];
        int fd = vu_ring_kick_fd(w->b, i);
        bool polled = vu_ring_is_polled(w->b, i);
        int mine = -1;

        /* The handler never reuses a number within one message (the new
         * fd arrives before the old one is closed), and we look after
         * every message: a different number or mode is a different fd. */
        if (fd == k->src_fd && polled == k->src_polled)
            continue;
        if (fd >= 0) {
            mine = fcntl(fd, F_DUPFD_CLOEXEC, 0);
            if (mine < 0) {
                fprintf(stderr, "vhost-user-blk: ring %u: dup of kick fd: %s\n", i,
                        strerror(errno));
                continue; /* retried after the next message */
            }
        }
        k->src_fd = fd;
        k->src_polled = polled;
        vuw_hand(k, mine, polled, false);
    }
}

void vuw_stop(struct vu_workers *w)
{
    unsigned i;

    if (!w)
        return;
    for (i = 0; i < w->n; i++) {
        struct vu_worker *k = &w->wk[i];

        if (!k->started)
            continue;
        vuw_hand(k, -1, false, true);
        pthread_join(k->th, NULL);
        close(k->ctl);
        pthread_mutex_destroy(&k->lock);
    }
    free(w);
}

unsigned long long vuw_kicks(const struct vu_workers *w)
{
    return w ? __atomic_load_n(&w->kicks, __ATOMIC_RELAXED) : 0;
}
