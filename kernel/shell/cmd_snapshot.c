/* SPDX-License-Identifier: Apache-2.0 */
/*
 * cmd_snapshot.c - the `snapshot` shell command (issue 6): save / restore
 * the five loopback devices as one bundle (kernel/virtio/persist.h) in memory or
 * on a virtio-blk disk, and a stress run with snapshot points under
 * traffic.
 *
 *   snapshot save [mem|disk <blkdev>]      (default mem; disk adds contents)
 *   snapshot restore [mem|disk <blkdev>]
 *   snapshot stress <snapshots> [<requests>]
 *
 * On disk the bundle starts at sector 0 and is padded to whole sectors; the
 * bundle's own length field says how much of it to read back. Like the
 * virtio commands, each runs with interrupts on (the drivers complete
 * requests on interrupts) and restores the previous state.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kernel.h"
#include "kernel/virtio/loopback.h"
#include "kernel/virtio/persist.h"
#include "kernel/shell/shell.h"
#include "snap_le.h"
#include "snapshot.h"
#include "virtio.h"
#include "virtio_blk.h"

#define SNAP_CHUNK_SECTORS 128
#define SNAP_DISK_MAX (64ull << 20)

static uint8_t *mem_bundle;
static size_t mem_len;

static struct virtio_blk *snap_find_blk(const char *name)
{
    struct virtio_device *dev = virtio_find(name);

    if (!dev) {
        printf("error: snapshot: no such device '%s'\n", name);
        return NULL;
    }
    if (dev->device_id != VIRTIO_ID_BLOCK || !dev->driver_priv) {
        printf("error: snapshot: '%s' is not a block device\n", name);
        return NULL;
    }
    return dev->driver_priv;
}

static int snap_disk_write(struct virtio_blk *blk, const uint8_t *b, size_t len)
{
    uint64_t sectors = (len + 511) / 512, done;
    uint8_t *pad;
    int rc = 0;

    if (sectors > virtio_blk_capacity(blk))
        return -ENOSPC;
    pad = calloc(SNAP_CHUNK_SECTORS, 512);
    if (!pad)
        return -ENOMEM;
    for (done = 0; done < sectors && !rc; done += SNAP_CHUNK_SECTORS) {
        uint64_t n = sectors - done < SNAP_CHUNK_SECTORS ? sectors - done : SNAP_CHUNK_SECTORS;
        size_t off = done * 512, bytes = len - off < n * 512 ? len - off : n * 512;

        memset(pad, 0, n * 512);
        memcpy(pad, b + off, bytes);
        rc = virtio_blk_write(blk, done, pad, (uint32_t)n);
    }
    free(pad);
    return rc ? rc : virtio_blk_flush(blk);
}

/* Read a bundle from sector 0 into a malloc'd buffer. */
static int snap_disk_read(struct virtio_blk *blk, uint8_t **out, size_t *len)
{
    uint8_t first[512], *b;
    uint64_t total, sectors, done;
    int rc;

    rc = virtio_blk_read(blk, 0, first, 1);
    if (rc)
        return rc;
    if (memcmp(first, PERSIST_BUNDLE_MAGIC, 8)) {
        printf("error: snapshot: no snapshot bundle on this disk\n");
        return -EINVAL;
    }
    total = snap_get64(first + 16);
    sectors = (total + 511) / 512;
    if (total < PERSIST_BUNDLE_HDR + 4 || total > SNAP_DISK_MAX ||
        sectors > virtio_blk_capacity(blk)) {
        printf("error: snapshot: bundle length %llu impossible\n", (unsigned long long)total);
        return -EINVAL;
    }
    b = malloc(sectors * 512);
    if (!b)
        return -ENOMEM;
    for (done = 0; done < sectors && !rc; done += SNAP_CHUNK_SECTORS) {
        uint64_t n = sectors - done < SNAP_CHUNK_SECTORS ? sectors - done : SNAP_CHUNK_SECTORS;

        rc = virtio_blk_read(blk, done, b + done * 512, (uint32_t)n);
    }
    if (rc) {
        free(b);
        return rc;
    }
    *out = b;
    *len = (size_t)total;
    return 0;
}

static int snap_where(int argc, char **argv, struct virtio_blk **blk)
{
    *blk = NULL;
    if (argc == 2 || (argc == 3 && !strcmp(argv[2], "mem")))
        return 0;
    if (argc == 4 && !strcmp(argv[2], "disk")) {
        *blk = snap_find_blk(argv[3]);
        return *blk ? 0 : -ENODEV;
    }
    printf("error: usage: snapshot %s [mem|disk <blkdev>]\n", argv[1]);
    return -EINVAL;
}

