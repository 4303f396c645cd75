/* SPDX-License-Identifier: Apache-2.0 */
/*
 * hdt_cases_dev.c - hostile-driver device-request cases for console (5.3),
 * entropy (5.4) and pmem (5.19) (net: hdt_cases_net.c): each breaks the
 * clause it names (oasis-tcs/virtio-spec device-types/console/description.tex,
 * entropy/description.tex; pmem after VIRTIO 1.2
 * 5.19.6 "Driver Requirements: Device Operation"), except the "ctl." and
 * "edge." cases: well-formed or legal-but-unusual requests the device MUST
 * serve (2.7.4.1 "The device MUST NOT make assumptions about the
 * particular arrangement of descriptors").
 *
 * The queue a case runs on, the probe and the aux queue come from the case
 * flags (hdt_dev.h). Receive-side cases post their hostile buffers on the
 * receive queue and then transmit one frame / a few bytes on the aux queue,
 * so that a loopback device (ours; QEMU with a looped netdev) has something
 * to deliver; a device that never receives leaves them unconsumed (REJECT).
 * Descriptors 0..qsize-4 are the case's. A used len that counts a writable
 * buffer outside RAM is a FAIL here as for blk (the device says it wrote
 * memory that does not exist); the random mode (hdt_random.c) lets it pass.
 */
#include <errno.h>
#include <string.h>

#include "hdt_dev.h"
#include "virtio_platform.h"

#define F_N VIRTQ_DESC_F_NEXT
#define F_W VIRTQ_DESC_F_WRITE
#define OUTSIDE_RAM (1ull << 46) /* far above any RAM a test machine has */
#define CON VIRTIO_ID_CONSOLE
#define RNG VIRTIO_ID_RNG
#define PMEM VIRTIO_ID_PMEM
#define RXQ HDT_DEV_RXQ
#define CTRLQ HDT_DEV_CTRLQ
#define PMEM_OK 1u     /* ret 0 (low byte) */
#define PMEM_ERR 0xfeu /* any non-zero ret low byte (1 is Firecracker's / ours) */

/* ---- controls ---- */

static int ctl_con_ctrl(struct hdt_ctx *c)
{
    struct virtq_desc *t = hdt_desc_table(c);
    uint8_t *m = hdt_con_ctrl(c, 0, VIRTIO_CONSOLE_DEVICE_READY, 1, 8);

    hdt_set_desc(t, 0, hdt_dma_of(c, m), 8, 0, 0);
    return hdt_post0(c);
}

static int ctl_pmem(struct hdt_ctx *c)
{
    (void)hdt_pmem_req(c, 0, VIRTIO_PMEM_REQ_TYPE_FLUSH);
    c->status_mask = PMEM_OK;
    return hdt_post0(c);
}

/* ---- console (5.3.6) ---- */

static int con_tx_writable(struct hdt_ctx *c)
{
    return hdt_one_desc(c, 16, F_W);
}

static int con_tx_mixed(struct hdt_ctx *c)
{
    struct virtq_desc *t = hdt_desc_table(c);
    uint64_t a, b;
    uint8_t *p = hdt_buf(c, 8, false, &a);

    memcpy(p, "mixed..\n", 8);
    (void)hdt_buf(c, 8, true, &b);
    hdt_set_desc(t, 0, a, 8, F_N, 1);
    hdt_set_desc(t, 1, b, 8, F_W, 0);
    return hdt_post0(c);
}

static int con_tx_outside_ram(struct hdt_ctx *c)
{
    hdt_set_desc(hdt_desc_table(c), 0, OUTSIDE_RAM, 64, 0, 0);
    return hdt_post0(c);
}

/* 2 GiB readable from a case buffer on: past RAM on any test machine's
 * guest (and what found dev_console.c reading every byte it then dropped). */
static int con_tx_huge(struct hdt_ctx *c)
{
    uint64_t a;

    (void)hdt_buf(c, 64, false, &a);
    hdt_set_desc(hdt_desc_table(c), 0, a, 0x80000000u, 0, 0);
    return hdt_post0(c);
}

static int edge_con_tx_zero_len(struct hdt_ctx *c)
{
    return hdt_one_desc(c, 0, 0);
}

