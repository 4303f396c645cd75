/* SPDX-License-Identifier: Apache-2.0 */
/*
 * dev_blk_async.c - the blk model's asynchronous path (a backend with
 * submit / commit / reap, vdev_models.h): IN, OUT and FLUSH are handed to
 * the backend and the chain stays popped (VDEV_CHAIN_PENDING) until the
 * backend calls vdev_blk_io_done(); then the status byte is written and the
 * chain pushed. Many requests per queue are in flight at once and complete
 * in the order the storage finishes them: 2.7.8 lets a device use buffers
 * in any order, and 5.2.6 orders nothing between requests but FLUSH.
 *
 * FLUSH (5.2.6.2: "A FLUSH request ... completes only when all of the
 * previous write requests have been stable"; 5.2.6 driver side: it covers
 * writes completed before it was submitted): a write popped before the
 * FLUSH on the same queue but still in flight is waited for, then the
 * backend's flush is submitted. Writes popped after it do not delay it
 * (each write gets a sequence number; a FLUSH records the last one before
 * it and counts down the in-flight writes at or below it).
 *
 * Per queue state (struct blk_aq) is touched only with that queue's
 * processing lock held: from process_queue (blk_async_reap, the chain
 * handler) and from quiesce (vdev_sleep, every queue excluded). The
 * backend's reap runs there too, so vdev_blk_io_done() does as well.
 *
 * One slot per possible head (split head index or packed buffer id, both
 * < the queue size <= VDEV_BLK_QUEUE_MAX): it keeps the chain's data
 * segments, status byte and used length while the I/O runs (the drain's
 * chain scratch is reused by the next pop). A head already in flight (a
 * driver re-publishing it) is served synchronously instead.
 */
#include <errno.h>
#include <stddef.h>
#include <string.h>

#include "dev_blk_internal.h"
#include "virtio_platform.h"

#define BLK_COUNT(field, n) __atomic_fetch_add(&(field), (n), __ATOMIC_RELAXED)

enum { SLOT_FREE, SLOT_INFLIGHT, SLOT_FLUSH_WAIT };

struct blk_slot {
    struct vdev_blk_io io; /* first: vdev_blk_io_done finds the slot */
    struct vdev *d;
    uint8_t *status;  /* the chain's last writable byte */
    uint32_t in_len;  /* used length (2.7.8): the status is the last byte */
    uint32_t type;    /* VIRTIO_BLK_T_IN / OUT / FLUSH */
    uint64_t seq;     /* OUT: its write number; FLUSH: the last write it covers */
    uint64_t pop_seq; /* order popped on its queue */
    uint32_t flush_wait; /* FLUSH: covered writes still in flight */
    uint16_t head;
    uint8_t state;
    uint8_t pad;
    struct vdq_iov iov[VDEV_BLK_SEG_MAX];
};

bool blk_async_on(const struct vdev *d, const struct dev_blk *b)
{
    return !b->disk && b->be.submit && !d->hostile;
}

/* The data part: len bytes from off of the readable (OUT) or writable (IN)
 * segments into s->iov; false if they do not fit (never: seg_max). */
static bool blk_slot_data(struct blk_slot *s, const struct vdq_chain *c, bool is_in, uint32_t off,
                          uint32_t len)
{
    uint32_t first = is_in ? c->nout : 0, end = is_in ? c->nout + c->nin : c->nout, i, n = 0;

    s->io.len = len;
    for (i = first; i < end && len; i++) {
        const struct vdq_iov *v = &c->iov[i];
        uint32_t k;

        if (off >= v->len) {
            off -= v->len;
            continue;
        }
        k = v->len - off < len ? v->len - off : len;
        if (n == VDEV_BLK_SEG_MAX)
            return false;
        s->iov[n].base = (uint8_t *)v->base + off;
        s->iov[n].len = k;
        s->iov[n].pad = 0; /* vdev_blk_io: an LP64 carrier may pass it as struct iovec */
        n++;
        len -= k;
        off = 0;
    }
    s->io.niov = n;
    return len == 0;
}

static void blk_note_peak(struct dev_blk *b, uint32_t inflight)
{
    if (inflight > __atomic_load_n(&b->stats.async_peak, __ATOMIC_RELAXED))
        __atomic_store_n(&b->stats.async_peak, inflight, __ATOMIC_RELAXED);
}

