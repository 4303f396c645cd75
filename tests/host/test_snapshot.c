/* SPDX-License-Identifier: Apache-2.0 */
/*
 * test_snapshot.c - cmocka tests of the snapshot codec and the device
 * lifecycle (hostsim/snapshot*.c, vmmio_sleep/wake), under ASan+UBSan:
 *  - CRC-32C check value; save -> restore -> save gives identical bytes for
 *    every model (with and without content);
 *  - every validation case of snapshot.h, each refused with an error that
 *    names the section and the reason, on a live device that must come out
 *    exactly as it was (a full save before and after compared);
 *  - corruption: every single-bit flip and every truncation of reference
 *    snapshots refused cleanly;
 *  - lifecycle: asleep, no guest memory write and no interrupt; kicks kept
 *    for wake; after a restore, avail_event re-published and a lost kick
 *    does not stall the queue;
 * (The traffic cases are test_snapshot_traffic.c, the packed queue cases
 * test_snapshot_packed.c; the shared harness is snap_harness.c.)
 *
 * TEST_FILTER='test_traffic*' runs only the matching cases.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <pthread.h>
#include <sched.h>

#include "crc32c.h"
#include "dev_fixture.h"
#include "snap_fixture.h"
#include "snap_le.h"
#include "snapshot.h"
#include "vdev_models.h"
#include "virtio_mmio.h"
#include "virtio_platform.h"

#include "snap_harness.h"

/* ------------------------------------------------------------ basics */

static void test_crc32c(void **state)
{
    (void)state;
    assert_int_equal(crc32c(0, "123456789", 9), 0xe3069283u);
    assert_int_equal(crc32c(0, "", 0), 0);
    /* incremental = one shot */
    assert_int_equal(crc32c(crc32c(0, "1234", 4), "56789", 5), 0xe3069283u);
    /* slice-by-8 against a bit-at-a-time reference: every length 0..600 at
     * every alignment 0..7, and split anywhere. */
    {
        uint8_t buf[608];
        unsigned len, off, i, bit;

        for (i = 0; i < sizeof(buf); i++)
            buf[i] = (uint8_t)(i * 167 + (i >> 3) * 13 + 5);
        for (off = 0; off < 8; off++) {
            for (len = 0; len <= 600; len++) {
                uint32_t ref = 0xffffffffu;

                for (i = 0; i < len; i++) {
                    ref ^= buf[off + i];
                    for (bit = 0; bit < 8; bit++)
                        ref = ref & 1 ? (ref >> 1) ^ 0x82f63b78u : ref >> 1;
                }
                ref = ~ref;
                assert_int_equal(crc32c(0, buf + off, len), ref);
                assert_int_equal(
                    crc32c(crc32c(0, buf + off, len / 3), buf + off + len / 3, len - len / 3), ref);
            }
        }
    }
}

/* save -> restore (new instance) -> save: identical bytes; with content too. */
static void test_roundtrip(void **state)
{
    struct dev_fixture *f = *state;
    unsigned flags;

    warm_up(f);
    for (flags = 0; flags <= SNAP_F_CONTENT; flags++) {
        size_t la, lb;
        uint8_t *a, *b;

        vmmio_sleep(f->m);
        a = save(f, flags, &la);
        assert_int_equal(memcmp(a, SNAP_MAGIC, 8), 0);
        replace_instance(f, a, la, false);
        b = save(f, flags, &lb);
        assert_int_equal(la, lb);
        assert_memory_equal(a, b, la);
        vmmio_wake(f->m);
        free(a);
        free(b);
    }
    /* And the device still works after it. */
    warm_up(f);
}

static void test_save_errors(void **state)
{
    struct dev_fixture *f = *state;
    uint8_t small[16];
    size_t len = 0, need;
    char err[128];

    warm_up(f);
    /* Awake: refused (queue work may be running). */
    assert_int_equal(snap_save(f->m, 0, small, sizeof(small), &len), -EBUSY);
    assert_int_equal(snap_restore(f->m, small, sizeof(small), err, sizeof(err)), -EBUSY);
    assert_non_null(strstr(err, "not asleep"));
    vmmio_sleep(f->m);
    vmmio_sleep(f->m); /* twice: a no-op */
    need = snap_size(f->m, 0);
    assert_int_equal(snap_save(f->m, 0, small, sizeof(small), &len), -ENOSPC);
    assert_int_equal(len, need);
    assert_int_equal(snap_save(f->m, 0, NULL, 0, &len), -ENOSPC);
    vmmio_wake(f->m);
    vmmio_wake(f->m);
}

