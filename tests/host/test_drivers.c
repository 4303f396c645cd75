/* SPDX-License-Identifier: Apache-2.0 */
/*
 * test_drivers.c - cmocka tests of the drivers (drivers/virtio/virtio_*.c)
 * over the loopback transport against the real device models
 * (hostsim/dev_*.c behind hostsim/vmmio.c), the device side running on a
 * second thread exactly as CPU 1 does in the image:
 *
 *   driver thread (test)                device thread (lb_device_main)
 *   virtio_blk_read() ...               doorbell set by hooks.notify ->
 *     vq_kick -> QueueNotify write        vmmio_process()
 *     virtio_vq_wait()  <- irq_count --   hooks.interrupt sets irq_pending ->
 *                                         virtio_handle_interrupt()
 *
 * Guest memory is an arena whose device-visible addresses start at
 * LB_GPA_BASE (not the pointer values), so every address the driver hands
 * out is translated on the device side. Each data test runs in four modes:
 * interrupt-driven / polled x EVENT_IDX on / off (INDIRECT follows
 * EVENT_IDX, so both ring paths are covered). Data is verified against the
 * device's backing store or a reference model.
 *
 * Each runs on the split ring and, in the four packed modes, on the packed
 * ring (lb_env.h). The rng, net, console and pmem drivers are in
 * test_drivers_dev.c.
 *
 * Models that do not exist yet are left out at compile time
 * (HAVE_DEV_* from mk/host-drivers.mk).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "lb_env.h"
#include "platform_host.h"
#include "transport_loopback.h"
#include "vdev.h"
#include "vdev_models.h"
#include "virtio.h"
#include "virtio_blk.h"
#include "virtio_console.h"
#include "virtio_net.h"
#include "virtio_platform.h"
#include "virtio_pmem.h"
#include "virtio_rng.h"
#include "vmmio.h"

/* ---- blk ---- */

static struct virtio_blk *blk_up(void)
{
    struct virtio_blk *blk = NULL;

    env.disk = calloc(DISK_SECTORS, VIRTIO_BLK_SECTOR_SIZE);
    assert_non_null(env.disk);
    assert_int_equal(vdev_blk_create(&env.lb.vd, &env.mem, env.disk,
                                     (uint64_t)DISK_SECTORS * VIRTIO_BLK_SECTOR_SIZE,
                                     "lblk0-serial"),
                     0);
    lb_attach("lblk0");
    assert_int_equal(virtio_blk_probe(env.lb.dev, &blk), 0);
    return blk;
}

static void test_blk_basic(void **state)
{
    struct env *e = *state;
    struct virtio_blk *blk = blk_up();
    uint8_t *wbuf = dma_buf(8 * 512), *rbuf = dma_buf(8 * 512);
    char id[VIRTIO_BLK_ID_BYTES + 1];

    assert_int_equal(virtio_blk_capacity(blk), DISK_SECTORS);
    assert_true(virtio_blk_seg_max(blk) >= 1);
    assert_true(virtio_has_feature(e->lb.dev, VIRTIO_BLK_F_FLUSH));
    assert_int_equal(virtio_has_feature(e->lb.dev, VIRTIO_F_EVENT_IDX), e->mode->event_idx);

    fill_pattern(wbuf, 8 * 512, 1);
    assert_int_equal(virtio_blk_write(blk, 3, wbuf, 8), 0);
    /* The data is on the "disk" itself ... */
    assert_memory_equal(e->disk + 3 * 512, wbuf, 8 * 512);
    /* ... and comes back. */
    assert_int_equal(virtio_blk_read(blk, 3, rbuf, 8), 0);
    assert_memory_equal(rbuf, wbuf, 8 * 512);
    assert_int_equal(virtio_blk_flush(blk), 0);
    assert_int_equal(virtio_blk_get_id(blk, id), 0);
    assert_string_equal(id, "lblk0-serial");
    /* Last sector is in range. */
    assert_int_equal(virtio_blk_read(blk, DISK_SECTORS - 1, rbuf, 1), 0);
    /* Interrupt-driven: completions were signalled; polled: callbacks off,
     * so the device never had to interrupt for a used buffer. */
    if (e->mode->polled)
        assert_int_equal(__atomic_load_n(&e->lb.dev->vqs[0].irq_count, __ATOMIC_ACQUIRE), 0);
    else
        assert_true(__atomic_load_n(&e->lb.dev->vqs[0].irq_count, __ATOMIC_ACQUIRE) > 0);
    virtio_blk_remove(blk);
}

