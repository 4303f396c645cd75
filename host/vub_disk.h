/* SPDX-License-Identifier: Apache-2.0 */
/* vub_disk.h - the daemon's disk file as a blk model backend (vub_disk.c). */
#ifndef RINGLOOP_HOST_VUB_DISK_H
#define RINGLOOP_HOST_VUB_DISK_H

#include <stdbool.h>
#include <stdint.h>

struct vub_disk {
    int fd; /* the open disk file */
};

/* struct vdev_blk_backend callbacks; ctx is a struct vub_disk. */
int vub_disk_read(void *ctx, uint64_t pos, void *buf, uint32_t len);
int vub_disk_write(void *ctx, uint64_t pos, const void *buf, uint32_t len);
int vub_disk_flush(void *ctx);
int vub_disk_discard(void *ctx, uint64_t pos, uint64_t len);
int vub_disk_write_zeroes(void *ctx, uint64_t pos, uint64_t len, bool unmap);

#endif
