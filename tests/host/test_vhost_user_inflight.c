/* SPDX-License-Identifier: Apache-2.0 */
/*
 * test_vhost_user_inflight.c - GET_INFLIGHT_FD / SET_INFLIGHT_FD in the
 * vhost-user handler (hostsim/vhost_user_inflight.c) through the fake
 * carrier with shared memory (vu_fixture.h, vufx_ops_shm): the region and
 * its fd come back with the reply, the frontend can hand it back, and
 * every bad input (payload size, fds, sizes, version, desc_num, a split-size
 * region with packed acked) is refused with an error, never a crash or a leaked fd. The tracking
 * and its recovery are test_vdq_inflight's; the end to end run with QEMU
 * is tests/test_vhost_user_reconnect.py.
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
#include "snap_le.h"
#include "vdev_models.h"
#include "vdq_inflight.h"
#include "vdq_inflight_packed.h"
#include "vhost_user.h"
#include "vhost_user_front.h"
#include "vu_fixture.h"

#define DISK_BYTES (64 * 512)
#define NQ 2
#define QS 128

struct itfx {
    struct ring_fixture fx;
    struct vu_backend *b;
    struct vdev dev;
    uint8_t *disk;
    struct vu_reply r;
    uint8_t msg[VU_MAX_MSG];
    struct vu_fake vf;
};

static struct itfx T;

static void carrier_broken(const char *what, int fd)
{
    fail_msg("the handler %s (fd %d)", what, fd);
}

static size_t inflight_msg(uint8_t *m, uint32_t req, uint32_t flags, uint32_t size,
                           uint64_t mmap_size, uint16_t nq, uint16_t qs)
{
    size_t len = vuf_hdr(m, req, flags, size);

    memset(m + VU_HDR_BYTES, 0, size);
    snap_put64(m + VU_HDR_BYTES, mmap_size);
    snap_put64(m + VU_HDR_BYTES + 8, 0);
    if (size >= 20) {
        snap_put16(m + VU_HDR_BYTES + 16, nq);
        snap_put16(m + VU_HDR_BYTES + 18, qs);
    }
    return len;
}

static int setup(void **state)
{
    struct itfx *t = &T;
    uint8_t *m = t->msg;

    memset(t, 0, sizeof(*t));
    fx_arena_init(&t->fx);
    vufx_init(&t->vf, t->fx.arena, FX_ARENA_SIZE, 10, carrier_broken);
    t->disk = calloc(1, DISK_BYTES);
    assert_non_null(t->disk);
    assert_int_equal(vu_create(&vufx_ops_shm, &t->vf, &t->b), 0);
    assert_int_equal(vdev_blk_create(&t->dev, vu_guest_mem(t->b), t->disk, DISK_BYTES, NULL), 0);
    assert_int_equal(vdev_blk_set_num_queues(&t->dev, NQ), 0);
    assert_int_equal(vu_attach(t->b, &t->dev), 0);
    /* Offered, and negotiated with REPLY_ACK so SET errors are seen. */
    assert_int_equal(vu_handle_msg(t->b, m, vuf_none(m, VU_GET_PROTOCOL_FEATURES, 0), NULL, 0,
                                   &t->r),
                     0);
    assert_true(snap_get64(t->r.buf + VU_HDR_BYTES) & (1ull << VU_PF_INFLIGHT_SHMFD));
    assert_int_equal(vu_handle_msg(t->b, m,
                                   vuf_u64(m, VU_SET_PROTOCOL_FEATURES, 0,
                                           (1ull << VU_PF_INFLIGHT_SHMFD) |
                                               (1ull << VU_PF_REPLY_ACK) | (1ull << VU_PF_MQ)),
                                   NULL, 0, &t->r),
                     0);
    assert_int_equal(vu_handle_msg(t->b, m, vuf_none(m, VU_SET_OWNER, 0), NULL, 0, &t->r), 0);
    *state = t;
    return 0;
}

static int teardown(void **state)
{
    struct itfx *t = *state;
    int fd;

    vu_destroy(t->b);
    vdev_destroy(&t->dev);
    fd = vufx_first_open(&t->vf);
    if (fd >= 0)
        fail_msg("fd %d never closed", fd);
    free(t->disk);
    fx_teardown(&t->fx);
    return 0;
}

