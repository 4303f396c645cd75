/* SPDX-License-Identifier: Apache-2.0 */
/*
 * cmd_blk_verify.c - `blkverify`: a verified write/read workload with many
 * requests in flight, for checks that the device side may stop and come
 * back under it (a vhost-user backend killed and restarted, its
 * INFLIGHT_SHMFD recovery resubmitting what it had fetched):
 *
 *   blkverify <dev> <lba> <blocks> <depth> <rounds> <seed> [timeout_s]
 *
 * blocks of 4 KiB from sector lba; each round writes every block with that
 * round's pattern, depth requests in flight, then reads every block back
 * (depth in flight) and checks it. Each sector's pattern names it
 * (tools-side computable, tests/test_vhost_user_reconnect.py):
 *   bytes 0-3 "RLV1", 4-7 seed, 8-11 round, 12-15 sector (all LE32),
 *   byte i >= 16: (sector * 131 + round * 7 + seed + i) & 0xff
 * so a mismatch says which round's data is there (a write lost, or an old
 * one done again after a newer one). Requests are waited for oldest first
 * with timeout_s (default 60: a device that pauses just completes late;
 * the driver resets the device only past it). Prints
 *   blkverify ok rounds=R blocks=B writes=W reads=N max_in_flight=D max_wait_ms=M
 * or one "error: ..." line.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kernel.h"
#include "kernel/shell/cmd_virtio.h"
#include "kernel/shell/shell.h"
#include "snap_le.h"
#include "virtio.h"
#include "virtio_blk.h"

#define BV_SECTORS 8
#define BV_BYTES (BV_SECTORS * VIRTIO_BLK_SECTOR_SIZE)
#define BV_MAX_DEPTH 64

struct bv_slot {
    struct virtio_blk_req req;
    struct vq_sg sg;
    uint8_t *buf;
    uint64_t block;
    uint64_t t0;
    bool busy;
};

struct bv {
    struct virtio_blk *blk;
    const char *name;
    uint64_t lba, blocks;
    uint32_t seed, round;
    uint64_t timeout_ns;
    struct bv_slot slot[BV_MAX_DEPTH];
    unsigned depth;
    uint64_t writes, reads, max_wait_ns;
    unsigned max_in_flight;
};

static void bv_pattern(uint8_t *d, uint64_t sector, uint32_t round, uint32_t seed)
{
    memcpy(d, "RLV1", 4);
    snap_put32(d + 4, seed);
    snap_put32(d + 8, round);
    snap_put32(d + 12, (uint32_t)sector);
    for (unsigned i = 16; i < VIRTIO_BLK_SECTOR_SIZE; i++)
        d[i] = (uint8_t)(sector * 131 + round * 7 + seed + i);
}

/* Check one completed read; 0 or 1 (said why). */
static int bv_check(struct bv *v, const struct bv_slot *s)
{
    uint8_t want[VIRTIO_BLK_SECTOR_SIZE];

    for (unsigned k = 0; k < BV_SECTORS; k++) {
        uint64_t sector = v->lba + s->block * BV_SECTORS + k;
        const uint8_t *got = s->buf + k * VIRTIO_BLK_SECTOR_SIZE;

        bv_pattern(want, sector, v->round, v->seed);
        if (memcmp(got, want, sizeof(want))) {
            printf("error: blkverify %s: round %u sector %llu: mismatch (holds %s round %u)\n",
                   v->name, v->round, (unsigned long long)sector,
                   memcmp(got, "RLV1", 4) ? "no pattern of" : "the pattern of",
                   snap_get32(got + 8));
            return 1;
        }
    }
    return 0;
}

/* Wait for slot i (the oldest); 0 or 1 (said why). */
static int bv_complete(struct bv *v, struct bv_slot *s, bool is_read)
{
    int err = virtio_blk_wait(v->blk, &s->req, v->timeout_ns);
    uint64_t waited = timer_ns() - s->t0;

    s->busy = false;
    if (waited > v->max_wait_ns)
        v->max_wait_ns = waited;
    if (err) {
        printf("error: blkverify %s: round %u %s of block %llu: %s (%d)\n", v->name, v->round,
               is_read ? "read" : "write", (unsigned long long)s->block, strerror(-err), err);
        return 1;
    }
    return is_read ? bv_check(v, s) : 0;
}

