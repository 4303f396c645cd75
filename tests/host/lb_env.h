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
#include <stddef.h>
#include <stdint.h>

#include "vdev.h"
#include "virtio.h"
#include "vmmio.h"

/* Models not yet built are left out (HAVE_DEV_* from mk/host-drivers.mk). */
#ifndef HAVE_DEV_RNG
#define HAVE_DEV_RNG 0
#endif
#ifndef HAVE_DEV_NET
#define HAVE_DEV_NET 0
#endif
#ifndef HAVE_DEV_CONSOLE
#define HAVE_DEV_CONSOLE 0
#endif
#ifndef HAVE_DEV_PMEM
#define HAVE_DEV_PMEM 0
#endif

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
    /* The packed ring (2.8): the device model offers VIRTIO_F_RING_PACKED
     * and the driver asks for it (dev->want_packed): our packed driver
     * (virtqueue_packed.c) against our packed device (vdq_packed.c). */
    bool packed;
};

extern const struct mode mode_irq_evt, mode_irq_flags, mode_poll_evt, mode_poll_flags;
extern const struct mode mode_irq_evt_packed, mode_irq_flags_packed, mode_poll_evt_packed,
    mode_poll_flags_packed;

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
    /* Seen by the device thread while the device was live: the layout
     * the queues were built with (env_teardown checks it matches the mode). */
    bool saw_split, saw_packed;
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
/* A reproducible byte pattern for data checks (seed picks the pattern). */
void fill_pattern(uint8_t *p, size_t n, uint32_t seed);
/* Guest (DMA) memory of size bytes from the arena. */
void *dma_buf(size_t size);
/* Put a register file in front of env.lb.vd, make the virtio device, start
 * the device thread. The driver is probed by the test. */
void lb_attach(const char *name);
/* cmocka setup/teardown: state is the mode (NULL: irq+event_idx). */
int env_setup(void **state);
int env_teardown(void **state);

#define MODE_TEST(fn, m) cmocka_unit_test_prestate_setup_teardown(fn, env_setup, env_teardown, (void *)&(m))
/* Every data test in all eight modes: the four split ones, then the same
 * four on the packed ring. */
#define MODE_TESTS(fn)                                                                             \
    MODE_TEST(fn, mode_irq_evt), MODE_TEST(fn, mode_irq_flags), MODE_TEST(fn, mode_poll_evt),      \
        MODE_TEST(fn, mode_poll_flags), MODE_TEST(fn, mode_irq_evt_packed),                        \
        MODE_TEST(fn, mode_irq_flags_packed), MODE_TEST(fn, mode_poll_evt_packed),                 \
        MODE_TEST(fn, mode_poll_flags_packed)

#endif
