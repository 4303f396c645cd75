/* SPDX-License-Identifier: Apache-2.0 */
/*
 * hdt.c - the hostile-driver engine (see hdt.h): sessions on our own rings,
 * the canary oracle, the probe request and the verdicts.
 *
 * Everything the device wrote is read from shared memory once and bounds-
 * checked (used idx movement against the queue size, used ids against the
 * heads we posted, used len against the writable bytes): the device under
 * test is the untrusted side here, as everywhere (DESIGN.md 8).
 */
#include "hdt.h"

#include <errno.h>
#include <string.h>

#include "hdt_internal.h"
#include "virtio_platform.h"

/* A chain that will be used is used by then, also on a loaded host (the
 * hosted tests share 2 CPUs with QEMUs; 300 ms gave the odd false REJECT).
 * Paid in full only by chains a device never consumes. */
#define HDT_CASE_WAIT_NS 1000000000ull
#define HDT_IDLE_WAIT_NS 150000000ull /* nothing expected: how long we look */
#define HDT_PROBE_WAIT_NS 1000000000ull
/* Long enough for a loaded host (hosted tests share 2 CPUs with QEMUs):
 * only a device that never sends it waits this long. */
#define HDT_CFG_IRQ_WAIT_NS 500000000ull
#define HDT_LATE_WAIT_NS 700000000ull /* a second look before REJECT */

static const char *const verdict_names[HDT_NV] = {"PASS",   "REJECT", "NEEDS_RESET",
                                                  "WEDGED", "FAIL",   "SKIP"};

const char *hdt_verdict_name(enum hdt_verdict v)
{
    return v < HDT_NV ? verdict_names[v] : "?";
}

/* ---- small text helpers (the core has no snprintf) ---- */

void hdt_note(char *buf, const char *s)
{
    size_t n = strlen(buf);

    while (*s && n + 1 < HDT_DETAIL_MAX)
        buf[n++] = *s++;
    buf[n] = '\0';
}

void hdt_note_u(char *buf, uint64_t v, bool hex)
{
    char tmp[24];
    unsigned i = sizeof(tmp) - 1;
    unsigned base = hex ? 16 : 10;

    tmp[i] = '\0';
    do {
        tmp[--i] = "0123456789abcdef"[v % base];
        v /= base;
    } while (v && i > 2);
    if (hex) {
        tmp[--i] = 'x';
        tmp[--i] = '0';
    }
    hdt_note(buf, &tmp[i]);
}

/* ---- session ---- */

static uint8_t canary(uint32_t off)
{
    return (uint8_t)(0x5a ^ (off * 7u) ^ (off >> 8));
}

uint8_t hdt_canary_byte(uint32_t off)
{
    return canary(off);
}

uint8_t hdt_status(struct hdt_ctx *c)
{
    return c->dev->ops->get_status(c->dev);
}

static void hdt_add_status(struct hdt_ctx *c, uint8_t bits)
{
    c->dev->ops->set_status(c->dev, (uint8_t)(hdt_status(c) | bits));
}

void hdt_driver_ok(struct hdt_ctx *c)
{
    /* 3.1.1 step 8. The rings were written (zeroed) before: the device
     * reads them only after this store, which the transport's register
     * write orders after our earlier plain stores (it is an MMIO/port
     * access, or the loopback register file's lock). */
    hdt_add_status(c, VIRTIO_STATUS_DRIVER_OK);
}

