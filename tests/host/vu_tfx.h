/* SPDX-License-Identifier: Apache-2.0 */
/*
 * vu_tfx.h - the frontend side of the vhost-user handler's cmocka tests
 * (test_vhost_user.c, test_vhost_user_ring.c): one struct tfx (ring
 * fixture arena, the fake carrier of vu_fixture.h, a blk model behind the
 * handler, the driver virtqueue on ring 0) and the helpers that send
 * messages and blk requests through it. Prefixed vt_ so that none of them
 * (send, start, ...) shadows a libc name. tests/host/vu_tfx.c.
 */
#ifndef RINGLOOP_TESTS_VU_TFX_H
#define RINGLOOP_TESTS_VU_TFX_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ring_fixture.h"
#include "vdev_models.h"
#include "vhost_user.h"
#include "vhost_user_front.h"
#include "vu_fixture.h"

#define UA_BASE 0x7f1200000000ull /* the frontend's address of the arena */
#define DISK_SECTORS 256
#define DISK_BYTES (DISK_SECTORS * 512)
#define QNUM 64

struct tfx {
    struct ring_fixture fx;
    struct vu_backend *b;
    struct vdev dev;
    uint8_t *disk;
    struct virtqueue *vq;
    struct vu_reply r;
    uint8_t msg[VU_MAX_MSG];
    struct vu_fake vf; /* the carrier: fds, signals, device state */
    /* blk request buffers in guest memory */
    uint8_t *hdr, *data, *status;
    uint64_t features;
};

extern struct tfx vt_tfx; /* the one fixture vt_setup() hands the tests */

/* Each helper is described where it is defined (vu_tfx.c). */

int vt_fd_new(struct tfx *t);
void vt_fds_all_closed(struct tfx *t);
void vt_backend_new(struct tfx *t);
void vt_backend_free(struct tfx *t);
int vt_setup(void **state);
int vt_teardown(void **state);
int vt_send_fds(struct tfx *t, size_t len, const int *fds, unsigned nfds);
int vt_send(struct tfx *t, size_t len);
uint64_t vt_get_u64(struct tfx *t, uint32_t req);
uint64_t vt_acked(struct tfx *t, size_t len, const int *fds, unsigned nfds);
void vt_ok(struct tfx *t, size_t len);
uint64_t vt_ua_of(struct tfx *t, uint64_t gpa);
void vt_mem_table(struct tfx *t, uint64_t ua);
void vt_negotiate(struct tfx *t, bool pf);
void vt_driver_vq_new(struct tfx *t);
void vt_ring_setup_on(struct tfx *t, unsigned idx, struct virtqueue *vq, uint16_t base, int *kick,
                      int *call);
void vt_ring_setup(struct tfx *t, uint16_t base, int *kick, int *call);
void vt_enable(struct tfx *t, unsigned on);
void vt_start(struct tfx *t, int *call);
void vt_blk_submit(struct tfx *t, uint32_t type, uint64_t sector, uint32_t len);
int vt_blk_complete(struct tfx *t);
int vt_blk_io(struct tfx *t, uint32_t type, uint64_t sector, uint32_t len);
void vt_blk_write_pattern(struct tfx *t, uint64_t sector, uint8_t seed);
void vt_blk_check_pattern(struct tfx *t, uint64_t sector, uint8_t seed);
uint32_t vt_vring_base(struct tfx *t, unsigned idx);

#endif
