/* SPDX-License-Identifier: Apache-2.0 */
/*
 * dev_console.c - virtio-console device model (VIRTIO 1.2 5.3): port 0
 * (receiveq0 = queue 0, device -> driver; transmitq0 = queue 1) and, when
 * created with more than one port, VIRTIO_CONSOLE_F_MULTIPORT offered with
 * the control queues (2: control receiveq, 3: control transmitq) and ports
 * 1..n-1 on queues 2 + 2p / 3 + 2p (5.3.2).
 *
 * Each port has two bounded byte FIFOs of VDEV_CONSOLE_BUF bytes:
 *  - "out": what the driver wrote on the port's transmitq, for
 *    vdev_console_port_take();
 *  - "in": bytes for the driver, from vdev_console_port_inject() and, with
 *    echo on (the default), a copy of everything the driver wrote on that
 *    port: `console write <text>` then `console read` sees <text> come back.
 * A full FIFO drops the newest bytes and counts them. Bytes in "in" go
 * into the port's receiveq buffers as they come (a buffer gets as many as
 * fit, used length = bytes written); with none available the device asks
 * for a kick (vdq_enable_notify with re-check) and delivers then.
 *
 * Multiport (5.3.6.2), following what the spec and QEMU's virtio-serial do:
 * the driver's DEVICE_READY(1) makes the device announce every port with
 * DEVICE_ADD; the driver's PORT_READY(1) for a port is answered with
 * CONSOLE_PORT (port 0 is the console port), PORT_NAME ("ringloop.N") and
 * PORT_OPEN(1) (the device end is always open); the driver's PORT_OPEN
 * records whether the guest end is open. Control messages for the driver
 * wait in a FIFO (each framed by a 16-bit length) and each goes whole into
 * one control receiveq buffer (truncated to the buffer, as QEMU does).
 *
 * Driver mistakes, counted as bad and returned with len 0, nothing moved:
 * a transmit chain with no readable byte or with device-writable buffers,
 * a receive chain with no writable byte or with device-readable buffers
 * (5.3.6: transmit buffers are output, receive buffers input); on the
 * control transmitq a message shorter than struct virtio_console_control,
 * a port id >= max_nr_ports or not announced, a PORT_READY / PORT_OPEN
 * value other than 0/1, an event only the device may send, PORT_READY
 * before DEVICE_READY (all counted in ctrl_bad too). The device keeps
 * serving after each.
 * Reset keeps the data FIFOs (device content, like a UART's buffer) and
 * drops in-flight chains, the pending control messages and the ports'
 * ready/open state (a new driver starts with DEVICE_READY again).
 */
#include <errno.h>
#include <string.h>

#include "snap_le.h"
#include "vdev_models.h"
#include "virtio_platform.h"

#define CON_CTRL_BUF 1024 /* pending control messages, framed */
#define CON_CTRL_MSG_MAX 64 /* header + name */

struct console_fifo {
    uint8_t buf[VDEV_CONSOLE_BUF];
    uint32_t head, len;
};

struct console_port {
    struct console_fifo out, in;
    bool ready;      /* driver sent PORT_READY(1) */
    bool guest_open; /* driver sent PORT_OPEN(1) */
};

struct dev_console {
    struct virtio_console_config cfg;
    bool echo;
    bool driver_ready; /* DEVICE_READY(1) seen (multiport) */
    uint32_t nports;   /* 1: no MULTIPORT */
    struct console_port port[VDEV_CONSOLE_MAX_PORTS];
    uint32_t deliver; /* port whose receiveq is being filled */
    struct {
        uint8_t buf[CON_CTRL_BUF];
        uint32_t len; /* bytes from buf[0], oldest message first */
    } ctrl;
    struct vdev_console_stats stats;
};

static struct dev_console *con_of(const struct vdev *d)
{
    return d->priv;
}

