/* SPDX-License-Identifier: Apache-2.0 */
/* cmd_virtio.h - helpers the virtio shell commands share (cmd_virtio.c). */
#ifndef RINGLOOP_KERNEL_SHELL_CMD_VIRTIO_H
#define RINGLOOP_KERNEL_SHELL_CMD_VIRTIO_H

#include <stdint.h>

/* The driver state of the device called name, bound to a driver of type id
 * (VIRTIO_ID_*); creates the loopback devices on first use; prints
 * "error: <cmd>: ..." and returns NULL when there is none. */
void *shell_find_driver(const char *cmd, const char *name, uint32_t id);
/* Prints "error: <what> <name>: <strerror> (<err>)"; returns err. */
int shell_io_error(const char *what, const char *name, int err);

#endif
