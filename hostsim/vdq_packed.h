/* SPDX-License-Identifier: Apache-2.0 */
/*
 * vdq_packed.h - internal: the packed-layout half of the vdq API
 * (hostsim/vdq_packed.c). vdq.c dispatches each public vdq_* call here when
 * the queue is packed (cfg.packed / vdq_state.packed); nothing else should
 * include this header. Same contracts as the vdq_* function of the same
 * name in vdq.h.
 */
#ifndef RINGLOOP_VDQ_PACKED_H
#define RINGLOOP_VDQ_PACKED_H

#include "vdq.h"

/* Shared with vdq.c: mark q broken (first reason wins). */
void vdq_set_broken(struct vdq *q, const char *why, uint32_t a, uint32_t b);

int vdqp_init(struct vdq *q, const struct vdq_mem *mem, const struct vdq_config *cfg);
int vdqp_init_state(struct vdq *q, const struct vdq_mem *mem, const struct vdq_state *st);
void vdqp_get_state(const struct vdq *q, struct vdq_state *st);
int vdqp_pop(struct vdq *q, struct vdq_chain *c);
int vdqp_push(struct vdq *q, uint16_t id, uint32_t len);
bool vdqp_interrupt_prepare(struct vdq *q);
void vdqp_disable_notify(struct vdq *q);
int vdqp_enable_notify(struct vdq *q);
bool vdqp_has_avail(struct vdq *q);
int vdqp_unpop(struct vdq *q, const uint16_t *heads, uint16_t chains);
int vdqp_enable_notify_more(struct vdq *q);

#endif
