/* SPDX-License-Identifier: Apache-2.0 */
/*
 * test_vhost_user_sock_uring.c - the daemon's io_uring engine over the
 * real socket (the frontend of vu_sock_fixture.c, our driver virtqueue):
 *  - 32 requests in flight at once (queue depth 32), random sectors, the
 *    data verified through the daemon and in the file;
 *  - a FLUSH behind a write waits for it, and a read popped after the
 *    FLUSH completes before it (out of order in the used ring);
 *  - --direct (O_DIRECT): unaligned guest buffers through bounces, aligned
 *    ones straight;
 *  - --poll-us: batches published while the worker polls are served
 *    without kicks (the polled counter against the kick wakeups);
 *  - --io sync: the same FLUSH sequence completes in order and nothing is
 *    in flight beside another (what the io_uring checks would see if the
 *    engine were silently not used);
 *  - io_uring_setup denied by seccomp (ENOSYS): one line, served in sync.
 * Each reads the daemon's per-connection report line ("I/O engine
 * io_uring: ... peak N in flight, ...") after closing the connection.
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <poll.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "platform_host.h"
#include "snap_le.h"
#include "vhost_user.h"
#include "virtio_config.h"
#include "virtio_platform.h"
#include "virtqueue.h"

#include "vu_sock_fixture.h"

#define DEPTH 32

/* The report line's numbers (vhost_user_blk.c report_io). */
struct io_report {
    char engine[16];
    unsigned long long reads, writes, flushes, peak, ooo, flush_waits;
    unsigned long long kicks, completions, polled, poll_periods;
};

/* Close the connection and read the report the daemon writes for it. */
static void get_report(struct sfx *s, struct io_report *r)
{
    char line[512];
    int i;

    close(s->conn);
    s->conn = -1;
    for (i = 0; i < 500; i++) {
        FILE *f = fopen(s->log, "r");
        bool found = false;

        assert_non_null(f);
        while (fgets(line, sizeof(line), f)) {
            const char *p = strstr(line, "I/O engine ");

            if (!p || !strstr(p, " in flight"))
                continue;
            assert_int_equal(
                sscanf(p,
                       "I/O engine %15[^:]: %llu reads, %llu writes, %llu flushes, peak %llu in "
                       "flight, %llu out of order, %llu flush waits; %llu kick wakeups, %llu "
                       "completion wakeups, %llu polled completions in %llu poll periods",
                       r->engine, &r->reads, &r->writes, &r->flushes, &r->peak, &r->ooo,
                       &r->flush_waits, &r->kicks, &r->completions, &r->polled, &r->poll_periods),
                11);
            found = true;
        }
        fclose(f);
        if (found)
            return;
        usleep(10000);
    }
    fail_msg("no I/O report in %s", s->log);
}

static void put_req(struct virtqueue *vq, struct req *r, uint32_t type, uint64_t sector,
                    void *data)
{
    struct vq_sg sg[3] = {{.buf = r->hdr, .len = 16},
                          {.buf = data ? data : r->data, .len = REQ_BYTES},
                          {.buf = &r->status, .len = 1}};

    snap_put32(r->hdr, type);
    snap_put32(r->hdr + 4, 0);
    snap_put64(r->hdr + 8, sector);
    r->status = 0xee;
    if (type == VIRTIO_BLK_T_FLUSH)
        assert_int_equal(vq_add_sgs(vq, (struct vq_sg[]){sg[0], sg[2]}, 1, 1, r), 0);
    else if (type == VIRTIO_BLK_T_OUT)
        assert_int_equal(vq_add_sgs(vq, sg, 2, 1, r), 0);
    else
        assert_int_equal(vq_add_sgs(vq, sg, 1, 2, r), 0);
}

/* Wait for n completions; order[] gets the tokens in used-ring order. */
static void wait_done(struct sfx *s, unsigned n, struct req **order)
{
    unsigned done = 0;

    while (done < n) {
        void *tok;
        uint32_t len;
        uint64_t v;

        while (done < n && vq_get_buf(s->vq, &tok, &len) == 0) {
            assert_int_equal(((struct req *)tok)->status, VIRTIO_BLK_S_OK);
            if (order)
                order[done] = tok;
            done++;
        }
        if (done == n)
            break;
        assert_true(is_readable(s->call, 5000));
        (void)!read(s->call, &v, 8);
    }
}

