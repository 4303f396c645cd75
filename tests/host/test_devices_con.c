/* SPDX-License-Identifier: Apache-2.0 */
/*
 * test_devices_con.c - cmocka tests of the console and pmem device models
 * (hostsim/dev_*.c) driven through the virtio-mmio register file by the
 * real driver virtqueue (tests/host/dev_fixture.c): console byte for byte,
 * pmem's error cases one by one with hand-made chains.
 *
 * TEST_FILTER='test_pmem_*' runs only the matching cases.
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

#include "dev_fixture.h"
#include "vdev_models.h"
#include "virtio_mmio.h"
#include "virtio_platform.h"

static struct dev_fixture fixture;

/* ------------------------------------------------------------------ console */

static int setup_console(void **state)
{
    struct dev_fixture *f = &fixture;

    dfx_arena(f);
    assert_int_equal(vdev_console_create(&f->dev, &f->fx.mem, 80, 25), 0);
    dfx_attach(f);
    *state = f;
    return 0;
}

static void con_write(struct dev_fixture *f, const char *text)
{
    size_t len = strlen(text);
    char *b = dfx_galloc(f, len);
    struct vq_sg sg = {.buf = b, .len = (uint32_t)len};

    memcpy(b, text, len);
    dfx_submit(f, VIRTIO_CONSOLE_TXQ0, &sg, 1, 0, b);
    assert_int_equal(dfx_used(f, VIRTIO_CONSOLE_TXQ0, b), 0);
}

static char *con_post_rx(struct dev_fixture *f, uint32_t len)
{
    char *b = dfx_galloc(f, len);
    struct vq_sg sg = {.buf = b, .len = len};

    assert_int_equal(vq_add_sgs(f->vq[VIRTIO_CONSOLE_RXQ0], &sg, 0, 1, b), 0);
    assert_int_equal(vq_kick(f->vq[VIRTIO_CONSOLE_RXQ0]), 0);
    vmmio_process(f->m);
    return b;
}

struct con_io {
    const char *in;
    char out[64];
    size_t n;
};

static void con_take_locked(struct vdev *d, void *arg)
{
    struct con_io *io = arg;

    io->n = vdev_console_take(d, io->out, sizeof(io->out));
}

static void con_inject_locked(struct vdev *d, void *arg)
{
    struct con_io *io = arg;

    io->n = vdev_console_inject(d, io->in, strlen(io->in));
}

static void test_console_config(void **state)
{
    struct dev_fixture *f = *state;

    assert_int_equal(dfx_rd(f, VIRTIO_MMIO_DEVICE_ID), VIRTIO_ID_CONSOLE);
    assert_true(dfx_device_features(f) & (1ull << VIRTIO_CONSOLE_F_SIZE));
    assert_false(dfx_device_features(f) & (1ull << VIRTIO_CONSOLE_F_MULTIPORT));
    assert_int_equal(vmmio_read(f->m, VIRTIO_MMIO_CONFIG + 0, 2), 80);
    assert_int_equal(vmmio_read(f->m, VIRTIO_MMIO_CONFIG + 2, 2), 25);
}

static void test_console_echo_take(void **state)
{
    struct dev_fixture *f = *state;
    struct con_io io = {0};
    char *rx;

    dfx_start(f, dfx_device_features(f), 8);
    /* Echo: written before any receive buffer exists, delivered on refill. */
    con_write(f, "hello ");
    con_write(f, "world");
    rx = con_post_rx(f, 64);
    assert_int_equal(dfx_used(f, VIRTIO_CONSOLE_RXQ0, rx), 11);
    assert_memory_equal(rx, "hello world", 11);
    /* And the device side can read what was written. */
    vmmio_run_locked(f->m, con_take_locked, &io);
    assert_int_equal(io.n, 11);
    assert_memory_equal(io.out, "hello world", 11);
    vmmio_run_locked(f->m, con_take_locked, &io);
    assert_int_equal(io.n, 0);
    /* A buffer waiting first: the write comes straight back. A small buffer
     * gets what fits, the rest goes into the next one. */
    rx = con_post_rx(f, 4);
    con_write(f, "abcdef");
    assert_int_equal(dfx_used(f, VIRTIO_CONSOLE_RXQ0, rx), 4);
    assert_memory_equal(rx, "abcd", 4);
    rx = con_post_rx(f, 16);
    assert_int_equal(dfx_used(f, VIRTIO_CONSOLE_RXQ0, rx), 2);
    assert_memory_equal(rx, "ef", 2);
}

/* 5.3.6: transmitq buffers are device-readable, receiveq buffers
 * device-writable; the other way round nothing moves, counted as bad. */
