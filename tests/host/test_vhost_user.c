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

#include "ring_fixture.h"
#include "vdev_models.h"
#include "vhost_user.h"
#include "vhost_user_front.h"
#include "virtio_platform.h"
#include "vu_fixture.h"

#define UA_BASE 0x7f1200000000ull /* the frontend's address of the arena */
#define DISK_SECTORS 256
#define DISK_BYTES (DISK_SECTORS * 512)
#define QNUM 64

struct tfx {
    struct ring_fixture fx;
    struct vu_backend *b;
    struct vdev dev;
    uint8_t *disk;
    struct virtqueue *vq;
    struct vu_reply r;
    uint8_t msg[VU_MAX_MSG];
    struct vu_fake vf; /* the carrier: fds, signals, device state */
    /* blk request buffers in guest memory */
    uint8_t *hdr, *data, *status;
    uint64_t features;
};

static struct tfx T;

/* ---- the fake carrier (vu_fixture.h) ---- */

static void carrier_broken(const char *what, int fd)
{
    fail_msg("the handler %s (fd %d)", what, fd);
}

static int fd_new(struct tfx *t)
{
    int fd = vufx_fd_new(&t->vf);

    assert_true(fd > 0); /* not out of fds */
    return fd;
}

static void fds_all_closed(struct tfx *t)
{
    int fd = vufx_first_open(&t->vf);

    if (fd >= 0)
        fail_msg("fd %d never closed", fd);
}

/* ---- frontend helpers ---- */

static void backend_new(struct tfx *t)
{
    assert_int_equal(vu_create(&vufx_ops, &t->vf, &t->b), 0);
    assert_int_equal(vdev_blk_create(&t->dev, vu_guest_mem(t->b), t->disk, DISK_BYTES, NULL), 0);
    assert_int_equal(vu_attach(t->b, &t->dev), 0);
}

static void backend_free(struct tfx *t)
{
    vu_destroy(t->b);
    vdev_destroy(&t->dev);
    t->b = NULL;
}

static int setup(void **state)
{
    struct tfx *t = &T;

    memset(t, 0, sizeof(*t));
    fx_arena_init(&t->fx);
    vufx_init(&t->vf, t->fx.arena, FX_ARENA_SIZE, 10, carrier_broken);
    t->disk = calloc(1, DISK_BYTES);
    assert_non_null(t->disk);
    t->hdr = fx_alloc(&t->fx, 16, NULL);
    t->data = fx_alloc(&t->fx, 64 * 512, NULL);
    t->status = fx_alloc(&t->fx, 1, NULL);
    backend_new(t);
    *state = t;
    return 0;
}

static int teardown(void **state)
{
    struct tfx *t = *state;

    backend_free(t);
    fds_all_closed(t);
    if (t->vq)
        vq_destroy(t->vq);
    free(t->disk);
    fx_teardown(&t->fx);
    return 0;
}

/* Send msg (len bytes) with fds; returns the handler's verdict. */
static int send_fds(struct tfx *t, size_t len, const int *fds, unsigned nfds)
{
    return vu_handle_msg(t->b, t->msg, len, fds, nfds, &t->r);
}

static int send(struct tfx *t, size_t len)
{
    return send_fds(t, len, NULL, 0);
}

/* A request with a u64 reply. */
static uint64_t get_u64(struct tfx *t, uint32_t req)
{
    assert_int_equal(send(t, vuf_none(t->msg, req, 0)), 0);
    assert_int_equal(t->r.len, VU_HDR_BYTES + 8);
    assert_int_equal(snap_get32(t->r.buf), req);
    assert_int_equal(snap_get32(t->r.buf + 4), VU_FLAG_VERSION | VU_FLAG_REPLY);
    return vuf_reply_u64(&t->r);
}

/* A request sent with NEED_REPLY (REPLY_ACK negotiated): the ack value. */
static uint64_t acked(struct tfx *t, size_t len, const int *fds, unsigned nfds)
{
    snap_put32(t->msg + 4, snap_get32(t->msg + 4) | VU_FLAG_NEED_REPLY);
    assert_int_equal(send_fds(t, len, fds, nfds), 0);
    assert_int_equal(t->r.len, VU_HDR_BYTES + 8);
    return vuf_reply_u64(&t->r);
}

static void ok(struct tfx *t, size_t len)
{
    assert_int_equal(acked(t, len, NULL, 0), 0);
}

static uint64_t ua_of(struct tfx *t, uint64_t gpa)
{
    (void)t;
    return UA_BASE + (gpa - FX_GPA_BASE);
}

static void mem_table(struct tfx *t, uint64_t ua)
{
    struct vuf_region rg = {.gpa = FX_GPA_BASE, .size = FX_ARENA_SIZE, .uaddr = ua};
    int fd = fd_new(t);

    assert_int_equal(acked(t, vuf_mem_table(t->msg, 0, &rg, 1), &fd, 1), 0);
    assert_false(t->vf.open[fd]); /* mapped, then closed */
}

/* Owner, features (with PROTOCOL_FEATURES unless pf is false), protocol
 * features, memory table. */
static void negotiate(struct tfx *t, bool pf)
{
    uint64_t f;

    f = get_u64(t, VU_GET_FEATURES);
    assert_true(f & (1ull << VU_F_PROTOCOL_FEATURES));
    assert_int_equal(get_u64(t, VU_GET_PROTOCOL_FEATURES),
                     (1ull << VU_PF_MQ) | (1ull << VU_PF_REPLY_ACK) | (1ull << VU_PF_CONFIG) |
                         (1ull << VU_PF_RESET_DEVICE) | (1ull << VU_PF_DEVICE_STATE) |
                         (1ull << VU_PF_CONFIGURE_MEM_SLOTS) | (1ull << VU_PF_BACKEND_REQ) |
                         (1ull << VU_PF_LOG_SHMFD));
    assert_int_equal(
        send(t, vuf_u64(t->msg, VU_SET_PROTOCOL_FEATURES, 0, get_u64(t, VU_GET_PROTOCOL_FEATURES))),
        0);
    assert_int_equal(t->r.len, 0);
    ok(t, vuf_none(t->msg, VU_SET_OWNER, 0));
    if (!pf)
        f &= ~(1ull << VU_F_PROTOCOL_FEATURES);
    t->features = f;
    ok(t, vuf_u64(t->msg, VU_SET_FEATURES, 0, f));
    mem_table(t, UA_BASE);
}

