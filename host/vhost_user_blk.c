/* SPDX-License-Identifier: Apache-2.0 */
/*
 * vhost_user_blk.c - ringloop-vhost-user-blk: a vhost-user-blk backend
 * daemon for QEMU's vhost-user-blk-pci (its default command line: the
 * backend offers --num-queues N rings, by default one per online CPU, with
 * VIRTIO_BLK_F_MQ when N > 1; the frontend may use fewer; with
 * VIRTIO_F_RING_PACKED for QEMU's packed=on, hostsim/vhost_user_vring.c
 * says how the packed vring base travels), the Linux carrier of the request
 * handler in hostsim/vhost_user.c:
 *
 *   ringloop-vhost-user-blk --socket PATH --disk FILE [--serial S]
 *                           [--num-queues N] [--watch MS] [--verbose]
 *                           [--read-only] [--writethrough] [--direct]
 *                           [--poll-us N] [--io uring|sync]
 *                           [--hostile MODE[,after=N][,count=K][,seed=S]]
 *
 * A ring the frontend corrupts (hostsim/vdq.h) stops being served: its
 * error eventfd (SET_VRING_ERR) is written and one line says which ring
 * and why; the other rings and the connection go on, and the ring serves
 * again once the frontend stops and restarts it (GET_VRING_BASE, then
 * SET_VRING_BASE / ADDR / KICK).
 *
 * Resize: when the disk file grows (looked at on SIGHUP, and every MS
 * milliseconds with --watch MS) the capacity follows and the frontend is
 * told with CONFIG_CHANGE_MSG on the back-end channel (BACKEND_REQ).
 *
 * --hostile makes the device misbehave on purpose (hostsim/hostile.h; the
 * ring modes only: the register-file modes have no vhost-user meaning);
 * `--hostile off` is the normal daemon. An unknown mode exits 2 with the list.
 *
 * Carrier duties: a listening Unix socket (one frontend at a time; when it
 * goes, the backend and device are rebuilt for the next one); messages
 * read as header + payload with the fds of SCM_RIGHTS; guest memory regions
 * mmap'ed MAP_SHARED from the frontend's fds; eventfd kicks taken by one
 * worker thread per ring (host/vu_workers.c says why), eventfd calls
 * written from the handler's signal op; device state
 * through the fd of SET_DEVICE_STATE_FD (our state is a few hundred bytes:
 * one pipe buffer, so SAVE writes it at once and LOAD reads it to EOF at
 * CHECK_DEVICE_STATE).
 *
 * The disk: the blk model (hostsim/dev_blk.c) over a storage backend:
 * by default io_uring, one ring per queue, many requests in flight and
 * completed as the file finishes them (host/vub_uring.c,
 * hostsim/dev_blk_async.c; a FLUSH waits for the writes popped before it
 * on its queue, then fdatasync); with --io sync, or when
 * io_uring_queue_init fails (one line says so), pread/pwrite on the file,
 * one call per guest segment, straight between the file and guest memory
 * (host/vub_disk.c). --direct opens the file O_DIRECT (unaligned guest
 * buffers through aligned bounces; a file system refusing it is an
 * error); --poll-us N busy-polls each ring N us after work before
 * sleeping on its eventfds (host/vu_workers.c). With the sync engine, VIRTIO_BLK_T_FLUSH is fdatasync before the
 * request completes. A failed pread/pwrite/fdatasync completes the request
 * with VIRTIO_BLK_S_IOERR. VIRTIO_BLK_T_DISCARD punches a hole in the file
 * (fallocate PUNCH_HOLE | KEEP_SIZE; a file system that cannot is left as
 * it is, which 5.2.6.2 allows); WRITE_ZEROES with unmap punches too (holes
 * read as zeroes), without it FALLOC_FL_ZERO_RANGE, else plain zero writes.
 * --read-only opens the file read-only and offers VIRTIO_BLK_F_RO (every
 * write IOERR); --writethrough starts the cache in writethrough mode (each
 * write fdatasync'ed before it completes), which the guest may change with
 * CONFIG_WCE (QEMU forwards the config write as SET_CONFIG).
 *
 * Invariants: one message thread (this file) and the ring workers, which
 * only call vu_kick() (vhost_user.h: Concurrency); every fd the handler gives back through
 * close_fd is closed exactly once; SIGTERM/SIGINT end the loop, then the
 * disk is synced and unmapped.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "hostile.h"
#include "platform_host.h"
#include "snap_le.h"
#include "vdev_models.h"
#include "vhost_user.h"
#include "vhost_user_front.h"
#include "virtio_platform.h"
#include "vub_disk.h"
#include "vub_sock.h"
#include "vu_workers.h"

struct daemon {
    const char *sock_path;
    const char *disk_path;
    const char *serial;
    int listen_fd, conn_fd;
    struct vub_disk disk; /* the disk file (vub_disk.c) */
    uint64_t disk_bytes;
    struct vu_backend *b;
    struct vu_workers *workers; /* one thread per ring (vu_workers.c) */
    struct vdev dev;
    uint64_t messages;
    unsigned num_queues;    /* --num-queues, default: online CPUs (default_num_queues) */
    bool verbose;           /* --verbose: one line per request */
    bool read_only;         /* --read-only */
    bool writethrough;      /* --writethrough */
    unsigned watch_ms;      /* --watch MS: look at the disk file's size that often (0: off) */
    uint64_t refused_size;  /* a size change already refused (said once) */
    bool is_hostile;        /* --hostile MODE (not off) */
    struct hostile hostile; /* its state, across connections */
    bool direct;            /* --direct: the file opened O_DIRECT */
    bool sync_io;           /* --io sync, or io_uring unavailable */
    unsigned poll_us;       /* --poll-us N: busy-poll a ring N us after work */
};

