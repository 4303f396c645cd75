/* SPDX-License-Identifier: Apache-2.0 */
/*
 * virtqueue_packed.h - internal to drivers/virtio: the packed-ring half of
 * the driver queue API (virtio 1.2 section 2.8). virtqueue.c owns the public
 * API (virtqueue.h) and forwards every call on a queue created with
 * vq_config.packed to these functions; their contracts are the public
 * ones. Nothing outside virtqueue.c includes this header.
 */
#ifndef RINGLOOP_VIRTQUEUE_PACKED_H
#define RINGLOOP_VIRTQUEUE_PACKED_H

#include "virtqueue.h"

struct vq_packed;

int vqp_create(const struct vq_config *cfg, struct vq_packed **out);
void vqp_destroy(struct vq_packed *p);
int vqp_add_sgs(struct vq_packed *p, const struct vq_sg *sgs, unsigned out_sgs, unsigned in_sgs,
                void *token);
bool vqp_kick_prepare(struct vq_packed *p);
int vqp_get_buf(struct vq_packed *p, void **token, uint32_t *len);
bool vqp_has_used(struct vq_packed *p);
uint16_t vqp_peek_used_idx(const struct vq_packed *p);
void vqp_disable_cb(struct vq_packed *p);
int vqp_enable_cb(struct vq_packed *p);
int vqp_enable_cb_delayed(struct vq_packed *p);
void *vqp_detach_unused(struct vq_packed *p);
bool vqp_is_broken(const struct vq_packed *p);
unsigned vqp_num_free(const struct vq_packed *p);
uint32_t vqp_get_size(const struct vq_packed *p);
void vqp_get_ring_addrs(const struct vq_packed *p, uint64_t *desc, uint64_t *driver,
                        uint64_t *device);
const struct vq_stats *vqp_get_stats(const struct vq_packed *p);

#endif
