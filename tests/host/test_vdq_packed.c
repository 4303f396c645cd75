/* SPDX-License-Identifier: Apache-2.0 */
/*
 * test_vdq_packed.c - cmocka unit tests of the packed device queue
 * (hostsim/vdq_packed.c, virtio 1.2 section 2.8) through the vdq API.
 *
 * The driver here is test-local and written from the spec's text
 * (packed-ring.tex 2.8.21 "Supplying Buffers", 2.8.22 "Receiving Used
 * Buffers"), not from drivers/virtio: wrap counters start at 1, a list's
 * head flags are stored last with a release, the buffer id goes in the last
 * descriptor, the driver skips by the descriptor count it remembers per id.
 * It can also write whatever a buggy driver would (raw descriptors).
 *
 * Covered: ring wrap at sizes 1, 3, 255, 256, 32768 with lists crossing the
 * end; a list of exactly the ring size; every bad-chain reason (returned
 * with len 0, id from the last descriptor, counted, queue goes on); every
 * corrupt-ring case (broken, -EIO); the used-buffer interrupt decision
 * against an independent reference over every position, batch and event
 * (ENABLE / DISABLE / DESC, the reserved value, DESC without EVENT_IDX);
 * our own event suppression structure; batch publication order.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "platform_host.h"
#include "vdq.h"
#include "virtio_ring_packed.h"

#define GPA_BASE 0x40000000ull
#define ARENA_SIZE (8u << 20)
#define MAX_IOV 64

#define W VIRTQ_DESC_F_WRITE
#define N VIRTQ_DESC_F_NEXT
#define I VIRTQ_DESC_F_INDIRECT

/* ---- guest memory and the test-local driver ---- */

struct seg {
    uint64_t gpa;
    uint32_t len;
    uint16_t flags; /* W, and for raw lists anything */
};

struct pfx {
    uint8_t *arena;
    size_t used;
    struct vdq_mem_region region[2];
    struct vdq_mem mem;
    struct vdq q;
    struct vdq_config cfg;
    uint16_t *ids; /* cfg.packed_ids for big rings */
    struct vdq_iov iov[MAX_IOV];
    struct vdq_chain chain;
    /* Driver. */
    struct pvirtq_desc *ring;
    struct pvirtq_event_suppress *drv_ev; /* driver area: we write */
    struct pvirtq_event_suppress *dev_ev; /* device area: device writes */
    uint32_t num;
    uint16_t next_avail, next_used;
    bool avail_wrap, used_wrap;
    uint16_t *sgs; /* descriptors per buffer id (2.8.22 example's vq->sgs) */
};

static struct pfx F;

static void *p_alloc(struct pfx *f, size_t size, uint64_t *gpa)
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

static uint64_t p_buf(struct pfx *f, size_t len, uint8_t **hva)
{
    uint64_t gpa;
    uint8_t *p = p_alloc(f, len ? len : 1, &gpa);

    if (hva)
        *hva = p;
    return gpa;
}

static void p_init_cfg(struct pfx *f, uint32_t num, bool event_idx, bool indirect, bool batch)
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

static void p_setup_q(struct pfx *f, uint32_t num, bool event_idx, bool indirect, bool batch)
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

static void p_teardown(struct pfx *f)
{
    free(f->sgs);
    free(f->ids);
    free(f->arena);
    memset(f, 0, sizeof(*f));
}

static int teardown(void **state)
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
static uint16_t drv_add_ex(struct pfx *f, uint16_t id, const struct seg *s, unsigned n,
                           bool raw_flags, int first_id)
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

static uint16_t drv_add(struct pfx *f, uint16_t id, const struct seg *s, unsigned n)
{
    return drv_add_ex(f, id, s, n, false, -1);
}

/* One-element list. */
static void drv_add1(struct pfx *f, uint16_t id, uint64_t gpa, uint32_t len, uint16_t flags)
{
    struct seg s = {gpa, len, flags};

    drv_add(f, id, &s, 1);
}

/* 2.8.22: next used element, or false. Checks AVAIL == USED == wrap. */
static bool drv_get_used(struct pfx *f, uint16_t *id, uint32_t *len, uint16_t *flags)
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

static void expect_used(struct pfx *f, uint16_t id, uint32_t len)
{
    uint16_t gid = 0xffff;
    uint32_t glen = 0xffffffff;

    assert_true(drv_get_used(f, &gid, &glen, NULL));
    assert_int_equal(gid, id);
    assert_int_equal(glen, len);
}

static void expect_no_used(struct pfx *f)
{
    uint16_t id;
    uint32_t len;

    assert_false(drv_get_used(f, &id, &len, NULL));
}

/* A good one-element list id pops and is returned. */
static void expect_good_after(struct pfx *f, uint16_t id)
{
    drv_add1(f, id, p_buf(f, 16, NULL), 16, 0);
    assert_int_equal(vdq_pop(&f->q, &f->chain), 0);
    assert_int_equal(f->chain.head, id);
    assert_int_equal(vdq_push(&f->q, id, 0), 0);
    expect_used(f, id, 0);
}

/* The list just made available is bad for `why`: it comes back at once
 * with len 0 and its id, is counted, and the queue goes on. */
static void expect_bad(struct pfx *f, uint16_t id, enum vdq_bad why)
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

static void expect_broken(struct pfx *f)
{
    assert_int_equal(vdq_pop(&f->q, &f->chain), -EIO);
    assert_true(vdq_is_broken(&f->q));
    assert_non_null(vdq_broken_reason(&f->q, NULL, NULL));
    assert_int_equal(vdq_push(&f->q, 0, 0), -EIO);
    assert_int_equal(vdq_enable_notify(&f->q), -EIO);
    assert_false(vdq_interrupt_prepare(&f->q));
}

/* ---- init ---- */

