/* SPDX-License-Identifier: Apache-2.0 */
/*
 * persist.c - in-image persistence of the loopback devices (see persist.h):
 * one device's snapshot point (persist_cycle) and the bundles of all five.
 * The traffic-with-snapshot-points stress is persist_stress.c.
 *
 * Invariants:
 *  - a snapshot point runs on CPU 0 with interrupts off: the drivers (also
 *    CPU 0) make no register access in the middle of it, while CPU 1 may be
 *    processing until vmmio_sleep() returns and processes nothing after;
 *  - instances: each device starts on loopback.c's own vdev; new instances
 *    live in two slots per device used alternately, so the instance just
 *    replaced is destroyed (its model state freed) but its memory stays
 *    valid for a lock-free reader on CPU 1 that loaded the old pointer an
 *    instant before vmmio_rebind();
 *  - a restore never fails after validation (snap_restore is two-phase);
 *    if it did, the error is returned and the device is a fresh instance.
 */
#include "kernel/virtio/persist.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "crc32c.h"
#include "kernel.h"
#include "kernel/virtio/loopback.h"
#include "snap_le.h"
#include "snapshot.h"
#include "vdev.h"
#include "virtio.h"
#include "vmmio.h"
#include "x86.h"

#define RFLAGS_IF (1u << 9)

static const char *const persist_names[PERSIST_NDEV] = {"lblk0", "lnet0", "lrng0", "lcon0",
                                                        "lpmem0"};
static struct vdev *slots[PERSIST_NDEV][2];

static int persist_index(struct virtio_device *dev)
{
    for (int i = 0; i < PERSIST_NDEV; i++) {
        if (!strcmp(dev->name, persist_names[i]))
            return i;
    }
    return -1;
}

static void set_err(char *err, size_t errlen, const char *msg, const char *name)
{
    if (err && errlen)
        snprintf(err, errlen, "%s: %s", name, msg);
}

/* A slot that is not the current instance (allocated on first use). */
static struct vdev *spare_instance(int idx, struct vmmio *m)
{
    struct vdev *cur = vmmio_vdev(m);

    for (int s = 0; s < 2; s++) {
        if (slots[idx][s] == cur)
            continue;
        if (!slots[idx][s])
            slots[idx][s] = calloc(1, sizeof(struct vdev));
        return slots[idx][s];
    }
    return NULL;
}

/* Interrupts off, device asleep: replace m's instance and restore buf. */
static int replace_and_restore(struct virtio_device *dev, struct vmmio *m, const uint8_t *buf,
                               size_t len, char *err, size_t errlen)
{
    int idx = persist_index(dev);
    struct vdev *nd, *old;
    int rc;

    if (idx < 0)
        return -ENODEV;
    nd = spare_instance(idx, m);
    if (!nd) {
        set_err(err, errlen, "out of memory", dev->name);
        return -ENOMEM;
    }
    rc = loopback_model_create(dev, nd);
    if (rc) {
        set_err(err, errlen, "model create failed", dev->name);
        return rc;
    }
    /* The new instance offers what the one it replaces did (restore wants
     * the same available features): VIRTIO_F_RING_PACKED, format 1.1. */
    vdev_set_offer_packed(nd, (vmmio_vdev(m)->avail_features >> VIRTIO_F_RING_PACKED) & 1);
    old = vmmio_rebind(m, nd);
    if (!old) {
        vdev_destroy(nd);
        set_err(err, errlen, "rebind refused", dev->name);
        return -EINVAL;
    }
    vdev_destroy(old);
    return snap_restore(m, buf, len, err, errlen);
}

static uint8_t *save_alloc(struct vmmio *m, unsigned flags, size_t *len)
{
    size_t n = snap_size(m, flags);
    uint8_t *b = malloc(n ? n : 1);

    if (b && snap_save(m, flags, b, n, len)) {
        free(b);
        return NULL;
    }
    return b;
}

int persist_cycle(struct virtio_device *dev, bool check_identical, char *err, size_t errlen,
                  uint64_t *asleep_ns)
{
    struct vmmio *m = loopback_vmmio(dev);
    uint64_t flags = read_rflags(), t0;
    uint8_t *a = NULL, *b = NULL;
    size_t la = 0, lb = 0;
    int rc = 0;

    if (!m)
        return -ENODEV;
    irq_disable();
    t0 = timer_ns();
    vmmio_sleep(m);
    a = save_alloc(m, 0, &la);
    if (!a) {
        set_err(err, errlen, "save failed", dev->name);
        rc = -ENOMEM;
        goto out_wake;
    }
    rc = replace_and_restore(dev, m, a, la, err, errlen);
    if (rc)
        goto out_wake;
    if (check_identical) {
        b = save_alloc(m, 0, &lb);
        if (!b || la != lb || memcmp(a, b, la)) {
            set_err(err, errlen, "save -> restore -> save differs", dev->name);
            rc = -EIO;
        }
    }
out_wake:
    vmmio_wake(m);
    if (asleep_ns)
        *asleep_ns = timer_ns() - t0;
    if (flags & RFLAGS_IF)
        irq_enable();
    free(a);
    free(b);
    return rc;
}

