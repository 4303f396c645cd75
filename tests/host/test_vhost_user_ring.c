/* SPDX-License-Identifier: Apache-2.0 */
/*
 * test_vhost_user_ring.c - more cmocka tests of the vhost-user request
 * handler through the fake carrier, with the frontend helpers of vu_tfx.c
 * (see test_vhost_user.c for the set-up): a ring the frontend corrupts
 * while it runs (err fd, restart), blk requests with data on the wrong
 * side, blk over a storage backend (what the daemon uses), the rng model
 * behind the same handler, and the device state (SET_DEVICE_STATE_FD /
 * CHECK_DEVICE_STATE) into a new backend.
 *
 * TEST_FILTER='test_state_*' runs only the matching cases.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "virtio_platform.h"
#include "vu_tfx.h"

/* ---- a ring the frontend corrupts while it runs ---- */

/* The frontend's avail->idx of vq, in guest memory. */
static uint8_t *avail_idx_of(struct tfx *t, struct virtqueue *vq)
{
    uint64_t d, a, u;

    vq_get_ring_addrs(vq, &d, &a, &u);
    return t->fx.arena + (a - FX_GPA_BASE) + 2;
}

/* One blk request on ring `ring` (driver side vq), kicked: its status. */
static int blk_io_ring(struct tfx *t, struct virtqueue *vq, unsigned ring, uint32_t type,
                       uint64_t sector, uint32_t len)
{
    struct virtqueue *keep = t->vq;
    int st;

    t->vq = vq;
    vt_blk_submit(t, type, sector, len);
    vu_kick(t->b, ring);
    st = vt_blk_complete(t);
    t->vq = keep;
    return st;
}

static void blk_rw_ring(struct tfx *t, struct virtqueue *vq, unsigned ring, uint64_t sector,
                        uint8_t seed)
{
    memset(t->data, seed, 512);
    assert_int_equal(blk_io_ring(t, vq, ring, VIRTIO_BLK_T_OUT, sector, 512), VIRTIO_BLK_S_OK);
    assert_int_equal(t->disk[sector * 512 + 511], seed);
    memset(t->data, 0, 512);
    assert_int_equal(blk_io_ring(t, vq, ring, VIRTIO_BLK_T_IN, sector, 512), VIRTIO_BLK_S_OK);
    assert_int_equal(t->data[0], seed);
}

/* A two-queue blk (VIRTIO_BLK_F_MQ) behind a new backend, both rings
 * started and enabled on t->vq and *vq1, each with an err fd. */
static void start_two_rings_calls(struct tfx *t, struct virtqueue **vq1, int err[2], int call[2]);

static void start_two_rings(struct tfx *t, struct virtqueue **vq1, int err[2])
{
    start_two_rings_calls(t, vq1, err, NULL);
}

/* The same, with ring i's call fd in call[i] (call may be NULL). */
static void start_two_rings_calls(struct tfx *t, struct virtqueue **vq1, int err[2], int call[2])
{
    struct vq_config cfg = {.num = QNUM};
    unsigned i;

    vt_backend_free(t);
    assert_int_equal(vu_create(&vufx_ops, &t->vf, &t->b), 0);
    assert_int_equal(vdev_blk_create(&t->dev, vu_guest_mem(t->b), t->disk, DISK_BYTES, NULL), 0);
    assert_int_equal(vdev_blk_set_num_queues(&t->dev, 2), 0);
    assert_int_equal(vu_attach(t->b, &t->dev), 0);
    vt_negotiate(t, true);
    assert_int_equal(vt_get_u64(t, VU_GET_QUEUE_NUM), 2);
    vt_driver_vq_new(t);
    cfg.event_idx = (t->features >> VIRTIO_F_EVENT_IDX) & 1;
    cfg.indirect = (t->features >> VIRTIO_F_INDIRECT_DESC) & 1;
    assert_int_equal(vq_create(&cfg, vq1), 0);
    for (i = 0; i < 2; i++) {
        err[i] = vt_fd_new(t);
        assert_int_equal(vt_acked(t, vuf_u64(t->msg, VU_SET_VRING_ERR, 0, i), &err[i], 1), 0);
        vt_ring_setup_on(t, i, i ? *vq1 : t->vq, 0, NULL, call ? &call[i] : NULL);
        vt_ok(t, vuf_state(t->msg, VU_SET_VRING_ENABLE, 0, i, 1));
    }
    assert_true(vu_is_running(t->b));
}