static volatile sig_atomic_t stop_flag, hup_flag;

static void on_signal(int sig)
{
    if (sig == SIGHUP)
        hup_flag = 1; /* look at the disk file's size now */
    else
        stop_flag = 1;
}

/* ---- the carrier ops ---- */

static void *d_map(void *ctx, int fd, uint64_t offset, uint64_t size)
{
    long page = sysconf(_SC_PAGESIZE);
    uint64_t delta = offset % (uint64_t)page;
    off_t end = lseek(fd, 0, SEEK_END);
    void *p;

    (void)ctx;
    if (size > SIZE_MAX - delta)
        return NULL;
    /* A mapping past the end of the fd maps, then SIGBUSes on first touch:
     * refuse the region instead (vhost-user regions are memfd / file). */
    if (end < 0 || offset > (uint64_t)end || size > (uint64_t)end - offset) {
        fprintf(stderr, "vhost-user-blk: region fd %d: %#llx bytes at %#llx past its end (%lld)\n",
                fd, (unsigned long long)size, (unsigned long long)offset, (long long)end);
        return NULL;
    }
    p = mmap(NULL, size + delta, PROT_READ | PROT_WRITE, MAP_SHARED, fd, (off_t)(offset - delta));
    if (p == MAP_FAILED) {
        fprintf(stderr, "vhost-user-blk: mmap of region fd %d failed: %s\n", fd, strerror(errno));
        return NULL;
    }
    return (uint8_t *)p + delta;
}

static void d_unmap(void *ctx, void *p, uint64_t offset, uint64_t size)
{
    uint64_t delta = offset % (uint64_t)sysconf(_SC_PAGESIZE);

    (void)ctx;
    munmap((uint8_t *)p - delta, size + delta);
}

static void d_close(void *ctx, int fd)
{
    (void)ctx;
    close(fd);
}

static void d_signal(void *ctx, int fd)
{
    uint64_t one = 1;

    (void)ctx;
    if (write(fd, &one, sizeof(one)) < 0 && errno != EAGAIN)
        fprintf(stderr, "vhost-user-blk: call fd %d: %s\n", fd, strerror(errno));
}

static int d_state_put(void *ctx, int fd, const void *buf, size_t len)
{
    const uint8_t *p = buf;
    int err = 0;

    (void)ctx;
    while (len) {
        ssize_t n = write(fd, p, len);

        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) {
            err = n < 0 ? -errno : -EIO;
            break;
        }
        p += n;
        len -= (size_t)n;
    }
    close(fd);
    return err;
}

static int d_state_get(void *ctx, int fd, void *buf, size_t cap, size_t *len)
{
    uint8_t *p = buf;
    size_t got = 0;
    int err = 0;

    (void)ctx;
    for (;;) {
        uint8_t extra;
        ssize_t n = got < cap ? read(fd, p + got, cap - got) : read(fd, &extra, 1);

        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            err = -errno;
            break;
        }
        if (n == 0)
            break;
        if (got == cap) {
            err = -EFBIG;
            break;
        }
        got += (size_t)n;
    }
    close(fd);
    *len = got;
    return err;
}