/* SET_INFLIGHT_FD with REPLY_ACK: the ack's value (0 = accepted). */
static uint64_t set_inflight(struct itfx *t, uint32_t size, uint64_t mmap_size, uint16_t nq,
                             uint16_t qs, int nfds)
{
    int fds[2] = {vufx_shm_fd_new(&t->vf), -1};

    if (nfds == 2)
        fds[1] = vufx_shm_fd_new(&t->vf);
    assert_int_equal(vu_handle_msg(t->b, t->msg,
                                   inflight_msg(t->msg, VU_SET_INFLIGHT_FD, VU_FLAG_NEED_REPLY,
                                                size, mmap_size, nq, qs),
                                   fds, nfds > 0 ? (unsigned)nfds : 0, &t->r),
                     0);
    if (nfds == 0) /* not passed: ours to close */
        t->vf.open[fds[0]] = false;
    assert_int_equal(t->r.fd, -1);
    assert_int_equal(t->r.len, VU_HDR_BYTES + 8);
    return snap_get64(t->r.buf + VU_HDR_BYTES);
}

static void test_get_then_set(void **state)
{
    struct itfx *t = *state;
    uint64_t bytes = NQ * vdqi_queue_bytes(QS);
    struct vdqi_region *q1;

    assert_int_equal(vu_handle_msg(t->b, t->msg,
                                   inflight_msg(t->msg, VU_GET_INFLIGHT_FD, 0, VU_INFLIGHT_BYTES, 0,
                                                NQ, QS),
                                   NULL, 0, &t->r),
                     0);
    assert_int_equal(t->r.len, VU_HDR_BYTES + VU_INFLIGHT_BYTES);
    assert_int_equal(snap_get32(t->r.buf), VU_GET_INFLIGHT_FD);
    assert_int_equal(snap_get64(t->r.buf + VU_HDR_BYTES), bytes);
    assert_int_equal(snap_get16(t->r.buf + VU_HDR_BYTES + 16), NQ);
    assert_int_equal(snap_get16(t->r.buf + VU_HDR_BYTES + 18), QS);
    /* The fd comes with the reply and is the carrier's now. */
    assert_true(t->r.fd > 0);
    assert_true(t->vf.is_shm[t->r.fd] && t->vf.open[t->r.fd]);
    t->vf.open[t->r.fd] = false; /* "sent" */
    assert_int_equal(t->vf.shm_size, bytes);
    q1 = (struct vdqi_region *)(t->vf.shm + vdqi_queue_bytes(QS));
    assert_int_equal(q1->version, VDQI_VERSION);
    assert_int_equal(q1->desc_num, QS);
    /* The frontend hands it back (the 20-byte form too). */
    assert_int_equal(set_inflight(t, VU_INFLIGHT_BYTES, bytes, NQ, QS, 1), 0);
    assert_int_equal(set_inflight(t, VU_INFLIGHT_MIN_BYTES, bytes, NQ, QS, 1), 0);
}

static void test_set_bad_input(void **state)
{
    struct itfx *t = *state;
    uint64_t bytes = NQ * vdqi_queue_bytes(QS);
    struct vdqi_region *q0 = (struct vdqi_region *)t->vf.shm;

    t->vf.shm_size = bytes; /* a region of the right size behind the fd */
    memset(t->vf.shm, 0, bytes);
    assert_int_not_equal(set_inflight(t, VU_INFLIGHT_BYTES, bytes, NQ, QS, 0), 0);  /* no fd */
    assert_int_not_equal(set_inflight(t, VU_INFLIGHT_BYTES, bytes, NQ, QS, 2), 0);  /* two */
    assert_int_not_equal(set_inflight(t, 16, bytes, NQ, QS, 1), 0);                 /* short */
    assert_int_not_equal(set_inflight(t, VU_INFLIGHT_BYTES, bytes - 64, NQ, QS, 1), 0); /* size */
    assert_int_not_equal(set_inflight(t, VU_INFLIGHT_BYTES, bytes, 0, QS, 1), 0);
    assert_int_not_equal(set_inflight(t, VU_INFLIGHT_BYTES, bytes, 9, QS, 1), 0); /* > rings */
    assert_int_not_equal(set_inflight(t, VU_INFLIGHT_BYTES, 2 * vdqi_queue_bytes(1024), NQ,
                                      1024, 1), 0); /* above the model's queue size */
    t->vf.shm_size = bytes - 1; /* past its fd */
    assert_int_not_equal(set_inflight(t, VU_INFLIGHT_BYTES, bytes, NQ, QS, 1), 0);
    t->vf.shm_size = bytes;
    q0->version = 3; /* unknown version */
    assert_int_not_equal(set_inflight(t, VU_INFLIGHT_BYTES, bytes, NQ, QS, 1), 0);
    q0->version = VDQI_VERSION;
    q0->desc_num = 64; /* queue size mismatch */
    assert_int_not_equal(set_inflight(t, VU_INFLIGHT_BYTES, bytes, NQ, QS, 1), 0);
    q0->desc_num = QS;
    q0->features = 1;
    assert_int_not_equal(set_inflight(t, VU_INFLIGHT_BYTES, bytes, NQ, QS, 1), 0);
    /* A fresh region (version 0) is initialised and taken. */
    memset(t->vf.shm, 0, bytes);
    assert_int_equal(set_inflight(t, VU_INFLIGHT_BYTES, bytes, NQ, QS, 1), 0);
    assert_int_equal(q0->version, VDQI_VERSION);
    assert_int_equal(q0->desc_num, QS);
}