static int con_rx_readable(struct hdt_ctx *c)
{
    return hdt_rx_one(c, 64, 0);
}

static int con_rx_zero_len(struct hdt_ctx *c)
{
    return hdt_rx_one(c, 0, F_W);
}

static int con_rx_mixed(struct hdt_ctx *c)
{
    static const uint32_t len[2] = {8, 64};
    static const uint16_t fl[2] = {0, F_W};

    (void)hdt_rx_chain(c, 0, len, fl, 2);
    hdt_post(c, 0);
    return hdt_rx_go(c);
}

/* A control message of len bytes with flags at descriptor 0, posted. */
static int ctrl_msg(struct hdt_ctx *c, uint32_t id, uint16_t event, uint16_t value, uint32_t len,
                    uint16_t flags)
{
    uint8_t *m = hdt_con_ctrl(c, id, event, value, len);

    if (flags & F_W)
        hdt_mark_writable(c, m, len);
    hdt_set_desc(hdt_desc_table(c), 0, hdt_dma_of(c, m), len, flags, 0);
    return hdt_post0(c);
}

static uint32_t max_ports(struct hdt_ctx *c)
{
    uint32_t n = 0;

    /* 5.3.4: le32 max_nr_ports at offset 4. */
    c->dev->ops->read_config(c->dev, 4, &n, sizeof(n));
    return n;
}

static int con_ctrl_port_oob(struct hdt_ctx *c)
{
    return ctrl_msg(c, max_ports(c) + (uint32_t)(c->seed % 1000), VIRTIO_CONSOLE_PORT_READY, 1, 8,
                    0);
}

static int con_ctrl_port_huge(struct hdt_ctx *c)
{
    return ctrl_msg(c, 0xffffffffu, VIRTIO_CONSOLE_PORT_OPEN, 1, 8, 0);
}

static int con_ctrl_unknown_event(struct hdt_ctx *c)
{
    return ctrl_msg(c, 0, 0x4242, 1, 8, 0);
}

static int con_ctrl_short(struct hdt_ctx *c)
{
    return ctrl_msg(c, 0, VIRTIO_CONSOLE_DEVICE_READY, 1, 4, 0);
}

static int con_ctrl_empty(struct hdt_ctx *c)
{
    return ctrl_msg(c, 0, VIRTIO_CONSOLE_DEVICE_READY, 1, 0, 0);
}

static int con_ctrl_ready_bad_value(struct hdt_ctx *c)
{
    return ctrl_msg(c, 0, VIRTIO_CONSOLE_DEVICE_READY, 7, 8, 0);
}

static int con_ctrl_open_unadded(struct hdt_ctx *c)
{
    /* No DEVICE_READY yet in this session: the device announced nothing. */
    uint32_t n = max_ports(c);

    return ctrl_msg(c, n > 1 ? n - 1 : 1, VIRTIO_CONSOLE_PORT_OPEN, 1, 8, 0);
}

static int con_ctrl_ready_before_device(struct hdt_ctx *c)
{
    return ctrl_msg(c, 0, VIRTIO_CONSOLE_PORT_READY, 1, 8, 0);
}

static int con_ctrl_device_event(struct hdt_ctx *c)
{
    return ctrl_msg(c, 0, VIRTIO_CONSOLE_DEVICE_ADD, 0, 8, 0);
}

static int con_ctrl_resize(struct hdt_ctx *c)
{
    return ctrl_msg(c, 0, VIRTIO_CONSOLE_RESIZE, 0, 12, 0);
}

static int con_ctrl_writable(struct hdt_ctx *c)
{
    return ctrl_msg(c, 0, VIRTIO_CONSOLE_DEVICE_READY, 1, 8, F_W);
}

/* ---- entropy (5.4.6) ---- */

static int rng_zero_len(struct hdt_ctx *c)
{
    return hdt_one_desc(c, 0, F_W);
}

static int rng_readable(struct hdt_ctx *c)
{
    return hdt_one_desc(c, 64, 0);
}

static int rng_readable_first(struct hdt_ctx *c)
{
    struct virtq_desc *t = hdt_desc_table(c);
    uint64_t a, b;

    (void)hdt_buf(c, 16, false, &a);
    (void)hdt_buf(c, 64, true, &b);
    hdt_set_desc(t, 0, a, 16, F_N, 1);
    hdt_set_desc(t, 1, b, 64, F_W, 0);
    return hdt_post0(c);
}