/* GET_INFLIGHT_FD: the inflight region is a memfd (QEMU keeps it, and
 * hands it to our next process with SET_INFLIGHT_FD). */
static void *d_shm_create(void *ctx, uint64_t size, int *fd)
{
    void *p;

    (void)ctx;
    *fd = memfd_create("ringloop-vub-inflight", MFD_CLOEXEC);
    if (*fd < 0 || ftruncate(*fd, (off_t)size)) {
        fprintf(stderr, "vhost-user-blk: inflight memfd of %llu bytes: %s\n",
                (unsigned long long)size, strerror(errno));
        if (*fd >= 0)
            close(*fd);
        *fd = -1;
        return NULL;
    }
    p = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, *fd, 0);
    if (p == MAP_FAILED) {
        fprintf(stderr, "vhost-user-blk: inflight mmap: %s\n", strerror(errno));
        close(*fd);
        *fd = -1;
        return NULL;
    }
    return p; /* zeroed: a new memfd */
}

static const struct vu_ops daemon_ops = {
    .map = d_map,
    .unmap = d_unmap,
    .close_fd = d_close,
    .signal = d_signal,
    .state_put = d_state_put,
    .state_get = d_state_get,
    .shm_create = d_shm_create,
};

/* ---- backend per connection ---- */

static int backend_up(struct daemon *d)
{
    struct vdev_blk_backend be = {.read = vub_disk_read,
                                  .write = vub_disk_write,
                                  .flush = vub_disk_flush,
                                  .discard = vub_disk_discard,
                                  .write_zeroes = vub_disk_write_zeroes,
                                  .ctx = &d->disk};
    struct vuw_opts wo = {.poll_us = d->poll_us};
    unsigned i;
    int err = vu_create(&daemon_ops, d, &d->b);

    if (!d->sync_io) { /* io_uring rings per queue (vub_uring.c) */
        be.submit = vub_disk_submit;
        be.commit = vub_disk_commit;
        be.reap = vub_disk_reap;
    }
    for (i = 0; i < VU_MAX_RINGS; i++)
        wo.done_fd[i] = vub_uring_event_fd(&d->disk, i);
    if (err)
        return err;
    err = vdev_blk_create_backend(&d->dev, vu_guest_mem(d->b), d->disk_bytes, &be, d->serial);
    if (!err) {
        err = vdev_blk_set_num_queues(&d->dev, d->num_queues);
        if (!err)
            err = vdev_blk_set_read_only(&d->dev, d->read_only);
        if (!err)
            err = vdev_blk_set_writeback(&d->dev, !d->writethrough);
        if (err)
            vdev_destroy(&d->dev);
        else /* 2.8: QEMU's packed=on asks for it (queue sizes <= 256) */
            vdev_set_offer_packed(&d->dev, true);
    }
    if (!err)
        err = vu_attach(d->b, &d->dev);
    if (!err && d->is_hostile)
        d->dev.hostile = &d->hostile; /* processed one queue at a time (vmmio.h) */
    else if (!err)
        err = vu_set_concurrent(d->b); /* each ring's worker serves it alone */
    if (!err) {
        err = vuw_start(d->b, &wo, &d->workers);
        if (err)
            vdev_destroy(&d->dev);
    }
    if (err) {
        vu_destroy(d->b);
        d->b = NULL;
    }
    return err;
}

/* One line per connection: how the requests were served (tests look for
 * the engine, the depth reached, and polled vs woken-up work). */