static void driver_vq_new(struct tfx *t)
{
    struct vq_config cfg = {
        .num = QNUM,
        .event_idx = (t->features >> VIRTIO_F_EVENT_IDX) & 1,
        .indirect = (t->features >> VIRTIO_F_INDIRECT_DESC) & 1,
    };

    if (t->vq)
        vq_destroy(t->vq);
    assert_int_equal(vq_create(&cfg, &t->vq), 0);
}

/* Ring idx set up on vq at base; kick/call fds returned. */
static void ring_setup_on(struct tfx *t, unsigned idx, struct virtqueue *vq, uint16_t base,
                          int *kick, int *call)
{
    uint64_t d, a, u;
    int k = fd_new(t), c = fd_new(t);

    vq_get_ring_addrs(vq, &d, &a, &u);
    ok(t, vuf_state(t->msg, VU_SET_VRING_NUM, 0, idx, QNUM));
    ok(t, vuf_state(t->msg, VU_SET_VRING_BASE, 0, idx, base));
    ok(t, vuf_addr(t->msg, 0, idx, ua_of(t, d), ua_of(t, u), ua_of(t, a)));
    assert_int_equal(acked(t, vuf_u64(t->msg, VU_SET_VRING_CALL, 0, idx), &c, 1), 0);
    assert_int_equal(acked(t, vuf_u64(t->msg, VU_SET_VRING_KICK, 0, idx), &k, 1), 0);
    if (kick)
        *kick = k;
    if (call)
        *call = c;
}

/* Ring 0 set up on t->vq at base; kick/call fds returned. */
static void ring_setup(struct tfx *t, uint16_t base, int *kick, int *call)
{
    ring_setup_on(t, 0, t->vq, base, kick, call);
}

static void enable(struct tfx *t, unsigned on)
{
    ok(t, vuf_state(t->msg, VU_SET_VRING_ENABLE, 0, 0, on));
}

static void start(struct tfx *t, int *call)
{
    negotiate(t, true);
    driver_vq_new(t);
    ring_setup(t, 0, NULL, call);
    assert_false(vu_is_running(t->b)); /* rings start disabled */
    enable(t, 1);
    assert_true(vu_is_running(t->b));
}

/* Submit one blk request on t->vq without processing it. */
static void blk_submit(struct tfx *t, uint32_t type, uint64_t sector, uint32_t len)
{
    struct vq_sg sg[3] = {
        {.buf = t->hdr, .len = 16}, {.buf = t->data, .len = len}, {.buf = t->status, .len = 1}};

    snap_put32(t->hdr, type);
    snap_put32(t->hdr + 4, 0);
    snap_put64(t->hdr + 8, sector);
    *t->status = 0xee;
    if (type == VIRTIO_BLK_T_OUT)
        assert_int_equal(vq_add_sgs(t->vq, sg, 2, 1, t), 0);
    else
        assert_int_equal(vq_add_sgs(t->vq, sg, 1, 2, t), 0);
    vq_kick_prepare(t->vq);
}

/* Take the completion: returns the status byte, -1 when none. */
static int blk_complete(struct tfx *t)
{
    void *tok;
    uint32_t len;

    if (vq_get_buf(t->vq, &tok, &len) != 0)
        return -1;
    assert_ptr_equal(tok, t);
    return *t->status;
}

static int blk_io(struct tfx *t, uint32_t type, uint64_t sector, uint32_t len)
{
    blk_submit(t, type, sector, len);
    vu_kick(t->b, 0);
    return blk_complete(t);
}

static void blk_write_pattern(struct tfx *t, uint64_t sector, uint8_t seed)
{
    memset(t->data, seed, 512);
    assert_int_equal(blk_io(t, VIRTIO_BLK_T_OUT, sector, 512), VIRTIO_BLK_S_OK);
    assert_int_equal(t->disk[sector * 512], seed);
}

static void blk_check_pattern(struct tfx *t, uint64_t sector, uint8_t seed)
{
    memset(t->data, 0, 512);
    assert_int_equal(blk_io(t, VIRTIO_BLK_T_IN, sector, 512), VIRTIO_BLK_S_OK);
    assert_int_equal(t->data[0], seed);
    assert_int_equal(t->data[511], seed);
}

static uint32_t vring_base(struct tfx *t, unsigned idx)
{
    assert_int_equal(send(t, vuf_state(t->msg, VU_GET_VRING_BASE, 0, idx, 0)), 0);
    assert_int_equal(t->r.len, VU_HDR_BYTES + VU_STATE_BYTES);
    assert_int_equal(snap_get32(t->r.buf + VU_HDR_BYTES), idx);
    return snap_get32(t->r.buf + VU_HDR_BYTES + 4);
}

/* ---- happy paths ---- */

static void test_lifecycle_traffic(void **state)
{
    struct tfx *t = *state;
    int call, i;

    start(t, &call);
    for (i = 0; i < 100; i++)
        blk_write_pattern(t, (uint64_t)i % DISK_SECTORS, (uint8_t)(i + 1));
    for (i = 0; i < 100; i++)
        blk_check_pattern(t, (uint64_t)i, (uint8_t)(i + 1));
    assert_true(t->vf.signals[call] > 0);
    assert_int_equal(get_u64(t, VU_GET_QUEUE_NUM), 1);
}

static void test_rings_enabled_without_protocol_features(void **state)
{
    struct tfx *t = *state;

    negotiate(t, false);
    driver_vq_new(t);
    ring_setup(t, 0, NULL, NULL);
    assert_true(vu_is_running(t->b)); /* no PROTOCOL_FEATURES: enabled at once */
    blk_write_pattern(t, 3, 0x33);
}

