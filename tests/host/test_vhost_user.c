/* SPDX-License-Identifier: Apache-2.0 */
/*
 * test_vhost_user.c - cmocka tests of the vhost-user request handler
 * (hostsim/vhost_user*.c) through a fake carrier (vu_fixture.c, shared
 * with the fuzzer): "fds" are small integers the fake tracks (every one
 * must be closed exactly once by the end), every region fd maps the ring
 * fixture's guest-memory arena, call/err signals are counted, the device
 * state goes through a buffer. The frontend is the test, with the real
 * driver virtqueue (drivers/virtio/virtqueue.c) on the rings and the blk
 * model (hostsim/dev_blk.c) behind the handler; data is checked against
 * the RAM disk. Each message has its happy path and its error paths (out
 * of order, bad size, unknown, index out of range).
 *
 * Happy paths, REPLY_ACK and the error paths of each message here; a ring
 * the frontend corrupts, storage backends, another model and the device
 * state in test_vhost_user_ring.c; the frontend helpers in vu_tfx.c.
 *
 * TEST_FILTER='test_mem_*' runs only the matching cases.
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

/* ---- happy paths ---- */

static void test_lifecycle_traffic(void **state)
{
    struct tfx *t = *state;
    int call, i;

    vt_start(t, &call);
    for (i = 0; i < 100; i++)
        vt_blk_write_pattern(t, (uint64_t)i % DISK_SECTORS, (uint8_t)(i + 1));
    for (i = 0; i < 100; i++)
        vt_blk_check_pattern(t, (uint64_t)i, (uint8_t)(i + 1));
    assert_true(t->vf.signals[call] > 0);
    assert_int_equal(vt_get_u64(t, VU_GET_QUEUE_NUM), 1);
}

static void test_rings_enabled_without_protocol_features(void **state)
{
    struct tfx *t = *state;

    vt_negotiate(t, false);
    vt_driver_vq_new(t);
    vt_ring_setup(t, 0, NULL, NULL);
    assert_true(vu_is_running(t->b)); /* no PROTOCOL_FEATURES: enabled at once */
    vt_blk_write_pattern(t, 3, 0x33);
}

static void test_disable_stops_processing(void **state)
{
    struct tfx *t = *state;

    vt_start(t, NULL);
    vt_blk_write_pattern(t, 1, 0x11);
    vt_enable(t, 0);
    assert_false(vu_is_running(t->b));
    memset(t->data, 0x22, 512);
    vt_blk_submit(t, VIRTIO_BLK_T_OUT, 1, 512);
    vu_kick(t->b, 0);
    assert_int_equal(vt_blk_complete(t), -1);
    assert_int_equal(t->disk[512], 0x11); /* untouched while disabled */
    vt_enable(t, 1);                      /* wake processes the queue once */
    assert_int_equal(vt_blk_complete(t), VIRTIO_BLK_S_OK);
    assert_int_equal(t->disk[512], 0x22);
}

static void test_get_vring_base_stops_and_restarts(void **state)
{
    struct tfx *t = *state;
    int i, kick;

    vt_start(t, NULL);
    for (i = 0; i < 10; i++)
        vt_blk_write_pattern(t, (uint64_t)i, (uint8_t)(0x40 + i));
    assert_int_equal(vt_vring_base(t, 0), 10);
    assert_false(vu_is_running(t->b));
    /* A request made while stopped is not touched... */
    vt_blk_submit(t, VIRTIO_BLK_T_IN, 5, 512);
    assert_int_equal(vu_kick(t->b, 0), 0);
    assert_int_equal(vt_blk_complete(t), -1);
    assert_int_equal(vt_vring_base(t, 0), 10); /* stopped: same answer */
    /* ... and served once the ring restarts at the base we were given. */
    kick = vt_fd_new(t);
    vt_ok(t, vuf_state(t->msg, VU_SET_VRING_BASE, 0, 0, 10));
    assert_int_equal(vt_acked(t, vuf_u64(t->msg, VU_SET_VRING_KICK, 0, 0), &kick, 1), 0);
    assert_true(vu_is_running(t->b));
    assert_int_equal(vt_blk_complete(t), VIRTIO_BLK_S_OK);
    assert_int_equal(t->data[0], 0x45);
    assert_int_equal(vt_vring_base(t, 0), 11);
}

