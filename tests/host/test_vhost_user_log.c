/* SPDX-License-Identifier: Apache-2.0 */
/*
 * test_vhost_user_log.c - dirty logging for live migration through the
 * vhost-user handler (hostsim/vhost_user_log.c, hostsim/vdq_log.c; QEMU
 * docs/interop/vhost-user.rst "Migration"): with VHOST_F_LOG_ALL acked and
 * a log given by SET_LOG_BASE, the bitmap ends up with exactly the pages
 * the device wrote (data read into guest buffers, status bytes, the used
 * ring when VHOST_VRING_F_LOG is set) and none of the device-readable
 * buffers; logging follows LOG_ALL and the ring flag on a running ring;
 * the asynchronous blk path logs its completions, and GET_VRING_BASE
 * finishes the I/O in flight (logged) before it answers; bad SET_LOG_BASE
 * input is refused. The fake carrier (vu_fixture.c) maps the log fd onto
 * its shared-memory buffer, the driver is drivers/virtio/virtqueue.c and
 * the device the blk model (RAM disk or a fake asynchronous backend).
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "hostile.h"
#include "ring_fixture.h"
#include "vdev_models.h"
#include "vhost_user.h"
#include "vhost_user_front.h"
#include "virtio_blk.h"
#include "virtio_platform.h"
#include "vu_fixture.h"

#define UA_BASE 0x7f1200000000ull
#define DISK_BYTES (256 * 512)
#define QNUM 64
#define PAGE 4096u
/* Log bytes for guest-physical [0, FX_GPA_BASE + FX_ARENA_SIZE). */
#define LOG_NEED ((FX_GPA_BASE + FX_ARENA_SIZE) / PAGE / 8)
#define MAXPAGES 64

struct ltfx {
    struct ring_fixture fx;
    struct vu_backend *b;
    struct vdev dev;
    uint8_t *disk;
    struct virtqueue *vq;
    struct vu_reply r;
    uint8_t msg[VU_MAX_MSG];
    struct vu_fake vf;
    uint8_t *bufs; /* 8 pages, page-aligned in guest-physical space */
    uint64_t bufs_gpa;
    uint64_t used_gpa, used_bytes;
    int call;
    bool packed; /* negotiate VIRTIO_F_RING_PACKED */
    /* the fake asynchronous backend: requests held until reaped with wait */
    struct vdev_blk_io *held[QNUM];
    unsigned nheld;
};

static struct ltfx T;

static void carrier_broken(const char *what, int fd)
{
    fail_msg("the handler %s (fd %d)", what, fd);
}

static int send_fds(struct ltfx *t, size_t len, const int *fds, unsigned nfds)
{
    return vu_handle_msg(t->b, t->msg, len, fds, nfds, &t->r);
}

static uint64_t acked(struct ltfx *t, size_t len, const int *fds, unsigned nfds)
{
    snap_put32(t->msg + 4, snap_get32(t->msg + 4) | VU_FLAG_NEED_REPLY);
    assert_int_equal(send_fds(t, len, fds, nfds), 0);
    assert_int_equal(t->r.len, VU_HDR_BYTES + 8);
    return vuf_reply_u64(&t->r);
}

static void ok(struct ltfx *t, size_t len)
{
    assert_int_equal(acked(t, len, NULL, 0), 0);
}

static uint64_t get_u64(struct ltfx *t, uint32_t req)
{
    assert_int_equal(send_fds(t, vuf_none(t->msg, req, 0), NULL, 0), 0);
    assert_int_equal(t->r.len, VU_HDR_BYTES + 8);
    return vuf_reply_u64(&t->r);
}

static uint64_t ua_of(uint64_t gpa)
{
    return UA_BASE + (gpa - FX_GPA_BASE);
}

/* ---- the fake asynchronous backend ---- */

static int afake_submit(void *ctx, struct vdev_blk_io *io)
{
    struct ltfx *t = ctx;

    assert_true(t->nheld < QNUM);
    t->held[t->nheld++] = io;
    return 0;
}

static void afake_commit(void *ctx, unsigned qi)
{
    (void)ctx, (void)qi;
}

