/* SPDX-License-Identifier: Apache-2.0 */
/*
 * test_transport_pci.c - cmocka tests of the virtio PCI modern transport
 * (drivers/virtio/transport_pci.c) through the virtio core, against a fake
 * device defined here: the regions are plain arrays and the accessor
 * decodes common-cfg offsets (VIRTIO 1.2 4.1.4.3) into a small model with
 * per-queue state behind queue_select. The fake flags every access that
 * falls outside a region, so "never trust the device" is checked as "no
 * access outside what the capabilities describe".
 *
 * What is checked: init + queue set-up registers (4.1.5.1.3) and notify
 * addresses (4.1.4.4), MSI-X vectors written and read back after reset
 * (4.1.5.1.2), refusal -> polled, reset waits for status 0 and times out,
 * notify offsets outside the region, device config shorter than a read,
 * ISR read-to-clear, region validity arithmetic, missing regions.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "platform_host.h"
#include "transport_pci.h"
#include "virtio_platform.h"
#include "virtio.h"

#define FQ 4

struct fake {
    uint8_t common[VIRTIO_PCI_COMMON_MIN_LEN];
    uint8_t notify[64];
    uint8_t isr[1];
    uint8_t devcfg[6];
    uint64_t offered, accepted;
    uint32_t dfsel, gfsel;
    uint16_t qsel, cfg_msix, nvectors, num_queues;
    uint8_t status;
    unsigned status_busy_reads; /* reads of status that stay non-zero after a reset */
    bool status_never_clears;
    uint16_t qsize[FQ], qmax[FQ], qmsix[FQ], qenable[FQ], qnoff[FQ];
    uint64_t qdesc[FQ], qavail[FQ], qused[FQ];
    unsigned notifies[FQ];
    unsigned bad_accesses;
    unsigned resets;
};

static struct fake F;

static bool in(const uint8_t *base, size_t len, volatile uint8_t *a, unsigned size)
{
    return (const uint8_t *)a >= base && (const uint8_t *)a + size <= base + len;
}

static void set64(uint64_t *v, bool hi, uint32_t x)
{
    *v = hi ? (*v & 0xffffffffull) | (uint64_t)x << 32 : (*v & ~0xffffffffull) | x;
}

static uint32_t common_read(uint32_t off)
{
    unsigned q = F.qsel;

    switch (off) {
    case VIRTIO_PCI_COMMON_DF:
        return F.dfsel == 0 ? (uint32_t)F.offered : F.dfsel == 1 ? (uint32_t)(F.offered >> 32) : 0;
    case VIRTIO_PCI_COMMON_MSIX:
        return F.cfg_msix;
    case VIRTIO_PCI_COMMON_NUMQ:
        return F.num_queues;
    case VIRTIO_PCI_COMMON_STATUS:
        if (F.status == 0 && (F.status_never_clears || F.status_busy_reads)) {
            if (F.status_busy_reads)
                F.status_busy_reads--;
            return 0x40;
        }
        return F.status;
    case VIRTIO_PCI_COMMON_CFGGENERATION:
        return 0;
    case VIRTIO_PCI_COMMON_Q_SELECT:
        return F.qsel;
    }
    if (q >= FQ)
        return 0;
    switch (off) {
    case VIRTIO_PCI_COMMON_Q_SIZE:
        return F.qsize[q];
    case VIRTIO_PCI_COMMON_Q_MSIX:
        return F.qmsix[q];
    case VIRTIO_PCI_COMMON_Q_ENABLE:
        return F.qenable[q];
    case VIRTIO_PCI_COMMON_Q_NOFF:
        return F.qnoff[q];
    }
    return 0;
}

static void fake_reset(void)
{
    F.status = 0;
    F.accepted = 0;
    F.cfg_msix = VIRTIO_MSI_NO_VECTOR;
    for (unsigned q = 0; q < FQ; q++) {
        F.qsize[q] = F.qmax[q];
        F.qmsix[q] = VIRTIO_MSI_NO_VECTOR;
        F.qenable[q] = 0;
    }
    F.resets++;
}

