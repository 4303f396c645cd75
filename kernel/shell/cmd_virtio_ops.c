/* SPDX-License-Identifier: Apache-2.0 */
/*
 * cmd_virtio_ops.c - shell commands that exercise a virtio device beyond
 * the issue 4 contract (cmd_virtio.c), for the checks against QEMU's
 * devices:
 *
 *   virtio info <dev>                       status, irq mode, counters (+ blk capacity,
 *                                           queues, blk requests per queue,
 *                                           and a "  blk: ..." line of features and limits),
 *                                           then one line per queue: storm and check counters
 *   virtio check on|off                     checking mode (guard bytes after every
 *                                           device-writable buffer, every queue)
 *   virtio packed on|off                    ask for the packed ring (VIRTIO_F_RING_PACKED)
 *                                           at every later device init (reset, reinit)
 *   virtio reset <dev> <count>              count x (reset + re-init + one request)
 *   virtio inflight <dev> <lba> <n> <depth> n 4 KiB blk reads from lba on, up to
 *                                           depth in flight: sha256 of the data in
 *                                           LBA order, most requests seen in flight
 *
 * Like cmd_virtio.c, each runs with interrupts on, prints one "error: ..."
 * line on failure and leaves the device usable.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kernel.h"
#include "sha256.h"
#include "kernel/shell/cmd_blk_ext.h"
#include "kernel/shell/shell.h"
#include "virtio.h"
#include "kernel/virtio/virtio_bind.h"
#include "virtio_blk.h"
#include "virtio_console.h"
#include "virtio_net.h"
#include "kernel/shell/cmd_net_ctrl.h"
#include "kernel/virtio/virtio_pci.h"
#include "virtio_pmem.h"
#include "virtio_rng.h"

#define VO_IO_BYTES 4096u
#define VO_MAX_DEPTH 128u

static struct virtio_device *vo_find(const char *name)
{
    struct virtio_device *d = virtio_find(name);

    if (!d)
        printf("error: virtio: no such device '%s'\n", name);
    else if (!d->driver_priv)
        printf("error: virtio: '%s' has no driver bound\n", name);
    return d && d->driver_priv ? d : NULL;
}

static int vo_info(struct virtio_device *d)
{
    char irq[128];

    virtio_pci_describe(d, irq, sizeof(irq));
    printf("%s %s %s status=0x%x polled=%d interrupts=%llu config_interrupts=%llu "
           "lost_interrupts=%llu",
           d->name, virtio_type_name(d->device_id), d->ops->name, d->ops->get_status(d), d->polled,
           (unsigned long long)d->interrupts, (unsigned long long)d->config_interrupts,
           (unsigned long long)d->lost_interrupts);
    if (d->device_id == VIRTIO_ID_BLOCK)
        printf(" capacity=%llu queues=%u", (unsigned long long)virtio_blk_capacity(d->driver_priv),
               virtio_blk_num_queues(d->driver_priv));
    if (virtio_has_feature(d, VIRTIO_F_RING_PACKED))
        printf(" ring=packed");
    printf("%s%s\n", irq[0] ? " " : "", irq);
    if (d->device_id == VIRTIO_ID_BLOCK)
        blk_ext_info(d->driver_priv);
    if (d->device_id == VIRTIO_ID_NET && d->driver_priv)
        net_ctrl_info(d->driver_priv);
    for (unsigned q = 0; q < d->nvqs; q++) {
        const struct virtio_vq *v = &d->vqs[q];
        const struct vq_stats *st = vq_get_stats(v->vq);

        printf("  q%u irq_no_progress=%llu irq_storms=%llu masked=%d check_bounced=%llu "
               "check_overruns=%llu check_past_len=%llu\n",
               q, (unsigned long long)v->irq_no_progress, (unsigned long long)v->irq_storms,
               __atomic_load_n(&v->irq_masked, __ATOMIC_RELAXED) ? 1 : 0,
               (unsigned long long)st->check_bounced, (unsigned long long)st->check_overruns,
               (unsigned long long)st->check_past_len);
        if (d->device_id == VIRTIO_ID_BLOCK) {
            struct virtio_blk_queue_stats bs;

            if (virtio_blk_get_queue_stats(d->driver_priv, q, &bs) == 0)
                printf("  q%u blk submitted=%llu completed=%llu in_flight=%u\n", q,
                       (unsigned long long)bs.submitted, (unsigned long long)bs.completed,
                       bs.in_flight);
        }
    }
    return 0;
}

static int vo_packed(const char *arg)
{
    if (strcmp(arg, "on") && strcmp(arg, "off")) {
        printf("error: usage: virtio packed on|off\n");
        return 1;
    }
    virtio_set_packed_default(!strcmp(arg, "on"));
    printf("packed ring %s (from the next init of each device)\n",
           virtio_packed_default() ? "on" : "off");
    return 0;
}

static int vo_check(const char *arg)
{
    if (strcmp(arg, "on") && strcmp(arg, "off")) {
        printf("error: usage: virtio check on|off\n");
        return 1;
    }
    vq_set_checking(!strcmp(arg, "on"));
    printf("checking %s\n", vq_is_checking() ? "on" : "off");
    return 0;
}

/* One small request of the device's kind; data checked where we can. */
static int vo_traffic(struct virtio_device *d, uint8_t *buf, const uint8_t *ref)
{
    static const char dot = '.';
    int r;

    switch (d->device_id) {
    case VIRTIO_ID_BLOCK:
        r = virtio_blk_read(d->driver_priv, 0, buf, 8);
        if (r == 0 && memcmp(buf, ref, VO_IO_BYTES) != 0)
            r = -EILSEQ; /* sector 0 changed across a reset */
        return r;
    case VIRTIO_ID_RNG:
        r = virtio_rng_read(d->driver_priv, buf, 16);
        return r == 16 ? 0 : r < 0 ? r : -EIO;
    case VIRTIO_ID_NET:
        memset(buf, 0xff, 6); /* broadcast */
        memset(buf + 6, 0x52, 6);
        buf[12] = 0x88;
        buf[13] = 0xb5; /* local experimental ethertype */
        memset(buf + 14, 0, 46);
        return virtio_net_send(d->driver_priv, buf, 60);
    case VIRTIO_ID_CONSOLE:
        r = virtio_console_write(d->driver_priv, &dot, 1);
        return r == 1 ? 0 : r < 0 ? r : -EIO;
    case VIRTIO_ID_PMEM:
        return virtio_pmem_flush(d->driver_priv);
    default:
        return -ENODEV;
    }
}

