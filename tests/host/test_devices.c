/* SPDX-License-Identifier: Apache-2.0 */
/*
 * test_devices.c - cmocka tests of the loopback device models
 * (hostsim/dev_*.c), each driven through the virtio-mmio register file by
 * the real driver virtqueue (tests/host/dev_fixture.c), with the data
 * checked: here blk against a copy of the disk; rng, net, console and pmem
 * are in test_devices_io.c.
 *
 * TEST_FILTER='test_blk_*' runs only the matching cases.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <pthread.h>
#include <sched.h>

#include "dev_fixture.h"
#include "vdev_models.h"
#include "virtio_mmio.h"
#include "virtio_platform.h"

static struct dev_fixture fixture;

/* ------------------------------------------------------------------ blk */

#define BLK_SECTORS 128
#define BLK_BYTES (BLK_SECTORS * 512)

static uint8_t *blk_disk;

static int setup_blk(void **state)
{
    struct dev_fixture *f = &fixture;
    unsigned i;

    dfx_arena(f);
    blk_disk = malloc(2 * BLK_BYTES);
    assert_non_null(blk_disk);
    for (i = 0; i < 2 * BLK_BYTES; i++)
        blk_disk[i] = (uint8_t)(i * 7 + 3);
    assert_int_equal(vdev_blk_create(&f->dev, &f->fx.mem, blk_disk, BLK_BYTES, NULL), 0);
    dfx_attach(f);
    *state = f;
    return 0;
}

static int teardown_blk(void **state)
{
    dfx_teardown_state(state);
    free(blk_disk);
    return 0;
}

struct blk_req {
    struct virtio_blk_req_hdr hdr;
    uint8_t status;
};

/* One request: header, data (len bytes, readable for OUT, writable
 * otherwise; split into two segments when split is set), status.
 * Returns the status; *used gets the used length. */
static uint8_t blk_do(struct dev_fixture *f, uint32_t type, uint64_t sector, void *data,
                      uint32_t len, bool split, uint32_t *used)
{
    struct blk_req *r = dfx_galloc(f, sizeof(*r));
    struct vq_sg sg[4];
    unsigned n = 0, out, in;
    bool is_out = type == VIRTIO_BLK_T_OUT;
    uint32_t u;

    r->hdr.type = type;
    r->hdr.sector = sector;
    r->status = 0xee;
    sg[n++] = (struct vq_sg){.buf = &r->hdr, .len = sizeof(r->hdr)};
    if (len && split && len > 1) {
        sg[n++] = (struct vq_sg){.buf = data, .len = len / 2};
        sg[n++] = (struct vq_sg){.buf = (uint8_t *)data + len / 2, .len = len - len / 2};
    } else if (len) {
        sg[n++] = (struct vq_sg){.buf = data, .len = len};
    }
    sg[n++] = (struct vq_sg){.buf = &r->status, .len = 1};
    out = is_out ? n - 1 : 1;
    in = n - out;
    dfx_submit(f, 0, sg, out, in, r);
    u = dfx_used(f, 0, r);
    if (used)
        *used = u;
    return r->status;
}

static struct vdev_blk_stats blk_stats(struct dev_fixture *f)
{
    struct vdev_blk_stats st;

    vdev_blk_get_stats(&f->dev, &st);
    return st;
}

