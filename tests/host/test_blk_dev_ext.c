/* SPDX-License-Identifier: Apache-2.0 */
/*
 * test_blk_dev_ext.c - cmocka tests of the blk model's optional features
 * (hostsim/dev_blk_ext.c, VIRTIO 1.2 5.2): DISCARD and WRITE_ZEROES with
 * their limits, RO, the write cache mode (CONFIG_WCE) with FLUSH, the
 * TOPOLOGY fields, driven through the register file by hand-made chains
 * (tests/host/dev_fixture.c). Every refused request is followed by a good
 * one: the device keeps serving. Disk contents are checked byte by byte.
 *
 * TEST_FILTER='test_dwz_*' runs only the matching cases.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "dev_fixture.h"
#include "vdev_models.h"
#include "virtio_mmio.h"
#include "virtio_platform.h"

#define SECTORS 256
#define BYTES (SECTORS * 512)
#define CFG(field) (VIRTIO_MMIO_CONFIG + offsetof(struct virtio_blk_config, field))

static struct dev_fixture fixture;
static uint8_t *disk;

/* A backend that records what it was asked (for the cache mode and the
 * daemon-like paths). */
struct rec_be {
    uint8_t *store;
    int writes, flushes, discards, zeroes, unmaps;
    int fail_flush;
};
static struct rec_be rec;

static int be_read(void *ctx, uint64_t pos, void *buf, uint32_t len)
{
    struct rec_be *r = ctx;

    memcpy(buf, r->store + pos, len);
    return 0;
}

static int be_write(void *ctx, uint64_t pos, const void *buf, uint32_t len)
{
    struct rec_be *r = ctx;

    memcpy(r->store + pos, buf, len);
    r->writes++;
    return 0;
}

static int be_flush(void *ctx)
{
    struct rec_be *r = ctx;

    r->flushes++;
    return r->fail_flush ? -EIO : 0;
}

static int be_discard(void *ctx, uint64_t pos, uint64_t len)
{
    struct rec_be *r = ctx;

    memset(r->store + pos, 0, len);
    r->discards++;
    return 0;
}

static int be_zeroes(void *ctx, uint64_t pos, uint64_t len, bool unmap)
{
    struct rec_be *r = ctx;

    memset(r->store + pos, 0, len);
    r->zeroes++;
    r->unmaps += unmap;
    return 0;
}

static void fill_disk(uint8_t *p)
{
    unsigned i;

    for (i = 0; i < BYTES; i++)
        p[i] = (uint8_t)(i * 7 + 3) | 1; /* never 0 */
}

static int setup_ram(void **state)
{
    struct dev_fixture *f = &fixture;

    dfx_arena(f);
    disk = malloc(BYTES);
    assert_non_null(disk);
    fill_disk(disk);
    assert_int_equal(vdev_blk_create(&f->dev, &f->fx.mem, disk, BYTES, NULL), 0);
    dfx_attach(f);
    *state = f;
    return 0;
}

static int setup_backend(void **state)
{
    struct dev_fixture *f = &fixture;
    struct vdev_blk_backend be = {.read = be_read, .write = be_write, .flush = be_flush,
                                  .discard = be_discard, .write_zeroes = be_zeroes, .ctx = &rec};

    dfx_arena(f);
    disk = malloc(BYTES);
    assert_non_null(disk);
    fill_disk(disk);
    memset(&rec, 0, sizeof(rec));
    rec.store = disk;
    assert_int_equal(vdev_blk_create_backend(&f->dev, &f->fx.mem, BYTES, &be, NULL), 0);
    dfx_attach(f);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    dfx_teardown(*state);
    free(disk);
    return 0;
}

static uint64_t all_features(struct dev_fixture *f)
{
    return dfx_device_features(f);
}

struct req {
    struct virtio_blk_req_hdr hdr;
    struct virtio_blk_discard_write_zeroes seg[VDEV_BLK_DWZ_SEG_MAX + 2];
    uint8_t status;
};

