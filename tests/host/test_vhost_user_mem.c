/* SPDX-License-Identifier: Apache-2.0 */
/*
 * test_vhost_user_mem.c - cmocka tests of the vhost-user handler's memory
 * slots (CONFIGURE_MEM_SLOTS: GET_MAX_MEM_SLOTS, ADD_MEM_REG, REM_MEM_REG),
 * its multiqueue ring sets (the device runs with the rings that are
 * started, whatever GET_QUEUE_NUM offered) and the back-end request channel
 * (SET_BACKEND_REQ_FD), through the fake carrier of vu_fixture.c. Split
 * from test_vhost_user.c (which holds the older messages) by size.
 *
 * Guest memory: the ring fixture's 4 MiB arena seen as two regions, the
 * low half from the start (SET_MEM_TABLE or ADD_MEM_REG) and the high half
 * added later, as a hot-plugged DIMM would be; request buffers placed in
 * the high half prove the device translates through the added region.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "ring_fixture.h"
#include "vdev_models.h"
#include "vhost_user.h"
#include "vhost_user_front.h"
#include "virtio_platform.h"
#include "vu_fixture.h"

#define UA_BASE 0x7f3400000000ull
#define HALF (FX_ARENA_SIZE / 2)
#define DISK_BYTES (256 * 512)
#define QNUM 64

struct mfx {
    struct ring_fixture fx;
    struct vu_backend *b;
    struct vdev dev;
    uint8_t *disk;
    struct virtqueue *vq[2];
    struct vu_reply r;
    uint8_t msg[VU_MAX_MSG];
    struct vu_fake vf;
    uint8_t *hdr, *data, *status; /* low half */
    uint8_t *hi;                  /* 3 KiB of request buffers in the high half */
    uint64_t features;
};

static struct mfx M;

static void carrier_broken(const char *what, int fd)
{
    fail_msg("the handler %s (fd %d)", what, fd);
}

static int fd_new(struct mfx *t)
{
    int fd = vufx_fd_new(&t->vf);

    assert_true(fd > 0);
    return fd;
}

static void backend_new(struct mfx *t, unsigned nq)
{
    assert_int_equal(vu_create(&vufx_ops, &t->vf, &t->b), 0);
    assert_int_equal(vdev_blk_create(&t->dev, vu_guest_mem(t->b), t->disk, DISK_BYTES, NULL), 0);
    if (nq > 1)
        assert_int_equal(vdev_blk_set_num_queues(&t->dev, nq), 0);
    assert_int_equal(vu_attach(t->b, &t->dev), 0);
}

static int setup(void **state)
{
    struct mfx *t = &M;
    uint8_t *pad;

    memset(t, 0, sizeof(*t));
    fx_arena_init(&t->fx);
    vufx_init(&t->vf, t->fx.arena, FX_ARENA_SIZE, 10, carrier_broken);
    t->disk = calloc(1, DISK_BYTES);
    assert_non_null(t->disk);
    t->hdr = fx_alloc(&t->fx, 16, NULL);
    t->data = fx_alloc(&t->fx, 512, NULL);
    t->status = fx_alloc(&t->fx, 1, NULL);
    /* The driver rings (guest memory from the arena too; negotiate() acks
     * every feature the blk model offers: EVENT_IDX and INDIRECT_DESC). */
    for (unsigned i = 0; i < 2; i++) {
        struct vq_config cfg = {.num = QNUM, .event_idx = true, .indirect = true};

        assert_int_equal(vq_create(&cfg, &t->vq[i]), 0);
    }
    /* Everything else in the low half, then buffers in the high half. */
    pad = fx_alloc(&t->fx, HALF - (size_t)(t->status + 1 - t->fx.arena) + 64, NULL);
    assert_non_null(pad);
    t->hi = fx_alloc(&t->fx, 3072, NULL);
    assert_true(t->hi >= t->fx.arena + HALF);
    backend_new(t, 2);
    *state = t;
    return 0;
}

static int teardown(void **state)
{
    struct mfx *t = *state;
    int fd;

    vu_destroy(t->b);
    vdev_destroy(&t->dev);
    fd = vufx_first_open(&t->vf);
    if (fd >= 0)
        fail_msg("fd %d never closed", fd);
    for (unsigned i = 0; i < 2; i++)
        if (t->vq[i])
            vq_destroy(t->vq[i]);
    free(t->disk);
    fx_teardown(&t->fx);
    return 0;
}

