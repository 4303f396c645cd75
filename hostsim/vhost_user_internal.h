/* SPDX-License-Identifier: Apache-2.0 */
/*
 * vhost_user_internal.h - what the files of the vhost-user handler share:
 * the backend's state and the calls between them. Private to hostsim/
 * (carriers, tests and fuzzers include vhost_user.h only).
 *   vhost_user.c        the backend object and carrier calls, message
 *                       framing and validation, dispatch, config space
 *   vhost_user_mem.c    the memory table, frontend address translation
 *   vhost_user_vring.c  ring state, the device's life (start, stop,
 *                       suspend, reset), device state transfer
 *
 * Invariants: those of vhost_user.h. Every function below is called with
 * the backend serialised by the carrier, after vu_handle_msg() has checked
 * the message's header and fixed payload size.
 */
#ifndef RINGLOOP_VHOST_USER_INTERNAL_H
#define RINGLOOP_VHOST_USER_INTERNAL_H

#include <stdbool.h>
#include <stdint.h>

#include "vdq_inflight.h"
#include "vdq_inflight_packed.h"
#include "vhost_user.h"
#include "virtio_platform.h"

struct vu_region {
    uint64_t gpa, size, uaddr, mmap_offset;
    void *hva;
};

struct vu_ring {
    uint32_t num; /* 0 until SET_VRING_NUM */
    /* Where to start, and what GET_VRING_BASE returns: the vring base in
     * the wire encoding of the ring's layout (split: next avail index;
     * packed: both indices and wrap counters, VU_PACKED_* in vhost_user.h). */
    uint32_t base;
    bool has_addr;    /* SET_VRING_ADDR seen */
    bool started;     /* kick received, not stopped since */
    bool enabled;     /* SET_VRING_ENABLE */
    bool kick_polled; /* SET_VRING_KICK with no fd */
    uint64_t desc_ua, used_ua, avail_ua; /* frontend (user) addresses */
    /* SET_VRING_ADDR flags VHOST_VRING_F_LOG: log used-area writes at
     * log_gpa (its log field, "log_guest_addr"). */
    bool log_used;
    uint64_t log_gpa;
    int kick_fd, call_fd, err_fd;        /* -1: none */
};

/* INFLIGHT_SHMFD (vhost_user_inflight.c): the region the frontend keeps
 * for us, one tracker per queue over it. */
struct vu_inflight {
    uint8_t *base; /* our mapping, NULL: none */
    uint64_t size, offset;
    uint16_t num_queues, queue_size;
    bool mapped;   /* base from ops->map (else ops->shm_create) */
    bool packed;   /* the packed layout (vdq_inflight_packed.h): packed acked at GET/SET */
    uint8_t pad[2];
    uint16_t *storage; /* trackers' lists: num_queues x queue_size (x 5 packed) */
    struct vdq_inflight t[VU_MAX_RINGS];
    struct vdq_inflight_packed pt[VU_MAX_RINGS];
    /* Ring i's tracker is attached (i < num_queues) / must recover at its
     * next start (SET_INFLIGHT_FD: the region is the previous backend's). */
    uint32_t attached, pending;
};

