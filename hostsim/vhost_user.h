/* SPDX-License-Identifier: Apache-2.0 */
/*
 * vhost_user.h - the device side of the vhost-user protocol (QEMU
 * docs/interop/vhost-user.rst, DESIGN.md section 5): one request handler,
 * transport-agnostic. A carrier (a Unix socket with SCM_RIGHTS in the
 * hosted daemon, an in-memory channel in the image) hands it one message at
 * a time (header + payload bytes + the fds that came with it) and sends
 * back the reply it produces, if any.
 *
 * The backend drives a device model (a struct vdev, e.g. vdev_blk_create)
 * through a virtio-mmio register file (hostsim/vmmio.c) that it owns: the
 * frontend's ring setup becomes register writes, so activation, reset and
 * the snapshot codec (hostsim/snapshot.c, the SET_DEVICE_STATE_FD payload)
 * are the ones the loopback transport uses.
 *
 * Invariants:
 *  - the device is awake iff at least one ring is active: started (kick
 *    received, not stopped by GET_VRING_BASE), enabled (rings start
 *    disabled when VHOST_USER_F_PROTOCOL_FEATURES is negotiated) and set
 *    up; it is then activated with exactly the active rings as its ready
 *    queues. Rings the frontend never starts (QEMU starts only those its
 *    guest driver set up) stay out. When the active set changes the device
 *    sleeps and is re-activated with the new set; when every ring is
 *    stopped it is suspended (no guest memory access, no call signalled).
 *  - nothing from the frontend is trusted: header, size, every index,
 *    address, number and fd is checked; frontend addresses are translated
 *    through the memory table with bounds checks; guest memory is touched
 *    only through vdq (hostsim/vdq.c), which checks again.
 *  - the handler owns every fd passed to vu_handle_msg(), whatever the
 *    outcome: it keeps it or closes it through ops->close_fd.
 *  - errors: a request that has a reply of its own (GET_*) and fails closes
 *    the connection; any other failing request gets a non-zero u64 when the
 *    frontend asked for REPLY_ACK (NEED_REPLY with the protocol feature),
 *    else it is logged and ignored. A malformed header, or an unknown
 *    request without REPLY_ACK, closes the connection. Every error logs.
 *
 * Concurrency: vu_handle_msg() calls for one backend are serialised by
 * the carrier (one message thread). vu_kick() / vu_poll() may run on other
 * threads (a carrier's per-ring workers) concurrently with it and with each
 * other: they touch only atomics and the register file. Queue processing
 * runs under the register-file lock, or, after vu_set_concurrent(), under
 * the lock of its own queue (rings served at the same time). Every change
 * the message side makes to queue state or guest memory (memory table,
 * ring starts and stops, reset, state transfer) is made with the device
 * asleep (vmmio_sleep takes every one of those locks, so it waits for
 * processing in progress); the call/err fds the hooks signal are swapped
 * under fd_lock.
 */
#ifndef RINGLOOP_VHOST_USER_H
#define RINGLOOP_VHOST_USER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "vdev.h"
#include "vmmio.h"

/* ---- wire format (all little-endian) ---- */
#define VU_HDR_BYTES 12     /* request u32, flags u32, size u32 */
#define VU_MAX_PAYLOAD 1024 /* largest payload we accept */
#define VU_MAX_MSG (VU_HDR_BYTES + VU_MAX_PAYLOAD)
#define VU_MAX_FDS 8
#define VU_MAX_REGIONS 8 /* VHOST_MEMORY_BASELINE_NREGIONS: SET_MEM_TABLE's most */
/* Regions the table holds, and GET_MAX_MEM_SLOTS' answer: with
 * CONFIGURE_MEM_SLOTS the frontend adds them one by one (ADD_MEM_REG), so
 * memory hotplug is not held to the 8 of SET_MEM_TABLE. */
#define VU_MAX_MEM_SLOTS 32
#define VU_MAX_RINGS VDEV_MAX_QUEUES
#define VU_MAX_CONFIG 256 /* VHOST_USER_MAX_CONFIG_SIZE */