static int send_fds(struct mfx *t, size_t len, const int *fds, unsigned nfds)
{
    return vu_handle_msg(t->b, t->msg, len, fds, nfds, &t->r);
}

static uint64_t get_u64(struct mfx *t, uint32_t req)
{
    assert_int_equal(send_fds(t, vuf_none(t->msg, req, 0), NULL, 0), 0);
    assert_int_equal(t->r.len, VU_HDR_BYTES + 8);
    return vuf_reply_u64(&t->r);
}

static uint64_t acked(struct mfx *t, size_t len, const int *fds, unsigned nfds)
{
    snap_put32(t->msg + 4, snap_get32(t->msg + 4) | VU_FLAG_NEED_REPLY);
    assert_int_equal(send_fds(t, len, fds, nfds), 0);
    assert_int_equal(t->r.len, VU_HDR_BYTES + 8);
    return vuf_reply_u64(&t->r);
}

static void ok(struct mfx *t, size_t len)
{
    assert_int_equal(acked(t, len, NULL, 0), 0);
}

static struct vuf_region half(unsigned h)
{
    return (struct vuf_region){.gpa = FX_GPA_BASE + (uint64_t)h * HALF,
                               .size = HALF,
                               .uaddr = UA_BASE + (uint64_t)h * HALF,
                               .mmap_offset = (uint64_t)h * HALF};
}

/* ADD_MEM_REG of rg with one new fd: the ack. */
static uint64_t add_reg(struct mfx *t, struct vuf_region rg)
{
    int fd = fd_new(t);

    return acked(t, vuf_mem_reg(t->msg, VU_ADD_MEM_REG, 0, &rg), &fd, 1);
}

static uint64_t rem_reg(struct mfx *t, struct vuf_region rg)
{
    return acked(t, vuf_mem_reg(t->msg, VU_REM_MEM_REG, 0, &rg), NULL, 0);
}

/* Protocol features as offered (CONFIGURE_MEM_SLOTS among them), owner,
 * features; the low half added as the first memory slot. */
static void negotiate(struct mfx *t)
{
    uint64_t pf = get_u64(t, VU_GET_PROTOCOL_FEATURES);

    assert_true(pf & (1ull << VU_PF_CONFIGURE_MEM_SLOTS));
    assert_int_equal(send_fds(t, vuf_u64(t->msg, VU_SET_PROTOCOL_FEATURES, 0, pf), NULL, 0), 0);
    assert_int_equal(get_u64(t, VU_GET_MAX_MEM_SLOTS), VU_MAX_MEM_SLOTS);
    ok(t, vuf_none(t->msg, VU_SET_OWNER, 0));
    t->features = get_u64(t, VU_GET_FEATURES);
    assert_true((t->features >> VIRTIO_F_EVENT_IDX) & 1);
    assert_true((t->features >> VIRTIO_F_INDIRECT_DESC) & 1);
    ok(t, vuf_u64(t->msg, VU_SET_FEATURES, 0, t->features));
    assert_int_equal(add_reg(t, half(0)), 0);
}

/* Ring idx on its driver vq (in the low half), started and enabled. */
static void ring_start(struct mfx *t, unsigned idx)
{
    uint64_t d, a, u;
    int k = fd_new(t), c = fd_new(t);

    vq_get_ring_addrs(t->vq[idx], &d, &a, &u);
    ok(t, vuf_state(t->msg, VU_SET_VRING_NUM, 0, idx, QNUM));
    ok(t, vuf_state(t->msg, VU_SET_VRING_BASE, 0, idx, 0));
    ok(t, vuf_addr(t->msg, 0, idx, UA_BASE + (d - FX_GPA_BASE), UA_BASE + (u - FX_GPA_BASE),
                   UA_BASE + (a - FX_GPA_BASE)));
    assert_int_equal(acked(t, vuf_u64(t->msg, VU_SET_VRING_CALL, 0, idx), &c, 1), 0);
    assert_int_equal(acked(t, vuf_u64(t->msg, VU_SET_VRING_KICK, 0, idx), &k, 1), 0);
    ok(t, vuf_state(t->msg, VU_SET_VRING_ENABLE, 0, idx, 1));
}