static void test_init_sizes(void **state)
{
    uint32_t good[] = {1, 2, 3, 100, 255, 256, 257, 1000, 32767, 32768};
    uint32_t bad[] = {0, 32769, 65536};
    struct vdq q;
    unsigned k;

    (void)state;
    p_setup_q(&F, 32768, false, false, false);
    for (k = 0; k < sizeof(good) / sizeof(good[0]); k++) {
        F.cfg.num = good[k];
        F.cfg.packed_ids = F.ids;
        assert_int_equal(vdq_init(&q, &F.mem, &F.cfg), 0);
        assert_true(q.avail_wrap);
        assert_true(q.used_wrap);
        /* Above the inline table, the caller's storage is required. */
        F.cfg.packed_ids = NULL;
        assert_int_equal(vdq_init(&q, &F.mem, &F.cfg), good[k] > VDQ_PACKED_IDS_INLINE ? -EINVAL : 0);
    }
    for (k = 0; k < sizeof(bad) / sizeof(bad[0]); k++) {
        F.cfg.num = bad[k];
        F.cfg.packed_ids = F.ids;
        assert_int_equal(vdq_init(&q, &F.mem, &F.cfg), -EINVAL);
    }
    /* The split layout still refuses 3 (it needs a power of two). */
    F.cfg.num = 3;
    F.cfg.packed = false;
    assert_int_equal(vdq_init(&q, &F.mem, &F.cfg), -EINVAL);
}

static void test_init_placement(void **state)
{
    struct vdq q;
    struct vdq_config c;

    (void)state;
    p_setup_q(&F, 8, false, false, false);
    c = F.cfg;
    c.desc_gpa += 8; /* 2.8.10.1: 16-aligned */
    assert_int_equal(vdq_init(&q, &F.mem, &c), -EINVAL);
    c = F.cfg;
    c.avail_gpa += 2; /* 4-aligned */
    assert_int_equal(vdq_init(&q, &F.mem, &c), -EINVAL);
    c = F.cfg;
    c.used_gpa += 2;
    assert_int_equal(vdq_init(&q, &F.mem, &c), -EINVAL);
    c = F.cfg;
    c.desc_gpa = GPA_BASE + ARENA_SIZE - 64; /* 8 descriptors run off memory */
    assert_int_equal(vdq_init(&q, &F.mem, &c), -EINVAL);
    c = F.cfg;
    c.used_gpa = 0x1000; /* outside */
    assert_int_equal(vdq_init(&q, &F.mem, &c), -EINVAL);
    c = F.cfg;
    c.avail_gpa = GPA_BASE + ARENA_SIZE; /* 4 bytes past the end */
    assert_int_equal(vdq_init(&q, &F.mem, &c), -EINVAL);
}

/* ---- pop / push ---- */

static void test_pop_push_simple(void **state)
{
    uint8_t *a, *b, *c, tmp[64];
    struct seg s[3];
    uint16_t fl, id;
    uint32_t len;

    (void)state;
    p_setup_q(&F, 8, false, false, false);
    assert_int_equal(vdq_pop(&F.q, &F.chain), -EAGAIN); /* zeroed ring: nothing */
    assert_false(vdq_has_avail(&F.q));
    s[0] = (struct seg){p_buf(&F, 10, &a), 10, 0};
    s[1] = (struct seg){p_buf(&F, 20, &b), 20, 0};
    s[2] = (struct seg){p_buf(&F, 30, &c), 30, W};
    memset(a, 0xaa, 10);
    memset(b, 0xbb, 20);
    drv_add(&F, 5, s, 3);
    assert_true(vdq_has_avail(&F.q));
    assert_int_equal(vdq_pop(&F.q, &F.chain), 0);
    assert_int_equal(F.chain.head, 5);
    assert_int_equal(F.chain.nout, 2);
    assert_int_equal(F.chain.nin, 1);
    assert_int_equal(F.chain.ndesc, 3);
    assert_int_equal(F.chain.out_len, 30);
    assert_int_equal(F.chain.in_len, 30);
    assert_ptr_equal(F.iov[0].base, a);
    assert_ptr_equal(F.iov[2].base, c);
    assert_int_equal(vdq_chain_read(&F.chain, 8, tmp, 64), 22);
    assert_int_equal(tmp[1], 0xaa);
    assert_int_equal(tmp[2], 0xbb);
    memset(tmp, 0x5c, sizeof(tmp));
    assert_int_equal(vdq_chain_write(&F.chain, 0, tmp, 64), 30);
    assert_int_equal(c[29], 0x5c);
    assert_int_equal(vdq_pop(&F.q, &F.chain), -EAGAIN);
    assert_int_equal(F.q.next_avail, 3);

    assert_int_equal(vdq_push(&F.q, 6, 0), -EINVAL); /* not in flight */
    assert_int_equal(vdq_push(&F.q, 8, 0), -EINVAL); /* out of range */
    assert_int_equal(vdq_push(&F.q, 5, 30), 0);
    assert_int_equal(vdq_push(&F.q, 5, 30), -EINVAL); /* no longer in flight */
    /* The used element overwrites the list's first descriptor (2.8.6), with
     * WRITE since bytes were written (2.8.3), and the device skips 3. */
    assert_true(drv_get_used(&F, &id, &len, &fl));
    assert_int_equal(id, 5);
    assert_int_equal(len, 30);
    assert_true(fl & W);
    assert_int_equal(F.q.next_used, 3);
    assert_int_equal(F.q.stats.popped, 1);
    assert_int_equal(F.q.stats.pushed, 1);
    /* len 0: no WRITE. */
    drv_add1(&F, 1, p_buf(&F, 4, NULL), 4, W);
    assert_int_equal(vdq_pop(&F.q, &F.chain), 0);
    assert_int_equal(vdq_push(&F.q, 1, 0), 0);
    assert_true(drv_get_used(&F, &id, &len, &fl));
    assert_false(fl & W);
}

/* 2.8.6: the buffer id is in the last descriptor; the others' id fields
 * mean nothing. */
static void test_id_from_last_descriptor(void **state)
{
    struct seg s[3];

    (void)state;
    p_setup_q(&F, 8, false, false, false);
    s[0] = (struct seg){p_buf(&F, 8, NULL), 8, 0};
    s[1] = (struct seg){p_buf(&F, 8, NULL), 8, 0};
    s[2] = (struct seg){p_buf(&F, 8, NULL), 8, W};
    drv_add_ex(&F, 2, s, 3, false, 6);
    assert_int_equal(vdq_pop(&F.q, &F.chain), 0);
    assert_int_equal(F.chain.head, 2);
    assert_int_equal(vdq_push(&F.q, 6, 0), -EINVAL);
    assert_int_equal(vdq_push(&F.q, 2, 8), 0);
    expect_used(&F, 2, 8);
}

/* Out-of-order completion: each used element goes at next_used and skips
 * its own list's length; the driver finds every id with its length. */