static void common_write(uint32_t off, uint32_t v)
{
    unsigned q = F.qsel;

    switch (off) {
    case VIRTIO_PCI_COMMON_DFSELECT:
        F.dfsel = v;
        return;
    case VIRTIO_PCI_COMMON_GFSELECT:
        F.gfsel = v;
        return;
    case VIRTIO_PCI_COMMON_GF:
        set64(&F.accepted, F.gfsel == 1, v);
        return;
    case VIRTIO_PCI_COMMON_MSIX:
        F.cfg_msix = v < F.nvectors ? (uint16_t)v : VIRTIO_MSI_NO_VECTOR;
        return;
    case VIRTIO_PCI_COMMON_STATUS:
        if (v == 0)
            fake_reset();
        else
            F.status = (uint8_t)v;
        return;
    case VIRTIO_PCI_COMMON_Q_SELECT:
        F.qsel = (uint16_t)v;
        return;
    }
    if (q >= FQ)
        return;
    switch (off) {
    case VIRTIO_PCI_COMMON_Q_SIZE:
        F.qsize[q] = (uint16_t)v;
        return;
    case VIRTIO_PCI_COMMON_Q_MSIX:
        F.qmsix[q] = v < F.nvectors ? (uint16_t)v : VIRTIO_MSI_NO_VECTOR;
        return;
    case VIRTIO_PCI_COMMON_Q_ENABLE:
        F.qenable[q] = (uint16_t)v;
        return;
    case VIRTIO_PCI_COMMON_Q_DESCLO:
    case VIRTIO_PCI_COMMON_Q_DESCHI:
        set64(&F.qdesc[q], off == VIRTIO_PCI_COMMON_Q_DESCHI, v);
        return;
    case VIRTIO_PCI_COMMON_Q_AVAILLO:
    case VIRTIO_PCI_COMMON_Q_AVAILHI:
        set64(&F.qavail[q], off == VIRTIO_PCI_COMMON_Q_AVAILHI, v);
        return;
    case VIRTIO_PCI_COMMON_Q_USEDLO:
    case VIRTIO_PCI_COMMON_Q_USEDHI:
        set64(&F.qused[q], off == VIRTIO_PCI_COMMON_Q_USEDHI, v);
        return;
    }
}

static uint32_t fake_read(void *ctx, volatile uint8_t *a, unsigned size)
{
    uint32_t v = 0;

    (void)ctx;
    if (in(F.common, sizeof(F.common), a, size))
        return common_read((uint32_t)((const uint8_t *)a - F.common));
    if (in(F.isr, sizeof(F.isr), a, size)) {
        v = F.isr[0];
        F.isr[0] = 0; /* 4.1.4.5: read to clear */
        return v;
    }
    if (in(F.devcfg, sizeof(F.devcfg), a, size)) {
        memcpy(&v, (const uint8_t *)a, size);
        return v;
    }
    F.bad_accesses++;
    return 0xffffffffu;
}

static void fake_write(void *ctx, volatile uint8_t *a, uint32_t v, unsigned size)
{
    (void)ctx;
    if (in(F.common, sizeof(F.common), a, size)) {
        common_write((uint32_t)((const uint8_t *)a - F.common), v);
        return;
    }
    if (in(F.devcfg, sizeof(F.devcfg), a, size)) {
        memcpy((uint8_t *)a, &v, size);
        return;
    }
    if (in(F.notify, sizeof(F.notify), a, size) && size == 2) {
        size_t off = (size_t)((const uint8_t *)a - F.notify);

        if (v < FQ && off == (size_t)F.qnoff[v] * 4)
            F.notifies[v]++;
        else
            F.bad_accesses++;
        return;
    }
    F.bad_accesses++;
}

static const struct virtio_pci_io fake_io = {fake_read, fake_write, NULL};

static struct virtio_pci_layout fake_layout(void)
{
    struct virtio_pci_layout l = {
        .common = {F.common, sizeof(F.common)},
        .notify = {F.notify, sizeof(F.notify)},
        .isr = {F.isr, sizeof(F.isr)},
        .device = {F.devcfg, sizeof(F.devcfg)},
        .notify_off_multiplier = 4,
    };
    return l;
}

static int setup(void **state)
{
    struct virtio_pci_layout l;
    struct virtio_device *dev;

    memset(&F, 0, sizeof(F));
    F.offered = (1ull << VIRTIO_F_VERSION_1) | (1ull << VIRTIO_F_EVENT_IDX);
    F.num_queues = 2;
    F.nvectors = 3;
    for (unsigned q = 0; q < FQ; q++) {
        F.qmax[q] = 256;
        F.qnoff[q] = (uint16_t)q;
    }
    fake_reset();
    for (unsigned i = 0; i < sizeof(F.devcfg); i++)
        F.devcfg[i] = (uint8_t)(0x10 + i);
    l = fake_layout();
    assert_int_equal(virtio_pci_device_create(&l, &fake_io, 2, "ptest0", &dev), 0);
    *state = dev;
    return 0;
}

static int teardown(void **state)
{
    virtio_pci_device_destroy(*state);
    assert_int_equal(F.bad_accesses, 0);
    return 0;
}

static const struct virtio_vq_spec specs[2] = {{0, 0, NULL}, {0, 0, NULL}};

