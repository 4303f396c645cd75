/* SPDX-License-Identifier: Apache-2.0 */
/*
 * vu_tfx.c - the vhost-user handler tests' frontend helpers (vu_tfx.h).
 */
#include "vu_tfx.h"

#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "virtio_platform.h"

struct tfx vt_tfx;

/* ---- the fake carrier (vu_fixture.h) ---- */

static void carrier_broken(const char *what, int fd)
{
    fail_msg("the handler %s (fd %d)", what, fd);
}

int vt_fd_new(struct tfx *t)
{
    int fd = vufx_fd_new(&t->vf);

    assert_true(fd > 0); /* not out of fds */
    return fd;
}

void vt_fds_all_closed(struct tfx *t)
{
    int fd = vufx_first_open(&t->vf);

    if (fd >= 0)
        fail_msg("fd %d never closed", fd);
}

/* ---- frontend helpers ---- */

void vt_backend_new(struct tfx *t)
{
    assert_int_equal(vu_create(&vufx_ops, &t->vf, &t->b), 0);
    assert_int_equal(vdev_blk_create(&t->dev, vu_guest_mem(t->b), t->disk, DISK_BYTES, NULL), 0);
    assert_int_equal(vu_attach(t->b, &t->dev), 0);
}

void vt_backend_free(struct tfx *t)
{
    vu_destroy(t->b);
    vdev_destroy(&t->dev);
    t->b = NULL;
}

int vt_setup(void **state)
{
    struct tfx *t = &vt_tfx;

    memset(t, 0, sizeof(*t));
    fx_arena_init(&t->fx);
    vufx_init(&t->vf, t->fx.arena, FX_ARENA_SIZE, 10, carrier_broken);
    t->disk = calloc(1, DISK_BYTES);
    assert_non_null(t->disk);
    t->hdr = fx_alloc(&t->fx, 16, NULL);
    t->data = fx_alloc(&t->fx, 64 * 512, NULL);
    t->status = fx_alloc(&t->fx, 1, NULL);
    vt_backend_new(t);
    *state = t;
    return 0;
}

int vt_teardown(void **state)
{
    struct tfx *t = *state;

    vt_backend_free(t);
    vt_fds_all_closed(t);
    if (t->vq)
        vq_destroy(t->vq);
    free(t->disk);
    fx_teardown(&t->fx);
    return 0;
}

/* Send msg (len bytes) with fds; returns the handler's verdict. */
int vt_send_fds(struct tfx *t, size_t len, const int *fds, unsigned nfds)
{
    return vu_handle_msg(t->b, t->msg, len, fds, nfds, &t->r);
}

int vt_send(struct tfx *t, size_t len)
{
    return vt_send_fds(t, len, NULL, 0);
}

/* A request with a u64 reply. */
uint64_t vt_get_u64(struct tfx *t, uint32_t req)
{
    assert_int_equal(vt_send(t, vuf_none(t->msg, req, 0)), 0);
    assert_int_equal(t->r.len, VU_HDR_BYTES + 8);
    assert_int_equal(snap_get32(t->r.buf), req);
    assert_int_equal(snap_get32(t->r.buf + 4), VU_FLAG_VERSION | VU_FLAG_REPLY);
    return vuf_reply_u64(&t->r);
}

/* A request sent with NEED_REPLY (REPLY_ACK negotiated): the ack value. */
uint64_t vt_acked(struct tfx *t, size_t len, const int *fds, unsigned nfds)
{
    snap_put32(t->msg + 4, snap_get32(t->msg + 4) | VU_FLAG_NEED_REPLY);
    assert_int_equal(vt_send_fds(t, len, fds, nfds), 0);
    assert_int_equal(t->r.len, VU_HDR_BYTES + 8);
    return vuf_reply_u64(&t->r);
}

void vt_ok(struct tfx *t, size_t len)
{
    assert_int_equal(vt_acked(t, len, NULL, 0), 0);
}

uint64_t vt_ua_of(struct tfx *t, uint64_t gpa)
{
    (void)t;
    return UA_BASE + (gpa - FX_GPA_BASE);
}

void vt_mem_table(struct tfx *t, uint64_t ua)
{
    struct vuf_region rg = {.gpa = FX_GPA_BASE, .size = FX_ARENA_SIZE, .uaddr = ua};
    int fd = vt_fd_new(t);

    assert_int_equal(vt_acked(t, vuf_mem_table(t->msg, 0, &rg, 1), &fd, 1), 0);
    assert_false(t->vf.open[fd]); /* mapped, then closed */
}

/* Owner, features (with PROTOCOL_FEATURES unless pf is false), protocol
 * features, memory table. */
