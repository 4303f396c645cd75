/* SPDX-License-Identifier: Apache-2.0 */
/*
 * hdt_cases_pci.c - the hostile-driver transport-register class, PCI only
 * (content.tex 4.1 "Virtio Over PCI Bus"): MSI-X vectors past the table
 * (4.1.5.1.2), doorbells written wrongly (4.1.4.4, 4.1.5.2), the ISR byte
 * (4.1.4.5), read-only and wrongly sized common-configuration accesses
 * (4.1.3.1, 4.1.4.3.2). The cases SKIP on other transports; see
 * hdt_cases_xport.c for the verdict conventions.
 */
#include <errno.h>
#include <string.h>

#include "hdt_xport.h"
#include "transport_pci.h"
#include "virtio_platform.h"

/* ---- PCI only: MSI-X, notify, ISR, read-only fields ---- */

static int msix_oob(struct hdt_ctx *c, uint32_t off, bool queue)
{
    uint32_t old, got;

    if (need(c, HDT_X_PCI))
        return -ENOTSUP;
    if (queue && hdt_reg_wr(c, COMMON, VIRTIO_PCI_COMMON_Q_SELECT, 2, 0))
        return -ENOTSUP;
    if (hdt_reg_rd(c, COMMON, off, 2, &old) || hdt_reg_wr(c, COMMON, off, 2, 0x7ffu) ||
        hdt_reg_rd(c, COMMON, off, 2, &got))
        return -ENOTSUP;
    /* Put the transport's routing back, so the probe's interrupts (and a
     * NEEDS_RESET config notification) still arrive. */
    (void)hdt_reg_wr(c, COMMON, off, 2, old);
    note_val(c, "vector 0x7ff reads back ", got);
    /* 4.1.5.1.2: a mapping that failed reads NO_VECTOR; 0x7ff is past any
     * MSI-X table (at most 2048 entries, and QEMU's blk has a few). */
    if (got != VIRTIO_MSI_NO_VECTOR)
        c->case_fail = true;
    c->need_consume = false;
    return 0;
}

static int pci_msix_config_oob(struct hdt_ctx *c)
{
    return msix_oob(c, VIRTIO_PCI_COMMON_MSIX, false);
}

static int pci_msix_queue_oob(struct hdt_ctx *c)
{
    return msix_oob(c, VIRTIO_PCI_COMMON_Q_MSIX, true);
}

/* Queue 0's notify offset in the notify region (4.1.4.4). */
static int notify_off(struct hdt_ctx *c, uint32_t q, uint32_t *off)
{
    uint32_t noff;

    if (need(c, HDT_X_PCI) || hdt_reg_wr(c, COMMON, VIRTIO_PCI_COMMON_Q_SELECT, 2, q) ||
        hdt_reg_rd(c, COMMON, VIRTIO_PCI_COMMON_Q_NOFF, 2, &noff))
        return -ENOTSUP;
    *off = noff * virtio_pci_notify_multiplier(c->dev);
    return 0;
}

static int pci_notify_wrong_value(struct hdt_ctx *c)
{
    uint32_t off;

    if (notify_off(c, 0, &off))
        return -ENOTSUP;
    read0(c, S_OK);
    virt_mb(); /* 2.7.13.4: the index before the notification */
    /* 4.1.5.2: the driver writes the queue's index there; 5 is not it. */
    if (hdt_reg_wr(c, VIRTIO_REGS_PCI_NOTIFY, off, 2, 5))
        return -ENOTSUP;
    c->no_kick = true;
    c->need_consume = false;
    return 0;
}

