/* SPDX-License-Identifier: Apache-2.0 */
/*
 * snapshot_restore.c - the validating snapshot reader: snap_check(),
 * snap_restore() and their model-only forms (format in snapshot.h; the
 * writer is snapshot.c). Apart from the writer because it is the half that
 * reads untrusted bytes.
 *
 * The snapshot is untrusted input (a file, a vhost-user frontend): every
 * length and index is bounds-checked before use, nothing is read outside
 * [buf, buf + len), and guest memory is reached only through
 * vdq_mem_translate().
 *
 * Invariants:
 *  - restore is two phases under the transport's lock: snap_plan() decodes
 *    and validates everything into a private plan (including the queues'
 *    new vdq state, built but not installed) and touches nothing shared
 *    except reading avail->idx / used->idx / the avail ring from guest
 *    memory; snap_apply() then installs the plan and cannot fail. A refused
 *    snapshot therefore leaves the device exactly as it was.
 *  - restore only runs on a sleeping device, so no queue work runs
 *    concurrently and no chain is in flight (vmmio_sleep()).
 */
#include "snapshot.h"

#include <errno.h>
#include <stdarg.h>
#include <string.h>

#include "crc32c.h"
#include "snap_le.h"
#include "snapshot_format.h"
#include "virtio_platform.h"

#define STATUS_KNOWN                                                                               \
    (VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER | VIRTIO_STATUS_FEATURES_OK |                \
     VIRTIO_STATUS_DRIVER_OK | VIRTIO_STATUS_DEVICE_NEEDS_RESET | VIRTIO_STATUS_FAILED)

/* ---------------------------------------------------------------- errors */

static void err_putc(struct snap_err *e, char c)
{
    if (e->buf && e->len + 1 < e->cap) {
        e->buf[e->len++] = c;
        e->buf[e->len] = 0;
    }
}

static void err_puts(struct snap_err *e, const char *s)
{
    while (*s)
        err_putc(e, *s++);
}

static void err_putu(struct snap_err *e, uint64_t v, unsigned base)
{
    char tmp[24];
    int n = 0;

    if (base == 16)
        err_puts(e, "0x");
    do {
        tmp[n++] = "0123456789abcdef"[v % base];
        v /= base;
    } while (v);
    while (n)
        err_putc(e, tmp[--n]);
}

/* snapshot_format.h */
int snap_fail(struct snap_err *e, const char *section, int index, const char *fmt, ...)
{
    va_list ap;

    e->len = 0;
    if (e->buf && e->cap)
        e->buf[0] = 0;
    err_puts(e, section);
    if (index >= 0) {
        err_putc(e, '[');
        err_putu(e, (unsigned)index, 10);
        err_putc(e, ']');
    }
    err_puts(e, ": ");
    va_start(ap, fmt);
    for (; *fmt; fmt++) {
        if (*fmt != '%' || !fmt[1]) {
            err_putc(e, *fmt);
            continue;
        }
        switch (*++fmt) {
        case 's':
            err_puts(e, va_arg(ap, const char *));
            break;
        case 'u':
            err_putu(e, va_arg(ap, unsigned), 10);
            break;
        case 'U':
            err_putu(e, va_arg(ap, uint64_t), 10);
            break;
        case 'X':
            err_putu(e, va_arg(ap, uint64_t), 16);
            break;
        default:
            err_putc(e, *fmt);
        }
    }
    va_end(ap);
    return -EINVAL;
}

/* ---------------------------------------------------------------- restore */

struct plan {
    const uint8_t *trns, *devc, *modl, *cont;
    const uint8_t *queu[VDEV_MAX_QUEUES];
    uint32_t modl_len, cont_len, nqueu;
    uint16_t minor;
    uint16_t pad;
    struct vmmio_transport_state st;
    uint32_t device_id;
    uint16_t num_queues, dflags;
    uint64_t avail_features, acked_features;
    uint32_t int_status;
    uint32_t pad2;
    struct plan_queue q[VDEV_MAX_QUEUES];
};

static bool is_tag(const uint8_t *p, const char *tag)
{
    return memcmp(p, tag, 4) == 0;
}

/* Header, file length and file CRC; then walk the sections, each bounds-
 * and CRC-checked, recording where each one is. */
