/* SPDX-License-Identifier: Apache-2.0 */
/*
 * snap_harness.h - shared by the snapshot test binaries (test_snapshot,
 * test_snapshot_traffic, test_snapshot_packed): one model of each kind
 * behind vmmio with the fixture driver, split or packed (sh_packed, set by
 * setup_kind_packed() and kept for every later instance), and the helpers
 * every test uses. Single fixture, cmocka-style (one test at a time).
 */
#ifndef RINGLOOP_SNAP_HARNESS_H
#define RINGLOOP_SNAP_HARNESS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "dev_fixture.h"
#include "virtio_config.h"

enum kind { K_BLK, K_NET, K_RNG, K_CON, K_PMEM, K_COUNT };

#define BLK_BYTES (64 * 512)
#define PMEM_START (FX_GPA_BASE + (2u << 20))
#define PMEM_SIZE (2u << 20)
#define RNG_SEED 0x1234abcdull
#define QSIZE 16

extern struct dev_fixture fixture;
extern enum kind fixture_kind;
extern uint8_t *blk_disk;
extern bool sh_packed; /* offer VIRTIO_F_RING_PACKED on every instance */

/* The reference splitmix64 byte stream (vdev_models.h). */
struct rng_ref {
    uint64_t s, word;
    unsigned used;
};

struct blk_req {
    struct virtio_blk_req_hdr hdr;
    uint8_t status;
    uint8_t pad[7];
};

enum field_size { F8 = 1, F16 = 2, F32 = 4, F64 = 8 };

/* A run of device_step()s. */
struct traffic_stats {
    unsigned snapshots, replaced, sleeps;
    uint8_t *last;
    size_t last_len;
};

void model_create(struct dev_fixture *f, enum kind k);
void model_create_on(struct dev_fixture *f, struct vdev *d, enum kind k);
int setup_kind(void **state, enum kind k);
/* setup_kind() with sh_packed = packed first. */
int setup_kind_packed(void **state, enum kind k, bool packed);
int setup_blk(void **state);
int setup_net(void **state);
int setup_rng(void **state);
int setup_con(void **state);
int setup_pmem(void **state);
int teardown(void **state);
void *galloc(struct dev_fixture *f, size_t len);
/* A full save of the (sleeping) device into a malloc'd buffer. */
uint8_t *save(struct dev_fixture *f, unsigned flags, size_t *len);
/* Destroy the instance and restore snap into a new one over the same guest
 * memory (and the same disk); left asleep when !wake. */
void replace_instance(struct dev_fixture *f, const uint8_t *snap, size_t len, bool wake);
uint8_t *rng_submit(struct dev_fixture *f, uint8_t *buf, uint32_t len, bool kick);
uint8_t rng_ref_byte(struct rng_ref *r);
void blk_submit(struct dev_fixture *f, struct blk_req *r, uint32_t type, uint64_t sector,
                uint8_t *data, uint32_t len, bool kick);
/* Put f's device into a state worth saving: started, some traffic done. */
void warm_up(struct dev_fixture *f);
/* Restore snap into f's (sleeping, live) device: refused with want_rc, the
 * error contains want, and a full save before and after is identical. */
void expect_refused_rc(struct dev_fixture *f, const uint8_t *snap, size_t len, const char *want,
                       int want_rc);
void expect_refused(struct dev_fixture *f, const uint8_t *snap, size_t len, const char *want);
uint8_t *edit_copy(const uint8_t *ref, size_t len);
/* ref with one field of section tag[nth] set to v (CRCs fixed): refused. */
void expect_field_refused(struct dev_fixture *f, const uint8_t *ref, size_t len, const char *tag,
                          unsigned nth, unsigned off, enum field_size sz, uint64_t v,
                          const char *want);
/* Every bit flip and every truncation of ref refused, device unchanged. */
void corrupt_all(struct dev_fixture *f, const uint8_t *ref, size_t len);
uint32_t test_rand(void);
/* A random point in the device's life (process, sleep/wake, or sleep +
 * snapshot + new instance + restore + wake, save->restore->save checked). */
void device_step(struct dev_fixture *f, struct traffic_stats *ts);

#endif
