/* SPDX-License-Identifier: Apache-2.0 */
/*
 * virtio_config.h - spec constants and wire layouts shared by the drivers
 * (drivers/virtio/) and the device models (hostsim/): device status bits,
 * device IDs, feature bits, and each device type's config space and request
 * headers. Source: Virtual I/O Device (VIRTIO) Version 1.2: 2.1 device
 * status, 5 device types (5.1 net, 5.2 block, 5.3 console, 5.4 entropy),
 * 5.19 PMEM. Names follow the spec; multi-byte fields are little-endian.
 */
#ifndef RINGLOOP_VIRTIO_CONFIG_H
#define RINGLOOP_VIRTIO_CONFIG_H

#include <stdint.h>

#include "virtio_ring.h"

/* 2.1 Device Status Field */
#define VIRTIO_STATUS_ACKNOWLEDGE 1
#define VIRTIO_STATUS_DRIVER 2
#define VIRTIO_STATUS_DRIVER_OK 4
#define VIRTIO_STATUS_FEATURES_OK 8
#define VIRTIO_STATUS_DEVICE_NEEDS_RESET 64
#define VIRTIO_STATUS_FAILED 128

/* 5 Device Types */
#define VIRTIO_ID_NET 1
#define VIRTIO_ID_BLOCK 2
#define VIRTIO_ID_CONSOLE 3
#define VIRTIO_ID_RNG 4
#define VIRTIO_ID_PMEM 27

/* Interrupt status bits (4.2.2 InterruptStatus, 4.1.4.5 ISR status) */
#define VIRTIO_INT_USED_BUFFER 1
#define VIRTIO_INT_CONFIG_CHANGE 2

/* 6 Reserved feature bits not already in virtio_ring.h */
#define VIRTIO_F_ACCESS_PLATFORM 33
#define VIRTIO_F_RING_PACKED 34

/* ---- 5.2 Block Device ---- */
#define VIRTIO_BLK_F_SIZE_MAX 1
#define VIRTIO_BLK_F_SEG_MAX 2
#define VIRTIO_BLK_F_RO 5
#define VIRTIO_BLK_F_BLK_SIZE 6
#define VIRTIO_BLK_F_FLUSH 9
#define VIRTIO_BLK_F_TOPOLOGY 10
#define VIRTIO_BLK_F_CONFIG_WCE 11
#define VIRTIO_BLK_F_MQ 12 /* 5.2.3: num_queues request queues */
#define VIRTIO_BLK_F_DISCARD 13
#define VIRTIO_BLK_F_WRITE_ZEROES 14

#define VIRTIO_BLK_T_IN 0
#define VIRTIO_BLK_T_OUT 1
#define VIRTIO_BLK_T_FLUSH 4
#define VIRTIO_BLK_T_GET_ID 8
#define VIRTIO_BLK_T_DISCARD 11
#define VIRTIO_BLK_T_WRITE_ZEROES 13
#define VIRTIO_BLK_ID_BYTES 20

#define VIRTIO_BLK_S_OK 0
#define VIRTIO_BLK_S_IOERR 1
#define VIRTIO_BLK_S_UNSUPP 2

#define VIRTIO_BLK_SECTOR_SIZE 512

struct virtio_blk_config {
    __le64 capacity; /* in 512-byte sectors */
    __le32 size_max;
    __le32 seg_max;
    struct {
        __le16 cylinders;
        uint8_t heads;
        uint8_t sectors;
    } geometry;
    __le32 blk_size;
    uint8_t physical_block_exp;
    uint8_t alignment_offset;
    __le16 min_io_size;
    __le32 opt_io_size;
    uint8_t writeback;
    uint8_t unused0;
    __le16 num_queues; /* 5.2.4: only with VIRTIO_BLK_F_MQ */
    __le32 max_discard_sectors;
    __le32 max_discard_seg;
    __le32 discard_sector_alignment;
    __le32 max_write_zeroes_sectors;
    __le32 max_write_zeroes_seg;
    uint8_t write_zeroes_may_unmap;
    uint8_t unused1[3];
} __attribute__((packed)); /* 60 bytes in the spec; no tail padding to 64 */
_Static_assert(__builtin_offsetof(struct virtio_blk_config, blk_size) == 20, "5.2.4");
_Static_assert(__builtin_offsetof(struct virtio_blk_config, num_queues) == 34, "5.2.4");
_Static_assert(sizeof(struct virtio_blk_config) == 60, "5.2.4 virtio_blk_config");