static int plan_sections(struct plan *pl, const uint8_t *b, size_t len, struct snap_err *e)
{
    uint16_t major, minor;
    uint32_t flags;
    uint64_t file_len;
    size_t off, end;
    int qidx;

    if (len == 0)
        return snap_fail(e, "file", -1, "empty");
    if (len < 8 || memcmp(b, SNAP_MAGIC, 8) != 0) {
        if (len < 8 && memcmp(b, SNAP_MAGIC, len) == 0)
            return snap_fail(e, "header", -1, "truncated: %U bytes, the header is 24",
                             (uint64_t)len);
        return snap_fail(e, "header", -1, "wrong magic (not a ringloop snapshot)");
    }
    if (len < SNAP_HDR_BYTES)
        return snap_fail(e, "header", -1, "truncated: %U bytes, the header is 24", (uint64_t)len);
    major = snap_get16(b + 8);
    minor = snap_get16(b + 10);
    if (major != SNAP_VERSION_MAJOR)
        return snap_fail(e, "header", -1,
                         "format version %u.%u has another major version than this reader's %u.%u",
                         major, minor, SNAP_VERSION_MAJOR, SNAP_VERSION_MINOR);
    if (minor > SNAP_VERSION_MINOR)
        return snap_fail(e, "header", -1, "format version %u.%u is newer than this reader's %u.%u",
                         major, minor, SNAP_VERSION_MAJOR, SNAP_VERSION_MINOR);
    pl->minor = minor;
    flags = snap_get32(b + 12);
    if (flags & ~HDR_F_CONTENT)
        return snap_fail(e, "header", -1, "unknown flags %X", (uint64_t)flags);
    file_len = snap_get64(b + 16);
    if (file_len > len)
        return snap_fail(e, "file", -1, "truncated: %U bytes, the header says %U", (uint64_t)len,
                         file_len);
    if (file_len < len)
        return snap_fail(e, "file", -1, "wrong length: %U bytes, the header says %U", (uint64_t)len,
                         file_len);
    if (len < SNAP_HDR_BYTES + SNAP_TRAILER_BYTES)
        return snap_fail(e, "file", -1, "no room for the trailer CRC");
    end = len - SNAP_TRAILER_BYTES;
    if (crc32c(0, b, end) != snap_get32(b + end))
        return snap_fail(e, "file", -1, "CRC mismatch (the file is corrupt)");

    for (off = SNAP_HDR_BYTES; off < end;) {
        const uint8_t *s = b + off;
        uint32_t plen;
        char tag[5];

        if (end - off < SNAP_SECT_OVERHEAD)
            return snap_fail(e, "file", -1, "truncated section header at offset %U", (uint64_t)off);
        plen = snap_get32(s + 4);
        if (plen > end - off - SNAP_SECT_OVERHEAD)
            return snap_fail(e, "file", -1, "section at offset %U runs past the end",
                             (uint64_t)off);
        memcpy(tag, s, 4);
        tag[4] = 0;
        if (crc32c(0, s, 8 + (size_t)plen) != snap_get32(s + 8 + plen))
            return snap_fail(e, "section", -1, "CRC mismatch in section at offset %U",
                             (uint64_t)off);
        if (is_tag(s, "TRNS") || is_tag(s, "DEVC")) {
            const uint8_t **slot = is_tag(s, "TRNS") ? &pl->trns : &pl->devc;
            uint32_t want = is_tag(s, "TRNS") ? TRNS_BYTES : DEVC_BYTES;

            if (*slot)
                return snap_fail(e, tag, -1, "appears twice");
            if (plen != want)
                return snap_fail(e, tag, -1, "wrong length %u (want %u)", plen, want);
            *slot = s + 8;
        } else if (is_tag(s, "QUEU")) {
            if (plen < QUEU_BYTES)
                return snap_fail(e, "QUEU", -1, "wrong length %u (at least %u)", plen, QUEU_BYTES);
            qidx = snap_get16(s + 8);
            if (qidx >= VDEV_MAX_QUEUES)
                return snap_fail(e, "QUEU", qidx, "queue index above %u", VDEV_MAX_QUEUES - 1);
            if (pl->queu[qidx])
                return snap_fail(e, "QUEU", qidx, "appears twice");
            if (s[8 + 7] & QUEU_F_PACKED) {
                /* 1.1: packed, 52 bytes + (id, ndesc) per buffer in flight. */
                if (minor < SNAP_MINOR_PACKED)
                    return snap_fail(e, "QUEU", qidx,
                                     "packed flag in a version 1.%u snapshot (packed from 1.%u)",
                                     minor, SNAP_MINOR_PACKED);
                if (plen != QUEU_PACKED_BYTES + 4u * snap_get16(s + 8 + 38))
                    return snap_fail(e, "QUEU", qidx,
                                     "wrong length %u for a packed queue with %u buffers in flight",
                                     plen, snap_get16(s + 8 + 38));
            } else if (plen != QUEU_BYTES + 2u * snap_get16(s + 8 + 38)) {
                return snap_fail(e, "QUEU", qidx, "wrong length %u for %u in-flight heads", plen,
                                 snap_get16(s + 8 + 38));
            }
            pl->queu[qidx] = s + 8;
            pl->nqueu++;
        } else if (is_tag(s, "MODL") || is_tag(s, "CONT")) {
            const uint8_t **slot = is_tag(s, "MODL") ? &pl->modl : &pl->cont;

            if (*slot)
                return snap_fail(e, tag, -1, "appears twice");
            *slot = s + 8;
            *(is_tag(s, "MODL") ? &pl->modl_len : &pl->cont_len) = plen;
        } else {
            return snap_fail(e, "section", -1, "unknown tag at offset %U", (uint64_t)off);
        }
        off += SNAP_SECT_OVERHEAD + (size_t)plen;
    }
    if (!pl->trns)
        return snap_fail(e, "TRNS", -1, "missing");
    if (!pl->devc)
        return snap_fail(e, "DEVC", -1, "missing");
    if (!!(flags & HDR_F_CONTENT) != !!pl->cont)
        return snap_fail(e, "header", -1, "content flag does not match the CONT section");
    return 0;
}

