/* SPDX-License-Identifier: Apache-2.0 */
/*
 * vu_sock_fixture.c - the socket tests' frontend (vu_sock_fixture.h).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <spawn.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "platform_host.h"
#include "vhost_user.h"
#include "vhost_user_front.h"
#include "virtio_config.h"
#include "virtio_platform.h"
#include "virtqueue.h"
#include "vu_sock_fixture.h"

extern char **environ;

static struct sfx S;

const char *setup_args[SETUP_MAX_ARGS + 1];
bool setup_no_uring;

/* The daemon; with s->nq, --num-queues nq, then setup_args; with either,
 * its stderr into s->log. */
void spawn_daemon(struct sfx *s)
{
    const char *path = getenv("VU_DAEMON");
    char nq[16];
    char *argv[8 + SETUP_MAX_ARGS] = {NULL, "--socket", s->sock, "--disk", s->disk};
    posix_spawn_file_actions_t fa;
    unsigned n = 5, i;

    if (!path)
        path = "build/host/ringloop-vhost-user-blk";
    argv[0] = (char *)path;
    if (s->nq) {
        snprintf(nq, sizeof(nq), "%u", s->nq);
        argv[n++] = "--num-queues";
        argv[n++] = nq;
    }
    for (i = 0; i < SETUP_MAX_ARGS && setup_args[i]; i++)
        argv[n++] = (char *)setup_args[i];
    if (setup_no_uring) {
        s->pid = fork();
        assert_true(s->pid >= 0);
        if (s->pid == 0) {
            int fd = open(s->log, O_WRONLY | O_CREAT | O_TRUNC, 0600);

            if (fd < 0 || dup2(fd, 2) < 0)
                _exit(126);
            vu_deny_io_uring();
            execve(path, argv, environ);
            _exit(127);
        }
        return;
    }
    if (n == 5) {
        assert_int_equal(posix_spawn(&s->pid, path, NULL, NULL, argv, environ), 0);
        return;
    }
    assert_int_equal(posix_spawn_file_actions_init(&fa), 0);
    assert_int_equal(
        posix_spawn_file_actions_addopen(&fa, 2, s->log, O_WRONLY | O_CREAT | O_TRUNC, 0600), 0);
    assert_int_equal(posix_spawn(&s->pid, path, &fa, NULL, argv, environ), 0);
    posix_spawn_file_actions_destroy(&fa);
}

int connect_sock(struct sfx *s)
{
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    int i;

    strcpy(sa.sun_path, s->sock);
    for (i = 0; i < 500; i++) {
        int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

        assert_true(fd >= 0);
        if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0)
            return fd;
        close(fd);
        usleep(10000);
    }
    fail_msg("daemon socket %s never accepted", s->sock);
    return -1;
}

void vq_notify_cb(struct virtqueue *vq, void *priv)
{
    struct sfx *s = priv;
    uint64_t one = 1;

    (void)vq;
    assert_int_equal(write(s->kick, &one, 8), 8);
}

void vq_notify_kick1(struct virtqueue *vq, void *priv)
{
    struct sfx *s = priv;
    uint64_t one = 1;

    (void)vq;
    assert_int_equal(write(s->kick1, &one, 8), 8);
}

static unsigned setup_nq; /* the next setup's --num-queues (0: none) */