int hdt_open(struct hdt_ctx *c, unsigned mode, uint64_t extra)
{
    struct virtio_device *dev = c->dev;
    const struct virtio_transport_ops *ops = dev->ops;
    uint64_t offered, want;
    uint32_t qmax;
    uint32_t i;
    int err;

    /* 3.1.1 steps 1-3. */
    c->opens++;
    err = ops->reset(dev);
    if (err < 0)
        return err;
    dev->needs_reset = false;
    if (!(mode & HDT_OPEN_NO_ACK))
        hdt_add_status(c, VIRTIO_STATUS_ACKNOWLEDGE);
    hdt_add_status(c, VIRTIO_STATUS_DRIVER);
    /* Steps 4-6 (2.2). */
    offered = ops->get_features(dev);
    want = 1ull << VIRTIO_F_VERSION_1;
    if (mode & HDT_OPEN_INDIRECT) {
        if (!(offered & (1ull << VIRTIO_F_INDIRECT_DESC)))
            return -ENOTSUP;
        want |= 1ull << VIRTIO_F_INDIRECT_DESC;
    }
    if (mode & HDT_OPEN_PACKED) {
        /* 2.8: packed virtqueues are negotiated by VIRTIO_F_RING_PACKED. */
        if (!(offered & (1ull << VIRTIO_F_RING_PACKED))) {
            c->note[0] = '\0';
            hdt_note(c->note, "VIRTIO_F_RING_PACKED not offered");
            return -ENOTSUP;
        }
        want |= 1ull << VIRTIO_F_RING_PACKED;
    }
    /* The case's device features (hdt_dev.c): offered, or no case. */
    if ((offered & c->want_features) != c->want_features)
        return -ENOTSUP;
    want |= c->want_features;
    c->features = (offered & want) | extra;
    dev->features = c->features;
    ops->set_features(dev, c->features);
    if (!(mode & HDT_OPEN_NO_FEATURES_OK)) {
        hdt_add_status(c, VIRTIO_STATUS_FEATURES_OK);
        if (!(hdt_status(c) & VIRTIO_STATUS_FEATURES_OK))
            return -EPROTO;
    }
    /* Step 7: the case's queue (0 for blk; hdt_dev.c picks it for other
     * device types) on our rings, zeroed (2.7.10.1: used flags 0). */
    qmax = ops->queue_max(dev, c->qidx);
    if (qmax == 0)
        return -ENODEV;
    c->qsize = HDT_QSIZE;
    while (c->qsize > qmax)
        c->qsize /= 2;
    for (i = 0; i < HDT_ARENA; i++)
        c->arena[i] = canary(i);
    memset(c->arena + HDT_DESC_OFF, 0, HDT_BUF_OFF - HDT_DESC_OFF);
    c->buf_next = HDT_BUF_OFF;
    c->nwr = 0;
    c->nheads = 0;
    c->avail_idx = 0;
    c->used_seen = 0;
    c->snapped = false;
    c->packed = (mode & HDT_OPEN_PACKED) != 0;
    if (c->packed)
        hdt_packed_reset(c);
    if (mode & HDT_OPEN_NO_QUEUE)
        return 0;
    err = ops->queue_setup(dev, c->qidx, c->qsize, c->dma + HDT_DESC_OFF, c->dma + HDT_AVAIL_OFF,
                           c->dma + HDT_USED_OFF);
    if (err == 0)
        err = ops->queue_enable(dev, c->qidx);
    if (err == 0 && c->aux_q >= 0)
        err = hdt_dev_setup_aux(c);
    if (err < 0)
        return err;
    if (dev->device_id == VIRTIO_ID_BLOCK) {
        uint64_t cap = 0;

        ops->read_config(dev, 0, &cap, sizeof(cap));
        c->capacity = cap;
    }
    if (!(mode & HDT_OPEN_NO_DRIVER_OK))
        hdt_driver_ok(c);
    return 0;
}

/* ---- arena helpers ---- */

uint8_t *hdt_buf(struct hdt_ctx *c, uint32_t len, bool writable, uint64_t *dma)
{
    uint32_t off = c->buf_next;
    uint32_t span = (len + 15u) & ~15u;

    if (span == 0)
        span = 16;
    /* Cases ask for at most a few KiB; a request that does not fit gets the
     * last slot again (a case bug shows as a FAIL, never as an overrun). */
    if (span > HDT_PROBE_OFF - HDT_BUF_OFF - 32)
        span = 16;
    if (off + span + 16 > HDT_PROBE_OFF)
        off = HDT_PROBE_OFF - span - 16;
    c->buf_next = off + span + 16; /* 16 canary bytes between buffers */
    if (writable)
        hdt_mark_writable(c, c->arena + off, len);
    if (dma)
        *dma = c->dma + off;
    return c->arena + off;
}