/* A request of queue qi completes now (after pop number pop_seq): was one
 * popped after it already completed? */
static void blk_note_done(struct dev_blk *b, struct blk_aq *aq, uint64_t pop_seq)
{
    if (pop_seq < aq->max_done_seq)
        BLK_COUNT(b->stats.out_of_order, 1);
    else
        aq->max_done_seq = pop_seq;
}

void blk_async_note_sync(struct dev_blk *b, unsigned qi)
{
    struct blk_aq *aq = &b->aq[qi];

    if (aq->slots)
        blk_note_done(b, aq, ++aq->pop_seq);
}

/* Write the status, push the chain; the caller signals (blk_async_reap). */
static void blk_slot_finish(struct blk_slot *s, uint8_t status)
{
    struct dev_blk *b = s->d->priv;
    struct blk_aq *aq = &b->aq[s->io.qi];

    if (s->status)
        *(volatile uint8_t *)s->status = status;
    /* Dirty log (vdq.h, vhost-user live migration): the data an IN wrote
     * (the backend wrote it straight into guest memory) and the status
     * byte, after the writes and before the push makes them the driver's.
     * (The data segments are all marked whatever the I/O's outcome.) */
    if (s->type == VIRTIO_BLK_T_IN)
        for (uint32_t i = 0; i < s->io.niov; i++)
            vdq_log_hva(&s->d->queues[s->io.qi].q.mem, s->iov[i].base, s->iov[i].len);
    if (s->status)
        vdq_log_hva(&s->d->queues[s->io.qi].q.mem, s->status, 1);
    blk_note_done(b, aq, s->pop_seq);
    s->state = SLOT_FREE;
    aq->inflight--;
    aq->unsignalled++;
    /* vdq_push orders the status byte and data before the used index
     * (its own barrier, 2.7.8). A broken ring returns -EIO: nothing to
     * tell the driver then. */
    (void)vdev_queue_push(s->d, s->io.qi, s->head, s->in_len, false);
}

static void blk_slot_submit(struct dev_blk *b, struct blk_slot *s)
{
    int err;

    s->state = SLOT_INFLIGHT;
    err = b->be.submit(b->be.ctx, &s->io);
    if (err)
        vdev_blk_io_done(&s->io, err);
}

/* A write of queue aq completed: FLUSHes waiting for it may go. */
static void blk_write_retired(struct dev_blk *b, struct blk_aq *aq, uint64_t seq)
{
    unsigned i;

    aq->writes_inflight--;
    for (i = 0; aq->flush_waiting && i < VDEV_BLK_QUEUE_MAX; i++) {
        struct blk_slot *f = &aq->slots[i];

        if (f->state != SLOT_FLUSH_WAIT || f->seq < seq)
            continue;
        if (--f->flush_wait == 0) {
            aq->flush_waiting--;
            blk_slot_submit(b, f);
        }
    }
}

void vdev_blk_io_done(struct vdev_blk_io *io, int err)
{
    struct blk_slot *s = (struct blk_slot *)((uint8_t *)io - offsetof(struct blk_slot, io));
    struct vdev *d = s->d;
    struct dev_blk *b = d->priv;
    struct blk_aq *aq = &b->aq[io->qi];
    uint8_t status = err ? VIRTIO_BLK_S_IOERR : VIRTIO_BLK_S_OK;

    if (s->type == VIRTIO_BLK_T_OUT) {
        blk_write_retired(b, aq, s->seq);
        if (!err) {
            BLK_COUNT(b->stats.writes, 1);
            BLK_COUNT(b->stats.write_bytes, io->len);
            status = blk_write_done(d, b); /* writethrough: stable first */
        }
    } else if (!err && s->type == VIRTIO_BLK_T_IN) {
        BLK_COUNT(b->stats.reads, 1);
        BLK_COUNT(b->stats.read_bytes, io->len);
    } else if (!err) {
        BLK_COUNT(b->stats.flushes, 1);
    }
    if (err)
        BLK_COUNT(b->stats.ioerr, 1);
    blk_slot_finish(s, status);
}