static void test_blk_config(void **state)
{
    struct dev_fixture *f = *state;
    uint64_t feat = dfx_device_features(f);

    assert_int_equal(dfx_rd(f, VIRTIO_MMIO_DEVICE_ID), VIRTIO_ID_BLOCK);
    assert_true(feat & (1ull << VIRTIO_F_VERSION_1));
    assert_true(feat & (1ull << VIRTIO_F_EVENT_IDX));
    assert_true(feat & (1ull << VIRTIO_F_INDIRECT_DESC));
    assert_true(feat & (1ull << VIRTIO_BLK_F_SEG_MAX));
    assert_true(feat & (1ull << VIRTIO_BLK_F_SIZE_MAX));
    assert_true(feat & (1ull << VIRTIO_BLK_F_BLK_SIZE));
    assert_true(feat & (1ull << VIRTIO_BLK_F_FLUSH));
    assert_int_equal(vmmio_read(f->m, VIRTIO_MMIO_CONFIG + 0, 4), BLK_SECTORS);
    assert_int_equal(vmmio_read(f->m, VIRTIO_MMIO_CONFIG + 4, 4), 0);
    assert_int_equal(vmmio_read(f->m, VIRTIO_MMIO_CONFIG + 8, 4), VDEV_BLK_SIZE_MAX);
    assert_int_equal(vmmio_read(f->m, VIRTIO_MMIO_CONFIG + 12, 4), VDEV_BLK_SEG_MAX);
    assert_int_equal(vmmio_read(f->m, VIRTIO_MMIO_CONFIG + 20, 4), 512);
    assert_int_equal(vmmio_read(f->m, VIRTIO_MMIO_CONFIG + 60, 1), 0); /* past the end */
    dfx_wr(f, VIRTIO_MMIO_QUEUE_SEL, 0);
    assert_int_equal(dfx_rd(f, VIRTIO_MMIO_QUEUE_NUM_MAX), VDEV_BLK_QUEUE_MAX);
    /* Bad disks are refused. */
    {
        struct vdev d2;
        uint8_t small[600];

        assert_int_equal(vdev_blk_create(&d2, &f->fx.mem, small, 600, NULL), -EINVAL);
        assert_int_equal(vdev_blk_create(&d2, &f->fx.mem, small, 0, NULL), -EINVAL);
        assert_int_equal(vdev_blk_create(&d2, &f->fx.mem, NULL, 512, NULL), -EINVAL);
    }
}

static void blk_rw(struct dev_fixture *f, bool split)
{
    uint8_t *w = dfx_galloc(f, 3 * 512), *r = dfx_galloc(f, 3 * 512);
    uint32_t used;
    unsigned i;

    for (i = 0; i < 3 * 512; i++)
        w[i] = (uint8_t)(i ^ 0x5a);
    assert_int_equal(blk_do(f, VIRTIO_BLK_T_OUT, 5, w, 3 * 512, split, &used), VIRTIO_BLK_S_OK);
    assert_int_equal(used, 1);
    assert_memory_equal(blk_disk + 5 * 512, w, 3 * 512);
    assert_int_equal(blk_do(f, VIRTIO_BLK_T_IN, 5, r, 3 * 512, split, &used), VIRTIO_BLK_S_OK);
    assert_int_equal(used, 3 * 512 + 1);
    assert_memory_equal(r, w, 3 * 512);
    /* The last sector, untouched so far. */
    assert_int_equal(blk_do(f, VIRTIO_BLK_T_IN, BLK_SECTORS - 1, r, 512, split, NULL),
                     VIRTIO_BLK_S_OK);
    assert_memory_equal(r, blk_disk + (BLK_SECTORS - 1) * 512, 512);
}

static void test_blk_read_write(void **state)
{
    struct dev_fixture *f = *state;

    dfx_start(f, dfx_device_features(f), 16);
    blk_rw(f, false);
    blk_rw(f, true);
    assert_true(blk_stats(f).reads == 4);
    assert_true(blk_stats(f).writes == 2);
    assert_true(f->dev.queues[0].stats.requests == 6);
    dfx_start(f, dfx_no_event_idx(f) & ~(1ull << VIRTIO_F_INDIRECT_DESC), 16);
    blk_rw(f, true);
}

static void test_blk_flush_get_id(void **state)
{
    struct dev_fixture *f = *state;
    uint8_t *id = dfx_galloc(f, 32);
    uint32_t used;

    dfx_start(f, dfx_device_features(f), 8);
    assert_int_equal(blk_do(f, VIRTIO_BLK_T_FLUSH, 0, NULL, 0, false, &used), VIRTIO_BLK_S_OK);
    assert_int_equal(used, 1);
    assert_true(blk_stats(f).flushes == 1);
    memset(id, 0xff, 32);
    assert_int_equal(blk_do(f, VIRTIO_BLK_T_GET_ID, 0, id, VIRTIO_BLK_ID_BYTES, false, &used),
                     VIRTIO_BLK_S_OK);
    assert_int_equal(used, VIRTIO_BLK_ID_BYTES + 1);
    assert_memory_equal(id, "ringloop-lblk0\0\0\0\0\0\0", VIRTIO_BLK_ID_BYTES);
    /* A short buffer gets what fits. */
    memset(id, 0xff, 32);
    assert_int_equal(blk_do(f, VIRTIO_BLK_T_GET_ID, 0, id, 4, false, NULL), VIRTIO_BLK_S_OK);
    assert_memory_equal(id, "ring", 4);
    assert_int_equal(id[4], 0xff);
}

