/* SPDX-License-Identifier: Apache-2.0 */
/*
 * dev_fixture.h - hosted test harness for the device side: a device model
 * (struct vdev) behind the virtio-mmio register file (vmmio), and a minimal
 * driver that initialises it through registers only (3.1.1 and 4.2.3.2)
 * with the real driver virtqueue (drivers/virtio/virtqueue.c) over the ring
 * fixture's guest-memory arena. Single-threaded: the test plays the device
 * CPU by calling vmmio_process() (dfx_kick_process()).
 */
#ifndef RINGLOOP_DEV_FIXTURE_H
#define RINGLOOP_DEV_FIXTURE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ring_fixture.h"
#include "vdev.h"
#include "vmmio.h"

struct dev_fixture;

struct dfx_queue {
    struct dev_fixture *f;
    unsigned qi;
};

struct dev_fixture {
    struct ring_fixture fx; /* arena + guest memory table */
    struct vdev dev;
    struct vmmio *m;
    struct virtqueue *vq[VDEV_MAX_QUEUES];
    struct dfx_queue qctx[VDEV_MAX_QUEUES];
    int notifies;      /* hooks.notify calls */
    int interrupts;    /* hooks.interrupt calls */
    uint32_t last_int; /* int_status passed to the last one */
    unsigned last_notified;
};

/* Arena only (then create a device on f->dev with f->fx.mem, then dfx_attach). */
void dfx_arena(struct dev_fixture *f);
/* Put the register file in front of f->dev with counting hooks. */
void dfx_attach(struct dev_fixture *f);
void dfx_teardown(struct dev_fixture *f);

uint32_t dfx_rd(struct dev_fixture *f, uint32_t off);
void dfx_wr(struct dev_fixture *f, uint32_t off, uint32_t v);
uint64_t dfx_device_features(struct dev_fixture *f);
/* The device's features without EVENT_IDX. */
uint64_t dfx_no_event_idx(struct dev_fixture *f);
/* Guest memory from the fixture's arena. */
void *dfx_galloc(struct dev_fixture *f, size_t len);
/* Every one of len bytes at p is v (cmocka assertion). */
void dfx_assert_all(const uint8_t *p, uint8_t v, size_t len);
/* cmocka teardown: dfx_teardown(*state). */
int dfx_teardown_state(void **state);

/* Reset, ACKNOWLEDGE, DRIVER, write features, FEATURES_OK; returns the
 * status read back (the caller checks FEATURES_OK). */
uint32_t dfx_negotiate(struct dev_fixture *f, uint64_t features);
/* Create a driver vq of num entries for queue qi and program the queue
 * registers (QueueSel, QueueNum, addresses, QueueReady = 1). */
void dfx_setup_queue(struct dev_fixture *f, unsigned qi, uint32_t num);
/* negotiate(features) + every queue with num entries + DRIVER_OK; asserts
 * the device accepted. */
void dfx_start(struct dev_fixture *f, uint64_t features, uint32_t num);

/* Add sgs to queue qi (out then in), kick, let the device process. */
void dfx_submit(struct dev_fixture *f, unsigned qi, const struct vq_sg *sgs, unsigned out,
                unsigned in, void *token);
/* Take one used buffer from queue qi: asserts there is one with that token. */
uint32_t dfx_used(struct dev_fixture *f, unsigned qi, void *token);

#endif
