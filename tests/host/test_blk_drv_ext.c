/* SPDX-License-Identifier: Apache-2.0 */
/*
 * test_blk_drv_ext.c - cmocka tests of the blk driver's optional features
 * (drivers/virtio/virtio_blk_ext.c, VIRTIO 1.2 5.2) over the loopback
 * transport against the real blk model (hostsim/dev_blk*.c), device side on
 * a second thread as in test_drivers.c: DISCARD / WRITE_ZEROES packed and
 * cut within the device's limits (the model refuses anything past them, so
 * a driver that overstepped shows as ioerr), RO refused before sending,
 * the cache mode set through config and seen by the device, a feature the
 * device does not offer not used. Disk contents checked against a copy.
 * Two modes: interrupts + EVENT_IDX, polled + flags.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "platform_host.h"
#include "transport_loopback.h"
#include "vdev.h"
#include "vdev_models.h"
#include "virtio.h"
#include "virtio_blk.h"
#include "virtio_platform.h"
#include "vmmio.h"

#define GPA_BASE 0x40000000ull
#define ARENA_SIZE (8u << 20)
#define SECTORS 1024u
#define BYTES (SECTORS * 512u)

struct env {
    bool polled, event_idx;
    uint8_t *arena;
    struct vdq_mem_region region;
    struct vdq_mem mem;
    struct vdev vd;
    struct vmmio *m;
    struct virtio_device *dev;
    struct virtio_blk *blk;
    pthread_t thread;
    bool running;
    int stop, doorbell, irq_pending; /* atomic */
    uint8_t *disk;
    uint8_t *copy; /* what the disk should hold */
};

static struct env env;
static const bool mode_irq[2] = {false, true};
static const bool mode_poll[2] = {true, false};

static void lb_notify(struct vmmio *m, unsigned queue, void *ctx)
{
    (void)m;
    (void)queue;
    __atomic_store_n(&((struct env *)ctx)->doorbell, 1, __ATOMIC_RELEASE);
}

static void lb_interrupt(struct vmmio *m, uint32_t st, void *ctx)
{
    (void)m;
    (void)st;
    __atomic_store_n(&((struct env *)ctx)->irq_pending, 1, __ATOMIC_RELEASE);
}

static void *device_main(void *arg)
{
    struct env *e = arg;

    while (!__atomic_load_n(&e->stop, __ATOMIC_ACQUIRE)) {
        bool worked = false;

        if (__atomic_exchange_n(&e->doorbell, 0, __ATOMIC_ACQ_REL) || vmmio_has_pending(e->m)) {
            (void)vmmio_process(e->m);
            worked = true;
        }
        if (__atomic_exchange_n(&e->irq_pending, 0, __ATOMIC_ACQ_REL)) {
            virtio_handle_interrupt(e->dev);
            worked = true;
        }
        if (!worked)
            sched_yield();
    }
    return NULL;
}

static int setup(void **state)
{
    const bool *mode = *state;
    unsigned i;

    memset(&env, 0, sizeof(env));
    env.polled = mode[0];
    env.event_idx = mode[1];
    env.arena = aligned_alloc(4096, ARENA_SIZE);
    env.disk = malloc(BYTES);
    env.copy = malloc(BYTES);
    assert_non_null(env.arena);
    assert_non_null(env.disk);
    assert_non_null(env.copy);
    memset(env.arena, 0, ARENA_SIZE);
    for (i = 0; i < BYTES; i++)
        env.disk[i] = (uint8_t)(i * 13 + 1) | 1; /* never 0 */
    memcpy(env.copy, env.disk, BYTES);
    host_dma_arena_setup(env.arena, ARENA_SIZE, GPA_BASE);
    env.region = (struct vdq_mem_region){GPA_BASE, ARENA_SIZE, env.arena};
    env.mem.regions = &env.region;
    env.mem.nregions = 1;
    host_log_level_set(-1);
    assert_int_equal(vdev_blk_create(&env.vd, &env.mem, env.disk, BYTES, NULL), 0);
    *state = &env;
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    if (env.blk)
        virtio_blk_remove(env.blk);
    if (env.running) {
        __atomic_store_n(&env.stop, 1, __ATOMIC_RELEASE);
        pthread_join(env.thread, NULL);
    }
    if (env.dev)
        loopback_device_destroy(env.dev);
    if (env.m)
        vmmio_destroy(env.m);
    vdev_destroy(&env.vd);
    host_dma_arena_clear();
    free(env.arena);
    free(env.disk);
    free(env.copy);
    return 0;
}

/* Register file, transport, device thread, driver (after the test set the
 * model up). */
static struct virtio_blk *up(void)
{
    struct vmmio_hooks hooks = {.notify = lb_notify, .interrupt = lb_interrupt, .ctx = &env};

