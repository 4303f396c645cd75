/* SPDX-License-Identifier: Apache-2.0 */
/*
 * hostile.h - the device model as a hostile peer (issue 10 section 3,
 * DESIGN.md 8): a catalogue of named misbehaviours that any device model
 * (blk, net, rng, console, pmem) can be told to commit, reproducibly, so a
 * driver author can see what their driver does against each one.
 *
 * A struct hostile is attached to a vdev (d->hostile; NULL: a well-behaved
 * device) and consulted from a few hook points, each one call:
 *   vdev_queue_drain/deliver  hostile_chain()   data, lengths, status byte
 *   vdev_queue_push           hostile_push()    used ids, used idx, never/late
 *   vdev_signal_used          hostile_signal()  storms, lost/unwanted irqs
 *   vdev_raise                hostile_raise()   InterruptStatus misrouting
 *   vdev_reset                hostile_reset()   stale ids, per-session state
 *   vmmio register reads      hostile_reg_read() Status, ConfigGeneration, QueueNumMax
 *   vmmio config reads        hostile_config_read() capacity
 *
 * Parameters: after N (serve N requests well first), count K (misbehave K
 * times, then behave; 0: for ever), seed S (the random choices come from a
 * splitmix64 stream seeded with S: the same seed, the same misbehaviour).
 * A "request" is a chain the model completed (one used element it meant to
 * push); register/config modes count their firings the same way but only
 * start once N requests were served.
 *
 * Concurrency: every hook runs serialised with the device (the transport's
 * lock); hostile_set() must be called the same way (vmmio_run_locked()).
 */
#ifndef RINGLOOP_HOSTILE_H
#define RINGLOOP_HOSTILE_H

#include <stdbool.h>
#include <stdint.h>

#include "vdq.h"

struct vdev;

enum hostile_mode {
    HOSTILE_OFF,
    /* used ring contents */
    HOSTILE_USED_ID_RANGE,
    HOSTILE_USED_ID_NOT_HEAD,
    HOSTILE_USED_ID_DUP,
    HOSTILE_USED_ID_STALE,
    HOSTILE_USED_LEN_OVER,
    HOSTILE_USED_LEN_UNDER,
    /* used ring index */
    HOSTILE_USED_IDX_JUMP,
    HOSTILE_USED_IDX_BACK,
    HOSTILE_USED_IDX_EARLY,
    /* completion */
    HOSTILE_NEVER_COMPLETE,
    HOSTILE_COMPLETE_LATE,
    /* interrupts */
    HOSTILE_IRQ_STORM,
    HOSTILE_IRQ_LOST,
    HOSTILE_IRQ_UNSUPPRESSED,
    /* buffers */
    HOSTILE_STATUS_GARBAGE,
    HOSTILE_DATA_CORRUPT,
    HOSTILE_WRITE_PAST,
    HOSTILE_WRITE_READABLE,
    /* device status, config, features, queues (virtio-mmio register file) */
    HOSTILE_NEEDS_RESET,
    HOSTILE_CONFIG_GEN_CHURN,
    HOSTILE_CAPACITY_SILENT,
    HOSTILE_FEATURES_WITHDRAWN,
    HOSTILE_QUEUE_SIZE_CHANGE,
    /* transport */
    HOSTILE_ISR_MISROUTE,
    HOSTILE_ISR_SPURIOUS_CONFIG,
    HOSTILE_NMODES
};

/* Where a mode can act (hostile_info().where). */
#define HOSTILE_AT_RING 1u /* any queue of any model: the vhost-user daemon too */
#define HOSTILE_AT_MMIO 2u /* needs the virtio-mmio register file (in-image loopback) */
#define HOSTILE_AT_BLK 4u  /* virtio-blk only */

struct hostile_info {
    const char *name;
    const char *desc; /* one line */
    unsigned where;   /* HOSTILE_AT_* */
};