void hdt_mark_writable(struct hdt_ctx *c, const void *p, uint32_t len)
{
    uint32_t off = (uint32_t)((const uint8_t *)p - c->arena);

    if (c->nwr < HDT_MAX_WR && len) {
        c->wr[c->nwr].off = off;
        c->wr[c->nwr].len = len;
        c->nwr++;
    }
}

void hdt_set_desc(struct virtq_desc *table, unsigned i, uint64_t addr, uint32_t len, uint16_t flags,
                  uint16_t next)
{
    table[i].addr = addr;
    table[i].len = len;
    table[i].flags = flags;
    table[i].next = next;
}

uint8_t *hdt_blk_hdr(struct hdt_ctx *c, uint32_t type, uint64_t sector, uint32_t len)
{
    uint8_t *h = hdt_buf(c, len < 16 ? 16 : len, false, NULL);
    struct virtio_blk_outhdr_wire {
        uint32_t type;
        uint32_t ioprio;
        uint64_t sector;
    } w = {type, 0, sector};

    memcpy(h, &w, sizeof(w)); /* 5.2.6: le32 type, le32 reserved, le64 sector */
    return h;
}

unsigned hdt_blk_req(struct hdt_ctx *c, unsigned head, uint32_t type, uint64_t sector,
                     uint32_t data_len, uint16_t data_flags)
{
    struct virtq_desc *t = hdt_desc_table(c);
    uint8_t *h = hdt_blk_hdr(c, type, sector, 16);
    unsigned i = head;
    uint64_t a;
    uint8_t *st;

    hdt_set_desc(t, i, hdt_dma_of(c, h), 16, VIRTQ_DESC_F_NEXT, (uint16_t)(i + 1));
    i++;
    if (data_len) {
        bool w = data_flags & VIRTQ_DESC_F_WRITE;

        (void)hdt_buf(c, data_len, w, &a);
        hdt_set_desc(t, i, a, data_len, (uint16_t)(data_flags | VIRTQ_DESC_F_NEXT),
                     (uint16_t)(i + 1));
        i++;
    }
    st = hdt_buf(c, 1, true, &a);
    hdt_set_desc(t, i, a, 1, VIRTQ_DESC_F_WRITE, 0);
    c->status_off = (int32_t)(st - c->arena);
    return i + 1;
}

void hdt_snapshot(struct hdt_ctx *c)
{
    if (c->snapped)
        return;
    /* Everything the case wrote is in place; the device has not been told
     * of it yet (the index is published after this). */
    memcpy(c->shadow, c->arena, HDT_ARENA);
    c->snapped = true;
}

void hdt_publish_idx(struct hdt_ctx *c, uint16_t idx)
{
    struct virtq_avail *av = hdt_avail(c);

    hdt_snapshot(c);
    /* 2.7.13.2-3: the ring entries and descriptors before the index; pairs
     * with the device's acquire of avail->idx. */
    virt_store_release16(&av->idx, idx);
    ((struct virtq_avail *)(c->shadow + HDT_AVAIL_OFF))->idx = idx;
}

void hdt_post(struct hdt_ctx *c, uint16_t head)
{
    struct virtq_avail *av = hdt_avail(c);
    uint16_t slot = (uint16_t)(c->avail_idx & (c->qsize - 1));

    av->ring[slot] = head;
    if (c->snapped)
        ((struct virtq_avail *)(c->shadow + HDT_AVAIL_OFF))->ring[slot] = head;
    if (c->nheads < HDT_MAX_HEADS)
        c->heads[c->nheads++] = head;
    c->avail_idx++;
    hdt_publish_idx(c, c->avail_idx);
}

void hdt_kick(struct hdt_ctx *c)
{
    /* 2.7.13.4: the index store before the notification (a full barrier:
     * the doorbell is a store that must not pass the index store, and on
     * the loopback a plain memory flag). */
    virt_mb();
    c->dev->ops->notify(c->dev, c->qidx);
}

bool hdt_wait_used(struct hdt_ctx *c, uint16_t want, uint64_t timeout_ns)
{
    uint64_t start = virt_time_ns();

    if (c->packed)
        return hdt_packed_wait(c, want, timeout_ns);
    for (;;) {
        uint16_t u = virt_load_acquire16(&hdt_used(c)->idx);

        if ((uint16_t)(u - want) < 0x8000u)
            return true;
        if (hdt_status(c) & VIRTIO_STATUS_DEVICE_NEEDS_RESET)
            return false;
        if (virt_time_ns() - start > timeout_ns)
            return false;
    }
}

