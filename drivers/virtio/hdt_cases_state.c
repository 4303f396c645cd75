/* SPDX-License-Identifier: Apache-2.0 */
/*
 * hdt_cases_state.c - the hostile-driver state-machine class: device
 * status and reset sequences that break a driver requirement of
 * content.tex 2.1 (Device Status Field: 2.1.1 "The driver MUST NOT clear a
 * device status bit. If the driver sets the FAILED bit, the driver MUST
 * later reset the device before attempting to re-initialize it"), 3.1.1
 * (Driver Requirements: Device Initialization, the ACKNOWLEDGE, DRIVER,
 * features, FEATURES_OK, queues, DRIVER_OK order; "After this step, the
 * driver MUST NOT accept new feature bits") and 4.1.4.3.2 / 4.2.3.1 (wait
 * for status to read 0 after a reset), judged against what the device must
 * do: 2.1.2 (no used buffers or notifications before DRIVER_OK) and 2.4.1
 * ("A device MUST NOT send any notifications or interact with the queues
 * after indicating completion of the reset by reinitializing device status
 * to 0, until the driver re-initializes the device").
 *
 * Every case opens its sessions itself (HDT_OWN_SESSION) through the
 * ordinary transport ops. A step the device may legitimately refuse or
 * stop on (a status write out of order, use after FAILED) is followed,
 * when the device did refuse, by a fresh session: REJECT when the device
 * then serves; a device that took the step and served is PASS.
 */
#include <errno.h>
#include <string.h>

#include "hdt_internal.h"
#include "transport_pci.h"
#include "virtio_mmio.h"
#include "virtio_platform.h"

#define S_OK (1u << VIRTIO_BLK_S_OK)
#define S_ANY ((1u << VIRTIO_BLK_S_OK) | (1u << VIRTIO_BLK_S_IOERR) | (1u << VIRTIO_BLK_S_UNSUPP))
#define BLK VIRTIO_ID_BLOCK
#define WAIT_NS 1000000000ull /* a request that will be served is served by then (loaded host) */
#define AFTER_NS 100000000ull /* how long we watch for writes after a reset */

static void read0(struct hdt_ctx *c, uint8_t mask)
{
    (void)hdt_blk_req(c, 0, VIRTIO_BLK_T_IN, 0, 512, VIRTQ_DESC_F_WRITE);
    c->status_mask = mask;
    hdt_post(c, 0);
}

static int open_or_skip(struct hdt_ctx *c, unsigned mode)
{
    int err = hdt_open(c, mode, 0);

    if (err < 0) {
        hdt_note(c->note, "session did not open (");
        hdt_note_u(c->note, (uint64_t)-err, false);
        hdt_note(c->note, ")");
    }
    return err;
}

static void note_status(struct hdt_ctx *c, const char *what)
{
    hdt_note(c->note, what);
    hdt_note_u(c->note, hdt_status(c), true);
}

/* Post a read, kick, wait: was it served? (The engine collects it.) */
static bool try_read(struct hdt_ctx *c, uint8_t mask)
{
    read0(c, mask);
    hdt_kick(c);
    return hdt_wait_used(c, (uint16_t)(c->used_seen + 1), WAIT_NS);
}

/* The device did not serve after the hostile step: a fresh session for
 * the probe, REJECT if the device then serves. */
static void refused(struct hdt_ctx *c, const char *why)
{
    hdt_note(c->note, why);
    (void)hdt_open(c, 0, 0);
    c->reject = true;
    c->need_consume = false;
}

/* ---- features (3.1.1 steps 4-6) ---- */

static int features_after_features_ok(struct hdt_ctx *c)
{
    if (open_or_skip(c, HDT_OPEN_NO_DRIVER_OK) < 0)
        return -EIO;
    /* Drop every feature, VERSION_1 included, after FEATURES_OK. */
    c->dev->ops->set_features(c->dev, 0);
    note_status(c, "status after the write ");
    hdt_driver_ok(c);
    read0(c, S_ANY);
    c->need_consume = false;
    return 0;
}