/* One pass over every block (write or read), depth in flight. */
static int bv_pass(struct bv *v, bool is_read)
{
    uint64_t next = 0, done = 0;
    unsigned head = 0, tail = 0, busy = 0;
    int err;

    while (done < v->blocks) {
        while (next < v->blocks && busy < v->depth) {
            struct bv_slot *s = &v->slot[tail];

            s->block = next;
            if (!is_read)
                for (unsigned k = 0; k < BV_SECTORS; k++)
                    bv_pattern(s->buf + k * VIRTIO_BLK_SECTOR_SIZE,
                               v->lba + next * BV_SECTORS + k, v->round, v->seed);
            s->sg = (struct vq_sg){.buf = s->buf, .len = BV_BYTES};
            s->req = (struct virtio_blk_req){.type = is_read ? VIRTIO_BLK_T_IN : VIRTIO_BLK_T_OUT,
                                             .nsegs = 1,
                                             .sector = v->lba + next * BV_SECTORS,
                                             .segs = &s->sg};
            s->t0 = timer_ns();
            err = virtio_blk_submit(v->blk, &s->req);
            if (err == -ENOSPC && busy)
                break; /* ring full: complete the oldest first */
            if (err) {
                printf("error: blkverify %s: submit: %s (%d)\n", v->name, strerror(-err), err);
                return 1;
            }
            s->busy = true;
            busy++;
            if (busy > v->max_in_flight)
                v->max_in_flight = busy;
            tail = (tail + 1) % v->depth;
            next++;
            if (is_read)
                v->reads++;
            else
                v->writes++;
        }
        if (bv_complete(v, &v->slot[head], is_read))
            return 1;
        head = (head + 1) % v->depth;
        busy--;
        done++;
    }
    return 0;
}

static int cmd_blkverify(int argc, char **argv)
{
    unsigned long long lba, blocks, depth, rounds, seed, tmo = 60;
    struct bv *v;
    unsigned i;
    int rc = 1;

    if (argc != 7 && argc != 8) {
        printf("error: usage: blkverify <dev> <lba> <blocks> <depth> <rounds> <seed> "
               "[timeout_s]\n");
        return 1;
    }
    if (shell_parse_u64("lba", argv[2], UINT64_MAX / 2, &lba) ||
        shell_parse_u64("blocks", argv[3], 1u << 20, &blocks) ||
        shell_parse_u64("depth", argv[4], BV_MAX_DEPTH, &depth) ||
        shell_parse_u64("rounds", argv[5], 1u << 20, &rounds) ||
        shell_parse_u64("seed", argv[6], UINT32_MAX, &seed) ||
        (argc == 8 && shell_parse_u64("timeout_s", argv[7], 3600, &tmo)))
        return 1;
    if (!blocks || !depth || !rounds || !tmo) {
        printf("error: blkverify: blocks, depth, rounds and timeout_s must be at least 1\n");
        return 1;
    }
    v = calloc(1, sizeof(*v));
    if (!v)
        return shell_io_error("blkverify", argv[1], -ENOMEM);
    v->blk = shell_find_driver("blkverify", argv[1], VIRTIO_ID_BLOCK);
    if (!v->blk)
        goto out;
    v->name = argv[1];
    v->lba = lba;
    v->blocks = blocks;
    v->depth = (unsigned)depth;
    v->seed = (uint32_t)seed;
    v->timeout_ns = tmo * 1000000000ull;
    for (i = 0; i < v->depth; i++) {
        v->slot[i].buf = malloc(BV_BYTES);
        if (!v->slot[i].buf) {
            shell_io_error("blkverify", argv[1], -ENOMEM);
            goto out_bufs;
        }
    }
    for (v->round = 1; v->round <= rounds; v->round++)
        if (bv_pass(v, false) || bv_pass(v, true))
            goto out_drain;
    printf("blkverify ok rounds=%llu blocks=%llu writes=%llu reads=%llu max_in_flight=%u "
           "max_wait_ms=%llu\n",
           rounds, blocks, (unsigned long long)v->writes, (unsigned long long)v->reads,
           v->max_in_flight, (unsigned long long)(v->max_wait_ns / 1000000));
    rc = 0;
    goto out_bufs;
out_drain:
    (void)virtio_blk_drain(v->blk, VIRTIO_BLK_TIMEOUT_NS); /* before the buffers go */
out_bufs:
    for (i = 0; i < v->depth; i++)
        free(v->slot[i].buf);
out:
    free(v);
    return rc;
}
SHELL_COMMAND(blkverify, "blkverify", "<dev> <lba> <blocks> <depth> <rounds> <seed> [timeout_s]",
              "verified write/read rounds, depth requests in flight (waits out a device pause)",
              cmd_blkverify);