static void test_blk_out_of_range(void **state)
{
    struct dev_fixture *f = *state;
    static const uint64_t bad_sectors[] = {
        BLK_SECTORS,        BLK_SECTORS - 1 /* 2 sectors: partially out */,
        BLK_SECTORS + 1000, 1ull << 55 /* sector * 512 overflows */,
        UINT64_MAX,         UINT64_MAX - 1,
    };
    uint8_t *buf = dfx_galloc(f, 1024);
    uint8_t *copy = malloc(BLK_BYTES * 2);
    size_t i;

    assert_non_null(copy);
    memcpy(copy, blk_disk, BLK_BYTES * 2);
    dfx_start(f, dfx_device_features(f), 8);
    memset(buf, 0x77, 1024);
    for (i = 0; i < sizeof(bad_sectors) / sizeof(bad_sectors[0]); i++) {
        assert_int_equal(blk_do(f, VIRTIO_BLK_T_IN, bad_sectors[i], buf, 1024, false, NULL),
                         VIRTIO_BLK_S_IOERR);
        assert_int_equal(blk_do(f, VIRTIO_BLK_T_OUT, bad_sectors[i], buf, 1024, true, NULL),
                         VIRTIO_BLK_S_IOERR);
    }
    /* Nothing was transferred: the disk (and what lies past it) is intact,
     * and the read buffer untouched. */
    assert_memory_equal(copy, blk_disk, BLK_BYTES * 2);
    for (i = 0; i < 1024; i++)
        assert_int_equal(buf[i], 0x77);
    /* Not a multiple of the sector size. */
    assert_int_equal(blk_do(f, VIRTIO_BLK_T_IN, 0, buf, 100, false, NULL), VIRTIO_BLK_S_IOERR);
    assert_true(blk_stats(f).ioerr == 13);
    /* The device is still fine. */
    assert_int_equal(blk_do(f, VIRTIO_BLK_T_IN, 0, buf, 512, false, NULL), VIRTIO_BLK_S_OK);
    assert_memory_equal(buf, blk_disk, 512);
    free(copy);
}

static void test_blk_unsupported(void **state)
{
    struct dev_fixture *f = *state;
    uint8_t *buf = dfx_galloc(f, 512);

    dfx_start(f, dfx_device_features(f), 8);
    assert_int_equal(blk_do(f, 99, 0, buf, 512, false, NULL), VIRTIO_BLK_S_UNSUPP);
    assert_int_equal(blk_do(f, 14 /* SECURE_ERASE, not offered */, 0, NULL, 0, false, NULL),
                     VIRTIO_BLK_S_UNSUPP);
    assert_true(blk_stats(f).unsupp == 2);
}

static void test_blk_malformed(void **state)
{
    struct dev_fixture *f = *state;
    struct blk_req *r = dfx_galloc(f, sizeof(*r));
    uint8_t *st = dfx_galloc(f, 1);
    struct vq_sg sg[2];

    dfx_start(f, dfx_device_features(f), 8);
    /* No writable byte for the status. */
    r->hdr.type = VIRTIO_BLK_T_IN;
    sg[0] = (struct vq_sg){.buf = &r->hdr, .len = sizeof(r->hdr)};
    dfx_submit(f, 0, sg, 1, 0, r);
    assert_int_equal(dfx_used(f, 0, r), 0);
    /* Header shorter than 16 bytes: IOERR in the status. */
    *st = 0xee;
    sg[0] = (struct vq_sg){.buf = &r->hdr, .len = 8};
    sg[1] = (struct vq_sg){.buf = st, .len = 1};
    dfx_submit(f, 0, sg, 1, 1, r);
    assert_int_equal(dfx_used(f, 0, r), 1);
    assert_int_equal(*st, VIRTIO_BLK_S_IOERR);
    /* Only a status byte. */
    *st = 0xee;
    dfx_submit(f, 0, sg + 1, 0, 1, st);
    assert_int_equal(dfx_used(f, 0, st), 1);
    assert_int_equal(*st, VIRTIO_BLK_S_IOERR);
    assert_true(blk_stats(f).bad == 3);
    assert_true(f->dev.queues[0].stats.bad_chains == 3);
    assert_true(f->dev.queues[0].stats.requests == 0);
}