struct hostile_cfg {
    uint32_t mode;  /* enum hostile_mode */
    uint32_t after; /* requests served well first */
    uint32_t count; /* misbehaviours, then behave; 0: no limit */
    uint32_t pad;
    uint64_t seed;
};

/* A chain held back by complete-late, pushed once due. */
struct hostile_late {
    uint64_t due_ns;
    uint16_t qi;
    uint16_t head;
    uint32_t len;
};

#define HOSTILE_MAX_LATE 64
#define HOSTILE_MAX_QUEUES 8

struct hostile {
    struct hostile_cfg cfg;
    uint64_t rng;      /* splitmix64 state */
    uint64_t served;   /* requests seen since hostile_set() */
    uint64_t fired;    /* misbehaviours committed since hostile_set() */
    uint32_t sessions; /* device resets since hostile_set() */
    uint32_t gen_skew; /* config-gen-churn: added to ConfigGeneration */
    bool needs_reset;  /* needs-reset raised this session */
    uint8_t pad[3];
    uint32_t nlate;
    struct hostile_late late[HOSTILE_MAX_LATE];
    /* Per queue: the last head pushed (used-id-stale) and, for used-idx-early,
     * the element still to be written at the next push. */
    struct {
        uint32_t last_head, last_len;
        bool has_last;  /* last_head from this session */
        bool has_stale; /* a head from before the last reset */
        bool early;     /* an element published before written */
        uint8_t pad;
        uint32_t stale_head, stale_len;
        uint32_t early_slot, early_head, early_len;
    } q[HOSTILE_MAX_QUEUES];
};

const struct hostile_info *hostile_info(unsigned mode); /* NULL past the end */
/* Mode by name ("off" is HOSTILE_OFF), or -1. */
int hostile_find(const char *name);
/*
 * "MODE[,after=N][,count=K][,seed=S]" (numbers decimal or 0x hex) into cfg.
 * 0, or -EINVAL with a reason in why (why may be NULL).
 */
int hostile_parse(const char *spec, struct hostile_cfg *cfg, const char **why);
/* Start over with cfg (counters, PRNG, per-session state cleared; chains held
 * by complete-late stay held and are still completed). */
void hostile_set(struct hostile *h, const struct hostile_cfg *cfg);
/* Every mode's name, one per line "name - description", through fn. */
void hostile_list(void (*fn)(const struct hostile_info *info, void *ctx), void *ctx);
/* The splitmix64 step the random modes use (exposed for the tests). */
uint64_t hostile_next(struct hostile *h);

/* ---- hooks (d->hostile may be NULL: then each is a no-op / pass-through) ---- */

/* A chain the model handled, written bytes into its writable part: returns
 * the used length to push (data, length and status modes act here). */
uint32_t hostile_chain(struct vdev *d, unsigned qi, const struct vdq_chain *c, uint32_t written);
/* Instead of vdq_push(): 1 when the hostile device did the push (or chose
 * not to complete), 0 when the caller pushes as usual; -EIO broken. */
int hostile_push(struct vdev *d, unsigned qi, uint16_t head, uint32_t written);
/* Instead of vdq_interrupt_prepare(): how many used-buffer interrupts to
 * raise now (0, 1 or a storm); completes due late chains first. */
unsigned hostile_signal(struct vdev *d, unsigned qi);
/* The device is about to sleep (vdev_sleep, every queue locked): every
 * chain complete-late holds is pushed and signalled now. */
void hostile_quiesce(struct vdev *d);
/* InterruptStatus bits to raise for bits. */
uint32_t hostile_raise(struct vdev *d, uint32_t bits);
/* After the device reset. */
void hostile_reset(struct vdev *d);
/* A control register's value as the hostile device reports it. */
uint32_t hostile_reg_read(struct vdev *d, uint32_t offset, uint32_t v);
/* Config bytes [off, off+len) already in buf, as reported. */
void hostile_config_read(struct vdev *d, uint32_t off, void *buf, uint32_t len);

#endif