static void test_out_of_order(void **state)
{
    struct seg s[3];
    unsigned k;

    (void)state;
    p_setup_q(&F, 7, false, false, false);
    for (k = 0; k < 3; k++)
        s[k] = (struct seg){p_buf(&F, 8, NULL), 8, k == 2 ? W : 0};
    drv_add(&F, 4, s, 3); /* offsets 0-2 */
    drv_add(&F, 0, s, 1); /* 3 */
    drv_add(&F, 6, s, 2); /* 4-5 */
    assert_int_equal(vdq_pop(&F.q, &F.chain), 0);
    assert_int_equal(F.chain.head, 4);
    assert_int_equal(vdq_pop(&F.q, &F.chain), 0);
    assert_int_equal(F.chain.head, 0);
    assert_int_equal(vdq_pop(&F.q, &F.chain), 0);
    assert_int_equal(F.chain.head, 6);
    assert_int_equal(F.q.next_avail, 6);
    assert_int_equal(vdq_push(&F.q, 6, 1), 0); /* at 0, skip 2 */
    assert_int_equal(vdq_push(&F.q, 0, 2), 0); /* at 2, skip 1 */
    assert_int_equal(vdq_push(&F.q, 4, 3), 0); /* at 3, skip 3 */
    assert_int_equal(F.q.next_used, 6);
    expect_used(&F, 6, 1);
    expect_used(&F, 0, 2);
    expect_used(&F, 4, 3);
    expect_no_used(&F);
}

/*
 * Many laps at size num, lists of 1..3 elements so they cross the end of
 * the ring at every phase, up to `depth` in flight, completed in a rotating
 * order (so used elements land out of order). Data is checked on the
 * device side, ids and lengths on the driver side; with publish_on_interrupt
 * nothing is visible before the interrupt decision.
 */
static void run_wrap(uint32_t num, unsigned laps, unsigned depth)
{
    uint64_t total = (uint64_t)laps * num + 3, done = 0, issued = 0;
    unsigned maxlen = num < 3 ? num : 3, k;
    uint16_t held[8], order[8], next_id = 0, nh = 0;
    uint8_t *mem, expect[8] = {0};
    uint64_t base = p_buf(&F, 4096, &mem);
    bool saw_wrap_mid_list = false;

    if (depth > 8)
        depth = 8;
    while (done < total) {
        uint32_t room = num; /* everything was returned last round */
        unsigned inflight = 0, no = 0;

        /* Fill: the driver needs room for the whole list (2.8.17). */
        while (issued < total && inflight < depth) {
            unsigned n = 1 + (unsigned)((issued / 2) % maxlen); /* 1,1,2,2,3,3 */
            struct seg s[3];
            uint16_t id = next_id;

            if (n > room || F.sgs[id])
                break;
            next_id = (uint16_t)((next_id + 1) % num);
            for (k = 0; k < n; k++) {
                uint32_t o = (uint32_t)((issued * 7 + k * 64) % 4000);

                s[k] = (struct seg){base + o, 8, k + 1 == n && n > 1 ? W : 0};
                if (k == 0)
                    mem[o] = (uint8_t)issued;
            }
            expect[inflight] = (uint8_t)issued;
            if (n > 1 && F.next_avail + n > num)
                saw_wrap_mid_list = true;
            drv_add(&F, id, s, n);
            issued++;
            inflight++;
            room -= n;
        }
        /* Device: pop all (in ring order), hold them. */
        for (;;) {
            int err = vdq_pop(&F.q, &F.chain);

            if (err == -EAGAIN)
                break;
            assert_int_equal(err, 0);
            assert_true(nh < inflight);
            assert_int_equal(F.chain.ndesc, F.sgs[F.chain.head]);
            assert_int_equal(((uint8_t *)F.iov[0].base)[0], expect[nh]);
            held[nh++] = F.chain.head;
        }
        assert_false(vdq_is_broken(&F.q));
        assert_int_equal(nh, inflight);
        /* Complete in a rotating order. */
        while (nh) {
            unsigned pick = (unsigned)(done % nh);
            uint16_t id = held[pick];

            held[pick] = held[--nh];
            assert_int_equal(vdq_push(&F.q, id, id), 0);
            order[no++] = id;
            done++;
        }
        if (F.cfg.publish_on_interrupt && no)
            expect_no_used(&F); /* the batch's first is held back */
        F.drv_ev->flags = RING_EVENT_FLAGS_ENABLE;
        assert_int_equal(vdq_interrupt_prepare(&F.q), no > 0);
        for (k = 0; k < no; k++)
            expect_used(&F, order[k], order[k]);
    }
    expect_no_used(&F);
    assert_int_equal(F.q.next_avail, F.next_avail);
    assert_int_equal(F.q.avail_wrap, F.avail_wrap);
    assert_int_equal(F.q.next_used, F.next_used);
    assert_int_equal(F.q.used_wrap, F.used_wrap);
    assert_int_equal(F.q.stats.bad_chains, 0);
    assert_int_equal(F.q.stats.popped, total);
    assert_int_equal(F.q.inflight, 0);
    if (num > 1)
        assert_true(saw_wrap_mid_list);
}

static void test_wrap_1(void **state)
{
    (void)state;
    p_setup_q(&F, 1, false, false, false);
    run_wrap(1, 5, 1);
    /* 8 lists of one descriptor: 8 flips of both counters. */
    assert_true(F.q.avail_wrap);
    assert_true(F.q.used_wrap);
    assert_int_equal(F.q.next_avail, 0);
}

static void test_wrap_3(void **state)
{
    (void)state;
    p_setup_q(&F, 3, true, false, false);
    run_wrap(3, 9, 2);
}

static void test_wrap_255(void **state)
{
    (void)state;
    p_setup_q(&F, 255, false, false, false);
    run_wrap(255, 4, 5);
}

static void test_wrap_256(void **state)
{
    (void)state;
    p_setup_q(&F, 256, true, false, true);
    run_wrap(256, 4, 8);
}

static void test_wrap_32768(void **state)
{
    (void)state;
    p_setup_q(&F, 32768, false, false, false);
    run_wrap(32768, 3, 8);
}

/* A list of exactly the ring size is legal (2.8.17), also when it starts
 * mid-ring and so crosses the end; one that does not end is not. */
