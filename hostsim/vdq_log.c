/* SPDX-License-Identifier: Apache-2.0 */
/*
 * vdq_log.c - the dirty page log of vdq.h (vhost-user live migration, QEMU
 * docs/interop/vhost-user.rst "Migration"): one bit per VHOST_LOG_PAGE
 * (4 KiB) of guest-physical address, bit page % 8 of byte page / 8, set
 * with an atomic OR ("the log may be concurrently manipulated": QEMU reads
 * and clears it while we run, other queues set bits at the same time).
 *
 * Ordering: a bit is set after the bytes it covers were written. QEMU
 * clears a bit and then copies the page, so a bit set after the write
 * makes it copy the page again; relaxed is enough for that within a run,
 * and the final sync happens after the rings were stopped (GET_VRING_BASE,
 * a message exchange that orders everything before it).
 *
 * Invariants: nothing outside log->bitmap[0, bytes) is ever written; a
 * page past it is counted in log->dropped (the frontend's log is too small
 * for an address it let the device write: its problem, never a crash).
 */
#include "vdq.h"

#include "virtio_platform.h"

static bool vdq_logging(const struct vdq_mem *mem)
{
    return mem->log && mem->log->bitmap;
}

void vdq_log_gpa(const struct vdq_mem *mem, uint64_t gpa, uint64_t len)
{
    struct vdq_log *log = mem->log;
    uint64_t page, last;

    if (!vdq_logging(mem) || !len)
        return;
    if (len - 1 > UINT64_MAX - gpa)
        len = UINT64_MAX - gpa + 1; /* wraps: up to the top */
    page = gpa / VDQ_LOG_PAGE;
    last = (gpa + (len - 1)) / VDQ_LOG_PAGE;
    for (; page <= last; page++) {
        if (page / 8 >= log->bytes) {
            __atomic_fetch_add(&log->dropped, last - page + 1, __ATOMIC_RELAXED);
            return;
        }
        /* Relaxed: see the ordering note above. */
        __atomic_fetch_or(&log->bitmap[page / 8], (uint8_t)(1u << (page % 8)),
                          __ATOMIC_RELAXED);
        if (page == UINT64_MAX / VDQ_LOG_PAGE)
            return;
    }
}

void vdq_log_hva(const struct vdq_mem *mem, const void *p, uint64_t len)
{
    uintptr_t a = (uintptr_t)p;
    uint32_t i;

    if (!vdq_logging(mem))
        return;
    for (i = 0; i < mem->nregions; i++) {
        const struct vdq_mem_region *r = &mem->regions[i];
        uintptr_t base = (uintptr_t)r->hva;

        if (a < base || a - base >= r->size)
            continue;
        /* A segment lies inside one region (vdq_mem_translate). */
        if (len > r->size - (a - base))
            len = r->size - (a - base);
        vdq_log_gpa(mem, r->gpa + (a - base), len);
        return;
    }
}

void vdq_log_chain_in(const struct vdq_mem *mem, const struct vdq_chain *c, uint32_t len)
{
    uint32_t i;

    if (!vdq_logging(mem))
        return;
    for (i = c->nout; len && i < c->nout + c->nin && i < c->max_iov; i++) {
        uint32_t n = c->iov[i].len < len ? c->iov[i].len : len;

        vdq_log_hva(mem, c->iov[i].base, n);
        len -= n;
    }
}

void vdq_set_used_log(struct vdq *q, bool on, uint64_t gpa)
{
    q->used_log = on;
    q->used_log_gpa = on ? gpa : 0;
}

void vdq_log_used_on(const struct vdq *q, uint64_t off, uint64_t len)
{
    if (off <= UINT64_MAX - q->used_log_gpa)
        vdq_log_gpa(&q->mem, q->used_log_gpa + off, len);
}
