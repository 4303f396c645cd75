/* SPDX-License-Identifier: Apache-2.0 */
/*
 * test_snapshot_traffic.c - snapshot under traffic (ASan+UBSan), split and
 * packed queues (VIRTIO_F_RING_PACKED offered by the models and acked by
 * the fixture driver: drivers/virtio/virtqueue_packed.c against
 * hostsim/vdq_packed.c): rng, net and blk with sequence-numbered requests,
 * the device put to sleep at random points, snapshotted, destroyed,
 * restored into a new instance and woken: 0 lost, 0 duplicated, data
 * verified; and blk with a driver thread and a device thread that swaps
 * instances under it.
 *
 * TEST_FILTER='test_traffic_rng' runs only the matching cases.
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

#define RNG_REQS 6000
#define RNG_SLOTS 12

static void test_traffic_rng(void **state)
{
    struct dev_fixture *f = *state;
    struct rng_ref ref = {.s = RNG_SEED, .used = 8};
    struct traffic_stats ts = {0};
    uint8_t *buf[RNG_SLOTS];
    uint32_t want_len[RNG_SLOTS];
    unsigned seq_next = 0, done = 0, inflight = 0, head = 0, i;
    void *tok;
    uint32_t len;

    dfx_start(f, dfx_device_features(f), QSIZE);
    assert_int_equal(f->dev.queues[0].q.cfg.packed, sh_packed);
    for (i = 0; i < RNG_SLOTS; i++)
        buf[i] = galloc(f, 64);
    while (done < RNG_REQS) {
        /* Driver: submit a few (slot = seq % RNG_SLOTS, FIFO). */
        while (inflight < RNG_SLOTS && seq_next < RNG_REQS && test_rand() % 3) {
            unsigned s = seq_next % RNG_SLOTS;

            want_len[s] = 1 + test_rand() % 64;
            memset(buf[s], 0, 64);
            rng_submit(f, buf[s], want_len[s], test_rand() % 4 != 0);
            seq_next++;
            inflight++;
        }
        if (test_rand() % 4 == 0)
            vq_kick(f->vq[0]); /* a late kick for the unkicked ones */
        device_step(f, &ts);
        /* Driver: reap in order, check each byte against the stream. */
        while (vq_get_buf(f->vq[0], &tok, &len) == 0) {
            unsigned s = head % RNG_SLOTS, k;

            if (tok != buf[s])
                fail_msg("request %u: completion out of order", head);
            assert_int_equal(len, want_len[s]);
            for (k = 0; k < len; k++)
                if (buf[s][k] != rng_ref_byte(&ref))
                    fail_msg("request %u byte %u: lost or duplicated entropy", head, k);
            head++;
            done++;
            inflight--;
        }
        if (seq_next == RNG_REQS && inflight)
            vq_kick(f->vq[0]);
    }
    assert_int_equal(done, RNG_REQS);
    assert_false(vq_has_used(f->vq[0]));
    assert_true(ts.replaced > 500);
    print_message("rng%s: %u requests, %u sleeps, %u snapshot/restore cycles\n",
                  sh_packed ? " packed" : "", done, ts.sleeps, ts.replaced);
    free(ts.last);
}

#define NET_FRAMES 4000
#define NET_TX_SLOTS 16
#define NET_RX_SLOTS 12
#define NET_BUF 1600

static void net_post(struct dev_fixture *f, uint8_t *b)
{
    struct vq_sg sg = {.buf = b, .len = NET_BUF};

    assert_int_equal(vq_add_sgs(f->vq[VIRTIO_NET_RXQ], &sg, 0, 1, b), 0);
}

/* Frame seq: u32 seq, then (seq * 31 + i) bytes, 4 + seq % 1000 long. */
static uint32_t net_frame_len(uint32_t seq)
{
    return 4 + seq % 1000;
}