static void test_list_of_ring_size(void **state)
{
    struct seg s[8];
    unsigned k;

    (void)state;
    p_setup_q(&F, 8, false, false, false);
    expect_good_after(&F, 0);
    expect_good_after(&F, 1);
    expect_good_after(&F, 2); /* now at offset 3 */
    for (k = 0; k < 8; k++)
        s[k] = (struct seg){p_buf(&F, 8, NULL), 8, k >= 6 ? W : 0};
    drv_add(&F, 7, s, 8);
    assert_int_equal(vdq_pop(&F.q, &F.chain), 0);
    assert_int_equal(F.chain.head, 7);
    assert_int_equal(F.chain.ndesc, 8);
    assert_int_equal(F.chain.nout, 6);
    assert_int_equal(F.chain.nin, 2);
    assert_int_equal(F.q.next_avail, 3);
    assert_false(F.q.avail_wrap);
    assert_int_equal(vdq_push(&F.q, 7, 16), 0);
    assert_int_equal(F.q.next_used, 3);
    assert_false(F.q.used_wrap);
    expect_used(&F, 7, 16);
    expect_good_after(&F, 3);
}

static void test_list_longer_than_ring(void **state)
{
    struct seg s[8];
    unsigned k;

    (void)state;
    p_setup_q(&F, 8, false, false, false);
    for (k = 0; k < 8; k++)
        s[k] = (struct seg){p_buf(&F, 8, NULL), 8, N};
    drv_add_ex(&F, 3, s, 8, true, -1); /* every one with NEXT: no end */
    expect_broken(&F);
}

/* ---- bad chains: len 0, counted, the queue goes on ---- */

static uint64_t table(struct pfx *f, unsigned n, struct pvirtq_desc **t)
{
    uint64_t gpa;

    *t = p_alloc(f, 16u * n, &gpa);
    return gpa;
}

static void test_indirect_good(void **state)
{
    struct pvirtq_desc *t;
    uint64_t tg;
    uint8_t *p;
    uint8_t *raw;
    struct pvirtq_desc d;

    (void)state;
    p_setup_q(&F, 4, false, true, false);
    tg = table(&F, 3, &t);
    t[0] = (struct pvirtq_desc){p_buf(&F, 5, NULL), 5, 0x1234 /* ignored */, N /* ignored */};
    t[1] = (struct pvirtq_desc){p_buf(&F, 6, &p), 6, 0, W};
    t[2] = (struct pvirtq_desc){p_buf(&F, 7, NULL), 7, 0, W};
    drv_add1(&F, 3, tg, 48, I);
    assert_int_equal(vdq_pop(&F.q, &F.chain), 0);
    assert_int_equal(F.chain.head, 3);
    assert_int_equal(F.chain.nout, 1);
    assert_int_equal(F.chain.nin, 2);
    assert_int_equal(F.chain.out_len, 5);
    assert_int_equal(F.chain.in_len, 13);
    assert_int_equal(F.chain.ndesc, 4); /* 1 in the ring + 3 in the table */
    assert_ptr_equal(F.iov[1].base, p);
    assert_int_equal(vdq_push(&F.q, 3, 13), 0);
    assert_int_equal(F.q.next_used, 1); /* skips the one ring descriptor */
    expect_used(&F, 3, 13);
    /* An unaligned table is read byte by byte. */
    raw = p_alloc(&F, 64, &tg);
    d = (struct pvirtq_desc){p_buf(&F, 9, NULL), 9, 0, 0};
    memcpy(raw + 4, &d, sizeof(d));
    drv_add1(&F, 1, tg + 4, 16, I);
    assert_int_equal(vdq_pop(&F.q, &F.chain), 0);
    assert_int_equal(F.chain.out_len, 9);
}

static void test_bad_indirect_feature(void **state)
{
    struct pvirtq_desc *t;
    uint64_t tg;

    (void)state;
    p_setup_q(&F, 4, false, false, false);
    tg = table(&F, 1, &t);
    t[0] = (struct pvirtq_desc){p_buf(&F, 5, NULL), 5, 0, 0};
    drv_add1(&F, 2, tg, 16, I);
    expect_bad(&F, 2, VDQ_BAD_INDIRECT_FEATURE);
}

static void test_bad_indirect_in_list(void **state)
{
    struct pvirtq_desc *t;
    uint64_t tg;
    struct seg s[2];

    (void)state;
    p_setup_q(&F, 8, false, true, false);
    tg = table(&F, 1, &t);
    t[0] = (struct pvirtq_desc){p_buf(&F, 5, NULL), 5, 0, 0};
    /* INDIRECT with NEXT, first of two. */
    s[0] = (struct seg){tg, 16, I};
    s[1] = (struct seg){p_buf(&F, 8, NULL), 8, 0};
    drv_add(&F, 1, s, 2);
    expect_bad(&F, 1, VDQ_BAD_INDIRECT_NEXT);
    /* INDIRECT at the end of a list linked by NEXT. */
    s[0] = (struct seg){p_buf(&F, 8, NULL), 8, 0};
    s[1] = (struct seg){tg, 16, I};
    drv_add(&F, 4, s, 2);
    expect_bad(&F, 4, VDQ_BAD_INDIRECT_NEXT);
}

static void test_bad_indirect_write(void **state)
{
    struct pvirtq_desc *t;
    uint64_t tg;

    (void)state;
    p_setup_q(&F, 4, false, true, false);
    tg = table(&F, 1, &t);
    t[0] = (struct pvirtq_desc){p_buf(&F, 5, NULL), 5, 0, W};
    drv_add1(&F, 0, tg, 16, I | W);
    expect_bad(&F, 0, VDQ_BAD_INDIRECT_WRITE);
}

static void test_bad_indirect_len(void **state)
{
    struct pvirtq_desc *t;
    uint64_t tg;

    (void)state;
    p_setup_q(&F, 4, false, true, false);
    tg = table(&F, 2, &t);
    t[0] = (struct pvirtq_desc){p_buf(&F, 5, NULL), 5, 0, 0};
    drv_add1(&F, 0, tg, 0, I);
    expect_bad(&F, 0, VDQ_BAD_INDIRECT_LEN);
    drv_add1(&F, 2, tg, 17, I);
    expect_bad(&F, 2, VDQ_BAD_INDIRECT_LEN);
    drv_add1(&F, 0, tg, 8, I);
    expect_bad(&F, 0, VDQ_BAD_INDIRECT_LEN);
}

static void test_bad_indirect_size(void **state)
{
    (void)state;
    p_setup_q(&F, 4, false, true, false);
    /* 65536 entries: refused before the address is looked at. */
    drv_add1(&F, 1, 1ull << 40, 65536u * 16, I);
    expect_bad(&F, 1, VDQ_BAD_INDIRECT_SIZE);
}

