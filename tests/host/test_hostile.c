/* SPDX-License-Identifier: Apache-2.0 */
/*
 * test_hostile.c - cmocka tests of the hostile device catalogue
 * (hostsim/hostile.c): the parameter parser, the catalogue's shape, after /
 * count / seed semantics, and that each hook really does what its mode
 * says, seen from the real driver virtqueue and from the raw used ring, on
 * the blk model behind the register file (tests/host/dev_fixture.c).
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
#include "hostile.h"
#include "vdev_models.h"
#include "virtio_mmio.h"
#include "virtio_platform.h"

#define SECTORS 64
#define QNUM 16

static struct dev_fixture fixture;
static struct hostile hostile;
static uint8_t *disk;

static int setup(void **state)
{
    struct dev_fixture *f = &fixture;

    dfx_arena(f);
    disk = malloc(SECTORS * 512);
    assert_non_null(disk);
    for (unsigned i = 0; i < SECTORS * 512; i++)
        disk[i] = (uint8_t)(i * 13 + 1);
    assert_int_equal(vdev_blk_create(&f->dev, &f->fx.mem, disk, SECTORS * 512, NULL), 0);
    dfx_attach(f);
    memset(&hostile, 0, sizeof(hostile));
    f->dev.hostile = &hostile;
    dfx_start(f, dfx_device_features(f), QNUM);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    dfx_teardown(*state);
    free(disk);
    return 0;
}

static void set_mode(unsigned mode, uint32_t after, uint32_t count, uint64_t seed)
{
    struct hostile_cfg cfg = {.mode = mode, .after = after, .count = count, .seed = seed};

    hostile_set(&hostile, &cfg);
}

struct req {
    struct virtio_blk_req_hdr hdr;
    uint8_t data[1024 + 64]; /* 1024 used, 64 guard bytes */
    uint8_t status;
};

/* Submit a 1024-byte IN (or OUT) of sector 4 and let the device run. */
static struct req *submit(struct dev_fixture *f, uint32_t type)
{
    struct req *r = fx_alloc(&f->fx, sizeof(*r), NULL);
    struct vq_sg sg[3] = {{.buf = &r->hdr, .len = sizeof(r->hdr)},
                          {.buf = r->data, .len = 1024},
                          {.buf = &r->status, .len = 1}};
    bool out = type == VIRTIO_BLK_T_OUT;

    r->hdr.type = type;
    r->hdr.sector = 4;
    r->status = 0xee;
    memset(r->data, out ? 0x3c : 0, sizeof(r->data));
    dfx_submit(f, 0, sg, out ? 2 : 1, out ? 1 : 2, r);
    return r;
}

/* One misbehaviour (count 1) of mode on the next request. */
static struct req *fire_once(struct dev_fixture *f, unsigned mode, uint32_t type)
{
    set_mode(mode, 0, 1, 0);
    return submit(f, type);
}

/* The driver's view: 0 and len, -EAGAIN (nothing), -EIO (broken ring). */
static int take(struct dev_fixture *f, struct req *r, uint32_t *len)
{
    void *tok = NULL;
    int err = vq_get_buf(f->vq[0], &tok, len);

    if (err == 0)
        assert_ptr_equal(tok, r);
    return err;
}

static const struct virtq_used_elem *used_elem(struct dev_fixture *f, uint16_t i)
{
    return &f->dev.queues[0].q.used->ring[i % QNUM];
}

static uint16_t used_idx(struct dev_fixture *f)
{
    return f->dev.queues[0].q.used->idx;
}

/* ---------------------------------------------------------------- parser */

