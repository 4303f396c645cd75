/* SPDX-License-Identifier: Apache-2.0 */
/*
 * vhost_user_front.h - encoders for the frontend side of vhost-user
 * messages (header-only): what the in-image frontend, the hosted tests,
 * the socket test frontend and the fuzzer seeds use to speak to the
 * handler in hostsim/vhost_user.c. Every function writes one complete
 * message (12-byte header, little-endian payload) into buf, which must hold
 * VU_MAX_MSG bytes, and returns its length.
 */
#ifndef RINGLOOP_VHOST_USER_FRONT_H
#define RINGLOOP_VHOST_USER_FRONT_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "snap_le.h"
#include "vhost_user.h"

static inline size_t vuf_hdr(uint8_t *buf, uint32_t req, uint32_t flags, uint32_t size)
{
    snap_put32(buf, req);
    snap_put32(buf + 4, VU_FLAG_VERSION | flags);
    snap_put32(buf + 8, size);
    return VU_HDR_BYTES + size;
}

static inline size_t vuf_none(uint8_t *buf, uint32_t req, uint32_t flags)
{
    return vuf_hdr(buf, req, flags, 0);
}

static inline size_t vuf_u64(uint8_t *buf, uint32_t req, uint32_t flags, uint64_t v)
{
    snap_put64(buf + VU_HDR_BYTES, v);
    return vuf_hdr(buf, req, flags, 8);
}

static inline size_t vuf_state(uint8_t *buf, uint32_t req, uint32_t flags, uint32_t index,
                               uint32_t num)
{
    snap_put32(buf + VU_HDR_BYTES, index);
    snap_put32(buf + VU_HDR_BYTES + 4, num);
    return vuf_hdr(buf, req, flags, VU_STATE_BYTES);
}

static inline size_t vuf_addr(uint8_t *buf, uint32_t flags, uint32_t index, uint64_t desc,
                              uint64_t used, uint64_t avail)
{
    uint8_t *p = buf + VU_HDR_BYTES;

    snap_put32(p, index);
    snap_put32(p + 4, 0);
    snap_put64(p + 8, desc);
    snap_put64(p + 16, used);
    snap_put64(p + 24, avail);
    snap_put64(p + 32, 0);
    return vuf_hdr(buf, VU_SET_VRING_ADDR, flags, VU_ADDR_BYTES);
}

struct vuf_region {
    uint64_t gpa, size, uaddr, mmap_offset;
};

static inline size_t vuf_mem_table(uint8_t *buf, uint32_t flags, const struct vuf_region *rg,
                                   uint32_t n)
{
    uint8_t *p = buf + VU_HDR_BYTES;
    uint32_t i;

    snap_put32(p, n);
    snap_put32(p + 4, 0);
    for (i = 0; i < n; i++) {
        uint8_t *q = p + VU_MEM_HDR_BYTES + i * VU_MEM_REGION_BYTES;

        snap_put64(q, rg[i].gpa);
        snap_put64(q + 8, rg[i].size);
        snap_put64(q + 16, rg[i].uaddr);
        snap_put64(q + 24, rg[i].mmap_offset);
    }
    return vuf_hdr(buf, VU_SET_MEM_TABLE, flags, VU_MEM_HDR_BYTES + n * VU_MEM_REGION_BYTES);
}

/* ADD_MEM_REG / REM_MEM_REG: padding u64, then the region. */
static inline size_t vuf_mem_reg(uint8_t *buf, uint32_t req, uint32_t flags,
                                 const struct vuf_region *rg)
{
    uint8_t *p = buf + VU_HDR_BYTES;

    snap_put64(p, 0);
    snap_put64(p + 8, rg->gpa);
    snap_put64(p + 16, rg->size);
    snap_put64(p + 24, rg->uaddr);
    snap_put64(p + 32, rg->mmap_offset);
    return vuf_hdr(buf, req, flags, VU_MEM_REG_BYTES);
}

/* The back-end's VHOST_USER_SLAVE_CONFIG_CHANGE_MSG (no payload), sent on
 * the SET_BACKEND_REQ_FD channel: the frontend re-reads the config
 * (GET_CONFIG) and tells its guest. */
static inline size_t vuf_backend_config_change(uint8_t *buf, uint32_t flags)
{
    return vuf_hdr(buf, VU_BACKEND_CONFIG_CHANGE_MSG, flags, 0);
}

static inline size_t vuf_config(uint8_t *buf, uint32_t req, uint32_t flags, uint32_t off,
                                uint32_t len, const void *data)
{
    uint8_t *p = buf + VU_HDR_BYTES;

    snap_put32(p, off);
    snap_put32(p + 4, len);
    snap_put32(p + 8, 0);
    if (data)
        memcpy(p + VU_CONFIG_HDR_BYTES, data, len);
    else
        memset(p + VU_CONFIG_HDR_BYTES, 0, len);
    return vuf_hdr(buf, req, flags, VU_CONFIG_HDR_BYTES + len);
}

static inline size_t vuf_device_state(uint8_t *buf, uint32_t flags, uint32_t dir)
{
    snap_put32(buf + VU_HDR_BYTES, dir);
    snap_put32(buf + VU_HDR_BYTES + 4, VU_STATE_PHASE_STOPPED);
    return vuf_hdr(buf, VU_SET_DEVICE_STATE_FD, flags, 8);
}

/* A reply's u64 payload (the caller checked the length). */
static inline uint64_t vuf_reply_u64(const struct vu_reply *r)
{
    return snap_get64(r->buf + VU_HDR_BYTES);
}

#endif
