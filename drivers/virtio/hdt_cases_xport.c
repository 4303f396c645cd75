/* SPDX-License-Identifier: Apache-2.0 */
/*
 * hdt_cases_xport.c - the hostile-driver transport-register class: raw
 * accesses (hdt_oracle.c, the transports' reg_read/reg_write) that break a
 * driver requirement of the PCI transport (content.tex 4.1, "Virtio Over
 * PCI Bus": 4.1.4.3.2 common configuration, 4.1.5.1.2 MSI-X vectors,
 * 4.1.4.4 notifications, 4.1.4.5 ISR) or of the MMIO transport (4.2,
 * "Virtio Over MMIO": 4.2.2.2 "The driver MUST NOT access memory locations
 * not described in the table ..., MUST NOT write to the read-only registers
 * (direction R) and MUST NOT read from the write-only registers (direction
 * W)", "MUST only use 32 bit wide and aligned reads and writes to access
 * the control registers"; "When QueueReady is not zero, the driver MUST
 * NOT access QueueNum, QueueDesc*, QueueDriver*, QueueDevice*").
 *
 * A case that cannot be expressed on the transport (an "mmio." register on
 * PCI, a notify offset the mapping does not reach) is SKIP with the reason.
 * Verdicts: the device's answer to the bad access is read back where the
 * spec says what it must be (a FAIL when it is not); a step the device
 * visibly refused is REJECT (reject: it still serves), one it took is PASS;
 * a step that leaves the queue in a state no request can be judged in
 * (a size the arena's rings do not fit) is followed by a fresh session, so
 * the probe says whether the device still serves.
 */
#include <errno.h>
#include <string.h>

#include "hdt_xport.h"
#include "transport_pci.h"
#include "virtio_mmio.h"
#include "virtio_platform.h"

/* Past any blk device's num_queues, but below QEMU's VIRTIO_QUEUE_MAX
 * (1024), so a device that range-checks its select against that keeps it. */
#define QSEL_OOB 1000u

/* ---- MMIO: widths, undefined offsets, direction (4.2.2.2) ---- */

static int mmio_narrow_read(struct hdt_ctx *c)
{
    uint32_t m8, m16, st8;

    if (need(c, HDT_X_MMIO) || hdt_reg_rd(c, MMIO, VIRTIO_MMIO_MAGIC_VALUE, 1, &m8) ||
        hdt_reg_rd(c, MMIO, VIRTIO_MMIO_MAGIC_VALUE + 2, 2, &m16) ||
        hdt_reg_rd(c, MMIO, VIRTIO_MMIO_STATUS, 1, &st8))
        return -ENOTSUP;
    note_val(c, "8-bit MagicValue ", m8);
    note_val(c, ", 16-bit MagicValue+2 ", m16);
    note_val(c, ", 8-bit Status ", st8);
    took(c, m8 | m16 | st8, ";");
    return 0;
}

static int mmio_narrow_status_write(struct hdt_ctx *c)
{
    uint32_t st;

    /* A 16-bit write of 0 to Status: a reset at the wrong width. */
    if (need(c, HDT_X_MMIO) || hdt_reg_wr(c, MMIO, VIRTIO_MMIO_STATUS, 2, 0) ||
        hdt_reg_rd(c, MMIO, VIRTIO_MMIO_STATUS, 4, &st))
        return -ENOTSUP;
    note_val(c, "Status after a 16-bit 0 write ", st);
    if (st == 0) {
        took(c, true, ": reset");
        (void)hdt_open(c, 0, 0); /* the probe needs a session again */
    } else {
        took(c, false, ": write");
    }
    return 0;
}