/* ---- the probe: a read of sector 0 on the descriptors at the end ---- */

static bool hdt_probe(struct hdt_ctx *c)
{
    struct virtq_desc *t = hdt_desc_table(c);
    uint8_t *p = c->arena + HDT_PROBE_OFF;
    unsigned h = c->qsize - 3;
    struct virtq_avail *av = hdt_avail(c);
    uint16_t want;
    uint16_t u;
    struct virtq_used_elem e;
    uint32_t w[4] = {VIRTIO_BLK_T_IN, 0, 0, 0};

    if (c->probe)
        return c->probe(c); /* per device type (hdt_dev.c) */
    if (c->dev->device_id != VIRTIO_ID_BLOCK)
        return false;
    if (c->packed)
        return hdt_packed_probe(c);
    memcpy(p, w, 16);
    p[16 + 512] = 0xff;
    hdt_set_desc(t, h, c->dma + HDT_PROBE_OFF, 16, VIRTQ_DESC_F_NEXT, (uint16_t)(h + 1));
    hdt_set_desc(t, h + 1, c->dma + HDT_PROBE_OFF + 16, 512, VIRTQ_DESC_F_WRITE | VIRTQ_DESC_F_NEXT,
                 (uint16_t)(h + 2));
    hdt_set_desc(t, h + 2, c->dma + HDT_PROBE_OFF + 16 + 512, 1, VIRTQ_DESC_F_WRITE, 0);
    av->ring[c->avail_idx & (c->qsize - 1)] = (uint16_t)h;
    c->avail_idx++;
    want = c->avail_idx;
    /* Descriptors and ring entry before the index (pairs with the device's
     * acquire of avail->idx, 2.7.13.3). */
    virt_store_release16(&av->idx, c->avail_idx);
    hdt_kick(c);
    /* The probe is the last chain made available; whatever the device did
     * with the ones before, the probe's used entry is the one whose id is h. */
    for (;;) {
        if (!hdt_wait_used(c, (uint16_t)(c->used_seen + 1), HDT_PROBE_WAIT_NS))
            return false;
        /* Acquire: the elements below u are read after the index (pairs
         * with the device's release of used->idx, 2.7.8.2). */
        u = virt_load_acquire16(&hdt_used(c)->idx);
        if ((uint16_t)(u - c->used_seen) > c->qsize)
            return false; /* impossible movement: no trust in anything else */
        while (c->used_seen != u) {
            e = hdt_used(c)->ring[c->used_seen & (c->qsize - 1)];
            c->used_seen++;
            if (e.id == h)
                return p[16 + 512] == VIRTIO_BLK_S_OK;
        }
        if ((uint16_t)(c->used_seen - want) < 0x8000u)
            return false;
    }
}

static bool hdt_recover(struct hdt_ctx *c)
{
    return hdt_open(c, c->packed ? HDT_OPEN_PACKED : 0, 0) == 0 && hdt_probe(c);
}

/* ---- verdicts ---- */

static enum hdt_verdict hdt_fail(struct hdt_result *r, const char *why)
{
    r->verdict = HDT_FAIL;
    hdt_note(r->detail, why);
    return HDT_FAIL;
}

static const char *hdt_region(uint32_t off)
{
    if (off < HDT_DESC_OFF)
        return "canary before rings";
    if (off < HDT_AVAIL_OFF)
        return "descriptor table";
    if (off < HDT_USED_OFF)
        return "avail ring";
    if (off < HDT_BUF_OFF)
        return "canary after used ring";
    return "readable buffer/canary";
}

static bool hdt_in_writable(const struct hdt_ctx *c, uint32_t off)
{
    unsigned i;

    if (c->packed && off < HDT_BUF_OFF)
        return hdt_packed_writable(c, off);
    if (!c->packed && off >= HDT_USED_OFF && off < HDT_USED_OFF + virtq_used_size(c->qsize))
        return true;
    for (i = 0; i < c->nwr; i++) {
        if (off >= c->wr[i].off && off - c->wr[i].off < c->wr[i].len)
            return true;
    }
    return false;
}