/* Stop ring idx and start it again where GET_VRING_BASE said (vhost-user.rst
 * "Starting and stopping rings"); returns that base. */
static uint32_t ring_restart(struct tfx *t, unsigned idx, struct virtqueue *vq)
{
    uint64_t d, a, u;
    uint32_t base = vt_vring_base(t, idx);
    int kick = vt_fd_new(t);

    /* The other ring (every caller has two, both active) runs on alone. */
    assert_true(vu_is_running(t->b));
    vq_get_ring_addrs(vq, &d, &a, &u);
    vt_ok(t, vuf_state(t->msg, VU_SET_VRING_BASE, 0, idx, base));
    vt_ok(t, vuf_addr(t->msg, 0, idx, vt_ua_of(t, d), vt_ua_of(t, u), vt_ua_of(t, a)));
    assert_int_equal(vt_acked(t, vuf_u64(t->msg, VU_SET_VRING_KICK, 0, idx), &kick, 1), 0);
    assert_true(vu_is_running(t->b));
    return base;
}

/* vhost-user.rst SET_VRING_CALL: one call fd per ring. A completion on
 * one ring signals that ring's fd, not every ring's (the other ring's
 * driver would see an interrupt with nothing used). */
static void test_completion_signals_its_own_ring(void **state)
{
    struct tfx *t = *state;
    struct virtqueue *vq1 = NULL;
    int err[2], call[2], c0, c1;

    start_two_rings_calls(t, &vq1, err, call);
    c0 = t->vf.signals[call[0]];
    c1 = t->vf.signals[call[1]];
    blk_rw_ring(t, vq1, 1, 4, 0x41);
    assert_int_equal(t->vf.signals[call[0]], c0);
    assert_true(t->vf.signals[call[1]] > c1);
    c1 = t->vf.signals[call[1]];
    blk_rw_ring(t, t->vq, 0, 3, 0x31);
    assert_true(t->vf.signals[call[0]] > c0);
    assert_int_equal(t->vf.signals[call[1]], c1);
    vq_destroy(vq1);
}

static void test_broken_ring_signals_err_fd_and_restarts(void **state)
{
    struct tfx *t = *state;
    struct virtqueue *vq1 = NULL;
    struct vu_stats st;
    uint8_t *idx, saved[2];
    int err[2];

    start_two_rings(t, &vq1, err);
    blk_rw_ring(t, t->vq, 0, 3, 0x31);
    blk_rw_ring(t, vq1, 1, 4, 0x41);
    assert_int_equal(t->vf.signals[err[0]], 0);
    /* The frontend's avail->idx of ring 0 jumps more than the ring size
     * ahead: ring 0 is broken, its err fd told once, ring 1 unaffected. */
    idx = avail_idx_of(t, t->vq);
    memcpy(saved, idx, 2);
    snap_put16(idx, (uint16_t)(snap_get16(saved) + QNUM + 1));
    vu_kick(t->b, 0);
    assert_int_equal(t->vf.signals[err[0]], 1);
    assert_int_equal(t->vf.signals[err[1]], 0);
    vu_kick(t->b, 0);
    vu_kick(t->b, 0);
    assert_int_equal(t->vf.signals[err[0]], 1); /* once, not per kick */
    vu_get_stats(t->b, &st);
    assert_int_equal(st.ring_errors, 1);
    assert_true(vu_is_running(t->b)); /* the connection and ring 1 go on */
    blk_rw_ring(t, vq1, 1, 5, 0x51);
    assert_int_equal(t->vf.signals[err[1]], 0);
    /* The frontend repairs the ring and restarts it: served again. */
    memcpy(idx, saved, 2);
    assert_int_equal(ring_restart(t, 0, t->vq), 2);
    blk_rw_ring(t, t->vq, 0, 6, 0x61);
    blk_rw_ring(t, vq1, 1, 7, 0x71);
    /* The broken state was cleared: a second corruption is told again. */
    memcpy(saved, idx, 2);
    snap_put16(idx, (uint16_t)(snap_get16(saved) - 1)); /* backwards */
    vu_kick(t->b, 0);
    assert_int_equal(t->vf.signals[err[0]], 2);
    blk_rw_ring(t, vq1, 1, 8, 0x81);
    memcpy(idx, saved, 2);
    ring_restart(t, 0, t->vq);
    blk_rw_ring(t, t->vq, 0, 9, 0x91);
    vq_destroy(vq1);
}