#define VU_FLAG_VERSION 0x1u
#define VU_FLAG_VERSION_MASK 0x3u
#define VU_FLAG_REPLY 0x4u
#define VU_FLAG_NEED_REPLY 0x8u

enum vu_request {
    VU_GET_FEATURES = 1,
    VU_SET_FEATURES = 2,
    VU_SET_OWNER = 3,
    VU_RESET_OWNER = 4,
    VU_SET_MEM_TABLE = 5,
    VU_SET_LOG_BASE = 6,
    VU_SET_LOG_FD = 7,
    VU_SET_VRING_NUM = 8,
    VU_SET_VRING_ADDR = 9,
    VU_SET_VRING_BASE = 10,
    VU_GET_VRING_BASE = 11,
    VU_SET_VRING_KICK = 12,
    VU_SET_VRING_CALL = 13,
    VU_SET_VRING_ERR = 14,
    VU_GET_PROTOCOL_FEATURES = 15,
    VU_SET_PROTOCOL_FEATURES = 16,
    VU_GET_QUEUE_NUM = 17,
    VU_SET_VRING_ENABLE = 18,
    VU_SET_BACKEND_REQ_FD = 21, /* SET_SLAVE_REQ_FD */
    VU_GET_INFLIGHT_FD = 31,
    VU_SET_INFLIGHT_FD = 32,
    VU_GET_CONFIG = 24,
    VU_SET_CONFIG = 25,
    VU_RESET_DEVICE = 34,
    VU_GET_MAX_MEM_SLOTS = 36,
    VU_ADD_MEM_REG = 37,
    VU_REM_MEM_REG = 38,
    VU_SET_DEVICE_STATE_FD = 42,
    VU_CHECK_DEVICE_STATE = 43,
    VU_REQUEST_MAX = 64
};

#define VU_F_PROTOCOL_FEATURES 30 /* virtio feature bit space */
/* vhost-user.rst "Migration": the frontend "may declare the VHOST_F_LOG_ALL
 * vhost feature" (bit 26 of the virtio feature space; not the device's). */
#define VU_F_LOG_ALL 26
/* SET_VRING_ADDR flags: VHOST_VRING_F_LOG, log used ring writes. */
#define VU_VRING_F_LOG 0x1u

enum vu_protocol_feature {
    VU_PF_MQ = 0,
    VU_PF_LOG_SHMFD = 1,
    VU_PF_REPLY_ACK = 3,
    VU_PF_CONFIG = 9,
    VU_PF_INFLIGHT_SHMFD = 12, /* offered when the carrier has shm_create */
    VU_PF_BACKEND_REQ = 5, /* SLAVE_REQ */
    VU_PF_RESET_DEVICE = 13,
    VU_PF_CONFIGURE_MEM_SLOTS = 15,
    VU_PF_DEVICE_STATE = 19,
};

/* Back-end message types (vhost-user.rst "Back-end message types"), sent
 * by the backend on the SET_BACKEND_REQ_FD channel. */
#define VU_BACKEND_CONFIG_CHANGE_MSG 2 /* VHOST_USER_SLAVE_CONFIG_CHANGE_MSG */

/* SET_VRING_KICK/CALL/ERR u64: ring index, and "no fd" (kick: polling). */
#define VU_VRING_IDX_MASK 0xffull
#define VU_VRING_NOFD 0x100ull

/* SET/GET_VRING_BASE num of a packed ring (VIRTIO_F_RING_PACKED acked):
 * vhost-user.rst "Vring descriptor indices for packed virtqueues": "Bits
 * 0-14: Index of the next *Available Ring* descriptor that the back-end
 * will process [...] Bit 15: Driver (Available) Ring Wrap Counter - Bits
 * 16-30: Index of the entry in the *Used Ring* where the back-end will
 * place the next descriptor [...] Bit 31: Device (Used) Ring Wrap
 * Counter". Both indices are ring offsets (0..size-1) with their wrap
 * counters, as QEMU keeps them (hw/virtio/virtio.c
 * virtio_queue_packed_{get,set}_last_avail_idx: last_avail_idx and
 * used_idx, which wrap at vring.num and flip the counters); a fresh
 * packed ring starts at VU_PACKED_BASE_RESET (2.8.1: both counters 1).
 * (The document calls both indices "free-running"; with 15 bits and sizes
 * up to 32768 only the offset reading is consistent, and it is what QEMU
 * sends. QEMU 7.2 masks the used half with 0x7ffff, a typo fixed in 2023,
 * so its used_idx keeps the wrap bit; the 32 bits it sends back are the
 * ones we gave, which is all we rely on.)
 * A split ring's num is the 16-bit next avail index alone. */