static int mmio_narrow_notify(struct hdt_ctx *c)
{
    if (need(c, HDT_X_MMIO))
        return -ENOTSUP;
    /* A first read, kicked properly and served: the device has looked at
     * the queue since DRIVER_OK (which may make it look once unasked), so
     * what it does with the second one is the narrow kick's doing. */
    read0(c, S_OK);
    hdt_kick(c);
    if (!hdt_wait_used(c, 1, 1000000000ull)) {
        hdt_note(c->note, "the first (properly kicked) read was not served");
        c->no_kick = true;
        return 0;
    }
    c->used_seen = 1;
    c->snapped = false; /* the second chain is written after the first snapshot */
    (void)hdt_blk_req(c, 3, VIRTIO_BLK_T_IN, 0, 512, VIRTQ_DESC_F_WRITE);
    hdt_post(c, 3);
    /* 2.7.13.4 order: the index is published (hdt_post) before this. */
    virt_mb();
    if (hdt_reg_wr(c, MMIO, VIRTIO_MMIO_QUEUE_NOTIFY, 2, 0))
        return -ENOTSUP;
    c->no_kick = true; /* served only if the 16-bit kick was taken */
    return 0;
}

/* Offsets 4.2.2 leaves undefined (between and after the registers). */
static const uint16_t undefined_off[] = {
    0x018, 0x01c, 0x028, 0x02c, 0x03c, 0x040, 0x048, 0x04c, 0x054, 0x058, 0x05c, 0x068, 0x06c,
    0x074, 0x078, 0x07c, 0x088, 0x08c, 0x098, 0x09c, 0x0a8, 0x0c4, 0x0d0, 0x0e0, 0x0f0, 0x0f8};
#define NUNDEF (sizeof(undefined_off) / sizeof(undefined_off[0]))

static int mmio_undefined_read(struct hdt_ctx *c)
{
    unsigned i, nonzero = 0;
    uint32_t v;

    if (need(c, HDT_X_MMIO))
        return -ENOTSUP;
    for (i = 0; i < NUNDEF; i++) {
        if (hdt_reg_rd(c, MMIO, undefined_off[i], 4, &v))
            return -ENOTSUP;
        nonzero += v != 0;
    }
    hdt_note(c->note, "undefined offsets reading non-zero: ");
    hdt_note_u(c->note, nonzero, false);
    took(c, nonzero, ";");
    return 0;
}

static int mmio_undefined_write(struct hdt_ctx *c)
{
    uint8_t st0 = hdt_status(c);
    unsigned i;
    uint32_t ready;

    if (need(c, HDT_X_MMIO))
        return -ENOTSUP;
    for (i = 0; i < NUNDEF; i++) {
        unsigned k = (unsigned)((i + c->seed) % NUNDEF);

        if (hdt_reg_wr(c, MMIO, undefined_off[k], 4, 0xffffffffu))
            return -ENOTSUP;
    }
    (void)hdt_q_wr(c, HQ_SEL, 0);
    (void)hdt_q_rd(c, HQ_READY, &ready);
    if (hdt_status(c) != st0 || ready != 1) {
        note_val(c, "state changed: Status ", hdt_status(c));
        note_val(c, " QueueReady ", ready);
        c->need_consume = false;
        return 0;
    }
    took(c, false, "all-ones writes to undefined offsets:");
    return 0;
}

static int mmio_write_magic(struct hdt_ctx *c)
{
    uint32_t magic, ver;

    if (need(c, HDT_X_MMIO) || hdt_reg_wr(c, MMIO, VIRTIO_MMIO_MAGIC_VALUE, 4, 0) ||
        hdt_reg_wr(c, MMIO, VIRTIO_MMIO_VERSION, 4, 1) ||
        hdt_reg_rd(c, MMIO, VIRTIO_MMIO_MAGIC_VALUE, 4, &magic) ||
        hdt_reg_rd(c, MMIO, VIRTIO_MMIO_VERSION, 4, &ver))
        return -ENOTSUP;
    /* 4.2.2.1: "The device MUST return 0x74726976 in MagicValue", "MUST
     * return value 0x2 in Version" - whatever the driver wrote there. */
    if (magic != VIRTIO_MMIO_MAGIC || ver != VIRTIO_MMIO_VERSION_2) {
        note_val(c, "after the writes MagicValue reads ", magic);
        note_val(c, " Version ", ver);
        c->case_fail = true;
        return 0;
    }
    took(c, false, "MagicValue/Version writes");
    return 0;
}

