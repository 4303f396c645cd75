/* SPDX-License-Identifier: Apache-2.0 */
/*
 * vhost_user.c - the vhost-user request handler (see vhost_user.h for the
 * invariants and the error policy). Message semantics follow QEMU's
 * docs/interop/vhost-user.rst; section names below are from that file.
 *
 * Ring life ("Starting and stopping rings"): a ring is started by
 * SET_VRING_KICK and stopped by GET_VRING_BASE, which returns the next
 * avail index. It is enabled from the start unless
 * VHOST_USER_F_PROTOCOL_FEATURES was negotiated (then SET_VRING_ENABLE
 * decides). When every ring of the model is started and enabled the device
 * is (re)activated through the register file and woken; when any of them
 * is not, it sleeps.
 *
 * Activation: if the device is already activated with the same ring
 * geometry and features (a restart after GET_VRING_BASE, or a restored
 * snapshot), only the indices are set (next_avail = the frontend's base,
 * next_used = used->idx in guest memory; vdq_init_state checks both);
 * otherwise it is reset and programmed from scratch (Status 0, features,
 * queue registers, DRIVER_OK), then the indices are set the same way.
 */
#include "vhost_user.h"

#include <errno.h>
#include <string.h>

#include "snap_le.h"
#include "snapshot.h"
#include "virtio_mmio.h"
#include "virtio_platform.h"

#define VU_PROTOCOL_FEATURES                                                                       \
    ((1ull << VU_PF_MQ) | (1ull << VU_PF_REPLY_ACK) | (1ull << VU_PF_CONFIG) |                     \
     (1ull << VU_PF_RESET_DEVICE) | (1ull << VU_PF_DEVICE_STATE))

struct vu_region {
    uint64_t gpa, size, uaddr, mmap_offset;
    void *hva;
};

struct vu_ring {
    uint32_t num;     /* 0 until SET_VRING_NUM */
    uint16_t base;    /* next avail index to use at start */
    bool has_addr;    /* SET_VRING_ADDR seen */
    bool started;     /* kick received, not stopped since */
    bool enabled;     /* SET_VRING_ENABLE */
    bool kick_polled; /* SET_VRING_KICK with no fd */
    uint8_t pad[2];
    uint64_t desc_ua, used_ua, avail_ua; /* frontend (user) addresses */
    int kick_fd, call_fd, err_fd;        /* -1: none */
};

struct vu_backend {
    const struct vu_ops *ops;
    void *ctx;
    struct vdev *dev;
    struct vmmio *m;
    bool has_owner;
    bool has_features; /* SET_FEATURES seen */
    uint8_t pad[6];
    uint64_t features; /* acked by SET_FEATURES, bit 30 included */
    uint64_t protocol_features;
    unsigned nrings;
    /* Guest memory: vdq regions (gpa -> hva) and the frontend's view. */
    struct vdq_mem_region vregions[VU_MAX_REGIONS];
    struct vu_region regions[VU_MAX_REGIONS];
    struct vdq_mem mem;
    struct vu_ring rings[VU_MAX_RINGS];
    /* Device state transfer in progress (SET_DEVICE_STATE_FD). */
    int state_fd;  /* LOAD: the fd to read at CHECK_DEVICE_STATE */
    int state_dir; /* -1 none, VU_STATE_SAVE, VU_STATE_LOAD */
    int state_result;
    struct vu_stats stats;
};

/* ---- small helpers ---- */

static const char *const vu_names[VU_REQUEST_MAX] = {
    [VU_GET_FEATURES] = "GET_FEATURES",
    [VU_SET_FEATURES] = "SET_FEATURES",
    [VU_SET_OWNER] = "SET_OWNER",
    [VU_RESET_OWNER] = "RESET_OWNER",
    [VU_SET_MEM_TABLE] = "SET_MEM_TABLE",
    [VU_SET_LOG_BASE] = "SET_LOG_BASE",
    [VU_SET_LOG_FD] = "SET_LOG_FD",
    [VU_SET_VRING_NUM] = "SET_VRING_NUM",
    [VU_SET_VRING_ADDR] = "SET_VRING_ADDR",
    [VU_SET_VRING_BASE] = "SET_VRING_BASE",
    [VU_GET_VRING_BASE] = "GET_VRING_BASE",
    [VU_SET_VRING_KICK] = "SET_VRING_KICK",
    [VU_SET_VRING_CALL] = "SET_VRING_CALL",
    [VU_SET_VRING_ERR] = "SET_VRING_ERR",
    [VU_GET_PROTOCOL_FEATURES] = "GET_PROTOCOL_FEATURES",
    [VU_SET_PROTOCOL_FEATURES] = "SET_PROTOCOL_FEATURES",
    [VU_GET_QUEUE_NUM] = "GET_QUEUE_NUM",
    [VU_SET_VRING_ENABLE] = "SET_VRING_ENABLE",
    [VU_GET_CONFIG] = "GET_CONFIG",
    [VU_SET_CONFIG] = "SET_CONFIG",
    [VU_RESET_DEVICE] = "RESET_DEVICE",
    [VU_SET_DEVICE_STATE_FD] = "SET_DEVICE_STATE_FD",
    [VU_CHECK_DEVICE_STATE] = "CHECK_DEVICE_STATE",
};

const char *vu_request_name(uint32_t request)
{
    if (request < VU_REQUEST_MAX && vu_names[request])
        return vu_names[request];
    return "unknown";
}

static bool vu_has_pf(const struct vu_backend *b, unsigned bit)
{
    return (b->protocol_features >> bit) & 1;
}

