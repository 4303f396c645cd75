/* SPDX-License-Identifier: Apache-2.0 */
/*
 * test_virtio_core.c - cmocka tests of the virtio core (drivers/virtio/
 * virtio.c) through the loopback transport (transport_loopback.c), against
 * a small fake virtio-mmio v2 register file (core_fake.c).
 *
 * What is checked: the 3.1.1 status sequence, feature negotiation (VERSION_1
 * missing, FEATURES_OK refused, test hooks, packed ring only with
 * dev->want_packed),
 * queue set-up registers (4.2.3.2), reset timeout, config generation retry
 * (2.5.1), config access widths, interrupt dispatch (used buffer, config
 * change, DEVICE_NEEDS_RESET), virtio_vq_wait() timeouts, the registry,
 * over the fake register file of core_fake.c. Interrupt storms and absurd
 * blk configuration are in test_virtio_core_hostile.c.
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

/* ---- tests ---- */

static void test_probe_rejects_bad_magic(void **state)
{
    struct vmmio regs = {.magic = 0x12345678, .device_id = 2};
    struct virtio_device *dev = NULL;

    (void)state;
    assert_int_equal(loopback_device_create(&regs, "x", &dev), -ENODEV);
    regs.magic = VIRTIO_MMIO_MAGIC;
    regs.device_id = 0; /* 4.2.3.1.1: placeholder device, ignore */
    assert_int_equal(loopback_device_create(&regs, "x", &dev), -ENODEV);
    assert_null(dev);
}

static void test_init_status_order(void **state)
{
    struct core_fx *f = *state;
    static const uint32_t want[] = {
        0,
        VIRTIO_STATUS_ACKNOWLEDGE,
        VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER,
        VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER | VIRTIO_STATUS_FEATURES_OK,
        VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER | VIRTIO_STATUS_FEATURES_OK |
            VIRTIO_STATUS_DRIVER_OK,
    };
    unsigned i;

    assert_int_equal(virtio_device_init(f->dev, 1ull << VIRTIO_BLK_F_FLUSH), 0);
    assert_int_equal(virtio_find_vqs(f->dev, 2, two_specs), 0);
    virtio_device_ready(f->dev);
    assert_int_equal(f->regs.nstatus, 5);
    for (i = 0; i < 5; i++)
        assert_int_equal(f->regs.status_log[i], want[i]);
    /* Features: offered & (core | driver); never the packed ring, never an
     * unasked device feature (SEG_MAX). */
    assert_int_equal(f->regs.driver_features,
                     (1ull << VIRTIO_F_VERSION_1) | (1ull << VIRTIO_F_EVENT_IDX) |
                         (1ull << VIRTIO_F_INDIRECT_DESC) | (1ull << VIRTIO_BLK_F_FLUSH));
    assert_int_equal(f->dev->features, f->regs.driver_features);
    assert_true(virtio_has_feature(f->dev, VIRTIO_BLK_F_FLUSH));
    assert_false(virtio_has_feature(f->dev, VIRTIO_F_RING_PACKED));
}

static void test_queue_registers(void **state)
{
    struct core_fx *f = *state;
    uint64_t d, a, u;

    f->regs.num_max[0] = 1000; /* not a power of two: round down */
    assert_int_equal(virtio_device_init(f->dev, 0), 0);
    assert_int_equal(virtio_find_vqs(f->dev, 2, two_specs), 0);
    assert_int_equal(f->dev->nvqs, 2);
    assert_int_equal(f->regs.num[0], 512);
    assert_int_equal(f->regs.num[1], 16); /* spec max_size */
    assert_int_equal(f->regs.ready[0], 1);
    assert_int_equal(f->regs.ready[1], 1);
    vq_get_ring_addrs(virtio_vq(f->dev, 1), &d, &a, &u);
    assert_int_equal(f->regs.desc[1], d);
    assert_int_equal(f->regs.avail[1], a);
    assert_int_equal(f->regs.used[1], u);
    assert_int_equal(d % 16, 0);
    /* Doorbell: QueueNotify gets the queue index. */
    virtio_device_ready(f->dev);
    assert_int_equal(vq_notify(virtio_vq(f->dev, 1)), 0);
    assert_int_equal(f->regs.notifies[1], 1);
    /* Reset clears the device's queues; del_vqs frees ours. */
    assert_int_equal(virtio_reset(f->dev), 0);
    assert_int_equal(f->regs.ready[0], 0);
    virtio_del_vqs(f->dev);
    assert_int_equal(f->dev->nvqs, 0);
}