static int vo_reset(struct virtio_device *d, unsigned long long count)
{
    uint8_t *buf = malloc(VO_IO_BYTES), *ref = malloc(VO_IO_BYTES);
    unsigned long long i;
    int err = 0;

    if (!buf || !ref) {
        err = -ENOMEM;
        goto out;
    }
    if (d->device_id == VIRTIO_ID_BLOCK)
        err = virtio_blk_read(d->driver_priv, 0, ref, 8);
    for (i = 0; i < count && !err; i++) {
        err = virtio_bind_reinit(d);
        if (!err && !(d->ops->get_status(d) & VIRTIO_STATUS_DRIVER_OK))
            err = -EIO;
        if (!err)
            err = vo_traffic(d, buf, ref);
    }
    if (err)
        printf("error: virtio reset %s: cycle %llu: %s (%d)\n", d->name, i, strerror(-err), err);
    else
        printf("reset %llu cycles ok, status 0x%x\n", count, d->ops->get_status(d));
out:
    free(buf);
    free(ref);
    return err;
}

static int vo_inflight(struct virtio_device *d, uint64_t lba, unsigned n, unsigned depth)
{
    struct virtio_blk *blk = d->driver_priv;
    struct virtio_blk_req reqs[VO_MAX_DEPTH];
    struct vq_sg sgs[VO_MAX_DEPTH];
    uint8_t *bufs = malloc((size_t)depth * VO_IO_BYTES);
    unsigned next = 0, done = 0, head = 0, max_in_flight = 0;
    struct sha256 s;
    uint8_t dg[SHA256_DIGEST_BYTES];
    char hex[2 * SHA256_DIGEST_BYTES + 1];
    int err = 0;

    if (!bufs)
        return -ENOMEM;
    sha256_init(&s);
    /* Fill the queue, then wait for the oldest and resubmit its slot. */
    for (; next < n && next < depth; next++) {
        sgs[next] = (struct vq_sg){.buf = bufs + (size_t)next * VO_IO_BYTES, .len = VO_IO_BYTES};
        reqs[next] = (struct virtio_blk_req){
            .type = VIRTIO_BLK_T_IN, .nsegs = 1, .sector = lba + 8ull * next, .segs = &sgs[next]};
        err = virtio_blk_submit(blk, &reqs[next]);
        if (err)
            goto out;
        if (virtio_blk_in_flight(blk) > max_in_flight)
            max_in_flight = virtio_blk_in_flight(blk);
    }
    while (done < n) {
        err = virtio_blk_wait(blk, &reqs[head], VIRTIO_BLK_TIMEOUT_NS);
        if (err)
            goto out;
        sha256_update(&s, bufs + (size_t)head * VO_IO_BYTES, VO_IO_BYTES);
        done++;
        if (next < n) {
            reqs[head].sector = lba + 8ull * next;
            err = virtio_blk_submit(blk, &reqs[head]);
            if (err)
                goto out;
            next++;
        }
        head = (head + 1) % depth;
    }
    sha256_final(&s, dg);
    sha256_digest_to_hex(dg, hex);
    printf("sha256 %s max_in_flight=%u\n", hex, max_in_flight);
out:
    if (err) {
        printf("error: virtio inflight %s: %s (%d)\n", d->name, strerror(-err), err);
        (void)virtio_blk_drain(blk, VIRTIO_BLK_TIMEOUT_NS);
    }
    free(bufs);
    return err;
}