static void test_refuse_format(void **state)
{
    struct dev_fixture *f = *state;
    uint8_t *ref, *b;
    size_t len;

    warm_up(f);
    vmmio_sleep(f->m);
    ref = save(f, 0, &len);

    expect_refused(f, ref, 0, "file: empty");
    expect_refused(f, NULL, 0, "file: empty");
    expect_refused(f, ref, 5, "header: truncated");
    expect_refused(f, ref, 20, "header: truncated");
    expect_refused(f, ref, len - 1, "file: truncated");
    expect_refused(f, ref, 100, "file: truncated");

    b = edit_copy(ref, len);
    b[0] ^= 1;
    expect_refused(f, b, len, "header: wrong magic");
    memcpy(b, ref, len);
    snap_put16(b + 8, 2); /* major 2 */
    expect_refused(f, b, len, "header: format version 2.1 has another major version");
    snap_put16(b + 8, 0); /* major 0 */
    expect_refused(f, b, len, "format version 0.1");
    snap_put16(b + 8, 1);
    snap_put16(b + 10, 2); /* newer minor */
    expect_refused(f, b, len, "header: format version 1.2 is newer than this reader's 1.1");
    memcpy(b, ref, len);
    b[len - 1] ^= 0x80; /* file CRC */
    expect_refused(f, b, len, "file: CRC mismatch");
    memcpy(b, ref, len);
    b[SNAP_HDR_BYTES + 10] ^= 4; /* inside TRNS: its CRC, after fixing the file CRC */
    snap_put32(b + len - 4, crc32c(0, b, len - 4));
    expect_refused(f, b, len, "section: CRC mismatch in section at offset 24");
    free(b);

    /* A longer buffer than the header says. */
    b = malloc(len + 8);
    memcpy(b, ref, len);
    memset(b + len, 0, 8);
    expect_refused(f, b, len + 8, "file: wrong length");
    free(b);

    /* Flags, unknown tag, duplicate, missing sections, bad lengths. */
    b = edit_copy(ref, len);
    snap_put32(b + 12, 2);
    sfx_fix_crcs(b, len, 0);
    expect_refused(f, b, len, "header: unknown flags");
    memcpy(b, ref, len);
    snap_put32(b + 12, 1); /* says CONT, there is none */
    sfx_fix_crcs(b, len, 0);
    expect_refused(f, b, len, "content flag does not match");
    memcpy(b, ref, len);
    memcpy(b + SNAP_HDR_BYTES, "XXXX", 4);
    sfx_fix_crcs(b, len, 0);
    expect_refused(f, b, len, "section: unknown tag at offset 24");
    memcpy(b, ref, len);
    memcpy(b + SNAP_HDR_BYTES, "DEVC", 4); /* TRNS becomes a second DEVC */
    sfx_fix_crcs(b, len, 0);
    expect_refused(f, b, len, "DEVC: wrong length 24");
    memcpy(b, ref, len);
    len = sfx_remove(b, len, "TRNS", 0);
    expect_refused(f, b, len, "TRNS: missing");
    memcpy(b, ref, (len = snap_get64(ref + 16)));
    len = sfx_remove(b, len, "DEVC", 0);
    expect_refused(f, b, len, "DEVC: missing");
    memcpy(b, ref, (len = snap_get64(ref + 16)));
    len = sfx_remove(b, len, "MODL", 0);
    expect_refused(f, b, len, "MODL: missing");
    memcpy(b, ref, (len = snap_get64(ref + 16)));
    len = sfx_remove(b, len, "QUEU", 0);
    expect_refused(f, b, len, "QUEU: wrong queue count: 0 sections for 1 queues");
    free(b);

    /* A section length that runs past the end. */
    len = snap_get64(ref + 16);
    b = edit_copy(ref, len);
    snap_put32(b + SNAP_HDR_BYTES + 4, 0x10000);
    snap_put32(b + len - 4, crc32c(0, b, len - 4));
    expect_refused(f, b, len, "runs past the end");
    free(b);

    /* A duplicate section: the snapshot with its QUEU twice. */
    {
        uint32_t plen;
        uint8_t *q = sfx_find(ref, len, "QUEU", 0, &plen);
        size_t n = SNAP_SECT_OVERHEAD + plen, at = (size_t)(q - 8 - ref);

        b = malloc(len + n);
        memcpy(b, ref, at + n);
        memcpy(b + at + n, ref + at, len - at);
        sfx_fix_crcs(b, len + n, 1);
        expect_refused(f, b, len + n, "QUEU[0]: appears twice");
        free(b);
    }
    free(ref);
    vmmio_wake(f->m);
}

/* QUEU payload offsets (snapshot.h). */
#define Q_MAX 2
#define Q_SIZE 4
#define Q_READY 6
#define Q_FLAGS 7
#define Q_DESC 8
#define Q_AVAIL 16
#define Q_USED 24
#define Q_NEXT_AVAIL 32
#define Q_NEXT_USED 34
#define Q_NINFLIGHT 38