static void test_blk_out_of_range(void **state)
{
    struct env *e = *state;
    struct virtio_blk *blk = blk_up();
    uint8_t *buf = dma_buf(4 * 512);

    (void)e;
    /* The driver does not second-guess the device: the device says IOERR. */
    assert_int_equal(virtio_blk_read(blk, DISK_SECTORS, buf, 1), -EIO);
    assert_int_equal(virtio_blk_read(blk, DISK_SECTORS - 2, buf, 4), -EIO);
    assert_int_equal(virtio_blk_write(blk, DISK_SECTORS + 100, buf, 1), -EIO);
    /* Still usable. */
    fill_pattern(buf, 512, 7);
    assert_int_equal(virtio_blk_write(blk, 0, buf, 1), 0);
    memset(buf, 0, 512);
    assert_int_equal(virtio_blk_read(blk, 0, buf, 1), 0);
    assert_memory_equal(buf, e->disk, 512);
    assert_int_equal(virtio_blk_get_stats(blk)->errors, 3);
    /* Argument errors never reach the device. */
    assert_int_equal(virtio_blk_read(blk, 0, buf, 0), -EINVAL);
    virtio_blk_remove(blk);
}

static void test_blk_multi_segment(void **state)
{
    struct env *e = *state;
    struct virtio_blk *blk = blk_up();
    static const uint32_t wlens[] = {512, 1536, 512, 1024, 512}; /* 4 KiB */
    static const uint32_t rlens[] = {2048, 512, 1024, 512};
    struct vq_sg wsg[5], rsg[4];
    struct virtio_blk_req req;
    uint8_t *ref = malloc(4096), *got;
    size_t off = 0;
    unsigned i;

    assert_non_null(ref);
    fill_pattern(ref, 4096, 3);
    for (i = 0; i < 5; i++) {
        wsg[i].buf = dma_buf(wlens[i]);
        wsg[i].len = wlens[i];
        memcpy(wsg[i].buf, ref + off, wlens[i]);
        off += wlens[i];
    }
    memset(&req, 0, sizeof(req));
    req.type = VIRTIO_BLK_T_OUT;
    req.sector = 100;
    req.segs = wsg;
    req.nsegs = 5;
    assert_int_equal(virtio_blk_submit(blk, &req), 0);
    assert_int_equal(virtio_blk_wait(blk, &req, VIRTIO_BLK_TIMEOUT_NS), 0);
    assert_memory_equal(e->disk + 100 * 512, ref, 4096);

    for (i = 0; i < 4; i++) {
        rsg[i].buf = dma_buf(rlens[i]);
        rsg[i].len = rlens[i];
    }
    memset(&req, 0, sizeof(req));
    req.type = VIRTIO_BLK_T_IN;
    req.sector = 100;
    req.segs = rsg;
    req.nsegs = 4;
    assert_int_equal(virtio_blk_submit(blk, &req), 0);
    assert_int_equal(virtio_blk_wait(blk, &req, VIRTIO_BLK_TIMEOUT_NS), 0);
    assert_int_equal(req.len, 4096 + 1);
    for (off = 0, i = 0; i < 4; i++) {
        got = rsg[i].buf;
        assert_memory_equal(got, ref + off, rlens[i]);
        off += rlens[i];
    }
    /* Not a multiple of 512: refused before it reaches the device. */
    rsg[0].len = 100;
    req.nsegs = 1;
    assert_int_equal(virtio_blk_submit(blk, &req), -EINVAL);
    free(ref);
    virtio_blk_remove(blk);
}

