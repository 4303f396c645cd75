/* SPDX-License-Identifier: Apache-2.0 */
/*
 * vub_sock.h - the vhost-user-blk daemon's socket I/O (host/vub_sock.c).
 */
#ifndef RINGLOOP_HOST_VUB_SOCK_H
#define RINGLOOP_HOST_VUB_SOCK_H

#include <stddef.h>
#include <sys/types.h>

#include "vhost_user.h"

/* Read exactly len bytes from fd; the fds that arrive (SCM_RIGHTS, at most
 * VU_MAX_FDS kept, the rest closed) go to fds[*nfds...] when fds is not
 * NULL. 0, or -1 on EOF or error. */
int vub_read_full(int fd, void *buf, size_t len, int *fds, unsigned *nfds);
/* Send r, with r->fd (if >= 0) as SCM_RIGHTS; r->fd is closed once sent and
 * set to -1. sendmsg's result. */
ssize_t vub_send_reply(int conn, struct vu_reply *r);
/* A listening Unix socket at path (an old file there is removed); -1 with
 * one log line on error. */
int vub_listen_on(const char *path);

#endif