static void test_parse(void **state)
{
    struct hostile_cfg c;
    const char *why;

    (void)state;
    assert_int_equal(hostile_parse("used-id-range,after=3,count=0x10,seed=12345678901", &c, &why),
                     0);
    assert_int_equal(c.mode, HOSTILE_USED_ID_RANGE);
    assert_int_equal(c.after, 3);
    assert_int_equal(c.count, 16);
    assert_true(c.seed == 12345678901ull);
    assert_int_equal(hostile_parse("off", &c, NULL), 0);
    assert_int_equal(c.mode, HOSTILE_OFF);
    assert_int_equal(hostile_parse("irq-storm,seed=1", &c, NULL), 0);
    assert_int_equal(c.after, 0);
    assert_int_equal(hostile_parse("nonsense", &c, &why), -EINVAL);
    assert_string_equal(why, "unknown mode");
    assert_int_equal(hostile_parse("used-id", &c, NULL), -EINVAL); /* prefix only */
    assert_int_equal(hostile_parse("irq-lost,after=", &c, &why), -EINVAL);
    assert_non_null(why);
    assert_int_equal(hostile_parse("irq-lost,after=1x", &c, NULL), -EINVAL);
    assert_int_equal(hostile_parse("irq-lost,colour=1", &c, NULL), -EINVAL);
    assert_int_equal(hostile_parse("irq-lost,after=4294967296", &c, NULL), -EINVAL);
    assert_int_equal(hostile_parse("irq-lost,", &c, NULL), -EINVAL);
    assert_int_equal(hostile_parse(NULL, &c, NULL), -EINVAL);
}

static void test_catalogue(void **state)
{
    unsigned m, k;

    (void)state;
    assert_true(HOSTILE_NMODES - 1 >= 24);
    for (m = 0; m < HOSTILE_NMODES; m++) {
        const struct hostile_info *i = hostile_info(m);

        assert_non_null(i);
        assert_true(strlen(i->desc) > 10 && strlen(i->desc) < 100);
        assert_int_equal(hostile_find(i->name), (int)m);
        assert_true(i->where != 0);
        for (k = 0; k < m; k++)
            assert_true(strcmp(hostile_info(k)->name, i->name) != 0);
    }
    assert_null(hostile_info(HOSTILE_NMODES));
    assert_int_equal(hostile_find("no-such-mode"), -1);
}

static void test_seed_stream(void **state)
{
    struct hostile a, b;
    struct hostile_cfg c1 = {.mode = HOSTILE_DATA_CORRUPT, .seed = 99};
    struct hostile_cfg c2 = {.mode = HOSTILE_DATA_CORRUPT, .seed = 100};
    bool differ = false;

    (void)state;
    memset(&a, 0, sizeof(a));
    memset(&b, 0, sizeof(b));
    hostile_set(&a, &c1);
    hostile_set(&b, &c1);
    for (int i = 0; i < 100; i++)
        assert_true(hostile_next(&a) == hostile_next(&b));
    hostile_set(&a, &c1);
    hostile_set(&b, &c2);
    for (int i = 0; i < 10; i++)
        differ |= hostile_next(&a) != hostile_next(&b);
    assert_true(differ);
}

/* ------------------------------------------------------- after and count */

static void test_after_count(void **state)
{
    struct dev_fixture *f = *state;
    uint32_t len, want[6] = {1025, 1025, 512, 512, 1025, 1025};

    set_mode(HOSTILE_USED_LEN_UNDER, 2, 2, 0);
    for (int i = 0; i < 6; i++) {
        struct req *r = submit(f, VIRTIO_BLK_T_IN);

        assert_int_equal(take(f, r, &len), 0);
        assert_int_equal(len, want[i]);
    }
    assert_true(hostile.served == 6);
    assert_true(hostile.fired == 2);
}

/* The interrupt modes count requests like the others: after 2, the first two
 * requests are signalled and the third one's interrupt is the one lost (the
 * signal follows the push that counted its request as served). */
static void test_after_interrupts(void **state)
{
    struct dev_fixture *f = *state;
    uint32_t len;
    int before;

    set_mode(HOSTILE_IRQ_LOST, 2, 1, 0);
    for (int i = 0; i < 4; i++) {
        struct req *r;

        before = f->interrupts;
        r = submit(f, VIRTIO_BLK_T_IN);
        assert_int_equal(f->interrupts - before, i == 2 ? 0 : 1);
        assert_int_equal(take(f, r, &len), 0);
    }
    assert_true(hostile.served == 4);
    assert_true(hostile.fired == 1);
}

