/* SPDX-License-Identifier: Apache-2.0 */
/*
 * vhost_user.c - the vhost-user request handler (see vhost_user.h for the
 * invariants and the error policy): the backend object and the carrier
 * calls, message framing and validation (header, payload size, SET_OWNER
 * first, the protocol feature each request needs), the replies, config
 * space, and the dispatch to the memory table (vhost_user_mem.c) and to the
 * rings and the device behind them (vhost_user_vring.c). Message semantics
 * follow QEMU's docs/interop/vhost-user.rst; section names below are from
 * that file.
 *
 * Invariants: every message is checked here before a handler sees it
 * (version, no reply flag, size == header + payload <= VU_MAX_PAYLOAD,
 * the request's fixed payload size); every fd that came with a message is
 * kept by the handler that used it or closed before vu_handle_msg()
 * returns.
 */
#include "vhost_user.h"

#include <errno.h>
#include <string.h>

#include "snap_le.h"
#include "vhost_user_internal.h"
#include "virtio_mmio.h"
#include "virtio_platform.h"

#define VU_PROTOCOL_FEATURES                                                                       \
    ((1ull << VU_PF_MQ) | (1ull << VU_PF_REPLY_ACK) | (1ull << VU_PF_CONFIG) |                     \
     (1ull << VU_PF_RESET_DEVICE) | (1ull << VU_PF_DEVICE_STATE) |                                \
     (1ull << VU_PF_CONFIGURE_MEM_SLOTS) | (1ull << VU_PF_BACKEND_REQ) |                       \
     (1ull << VU_PF_LOG_SHMFD))
/* Virtio-space bits we add to the device's: the protocol features and
 * VHOST_F_LOG_ALL (dirty logging, vhost_user_log.c). */
#define VU_VHOST_FEATURES ((1ull << VU_F_PROTOCOL_FEATURES) | (1ull << VU_F_LOG_ALL))

/* What we offer: INFLIGHT_SHMFD only with a carrier that can create the
 * shared region (ops->shm_create; the in-image carrier has none). */
static uint64_t vu_offered_pf(const struct vu_backend *b)
{
    return VU_PROTOCOL_FEATURES | (b->ops->shm_create ? 1ull << VU_PF_INFLIGHT_SHMFD : 0);
}

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
    [VU_SET_BACKEND_REQ_FD] = "SET_BACKEND_REQ_FD",
    [VU_GET_INFLIGHT_FD] = "GET_INFLIGHT_FD",
    [VU_SET_INFLIGHT_FD] = "SET_INFLIGHT_FD",
    [VU_GET_MAX_MEM_SLOTS] = "GET_MAX_MEM_SLOTS",
    [VU_ADD_MEM_REG] = "ADD_MEM_REG",
    [VU_REM_MEM_REG] = "REM_MEM_REG",
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

