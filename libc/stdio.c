/* SPDX-License-Identifier: Apache-2.0 */
/*
 * stdio.c - the console's printf, vprintf, puts and putchar, in place of
 * newlib's (an object's definition wins over the archive's, so newlib's
 * printf.o etc. are never linked).
 *
 * newlib is built without locks, and its versions all go through the one
 * FILE for stdout: two CPUs, or an interrupt handler and the code it
 * interrupted, would share that FILE's state and buffer. These format with
 * newlib's vsnprintf (a private string FILE on the stack) into the calling
 * CPU's and context's line buffer (kernel/console.c) instead, so nothing is
 * shared and lines come out whole. fprintf(stdout, ...) and friends would
 * still reach newlib's FILE, so the kernel does not use them.
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "kernel.h"

int vprintf(const char *fmt, va_list ap)
{
    return console_vprintf(fmt, ap);
}

int printf(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = console_vprintf(fmt, ap);
    va_end(ap);
    return n;
}

int puts(const char *s)
{
    size_t n = strlen(s);
    console_write(s, n);
    console_write("\n", 1);
    return (int)n + 1;
}

int putchar(int c)
{
    char ch = (char)c;
    console_write(&ch, 1);
    return (unsigned char)c;
}