static void test_bad_indirect_nested(void **state)
{
    struct pvirtq_desc *t, *t2;
    uint64_t tg, tg2;

    (void)state;
    p_setup_q(&F, 4, false, true, false);
    tg2 = table(&F, 1, &t2);
    t2[0] = (struct pvirtq_desc){p_buf(&F, 5, NULL), 5, 0, 0};
    tg = table(&F, 2, &t);
    t[0] = (struct pvirtq_desc){p_buf(&F, 5, NULL), 5, 0, 0};
    t[1] = (struct pvirtq_desc){tg2, 16, 0, I};
    drv_add1(&F, 3, tg, 32, I);
    expect_bad(&F, 3, VDQ_BAD_INDIRECT_NESTED);
}

static void test_bad_write_order(void **state)
{
    struct pvirtq_desc *t;
    uint64_t tg;
    struct seg s[3];

    (void)state;
    p_setup_q(&F, 8, false, true, false);
    s[0] = (struct seg){p_buf(&F, 8, NULL), 8, 0};
    s[1] = (struct seg){p_buf(&F, 8, NULL), 8, W};
    s[2] = (struct seg){p_buf(&F, 8, NULL), 8, 0};
    drv_add(&F, 5, s, 3);
    expect_bad(&F, 5, VDQ_BAD_WRITE_ORDER);
    tg = table(&F, 2, &t);
    t[0] = (struct pvirtq_desc){p_buf(&F, 5, NULL), 5, 0, W};
    t[1] = (struct pvirtq_desc){p_buf(&F, 5, NULL), 5, 0, 0};
    drv_add1(&F, 2, tg, 32, I);
    expect_bad(&F, 2, VDQ_BAD_WRITE_ORDER);
}

static void test_bad_addr(void **state)
{
    struct pvirtq_desc *t;
    uint64_t tg;
    struct seg s[2];

    (void)state;
    p_setup_q(&F, 8, false, true, false);
    /* In the ring, in the middle of a list: still returned whole. */
    s[0] = (struct seg){0x1000, 8, 0};
    s[1] = (struct seg){p_buf(&F, 8, NULL), 8, W};
    drv_add(&F, 6, s, 2);
    expect_bad(&F, 6, VDQ_BAD_ADDR);
    /* Crossing the end of guest memory. */
    drv_add1(&F, 1, GPA_BASE + ARENA_SIZE - 4, 8, 0);
    expect_bad(&F, 1, VDQ_BAD_ADDR);
    /* Wrapping around. */
    drv_add1(&F, 3, UINT64_MAX - 3, 8, 0);
    expect_bad(&F, 3, VDQ_BAD_ADDR);
    /* The table itself, and an element inside it. */
    drv_add1(&F, 5, GPA_BASE + ARENA_SIZE - 16, 32, I);
    expect_bad(&F, 5, VDQ_BAD_ADDR);
    tg = table(&F, 1, &t);
    t[0] = (struct pvirtq_desc){0x2000, 5, 0, 0};
    drv_add1(&F, 7, tg, 16, I);
    expect_bad(&F, 7, VDQ_BAD_ADDR);
}

static void test_bad_too_many_segs(void **state)
{
    struct seg s[5];
    unsigned k;

    (void)state;
    p_setup_q(&F, 8, false, false, false);
    F.chain.max_iov = 4;
    for (k = 0; k < 5; k++)
        s[k] = (struct seg){p_buf(&F, 8, NULL), 8, 0};
    drv_add(&F, 0, s, 5);
    expect_bad(&F, 0, VDQ_BAD_TOO_MANY_SEGS);
    drv_add(&F, 2, s, 4); /* exactly max_iov is fine */
    assert_int_equal(vdq_pop(&F.q, &F.chain), 0);
}

static void test_bad_too_long(void **state)
{
    struct seg s[2];

    (void)state;
    p_setup_q(&F, 8, false, false, false);
    s[0] = (struct seg){1ull << 40, 0xffffffffu, 0};
    s[1] = (struct seg){(1ull << 40) + (1ull << 32), 2, 0};
    drv_add(&F, 4, s, 2);
    expect_bad(&F, 4, VDQ_BAD_TOO_LONG);
    /* Exactly 2^32 - 1 readable is fine. */
    drv_add(&F, 7, s, 1);
    assert_int_equal(vdq_pop(&F.q, &F.chain), 0);
    assert_int_equal(F.chain.out_len, 0xffffffffu);
}

/* A bad list of several descriptors skips all of them. */
static void test_bad_list_skips_whole(void **state)
{
    struct seg s[3];

    (void)state;
    p_setup_q(&F, 5, false, false, false);
    expect_good_after(&F, 0);
    expect_good_after(&F, 1); /* at 2: the bad list crosses the end */
    s[0] = (struct seg){p_buf(&F, 8, NULL), 8, W};
    s[1] = (struct seg){p_buf(&F, 8, NULL), 8, 0};
    s[2] = (struct seg){p_buf(&F, 8, NULL), 8, 0};
    drv_add(&F, 3, s, 3);
    drv_add1(&F, 4, p_buf(&F, 8, NULL), 8, 0); /* at 0, wrap 0 */
    assert_int_equal(vdq_pop(&F.q, &F.chain), 0);
    assert_int_equal(F.chain.head, 4);
    assert_int_equal(F.q.stats.bad[VDQ_BAD_WRITE_ORDER], 1);
    expect_used(&F, 3, 0);
    assert_int_equal(vdq_push(&F.q, 4, 0), 0);
    expect_used(&F, 4, 0);
}

/* ---- corrupt ring: broken ---- */

static void test_corrupt_id_range(void **state)
{
    (void)state;
    p_setup_q(&F, 3, false, false, false);
    drv_add1(&F, 3, p_buf(&F, 8, NULL), 8, 0);
    expect_broken(&F);
}

static void test_corrupt_id_in_flight(void **state)
{
    (void)state;
    p_setup_q(&F, 4, false, false, false);
    drv_add1(&F, 2, p_buf(&F, 8, NULL), 8, 0);
    assert_int_equal(vdq_pop(&F.q, &F.chain), 0);
    drv_add1(&F, 2, p_buf(&F, 8, NULL), 8, 0);
    expect_broken(&F);
}

