/* SPDX-License-Identifier: Apache-2.0 */
/*
 * virtio_blk_ext.c - the blk driver's optional features (VIRTIO 1.2 5.2):
 * DISCARD and WRITE_ZEROES within the config limits, RO, TOPOLOGY and the
 * write cache mode (CONFIG_WCE). The queue and requests: virtio_blk.c.
 *
 * Config (5.2.4, 5.2.5 "Device Initialization"), read at start and on a
 * config change, only for negotiated features:
 *  - max_discard_sectors / max_write_zeroes_sectors: 0 means no limit
 *    (what Linux does; the wire field num_sectors is 32 bits anyway);
 *  - max_discard_seg / max_write_zeroes_seg: 0 cannot be meant (a request
 *    has at least one segment): 1, said once; capped at
 *    VIRTIO_BLK_DWZ_MAX_SEGS (our segment buffer);
 *  - discard_sector_alignment 0: 1;
 *  - writeback is read on demand, never before FEATURES_OK (5.2.5 driver
 *    requirement: config() runs after it).
 * The driver takes the stricter reading of the sector limits: the sum of a
 * request's segments stays within max_*_sectors (Linux does the same), so a
 * device that means "per segment" is satisfied too.
 *
 * Requests (5.2.6): the data is one device-readable buffer of struct
 * virtio_blk_discard_write_zeroes; the header's sector is 0. unmap only on
 * WRITE_ZEROES, reserved flags 0 (5.2.6.1: the device answers UNSUPP
 * otherwise).
 */
#include <errno.h>
#include <string.h>

#include "virtio_blk_internal.h"
#include "virtio_driver.h"

#define BLK_SEG_BYTES sizeof(struct virtio_blk_discard_write_zeroes)

/* ---- config ---- */

static uint32_t blk_cread32(struct virtio_blk *blk, uint32_t off)
{
    uint32_t v = 0;

    if (virtio_cread(blk->dev, off, &v, sizeof(v)) < 0)
        return 0;
    return vr_le32_to_cpu(v);
}

static uint8_t blk_cread8(struct virtio_blk *blk, uint32_t off)
{
    uint8_t v = 0;

    (void)virtio_cread(blk->dev, off, &v, sizeof(v));
    return v;
}

/* A segment limit of 0 is 1 (said once), at most VIRTIO_BLK_DWZ_MAX_SEGS. */
static uint32_t blk_seg_limit(struct virtio_blk *blk, uint32_t v, const char *what)
{
    if (v == 0) {
        virt_log(VIRT_LOG_WARN, "%s: %s 0: using 1", blk->dev->name, what);
        return 1;
    }
    return v > VIRTIO_BLK_DWZ_MAX_SEGS ? VIRTIO_BLK_DWZ_MAX_SEGS : v;
}

#define BLK_CFG(field) ((uint32_t)offsetof(struct virtio_blk_config, field))

void blk_ext_read_config(struct virtio_blk *blk)
{
    struct virtio_blk_limits l;
    struct virtio_device *dev = blk->dev;

    memset(&l, 0, sizeof(l));
    l.discard = virtio_has_feature(dev, VIRTIO_BLK_F_DISCARD);
    l.write_zeroes = virtio_has_feature(dev, VIRTIO_BLK_F_WRITE_ZEROES);
    l.read_only = virtio_has_feature(dev, VIRTIO_BLK_F_RO);
    l.topology = virtio_has_feature(dev, VIRTIO_BLK_F_TOPOLOGY);
    l.config_wce = virtio_has_feature(dev, VIRTIO_BLK_F_CONFIG_WCE);
    l.flush = virtio_has_feature(dev, VIRTIO_BLK_F_FLUSH);
    if (l.discard) {
        l.max_discard_sectors = blk_cread32(blk, BLK_CFG(max_discard_sectors));
        if (l.max_discard_sectors == 0)
            l.max_discard_sectors = UINT32_MAX;
        l.max_discard_seg =
            blk_seg_limit(blk, blk_cread32(blk, BLK_CFG(max_discard_seg)), "max_discard_seg");
        l.discard_sector_alignment = blk_cread32(blk, BLK_CFG(discard_sector_alignment));
        if (l.discard_sector_alignment == 0)
            l.discard_sector_alignment = 1;
    }
    if (l.write_zeroes) {
        l.max_write_zeroes_sectors = blk_cread32(blk, BLK_CFG(max_write_zeroes_sectors));
        if (l.max_write_zeroes_sectors == 0)
            l.max_write_zeroes_sectors = UINT32_MAX;
        l.max_write_zeroes_seg = blk_seg_limit(blk, blk_cread32(blk, BLK_CFG(max_write_zeroes_seg)),
                                               "max_write_zeroes_seg");
        l.write_zeroes_may_unmap = blk_cread8(blk, BLK_CFG(write_zeroes_may_unmap)) != 0;
    }
    if (l.topology) {
        uint16_t v = 0;

        l.physical_block_exp = blk_cread8(blk, BLK_CFG(physical_block_exp));
        l.alignment_offset = blk_cread8(blk, BLK_CFG(alignment_offset));
        (void)virtio_cread(dev, BLK_CFG(min_io_size), &v, sizeof(v));
        l.min_io_size = vr_le16_to_cpu(v);
        l.opt_io_size = blk_cread32(blk, BLK_CFG(opt_io_size));
    }
    blk->lim = l;
}

