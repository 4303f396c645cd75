/* SPDX-License-Identifier: Apache-2.0 */
/*
 * snapshot.h - save and restore the live state of a device behind the
 * virtio-mmio register file (issue 6, DESIGN.md section 4): the transport
 * state, the generic device state, every queue (Firecracker's QueueState
 * fields) and the model's own state, in one self-checking byte format. The
 * same bytes are the vhost-user device-state payload (SET_DEVICE_STATE_FD /
 * CHECK_DEVICE_STATE: snap_save / snap_check / snap_restore).
 *
 * Lifecycle (crosvm's): vmmio_sleep(m); snap_save(m, ...); then either
 * vmmio_wake(m) to go on, or destroy the instance and later, on a fresh
 * one over the same guest memory: vmmio_sleep(fresh);
 * snap_restore(fresh, ...); vmmio_wake(fresh). Wake re-publishes
 * avail_event (notification suppression back on with EVENT_IDX) and
 * processes every queue once, so a kick lost across the snapshot cannot
 * stall a queue.
 *
 * Format (all integers little-endian, encoded byte by byte; version 1.1):
 *
 *   header, 24 bytes
 *     0  magic     8 bytes "RLSNAP\r\n"
 *     8  major u16, 10 minor u16   (same major and minor <= ours loads)
 *     12 flags u32                 (bit 0: a CONT section is present;
 *                                   other bits 0)
 *     16 file_len u64              (the whole file, trailer included)
 *   sections, one after another, each
 *     0  tag 4 ASCII bytes, 4 len u32 (payload bytes), 8 payload,
 *     8+len crc u32: CRC-32C (lib/crc32c.h) of tag, len and payload
 *   trailer: crc u32, CRC-32C of every byte before it
 *
 *   "TRNS" (24) transport: features_select, acked_features_select,
 *        queue_select, device_status, config_generation, interrupt_status
 *        (u32 each)
 *   "DEVC" (32) device: device_id u32, num_queues u16, flags u16 (bit 0
 *        activated, bit 1 needs_reset), avail_features u64,
 *        acked_features u64, interrupt_status u32, reserved u32 (0)
 *   "QUEU" (40 + 2n) one per queue, in index order: index u16, max_size u16,
 *        size u16, ready u8, flags u8 (bit 0 live = activated && ready:
 *        the ring state below is meaningful, bit 1 EVENT_IDX, bit 2
 *        INDIRECT_DESC, bit 3 broken), desc u64, avail u64, used u64,
 *        next_avail u16, next_used u16, num_added u16, n_inflight u16, then
 *        n_inflight heads u16 (chains popped, not yet returned, in pop order)
 *        1.1, a live packed queue (VIRTIO_F_RING_PACKED acked, flags bit 4
 *        packed; virtio 1.2 2.8): (52 + 4n) the same 40 bytes, with desc /
 *        avail / used the descriptor ring / driver / device event
 *        suppression areas, next_avail / next_used ring offsets (< size)
 *        and n_inflight the buffers in flight; then 40 avail_wrap u8,
 *        41 used_wrap u8 (the wrap counters at next_avail / next_used,
 *        0/1, 2.8.1), 42 dev_event_flags u16 and 44 dev_event_off_wrap u16
 *        (the Device Event Suppression structure as the device last
 *        published it, 2.8.10), 46 reserved u16 (0), 48 added_desc u32
 *        (ring descriptors used since the last interrupt decision), 52 n x
 *        (id u16, ndesc u16), ids ascending (buffer ids popped and not
 *        returned, with their ring descriptor counts). Split queues, and
 *        queues that are not live, encode exactly as in 1.0.
 *   "MODL" (model-defined) the model's state blob (vdev_ops.state_save):
 *        rng generator, console FIFOs, net backlog, blk disk size + serial,
 *        pmem region; present iff the model has state
 *   "CONT" (optional, SNAP_F_CONTENT) the model's bulk content: the blk RAM
 *        disk or the pmem region's bytes
 *
 * Chains in flight: our five models complete every chain they pop before
 * vmmio_process() returns, so a sleeping device holds none and saves
 * n_inflight = 0; net's backlog holds frames (saved in MODL), not chains.
 * A model that holds popped chains across calls (snapbench's does) must
 * complete them in order; save then lists their heads (the avail entries
 * [next_used, next_avail)), restore checks the list against the avail
 * ring and rewinds next_avail to next_used, so the new instance pops and
 * processes each of them exactly once: not lost, not repeated (the old
 * instance never returned them). Chains the driver made available that
 * the device had not popped are simply in the avail ring (guest memory).
 * Packed (hostsim/snapshot_packed.c): the in-flight ids must be exactly the
 * lists in the ring from (next_used, used_wrap), in ring order, each
 * available in its lap with its id in its last descriptor and ndesc
 * descriptors, their ndesc adding up to the distance from next_used to
 * next_avail; restore rewinds next_avail / avail_wrap to next_used /
 * used_wrap, so the new instance pops each once. Buffers completed out of
 * order cannot be rewound (a used element may have overwritten an
 * in-flight list) and are refused. The device event suppression state is
 * restored as saved (so save -> restore -> save is identical) and
 * re-published at wake. A used batch held for publish_on_interrupt (which
 * vdev's queues never use) makes save return -EBUSY.
 *
 * Versions: a reader loads its own major version with a minor up to its
 * own; a later minor may add fields at the end of a section or new
 * sections, which is why a reader refuses minors newer than its own (it
 * could not tell what it would be ignoring) and unknown tags. 1.0 -> 1.1:
 * packed queues (QUEU flags bit 4 and its fields), refused in a file that
 * says 1.0; a 1.0 file (split queues only) loads unchanged, and the writer
 * always writes 1.1.
 *
 * Restore validates everything before changing anything (each case a test
 * in tests/host/test_snapshot.c, packed ones in test_snapshot_packed.c); a refused snapshot leaves the device
 * exactly as it was and err says which section and why.
 */
