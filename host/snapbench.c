/* SPDX-License-Identifier: Apache-2.0 */
/*
 * snapbench.c - snapshot save + restore time (issue 6 goal: <= 20 us
 * hosted) for a device with 3 queues x 256 entries and 256 chains in
 * flight: a bench model that pops chains and holds them (never completes),
 * so all 256 are listed in the snapshot's QUEU sections; the driver side is
 * the real driver virtqueue through the register file (dev_fixture).
 *
 * Save runs on the sleeping source device; restore goes into a second,
 * fresh, sleeping instance over the same guest memory (each iteration
 * restores over the previous one, a valid target since it sleeps).
 * Prints min / median / p99 per operation; never asserts a time.
 *
 *   snapbench [--iters N]
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "dev_fixture.h"
#include "snapshot.h"
#include "virtio_platform.h"

#define BENCH_QUEUES 3
#define BENCH_QSIZE 256
#define BENCH_INFLIGHT 256

/* Pops whatever is available and holds it (a backend with I/O in flight). */
static int bench_process(struct vdev *d, unsigned qi)
{
    struct vdq_chain c;
    int n = 0;

    while (vdev_queue_pop(d, qi, &c) == 0)
        n++;
    return n;
}

static const struct vdev_ops bench_ops = {
    .type = "bench",
    .device_id = 0x7fff,
    .num_queues = BENCH_QUEUES,
    .queue_max_size = BENCH_QSIZE,
    .process_queue = bench_process,
};

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

    return x < y ? -1 : x > y;
}

static void report(const char *what, uint64_t *ns, unsigned n)
{
    qsort(ns, n, sizeof(*ns), cmp_u64);
    printf("snapbench: %-13s min %7.2f us  median %7.2f us  p99 %7.2f us\n", what, ns[0] / 1e3,
           ns[n / 2] / 1e3, ns[n * 99 / 100] / 1e3);
}

int main(int argc, char **argv)
{
    static struct dev_fixture fix;
    struct dev_fixture *f = &fix;
    uint64_t features = (1ull << VIRTIO_F_VERSION_1) | (1ull << VIRTIO_F_EVENT_IDX) |
                        (1ull << VIRTIO_F_INDIRECT_DESC);
    unsigned iters = 20000, i, qi, inflight = 0;
    uint64_t *t_save, *t_restore, *t_both;
    struct vdev fresh_dev;
    struct vmmio *fresh;
    uint8_t *buf, *data;
    size_t len = 0, cap;
    char err[256];

    for (i = 1; i < (unsigned)argc; i++) {
        if (!strcmp(argv[i], "--iters") && i + 1 < (unsigned)argc)
            iters = (unsigned)strtoul(argv[++i], NULL, 0);
    }
    if (iters < 100)
        iters = 100;
    dfx_arena(f);
    vdev_init(&f->dev, &bench_ops, NULL, features, &f->fx.mem);
    dfx_attach(f);
    dfx_start(f, features, BENCH_QSIZE);
    data = fx_alloc(&f->fx, 4096, NULL);
    /* 256 two-segment chains over the three queues, popped and held. */
    for (i = 0; i < BENCH_INFLIGHT; i++) {
        struct vq_sg sg[2] = {{.buf = data, .len = 16}, {.buf = data + 64, .len = 512}};

        qi = i % BENCH_QUEUES;
        if (vq_add_sgs(f->vq[qi], sg, 1, 1, data + i) != 0) {
            fprintf(stderr, "snapbench: vq_add_sgs failed\n");
            return 1;
        }
    }
    for (qi = 0; qi < BENCH_QUEUES; qi++)
        vq_kick(f->vq[qi]);
    while (vmmio_has_pending(f->m))
        vmmio_process(f->m);
    for (qi = 0; qi < BENCH_QUEUES; qi++)
        inflight += (uint16_t)(f->dev.queues[qi].q.next_avail - f->dev.queues[qi].q.next_used);
    vmmio_sleep(f->m);

    vdev_init(&fresh_dev, &bench_ops, NULL, features, &f->fx.mem);
    if (vmmio_create(&fresh_dev, NULL, &fresh)) {
        fprintf(stderr, "snapbench: vmmio_create failed\n");
        return 1;
    }
    vmmio_sleep(fresh);
    cap = snap_size(f->m, 0);
    buf = malloc(cap);
    t_save = calloc(iters, sizeof(*t_save));
    t_restore = calloc(iters, sizeof(*t_restore));
    t_both = calloc(iters, sizeof(*t_both));
    if (!buf || !t_save || !t_restore || !t_both)
        return 1;
    for (i = 0; i < iters; i++) {
        uint64_t t0 = virt_time_ns(), t1, t2;

        if (snap_save(f->m, 0, buf, cap, &len)) {
            fprintf(stderr, "snapbench: save failed\n");
            return 1;
        }
        t1 = virt_time_ns();
        if (snap_restore(fresh, buf, len, err, sizeof(err))) {
            fprintf(stderr, "snapbench: restore failed: %s\n", err);
            return 1;
        }
        t2 = virt_time_ns();
        t_save[i] = t1 - t0;
        t_restore[i] = t2 - t1;
        t_both[i] = t2 - t0;
    }
    printf("snapbench: %u queues x %u entries, %u chains in flight, snapshot %zu bytes, %u "
           "iterations (goal: save+restore <= 20 us)\n",
           BENCH_QUEUES, BENCH_QSIZE, inflight, len, iters);
    report("save", t_save, iters);
    report("restore", t_restore, iters);
    report("save+restore", t_both, iters);
    vmmio_destroy(fresh);
    free(buf);
    free(t_save);
    free(t_restore);
    free(t_both);
    dfx_teardown(f);
    return 0;
}
