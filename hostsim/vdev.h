/* SPDX-License-Identifier: Apache-2.0 */
/*
 * vdev.h - a device model on the device side (hostsim/), in the shape of
 * Firecracker's VirtioDevice: the generic state every virtio device has
 * (available/acked features, queues, interrupt status, activated) plus an
 * ops table each model (blk, net, rng, console, pmem) fills in.
 *
 * The transport in front of it (hostsim/vmmio.c, a virtio-mmio v2 register
 * file) owns the register-level state and calls into this API; a snapshot
 * (issue 6) saves exactly these fields. Device models never see the
 * transport: they pop chains from their queues, complete them, and call
 * vdev_signal_used() when they have pushed something.
 *
 * Concurrency: all vdev_* calls for one device are serialised by the
 * caller (the transport's lock); the driver runs concurrently on the other
 * side of the rings.
 */
#ifndef RINGLOOP_VDEV_H
#define RINGLOOP_VDEV_H

#include <stdbool.h>
#include <stdint.h>

#include "vdq.h"
#include "virtio_config.h"

#define VDEV_MAX_QUEUES 8
/* Segments one popped chain may have (a device limit; more is a bad chain,
 * VDQ_BAD_TOO_MANY_SEGS). blk's seg_max is derived from it. */
#define VDEV_MAX_IOV 256

struct vdev;
struct hostile;

struct vdev_queue_stats {
    uint64_t requests;   /* chains completed (good ones) */
    uint64_t kicks;      /* driver notifications received */
    uint64_t interrupts; /* used-buffer interrupts raised */
    uint64_t bad_chains; /* chains refused (vdq policy) + requests the model refused */
};

struct vdev_queue {
    /* Set up by the driver through the transport, kept for snapshots. */
    uint16_t max_size;
    uint16_t size;
    bool ready;
    uint8_t pad[3];
    uint64_t desc_gpa, avail_gpa, used_gpa;
    struct vdq q; /* valid while the device is activated */
    struct vdev_queue_stats stats;
};

struct vdev_ops {
    const char *type;   /* "blk", "net", "rng", "console", "pmem" */
    uint32_t device_id; /* VIRTIO_ID_* */
    uint16_t num_queues;
    uint16_t queue_max_size;
    uint32_t config_size; /* bytes of device config space */
    /* Config space access; offsets/lengths already bounds-checked. */
    void (*read_config)(struct vdev *d, uint32_t off, void *buf, uint32_t len);
    void (*write_config)(struct vdev *d, uint32_t off, const void *buf, uint32_t len);
    /* Queues are set up and features acked; return 0 or -errno (the
     * transport then sets DEVICE_NEEDS_RESET). */
    int (*activate)(struct vdev *d);
    /* Back to the just-created state (device content such as a RAM disk
     * survives; in-flight chains are dropped). */
    void (*reset)(struct vdev *d);
    /* Handle what queue qi has available; returns chains completed or -EIO. */
    int (*process_queue)(struct vdev *d, unsigned qi);
    /* Free the model state (priv); may be NULL. */
    void (*destroy)(struct vdev *d);
    /*
     * Snapshot (issue 6, hostsim/snapshot*.c); all may be NULL (no
     * device-specific state). The model's state is a blob in explicit
     * little-endian encoding (hostsim/snap_le.h), exactly state_size()
     * bytes. state_check() looks at an untrusted blob without changing
     * anything and returns NULL or the reason it is refused; state_load()
     * is called only after state_check() passed and cannot fail. content()
     * exposes bulk device content (RAM disk, pmem region) that a snapshot
     * may carry as an optional section: a pointer and its length, or NULL.
     */
    uint32_t (*state_size)(const struct vdev *d);
    void (*state_save)(const struct vdev *d, uint8_t *out);
    const char *(*state_check)(const struct vdev *d, const uint8_t *p, uint32_t len);
    void (*state_load)(struct vdev *d, const uint8_t *p, uint32_t len);
    void *(*content)(const struct vdev *d, uint64_t *len);
    /* May be NULL. Chains the model completes later (VDEV_CHAIN_PENDING,
     * asynchronous storage) must be finished before the device sleeps:
     * vdev_sleep() calls this first (with every queue's processing
     * excluded, vmmio_sleep), and it returns once none is in flight. */
    void (*quiesce)(struct vdev *d);
};