/* dev->want_packed (default off): VIRTIO_F_RING_PACKED accepted when
 * offered, queues packed and not rounded to a power of two, the three ring
 * addresses in the same registers; not offered, split as before. */
static void test_packed_opt_in(void **state)
{
    struct core_fx *f = *state;
    struct virtqueue *vq;
    uint64_t d, a, u;

    f->dev->want_packed = true;
    f->regs.num_max[0] = 1000;
    assert_int_equal(virtio_device_init(f->dev, 0), 0);
    assert_true(f->regs.driver_features & (1ull << VIRTIO_F_RING_PACKED));
    assert_true(virtio_has_feature(f->dev, VIRTIO_F_RING_PACKED));
    assert_int_equal(virtio_find_vqs(f->dev, 2, two_specs), 0);
    assert_int_equal(f->regs.num[0], 1000); /* 2.8.10.1: any size */
    assert_int_equal(f->regs.num[1], 16);
    vq = virtio_vq(f->dev, 0);
    assert_int_equal(vq_get_size(vq), 1000);
    vq_get_ring_addrs(vq, &d, &a, &u);
    assert_int_equal(f->regs.desc[0], d);
    assert_int_equal(f->regs.avail[0], a); /* driver event suppression */
    assert_int_equal(f->regs.used[0], u);  /* device event suppression */
    assert_int_equal(d % 16, 0);
    assert_int_equal(a % 4, 0);
    assert_int_equal(u % 4, 0);
    /* The ring is packed: a chain's head carries AVAIL (wrap 1), and the
     * "avail" area is the 4-byte event structure, not a split ring. */
    {
        static uint8_t buf[8];
        struct vq_sg sg = {buf, sizeof(buf), 0};
        const uint16_t *flags = (const uint16_t *)(uintptr_t)(d + 14);

        assert_int_equal(vq_add_sgs(vq, &sg, 1, 0, buf), 0);
        assert_int_equal(*flags & ((1u << 7) | (1u << 15)), 1u << 7);
    }
    virtio_del_vqs(f->dev);
    /* Asked for but not offered: split, rounded down as always. */
    f->regs.offered &= ~(1ull << VIRTIO_F_RING_PACKED);
    assert_int_equal(virtio_device_init(f->dev, 0), 0);
    assert_false(virtio_has_feature(f->dev, VIRTIO_F_RING_PACKED));
    assert_int_equal(virtio_find_vqs(f->dev, 2, two_specs), 0);
    assert_int_equal(f->regs.num[0], 512);
}

static void test_queue_size_limit_hook(void **state)
{
    struct core_fx *f = *state;

    f->dev->queue_size_limit = 4;
    assert_int_equal(virtio_device_init(f->dev, 0), 0);
    assert_int_equal(virtio_find_vqs(f->dev, 2, two_specs), 0);
    assert_int_equal(f->regs.num[0], 4);
    assert_int_equal(vq_get_size(virtio_vq(f->dev, 1)), 4);
}

static void test_missing_queue(void **state)
{
    struct core_fx *f = *state;

    f->regs.num_max[1] = 0;
    assert_int_equal(virtio_device_init(f->dev, 0), 0);
    assert_int_equal(virtio_find_vqs(f->dev, 2, two_specs), -ENOENT);
    assert_int_equal(f->dev->nvqs, 0);
    assert_null(f->dev->vqs[0].vq);
    /* The half-configured device was reset before rings were freed. */
    assert_int_equal(f->regs.status_log[f->regs.nstatus - 1], 0);
}