/* One DISCARD / WRITE_ZEROES (or other type) with n segments; the status. */
static uint8_t dwz(struct dev_fixture *f, uint32_t type,
                   const struct virtio_blk_discard_write_zeroes *s, unsigned n)
{
    struct req *r = fx_alloc(&f->fx, sizeof(*r), NULL);
    struct vq_sg sg[3];
    unsigned k = 0;

    r->hdr.type = type;
    r->hdr.sector = 0;
    r->status = 0xee;
    if (n)
        memcpy(r->seg, s, n * sizeof(*s));
    sg[k++] = (struct vq_sg){.buf = &r->hdr, .len = sizeof(r->hdr)};
    if (n)
        sg[k++] = (struct vq_sg){.buf = r->seg, .len = n * sizeof(*s)};
    sg[k++] = (struct vq_sg){.buf = &r->status, .len = 1};
    dfx_submit(f, 0, sg, k - 1, 1, r);
    assert_int_equal(dfx_used(f, 0, r), 1);
    return r->status;
}

static struct virtio_blk_discard_write_zeroes seg(uint64_t sector, uint32_t num, uint32_t flags)
{
    return (struct virtio_blk_discard_write_zeroes){vr_cpu_to_le64(sector), vr_cpu_to_le32(num),
                                                    vr_cpu_to_le32(flags)};
}

static uint8_t rw(struct dev_fixture *f, uint32_t type, uint64_t sector, void *buf, uint32_t len)
{
    struct req *r = fx_alloc(&f->fx, sizeof(*r), NULL);
    struct vq_sg sg[3] = {{.buf = &r->hdr, .len = sizeof(r->hdr)},
                          {.buf = buf, .len = len},
                          {.buf = &r->status, .len = 1}};

    r->hdr.type = type;
    r->hdr.sector = sector;
    r->status = 0xee;
    dfx_submit(f, 0, sg, type == VIRTIO_BLK_T_OUT ? 2 : 1, type == VIRTIO_BLK_T_OUT ? 1 : 2, r);
    dfx_used(f, 0, r);
    return r->status;
}

static bool is_zero(const uint8_t *p, size_t n)
{
    while (n--)
        if (*p++)
            return false;
    return true;
}

static struct vdev_blk_stats stats(struct dev_fixture *f)
{
    struct vdev_blk_stats st;

    vdev_blk_get_stats(&f->dev, &st);
    return st;
}

/* The features and limits offered, read through the registers. */
static void test_dwz_config(void **state)
{
    struct dev_fixture *f = *state;
    uint64_t feat = all_features(f);

    assert_true(feat & (1ull << VIRTIO_BLK_F_DISCARD));
    assert_true(feat & (1ull << VIRTIO_BLK_F_WRITE_ZEROES));
    assert_true(feat & (1ull << VIRTIO_BLK_F_TOPOLOGY));
    assert_true(feat & (1ull << VIRTIO_BLK_F_CONFIG_WCE));
    assert_true(feat & (1ull << VIRTIO_BLK_F_FLUSH)); /* 5.2.5: required with CONFIG_WCE */
    assert_false(feat & (1ull << VIRTIO_BLK_F_RO));
    dfx_start(f, feat, 8);
    assert_int_equal(vmmio_read(f->m, CFG(max_discard_sectors), 4), 0x3fffff);
    assert_int_equal(vmmio_read(f->m, CFG(max_discard_seg), 4), 32);
    assert_int_equal(vmmio_read(f->m, CFG(discard_sector_alignment), 4), 1);
    assert_int_equal(vmmio_read(f->m, CFG(max_write_zeroes_sectors), 4), 0x3fffff);
    assert_int_equal(vmmio_read(f->m, CFG(max_write_zeroes_seg), 4), 32);
    assert_int_equal(vmmio_read(f->m, CFG(write_zeroes_may_unmap), 1), 0); /* RAM disk */
    assert_int_equal(vmmio_read(f->m, CFG(min_io_size), 2), 1);
    assert_int_equal(vmmio_read(f->m, CFG(opt_io_size), 4), 128);
    assert_int_equal(vmmio_read(f->m, CFG(writeback), 1), 1);
    /* 5.2.5: padding is zero. */
    assert_int_equal(vmmio_read(f->m, CFG(unused0), 1), 0);
    assert_int_equal(vmmio_read(f->m, CFG(unused1), 1), 0);
}

