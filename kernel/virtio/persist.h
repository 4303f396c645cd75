/* SPDX-License-Identifier: Apache-2.0 */
/*
 * persist.h - in-image persistence of the loopback devices (issue 6): the
 * device side of each loopback device (kernel/virtio/loopback.c, CPU 1) put to
 * sleep, snapshotted (hostsim/snapshot.h), its instance destroyed and a new
 * one built behind the same register file (vmmio_rebind), the snapshot
 * restored into it and the device woken, while the drivers on CPU 0 carry
 * on. Used by `snapshot ...` (kernel/shell/cmd_snapshot.c) and `test persist`.
 *
 * A bundle holds the snapshots of all five loopback devices:
 *   0 magic "RLSNAPB\n", 8 count u32, 12 flags u32 (SNAP_F_*),
 *   16 total_len u64 (the whole bundle), 24 boot_id u64 (which boot took
 *   it), then per device: name[16] (NUL-padded), len u64, the snapshot;
 *   then a CRC-32C u32 of everything before it. All little-endian.
 * A bundle from this boot restores everything (snap_restore), but only
 * onto the driver session it was taken from (same acked features, same
 * queues: the old rings may otherwise be memory the kernel reused); one from
 * another boot restores each device's own state and content only
 * (snap_restore_model: RAM disk, rng stream, console FIFOs, net backlog),
 * since its rings lived in that boot's memory and this boot's drivers have
 * their own.
 *
 * Calls run on CPU 0 (the drivers' CPU), with interrupts on; one at a time.
 */
#ifndef RINGLOOP_PERSIST_H
#define RINGLOOP_PERSIST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct virtio_device;

#define PERSIST_BUNDLE_MAGIC "RLSNAPB\n"
#define PERSIST_BUNDLE_HDR 32

/* The loopback devices persistence covers: lblk0, lnet0, lrng0, lcon0,
 * lpmem0 (persist_dev(i) for i < PERSIST_NDEV; NULL before loopback_init). */
#define PERSIST_NDEV 5
struct virtio_device *persist_dev(int i);

/*
 * One snapshot point for dev: sleep, save, new instance, restore, wake.
 * With check_identical, the restored instance is saved again and must give
 * the same bytes. 0, or -errno with err set. *asleep_ns (may be NULL): how
 * long the device slept.
 */
int persist_cycle(struct virtio_device *dev, bool check_identical, char *err, size_t errlen,
                  uint64_t *asleep_ns);

/* Save every loopback device into a malloc'd bundle (*out, *len). */
int persist_save_all(unsigned flags, uint8_t **out, size_t *len);
/*
 * Restore a bundle: every snapshot is checked against its (sleeping)
 * device first; only if all pass, each device gets a new instance with its
 * snapshot restored. Refused: nothing changed, err says why. Devices are
 * awake again in both cases.
 */
int persist_restore_all(const uint8_t *buf, size_t len, char *err, size_t errlen, bool *other_boot);

struct persist_report {
    uint64_t blk_requests, net_frames, pmem_flushes; /* completed, verified */
    uint64_t snapshots;                              /* snapshot points */
    uint64_t lost, duplicated, bad_data;             /* all must be 0 */
    uint64_t ns, max_asleep_ns;
};

/*
 * blk, net and pmem traffic with sequence-numbered requests from CPU 0
 * (about `requests` in all), with `snapshots` snapshot points at random
 * moments on random devices (every 8th also checks save -> restore ->
 * save). 0 when all completed with nothing lost, duplicated or corrupt;
 * else -EIO and err says what. Progress on the console when verbose.
 */
int persist_stress(unsigned snapshots, unsigned requests, bool verbose, struct persist_report *r,
                   char *err, size_t errlen);

#endif
