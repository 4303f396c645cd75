/* SPDX-License-Identifier: Apache-2.0 */
/*
 * test_virtio_core.c - cmocka tests of the virtio core (drivers/virtio/
 * virtio.c) through the loopback transport (transport_loopback.c), against
 * a small fake virtio-mmio v2 register file defined here: vmmio_read()/
 * vmmio_write() below stand in for hostsim/vmmio.c, so this binary links
 * the core, the transport and the platform only.
 *
 * What is checked: the 3.1.1 status sequence, feature negotiation (VERSION_1
 * missing, FEATURES_OK refused, test hooks, packed ring only with
 * dev->want_packed),
 * queue set-up registers (4.2.3.2), reset timeout, config generation retry
 * (2.5.1), config access widths, interrupt dispatch (used buffer, config
 * change, DEVICE_NEEDS_RESET), virtio_vq_wait() timeouts, the registry;
 * interrupt storms (no-progress interrupts counted, the source masked past
 * VIRTIO_IRQ_STORM_RUN, the queue polled and unmasked later) and the blk
 * driver's checks of absurd configuration (capacity overflow, seg_max 0,
 * blk_size, a generation that never settles), over this file's fake
 * register file, which is all a config test needs.
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

/* ---- the fake register file ---- */

#define FAKE_MAX_LOG 64

struct vmmio {
    uint32_t device_id;
    uint32_t magic;
    uint64_t offered;
    uint64_t driver_features;
    uint32_t dev_sel, drv_sel, queue_sel;
    uint32_t status;
    bool refuse_features; /* FEATURES_OK does not stick */
    bool reset_stuck;     /* status never reads 0 */
    uint32_t num_max[8];
    uint32_t num[8];
    uint32_t ready[8];
    uint64_t desc[8], avail[8], used[8];
    uint32_t notifies[8];
    uint32_t isr;
    uint32_t acked;
    uint32_t generation;
    unsigned gen_bumps_left; /* bump the generation on this many config reads */
    uint8_t config[64];
    uint32_t status_log[FAKE_MAX_LOG];
    unsigned nstatus;
    unsigned config_reads;
    unsigned sizes_log[FAKE_MAX_LOG];
};

static void set64(uint64_t *v, bool high, uint32_t val)
{
    if (high)
        *v = (*v & 0xffffffffull) | (uint64_t)val << 32;
    else
        *v = (*v & ~0xffffffffull) | val;
}

uint32_t vmmio_read(struct vmmio *m, uint32_t off, unsigned size)
{
    unsigned q = m->queue_sel < 8 ? m->queue_sel : 0;

    if (off >= VIRTIO_MMIO_CONFIG) {
        uint32_t v = 0, co = off - VIRTIO_MMIO_CONFIG;

        if (m->config_reads < FAKE_MAX_LOG)
            m->sizes_log[m->config_reads] = size;
        m->config_reads++;
        if (m->gen_bumps_left) {
            m->gen_bumps_left--;
            m->generation++;
            m->config[0]++; /* the device is changing it under us */
        }
        if (co + size <= sizeof(m->config))
            memcpy(&v, &m->config[co], size);
        return v;
    }
    assert_int_equal(size, 4);
    switch (off) {
    case VIRTIO_MMIO_MAGIC_VALUE:
        return m->magic;
    case VIRTIO_MMIO_VERSION:
        return 2;
    case VIRTIO_MMIO_DEVICE_ID:
        return m->device_id;
    case VIRTIO_MMIO_DEVICE_FEATURES:
        return m->dev_sel == 0   ? (uint32_t)m->offered
               : m->dev_sel == 1 ? (uint32_t)(m->offered >> 32)
                                 : 0;
    case VIRTIO_MMIO_QUEUE_NUM_MAX:
        return m->num_max[q];
    case VIRTIO_MMIO_QUEUE_READY:
        return m->ready[q];
    case VIRTIO_MMIO_INTERRUPT_STATUS:
        return m->isr;
    case VIRTIO_MMIO_STATUS:
        return m->reset_stuck ? 1 : m->status;
    case VIRTIO_MMIO_CONFIG_GENERATION:
        return m->generation;
    default:
        return 0;
    }
}