static void test_dwz_discard_and_zeroes(void **state)
{
    struct dev_fixture *f = *state;
    struct virtio_blk_discard_write_zeroes s[3];
    uint8_t copy[BYTES];

    dfx_start(f, all_features(f), 8);
    memcpy(copy, disk, BYTES);
    /* Two segments, not adjacent: only they change. */
    s[0] = seg(4, 4, 0);
    s[1] = seg(20, 2, 0);
    assert_int_equal(dwz(f, VIRTIO_BLK_T_DISCARD, s, 2), VIRTIO_BLK_S_OK);
    memset(copy + 4 * 512, 0, 4 * 512);
    memset(copy + 20 * 512, 0, 2 * 512);
    assert_memory_equal(disk, copy, BYTES);
    /* Write zeroes, with and without unmap; the last sector too. */
    s[0] = seg(100, 3, VIRTIO_BLK_WRITE_ZEROES_FLAG_UNMAP);
    s[1] = seg(SECTORS - 1, 1, 0);
    assert_int_equal(dwz(f, VIRTIO_BLK_T_WRITE_ZEROES, s, 2), VIRTIO_BLK_S_OK);
    memset(copy + 100 * 512, 0, 3 * 512);
    memset(copy + (SECTORS - 1) * 512, 0, 512);
    assert_memory_equal(disk, copy, BYTES);
    assert_true(stats(f).discards == 1);
    assert_true(stats(f).discard_sectors == 6);
    assert_true(stats(f).write_zeroes == 1);
    assert_true(stats(f).zeroed_sectors == 4);
}

/* Each bad request: its status, nothing changed, the device still serves. */
static void expect_refused(struct dev_fixture *f, uint32_t type,
                           const struct virtio_blk_discard_write_zeroes *s, unsigned n,
                           uint8_t status)
{
    uint8_t before[BYTES], *buf = fx_alloc(&f->fx, 512, NULL);

    memcpy(before, disk, BYTES);
    assert_int_equal(dwz(f, type, s, n), status);
    assert_memory_equal(disk, before, BYTES);
    /* Still serving: a good write-zeroes, then a read. */
    {
        struct virtio_blk_discard_write_zeroes ok = seg(200, 1, 0);

        assert_int_equal(dwz(f, VIRTIO_BLK_T_WRITE_ZEROES, &ok, 1), VIRTIO_BLK_S_OK);
    }
    assert_int_equal(rw(f, VIRTIO_BLK_T_IN, 200, buf, 512), VIRTIO_BLK_S_OK);
    assert_true(is_zero(buf, 512));
    assert_false(dfx_rd(f, VIRTIO_MMIO_STATUS) & VIRTIO_STATUS_DEVICE_NEEDS_RESET);
}

