/* SPDX-License-Identifier: Apache-2.0 */
/*
 * virtio_ring_packed.h - the packed virtqueue ABI, shared by the driver side
 * (drivers/virtio/) and the device side (hostsim/), like virtio_ring.h for
 * the split ring.
 *
 * Source: VIRTIO 1.2 section 2.8 "Packed Virtqueues": 2.8.1 ring wrap
 * counters and the AVAIL/USED flags, 2.8.6 chaining (buffer id in the last
 * descriptor of a list; the first descriptor made available last), 2.8.7
 * indirect tables (only WRITE is valid inside), 2.8.10 event suppression,
 * 2.8.10.1 sizes and alignment, 2.8.13 descriptor format, 2.8.14 event
 * suppression structure format. Names are the spec's.
 *
 * Invariants:
 *  - queue size 1..32768, any value (2.8.10.1: "does not have to be a power
 *    of 2"); descriptor ring 16-aligned, both event suppression structures
 *    4-aligned, 4 bytes each;
 *  - ownership: the descriptor ring is written by both sides (the driver
 *    makes descriptors available, the device overwrites them with used
 *    ones); the Driver Event Suppression structure (driver area) is written
 *    by driver, read by device; the Device Event Suppression structure
 *    (device area) is written by device, read by driver;
 *  - a descriptor is available when its AVAIL bit equals the driver's wrap
 *    counter and USED does not; used when both equal the device's wrap
 *    counter (2.8.1). Both counters start at 1; the ring is zero-initialised
 *    (2.8.13).
 */
#ifndef RINGLOOP_VIRTIO_RING_PACKED_H
#define RINGLOOP_VIRTIO_RING_PACKED_H

#include "virtio_ring.h"

/* 6 "Reserved Feature Bits". */
#define VIRTIO_F_RING_PACKED 34
#define VIRTIO_F_IN_ORDER 35

/* 2.8.1: AVAIL and USED flags (NEXT, WRITE, INDIRECT as in virtio_ring.h). */
#define VIRTQ_DESC_F_AVAIL (1u << 7)
#define VIRTQ_DESC_F_USED (1u << 15)

/* 2.8.10: Descriptor Ring Change Event Flags. DESC only with EVENT_IDX. */
#define RING_EVENT_FLAGS_ENABLE 0x0
#define RING_EVENT_FLAGS_DISABLE 0x1
#define RING_EVENT_FLAGS_DESC 0x2
#define RING_EVENT_FLAGS_MASK 0x3 /* 0x3 reserved */

/* 2.8.14: desc_event_off is bits 0-14 of desc, desc_event_wrap bit 15. */
#define PVIRTQ_EVENT_WRAP_SHIFT 15
#define PVIRTQ_EVENT_OFF_MASK 0x7fffu

/* 2.8.10.1 alignment of the three parts. */
#define PVIRTQ_DESC_ALIGN 16
#define PVIRTQ_EVENT_ALIGN 4

/* 2.8.13 Descriptor. Written by driver (available) and device (used). */
struct pvirtq_desc {
    __le64 addr; /* available: buffer address; used: unused */
    __le32 len;  /* available: buffer length; used: bytes written */
    __le16 id;   /* buffer id (in the last descriptor of a list, 2.8.6) */
    __le16 flags;
};

/* 2.8.14 Event suppression: driver area written by driver, device area
 * written by device. */
struct pvirtq_event_suppress {
    __le16 desc;  /* desc_event_off:15, desc_event_wrap:1 */
    __le16 flags; /* desc_event_flags:2, reserved:14 (0) */
};

_Static_assert(sizeof(struct pvirtq_desc) == 16, "2.8.13: descriptor is 16 bytes");
_Static_assert(offsetof(struct pvirtq_desc, len) == 8, "pvirtq_desc.len offset");
_Static_assert(offsetof(struct pvirtq_desc, id) == 12, "pvirtq_desc.id offset");
_Static_assert(offsetof(struct pvirtq_desc, flags) == 14, "pvirtq_desc.flags offset");
_Static_assert(sizeof(struct pvirtq_event_suppress) == 4, "2.8.10.1: event suppression is 4");

static inline uint64_t pvirtq_desc_size(uint32_t num)
{
    return 16ull * num;
}

/* 2.8: "Packed virtqueues support up to 2^15 entries each", any size. */
static inline bool pvirtq_is_valid_size(uint32_t num)
{
    return num >= 1 && num <= VIRTQ_MAX_SIZE;
}

/* 2.8.1: is a descriptor with these flags available to a device whose
 * wrap counter is wrap (AVAIL == wrap, USED != wrap)? */
static inline bool pvirtq_is_avail(uint16_t flags, bool wrap)
{
    return !!(flags & VIRTQ_DESC_F_AVAIL) == wrap && !!(flags & VIRTQ_DESC_F_USED) != wrap;
}

/* 2.8.1: is it used for a driver whose used wrap counter is wrap (both
 * bits equal wrap)? */
static inline bool pvirtq_is_used(uint16_t flags, bool wrap)
{
    return !!(flags & VIRTQ_DESC_F_AVAIL) == wrap && !!(flags & VIRTQ_DESC_F_USED) == wrap;
}

/* The AVAIL/USED bits the driver writes (available) or the device writes
 * (used) with wrap counter wrap. */
static inline uint16_t pvirtq_avail_flags(bool wrap)
{
    return wrap ? VIRTQ_DESC_F_AVAIL : VIRTQ_DESC_F_USED;
}
static inline uint16_t pvirtq_used_flags(bool wrap)
{
    return wrap ? (VIRTQ_DESC_F_AVAIL | VIRTQ_DESC_F_USED) : 0;
}

static inline uint16_t pvirtq_event_off_wrap(uint16_t off, bool wrap)
{
    return (uint16_t)(off | ((unsigned)wrap << PVIRTQ_EVENT_WRAP_SHIFT));
}

/*
 * 2.8.10 with EVENT_IDX (RING_EVENT_FLAGS_DESC): the other side asked for an
 * event when the descriptor at ring offset off, lap wrap (off_wrap as in
 * 2.8.14) is made available/used. We just advanced by n descriptors (n <=
 * num) to ring offset new_off with wrap counter new_wrap. An event in the
 * previous lap (its wrap differs from ours) sits num below in the unwrapped
 * numbering, so vring_need_event's mod-2^16 window test applies: it fires
 * when the event's descriptor is among the n just written. Used by both
 * sides (driver kick, device interrupt).
 */
static inline bool pvirtq_need_event(uint16_t off_wrap, uint16_t new_off, bool new_wrap, uint16_t n,
                                     uint32_t num)
{
    uint16_t event = off_wrap & PVIRTQ_EVENT_OFF_MASK;

    if (!!(off_wrap >> PVIRTQ_EVENT_WRAP_SHIFT) != new_wrap)
        event = (uint16_t)(event - num);
    return vring_need_event(event, new_off, (uint16_t)(new_off - n));
}

#endif
