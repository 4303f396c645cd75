/* SPDX-License-Identifier: Apache-2.0 */
/* dev_fixture.c - see dev_fixture.h. */
#include "dev_fixture.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <string.h>

#include <cmocka.h>

#include "virtio_mmio.h"

static void dfx_hook_notify(struct vmmio *m, unsigned queue, void *ctx)
{
    struct dev_fixture *f = ctx;

    (void)m;
    f->notifies++;
    f->last_notified = queue;
}

static void dfx_hook_interrupt(struct vmmio *m, uint32_t int_status, void *ctx)
{
    struct dev_fixture *f = ctx;

    (void)m;
    f->interrupts++;
    f->last_int = int_status;
}

static void dfx_vq_notify(struct virtqueue *vq, void *priv)
{
    struct dfx_queue *q = priv;

    (void)vq;
    dfx_wr(q->f, VIRTIO_MMIO_QUEUE_NOTIFY, q->qi);
}

void dfx_arena(struct dev_fixture *f)
{
    memset(f, 0, sizeof(*f));
    fx_arena_init(&f->fx);
}

void dfx_attach(struct dev_fixture *f)
{
    struct vmmio_hooks hooks = {
        .notify = dfx_hook_notify,
        .interrupt = dfx_hook_interrupt,
        .ctx = f,
    };

    assert_int_equal(vmmio_create(&f->dev, &hooks, &f->m), 0);
}

void dfx_teardown(struct dev_fixture *f)
{
    unsigned i;

    for (i = 0; i < VDEV_MAX_QUEUES; i++) {
        if (f->vq[i])
            vq_destroy(f->vq[i]);
        f->vq[i] = NULL;
    }
    vmmio_destroy(f->m);
    f->m = NULL;
    vdev_destroy(&f->dev);
    fx_teardown(&f->fx);
}

uint32_t dfx_rd(struct dev_fixture *f, uint32_t off)
{
    return vmmio_read(f->m, off, 4);
}

void dfx_wr(struct dev_fixture *f, uint32_t off, uint32_t v)
{
    vmmio_write(f->m, off, v, 4);
}

uint64_t dfx_device_features(struct dev_fixture *f)
{
    uint64_t lo, hi;

    dfx_wr(f, VIRTIO_MMIO_DEVICE_FEATURES_SEL, 0);
    lo = dfx_rd(f, VIRTIO_MMIO_DEVICE_FEATURES);
    dfx_wr(f, VIRTIO_MMIO_DEVICE_FEATURES_SEL, 1);
    hi = dfx_rd(f, VIRTIO_MMIO_DEVICE_FEATURES);
    return lo | hi << 32;
}

uint32_t dfx_negotiate(struct dev_fixture *f, uint64_t features)
{
    unsigned i;

    for (i = 0; i < VDEV_MAX_QUEUES; i++) {
        if (f->vq[i])
            vq_destroy(f->vq[i]);
        f->vq[i] = NULL;
    }
    dfx_wr(f, VIRTIO_MMIO_STATUS, 0);
    assert_int_equal(dfx_rd(f, VIRTIO_MMIO_STATUS), 0);
    dfx_wr(f, VIRTIO_MMIO_STATUS, VIRTIO_STATUS_ACKNOWLEDGE);
    dfx_wr(f, VIRTIO_MMIO_STATUS, VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER);
    dfx_wr(f, VIRTIO_MMIO_DRIVER_FEATURES_SEL, 0);
    dfx_wr(f, VIRTIO_MMIO_DRIVER_FEATURES, (uint32_t)features);
    dfx_wr(f, VIRTIO_MMIO_DRIVER_FEATURES_SEL, 1);
    dfx_wr(f, VIRTIO_MMIO_DRIVER_FEATURES, (uint32_t)(features >> 32));
    dfx_wr(f, VIRTIO_MMIO_STATUS,
           VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER | VIRTIO_STATUS_FEATURES_OK);
    return dfx_rd(f, VIRTIO_MMIO_STATUS);
}

