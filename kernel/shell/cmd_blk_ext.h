/* SPDX-License-Identifier: Apache-2.0 */
/*
 * cmd_blk_ext.h - the blk subcommands for the optional features
 * (cmd_blk_ext.c), called from cmd_virtio.c's `blk` and cmd_virtio_ops.c's
 * `virtio info`.
 */
#ifndef RINGLOOP_CMD_BLK_EXT_H
#define RINGLOOP_CMD_BLK_EXT_H

#include <stdbool.h>

struct virtio_blk;

/* Is sub one of ours (discard, zeroes, wce)? */
bool blk_ext_is_subcommand(const char *sub);
/* `blk discard|zeroes|wce <dev> ...` on blk (argv[2] is its name): 0 or 1. */
int blk_ext_command(struct virtio_blk *blk, int argc, char **argv);
/* One line for `virtio info`: features and limits. */
void blk_ext_info(struct virtio_blk *blk);

#endif
