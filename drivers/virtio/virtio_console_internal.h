/* SPDX-License-Identifier: Apache-2.0 */
/*
 * virtio_console_internal.h - the console driver's state, shared by the
 * data path (virtio_console.c) and the multiport control queues
 * (virtio_console_mp.c). Not for other users.
 */
#ifndef RINGLOOP_VIRTIO_CONSOLE_INTERNAL_H
#define RINGLOOP_VIRTIO_CONSOLE_INTERNAL_H

#include "virtio_console.h"
#include "virtio_driver.h"
#include "virtio_platform.h"

struct con_port {
    struct virtio_rx_bufs rx; /* VIRTIO_CONSOLE_BUF_SIZE each */
    int32_t cur;              /* index of the current buffer, -1 for none */
    uint32_t cur_len;
    uint32_t cur_off;
    struct virtio_console_port_info info;
};

struct virtio_console {
    struct virtio_device *dev;
    struct virt_lock rx_lock; /* lock order: rx_lock, then tx_lock */
    struct virt_lock tx_lock; /* also the control queues */
    struct con_port port[VIRTIO_CONSOLE_MAX_PORTS];
    uint32_t nports;              /* ports with queues (1 without MULTIPORT) */
    bool multiport;               /* MULTIPORT negotiated */
    bool ready_sent;              /* DEVICE_READY sent since the last start */
    struct virtio_rx_bufs ctrl_rx; /* VIRTIO_CONSOLE_CTRL_BUF_SIZE each */
    void *tx_buf; /* VIRTIO_CONSOLE_BUF_SIZE, written by driver */
    struct virtio_console_stats stats;
};

/* ---- virtio_console_mp.c (tx_lock held unless said) ---- */

/* Start: reset the ports' control state (setup()). */
void con_mp_reset(struct virtio_console *con);
/* Send DEVICE_READY if not yet, then handle every control message the
 * device has sent. 0 or -errno from the control queues. */
int con_mp_poll(struct virtio_console *con);
/* Probe, no lock held: DEVICE_READY and the device's announcements, until
 * the control queue has been quiet for a moment. */
void con_mp_announce(struct virtio_console *con);

#endif