static void test_refuse_device(void **state)
{
    struct dev_fixture *f = *state;
    uint8_t *ref;
    size_t len;
    uint64_t avail = f->dev.avail_features;

    warm_up(f);
    vmmio_sleep(f->m);
    ref = save(f, 0, &len);
    /* DEVC: device_id 0, num_queues 4, flags 6, avail 8, acked 16, int 24. */
    expect_field_refused(f, ref, len, "DEVC", 0, 0, F32, VIRTIO_ID_NET,
                         "DEVC: wrong device type: snapshot of device id 1, this is blk (2)");
    expect_field_refused(f, ref, len, "DEVC", 0, 4, F16, 2, "DEVC: wrong queue count 2");
    expect_field_refused(f, ref, len, "DEVC", 0, 16, F64, f->dev.acked_features | (1ull << 50),
                         "DEVC: acked features");
    expect_field_refused(f, ref, len, "DEVC", 0, 16, F64, f->dev.acked_features | (1ull << 50),
                         "not a subset of available");
    expect_field_refused(f, ref, len, "DEVC", 0, 8, F64, avail | (1ull << 51),
                         "DEVC: available features");
    expect_field_refused(f, ref, len, "DEVC", 0, 6, F16, 4, "DEVC: unknown flags");
    expect_field_refused(f, ref, len, "DEVC", 0, 28, F32, 1, "DEVC: reserved field not zero");
    expect_field_refused(f, ref, len, "DEVC", 0, 24, F32, 4, "DEVC: unknown interrupt status");
    expect_field_refused(f, ref, len, "DEVC", 0, 24, F32, 2, "TRNS: interrupt status 0x1 differs");
    /* Activated without DRIVER_OK; DRIVER_OK without activation. */
    expect_field_refused(f, ref, len, "TRNS", 0, 12, F32, 0xf & ~VIRTIO_STATUS_DRIVER_OK,
                         "TRNS: device activated but DRIVER_OK not set");
    expect_field_refused(f, ref, len, "DEVC", 0, 6, F16, 0,
                         "TRNS: DRIVER_OK set but the device is not activated");
    expect_field_refused(f, ref, len, "TRNS", 0, 12, F32, 0x100 | 0xf,
                         "TRNS: unknown device status bits");
    expect_field_refused(f, ref, len, "TRNS", 0, 12, F32, 0x40 | 0xf,
                         "TRNS: DEVICE_NEEDS_RESET disagrees");
    /* The model's own state (blk: disk size). */
    expect_field_refused(f, ref, len, "MODL", 0, 0, F64, BLK_BYTES * 2,
                         "MODL: disk size differs from this device's");
    free(ref);
    vmmio_wake(f->m);
}

