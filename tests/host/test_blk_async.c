/* SPDX-License-Identifier: Apache-2.0 */
/*
 * test_blk_async.c - the blk model's asynchronous backend path
 * (hostsim/dev_blk_async.c) with a fake backend whose requests complete
 * exactly when and in the order the test says: the driver virtqueue sees
 * them out of order (2.7.8), a FLUSH is held until the writes popped
 * before it completed and no longer (5.2.6.2), sleeping the device
 * finishes what is in flight first, a submit error is IOERR at once.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "dev_fixture.h"
#include "vdev_models.h"
#include "virtio_blk.h"
#include "virtio_mmio.h"
#include "virtqueue.h"

#define BYTES (64u * 4096u)
#define MAXIO 32

struct fake_be {
    uint8_t *store;
    struct vdev_blk_io *io[MAXIO]; /* submitted, not completed (submit order) */
    unsigned n;
    struct vdev_blk_io *ready[MAXIO]; /* finished by the storage, not yet reaped */
    unsigned nready;
    unsigned commits, flushes_submitted;
    int fail_submit; /* next submit returns it */
};

static struct dev_fixture fixture;
static struct fake_be fake;

static int fake_submit(void *ctx, struct vdev_blk_io *io)
{
    struct fake_be *b = ctx;

    if (b->fail_submit) {
        int e = b->fail_submit;

        b->fail_submit = 0;
        return e;
    }
    assert_true(b->n < MAXIO);
    b->io[b->n++] = io;
    b->flushes_submitted += io->op == VDEV_BLK_IO_FLUSH;
    return 0;
}

static void fake_commit(void *ctx, unsigned qi)
{
    (void)qi;
    ((struct fake_be *)ctx)->commits++;
}

/* Complete b->io[k] (from reap): do the transfer, tell the model. */
static void fake_finish(struct fake_be *b, unsigned k)
{
    struct vdev_blk_io *io = b->io[k];
    uint64_t pos = io->pos;
    uint32_t i;

    memmove(&b->io[k], &b->io[k + 1], (b->n - k - 1) * sizeof(b->io[0]));
    b->n--;
    for (i = 0; i < io->niov && io->op != VDEV_BLK_IO_FLUSH; i++) {
        if (io->op == VDEV_BLK_IO_READ)
            memcpy(io->iov[i].base, b->store + pos, io->iov[i].len);
        else
            memcpy(b->store + pos, io->iov[i].base, io->iov[i].len);
        pos += io->iov[i].len;
    }
    vdev_blk_io_done(io, 0);
}

static unsigned fake_index(struct fake_be *b, const struct vdev_blk_io *io)
{
    unsigned k;

    for (k = 0; k < b->n; k++)
        if (b->io[k] == io)
            return k;
    fail_msg("io not in flight");
    return 0;
}

/* What the test marked finished (complete()), in that order; with wait
 * and nothing marked, the storage finishes everything, newest first. */
static void fake_reap(void *ctx, unsigned qi, bool wait)
{
    struct fake_be *b = ctx;
    unsigned i, n = b->nready;

    (void)qi;
    b->nready = 0;
    for (i = 0; i < n; i++)
        fake_finish(b, fake_index(b, b->ready[i]));
    if (wait && !n)
        fake_finish(b, b->n - 1);
}

/* IN / OUT never take the synchronous path while submit works. */
static int sync_read(void *ctx, uint64_t pos, void *buf, uint32_t len)
{
    (void)ctx, (void)pos, (void)buf, (void)len;
    fail_msg("synchronous read with an async backend");
    return -EIO;
}

static int sync_write(void *ctx, uint64_t pos, const void *buf, uint32_t len)
{
    (void)ctx, (void)pos, (void)buf, (void)len;
    fail_msg("synchronous write with an async backend");
    return -EIO;
}

static int setup(void **state)
{
    struct dev_fixture *f = &fixture;
    struct vdev_blk_backend be = {.read = sync_read, .write = sync_write, .ctx = &fake,
                                  .submit = fake_submit, .commit = fake_commit,
                                  .reap = fake_reap};
    unsigned i;

    dfx_arena(f);
    memset(&fake, 0, sizeof(fake));
    fake.store = malloc(BYTES);
    assert_non_null(fake.store);
    for (i = 0; i < BYTES; i++)
        fake.store[i] = (uint8_t)(i / 4096 + 1);
    assert_int_equal(vdev_blk_create_backend(&f->dev, &f->fx.mem, BYTES, &be, NULL), 0);
    dfx_attach(f);
    dfx_start(f, dfx_device_features(f), 64);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    dfx_teardown(*state);
    free(fake.store);
    return 0;
}