static void test_console_wrong_direction(void **state)
{
    struct dev_fixture *f = *state;
    char *txt = dfx_galloc(f, 3), *wr = dfx_galloc(f, 8), *ro = dfx_galloc(f, 16), *rx;
    struct vq_sg sg[2] = {{.buf = txt, .len = 3}, {.buf = wr, .len = 8}};
    struct vdev_console_stats st;
    struct con_io io = {0};

    dfx_start(f, dfx_device_features(f), 8);
    /* TX with a device-writable buffer: nothing taken, nothing echoed. */
    memcpy(txt, "abc", 3);
    memset(wr, 0x5a, 8);
    dfx_submit(f, VIRTIO_CONSOLE_TXQ0, sg, 1, 1, txt);
    assert_int_equal(dfx_used(f, VIRTIO_CONSOLE_TXQ0, txt), 0);
    dfx_assert_all((uint8_t *)wr, 0x5a, 8);
    vmmio_run_locked(f->m, con_take_locked, &io);
    assert_int_equal(io.n, 0);
    /* RX: a device-readable buffer, then a good one: the echo skips the
     * first and fills the second. */
    memset(ro, 0x33, 16);
    sg[0] = (struct vq_sg){.buf = ro, .len = 16};
    assert_int_equal(vq_add_sgs(f->vq[VIRTIO_CONSOLE_RXQ0], sg, 1, 0, ro), 0);
    rx = con_post_rx(f, 16);
    con_write(f, "hi");
    assert_int_equal(dfx_used(f, VIRTIO_CONSOLE_RXQ0, ro), 0);
    dfx_assert_all((uint8_t *)ro, 0x33, 16);
    assert_int_equal(dfx_used(f, VIRTIO_CONSOLE_RXQ0, rx), 2);
    assert_memory_equal(rx, "hi", 2);
    vdev_console_get_stats(&f->dev, &st);
    assert_true(st.bad == 2);
    assert_true(st.tx_bytes == 2);
    assert_true(f->dev.queues[VIRTIO_CONSOLE_TXQ0].stats.bad_chains == 1);
    assert_true(f->dev.queues[VIRTIO_CONSOLE_RXQ0].stats.bad_chains == 1);
}

static void test_console_inject(void **state)
{
    struct dev_fixture *f = *state;
    struct con_io io = {.in = "injected"};
    struct vdev_console_stats st;
    char *rx;

    dfx_start(f, dfx_device_features(f), 8);
    vdev_console_set_echo(&f->dev, false);
    con_write(f, "quiet");
    rx = con_post_rx(f, 32);
    assert_false(vq_has_used(f->vq[VIRTIO_CONSOLE_RXQ0]));
    vmmio_run_locked(f->m, con_inject_locked, &io);
    assert_int_equal(io.n, 8);
    assert_int_equal(dfx_used(f, VIRTIO_CONSOLE_RXQ0, rx), 8);
    assert_memory_equal(rx, "injected", 8);
    vmmio_run_locked(f->m, con_take_locked, &io);
    assert_int_equal(io.n, 5);
    assert_memory_equal(io.out, "quiet", 5);
    vdev_console_get_stats(&f->dev, &st);
    assert_true(st.tx_bytes == 5);
    assert_true(st.rx_bytes == 8);
}

static void test_console_overflow(void **state)
{
    struct dev_fixture *f = *state;
    char *big = dfx_galloc(f, VDEV_CONSOLE_BUF + 100);
    struct vq_sg sg = {.buf = big, .len = VDEV_CONSOLE_BUF + 100};
    struct vdev_console_stats st;

    dfx_start(f, dfx_device_features(f), 8);
    memset(big, 'x', VDEV_CONSOLE_BUF + 100);
    dfx_submit(f, VIRTIO_CONSOLE_TXQ0, &sg, 1, 0, big);
    assert_int_equal(dfx_used(f, VIRTIO_CONSOLE_TXQ0, big), 0);
    vdev_console_get_stats(&f->dev, &st);
    assert_true(st.tx_dropped == 100);
    assert_true(st.rx_dropped == 100);
    /* Writable-only chain on transmitq0: bad. */
    dfx_submit(f, VIRTIO_CONSOLE_TXQ0, &sg, 0, 1, big);
    assert_int_equal(dfx_used(f, VIRTIO_CONSOLE_TXQ0, big), 0);
    assert_true(f->dev.queues[VIRTIO_CONSOLE_TXQ0].stats.bad_chains == 1);
}

/* ------------------------------------------------------------------ pmem */

#define PMEM_START (4ull << 30)
#define PMEM_SIZE (4u << 20)

static int pmem_flushes, pmem_flush_ret;

static int pmem_flush(void *ctx)
{
    (void)ctx;
    pmem_flushes++;
    return pmem_flush_ret;
}