static void test_disable_stops_processing(void **state)
{
    struct tfx *t = *state;

    start(t, NULL);
    blk_write_pattern(t, 1, 0x11);
    enable(t, 0);
    assert_false(vu_is_running(t->b));
    memset(t->data, 0x22, 512);
    blk_submit(t, VIRTIO_BLK_T_OUT, 1, 512);
    vu_kick(t->b, 0);
    assert_int_equal(blk_complete(t), -1);
    assert_int_equal(t->disk[512], 0x11); /* untouched while disabled */
    enable(t, 1);                         /* wake processes the queue once */
    assert_int_equal(blk_complete(t), VIRTIO_BLK_S_OK);
    assert_int_equal(t->disk[512], 0x22);
}

static void test_get_vring_base_stops_and_restarts(void **state)
{
    struct tfx *t = *state;
    int i, kick;

    start(t, NULL);
    for (i = 0; i < 10; i++)
        blk_write_pattern(t, (uint64_t)i, (uint8_t)(0x40 + i));
    assert_int_equal(vring_base(t, 0), 10);
    assert_false(vu_is_running(t->b));
    /* A request made while stopped is not touched... */
    blk_submit(t, VIRTIO_BLK_T_IN, 5, 512);
    assert_int_equal(vu_kick(t->b, 0), 0);
    assert_int_equal(blk_complete(t), -1);
    assert_int_equal(vring_base(t, 0), 10); /* stopped: same answer */
    /* ... and served once the ring restarts at the base we were given. */
    kick = fd_new(t);
    ok(t, vuf_state(t->msg, VU_SET_VRING_BASE, 0, 0, 10));
    assert_int_equal(acked(t, vuf_u64(t->msg, VU_SET_VRING_KICK, 0, 0), &kick, 1), 0);
    assert_true(vu_is_running(t->b));
    assert_int_equal(blk_complete(t), VIRTIO_BLK_S_OK);
    assert_int_equal(t->data[0], 0x45);
    assert_int_equal(vring_base(t, 0), 11);
}

static void test_reset_device_then_restart(void **state)
{
    struct tfx *t = *state;

    start(t, NULL);
    blk_write_pattern(t, 7, 0x77);
    ok(t, vuf_none(t->msg, VU_RESET_DEVICE, 0));
    assert_false(vu_is_running(t->b));
    /* The driver starts over with fresh rings at index 0. */
    ok(t, vuf_u64(t->msg, VU_SET_FEATURES, 0, t->features));
    driver_vq_new(t);
    ring_setup(t, 0, NULL, NULL);
    enable(t, 1);
    assert_true(vu_is_running(t->b));
    blk_check_pattern(t, 7, 0x77); /* the disk survived the reset */
    blk_write_pattern(t, 8, 0x88);
}

static void test_polled_kick(void **state)
{
    struct tfx *t = *state;
    uint64_t d, a, u;

    negotiate(t, true);
    driver_vq_new(t);
    vq_get_ring_addrs(t->vq, &d, &a, &u);
    ok(t, vuf_state(t->msg, VU_SET_VRING_NUM, 0, 0, QNUM));
    ok(t, vuf_addr(t->msg, 0, 0, ua_of(t, d), ua_of(t, u), ua_of(t, a)));
    ok(t, vuf_u64(t->msg, VU_SET_VRING_KICK, 0, VU_VRING_NOFD));
    ok(t, vuf_u64(t->msg, VU_SET_VRING_CALL, 0, VU_VRING_NOFD));
    enable(t, 1);
    assert_int_equal(vu_ring_kick_fd(t->b, 0), -1);
    blk_submit(t, VIRTIO_BLK_T_GET_ID, 0, 20);
    assert_int_equal(vu_poll(t->b), 1);
    assert_int_equal(blk_complete(t), VIRTIO_BLK_S_OK);
    assert_memory_equal(t->data, VDEV_BLK_DEFAULT_SERIAL, strlen(VDEV_BLK_DEFAULT_SERIAL));
}

static void test_config(void **state)
{
    struct tfx *t = *state;
    uint8_t cfg[VU_MAX_CONFIG];

    negotiate(t, true);
    assert_int_equal(send(t, vuf_config(t->msg, VU_GET_CONFIG, 0, 0, 60, NULL)), 0);
    assert_int_equal(t->r.len, VU_HDR_BYTES + VU_CONFIG_HDR_BYTES + 60);
    memcpy(cfg, t->r.buf + VU_HDR_BYTES + VU_CONFIG_HDR_BYTES, 60);
    assert_int_equal(snap_get64(cfg), DISK_SECTORS); /* capacity */
    assert_int_equal(snap_get32(cfg + 20), 512);     /* blk_size */
    /* Past the model's config space: zeros, not an error. */
    assert_int_equal(send(t, vuf_config(t->msg, VU_GET_CONFIG, 0, 56, 200, NULL)), 0);
    assert_int_equal(t->r.len, VU_HDR_BYTES + VU_CONFIG_HDR_BYTES + 200);
    /* Too large / wrapping / size field disagreeing: no reply possible. */
    assert_true(send(t, vuf_config(t->msg, VU_GET_CONFIG, 0, 0, 257, NULL)) < 0);
    assert_true(send(t, vuf_config(t->msg, VU_GET_CONFIG, 0, 0xfffffff0u, 32, NULL)) < 0);
    vuf_config(t->msg, VU_GET_CONFIG, 0, 0, 8, NULL);
    snap_put32(t->msg + VU_HDR_BYTES + 4, 16);
    assert_true(send(t, VU_HDR_BYTES + VU_CONFIG_HDR_BYTES + 8) < 0);
    /* SET_CONFIG inside the space is accepted (blk takes only writeback, and only
     * with CONFIG_WCE acked), past it not. */
    ok(t, vuf_config(t->msg, VU_SET_CONFIG, 0, 32, 1, "\1"));
    assert_int_not_equal(acked(t, vuf_config(t->msg, VU_SET_CONFIG, 0, 59, 2, "ab"), NULL, 0), 0);
}