void virtio_blk_get_limits(const struct virtio_blk *blk, struct virtio_blk_limits *lim)
{
    *lim = blk->lim;
}

bool virtio_blk_is_read_only(const struct virtio_blk *blk)
{
    return blk->lim.read_only;
}

/* ---- DISCARD / WRITE_ZEROES ---- */

int blk_ext_check_dwz(const struct virtio_blk *blk, const struct virtio_blk_req *req)
{
    bool is_wz = req->type == VIRTIO_BLK_T_WRITE_ZEROES;
    uint64_t total = 0;
    uint32_t i;

    if (!(is_wz ? blk->lim.write_zeroes : blk->lim.discard))
        return -EOPNOTSUPP; /* 5.2.3: only with the feature */
    if (req->nsegs == 0 || req->nsegs > VIRTIO_BLK_MAX_SEGS)
        return -EINVAL;
    for (i = 0; i < req->nsegs; i++)
        total += req->segs[i].len;
    if (total == 0 || total % BLK_SEG_BYTES ||
        total / BLK_SEG_BYTES > (is_wz ? blk->lim.max_write_zeroes_seg : blk->lim.max_discard_seg))
        return -EINVAL;
    return 0;
}

static bool blk_is_range_ok(const struct virtio_blk *blk, const struct virtio_blk_range *r,
                            uint32_t align)
{
    uint64_t cap = virtio_blk_capacity(blk);

    if (r->nsectors == 0 || r->sector > cap || r->nsectors > cap - r->sector)
        return false;
    /* 5.2.5: discard_sector_alignment, "used when splitting"; the device
     * may hold us to it, so refuse what we cannot split on it. */
    return align <= 1 ||
           (r->sector % align == 0 && (r->nsectors % align == 0 || r->sector + r->nsectors == cap));
}

static int blk_check_ranges(const struct virtio_blk *blk, const struct virtio_blk_range *r,
                            uint32_t n, uint32_t align)
{
    uint32_t i, j;

    for (i = 0; i < n; i++) {
        if (!blk_is_range_ok(blk, &r[i], align)) {
            virt_log(VIRT_LOG_INFO,
                     "%s: range %llu+%u: empty, past capacity %llu or not on %u sectors",
                     blk->dev->name, (unsigned long long)r[i].sector, r[i].nsectors,
                     (unsigned long long)virtio_blk_capacity(blk), align);
            return -EINVAL;
        }
        for (j = 0; j < i; j++)
            if (r[i].sector < r[j].sector + r[j].nsectors &&
                r[j].sector < r[i].sector + r[i].nsectors)
                return -EINVAL; /* overlap: the device would refuse it */
    }
    return 0;
}

struct blk_dwz_build {
    struct virtio_blk *blk;
    uint32_t type;
    struct virtio_blk_discard_write_zeroes *seg; /* DMA, max_seg entries */
    uint32_t nseg, max_seg;
    uint32_t budget, max_sectors; /* sectors left in this request */
    uint32_t flags;
    uint32_t requests; /* sent */
};

static int blk_dwz_send(struct blk_dwz_build *b)
{
    int err;

    if (b->nseg == 0)
        return 0;
    err = blk_do_sync(b->blk, b->type, 0, b->seg, b->nseg * (uint32_t)BLK_SEG_BYTES);
    b->requests++;
    b->nseg = 0;
    b->budget = b->max_sectors;
    return err;
}

/* Add [sector, sector + left) to requests, cut where the limits say. */
static int blk_dwz_add(struct blk_dwz_build *b, uint64_t sector, uint32_t left, uint32_t align)
{
    int err;

    while (left) {
        uint32_t piece = left < b->budget ? left : b->budget;

        if (piece < left && align > 1)
            piece -= piece % align; /* cut on an alignment boundary */
        if (piece == 0) {
            if (b->nseg == 0)
                return -EINVAL; /* max sectors below the alignment: no piece fits */
            err = blk_dwz_send(b);
            if (err < 0)
                return err;
            continue;
        }
        b->seg[b->nseg].sector = vr_cpu_to_le64(sector);
        b->seg[b->nseg].num_sectors = vr_cpu_to_le32(piece);
        b->seg[b->nseg].flags = vr_cpu_to_le32(b->flags);
        b->nseg++;
        sector += piece;
        left -= piece;
        b->budget -= piece;
        if (b->nseg == b->max_seg || b->budget == 0) {
            err = blk_dwz_send(b);
            if (err < 0)
                return err;
        }
    }
    return 0;
}