struct vu_backend {
    const struct vu_ops *ops;
    void *ctx;
    struct vdev *dev;
    struct vmmio *m;
    bool has_owner;
    bool has_features; /* SET_FEATURES seen */
    uint8_t pad[6];
    uint64_t features; /* acked by SET_FEATURES, bit 30 included */
    uint64_t protocol_features;
    unsigned nrings;
    /* Rings the device is activated and awake with (bit i: ring i); 0
     * while asleep. Written by the message side only with the device
     * asleep, so the hooks (called from queue processing, under the
     * register-file lock) read it stable. */
    uint32_t running_mask;
    /* Guards the call/err fds the hooks signal (they run on ring workers,
     * under a queue lock) against SET_VRING_CALL/ERR swapping them. */
    struct virt_lock fd_lock;
    bool concurrent; /* vu_set_concurrent: vu_kick processes its ring only */
    /* Guest memory: vdq regions (gpa -> hva) and the frontend's view. */
    struct vdq_mem_region vregions[VU_MAX_MEM_SLOTS];
    struct vu_region regions[VU_MAX_MEM_SLOTS];
    /* A memory change left running rings outside guest memory (REM_MEM_REG
     * ahead of its ADD_MEM_REG): the device sleeps until a later change
     * puts them back, then wakes as it was. */
    bool mem_parked;
    struct vdq_mem mem;
    struct vu_ring rings[VU_MAX_RINGS];
    /* Device state transfer in progress (SET_DEVICE_STATE_FD). */
    int state_fd;  /* LOAD: the fd to read at CHECK_DEVICE_STATE */
    int state_dir; /* -1 none, VU_STATE_SAVE, VU_STATE_LOAD */
    int state_result;
    int backend_fd; /* SET_BACKEND_REQ_FD, -1: none */
    struct vu_inflight infl;
    /* Dirty log (vhost_user_log.c): the frontend's log (SET_LOG_BASE), and
     * what the queues log into (b->mem.log; bitmap set while
     * VHOST_F_LOG_ALL is acked and a log is mapped). */
    uint8_t *log_base;
    uint64_t log_size, log_offset;
    struct vdq_log vlog;
    struct vu_stats stats;
};

struct vu_ring_geo {
    uint64_t desc, avail, used; /* guest-physical */
};

/* ---- vhost_user.c ---- */

/* Close *fd through the carrier (if it is one) and set it to -1. */
void vu_close(struct vu_backend *b, int *fd);

/* ---- vhost_user_mem.c ---- */

/* Frontend (user) address -> guest-physical, [ua, ua+len) inside one
 * region; -EFAULT otherwise. */
int vu_ua_to_gpa(const struct vu_backend *b, uint64_t ua, uint64_t len, uint64_t *gpa);
/* Ring r's three areas in guest-physical addresses, each wholly inside one
 * region for r->num entries; -EINVAL before SET_VRING_NUM/ADDR, -EFAULT. */
int vu_ring_geo_get(const struct vu_backend *b, const struct vu_ring *r, struct vu_ring_geo *g);
void vu_regions_unmap(struct vu_backend *b, struct vu_region *rg, unsigned n);
/* SET_MEM_TABLE: payload p (size bytes), one fd per region (not kept). */
int vu_set_mem_table(struct vu_backend *b, const uint8_t *p, uint32_t size, const int *fds,
                     unsigned nfds);
/* ADD_MEM_REG (one fd, not kept) / REM_MEM_REG (payload VU_MEM_REG_BYTES). */
int vu_add_mem_reg(struct vu_backend *b, const uint8_t *p, const int *fds, unsigned nfds);
int vu_rem_mem_reg(struct vu_backend *b, const uint8_t *p, unsigned nfds);

/* ---- vhost_user_inflight.c ---- */

/* GET_INFLIGHT_FD: a new region, its description in r, its fd in r->fd. */
int vu_get_inflight_fd(struct vu_backend *b, const uint8_t *p, uint32_t size,
                       struct vu_reply *r);
/* SET_INFLIGHT_FD: map the frontend's region (fds[0], not kept). */
int vu_set_inflight_fd(struct vu_backend *b, const uint8_t *p, uint32_t size, const int *fds,
                       unsigned nfds);
/* Drop the region (reset, destroy). */
void vu_inflight_drop(struct vu_backend *b);
/* Locked, at a ring start (vu_reload): ring i's tracker recovers if it
 * must; *next_avail becomes used_idx + chains in flight. 0, or -EINVAL
 * (logged): the region is refused. */
int vu_inflight_start(struct vu_backend *b, unsigned i, uint16_t used_idx, uint16_t *next_avail);
/* The same for a packed ring: st's positions and wrap counters become the
 * region's (the used position after what completed, the avail position
 * past every chain in flight: resubmitted from the region's copies). */
int vu_inflight_start_packed(struct vu_backend *b, unsigned i, struct vdq_state *st);
/* Locked, after ring i's vdq is rebuilt: put its tracker back on it;
 * started: at a start, after vu_inflight_start (the recovery is done). */