static int vo_dispatch(int argc, char **argv)
{
    unsigned long long a, b, c;
    struct virtio_device *d;

    if (argc < 3) {
        printf("error: usage: virtio info <dev> | reset <dev> <count> | inflight <dev> <lba> "
               "<n> <depth> | check on|off | packed on|off\n");
        return 1;
    }
    if (!strcmp(argv[1], "check") && argc == 3)
        return vo_check(argv[2]);
    if (!strcmp(argv[1], "packed") && argc == 3)
        return vo_packed(argv[2]);
    d = vo_find(argv[2]);
    if (!d)
        return 1;
    if (!strcmp(argv[1], "info") && argc == 3)
        return vo_info(d);
    if (!strcmp(argv[1], "reset") && argc == 4) {
        if (shell_parse_u64("count", argv[3], 100000, &a))
            return 1;
        return vo_reset(d, a) ? 1 : 0;
    }
    if (!strcmp(argv[1], "inflight") && argc == 6) {
        if (d->device_id != VIRTIO_ID_BLOCK) {
            printf("error: virtio inflight: '%s' is not a blk device\n", d->name);
            return 1;
        }
        if (shell_parse_u64("lba", argv[3], UINT64_MAX / 2, &a) ||
            shell_parse_u64("n", argv[4], 1000000, &b) ||
            shell_parse_u64("depth", argv[5], VO_MAX_DEPTH, &c))
            return 1;
        if (b == 0 || c == 0) {
            printf("error: virtio inflight: n and depth must be at least 1\n");
            return 1;
        }
        return vo_inflight(d, a, (unsigned)b, (unsigned)c) ? 1 : 0;
    }
    printf("error: virtio: unknown subcommand or wrong arguments\n");
    return 1;
}

SHELL_COMMAND(virtio, "virtio",
              "info <dev> | reset <dev> <count> | inflight <dev> <lba> <n> <depth> | check on|off",
              "virtio device state, reset + re-init cycles with traffic, blk reads in flight, "
              "checking mode (guard bytes)",
              vo_dispatch);