static void test_corrupt_continuation(void **state)
{
    struct seg s[2];

    (void)state;
    p_setup_q(&F, 4, false, false, false);
    s[0] = (struct seg){p_buf(&F, 8, NULL), 8, N};
    s[1] = (struct seg){p_buf(&F, 8, NULL), 8, 0};
    drv_add_ex(&F, 1, s, 2, true, -1);
    F.ring[1].flags = pvirtq_avail_flags(false); /* the wrong lap */
    expect_broken(&F);
}

/* The list's second descriptor would be in the next lap: its flags must
 * carry the flipped wrap counter. */
static void test_continuation_across_wrap(void **state)
{
    struct seg s[2];

    (void)state;
    p_setup_q(&F, 2, false, false, false);
    expect_good_after(&F, 0); /* at 1 */
    s[0] = (struct seg){p_buf(&F, 8, NULL), 8, 0};
    s[1] = (struct seg){p_buf(&F, 8, NULL), 8, W};
    drv_add(&F, 1, s, 2);
    assert_int_equal(vdq_pop(&F.q, &F.chain), 0);
    assert_int_equal(F.chain.ndesc, 2);
    assert_int_equal(vdq_push(&F.q, 1, 0), 0);
    expect_used(&F, 1, 0);
    /* Same list again (at 1, then 0 of the next lap), but the second
     * descriptor carries the stale lap's counter: broken. */
    drv_add(&F, 1, s, 2);
    F.ring[0].flags = (uint16_t)(pvirtq_avail_flags(false) | W);
    expect_broken(&F);
}

static void test_broken_touches_nothing(void **state)
{
    struct pvirtq_event_suppress before;

    (void)state;
    p_setup_q(&F, 4, true, false, false);
    drv_add1(&F, 9, p_buf(&F, 8, NULL), 8, 0);
    expect_broken(&F);
    before = *F.dev_ev;
    vdq_disable_notify(&F.q);
    assert_int_equal(vdq_enable_notify(&F.q), -EIO);
    assert_memory_equal(&before, F.dev_ev, sizeof(before));
    assert_false(vdq_has_avail(&F.q));
}

/* ---- used buffer notifications: the Driver Event Suppression structure ---- */

/* Unwrapped position u of a descriptor: lap u / num; the wrap counter in lap
 * L is 1 for even L (it starts at 1 and flips each lap, 2.8.1). */
static bool ref_fires(uint32_t num, uint32_t old_u, uint32_t n, uint16_t ev_off, bool ev_wrap)
{
    uint32_t u;

    for (u = old_u; u < old_u + n; u++)
        if (u % num == ev_off && ((u / num) % 2 == 0) == ev_wrap)
            return true;
    return false;
}

/* A queue whose used side sits at (off, wrap), with buffer 0 in flight as
 * a list of n descriptors. */
static void place_used(uint32_t num, uint16_t off, bool wrap, uint16_t n)
{
    struct vdq_state st;

    vdq_get_state(&F.q, &st);
    st.next_used = st.next_avail = off;
    st.used_wrap = st.avail_wrap = wrap;
    st.num_added = 0;
    assert_int_equal(vdq_init_state(&F.q, &F.mem, &st), 0);
    assert_int_equal(vdq_packed_set_inflight(&F.q, 0, n), 0);
    (void)num;
}

static void test_event_desc_exhaustive(void **state)
{
    uint32_t sizes[] = {1, 2, 3, 5, 8};
    unsigned si, checked = 0, fired = 0;

    (void)state;
    for (si = 0; si < sizeof(sizes) / sizeof(sizes[0]); si++) {
        uint32_t num = sizes[si], off, n, eo;
        unsigned w, ew;

        p_setup_q(&F, num, true, false, false);
        for (off = 0; off < num; off++)
            for (w = 0; w < 2; w++)
                for (n = 1; n <= num; n++)
                    for (eo = 0; eo < num; eo++)
                        for (ew = 0; ew < 2; ew++) {
                            /* old_u: lap 0 (wrap 1) or lap 1 (wrap 0). */
                            uint32_t old_u = (w ? 0 : num) + off;
                            bool want = ref_fires(num, old_u, n, (uint16_t)eo, ew);

                            place_used(num, (uint16_t)off, w, (uint16_t)n);
                            F.drv_ev->desc = pvirtq_event_off_wrap((uint16_t)eo, ew);
                            F.drv_ev->flags = RING_EVENT_FLAGS_DESC;
                            assert_int_equal(vdq_push(&F.q, 0, 0), 0);
                            if (vdq_interrupt_prepare(&F.q) != want)
                                fail_msg("num %u off %u wrap %u n %u event %u/%u: want %d", num,
                                         off, w, n, eo, ew, want);
                            checked++;
                            fired += want;
                        }
        p_teardown(&F);
    }
    assert_true(checked > 1000);
    assert_true(fired > 0 && fired < checked);
}

/* Two pushes between decisions count the descriptors of both. */
static void test_event_desc_batch(void **state)
{
    (void)state;
    p_setup_q(&F, 4, true, false, false);
    place_used(4, 3, true, 1);
    assert_int_equal(vdq_packed_set_inflight(&F.q, 1, 2), 0);
    /* Event for offset 1 in the next lap (wrap 0): the second list covers
     * offsets 0 and 1 of that lap. */
    F.drv_ev->desc = pvirtq_event_off_wrap(1, false);
    F.drv_ev->flags = RING_EVENT_FLAGS_DESC;
    assert_int_equal(vdq_push(&F.q, 0, 0), 0);
    assert_int_equal(vdq_push(&F.q, 1, 0), 0);
    assert_int_equal(F.q.next_used, 2);
    assert_false(F.q.used_wrap);
    assert_true(vdq_interrupt_prepare(&F.q));
    /* Nothing pushed since: no interrupt whatever the structure says. */
    F.drv_ev->flags = RING_EVENT_FLAGS_ENABLE;
    assert_false(vdq_interrupt_prepare(&F.q));
    /* More than a ring since the last decision always fires. */
    place_used(4, 2, false, 4);
    assert_int_equal(vdq_packed_set_inflight(&F.q, 1, 1), 0);
    F.drv_ev->desc = pvirtq_event_off_wrap(1, false); /* a lap behind */
    F.drv_ev->flags = RING_EVENT_FLAGS_DESC;
    assert_int_equal(vdq_push(&F.q, 0, 0), 0);
    assert_int_equal(vdq_push(&F.q, 1, 0), 0);
    assert_true(vdq_interrupt_prepare(&F.q));
}