/* One request whose data segment (len bytes, none when 0) is device-writable
 * or device-readable as asked, whatever its type says; *used gets the
 * used length. Returns the status byte. */
static uint8_t blk_do_dir(struct dev_fixture *f, uint32_t type, void *data, uint32_t len,
                          bool data_writable, uint32_t *used)
{
    struct blk_req *r = dfx_galloc(f, sizeof(*r));
    struct vq_sg sg[3];
    unsigned n = 0, out;

    r->hdr.type = type;
    r->hdr.sector = 0;
    r->status = 0xee;
    sg[n++] = (struct vq_sg){.buf = &r->hdr, .len = sizeof(r->hdr)};
    if (len)
        sg[n++] = (struct vq_sg){.buf = data, .len = len};
    sg[n++] = (struct vq_sg){.buf = &r->status, .len = 1};
    out = len && !data_writable ? 2 : 1;
    dfx_submit(f, 0, sg, out, n - out, r);
    *used = dfx_used(f, 0, r);
    return r->status;
}

/* 5.2.6: IN / GET_ID data is device-writable, OUT data device-readable. A
 * request whose buffers point the other way cannot do what it asks: IOERR,
 * nothing moved, counted as bad. */
static void test_blk_wrong_direction(void **state)
{
    struct dev_fixture *f = *state;
    uint8_t *buf = dfx_galloc(f, 512), *copy = malloc(BLK_BYTES);
    uint32_t used;

    assert_non_null(copy);
    memcpy(copy, blk_disk, BLK_BYTES);
    dfx_start(f, dfx_device_features(f), 8);
    /* IN with readable data: only the status byte is writable. */
    memset(buf, 0x77, 512);
    assert_int_equal(blk_do_dir(f, VIRTIO_BLK_T_IN, buf, 512, false, &used), VIRTIO_BLK_S_IOERR);
    assert_int_equal(used, 1);
    dfx_assert_all(buf, 0x77, 512);
    /* OUT with writable data: nothing to write from. */
    memset(buf, 0x55, 512);
    assert_int_equal(blk_do_dir(f, VIRTIO_BLK_T_OUT, buf, 512, true, &used), VIRTIO_BLK_S_IOERR);
    dfx_assert_all(buf, 0x55, 512);
    assert_memory_equal(copy, blk_disk, BLK_BYTES);
    /* GET_ID with a readable id buffer, and with none at all. */
    memset(buf, 0xff, 32);
    assert_int_equal(blk_do_dir(f, VIRTIO_BLK_T_GET_ID, buf, VIRTIO_BLK_ID_BYTES, false, &used),
                     VIRTIO_BLK_S_IOERR);
    dfx_assert_all(buf, 0xff, 32);
    assert_int_equal(blk_do_dir(f, VIRTIO_BLK_T_GET_ID, NULL, 0, true, &used), VIRTIO_BLK_S_IOERR);
    assert_int_equal(used, 1);
    assert_true(blk_stats(f).bad == 4);
    assert_true(blk_stats(f).reads == 0 && blk_stats(f).writes == 0);
    assert_true(blk_stats(f).get_ids == 0 && blk_stats(f).ioerr == 0);
    assert_true(f->dev.queues[0].stats.bad_chains == 4);
    assert_true(f->dev.queues[0].stats.requests == 0);
    /* The right directions still work. */
    assert_int_equal(blk_do_dir(f, VIRTIO_BLK_T_IN, buf, 512, true, &used), VIRTIO_BLK_S_OK);
    assert_memory_equal(buf, blk_disk, 512);
    memset(buf, 0x66, 512);
    assert_int_equal(blk_do_dir(f, VIRTIO_BLK_T_OUT, buf, 512, false, &used), VIRTIO_BLK_S_OK);
    dfx_assert_all(blk_disk, 0x66, 512);
    free(copy);
}

