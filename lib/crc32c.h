/* SPDX-License-Identifier: Apache-2.0 */
/*
 * crc32c.h - CRC-32C (Castagnoli, reflected polynomial 0x82f63b78, initial
 * value and final xor 0xffffffff; the CRC of iSCSI, ext4 and virtio-blk
 * integrity), table-driven, slice-by-8 (crc32c.c). Portable core: used by the
 * snapshot codec in both builds. Check value: crc32c("123456789") is
 * 0xe3069283.
 *
 * Incremental use: crc = crc32c(0, a, n); crc = crc32c(crc, b, m) gives the
 * CRC of a followed by b.
 */
#ifndef RINGLOOP_CRC32C_H
#define RINGLOOP_CRC32C_H

#include <stddef.h>
#include <stdint.h>

uint32_t crc32c(uint32_t crc, const void *buf, size_t len);

#endif