static int plan_device(struct plan *pl, const struct vdev *d, struct snap_err *e)
{
    const uint8_t *p = pl->devc, *t = pl->trns;
    const struct vdev_ops *ops = d->ops;
    bool activated, needs_reset, driver_ok;

    pl->device_id = snap_get32(p);
    pl->num_queues = snap_get16(p + 4);
    pl->dflags = snap_get16(p + 6);
    pl->avail_features = snap_get64(p + 8);
    pl->acked_features = snap_get64(p + 16);
    pl->int_status = snap_get32(p + 24);
    if (pl->device_id != ops->device_id)
        return snap_fail(e, "DEVC", -1,
                         "wrong device type: snapshot of device id %u, this is %s (%u)",
                         pl->device_id, ops->type, ops->device_id);
    if (pl->num_queues != ops->num_queues)
        return snap_fail(e, "DEVC", -1, "wrong queue count %u (this %s device has %u)",
                         pl->num_queues, ops->type, ops->num_queues);
    if (pl->nqueu != ops->num_queues)
        return snap_fail(e, "QUEU", -1, "wrong queue count: %u sections for %u queues", pl->nqueu,
                         ops->num_queues);
    if (pl->dflags & ~(DEVC_F_ACTIVATED | DEVC_F_NEEDS_RESET))
        return snap_fail(e, "DEVC", -1, "unknown flags %X", (uint64_t)pl->dflags);
    if (snap_get32(p + 28))
        return snap_fail(e, "DEVC", -1, "reserved field not zero");
    if (pl->acked_features & ~pl->avail_features)
        return snap_fail(e, "DEVC", -1, "acked features %X not a subset of available %X",
                         pl->acked_features, pl->avail_features);
    if ((pl->acked_features & (1ull << VIRTIO_F_RING_PACKED)) && pl->minor < SNAP_MINOR_PACKED)
        return snap_fail(e, "DEVC", -1,
                         "packed queues (acked features %X) in a version 1.%u "
                         "snapshot (packed from 1.%u)",
                         pl->acked_features, pl->minor, SNAP_MINOR_PACKED);
    if (pl->avail_features != d->avail_features)
        return snap_fail(e, "DEVC", -1, "available features %X differ from this device's %X",
                         pl->avail_features, d->avail_features);
    if (pl->int_status & ~(uint32_t)(VIRTIO_INT_USED_BUFFER | VIRTIO_INT_CONFIG_CHANGE))
        return snap_fail(e, "DEVC", -1, "unknown interrupt status bits %X",
                         (uint64_t)pl->int_status);

    pl->st.features_select = snap_get32(t);
    pl->st.acked_features_select = snap_get32(t + 4);
    pl->st.queue_select = snap_get32(t + 8);
    pl->st.device_status = snap_get32(t + 12);
    pl->st.config_generation = snap_get32(t + 16);
    pl->st.interrupt_status = snap_get32(t + 20);
    if (pl->st.interrupt_status != pl->int_status)
        return snap_fail(e, "TRNS", -1, "interrupt status %X differs from the device's %X",
                         (uint64_t)pl->st.interrupt_status, (uint64_t)pl->int_status);
    if (pl->st.device_status & ~(uint32_t)STATUS_KNOWN)
        return snap_fail(e, "TRNS", -1, "unknown device status bits %X",
                         (uint64_t)pl->st.device_status);
    activated = pl->dflags & DEVC_F_ACTIVATED;
    needs_reset = pl->dflags & DEVC_F_NEEDS_RESET;
    driver_ok = pl->st.device_status & VIRTIO_STATUS_DRIVER_OK;
    if (activated && !driver_ok)
        return snap_fail(e, "TRNS", -1, "device activated but DRIVER_OK not set");
    if (driver_ok && !activated && !needs_reset)
        return snap_fail(e, "TRNS", -1, "DRIVER_OK set but the device is not activated");
    if (needs_reset != !!(pl->st.device_status & VIRTIO_STATUS_DEVICE_NEEDS_RESET))
        return snap_fail(e, "TRNS", -1, "DEVICE_NEEDS_RESET disagrees with the device state");
    return 0;
}