struct done_count {
    unsigned n;
};

static void count_done(struct virtio_blk_req *req)
{
    ((struct done_count *)req->ctx)->n++;
}

/* Full ring of requests in flight, then random traffic against a model. */
static void test_blk_many_in_flight(void **state)
{
    struct env *e = *state;
    struct virtio_blk *blk = blk_up();
    enum { N = 256, ROUNDS = 40 };
    struct virtio_blk_req *reqs = calloc(N, sizeof(*reqs));
    struct vq_sg *sgs = calloc(N, sizeof(*sgs));
    uint8_t *model = calloc(DISK_SECTORS, 512);
    uint8_t *bufs = dma_buf((size_t)N * 512);
    struct done_count dc = {0};
    unsigned round, i, inflight, queued;
    uint32_t rnd = 12345;

    assert_non_null(reqs);
    assert_non_null(sgs);
    assert_non_null(model);
    for (round = 0; round < ROUNDS; round++) {
        /* Distinct sectors per round, so the order of completion does not
         * matter; writes on even rounds, reads (verified) on odd rounds. */
        bool write = (round % 2) == 0;
        unsigned base = (unsigned)(rnd % (DISK_SECTORS - N));

        rnd = rnd * 1103515245u + 12345u;
        queued = 0;
        for (i = 0; i < N; i++) {
            uint8_t *b = bufs + (size_t)i * 512;

            if (write)
                fill_pattern(b, 512, round * N + i);
            else
                memset(b, 0xee, 512);
            sgs[i].buf = b;
            sgs[i].len = 512;
            reqs[i] = (struct virtio_blk_req){
                .type = write ? VIRTIO_BLK_T_OUT : VIRTIO_BLK_T_IN,
                .nsegs = 1,
                .sector = base + i,
                .segs = &sgs[i],
                .done = count_done,
                .ctx = &dc,
            };
            for (;;) {
                int r = virtio_blk_submit(blk, &reqs[i]);

                if (r == 0)
                    break;
                /* Ring full (no indirect: 3 descriptors each): complete some. */
                assert_int_equal(r, -ENOSPC);
                assert_true(virtio_blk_poll(blk) >= 0);
            }
            queued++;
            if (write)
                memcpy(model + (size_t)(base + i) * 512, b, 512);
        }
        inflight = virtio_blk_in_flight(blk);
        assert_true(inflight <= queued);
        assert_int_equal(virtio_blk_drain(blk, VIRTIO_BLK_TIMEOUT_NS), 0);
        for (i = 0; i < N; i++) {
            assert_int_equal(reqs[i].result, 0);
            if (!write)
                assert_memory_equal(bufs + (size_t)i * 512, model + (size_t)(base + i) * 512, 512);
        }
    }
    assert_int_equal(dc.n, N * ROUNDS);
    assert_memory_equal(e->disk, model, (size_t)DISK_SECTORS * 512);
    if (e->mode->event_idx && !e->mode->polled) {
        /* Batching must pay off: far fewer interrupts than requests. */
        assert_true(e->lb.dev->interrupts < (uint64_t)N * ROUNDS);
    }
    free(reqs);
    free(sgs);
    free(model);
    virtio_blk_remove(blk);
}

static void test_blk_queue_depth_one(void **state)
{
    struct env *e = *state;
    struct virtio_blk *blk;
    uint8_t *buf = dma_buf(512), *rbuf = dma_buf(512);
    unsigned i;

    env.disk = calloc(DISK_SECTORS, 512);
    assert_int_equal(
        vdev_blk_create(&e->lb.vd, &e->mem, e->disk, (uint64_t)DISK_SECTORS * 512, NULL), 0);
    lb_attach("lblk1");
    /* Depth 1: one ring entry with indirect descriptors (the whole chain
     * in one slot); without them a request takes 3 descriptors, so a
     * 4-entry ring holds exactly one. */
    e->lb.dev->queue_size_limit = e->mode->event_idx ? 1 : 4;
    assert_int_equal(virtio_blk_probe(e->lb.dev, &blk), 0);
    assert_int_equal(vq_get_size(virtio_vq(e->lb.dev, 0)), e->lb.dev->queue_size_limit);
    for (i = 0; i < 200; i++) {
        fill_pattern(buf, 512, i);
        assert_int_equal(virtio_blk_write(blk, i, buf, 1), 0);
        assert_int_equal(virtio_blk_read(blk, i, rbuf, 1), 0);
        assert_memory_equal(rbuf, buf, 512);
    }
    virtio_blk_remove(blk);
}

