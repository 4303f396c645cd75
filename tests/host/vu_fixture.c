/* SPDX-License-Identifier: Apache-2.0 */
/*
 * vu_fixture.c - the fake vhost-user carrier (see vu_fixture.h): the
 * vu_ops the handler calls, over one arena, with every fd tracked.
 */
#include "vu_fixture.h"

#include <errno.h>
#include <string.h>

static bool vufx_is_open(const struct vu_fake *f, int fd)
{
    return fd > 0 && fd < VUFX_MAX_FDS && f->open[fd];
}

static void *vufx_map(void *ctx, int fd, uint64_t off, uint64_t size)
{
    struct vu_fake *f = ctx;

    if (!vufx_is_open(f, fd)) {
        f->broken("mapped an fd that is not open", fd); /* maps only fds it was given */
        return NULL;
    }
    if (f->is_shm[fd]) /* the inflight region: past its "file" fails */
        return f->fail_map || off > f->shm_size || size > f->shm_size - off ? NULL : f->shm + off;
    if (f->fail_map || off > f->arena_size || size > f->arena_size - off)
        return NULL;
    return f->arena + off;
}

static void vufx_unmap(void *ctx, void *p, uint64_t off, uint64_t size)
{
    (void)ctx, (void)p, (void)off, (void)size;
}

static void vufx_close(void *ctx, int fd)
{
    struct vu_fake *f = ctx;

    if (!vufx_is_open(f, fd)) {
        f->broken("closed an fd that is not open (twice, or never ours)", fd);
        return;
    }
    f->open[fd] = false;
}

static void vufx_signal(void *ctx, int fd)
{
    struct vu_fake *f = ctx;

    if (!vufx_is_open(f, fd)) {
        f->broken("signalled an fd that is not open", fd);
        return;
    }
    f->signals[fd]++;
}

static int vufx_state_put(void *ctx, int fd, const void *buf, size_t len)
{
    struct vu_fake *f = ctx;

    if (len > sizeof(f->state)) {
        f->broken("device state larger than it may be", fd);
        return -EFBIG;
    }
    memcpy(f->state, buf, len);
    f->state_len = len;
    vufx_close(ctx, fd);
    return 0;
}

static int vufx_state_get(void *ctx, int fd, void *buf, size_t cap, size_t *len)
{
    struct vu_fake *f = ctx;

    vufx_close(ctx, fd);
    if (f->state_len > cap)
        return -EFBIG;
    memcpy(buf, f->state, f->state_len);
    *len = f->state_len;
    return 0;
}

static void *vufx_shm_create(void *ctx, uint64_t size, int *fd)
{
    struct vu_fake *f = ctx;

    if (size > sizeof(f->shm) || (*fd = vufx_shm_fd_new(f)) < 0)
        return NULL;
    memset(f->shm, 0, size);
    f->shm_size = size;
    return f->shm;
}

const struct vu_ops vufx_ops_shm = {
    .map = vufx_map,
    .unmap = vufx_unmap,
    .close_fd = vufx_close,
    .signal = vufx_signal,
    .state_put = vufx_state_put,
    .state_get = vufx_state_get,
    .shm_create = vufx_shm_create,
};

const struct vu_ops vufx_ops = {
    .map = vufx_map,
    .unmap = vufx_unmap,
    .close_fd = vufx_close,
    .signal = vufx_signal,
    .state_put = vufx_state_put,
    .state_get = vufx_state_get,
};

void vufx_init(struct vu_fake *f, uint8_t *arena, uint64_t arena_size, int first_fd,
               void (*broken)(const char *what, int fd))
{
    /* Not the state buffer (64 KiB, per fuzz input): past state_len it
     * is never read. */
    memset(f->open, 0, sizeof(f->open));
    memset(f->signals, 0, sizeof(f->signals));
    memset(f->is_shm, 0, sizeof(f->is_shm));
    f->shm_size = 0;
    f->state_len = 0;
    f->fail_map = false;
    f->arena = arena;
    f->arena_size = arena_size;
    f->next_fd = first_fd;
    f->broken = broken;
}

int vufx_fd_new(struct vu_fake *f)
{
    if (f->next_fd >= VUFX_MAX_FDS)
        return -1;
    f->open[f->next_fd] = true;
    return f->next_fd++;
}

int vufx_shm_fd_new(struct vu_fake *f)
{
    int fd = vufx_fd_new(f);

    if (fd > 0)
        f->is_shm[fd] = true;
    return fd;
}

int vufx_first_open(const struct vu_fake *f)
{
    int fd;

    for (fd = 0; fd < VUFX_MAX_FDS; fd++)
        if (f->open[fd])
            return fd;
    return -1;
}
