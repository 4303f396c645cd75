/* SPDX-License-Identifier: Apache-2.0 */
/*
 * test_drivers_dev.c - cmocka tests of the rng, net, console and pmem
 * drivers over the loopback transport against the real device models, the
 * device side on a second thread (lb_env.h; blk and the life-cycle cases
 * are in test_drivers.c). Each data test runs in the eight modes of
 * lb_env.h: interrupt-driven / polled x EVENT_IDX on / off, split and packed.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "lb_env.h"
#include "platform_host.h"
#include "transport_loopback.h"
#include "vdev.h"
#include "vdev_models.h"
#include "virtio.h"
#include "virtio_blk.h"
#include "virtio_console.h"
#include "virtio_net.h"
#include "virtio_platform.h"
#include "virtio_pmem.h"
#include "virtio_rng.h"
#include "vmmio.h"

#if HAVE_DEV_NET
static void test_net_echo(void **state);

/* The receive buffers posted at setup are bounced too. */
static void test_net_echo_checked(void **state)
{
    uint64_t logs = host_log_problems();

    vq_set_checking(true);
    test_net_echo(state);
    assert_int_equal(host_log_problems() - logs, 0);
}
#endif

/* ---- rng ---- */

#if HAVE_DEV_RNG
static uint64_t splitmix64(uint64_t *s)
{
    uint64_t z = (*s += 0x9e3779b97f4a7c15ull);

    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

static void rng_ref(uint64_t seed, uint8_t *out, size_t n)
{
    uint64_t s = seed, w;
    size_t i;

    for (i = 0; i < n; i += 8) {
        w = splitmix64(&s);
        memcpy(out + i, &w, n - i < 8 ? n - i : 8);
    }
}

static void test_rng_bytes(void **state)
{
    struct env *e = *state;
    struct virtio_rng *rng = NULL;
    enum { N = 3000 };
    uint8_t *got = malloc(N), *want = malloc(N);

    assert_int_equal(vdev_rng_create(&e->lb.vd, &e->mem, 42), 0);
    lb_attach("lrng0");
    assert_int_equal(virtio_rng_probe(e->lb.dev, &rng), 0);
    rng_ref(42, want, N);
    /* Odd sizes: the stream is continuous across requests. */
    assert_int_equal(virtio_rng_read(rng, got, 1), 1);
    assert_int_equal(virtio_rng_read(rng, got + 1, 999), 999);
    assert_int_equal(virtio_rng_read(rng, got + 1000, N - 1000), N - 1000);
    assert_memory_equal(got, want, N);
    assert_true(virtio_rng_get_stats(rng)->requests >= 6);
    /* Many requests back to back (each one chunk): the stream goes on. */
    {
        enum { BIG = 200000 };
        uint8_t *big = malloc(BIG), *ref = malloc(N + BIG);

        assert_int_equal(virtio_rng_read(rng, big, BIG), BIG);
        rng_ref(42, ref, N + BIG);
        assert_memory_equal(big, ref + N, BIG);
        free(big);
        free(ref);
    }
    /* Reset + re-init keeps working (the stream goes on). */
    assert_int_equal(virtio_rng_reinit(rng), 0);
    assert_int_equal(virtio_rng_read(rng, got, 16), 16);
    free(got);
    free(want);
    virtio_rng_remove(rng);
}
#endif

/* ---- net ---- */

#if HAVE_DEV_NET
static void test_net_echo(void **state)
{
    struct env *e = *state;
    struct virtio_net *net = NULL;
    static uint8_t frame[VIRTIO_NET_MAX_FRAME_CAP + 1], got[VIRTIO_NET_MAX_FRAME];
    static const uint8_t want_mac[6] = VDEV_NET_DEFAULT_MAC;
    uint8_t mac[6];
    unsigned i;
    int len;

    assert_int_equal(vdev_net_create(&e->lb.vd, &e->mem, NULL), 0);
    lb_attach("lnet0");
    assert_int_equal(virtio_net_probe(e->lb.dev, &net), 0);
    virtio_net_get_mac(net, mac);
    assert_memory_equal(mac, want_mac, 6);
    assert_true(virtio_net_is_link_up(net));
    assert_int_equal(virtio_net_recv(net, got, sizeof(got), 0), -EAGAIN);
    for (i = 0; i < 300; i++) {
        size_t n = 14 + (i * 37) % (VIRTIO_NET_MAX_FRAME - 14);

        fill_pattern(frame, n, i);
        assert_int_equal(virtio_net_send(net, frame, n), 0);
        len = virtio_net_recv(net, got, sizeof(got), VIRTIO_NET_TIMEOUT_NS);
        assert_int_equal(len, (int)n);
        assert_memory_equal(got, frame, n);
    }
    /* Several frames queued before receiving (more than fit at once is
     * the device's backlog, not tested here). */
    for (i = 0; i < 16; i++) {
        fill_pattern(frame, 60, 1000 + i);
        assert_int_equal(virtio_net_send(net, frame, 60), 0);
    }
    for (i = 0; i < 16; i++) {
        fill_pattern(frame, 60, 1000 + i);
        assert_int_equal(virtio_net_recv(net, got, sizeof(got), VIRTIO_NET_TIMEOUT_NS), 60);
        assert_memory_equal(got, frame, 60);
    }
    /* More frames than receive buffers (64) before receiving: the device
     * holds the rest until the driver re-posts buffers; order is kept. */
    for (i = 0; i < 100; i++) {
        fill_pattern(frame, 200, 2000 + i);
        assert_int_equal(virtio_net_send(net, frame, 200), 0);
    }
    for (i = 0; i < 100; i++) {
        fill_pattern(frame, 200, 2000 + i);
        assert_int_equal(virtio_net_recv(net, got, sizeof(got), VIRTIO_NET_TIMEOUT_NS), 200);
        assert_memory_equal(got, frame, 200);
    }
    /* Too large for the caller: dropped, reported. */
    assert_int_equal(virtio_net_send(net, frame, 100), 0);
    assert_int_equal(virtio_net_recv(net, got, 50, VIRTIO_NET_TIMEOUT_NS), -EMSGSIZE);
    assert_int_equal(virtio_net_send(net, frame, 0), -EINVAL);
    /* The model offers MTU 3000 (5.1.4.2: nothing above mtu + 14). */
    assert_int_equal(virtio_net_max_frame(net), VDEV_NET_DEFAULT_MTU + 14);
    assert_int_equal(virtio_net_send(net, frame, VDEV_NET_DEFAULT_MTU + 15), -EINVAL);
    /* Reset + re-init, then traffic again. */
    assert_int_equal(virtio_net_reinit(net), 0);
    assert_int_equal(virtio_net_send(net, frame, 64), 0);
    assert_int_equal(virtio_net_recv(net, got, sizeof(got), VIRTIO_NET_TIMEOUT_NS), 64);
    assert_int_equal(virtio_net_get_stats(net)->rx_frames, 300 + 16 + 100 + 1);
    virtio_net_remove(net);
}
#endif

/* ---- console ---- */

#if HAVE_DEV_CONSOLE
struct take_arg {
    char buf[1024];
    size_t n;
};

static void do_take(struct vdev *d, void *arg)
{
    struct take_arg *t = arg;

    t->n = vdev_console_take(d, t->buf, sizeof(t->buf));
}

struct inject_arg {
    const char *s;
    size_t n;
};

static void do_inject(struct vdev *d, void *arg)
{
    struct inject_arg *a = arg;

    a->n = vdev_console_inject(d, a->s, strlen(a->s));
}

static int read_exact(struct virtio_console *con, char *buf, size_t n)
{
    size_t got = 0;

    while (got < n) {
        int r = virtio_console_read(con, buf + got, n - got, VIRTIO_CONSOLE_TIMEOUT_NS);

        if (r < 0)
            return r;
        got += (size_t)r;
    }
    return (int)got;
}

static void test_console_rw(void **state)
{
    struct env *e = *state;
    struct virtio_console *con = NULL;
    static const char msg[] = "hello, loopback console";
    char big[1000], got[1000];
    struct take_arg t;
    struct inject_arg in = {"from the device side", 0};
    uint16_t cols, rows;

    assert_int_equal(vdev_console_create(&e->lb.vd, &e->mem, 80, 25), 0);
    lb_attach("lcon0");
    assert_int_equal(virtio_console_probe(e->lb.dev, &con), 0);
    virtio_console_get_size(con, &cols, &rows);
    if (virtio_has_feature(e->lb.dev, VIRTIO_CONSOLE_F_SIZE)) {
        assert_int_equal(cols, 80);
        assert_int_equal(rows, 25);
    }
    assert_int_equal(virtio_console_read(con, got, sizeof(got), 0), -EAGAIN);
    assert_int_equal(virtio_console_write(con, msg, strlen(msg)), (int)strlen(msg));
    /* Echo: what we wrote comes back ... */
    assert_int_equal(read_exact(con, got, strlen(msg)), (int)strlen(msg));
    assert_memory_equal(got, msg, strlen(msg));
    /* ... and the device kept it. */
    vmmio_run_locked(e->lb.m, do_take, &t);
    assert_int_equal(t.n, strlen(msg));
    assert_memory_equal(t.buf, msg, t.n);
    /* Larger than one buffer each way. */
    fill_pattern((uint8_t *)big, sizeof(big), 5);
    assert_int_equal(virtio_console_write(con, big, sizeof(big)), (int)sizeof(big));
    assert_int_equal(read_exact(con, got, sizeof(big)), (int)sizeof(big));
    assert_memory_equal(got, big, sizeof(big));
    vmmio_run_locked(e->lb.m, do_take, &t);
    /* Device-originated bytes. */
    vmmio_run_locked(e->lb.m, do_inject, &in);
    assert_int_equal(in.n, strlen(in.s));
    assert_int_equal(read_exact(con, got, in.n), (int)in.n);
    assert_memory_equal(got, in.s, in.n);
    /* Reset + re-init. */
    assert_int_equal(virtio_console_reinit(con), 0);
    assert_int_equal(virtio_console_write(con, "x", 1), 1);
    assert_int_equal(read_exact(con, got, 1), 1);
    assert_int_equal(got[0], 'x');
    virtio_console_remove(con);
}
#endif

/* ---- pmem ---- */

#if HAVE_DEV_PMEM
static void *test_map(uint64_t start, uint64_t size, void *ctx)
{
    struct env *e = ctx;

    if (start == LB_PMEM_GPA && size <= LB_PMEM_SIZE)
        return e->pmem;
    return NULL;
}

static int pmem_flush_result; /* what the device's flush hook returns */
static int pmem_flush_calls;

static int test_pmem_flush_hook(void *ctx)
{
    (void)ctx;
    pmem_flush_calls++;
    return pmem_flush_result;
}

static void test_pmem_flush(void **state)
{
    struct env *e = *state;
    struct virtio_pmem *pmem = NULL;
    struct vdev_pmem_stats st;
    uint8_t *region;

    pmem_flush_result = 0;
    pmem_flush_calls = 0;
    assert_int_equal(
        vdev_pmem_create(&e->lb.vd, &e->mem, LB_PMEM_GPA, LB_PMEM_SIZE, test_pmem_flush_hook, NULL),
        0);
    lb_attach("lpmem0");
    assert_int_equal(virtio_pmem_probe(e->lb.dev, test_map, e, &pmem), 0);
    assert_int_equal(virtio_pmem_start(pmem), LB_PMEM_GPA);
    assert_int_equal(virtio_pmem_size(pmem), LB_PMEM_SIZE);
    region = virtio_pmem_addr(pmem);
    assert_ptr_equal(region, e->pmem);
    fill_pattern(region + 4096, 8192, 77);
    assert_int_equal(virtio_pmem_flush(pmem), 0);
    assert_int_equal(virtio_pmem_flush(pmem), 0);
    vdev_pmem_get_stats(&e->lb.vd, &st);
    assert_int_equal(st.flushes, 2);
    assert_int_equal(st.errors, 0);
    assert_int_equal(pmem_flush_calls, 2);
    /* The backing store fails: the device answers ret != 0 -> -EIO, and
     * the next flush works again. */
    pmem_flush_result = -EIO;
    assert_int_equal(virtio_pmem_flush(pmem), -EIO);
    pmem_flush_result = 0;
    assert_int_equal(virtio_pmem_flush(pmem), 0);
    assert_int_equal(virtio_pmem_get_stats(pmem)->errors, 1);
    assert_int_equal(virtio_pmem_reinit(pmem), 0);
    assert_int_equal(virtio_pmem_flush(pmem), 0);
    assert_int_equal(virtio_pmem_get_stats(pmem)->flushes, 5);
    virtio_pmem_remove(pmem);
}
#endif

int main(void)
{
    const struct CMUnitTest tests[] = {
#if HAVE_DEV_RNG
        MODE_TESTS(test_rng_bytes),
#endif
#if HAVE_DEV_NET
        MODE_TESTS(test_net_echo),
        MODE_TESTS(test_net_echo_checked),
#endif
#if HAVE_DEV_CONSOLE
        MODE_TESTS(test_console_rw),
#endif
#if HAVE_DEV_PMEM
        MODE_TESTS(test_pmem_flush),
#endif
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