static void test_refuse_queue(void **state)
{
    struct dev_fixture *f = *state;
    struct vdq *q = &f->dev.queues[0].q;
    struct virtq_avail *avail;
    struct virtq_used *used;
    uint16_t saved_avail, saved_used;
    uint8_t *ref;
    size_t len;
    uint64_t desc = f->dev.queues[0].desc_gpa;

    warm_up(f);
    vmmio_sleep(f->m);
    ref = save(f, 0, &len);
    expect_field_refused(f, ref, len, "QUEU", 0, 0, F16, 9, "QUEU[9]: queue index above 7");
    expect_field_refused(f, ref, len, "QUEU", 0, 0, F16, 3, "QUEU[0]: missing");
    expect_field_refused(f, ref, len, "QUEU", 0, Q_MAX, F16, 128,
                         "QUEU[0]: max_size 128 differs from the device's 256");
    expect_field_refused(f, ref, len, "QUEU", 0, Q_SIZE, F16, 0,
                         "QUEU[0]: activated with an invalid queue: size 0");
    expect_field_refused(f, ref, len, "QUEU", 0, Q_SIZE, F16, 24,
                         "QUEU[0]: activated with an invalid queue: size 24");
    expect_field_refused(f, ref, len, "QUEU", 0, Q_SIZE, F16, 512,
                         "QUEU[0]: activated with an invalid queue: size 512");
    expect_field_refused(f, ref, len, "QUEU", 0, Q_READY, F8, 2, "QUEU[0]: ready is 2");
    expect_field_refused(f, ref, len, "QUEU", 0, Q_READY, F8, 0, "QUEU[0]: live flag disagrees");
    expect_field_refused(f, ref, len, "QUEU", 0, Q_FLAGS, F8, 0x20, "QUEU[0]: unknown flags");
    expect_field_refused(f, ref, len, "QUEU", 0, Q_FLAGS, F8, 0x1,
                         "QUEU[0]: ring flags disagree with the acked features");
    expect_field_refused(f, ref, len, "QUEU", 0, Q_DESC, F64, desc + 8, "QUEU[0]: misaligned ring");
    expect_field_refused(f, ref, len, "QUEU", 0, Q_AVAIL, F64, f->dev.queues[0].avail_gpa + 1,
                         "QUEU[0]: misaligned ring");
    expect_field_refused(f, ref, len, "QUEU", 0, Q_USED, F64, f->dev.queues[0].used_gpa + 2,
                         "QUEU[0]: misaligned ring");
    expect_field_refused(f, ref, len, "QUEU", 0, Q_DESC, F64, 0x1000,
                         "QUEU[0]: ring outside guest memory");
    expect_field_refused(f, ref, len, "QUEU", 0, Q_USED, F64, FX_GPA_BASE + FX_ARENA_SIZE - 8,
                         "QUEU[0]: ring outside guest memory");
    expect_field_refused(f, ref, len, "QUEU", 0, Q_AVAIL, F64, UINT64_MAX - 1,
                         "QUEU[0]: ring outside guest memory");
    expect_field_refused(f, ref, len, "QUEU", 0, Q_NEXT_AVAIL, F16, q->next_avail + QSIZE + 1,
                         "QUEU[0]: next_avail");
    expect_field_refused(f, ref, len, "QUEU", 0, Q_NEXT_AVAIL, F16, q->next_avail + 1,
                         "QUEU[0]: 0 chains in flight listed, next_avail - next_used is 1");

    /* The rings as the driver left them in guest memory. */
    avail = vdq_mem_translate(&f->fx.mem, f->dev.queues[0].avail_gpa, 4);
    used = vdq_mem_translate(&f->fx.mem, f->dev.queues[0].used_gpa, 4);
    saved_avail = avail->idx;
    saved_used = used->idx;
    avail->idx = (uint16_t)(q->next_avail + QSIZE + 1);
    expect_refused(f, ref, len, "QUEU[0]: avail idx 22 more than size 16 ahead of next_avail 5");
    avail->idx = (uint16_t)(q->next_avail - 1); /* backwards */
    expect_refused(f, ref, len, "QUEU[0]: avail idx 4 is behind next_avail 5");
    /* The driver went on after the snapshot: one more request used. */
    avail->idx = (uint16_t)(q->next_avail + 1);
    used->idx = (uint16_t)(q->next_avail + 1);
    expect_refused(f, ref, len, "QUEU[0]: used idx 6 is ahead of next_avail 5: the rings moved on");
    avail->idx = saved_avail;
    used->idx = (uint16_t)(q->next_avail - QSIZE - 1);
    expect_refused(f, ref, len, "QUEU[0]: next_avail 5 more than size 16 ahead of used idx");
    used->idx = saved_used;

    /* A queue that is not live carries no ring state. */
    {
        uint8_t *b = edit_copy(ref, len), *p;

        p = sfx_find(b, len, "DEVC", 0, NULL);
        snap_put16(p + 6, 0); /* not activated */
        p = sfx_find(b, len, "TRNS", 0, NULL);
        snap_put32(p + 12, 0xb); /* no DRIVER_OK */
        sfx_fix_crcs(b, len, 0);
        expect_refused(f, b, len, "QUEU[0]: live flag disagrees");
        p = sfx_find(b, len, "QUEU", 0, NULL);
        p[Q_FLAGS] = 0;
        sfx_fix_crcs(b, len, 0);
        expect_refused(f, b, len, "QUEU[0]: ring state on a queue that is not live");
        snap_put16(p + Q_NEXT_AVAIL, 0);
        snap_put16(p + Q_NEXT_USED, 0);
        snap_put16(p + 36, 0);
        snap_put16(p + Q_SIZE, 300);
        sfx_fix_crcs(b, len, 0);
        expect_refused(f, b, len, "QUEU[0]: size 300 above max_size 256");
        free(b);
    }
    free(ref);
    vmmio_wake(f->m);
}

/* In-flight heads (an async backend's snapshot): must be the avail entries
 * [next_used, next_avail); restore rewinds and processes them once. */