struct resize_arg {
    void *disk;
    uint64_t bytes;
    int result;
};

static void do_resize(struct vdev *d, void *arg)
{
    struct resize_arg *a = arg;

    a->result = vdev_blk_resize(d, a->disk, a->bytes);
}

static void test_blk_config_change(void **state)
{
    struct env *e = *state;
    struct virtio_blk *blk = blk_up();
    uint8_t *bigger = calloc(2 * DISK_SECTORS, 512);
    struct resize_arg ra = {bigger, 2ull * DISK_SECTORS * 512, -1};
    uint64_t start;
    uint8_t *buf = dma_buf(512);

    assert_non_null(bigger);
    memcpy(bigger, e->disk, (size_t)DISK_SECTORS * 512);
    vmmio_run_locked(e->lb.m, do_resize, &ra);
    assert_int_equal(ra.result, 0);
    if (e->mode->polled) {
        /* No interrupts: the driver learns on its next config read. */
        assert_int_equal(virtio_blk_reinit(blk), 0);
    }
    start = virt_time_ns();
    while (virtio_blk_capacity(blk) != 2 * DISK_SECTORS) {
        assert_true(virt_time_ns() - start < 2000000000ull);
        sched_yield();
    }
    assert_true(e->lb.dev->config_interrupts >= (e->mode->polled ? 0u : 1u));
    /* The new tail is usable. */
    fill_pattern(buf, 512, 9);
    assert_int_equal(virtio_blk_write(blk, 2 * DISK_SECTORS - 1, buf, 1), 0);
    assert_memory_equal(bigger + (size_t)(2 * DISK_SECTORS - 1) * 512, buf, 512);
    virtio_blk_remove(blk);
    free(e->disk);
    e->disk = bigger; /* freed by teardown */
}

/* Reset + re-init while requests are in flight: each either completed or
 * was cancelled, none is lost, and the device works afterwards. */
static void test_blk_reset_mid_traffic(void **state)
{
    struct env *e = *state;
    struct virtio_blk *blk = blk_up();
    enum { N = 64 };
    struct virtio_blk_req reqs[N];
    struct vq_sg sgs[N];
    uint8_t *bufs = dma_buf((size_t)N * 512);
    struct done_count dc = {0};
    unsigned i, cycle, ok, cancelled;

    for (cycle = 0; cycle < 5; cycle++) {
        ok = cancelled = 0;
        dc.n = 0;
        for (i = 0; i < N; i++) {
            fill_pattern(bufs + i * 512, 512, cycle * 100 + i);
            sgs[i] = (struct vq_sg){.buf = bufs + i * 512, .len = 512};
            reqs[i] = (struct virtio_blk_req){
                .type = VIRTIO_BLK_T_OUT,
                .nsegs = 1,
                .sector = i,
                .segs = &sgs[i],
                .done = count_done,
                .ctx = &dc,
            };
            if (virtio_blk_submit(blk, &reqs[i]) != 0)
                break;
        }
        assert_int_equal(virtio_blk_reinit(blk), 0);
        assert_int_equal(virtio_blk_in_flight(blk), 0);
        for (unsigned j = 0; j < i; j++) {
            if (reqs[j].result == 0)
                ok++;
            else if (reqs[j].result == -ECANCELED)
                cancelled++;
        }
        /* Each one ended exactly once, completed or cancelled. */
        assert_int_equal(ok + cancelled, i);
        assert_int_equal(dc.n, i);
        /* Usable again: write + read back. */
        fill_pattern(bufs, 512, 999 + cycle);
        assert_int_equal(virtio_blk_write(blk, 500, bufs, 1), 0);
        assert_memory_equal(e->disk + 500 * 512, bufs, 512);
    }
    assert_int_equal(virtio_blk_get_stats(blk)->reinits, 5);
    virtio_blk_remove(blk);
}

