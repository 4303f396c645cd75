/* SPDX-License-Identifier: Apache-2.0 */
/*
 * snap_harness.c - what the snapshot test binaries share (snap_harness.h):
 * the five models behind vmmio with the fixture driver, split or packed
 * (sh_packed), save / replace-instance helpers, request helpers, the
 * refused-snapshot checks and the random device step of the traffic tests.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <pthread.h>
#include <sched.h>

#include "crc32c.h"
#include "dev_fixture.h"
#include "snap_fixture.h"
#include "snap_le.h"
#include "snapshot.h"
#include "vdev_models.h"
#include "virtio_mmio.h"
#include "virtio_platform.h"

#include "snap_harness.h"

struct dev_fixture fixture;
enum kind fixture_kind;
uint8_t *blk_disk;
bool sh_packed;

void model_create(struct dev_fixture *f, enum kind k)
{
    model_create_on(f, &f->dev, k);
}

void model_create_on(struct dev_fixture *f, struct vdev *d, enum kind k)
{
    switch (k) {
    case K_BLK:
        assert_int_equal(vdev_blk_create(d, &f->fx.mem, blk_disk, BLK_BYTES, NULL), 0);
        break;
    case K_NET:
        assert_int_equal(vdev_net_create(d, &f->fx.mem, NULL), 0);
        break;
    case K_RNG:
        assert_int_equal(vdev_rng_create(d, &f->fx.mem, RNG_SEED), 0);
        break;
    case K_CON:
        assert_int_equal(vdev_console_create(d, &f->fx.mem, 80, 25), 0);
        break;
    default:
        assert_int_equal(vdev_pmem_create(d, &f->fx.mem, PMEM_START, PMEM_SIZE, NULL, NULL), 0);
        break;
    }
    /* Packed runs: offered, and the fixture driver (dfx_start with the
     * device's features) acks it and creates packed queues. */
    vdev_set_offer_packed(d, sh_packed);
}

int setup_kind(void **state, enum kind k)
{
    struct dev_fixture *f = &fixture;
    unsigned i;

    dfx_arena(f);
    blk_disk = malloc(BLK_BYTES);
    assert_non_null(blk_disk);
    for (i = 0; i < BLK_BYTES; i++)
        blk_disk[i] = (uint8_t)(i * 13 + 1);
    fixture_kind = k;
    model_create(f, k);
    dfx_attach(f);
    *state = f;
    return 0;
}

int setup_kind_packed(void **state, enum kind k, bool packed)
{
    sh_packed = packed;
    return setup_kind(state, k);
}

int setup_blk(void **state)
{
    return setup_kind_packed(state, K_BLK, false);
}
int setup_net(void **state)
{
    return setup_kind_packed(state, K_NET, false);
}
int setup_rng(void **state)
{
    return setup_kind_packed(state, K_RNG, false);
}
int setup_con(void **state)
{
    return setup_kind_packed(state, K_CON, false);
}
int setup_pmem(void **state)
{
    return setup_kind_packed(state, K_PMEM, false);
}

int teardown(void **state)
{
    dfx_teardown(*state);
    free(blk_disk);
    blk_disk = NULL;
    return 0;
}

void *galloc(struct dev_fixture *f, size_t len)
{
    return fx_alloc(&f->fx, len, NULL);
}

/* A full save of the (sleeping) device into a malloc'd buffer. */
uint8_t *save(struct dev_fixture *f, unsigned flags, size_t *len)
{
    size_t n = snap_size(f->m, flags), got = 0;
    uint8_t *b = malloc(n);

    assert_non_null(b);
    assert_int_equal(snap_save(f->m, flags, b, n, &got), 0);
    assert_int_equal(got, n);
    *len = n;
    return b;
}

/* Destroy the instance and restore snap into a new one over the same guest
 * memory (and the same disk); left asleep when !wake. */
void replace_instance(struct dev_fixture *f, const uint8_t *snap, size_t len, bool wake)
{
    char err[256];
    int rc;

    vmmio_destroy(f->m);
    vdev_destroy(&f->dev);
    model_create(f, fixture_kind);
    dfx_attach(f);
    vmmio_sleep(f->m);
    rc = snap_restore(f->m, snap, len, err, sizeof(err));
    if (rc)
        fail_msg("restore refused: %s", err);
    if (wake)
        vmmio_wake(f->m);
}

/* ------------------------------------------------------------ requests */

/* rng: one request of len bytes; returns its token (the buffer). */
uint8_t *rng_submit(struct dev_fixture *f, uint8_t *buf, uint32_t len, bool kick)
{
    struct vq_sg sg = {.buf = buf, .len = len};

    assert_int_equal(vq_add_sgs(f->vq[0], &sg, 0, 1, buf), 0);
    if (kick)
        assert_int_equal(vq_kick(f->vq[0]), 0);
    return buf;
}