static void test_config_needs_protocol_feature(void **state)
{
    struct tfx *t = *state;

    assert_int_equal(send(t, vuf_none(t->msg, VU_SET_OWNER, 0)), 0);
    /* CONFIG not negotiated: GET_CONFIG cannot be answered. */
    assert_int_equal(send(t, vuf_config(t->msg, VU_GET_CONFIG, 0, 0, 8, NULL)), -EPROTO);
    assert_int_equal(t->r.len, 0);
}

/* ---- REPLY_ACK ---- */

static void test_reply_ack_only_when_negotiated(void **state)
{
    struct tfx *t = *state;

    /* Before SET_PROTOCOL_FEATURES: NEED_REPLY is not honoured. */
    assert_int_equal(send(t, vuf_none(t->msg, VU_SET_OWNER, VU_FLAG_NEED_REPLY)), 0);
    assert_int_equal(t->r.len, 0);
    assert_int_equal(send(t, vuf_u64(t->msg, VU_SET_PROTOCOL_FEATURES, 0, 1ull << VU_PF_REPLY_ACK)),
                     0);
    /* Failure without NEED_REPLY: logged, no reply, connection kept. */
    assert_int_equal(send(t, vuf_none(t->msg, VU_SET_OWNER, 0)), 0);
    assert_int_equal(t->r.len, 0);
    /* With it: non-zero ack on failure, 0 on success. */
    assert_int_not_equal(acked(t, vuf_none(t->msg, VU_SET_OWNER, 0), NULL, 0), 0);
    assert_int_equal(
        acked(t, vuf_u64(t->msg, VU_SET_FEATURES, 0, 1ull << VIRTIO_F_VERSION_1), NULL, 0), 0);
}

/* ---- error paths ---- */

static void test_out_of_order(void **state)
{
    struct tfx *t = *state;
    struct vuf_region rg = {.gpa = FX_GPA_BASE, .size = FX_ARENA_SIZE, .uaddr = UA_BASE};
    int fd = fd_new(t);

    assert_int_equal(send(t, vuf_u64(t->msg, VU_SET_PROTOCOL_FEATURES, 0, 1ull << VU_PF_REPLY_ACK)),
                     0);
    /* Before SET_OWNER. */
    assert_int_equal(acked(t, vuf_mem_table(t->msg, 0, &rg, 1), &fd, 1), EPROTO);
    assert_false(t->vf.open[fd]);
    assert_int_equal(acked(t, vuf_u64(t->msg, VU_SET_FEATURES, 0, 0), NULL, 0), EPROTO);
    assert_int_equal(acked(t, vuf_state(t->msg, VU_SET_VRING_NUM, 0, 0, 64), NULL, 0), EPROTO);
    assert_true(send(t, vuf_state(t->msg, VU_GET_VRING_BASE, 0, 0, 0)) < 0);
    ok(t, vuf_none(t->msg, VU_SET_OWNER, 0));
    assert_int_not_equal(acked(t, vuf_none(t->msg, VU_SET_OWNER, 0), NULL, 0), 0);
    /* SET_VRING_ADDR before SET_MEM_TABLE. */
    assert_int_equal(
        acked(t, vuf_addr(t->msg, 0, 0, UA_BASE, UA_BASE + 4096, UA_BASE + 8192), NULL, 0), EPROTO);
    /* A kick before the ring has a size and addresses: nothing starts. */
    fd = fd_new(t);
    assert_int_equal(acked(t, vuf_u64(t->msg, VU_SET_VRING_KICK, 0, 0), &fd, 1), 0);
    assert_false(vu_is_running(t->b));
    /* Device state requests need their protocol feature. */
    fd = fd_new(t);
    assert_true(send_fds(t, vuf_device_state(t->msg, 0, VU_STATE_SAVE), &fd, 1) < 0);
    assert_false(t->vf.open[fd]);
}

static void test_bad_headers_close(void **state)
{
    struct tfx *t = *state;
    int fd = fd_new(t);
    struct vu_stats st;

    vuf_none(t->msg, VU_GET_FEATURES, 0);
    assert_true(send(t, 8) < 0); /* short header */
    vuf_none(t->msg, VU_GET_FEATURES, 0);
    snap_put32(t->msg + 4, 2); /* version 2 */
    assert_true(send(t, VU_HDR_BYTES) < 0);
    vuf_none(t->msg, VU_GET_FEATURES, VU_FLAG_REPLY); /* a reply sent to us */
    assert_true(send(t, VU_HDR_BYTES) < 0);
    vuf_u64(t->msg, VU_SET_FEATURES, 0, 0);
    assert_true(send(t, VU_HDR_BYTES + 4) < 0); /* size field says 8, 4 came */
    vuf_hdr(t->msg, VU_SET_FEATURES, 0, VU_MAX_PAYLOAD + 1);
    assert_true(send(t, VU_HDR_BYTES + VU_MAX_PAYLOAD + 1) < 0); /* oversized */
    /* fds that came with a refused message are closed. */
    vuf_none(t->msg, VU_GET_FEATURES, 0);
    snap_put32(t->msg + 4, 0);
    assert_true(send_fds(t, VU_HDR_BYTES, &fd, 1) < 0);
    assert_false(t->vf.open[fd]);
    vu_get_stats(t->b, &st);
    assert_int_equal(st.closes, 6);
}