static void test_head_out_of_range_breaks_ring(void **state)
{
    struct tfx *t = *state;
    struct virtqueue *vq1 = NULL;
    uint64_t d, a, u;
    uint8_t *avail;
    uint16_t next;
    int err[2];

    start_two_rings(t, &vq1, err);
    blk_rw_ring(t, vq1, 1, 2, 0x22);
    /* Ring 1: one more entry published whose head is outside the table. */
    vq_get_ring_addrs(vq1, &d, &a, &u);
    avail = t->fx.arena + (a - FX_GPA_BASE);
    next = snap_get16(avail + 2);
    snap_put16(avail + 4 + 2 * (next % QNUM), QNUM + 7);
    snap_put16(avail + 2, (uint16_t)(next + 1));
    vu_kick(t->b, 1);
    assert_int_equal(t->vf.signals[err[1]], 1);
    assert_int_equal(t->vf.signals[err[0]], 0);
    blk_rw_ring(t, t->vq, 0, 3, 0x33); /* ring 0 goes on */
    /* The frontend withdraws the bad entry and restarts ring 1 at the base
     * it is given (the entry was never consumed): it serves again. */
    snap_put16(avail + 2, next);
    ring_restart(t, 1, vq1);
    blk_rw_ring(t, vq1, 1, 4, 0x44);
    vq_destroy(vq1);
}

/* One blk request on ring 0 whose data (len bytes) is device-writable or
 * device-readable as asked, whatever the type says: its status. */
static int blk_io_dir(struct tfx *t, uint32_t type, uint64_t sector, uint32_t len,
                      bool data_writable)
{
    struct vq_sg sg[3] = {
        {.buf = t->hdr, .len = 16}, {.buf = t->data, .len = len}, {.buf = t->status, .len = 1}};
    unsigned out = data_writable ? 1 : 2;

    snap_put32(t->hdr, type);
    snap_put32(t->hdr + 4, 0);
    snap_put64(t->hdr + 8, sector);
    *t->status = 0xee;
    assert_int_equal(vq_add_sgs(t->vq, sg, out, 3 - out, t), 0);
    vq_kick_prepare(t->vq);
    vu_kick(t->b, 0);
    return vt_blk_complete(t);
}

/* virtio 1.2 5.2.6: IN data is device-writable, OUT data device-readable;
 * the other way round the request fails, nothing moved, counted as bad. */
static void test_blk_wrong_direction_through_vhost_user(void **state)
{
    struct tfx *t = *state;
    unsigned i;

    vt_start(t, NULL);
    vt_blk_write_pattern(t, 2, 0x12);
    memset(t->data, 0x77, 512);
    assert_int_equal(blk_io_dir(t, VIRTIO_BLK_T_IN, 2, 512, false), VIRTIO_BLK_S_IOERR);
    for (i = 0; i < 512; i++)
        assert_int_equal(t->data[i], 0x77);
    memset(t->data, 0x99, 512);
    assert_int_equal(blk_io_dir(t, VIRTIO_BLK_T_OUT, 2, 512, true), VIRTIO_BLK_S_IOERR);
    for (i = 0; i < 512; i++)
        assert_int_equal(t->disk[2 * 512 + i], 0x12);
    assert_true(t->dev.queues[0].stats.bad_chains == 2);
    vt_blk_check_pattern(t, 2, 0x12); /* the ring goes on */
}

