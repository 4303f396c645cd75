/* SPDX-License-Identifier: Apache-2.0 */
/*
 * virtio_platform_kernel.c - virtio_platform.h for the ringloop kernel.
 *
 * DMA memory is whole zeroed pages from dma_alloc(); the kernel identity-maps
 * RAM, so the device-visible address is virt_to_phys(). Private memory is
 * newlib's calloc, locks are the kernel's spinlocks, time is timer_ns(), the
 * log is printf on the console, as "# " lines so KTAP output stays valid.
 * A virt_log line is whole even when it is printed in three pieces from an
 * interrupt handler (e.g. DEVICE_NEEDS_RESET in a config-change interrupt)
 * while another CPU or the interrupted code prints: the console keeps one
 * line buffer per CPU and context (kernel/console.c).
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

#include "kernel.h"
#include "kernel/tests/ktest.h"
#include "virtio_platform.h"

_Static_assert(sizeof(struct virt_lock) == sizeof(struct spinlock),
               "virt_lock must overlay struct spinlock");

void *virt_dma_alloc(size_t size, uint64_t *dma)
{
    return dma_alloc(size ? size : 1, dma);
}

void virt_dma_free(void *p, size_t size)
{
    dma_free(p, size ? size : 1);
}

uint64_t virt_to_dma(const void *p)
{
    return virt_to_phys(p);
}

void *virt_zalloc(size_t size)
{
    return calloc(1, size ? size : 1);
}

void virt_free(void *p)
{
    free(p);
}

void virt_lock_acquire(struct virt_lock *l)
{
    spin_lock((struct spinlock *)(void *)l);
}

void virt_lock_release(struct virt_lock *l)
{
    spin_unlock((struct spinlock *)(void *)l);
}

void virt_log(int level, const char *fmt, ...)
{
    static const char *const names[] = {"err", "warn", "info", "debug"};
    va_list ap;

    if (level > VIRT_LOG_WARN)
        return;
    /* A KTAP diagnostic at the current nesting level (kernel/tests/ktest.c). */
    printf("%s# virtio %s: ", ktest_indent(), names[level < 0 ? 0 : level]);
    va_start(ap, fmt);
    vprintf(fmt, ap);
    va_end(ap);
    printf("\n");
}

uint64_t virt_time_ns(void)
{
    return timer_ns();
}

unsigned virt_cpu_id(void)
{
    return cpu_id();
}