static int rng_outside_ram(struct hdt_ctx *c)
{
    hdt_set_desc(hdt_desc_table(c), 0, OUTSIDE_RAM + (c->seed % 64) * 4096, 64, F_W, 0);
    return hdt_post0(c);
}

static int rng_huge_outside_ram(struct hdt_ctx *c)
{
    hdt_set_desc(hdt_desc_table(c), 0, OUTSIDE_RAM, 0x80000000u, F_W, 0);
    return hdt_post0(c);
}

static int rng_wrap(struct hdt_ctx *c)
{
    /* addr + len wraps the 64-bit space. */
    hdt_set_desc(hdt_desc_table(c), 0, ~0ull - 15, 64, F_W, 0);
    return hdt_post0(c);
}

static int edge_rng_many_tiny(struct hdt_ctx *c)
{
    struct virtq_desc *t = hdt_desc_table(c);
    unsigned i, n = c->qsize - 4;
    uint64_t a;

    for (i = 0; i < n; i++) {
        (void)hdt_buf(c, 1, true, &a);
        hdt_set_desc(t, i, a, 1, (uint16_t)(F_W | (i + 1 < n ? F_N : 0)), (uint16_t)(i + 1));
    }
    return hdt_post0(c);
}

static int edge_rng_large(struct hdt_ctx *c)
{
    return hdt_one_desc(c, 32u << 10, F_W); /* the device MAY use less (5.4.6.2) */
}

/* ---- pmem (5.19.6) ---- */

static int pmem_short_req(struct hdt_ctx *c)
{
    (void)hdt_pmem_req(c, 0, VIRTIO_PMEM_REQ_TYPE_FLUSH);
    hdt_desc_table(c)[0].len = 2;
    c->status_mask = PMEM_ERR;
    return hdt_post0(c);
}

static int pmem_no_resp(struct hdt_ctx *c)
{
    (void)hdt_pmem_req(c, 0, VIRTIO_PMEM_REQ_TYPE_FLUSH);
    hdt_desc_table(c)[0].flags = 0;
    c->nwr = 0;
    c->status_off = -1;
    return hdt_post0(c);
}

static int pmem_readable_resp(struct hdt_ctx *c)
{
    (void)hdt_pmem_req(c, 0, VIRTIO_PMEM_REQ_TYPE_FLUSH);
    hdt_desc_table(c)[1].flags = 0;
    c->nwr = 0;
    c->status_off = -1;
    return hdt_post0(c);
}

static int pmem_unknown_type(struct hdt_ctx *c)
{
    (void)hdt_pmem_req(c, 0, 7 + (uint32_t)(c->seed % 100));
    c->status_mask = PMEM_ERR;
    return hdt_post0(c);
}

static int pmem_long_req(struct hdt_ctx *c)
{
    (void)hdt_pmem_req(c, 0, VIRTIO_PMEM_REQ_TYPE_FLUSH);
    hdt_desc_table(c)[0].len = 12; /* 8 bytes past the request */
    return hdt_post0(c);
}

static int pmem_short_resp(struct hdt_ctx *c)
{
    (void)hdt_pmem_req(c, 0, VIRTIO_PMEM_REQ_TYPE_FLUSH);
    hdt_desc_table(c)[1].len = 2;
    c->wr[c->nwr - 1].len = 2;
    c->status_off = -1;
    return hdt_post0(c);
}

static int pmem_extra_desc(struct hdt_ctx *c)
{
    struct virtq_desc *t = hdt_desc_table(c);
    uint64_t a;

    (void)hdt_pmem_req(c, 0, VIRTIO_PMEM_REQ_TYPE_FLUSH);
    (void)hdt_buf(c, 64, true, &a);
    t[1].flags |= F_N;
    t[1].next = 2;
    hdt_set_desc(t, 2, a, 64, F_W, 0);
    return hdt_post0(c);
}

static int pmem_writable_req(struct hdt_ctx *c)
{
    struct virtq_desc *t = hdt_desc_table(c);

    (void)hdt_pmem_req(c, 0, VIRTIO_PMEM_REQ_TYPE_FLUSH);
    t[0].flags |= F_W;
    hdt_mark_writable(c, c->arena + (t[0].addr - c->dma), 4);
    c->status_off = -1;
    return hdt_post0(c);
}

