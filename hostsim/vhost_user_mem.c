/* SPDX-License-Identifier: Apache-2.0 */
/*
 * vhost_user_mem.c - the vhost-user memory table (SET_MEM_TABLE) and the
 * translation of frontend (user) addresses to guest-physical ones, split
 * from vhost_user.c because it is the one part that maps and unmaps the
 * frontend's memory.
 *
 * Invariants: a table (SET_MEM_TABLE) or one region (ADD_MEM_REG) is
 * accepted whole or not at all (every region non-empty, without
 * wrap-around, overlapping no other region in guest or user addresses,
 * mapped), and every change (also REM_MEM_REG) is made with the device
 * asleep, the rings rebuilt over the new table before anything reads
 * them (vu_mem_quiesce / vu_mem_resume); b->regions[i] and b->vregions[i]
 * describe the same mapping; a translation succeeds only for a range
 * wholly inside one region.
 */
#include "vhost_user.h"

#include <errno.h>
#include <string.h>

#include "snap_le.h"
#include "vhost_user_internal.h"
#include "virtio_platform.h"

/* Frontend (user) address -> guest-physical, [ua, ua+len) inside one region. */
int vu_ua_to_gpa(const struct vu_backend *b, uint64_t ua, uint64_t len, uint64_t *gpa)
{
    unsigned i;

    for (i = 0; i < b->mem.nregions; i++) {
        const struct vu_region *rg = &b->regions[i];

        if (ua >= rg->uaddr && ua - rg->uaddr < rg->size && len <= rg->size - (ua - rg->uaddr)) {
            *gpa = rg->gpa + (ua - rg->uaddr);
            return 0;
        }
    }
    return -EFAULT;
}

int vu_ring_geo_get(const struct vu_backend *b, const struct vu_ring *r, struct vu_ring_geo *g)
{
    uint64_t n = r->num;

    /* Split (2.7): avail flags, idx, ring[n], used_event; used flags, idx,
     * ring[n] of 8 bytes, avail_event. Packed (2.8.10): n descriptors of 16
     * bytes, and two event suppression structures of 4. */
    bool packed = vu_is_packed(b);

    if (!r->has_addr || !r->num)
        return -EINVAL;
    if (vu_ua_to_gpa(b, r->desc_ua, 16 * n, &g->desc) ||
        vu_ua_to_gpa(b, r->avail_ua, packed ? 4 : 6 + 2 * n, &g->avail) ||
        vu_ua_to_gpa(b, r->used_ua, packed ? 4 : 6 + 8 * n, &g->used))
        return -EFAULT;
    return 0;
}

/* ---- memory table ---- */

void vu_regions_unmap(struct vu_backend *b, struct vu_region *rg, unsigned n)
{
    unsigned i;

    for (i = 0; i < n; i++)
        if (rg[i].hva && b->ops->unmap)
            b->ops->unmap(b->ctx, rg[i].hva, rg[i].mmap_offset, rg[i].size);
}

static bool vu_is_region_ok(const struct vu_region *rg, const struct vu_region *all, unsigned n)
{
    unsigned j;

    if (!rg->size || rg->gpa + rg->size < rg->gpa || rg->uaddr + rg->size < rg->uaddr ||
        rg->mmap_offset + rg->size < rg->mmap_offset)
        return false;
    for (j = 0; j < n; j++) {
        const struct vu_region *o = &all[j];

        if (o == rg)
            continue;
        if (rg->gpa < o->gpa + o->size && o->gpa < rg->gpa + rg->size)
            return false; /* overlapping guest ranges */
        if (rg->uaddr < o->uaddr + o->size && o->uaddr < rg->uaddr + rg->size)
            return false;
    }
    return true;
}

static void vu_region_parse(const uint8_t *q, struct vu_region *rg)
{
    rg->gpa = snap_get64(q);
    rg->size = snap_get64(q + 8);
    rg->uaddr = snap_get64(q + 16);
    rg->mmap_offset = snap_get64(q + 24);
    rg->hva = NULL;
}

