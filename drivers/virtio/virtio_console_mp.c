/* SPDX-License-Identifier: Apache-2.0 */
/*
 * virtio_console_mp.c - the console driver's multiport control queues
 * (VIRTIO 1.2 5.3.6.2; see virtio_console.h).
 *
 * 5.3.6.2.2 (driver): "The driver MUST send a VIRTIO_CONSOLE_DEVICE_READY
 * message if VIRTIO_CONSOLE_F_MULTIPORT is negotiated"; on CONSOLE_PORT it
 * "MUST respond with a VIRTIO_CONSOLE_PORT_OPEN message, which MUST have
 * value set to 1". 5.3.5 step 3: after creating and initialising each port,
 * a PORT_READY is sent for it.
 *
 * Everything in a control message is the device's word and is checked: a
 * message shorter than struct virtio_console_control, a port id the driver
 * has no queues for (DEVICE_ADD: answered PORT_READY(0), 5.3.6.2.1 says the
 * device MUST NOT send ids >= max_nr_ports), a DEVICE_ADD for a port that
 * exists, any other event for a port never added, an unknown event: counted
 * in ctrl_bad and otherwise ignored; the queue keeps going. Names are cut to
 * VIRTIO_CONSOLE_NAME_MAX bytes, non-printable bytes shown as '?'.
 *
 * Locking: the caller holds tx_lock (the bounce buffer tx_buf is shared
 * with port writes; the control receiveq is only read here).
 */
#include <errno.h>
#include <string.h>

#include "virtio_console_internal.h"

#define CON_ANNOUNCE_NS 500000000ull /* after DEVICE_READY: longest wait for a first message */
#define CON_QUIET_NS 20000000ull     /* ... and quiet this long after the last one */

void con_mp_reset(struct virtio_console *con)
{
    con->ready_sent = false;
}

/* One control message to the device on the control transmitq. */
static int ctrl_send(struct virtio_console *con, uint32_t id, uint16_t event, uint16_t value)
{
    struct virtio_console_control m = {
        .id = vr_cpu_to_le32(id), .event = vr_cpu_to_le16(event), .value = vr_cpu_to_le16(value)};
    struct vq_sg sg = {.buf = con->tx_buf, .len = sizeof(m)};
    int r;

    memcpy(con->tx_buf, &m, sizeof(m));
    r = virtio_vq_exec(con->dev, VIRTIO_CONSOLE_CTRL_TXQ, &sg, 1, 0, VIRTIO_CONSOLE_TIMEOUT_NS);
    if (r < 0)
        return r;
    con->stats.ctrl_tx++;
    return 0;
}

static void set_name(struct virtio_console_port_info *info, const uint8_t *p, uint32_t len)
{
    uint32_t i;

    /* 5.3.6.2: the name comes "without a NUL terminator"; QEMU 7.2 sends
     * one anyway (strlen + 1 bytes): the name ends at the first NUL. */
    for (i = 0; i < len; i++)
        if (p[i] == 0)
            len = i;
    if (len > VIRTIO_CONSOLE_NAME_MAX)
        len = VIRTIO_CONSOLE_NAME_MAX;
    for (i = 0; i < len; i++)
        info->name[i] = p[i] >= 0x20 && p[i] < 0x7f ? (char)p[i] : '?';
    info->name[len] = 0;
}