/* A corrupt ring (split: avail idx far ahead, as a buggy driver would leave
 * it; packed: an available descriptor with a buffer id past the ring):
 * the device raises DEVICE_NEEDS_RESET (2.1.2); the driver sees it (config
 * interrupt, or the status register when polled), fails the request with
 * -EIO, re-initialises, and the next request works. */
static void test_blk_needs_reset_recovers(void **state)
{
    struct env *e = *state;
    struct virtio_blk *blk = blk_up();
    uint8_t *buf = dma_buf(512);
    uint64_t desc, avail, used;
    struct virtq_avail *av;
    struct vmmio_transport_state st;
    uint64_t start;
    int r, tries;

    assert_int_equal(virtio_blk_read(blk, 0, buf, 1), 0);
    vq_get_ring_addrs(virtio_vq(e->lb.dev, 0), &desc, &avail, &used);
    if (e->mode->packed) {
        /* 2.8.1 packed: every descriptor the driver has not made available
         * yet now looks available in this lap (AVAIL = 1, USED = 0 on the
         * first lap) with a buffer id past the ring: no id to return, a
         * corrupt ring for the device. */
        struct pvirtq_desc *d = (struct pvirtq_desc *)(void *)(e->arena + (desc - LB_GPA_BASE));
        uint32_t i, num = vq_get_size(virtio_vq(e->lb.dev, 0));

        for (i = 0; i < num; i++) {
            if (d[i].flags & VIRTQ_DESC_F_AVAIL)
                continue;
            d[i].addr = LB_GPA_BASE;
            d[i].len = 512;
            d[i].id = 0xffff;
            __atomic_store_n(&d[i].flags, (uint16_t)VIRTQ_DESC_F_AVAIL, __ATOMIC_RELEASE);
        }
    } else {
        av = (struct virtq_avail *)(void *)(e->arena + (avail - LB_GPA_BASE));
        __atomic_store_n(&av->idx, (uint16_t)(av->idx + 1000), __ATOMIC_RELEASE);
    }
    vq_notify(virtio_vq(e->lb.dev, 0));
    /* Let the device find it before our next add rewrites avail->idx. */
    start = virt_time_ns();
    do {
        vmmio_get_state(e->lb.m, &st);
        assert_true(virt_time_ns() - start < 2000000000ull);
        sched_yield();
    } while (!(st.device_status & VIRTIO_STATUS_DEVICE_NEEDS_RESET));
    for (tries = 0, r = -1; tries < 5 && r != 0; tries++)
        r = virtio_blk_read(blk, 0, buf, 1);
    assert_int_equal(r, 0);
    assert_true(virtio_blk_get_stats(blk)->reinits >= 1);
    assert_false(e->lb.dev->needs_reset);
    virtio_blk_remove(blk);
}

/* A device that never answers: the driver times out, resets, recovers. */
static void test_blk_timeout_recovers(void **state)
{
    struct env *e = *state;
    struct virtio_blk *blk = blk_up();
    uint8_t *buf = dma_buf(512);
    struct virtio_blk_req req;
    struct vq_sg sg = {.buf = buf, .len = 512};

    /* Stop the device CPU. */
    __atomic_store_n(&e->lb.stop, 1, __ATOMIC_RELEASE);
    pthread_join(e->lb.thread, NULL);
    e->lb.thread_running = false;
    memset(&req, 0, sizeof(req));
    req.type = VIRTIO_BLK_T_IN;
    req.nsegs = 1;
    req.segs = &sg;
    assert_int_equal(virtio_blk_submit(blk, &req), 0);
    assert_int_equal(virtio_blk_wait(blk, &req, 50000000ull), -ETIMEDOUT);
    assert_int_equal(req.result, -ECANCELED);
    assert_int_equal(virtio_blk_get_stats(blk)->reinits, 1);
    /* Device CPU back: works again. */
    e->lb.stop = 0;
    assert_int_equal(pthread_create(&e->lb.thread, NULL, lb_device_main, &e->lb), 0);
    e->lb.thread_running = true;
    assert_int_equal(virtio_blk_read(blk, 0, buf, 1), 0);
    virtio_blk_remove(blk);
}

