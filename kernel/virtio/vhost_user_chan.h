/* SPDX-License-Identifier: Apache-2.0 */
/*
 * vhost_user_chan.h - the in-image carrier of the vhost-user handler
 * (hostsim/vhost_user.c): an in-memory message channel between a frontend
 * in the image and a backend driving a blk model over a RAM disk.
 *
 * What a Unix socket and the kernel give the hosted daemon is modelled by
 * a small table of refcounted objects named by small integers ("fds"):
 * memory (the kernel's identity map: one region, gpa = hva), events (a
 * counter, for kick / call / err, like an eventfd), and state buffers (for
 * SET_DEVICE_STATE_FD, like a pipe). Passing an fd with a message takes a
 * reference (as SCM_RIGHTS duplicates it); the backend's close drops it.
 * Messages are copied onto the "wire" before the handler sees them, so the
 * frontend's buffer is never shared with the backend.
 *
 * Single CPU: the frontend calls vuchan_send() and vuchan_run() (the
 * carrier's poll loop: deliver pending kicks); nothing runs concurrently.
 */
#ifndef RINGLOOP_VHOST_USER_CHAN_H
#define RINGLOOP_VHOST_USER_CHAN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "vdev.h"
#include "vhost_user.h"

#define VUCHAN_MAX_FDS 32

enum vuchan_kind { VUCHAN_FREE, VUCHAN_MEM, VUCHAN_EVENT, VUCHAN_STATE };

/* The identity-mapped guest memory (as kernel/virtio/loopback.c has it). */
#define VUCHAN_MEM_GPA 0x1000ull
#define VUCHAN_MEM_SIZE ((64ull << 30) - 0x1000)

struct vuchan_obj {
    enum vuchan_kind kind;
    uint32_t refs;
    uint64_t count; /* EVENT: signals not yet taken */
    uint8_t *buf;   /* STATE: VU_STATE_MAX_BYTES */
    size_t len;
};

struct vuchan {
    struct vu_backend *b;
    struct vdev dev;
    bool closed; /* the handler said "close the connection" */
    struct vuchan_obj objs[VUCHAN_MAX_FDS];
    uint8_t wire[VU_MAX_MSG];
    struct vu_reply reply;
};

/* The frontend's side of the fd table (fd 0 is never used). */
int vuchan_fd_new(struct vuchan *c, enum vuchan_kind kind);
void vuchan_fd_close(struct vuchan *c, int fd);
void vuchan_event_signal(struct vuchan *c, int fd);
uint64_t vuchan_event_take(struct vuchan *c, int fd);
/* STATE objects: what the backend wrote / what it will read. */
int vuchan_state_get(struct vuchan *c, int fd, const uint8_t **buf, size_t *len);
int vuchan_state_set(struct vuchan *c, int fd, const void *buf, size_t len);
/* Objects still referenced (a leak check once everything is closed). */
unsigned vuchan_fds_open(const struct vuchan *c);

/* A backend with a blk model over disk (bytes, a multiple of 512) behind
 * it; c is caller memory. Close with vuchan_close(). */
int vuchan_open(struct vuchan *c, void *disk, uint64_t bytes);
/* Destroy the backend (fds it held closed) and the device; the frontend's
 * fd objects stay until the frontend closes them. */
void vuchan_close(struct vuchan *c);
/* Send one message with fds (references taken); 0 and *reply (NULL when
 * the request has none), or the handler's negative verdict: the channel is
 * closed from then on (-EPIPE). */
int vuchan_send(struct vuchan *c, const void *msg, size_t len, const int *fds, unsigned nfds,
                const struct vu_reply **reply);
/* The carrier's loop: deliver pending kicks, serve polled rings; returns
 * chains completed. */
int vuchan_run(struct vuchan *c);

#endif