#define VU_PACKED_IDX_MASK 0x7fffu
#define VU_PACKED_AVAIL_WRAP (1u << 15)
#define VU_PACKED_USED_SHIFT 16
#define VU_PACKED_USED_WRAP (1u << 31)
#define VU_PACKED_BASE_RESET (VU_PACKED_AVAIL_WRAP | VU_PACKED_USED_WRAP)

/* SET_DEVICE_STATE_FD */
#define VU_STATE_SAVE 0
#define VU_STATE_LOAD 1
#define VU_STATE_PHASE_STOPPED 0
#define VU_STATE_MAX_BYTES (64u << 10) /* device state we accept on LOAD */

/* Payload layouts (byte offsets) */
#define VU_MEM_HDR_BYTES 8     /* nregions u32, padding u32 */
#define VU_MEM_REGION_BYTES 32 /* guest_phys_addr, memory_size, userspace_addr, mmap_offset */
#define VU_MEM_REG_BYTES 40    /* ADD/REM_MEM_REG: padding u64, then one region */
#define VU_STATE_BYTES 8       /* index u32, num u32 */
#define VU_ADDR_BYTES 40       /* index, flags, desc, used, avail, log */
#define VU_CONFIG_HDR_BYTES 12 /* offset, size, flags */
/* Inflight description: mmap_size u64, mmap_offset u64, num_queues u16,
 * queue_size u16; QEMU sends it as its unpacked struct (24 bytes, 4 of
 * tail padding), the spec's fields are 20: both accepted. */
#define VU_INFLIGHT_BYTES 24
#define VU_INFLIGHT_MIN_BYTES 20
#define VU_LOG_BYTES 16 /* log description: mmap_size u64, mmap_offset u64 */

/*
 * What the carrier supplies. fds are whatever the carrier's handles are (an
 * fd on Linux, a small integer in the image); the handler only stores them
 * and passes them back here. None of these may call into vu_*.
 */
struct vu_ops {
    /* Map size bytes of region fd starting at offset; NULL on failure. */
    void *(*map)(void *ctx, int fd, uint64_t offset, uint64_t size);
    void (*unmap)(void *ctx, void *p, uint64_t offset, uint64_t size);
    void (*close_fd)(void *ctx, int fd);
    /* Signal an eventfd (call / err). */
    void (*signal)(void *ctx, int fd);
    /* Device state transfer (SET_DEVICE_STATE_FD): SAVE hands len bytes to
     * the frontend through fd; LOAD reads what the frontend wrote into fd,
     * up to EOF, into buf (at most cap bytes: more is -EFBIG). Both consume
     * fd (close it) and return 0 or -errno. */
    int (*state_put)(void *ctx, int fd, const void *buf, size_t len);
    int (*state_get)(void *ctx, int fd, void *buf, size_t cap, size_t *len);
    /* Shared memory for the frontend to keep (GET_INFLIGHT_FD): size
     * zeroed bytes mapped here (unmap with unmap(p, 0, size)) and the fd
     * to send it by in *fd (the reply carries it: vu_reply.fd). NULL on
     * failure. Optional: without it INFLIGHT_SHMFD is not offered. */
    void *(*shm_create)(void *ctx, uint64_t size, int *fd);
};

struct vu_backend;

/* Reply produced by vu_handle_msg(): len 0 = none. fd >= 0 (only with a
 * reply, only GET_INFLIGHT_FD): send it with the reply (SCM_RIGHTS); it is
 * the carrier's from then on (close it once sent, or on failure). */