/* Who to tell when the device wants an interrupt (set by the transport). */
typedef void (*vdev_irq_fn)(struct vdev *d, uint32_t int_status_bits, void *ctx);
/* Optional, same rules: a used-buffer interrupt that queue qi asked for
 * (vdev_signal_used), for a transport with one interrupt per queue (a
 * vhost-user call eventfd per ring). NULL: irq gets it, queue unnamed. */
typedef void (*vdev_irq_queue_fn)(struct vdev *d, unsigned qi, void *ctx);

struct vdev {
    const struct vdev_ops *ops;
    void *priv;                /* model state */
    uint64_t avail_features;   /* offered by the device */
    uint64_t acked_features;   /* written by the driver */
    uint32_t interrupt_status; /* VIRTIO_INT_* bits not yet acked */
    bool activated;
    bool needs_reset; /* DEVICE_NEEDS_RESET raised */
    /* Asleep (crosvm's sleep): no queue work, no guest memory writes, no
     * interrupts sent; written under the transport's lock, read lock-free
     * by the transport's fast paths (atomic). */
    bool sleeping;
    uint8_t pad[1];
    struct vdev_queue queues[VDEV_MAX_QUEUES];
    struct vdq_mem mem; /* guest memory the rings and buffers live in */
    vdev_irq_fn irq;
    vdev_irq_queue_fn irq_queue;
    void *irq_ctx;
    /* Queues whose vdev_queue_drain() stopped at its budget with chains
     * possibly left: the transport marks them pending again. Atomic (queues
     * may be processed at the same time, vmmio_set_concurrent). */
    uint32_t more_work;
    /* Queues the carrier is busy-polling (vdev_set_polling): their drains
     * end with driver notifications still off. Atomic. */
    uint32_t polling;
    /* Misbehave on purpose (hostsim/hostile.h); NULL: a well-behaved device.
     * Set by the owner after creation, under the transport's lock. */
    struct hostile *hostile;
    /* Scratch for the chain being handled (vdev_queue_drain()). */
    struct vdq_iov iov[VDEV_MAX_IOV];
    /* Optional per-queue scratch (VDEV_MAX_IOV each), set by a transport
     * that processes queues at the same time (vmmio_set_concurrent): queue
     * qi's chains use qiov[qi] instead of iov. NULL: iov. */
    struct vdq_iov *qiov[VDEV_MAX_QUEUES];
};

/*
 * Handle one popped chain: set *written to the bytes written into its
 * device-writable part (the used length). Return true when the request was
 * malformed (counted in bad_chains; the chain is still returned with
 * *written), false for a good request (counted in requests).
 */
/* *written for a chain the model keeps (asynchronous I/O): the drain does
 * not push it; the model does later, vdev_queue_push() + vdev_signal_used(),
 * under the queue's lock like any processing. */
#define VDEV_CHAIN_PENDING 0xffffffffu
typedef bool (*vdev_chain_fn)(struct vdev *d, unsigned qi, const struct vdq_chain *c,
                              uint32_t *written);

void vdev_init(struct vdev *d, const struct vdev_ops *ops, void *priv, uint64_t features,
               const struct vdq_mem *mem);
/* Activate: builds each ready queue's vdq from the saved addresses (with
 * EVENT_IDX/INDIRECT from the acked features) and calls ops->activate. */
