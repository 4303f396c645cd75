/* SPDX-License-Identifier: Apache-2.0 */
/*
 * net_ctrl_util.h - what test_net_ctrl.c (model) and test_net_ctrl_drv.c
 * (driver) share: addresses of each kind and an independent RFC 1071
 * checksum check.
 */
#ifndef RINGLOOP_TESTS_NET_CTRL_UTIL_H
#define RINGLOOP_TESTS_NET_CTRL_UTIL_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "vdev_models.h"

static const uint8_t __attribute__((unused)) own_mac[6] = VDEV_NET_DEFAULT_MAC;
static const uint8_t __attribute__((unused)) other_uni[6] = {0x02, 0, 0, 0, 0, 0x77};
static const uint8_t __attribute__((unused)) mcast[6] = {0x01, 0x00, 0x5e, 0, 0, 1};
static const uint8_t __attribute__((unused)) bcast[6] = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff};

/* ------------------------------------------------------------ checksums */

/* RFC 1071 sum of b[0..n) (big-endian words), folded. */
static inline uint32_t ones_sum(const uint8_t *b, size_t n)
{
    uint64_t s = 0;
    size_t i;

    for (i = 0; i + 1 < n; i += 2)
        s += (uint32_t)(b[i] << 8 | b[i + 1]);
    if (n & 1)
        s += (uint32_t)b[n - 1] << 8;
    while (s >> 16)
        s = (s & 0xffff) + (s >> 16);
    return (uint32_t)s;
}

/* A completed checksum over f[start..len) whose field started as the
 * pseudo-header sum p: the region's sum plus p folds to 0xffff. */
static inline void assert_csum_complete(const uint8_t *f, size_t len, uint16_t start, uint16_t p)
{
    uint32_t s = ones_sum(f + start, len - start) + p;

    s = (s & 0xffff) + (s >> 16);
    assert_int_equal(s, 0xffff);
}

/* A frame with a partial checksum: bytes patterned, the field at
 * start + off holding pseudo-header sum p. */
static inline void csum_frame(uint8_t *fr, uint32_t len, uint16_t start, uint16_t off, uint16_t p)
{
    uint32_t i;

    for (i = 0; i < len; i++)
        fr[i] = (uint8_t)(i * 13 + 5);
    memcpy(fr, own_mac, 6);
    fr[start + off] = (uint8_t)(p >> 8);
    fr[start + off + 1] = (uint8_t)p;
}

#endif