/* "Ring states": with VHOST_USER_F_PROTOCOL_FEATURES negotiated rings start
 * disabled; without it they are enabled from the start. */
static bool vu_is_ring_enabled(const struct vu_backend *b, const struct vu_ring *r)
{
    bool pf = b->has_features && ((b->features >> VU_F_PROTOCOL_FEATURES) & 1);

    return pf ? r->enabled : true;
}

static void vu_close(struct vu_backend *b, int *fd)
{
    if (*fd >= 0 && b->ops->close_fd)
        b->ops->close_fd(b->ctx, *fd);
    *fd = -1;
}

static bool vu_is_pow2(uint32_t v)
{
    return v && !(v & (v - 1));
}

/* Frontend (user) address -> guest-physical, [ua, ua+len) inside one region. */
static int vu_ua_to_gpa(const struct vu_backend *b, uint64_t ua, uint64_t len, uint64_t *gpa)
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

/* ---- the device ---- */

static void vu_irq_hook(struct vmmio *m, uint32_t int_status, void *ctx)
{
    struct vu_backend *b = ctx;
    unsigned i;

    (void)m;
    if (!(int_status & VIRTIO_INT_USED_BUFFER))
        return; /* config change: no backend channel (BACKEND_REQ) offered */
    /* vmmio does not say which queue: signal every started ring (a spurious
     * call costs the driver a look, a missing one stalls it). */
    for (i = 0; i < b->nrings; i++) {
        if (b->rings[i].started && b->rings[i].call_fd >= 0 && b->ops->signal) {
            b->ops->signal(b->ctx, b->rings[i].call_fd);
            b->stats.calls++;
        }
    }
}

static int vu_process(struct vu_backend *b)
{
    int total = 0;

    while (vmmio_has_pending(b->m)) {
        int n = vmmio_process(b->m);

        if (n > 0)
            total += n;
    }
    /* The calls went out; nothing reads InterruptStatus on this transport. */
    vmmio_write(b->m, VIRTIO_MMIO_INTERRUPT_ACK, VIRTIO_INT_USED_BUFFER, 4);
    return total;
}

static void vu_write64(struct vmmio *m, uint32_t lo_off, uint64_t v)
{
    vmmio_write(m, lo_off, (uint32_t)v, 4);
    vmmio_write(m, lo_off + 4, (uint32_t)(v >> 32), 4);
}

struct vu_ring_geo {
    uint64_t desc, avail, used; /* guest-physical */
};

static int vu_ring_geo_get(const struct vu_backend *b, const struct vu_ring *r,
                           struct vu_ring_geo *g)
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

/*
 * The features the device is activated with: the frontend's, without
 * VHOST_USER_F_PROTOCOL_FEATURES, and with VERSION_1 even when the guest
 * driver is a legacy one (OVMF's virtio-blk on a transitional
 * vhost-user-blk-pci acks no VERSION_1): the frontend (QEMU) runs the
 * legacy transport, and what reaches us, the split ring and the requests,
 * is the same for a little-endian legacy driver. The register file
 * requires VERSION_1 (MMIO v2), hence the bit.
 */
static uint64_t vu_device_features(const struct vu_backend *b)
{
    uint64_t f = b->features & ~(1ull << VU_F_PROTOCOL_FEATURES);

    return f | (b->dev->avail_features & (1ull << VIRTIO_F_VERSION_1));
}

/* Program the register file from scratch (3.1.1 through registers). */
static int vu_device_program(struct vu_backend *b, const struct vu_ring_geo *geo)
{
    uint64_t f = vu_device_features(b);
    uint32_t st = VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER;
    unsigned i;

    vmmio_write(b->m, VIRTIO_MMIO_STATUS, 0, 4);
    vmmio_write(b->m, VIRTIO_MMIO_STATUS, VIRTIO_STATUS_ACKNOWLEDGE, 4);
    vmmio_write(b->m, VIRTIO_MMIO_STATUS, st, 4);
    vmmio_write(b->m, VIRTIO_MMIO_DRIVER_FEATURES_SEL, 0, 4);
    vmmio_write(b->m, VIRTIO_MMIO_DRIVER_FEATURES, (uint32_t)f, 4);
    vmmio_write(b->m, VIRTIO_MMIO_DRIVER_FEATURES_SEL, 1, 4);
    vmmio_write(b->m, VIRTIO_MMIO_DRIVER_FEATURES, (uint32_t)(f >> 32), 4);
    st |= VIRTIO_STATUS_FEATURES_OK;
    vmmio_write(b->m, VIRTIO_MMIO_STATUS, st, 4);
    if (!(vmmio_read(b->m, VIRTIO_MMIO_STATUS, 4) & VIRTIO_STATUS_FEATURES_OK)) {
        virt_log(VIRT_LOG_ERR, "vhost-user: device refused features %#llx", (unsigned long long)f);
        return -EINVAL;
    }
    for (i = 0; i < b->nrings; i++) {
        vmmio_write(b->m, VIRTIO_MMIO_QUEUE_SEL, i, 4);
        vmmio_write(b->m, VIRTIO_MMIO_QUEUE_NUM, b->rings[i].num, 4);
        vu_write64(b->m, VIRTIO_MMIO_QUEUE_DESC_LOW, geo[i].desc);
        vu_write64(b->m, VIRTIO_MMIO_QUEUE_DRIVER_LOW, geo[i].avail);
        vu_write64(b->m, VIRTIO_MMIO_QUEUE_DEVICE_LOW, geo[i].used);
        vmmio_write(b->m, VIRTIO_MMIO_QUEUE_READY, 1, 4);
    }
    vmmio_write(b->m, VIRTIO_MMIO_STATUS, st | VIRTIO_STATUS_DRIVER_OK, 4);
    st = vmmio_read(b->m, VIRTIO_MMIO_STATUS, 4);
    if (!(st & VIRTIO_STATUS_DRIVER_OK) || (st & VIRTIO_STATUS_DEVICE_NEEDS_RESET) ||
        !b->dev->activated) {
        virt_log(VIRT_LOG_ERR, "vhost-user: device activation failed (status %#x)", st);
        return -EINVAL;
    }
    return 0;
}