/* The reference splitmix64 byte stream (vdev_models.h). */

uint8_t rng_ref_byte(struct rng_ref *r)
{
    if (r->used >= 8) {
        uint64_t z;

        r->s += 0x9e3779b97f4a7c15ull;
        z = r->s;
        z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
        z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
        r->word = z ^ (z >> 31);
        r->used = 0;
    }
    return (uint8_t)(r->word >> (8 * r->used++));
}

void blk_submit(struct dev_fixture *f, struct blk_req *r, uint32_t type, uint64_t sector,
                uint8_t *data, uint32_t len, bool kick)
{
    struct vq_sg sg[3];
    bool is_out = type == VIRTIO_BLK_T_OUT;

    r->hdr.type = type;
    r->hdr.sector = sector;
    r->status = 0xee;
    sg[0] = (struct vq_sg){.buf = &r->hdr, .len = sizeof(r->hdr)};
    sg[1] = (struct vq_sg){.buf = data, .len = len};
    sg[2] = (struct vq_sg){.buf = &r->status, .len = 1};
    assert_int_equal(vq_add_sgs(f->vq[0], sg, is_out ? 2 : 1, is_out ? 1 : 2, r), 0);
    if (kick)
        assert_int_equal(vq_kick(f->vq[0]), 0);
}

/* Put f's device into a state worth saving: started, some traffic done. */
void warm_up(struct dev_fixture *f)
{
    unsigned i;

    dfx_start(f, dfx_device_features(f), QSIZE);
    switch (fixture_kind) {
    case K_BLK: {
        struct blk_req *r = galloc(f, sizeof(*r));
        uint8_t *d = galloc(f, 512);

        for (i = 0; i < 5; i++) {
            memset(d, (int)i, 512);
            blk_submit(f, r, VIRTIO_BLK_T_OUT, i, d, 512, true);
            vmmio_process(f->m);
            assert_int_equal(dfx_used(f, 0, r), 1);
        }
        break;
    }
    case K_RNG: {
        uint8_t *b = galloc(f, 64);

        for (i = 0; i < 3; i++) {
            rng_submit(f, b, 13, true);
            vmmio_process(f->m);
            assert_int_equal(dfx_used(f, 0, b), 13);
        }
        break;
    }
    case K_NET: {
        /* Frames wait in the backlog: no RX buffers. */
        for (i = 0; i < 3; i++) {
            struct virtio_net_hdr *h = galloc(f, sizeof(*h) + 100);
            struct vq_sg sg = {.buf = h, .len = sizeof(*h) + 50 + i};

            memset(h + 1, 0x40 + (int)i, 100);
            dfx_submit(f, VIRTIO_NET_TXQ, &sg, 1, 0, h);
            assert_int_equal(dfx_used(f, VIRTIO_NET_TXQ, h), 0);
        }
        assert_int_equal(vdev_net_backlog_len(&f->dev), 3);
        break;
    }
    case K_CON: {
        uint8_t *b = galloc(f, 32);
        struct vq_sg sg = {.buf = b, .len = 11};

        memcpy(b, "hello world", 11);
        dfx_submit(f, VIRTIO_CONSOLE_TXQ0, &sg, 1, 0, b);
        assert_int_equal(dfx_used(f, VIRTIO_CONSOLE_TXQ0, b), 0);
        break;
    }
    default: {
        uint32_t *req = galloc(f, 4), *resp = galloc(f, 4);
        struct vq_sg sg[2] = {{.buf = req, .len = 4}, {.buf = resp, .len = 4}};

        *req = VIRTIO_PMEM_REQ_TYPE_FLUSH;
        dfx_submit(f, 0, sg, 1, 1, sg);
        assert_int_equal(dfx_used(f, 0, sg), 4);
        break;
    }
    }
}

/* ------------------------------------------------------------ validation */

/* Restore snap into f's (sleeping, live) device: refused with -EINVAL, the
 * error contains want, and a full save before and after is identical. */
void expect_refused_rc(struct dev_fixture *f, const uint8_t *snap, size_t len, const char *want,
                       int want_rc)
{
    size_t l1, l2;
    uint8_t *before = save(f, SNAP_F_CONTENT, &l1), *after;
    char err[256];
    int rc;

    memset(err, 'x', sizeof(err));
    rc = snap_restore(f->m, snap, len, err, sizeof(err));
    if (rc != want_rc)
        fail_msg("rc %d (want %d), err '%s', want '%s'", rc, want_rc, err, want);
    if (want && !strstr(err, want))
        fail_msg("error '%s' does not say '%s'", err, want);
    assert_true(strlen(err) > 0 && strlen(err) < sizeof(err));
    assert_non_null(strchr(err, ':')); /* "<section>: <reason>" */
    /* snap_check says the same without applying. */
    if (want_rc == -EINVAL)
        assert_int_equal(snap_check(f->m, snap, len, err, sizeof(err)), -EINVAL);
    after = save(f, SNAP_F_CONTENT, &l2);
    assert_int_equal(l1, l2);
    assert_memory_equal(before, after, l1);
    free(before);
    free(after);
}