/* Map rg from fd (the carrier checks the fd is long enough); logs. */
static int vu_region_map(struct vu_backend *b, struct vu_region *rg, int fd, const char *what)
{
    rg->hva = b->ops->map ? b->ops->map(b->ctx, fd, rg->mmap_offset, rg->size) : NULL;
    if (!rg->hva) {
        virt_log(VIRT_LOG_ERR, "vhost-user: %s: cannot map %#llx bytes at fd offset %#llx", what,
                 (unsigned long long)rg->size, (unsigned long long)rg->mmap_offset);
        return -ENOMEM;
    }
    return 0;
}

/*
 * Every change of the table runs between these two. Quiesce: the device
 * sleeps (vmmio_sleep waits for queue processing in progress, on any
 * worker thread), so nothing reads the table while it changes; returns
 * whether the device is to run again afterwards (it was running, or an
 * earlier change parked it). Resume: the rings are rebuilt over the new
 * table and the device woken; if a running ring is now outside guest
 * memory it stays asleep (parked) and -EFAULT says so.
 */
static bool vu_mem_quiesce(struct vu_backend *b)
{
    bool run = !vmmio_is_asleep(b->m) || b->mem_parked;

    if (!vmmio_is_asleep(b->m))
        vmmio_sleep(b->m);
    return run;
}

static void vu_mem_publish(struct vu_backend *b)
{
    unsigned i;

    for (i = 0; i < b->mem.nregions; i++)
        b->vregions[i] = (struct vdq_mem_region){
            .gpa = b->regions[i].gpa, .size = b->regions[i].size, .hva = b->regions[i].hva};
}

static int vu_mem_resume(struct vu_backend *b, bool run)
{
    int err;

    vu_mem_publish(b);
    err = vu_reload(b, false, NULL);
    b->mem_parked = err && run;
    if (err) {
        virt_log(VIRT_LOG_ERR, "vhost-user: rings outside the new memory table%s",
                 run ? ": device asleep until they are back" : "");
        return -EFAULT;
    }
    if (run) {
        vmmio_wake(b->m);
        /* Kicks that came while asleep (a worker marked them pending and
         * went back to sleep on its eventfd) are served now. */
        vu_process(b);
    }
    return 0;
}

int vu_set_mem_table(struct vu_backend *b, const uint8_t *p, uint32_t size, const int *fds,
                     unsigned nfds)
{
    struct vu_region nr[VU_MAX_REGIONS];
    uint32_t n, i;
    bool run;
    int err;

    if (size < VU_MEM_HDR_BYTES)
        return -EINVAL;
    n = snap_get32(p);
    if (n == 0 || n > VU_MAX_REGIONS || size != VU_MEM_HDR_BYTES + n * VU_MEM_REGION_BYTES ||
        nfds != n) {
        virt_log(VIRT_LOG_ERR, "vhost-user: SET_MEM_TABLE with %u regions, %u bytes, %u fds", n,
                 size, nfds);
        return -EINVAL;
    }
    memset(nr, 0, sizeof(nr));
    for (i = 0; i < n; i++)
        vu_region_parse(p + VU_MEM_HDR_BYTES + i * VU_MEM_REGION_BYTES, &nr[i]);
    for (i = 0; i < n; i++) {
        if (!vu_is_region_ok(&nr[i], nr, n)) {
            virt_log(VIRT_LOG_ERR, "vhost-user: region %u unusable (gpa %#llx size %#llx)", i,
                     (unsigned long long)nr[i].gpa, (unsigned long long)nr[i].size);
            err = -EINVAL;
            goto err_unmap;
        }
        err = vu_region_map(b, &nr[i], fds[i], "SET_MEM_TABLE");
        if (err)
            goto err_unmap;
    }
    /* Swap with the device asleep, then rebuild the rings over the new
     * mappings before anything looks at them again. */
    run = vu_mem_quiesce(b);
    vu_regions_unmap(b, b->regions, b->mem.nregions);
    for (i = 0; i < n; i++)
        b->regions[i] = nr[i];
    b->mem.nregions = n;
    return vu_mem_resume(b, run);

err_unmap:
    vu_regions_unmap(b, nr, n);
    return err;
}