static void test_event_flags(void **state)
{
    uint64_t ints, saved;

    (void)state;
    p_setup_q(&F, 4, false, false, false);
    place_used(4, 0, true, 1);
    F.drv_ev->flags = RING_EVENT_FLAGS_ENABLE;
    assert_int_equal(vdq_push(&F.q, 0, 0), 0);
    assert_true(vdq_interrupt_prepare(&F.q));
    place_used(4, 1, true, 1);
    F.drv_ev->flags = RING_EVENT_FLAGS_DISABLE;
    assert_int_equal(vdq_push(&F.q, 0, 0), 0);
    assert_false(vdq_interrupt_prepare(&F.q));
    /* DESC without EVENT_IDX is not valid (2.8.10): treated as ENABLE, as
     * is the reserved value 3, even for an event that does not match. */
    place_used(4, 2, true, 1);
    F.drv_ev->desc = pvirtq_event_off_wrap(0, false);
    F.drv_ev->flags = RING_EVENT_FLAGS_DESC;
    assert_int_equal(vdq_push(&F.q, 0, 0), 0);
    assert_true(vdq_interrupt_prepare(&F.q));
    place_used(4, 3, true, 1);
    F.drv_ev->flags = 3;
    assert_int_equal(vdq_push(&F.q, 0, 0), 0);
    assert_true(vdq_interrupt_prepare(&F.q));
    /* Reserved upper bits are ignored: DISABLE | 0x4 is DISABLE. */
    place_used(4, 0, false, 1);
    F.drv_ev->flags = RING_EVENT_FLAGS_DISABLE | 0x4;
    assert_int_equal(vdq_push(&F.q, 0, 0), 0);
    ints = F.q.stats.interrupts;
    saved = F.q.stats.interrupts_saved;
    assert_false(vdq_interrupt_prepare(&F.q));
    assert_int_equal(F.q.stats.interrupts, ints);
    assert_int_equal(F.q.stats.interrupts_saved, saved + 1);
}

/* ---- available buffer notifications: our Device Event Suppression ---- */

static void test_device_event_plain(void **state)
{
    (void)state;
    p_setup_q(&F, 4, false, false, false);
    vdq_disable_notify(&F.q);
    assert_int_equal(F.dev_ev->flags, RING_EVENT_FLAGS_DISABLE);
    assert_int_equal(vdq_enable_notify(&F.q), 0);
    assert_int_equal(F.dev_ev->flags, RING_EVENT_FLAGS_ENABLE);
    /* Enable re-checks: a list made available meanwhile is reported. */
    vdq_disable_notify(&F.q);
    drv_add1(&F, 0, p_buf(&F, 8, NULL), 8, 0);
    assert_int_equal(vdq_enable_notify(&F.q), -EAGAIN);
    assert_int_equal(vdq_pop(&F.q, &F.chain), 0);
    assert_int_equal(vdq_enable_notify(&F.q), 0);
}

/* With EVENT_IDX: DESC with the offset and wrap counter of the next list
 * we expect, kept current by pop, across the wrap; a driver that applies
 * pvirtq_need_event to it kicks exactly when its list covers that spot. */
static void test_device_event_desc(void **state)
{
    unsigned k;

    (void)state;
    p_setup_q(&F, 3, true, false, false);
    assert_int_equal(vdq_enable_notify(&F.q), 0);
    assert_int_equal(F.dev_ev->flags, RING_EVENT_FLAGS_DESC);
    assert_int_equal(F.dev_ev->desc, pvirtq_event_off_wrap(0, true));
    for (k = 0; k < 7; k++) {
        uint16_t ev = F.dev_ev->desc;
        bool kick;

        drv_add1(&F, (uint16_t)(k % 3), p_buf(&F, 8, NULL), 8, 0);
        /* Driver side (2.8.21): full barrier, then read our structure. */
        __atomic_thread_fence(__ATOMIC_SEQ_CST);
        kick = pvirtq_need_event(ev, F.next_avail, F.avail_wrap, 1, 3);
        assert_true(kick); /* we asked for exactly this descriptor */
        assert_int_equal(vdq_pop(&F.q, &F.chain), 0);
        assert_int_equal(F.dev_ev->desc, pvirtq_event_off_wrap(F.next_avail, F.avail_wrap));
        assert_int_equal(vdq_push(&F.q, F.chain.head, 0), 0);
        expect_used(&F, (uint16_t)(k % 3), 0);
    }
    /* Disabled: DISABLE, and desc stops moving. */
    vdq_disable_notify(&F.q);
    assert_int_equal(F.dev_ev->flags, RING_EVENT_FLAGS_DISABLE);
    k = F.dev_ev->desc;
    drv_add1(&F, 0, p_buf(&F, 8, NULL), 8, 0);
    assert_int_equal(vdq_pop(&F.q, &F.chain), 0);
    assert_int_equal(F.dev_ev->desc, k);
    assert_int_equal(vdq_enable_notify(&F.q), 0);
    assert_int_equal(F.dev_ev->flags, RING_EVENT_FLAGS_DESC);
    assert_int_equal(F.dev_ev->desc, pvirtq_event_off_wrap(F.next_avail, F.avail_wrap));
}

/* ---- batch publication order ---- */

static void test_batch_first_published_last(void **state)
{
    uint16_t id;
    uint32_t len;
    unsigned k;

    (void)state;
    p_setup_q(&F, 8, false, false, true);
    for (k = 0; k < 3; k++)
        drv_add1(&F, (uint16_t)(k + 4), p_buf(&F, 8, NULL), 8, W);
    for (k = 0; k < 3; k++)
        assert_int_equal(vdq_pop(&F.q, &F.chain), 0);
    F.drv_ev->flags = RING_EVENT_FLAGS_ENABLE;
    assert_int_equal(vdq_push(&F.q, 5, 1), 0);
    assert_int_equal(vdq_push(&F.q, 4, 2), 0);
    assert_int_equal(vdq_push(&F.q, 6, 3), 0);
    /* The rest of the batch is written, the first still looks available
     * (the driver polls only it, 2.8.2): nothing is visible yet. */
    assert_true(pvirtq_is_used(F.ring[1].flags, true));
    assert_true(pvirtq_is_used(F.ring[2].flags, true));
    assert_true(pvirtq_is_avail(F.ring[0].flags, true));
    assert_int_equal(F.ring[0].id, 5); /* its id and len are there */
    expect_no_used(&F);
    assert_true(vdq_interrupt_prepare(&F.q));
    expect_used(&F, 5, 1);
    expect_used(&F, 4, 2);
    expect_used(&F, 6, 3);
    /* Next batch starts fresh. */
    drv_add1(&F, 1, p_buf(&F, 8, NULL), 8, W);
    assert_int_equal(vdq_pop(&F.q, &F.chain), 0);
    assert_int_equal(vdq_push(&F.q, 1, 7), 0);
    assert_false(drv_get_used(&F, &id, &len, NULL));
    F.drv_ev->flags = RING_EVENT_FLAGS_DISABLE;
    assert_false(vdq_interrupt_prepare(&F.q)); /* published, no interrupt */
    expect_used(&F, 1, 7);
}