static void test_version1_missing(void **state)
{
    struct core_fx *f = *state;
    unsigned i;

    f->regs.offered = (1ull << VIRTIO_F_EVENT_IDX) | (1ull << VIRTIO_BLK_F_FLUSH);
    assert_int_equal(virtio_device_init(f->dev, 1ull << VIRTIO_BLK_F_FLUSH), -ENODEV);
    assert_true(f->regs.status & VIRTIO_STATUS_FAILED);
    for (i = 0; i < f->regs.nstatus; i++)
        assert_false(f->regs.status_log[i] & VIRTIO_STATUS_FEATURES_OK);
    assert_int_equal(f->dev->features, 0);
}

static void test_features_ok_refused(void **state)
{
    struct core_fx *f = *state;

    f->regs.refuse_features = true;
    assert_int_equal(virtio_device_init(f->dev, 0), -ENODEV);
    assert_true(f->regs.status & VIRTIO_STATUS_FAILED);
    assert_false(f->regs.status & VIRTIO_STATUS_DRIVER_OK);
    /* A later init starts again from reset and can succeed. */
    f->regs.refuse_features = false;
    assert_int_equal(virtio_device_init(f->dev, 0), 0);
    assert_int_equal(f->regs.status,
                     VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER | VIRTIO_STATUS_FEATURES_OK);
}

static void test_feature_hooks(void **state)
{
    struct core_fx *f = *state;

    f->dev->no_event_idx = true;
    f->dev->no_indirect = true;
    assert_int_equal(virtio_device_init(f->dev, 0), 0);
    assert_int_equal(f->regs.driver_features, 1ull << VIRTIO_F_VERSION_1);
    assert_false(virtio_has_feature(f->dev, VIRTIO_F_EVENT_IDX));
}

static void test_reset_timeout(void **state)
{
    struct core_fx *f = *state;

    f->regs.reset_stuck = true;
    assert_int_equal(virtio_device_init(f->dev, 0), -ETIMEDOUT);
    f->regs.reset_stuck = false;
    assert_int_equal(virtio_reset(f->dev), 0);
}

static void test_config_generation_retry(void **state)
{
    struct core_fx *f = *state;
    uint64_t v = 0, want;

    memcpy(f->regs.config, "\x10\x20\x30\x40\x50\x60\x70\x80", 8);
    f->regs.gen_bumps_left = 3; /* the first reads see a changing config */
    assert_int_equal(virtio_cread(f->dev, 0, &v, 8), 0);
    memcpy(&want, f->regs.config, 8);
    assert_int_equal(v, want);
    assert_int_equal(f->regs.config[0], 0x13);
    assert_true(f->regs.config_reads > 2);
    /* A config that never settles is reported, not spun on forever. */
    f->regs.gen_bumps_left = 100000;
    assert_int_equal(virtio_cread(f->dev, 0, &v, 8), -EAGAIN);
}

static void test_config_access_widths(void **state)
{
    struct core_fx *f = *state;
    uint8_t buf[7];

    /* 4.2.2: aligned 1/2/4-byte accesses; 7 bytes at 1 -> 1, 2, 4. */
    assert_int_equal(virtio_cread(f->dev, 1, buf, 7), 0);
    assert_int_equal(f->regs.config_reads, 3);
    assert_int_equal(f->regs.sizes_log[0], 1);
    assert_int_equal(f->regs.sizes_log[1], 2);
    assert_int_equal(f->regs.sizes_log[2], 4);
}

static void test_interrupt_used_buffer(void **state)
{
    struct core_fx *f = *state;

    assert_int_equal(virtio_device_init(f->dev, 0), 0);
    assert_int_equal(virtio_find_vqs(f->dev, 2, two_specs), 0);
    virtio_device_ready(f->dev);
    assert_int_equal(virtio_handle_interrupt(f->dev), 0); /* spurious */
    assert_int_equal(f->callbacks[0], 0);
    f->regs.isr = VIRTIO_INT_USED_BUFFER;
    assert_int_equal(virtio_handle_interrupt(f->dev), VIRTIO_INT_USED_BUFFER);
    assert_int_equal(f->regs.acked, VIRTIO_INT_USED_BUFFER);
    assert_int_equal(f->regs.isr, 0);
    assert_int_equal(f->callbacks[0], 1);
    assert_int_equal(f->callbacks[1], 1);
    assert_int_equal(f->dev->vqs[1].irq_count, 1);
    assert_int_equal(f->dev->interrupts, 1);
}

