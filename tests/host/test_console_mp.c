/* SPDX-License-Identifier: Apache-2.0 */
/*
 * test_console_mp.c - console MULTIPORT (VIRTIO 1.2 5.3.6.2) on both sides:
 *  - the device model (hostsim/dev_console.c) driven by hand-made chains
 *    through the register file (dev_fixture): the announcement protocol,
 *    data on each port, every refused control message leaving the device
 *    serving, reset, and the snapshot blob of a multiport console;
 *  - the driver (drivers/virtio/virtio_console*.c) against the model over
 *    the loopback transport with the device on its own thread (lb_env), in
 *    the four interrupt/poll x EVENT_IDX modes.
 *
 * TEST_FILTER='test_mp_dev_*' runs only the matching cases.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "dev_fixture.h"
#include "lb_env.h"
#include "snap_le.h"
#include "vdev_models.h"
#include "virtio_console.h"
#include "virtio_mmio.h"
#include "virtio_platform.h"

#define NPORTS 3
#define CTRL_BUF 64

static struct dev_fixture fixture;

/* ------------------------------------------------------------ device model */

static int setup_dev(void **state)
{
    struct dev_fixture *f = &fixture;

    dfx_arena(f);
    assert_int_equal(vdev_console_create_ports(&f->dev, &f->fx.mem, 80, 25, NPORTS), 0);
    dfx_attach(f);
    *state = f;
    return 0;
}

static int teardown_dev(void **state)
{
    dfx_teardown(*state);
    return 0;
}

static void *galloc(struct dev_fixture *f, size_t len)
{
    return fx_alloc(&f->fx, len, NULL);
}

static void post_rx(struct dev_fixture *f, unsigned qi, void *b, uint32_t len)
{
    struct vq_sg sg = {.buf = b, .len = len};

    assert_int_equal(vq_add_sgs(f->vq[qi], &sg, 0, 1, b), 0);
    assert_int_equal(vq_kick(f->vq[qi]), 0);
    vmmio_process(f->m);
}

/* Post n control receive buffers; returns them (in ring order). */
static uint8_t **post_ctrl(struct dev_fixture *f, unsigned n)
{
    static uint8_t *bufs[16];
    unsigned i;

    for (i = 0; i < n; i++) {
        bufs[i] = galloc(f, CTRL_BUF);
        post_rx(f, VIRTIO_CONSOLE_CTRL_RXQ, bufs[i], CTRL_BUF);
    }
    return bufs;
}

/* Send raw bytes on the control transmitq; returns the used length. */
static uint32_t ctrl_raw(struct dev_fixture *f, const void *m, uint32_t len)
{
    uint8_t *b = galloc(f, len ? len : 1);
    struct vq_sg sg = {.buf = b, .len = len};

    memcpy(b, m, len);
    dfx_submit(f, VIRTIO_CONSOLE_CTRL_TXQ, &sg, 1, 0, b);
    return dfx_used(f, VIRTIO_CONSOLE_CTRL_TXQ, b);
}

static void ctrl(struct dev_fixture *f, uint32_t id, uint16_t event, uint16_t value)
{
    uint8_t m[8];

    snap_put32(m, id);
    snap_put16(m + 4, event);
    snap_put16(m + 6, value);
    assert_int_equal(ctrl_raw(f, m, sizeof(m)), 0);
}

/* The next control message in buffer b (used length len). */
static void expect_msg(struct dev_fixture *f, uint8_t *b, uint32_t id, uint16_t event,
                       uint16_t value, const char *extra)
{
    uint32_t len = dfx_used(f, VIRTIO_CONSOLE_CTRL_RXQ, b);
    uint32_t xlen = extra ? (uint32_t)strlen(extra) : 0;

    assert_int_equal(len, 8 + xlen);
    assert_int_equal(snap_get32(b), id);
    assert_int_equal(snap_get16(b + 4), event);
    assert_int_equal(snap_get16(b + 6), value);
    if (xlen)
        assert_memory_equal(b + 8, extra, xlen);
}

static struct vdev_console_stats dev_stats(struct dev_fixture *f)
{
    struct vdev_console_stats st;

    vdev_console_get_stats(&f->dev, &st);
    return st;
}

static uint64_t mp_features(struct dev_fixture *f)
{
    return dfx_device_features(f);
}

/* DEVICE_READY -> DEVICE_ADD for each port; PORT_READY(p) -> CONSOLE_PORT
 * (port 0), PORT_NAME, PORT_OPEN(1). Leaves every port ready. */
