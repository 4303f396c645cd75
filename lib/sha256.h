/* SPDX-License-Identifier: Apache-2.0 */
/*
 * sha256.h - SHA-256 (FIPS 180-4), incremental, for the shell's data
 * hashes (`blk read`, `rng read`, ...): newlib has none. Not constant-time
 * and not meant for secrets.
 */
#ifndef RINGLOOP_SHA256_H
#define RINGLOOP_SHA256_H

#include <stddef.h>
#include <stdint.h>

#define SHA256_DIGEST_BYTES 32

struct sha256 {
    uint32_t h[8];
    uint64_t bytes;  /* message length so far */
    uint8_t buf[64]; /* partial block */
    uint32_t buf_len;
};

void sha256_init(struct sha256 *s);
void sha256_update(struct sha256 *s, const void *data, size_t len);
void sha256_final(struct sha256 *s, uint8_t out[SHA256_DIGEST_BYTES]);
/* One shot, hex: out gets 64 lowercase hex digits and a NUL. */
void sha256_hex(const void *data, size_t len, char out[2 * SHA256_DIGEST_BYTES + 1]);
void sha256_digest_to_hex(const uint8_t d[SHA256_DIGEST_BYTES],
                          char out[2 * SHA256_DIGEST_BYTES + 1]);

#endif