static void test_inflight(void **state)
{
    struct dev_fixture *f = *state;
    uint8_t *ref, *b, *p, *bufs[2];
    uint16_t heads[2];
    size_t len, n;
    unsigned i;
    struct rng_ref r = {.s = RNG_SEED, .used = 8};
    struct virtq_avail *avail;

    warm_up(f); /* 3 x 13 bytes consumed */
    for (i = 0; i < 39; i++)
        rng_ref_byte(&r);
    vmmio_sleep(f->m);
    bufs[0] = rng_submit(f, galloc(f, 8), 8, true);
    bufs[1] = rng_submit(f, galloc(f, 8), 8, true);
    ref = save(f, 0, &len);
    /* Pretend the device had popped both: next_avail += 2, heads listed. */
    avail = vdq_mem_translate(&f->fx.mem, f->dev.queues[0].avail_gpa, 4 + 2 * QSIZE);
    for (i = 0; i < 2; i++)
        heads[i] = avail->ring[(f->dev.queues[0].q.next_avail + i) % QSIZE];
    n = len + 4;
    b = malloc(n);
    memcpy(b, ref, len);
    p = sfx_find(b, n, "QUEU", 0, NULL);
    memmove(p + 44 + 4, p + 44, len - (size_t)(p + 44 - b)); /* after QUEU's crc */
    memmove(p + 40 + 4, p + 40, 4);                          /* its crc */
    snap_put32(p - 4, 44);
    snap_put16(p + Q_NEXT_AVAIL, (uint16_t)(snap_get16(p + Q_NEXT_AVAIL) + 2));
    snap_put16(p + Q_NINFLIGHT, 2);
    snap_put16(p + 40, heads[1]); /* wrong order first */
    snap_put16(p + 42, heads[0]);
    sfx_fix_crcs(b, n, 1);
    expect_refused(f, b, n, "QUEU[0]: in-flight head");
    snap_put16(p + 40, heads[0]);
    snap_put16(p + 42, heads[1]);
    sfx_fix_crcs(b, n, 1);
    replace_instance(f, b, n, true);
    while (vmmio_has_pending(f->m))
        vmmio_process(f->m);
    for (i = 0; i < 2; i++) {
        unsigned k;

        assert_int_equal(dfx_used(f, 0, bufs[i]), 8);
        for (k = 0; k < 8; k++)
            assert_int_equal(bufs[i][k], rng_ref_byte(&r));
    }
    assert_false(vq_has_used(f->vq[0]));
    free(ref);
    free(b);
}

/* The model blobs' own checks. */
static void test_refuse_model(void **state)
{
    struct dev_fixture *f = *state;
    uint8_t *ref;
    size_t len;

    warm_up(f);
    vmmio_sleep(f->m);
    ref = save(f, 0, &len);
    switch (fixture_kind) {
    case K_RNG:
        expect_field_refused(f, ref, len, "MODL", 0, 16, F32, 9,
                             "MODL: rng bytes used of the word above 8");
        expect_field_refused(f, ref, len, "MODL", 0, 20, F32, 1, "MODL: rng padding not zero");
        break;
    case K_NET:
        expect_field_refused(f, ref, len, "MODL", 0, 8, F32, 65, "MODL: net backlog holds more");
        expect_field_refused(f, ref, len, "MODL", 0, 8, F32, 2, "MODL: net state length");
        expect_field_refused(f, ref, len, "MODL", 0, 16, F32, 52, "MODL: net frame lengths");
        expect_field_refused(f, ref, len, "MODL", 0, 6, F8, 1, "MODL: net padding");
        break;
    case K_CON:
        expect_field_refused(f, ref, len, "MODL", 0, 0, F8, 2, "MODL: console echo flag");
        expect_field_refused(f, ref, len, "MODL", 0, 4, F32, 4097, "MODL: console buffer longer");
        expect_field_refused(f, ref, len, "MODL", 0, 4, F32, 1, "MODL: console state length");
        break;
    case K_PMEM:
        expect_field_refused(f, ref, len, "MODL", 0, 0, F64, PMEM_START + PMEM_SIZE,
                             "MODL: pmem region differs");
        break;
    default:
        break;
    }
    free(ref);
    vmmio_wake(f->m);
}

/* Content of the wrong size, or for a device without content. */
static void test_refuse_content(void **state)
{
    struct dev_fixture *f = *state;
    uint8_t *ref, *b;
    size_t len;

    warm_up(f);
    vmmio_sleep(f->m);
    ref = save(f, SNAP_F_CONTENT, &len);
    b = edit_copy(ref, len);
    len = sfx_remove(b, len, "CONT", 0);
    snap_put32(b + 12, 0);
    sfx_fix_crcs(b, len, 0);
    /* Without CONT it loads (the disk is left as it is). */
    assert_int_equal(snap_check(f->m, b, len, NULL, 0), 0);
    free(b);
    /* CONT shorter than the disk. */
    len = snap_get64(ref + 16);
    b = malloc(len);
    {
        uint32_t plen;
        uint8_t *c = sfx_find(ref, len, "CONT", 0, &plen);
        size_t at = (size_t)(c - ref); /* CONT is the last section */

        memcpy(b, ref, at);
        snap_put32(b + at - 4, 512);
        memcpy(b + at, c, 512);
        len = at + 512 + 4 + 4;
        sfx_fix_crcs(b, len, 1);
        expect_refused(f, b, len, "CONT: content is 512 bytes, the device's is 32768");
    }
    free(b);
    free(ref);
    vmmio_wake(f->m);
}