static void announce_all(struct dev_fixture *f)
{
    uint8_t **b = post_ctrl(f, 12);
    unsigned p, k = 0;
    char name[16];

    ctrl(f, 0, VIRTIO_CONSOLE_DEVICE_READY, 1);
    for (p = 0; p < NPORTS; p++)
        expect_msg(f, b[k++], p, VIRTIO_CONSOLE_DEVICE_ADD, 0, NULL);
    for (p = 0; p < NPORTS; p++) {
        ctrl(f, p, VIRTIO_CONSOLE_PORT_READY, 1);
        if (p == 0)
            expect_msg(f, b[k++], 0, VIRTIO_CONSOLE_CONSOLE_PORT, 1, NULL);
        snprintf(name, sizeof(name), "ringloop.%u", p);
        expect_msg(f, b[k++], p, VIRTIO_CONSOLE_PORT_NAME, 0, name);
        expect_msg(f, b[k++], p, VIRTIO_CONSOLE_PORT_OPEN, 1, NULL);
    }
}

static void test_mp_dev_config(void **state)
{
    struct dev_fixture *f = *state;

    assert_true(dfx_device_features(f) & (1ull << VIRTIO_CONSOLE_F_MULTIPORT));
    assert_int_equal(vmmio_read(f->m, VIRTIO_MMIO_CONFIG + 4, 4), NPORTS); /* max_nr_ports */
    /* One port: no MULTIPORT, as before. */
    dfx_teardown(f);
    dfx_arena(f);
    assert_int_equal(vdev_console_create_ports(&f->dev, &f->fx.mem, 80, 25, 1), 0);
    dfx_attach(f);
    assert_false(dfx_device_features(f) & (1ull << VIRTIO_CONSOLE_F_MULTIPORT));
    assert_int_equal(vdev_console_create_ports(&fixture.dev, &f->fx.mem, 80, 25, 0), -EINVAL);
    assert_int_equal(
        vdev_console_create_ports(&fixture.dev, &f->fx.mem, 80, 25, VDEV_CONSOLE_MAX_PORTS + 1),
        -EINVAL);
}

struct port_io {
    uint32_t port;
    const char *in;
    char out[64];
    size_t n;
};

static void take_locked(struct vdev *d, void *arg)
{
    struct port_io *io = arg;

    io->n = vdev_console_port_take(d, io->port, io->out, sizeof(io->out));
}

static void inject_locked(struct vdev *d, void *arg)
{
    struct port_io *io = arg;

    io->n = vdev_console_port_inject(d, io->port, io->in, strlen(io->in));
}

static void port_write(struct dev_fixture *f, uint32_t port, const char *text)
{
    size_t len = strlen(text);
    char *b = galloc(f, len);
    struct vq_sg sg = {.buf = b, .len = (uint32_t)len};

    memcpy(b, text, len);
    dfx_submit(f, VIRTIO_CONSOLE_PORT_TXQ(port), &sg, 1, 0, b);
    assert_int_equal(dfx_used(f, VIRTIO_CONSOLE_PORT_TXQ(port), b), 0);
}

static void test_mp_dev_announce_and_data(void **state)
{
    struct dev_fixture *f = *state;
    struct port_io io = {0};
    bool ready, open;
    char *rx[NPORTS];
    unsigned p;

    dfx_start(f, mp_features(f), 16);
    announce_all(f);
    for (p = 0; p < NPORTS; p++) {
        assert_int_equal(vdev_console_port_state(&f->dev, p, &ready, &open), 0);
        assert_true(ready);
        assert_false(open);
    }
    ctrl(f, 2, VIRTIO_CONSOLE_PORT_OPEN, 1);
    assert_int_equal(vdev_console_port_state(&f->dev, 2, &ready, &open), 0);
    assert_true(open);
    assert_int_equal(vdev_console_port_state(&f->dev, NPORTS, &ready, &open), -EINVAL);
    /* Each port its own stream: echo comes back on the same port only. */
    for (p = 0; p < NPORTS; p++) {
        rx[p] = galloc(f, 32);
        post_rx(f, VIRTIO_CONSOLE_PORT_RXQ(p), rx[p], 32);
    }
    port_write(f, 1, "to port one");
    assert_int_equal(dfx_used(f, VIRTIO_CONSOLE_PORT_RXQ(1), rx[1]), 11);
    assert_memory_equal(rx[1], "to port one", 11);
    io.port = 1;
    vmmio_run_locked(f->m, take_locked, &io);
    assert_int_equal(io.n, 11);
    io.port = 0;
    vmmio_run_locked(f->m, take_locked, &io);
    assert_int_equal(io.n, 0);
    io.port = 2;
    io.in = "device to two";
    vmmio_run_locked(f->m, inject_locked, &io);
    assert_int_equal(io.n, 13);
    assert_int_equal(dfx_used(f, VIRTIO_CONSOLE_PORT_RXQ(2), rx[2]), 13);
    assert_memory_equal(rx[2], "device to two", 13);
    port_write(f, 0, "zero");
    assert_int_equal(dfx_used(f, VIRTIO_CONSOLE_PORT_RXQ(0), rx[0]), 4);
    io.port = NPORTS; /* no such port */
    vmmio_run_locked(f->m, inject_locked, &io);
    assert_int_equal(io.n, 0);
    assert_int_equal(dev_stats(f).ctrl_bad, 0);
}

