/* SPDX-License-Identifier: Apache-2.0 */
/*
 * hdt_oracle.c - what the transport-register and state-machine cases
 * (hdt_cases_xport.c, hdt_cases_state.c) use of the engine: raw register
 * accesses through the transport's optional reg_read/reg_write hooks
 * (virtio.h), the selected queue's registers by meaning on either
 * transport, and the interrupt oracle the engine runs for every case.
 *
 * Interrupt oracle. The counts are the core's: dev->queue_interrupts[0]
 * (used-buffer interrupts of queue 0's source: its MSI-X vector, or the one
 * line of MMIO/loopback/INTx) and dev->config_interrupts (configuration
 * change notifications seen in the ISR / InterruptStatus). Taken when the
 * case begins and again before the probe, they FAIL a case when
 *  - queue 0 got a used-buffer interrupt although nothing was ever put in
 *    its used ring in that window (2.7.7 / 2.7.10: the notification says
 *    "buffers were used"; with avail flags 0 the driver asked for them), or
 *  - a configuration change notification came although config_generation
 *    did not move and DEVICE_NEEDS_RESET is not set (4.1.4.3 / 4.2.2: the
 *    generation changes with the configuration; 2.1.2: NEEDS_RESET comes
 *    with a config notification; nothing else is a config change).
 * Neither rule is applied once the device set DEVICE_NEEDS_RESET, nor to a
 * case that reset the device itself (a second
 * session: what came across the reset is not attributable) or whose own
 * step makes them unattributable (irq_lax: it changes status or config on
 * purpose, or moves the rings). Interrupts are counted in interrupt
 * context; the loads here are relaxed counters read after the waits, so a
 * late interrupt can only add to the next window, never remove one.
 */
#include <errno.h>
#include <string.h>

#include "hdt_internal.h"
#include "transport_pci.h"
#include "virtio_mmio.h"
#include "virtio_platform.h"

enum hdt_xport hdt_xport(struct hdt_ctx *c)
{
    const char *n = c->dev->ops->name;

    if (strcmp(n, "pci") == 0)
        return HDT_X_PCI;
    if (strcmp(n, "mmio") == 0 || strcmp(n, "loopback") == 0)
        return HDT_X_MMIO;
    return HDT_X_OTHER;
}

static int hdt_reg_err(struct hdt_ctx *c, int err, unsigned space, uint32_t off)
{
    if (err == -ENOTSUP)
        hdt_note(c->note, "transport has no such register space");
    else {
        hdt_note(c->note, "raw access not expressible at space ");
        hdt_note_u(c->note, space, false);
        hdt_note(c->note, " offset ");
        hdt_note_u(c->note, off, true);
    }
    return err;
}

int hdt_reg_rd(struct hdt_ctx *c, unsigned space, uint32_t off, unsigned size, uint32_t *v)
{
    const struct virtio_transport_ops *ops = c->dev->ops;
    int err;

    *v = 0;
    if (!ops->reg_read)
        return hdt_reg_err(c, -ENOTSUP, space, off);
    err = ops->reg_read(c->dev, space, off, size, v);
    return err ? hdt_reg_err(c, err, space, off) : 0;
}

int hdt_reg_wr(struct hdt_ctx *c, unsigned space, uint32_t off, unsigned size, uint32_t v)
{
    const struct virtio_transport_ops *ops = c->dev->ops;
    int err;

    if (!ops->reg_write)
        return hdt_reg_err(c, -ENOTSUP, space, off);
    err = ops->reg_write(c->dev, space, off, size, v);
    return err ? hdt_reg_err(c, err, space, off) : 0;
}

/* Offset and width of a queue register; false: not on this transport. */
static bool hdt_qreg_at(struct hdt_ctx *c, enum hdt_qreg r, bool read, unsigned *space,
                        uint32_t *off, unsigned *size)
{
    /* 4.2.2 (MMIO, all 32-bit) and 4.1.4.3 (PCI common configuration). */
    static const uint16_t mmio[] = {VIRTIO_MMIO_QUEUE_SEL,        VIRTIO_MMIO_QUEUE_NUM,
                                    VIRTIO_MMIO_QUEUE_READY,      VIRTIO_MMIO_QUEUE_DESC_LOW,
                                    VIRTIO_MMIO_QUEUE_DRIVER_LOW, VIRTIO_MMIO_QUEUE_DEVICE_LOW};
    static const uint16_t pci[] = {VIRTIO_PCI_COMMON_Q_SELECT,  VIRTIO_PCI_COMMON_Q_SIZE,
                                   VIRTIO_PCI_COMMON_Q_ENABLE,  VIRTIO_PCI_COMMON_Q_DESCLO,
                                   VIRTIO_PCI_COMMON_Q_AVAILLO, VIRTIO_PCI_COMMON_Q_USEDLO};

    switch (hdt_xport(c)) {
    case HDT_X_MMIO:
        *space = VIRTIO_REGS_MMIO;
        *off = mmio[r];
        if (read && r == HQ_NUM)
            *off = VIRTIO_MMIO_QUEUE_NUM_MAX; /* QueueNum is write-only */
        *size = 4;
        return true;
    case HDT_X_PCI:
        *space = VIRTIO_REGS_PCI_COMMON;
        *off = pci[r];
        *size = r >= HQ_DESC ? 4 : 2;
        return true;
    default:
        hdt_note(c->note, "transport has no raw queue registers");
        return false;
    }
}