/* Same seed, same byte flipped; the status byte is spared. */
static unsigned corrupt_offset(struct dev_fixture *f, uint64_t seed)
{
    struct req *r;
    uint32_t len;
    unsigned i;

    set_mode(HOSTILE_DATA_CORRUPT, 0, 1, seed);
    r = submit(f, VIRTIO_BLK_T_IN);
    assert_int_equal(take(f, r, &len), 0);
    assert_int_equal(r->status, VIRTIO_BLK_S_OK);
    for (i = 0; i < 1024; i++) {
        if (r->data[i] != disk[4 * 512 + i])
            break;
    }
    assert_true(i < 1024);
    assert_int_equal(__builtin_popcount(r->data[i] ^ disk[4 * 512 + i]), 1);
    assert_memory_equal(r->data + i + 1, disk + 4 * 512 + i + 1, 1024 - i - 1);
    return i;
}

static void test_seed_reproducible(void **state)
{
    struct dev_fixture *f = *state;
    unsigned a = corrupt_offset(f, 7), b = corrupt_offset(f, 7);

    assert_int_equal(a, b);
    assert_true(corrupt_offset(f, 8) != a || corrupt_offset(f, 9) != a);
}

/* ------------------------------------------------------ each hook fires */

static void test_used_id_range(void **state)
{
    struct dev_fixture *f = *state;
    struct hostile ref = {.rng = 5};
    uint32_t len;
    struct req *r;

    set_mode(HOSTILE_USED_ID_RANGE, 0, 0, 5);
    r = submit(f, VIRTIO_BLK_T_IN);
    assert_int_equal(used_idx(f), 1);
    assert_int_equal(used_elem(f, 0)->id, QNUM + hostile_next(&ref) % 0x10000);
    assert_int_equal(take(f, r, &len), -EIO);
    assert_true(vq_is_broken(f->vq[0]));
}

static void test_used_id_dup_and_not_head(void **state)
{
    struct dev_fixture *f = *state;
    uint32_t len;
    struct req *r;

    r = fire_once(f, HOSTILE_USED_ID_DUP, VIRTIO_BLK_T_IN);
    assert_int_equal(used_idx(f), 2);
    assert_int_equal(used_elem(f, 0)->id, used_elem(f, 1)->id);
    assert_int_equal(take(f, r, &len), 0);
    assert_int_equal(take(f, r, &len), -EIO);
    /* not-head on a fresh session: an id that is no head in flight */
    dfx_start(f, dfx_device_features(f) & ~(1ull << VIRTIO_F_INDIRECT_DESC), QNUM);
    r = fire_once(f, HOSTILE_USED_ID_NOT_HEAD, VIRTIO_BLK_T_IN);
    assert_int_equal(take(f, r, &len), -EIO);
}

static void test_used_id_stale(void **state)
{
    struct dev_fixture *f = *state;
    uint32_t len, head;
    struct req *r;

    set_mode(HOSTILE_USED_ID_STALE, 0, 0, 0);
    r = submit(f, VIRTIO_BLK_T_IN);
    assert_int_equal(take(f, r, &len), 0);
    head = used_elem(f, 0)->id;
    assert_true(hostile.fired == 0);
    dfx_start(f, dfx_device_features(f), QNUM / 2); /* reset + re-init */
    r = submit(f, VIRTIO_BLK_T_OUT);
    assert_true(hostile.fired == 1);
    assert_int_equal(used_idx(f), 2); /* the stale element, then the real one */
    assert_int_equal(f->dev.queues[0].q.used->ring[0].id, head);
}

