/* SPDX-License-Identifier: Apache-2.0 */
/*
 * dev_pmem.c - virtio-pmem device model (VIRTIO 1.2 5.19) with the
 * semantics of Firecracker's pmem device: config {start, size} describes a
 * guest-physical region (2 MiB aligned, size a multiple of 2 MiB; create
 * refuses anything else) that the driver maps directly; the one request
 * queue carries FLUSH requests only.
 *
 * A request is two descriptors (5.19.6): the device-readable
 * struct virtio_pmem_req {le32 type} and then the device-writable
 * struct virtio_pmem_resp {le32 ret}; ret 0 is success, 1 failure. We look
 * at segments as the descriptors they came from (vdq keeps them in order:
 * readable ones first), except that the request may be split over several
 * readable descriptors (2.7.4.1: "The device MUST NOT make assumptions
 * about the particular arrangement of descriptors"; hdt
 * edge.pmem_split_req), and check, in this order (each a counted
 * vdev_pmem_err, logged once per kind):
 *   1. the first descriptor is device-writable       -> WRITABLE_HEAD
 *   2. there is no second descriptor                 -> SHORT_CHAIN
 *   3. no descriptor is device-writable              -> READONLY_STATUS
 *   4. the readable part is not 4 bytes              -> REQ_LEN
 *   5. the first writable descriptor is not 4 bytes  -> RESP_LEN
 *   6. the type is not VIRTIO_PMEM_REQ_TYPE_FLUSH    -> UNKNOWN_TYPE
 *   7. the flush hook fails                          -> FLUSH_FAILED
 * "Status written where the chain allows": on any error, ret = 1 goes into
 * the response descriptor when it is device-writable and at least 4 bytes
 * (for a writable head, the second descriptor is the response if it is
 * writable); otherwise nothing is written. Used length = bytes written
 * (4 or 0). Further descriptors after the response are ignored.
 */
#include <errno.h>
#include <string.h>

#include "snap_le.h"
#include "vdev_models.h"
#include "virtio_platform.h"

struct dev_pmem {
    struct virtio_pmem_config cfg;
    int (*flush)(void *ctx);
    void *flush_ctx;
    uint32_t logged; /* vdev_pmem_err bits already logged */
    uint32_t pad;
    struct vdev_pmem_stats stats;
};

static const char *const pmem_err_names[VDEV_PMEM_ERR_COUNT] = {
    "writable head",   "short chain",          "read-only status", "request length",
    "response length", "unknown request type", "flush failed",
};

static struct dev_pmem *pmem_of(const struct vdev *d)
{
    return d->priv;
}

static void pmem_read_config(struct vdev *d, uint32_t off, void *buf, uint32_t len)
{
    memcpy(buf, (const uint8_t *)&pmem_of(d)->cfg + off, len);
}

static void pmem_count(struct dev_pmem *p, enum vdev_pmem_err e, uint32_t detail)
{
    p->stats.err[e]++;
    p->stats.errors++;
    if (p->logged & (1u << e))
        return;
    p->logged |= 1u << e;
    virt_log(VIRT_LOG_WARN, "pmem: bad request: %s (%u); further ones only counted",
             pmem_err_names[e], detail);
}

/* Write ret into segment i if it can hold it; returns bytes written. */
static uint32_t pmem_respond(const struct vdq_chain *c, uint32_t i, uint32_t ret)
{
    __le32 v = vr_cpu_to_le32(ret);

    if (i >= c->nout + c->nin || i < c->nout || c->iov[i].len < sizeof(v))
        return 0;
    memcpy(c->iov[i].base, &v, sizeof(v));
    return sizeof(v);
}

