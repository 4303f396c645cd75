/* SPDX-License-Identifier: Apache-2.0 */
/*
 * dev_console.c - virtio-console device model (VIRTIO 1.2 5.3), port 0
 * only (no MULTIPORT): receiveq0 (queue 0, device -> driver) and
 * transmitq0 (queue 1, driver -> device).
 *
 * Two bounded byte FIFOs of VDEV_CONSOLE_BUF bytes:
 *  - "out": what the driver wrote on transmitq0, for vdev_console_take();
 *  - "in": bytes for the driver, from vdev_console_inject() and, with echo
 *    on (the default), a copy of everything the driver wrote: the shell's
 *    `console write <text>` then `console read` sees <text> come back.
 * A full FIFO drops the newest bytes and counts them. Bytes in "in" go
 * into receiveq0 buffers as they come (a buffer gets as many as fit, used
 * length = bytes written); with none available the device asks for a
 * receiveq0 kick (vdq_enable_notify with re-check) and delivers then.
 *
 * Driver mistakes, counted as bad and returned with len 0, nothing moved:
 * a transmitq0 chain with no readable byte or with device-writable
 * buffers, a receiveq0 chain with no writable byte or with device-readable
 * buffers (5.3.6: transmit buffers are output, receive buffers input).
 * Reset keeps both FIFOs (device content, like a UART's buffer) and drops
 * only in-flight chains.
 */
#include <errno.h>
#include <string.h>

#include "snap_le.h"
#include "vdev_models.h"
#include "virtio_platform.h"

struct console_fifo {
    uint8_t buf[VDEV_CONSOLE_BUF];
    uint32_t head, len;
};

struct dev_console {
    struct virtio_console_config cfg;
    bool echo;
    struct console_fifo out, in;
    struct vdev_console_stats stats;
};

static struct dev_console *con_of(const struct vdev *d)
{
    return d->priv;
}

/* Append up to len bytes; returns how many fit. */
static uint32_t fifo_put(struct console_fifo *f, const uint8_t *p, uint32_t len)
{
    uint32_t i, room = VDEV_CONSOLE_BUF - f->len;

    if (len > room)
        len = room;
    for (i = 0; i < len; i++)
        f->buf[(f->head + f->len + i) % VDEV_CONSOLE_BUF] = p[i];
    f->len += len;
    return len;
}

/* Remove up to len bytes into p; returns how many. */
static uint32_t fifo_get(struct console_fifo *f, uint8_t *p, uint32_t len)
{
    uint32_t i;

    if (len > f->len)
        len = f->len;
    for (i = 0; i < len; i++)
        p[i] = f->buf[(f->head + i) % VDEV_CONSOLE_BUF];
    f->head = (f->head + len) % VDEV_CONSOLE_BUF;
    f->len -= len;
    return len;
}

static void con_read_config(struct vdev *d, uint32_t off, void *buf, uint32_t len)
{
    memcpy(buf, (const uint8_t *)&con_of(d)->cfg + off, len);
}

static bool con_tx_chain(struct vdev *d, unsigned qi, const struct vdq_chain *c, uint32_t *written)
{
    struct dev_console *k = con_of(d);
    uint8_t buf[256];
    uint32_t off;

    (void)qi;
    *written = 0; /* nothing is written into transmit buffers */
    if (c->out_len == 0 || c->in_len) {
        k->stats.bad++;
        return true;
    }
    for (off = 0; off < c->out_len; off += sizeof(buf)) {
        uint32_t n = c->out_len - off < sizeof(buf) ? c->out_len - off : sizeof(buf), put;

        vdq_chain_read(c, off, buf, n);
        put = fifo_put(&k->out, buf, n);
        k->stats.tx_dropped += n - put;
        if (k->echo) {
            put = fifo_put(&k->in, buf, n);
            k->stats.rx_dropped += n - put;
        }
    }
    k->stats.tx_bytes += c->out_len;
    return false;
}

static bool con_rx_fill(struct dev_console *k, const struct vdq_chain *c, uint32_t *written)
{
    uint8_t buf[256];
    uint32_t off = 0;

    if (c->in_len == 0 || c->out_len) {
        k->stats.bad++;
        *written = 0;
        return true;
    }
    while (off < c->in_len && k->in.len > 0) {
        uint32_t want = c->in_len - off < sizeof(buf) ? c->in_len - off : sizeof(buf);
        uint32_t n = fifo_get(&k->in, buf, want);

        vdq_chain_write(c, off, buf, n);
        off += n;
    }
    k->stats.rx_bytes += off;
    *written = off;
    return false;
}

static bool con_has_rx(struct vdev *d)
{
    return con_of(d)->in.len > 0;
}

static bool con_rx_chain(struct vdev *d, unsigned qi, const struct vdq_chain *c, uint32_t *written)
{
    (void)qi;
    return con_rx_fill(con_of(d), c, written);
}

/* Deliver the "in" FIFO to receiveq0; chains completed or -EIO. */
static int con_rx_flush(struct vdev *d)
{
    return vdev_queue_deliver(d, VIRTIO_CONSOLE_RXQ0, con_has_rx, con_rx_chain);
}