int hdt_q_wr(struct hdt_ctx *c, enum hdt_qreg r, uint64_t v)
{
    unsigned space, size;
    uint32_t off;
    int err;

    if (!hdt_qreg_at(c, r, false, &space, &off, &size))
        return -ENOTSUP;
    err = hdt_reg_wr(c, space, off, size, (uint32_t)v);
    if (err == 0 && r >= HQ_DESC)
        err = hdt_reg_wr(c, space, off + 4, 4, (uint32_t)(v >> 32));
    return err;
}

int hdt_q_rd(struct hdt_ctx *c, enum hdt_qreg r, uint32_t *v)
{
    unsigned space, size;
    uint32_t off;

    *v = 0;
    if (!hdt_qreg_at(c, r, true, &space, &off, &size))
        return -ENOTSUP;
    return hdt_reg_rd(c, space, off, size, v);
}

/* ---- the interrupt oracle ---- */

/* The previous case's probe was seen by polling its used ring; its
 * interrupt may still be on the way (another CPU, or a host thread that
 * was descheduled between the ISR read and the count). Wait until the
 * counts are still for HDT_IRQ_SETTLE_NS, at most HDT_IRQ_SETTLE_ROUNDS
 * times, so it is not charged to this case. */
#define HDT_IRQ_SETTLE_NS 5000000ull
#define HDT_IRQ_SETTLE_ROUNDS 10

void hdt_irq_begin(struct hdt_ctx *c)
{
    unsigned round;

    for (round = 0; round < HDT_IRQ_SETTLE_ROUNDS; round++) {
        uint64_t start = virt_time_ns();

        c->irq_q0 = __atomic_load_n(&c->dev->queue_interrupts[0], __ATOMIC_RELAXED);
        c->irq_cfg = __atomic_load_n(&c->dev->config_interrupts, __ATOMIC_RELAXED);
        if (c->dev->polled)
            break;
        while (virt_time_ns() - start < HDT_IRQ_SETTLE_NS)
            ;
        if (__atomic_load_n(&c->dev->queue_interrupts[0], __ATOMIC_RELAXED) == c->irq_q0 &&
            __atomic_load_n(&c->dev->config_interrupts, __ATOMIC_RELAXED) == c->irq_cfg)
            break;
    }
    c->gen0 = c->dev->ops->config_generation(c->dev);
}

uint64_t hdt_irq_q0(struct hdt_ctx *c)
{
    return __atomic_load_n(&c->dev->queue_interrupts[0], __ATOMIC_RELAXED) - c->irq_q0;
}

bool hdt_irq_check(struct hdt_ctx *c, struct hdt_result *r)
{
    uint64_t dq = hdt_irq_q0(c);
    uint64_t dc = __atomic_load_n(&c->dev->config_interrupts, __ATOMIC_RELAXED) - c->irq_cfg;
    uint16_t used = virt_load_acquire16(&hdt_used(c)->idx);

    /* A device that set DEVICE_NEEDS_RESET has given up on its queues: what
     * it notified on the way (QEMU may notify a queue in the same breath as
     * virtio_error) is not judged; the NEEDS_RESET verdict says enough. */
    if (c->opens > 1 || c->dev->polled || c->irq_lax ||
        (hdt_status(c) & VIRTIO_STATUS_DEVICE_NEEDS_RESET))
        return true;
    if (dq && used == 0 && c->used_seen == 0) {
        r->verdict = HDT_FAIL;
        hdt_note(r->detail, "queue 0 used-buffer interrupt(s) ");
        hdt_note_u(r->detail, dq, false);
        hdt_note(r->detail, " with no used-ring progress (2.7.7)");
        return false;
    }
    if (dc && c->dev->ops->config_generation(c->dev) == c->gen0) {
        r->verdict = HDT_FAIL;
        hdt_note(r->detail, "config interrupt(s) ");
        hdt_note_u(r->detail, dc, false);
        hdt_note(r->detail, " without a config change or DEVICE_NEEDS_RESET (4.1.4.3/4.2.2)");
        return false;
    }
    return true;
}
