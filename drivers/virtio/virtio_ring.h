/* SPDX-License-Identifier: Apache-2.0 */
/*
 * virtio_ring.h - the split virtqueue ABI, shared by the driver side
 * (drivers/virtio/virtqueue.c) and the device side (hostsim/vdq.c).
 *
 * Source: Virtual I/O Device (VIRTIO) Version 1.2, section 2.7 "Split
 * Virtqueues": 2.7.5 descriptor table, 2.7.5.3 indirect descriptors, 2.7.6
 * available ring, 2.7.7 used buffer notification suppression, 2.7.8 used
 * ring, 2.7.10 available buffer notification suppression. Names are the
 * spec's. Field types are little-endian (__le16/32/64); every access goes
 * through the vr_* accessors below, which are the identity on the
 * little-endian targets we build for (a big-endian build fails to compile).
 *
 * Invariants:
 *  - queue size (num) is a power of two, 1..32768 (2.7: "Queue Size ... is
 *    a power of 2"; max 32768);
 *  - descriptor table 16-byte aligned, available ring 2, used ring 4 (2.7,
 *    alignment table);
 *  - ownership: the descriptor table and available ring are written by the
 *    driver only; the used ring is written by the device only. The two
 *    event-index words live in the *other* side's area: used_event at the end
 *    of the available ring (written by driver), avail_event at the end of the
 *    used ring (written by device).
 *  - nothing here knows about threads or barriers; see virtio_platform.h.
 */
#ifndef RINGLOOP_VIRTIO_RING_H
#define RINGLOOP_VIRTIO_RING_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "virtio_ring.h: only little-endian targets are supported (add byte swaps)"
#endif

/* Little-endian wire types (scalars, so typedefs are fine). */
typedef uint16_t __le16;
typedef uint32_t __le32;
typedef uint64_t __le64;

/* Feature bits that concern the ring (6 "Reserved Feature Bits"). */
#define VIRTIO_F_INDIRECT_DESC 28 /* 2.7.5.3 */
#define VIRTIO_F_EVENT_IDX 29     /* 2.7.7, 2.7.10 */
#define VIRTIO_F_VERSION_1 32

/* 2.7.5: descriptor flags. */
#define VIRTQ_DESC_F_NEXT 1     /* chain continues via the next field */
#define VIRTQ_DESC_F_WRITE 2    /* device write-only (otherwise read-only) */
#define VIRTQ_DESC_F_INDIRECT 4 /* buffer is a table of virtq_desc */

/* 2.7.6: available ring flags (driver asks the device not to interrupt). */
#define VIRTQ_AVAIL_F_NO_INTERRUPT 1
/* 2.7.8: used ring flags (device asks the driver not to notify). */
#define VIRTQ_USED_F_NO_NOTIFY 1

/* 2.7: "Queue Size ... maximum Queue Size value is 32768". */
#define VIRTQ_MAX_SIZE 32768u
/* 2.7.5.3: an indirect table holds at most this many descriptors (len is
 * a 32-bit byte count, but "next" is 16-bit so indices stop at 0xffff). */
#define VIRTQ_INDIRECT_MAX 65535u

/* 2.7: alignment requirements of the three parts. */
#define VIRTQ_DESC_ALIGN 16
#define VIRTQ_AVAIL_ALIGN 2
#define VIRTQ_USED_ALIGN 4

/* 2.7.5 The Virtqueue Descriptor Table. Written by driver. */
struct virtq_desc {
    __le64 addr; /* guest-physical address of the buffer */
    __le32 len;  /* length in bytes */
    __le16 flags;
    __le16 next; /* index of the next descriptor when F_NEXT */
};

/* 2.7.6 The Virtqueue Available Ring. Written by driver. */
struct virtq_avail {
    __le16 flags;
    __le16 idx;    /* where the driver puts the next entry (mod 2^16) */
    __le16 ring[]; /* [num], then __le16 used_event (EVENT_IDX only) */
};

/* 2.7.8 The Virtqueue Used Ring. Written by device. */
struct virtq_used_elem {
    __le32 id;  /* head index of the used chain (u32 for padding) */
    __le32 len; /* bytes written into the device-writable part */
};

struct virtq_used {
    __le16 flags;
    __le16 idx;                    /* where the device puts the next entry (mod 2^16) */
    struct virtq_used_elem ring[]; /* [num], then __le16 avail_event */
};

_Static_assert(sizeof(struct virtq_desc) == 16, "2.7.5: descriptor is 16 bytes");
_Static_assert(offsetof(struct virtq_desc, len) == 8, "virtq_desc.len offset");
_Static_assert(offsetof(struct virtq_desc, flags) == 12, "virtq_desc.flags offset");
_Static_assert(offsetof(struct virtq_desc, next) == 14, "virtq_desc.next offset");
_Static_assert(sizeof(struct virtq_avail) == 4, "virtq_avail header is 4 bytes");
_Static_assert(offsetof(struct virtq_avail, ring) == 4, "virtq_avail.ring offset");
_Static_assert(sizeof(struct virtq_used_elem) == 8, "2.7.8: used element is 8 bytes");
_Static_assert(sizeof(struct virtq_used) == 4, "virtq_used header is 4 bytes");
_Static_assert(offsetof(struct virtq_used, ring) == 4, "virtq_used.ring offset");

/* Sizes of the three areas for a queue of num entries (2.7, table). */
static inline uint64_t virtq_desc_size(uint32_t num)
{
    return 16ull * num;
}
static inline uint64_t virtq_avail_size(uint32_t num)
{
    return 6ull + 2ull * num; /* flags, idx, ring[num], used_event */
}
static inline uint64_t virtq_used_size(uint32_t num)
{
    return 6ull + 8ull * num; /* flags, idx, ring[num], avail_event */
}

/* 2.7.7: used_event sits right after avail->ring[num]. Written by driver. */
static inline __le16 *virtq_used_event(struct virtq_avail *avail, uint32_t num)
{
    return &avail->ring[num];
}
/* 2.7.10: avail_event sits right after used->ring[num]. Written by device. */
static inline __le16 *virtq_avail_event(struct virtq_used *used, uint32_t num)
{
    return (__le16 *)(void *)&used->ring[num];
}

static inline bool virtq_is_valid_size(uint32_t num)
{
    return num >= 1 && num <= VIRTQ_MAX_SIZE && (num & (num - 1)) == 0;
}

/*
 * 2.7.7.2 / 2.7.10: the other side wants a notification if event_idx lies in
 * the window of indices [old, new) that we just published. All arithmetic is
 * mod 2^16, so it stays right when the indices wrap past 65535.
 */
static inline bool vring_need_event(uint16_t event_idx, uint16_t new_idx, uint16_t old_idx)
{
    return (uint16_t)(new_idx - event_idx - 1) < (uint16_t)(new_idx - old_idx);
}

/* Endian accessors (identity on little-endian). */
static inline uint16_t vr_le16_to_cpu(__le16 v)
{
    return v;
}
static inline uint32_t vr_le32_to_cpu(__le32 v)
{
    return v;
}
static inline uint64_t vr_le64_to_cpu(__le64 v)
{
    return v;
}
static inline __le16 vr_cpu_to_le16(uint16_t v)
{
    return v;
}
static inline __le32 vr_cpu_to_le32(uint32_t v)
{
    return v;
}
static inline __le64 vr_cpu_to_le64(uint64_t v)
{
    return v;
}

#endif