static int setup_args_with(void **state, const char *a, const char *b, const char *c)
{
    int ret;

    /* NULL ends the list where the first NULL is. */
    setup_args[0] = a ? a : "--io";
    setup_args[1] = a ? b : "uring";
    setup_args[2] = a ? c : NULL;
    setup_args[3] = NULL;
    ret = setup(state);
    memset(setup_args, 0, sizeof(setup_args));
    return ret;
}

static int setup_uring(void **state)
{
    return setup_args_with(state, NULL, NULL, NULL);
}

static int setup_direct(void **state)
{
    return setup_args_with(state, "--direct", NULL, NULL);
}

static int setup_poll(void **state)
{
    return setup_args_with(state, "--poll-us", "200000", NULL);
}

static int setup_sync(void **state)
{
    return setup_args_with(state, "--io", "sync", NULL);
}

static int setup_no_uring_seccomp(void **state)
{
    int ret;

    setup_no_uring = true;
    ret = setup_args_with(state, NULL, NULL, NULL); /* asks for --io uring */
    setup_no_uring = false;
    return ret;
}

/* Depth 32, random distinct 4 KiB blocks, each a different pattern. */
static void test_depth32_random_verified(void **state)
{
    struct sfx *s = *state;
    uint64_t gpa, sector[DEPTH];
    struct req *r = virt_dma_alloc(DEPTH * sizeof(*r), &gpa);
    struct io_report rep;
    uint8_t buf[REQ_BYTES];
    unsigned i, j;
    int fd;

    assert_non_null(r);
    start_device(s);
    srand(7);
    for (i = 0; i < DEPTH; i++) {
        bool dup;

        do { /* distinct blocks: the order of overlapping writes is the driver's business */
            sector[i] = (uint64_t)(rand() % (DISK_BYTES / REQ_BYTES)) * (REQ_BYTES / 512);
            for (dup = false, j = 0; j < i; j++)
                dup |= sector[j] == sector[i];
        } while (dup);
        for (j = 0; j < REQ_BYTES; j++)
            r[i].data[j] = (uint8_t)(i * 31 + j * 7 + 1);
        put_req(s->vq, &r[i], VIRTIO_BLK_T_OUT, sector[i], NULL);
    }
    vq_kick(s->vq);
    wait_done(s, DEPTH, NULL);
    for (i = 0; i < DEPTH; i++) {
        memset(r[i].data, 0, REQ_BYTES);
        put_req(s->vq, &r[i], VIRTIO_BLK_T_IN, sector[i], NULL);
    }
    vq_kick(s->vq);
    wait_done(s, DEPTH, NULL);
    fd = open(s->disk, O_RDONLY);
    assert_true(fd >= 0);
    for (i = 0; i < DEPTH; i++) {
        for (j = 0; j < REQ_BYTES; j++)
            assert_int_equal(r[i].data[j], (uint8_t)(i * 31 + j * 7 + 1));
        assert_int_equal(pread(fd, buf, REQ_BYTES, (off_t)(sector[i] * 512)), REQ_BYTES);
        assert_memory_equal(buf, r[i].data, REQ_BYTES);
    }
    close(fd);
    get_report(s, &rep);
    assert_string_equal(rep.engine, "io_uring");
    assert_int_equal(rep.reads, DEPTH);
    assert_int_equal(rep.writes, DEPTH);
    /* One kick published all 32: all were in flight together. */
    assert_int_equal(rep.peak, DEPTH);
}

/*
 * W (write), F (FLUSH), R (read) in one kick. F must wait for W (popped
 * before it); R, popped after F, does not wait for F's fdatasync, so it
 * is in the used ring first. Returns the used order as indices into r.
 */
static void flush_sequence(struct sfx *s, struct req *r, unsigned *idx)
{
    struct req *order[3];
    unsigned i;

    start_device(s);
    memset(r[0].data, 0x5a, REQ_BYTES);
    put_req(s->vq, &r[0], VIRTIO_BLK_T_OUT, 64, NULL);
    put_req(s->vq, &r[1], VIRTIO_BLK_T_FLUSH, 0, NULL);
    put_req(s->vq, &r[2], VIRTIO_BLK_T_IN, 128, NULL);
    vq_kick(s->vq);
    wait_done(s, 3, order);
    for (i = 0; i < 3; i++)
        idx[i] = (unsigned)(order[i] - r);
}

