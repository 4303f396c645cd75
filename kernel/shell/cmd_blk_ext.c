/* SPDX-License-Identifier: Apache-2.0 */
/*
 * cmd_blk_ext.c - shell commands for the blk driver's optional features
 * (drivers/virtio/virtio_blk_ext.c, VIRTIO 1.2 5.2):
 *
 *   blk discard <dev> <lba> <count>           discarded <count> sectors
 *   blk zeroes <dev> <lba> <count> [unmap]    zeroed <count> sectors[ (unmap)]
 *   blk wce <dev> [on|off]                    cache writeback|writethrough
 *
 * and the `virtio info` line for a blk device:
 *
 *   blk: ro=0 wce=1 cache=writeback discard=1 max_discard_sectors=N
 *        max_discard_seg=N discard_sector_alignment=N write_zeroes=1
 *        max_write_zeroes_sectors=N max_write_zeroes_seg=N
 *        write_zeroes_may_unmap=0|1 topology=1 physical_block_exp=N
 *        alignment_offset=N min_io_size=N opt_io_size=N blk_size=N seg_max=N
 *   (one line; fields of a feature not negotiated are 0)
 *
 * A range the device's limits do not take in one request is split by the
 * driver; one it cannot take at all (off the discard alignment, past the
 * capacity) is refused before anything is sent: one "error: ..." line.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "kernel/shell/cmd_blk_ext.h"
#include "kernel/shell/shell.h"
#include "virtio_blk.h"

bool blk_ext_is_subcommand(const char *sub)
{
    return !strcmp(sub, "discard") || !strcmp(sub, "zeroes") || !strcmp(sub, "wce");
}

static int blk_ext_error(const char *what, const char *name, int err)
{
    const char *why = err == -EOPNOTSUPP ? "not offered by the device"
                      : err == -EROFS    ? "read-only device"
                      : err == -EINVAL   ? "range empty, past capacity or off the alignment"
                                         : strerror(-err);

    printf("error: blk %s %s: %s (%d)\n", what, name, why, err);
    return 1;
}

static int blk_ext_wce(struct virtio_blk *blk, int argc, char **argv)
{
    bool wb;
    int err;

    if (argc == 4) {
        if (strcmp(argv[3], "on") && strcmp(argv[3], "off")) {
            printf("error: usage: blk wce <dev> [on|off]\n");
            return 1;
        }
        err = virtio_blk_set_writeback(blk, !strcmp(argv[3], "on"));
        if (err)
            return blk_ext_error("wce", argv[2], err);
    } else if (argc != 3) {
        printf("error: usage: blk wce <dev> [on|off]\n");
        return 1;
    }
    err = virtio_blk_get_writeback(blk, &wb);
    if (err)
        return blk_ext_error("wce", argv[2], err);
    printf("cache %s\n", wb ? "writeback" : "writethrough");
    return 0;
}

int blk_ext_command(struct virtio_blk *blk, int argc, char **argv)
{
    unsigned long long lba, count;
    bool is_zeroes = !strcmp(argv[1], "zeroes"), unmap = false;
    int err;

    if (!strcmp(argv[1], "wce"))
        return blk_ext_wce(blk, argc, argv);
    if (!(argc == 5 || (is_zeroes && argc == 6))) {
        printf("error: usage: blk discard <dev> <lba> <count> | blk zeroes <dev> <lba> <count> "
               "[unmap]\n");
        return 1;
    }
    if (argc == 6) {
        if (strcmp(argv[5], "unmap")) {
            printf("error: blk zeroes: '%s' is not 'unmap'\n", argv[5]);
            return 1;
        }
        unmap = true;
    }
    if (shell_parse_u64("lba", argv[3], UINT64_MAX / 2, &lba) ||
        shell_parse_u64("count", argv[4], UINT64_MAX / 2, &count))
        return 1;
    if (count == 0) {
        printf("error: count: must be at least 1\n");
        return 1;
    }
    err = is_zeroes ? virtio_blk_write_zeroes(blk, lba, count, unmap)
                    : virtio_blk_discard(blk, lba, count);
    if (err)
        return blk_ext_error(argv[1], argv[2], err);
    printf("%s %llu sectors%s\n", is_zeroes ? "zeroed" : "discarded", count,
           unmap ? " (unmap)" : "");
    return 0;
}

void blk_ext_info(struct virtio_blk *blk)
{
    struct virtio_blk_limits l;
    bool wb = false;

    virtio_blk_get_limits(blk, &l);
    (void)virtio_blk_get_writeback(blk, &wb);
    printf("  blk: ro=%d wce=%d cache=%s discard=%d max_discard_sectors=%u max_discard_seg=%u "
           "discard_sector_alignment=%u write_zeroes=%d max_write_zeroes_sectors=%u "
           "max_write_zeroes_seg=%u write_zeroes_may_unmap=%d topology=%d physical_block_exp=%u "
           "alignment_offset=%u min_io_size=%u opt_io_size=%u blk_size=%u seg_max=%u\n",
           l.read_only, l.config_wce, wb ? "writeback" : "writethrough", l.discard,
           l.max_discard_sectors, l.max_discard_seg, l.discard_sector_alignment, l.write_zeroes,
           l.max_write_zeroes_sectors, l.max_write_zeroes_seg, l.write_zeroes_may_unmap, l.topology,
           l.physical_block_exp, l.alignment_offset, l.min_io_size, l.opt_io_size,
           virtio_blk_block_size(blk), virtio_blk_seg_max(blk));
}