/* Is the device activated with exactly this geometry and these features? */
static bool vu_is_same_activation(const struct vu_backend *b, const struct vu_ring_geo *geo)
{
    const struct vdev *d = b->dev;
    unsigned i;

    if (!d->activated || d->needs_reset || d->acked_features != vu_device_features(b))
        return false;
    for (i = 0; i < b->nrings; i++) {
        const struct vdev_queue *vq = &d->queues[i];

        if (!vq->ready || vq->size != b->rings[i].num || vq->desc_gpa != geo[i].desc ||
            vq->avail_gpa != geo[i].avail || vq->used_gpa != geo[i].used)
            return false;
    }
    return true;
}

struct vu_reload {
    struct vu_backend *b;
    bool set_base; /* next_avail = ring base, next_used = used->idx */
    int err;
};

/* Locked (vmmio_run_locked): rebuild each queue's vdq over b->mem (new
 * mappings) and, on a start, at the frontend's indices. Validates every
 * queue before changing any. */
static void vu_reload_locked(struct vdev *d, void *arg)
{
    struct vu_reload *rl = arg;
    struct vu_backend *b = rl->b;
    struct vdq_state st[VU_MAX_RINGS];
    struct vdq scratch;
    unsigned i;

    d->mem = b->mem;
    for (i = 0; i < b->nrings; i++) {
        if (!vdev_has_queue_state(d, i))
            continue;
        vdq_get_state(&d->queues[i].q, &st[i]);
        if (rl->set_base) {
            const __le16 *used_idx = vdq_mem_translate(&b->mem, st[i].used_gpa + 2, 2);

            if (!used_idx) {
                rl->err = -EFAULT;
                return;
            }
            st[i].next_avail = b->rings[i].base;
            st[i].next_used = vr_le16_to_cpu(virt_read_once16((const uint16_t *)used_idx));
            st[i].num_added = 0;
            st[i].broken = 0;
        }
        rl->err = vdq_init_state(&scratch, &b->mem, &st[i]);
        if (rl->err) {
            virt_log(VIRT_LOG_ERR,
                     "vhost-user: ring %u refused (base %u, used idx %u, size %u): %d", i,
                     st[i].next_avail, st[i].next_used, st[i].size, rl->err);
            return;
        }
    }
    for (i = 0; i < b->nrings; i++) {
        struct vdq_stats keep;

        if (!vdev_has_queue_state(d, i))
            continue;
        keep = d->queues[i].q.stats;
        (void)vdq_init_state(&d->queues[i].q, &b->mem, &st[i]); /* checked above */
        d->queues[i].q.stats = keep;
    }
}

static int vu_reload(struct vu_backend *b, bool set_base)
{
    struct vu_reload rl = {.b = b, .set_base = set_base, .err = 0};

    vmmio_run_locked(b->m, vu_reload_locked, &rl);
    return rl.err;
}

static bool vu_is_all_live(const struct vu_backend *b)
{
    unsigned i;

    if (!b->has_owner || !b->mem.nregions)
        return false;
    for (i = 0; i < b->nrings; i++) {
        const struct vu_ring *r = &b->rings[i];

        if (!r->started || !vu_is_ring_enabled(b, r) || !r->has_addr || !r->num)
            return false;
    }
    return true;
}

static void vu_ring_error(struct vu_backend *b)
{
    unsigned i;

    for (i = 0; i < b->nrings; i++)
        if (b->rings[i].err_fd >= 0 && b->ops->signal)
            b->ops->signal(b->ctx, b->rings[i].err_fd);
}

/* Bring the device in line with the rings (the invariant in vhost_user.h). */
static int vu_update(struct vu_backend *b)
{
    struct vu_ring_geo geo[VU_MAX_RINGS];
    unsigned i;
    int err;

    if (!vu_is_all_live(b)) {
        if (!vmmio_is_asleep(b->m)) {
            vmmio_sleep(b->m);
            /* A ring that stays started (only disabled) resumes where it
             * stopped: its base is the queue's next avail index. */
            for (i = 0; i < b->nrings; i++)
                if (b->rings[i].started && vdev_has_queue_state(b->dev, i))
                    b->rings[i].base = b->dev->queues[i].q.next_avail;
            b->stats.stops++;
            virt_log(VIRT_LOG_INFO, "vhost-user %s: device suspended", b->dev->ops->type);
        }
        return 0;
    }
    if (!vmmio_is_asleep(b->m))
        return 0;
    for (i = 0; i < b->nrings; i++) {
        err = vu_ring_geo_get(b, &b->rings[i], &geo[i]);
        if (err) {
            virt_log(VIRT_LOG_ERR, "vhost-user: ring %u outside guest memory", i);
            goto err_start;
        }
    }
    if (!vu_is_same_activation(b, geo)) {
        err = vu_device_program(b, geo);
        if (err)
            goto err_start;
    }
    err = vu_reload(b, true);
    if (err)
        goto err_start;
    vmmio_wake(b->m);
    b->stats.starts++;
    virt_log(VIRT_LOG_INFO, "vhost-user %s: device running (%u ring%s)", b->dev->ops->type,
             b->nrings, b->nrings == 1 ? "" : "s");
    vu_process(b);
    return 0;

err_start:
    vu_ring_error(b);
    return err;
}

