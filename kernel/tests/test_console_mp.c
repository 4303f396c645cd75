/* SPDX-License-Identifier: Apache-2.0 */
/*
 * test_console_mp.c - suite "console-multiport": the console driver's
 * MULTIPORT (VIRTIO 1.2 5.3.6.2) against the loopback console model on
 * CPU 1 (three ports): every port announced, named, open at both ends and
 * seen so by the device; data on each port stays on that port in all four
 * interrupt/poll x EVENT_IDX modes (each a reset + re-announce); bytes the
 * device queues on a port arrive there; a port without queues is refused.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kernel.h"
#include "kernel/tests/ktest.h"
#include "kernel/virtio/loopback.h"
#include "transport_loopback.h"
#include "vdev.h"
#include "vdev_models.h"
#include "virtio.h"
#include "virtio_console.h"
#include "vmmio.h"

#define TC_TIMEOUT_NS 2000000000ull

static const struct {
    bool polled, event_idx;
} tc_modes[4] = {{false, true}, {false, false}, {true, true}, {true, false}};

static struct virtio_device *tc_dev(struct ktest *t)
{
    struct virtio_device *d;

    if (loopback_init()) {
        ktest_fail(t, __FILE__, __LINE__, "loopback_init failed");
        return NULL;
    }
    d = virtio_find("lcon0");
    if (!d || !d->driver_priv) {
        ktest_fail(t, __FILE__, __LINE__, "no device lcon0");
        return NULL;
    }
    return d;
}

struct port_arg {
    uint32_t port;
    bool ready, open;
    const char *inject;
    size_t n;
    char took[64];
};

static void port_locked(struct vdev *d, void *arg)
{
    struct port_arg *a = arg;

    (void)vdev_console_port_state(d, a->port, &a->ready, &a->open);
    if (a->inject)
        a->n = vdev_console_port_inject(d, a->port, a->inject, strlen(a->inject));
    else
        a->n = vdev_console_port_take(d, a->port, a->took, sizeof(a->took));
}

/* Take what is waiting on every port (earlier cases leave echo bytes). */
static void drain_ports(struct virtio_console *con)
{
    char buf[256];

    for (uint32_t p = 0; p < virtio_console_nports(con); p++)
        while (virtio_console_port_read(con, p, buf, sizeof(buf), 0) > 0)
            ;
}

static void t_ports_announced(struct ktest *t)
{
    struct virtio_device *d = tc_dev(t);
    struct virtio_console *con;

    if (!d)
        return;
    con = d->driver_priv;
    KT_ASSERT(t, virtio_console_is_multiport(con));
    KT_ASSERT_EQ(t, virtio_console_nports(con), 3);
    KT_ASSERT_EQ(t, d->nvqs, 8);
    for (uint32_t p = 0; p < 3; p++) {
        struct virtio_console_port_info i;
        struct port_arg a = {.port = p};
        char name[16];

        KT_ASSERT_EQ(t, virtio_console_port_info(con, p, &i), 0);
        snprintf(name, sizeof(name), "ringloop.%u", (unsigned)p);
        ktest_diag("port %u name %s console %d host %d guest %d", (unsigned)p, i.name,
                   i.is_console, i.host_open, i.guest_open);
        KT_ASSERT(t, i.exists && i.host_open && i.guest_open);
        KT_ASSERT_EQ(t, i.is_console, p == 0);
        KT_ASSERT(t, strcmp(i.name, name) == 0);
        vmmio_run_locked(loopback_device_vmmio(d), port_locked, &a);
        KT_ASSERT(t, a.ready && a.open);
    }
    KT_ASSERT_EQ(t, virtio_console_get_stats(con)->ctrl_bad, 0);
}

static void t_ports_separate_all_modes(struct ktest *t)
{
    struct virtio_device *d = tc_dev(t);
    struct virtio_console *con;
    char msg[3][48], buf[64];

    if (!d)
        return;
    con = d->driver_priv;
    for (unsigned m = 0; m < 4 && !t->failed; m++) {
        if (loopback_set_mode(d, tc_modes[m].polled, tc_modes[m].event_idx, 0))
            KT_FAIL(t, "mode %u: reinit", m);
        drain_ports(con);
        for (uint32_t p = 0; p < 3; p++) {
            int n = snprintf(msg[p], sizeof(msg[p]), "mode %u port %u payload", m, (unsigned)p);

            if (virtio_console_port_write(con, p, msg[p], (size_t)n) != n)
                KT_FAIL(t, "mode %u: write on port %u", m, (unsigned)p);
        }
        for (uint32_t p = 3; p-- > 0;) {
            size_t want = strlen(msg[p]);
            size_t got = 0;

            while (got < want) {
                int r = virtio_console_port_read(con, p, buf + got, want - got, TC_TIMEOUT_NS);

                if (r <= 0)
                    KT_FAIL(t, "mode %u: port %u read %d after %zu", m, (unsigned)p, r, got);
                got += (size_t)r;
            }
            if (memcmp(buf, msg[p], want))
                KT_FAIL(t, "mode %u: port %u got another port's bytes", m, (unsigned)p);
            if (virtio_console_port_read(con, p, buf, sizeof(buf), 0) != -EAGAIN)
                KT_FAIL(t, "mode %u: port %u has more than it was sent", m, (unsigned)p);
        }
    }
    (void)loopback_set_mode(d, false, true, 0);
}

static void t_device_to_port(struct ktest *t)
{
    struct virtio_device *d = tc_dev(t);
    struct virtio_console *con;
    struct port_arg a = {.port = 1, .inject = "device speaks on port one"};
    char buf[64];
    int r;

    if (!d)
        return;
    con = d->driver_priv;
    drain_ports(con);
    vmmio_run_locked(loopback_device_vmmio(d), port_locked, &a);
    KT_ASSERT_EQ(t, a.n, strlen(a.inject));
    r = virtio_console_port_read(con, 1, buf, sizeof(buf), TC_TIMEOUT_NS);
    KT_ASSERT_EQ(t, r, (int)a.n);
    KT_ASSERT(t, memcmp(buf, a.inject, a.n) == 0);
    KT_ASSERT_EQ(t, virtio_console_port_read(con, 0, buf, sizeof(buf), 0), -EAGAIN);
    KT_ASSERT_EQ(t, virtio_console_port_read(con, 2, buf, sizeof(buf), 0), -EAGAIN);
    /* No queues for port 3: refused before anything is sent. */
    KT_ASSERT_EQ(t, virtio_console_port_write(con, 3, "x", 1), -EINVAL);
}

KTEST_SUITE(console_mp_suite, "console-multiport", {"ports_announced", t_ports_announced},
            {"ports_separate_all_modes", t_ports_separate_all_modes},
            {"device_to_port", t_device_to_port});
