/* SPDX-License-Identifier: Apache-2.0 */
/*
 * dev_net_internal.h - the loopback net model's state, shared by
 * hostsim/dev_net.c (queues, backlog, snapshot) and hostsim/dev_net_ctrl.c
 * (control queue, receive filter, checksum offload).
 */
#ifndef RINGLOOP_DEV_NET_INTERNAL_H
#define RINGLOOP_DEV_NET_INTERNAL_H

#include <stdbool.h>
#include <stdint.h>

#include "vdev.h"
#include "vdev_models.h"

#define NET_HDR ((uint32_t)sizeof(struct virtio_net_hdr))
#define NET_ETH_HLEN 14u /* "low level ethernet header length" (5.1.4.1) */

/* What the driver's TX header asked for, kept with the frame until it is
 * delivered (5.1.6.2 -> 5.1.6.4). flags: 0 or VIRTIO_NET_HDR_F_NEEDS_CSUM. */
struct net_frame_meta {
    uint8_t flags;
    uint8_t pad;
    uint16_t csum_start;
    uint16_t csum_offset;
};

struct dev_net {
    struct virtio_net_config cfg;
    uint16_t mtu; /* offered in cfg.mtu (VIRTIO_NET_F_MTU); fixed at create (5.1.4.1) */
    bool link_down;
    uint8_t pad;
    uint8_t create_mac[6]; /* cfg.mac comes back to it on reset */
    uint8_t pad2[2];
    int32_t lie_num_buffers; /* >= 0: the next merged header claims this (tests) */
    int32_t lie_csum_start;  /* >= 0: the next RX header claims NEEDS_CSUM here (tests) */
    uint16_t lie_csum_offset;
    uint8_t pad3[2];
    /* MRG_RXBUF: the chains of the frame being delivered, held until the
     * whole frame fits (heads, used lengths). */
    uint16_t mrg_head[VDEV_NET_QUEUE_MAX];
    uint32_t mrg_len[VDEV_NET_QUEUE_MAX];
    uint32_t frame_len[VDEV_NET_BACKLOG]; /* FIFO ring of frame lengths */
    struct net_frame_meta meta[VDEV_NET_BACKLOG]; /* same slots */
    unsigned head, count;
    uint8_t *bytes;      /* VDEV_NET_BACKLOG_BYTES, FIFO byte ring */
    uint32_t bytes_head; /* first byte of the head frame */
    uint32_t bytes_used;
    struct vdev_net_rx_filter filt;
    struct vdev_net_stats stats;
};

static inline struct dev_net *net_of(const struct vdev *d)
{
    return d->priv;
}

/* dev_net_ctrl.c */
void net_filter_reset(struct dev_net *n);
/* One controlq chain (vdev_chain_fn). */
bool net_ctrl_chain(struct vdev *d, unsigned qi, const struct vdq_chain *c, uint32_t *written);
/* The filter's verdict on a frame's destination (first 6 bytes). */
bool net_filter_accepts(const struct vdev *d, const uint8_t dst[6]);
/*
 * TX side of checksum offload for the frame just put at backlog slot
 * `slot`, whose bytes start at ring offset `pos`: record or complete the
 * partial checksum the header asks for. false: the header's offsets are
 * outside the frame (the frame is to be dropped).
 */
bool net_csum_tx(struct vdev *d, const struct virtio_net_hdr *h, unsigned slot, uint32_t pos,
                 uint32_t len);
/* The RX header for the head frame (flags / csum fields per GUEST_CSUM). */
void net_rx_hdr(struct vdev *d, struct virtio_net_hdr *h);
/* Snapshot tail: per-frame meta (6 bytes each) + the filter. */
#define NET_FILT_STATE (8 + 8 + 2 * 6 * VDEV_NET_MAC_TABLE)
#define NET_META_STATE 6u
void net_ext_save(const struct dev_net *n, uint8_t *p);
/* p: the tail; lens: the blob's count little-endian u32 frame lengths. */
const char *net_ext_check(const uint8_t *p, uint32_t count, const uint8_t *lens);
void net_ext_load(struct dev_net *n, const uint8_t *p);

#endif
