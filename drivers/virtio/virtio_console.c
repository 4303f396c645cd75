/* SPDX-License-Identifier: Apache-2.0 */
/*
 * virtio_console.c - virtio console driver, port 0 (VIRTIO 1.2 5.3; see
 * virtio_console.h).
 *
 * 5.3.6: the driver keeps receive buffers on receiveq(port0) and places
 * outgoing bytes on transmitq(port0). Buffers are posted before DRIVER_OK
 * and kicked after it (3.1.1).
 *
 * Invariants: at most one receive buffer is "current" (taken from the used
 * ring, cur_off < cur_len bytes left to hand out); every other buffer is in
 * the ring. A buffer is re-posted as soon as it is consumed. cur_len comes
 * from the used ring and is bounded by the buffer size (virtqueue.c).
 */
#include "virtio_console.h"

#include <errno.h>
#include <string.h>

#include "virtio_driver.h"
#include "virtio_platform.h"

#define CON_RXQ VIRTIO_CONSOLE_RXQ0
#define CON_TXQ VIRTIO_CONSOLE_TXQ0
#define CON_DRIVER_FEATURES (1ull << VIRTIO_CONSOLE_F_SIZE)

struct virtio_console {
    struct virtio_device *dev;
    struct virt_lock rx_lock; /* lock order: rx_lock, then tx_lock */
    struct virt_lock tx_lock;
    struct virtio_rx_bufs rx; /* VIRTIO_CONSOLE_BUF_SIZE each */
    int32_t cur;              /* index of the current buffer, -1 for none */
    uint32_t cur_len;
    uint32_t cur_off;
    void *tx_buf; /* VIRTIO_CONSOLE_BUF_SIZE, written by driver */
    struct virtio_console_stats stats;
};

/* ---- life cycle (virtio_driver.h) ---- */

/* 5.3.6: receive buffers posted before DRIVER_OK, kicked after it. */
static int con_setup(struct virtio_device *dev)
{
    struct virtio_console *con = dev->driver_priv;

    con->cur = -1;
    return virtio_rx_bufs_fill(dev, CON_RXQ, &con->rx, VIRTIO_CONSOLE_RX_BUFS,
                               VIRTIO_CONSOLE_BUF_SIZE);
}

static void con_teardown(struct virtio_device *dev)
{
    struct virtio_console *con = dev->driver_priv;

    virtio_rx_bufs_free(&con->rx);
    con->cur = -1;
}

static const struct virtio_driver con_driver = {
    VIRTIO_DRIVER_STATE(struct virtio_console),
    .device_id = VIRTIO_ID_CONSOLE,
    .nvqs = 2,
    .features = CON_DRIVER_FEATURES,
    .dma_offset = offsetof(struct virtio_console, tx_buf),
    .dma_size = VIRTIO_CONSOLE_BUF_SIZE,
    .lock_offsets = {offsetof(struct virtio_console, rx_lock),
                     offsetof(struct virtio_console, tx_lock)},
    .nlocks = 2,
    .setup = con_setup,
    .teardown = con_teardown,
};

/* virtio_console_probe(), virtio_console_remove(), virtio_console_reinit() */
VIRTIO_DRIVER_ENTRY_POINTS(console, con_driver)

/* Reset and start again after a failure; rx_lock held when rx_held. */
static void con_recover(struct virtio_console *con, int err, bool rx_held)
{
    virt_log(VIRT_LOG_ERR, "%s: queue failed (%d), resetting", con->dev->name, err);
    (void)virtio_driver_reinit(con->dev, rx_held ? 1 : 0);
}

/* ---- I/O ---- */

