/* SPDX-License-Identifier: Apache-2.0 */
/*
 * test_persist.c - suite "persist" (issue 6): the loopback devices' device
 * side (CPU 1) put to sleep, snapshotted, destroyed, restored into a new
 * instance and woken while the drivers (CPU 0) carry on:
 *  - every device: save -> restore -> save gives identical bytes, and the
 *    device works after it;
 *  - a bundle of all five saved and restored; a corrupted bundle, and one
 *    with a corrupted device snapshot inside (CRCs fixed), refused with
 *    nothing changed;
 *  - traffic: blk, net and pmem with sequence-numbered requests and
 *    snapshot points at random moments on random devices: 0 lost, 0
 *    duplicated, data verified (kernel/virtio/persist_stress.c). The counts are
 *    PERSIST_TEST_REQUESTS / PERSIST_TEST_SNAPSHOTS; `snapshot stress`
 *    runs bigger ones;
 *  - packed: the five drivers re-initialised on packed rings (the loopback
 *    models offer VIRTIO_F_RING_PACKED, dev->want_packed picks it; format
 *    1.1): save -> restore -> save identical, blk works, a shorter traffic
 *    run with 0 lost / duplicated / corrupt; then back to split.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "crc32c.h"
#include "kernel.h"
#include "kernel/tests/ktest.h"
#include "kernel/virtio/loopback.h"
#include "kernel/virtio/persist.h"
#include "snap_le.h"
#include "snapshot.h"
#include "virtio.h"
#include "virtio_blk.h"
#include "virtio_rng.h"
#include "vdev.h"
#include "vmmio.h"

#define PERSIST_TEST_REQUESTS 100000
#define PERSIST_TEST_SNAPSHOTS 1000

static const char *const tp_names[5] = {"lblk0", "lnet0", "lrng0", "lcon0", "lpmem0"};

static bool tp_ready(struct ktest *t)
{
    if (loopback_init()) {
        ktest_skip(t, "no loopback devices (needs a second CPU)");
        return false;
    }
    return true;
}

/* A blk write + read back through the (restored) device. */
static bool tp_blk_works(struct ktest *t, uint32_t seed)
{
    struct virtio_blk *blk = virtio_find("lblk0")->driver_priv;
    uint8_t w[512], r[512];
    int rc;

    for (unsigned i = 0; i < sizeof(w); i++)
        w[i] = (uint8_t)(seed + i * 3);
    rc = virtio_blk_write(blk, 77, w, 1);
    if (!rc)
        rc = virtio_blk_read(blk, 77, r, 1);
    if (rc || memcmp(w, r, sizeof(w))) {
        ktest_fail(t, __FILE__, __LINE__, "blk after restore: %d / data differs", rc);
        return false;
    }
    return true;
}

static void test_cycle_identical(struct ktest *t)
{
    char err[160];
    int rc;

    if (!tp_ready(t))
        return;
    for (unsigned round = 0; round < 4; round++) {
        for (unsigned i = 0; i < 5; i++) {
            rc = persist_cycle(virtio_find(tp_names[i]), true, err, sizeof(err), NULL);
            if (rc)
                KT_FAIL(t, "%s round %u: %d %s", tp_names[i], round, rc, err);
        }
        if (!tp_blk_works(t, round))
            return;
    }
}

