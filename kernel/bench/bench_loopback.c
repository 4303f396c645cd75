/* SPDX-License-Identifier: Apache-2.0 */
/*
 * bench_loopback.c - `bench loopback [requests]`: virtio-blk 4 KiB reads on
 * lblk0 (driver on CPU 0, device on CPU 1), interrupt-driven, at queue
 * depth 1, 32 and 128, with EVENT_IDX on and off (INDIRECT_DESC on in both,
 * so 128 requests fit a 256-entry ring). Prints requests/s, kicks/request
 * (driver notifications that reached the device) and interrupts/request
 * (used-buffer interrupts the device raised). Numbers only: nothing is
 * asserted. Restores the default mode afterwards.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kernel.h"
#include "kernel/virtio/loopback.h"
#include "kernel/shell/shell.h"
#include "vdev.h"
#include "virtio.h"
#include "virtio_blk.h"
#include "x86.h"

#define BL_MAX_QD 128
#define BL_IO_BYTES 4096

struct bl_result {
    uint64_t ns;
    uint64_t kicks;
    uint64_t irqs;
    int err;
};

static int bl_set_mode(struct virtio_device *d, bool event_idx)
{
    d->polled = false;
    d->no_event_idx = !event_idx;
    d->no_indirect = false;
    d->queue_size_limit = 0;
    return virtio_blk_reinit(d->driver_priv);
}

static void bl_run(struct virtio_device *d, unsigned qd, uint64_t n, uint8_t *bufs,
                   struct bl_result *res)
{
    struct virtio_blk *blk = d->driver_priv;
    struct virtio_blk_req reqs[BL_MAX_QD];
    struct vq_sg sgs[BL_MAX_QD];
    uint64_t sectors = virtio_blk_capacity(blk), next = 0, done = 0;
    struct vdev *vd = loopback_vdev(d);
    uint64_t kicks0 = vd->queues[0].stats.kicks, irqs0 = vd->queues[0].stats.interrupts;
    uint64_t t0 = timer_ns();
    unsigned head = 0;
    int err = 0;

    /* Fill the queue, then keep it full: wait for the oldest, resubmit it. */
    for (unsigned i = 0; i < qd && next < n; i++, next++) {
        sgs[i] = (struct vq_sg){.buf = bufs + (size_t)i * BL_IO_BYTES, .len = BL_IO_BYTES};
        reqs[i] = (struct virtio_blk_req){.type = VIRTIO_BLK_T_IN,
                                          .nsegs = 1,
                                          .sector = (next * 8) % (sectors - 8),
                                          .segs = &sgs[i]};
        err = virtio_blk_submit(blk, &reqs[i]);
        if (err)
            goto out;
    }
    while (done < n) {
        err = virtio_blk_wait(blk, &reqs[head], VIRTIO_BLK_TIMEOUT_NS);
        if (err)
            goto out;
        done++;
        if (next < n) {
            reqs[head].sector = (next * 8) % (sectors - 8);
            err = virtio_blk_submit(blk, &reqs[head]);
            if (err)
                goto out;
            next++;
        }
        head = (head + 1) % qd;
    }
out:
    res->ns = timer_ns() - t0;
    res->kicks = vd->queues[0].stats.kicks - kicks0;
    res->irqs = vd->queues[0].stats.interrupts - irqs0;
    res->err = err;
    if (err)
        (void)virtio_blk_drain(blk, VIRTIO_BLK_TIMEOUT_NS);
}

static void bl_print_ratio(uint64_t a, uint64_t n)
{
    /* a/n with 3 decimals, integer arithmetic only. */
    uint64_t milli = n ? (a * 1000 + n / 2) / n : 0;

    printf(" %6llu.%03llu", (unsigned long long)(milli / 1000), (unsigned long long)(milli % 1000));
}

static int bench_loopback(int argc, char **argv)
{
    static const unsigned qds[] = {1, 32, 128};
    unsigned long long n = 20000;
    struct virtio_device *d;
    bool was_on = read_rflags() & (1u << 9);
    uint8_t *bufs;
    int rc = 0;

    if (argc > 2 || (argc == 2 && shell_parse_u64("requests", argv[1], 10000000, &n)))
        return 1;
    if (n < 1) {
        printf("error: requests must be at least 1\n");
        return 1;
    }
    if (loopback_init() || !(d = virtio_find("lblk0")) || !d->driver_priv) {
        printf("error: bench loopback: lblk0 unavailable\n");
        return 1;
    }
    bufs = malloc((size_t)BL_MAX_QD * BL_IO_BYTES);
    if (!bufs) {
        printf("error: bench loopback: out of memory\n");
        return 1;
    }
    irq_enable(); /* completions arrive as IPIs */
    printf("blk 4 KiB reads, %llu requests per row, interrupt-driven\n", n);
    printf("   qd event_idx     req/s  kicks/req   irqs/req\n");
    for (unsigned e = 0; e < 2 && !rc; e++) {
        for (unsigned i = 0; i < sizeof(qds) / sizeof(qds[0]); i++) {
            struct bl_result r;

            if (bl_set_mode(d, e == 0)) {
                printf("error: bench loopback: re-init failed\n");
                rc = 1;
                break;
            }
            bl_run(d, qds[i], n, bufs, &r);
            if (r.err) {
                printf("error: bench loopback: qd %u: I/O error %d\n", qds[i], r.err);
                rc = 1;
                break;
            }
            printf("  %3u %9s %9llu", qds[i], e == 0 ? "on" : "off",
                   (unsigned long long)(r.ns ? n * 1000000000ull / r.ns : 0));
            bl_print_ratio(r.kicks, n);
            printf("    ");
            bl_print_ratio(r.irqs, n);
            printf("\n");
            if (d->lost_interrupts)
                printf("# %llu completions found without their interrupt\n",
                       (unsigned long long)d->lost_interrupts);
        }
    }
    (void)loopback_set_mode(d, false, true, 0);
    if (!was_on)
        irq_disable();
    free(bufs);
    return rc;
}
BENCH(loopback, "loopback", "[requests] blk 4 KiB reads at qd 1/32/128, EVENT_IDX on/off",
      bench_loopback);