static void report_io(struct daemon *d, const struct vuw_stats *ws)
{
    struct vdev_blk_stats bs;

    vdev_blk_get_stats(&d->dev, &bs);
    fprintf(stderr,
            "vhost-user-blk: I/O engine %s: %llu reads, %llu writes, %llu flushes, peak %llu in "
            "flight, %llu out of order, %llu flush waits; %llu kick wakeups, %llu completion "
            "wakeups, %llu polled completions in %llu poll periods\n",
            d->sync_io ? "sync" : "io_uring", (unsigned long long)bs.reads,
            (unsigned long long)bs.writes, (unsigned long long)bs.flushes,
            (unsigned long long)bs.async_peak, (unsigned long long)bs.out_of_order,
            (unsigned long long)bs.flush_waits, ws->kicks, ws->completions, ws->polled,
            ws->poll_rounds);
    /* Per ring (vdev_queue_push counts what each completed): shows which
     * rings a multiqueue guest really used. */
    for (unsigned q = 0; q < d->num_queues && q < VDEV_MAX_QUEUES; q++)
        fprintf(stderr, "vhost-user-blk: I/O engine %s: ring %u: %llu requests, %llu bad\n",
                d->sync_io ? "sync" : "io_uring", q,
                (unsigned long long)d->dev.queues[q].stats.requests,
                (unsigned long long)d->dev.queues[q].stats.bad_chains);
}

static void backend_down(struct daemon *d)
{
    struct vuw_stats ws;

    if (!d->b)
        return;
    vuw_stop(d->workers, &ws); /* no vu_kick() after this */
    d->workers = NULL;
    vu_destroy(d->b); /* asleep: every request in flight completed */
    report_io(d, &ws);
    vdev_destroy(&d->dev);
    d->b = NULL;
}

/* ---- messages ---- */

/* One message from the frontend; false: close the connection. */
static bool handle_one(struct daemon *d)
{
    static uint8_t msg[VU_MAX_MSG];
    static struct vu_reply r;
    int fds[VU_MAX_FDS];
    unsigned nfds = 0, i;
    uint32_t size;

    if (vub_read_full(d->conn_fd, msg, VU_HDR_BYTES, fds, &nfds))
        goto err_close;
    size = snap_get32(msg + 8);
    if (size > VU_MAX_PAYLOAD) {
        fprintf(stderr, "vhost-user-blk: %s with a %u-byte payload: closing\n",
                vu_request_name(snap_get32(msg)), size);
        goto err_close;
    }
    if (size && vub_read_full(d->conn_fd, msg + VU_HDR_BYTES, size, fds, &nfds))
        goto err_close;
    d->messages++;
    if (d->verbose)
        fprintf(stderr, "vhost-user-blk: <- %s (%u), flags %#x, %u bytes, %u fds\n",
                vu_request_name(snap_get32(msg)), snap_get32(msg), snap_get32(msg + 4), size, nfds);
    if (vu_handle_msg(d->b, msg, VU_HDR_BYTES + size, fds, nfds, &r) < 0)
        return false; /* the handler closed the fds and said why */
    if (snap_get32(msg) == VU_SET_CONFIG) /* the guest set the cache mode (CONFIG_WCE) */
        fprintf(stderr, "vhost-user-blk: SET_CONFIG: cache %s\n",
                vdev_blk_is_writeback(&d->dev) ? "writeback" : "writethrough");
    vuw_sync(d->workers); /* kick fds may have changed */
    if (r.len && vub_send_reply(d->conn_fd, &r) != (ssize_t)r.len) {
        fprintf(stderr, "vhost-user-blk: reply not sent: %s\n", strerror(errno));
        return false;
    }
    return true;

err_close:
    for (i = 0; i < nfds; i++)
        close(fds[i]);
    return false;
}

/* ---- the loop ---- */


/* ---- resize (the disk file grew) ---- */

struct resize_arg {
    uint64_t bytes;
    int err;
};

static void resize_locked(struct vdev *dev, void *arg)
{
    struct resize_arg *rs = arg;

    rs->err = vdev_blk_resize_backend(dev, rs->bytes);
}

/*
 * vhost-user.rst, VHOST_USER_SLAVE_CONFIG_CHANGE_MSG: the back-end "sends
 * such messages to notify that the virtio device's configuration space has
 * changed"; the frontend then sends GET_CONFIG and (QEMU's
 * vhost-user-blk, for a new capacity) raises the guest's config interrupt
 * (virtio 1.2 5.2.6.2, the driver re-reads capacity). No NEED_REPLY: QEMU
 * answers on the same channel only when asked.
 */
static void tell_config_change(struct daemon *d)
{
    uint8_t m[VU_MAX_MSG];
    size_t len = vuf_backend_config_change(m, 0);
    int fd = vu_backend_req_fd(d->b);

    if (fd < 0) {
        fprintf(stderr, "vhost-user-blk: no back-end channel (SET_BACKEND_REQ_FD): the frontend "
                        "sees the new capacity at its next GET_CONFIG\n");
        return;
    }
    if (send(fd, m, len, MSG_NOSIGNAL) != (ssize_t)len)
        fprintf(stderr, "vhost-user-blk: CONFIG_CHANGE_MSG not sent: %s\n", strerror(errno));
    else
        fprintf(stderr, "vhost-user-blk: CONFIG_CHANGE_MSG sent\n");
}