/* ---- blk over a storage backend (what the daemon uses) ---- */

static int be_fail; /* -errno the next calls return, 0: work */
static int be_flushes;

static int be_read(void *ctx, uint64_t pos, void *buf, uint32_t len)
{
    struct tfx *t = ctx;

    if (be_fail)
        return be_fail;
    memcpy(buf, t->disk + pos, len);
    return 0;
}

static int be_write(void *ctx, uint64_t pos, const void *buf, uint32_t len)
{
    struct tfx *t = ctx;

    if (be_fail)
        return be_fail;
    memcpy(t->disk + pos, buf, len);
    return 0;
}

static int be_flush(void *ctx)
{
    (void)ctx;
    be_flushes++;
    return be_fail;
}

static void test_blk_backend_through_vhost_user(void **state)
{
    struct tfx *t = *state;
    struct vdev_blk_backend be = {.read = be_read, .write = be_write, .flush = be_flush, .ctx = t};

    vt_backend_free(t);
    assert_int_equal(vu_create(&vufx_ops, &t->vf, &t->b), 0);
    assert_int_equal(vdev_blk_create_backend(&t->dev, vu_guest_mem(t->b), DISK_BYTES, NULL, NULL),
                     -EINVAL);
    assert_int_equal(vdev_blk_create_backend(&t->dev, vu_guest_mem(t->b), DISK_BYTES, &be, NULL),
                     0);
    assert_int_equal(vu_attach(t->b, &t->dev), 0);
    vt_start(t, NULL);
    be_fail = 0;
    be_flushes = 0;
    vt_blk_write_pattern(t, 9, 0x99); /* checks the bytes reached t->disk */
    vt_blk_check_pattern(t, 9, 0x99);
    assert_int_equal(vt_blk_io(t, VIRTIO_BLK_T_FLUSH, 0, 0), VIRTIO_BLK_S_OK);
    assert_int_equal(be_flushes, 1);
    /* The store fails: every kind of request says IOERR, the queue goes on. */
    be_fail = -EIO;
    assert_int_equal(vt_blk_io(t, VIRTIO_BLK_T_IN, 9, 512), VIRTIO_BLK_S_IOERR);
    assert_int_equal(vt_blk_io(t, VIRTIO_BLK_T_OUT, 9, 512), VIRTIO_BLK_S_IOERR);
    assert_int_equal(vt_blk_io(t, VIRTIO_BLK_T_FLUSH, 0, 0), VIRTIO_BLK_S_IOERR);
    be_fail = 0;
    vt_blk_check_pattern(t, 9, 0x99);
    /* A snapshot of it carries no disk bytes but saves and checks. */
    vt_vring_base(t, 0);
    {
        int fd = vt_fd_new(t);

        assert_int_equal(vt_send_fds(t, vuf_device_state(t->msg, 0, VU_STATE_SAVE), &fd, 1), 0);
        assert_int_equal(vt_get_u64(t, VU_CHECK_DEVICE_STATE), 0);
    }
}

/* ---- another model behind the same handler ---- */

/* splitmix64 as vdev_models.h specifies it. */
static void rng_ref(uint64_t s, uint8_t *out, size_t len)
{
    size_t i;

    for (i = 0; i < len; i += 8) {
        uint64_t z;
        unsigned k;

        s += 0x9e3779b97f4a7c15ull;
        z = s;
        z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
        z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
        z ^= z >> 31;
        for (k = 0; k < 8 && i + k < len; k++)
            out[i + k] = (uint8_t)(z >> (8 * k));
    }
}

