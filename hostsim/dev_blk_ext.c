/* SPDX-License-Identifier: Apache-2.0 */
/*
 * dev_blk_ext.c - the blk model's optional features (VIRTIO 1.2 5.2):
 * DISCARD and WRITE_ZEROES with their config limits, TOPOLOGY, RO, and the
 * write cache mode (CONFIG_WCE, FLUSH). The rest of the model: dev_blk.c.
 *
 * Offered by every blk model: DISCARD, WRITE_ZEROES, TOPOLOGY, CONFIG_WCE
 * (FLUSH is offered too: 5.2.5 "MUST offer it if they offer CONFIG_WCE");
 * RO with vdev_blk_set_read_only().
 *
 * DISCARD / WRITE_ZEROES (5.2.6): the data is 1..max_*_seg struct
 * virtio_blk_discard_write_zeroes, device-readable. Checked, all before
 * anything is changed (so a refused request changes nothing, although
 * 5.2.6 would let segments be indeterminate):
 *  - type not negotiated: VIRTIO_BLK_S_UNSUPP (as an unknown type);
 *  - a reserved flag set, or unmap on a DISCARD: VIRTIO_BLK_S_UNSUPP
 *    (5.2.6.2 "MUST set the status byte to VIRTIO_BLK_S_UNSUPP");
 *  - read-only device: VIRTIO_BLK_S_IOERR (5.2.6.2, a write);
 *  - data not a non-zero multiple of 16 bytes, more than max_*_seg
 *    segments, more than max_*_sectors sectors in all, an empty segment,
 *    one past capacity, a DISCARD segment off discard_sector_alignment
 *    (start; length too unless it ends at capacity), two segments that
 *    overlap: VIRTIO_BLK_S_IOERR ("device or driver error").
 * Then each segment in order: the RAM disk is zeroed (discard on a RAM disk
 * cannot deallocate; zeroes are the deterministic choice), a backend gets
 * discard / write_zeroes (or zero writes).
 *
 * Cache mode (5.2.6.2 "stable" writes): writeback when CONFIG_WCE was
 * acked and writeback is 1 (and FLUSH acked: with CONFIG_WCE but not FLUSH
 * the field reads 0 and cannot be set to 1, 5.2.5), or when CONFIG_WCE was
 * not acked but FLUSH was; writethrough otherwise (case 1: FLUSH offered,
 * neither negotiated). In writethrough mode each write (OUT, DISCARD,
 * WRITE_ZEROES) is made stable before it completes: the backend's flush is
 * called (a failure is IOERR), counted in stable_writes. A RAM disk has no
 * persistent store: its writes are as stable as they get when copied.
 * writeback is the only writable config byte; it returns to the default
 * (vdev_blk_set_writeback, 1 unless set) on reset.
 */
#include <errno.h>
#include <string.h>

#include "dev_blk_internal.h"
#include "virtio_platform.h"

#define BLK_CFG_WRITEBACK 32 /* offsetof(struct virtio_blk_config, writeback) */
_Static_assert(__builtin_offsetof(struct virtio_blk_config, writeback) == BLK_CFG_WRITEBACK,
               "5.2.4 writeback");

/* Defaults: QEMU's discard / write-zeroes sector limit (BDRV_REQUEST_MAX_SECTORS
 * rounded down), 32 segments, any alignment (blk_size is 512). */
static const struct vdev_blk_limits blk_default_limits = {
    .max_discard_sectors = 0x3fffff,
    .max_discard_seg = 32,
    .discard_sector_alignment = 1,
    .max_write_zeroes_sectors = 0x3fffff,
    .max_write_zeroes_seg = 32,
    .write_zeroes_may_unmap = false,
    .physical_block_exp = 0,
    .alignment_offset = 0,
    .min_io_size = 1,
    .opt_io_size = 128,
};

static struct dev_blk *blk_of(const struct vdev *d)
{
    return d->priv;
}