static void test_traffic_net(void **state)
{
    struct dev_fixture *f = *state;
    struct traffic_stats ts = {0};
    struct virtio_net_hdr *tx[NET_TX_SLOTS];
    uint8_t *rx[NET_RX_SLOTS];
    uint32_t sent = 0, tx_done = 0, got = 0, i;
    void *tok;
    uint32_t len;
    struct vdev_net_stats st;

    dfx_start(f, dfx_device_features(f), QSIZE);
    assert_int_equal(f->dev.queues[0].q.cfg.packed, sh_packed);
    for (i = 0; i < NET_TX_SLOTS; i++)
        tx[i] = galloc(f, sizeof(struct virtio_net_hdr) + NET_BUF);
    for (i = 0; i < NET_RX_SLOTS; i++) {
        rx[i] = galloc(f, NET_BUF);
        net_post(f, rx[i]);
    }
    vq_kick(f->vq[VIRTIO_NET_RXQ]);
    while (got < NET_FRAMES) {
        /* Keep the backlog below its 64 frames: nothing may be dropped. */
        while (sent - tx_done < NET_TX_SLOTS && sent < NET_FRAMES && sent - got < 48 &&
               test_rand() % 3) {
            struct virtio_net_hdr *h = tx[sent % NET_TX_SLOTS];
            uint8_t *p = (uint8_t *)(h + 1);
            uint32_t fl = net_frame_len(sent);
            struct vq_sg sg = {.buf = h, .len = sizeof(*h) + fl};

            memset(h, 0, sizeof(*h));
            snap_put32(p, sent);
            for (i = 4; i < fl; i++)
                p[i] = (uint8_t)(sent * 31 + i);
            assert_int_equal(vq_add_sgs(f->vq[VIRTIO_NET_TXQ], &sg, 1, 0, h), 0);
            if (test_rand() % 4)
                vq_kick(f->vq[VIRTIO_NET_TXQ]);
            sent++;
        }
        if (test_rand() % 4 == 0) {
            vq_kick(f->vq[VIRTIO_NET_TXQ]);
            vq_kick(f->vq[VIRTIO_NET_RXQ]);
        }
        device_step(f, &ts);
        while (vq_get_buf(f->vq[VIRTIO_NET_TXQ], &tok, &len) == 0) {
            assert_ptr_equal(tok, tx[tx_done % NET_TX_SLOTS]);
            tx_done++;
        }
        while (vq_get_buf(f->vq[VIRTIO_NET_RXQ], &tok, &len) == 0) {
            uint8_t *p = (uint8_t *)tok + sizeof(struct virtio_net_hdr);
            uint32_t seq = snap_get32(p), fl = net_frame_len(got);

            if (seq != got)
                fail_msg("frame %u arrived as %u: lost or duplicated", got, seq);
            assert_int_equal(len, sizeof(struct virtio_net_hdr) + fl);
            for (i = 4; i < fl; i++)
                if (p[i] != (uint8_t)(seq * 31 + i))
                    fail_msg("frame %u byte %u corrupt", seq, i);
            got++;
            net_post(f, tok);
            if (test_rand() % 2)
                vq_kick(f->vq[VIRTIO_NET_RXQ]);
        }
        if (sent == NET_FRAMES) {
            vq_kick(f->vq[VIRTIO_NET_TXQ]);
            vq_kick(f->vq[VIRTIO_NET_RXQ]);
        }
    }
    vdev_net_get_stats(&f->dev, &st);
    assert_int_equal(st.dropped, 0);
    assert_int_equal(got, NET_FRAMES);
    assert_true(ts.replaced > 300);
    print_message("net%s: %u frames, %u sleeps, %u snapshot/restore cycles\n",
                  sh_packed ? " packed" : "", got, ts.sleeps, ts.replaced);
    free(ts.last);
}

#define BLK_REQS 4000
#define BLK_SLOTS 12
#define BLK_SECTORS (BLK_BYTES / 512)

struct blk_slot {
    struct blk_req *r;
    uint8_t *data;
    uint8_t want[512]; /* what a read must return (the shadow at submit) */
    uint32_t type;
};

/* Sector contents: seq stamped in the first 4 bytes, a pattern after. */
static void blk_stamp(uint8_t *d, uint32_t seq)
{
    unsigned i;

    snap_put32(d, seq);
    for (i = 4; i < 512; i++)
        d[i] = (uint8_t)(seq + i);
}