static void test_interrupt_config_change(void **state)
{
    struct core_fx *f = *state;

    f->dev->config_changed = config_cb;
    assert_int_equal(virtio_device_init(f->dev, 0), 0);
    assert_int_equal(virtio_find_vqs(f->dev, 1, two_specs), 0);
    virtio_device_ready(f->dev);
    f->regs.isr = VIRTIO_INT_CONFIG_CHANGE;
    assert_int_equal(virtio_handle_interrupt(f->dev), VIRTIO_INT_CONFIG_CHANGE);
    assert_int_equal(f->config_changes, 1);
    assert_int_equal(f->callbacks[0], 0);
    assert_false(f->dev->needs_reset);
    /* 2.1.2: DEVICE_NEEDS_RESET arrives as a config change. */
    f->regs.status |= VIRTIO_STATUS_DEVICE_NEEDS_RESET;
    f->regs.isr = VIRTIO_INT_CONFIG_CHANGE;
    virtio_handle_interrupt(f->dev);
    assert_true(f->dev->needs_reset);
    assert_int_equal(f->config_changes, 1);
    /* ... and I/O waits fail fast until the driver re-initialises. */
    assert_int_equal(virtio_device_init(f->dev, 0), 0);
    assert_false(f->dev->needs_reset);
}

static int never_done(void *ctx)
{
    (*(unsigned *)ctx)++;
    return 0;
}

static int done_second_time(void *ctx)
{
    return ++*(unsigned *)ctx == 2;
}

static int fails(void *ctx)
{
    (void)ctx;
    return -EIO;
}

static void test_vq_wait(void **state)
{
    struct core_fx *f = *state;
    unsigned calls = 0;

    assert_int_equal(virtio_device_init(f->dev, 0), 0);
    assert_int_equal(virtio_find_vqs(f->dev, 1, two_specs), 0);
    f->dev->polled = true;
    virtio_device_ready(f->dev);
    assert_int_equal(virtio_vq_wait(f->dev, 0, never_done, &calls, 2000000), -ETIMEDOUT);
    assert_true(calls > 1);
    assert_int_equal(virtio_vq_wait(f->dev, 0, fails, NULL, 2000000), -EIO);
    assert_int_equal(virtio_vq_wait(f->dev, 5, fails, NULL, 2000000), -EINVAL);
    /* Interrupt mode: with no interrupt, poll runs once (+ a last look). */
    f->dev->polled = false;
    calls = 0;
    assert_int_equal(virtio_vq_wait(f->dev, 0, never_done, &calls, 2000000), -ETIMEDOUT);
    assert_int_equal(calls, 2);
    /* Done at the last look, without an interrupt: counted, not failed. */
    calls = 0;
    assert_int_equal(virtio_vq_wait(f->dev, 0, done_second_time, &calls, 2000000), 1);
    assert_int_equal(f->dev->lost_interrupts, 1);
    /* Polled: DEVICE_NEEDS_RESET seen in the status register, no interrupt. */
    f->dev->polled = true;
    f->regs.status |= VIRTIO_STATUS_DEVICE_NEEDS_RESET;
    assert_int_equal(virtio_vq_wait(f->dev, 0, never_done, &calls, 1000000000ull), -EIO);
    assert_true(f->dev->needs_reset);
    f->dev->polled = false;
    /* needs_reset: fail fast. */
    f->dev->needs_reset = true;
    assert_int_equal(virtio_vq_wait(f->dev, 0, never_done, &calls, 1000000000ull), -EIO);
}

