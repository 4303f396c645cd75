/* SPDX-License-Identifier: Apache-2.0 */
/*
 * vu_sock_fixture.h - the tiny vhost-user frontend the daemon's socket
 * tests share (test_vhost_user_sock.c, test_vhost_user_sock_slots.c): the
 * daemon spawned over a temp disk file (VU_DAEMON, default
 * build/host/ringloop-vhost-user-blk), guest memory a memfd passed with
 * SCM_RIGHTS, eventfd kicks and calls, the real driver virtqueue on the
 * rings. cmocka setup/teardown: setup (the daemon's default queue count),
 * setup_two_queues (--num-queues 2, stderr into s->log), teardown.
 */
#ifndef RINGLOOP_VU_SOCK_FIXTURE_H
#define RINGLOOP_VU_SOCK_FIXTURE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "vhost_user.h"
#include "virtqueue.h"

#define GPA_BASE 0x100000ull
#define MEM_BYTES (8u << 20)
#define DISK_BYTES (1u << 20)
#define QNUM 128
#define NREQ 64
#define REQ_BYTES 4096

struct sfx {
    char sock[64], disk[64], log[64];
    unsigned nq; /* --num-queues for the daemon (0: not given) */
    pid_t pid;
    int conn;
    int memfd;
    uint8_t *mem;
    int kick, call;
    struct virtqueue *vq;
    /* Ring 1 (with --num-queues 2) and both rings' err eventfds. */
    int kick1, call1, err[2];
    struct virtqueue *vq1;
    uint8_t msg[VU_MAX_MSG];
    uint8_t reply[VU_MAX_MSG];
    uint32_t reply_len;
};

struct req {
    uint8_t hdr[16];
    uint8_t status;
    uint8_t pad[47];
    uint8_t data[REQ_BYTES];
};

/* More daemon arguments for the next setups (NULL-terminated; the test
 * sets and clears it); with any, the daemon's stderr goes to s->log. */
#define SETUP_MAX_ARGS 6
extern const char *setup_args[SETUP_MAX_ARGS + 1];
/* The next setups' daemon runs with io_uring_setup denied (seccomp,
 * ENOSYS); its stderr goes to s->log. */
extern bool setup_no_uring;
/* vu_seccomp.c (apart: linux/filter.h clashes with virtio_ring.h's
 * __le64): in a child before exec, make io_uring_setup fail with ENOSYS,
 * everything else allowed; _exit(126) if the filter cannot be set. */
void vu_deny_io_uring(void);
void spawn_daemon(struct sfx *s);
int connect_sock(struct sfx *s);
void vq_notify_cb(struct virtqueue *vq, void *priv);
void vq_notify_kick1(struct virtqueue *vq, void *priv);
int setup(void **state);
int teardown(void **state);
int xfer(struct sfx *s, size_t len, const int *fds, unsigned nfds, bool want_reply);
uint64_t reply_u64(struct sfx *s);
uint64_t get_u64(struct sfx *s, uint32_t req);
uint64_t acked(struct sfx *s, size_t len, const int *fds, unsigned nfds);
uint64_t ua(const void *p);
void negotiate_mem(struct sfx *s, unsigned nq);
void ring_uas(struct sfx *s, struct virtqueue *vq, uint64_t *d, uint64_t *a, uint64_t *u);
struct virtqueue *ring_start(struct sfx *s, unsigned idx, int kick, int call, int err,
                             void (*notify)(struct virtqueue *vq, void *priv));
unsigned default_nq(void);
void start_device(struct sfx *s);
void run_batch_on(struct virtqueue *vq, int call, struct req *r, unsigned n, uint32_t type);
void run_batch(struct sfx *s, struct req *r, unsigned n, uint32_t type);
bool is_readable(int fd, int ms);
int log_count(struct sfx *s, const char *what);
void kick_fd(int fd);
int setup_two_queues(void **state);
void start_two_rings(struct sfx *s);
uint32_t ring_restart(struct sfx *s, unsigned idx, struct virtqueue *vq, int kick, int call);
uint8_t one_req(struct sfx *s, struct req *r, uint32_t type, uint64_t sector,
                bool data_writable);

#endif