/* GET's bad input closes the connection (it has a reply of its own);
 * with VIRTIO_F_RING_PACKED acked it answers "no region" (mmap_size 0,
 * no fd). */
static void test_get_bad_input_and_packed(void **state)
{
    struct itfx *t = *state;
    uint8_t *m = t->msg;

    assert_true(vu_handle_msg(t->b, m, inflight_msg(m, VU_GET_INFLIGHT_FD, 0, 8, 0, NQ, QS), NULL,
                              0, &t->r) < 0);
    assert_int_equal(t->r.fd, -1);
    assert_true(vu_handle_msg(t->b, m,
                              inflight_msg(m, VU_GET_INFLIGHT_FD, 0, VU_INFLIGHT_BYTES, 0, 0, QS),
                              NULL, 0, &t->r) < 0);
    assert_true(vu_handle_msg(t->b, m,
                              inflight_msg(m, VU_GET_INFLIGHT_FD, 0, VU_INFLIGHT_BYTES, 0, NQ,
                                           4096),
                              NULL, 0, &t->r) < 0);
    assert_int_equal(t->r.fd, -1);
    vdev_set_offer_packed(&t->dev, true);
    assert_int_equal(vu_handle_msg(t->b, m,
                                   vuf_u64(m, VU_SET_FEATURES, 0,
                                           (1ull << VIRTIO_F_VERSION_1) |
                                               (1ull << VIRTIO_F_RING_PACKED)),
                                   NULL, 0, &t->r),
                     0);
    assert_int_equal(vu_handle_msg(t->b, m,
                                   inflight_msg(m, VU_GET_INFLIGHT_FD, 0, VU_INFLIGHT_BYTES, 0, NQ,
                                                QS),
                                   NULL, 0, &t->r),
                     0);
    /* Packed acked: the region has the packed layout (QueueRegionPacked
     * headers, 32-byte DescStatePacked entries, free list 0 -> 1 -> ...). */
    assert_int_equal(t->r.len, VU_HDR_BYTES + VU_INFLIGHT_BYTES);
    assert_int_equal(snap_get64(t->r.buf + VU_HDR_BYTES), NQ * vdqip_queue_bytes(QS));
    assert_true(t->r.fd > 0);
    t->vf.open[t->r.fd] = false; /* "sent" */
    {
        struct vdqip_region *q1 = (struct vdqip_region *)(t->vf.shm + vdqip_queue_bytes(QS));

        assert_int_equal(q1->version, VDQIP_VERSION);
        assert_int_equal(q1->desc_num, QS);
        assert_int_equal(q1->used_wrap_counter, 1);
        assert_int_equal(q1->desc[0].next, 1);
        assert_int_equal(q1->desc[QS - 1].next, QS);
    }
    /* Handed back: accepted at the packed size, refused at the split size. */
    assert_int_equal(set_inflight(t, VU_INFLIGHT_BYTES, NQ * vdqip_queue_bytes(QS), NQ, QS, 1), 0);
    assert_int_not_equal(set_inflight(t, VU_INFLIGHT_BYTES, NQ * vdqi_queue_bytes(QS), NQ, QS, 1),
                         0);
}

/* Without the protocol feature both are refused. */
static void test_needs_the_protocol_feature(void **state)
{
    struct itfx *t = *state;
    uint8_t *m = t->msg;

    assert_int_equal(vu_handle_msg(t->b, m,
                                   vuf_u64(m, VU_SET_PROTOCOL_FEATURES, 0, 1ull << VU_PF_REPLY_ACK),
                                   NULL, 0, &t->r),
                     0);
    t->vf.shm_size = NQ * vdqi_queue_bytes(QS);
    assert_int_not_equal(set_inflight(t, VU_INFLIGHT_BYTES, t->vf.shm_size, NQ, QS, 1), 0);
    assert_true(vu_handle_msg(t->b, m,
                              inflight_msg(m, VU_GET_INFLIGHT_FD, 0, VU_INFLIGHT_BYTES, 0, NQ, QS),
                              NULL, 0, &t->r) < 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_get_then_set, setup, teardown),
        cmocka_unit_test_setup_teardown(test_set_bad_input, setup, teardown),
        cmocka_unit_test_setup_teardown(test_get_bad_input_and_packed, setup, teardown),
        cmocka_unit_test_setup_teardown(test_needs_the_protocol_feature, setup, teardown),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