/* SIGHUP or --watch: a grown disk file becomes the device's capacity
 * (under the register-file lock, so no request is checked against a
 * half-updated size) and the frontend is told. Shrinking, or growing by
 * part of a sector, is refused with one line: requests in flight in the
 * guest may still address the old end. */
static void disk_check_size(struct daemon *d)
{
    off_t size = lseek(d->disk.fd, 0, SEEK_END);
    struct resize_arg rs;

    if (size < 0) {
        fprintf(stderr, "vhost-user-blk: %s: %s\n", d->disk_path, strerror(errno));
        return;
    }
    if ((uint64_t)size == d->disk_bytes)
        return;
    if ((uint64_t)size < d->disk_bytes || size % 512) {
        if ((uint64_t)size != d->refused_size)
            fprintf(stderr, "vhost-user-blk: %s is now %lld bytes: only growing by whole sectors is "
                            "followed; capacity stays %llu sectors\n",
                    d->disk_path, (long long)size, (unsigned long long)(d->disk_bytes / 512));
        d->refused_size = (uint64_t)size;
        return;
    }
    d->disk_bytes = (uint64_t)size;
    fprintf(stderr, "vhost-user-blk: disk grew to %llu sectors\n",
            (unsigned long long)(d->disk_bytes / 512));
    if (!d->b)
        return; /* the next frontend's device is created with it */
    rs.err = 0;
    rs.bytes = d->disk_bytes;
    vmmio_run_locked(vu_vmmio(d->b), resize_locked, &rs);
    if (rs.err) {
        fprintf(stderr, "vhost-user-blk: resize refused (%d)\n", rs.err);
        return;
    }
    tell_config_change(d);
}

static uint64_t now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* The message thread: the listening socket, then the frontend's
 * messages; the rings are served by the workers (vu_workers.c). */
static void serve(struct daemon *d)
{
    uint64_t last_watch = now_ms();

    while (!stop_flag) {
        struct pollfd pf =
            (struct pollfd){.fd = d->conn_fd >= 0 ? d->conn_fd : d->listen_fd, .events = POLLIN};
        int rc = poll(&pf, 1, d->watch_ms ? (int)d->watch_ms : 1000);

        if (hup_flag || (d->watch_ms && now_ms() - last_watch >= d->watch_ms)) {
            hup_flag = 0;
            last_watch = now_ms();
            disk_check_size(d);
        }
        if (rc < 0 && errno != EINTR) {
            perror("vhost-user-blk: poll");
            return;
        }
        if (rc <= 0 || !(pf.revents & (POLLIN | POLLHUP | POLLERR)))
            continue;
        if (d->conn_fd < 0) {
            d->conn_fd = accept4(d->listen_fd, NULL, NULL, SOCK_CLOEXEC);
            if (d->conn_fd >= 0) {
                if (backend_up(d)) {
                    fprintf(stderr, "vhost-user-blk: cannot create the device\n");
                    return;
                }
                fprintf(stderr, "vhost-user-blk: frontend connected (%u queues offered)\n",
                        d->num_queues);
            }
            continue;
        }
        if (!handle_one(d)) {
            fprintf(stderr, "vhost-user-blk: frontend gone (%llu messages, %llu kicks)\n",
                    (unsigned long long)d->messages, vuw_kicks(d->workers));
            close(d->conn_fd);
            d->conn_fd = -1;
            backend_down(d);
        }
    }
}