static void test_traffic_blk(void **state)
{
    struct dev_fixture *f = *state;
    struct traffic_stats ts = {0};
    struct blk_slot *slot = calloc(BLK_SLOTS, sizeof(*slot));
    uint8_t *shadow = malloc(BLK_BYTES);
    uint32_t seq = 0, done = 0, i;
    void *tok;
    uint32_t len;

    memcpy(shadow, blk_disk, BLK_BYTES);
    dfx_start(f, dfx_device_features(f), QSIZE);
    assert_int_equal(f->dev.queues[0].q.cfg.packed, sh_packed);
    for (i = 0; i < BLK_SLOTS; i++) {
        slot[i].r = galloc(f, sizeof(struct blk_req));
        slot[i].data = galloc(f, 512);
    }
    while (done < BLK_REQS) {
        while (seq - done < BLK_SLOTS && seq < BLK_REQS && test_rand() % 3) {
            struct blk_slot *s = &slot[seq % BLK_SLOTS];
            uint32_t sector = test_rand() % BLK_SECTORS;

            s->type = test_rand() % 2 ? VIRTIO_BLK_T_OUT : VIRTIO_BLK_T_IN;
            if (s->type == VIRTIO_BLK_T_OUT) {
                blk_stamp(s->data, seq);
                memcpy(shadow + sector * 512, s->data, 512);
            } else {
                memset(s->data, 0, 512);
                memcpy(s->want, shadow + sector * 512, 512);
            }
            blk_submit(f, s->r, s->type, sector, s->data, 512, test_rand() % 4 != 0);
            seq++;
        }
        if (test_rand() % 4 == 0)
            vq_kick(f->vq[0]);
        device_step(f, &ts);
        while (vq_get_buf(f->vq[0], &tok, &len) == 0) {
            struct blk_slot *s = &slot[done % BLK_SLOTS];

            if (tok != s->r)
                fail_msg("request %u: completion out of order", done);
            assert_int_equal(s->r->status, VIRTIO_BLK_S_OK);
            if (s->type == VIRTIO_BLK_T_IN && memcmp(s->data, s->want, 512))
                fail_msg("request %u: read returned the wrong data", done);
            done++;
        }
        if (seq == BLK_REQS)
            vq_kick(f->vq[0]);
    }
    assert_memory_equal(blk_disk, shadow, BLK_BYTES);
    assert_true(ts.replaced > 300);
    print_message("blk%s: %u requests, %u sleeps, %u snapshot/restore cycles\n",
                  sh_packed ? " packed" : "", done, ts.sleeps, ts.replaced);
    free(ts.last);
    free(slot);
    free(shadow);
}

/* Two threads: the driver (this thread) keeps a full ring of blk
 * write + read-back pairs going; the device thread processes, and at random
 * moments puts the device to sleep, saves it, builds a new instance behind
 * the same register file (vmmio_rebind), restores, wakes: the driver never
 * stops kicking meanwhile. */
#define MT_REQUESTS 200000
#define MT_DEPTH 32

struct mt_slot {
    struct blk_req *r;
    uint8_t *data;
    uint32_t sector, seq;
    bool is_write;
};

struct mt_dev {
    struct dev_fixture *f;
    struct vdev *inst[2];
    unsigned cycles, next;
    int stop;
    uint64_t rnd;
    char err[256];
};

static void mt_cycle(struct mt_dev *md)
{
    struct dev_fixture *f = md->f;
    struct vdev *nd = md->inst[md->next], *old;
    size_t len;
    uint8_t *snap;

    vmmio_sleep(f->m);
    snap = save(f, 0, &len);
    model_create_on(f, nd, K_BLK);
    old = vmmio_rebind(f->m, nd);
    vdev_destroy(old);
    if (snap_restore(f->m, snap, len, md->err, sizeof(md->err)))
        __atomic_store_n(&md->stop, 2, __ATOMIC_RELEASE);
    vmmio_wake(f->m);
    free(snap);
    md->next ^= 1;
    md->cycles++;
}

static void *mt_device(void *arg)
{
    struct mt_dev *md = arg;

    while (!__atomic_load_n(&md->stop, __ATOMIC_ACQUIRE)) {
        md->rnd ^= md->rnd << 13;
        md->rnd ^= md->rnd >> 7;
        md->rnd ^= md->rnd << 17;
        if (md->rnd % 64 == 0)
            mt_cycle(md);
        else if (vmmio_has_pending(md->f->m))
            vmmio_process(md->f->m);
        else
            sched_yield();
    }
    return NULL;
}

static void mt_fill(uint8_t *p, uint32_t sector, uint32_t seq)
{
    for (unsigned i = 0; i < 512; i++)
        p[i] = (uint8_t)(sector * 31 + seq * 7 + i);
}

static void mt_submit(struct dev_fixture *f, struct mt_slot *s)
{
    struct vq_sg sg[3] = {
        {.buf = &s->r->hdr, .len = sizeof(s->r->hdr)},
        {.buf = s->data, .len = 512},
        {.buf = &s->r->status, .len = 1},
    };

    s->r->hdr.type = s->is_write ? VIRTIO_BLK_T_OUT : VIRTIO_BLK_T_IN;
    s->r->hdr.sector = s->sector;
    s->r->status = 0xee;
    if (s->is_write)
        mt_fill(s->data, s->sector, s->seq);
    else
        memset(s->data, 0, 512);
    /* the token is the slot */
    assert_int_equal(vq_add_sgs(f->vq[0], sg, s->is_write ? 2 : 1, s->is_write ? 1 : 2, s), 0);
    assert_int_equal(vq_kick(f->vq[0]), 0);
}

