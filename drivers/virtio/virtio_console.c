/* SPDX-License-Identifier: Apache-2.0 */
/*
 * virtio_console.c - virtio console driver: life cycle and the ports' data
 * path (VIRTIO 1.2 5.3; see virtio_console.h; the multiport control queues
 * are in virtio_console_mp.c).
 *
 * 5.3.6: the driver keeps receive buffers on each port's receiveq and
 * places outgoing bytes on its transmitq. Buffers are posted before
 * DRIVER_OK and kicked after it (3.1.1); with MULTIPORT every port the
 * driver has queues for gets its buffers at setup (5.3.5 step 4: "the
 * receiveq for each port is populated"), before the device announces it.
 *
 * Invariants: per port, at most one receive buffer is "current" (taken
 * from the used ring, cur_off < cur_len bytes left to hand out); every
 * other buffer is in the ring. A buffer is re-posted as soon as it is
 * consumed. cur_len comes from the used ring and is bounded by the buffer
 * size (virtqueue.c).
 */
#include <errno.h>
#include <string.h>

#include "virtio_console_internal.h"

#define CON_DRIVER_FEATURES                                                                        \
    ((1ull << VIRTIO_CONSOLE_F_SIZE) | (1ull << VIRTIO_CONSOLE_F_MULTIPORT))

/* ---- life cycle (virtio_driver.h) ---- */

/* 5.3.4: max_nr_ports is valid with MULTIPORT; we serve as many of those
 * ports as we have queues for. */
static int con_config(struct virtio_device *dev)
{
    struct virtio_console *con = dev->driver_priv;
    struct virtio_console_config cfg;
    uint32_t max;

    con->multiport = virtio_has_feature(dev, VIRTIO_CONSOLE_F_MULTIPORT);
    con->nports = 1;
    if (!con->multiport)
        return 0;
    if (virtio_cread(dev, 0, &cfg, 8) < 0) /* rows, cols, max_nr_ports */
        return -EIO;
    max = vr_le32_to_cpu(cfg.max_nr_ports);
    con->nports = max == 0 ? 1 : max > VIRTIO_CONSOLE_MAX_PORTS ? VIRTIO_CONSOLE_MAX_PORTS : max;
    return 0;
}

/* 5.3.2: port 0's pair, then (MULTIPORT) the control pair and a pair per
 * further port. */
static uint32_t con_num_vqs(struct virtio_device *dev)
{
    struct virtio_console *con = dev->driver_priv;

    return con->multiport ? 2 + 2 * con->nports : 2;
}

static void con_port_free(struct con_port *p)
{
    virtio_rx_bufs_free(&p->rx);
    p->cur = -1;
}

/* 5.3.6: receive buffers posted before DRIVER_OK, kicked after it. */
static int con_setup(struct virtio_device *dev)
{
    struct virtio_console *con = dev->driver_priv;
    uint32_t p;
    int err;

    for (p = 0; p < VIRTIO_CONSOLE_MAX_PORTS; p++) {
        memset(&con->port[p].info, 0, sizeof(con->port[p].info));
        con->port[p].cur = -1;
    }
    /* Without MULTIPORT port 0 simply is there, both ends open. */
    con->port[0].info.exists = !con->multiport;
    con->port[0].info.host_open = con->port[0].info.guest_open = !con->multiport;
    for (p = 0; p < con->nports; p++) {
        err = virtio_rx_bufs_fill(dev, VIRTIO_CONSOLE_PORT_RXQ(p), &con->port[p].rx,
                                  VIRTIO_CONSOLE_RX_BUFS, VIRTIO_CONSOLE_BUF_SIZE);
        if (err < 0)
            return err;
    }
    con_mp_reset(con);
    if (!con->multiport)
        return 0;
    return virtio_rx_bufs_fill(dev, VIRTIO_CONSOLE_CTRL_RXQ, &con->ctrl_rx,
                               VIRTIO_CONSOLE_CTRL_BUFS, VIRTIO_CONSOLE_CTRL_BUF_SIZE);
}