/* 5.3.6.2: every malformed control message is refused (used length 0,
 * counted) and the device keeps serving: the announcement still works. */
static void test_mp_dev_bad_control(void **state)
{
    struct dev_fixture *f = *state;
    uint8_t shortm[4] = {0, 0, 0, 0}, m[8];
    uint8_t **b;
    uint8_t *w;
    struct vq_sg sg[2];
    unsigned bad = 0;

    dfx_start(f, mp_features(f), 16);
    assert_int_equal(ctrl_raw(f, shortm, sizeof(shortm)), 0); /* short payload */
    bad++;
    ctrl(f, 1, VIRTIO_CONSOLE_PORT_READY, 1); /* before DEVICE_READY */
    bad++;
    ctrl(f, 0, VIRTIO_CONSOLE_DEVICE_READY, 2); /* value not 0/1 */
    bad++;
    ctrl(f, 0, VIRTIO_CONSOLE_DEVICE_ADD, 0); /* a device-only event */
    bad++;
    ctrl(f, 0, 99, 0); /* unknown event */
    bad++;
    /* A control chain with a writable part. */
    memset(m, 0, sizeof(m));
    w = galloc(f, 16);
    memcpy(w, m, 8);
    sg[0] = (struct vq_sg){.buf = w, .len = 8};
    sg[1] = (struct vq_sg){.buf = w + 8, .len = 8};
    dfx_submit(f, VIRTIO_CONSOLE_CTRL_TXQ, sg, 1, 1, w);
    assert_int_equal(dfx_used(f, VIRTIO_CONSOLE_CTRL_TXQ, w), 0);
    bad++;
    assert_int_equal(dev_stats(f).ctrl_bad, bad);
    /* Still serving. */
    b = post_ctrl(f, 4);
    ctrl(f, 0, VIRTIO_CONSOLE_DEVICE_READY, 1);
    expect_msg(f, b[0], 0, VIRTIO_CONSOLE_DEVICE_ADD, 0, NULL);
    expect_msg(f, b[1], 1, VIRTIO_CONSOLE_DEVICE_ADD, 0, NULL);
    expect_msg(f, b[2], 2, VIRTIO_CONSOLE_DEVICE_ADD, 0, NULL);
    ctrl(f, NPORTS, VIRTIO_CONSOLE_PORT_READY, 1); /* port id out of range */
    bad++;
    ctrl(f, 7, VIRTIO_CONSOLE_PORT_OPEN, 1);
    bad++;
    ctrl(f, 1, VIRTIO_CONSOLE_PORT_OPEN, 3); /* value not 0/1 */
    bad++;
    assert_int_equal(dev_stats(f).ctrl_bad, bad);
    /* A driver that says it failed is counted, not refused. */
    ctrl(f, 1, VIRTIO_CONSOLE_PORT_READY, 0);
    assert_int_equal(dev_stats(f).driver_failed, 1);
    assert_int_equal(dev_stats(f).ctrl_bad, bad);
    ctrl(f, 1, VIRTIO_CONSOLE_PORT_READY, 1);
    expect_msg(f, b[3], 1, VIRTIO_CONSOLE_PORT_NAME, 0, "ringloop.1");
}

/* A control message longer than the buffer is cut to it (QEMU does so);
 * the next message goes into the next buffer. */
static void test_mp_dev_small_ctrl_buffer(void **state)
{
    struct dev_fixture *f = *state;
    uint8_t *tiny, *next;

    dfx_start(f, mp_features(f), 16);
    ctrl(f, 0, VIRTIO_CONSOLE_DEVICE_READY, 1);
    tiny = galloc(f, 4);
    post_rx(f, VIRTIO_CONSOLE_CTRL_RXQ, tiny, 4);
    assert_int_equal(dfx_used(f, VIRTIO_CONSOLE_CTRL_RXQ, tiny), 4);
    assert_int_equal(snap_get32(tiny), 0);
    next = galloc(f, CTRL_BUF);
    post_rx(f, VIRTIO_CONSOLE_CTRL_RXQ, next, CTRL_BUF);
    expect_msg(f, next, 1, VIRTIO_CONSOLE_DEVICE_ADD, 0, NULL);
}