static void test_rng_model_through_vhost_user(void **state)
{
    struct tfx *t = *state;
    uint8_t want[96];
    struct vq_sg sg = {.buf = t->data, .len = 64};
    void *tok;
    uint32_t len;

    vt_backend_free(t);
    assert_int_equal(vu_create(&vufx_ops, &t->vf, &t->b), 0);
    assert_int_equal(vdev_rng_create(&t->dev, vu_guest_mem(t->b), 42), 0);
    assert_int_equal(vu_attach(t->b, &t->dev), 0);
    vt_start(t, NULL);
    rng_ref(42, want, sizeof(want));
    assert_int_equal(vq_add_sgs(t->vq, &sg, 0, 1, t), 0);
    vq_kick_prepare(t->vq);
    assert_int_equal(vu_kick(t->b, 0), 1);
    assert_int_equal(vq_get_buf(t->vq, &tok, &len), 0);
    assert_int_equal(len, 64);
    assert_memory_equal(t->data, want, 64);
    /* The stream goes on across a stop and restart of the ring. */
    assert_int_equal(vt_vring_base(t, 0), 1);
    sg.len = 32;
    assert_int_equal(vq_add_sgs(t->vq, &sg, 0, 1, t), 0);
    vq_kick_prepare(t->vq);
    {
        int kick = vt_fd_new(t);

        vt_ok(t, vuf_state(t->msg, VU_SET_VRING_BASE, 0, 0, 1));
        assert_int_equal(vt_acked(t, vuf_u64(t->msg, VU_SET_VRING_KICK, 0, 0), &kick, 1), 0);
    }
    assert_int_equal(vq_get_buf(t->vq, &tok, &len), 0);
    assert_memory_equal(t->data, want + 64, 32);
}

/* ---- device state ---- */

static void state_cycle_prepare(struct tfx *t)
{
    int i;

    vt_start(t, NULL);
    for (i = 0; i < 20; i++)
        vt_blk_write_pattern(t, (uint64_t)i, (uint8_t)(0x80 + i));
}

static void test_state_save_restore_new_backend(void **state)
{
    struct tfx *t = *state;
    uint32_t base;
    int fd, kick, i;

    state_cycle_prepare(t);
    base = vt_vring_base(t, 0);
    assert_int_equal(base, 20);
    /* Requests the driver makes while the device is away. */
    vt_blk_submit(t, VIRTIO_BLK_T_IN, 19, 512);
    fd = vt_fd_new(t);
    assert_int_equal(vt_send_fds(t, vuf_device_state(t->msg, 0, VU_STATE_SAVE), &fd, 1), 0);
    assert_int_equal(vuf_reply_u64(&t->r), VU_VRING_NOFD);
    assert_int_equal(vt_get_u64(t, VU_CHECK_DEVICE_STATE), 0);
    assert_true(t->vf.state_len > 0);
    assert_memory_equal(t->vf.state, "RLSNAP\r\n", 8);

    /* A new backend and device instance over the same disk and memory. */
    vt_backend_free(t);
    memset(&t->dev, 0, sizeof(t->dev));
    vt_backend_new(t);
    vt_negotiate(t, true);
    fd = vt_fd_new(t);
    assert_int_equal(vt_send_fds(t, vuf_device_state(t->msg, 0, VU_STATE_LOAD), &fd, 1), 0);
    assert_int_equal(vuf_reply_u64(&t->r), VU_VRING_NOFD);
    assert_int_equal(vt_get_u64(t, VU_CHECK_DEVICE_STATE), 0);
    assert_true(t->dev.activated);
    vt_ring_setup(t, (uint16_t)base, &kick, NULL);
    vt_enable(t, 1);
    assert_true(vu_is_running(t->b));
    /* The request made while away is served once, with the right data. */
    assert_int_equal(vt_blk_complete(t), VIRTIO_BLK_S_OK);
    assert_int_equal(t->data[0], 0x80 + 19);
    assert_int_equal(vt_blk_complete(t), -1);
    for (i = 0; i < 20; i++)
        vt_blk_check_pattern(t, (uint64_t)i, (uint8_t)(0x80 + i));
    assert_int_equal(vt_vring_base(t, 0), 41);
}

