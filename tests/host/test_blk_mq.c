/* SPDX-License-Identifier: Apache-2.0 */
/*
 * test_blk_mq.c - the blk driver's multiqueue (VIRTIO_BLK_F_MQ, VIRTIO 1.2
 * 5.2.2-5.2.4) against the real model (hostsim/dev_blk.c with
 * vdev_blk_set_num_queues) over the loopback transport, the device side on
 * a second thread (tests/host/lb_env.c), in all eight modes.
 *
 * What is checked: MQ negotiated and min(num_queues, VIRTIO_BLK_MAX_QUEUES)
 * queues set up (the rest of the device's queues never made ready); each
 * request goes on the queue asked for and the device really sees it there
 * (its per-queue request counter); data written on one queue reads back on
 * another; completions of many requests in flight on every queue at once;
 * the per-CPU choice of virtio_blk_submit; one queue without MQ; a device
 * that offers MQ with num_queues 0 gets one queue, not a crash.
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

#include "dev_blk_internal.h"
#include "lb_env.h"
#include "snap_le.h"
#include "vdev.h"
#include "vdev_models.h"
#include "virtio.h"
#include "virtio_blk.h"
#include "virtio_platform.h"

#define MQ_PER_QUEUE 16u /* requests in flight on each queue at once */
#define MQ_SECTORS 4u    /* per request */

/* A blk model with nq queues (1: MQ not offered), the driver probed. */
static struct virtio_blk *mq_up(unsigned nq)
{
    struct virtio_blk *blk = NULL;

    env.disk = calloc(DISK_SECTORS, VIRTIO_BLK_SECTOR_SIZE);
    assert_non_null(env.disk);
    assert_int_equal(vdev_blk_create(&env.lb.vd, &env.mem, env.disk,
                                     (uint64_t)DISK_SECTORS * VIRTIO_BLK_SECTOR_SIZE, "mq"),
                     0);
    assert_int_equal(vdev_blk_set_num_queues(&env.lb.vd, nq), 0);
    lb_attach("lblk0");
    assert_int_equal(virtio_blk_probe(env.lb.dev, &blk), 0);
    return blk;
}

static uint64_t dev_requests(unsigned q)
{
    return __atomic_load_n(&env.lb.vd.queues[q].stats.requests, __ATOMIC_ACQUIRE);
}

/* n requests of type on queue q, all in flight at once, sectors from
 * first on (MQ_SECTORS each) over buf; then waited for one by one. */
static void mq_burst(struct virtio_blk *blk, unsigned q, uint32_t type, uint64_t first,
                     uint8_t *buf, unsigned n)
{
    struct virtio_blk_req req[MQ_PER_QUEUE];
    struct vq_sg sg[MQ_PER_QUEUE];
    unsigned i;

    assert_true(n <= MQ_PER_QUEUE);
    for (i = 0; i < n; i++) {
        sg[i] = (struct vq_sg){.buf = buf + (size_t)i * MQ_SECTORS * 512, .len = MQ_SECTORS * 512};
        req[i] = (struct virtio_blk_req){
            .type = type, .nsegs = 1, .sector = first + i * MQ_SECTORS, .segs = &sg[i]};
        assert_int_equal(virtio_blk_submit_queue(blk, q, &req[i]), 0);
        assert_int_equal(req[i].queue, q);
    }
    for (i = 0; i < n; i++)
        assert_int_equal(virtio_blk_wait(blk, &req[i], VIRTIO_BLK_TIMEOUT_NS), 0);
}

static void test_mq_three_queues(void **state)
{
    struct env *e = *state;
    struct virtio_blk *blk = mq_up(3);
    size_t bytes = (size_t)MQ_PER_QUEUE * MQ_SECTORS * 512;
    uint8_t *wbuf = dma_buf(bytes), *rbuf = dma_buf(bytes);
    struct virtio_blk_queue_stats st;
    uint64_t before[3];
    unsigned q;

    assert_true(virtio_has_feature(e->lb.dev, VIRTIO_BLK_F_MQ));
    assert_int_equal(virtio_blk_num_queues(blk), 3);
    assert_int_equal(e->lb.dev->nvqs, 3);
    for (q = 0; q < 3; q++) {
        assert_true(e->lb.vd.queues[q].ready);
        before[q] = dev_requests(q);
    }
    /* Queue q writes its own stretch; the next queue reads it back. */
    for (q = 0; q < 3; q++) {
        uint64_t first = 100 + q * MQ_PER_QUEUE * MQ_SECTORS;

        fill_pattern(wbuf, bytes, 40 + q);
        mq_burst(blk, q, VIRTIO_BLK_T_OUT, first, wbuf, MQ_PER_QUEUE);
        assert_memory_equal(e->disk + first * 512, wbuf, bytes);
        memset(rbuf, 0, bytes);
        mq_burst(blk, (q + 1) % 3, VIRTIO_BLK_T_IN, first, rbuf, MQ_PER_QUEUE);
        assert_memory_equal(rbuf, wbuf, bytes);
    }
    /* Each queue carried its 16 writes and 16 reads, on the device side
     * too (the model counts per queue what it completed there). */
    for (q = 0; q < 3; q++) {
        assert_int_equal(virtio_blk_get_queue_stats(blk, q, &st), 0);
        assert_int_equal(st.submitted, 2 * MQ_PER_QUEUE);
        assert_int_equal(st.completed, 2 * MQ_PER_QUEUE);
        assert_int_equal(st.in_flight, 0);
        assert_int_equal(dev_requests(q) - before[q], 2 * MQ_PER_QUEUE);
    }
    assert_int_equal(virtio_blk_get_queue_stats(blk, 3, &st), -EINVAL);
    assert_int_equal(virtio_blk_in_flight(blk), 0);
    virtio_blk_remove(blk);
}