/* Reset drops the control state; data FIFOs stay. */
static void test_mp_dev_reset(void **state)
{
    struct dev_fixture *f = *state;
    bool ready, open;
    struct port_io io = {.port = 1};

    dfx_start(f, mp_features(f), 16);
    announce_all(f);
    port_write(f, 1, "kept");
    dfx_wr(f, VIRTIO_MMIO_STATUS, 0);
    assert_int_equal(vdev_console_port_state(&f->dev, 1, &ready, &open), 0);
    assert_false(ready);
    vmmio_run_locked(f->m, take_locked, &io);
    assert_int_equal(io.n, 4);
    dfx_start(f, mp_features(f), 16);
    announce_all(f); /* from the start again */
}

struct blob {
    uint8_t buf[16384];
    uint32_t len;
};

static void save_locked(struct vdev *d, void *arg)
{
    struct blob *b = arg;

    b->len = d->ops->state_size(d);
    assert_true(b->len <= sizeof(b->buf));
    d->ops->state_save(d, b->buf);
}

/* The multiport blob round-trips, and every corruption is refused. */
static void test_mp_dev_snapshot_blob(void **state)
{
    struct dev_fixture *f = *state;
    static struct blob b, b2;
    struct vdev fresh;
    struct port_io io = {.port = 2};
    const struct vdev_ops *ops;
    uint32_t off;

    dfx_start(f, mp_features(f), 16);
    ctrl(f, 0, VIRTIO_CONSOLE_DEVICE_READY, 1); /* 3 DEVICE_ADD pending */
    port_write(f, 2, "port two bytes");
    vmmio_run_locked(f->m, save_locked, &b);
    ops = f->dev.ops;
    assert_null(ops->state_check(&f->dev, b.buf, b.len));
    assert_non_null(ops->state_check(&f->dev, b.buf, b.len - 1)); /* truncated */
    for (off = 0; off < b.len; off += 7) {
        b2 = b;
        b2.buf[off] ^= 0x80;
        /* A flipped data byte is fine; a header or framing byte is not. */
        (void)ops->state_check(&f->dev, b2.buf, b2.len);
    }
    b2 = b;
    b2.buf[1] = 0; /* says one port */
    assert_non_null(ops->state_check(&f->dev, b2.buf, b2.len));
    /* Into a new device of the same shape: the same state. */
    assert_int_equal(vdev_console_create_ports(&fresh, &f->fx.mem, 80, 25, NPORTS), 0);
    assert_null(fresh.ops->state_check(&fresh, b.buf, b.len));
    fresh.ops->state_load(&fresh, b.buf, b.len);
    save_locked(&fresh, &b2);
    assert_int_equal(b2.len, b.len);
    assert_memory_equal(b2.buf, b.buf, b.len);
    io.n = vdev_console_port_take(&fresh, 2, io.out, sizeof(io.out));
    assert_int_equal(io.n, 14);
    assert_memory_equal(io.out, "port two bytes", 14);
    vdev_destroy(&fresh);
    /* Not into a one-port console. */
    assert_int_equal(vdev_console_create(&fresh, &f->fx.mem, 80, 25), 0);
    assert_non_null(fresh.ops->state_check(&fresh, b.buf, b.len));
    vdev_destroy(&fresh);
}

/* --------------------------------------------------- driver against model */

static int read_exact(struct virtio_console *con, uint32_t port, char *buf, size_t n)
{
    size_t got = 0;

    while (got < n) {
        int r = virtio_console_port_read(con, port, buf + got, n - got, VIRTIO_CONSOLE_TIMEOUT_NS);

        if (r < 0)
            return r;
        got += (size_t)r;
    }
    return (int)got;
}

struct port_state_arg {
    uint32_t port;
    bool ready, open;
};

static void port_state_locked(struct vdev *d, void *arg)
{
    struct port_state_arg *a = arg;

    assert_int_equal(vdev_console_port_state(d, a->port, &a->ready, &a->open), 0);
}