static int features_ok_rewritten(struct hdt_ctx *c)
{
    const struct virtio_transport_ops *ops = c->dev->ops;
    uint64_t offered;

    if (open_or_skip(c, HDT_OPEN_NO_DRIVER_OK) < 0)
        return -EIO;
    offered = ops->get_features(c->dev);
    /* Other (offered) features, and FEATURES_OK written again. */
    ops->set_features(c->dev, c->features ^ (offered & ((1ull << VIRTIO_F_INDIRECT_DESC) |
                                                        (1ull << VIRTIO_F_EVENT_IDX))));
    ops->set_status(c->dev, (uint8_t)(hdt_status(c) | VIRTIO_STATUS_FEATURES_OK));
    note_status(c, "status after FEATURES_OK again ");
    if (!(hdt_status(c) & VIRTIO_STATUS_FEATURES_OK)) {
        refused(c, ": refused");
        return 0;
    }
    hdt_driver_ok(c);
    read0(c, S_ANY);
    c->need_consume = false;
    return 0;
}

static int no_version_1(struct hdt_ctx *c)
{
    const struct virtio_transport_ops *ops = c->dev->ops;

    if (open_or_skip(c, HDT_OPEN_NO_QUEUE) < 0)
        return -EIO;
    /* A second negotiation from the start, without VERSION_1. */
    (void)ops->reset(c->dev);
    ops->set_status(c->dev, VIRTIO_STATUS_ACKNOWLEDGE);
    ops->set_status(c->dev, VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER);
    ops->set_features(c->dev, 0);
    ops->set_status(c->dev,
                    VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER | VIRTIO_STATUS_FEATURES_OK);
    if (hdt_status(c) & VIRTIO_STATUS_FEATURES_OK) {
        /* Legacy semantics we do not speak: no traffic on it. */
        hdt_note(c->note, "FEATURES_OK kept without VERSION_1");
        (void)hdt_open(c, 0, 0);
        c->need_consume = false;
        return 0;
    }
    refused(c, "FEATURES_OK refused without VERSION_1");
    return 0;
}

static int features_after_driver_ok(struct hdt_ctx *c)
{
    if (open_or_skip(c, 0) < 0)
        return -EIO;
    /* Features dropped (VERSION_1 too) while the device is live. */
    c->dev->ops->set_features(c->dev, 0);
    note_status(c, "status after the write ");
    read0(c, S_OK);
    return 0;
}

static int features_ok_without_driver(struct hdt_ctx *c)
{
    const struct virtio_transport_ops *ops = c->dev->ops;

    if (open_or_skip(c, HDT_OPEN_NO_QUEUE) < 0)
        return -EIO;
    (void)ops->reset(c->dev);
    ops->set_status(c->dev, VIRTIO_STATUS_ACKNOWLEDGE);
    ops->set_features(c->dev, 1ull << VIRTIO_F_VERSION_1);
    ops->set_status(c->dev, VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_FEATURES_OK);
    if (hdt_status(c) & VIRTIO_STATUS_FEATURES_OK) {
        hdt_note(c->note, "FEATURES_OK kept without DRIVER");
        (void)hdt_open(c, 0, 0);
        c->need_consume = false;
        return 0;
    }
    refused(c, "FEATURES_OK without DRIVER refused");
    return 0;
}

/* ---- status bits (2.1.1) ---- */

static int skip_acknowledge(struct hdt_ctx *c)
{
    int err = hdt_open(c, HDT_OPEN_NO_ACK, 0);

    if (err < 0) {
        hdt_note(c->note, "DRIVER without ACKNOWLEDGE: session refused (");
        hdt_note_u(c->note, (uint64_t)-err, false);
        refused(c, ")");
        return 0;
    }
    hdt_note(c->note, "DRIVER without ACKNOWLEDGE accepted");
    read0(c, S_ANY);
    c->need_consume = false;
    return 0;
}

static int clear_status_bits(struct hdt_ctx *c)
{
    if (open_or_skip(c, 0) < 0)
        return -EIO;
    c->dev->ops->set_status(c->dev, VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER);
    note_status(c, "status after clearing FEATURES_OK|DRIVER_OK ");
    c->irq_lax = true;
    if (!try_read(c, S_ANY)) {
        refused(c, "; not served");
        return 0;
    }
    c->need_consume = false;
    c->no_kick = true;
    return 0;
}

static int failed_then_use(struct hdt_ctx *c)
{
    if (open_or_skip(c, 0) < 0)
        return -EIO;
    c->dev->ops->set_status(c->dev, (uint8_t)(hdt_status(c) | VIRTIO_STATUS_FAILED));
    note_status(c, "status ");
    c->irq_lax = true;
    if (!try_read(c, S_ANY)) {
        refused(c, ": not served after FAILED");
        return 0;
    }
    hdt_note(c->note, ": served after FAILED");
    c->no_kick = true;
    return 0;
}