/* Only a waiting reap (the device going to sleep) finishes anything. */
static void afake_reap(void *ctx, unsigned qi, bool wait)
{
    struct ltfx *t = ctx;

    (void)qi;
    while (wait && t->nheld) {
        struct vdev_blk_io *io = t->held[--t->nheld];
        uint64_t pos = io->pos;

        for (uint32_t i = 0; i < io->niov && io->op != VDEV_BLK_IO_FLUSH; i++) {
            if (io->op == VDEV_BLK_IO_READ)
                memcpy(io->iov[i].base, t->disk + pos, io->iov[i].len);
            else
                memcpy(t->disk + pos, io->iov[i].base, io->iov[i].len);
            pos += io->iov[i].len;
        }
        vdev_blk_io_done(io, 0);
    }
}

static int afake_read(void *ctx, uint64_t pos, void *buf, uint32_t len)
{
    (void)ctx, (void)pos, (void)buf, (void)len;
    fail_msg("synchronous read with an async backend");
    return -EIO;
}

static int afake_write(void *ctx, uint64_t pos, const void *buf, uint32_t len)
{
    (void)ctx, (void)pos, (void)buf, (void)len;
    fail_msg("synchronous write with an async backend");
    return -EIO;
}

/* ---- setup ---- */

static void backend_new(struct ltfx *t, bool async)
{
    assert_int_equal(vu_create(&vufx_ops, &t->vf, &t->b), 0);
    if (async) {
        struct vdev_blk_backend be = {.read = afake_read, .write = afake_write, .ctx = t,
                                      .submit = afake_submit, .commit = afake_commit,
                                      .reap = afake_reap};

        assert_int_equal(
            vdev_blk_create_backend(&t->dev, vu_guest_mem(t->b), DISK_BYTES, &be, NULL), 0);
    } else {
        assert_int_equal(
            vdev_blk_create(&t->dev, vu_guest_mem(t->b), t->disk, DISK_BYTES, NULL), 0);
    }
    vdev_set_offer_packed(&t->dev, t->packed);
    assert_int_equal(vu_attach(t->b, &t->dev), 0);
}

static int setup(void **state)
{
    struct ltfx *t = &T;
    uint64_t g;
    uint8_t *p;

    memset(t, 0, sizeof(*t));
    fx_arena_init(&t->fx);
    vufx_init(&t->vf, t->fx.arena, FX_ARENA_SIZE, 10, carrier_broken);
    t->vf.shm_size = VUFX_SHM_BYTES; /* the log's "file" */
    t->disk = calloc(1, DISK_BYTES);
    assert_non_null(t->disk);
    /* 8 whole pages of their own: round up inside a 9-page allocation. */
    p = fx_alloc(&t->fx, 9 * PAGE, &g);
    t->bufs = p + (PAGE - g % PAGE) % PAGE;
    t->bufs_gpa = g + (PAGE - g % PAGE) % PAGE;
    *state = t;
    return 0;
}

static int teardown(void **state)
{
    struct ltfx *t = *state;
    int fd;

    vu_destroy(t->b);
    vdev_destroy(&t->dev);
    fd = vufx_first_open(&t->vf);
    if (fd >= 0)
        fail_msg("fd %d never closed", fd);
    if (t->vq)
        vq_destroy(t->vq);
    free(t->disk);
    fx_teardown(&t->fx);
    return 0;
}

static void negotiate(struct ltfx *t, bool log_all)
{
    struct vuf_region rg = {.gpa = FX_GPA_BASE, .size = FX_ARENA_SIZE, .uaddr = UA_BASE};
    uint64_t f = get_u64(t, VU_GET_FEATURES), pf = get_u64(t, VU_GET_PROTOCOL_FEATURES);
    int fd = vufx_fd_new(&t->vf);

    /* Offered: VHOST_F_LOG_ALL and LOG_SHMFD. */
    assert_true(f & (1ull << VU_F_LOG_ALL));
    assert_true(pf & (1ull << VU_PF_LOG_SHMFD));
    assert_int_equal(send_fds(t, vuf_u64(t->msg, VU_SET_PROTOCOL_FEATURES, 0, pf), NULL, 0), 0);
    ok(t, vuf_none(t->msg, VU_SET_OWNER, 0));
    if (!log_all)
        f &= ~(1ull << VU_F_LOG_ALL);
    f &= ~(1ull << VIRTIO_F_EVENT_IDX); /* the used area's extent stays fixed */
    if (!t->packed)
        f &= ~(1ull << VIRTIO_F_RING_PACKED);
    else
        assert_true(f & (1ull << VIRTIO_F_RING_PACKED));
    ok(t, vuf_u64(t->msg, VU_SET_FEATURES, 0, f));
    assert_int_equal(acked(t, vuf_mem_table(t->msg, 0, &rg, 1), &fd, 1), 0);
}