/* One device -> driver message (len bytes at p, len <= the buffer size). */
static int ctrl_handle(struct virtio_console *con, const uint8_t *p, uint32_t len)
{
    struct virtio_console_control m;
    struct virtio_console_port_info *info;
    uint32_t id;
    uint16_t event, value;

    if (len < sizeof(m)) {
        con->stats.ctrl_bad++;
        return 0;
    }
    memcpy(&m, p, sizeof(m));
    id = vr_le32_to_cpu(m.id);
    event = vr_le16_to_cpu(m.event);
    value = vr_le16_to_cpu(m.value);
    if (event == VIRTIO_CONSOLE_DEVICE_ADD && id >= con->nports) {
        con->stats.ports_refused++; /* no queues for it */
        return ctrl_send(con, id, VIRTIO_CONSOLE_PORT_READY, 0);
    }
    if (id >= con->nports) {
        con->stats.ctrl_bad++;
        return 0;
    }
    info = &con->port[id].info;
    if (event != VIRTIO_CONSOLE_DEVICE_ADD && !info->exists) {
        con->stats.ctrl_bad++; /* 5.3.6.2.1: not created by a DEVICE_ADD */
        return 0;
    }
    switch (event) {
    case VIRTIO_CONSOLE_DEVICE_ADD: {
        int r;

        if (info->exists) {
            con->stats.ctrl_bad++; /* 5.3.6.2.1: a port which exists */
            return 0;
        }
        memset(info, 0, sizeof(*info));
        info->exists = true;
        r = ctrl_send(con, id, VIRTIO_CONSOLE_PORT_READY, 1);
        if (r == 0)
            r = ctrl_send(con, id, VIRTIO_CONSOLE_PORT_OPEN, 1);
        info->guest_open = r == 0;
        return r;
    }
    case VIRTIO_CONSOLE_DEVICE_REMOVE:
        /* Its buffers stay posted: the queues belong to the device. */
        info->exists = info->host_open = info->guest_open = info->is_console = false;
        return 0;
    case VIRTIO_CONSOLE_CONSOLE_PORT:
        info->is_console = true;
        info->guest_open = true;
        return ctrl_send(con, id, VIRTIO_CONSOLE_PORT_OPEN, 1);
    case VIRTIO_CONSOLE_RESIZE:
        return 0; /* port 0's size is read from config (virtio_console_get_size) */
    case VIRTIO_CONSOLE_PORT_OPEN:
        info->host_open = value != 0;
        return 0;
    case VIRTIO_CONSOLE_PORT_NAME:
        set_name(info, p + sizeof(m), len - (uint32_t)sizeof(m));
        return 0;
    default:
        con->stats.ctrl_bad++;
        return 0;
    }
}

/* Handle every control message there is; 0 or -errno. *got counts them. */
static int ctrl_drain(struct virtio_console *con, unsigned *got)
{
    for (;;) {
        uint32_t i, len;
        int r = virtio_rx_bufs_get(con->dev, VIRTIO_CONSOLE_CTRL_RXQ, &con->ctrl_rx, &i, &len);

        if (r <= 0)
            return r;
        (*got)++;
        con->stats.ctrl_rx++;
        /* len <= VIRTIO_CONSOLE_CTRL_BUF_SIZE: the virtqueue checked it. */
        r = ctrl_handle(con, virtio_rx_buf(&con->ctrl_rx, i), len);
        (void)virtio_rx_bufs_post(con->dev, VIRTIO_CONSOLE_CTRL_RXQ, &con->ctrl_rx, i);
        (void)vq_kick(virtio_vq(con->dev, VIRTIO_CONSOLE_CTRL_RXQ));
        if (r < 0)
            return r;
    }
}

/*
 * After DEVICE_READY the device announces its ports at its own pace (the
 * used DEVICE_READY can come back before the DEVICE_ADDs do): follow the
 * control queue until it has been quiet for CON_QUIET_NS after the last
 * message, or CON_ANNOUNCE_NS passed without any, so the first I/O after a
 * start finds its port.
 */
static int ctrl_settle(struct virtio_console *con)
{
    uint64_t start = virt_time_ns(), last = 0;

    for (;;) {
        unsigned got = 0;
        int r = ctrl_drain(con, &got);
        uint64_t now = virt_time_ns();

        if (r < 0)
            return r;
        if (got)
            last = now;
        if (last ? now - last > CON_QUIET_NS : now - start > CON_ANNOUNCE_NS)
            return 0;
    }
}

int con_mp_poll(struct virtio_console *con)
{
    unsigned got = 0;
    int r;

    if (!con->multiport)
        return 0;
    if (virtio_is_failed(con->dev))
        return -EIO;
    if (!con->ready_sent) {
        r = ctrl_send(con, 0, VIRTIO_CONSOLE_DEVICE_READY, 1);
        if (r < 0)
            return r;
        con->ready_sent = true;
        return ctrl_settle(con);
    }
    return ctrl_drain(con, &got);
}

void con_mp_announce(struct virtio_console *con)
{
    int r;

    if (!con->multiport)
        return;
    virt_lock_acquire(&con->tx_lock);
    r = con_mp_poll(con);
    virt_lock_release(&con->tx_lock);
    if (r < 0)
        virt_log(VIRT_LOG_ERR, "%s: control queue failed (%d)", con->dev->name, r);
}