void vmmio_write(struct vmmio *m, uint32_t off, uint32_t val, unsigned size)
{
    unsigned q = m->queue_sel < 8 ? m->queue_sel : 0;

    if (off >= VIRTIO_MMIO_CONFIG)
        return;
    assert_int_equal(size, 4);
    switch (off) {
    case VIRTIO_MMIO_DEVICE_FEATURES_SEL:
        m->dev_sel = val;
        break;
    case VIRTIO_MMIO_DRIVER_FEATURES_SEL:
        m->drv_sel = val;
        break;
    case VIRTIO_MMIO_DRIVER_FEATURES:
        set64(&m->driver_features, m->drv_sel == 1, val);
        break;
    case VIRTIO_MMIO_QUEUE_SEL:
        m->queue_sel = val;
        break;
    case VIRTIO_MMIO_QUEUE_NUM:
        m->num[q] = val;
        break;
    case VIRTIO_MMIO_QUEUE_READY:
        m->ready[q] = val;
        break;
    case VIRTIO_MMIO_QUEUE_DESC_LOW:
    case VIRTIO_MMIO_QUEUE_DESC_HIGH:
        set64(&m->desc[q], off == VIRTIO_MMIO_QUEUE_DESC_HIGH, val);
        break;
    case VIRTIO_MMIO_QUEUE_DRIVER_LOW:
    case VIRTIO_MMIO_QUEUE_DRIVER_HIGH:
        set64(&m->avail[q], off == VIRTIO_MMIO_QUEUE_DRIVER_HIGH, val);
        break;
    case VIRTIO_MMIO_QUEUE_DEVICE_LOW:
    case VIRTIO_MMIO_QUEUE_DEVICE_HIGH:
        set64(&m->used[q], off == VIRTIO_MMIO_QUEUE_DEVICE_HIGH, val);
        break;
    case VIRTIO_MMIO_QUEUE_NOTIFY:
        if (val < 8)
            m->notifies[val]++;
        break;
    case VIRTIO_MMIO_INTERRUPT_ACK:
        m->acked |= val;
        m->isr &= ~val;
        break;
    case VIRTIO_MMIO_STATUS:
        if (m->nstatus < FAKE_MAX_LOG)
            m->status_log[m->nstatus++] = val;
        if (val == 0) {
            memset(m->ready, 0, sizeof(m->ready));
            m->status = 0;
        } else if ((val & VIRTIO_STATUS_FEATURES_OK) && m->refuse_features) {
            m->status = val & ~(uint32_t)VIRTIO_STATUS_FEATURES_OK;
        } else {
            m->status = val;
        }
        break;
    default:
        break;
    }
}

/* ---- fixture ---- */

struct core_fx {
    struct vmmio regs;
    struct virtio_device *dev;
    unsigned callbacks[VIRTIO_MAX_VQS];
    unsigned config_changes;
};

static struct core_fx fx;

#define OFFER_MODERN                                                                               \
    ((1ull << VIRTIO_F_VERSION_1) | (1ull << VIRTIO_F_EVENT_IDX) |                                 \
     (1ull << VIRTIO_F_INDIRECT_DESC) | (1ull << VIRTIO_F_RING_PACKED) |                           \
     (1ull << VIRTIO_BLK_F_FLUSH) | (1ull << VIRTIO_BLK_F_SEG_MAX))

static int setup(void **state)
{
    unsigned i;

    memset(&fx, 0, sizeof(fx));
    fx.regs.magic = VIRTIO_MMIO_MAGIC;
    fx.regs.device_id = VIRTIO_ID_BLOCK;
    fx.regs.offered = OFFER_MODERN;
    for (i = 0; i < 8; i++)
        fx.regs.num_max[i] = 256;
    host_log_level_set(-1);
    assert_int_equal(loopback_device_create(&fx.regs, "lblk0", &fx.dev), 0);
    *state = &fx;
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    virtio_unregister(fx.dev);
    loopback_device_destroy(fx.dev);
    return 0;
}

static void vq_cb(struct virtio_device *dev, unsigned q)
{
    (void)dev;
    fx.callbacks[q]++;
}

static void config_cb(struct virtio_device *dev)
{
    (void)dev;
    fx.config_changes++;
}

static const struct virtio_vq_spec two_specs[2] = {
    {.max_size = 0, .callback = vq_cb},
    {.max_size = 16, .callback = vq_cb},
};

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
        cmocka_unit_test(test_probe_rejects_bad_magic),
        cmocka_unit_test_setup_teardown(test_init_status_order, setup, teardown),
        cmocka_unit_test_setup_teardown(test_queue_registers, setup, teardown),
        cmocka_unit_test_setup_teardown(test_queue_size_limit_hook, setup, teardown),
        cmocka_unit_test_setup_teardown(test_packed_opt_in, setup, teardown),
        cmocka_unit_test_setup_teardown(test_missing_queue, setup, teardown),
        cmocka_unit_test_setup_teardown(test_version1_missing, setup, teardown),
        cmocka_unit_test_setup_teardown(test_features_ok_refused, setup, teardown),
        cmocka_unit_test_setup_teardown(test_feature_hooks, setup, teardown),
        cmocka_unit_test_setup_teardown(test_reset_timeout, setup, teardown),
        cmocka_unit_test_setup_teardown(test_config_generation_retry, setup, teardown),
        cmocka_unit_test_setup_teardown(test_config_access_widths, setup, teardown),
        cmocka_unit_test_setup_teardown(test_interrupt_used_buffer, setup, teardown),
        cmocka_unit_test_setup_teardown(test_interrupt_config_change, setup, teardown),
        cmocka_unit_test_setup_teardown(test_vq_wait, setup, teardown),
        cmocka_unit_test_setup_teardown(test_registry, setup, teardown),
        cmocka_unit_test_setup_teardown(test_access_guard, setup, teardown),
        cmocka_unit_test_setup_teardown(test_storm_masked_and_recovered, setup, teardown),
        cmocka_unit_test_setup_teardown(test_storm_progress_resets_run, setup, teardown),
        cmocka_unit_test_setup_teardown(test_storm_shared_line, setup, teardown),
        cmocka_unit_test_setup_teardown(test_blk_capacity_overflow, setup, teardown),
        cmocka_unit_test_setup_teardown(test_blk_capacity_change_absurd, setup, teardown),
        cmocka_unit_test_setup_teardown(test_blk_seg_max_zero, setup, teardown),
        cmocka_unit_test_setup_teardown(test_blk_size_checked, setup, teardown),
        cmocka_unit_test_setup_teardown(test_blk_generation_never_settles, setup, teardown),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
