/* SPDX-License-Identifier: Apache-2.0 */
/*
 * core_fake.h - the virtio core tests' fake virtio-mmio v2 register file
 * (vmmio_read()/vmmio_write() stand in for hostsim/vmmio.c, so the binaries
 * link the core, the loopback transport and the platform only) and their
 * fixture: test_virtio_core.c (status, features, queues, config,
 * interrupts, registry) and test_virtio_core_hostile.c (interrupt storms,
 * absurd blk configuration).
 */
#ifndef RINGLOOP_TESTS_CORE_FAKE_H
#define RINGLOOP_TESTS_CORE_FAKE_H

#include <stdbool.h>
#include <stdint.h>

#include "virtio.h"
#include "virtio_blk.h"

#define FAKE_MAX_LOG 64

struct vmmio {
    uint32_t device_id;
    uint32_t magic;
    uint64_t offered;
    uint64_t driver_features;
    uint32_t dev_sel, drv_sel, queue_sel;
    uint32_t status;
    bool refuse_features; /* FEATURES_OK does not stick */
    bool reset_stuck;     /* status never reads 0 */
    uint32_t num_max[8];
    uint32_t num[8];
    uint32_t ready[8];
    uint64_t desc[8], avail[8], used[8];
    uint32_t notifies[8];
    uint32_t isr;
    uint32_t acked;
    uint32_t generation;
    unsigned gen_bumps_left; /* bump the generation on this many config reads */
    uint8_t config[64];
    uint32_t status_log[FAKE_MAX_LOG];
    unsigned nstatus;
    unsigned config_reads;
    unsigned sizes_log[FAKE_MAX_LOG];
};

struct core_fx {
    struct vmmio regs;
    struct virtio_device *dev;
    unsigned callbacks[VIRTIO_MAX_VQS];
    unsigned config_changes;
};

extern struct core_fx fx;

#define OFFER_MODERN                                                                               \
    ((1ull << VIRTIO_F_VERSION_1) | (1ull << VIRTIO_F_EVENT_IDX) |                                 \
     (1ull << VIRTIO_F_INDIRECT_DESC) | (1ull << VIRTIO_F_RING_PACKED) |                           \
     (1ull << VIRTIO_BLK_F_FLUSH) | (1ull << VIRTIO_BLK_F_SEG_MAX))

/* cmocka setup / teardown: a fresh fake offering OFFER_MODERN, a blk
 * device named lblk0 over the loopback transport. */
int core_setup(void **state);
int core_teardown(void **state);
/* Queue and config callbacks counting into fx; two queue specs using them. */
void vq_cb(struct virtio_device *dev, unsigned q);
void config_cb(struct virtio_device *dev);
extern const struct virtio_vq_spec two_specs[2];

#endif