static int mmio_write_device_id(struct hdt_ctx *c)
{
    uint32_t id;

    if (need(c, HDT_X_MMIO) || hdt_reg_wr(c, MMIO, VIRTIO_MMIO_DEVICE_ID, 4, 0) ||
        hdt_reg_wr(c, MMIO, VIRTIO_MMIO_VENDOR_ID, 4, 0) ||
        hdt_reg_rd(c, MMIO, VIRTIO_MMIO_DEVICE_ID, 4, &id))
        return -ENOTSUP;
    if (id != c->dev->device_id) {
        note_val(c, "DeviceID became ", id);
        c->case_fail = true;
        return 0;
    }
    took(c, false, "DeviceID/VendorID writes");
    return 0;
}

static int mmio_write_queue_num_max(struct hdt_ctx *c)
{
    uint32_t before, after;

    if (need(c, HDT_X_MMIO) || hdt_q_wr(c, HQ_SEL, 0) || hdt_q_rd(c, HQ_NUM, &before) ||
        hdt_reg_wr(c, MMIO, VIRTIO_MMIO_QUEUE_NUM_MAX, 4, 1) || hdt_q_rd(c, HQ_NUM, &after))
        return -ENOTSUP;
    note_val(c, "QueueNumMax ", before);
    note_val(c, " -> ", after);
    took(c, before != after, ";");
    return 0;
}

static int mmio_write_interrupt_status(struct hdt_ctx *c)
{
    uint32_t before, after;

    if (need(c, HDT_X_MMIO) || hdt_reg_rd(c, MMIO, VIRTIO_MMIO_INTERRUPT_STATUS, 4, &before) ||
        hdt_reg_wr(c, MMIO, VIRTIO_MMIO_INTERRUPT_STATUS, 4, 0xffffffffu) ||
        hdt_reg_rd(c, MMIO, VIRTIO_MMIO_INTERRUPT_STATUS, 4, &after))
        return -ENOTSUP;
    note_val(c, "InterruptStatus ", before);
    note_val(c, " -> ", after);
    took(c, before != after, ";");
    read0(c, S_OK);
    c->need_consume = true;
    return 0;
}

static int mmio_write_config_generation(struct hdt_ctx *c)
{
    uint32_t before, after;

    if (need(c, HDT_X_MMIO) || hdt_reg_rd(c, MMIO, VIRTIO_MMIO_CONFIG_GENERATION, 4, &before) ||
        hdt_reg_wr(c, MMIO, VIRTIO_MMIO_CONFIG_GENERATION, 4, before + 0x55u) ||
        hdt_reg_rd(c, MMIO, VIRTIO_MMIO_CONFIG_GENERATION, 4, &after))
        return -ENOTSUP;
    c->irq_lax = true;
    took(c, before != after, "ConfigGeneration write");
    return 0;
}

static int mmio_read_write_only(struct hdt_ctx *c)
{
    static const uint16_t wo[] = {VIRTIO_MMIO_DEVICE_FEATURES_SEL, VIRTIO_MMIO_DRIVER_FEATURES,
                                  VIRTIO_MMIO_DRIVER_FEATURES_SEL, VIRTIO_MMIO_QUEUE_SEL,
                                  VIRTIO_MMIO_QUEUE_NUM,           VIRTIO_MMIO_QUEUE_NOTIFY,
                                  VIRTIO_MMIO_INTERRUPT_ACK,       VIRTIO_MMIO_QUEUE_DESC_LOW,
                                  VIRTIO_MMIO_QUEUE_DRIVER_HIGH,   VIRTIO_MMIO_QUEUE_DEVICE_LOW};
    unsigned i, nonzero = 0;
    uint32_t v;

    if (need(c, HDT_X_MMIO))
        return -ENOTSUP;
    for (i = 0; i < sizeof(wo) / sizeof(wo[0]); i++) {
        if (hdt_reg_rd(c, MMIO, wo[i], 4, &v))
            return -ENOTSUP;
        nonzero += v != 0;
    }
    hdt_note(c->note, "write-only registers reading non-zero: ");
    hdt_note_u(c->note, nonzero, false);
    took(c, nonzero, ";");
    return 0;
}