static void test_dwz_limits(void **state)
{
    struct dev_fixture *f = *state;
    struct vdev_blk_limits l = {.max_discard_sectors = 16,
                                .max_discard_seg = 2,
                                .discard_sector_alignment = 4,
                                .max_write_zeroes_sectors = 8,
                                .max_write_zeroes_seg = 3,
                                .min_io_size = 8,
                                .opt_io_size = 64,
                                .physical_block_exp = 3};
    struct virtio_blk_discard_write_zeroes s[VDEV_BLK_DWZ_SEG_MAX + 1];
    uint64_t ioerr0;
    unsigned i;

    assert_int_equal(vdev_blk_set_limits(&f->dev, &l), 0);
    dfx_start(f, all_features(f), 8);
    assert_int_equal(vmmio_read(f->m, CFG(max_discard_seg), 4), 2);
    assert_int_equal(vmmio_read(f->m, CFG(physical_block_exp), 1), 3);
    /* Limits cannot change once the driver is running. */
    assert_int_equal(vdev_blk_set_limits(&f->dev, &l), -EINVAL);
    ioerr0 = stats(f).ioerr;
    /* Segment count past max_discard_seg / max_write_zeroes_seg. */
    for (i = 0; i < 4; i++)
        s[i] = seg(8 * i, 4, 0);
    expect_refused(f, VIRTIO_BLK_T_DISCARD, s, 3, VIRTIO_BLK_S_IOERR);
    expect_refused(f, VIRTIO_BLK_T_WRITE_ZEROES, s, 4, VIRTIO_BLK_S_IOERR);
    /* Far past any limit (more than the model's own array). */
    for (i = 0; i < VDEV_BLK_DWZ_SEG_MAX + 1; i++)
        s[i] = seg(i, 1, 0);
    expect_refused(f, VIRTIO_BLK_T_WRITE_ZEROES, s, VDEV_BLK_DWZ_SEG_MAX + 1, VIRTIO_BLK_S_IOERR);
    /* Sectors past max (one segment, and the sum of two). */
    s[0] = seg(0, 20, 0);
    expect_refused(f, VIRTIO_BLK_T_DISCARD, s, 1, VIRTIO_BLK_S_IOERR);
    s[0] = seg(0, 8, 0);
    s[1] = seg(16, 12, 0);
    expect_refused(f, VIRTIO_BLK_T_DISCARD, s, 2, VIRTIO_BLK_S_IOERR);
    s[0] = seg(0, 9, 0);
    expect_refused(f, VIRTIO_BLK_T_WRITE_ZEROES, s, 1, VIRTIO_BLK_S_IOERR);
    /* Misaligned discard (start, length); write zeroes has no alignment. */
    s[0] = seg(2, 4, 0);
    expect_refused(f, VIRTIO_BLK_T_DISCARD, s, 1, VIRTIO_BLK_S_IOERR);
    s[0] = seg(4, 3, 0);
    expect_refused(f, VIRTIO_BLK_T_DISCARD, s, 1, VIRTIO_BLK_S_IOERR);
    s[0] = seg(3, 5, 0);
    assert_int_equal(dwz(f, VIRTIO_BLK_T_WRITE_ZEROES, s, 1), VIRTIO_BLK_S_OK);
    /* Past capacity, partly past, empty, sector overflowing. */
    s[0] = seg(SECTORS, 4, 0);
    expect_refused(f, VIRTIO_BLK_T_DISCARD, s, 1, VIRTIO_BLK_S_IOERR);
    s[0] = seg(SECTORS - 2, 4, 0);
    expect_refused(f, VIRTIO_BLK_T_WRITE_ZEROES, s, 1, VIRTIO_BLK_S_IOERR);
    s[0] = seg(8, 0, 0);
    expect_refused(f, VIRTIO_BLK_T_WRITE_ZEROES, s, 1, VIRTIO_BLK_S_IOERR);
    s[0] = seg(UINT64_MAX - 1, 4, 0);
    expect_refused(f, VIRTIO_BLK_T_WRITE_ZEROES, s, 1, VIRTIO_BLK_S_IOERR);
    /* Overlapping segments. */
    s[0] = seg(0, 4, 0);
    s[1] = seg(3, 2, 0);
    expect_refused(f, VIRTIO_BLK_T_WRITE_ZEROES, s, 2, VIRTIO_BLK_S_IOERR);
    s[0] = seg(8, 4, 0);
    s[1] = seg(8, 4, 0);
    expect_refused(f, VIRTIO_BLK_T_DISCARD, s, 2, VIRTIO_BLK_S_IOERR);
    /* No segment, and a partial one. */
    expect_refused(f, VIRTIO_BLK_T_DISCARD, s, 0, VIRTIO_BLK_S_IOERR);
    assert_true(stats(f).ioerr - ioerr0 == 15);
    /* Good at the limits: 2 aligned discard segments, 16 sectors. */
    s[0] = seg(0, 8, 0);
    s[1] = seg(16, 8, 0);
    assert_int_equal(dwz(f, VIRTIO_BLK_T_DISCARD, s, 2), VIRTIO_BLK_S_OK);
    assert_true(is_zero(disk, 8 * 512));
    assert_true(is_zero(disk + 16 * 512, 8 * 512));
    assert_false(is_zero(disk + 8 * 512, 512));
}

