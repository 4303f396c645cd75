/* SPDX-License-Identifier: Apache-2.0 */
/*
 * vhost_user_log.c - dirty logging for live migration (QEMU
 * docs/interop/vhost-user.rst "Migration", VHOST_USER_SET_LOG_BASE,
 * VHOST_USER_SET_LOG_FD, VHOST_USER_PROTOCOL_F_LOG_SHMFD).
 *
 * "The log memory fd is provided in the ancillary data of
 * VHOST_USER_SET_LOG_BASE message when the back-end has
 * VHOST_USER_PROTOCOL_F_LOG_SHMFD protocol feature. The size of the log is
 * supplied as part of VhostUserMsg which should be large enough to cover
 * all known guest addresses. Log starts at the supplied offset in the
 * supplied file descriptor." SET_LOG_BASE then has a reply of its own
 * ("Communication": the ones that need replies include "SET_LOG_BASE (if
 * VHOST_USER_PROTOCOL_F_LOG_SHMFD)"); QEMU waits for a message of that
 * request and reads whatever payload it carries: we send a u64 0.
 *
 * "To start/stop logging of data/used ring writes, the front-end may send
 * messages VHOST_USER_SET_FEATURES with VHOST_F_LOG_ALL and
 * VHOST_USER_SET_VRING_ADDR with VHOST_VRING_F_LOG in ring's flags set to
 * 1/0, respectively." So the device logs (struct vdq_log, hostsim/vdq.h)
 * while LOG_ALL is acked and a log is mapped; a ring's used area is logged
 * at the log_guest_addr of its SET_VRING_ADDR when VHOST_VRING_F_LOG is set.
 * Data written into guest buffers is logged by the device models
 * (vdev_queue_drain, the blk model's async completion) through the same
 * vdq_log.
 *
 * Invariants: the log is swapped, and logging turned on or off, only with
 * the device asleep (vmmio_sleep waits for queue processing and in-flight
 * I/O to finish, so nothing writes into the old log after it is unmapped);
 * the device writes nothing outside [log_base, log_base + log_size).
 * Bad input (no fd, a log smaller than the memory table, a failed map) is
 * refused with one line logged; SET_LOG_BASE has a reply of its own, so a
 * refusal closes the connection (vhost_user.h error policy).
 */
#include <errno.h>

#include "snap_le.h"
#include "vhost_user_internal.h"
#include "virtio_platform.h"

/* Log bytes needed to cover guest-physical [0, end). */
static uint64_t vu_log_bytes_for(uint64_t end)
{
    uint64_t pages = end / VDQ_LOG_PAGE + (end % VDQ_LOG_PAGE ? 1 : 0);

    return pages / 8 + (pages % 8 ? 1 : 0);
}

/* Highest guest-physical end of the memory table. */
static uint64_t vu_mem_end(const struct vu_backend *b)
{
    uint64_t end = 0;
    unsigned i;

    for (i = 0; i < b->mem.nregions; i++) {
        uint64_t e = b->regions[i].gpa + b->regions[i].size; /* checked when added */

        if (e > end)
            end = e;
    }
    return end;
}

static void vu_log_apply_locked(struct vdev *d, void *arg)
{
    struct vu_backend *b = arg;
    unsigned i;

    for (i = 0; i < b->nrings; i++)
        if (vdev_has_queue_state(d, i))
            vu_log_attach(b, i, &d->queues[i].q);
}

void vu_log_attach(struct vu_backend *b, unsigned i, struct vdq *q)
{
    vdq_set_used_log(q, b->rings[i].log_used, b->rings[i].log_gpa);
}

void vu_log_update(struct vu_backend *b)
{
    bool on = b->log_base && ((b->features >> VU_F_LOG_ALL) & 1);
    bool run = b->m && !vmmio_is_asleep(b->m);

    if (run)
        vmmio_sleep(b->m); /* waits for processing and in-flight I/O */
    if (on != (b->vlog.bitmap != NULL))
        virt_log(VIRT_LOG_INFO, "vhost-user: dirty logging %s (%llu-byte log)",
                 on ? "on" : "off", (unsigned long long)b->log_size);
    b->vlog.bitmap = on ? b->log_base : NULL;
    b->vlog.bytes = on ? b->log_size : 0;
    if (b->m)
        vmmio_run_locked(b->m, vu_log_apply_locked, b);
    if (run) {
        vmmio_wake(b->m);
        vu_process(b); /* kicks taken while asleep */
    }
}

void vu_log_drop(struct vu_backend *b)
{
    if (b->log_base && b->ops->unmap)
        b->ops->unmap(b->ctx, b->log_base, b->log_offset, b->log_size);
    b->log_base = NULL;
    b->log_size = b->log_offset = 0;
    b->vlog.bitmap = NULL;
    b->vlog.bytes = 0;
}

int vu_set_log_base(struct vu_backend *b, const uint8_t *p, uint32_t size, const int *fds,
                    unsigned nfds)
{
    uint64_t lsize, loff, need;
    uint8_t *base, *old;
    uint64_t old_size, old_off;
    bool run;

    if (size != VU_LOG_BYTES || nfds != 1) {
        virt_log(VIRT_LOG_ERR, "vhost-user: SET_LOG_BASE with %u payload bytes and %u fds "
                               "(want %u and 1)", size, nfds, VU_LOG_BYTES);
        return -EINVAL;
    }
    lsize = snap_get64(p);
    loff = snap_get64(p + 8);
    need = vu_log_bytes_for(vu_mem_end(b));
    if (!lsize || lsize < need || loff > UINT64_MAX - lsize) {
        virt_log(VIRT_LOG_ERR,
                 "vhost-user: SET_LOG_BASE log of %#llx bytes at %#llx: guest memory needs %#llx",
                 (unsigned long long)lsize, (unsigned long long)loff, (unsigned long long)need);
        return -EINVAL;
    }
    base = b->ops->map ? b->ops->map(b->ctx, fds[0], loff, lsize) : NULL;
    if (!base) {
        virt_log(VIRT_LOG_ERR, "vhost-user: SET_LOG_BASE: cannot map %#llx bytes at %#llx",
                 (unsigned long long)lsize, (unsigned long long)loff);
        return -ENOMEM;
    }
    /* Swap with nothing logging (the old log may be in use by a worker). */
    run = !vmmio_is_asleep(b->m);
    if (run)
        vmmio_sleep(b->m);
    old = b->log_base;
    old_size = b->log_size;
    old_off = b->log_offset;
    b->log_base = base;
    b->log_size = lsize;
    b->log_offset = loff;
    vu_log_update(b); /* asleep: only the fields change */
    if (old && b->ops->unmap)
        b->ops->unmap(b->ctx, old, old_off, old_size);
    if (run) {
        vmmio_wake(b->m);
        vu_process(b);
    }
    return 0;
}

int vu_set_log_fd(struct vu_backend *b, unsigned nfds)
{
    (void)b;
    /* "an optional message with an eventfd in ancillary data, it may be
     * used to inform the front-end that the log has been modified": QEMU
     * reads the log at its own pace, so we never signal it. */
    if (nfds != 1) {
        virt_log(VIRT_LOG_ERR, "vhost-user: SET_LOG_FD with %u fds", nfds);
        return -EINVAL;
    }
    return 0;
}
