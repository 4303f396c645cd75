/* SPDX-License-Identifier: Apache-2.0 */
/* packed_fixture.c - see packed_fixture.h. */
#include "packed_fixture.h"

#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "platform_host.h"

struct pfx F;

void *p_alloc(struct pfx *f, size_t size, uint64_t *gpa)
{
    size_t off = (f->used + 63) & ~(size_t)63;
    void *p;

    assert_true(off + size <= ARENA_SIZE);
    f->used = off + size;
    p = f->arena + off;
    memset(p, 0, size);
    if (gpa)
        *gpa = GPA_BASE + off;
    return p;
}

uint64_t p_buf(struct pfx *f, size_t len, uint8_t **hva)
{
    uint64_t gpa;
    uint8_t *p = p_alloc(f, len ? len : 1, &gpa);

    if (hva)
        *hva = p;
    return gpa;
}

void p_init_cfg(struct pfx *f, uint32_t num, bool event_idx, bool indirect, bool batch)
{
    uint64_t dg, ag, ug;

    f->num = num;
    f->ring = p_alloc(f, pvirtq_desc_size(num), &dg);
    f->drv_ev = p_alloc(f, 4, &ag);
    f->dev_ev = p_alloc(f, 4, &ug);
    f->sgs = calloc(num, sizeof(uint16_t));
    f->ids = calloc(num, sizeof(uint16_t));
    assert_non_null(f->sgs);
    assert_non_null(f->ids);
    f->next_avail = f->next_used = 0;
    f->avail_wrap = f->used_wrap = true; /* 2.8.1 */
    memset(&f->cfg, 0, sizeof(f->cfg));
    f->cfg.num = num;
    f->cfg.desc_gpa = dg;
    f->cfg.avail_gpa = ag;
    f->cfg.used_gpa = ug;
    f->cfg.event_idx = event_idx;
    f->cfg.indirect = indirect;
    f->cfg.publish_on_interrupt = batch;
    f->cfg.packed = true;
    f->cfg.packed_ids = num > VDQ_PACKED_IDS_INLINE ? f->ids : NULL;
}

void p_setup_q(struct pfx *f, uint32_t num, bool event_idx, bool indirect, bool batch)
{
    memset(f, 0, sizeof(*f));
    f->arena = aligned_alloc(4096, ARENA_SIZE);
    assert_non_null(f->arena);
    f->region[0].gpa = GPA_BASE;
    f->region[0].size = ARENA_SIZE;
    f->region[0].hva = f->arena;
    /* A huge region that is never touched (pop does not read buffers):
     * lets a list be longer than 2^32 bytes with valid addresses. */
    f->region[1].gpa = 1ull << 40;
    f->region[1].size = 1ull << 34;
    f->region[1].hva = (void *)(uintptr_t)0x1000;
    f->mem.regions = f->region;
    f->mem.nregions = 2;
    f->chain.iov = f->iov;
    f->chain.max_iov = MAX_IOV;
    host_log_level_set(-1); /* the tests provoke errors on purpose */
    p_init_cfg(f, num, event_idx, indirect, batch);
    assert_int_equal(vdq_init(&f->q, &f->mem, &f->cfg), 0);
}

void p_teardown(struct pfx *f)
{
    free(f->sgs);
    free(f->ids);
    free(f->arena);
    memset(f, 0, sizeof(*f));
}

int p_teardown_state(void **state)
{
    (void)state;
    p_teardown(&F);
    return 0;
}

/*
 * Make a list available (2.8.21.1): each descriptor's flags carry AVAIL =
 * wrap counter, USED = its inverse, NEXT on all but the last; the id goes
 * into the last descriptor (ids_all: into every one; first_id: a different
 * id in the first, to catch a device that reads the wrong one). The head's
 * flags are stored last, after a release. Returns the head's offset.
 */