static void test_state_errors(void **state)
{
    struct tfx *t = *state;
    int fd;

    state_cycle_prepare(t);
    /* Rings running: refused, the fd closed. */
    fd = vt_fd_new(t);
    assert_int_equal(vt_send_fds(t, vuf_device_state(t->msg, 0, VU_STATE_SAVE), &fd, 1), 0);
    assert_int_equal(vuf_reply_u64(&t->r), VU_VRING_NOFD | 1);
    assert_false(t->vf.open[fd]);
    vt_vring_base(t, 0);
    /* CHECK without a transfer. */
    assert_int_not_equal(vt_get_u64(t, VU_CHECK_DEVICE_STATE), 0);
    /* Bad phase / direction / fd count. */
    fd = vt_fd_new(t);
    vuf_device_state(t->msg, 0, 2);
    assert_int_equal(vt_send_fds(t, VU_HDR_BYTES + 8, &fd, 1), 0);
    assert_int_equal(vuf_reply_u64(&t->r), VU_VRING_NOFD | 1);
    fd = vt_fd_new(t);
    vuf_device_state(t->msg, 0, VU_STATE_SAVE);
    snap_put32(t->msg + VU_HDR_BYTES + 4, 1);
    assert_int_equal(vt_send_fds(t, VU_HDR_BYTES + 8, &fd, 1), 0);
    assert_int_equal(vuf_reply_u64(&t->r), VU_VRING_NOFD | 1);
    assert_int_equal(vt_send(t, vuf_device_state(t->msg, 0, VU_STATE_SAVE)), 0);
    assert_int_equal(vuf_reply_u64(&t->r), VU_VRING_NOFD | 1);
    /* A good save, then a corrupted copy is refused on load and the device
     * is left as it was. */
    fd = vt_fd_new(t);
    assert_int_equal(vt_send_fds(t, vuf_device_state(t->msg, 0, VU_STATE_SAVE), &fd, 1), 0);
    assert_int_equal(vt_get_u64(t, VU_CHECK_DEVICE_STATE), 0);
    t->vf.state[30] ^= 0x10;
    fd = vt_fd_new(t);
    assert_int_equal(vt_send_fds(t, vuf_device_state(t->msg, 0, VU_STATE_LOAD), &fd, 1), 0);
    assert_int_not_equal(vt_get_u64(t, VU_CHECK_DEVICE_STATE), 0);
    assert_true(t->dev.activated);
    /* An empty one too. */
    t->vf.state_len = 0;
    fd = vt_fd_new(t);
    assert_int_equal(vt_send_fds(t, vuf_device_state(t->msg, 0, VU_STATE_LOAD), &fd, 1), 0);
    assert_int_not_equal(vt_get_u64(t, VU_CHECK_DEVICE_STATE), 0);
    /* LOAD with an fd never collected, then destroy: the fd is closed. */
    fd = vt_fd_new(t);
    assert_int_equal(vt_send_fds(t, vuf_device_state(t->msg, 0, VU_STATE_LOAD), &fd, 1), 0);
}

static void test_reset_owner(void **state)
{
    struct tfx *t = *state;

    vt_start(t, NULL);
    vt_ok(t, vuf_none(t->msg, VU_RESET_OWNER, 0));
    assert_false(vu_is_running(t->b));
    assert_int_equal(vt_acked(t, vuf_state(t->msg, VU_SET_VRING_NUM, 0, 0, 64), NULL, 0), EPROTO);
    vt_ok(t, vuf_none(t->msg, VU_SET_OWNER, 0));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
#define T(fn) cmocka_unit_test_setup_teardown(fn, vt_setup, vt_teardown)
        T(test_completion_signals_its_own_ring),
        T(test_broken_ring_signals_err_fd_and_restarts),
        T(test_head_out_of_range_breaks_ring),
        T(test_blk_wrong_direction_through_vhost_user),
        T(test_blk_backend_through_vhost_user),
        T(test_rng_model_through_vhost_user),
        T(test_state_save_restore_new_backend),
        T(test_state_errors),
        T(test_reset_owner),
#undef T
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
