/* SPDX-License-Identifier: Apache-2.0 */
/*
 * syscalls.c - the newlib glue: the OS hooks newlib's libc calls
 * (built with --disable-newlib-supplied-syscalls for a generic target, so
 * newlib's _write_r etc. call the plain names write, sbrk, ...: ours).
 *
 *   write    fd 1 and 2 go to the console (console_write: whole lines per
 *            CPU and context; printf & co come there directly, libc/stdio.c)
 *   sbrk     grows the kernel heap, a contiguous block reserved by heap_init()
 *   _exit    powers QEMU off with the status (isa-debug-exit)
 *   the rest fail with ENOSYS (or EBADF for descriptors that do not exist)
 *
 * malloc is made SMP-safe by __malloc_lock/__malloc_unlock below, a
 * recursive spinlock (newlib calls them recursively from realloc paths).
 */
#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/stat.h>
#include <sys/times.h>
#include <sys/time.h>
#include <reent.h>

#include "kernel.h"

#undef errno
extern int errno;

static char *heap_base, *heap_end, *heap_brk;

int heap_init(size_t bytes)
{
    heap_base = page_alloc_raw(bytes / PAGE_SIZE);
    if (!heap_base)
        return -ENOMEM;
    heap_brk = heap_base;
    heap_end = heap_base + bytes;
    return 0;
}

size_t heap_size(void)
{
    return (size_t)(heap_end - heap_base);
}

size_t heap_used(void)
{
    return (size_t)(heap_brk - heap_base);
}

void *sbrk(ptrdiff_t incr)
{
    if (!heap_base || incr > heap_end - heap_brk || incr < heap_base - heap_brk) {
        errno = ENOMEM;
        return (void *)-1;
    }
    char *old = heap_brk;
    heap_brk += incr;
    return old;
}

_ssize_t write(int fd, const void *buf, size_t len)
{
    if (fd != 1 && fd != 2) {
        errno = EBADF;
        return -1;
    }
    console_write(buf, len);
    return (int)len;
}

_ssize_t read(int fd, void *buf, size_t len)
{
    (void)buf;
    (void)len;
    errno = fd == 0 ? ENOSYS : EBADF;
    return -1;
}

void _exit(int status)
{
    console_flush();
    machine_exit(status);
}

int close(int fd)
{
    errno = fd >= 0 && fd <= 2 ? ENOSYS : EBADF;
    return -1;
}

int fstat(int fd, struct stat *st)
{
    if (fd < 0 || fd > 2) {
        errno = EBADF;
        return -1;
    }
    st->st_mode = S_IFCHR;
    return 0;
}

int isatty(int fd)
{
    if (fd >= 0 && fd <= 2)
        return 1;
    errno = EBADF;
    return 0;
}

off_t lseek(int fd, off_t off, int whence)
{
    (void)fd;
    (void)off;
    (void)whence;
    errno = ESPIPE;
    return -1;
}


int kill(int pid, int sig)
{
    (void)pid;
    (void)sig;
    errno = ENOSYS;
    return -1;
}

int getpid(void)
{
    return 1;
}

int open(const char *path, int flags, int mode)
{
    (void)path;
    (void)flags;
    (void)mode;
    errno = ENOSYS;
    return -1;
}

int link(const char *a, const char *b)
{
    (void)a;
    (void)b;
    errno = ENOSYS;
    return -1;
}

int unlink(const char *path)
{
    (void)path;
    errno = ENOSYS;
    return -1;
}

int stat(const char *path, struct stat *st)
{
    (void)path;
    (void)st;
    errno = ENOSYS;
    return -1;
}

int fork(void)
{
    errno = ENOSYS;
    return -1;
}

int execve(const char *name, char *const argv[], char *const env[])
{
    (void)name;
    (void)argv;
    (void)env;
    errno = ENOSYS;
    return -1;
}

int wait(int *status)
{
    (void)status;
    errno = ENOSYS;
    return -1;
}

clock_t times(struct tms *t)
{
    (void)t;
    errno = ENOSYS;
    return (clock_t)-1;
}

int gettimeofday(struct timeval *tv, void *tz)
{
    (void)tz;
    /* Time since boot: there is no wall clock yet. */
    uint64_t ns = timer_ns();
    tv->tv_sec = (time_t)(ns / 1000000000ULL);
    tv->tv_usec = (suseconds_t)(ns % 1000000000ULL / 1000);
    return 0;
}

/* ---- malloc lock: recursive, per CPU ---- */
static struct spinlock malloc_spin;
static volatile int malloc_owner = -1;
static int malloc_depth;

void __malloc_lock(struct _reent *r)
{
    (void)r;
    int me = (int)cpu_id();
    if (__atomic_load_n(&malloc_owner, __ATOMIC_ACQUIRE) == me) {
        malloc_depth++;
        return;
    }
    spin_lock(&malloc_spin);
    malloc_owner = me;
    malloc_depth = 1;
}

void __malloc_unlock(struct _reent *r)
{
    (void)r;
    if (--malloc_depth == 0) {
        __atomic_store_n(&malloc_owner, -1, __ATOMIC_RELEASE);
        spin_unlock(&malloc_spin);
    }
}