struct vu_reply {
    uint32_t len;
    int fd;
    uint8_t buf[VU_MAX_MSG];
};

struct vu_stats {
    uint64_t messages; /* handled (well-formed header) */
    uint64_t errors;   /* requests refused */
    uint64_t closes;   /* close-the-connection verdicts */
    uint64_t kicks;
    uint64_t calls; /* call fd signalled */
    uint64_t starts, stops;
    uint64_t ring_errors; /* rings found corrupt while running (err fd signalled) */
    /* INFLIGHT_SHMFD: chains found in flight by a recovery (handed out
     * again before anything new), and recoveries done. */
    uint64_t inflight_resubmitted;
    uint64_t inflight_recoveries;
    /* Dirty log: pages the device wrote past the frontend's log (not
     * marked: its log was too small). */
    uint64_t log_dropped;
};

/* ops/ctx as above; the backend starts with no device (vu_attach). */
int vu_create(const struct vu_ops *ops, void *ctx, struct vu_backend **out);
/* The guest memory the device model must be created over: create the model
 * with it (e.g. vdev_blk_create(dev, vu_guest_mem(b), ...)), then attach.
 * Its region table lives in the backend and is filled by SET_MEM_TABLE. */
const struct vdq_mem *vu_guest_mem(const struct vu_backend *b);
/* Put dev behind the backend (it starts asleep); once, before any message. */
int vu_attach(struct vu_backend *b, struct vdev *dev);
/* Close every fd, unmap guest memory, free the register file; the vdev
 * stays the caller's (vdev_destroy it afterwards). NULL is fine. */
void vu_destroy(struct vu_backend *b);

/*
 * Handle one message: msg is header + payload (len bytes), fds the nfds
 * handles that came with it (owned by the handler from now on). Returns 0
 * (send r->len bytes back if r->len > 0) or a negative errno: close the
 * connection (a line was logged saying why).
 */
int vu_handle_msg(struct vu_backend *b, const void *msg, size_t len, const int *fds, unsigned nfds,
                  struct vu_reply *r);

/* The kick fd of ring i fired (or a polled ring may have work): process
 * the device's queues; returns chains completed (0 when asleep). */
int vu_kick(struct vu_backend *b, unsigned ring);
/* For a carrier with a thread per ring: from now on vu_kick(b, i)
 * processes ring i alone, under that queue's lock, so rings are served at
 * the same time (vmmio_set_concurrent; the handler keeps its promise by
 * changing queue state only with the device asleep). After vu_attach,
 * before any message; 0 or -ENOMEM. */
int vu_set_concurrent(struct vu_backend *b);
/* As vu_kick, for work that is not a kick (not counted as one): an
 * asynchronous completion, or a busy-poll of the ring. */
int vu_service(struct vu_backend *b, unsigned ring);
/* The carrier busy-polls ring (vdev_set_polling): its processing leaves
 * the driver's notifications off until this is turned off again and the
 * ring is processed once more (vu_service), which re-enables them. */
void vu_set_polling(struct vu_backend *b, unsigned ring, bool on);
/* Process every ring whose kick is polled (SET_VRING_KICK with no fd). */
int vu_poll(struct vu_backend *b);

/* For the carrier's poll set: the kick handle of ring i, or -1. Message
 * thread only (it changes with SET_VRING_KICK / GET_VRING_BASE). */
int vu_ring_kick_fd(const struct vu_backend *b, unsigned ring);
/* The back-end request channel (SET_BACKEND_REQ_FD, with its protocol
 * feature negotiated), or -1: the carrier sends VU_BACKEND_* messages
 * there (vuf_backend_config_change). Message thread only. */
int vu_backend_req_fd(const struct vu_backend *b);
/* Ring i started with no kick fd (polled); message thread only. */
bool vu_ring_is_polled(const struct vu_backend *b, unsigned ring);
unsigned vu_num_rings(const struct vu_backend *b);
bool vu_is_running(const struct vu_backend *b);
struct vmmio *vu_vmmio(struct vu_backend *b);
void vu_get_stats(const struct vu_backend *b, struct vu_stats *st);
const char *vu_request_name(uint32_t request);

#endif
