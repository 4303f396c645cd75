/* SPDX-License-Identifier: Apache-2.0 */
/* ring_fixture.c - see ring_fixture.h. */
#include "ring_fixture.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "platform_host.h"
#include "virtio_platform.h"

static void fx_notify(struct virtqueue *vq, void *priv)
{
    struct ring_fixture *fx = priv;

    (void)vq;
    fx->notifies++;
}

void fx_arena_init(struct ring_fixture *fx)
{
    memset(fx, 0, sizeof(*fx));
    fx->arena = aligned_alloc(4096, FX_ARENA_SIZE);
    assert_non_null(fx->arena);
    memset(fx->arena, 0, FX_ARENA_SIZE);
    host_dma_arena_setup(fx->arena, FX_ARENA_SIZE, FX_GPA_BASE);
    fx->region.gpa = FX_GPA_BASE;
    fx->region.size = FX_ARENA_SIZE;
    fx->region.hva = fx->arena;
    fx->mem.regions = &fx->region;
    fx->mem.nregions = 1;
    fx->chain.iov = fx->iov;
    fx->chain.max_iov = FX_MAX_IOV;
    host_log_level_set(-1); /* the tests provoke errors on purpose */
    fx->scratch = fx_alloc(fx, 4096, NULL);
}

void *fx_alloc(struct ring_fixture *fx, size_t size, uint64_t *gpa)
{
    uint64_t g;
    void *p = virt_dma_alloc(size, &g);

    (void)fx;
    assert_non_null(p);
    if (gpa)
        *gpa = g;
    return p;
}

uint64_t fx_gpa(struct ring_fixture *fx, const void *p)
{
    return FX_GPA_BASE + (uint64_t)((const uint8_t *)p - fx->arena);
}

void fx_setup(struct ring_fixture *fx, uint32_t num, bool event_idx, bool indirect)
{
    struct vq_config cfg = {
        .num = num,
        .event_idx = event_idx,
        .indirect = indirect,
        .notify = fx_notify,
        .priv = fx,
    };
    struct vdq_config dcfg = {.num = num, .event_idx = event_idx, .indirect = indirect};

    fx_arena_init(fx);
    assert_int_equal(vq_create(&cfg, &fx->vq), 0);
    vq_get_ring_addrs(fx->vq, &dcfg.desc_gpa, &dcfg.avail_gpa, &dcfg.used_gpa);
    assert_int_equal(vdq_init(&fx->q, &fx->mem, &dcfg), 0);
    fx->num = num;
    fx->desc_gpa = dcfg.desc_gpa;
    fx->avail_gpa = dcfg.avail_gpa;
    fx->used_gpa = dcfg.used_gpa;
}

void fx_setup_raw(struct ring_fixture *fx, uint32_t num, bool event_idx, bool indirect)
{
    struct vdq_config dcfg = {.num = num, .event_idx = event_idx, .indirect = indirect};

    fx_arena_init(fx);
    fx->num = num;
    fx->desc = fx_alloc(fx, virtq_desc_size(num), &fx->desc_gpa);
    fx->avail = fx_alloc(fx, virtq_avail_size(num), &fx->avail_gpa);
    fx->used = fx_alloc(fx, virtq_used_size(num), &fx->used_gpa);
    dcfg.desc_gpa = fx->desc_gpa;
    dcfg.avail_gpa = fx->avail_gpa;
    dcfg.used_gpa = fx->used_gpa;
    assert_int_equal(vdq_init(&fx->q, &fx->mem, &dcfg), 0);
}

void fx_teardown(struct ring_fixture *fx)
{
    if (fx->vq)
        vq_destroy(fx->vq);
    host_dma_arena_clear();
    free(fx->arena);
    fx->arena = NULL;
}

void fx_set_desc(struct ring_fixture *fx, struct virtq_desc *table, uint16_t i, uint64_t addr,
                 uint32_t len, uint16_t flags, uint16_t next)
{
    (void)fx;
    table[i].addr = addr;
    table[i].len = len;
    table[i].flags = flags;
    table[i].next = next;
}

void fx_publish(struct ring_fixture *fx, uint16_t head)
{
    fx->avail->ring[fx->avail_idx & (fx->num - 1)] = head;
    fx->avail_idx++;
    __atomic_store_n(&fx->avail->idx, fx->avail_idx, __ATOMIC_RELEASE);
}

static void *fx_ptr(struct ring_fixture *fx, uint64_t gpa)
{
    return fx->arena + (gpa - FX_GPA_BASE);
}

struct virtq_used *fx_vq_used(struct ring_fixture *fx)
{
    return fx_ptr(fx, fx->used_gpa);
}

struct virtq_avail *fx_vq_avail(struct ring_fixture *fx)
{
    return fx_ptr(fx, fx->avail_gpa);
}

struct virtq_desc *fx_vq_desc(struct ring_fixture *fx)
{
    return fx_ptr(fx, fx->desc_gpa);
}

struct virtq_used_elem fx_used_elem(struct ring_fixture *fx, uint16_t idx)
{
    struct virtq_used *u = fx->used ? fx->used : fx_vq_used(fx);

    return u->ring[idx & (fx->num - 1)];
}

uint16_t fx_used_idx(struct ring_fixture *fx)
{
    struct virtq_used *u = fx->used ? fx->used : fx_vq_used(fx);

    return u->idx;
}