int setup(void **state)
{
    struct sfx *s = &S;
    int fd;

    memset(s, 0, sizeof(*s));
    s->nq = setup_nq;
    s->kick1 = s->call1 = s->err[0] = s->err[1] = -1;
    snprintf(s->log, sizeof(s->log), "/tmp/vu_sock_%d.log", getpid());
    snprintf(s->sock, sizeof(s->sock), "/tmp/vu_sock_%d.sock", getpid());
    snprintf(s->disk, sizeof(s->disk), "/tmp/vu_sock_%d.img", getpid());
    fd = open(s->disk, O_RDWR | O_CREAT | O_TRUNC, 0600);
    assert_true(fd >= 0);
    assert_int_equal(ftruncate(fd, DISK_BYTES), 0);
    close(fd);
    s->memfd = memfd_create("vu_guest", MFD_CLOEXEC);
    assert_true(s->memfd >= 0);
    assert_int_equal(ftruncate(s->memfd, MEM_BYTES), 0);
    s->mem = mmap(NULL, MEM_BYTES, PROT_READ | PROT_WRITE, MAP_SHARED, s->memfd, 0);
    assert_true(s->mem != MAP_FAILED);
    host_dma_arena_setup(s->mem, MEM_BYTES, GPA_BASE);
    host_log_level_set(-1);
    s->kick = eventfd(0, EFD_CLOEXEC);
    s->call = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    spawn_daemon(s);
    s->conn = connect_sock(s);
    *state = s;
    return 0;
}

int teardown(void **state)
{
    struct sfx *s = *state;
    int status = 0;

    if (s->conn >= 0)
        close(s->conn);
    if (s->pid > 0) {
        kill(s->pid, SIGTERM);
        waitpid(s->pid, &status, 0);
    }
    if (s->vq)
        vq_destroy(s->vq);
    if (s->vq1)
        vq_destroy(s->vq1);
    host_dma_arena_clear();
    munmap(s->mem, MEM_BYTES);
    close(s->memfd);
    close(s->kick);
    close(s->call);
    if (s->nq) {
        close(s->kick1);
        close(s->call1);
        close(s->err[0]);
        close(s->err[1]);
    }
    unlink(s->log);
    unlink(s->disk);
    unlink(s->sock);
    return 0;
}

/* Send msg with fds; read the reply if one is expected. Returns 0, or -1
 * when the daemon closed the connection. */
int xfer(struct sfx *s, size_t len, const int *fds, unsigned nfds, bool want_reply)
{
    union {
        char buf[CMSG_SPACE(VU_MAX_FDS * sizeof(int))];
        struct cmsghdr align;
    } cm;
    struct iovec iov = {.iov_base = s->msg, .iov_len = len};
    struct msghdr mh = {.msg_iov = &iov, .msg_iovlen = 1};
    ssize_t n;

    if (nfds) {
        struct cmsghdr *c;

        mh.msg_control = cm.buf;
        mh.msg_controllen = CMSG_SPACE(nfds * sizeof(int));
        c = CMSG_FIRSTHDR(&mh);
        c->cmsg_level = SOL_SOCKET;
        c->cmsg_type = SCM_RIGHTS;
        c->cmsg_len = CMSG_LEN(nfds * sizeof(int));
        memcpy(CMSG_DATA(c), fds, nfds * sizeof(int));
    }
    if (sendmsg(s->conn, &mh, MSG_NOSIGNAL) != (ssize_t)len)
        return -1;
    if (!want_reply)
        return 0;
    n = recv(s->conn, s->reply, VU_HDR_BYTES, MSG_WAITALL);
    if (n != VU_HDR_BYTES)
        return -1;
    s->reply_len = snap_get32(s->reply + 8);
    assert_true(s->reply_len <= VU_MAX_PAYLOAD);
    assert_int_equal(snap_get32(s->reply), snap_get32(s->msg));
    assert_int_equal(snap_get32(s->reply + 4), VU_FLAG_VERSION | VU_FLAG_REPLY);
    if (s->reply_len &&
        recv(s->conn, s->reply + VU_HDR_BYTES, s->reply_len, MSG_WAITALL) != s->reply_len)
        return -1;
    return 0;
}

uint64_t reply_u64(struct sfx *s)
{
    assert_int_equal(s->reply_len, 8);
    return snap_get64(s->reply + VU_HDR_BYTES);
}

uint64_t get_u64(struct sfx *s, uint32_t req)
{
    assert_int_equal(xfer(s, vuf_none(s->msg, req, 0), NULL, 0, true), 0);
    return reply_u64(s);
}