static int mmio_int_ack_never_set(struct hdt_ctx *c)
{
    if (need(c, HDT_X_MMIO))
        return -ENOTSUP;
    /* Bits 2..31 are never set by a device; 0..1 are not pending now. */
    if (hdt_reg_wr(c, MMIO, VIRTIO_MMIO_INTERRUPT_ACK, 4, 0xffffffffu))
        return -ENOTSUP;
    read0(c, S_OK);
    return 0;
}

static int mmio_config_past_end(struct hdt_ctx *c)
{
    uint32_t v, w;

    /* The blk config is far shorter than the 256 bytes at 0x100. */
    if (need(c, HDT_X_MMIO) || hdt_reg_rd(c, MMIO, 0x1f0, 4, &v) ||
        hdt_reg_wr(c, MMIO, 0x1f8, 4, 0xffffffffu) || hdt_reg_rd(c, MMIO, 0x1f8, 4, &w))
        return -ENOTSUP;
    note_val(c, "config+0xf0 reads ", v);
    note_val(c, ", +0xf8 after writing ones ", w);
    c->irq_lax = true;
    took(c, w != v && w == 0xffffffffu, ";"); /* reading ones anyway is no take */
    return 0;
}

/* ---- queue registers, either transport ---- */

/* Open a session whose queue 0 is set up by the transport (so the notify
 * address and MSI-X vector are in place) but not enabled yet, apply the
 * hostile write, then enable (raw) and go to DRIVER_OK. Returns whether
 * QueueReady / queue_enable reads 1 afterwards, or <0 (SKIP). */
static int setup_with(struct hdt_ctx *c, enum hdt_qreg r, uint64_t v, uint32_t *qmax)
{
    const struct virtio_transport_ops *ops = c->dev->ops;
    uint32_t ready = 0;

    if (hdt_open(c, HDT_OPEN_NO_QUEUE, 0) < 0) {
        hdt_note(c->note, "session did not open");
        return -EIO;
    }
    *qmax = ops->queue_max(c->dev, 0);
    if (v == ~0ull) /* twice the maximum */
        v = *qmax * 2u > 0xffffu ? 0xffffu : *qmax * 2u;
    if (ops->queue_setup(c->dev, 0, c->qsize, c->dma + HDT_DESC_OFF, c->dma + HDT_AVAIL_OFF,
                         c->dma + HDT_USED_OFF) < 0) {
        hdt_note(c->note, "queue setup failed");
        return -EIO;
    }
    if (hdt_q_wr(c, HQ_SEL, 0) || hdt_q_wr(c, r, v) || hdt_q_wr(c, HQ_READY, 1) ||
        hdt_q_rd(c, HQ_READY, &ready))
        return -ENOTSUP;
    hdt_driver_ok(c);
    return ready == 1;
}

/* After setup_with: DEVICE_NEEDS_RESET is left to the engine; otherwise a
 * queue we cannot drive (its size does not match our rings) is replaced by
 * a fresh session before the probe. */
static int after_setup(struct hdt_ctx *c, int ready, const char *what)
{
    if (ready < 0)
        return ready;
    hdt_note(c->note, what);
    if (hdt_status(c) & VIRTIO_STATUS_DEVICE_NEEDS_RESET) {
        hdt_note(c->note, ": refused at DRIVER_OK");
        c->need_consume = false;
        return 0;
    }
    hdt_note(c->note, ready ? ": queue enabled" : ": queue_enable/QueueReady reads 0");
    c->reject = !ready;
    c->need_consume = false;
    (void)hdt_open(c, 0, 0);
    return 0;
}

static int queue_num_gt_max(struct hdt_ctx *c)
{
    uint32_t qmax;

    return after_setup(c, setup_with(c, HQ_NUM, ~0ull, &qmax), "size 2 x max");
}

static int queue_num_zero(struct hdt_ctx *c)
{
    uint32_t qmax;

    return after_setup(c, setup_with(c, HQ_NUM, 0, &qmax), "size 0");
}