static int setup_pmem(void **state)
{
    struct dev_fixture *f = &fixture;

    dfx_arena(f);
    pmem_flushes = 0;
    pmem_flush_ret = 0;
    assert_int_equal(vdev_pmem_create(&f->dev, &f->fx.mem, PMEM_START, PMEM_SIZE, pmem_flush, NULL),
                     0);
    dfx_attach(f);
    *state = f;
    return 0;
}

static struct vdev_pmem_stats pmem_stats(struct dev_fixture *f)
{
    struct vdev_pmem_stats st;

    vdev_pmem_get_stats(&f->dev, &st);
    return st;
}

static void test_pmem_config(void **state)
{
    struct dev_fixture *f = *state;
    struct vdev d2;

    assert_int_equal(dfx_rd(f, VIRTIO_MMIO_DEVICE_ID), VIRTIO_ID_PMEM);
    assert_int_equal(vmmio_read(f->m, VIRTIO_MMIO_CONFIG + 0, 4), (uint32_t)PMEM_START);
    assert_int_equal(vmmio_read(f->m, VIRTIO_MMIO_CONFIG + 4, 4), (uint32_t)(PMEM_START >> 32));
    assert_int_equal(vmmio_read(f->m, VIRTIO_MMIO_CONFIG + 8, 4), PMEM_SIZE);
    assert_int_equal(vmmio_read(f->m, VIRTIO_MMIO_CONFIG + 12, 4), 0);
    /* Region not 2 MiB aligned / sized: refused. */
    assert_int_equal(vdev_pmem_create(&d2, &f->fx.mem, PMEM_START + 4096, PMEM_SIZE, NULL, NULL),
                     -EINVAL);
    assert_int_equal(vdev_pmem_create(&d2, &f->fx.mem, PMEM_START, PMEM_SIZE + 4096, NULL, NULL),
                     -EINVAL);
    assert_int_equal(vdev_pmem_create(&d2, &f->fx.mem, PMEM_START, 0, NULL, NULL), -EINVAL);
    assert_int_equal(
        vdev_pmem_create(&d2, &f->fx.mem, UINT64_MAX - (2u << 20) + 1, 4u << 20, NULL, NULL),
        -EINVAL);
}

/* Submit segments as given (out readable, then in writable); returns used len. */
static uint32_t pmem_do(struct dev_fixture *f, struct vq_sg *sg, unsigned out, unsigned in)
{
    dfx_submit(f, 0, sg, out, in, sg);
    return dfx_used(f, 0, sg);
}

static uint32_t *pmem_word(struct dev_fixture *f, uint32_t v)
{
    uint32_t *p = dfx_galloc(f, 16);

    *p = v;
    return p;
}

static void test_pmem_flush(void **state)
{
    struct dev_fixture *f = *state;
    uint32_t *req = pmem_word(f, VIRTIO_PMEM_REQ_TYPE_FLUSH), *resp = pmem_word(f, 0xeeee);
    struct vq_sg sg[2] = {{.buf = req, .len = 4}, {.buf = resp, .len = 4}};

    dfx_start(f, dfx_device_features(f), 8);
    assert_int_equal(pmem_do(f, sg, 1, 1), 4);
    assert_int_equal(*resp, 0);
    assert_int_equal(pmem_flushes, 1);
    assert_true(pmem_stats(f).flushes == 1);
    assert_true(pmem_stats(f).errors == 0);
    assert_true(f->dev.queues[0].stats.requests == 1);
    /* Without EVENT_IDX / INDIRECT too. */
    dfx_start(f, (1ull << VIRTIO_F_VERSION_1), 8);
    *resp = 0xeeee;
    assert_int_equal(pmem_do(f, sg, 1, 1), 4);
    assert_int_equal(*resp, 0);
    assert_int_equal(pmem_flushes, 2);
}

static void expect_pmem_err(struct dev_fixture *f, enum vdev_pmem_err e, uint64_t before)
{
    assert_true(pmem_stats(f).err[e] == before + 1);
}

