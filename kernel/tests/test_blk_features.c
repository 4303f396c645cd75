/* SPDX-License-Identifier: Apache-2.0 */
/*
 * test_blk_features.c - suite "blk-features": the blk driver's optional
 * features (drivers/virtio/virtio_blk_ext.c) against the loopback blk model
 * (hostsim/dev_blk_ext.c) on lblk0, device side on CPU 1 (VIRTIO 1.2 5.2):
 * DISCARD / WRITE_ZEROES negotiated with the model's limits, data zeroed
 * and neighbours intact, ranges packed into requests within max segments,
 * bad requests put straight on the queue (unmap on discard, overlapping
 * segments, past capacity) answered UNSUPP / IOERR with the device serving
 * on, more segments than the limit refused before sending, the cache mode
 * toggled through config (writethrough: every write stable, counted by the
 * device). Uses the last 512 sectors of lblk0 (scripts use the first ones)
 * and leaves the cache in writeback.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "kernel.h"
#include "kernel/tests/ktest.h"
#include "kernel/virtio/loopback.h"
#include "transport_loopback.h"
#include "vdev.h"
#include "vdev_models.h"
#include "virtio.h"
#include "virtio_blk.h"
#include "virtio_platform.h"
#include "vmmio.h"

#define TB_SECTORS 512u /* at the end of the disk */

struct tb_dev_arg {
    struct vdev_blk_stats st;
    struct vdev_blk_limits lim;
    bool writeback;
};

static void tb_get(struct vdev *d, void *arg)
{
    struct tb_dev_arg *a = arg;

    vdev_blk_get_stats(d, &a->st);
    vdev_blk_get_limits(d, &a->lim);
    a->writeback = vdev_blk_is_writeback(d);
}

struct tb {
    struct virtio_device *d;
    struct virtio_blk *blk;
    uint64_t base; /* first sector we may use */
    uint8_t *buf;  /* DMA, TB_SECTORS * 512 */
    uint64_t dma;
};

static bool tb_up(struct ktest *t, struct tb *tb)
{
    memset(tb, 0, sizeof(*tb));
    if (loopback_init()) {
        ktest_fail(t, __FILE__, __LINE__, "loopback_init failed");
        return false;
    }
    tb->d = virtio_find("lblk0");
    if (!tb->d || !tb->d->driver_priv) {
        ktest_fail(t, __FILE__, __LINE__, "no lblk0");
        return false;
    }
    tb->blk = tb->d->driver_priv;
    tb->base = virtio_blk_capacity(tb->blk) - TB_SECTORS;
    tb->buf = virt_dma_alloc(TB_SECTORS * 512, &tb->dma);
    if (!tb->buf) {
        ktest_fail(t, __FILE__, __LINE__, "no memory");
        return false;
    }
    return true;
}

static void tb_down(struct tb *tb)
{
    if (tb->buf)
        virt_dma_free(tb->buf, TB_SECTORS * 512);
}

static struct tb_dev_arg tb_dev(struct tb *tb)
{
    struct tb_dev_arg a;

    vmmio_run_locked(loopback_device_vmmio(tb->d), tb_get, &a);
    return a;
}

static bool is_zero(const uint8_t *p, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (p[i])
            return false;
    return true;
}

static bool is_byte(const uint8_t *p, size_t n, uint8_t b)
{
    for (size_t i = 0; i < n; i++)
        if (p[i] != b)
            return false;
    return true;
}

static void t_negotiated(struct ktest *t)
{
    struct virtio_blk_limits l;
    struct tb_dev_arg a;
    struct tb tb;

    if (!tb_up(t, &tb))
        return;
    virtio_blk_get_limits(tb.blk, &l);
    a = tb_dev(&tb);
    ktest_diag("lblk0: discard %u sectors x %u segs, align %u; write zeroes %u x %u, unmap %d",
               l.max_discard_sectors, l.max_discard_seg, l.discard_sector_alignment,
               l.max_write_zeroes_sectors, l.max_write_zeroes_seg, l.write_zeroes_may_unmap);
    tb_down(&tb);
    KT_ASSERT(t, l.discard && l.write_zeroes && l.topology && l.config_wce && l.flush);
    KT_ASSERT(t, !l.read_only);
    KT_ASSERT_EQ(t, l.max_discard_sectors, a.lim.max_discard_sectors);
    KT_ASSERT_EQ(t, l.max_discard_seg, a.lim.max_discard_seg);
    KT_ASSERT_EQ(t, l.discard_sector_alignment, a.lim.discard_sector_alignment);
    KT_ASSERT_EQ(t, l.max_write_zeroes_sectors, a.lim.max_write_zeroes_sectors);
    KT_ASSERT_EQ(t, l.max_write_zeroes_seg, a.lim.max_write_zeroes_seg);
    KT_ASSERT_EQ(t, l.min_io_size, a.lim.min_io_size);
    KT_ASSERT_EQ(t, l.opt_io_size, a.lim.opt_io_size);
}