static int driver_ok_after_failed(struct hdt_ctx *c)
{
    const struct virtio_transport_ops *ops = c->dev->ops;

    if (open_or_skip(c, HDT_OPEN_NO_DRIVER_OK) < 0)
        return -EIO;
    /* Give up, then carry on as if not: DRIVER_OK on a FAILED device. */
    ops->set_status(c->dev, (uint8_t)(hdt_status(c) | VIRTIO_STATUS_FAILED));
    ops->set_status(c->dev, (uint8_t)(hdt_status(c) | VIRTIO_STATUS_DRIVER_OK));
    note_status(c, "status ");
    c->irq_lax = true;
    if (!try_read(c, S_ANY)) {
        refused(c, ": not served");
        return 0;
    }
    hdt_note(c->note, ": served");
    c->no_kick = true;
    return 0;
}

static int status_reserved_bits(struct hdt_ctx *c)
{
    if (open_or_skip(c, 0) < 0)
        return -EIO;
    /* Bits 4 and 5 are reserved (2.1). */
    c->dev->ops->set_status(c->dev, (uint8_t)(hdt_status(c) | 0x30u));
    note_status(c, "status after setting 0x30 ");
    c->irq_lax = true;
    if (hdt_status(c) & VIRTIO_STATUS_DEVICE_NEEDS_RESET) {
        c->need_consume = false;
        return 0; /* the engine judges the NEEDS_RESET */
    }
    read0(c, S_OK);
    return 0;
}

static int driver_sets_needs_reset(struct hdt_ctx *c)
{
    if (open_or_skip(c, 0) < 0)
        return -EIO;
    c->dev->ops->set_status(c->dev, (uint8_t)(hdt_status(c) | VIRTIO_STATUS_DEVICE_NEEDS_RESET));
    note_status(c, "status after the driver set DEVICE_NEEDS_RESET ");
    c->irq_lax = true;
    if (hdt_status(c) & VIRTIO_STATUS_DEVICE_NEEDS_RESET) {
        /* The bit is the device's to raise (2.1.2); one that merely keeps
         * what the driver wrote is not saying it needs a reset, so no
         * config notification is owed: start over instead. */
        hdt_note(c->note, ": kept");
        (void)hdt_open(c, 0, 0);
        c->need_consume = false;
        return 0;
    }
    read0(c, S_OK);
    return 0;
}

/* ---- order of the steps (3.1.1) ---- */

static int queue_after_driver_ok(struct hdt_ctx *c)
{
    const struct virtio_transport_ops *ops = c->dev->ops;

    if (open_or_skip(c, HDT_OPEN_NO_QUEUE) < 0)
        return -EIO;
    hdt_driver_ok(c); /* no queue set up yet */
    (void)ops->queue_setup(c->dev, 0, c->qsize, c->dma + HDT_DESC_OFF, c->dma + HDT_AVAIL_OFF,
                           c->dma + HDT_USED_OFF);
    (void)ops->queue_enable(c->dev, 0);
    note_status(c, "queue 0 set up after DRIVER_OK, status ");
    if (hdt_status(c) & VIRTIO_STATUS_DEVICE_NEEDS_RESET) {
        c->need_consume = false;
        return 0;
    }
    if (!try_read(c, S_ANY)) {
        refused(c, "; not served");
        return 0;
    }
    c->no_kick = true;
    return 0;
}

static int reset_during_setup(struct hdt_ctx *c)
{
    const struct virtio_transport_ops *ops = c->dev->ops;

    if (open_or_skip(c, HDT_OPEN_NO_QUEUE) < 0)
        return -EIO;
    (void)ops->reset(c->dev);
    /* Carry on as if nothing happened: queue and DRIVER_OK on a device
     * that was never re-initialised (no ACKNOWLEDGE, DRIVER, features). */
    (void)ops->queue_setup(c->dev, 0, c->qsize, c->dma + HDT_DESC_OFF, c->dma + HDT_AVAIL_OFF,
                           c->dma + HDT_USED_OFF);
    (void)ops->queue_enable(c->dev, 0);
    ops->set_status(c->dev, VIRTIO_STATUS_DRIVER_OK);
    note_status(c, "status ");
    c->irq_lax = true;
    if (!try_read(c, S_ANY)) {
        refused(c, "; not served");
        return 0;
    }
    hdt_note(c->note, "; served");
    c->no_kick = true;
    return 0;
}