static void test_reset_device_then_restart(void **state)
{
    struct tfx *t = *state;

    vt_start(t, NULL);
    vt_blk_write_pattern(t, 7, 0x77);
    vt_ok(t, vuf_none(t->msg, VU_RESET_DEVICE, 0));
    assert_false(vu_is_running(t->b));
    /* The driver starts over with fresh rings at index 0. */
    vt_ok(t, vuf_u64(t->msg, VU_SET_FEATURES, 0, t->features));
    vt_driver_vq_new(t);
    vt_ring_setup(t, 0, NULL, NULL);
    vt_enable(t, 1);
    assert_true(vu_is_running(t->b));
    vt_blk_check_pattern(t, 7, 0x77); /* the disk survived the reset */
    vt_blk_write_pattern(t, 8, 0x88);
}

static void test_polled_kick(void **state)
{
    struct tfx *t = *state;
    uint64_t d, a, u;

    vt_negotiate(t, true);
    vt_driver_vq_new(t);
    vq_get_ring_addrs(t->vq, &d, &a, &u);
    vt_ok(t, vuf_state(t->msg, VU_SET_VRING_NUM, 0, 0, QNUM));
    vt_ok(t, vuf_addr(t->msg, 0, 0, vt_ua_of(t, d), vt_ua_of(t, u), vt_ua_of(t, a)));
    vt_ok(t, vuf_u64(t->msg, VU_SET_VRING_KICK, 0, VU_VRING_NOFD));
    vt_ok(t, vuf_u64(t->msg, VU_SET_VRING_CALL, 0, VU_VRING_NOFD));
    vt_enable(t, 1);
    assert_int_equal(vu_ring_kick_fd(t->b, 0), -1);
    vt_blk_submit(t, VIRTIO_BLK_T_GET_ID, 0, 20);
    assert_int_equal(vu_poll(t->b), 1);
    assert_int_equal(vt_blk_complete(t), VIRTIO_BLK_S_OK);
    assert_memory_equal(t->data, VDEV_BLK_DEFAULT_SERIAL, strlen(VDEV_BLK_DEFAULT_SERIAL));
}

static void test_config(void **state)
{
    struct tfx *t = *state;
    uint8_t cfg[VU_MAX_CONFIG];

    vt_negotiate(t, true);
    assert_int_equal(vt_send(t, vuf_config(t->msg, VU_GET_CONFIG, 0, 0, 60, NULL)), 0);
    assert_int_equal(t->r.len, VU_HDR_BYTES + VU_CONFIG_HDR_BYTES + 60);
    memcpy(cfg, t->r.buf + VU_HDR_BYTES + VU_CONFIG_HDR_BYTES, 60);
    assert_int_equal(snap_get64(cfg), DISK_SECTORS); /* capacity */
    assert_int_equal(snap_get32(cfg + 20), 512);     /* blk_size */
    /* Past the model's config space: zeros, not an error. */
    assert_int_equal(vt_send(t, vuf_config(t->msg, VU_GET_CONFIG, 0, 56, 200, NULL)), 0);
    assert_int_equal(t->r.len, VU_HDR_BYTES + VU_CONFIG_HDR_BYTES + 200);
    /* Too large / wrapping / size field disagreeing: no reply possible. */
    assert_true(vt_send(t, vuf_config(t->msg, VU_GET_CONFIG, 0, 0, 257, NULL)) < 0);
    assert_true(vt_send(t, vuf_config(t->msg, VU_GET_CONFIG, 0, 0xfffffff0u, 32, NULL)) < 0);
    vuf_config(t->msg, VU_GET_CONFIG, 0, 0, 8, NULL);
    snap_put32(t->msg + VU_HDR_BYTES + 4, 16);
    assert_true(vt_send(t, VU_HDR_BYTES + VU_CONFIG_HDR_BYTES + 8) < 0);
    /* SET_CONFIG inside the space is accepted (blk takes only writeback, and only
     * with CONFIG_WCE acked), past it not. */
    vt_ok(t, vuf_config(t->msg, VU_SET_CONFIG, 0, 32, 1, "\1"));
    assert_int_not_equal(vt_acked(t, vuf_config(t->msg, VU_SET_CONFIG, 0, 59, 2, "ab"), NULL, 0),
                         0);
}