/* The canary oracle: every byte outside the used ring and the writable
 * ranges is as the device found it. */
static bool hdt_check_canary(struct hdt_ctx *c, struct hdt_result *r)
{
    uint32_t off, first = 0, n = 0;

    for (off = 0; off < HDT_PROBE_OFF; off++) {
        if (c->arena[off] != c->shadow[off] && !hdt_in_writable(c, off)) {
            if (n++ == 0)
                first = off;
        }
    }
    if (n == 0)
        return true;
    hdt_fail(r, "device wrote ");
    hdt_note_u(r->detail, n, false);
    hdt_note(r->detail, " byte(s) outside writable buffers, first at arena+");
    hdt_note_u(r->detail, first, true);
    hdt_note(r->detail, " (");
    hdt_note(r->detail, c->packed ? hdt_packed_region(first) : hdt_region(first));
    hdt_note(r->detail, ")");
    return false;
}

/* Bytes changed in the writable ranges (chain order) at or past len. */
static bool hdt_past_len(const struct hdt_ctx *c, uint32_t len)
{
    uint32_t pos = 0;
    unsigned i;
    uint32_t j;

    for (i = 0; i < c->nwr; i++) {
        for (j = 0; j < c->wr[i].len; j++, pos++) {
            uint32_t off = c->wr[i].off + j;

            if (pos >= len && c->arena[off] != c->shadow[off])
                return true;
        }
    }
    return false;
}

static uint32_t hdt_writable_bytes(const struct hdt_ctx *c)
{
    uint32_t n = c->wr_outside; /* e.g. a writable buffer far outside RAM */
    unsigned i;

    for (i = 0; i < c->nwr; i++)
        n += c->wr[i].len;
    return n;
}

/* Read what the device put in the used ring for the case's chains. Returns
 * false (and a FAIL) on an impossible entry. */
static bool hdt_collect(struct hdt_ctx *c, struct hdt_result *r, unsigned *consumed, uint32_t *len0)
{
    uint16_t u, n;
    unsigned i;

    if (c->packed)
        return hdt_packed_collect(c, r, consumed, len0);
    /* Acquire: pairs with the device's release of used->idx (2.7.8.2), so
     * the elements and the bytes written into buffers are visible. */
    u = virt_load_acquire16(&hdt_used(c)->idx);
    n = (uint16_t)(u - c->used_seen);
    *consumed = 0;
    *len0 = 0;
    if (n > c->qsize && !c->lax_used) {
        hdt_fail(r, "used idx moved by ");
        hdt_note_u(r->detail, n, false);
        return false;
    }
    while (c->used_seen != u) {
        struct virtq_used_elem e = hdt_used(c)->ring[c->used_seen & (c->qsize - 1)];
        bool ours = false;

        c->used_seen++;
        for (i = 0; i < c->nheads; i++)
            ours |= c->heads[i] == e.id;
        if (!ours && !c->lax_used) {
            hdt_fail(r, "used id ");
            hdt_note_u(r->detail, e.id, false);
            hdt_note(r->detail, " was never made available");
            return false;
        }
        if (e.len > hdt_writable_bytes(c)) {
            hdt_fail(r, "used len ");
            hdt_note_u(r->detail, e.len, false);
            hdt_note(r->detail, " > writable bytes ");
            hdt_note_u(r->detail, hdt_writable_bytes(c), false);
            return false;
        }
        if ((*consumed)++ == 0)
            *len0 = e.len;
    }
    return true;
}

static void hdt_after_reset(struct hdt_ctx *c, struct hdt_result *r)
{
    r->recovered = hdt_recover(c);
    hdt_note(r->detail, r->recovered ? "; reset recovers" : "; reset does NOT recover");
}