/* Fill [base, base + 64) with 0x5a, discard 8..24, zero 40..48 (unmap)
 * and 56..60: exactly those read back as zeroes. */
static void t_discard_zeroes(struct ktest *t)
{
    struct tb_dev_arg a0, a1;
    struct tb tb;
    int err;

    if (!tb_up(t, &tb))
        return;
    a0 = tb_dev(&tb);
    memset(tb.buf, 0x5a, 64 * 512);
    err = virtio_blk_write(tb.blk, tb.base, tb.buf, 64);
    if (!err)
        err = virtio_blk_discard(tb.blk, tb.base + 8, 16);
    if (!err)
        err = virtio_blk_write_zeroes(tb.blk, tb.base + 40, 8, true);
    if (!err)
        err = virtio_blk_write_zeroes(tb.blk, tb.base + 56, 4, false);
    memset(tb.buf, 0xee, 64 * 512);
    if (!err)
        err = virtio_blk_read(tb.blk, tb.base, tb.buf, 64);
    a1 = tb_dev(&tb);
    if (err) {
        tb_down(&tb);
        KT_FAIL(t, "I/O failed: %d", err);
    }
    {
        bool ok = is_byte(tb.buf, 8 * 512, 0x5a) && is_zero(tb.buf + 8 * 512, 16 * 512) &&
                  is_byte(tb.buf + 24 * 512, 16 * 512, 0x5a) &&
                  is_zero(tb.buf + 40 * 512, 8 * 512) &&
                  is_byte(tb.buf + 48 * 512, 8 * 512, 0x5a) &&
                  is_zero(tb.buf + 56 * 512, 4 * 512) && is_byte(tb.buf + 60 * 512, 4 * 512, 0x5a);

        tb_down(&tb);
        KT_ASSERT(t, ok); /* zeroes exactly in 8..24, 40..48, 56..60 */
    }
    KT_ASSERT_EQ(t, a1.st.discards - a0.st.discards, 1);
    KT_ASSERT_EQ(t, a1.st.write_zeroes - a0.st.write_zeroes, 2);
    KT_ASSERT_EQ(t, a1.st.ioerr, a0.st.ioerr);
}

/* More ranges than max_write_zeroes_seg: as many requests as the limit
 * says, none refused by the device. */
static void t_ranges_packed(struct ktest *t)
{
    struct virtio_blk_range r[80];
    struct virtio_blk_limits l;
    struct tb_dev_arg a0, a1;
    struct tb tb;
    uint32_t n = 80, i, expect;
    int err;

    if (!tb_up(t, &tb))
        return;
    virtio_blk_get_limits(tb.blk, &l);
    for (i = 0; i < n; i++)
        r[i] = (struct virtio_blk_range){tb.base + 100 + 2 * i, 1};
    expect = (n + l.max_write_zeroes_seg - 1) / l.max_write_zeroes_seg;
    a0 = tb_dev(&tb);
    err = virtio_blk_dwz_ranges(tb.blk, VIRTIO_BLK_T_WRITE_ZEROES, r, n, false);
    a1 = tb_dev(&tb);
    tb_down(&tb);
    KT_ASSERT_EQ(t, err, 0);
    ktest_diag("%u ranges, %u segments a request: %llu requests", n, l.max_write_zeroes_seg,
               (unsigned long long)(a1.st.write_zeroes - a0.st.write_zeroes));
    KT_ASSERT_EQ(t, a1.st.write_zeroes - a0.st.write_zeroes, expect);
    KT_ASSERT_EQ(t, a1.st.zeroed_sectors - a0.st.zeroed_sectors, n);
    KT_ASSERT_EQ(t, a1.st.ioerr, a0.st.ioerr);
}

/* One request with raw segments through virtio_blk_submit (the driver
 * checks only their count): the device's answer as an errno. */
static int tb_raw(struct tb *tb, uint32_t type, const struct virtio_blk_discard_write_zeroes *s,
                  uint32_t n)
{
    struct vq_sg sg = {.buf = tb->buf, .len = n * (uint32_t)sizeof(*s)};
    struct virtio_blk_req req = {.type = type, .nsegs = 1, .segs = &sg};
    int err;

    memcpy(tb->buf, s, n * sizeof(*s));
    err = virtio_blk_submit(tb->blk, &req);
    return err ? err : virtio_blk_wait(tb->blk, &req, VIRTIO_BLK_TIMEOUT_NS);
}

static struct virtio_blk_discard_write_zeroes tb_seg(uint64_t sector, uint32_t n, uint32_t flags)
{
    return (struct virtio_blk_discard_write_zeroes){vr_cpu_to_le64(sector), vr_cpu_to_le32(n),
                                                    vr_cpu_to_le32(flags)};
}