struct blk_resize_arg {
    void *disk;
    uint64_t bytes;
    int ret;
};

static void blk_resize_locked(struct vdev *d, void *arg)
{
    struct blk_resize_arg *a = arg;

    a->ret = vdev_blk_resize(d, a->disk, a->bytes);
}

static void test_blk_resize(void **state)
{
    struct dev_fixture *f = *state;
    uint8_t *buf = dfx_galloc(f, 512);
    struct blk_resize_arg a = {.disk = blk_disk, .bytes = 2 * BLK_BYTES};
    uint32_t gen;

    dfx_start(f, dfx_device_features(f), 8);
    assert_int_equal(blk_do(f, VIRTIO_BLK_T_IN, BLK_SECTORS, buf, 512, false, NULL),
                     VIRTIO_BLK_S_IOERR);
    gen = dfx_rd(f, VIRTIO_MMIO_CONFIG_GENERATION);
    f->interrupts = 0;
    vmmio_run_locked(f->m, blk_resize_locked, &a);
    assert_int_equal(a.ret, 0);
    assert_int_equal(vmmio_read(f->m, VIRTIO_MMIO_CONFIG, 4), 2 * BLK_SECTORS);
    assert_int_equal(dfx_rd(f, VIRTIO_MMIO_CONFIG_GENERATION), gen + 1);
    assert_int_equal(f->interrupts, 1);
    assert_true(dfx_rd(f, VIRTIO_MMIO_INTERRUPT_STATUS) & VIRTIO_INT_CONFIG_CHANGE);
    assert_int_equal(blk_do(f, VIRTIO_BLK_T_IN, BLK_SECTORS, buf, 512, false, NULL),
                     VIRTIO_BLK_S_OK);
    assert_memory_equal(buf, blk_disk + BLK_BYTES, 512);
    a.bytes = 100;
    vmmio_run_locked(f->m, blk_resize_locked, &a);
    assert_int_equal(a.ret, -EINVAL);
    assert_int_equal(vmmio_read(f->m, VIRTIO_MMIO_CONFIG, 4), 2 * BLK_SECTORS);
}

/* A full ring of reads in flight, one kick, one process run: with EVENT_IDX
 * on and off; data checked per request. */
static void blk_full_ring(struct dev_fixture *f, uint64_t features, uint32_t num)
{
    struct blk_req *r = dfx_galloc(f, num * sizeof(*r));
    uint8_t *data = dfx_galloc(f, (size_t)num * 512);
    uint32_t i, len;
    void *tok;
    int kicks_before, irqs_before;

    dfx_start(f, features, num);
    kicks_before = f->notifies;
    irqs_before = f->interrupts;
    for (i = 0; i < num; i++) {
        struct vq_sg sg[3] = {
            {.buf = &r[i].hdr, .len = sizeof(r[i].hdr)},
            {.buf = data + (size_t)i * 512, .len = 512},
            {.buf = &r[i].status, .len = 1},
        };

        r[i].hdr.type = VIRTIO_BLK_T_IN;
        r[i].hdr.sector = i % BLK_SECTORS;
        r[i].status = 0xee;
        assert_int_equal(vq_add_sgs(f->vq[0], sg, 1, 2, &r[i]), 0);
    }
    assert_int_equal(vq_kick(f->vq[0]), 0);
    assert_int_equal(f->notifies, kicks_before + 1);
    assert_int_equal(vmmio_process(f->m), (int)num);
    assert_int_equal(f->interrupts, irqs_before + 1);
    for (i = 0; i < num; i++) {
        assert_int_equal(vq_get_buf(f->vq[0], &tok, &len), 0);
        assert_ptr_equal(tok, &r[i]);
        assert_int_equal(len, 513);
        assert_int_equal(r[i].status, VIRTIO_BLK_S_OK);
        assert_memory_equal(data + (size_t)i * 512, blk_disk + (i % BLK_SECTORS) * 512, 512);
    }
    assert_int_equal(vq_get_buf(f->vq[0], &tok, &len), -EAGAIN);
}