static void test_bad_payload_sizes(void **state)
{
    struct tfx *t = *state;

    negotiate(t, true);
    vuf_hdr(t->msg, VU_SET_FEATURES, 0, 4);
    assert_int_equal(acked(t, VU_HDR_BYTES + 4, NULL, 0), EINVAL);
    vuf_hdr(t->msg, VU_SET_VRING_NUM, 0, 12);
    assert_int_equal(acked(t, VU_HDR_BYTES + 12, NULL, 0), EINVAL);
    vuf_hdr(t->msg, VU_SET_VRING_ADDR, 0, 32);
    assert_int_equal(acked(t, VU_HDR_BYTES + 32, NULL, 0), EINVAL);
    /* A request with a reply of its own cannot say "error": close. */
    vuf_hdr(t->msg, VU_GET_VRING_BASE, 0, 4);
    assert_true(send(t, VU_HDR_BYTES + 4) < 0);
    vuf_hdr(t->msg, VU_GET_FEATURES, 0, 8);
    assert_true(send(t, VU_HDR_BYTES + 8) < 0);
}

static void test_unknown_request(void **state)
{
    struct tfx *t = *state;

    negotiate(t, true);
    assert_int_equal(acked(t, vuf_none(t->msg, 63, 0), NULL, 0), ENOSYS);
    assert_int_equal(acked(t, vuf_u64(t->msg, 19 /* SEND_RARP */, 0, 0), NULL, 0), ENOSYS);
    assert_int_equal(acked(t, vuf_none(t->msg, 1000, 0), NULL, 0), ENOSYS);
    /* Without REPLY_ACK we cannot tell whether a reply is awaited: close. */
    assert_true(send(t, vuf_none(t->msg, 63, 0)) < 0);
    assert_true(send(t, vuf_none(t->msg, 0, 0)) < 0);
}

static void test_index_out_of_range(void **state)
{
    struct tfx *t = *state;
    int fd = fd_new(t);

    negotiate(t, true);
    assert_int_equal(acked(t, vuf_state(t->msg, VU_SET_VRING_NUM, 0, 1, 64), NULL, 0), ERANGE);
    assert_int_equal(acked(t, vuf_state(t->msg, VU_SET_VRING_BASE, 0, 8, 0), NULL, 0), ERANGE);
    assert_int_equal(acked(t, vuf_state(t->msg, VU_SET_VRING_ENABLE, 0, 0xffffffffu, 1), NULL, 0),
                     ERANGE);
    assert_int_equal(acked(t, vuf_addr(t->msg, 0, 2, UA_BASE, UA_BASE, UA_BASE), NULL, 0), ERANGE);
    assert_int_equal(acked(t, vuf_u64(t->msg, VU_SET_VRING_KICK, 0, 5), &fd, 1), ERANGE);
    assert_false(t->vf.open[fd]);
    assert_int_equal(
        acked(t, vuf_u64(t->msg, VU_SET_VRING_CALL, 0, 0x1ff | VU_VRING_NOFD), NULL, 0), ERANGE);
    assert_true(send(t, vuf_state(t->msg, VU_GET_VRING_BASE, 0, 1, 0)) < 0);
    assert_int_equal(vu_kick(t->b, 9), -ERANGE);
}

static void test_vring_values(void **state)
{
    struct tfx *t = *state;
    int fd = fd_new(t), fd2 = fd_new(t);

    negotiate(t, true);
    assert_int_equal(acked(t, vuf_state(t->msg, VU_SET_VRING_NUM, 0, 0, 0), NULL, 0), EINVAL);
    assert_int_equal(acked(t, vuf_state(t->msg, VU_SET_VRING_NUM, 0, 0, 48), NULL, 0), EINVAL);
    assert_int_equal(acked(t, vuf_state(t->msg, VU_SET_VRING_NUM, 0, 0, 512), NULL, 0), EINVAL);
    assert_int_equal(acked(t, vuf_state(t->msg, VU_SET_VRING_BASE, 0, 0, 0x10000), NULL, 0),
                     EINVAL);
    assert_int_equal(acked(t, vuf_state(t->msg, VU_SET_VRING_ENABLE, 0, 0, 2), NULL, 0), EINVAL);
    /* Addresses outside the memory table, flags other than VHOST_VRING_F_LOG. */
    assert_int_equal(acked(t, vuf_addr(t->msg, 0, 0, 0x1000, UA_BASE, UA_BASE), NULL, 0), EFAULT);
    assert_int_equal(
        acked(t, vuf_addr(t->msg, 0, 0, UA_BASE, UA_BASE, UA_BASE + FX_ARENA_SIZE - 2), NULL, 0),
        EFAULT);
    vuf_addr(t->msg, 0, 0, UA_BASE, UA_BASE, UA_BASE);
    snap_put32(t->msg + VU_HDR_BYTES + 4, 2);
    assert_int_equal(acked(t, VU_HDR_BYTES + VU_ADDR_BYTES, NULL, 0), EINVAL);
    /* Kick/call/err: reserved bits, fd count against the no-fd flag. */
    assert_int_equal(acked(t, vuf_u64(t->msg, VU_SET_VRING_ERR, 0, 1ull << 12), NULL, 0), EINVAL);
    assert_int_equal(acked(t, vuf_u64(t->msg, VU_SET_VRING_CALL, 0, 0), NULL, 0), EINVAL);
    assert_int_equal(acked(t, vuf_u64(t->msg, VU_SET_VRING_CALL, 0, VU_VRING_NOFD), &fd, 1),
                     EINVAL);
    assert_false(t->vf.open[fd]);
    ok(t, vuf_u64(t->msg, VU_SET_VRING_ERR, 0, VU_VRING_NOFD));
    assert_int_equal(acked(t, vuf_u64(t->msg, VU_SET_VRING_ERR, 0, 0), &fd2, 1), 0);
    assert_true(t->vf.open[fd2]); /* kept until replaced or destroyed */
    /* Features not offered. */
    assert_int_equal(acked(t, vuf_u64(t->msg, VU_SET_FEATURES, 0, 1ull << 63), NULL, 0), EINVAL);
    assert_int_equal(acked(t, vuf_u64(t->msg, VU_SET_PROTOCOL_FEATURES, 0, 1ull << 2), NULL, 0),
                     EINVAL);
}