    assert_int_equal(vmmio_create(&env.vd, &hooks, &env.m), 0);
    assert_int_equal(loopback_device_create(env.m, "lblkx", &env.dev), 0);
    env.dev->polled = env.polled;
    env.dev->no_event_idx = !env.event_idx;
    env.dev->no_indirect = !env.event_idx;
    assert_int_equal(pthread_create(&env.thread, NULL, device_main, &env), 0);
    env.running = true;
    assert_int_equal(virtio_blk_probe(env.dev, &env.blk), 0);
    return env.blk;
}

static struct vdev_blk_stats dstats(void)
{
    struct vdev_blk_stats st;

    vdev_blk_get_stats(&env.vd, &st); /* the device thread is idle between requests */
    return st;
}

static void expect_disk(void)
{
    assert_memory_equal(env.disk, env.copy, BYTES);
}

static void zero_copy(uint64_t sector, uint64_t n)
{
    memset(env.copy + sector * 512, 0, n * 512);
}

static void test_limits_negotiated(void **state)
{
    struct vdev_blk_limits l = {.max_discard_sectors = 16,
                                .max_discard_seg = 2,
                                .discard_sector_alignment = 4,
                                .max_write_zeroes_sectors = 8,
                                .max_write_zeroes_seg = 3,
                                .physical_block_exp = 3,
                                .alignment_offset = 1,
                                .min_io_size = 8,
                                .opt_io_size = 256};
    struct virtio_blk_limits lim;
    struct virtio_blk *blk;
    bool wb = false;

    (void)state;
    assert_int_equal(vdev_blk_set_limits(&env.vd, &l), 0);
    blk = up();
    virtio_blk_get_limits(blk, &lim);
    assert_true(lim.discard && lim.write_zeroes && lim.topology && lim.config_wce && lim.flush);
    assert_false(lim.read_only);
    assert_int_equal(lim.max_discard_sectors, 16);
    assert_int_equal(lim.max_discard_seg, 2);
    assert_int_equal(lim.discard_sector_alignment, 4);
    assert_int_equal(lim.max_write_zeroes_sectors, 8);
    assert_int_equal(lim.max_write_zeroes_seg, 3);
    assert_int_equal(lim.physical_block_exp, 3);
    assert_int_equal(lim.alignment_offset, 1);
    assert_int_equal(lim.min_io_size, 8);
    assert_int_equal(lim.opt_io_size, 256);
    assert_int_equal(virtio_blk_get_writeback(blk, &wb), 0);
    assert_true(wb);
}

static void test_discard_zeroes(void **state)
{
    struct virtio_blk *blk;
    uint8_t *buf;
    uint64_t gpa;

    (void)state;
    blk = up();
    assert_int_equal(virtio_blk_discard(blk, 10, 30), 0);
    zero_copy(10, 30);
    expect_disk();
    assert_int_equal(virtio_blk_write_zeroes(blk, 100, 7, false), 0);
    zero_copy(100, 7);
    assert_int_equal(virtio_blk_write_zeroes(blk, SECTORS - 3, 3, true), 0);
    zero_copy(SECTORS - 3, 3);
    expect_disk();
    /* Reads through the driver see the zeroes. */
    buf = virt_dma_alloc(7 * 512, &gpa);
    assert_non_null(buf);
    memset(buf, 0xff, 7 * 512);
    assert_int_equal(virtio_blk_read(blk, 100, buf, 7), 0);
    assert_memory_equal(buf, env.copy + 100 * 512, 7 * 512);
    virt_dma_free(buf, 7 * 512);
    assert_true(dstats().discards == 1 && dstats().write_zeroes == 2);
    assert_true(dstats().ioerr == 0 && dstats().unsupp == 0);
}

/* Ranges packed into requests within the limits, cut on the alignment:
 * the device (which refuses anything past them) takes every one. */