static int con_process(struct vdev *d, unsigned qi)
{
    int tx = 0, rx;

    if (qi == VIRTIO_CONSOLE_TXQ0) {
        tx = vdev_queue_drain(d, qi, con_tx_chain);
        if (tx < 0)
            return tx;
    }
    rx = con_rx_flush(d);
    if (rx < 0)
        return rx;
    return tx + rx;
}

static void con_destroy(struct vdev *d)
{
    virt_free(d->priv);
}

/* Snapshot blob: echo u8, pad[3] (0), out_len u32, in_len u32, then the
 * "out" FIFO's bytes oldest first, then the "in" FIFO's (canonical: the
 * ring position is not saved, a load starts both at 0). */
#define CON_STATE_HDR 12

static uint32_t con_state_size(const struct vdev *d)
{
    const struct dev_console *k = con_of(d);

    return CON_STATE_HDR + k->out.len + k->in.len;
}

static void fifo_copy_out(const struct console_fifo *f, uint8_t *p)
{
    uint32_t i;

    for (i = 0; i < f->len; i++)
        p[i] = f->buf[(f->head + i) % VDEV_CONSOLE_BUF];
}

static void con_state_save(const struct vdev *d, uint8_t *out)
{
    const struct dev_console *k = con_of(d);

    out[0] = k->echo;
    out[1] = out[2] = out[3] = 0;
    snap_put32(out + 4, k->out.len);
    snap_put32(out + 8, k->in.len);
    fifo_copy_out(&k->out, out + CON_STATE_HDR);
    fifo_copy_out(&k->in, out + CON_STATE_HDR + k->out.len);
}

static const char *con_state_check(const struct vdev *d, const uint8_t *p, uint32_t len)
{
    uint32_t out_len, in_len;

    (void)d;
    if (len < CON_STATE_HDR)
        return "console state shorter than its header";
    if (p[0] > 1 || p[1] || p[2] || p[3])
        return "console echo flag not 0/1 or padding not zero";
    out_len = snap_get32(p + 4);
    in_len = snap_get32(p + 8);
    if (out_len > VDEV_CONSOLE_BUF || in_len > VDEV_CONSOLE_BUF)
        return "console buffer longer than 4096 bytes";
    if (len - CON_STATE_HDR != out_len + in_len)
        return "console state length does not match its buffers";
    return NULL;
}

static void con_state_load(struct vdev *d, const uint8_t *p, uint32_t len)
{
    struct dev_console *k = con_of(d);

    (void)len;
    k->echo = p[0];
    k->out.head = k->in.head = 0;
    k->out.len = snap_get32(p + 4);
    k->in.len = snap_get32(p + 8);
    memcpy(k->out.buf, p + CON_STATE_HDR, k->out.len);
    memcpy(k->in.buf, p + CON_STATE_HDR + k->out.len, k->in.len);
}

static const struct vdev_ops con_ops = {
    .type = "console",
    .device_id = VIRTIO_ID_CONSOLE,
    .num_queues = 2, /* port 0 only: receiveq0, transmitq0 (5.3.2) */
    .queue_max_size = VDEV_CONSOLE_QUEUE_MAX,
    .config_size = sizeof(struct virtio_console_config),
    .read_config = con_read_config,
    .process_queue = con_process,
    .destroy = con_destroy,
    .state_size = con_state_size,
    .state_save = con_state_save,
    .state_check = con_state_check,
    .state_load = con_state_load,
};

int vdev_console_create(struct vdev *d, const struct vdq_mem *mem, uint16_t cols, uint16_t rows)
{
    uint64_t features = (1ull << VIRTIO_F_VERSION_1) | (1ull << VIRTIO_F_EVENT_IDX) |
                        (1ull << VIRTIO_F_INDIRECT_DESC) | (1ull << VIRTIO_CONSOLE_F_SIZE);
    struct dev_console *k;

    if (!d || !mem)
        return -EINVAL;
    k = virt_zalloc(sizeof(*k));
    if (!k)
        return -ENOMEM;
    k->cfg.cols = vr_cpu_to_le16(cols);
    k->cfg.rows = vr_cpu_to_le16(rows);
    k->cfg.max_nr_ports = vr_cpu_to_le32(1);
    k->echo = true;
    vdev_init(d, &con_ops, k, features, mem);
    return 0;
}

void vdev_console_set_echo(struct vdev *d, bool echo)
{
    con_of(d)->echo = echo;
}

size_t vdev_console_inject(struct vdev *d, const void *buf, size_t len)
{
    struct dev_console *k = con_of(d);
    uint32_t n = len > VDEV_CONSOLE_BUF ? VDEV_CONSOLE_BUF : (uint32_t)len;
    uint32_t put = fifo_put(&k->in, buf, n);

    k->stats.rx_dropped += len - put;
    con_rx_flush(d); /* a broken receiveq stays broken: nothing to deliver to */
    return put;
}

size_t vdev_console_take(struct vdev *d, void *buf, size_t len)
{
    uint32_t n = len > VDEV_CONSOLE_BUF ? VDEV_CONSOLE_BUF : (uint32_t)len;

    return fifo_get(&con_of(d)->out, buf, n);
}

void vdev_console_get_stats(const struct vdev *d, struct vdev_console_stats *st)
{
    *st = con_of(d)->stats;
}