static void test_corruption(void **state)
{
    struct dev_fixture *f = *state;
    uint8_t *ref;
    size_t len;

    warm_up(f);
    vmmio_sleep(f->m);
    ref = save(f, 0, &len);
    corrupt_all(f, ref, len);
    free(ref);
    vmmio_wake(f->m);
}

/* ------------------------------------------------------------ lifecycle */

/* Asleep: a kick is remembered, nothing is written to guest memory, no
 * interrupt goes out; wake processes it and sends the held interrupt. */
static void test_sleep_wake(void **state)
{
    struct dev_fixture *f = *state;
    struct blk_req *r = galloc(f, sizeof(*r));
    uint8_t *d = galloc(f, 512), *copy;
    void *tok;
    uint32_t used_len;
    int irqs;

    warm_up(f);
    memset(d, 0x5a, 512);
    vmmio_sleep(f->m);
    assert_true(vmmio_is_asleep(f->m));
    blk_submit(f, r, VIRTIO_BLK_T_OUT, 7, d, 512, false);
    copy = malloc(FX_ARENA_SIZE);
    memcpy(copy, f->fx.arena, FX_ARENA_SIZE);
    irqs = f->interrupts;
    assert_int_equal(vq_kick(f->vq[0]), 0); /* the kick itself goes through */
    assert_int_equal(vmmio_process(f->m), 0);
    assert_false(vmmio_has_pending(f->m));
    /* A config change while asleep: status bit yes, interrupt no. */
    vmmio_config_changed(f->m);
    assert_true(vmmio_read(f->m, VIRTIO_MMIO_INTERRUPT_STATUS, 4) & VIRTIO_INT_CONFIG_CHANGE);
    assert_int_equal(f->interrupts, irqs);
    assert_memory_equal(copy, f->fx.arena, FX_ARENA_SIZE);
    assert_false(vq_has_used(f->vq[0]));
    free(copy);

    vmmio_wake(f->m);
    assert_false(vmmio_is_asleep(f->m));
    assert_true(f->interrupts > irqs); /* the held config interrupt */
    assert_true(vmmio_has_pending(f->m));
    vmmio_process(f->m);
    assert_int_equal(vq_get_buf(f->vq[0], &tok, &used_len), 0);
    assert_ptr_equal(tok, r);
    assert_int_equal(r->status, VIRTIO_BLK_S_OK);
    assert_memory_equal(blk_disk + 7 * 512, d, 512);
}

/* After a restore: avail_event re-published (EVENT_IDX) or NO_NOTIFY
 * cleared, and a request whose kick was lost with the old instance is
 * processed at wake. */
static void restore_republish(struct dev_fixture *f, bool event_idx)
{
    uint64_t feat = dfx_device_features(f);
    struct blk_req *r = galloc(f, sizeof(*r));
    uint8_t *d = galloc(f, 512), *ref;
    struct virtq_used *used;
    __le16 *avail_event;
    size_t len;
    void *tok;
    uint32_t ul;

    if (!event_idx)
        feat &= ~(1ull << VIRTIO_F_EVENT_IDX);
    dfx_start(f, feat, QSIZE);
    used = vdq_mem_translate(&f->fx.mem, f->dev.queues[0].used_gpa, virtq_used_size(QSIZE));
    avail_event = virtq_avail_event(used, QSIZE);
    vmmio_sleep(f->m);
    memset(d, 0x77, 512);
    blk_submit(f, r, VIRTIO_BLK_T_OUT, 3, d, 512, true); /* kick lost with the instance */
    ref = save(f, 0, &len);
    /* What a new boot's memory might hold. */
    *avail_event = 0x1234;
    used->flags = VIRTQ_USED_F_NO_NOTIFY;
    replace_instance(f, ref, len, false);
    assert_false(vmmio_has_pending(f->m));
    vmmio_wake(f->m);
    if (event_idx) {
        assert_int_equal(*avail_event, f->dev.queues[0].q.next_avail);
    } else {
        assert_int_equal(used->flags, 0);
    }
    assert_true(vmmio_has_pending(f->m)); /* every queue processed once */
    vmmio_process(f->m);
    assert_int_equal(vq_get_buf(f->vq[0], &tok, &ul), 0);
    assert_ptr_equal(tok, r);
    assert_int_equal(r->status, VIRTIO_BLK_S_OK);
    assert_memory_equal(blk_disk + 3 * 512, d, 512);
    if (event_idx)
        assert_int_equal(*avail_event, f->dev.queues[0].q.next_avail);
    free(ref);
}

static void test_restore_republish(void **state)
{
    restore_republish(*state, true);
    restore_republish(*state, false);
}