static bool pmem_chain(struct vdev *d, unsigned qi, const struct vdq_chain *c, uint32_t *written)
{
    struct dev_pmem *p = pmem_of(d);
    uint32_t nseg = c->nout + c->nin;
    struct virtio_pmem_req req;
    enum vdev_pmem_err e;
    int err;

    (void)qi;
    *written = 0;
    if (c->nout == 0) {
        e = VDEV_PMEM_ERR_WRITABLE_HEAD;
        goto err_resp; /* segment 1, if any, is writable: the response */
    }
    if (nseg < 2) {
        pmem_count(p, VDEV_PMEM_ERR_SHORT_CHAIN, nseg);
        return true;
    }
    if (c->nin == 0) {
        pmem_count(p, VDEV_PMEM_ERR_READONLY_STATUS, c->nout);
        return true;
    }
    /* Here: segments 0..nout-1 readable (the request), segment nout
     * writable (the response). */
    if (c->out_len != sizeof(req)) {
        e = VDEV_PMEM_ERR_REQ_LEN;
        goto err_resp;
    }
    if (c->iov[c->nout].len != sizeof(struct virtio_pmem_resp)) {
        e = VDEV_PMEM_ERR_RESP_LEN;
        goto err_resp;
    }
    vdq_chain_read(c, 0, &req, sizeof(req)); /* private copy: read once */
    if (vr_le32_to_cpu(req.type) != VIRTIO_PMEM_REQ_TYPE_FLUSH) {
        e = VDEV_PMEM_ERR_UNKNOWN_TYPE;
        goto err_resp;
    }
    err = p->flush ? p->flush(p->flush_ctx) : 0;
    if (err) {
        e = VDEV_PMEM_ERR_FLUSH_FAILED;
        goto err_resp;
    }
    /* Whatever the driver stored into the region before this request is
     * durable before the response says so. */
    virt_mb();
    p->stats.flushes++;
    *written = pmem_respond(c, c->nout, 0);
    return false;

err_resp:
    pmem_count(p, e, c->iov[0].len);
    /* A writable head: the second descriptor is the response, if writable. */
    *written = pmem_respond(c, c->nout ? c->nout : 1, 1);
    return true;
}

static int pmem_process(struct vdev *d, unsigned qi)
{
    return vdev_queue_drain(d, qi, pmem_chain);
}

static void pmem_destroy(struct vdev *d)
{
    virt_free(d->priv);
}

/* Snapshot blob (16 bytes): region start u64, size u64; they must match
 * the device's (the region is the guest's memory). The region's bytes are
 * the optional bulk content when guest memory reaches them. */
#define PMEM_STATE_BYTES 16

static uint32_t pmem_state_size(const struct vdev *d)
{
    (void)d;
    return PMEM_STATE_BYTES;
}

static void pmem_state_save(const struct vdev *d, uint8_t *out)
{
    const struct dev_pmem *p = pmem_of(d);

    snap_put64(out, vr_le64_to_cpu(p->cfg.start));
    snap_put64(out + 8, vr_le64_to_cpu(p->cfg.size));
}

static const char *pmem_state_check(const struct vdev *d, const uint8_t *b, uint32_t len)
{
    const struct dev_pmem *p = pmem_of(d);

    if (len != PMEM_STATE_BYTES)
        return "pmem state is not 16 bytes";
    if (snap_get64(b) != vr_le64_to_cpu(p->cfg.start) ||
        snap_get64(b + 8) != vr_le64_to_cpu(p->cfg.size))
        return "pmem region differs from this device's";
    return NULL;
}

static void pmem_state_load(struct vdev *d, const uint8_t *b, uint32_t len)
{
    (void)d; /* nothing but the checked identity */
    (void)b;
    (void)len;
}

static void *pmem_content(const struct vdev *d, uint64_t *len)
{
    const struct dev_pmem *p = pmem_of(d);
    uint64_t size = vr_le64_to_cpu(p->cfg.size);

    *len = size;
    return vdq_mem_translate(&d->mem, vr_le64_to_cpu(p->cfg.start), size);
}

static const struct vdev_ops pmem_ops = {
    .type = "pmem",
    .device_id = VIRTIO_ID_PMEM,
    .num_queues = 1,
    .queue_max_size = VDEV_PMEM_QUEUE_MAX,
    .config_size = sizeof(struct virtio_pmem_config),
    .read_config = pmem_read_config,
    .process_queue = pmem_process,
    .destroy = pmem_destroy,
    .state_size = pmem_state_size,
    .state_save = pmem_state_save,
    .state_check = pmem_state_check,
    .state_load = pmem_state_load,
    .content = pmem_content,
};

int vdev_pmem_create(struct vdev *d, const struct vdq_mem *mem, uint64_t start, uint64_t size,
                     int (*flush)(void *ctx), void *flush_ctx)
{
    uint64_t features = (1ull << VIRTIO_F_VERSION_1) | (1ull << VIRTIO_F_EVENT_IDX) |
                        (1ull << VIRTIO_F_INDIRECT_DESC);
    struct dev_pmem *p;

    if (!d || !mem || size == 0 || start % VIRTIO_PMEM_ALIGN || size % VIRTIO_PMEM_ALIGN ||
        size > UINT64_MAX - start)
        return -EINVAL;
    p = virt_zalloc(sizeof(*p));
    if (!p)
        return -ENOMEM;
    p->cfg.start = vr_cpu_to_le64(start);
    p->cfg.size = vr_cpu_to_le64(size);
    p->flush = flush;
    p->flush_ctx = flush_ctx;
    vdev_init(d, &pmem_ops, p, features, mem);
    return 0;
}

void vdev_pmem_get_stats(const struct vdev *d, struct vdev_pmem_stats *st)
{
    *st = pmem_of(d)->stats;
}
