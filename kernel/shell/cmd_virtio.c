/* SPDX-License-Identifier: Apache-2.0 */
/*
 * cmd_virtio.c - shell commands for virtio devices (issue 4 shell contract):
 *
 *   devices                                  <name> <type> <transport> features=0x.. queues=N
 *   blk fill <dev> <lba> <count> <byte>      wrote <count> sectors
 *   blk read <dev> <lba> <count>             sha256 <hex>
 *   blk flush <dev>                          flushed
 *   blk discard|zeroes|wce <dev> ...         cmd_blk_ext.c
 *   rng read <dev> <nbytes>                  sha256 <hex>
 *   pmem fill <dev> <offset> <len> <byte>    filled <len> bytes
 *   pmem flush <dev>                         flushed
 *   pmem read <dev> <offset> <len>           sha256 <hex>
 *   net send <dev> <len> <byte>              sent <len> bytes
 *   net recv <dev>                           len <n> sha256 <hex>
 *   net echo <dev> <count>                   echoed <count> frames
 *   net link <dev>                           link up|down changes <n> mtu <m> mrg on|off
 *   net promisc|rx|mac|mac-table|filter|csum|recv-hdr <dev> ...   cmd_net_ctrl.c
 *   console ...                              cmd_virtio_console.c
 *   stats                                    per queue: requests kicks interrupts bad_chains
 *                                            irq_no_progress irq_storms (driver side)
 *
 * Devices are found by name in the virtio registry, so the commands work on
 * whatever transport a device sits on; the loopback devices are created on
 * first use (loopback_init()). Every failure prints one "error: ..." line
 * and returns non-zero; the device stays usable.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kernel.h"
#include "kernel/virtio/loopback.h"
#include "sha256.h"
#include "kernel/shell/cmd_blk_ext.h"
#include "kernel/shell/cmd_net_ctrl.h"
#include "kernel/shell/shell.h"
#include "kernel/shell/cmd_virtio.h"
#include "vdev.h"
#include "virtio.h"
#include "virtio_blk.h"
#include "virtio_net.h"
#include "kernel/virtio/virtio_pci.h"
#include "virtio_pmem.h"
#include "virtio_rng.h"

#define CHUNK_BYTES (128u << 10) /* data moves through a buffer this big */
#define MAX_DATA_BYTES (64ull << 20)
#define NET_RECV_TIMEOUT_NS 1000000000ull

static int devices_ready(void)
{
    int err = loopback_init();

    if (err)
        printf("error: loopback devices unavailable (%d)\n", err);
    return err;
}

/* The device called name, bound to a driver of type id; prints the error. */
void *shell_find_driver(const char *cmd, const char *name, uint32_t id)
{
    struct virtio_device *dev = virtio_find(name);

    /* Devices bound at boot (PCI, MMIO) need no loopback CPU: create the
     * loopback devices only for a name not registered yet. */
    if (!dev) {
        if (devices_ready())
            return NULL;
        dev = virtio_find(name);
    }
    if (!dev) {
        printf("error: %s: no such device '%s'\n", cmd, name);
        return NULL;
    }
    if (dev->device_id != id || !dev->driver_priv) {
        printf("error: %s: '%s' is a %s device, not %s\n", cmd, name,
               virtio_type_name(dev->device_id), virtio_type_name(id));
        return NULL;
    }
    return dev->driver_priv;
}

int shell_io_error(const char *what, const char *name, int err)
{
    printf("error: %s %s: %s (%d)\n", what, name, strerror(-err), err);
    return err;
}

static void print_sha(struct sha256 *s)
{
    uint8_t d[SHA256_DIGEST_BYTES];
    char hex[2 * SHA256_DIGEST_BYTES + 1];

    sha256_final(s, d);
    sha256_digest_to_hex(d, hex);
    printf("sha256 %s\n", hex);
}

static int parse_byte(const char *s, uint8_t *out)
{
    unsigned long long v;

    if (shell_parse_u64("byte", s, 255, &v))
        return -EINVAL;
    *out = (uint8_t)v;
    return 0;
}

/* ---- devices ---- */

static int cmd_devices(int argc, char **argv)
{
    (void)argc;
    (void)argv;
    if (devices_ready())
        return 1;
    for (struct virtio_device *d = virtio_next(NULL); d; d = virtio_next(d)) {
        char irq[128];

        virtio_pci_describe(d, irq, sizeof(irq)); /* "" unless on PCI */
        printf("%s %s %s features=0x%llx queues=%u%s%s\n", d->name,
               virtio_type_name(d->device_id), d->ops->name, (unsigned long long)d->features,
               d->nvqs, irq[0] ? " " : "", irq);
    }
    return 0;
}
SHELL_COMMAND(devices, "devices", "",
                     "list virtio devices: name type transport features queues", cmd_devices);

