/* SPDX-License-Identifier: Apache-2.0 */
/*
 * test_vq_check.c - cmocka tests of the virtqueue's checking mode
 * (drivers/virtio/vq_check.c through virtqueue.c, `virtio check on`): off
 * it bounces nothing; on, device-writable segments go to the device through
 * bounce buffers whose contents come back to the caller; a device that
 * writes past a writable segment (into the guard) or changes bytes past the
 * used length it reports is counted apart, and the request still completes.
 * The device is the real vdq over the ring fixture; the tests write into
 * the popped chain's buffers as a hostile device would.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "platform_host.h"
#include "ring_fixture.h"
#include "vq_check.h"

static struct ring_fixture fx_storage;

static int setup_direct(void **state)
{
    fx_setup(&fx_storage, 8, false, false);
    host_log_level_set(-1); /* the detections are logged on purpose */
    *state = &fx_storage;
    return 0;
}

static int setup_indirect(void **state)
{
    fx_setup(&fx_storage, 8, true, true);
    host_log_level_set(-1);
    *state = &fx_storage;
    return 0;
}

static int teardown(void **state)
{
    vq_set_checking(false);
    fx_teardown(*state);
    return 0;
}

static int tok;

/* One request: 16 readable bytes, writable segments of 32 and 8 bytes,
 * each followed in memory by a canary the device must never reach. */
struct req {
    uint8_t *hdr;
    uint8_t *data;   /* 32 + canary */
    uint8_t *status; /* 8 + canary */
};

#define CANARY 0x5c

static void req_add(struct ring_fixture *fx, struct req *r)
{
    struct vq_sg sg[3];

    r->hdr = fx->scratch;
    r->data = fx->scratch + 64;
    r->status = fx->scratch + 128;
    memset(fx->scratch, CANARY, 256);
    memset(r->hdr, 0x11, 16);
    memset(r->data, 0x22, 32);
    memset(r->status, 0x33, 8);
    sg[0] = (struct vq_sg){.buf = r->hdr, .len = 16};
    sg[1] = (struct vq_sg){.buf = r->data, .len = 32};
    sg[2] = (struct vq_sg){.buf = r->status, .len = 8};
    assert_int_equal(vq_add_sgs(fx->vq, sg, 1, 2, &tok), 0);
    (void)vq_kick_prepare(fx->vq);
}

/* Device side: pop the chain; its writable iovs are what the device sees. */
static void dev_pop(struct ring_fixture *fx)
{
    assert_int_equal(vdq_pop(&fx->q, &fx->chain), 0);
    assert_int_equal(fx->chain.nout, 1);
    assert_int_equal(fx->chain.nin, 2);
    assert_int_equal(fx->chain.in_len, 40);
}

static uint32_t drv_get(struct ring_fixture *fx)
{
    void *t;
    uint32_t len;

    assert_int_equal(vq_get_buf(fx->vq, &t, &len), 0);
    assert_ptr_equal(t, &tok);
    return len;
}

/* Checking on, one request added and popped by the device. */
static void checked_req(struct ring_fixture *fx, struct req *r)
{
    vq_set_checking(true);
    req_add(fx, r);
    dev_pop(fx);
}

/* The device writes dlen bytes of d into the data segment (dlen > 32: past
 * it), 8 of st into the status one, reports used; the driver takes it. */
static uint32_t dev_complete(struct ring_fixture *fx, uint8_t d, uint32_t dlen, uint8_t st,
                             uint32_t used)
{
    memset(fx->chain.iov[1].base, d, dlen);
    memset(fx->chain.iov[2].base, st, 8);
    assert_int_equal(vdq_push(&fx->q, fx->chain.head, used), 0);
    return drv_get(fx);
}

static void assert_canaries(const struct req *r)
{
    for (unsigned i = 32; i < 64; i++)
        assert_int_equal(r->data[i], CANARY);
    for (unsigned i = 8; i < 64; i++)
        assert_int_equal(r->status[i], CANARY);
}

/* Off: the device gets the caller's buffers themselves. */
static void test_check_off(void **state)
{
    struct ring_fixture *fx = *state;
    struct req r;

    assert_false(vq_is_checking());
    req_add(fx, &r);
    dev_pop(fx);
    assert_ptr_equal(fx->chain.iov[0].base, r.hdr);
    assert_ptr_equal(fx->chain.iov[1].base, r.data);
    assert_ptr_equal(fx->chain.iov[2].base, r.status);
    assert_int_equal(vdq_push(&fx->q, fx->chain.head, 0), 0);
    drv_get(fx);
    assert_int_equal(vq_get_stats(fx->vq)->check_bounced, 0);
}

/* On, a correct device: readable bytes as they are, writable ones bounced;
 * what the device wrote arrives in the caller's buffers, nothing reported. */
static void test_check_clean(void **state)
{
    struct ring_fixture *fx = *state;
    const struct vq_stats *st = vq_get_stats(fx->vq);
    struct req r;

    checked_req(fx, &r);
    assert_ptr_equal(fx->chain.iov[0].base, r.hdr); /* readable: not bounced */
    assert_ptr_not_equal(fx->chain.iov[1].base, r.data);
    assert_ptr_not_equal(fx->chain.iov[2].base, r.status);
    /* The bounce starts as the caller's bytes. */
    assert_int_equal(((uint8_t *)fx->chain.iov[1].base)[0], 0x22);
    assert_int_equal(dev_complete(fx, 0xd1, 32, 0xd2, 40), 40);
    for (unsigned i = 0; i < 32; i++)
        assert_int_equal(r.data[i], 0xd1);
    for (unsigned i = 0; i < 8; i++)
        assert_int_equal(r.status[i], 0xd2);
    assert_canaries(&r);
    assert_int_equal(st->check_bounced, 1);
    assert_int_equal(st->check_overruns, 0);
    assert_int_equal(st->check_past_len, 0);
    /* Off again: the next chain is not bounced. */
    vq_set_checking(false);
    req_add(fx, &r);
    dev_pop(fx);
    assert_ptr_equal(fx->chain.iov[1].base, r.data);
    assert_int_equal(vdq_push(&fx->q, fx->chain.head, 40), 0);
    drv_get(fx);
    assert_int_equal(st->check_bounced, 1);
}

