/* SPDX-License-Identifier: Apache-2.0 */
/*
 * rl-dio: O_DIRECT block I/O for the Linux guest's tests (tools/linux-guest).
 *
 *   rl-dio write DEV SECTOR COUNT FILE   COUNT sectors of FILE to DEV at SECTOR
 *   rl-dio read  DEV SECTOR COUNT FILE   COUNT sectors of DEV at SECTOR to FILE
 *   rl-dio zeroout DEV SECTOR COUNT      BLKZEROOUT: Linux sends WRITE_ZEROES
 *                                        without unmap (BLKDEV_ZERO_NOUNMAP)
 *   rl-dio punch DEV SECTOR COUNT        fallocate(PUNCH_HOLE|KEEP_SIZE) on the
 *                                        device: WRITE_ZEROES with unmap allowed
 *   rl-dio discard DEV SECTOR COUNT      BLKDISCARD
 *
 * Sectors are 512 bytes. The transfer goes through one page-aligned buffer
 * with O_DIRECT, so each call is one request to the driver (split only by
 * the block layer's limits) and never touches the page cache. busybox dd
 * cannot promise that: for blocks under a page its buffer is unaligned, the
 * kernel says EINVAL and dd silently retries without O_DIRECT.
 * Errors go to stderr as "rl-dio: <what>: <strerror>" (EIO reads
 * "Input/output error", which rl.sh's rl_run tags as io-error); exit 1.
 * Built static by mkguest.py (gcc -static), so the guest needs no libc.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <linux/fs.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#define SECTOR 512ULL
#define ALIGN 4096

static int fail(const char *what, const char *name)
{
    fprintf(stderr, "rl-dio: %s %s: %s\n", what, name, errno ? strerror(errno) : "end of file");
    return 1;
}

/* Move LEN bytes between FD at OFF and BUF, resuming after short transfers. */
static int transfer(int fd, char *buf, size_t len, off_t off, int is_write)
{
    size_t done = 0;

    while (done < len) {
        ssize_t n = is_write ? pwrite(fd, buf + done, len - done, off + (off_t)done)
                             : pread(fd, buf + done, len - done, off + (off_t)done);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            return -1;
        if (n == 0) {
            errno = 0; /* past the end of the device or file */
            return -1;
        }
        done += (size_t)n;
    }
    return 0;
}

static int parse(const char *s, unsigned long long *v)
{
    char *end;

    errno = 0;
    *v = strtoull(s, &end, 0);
    return errno || *end || end == s ? -1 : 0;
}

/* zeroout / punch / discard: one range, no data. */
static int range_op(const char *op, const char *name, unsigned long long sector,
                    unsigned long long count)
{
    uint64_t r[2] = {sector * SECTOR, count * SECTOR};
    int dev = open(name, O_WRONLY);
    int rc;

    if (dev < 0)
        return fail("open", name);
    if (!strcmp(op, "zeroout"))
        rc = ioctl(dev, BLKZEROOUT, r);
    else if (!strcmp(op, "discard"))
        rc = ioctl(dev, BLKDISCARD, r);
    else
        rc = fallocate(dev, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, (off_t)r[0], (off_t)r[1]);
    if (rc)
        return fail(op, name);
    if (close(dev))
        return fail("close", name);
    return 0;
}

int main(int argc, char **argv)
{
    unsigned long long sector, count;
    int is_write, dev, file;
    size_t len;
    void *buf;

    if (argc == 5 && (!strcmp(argv[1], "zeroout") || !strcmp(argv[1], "punch") ||
                      !strcmp(argv[1], "discard"))) {
        if (parse(argv[3], &sector) || parse(argv[4], &count) || count == 0) {
            fprintf(stderr, "usage: rl-dio zeroout|punch|discard DEV SECTOR COUNT\n");
            return 2;
        }
        return range_op(argv[1], argv[2], sector, count);
    }
    if (argc != 6 || (strcmp(argv[1], "read") && strcmp(argv[1], "write")) ||
        parse(argv[3], &sector) || parse(argv[4], &count) || count == 0) {
        fprintf(stderr, "usage: rl-dio read|write DEV SECTOR COUNT FILE | "
                        "rl-dio zeroout|punch|discard DEV SECTOR COUNT\n");
        return 2;
    }
    is_write = argv[1][0] == 'w';
    len = (size_t)(count * SECTOR);
    if (posix_memalign(&buf, ALIGN, len)) {
        errno = ENOMEM;
        return fail("buffer", argv[4]);
    }
    dev = open(argv[2], (is_write ? O_WRONLY : O_RDONLY) | O_DIRECT);
    if (dev < 0)
        return fail("open", argv[2]);
    file = is_write ? open(argv[5], O_RDONLY) : open(argv[5], O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (file < 0)
        return fail("open", argv[5]);
    if (is_write) {
        if (transfer(file, buf, len, 0, 0))
            return fail("read", argv[5]);
        if (transfer(dev, buf, len, (off_t)(sector * SECTOR), 1))
            return fail("write", argv[2]);
    } else {
        if (transfer(dev, buf, len, (off_t)(sector * SECTOR), 0))
            return fail("read", argv[2]);
        if (transfer(file, buf, len, 0, 1))
            return fail("write", argv[5]);
    }
    if (close(dev))
        return fail("close", argv[2]);
    if (close(file))
        return fail("close", argv[5]);
    free(buf);
    return 0;
}