static size_t log_base_msg(uint8_t *m, uint64_t size, uint64_t off)
{
    snap_put64(m + VU_HDR_BYTES, size);
    snap_put64(m + VU_HDR_BYTES + 8, off);
    return vuf_hdr(m, VU_SET_LOG_BASE, 0, VU_LOG_BYTES);
}

/* SET_LOG_BASE with a shm fd: 0, or the verdict (< 0: close). */
static int set_log_base(struct ltfx *t, uint64_t size, uint64_t off)
{
    int fd = vufx_shm_fd_new(&t->vf), err;

    err = send_fds(t, log_base_msg(t->msg, size, off), &fd, 1);
    assert_false(t->vf.open[fd]); /* mapped (or not), never kept */
    if (!err) { /* its own reply, a u64 */
        assert_int_equal(t->r.len, VU_HDR_BYTES + 8);
        assert_int_equal(snap_get32(t->r.buf), VU_SET_LOG_BASE);
        assert_int_equal(snap_get32(t->r.buf + 4), VU_FLAG_VERSION | VU_FLAG_REPLY);
    }
    return err;
}

static void ring_addr(struct ltfx *t, bool log)
{
    uint64_t d, a, u;
    uint8_t *p = t->msg + VU_HDR_BYTES;
    size_t len;

    vq_get_ring_addrs(t->vq, &d, &a, &u);
    t->used_gpa = u;
    t->used_bytes = t->packed ? 4 : 4 + 8ull * QNUM + 2;
    len = vuf_addr(t->msg, 0, 0, ua_of(d), ua_of(u), ua_of(a));
    if (log) {
        snap_put32(p + 4, VU_VRING_F_LOG);
        snap_put64(p + 32, u); /* log_guest_addr: the used ring's GPA (QEMU's) */
    }
    ok(t, len);
}

static void start(struct ltfx *t, bool log_all, bool ring_log)
{
    struct vq_config cfg = {.num = QNUM, .packed = t->packed};
    int k = vufx_fd_new(&t->vf);

    t->call = vufx_fd_new(&t->vf);
    negotiate(t, log_all);
    assert_int_equal(set_log_base(t, LOG_NEED, 0), 0);
    assert_int_equal(vq_create(&cfg, &t->vq), 0);
    ok(t, vuf_state(t->msg, VU_SET_VRING_NUM, 0, 0, QNUM));
    ok(t, vuf_state(t->msg, VU_SET_VRING_BASE, 0, 0, t->packed ? VU_PACKED_BASE_RESET : 0));
    ring_addr(t, ring_log);
    assert_int_equal(acked(t, vuf_u64(t->msg, VU_SET_VRING_CALL, 0, 0), &t->call, 1), 0);
    assert_int_equal(acked(t, vuf_u64(t->msg, VU_SET_VRING_KICK, 0, 0), &k, 1), 0);
    ok(t, vuf_state(t->msg, VU_SET_VRING_ENABLE, 0, 0, 1));
    assert_true(vu_is_running(t->b));
}

/* ---- requests: buffers are whole pages of t->bufs ---- */

static uint8_t *page(struct ltfx *t, unsigned i)
{
    return t->bufs + i * PAGE;
}

static uint64_t page_gpa(struct ltfx *t, unsigned i)
{
    return t->bufs_gpa + i * PAGE;
}

/* type on sector 0: header in page hp, data (len, from page dp on) and
 * the status byte at the end of page sp. Submitted and kicked. */
static void blk_submit(struct ltfx *t, uint32_t type, unsigned hp, unsigned dp, uint32_t len,
                       unsigned sp)
{
    struct vq_sg sg[3] = {{.buf = page(t, hp), .len = 16},
                          {.buf = page(t, dp), .len = len},
                          {.buf = page(t, sp) + PAGE - 1, .len = 1}};

    snap_put32(page(t, hp), type);
    snap_put32(page(t, hp) + 4, 0);
    snap_put64(page(t, hp) + 8, 0);
    if (type == VIRTIO_BLK_T_OUT)
        assert_int_equal(vq_add_sgs(t->vq, sg, 2, 1, t), 0);
    else
        assert_int_equal(vq_add_sgs(t->vq, sg, 1, 2, t), 0);
    vq_kick_prepare(t->vq);
    vu_kick(t->b, 0);
}