static void test_bundle(struct ktest *t)
{
    uint8_t *b = NULL, *b2 = NULL;
    size_t len = 0, len2 = 0;
    char err[160];
    int rc;

    if (!tp_ready(t))
        return;
    rc = persist_save_all(0, &b, &len);
    if (rc)
        KT_FAIL(t, "save_all: %d", rc);
    rc = persist_restore_all(b, len, err, sizeof(err), NULL);
    if (rc) {
        free(b);
        KT_FAIL(t, "restore_all: %d %s", rc, err);
    }
    /* Nothing moved meanwhile: saving again gives the same bundle. */
    rc = persist_save_all(0, &b2, &len2);
    if (rc || len2 != len || memcmp(b, b2, len)) {
        free(b);
        free(b2);
        KT_FAIL(t, "save -> restore -> save of the bundle differs (%d)", rc);
    }
    free(b2);
    /* A flipped bit: refused, the devices keep working. */
    b[len / 2] ^= 0x10;
    rc = persist_restore_all(b, len, err, sizeof(err), NULL);
    if (rc != -EINVAL) {
        free(b);
        KT_FAIL(t, "corrupt bundle: %d (want -EINVAL)", rc);
    }
    ktest_diag("corrupt bundle refused: %s", err);
    b[len / 2] ^= 0x10;
    /* A device snapshot that passes its CRCs but not validation (the blk
     * queue's flags with an unknown bit), bundle CRC fixed: refused as a whole. */
    {
        uint8_t *s = b + PERSIST_BUNDLE_HDR + 24; /* lblk0 comes first */
        size_t slen = (size_t)snap_get64(b + PERSIST_BUNDLE_HDR + 16), off = SNAP_HDR_BYTES;

        while (off + 12 <= slen - 4 && memcmp(s + off, "QUEU", 4))
            off += 12 + snap_get32(s + off + 4);
        if (off + 12 > slen - 4) {
            free(b);
            KT_FAIL(t, "no QUEU section in the blk snapshot");
        }
        s[off + 8 + 7] |= 0x20; /* QUEU flags: an unknown bit (0x10 is packed, 1.1) */
        snap_put32(s + off + 8 + snap_get32(s + off + 4),
                   crc32c(0, s + off, 8 + snap_get32(s + off + 4)));
        snap_put32(s + slen - 4, crc32c(0, s, slen - 4));
        snap_put32(b + len - 4, crc32c(0, b, len - 4));
        rc = persist_restore_all(b, len, err, sizeof(err), NULL);
        if (rc != -EINVAL || !strstr(err, "lblk0") || !strstr(err, "QUEU[0]: unknown flags")) {
            free(b);
            KT_FAIL(t, "invalid queue: %d '%s'", rc, err);
        }
        ktest_diag("invalid blk snapshot refused: %s", err);
    }
    free(b);
    if (!tp_blk_works(t, 99))
        return;
    /* The driver re-initialises its queues (another mode): a snapshot of
     * the old session is refused, nothing changes. */
    {
        struct virtio_device *blkdev = virtio_find("lblk0");

        rc = persist_save_all(0, &b, &len);
        if (rc)
            KT_FAIL(t, "save_all: %d", rc);
        rc = loopback_set_mode(blkdev, false, false, 64);
        if (!rc)
            rc = persist_restore_all(b, len, err, sizeof(err), NULL);
        free(b);
        if (rc != -EINVAL || !strstr(err, "lblk0: the driver")) {
            loopback_set_mode(blkdev, false, true, 0);
            KT_FAIL(t, "restore onto a new driver session: %d '%s'", rc, err);
        }
        ktest_diag("stale session refused: %s", err);
        rc = loopback_set_mode(blkdev, false, true, 0);
        if (rc)
            KT_FAIL(t, "back to the default mode: %d", rc);
        tp_blk_works(t, 123);
    }
}

static void test_traffic(struct ktest *t)
{
    struct persist_report r;
    char err[200] = "";
    int rc;

    if (!tp_ready(t))
        return;
    rc = persist_stress(PERSIST_TEST_SNAPSHOTS, PERSIST_TEST_REQUESTS, false, &r, err, sizeof(err));
    ktest_diag("%llu snapshot points; blk %llu, net %llu, pmem %llu requests; lost %llu, "
               "duplicated %llu, corrupt %llu; %llu ms; longest sleep %llu us",
               (unsigned long long)r.snapshots, (unsigned long long)r.blk_requests,
               (unsigned long long)r.net_frames, (unsigned long long)r.pmem_flushes,
               (unsigned long long)r.lost, (unsigned long long)r.duplicated,
               (unsigned long long)r.bad_data, (unsigned long long)(r.ns / 1000000),
               (unsigned long long)(r.max_asleep_ns / 1000));
    if (rc)
        KT_FAIL(t, "%s", err);
    KT_ASSERT(t, r.snapshots >= PERSIST_TEST_SNAPSHOTS);
    KT_ASSERT(t, r.blk_requests + r.net_frames + r.pmem_flushes >= PERSIST_TEST_REQUESTS);
    KT_ASSERT_EQ(t, r.lost + r.duplicated + r.bad_data, 0);
}