static void test_no_batch_published_at_once(void **state)
{
    (void)state;
    p_setup_q(&F, 8, false, false, false);
    drv_add1(&F, 2, p_buf(&F, 8, NULL), 8, W);
    drv_add1(&F, 3, p_buf(&F, 8, NULL), 8, W);
    assert_int_equal(vdq_pop(&F.q, &F.chain), 0);
    assert_int_equal(vdq_pop(&F.q, &F.chain), 0);
    assert_int_equal(vdq_push(&F.q, 3, 4), 0);
    expect_used(&F, 3, 4);
    assert_int_equal(vdq_push(&F.q, 2, 5), 0);
    expect_used(&F, 2, 5);
}

/* ---- state ---- */

static void test_state_roundtrip(void **state)
{
    struct vdq_state st;
    struct vdq q2;

    (void)state;
    p_setup_q(&F, 3, true, true, false);
    expect_good_after(&F, 0);
    expect_good_after(&F, 1);
    expect_good_after(&F, 2);
    expect_good_after(&F, 0); /* both at 1, wrap 0 */
    vdq_get_state(&F.q, &st);
    assert_int_equal(st.packed, 1);
    assert_int_equal(st.size, 3);
    assert_int_equal(st.next_avail, 1);
    assert_int_equal(st.avail_wrap, 0);
    assert_int_equal(st.next_used, 1);
    assert_int_equal(st.used_wrap, 0);
    assert_int_equal(st.event_idx, 1);
    assert_int_equal(st.indirect, 1);
    assert_int_equal(vdq_init_state(&q2, &F.mem, &st), 0);
    assert_true(q2.cfg.packed);
    assert_int_equal(q2.next_avail, 1);
    assert_false(q2.avail_wrap);
    /* Carries on where the first left off. */
    F.q = q2;
    expect_good_after(&F, 1);
    /* Offsets past the ring, or a ring above the inline table, refused
     * and the target untouched. */
    st.next_avail = 3;
    q2.next_avail = 2;
    assert_int_equal(vdq_init_state(&q2, &F.mem, &st), -EINVAL);
    assert_int_equal(q2.next_avail, 2);
    st.next_avail = 0;
    st.next_used = 5;
    assert_int_equal(vdq_init_state(&q2, &F.mem, &st), -EINVAL);
    st.next_used = 0;
    st.size = VDQ_PACKED_IDS_INLINE + 1;
    assert_int_equal(vdq_init_state(&q2, &F.mem, &st), -EINVAL);
    /* set_inflight checks. */
    assert_int_equal(vdq_packed_set_inflight(&F.q, 3, 1), -EINVAL);
    assert_int_equal(vdq_packed_set_inflight(&F.q, 0, 0), -EINVAL);
    assert_int_equal(vdq_packed_set_inflight(&F.q, 0, 4), -EINVAL);
    assert_int_equal(vdq_packed_set_inflight(&F.q, 0, 3), 0);
    assert_int_equal(vdq_packed_set_inflight(&F.q, 0, 1), -EINVAL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_teardown(test_init_sizes, teardown),
        cmocka_unit_test_teardown(test_init_placement, teardown),
        cmocka_unit_test_teardown(test_pop_push_simple, teardown),
        cmocka_unit_test_teardown(test_id_from_last_descriptor, teardown),
        cmocka_unit_test_teardown(test_out_of_order, teardown),
        cmocka_unit_test_teardown(test_wrap_1, teardown),
        cmocka_unit_test_teardown(test_wrap_3, teardown),
        cmocka_unit_test_teardown(test_wrap_255, teardown),
        cmocka_unit_test_teardown(test_wrap_256, teardown),
        cmocka_unit_test_teardown(test_wrap_32768, teardown),
        cmocka_unit_test_teardown(test_list_of_ring_size, teardown),
        cmocka_unit_test_teardown(test_list_longer_than_ring, teardown),
        cmocka_unit_test_teardown(test_indirect_good, teardown),
        cmocka_unit_test_teardown(test_bad_indirect_feature, teardown),
        cmocka_unit_test_teardown(test_bad_indirect_in_list, teardown),
        cmocka_unit_test_teardown(test_bad_indirect_write, teardown),
        cmocka_unit_test_teardown(test_bad_indirect_len, teardown),
        cmocka_unit_test_teardown(test_bad_indirect_size, teardown),
        cmocka_unit_test_teardown(test_bad_indirect_nested, teardown),
        cmocka_unit_test_teardown(test_bad_write_order, teardown),
        cmocka_unit_test_teardown(test_bad_addr, teardown),
        cmocka_unit_test_teardown(test_bad_too_many_segs, teardown),
        cmocka_unit_test_teardown(test_bad_too_long, teardown),
        cmocka_unit_test_teardown(test_bad_list_skips_whole, teardown),
        cmocka_unit_test_teardown(test_corrupt_id_range, teardown),
        cmocka_unit_test_teardown(test_corrupt_id_in_flight, teardown),
        cmocka_unit_test_teardown(test_corrupt_continuation, teardown),
        cmocka_unit_test_teardown(test_continuation_across_wrap, teardown),
        cmocka_unit_test_teardown(test_broken_touches_nothing, teardown),
        cmocka_unit_test(test_event_desc_exhaustive),
        cmocka_unit_test_teardown(test_event_desc_batch, teardown),
        cmocka_unit_test_teardown(test_event_flags, teardown),
        cmocka_unit_test_teardown(test_device_event_plain, teardown),
        cmocka_unit_test_teardown(test_device_event_desc, teardown),
        cmocka_unit_test_teardown(test_batch_first_published_last, teardown),
        cmocka_unit_test_teardown(test_no_batch_published_at_once, teardown),
        cmocka_unit_test_teardown(test_state_roundtrip, teardown),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