static int disk_open(struct daemon *d)
{
    off_t size;
    char why[128];

    /* (No sys/stat.h: its linux/types.h clashes with our __le64.) */
    d->disk.fd = open(d->disk_path,
                      (d->read_only ? O_RDONLY : O_RDWR) | O_CLOEXEC | (d->direct ? O_DIRECT : 0));
    if (d->disk.fd < 0 && d->direct && errno == EINVAL) {
        fprintf(stderr, "vhost-user-blk: --direct: the file system of %s refuses O_DIRECT\n",
                d->disk_path);
        return -1;
    }
    size = d->disk.fd < 0 ? -1 : lseek(d->disk.fd, 0, SEEK_END);
    if (size < 0) {
        fprintf(stderr, "vhost-user-blk: %s: %s\n", d->disk_path, strerror(errno));
        return -1;
    }
    if (d->direct) {
        d->disk.direct = true;
        d->disk.align = size >= 4096 ? vub_disk_direct_align(d->disk.fd, why, sizeof(why)) : 512;
        if (!d->disk.align) {
            fprintf(stderr, "vhost-user-blk: --direct: the file system of %s refuses O_DIRECT (%s)\n",
                    d->disk_path, why);
            return -1;
        }
    }
    if (size < 512 || size % 512) {
        fprintf(stderr, "vhost-user-blk: %s: size %lld is not a non-zero multiple of 512\n",
                d->disk_path, (long long)size);
        return -1;
    }
    d->disk_bytes = (uint64_t)size;
    return 0;
}

#define POLL_US_MAX 1000000u

static void usage(void)
{
    fprintf(stderr,
            "usage: ringloop-vhost-user-blk --socket PATH --disk FILE [--serial S] "
            "[--num-queues N (1..%d, default: online CPUs)] [--watch MS] [--verbose] "
            "[--read-only] [--writethrough] [--direct] [--poll-us N (0..%u)] [--io uring|sync] "
            "[--hostile MODE[,after=N][,count=K][,seed=S]]\n",
            VDEV_MAX_QUEUES, POLL_US_MAX);
}

/*
 * QEMU's vhost-user-blk-pci defaults num-queues to the guest's vCPU count
 * and refuses a backend whose GET_QUEUE_NUM is smaller ("The maximum
 * number of queues supported by the backend is N"). Offering one queue per
 * host CPU covers the usual guest; a ring the frontend does not use costs
 * nothing (it is never started). Capped at the model's VDEV_MAX_QUEUES.
 */
static unsigned default_num_queues(void)
{
    long n = sysconf(_SC_NPROCESSORS_ONLN);

    if (n < 1)
        return 1;
    return n > VDEV_MAX_QUEUES ? VDEV_MAX_QUEUES : (unsigned)n;
}

static void hostile_usage_line(const struct hostile_info *info, void *ctx)
{
    (void)ctx;
    if (!(info->where & HOSTILE_AT_MMIO))
        fprintf(stderr, "  %-20s %s\n", info->name, info->desc);
}

/* --hostile SPEC: 0, or 2 (the exit status) after saying why and listing modes. */
static int hostile_option(struct daemon *d, const char *spec)
{
    struct hostile_cfg cfg;
    const char *why;

    if (hostile_parse(spec, &cfg, &why) == 0) {
        if (!(hostile_info(cfg.mode)->where & HOSTILE_AT_MMIO)) {
            hostile_set(&d->hostile, &cfg);
            d->is_hostile = cfg.mode != HOSTILE_OFF;
            return 0;
        }
        why = "a register-file mode, not available over vhost-user";
    }
    fprintf(stderr, "vhost-user-blk: --hostile %s: %s; modes:\n", spec, why);
    hostile_list(hostile_usage_line, NULL);
    return 2;
}