static void test_config_needs_protocol_feature(void **state)
{
    struct tfx *t = *state;

    assert_int_equal(vt_send(t, vuf_none(t->msg, VU_SET_OWNER, 0)), 0);
    /* CONFIG not negotiated: GET_CONFIG cannot be answered. */
    assert_int_equal(vt_send(t, vuf_config(t->msg, VU_GET_CONFIG, 0, 0, 8, NULL)), -EPROTO);
    assert_int_equal(t->r.len, 0);
}

/* ---- REPLY_ACK ---- */

static void test_reply_ack_only_when_negotiated(void **state)
{
    struct tfx *t = *state;

    /* Before SET_PROTOCOL_FEATURES: NEED_REPLY is not honoured. */
    assert_int_equal(vt_send(t, vuf_none(t->msg, VU_SET_OWNER, VU_FLAG_NEED_REPLY)), 0);
    assert_int_equal(t->r.len, 0);
    assert_int_equal(
        vt_send(t, vuf_u64(t->msg, VU_SET_PROTOCOL_FEATURES, 0, 1ull << VU_PF_REPLY_ACK)), 0);
    /* Failure without NEED_REPLY: logged, no reply, connection kept. */
    assert_int_equal(vt_send(t, vuf_none(t->msg, VU_SET_OWNER, 0)), 0);
    assert_int_equal(t->r.len, 0);
    /* With it: non-zero ack on failure, 0 on success. */
    assert_int_not_equal(vt_acked(t, vuf_none(t->msg, VU_SET_OWNER, 0), NULL, 0), 0);
    assert_int_equal(
        vt_acked(t, vuf_u64(t->msg, VU_SET_FEATURES, 0, 1ull << VIRTIO_F_VERSION_1), NULL, 0), 0);
}

/* ---- error paths ---- */

static void test_out_of_order(void **state)
{
    struct tfx *t = *state;
    struct vuf_region rg = {.gpa = FX_GPA_BASE, .size = FX_ARENA_SIZE, .uaddr = UA_BASE};
    int fd = vt_fd_new(t);

    assert_int_equal(
        vt_send(t, vuf_u64(t->msg, VU_SET_PROTOCOL_FEATURES, 0, 1ull << VU_PF_REPLY_ACK)), 0);
    /* Before SET_OWNER. */
    assert_int_equal(vt_acked(t, vuf_mem_table(t->msg, 0, &rg, 1), &fd, 1), EPROTO);
    assert_false(t->vf.open[fd]);
    assert_int_equal(vt_acked(t, vuf_u64(t->msg, VU_SET_FEATURES, 0, 0), NULL, 0), EPROTO);
    assert_int_equal(vt_acked(t, vuf_state(t->msg, VU_SET_VRING_NUM, 0, 0, 64), NULL, 0), EPROTO);
    assert_true(vt_send(t, vuf_state(t->msg, VU_GET_VRING_BASE, 0, 0, 0)) < 0);
    vt_ok(t, vuf_none(t->msg, VU_SET_OWNER, 0));
    assert_int_not_equal(vt_acked(t, vuf_none(t->msg, VU_SET_OWNER, 0), NULL, 0), 0);
    /* SET_VRING_ADDR before SET_MEM_TABLE. */
    assert_int_equal(
        vt_acked(t, vuf_addr(t->msg, 0, 0, UA_BASE, UA_BASE + 4096, UA_BASE + 8192), NULL, 0),
        EPROTO);
    /* A kick before the ring has a size and addresses: nothing starts. */
    fd = vt_fd_new(t);
    assert_int_equal(vt_acked(t, vuf_u64(t->msg, VU_SET_VRING_KICK, 0, 0), &fd, 1), 0);
    assert_false(vu_is_running(t->b));
    /* Device state requests need their protocol feature. */
    fd = vt_fd_new(t);
    assert_true(vt_send_fds(t, vuf_device_state(t->msg, 0, VU_STATE_SAVE), &fd, 1) < 0);
    assert_false(t->vf.open[fd]);
}