static void test_used_idx_and_len(void **state)
{
    struct dev_fixture *f = *state;
    uint32_t len;
    struct req *r;

    r = fire_once(f, HOSTILE_USED_IDX_JUMP, VIRTIO_BLK_T_IN);
    assert_int_equal(used_idx(f), 1 + QNUM);
    assert_int_equal(take(f, r, &len), -EIO);

    dfx_start(f, dfx_device_features(f), QNUM);
    r = fire_once(f, HOSTILE_USED_IDX_BACK, VIRTIO_BLK_T_IN);
    assert_int_equal(used_idx(f), (uint16_t)-1);
    assert_int_equal(take(f, r, &len), -EIO);

    dfx_start(f, dfx_device_features(f), QNUM);
    r = fire_once(f, HOSTILE_USED_IDX_EARLY, VIRTIO_BLK_T_IN);
    assert_int_equal(used_idx(f), 1);
    assert_int_equal(used_elem(f, 0)->id, UINT32_MAX); /* not written yet */
    assert_int_equal(take(f, r, &len), -EIO);

    dfx_start(f, dfx_device_features(f), QNUM);
    r = fire_once(f, HOSTILE_USED_LEN_OVER, VIRTIO_BLK_T_IN);
    assert_true(used_elem(f, 0)->len > 1025);
    assert_int_equal(take(f, r, &len), -EIO);
}

static void test_completion(void **state)
{
    struct dev_fixture *f = *state;
    uint64_t t0;
    uint32_t len;
    struct req *r;

    r = fire_once(f, HOSTILE_NEVER_COMPLETE, VIRTIO_BLK_T_IN);
    vmmio_process(f->m);
    assert_int_equal(used_idx(f), 0);
    assert_true(hostile.fired == 1);

    dfx_start(f, dfx_device_features(f), QNUM);
    set_mode(HOSTILE_COMPLETE_LATE, 0, 1, 0);
    t0 = virt_time_ns();
    r = submit(f, VIRTIO_BLK_T_IN);
    assert_int_equal(used_idx(f), 0);
    while (used_idx(f) == 0 && virt_time_ns() - t0 < 1000000000ull)
        vmmio_process(f->m); /* more_work keeps it pending */
    assert_true(virt_time_ns() - t0 >= 20000000ull);
    assert_int_equal(take(f, r, &len), 0);
    assert_int_equal(len, 1025);
    assert_memory_equal(r->data, disk + 4 * 512, 1024);
}

static void test_interrupts(void **state)
{
    struct dev_fixture *f = *state;
    uint32_t len;
    int before;
    struct req *r;

    set_mode(HOSTILE_IRQ_STORM, 0, 1, 3);
    before = f->interrupts;
    r = submit(f, VIRTIO_BLK_T_IN);
    assert_true(f->interrupts - before >= 64);
    assert_int_equal(take(f, r, &len), 0);

    set_mode(HOSTILE_IRQ_LOST, 0, 1, 0);
    before = f->interrupts;
    r = submit(f, VIRTIO_BLK_T_IN);
    assert_int_equal(f->interrupts, before);
    assert_int_equal(take(f, r, &len), 0);

    set_mode(HOSTILE_IRQ_UNSUPPRESSED, 0, 1, 0);
    vq_disable_cb(f->vq[0]);
    before = f->interrupts;
    r = submit(f, VIRTIO_BLK_T_IN);
    assert_int_equal(f->interrupts, before + 1);
    assert_int_equal(take(f, r, &len), 0);

    set_mode(HOSTILE_ISR_MISROUTE, 0, 1, 0);
    f->dev.interrupt_status = 0;
    assert_int_equal(vq_enable_cb(f->vq[0]), 0);
    r = submit(f, VIRTIO_BLK_T_IN);
    assert_int_equal(dfx_rd(f, VIRTIO_MMIO_INTERRUPT_STATUS), VIRTIO_INT_CONFIG_CHANGE);
    assert_int_equal(take(f, r, &len), 0);
}

static void test_buffers(void **state)
{
    struct dev_fixture *f = *state;
    uint32_t len, i, past = 0;
    struct req *r;

    r = fire_once(f, HOSTILE_STATUS_GARBAGE, VIRTIO_BLK_T_IN);
    assert_int_equal(take(f, r, &len), 0);
    assert_true(r->status > VIRTIO_BLK_S_UNSUPP);

    r = fire_once(f, HOSTILE_WRITE_PAST, VIRTIO_BLK_T_IN);
    assert_int_equal(take(f, r, &len), 0);
    for (i = 1024; i < 1024 + 64; i++)
        past += r->data[i] != 0;
    assert_true(past >= 1 && past <= 32);

    r = fire_once(f, HOSTILE_WRITE_READABLE, VIRTIO_BLK_T_OUT);
    assert_int_equal(take(f, r, &len), 0);
    assert_true(r->data[0] != 0x3c); /* the OUT data, device-readable */
}