static void test_dwz_flags_unsupp(void **state)
{
    struct dev_fixture *f = *state;
    struct virtio_blk_discard_write_zeroes s[2];
    uint64_t unsupp0;

    dfx_start(f, all_features(f), 8);
    unsupp0 = stats(f).unsupp;
    /* 5.2.6.2: unmap on a discard, reserved flags on either. */
    s[0] = seg(0, 4, VIRTIO_BLK_WRITE_ZEROES_FLAG_UNMAP);
    expect_refused(f, VIRTIO_BLK_T_DISCARD, s, 1, VIRTIO_BLK_S_UNSUPP);
    s[0] = seg(0, 4, 2);
    expect_refused(f, VIRTIO_BLK_T_WRITE_ZEROES, s, 1, VIRTIO_BLK_S_UNSUPP);
    s[0] = seg(0, 4, 0);
    s[1] = seg(8, 4, 0x80000000u);
    expect_refused(f, VIRTIO_BLK_T_DISCARD, s, 2, VIRTIO_BLK_S_UNSUPP);
    assert_true(stats(f).unsupp - unsupp0 == 3);
}

/* A type the driver did not negotiate is UNSUPP, as an unknown one. */
static void test_dwz_not_negotiated(void **state)
{
    struct dev_fixture *f = *state;
    struct virtio_blk_discard_write_zeroes s = seg(0, 4, 0);
    uint8_t before[BYTES];

    dfx_start(f,
              all_features(f) &
                  ~((1ull << VIRTIO_BLK_F_DISCARD) | (1ull << VIRTIO_BLK_F_WRITE_ZEROES)),
              8);
    memcpy(before, disk, BYTES);
    assert_int_equal(dwz(f, VIRTIO_BLK_T_DISCARD, &s, 1), VIRTIO_BLK_S_UNSUPP);
    assert_int_equal(dwz(f, VIRTIO_BLK_T_WRITE_ZEROES, &s, 1), VIRTIO_BLK_S_UNSUPP);
    assert_memory_equal(disk, before, BYTES);
    assert_true(stats(f).unsupp == 2);
    /* Writable data on a write zeroes is a malformed chain: IOERR. */
    {
        struct req *r = fx_alloc(&f->fx, sizeof(*r), NULL);
        struct vq_sg sg[3] = {
            {.buf = &r->hdr, .len = 16}, {.buf = r->seg, .len = 16}, {.buf = &r->status, .len = 1}};

        r->hdr.type = VIRTIO_BLK_T_WRITE_ZEROES;
        dfx_submit(f, 0, sg, 1, 2, r);
        dfx_used(f, 0, r);
        assert_int_equal(r->status, VIRTIO_BLK_S_IOERR);
    }
    assert_int_equal(rw(f, VIRTIO_BLK_T_IN, 0, fx_alloc(&f->fx, 512, NULL), 512), VIRTIO_BLK_S_OK);
}

static void test_ro(void **state)
{
    struct dev_fixture *f = *state;
    struct virtio_blk_discard_write_zeroes s = seg(0, 4, 0);
    uint8_t *buf = fx_alloc(&f->fx, 512, NULL), before[BYTES];

    assert_int_equal(vdev_blk_set_read_only(&f->dev, true), 0);
    assert_true(all_features(f) & (1ull << VIRTIO_BLK_F_RO));
    dfx_start(f, all_features(f), 8);
    memcpy(before, disk, BYTES);
    memset(buf, 0x5a, 512);
    /* 5.2.6.2: every write is IOERR and writes nothing. */
    assert_int_equal(rw(f, VIRTIO_BLK_T_OUT, 0, buf, 512), VIRTIO_BLK_S_IOERR);
    assert_int_equal(dwz(f, VIRTIO_BLK_T_DISCARD, &s, 1), VIRTIO_BLK_S_IOERR);
    assert_int_equal(dwz(f, VIRTIO_BLK_T_WRITE_ZEROES, &s, 1), VIRTIO_BLK_S_IOERR);
    assert_memory_equal(disk, before, BYTES);
    assert_true(stats(f).ro_refused == 3);
    /* Reads and flushes still work. */
    assert_int_equal(rw(f, VIRTIO_BLK_T_IN, 1, buf, 512), VIRTIO_BLK_S_OK);
    assert_memory_equal(buf, disk + 512, 512);
    assert_int_equal(dwz(f, VIRTIO_BLK_T_FLUSH, NULL, 0), VIRTIO_BLK_S_OK);
}

/* Writethrough: each write stable (backend flushed) before it completes;
 * writeback: only FLUSH flushes. The driver toggles it (CONFIG_WCE). */
