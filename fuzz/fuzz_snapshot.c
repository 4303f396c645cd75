/* SPDX-License-Identifier: Apache-2.0 */
/*
 * fuzz_snapshot.c - libFuzzer target for snapshot restore: arbitrary bytes
 * restored into a fresh, sleeping instance of one of the five models.
 * Nothing may crash or trip a sanitizer; a refused input must come with a
 * message; an accepted one must survive wake + processing, and its re-save
 * must restore again (into another fresh instance) and re-save to the same
 * bytes.
 *
 * Input: byte 0 = mode: bits 0-2 the model (blk net rng console pmem,
 * modulo 5); bit 3: recompute every CRC first (tests/host/snap_fixture.c),
 * so mutations reach the checks behind them; bit 4: before restoring, play
 * the driver: write avail->idx = next_avail and used->idx = next_used at
 * each live split queue's rings, and at each live packed queue (format
 * 1.1) write the in-flight (id, ndesc) lists into the descriptor ring from
 * next_used on, available in its lap, so the ring checks can pass and the
 * rewind runs; bit 5: the models offer VIRTIO_F_RING_PACKED (a packed
 * snapshot's features must match the device's). The rest is the
 * snapshot. Seeds (fuzz/corpus/fuzz_snapshot) come from
 * build/host/snapshot-tool with mode 0x18 + kind (the *-packed ones: its
 * --packed, mode 0x38 + kind): guest memory here is FX_GPA_BASE-based like
 * the tool's, so their ring addresses are valid.
 */
#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "platform_host.h"
#include "snap_fixture.h"
#include "snap_le.h"
#include "snapshot.h"
#include "vdev_models.h"
#include "virtio_platform.h"
#include "vmmio.h"

#define GMEM_GPA 0x40000000ull /* FX_GPA_BASE of the test fixture */
#define GMEM_SIZE (4u << 20)
#define GMEM_CLEAR (256u << 10) /* where the tool's rings live: zeroed per input */
#define DISK_BYTES (64 * 512)
#define PMEM_START (GMEM_GPA + (2u << 20))
#define PMEM_SIZE (2u << 20)

static uint8_t *gmem;
static uint8_t disk[DISK_BYTES];
static struct vdq_mem_region region;
static struct vdq_mem mem;

static void fuzz_abort(const char *why)
{
    (void)why;
    __builtin_trap();
}

static int create_model(struct vdev *d, unsigned kind)
{
    switch (kind) {
    case 0:
        return vdev_blk_create(d, &mem, disk, DISK_BYTES, "snapshot-tool");
    case 1:
        return vdev_net_create(d, &mem, NULL);
    case 2:
        return vdev_rng_create(d, &mem, 42);
    case 3:
        return vdev_console_create(d, &mem, 80, 25);
    default:
        return vdev_pmem_create(d, &mem, PMEM_START, PMEM_SIZE, NULL, NULL);
    }
}

static bool offer_packed;

static int create(struct vdev *d, unsigned kind)
{
    int rc = create_model(d, kind);

    if (!rc)
        vdev_set_offer_packed(d, offer_packed);
    return rc;
}

/* Fresh sleeping instance; NULL on allocation failure. */
static struct vmmio *fresh(struct vdev *d, unsigned kind)
{
    struct vmmio *m;

    if (create(d, kind))
        return NULL;
    if (vmmio_create(d, NULL, &m)) {
        vdev_destroy(d);
        return NULL;
    }
    vmmio_sleep(m);
    return m;
}

static void gone(struct vmmio *m, struct vdev *d)
{
    vmmio_destroy(m);
    vdev_destroy(d);
}

/* A packed queue's in-flight lists, as the driver made them available
 * (2.8.6: the id in each list's last descriptor, NEXT on the others). */