static void test_blk_full_ring(void **state)
{
    struct dev_fixture *f = *state;

    blk_full_ring(f, dfx_device_features(f), VDEV_BLK_QUEUE_MAX);
    blk_full_ring(f, dfx_no_event_idx(f), VDEV_BLK_QUEUE_MAX);
    blk_full_ring(f, dfx_device_features(f), 1);
}

/* Reset in the middle of traffic, then re-init and go on. */
static void test_blk_reset_reinit(void **state)
{
    struct dev_fixture *f = *state;
    uint8_t *buf = dfx_galloc(f, 512);
    struct blk_req *r = dfx_galloc(f, sizeof(*r));
    struct vq_sg sg[3] = {
        {.buf = &r->hdr, .len = sizeof(r->hdr)},
        {.buf = buf, .len = 512},
        {.buf = &r->status, .len = 1},
    };

    dfx_start(f, dfx_device_features(f), 8);
    r->hdr.type = VIRTIO_BLK_T_IN;
    assert_int_equal(vq_add_sgs(f->vq[0], sg, 1, 2, r), 0);
    assert_int_equal(vq_kick(f->vq[0]), 0);
    dfx_wr(f, VIRTIO_MMIO_STATUS, 0); /* before the device CPU ran */
    assert_int_equal(vmmio_process(f->m), 0);
    assert_ptr_equal(vq_detach_unused(f->vq[0]), r);
    dfx_start(f, dfx_device_features(f), 8);
    blk_rw(f, true);
}

/* Two threads: the device side runs vmmio_process() on its own thread
 * (woken by nothing but the pending bits), the driver keeps `depth`
 * requests in flight and polls for completions. Each in-flight slot owns
 * the sectors congruent to it mod depth, alternating a write of a fresh
 * pattern and a read that must return it. */
#define BLK_MT_REQUESTS 10000

struct blk_mt_slot {
    struct blk_req *r;
    uint8_t *data;
    uint64_t sector;
    bool is_write;
    uint32_t seq;
};

static int blk_mt_stop;

static void *blk_mt_device(void *arg)
{
    struct dev_fixture *f = arg;

    while (!__atomic_load_n(&blk_mt_stop, __ATOMIC_ACQUIRE)) {
        if (vmmio_has_pending(f->m))
            vmmio_process(f->m);
        else
            sched_yield();
    }
    return NULL;
}

static void blk_mt_fill(uint8_t *p, uint64_t sector, uint32_t seq)
{
    unsigned i;

    for (i = 0; i < 512; i++)
        p[i] = (uint8_t)(sector * 31 + seq * 7 + i);
}

static void blk_mt_submit(struct dev_fixture *f, struct blk_mt_slot *s)
{
    struct vq_sg sg[3] = {
        {.buf = &s->r->hdr, .len = sizeof(s->r->hdr)},
        {.buf = s->data, .len = 512},
        {.buf = &s->r->status, .len = 1},
    };

    s->r->hdr.type = s->is_write ? VIRTIO_BLK_T_OUT : VIRTIO_BLK_T_IN;
    s->r->hdr.sector = s->sector;
    s->r->status = 0xee;
    if (s->is_write)
        blk_mt_fill(s->data, s->sector, s->seq);
    else
        memset(s->data, 0, 512);
    assert_int_equal(vq_add_sgs(f->vq[0], sg, s->is_write ? 2 : 1, s->is_write ? 1 : 2, s), 0);
    assert_int_equal(vq_kick(f->vq[0]), 0);
}

