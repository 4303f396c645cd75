/* SPDX-License-Identifier: Apache-2.0 */
/*
 * virtio_net.h - virtio network device driver (VIRTIO 1.2 5.1),
 * transport-agnostic: one receiveq/transmitq pair, the controlq when
 * offered (rx mode, MAC table, station mac), checksum offload both ways,
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
    uint64_t ctrl_cmds;      /* control commands the device answered VIRTIO_NET_OK */
    uint64_t ctrl_errs;      /* ... answered VIRTIO_NET_ERR (or left unanswered) */
    uint64_t tx_csum_offload; /* sent with NEEDS_CSUM (CSUM negotiated) */
    uint64_t tx_csum_sw;      /* checksum asked for, CSUM not negotiated: done here */
    uint64_t rx_csum_partial; /* received with NEEDS_CSUM (GUEST_CSUM) */
    uint64_t rx_csum_bad;     /* NEEDS_CSUM offsets outside the frame: dropped */
    uint64_t reinits;
};

/* What virtio_net_recv_info() saw in the header (5.1.6.4): flags is
 * NEEDS_CSUM and/or DATA_VALID, only with GUEST_CSUM negotiated (other
 * bits ignored: "MUST ignore flag bits that it does not recognize");
 * csum_start / csum_offset only with NEEDS_CSUM (checked to lie inside the
 * frame). */
struct virtio_net_rx_info {
    uint8_t flags;
    uint8_t pad;
    uint16_t csum_start;
    uint16_t csum_offset;
};

/* The driver's record of the receive filter it set since the last
 * (re)initialisation; a reset puts the device back to its own defaults,
 * so mode[i] is -1 (not set since) until a command for it succeeds. */
#define VIRTIO_NET_MAC_TABLE_MAX 64 /* entries per table in one TABLE_SET */
struct virtio_net_filter {
    int8_t mode[6]; /* by VIRTIO_NET_CTRL_RX_* */
    uint8_t pad[2];
    int32_t n_uni, n_multi; /* -1: no table set since the reset */
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

/*
 * Control queue (5.1.6.5), each command waits for the device's ack:
 * 0 (VIRTIO_NET_OK), -EPROTO (VIRTIO_NET_ERR or no ack), -EOPNOTSUPP (the
 * feature it needs was not negotiated: CTRL_RX for PROMISC / ALLMULTI and
 * the MAC table, CTRL_RX_EXTRA for the other modes, CTRL_MAC_ADDR for the
 * station mac), -EINVAL (bad argument: a multicast station mac, a unicast
 * address in the multicast table or the other way round, more than
 * VIRTIO_NET_MAC_TABLE_MAX entries), -ETIMEDOUT / -EIO (device gone: reset
 * as for send). Serialised with send.
 */
int virtio_net_set_rx_mode(struct virtio_net *net, unsigned mode, bool on);
int virtio_net_set_mac(struct virtio_net *net, const uint8_t mac[6]);
int virtio_net_set_mac_table(struct virtio_net *net, const uint8_t (*uni)[6], uint32_t n_uni,
                             const uint8_t (*multi)[6], uint32_t n_multi);
void virtio_net_get_filter(const struct virtio_net *net, struct virtio_net_filter *f);

/*
 * Send with a checksum request (5.1.6.2): the 16-bit ones' complement
 * checksum from csum_start to the end of the frame goes to csum_start +
 * csum_offset, whose two bytes hold the pseudo-header sum (0 for a plain
 * internet checksum). With VIRTIO_NET_F_CSUM the device does it
 * (NEEDS_CSUM), without it this driver does before sending. -EINVAL when
 * csum_start + csum_offset + 2 > len.
 */
int virtio_net_send_csum(struct virtio_net *net, const void *frame, size_t len,
                         uint16_t csum_start, uint16_t csum_offset);
/* recv with the header's flags (info may be NULL); a NEEDS_CSUM frame is
 * handed back partial. virtio_net_recv() instead completes it, so its
 * callers always get fully checksummed frames. */
int virtio_net_recv_info(struct virtio_net *net, void *frame, size_t cap, uint64_t timeout_ns,
                         struct virtio_net_rx_info *info);

#endif
