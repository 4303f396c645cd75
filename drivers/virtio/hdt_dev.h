/* SPDX-License-Identifier: Apache-2.0 */
/*
 * hdt_dev.h - the hostile-driver engine for device types other than blk
 * (hdt_dev.c): which queue a case runs on, the probe that proves the device
 * still serves, an auxiliary queue, and builders of well-formed requests
 * for net (5.1), console (5.3), entropy (5.4) and pmem (5.19) that the
 * device-request cases (hdt_cases_dev.c) and the seeded random mode
 * (hdt_random.c) start from.
 *
 * Queues (hdt_dev_prepare):
 *   net      transmitq (1); with HDT_DEV_RXQ receiveq (0), aux = transmitq
 *   console  port 0 transmitq (1); HDT_DEV_RXQ port 0 receiveq (0), aux =
 *            transmitq; HDT_DEV_CTRLQ control transmitq (3), MULTIPORT
 *   rng      requestq (0)          pmem   request queue (0)
 * The aux queue's rings and every probe buffer live in the probe area of
 * the arena (outside the canary oracle):
 *   PROBE_OFF + 0x000  aux descriptors   + 0x100 aux avail   + 0x200 aux used
 *   PROBE_OFF + 0x400  probe buffers     + 0x1000 aux buffers
 * The probe uses the last two descriptors of the case queue (qsize-2,
 * qsize-1); cases keep to 0..qsize-4 as for blk.
 */
#ifndef RINGLOOP_HDT_DEV_H
#define RINGLOOP_HDT_DEV_H

#include "hdt_internal.h"

/* hdt_case.flags (high bits, clear of the engine's HDT_WANT_*). */
#define HDT_DEV_RXQ (1u << 16)   /* the device's receive queue, aux = its transmitq */
#define HDT_DEV_CTRLQ (1u << 17) /* console: control transmitq (negotiates MULTIPORT) */
/* Device features a case needs (SKIP when not offered). */
#define HDT_DEV_F_NET_MTU (1u << 18)  /* VIRTIO_NET_F_MTU */
#define HDT_DEV_F_NET_CSUM (1u << 19) /* VIRTIO_NET_F_CSUM */
#define HDT_DEV_F_NET_MRG (1u << 20)  /* VIRTIO_NET_F_MRG_RXBUF */

#define HDT_NET_HDR 12u   /* 5.1.6: struct virtio_net_hdr with VERSION_1 */
#define HDT_NET_FRAME 60u /* a minimum Ethernet frame (no FCS) */

/* A readable net header (zeroed: no offload, GSO_NONE, num_buffers 0) in a
 * buffer of len bytes (>= 12). */
struct virtio_net_hdr *hdt_net_hdr(struct hdt_ctx *c, uint32_t len);
/* Fill an Ethernet frame of len bytes: broadcast destination, a locally
 * administered source, EtherType 0x88b5 (local experimental). */
void hdt_net_frame(uint8_t *p, uint32_t len);
/* A transmit request at descriptors head, head+1: header, frame of
 * frame_len bytes (readable). *hdr (if hdr) points at the header. Returns
 * the next free index. */
unsigned hdt_net_tx(struct hdt_ctx *c, unsigned head, uint32_t frame_len,
                    struct virtio_net_hdr **hdr);
/* A console control message (5.3.6.2) in a readable buffer of len bytes. */
uint8_t *hdt_con_ctrl(struct hdt_ctx *c, uint32_t id, uint16_t event, uint16_t value, uint32_t len);
/* A pmem request at head, head+1: le32 type (readable), le32 ret
 * (writable, registered as status_off). Returns the next free index. */
unsigned hdt_pmem_req(struct hdt_ctx *c, unsigned head, uint32_t type);

/* The well-formed request of the device's default queue at head (blk read
 * of sector 0, net frame, console bytes, 64 random bytes, pmem flush).
 * Returns the next free index. */
unsigned hdt_dev_valid_req(struct hdt_ctx *c, unsigned head);

/* One readable buffer of len bytes (a net frame with its header on net,
 * bytes on console) on the aux queue, notified; wait: until it is used.
 * True when it was (or when not waiting). */
bool hdt_aux_tx(struct hdt_ctx *c, uint32_t len, bool wait);

/* Shapes the case files share: the device's valid request at 0 / one
 * descriptor at 0 of len with flags, posted (hdt_post0: post head 0); a
 * receive chain at head of n descriptors; one receive buffer posted and
 * hdt_rx_go: kick the receive queue, then send a frame / bytes on the aux
 * transmitq for the device to deliver. All return 0 (a case's run). */
int hdt_valid(struct hdt_ctx *c);
int hdt_one_desc(struct hdt_ctx *c, uint32_t len, uint16_t flags);
int hdt_post0(struct hdt_ctx *c);
unsigned hdt_rx_chain(struct hdt_ctx *c, unsigned head, const uint32_t *len, const uint16_t *flags,
                      unsigned n);
int hdt_rx_one(struct hdt_ctx *c, uint32_t len, uint16_t flags);
int hdt_rx_go(struct hdt_ctx *c);

#endif
