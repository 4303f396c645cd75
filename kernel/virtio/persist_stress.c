/* SPDX-License-Identifier: Apache-2.0 */
/*
 * persist_stress.c - persist_stress() (persist.h): blk, net and pmem traffic
 * from CPU 0 with sequence-numbered requests, and snapshot points
 * (persist_cycle) on random devices at random moments in between; every
 * completion is checked against what was sent, so a snapshot point that
 * loses, repeats or corrupts a request is caught. Only persist.h's public
 * calls: the snapshot machinery itself is persist.c.
 */
#include "kernel/virtio/persist.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kernel.h"
#include "kernel/virtio/loopback.h"
#include "snap_le.h"
#include "virtio.h"
#include "virtio_blk.h"
#include "virtio_net.h"
#include "virtio_pmem.h"

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