/* With NEED_REPLY (REPLY_ACK negotiated): the ack value. */
uint64_t acked(struct sfx *s, size_t len, const int *fds, unsigned nfds)
{
    snap_put32(s->msg + 4, snap_get32(s->msg + 4) | VU_FLAG_NEED_REPLY);
    assert_int_equal(xfer(s, len, fds, nfds, true), 0);
    return reply_u64(s);
}

uint64_t ua(const void *p)
{
    return (uint64_t)(uintptr_t)p;
}

/* Negotiation, config, features and the memory table for a daemon with
 * nq rings. */
void negotiate_mem(struct sfx *s, unsigned nq)
{
    uint64_t f, pf;
    struct vuf_region rg = {.gpa = GPA_BASE, .size = MEM_BYTES, .uaddr = ua(s->mem)};

    f = get_u64(s, VU_GET_FEATURES);
    assert_true(f & (1ull << VU_F_PROTOCOL_FEATURES));
    assert_true(f & (1ull << VIRTIO_F_VERSION_1));
    pf = get_u64(s, VU_GET_PROTOCOL_FEATURES);
    assert_true(pf & (1ull << VU_PF_REPLY_ACK));
    assert_int_equal(xfer(s, vuf_u64(s->msg, VU_SET_PROTOCOL_FEATURES, 0, pf), NULL, 0, false), 0);
    assert_int_equal(get_u64(s, VU_GET_QUEUE_NUM), nq);
    assert_int_equal(acked(s, vuf_none(s->msg, VU_SET_OWNER, 0), NULL, 0), 0);
    assert_int_equal(xfer(s, vuf_config(s->msg, VU_GET_CONFIG, 0, 0, 60, NULL), NULL, 0, true), 0);
    assert_int_equal(s->reply_len, VU_CONFIG_HDR_BYTES + 60);
    assert_int_equal(snap_get64(s->reply + VU_HDR_BYTES + VU_CONFIG_HDR_BYTES), DISK_BYTES / 512);
    /* 5.2.4 num_queues (offset 34) with VIRTIO_BLK_F_MQ (12). */
    assert_int_equal((f >> 12) & 1, nq > 1);
    if (nq > 1)
        assert_int_equal(snap_get16(s->reply + VU_HDR_BYTES + VU_CONFIG_HDR_BYTES + 34), nq);
    f &= (1ull << VU_F_PROTOCOL_FEATURES) | (1ull << VIRTIO_F_VERSION_1) |
         (1ull << VIRTIO_F_EVENT_IDX) | (1ull << VIRTIO_F_INDIRECT_DESC) |
         (1ull << VIRTIO_BLK_F_FLUSH) | (nq > 1 ? 1ull << 12 : 0);
    assert_int_equal(acked(s, vuf_u64(s->msg, VU_SET_FEATURES, 0, f), NULL, 0), 0);
    assert_int_equal(acked(s, vuf_mem_table(s->msg, 0, &rg, 1), &s->memfd, 1), 0);
}

/* The frontend's addresses of vq's rings (our mapping of the memfd). */
void ring_uas(struct sfx *s, struct virtqueue *vq, uint64_t *d, uint64_t *a, uint64_t *u)
{
    vq_get_ring_addrs(vq, d, a, u);
    *d = ua(s->mem) + (*d - GPA_BASE);
    *a = ua(s->mem) + (*a - GPA_BASE);
    *u = ua(s->mem) + (*u - GPA_BASE);
}

/* Ring idx on a new driver vq (notify: its kick), started at base, with
 * call and (err >= 0) err eventfds, enabled. */