struct req {
    struct virtio_blk_req_hdr hdr;
    uint8_t status;
    uint8_t pad[63];
    uint8_t data[4096];
};

static struct req *add(struct dev_fixture *f, uint32_t type, uint64_t block)
{
    struct req *r = fx_alloc(&f->fx, sizeof(*r), NULL);
    struct vq_sg sg[3] = {{.buf = &r->hdr, .len = sizeof(r->hdr)},
                          {.buf = r->data, .len = sizeof(r->data)},
                          {.buf = &r->status, .len = 1}};

    r->hdr.type = type;
    r->hdr.sector = block * 8;
    r->status = 0xee;
    if (type == VIRTIO_BLK_T_FLUSH)
        assert_int_equal(vq_add_sgs(f->vq[0], (struct vq_sg[]){sg[0], sg[2]}, 1, 1, r), 0);
    else if (type == VIRTIO_BLK_T_OUT)
        assert_int_equal(vq_add_sgs(f->vq[0], sg, 2, 1, r), 0);
    else
        assert_int_equal(vq_add_sgs(f->vq[0], sg, 1, 2, r), 0);
    return r;
}

/* The device looks at its queue (a kick, or the backend's wakeup). */
static void process(struct dev_fixture *f)
{
    dfx_wr(f, VIRTIO_MMIO_QUEUE_NOTIFY, 0);
    vmmio_process(f->m);
}

/* Complete the in-flight request at pos (in bytes) of the store. */
static void complete(struct dev_fixture *f, uint64_t pos, uint32_t op)
{
    unsigned k;

    for (k = 0; k < fake.n; k++)
        if (fake.io[k]->op == op && (op == VDEV_BLK_IO_FLUSH || fake.io[k]->pos == pos))
            break;
    assert_true(k < fake.n);
    /* The storage finishes it; the backend's wakeup makes the device reap. */
    fake.ready[fake.nready++] = fake.io[k];
    process(f);
}

/* The next used buffer's token, or NULL. */
static void *next_used(struct dev_fixture *f)
{
    void *tok = NULL;
    uint32_t len = 0;

    if (vq_get_buf(f->vq[0], &tok, &len))
        return NULL;
    return tok;
}

static struct vdev_blk_stats stats(struct dev_fixture *f)
{
    struct vdev_blk_stats st;

    vdev_blk_get_stats(&f->dev, &st);
    return st;
}

/* Four reads in one kick: all four reach the backend before any is done,
 * and the driver gets them in the order the storage finishes them. */
static void test_reads_complete_out_of_order(void **state)
{
    struct dev_fixture *f = *state;
    struct req *r[4];
    unsigned i;

    for (i = 0; i < 4; i++)
        r[i] = add(f, VIRTIO_BLK_T_IN, i + 1);
    assert_int_equal(vq_kick(f->vq[0]), 0);
    vmmio_process(f->m);
    assert_int_equal(fake.n, 4);
    assert_true(fake.commits >= 1);
    assert_null(next_used(f));
    complete(f, 4 * 4096, VDEV_BLK_IO_READ);
    complete(f, 2 * 4096, VDEV_BLK_IO_READ);
    assert_ptr_equal(next_used(f), r[3]);
    assert_ptr_equal(next_used(f), r[1]);
    assert_null(next_used(f));
    complete(f, 1 * 4096, VDEV_BLK_IO_READ);
    complete(f, 3 * 4096, VDEV_BLK_IO_READ);
    assert_ptr_equal(next_used(f), r[0]);
    assert_ptr_equal(next_used(f), r[2]);
    for (i = 0; i < 4; i++) {
        assert_int_equal(r[i]->status, VIRTIO_BLK_S_OK);
        assert_int_equal(r[i]->data[0], i + 2);
        assert_int_equal(r[i]->data[4095], i + 2);
    }
    assert_int_equal(stats(f).reads, 4);
    assert_int_equal(stats(f).async_peak, 4);
    assert_int_equal(stats(f).out_of_order, 3); /* r1, r0, r2 after r3 */
}

/* W0 W1 FLUSH W2: the FLUSH reaches the backend only once W0 and W1 (popped
 * before it) completed; W2 (after it) neither holds it nor is held. */