void vu_close(struct vu_backend *b, int *fd)
{
    if (*fd >= 0 && b->ops->close_fd)
        b->ops->close_fd(b->ctx, *fd);
    *fd = -1;
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

/* ---- dispatch ---- */

/* What each request looks like: payload size (-1: variable, checked by its
 * handler), whether it has its own reply, whether SET_OWNER must come
 * first, and the protocol feature it needs (-1: none). */
struct vu_req_info {
    bool known; /* handled here (the rest are not) */
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
    /* Log description (16 bytes, checked by vu_set_log_base); its reply
     * is its own (vhost_user_log.c). SET_LOG_FD's payload is ignored. */
    [VU_SET_LOG_BASE] = {true, -1, true, true, VU_PF_LOG_SHMFD},
    [VU_SET_LOG_FD] = {true, -1, false, true, -1},
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
    /* QEMU sends these two before SET_OWNER (vhost_user_backend_init). */
    [VU_SET_BACKEND_REQ_FD] = {true, 0, false, false, VU_PF_BACKEND_REQ},
    [VU_GET_MAX_MEM_SLOTS] = {true, 0, true, false, VU_PF_CONFIGURE_MEM_SLOTS},
    [VU_ADD_MEM_REG] = {true, VU_MEM_REG_BYTES, false, true, VU_PF_CONFIGURE_MEM_SLOTS},
    [VU_REM_MEM_REG] = {true, VU_MEM_REG_BYTES, false, true, VU_PF_CONFIGURE_MEM_SLOTS},
    [VU_SET_DEVICE_STATE_FD] = {true, 8, true, true, VU_PF_DEVICE_STATE},
    /* Payload 20 or 24 bytes (vhost_user_inflight.c). */
    [VU_GET_INFLIGHT_FD] = {true, -1, true, true, VU_PF_INFLIGHT_SHMFD},
    [VU_SET_INFLIGHT_FD] = {true, -1, false, true, VU_PF_INFLIGHT_SHMFD},
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
        vu_reply_u64(r, req, b->dev->avail_features | VU_VHOST_FEATURES);
        return 0;
    case VU_GET_PROTOCOL_FEATURES:
        vu_reply_u64(r, req, vu_offered_pf(b));
        return 0;
    case VU_GET_QUEUE_NUM:
        vu_reply_u64(r, req, b->nrings);
        return 0;
    case VU_GET_MAX_MEM_SLOTS:
        vu_reply_u64(r, req, VU_MAX_MEM_SLOTS);
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
    case VU_GET_INFLIGHT_FD:
        return vu_get_inflight_fd(b, p, size, r);
    case VU_SET_LOG_BASE:
        /* The fd is mapped, not kept (closed by the caller). */
        err = vu_set_log_base(b, p, size, fds, nfds);
        if (!err)
            vu_reply_u64(r, req, 0);
        return err;
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
    int err;

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
        if (v & ~(b->dev->avail_features | VU_VHOST_FEATURES)) {
            virt_log(VIRT_LOG_ERR, "vhost-user: features %#llx not offered", (unsigned long long)v);
            return -EINVAL;
        }
        b->features = v;
        b->has_features = true;
        err = vu_update(b); /* enabling rules may have changed */
        vu_log_update(b);   /* VHOST_F_LOG_ALL may have changed */
        return err;
    case VU_SET_PROTOCOL_FEATURES:
        if (v & ~vu_offered_pf(b)) {
            virt_log(VIRT_LOG_ERR, "vhost-user: protocol features %#llx not offered",
                     (unsigned long long)v);
            return -EINVAL;
        }
        b->protocol_features = v;
        return 0;
    case VU_SET_MEM_TABLE:
        return vu_set_mem_table(b, p, size, fds, nfds);
    case VU_ADD_MEM_REG:
        return vu_add_mem_reg(b, p, fds, nfds);
    case VU_REM_MEM_REG:
        return vu_rem_mem_reg(b, p, nfds);
    case VU_SET_BACKEND_REQ_FD:
        /* vhost-user.rst "Back-end communication": the socket for
         * back-end initiated requests (CONFIG_CHANGE_MSG). */
        if (nfds != 1) {
            virt_log(VIRT_LOG_ERR, "vhost-user: SET_BACKEND_REQ_FD with %u fds", nfds);
            return -EINVAL;
        }
        vu_close(b, &b->backend_fd);
        b->backend_fd = fds[0];
        *used_fds = 1;
        return 0;
    case VU_SET_VRING_NUM:
    case VU_SET_VRING_BASE:
    case VU_SET_VRING_ENABLE:
        ring = vu_ring_of(b, snap_get32(p));
        if (!ring)
            return -ERANGE;
        num = snap_get32(p + 4);
        if (req == VU_SET_VRING_NUM)
            return vu_set_vring_num(b, ring, num);
        if (req == VU_SET_VRING_BASE)
            return vu_set_vring_base(b, ring, num);
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
    case VU_SET_LOG_FD:
        return vu_set_log_fd(b, nfds); /* the fd is closed below */
    case VU_SET_INFLIGHT_FD:
        /* The fd is mapped, not kept (closed below like any other). */
        return vu_set_inflight_fd(b, p, size, fds, nfds);
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
    r->fd = -1;
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
            vu_close(b, &r->fd); /* (none: a handler that fails keeps no fd) */
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
    b->fd_lock = (struct virt_lock)VIRT_LOCK_INIT;
    b->mem.regions = b->vregions;
    b->mem.nregions = 0;
    b->mem.log = &b->vlog; /* the queues' copies log through it */
    b->state_fd = -1;
    b->state_dir = -1;
    b->backend_fd = -1;
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
    struct vmmio_hooks hooks = {.interrupt = vu_irq_hook,
                                .queue_interrupt = vu_queue_irq_hook,
                                .ctx = b,
                                .broken = vu_broken_hook};
    int err;

    if (!b || !dev || b->dev || dev->ops->num_queues > VU_MAX_RINGS)
        return -EINVAL;
    err = vmmio_create(dev, &hooks, &b->m);
    if (err)
        return err;
    b->dev = dev;
    b->nrings = dev->ops->num_queues;
    vmmio_sleep(b->m); /* awake only with a ring active */
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
    vu_close(b, &b->backend_fd);
    vu_inflight_drop(b);
    vu_log_drop(b);
    vu_regions_unmap(b, b->regions, b->mem.nregions);
    b->mem.nregions = 0;
    if (b->dev)
        b->dev->mem.nregions = 0;
    vmmio_destroy(b->m);
    virt_free(b);
}

/* Ring ring may have work (a kick, a completion, a poll): mark it pending
 * and process it. */
static int vu_run_ring(struct vu_backend *b, unsigned ring)
{
    int n;

    /* Marked pending even while asleep (a memory-table change on the
     * message thread): whoever wakes the device processes it then, so a
     * kick taken meanwhile is not lost. */
    vmmio_write(b->m, VIRTIO_MMIO_QUEUE_NOTIFY, ring, 4);
    if (vmmio_is_asleep(b->m))
        return 0;
    if (!b->concurrent)
        return vu_process(b);
    n = vmmio_process_queue(b->m, ring);
    /* The calls went out; nothing reads InterruptStatus on this transport. */
    vmmio_write(b->m, VIRTIO_MMIO_INTERRUPT_ACK, VIRTIO_INT_USED_BUFFER, 4);
    return n;
}

int vu_kick(struct vu_backend *b, unsigned ring)
{
    if (ring >= b->nrings)
        return -ERANGE;
    /* Per-ring workers call this concurrently (vhost_user.h). */
    __atomic_fetch_add(&b->stats.kicks, 1, __ATOMIC_RELAXED);
    return vu_run_ring(b, ring);
}

int vu_service(struct vu_backend *b, unsigned ring)
{
    if (ring >= b->nrings)
        return -ERANGE;
    return vu_run_ring(b, ring);
}

void vu_set_polling(struct vu_backend *b, unsigned ring, bool on)
{
    if (ring < b->nrings && b->dev)
        vdev_set_polling(b->dev, ring, on);
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

int vu_set_concurrent(struct vu_backend *b)
{
    int err = vmmio_set_concurrent(b->m);

    if (!err)
        b->concurrent = true;
    return err;
}

bool vu_ring_is_polled(const struct vu_backend *b, unsigned ring)
{
    return ring < b->nrings && b->rings[ring].started && b->rings[ring].kick_polled;
}

int vu_backend_req_fd(const struct vu_backend *b)
{
    return vu_has_pf(b, VU_PF_BACKEND_REQ) ? b->backend_fd : -1;
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
    st->log_dropped = __atomic_load_n(&b->vlog.dropped, __ATOMIC_RELAXED);
}