static void con_teardown(struct virtio_device *dev)
{
    struct virtio_console *con = dev->driver_priv;
    uint32_t p;

    for (p = 0; p < VIRTIO_CONSOLE_MAX_PORTS; p++)
        con_port_free(&con->port[p]);
    virtio_rx_bufs_free(&con->ctrl_rx);
}

static const struct virtio_driver con_driver = {
    VIRTIO_DRIVER_STATE(struct virtio_console),
    .device_id = VIRTIO_ID_CONSOLE,
    .nvqs = 2 + 2 * VIRTIO_CONSOLE_MAX_PORTS,
    .features = CON_DRIVER_FEATURES,
    .dma_offset = offsetof(struct virtio_console, tx_buf),
    .dma_size = VIRTIO_CONSOLE_BUF_SIZE,
    .lock_offsets = {offsetof(struct virtio_console, rx_lock),
                     offsetof(struct virtio_console, tx_lock)},
    .nlocks = 2,
    .config = con_config,
    .num_vqs = con_num_vqs,
    .setup = con_setup,
    .teardown = con_teardown,
};
_Static_assert(2 + 2 * VIRTIO_CONSOLE_MAX_PORTS <= VIRTIO_MAX_VQS, "console queues");

int virtio_console_probe(struct virtio_device *dev, struct virtio_console **out)
{
    int err = virtio_driver_probe(dev, &con_driver);

    if (err)
        return err;
    *out = dev->driver_priv;
    con_mp_announce(*out);
    return 0;
}

void virtio_console_remove(struct virtio_console *con)
{
    if (con)
        virtio_driver_remove(con->dev);
}

int virtio_console_reinit(struct virtio_console *con)
{
    int err = virtio_driver_reinit(con->dev, 0);

    if (err == 0)
        con_mp_announce(con);
    return err;
}

/* Reset and start again after a failure; rx_lock held when rx_held. */
static void con_recover(struct virtio_console *con, int err, bool rx_held)
{
    virt_log(VIRT_LOG_ERR, "%s: queue failed (%d), resetting", con->dev->name, err);
    (void)virtio_driver_reinit(con->dev, rx_held ? 1 : 0);
}

/* tx_lock held: follow the control queue; a failure there is the device's
 * (recovered by the caller like a data queue's). */
static int con_ctrl(struct virtio_console *con)
{
    return con->multiport ? con_mp_poll(con) : 0;
}

/* ---- I/O ---- */

int virtio_console_port_write(struct virtio_console *con, uint32_t port, const void *buf,
                              size_t len)
{
    const uint8_t *p = buf;
    struct con_port *cp;
    size_t done = 0;
    int r;

    if (len > INT32_MAX || port >= VIRTIO_CONSOLE_MAX_PORTS)
        return -EINVAL;
    cp = &con->port[port];
    virt_lock_acquire(&con->tx_lock);
    r = con_ctrl(con);
    if (r == 0 && (port >= con->nports || !cp->info.exists))
        r = -ENODEV;
    else if (r == 0 && !cp->info.host_open)
        r = -ENOTCONN; /* QEMU holds the buffer until the host end opens */
    while (r == 0 && done < len) {
        uint32_t chunk =
            len - done > VIRTIO_CONSOLE_BUF_SIZE ? VIRTIO_CONSOLE_BUF_SIZE : (uint32_t)(len - done);
        struct vq_sg sg = {.buf = con->tx_buf, .len = chunk};
        int e;

        memcpy(con->tx_buf, p + done, chunk);
        e = virtio_vq_exec(con->dev, VIRTIO_CONSOLE_PORT_TXQ(port), &sg, 1, 0,
                           VIRTIO_CONSOLE_TIMEOUT_NS);
        if (e < 0) {
            r = e;
            break;
        }
        done += chunk;
        con->stats.tx_bytes += chunk;
        cp->info.tx_bytes += chunk;
    }
    virt_lock_release(&con->tx_lock);
    if (r < 0) {
        if (r == -ETIMEDOUT || virtio_is_failed(con->dev))
            con_recover(con, r, false);
        return r;
    }
    return (int)done;
}

int virtio_console_write(struct virtio_console *con, const void *buf, size_t len)
{
    return virtio_console_port_write(con, 0, buf, len);
}

