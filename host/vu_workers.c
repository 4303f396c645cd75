/* SPDX-License-Identifier: Apache-2.0 */
/*
 * vu_workers.c - per-ring worker threads (see vu_workers.h).
 *
 * Why threads per ring rather than one event loop: with the synchronous
 * engine a kick is served by the device model in line (pread/pwrite
 * inside the blk model), so in one loop a long request on one queue, or a slow message, delays
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
#include <time.h>
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
    struct vuw_opts o;
    struct vuw_stats st; /* atomics */
    struct vu_worker wk[VU_MAX_RINGS];
};

#define VUW_COUNT(field, n) __atomic_fetch_add(&(field), (n), __ATOMIC_RELAXED)

static uint64_t now_ns(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/*
 * --poll-us: the ring just had work; look at it ourselves for poll_us
 * (renewed by each round that completes something) before going back to
 * sleep on the eventfds. Each round is a vu_service(): the completions
 * the disk engine has (reap), then the avail ring. Meanwhile the drains
 * leave the driver's notifications off (vu_set_polling: VRING_USED_F_NO_
 * NOTIFY set, or avail_event not advanced, 2.7.10), so the guest does not
 * pay for kicks nobody waits for. A handoff from the message thread ends
 * the period early (vuw_hand sets changed); so does the device sleeping
 * (rounds then do nothing and the period runs out).
 */
static void vuw_busy_poll(struct vu_worker *k)
{
    struct vu_workers *w = k->w;
    uint64_t span = (uint64_t)w->o.poll_us * 1000u, end = now_ns() + span;
    int n;

    VUW_COUNT(w->st.poll_rounds, 1);
    vu_set_polling(w->b, k->ring, true);
    while (!__atomic_load_n(&k->changed, __ATOMIC_RELAXED)) {
        unsigned i;

        n = vu_service(w->b, k->ring);
        if (n > 0) {
            VUW_COUNT(w->st.polled, (unsigned long long)n);
            end = now_ns() + span;
            continue;
        }
        if (now_ns() >= end)
            break;
        /* Let the queue lock go for a moment: vmmio_sleep (message
         * thread) takes it between our rounds. */
        for (i = 0; i < 64; i++)
            __builtin_ia32_pause();
    }
    vu_set_polling(w->b, k->ring, false);
    /*
     * Re-arm before sleeping: this round's drain re-enables notifications
     * and re-checks the avail ring (vdq_enable_notify returns -EAGAIN for
     * chains that arrived, and the drain pops them). Its full barrier
     * between publishing avail_event / clearing NO_NOTIFY and re-reading
     * avail->idx pairs with the driver's barrier between its avail->idx
     * store and its read of avail_event / flags (2.7.10, 2.7.13.3): either
     * we see the chain now, or the driver sees notifications on and kicks.
     */
    n = vu_service(w->b, k->ring);
    if (n > 0)
        VUW_COUNT(w->st.polled, (unsigned long long)n);
}

static void *vuw_main(void *arg)
{
    struct vu_worker *k = arg;
    struct vu_workers *w = k->w;
    int fd = -1;
    bool polled = false;

    for (;;) {
        struct pollfd pf[3] = {{.fd = k->ctl, .events = POLLIN},
                               {.fd = -1},
                               {.fd = w->o.done_fd[k->ring], .events = POLLIN}};
        bool quit, kicked = false, done = false;
        uint64_t v;
        int rc;

        pthread_mutex_lock(&k->lock);
        if (k->changed) {
            if (fd >= 0)
                close(fd);
            fd = k->want_fd;
            polled = k->want_polled;
            k->want_fd = -1;
            __atomic_store_n(&k->changed, false, __ATOMIC_RELAXED);
        }
        quit = k->quit;
        pthread_mutex_unlock(&k->lock);
        if (quit)
            break;
        pf[1].fd = fd;
        pf[1].events = POLLIN;
        /* A polled ring (SET_VRING_KICK without an fd) is looked at every
         * millisecond; otherwise sleep until a kick, a completion or a
         * handoff. */
        rc = poll(pf, 3, polled ? 1 : -1);
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
        /* The completion eventfd is non-blocking and counts: one read
         * takes every completion signalled so far. */
        if (rc > 0 && (pf[2].revents & POLLIN) && read(pf[2].fd, &v, sizeof(v)) == sizeof(v))
            done = true;
        if (kicked || polled) {
            VUW_COUNT(w->st.kicks, 1);
            vu_kick(w->b, k->ring);
        } else if (done) {
            VUW_COUNT(w->st.completions, 1);
            vu_service(w->b, k->ring);
        }
        if (w->o.poll_us && (kicked || done))
            vuw_busy_poll(k);
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
    __atomic_store_n(&k->changed, true, __ATOMIC_RELAXED); /* also ends a busy-poll */
    k->quit = quit;
    pthread_mutex_unlock(&k->lock);
    if (write(k->ctl, &one, sizeof(one)) < 0)
        fprintf(stderr, "vhost-user-blk: ring %u worker: %s\n", k->ring, strerror(errno));
}

int vuw_start(struct vu_backend *b, const struct vuw_opts *o, struct vu_workers **out)
{
    struct vu_workers *w = calloc(1, sizeof(*w));
    unsigned i;
    int err = 0;

    if (!w)
        return -ENOMEM;
    w->b = b;
    w->o = *o;
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
        vuw_stop(w, NULL);
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

void vuw_stop(struct vu_workers *w, struct vuw_stats *last)
{
    unsigned i;

    if (last)
        memset(last, 0, sizeof(*last));
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
    if (last)
        vuw_get_stats(w, last);
    free(w);
}

unsigned long long vuw_kicks(const struct vu_workers *w)
{
    return w ? __atomic_load_n(&w->st.kicks, __ATOMIC_RELAXED) : 0;
}

void vuw_get_stats(const struct vu_workers *w, struct vuw_stats *st)
{
    memset(st, 0, sizeof(*st));
    if (!w)
        return;
    st->kicks = __atomic_load_n(&w->st.kicks, __ATOMIC_RELAXED);
    st->completions = __atomic_load_n(&w->st.completions, __ATOMIC_RELAXED);
    st->polled = __atomic_load_n(&w->st.polled, __ATOMIC_RELAXED);
    st->poll_rounds = __atomic_load_n(&w->st.poll_rounds, __ATOMIC_RELAXED);
}