static void test_flush_waits_read_overtakes(void **state)
{
    struct sfx *s = *state;
    uint64_t gpa;
    struct req *r = virt_dma_alloc(3 * sizeof(*r), &gpa);
    struct io_report rep;
    uint8_t buf[REQ_BYTES];
    unsigned idx[3], i, posw = 3, posf = 3, posr = 3;
    int fd;

    assert_non_null(r);
    flush_sequence(s, r, idx);
    for (i = 0; i < 3; i++) {
        if (idx[i] == 0)
            posw = i;
        else if (idx[i] == 1)
            posf = i;
        else
            posr = i;
    }
    assert_true(posw < posf); /* the FLUSH after the write it covers */
    assert_true(posr < posf); /* the read did not wait for the FLUSH */
    fd = open(s->disk, O_RDONLY);
    assert_int_equal(pread(fd, buf, REQ_BYTES, 64 * 512), REQ_BYTES);
    close(fd);
    assert_int_equal(buf[0], 0x5a);
    assert_int_equal(buf[REQ_BYTES - 1], 0x5a);
    get_report(s, &rep);
    assert_string_equal(rep.engine, "io_uring");
    assert_int_equal(rep.flushes, 1);
    assert_int_equal(rep.flush_waits, 1);
    assert_true(rep.ooo >= 1);
    assert_true(rep.peak >= 3);
}

/* The same with --io sync: in order, one at a time. */
static void test_sync_engine_in_order(void **state)
{
    struct sfx *s = *state;
    uint64_t gpa;
    struct req *r = virt_dma_alloc(3 * sizeof(*r), &gpa);
    struct io_report rep;
    unsigned idx[3];

    assert_non_null(r);
    flush_sequence(s, r, idx);
    assert_int_equal(idx[0], 0);
    assert_int_equal(idx[1], 1);
    assert_int_equal(idx[2], 2);
    get_report(s, &rep);
    assert_string_equal(rep.engine, "sync");
    assert_int_equal(rep.peak, 0);
    assert_int_equal(rep.ooo, 0);
    assert_int_equal(log_count(s, "I/O engine sync (pread/pwrite)"), 1);
}

/* io_uring_setup denied (an old kernel, seccomp): one line says so, and
 * the daemon serves with pread/pwrite. */
static void test_no_uring_falls_back_to_sync(void **state)
{
    struct sfx *s = *state;
    uint64_t gpa;
    struct req *r = virt_dma_alloc(3 * sizeof(*r), &gpa);
    struct io_report rep;
    unsigned idx[3];

    assert_non_null(r);
    flush_sequence(s, r, idx);
    assert_int_equal(r[0].status, VIRTIO_BLK_S_OK);
    assert_int_equal(r[2].status, VIRTIO_BLK_S_OK);
    get_report(s, &rep);
    assert_string_equal(rep.engine, "sync");
    assert_int_equal(log_count(s, "io_uring unavailable (io_uring_queue_init: Function not "
                                  "implemented): synchronous pread/pwrite"),
                     1);
    assert_int_equal(log_count(s, "io_uring unavailable"), 1);
}

/* --direct: guest buffers at offset 64 of a page (bounced) and page-aligned
 * ones (straight); both land in the file and read back. */