static void blk_mt_run(struct dev_fixture *f, uint64_t features, uint32_t depth)
{
    struct blk_mt_slot *slots = calloc(depth, sizeof(*slots));
    uint64_t done = 0, kicks, irqs, t0;
    uint8_t expect[512];
    pthread_t th;
    uint32_t i, seq = 1;

    assert_non_null(slots);
    dfx_start(f, features, VDEV_BLK_QUEUE_MAX);
    kicks = f->dev.queues[0].stats.kicks;
    irqs = f->dev.queues[0].stats.interrupts;
    __atomic_store_n(&blk_mt_stop, 0, __ATOMIC_RELEASE);
    assert_int_equal(pthread_create(&th, NULL, blk_mt_device, f), 0);
    for (i = 0; i < depth; i++) {
        slots[i].r = dfx_galloc(f, sizeof(struct blk_req));
        slots[i].data = dfx_galloc(f, 512);
        slots[i].sector = i;
        slots[i].is_write = true;
        slots[i].seq = seq++;
        blk_mt_submit(f, &slots[i]);
    }
    t0 = virt_time_ns();
    while (done < BLK_MT_REQUESTS) {
        struct blk_mt_slot *s;
        void *tok;
        uint32_t len;
        int err = vq_get_buf(f->vq[0], &tok, &len);

        if (err == -EAGAIN) {
            assert_true(virt_time_ns() - t0 < 60000000000ull); /* no lost wake-up */
            continue;
        }
        assert_int_equal(err, 0);
        s = tok;
        assert_int_equal(s->r->status, VIRTIO_BLK_S_OK);
        if (!s->is_write) {
            assert_int_equal(len, 513);
            blk_mt_fill(expect, s->sector, s->seq);
            assert_memory_equal(s->data, expect, 512);
            /* Next: write somewhere else this slot owns. */
            s->sector = (s->sector + depth * (1 + done % 3)) % BLK_SECTORS;
            s->seq = seq++;
        }
        s->is_write = !s->is_write; /* a write is followed by its read-back */
        done++;
        blk_mt_submit(f, s);
    }
    /* Drain what is still in flight. */
    for (i = 0; i < depth;) {
        void *tok;
        uint32_t len;

        if (vq_get_buf(f->vq[0], &tok, &len) == 0)
            i++;
    }
    __atomic_store_n(&blk_mt_stop, 1, __ATOMIC_RELEASE);
    assert_int_equal(pthread_join(th, NULL), 0);
    kicks = f->dev.queues[0].stats.kicks - kicks;
    irqs = f->dev.queues[0].stats.interrupts - irqs;
    print_message("blk 2 threads: event_idx %d depth %3u: %.3f kicks/req, %.3f irqs/req\n",
                  (features >> VIRTIO_F_EVENT_IDX) & 1 ? 1 : 0, depth,
                  (double)kicks / (double)(done + depth), (double)irqs / (double)(done + depth));
    assert_false(vq_is_broken(f->vq[0]));
    assert_int_equal(dfx_rd(f, VIRTIO_MMIO_STATUS) & VIRTIO_STATUS_DEVICE_NEEDS_RESET, 0);
    free(slots);
}

static void test_blk_two_threads(void **state)
{
    struct dev_fixture *f = *state;

    blk_mt_run(f, dfx_device_features(f), 1);
    blk_mt_run(f, dfx_device_features(f), 32);
    blk_mt_run(f, dfx_no_event_idx(f), 1);
    blk_mt_run(f, dfx_no_event_idx(f), 32);
}

/* ------------------------------------------------------------------ main */

#define BLK_TEST(t) cmocka_unit_test_setup_teardown(t, setup_blk, teardown_blk)

int main(void)
{
    const struct CMUnitTest tests[] = {
        BLK_TEST(test_blk_config),
        BLK_TEST(test_blk_read_write),
        BLK_TEST(test_blk_flush_get_id),
        BLK_TEST(test_blk_out_of_range),
        BLK_TEST(test_blk_unsupported),
        BLK_TEST(test_blk_malformed),
        BLK_TEST(test_blk_wrong_direction),
        BLK_TEST(test_blk_resize),
        BLK_TEST(test_blk_full_ring),
        BLK_TEST(test_blk_reset_reinit),
        BLK_TEST(test_blk_two_threads),
    };

    if (getenv("TEST_FILTER"))
        cmocka_set_test_filter(getenv("TEST_FILTER"));
    return cmocka_run_group_tests_name("devices", tests, NULL, NULL);
}
