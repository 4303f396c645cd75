/* SPDX-License-Identifier: Apache-2.0 */
/*
 * hostile.c - the hostile device catalogue and its hooks (see hostile.h).
 *
 * Everything here breaks a device MUST of VIRTIO 1.2 on purpose; each mode
 * names the rule it breaks. The used ring is written directly (struct vdq
 * is ours): ids out of range, duplicates, idx jumps are exactly what
 * vdq_push() refuses to produce. Guest memory outside a chain is only
 * touched after a bounds check against the device's memory table, so the
 * hosted daemon cannot fault on its own misbehaviour.
 *
 * Invariants:
 *  - every hook is a pass-through when d->hostile is NULL or its mode is off
 *    (except that chains held by complete-late are still completed);
 *  - no chain stays held while the device sleeps (hostile_quiesce);
 *  - served counts every request exactly once (in hostile_push()); a mode
 *    fires only when served >= after and fewer than count firings happened;
 *  - nothing is written once the queue is broken.
 */
#include "hostile.h"

#include <errno.h>
#include <string.h>

#include "vdev.h"
#include "virtio_mmio.h"
#include "virtio_platform.h"

#define R HOSTILE_AT_RING
#define M HOSTILE_AT_MMIO
#define B HOSTILE_AT_BLK

static const struct hostile_info catalogue[HOSTILE_NMODES] = {
    [HOSTILE_OFF] = {"off", "a well-behaved device", R},
    [HOSTILE_USED_ID_RANGE] = {"used-id-range", "used element id >= queue size (2.7.8)", R},
    [HOSTILE_USED_ID_NOT_HEAD] = {"used-id-not-head",
                                  "used element id is a chained descriptor, not the head (2.7.8)",
                                  R},
    [HOSTILE_USED_ID_DUP] = {"used-id-dup", "the same head returned twice (2.7.8)", R},
    [HOSTILE_USED_ID_STALE] = {"used-id-stale",
                               "after a reset, a head from the previous session is returned", R},
    [HOSTILE_USED_LEN_OVER] = {"used-len-over",
                               "used len larger than the chain's writable bytes (2.7.8.1)", R},
    [HOSTILE_USED_LEN_UNDER] = {"used-len-under", "used len half of the bytes written (2.7.8.1)",
                                R},
    [HOSTILE_USED_IDX_JUMP] = {"used-idx-jump",
                               "used idx moves more than the queue size ahead (2.7.8)", R},
    [HOSTILE_USED_IDX_BACK] = {"used-idx-back", "used idx moves backwards (2.7.8)", R},
    [HOSTILE_USED_IDX_EARLY] = {"used-idx-early",
                                "used idx published before its element is written (2.7.8)", R},
    [HOSTILE_NEVER_COMPLETE] = {"never-complete", "a request is never completed", R},
    [HOSTILE_COMPLETE_LATE] = {"complete-late", "a request completes 20-50 ms late", R},
    [HOSTILE_IRQ_STORM] = {"irq-storm",
                           "64-255 used-buffer interrupts per completion, all but one empty", R},
    [HOSTILE_IRQ_LOST] = {"irq-lost", "a wanted used-buffer interrupt is not sent (2.7.7)", R},
    [HOSTILE_IRQ_UNSUPPRESSED] = {"irq-unsuppressed",
                                  "interrupt sent although the driver suppressed it (2.7.7)", R},
    [HOSTILE_STATUS_GARBAGE] = {"status-garbage", "blk status byte is not OK/IOERR/UNSUPP (5.2.6)",
                                R | B},
    [HOSTILE_DATA_CORRUPT] = {"data-corrupt", "one byte of the data written is flipped", R},
    [HOSTILE_WRITE_PAST] = {"write-past",
                            "1-32 bytes written after the first device-writable buffer", R},
    [HOSTILE_WRITE_READABLE] = {"write-readable",
                                "bytes written into a device-readable buffer (2.7.4)", R},
    [HOSTILE_NEEDS_RESET] = {"needs-reset", "DEVICE_NEEDS_RESET with a request in flight (2.1.2)",
                             M},
    [HOSTILE_CONFIG_GEN_CHURN] = {"config-gen-churn",
                                  "ConfigGeneration changes on every read (2.5.1)", M},
    [HOSTILE_CAPACITY_SILENT] = {"capacity-silent",
                                 "blk capacity reads halved, no config interrupt (5.2.5)", M | B},
    [HOSTILE_FEATURES_WITHDRAWN] = {"features-withdrawn",
                                    "FEATURES_OK not kept although the features were offered "
                                    "(3.1.1)",
                                    M},
    [HOSTILE_QUEUE_SIZE_CHANGE] = {"queue-size-change",
                                   "after a re-init QueueNumMax shrinks to a non-power of two", M},
    [HOSTILE_ISR_MISROUTE] = {"isr-misroute",
                              "used-buffer interrupt reported as a config change (4.2.2)", M},
    [HOSTILE_ISR_SPURIOUS_CONFIG] = {"isr-spurious-config",
                                     "every interrupt also reports a config change (4.2.2)", M},
};