struct virtqueue *ring_start(struct sfx *s, unsigned idx, int kick, int call, int err,
                                    void (*notify)(struct virtqueue *vq, void *priv))
{
    struct vq_config cfg = {
        .num = QNUM, .event_idx = true, .indirect = true, .notify = notify, .priv = s};
    struct virtqueue *vq;
    uint64_t d, a, u;

    assert_int_equal(vq_create(&cfg, &vq), 0);
    ring_uas(s, vq, &d, &a, &u);
    assert_int_equal(acked(s, vuf_state(s->msg, VU_SET_VRING_NUM, 0, idx, QNUM), NULL, 0), 0);
    assert_int_equal(acked(s, vuf_state(s->msg, VU_SET_VRING_BASE, 0, idx, 0), NULL, 0), 0);
    assert_int_equal(acked(s, vuf_addr(s->msg, 0, idx, d, u, a), NULL, 0), 0);
    if (err >= 0)
        assert_int_equal(acked(s, vuf_u64(s->msg, VU_SET_VRING_ERR, 0, idx), &err, 1), 0);
    assert_int_equal(acked(s, vuf_u64(s->msg, VU_SET_VRING_CALL, 0, idx), &call, 1), 0);
    assert_int_equal(acked(s, vuf_u64(s->msg, VU_SET_VRING_KICK, 0, idx), &kick, 1), 0);
    assert_int_equal(acked(s, vuf_state(s->msg, VU_SET_VRING_ENABLE, 0, idx, 1), NULL, 0), 0);
    return vq;
}

/* The daemon's documented default without --num-queues: one ring per
 * online CPU, at least 1, at most VDEV_MAX_QUEUES (QEMU's default
 * vhost-user-blk-pci asks for one per vCPU). */
unsigned default_nq(void)
{
    long n = sysconf(_SC_NPROCESSORS_ONLN);

    return n < 1 ? 1 : n > VDEV_MAX_QUEUES ? VDEV_MAX_QUEUES : (unsigned)n;
}

/* Ring 0 only, of the rings offered (s->nq, or the default): the rings the
 * frontend never starts must not hold ring 0 up (vhost-user.rst "Multiple
 * queue support": the frontend may use fewer than GET_QUEUE_NUM). */
void start_device(struct sfx *s)
{
    negotiate_mem(s, s->nq ? s->nq : default_nq());
    s->vq = ring_start(s, 0, s->kick, s->call, -1, vq_notify_cb);
}


/* Submit n requests (type, sector i * 8) on vq, kick, wait for all of
 * them (call: the ring's call eventfd). */
void run_batch_on(struct virtqueue *vq, int call, struct req *r, unsigned n, uint32_t type)
{
    unsigned i, done = 0;

    for (i = 0; i < n; i++) {
        struct vq_sg sg[3] = {{.buf = r[i].hdr, .len = 16},
                              {.buf = r[i].data, .len = REQ_BYTES},
                              {.buf = &r[i].status, .len = 1}};

        snap_put32(r[i].hdr, type);
        snap_put32(r[i].hdr + 4, 0);
        snap_put64(r[i].hdr + 8, (uint64_t)i * (REQ_BYTES / 512));
        r[i].status = 0xee;
        if (type == VIRTIO_BLK_T_FLUSH)
            assert_int_equal(vq_add_sgs(vq, (struct vq_sg[]){sg[0], sg[2]}, 1, 1, &r[i]), 0);
        else if (type == VIRTIO_BLK_T_OUT)
            assert_int_equal(vq_add_sgs(vq, sg, 2, 1, &r[i]), 0);
        else
            assert_int_equal(vq_add_sgs(vq, sg, 1, 2, &r[i]), 0);
    }
    vq_kick(vq);
    while (done < n) {
        struct pollfd pf = {.fd = call, .events = POLLIN};
        uint64_t v;
        void *tok;
        uint32_t len;

        while (vq_get_buf(vq, &tok, &len) == 0) {
            assert_int_equal(((struct req *)tok)->status, VIRTIO_BLK_S_OK);
            done++;
        }
        if (done == n)
            break;
        assert_int_equal(poll(&pf, 1, 5000), 1); /* the call eventfd fires */
        (void)!read(call, &v, 8);
    }
}