/*
 * vhost-user.rst, VHOST_USER_ADD_MEM_REG: "a memory region descriptor
 * struct, describing a region of guest memory which the back-end device
 * must map in", with "exactly one file descriptor from which the memory
 * is mapped". Refused (table unchanged): not one fd, a full table
 * (VU_MAX_MEM_SLOTS, what GET_MAX_MEM_SLOTS said), an empty or wrapping
 * region, one overlapping a region already there (guest or user
 * addresses), or one the carrier cannot map (past the end of its fd).
 */
int vu_add_mem_reg(struct vu_backend *b, const uint8_t *p, const int *fds, unsigned nfds)
{
    struct vu_region nr;
    bool run;
    int err;

    vu_region_parse(p + 8, &nr);
    if (nfds != 1) {
        virt_log(VIRT_LOG_ERR, "vhost-user: ADD_MEM_REG with %u fds (want 1)", nfds);
        return -EINVAL;
    }
    if (b->mem.nregions >= VU_MAX_MEM_SLOTS) {
        virt_log(VIRT_LOG_ERR, "vhost-user: ADD_MEM_REG: all %u slots used", VU_MAX_MEM_SLOTS);
        return -ENOSPC;
    }
    if (!vu_is_region_ok(&nr, b->regions, b->mem.nregions)) {
        virt_log(VIRT_LOG_ERR,
                 "vhost-user: ADD_MEM_REG: region gpa %#llx size %#llx ua %#llx empty, wrapping "
                 "or overlapping",
                 (unsigned long long)nr.gpa, (unsigned long long)nr.size,
                 (unsigned long long)nr.uaddr);
        return -EINVAL;
    }
    err = vu_region_map(b, &nr, fds[0], "ADD_MEM_REG");
    if (err)
        return err;
    run = vu_mem_quiesce(b);
    b->regions[b->mem.nregions++] = nr;
    /* Rings outside memory stay parked: not this message's fault. */
    (void)vu_mem_resume(b, run);
    virt_log(VIRT_LOG_INFO, "vhost-user: memory region %u added: gpa %#llx, %llu KiB",
             b->mem.nregions - 1, (unsigned long long)nr.gpa,
             (unsigned long long)(nr.size >> 10));
    return 0;
}

/*
 * VHOST_USER_REM_MEM_REG: "The memory region to be removed is identified
 * by its guest address, user address and size. The mmap offset is
 * ignored." and "If a file descriptor is passed, the back-end MUST close
 * it without using it" (vu_handle_msg closes it). A region that is not
 * there is refused. Removing the memory a running ring lives in parks the
 * device until a later ADD_MEM_REG brings it back (QEMU replaces a region
 * with REM then ADD).
 */
int vu_rem_mem_reg(struct vu_backend *b, const uint8_t *p, unsigned nfds)
{
    struct vu_region rg;
    unsigned i;
    bool run;

    vu_region_parse(p + 8, &rg);
    if (nfds > 1) {
        virt_log(VIRT_LOG_ERR, "vhost-user: REM_MEM_REG with %u fds", nfds);
        return -EINVAL;
    }
    for (i = 0; i < b->mem.nregions; i++)
        if (b->regions[i].gpa == rg.gpa && b->regions[i].uaddr == rg.uaddr &&
            b->regions[i].size == rg.size)
            break;
    if (i == b->mem.nregions) {
        virt_log(VIRT_LOG_ERR, "vhost-user: REM_MEM_REG: no region gpa %#llx size %#llx ua %#llx",
                 (unsigned long long)rg.gpa, (unsigned long long)rg.size,
                 (unsigned long long)rg.uaddr);
        return -ENOENT;
    }
    run = vu_mem_quiesce(b);
    vu_regions_unmap(b, &b->regions[i], 1);
    memmove(&b->regions[i], &b->regions[i + 1],
            (b->mem.nregions - i - 1) * sizeof(b->regions[0]));
    b->mem.nregions--;
    (void)vu_mem_resume(b, run);
    virt_log(VIRT_LOG_INFO, "vhost-user: memory region gpa %#llx removed (%u left)",
             (unsigned long long)rg.gpa, b->mem.nregions);
    return 0;
}