int virtio_blk_dwz_ranges(struct virtio_blk *blk, uint32_t type, const struct virtio_blk_range *r,
                          uint32_t n, bool unmap)
{
    bool is_wz = type == VIRTIO_BLK_T_WRITE_ZEROES;
    struct blk_dwz_build b = {.blk = blk, .type = type};
    uint32_t align, i;
    size_t bytes;
    uint64_t dma;
    int err;

    if (type != VIRTIO_BLK_T_DISCARD && !is_wz)
        return -EINVAL;
    if (!(is_wz ? blk->lim.write_zeroes : blk->lim.discard))
        return -EOPNOTSUPP;
    if (blk->lim.read_only)
        return -EROFS; /* 5.2.5: writes fail on RO; never sent */
    if (!r || n == 0 || n > VIRTIO_BLK_DWZ_MAX_RANGES || (unmap && !is_wz))
        return -EINVAL; /* 5.2.6.1: unmap is for write zeroes only */
    align = is_wz ? 1 : blk->lim.discard_sector_alignment;
    err = blk_check_ranges(blk, r, n, align);
    if (err < 0)
        return err;
    b.max_seg = is_wz ? blk->lim.max_write_zeroes_seg : blk->lim.max_discard_seg;
    b.max_sectors = is_wz ? blk->lim.max_write_zeroes_sectors : blk->lim.max_discard_sectors;
    b.budget = b.max_sectors;
    b.flags = unmap ? VIRTIO_BLK_WRITE_ZEROES_FLAG_UNMAP : 0;
    bytes = b.max_seg * BLK_SEG_BYTES;
    b.seg = virt_dma_alloc(bytes, &dma);
    if (!b.seg)
        return -ENOMEM;
    for (i = 0; i < n && err == 0; i++)
        err = blk_dwz_add(&b, r[i].sector, r[i].nsectors, align);
    if (err == 0)
        err = blk_dwz_send(&b);
    virt_dma_free(b.seg, bytes);
    return err;
}

/* One range of up to 2^64 sectors, in calls of at most 2^30 (cut on the
 * alignment, so every call's range is aligned). */
static int blk_dwz_long(struct virtio_blk *blk, uint32_t type, uint64_t sector, uint64_t nsectors,
                        bool unmap)
{
    uint32_t align = type == VIRTIO_BLK_T_DISCARD && blk->lim.discard_sector_alignment
                         ? blk->lim.discard_sector_alignment
                         : 1;
    uint32_t step = (1u << 30) - (1u << 30) % align;
    int err;

    if (nsectors == 0)
        return -EINVAL;
    do {
        struct virtio_blk_range r = {sector, nsectors < step ? (uint32_t)nsectors : step};

        err = virtio_blk_dwz_ranges(blk, type, &r, 1, unmap);
        sector += r.nsectors;
        nsectors -= r.nsectors;
    } while (err == 0 && nsectors);
    return err;
}

int virtio_blk_discard(struct virtio_blk *blk, uint64_t sector, uint64_t nsectors)
{
    return blk_dwz_long(blk, VIRTIO_BLK_T_DISCARD, sector, nsectors, false);
}

int virtio_blk_write_zeroes(struct virtio_blk *blk, uint64_t sector, uint64_t nsectors, bool unmap)
{
    return blk_dwz_long(blk, VIRTIO_BLK_T_WRITE_ZEROES, sector, nsectors, unmap);
}

/* ---- cache mode ---- */

int virtio_blk_get_writeback(struct virtio_blk *blk, bool *writeback)
{
    uint8_t v = 0;
    int err;

    if (!blk->lim.config_wce) {
        /* 5.2.5: without CONFIG_WCE, FLUSH means a writeback cache;
         * neither means we may deduce writethrough. */
        *writeback = blk->lim.flush;
        return 0;
    }
    err = virtio_cread(blk->dev, BLK_CFG(writeback), &v, 1);
    if (err < 0)
        return err;
    *writeback = v != 0;
    return 0;
}

int virtio_blk_set_writeback(struct virtio_blk *blk, bool writeback)
{
    uint8_t v = writeback ? 1 : 0;
    bool now;
    int err;

    if (!blk->lim.config_wce || (writeback && !blk->lim.flush))
        return -EOPNOTSUPP; /* a writeback cache we could not flush */
    virtio_cwrite(blk->dev, BLK_CFG(writeback), &v, 1);
    err = virtio_blk_get_writeback(blk, &now);
    if (err < 0)
        return err;
    if (now != writeback)
        return -EIO;
    /* 5.2.6.2: writes completed while in writeback are still volatile;
     * one FLUSH makes them stable, so "writethrough" means all of them. */
    if (!writeback && blk->lim.flush)
        return virtio_blk_flush(blk);
    return 0;
}