/* ---- blk ---- */

static int blk_fill(struct virtio_blk *blk, const char *name, uint64_t lba, uint64_t count,
                    uint8_t byte)
{
    uint8_t *buf = malloc(CHUNK_BYTES);
    uint64_t done = 0;
    int err = 0;

    if (!buf)
        return shell_io_error("blk fill", name, -ENOMEM);
    memset(buf, byte, CHUNK_BYTES);
    while (done < count) {
        uint64_t n = count - done;

        if (n > CHUNK_BYTES / VIRTIO_BLK_SECTOR_SIZE)
            n = CHUNK_BYTES / VIRTIO_BLK_SECTOR_SIZE;
        err = virtio_blk_write(blk, lba + done, buf, (uint32_t)n);
        if (err)
            break;
        done += n;
    }
    free(buf);
    if (err)
        return shell_io_error("blk fill", name, err);
    printf("wrote %llu sectors\n", (unsigned long long)count);
    return 0;
}

static int blk_read(struct virtio_blk *blk, const char *name, uint64_t lba, uint64_t count)
{
    uint8_t *buf = malloc(CHUNK_BYTES);
    struct sha256 s;
    uint64_t done = 0;
    int err = 0;

    if (!buf)
        return shell_io_error("blk read", name, -ENOMEM);
    sha256_init(&s);
    while (done < count) {
        uint64_t n = count - done;

        if (n > CHUNK_BYTES / VIRTIO_BLK_SECTOR_SIZE)
            n = CHUNK_BYTES / VIRTIO_BLK_SECTOR_SIZE;
        err = virtio_blk_read(blk, lba + done, buf, (uint32_t)n);
        if (err)
            break;
        sha256_update(&s, buf, n * VIRTIO_BLK_SECTOR_SIZE);
        done += n;
    }
    free(buf);
    if (err)
        return shell_io_error("blk read", name, err);
    print_sha(&s);
    return 0;
}

static int cmd_blk(int argc, char **argv)
{
    unsigned long long lba, count;
    struct virtio_blk *blk;
    uint8_t byte;
    int err;

    if (argc < 3) {
        printf("error: usage: blk fill|read|flush|discard|zeroes|wce <dev> ...\n");
        return 1;
    }
    if (strcmp(argv[1], "flush") && strcmp(argv[1], "fill") && strcmp(argv[1], "read") &&
        !blk_ext_is_subcommand(argv[1])) {
        printf("error: blk: unknown subcommand '%s'\n", argv[1]);
        return 1;
    }
    blk = shell_find_driver("blk", argv[2], VIRTIO_ID_BLOCK);
    if (!blk)
        return 1;
    if (blk_ext_is_subcommand(argv[1]))
        return blk_ext_command(blk, argc, argv);
    if (!strcmp(argv[1], "flush")) {
        err = virtio_blk_flush(blk);
        if (err)
            return shell_io_error("blk flush", argv[2], err);
        printf("flushed\n");
        return 0;
    }
    if ((!strcmp(argv[1], "fill") && argc != 6) || (!strcmp(argv[1], "read") && argc != 5)) {
        printf("error: usage: blk fill <dev> <lba> <count> <byte> | blk read <dev> <lba> "
               "<count>\n");
        return 1;
    }
    /* lba is not checked against the capacity: the device answers IOERR. */
    if (shell_parse_u64("lba", argv[3], UINT64_MAX / 2, &lba) ||
        shell_parse_u64("count", argv[4], MAX_DATA_BYTES / VIRTIO_BLK_SECTOR_SIZE, &count))
        return 1;
    if (count == 0) {
        printf("error: count: must be at least 1\n");
        return 1;
    }
    if (!strcmp(argv[1], "fill")) {
        if (parse_byte(argv[5], &byte))
            return 1;
        return blk_fill(blk, argv[2], lba, count, byte) ? 1 : 0;
    }
    return blk_read(blk, argv[2], lba, count) ? 1 : 0;
}
SHELL_COMMAND(blk, "blk",
                     "fill <dev> <lba> <count> <byte> | read <dev> <lba> <count> | flush <dev> | "
                     "discard <dev> <lba> <count> | zeroes <dev> <lba> <count> [unmap] | "
                     "wce <dev> [on|off]",
                     "virtio-blk I/O (read prints the sha256 of the data)", cmd_blk);

/* ---- rng ---- */