static int irq_before_driver_ok(struct hdt_ctx *c)
{
    if (open_or_skip(c, HDT_OPEN_NO_DRIVER_OK) < 0)
        return -EIO;
    hdt_irq_begin(c); /* this session's window */
    c->opens = 1;
    read0(c, S_OK);
    hdt_kick(c);
    (void)hdt_wait_used(c, 1, WAIT_NS);
    /* 2.1.2: "The device MUST NOT consume buffers or send any used buffer
     * notifications to the driver before DRIVER_OK". */
    if (hdt_irq_q0(c) || virt_load_acquire16(&hdt_used(c)->idx) != 0) {
        hdt_note(c->note, "used buffer or used-buffer interrupt before DRIVER_OK (irqs ");
        hdt_note_u(c->note, hdt_irq_q0(c), false);
        hdt_note(c->note, ")");
        c->case_fail = true;
        return 0;
    }
    hdt_driver_ok(c);
    return 0;
}

/* ---- resets (4.1.4.3.2 / 4.2.3.1, device 2.4.1) ---- */

static int reset_no_wait(struct hdt_ctx *c)
{
    const struct virtio_transport_ops *ops = c->dev->ops;
    unsigned i;

    if (open_or_skip(c, 0) < 0)
        return -EIO;
    /* Resets back to back, re-initialising without waiting for 0. */
    for (i = 0; i < 3u + (unsigned)(c->seed % 3); i++) {
        ops->set_status(c->dev, 0);
        ops->set_status(c->dev, VIRTIO_STATUS_ACKNOWLEDGE);
    }
    ops->set_status(c->dev, 0);
    if (open_or_skip(c, 0) < 0) {
        c->need_consume = false; /* the probe says whether it serves */
        return 0;
    }
    read0(c, S_OK);
    return 0;
}

/* Since the reset, did the device touch the buffers we refilled or the
 * rings? (2.4.1) */
static bool quiet_after_reset(struct hdt_ctx *c)
{
    uint64_t start = virt_time_ns();
    unsigned i;
    uint32_t off;

    /* The device could have completed before the reset: refill every
     * writable byte and re-take the snapshot of the rest. */
    for (i = 0; i < c->nwr; i++)
        memset(c->arena + c->wr[i].off, 0xa5, c->wr[i].len);
    memcpy(c->shadow, c->arena, HDT_PROBE_OFF);
    while (virt_time_ns() - start < AFTER_NS)
        ;
    for (off = 0; off < HDT_PROBE_OFF; off++) {
        if (c->arena[off] != c->shadow[off]) {
            hdt_note(c->note, "device wrote arena+");
            hdt_note_u(c->note, off, true);
            hdt_note(c->note, " after the reset completed (2.4.1)");
            c->case_fail = true;
            return false;
        }
    }
    return true;
}

static int reset_mid_request(struct hdt_ctx *c)
{
    if (open_or_skip(c, 0) < 0)
        return -EIO;
    /* A 4 KiB read, kicked, and the device reset at once. */
    (void)hdt_blk_req(c, 0, VIRTIO_BLK_T_IN, c->seed % 8, 4096, VIRTQ_DESC_F_WRITE);
    hdt_post(c, 0);
    hdt_kick(c);
    if (c->dev->ops->reset(c->dev) < 0) {
        hdt_note(c->note, "reset did not complete");
        c->case_fail = true;
        return 0;
    }
    if (!quiet_after_reset(c))
        return 0;
    if (open_or_skip(c, 0) < 0) {
        c->need_consume = false;
        return 0;
    }
    read0(c, S_OK);
    return 0;
}

