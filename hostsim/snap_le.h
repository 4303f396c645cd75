/* SPDX-License-Identifier: Apache-2.0 */
/*
 * snap_le.h - explicit little-endian byte encoding for the snapshot format
 * (hostsim/snapshot*.c) and the device models' state blobs: a snapshot is
 * never a struct dump, every field is written and read byte by byte here,
 * so the format is the same whatever the compiler's layout or the host's
 * byte order. Callers bounds-check before calling; these never fail.
 */
#ifndef RINGLOOP_SNAP_LE_H
#define RINGLOOP_SNAP_LE_H

#include <stdint.h>

static inline void snap_put16(uint8_t *p, uint16_t v)
{
    p[0] = (uint8_t)v;
    p[1] = (uint8_t)(v >> 8);
}

static inline void snap_put32(uint8_t *p, uint32_t v)
{
    snap_put16(p, (uint16_t)v);
    snap_put16(p + 2, (uint16_t)(v >> 16));
}

static inline void snap_put64(uint8_t *p, uint64_t v)
{
    snap_put32(p, (uint32_t)v);
    snap_put32(p + 4, (uint32_t)(v >> 32));
}

static inline uint16_t snap_get16(const uint8_t *p)
{
    return (uint16_t)(p[0] | (uint16_t)p[1] << 8);
}

static inline uint32_t snap_get32(const uint8_t *p)
{
    return snap_get16(p) | (uint32_t)snap_get16(p + 2) << 16;
}

static inline uint64_t snap_get64(const uint8_t *p)
{
    return snap_get32(p) | (uint64_t)snap_get32(p + 4) << 32;
}

#endif
