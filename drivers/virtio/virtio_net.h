/* SPDX-License-Identifier: Apache-2.0 */
/*
 * virtio_net.h - virtio network device driver (VIRTIO 1.2 5.1),
 * transport-agnostic: one receiveq/transmitq pair, no offloads, no
 * mergeable buffers, the 12-byte virtio_net_hdr (VERSION_1 layout).
 *
 * virtio_net_send() copies the frame behind a zeroed header into a DMA
 * buffer and waits until the device has taken it. virtio_net_recv() hands
 * back one received frame (without the header) and re-posts its buffer.
 * Frames are Ethernet frames of 1..VIRTIO_NET_MAX_FRAME bytes.
 *
 * Results: frame length / 0, or -EINVAL, -EMSGSIZE (frame larger than the
 * caller's buffer: the frame is dropped), -EAGAIN (nothing received,
 * timeout 0), -ETIMEDOUT, -EIO (queue broken / device needs reset: the
 * driver re-initialises the device before returning).
 *
 * Concurrency: one lock per queue inside; send and recv may run on
 * different threads.
 */
#ifndef RINGLOOP_VIRTIO_NET_H
#define RINGLOOP_VIRTIO_NET_H

#include <stddef.h>
#include <stdint.h>

#include "virtio.h"

#define VIRTIO_NET_MAX_FRAME 1514 /* no VLAN tag, no MTU feature */
/* With VIRTIO_NET_F_MTU the frame limit is mtu + 14, capped by this driver
 * maximum (the transmit DMA buffer is sized for it). */
#define VIRTIO_NET_DRV_MAX_MTU 9000
#define VIRTIO_NET_MAX_FRAME_CAP (VIRTIO_NET_DRV_MAX_MTU + 14)
#define VIRTIO_NET_RX_BUFS 64     /* posted receive buffers (capped by queue size) */
#define VIRTIO_NET_TIMEOUT_NS 2000000000ull

struct virtio_net;

struct virtio_net_stats {
    uint64_t tx_frames;
    uint64_t rx_frames;
    uint64_t rx_dropped; /* shorter than the header, or too large for the caller */
    uint64_t rx_refill_failed;
    uint64_t rx_merged;      /* MRG_RXBUF frames that took more than one buffer */
    uint64_t rx_bad_mrg;     /* untrusted num_buffers (0, more than posted, frame too big) */
    uint64_t link_changes;   /* config interrupts that changed the link state */
    uint64_t reinits;
};

int virtio_net_probe(struct virtio_device *dev, struct virtio_net **out);
void virtio_net_remove(struct virtio_net *net);
int virtio_net_reinit(struct virtio_net *net);

int virtio_net_send(struct virtio_net *net, const void *frame, size_t len);
/* Wait up to timeout_ns (0: do not wait) for a frame; returns its length. */
int virtio_net_recv(struct virtio_net *net, void *frame, size_t cap, uint64_t timeout_ns);

/* MAC from config when VIRTIO_NET_F_MAC was offered, else all zero; link
 * up unless VIRTIO_NET_F_STATUS says otherwise. */
void virtio_net_get_mac(const struct virtio_net *net, uint8_t mac[6]);
bool virtio_net_is_link_up(struct virtio_net *net);
struct virtio_device *virtio_net_device(struct virtio_net *net);
const struct virtio_net_stats *virtio_net_get_stats(const struct virtio_net *net);
/* Largest frame send/recv take: 1514, or mtu + 14 (VIRTIO_NET_F_MTU)
 * capped at VIRTIO_NET_MAX_FRAME_CAP; and the negotiated mtu (1500 when
 * VIRTIO_NET_F_MTU is not). */
uint32_t virtio_net_max_frame(const struct virtio_net *net);
uint16_t virtio_net_mtu(const struct virtio_net *net);

#endif