static int blk_complete(struct ltfx *t, unsigned sp)
{
    void *tok;
    uint32_t len;

    if (vq_get_buf(t->vq, &tok, &len) != 0)
        return -1;
    return page(t, sp)[PAGE - 1];
}

static uint8_t *logmap(struct ltfx *t)
{
    return t->vf.shm;
}

static bool page_dirty(struct ltfx *t, uint64_t gpa)
{
    uint64_t pg = gpa / PAGE;

    return (logmap(t)[pg / 8] >> (pg % 8)) & 1;
}

/* Every set bit of the log: its guest-physical page addresses. */
static unsigned dirty_pages(struct ltfx *t, uint64_t *out, unsigned max)
{
    unsigned n = 0;

    for (uint64_t i = 0; i < LOG_NEED; i++)
        for (unsigned bit = 0; bit < 8; bit++)
            if ((logmap(t)[i] >> bit) & 1) {
                assert_true(n < max);
                out[n++] = (i * 8 + bit) * PAGE;
            }
    return n;
}

static bool in_range(uint64_t pg, uint64_t gpa, uint64_t len)
{
    return pg + PAGE > gpa && pg < gpa + len;
}

/* The log holds exactly the pages of [gpa[i], gpa[i]+len[i]). */
static void expect_exactly(struct ltfx *t, const uint64_t *gpa, const uint64_t *len, unsigned n)
{
    uint64_t pages[MAXPAGES];
    unsigned got = dirty_pages(t, pages, MAXPAGES), i, j;

    for (i = 0; i < got; i++) {
        bool want = false;

        for (j = 0; j < n; j++)
            want |= in_range(pages[i], gpa[j], len[j]);
        if (!want)
            fail_msg("page %#llx logged, nothing written there", (unsigned long long)pages[i]);
    }
    for (j = 0; j < n; j++)
        for (uint64_t g = gpa[j] & ~(uint64_t)(PAGE - 1); g < gpa[j] + len[j]; g += PAGE)
            if (!page_dirty(t, g))
                fail_msg("page %#llx written, not logged", (unsigned long long)g);
}

/* ---- tests ---- */

static void test_log_exact_pages(void **state)
{
    struct ltfx *t = *state;
    uint64_t gpa[3], len[3];

    backend_new(t, false);
    start(t, true, true);
    memset(logmap(t), 0, LOG_NEED); /* what setup wrote (avail_event, flags) */
    /* A write from page 1 (readable: never logged), status at page 3. */
    memset(page(t, 1), 0x5a, 512);
    blk_submit(t, VIRTIO_BLK_T_OUT, 0, 1, 512, 3);
    assert_int_equal(blk_complete(t, 3), VIRTIO_BLK_S_OK);
    gpa[0] = page_gpa(t, 3), len[0] = 1;
    gpa[1] = t->used_gpa, len[1] = t->used_bytes;
    expect_exactly(t, gpa, len, 2);
    /* A read into pages 4-5 (6 KiB), status in page 6. */
    memset(logmap(t), 0, LOG_NEED);
    blk_submit(t, VIRTIO_BLK_T_IN, 0, 4, 6144, 6);
    assert_int_equal(blk_complete(t, 6), VIRTIO_BLK_S_OK);
    assert_int_equal(page(t, 4)[511], 0x5a); /* what the write put there */
    gpa[0] = page_gpa(t, 4), len[0] = 6144;
    gpa[1] = page_gpa(t, 6), len[1] = 1;
    gpa[2] = t->used_gpa, len[2] = t->used_bytes;
    expect_exactly(t, gpa, len, 3);
    assert_false(page_dirty(t, page_gpa(t, 0))); /* the header: read only */
    assert_false(page_dirty(t, page_gpa(t, 1)));
}