static void hdt_judge(struct hdt_ctx *c, struct hdt_result *r, uint64_t cfg_irqs0)
{
    unsigned consumed = 0;
    uint32_t len0 = 0;
    uint8_t st;

    if (!c->no_kick)
        hdt_kick(c);
    if (c->nheads)
        (void)hdt_wait_used(c, (uint16_t)(c->used_seen + c->nheads), HDT_CASE_WAIT_NS);
    else
        (void)hdt_wait_used(c, (uint16_t)(c->used_seen + 1), HDT_IDLE_WAIT_NS);
    if (!c->snapped)
        hdt_snapshot(c);
    if (c->case_fail) {
        size_t n = strlen(r->detail);

        if (n >= 2 && r->detail[n - 2] == ';')
            r->detail[n - 2] = '\0'; /* the case's note says why */
        r->verdict = HDT_FAIL;
        hdt_after_reset(c, r);
        return;
    }
    if (!hdt_collect(c, r, &consumed, &len0)) {
        hdt_after_reset(c, r);
        return;
    }
    /* Nothing used yet: look once more before calling it REJECT, so that a
     * device CPU starved for a while (a loaded host, TCG) is not a verdict;
     * a REJECT costs HDT_LATE_WAIT_NS more. */
    if (!consumed && c->need_consume && c->nheads &&
        !(hdt_status(c) & VIRTIO_STATUS_DEVICE_NEEDS_RESET) &&
        hdt_wait_used(c, (uint16_t)(c->used_seen + 1), HDT_LATE_WAIT_NS) &&
        !hdt_collect(c, r, &consumed, &len0)) {
        hdt_after_reset(c, r);
        return;
    }
    if (!hdt_check_canary(c, r) || !hdt_irq_check(c, r)) {
        hdt_after_reset(c, r);
        return;
    }
    /* A chain returned with len 0 was not processed (nothing written, the
     * canary oracle checked that): no status to judge. */
    if (consumed && len0 && c->status_off >= 0 && c->status_mask) {
        st = c->arena[c->status_off];
        if (st > 7 || !(c->status_mask & (1u << st))) {
            hdt_fail(r, "served with status ");
            hdt_note_u(r->detail, st, false);
            /* blk's words for blk; pmem (hdt_dev.c) gets the mask. */
            bool blk_ok = st == VIRTIO_BLK_S_OK && c->dev->device_id == VIRTIO_ID_BLOCK;

            hdt_note(r->detail, blk_ok ? " (OK), expected IOERR or UNSUPP" : ", want status mask ");
            if (!blk_ok)
                hdt_note_u(r->detail, c->status_mask, true);
            hdt_after_reset(c, r);
            return;
        }
    }
    if (consumed && len0 == 0) {
        /* Nothing device-writable (a transmit-side chain): len 0 is all a
         * device can say, served or not. */
        hdt_note(r->detail, hdt_writable_bytes(c) ? "returned unprocessed (len 0)"
                                                  : "used, len 0 (nothing writable)");
    } else if (consumed) {
        hdt_note(r->detail, "served");
        if (c->status_off >= 0) {
            hdt_note(r->detail, " status ");
            hdt_note_u(r->detail, c->arena[c->status_off], false);
        }
        hdt_note(r->detail, " len ");
        hdt_note_u(r->detail, len0, false);
        if (consumed == 1 && hdt_past_len(c, len0))
            hdt_note(r->detail, " past-len");
        if (c->packed && c->pk.no_write_flag)
            hdt_note(r->detail, " no-WRITE"); /* 2.8.3: len without the WRITE flag */
    }
    if (hdt_status(c) & VIRTIO_STATUS_DEVICE_NEEDS_RESET) {
        uint64_t start = virt_time_ns();

        /* 2.1.2: "If DRIVER_OK is set, after it sets DEVICE_NEEDS_RESET,
         * the device MUST send a device configuration change notification". */
        while (__atomic_load_n(&c->dev->config_interrupts, __ATOMIC_ACQUIRE) == cfg_irqs0 &&
               virt_time_ns() - start < HDT_CFG_IRQ_WAIT_NS)
            ;
        if (__atomic_load_n(&c->dev->config_interrupts, __ATOMIC_ACQUIRE) == cfg_irqs0) {
            hdt_fail(r, "DEVICE_NEEDS_RESET without a config interrupt (2.1.2)");
        } else {
            r->verdict = HDT_NEEDS_RESET;
            hdt_note(r->detail, consumed ? "; " : "");
            hdt_note(r->detail, "DEVICE_NEEDS_RESET + config irq");
        }
        hdt_after_reset(c, r);
        return;
    }
    if (hdt_probe(c)) {
        if (c->reject && !consumed) {
            r->verdict = HDT_REJECT; /* the case saw the device refuse its step */
            hdt_note(r->detail, "device still serves");
        } else if (consumed || !c->need_consume) {
            r->verdict = HDT_PASS;
            if (!consumed)
                hdt_note(r->detail, "device still serves");
        } else if (c->packed && c->pk.late) {
            r->verdict = HDT_PASS; /* consumed after all, unchecked by the canary */
            hdt_note(r->detail, "served late (during the probe)");
        } else {
            r->verdict = HDT_REJECT;
            hdt_note(r->detail, "not consumed, device still serves");
        }
        return;
    }
    if (hdt_status(c) & VIRTIO_STATUS_DEVICE_NEEDS_RESET &&
        __atomic_load_n(&c->dev->config_interrupts, __ATOMIC_ACQUIRE) != cfg_irqs0) {
        r->verdict = HDT_NEEDS_RESET;
        hdt_note(r->detail, "DEVICE_NEEDS_RESET + config irq (at the probe)");
    } else {
        r->verdict = HDT_WEDGED;
        hdt_note(r->detail, consumed ? "; probe not served" : "no progress, probe not served");
    }
    hdt_after_reset(c, r);
}