static void blk_limits_to_cfg(struct dev_blk *b, const struct vdev_blk_limits *l)
{
    b->cfg.max_discard_sectors = vr_cpu_to_le32(l->max_discard_sectors);
    b->cfg.max_discard_seg = vr_cpu_to_le32(l->max_discard_seg);
    b->cfg.discard_sector_alignment = vr_cpu_to_le32(l->discard_sector_alignment);
    b->cfg.max_write_zeroes_sectors = vr_cpu_to_le32(l->max_write_zeroes_sectors);
    b->cfg.max_write_zeroes_seg = vr_cpu_to_le32(l->max_write_zeroes_seg);
    b->cfg.write_zeroes_may_unmap = l->write_zeroes_may_unmap ? 1 : 0;
    b->cfg.physical_block_exp = l->physical_block_exp;
    b->cfg.alignment_offset = l->alignment_offset;
    b->cfg.min_io_size = vr_cpu_to_le16(l->min_io_size);
    b->cfg.opt_io_size = vr_cpu_to_le32(l->opt_io_size);
}

void blk_ext_init(struct dev_blk *b, uint64_t *features)
{
    struct vdev_blk_limits l = blk_default_limits;

    /* A backend that can deallocate says so (5.2.6.2: clear
     * write_zeroes_may_unmap iff a write zeroes cannot deallocate). */
    l.write_zeroes_may_unmap = !b->disk && b->be.discard;
    blk_limits_to_cfg(b, &l);
    b->writeback_default = 1;
    b->cfg.writeback = 1;
    *features |= (1ull << VIRTIO_BLK_F_DISCARD) | (1ull << VIRTIO_BLK_F_WRITE_ZEROES) |
                 (1ull << VIRTIO_BLK_F_TOPOLOGY) | (1ull << VIRTIO_BLK_F_CONFIG_WCE) |
                 (1ull << VIRTIO_BLK_F_FLUSH);
}

/* ---- cache mode ---- */

bool blk_is_writeback(const struct vdev *d, const struct dev_blk *b)
{
    if (vdev_has_feature(d, VIRTIO_BLK_F_CONFIG_WCE))
        return b->cfg.writeback && vdev_has_feature(d, VIRTIO_BLK_F_FLUSH);
    return vdev_has_feature(d, VIRTIO_BLK_F_FLUSH);
}

uint8_t blk_write_done(struct vdev *d, struct dev_blk *b)
{
    if (blk_is_writeback(d, b))
        return VIRTIO_BLK_S_OK; /* volatile until a FLUSH */
    if (!b->disk && b->be.flush && b->be.flush(b->be.ctx)) {
        b->stats.ioerr++;
        return VIRTIO_BLK_S_IOERR;
    }
    /* RAM disk: nothing beyond the copy (vdq_push orders it before the
     * used index the driver reads). */
    b->stats.stable_writes++;
    return VIRTIO_BLK_S_OK;
}

/* 5.2.4 / 5.2.5: writeback is the one field the driver may write, and only
 * with CONFIG_WCE (after FEATURES_OK); 0 or 1. Anything else is ignored. */
void blk_write_config(struct vdev *d, uint32_t off, const void *buf, uint32_t len)
{
    struct dev_blk *b = blk_of(d);
    uint8_t v;

    if (off != BLK_CFG_WRITEBACK || len < 1 || !vdev_has_feature(d, VIRTIO_BLK_F_CONFIG_WCE))
        return;
    v = *(const uint8_t *)buf; /* little-endian: the low byte is at off */
    if (v > 1 || (v == 1 && !vdev_has_feature(d, VIRTIO_BLK_F_FLUSH)))
        return;
    if (v == 1 && b->cfg.writeback == 0) {
        b->cfg.writeback = 1;
    } else if (v == 0 && b->cfg.writeback == 1) {
        /* Into writethrough: what was volatile becomes stable now, so the
         * driver need not flush first. */
        if (!b->disk && b->be.flush)
            (void)b->be.flush(b->be.ctx);
        b->cfg.writeback = 0;
    }
}

void blk_ext_reset(struct vdev *d)
{
    struct dev_blk *b = blk_of(d);

    blk_quiesce(d); /* no-op when asleep first, as the transports do */
    b->cfg.writeback = b->writeback_default;
}

/* ---- DISCARD / WRITE_ZEROES ---- */

struct blk_range {
    uint64_t sector;
    uint32_t num;
    bool unmap;
};

