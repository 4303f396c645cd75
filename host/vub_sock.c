/* SPDX-License-Identifier: Apache-2.0 */
/*
 * vub_sock.c - the vhost-user-blk daemon's Unix socket (see vub_sock.h):
 * the listening socket, whole-message reads that collect the SCM_RIGHTS fds
 * a message carries (vhost-user.rst "Communication": fds come with the
 * header), and replies that carry one fd.
 */
#define _GNU_SOURCE
#include "vub_sock.h"

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

/* Read exactly len bytes (the first read may bring fds); 0, or -1 on EOF
 * or error. */
int vub_read_full(int fd, void *buf, size_t len, int *fds, unsigned *nfds)
{
    uint8_t *p = buf;

    while (len) {
        union {
            char buf[CMSG_SPACE(VU_MAX_FDS * sizeof(int))];
            struct cmsghdr align;
        } cm;
        struct iovec iov = {.iov_base = p, .iov_len = len};
        struct msghdr mh = {.msg_iov = &iov, .msg_iovlen = 1};
        struct cmsghdr *c;
        ssize_t n;

        if (fds) {
            mh.msg_control = cm.buf;
            mh.msg_controllen = sizeof(cm.buf);
        }
        n = recvmsg(fd, &mh, MSG_CMSG_CLOEXEC);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return -1;
        for (c = fds ? CMSG_FIRSTHDR(&mh) : NULL; c; c = CMSG_NXTHDR(&mh, c)) {
            unsigned k, cnt;

            if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS)
                continue;
            cnt = (unsigned)((c->cmsg_len - CMSG_LEN(0)) / sizeof(int));
            for (k = 0; k < cnt; k++) {
                int f;

                memcpy(&f, CMSG_DATA(c) + k * sizeof(int), sizeof(int));
                if (*nfds < VU_MAX_FDS)
                    fds[(*nfds)++] = f;
                else
                    close(f); /* more than any message may carry */
            }
        }
        if (mh.msg_flags & MSG_CTRUNC)
            fprintf(stderr, "vhost-user-blk: fds truncated\n");
        p += n;
        len -= (size_t)n;
    }
    return 0;
}

/* The reply, with its fd (GET_INFLIGHT_FD) as SCM_RIGHTS; the fd is ours
 * (vhost_user.h) and closed once sent. */
ssize_t vub_send_reply(int conn, struct vu_reply *r)
{
    union {
        char buf[CMSG_SPACE(sizeof(int))];
        struct cmsghdr align;
    } cm;
    struct iovec iov = {.iov_base = r->buf, .iov_len = r->len};
    struct msghdr mh = {.msg_iov = &iov, .msg_iovlen = 1};
    ssize_t n;

    if (r->fd >= 0) {
        struct cmsghdr *c;

        memset(&cm, 0, sizeof(cm));
        mh.msg_control = cm.buf;
        mh.msg_controllen = sizeof(cm.buf);
        c = CMSG_FIRSTHDR(&mh);
        c->cmsg_level = SOL_SOCKET;
        c->cmsg_type = SCM_RIGHTS;
        c->cmsg_len = CMSG_LEN(sizeof(int));
        memcpy(CMSG_DATA(c), &r->fd, sizeof(int));
    }
    do
        n = sendmsg(conn, &mh, MSG_NOSIGNAL);
    while (n < 0 && errno == EINTR);
    if (r->fd >= 0) {
        close(r->fd);
        r->fd = -1;
    }
    return n;
}

int vub_listen_on(const char *path)
{
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    int fd;

    if (strlen(path) >= sizeof(sa.sun_path)) {
        fprintf(stderr, "vhost-user-blk: socket path too long\n");
        return -1;
    }
    strcpy(sa.sun_path, path);
    unlink(path);
    fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0 || bind(fd, (struct sockaddr *)&sa, sizeof(sa)) || listen(fd, 1)) {
        fprintf(stderr, "vhost-user-blk: %s: %s\n", path, strerror(errno));
        if (fd >= 0)
            close(fd);
        return -1;
    }
    return fd;
}