static int queue_size_not_pow2(struct hdt_ctx *c)
{
    uint32_t qmax;

    return after_setup(c, setup_with(c, HQ_NUM, HDT_QSIZE - 4, &qmax), "size 12");
}

static int queue_sel_oob_read(struct hdt_ctx *c)
{
    uint32_t num, ready;

    if (hdt_q_wr(c, HQ_SEL, QSEL_OOB) || hdt_q_rd(c, HQ_NUM, &num) || hdt_q_rd(c, HQ_READY, &ready))
        return -ENOTSUP;
    /* PCI 4.1.4.3.1: "The device MUST present a 0 in queue_size if the
     * virtqueue corresponding to the current queue_select is unavailable";
     * MMIO 4.2.2: QueueNumMax reads 0x0 "if the queue is not available". */
    if (num != 0) {
        note_val(c, "queue 1000: size/QueueNumMax reads ", num);
        c->case_fail = true;
        return 0;
    }
    note_val(c, "queue 1000 size 0, ready ", ready);
    c->need_consume = false;
    return 0;
}

static int queue_sel_oob_write(struct hdt_ctx *c)
{
    uint32_t ready = 0;
    uint64_t a;

    if (hdt_open(c, HDT_OPEN_NO_DRIVER_OK, 0) < 0) {
        hdt_note(c->note, "session did not open");
        return -EIO;
    }
    (void)hdt_buf(c, 256, false, &a);
    memset(c->arena + (a - c->dma), 0, 256);
    /* Set up a queue that does not exist, then look at queue 0. */
    if (hdt_q_wr(c, HQ_SEL, QSEL_OOB) || hdt_q_wr(c, HQ_NUM, 8) || hdt_q_wr(c, HQ_DESC, a) ||
        hdt_q_wr(c, HQ_DRIVER, a) || hdt_q_wr(c, HQ_DEVICE, a) || hdt_q_wr(c, HQ_READY, 1) ||
        hdt_q_wr(c, HQ_SEL, 0) || hdt_q_rd(c, HQ_READY, &ready))
        return -ENOTSUP;
    hdt_driver_ok(c);
    if (ready != 1) {
        hdt_note(c->note, "writes for queue 1000 disabled queue 0");
        c->case_fail = true;
        return 0;
    }
    read0(c, S_OK);
    return 0;
}

static int desc_change_while_ready(struct hdt_ctx *c)
{
    uint64_t a;
    uint8_t *z = hdt_buf(c, 256, false, &a);

    /* A zeroed table elsewhere: if the device takes the new address, head
     * 0 is addr 0 len 0 (nothing to read, nothing to write). */
    memset(z, 0, 256);
    if (hdt_q_wr(c, HQ_SEL, 0) || hdt_q_wr(c, HQ_DESC, a))
        return -ENOTSUP;
    read0(c, S_ANY);
    c->need_consume = false;
    return 0;
}

static int queue_size_change_while_ready(struct hdt_ctx *c)
{
    /* Twice the size: rings laid out for 16 entries are a valid prefix of
     * those for 32 (the arena has room up to 64 descriptors), so the first
     * entries mean the same to a device that takes the new size. */
    if (hdt_q_wr(c, HQ_SEL, 0) || hdt_q_wr(c, HQ_NUM, c->qsize * 2u))
        return -ENOTSUP;
    read0(c, S_ANY);
    /* A device that re-derives its ring layout from the new size writes
     * its used ring elsewhere in the ring area: a consequence of the
     * driver's violation, not a device fault, so the canary oracle leaves
     * the ring area to it (the request is judged by used ring and probe). */
    hdt_mark_writable(c, c->arena + HDT_DESC_OFF, HDT_BUF_OFF - HDT_DESC_OFF);
    c->irq_lax = true; /* its interrupts are for a ring we do not look at */
    c->need_consume = false;
    return 0;
}