struct con_rx_ctx {
    struct virtio_console *con;
    uint32_t port;
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
    struct con_port *cp = &con->port[ctx->port];
    unsigned q = VIRTIO_CONSOLE_PORT_RXQ(ctx->port);
    struct virtqueue *vq = virtio_vq(con->dev, q);

    while (ctx->got < ctx->cap) {
        if (cp->cur < 0) {
            uint32_t i, len;
            int r = virtio_rx_bufs_get(con->dev, q, &cp->rx, &i, &len);

            if (r == 0)
                break;
            if (r < 0)
                return r;
            cp->cur = (int32_t)i;
            cp->cur_len = len; /* <= VIRTIO_CONSOLE_BUF_SIZE: vq checked it */
            cp->cur_off = 0;
            if (len == 0)
                con->stats.rx_empty++;
        }
        if (cp->cur_off < cp->cur_len) {
            size_t n = cp->cur_len - cp->cur_off;

            if (n > ctx->cap - ctx->got)
                n = ctx->cap - ctx->got;
            memcpy(ctx->out + ctx->got, virtio_rx_buf(&cp->rx, (uint32_t)cp->cur) + cp->cur_off,
                   n);
            cp->cur_off += (uint32_t)n;
            ctx->got += n;
            con->stats.rx_bytes += n;
            cp->info.rx_bytes += n;
        }
        if (cp->cur_off >= cp->cur_len) {
            /* Consumed: give it back to the device. */
            (void)virtio_rx_bufs_post(con->dev, q, &cp->rx, (uint32_t)cp->cur);
            (void)vq_kick(vq);
            cp->cur = -1;
        }
    }
    return ctx->got > 0;
}

int virtio_console_port_read(struct virtio_console *con, uint32_t port, void *buf, size_t cap,
                             uint64_t timeout_ns)
{
    struct con_rx_ctx ctx = {.con = con, .port = port, .out = buf, .cap = cap};
    int r;

    if (cap == 0 || cap > INT32_MAX || port >= VIRTIO_CONSOLE_MAX_PORTS)
        return -EINVAL;
    virt_lock_acquire(&con->rx_lock);
    virt_lock_acquire(&con->tx_lock);
    r = con_ctrl(con);
    virt_lock_release(&con->tx_lock);
    if (r == 0 && virtio_is_failed(con->dev))
        r = -EIO;
    if (r == 0 && (port >= con->nports || !con->port[port].info.exists)) {
        r = -ENODEV;
    } else if (r == 0 && timeout_ns == 0) {
        r = con_rx_poll(&ctx);
        if (r == 0)
            r = -EAGAIN;
    } else if (r == 0) {
        r = virtio_vq_wait(con->dev, VIRTIO_CONSOLE_PORT_RXQ(port), con_rx_poll, &ctx, timeout_ns);
    }
    if (r < 0 && r != -EAGAIN && r != -ETIMEDOUT && r != -ENODEV && virtio_is_failed(con->dev))
        con_recover(con, r, true);
    virt_lock_release(&con->rx_lock);
    if (r < 0 && ctx.got == 0)
        return r;
    return (int)ctx.got;
}

int virtio_console_read(struct virtio_console *con, void *buf, size_t cap, uint64_t timeout_ns)
{
    return virtio_console_port_read(con, 0, buf, cap, timeout_ns);
}

uint32_t virtio_console_nports(const struct virtio_console *con)
{
    return con->nports;
}

bool virtio_console_is_multiport(const struct virtio_console *con)
{
    return con->multiport;
}

int virtio_console_port_info(struct virtio_console *con, uint32_t port,
                             struct virtio_console_port_info *info)
{
    int r;

    if (port >= VIRTIO_CONSOLE_MAX_PORTS)
        return -EINVAL;
    virt_lock_acquire(&con->tx_lock);
    r = con_ctrl(con);
    *info = con->port[port].info;
    virt_lock_release(&con->tx_lock);
    if (r < 0 && virtio_is_failed(con->dev))
        con_recover(con, r, false);
    return 0;
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