static bool is_multiport(const struct vdev *d)
{
    return con_of(d)->nports > 1 && vdev_has_feature(d, VIRTIO_CONSOLE_F_MULTIPORT);
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

/* Which port a data queue belongs to; -1 for the control queues or none. */
static int port_of_queue(const struct dev_console *k, unsigned qi)
{
    unsigned p;

    if (qi < 2)
        return 0;
    if (qi < 4 || qi / 2 - 1 >= k->nports)
        return -1;
    p = qi / 2 - 1;
    return (int)p;
}

/* ---- control messages (5.3.6.2) ---- */

/* Queue one message for the driver; dropped (counted) when full. */
static void ctrl_send(struct dev_console *k, uint32_t id, uint16_t event, uint16_t value,
                      const char *extra)
{
    uint32_t xlen = extra ? (uint32_t)strlen(extra) : 0, mlen;
    uint8_t *p;

    if (xlen > CON_CTRL_MSG_MAX - 8)
        xlen = CON_CTRL_MSG_MAX - 8;
    mlen = 8 + xlen;
    if (k->ctrl.len + 2 + mlen > CON_CTRL_BUF) {
        k->stats.ctrl_dropped++;
        return;
    }
    p = k->ctrl.buf + k->ctrl.len;
    snap_put16(p, (uint16_t)mlen);
    snap_put32(p + 2, id);
    snap_put16(p + 6, event);
    snap_put16(p + 8, value);
    if (xlen)
        memcpy(p + 10, extra, xlen);
    k->ctrl.len += 2 + mlen;
}

static void ctrl_port_ready(struct dev_console *k, uint32_t id)
{
    char name[24];

    k->port[id].ready = true;
    if (id == 0)
        ctrl_send(k, id, VIRTIO_CONSOLE_CONSOLE_PORT, 1, NULL);
    /* "ringloop." + decimal id: ids are < VDEV_CONSOLE_MAX_PORTS (< 10). */
    memcpy(name, "ringloop.", 9);
    name[9] = (char)('0' + id);
    name[10] = 0;
    ctrl_send(k, id, VIRTIO_CONSOLE_PORT_NAME, 0, name);
    ctrl_send(k, id, VIRTIO_CONSOLE_PORT_OPEN, 1, NULL); /* our end is always open */
}

/* One driver -> device control message; true when refused (bad). */
static bool ctrl_handle(struct dev_console *k, const struct vdq_chain *c)
{
    uint8_t m[8];
    uint32_t id, p;
    uint16_t event, value;

    if (c->in_len || c->out_len < sizeof(m))
        return true; /* short payload or a writable part */
    vdq_chain_read(c, 0, m, sizeof(m));
    id = snap_get32(m);
    event = snap_get16(m + 4);
    value = snap_get16(m + 6);
    switch (event) {
    case VIRTIO_CONSOLE_DEVICE_READY:
        if (value > 1)
            return true;
        if (value == 0) {
            k->stats.driver_failed++;
            return false;
        }
        if (k->driver_ready)
            return false; /* already announced */
        k->driver_ready = true;
        for (p = 0; p < k->nports; p++)
            ctrl_send(k, p, VIRTIO_CONSOLE_DEVICE_ADD, 0, NULL);
        return false;
    case VIRTIO_CONSOLE_PORT_READY:
        if (!k->driver_ready || id >= k->nports || value > 1)
            return true;
        if (value == 0) {
            k->stats.driver_failed++;
            return false;
        }
        if (!k->port[id].ready)
            ctrl_port_ready(k, id);
        return false;
    case VIRTIO_CONSOLE_PORT_OPEN:
        if (!k->driver_ready || id >= k->nports || value > 1)
            return true;
        k->port[id].guest_open = value == 1;
        return false;
    default: /* device-only events, or unknown */
        return true;
    }
}

static bool con_ctrl_tx_chain(struct vdev *d, unsigned qi, const struct vdq_chain *c,
                              uint32_t *written)
{
    struct dev_console *k = con_of(d);
    bool bad = ctrl_handle(k, c);

    (void)qi;
    *written = 0;
    if (bad) {
        k->stats.ctrl_bad++;
        k->stats.bad++;
    }
    return bad;
}

static bool con_has_ctrl(struct vdev *d)
{
    return con_of(d)->ctrl.len > 0;
}

/* The oldest pending message into one control receiveq buffer. */
static bool con_ctrl_rx_chain(struct vdev *d, unsigned qi, const struct vdq_chain *c,
                              uint32_t *written)
{
    struct dev_console *k = con_of(d);
    uint32_t mlen = snap_get16(k->ctrl.buf), n = mlen;

    (void)qi;
    if (c->in_len == 0 || c->out_len) {
        k->stats.bad++;
        *written = 0;
        return true; /* the message stays for the next buffer */
    }
    if (n > c->in_len)
        n = c->in_len;
    vdq_chain_write(c, 0, k->ctrl.buf + 2, n);
    memmove(k->ctrl.buf, k->ctrl.buf + 2 + mlen, k->ctrl.len - 2 - mlen);
    k->ctrl.len -= 2 + mlen;
    k->stats.ctrl_sent++;
    *written = n;
    return false;
}

/* ---- data ---- */

static bool con_tx_chain(struct vdev *d, unsigned qi, const struct vdq_chain *c, uint32_t *written)
{
    struct dev_console *k = con_of(d);
    struct console_port *port = &k->port[port_of_queue(k, qi)];
    uint8_t buf[256];
    uint32_t off;

    *written = 0; /* nothing is written into transmit buffers */
    if (c->out_len == 0 || c->in_len) {
        k->stats.bad++;
        return true;
    }
    for (off = 0; off < c->out_len; off += sizeof(buf)) {
        uint32_t n = c->out_len - off < sizeof(buf) ? c->out_len - off : sizeof(buf), put;

        /* Both FIFOs full: the rest would be dropped byte for byte, so it
         * is not read at all (a driver's 2 GiB buffer - hdt
         * console.tx_huge - must not keep the device CPU copying). */
        if (port->out.len == VDEV_CONSOLE_BUF && (!k->echo || port->in.len == VDEV_CONSOLE_BUF)) {
            k->stats.tx_dropped += c->out_len - off;
            if (k->echo)
                k->stats.rx_dropped += c->out_len - off;
            break;
        }
        vdq_chain_read(c, off, buf, n);
        put = fifo_put(&port->out, buf, n);
        k->stats.tx_dropped += n - put;
        if (k->echo) {
            put = fifo_put(&port->in, buf, n);
            k->stats.rx_dropped += n - put;
        }
    }
    k->stats.tx_bytes += c->out_len;
    return false;
}

static bool con_has_rx(struct vdev *d)
{
    const struct dev_console *k = con_of(d);

    return k->port[k->deliver].in.len > 0;
}

static bool con_rx_chain(struct vdev *d, unsigned qi, const struct vdq_chain *c, uint32_t *written)
{
    struct dev_console *k = con_of(d);
    struct console_fifo *in = &k->port[k->deliver].in;
    uint8_t buf[256];
    uint32_t off = 0;

    (void)qi;
    if (c->in_len == 0 || c->out_len) {
        k->stats.bad++;
        *written = 0;
        return true;
    }
    while (off < c->in_len && in->len > 0) {
        uint32_t want = c->in_len - off < sizeof(buf) ? c->in_len - off : sizeof(buf);
        uint32_t n = fifo_get(in, buf, want);

        vdq_chain_write(c, off, buf, n);
        off += n;
    }
    k->stats.rx_bytes += off;
    *written = off;
    return false;
}

/* Deliver every port's "in" FIFO and (multiport) the pending control
 * messages; chains completed or -EIO (the first broken queue). */
static int con_rx_flush(struct vdev *d)
{
    struct dev_console *k = con_of(d);
    uint32_t p, nports = is_multiport(d) ? k->nports : 1;
    int total = 0, r;

    if (nports > 1) {
        r = vdev_queue_deliver(d, VIRTIO_CONSOLE_CTRL_RXQ, con_has_ctrl, con_ctrl_rx_chain);
        if (r < 0)
            return r;
        total += r;
    }
    for (p = 0; p < nports; p++) {
        k->deliver = p;
        r = vdev_queue_deliver(d, VIRTIO_CONSOLE_PORT_RXQ(p), con_has_rx, con_rx_chain);
        if (r < 0)
            return r;
        total += r;
    }
    return total;
}

static int con_process(struct vdev *d, unsigned qi)
{
    struct dev_console *k = con_of(d);
    int tx = 0, rx, port = port_of_queue(k, qi);

    if (qi == VIRTIO_CONSOLE_CTRL_TXQ && is_multiport(d))
        tx = vdev_queue_drain(d, qi, con_ctrl_tx_chain);
    else if (port >= 0 && (qi & 1) && (port == 0 || is_multiport(d)))
        tx = vdev_queue_drain(d, qi, con_tx_chain);
    if (tx < 0)
        return tx;
    rx = con_rx_flush(d);
    if (rx < 0)
        return rx;
    return tx + rx;
}

static void con_reset(struct vdev *d)
{
    struct dev_console *k = con_of(d);
    uint32_t p;

    k->driver_ready = false;
    k->ctrl.len = 0;
    for (p = 0; p < k->nports; p++)
        k->port[p].ready = k->port[p].guest_open = false;
}

static void con_destroy(struct vdev *d)
{
    virt_free(d->priv);
}

/* ---- snapshot ---- */

/*
 * Blob: echo u8, multiport u8 (0: created with one port), pad[2] (0),
 * out_len u32, in_len u32, then port 0's "out" bytes oldest first, then its
 * "in" bytes (canonical: the ring position is not saved, a load starts both
 * at 0). A multiport device (multiport 1) continues with: nports u8,
 * driver_ready u8, pad[2], ctrl_len u32, the pending control messages
 * (framed as kept), then for each port a flags u8 (bit 0 ready, bit 1
 * guest_open) + pad[3], and for ports 1..n-1 out_len u32, in_len u32 and
 * their bytes. A one-port console's blob is unchanged from before multiport.
 */
#define CON_STATE_HDR 12
#define CON_MP_HDR 8

static uint32_t con_state_size(const struct vdev *d)
{
    const struct dev_console *k = con_of(d);
    uint32_t n = CON_STATE_HDR + k->port[0].out.len + k->port[0].in.len, p;

    if (k->nports == 1)
        return n;
    n += CON_MP_HDR + k->ctrl.len + 4 * k->nports;
    for (p = 1; p < k->nports; p++)
        n += 8 + k->port[p].out.len + k->port[p].in.len;
    return n;
}

static void fifo_copy_out(const struct console_fifo *f, uint8_t *p)
{
    uint32_t i;

    for (i = 0; i < f->len; i++)
        p[i] = f->buf[(f->head + i) % VDEV_CONSOLE_BUF];
}

static uint8_t *fifos_save(const struct console_port *port, uint8_t *out)
{
    snap_put32(out, port->out.len);
    snap_put32(out + 4, port->in.len);
    fifo_copy_out(&port->out, out + 8);
    fifo_copy_out(&port->in, out + 8 + port->out.len);
    return out + 8 + port->out.len + port->in.len;
}

static void con_state_save(const struct vdev *d, uint8_t *out)
{
    const struct dev_console *k = con_of(d);
    uint32_t p;

    out[0] = k->echo;
    out[1] = k->nports > 1;
    out[2] = out[3] = 0;
    out = fifos_save(&k->port[0], out + 4);
    if (k->nports == 1)
        return;
    out[0] = (uint8_t)k->nports;
    out[1] = k->driver_ready;
    out[2] = out[3] = 0;
    snap_put32(out + 4, k->ctrl.len);
    memcpy(out + CON_MP_HDR, k->ctrl.buf, k->ctrl.len);
    out += CON_MP_HDR + k->ctrl.len;
    for (p = 0; p < k->nports; p++, out += 4) {
        out[0] = (uint8_t)(k->port[p].ready | k->port[p].guest_open << 1);
        out[1] = out[2] = out[3] = 0;
    }
    for (p = 1; p < k->nports; p++)
        out = fifos_save(&k->port[p], out);
}

/* Check one out_len/in_len pair and its bytes at p[*off]; advances *off. */
static const char *fifos_check(const uint8_t *p, uint32_t len, uint32_t *off)
{
    uint32_t out_len, in_len;

    if (len - *off < 8)
        return "console state shorter than a port's buffer lengths";
    out_len = snap_get32(p + *off);
    in_len = snap_get32(p + *off + 4);
    if (out_len > VDEV_CONSOLE_BUF || in_len > VDEV_CONSOLE_BUF)
        return "console buffer longer than 4096 bytes";
    if (len - *off - 8 < out_len + in_len)
        return "console state shorter than its buffers";
    *off += 8 + out_len + in_len;
    return NULL;
}

/* The framing of the pending control messages. */
static const char *ctrl_check(const uint8_t *p, uint32_t len)
{
    uint32_t off = 0;

    while (off < len) {
        uint32_t m;

        if (len - off < 2)
            return "console control message cut in its length";
        m = snap_get16(p + off);
        if (m < 8 || m > CON_CTRL_MSG_MAX || len - off - 2 < m)
            return "console control message length out of range";
        off += 2 + m;
    }
    return NULL;
}

static const char *con_state_check(const struct vdev *d, const uint8_t *p, uint32_t len)
{
    const struct dev_console *k = con_of(d);
    uint32_t off = 4, q, ctrl_len;
    const char *why;

    if (len < CON_STATE_HDR)
        return "console state shorter than its header";
    if (p[0] > 1 || p[2] || p[3])
        return "console echo flag not 0/1 or padding not zero";
    if (p[1] > 1)
        return "console multiport flag not 0/1";
    if (p[1] != (k->nports > 1))
        return "console snapshot multiport does not match this device";
    why = fifos_check(p, len, &off);
    if (why)
        return why;
    if (k->nports == 1)
        return off == len ? NULL : "console state length does not match its buffers";
    if (len - off < CON_MP_HDR)
        return "console multiport state shorter than its header";
    if (p[off] != k->nports || p[off + 1] > 1 || p[off + 2] || p[off + 3])
        return "console port count does not match this device, or bad flags";
    ctrl_len = snap_get32(p + off + 4);
    off += CON_MP_HDR;
    if (ctrl_len > CON_CTRL_BUF || len - off < ctrl_len)
        return "console control messages longer than their buffer";
    why = ctrl_check(p + off, ctrl_len);
    if (why)
        return why;
    off += ctrl_len;
    if (len - off < 4 * k->nports)
        return "console state shorter than its port flags";
    for (q = 0; q < k->nports; q++, off += 4)
        if (p[off] > 3 || p[off + 1] || p[off + 2] || p[off + 3])
            return "console port flags undefined bits set";
    for (q = 1; q < k->nports; q++) {
        why = fifos_check(p, len, &off);
        if (why)
            return why;
    }
    return off == len ? NULL : "console state length does not match its buffers";
}

static const uint8_t *fifos_load(struct console_port *port, const uint8_t *p)
{
    port->out.head = port->in.head = 0;
    port->out.len = snap_get32(p);
    port->in.len = snap_get32(p + 4);
    memcpy(port->out.buf, p + 8, port->out.len);
    memcpy(port->in.buf, p + 8 + port->out.len, port->in.len);
    return p + 8 + port->out.len + port->in.len;
}

static void con_state_load(struct vdev *d, const uint8_t *p, uint32_t len)
{
    struct dev_console *k = con_of(d);
    uint32_t q;

    (void)len;
    k->echo = p[0];
    p = fifos_load(&k->port[0], p + 4);
    if (k->nports == 1)
        return;
    k->driver_ready = p[1];
    k->ctrl.len = snap_get32(p + 4);
    memcpy(k->ctrl.buf, p + CON_MP_HDR, k->ctrl.len);
    p += CON_MP_HDR + k->ctrl.len;
    for (q = 0; q < k->nports; q++, p += 4) {
        k->port[q].ready = p[0] & 1;
        k->port[q].guest_open = (p[0] >> 1) & 1;
    }
    for (q = 1; q < k->nports; q++)
        p = fifos_load(&k->port[q], p);
}

#define CON_OPS(nq)                                                                                \
    .type = "console", .device_id = VIRTIO_ID_CONSOLE, .num_queues = (nq),                        \
    .queue_max_size = VDEV_CONSOLE_QUEUE_MAX, .config_size = sizeof(struct virtio_console_config), \
    .read_config = con_read_config, .reset = con_reset, .process_queue = con_process,            \
    .destroy = con_destroy, .state_size = con_state_size, .state_save = con_state_save,           \
    .state_check = con_state_check, .state_load = con_state_load

/* port 0 only: receiveq0, transmitq0 (5.3.2) */
static const struct vdev_ops con_ops = {CON_OPS(2)};
/* MULTIPORT: port 0, the control queues, ports 1..n-1 (VDEV_MAX_QUEUES
 * bounds n: 2 + 2 + 2 * (n - 1) queues). */
static const struct vdev_ops con_mp_ops = {CON_OPS(2 + 2 * VDEV_CONSOLE_MAX_PORTS)};
_Static_assert(2 + 2 * VDEV_CONSOLE_MAX_PORTS <= VDEV_MAX_QUEUES, "console queues");

int vdev_console_create_ports(struct vdev *d, const struct vdq_mem *mem, uint16_t cols,
                              uint16_t rows, uint32_t nports)
{
    uint64_t features = (1ull << VIRTIO_F_VERSION_1) | (1ull << VIRTIO_F_EVENT_IDX) |
                        (1ull << VIRTIO_F_INDIRECT_DESC) | (1ull << VIRTIO_CONSOLE_F_SIZE);
    struct dev_console *k;

    if (!d || !mem || nports == 0 || nports > VDEV_CONSOLE_MAX_PORTS)
        return -EINVAL;
    k = virt_zalloc(sizeof(*k));
    if (!k)
        return -ENOMEM;
    k->cfg.cols = vr_cpu_to_le16(cols);
    k->cfg.rows = vr_cpu_to_le16(rows);
    k->cfg.max_nr_ports = vr_cpu_to_le32(nports);
    k->nports = nports;
    k->echo = true;
    if (nports > 1)
        features |= 1ull << VIRTIO_CONSOLE_F_MULTIPORT;
    vdev_init(d, nports > 1 ? &con_mp_ops : &con_ops, k, features, mem);
    return 0;
}

int vdev_console_create(struct vdev *d, const struct vdq_mem *mem, uint16_t cols, uint16_t rows)
{
    return vdev_console_create_ports(d, mem, cols, rows, 1);
}

void vdev_console_set_echo(struct vdev *d, bool echo)
{
    con_of(d)->echo = echo;
}

size_t vdev_console_port_inject(struct vdev *d, uint32_t port, const void *buf, size_t len)
{
    struct dev_console *k = con_of(d);
    uint32_t n = len > VDEV_CONSOLE_BUF ? VDEV_CONSOLE_BUF : (uint32_t)len, put;

    if (port >= k->nports)
        return 0;
    put = fifo_put(&k->port[port].in, buf, n);
    k->stats.rx_dropped += len - put;
    con_rx_flush(d); /* a broken receiveq stays broken: nothing to deliver to */
    return put;
}

size_t vdev_console_port_take(struct vdev *d, uint32_t port, void *buf, size_t len)
{
    struct dev_console *k = con_of(d);
    uint32_t n = len > VDEV_CONSOLE_BUF ? VDEV_CONSOLE_BUF : (uint32_t)len;

    if (port >= k->nports)
        return 0;
    return fifo_get(&k->port[port].out, buf, n);
}

size_t vdev_console_inject(struct vdev *d, const void *buf, size_t len)
{
    return vdev_console_port_inject(d, 0, buf, len);
}

size_t vdev_console_take(struct vdev *d, void *buf, size_t len)
{
    return vdev_console_port_take(d, 0, buf, len);
}

int vdev_console_port_state(const struct vdev *d, uint32_t port, bool *ready, bool *guest_open)
{
    const struct dev_console *k = con_of(d);

    if (port >= k->nports)
        return -EINVAL;
    *ready = k->port[port].ready;
    *guest_open = k->port[port].guest_open;
    return 0;
}

void vdev_console_get_stats(const struct vdev *d, struct vdev_console_stats *st)
{
    *st = con_of(d)->stats;
}
