/* SPDX-License-Identifier: Apache-2.0 */
/*
 * vqp_fixture.h - shared set-up of the packed-ring driver tests
 * (test_vq_packed.c, test_vq_packed_hostile.c): a packed virtqueue and the
 * spec-written fake device of packed_fakedev.h looking at it, cmocka
 * set-ups for the usual shapes, and small helpers. Include once per test.
 */
#ifndef RINGLOOP_VQP_FIXTURE_H
#define RINGLOOP_VQP_FIXTURE_H

#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "virtio_platform.h"
#include "virtio_ring_packed.h"
#include "virtqueue.h"

#define FD_CHECK(c) assert_true(c)
#include "packed_fakedev.h"

/* ---- helpers ---- */

struct pfx {
    struct virtqueue *vq;
    struct fdev d;
    struct fd_chain c;
};

static __attribute__((unused)) struct pfx fx_storage;
static __attribute__((unused)) uint8_t scratch[FD_MAX_SEGS * 8];

static inline int pq_make(struct pfx *f, uint32_t num, bool event_idx, bool indirect, bool pok)
{
    struct vq_config cfg;

    memset(&cfg, 0, sizeof(cfg));
    cfg.packed = true;
    cfg.num = num;
    cfg.event_idx = event_idx;
    cfg.indirect = indirect;
    cfg.publish_on_kick = pok;
    cfg.name = "ptest";
    if (vq_create(&cfg, &f->vq) < 0)
        return -1;
    fd_init(&f->d, f->vq);
    return 0;
}

#define SETUP(name, num, ev, ind, pok)                                                             \
    static __attribute__((unused)) int name(void **state)                                                                  \
    {                                                                                              \
        if (pq_make(&fx_storage, num, ev, ind, pok) < 0)                                           \
            return -1;                                                                             \
        *state = &fx_storage;                                                                      \
        return 0;                                                                                  \
    }
SETUP(setup8, 8, false, false, false)
SETUP(setup8_event, 8, true, false, false)
SETUP(setup8_indirect, 8, true, true, false)
SETUP(setup8_pok, 8, false, false, true)
SETUP(setup4_event, 4, true, false, false)

static inline int teardown(void **state)
{
    struct pfx *f = *state;

    vq_destroy(f->vq);
    return 0;
}

static inline void *tokn(unsigned i)
{
    return (void *)(uintptr_t)(0x1000 + i);
}

/* nout readable + nin writable segments of 8 bytes each. */
static inline int add(struct virtqueue *vq, unsigned nout, unsigned nin, void *token)
{
    static struct vq_sg sg[FD_MAX_SEGS];
    unsigned i;

    assert_true(nout + nin <= FD_MAX_SEGS);
    for (i = 0; i < nout + nin; i++) {
        sg[i].buf = scratch + 8 * i;
        sg[i].len = 8;
        sg[i].pad = 0;
    }
    return vq_add_sgs(vq, sg, nout, nin, token);
}

static inline void assert_all_eio(struct pfx *f)
{
    void *t;
    uint32_t len;

    assert_true(vq_is_broken(f->vq));
    assert_int_equal(vq_get_buf(f->vq, &t, &len), -EIO);
    assert_int_equal(add(f->vq, 1, 0, tokn(999)), -EIO);
    assert_false(vq_kick_prepare(f->vq));
    assert_int_equal(vq_notify(f->vq), -EIO);
    assert_int_equal(vq_kick(f->vq), -EIO);
    assert_int_equal(vq_enable_cb(f->vq), -EIO);
    assert_int_equal(vq_enable_cb_delayed(f->vq), -EIO);
    assert_false(vq_has_used(f->vq));
}


#define T(fn, s) cmocka_unit_test_setup_teardown(fn, s, teardown)

#endif