static int pci_notify_past_queues(struct hdt_ctx *c)
{
    uint32_t nq, mult, off;

    if (need(c, HDT_X_PCI) || hdt_reg_rd(c, COMMON, VIRTIO_PCI_COMMON_NUMQ, 2, &nq))
        return -ENOTSUP;
    mult = virtio_pci_notify_multiplier(c->dev);
    if (mult == 0) {
        hdt_note(c->note, "notify_off_multiplier 0: one address for every queue");
        return -ENOTSUP;
    }
    off = (nq + (uint32_t)(c->seed % 4)) * mult;
    if (off + 2 > virtio_pci_region_len(c->dev, VIRTIO_REGS_PCI_NOTIFY)) {
        hdt_note(c->note, "the notify region ends at the last queue");
        return -ENOTSUP;
    }
    read0(c, S_OK);
    virt_mb(); /* 2.7.13.4 */
    if (hdt_reg_wr(c, VIRTIO_REGS_PCI_NOTIFY, off, 2, 0))
        return -ENOTSUP;
    note_val(c, "notify at +", off);
    c->no_kick = true;
    c->need_consume = false;
    return 0;
}

static int pci_isr_write(struct hdt_ctx *c)
{
    uint32_t v;

    if (need(c, HDT_X_PCI) || hdt_reg_wr(c, VIRTIO_REGS_PCI_ISR, 0, 1, 0xffu) ||
        hdt_reg_rd(c, VIRTIO_REGS_PCI_ISR, 0, 1, &v))
        return -ENOTSUP;
    note_val(c, "ISR after writing 0xff reads ", v);
    c->irq_lax = true;
    read0(c, S_OK);
    return 0;
}

static int pci_isr_read_clears(struct hdt_ctx *c)
{
    uint32_t a, b;
    uint16_t u0, u1;

    if (need(c, HDT_X_PCI))
        return -ENOTSUP;
    read0(c, S_OK);
    hdt_kick(c);
    if (!hdt_wait_used(c, 1, 1000000000ull)) {
        hdt_note(c->note, "the read was not served");
        c->no_kick = true;
        return 0;
    }
    /* The used idx can be seen before the interrupt that goes with it
     * (a vhost-user backend's call eventfd reaches QEMU later, and QEMU
     * sets the ISR bit only then): wait, bounded, for that interrupt to
     * be counted, so that no ISR bit is still on its way between the two
     * reads. A polled device has none to wait for. */
    {
        uint64_t t0 = virt_time_ns();

        while (!c->dev->polled && hdt_irq_q0(c) == 0 && virt_time_ns() - t0 < 500000000ull)
            ;
    }
    u0 = virt_load_acquire16(&hdt_used(c)->idx);
    if (hdt_reg_rd(c, VIRTIO_REGS_PCI_ISR, 0, 1, &a) ||
        hdt_reg_rd(c, VIRTIO_REGS_PCI_ISR, 0, 1, &b))
        return -ENOTSUP;
    u1 = virt_load_acquire16(&hdt_used(c)->idx);
    note_val(c, "ISR reads ", a);
    note_val(c, " then ", b);
    /* 4.1.4.5: "simply reading this register resets it to 0". */
    if ((b & 1) && u0 == u1)
        c->case_fail = true;
    c->no_kick = true;
    return 0;
}

