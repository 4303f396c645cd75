/* SPDX-License-Identifier: Apache-2.0 */
/*
 * virtio.h - the virtio core, driver side: one ops table every transport
 * (loopback, PCI modern, MMIO) implements, the device object drivers work
 * on, device initialisation (VIRTIO 1.2 3.1.1), feature negotiation (2.2),
 * config-space reads with generation checks (2.5, 4.2.2), interrupt
 * dispatch, and a registry of devices for the shell.
 *
 * Drivers include this header and virtqueue.h, nothing else of a transport.
 *
 * Invariants:
 *  - dev->features is a subset of what the device offered and of what the
 *    core plus the driver accept, always contains VIRTIO_F_VERSION_1 once
 *    virtio_device_init() succeeded; VIRTIO_F_RING_PACKED only when asked
 *    for (dev->want_packed or virtio_set_packed_default()).
 *  - vqs[0..nvqs) are set up (vq_create + queue_setup + queue_enable) or
 *    nvqs is 0; virtio_del_vqs() destroys them only after a reset, so the
 *    device never touches freed rings.
 *  - Completion model: an interrupt only *wakes*: virtio_handle_interrupt()
 *    bumps the per-queue irq_count and calls the driver's queue callback,
 *    which must be short and lock-free (it may run in interrupt context or
 *    on another thread). Drivers take used buffers in thread context, under
 *    their own lock, through virtio_vq_wait(). In polled mode callbacks are
 *    disabled on every queue and virtio_vq_wait() spins on the used ring.
 *
 * Concurrency: init/teardown of one device is single-threaded; the
 * registry is not locked (devices are registered at boot / test setup).
 */
#ifndef RINGLOOP_VIRTIO_H
#define RINGLOOP_VIRTIO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "virtio_config.h"
#include "virtqueue.h"

#define VIRTIO_MAX_VQS 8
#define VIRTIO_NAME_MAX 16
/* Bounds for the waits the core does on the device's behalf. */
#define VIRTIO_RESET_TIMEOUT_NS 100000000ull /* 100 ms for status to read 0 */
#define VIRTIO_CONFIG_RETRIES 64             /* config generation changes */
/*
 * Interrupt storms (virtio_vqs_interrupt()). An interrupt whose queues show
 * no used-ring progress since the previous interrupt is a "no-progress"
 * interrupt. A healthy device produces at most a few in a row (two
 * notifications racing over one used->idx update, an MSI-X message left
 * pending across a mask); VIRTIO_IRQ_STORM_RUN in a row is no race but a
 * device raising its line for nothing. 1000 is far above any race we can
 * build and still small: under TCG one loopback interrupt costs CPU 0 some
 * 10-50 us, so a run costs it at most ~50 ms before the source is masked
 * (Linux's spurious-IRQ detector, kernel/irq/spurious.c, waits for 99,900
 * unhandled of 100,000 and then disables the line for good; we mask for a
 * while instead and keep the queue completing by polling). The mask lasts
 * VIRTIO_IRQ_STORM_MASK_NS, doubled on every storm that follows without
 * progress in between, up to VIRTIO_IRQ_STORM_MASK_MAX_NS, so a device that
 * storms forever gets CPU 0 for a few percent of the time at most.
 */
#define VIRTIO_IRQ_STORM_RUN 1000u
#define VIRTIO_IRQ_STORM_MASK_NS 10000000ull       /* 10 ms */
#define VIRTIO_IRQ_STORM_MASK_MAX_NS 1000000000ull /* 1 s */
#define VIRTIO_IRQ_STORM_LOG_NS 1000000000ull      /* at most one storm line per second */

struct virtio_device;
struct virtio_driver;

/*
 * What a transport provides. Everything may sleep/spin briefly but never
 * blocks forever. Queue indices are < VIRTIO_MAX_VQS.
 */