static void test_init_and_queues(void **state)
{
    struct virtio_device *dev = *state;
    static const uint16_t qe[2] = {1, 2};
    uint64_t desc, avail, used;

    assert_int_equal(virtio_pci_num_queues(dev), 2);
    virtio_pci_device_set_msix(dev, 0, qe, 2);
    assert_int_equal(virtio_device_init(dev, 0), 0);
    assert_int_equal(F.cfg_msix, 0); /* written after the reset */
    assert_true(F.accepted & (1ull << VIRTIO_F_VERSION_1));
    assert_int_equal(virtio_find_vqs(dev, 2, specs), 0);
    virtio_device_ready(dev);
    assert_true(F.status & VIRTIO_STATUS_DRIVER_OK);
    for (unsigned q = 0; q < 2; q++) {
        vq_get_ring_addrs(virtio_vq(dev, q), &desc, &avail, &used);
        assert_int_equal(F.qdesc[q], desc);
        assert_int_equal(F.qavail[q], avail);
        assert_int_equal(F.qused[q], used);
        assert_int_equal(F.qsize[q], 256);
        assert_int_equal(F.qenable[q], 1);
        assert_int_equal(F.qmsix[q], qe[q]);
        assert_int_equal(virtio_pci_queue_vector(dev, q), qe[q]);
        dev->ops->notify(dev, q);
        assert_int_equal(F.notifies[q], 1);
    }
    assert_false(dev->polled);
    /* a third queue the device does not have */
    assert_int_equal(dev->ops->queue_max(dev, 2), 0);
    /* an enabled queue is not offered again */
    assert_int_equal(dev->ops->queue_max(dev, 0), 0);
    /* reset: every vector back to NO_VECTOR, config vector written again */
    F.cfg_msix = 7;
    assert_int_equal(virtio_reset(dev), 0);
    assert_int_equal(F.cfg_msix, 0);
    assert_int_equal(virtio_pci_queue_vector(dev, 0), VIRTIO_MSI_NO_VECTOR);
    /* notify after reset goes nowhere (address re-checked at set-up) */
    dev->ops->notify(dev, 0);
    assert_int_equal(F.notifies[0], 1);
    virtio_del_vqs(dev);
}

static void test_refused_vector_polls(void **state)
{
    struct virtio_device *dev = *state;
    static const uint16_t qe[2] = {1, 2};

    F.nvectors = 2; /* entry 2 does not exist: the device refuses it */
    virtio_pci_device_set_msix(dev, 0, qe, 2);
    assert_int_equal(virtio_device_init(dev, 0), 0);
    assert_int_equal(virtio_find_vqs(dev, 2, specs), 0);
    assert_int_equal(virtio_pci_queue_vector(dev, 0), 1);
    assert_int_equal(virtio_pci_queue_vector(dev, 1), VIRTIO_MSI_NO_VECTOR);
    assert_int_equal(virtio_pci_refused_vectors(dev), 1);
    assert_true(dev->polled);
    (void)virtio_reset(dev);
    virtio_del_vqs(dev);
}

static void test_reset_waits_for_zero(void **state)
{
    struct virtio_device *dev = *state;
    unsigned before = F.resets;

    F.status_busy_reads = 5;
    assert_int_equal(dev->ops->reset(dev), 0);
    assert_int_equal(F.status_busy_reads, 0);
    assert_int_equal(F.resets, before + 1);
    F.status_never_clears = true;
    assert_int_equal(dev->ops->reset(dev), -ETIMEDOUT);
    F.status_never_clears = false;
}

static void test_notify_offset_outside_region(void **state)
{
    struct virtio_device *dev = *state;

    F.qnoff[1] = 1000; /* 4000 bytes into a 64-byte region */
    assert_int_equal(virtio_device_init(dev, 0), 0);
    assert_int_not_equal(virtio_find_vqs(dev, 2, specs), 0);
    assert_int_equal(dev->nvqs, 0);
    dev->ops->notify(dev, 1); /* dropped, not written out of bounds */
}

static void test_config_shorter_than_read(void **state)
{
    struct virtio_device *dev = *state;
    uint8_t buf[12];

    memset(buf, 0xee, sizeof(buf));
    assert_int_equal(virtio_cread(dev, 2, buf, sizeof(buf)), 0);
    /* bytes 2..5 exist, the rest reads as zero without an access */
    assert_int_equal(buf[0], 0x12);
    assert_int_equal(buf[3], 0x15);
    for (unsigned i = 4; i < sizeof(buf); i++)
        assert_int_equal(buf[i], 0);
    /* a write that runs past the end: the part inside lands, the rest is
     * dropped before it reaches the device (the fake counts bad accesses) */
    dev->ops->write_config(dev, 4, buf, 8);
    assert_int_equal(F.devcfg[3], 0x13);
    assert_int_equal(F.devcfg[4], 0x12);
    assert_int_equal(F.devcfg[5], 0x13);
}