/* A restored interrupt that the driver had not acked goes out at wake. */
static void test_restore_interrupt(void **state)
{
    struct dev_fixture *f = *state;
    uint8_t *ref;
    size_t len;
    int irqs;

    warm_up(f);
    assert_true(vmmio_read(f->m, VIRTIO_MMIO_INTERRUPT_STATUS, 4) & VIRTIO_INT_USED_BUFFER);
    vmmio_sleep(f->m);
    ref = save(f, 0, &len);
    replace_instance(f, ref, len, false);
    irqs = f->interrupts;
    vmmio_wake(f->m);
    assert_int_equal(f->interrupts, irqs + 1);
    assert_true(f->last_int & VIRTIO_INT_USED_BUFFER);
    free(ref);
}

/* A queue the driver broke (avail idx jumped): the snapshot keeps it
 * broken and DEVICE_NEEDS_RESET set; a reset by the new driver recovers. */
static void test_broken_roundtrip(void **state)
{
    struct dev_fixture *f = *state;
    struct virtq_avail *avail;
    uint8_t *a, *b;
    size_t la, lb;

    warm_up(f);
    avail = vdq_mem_translate(&f->fx.mem, f->dev.queues[0].avail_gpa, 4);
    avail->idx = (uint16_t)(avail->idx + QSIZE + 3);
    dfx_wr(f, VIRTIO_MMIO_QUEUE_NOTIFY, 0);
    vmmio_process(f->m);
    assert_true(vdq_is_broken(&f->dev.queues[0].q));
    assert_true(dfx_rd(f, VIRTIO_MMIO_STATUS) & VIRTIO_STATUS_DEVICE_NEEDS_RESET);
    vmmio_sleep(f->m);
    a = save(f, 0, &la);
    replace_instance(f, a, la, false);
    b = save(f, 0, &lb);
    assert_int_equal(la, lb);
    assert_memory_equal(a, b, la);
    vmmio_wake(f->m);
    assert_true(vdq_is_broken(&f->dev.queues[0].q));
    assert_true(dfx_rd(f, VIRTIO_MMIO_STATUS) & VIRTIO_STATUS_DEVICE_NEEDS_RESET);
    free(a);
    free(b);
    warm_up(f); /* reset + re-init by the driver, traffic again */
    assert_false(dfx_rd(f, VIRTIO_MMIO_STATUS) & VIRTIO_STATUS_DEVICE_NEEDS_RESET);
}

/* vmmio_rebind(): a new instance behind the same register file (what the
 * kernel does), restored, used, then swapped back. */
static void test_rebind(void **state)
{
    struct dev_fixture *f = *state;
    struct vdev *nd = calloc(1, sizeof(*nd));
    struct blk_req *r = galloc(f, sizeof(*r));
    uint8_t *d = galloc(f, 512), *snap;
    char err[256];
    size_t len;
    void *tok;
    uint32_t ul;

    warm_up(f);
    vmmio_sleep(f->m);
    snap = save(f, 0, &len);
    assert_int_equal(vdev_blk_create(nd, &f->fx.mem, blk_disk, BLK_BYTES, NULL), 0);
    assert_ptr_equal(vmmio_rebind(f->m, nd), &f->dev);
    vdev_destroy(&f->dev);
    assert_ptr_equal(vmmio_vdev(f->m), nd);
    assert_true(vmmio_is_asleep(f->m));
    assert_int_equal(dfx_rd(f, VIRTIO_MMIO_STATUS), 0); /* fresh transport state */
    assert_int_equal(snap_restore(f->m, snap, len, err, sizeof(err)), 0);
    assert_int_equal(dfx_rd(f, VIRTIO_MMIO_STATUS), 0xf);
    vmmio_wake(f->m);
    memset(d, 0x3c, 512);
    blk_submit(f, r, VIRTIO_BLK_T_OUT, 9, d, 512, true);
    vmmio_process(f->m);
    assert_int_equal(vq_get_buf(f->vq[0], &tok, &ul), 0);
    assert_ptr_equal(tok, r);
    assert_memory_equal(blk_disk + 9 * 512, d, 512);
    free(snap);
    /* And back into the fixture's own vdev. */
    vmmio_sleep(f->m);
    snap = save(f, 0, &len);
    model_create(f, K_BLK);
    assert_ptr_equal(vmmio_rebind(f->m, &f->dev), nd);
    vdev_destroy(nd);
    free(nd);
    assert_int_equal(snap_restore(f->m, snap, len, err, sizeof(err)), 0);
    vmmio_wake(f->m);
    free(snap);
    warm_up(f);
}

/* Another boot: a new instance with its own driver session; only the
 * model's state and content come from the snapshot. */