static int notify_after_reset(struct hdt_ctx *c)
{
    uint32_t noff = 0, mult;

    if (open_or_skip(c, 0) < 0)
        return -EIO;
    if (hdt_xport(c) == HDT_X_PCI) {
        /* The transport forgets queue 0's doorbell at reset: note it now. */
        mult = virtio_pci_notify_multiplier(c->dev);
        if (hdt_q_wr(c, HQ_SEL, 0) ||
            hdt_reg_rd(c, VIRTIO_REGS_PCI_COMMON, VIRTIO_PCI_COMMON_Q_NOFF, 2, &noff))
            return -ENOTSUP;
        noff *= mult;
    }
    read0(c, S_OK);
    if (c->dev->ops->reset(c->dev) < 0) {
        hdt_note(c->note, "reset did not complete");
        c->case_fail = true;
        return 0;
    }
    /* The chain is available, the device reset: now ring queue 0. */
    virt_mb(); /* 2.7.13.4: the index before the notification */
    if (hdt_xport(c) == HDT_X_PCI)
        (void)hdt_reg_wr(c, VIRTIO_REGS_PCI_NOTIFY, noff, 2, 0);
    else
        c->dev->ops->notify(c->dev, 0);
    if (!quiet_after_reset(c))
        return 0;
    if (open_or_skip(c, 0) < 0) {
        c->need_consume = false;
        return 0;
    }
    read0(c, S_OK);
    return 0;
}

#define C(id, fn, clause, text)                                                                    \
    {                                                                                              \
        id, text, clause, BLK, HDT_OWN_SESSION, fn                                                 \
    }

static const struct hdt_case cases[] = {
    C("state.features_after_features_ok", features_after_features_ok,
      "3.1.1 step 5 (no new feature bits after FEATURES_OK)",
      "driver features rewritten to 0 after FEATURES_OK, then DRIVER_OK and a read"),
    C("state.features_ok_rewritten", features_ok_rewritten, "3.1.1 steps 5-6",
      "other features and FEATURES_OK written a second time"),
    C("state.no_version_1", no_version_1, "6.1 (a driver MUST accept VERSION_1)",
      "FEATURES_OK with VERSION_1 not accepted"),
    C("state.features_after_driver_ok", features_after_driver_ok,
      "3.1.1 step 5 (no feature changes once negotiated)",
      "driver features rewritten to 0 after DRIVER_OK, then a read"),
    C("state.features_ok_without_driver", features_ok_without_driver,
      "3.1.1 steps 2-6 (DRIVER before features)", "ACKNOWLEDGE, features, FEATURES_OK: no DRIVER"),
    C("state.driver_ok_after_failed", driver_ok_after_failed,
      "2.1.1 (after FAILED, reset before re-initialising)",
      "FAILED set before DRIVER_OK, then DRIVER_OK and a read"),
    C("state.skip_acknowledge", skip_acknowledge, "3.1.1 step 2 (ACKNOWLEDGE first)",
      "DRIVER set without ACKNOWLEDGE, then the whole session"),
    C("state.clear_status_bits", clear_status_bits, "2.1.1 (MUST NOT clear a status bit)",
      "FEATURES_OK and DRIVER_OK cleared without a reset, then a read"),
    C("state.failed_then_use", failed_then_use, "2.1.1 (after FAILED, reset before re-use)",
      "FAILED set, then a read without a reset"),
    C("state.status_reserved_bits", status_reserved_bits, "2.1 (bits 4, 5 reserved)",
      "status written with reserved bits 0x30, then a read"),
    C("state.driver_sets_needs_reset", driver_sets_needs_reset,
      "2.1 / 2.1.2 (DEVICE_NEEDS_RESET is the device's)",
      "the driver writes DEVICE_NEEDS_RESET into status"),
    C("state.queue_after_driver_ok", queue_after_driver_ok,
      "3.1.1 step 7 (queues before DRIVER_OK)",
      "DRIVER_OK with no queue, then queue 0 set up and a read"),
    C("state.reset_during_setup", reset_during_setup, "3.1.1 (initialise again after a reset)",
      "reset after FEATURES_OK, then queue and DRIVER_OK without re-negotiating"),
    C("state.irq_before_driver_ok", irq_before_driver_ok,
      "3.1.1 step 8; device 2.1.2 (no notification before DRIVER_OK)",
      "a read kicked before DRIVER_OK: no used entry, no interrupt"),
    C("state.reset_no_wait", reset_no_wait, "4.1.4.3.2 / 4.2.3.1 (wait for status 0 after a reset)",
      "resets and ACKNOWLEDGE back to back without waiting, then a session"),
    C("state.reset_mid_request", reset_mid_request, "device 2.4.1 (nothing used after a reset)",
      "a 4 KiB read kicked and the device reset at once; no write after the reset"),
    C("state.notify_after_reset", notify_after_reset, "device 2.4.1 (queues dead after a reset)",
      "a read made available, the device reset, then queue 0 notified"),
};

const struct hdt_table hdt_table_state = {cases, sizeof(cases) / sizeof(cases[0])};