static void test_isr_read_clears(void **state)
{
    struct virtio_device *dev = *state;

    F.isr[0] = VIRTIO_INT_CONFIG_CHANGE | 0x80;
    assert_int_equal(dev->ops->interrupt_ack(dev), VIRTIO_INT_CONFIG_CHANGE);
    assert_int_equal(dev->ops->interrupt_ack(dev), 0);
}

/* hdt's raw hook (virtio.h reg_read/reg_write): reaches each region as
 * given, with no select written first, never outside a region. */
static void test_raw_regs(void **state)
{
    struct virtio_device *dev = *state;
    const struct virtio_transport_ops *ops = dev->ops;
    uint32_t v = 0;

    assert_int_equal(ops->reg_read(dev, VIRTIO_REGS_PCI_COMMON, VIRTIO_PCI_COMMON_NUMQ, 2, &v), 0);
    assert_int_equal(v, 2);
    assert_int_equal(ops->reg_write(dev, VIRTIO_REGS_PCI_COMMON, VIRTIO_PCI_COMMON_Q_SELECT, 2, 3),
                     0);
    assert_int_equal(F.qsel, 3);
    assert_int_equal(ops->reg_write(dev, VIRTIO_REGS_PCI_NOTIFY, 4, 2, 1), 0); /* queue 1's */
    assert_int_equal(F.notifies[1], 1);
    assert_int_equal(ops->reg_read(dev, VIRTIO_REGS_PCI_DEVICE, 4, 2, &v), 0);
    assert_int_equal(v, 0x1514);
    /* Past a region's end, misaligned, a bad size, MMIO's space. */
    assert_int_equal(ops->reg_write(dev, VIRTIO_REGS_PCI_NOTIFY, 63, 2, 0), -EINVAL);
    assert_int_equal(ops->reg_read(dev, VIRTIO_REGS_PCI_ISR, 0, 2, &v), -EINVAL);
    assert_int_equal(ops->reg_read(dev, VIRTIO_REGS_PCI_COMMON, 1, 2, &v), -EINVAL);
    assert_int_equal(ops->reg_read(dev, VIRTIO_REGS_PCI_COMMON, 0, 8, &v), -EINVAL);
    assert_int_equal(ops->reg_read(dev, VIRTIO_REGS_MMIO, 0, 4, &v), -ENOTSUP);
    assert_int_equal(virtio_pci_region_len(dev, VIRTIO_REGS_PCI_NOTIFY), 64);
}

static void test_region_validity(void **state)
{
    (void)state;
    assert_true(virtio_pci_is_region_valid(0x4000, 0x3000, 0x1000, 0x38));
    assert_false(virtio_pci_is_region_valid(0x4000, 0x3001, 0x1000, 1));
    assert_false(virtio_pci_is_region_valid(0x4000, 0, 0x10, 0x38));
    assert_false(virtio_pci_is_region_valid(0x4000, 0xfffffff0u, 0x20, 1)); /* no wrap */
    assert_false(virtio_pci_is_region_valid(0, 0, 1, 1));
}

static void test_missing_regions(void **state)
{
    struct virtio_pci_layout l = fake_layout();
    struct virtio_device *dev = NULL;

    (void)state;
    l.common.len = VIRTIO_PCI_COMMON_MIN_LEN - 1;
    assert_int_equal(virtio_pci_device_create(&l, &fake_io, 2, "bad", &dev), -EINVAL);
    l = fake_layout();
    l.isr.base = NULL;
    assert_int_equal(virtio_pci_device_create(&l, &fake_io, 2, "bad", &dev), -EINVAL);
    l = fake_layout();
    l.notify.len = 1;
    assert_int_equal(virtio_pci_device_create(&l, &fake_io, 2, "bad", &dev), -EINVAL);
    assert_null(dev);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_init_and_queues, setup, teardown),
        cmocka_unit_test_setup_teardown(test_refused_vector_polls, setup, teardown),
        cmocka_unit_test_setup_teardown(test_reset_waits_for_zero, setup, teardown),
        cmocka_unit_test_setup_teardown(test_notify_offset_outside_region, setup, teardown),
        cmocka_unit_test_setup_teardown(test_config_shorter_than_read, setup, teardown),
        cmocka_unit_test_setup_teardown(test_isr_read_clears, setup, teardown),
        cmocka_unit_test_setup_teardown(test_raw_regs, setup, teardown),
        cmocka_unit_test(test_region_validity),
        cmocka_unit_test(test_missing_regions),
    };

    host_log_level_set(VIRT_LOG_ERR - 1); /* expected warnings stay quiet */
    return cmocka_run_group_tests(tests, NULL, NULL);
}