void expect_refused(struct dev_fixture *f, const uint8_t *snap, size_t len, const char *want)
{
    expect_refused_rc(f, snap, len, want, -EINVAL);
}

/* Copy of ref with a field in section tag[nth] changed, CRCs fixed. */
uint8_t *edit_copy(const uint8_t *ref, size_t len)
{
    uint8_t *b = malloc(len);

    assert_non_null(b);
    memcpy(b, ref, len);
    return b;
}

void expect_field_refused(struct dev_fixture *f, const uint8_t *ref, size_t len, const char *tag,
                          unsigned nth, unsigned off, enum field_size sz, uint64_t v,
                          const char *want)
{
    uint8_t *b = edit_copy(ref, len), *p;
    uint32_t plen;

    p = sfx_find(b, len, tag, nth, &plen);
    assert_non_null(p);
    assert_true(off + sz <= plen);
    switch (sz) {
    case F8:
        p[off] = (uint8_t)v;
        break;
    case F16:
        snap_put16(p + off, (uint16_t)v);
        break;
    case F32:
        snap_put32(p + off, (uint32_t)v);
        break;
    default:
        snap_put64(p + off, v);
    }
    sfx_fix_crcs(b, len, 0);
    expect_refused(f, b, len, want);
    free(b);
}

/* ------------------------------------------------------------ corruption */

/* Every single-bit flip and every truncation (to an exact-size buffer, so
 * ASan sees any overread) of the reference snapshot is refused with a
 * message; the device is unchanged (a full save before and after). */
void corrupt_all(struct dev_fixture *f, const uint8_t *ref, size_t len)
{
    uint8_t *b = edit_copy(ref, len), *before;
    size_t bit, n, lb;
    char err[256];

    before = save(f, 0, &lb);
    assert_int_equal(lb, len);
    for (bit = 0; bit < 8 * len; bit++) {
        b[bit / 8] ^= (uint8_t)(1u << (bit % 8));
        err[0] = 0;
        if (snap_restore(f->m, b, len, err, sizeof(err)) != -EINVAL || !err[0])
            fail_msg("bit %zu accepted or no message (%s)", bit, err);
        b[bit / 8] ^= (uint8_t)(1u << (bit % 8));
    }
    for (n = 0; n < len; n++) {
        uint8_t *t = malloc(n ? n : 1); /* exact size: ASan sees any overread */

        memcpy(t, ref, n);
        err[0] = 0;
        if (snap_restore(f->m, t, n, err, sizeof(err)) != -EINVAL || !err[0])
            fail_msg("truncation to %zu accepted or no message (%s)", n, err);
        free(t);
    }
    {
        uint8_t *after = save(f, 0, &lb);

        assert_memory_equal(before, after, len);
        free(after);
    }
    /* The untouched reference still loads. */
    assert_int_equal(snap_restore(f->m, b, len, err, sizeof(err)), 0);
    free(before);
    free(b);
}

/* ------------------------------------------------------------ traffic */

static uint64_t test_rand_state = 0x9e3779b97f4a7c15ull;

uint32_t test_rand(void)
{
    test_rand_state ^= test_rand_state << 13;
    test_rand_state ^= test_rand_state >> 7;
    test_rand_state ^= test_rand_state << 17;
    return (uint32_t)(test_rand_state >> 11);
}

/* A random point in the device's life: process, or sleep (+ kicks, which
 * must wait) and wake, or sleep + snapshot + destroy + restore + wake,
 * checking save -> restore -> save on the way. */
void device_step(struct dev_fixture *f, struct traffic_stats *ts)
{
    uint32_t r = test_rand() % 8;

    if (r < 5) {
        vmmio_process(f->m);
        return;
    }
    vmmio_sleep(f->m);
    ts->sleeps++;
    if (r == 5) {
        vmmio_wake(f->m);
        return;
    }
    {
        size_t len, len2;
        uint8_t *a = save(f, 0, &len), *b;

        ts->snapshots++;
        replace_instance(f, a, len, false);
        ts->replaced++;
        b = save(f, 0, &len2);
        assert_int_equal(len, len2);
        assert_memory_equal(a, b, len);
        free(b);
        free(ts->last);
        ts->last = a;
        ts->last_len = len;
        vmmio_wake(f->m);
    }
}