int blk_async_request(struct vdev *d, struct dev_blk *b, unsigned qi, const struct vdq_chain *c,
                      uint32_t type, uint32_t data_len, uint64_t pos)
{
    struct blk_aq *aq = &b->aq[qi];
    struct blk_slot *s;

    if (!aq->slots) {
        aq->slots = virt_zalloc(sizeof(*aq->slots) * VDEV_BLK_QUEUE_MAX);
        if (!aq->slots)
            return -ENOMEM; /* served synchronously */
    }
    if (c->head >= VDEV_BLK_QUEUE_MAX || aq->slots[c->head].state != SLOT_FREE)
        return -EBUSY; /* a head published twice: served synchronously */
    s = &aq->slots[c->head];
    memset(&s->io, 0, sizeof(s->io));
    s->d = d;
    s->head = c->head;
    s->type = type;
    s->in_len = c->in_len;
    /* The status: the last writable byte (in_len >= 1, checked by blk_chain). */
    s->status = vdq_chain_in_byte(c, c->in_len - 1);
    s->io.qi = (uint16_t)qi;
    s->io.pos = pos;
    s->io.iov = s->iov;
    if (type == VIRTIO_BLK_T_FLUSH)
        s->io.op = VDEV_BLK_IO_FLUSH;
    else if (!blk_slot_data(s, c, type == VIRTIO_BLK_T_IN,
                            type == VIRTIO_BLK_T_IN ? 0 : sizeof(struct virtio_blk_req_hdr),
                            data_len))
        return -EINVAL;
    else
        s->io.op = type == VIRTIO_BLK_T_IN ? VDEV_BLK_IO_READ : VDEV_BLK_IO_WRITE;
    s->pop_seq = ++aq->pop_seq;
    aq->inflight++;
    blk_note_peak(b, aq->inflight);
    if (type == VIRTIO_BLK_T_OUT) {
        s->seq = ++aq->write_seq;
        aq->writes_inflight++;
    } else if (type == VIRTIO_BLK_T_FLUSH && aq->writes_inflight) {
        /* Every write in flight now was popped before this FLUSH. */
        s->seq = aq->write_seq;
        s->flush_wait = aq->writes_inflight;
        s->state = SLOT_FLUSH_WAIT;
        aq->flush_waiting++;
        BLK_COUNT(b->stats.flush_waits, 1);
        return 0;
    }
    blk_slot_submit(b, s);
    return 0;
}

/* Pushed chains the driver has not been told about yet: tell it. */
static void blk_async_signal(struct vdev *d, struct blk_aq *aq, unsigned qi)
{
    if (aq->unsignalled) {
        aq->unsignalled = 0;
        vdev_signal_used(d, qi);
    }
}

int blk_async_reap(struct vdev *d, struct dev_blk *b, unsigned qi)
{
    struct blk_aq *aq = &b->aq[qi];
    uint64_t before = d->queues[qi].q.stats.pushed;

    if (aq->inflight) {
        b->be.reap(b->be.ctx, qi, false);
        b->be.commit(b->be.ctx, qi); /* FLUSHes released by the writes */
    }
    blk_async_signal(d, aq, qi);
    return (int)(d->queues[qi].q.stats.pushed - before);
}

int blk_async_commit(struct vdev *d, struct dev_blk *b, unsigned qi)
{
    struct blk_aq *aq = &b->aq[qi];
    uint64_t before = d->queues[qi].q.stats.pushed;

    b->be.commit(b->be.ctx, qi);
    /* What finished during the submission itself (a read from the host's
     * page cache often does) goes out with this round instead of waiting
     * for the backend's completion wakeup; FLUSHes its writes released are
     * submitted too. */
    if (aq->inflight) {
        b->be.reap(b->be.ctx, qi, false);
        b->be.commit(b->be.ctx, qi);
    }
    blk_async_signal(d, aq, qi);
    return (int)(d->queues[qi].q.stats.pushed - before);
}

void blk_quiesce(struct vdev *d)
{
    struct dev_blk *b = d->priv;
    unsigned qi;

    if (b->disk || !b->be.submit)
        return;
    for (qi = 0; qi < VDEV_MAX_QUEUES; qi++) {
        struct blk_aq *aq = &b->aq[qi];

        while (aq->inflight) {
            b->be.commit(b->be.ctx, qi);
            b->be.reap(b->be.ctx, qi, true);
        }
        blk_async_signal(d, aq, qi);
    }
}

void blk_async_free(struct dev_blk *b)
{
    unsigned qi;

    for (qi = 0; qi < VDEV_MAX_QUEUES; qi++)
        virt_free(b->aq[qi].slots);
}
