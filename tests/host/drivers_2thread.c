/* SPDX-License-Identifier: Apache-2.0 */
/*
 * drivers_2thread.c - long run of the virtio-blk driver against the blk
 * device model, device side on a second thread (as in test_drivers.c), for
 * millions of requests with every byte verified against a reference model
 * of the disk. Random mix of reads and writes, 1-8 sectors, random queue
 * depth, through the asynchronous API; the mode (interrupt-driven or
 * polled, EVENT_IDX on or off, split or packed ring, packed queue sizes
 * 256 / 255 / 7 / 3) changes every --switch requests with a driver
 * re-init, so resets happen with traffic in flight.
 *
 *   drivers_2thread [--requests N] [--seed S]
 *
 * Exit status 0 when every request completed and verified.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "platform_host.h"
#include "transport_loopback.h"
#include "vdev.h"
#include "vdev_models.h"
#include "virtio.h"
#include "virtio_blk.h"
#include "virtio_platform.h"
#include "vmmio.h"

#define GPA_BASE 0x80000000ull
#define ARENA_SIZE (16u << 20)
#define SECTORS 4096u /* 2 MiB disk */
#define MAX_QD 64
#define MAX_SECT 8

struct lb {
    struct vdev vd;
    struct vmmio *m;
    struct virtio_device *dev;
    int stop, doorbell, irq_pending;
};

static struct lb lb;

static void on_notify(struct vmmio *m, unsigned q, void *ctx)
{
    (void)m;
    (void)q;
    __atomic_store_n(&((struct lb *)ctx)->doorbell, 1, __ATOMIC_RELEASE);
}

static void on_interrupt(struct vmmio *m, uint32_t bits, void *ctx)
{
    (void)m;
    (void)bits;
    __atomic_store_n(&((struct lb *)ctx)->irq_pending, 1, __ATOMIC_RELEASE);
}

static void *device_main(void *arg)
{
    struct lb *l = arg;

    while (!__atomic_load_n(&l->stop, __ATOMIC_ACQUIRE)) {
        bool worked = false;

        if (__atomic_exchange_n(&l->doorbell, 0, __ATOMIC_ACQ_REL) || vmmio_has_pending(l->m)) {
            vmmio_process(l->m);
            worked = true;
        }
        if (__atomic_exchange_n(&l->irq_pending, 0, __ATOMIC_ACQ_REL)) {
            virtio_handle_interrupt(l->dev);
            worked = true;
        }
        if (!worked)
            sched_yield();
    }
    return NULL;
}

static uint64_t rnd_state;

static uint32_t rnd(void)
{
    rnd_state = rnd_state * 6364136223846793005ull + 1442695040888963407ull;
    return (uint32_t)(rnd_state >> 33);
}

struct slot {
    struct virtio_blk_req req;
    struct vq_sg sg;
    uint8_t *buf;
    bool busy;
};

static uint8_t *model;   /* what the disk must hold */
static uint8_t *pending; /* sectors some request in flight touches */
static uint64_t completed, verified_bytes, cancelled;
static uint64_t completed_packed; /* of completed: on the packed ring */
static bool ring_is_packed;         /* negotiated at the last (re-)init */
static int failures;

static void fail(const char *what, uint64_t a, uint64_t b)
{
    if (failures++ < 10)
        fprintf(stderr, "drivers_2thread: %s (%llu, %llu)\n", what, (unsigned long long)a,
                (unsigned long long)b);
}

static bool range_is_pending(uint64_t sector, uint32_t n)
{
    for (uint32_t i = 0; i < n; i++) {
        if (pending[sector + i])
            return true;
    }
    return false;
}

static void on_done(struct virtio_blk_req *req)
{
    struct slot *s = req->ctx;
    uint32_t n = req->segs[0].len / 512;

    s->busy = false;
    for (uint32_t i = 0; i < n; i++)
        pending[req->sector + i] = 0;
    if (req->result == -ECANCELED) {
        /* Ended by a re-init: a write may or may not have reached the
         * disk; main() takes the disk's word for it afterwards. */
        cancelled++;
        return;
    }
    if (req->result != 0) {
        fail("request failed", req->sector, (uint64_t)-req->result);
        return;
    }
    completed++;
    completed_packed += ring_is_packed;
    if (req->type == VIRTIO_BLK_T_IN) {
        if (memcmp(s->buf, model + req->sector * 512, n * 512))
            fail("read data differs from the model", req->sector, n);
        verified_bytes += n * 512;
    }
}