static void test_log_follows_features_and_ring_flag(void **state)
{
    struct ltfx *t = *state;
    uint64_t f, gpa[2], len[2];
    uint64_t pages[MAXPAGES];

    backend_new(t, false);
    f = get_u64(t, VU_GET_FEATURES) & ~(1ull << VIRTIO_F_EVENT_IDX);
    start(t, false, false); /* a log, but neither LOG_ALL nor the flag */
    memset(logmap(t), 0, LOG_NEED);
    blk_submit(t, VIRTIO_BLK_T_IN, 0, 4, 512, 6);
    assert_int_equal(blk_complete(t, 6), VIRTIO_BLK_S_OK);
    assert_int_equal(dirty_pages(t, pages, MAXPAGES), 0);
    /* LOG_ALL on a running ring (QEMU's vhost_dev_set_log): data logged,
     * the used ring not yet (no VHOST_VRING_F_LOG); the ring keeps going. */
    ok(t, vuf_u64(t->msg, VU_SET_FEATURES, 0, f));
    assert_true(vu_is_running(t->b));
    blk_submit(t, VIRTIO_BLK_T_IN, 0, 4, 512, 6);
    assert_int_equal(blk_complete(t, 6), VIRTIO_BLK_S_OK);
    gpa[0] = page_gpa(t, 4), len[0] = 512;
    gpa[1] = page_gpa(t, 6), len[1] = 1;
    expect_exactly(t, gpa, len, 2);
    /* The ring flag while running: the used ring too. */
    ring_addr(t, true);
    assert_true(vu_is_running(t->b));
    memset(logmap(t), 0, LOG_NEED);
    blk_submit(t, VIRTIO_BLK_T_IN, 0, 5, 512, 7);
    assert_int_equal(blk_complete(t, 7), VIRTIO_BLK_S_OK);
    {
        uint64_t g3[3] = {page_gpa(t, 5), page_gpa(t, 7), t->used_gpa};
        uint64_t l3[3] = {512, 1, t->used_bytes};

        expect_exactly(t, g3, l3, 3);
    }
    /* LOG_ALL off again: nothing more. */
    ok(t, vuf_u64(t->msg, VU_SET_FEATURES, 0, f & ~(1ull << VU_F_LOG_ALL)));
    memset(logmap(t), 0, LOG_NEED);
    blk_submit(t, VIRTIO_BLK_T_IN, 0, 4, 512, 6);
    assert_int_equal(blk_complete(t, 6), VIRTIO_BLK_S_OK);
    assert_int_equal(dirty_pages(t, pages, MAXPAGES), 0);
}

static void test_log_async_and_drain(void **state)
{
    struct ltfx *t = *state;
    uint64_t gpa[3], len[3];
    uint8_t *p = t->msg;

    backend_new(t, true);
    memset(t->disk, 0xc3, 4096);
    start(t, true, true);
    memset(logmap(t), 0, LOG_NEED);
    blk_submit(t, VIRTIO_BLK_T_IN, 0, 2, 4096, 3);
    /* In flight: nothing completed, nothing of it logged yet. */
    assert_int_equal(t->nheld, 1);
    assert_int_equal(blk_complete(t, 3), -1);
    assert_false(page_dirty(t, page_gpa(t, 2)));
    /* GET_VRING_BASE finishes it before it answers: base 1, used, logged. */
    assert_int_equal(send_fds(t, vuf_state(p, VU_GET_VRING_BASE, 0, 0, 0), NULL, 0), 0);
    assert_int_equal(snap_get32(t->r.buf + VU_HDR_BYTES + 4), 1);
    assert_int_equal(t->nheld, 0);
    assert_int_equal(blk_complete(t, 3), VIRTIO_BLK_S_OK);
    assert_int_equal(page(t, 2)[4095], 0xc3);
    gpa[0] = page_gpa(t, 2), len[0] = 4096;
    gpa[1] = page_gpa(t, 3) + PAGE - 1, len[1] = 1;
    gpa[2] = t->used_gpa, len[2] = t->used_bytes;
    expect_exactly(t, gpa, len, 3);
    /* A write's data page is never logged, on this path either. */
    memset(logmap(t), 0, LOG_NEED);
    ok(t, vuf_state(t->msg, VU_SET_VRING_BASE, 0, 0, 1));
    {
        int k = vufx_fd_new(&t->vf);

        assert_int_equal(acked(t, vuf_u64(t->msg, VU_SET_VRING_KICK, 0, 0), &k, 1), 0);
    }
    blk_submit(t, VIRTIO_BLK_T_OUT, 0, 1, 512, 4);
    assert_int_equal(send_fds(t, vuf_state(p, VU_GET_VRING_BASE, 0, 0, 0), NULL, 0), 0);
    assert_int_equal(blk_complete(t, 4), VIRTIO_BLK_S_OK);
    assert_false(page_dirty(t, page_gpa(t, 1)));
    assert_true(page_dirty(t, page_gpa(t, 4)));
}

