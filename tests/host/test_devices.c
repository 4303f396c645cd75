/* SPDX-License-Identifier: Apache-2.0 */
/*
 * test_devices.c - cmocka tests of the loopback device models
 * (hostsim/dev_*.c), each driven through the virtio-mmio register file by
 * the real driver virtqueue (tests/host/dev_fixture.c), with the data
 * checked: blk against a copy of the disk, rng against a reference
 * splitmix64 written here, net/console byte for byte, pmem's error cases
 * one by one with hand-made chains.
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

static int teardown(void **state)
{
    dfx_teardown(*state);
    return 0;
}

static uint64_t all_features(struct dev_fixture *f)
{
    return dfx_device_features(f);
}

static uint64_t no_event_idx(struct dev_fixture *f)
{
    return dfx_device_features(f) & ~(1ull << VIRTIO_F_EVENT_IDX);
}

static void *galloc(struct dev_fixture *f, size_t len)
{
    return fx_alloc(&f->fx, len, NULL);
}

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
    teardown(state);
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
    struct blk_req *r = galloc(f, sizeof(*r));
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
    uint8_t *w = galloc(f, 3 * 512), *r = galloc(f, 3 * 512);
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

    dfx_start(f, all_features(f), 16);
    blk_rw(f, false);
    blk_rw(f, true);
    assert_true(blk_stats(f).reads == 4);
    assert_true(blk_stats(f).writes == 2);
    assert_true(f->dev.queues[0].stats.requests == 6);
    dfx_start(f, no_event_idx(f) & ~(1ull << VIRTIO_F_INDIRECT_DESC), 16);
    blk_rw(f, true);
}

static void test_blk_flush_get_id(void **state)
{
    struct dev_fixture *f = *state;
    uint8_t *id = galloc(f, 32);
    uint32_t used;

    dfx_start(f, all_features(f), 8);
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
    uint8_t *buf = galloc(f, 1024);
    uint8_t *copy = malloc(BLK_BYTES * 2);
    size_t i;

    assert_non_null(copy);
    memcpy(copy, blk_disk, BLK_BYTES * 2);
    dfx_start(f, all_features(f), 8);
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
    uint8_t *buf = galloc(f, 512);

    dfx_start(f, all_features(f), 8);
    assert_int_equal(blk_do(f, 99, 0, buf, 512, false, NULL), VIRTIO_BLK_S_UNSUPP);
    assert_int_equal(blk_do(f, 14 /* SECURE_ERASE, not offered */, 0, NULL, 0, false, NULL),
                     VIRTIO_BLK_S_UNSUPP);
    assert_true(blk_stats(f).unsupp == 2);
}