/* A device writing 5 bytes past the first writable segment hits its guard:
 * counted as an overrun, the caller's neighbouring memory is untouched. */
static void test_check_overrun(void **state)
{
    struct ring_fixture *fx = *state;
    const struct vq_stats *st = vq_get_stats(fx->vq);
    struct req r;

    checked_req(fx, &r);
    /* 5 bytes past the data segment; the request still completes. */
    assert_int_equal(dev_complete(fx, 0xee, 32 + 5, 0x00, 40), 40);
    assert_int_equal(st->check_overruns, 1);
    assert_int_equal(st->check_past_len, 0);
    assert_int_equal(r.data[31], 0xee);
    assert_canaries(&r);
    assert_false(vq_is_broken(fx->vq));
}

/* A device that changes all 40 writable bytes but reports 20: bytes past
 * the used length changed (2.7.8 allows it, our check reports it). */
static void test_check_past_used_len(void **state)
{
    struct ring_fixture *fx = *state;
    const struct vq_stats *st = vq_get_stats(fx->vq);
    struct req r;

    checked_req(fx, &r);
    assert_int_equal(dev_complete(fx, 0x44, 32, 0x55, 20), 20);
    assert_int_equal(st->check_past_len, 1);
    assert_int_equal(st->check_overruns, 0);
    /* What the device wrote is still handed back (as unbounced). */
    assert_int_equal(r.status[7], 0x55);
    /* Writing exactly the used length is clean. */
    req_add(fx, &r);
    dev_pop(fx);
    memset(fx->chain.iov[1].base, 0x44, 20);
    assert_int_equal(vdq_push(&fx->q, fx->chain.head, 20), 0);
    drv_get(fx);
    assert_int_equal(st->check_past_len, 1);
    assert_int_equal(st->check_bounced, 2);
}

/* Used len larger than the writable bytes still breaks the queue (the
 * existing policy) with checking on; the bounce is freed at destroy. */
static void test_check_len_too_big_breaks(void **state)
{
    struct ring_fixture *fx = *state;
    void *t;
    uint32_t len;
    struct req r;

    checked_req(fx, &r);
    assert_int_equal(vdq_push(&fx->q, fx->chain.head, 41), 0);
    assert_int_equal(vq_get_buf(fx->vq, &t, &len), -EIO);
    assert_true(vq_is_broken(fx->vq));
}

/* After a reset the chain is taken back unused: its bounce goes too. */
static void test_check_detach(void **state)
{
    struct ring_fixture *fx = *state;
    struct req r;

    checked_req(fx, &r);
    memset(fx->chain.iov[1].base, 0x77, 32);
    assert_ptr_equal(vq_detach_unused(fx->vq), &tok);
    assert_null(vq_detach_unused(fx->vq));
    assert_int_equal(r.data[0], 0x77); /* as if the device had written it */
    assert_canaries(&r);
}

/* The bounce itself: guard in every segment, the first one named. */
static void test_check_bounce_report(void **state)
{
    struct ring_fixture *fx = *state;
    struct vq_sg sg[3], out[3];
    struct vqc_report rep;
    struct vq_bounce *b;

    sg[0] = (struct vq_sg){.buf = fx->scratch, .len = 4};
    sg[1] = (struct vq_sg){.buf = fx->scratch + 64, .len = 16};
    sg[2] = (struct vq_sg){.buf = fx->scratch + 128, .len = 16};
    assert_null(vqc_bounce(sg, 3, 0, out)); /* nothing writable */
    b = vqc_bounce(sg, 1, 2, out);
    assert_non_null(b);
    assert_ptr_equal(out[0].buf, sg[0].buf);
    ((uint8_t *)out[2].buf)[16] ^= 0xff; /* one guard byte of segment 1 */
    vqc_complete(b, 32, &rep);
    assert_int_equal(rep.guard_bytes, 1);
    assert_int_equal(rep.guard_seg, 1);
    assert_int_equal(rep.past_len, 0);
    b = vqc_bounce(sg, 1, 2, out);
    ((uint8_t *)out[2].buf)[3] ^= 0xff; /* writable offset 16 + 3 */
    vqc_complete(b, 10, &rep);
    assert_int_equal(rep.guard_bytes, 0);
    assert_int_equal(rep.past_len, 1);
    assert_int_equal(rep.past_len_off, 19);
}

#define T(f, s) cmocka_unit_test_setup_teardown(f, s, teardown)

int main(void)
{
    const struct CMUnitTest tests[] = {
        T(test_check_off, setup_direct),
        T(test_check_clean, setup_direct),
        T(test_check_clean, setup_indirect),
        T(test_check_overrun, setup_direct),
        T(test_check_overrun, setup_indirect),
        T(test_check_past_used_len, setup_direct),
        T(test_check_len_too_big_breaks, setup_direct),
        T(test_check_detach, setup_direct),
        T(test_check_bounce_report, setup_direct),
    };

    return cmocka_run_group_tests_name("virtqueue checking mode", tests, NULL, NULL);
}
