/* SPDX-License-Identifier: Apache-2.0 */
/*
 * vu_fixture.h - the fake vhost-user carrier shared by the handler's cmocka
 * tests (test_vhost_user) and its fuzzer (fuzz_vhost_user): "fds" are small
 * integers it hands out and tracks, every region fd maps one guest-memory
 * arena, call/err signals are counted, the device state goes through a
 * buffer. It links without cmocka (the fuzzer has none).
 *
 * Invariants: it holds the handler to the fd promise of vhost_user.h (it
 * keeps or closes every fd exactly once): mapping, signalling or closing
 * an fd that is not open (closed twice, or never handed out) calls the
 * owner's broken() (a failed test case, an abort in the fuzzer) and then
 * touches nothing; a leak shows in vufx_first_open() at the end.
 */
#ifndef RINGLOOP_VU_FIXTURE_H
#define RINGLOOP_VU_FIXTURE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "vhost_user.h"

#define VUFX_MAX_FDS 512
#define VUFX_SHM_BYTES (64u << 10) /* the shared memory shm_create hands out */

struct vu_fake {
    uint8_t *arena; /* what every region fd maps */
    uint64_t arena_size;
    bool fail_map; /* set: every map fails */
    int next_fd;   /* the next fd vufx_fd_new() hands out */
    bool open[VUFX_MAX_FDS];
    int signals[VUFX_MAX_FDS];         /* per fd, by ops.signal */
    uint8_t state[VU_STATE_MAX_BYTES]; /* the device state (state_put/get) */
    size_t state_len;
    /* shm_create (vufx_ops_shm): one buffer of shm_size bytes; fds marked
     * is_shm map it (those it returned, and vufx_shm_fd_new's). */
    uint8_t shm[VUFX_SHM_BYTES] __attribute__((aligned(64)));
    uint64_t shm_size;
    bool is_shm[VUFX_MAX_FDS];
    /* The handler broke a promise: what it did, to which fd. */
    void (*broken)(const char *what, int fd);
};

/* The carrier calls (vu_create's ops); their ctx is the struct vu_fake. */
extern const struct vu_ops vufx_ops;
/* The same with shm_create (the handler then offers INFLIGHT_SHMFD). */
extern const struct vu_ops vufx_ops_shm;

/* Reset f (no fd open, no signal, no state) over arena; fds start at
 * first_fd (> 0). */
void vufx_init(struct vu_fake *f, uint8_t *arena, uint64_t arena_size, int first_fd,
               void (*broken)(const char *what, int fd));
/* A new open fd, or -1 when all VUFX_MAX_FDS are used. */
int vufx_fd_new(struct vu_fake *f);
/* A new open fd for the shm buffer (a frontend handing the inflight
 * region back with SET_INFLIGHT_FD), or -1. */
int vufx_shm_fd_new(struct vu_fake *f);
/* The lowest fd still open, or -1 when every one is closed. */
int vufx_first_open(const struct vu_fake *f);

#endif