static void test_bad_headers_close(void **state)
{
    struct tfx *t = *state;
    int fd = vt_fd_new(t);
    struct vu_stats st;

    vuf_none(t->msg, VU_GET_FEATURES, 0);
    assert_true(vt_send(t, 8) < 0); /* short header */
    vuf_none(t->msg, VU_GET_FEATURES, 0);
    snap_put32(t->msg + 4, 2); /* version 2 */
    assert_true(vt_send(t, VU_HDR_BYTES) < 0);
    vuf_none(t->msg, VU_GET_FEATURES, VU_FLAG_REPLY); /* a reply sent to us */
    assert_true(vt_send(t, VU_HDR_BYTES) < 0);
    vuf_u64(t->msg, VU_SET_FEATURES, 0, 0);
    assert_true(vt_send(t, VU_HDR_BYTES + 4) < 0); /* size field says 8, 4 came */
    vuf_hdr(t->msg, VU_SET_FEATURES, 0, VU_MAX_PAYLOAD + 1);
    assert_true(vt_send(t, VU_HDR_BYTES + VU_MAX_PAYLOAD + 1) < 0); /* oversized */
    /* fds that came with a refused message are closed. */
    vuf_none(t->msg, VU_GET_FEATURES, 0);
    snap_put32(t->msg + 4, 0);
    assert_true(vt_send_fds(t, VU_HDR_BYTES, &fd, 1) < 0);
    assert_false(t->vf.open[fd]);
    vu_get_stats(t->b, &st);
    assert_int_equal(st.closes, 6);
}

static void test_bad_payload_sizes(void **state)
{
    struct tfx *t = *state;

    vt_negotiate(t, true);
    vuf_hdr(t->msg, VU_SET_FEATURES, 0, 4);
    assert_int_equal(vt_acked(t, VU_HDR_BYTES + 4, NULL, 0), EINVAL);
    vuf_hdr(t->msg, VU_SET_VRING_NUM, 0, 12);
    assert_int_equal(vt_acked(t, VU_HDR_BYTES + 12, NULL, 0), EINVAL);
    vuf_hdr(t->msg, VU_SET_VRING_ADDR, 0, 32);
    assert_int_equal(vt_acked(t, VU_HDR_BYTES + 32, NULL, 0), EINVAL);
    /* A request with a reply of its own cannot say "error": close. */
    vuf_hdr(t->msg, VU_GET_VRING_BASE, 0, 4);
    assert_true(vt_send(t, VU_HDR_BYTES + 4) < 0);
    vuf_hdr(t->msg, VU_GET_FEATURES, 0, 8);
    assert_true(vt_send(t, VU_HDR_BYTES + 8) < 0);
}

static void test_unknown_request(void **state)
{
    struct tfx *t = *state;

    vt_negotiate(t, true);
    assert_int_equal(vt_acked(t, vuf_none(t->msg, 63, 0), NULL, 0), ENOSYS);
    assert_int_equal(vt_acked(t, vuf_u64(t->msg, 19 /* SEND_RARP */, 0, 0), NULL, 0), ENOSYS);
    assert_int_equal(vt_acked(t, vuf_none(t->msg, 1000, 0), NULL, 0), ENOSYS);
    /* Without REPLY_ACK we cannot tell whether a reply is awaited: close. */
    assert_true(vt_send(t, vuf_none(t->msg, 63, 0)) < 0);
    assert_true(vt_send(t, vuf_none(t->msg, 0, 0)) < 0);
}