void run_batch(struct sfx *s, struct req *r, unsigned n, uint32_t type)
{
    run_batch_on(s->vq, s->call, r, n, type);
}

/* Is fd readable within ms? */
bool is_readable(int fd, int ms)
{
    struct pollfd pf = {.fd = fd, .events = POLLIN};

    return poll(&pf, 1, ms) == 1;
}

/* Lines of the daemon's log that contain what. */
int log_count(struct sfx *s, const char *what)
{
    char line[512];
    FILE *f = fopen(s->log, "r");
    int n = 0;

    assert_non_null(f);
    while (fgets(line, sizeof(line), f))
        n += strstr(line, what) != NULL;
    fclose(f);
    return n;
}

void kick_fd(int fd)
{
    uint64_t one = 1;

    assert_int_equal(write(fd, &one, 8), 8);
}

int setup_two_queues(void **state)
{
    int ret;

    setup_nq = 2;
    ret = setup(state);
    setup_nq = 0;
    return ret;
}

/* Two rings, each with an err eventfd (vhost-user.rst SET_VRING_ERR). */
void start_two_rings(struct sfx *s)
{
    unsigned i;

    s->kick1 = eventfd(0, EFD_CLOEXEC);
    s->call1 = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    for (i = 0; i < 2; i++)
        s->err[i] = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    negotiate_mem(s, 2);
    s->vq = ring_start(s, 0, s->kick, s->call, s->err[0], vq_notify_cb);
    s->vq1 = ring_start(s, 1, s->kick1, s->call1, s->err[1], vq_notify_kick1);
}

/* GET_VRING_BASE ring idx (stops it), then start it again there. */
uint32_t ring_restart(struct sfx *s, unsigned idx, struct virtqueue *vq, int kick, int call)
{
    uint64_t d, a, u;
    uint32_t base;

    assert_int_equal(xfer(s, vuf_state(s->msg, VU_GET_VRING_BASE, 0, idx, 0), NULL, 0, true), 0);
    base = snap_get32(s->reply + VU_HDR_BYTES + 4);
    ring_uas(s, vq, &d, &a, &u);
    assert_int_equal(acked(s, vuf_state(s->msg, VU_SET_VRING_BASE, 0, idx, base), NULL, 0), 0);
    assert_int_equal(acked(s, vuf_addr(s->msg, 0, idx, d, u, a), NULL, 0), 0);
    assert_int_equal(acked(s, vuf_u64(s->msg, VU_SET_VRING_CALL, 0, idx), &call, 1), 0);
    assert_int_equal(acked(s, vuf_u64(s->msg, VU_SET_VRING_KICK, 0, idx), &kick, 1), 0);
    return base;
}

/* One request on ring 0 with r->data device-writable or not as asked
 * (whatever the type says), waited for: its status. */
uint8_t one_req(struct sfx *s, struct req *r, uint32_t type, uint64_t sector,
                       bool data_writable)
{
    struct vq_sg sg[3] = {{.buf = r->hdr, .len = 16},
                          {.buf = r->data, .len = REQ_BYTES},
                          {.buf = &r->status, .len = 1}};
    unsigned out = data_writable ? 1 : 2;
    void *tok;
    uint32_t len;
    uint64_t v;

    snap_put32(r->hdr, type);
    snap_put32(r->hdr + 4, 0);
    snap_put64(r->hdr + 8, sector);
    r->status = 0xee;
    assert_int_equal(vq_add_sgs(s->vq, sg, out, 3 - out, r), 0);
    vq_kick(s->vq);
    while (vq_get_buf(s->vq, &tok, &len) != 0) {
        assert_true(is_readable(s->call, 5000));
        (void)!read(s->call, &v, 8);
    }
    assert_ptr_equal(tok, r);
    return r->status;
}
