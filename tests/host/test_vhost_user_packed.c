/* SPDX-License-Identifier: Apache-2.0 */
/*
 * test_vhost_user_packed.c - cmocka tests of the vhost-user handler on
 * packed rings (VIRTIO_F_RING_PACKED acked; hostsim/vhost_user_vring.c):
 * the frontend is the test, with the real driver virtqueue in its packed
 * layout (drivers/virtio/virtqueue_packed.c) on the rings and the blk model
 * behind the handler, over the fake carrier of test_vhost_user.c
 * (tests/host/vu_fixture.c).
 *
 * What is checked: the offer; traffic with data verified against the RAM
 * disk at sizes that are not powers of two; the vring base encoding
 * (vhost-user.rst "Vring descriptor indices for packed virtqueues": bits
 * 0-14 next avail offset, bit 15 avail wrap counter, bits 16-30 next used
 * offset, bit 31 used wrap counter) against a model of the ring position
 * computed here from the descriptors the requests took, at every step
 * across several wraps, each stop followed by a restart at that base that
 * must go on serving (a wrong offset or counter and the device sees no
 * request); a base the frontend makes up (offsets or wrap counters that do
 * not match the ring) is refused or finds nothing, never a crash; bad
 * bases (offset >= size, on a started ring, split bits) get an error.
 *
 * TEST_FILTER='test_packed_base_*' runs only the matching cases.
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

#define UA_BASE 0x7f3400000000ull /* the frontend's address of the arena */
#define DISK_SECTORS 256
#define DISK_BYTES (DISK_SECTORS * 512)
#define DESC_PER_REQ 3 /* header, data, status: INDIRECT_DESC not acked */

struct tfx {
    struct ring_fixture fx;
    struct vu_backend *b;
    struct vdev dev;
    uint8_t *disk;
    struct virtqueue *vq;
    uint32_t num;
    struct vu_reply r;
    uint8_t msg[VU_MAX_MSG];
    struct vu_fake vf;
    uint8_t *hdr, *data, *status;
    uint64_t features;
    /* The model: ring descriptors the driver has made available so far. */
    uint64_t descs;
};

static struct tfx T;

static void carrier_broken(const char *what, int fd)
{
    fail_msg("the handler %s (fd %d)", what, fd);
}

static int fd_new(struct tfx *t)
{
    int fd = vufx_fd_new(&t->vf);

    assert_true(fd > 0);
    return fd;
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
    t->data = fx_alloc(&t->fx, 512, NULL);
    t->status = fx_alloc(&t->fx, 1, NULL);
    assert_int_equal(vu_create(&vufx_ops, &t->vf, &t->b), 0);
    assert_int_equal(vdev_blk_create(&t->dev, vu_guest_mem(t->b), t->disk, DISK_BYTES, NULL), 0);
    vdev_set_offer_packed(&t->dev, true);
    assert_int_equal(vu_attach(t->b, &t->dev), 0);
    *state = t;
    return 0;
}