/* Queue qi's rings, for a live queue: everything vdq_init_state() and the
 * format promise, each with its own reason; then build the new vdq. */
static int plan_rings(struct plan *pl, struct plan_queue *pq, const struct vdev *d, unsigned qi,
                      struct snap_err *e)
{
    bool ev = pq->flags & QUEU_F_EVENT_IDX;
    const struct virtq_avail *avail;
    const struct virtq_used *used;
    struct vdq_state qs;
    uint16_t avail_idx, used_idx, k;

    if (!!(pq->flags & QUEU_F_PACKED) != !!(pl->acked_features & (1ull << VIRTIO_F_RING_PACKED)))
        return snap_fail(
            e, "QUEU", (int)qi, "packed flag disagrees with the acked features (RING_PACKED %s)",
            pl->acked_features & (1ull << VIRTIO_F_RING_PACKED) ? "acked" : "not acked");
    if (pq->flags & QUEU_F_PACKED)
        return snap_plan_packed(pq, d, pl->acked_features, qi, e);
    if (pq->size == 0 || pq->size > pq->max_size || !virtq_is_valid_size(pq->size))
        return snap_fail(e, "QUEU", (int)qi,
                         "activated with an invalid queue: size %u (a power of two 1..%u)",
                         pq->size, pq->max_size);
    if (ev != !!(pl->acked_features & (1ull << VIRTIO_F_EVENT_IDX)) ||
        !!(pq->flags & QUEU_F_INDIRECT) !=
            !!(pl->acked_features & (1ull << VIRTIO_F_INDIRECT_DESC)))
        return snap_fail(e, "QUEU", (int)qi, "ring flags disagree with the acked features");
    if (pq->desc % VIRTQ_DESC_ALIGN || pq->avail % VIRTQ_AVAIL_ALIGN || pq->used % VIRTQ_USED_ALIGN)
        return snap_fail(e, "QUEU", (int)qi, "misaligned ring (desc %X avail %X used %X)", pq->desc,
                         pq->avail, pq->used);
    avail = vdq_mem_translate(&d->mem, pq->avail, virtq_avail_size(pq->size) - 2 + (ev ? 2 : 0));
    used = vdq_mem_translate(&d->mem, pq->used, virtq_used_size(pq->size) - 2 + (ev ? 2 : 0));
    if (!vdq_mem_translate(&d->mem, pq->desc, virtq_desc_size(pq->size)) || !avail || !used)
        return snap_fail(e, "QUEU", (int)qi, "ring outside guest memory (desc %X avail %X used %X)",
                         pq->desc, pq->avail, pq->used);
    if ((uint16_t)(pq->next_avail - pq->next_used) > pq->size)
        return snap_fail(e, "QUEU", (int)qi,
                         "next_avail %u more than size %u ahead of next_used %u", pq->next_avail,
                         pq->size, pq->next_used);
    if ((uint16_t)(pq->next_avail - pq->next_used) != pq->n_inflight)
        return snap_fail(e, "QUEU", (int)qi,
                         "%u chains in flight listed, next_avail - next_used is %u", pq->n_inflight,
                         (uint16_t)(pq->next_avail - pq->next_used));
    memset(&qs, 0, sizeof(qs));
    qs.size = pq->size;
    qs.desc_gpa = pq->desc;
    qs.avail_gpa = pq->avail;
    qs.used_gpa = pq->used;
    qs.next_avail = pq->next_avail;
    qs.next_used = pq->next_used;
    qs.num_added = pq->num_added;
    qs.event_idx = ev;
    qs.indirect = !!(pq->flags & QUEU_F_INDIRECT);
    if (pq->flags & QUEU_F_BROKEN) {
        /* A broken queue's indices may be the impossible ones that broke
         * it: keep it broken (the driver must reset), check nothing more. */
        struct vdq_config cfg = {.num = qs.size,
                                 .desc_gpa = qs.desc_gpa,
                                 .avail_gpa = qs.avail_gpa,
                                 .used_gpa = qs.used_gpa,
                                 .event_idx = qs.event_idx,
                                 .indirect = qs.indirect};

        if (vdq_init(&pq->q, &d->mem, &cfg))
            return snap_fail(e, "QUEU", (int)qi, "ring unusable");
        pq->q.next_avail = pq->q.avail_idx_seen = qs.next_avail;
        pq->q.next_used = qs.next_used;
        pq->q.num_added = qs.num_added;
        pq->q.broken = true;
        return 0;
    }
    avail_idx = vr_le16_to_cpu(virt_load_acquire16(&avail->idx));
    used_idx = vr_le16_to_cpu(virt_load_acquire16(&used->idx));
    /* Both are u16 distances; say which way round when it is "behind". */
    if ((uint16_t)(avail_idx - pq->next_avail) > pq->size) {
        if ((uint16_t)(pq->next_avail - avail_idx) <= pq->size)
            return snap_fail(e, "QUEU", (int)qi,
                             "avail idx %u is behind next_avail %u (avail idx more than size %u "
                             "ahead of next_avail)",
                             avail_idx, pq->next_avail, pq->size);
        return snap_fail(e, "QUEU", (int)qi,
                         "avail idx %u more than size %u ahead of next_avail %u", avail_idx,
                         pq->size, pq->next_avail);
    }
    if ((uint16_t)(pq->next_avail - used_idx) > pq->size) {
        if ((uint16_t)(used_idx - pq->next_avail) <= pq->size)
            return snap_fail(e, "QUEU", (int)qi,
                             "used idx %u is ahead of next_avail %u: the rings moved on since "
                             "this snapshot (next_avail more than size %u ahead of used idx)",
                             used_idx, pq->next_avail, pq->size);
        return snap_fail(e, "QUEU", (int)qi, "next_avail %u more than size %u ahead of used idx %u",
                         pq->next_avail, pq->size, used_idx);
    }
    /* In-flight chains: exactly the avail entries [next_used, next_avail),
     * in order; they are rewound and processed again (snapshot.h). */
    for (k = 0; k < pq->n_inflight; k++) {
        uint16_t head = snap_get16(pq->inflight + 2 * k);
        uint16_t slot = (uint16_t)(pq->next_used + k) & (uint16_t)(pq->size - 1);

        if (head != vr_le16_to_cpu(virt_read_once16(&avail->ring[slot])))
            return snap_fail(e, "QUEU", (int)qi,
                             "in-flight head %u is not avail entry %u of the ring", head, slot);
    }
    qs.next_avail = pq->next_used; /* rewind (no-op when nothing was in flight) */
    if (vdq_init_state(&pq->q, &d->mem, &qs))
        return snap_fail(e, "QUEU", (int)qi, "ring state refused by the queue");
    return 0;
}