/* One 512-byte blk request on ring idx with buffers at hdr/data/status:
 * the status byte, or -1 when it did not complete. */
static int blk_io_at(struct mfx *t, unsigned idx, uint8_t *hdr, uint8_t *data, uint8_t *status,
                     uint32_t type, uint64_t sector)
{
    struct vq_sg sg[3] = {{.buf = hdr, .len = 16}, {.buf = data, .len = 512}, {.buf = status, .len = 1}};
    void *tok;
    uint32_t len;

    snap_put32(hdr, type);
    snap_put32(hdr + 4, 0);
    snap_put64(hdr + 8, sector);
    *status = 0xee;
    if (type == VIRTIO_BLK_T_OUT)
        assert_int_equal(vq_add_sgs(t->vq[idx], sg, 2, 1, t), 0);
    else
        assert_int_equal(vq_add_sgs(t->vq[idx], sg, 1, 2, t), 0);
    vq_kick_prepare(t->vq[idx]);
    vu_kick(t->b, idx);
    if (vq_get_buf(t->vq[idx], &tok, &len) != 0)
        return -1;
    return *status;
}

/* Write then read back one sector on ring idx through buffers at base. */
static void rw_at(struct mfx *t, unsigned idx, uint8_t *base, uint64_t sector, uint8_t seed)
{
    uint8_t *hdr = base, *data = base + 1024, *status = base + 2048;

    memset(data, seed, 512);
    assert_int_equal(blk_io_at(t, idx, hdr, data, status, VIRTIO_BLK_T_OUT, sector),
                     VIRTIO_BLK_S_OK);
    assert_int_equal(t->disk[sector * 512 + 511], seed);
    memset(data, 0, 512);
    assert_int_equal(blk_io_at(t, idx, hdr, data, status, VIRTIO_BLK_T_IN, sector),
                     VIRTIO_BLK_S_OK);
    assert_int_equal(data[0], seed);
}

static void rw_low(struct mfx *t, unsigned idx, uint64_t sector, uint8_t seed)
{
    memset(t->data, seed, 512);
    assert_int_equal(blk_io_at(t, idx, t->hdr, t->data, t->status, VIRTIO_BLK_T_OUT, sector),
                     VIRTIO_BLK_S_OK);
    assert_int_equal(t->disk[sector * 512], seed);
}

/* ---- multiqueue: the rings that are started ---- */

/* Two rings offered, the frontend starts one (QEMU with a guest driver
 * that sets up queue 0 only): it runs; starting the second re-activates
 * with both; stopping the first leaves the second running. */
static void test_rings_never_started_do_not_block(void **state)
{
    struct mfx *t = *state;
    uint32_t base;

    negotiate(t);
    assert_int_equal(get_u64(t, VU_GET_QUEUE_NUM), 2);
    ring_start(t, 0);
    assert_true(vu_is_running(t->b));
    rw_low(t, 0, 1, 0x11);
    /* Enabling a ring never started changes nothing. */
    ok(t, vuf_state(t->msg, VU_SET_VRING_ENABLE, 0, 1, 1));
    assert_true(vu_is_running(t->b));
    rw_low(t, 0, 2, 0x22);
    ring_start(t, 1);
    rw_low(t, 0, 3, 0x33); /* ring 0 resumed where it was */
    rw_low(t, 1, 4, 0x44);
    assert_int_equal(send_fds(t, vuf_state(t->msg, VU_GET_VRING_BASE, 0, 0, 0), NULL, 0), 0);
    base = snap_get32(t->r.buf + VU_HDR_BYTES + 4);
    assert_int_equal(base, 3); /* three requests taken from ring 0 */
    assert_true(vu_is_running(t->b));
    rw_low(t, 1, 5, 0x55);
    assert_int_equal(send_fds(t, vuf_state(t->msg, VU_GET_VRING_BASE, 0, 1, 0), NULL, 0), 0);
    assert_int_equal(snap_get32(t->r.buf + VU_HDR_BYTES + 4), 2);
    assert_false(vu_is_running(t->b)); /* every ring stopped: suspended */
}