struct virtio_transport_ops {
    const char *name; /* "loopback", "pci", "mmio" */
    uint64_t (*get_features)(struct virtio_device *dev);
    void (*set_features)(struct virtio_device *dev, uint64_t features);
    uint8_t (*get_status)(struct virtio_device *dev);
    void (*set_status)(struct virtio_device *dev, uint8_t status);
    /* Write 0 to status and wait (bounded) until it reads 0 (4.2.3.1):
     * 0 or -ETIMEDOUT. */
    int (*reset)(struct virtio_device *dev);
    uint32_t (*config_generation)(struct virtio_device *dev);
    void (*read_config)(struct virtio_device *dev, uint32_t off, void *buf, uint32_t len);
    void (*write_config)(struct virtio_device *dev, uint32_t off, const void *buf, uint32_t len);
    /* Largest size the device allows for queue q; 0: no such queue. */
    uint32_t (*queue_max)(struct virtio_device *dev, unsigned q);
    int (*queue_setup)(struct virtio_device *dev, unsigned q, uint32_t size, uint64_t desc,
                       uint64_t avail, uint64_t used);
    int (*queue_enable)(struct virtio_device *dev, unsigned q);
    int (*queue_reset)(struct virtio_device *dev, unsigned q); /* optional (NULL) */
    void (*notify)(struct virtio_device *dev, unsigned q);
    /* Read the interrupt status (ISR) bits and acknowledge them. */
    uint32_t (*interrupt_ack)(struct virtio_device *dev);
    /* Optional (PCI MSI-X): route queue q (or the config, q == -1) to a
     * vector; NULL for transports with one interrupt. */
    int (*set_vector)(struct virtio_device *dev, int q, uint16_t vector);
    /*
     * Optional (NULL: none), for the hostile-driver tester (hdt.h) only:
     * one raw access of size 1, 2 or 4 bytes at off in a register space
     * (enum virtio_reg_space), with no protocol around it (no select
     * written first, no read-back). The transport checks only that the
     * access stays inside what it mapped; -ENOTSUP: no such space on this
     * transport, -EINVAL: outside the space (or misaligned where the
     * platform cannot issue it). Drivers never use these.
     */
    int (*reg_read)(struct virtio_device *dev, unsigned space, uint32_t off, unsigned size,
                    uint32_t *val);
    int (*reg_write)(struct virtio_device *dev, unsigned space, uint32_t off, unsigned size,
                     uint32_t val);
};

/* Register spaces for reg_read / reg_write. */
enum virtio_reg_space {
    VIRTIO_REGS_MMIO,       /* 4.2.2: the whole register window (0x000..0x1ff) */
    VIRTIO_REGS_PCI_COMMON, /* 4.1.4.3: struct virtio_pci_common_cfg */
    VIRTIO_REGS_PCI_NOTIFY, /* 4.1.4.4: the notification region, from cap.offset */
    VIRTIO_REGS_PCI_ISR,    /* 4.1.4.5: the ISR byte(s) */
    VIRTIO_REGS_PCI_DEVICE, /* 4.1.4.6: device-specific configuration */
};

struct virtio_vq {
    struct virtqueue *vq;
    struct virtio_device *dev;
    unsigned index;
    uint32_t size;
    /* Called from virtio_handle_interrupt(); keep it short, no locks. */
    void (*callback)(struct virtio_device *dev, unsigned q);
    uint32_t irq_count; /* bumped (atomically) per used-buffer interrupt */
    /* Storm detection, written by virtio_vqs_interrupt() (interrupt
     * context); irq_masked / mask_until_ns also by thread context
     * (virtio_vq_storm_poll), atomically. */
    uint16_t irq_used_idx; /* used->idx at the previous interrupt */
    bool irq_masked;       /* the source is masked for a storm */
    uint8_t pad0;
    uint32_t storm_run;          /* no-progress interrupts in a row */
    uint64_t irq_no_progress;    /* no-progress interrupts, total */
    uint64_t irq_storms;         /* times the source was masked */
    uint64_t mask_until_ns;      /* while irq_masked: when to unmask */
    uint64_t mask_ns;            /* length of the next mask (doubles) */
    uint64_t storm_logged_ns;    /* last storm line */
    uint64_t no_progress_logged; /* irq_no_progress at the last storm line */
};

/* What a driver asks for, per queue. */
struct virtio_vq_spec {
    uint32_t max_size; /* 0: whatever the device allows */
    uint32_t pad;
    void (*callback)(struct virtio_device *dev, unsigned q);
};