int main(int argc, char **argv)
{
    uint64_t requests = 2000000, seed = 1, switch_every = 250000, submitted = 0, next_switch;
    struct vdq_mem_region region;
    struct vdq_mem mem;
    struct vmmio_hooks hooks = {.notify = on_notify, .interrupt = on_interrupt, .ctx = &lb};
    struct virtio_blk *blk;
    struct slot slots[MAX_QD];
    pthread_t thr;
    uint8_t *arena, *disk;
    static const uint32_t packed_sizes[4] = {0, 255, 7, 3};
    unsigned mode = 0, switches = 0;

    for (int i = 1; i + 1 < argc; i += 2) {
        if (!strcmp(argv[i], "--requests"))
            requests = strtoull(argv[i + 1], NULL, 0);
        else if (!strcmp(argv[i], "--seed"))
            seed = strtoull(argv[i + 1], NULL, 0);
        else if (!strcmp(argv[i], "--switch"))
            switch_every = strtoull(argv[i + 1], NULL, 0);
    }
    rnd_state = seed;
    next_switch = switch_every;
    host_log_level_set(VIRT_LOG_ERR - 1);
    arena = aligned_alloc(4096, ARENA_SIZE);
    disk = calloc(SECTORS, 512);
    model = calloc(SECTORS, 512);
    pending = calloc(SECTORS, 1);
    if (!arena || !disk || !model || !pending)
        return 2;
    memset(arena, 0, ARENA_SIZE);
    host_dma_arena_setup(arena, ARENA_SIZE, GPA_BASE);
    region = (struct vdq_mem_region){GPA_BASE, ARENA_SIZE, arena};
    mem = (struct vdq_mem){.regions = &region, .nregions = 1};
    if (vdev_blk_create(&lb.vd, &mem, disk, (uint64_t)SECTORS * 512, NULL) ||
        vmmio_create(&lb.vd, &hooks, &lb.m) || loopback_device_create(lb.m, "lblk0", &lb.dev))
        return 2;
    vdev_set_offer_packed(&lb.vd, true); /* the driver asks for it in modes 4-7 */
    pthread_create(&thr, NULL, device_main, &lb);
    if (virtio_blk_probe(lb.dev, &blk))
        return 2;
    for (unsigned i = 0; i < MAX_QD; i++) {
        uint64_t dma;

        slots[i].buf = virt_dma_alloc(MAX_SECT * 512, &dma);
        slots[i].busy = false;
    }

    while (completed + cancelled < requests) {
        unsigned qd = 1 + rnd() % MAX_QD;

        for (unsigned i = 0; i < qd && submitted < requests; i++) {
            struct slot *s = &slots[i];
            uint32_t n = 1 + rnd() % MAX_SECT;
            uint64_t sector = rnd() % (SECTORS - n);
            bool write = rnd() & 1;
            int err;

            if (s->busy || range_is_pending(sector, n))
                continue;
            s->sg = (struct vq_sg){.buf = s->buf, .len = n * 512};
            if (write) {
                for (uint32_t b = 0; b < n * 512; b += 4) {
                    uint32_t v = rnd();
                    memcpy(s->buf + b, &v, 4);
                }
            } else {
                memset(s->buf, 0xee, n * 512);
            }
            /* No two requests in flight touch the same sector: the device
             * may complete them in any order. */
            memset(pending + sector, 1, n);
            s->req = (struct virtio_blk_req){
                .type = write ? VIRTIO_BLK_T_OUT : VIRTIO_BLK_T_IN,
                .nsegs = 1,
                .sector = sector,
                .segs = &s->sg,
                .done = on_done,
                .ctx = s,
            };
            s->busy = true;
            err = virtio_blk_submit(blk, &s->req);
            if (err) {
                s->busy = false;
                memset(pending + sector, 0, n);
                if (err != -ENOSPC)
                    fail("submit", sector, (uint64_t)-err);
                break;
            }
            /* The model follows a write only once it is on the ring: a
             * submit refused for want of room (-ENOSPC: a small packed
             * ring) changes nothing. Its completion cannot have looked at
             * the model (writes are not checked; no read of these sectors
             * is in flight). */
            if (write)
                memcpy(model + sector * 512, s->buf, n * 512);
            submitted++;
        }
        if (submitted >= next_switch && submitted < requests) {
            /* New mode, re-init with this batch still in flight. */
            next_switch += switch_every;
            /* Modes 0-3 on the split ring, 4-7 the same on the packed ring
             * (2.8), which also takes queue sizes that are not powers of
             * two (2.8.10.1): 256, 255, 7 and 3 in turn (3 holds one
             * 3-descriptor request without INDIRECT). */
            mode = (mode + 1) % 8;
            lb.dev->polled = (mode & 2) != 0;
            lb.dev->no_event_idx = mode & 1;
            lb.dev->no_indirect = mode & 1;
            lb.dev->want_packed = mode >= 4;
            lb.dev->queue_size_limit = mode >= 4 ? packed_sizes[switches++ % 4] : 0;
            if (virtio_blk_reinit(blk)) {
                fail("reinit", mode, 0);
                break;
            }
            ring_is_packed = virtio_has_feature(lb.dev, VIRTIO_F_RING_PACKED);
            if (ring_is_packed != (mode >= 4)) {
                fail("ring layout not the one asked for", mode, ring_is_packed);
                break;
            }
            /* After the reset the device touches nothing: the disk itself
             * is the truth for the writes that were cancelled. */
            memcpy(model, disk, (size_t)SECTORS * 512);
            continue;
        }
        if (virtio_blk_drain(blk, VIRTIO_BLK_TIMEOUT_NS)) {
            fail("drain timed out", completed, 0);
            break;
        }
        if (failures)
            break;
    }
    __atomic_store_n(&lb.stop, 1, __ATOMIC_RELEASE);
    pthread_join(thr, NULL);
    if (!failures && memcmp(disk, model, (size_t)SECTORS * 512))
        fail("disk differs from the model at the end", 0, 0);
    printf("drivers_2thread: %llu requests completed (%llu on the packed ring), %llu cancelled by "
           "re-inits, %llu MiB read and verified, %d failures\n",
           (unsigned long long)completed, (unsigned long long)completed_packed,
           (unsigned long long)cancelled,
           (unsigned long long)(verified_bytes >> 20), failures);
    return failures ? 1 : 0;
}