static void t_bad_requests(struct ktest *t)
{
    struct virtio_blk_discard_write_zeroes s[2];
    struct virtio_blk_limits l;
    struct tb_dev_arg a0, a1;
    uint64_t cap;
    struct tb tb;
    int r_unmap, r_flags, r_overlap, r_past, r_many, err;
    bool zeroed;

    if (!tb_up(t, &tb))
        return;
    virtio_blk_get_limits(tb.blk, &l);
    cap = virtio_blk_capacity(tb.blk);
    a0 = tb_dev(&tb);
    s[0] = tb_seg(tb.base, 8, VIRTIO_BLK_WRITE_ZEROES_FLAG_UNMAP);
    r_unmap = tb_raw(&tb, VIRTIO_BLK_T_DISCARD, s, 1); /* 5.2.6.2: UNSUPP */
    s[0] = tb_seg(tb.base, 8, 4);
    r_flags = tb_raw(&tb, VIRTIO_BLK_T_WRITE_ZEROES, s, 1); /* reserved flag: UNSUPP */
    s[0] = tb_seg(tb.base, 8, 0);
    s[1] = tb_seg(tb.base + 4, 8, 0);
    r_overlap = tb_raw(&tb, VIRTIO_BLK_T_WRITE_ZEROES, s, 2); /* IOERR */
    s[0] = tb_seg(cap - 2, 4, 0);
    r_past = tb_raw(&tb, VIRTIO_BLK_T_DISCARD, s, 1); /* IOERR */
    /* Past max_write_zeroes_seg: the driver does not send it. */
    {
        struct vq_sg sg = {.buf = tb.buf, .len = (l.max_write_zeroes_seg + 1) * 16};
        struct virtio_blk_req req = {.type = VIRTIO_BLK_T_WRITE_ZEROES, .nsegs = 1, .segs = &sg};

        r_many = virtio_blk_submit(tb.blk, &req);
    }
    /* Still serving. */
    memset(tb.buf, 0x33, 512);
    err = virtio_blk_write(tb.blk, tb.base + 200, tb.buf, 1);
    if (!err)
        err = virtio_blk_write_zeroes(tb.blk, tb.base + 200, 1, false);
    memset(tb.buf, 0xee, 512);
    if (!err)
        err = virtio_blk_read(tb.blk, tb.base + 200, tb.buf, 1);
    a1 = tb_dev(&tb);
    zeroed = err == 0 && is_zero(tb.buf, 512);
    tb_down(&tb);
    KT_ASSERT(t, zeroed);
    KT_ASSERT_EQ(t, r_unmap, -EOPNOTSUPP);
    KT_ASSERT_EQ(t, r_flags, -EOPNOTSUPP);
    KT_ASSERT_EQ(t, r_overlap, -EIO);
    KT_ASSERT_EQ(t, r_past, -EIO);
    KT_ASSERT_EQ(t, r_many, -EINVAL);
    KT_ASSERT_EQ(t, err, 0);
    KT_ASSERT_EQ(t, a1.st.unsupp - a0.st.unsupp, 2);
    KT_ASSERT_EQ(t, a1.st.ioerr - a0.st.ioerr, 2);
    /* Refused before sending: off the alignment is only checked when the
     * alignment is above 1; past capacity always. */
    KT_ASSERT_EQ(t, virtio_blk_discard(tb.blk, cap - 1, 4), -EINVAL);
}

static void t_wce_toggle(struct ktest *t)
{
    struct tb_dev_arg a0, a1, a2;
    struct tb tb;
    bool wb = true;
    int err, err_get;

    if (!tb_up(t, &tb))
        return;
    memset(tb.buf, 0x44, 512);
    err = virtio_blk_set_writeback(tb.blk, false);
    err_get = virtio_blk_get_writeback(tb.blk, &wb);
    a0 = tb_dev(&tb);
    if (!err)
        err = virtio_blk_write(tb.blk, tb.base + 300, tb.buf, 1);
    if (!err)
        err = virtio_blk_write(tb.blk, tb.base + 301, tb.buf, 1);
    a1 = tb_dev(&tb);
    /* Back to writeback (the default other users expect). */
    if (virtio_blk_set_writeback(tb.blk, true) && !err)
        err = -EIO;
    if (!err)
        err = virtio_blk_write(tb.blk, tb.base + 302, tb.buf, 1);
    a2 = tb_dev(&tb);
    tb_down(&tb);
    KT_ASSERT_EQ(t, err, 0);
    KT_ASSERT_EQ(t, err_get, 0);
    KT_ASSERT(t, !wb);
    KT_ASSERT(t, !a0.writeback);
    KT_ASSERT_EQ(t, a1.st.stable_writes - a0.st.stable_writes, 2);
    KT_ASSERT(t, a2.writeback);
    KT_ASSERT_EQ(t, a2.st.stable_writes, a1.st.stable_writes);
}

KTEST_SUITE(blk_features_suite, "blk-features", {"negotiated_limits", t_negotiated},
            {"discard_and_write_zeroes", t_discard_zeroes}, {"ranges_packed", t_ranges_packed},
            {"bad_requests_device_serves", t_bad_requests}, {"wce_toggle", t_wce_toggle});