/* The 4-byte request in two descriptors of 2 bytes: legal (2.7.4.1). */
static int edge_pmem_split_req(struct hdt_ctx *c)
{
    struct virtq_desc *t = hdt_desc_table(c);
    uint64_t a, b;
    uint8_t *req = hdt_buf(c, 4, false, &a);
    uint8_t *resp = hdt_buf(c, 4, true, &b);
    uint32_t type = VIRTIO_PMEM_REQ_TYPE_FLUSH;

    memcpy(req, &type, 4);
    hdt_set_desc(t, 0, a, 2, F_N, 1);
    hdt_set_desc(t, 1, a + 2, 2, F_N, 2);
    hdt_set_desc(t, 2, b, 4, F_W, 0);
    c->status_off = (int32_t)(resp - c->arena);
    c->status_mask = PMEM_OK;
    return hdt_post0(c);
}

static int pmem_resp_outside_ram(struct hdt_ctx *c)
{
    (void)hdt_pmem_req(c, 0, VIRTIO_PMEM_REQ_TYPE_FLUSH);
    hdt_desc_table(c)[1].addr = OUTSIDE_RAM;
    c->nwr = 0;
    c->status_off = -1;
    return hdt_post0(c);
}

#define C(id, fn, dev, fl, feat, clause, desc)                                                     \
    {                                                                                              \
        id, desc, clause, dev, (fl) | (feat), fn                                                   \
    }
#define CONOP "5.3.6.1 (Driver Requirements: Device Operation)"
#define MP "5.3.6.2 (Multiport Device Operation)"
#define RNGOP "5.4.6.1 (Entropy: Driver Requirements: Device Operation)"
#define PMOP "5.19.6 (PMEM Device Operation: le32 type, then le32 ret)"
#define ANY "2.7.4.1 (device MUST NOT assume arrangement)"