static void test_direct_aligned_and_bounced(void **state)
{
    struct sfx *s = *state;
    uint64_t gpa, agpa;
    struct req *r = virt_dma_alloc(4 * sizeof(*r), &gpa);
    uint8_t *raw = virt_dma_alloc(3 * REQ_BYTES, &agpa);
    uint8_t *aligned = raw + ((4096 - (uintptr_t)raw % 4096) % 4096);
    struct io_report rep;
    uint8_t buf[REQ_BYTES];
    int fd;

    assert_non_null(r);
    assert_non_null(raw);
    assert_int_not_equal((uintptr_t)r[0].data % 512, 0);
    start_device(s); /* the daemon's start-up lines are out by now */
    assert_int_equal(log_count(s, "O_DIRECT"), 1);
    memset(r[0].data, 0xa1, REQ_BYTES);
    memset(aligned, 0xb2, REQ_BYTES);
    put_req(s->vq, &r[0], VIRTIO_BLK_T_OUT, 8, NULL);         /* bounced */
    put_req(s->vq, &r[1], VIRTIO_BLK_T_OUT, 16, aligned);     /* straight */
    vq_kick(s->vq);
    wait_done(s, 2, NULL);
    memset(r[2].data, 0, REQ_BYTES);
    memset(aligned + REQ_BYTES, 0, REQ_BYTES);
    put_req(s->vq, &r[2], VIRTIO_BLK_T_IN, 16, NULL);             /* bounced */
    put_req(s->vq, &r[3], VIRTIO_BLK_T_IN, 8, aligned + REQ_BYTES); /* straight */
    vq_kick(s->vq);
    wait_done(s, 2, NULL);
    assert_int_equal(r[2].data[0], 0xb2);
    assert_int_equal(r[2].data[REQ_BYTES - 1], 0xb2);
    assert_int_equal(aligned[REQ_BYTES], 0xa1);
    assert_int_equal(aligned[2 * REQ_BYTES - 1], 0xa1);
    fd = open(s->disk, O_RDONLY);
    assert_int_equal(pread(fd, buf, REQ_BYTES, 8 * 512), REQ_BYTES);
    assert_int_equal(buf[100], 0xa1);
    assert_int_equal(pread(fd, buf, REQ_BYTES, 16 * 512), REQ_BYTES);
    assert_int_equal(buf[100], 0xb2);
    close(fd);
    get_report(s, &rep);
    assert_string_equal(rep.engine, "io_uring");
    assert_int_equal(rep.reads, 2);
    assert_int_equal(rep.writes, 2);
}

/* --poll-us: after the first kick the worker polls; the next batches,
 * published while it does, need no kick (notifications are off). */
static void test_poll_serves_without_kicks(void **state)
{
    struct sfx *s = *state;
    enum { BATCHES = 6, N = 4 };
    uint64_t gpa;
    struct req *r = virt_dma_alloc(N * sizeof(*r), &gpa);
    struct io_report rep;
    unsigned b, i;

    assert_non_null(r);
    start_device(s);
    for (b = 0; b < BATCHES; b++) {
        for (i = 0; i < N; i++) {
            memset(r[i].data, (int)(b * N + i), REQ_BYTES);
            put_req(s->vq, &r[i], VIRTIO_BLK_T_OUT, (uint64_t)(b * N + i) * 8, NULL);
        }
        vq_kick(s->vq); /* suppressed while the daemon polls */
        wait_done(s, N, NULL);
    }
    for (i = 0; i < N; i++) {
        memset(r[i].data, 0xff, REQ_BYTES);
        put_req(s->vq, &r[i], VIRTIO_BLK_T_IN, (uint64_t)((BATCHES - 1) * N + i) * 8, NULL);
    }
    vq_kick(s->vq);
    wait_done(s, N, NULL);
    for (i = 0; i < N; i++)
        assert_int_equal(r[i].data[7], (BATCHES - 1) * N + i);
    get_report(s, &rep);
    assert_string_equal(rep.engine, "io_uring");
    assert_true(rep.poll_periods >= 1);
    /* Most batches were found by polling, not by a kick wakeup. */
    assert_true(rep.polled >= (BATCHES - 1) * N);
    assert_true(rep.kicks < BATCHES);
    print_message("poll: %llu kick wakeups, %llu completion wakeups, %llu polled completions "
                  "in %llu periods\n",
                  rep.kicks, rep.completions, rep.polled, rep.poll_periods);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_depth32_random_verified, setup_uring, teardown),
        cmocka_unit_test_setup_teardown(test_flush_waits_read_overtakes, setup_uring, teardown),
        cmocka_unit_test_setup_teardown(test_sync_engine_in_order, setup_sync, teardown),
        cmocka_unit_test_setup_teardown(test_no_uring_falls_back_to_sync, setup_no_uring_seccomp,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_direct_aligned_and_bounced, setup_direct, teardown),
        cmocka_unit_test_setup_teardown(test_poll_serves_without_kicks, setup_poll, teardown),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
