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

#include "virtio_platform.h"

#define CON_RXQ VIRTIO_CONSOLE_RXQ0
#define CON_TXQ VIRTIO_CONSOLE_TXQ0
#define CON_DRIVER_FEATURES (1ull << VIRTIO_CONSOLE_F_SIZE)

struct virtio_console {
    struct virtio_device *dev;
    struct virt_lock rx_lock;
    struct virt_lock tx_lock;
    uint8_t *rx_mem; /* nrx * VIRTIO_CONSOLE_BUF_SIZE, written by device */
    size_t rx_bytes;
    uint32_t nrx;
    int32_t cur; /* index of the current buffer, -1 for none */
    uint32_t cur_len;
    uint32_t cur_off;
    uint8_t *tx_buf; /* VIRTIO_CONSOLE_BUF_SIZE, written by driver */
    struct virtio_console_stats stats;
};

static uint8_t *con_rx_buf(struct virtio_console *con, uint32_t i)
{
    return con->rx_mem + (size_t)i * VIRTIO_CONSOLE_BUF_SIZE;
}

static int con_post_rx(struct virtio_console *con, uint32_t i)
{
    struct vq_sg sg = {.buf = con_rx_buf(con, i), .len = VIRTIO_CONSOLE_BUF_SIZE};

    return vq_add_sgs(virtio_vq(con->dev, CON_RXQ), &sg, 0, 1, sg.buf);
}

static void con_free_rx(struct virtio_console *con)
{
    if (con->rx_mem)
        virt_dma_free(con->rx_mem, con->rx_bytes);
    con->rx_mem = NULL;
    con->nrx = 0;
    con->cur = -1;
}

static int con_start(struct virtio_console *con)
{
    static const struct virtio_vq_spec specs[2] = {
        {.max_size = 0, .callback = NULL},
        {.max_size = 0, .callback = NULL},
    };
    struct virtio_device *dev = con->dev;
    uint64_t dma;
    uint32_t i;
    int err;

    con->cur = -1;
    err = virtio_device_init(dev, CON_DRIVER_FEATURES);
    if (err < 0)
        return err;
    err = virtio_find_vqs(dev, 2, specs);
    if (err < 0)
        goto err_fail;
    con->nrx = vq_get_size(virtio_vq(dev, CON_RXQ));
    if (con->nrx > VIRTIO_CONSOLE_RX_BUFS)
        con->nrx = VIRTIO_CONSOLE_RX_BUFS;
    con->rx_bytes = (size_t)con->nrx * VIRTIO_CONSOLE_BUF_SIZE;
    con->rx_mem = virt_dma_alloc(con->rx_bytes, &dma);
    err = -ENOMEM;
    if (!con->rx_mem)
        goto err_del;
    for (i = 0; i < con->nrx; i++) {
        err = con_post_rx(con, i);
        if (err < 0)
            goto err_del;
    }
    virtio_device_ready(dev);
    return vq_kick(virtio_vq(dev, CON_RXQ));

err_del:
    (void)virtio_reset(dev);
    virtio_del_vqs(dev);
    con_free_rx(con);
err_fail:
    virtio_device_fail(dev);
    return err;
}

static void con_stop(struct virtio_console *con)
{
    (void)virtio_reset(con->dev);
    virtio_del_vqs(con->dev);
    con_free_rx(con);
}

/* Both locks held (rx then tx). */
static int con_reinit_locked(struct virtio_console *con)
{
    con_stop(con);
    con->stats.reinits++;
    return con_start(con);
}

int virtio_console_reinit(struct virtio_console *con)
{
    int err;

    virt_lock_acquire(&con->rx_lock);
    virt_lock_acquire(&con->tx_lock);
    err = con_reinit_locked(con);
    virt_lock_release(&con->tx_lock);
    virt_lock_release(&con->rx_lock);
    return err;
}

int virtio_console_probe(struct virtio_device *dev, struct virtio_console **out)
{
    struct virtio_console *con;
    uint64_t dma;
    int err = -ENOMEM;

    if (dev->device_id != VIRTIO_ID_CONSOLE)
        return -ENODEV;
    con = virt_zalloc(sizeof(*con));
    if (!con)
        return -ENOMEM;
    con->dev = dev;
    con->tx_buf = virt_dma_alloc(VIRTIO_CONSOLE_BUF_SIZE, &dma);
    if (!con->tx_buf)
        goto err_free;
    err = con_start(con);
    if (err < 0)
        goto err_free_tx;
    dev->driver_priv = con;
    *out = con;
    return 0;

err_free_tx:
    virt_dma_free(con->tx_buf, VIRTIO_CONSOLE_BUF_SIZE);
err_free:
    virt_free(con);
    return err;
}

void virtio_console_remove(struct virtio_console *con)
{
    if (!con)
        return;
    con_stop(con);
    con->dev->driver_priv = NULL;
    virt_dma_free(con->tx_buf, VIRTIO_CONSOLE_BUF_SIZE);
    virt_free(con);
}

/* Reset and start again after a failure; rx_lock held when rx_held. */
static void con_recover(struct virtio_console *con, int err, bool rx_held)
{
    virt_log(VIRT_LOG_ERR, "%s: queue failed (%d), resetting", con->dev->name, err);
    if (!rx_held)
        virt_lock_acquire(&con->rx_lock);
    virt_lock_acquire(&con->tx_lock);
    (void)con_reinit_locked(con);
    virt_lock_release(&con->tx_lock);
    if (!rx_held)
        virt_lock_release(&con->rx_lock);
}

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
            void *token;
            uint32_t len;
            int r = vq_get_buf(vq, &token, &len);

            if (r == -EAGAIN)
                break;
            if (r < 0)
                return r;
            con->cur = (int32_t)(((uint8_t *)token - con->rx_mem) / VIRTIO_CONSOLE_BUF_SIZE);
            con->cur_len = len; /* <= VIRTIO_CONSOLE_BUF_SIZE: vq checked it */
            con->cur_off = 0;
            if (len == 0)
                con->stats.rx_empty++;
        }
        if (con->cur_off < con->cur_len) {
            size_t n = con->cur_len - con->cur_off;

            if (n > ctx->cap - ctx->got)
                n = ctx->cap - ctx->got;
            memcpy(ctx->out + ctx->got, con_rx_buf(con, (uint32_t)con->cur) + con->cur_off, n);
            con->cur_off += (uint32_t)n;
            ctx->got += n;
            con->stats.rx_bytes += n;
        }
        if (con->cur_off >= con->cur_len) {
            /* Consumed: give it back to the device. */
            (void)con_post_rx(con, (uint32_t)con->cur);
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