int main(int argc, char **argv)
{
    static const struct option opts[] = {
        {"socket", required_argument, NULL, 's'},
        {"disk", required_argument, NULL, 'd'},
        {"serial", required_argument, NULL, 'i'},
        {"verbose", no_argument, NULL, 'v'},
        {"num-queues", required_argument, NULL, 'q'},
        {"help", no_argument, NULL, 'h'},
        {"hostile", required_argument, NULL, 'H'},
        {"read-only", no_argument, NULL, 'r'},
        {"writethrough", no_argument, NULL, 'w'},
        {"watch", required_argument, NULL, 'W'},
        {"direct", no_argument, NULL, 'D'},
        {"poll-us", required_argument, NULL, 'P'},
        {"io", required_argument, NULL, 'I'},
        {NULL, 0, NULL, 0},
    };
    struct daemon d = {
        .listen_fd = -1, .conn_fd = -1, .disk = {.fd = -1}, .serial = "ringloop-vub0", .num_queues = 0};
    struct sigaction sa = {.sa_handler = on_signal};
    char why[128];
    int c;

    while ((c = getopt_long(argc, argv, "s:d:i:q:vhH:rwW:DP:I:", opts, NULL)) != -1) {
        char *end;

        switch (c) {
        case 'D':
            d.direct = true;
            break;
        case 'P':
            d.poll_us = (unsigned)strtoul(optarg, &end, 10);
            if (*end || !*optarg || d.poll_us > POLL_US_MAX) {
                usage();
                return 2;
            }
            break;
        case 'I':
            if (strcmp(optarg, "sync") && strcmp(optarg, "uring")) {
                fprintf(stderr, "vhost-user-blk: --io %s: uring or sync\n", optarg);
                return 2;
            }
            d.sync_io = !strcmp(optarg, "sync");
            break;
        case 'W':
            d.watch_ms = (unsigned)strtoul(optarg, &end, 10);
            if (*end || d.watch_ms < 1 || d.watch_ms > 3600000) {
                usage();
                return 2;
            }
            break;
        case 'q':
            d.num_queues = (unsigned)strtoul(optarg, &end, 10);
            if (*end || d.num_queues < 1 || d.num_queues > VDEV_MAX_QUEUES) {
                usage();
                return 2;
            }
            break;
        case 's':
            d.sock_path = optarg;
            break;
        case 'd':
            d.disk_path = optarg;
            break;
        case 'i':
            d.serial = optarg;
            break;
        case 'v':
            d.verbose = true;
            break;
        case 'r':
            d.read_only = true;
            break;
        case 'w':
            d.writethrough = true;
            break;
        case 'H':
            if (hostile_option(&d, optarg))
                return 2;
            break;
        default:
            usage();
            return c == 'h' ? 0 : 2;
        }
    }
    if (!d.sock_path || !d.disk_path) {
        usage();
        return 2;
    }
    if (!d.num_queues)
        d.num_queues = default_num_queues();
    host_log_level_set(VIRT_LOG_INFO);
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGHUP, &sa, NULL); /* no SA_RESTART: poll() returns EINTR at once */
    signal(SIGPIPE, SIG_IGN);
    if (disk_open(&d))
        return 1;
    if (!d.sync_io && vub_uring_init(&d.disk, d.num_queues, why, sizeof(why))) {
        /* Old kernels, seccomp filters, locked memory limits: serve anyway. */
        fprintf(stderr, "vhost-user-blk: io_uring unavailable (%s): synchronous pread/pwrite\n",
                why);
        d.sync_io = true;
    }
    d.listen_fd = vub_listen_on(d.sock_path);
    if (d.listen_fd < 0)
        return 1;
    fprintf(stderr, "vhost-user-blk: serving %s (%llu sectors%s%s) on %s, %u queue%s\n",
            d.disk_path, (unsigned long long)(d.disk_bytes / 512),
            d.read_only ? ", read-only" : "", d.writethrough ? ", writethrough" : "",
            d.sock_path, d.num_queues, d.num_queues == 1 ? "" : "s");
    fprintf(stderr, "vhost-user-blk: I/O engine %s%s, busy-poll %u us\n",
            d.sync_io ? "sync (pread/pwrite)" : "io_uring (one ring of 256 per queue)",
            d.direct ? ", O_DIRECT" : "", d.poll_us);
    if (d.is_hostile)
        fprintf(stderr, "vhost-user-blk: hostile mode %s after %u count %u seed %llu\n",
                hostile_info(d.hostile.cfg.mode)->name, d.hostile.cfg.after, d.hostile.cfg.count,
                (unsigned long long)d.hostile.cfg.seed);
    serve(&d);
    if (d.conn_fd >= 0)
        close(d.conn_fd);
    backend_down(&d);
    if (fsync(d.disk.fd))
        fprintf(stderr, "vhost-user-blk: fsync: %s\n", strerror(errno));
    vub_uring_exit(&d.disk);
    close(d.disk.fd);
    close(d.listen_fd);
    unlink(d.sock_path);
    if (d.is_hostile) /* whether the mode ever acted (e.g. used-id-stale needs a reset) */
        fprintf(stderr, "vhost-user-blk: hostile mode %s: %llu requests, %llu misbehaviours\n",
                hostile_info(d.hostile.cfg.mode)->name, (unsigned long long)d.hostile.served,
                (unsigned long long)d.hostile.fired);
    fprintf(stderr, "vhost-user-blk: stopped, disk synced\n");
    return 0;
}