static int plan_queues(struct plan *pl, const struct vdev *d, struct snap_err *e)
{
    bool activated = pl->dflags & DEVC_F_ACTIVATED;
    unsigned qi;
    int err;

    for (qi = 0; qi < d->ops->num_queues; qi++) {
        const uint8_t *p = pl->queu[qi];
        struct plan_queue *pq = &pl->q[qi];
        bool live;

        if (!p)
            return snap_fail(e, "QUEU", (int)qi, "missing");
        pq->max_size = snap_get16(p + 2);
        pq->size = snap_get16(p + 4);
        pq->ready = p[6];
        pq->flags = p[7];
        pq->desc = snap_get64(p + 8);
        pq->avail = snap_get64(p + 16);
        pq->used = snap_get64(p + 24);
        pq->next_avail = snap_get16(p + 32);
        pq->next_used = snap_get16(p + 34);
        pq->num_added = snap_get16(p + 36);
        pq->n_inflight = snap_get16(p + 38);
        pq->inflight = p + QUEU_BYTES;
        if (pq->flags & QUEU_F_PACKED) {
            pq->avail_wrap = p[40];
            pq->used_wrap = p[41];
            pq->ev_flags = snap_get16(p + 42);
            pq->ev_off_wrap = snap_get16(p + 44);
            pq->reserved = snap_get16(p + 46);
            pq->added_desc = snap_get32(p + 48);
            pq->inflight = p + QUEU_PACKED_BYTES;
        }
        if (pq->max_size != d->queues[qi].max_size)
            return snap_fail(e, "QUEU", (int)qi, "max_size %u differs from the device's %u",
                             pq->max_size, d->queues[qi].max_size);
        if (pq->ready > 1)
            return snap_fail(e, "QUEU", (int)qi, "ready is %u, not 0/1", pq->ready);
        if (pq->flags &
            ~(QUEU_F_LIVE | QUEU_F_EVENT_IDX | QUEU_F_INDIRECT | QUEU_F_BROKEN | QUEU_F_PACKED))
            return snap_fail(e, "QUEU", (int)qi, "unknown flags %X", (uint64_t)pq->flags);
        live = activated && pq->ready;
        if (!!(pq->flags & QUEU_F_LIVE) != live)
            return snap_fail(e, "QUEU", (int)qi, "live flag disagrees with activated/ready");
        if (!live) {
            /* Still being set up by the driver (or unused): no ring state.
             * vmmio refuses sizes above max_size at activation; we refuse
             * them here already. */
            if (pq->size > pq->max_size)
                return snap_fail(e, "QUEU", (int)qi, "size %u above max_size %u", pq->size,
                                 pq->max_size);
            if (pq->flags || pq->next_avail || pq->next_used || pq->num_added || pq->n_inflight)
                return snap_fail(e, "QUEU", (int)qi, "ring state on a queue that is not live");
            continue;
        }
        err = plan_rings(pl, pq, d, qi, e);
        if (err)
            return err;
    }
    return 0;
}