static void test_wce_modes(void **state)
{
    struct dev_fixture *f = *state;
    uint8_t *buf = fx_alloc(&f->fx, 512, NULL);
    struct virtio_blk_discard_write_zeroes s = seg(8, 2, VIRTIO_BLK_WRITE_ZEROES_FLAG_UNMAP);

    dfx_start(f, all_features(f), 8);
    assert_int_equal(vmmio_read(f->m, CFG(write_zeroes_may_unmap), 1), 1); /* can discard */
    assert_int_equal(vmmio_read(f->m, CFG(writeback), 1), 1);
    assert_true(vdev_blk_is_writeback(&f->dev));
    memset(buf, 0x11, 512);
    assert_int_equal(rw(f, VIRTIO_BLK_T_OUT, 0, buf, 512), VIRTIO_BLK_S_OK);
    assert_int_equal(rec.flushes, 0);
    assert_int_equal(dwz(f, VIRTIO_BLK_T_FLUSH, NULL, 0), VIRTIO_BLK_S_OK);
    assert_int_equal(rec.flushes, 1);
    /* To writethrough. */
    vmmio_write(f->m, CFG(writeback), 0, 1);
    assert_int_equal(vmmio_read(f->m, CFG(writeback), 1), 0);
    assert_false(vdev_blk_is_writeback(&f->dev));
    rec.flushes = 0;
    assert_int_equal(rw(f, VIRTIO_BLK_T_OUT, 1, buf, 512), VIRTIO_BLK_S_OK);
    assert_int_equal(rec.flushes, 1);
    assert_int_equal(dwz(f, VIRTIO_BLK_T_WRITE_ZEROES, &s, 1), VIRTIO_BLK_S_OK);
    assert_int_equal(rec.flushes, 2);
    assert_int_equal(rec.zeroes, 1);
    assert_int_equal(rec.unmaps, 1);
    assert_true(stats(f).stable_writes == 2);
    /* A flush that fails in writethrough fails the write. */
    rec.fail_flush = 1;
    assert_int_equal(rw(f, VIRTIO_BLK_T_OUT, 1, buf, 512), VIRTIO_BLK_S_IOERR);
    rec.fail_flush = 0;
    /* Values other than 0/1 are ignored; back to writeback. */
    vmmio_write(f->m, CFG(writeback), 7, 1);
    assert_int_equal(vmmio_read(f->m, CFG(writeback), 1), 0);
    vmmio_write(f->m, CFG(writeback), 1, 1);
    assert_int_equal(vmmio_read(f->m, CFG(writeback), 1), 1);
    rec.flushes = 0;
    assert_int_equal(rw(f, VIRTIO_BLK_T_OUT, 2, buf, 512), VIRTIO_BLK_S_OK);
    assert_int_equal(rec.flushes, 0);
    /* Discard reaches the backend's discard. */
    s = seg(16, 4, 0);
    assert_int_equal(dwz(f, VIRTIO_BLK_T_DISCARD, &s, 1), VIRTIO_BLK_S_OK);
    assert_int_equal(rec.discards, 1);
    assert_true(is_zero(disk + 16 * 512, 4 * 512));
    /* Reset: back to the default mode. */
    vmmio_write(f->m, CFG(writeback), 0, 1);
    dfx_start(f, all_features(f), 8);
    assert_int_equal(vmmio_read(f->m, CFG(writeback), 1), 1);
}

/* Without CONFIG_WCE: FLUSH negotiated is writeback, neither is
 * writethrough (5.2.6.2 case 1); CONFIG_WCE without FLUSH reads 0 and
 * cannot be set to 1 (5.2.5). The default from vdev_blk_set_writeback. */
