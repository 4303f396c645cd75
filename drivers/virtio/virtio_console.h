/* SPDX-License-Identifier: Apache-2.0 */
/*
 * virtio_console.h - virtio console driver (VIRTIO 1.2 5.3), port 0 only
 * (VIRTIO_CONSOLE_F_MULTIPORT is not negotiated), transport-agnostic.
 *
 * Receive buffers stay posted on receiveq(port0); virtio_console_read()
 * returns bytes the device has delivered, continuing inside a partly
 * consumed buffer. virtio_console_write() sends through a DMA bounce buffer
 * and waits until the device has taken every chunk.
 *
 * Results: byte counts, or -EAGAIN (nothing to read, timeout 0),
 * -ETIMEDOUT, -EINVAL, -EIO (broken queue / device needs reset: the
 * driver re-initialises the device before returning).
 *
 * Concurrency: one lock per direction inside.
 */
#ifndef RINGLOOP_VIRTIO_CONSOLE_H
#define RINGLOOP_VIRTIO_CONSOLE_H

#include <stddef.h>
#include <stdint.h>

#include "virtio.h"

#define VIRTIO_CONSOLE_BUF_SIZE 256
#define VIRTIO_CONSOLE_RX_BUFS 16
#define VIRTIO_CONSOLE_TIMEOUT_NS 2000000000ull

struct virtio_console;

struct virtio_console_stats {
    uint64_t tx_bytes;
    uint64_t rx_bytes;
    uint64_t rx_empty; /* used buffers with no bytes */
    uint64_t reinits;
};

int virtio_console_probe(struct virtio_device *dev, struct virtio_console **out);
void virtio_console_remove(struct virtio_console *con);
int virtio_console_reinit(struct virtio_console *con);
/* Returns len or -errno (len <= INT32_MAX). */
int virtio_console_write(struct virtio_console *con, const void *buf, size_t len);
/* Up to cap bytes; waits up to timeout_ns (0: do not wait) for the first. */
int virtio_console_read(struct virtio_console *con, void *buf, size_t cap, uint64_t timeout_ns);
/* Size from config when VIRTIO_CONSOLE_F_SIZE was offered, else 0x0. */
void virtio_console_get_size(struct virtio_console *con, uint16_t *cols, uint16_t *rows);
struct virtio_device *virtio_console_device(struct virtio_console *con);
const struct virtio_console_stats *virtio_console_get_stats(const struct virtio_console *con);

#endif