void dfx_setup_queue(struct dev_fixture *f, unsigned qi, uint32_t num)
{
    struct vq_config cfg = {
        .num = num,
        .event_idx = vdev_has_feature(&f->dev, VIRTIO_F_EVENT_IDX),
        .indirect = vdev_has_feature(&f->dev, VIRTIO_F_INDIRECT_DESC),
        /* acked RING_PACKED: a packed driver queue (2.8) */
        .packed = vdev_has_feature(&f->dev, VIRTIO_F_RING_PACKED),
        .notify = dfx_vq_notify,
        .priv = &f->qctx[qi],
    };
    uint64_t desc, avail, used;

    f->qctx[qi].f = f;
    f->qctx[qi].qi = qi;
    assert_int_equal(vq_create(&cfg, &f->vq[qi]), 0);
    vq_get_ring_addrs(f->vq[qi], &desc, &avail, &used);
    dfx_wr(f, VIRTIO_MMIO_QUEUE_SEL, qi);
    assert_int_equal(dfx_rd(f, VIRTIO_MMIO_QUEUE_READY), 0);
    assert_true(dfx_rd(f, VIRTIO_MMIO_QUEUE_NUM_MAX) >= num);
    dfx_wr(f, VIRTIO_MMIO_QUEUE_NUM, num);
    dfx_wr(f, VIRTIO_MMIO_QUEUE_DESC_LOW, (uint32_t)desc);
    dfx_wr(f, VIRTIO_MMIO_QUEUE_DESC_HIGH, (uint32_t)(desc >> 32));
    dfx_wr(f, VIRTIO_MMIO_QUEUE_DRIVER_LOW, (uint32_t)avail);
    dfx_wr(f, VIRTIO_MMIO_QUEUE_DRIVER_HIGH, (uint32_t)(avail >> 32));
    dfx_wr(f, VIRTIO_MMIO_QUEUE_DEVICE_LOW, (uint32_t)used);
    dfx_wr(f, VIRTIO_MMIO_QUEUE_DEVICE_HIGH, (uint32_t)(used >> 32));
    dfx_wr(f, VIRTIO_MMIO_QUEUE_READY, 1);
    assert_int_equal(dfx_rd(f, VIRTIO_MMIO_QUEUE_READY), 1);
}

void dfx_start(struct dev_fixture *f, uint64_t features, uint32_t num)
{
    unsigned qi;

    assert_true(dfx_negotiate(f, features) & VIRTIO_STATUS_FEATURES_OK);
    for (qi = 0; qi < f->dev.ops->num_queues; qi++)
        dfx_setup_queue(f, qi, num);
    dfx_wr(f, VIRTIO_MMIO_STATUS,
           VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER | VIRTIO_STATUS_FEATURES_OK |
               VIRTIO_STATUS_DRIVER_OK);
    assert_int_equal(dfx_rd(f, VIRTIO_MMIO_STATUS),
                     VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER | VIRTIO_STATUS_FEATURES_OK |
                         VIRTIO_STATUS_DRIVER_OK);
    assert_true(f->dev.activated);
}

void dfx_submit(struct dev_fixture *f, unsigned qi, const struct vq_sg *sgs, unsigned out,
                unsigned in, void *token)
{
    assert_int_equal(vq_add_sgs(f->vq[qi], sgs, out, in, token), 0);
    assert_int_equal(vq_kick(f->vq[qi]), 0);
    vmmio_process(f->m);
}

uint32_t dfx_used(struct dev_fixture *f, unsigned qi, void *token)
{
    void *tok = NULL;
    uint32_t len = 0;

    assert_int_equal(vq_get_buf(f->vq[qi], &tok, &len), 0);
    assert_ptr_equal(tok, token);
    return len;
}

uint64_t dfx_no_event_idx(struct dev_fixture *f)
{
    return dfx_device_features(f) & ~(1ull << VIRTIO_F_EVENT_IDX);
}

void *dfx_galloc(struct dev_fixture *f, size_t len)
{
    return fx_alloc(&f->fx, len, NULL);
}

int dfx_teardown_state(void **state)
{
    dfx_teardown(*state);
    return 0;
}

void dfx_assert_all(const uint8_t *p, uint8_t v, size_t len)
{
    size_t i;

    for (i = 0; i < len; i++)
        assert_int_equal(p[i], v);
}