static int snap_cmd_save(int argc, char **argv)
{
    struct virtio_blk *blk;
    uint8_t *b = NULL;
    size_t len = 0;
    int rc;

    if (snap_where(argc, argv, &blk))
        return 1;
    rc = persist_save_all(blk ? SNAP_F_CONTENT : 0, &b, &len);
    if (rc) {
        printf("error: snapshot save: %d\n", rc);
        return 1;
    }
    if (blk) {
        unsigned crc = (unsigned)snap_get32(b + len - 4);

        rc = snap_disk_write(blk, b, len);
        free(b);
        if (rc) {
            printf("error: snapshot save: disk write failed (%d)\n", rc);
            return 1;
        }
        printf("snapshot saved to %s: %zu bytes, crc32c %08x\n", argv[3], len, crc);
        return 0;
    }
    free(mem_bundle);
    mem_bundle = b;
    mem_len = len;
    printf("snapshot saved to mem: %zu bytes, crc32c %08x\n", len,
           (unsigned)snap_get32(b + len - 4));
    return 0;
}

static int snap_cmd_restore(int argc, char **argv)
{
    struct virtio_blk *blk;
    bool other_boot = false;
    uint8_t *b = NULL;
    size_t len = 0;
    char err[200];
    int rc;

    if (snap_where(argc, argv, &blk))
        return 1;
    if (blk) {
        rc = snap_disk_read(blk, &b, &len);
        if (rc) {
            printf("error: snapshot restore: disk read failed (%d)\n", rc);
            return 1;
        }
    } else {
        if (!mem_bundle) {
            printf("error: snapshot restore: nothing saved in mem\n");
            return 1;
        }
        b = mem_bundle;
        len = mem_len;
    }
    rc = persist_restore_all(b, len, err, sizeof(err), &other_boot);
    if (blk)
        free(b);
    if (rc) {
        printf("error: snapshot restore refused: %s\n", err);
        return 1;
    }
    if (other_boot)
        printf("snapshot from another boot: device state and content restored into 5 devices "
               "(queues kept), %zu bytes\n",
               len);
    else
        printf("snapshot restored: 5 devices, %zu bytes\n", len);
    return 0;
}

static int snap_cmd_stress(int argc, char **argv)
{
    unsigned long long snaps, reqs = 0;
    struct persist_report r;
    char err[200] = "";
    int rc;

    if (argc < 3 || argc > 4 || shell_parse_u64("snapshots", argv[2], 10000000, &snaps) ||
        (argc == 4 && shell_parse_u64("requests", argv[3], 100000000, &reqs))) {
        printf("error: usage: snapshot stress <snapshots> [<requests>]\n");
        return 1;
    }
    if (argc == 3)
        reqs = snaps * 100;
    rc = persist_stress((unsigned)snaps, (unsigned)reqs, true, &r, err, sizeof(err));
    printf("snapshot stress: %llu snapshot points, blk %llu, net %llu, pmem %llu requests; "
           "lost %llu, duplicated %llu, corrupt %llu; %llu ms, longest sleep %llu us\n",
           (unsigned long long)r.snapshots, (unsigned long long)r.blk_requests,
           (unsigned long long)r.net_frames, (unsigned long long)r.pmem_flushes,
           (unsigned long long)r.lost, (unsigned long long)r.duplicated,
           (unsigned long long)r.bad_data, (unsigned long long)(r.ns / 1000000),
           (unsigned long long)(r.max_asleep_ns / 1000));
    if (rc) {
        printf("error: snapshot stress: %s\n", err);
        return 1;
    }
    return 0;
}

static int cmd_snapshot(int argc, char **argv)
{
    if (argc < 2) {
        printf("error: usage: snapshot save|restore [mem|disk <blkdev>] | snapshot stress "
               "<snapshots> [<requests>]\n");
        return 1;
    }
    if (loopback_init()) {
        printf("error: snapshot: loopback devices unavailable\n");
        return 1;
    }
    if (!strcmp(argv[1], "save"))
        return snap_cmd_save(argc, argv);
    if (!strcmp(argv[1], "restore"))
        return snap_cmd_restore(argc, argv);
    if (!strcmp(argv[1], "stress"))
        return snap_cmd_stress(argc, argv);
    printf("error: snapshot: unknown subcommand '%s'\n", argv[1]);
    return 1;
}


SHELL_COMMAND(snapshot, "snapshot",
              "save|restore [mem|disk <blkdev>] | stress <snapshots> [<requests>]",
              "persist the loopback devices: sleep, snapshot, new instance, restore, wake",
              cmd_snapshot);
