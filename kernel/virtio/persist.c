/* SPDX-License-Identifier: Apache-2.0 */
/*
 * persist.c - in-image persistence of the loopback devices (see persist.h).
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
#include <stdarg.h>
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
#include "virtio_blk.h"
#include "virtio_net.h"
#include "virtio_pmem.h"
#include "vmmio.h"
#include "x86.h"

#define PERSIST_NDEV 5
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

static struct virtio_device *persist_dev(int i)
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

/* ---- stress: traffic with snapshot points ---- */

#define BLK_DEPTH 16
#define BLK_FIRST_SECTOR 4096
#define BLK_NSECT 256
#define NET_WINDOW 8
#define NET_FRAME_MAX 600
#define STALL_NS 10000000000ull

struct blk_slot {
    struct virtio_blk_req req;
    struct vq_sg sg;
    uint8_t *data;
    uint8_t *want; /* what a read must see (the shadow when submitted) */
    uint32_t seq;
    bool busy;
};

struct stress {
    struct virtio_blk *blk;
    struct virtio_net *net;
    struct virtio_pmem *pmem;
    struct virtio_device *devs[PERSIST_NDEV];
    struct blk_slot slot[BLK_DEPTH];
    uint8_t *shadow;
    uint8_t *frame, *rxbuf;
    uint32_t blk_seq, net_sent, net_got, pmem_seq;
    uint64_t rng;
    struct persist_report *r;
    char *err;
    size_t errlen;
};

static uint32_t stress_rand(struct stress *s)
{
    s->rng ^= s->rng << 13;
    s->rng ^= s->rng >> 7;
    s->rng ^= s->rng << 17;
    return (uint32_t)(s->rng >> 16);
}

static void stamp(uint8_t *d, uint32_t seq)
{
    snap_put32(d, seq);
    for (unsigned i = 4; i < 512; i++)
        d[i] = (uint8_t)(seq * 7 + i);
}

