/* SPDX-License-Identifier: Apache-2.0 */
/*
 * vdev.c - the generic part of a device model (see vdev.h): feature and
 * queue bookkeeping, activation (DRIVER_OK) and reset, interrupts, and the
 * pop/handle/push loop most models share.
 *
 * Invariants:
 *  - queues[i].q is valid (vdq_init succeeded) iff activated && queues[i].ready
 *    (vdev_has_queue_state()); vdev_is_queue_live() (that, and awake) is the
 *    one test models use before touching a vdq (4.2.2: the device MUST NOT
 *    access a queue whose QueueReady is 0; asleep, it touches none).
 *  - interrupt_status only gains bits here (vdev_signal_*); the transport
 *    clears them on InterruptACK and on reset.
 *  - statistics survive reset: they describe the device's life, not one
 *    driver session (the shell's `stats` shows them across re-inits).
 *  - every call is serialised by the caller (the transport's lock).
 */
#include "vdev.h"

#include <errno.h>
#include <string.h>

#include "hostile.h"
#include "virtio_platform.h"

static void vdev_queues_clear(struct vdev *d)
{
    unsigned i;

    for (i = 0; i < VDEV_MAX_QUEUES; i++) {
        struct vdev_queue *vq = &d->queues[i];

        vq->max_size = i < d->ops->num_queues ? d->ops->queue_max_size : 0;
        /* QueueNum is write-only; a driver that never writes it gets the
         * maximum (as Firecracker does). */
        vq->size = vq->max_size;
        vq->ready = false;
        vq->desc_gpa = vq->avail_gpa = vq->used_gpa = 0;
        memset(&vq->q, 0, sizeof(vq->q));
    }
}

void vdev_init(struct vdev *d, const struct vdev_ops *ops, void *priv, uint64_t features,
               const struct vdq_mem *mem)
{
    memset(d, 0, sizeof(*d));
    d->ops = ops;
    d->priv = priv;
    d->avail_features = features;
    d->mem = *mem;
    vdev_queues_clear(d);
}

void vdev_destroy(struct vdev *d)
{
    if (d->ops && d->ops->destroy)
        d->ops->destroy(d);
    d->priv = NULL;
}

void vdev_set_offer_packed(struct vdev *d, bool on)
{
    if (on)
        d->avail_features |= 1ull << VIRTIO_F_RING_PACKED;
    else
        d->avail_features &= ~(1ull << VIRTIO_F_RING_PACKED);
}

bool vdev_has_feature(const struct vdev *d, unsigned bit)
{
    return bit < 64 && (d->acked_features >> bit) & 1;
}

bool vdev_has_queue_state(const struct vdev *d, unsigned qi)
{
    return d->activated && qi < d->ops->num_queues && d->queues[qi].ready;
}

bool vdev_is_queue_live(const struct vdev *d, unsigned qi)
{
    return vdev_has_queue_state(d, qi) && !vdev_is_asleep(d);
}

bool vdev_is_asleep(const struct vdev *d)
{
    return __atomic_load_n(&d->sleeping, __ATOMIC_ACQUIRE);
}

void vdev_sleep(struct vdev *d)
{
    /* Chains still in flight in the model complete first: asleep, nothing
     * may be written to guest memory (and the memory may go). */
    if (!__atomic_load_n(&d->sleeping, __ATOMIC_ACQUIRE)) {
        if (d->ops->quiesce)
            d->ops->quiesce(d);
        hostile_quiesce(d); /* so do chains a complete-late device holds */
    }
    __atomic_store_n(&d->sleeping, true, __ATOMIC_RELEASE);
}

void vdev_wake(struct vdev *d)
{
    unsigned qi;

    __atomic_store_n(&d->sleeping, false, __ATOMIC_RELEASE);
    for (qi = 0; qi < d->ops->num_queues; qi++) {
        if (!vdev_is_queue_live(d, qi))
            continue;
        /* 2.7.10: kicks wanted again, avail_event = next_avail (a restored
         * queue has never published it in this instance); the re-check's
         * result does not matter, the caller processes every queue. */
        (void)vdq_enable_notify(&d->queues[qi].q);
    }
}

/* Build queue qi's vdq from what the driver wrote (4.2.2 QueueNum, Queue*
 * Low/High); -EINVAL when the size or an address is unusable. */