/* ---- memory table ---- */

static void vu_regions_unmap(struct vu_backend *b, struct vu_region *rg, unsigned n)
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

static int vu_set_mem_table(struct vu_backend *b, const uint8_t *p, uint32_t size, const int *fds,
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
    err = vu_reload(b, false);
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

/* ---- rings ---- */

static struct vu_ring *vu_ring_of(struct vu_backend *b, uint64_t index)
{
    if (index >= b->nrings) {
        virt_log(VIRT_LOG_ERR, "vhost-user: ring index %llu out of range (%u rings)",
                 (unsigned long long)index, b->nrings);
        return NULL;
    }
    return &b->rings[index];
}

static int vu_set_vring_num(struct vu_backend *b, struct vu_ring *r, uint32_t num)
{
    if (!vu_is_pow2(num) || num > b->dev->ops->queue_max_size) {
        virt_log(VIRT_LOG_ERR, "vhost-user: ring size %u (max %u, power of two)", num,
                 b->dev->ops->queue_max_size);
        return -EINVAL;
    }
    if (r->started && num != r->num)
        return -EBUSY;
    r->num = num;
    return 0;
}

static int vu_set_vring_addr(struct vu_backend *b, const uint8_t *p)
{
    struct vu_ring *r = vu_ring_of(b, snap_get32(p));
    uint32_t flags = snap_get32(p + 4);
    uint64_t desc = snap_get64(p + 8), used = snap_get64(p + 16), avail = snap_get64(p + 24);
    uint64_t gpa;

    if (!r)
        return -ERANGE;
    if (flags & 1) {
        virt_log(VIRT_LOG_ERR, "vhost-user: ring logging requested (not offered)");
        return -EINVAL;
    }
    if (!b->mem.nregions) {
        virt_log(VIRT_LOG_ERR, "vhost-user: SET_VRING_ADDR before SET_MEM_TABLE");
        return -EPROTO;
    }
    /* Each area must at least begin inside guest memory; the full extent
     * is checked at start, when the size is certain. */
    if (vu_ua_to_gpa(b, desc, 16, &gpa) || vu_ua_to_gpa(b, avail, 6, &gpa) ||
        vu_ua_to_gpa(b, used, 6, &gpa)) {
        virt_log(VIRT_LOG_ERR, "vhost-user: ring address outside the memory table");
        return -EFAULT;
    }
    if (r->started && (desc != r->desc_ua || avail != r->avail_ua || used != r->used_ua))
        return -EBUSY;
    r->desc_ua = desc;
    r->used_ua = used;
    r->avail_ua = avail;
    r->has_addr = true;
    return 0;
}

static int vu_get_vring_base(struct vu_backend *b, struct vu_ring *r, uint32_t *base)
{
    unsigned i = (unsigned)(r - b->rings);

    if (r->started) {
        /* Stop: the device sleeps (it cannot run with a ring stopped), so
         * the index read below is final. */
        r->started = false;
        vu_update(b);
        if (vdev_has_queue_state(b->dev, i))
            r->base = b->dev->queues[i].q.next_avail;
        vu_close(b, &r->kick_fd);
        vu_close(b, &r->call_fd);
        r->kick_polled = false;
    }
    *base = r->base;
    return 0;
}

static int vu_set_vring_fd(struct vu_backend *b, uint32_t req, uint64_t v, const int *fds,
                           unsigned nfds, unsigned *used_fds)
{
    bool nofd = v & VU_VRING_NOFD;
    struct vu_ring *r;

    if (v & ~(VU_VRING_IDX_MASK | VU_VRING_NOFD)) {
        virt_log(VIRT_LOG_ERR, "vhost-user: %s with reserved bits %#llx", vu_request_name(req),
                 (unsigned long long)v);
        return -EINVAL;
    }
    r = vu_ring_of(b, v & VU_VRING_IDX_MASK);
    if (!r)
        return -ERANGE;
    if (nfds != (nofd ? 0u : 1u)) {
        virt_log(VIRT_LOG_ERR, "vhost-user: %s with %u fds (no-fd flag %d)", vu_request_name(req),
                 nfds, nofd);
        return -EINVAL;
    }
    *used_fds = nofd ? 0 : 1;
    switch (req) {
    case VU_SET_VRING_KICK:
        vu_close(b, &r->kick_fd);
        r->kick_fd = nofd ? -1 : fds[0];
        r->kick_polled = nofd;
        r->started = true;
        return vu_update(b);
    case VU_SET_VRING_CALL:
        vu_close(b, &r->call_fd);
        r->call_fd = nofd ? -1 : fds[0];
        return 0;
    default:
        vu_close(b, &r->err_fd);
        r->err_fd = nofd ? -1 : fds[0];
        return 0;
    }
}

static void vu_rings_reset(struct vu_backend *b)
{
    unsigned i;

    for (i = 0; i < VU_MAX_RINGS; i++) {
        struct vu_ring *r = &b->rings[i];

        vu_close(b, &r->kick_fd);
        vu_close(b, &r->call_fd);
        vu_close(b, &r->err_fd);
        memset(r, 0, sizeof(*r));
        r->kick_fd = r->call_fd = r->err_fd = -1;
    }
}

/* RESET_DEVICE / RESET_OWNER: every ring stopped, the device reset. */
static void vu_device_reset(struct vu_backend *b)
{
    vu_rings_reset(b);
    vu_update(b); /* sleeps */
    vmmio_write(b->m, VIRTIO_MMIO_STATUS, 0, 4);
    b->has_features = false;
    b->features = 0;
}

/* ---- config space ---- */

struct vu_cfg_io {
    uint32_t off, len;
    uint8_t *buf;
};

static void vu_cfg_read_locked(struct vdev *d, void *arg)
{
    struct vu_cfg_io *io = arg;
    uint32_t have = d->ops->config_size;

    memset(io->buf, 0, io->len);
    /* Bytes past the model's config space read 0 (a frontend may know a
     * longer struct version than our model). */
    if (io->off < have && d->ops->read_config)
        d->ops->read_config(d, io->off, io->buf,
                            io->len < have - io->off ? io->len : have - io->off);
}

static int vu_config_parse(const uint8_t *p, uint32_t size, uint32_t *off, uint32_t *len)
{
    if (size < VU_CONFIG_HDR_BYTES)
        return -EINVAL;
    *off = snap_get32(p);
    *len = snap_get32(p + 4);
    if (*len > VU_MAX_CONFIG || *off > VU_MAX_CONFIG - *len || size != VU_CONFIG_HDR_BYTES + *len) {
        virt_log(VIRT_LOG_ERR, "vhost-user: config access off %u len %u in %u bytes", *off, *len,
                 size);
        return -EINVAL;
    }
    return 0;
}

static int vu_set_config(struct vu_backend *b, const uint8_t *p, uint32_t size)
{
    uint32_t off, len, i;
    int err = vu_config_parse(p, size, &off, &len);

    if (err)
        return err;
    if (off + len > b->dev->ops->config_size) {
        virt_log(VIRT_LOG_ERR, "vhost-user: SET_CONFIG past config space (%u + %u > %u)", off, len,
                 b->dev->ops->config_size);
        return -EINVAL;
    }
    for (i = 0; i < len; i++)
        vmmio_write(b->m, VIRTIO_MMIO_CONFIG + off + i, p[VU_CONFIG_HDR_BYTES + i], 1);
    return 0;
}

/* ---- device state ---- */

static int vu_state_save(struct vu_backend *b, int fd)
{
    size_t need = snap_size(b->m, 0), len = 0;
    uint8_t *buf = virt_zalloc(need ? need : 1);
    int err;

    if (!buf) {
        vu_close(b, &fd);
        return -ENOMEM;
    }
    err = snap_save(b->m, 0, buf, need, &len);
    if (err) {
        virt_log(VIRT_LOG_ERR, "vhost-user: snapshot failed (%d)", err);
        vu_close(b, &fd);
        goto out;
    }
    err = b->ops->state_put ? b->ops->state_put(b->ctx, fd, buf, len) : -ENOSYS;
    if (err)
        virt_log(VIRT_LOG_ERR, "vhost-user: device state not sent (%d)", err);
    else
        virt_log(VIRT_LOG_INFO, "vhost-user: device state saved (%zu bytes)", len);
out:
    virt_free(buf);
    return err;
}

static int vu_state_load(struct vu_backend *b)
{
    uint8_t *buf = virt_zalloc(VU_STATE_MAX_BYTES);
    char why[128];
    size_t len = 0;
    int err, fd = b->state_fd;

    b->state_fd = -1;
    if (!buf) {
        vu_close(b, &fd);
        return -ENOMEM;
    }
    err =
        b->ops->state_get ? b->ops->state_get(b->ctx, fd, buf, VU_STATE_MAX_BYTES, &len) : -ENOSYS;
    if (err) {
        virt_log(VIRT_LOG_ERR, "vhost-user: device state not received (%d)", err);
        goto out;
    }
    why[0] = 0;
    err = snap_restore(b->m, buf, len, why, sizeof(why));
    if (err)
        virt_log(VIRT_LOG_ERR, "vhost-user: device state refused: %s", why);
    else
        virt_log(VIRT_LOG_INFO, "vhost-user: device state loaded (%zu bytes)", len);
out:
    virt_free(buf);
    return err;
}

static bool vu_is_any_started(const struct vu_backend *b)
{
    unsigned i;

    for (i = 0; i < b->nrings; i++)
        if (b->rings[i].started)
            return true;
    return false;
}

static int vu_set_device_state_fd(struct vu_backend *b, const uint8_t *p, int fd)
{
    uint32_t dir = snap_get32(p), phase = snap_get32(p + 4);

    /* A transfer not collected by CHECK_DEVICE_STATE is dropped. */
    vu_close(b, &b->state_fd);
    b->state_dir = -1;
    if (phase != VU_STATE_PHASE_STOPPED || (dir != VU_STATE_SAVE && dir != VU_STATE_LOAD)) {
        virt_log(VIRT_LOG_ERR, "vhost-user: device state direction %u phase %u", dir, phase);
        vu_close(b, &fd);
        return -EINVAL;
    }
    if (vu_is_any_started(b) || !vmmio_is_asleep(b->m)) {
        virt_log(VIRT_LOG_ERR, "vhost-user: device state transfer with rings started");
        vu_close(b, &fd);
        return -EBUSY;
    }
    b->state_dir = (int)dir;
    if (dir == VU_STATE_SAVE) {
        b->state_result = vu_state_save(b, fd);
        return b->state_result;
    }
    b->state_fd = fd;
    b->state_result = -EINPROGRESS;
    return 0;
}

static int vu_check_device_state(struct vu_backend *b)
{
    int err;

    if (b->state_dir < 0) {
        virt_log(VIRT_LOG_ERR, "vhost-user: CHECK_DEVICE_STATE without a transfer");
        return -EPROTO;
    }
    if (b->state_dir == VU_STATE_LOAD && b->state_fd >= 0)
        b->state_result = vu_state_load(b);
    err = b->state_result;
    b->state_dir = -1;
    return err;
}

/* ---- dispatch ---- */

/* What each request looks like: payload size (-1: variable, checked by its
 * handler), whether it has its own reply, whether SET_OWNER must come
 * first, and the protocol feature it needs (-1: none). */
struct vu_req_info {
    bool known; /* handled here (SET_LOG_* and the rest are not) */
    int16_t size;
    bool has_reply;
    bool needs_owner;
    int8_t pf;
};

static const struct vu_req_info vu_reqs[VU_REQUEST_MAX] = {
    [VU_GET_FEATURES] = {true, 0, true, false, -1},
    [VU_SET_FEATURES] = {true, 8, false, true, -1},
    [VU_SET_OWNER] = {true, 0, false, false, -1},
    [VU_RESET_OWNER] = {true, 0, false, true, -1},
    [VU_SET_MEM_TABLE] = {true, -1, false, true, -1},
    [VU_SET_VRING_NUM] = {true, VU_STATE_BYTES, false, true, -1},
    [VU_SET_VRING_ADDR] = {true, VU_ADDR_BYTES, false, true, -1},
    [VU_SET_VRING_BASE] = {true, VU_STATE_BYTES, false, true, -1},
    [VU_GET_VRING_BASE] = {true, VU_STATE_BYTES, true, true, -1},
    [VU_SET_VRING_KICK] = {true, 8, false, true, -1},
    [VU_SET_VRING_CALL] = {true, 8, false, true, -1},
    [VU_SET_VRING_ERR] = {true, 8, false, true, -1},
    [VU_GET_PROTOCOL_FEATURES] = {true, 0, true, false, -1},
    [VU_SET_PROTOCOL_FEATURES] = {true, 8, false, false, -1},
    [VU_GET_QUEUE_NUM] = {true, 0, true, false, VU_PF_MQ},
    [VU_SET_VRING_ENABLE] = {true, VU_STATE_BYTES, false, true, -1},
    [VU_GET_CONFIG] = {true, -1, true, false, VU_PF_CONFIG},
    [VU_SET_CONFIG] = {true, -1, false, true, VU_PF_CONFIG},
    [VU_RESET_DEVICE] = {true, 0, false, true, VU_PF_RESET_DEVICE},
    [VU_SET_DEVICE_STATE_FD] = {true, 8, true, true, VU_PF_DEVICE_STATE},
    [VU_CHECK_DEVICE_STATE] = {true, 0, true, true, VU_PF_DEVICE_STATE},
};

static bool vu_is_known(uint32_t req)
{
    return req < VU_REQUEST_MAX && vu_reqs[req].known;
}

static void vu_reply_u64(struct vu_reply *r, uint32_t req, uint64_t v)
{
    snap_put32(r->buf, req);
    snap_put32(r->buf + 4, VU_FLAG_VERSION | VU_FLAG_REPLY);
    snap_put32(r->buf + 8, 8);
    snap_put64(r->buf + VU_HDR_BYTES, v);
    r->len = VU_HDR_BYTES + 8;
}

static void vu_reply_bytes(struct vu_reply *r, uint32_t req, const void *p, uint32_t len)
{
    snap_put32(r->buf, req);
    snap_put32(r->buf + 4, VU_FLAG_VERSION | VU_FLAG_REPLY);
    snap_put32(r->buf + 8, len);
    memcpy(r->buf + VU_HDR_BYTES, p, len);
    r->len = VU_HDR_BYTES + len;
}

/* Requests with a reply of their own: fill r, or return an error (close). */
static int vu_handle_get(struct vu_backend *b, uint32_t req, const uint8_t *p, uint32_t size,
                         const int *fds, unsigned nfds, unsigned *used_fds, struct vu_reply *r)
{
    uint8_t out[VU_CONFIG_HDR_BYTES + VU_MAX_CONFIG];
    struct vu_ring *ring;
    uint32_t base, off, len;
    int err;

    switch (req) {
    case VU_GET_FEATURES:
        vu_reply_u64(r, req, b->dev->avail_features | (1ull << VU_F_PROTOCOL_FEATURES));
        return 0;
    case VU_GET_PROTOCOL_FEATURES:
        vu_reply_u64(r, req, VU_PROTOCOL_FEATURES);
        return 0;
    case VU_GET_QUEUE_NUM:
        vu_reply_u64(r, req, b->nrings);
        return 0;
    case VU_GET_VRING_BASE:
        ring = vu_ring_of(b, snap_get32(p));
        if (!ring)
            return -ERANGE;
        vu_get_vring_base(b, ring, &base);
        snap_put32(out, snap_get32(p));
        snap_put32(out + 4, base);
        vu_reply_bytes(r, req, out, VU_STATE_BYTES);
        return 0;
    case VU_GET_CONFIG: {
        struct vu_cfg_io io;

        err = vu_config_parse(p, size, &off, &len);
        if (err)
            return err;
        io = (struct vu_cfg_io){.off = off, .len = len, .buf = out + VU_CONFIG_HDR_BYTES};
        vmmio_run_locked(b->m, vu_cfg_read_locked, &io);
        memcpy(out, p, VU_CONFIG_HDR_BYTES);
        vu_reply_bytes(r, req, out, VU_CONFIG_HDR_BYTES + len);
        return 0;
    }
    case VU_SET_DEVICE_STATE_FD:
        if (nfds != 1) {
            virt_log(VIRT_LOG_ERR, "vhost-user: SET_DEVICE_STATE_FD with %u fds", nfds);
            vu_reply_u64(r, req, VU_VRING_NOFD | 1);
            return 0;
        }
        *used_fds = 1;
        err = vu_set_device_state_fd(b, p, fds[0]);
        /* Bit 8: we do not offer an fd of our own; low bits: the result. */
        vu_reply_u64(r, req, VU_VRING_NOFD | (err ? 1 : 0));
        return 0;
    case VU_CHECK_DEVICE_STATE:
        err = vu_check_device_state(b);
        vu_reply_u64(r, req, err ? (uint64_t)-err : 0);
        return 0;
    default:
        return -ENOSYS;
    }
}

/* Requests without a reply of their own: 0 or -errno (for REPLY_ACK). */
static int vu_handle_set(struct vu_backend *b, uint32_t req, const uint8_t *p, uint32_t size,
                         const int *fds, unsigned nfds, unsigned *used_fds)
{
    uint64_t v = size >= 8 ? snap_get64(p) : 0;
    struct vu_ring *ring;
    uint32_t num;

    switch (req) {
    case VU_SET_OWNER:
        if (b->has_owner) {
            virt_log(VIRT_LOG_ERR, "vhost-user: SET_OWNER twice");
            return -EBUSY;
        }
        b->has_owner = true;
        return 0;
    case VU_RESET_OWNER:
        vu_device_reset(b);
        b->has_owner = false;
        return 0;
    case VU_RESET_DEVICE:
        vu_device_reset(b);
        return 0;
    case VU_SET_FEATURES:
        if (v & ~(b->dev->avail_features | (1ull << VU_F_PROTOCOL_FEATURES))) {
            virt_log(VIRT_LOG_ERR, "vhost-user: features %#llx not offered", (unsigned long long)v);
            return -EINVAL;
        }
        b->features = v;
        b->has_features = true;
        return vu_update(b); /* enabling rules may have changed */
    case VU_SET_PROTOCOL_FEATURES:
        if (v & ~VU_PROTOCOL_FEATURES) {
            virt_log(VIRT_LOG_ERR, "vhost-user: protocol features %#llx not offered",
                     (unsigned long long)v);
            return -EINVAL;
        }
        b->protocol_features = v;
        return 0;
    case VU_SET_MEM_TABLE:
        return vu_set_mem_table(b, p, size, fds, nfds);
    case VU_SET_VRING_NUM:
    case VU_SET_VRING_BASE:
    case VU_SET_VRING_ENABLE:
        ring = vu_ring_of(b, snap_get32(p));
        if (!ring)
            return -ERANGE;
        num = snap_get32(p + 4);
        if (req == VU_SET_VRING_NUM)
            return vu_set_vring_num(b, ring, num);
        if (req == VU_SET_VRING_BASE) {
            if (num > 0xffff || ring->started) {
                virt_log(VIRT_LOG_ERR, "vhost-user: SET_VRING_BASE %u (ring %s)", num,
                         ring->started ? "started" : "stopped");
                return -EINVAL;
            }
            ring->base = (uint16_t)num;
            return 0;
        }
        if (num > 1)
            return -EINVAL;
        ring->enabled = num;
        return vu_update(b);
    case VU_SET_VRING_ADDR:
        return vu_set_vring_addr(b, p);
    case VU_SET_VRING_KICK:
    case VU_SET_VRING_CALL:
    case VU_SET_VRING_ERR:
        return vu_set_vring_fd(b, req, v, fds, nfds, used_fds);
    case VU_SET_CONFIG:
        return vu_set_config(b, p, size);
    default:
        return -ENOSYS;
    }
}

static int vu_close_verdict(struct vu_backend *b, uint32_t req, const char *why, int err)
{
    b->stats.closes++;
    virt_log(VIRT_LOG_ERR, "vhost-user: %s (%u): %s: closing the connection", vu_request_name(req),
             req, why);
    return err < 0 ? err : -EPROTO;
}

int vu_handle_msg(struct vu_backend *b, const void *msg, size_t len, const int *fds, unsigned nfds,
                  struct vu_reply *r)
{
    const uint8_t *m = msg;
    uint32_t req, flags, size;
    unsigned used_fds = 0, i;
    const struct vu_req_info *ri;
    bool ack;
    int err;

    r->len = 0;
    if (nfds > VU_MAX_FDS)
        nfds = VU_MAX_FDS; /* the carrier never passes more */
    if (!b->dev || len < VU_HDR_BYTES) {
        err = vu_close_verdict(b, 0, "short header", -EPROTO);
        goto out_fds;
    }
    req = snap_get32(m);
    flags = snap_get32(m + 4);
    size = snap_get32(m + 8);
    if ((flags & VU_FLAG_VERSION_MASK) != VU_FLAG_VERSION || (flags & VU_FLAG_REPLY)) {
        err = vu_close_verdict(b, req, "bad version or a reply flag", -EPROTO);
        goto out_fds;
    }
    if (size > VU_MAX_PAYLOAD || len != VU_HDR_BYTES + (size_t)size) {
        err = vu_close_verdict(b, req, "payload size does not match", -EMSGSIZE);
        goto out_fds;
    }
    b->stats.messages++;
    ack = (flags & VU_FLAG_NEED_REPLY) && vu_has_pf(b, VU_PF_REPLY_ACK);
    m += VU_HDR_BYTES;
    if (!vu_is_known(req)) {
        b->stats.errors++;
        if (!ack) {
            err = vu_close_verdict(b, req, "unknown request", -ENOSYS);
            goto out_fds;
        }
        virt_log(VIRT_LOG_ERR, "vhost-user: unknown request %u refused", req);
        vu_reply_u64(r, req, ENOSYS);
        err = 0;
        goto out_fds;
    }
    ri = &vu_reqs[req];
    err = 0;
    if (ri->size >= 0 && size != (uint32_t)ri->size) {
        virt_log(VIRT_LOG_ERR, "vhost-user: %s with %u payload bytes (want %d)",
                 vu_request_name(req), size, ri->size);
        err = -EINVAL;
    } else if (ri->needs_owner && !b->has_owner) {
        virt_log(VIRT_LOG_ERR, "vhost-user: %s before SET_OWNER", vu_request_name(req));
        err = -EPROTO;
    } else if (ri->pf >= 0 && !vu_has_pf(b, (unsigned)ri->pf)) {
        virt_log(VIRT_LOG_ERR, "vhost-user: %s without its protocol feature %d",
                 vu_request_name(req), ri->pf);
        err = -EPROTO;
    }
    if (ri->has_reply) {
        if (!err)
            err = vu_handle_get(b, req, m, size, fds, nfds, &used_fds, r);
        if (err) {
            b->stats.errors++;
            r->len = 0;
            err = vu_close_verdict(b, req, "cannot reply", err);
        }
        goto out_fds;
    }
    if (!err)
        err = vu_handle_set(b, req, m, size, fds, nfds, &used_fds);
    if (err)
        b->stats.errors++;
    if (ack)
        vu_reply_u64(r, req, err ? (uint64_t)-err : 0);
    else if (err)
        virt_log(VIRT_LOG_WARN, "vhost-user: %s failed (%d), no REPLY_ACK to say so",
                 vu_request_name(req), err);
    err = 0;

out_fds:
    /* Whatever we did not keep (fds[0..used_fds) are kept) is closed: the
     * handler owns every fd. SET_MEM_TABLE keeps none (the mappings stay). */
    for (i = used_fds; i < nfds; i++) {
        int fd = fds[i];

        vu_close(b, &fd);
    }
    return err;
}

/* ---- life cycle and carrier calls ---- */

int vu_create(const struct vu_ops *ops, void *ctx, struct vu_backend **out)
{
    struct vu_backend *b;

    if (!ops || !out)
        return -EINVAL;
    b = virt_zalloc(sizeof(*b));
    if (!b)
        return -ENOMEM;
    b->ops = ops;
    b->ctx = ctx;
    b->mem.regions = b->vregions;
    b->mem.nregions = 0;
    b->state_fd = -1;
    b->state_dir = -1;
    for (unsigned i = 0; i < VU_MAX_RINGS; i++)
        b->rings[i].kick_fd = b->rings[i].call_fd = b->rings[i].err_fd = -1;
    *out = b;
    return 0;
}

const struct vdq_mem *vu_guest_mem(const struct vu_backend *b)
{
    return &b->mem;
}

int vu_attach(struct vu_backend *b, struct vdev *dev)
{
    struct vmmio_hooks hooks = {.interrupt = vu_irq_hook, .ctx = b};
    int err;

    if (!b || !dev || b->dev || dev->ops->num_queues > VU_MAX_RINGS)
        return -EINVAL;
    err = vmmio_create(dev, &hooks, &b->m);
    if (err)
        return err;
    b->dev = dev;
    b->nrings = dev->ops->num_queues;
    vmmio_sleep(b->m); /* awake only with every ring live */
    return 0;
}

void vu_destroy(struct vu_backend *b)
{
    if (!b)
        return;
    if (b->m)
        vmmio_sleep(b->m);
    vu_rings_reset(b);
    vu_close(b, &b->state_fd);
    vu_regions_unmap(b, b->regions, b->mem.nregions);
    b->mem.nregions = 0;
    if (b->dev)
        b->dev->mem.nregions = 0;
    vmmio_destroy(b->m);
    virt_free(b);
}

int vu_kick(struct vu_backend *b, unsigned ring)
{
    if (ring >= b->nrings)
        return -ERANGE;
    b->stats.kicks++;
    if (vmmio_is_asleep(b->m))
        return 0; /* wake processes every queue once */
    vmmio_write(b->m, VIRTIO_MMIO_QUEUE_NOTIFY, ring, 4);
    return vu_process(b);
}

int vu_poll(struct vu_backend *b)
{
    unsigned i;
    int n = 0;

    if (vmmio_is_asleep(b->m))
        return 0;
    for (i = 0; i < b->nrings; i++)
        if (b->rings[i].kick_polled)
            vmmio_write(b->m, VIRTIO_MMIO_QUEUE_NOTIFY, i, 4);
    n = vu_process(b);
    return n;
}

int vu_ring_kick_fd(const struct vu_backend *b, unsigned ring)
{
    return ring < b->nrings ? b->rings[ring].kick_fd : -1;
}

unsigned vu_num_rings(const struct vu_backend *b)
{
    return b->nrings;
}

bool vu_is_running(const struct vu_backend *b)
{
    return b->m && !vmmio_is_asleep(b->m);
}

struct vmmio *vu_vmmio(struct vu_backend *b)
{
    return b->m;
}

void vu_get_stats(const struct vu_backend *b, struct vu_stats *st)
{
    *st = b->stats;
}