/* The migration race of tests/test_vhost_user_migrate.py "late": a device
 * holding completions (--hostile complete-late) must use them before
 * GET_VRING_BASE answers, so that the base QEMU hands the destination is
 * the used idx in memory (vhost-user.rst GET_VRING_BASE; vdev_sleep ->
 * hostile_quiesce). Held across the stop, the chain was counted in the
 * base and never used: the destination started at used->idx and served
 * avail entries the source had completed. */
static void test_log_held_completions_used_before_base(void **state)
{
    struct ltfx *t = *state;
    static struct hostile h;
    struct hostile_cfg cfg;
    const uint8_t *used_idx;

    backend_new(t, false);
    assert_int_equal(hostile_parse("complete-late,count=1000", &cfg, NULL), 0);
    memset(&h, 0, sizeof(h));
    hostile_set(&h, &cfg);
    t->dev.hostile = &h; /* before the start, as the daemon does */
    /* As the daemon runs it: one round per kick (the single-threaded
     * vu_process() would spin here until the held chain is due). */
    assert_int_equal(vu_set_concurrent(t->b), 0);
    memset(t->disk, 0x5a, 4096);
    start(t, true, true);
    used_idx = t->fx.arena + (t->used_gpa - FX_GPA_BASE) + 2;
    memset(logmap(t), 0, LOG_NEED);
    blk_submit(t, VIRTIO_BLK_T_IN, 0, 2, 4096, 3);
    /* Served, its completion held back 20-50 ms: not used yet. */
    assert_int_equal(h.nlate, 1);
    assert_int_equal(snap_get16(used_idx), 0);
    assert_int_equal(blk_complete(t, 3), -1);
    assert_int_equal(send_fds(t, vuf_state(t->msg, VU_GET_VRING_BASE, 0, 0, 0), NULL, 0), 0);
    assert_int_equal(snap_get32(t->r.buf + VU_HDR_BYTES + 4), 1);
    assert_int_equal(h.nlate, 0);
    assert_int_equal(snap_get16(used_idx), 1); /* base == used idx */
    assert_true(page_dirty(t, t->used_gpa));   /* and the used ring logged */
    assert_true(page_dirty(t, page_gpa(t, 2)));
    assert_int_equal(blk_complete(t, 3), VIRTIO_BLK_S_OK);
    assert_int_equal(page(t, 2)[4095], 0x5a);
    t->dev.hostile = NULL; /* h is static: nothing may point at it later */
}

/* Packed: the descriptors written back are logged (at their own address),
 * the device event suppression area with the ring flag, data as before. */
static void test_log_packed(void **state)
{
    struct ltfx *t = *state;
    uint64_t d, a, u, gpa[4], len[4];

    t->packed = true;
    backend_new(t, false);
    start(t, true, true);
    vq_get_ring_addrs(t->vq, &d, &a, &u);
    memset(logmap(t), 0, LOG_NEED);
    blk_submit(t, VIRTIO_BLK_T_IN, 0, 4, 512, 6);
    assert_int_equal(blk_complete(t, 6), VIRTIO_BLK_S_OK);
    gpa[0] = page_gpa(t, 4), len[0] = 512;
    gpa[1] = page_gpa(t, 6) + PAGE - 1, len[1] = 1;
    gpa[2] = d, len[2] = 16; /* the used element: descriptor 0 */
    gpa[3] = t->used_gpa, len[3] = t->used_bytes;
    expect_exactly(t, gpa, len, 4);
    assert_true(page_dirty(t, d));
    memset(logmap(t), 0, LOG_NEED);
    blk_submit(t, VIRTIO_BLK_T_OUT, 0, 1, 512, 7);
    assert_int_equal(blk_complete(t, 7), VIRTIO_BLK_S_OK);
    assert_false(page_dirty(t, page_gpa(t, 1)));
    assert_true(page_dirty(t, page_gpa(t, 7)));
    assert_true(page_dirty(t, d + 16 * 3)); /* the second chain's first descriptor */
}

