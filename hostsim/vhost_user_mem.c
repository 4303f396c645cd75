/* SPDX-License-Identifier: Apache-2.0 */
/*
 * vhost_user_mem.c - the vhost-user memory table (SET_MEM_TABLE) and the
 * translation of frontend (user) addresses to guest-physical ones, split
 * from vhost_user.c because it is the one part that maps and unmaps the
 * frontend's memory.
 *
 * Invariants: a table is accepted whole or not at all (every region
 * non-empty, without wrap-around, overlapping no other region in guest or
 * user addresses, mapped) and swapped in with the device asleep, the rings
 * rebuilt over it before anything reads them; b->regions[i] and
 * b->vregions[i] describe the same mapping; a translation succeeds only
 * for a range wholly inside one region.
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

    if (!r->has_addr || !r->num)
        return -EINVAL;
    if (vu_ua_to_gpa(b, r->desc_ua, 16 * n, &g->desc) ||
        vu_ua_to_gpa(b, r->avail_ua, 6 + 2 * n, &g->avail) ||
        vu_ua_to_gpa(b, r->used_ua, 6 + 8 * n, &g->used))
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

int vu_set_mem_table(struct vu_backend *b, const uint8_t *p, uint32_t size, const int *fds,
                     unsigned nfds)
{
    struct vu_region nr[VU_MAX_REGIONS];
    uint32_t n, i;
    bool was_running = !vmmio_is_asleep(b->m);
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
    for (i = 0; i < n; i++) {
        const uint8_t *q = p + VU_MEM_HDR_BYTES + i * VU_MEM_REGION_BYTES;

        nr[i].gpa = snap_get64(q);
        nr[i].size = snap_get64(q + 8);
        nr[i].uaddr = snap_get64(q + 16);
        nr[i].mmap_offset = snap_get64(q + 24);
    }
    for (i = 0; i < n; i++) {
        if (!vu_is_region_ok(&nr[i], nr, n)) {
            virt_log(VIRT_LOG_ERR, "vhost-user: region %u unusable (gpa %#llx size %#llx)", i,
                     (unsigned long long)nr[i].gpa, (unsigned long long)nr[i].size);
            err = -EINVAL;
            goto err_unmap;
        }
        nr[i].hva = b->ops->map ? b->ops->map(b->ctx, fds[i], nr[i].mmap_offset, nr[i].size) : NULL;
        if (!nr[i].hva) {
            virt_log(VIRT_LOG_ERR, "vhost-user: cannot map region %u (%#llx bytes)", i,
                     (unsigned long long)nr[i].size);
            err = -ENOMEM;
            goto err_unmap;
        }
    }
    /* Swap with the device asleep, then rebuild the rings over the new
     * mappings before anything looks at them again. */
    if (was_running)
        vmmio_sleep(b->m);
    vu_regions_unmap(b, b->regions, b->mem.nregions);
    for (i = 0; i < n; i++) {
        b->regions[i] = nr[i];
        b->vregions[i] =
            (struct vdq_mem_region){.gpa = nr[i].gpa, .size = nr[i].size, .hva = nr[i].hva};
    }
    b->mem.nregions = n;
    err = vu_reload(b, false, NULL);
    if (err) {
        virt_log(VIRT_LOG_ERR, "vhost-user: rings outside the new memory table");
        /* The device stays asleep; a restart re-checks everything. */
        return err;
    }
    if (was_running)
        vmmio_wake(b->m);
    return 0;

err_unmap:
    vu_regions_unmap(b, nr, n);
    return err;
}