static void test_blk_malformed(void **state)
{
    struct dev_fixture *f = *state;
    struct blk_req *r = galloc(f, sizeof(*r));
    uint8_t *st = galloc(f, 1);
    struct vq_sg sg[2];

    dfx_start(f, all_features(f), 8);
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
    struct blk_req *r = galloc(f, sizeof(*r));
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

static void assert_all(const uint8_t *p, uint8_t v, size_t len)
{
    size_t i;

    for (i = 0; i < len; i++)
        assert_int_equal(p[i], v);
}

/* 5.2.6: IN / GET_ID data is device-writable, OUT data device-readable. A
 * request whose buffers point the other way cannot do what it asks: IOERR,
 * nothing moved, counted as bad. */
static void test_blk_wrong_direction(void **state)
{
    struct dev_fixture *f = *state;
    uint8_t *buf = galloc(f, 512), *copy = malloc(BLK_BYTES);
    uint32_t used;

    assert_non_null(copy);
    memcpy(copy, blk_disk, BLK_BYTES);
    dfx_start(f, all_features(f), 8);
    /* IN with readable data: only the status byte is writable. */
    memset(buf, 0x77, 512);
    assert_int_equal(blk_do_dir(f, VIRTIO_BLK_T_IN, buf, 512, false, &used), VIRTIO_BLK_S_IOERR);
    assert_int_equal(used, 1);
    assert_all(buf, 0x77, 512);
    /* OUT with writable data: nothing to write from. */
    memset(buf, 0x55, 512);
    assert_int_equal(blk_do_dir(f, VIRTIO_BLK_T_OUT, buf, 512, true, &used), VIRTIO_BLK_S_IOERR);
    assert_all(buf, 0x55, 512);
    assert_memory_equal(copy, blk_disk, BLK_BYTES);
    /* GET_ID with a readable id buffer, and with none at all. */
    memset(buf, 0xff, 32);
    assert_int_equal(blk_do_dir(f, VIRTIO_BLK_T_GET_ID, buf, VIRTIO_BLK_ID_BYTES, false, &used),
                     VIRTIO_BLK_S_IOERR);
    assert_all(buf, 0xff, 32);
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
    assert_all(blk_disk, 0x66, 512);
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
    uint8_t *buf = galloc(f, 512);
    struct blk_resize_arg a = {.disk = blk_disk, .bytes = 2 * BLK_BYTES};
    uint32_t gen;

    dfx_start(f, all_features(f), 8);
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
    struct blk_req *r = galloc(f, num * sizeof(*r));
    uint8_t *data = galloc(f, (size_t)num * 512);
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

    blk_full_ring(f, all_features(f), VDEV_BLK_QUEUE_MAX);
    blk_full_ring(f, no_event_idx(f), VDEV_BLK_QUEUE_MAX);
    blk_full_ring(f, all_features(f), 1);
}

/* Reset in the middle of traffic, then re-init and go on. */
static void test_blk_reset_reinit(void **state)
{
    struct dev_fixture *f = *state;
    uint8_t *buf = galloc(f, 512);
    struct blk_req *r = galloc(f, sizeof(*r));
    struct vq_sg sg[3] = {
        {.buf = &r->hdr, .len = sizeof(r->hdr)},
        {.buf = buf, .len = 512},
        {.buf = &r->status, .len = 1},
    };

    dfx_start(f, all_features(f), 8);
    r->hdr.type = VIRTIO_BLK_T_IN;
    assert_int_equal(vq_add_sgs(f->vq[0], sg, 1, 2, r), 0);
    assert_int_equal(vq_kick(f->vq[0]), 0);
    dfx_wr(f, VIRTIO_MMIO_STATUS, 0); /* before the device CPU ran */
    assert_int_equal(vmmio_process(f->m), 0);
    assert_ptr_equal(vq_detach_unused(f->vq[0]), r);
    dfx_start(f, all_features(f), 8);
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
        slots[i].r = galloc(f, sizeof(struct blk_req));
        slots[i].data = galloc(f, 512);
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

    blk_mt_run(f, all_features(f), 1);
    blk_mt_run(f, all_features(f), 32);
    blk_mt_run(f, no_event_idx(f), 1);
    blk_mt_run(f, no_event_idx(f), 32);
}

/* ------------------------------------------------------------------ rng */

#define RNG_SEED 0x1234u

static int setup_rng(void **state)
{
    struct dev_fixture *f = &fixture;

    dfx_arena(f);
    assert_int_equal(vdev_rng_create(&f->dev, &f->fx.mem, RNG_SEED), 0);
    dfx_attach(f);
    *state = f;
    return 0;
}

/* Reference stream, written from the description in vdev_models.h:
 * splitmix64 words, each as 8 little-endian bytes. */
static void rng_ref(uint64_t seed, uint8_t *out, size_t len)
{
    uint64_t s = seed;
    size_t i;

    for (i = 0; i < len; i += 8) {
        uint64_t z;
        unsigned b;

        s += 0x9e3779b97f4a7c15ull;
        z = s;
        z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
        z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
        z ^= z >> 31;
        for (b = 0; b < 8 && i + b < len; b++)
            out[i + b] = (uint8_t)(z >> (8 * b));
    }
}

static void test_rng_known_answer(void **state)
{
    /* Computed independently in Python (the same lines pytest will use):
     * seed 0 -> first word 0xe220a8397b1dcdaf. */
    static const uint8_t seed0[16] = {0xaf, 0xcd, 0x1d, 0x7b, 0x39, 0xa8, 0x20, 0xe2,
                                      0xf4, 0x65, 0xb9, 0xa1, 0x6a, 0x9e, 0x78, 0x6e};
    static const uint8_t seed1234[8] = {0x88, 0x38, 0xe2, 0xd5, 0x87, 0x2f, 0x64, 0x5f};
    uint8_t b[16];

    (void)state;
    rng_ref(0, b, 16);
    assert_memory_equal(b, seed0, 16);
    rng_ref(0x1234, b, 8);
    assert_memory_equal(b, seed1234, 8);
}

static void test_rng_bytes(void **state)
{
    struct dev_fixture *f = *state;
    static const uint32_t sizes[] = {1, 3, 8, 13, 64, 1000, 4096, 7};
    size_t total = 0, i;
    uint8_t *ref = malloc(8192);
    struct vdev_rng_state st;

    assert_non_null(ref);
    rng_ref(RNG_SEED, ref, 8192);
    assert_int_equal(dfx_rd(f, VIRTIO_MMIO_DEVICE_ID), VIRTIO_ID_RNG);
    assert_int_equal(vmmio_read(f->m, VIRTIO_MMIO_CONFIG, 1), 0); /* no config */
    dfx_start(f, all_features(f), 8);
    for (i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
        uint8_t *buf = galloc(f, sizes[i]);
        struct vq_sg sg = {.buf = buf, .len = sizes[i]};

        dfx_submit(f, 0, &sg, 0, 1, buf);
        assert_int_equal(dfx_used(f, 0, buf), sizes[i]);
        assert_memory_equal(buf, ref + total, sizes[i]);
        total += sizes[i];
    }
    /* A chain split over several writable segments: the stream flows on. */
    {
        uint8_t *a = galloc(f, 5), *b = galloc(f, 11);
        struct vq_sg sg[2] = {{.buf = a, .len = 5}, {.buf = b, .len = 11}};

        dfx_submit(f, 0, sg, 0, 2, a);
        assert_int_equal(dfx_used(f, 0, a), 16);
        assert_memory_equal(a, ref + total, 5);
        assert_memory_equal(b, ref + total + 5, 11);
        total += 16;
    }
    vdev_rng_get_state(&f->dev, &st);
    assert_true(st.produced == total);
    /* Reset does not replay the stream. */
    dfx_start(f, no_event_idx(f), 4);
    {
        uint8_t *buf = galloc(f, 32);
        struct vq_sg sg = {.buf = buf, .len = 32};

        dfx_submit(f, 0, &sg, 0, 1, buf);
        assert_int_equal(dfx_used(f, 0, buf), 32);
        assert_memory_equal(buf, ref + total, 32);
    }
    free(ref);
}

static void test_rng_bad_and_state(void **state)
{
    struct dev_fixture *f = *state;
    uint8_t *buf = galloc(f, 16), ref[16];
    struct vq_sg sg = {.buf = buf, .len = 16};
    struct vdev_rng_state st;

    dfx_start(f, all_features(f), 8);
    /* Readable only: nothing to fill. */
    dfx_submit(f, 0, &sg, 1, 0, buf);
    assert_int_equal(dfx_used(f, 0, buf), 0);
    assert_true(f->dev.queues[0].stats.bad_chains == 1);
    /* Save the state, draw, restore, draw again: same bytes. */
    vdev_rng_get_state(&f->dev, &st);
    dfx_submit(f, 0, &sg, 0, 1, buf);
    assert_int_equal(dfx_used(f, 0, buf), 16);
    memcpy(ref, buf, 16);
    vdev_rng_set_state(&f->dev, &st);
    memset(buf, 0, 16);
    dfx_submit(f, 0, &sg, 0, 1, buf);
    assert_int_equal(dfx_used(f, 0, buf), 16);
    assert_memory_equal(buf, ref, 16);
}

/* 5.4.6: the request is a device-writable buffer. One with readable
 * buffers gets nothing, and the stream does not move. */
static void test_rng_wrong_direction(void **state)
{
    struct dev_fixture *f = *state;
    uint8_t *in = galloc(f, 8), *buf = galloc(f, 16), ref[16];
    struct vq_sg sg[2] = {{.buf = in, .len = 8}, {.buf = buf, .len = 16}};

    dfx_start(f, all_features(f), 8);
    memset(in, 0x11, 8);
    memset(buf, 0, 16);
    dfx_submit(f, 0, sg, 1, 1, buf);
    assert_int_equal(dfx_used(f, 0, buf), 0);
    assert_all(buf, 0, 16);
    assert_all(in, 0x11, 8);
    assert_true(f->dev.queues[0].stats.bad_chains == 1);
    assert_true(f->dev.queues[0].stats.requests == 0);
    /* The first good request gets the first bytes of the stream. */
    rng_ref(RNG_SEED, ref, 16);
    dfx_submit(f, 0, sg + 1, 0, 1, buf);
    assert_int_equal(dfx_used(f, 0, buf), 16);
    assert_memory_equal(buf, ref, 16);
}

/* ------------------------------------------------------------------ net */

static int setup_net(void **state)
{
    struct dev_fixture *f = &fixture;

    dfx_arena(f);
    assert_int_equal(vdev_net_create(&f->dev, &f->fx.mem, NULL), 0);
    dfx_attach(f);
    *state = f;
    return 0;
}

#define NET_RX_BUF 2048

/* These cases test the one-buffer receive path (5.1.6.3.1 without
 * MRG_RXBUF) and no MTU limit: the device's features without those two
 * (test_net_features.c covers them); no_evt: without EVENT_IDX too. */
static uint64_t net_plain(struct dev_fixture *f, int no_evt)
{
    uint64_t feat = dfx_device_features(f) &
                    ~((1ull << VIRTIO_NET_F_MRG_RXBUF) | (1ull << VIRTIO_NET_F_MTU));

    return no_evt ? feat & ~(1ull << VIRTIO_F_EVENT_IDX) : feat;
}

static struct vdev_net_stats net_stats(struct dev_fixture *f)
{
    struct vdev_net_stats st;

    vdev_net_get_stats(&f->dev, &st);
    return st;
}

/* Post one RX buffer of len bytes; returns it. */
static uint8_t *net_post_rx(struct dev_fixture *f, uint32_t len)
{
    uint8_t *b = galloc(f, len);
    struct vq_sg sg = {.buf = b, .len = len};

    assert_int_equal(vq_add_sgs(f->vq[VIRTIO_NET_RXQ], &sg, 0, 1, b), 0);
    return b;
}

/* Send a frame of len bytes of value v (header + frame as 2 segments). */
static void net_send(struct dev_fixture *f, uint32_t len, uint8_t v)
{
    struct virtio_net_hdr *h = galloc(f, sizeof(*h));
    uint8_t *fr = galloc(f, len ? len : 1);
    struct vq_sg sg[2] = {{.buf = h, .len = sizeof(*h)}, {.buf = fr, .len = len}};

    memset(fr, v, len);
    dfx_submit(f, VIRTIO_NET_TXQ, sg, len ? 2 : 1, 0, h);
    assert_int_equal(dfx_used(f, VIRTIO_NET_TXQ, h), 0);
}

/* Expect the next RX completion to be buf holding a len-byte frame of v. */
static void net_expect_rx(struct dev_fixture *f, uint8_t *buf, uint32_t len, uint8_t v)
{
    struct virtio_net_hdr h;
    uint32_t i;

    assert_int_equal(dfx_used(f, VIRTIO_NET_RXQ, buf), sizeof(h) + len);
    memcpy(&h, buf, sizeof(h));
    assert_int_equal(h.num_buffers, 1);
    assert_int_equal(h.flags, 0);
    assert_int_equal(h.gso_type, VIRTIO_NET_HDR_GSO_NONE);
    for (i = 0; i < len; i++)
        assert_int_equal(buf[sizeof(h) + i], v);
}

static void test_net_config(void **state)
{
    struct dev_fixture *f = *state;
    uint64_t feat = dfx_device_features(f);
    static const uint8_t mac[6] = VDEV_NET_DEFAULT_MAC;
    unsigned i;

    assert_int_equal(dfx_rd(f, VIRTIO_MMIO_DEVICE_ID), VIRTIO_ID_NET);
    assert_true(feat & (1ull << VIRTIO_NET_F_MAC));
    assert_true(feat & (1ull << VIRTIO_NET_F_STATUS));
    assert_true(feat & (1ull << VIRTIO_NET_F_MRG_RXBUF));
    assert_true(feat & (1ull << VIRTIO_NET_F_MTU));
    assert_int_equal(vmmio_read(f->m, VIRTIO_MMIO_CONFIG + 10, 2), VDEV_NET_DEFAULT_MTU);
    for (i = 0; i < 6; i++)
        assert_int_equal(vmmio_read(f->m, VIRTIO_MMIO_CONFIG + i, 1), mac[i]);
    assert_int_equal(vmmio_read(f->m, VIRTIO_MMIO_CONFIG + 6, 2), VIRTIO_NET_S_LINK_UP);
}

static void test_net_loop(void **state)
{
    struct dev_fixture *f = *state;
    uint8_t *rx[3];
    int i;

    dfx_start(f, net_plain(f, 0), 16);
    for (i = 0; i < 3; i++)
        rx[i] = net_post_rx(f, NET_RX_BUF);
    assert_int_equal(vq_kick(f->vq[VIRTIO_NET_RXQ]), 0);
    vmmio_process(f->m);
    net_send(f, 60, 0x11);
    net_expect_rx(f, rx[0], 60, 0x11);
    net_send(f, 1514, 0x22);
    net_expect_rx(f, rx[1], 1514, 0x22);
    net_send(f, 0, 0); /* header only: an empty frame */
    net_expect_rx(f, rx[2], 0, 0);
    assert_true(net_stats(f).rx_frames == 3);
    assert_true(net_stats(f).tx_frames == 3);
    assert_true(net_stats(f).rx_bytes == 1574);
}

static void net_backlog(struct dev_fixture *f, uint64_t features)
{
    uint8_t *rx[VDEV_NET_BACKLOG];
    int i;

    dfx_start(f, features, 128);
    /* No RX buffers: frames wait. */
    for (i = 0; i < 10; i++)
        net_send(f, 100 + i, (uint8_t)i);
    assert_int_equal(vdev_net_backlog_len(&f->dev), 10);
    /* The driver refills and kicks receiveq: the backlog comes out in order. */
    for (i = 0; i < 4; i++)
        rx[i] = net_post_rx(f, NET_RX_BUF);
    assert_true(vq_kick_prepare(f->vq[VIRTIO_NET_RXQ])); /* the device asked for it */
    assert_int_equal(vq_notify(f->vq[VIRTIO_NET_RXQ]), 0);
    vmmio_process(f->m);
    for (i = 0; i < 4; i++)
        net_expect_rx(f, rx[i], 100 + i, (uint8_t)i);
    assert_int_equal(vdev_net_backlog_len(&f->dev), 6);
    for (i = 0; i < 6; i++)
        rx[i] = net_post_rx(f, NET_RX_BUF);
    assert_true(vq_kick_prepare(f->vq[VIRTIO_NET_RXQ]));
    assert_int_equal(vq_notify(f->vq[VIRTIO_NET_RXQ]), 0);
    vmmio_process(f->m);
    for (i = 0; i < 6; i++)
        net_expect_rx(f, rx[i], 104 + i, (uint8_t)(4 + i));
    assert_int_equal(vdev_net_backlog_len(&f->dev), 0);
}

static void test_net_backlog(void **state)
{
    struct dev_fixture *f = *state;

    net_backlog(f, net_plain(f, 0));
    net_backlog(f, net_plain(f, 1));
    assert_true(net_stats(f).backlog_max == 10);
    assert_true(net_stats(f).dropped == 0);
}

static void test_net_backlog_overflow(void **state)
{
    struct dev_fixture *f = *state;
    uint8_t *rx;
    int i;

    dfx_start(f, net_plain(f, 0), 128);
    for (i = 0; i < VDEV_NET_BACKLOG + 5; i++)
        net_send(f, 64, (uint8_t)i);
    assert_int_equal(vdev_net_backlog_len(&f->dev), VDEV_NET_BACKLOG);
    assert_true(net_stats(f).dropped == 5);
    /* The oldest frames were kept. */
    rx = net_post_rx(f, NET_RX_BUF);
    assert_int_equal(vq_kick(f->vq[VIRTIO_NET_RXQ]), 0);
    vmmio_process(f->m);
    net_expect_rx(f, rx, 64, 0);
    /* Reset drops the rest (and frees them: ASan checks). */
    dfx_start(f, net_plain(f, 0), 8);
    assert_int_equal(vdev_net_backlog_len(&f->dev), 0);
}

/* Big frames: the byte bound of the backlog, and frames wrapping around
 * the end of the byte ring come out intact. */
static void test_net_big_frames_wrap(void **state)
{
    struct dev_fixture *f = *state;
    const uint32_t big = 60000, rxlen = big + 64;
    uint8_t *rx[6];
    int i;

    dfx_start(f, net_plain(f, 0), 16);
    for (i = 0; i < 5; i++)
        net_send(f, big, (uint8_t)(0x30 + i));
    assert_int_equal(vdev_net_backlog_len(&f->dev), 4); /* 4 * 60000 fit in 256 KiB */
    assert_true(net_stats(f).dropped == 1);
    for (i = 0; i < 2; i++)
        rx[i] = net_post_rx(f, rxlen);
    assert_int_equal(vq_kick(f->vq[VIRTIO_NET_RXQ]), 0);
    vmmio_process(f->m);
    net_expect_rx(f, rx[0], big, 0x30);
    net_expect_rx(f, rx[1], big, 0x31);
    /* These two wrap around the end of the ring. */
    net_send(f, big, 0x40);
    net_send(f, big, 0x41);
    assert_int_equal(vdev_net_backlog_len(&f->dev), 4);
    for (i = 2; i < 6; i++)
        rx[i] = net_post_rx(f, rxlen);
    assert_int_equal(vq_kick(f->vq[VIRTIO_NET_RXQ]), 0);
    vmmio_process(f->m);
    net_expect_rx(f, rx[2], big, 0x32);
    net_expect_rx(f, rx[3], big, 0x33);
    net_expect_rx(f, rx[4], big, 0x40);
    net_expect_rx(f, rx[5], big, 0x41);
    /* Too big for the device at all. */
    net_send(f, VDEV_NET_MAX_FRAME + 1, 0x50);
    assert_true(net_stats(f).dropped == 2);
    assert_int_equal(vdev_net_backlog_len(&f->dev), 0);
}

static void test_net_bad_chains(void **state)
{
    struct dev_fixture *f = *state;
    uint8_t *small, *ok, *hdr = galloc(f, 8);
    struct vq_sg sg = {.buf = hdr, .len = 8};

    dfx_start(f, net_plain(f, 0), 16);
    /* TX shorter than the header. */
    dfx_submit(f, VIRTIO_NET_TXQ, &sg, 1, 0, hdr);
    assert_int_equal(dfx_used(f, VIRTIO_NET_TXQ, hdr), 0);
    assert_true(net_stats(f).bad == 1);
    assert_int_equal(vdev_net_backlog_len(&f->dev), 0);
    /* RX buffer too small for the frame: the frame is dropped, the next
     * frame uses the next buffer. */
    small = net_post_rx(f, 20);
    ok = net_post_rx(f, NET_RX_BUF);
    assert_int_equal(vq_kick(f->vq[VIRTIO_NET_RXQ]), 0);
    vmmio_process(f->m);
    net_send(f, 100, 0xaa);
    net_send(f, 8, 0xbb);
    assert_int_equal(dfx_used(f, VIRTIO_NET_RXQ, small), 0);
    net_expect_rx(f, ok, 8, 0xbb);
    assert_true(net_stats(f).rx_too_small == 1);
    assert_true(f->dev.queues[VIRTIO_NET_RXQ].stats.bad_chains == 1);
}

/* 5.1.6.2 / 5.1.6.3: transmit buffers are device-readable, receive
 * buffers device-writable; the other way round, nothing is sent or
 * received and the chain comes back with len 0, counted as bad. */
static void test_net_wrong_direction(void **state)
{
    struct dev_fixture *f = *state;
    struct virtio_net_hdr *h = galloc(f, sizeof(*h));
    uint8_t *fr = galloc(f, 100), *ro = galloc(f, NET_RX_BUF), *ok;
    struct vq_sg sg[2] = {{.buf = h, .len = sizeof(*h)}, {.buf = fr, .len = 100}};

    dfx_start(f, net_plain(f, 0), 16);
    /* TX whose frame is device-writable. */
    memset(fr, 0x42, 100);
    dfx_submit(f, VIRTIO_NET_TXQ, sg, 1, 1, h);
    assert_int_equal(dfx_used(f, VIRTIO_NET_TXQ, h), 0);
    assert_all(fr, 0x42, 100);
    assert_true(net_stats(f).bad == 1);
    assert_true(net_stats(f).tx_frames == 0);
    assert_int_equal(vdev_net_backlog_len(&f->dev), 0);
    /* RX: a device-readable buffer first, then a good one: the frame skips
     * the readable one and lands in the good one. */
    memset(ro, 0x99, NET_RX_BUF);
    sg[0] = (struct vq_sg){.buf = ro, .len = NET_RX_BUF};
    assert_int_equal(vq_add_sgs(f->vq[VIRTIO_NET_RXQ], sg, 1, 0, ro), 0);
    ok = net_post_rx(f, NET_RX_BUF);
    assert_int_equal(vq_kick(f->vq[VIRTIO_NET_RXQ]), 0);
    vmmio_process(f->m);
    net_send(f, 30, 0xcc);
    assert_int_equal(dfx_used(f, VIRTIO_NET_RXQ, ro), 0);
    assert_all(ro, 0x99, NET_RX_BUF);
    net_expect_rx(f, ok, 30, 0xcc);
    assert_true(net_stats(f).bad == 2);
    assert_true(f->dev.queues[VIRTIO_NET_RXQ].stats.bad_chains == 1);
    assert_true(f->dev.queues[VIRTIO_NET_TXQ].stats.bad_chains == 1);
}

/* ------------------------------------------------------------------ console */

static int setup_console(void **state)
{
    struct dev_fixture *f = &fixture;

    dfx_arena(f);
    assert_int_equal(vdev_console_create(&f->dev, &f->fx.mem, 80, 25), 0);
    dfx_attach(f);
    *state = f;
    return 0;
}

static void con_write(struct dev_fixture *f, const char *text)
{
    size_t len = strlen(text);
    char *b = galloc(f, len);
    struct vq_sg sg = {.buf = b, .len = (uint32_t)len};

    memcpy(b, text, len);
    dfx_submit(f, VIRTIO_CONSOLE_TXQ0, &sg, 1, 0, b);
    assert_int_equal(dfx_used(f, VIRTIO_CONSOLE_TXQ0, b), 0);
}

static char *con_post_rx(struct dev_fixture *f, uint32_t len)
{
    char *b = galloc(f, len);
    struct vq_sg sg = {.buf = b, .len = len};

    assert_int_equal(vq_add_sgs(f->vq[VIRTIO_CONSOLE_RXQ0], &sg, 0, 1, b), 0);
    assert_int_equal(vq_kick(f->vq[VIRTIO_CONSOLE_RXQ0]), 0);
    vmmio_process(f->m);
    return b;
}

struct con_io {
    const char *in;
    char out[64];
    size_t n;
};

static void con_take_locked(struct vdev *d, void *arg)
{
    struct con_io *io = arg;

    io->n = vdev_console_take(d, io->out, sizeof(io->out));
}

static void con_inject_locked(struct vdev *d, void *arg)
{
    struct con_io *io = arg;

    io->n = vdev_console_inject(d, io->in, strlen(io->in));
}

static void test_console_config(void **state)
{
    struct dev_fixture *f = *state;

    assert_int_equal(dfx_rd(f, VIRTIO_MMIO_DEVICE_ID), VIRTIO_ID_CONSOLE);
    assert_true(dfx_device_features(f) & (1ull << VIRTIO_CONSOLE_F_SIZE));
    assert_false(dfx_device_features(f) & (1ull << VIRTIO_CONSOLE_F_MULTIPORT));
    assert_int_equal(vmmio_read(f->m, VIRTIO_MMIO_CONFIG + 0, 2), 80);
    assert_int_equal(vmmio_read(f->m, VIRTIO_MMIO_CONFIG + 2, 2), 25);
}

static void test_console_echo_take(void **state)
{
    struct dev_fixture *f = *state;
    struct con_io io = {0};
    char *rx;

    dfx_start(f, all_features(f), 8);
    /* Echo: written before any receive buffer exists, delivered on refill. */
    con_write(f, "hello ");
    con_write(f, "world");
    rx = con_post_rx(f, 64);
    assert_int_equal(dfx_used(f, VIRTIO_CONSOLE_RXQ0, rx), 11);
    assert_memory_equal(rx, "hello world", 11);
    /* And the device side can read what was written. */
    vmmio_run_locked(f->m, con_take_locked, &io);
    assert_int_equal(io.n, 11);
    assert_memory_equal(io.out, "hello world", 11);
    vmmio_run_locked(f->m, con_take_locked, &io);
    assert_int_equal(io.n, 0);
    /* A buffer waiting first: the write comes straight back. A small buffer
     * gets what fits, the rest goes into the next one. */
    rx = con_post_rx(f, 4);
    con_write(f, "abcdef");
    assert_int_equal(dfx_used(f, VIRTIO_CONSOLE_RXQ0, rx), 4);
    assert_memory_equal(rx, "abcd", 4);
    rx = con_post_rx(f, 16);
    assert_int_equal(dfx_used(f, VIRTIO_CONSOLE_RXQ0, rx), 2);
    assert_memory_equal(rx, "ef", 2);
}

/* 5.3.6: transmitq buffers are device-readable, receiveq buffers
 * device-writable; the other way round nothing moves, counted as bad. */
static void test_console_wrong_direction(void **state)
{
    struct dev_fixture *f = *state;
    char *txt = galloc(f, 3), *wr = galloc(f, 8), *ro = galloc(f, 16), *rx;
    struct vq_sg sg[2] = {{.buf = txt, .len = 3}, {.buf = wr, .len = 8}};
    struct vdev_console_stats st;
    struct con_io io = {0};

    dfx_start(f, all_features(f), 8);
    /* TX with a device-writable buffer: nothing taken, nothing echoed. */
    memcpy(txt, "abc", 3);
    memset(wr, 0x5a, 8);
    dfx_submit(f, VIRTIO_CONSOLE_TXQ0, sg, 1, 1, txt);
    assert_int_equal(dfx_used(f, VIRTIO_CONSOLE_TXQ0, txt), 0);
    assert_all((uint8_t *)wr, 0x5a, 8);
    vmmio_run_locked(f->m, con_take_locked, &io);
    assert_int_equal(io.n, 0);
    /* RX: a device-readable buffer, then a good one: the echo skips the
     * first and fills the second. */
    memset(ro, 0x33, 16);
    sg[0] = (struct vq_sg){.buf = ro, .len = 16};
    assert_int_equal(vq_add_sgs(f->vq[VIRTIO_CONSOLE_RXQ0], sg, 1, 0, ro), 0);
    rx = con_post_rx(f, 16);
    con_write(f, "hi");
    assert_int_equal(dfx_used(f, VIRTIO_CONSOLE_RXQ0, ro), 0);
    assert_all((uint8_t *)ro, 0x33, 16);
    assert_int_equal(dfx_used(f, VIRTIO_CONSOLE_RXQ0, rx), 2);
    assert_memory_equal(rx, "hi", 2);
    vdev_console_get_stats(&f->dev, &st);
    assert_true(st.bad == 2);
    assert_true(st.tx_bytes == 2);
    assert_true(f->dev.queues[VIRTIO_CONSOLE_TXQ0].stats.bad_chains == 1);
    assert_true(f->dev.queues[VIRTIO_CONSOLE_RXQ0].stats.bad_chains == 1);
}

static void test_console_inject(void **state)
{
    struct dev_fixture *f = *state;
    struct con_io io = {.in = "injected"};
    struct vdev_console_stats st;
    char *rx;

    dfx_start(f, all_features(f), 8);
    vdev_console_set_echo(&f->dev, false);
    con_write(f, "quiet");
    rx = con_post_rx(f, 32);
    assert_false(vq_has_used(f->vq[VIRTIO_CONSOLE_RXQ0]));
    vmmio_run_locked(f->m, con_inject_locked, &io);
    assert_int_equal(io.n, 8);
    assert_int_equal(dfx_used(f, VIRTIO_CONSOLE_RXQ0, rx), 8);
    assert_memory_equal(rx, "injected", 8);
    vmmio_run_locked(f->m, con_take_locked, &io);
    assert_int_equal(io.n, 5);
    assert_memory_equal(io.out, "quiet", 5);
    vdev_console_get_stats(&f->dev, &st);
    assert_true(st.tx_bytes == 5);
    assert_true(st.rx_bytes == 8);
}

static void test_console_overflow(void **state)
{
    struct dev_fixture *f = *state;
    char *big = galloc(f, VDEV_CONSOLE_BUF + 100);
    struct vq_sg sg = {.buf = big, .len = VDEV_CONSOLE_BUF + 100};
    struct vdev_console_stats st;

    dfx_start(f, all_features(f), 8);
    memset(big, 'x', VDEV_CONSOLE_BUF + 100);
    dfx_submit(f, VIRTIO_CONSOLE_TXQ0, &sg, 1, 0, big);
    assert_int_equal(dfx_used(f, VIRTIO_CONSOLE_TXQ0, big), 0);
    vdev_console_get_stats(&f->dev, &st);
    assert_true(st.tx_dropped == 100);
    assert_true(st.rx_dropped == 100);
    /* Writable-only chain on transmitq0: bad. */
    dfx_submit(f, VIRTIO_CONSOLE_TXQ0, &sg, 0, 1, big);
    assert_int_equal(dfx_used(f, VIRTIO_CONSOLE_TXQ0, big), 0);
    assert_true(f->dev.queues[VIRTIO_CONSOLE_TXQ0].stats.bad_chains == 1);
}

/* ------------------------------------------------------------------ pmem */

#define PMEM_START (4ull << 30)
#define PMEM_SIZE (4u << 20)

static int pmem_flushes, pmem_flush_ret;

static int pmem_flush(void *ctx)
{
    (void)ctx;
    pmem_flushes++;
    return pmem_flush_ret;
}

static int setup_pmem(void **state)
{
    struct dev_fixture *f = &fixture;

    dfx_arena(f);
    pmem_flushes = 0;
    pmem_flush_ret = 0;
    assert_int_equal(vdev_pmem_create(&f->dev, &f->fx.mem, PMEM_START, PMEM_SIZE, pmem_flush, NULL),
                     0);
    dfx_attach(f);
    *state = f;
    return 0;
}

static struct vdev_pmem_stats pmem_stats(struct dev_fixture *f)
{
    struct vdev_pmem_stats st;

    vdev_pmem_get_stats(&f->dev, &st);
    return st;
}

static void test_pmem_config(void **state)
{
    struct dev_fixture *f = *state;
    struct vdev d2;

    assert_int_equal(dfx_rd(f, VIRTIO_MMIO_DEVICE_ID), VIRTIO_ID_PMEM);
    assert_int_equal(vmmio_read(f->m, VIRTIO_MMIO_CONFIG + 0, 4), (uint32_t)PMEM_START);
    assert_int_equal(vmmio_read(f->m, VIRTIO_MMIO_CONFIG + 4, 4), (uint32_t)(PMEM_START >> 32));
    assert_int_equal(vmmio_read(f->m, VIRTIO_MMIO_CONFIG + 8, 4), PMEM_SIZE);
    assert_int_equal(vmmio_read(f->m, VIRTIO_MMIO_CONFIG + 12, 4), 0);
    /* Region not 2 MiB aligned / sized: refused. */
    assert_int_equal(vdev_pmem_create(&d2, &f->fx.mem, PMEM_START + 4096, PMEM_SIZE, NULL, NULL),
                     -EINVAL);
    assert_int_equal(vdev_pmem_create(&d2, &f->fx.mem, PMEM_START, PMEM_SIZE + 4096, NULL, NULL),
                     -EINVAL);
    assert_int_equal(vdev_pmem_create(&d2, &f->fx.mem, PMEM_START, 0, NULL, NULL), -EINVAL);
    assert_int_equal(
        vdev_pmem_create(&d2, &f->fx.mem, UINT64_MAX - (2u << 20) + 1, 4u << 20, NULL, NULL),
        -EINVAL);
}

/* Submit segments as given (out readable, then in writable); returns used len. */
static uint32_t pmem_do(struct dev_fixture *f, struct vq_sg *sg, unsigned out, unsigned in)
{
    dfx_submit(f, 0, sg, out, in, sg);
    return dfx_used(f, 0, sg);
}

static uint32_t *pmem_word(struct dev_fixture *f, uint32_t v)
{
    uint32_t *p = galloc(f, 16);

    *p = v;
    return p;
}

static void test_pmem_flush(void **state)
{
    struct dev_fixture *f = *state;
    uint32_t *req = pmem_word(f, VIRTIO_PMEM_REQ_TYPE_FLUSH), *resp = pmem_word(f, 0xeeee);
    struct vq_sg sg[2] = {{.buf = req, .len = 4}, {.buf = resp, .len = 4}};

    dfx_start(f, all_features(f), 8);
    assert_int_equal(pmem_do(f, sg, 1, 1), 4);
    assert_int_equal(*resp, 0);
    assert_int_equal(pmem_flushes, 1);
    assert_true(pmem_stats(f).flushes == 1);
    assert_true(pmem_stats(f).errors == 0);
    assert_true(f->dev.queues[0].stats.requests == 1);
    /* Without EVENT_IDX / INDIRECT too. */
    dfx_start(f, (1ull << VIRTIO_F_VERSION_1), 8);
    *resp = 0xeeee;
    assert_int_equal(pmem_do(f, sg, 1, 1), 4);
    assert_int_equal(*resp, 0);
    assert_int_equal(pmem_flushes, 2);
}

static void expect_pmem_err(struct dev_fixture *f, enum vdev_pmem_err e, uint64_t before)
{
    assert_true(pmem_stats(f).err[e] == before + 1);
}

static void test_pmem_errors(void **state)
{
    struct dev_fixture *f = *state;
    uint32_t *req = pmem_word(f, VIRTIO_PMEM_REQ_TYPE_FLUSH);
    uint32_t *resp = pmem_word(f, 0xeeee), *resp2 = pmem_word(f, 0xeeee);
    uint64_t bad_before;
    struct vq_sg sg[3];
    struct vdev_pmem_stats st0;

    dfx_start(f, all_features(f), 8);
    st0 = pmem_stats(f);

    /* Writable head: the second (writable) descriptor gets ret 1. */
    sg[0] = (struct vq_sg){.buf = req, .len = 4};
    sg[1] = (struct vq_sg){.buf = resp, .len = 4};
    assert_int_equal(pmem_do(f, sg, 0, 2), 4);
    assert_int_equal(*resp, 1);
    expect_pmem_err(f, VDEV_PMEM_ERR_WRITABLE_HEAD, st0.err[VDEV_PMEM_ERR_WRITABLE_HEAD]);
    /* Writable head alone: nothing to write into but itself. */
    *req = VIRTIO_PMEM_REQ_TYPE_FLUSH;
    assert_int_equal(pmem_do(f, sg, 0, 1), 0);
    assert_int_equal(*req, VIRTIO_PMEM_REQ_TYPE_FLUSH);
    assert_true(pmem_stats(f).err[VDEV_PMEM_ERR_WRITABLE_HEAD] == 2);

    /* Short chain: the request alone. */
    assert_int_equal(pmem_do(f, sg, 1, 0), 0);
    expect_pmem_err(f, VDEV_PMEM_ERR_SHORT_CHAIN, 0);

    /* Read-only status: nothing written anywhere. */
    *resp = 0xeeee;
    assert_int_equal(pmem_do(f, sg, 2, 0), 0);
    assert_int_equal(*resp, 0xeeee);
    expect_pmem_err(f, VDEV_PMEM_ERR_READONLY_STATUS, 0);

    /* Request of the wrong length: ret 1. */
    sg[0].len = 8;
    assert_int_equal(pmem_do(f, sg, 1, 1), 4);
    assert_int_equal(*resp, 1);
    expect_pmem_err(f, VDEV_PMEM_ERR_REQ_LEN, 0);
    sg[0].len = 2;
    *resp = 0xeeee;
    assert_int_equal(pmem_do(f, sg, 1, 1), 4);
    assert_int_equal(*resp, 1);
    sg[0].len = 4;

    /* Response too short to hold ret: nothing written. */
    *resp = 0xeeee;
    sg[1].len = 2;
    assert_int_equal(pmem_do(f, sg, 1, 1), 0);
    assert_int_equal(*resp, 0xeeee);
    expect_pmem_err(f, VDEV_PMEM_ERR_RESP_LEN, 0);
    /* Response too long: ret 1 in its first 4 bytes. */
    sg[1].len = 8;
    assert_int_equal(pmem_do(f, sg, 1, 1), 4);
    assert_int_equal(*resp, 1);
    assert_true(pmem_stats(f).err[VDEV_PMEM_ERR_RESP_LEN] == 2);
    sg[1].len = 4;

    /* Unknown request type. */
    *req = 7;
    *resp = 0xeeee;
    assert_int_equal(pmem_do(f, sg, 1, 1), 4);
    assert_int_equal(*resp, 1);
    expect_pmem_err(f, VDEV_PMEM_ERR_UNKNOWN_TYPE, 0);
    *req = VIRTIO_PMEM_REQ_TYPE_FLUSH;

    /* The flush hook fails. */
    pmem_flush_ret = -EIO;
    *resp = 0xeeee;
    assert_int_equal(pmem_do(f, sg, 1, 1), 4);
    assert_int_equal(*resp, 1);
    expect_pmem_err(f, VDEV_PMEM_ERR_FLUSH_FAILED, 0);
    pmem_flush_ret = 0;

    /* None of it was fatal: a good request still works, and an extra
     * writable descriptor after the response is ignored. */
    bad_before = f->dev.queues[0].stats.bad_chains;
    assert_int_equal(bad_before, 10);
    assert_true(pmem_stats(f).errors == 10);
    *resp = 0xeeee;
    sg[2] = (struct vq_sg){.buf = resp2, .len = 4};
    assert_int_equal(pmem_do(f, sg, 1, 2), 4);
    assert_int_equal(*resp, 0);
    assert_int_equal(*resp2, 0xeeee);
    assert_true(pmem_stats(f).flushes == 1);
    assert_false(dfx_rd(f, VIRTIO_MMIO_STATUS) & VIRTIO_STATUS_DEVICE_NEEDS_RESET);
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
        cmocka_unit_test(test_rng_known_answer),
        cmocka_unit_test_setup_teardown(test_rng_bytes, setup_rng, teardown),
        cmocka_unit_test_setup_teardown(test_rng_bad_and_state, setup_rng, teardown),
        cmocka_unit_test_setup_teardown(test_rng_wrong_direction, setup_rng, teardown),
        cmocka_unit_test_setup_teardown(test_net_config, setup_net, teardown),
        cmocka_unit_test_setup_teardown(test_net_loop, setup_net, teardown),
        cmocka_unit_test_setup_teardown(test_net_backlog, setup_net, teardown),
        cmocka_unit_test_setup_teardown(test_net_backlog_overflow, setup_net, teardown),
        cmocka_unit_test_setup_teardown(test_net_big_frames_wrap, setup_net, teardown),
        cmocka_unit_test_setup_teardown(test_net_bad_chains, setup_net, teardown),
        cmocka_unit_test_setup_teardown(test_net_wrong_direction, setup_net, teardown),
        cmocka_unit_test_setup_teardown(test_console_config, setup_console, teardown),
        cmocka_unit_test_setup_teardown(test_console_echo_take, setup_console, teardown),
        cmocka_unit_test_setup_teardown(test_console_wrong_direction, setup_console, teardown),
        cmocka_unit_test_setup_teardown(test_console_inject, setup_console, teardown),
        cmocka_unit_test_setup_teardown(test_console_overflow, setup_console, teardown),
        cmocka_unit_test_setup_teardown(test_pmem_config, setup_pmem, teardown),
        cmocka_unit_test_setup_teardown(test_pmem_flush, setup_pmem, teardown),
        cmocka_unit_test_setup_teardown(test_pmem_errors, setup_pmem, teardown),
    };

    if (getenv("TEST_FILTER"))
        cmocka_set_test_filter(getenv("TEST_FILTER"));
    return cmocka_run_group_tests_name("devices", tests, NULL, NULL);
}