static int plan_model(struct plan *pl, const struct vdev *d, struct snap_err *e)
{
    const char *why;

    if (!d->ops->state_size) {
        if (pl->modl)
            return snap_fail(e, "MODL", -1, "this %s device has no model state", d->ops->type);
    } else {
        if (!pl->modl)
            return snap_fail(e, "MODL", -1, "missing (the %s model has state)", d->ops->type);
        why = d->ops->state_check(d, pl->modl, pl->modl_len);
        if (why)
            return snap_fail(e, "MODL", -1, "%s", why);
    }
    if (pl->cont) {
        uint64_t n = 0;
        void *c = d->ops->content ? d->ops->content(d, &n) : NULL;

        if (!c)
            return snap_fail(e, "CONT", -1, "this %s device has no content to restore",
                             d->ops->type);
        if (n != pl->cont_len)
            return snap_fail(e, "CONT", -1, "content is %U bytes, the device's is %U",
                             (uint64_t)pl->cont_len, n);
    }
    return 0;
}

/* with_queues false: model state and content only (snap_restore_model):
 * the queues and the transport stay as the running driver set them up. */
static int snap_plan(struct plan *pl, const struct vdev *d, const uint8_t *b, size_t len,
                     bool with_queues, struct snap_err *e)
{
    int err;

    memset(pl, 0, sizeof(*pl));
    err = plan_sections(pl, b, len, e);
    if (!err)
        err = plan_device(pl, d, e);
    if (!err && with_queues)
        err = plan_queues(pl, d, e);
    if (!err)
        err = plan_model(pl, d, e);
    return err;
}

