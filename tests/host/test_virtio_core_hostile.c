/* SPDX-License-Identifier: Apache-2.0 */
/*
 * test_virtio_core_hostile.c - cmocka tests of the virtio core against a
 * misbehaving device, over the fake register file of core_fake.c:
 * interrupt storms (no-progress interrupts counted, the source masked past
 * VIRTIO_IRQ_STORM_RUN, the queue polled and unmasked later) and the blk
 * driver's checks of absurd configuration (capacity overflow, seg_max 0,
 * blk_size, a generation that never settles).
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>
#include "platform_host.h"
#include "transport_loopback.h"
#include "virtio.h"
#include "virtio_blk.h"
#include "virtio_mmio.h"
#include "vmmio.h"
#include "core_fake.h"

/* ---- interrupt storms ---- */

static unsigned masks, unmasks;

static int fake_irq_mask(struct virtio_device *dev, unsigned q, bool masked)
{
    (void)dev;
    (void)q;
    if (masked)
        masks++;
    else
        unmasks++;
    return 0;
}

/* The used ring of queue q as the device writes it (no arena here: the
 * DMA address is the pointer). */
static struct virtq_used *used_ring(struct core_fx *f, unsigned q)
{
    uint64_t desc, avail, used;

    vq_get_ring_addrs(f->dev->vqs[q].vq, &desc, &avail, &used);
    return (struct virtq_used *)(uintptr_t)used;
}

static void raise_used(struct core_fx *f, unsigned n)
{
    for (unsigned i = 0; i < n; i++) {
        f->regs.isr = VIRTIO_INT_USED_BUFFER;
        assert_int_equal(virtio_handle_interrupt(f->dev), VIRTIO_INT_USED_BUFFER);
    }
}

struct one_buf {
    struct virtqueue *vq;
    void *token;
};

static int get_one(void *ctx)
{
    struct one_buf *b = ctx;
    uint32_t len;

    return virtio_vq_get_buf(b->vq, &b->token, &len);
}

static void storm_start(struct core_fx *f, unsigned nvqs)
{
    masks = unmasks = 0;
    assert_int_equal(virtio_device_init(f->dev, 0), 0);
    assert_int_equal(virtio_find_vqs(f->dev, nvqs, two_specs), 0);
    virtio_device_ready(f->dev);
}

/* A device that raises its line without using anything: counted, masked
 * at the threshold with one log line; the request in flight still
 * completes (polled while masked) and the source is unmasked afterwards. */
static void test_storm_masked_and_recovered(void **state)
{
    struct core_fx *f = *state;
    struct virtio_vq *v = &f->dev->vqs[0];
    static uint8_t buf[8];
    struct vq_sg sg = {.buf = buf, .len = sizeof(buf)};
    struct one_buf b = {0};
    struct virtq_used *u;
    uint64_t logs;
    uint32_t irqs;

    f->dev->irq_mask = fake_irq_mask;
    storm_start(f, 1);
    b.vq = v->vq;
    assert_int_equal(vq_add_sgs(v->vq, &sg, 0, 1, &sg), 0);
    logs = host_log_problems();
    raise_used(f, VIRTIO_IRQ_STORM_RUN - 1);
    assert_int_equal(v->irq_no_progress, VIRTIO_IRQ_STORM_RUN - 1);
    assert_false(v->irq_masked);
    assert_int_equal(masks, 0);
    raise_used(f, 1);
    assert_true(v->irq_masked);
    assert_int_equal(masks, 1);
    assert_int_equal(v->irq_storms, 1);
    assert_int_equal(host_log_problems() - logs, 1);
    /* A soft-masked source still interrupting does not start a new storm
     * nor log again. */
    raise_used(f, 2 * VIRTIO_IRQ_STORM_RUN);
    assert_int_equal(v->irq_storms, 1);
    assert_int_equal(host_log_problems() - logs, 1);
    /* The device completes; no interrupt comes (masked): the wait polls. */
    u = used_ring(f, 0);
    u->ring[0].id = 0;
    u->ring[0].len = 8;
    __atomic_store_n(&u->idx, 1, __ATOMIC_RELEASE);
    irqs = v->irq_count;
    assert_int_equal(virtio_vq_wait(f->dev, 0, get_one, &b, 2000000000ull), 1);
    assert_ptr_equal(b.token, &sg);
    assert_int_equal(v->irq_count, irqs);
    assert_int_equal(f->dev->lost_interrupts, 0);
    /* Mask time over: the next look unmasks, the next storm waits longer. */
    while (virtio_vq_storm_poll(f->dev, 0, false))
        ;
    assert_int_equal(unmasks, 1);
    assert_false(v->irq_masked);
    assert_int_equal(v->mask_ns, 2 * VIRTIO_IRQ_STORM_MASK_NS);
    /* An interrupt with progress ends the storm: the short mask again. */
    raise_used(f, 1);
    assert_int_equal(v->storm_run, 0);
    assert_int_equal(v->mask_ns, 0);
    /* A re-init starts over unmasked (the totals stay). */
    raise_used(f, VIRTIO_IRQ_STORM_RUN);
    assert_true(v->irq_masked);
    assert_int_equal(virtio_reset(f->dev), 0);
    virtio_del_vqs(f->dev);
    storm_start(f, 1);
    assert_false(v->irq_masked);
    assert_int_equal(unmasks, 1);
    assert_int_equal(v->irq_storms, 2);
}