#ifndef RINGLOOP_SNAPSHOT_H
#define RINGLOOP_SNAPSHOT_H

#include <stddef.h>
#include <stdint.h>

#include "vmmio.h"

#define SNAP_MAGIC "RLSNAP\r\n"
#define SNAP_VERSION_MAJOR 1
#define SNAP_VERSION_MINOR 1
#define SNAP_HDR_BYTES 24
#define SNAP_SECT_OVERHEAD 12 /* tag + len + crc */
#define SNAP_TRAILER_BYTES 4

/* snap_save() flags */
#define SNAP_F_CONTENT 1u /* also save the bulk content (RAM disk, pmem region) */

/* Bytes snap_save() needs for m with these flags (device asleep). */
size_t snap_size(struct vmmio *m, unsigned flags);
/*
 * Encode m's state into buf. The device must be asleep (-EBUSY otherwise).
 * -ENOSPC when cap is too small (*len = the size needed), -EFBIG when the
 * content does not fit a section. On success *len = bytes written.
 */
int snap_save(struct vmmio *m, unsigned flags, void *buf, size_t cap, size_t *len);
/*
 * Validate buf against m (asleep) without changing anything: 0, or -EINVAL
 * with err = "<section>: <reason>" (NUL-terminated, truncated to errlen).
 */
int snap_check(struct vmmio *m, const void *buf, size_t len, char *err, size_t errlen);
/* snap_check() then, only if it passed, replace m's state. m stays asleep:
 * vmmio_wake() resumes it. Same return values; -EBUSY if m is awake. */
int snap_restore(struct vmmio *m, const void *buf, size_t len, char *err, size_t errlen);
/*
 * Only the device's own state and content (MODL, CONT: RAM disk, rng
 * stream, console FIFOs, net backlog) into m (asleep), keeping its queues
 * and transport state: for a snapshot from another boot, whose rings lived
 * in another guest memory. The file, the device type and features and the
 * model state are validated as for snap_restore; the QUEU/TRNS ring state
 * is not used. Same return values.
 */
int snap_restore_model(struct vmmio *m, const void *buf, size_t len, char *err, size_t errlen);
/* What snap_restore_model() checks, without applying anything. */
int snap_check_model(struct vmmio *m, const void *buf, size_t len, char *err, size_t errlen);

#endif