static void test_pmem_errors(void **state)
{
    struct dev_fixture *f = *state;
    uint32_t *req = pmem_word(f, VIRTIO_PMEM_REQ_TYPE_FLUSH);
    uint32_t *resp = pmem_word(f, 0xeeee), *resp2 = pmem_word(f, 0xeeee);
    uint64_t bad_before;
    struct vq_sg sg[3];
    struct vdev_pmem_stats st0;

    dfx_start(f, dfx_device_features(f), 8);
    st0 = pmem_stats(f);

    /* Writable head: the second (writable) descriptor gets ret 1. */
    sg[0] = (struct vq_sg){.buf = req, .len = 4};
    sg[1] = (struct vq_sg){.buf = resp, .len = 4};
    assert_int_equal(pmem_do(f, sg, 0, 2), 4);
    assert_int_equal(*resp, 1);
    expect_pmem_err(f, VDEV_PMEM_ERR_WRITABLE_HEAD, st0.err[VDEV_PMEM_ERR_WRITABLE_HEAD]);
    /* Writable head alone: nothing to write into but itself. */
    *req = VIRTIO_PMEM_REQ_TYPE_FLUSH;
    assert_int_equal(pmem_do(f, sg, 0, 1), 0);
    assert_int_equal(*req, VIRTIO_PMEM_REQ_TYPE_FLUSH);
    assert_true(pmem_stats(f).err[VDEV_PMEM_ERR_WRITABLE_HEAD] == 2);

    /* Short chain: the request alone. */
    assert_int_equal(pmem_do(f, sg, 1, 0), 0);
    expect_pmem_err(f, VDEV_PMEM_ERR_SHORT_CHAIN, 0);

    /* Read-only status: nothing written anywhere. */
    *resp = 0xeeee;
    assert_int_equal(pmem_do(f, sg, 2, 0), 0);
    assert_int_equal(*resp, 0xeeee);
    expect_pmem_err(f, VDEV_PMEM_ERR_READONLY_STATUS, 0);

    /* Request of the wrong length: ret 1. */
    sg[0].len = 8;
    assert_int_equal(pmem_do(f, sg, 1, 1), 4);
    assert_int_equal(*resp, 1);
    expect_pmem_err(f, VDEV_PMEM_ERR_REQ_LEN, 0);
    sg[0].len = 2;
    *resp = 0xeeee;
    assert_int_equal(pmem_do(f, sg, 1, 1), 4);
    assert_int_equal(*resp, 1);
    sg[0].len = 4;

    /* Response too short to hold ret: nothing written. */
    *resp = 0xeeee;
    sg[1].len = 2;
    assert_int_equal(pmem_do(f, sg, 1, 1), 0);
    assert_int_equal(*resp, 0xeeee);
    expect_pmem_err(f, VDEV_PMEM_ERR_RESP_LEN, 0);
    /* Response too long: ret 1 in its first 4 bytes. */
    sg[1].len = 8;
    assert_int_equal(pmem_do(f, sg, 1, 1), 4);
    assert_int_equal(*resp, 1);
    assert_true(pmem_stats(f).err[VDEV_PMEM_ERR_RESP_LEN] == 2);
    sg[1].len = 4;

    /* Unknown request type. */
    *req = 7;
    *resp = 0xeeee;
    assert_int_equal(pmem_do(f, sg, 1, 1), 4);
    assert_int_equal(*resp, 1);
    expect_pmem_err(f, VDEV_PMEM_ERR_UNKNOWN_TYPE, 0);
    *req = VIRTIO_PMEM_REQ_TYPE_FLUSH;

    /* The flush hook fails. */
    pmem_flush_ret = -EIO;
    *resp = 0xeeee;
    assert_int_equal(pmem_do(f, sg, 1, 1), 4);
    assert_int_equal(*resp, 1);
    expect_pmem_err(f, VDEV_PMEM_ERR_FLUSH_FAILED, 0);
    pmem_flush_ret = 0;

    /* None of it was fatal: a good request still works, and an extra
     * writable descriptor after the response is ignored. */
    bad_before = f->dev.queues[0].stats.bad_chains;
    assert_int_equal(bad_before, 10);
    assert_true(pmem_stats(f).errors == 10);
    *resp = 0xeeee;
    sg[2] = (struct vq_sg){.buf = resp2, .len = 4};
    assert_int_equal(pmem_do(f, sg, 1, 2), 4);
    assert_int_equal(*resp, 0);
    assert_int_equal(*resp2, 0xeeee);
    assert_true(pmem_stats(f).flushes == 1);
    assert_false(dfx_rd(f, VIRTIO_MMIO_STATUS) & VIRTIO_STATUS_DEVICE_NEEDS_RESET);
}


/* ------------------------------------------------------------------ main */

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_console_config, setup_console, dfx_teardown_state),
        cmocka_unit_test_setup_teardown(test_console_echo_take, setup_console, dfx_teardown_state),
        cmocka_unit_test_setup_teardown(test_console_wrong_direction, setup_console, dfx_teardown_state),
        cmocka_unit_test_setup_teardown(test_console_inject, setup_console, dfx_teardown_state),
        cmocka_unit_test_setup_teardown(test_console_overflow, setup_console, dfx_teardown_state),
        cmocka_unit_test_setup_teardown(test_pmem_config, setup_pmem, dfx_teardown_state),
        cmocka_unit_test_setup_teardown(test_pmem_flush, setup_pmem, dfx_teardown_state),
        cmocka_unit_test_setup_teardown(test_pmem_errors, setup_pmem, dfx_teardown_state),
    };

    if (getenv("TEST_FILTER"))
        cmocka_set_test_filter(getenv("TEST_FILTER"));
    return cmocka_run_group_tests_name("devices-con", tests, NULL, NULL);
}