static int cmd_rng(int argc, char **argv)
{
    unsigned long long n, done = 0;
    struct virtio_rng *rng;
    struct sha256 s;
    uint8_t *buf;
    int r = 0;

    if (argc != 4 || strcmp(argv[1], "read")) {
        printf("error: usage: rng read <dev> <nbytes>\n");
        return 1;
    }
    rng = shell_find_driver("rng", argv[2], VIRTIO_ID_RNG);
    if (!rng || shell_parse_u64("nbytes", argv[3], MAX_DATA_BYTES, &n))
        return 1;
    buf = malloc(CHUNK_BYTES);
    if (!buf) {
        shell_io_error("rng read", argv[2], -ENOMEM);
        return 1;
    }
    sha256_init(&s);
    while (done < n) {
        size_t chunk = n - done > CHUNK_BYTES ? CHUNK_BYTES : (size_t)(n - done);

        r = virtio_rng_read(rng, buf, chunk);
        if (r < 0)
            break;
        sha256_update(&s, buf, chunk);
        done += chunk;
    }
    free(buf);
    if (r < 0) {
        shell_io_error("rng read", argv[2], r);
        return 1;
    }
    print_sha(&s);
    return 0;
}
SHELL_COMMAND(rng, "rng", "read <dev> <nbytes>", "virtio-rng: sha256 of nbytes of entropy",
                     cmd_rng);

/* ---- pmem ---- */

static int pmem_range(struct virtio_pmem *pmem, char **argv, unsigned long long *off,
                      unsigned long long *len)
{
    uint64_t size = virtio_pmem_size(pmem);

    if (shell_parse_u64("offset", argv[3], size, off) || shell_parse_u64("len", argv[4], size, len))
        return -EINVAL;
    if (*off + *len > size) {
        printf("error: pmem: offset %llu + len %llu is beyond the region (%llu bytes)\n", *off,
               *len, (unsigned long long)size);
        return -ERANGE;
    }
    if (!virtio_pmem_addr(pmem)) {
        printf("error: pmem: region is not mapped\n");
        return -ENODEV;
    }
    return 0;
}

static int cmd_pmem(int argc, char **argv)
{
    unsigned long long off, len;
    struct virtio_pmem *pmem;
    uint8_t *base, byte;
    struct sha256 s;
    int err;

    if (argc < 3) {
        printf("error: usage: pmem fill|read|flush <dev> ...\n");
        return 1;
    }
    if (strcmp(argv[1], "flush") && strcmp(argv[1], "fill") && strcmp(argv[1], "read")) {
        printf("error: pmem: unknown subcommand '%s'\n", argv[1]);
        return 1;
    }
    pmem = shell_find_driver("pmem", argv[2], VIRTIO_ID_PMEM);
    if (!pmem)
        return 1;
    if (!strcmp(argv[1], "flush")) {
        err = virtio_pmem_flush(pmem);
        if (err) {
            shell_io_error("pmem flush", argv[2], err);
            return 1;
        }
        printf("flushed\n");
        return 0;
    }
    if ((!strcmp(argv[1], "fill") && argc != 6) || (!strcmp(argv[1], "read") && argc != 5)) {
        printf("error: usage: pmem fill <dev> <offset> <len> <byte> | pmem read <dev> "
               "<offset> <len>\n");
        return 1;
    }
    if (pmem_range(pmem, argv, &off, &len))
        return 1;
    base = (uint8_t *)virtio_pmem_addr(pmem) + off;
    if (!strcmp(argv[1], "fill")) {
        if (parse_byte(argv[5], &byte))
            return 1;
        memset(base, byte, len);
        printf("filled %llu bytes\n", len);
        return 0;
    }
    sha256_init(&s);
    sha256_update(&s, base, len);
    print_sha(&s);
    return 0;
}
SHELL_COMMAND(pmem, "pmem",
                     "fill <dev> <offset> <len> <byte> | read <dev> <offset> <len> | flush <dev>",
                     "virtio-pmem: write/hash the mapped region, FLUSH request", cmd_pmem);

/* ---- net ---- */

static int net_recv_one(struct virtio_net *net, const char *name, uint8_t *frame, bool print)
{
    int n = virtio_net_recv(net, frame, VIRTIO_NET_MAX_FRAME_CAP, NET_RECV_TIMEOUT_NS);
    struct sha256 s;

    if (n == -ETIMEDOUT) {
        printf("error: net recv %s: no frame within 1 s\n", name);
        return n;
    }
    if (n < 0)
        return shell_io_error("net recv", name, n);
    if (print) {
        printf("len %d ", n);
        sha256_init(&s);
        sha256_update(&s, frame, (size_t)n);
        print_sha(&s);
    }
    return n;
}

