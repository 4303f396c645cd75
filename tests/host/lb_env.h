/* SPDX-License-Identifier: Apache-2.0 */
/*
 * lb_env.h - the hosted drivers' test environment (test_drivers.c,
 * test_console_mp.c): one loopback device (a real device model behind
 * hostsim/vmmio.c) with its device thread, guest memory as an arena whose
 * device-visible addresses start at LB_GPA_BASE, and the four modes each
 * data test runs in (interrupt-driven / polled x EVENT_IDX on / off).
 */
#ifndef RINGLOOP_TESTS_LB_ENV_H
#define RINGLOOP_TESTS_LB_ENV_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "vdev.h"
#include "virtio.h"
#include "vmmio.h"

#define LB_GPA_BASE 0x40000000ull
#define LB_ARENA_SIZE (32u << 20)
#define LB_PMEM_GPA 0x100000000ull
#define LB_PMEM_SIZE (2u << 20)
#define DISK_SECTORS 2048u /* 1 MiB RAM disk */

/* ---- modes ---- */

struct mode {
    bool polled;
    bool event_idx;
    const char *name;
};

extern const struct mode mode_irq_evt, mode_irq_flags, mode_poll_evt, mode_poll_flags;

/* ---- one loopback device with its device thread ---- */

struct lb {
    struct vdev vd;
    struct vmmio *m;
    struct virtio_device *dev;
    pthread_t thread;
    bool thread_running;
    int stop;        /* atomic */
    int doorbell;    /* atomic: set by hooks.notify */
    int irq_pending; /* atomic: set by hooks.interrupt */
    int irq_masked;  /* atomic: dev->irq_mask (storm): pending kept */
    uint64_t processed;
};

struct env {
    uint8_t *arena;
    uint8_t *pmem;
    struct vdq_mem_region regions[2];
    struct vdq_mem mem;
    struct lb lb;
    uint8_t *disk;
    const struct mode *mode;
};

extern struct env env;

/* The device thread (started by lb_attach; tests that stop and restart it
 * call it themselves). */
void *lb_device_main(void *arg);
/* Guest (DMA) memory of size bytes from the arena. */
void *dma_buf(size_t size);
/* Put a register file in front of env.lb.vd, make the virtio device, start
 * the device thread. The driver is probed by the test. */
void lb_attach(const char *name);
/* cmocka setup/teardown: state is the mode (NULL: irq+event_idx). */
int env_setup(void **state);
int env_teardown(void **state);

#define MODE_TESTS(fn)                                                                             \
    cmocka_unit_test_prestate_setup_teardown(fn, env_setup, env_teardown, (void *)&mode_irq_evt),  \
        cmocka_unit_test_prestate_setup_teardown(fn, env_setup, env_teardown,                      \
                                                 (void *)&mode_irq_flags),                         \
        cmocka_unit_test_prestate_setup_teardown(fn, env_setup, env_teardown,                      \
                                                 (void *)&mode_poll_evt),                          \
        cmocka_unit_test_prestate_setup_teardown(fn, env_setup, env_teardown,                      \
                                                 (void *)&mode_poll_flags)

#endif