/* ---- detection: checking mode, interrupt storms ---- */

/* Checking mode against the real model: every writable segment bounced,
 * data still right (disk, read back, GET_ID, IOERR status), nothing
 * reported, nothing logged. */
static void test_blk_checking_mode(void **state)
{
    struct env *e = *state;
    struct virtio_blk *blk;
    uint8_t *wbuf = dma_buf(8 * 512), *rbuf = dma_buf(8 * 512);
    struct vq_sg sgs[3] = {{.buf = rbuf, .len = 512},
                           {.buf = rbuf + 512, .len = 1024},
                           {.buf = rbuf + 1536, .len = 2560}};
    struct virtio_blk_req req = {.type = VIRTIO_BLK_T_IN, .nsegs = 3, .sector = 3, .segs = sgs};
    char id[VIRTIO_BLK_ID_BYTES + 1];
    const struct vq_stats *st;
    uint64_t logs = host_log_problems();

    vq_set_checking(true);
    blk = blk_up();
    st = vq_get_stats(virtio_vq(e->lb.dev, 0));
    fill_pattern(wbuf, 8 * 512, 5);
    assert_int_equal(virtio_blk_write(blk, 3, wbuf, 8), 0);
    assert_memory_equal(e->disk + 3 * 512, wbuf, 8 * 512);
    memset(rbuf, 0, 8 * 512);
    assert_int_equal(virtio_blk_submit(blk, &req), 0);
    assert_int_equal(virtio_blk_wait(blk, &req, VIRTIO_BLK_TIMEOUT_NS), 0);
    assert_memory_equal(rbuf, wbuf, 4096);
    assert_int_equal(virtio_blk_get_id(blk, id), 0);
    assert_string_equal(id, "lblk0-serial");
    assert_int_equal(virtio_blk_read(blk, DISK_SECTORS, rbuf, 1), -EIO); /* status bounced */
    assert_int_equal(st->check_bounced, 4);
    assert_int_equal(st->check_overruns, 0);
    assert_int_equal(st->check_past_len, 0);
    assert_int_equal(st->check_skipped, 0);
    assert_int_equal(host_log_problems() - logs, 0);
    virtio_blk_remove(blk);
}


/* Device side of a storm: InterruptStatus USED_BUFFER and the line raised,
 * nothing pushed (what the hostile catalogue's "interrupt storm" does). */
static void raise_used_irq(struct vdev *d, void *arg)
{
    (void)arg;
    __atomic_fetch_or(&d->interrupt_status, VIRTIO_INT_USED_BUFFER, __ATOMIC_RELAXED);
    d->irq(d, VIRTIO_INT_USED_BUFFER, d->irq_ctx);
}

/* A storm on the real loopback: counted, masked (the device thread holds
 * the line), requests still complete with the right data, the line is
 * unmasked afterwards. */