static int teardown(void **state)
{
    struct tfx *t = *state;
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

/* ---- frontend helpers ---- */

static int send_fds(struct tfx *t, size_t len, const int *fds, unsigned nfds)
{
    return vu_handle_msg(t->b, t->msg, len, fds, nfds, &t->r);
}

static uint64_t get_u64(struct tfx *t, uint32_t req)
{
    assert_int_equal(send_fds(t, vuf_none(t->msg, req, 0), NULL, 0), 0);
    assert_int_equal(t->r.len, VU_HDR_BYTES + 8);
    return vuf_reply_u64(&t->r);
}

/* Sent with NEED_REPLY (REPLY_ACK negotiated): the ack value. */
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

static uint64_t ua_of(uint64_t gpa)
{
    return UA_BASE + (gpa - FX_GPA_BASE);
}

/* Owner, protocol features, features (packed or not; never INDIRECT, so
 * each request takes DESC_PER_REQ ring descriptors), memory table. */
static void negotiate(struct tfx *t, bool packed)
{
    struct vuf_region rg = {.gpa = FX_GPA_BASE, .size = FX_ARENA_SIZE, .uaddr = UA_BASE};
    uint64_t f = get_u64(t, VU_GET_FEATURES);
    int fd = fd_new(t);

    assert_true(f & (1ull << VIRTIO_F_RING_PACKED)); /* offered */
    assert_int_equal(send_fds(t,
                              vuf_u64(t->msg, VU_SET_PROTOCOL_FEATURES, 0,
                                      get_u64(t, VU_GET_PROTOCOL_FEATURES)),
                              NULL, 0),
                     0);
    ok(t, vuf_none(t->msg, VU_SET_OWNER, 0));
    f &= ~(1ull << VIRTIO_F_INDIRECT_DESC);
    if (!packed)
        f &= ~(1ull << VIRTIO_F_RING_PACKED);
    t->features = f;
    ok(t, vuf_u64(t->msg, VU_SET_FEATURES, 0, f));
    assert_int_equal(acked(t, vuf_mem_table(t->msg, 0, &rg, 1), &fd, 1), 0);
}

static void driver_vq_new(struct tfx *t, uint32_t num)
{
    struct vq_config cfg = {
        .num = num,
        .packed = (t->features >> VIRTIO_F_RING_PACKED) & 1,
        .event_idx = (t->features >> VIRTIO_F_EVENT_IDX) & 1,
    };

    if (t->vq)
        vq_destroy(t->vq);
    assert_int_equal(vq_create(&cfg, &t->vq), 0);
    t->num = num;
    t->descs = 0;
}

/* Ring 0: size, base, addresses, call, kick (which starts it), enable. */
static int ring_start(struct tfx *t, uint32_t base)
{
    uint64_t d, a, u;
    int k = fd_new(t), c = fd_new(t);
    uint64_t err;

    vq_get_ring_addrs(t->vq, &d, &a, &u);
    ok(t, vuf_state(t->msg, VU_SET_VRING_NUM, 0, 0, t->num));
    ok(t, vuf_state(t->msg, VU_SET_VRING_BASE, 0, 0, base));
    /* Packed: desc = descriptor ring, avail = driver event suppression,
     * used = device event suppression. */
    ok(t, vuf_addr(t->msg, 0, 0, ua_of(d), ua_of(u), ua_of(a)));
    assert_int_equal(acked(t, vuf_u64(t->msg, VU_SET_VRING_CALL, 0, 0), &c, 1), 0);
    err = acked(t, vuf_u64(t->msg, VU_SET_VRING_KICK, 0, 0), &k, 1);
    if (err)
        return (int)err;
    ok(t, vuf_state(t->msg, VU_SET_VRING_ENABLE, 0, 0, 1));
    return 0;
}

static uint32_t vring_base(struct tfx *t)
{
    assert_int_equal(send_fds(t, vuf_state(t->msg, VU_GET_VRING_BASE, 0, 0, 0), NULL, 0), 0);
    assert_int_equal(t->r.len, VU_HDR_BYTES + VU_STATE_BYTES);
    return snap_get32(t->r.buf + VU_HDR_BYTES + 4);
}

/* Restart ring 0 after a stop (kick fd only, as QEMU does on `cont`). */
static uint64_t ring_restart(struct tfx *t, uint32_t base)
{
    int k = fd_new(t);

    ok(t, vuf_state(t->msg, VU_SET_VRING_BASE, 0, 0, base));
    return acked(t, vuf_u64(t->msg, VU_SET_VRING_KICK, 0, 0), &k, 1);
}

static void blk_submit(struct tfx *t, uint32_t type, uint64_t sector)
{
    struct vq_sg sg[3] = {
        {.buf = t->hdr, .len = 16}, {.buf = t->data, .len = 512}, {.buf = t->status, .len = 1}};

    snap_put32(t->hdr, type);
    snap_put32(t->hdr + 4, 0);
    snap_put64(t->hdr + 8, sector);
    *t->status = 0xee;
    assert_int_equal(vq_add_sgs(t->vq, sg, type == VIRTIO_BLK_T_OUT ? 2 : 1,
                                type == VIRTIO_BLK_T_OUT ? 1 : 2, t),
                     0);
    vq_kick_prepare(t->vq);
    t->descs += DESC_PER_REQ;
}

/* The completion's status, -1 when none. */
static int blk_complete(struct tfx *t)
{
    void *tok;
    uint32_t len;

    if (vq_get_buf(t->vq, &tok, &len) != 0)
        return -1;
    assert_ptr_equal(tok, t);
    return *t->status;
}

static int blk_io(struct tfx *t, uint32_t type, uint64_t sector)
{
    blk_submit(t, type, sector);
    vu_kick(t->b, 0);
    return blk_complete(t);
}

static void blk_rw(struct tfx *t, uint64_t sector, uint8_t seed)
{
    memset(t->data, seed, 512);
    assert_int_equal(blk_io(t, VIRTIO_BLK_T_OUT, sector), VIRTIO_BLK_S_OK);
    assert_int_equal(t->disk[sector * 512], seed);
    assert_int_equal(t->disk[sector * 512 + 511], seed);
    memset(t->data, 0, 512);
    assert_int_equal(blk_io(t, VIRTIO_BLK_T_IN, sector), VIRTIO_BLK_S_OK);
    assert_int_equal(t->data[0], seed);
    assert_int_equal(t->data[511], seed);
}

/* The model (2.8.1): after `descs` descriptors on a ring of `num`, the
 * next offset is descs % num and the wrap counter, 1 at the start, has
 * flipped once per lap. With every request completed the used side is at
 * the same place. */
static uint32_t model_base(uint64_t descs, uint32_t num)
{
    uint32_t off = (uint32_t)(descs % num);
    uint32_t wrap = ((descs / num) & 1) ? 0 : 1;
    uint32_t half = off | wrap << 15;

    return half | half << 16;
}

/* ---- cases ---- */

static void test_packed_offer_and_traffic(void **state)
{
    struct tfx *t = *state;
    int i;

    negotiate(t, true);
    driver_vq_new(t, 64);
    assert_int_equal(ring_start(t, VU_PACKED_BASE_RESET), 0);
    assert_true(vu_is_running(t->b));
    assert_true(vdev_has_feature(&t->dev, VIRTIO_F_RING_PACKED));
    assert_true(t->dev.queues[0].q.cfg.packed);
    for (i = 0; i < 100; i++) /* 600 descriptors: nine laps */
        blk_rw(t, (uint64_t)(i * 7) % DISK_SECTORS, (uint8_t)(i + 1));
    for (i = 0; i < 100; i++)
        assert_int_equal(t->disk[((uint64_t)(i * 7) % DISK_SECTORS) * 512 + 100],
                         (uint8_t)(i + 1));
    assert_int_equal(vring_base(t), model_base(t->descs, t->num));
}

/* Every stop returns the model's base; every restart there goes on. */
static void base_walk(struct tfx *t, uint32_t num, unsigned steps)
{
    unsigned i;

    negotiate(t, true);
    driver_vq_new(t, num);
    assert_int_equal(ring_start(t, VU_PACKED_BASE_RESET), 0);
    for (i = 0; i < steps; i++) {
        uint32_t base;

        blk_rw(t, i % DISK_SECTORS, (uint8_t)(0x10 + i));
        base = vring_base(t);
        assert_int_equal(base, model_base(t->descs, num));
        assert_false(vu_is_running(t->b));
        /* stopped: the same answer again */
        assert_int_equal(vring_base(t), base);
        assert_int_equal(ring_restart(t, base), 0);
        assert_true(vu_is_running(t->b));
    }
    /* Laps enough that both counters have been 0 and 1 again. */
    assert_true(t->descs >= 2u * num);
}

static void test_packed_base_round_trip_size_5(void **state)
{
    base_walk(*state, 5, 12); /* 72 descriptors: chains straddle the wrap */
}

static void test_packed_base_round_trip_size_3(void **state)
{
    base_walk(*state, 3, 8); /* a chain exactly the size of the ring */
}

static void test_packed_base_round_trip_size_100(void **state)
{
    base_walk(*state, 100, 80);
}

static void test_packed_base_round_trip_size_256(void **state)
{
    base_walk(*state, 256, 200);
}

/* A request made while stopped is served once the ring restarts at the
 * base it was given: the restart re-reads the ring at the seeded offset. */
static void test_packed_request_while_stopped(void **state)
{
    struct tfx *t = *state;
    uint32_t base;
    int i;

    negotiate(t, true);
    driver_vq_new(t, 7);
    assert_int_equal(ring_start(t, VU_PACKED_BASE_RESET), 0);
    for (i = 0; i < 5; i++)
        blk_rw(t, 40 + i, (uint8_t)(0x70 + i));
    base = vring_base(t);
    memset(t->disk + 9 * 512, 0x99, 512);
    blk_submit(t, VIRTIO_BLK_T_IN, 9);
    assert_int_equal(vu_kick(t->b, 0), 0);
    assert_int_equal(blk_complete(t), -1); /* stopped: untouched */
    assert_int_equal(ring_restart(t, base), 0);
    assert_int_equal(blk_complete(t), VIRTIO_BLK_S_OK);
    assert_int_equal(t->data[0], 0x99);
    assert_int_equal(vring_base(t), model_base(t->descs, t->num));
}

/* A base that is in range but not where the ring is: the device finds no
 * available descriptor at that offset (wrong counter or offset), serves
 * nothing, and nothing breaks; the right base afterwards serves again. */
static void test_packed_base_wrong_but_in_range(void **state)
{
    struct tfx *t = *state;
    uint32_t base;

    negotiate(t, true);
    driver_vq_new(t, 16);
    assert_int_equal(ring_start(t, VU_PACKED_BASE_RESET), 0);
    blk_rw(t, 1, 0x11);
    base = vring_base(t);
    /* Avail wrap counter flipped (bit 15): offset 6 holds nothing the
     * driver made available in that lap. */
    assert_int_equal(ring_restart(t, base ^ VU_PACKED_AVAIL_WRAP), 0);
    memset(t->data, 0x22, 512);
    blk_submit(t, VIRTIO_BLK_T_OUT, 2);
    vu_kick(t->b, 0);
    assert_int_equal(blk_complete(t), -1);
    assert_int_not_equal(t->disk[2 * 512], 0x22);
    assert_false(vdq_is_broken(&t->dev.queues[0].q));
    /* Back to the truth: the request waiting there is served. */
    (void)vring_base(t);
    assert_int_equal(ring_restart(t, base), 0);
    assert_int_equal(blk_complete(t), VIRTIO_BLK_S_OK);
    assert_int_equal(t->disk[2 * 512], 0x22);
}

static void test_packed_bad_bases(void **state)
{
    struct tfx *t = *state;

    negotiate(t, true);
    driver_vq_new(t, 10);
    ok(t, vuf_state(t->msg, VU_SET_VRING_NUM, 0, 0, 10));
    /* Offsets at or past the ring size, either half, any wrap bits. */
    assert_int_equal(acked(t, vuf_state(t->msg, VU_SET_VRING_BASE, 0, 0, 10), NULL, 0), EINVAL);
    assert_int_equal(acked(t, vuf_state(t->msg, VU_SET_VRING_BASE, 0, 0, 0x7fff), NULL, 0),
                     EINVAL);
    assert_int_equal(acked(t, vuf_state(t->msg, VU_SET_VRING_BASE, 0, 0, 10u << 16), NULL, 0),
                     EINVAL);
    assert_int_equal(
        acked(t, vuf_state(t->msg, VU_SET_VRING_BASE, 0, 0, 0x8000u | 0x800au << 16), NULL, 0),
        EINVAL);
    /* Every offset below the size with every wrap pair is accepted. */
    ok(t, vuf_state(t->msg, VU_SET_VRING_BASE, 0, 0, 9u | 0x8000u | (9u | 0x8000u) << 16));
    ok(t, vuf_state(t->msg, VU_SET_VRING_BASE, 0, 0, 0));
    /* After all that, a good start serves. */
    assert_int_equal(ring_start(t, VU_PACKED_BASE_RESET), 0);
    blk_rw(t, 5, 0x55);
}

static void test_packed_base_checked_at_start(void **state)
{
    struct tfx *t = *state;
    uint64_t d, a, u;
    int k = fd_new(t);

    negotiate(t, true);
    driver_vq_new(t, 10);
    vq_get_ring_addrs(t->vq, &d, &a, &u);
    /* Base before size (legal order): only the start can check it. */
    ok(t, vuf_state(t->msg, VU_SET_VRING_BASE, 0, 0, 20u | 3u << 16));
    ok(t, vuf_state(t->msg, VU_SET_VRING_NUM, 0, 0, 10));
    ok(t, vuf_addr(t->msg, 0, 0, ua_of(d), ua_of(u), ua_of(a)));
    assert_int_equal(acked(t, vuf_u64(t->msg, VU_SET_VRING_KICK, 0, 0), &k, 1), 0);
    /* Rings start disabled (PROTOCOL_FEATURES): the enable starts it. */
    assert_int_equal(acked(t, vuf_state(t->msg, VU_SET_VRING_ENABLE, 0, 0, 1), NULL, 0), EINVAL);
    assert_false(vu_is_running(t->b));
    /* A base on a started ring is refused, the ring runs on. */
    driver_vq_new(t, 10);
    (void)vring_base(t); /* stop (the failed start left it started) */
    ok(t, vuf_state(t->msg, VU_SET_VRING_ENABLE, 0, 0, 0));
    assert_int_equal(ring_start(t, VU_PACKED_BASE_RESET), 0);
    assert_true(vu_is_running(t->b));
    assert_int_equal(acked(t, vuf_state(t->msg, VU_SET_VRING_BASE, 0, 0, 0), NULL, 0), EINVAL);
    blk_rw(t, 3, 0x33);
}

/* Sizes: packed takes any 1..256, split powers of two only. */
static void test_packed_sizes_and_split_rules(void **state)
{
    struct tfx *t = *state;

    negotiate(t, true);
    ok(t, vuf_state(t->msg, VU_SET_VRING_NUM, 0, 0, 1));
    ok(t, vuf_state(t->msg, VU_SET_VRING_NUM, 0, 0, 255));
    ok(t, vuf_state(t->msg, VU_SET_VRING_NUM, 0, 0, 256));
    assert_int_equal(acked(t, vuf_state(t->msg, VU_SET_VRING_NUM, 0, 0, 0), NULL, 0), EINVAL);
    assert_int_equal(acked(t, vuf_state(t->msg, VU_SET_VRING_NUM, 0, 0, 257), NULL, 0), EINVAL);
    /* The same frontend acking split: 48 and a 17-bit base are refused. */
    t->features &= ~(1ull << VIRTIO_F_RING_PACKED);
    ok(t, vuf_u64(t->msg, VU_SET_FEATURES, 0, t->features));
    assert_int_equal(acked(t, vuf_state(t->msg, VU_SET_VRING_NUM, 0, 0, 48), NULL, 0), EINVAL);
    assert_int_equal(
        acked(t, vuf_state(t->msg, VU_SET_VRING_BASE, 0, 0, VU_PACKED_BASE_RESET), NULL, 0),
        EINVAL);
}

/* One connection, the layouts in turn (QEMU: OVMF split, the OS packed,
 * a reset back to split): each start programs the device afresh. */
static void test_packed_split_packed_across_resets(void **state)
{
    struct tfx *t = *state;
    int round;

    negotiate(t, false);
    for (round = 0; round < 3; round++) {
        bool packed = round == 1;

        if (round) {
            (void)vring_base(t);
            ok(t, vuf_none(t->msg, VU_RESET_DEVICE, 0));
            t->features = packed ? t->features | (1ull << VIRTIO_F_RING_PACKED)
                                 : t->features & ~(1ull << VIRTIO_F_RING_PACKED);
            ok(t, vuf_u64(t->msg, VU_SET_FEATURES, 0, t->features));
        }
        driver_vq_new(t, packed ? 12 : 16);
        assert_int_equal(ring_start(t, packed ? VU_PACKED_BASE_RESET : 0), 0);
        assert_true(vu_is_running(t->b));
        assert_int_equal(t->dev.queues[0].q.cfg.packed, packed);
        blk_rw(t, 10 + round, (uint8_t)(0xa0 + round));
        blk_rw(t, 20 + round, (uint8_t)(0xb0 + round));
    }
    assert_int_equal(t->disk[11 * 512], 0xa1); /* written on the packed round */
}

int main(void)
{
    const struct CMUnitTest tests[] = {
#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)
        T(test_packed_offer_and_traffic),
        T(test_packed_base_round_trip_size_5),
        T(test_packed_base_round_trip_size_3),
        T(test_packed_base_round_trip_size_100),
        T(test_packed_base_round_trip_size_256),
        T(test_packed_request_while_stopped),
        T(test_packed_base_wrong_but_in_range),
        T(test_packed_bad_bases),
        T(test_packed_base_checked_at_start),
        T(test_packed_sizes_and_split_rules),
        T(test_packed_split_packed_across_resets),
#undef T
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
