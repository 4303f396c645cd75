/* SPDX-License-Identifier: Apache-2.0 */
/*
 * virtio_console.h - virtio console driver (VIRTIO 1.2 5.3),
 * transport-agnostic: port 0 and, when the device offers
 * VIRTIO_CONSOLE_F_MULTIPORT, up to VIRTIO_CONSOLE_MAX_PORTS ports through
 * the control queues (5.3.6.2; virtio_console_mp.c).
 *
 * Receive buffers stay posted on each port's receiveq; a read returns bytes
 * the device has delivered, continuing inside a partly consumed buffer. A
 * write sends through a DMA bounce buffer and waits until the device has
 * taken every chunk.
 *
 * Multiport: after DRIVER_OK the driver sends DEVICE_READY and, for every
 * port the device announces (DEVICE_ADD) with an id it has queues for,
 * PORT_READY(1) then PORT_OPEN(1) (the guest end of every port is open);
 * a port it has no queues for gets PORT_READY(0). The control receiveq is
 * read at probe (until it is quiet) and before every read, write and info
 * call, so hot-plug, names and the device end's open state are followed.
 * Without MULTIPORT only port 0 exists, as before.
 *
 * Results: byte counts, or -EAGAIN (nothing to read, timeout 0),
 * -ETIMEDOUT, -EINVAL, -ENODEV (no such port: not announced, or out of
 * range), -ENOTCONN (multiport: the device end of the port is closed; a
 * write would wait for it), -EIO (broken queue / device needs reset: the
 * driver re-initialises the device before returning).
 *
 * Concurrency: one lock per direction inside; the control queues are
 * handled under the transmit lock.
 */
#ifndef RINGLOOP_VIRTIO_CONSOLE_H
#define RINGLOOP_VIRTIO_CONSOLE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "virtio.h"

#define VIRTIO_CONSOLE_BUF_SIZE 256
#define VIRTIO_CONSOLE_RX_BUFS 16
#define VIRTIO_CONSOLE_TIMEOUT_NS 2000000000ull
/* Ports the driver serves: queues 0..7 (VIRTIO_MAX_VQS) are port 0, the
 * control pair and ports 1 and 2 (5.3.2). */
#define VIRTIO_CONSOLE_MAX_PORTS 3
#define VIRTIO_CONSOLE_NAME_MAX 31
#define VIRTIO_CONSOLE_CTRL_BUFS 8
#define VIRTIO_CONSOLE_CTRL_BUF_SIZE 128

struct virtio_console;

struct virtio_console_stats {
    uint64_t tx_bytes;
    uint64_t rx_bytes;
    uint64_t rx_empty; /* used buffers with no bytes */
    uint64_t reinits;
    uint64_t ctrl_rx;     /* control messages from the device */
    uint64_t ctrl_tx;     /* control messages sent */
    uint64_t ctrl_bad;    /* control messages ignored: short, unknown, port out of range */
    uint64_t ports_refused; /* DEVICE_ADD for a port without queues: PORT_READY(0) */
};

struct virtio_console_port_info {
    bool exists;     /* announced (always for port 0 without MULTIPORT) */
    bool is_console; /* CONSOLE_PORT received */
    bool host_open;  /* device end open (PORT_OPEN from the device; true without MULTIPORT) */
    bool guest_open; /* we sent PORT_OPEN(1) */
    char name[VIRTIO_CONSOLE_NAME_MAX + 1]; /* PORT_NAME, "" if none */
    uint64_t tx_bytes, rx_bytes;
};

int virtio_console_probe(struct virtio_device *dev, struct virtio_console **out);
void virtio_console_remove(struct virtio_console *con);
int virtio_console_reinit(struct virtio_console *con);
/* Port 0. Returns len or -errno (len <= INT32_MAX). */
int virtio_console_write(struct virtio_console *con, const void *buf, size_t len);
/* Port 0. Up to cap bytes; waits up to timeout_ns (0: do not wait) for the first. */
int virtio_console_read(struct virtio_console *con, void *buf, size_t cap, uint64_t timeout_ns);
/* The same on any port. */
int virtio_console_port_write(struct virtio_console *con, uint32_t port, const void *buf,
                              size_t len);
int virtio_console_port_read(struct virtio_console *con, uint32_t port, void *buf, size_t cap,
                             uint64_t timeout_ns);
/* Ports the driver has queues for (1 without MULTIPORT); whether MULTIPORT
 * was negotiated. */
uint32_t virtio_console_nports(const struct virtio_console *con);
bool virtio_console_is_multiport(const struct virtio_console *con);
/* A port's state (reads the control queue first). 0 or -EINVAL. */
int virtio_console_port_info(struct virtio_console *con, uint32_t port,
                             struct virtio_console_port_info *info);
/* Size from config when VIRTIO_CONSOLE_F_SIZE was offered, else 0x0. */
void virtio_console_get_size(struct virtio_console *con, uint16_t *cols, uint16_t *rows);
struct virtio_device *virtio_console_device(struct virtio_console *con);
const struct virtio_console_stats *virtio_console_get_stats(const struct virtio_console *con);

#endif