static void test_blk_irq_storm(void **state)
{
    struct env *e = *state;
    struct virtio_blk *blk = blk_up();
    struct virtio_vq *v = &e->lb.dev->vqs[0];
    uint8_t *wbuf = dma_buf(4096), *rbuf = dma_buf(4096);
    uint64_t start = virt_time_ns();

    fill_pattern(wbuf, 4096, 77);
    assert_int_equal(virtio_blk_write(blk, 10, wbuf, 8), 0);
    /* Acquire: pairs with the release in virtio_storm_mask(), which counts
     * the storm after masking the line. */
    while (__atomic_load_n(&v->irq_storms, __ATOMIC_ACQUIRE) == 0) {
        assert_true(virt_time_ns() - start < 20000000000ull);
        vmmio_run_locked(e->lb.m, raise_used_irq, NULL);
        sched_yield();
    }
    assert_true(v->irq_no_progress >= VIRTIO_IRQ_STORM_RUN);
    assert_true(__atomic_load_n(&e->lb.irq_masked, __ATOMIC_ACQUIRE));
    /* Masked: the read completes by polling. */
    memset(rbuf, 0, 4096);
    assert_int_equal(virtio_blk_read(blk, 10, rbuf, 8), 0);
    assert_memory_equal(rbuf, wbuf, 4096);
    /* After the mask time a wait unmasks the line; interrupts work again. */
    start = virt_time_ns();
    while (__atomic_load_n(&e->lb.irq_masked, __ATOMIC_ACQUIRE)) {
        assert_true(virt_time_ns() - start < 5000000000ull);
        assert_int_equal(virtio_blk_read(blk, 10, rbuf, 8), 0);
    }
    assert_int_equal(virtio_blk_read(blk, 10, rbuf, 8), 0);
    assert_memory_equal(rbuf, wbuf, 4096);
    assert_int_equal(e->lb.dev->lost_interrupts, 0);
    assert_int_equal(virtio_blk_get_stats(blk)->reinits, 0);
    virtio_blk_remove(blk);
}


/* ---- life cycle failures (drivers/virtio/virtio_driver.c) ---- */

static bool is_device_failed(struct virtio_device *dev)
{
    return dev->ops->get_status(dev) & VIRTIO_STATUS_FAILED;
}

/* Without VERSION_1 a probe fails (FAILED, nothing bound) and so does a
 * reinit (FAILED, no queues, the driver still bound); offered again, both
 * work and so does I/O. */
static void test_lifecycle_init_fails(void **state)
{
    struct env *e = *state;
    struct virtio_blk *blk = NULL;
    uint8_t *buf = dma_buf(VIRTIO_BLK_SECTOR_SIZE);

    env.disk = calloc(DISK_SECTORS, VIRTIO_BLK_SECTOR_SIZE);
    assert_non_null(env.disk);
    assert_int_equal(vdev_blk_create(&e->lb.vd, &e->mem, env.disk,
                                     (uint64_t)DISK_SECTORS * VIRTIO_BLK_SECTOR_SIZE, "lblk0"),
                     0);
    lb_attach("lblk0");
    e->lb.vd.avail_features &= ~(1ull << VIRTIO_F_VERSION_1);
    assert_int_equal(virtio_blk_probe(e->lb.dev, &blk), -ENODEV);
    assert_null(blk);
    assert_null(e->lb.dev->driver_priv);
    assert_true(is_device_failed(e->lb.dev));
    assert_int_equal(e->lb.dev->nvqs, 0);

    e->lb.vd.avail_features |= 1ull << VIRTIO_F_VERSION_1;
    assert_int_equal(virtio_blk_probe(e->lb.dev, &blk), 0);
    assert_false(is_device_failed(e->lb.dev));
    assert_int_equal(virtio_blk_read(blk, 0, buf, 1), 0);

    e->lb.vd.avail_features &= ~(1ull << VIRTIO_F_VERSION_1);
    assert_int_equal(virtio_blk_reinit(blk), -ENODEV);
    assert_true(is_device_failed(e->lb.dev));
    assert_int_equal(e->lb.dev->nvqs, 0);
    assert_ptr_equal(e->lb.dev->driver_priv, blk);
    assert_true(virtio_blk_read(blk, 0, buf, 1) < 0);

    e->lb.vd.avail_features |= 1ull << VIRTIO_F_VERSION_1;
    assert_int_equal(virtio_blk_reinit(blk), 0);
    assert_int_equal(virtio_blk_read(blk, 0, buf, 1), 0);
    assert_int_equal(virtio_blk_get_stats(blk)->reinits, 3); /* + the one in the failed read */
    virtio_blk_remove(blk);
    assert_null(e->lb.dev->driver_priv);
}