/* Every queue full at once, completions taken by one drain. */
static void test_mq_all_in_flight(void **state)
{
    struct env *e = *state;
    struct virtio_blk *blk = mq_up(4);
    struct virtio_blk_req req[4][MQ_PER_QUEUE];
    struct vq_sg sg[4][MQ_PER_QUEUE];
    uint8_t *buf = dma_buf((size_t)4 * MQ_PER_QUEUE * 512);
    unsigned q, i;

    for (q = 0; q < 4; q++) {
        for (i = 0; i < MQ_PER_QUEUE; i++) {
            uint8_t *p = buf + ((size_t)q * MQ_PER_QUEUE + i) * 512;

            memset(p, (int)(q * MQ_PER_QUEUE + i + 1), 512);
            sg[q][i] = (struct vq_sg){.buf = p, .len = 512};
            req[q][i] = (struct virtio_blk_req){.type = VIRTIO_BLK_T_OUT,
                                                .nsegs = 1,
                                                .sector = q * MQ_PER_QUEUE + i,
                                                .segs = &sg[q][i]};
            assert_int_equal(virtio_blk_submit_queue(blk, q, &req[q][i]), 0);
        }
    }
    assert_int_equal(virtio_blk_drain(blk, VIRTIO_BLK_TIMEOUT_NS), 0);
    assert_int_equal(virtio_blk_in_flight(blk), 0);
    for (q = 0; q < 4; q++) {
        for (i = 0; i < MQ_PER_QUEUE; i++) {
            unsigned k = q * MQ_PER_QUEUE + i;

            assert_int_equal(req[q][i].result, 0);
            assert_int_equal(e->disk[k * 512], (uint8_t)(k + 1));
            assert_int_equal(e->disk[k * 512 + 511], (uint8_t)(k + 1));
        }
        assert_int_equal(dev_requests(q), MQ_PER_QUEUE);
    }
    virtio_blk_remove(blk);
}

/* The device offers 8; we drive VIRTIO_BLK_MAX_QUEUES and leave the rest
 * alone (5.2.2: the driver may use fewer queues than num_queues). */
static void test_mq_capped(void **state)
{
    struct env *e = *state;
    struct virtio_blk *blk = mq_up(8);
    uint8_t *buf = dma_buf(512);
    unsigned q;

    assert_int_equal(virtio_blk_num_queues(blk), VIRTIO_BLK_MAX_QUEUES);
    assert_int_equal(e->lb.dev->nvqs, VIRTIO_BLK_MAX_QUEUES);
    for (q = 0; q < 8; q++)
        assert_int_equal(e->lb.vd.queues[q].ready, q < VIRTIO_BLK_MAX_QUEUES);
    fill_pattern(buf, 512, 9);
    assert_int_equal(virtio_blk_write(blk, 7, buf, 1), 0);
    assert_memory_equal(e->disk + 7 * 512, buf, 512);
    virtio_blk_remove(blk);
}

/* No MQ: one queue, and asking for another is refused before anything is
 * sent. */
static void test_mq_single_queue(void **state)
{
    struct env *e = *state;
    struct virtio_blk *blk = mq_up(1);
    uint8_t *buf = dma_buf(512);
    struct vq_sg sg = {.buf = buf, .len = 512};
    struct virtio_blk_req req = {.type = VIRTIO_BLK_T_IN, .nsegs = 1, .sector = 0, .segs = &sg};

    assert_false(virtio_has_feature(e->lb.dev, VIRTIO_BLK_F_MQ));
    assert_int_equal(virtio_blk_num_queues(blk), 1);
    assert_int_equal(virtio_blk_submit_queue(blk, 1, &req), -EINVAL);
    assert_int_equal(virtio_blk_submit_queue(blk, VIRTIO_BLK_MAX_QUEUES, &req), -EINVAL);
    assert_int_equal(virtio_blk_in_flight(blk), 0);
    assert_int_equal(virtio_blk_submit(blk, &req), 0);
    assert_int_equal(req.queue, 0);
    assert_int_equal(virtio_blk_wait(blk, &req, VIRTIO_BLK_TIMEOUT_NS), 0);
    assert_int_equal(dev_requests(0), 1);
    virtio_blk_remove(blk);
}