static int vdev_queue_activate(struct vdev *d, unsigned qi)
{
    struct vdev_queue *vq = &d->queues[qi];
    struct vdq_config cfg = {
        .num = vq->size,
        .desc_gpa = vq->desc_gpa,
        .avail_gpa = vq->avail_gpa,
        .used_gpa = vq->used_gpa,
        .event_idx = vdev_has_feature(d, VIRTIO_F_EVENT_IDX),
        .indirect = vdev_has_feature(d, VIRTIO_F_INDIRECT_DESC),
        /* 2.8: desc_gpa is the descriptor ring, avail_gpa / used_gpa the
         * driver / device event suppression areas (4.2.2 QueueDriver /
         * QueueDevice). */
        .packed = vdev_has_feature(d, VIRTIO_F_RING_PACKED),
    };

    /* 4.2.2: "The driver MUST write a value to QueueNum which is less than
     * or equal to the value presented by the device in QueueNumMax." */
    if (vq->size == 0 || vq->size > vq->max_size)
        return -EINVAL;
    return vdq_init(&vq->q, &d->mem, &cfg); /* size, alignment, in memory */
}

int vdev_activate(struct vdev *d)
{
    unsigned qi;
    int err;

    if (d->activated)
        return 0;
    for (qi = 0; qi < d->ops->num_queues; qi++) {
        if (!d->queues[qi].ready)
            continue;
        err = vdev_queue_activate(d, qi);
        if (err) {
            virt_log(VIRT_LOG_ERR, "vdev %s: queue %u unusable (size %u desc %#llx)", d->ops->type,
                     qi, d->queues[qi].size, (unsigned long long)d->queues[qi].desc_gpa);
            goto err_queue;
        }
    }
    if (d->ops->activate) {
        err = d->ops->activate(d);
        if (err) {
            virt_log(VIRT_LOG_ERR, "vdev %s: activate failed (%d)", d->ops->type, err);
            goto err_queue;
        }
    }
    d->activated = true;
    return 0;

err_queue:
    for (qi = 0; qi < d->ops->num_queues; qi++)
        memset(&d->queues[qi].q, 0, sizeof(d->queues[qi].q));
    d->needs_reset = true;
    return err;
}

void vdev_reset(struct vdev *d)
{
    if (d->ops->reset)
        d->ops->reset(d);
    vdev_queues_clear(d);
    d->acked_features = 0;
    __atomic_store_n(&d->interrupt_status, 0, __ATOMIC_RELAXED);
    d->activated = false;
    d->needs_reset = false;
    d->more_work = 0;
    hostile_reset(d);
    /* sleeping survives reset: a sleeping device stays asleep until woken. */
}

/* qi: the queue a used-buffer interrupt is for, or -1 (config). */
static void vdev_raise(struct vdev *d, uint32_t bits, int qi)
{
    /* Seq-cst: the status bit (and the used ring before it) is visible
     * before the interrupt is sent; pairs with the acquire load of
     * InterruptStatus in vmmio_read(). */
    bits = hostile_raise(d, bits);
    __atomic_fetch_or(&d->interrupt_status, bits, __ATOMIC_SEQ_CST);
    if (qi >= 0 && bits == VIRTIO_INT_USED_BUFFER && d->irq_queue)
        d->irq_queue(d, (unsigned)qi, d->irq_ctx);
    else if (d->irq)
        d->irq(d, bits, d->irq_ctx);
}

void vdev_signal_used(struct vdev *d, unsigned qi)
{
    unsigned n;

    if (!vdev_is_queue_live(d, qi))
        return;
    /* 2.7.7: EVENT_IDX or VIRTQ_AVAIL_F_NO_INTERRUPT decide (a hostile
     * device may decide otherwise). */
    n = d->hostile ? hostile_signal(d, qi) : vdq_interrupt_prepare(&d->queues[qi].q);
    for (; n; n--) {
        d->queues[qi].stats.interrupts++;
        vdev_raise(d, VIRTIO_INT_USED_BUFFER, (int)qi);
    }
}

void vdev_signal_config(struct vdev *d)
{
    vdev_raise(d, VIRTIO_INT_CONFIG_CHANGE, -1);
}

int vdev_queue_pop(struct vdev *d, unsigned qi, struct vdq_chain *c)
{
    struct vdev_queue *vq = &d->queues[qi];
    uint64_t bad_before = vq->q.stats.bad_chains;
    int err;

    if (!vdev_is_queue_live(d, qi))
        return -EAGAIN;
    c->iov = d->qiov[qi] ? d->qiov[qi] : d->iov;
    c->max_iov = VDEV_MAX_IOV;
    err = vdq_pop(&vq->q, c);
    /* Chains vdq refused on the way (returned with len 0) count as bad. */
    vq->stats.bad_chains += vq->q.stats.bad_chains - bad_before;
    return err;
}

int vdev_queue_push(struct vdev *d, unsigned qi, uint16_t head, uint32_t written, bool is_bad)
{
    struct vdev_queue *vq = &d->queues[qi];
    int err = hostile_push(d, qi, head, written); /* > 0: it pushed (or held) */

    err = err ? (err < 0 ? err : 0) : vdq_push(&vq->q, head, written);
    if (err)
        return err;
    if (is_bad)
        vq->stats.bad_chains++;
    else
        vq->stats.requests++;
    return 0;
}