static void test_flush_waits_for_earlier_writes_only(void **state)
{
    struct dev_fixture *f = *state;
    struct req *w0 = add(f, VIRTIO_BLK_T_OUT, 10), *w1 = add(f, VIRTIO_BLK_T_OUT, 11);
    struct req *fl = add(f, VIRTIO_BLK_T_FLUSH, 0), *w2 = add(f, VIRTIO_BLK_T_OUT, 12);

    memset(w0->data, 0xa0, 4096);
    memset(w1->data, 0xa1, 4096);
    memset(w2->data, 0xa2, 4096);
    assert_int_equal(vq_kick(f->vq[0]), 0);
    vmmio_process(f->m);
    assert_int_equal(fake.n, 3); /* the three writes, not the FLUSH */
    assert_int_equal(fake.flushes_submitted, 0);
    complete(f, 12 * 4096, VDEV_BLK_IO_WRITE);
    assert_ptr_equal(next_used(f), w2);
    complete(f, 10 * 4096, VDEV_BLK_IO_WRITE);
    assert_ptr_equal(next_used(f), w0);
    assert_int_equal(fake.flushes_submitted, 0); /* W1 still in flight */
    complete(f, 11 * 4096, VDEV_BLK_IO_WRITE);
    assert_ptr_equal(next_used(f), w1);
    assert_int_equal(fake.flushes_submitted, 1);
    assert_null(next_used(f)); /* the FLUSH itself is not done yet */
    complete(f, 0, VDEV_BLK_IO_FLUSH);
    assert_ptr_equal(next_used(f), fl);
    assert_int_equal(fl->status, VIRTIO_BLK_S_OK);
    assert_int_equal(fake.store[10 * 4096], 0xa0);
    assert_int_equal(fake.store[11 * 4096 + 4095], 0xa1);
    assert_int_equal(fake.store[12 * 4096], 0xa2);
    assert_int_equal(stats(f).flush_waits, 1);
    assert_int_equal(stats(f).flushes, 1);
    assert_int_equal(stats(f).writes, 3);
}

/* A FLUSH with no write in flight goes to the backend at once. */
static void test_flush_alone_not_held(void **state)
{
    struct dev_fixture *f = *state;
    struct req *fl = add(f, VIRTIO_BLK_T_FLUSH, 0);

    assert_int_equal(vq_kick(f->vq[0]), 0);
    vmmio_process(f->m);
    assert_int_equal(fake.flushes_submitted, 1);
    complete(f, 0, VDEV_BLK_IO_FLUSH);
    assert_ptr_equal(next_used(f), fl);
    assert_int_equal(stats(f).flush_waits, 0);
}

/* Sleeping the device (what every vhost-user ring stop and memory change
 * does) finishes what is in flight first: nothing is left to write guest
 * memory afterwards. */
static void test_sleep_quiesces(void **state)
{
    struct dev_fixture *f = *state;
    struct req *a = add(f, VIRTIO_BLK_T_IN, 5), *b = add(f, VIRTIO_BLK_T_IN, 6);

    assert_int_equal(vq_kick(f->vq[0]), 0);
    vmmio_process(f->m);
    assert_int_equal(fake.n, 2);
    vmmio_sleep(f->m);
    assert_int_equal(fake.n, 0);
    assert_ptr_equal(next_used(f), b); /* the fake finishes newest first */
    assert_ptr_equal(next_used(f), a);
    assert_int_equal(a->data[0], 6);
    assert_int_equal(b->data[0], 7);
    vmmio_wake(f->m);
}

/* The backend refuses a request: IOERR now, and the queue goes on. */
static void test_submit_error_is_ioerr(void **state)
{
    struct dev_fixture *f = *state;
    struct req *r = add(f, VIRTIO_BLK_T_IN, 1), *r2;

    fake.fail_submit = -EIO;
    assert_int_equal(vq_kick(f->vq[0]), 0);
    vmmio_process(f->m);
    assert_ptr_equal(next_used(f), r);
    assert_int_equal(r->status, VIRTIO_BLK_S_IOERR);
    assert_int_equal(stats(f).ioerr, 1);
    r2 = add(f, VIRTIO_BLK_T_IN, 1);
    assert_int_equal(vq_kick(f->vq[0]), 0);
    vmmio_process(f->m);
    complete(f, 4096, VDEV_BLK_IO_READ);
    assert_ptr_equal(next_used(f), r2);
    assert_int_equal(r2->status, VIRTIO_BLK_S_OK);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_reads_complete_out_of_order, setup, teardown),
        cmocka_unit_test_setup_teardown(test_flush_waits_for_earlier_writes_only, setup, teardown),
        cmocka_unit_test_setup_teardown(test_flush_alone_not_held, setup, teardown),
        cmocka_unit_test_setup_teardown(test_sleep_quiesces, setup, teardown),
        cmocka_unit_test_setup_teardown(test_submit_error_is_ioerr, setup, teardown),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
