/* SPDX-License-Identifier: Apache-2.0 */
/*
 * test_sha256.c - suite "sha256": lib/sha256.c against the FIPS 180-4 /
 * NIST example vectors ("", "abc", the 448-bit two-block message, one
 * million 'a'), and incremental hashing split at every offset matching the
 * one-shot digest.
 */
#include <stdlib.h>
#include <string.h>

#include "kernel/tests/ktest.h"
#include "sha256.h"

static void expect_hex(struct ktest *t, const void *data, size_t len, const char *want)
{
    char got[2 * SHA256_DIGEST_BYTES + 1];

    sha256_hex(data, len, got);
    if (strcmp(got, want))
        KT_FAIL(t, "sha256(%zu bytes) = %s, want %s", len, got, want);
}

static void t_empty(struct ktest *t)
{
    expect_hex(t, "", 0, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
}

static void t_abc(struct ktest *t)
{
    expect_hex(t, "abc", 3, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
}

static void t_two_blocks(struct ktest *t)
{
    static const char m[] = "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq";

    expect_hex(t, m, strlen(m), "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
}

static void t_million_a(struct ktest *t)
{
    struct sha256 s;
    uint8_t chunk[1000], d[SHA256_DIGEST_BYTES];
    char hex[2 * SHA256_DIGEST_BYTES + 1];

    memset(chunk, 'a', sizeof(chunk));
    sha256_init(&s);
    for (int i = 0; i < 1000; i++)
        sha256_update(&s, chunk, sizeof(chunk));
    sha256_final(&s, d);
    sha256_digest_to_hex(d, hex);
    if (strcmp(hex, "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0"))
        KT_FAIL(t, "got %s", hex);
}

static void t_incremental(struct ktest *t)
{
    uint8_t msg[200], d1[SHA256_DIGEST_BYTES], d2[SHA256_DIGEST_BYTES];
    struct sha256 s;

    for (size_t i = 0; i < sizeof(msg); i++)
        msg[i] = (uint8_t)(i * 31 + 7);
    sha256_init(&s);
    sha256_update(&s, msg, sizeof(msg));
    sha256_final(&s, d1);
    for (size_t cut = 0; cut <= sizeof(msg); cut++) {
        sha256_init(&s);
        sha256_update(&s, msg, cut);
        sha256_update(&s, msg + cut, sizeof(msg) - cut);
        sha256_final(&s, d2);
        if (memcmp(d1, d2, sizeof(d1)))
            KT_FAIL(t, "split at %zu differs", cut);
    }
}

KTEST_SUITE(sha256_suite, "sha256", {"empty", t_empty}, {"abc", t_abc},
            {"two_blocks", t_two_blocks}, {"million_a", t_million_a},
            {"incremental", t_incremental});