/* 5.2.6: the data of DISCARD and WRITE_ZEROES is an array of these
 * (device-readable), at most max_discard_seg / max_write_zeroes_seg. flags
 * bit 0 is unmap (WRITE_ZEROES only: the device may deallocate, reads
 * still return zeroes); bits 1-31 are reserved (UNSUPP when set). */
struct virtio_blk_discard_write_zeroes {
    __le64 sector;
    __le32 num_sectors;
    __le32 flags;
};
_Static_assert(sizeof(struct virtio_blk_discard_write_zeroes) == 16, "5.2.6");
#define VIRTIO_BLK_WRITE_ZEROES_FLAG_UNMAP 1u

/* 5.2.6: the request header (device-readable), data, then one status byte. */
struct virtio_blk_req_hdr {
    __le32 type;
    __le32 reserved;
    __le64 sector;
};
_Static_assert(sizeof(struct virtio_blk_req_hdr) == 16, "5.2.6");

/* ---- 5.1 Network Device ---- */
#define VIRTIO_NET_F_CSUM 0       /* device takes partially checksummed TX */
#define VIRTIO_NET_F_GUEST_CSUM 1 /* driver takes partially checksummed RX */
#define VIRTIO_NET_F_MTU 3
#define VIRTIO_NET_F_MAC 5
#define VIRTIO_NET_F_MRG_RXBUF 15
#define VIRTIO_NET_F_STATUS 16
#define VIRTIO_NET_F_CTRL_VQ 17       /* controlq (queue 2N, N = 1 here) */
#define VIRTIO_NET_F_CTRL_RX 18       /* RX class PROMISC/ALLMULTI, MAC class (needs CTRL_VQ) */
#define VIRTIO_NET_F_CTRL_RX_EXTRA 20 /* RX class ALLUNI/NOMULTI/NOUNI/NOBCAST */
#define VIRTIO_NET_F_CTRL_MAC_ADDR 23 /* MAC_ADDR_SET (needs CTRL_VQ) */

#define VIRTIO_NET_S_LINK_UP 1

struct virtio_net_config {
    uint8_t mac[6];
    __le16 status;
    __le16 max_virtqueue_pairs;
    __le16 mtu;
};
_Static_assert(sizeof(struct virtio_net_config) == 12, "5.1.4");

/* 5.1.6: with VIRTIO_F_VERSION_1 the header always has num_buffers (12 bytes). */
struct virtio_net_hdr {
    uint8_t flags;
    uint8_t gso_type;
    __le16 hdr_len;
    __le16 gso_size;
    __le16 csum_start;
    __le16 csum_offset;
    __le16 num_buffers;
};
_Static_assert(sizeof(struct virtio_net_hdr) == 12, "5.1.6");
#define VIRTIO_NET_HDR_GSO_NONE 0
#define VIRTIO_NET_HDR_F_NEEDS_CSUM 1 /* 5.1.6.2 / 5.1.6.4: csum_start, csum_offset valid */
#define VIRTIO_NET_HDR_F_DATA_VALID 2 /* 5.1.6.4: the device validated the checksum */
#define VIRTIO_NET_RXQ 0
#define VIRTIO_NET_TXQ 1
#define VIRTIO_NET_CTRLQ 2 /* 5.1.2: controlq is 2N with N = 1 (no MQ/RSS) */