/*
 * The end of one pass of vdev_queue_drain() or vdev_queue_deliver() over
 * queue qi: signal the driver for what the pass pushed; then, unless the
 * caller has nothing left to give (has_data false; NULL: a drain, always
 * re-arms), re-enable kicks and re-check (2.7.10). Without the re-check a
 * chain published between our last pop and the re-enable would wait for a
 * kick that the driver decided not to send; for a deliver, the re-check
 * finds the buffers the driver added before it could see our request.
 * Returns 0 when the queue is settled, -EAGAIN when the re-check found
 * chains (go round again), another negative errno when the ring is corrupt.
 */
static int vdev_queue_rearm(struct vdev *d, unsigned qi, bool (*has_data)(struct vdev *d))
{
    vdev_signal_used(d, qi);
    if (has_data && !has_data(d))
        return 0;
    return vdq_enable_notify(&d->queues[qi].q);
}

/* What a loop returns: chains completed since pushed_before when it ended
 * with err 0, else -EIO once the driver has been signalled for whatever was
 * pushed before the ring broke. */
static int vdev_queue_result(struct vdev *d, unsigned qi, uint64_t pushed_before, int err)
{
    if (err) {
        vdev_signal_used(d, qi); /* whatever was pushed before it broke */
        return -EIO;
    }
    return (int)(d->queues[qi].q.stats.pushed - pushed_before);
}

int vdev_queue_drain(struct vdev *d, unsigned qi, vdev_chain_fn fn)
{
    struct vdq *q = &d->queues[qi].q;
    uint64_t pushed_before = q->stats.pushed;
    uint32_t budget = q->cfg.num, done = 0;
    struct vdq_chain c;
    int err = -EAGAIN;

    if (!vdev_is_queue_live(d, qi))
        return 0;
    do {
        /* No kicks while we are draining anyway (2.7.10). */
        vdq_disable_notify(q);
        while (done < budget && (err = vdev_queue_pop(d, qi, &c)) == 0) {
            uint32_t written = 0;
            bool is_bad = fn(d, qi, &c, &written);

            if (written == VDEV_CHAIN_PENDING) {
                done++; /* the model pushes it when its I/O is done */
                continue;
            }
            written = hostile_chain(d, qi, &c, written);
            /* Dirty log (vdq.h): what the model wrote, before the push. */
            vdq_log_chain_in(&d->queues[qi].q.mem, &c, written);
            err = vdev_queue_push(d, qi, c.head, written, is_bad);
            if (err)
                break;
            done++;
        }
        if (done >= budget) {
            /* Enough for one call: let the transport's lock go and come
             * back (kicks stay off; more_work brings us back). */
            vdev_signal_used(d, qi);
            __atomic_fetch_or(&d->more_work, 1u << qi, __ATOMIC_RELAXED);
            err = 0;
            break;
        }
        if (err != -EAGAIN)
            break; /* the ring is corrupt */
        if (__atomic_load_n(&d->polling, __ATOMIC_RELAXED) & (1u << qi)) {
            /* The carrier polls the ring: kicks stay off (see
             * vdev_set_polling; it re-arms when it stops). */
            vdev_signal_used(d, qi);
            err = 0;
            break;
        }
        err = vdev_queue_rearm(d, qi, NULL);
    } while (err == -EAGAIN);
    return vdev_queue_result(d, qi, pushed_before, err);
}

void vdev_set_polling(struct vdev *d, unsigned qi, bool on)
{
    if (on)
        __atomic_fetch_or(&d->polling, 1u << qi, __ATOMIC_RELAXED);
    else
        __atomic_fetch_and(&d->polling, ~(1u << qi), __ATOMIC_RELAXED);
}

int vdev_queue_deliver(struct vdev *d, unsigned qi, bool (*has_data)(struct vdev *d),
                       vdev_chain_fn fn)
{
    uint64_t pushed_before = d->queues[qi].q.stats.pushed;
    struct vdq_chain c;
    int err;

    if (!vdev_is_queue_live(d, qi))
        return 0;
    do {
        while (has_data(d)) {
            uint32_t written = 0;
            bool is_bad;

            err = vdev_queue_pop(d, qi, &c);
            if (err == -EAGAIN)
                break; /* data waits for buffers */
            if (err)
                return vdev_queue_result(d, qi, pushed_before, err);
            is_bad = fn(d, qi, &c, &written);
            written = hostile_chain(d, qi, &c, written);
            /* Dirty log (vdq.h): what the model wrote, before the push. */
            vdq_log_chain_in(&d->queues[qi].q.mem, &c, written);
            err = vdev_queue_push(d, qi, c.head, written, is_bad);
            if (err)
                return vdev_queue_result(d, qi, pushed_before, err);
        }
        err = vdev_queue_rearm(d, qi, has_data);
    } while (err == -EAGAIN);
    return vdev_queue_result(d, qi, pushed_before, err);
}