static int feature_select_oob(struct hdt_ctx *c)
{
    uint32_t sel = 2u + (uint32_t)(c->seed % 8), v;
    int err;

    if (hdt_xport(c) == HDT_X_PCI)
        err = hdt_reg_wr(c, COMMON, VIRTIO_PCI_COMMON_DFSELECT, 4, sel) ||
              hdt_reg_rd(c, COMMON, VIRTIO_PCI_COMMON_DF, 4, &v);
    else
        err = hdt_reg_wr(c, MMIO, VIRTIO_MMIO_DEVICE_FEATURES_SEL, 4, sel) ||
              hdt_reg_rd(c, MMIO, VIRTIO_MMIO_DEVICE_FEATURES, 4, &v);
    if (err)
        return -ENOTSUP;
    note_val(c, "features word ", sel);
    note_val(c, " reads ", v);
    /* 4.1.4.3.1: "it will present 0 for any device_feature_select other
     * than 0 or 1"; MMIO (4.2.2) likewise has no bits above 63. */
    if (v != 0)
        c->case_fail = true;
    c->need_consume = false;
    return 0;
}

static int config_write_ro(struct hdt_ctx *c)
{
    const struct virtio_transport_ops *ops = c->dev->ops;
    uint64_t cap0 = 0, cap1 = 0;
    uint32_t g0, g1;
    int err;

    g0 = ops->config_generation(c->dev);
    ops->read_config(c->dev, 0, &cap0, sizeof(cap0));
    /* blk capacity (5.2.4) is read-only: write its low word. */
    if (hdt_xport(c) == HDT_X_PCI)
        err = hdt_reg_wr(c, VIRTIO_REGS_PCI_DEVICE, 0, 4, 0x1234u);
    else
        err = hdt_reg_wr(c, MMIO, VIRTIO_MMIO_CONFIG, 4, 0x1234u);
    if (err)
        return -ENOTSUP;
    g1 = ops->config_generation(c->dev);
    ops->read_config(c->dev, 0, &cap1, sizeof(cap1));
    c->irq_lax = true;
    if (cap1 != cap0 && g1 == g0) {
        /* 4.1.4.3.1 / 4.2.2: a changed value comes with a changed
         * generation. */
        note_val(c, "capacity changed to ", (uint32_t)cap1);
        hdt_note(c->note, " with config_generation unchanged");
        c->case_fail = true;
        return 0;
    }
    took(c, cap1 != cap0, "capacity write");
    read0(c, S_ANY);
    return 0;
}

/* ---- more register misuse ---- */

static int mmio_driver_features_sel_oob(struct hdt_ctx *c)
{
    const struct virtio_transport_ops *ops = c->dev->ops;

    if (need(c, HDT_X_MMIO))
        return -ENOTSUP;
    if (hdt_open(c, HDT_OPEN_NO_FEATURES_OK | HDT_OPEN_NO_QUEUE, 0) < 0) {
        hdt_note(c->note, "session did not open");
        return -EIO;
    }
    /* Words past 1 hold no features: all ones written there. */
    if (hdt_reg_wr(c, MMIO, VIRTIO_MMIO_DRIVER_FEATURES_SEL, 4, 2u + (uint32_t)(c->seed % 8)) ||
        hdt_reg_wr(c, MMIO, VIRTIO_MMIO_DRIVER_FEATURES, 4, 0xffffffffu))
        return -ENOTSUP;
    ops->set_status(c->dev, (uint8_t)(hdt_status(c) | VIRTIO_STATUS_FEATURES_OK));
    if (!(hdt_status(c) & VIRTIO_STATUS_FEATURES_OK)) {
        hdt_note(c->note, "FEATURES_OK refused after ones in word 2+");
        c->reject = true;
        c->need_consume = false;
        (void)hdt_open(c, 0, 0);
        return 0;
    }
    /* No queue yet: start over properly for the probe. */
    hdt_note(c->note, "FEATURES_OK kept after ones in word 2+");
    c->need_consume = false;
    (void)hdt_open(c, 0, 0);
    return 0;
}