uint16_t drv_add_ex(struct pfx *f, uint16_t id, const struct seg *s, unsigned n, bool raw_flags,
                    int first_id)
{
    uint16_t head = f->next_avail, head_flags = 0;
    unsigned k;

    for (k = 0; k < n; k++) {
        struct pvirtq_desc *d = &f->ring[f->next_avail];
        uint16_t fl = (uint16_t)(s[k].flags | pvirtq_avail_flags(f->avail_wrap));

        if (!raw_flags && k + 1 < n)
            fl |= N;
        d->addr = s[k].gpa;
        d->len = s[k].len;
        d->id = (k + 1 == n) ? id : (first_id >= 0 && k == 0 ? (uint16_t)first_id : 0xdead);
        if (k == 0)
            head_flags = fl;
        else
            d->flags = fl;
        if (++f->next_avail == f->num) {
            f->next_avail = 0;
            f->avail_wrap = !f->avail_wrap; /* 2.8.1 */
        }
    }
    if (id < f->num)
        f->sgs[id] = (uint16_t)n;
    /* 2.8.21.1.1: barrier before the head's flags. */
    __atomic_store_n(&f->ring[head].flags, head_flags, __ATOMIC_RELEASE);
    return head;
}

uint16_t drv_add(struct pfx *f, uint16_t id, const struct seg *s, unsigned n)
{
    return drv_add_ex(f, id, s, n, false, -1);
}

/* One-element list. */
void drv_add1(struct pfx *f, uint16_t id, uint64_t gpa, uint32_t len, uint16_t flags)
{
    struct seg s = {gpa, len, flags};

    drv_add(f, id, &s, 1);
}

/* 2.8.22: next used element, or false. Checks AVAIL == USED == wrap. */
bool drv_get_used(struct pfx *f, uint16_t *id, uint32_t *len, uint16_t *flags)
{
    struct pvirtq_desc *d = &f->ring[f->next_used];
    uint16_t fl = __atomic_load_n(&d->flags, __ATOMIC_ACQUIRE);
    uint32_t skip;

    if (!pvirtq_is_used(fl, f->used_wrap))
        return false;
    *id = d->id;
    *len = d->len;
    if (flags)
        *flags = fl;
    assert_true(*id < f->num);
    skip = f->sgs[*id];
    assert_true(skip >= 1);
    f->sgs[*id] = 0;
    skip += f->next_used;
    if (skip >= f->num) {
        skip -= f->num;
        f->used_wrap = !f->used_wrap;
    }
    f->next_used = (uint16_t)skip;
    return true;
}

void expect_used(struct pfx *f, uint16_t id, uint32_t len)
{
    uint16_t gid = 0xffff;
    uint32_t glen = 0xffffffff;

    assert_true(drv_get_used(f, &gid, &glen, NULL));
    assert_int_equal(gid, id);
    assert_int_equal(glen, len);
}

void expect_no_used(struct pfx *f)
{
    uint16_t id;
    uint32_t len;

    assert_false(drv_get_used(f, &id, &len, NULL));
}

/* A good one-element list id pops and is returned. */
void expect_good_after(struct pfx *f, uint16_t id)
{
    drv_add1(f, id, p_buf(f, 16, NULL), 16, 0);
    assert_int_equal(vdq_pop(&f->q, &f->chain), 0);
    assert_int_equal(f->chain.head, id);
    assert_int_equal(vdq_push(&f->q, id, 0), 0);
    expect_used(f, id, 0);
}

/* The list just made available is bad for `why`: it comes back at once
 * with len 0 and its id, is counted, and the queue goes on. */
void expect_bad(struct pfx *f, uint16_t id, enum vdq_bad why)
{
    uint64_t before = f->q.stats.bad[why], bad_before = f->q.stats.bad_chains;

    assert_int_equal(vdq_pop(&f->q, &f->chain), -EAGAIN);
    assert_int_equal(f->q.stats.bad[why], before + 1);
    assert_int_equal(f->q.stats.bad_chains, bad_before + 1);
    assert_false(vdq_is_broken(&f->q));
    expect_used(f, id, 0);
    expect_no_used(f);
    expect_good_after(f, (uint16_t)((id + 1) % f->num));
}

void expect_broken(struct pfx *f)
{
    assert_int_equal(vdq_pop(&f->q, &f->chain), -EIO);
    assert_true(vdq_is_broken(&f->q));
    assert_non_null(vdq_broken_reason(&f->q, NULL, NULL));
    assert_int_equal(vdq_push(&f->q, 0, 0), -EIO);
    assert_int_equal(vdq_enable_notify(&f->q), -EIO);
    assert_false(vdq_interrupt_prepare(&f->q));
}

