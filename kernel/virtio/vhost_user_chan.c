/* SPDX-License-Identifier: Apache-2.0 */
/*
 * vhost_user_chan.c - the in-image vhost-user carrier (see
 * vhost_user_chan.h): fd objects, the carrier ops for the handler, and the
 * message channel.
 *
 * Invariants: an object is live iff refs > 0; every handle the handler gets
 * was referenced for it and is released by its close_fd; map() only hands
 * out ranges inside the identity-mapped guest memory.
 */
#include "kernel/virtio/vhost_user_chan.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "vdev_models.h"
#include "virtio_platform.h"

static struct vuchan_obj *vuchan_obj(struct vuchan *c, int fd, enum vuchan_kind kind)
{
    if (fd <= 0 || fd >= VUCHAN_MAX_FDS || !c->objs[fd].refs || c->objs[fd].kind != kind)
        return NULL;
    return &c->objs[fd];
}

int vuchan_fd_new(struct vuchan *c, enum vuchan_kind kind)
{
    int fd;

    for (fd = 1; fd < VUCHAN_MAX_FDS; fd++) {
        struct vuchan_obj *o = &c->objs[fd];

        if (o->refs)
            continue;
        memset(o, 0, sizeof(*o));
        if (kind == VUCHAN_STATE) {
            o->buf = malloc(VU_STATE_MAX_BYTES);
            if (!o->buf)
                return -ENOMEM;
        }
        o->kind = kind;
        o->refs = 1;
        return fd;
    }
    return -EMFILE;
}

void vuchan_fd_close(struct vuchan *c, int fd)
{
    struct vuchan_obj *o;

    if (fd <= 0 || fd >= VUCHAN_MAX_FDS || !c->objs[fd].refs) {
        virt_log(VIRT_LOG_ERR, "vuchan: close of fd %d that is not open", fd);
        return;
    }
    o = &c->objs[fd];
    if (--o->refs)
        return;
    free(o->buf);
    memset(o, 0, sizeof(*o));
}

void vuchan_event_signal(struct vuchan *c, int fd)
{
    struct vuchan_obj *o = vuchan_obj(c, fd, VUCHAN_EVENT);

    if (o)
        o->count++;
}

uint64_t vuchan_event_take(struct vuchan *c, int fd)
{
    struct vuchan_obj *o = vuchan_obj(c, fd, VUCHAN_EVENT);
    uint64_t n;

    if (!o)
        return 0;
    n = o->count;
    o->count = 0;
    return n;
}

int vuchan_state_get(struct vuchan *c, int fd, const uint8_t **buf, size_t *len)
{
    struct vuchan_obj *o = vuchan_obj(c, fd, VUCHAN_STATE);

    if (!o)
        return -EBADF;
    *buf = o->buf;
    *len = o->len;
    return 0;
}

int vuchan_state_set(struct vuchan *c, int fd, const void *buf, size_t len)
{
    struct vuchan_obj *o = vuchan_obj(c, fd, VUCHAN_STATE);

    if (!o)
        return -EBADF;
    if (len > VU_STATE_MAX_BYTES)
        return -EFBIG;
    memcpy(o->buf, buf, len);
    o->len = len;
    return 0;
}

unsigned vuchan_fds_open(const struct vuchan *c)
{
    unsigned fd, n = 0;

    for (fd = 1; fd < VUCHAN_MAX_FDS; fd++)
        n += c->objs[fd].refs != 0;
    return n;
}

/* ---- the handler's ops ---- */

static void *vuchan_map(void *ctx, int fd, uint64_t offset, uint64_t size)
{
    struct vuchan *c = ctx;

    if (!vuchan_obj(c, fd, VUCHAN_MEM) || offset > VUCHAN_MEM_SIZE ||
        size > VUCHAN_MEM_SIZE - offset)
        return NULL;
    return (void *)(uintptr_t)(VUCHAN_MEM_GPA + offset); /* identity map */
}

static void vuchan_unmap(void *ctx, void *p, uint64_t offset, uint64_t size)
{
    (void)ctx, (void)p, (void)offset, (void)size;
}

static void vuchan_close_op(void *ctx, int fd)
{
    vuchan_fd_close(ctx, fd);
}

static void vuchan_signal(void *ctx, int fd)
{
    vuchan_event_signal(ctx, fd);
}

static int vuchan_state_put_op(void *ctx, int fd, const void *buf, size_t len)
{
    int err = vuchan_state_set(ctx, fd, buf, len);

    vuchan_fd_close(ctx, fd);
    return err;
}

static int vuchan_state_get_op(void *ctx, int fd, void *buf, size_t cap, size_t *len)
{
    const uint8_t *p;
    size_t n;
    int err = vuchan_state_get(ctx, fd, &p, &n);

    if (!err && n > cap)
        err = -EFBIG;
    if (!err) {
        memcpy(buf, p, n);
        *len = n;
    }
    vuchan_fd_close(ctx, fd);
    return err;
}

static const struct vu_ops vuchan_ops = {
    .map = vuchan_map,
    .unmap = vuchan_unmap,
    .close_fd = vuchan_close_op,
    .signal = vuchan_signal,
    .state_put = vuchan_state_put_op,
    .state_get = vuchan_state_get_op,
};

/* ---- the channel ---- */

int vuchan_open(struct vuchan *c, void *disk, uint64_t bytes)
{
    int err;

    c->closed = false;
    c->b = NULL;
    err = vu_create(&vuchan_ops, c, &c->b);
    if (err)
        return err;
    err = vdev_blk_create(&c->dev, vu_guest_mem(c->b), disk, bytes, "ringloop-vuchan");
    if (err)
        goto err_backend;
    err = vu_attach(c->b, &c->dev);
    if (err)
        goto err_dev;
    return 0;

err_dev:
    vdev_destroy(&c->dev);
err_backend:
    vu_destroy(c->b);
    c->b = NULL;
    return err;
}

void vuchan_close(struct vuchan *c)
{
    if (!c->b)
        return;
    vu_destroy(c->b);
    vdev_destroy(&c->dev);
    c->b = NULL;
    c->closed = true;
}

int vuchan_send(struct vuchan *c, const void *msg, size_t len, const int *fds, unsigned nfds,
                const struct vu_reply **reply)
{
    unsigned i;
    int err;

    *reply = NULL;
    if (c->closed || !c->b || len > sizeof(c->wire) || nfds > VU_MAX_FDS)
        return -EPIPE;
    for (i = 0; i < nfds; i++) {
        if (fds[i] <= 0 || fds[i] >= VUCHAN_MAX_FDS || !c->objs[fds[i]].refs)
            return -EBADF; /* like sendmsg: nothing is sent */
    }
    for (i = 0; i < nfds; i++)
        c->objs[fds[i]].refs++; /* the backend's reference (SCM_RIGHTS) */
    memcpy(c->wire, msg, len);
    err = vu_handle_msg(c->b, c->wire, len, fds, nfds, &c->reply);
    if (err < 0) {
        c->closed = true;
        return err;
    }
    if (c->reply.len)
        *reply = &c->reply;
    return 0;
}

int vuchan_run(struct vuchan *c)
{
    unsigned i;
    int n = 0;

    if (!c->b)
        return 0;
    for (i = 0; i < vu_num_rings(c->b); i++) {
        int k = vu_ring_kick_fd(c->b, i);

        if (k > 0 && vuchan_event_take(c, k)) {
            int done = vu_kick(c->b, i);

            if (done > 0)
                n += done;
        }
    }
    i = (unsigned)vu_poll(c->b);
    return n + (int)i;
}