static int cmd_net(int argc, char **argv)
{
    unsigned long long a;
    struct virtio_net *net;
    uint8_t *frame, byte;
    int r = 0;

    if (argc < 3) {
        printf("error: usage: net send|recv|echo|link|promisc|rx|mac|mac-table|filter|csum|"
               "recv-hdr <dev> ...\n");
        return 1;
    }
    if (strcmp(argv[1], "send") && strcmp(argv[1], "recv") && strcmp(argv[1], "echo") &&
        strcmp(argv[1], "link") && !net_ctrl_is_subcommand(argv[1])) {
        printf("error: net: unknown subcommand '%s'\n", argv[1]);
        return 1;
    }
    net = shell_find_driver("net", argv[2], VIRTIO_ID_NET);
    if (!net)
        return 1;
    if (net_ctrl_is_subcommand(argv[1]))
        return net_ctrl_command(net, argc, argv);
    if ((!strcmp(argv[1], "send") && argc != 5) || (!strcmp(argv[1], "recv") && argc != 3) ||
        (!strcmp(argv[1], "echo") && argc != 4) || (!strcmp(argv[1], "link") && argc != 3)) {
        printf("error: usage: net send <dev> <len> <byte> | net recv <dev> | net echo <dev> "
               "<count> | net link <dev>\n");
        return 1;
    }
    if (!strcmp(argv[1], "link")) {
        /* STATUS (5.1.4): read now; changes counted by config_changed. */
        printf("link %s changes %llu mtu %u mrg %s\n", virtio_net_is_link_up(net) ? "up" : "down",
               (unsigned long long)virtio_net_get_stats(net)->link_changes, virtio_net_mtu(net),
               virtio_has_feature(virtio_net_device(net), VIRTIO_NET_F_MRG_RXBUF) ? "on" : "off");
        return 0;
    }
    frame = malloc(VIRTIO_NET_MAX_FRAME_CAP);
    if (!frame) {
        shell_io_error("net", argv[2], -ENOMEM);
        return 1;
    }
    if (!strcmp(argv[1], "send")) {
        if (shell_parse_u64("len", argv[3], virtio_net_max_frame(net), &a) ||
            parse_byte(argv[4], &byte)) {
            r = -EINVAL;
        } else if (a == 0) {
            printf("error: len: must be at least 1\n");
            r = -EINVAL;
        } else {
            memset(frame, byte, a);
            r = virtio_net_send(net, frame, a);
            if (r)
                shell_io_error("net send", argv[2], r);
            else
                printf("sent %llu bytes\n", a);
        }
    } else if (!strcmp(argv[1], "recv")) {
        r = net_recv_one(net, argv[2], frame, true);
    } else if (shell_parse_u64("count", argv[3], 1000000, &a)) {
        r = -EINVAL;
    } else {
        /* Send back every frame received, count times. */
        unsigned long long i;

        for (i = 0; i < a; i++) {
            r = net_recv_one(net, argv[2], frame, false);
            if (r < 0)
                break;
            r = virtio_net_send(net, frame, (size_t)r);
            if (r) {
                shell_io_error("net echo", argv[2], r);
                break;
            }
        }
        if (r >= 0)
            printf("echoed %llu frames\n", a);
    }
    free(frame);
    return r < 0 ? 1 : 0;
}
SHELL_COMMAND(net, "net",
                     "send <dev> <len> <byte> | recv <dev> | echo <dev> <count> | link <dev> | "
                     "promisc|rx|mac|mac-table|filter|csum|recv-hdr <dev> ...",
                     "virtio-net: send a frame, receive one (len + sha256), echo frames back",
                     cmd_net);


/* ---- stats ---- */

static int cmd_stats(int argc, char **argv)
{
    (void)argc;
    (void)argv;
    if (devices_ready())
        return 1;
    for (struct virtio_device *d = virtio_next(NULL); d; d = virtio_next(d)) {
        struct vdev *vd = loopback_vdev(d);

        for (unsigned q = 0; q < d->nvqs; q++) {
            const struct vq_stats *vs = vq_get_stats(d->vqs[q].vq);

            if (vd) {
                /* Device-side view (loopback): what actually crossed. */
                const struct vdev_queue_stats *st = &vd->queues[q].stats;

                printf("%s q%u requests=%llu kicks=%llu interrupts=%llu bad_chains=%llu", d->name,
                       q, (unsigned long long)st->requests, (unsigned long long)st->kicks,
                       (unsigned long long)st->interrupts, (unsigned long long)st->bad_chains);
            } else {
                printf("%s q%u requests=%llu kicks=%llu interrupts=%u bad_chains=0", d->name, q,
                       (unsigned long long)vs->used, (unsigned long long)vs->kicks,
                       d->vqs[q].irq_count);
            }
            /* Driver side: interrupts that brought nothing, storms masked. */
            printf(" irq_no_progress=%llu irq_storms=%llu\n",
                   (unsigned long long)d->vqs[q].irq_no_progress,
                   (unsigned long long)d->vqs[q].irq_storms);
        }
    }
    return 0;
}
SHELL_COMMAND(stats, "stats", "",
                     "per-queue counters: requests, kicks, interrupts, bad chains, no-progress interrupts, storms",
                     cmd_stats);