/* Progress now and then keeps a queue out of storm territory however many
 * no-progress interrupts it sees in all. */
static void test_storm_progress_resets_run(void **state)
{
    struct core_fx *f = *state;
    struct virtio_vq *v = &f->dev->vqs[0];
    struct virtq_used *u;

    f->dev->irq_mask = fake_irq_mask;
    storm_start(f, 1);
    u = used_ring(f, 0);
    for (unsigned round = 0; round < 3; round++) {
        raise_used(f, VIRTIO_IRQ_STORM_RUN - 1);
        /* The peek only compares indices: any movement is progress. */
        __atomic_store_n(&u->idx, (uint16_t)(round + 1), __ATOMIC_RELEASE);
        raise_used(f, 1);
    }
    assert_int_equal(v->irq_no_progress, 3 * (VIRTIO_IRQ_STORM_RUN - 1));
    assert_int_equal(v->irq_storms, 0);
    assert_int_equal(masks, 0);
}

/* One line for two queues: the neighbour's progress makes the interrupt a
 * good one for both; none at all counts on both and masks the line. */
static void test_storm_shared_line(void **state)
{
    struct core_fx *f = *state;
    struct virtq_used *u1;

    storm_start(f, 2); /* no irq_mask: a soft mask */
    u1 = used_ring(f, 1);
    for (unsigned i = 0; i < 2 * VIRTIO_IRQ_STORM_RUN; i++) {
        __atomic_store_n(&u1->idx, (uint16_t)(i + 1), __ATOMIC_RELEASE);
        raise_used(f, 1);
    }
    assert_int_equal(f->dev->vqs[0].irq_no_progress, 0);
    assert_int_equal(f->dev->vqs[1].irq_no_progress, 0);
    raise_used(f, VIRTIO_IRQ_STORM_RUN);
    assert_int_equal(f->dev->vqs[0].irq_no_progress, VIRTIO_IRQ_STORM_RUN);
    assert_int_equal(f->dev->vqs[1].irq_no_progress, VIRTIO_IRQ_STORM_RUN);
    assert_true(f->dev->vqs[0].irq_masked);
    assert_true(f->dev->vqs[1].irq_masked);
    assert_int_equal(f->dev->vqs[0].irq_storms, 1);
    assert_true(virtio_vq_storm_poll(f->dev, 1, false)); /* not yet */
    assert_false(virtio_vq_storm_poll(f->dev, 1, true));
}

/* ---- absurd blk configuration (5.2.4) ---- */

#define OFFER_BLK_SIZE (OFFER_MODERN | (1ull << VIRTIO_BLK_F_BLK_SIZE))

static void blk_config_set(struct core_fx *f, uint64_t capacity, uint32_t seg_max,
                           uint32_t blk_size)
{
    memcpy(&f->regs.config[offsetof(struct virtio_blk_config, capacity)], &capacity, 8);
    memcpy(&f->regs.config[offsetof(struct virtio_blk_config, seg_max)], &seg_max, 4);
    memcpy(&f->regs.config[offsetof(struct virtio_blk_config, blk_size)], &blk_size, 4);
}

static bool is_failed_status(struct core_fx *f)
{
    return (f->regs.status & VIRTIO_STATUS_FAILED) != 0;
}

/* A capacity whose byte size overflows 64 bits is refused at probe (device
 * FAILED, one line); the largest one that fits is accepted. */
static void test_blk_capacity_overflow(void **state)
{
    struct core_fx *f = *state;
    struct virtio_blk *blk = NULL;
    uint64_t logs = host_log_problems();

    blk_config_set(f, UINT64_MAX / 512 + 1, 8, 512);
    assert_int_equal(virtio_blk_probe(f->dev, &blk), -EINVAL);
    assert_true(is_failed_status(f));
    assert_int_equal(host_log_problems() - logs, 1);
    blk_config_set(f, UINT64_MAX / 512, 8, 512);
    assert_int_equal(virtio_blk_probe(f->dev, &blk), 0);
    assert_int_equal(virtio_blk_capacity(blk), UINT64_MAX / 512);
    virtio_blk_remove(blk);
}