/* ---- bundles ---- */

/* Tells this boot's bundles from others': the TSC at the first call (and
 * the timer), different in every boot in practice. */
static uint64_t persist_boot_id(void)
{
    static uint64_t id;

    if (!id) {
        uint32_t lo, hi;

        __asm__ volatile("rdtsc" : "=a"(lo), "=d"(hi));
        id = ((uint64_t)hi << 32 | lo) ^ (timer_ns() << 17) ^ 0x5deece66dull;
        if (!id)
            id = 1;
    }
    return id;
}

struct virtio_device *persist_dev(int i)
{
    return virtio_find(persist_names[i]);
}

int persist_save_all(unsigned flags, uint8_t **out, size_t *len)
{
    uint8_t *snap[PERSIST_NDEV] = {0}, *b, *p;
    size_t slen[PERSIST_NDEV] = {0}, total = PERSIST_BUNDLE_HDR + 4;
    int i, rc = 0;

    if (loopback_init())
        return -ENODEV;
    for (i = 0; i < PERSIST_NDEV; i++) {
        struct vmmio *m = loopback_vmmio(persist_dev(i));

        vmmio_sleep(m);
        snap[i] = save_alloc(m, flags, &slen[i]);
        vmmio_wake(m);
        if (!snap[i]) {
            rc = -ENOMEM;
            goto out;
        }
        total += 24 + slen[i];
    }
    b = malloc(total);
    if (!b) {
        rc = -ENOMEM;
        goto out;
    }
    memcpy(b, PERSIST_BUNDLE_MAGIC, 8);
    snap_put32(b + 8, PERSIST_NDEV);
    snap_put32(b + 12, flags);
    snap_put64(b + 16, total);
    snap_put64(b + 24, persist_boot_id());
    p = b + PERSIST_BUNDLE_HDR;
    for (i = 0; i < PERSIST_NDEV; i++) {
        memset(p, 0, 16);
        memcpy(p, persist_names[i], strlen(persist_names[i]));
        snap_put64(p + 16, slen[i]);
        memcpy(p + 24, snap[i], slen[i]);
        p += 24 + slen[i];
    }
    snap_put32(p, crc32c(0, b, total - 4));
    *out = b;
    *len = total;
out:
    for (i = 0; i < PERSIST_NDEV; i++)
        free(snap[i]);
    return rc;
}

struct bundle_entry {
    struct virtio_device *dev;
    const uint8_t *snap;
    size_t len;
};

/* Parse and check the bundle's framing; entries[i] for device i. */
static int bundle_parse(const uint8_t *buf, size_t len, struct bundle_entry *e, char *err,
                        size_t errlen)
{
    size_t off = PERSIST_BUNDLE_HDR;
    uint32_t count, k;

    memset(e, 0, PERSIST_NDEV * sizeof(*e));
    if (len < PERSIST_BUNDLE_HDR + 4 || memcmp(buf, PERSIST_BUNDLE_MAGIC, 8)) {
        set_err(err, errlen, "not a snapshot bundle (magic or length)", "bundle");
        return -EINVAL;
    }
    if (snap_get64(buf + 16) != len) {
        set_err(err, errlen, "length differs from its header", "bundle");
        return -EINVAL;
    }
    if (crc32c(0, buf, len - 4) != snap_get32(buf + len - 4)) {
        set_err(err, errlen, "CRC mismatch", "bundle");
        return -EINVAL;
    }
    count = snap_get32(buf + 8);
    if (count != PERSIST_NDEV) {
        set_err(err, errlen, "wrong device count", "bundle");
        return -EINVAL;
    }
    for (k = 0; k < count; k++) {
        char name[17];
        uint64_t n;
        int i;

        if (len - 4 - off < 24) {
            set_err(err, errlen, "truncated entry", "bundle");
            return -EINVAL;
        }
        memcpy(name, buf + off, 16);
        name[16] = 0;
        n = snap_get64(buf + off + 16);
        if (n > len - 4 - off - 24) {
            set_err(err, errlen, "entry runs past the end", "bundle");
            return -EINVAL;
        }
        for (i = 0; i < PERSIST_NDEV && strcmp(name, persist_names[i]); i++)
            ;
        if (i == PERSIST_NDEV || e[i].snap) {
            set_err(err, errlen, "unknown or repeated device", "bundle");
            return -EINVAL;
        }
        e[i].dev = persist_dev(i);
        e[i].snap = buf + off + 24;
        e[i].len = (size_t)n;
        off += 24 + (size_t)n;
    }
    if (off != len - 4) {
        set_err(err, errlen, "bytes after the last entry", "bundle");
        return -EINVAL;
    }
    return 0;
}