static const struct hdt_case cases[] = {
    C("ctl.console_tx", hdt_valid, CON, 0, 0, "-", "control: 4 bytes on port 0 transmitq"),
    C("ctl.console_ctrl", ctl_con_ctrl, CON, CTRLQ, 0, "-",
      "control: DEVICE_READY(1) on the control transmitq"),
    C("ctl.rng_read", hdt_valid, RNG, 0, 0, "-", "control: a 64-byte device-writable buffer"),
    C("ctl.pmem_flush", ctl_pmem, PMEM, 0, 0, "-", "control: a FLUSH request, ret 0"),
    C("console.tx_writable", con_tx_writable, CON, 0, 0, CONOP, "transmitq buffer device-writable"),
    C("console.tx_mixed", con_tx_mixed, CON, 0, 0, CONOP,
      "transmitq chain: readable 8 bytes, then writable 8"),
    C("console.tx_outside_ram", con_tx_outside_ram, CON, 0, 0,
      "2.7.5 (addr is a guest-physical buffer)", "transmitq buffer at 64 TiB"),
    C("console.tx_huge", con_tx_huge, CON, 0, 0, "2.7.5 (addr, len: a buffer in guest memory)",
      "transmitq buffer of 2 GiB from a case buffer on"),
    C("edge.console_tx_zero_len", edge_con_tx_zero_len, CON, 0, 0, ANY,
      "transmitq buffer of 0 bytes"),
    C("console.rx_readable", con_rx_readable, CON, RXQ, 0, CONOP,
      "receiveq buffer device-readable"),
    C("console.rx_zero_len", con_rx_zero_len, CON, RXQ, 0, CONOP, "receiveq buffer of 0 bytes"),
    C("console.rx_mixed", con_rx_mixed, CON, RXQ, 0, CONOP,
      "receiveq chain: readable 8 bytes, then writable 64"),
    C("console.ctrl_port_oob", con_ctrl_port_oob, CON, CTRLQ, 0, MP,
      "PORT_READY for a port id >= max_nr_ports"),
    C("console.ctrl_port_huge", con_ctrl_port_huge, CON, CTRLQ, 0, MP,
      "PORT_OPEN for port id 0xffffffff"),
    C("console.ctrl_unknown_event", con_ctrl_unknown_event, CON, CTRLQ, 0, MP,
      "control event 0x4242 (undefined)"),
    C("console.ctrl_short", con_ctrl_short, CON, CTRLQ, 0, MP, "control message of 4 bytes"),
    C("console.ctrl_empty", con_ctrl_empty, CON, CTRLQ, 0, MP, "control message of 0 bytes"),
    C("console.ctrl_ready_bad_value", con_ctrl_ready_bad_value, CON, CTRLQ, 0, MP,
      "DEVICE_READY with value 7 (1 or 0 only)"),
    C("console.ctrl_open_unadded", con_ctrl_open_unadded, CON, CTRLQ, 0, MP,
      "PORT_OPEN for a port the device never added"),
    C("console.ctrl_ready_early", con_ctrl_ready_before_device, CON, CTRLQ, 0,
      "5.3.6.2.2 (driver MUST send DEVICE_READY)", "PORT_READY before DEVICE_READY"),
    C("console.ctrl_device_event", con_ctrl_device_event, CON, CTRLQ, 0, MP,
      "DEVICE_ADD from the driver (device-only event)"),
    C("console.ctrl_resize", con_ctrl_resize, CON, CTRLQ, 0, MP,
      "RESIZE from the driver (device-only event)"),
    C("console.ctrl_writable", con_ctrl_writable, CON, CTRLQ, 0, CONOP,
      "control transmitq message device-writable"),
    C("rng.zero_len", rng_zero_len, RNG, 0, 0, "5.4.6 (the buffer is filled; one or more bytes)",
      "a device-writable buffer of 0 bytes"),
    C("rng.readable", rng_readable, RNG, 0, 0, RNGOP, "a device-readable buffer"),
    C("rng.readable_first", rng_readable_first, RNG, 0, 0, RNGOP,
      "chain: readable 16 bytes, then writable 64"),
    C("rng.outside_ram", rng_outside_ram, RNG, 0, 0, "2.7.5 (addr is a guest-physical buffer)",
      "64-byte buffer at 64 TiB"),
    C("rng.huge_outside_ram", rng_huge_outside_ram, RNG, 0, 0,
      "2.7.5 (addr is a guest-physical buffer)", "2 GiB buffer at 64 TiB"),
    C("rng.wrap", rng_wrap, RNG, 0, 0, "2.7.5 (addr is a guest-physical buffer)",
      "buffer whose addr + len wraps 2^64"),
    C("edge.rng_many_tiny", edge_rng_many_tiny, RNG, 0, 0, ANY, "chain of 12 one-byte buffers"),
    C("edge.rng_large", edge_rng_large, RNG, 0, 0, "5.4.6.2 (the device MAY use less)",
      "one 32 KiB buffer"),
    C("pmem.short_req", pmem_short_req, PMEM, 0, 0, PMOP, "request descriptor of 2 bytes"),
    C("pmem.no_resp", pmem_no_resp, PMEM, 0, 0, PMOP, "request without a response descriptor"),
    C("pmem.readable_resp", pmem_readable_resp, PMEM, 0, 0, PMOP,
      "response descriptor device-readable"),
    C("pmem.unknown_type", pmem_unknown_type, PMEM, 0, 0, PMOP, "request type other than FLUSH"),
    C("pmem.long_req", pmem_long_req, PMEM, 0, 0, PMOP, "request descriptor of 12 bytes"),
    C("pmem.short_resp", pmem_short_resp, PMEM, 0, 0, PMOP, "response descriptor of 2 bytes"),
    C("pmem.extra_desc", pmem_extra_desc, PMEM, 0, 0, PMOP,
      "a third, writable descriptor after the response"),
    C("pmem.writable_req", pmem_writable_req, PMEM, 0, 0, PMOP,
      "request descriptor device-writable"),
    C("edge.pmem_split_req", edge_pmem_split_req, PMEM, 0, 0, ANY,
      "FLUSH request split 2 + 2 over two descriptors"),
    C("pmem.resp_outside_ram", pmem_resp_outside_ram, PMEM, 0, 0,
      "2.7.5 (addr is a guest-physical buffer)", "response descriptor at 64 TiB"),
};

const struct hdt_table hdt_table_dev = {cases, sizeof(cases) / sizeof(cases[0])};