/* A config change to an absurd capacity is ignored: the old one stays. */
static void test_blk_capacity_change_absurd(void **state)
{
    struct core_fx *f = *state;
    struct virtio_blk *blk = NULL;
    uint64_t logs;

    blk_config_set(f, 2048, 8, 512);
    assert_int_equal(virtio_blk_probe(f->dev, &blk), 0);
    logs = host_log_problems();
    blk_config_set(f, ~0ull, 8, 512);
    f->regs.generation++;
    f->regs.isr = VIRTIO_INT_CONFIG_CHANGE;
    virtio_handle_interrupt(f->dev);
    assert_int_equal(virtio_blk_capacity(blk), 2048);
    assert_int_equal(host_log_problems() - logs, 1);
    /* A sane change is taken. */
    blk_config_set(f, 4096, 8, 512);
    f->regs.isr = VIRTIO_INT_CONFIG_CHANGE;
    virtio_handle_interrupt(f->dev);
    assert_int_equal(virtio_blk_capacity(blk), 4096);
    virtio_blk_remove(blk);
}

/* seg_max 0 with VIRTIO_BLK_F_SEG_MAX: clamped to 1, said once; requests
 * with two segments are then refused before they reach the device. */
static void test_blk_seg_max_zero(void **state)
{
    struct core_fx *f = *state;
    struct virtio_blk *blk = NULL;
    uint64_t logs = host_log_problems();
    static uint8_t data[1024];
    struct vq_sg sgs[2] = {{.buf = data, .len = 512}, {.buf = data + 512, .len = 512}};
    struct virtio_blk_req req = {.type = VIRTIO_BLK_T_IN, .nsegs = 2, .segs = sgs};

    blk_config_set(f, 2048, 0, 512);
    assert_int_equal(virtio_blk_probe(f->dev, &blk), 0);
    assert_int_equal(virtio_blk_seg_max(blk), 1);
    assert_int_equal(host_log_problems() - logs, 1);
    assert_int_equal(virtio_blk_submit(blk, &req), -EINVAL);
    virtio_blk_remove(blk);
}

/* blk_size: a power of two in [512, 64 KiB] is believed, anything else is
 * 512 with one line. */
static void test_blk_size_checked(void **state)
{
    static const struct {
        uint32_t offered, want;
        unsigned lines;
    } cases[] = {{4096, 4096, 0}, {1000, 512, 1}, {256, 512, 1}, {1u << 20, 512, 1}, {0, 512, 1}};
    struct core_fx *f = *state;

    f->regs.offered = OFFER_BLK_SIZE;
    for (unsigned i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct virtio_blk *blk = NULL;
        uint64_t logs = host_log_problems();

        blk_config_set(f, 2048, 8, cases[i].offered);
        assert_int_equal(virtio_blk_probe(f->dev, &blk), 0);
        assert_int_equal(virtio_blk_block_size(blk), cases[i].want);
        assert_int_equal(host_log_problems() - logs, cases[i].lines);
        virtio_blk_remove(blk);
    }
}

/* A generation that never settles: bounded retries, one line, the device
 * refused (FAILED) instead of driven with a torn capacity. */
static void test_blk_generation_never_settles(void **state)
{
    struct core_fx *f = *state;
    struct virtio_blk *blk = NULL;
    uint64_t logs = host_log_problems();

    blk_config_set(f, 2048, 8, 512);
    f->regs.gen_bumps_left = 1000000;
    assert_int_equal(virtio_blk_probe(f->dev, &blk), -EAGAIN);
    assert_true(is_failed_status(f));
    assert_int_equal(host_log_problems() - logs, 1);
    assert_true(f->regs.config_reads <= 2 * VIRTIO_CONFIG_RETRIES + 2);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_storm_masked_and_recovered, core_setup, core_teardown),
        cmocka_unit_test_setup_teardown(test_storm_progress_resets_run, core_setup, core_teardown),
        cmocka_unit_test_setup_teardown(test_storm_shared_line, core_setup, core_teardown),
        cmocka_unit_test_setup_teardown(test_blk_capacity_overflow, core_setup, core_teardown),
        cmocka_unit_test_setup_teardown(test_blk_capacity_change_absurd, core_setup, core_teardown),
        cmocka_unit_test_setup_teardown(test_blk_seg_max_zero, core_setup, core_teardown),
        cmocka_unit_test_setup_teardown(test_blk_size_checked, core_setup, core_teardown),
        cmocka_unit_test_setup_teardown(test_blk_generation_never_settles, core_setup, core_teardown),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