/* ---- memory slots ---- */

static void test_add_mem_reg_while_running(void **state)
{
    struct mfx *t = *state;

    negotiate(t);
    ring_start(t, 0);
    rw_low(t, 0, 1, 0x10);
    /* Buffers in the high half: not guest memory yet, the request fails
     * as a bad chain (its status byte is never written). */
    memset(t->hi + 1024, 0x99, 512);
    assert_int_not_equal(blk_io_at(t, 0, t->hi, t->hi + 1024, t->hi + 2048, VIRTIO_BLK_T_OUT, 9),
                         VIRTIO_BLK_S_OK);
    assert_int_equal(t->disk[9 * 512], 0);
    /* Hot-plugged: the device runs on and uses it. */
    assert_int_equal(add_reg(t, half(1)), 0);
    assert_true(vu_is_running(t->b));
    rw_at(t, 0, t->hi, 10, 0xa1);
    rw_low(t, 0, 11, 0xb2);
    /* Unplugged again (the rings live in the low half): runs on. */
    assert_int_equal(rem_reg(t, half(1)), 0);
    assert_true(vu_is_running(t->b));
    rw_low(t, 0, 12, 0xc3);
}

/* REM_MEM_REG of the memory the rings live in parks the device; the
 * ADD_MEM_REG that brings it back wakes it where it was. */
static void test_rem_ring_memory_parks_until_added(void **state)
{
    struct mfx *t = *state;

    negotiate(t);
    assert_int_equal(add_reg(t, half(1)), 0);
    ring_start(t, 0);
    rw_at(t, 0, t->hi, 20, 0x20);
    assert_int_equal(rem_reg(t, half(0)), 0);
    assert_false(vu_is_running(t->b));
    assert_int_equal(add_reg(t, half(0)), 0);
    assert_true(vu_is_running(t->b));
    rw_at(t, 0, t->hi, 21, 0x21);
    rw_low(t, 0, 22, 0x22);
}