static void test_ring_outside_memory_at_start(void **state)
{
    struct tfx *t = *state;
    int fd = fd_new(t);

    negotiate(t, true);
    /* Each area begins inside, but 256 descriptors run past the end. */
    ok(t, vuf_state(t->msg, VU_SET_VRING_NUM, 0, 0, 256));
    ok(t, vuf_addr(t->msg, 0, 0, UA_BASE + FX_ARENA_SIZE - 1024, UA_BASE, UA_BASE + 8192));
    assert_int_equal(acked(t, vuf_u64(t->msg, VU_SET_VRING_ERR, 0, 0), &fd, 1), 0);
    ok(t, vuf_u64(t->msg, VU_SET_VRING_KICK, 0, VU_VRING_NOFD));
    assert_int_not_equal(acked(t, vuf_state(t->msg, VU_SET_VRING_ENABLE, 0, 0, 1), NULL, 0), 0);
    assert_false(vu_is_running(t->b));
    assert_int_equal(t->vf.signals[fd], 1); /* the err fd told */
}

static void test_mem_table_errors(void **state)
{
    struct tfx *t = *state;
    struct vuf_region rg[9];
    int fds[9], i;

    assert_int_equal(send(t, vuf_u64(t->msg, VU_SET_PROTOCOL_FEATURES, 0, 1ull << VU_PF_REPLY_ACK)),
                     0);
    ok(t, vuf_none(t->msg, VU_SET_OWNER, 0));
    for (i = 0; i < 9; i++)
        rg[i] = (struct vuf_region){.gpa = (uint64_t)i << 30,
                                    .size = 4096,
                                    .uaddr = UA_BASE + ((uint64_t)i << 30),
                                    .mmap_offset = (uint64_t)i * 4096};
#define FDS(n)                                                                                     \
    do {                                                                                           \
        for (i = 0; i < (n); i++)                                                                  \
            fds[i] = fd_new(t);                                                                    \
    } while (0)
    FDS(1);
    assert_int_equal(acked(t, vuf_mem_table(t->msg, 0, rg, 0), fds, 1), EINVAL); /* 0 regions */
    FDS(8);
    assert_int_equal(acked(t, vuf_mem_table(t->msg, 0, rg, 9), fds, 8), EINVAL); /* > 8 */
    FDS(1);
    assert_int_equal(acked(t, vuf_mem_table(t->msg, 0, rg, 2), fds, 1), EINVAL); /* 1 fd for 2 */
    FDS(2);
    rg[1].gpa = 2048; /* overlaps region 0 */
    assert_int_equal(acked(t, vuf_mem_table(t->msg, 0, rg, 2), fds, 2), EINVAL);
    rg[1].gpa = 1ull << 30;
    FDS(1);
    rg[0].size = 0;
    assert_int_equal(acked(t, vuf_mem_table(t->msg, 0, rg, 1), fds, 1), EINVAL);
    rg[0].size = ~0ull; /* wraps */
    FDS(1);
    assert_int_equal(acked(t, vuf_mem_table(t->msg, 0, rg, 1), fds, 1), EINVAL);
    rg[0].size = 4096;
    FDS(2);
    t->vf.fail_map = true;
    assert_int_equal(acked(t, vuf_mem_table(t->msg, 0, rg, 2), fds, 2), ENOMEM);
    t->vf.fail_map = false;
    FDS(2);
    assert_int_equal(acked(t, vuf_mem_table(t->msg, 0, rg, 2), fds, 2), 0);
    for (i = 0; i < VUFX_MAX_FDS; i++)
        assert_false(t->vf.open[i]); /* every one closed, mapped or not */
#undef FDS
}

static void test_mem_table_while_running(void **state)
{
    struct tfx *t = *state;

    start(t, NULL);
    blk_write_pattern(t, 2, 0x21);
    /* Same memory at a new frontend address (e.g. a remap): the rings keep
     * their guest addresses and go on. */
    mem_table(t, UA_BASE + (1ull << 32));
    assert_true(vu_is_running(t->b));
    blk_write_pattern(t, 3, 0x31);
    blk_check_pattern(t, 2, 0x21);
}

static void test_set_while_started_refused(void **state)
{
    struct tfx *t = *state;

    start(t, NULL);
    assert_int_equal(acked(t, vuf_state(t->msg, VU_SET_VRING_BASE, 0, 0, 5), NULL, 0), EINVAL);
    assert_int_equal(acked(t, vuf_state(t->msg, VU_SET_VRING_NUM, 0, 0, 32), NULL, 0), EBUSY);
    assert_int_equal(
        acked(t, vuf_addr(t->msg, 0, 0, UA_BASE, UA_BASE + 4096, UA_BASE + 8192), NULL, 0), EBUSY);
    blk_write_pattern(t, 4, 0x44); /* still fine */
}

static void test_corrupt_avail_idx_refused_at_start(void **state)
{
    struct tfx *t = *state;
    int kick = fd_new(t);

    start(t, NULL);
    blk_write_pattern(t, 1, 1);
    assert_int_equal(vring_base(t, 0), 1);
    /* The frontend claims a base far behind what the rings say. */
    ok(t, vuf_state(t->msg, VU_SET_VRING_BASE, 0, 0, 40000));
    assert_int_not_equal(acked(t, vuf_u64(t->msg, VU_SET_VRING_KICK, 0, 0), &kick, 1), 0);
    assert_false(vu_is_running(t->b));
}

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
    blk_submit(t, type, sector, len);
    vu_kick(t->b, ring);
    st = blk_complete(t);
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
static void start_two_rings(struct tfx *t, struct virtqueue **vq1, int err[2])
{
    struct vq_config cfg = {.num = QNUM};
    unsigned i;

    backend_free(t);
    assert_int_equal(vu_create(&vufx_ops, &t->vf, &t->b), 0);
    assert_int_equal(vdev_blk_create(&t->dev, vu_guest_mem(t->b), t->disk, DISK_BYTES, NULL), 0);
    assert_int_equal(vdev_blk_set_num_queues(&t->dev, 2), 0);
    assert_int_equal(vu_attach(t->b, &t->dev), 0);
    negotiate(t, true);
    assert_int_equal(get_u64(t, VU_GET_QUEUE_NUM), 2);
    driver_vq_new(t);
    cfg.event_idx = (t->features >> VIRTIO_F_EVENT_IDX) & 1;
    cfg.indirect = (t->features >> VIRTIO_F_INDIRECT_DESC) & 1;
    assert_int_equal(vq_create(&cfg, vq1), 0);
    for (i = 0; i < 2; i++) {
        err[i] = fd_new(t);
        assert_int_equal(acked(t, vuf_u64(t->msg, VU_SET_VRING_ERR, 0, i), &err[i], 1), 0);
        ring_setup_on(t, i, i ? *vq1 : t->vq, 0, NULL, NULL);
        ok(t, vuf_state(t->msg, VU_SET_VRING_ENABLE, 0, i, 1));
    }
    assert_true(vu_is_running(t->b));
}