static int mmio_queue_ready_2(struct hdt_ctx *c)
{
    uint32_t qmax, ready;

    if (need(c, HDT_X_MMIO))
        return -ENOTSUP;
    /* 4.2.2: QueueReady is 0 or 1; write 2 while setting the queue up. */
    if (hdt_open(c, HDT_OPEN_NO_QUEUE, 0) < 0)
        return -EIO;
    qmax = c->dev->ops->queue_max(c->dev, 0);
    (void)qmax;
    if (c->dev->ops->queue_setup(c->dev, 0, c->qsize, c->dma + HDT_DESC_OFF, c->dma + HDT_AVAIL_OFF,
                                 c->dma + HDT_USED_OFF) < 0 ||
        hdt_q_wr(c, HQ_READY, 2) || hdt_q_rd(c, HQ_READY, &ready))
        return -ENOTSUP;
    note_val(c, "QueueReady after writing 2 reads ", ready);
    if (ready == 0) {
        /* Refused: enable properly, then a read. */
        (void)hdt_q_wr(c, HQ_READY, 1);
        hdt_driver_ok(c);
        c->reject = true;
        c->need_consume = false;
        return 0;
    }
    hdt_driver_ok(c);
    read0(c, S_OK);
    return 0;
}

static int mmio_queue_reset_unnegotiated(struct hdt_ctx *c)
{
    uint32_t ready;

    if (need(c, HDT_X_MMIO))
        return -ENOTSUP;
    /* QueueReset exists only with VIRTIO_F_RING_RESET (not negotiated). */
    if (hdt_q_wr(c, HQ_SEL, 0) || hdt_reg_wr(c, MMIO, VIRTIO_MMIO_QUEUE_RESET, 4, 1) ||
        hdt_q_rd(c, HQ_READY, &ready))
        return -ENOTSUP;
    note_val(c, "QueueReady after QueueReset=1 reads ", ready);
    read0(c, S_OK);
    c->need_consume = false;
    return 0;
}

static int mmio_shm_sel_absent(struct hdt_ctx *c)
{
    uint32_t lo, hi;

    if (need(c, HDT_X_MMIO) || hdt_reg_wr(c, MMIO, VIRTIO_MMIO_SHM_SEL, 4, 0xfeu) ||
        hdt_reg_rd(c, MMIO, 0x0b0, 4, &lo) || hdt_reg_rd(c, MMIO, 0x0b4, 4, &hi))
        return -ENOTSUP;
    note_val(c, "SHMLen of region 0xfe reads ", hi);
    note_val(c, ":", lo);
    /* 4.2.2: "Reading from a non-existent region (i.e. where the ID
     * written to SHMSel is unused) results in a length of -1." (blk has
     * no shared memory regions at all.) */
    if (lo != 0xffffffffu || hi != 0xffffffffu)
        c->case_fail = true;
    c->need_consume = false;
    return 0;
}

#define MMIO_R "4.2.2.2 (content.tex 4.2 MMIO: 32-bit accesses only)"
#define MMIO_D "4.2.2.2 (no access to undescribed locations, R not written, W not read)"
#define MMIO_Q "4.2.2.2 (QueueNum <= QueueNumMax; nothing touched while QueueReady)"
#define PCI_C "4.1.4.3.2 (content.tex 4.1 PCI common configuration)"