static int fail(struct stress *s, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static int fail(struct stress *s, const char *fmt, ...)
{
    va_list ap;

    if (s->err && s->errlen) {
        va_start(ap, fmt);
        vsnprintf(s->err, s->errlen, fmt, ap);
        va_end(ap);
    }
    return -EIO;
}

static int blk_submit_one(struct stress *s, struct blk_slot *sl)
{
    uint32_t sector = stress_rand(s) % BLK_NSECT;
    bool is_write = stress_rand(s) & 1;
    int rc;

    sl->seq = s->blk_seq++;
    if (is_write) {
        stamp(sl->data, sl->seq);
        memcpy(s->shadow + sector * 512, sl->data, 512);
    } else {
        memset(sl->data, 0, 512);
        memcpy(sl->want, s->shadow + sector * 512, 512);
    }
    sl->sg = (struct vq_sg){.buf = sl->data, .len = 512};
    sl->req = (struct virtio_blk_req){
        .type = is_write ? VIRTIO_BLK_T_OUT : VIRTIO_BLK_T_IN,
        .nsegs = 1,
        .sector = BLK_FIRST_SECTOR + sector,
        .segs = &sl->sg,
    };
    rc = virtio_blk_submit(s->blk, &sl->req);
    if (rc)
        return fail(s, "blk submit of request %u: %d", sl->seq, rc);
    sl->busy = true;
    return 0;
}

static int blk_reap(struct stress *s)
{
    (void)virtio_blk_poll(s->blk);
    for (unsigned i = 0; i < BLK_DEPTH; i++) {
        struct blk_slot *sl = &s->slot[i];

        if (!sl->busy || sl->req.result == -EINPROGRESS)
            continue;
        sl->busy = false;
        if (sl->req.result)
            return fail(s, "blk request %u failed: %d", sl->seq, sl->req.result);
        if (sl->req.type == VIRTIO_BLK_T_IN && memcmp(sl->data, sl->want, 512)) {
            s->r->bad_data++;
            return fail(s, "blk request %u read wrong data (seq %u)", sl->seq,
                        snap_get32(sl->data));
        }
        s->r->blk_requests++;
    }
    return 0;
}

static uint32_t frame_len(uint32_t seq)
{
    return 60 + seq % (NET_FRAME_MAX - 60);
}

static int net_send_one(struct stress *s)
{
    uint32_t n = frame_len(s->net_sent), i;
    int rc;

    snap_put32(s->frame, s->net_sent);
    for (i = 4; i < n; i++)
        s->frame[i] = (uint8_t)(s->net_sent + i);
    rc = virtio_net_send(s->net, s->frame, n);
    if (rc)
        return fail(s, "net send of frame %u: %d", s->net_sent, rc);
    s->net_sent++;
    return 0;
}

static int net_reap(struct stress *s, uint64_t timeout_ns)
{
    for (;;) {
        int n = virtio_net_recv(s->net, s->rxbuf, NET_FRAME_MAX, timeout_ns);
        uint32_t seq, i;

        if (n == -EAGAIN || n == -ETIMEDOUT)
            return 0;
        if (n < 0)
            return fail(s, "net recv after frame %u: %d", s->net_got, n);
        seq = snap_get32(s->rxbuf);
        if (seq != s->net_got) {
            if (seq < s->net_got)
                s->r->duplicated++;
            else
                s->r->lost += seq - s->net_got;
            return fail(s, "net frame %u arrived as %u: lost or duplicated", s->net_got, seq);
        }
        if ((uint32_t)n != frame_len(seq))
            return fail(s, "net frame %u has length %d", seq, n);
        for (i = 4; i < (uint32_t)n; i++) {
            if (s->rxbuf[i] != (uint8_t)(seq + i)) {
                s->r->bad_data++;
                return fail(s, "net frame %u byte %u corrupt", seq, i);
            }
        }
        s->net_got++;
        s->r->net_frames++;
        if (!timeout_ns)
            continue;
        if (s->net_got == s->net_sent)
            return 0;
    }
}

static int pmem_one(struct stress *s)
{
    uint8_t *region = virtio_pmem_addr(s->pmem);
    int rc;

    snap_put32(region + 4 * (s->pmem_seq % 1024), s->pmem_seq);
    rc = virtio_pmem_flush(s->pmem);
    if (rc)
        return fail(s, "pmem flush %u: %d", s->pmem_seq, rc);
    s->pmem_seq++;
    s->r->pmem_flushes++;
    return 0;
}

static int snapshot_point(struct stress *s)
{
    /* Mostly the devices with traffic (blk, net, pmem), sometimes the others. */
    static const uint8_t pick[8] = {0, 1, 4, 0, 1, 4, 2, 3};
    struct virtio_device *dev = s->devs[pick[stress_rand(s) % 8]];
    uint64_t asleep = 0;
    char why[160];
    int rc;

    rc = persist_cycle(dev, s->r->snapshots % 8 == 0, why, sizeof(why), &asleep);
    if (rc) {
        if (s->err && s->errlen)
            snprintf(s->err, s->errlen, "snapshot point %llu: %s",
                     (unsigned long long)s->r->snapshots, why);
        return rc;
    }
    s->r->snapshots++;
    if (asleep > s->r->max_asleep_ns)
        s->r->max_asleep_ns = asleep;
    return 0;
}

static uint64_t stress_done(const struct stress *s)
{
    return s->r->blk_requests + s->r->net_frames + s->r->pmem_flushes;
}

static bool stress_blk_busy(const struct stress *s)
{
    for (unsigned i = 0; i < BLK_DEPTH; i++) {
        if (s->slot[i].busy)
            return true;
    }
    return false;
}

/* The whole run; returns 0 or -errno with s->err set. */
static int stress_run(struct stress *s, unsigned snapshots, unsigned requests, bool verbose)
{
    uint64_t last_progress = timer_ns(), last_done = 0, start = timer_ns();
    int rc = 0;

    while (stress_done(s) < requests || s->r->snapshots < snapshots) {
        uint32_t x = stress_rand(s) % 16;
        bool want_more = s->blk_seq + s->net_sent + s->pmem_seq < requests;

        if (want_more && x < 10) {
            for (unsigned i = 0; i < BLK_DEPTH && !rc; i++) {
                if (!s->slot[i].busy && (stress_rand(s) & 1))
                    rc = blk_submit_one(s, &s->slot[i]);
            }
        } else if (want_more && x < 13 && s->net_sent - s->net_got < NET_WINDOW) {
            rc = net_send_one(s);
        } else if (want_more && x == 13) {
            rc = pmem_one(s);
        }
        if (!rc)
            rc = blk_reap(s);
        if (!rc)
            rc = net_reap(s, 0);
        /* Snapshot points spread over the run, at random moments. */
        if (!rc && s->r->snapshots < snapshots &&
            (s->r->snapshots * (uint64_t)requests <= stress_done(s) * (uint64_t)snapshots ||
             !want_more) &&
            stress_rand(s) % 2)
            rc = snapshot_point(s);
        if (rc)
            return rc;
        if (!want_more && !stress_blk_busy(s) && s->net_got < s->net_sent)
            rc = net_reap(s, VIRTIO_NET_TIMEOUT_NS);
        if (!want_more && !stress_blk_busy(s) && s->net_got == s->net_sent &&
            s->r->snapshots >= snapshots)
            break;
        if (stress_done(s) != last_done) {
            last_done = stress_done(s);
            last_progress = timer_ns();
            if (verbose && last_done % 20000 == 0)
                printf("stress: %llu requests, %llu snapshots, %llu ms\n",
                       (unsigned long long)last_done, (unsigned long long)s->r->snapshots,
                       (unsigned long long)((timer_ns() - start) / 1000000));
        } else if (timer_ns() - last_progress > STALL_NS) {
            s->r->lost += s->blk_seq - s->r->blk_requests + s->net_sent - s->net_got;
            return fail(s, "stalled: no completion for 10 s (blk %llu in flight, net %u)",
                        (unsigned long long)(s->blk_seq - s->r->blk_requests),
                        s->net_sent - s->net_got);
        }
    }
    return rc;
}

/* Every blk sector of the test area reads back as the shadow says. */
static int stress_verify_disk(struct stress *s)
{
    uint8_t *buf = malloc(BLK_NSECT * 512);
    int rc;

    if (!buf)
        return -ENOMEM;
    rc = virtio_blk_read(s->blk, BLK_FIRST_SECTOR, buf, BLK_NSECT);
    if (!rc && memcmp(buf, s->shadow, BLK_NSECT * 512)) {
        s->r->bad_data++;
        rc = fail(s, "blk: disk contents differ from the requests' record");
    } else if (rc) {
        rc = fail(s, "blk: final read failed (%d)", rc);
    }
    free(buf);
    return rc;
}

int persist_stress(unsigned snapshots, unsigned requests, bool verbose, struct persist_report *r,
                   char *err, size_t errlen)
{
    struct stress *s;
    uint64_t t0 = timer_ns();
    int rc, i;

    memset(r, 0, sizeof(*r));
    if (loopback_init())
        return -ENODEV;
    s = calloc(1, sizeof(*s));
    if (!s)
        return -ENOMEM;
    s->r = r;
    s->err = err;
    s->errlen = errlen;
    s->rng = 0x9e3779b97f4a7c15ull ^ t0;
    for (i = 0; i < PERSIST_NDEV; i++)
        s->devs[i] = persist_dev(i);
    s->blk = s->devs[0]->driver_priv;
    s->net = s->devs[1]->driver_priv;
    s->pmem = s->devs[4]->driver_priv;
    s->shadow = malloc(BLK_NSECT * 512);
    s->frame = malloc(NET_FRAME_MAX);
    s->rxbuf = malloc(NET_FRAME_MAX);
    rc = -ENOMEM;
    if (!s->blk || !s->net || !s->pmem || !s->shadow || !s->frame || !s->rxbuf)
        goto out;
    for (i = 0; i < BLK_DEPTH; i++) {
        s->slot[i].data = malloc(512);
        s->slot[i].want = malloc(512);
        if (!s->slot[i].data || !s->slot[i].want)
            goto out;
    }
    /* A known starting state of the test area; old frames flushed out. */
    for (i = 0; i < BLK_NSECT; i++)
        stamp(s->shadow + i * 512, 0xffff0000u + (uint32_t)i);
    rc = virtio_blk_write(s->blk, BLK_FIRST_SECTOR, s->shadow, BLK_NSECT);
    if (rc) {
        rc = fail(s, "blk: initial write failed (%d)", rc);
        goto out;
    }
    while (virtio_net_recv(s->net, s->rxbuf, NET_FRAME_MAX, 0) >= 0)
        ;
    rc = stress_run(s, snapshots, requests, verbose);
    if (!rc)
        rc = virtio_blk_drain(s->blk, VIRTIO_BLK_TIMEOUT_NS);
    if (!rc)
        rc = stress_verify_disk(s);
    if (!rc && (r->lost || r->duplicated || r->bad_data))
        rc = fail(s, "lost %llu, duplicated %llu, corrupt %llu", (unsigned long long)r->lost,
                  (unsigned long long)r->duplicated, (unsigned long long)r->bad_data);
out:
    /* Nothing of ours may stay in flight when we free its memory. */
    if (s->blk)
        (void)virtio_blk_drain(s->blk, VIRTIO_BLK_TIMEOUT_NS);
    r->ns = timer_ns() - t0;
    for (i = 0; i < BLK_DEPTH; i++) {
        free(s->slot[i].data);
        free(s->slot[i].want);
    }
    free(s->shadow);
    free(s->frame);
    free(s->rxbuf);
    free(s);
    return rc;
}