static bool pin_to(int cpu)
{
    cpu_set_t set;

    CPU_ZERO(&set);
    CPU_SET(cpu, &set);
    return sched_setaffinity(0, sizeof(set), &set) == 0 && sched_getcpu() == cpu;
}

/* virtio_blk_submit: the submitting CPU's queue (cpu % queues). */
static void test_mq_queue_by_cpu(void **state)
{
    struct virtio_blk *blk = mq_up(2);
    uint8_t *buf = dma_buf(512);
    struct vq_sg sg = {.buf = buf, .len = 512};
    struct virtio_blk_req req = {.type = VIRTIO_BLK_T_IN, .nsegs = 1, .sector = 1, .segs = &sg};
    cpu_set_t saved;
    int cpu, tried = 0;

    (void)state;
    assert_int_equal(sched_getaffinity(0, sizeof(saved), &saved), 0);
    for (cpu = 0; cpu < 4; cpu++) {
        if (!CPU_ISSET(cpu, &saved) || !pin_to(cpu))
            continue;
        assert_int_equal(virtio_blk_submit(blk, &req), 0);
        assert_int_equal(req.queue, (unsigned)cpu % 2);
        assert_int_equal(virtio_blk_wait(blk, &req, VIRTIO_BLK_TIMEOUT_NS), 0);
        tried++;
    }
    assert_int_equal(sched_setaffinity(0, sizeof(saved), &saved), 0);
    assert_true(tried > 0);
    virtio_blk_remove(blk);
}

/* MQ offered with num_queues 0 (5.2.4 makes requestq1 always exist): the
 * driver says so and runs one queue. */
static void test_mq_num_queues_zero(void **state)
{
    struct env *e = *state;
    struct virtio_blk *blk = NULL;
    struct dev_blk *b;
    uint8_t *buf = dma_buf(512);

    env.disk = calloc(DISK_SECTORS, VIRTIO_BLK_SECTOR_SIZE);
    assert_non_null(env.disk);
    assert_int_equal(vdev_blk_create(&env.lb.vd, &env.mem, env.disk,
                                     (uint64_t)DISK_SECTORS * VIRTIO_BLK_SECTOR_SIZE, "mq0"),
                     0);
    assert_int_equal(vdev_blk_set_num_queues(&env.lb.vd, 2), 0);
    b = env.lb.vd.priv;
    b->cfg.num_queues = vr_cpu_to_le16(0);
    lb_attach("lblk0");
    assert_int_equal(virtio_blk_probe(env.lb.dev, &blk), 0);
    assert_true(virtio_has_feature(e->lb.dev, VIRTIO_BLK_F_MQ));
    assert_int_equal(virtio_blk_num_queues(blk), 1);
    assert_false(e->lb.vd.queues[1].ready);
    assert_int_equal(virtio_blk_read(blk, 0, buf, 1), 0);
    virtio_blk_remove(blk);
}

/* A reinit with requests in flight on two queues: every one ends
 * -ECANCELED or done, none is lost, and both queues work after. */
static void test_mq_reinit(void **state)
{
    struct env *e = *state;
    struct virtio_blk *blk = mq_up(2);
    struct virtio_blk_req req[2][4];
    struct vq_sg sg[2][4];
    uint8_t *buf = dma_buf(8 * 512);
    unsigned q, i;

    for (q = 0; q < 2; q++) {
        for (i = 0; i < 4; i++) {
            sg[q][i] = (struct vq_sg){.buf = buf + (q * 4 + i) * 512, .len = 512};
            req[q][i] = (struct virtio_blk_req){
                .type = VIRTIO_BLK_T_IN, .nsegs = 1, .sector = i, .segs = &sg[q][i]};
            assert_int_equal(virtio_blk_submit_queue(blk, q, &req[q][i]), 0);
        }
    }
    assert_int_equal(virtio_blk_reinit(blk), 0);
    for (q = 0; q < 2; q++) {
        for (i = 0; i < 4; i++) {
            int r = __atomic_load_n(&req[q][i].result, __ATOMIC_ACQUIRE);

            assert_true(r == 0 || r == -ECANCELED);
        }
    }
    assert_int_equal(virtio_blk_in_flight(blk), 0);
    assert_int_equal(virtio_blk_num_queues(blk), 2);
    (void)e;
    mq_burst(blk, 1, VIRTIO_BLK_T_IN, 0, buf, 2);
    mq_burst(blk, 0, VIRTIO_BLK_T_IN, 0, buf, 2);
    virtio_blk_remove(blk);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        MODE_TESTS(test_mq_three_queues), MODE_TESTS(test_mq_all_in_flight),
        MODE_TESTS(test_mq_capped),       MODE_TESTS(test_mq_single_queue),
        MODE_TESTS(test_mq_queue_by_cpu), MODE_TESTS(test_mq_num_queues_zero),
        MODE_TESTS(test_mq_reinit),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