static void test_registry(void **state)
{
    struct core_fx *f = *state;
    struct virtio_device other = {.name = "lrng0", .device_id = VIRTIO_ID_RNG};
    struct virtio_device dup = {.name = "lblk0"};

    assert_null(virtio_next(NULL));
    assert_int_equal(virtio_register(f->dev), 0);
    assert_int_equal(virtio_register(&other), 0);
    assert_int_equal(virtio_register(&dup), -EEXIST);
    assert_ptr_equal(virtio_find("lrng0"), &other);
    assert_ptr_equal(virtio_find("lblk0"), f->dev);
    assert_null(virtio_find("nope"));
    assert_ptr_equal(virtio_next(NULL), f->dev);
    assert_ptr_equal(virtio_next(f->dev), &other);
    assert_null(virtio_next(&other));
    virtio_unregister(&other);
    assert_null(virtio_find("lrng0"));
    assert_string_equal(virtio_type_name(f->dev->device_id), "blk");
    assert_string_equal(virtio_type_name(VIRTIO_ID_PMEM), "pmem");
    assert_string_equal(f->dev->ops->name, "loopback");
}

struct guard_count {
    unsigned enters, exits, depth, max_depth;
};

static uint64_t guard_enter(void *ctx)
{
    struct guard_count *g = ctx;

    g->enters++;
    if (++g->depth > g->max_depth)
        g->max_depth = g->depth;
    return 0x200 + g->enters;
}

static void guard_exit(void *ctx, uint64_t saved)
{
    struct guard_count *g = ctx;

    assert_int_equal(saved, 0x200 + g->enters); /* what its enter returned */
    g->exits++;
    g->depth--;
}

static void test_access_guard(void **state)
{
    struct core_fx *f = *state;
    struct guard_count g = {0};
    struct loopback_access_guard guard = {guard_enter, guard_exit, &g};
    uint32_t v;

    loopback_device_set_guard(f->dev, &guard);
    assert_int_equal(virtio_device_init(f->dev, 0), 0);
    assert_int_equal(virtio_cread(f->dev, 0, &v, 4), 0);
    /* Every register access bracketed, one at a time. */
    assert_true(g.enters > 10);
    assert_int_equal(g.enters, g.exits);
    assert_int_equal(g.max_depth, 1);
    loopback_device_set_guard(f->dev, NULL);
    g.enters = 0;
    assert_int_equal(virtio_reset(f->dev), 0);
    assert_int_equal(g.enters, 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_probe_rejects_bad_magic),
        cmocka_unit_test_setup_teardown(test_init_status_order, core_setup, core_teardown),
        cmocka_unit_test_setup_teardown(test_queue_registers, core_setup, core_teardown),
        cmocka_unit_test_setup_teardown(test_queue_size_limit_hook, core_setup, core_teardown),
        cmocka_unit_test_setup_teardown(test_packed_opt_in, core_setup, core_teardown),
        cmocka_unit_test_setup_teardown(test_missing_queue, core_setup, core_teardown),
        cmocka_unit_test_setup_teardown(test_version1_missing, core_setup, core_teardown),
        cmocka_unit_test_setup_teardown(test_features_ok_refused, core_setup, core_teardown),
        cmocka_unit_test_setup_teardown(test_feature_hooks, core_setup, core_teardown),
        cmocka_unit_test_setup_teardown(test_reset_timeout, core_setup, core_teardown),
        cmocka_unit_test_setup_teardown(test_config_generation_retry, core_setup, core_teardown),
        cmocka_unit_test_setup_teardown(test_config_access_widths, core_setup, core_teardown),
        cmocka_unit_test_setup_teardown(test_interrupt_used_buffer, core_setup, core_teardown),
        cmocka_unit_test_setup_teardown(test_interrupt_config_change, core_setup, core_teardown),
        cmocka_unit_test_setup_teardown(test_vq_wait, core_setup, core_teardown),
        cmocka_unit_test_setup_teardown(test_registry, core_setup, core_teardown),
        cmocka_unit_test_setup_teardown(test_access_guard, core_setup, core_teardown),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
