/* SPDX-License-Identifier: Apache-2.0 */
/*
 * virtio_pmem.c - virtio-pmem driver (VIRTIO 1.2 5.19; see virtio_pmem.h).
 *
 * 5.19.6: a request is a device-readable virtio_pmem_req (type FLUSH)
 * followed by a device-writable virtio_pmem_resp; ret 0 means success.
 * Both live in one driver-owned DMA block; one request at a time.
 *
 * Invariants: start/size are read once at start-up and checked (size > 0,
 * no wrap); the response is trusted only when the device reports having
 * written all 4 bytes of it.
 */
#include "virtio_pmem.h"

#include <errno.h>
#include <string.h>

#include "virtio_driver.h"
#include "virtio_platform.h"

#define PMEM_REQUESTQ 0

struct pmem_dma {
    struct virtio_pmem_req req;   /* written by driver */
    struct virtio_pmem_resp resp; /* written by device */
};

struct virtio_pmem {
    struct virtio_device *dev;
    struct virt_lock lock;
    void *dma; /* struct pmem_dma */
    uint64_t start;
    uint64_t size;
    void *addr;
    void *(*map)(uint64_t start, uint64_t size, void *ctx);
    void *map_ctx;
    struct virtio_pmem_stats stats;
};

/* ---- life cycle (virtio_driver.h) ---- */

/* 5.19.4: the region; an empty or wrapping one is no device to drive. */
static int pmem_read_config(struct virtio_device *dev)
{
    struct virtio_pmem *pmem = dev->driver_priv;
    struct virtio_pmem_config cfg;
    int err = virtio_cread(dev, 0, &cfg, sizeof(cfg));

    if (err < 0)
        return err;
    pmem->start = vr_le64_to_cpu(cfg.start);
    pmem->size = vr_le64_to_cpu(cfg.size);
    if (pmem->size == 0 || pmem->start + pmem->size < pmem->start) {
        virt_log(VIRT_LOG_ERR, "%s: bad region 0x%llx+0x%llx", dev->name,
                 (unsigned long long)pmem->start, (unsigned long long)pmem->size);
        return -ENODEV;
    }
    if (pmem->start % VIRTIO_PMEM_ALIGN)
        virt_log(VIRT_LOG_WARN, "%s: region not 2 MiB aligned", dev->name);
    return 0;
}

static const struct virtio_driver pmem_driver = {
    VIRTIO_DRIVER_STATE(struct virtio_pmem),
    .device_id = VIRTIO_ID_PMEM,
    .nvqs = 1,
    .dma_offset = offsetof(struct virtio_pmem, dma),
    .dma_size = sizeof(struct pmem_dma),
    .lock_offsets = {offsetof(struct virtio_pmem, lock)},
    .nlocks = 1,
    .config = pmem_read_config,
};

/* Under the lock. */
static int pmem_reinit_locked(struct virtio_pmem *pmem)
{
    uint64_t start = pmem->start, size = pmem->size;
    int err = virtio_driver_reinit(pmem->dev, 1);

    if (err == 0 && (pmem->start != start || pmem->size != size)) {
        /* The mapping would be stale: remap (or drop it). */
        pmem->addr = pmem->map ? pmem->map(pmem->start, pmem->size, pmem->map_ctx) : NULL;
    }
    return err;
}

int virtio_pmem_reinit(struct virtio_pmem *pmem)
{
    int err;

    virt_lock_acquire(&pmem->lock);
    err = pmem_reinit_locked(pmem);
    virt_lock_release(&pmem->lock);
    return err;
}

int virtio_pmem_probe(struct virtio_device *dev,
                      void *(*map)(uint64_t start, uint64_t size, void *ctx), void *map_ctx,
                      struct virtio_pmem **out)
{
    struct virtio_pmem *pmem;
    int err = virtio_driver_probe(dev, &pmem_driver);

    if (err < 0)
        return err;
    pmem = dev->driver_priv;
    pmem->map = map;
    pmem->map_ctx = map_ctx;
    pmem->addr = map ? map(pmem->start, pmem->size, map_ctx) : NULL;
    *out = pmem;
    return 0;
}

void virtio_pmem_remove(struct virtio_pmem *pmem)
{
    if (pmem)
        virtio_driver_remove(pmem->dev);
}

/* ---- I/O ---- */

int virtio_pmem_flush(struct virtio_pmem *pmem)
{
    struct pmem_dma *d = pmem->dma;
    struct vq_sg sgs[2];
    int r;

    virt_lock_acquire(&pmem->lock);
    d->req.type = vr_cpu_to_le32(VIRTIO_PMEM_REQ_TYPE_FLUSH);
    d->resp.ret = vr_cpu_to_le32(0xffffffffu); /* caught if never written */
    sgs[0].buf = &d->req;
    sgs[0].len = sizeof(d->req);
    sgs[1].buf = &d->resp;
    sgs[1].len = sizeof(d->resp);
    /* Writes to the region must reach memory before the device flushes it:
     * store->store across to the device CPU; vq_add_sgs' release on
     * avail->idx orders them, this fence says so explicitly. */
    virt_wmb();
    r = virtio_vq_exec(pmem->dev, PMEM_REQUESTQ, sgs, 1, 1, VIRTIO_PMEM_TIMEOUT_NS);
    if (r >= 0) {
        pmem->stats.flushes++;
        if ((uint32_t)r < sizeof(d->resp) ||
            vr_le32_to_cpu(__atomic_load_n(&d->resp.ret, __ATOMIC_RELAXED)) != 0)
            r = -EIO;
        else
            r = 0;
    } else if (r == -ETIMEDOUT || virtio_is_failed(pmem->dev)) {
        virt_log(VIRT_LOG_ERR, "%s: flush failed (%d), resetting", pmem->dev->name, r);
        (void)pmem_reinit_locked(pmem);
    }
    if (r < 0)
        pmem->stats.errors++;
    virt_lock_release(&pmem->lock);
    return r;
}

uint64_t virtio_pmem_start(const struct virtio_pmem *pmem)
{
    return pmem->start;
}

uint64_t virtio_pmem_size(const struct virtio_pmem *pmem)
{
    return pmem->size;
}

void *virtio_pmem_addr(const struct virtio_pmem *pmem)
{
    return pmem->addr;
}

struct virtio_device *virtio_pmem_device(struct virtio_pmem *pmem)
{
    return pmem->dev;
}

const struct virtio_pmem_stats *virtio_pmem_get_stats(const struct virtio_pmem *pmem)
{
    return &pmem->stats;
}