static void test_traffic_threads(void **state)
{
    struct dev_fixture *f = *state;
    struct mt_slot *slots = calloc(MT_DEPTH, sizeof(*slots));
    struct mt_dev md = {.f = f, .rnd = 0x2545f4914f6cdd1dull};
    uint8_t expect[512];
    uint64_t done = 0, t0;
    uint32_t i, seq = 1;
    pthread_t th;

    md.inst[0] = calloc(1, sizeof(struct vdev));
    md.inst[1] = calloc(1, sizeof(struct vdev));
    dfx_start(f, dfx_device_features(f), 64);
    assert_int_equal(f->dev.queues[0].q.cfg.packed, sh_packed);
    assert_int_equal(pthread_create(&th, NULL, mt_device, &md), 0);
    for (i = 0; i < MT_DEPTH; i++) {
        slots[i].r = galloc(f, sizeof(struct blk_req));
        slots[i].data = galloc(f, 512);
        slots[i].sector = i;
        slots[i].is_write = true;
        slots[i].seq = seq++;
        mt_submit(f, &slots[i]);
    }
    t0 = virt_time_ns();
    while (done < MT_REQUESTS) {
        struct mt_slot *s;
        void *tok;
        uint32_t len;
        int err = vq_get_buf(f->vq[0], &tok, &len);

        if (err == -EAGAIN) {
            if (__atomic_load_n(&md.stop, __ATOMIC_ACQUIRE))
                fail_msg("restore failed: %s", md.err);
            if (virt_time_ns() - t0 > 120000000000ull)
                fail_msg("stalled after %llu requests: lost", (unsigned long long)done);
            continue;
        }
        assert_int_equal(err, 0);
        s = tok;
        assert_int_equal(s->r->status, VIRTIO_BLK_S_OK);
        if (!s->is_write) {
            assert_int_equal(len, 513);
            mt_fill(expect, s->sector, s->seq);
            assert_memory_equal(s->data, expect, 512);
            s->sector = (s->sector + MT_DEPTH * (1 + done % 3)) % (BLK_BYTES / 512);
            s->seq = seq++;
        }
        s->is_write = !s->is_write;
        done++;
        mt_submit(f, s);
    }
    for (i = 0; i < MT_DEPTH;) {
        void *tok;
        uint32_t len;

        if (vq_get_buf(f->vq[0], &tok, &len) == 0)
            i++;
    }
    __atomic_store_n(&md.stop, 1, __ATOMIC_RELEASE);
    assert_int_equal(pthread_join(th, NULL), 0);
    assert_false(vq_is_broken(f->vq[0]));
    assert_int_equal(dfx_rd(f, VIRTIO_MMIO_STATUS) & VIRTIO_STATUS_DEVICE_NEEDS_RESET, 0);
    print_message("blk 2 threads%s: %llu requests, %u snapshot/new-instance/restore cycles by the "
                  "device thread\n",
                  sh_packed ? " packed" : "", (unsigned long long)done, md.cycles);
    assert_true(md.cycles > 100);
    /* Back into the fixture's own vdev (destroyed by the first cycle) for
     * teardown; then the two heap instances can go. */
    {
        struct vdev *heap[2] = {md.inst[0], md.inst[1]};

        md.inst[md.next] = &f->dev;
        mt_cycle(&md);
        assert_ptr_equal(vmmio_vdev(f->m), &f->dev);
        free(heap[0]);
        free(heap[1]);
    }
    free(slots);
}

#define T(fn, setup) cmocka_unit_test_setup_teardown(fn, setup, teardown)

static int setup_rng_packed(void **state)
{
    return setup_kind_packed(state, K_RNG, true);
}
static int setup_net_packed(void **state)
{
    return setup_kind_packed(state, K_NET, true);
}
static int setup_blk_packed(void **state)
{
    return setup_kind_packed(state, K_BLK, true);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        T(test_traffic_rng, setup_rng),        T(test_traffic_net, setup_net),
        T(test_traffic_blk, setup_blk),        T(test_traffic_threads, setup_blk),
        T(test_traffic_rng, setup_rng_packed), T(test_traffic_net, setup_net_packed),
        T(test_traffic_blk, setup_blk_packed), T(test_traffic_threads, setup_blk_packed),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