void vu_inflight_attach(struct vu_backend *b, unsigned i, struct vdq *q, bool started);

/* ---- vhost_user_log.c ---- */

/* SET_LOG_BASE (log description payload, fds[0] mapped, not kept). */
int vu_set_log_base(struct vu_backend *b, const uint8_t *p, uint32_t size, const int *fds,
                    unsigned nfds);
/* SET_LOG_FD: checked, the eventfd not used (closed by the caller). */
int vu_set_log_fd(struct vu_backend *b, unsigned nfds);
/* Logging on iff VHOST_F_LOG_ALL acked and a log mapped; the rings' used
 * logging as SET_VRING_ADDR said. Puts a running device to sleep across
 * the change (nothing logs meanwhile) and wakes it. */
void vu_log_update(struct vu_backend *b);
/* Locked, after ring i's vdq is rebuilt: its used-area logging. */
void vu_log_attach(struct vu_backend *b, unsigned i, struct vdq *q);
/* Unmap the log (destroy). */
void vu_log_drop(struct vu_backend *b);

/* ---- vhost_user_vring.c ---- */

/* The register file's interrupt hook (vu_attach): signal the call fds. */
void vu_irq_hook(struct vmmio *m, uint32_t int_status, void *ctx);
void vu_queue_irq_hook(struct vmmio *m, unsigned qi, void *ctx);
/* Its broken hook: ring qi is corrupt; signal its err fd, log one line. */
void vu_broken_hook(struct vmmio *m, unsigned qi, const char *why, uint32_t va, uint32_t vb,
                    void *ctx);
/* Process the device's queues until nothing is pending; chains completed. */
int vu_process(struct vu_backend *b);
/* Rebuild every queue's vdq over b->mem; set_base: at the frontend's
 * indices (a start). Validates every queue before changing any; on failure
 * *bad_ring (may be NULL) is the ring refused, or -1. */
int vu_reload(struct vu_backend *b, bool set_base, int *bad_ring);
/* Bring the device in line with the rings (the invariant in vhost_user.h). */
int vu_update(struct vu_backend *b);
/* Rings that are started, enabled and set up: what the device runs with. */
uint32_t vu_active_mask(const struct vu_backend *b);
/* Ring index -> ring, NULL (logged) when out of range. */
struct vu_ring *vu_ring_of(struct vu_backend *b, uint64_t index);
int vu_set_vring_num(struct vu_backend *b, struct vu_ring *r, uint32_t num);
int vu_set_vring_addr(struct vu_backend *b, const uint8_t *p);
/* Did the frontend ack VIRTIO_F_RING_PACKED (the rings' layout)? */
bool vu_is_packed(const struct vu_backend *b);
/* SET_VRING_BASE num for r, checked against the acked layout (and r's size
 * when known): -EINVAL (logged) when r is started or num is out of range. */
int vu_set_vring_base(struct vu_backend *b, struct vu_ring *r, uint32_t num);
/* GET_VRING_BASE: stops r if started; *base is its vring base (split: next
 * avail index; packed: the VU_PACKED_* encoding). */
int vu_get_vring_base(struct vu_backend *b, struct vu_ring *r, uint32_t *base);
/* SET_VRING_KICK/CALL/ERR with u64 v; *used_fds: how many of fds it kept. */
int vu_set_vring_fd(struct vu_backend *b, uint32_t req, uint64_t v, const int *fds, unsigned nfds,
                    unsigned *used_fds);
/* Every ring closed and cleared (all fds -1). */
void vu_rings_reset(struct vu_backend *b);
/* RESET_DEVICE / RESET_OWNER: every ring stopped, the device reset. */
void vu_device_reset(struct vu_backend *b);
/* SET_DEVICE_STATE_FD (payload p, fd consumed) and CHECK_DEVICE_STATE. */
int vu_set_device_state_fd(struct vu_backend *b, const uint8_t *p, int fd);
int vu_check_device_state(struct vu_backend *b);

#endif