/* Zero [pos, pos + len) of a backend without write_zeroes: plain writes. */
static int blk_backend_zero(struct dev_blk *b, uint64_t pos, uint64_t len)
{
    static const uint8_t zeroes[4096];

    while (len) {
        uint32_t n = len < sizeof(zeroes) ? (uint32_t)len : (uint32_t)sizeof(zeroes);
        int err = b->be.write(b->be.ctx, pos, zeroes, n);

        if (err)
            return err;
        pos += n;
        len -= n;
    }
    return 0;
}

static int blk_range_apply(struct dev_blk *b, bool is_wz, const struct blk_range *r)
{
    uint64_t pos = r->sector * VIRTIO_BLK_SECTOR_SIZE;
    uint64_t len = (uint64_t)r->num * VIRTIO_BLK_SECTOR_SIZE;

    if (b->disk) {
        memset(b->disk + pos, 0, len);
        return 0;
    }
    if (!is_wz)
        return b->be.discard ? b->be.discard(b->be.ctx, pos, len) : 0;
    if (b->be.write_zeroes)
        return b->be.write_zeroes(b->be.ctx, pos, len, r->unmap);
    return blk_backend_zero(b, pos, len);
}

/*
 * Read and check the segments of chain c into r[]; *n gets their count.
 * Returns VIRTIO_BLK_S_OK or the status to answer with (nothing changed).
 */
static uint8_t blk_dwz_parse(const struct dev_blk *b, const struct vdq_chain *c, bool is_wz,
                             struct blk_range *r, uint32_t *n)
{
    struct virtio_blk_discard_write_zeroes seg;
    uint32_t data = c->out_len - (uint32_t)sizeof(struct virtio_blk_req_hdr), i, j;
    uint32_t max_seg = vr_le32_to_cpu(is_wz ? b->cfg.max_write_zeroes_seg : b->cfg.max_discard_seg);
    uint32_t max_sectors =
        vr_le32_to_cpu(is_wz ? b->cfg.max_write_zeroes_sectors : b->cfg.max_discard_sectors);
    uint32_t align = vr_le32_to_cpu(b->cfg.discard_sector_alignment);
    uint64_t capacity = b->bytes / VIRTIO_BLK_SECTOR_SIZE, total = 0;
    bool is_bad = false;

    if (data == 0 || data % sizeof(seg) || data / sizeof(seg) > max_seg ||
        data / sizeof(seg) > VDEV_BLK_DWZ_SEG_MAX)
        return VIRTIO_BLK_S_IOERR;
    *n = data / (uint32_t)sizeof(seg);
    for (i = 0; i < *n; i++) {
        uint32_t flags;

        /* A private copy, read once: the driver may change shared memory. */
        vdq_chain_read(c, sizeof(struct virtio_blk_req_hdr) + i * sizeof(seg), &seg, sizeof(seg));
        flags = vr_le32_to_cpu(seg.flags);
        /* 5.2.6.2: unknown flags, or unmap on a discard, are UNSUPP; that
         * wins over any range problem of another segment. */
        if (flags & ~VIRTIO_BLK_WRITE_ZEROES_FLAG_UNMAP)
            return VIRTIO_BLK_S_UNSUPP;
        if (!is_wz && (flags & VIRTIO_BLK_WRITE_ZEROES_FLAG_UNMAP))
            return VIRTIO_BLK_S_UNSUPP;
        r[i].sector = vr_le64_to_cpu(seg.sector);
        r[i].num = vr_le32_to_cpu(seg.num_sectors);
        r[i].unmap = flags & VIRTIO_BLK_WRITE_ZEROES_FLAG_UNMAP;
        total += r[i].num;
        if (r[i].num == 0 || r[i].sector > capacity || r[i].num > capacity - r[i].sector)
            is_bad = true;
        else if (!is_wz && align > 1 &&
                 (r[i].sector % align || (r[i].num % align && r[i].sector + r[i].num != capacity)))
            is_bad = true;
    }
    if (is_bad || total > max_sectors)
        return VIRTIO_BLK_S_IOERR;
    /* Overlaps: at most VDEV_BLK_DWZ_SEG_MAX^2 / 2 comparisons. */
    for (i = 0; i < *n; i++)
        for (j = 0; j < i; j++)
            if (r[i].sector < r[j].sector + r[j].num && r[j].sector < r[i].sector + r[i].num)
                return VIRTIO_BLK_S_IOERR;
    return VIRTIO_BLK_S_OK;
}