static void test_split_within_limits(void **state)
{
    struct vdev_blk_limits l = {.max_discard_sectors = 16,
                                .max_discard_seg = 2,
                                .discard_sector_alignment = 4,
                                .max_write_zeroes_sectors = 8,
                                .max_write_zeroes_seg = 3,
                                .min_io_size = 1};
    struct virtio_blk_range r[3] = {{0, 8}, {16, 4}, {40, 40}};
    struct virtio_blk *blk;
    uint64_t sub;

    (void)state;
    assert_int_equal(vdev_blk_set_limits(&env.vd, &l), 0);
    blk = up();
    /* 0+8 and 16+4 (2 segments: full); 40+16 (16 sectors: full); 56+16; 72+8. */
    sub = virtio_blk_get_stats(blk)->submitted;
    assert_int_equal(virtio_blk_dwz_ranges(blk, VIRTIO_BLK_T_DISCARD, r, 3, false), 0);
    assert_int_equal(virtio_blk_get_stats(blk)->submitted - sub, 4);
    assert_true(dstats().discards == 4);
    assert_true(dstats().discard_sectors == 52);
    zero_copy(0, 8);
    zero_copy(16, 4);
    zero_copy(40, 40);
    expect_disk();
    /* Write zeroes, 8 sectors a request: 21 sectors at 3 is 3 requests; no
     * alignment to keep. */
    assert_int_equal(virtio_blk_write_zeroes(blk, 3, 21, false), 0);
    assert_true(dstats().write_zeroes == 3);
    zero_copy(3, 21);
    /* Many small ranges: 3 segments a request. */
    {
        struct virtio_blk_range m[7];
        unsigned i;

        for (i = 0; i < 7; i++) {
            m[i] = (struct virtio_blk_range){200 + 10 * i, 1};
            zero_copy(200 + 10 * i, 1);
        }
        assert_int_equal(virtio_blk_dwz_ranges(blk, VIRTIO_BLK_T_WRITE_ZEROES, m, 7, true), 0);
        assert_true(dstats().write_zeroes == 3 + 3);
    }
    expect_disk();
    /* A discard at capacity may end unaligned. */
    assert_int_equal(virtio_blk_discard(blk, SECTORS - 8, 8), 0);
    zero_copy(SECTORS - 8, 8);
    expect_disk();
    assert_true(dstats().ioerr == 0);
}

/* Bad input never reaches the device: -EINVAL, the disk as it was. */
static void test_bad_ranges(void **state)
{
    struct vdev_blk_limits l = {.max_discard_sectors = 2,
                                .max_discard_seg = 4,
                                .discard_sector_alignment = 4,
                                .max_write_zeroes_sectors = 64,
                                .max_write_zeroes_seg = 4,
                                .min_io_size = 1};
    struct virtio_blk_range ov[2] = {{0, 8}, {4, 8}};
    struct virtio_blk *blk;
    uint64_t sub;

    (void)state;
    assert_int_equal(vdev_blk_set_limits(&env.vd, &l), 0);
    blk = up();
    sub = virtio_blk_get_stats(blk)->submitted;
    assert_int_equal(virtio_blk_discard(blk, 2, 4), -EINVAL); /* start off alignment */
    assert_int_equal(virtio_blk_discard(blk, 4, 6), -EINVAL); /* length off it */
    assert_int_equal(virtio_blk_discard(blk, 8, 8), -EINVAL); /* max 2 < alignment 4 */
    assert_int_equal(virtio_blk_write_zeroes(blk, SECTORS - 1, 2, false), -EINVAL);
    assert_int_equal(virtio_blk_write_zeroes(blk, SECTORS, 1, false), -EINVAL);
    assert_int_equal(virtio_blk_write_zeroes(blk, 0, 0, false), -EINVAL);
    assert_int_equal(virtio_blk_dwz_ranges(blk, VIRTIO_BLK_T_WRITE_ZEROES, ov, 2, false), -EINVAL);
    assert_int_equal(virtio_blk_dwz_ranges(blk, VIRTIO_BLK_T_DISCARD, ov, 1, true), -EINVAL);
    assert_int_equal(virtio_blk_dwz_ranges(blk, VIRTIO_BLK_T_IN, ov, 1, false), -EINVAL);
    assert_int_equal(virtio_blk_dwz_ranges(blk, VIRTIO_BLK_T_WRITE_ZEROES, ov, 0, false), -EINVAL);
    /* A raw request with more segments than max_write_zeroes_seg. */
    {
        uint64_t gpa;
        struct virtio_blk_discard_write_zeroes *s = virt_dma_alloc(5 * 16, &gpa);
        struct vq_sg sg = {.buf = s, .len = 5 * 16};
        struct virtio_blk_req req = {.type = VIRTIO_BLK_T_WRITE_ZEROES, .nsegs = 1, .segs = &sg};

        memset(s, 0, 5 * 16);
        assert_int_equal(virtio_blk_submit(blk, &req), -EINVAL);
        sg.len = 17;
        assert_int_equal(virtio_blk_submit(blk, &req), -EINVAL);
        virt_dma_free(s, 5 * 16);
    }
    assert_int_equal(virtio_blk_get_stats(blk)->submitted, sub);
    expect_disk();
    /* The device is fine. */
    assert_int_equal(virtio_blk_write_zeroes(blk, 0, 64, false), 0);
    zero_copy(0, 64);
    expect_disk();
}

/* A device that does not offer DISCARD / WRITE_ZEROES / CONFIG_WCE (like
 * an older daemon): not negotiated, not used. */