struct virtio_device {
    char name[VIRTIO_NAME_MAX]; /* "lblk0" */
    uint32_t device_id;         /* VIRTIO_ID_* (0: none) */
    uint32_t nvqs;
    const struct virtio_transport_ops *ops;
    void *transport_priv;
    uint64_t device_features; /* offered (read at init) */
    uint64_t features;        /* negotiated */
    struct virtio_vq vqs[VIRTIO_MAX_VQS];
    bool polled;      /* no interrupts: drivers spin on used rings */
    bool needs_reset; /* DEVICE_NEEDS_RESET seen: I/O fails until re-init */
    /* Test hooks: refuse these features even when offered. */
    bool no_event_idx;
    bool no_indirect;
    /* Opt-in (default off): accept VIRTIO_F_RING_PACKED when the device
     * offers it, and then create packed queues (2.8, any size up to the
     * device's maximum, not rounded to a power of two). Takes effect at
     * the next init, like the hooks above. */
    bool want_packed;
    uint32_t queue_size_limit; /* 0: none; else cap every queue (depth tests) */
    /* Config change (not NEEDS_RESET) from virtio_handle_interrupt(). */
    void (*config_changed)(struct virtio_device *dev);
    const struct virtio_driver *driver; /* the bound driver (virtio_driver.h) */
    void *driver_priv;                  /* its state */
    uint64_t interrupts;                /* virtio_handle_interrupt() calls with bits set */
    uint64_t config_interrupts;
    uint64_t lost_interrupts; /* waits that ended by timeout with the work done */
    /* Used-buffer interrupts per queue, whether or not a virtqueue exists
     * for it (hdt's interrupt oracle sets queues up on rings of its own):
     * bumped for every queue of the source (its MSI-X vector, or all of
     * them on a one-line transport). */
    uint64_t queue_interrupts[VIRTIO_MAX_VQS];
    /* Set by the glue when queues have vectors of their own (MSI-X): the
     * vector handler counts queue_interrupts, the ISR path does not. */
    bool queue_irqs_per_vector;
    /*
     * Optional, set by whoever wired the device's interrupt (the kernel's
     * glue, a test): mask or unmask the interrupt source of queue q (an
     * MSI-X vector, an IOAPIC pin, the loopback IPI line). While masked the
     * source holds what it would have sent and delivers it on unmask.
     * 0, or an error (then the core stops acting on the interrupts but
     * cannot stop them: a "soft" mask). Called from interrupt context
     * (mask) and thread context (unmask).
     */
    int (*irq_mask)(struct virtio_device *dev, unsigned q, bool masked);
    void *irq_mask_ctx; /* irq_mask's own state (the glue's entry for dev) */
    struct virtio_device *next; /* registry link */
};

static inline bool virtio_has_feature(const struct virtio_device *dev, unsigned bit)
{
    return bit < 64 && (dev->features >> bit) & 1;
}

const char *virtio_type_name(uint32_t device_id); /* "blk", "net", ..., "unknown" */

/*
 * 3.1.1 steps 1-6: reset, ACKNOWLEDGE, DRIVER, read the device features,
 * accept (device & (driver_features | the core's)), write them, set
 * FEATURES_OK and re-read it. The core accepts VERSION_1 (required),
 * EVENT_IDX and INDIRECT_DESC (unless the test hooks say no), and
 * RING_PACKED when dev->want_packed or the global default says so. Errors:
 * -ENODEV (no VERSION_1, or FEATURES_OK refused: status FAILED is set),
 * -ETIMEDOUT (reset did not complete).
 */
int virtio_device_init(struct virtio_device *dev, uint64_t driver_features);
/* The global packed-ring knob (default off; `virtio packed on|off` in the
 * shell): on, every device initialised from then on asks for
 * VIRTIO_F_RING_PACKED as if dev->want_packed were set. */
void virtio_set_packed_default(bool on);
bool virtio_packed_default(void);
/* 3.1.1 step 7 (queue part): create and enable queues 0..nvqs. On error
 * every queue created is destroyed again (after a reset). */
int virtio_find_vqs(struct virtio_device *dev, unsigned nvqs, const struct virtio_vq_spec *specs);
/* 3.1.1 step 8: DRIVER_OK. In polled mode, disables every queue's callbacks. */
void virtio_device_ready(struct virtio_device *dev);
/* Set FAILED (3.1.1: "something went wrong"). */
void virtio_device_fail(struct virtio_device *dev);
/* Reset the device (it stops using every ring and buffer). 0 / -ETIMEDOUT. */
int virtio_reset(struct virtio_device *dev);
/* Destroy every queue. Only after virtio_reset() (or before DRIVER_OK). */
void virtio_del_vqs(struct virtio_device *dev);

static inline struct virtqueue *virtio_vq(struct virtio_device *dev, unsigned q)
{
    return q < dev->nvqs ? dev->vqs[q].vq : NULL;
}