/* The model's state and content from a validated plan; cannot fail. */
static void snap_apply_model(const struct plan *pl, struct vdev *d)
{
    if (d->ops->state_load)
        d->ops->state_load(d, pl->modl, pl->modl_len);
    if (pl->cont) {
        uint64_t n;
        void *c = d->ops->content(d, &n);

        memcpy(c, pl->cont, pl->cont_len);
    }
}

/* Install a validated plan; cannot fail. */
static void snap_apply(const struct plan *pl, struct vdev *d, struct vmmio_transport_state *st)
{
    unsigned qi;

    d->avail_features = pl->avail_features;
    d->acked_features = pl->acked_features;
    d->activated = pl->dflags & DEVC_F_ACTIVATED;
    d->needs_reset = pl->dflags & DEVC_F_NEEDS_RESET;
    d->more_work = 0;
    for (qi = 0; qi < d->ops->num_queues; qi++) {
        const struct plan_queue *pq = &pl->q[qi];
        struct vdev_queue *vq = &d->queues[qi];

        vq->size = pq->size;
        vq->ready = pq->ready;
        vq->desc_gpa = pq->desc;
        vq->avail_gpa = pq->avail;
        vq->used_gpa = pq->used;
        if (pq->flags & QUEU_F_LIVE)
            vq->q = pq->q;
        else
            memset(&vq->q, 0, sizeof(vq->q));
    }
    snap_apply_model(pl, d);
    *st = pl->st;
}

enum restore_mode { RESTORE_CHECK, RESTORE_FULL, RESTORE_MODEL_CHECK, RESTORE_MODEL };

struct restore_arg {
    const uint8_t *buf;
    size_t len;
    struct snap_err *e;
    enum restore_mode mode;
};

static int restore_locked(struct vdev *d, struct vmmio_transport_state *st, void *arg)
{
    struct restore_arg *a = arg;
    struct plan *pl;
    int err;

    if (!vdev_is_asleep(d)) {
        snap_fail(a->e, "device", -1, "not asleep (vmmio_sleep first)");
        return -EBUSY;
    }
    pl = virt_zalloc(sizeof(*pl));
    if (!pl) {
        snap_fail(a->e, "device", -1, "out of memory");
        return -ENOMEM;
    }
    if (a->mode == RESTORE_MODEL || a->mode == RESTORE_MODEL_CHECK) {
        err = snap_plan(pl, d, a->buf, a->len, false, a->e);
        if (!err && a->mode == RESTORE_MODEL)
            snap_apply_model(pl, d); /* st unchanged: 0, not written back */
    } else {
        err = snap_plan(pl, d, a->buf, a->len, true, a->e);
        if (!err && a->mode == RESTORE_FULL) {
            snap_apply(pl, d, st);
            err = 1; /* write st back */
        }
    }
    virt_free(pl);
    return err;
}

static int snap_run(struct vmmio *m, const void *buf, size_t len, char *err, size_t errlen,
                    enum restore_mode mode)
{
    struct snap_err e = {.buf = err, .cap = errlen};
    struct restore_arg a = {.buf = buf, .len = buf ? len : 0, .e = &e, .mode = mode};

    if (err && errlen)
        err[0] = 0;
    return vmmio_run_locked_state(m, restore_locked, &a);
}

int snap_check(struct vmmio *m, const void *buf, size_t len, char *err, size_t errlen)
{
    return snap_run(m, buf, len, err, errlen, RESTORE_CHECK);
}

int snap_restore(struct vmmio *m, const void *buf, size_t len, char *err, size_t errlen)
{
    return snap_run(m, buf, len, err, errlen, RESTORE_FULL);
}

int snap_check_model(struct vmmio *m, const void *buf, size_t len, char *err, size_t errlen)
{
    return snap_run(m, buf, len, err, errlen, RESTORE_MODEL_CHECK);
}

int snap_restore_model(struct vmmio *m, const void *buf, size_t len, char *err, size_t errlen)
{
    return snap_run(m, buf, len, err, errlen, RESTORE_MODEL);
}
