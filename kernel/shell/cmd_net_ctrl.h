/* SPDX-License-Identifier: Apache-2.0 */
/*
 * cmd_net_ctrl.h - the net subcommands for the control queue and checksum
 * offload (cmd_net_ctrl.c), called from cmd_virtio.c's `net` and
 * cmd_virtio_ops.c's `virtio info`.
 */
#ifndef RINGLOOP_CMD_NET_CTRL_H
#define RINGLOOP_CMD_NET_CTRL_H

#include <stdbool.h>

struct virtio_net;

/* Is sub one of ours? */
bool net_ctrl_is_subcommand(const char *sub);
/* `net <sub> <dev> ...` on net (argv[2] is its name): 0 or 1. */
int net_ctrl_command(struct virtio_net *net, int argc, char **argv);
/* One line for `virtio info`. */
void net_ctrl_info(struct virtio_net *net);

#endif
