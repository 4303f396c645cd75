/* SPDX-License-Identifier: Apache-2.0 */
/*
 * virtqueue.h - driver side of a split virtqueue (virtio 1.2 section 2.7)
 * or a packed one (2.8, vq_config.packed),
 * with an API named after Linux's virtqueue_* so kernel people feel at home.
 *
 * Concurrency: a virtqueue has one user at a time. The caller serialises
 * every call on one queue (a lock, or one CPU/thread owning it); the device
 * runs concurrently on the other side of the shared rings.
 *
 * Errors: 0 or a negative errno. Once the device has shown an impossible
 * value (used id out of range or not in flight, used len larger than the
 * chain's writable bytes, used idx moving more than the queue size) the
 * queue is broken: every later call that talks to the device returns -EIO
 * (or false/NULL where the Linux shape has no error), until vq_destroy().
 *
 * Typical use:
 *     vq_add_sgs(vq, sgs, n_out, n_in, token);  ... more adds ...
 *     if (vq_kick_prepare(vq)) vq_notify(vq);
 *     ... interrupt ...
 *     while (vq_get_buf(vq, &token, &len) == 0) complete(token, len);
 */
#ifndef RINGLOOP_VIRTQUEUE_H
#define RINGLOOP_VIRTQUEUE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "virtio_ring.h"

struct virtqueue;

/* One scatter-gather segment: driver memory the device can reach
 * (virt_to_dma() must translate it). */
struct vq_sg {
    void *buf;
    uint32_t len;
    uint32_t pad;
};

struct vq_config {
    /* Queue size: split, a power of two 1..32768; packed, any 1..32768;
     * else -EINVAL. */
    uint32_t num;
    /* VIRTIO_F_RING_PACKED negotiated: a packed ring (2.8,
     * virtqueue_packed.c) behind this same API; vq_get_ring_addrs() then
     * gives descriptor ring, driver and device event suppression areas. */
    bool packed;
    bool event_idx;        /* VIRTIO_F_EVENT_IDX negotiated */
    bool indirect;         /* VIRTIO_F_INDIRECT_DESC negotiated */
    uint16_t indirect_max; /* segments per indirect table (0: 16) */
    /* Publish avail->idx once per burst, in vq_kick_prepare(), instead of
     * on every add (DPDK-style): fewer index-line transfers; the device
     * sees added buffers only at the next vq_kick_prepare(). */
    bool publish_on_kick;
    /* For log lines: the device's name (outlives the queue) and the
     * queue's index; NULL: "virtqueue". */
    const char *name;
    uint32_t index;
    uint32_t pad;
    /* Called by vq_notify(): write the transport's doorbell. */
    void (*notify)(struct virtqueue *vq, void *priv);
    void *priv;
};

/* Statistics, private to the driver side. */
struct vq_stats {
    uint64_t adds;
    uint64_t indirect_adds;
    uint64_t kicks;       /* vq_kick_prepare() returned true */
    uint64_t kicks_saved; /* ... returned false (suppressed) */
    uint64_t used;
    /* Checking mode (vq_set_checking): chains bounced, chains whose guard
     * bytes the device changed (a write past the writable buffer), chains
     * with bytes changed at or beyond the used length, chains that went out
     * unchecked (too many segments, no memory). */
    uint64_t check_bounced;
    uint64_t check_overruns;
    uint64_t check_past_len;
    uint64_t check_skipped;
};

/*
 * Checking mode, for every queue (`virtio check on|off`; off at start):
 * from the next vq_add_sgs() on, each device-writable segment is bounced
 * through a buffer followed by guard bytes (vq_check.h), and a completion
 * whose device wrote past the writable bytes or past the used length it
 * reported is logged (one line naming device, queue and head) and counted
 * in vq_stats. The request itself completes as usual. Off, it costs one
 * load per add.
 */
void vq_set_checking(bool on);
bool vq_is_checking(void);

int vq_create(const struct vq_config *cfg, struct virtqueue **out);
void vq_destroy(struct virtqueue *vq);

/*
 * Expose sgs[0..out_sgs) as device-readable and sgs[out_sgs..out_sgs+in_sgs)
 * as device-writable, as one chain identified by token (non-NULL).
 * Publishes it in the available ring at once (unless publish_on_kick); the
 * device may see it before any kick. Returns 0, -EINVAL (bad arguments), -ENOSPC (not enough free
 * descriptors), -EIO (broken).
 */
int vq_add_sgs(struct virtqueue *vq, const struct vq_sg *sgs, unsigned out_sgs, unsigned in_sgs,
               void *token);
/* Does the device want a notification for what was added since the last
 * call? Applies EVENT_IDX (2.7.10) or VIRTQ_USED_F_NO_NOTIFY. */
bool vq_kick_prepare(struct virtqueue *vq);
/* Call the notify callback. -EIO when broken. */
int vq_notify(struct virtqueue *vq);
/* vq_kick_prepare() + vq_notify() when needed. */
int vq_kick(struct virtqueue *vq);

/*
 * Take the next used buffer: its token and the bytes the device wrote.
 * Returns 0, -EAGAIN when nothing is used, -EIO when broken (including when
 * this very entry is impossible).
 */
int vq_get_buf(struct virtqueue *vq, void **token, uint32_t *len);
bool vq_has_used(struct virtqueue *vq);
/* used->idx as the device last wrote it, for interrupt-time accounting
 * (storm detection): a load-acquire of the shared index, no state change,
 * no check (the value is only compared with an earlier one). Packed (no
 * used index): a number that changes when buffers were taken or the next
 * descriptor became used. */
uint16_t vq_peek_used_idx(const struct virtqueue *vq);

/* Ask the device not to interrupt (a hint: interrupts may still come). */
void vq_disable_cb(struct virtqueue *vq);
/*
 * Ask for interrupts again, then re-check the used ring (after a full
 * barrier) so that a buffer used while callbacks were off is not lost:
 * returns 0 when the ring is empty, -EAGAIN when used buffers are waiting
 * (the caller must process them; no interrupt is guaranteed for them),
 * -EIO when broken.
 */
int vq_enable_cb(struct virtqueue *vq);
/*
 * Like vq_enable_cb(), but with EVENT_IDX ask for the interrupt only after
 * about 3/4 of the buffers in flight were used (fewer wakeups for a driver
 * that waits for room). Same return values; -EAGAIN when that many are
 * already used. Without EVENT_IDX it is vq_enable_cb().
 */
int vq_enable_cb_delayed(struct virtqueue *vq);

/* After the device was reset: take back one unused chain, its token, or
 * NULL when none is left in flight. */
void *vq_detach_unused(struct virtqueue *vq);

bool vq_is_broken(const struct virtqueue *vq);
unsigned vq_num_free(const struct virtqueue *vq);
uint32_t vq_get_size(const struct virtqueue *vq);
/* Ring addresses for the transport (device-visible). Packed: descriptor
 * ring, Driver Event Suppression (driver area), Device Event Suppression
 * (device area), the same three registers (2.8). */
void vq_get_ring_addrs(const struct virtqueue *vq, uint64_t *desc, uint64_t *avail, uint64_t *used);
const struct vq_stats *vq_get_stats(const struct virtqueue *vq);

#endif