static void check_ports(struct env *e, struct virtio_console *con)
{
    struct virtio_console_port_info info;
    char name[16];
    uint32_t p;

    assert_true(virtio_console_is_multiport(con));
    assert_int_equal(virtio_console_nports(con), NPORTS);
    for (p = 0; p < NPORTS; p++) {
        struct port_state_arg a = {.port = p};

        assert_int_equal(virtio_console_port_info(con, p, &info), 0);
        assert_true(info.exists);
        assert_true(info.host_open);
        assert_true(info.guest_open);
        assert_int_equal(info.is_console, p == 0);
        snprintf(name, sizeof(name), "ringloop.%u", p);
        assert_string_equal(info.name, name);
        /* And the device heard PORT_READY(1) and PORT_OPEN(1). */
        vmmio_run_locked(e->lb.m, port_state_locked, &a);
        assert_true(a.ready);
        assert_true(a.open);
    }
}

static void test_mp_drv_ports(void **state)
{
    struct env *e = *state;
    struct virtio_console *con = NULL;
    char got[600], big[600];
    struct port_io io = {.port = 2, .in = "from the device on two"};
    uint32_t p;

    assert_int_equal(vdev_console_create_ports(&e->lb.vd, &e->mem, 80, 25, NPORTS), 0);
    lb_attach("lconmp");
    assert_int_equal(virtio_console_probe(e->lb.dev, &con), 0);
    assert_int_equal(e->lb.dev->nvqs, 2 + 2 * NPORTS);
    check_ports(e, con);
    /* Each port echoes on itself; more than one buffer's worth. */
    for (p = 0; p < NPORTS; p++) {
        memset(big, 'a' + (int)p, sizeof(big));
        assert_int_equal(virtio_console_port_write(con, p, big, sizeof(big)), (int)sizeof(big));
    }
    for (p = NPORTS; p-- > 0;) {
        memset(big, 'a' + (int)p, sizeof(big));
        assert_int_equal(read_exact(con, p, got, sizeof(big)), (int)sizeof(big));
        assert_memory_equal(got, big, sizeof(big));
        assert_int_equal(virtio_console_port_read(con, p, got, sizeof(got), 0), -EAGAIN);
    }
    vmmio_run_locked(e->lb.m, inject_locked, &io);
    assert_int_equal(read_exact(con, 2, got, io.n), (int)io.n);
    assert_memory_equal(got, io.in, io.n);
    /* No such port. */
    assert_int_equal(virtio_console_port_write(con, NPORTS, "x", 1), -EINVAL);
    assert_int_equal(virtio_console_port_read(con, NPORTS, got, 1, 0), -EINVAL);
    /* Reset + re-init: the ports are announced again. */
    assert_int_equal(virtio_console_reinit(con), 0);
    check_ports(e, con);
    assert_int_equal(virtio_console_port_write(con, 1, "y", 1), 1);
    assert_int_equal(read_exact(con, 1, got, 1), 1);
    assert_int_equal(got[0], 'y');
    assert_int_equal(virtio_console_get_stats(con)->ctrl_bad, 0);
    virtio_console_remove(con);
}

/* A one-port device: no MULTIPORT, only port 0. */
static void test_mp_drv_not_offered(void **state)
{
    struct env *e = *state;
    struct virtio_console *con = NULL;
    struct virtio_console_port_info info;
    char got[8];

    assert_int_equal(vdev_console_create(&e->lb.vd, &e->mem, 80, 25), 0);
    lb_attach("lcon1");
    assert_int_equal(virtio_console_probe(e->lb.dev, &con), 0);
    assert_false(virtio_console_is_multiport(con));
    assert_int_equal(virtio_console_nports(con), 1);
    assert_int_equal(e->lb.dev->nvqs, 2);
    assert_int_equal(virtio_console_port_info(con, 0, &info), 0);
    assert_true(info.exists && info.host_open);
    assert_int_equal(virtio_console_port_write(con, 1, "x", 1), -ENODEV);
    assert_int_equal(virtio_console_port_read(con, 1, got, 1, 0), -ENODEV);
    assert_int_equal(virtio_console_write(con, "ok", 2), 2);
    assert_int_equal(read_exact(con, 0, got, 2), 2);
    virtio_console_remove(con);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_mp_dev_config, setup_dev, teardown_dev),
        cmocka_unit_test_setup_teardown(test_mp_dev_announce_and_data, setup_dev, teardown_dev),
        cmocka_unit_test_setup_teardown(test_mp_dev_bad_control, setup_dev, teardown_dev),
        cmocka_unit_test_setup_teardown(test_mp_dev_small_ctrl_buffer, setup_dev, teardown_dev),
        cmocka_unit_test_setup_teardown(test_mp_dev_reset, setup_dev, teardown_dev),
        cmocka_unit_test_setup_teardown(test_mp_dev_snapshot_blob, setup_dev, teardown_dev),
        MODE_TESTS(test_mp_drv_ports),
        MODE_TESTS(test_mp_drv_not_offered),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