/* Stop ring idx and start it again where GET_VRING_BASE said (vhost-user.rst
 * "Starting and stopping rings"); returns that base. */
static uint32_t ring_restart(struct tfx *t, unsigned idx, struct virtqueue *vq)
{
    uint64_t d, a, u;
    uint32_t base = vring_base(t, idx);
    int kick = fd_new(t);

    /* The other ring (every caller has two, both active) runs on alone. */
    assert_true(vu_is_running(t->b));
    vq_get_ring_addrs(vq, &d, &a, &u);
    ok(t, vuf_state(t->msg, VU_SET_VRING_BASE, 0, idx, base));
    ok(t, vuf_addr(t->msg, 0, idx, ua_of(t, d), ua_of(t, u), ua_of(t, a)));
    assert_int_equal(acked(t, vuf_u64(t->msg, VU_SET_VRING_KICK, 0, idx), &kick, 1), 0);
    assert_true(vu_is_running(t->b));
    return base;
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
    return blk_complete(t);
}

/* virtio 1.2 5.2.6: IN data is device-writable, OUT data device-readable;
 * the other way round the request fails, nothing moved, counted as bad. */
static void test_blk_wrong_direction_through_vhost_user(void **state)
{
    struct tfx *t = *state;
    unsigned i;

    start(t, NULL);
    blk_write_pattern(t, 2, 0x12);
    memset(t->data, 0x77, 512);
    assert_int_equal(blk_io_dir(t, VIRTIO_BLK_T_IN, 2, 512, false), VIRTIO_BLK_S_IOERR);
    for (i = 0; i < 512; i++)
        assert_int_equal(t->data[i], 0x77);
    memset(t->data, 0x99, 512);
    assert_int_equal(blk_io_dir(t, VIRTIO_BLK_T_OUT, 2, 512, true), VIRTIO_BLK_S_IOERR);
    for (i = 0; i < 512; i++)
        assert_int_equal(t->disk[2 * 512 + i], 0x12);
    assert_true(t->dev.queues[0].stats.bad_chains == 2);
    blk_check_pattern(t, 2, 0x12); /* the ring goes on */
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

    backend_free(t);
    assert_int_equal(vu_create(&vufx_ops, &t->vf, &t->b), 0);
    assert_int_equal(vdev_blk_create_backend(&t->dev, vu_guest_mem(t->b), DISK_BYTES, NULL, NULL),
                     -EINVAL);
    assert_int_equal(vdev_blk_create_backend(&t->dev, vu_guest_mem(t->b), DISK_BYTES, &be, NULL),
                     0);
    assert_int_equal(vu_attach(t->b, &t->dev), 0);
    start(t, NULL);
    be_fail = 0;
    be_flushes = 0;
    blk_write_pattern(t, 9, 0x99); /* checks the bytes reached t->disk */
    blk_check_pattern(t, 9, 0x99);
    assert_int_equal(blk_io(t, VIRTIO_BLK_T_FLUSH, 0, 0), VIRTIO_BLK_S_OK);
    assert_int_equal(be_flushes, 1);
    /* The store fails: every kind of request says IOERR, the queue goes on. */
    be_fail = -EIO;
    assert_int_equal(blk_io(t, VIRTIO_BLK_T_IN, 9, 512), VIRTIO_BLK_S_IOERR);
    assert_int_equal(blk_io(t, VIRTIO_BLK_T_OUT, 9, 512), VIRTIO_BLK_S_IOERR);
    assert_int_equal(blk_io(t, VIRTIO_BLK_T_FLUSH, 0, 0), VIRTIO_BLK_S_IOERR);
    be_fail = 0;
    blk_check_pattern(t, 9, 0x99);
    /* A snapshot of it carries no disk bytes but saves and checks. */
    vring_base(t, 0);
    {
        int fd = fd_new(t);

        assert_int_equal(send_fds(t, vuf_device_state(t->msg, 0, VU_STATE_SAVE), &fd, 1), 0);
        assert_int_equal(get_u64(t, VU_CHECK_DEVICE_STATE), 0);
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

    backend_free(t);
    assert_int_equal(vu_create(&vufx_ops, &t->vf, &t->b), 0);
    assert_int_equal(vdev_rng_create(&t->dev, vu_guest_mem(t->b), 42), 0);
    assert_int_equal(vu_attach(t->b, &t->dev), 0);
    start(t, NULL);
    rng_ref(42, want, sizeof(want));
    assert_int_equal(vq_add_sgs(t->vq, &sg, 0, 1, t), 0);
    vq_kick_prepare(t->vq);
    assert_int_equal(vu_kick(t->b, 0), 1);
    assert_int_equal(vq_get_buf(t->vq, &tok, &len), 0);
    assert_int_equal(len, 64);
    assert_memory_equal(t->data, want, 64);
    /* The stream goes on across a stop and restart of the ring. */
    assert_int_equal(vring_base(t, 0), 1);
    sg.len = 32;
    assert_int_equal(vq_add_sgs(t->vq, &sg, 0, 1, t), 0);
    vq_kick_prepare(t->vq);
    {
        int kick = fd_new(t);

        ok(t, vuf_state(t->msg, VU_SET_VRING_BASE, 0, 0, 1));
        assert_int_equal(acked(t, vuf_u64(t->msg, VU_SET_VRING_KICK, 0, 0), &kick, 1), 0);
    }
    assert_int_equal(vq_get_buf(t->vq, &tok, &len), 0);
    assert_memory_equal(t->data, want + 64, 32);
}

/* ---- device state ---- */

static void state_cycle_prepare(struct tfx *t)
{
    int i;

    start(t, NULL);
    for (i = 0; i < 20; i++)
        blk_write_pattern(t, (uint64_t)i, (uint8_t)(0x80 + i));
}

static void test_state_save_restore_new_backend(void **state)
{
    struct tfx *t = *state;
    uint32_t base;
    int fd, kick, i;

    state_cycle_prepare(t);
    base = vring_base(t, 0);
    assert_int_equal(base, 20);
    /* Requests the driver makes while the device is away. */
    blk_submit(t, VIRTIO_BLK_T_IN, 19, 512);
    fd = fd_new(t);
    assert_int_equal(send_fds(t, vuf_device_state(t->msg, 0, VU_STATE_SAVE), &fd, 1), 0);
    assert_int_equal(vuf_reply_u64(&t->r), VU_VRING_NOFD);
    assert_int_equal(get_u64(t, VU_CHECK_DEVICE_STATE), 0);
    assert_true(t->vf.state_len > 0);
    assert_memory_equal(t->vf.state, "RLSNAP\r\n", 8);

    /* A new backend and device instance over the same disk and memory. */
    backend_free(t);
    memset(&t->dev, 0, sizeof(t->dev));
    backend_new(t);
    negotiate(t, true);
    fd = fd_new(t);
    assert_int_equal(send_fds(t, vuf_device_state(t->msg, 0, VU_STATE_LOAD), &fd, 1), 0);
    assert_int_equal(vuf_reply_u64(&t->r), VU_VRING_NOFD);
    assert_int_equal(get_u64(t, VU_CHECK_DEVICE_STATE), 0);
    assert_true(t->dev.activated);
    ring_setup(t, (uint16_t)base, &kick, NULL);
    enable(t, 1);
    assert_true(vu_is_running(t->b));
    /* The request made while away is served once, with the right data. */
    assert_int_equal(blk_complete(t), VIRTIO_BLK_S_OK);
    assert_int_equal(t->data[0], 0x80 + 19);
    assert_int_equal(blk_complete(t), -1);
    for (i = 0; i < 20; i++)
        blk_check_pattern(t, (uint64_t)i, (uint8_t)(0x80 + i));
    assert_int_equal(vring_base(t, 0), 41);
}

static void test_state_errors(void **state)
{
    struct tfx *t = *state;
    int fd;

    state_cycle_prepare(t);
    /* Rings running: refused, the fd closed. */
    fd = fd_new(t);
    assert_int_equal(send_fds(t, vuf_device_state(t->msg, 0, VU_STATE_SAVE), &fd, 1), 0);
    assert_int_equal(vuf_reply_u64(&t->r), VU_VRING_NOFD | 1);
    assert_false(t->vf.open[fd]);
    vring_base(t, 0);
    /* CHECK without a transfer. */
    assert_int_not_equal(get_u64(t, VU_CHECK_DEVICE_STATE), 0);
    /* Bad phase / direction / fd count. */
    fd = fd_new(t);
    vuf_device_state(t->msg, 0, 2);
    assert_int_equal(send_fds(t, VU_HDR_BYTES + 8, &fd, 1), 0);
    assert_int_equal(vuf_reply_u64(&t->r), VU_VRING_NOFD | 1);
    fd = fd_new(t);
    vuf_device_state(t->msg, 0, VU_STATE_SAVE);
    snap_put32(t->msg + VU_HDR_BYTES + 4, 1);
    assert_int_equal(send_fds(t, VU_HDR_BYTES + 8, &fd, 1), 0);
    assert_int_equal(vuf_reply_u64(&t->r), VU_VRING_NOFD | 1);
    assert_int_equal(send(t, vuf_device_state(t->msg, 0, VU_STATE_SAVE)), 0);
    assert_int_equal(vuf_reply_u64(&t->r), VU_VRING_NOFD | 1);
    /* A good save, then a corrupted copy is refused on load and the device
     * is left as it was. */
    fd = fd_new(t);
    assert_int_equal(send_fds(t, vuf_device_state(t->msg, 0, VU_STATE_SAVE), &fd, 1), 0);
    assert_int_equal(get_u64(t, VU_CHECK_DEVICE_STATE), 0);
    t->vf.state[30] ^= 0x10;
    fd = fd_new(t);
    assert_int_equal(send_fds(t, vuf_device_state(t->msg, 0, VU_STATE_LOAD), &fd, 1), 0);
    assert_int_not_equal(get_u64(t, VU_CHECK_DEVICE_STATE), 0);
    assert_true(t->dev.activated);
    /* An empty one too. */
    t->vf.state_len = 0;
    fd = fd_new(t);
    assert_int_equal(send_fds(t, vuf_device_state(t->msg, 0, VU_STATE_LOAD), &fd, 1), 0);
    assert_int_not_equal(get_u64(t, VU_CHECK_DEVICE_STATE), 0);
    /* LOAD with an fd never collected, then destroy: the fd is closed. */
    fd = fd_new(t);
    assert_int_equal(send_fds(t, vuf_device_state(t->msg, 0, VU_STATE_LOAD), &fd, 1), 0);
}

static void test_reset_owner(void **state)
{
    struct tfx *t = *state;

    start(t, NULL);
    ok(t, vuf_none(t->msg, VU_RESET_OWNER, 0));
    assert_false(vu_is_running(t->b));
    assert_int_equal(acked(t, vuf_state(t->msg, VU_SET_VRING_NUM, 0, 0, 64), NULL, 0), EPROTO);
    ok(t, vuf_none(t->msg, VU_SET_OWNER, 0));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)
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