uint8_t blk_dwz_request(struct vdev *d, struct dev_blk *b, const struct vdq_chain *c, uint32_t type)
{
    struct blk_range r[VDEV_BLK_DWZ_SEG_MAX];
    bool is_wz = type == VIRTIO_BLK_T_WRITE_ZEROES;
    uint64_t sectors = 0;
    uint32_t n = 0, i;
    uint8_t st;

    if (!vdev_has_feature(d, is_wz ? VIRTIO_BLK_F_WRITE_ZEROES : VIRTIO_BLK_F_DISCARD)) {
        b->stats.unsupp++;
        return VIRTIO_BLK_S_UNSUPP;
    }
    st = blk_dwz_parse(b, c, is_wz, r, &n);
    if (st == VIRTIO_BLK_S_OK && b->read_only) {
        b->stats.ro_refused++;
        st = VIRTIO_BLK_S_IOERR;
    }
    if (st != VIRTIO_BLK_S_OK) {
        if (st == VIRTIO_BLK_S_UNSUPP)
            b->stats.unsupp++;
        else
            b->stats.ioerr++;
        return st;
    }
    for (i = 0; i < n; i++) {
        if (blk_range_apply(b, is_wz, &r[i])) {
            b->stats.ioerr++;
            return VIRTIO_BLK_S_IOERR; /* 5.2.6: segments indeterminate */
        }
        sectors += r[i].num;
    }
    if (is_wz) {
        b->stats.write_zeroes++;
        b->stats.zeroed_sectors += sectors;
    } else {
        b->stats.discards++;
        b->stats.discard_sectors += sectors;
    }
    return blk_write_done(d, b);
}

/* ---- configuration by the owner ---- */

int vdev_blk_set_limits(struct vdev *d, const struct vdev_blk_limits *l)
{
    if (!d || !l || d->activated || !l->max_discard_sectors || !l->max_discard_seg ||
        !l->discard_sector_alignment || !l->max_write_zeroes_sectors || !l->max_write_zeroes_seg ||
        l->max_discard_seg > VDEV_BLK_DWZ_SEG_MAX || l->max_write_zeroes_seg > VDEV_BLK_DWZ_SEG_MAX)
        return -EINVAL;
    blk_limits_to_cfg(blk_of(d), l);
    return 0;
}

void vdev_blk_get_limits(const struct vdev *d, struct vdev_blk_limits *l)
{
    const struct virtio_blk_config *cfg = &blk_of(d)->cfg;

    l->max_discard_sectors = vr_le32_to_cpu(cfg->max_discard_sectors);
    l->max_discard_seg = vr_le32_to_cpu(cfg->max_discard_seg);
    l->discard_sector_alignment = vr_le32_to_cpu(cfg->discard_sector_alignment);
    l->max_write_zeroes_sectors = vr_le32_to_cpu(cfg->max_write_zeroes_sectors);
    l->max_write_zeroes_seg = vr_le32_to_cpu(cfg->max_write_zeroes_seg);
    l->write_zeroes_may_unmap = cfg->write_zeroes_may_unmap;
    l->physical_block_exp = cfg->physical_block_exp;
    l->alignment_offset = cfg->alignment_offset;
    l->min_io_size = vr_le16_to_cpu(cfg->min_io_size);
    l->opt_io_size = vr_le32_to_cpu(cfg->opt_io_size);
}

int vdev_blk_set_read_only(struct vdev *d, bool ro)
{
    if (!d || d->activated)
        return -EINVAL;
    blk_of(d)->read_only = ro;
    if (ro)
        d->avail_features |= 1ull << VIRTIO_BLK_F_RO;
    else
        d->avail_features &= ~(1ull << VIRTIO_BLK_F_RO);
    return 0;
}

int vdev_blk_set_writeback(struct vdev *d, bool writeback)
{
    struct dev_blk *b;

    if (!d || d->activated)
        return -EINVAL;
    b = blk_of(d);
    b->writeback_default = writeback ? 1 : 0;
    b->cfg.writeback = b->writeback_default;
    return 0;
}

bool vdev_blk_is_writeback(const struct vdev *d)
{
    return blk_is_writeback(d, blk_of(d));
}