static void test_index_out_of_range(void **state)
{
    struct tfx *t = *state;
    int fd = vt_fd_new(t);

    vt_negotiate(t, true);
    assert_int_equal(vt_acked(t, vuf_state(t->msg, VU_SET_VRING_NUM, 0, 1, 64), NULL, 0), ERANGE);
    assert_int_equal(vt_acked(t, vuf_state(t->msg, VU_SET_VRING_BASE, 0, 8, 0), NULL, 0), ERANGE);
    assert_int_equal(
        vt_acked(t, vuf_state(t->msg, VU_SET_VRING_ENABLE, 0, 0xffffffffu, 1), NULL, 0), ERANGE);
    assert_int_equal(vt_acked(t, vuf_addr(t->msg, 0, 2, UA_BASE, UA_BASE, UA_BASE), NULL, 0),
                     ERANGE);
    assert_int_equal(vt_acked(t, vuf_u64(t->msg, VU_SET_VRING_KICK, 0, 5), &fd, 1), ERANGE);
    assert_false(t->vf.open[fd]);
    assert_int_equal(
        vt_acked(t, vuf_u64(t->msg, VU_SET_VRING_CALL, 0, 0x1ff | VU_VRING_NOFD), NULL, 0), ERANGE);
    assert_true(vt_send(t, vuf_state(t->msg, VU_GET_VRING_BASE, 0, 1, 0)) < 0);
    assert_int_equal(vu_kick(t->b, 9), -ERANGE);
}

static void test_vring_values(void **state)
{
    struct tfx *t = *state;
    int fd = vt_fd_new(t), fd2 = vt_fd_new(t);

    vt_negotiate(t, true);
    assert_int_equal(vt_acked(t, vuf_state(t->msg, VU_SET_VRING_NUM, 0, 0, 0), NULL, 0), EINVAL);
    assert_int_equal(vt_acked(t, vuf_state(t->msg, VU_SET_VRING_NUM, 0, 0, 48), NULL, 0), EINVAL);
    assert_int_equal(vt_acked(t, vuf_state(t->msg, VU_SET_VRING_NUM, 0, 0, 512), NULL, 0), EINVAL);
    assert_int_equal(vt_acked(t, vuf_state(t->msg, VU_SET_VRING_BASE, 0, 0, 0x10000), NULL, 0),
                     EINVAL);
    assert_int_equal(vt_acked(t, vuf_state(t->msg, VU_SET_VRING_ENABLE, 0, 0, 2), NULL, 0), EINVAL);
    /* Addresses outside the memory table, flags other than VHOST_VRING_F_LOG. */
    assert_int_equal(vt_acked(t, vuf_addr(t->msg, 0, 0, 0x1000, UA_BASE, UA_BASE), NULL, 0),
                     EFAULT);
    assert_int_equal(
        vt_acked(t, vuf_addr(t->msg, 0, 0, UA_BASE, UA_BASE, UA_BASE + FX_ARENA_SIZE - 2), NULL, 0),
        EFAULT);
    vuf_addr(t->msg, 0, 0, UA_BASE, UA_BASE, UA_BASE);
    snap_put32(t->msg + VU_HDR_BYTES + 4, 2);
    assert_int_equal(vt_acked(t, VU_HDR_BYTES + VU_ADDR_BYTES, NULL, 0), EINVAL);
    /* Kick/call/err: reserved bits, fd count against the no-fd flag. */
    assert_int_equal(vt_acked(t, vuf_u64(t->msg, VU_SET_VRING_ERR, 0, 1ull << 12), NULL, 0),
                     EINVAL);
    assert_int_equal(vt_acked(t, vuf_u64(t->msg, VU_SET_VRING_CALL, 0, 0), NULL, 0), EINVAL);
    assert_int_equal(vt_acked(t, vuf_u64(t->msg, VU_SET_VRING_CALL, 0, VU_VRING_NOFD), &fd, 1),
                     EINVAL);
    assert_false(t->vf.open[fd]);
    vt_ok(t, vuf_u64(t->msg, VU_SET_VRING_ERR, 0, VU_VRING_NOFD));
    assert_int_equal(vt_acked(t, vuf_u64(t->msg, VU_SET_VRING_ERR, 0, 0), &fd2, 1), 0);
    assert_true(t->vf.open[fd2]); /* kept until replaced or destroyed */
    /* Features not offered. */
    assert_int_equal(vt_acked(t, vuf_u64(t->msg, VU_SET_FEATURES, 0, 1ull << 63), NULL, 0), EINVAL);
    assert_int_equal(vt_acked(t, vuf_u64(t->msg, VU_SET_PROTOCOL_FEATURES, 0, 1ull << 2), NULL, 0),
                     EINVAL);
}