static void prime_packed(const uint8_t *q, uint32_t plen)
{
    uint16_t size = snap_get16(q + 4), off = snap_get16(q + 34), n = snap_get16(q + 38), k, i;
    bool wrap = q[41] & 1;
    struct pvirtq_desc *ring;

    if (plen < 52u + 4u * n || size == 0 || size > 256 || off >= size)
        return;
    ring = vdq_mem_translate(&mem, snap_get64(q + 8), pvirtq_desc_size(size));
    if (!ring || ((uintptr_t)ring & 15))
        return;
    for (k = 0; k < n; k++) {
        uint16_t nd = snap_get16(q + 52 + 4 * k + 2);

        for (i = 0; i < nd && i < size; i++) {
            bool last = i + 1 == nd;

            ring[off].id = snap_get16(q + 52 + 4 * k);
            ring[off].len = 0;
            ring[off].addr = 0;
            ring[off].flags = (uint16_t)(pvirtq_avail_flags(wrap) | (last ? 0 : VIRTQ_DESC_F_NEXT));
            if (++off == size) {
                off = 0;
                wrap = !wrap;
            }
        }
    }
}

static void prime_rings(uint8_t *b, size_t len)
{
    unsigned i;

    for (i = 0; i < VDEV_MAX_QUEUES; i++) {
        uint32_t plen;
        uint8_t *q = sfx_find(b, len, "QUEU", i, &plen);
        uint16_t *avail_idx, *used_idx;

        if (!q || plen < 40 || !(q[7] & 1))
            continue;
        if (q[7] & 16) {
            prime_packed(q, plen);
            continue;
        }
        avail_idx = vdq_mem_translate(&mem, snap_get64(q + 16) + 2, 2);
        used_idx = vdq_mem_translate(&mem, snap_get64(q + 24) + 2, 2);
        if (avail_idx && ((uintptr_t)avail_idx & 1) == 0)
            *avail_idx = snap_get16(q + 32);
        if (used_idx && ((uintptr_t)used_idx & 1) == 0)
            *used_idx = snap_get16(q + 34);
    }
}

/* Save m (asleep) into a malloc'd buffer; NULL if it fails. */
static uint8_t *save(struct vmmio *m, size_t *len)
{
    size_t n = snap_size(m, SNAP_F_CONTENT);
    uint8_t *b = malloc(n ? n : 1);

    if (b && snap_save(m, SNAP_F_CONTENT, b, n, len)) {
        free(b);
        return NULL;
    }
    return b;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct vdev d1, d2;
    struct vmmio *m1, *m2;
    uint8_t *b, *s1, *s2 = NULL;
    size_t len, l1 = 0, l2 = 0;
    unsigned kind, mode;
    char err[256];
    int rc;

    if (!gmem) {
        gmem = aligned_alloc(4096, GMEM_SIZE);
        if (!gmem)
            return 0;
        memset(gmem, 0, GMEM_SIZE);
        region = (struct vdq_mem_region){.gpa = GMEM_GPA, .size = GMEM_SIZE, .hva = gmem};
        mem = (struct vdq_mem){.regions = &region, .nregions = 1};
        host_log_level_set(-1);
    }
    if (size < 1)
        return 0;
    mode = data[0];
    kind = (mode & 7) % 5;
    len = size - 1;
    b = malloc(len ? len : 1); /* exact size: ASan sees overreads */
    if (!b)
        return 0;
    memcpy(b, data + 1, len);
    memset(gmem, 0, GMEM_CLEAR);
    offer_packed = mode & 32;
    if (mode & 8)
        sfx_fix_crcs(b, len, 0);
    if (mode & 16)
        prime_rings(b, len);

    m1 = fresh(&d1, kind);
    if (!m1)
        goto out;
    err[0] = 0;
    rc = snap_restore(m1, b, len, err, sizeof(err));
    if (rc) {
        if (rc != -EINVAL || !err[0] || !memchr(err, 0, sizeof(err)))
            fuzz_abort("refused without a message");
        gone(m1, &d1);
        goto out;
    }
    /* Accepted: its re-save must load again and re-save identically. */
    s1 = save(m1, &l1);
    if (!s1)
        fuzz_abort("re-save failed");
    m2 = fresh(&d2, kind);
    if (m2) {
        if (snap_restore(m2, s1, l1, err, sizeof(err)))
            fuzz_abort("own re-save refused");
        s2 = save(m2, &l2);
        if (!s2 || l1 != l2 || memcmp(s1, s2, l1))
            fuzz_abort("save -> restore -> save differs");
        gone(m2, &d2);
    }
    free(s1);
    free(s2);
    /* And the restored device must survive running. */
    vmmio_wake(m1);
    for (rc = 0; rc < 4 && vmmio_has_pending(m1); rc++)
        vmmio_process(m1);
    gone(m1, &d1);
out:
    free(b);
    return 0;
}