#define PERSIST_PACKED_REQUESTS 20000
#define PERSIST_PACKED_SNAPSHOTS 200

static void tp_offer_locked(struct vdev *d, void *arg)
{
    vdev_set_offer_packed(d, *(bool *)arg);
}

/* Every loopback driver on packed (on) or split rings again: 0 or an error
 * already reported. The models offer VIRTIO_F_RING_PACKED as offer says (a
 * reset keeps the offer; persist's new instances copy it). */
static int tp_set_packed(struct ktest *t, bool on, bool offer)
{
    for (unsigned i = 0; i < 5; i++) {
        struct virtio_device *dev = virtio_find(tp_names[i]);
        struct vdev *d;
        int rc;

        if (!dev) {
            ktest_fail(t, __FILE__, __LINE__, "%s not found", tp_names[i]);
            return -ENODEV;
        }
        dev->want_packed = on;
        vmmio_run_locked(loopback_vmmio(dev), tp_offer_locked, &offer);
        rc = loopback_set_mode(dev, false, true, 0); /* the default mode, re-init */
        d = loopback_vdev(dev);
        if (rc || !d || vdev_has_feature(d, VIRTIO_F_RING_PACKED) != on) {
            ktest_fail(t, __FILE__, __LINE__, "%s: re-init %s: %d (RING_PACKED acked: %d)",
                       tp_names[i], on ? "packed" : "split", rc,
                       d ? vdev_has_feature(d, VIRTIO_F_RING_PACKED) : -1);
            return rc ? rc : -EIO;
        }
    }
    return 0;
}

static void test_packed(struct ktest *t)
{
    struct persist_report r;
    char err[200] = "";
    bool offered;
    int rc;

    if (!tp_ready(t))
        return;
    offered = (loopback_vdev(virtio_find("lblk0"))->avail_features >> VIRTIO_F_RING_PACKED) & 1;
    if (tp_set_packed(t, true, true))
        goto out;
    for (unsigned round = 0; round < 3; round++) {
        for (unsigned i = 0; i < 5; i++) {
            rc = persist_cycle(virtio_find(tp_names[i]), true, err, sizeof(err), NULL);
            if (rc) {
                ktest_fail(t, __FILE__, __LINE__, "packed %s round %u: %d %s", tp_names[i], round,
                           rc, err);
                goto out;
            }
        }
        if (!tp_blk_works(t, 200 + round))
            goto out;
    }
    rc = persist_stress(PERSIST_PACKED_SNAPSHOTS, PERSIST_PACKED_REQUESTS, false, &r, err,
                        sizeof(err));
    ktest_diag("packed: %llu snapshot points; blk %llu, net %llu, pmem %llu requests; lost %llu, "
               "duplicated %llu, corrupt %llu",
               (unsigned long long)r.snapshots, (unsigned long long)r.blk_requests,
               (unsigned long long)r.net_frames, (unsigned long long)r.pmem_flushes,
               (unsigned long long)r.lost, (unsigned long long)r.duplicated,
               (unsigned long long)r.bad_data);
    if (rc)
        ktest_fail(t, __FILE__, __LINE__, "packed traffic: %s", err);
    else if (r.snapshots < PERSIST_PACKED_SNAPSHOTS || r.lost + r.duplicated + r.bad_data)
        ktest_fail(t, __FILE__, __LINE__, "packed traffic: %llu snapshots, %llu lost/dup/bad",
                   (unsigned long long)r.snapshots,
                   (unsigned long long)(r.lost + r.duplicated + r.bad_data));
out:
    if (!tp_set_packed(t, false, offered))
        tp_blk_works(t, 250);
}

KTEST_SUITE(persist_suite, "persist", {"cycle_identical", test_cycle_identical},
            {"bundle", test_bundle}, {"traffic", test_traffic}, {"packed", test_packed});