void vt_negotiate(struct tfx *t, bool pf)
{
    uint64_t f;

    f = vt_get_u64(t, VU_GET_FEATURES);
    assert_true(f & (1ull << VU_F_PROTOCOL_FEATURES));
    assert_int_equal(vt_get_u64(t, VU_GET_PROTOCOL_FEATURES),
                     (1ull << VU_PF_MQ) | (1ull << VU_PF_REPLY_ACK) | (1ull << VU_PF_CONFIG) |
                         (1ull << VU_PF_RESET_DEVICE) | (1ull << VU_PF_DEVICE_STATE) |
                         (1ull << VU_PF_CONFIGURE_MEM_SLOTS) | (1ull << VU_PF_BACKEND_REQ) |
                         (1ull << VU_PF_LOG_SHMFD));
    assert_int_equal(vt_send(t, vuf_u64(t->msg, VU_SET_PROTOCOL_FEATURES, 0,
                                        vt_get_u64(t, VU_GET_PROTOCOL_FEATURES))),
                     0);
    assert_int_equal(t->r.len, 0);
    vt_ok(t, vuf_none(t->msg, VU_SET_OWNER, 0));
    if (!pf)
        f &= ~(1ull << VU_F_PROTOCOL_FEATURES);
    t->features = f;
    vt_ok(t, vuf_u64(t->msg, VU_SET_FEATURES, 0, f));
    vt_mem_table(t, UA_BASE);
}

void vt_driver_vq_new(struct tfx *t)
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
void vt_ring_setup_on(struct tfx *t, unsigned idx, struct virtqueue *vq, uint16_t base, int *kick,
                      int *call)
{
    uint64_t d, a, u;
    int k = vt_fd_new(t), c = vt_fd_new(t);

    vq_get_ring_addrs(vq, &d, &a, &u);
    vt_ok(t, vuf_state(t->msg, VU_SET_VRING_NUM, 0, idx, QNUM));
    vt_ok(t, vuf_state(t->msg, VU_SET_VRING_BASE, 0, idx, base));
    vt_ok(t, vuf_addr(t->msg, 0, idx, vt_ua_of(t, d), vt_ua_of(t, u), vt_ua_of(t, a)));
    assert_int_equal(vt_acked(t, vuf_u64(t->msg, VU_SET_VRING_CALL, 0, idx), &c, 1), 0);
    assert_int_equal(vt_acked(t, vuf_u64(t->msg, VU_SET_VRING_KICK, 0, idx), &k, 1), 0);
    if (kick)
        *kick = k;
    if (call)
        *call = c;
}

/* Ring 0 set up on t->vq at base; kick/call fds returned. */
void vt_ring_setup(struct tfx *t, uint16_t base, int *kick, int *call)
{
    vt_ring_setup_on(t, 0, t->vq, base, kick, call);
}

void vt_enable(struct tfx *t, unsigned on)
{
    vt_ok(t, vuf_state(t->msg, VU_SET_VRING_ENABLE, 0, 0, on));
}

void vt_start(struct tfx *t, int *call)
{
    vt_negotiate(t, true);
    vt_driver_vq_new(t);
    vt_ring_setup(t, 0, NULL, call);
    assert_false(vu_is_running(t->b)); /* rings start disabled */
    vt_enable(t, 1);
    assert_true(vu_is_running(t->b));
}

/* Submit one blk request on t->vq without processing it. */
void vt_blk_submit(struct tfx *t, uint32_t type, uint64_t sector, uint32_t len)
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
int vt_blk_complete(struct tfx *t)
{
    void *tok;
    uint32_t len;

    if (vq_get_buf(t->vq, &tok, &len) != 0)
        return -1;
    assert_ptr_equal(tok, t);
    return *t->status;
}

int vt_blk_io(struct tfx *t, uint32_t type, uint64_t sector, uint32_t len)
{
    vt_blk_submit(t, type, sector, len);
    vu_kick(t->b, 0);
    return vt_blk_complete(t);
}

void vt_blk_write_pattern(struct tfx *t, uint64_t sector, uint8_t seed)
{
    memset(t->data, seed, 512);
    assert_int_equal(vt_blk_io(t, VIRTIO_BLK_T_OUT, sector, 512), VIRTIO_BLK_S_OK);
    assert_int_equal(t->disk[sector * 512], seed);
}

void vt_blk_check_pattern(struct tfx *t, uint64_t sector, uint8_t seed)
{
    memset(t->data, 0, 512);
    assert_int_equal(vt_blk_io(t, VIRTIO_BLK_T_IN, sector, 512), VIRTIO_BLK_S_OK);
    assert_int_equal(t->data[0], seed);
    assert_int_equal(t->data[511], seed);
}

uint32_t vt_vring_base(struct tfx *t, unsigned idx)
{
    assert_int_equal(vt_send(t, vuf_state(t->msg, VU_GET_VRING_BASE, 0, idx, 0)), 0);
    assert_int_equal(t->r.len, VU_HDR_BYTES + VU_STATE_BYTES);
    assert_int_equal(snap_get32(t->r.buf + VU_HDR_BYTES), idx);
    return snap_get32(t->r.buf + VU_HDR_BYTES + 4);
}
