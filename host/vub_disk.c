/* SPDX-License-Identifier: Apache-2.0 */
/*
 * vub_disk.c - the disk file behind ringloop-vhost-user-blk's blk model
 * (the struct vdev_blk_backend callbacks, ctx = struct vub_disk): pread /
 * pwrite loops (with --direct, unaligned pieces through an aligned bounce),
 * FLUSH = fdatasync, DISCARD and WRITE_ZEROES through
 * fallocate (5.2.6.2). Errors are -errno with one log line; the model turns
 * them into VIRTIO_BLK_S_IOERR.
 */
#define _GNU_SOURCE
#include "vub_disk.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static bool is_direct_ok(const struct vub_disk *d, uint64_t pos, const void *buf, uint32_t len)
{
    uint64_t m = d->align - 1;

    return !d->direct || ((pos | len | (uintptr_t)buf) & m) == 0;
}

/* O_DIRECT with something unaligned: through an aligned bounce over the
 * aligned range around [pos, pos + len); a write is read-modify-write. */
static int disk_bounced(struct vub_disk *d, uint64_t pos, void *rbuf, const void *wbuf,
                        uint32_t len)
{
    uint64_t a = d->align, start = pos & ~(a - 1), end = (pos + len + a - 1) & ~(a - 1);
    uint8_t *b;
    int err;

    if (posix_memalign((void **)&b, a, end - start))
        return -ENOMEM;
    err = vub_disk_read(d, start, b, (uint32_t)(end - start));
    if (!err && rbuf) {
        memcpy(rbuf, b + (pos - start), len);
    } else if (!err) {
        memcpy(b + (pos - start), wbuf, len);
        err = vub_disk_write(d, start, b, (uint32_t)(end - start));
    }
    free(b);
    return err;
}

int vub_disk_read(void *ctx, uint64_t pos, void *buf, uint32_t len)
{
    struct vub_disk *d = ctx;
    uint8_t *p = buf;

    if (!is_direct_ok(d, pos, buf, len))
        return disk_bounced(d, pos, buf, NULL, len);

    while (len) {
        ssize_t n = pread(d->fd, p, len, (off_t)pos);

        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) {
            fprintf(stderr, "vhost-user-blk: pread at %llu: %s\n", (unsigned long long)pos,
                    n ? strerror(errno) : "end of file");
            return n ? -errno : -EIO;
        }
        p += n;
        pos += (uint64_t)n;
        len -= (uint32_t)n;
    }
    return 0;
}

int vub_disk_write(void *ctx, uint64_t pos, const void *buf, uint32_t len)
{
    struct vub_disk *d = ctx;
    const uint8_t *p = buf;

    if (!is_direct_ok(d, pos, buf, len))
        return disk_bounced(d, pos, NULL, buf, len);

    while (len) {
        ssize_t n = pwrite(d->fd, p, len, (off_t)pos);

        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) {
            fprintf(stderr, "vhost-user-blk: pwrite at %llu: %s\n", (unsigned long long)pos,
                    n ? strerror(errno) : "no progress");
            return n ? -errno : -EIO;
        }
        p += n;
        pos += (uint64_t)n;
        len -= (uint32_t)n;
    }
    return 0;
}

int vub_disk_flush(void *ctx)
{
    struct vub_disk *d = ctx;

    if (fdatasync(d->fd)) {
        fprintf(stderr, "vhost-user-blk: fdatasync: %s\n", strerror(errno));
        return -errno;
    }
    return 0;
}

static int disk_fallocate(struct vub_disk *d, int mode, uint64_t pos, uint64_t len)
{
    int r;

    do
        r = fallocate(d->fd, mode, (off_t)pos, (off_t)len);
    while (r && errno == EINTR);
    return r ? -errno : 0;
}

/* 5.2.6.2: discard MAY deallocate; a hole reads back as zeroes. */
int vub_disk_discard(void *ctx, uint64_t pos, uint64_t len)
{
    struct vub_disk *d = ctx;
    int err = disk_fallocate(d, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, pos, len);

    if (err == -EOPNOTSUPP)
        return 0; /* the file system cannot: leaving the data is allowed */
    if (err)
        fprintf(stderr, "vhost-user-blk: discard at %llu: %s\n", (unsigned long long)pos,
                strerror(-err));
    return err;
}

int vub_disk_write_zeroes(void *ctx, uint64_t pos, uint64_t len, bool unmap)
{
    static const uint8_t zeroes[65536] __attribute__((aligned(4096)));
    struct vub_disk *d = ctx;
    int err = -EOPNOTSUPP;

    if (unmap)
        err = disk_fallocate(d, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, pos, len);
    if (err == -EOPNOTSUPP)
        err = disk_fallocate(d, FALLOC_FL_ZERO_RANGE | FALLOC_FL_KEEP_SIZE, pos, len);
    if (err != -EOPNOTSUPP) {
        if (err)
            fprintf(stderr, "vhost-user-blk: write zeroes at %llu: %s\n",
                    (unsigned long long)pos, strerror(-err));
        return err;
    }
    for (err = 0; len && !err;) {
        uint32_t n = len < sizeof(zeroes) ? (uint32_t)len : (uint32_t)sizeof(zeroes);

        err = vub_disk_write(d, pos, zeroes, n);
        pos += n;
        len -= n;
    }
    return err;
}


unsigned vub_disk_direct_align(int fd, char *why, size_t whylen)
{
    static const unsigned sizes[] = {512, 4096};
    unsigned i;
    void *buf;
    int err = 0;

    if (posix_memalign(&buf, 4096, 4096)) {
        snprintf(why, whylen, "out of memory");
        return 0;
    }
    for (i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
        ssize_t n = pread(fd, buf, sizes[i], 0);

        if (n == (ssize_t)sizes[i]) {
            free(buf);
            return sizes[i];
        }
        err = n < 0 ? errno : EIO;
    }
    free(buf);
    snprintf(why, whylen, "direct reads fail: %s", strerror(err));
    return 0;
}