static void test_ring_outside_memory_at_start(void **state)
{
    struct tfx *t = *state;
    int fd = vt_fd_new(t);

    vt_negotiate(t, true);
    /* Each area begins inside, but 256 descriptors run past the end. */
    vt_ok(t, vuf_state(t->msg, VU_SET_VRING_NUM, 0, 0, 256));
    vt_ok(t, vuf_addr(t->msg, 0, 0, UA_BASE + FX_ARENA_SIZE - 1024, UA_BASE, UA_BASE + 8192));
    assert_int_equal(vt_acked(t, vuf_u64(t->msg, VU_SET_VRING_ERR, 0, 0), &fd, 1), 0);
    vt_ok(t, vuf_u64(t->msg, VU_SET_VRING_KICK, 0, VU_VRING_NOFD));
    assert_int_not_equal(vt_acked(t, vuf_state(t->msg, VU_SET_VRING_ENABLE, 0, 0, 1), NULL, 0), 0);
    assert_false(vu_is_running(t->b));
    assert_int_equal(t->vf.signals[fd], 1); /* the err fd told */
}

static void test_mem_table_errors(void **state)
{
    struct tfx *t = *state;
    struct vuf_region rg[9];
    int fds[9], i;

    assert_int_equal(
        vt_send(t, vuf_u64(t->msg, VU_SET_PROTOCOL_FEATURES, 0, 1ull << VU_PF_REPLY_ACK)), 0);
    vt_ok(t, vuf_none(t->msg, VU_SET_OWNER, 0));
    for (i = 0; i < 9; i++)
        rg[i] = (struct vuf_region){.gpa = (uint64_t)i << 30,
                                    .size = 4096,
                                    .uaddr = UA_BASE + ((uint64_t)i << 30),
                                    .mmap_offset = (uint64_t)i * 4096};
#define FDS(n)                                                                                     \
    do {                                                                                           \
        for (i = 0; i < (n); i++)                                                                  \
            fds[i] = vt_fd_new(t);                                                                 \
    } while (0)
    FDS(1);
    assert_int_equal(vt_acked(t, vuf_mem_table(t->msg, 0, rg, 0), fds, 1), EINVAL); /* 0 regions */
    FDS(8);
    assert_int_equal(vt_acked(t, vuf_mem_table(t->msg, 0, rg, 9), fds, 8), EINVAL); /* > 8 */
    FDS(1);
    assert_int_equal(vt_acked(t, vuf_mem_table(t->msg, 0, rg, 2), fds, 1), EINVAL); /* 1 fd for 2 */
    FDS(2);
    rg[1].gpa = 2048; /* overlaps region 0 */
    assert_int_equal(vt_acked(t, vuf_mem_table(t->msg, 0, rg, 2), fds, 2), EINVAL);
    rg[1].gpa = 1ull << 30;
    FDS(1);
    rg[0].size = 0;
    assert_int_equal(vt_acked(t, vuf_mem_table(t->msg, 0, rg, 1), fds, 1), EINVAL);
    rg[0].size = ~0ull; /* wraps */
    FDS(1);
    assert_int_equal(vt_acked(t, vuf_mem_table(t->msg, 0, rg, 1), fds, 1), EINVAL);
    rg[0].size = 4096;
    FDS(2);
    t->vf.fail_map = true;
    assert_int_equal(vt_acked(t, vuf_mem_table(t->msg, 0, rg, 2), fds, 2), ENOMEM);
    t->vf.fail_map = false;
    FDS(2);
    assert_int_equal(vt_acked(t, vuf_mem_table(t->msg, 0, rg, 2), fds, 2), 0);
    for (i = 0; i < VUFX_MAX_FDS; i++)
        assert_false(t->vf.open[i]); /* every one closed, mapped or not */
#undef FDS
}