int hdt_run_case(struct virtio_device *dev, const struct hdt_case *k, uint64_t seed,
                 struct hdt_result *r)
{
    struct hdt_ctx *c;
    uint64_t cfg0;
    int err;

    memset(r, 0, sizeof(*r));
    if (k->device_id && k->device_id != dev->device_id) {
        r->verdict = HDT_SKIP;
        hdt_note(r->detail, "not this device type");
        return 0;
    }
    c = virt_zalloc(sizeof(*c));
    if (!c)
        return -ENOMEM;
    c->shadow = virt_zalloc(HDT_ARENA);
    c->arena = virt_dma_alloc(HDT_ARENA, &c->dma);
    if (!c->shadow || !c->arena) {
        err = -ENOMEM;
        goto out;
    }
    c->dev = dev;
    c->seed = seed;
    c->status_off = -1;
    c->need_consume = true;
    c->aux_q = -1;
    hdt_dev_prepare(c, k);
    err = 0;
    if (!(k->flags & HDT_OWN_SESSION)) {
        int e = hdt_open(c,
                         ((k->flags & HDT_WANT_INDIRECT) ? HDT_OPEN_INDIRECT : 0) |
                             ((k->flags & HDT_WANT_PACKED) ? HDT_OPEN_PACKED : 0),
                         0);

        if (e == -ENOTSUP) {
            r->verdict = HDT_SKIP;
            hdt_note(r->detail, c->note[0] ? c->note : c->want_features ? "feature not offered" : "INDIRECT_DESC not offered");
            goto out;
        }
        if (e < 0) {
            r->verdict = HDT_WEDGED;
            hdt_note(r->detail, "session did not open (");
            hdt_note_u(r->detail, (uint64_t)-e, false);
            hdt_note(r->detail, ")");
            goto out;
        }
    }
    cfg0 = __atomic_load_n(&dev->config_interrupts, __ATOMIC_ACQUIRE);
    hdt_irq_begin(c);
    if (k->run(c) < 0) {
        r->verdict = HDT_SKIP;
        hdt_note(r->detail, c->note);
        goto out;
    }
    if (c->note[0]) {
        hdt_note(r->detail, c->note);
        hdt_note(r->detail, "; ");
    }
    hdt_judge(c, r, cfg0);
out:
    /* The device stops using the arena before it is freed. */
    (void)dev->ops->reset(dev);
    dev->needs_reset = false;
    if (c->arena)
        virt_dma_free(c->arena, HDT_ARENA);
    virt_free(c->shadow);
    virt_free(c);
    return err;
}

void hdt_finish(struct virtio_device *dev)
{
    (void)dev->ops->reset(dev);
    dev->needs_reset = false;
}