static void test_restore_model(void **state)
{
    struct dev_fixture *f = *state;
    struct rng_ref r = {.s = RNG_SEED, .used = 8};
    uint8_t *snap, *b, *bad;
    char err[256];
    size_t len;
    unsigned i;

    warm_up(f); /* 39 bytes of the stream handed out */
    for (i = 0; i < 39; i++)
        rng_ref_byte(&r);
    vmmio_sleep(f->m);
    snap = save(f, 0, &len);
    vmmio_destroy(f->m);
    vdev_destroy(&f->dev);
    model_create(f, K_RNG);
    dfx_attach(f);
    dfx_start(f, dfx_device_features(f), 8); /* rings elsewhere, size 8 */
    vmmio_sleep(f->m);
    /* The model restore takes the generator state only (the device type
     * is still checked). */
    bad = edit_copy(snap, len);
    snap_put32(sfx_find(bad, len, "DEVC", 0, NULL), VIRTIO_ID_BLOCK);
    sfx_fix_crcs(bad, len, 0);
    assert_int_equal(snap_restore_model(f->m, bad, len, err, sizeof(err)), -EINVAL);
    assert_non_null(strstr(err, "DEVC: wrong device type"));
    assert_int_equal(snap_check_model(f->m, bad, len, err, sizeof(err)), -EINVAL);
    assert_int_equal(snap_check_model(f->m, snap, len, err, sizeof(err)), 0);
    free(bad);
    assert_int_equal(snap_restore_model(f->m, snap, len, err, sizeof(err)), 0);
    assert_int_equal(f->dev.queues[0].size, 8);
    vmmio_wake(f->m);
    b = rng_submit(f, galloc(f, 16), 16, true);
    vmmio_process(f->m);
    assert_int_equal(dfx_used(f, 0, b), 16);
    for (i = 0; i < 16; i++)
        assert_int_equal(b[i], rng_ref_byte(&r));
    free(snap);
}

static void test_restore_model_content(void **state)
{
    struct dev_fixture *f = *state;
    uint8_t *snap, *copy = malloc(BLK_BYTES);
    struct blk_req *r;
    uint8_t *d;
    char err[256];
    size_t len;
    void *tok;
    uint32_t ul;

    warm_up(f);
    memcpy(copy, blk_disk, BLK_BYTES);
    vmmio_sleep(f->m);
    snap = save(f, SNAP_F_CONTENT, &len);
    vmmio_destroy(f->m);
    vdev_destroy(&f->dev);
    memset(blk_disk, 0, BLK_BYTES); /* a new boot's RAM disk */
    model_create(f, K_BLK);
    dfx_attach(f);
    dfx_start(f, dfx_device_features(f), 32);
    vmmio_sleep(f->m);
    assert_int_equal(snap_restore_model(f->m, snap, len, err, sizeof(err)), 0);
    assert_memory_equal(blk_disk, copy, BLK_BYTES);
    vmmio_wake(f->m);
    r = galloc(f, sizeof(*r));
    d = galloc(f, 512);
    blk_submit(f, r, VIRTIO_BLK_T_IN, 2, d, 512, true);
    vmmio_process(f->m);
    assert_int_equal(vq_get_buf(f->vq[0], &tok, &ul), 0);
    assert_int_equal(r->status, VIRTIO_BLK_S_OK);
    assert_memory_equal(d, copy + 2 * 512, 512);
    free(snap);
    free(copy);
}

#define T(fn, setup) cmocka_unit_test_setup_teardown(fn, setup, teardown)

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_crc32c),
        T(test_roundtrip, setup_blk),
        T(test_roundtrip, setup_net),
        T(test_roundtrip, setup_rng),
        T(test_roundtrip, setup_con),
        T(test_roundtrip, setup_pmem),
        T(test_save_errors, setup_blk),
        T(test_refuse_format, setup_blk),
        T(test_refuse_device, setup_blk),
        T(test_refuse_queue, setup_blk),
        T(test_inflight, setup_rng),
        T(test_refuse_model, setup_blk),
        T(test_refuse_model, setup_net),
        T(test_refuse_model, setup_rng),
        T(test_refuse_model, setup_con),
        T(test_refuse_model, setup_pmem),
        T(test_refuse_content, setup_blk),
        T(test_corruption, setup_blk),
        T(test_corruption, setup_net),
        T(test_corruption, setup_rng),
        T(test_corruption, setup_con),
        T(test_corruption, setup_pmem),
        T(test_sleep_wake, setup_blk),
        T(test_restore_republish, setup_blk),
        T(test_restore_interrupt, setup_blk),
        T(test_rebind, setup_blk),
        T(test_broken_roundtrip, setup_blk),
        T(test_restore_model, setup_rng),
        T(test_restore_model_content, setup_blk),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