static void test_wce_negotiation(void **state)
{
    struct dev_fixture *f = *state;
    uint64_t all = all_features(f);
    uint64_t wce = 1ull << VIRTIO_BLK_F_CONFIG_WCE, flush = 1ull << VIRTIO_BLK_F_FLUSH;
    uint8_t *buf = fx_alloc(&f->fx, 512, NULL);

    dfx_start(f, all & ~wce, 8);
    assert_true(vdev_blk_is_writeback(&f->dev));
    dfx_start(f, all & ~wce & ~flush, 8);
    assert_false(vdev_blk_is_writeback(&f->dev));
    rec.flushes = 0;
    assert_int_equal(rw(f, VIRTIO_BLK_T_OUT, 0, buf, 512), VIRTIO_BLK_S_OK);
    assert_int_equal(rec.flushes, 1);
    dfx_start(f, all & ~flush, 8);
    assert_int_equal(vmmio_read(f->m, CFG(writeback), 1), 0);
    vmmio_write(f->m, CFG(writeback), 1, 1);
    assert_int_equal(vmmio_read(f->m, CFG(writeback), 1), 0);
    /* The daemon's --writethrough: 0 after reset. */
    dfx_wr(f, VIRTIO_MMIO_STATUS, 0);
    assert_int_equal(vdev_blk_set_writeback(&f->dev, false), 0);
    dfx_start(f, all, 8);
    assert_int_equal(vmmio_read(f->m, CFG(writeback), 1), 0);
    /* Not a config field the driver may write: ignored. */
    vmmio_write(f->m, CFG(max_discard_seg), 1, 1);
    assert_int_equal(vmmio_read(f->m, CFG(max_discard_seg), 4), 32);
}

/* Write zeroes on a backend without write_zeroes: plain zero writes. */
static void test_dwz_backend_fallback(void **state)
{
    struct dev_fixture *f = *state;
    struct vdev_blk_backend be = {.read = be_read, .write = be_write, .ctx = &rec};
    struct virtio_blk_discard_write_zeroes s = seg(2, 20, 0);
    struct vdev_blk_limits l = {0};

    dfx_teardown(f);
    dfx_arena(f);
    assert_int_equal(vdev_blk_create_backend(&f->dev, &f->fx.mem, BYTES, &be, NULL), 0);
    dfx_attach(f);
    dfx_start(f, all_features(f), 8);
    assert_int_equal(vmmio_read(f->m, CFG(write_zeroes_may_unmap), 1), 0);
    rec.writes = 0;
    assert_int_equal(dwz(f, VIRTIO_BLK_T_WRITE_ZEROES, &s, 1), VIRTIO_BLK_S_OK);
    assert_true(is_zero(disk + 2 * 512, 20 * 512));
    assert_int_equal(rec.writes, 3); /* 10 KiB in 4 KiB pieces */
    /* A discard without a backend discard changes nothing and succeeds. */
    s = seg(40, 2, 0);
    assert_int_equal(dwz(f, VIRTIO_BLK_T_DISCARD, &s, 1), VIRTIO_BLK_S_OK);
    assert_false(is_zero(disk + 40 * 512, 512));
    /* Bad limits are refused (zeroes; segments past the model's array). */
    dfx_wr(f, VIRTIO_MMIO_STATUS, 0);
    assert_int_equal(vdev_blk_set_limits(&f->dev, &l), -EINVAL);
    vdev_blk_get_limits(&f->dev, &l);
    l.max_discard_seg = VDEV_BLK_DWZ_SEG_MAX + 1;
    assert_int_equal(vdev_blk_set_limits(&f->dev, &l), -EINVAL);
    l.max_discard_seg = VDEV_BLK_DWZ_SEG_MAX;
    assert_int_equal(vdev_blk_set_limits(&f->dev, &l), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_dwz_config, setup_ram, teardown),
        cmocka_unit_test_setup_teardown(test_dwz_discard_and_zeroes, setup_ram, teardown),
        cmocka_unit_test_setup_teardown(test_dwz_limits, setup_ram, teardown),
        cmocka_unit_test_setup_teardown(test_dwz_flags_unsupp, setup_ram, teardown),
        cmocka_unit_test_setup_teardown(test_dwz_not_negotiated, setup_ram, teardown),
        cmocka_unit_test_setup_teardown(test_ro, setup_ram, teardown),
        cmocka_unit_test_setup_teardown(test_wce_modes, setup_backend, teardown),
        cmocka_unit_test_setup_teardown(test_wce_negotiation, setup_backend, teardown),
        cmocka_unit_test_setup_teardown(test_dwz_backend_fallback, setup_backend, teardown),
    };

    if (getenv("TEST_FILTER"))
        cmocka_set_test_filter(getenv("TEST_FILTER"));
    return cmocka_run_group_tests_name("blk-features (device)", tests, NULL, NULL);
}