#undef R
#undef M
#undef B

const struct hostile_info *hostile_info(unsigned mode)
{
    return mode < HOSTILE_NMODES ? &catalogue[mode] : NULL;
}

static bool hostile_name_is(const char *name, const char *s, size_t n)
{
    size_t i;

    for (i = 0; i < n; i++) {
        if (name[i] != s[i])
            return false;
    }
    return name[n] == '\0';
}

static int hostile_find_n(const char *s, size_t n)
{
    unsigned m;

    for (m = 0; m < HOSTILE_NMODES; m++) {
        if (hostile_name_is(catalogue[m].name, s, n))
            return (int)m;
    }
    return -1;
}

int hostile_find(const char *name)
{
    return name ? hostile_find_n(name, strlen(name)) : -1;
}

void hostile_list(void (*fn)(const struct hostile_info *info, void *ctx), void *ctx)
{
    unsigned m;

    for (m = 0; m < HOSTILE_NMODES; m++)
        fn(&catalogue[m], ctx);
}

/* Decimal or 0x hex, the whole of [s, s+n); false on anything else. */
static bool hostile_number(const char *s, size_t n, uint64_t *out)
{
    unsigned base = 10;
    uint64_t v = 0;
    size_t i = 0;

    if (n > 2 && s[0] == '0' && (s[1] == 'x' || s[1] == 'X')) {
        base = 16;
        i = 2;
    }
    if (i == n)
        return false;
    for (; i < n; i++) {
        unsigned d;

        if (s[i] >= '0' && s[i] <= '9')
            d = (unsigned)(s[i] - '0');
        else if (base == 16 && s[i] >= 'a' && s[i] <= 'f')
            d = (unsigned)(s[i] - 'a' + 10);
        else if (base == 16 && s[i] >= 'A' && s[i] <= 'F')
            d = (unsigned)(s[i] - 'A' + 10);
        else
            return false;
        if (v > (UINT64_MAX - d) / base)
            return false;
        v = v * base + d;
    }
    *out = v;
    return true;
}

int hostile_parse(const char *spec, struct hostile_cfg *cfg, const char **why)
{
    const char *p, *end;
    int mode;

    if (why)
        *why = NULL;
    memset(cfg, 0, sizeof(*cfg));
    if (!spec)
        goto err_mode;
    end = spec;
    while (*end && *end != ',')
        end++;
    mode = hostile_find_n(spec, (size_t)(end - spec));
    if (mode < 0)
        goto err_mode;
    cfg->mode = (uint32_t)mode;
    for (p = end; *p == ',';) {
        const char *key = p + 1, *eq = key, *val;
        uint64_t v;

        while (*eq && *eq != '=' && *eq != ',')
            eq++;
        if (*eq != '=')
            goto err_param;
        val = eq + 1;
        for (end = val; *end && *end != ',';)
            end++;
        if (!hostile_number(val, (size_t)(end - val), &v))
            goto err_param;
        if (hostile_name_is("seed", key, (size_t)(eq - key)))
            cfg->seed = v;
        else if (v > UINT32_MAX)
            goto err_param;
        else if (hostile_name_is("after", key, (size_t)(eq - key)))
            cfg->after = (uint32_t)v;
        else if (hostile_name_is("count", key, (size_t)(eq - key)))
            cfg->count = (uint32_t)v;
        else
            goto err_param;
        p = end;
    }
    if (*p)
        goto err_param;
    return 0;

err_mode:
    if (why)
        *why = "unknown mode";
    return -EINVAL;
err_param:
    if (why)
        *why = "bad parameter (after=N, count=K, seed=S)";
    return -EINVAL;
}

