/* SPDX-License-Identifier: Apache-2.0 */
/* lb_env.c - see lb_env.h. */
#define _GNU_SOURCE
#include "lb_env.h"

#include <sched.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "platform_host.h"
#include "transport_loopback.h"
#include "virtio_platform.h"

const struct mode mode_irq_evt = {false, true, "irq+event_idx", false};
const struct mode mode_irq_flags = {false, false, "irq+flags", false};
const struct mode mode_poll_evt = {true, true, "polled+event_idx", false};
const struct mode mode_poll_flags = {true, false, "polled+flags", false};
const struct mode mode_irq_evt_packed = {false, true, "packed irq+event_idx", true};
const struct mode mode_irq_flags_packed = {false, false, "packed irq+flags", true};
const struct mode mode_poll_evt_packed = {true, true, "packed polled+event_idx", true};
const struct mode mode_poll_flags_packed = {true, false, "packed polled+flags", true};

struct env env;


static void lb_notify(struct vmmio *m, unsigned queue, void *ctx)
{
    struct lb *lb = ctx;

    (void)m;
    (void)queue;
    __atomic_store_n(&lb->doorbell, 1, __ATOMIC_RELEASE);
}

/* Called with the register-file lock held: only raise the line. */
static void lb_interrupt(struct vmmio *m, uint32_t int_status, void *ctx)
{
    struct lb *lb = ctx;

    (void)m;
    (void)int_status;
    __atomic_store_n(&lb->irq_pending, 1, __ATOMIC_RELEASE);
}

/* Under the register file's lock: which layout the live queues have. */
static void lb_note_layout(struct vdev *d, void *arg)
{
    struct lb *lb = arg;

    if (!vdev_has_queue_state(d, 0))
        return;
    if (vdev_has_feature(d, VIRTIO_F_RING_PACKED))
        lb->saw_packed = true;
    else
        lb->saw_split = true;
}

void *lb_device_main(void *arg)
{
    struct lb *lb = arg;

    while (!__atomic_load_n(&lb->stop, __ATOMIC_ACQUIRE)) {
        bool worked = false;

        if (__atomic_exchange_n(&lb->doorbell, 0, __ATOMIC_ACQ_REL) || vmmio_has_pending(lb->m)) {
            int n = vmmio_process(lb->m);

            if (n > 0)
                lb->processed += (uint64_t)n;
            worked = true;
        }
        vmmio_run_locked(lb->m, lb_note_layout, lb);
        /* The "interrupt controller": deliver on this (another) CPU,
         * unless the line is masked (then it stays pending). */
        if (!__atomic_load_n(&lb->irq_masked, __ATOMIC_ACQUIRE) &&
            __atomic_exchange_n(&lb->irq_pending, 0, __ATOMIC_ACQ_REL)) {
            virtio_handle_interrupt(lb->dev);
            worked = true;
        }
        if (!worked)
            sched_yield();
    }
    return NULL;
}

void fill_pattern(uint8_t *p, size_t n, uint32_t seed)
{
    size_t i;

    for (i = 0; i < n; i++)
        p[i] = (uint8_t)((seed * 2654435761u + i * 40503u) >> 7);
}

void *dma_buf(size_t size)
{
    uint64_t gpa;
    void *p = virt_dma_alloc(size, &gpa);

    assert_non_null(p);
    return p;
}

/* dev->irq_mask: the device thread holds interrupts while masked and
 * delivers the pending one after (as the kernel's loopback line does). */
static int lb_irq_mask(struct virtio_device *dev, unsigned q, bool masked)
{
    (void)dev;
    (void)q;
    __atomic_store_n(&env.lb.irq_masked, masked ? 1 : 0, __ATOMIC_RELEASE);
    return 0;
}

/* Put a register file in front of env.lb.vd, make the virtio device, start
 * the device thread. The driver is probed by the test. */
void lb_attach(const char *name)
{
    struct vmmio_hooks hooks = {.notify = lb_notify, .interrupt = lb_interrupt, .ctx = &env.lb};

    assert_int_equal(vmmio_create(&env.lb.vd, &hooks, &env.lb.m), 0);
    assert_int_equal(loopback_device_create(env.lb.m, name, &env.lb.dev), 0);
    /* The model offers the packed ring only in the packed modes, and the
     * driver asks for it there; in the split modes neither does. */
    vdev_set_offer_packed(&env.lb.vd, env.mode->packed);
    env.lb.dev->want_packed = env.mode->packed;
    env.lb.dev->polled = env.mode->polled;
    env.lb.dev->no_event_idx = !env.mode->event_idx;
    env.lb.dev->no_indirect = !env.mode->event_idx;
    env.lb.dev->irq_mask = lb_irq_mask;
    assert_int_equal(pthread_create(&env.lb.thread, NULL, lb_device_main, &env.lb), 0);
    env.lb.thread_running = true;
}

int env_setup(void **state)
{
    const struct mode *mode = *state;

    memset(&env, 0, sizeof(env));
    env.mode = mode ? mode : &mode_irq_evt;
    env.arena = aligned_alloc(4096, LB_ARENA_SIZE);
    env.pmem = aligned_alloc(4096, LB_PMEM_SIZE);
    assert_non_null(env.arena);
    assert_non_null(env.pmem);
    memset(env.arena, 0, LB_ARENA_SIZE);
    memset(env.pmem, 0, LB_PMEM_SIZE);
    host_dma_arena_setup(env.arena, LB_ARENA_SIZE, LB_GPA_BASE);
    env.regions[0] = (struct vdq_mem_region){LB_GPA_BASE, LB_ARENA_SIZE, env.arena};
    env.regions[1] = (struct vdq_mem_region){LB_PMEM_GPA, LB_PMEM_SIZE, env.pmem};
    env.mem.regions = env.regions;
    env.mem.nregions = 2;
    host_log_level_set(-1); /* error paths are provoked on purpose */
    *state = &env;
    return 0;
}

/* The driver has been removed (device reset) by the test. */
int env_teardown(void **state)
{
    (void)state;
    vq_set_checking(false);
    if (env.lb.thread_running) {
        __atomic_store_n(&env.lb.stop, 1, __ATOMIC_RELEASE);
        pthread_join(env.lb.thread, NULL);
        /* The layout the mode asked for is the one the queues had (a
         * test that never activated the device sees neither). */
        assert_false(env.mode->packed ? env.lb.saw_split : env.lb.saw_packed);
    }
    if (env.lb.dev)
        loopback_device_destroy(env.lb.dev);
    if (env.lb.m)
        vmmio_destroy(env.lb.m);
    vdev_destroy(&env.lb.vd);
    host_dma_arena_clear();
    free(env.arena);
    free(env.pmem);
    free(env.disk);
    return 0;
}

