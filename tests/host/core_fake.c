/* SPDX-License-Identifier: Apache-2.0 */
/* core_fake.c - see core_fake.h. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>
#include "platform_host.h"
#include "transport_loopback.h"
#include "virtio.h"
#include "virtio_blk.h"
#include "virtio_mmio.h"
#include "vmmio.h"

#include "core_fake.h"



static void set64(uint64_t *v, bool high, uint32_t val)
{
    if (high)
        *v = (*v & 0xffffffffull) | (uint64_t)val << 32;
    else
        *v = (*v & ~0xffffffffull) | val;
}

uint32_t vmmio_read(struct vmmio *m, uint32_t off, unsigned size)
{
    unsigned q = m->queue_sel < 8 ? m->queue_sel : 0;

    if (off >= VIRTIO_MMIO_CONFIG) {
        uint32_t v = 0, co = off - VIRTIO_MMIO_CONFIG;

        if (m->config_reads < FAKE_MAX_LOG)
            m->sizes_log[m->config_reads] = size;
        m->config_reads++;
        if (m->gen_bumps_left) {
            m->gen_bumps_left--;
            m->generation++;
            m->config[0]++; /* the device is changing it under us */
        }
        if (co + size <= sizeof(m->config))
            memcpy(&v, &m->config[co], size);
        return v;
    }
    assert_int_equal(size, 4);
    switch (off) {
    case VIRTIO_MMIO_MAGIC_VALUE:
        return m->magic;
    case VIRTIO_MMIO_VERSION:
        return 2;
    case VIRTIO_MMIO_DEVICE_ID:
        return m->device_id;
    case VIRTIO_MMIO_DEVICE_FEATURES:
        return m->dev_sel == 0   ? (uint32_t)m->offered
               : m->dev_sel == 1 ? (uint32_t)(m->offered >> 32)
                                 : 0;
    case VIRTIO_MMIO_QUEUE_NUM_MAX:
        return m->num_max[q];
    case VIRTIO_MMIO_QUEUE_READY:
        return m->ready[q];
    case VIRTIO_MMIO_INTERRUPT_STATUS:
        return m->isr;
    case VIRTIO_MMIO_STATUS:
        return m->reset_stuck ? 1 : m->status;
    case VIRTIO_MMIO_CONFIG_GENERATION:
        return m->generation;
    default:
        return 0;
    }
}

void vmmio_write(struct vmmio *m, uint32_t off, uint32_t val, unsigned size)
{
    unsigned q = m->queue_sel < 8 ? m->queue_sel : 0;

    if (off >= VIRTIO_MMIO_CONFIG)
        return;
    assert_int_equal(size, 4);
    switch (off) {
    case VIRTIO_MMIO_DEVICE_FEATURES_SEL:
        m->dev_sel = val;
        break;
    case VIRTIO_MMIO_DRIVER_FEATURES_SEL:
        m->drv_sel = val;
        break;
    case VIRTIO_MMIO_DRIVER_FEATURES:
        set64(&m->driver_features, m->drv_sel == 1, val);
        break;
    case VIRTIO_MMIO_QUEUE_SEL:
        m->queue_sel = val;
        break;
    case VIRTIO_MMIO_QUEUE_NUM:
        m->num[q] = val;
        break;
    case VIRTIO_MMIO_QUEUE_READY:
        m->ready[q] = val;
        break;
    case VIRTIO_MMIO_QUEUE_DESC_LOW:
    case VIRTIO_MMIO_QUEUE_DESC_HIGH:
        set64(&m->desc[q], off == VIRTIO_MMIO_QUEUE_DESC_HIGH, val);
        break;
    case VIRTIO_MMIO_QUEUE_DRIVER_LOW:
    case VIRTIO_MMIO_QUEUE_DRIVER_HIGH:
        set64(&m->avail[q], off == VIRTIO_MMIO_QUEUE_DRIVER_HIGH, val);
        break;
    case VIRTIO_MMIO_QUEUE_DEVICE_LOW:
    case VIRTIO_MMIO_QUEUE_DEVICE_HIGH:
        set64(&m->used[q], off == VIRTIO_MMIO_QUEUE_DEVICE_HIGH, val);
        break;
    case VIRTIO_MMIO_QUEUE_NOTIFY:
        if (val < 8)
            m->notifies[val]++;
        break;
    case VIRTIO_MMIO_INTERRUPT_ACK:
        m->acked |= val;
        m->isr &= ~val;
        break;
    case VIRTIO_MMIO_STATUS:
        if (m->nstatus < FAKE_MAX_LOG)
            m->status_log[m->nstatus++] = val;
        if (val == 0) {
            memset(m->ready, 0, sizeof(m->ready));
            m->status = 0;
        } else if ((val & VIRTIO_STATUS_FEATURES_OK) && m->refuse_features) {
            m->status = val & ~(uint32_t)VIRTIO_STATUS_FEATURES_OK;
        } else {
            m->status = val;
        }
        break;
    default:
        break;
    }
}

/* ---- fixture ---- */



struct core_fx fx;

int core_setup(void **state)
{
    unsigned i;

    memset(&fx, 0, sizeof(fx));
    fx.regs.magic = VIRTIO_MMIO_MAGIC;
    fx.regs.device_id = VIRTIO_ID_BLOCK;
    fx.regs.offered = OFFER_MODERN;
    for (i = 0; i < 8; i++)
        fx.regs.num_max[i] = 256;
    host_log_level_set(-1);
    assert_int_equal(loopback_device_create(&fx.regs, "lblk0", &fx.dev), 0);
    *state = &fx;
    return 0;
}

int core_teardown(void **state)
{
    (void)state;
    virtio_unregister(fx.dev);
    loopback_device_destroy(fx.dev);
    return 0;
}

void vq_cb(struct virtio_device *dev, unsigned q)
{
    (void)dev;
    fx.callbacks[q]++;
}

void config_cb(struct virtio_device *dev)
{
    (void)dev;
    fx.config_changes++;
}

const struct virtio_vq_spec two_specs[2] = {
    {.max_size = 0, .callback = vq_cb},
    {.max_size = 16, .callback = vq_cb},
};