static void test_log_bad_input(void **state)
{
    struct ltfx *t = *state;
    int fd;

    backend_new(t, false);
    /* Before LOG_SHMFD is negotiated: refused (close). */
    fd = vufx_shm_fd_new(&t->vf);
    assert_true(send_fds(t, log_base_msg(t->msg, LOG_NEED, 0), &fd, 1) < 0);
    assert_false(t->vf.open[fd]);
    negotiate(t, true);
    /* Too small for the memory table, zero, offset past the "file",
     * wrapping, a map that fails: each closes the connection. */
    assert_true(set_log_base(t, LOG_NEED - 1, 0) < 0);
    assert_true(set_log_base(t, 0, 0) < 0);
    assert_true(set_log_base(t, LOG_NEED, VUFX_SHM_BYTES) < 0);
    assert_true(set_log_base(t, LOG_NEED, UINT64_MAX - 4) < 0);
    t->vf.fail_map = true;
    assert_true(set_log_base(t, LOG_NEED, 0) < 0);
    t->vf.fail_map = false;
    /* No fd, two fds, a short payload. */
    assert_true(send_fds(t, log_base_msg(t->msg, LOG_NEED, 0), NULL, 0) < 0);
    {
        int fds[2] = {vufx_shm_fd_new(&t->vf), vufx_shm_fd_new(&t->vf)};

        assert_true(send_fds(t, log_base_msg(t->msg, LOG_NEED, 0), fds, 2) < 0);
        assert_false(t->vf.open[fds[0]] || t->vf.open[fds[1]]);
    }
    fd = vufx_shm_fd_new(&t->vf);
    log_base_msg(t->msg, LOG_NEED, 0);
    snap_put32(t->msg + 8, 8);
    assert_true(send_fds(t, VU_HDR_BYTES + 8, &fd, 1) < 0);
    assert_false(t->vf.open[fd]);
    /* The good one, twice (a resize swaps the mapping). */
    assert_int_equal(set_log_base(t, LOG_NEED, 0), 0);
    assert_int_equal(set_log_base(t, LOG_NEED + 64, 64), 0);
    /* SET_LOG_FD: one fd (closed: we never signal it), else EINVAL. */
    fd = vufx_fd_new(&t->vf);
    assert_int_equal(acked(t, vuf_none(t->msg, VU_SET_LOG_FD, 0), &fd, 1), 0);
    assert_false(t->vf.open[fd]);
    assert_int_equal(acked(t, vuf_none(t->msg, VU_SET_LOG_FD, 0), NULL, 0), EINVAL);
    /* Ring flags other than VHOST_VRING_F_LOG. */
    vuf_addr(t->msg, 0, 0, UA_BASE, UA_BASE, UA_BASE);
    snap_put32(t->msg + VU_HDR_BYTES + 4, 2);
    assert_int_equal(acked(t, VU_HDR_BYTES + VU_ADDR_BYTES, NULL, 0), EINVAL);
}

/* A used ring logged at a log_guest_addr past the log: dropped, counted. */
static void test_log_used_past_log(void **state)
{
    struct ltfx *t = *state;
    struct vu_stats st;
    uint8_t *p = t->msg + VU_HDR_BYTES;
    uint64_t d, a, u;
    size_t len;

    backend_new(t, false);
    start(t, true, false);
    vq_get_ring_addrs(t->vq, &d, &a, &u);
    len = vuf_addr(t->msg, 0, 0, ua_of(d), ua_of(u), ua_of(a));
    snap_put32(p + 4, VU_VRING_F_LOG);
    snap_put64(p + 32, (LOG_NEED * 8 + 16) * (uint64_t)PAGE);
    ok(t, len);
    blk_submit(t, VIRTIO_BLK_T_IN, 0, 4, 512, 6);
    assert_int_equal(blk_complete(t, 6), VIRTIO_BLK_S_OK);
    vu_get_stats(t->b, &st);
    assert_true(st.log_dropped > 0);
    assert_true(page_dirty(t, page_gpa(t, 4)));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_log_exact_pages, setup, teardown),
        cmocka_unit_test_setup_teardown(test_log_follows_features_and_ring_flag, setup, teardown),
        cmocka_unit_test_setup_teardown(test_log_async_and_drain, setup, teardown),
        cmocka_unit_test_setup_teardown(test_log_held_completions_used_before_base, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_log_packed, setup, teardown),
        cmocka_unit_test_setup_teardown(test_log_bad_input, setup, teardown),
        cmocka_unit_test_setup_teardown(test_log_used_past_log, setup, teardown),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