static void test_registers(void **state)
{
    struct dev_fixture *f = *state;
    uint32_t g1, g2, max;
    uint64_t cap;
    struct req *r;

    r = fire_once(f, HOSTILE_NEEDS_RESET, VIRTIO_BLK_T_IN);
    (void)r;
    assert_int_equal(used_idx(f), 0);
    assert_true(dfx_rd(f, VIRTIO_MMIO_STATUS) & VIRTIO_STATUS_DEVICE_NEEDS_RESET);

    set_mode(HOSTILE_CONFIG_GEN_CHURN, 0, 3, 0);
    g1 = dfx_rd(f, VIRTIO_MMIO_CONFIG_GENERATION);
    g2 = dfx_rd(f, VIRTIO_MMIO_CONFIG_GENERATION);
    assert_true(g1 != g2);
    dfx_rd(f, VIRTIO_MMIO_CONFIG_GENERATION);
    g1 = dfx_rd(f, VIRTIO_MMIO_CONFIG_GENERATION); /* count 3 spent: settles */
    assert_int_equal(dfx_rd(f, VIRTIO_MMIO_CONFIG_GENERATION), g1);

    set_mode(HOSTILE_CAPACITY_SILENT, 0, 0, 0);
    cap = dfx_rd(f, VIRTIO_MMIO_CONFIG) | (uint64_t)dfx_rd(f, VIRTIO_MMIO_CONFIG + 4) << 32;
    assert_true(cap == SECTORS / 2);

    set_mode(HOSTILE_FEATURES_WITHDRAWN, 0, 0, 0);
    assert_false(dfx_negotiate(f, dfx_device_features(f)) & VIRTIO_STATUS_FEATURES_OK);

    set_mode(HOSTILE_QUEUE_SIZE_CHANGE, 0, 0, 0);
    dfx_wr(f, VIRTIO_MMIO_STATUS, 0); /* a re-init */
    dfx_wr(f, VIRTIO_MMIO_QUEUE_SEL, 0);
    max = dfx_rd(f, VIRTIO_MMIO_QUEUE_NUM_MAX);
    assert_true(max < f->dev.queues[0].max_size && (max & (max - 1)) != 0);

    set_mode(HOSTILE_OFF, 0, 0, 0);
    assert_true(dfx_negotiate(f, dfx_device_features(f)) & VIRTIO_STATUS_FEATURES_OK);
}

/* Off: the well-behaved device, every request good and counted. */
static void test_off_is_transparent(void **state)
{
    struct dev_fixture *f = *state;
    uint32_t len;

    set_mode(HOSTILE_OFF, 0, 0, 0);
    for (int i = 0; i < 3 * QNUM; i++) {
        struct req *r = submit(f, VIRTIO_BLK_T_IN);

        assert_int_equal(take(f, r, &len), 0);
        assert_int_equal(len, 1025);
        assert_int_equal(r->status, VIRTIO_BLK_S_OK);
        assert_memory_equal(r->data, disk + 4 * 512, 1024);
    }
    assert_true(hostile.fired == 0);
}

#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_parse),
        cmocka_unit_test(test_catalogue),
        cmocka_unit_test(test_seed_stream),
        T(test_after_count),
        T(test_after_interrupts),
        T(test_seed_reproducible),
        T(test_used_id_range),
        T(test_used_id_dup_and_not_head),
        T(test_used_id_stale),
        T(test_used_idx_and_len),
        T(test_completion),
        T(test_interrupts),
        T(test_buffers),
        T(test_registers),
        T(test_off_is_transparent),
    };

    if (getenv("TEST_FILTER"))
        cmocka_set_test_filter(getenv("TEST_FILTER"));
    return cmocka_run_group_tests_name("hostile", tests, NULL, NULL);
}