int vdev_activate(struct vdev *d);
void vdev_reset(struct vdev *d);
/* After pushing to queue qi: raise an interrupt if the driver wants one. */
void vdev_signal_used(struct vdev *d, unsigned qi);
void vdev_signal_config(struct vdev *d);
/* Offer VIRTIO_F_RING_PACKED (virtio 1.2 2.8) or stop offering it; off by
 * default. Call after the model's create and before the driver negotiates
 * (a reset keeps it). When the driver acks it, vdev_activate() builds
 * packed vdqs (hostsim/vdq_packed.c); queue sizes then need not be powers
 * of two and must be <= VDQ_PACKED_IDS_INLINE. Snapshots carry packed
 * queues from format 1.1 (snapshot.h). */
void vdev_set_offer_packed(struct vdev *d, bool on);
/* Is bit in the features the driver acked? */
bool vdev_has_feature(const struct vdev *d, unsigned bit);
/* Frees the model state through ops->destroy; d may be reused after. */
void vdev_destroy(struct vdev *d);
/* Activated, awake and queue qi set up by the driver: its vdq may be used
 * (false while asleep: that is how the models stop touching guest memory). */
bool vdev_is_queue_live(const struct vdev *d, unsigned qi);
/* Activated and queue qi set up: its vdq holds state (asleep or not). */
bool vdev_has_queue_state(const struct vdev *d, unsigned qi);
/* Sleep / wake (serialised like every vdev call). Asleep, no queue is
 * processed, nothing is written to guest memory and vdev_signal_*() only
 * set InterruptStatus bits (the irq callback is still called so the
 * transport can keep its state; vmmio holds the interrupt until wake).
 * Waking re-enables driver notifications on every live queue (re-publishes
 * avail_event with EVENT_IDX, clears NO_NOTIFY otherwise); the caller then
 * processes every queue once. */
void vdev_sleep(struct vdev *d);
void vdev_wake(struct vdev *d);
bool vdev_is_asleep(const struct vdev *d);
/*
 * The usual device loop over queue qi: with driver kicks disabled, pop every
 * available chain, hand it to fn, push it with the length fn reports; then
 * signal the driver (vdev_signal_used) and re-enable kicks with the re-check
 * (vdq_enable_notify) so that a chain published meanwhile is not missed.
 * At most one queue size of chains per call: then it stops with kicks
 * still disabled and sets bit qi in d->more_work, so the caller (the
 * transport) releases its lock and comes back. Returns chains completed
 * (good + bad) or -EIO when the ring is corrupt.
 */
int vdev_queue_drain(struct vdev *d, unsigned qi, vdev_chain_fn fn);
/* Queue qi is (no longer) busy-polled by its carrier: while it is, drains
 * leave driver notifications disabled (2.7.10: a hint the driver may
 * ignore) instead of re-enabling them; after turning it off the caller
 * processes the queue once, which re-enables them with the re-check. */
void vdev_set_polling(struct vdev *d, unsigned qi, bool on);
/*
 * The device-to-driver direction (net receiveq, console receiveq): while
 * has_data(d) says the model holds something for the driver, pop a chain,
 * let fn fill it, push it; then signal the driver. If data is left because
 * the driver posted no buffers, ask for a kick (vdq_enable_notify) and
 * re-check, so buffers added meanwhile are used now and later ones kick us.
 * Returns chains completed or -EIO when the ring is corrupt.
 */
int vdev_queue_deliver(struct vdev *d, unsigned qi, bool (*has_data)(struct vdev *d),
                       vdev_chain_fn fn);
/* For models with their own loop: vdq_pop() into d->iov, counting the bad
 * chains vdq returned on the way; and vdq_push() counting the request as
 * good or bad. Same return values as vdq_pop()/vdq_push(). */
int vdev_queue_pop(struct vdev *d, unsigned qi, struct vdq_chain *c);
int vdev_queue_push(struct vdev *d, unsigned qi, uint16_t head, uint32_t written, bool is_bad);

#endif