void hostile_set(struct hostile *h, const struct hostile_cfg *cfg)
{
    uint32_t nlate = h->nlate;
    struct hostile_late late[HOSTILE_MAX_LATE];

    memcpy(late, h->late, sizeof(late));
    memset(h, 0, sizeof(*h));
    h->cfg = *cfg;
    if (h->cfg.mode >= HOSTILE_NMODES)
        h->cfg.mode = HOSTILE_OFF;
    h->rng = cfg->seed;
    /* Held chains are the driver's: they still complete (hostile_signal). */
    h->nlate = nlate;
    memcpy(h->late, late, sizeof(late));
}

uint64_t hostile_next(struct hostile *h)
{
    /* splitmix64 (Steele, Lea, Flood 2014): one add, two multiply-xorshifts. */
    uint64_t z = (h->rng += 0x9e3779b97f4a7c15ull);

    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

static bool hostile_is(const struct hostile *h, enum hostile_mode mode)
{
    return h && h->cfg.mode == (uint32_t)mode;
}

/* May the configured mode act now? (after N served, fewer than K fired.) */
static bool hostile_may_fire(const struct hostile *h)
{
    return h->cfg.mode != HOSTILE_OFF && h->served >= h->cfg.after &&
           (h->cfg.count == 0 || h->fired < h->cfg.count);
}

static bool hostile_fires(struct hostile *h, enum hostile_mode mode)
{
    if (!hostile_is(h, mode) || !hostile_may_fire(h))
        return false;
    h->fired++;
    return true;
}

static bool hostile_is_blk(const struct vdev *d)
{
    return d->ops->device_id == VIRTIO_ID_BLOCK;
}

/* ---- the used ring, written the way vdq_push() never would ---- */

static void hostile_elem(struct vdq *q, uint32_t slot, uint32_t id, uint32_t len)
{
    struct virtq_used_elem *e = &q->used->ring[slot & q->mask];

    virt_write_once32(&e->id, vr_cpu_to_le32(id));
    virt_write_once32(&e->len, vr_cpu_to_le32(len));
}

/* Store-release: the elements before the index (2.7.8, even a wrong index);
 * pairs with the load-acquire of used->idx in vq_get_buf(). */
static void hostile_publish(struct vdq *q, uint16_t idx)
{
    virt_store_release16(&q->used->idx, vr_cpu_to_le16(idx));
}

/* One element at next_used with any id, index published as given. */
static void hostile_push_raw(struct vdq *q, uint32_t id, uint32_t len, uint16_t publish_delta)
{
    hostile_elem(q, q->next_used, id, len);
    q->next_used++;
    q->num_added++;
    q->stats.pushed++;
    hostile_publish(q, (uint16_t)(q->next_used + publish_delta));
}

/* used-idx-early: the element published last time lands now. */
static void hostile_fix_early(struct hostile *h, struct vdq *q, unsigned qi)
{
    if (!h->q[qi].early)
        return;
    h->q[qi].early = false;
    hostile_elem(q, h->q[qi].early_slot, h->q[qi].early_head, h->q[qi].early_len);
}

/* ---- data: what the model wrote, and memory around it ---- */

/* Is [p, p+n) inside guest memory as we see it (by host address)? */
static bool hostile_is_mapped(const struct vdev *d, const uint8_t *p, uint32_t n)
{
    uint32_t i;

    for (i = 0; i < d->mem.nregions; i++) {
        const struct vdq_mem_region *r = &d->mem.regions[i];
        const uint8_t *base = r->hva;

        if (p >= base && (uint64_t)(p - base) <= r->size && n <= r->size - (uint64_t)(p - base))
            return true;
    }
    return false;
}

/* Byte off of the chain's writable part, NULL past its end. */
static uint8_t *hostile_in_byte(const struct vdq_chain *c, uint32_t off)
{
    uint32_t i;

    for (i = c->nout; i < c->nout + c->nin; i++) {
        if (off < c->iov[i].len)
            return (uint8_t *)c->iov[i].base + off;
        off -= c->iov[i].len;
    }
    return NULL;
}

uint32_t hostile_chain(struct vdev *d, unsigned qi, const struct vdq_chain *c, uint32_t written)
{
    struct hostile *h = d->hostile;
    uint32_t data, n, i;
    uint8_t *p;

    (void)qi;
    if (!h || !hostile_may_fire(h))
        return written;
    switch (h->cfg.mode) {
    case HOSTILE_USED_LEN_OVER:
        h->fired++;
        return c->in_len + 1 + (uint32_t)(hostile_next(h) % 64);
    case HOSTILE_USED_LEN_UNDER:
        if (written == 0)
            return written;
        h->fired++;
        return written / 2;
    case HOSTILE_STATUS_GARBAGE:
        /* 5.2.6: the status byte is the last writable byte. */
        if (!hostile_is_blk(d) || c->in_len == 0 || !(p = hostile_in_byte(c, c->in_len - 1)))
            return written;
        h->fired++;
        *p = (uint8_t)(3 + hostile_next(h) % 250); /* not OK(0), IOERR(1), UNSUPP(2) */
        return written;
    case HOSTILE_DATA_CORRUPT:
        data = hostile_is_blk(d) && written ? written - 1 : written; /* spare blk's status */
        if (data == 0 || !(p = hostile_in_byte(c, (uint32_t)(hostile_next(h) % data))))
            return written;
        h->fired++;
        *p ^= (uint8_t)(1u << (hostile_next(h) % 8));
        return written;
    case HOSTILE_WRITE_PAST:
        if (c->nin == 0)
            return written;
        p = (uint8_t *)c->iov[c->nout].base + c->iov[c->nout].len;
        n = 1 + (uint32_t)(hostile_next(h) % 32);
        if (!hostile_is_mapped(d, p, n))
            return written;
        h->fired++;
        for (i = 0; i < n; i++)
            p[i] = (uint8_t)(0xa5 ^ i);
        return written;
    case HOSTILE_WRITE_READABLE:
        if (c->nout == 0)
            return written;
        p = c->iov[c->nout - 1].base;
        n = 1 + (uint32_t)(hostile_next(h) % 16);
        if (n > c->iov[c->nout - 1].len)
            n = c->iov[c->nout - 1].len;
        h->fired++;
        for (i = 0; i < n; i++)
            p[i] = (uint8_t)~p[i]; /* always a change */
        return written;
    default:
        return written;
    }
}

/* ---- completion ---- */

static void hostile_hold(struct vdev *d, struct hostile *h, unsigned qi, uint16_t head,
                         uint32_t len)
{
    struct hostile_late *l = &h->late[h->nlate++];

    l->due_ns = virt_time_ns() + (20 + hostile_next(h) % 31) * 1000000ull;
    l->qi = (uint16_t)qi;
    l->head = head;
    l->len = len;
    __atomic_fetch_or(&d->more_work, 1u << qi, __ATOMIC_RELAXED); /* come back to complete it */
}

/* Push queue qi's held chains that are due (all of them: every one). */
static void hostile_flush_late(struct vdev *d, struct hostile *h, unsigned qi, bool all)
{
    uint64_t now = virt_time_ns();
    uint32_t i = 0;

    while (i < h->nlate) {
        struct hostile_late *l = &h->late[i];

        if (l->qi != qi || (!all && (int64_t)(now - l->due_ns) < 0)) {
            if (l->qi == qi)
                __atomic_fetch_or(&d->more_work, 1u << qi, __ATOMIC_RELAXED); /* not due: come back */
            i++;
            continue;
        }
        (void)vdq_push(&d->queues[qi].q, l->head, l->len);
        *l = h->late[--h->nlate];
    }
}

int hostile_push(struct vdev *d, unsigned qi, uint16_t head, uint32_t written)
{
    struct hostile *h = d->hostile;
    struct vdq *q = &d->queues[qi].q;
    bool acted = true;
    int done = 1;
    uint32_t id;

    if (!h || qi >= HOSTILE_MAX_QUEUES)
        return 0;
    /* The ring modes write split used rings by hand; on a packed queue
     * (issue 11) they stay off and vdq_push() returns the chain, except
     * complete-late, which only holds the push back (hostile_flush_late
     * makes it through vdq_push, so it works on both layouts: the packed
     * inflight region's reconnect test needs requests held in flight).
     * The interrupt modes (hostile_signal) work on both layouts. */
    if (q->cfg.packed && h->cfg.mode != HOSTILE_COMPLETE_LATE)
        return 0;
    if (q->broken)
        return -EIO;
    if (head >= q->cfg.num)
        return 0; /* vdq_push() refuses it */
    if (!q->cfg.packed)
        hostile_fix_early(h, q, qi);
    if (!hostile_may_fire(h)) {
        acted = false;
        done = 0;
    } else {
        switch (h->cfg.mode) {
        case HOSTILE_USED_ID_RANGE:
            hostile_push_raw(q, q->cfg.num + (uint32_t)(hostile_next(h) % 0x10000), written, 0);
            break;
        case HOSTILE_USED_ID_NOT_HEAD:
            /* The next descriptor of the chain (driver memory: read once,
             * used only masked), or the neighbour of a one-descriptor chain. */
            id = vr_le16_to_cpu(virt_read_once16(&q->desc[head].flags)) & VIRTQ_DESC_F_NEXT
                     ? vr_le16_to_cpu(virt_read_once16(&q->desc[head].next)) & q->mask
                     : (uint32_t)(head + 1) % q->cfg.num;
            if (id == head)
                id = q->cfg.num; /* a one-entry ring has no other index */
            hostile_push_raw(q, id, written, 0);
            break;
        case HOSTILE_USED_ID_DUP:
            (void)vdq_push(q, head, written);
            hostile_push_raw(q, head, written, 0);
            break;
        case HOSTILE_USED_ID_STALE:
            if (!h->q[qi].has_stale || h->q[qi].has_last) {
                acted = false;
                done = 0;
                break;
            }
            h->q[qi].has_stale = false;
            hostile_push_raw(q, h->q[qi].stale_head, h->q[qi].stale_len, 0);
            done = 0; /* and the real one after it */
            break;
        case HOSTILE_USED_IDX_JUMP:
            hostile_push_raw(q, head, written, (uint16_t)q->cfg.num);
            break;
        case HOSTILE_USED_IDX_BACK:
            hostile_push_raw(q, head, written, (uint16_t)-2);
            break;
        case HOSTILE_USED_IDX_EARLY:
            h->q[qi].early = true;
            h->q[qi].early_slot = q->next_used;
            h->q[qi].early_head = head;
            h->q[qi].early_len = written;
            hostile_push_raw(q, UINT32_MAX, UINT32_MAX, 0); /* not yet written */
            break;
        case HOSTILE_NEVER_COMPLETE:
            break; /* dropped */
        case HOSTILE_COMPLETE_LATE:
            if (h->nlate < HOSTILE_MAX_LATE) {
                hostile_hold(d, h, qi, head, written);
            } else {
                acted = false;
                done = 0;
            }
            break;
        case HOSTILE_NEEDS_RESET:
            /* 2.1.2 allows NEEDS_RESET; dropping the request with it is the
             * hostile part: the driver must not wait for it. */
            h->needs_reset = true;
            d->needs_reset = true;
            vdev_signal_config(d);
            break;
        default:
            acted = false;
            done = 0;
            break;
        }
        if (acted)
            h->fired++;
    }
    h->served++;
    h->q[qi].last_head = head;
    h->q[qi].last_len = written;
    h->q[qi].has_last = true;
    return done;
}

/*
 * The device is going to sleep (vdev_sleep: a vhost-user GET_VRING_BASE,
 * a memory table or log change, a snapshot): complete every held chain
 * now, as the asynchronous blk path's quiesce does for its I/O. "late" is
 * a latency, not a loss: a chain held across the sleep would be counted
 * in the ring's base (popped) but never in used->idx, and QEMU
 * docs/interop/vhost-user.rst GET_VRING_BASE returns "the next descriptor
 * index to process in the Available Ring" on the understanding that
 * everything before it was used (QEMU's vhost_virtqueue_stop sets
 * last_avail_idx from it; a migration destination then starts at it with
 * used->idx from memory, and the chains in between are nobody's: our
 * destination re-served avail entries the source had completed, the
 * guest saw "used id not in flight"). Called with every queue's
 * processing lock held, before the device is marked asleep, so the
 * pushes, their dirty-log bits and the interrupt go out as usual.
 */
void hostile_quiesce(struct vdev *d)
{
    struct hostile *h = d->hostile;
    unsigned qi;

    if (!h || !h->nlate)
        return;
    for (qi = 0; qi < HOSTILE_MAX_QUEUES && qi < d->ops->num_queues; qi++) {
        uint32_t before = h->nlate;

        if (!vdev_has_queue_state(d, qi))
            continue;
        hostile_flush_late(d, h, qi, true);
        if (h->nlate != before)
            vdev_signal_used(d, qi); /* publishes used->idx (2.7.8) and interrupts (2.7.7) */
    }
}

/* ---- interrupts ---- */

unsigned hostile_signal(struct vdev *d, unsigned qi)
{
    struct hostile *h = d->hostile;
    struct vdq *q = &d->queues[qi].q;
    bool pushed;
    unsigned n;

    if (h)
        hostile_flush_late(d, h, qi, false);
    pushed = q->num_added != 0;
    n = vdq_interrupt_prepare(q) ? 1 : 0; /* 2.7.7 */
    /* The push before this signal already counted its request in served:
     * the signal is request number `served`, which may misbehave only past
     * the first `after` (served > after), as the ring modes do. */
    if (!h || !hostile_may_fire(h) || h->served <= h->cfg.after)
        return n;
    if (n && hostile_fires(h, HOSTILE_IRQ_STORM))
        return n + 63 + (unsigned)(hostile_next(h) % 193);
    if (n && hostile_fires(h, HOSTILE_IRQ_LOST))
        return 0;
    if (!n && pushed && !q->broken && hostile_fires(h, HOSTILE_IRQ_UNSUPPRESSED))
        return 1;
    return n;
}

uint32_t hostile_raise(struct vdev *d, uint32_t bits)
{
    struct hostile *h = d->hostile;

    if (!h || !(bits & VIRTIO_INT_USED_BUFFER))
        return bits;
    if (hostile_fires(h, HOSTILE_ISR_MISROUTE))
        return (bits & ~(uint32_t)VIRTIO_INT_USED_BUFFER) | VIRTIO_INT_CONFIG_CHANGE;
    if (hostile_fires(h, HOSTILE_ISR_SPURIOUS_CONFIG))
        return bits | VIRTIO_INT_CONFIG_CHANGE;
    return bits;
}

void hostile_reset(struct vdev *d)
{
    struct hostile *h = d->hostile;
    unsigned qi;

    if (!h)
        return;
    h->sessions++;
    h->nlate = 0; /* a reset drops what is in flight */
    h->needs_reset = false;
    for (qi = 0; qi < HOSTILE_MAX_QUEUES; qi++) {
        /* A driver resets more than once per re-init: keep the last
         * session's head until a session pushes again. */
        if (h->q[qi].has_last) {
            h->q[qi].has_stale = true;
            h->q[qi].stale_head = h->q[qi].last_head;
            h->q[qi].stale_len = h->q[qi].last_len;
        }
        h->q[qi].has_last = false;
        h->q[qi].early = false;
    }
}

/* ---- registers and config space ---- */

uint32_t hostile_reg_read(struct vdev *d, uint32_t offset, uint32_t v)
{
    struct hostile *h = d->hostile;

    if (!h)
        return v;
    switch (offset) {
    case VIRTIO_MMIO_STATUS:
        if (h->needs_reset)
            v |= VIRTIO_STATUS_DEVICE_NEEDS_RESET;
        if ((v & VIRTIO_STATUS_FEATURES_OK) && !(v & VIRTIO_STATUS_DRIVER_OK) &&
            hostile_fires(h, HOSTILE_FEATURES_WITHDRAWN))
            v &= ~(uint32_t)VIRTIO_STATUS_FEATURES_OK;
        return v;
    case VIRTIO_MMIO_CONFIG_GENERATION:
        if (hostile_fires(h, HOSTILE_CONFIG_GEN_CHURN))
            h->gen_skew++;
        return v + h->gen_skew;
    case VIRTIO_MMIO_QUEUE_NUM_MAX:
        if (v > 2 && h->sessions > 0 && hostile_fires(h, HOSTILE_QUEUE_SIZE_CHANGE))
            v = v - 1 - (uint32_t)(hostile_next(h) % (v / 2)); /* (v/2, v-1]: never 2^k */
        return v;
    default:
        return v;
    }
}

void hostile_config_read(struct vdev *d, uint32_t off, void *buf, uint32_t len)
{
    struct hostile *h = d->hostile;
    uint8_t cap[8];
    uint64_t c;
    uint32_t i;

    if (!h || !hostile_is_blk(d) || off >= sizeof(cap) || !d->ops->read_config ||
        !hostile_fires(h, HOSTILE_CAPACITY_SILENT))
        return;
    /* 5.2.4 capacity, le64 at offset 0: the model's value, halved. */
    d->ops->read_config(d, 0, cap, sizeof(cap));
    memcpy(&c, cap, sizeof(c));
    c = vr_cpu_to_le64(vr_le64_to_cpu(c) / 2);
    memcpy(cap, &c, sizeof(c));
    for (i = 0; i < len && off + i < sizeof(cap); i++)
        ((uint8_t *)buf)[i] = cap[off + i];
}