static void test_not_offered(void **state)
{
    struct virtio_blk *blk;
    struct virtio_blk_limits lim;
    bool wb = false;

    (void)state;
    env.vd.avail_features &=
        ~((1ull << VIRTIO_BLK_F_DISCARD) | (1ull << VIRTIO_BLK_F_WRITE_ZEROES) |
          (1ull << VIRTIO_BLK_F_CONFIG_WCE));
    blk = up();
    virtio_blk_get_limits(blk, &lim);
    assert_false(lim.discard || lim.write_zeroes || lim.config_wce);
    assert_int_equal(lim.max_discard_seg, 0);
    assert_int_equal(virtio_blk_discard(blk, 0, 8), -EOPNOTSUPP);
    assert_int_equal(virtio_blk_write_zeroes(blk, 0, 8, false), -EOPNOTSUPP);
    assert_int_equal(virtio_blk_set_writeback(blk, false), -EOPNOTSUPP);
    assert_int_equal(virtio_blk_get_writeback(blk, &wb), 0);
    assert_true(wb); /* 5.2.5: FLUSH without CONFIG_WCE: assume writeback */
    assert_true(dstats().unsupp == 0);
    expect_disk();
}

static void test_read_only(void **state)
{
    struct virtio_blk *blk;
    uint8_t *buf;
    uint64_t gpa;

    (void)state;
    assert_int_equal(vdev_blk_set_read_only(&env.vd, true), 0);
    blk = up();
    assert_true(virtio_blk_is_read_only(blk));
    buf = virt_dma_alloc(512, &gpa);
    assert_non_null(buf);
    memset(buf, 0x77, 512);
    assert_int_equal(virtio_blk_write(blk, 0, buf, 1), -EROFS);
    assert_int_equal(virtio_blk_discard(blk, 0, 8), -EROFS);
    assert_int_equal(virtio_blk_write_zeroes(blk, 0, 8, true), -EROFS);
    assert_true(dstats().ro_refused == 0); /* never sent */
    assert_int_equal(virtio_blk_read(blk, 1, buf, 1), 0);
    assert_memory_equal(buf, env.copy + 512, 512);
    assert_int_equal(virtio_blk_flush(blk), 0);
    virt_dma_free(buf, 512);
    expect_disk();
}

static void test_writeback_toggle(void **state)
{
    struct virtio_blk *blk;
    uint8_t *buf;
    uint64_t gpa, stable, flushes;
    bool wb = true;

    (void)state;
    blk = up();
    buf = virt_dma_alloc(512, &gpa);
    assert_non_null(buf);
    memset(buf, 0x42, 512);
    assert_true(vdev_blk_is_writeback(&env.vd));
    flushes = dstats().flushes;
    assert_int_equal(virtio_blk_set_writeback(blk, false), 0);
    assert_false(vdev_blk_is_writeback(&env.vd));
    assert_true(dstats().flushes == flushes + 1); /* what was volatile is now stable */
    assert_int_equal(virtio_blk_get_writeback(blk, &wb), 0);
    assert_false(wb);
    stable = dstats().stable_writes;
    assert_int_equal(virtio_blk_write(blk, 5, buf, 1), 0);
    assert_int_equal(virtio_blk_write_zeroes(blk, 6, 1, false), 0);
    assert_true(dstats().stable_writes == stable + 2);
    assert_int_equal(virtio_blk_set_writeback(blk, true), 0);
    assert_true(vdev_blk_is_writeback(&env.vd));
    assert_int_equal(virtio_blk_write(blk, 7, buf, 1), 0);
    assert_true(dstats().stable_writes == stable + 2);
    /* A re-init (device reset) goes back to the device's default. */
    assert_int_equal(virtio_blk_set_writeback(blk, false), 0);
    assert_int_equal(virtio_blk_reinit(blk), 0);
    assert_int_equal(virtio_blk_get_writeback(blk, &wb), 0);
    assert_true(wb);
    virt_dma_free(buf, 512);
}

#define BOTH(fn)                                                                                   \
    cmocka_unit_test_prestate_setup_teardown(fn, setup, teardown, (void *)mode_irq),               \
        cmocka_unit_test_prestate_setup_teardown(fn, setup, teardown, (void *)mode_poll)

int main(void)
{
    const struct CMUnitTest tests[] = {
        BOTH(test_limits_negotiated), BOTH(test_discard_zeroes), BOTH(test_split_within_limits),
        BOTH(test_bad_ranges),        BOTH(test_not_offered),    BOTH(test_read_only),
        BOTH(test_writeback_toggle),
    };

    if (getenv("TEST_FILTER"))
        cmocka_set_test_filter(getenv("TEST_FILTER"));
    return cmocka_run_group_tests_name("blk-features (driver)", tests, NULL, NULL);
}