#if HAVE_DEV_NET
/* Out of DMA memory for the receive buffers (the last allocation of a
 * probe): setup fails after the queues exist; the device ends reset and
 * FAILED, queues and buffers freed (ASan/LSan), nothing bound. With the
 * memory back, probe and traffic work. */
static void test_lifecycle_setup_fails(void **state)
{
    struct env *e = *state;
    struct virtio_net *net = NULL;
    uint8_t frame[64], got[VIRTIO_NET_MAX_FRAME];
    size_t full;

    assert_int_equal(vdev_net_create(&e->lb.vd, &e->mem, NULL), 0);
    lb_attach("lnet0");
    assert_int_equal(virtio_net_probe(e->lb.dev, &net), 0);
    full = host_dma_arena_used();
    virtio_net_remove(net);
    net = NULL;

    /* The arena again from its start (the device is reset), one byte short. */
    host_dma_arena_setup(e->arena, full - 1, LB_GPA_BASE);
    assert_int_equal(virtio_net_probe(e->lb.dev, &net), -ENOMEM);
    assert_null(net);
    assert_null(e->lb.dev->driver_priv);
    assert_true(is_device_failed(e->lb.dev));
    assert_int_equal(e->lb.dev->nvqs, 0);

    host_dma_arena_setup(e->arena, LB_ARENA_SIZE, LB_GPA_BASE);
    assert_int_equal(virtio_net_probe(e->lb.dev, &net), 0);
    fill_pattern(frame, sizeof(frame), 5);
    assert_int_equal(virtio_net_send(net, frame, sizeof(frame)), 0);
    assert_int_equal(virtio_net_recv(net, got, sizeof(got), VIRTIO_NET_TIMEOUT_NS),
                     (int)sizeof(frame));
    assert_memory_equal(got, frame, sizeof(frame));
    virtio_net_remove(net);
}
#endif

/* ---- registry + probe mismatches ---- */

static void test_probe_wrong_type(void **state)
{
    struct env *e = *state;
    struct virtio_rng *rng;
    struct virtio_net *net;
    struct virtio_blk *blk = blk_up();

    assert_int_equal(virtio_rng_probe(e->lb.dev, &rng), -ENODEV);
    assert_int_equal(virtio_net_probe(e->lb.dev, &net), -ENODEV);
    assert_int_equal(virtio_register(e->lb.dev), 0);
    assert_ptr_equal(virtio_find("lblk0"), e->lb.dev);
    assert_string_equal(virtio_type_name(e->lb.dev->device_id), "blk");
    assert_int_equal(e->lb.dev->nvqs, 1);
    virtio_unregister(e->lb.dev);
    virtio_blk_remove(blk);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        MODE_TESTS(test_blk_basic),
        MODE_TESTS(test_blk_out_of_range),
        MODE_TESTS(test_blk_multi_segment),
        MODE_TESTS(test_blk_many_in_flight),
        MODE_TESTS(test_blk_queue_depth_one),
        MODE_TESTS(test_blk_config_change),
        MODE_TESTS(test_blk_reset_mid_traffic),
        MODE_TESTS(test_blk_needs_reset_recovers),
        cmocka_unit_test_prestate_setup_teardown(test_blk_timeout_recovers, env_setup, env_teardown,
                                                 (void *)&mode_irq_evt),
        cmocka_unit_test_prestate_setup_teardown(test_blk_timeout_recovers, env_setup, env_teardown,
                                                 (void *)&mode_poll_flags),
        MODE_TESTS(test_blk_checking_mode),
        cmocka_unit_test_prestate_setup_teardown(test_blk_irq_storm, env_setup, env_teardown,
                                                 (void *)&mode_irq_evt),
        cmocka_unit_test_prestate_setup_teardown(test_blk_irq_storm, env_setup, env_teardown,
                                                 (void *)&mode_irq_flags),
        MODE_TESTS(test_lifecycle_init_fails),
#if HAVE_DEV_NET
        MODE_TESTS(test_lifecycle_setup_fails),
#endif
        cmocka_unit_test_prestate_setup_teardown(test_probe_wrong_type, env_setup, env_teardown,
                                                 (void *)&mode_irq_evt),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