/* 2.5.1: read config bytes [off, off+len), retrying while the generation
 * changes. 0 or -EAGAIN (it never settled). */
int virtio_cread(struct virtio_device *dev, uint32_t off, void *buf, uint32_t len);
void virtio_cwrite(struct virtio_device *dev, uint32_t off, const void *buf, uint32_t len);

/*
 * The interrupt entry point (4.2.2 InterruptStatus, 4.1.4.5 ISR): reads and
 * acks the status; USED_BUFFER -> each queue's irq_count++ and callback;
 * CONFIG_CHANGE -> re-read the device status: DEVICE_NEEDS_RESET -> flag
 * + log, else the config_changed callback. Returns the bits it saw (0: not
 * ours / spurious).
 */
uint32_t virtio_handle_interrupt(struct virtio_device *dev);

/*
 * Used-buffer interrupt for the queues in qmask (bit q: queue q) that share
 * one source (an MSI-X vector, or every queue of a one-line transport):
 * irq_count++ and callback for each, and storm accounting: when none of
 * them shows used-ring progress since the previous interrupt, each counts
 * a no-progress interrupt; VIRTIO_IRQ_STORM_RUN in a row mask the source
 * (dev->irq_mask) for a while, with one log line (at most one a second).
 * While masked, virtio_vq_wait() polls the queue and unmasks it when the
 * time is up, so requests still complete.
 */
void virtio_vqs_interrupt(struct virtio_device *dev, uint32_t qmask);
/* dev->queue_interrupts[q]++ for every q in qmask (the glue, per vector). */
void virtio_count_queue_interrupts(struct virtio_device *dev, uint32_t qmask);
/* Thread context: unmask queue q's source when its storm mask is over
 * (or now, with force). Returns whether it is (still) masked. */
bool virtio_vq_storm_poll(struct virtio_device *dev, unsigned q, bool force);

/*
 * Wait for a driver condition on queue q. poll(ctx) is called in thread
 * context; it takes used buffers and returns >0 when the wait is over, 0 to
 * keep waiting, <0 for an error (returned as is). In interrupt mode the
 * wait re-arms callbacks (vq_enable_cb, with its re-check) and then waits
 * for the queue's irq_count to move, so a lost interrupt shows up as a
 * timeout; in polled mode it spins. Returns poll's >0 value, its error,
 * -EIO when the queue is broken or the device needs a reset, -ETIMEDOUT.
 */
int virtio_vq_wait(struct virtio_device *dev, unsigned q, int (*poll)(void *ctx), void *ctx,
                   uint64_t timeout_ns);

/* vq_get_buf() in the poll convention above: 1 (*token, *len: a used
 * buffer), 0 (none yet), -EIO (queue broken). */
int virtio_vq_get_buf(struct virtqueue *vq, void **token, uint32_t *len);

/*
 * One request on a queue nobody else uses concurrently (the caller holds
 * the driver's lock for it, and nothing else is in flight there): add the
 * chain, kick, wait for it to come back. Returns the used length (bounded
 * by the writable bytes: virtqueue.c checks it) or -errno from vq_add_sgs /
 * virtio_vq_wait. On -ETIMEDOUT or -EIO the chain may still be in the
 * device's hands: the caller must reset the device before reusing the
 * buffers.
 */
int virtio_vq_exec(struct virtio_device *dev, unsigned q, const struct vq_sg *sgs, unsigned out_sgs,
                   unsigned in_sgs, uint64_t timeout_ns);

/* Is the device unusable until re-initialised (needs_reset, or a queue
 * that is missing or broken)? */
bool virtio_is_failed(struct virtio_device *dev);

/* For transports' config-space loops (4.1.3.1, 4.2.2: config is accessed
 * with naturally aligned 8/16/32-bit accesses): the widest such access
 * (4, 2, 1) that fits at off with left bytes to go. */
static inline unsigned virtio_config_access_size(uint32_t off, uint32_t left)
{
    if ((off & 3) == 0 && left >= 4)
        return 4;
    if ((off & 1) == 0 && left >= 2)
        return 2;
    return 1;
}

/* ---- registry (for the shell's `devices` and lookups by name) ---- */
int virtio_register(struct virtio_device *dev); /* -EEXIST: name taken */
void virtio_unregister(struct virtio_device *dev);
struct virtio_device *virtio_find(const char *name);
/* First device (prev NULL) or the one after prev; NULL at the end. */
struct virtio_device *virtio_next(struct virtio_device *prev);

#endif