int virtio_console_write(struct virtio_console *con, const void *buf, size_t len)
{
    const uint8_t *p = buf;
    size_t done = 0;
    int r = 0;

    if (len > INT32_MAX)
        return -EINVAL;
    virt_lock_acquire(&con->tx_lock);
    while (done < len) {
        uint32_t chunk =
            len - done > VIRTIO_CONSOLE_BUF_SIZE ? VIRTIO_CONSOLE_BUF_SIZE : (uint32_t)(len - done);
        struct vq_sg sg = {.buf = con->tx_buf, .len = chunk};

        memcpy(con->tx_buf, p + done, chunk);
        r = virtio_vq_exec(con->dev, CON_TXQ, &sg, 1, 0, VIRTIO_CONSOLE_TIMEOUT_NS);
        if (r < 0)
            break;
        done += chunk;
        con->stats.tx_bytes += chunk;
    }
    virt_lock_release(&con->tx_lock);
    if (r < 0) {
        if (r == -ETIMEDOUT || virtio_is_failed(con->dev))
            con_recover(con, r, false);
        return r;
    }
    return (int)done;
}

struct con_rx_ctx {
    struct virtio_console *con;
    uint8_t *out;
    size_t cap;
    size_t got;
};

/* Under rx_lock: hand out buffered bytes; >0 once at least one byte was
 * copied, 0 when nothing has arrived. */
static int con_rx_poll(void *c)
{
    struct con_rx_ctx *ctx = c;
    struct virtio_console *con = ctx->con;
    struct virtqueue *vq = virtio_vq(con->dev, CON_RXQ);

    while (ctx->got < ctx->cap) {
        if (con->cur < 0) {
            uint32_t i, len;
            int r = virtio_rx_bufs_get(con->dev, CON_RXQ, &con->rx, &i, &len);

            if (r == 0)
                break;
            if (r < 0)
                return r;
            con->cur = (int32_t)i;
            con->cur_len = len; /* <= VIRTIO_CONSOLE_BUF_SIZE: vq checked it */
            con->cur_off = 0;
            if (len == 0)
                con->stats.rx_empty++;
        }
        if (con->cur_off < con->cur_len) {
            size_t n = con->cur_len - con->cur_off;

            if (n > ctx->cap - ctx->got)
                n = ctx->cap - ctx->got;
            memcpy(ctx->out + ctx->got, virtio_rx_buf(&con->rx, (uint32_t)con->cur) + con->cur_off,
                   n);
            con->cur_off += (uint32_t)n;
            ctx->got += n;
            con->stats.rx_bytes += n;
        }
        if (con->cur_off >= con->cur_len) {
            /* Consumed: give it back to the device. */
            (void)virtio_rx_bufs_post(con->dev, CON_RXQ, &con->rx, (uint32_t)con->cur);
            (void)vq_kick(vq);
            con->cur = -1;
        }
    }
    return ctx->got > 0;
}

int virtio_console_read(struct virtio_console *con, void *buf, size_t cap, uint64_t timeout_ns)
{
    struct con_rx_ctx ctx = {.con = con, .out = buf, .cap = cap};
    int r;

    if (cap == 0 || cap > INT32_MAX)
        return -EINVAL;
    virt_lock_acquire(&con->rx_lock);
    if (virtio_is_failed(con->dev)) {
        r = -EIO;
    } else if (timeout_ns == 0) {
        r = con_rx_poll(&ctx);
        if (r == 0)
            r = -EAGAIN;
    } else {
        r = virtio_vq_wait(con->dev, CON_RXQ, con_rx_poll, &ctx, timeout_ns);
    }
    if (r < 0 && r != -EAGAIN && r != -ETIMEDOUT && virtio_is_failed(con->dev))
        con_recover(con, r, true);
    virt_lock_release(&con->rx_lock);
    if (r < 0 && ctx.got == 0)
        return r;
    return (int)ctx.got;
}

void virtio_console_get_size(struct virtio_console *con, uint16_t *cols, uint16_t *rows)
{
    struct virtio_console_config cfg;

    *cols = *rows = 0;
    if (!virtio_has_feature(con->dev, VIRTIO_CONSOLE_F_SIZE))
        return;
    if (virtio_cread(con->dev, 0, &cfg, 4) < 0)
        return;
    *cols = vr_le16_to_cpu(cfg.cols);
    *rows = vr_le16_to_cpu(cfg.rows);
}

struct virtio_device *virtio_console_device(struct virtio_console *con)
{
    return con->dev;
}

const struct virtio_console_stats *virtio_console_get_stats(const struct virtio_console *con)
{
    return &con->stats;
}