static void test_mem_reg_bad_input(void **state)
{
    struct mfx *t = *state;
    struct vuf_region rg;
    int fds[2];
    unsigned i;

    /* Before the protocol feature: GET_MAX_MEM_SLOTS (a reply of its own)
     * closes; ADD_MEM_REG is refused, its fd closed. */
    assert_int_equal(send_fds(t, vuf_u64(t->msg, VU_SET_PROTOCOL_FEATURES, 0,
                                         1ull << VU_PF_REPLY_ACK),
                              NULL, 0),
                     0);
    ok(t, vuf_none(t->msg, VU_SET_OWNER, 0));
    assert_true(send_fds(t, vuf_none(t->msg, VU_GET_MAX_MEM_SLOTS, 0), NULL, 0) < 0);
    assert_int_equal(add_reg(t, half(0)), EPROTO);
    /* With it. */
    assert_int_equal(send_fds(t, vuf_u64(t->msg, VU_SET_PROTOCOL_FEATURES, 0,
                                         (1ull << VU_PF_REPLY_ACK) |
                                             (1ull << VU_PF_CONFIGURE_MEM_SLOTS)),
                              NULL, 0),
                     0);
    /* No fd, two fds. */
    rg = half(0);
    assert_int_equal(acked(t, vuf_mem_reg(t->msg, VU_ADD_MEM_REG, 0, &rg), NULL, 0), EINVAL);
    fds[0] = fd_new(t);
    fds[1] = fd_new(t);
    assert_int_equal(acked(t, vuf_mem_reg(t->msg, VU_ADD_MEM_REG, 0, &rg), fds, 2), EINVAL);
    /* Wrong payload size. */
    fds[0] = fd_new(t);
    assert_int_equal(acked(t, vuf_hdr(t->msg, VU_ADD_MEM_REG, 0, VU_MEM_REG_BYTES - 8), fds, 1),
                     EINVAL);
    /* Empty, wrapping in guest / user / fd offsets. */
    rg.size = 0;
    assert_int_equal(add_reg(t, rg), EINVAL);
    rg = half(0);
    rg.gpa = ~0ull - 4095;
    assert_int_equal(add_reg(t, rg), EINVAL);
    rg = half(0);
    rg.uaddr = ~0ull - 4095;
    assert_int_equal(add_reg(t, rg), EINVAL);
    rg = half(0);
    rg.mmap_offset = ~0ull - 4095;
    assert_int_equal(add_reg(t, rg), EINVAL);
    /* Past the end of its fd (the carrier's map refuses it). */
    rg = half(1);
    rg.size = HALF + 4096;
    assert_int_equal(add_reg(t, rg), ENOMEM);
    /* Overlaps, in guest then in user addresses. */
    assert_int_equal(add_reg(t, half(0)), 0);
    rg = half(1);
    rg.gpa -= 4096;
    assert_int_equal(add_reg(t, rg), EINVAL);
    rg = half(1);
    rg.uaddr -= 4096;
    assert_int_equal(add_reg(t, rg), EINVAL);
    assert_int_equal(add_reg(t, half(0)), EINVAL); /* the same again */
    /* REM of a region not there: other size, other address; two fds. */
    rg = half(0);
    rg.size -= 4096;
    assert_int_equal(rem_reg(t, rg), ENOENT);
    assert_int_equal(rem_reg(t, half(1)), ENOENT);
    fds[0] = fd_new(t);
    fds[1] = fd_new(t);
    rg = half(0);
    assert_int_equal(acked(t, vuf_mem_reg(t->msg, VU_REM_MEM_REG, 0, &rg), fds, 2), EINVAL);
    /* One fd is tolerated (vhost-user.rst: closed unused). */
    fds[0] = fd_new(t);
    assert_int_equal(acked(t, vuf_mem_reg(t->msg, VU_REM_MEM_REG, 0, &rg), fds, 1), 0);
    assert_int_equal(rem_reg(t, half(0)), ENOENT); /* gone */
    /* Every slot, then one too many. */
    for (i = 0; i < VU_MAX_MEM_SLOTS; i++) {
        rg = (struct vuf_region){.gpa = FX_GPA_BASE + i * 8192ull,
                                 .size = 4096,
                                 .uaddr = UA_BASE + i * 8192ull,
                                 .mmap_offset = i * 8192ull};
        assert_int_equal(add_reg(t, rg), 0);
    }
    rg.gpa += 8192;
    rg.uaddr += 8192;
    assert_int_equal(add_reg(t, rg), ENOSPC);
    for (i = 0; i < VUFX_MAX_FDS; i++)
        assert_false(t->vf.open[i]); /* every fd closed, mapped or refused */
}

/* ---- the back-end request channel ---- */

static void test_backend_req_fd(void **state)
{
    struct mfx *t = *state;
    int fds[2];

    assert_int_equal(vu_backend_req_fd(t->b), -1);
    negotiate(t);
    /* One fd, kept; a second replaces (and closes) the first. */
    fds[0] = fd_new(t);
    assert_int_equal(acked(t, vuf_none(t->msg, VU_SET_BACKEND_REQ_FD, 0), fds, 1), 0);
    assert_int_equal(vu_backend_req_fd(t->b), fds[0]);
    assert_true(t->vf.open[fds[0]]);
    fds[1] = fd_new(t);
    assert_int_equal(acked(t, vuf_none(t->msg, VU_SET_BACKEND_REQ_FD, 0), &fds[1], 1), 0);
    assert_false(t->vf.open[fds[0]]);
    assert_int_equal(vu_backend_req_fd(t->b), fds[1]);
    /* None, or two: refused, closed, the channel unchanged. */
    assert_int_equal(acked(t, vuf_none(t->msg, VU_SET_BACKEND_REQ_FD, 0), NULL, 0), EINVAL);
    fds[0] = fd_new(t);
    fds[1] = fd_new(t);
    assert_int_equal(acked(t, vuf_none(t->msg, VU_SET_BACKEND_REQ_FD, 0), fds, 2), EINVAL);
    assert_false(t->vf.open[fds[0]] || t->vf.open[fds[1]]);
    assert_true(vu_backend_req_fd(t->b) > 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)
        T(test_rings_never_started_do_not_block),
        T(test_add_mem_reg_while_running),
        T(test_rem_ring_memory_parks_until_added),
        T(test_mem_reg_bad_input),
        T(test_backend_req_fd),
#undef T
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