static const struct hdt_case cases[] = {
    C("transport.mmio_narrow_read", mmio_narrow_read, 0, MMIO_R,
      "8/16-bit reads of MagicValue and Status"),
    C("transport.mmio_narrow_status_write", mmio_narrow_status_write, 0, MMIO_R,
      "16-bit write of 0 to Status (a reset at the wrong width)"),
    C("transport.mmio_narrow_notify", mmio_narrow_notify, 0, MMIO_R,
      "a read kicked only by a 16-bit QueueNotify write"),
    C("transport.mmio_undefined_read", mmio_undefined_read, 0, MMIO_D,
      "reads of the 26 undefined offsets below 0x100"),
    C("transport.mmio_undefined_write", mmio_undefined_write, 0, MMIO_D,
      "all-ones writes to the undefined offsets, then a read"),
    C("transport.mmio_write_magic", mmio_write_magic, 0, MMIO_D " / 4.2.2.1",
      "writes to MagicValue and Version (must still read virt / 2)"),
    C("transport.mmio_write_device_id", mmio_write_device_id, 0, MMIO_D,
      "writes to DeviceID and VendorID"),
    C("transport.mmio_write_queue_num_max", mmio_write_queue_num_max, 0, MMIO_D,
      "write 1 to QueueNumMax"),
    C("transport.mmio_write_interrupt_status", mmio_write_interrupt_status, 0, MMIO_D,
      "all-ones write to InterruptStatus, then a read"),
    C("transport.mmio_write_config_generation", mmio_write_config_generation, 0, MMIO_D,
      "write to ConfigGeneration"),
    C("transport.mmio_read_write_only", mmio_read_write_only, 0, MMIO_D,
      "reads of ten write-only registers"),
    C("transport.mmio_int_ack_never_set", mmio_int_ack_never_set, 0,
      "4.2.3.4 (ack only the bits InterruptStatus showed)",
      "InterruptACK of all 32 bits with nothing pending, then a read"),
    C("transport.mmio_config_past_end", mmio_config_past_end, 0, MMIO_D,
      "read/write config at 0x1f0/0x1f8, past the blk config"),
    C("transport.queue_num_gt_max", queue_num_gt_max, OWN, MMIO_Q " / 4.1.4.3.2",
      "queue size twice the maximum, queue enabled, DRIVER_OK"),
    C("transport.queue_num_zero", queue_num_zero, OWN, MMIO_Q " / 4.1.4.3.2",
      "queue size 0, queue enabled, DRIVER_OK"),
    C("transport.queue_size_not_pow2", queue_size_not_pow2, OWN,
      "4.1.4.3.2 / 2.7 (split queue size is a power of 2)",
      "queue size 12, queue enabled, DRIVER_OK"),
    C("transport.queue_sel_oob_read", queue_sel_oob_read, 0,
      "4.1.4.3.1 / 4.2.2 (unavailable queue reads size 0)",
      "select queue 1000, read its size and ready"),
    C("transport.queue_sel_oob_write", queue_sel_oob_write, OWN,
      "4.1.4.3.2 / 4.2.2.2 (only queues that exist are set up)",
      "set up and enable queue 1000, then a read on queue 0"),
    C("transport.desc_change_while_ready", desc_change_while_ready, 0, MMIO_Q " / " PCI_C,
      "queue_desc moved to a zeroed table after DRIVER_OK, then a read"),
    C("transport.size_change_while_ready", queue_size_change_while_ready, 0, MMIO_Q " / " PCI_C,
      "queue size doubled after DRIVER_OK, then a read"),
    C("transport.feature_select_oob", feature_select_oob, 0,
      "4.1.4.3.1 (feature words past 1 read 0) / 4.2.2", "device feature word 2..9 read"),
    C("transport.config_write_ro", config_write_ro, 0, "2.5 / 5.2.4 (blk capacity is read-only)",
      "write blk capacity, check config_generation, then a read"),
    C("transport.mmio_driver_features_sel_oob", mmio_driver_features_sel_oob, OWN,
      "4.2.2 (feature words past 1 hold nothing) / 2.2.1",
      "ones written to DriverFeatures word 2..9, then FEATURES_OK"),
    C("transport.mmio_queue_ready_2", mmio_queue_ready_2, OWN, "4.2.2 (QueueReady is 0 or 1)",
      "QueueReady = 2 at setup, then a read"),
    C("transport.mmio_queue_reset_unnegotiated", mmio_queue_reset_unnegotiated, 0,
      "4.2.2 (QueueReset only with VIRTIO_F_RING_RESET)",
      "QueueReset = 1 without RING_RESET, then a read"),
    C("transport.mmio_shm_sel_absent", mmio_shm_sel_absent, 0,
      "4.2.2 (a non-existent region reads length -1)", "SHMSel 0xfe, read SHMLen"),
};

const struct hdt_table hdt_table_xport = {cases, sizeof(cases) / sizeof(cases[0])};