static int pci_ro_fields(struct hdt_ctx *c)
{
    uint32_t nq0, nq1, df0, df1, no0, no1;
    unsigned changed = 0;

    if (need(c, HDT_X_PCI) || hdt_reg_rd(c, COMMON, VIRTIO_PCI_COMMON_NUMQ, 2, &nq0) ||
        hdt_reg_wr(c, COMMON, VIRTIO_PCI_COMMON_DFSELECT, 4, 0) ||
        hdt_reg_rd(c, COMMON, VIRTIO_PCI_COMMON_DF, 4, &df0) ||
        hdt_reg_wr(c, COMMON, VIRTIO_PCI_COMMON_Q_SELECT, 2, 0) ||
        hdt_reg_rd(c, COMMON, VIRTIO_PCI_COMMON_Q_NOFF, 2, &no0))
        return -ENOTSUP;
    /* 4.1.4.3.2: "The driver MUST NOT write to device_feature, num_queues,
     * config_generation, queue_notify_off". */
    (void)hdt_reg_wr(c, COMMON, VIRTIO_PCI_COMMON_NUMQ, 2, 0x7f);
    (void)hdt_reg_wr(c, COMMON, VIRTIO_PCI_COMMON_DF, 4, 0xffffffffu);
    (void)hdt_reg_wr(c, COMMON, VIRTIO_PCI_COMMON_Q_NOFF, 2, 0x55);
    (void)hdt_reg_wr(c, COMMON, VIRTIO_PCI_COMMON_CFGGENERATION, 1, 0xaa);
    (void)hdt_reg_rd(c, COMMON, VIRTIO_PCI_COMMON_NUMQ, 2, &nq1);
    (void)hdt_reg_rd(c, COMMON, VIRTIO_PCI_COMMON_DF, 4, &df1);
    (void)hdt_reg_rd(c, COMMON, VIRTIO_PCI_COMMON_Q_NOFF, 2, &no1);
    changed = (nq0 != nq1) + (df0 != df1) + (no0 != no1);
    hdt_note(c->note, "read-only fields changed: ");
    hdt_note_u(c->note, changed, false);
    c->irq_lax = true;
    took(c, changed, ";");
    read0(c, S_OK);
    c->need_consume = true;
    return 0;
}

static int pci_queue_enable_zero(struct hdt_ctx *c)
{
    uint32_t v;

    if (need(c, HDT_X_PCI) || hdt_q_wr(c, HQ_SEL, 0) || hdt_q_wr(c, HQ_READY, 0) ||
        hdt_q_rd(c, HQ_READY, &v))
        return -ENOTSUP;
    note_val(c, "queue_enable after writing 0 reads ", v);
    read0(c, S_OK);
    c->need_consume = false;
    return 0;
}

static int pci_status_wide_write(struct hdt_ctx *c)
{
    uint32_t st;

    if (need(c, HDT_X_PCI))
        return -ENOTSUP;
    /* 4.1.3.1: each field with its own width. One 32-bit store over
     * device_status (same value), config_generation (read-only) and
     * queue_select (0). */
    st = hdt_status(c);
    if (hdt_reg_wr(c, COMMON, VIRTIO_PCI_COMMON_STATUS, 4, st | 0xaa00u))
        return -ENOTSUP;
    note_val(c, "status after a 32-bit write reads ", hdt_status(c));
    c->irq_lax = true;
    read0(c, S_OK);
    c->need_consume = false;
    return 0;
}

static int pci_common_narrow_read(struct hdt_ctx *c)
{
    uint32_t nq8, nq16, df16;

    if (need(c, HDT_X_PCI) || hdt_reg_rd(c, COMMON, VIRTIO_PCI_COMMON_NUMQ, 1, &nq8) ||
        hdt_reg_rd(c, COMMON, VIRTIO_PCI_COMMON_NUMQ, 2, &nq16) ||
        hdt_reg_wr(c, COMMON, VIRTIO_PCI_COMMON_DFSELECT, 4, 1) ||
        hdt_reg_rd(c, COMMON, VIRTIO_PCI_COMMON_DF, 2, &df16))
        return -ENOTSUP;
    /* 4.1.3.1: a 16-bit field read with 8 bits, a 32-bit one with 16. */
    note_val(c, "num_queues 8-bit ", nq8);
    note_val(c, " (16-bit ", nq16);
    note_val(c, "), device_feature[1] 16-bit ", df16);
    took(c, nq8 == (nq16 & 0xff), ";");
    return 0;
}