/*
 * Same boot: the drivers are live and their rings are this kernel's memory.
 * A snapshot is only restored onto the driver session it was taken from:
 * the same acked features and, per queue, the same readiness, size and ring
 * addresses. Otherwise (the driver re-initialised its queues since) the
 * old ring addresses may be memory the kernel has reused, and a device
 * writing used entries there would corrupt it. Checked before snap_check,
 * so this, the more telling reason, is what the user sees: every length is
 * bounds-checked here too, and a malformed snapshot gives NULL here and is
 * refused by snap_check.
 */
static const char *persist_session_mismatch(struct vmmio *m, const uint8_t *snap, size_t len)
{
    const struct vdev *d = vmmio_vdev(m);
    size_t off = SNAP_HDR_BYTES;

    if (len < SNAP_HDR_BYTES + SNAP_TRAILER_BYTES)
        return NULL;
    while (off + SNAP_SECT_OVERHEAD <= len - SNAP_TRAILER_BYTES) {
        const uint8_t *p = snap + off + 8;
        uint32_t plen = snap_get32(snap + off + 4);

        if (plen > len - SNAP_TRAILER_BYTES - off - SNAP_SECT_OVERHEAD)
            return NULL;
        if (!memcmp(snap + off, "DEVC", 4) && plen >= 24 && snap_get64(p + 16) != d->acked_features)
            return "the driver negotiated other features since this snapshot";
        if (!memcmp(snap + off, "QUEU", 4) && plen >= 32) {
            const struct vdev_queue *vq = &d->queues[snap_get16(p) % VDEV_MAX_QUEUES];

            if (p[6] != vq->ready || snap_get16(p + 4) != vq->size ||
                snap_get64(p + 8) != vq->desc_gpa || snap_get64(p + 16) != vq->avail_gpa ||
                snap_get64(p + 24) != vq->used_gpa)
                return "the driver re-initialised its queues since this snapshot";
        }
        off += SNAP_SECT_OVERHEAD + plen;
    }
    return NULL;
}

int persist_restore_all(const uint8_t *buf, size_t len, char *err, size_t errlen, bool *other_boot)
{
    struct bundle_entry e[PERSIST_NDEV];
    uint64_t flags = read_rflags();
    bool foreign;
    char why[160];
    int i, rc;

    if (loopback_init())
        return -ENODEV;
    rc = bundle_parse(buf, len, e, err, errlen);
    if (rc)
        return rc;
    foreign = snap_get64(buf + 24) != persist_boot_id();
    if (other_boot)
        *other_boot = foreign;
    irq_disable();
    for (i = 0; i < PERSIST_NDEV; i++)
        vmmio_sleep(loopback_vmmio(e[i].dev));
    /* Everything checked before anything changes. */
    for (i = 0; i < PERSIST_NDEV; i++) {
        struct vmmio *m = loopback_vmmio(e[i].dev);

        const char *mismatch = foreign ? NULL : persist_session_mismatch(m, e[i].snap, e[i].len);

        if (mismatch) {
            set_err(err, errlen, mismatch, persist_names[i]);
            rc = -EINVAL;
            goto out_wake;
        }
        if (foreign)
            rc = snap_check_model(m, e[i].snap, e[i].len, why, sizeof(why));
        else
            rc = snap_check(m, e[i].snap, e[i].len, why, sizeof(why));
        if (rc) {
            set_err(err, errlen, why, persist_names[i]);
            goto out_wake;
        }
    }
    if (foreign) {
        /* Model state + content only (all checked above). */
        for (i = 0; i < PERSIST_NDEV; i++) {
            rc =
                snap_restore_model(loopback_vmmio(e[i].dev), e[i].snap, e[i].len, why, sizeof(why));
            if (rc) {
                set_err(err, errlen, why, persist_names[i]);
                goto out_wake;
            }
        }
        goto out_wake;
    }
    for (i = 0; i < PERSIST_NDEV; i++) {
        rc = replace_and_restore(e[i].dev, loopback_vmmio(e[i].dev), e[i].snap, e[i].len, err,
                                 errlen);
        if (rc)
            goto out_wake;
    }
out_wake:
    for (i = 0; i < PERSIST_NDEV; i++)
        vmmio_wake(loopback_vmmio(e[i].dev));
    if (flags & RFLAGS_IF)
        irq_enable();
    return rc;
}