static void test_mem_table_while_running(void **state)
{
    struct tfx *t = *state;

    vt_start(t, NULL);
    vt_blk_write_pattern(t, 2, 0x21);
    /* Same memory at a new frontend address (e.g. a remap): the rings keep
     * their guest addresses and go on. */
    vt_mem_table(t, UA_BASE + (1ull << 32));
    assert_true(vu_is_running(t->b));
    vt_blk_write_pattern(t, 3, 0x31);
    vt_blk_check_pattern(t, 2, 0x21);
}

static void test_set_while_started_refused(void **state)
{
    struct tfx *t = *state;

    vt_start(t, NULL);
    assert_int_equal(vt_acked(t, vuf_state(t->msg, VU_SET_VRING_BASE, 0, 0, 5), NULL, 0), EINVAL);
    assert_int_equal(vt_acked(t, vuf_state(t->msg, VU_SET_VRING_NUM, 0, 0, 32), NULL, 0), EBUSY);
    assert_int_equal(
        vt_acked(t, vuf_addr(t->msg, 0, 0, UA_BASE, UA_BASE + 4096, UA_BASE + 8192), NULL, 0),
        EBUSY);
    vt_blk_write_pattern(t, 4, 0x44); /* still fine */
}

static void test_corrupt_avail_idx_refused_at_start(void **state)
{
    struct tfx *t = *state;
    int kick = vt_fd_new(t);

    vt_start(t, NULL);
    vt_blk_write_pattern(t, 1, 1);
    assert_int_equal(vt_vring_base(t, 0), 1);
    /* The frontend claims a base far behind what the rings say. */
    vt_ok(t, vuf_state(t->msg, VU_SET_VRING_BASE, 0, 0, 40000));
    assert_int_not_equal(vt_acked(t, vuf_u64(t->msg, VU_SET_VRING_KICK, 0, 0), &kick, 1), 0);
    assert_false(vu_is_running(t->b));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
#define T(fn) cmocka_unit_test_setup_teardown(fn, vt_setup, vt_teardown)
        T(test_lifecycle_traffic),
        T(test_rings_enabled_without_protocol_features),
        T(test_disable_stops_processing),
        T(test_get_vring_base_stops_and_restarts),
        T(test_reset_device_then_restart),
        T(test_polled_kick),
        T(test_config),
        T(test_config_needs_protocol_feature),
        T(test_reply_ack_only_when_negotiated),
        T(test_out_of_order),
        T(test_bad_headers_close),
        T(test_bad_payload_sizes),
        T(test_unknown_request),
        T(test_index_out_of_range),
        T(test_vring_values),
        T(test_ring_outside_memory_at_start),
        T(test_mem_table_errors),
        T(test_mem_table_while_running),
        T(test_set_while_started_refused),
        T(test_corrupt_avail_idx_refused_at_start),
#undef T
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