/* 5.1.6.5 control virtqueue: class, command, command-specific data (all
 * device-readable), then the ack byte (device-writable). */
#define VIRTIO_NET_OK 0
#define VIRTIO_NET_ERR 1
#define VIRTIO_NET_CTRL_RX 0 /* 5.1.6.5.1: data is one byte, 0 (off) or 1 (on) */
#define VIRTIO_NET_CTRL_RX_PROMISC 0
#define VIRTIO_NET_CTRL_RX_ALLMULTI 1
#define VIRTIO_NET_CTRL_RX_ALLUNI 2
#define VIRTIO_NET_CTRL_RX_NOMULTI 3
#define VIRTIO_NET_CTRL_RX_NOUNI 4
#define VIRTIO_NET_CTRL_RX_NOBCAST 5
#define VIRTIO_NET_CTRL_MAC 1 /* 5.1.6.5.2 */
#define VIRTIO_NET_CTRL_MAC_TABLE_SET 0 /* le32 n + n unicast macs, le32 m + m multicast */
#define VIRTIO_NET_CTRL_MAC_ADDR_SET 1  /* 6-byte mac */

/* ---- 5.3 Console Device ---- */
#define VIRTIO_CONSOLE_F_SIZE 0
#define VIRTIO_CONSOLE_F_MULTIPORT 1
#define VIRTIO_CONSOLE_RXQ0 0 /* receiveq(port0): device -> driver */
#define VIRTIO_CONSOLE_TXQ0 1 /* transmitq(port0): driver -> device */
/* 5.3.2: with MULTIPORT, queues 2/3 are the control receiveq/transmitq and
 * port p >= 1 has receiveq 2 + 2p, transmitq 3 + 2p. */
#define VIRTIO_CONSOLE_CTRL_RXQ 2 /* control receiveq: device -> driver */
#define VIRTIO_CONSOLE_CTRL_TXQ 3 /* control transmitq: driver -> device */
#define VIRTIO_CONSOLE_PORT_RXQ(p) ((p) == 0 ? 0u : 2u + 2u * (p))
#define VIRTIO_CONSOLE_PORT_TXQ(p) (VIRTIO_CONSOLE_PORT_RXQ(p) + 1u)
/* 5.3.6.2: control events */
#define VIRTIO_CONSOLE_DEVICE_READY 0
#define VIRTIO_CONSOLE_DEVICE_ADD 1
#define VIRTIO_CONSOLE_DEVICE_REMOVE 2
#define VIRTIO_CONSOLE_PORT_READY 3
#define VIRTIO_CONSOLE_CONSOLE_PORT 4
#define VIRTIO_CONSOLE_RESIZE 5
#define VIRTIO_CONSOLE_PORT_OPEN 6
#define VIRTIO_CONSOLE_PORT_NAME 7

struct virtio_console_control {
    __le32 id;    /* port number */
    __le16 event; /* VIRTIO_CONSOLE_* above */
    __le16 value;
};
_Static_assert(sizeof(struct virtio_console_control) == 8, "5.3.6.2");

struct virtio_console_config {
    __le16 cols;
    __le16 rows;
    __le32 max_nr_ports;
    __le32 emerg_wr;
};
_Static_assert(sizeof(struct virtio_console_config) == 12, "5.3.4");

/* ---- 5.4 Entropy Device: no features, no config, one requestq ---- */

/* ---- 5.19 PMEM Device ---- */
#define VIRTIO_PMEM_REQ_TYPE_FLUSH 0
#define VIRTIO_PMEM_ALIGN (2u << 20) /* Firecracker: 2 MiB-aligned region */

struct virtio_pmem_config {
    __le64 start;
    __le64 size;
};
_Static_assert(sizeof(struct virtio_pmem_config) == 16, "5.19.4");

struct virtio_pmem_req {
    __le32 type;
};
struct virtio_pmem_resp {
    __le32 ret; /* 0 success, 1 (EIO-like) failure */
};

#endif