static int pci_driver_feature_select_oob(struct hdt_ctx *c)
{
    uint32_t v;

    if (need(c, HDT_X_PCI))
        return -ENOTSUP;
    if (hdt_open(c, HDT_OPEN_NO_FEATURES_OK | HDT_OPEN_NO_QUEUE, 0) < 0)
        return -EIO;
    if (hdt_reg_wr(c, COMMON, VIRTIO_PCI_COMMON_GFSELECT, 4, 2u + (uint32_t)(c->seed % 8)) ||
        hdt_reg_wr(c, COMMON, VIRTIO_PCI_COMMON_GF, 4, 0xffffffffu) ||
        hdt_reg_rd(c, COMMON, VIRTIO_PCI_COMMON_GF, 4, &v))
        return -ENOTSUP;
    note_val(c, "driver_feature word 2+ after ones reads ", v);
    c->dev->ops->set_status(c->dev, (uint8_t)(hdt_status(c) | VIRTIO_STATUS_FEATURES_OK));
    hdt_note(c->note, hdt_status(c) & VIRTIO_STATUS_FEATURES_OK ? ", FEATURES_OK kept"
                                                                : ", FEATURES_OK refused");
    c->reject = !(hdt_status(c) & VIRTIO_STATUS_FEATURES_OK);
    c->need_consume = false;
    (void)hdt_open(c, 0, 0);
    return 0;
}

#define MMIO_R "4.2.2.2 (content.tex 4.2 MMIO: 32-bit accesses only)"
#define MMIO_D "4.2.2.2 (no access to undescribed locations, R not written, W not read)"
#define MMIO_Q "4.2.2.2 (QueueNum <= QueueNumMax; nothing touched while QueueReady)"
#define PCI_C "4.1.4.3.2 (content.tex 4.1 PCI common configuration)"

static const struct hdt_case cases[] = {
    C("transport.pci_msix_config_oob", pci_msix_config_oob, 0,
      "4.1.5.1.2 (a failed mapping reads NO_VECTOR)", "config_msix_vector 0x7ff (past the table)"),
    C("transport.pci_msix_queue_oob", pci_msix_queue_oob, 0,
      "4.1.5.1.2 (a failed mapping reads NO_VECTOR)", "queue_msix_vector 0x7ff (past the table)"),
    C("transport.pci_notify_wrong_value", pci_notify_wrong_value, 0,
      "4.1.5.2 (the notification carries the queue index)",
      "queue 0's doorbell written with index 5"),
    C("transport.pci_notify_past_queues", pci_notify_past_queues, 0,
      "4.1.4.4 (queue_notify_off * multiplier of an existing queue)",
      "doorbell of a queue past num_queues"),
    C("transport.pci_isr_write", pci_isr_write, 0, "4.1.4.5 (ISR status is read-only)",
      "write 0xff to the ISR byte, then a read"),
    C("transport.pci_isr_read_clears", pci_isr_read_clears, 0,
      "4.1.4.5 (reading ISR resets it to 0)", "two ISR reads after a served read"),
    C("transport.pci_ro_fields", pci_ro_fields, 0, PCI_C,
      "writes to num_queues, device_feature, queue_notify_off, config_generation"),
    C("transport.pci_queue_enable_zero", pci_queue_enable_zero, 0,
      "4.1.4.3.2 (MUST NOT write 0 to queue_enable)", "queue_enable = 0 after DRIVER_OK"),
    C("transport.pci_status_wide_write", pci_status_wide_write, 0,
      "4.1.3.1 (each field with its own width)",
      "32-bit write over device_status, config_generation, queue_select"),
    C("transport.pci_common_narrow_read", pci_common_narrow_read, 0,
      "4.1.3.1 (each field with its own width)", "8-bit num_queues, 16-bit device_feature reads"),
    C("transport.pci_driver_feature_select_oob", pci_driver_feature_select_oob, OWN,
      "4.1.4.3 (feature words past 1 hold nothing) / 2.2.1",
      "ones written to driver_feature word 2..9, then FEATURES_OK"),
};

const struct hdt_table hdt_table_pci = {cases, sizeof(cases) / sizeof(cases[0])};
