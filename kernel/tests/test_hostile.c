/* SPDX-License-Identifier: Apache-2.0 */
/*
 * test_hostile.c - suite "hostile-device" (issue 10 section 3): our
 * virtio-blk driver against every mode of the hostile device catalogue
 * (hostsim/hostile.h) on the loopback disk lblk0, one case per mode.
 *
 * Each case: a known pattern is written with the device behaving; the mode
 * is switched on (`loopback hostile lblk0 <mode>`, seed = 1000 + mode); a
 * scenario made for the mode runs with every wait bounded (a never-complete
 * device costs one short timeout, never a hang); the verdict is printed as
 * `# verdict <mode>: detected|tolerated (<how>)`; the mode is switched off,
 * the device reset and re-initialised, and a good write + read is verified
 * byte for byte. A case fails when the mode never fired, when the driver
 * took a ring/status violation for success (modes marked DETECT), when a
 * data mode left no trace the suite could see, or when the device is not
 * usable after the recovery.
 *
 * Writes past the buffer and into device-readable buffers are judged here
 * with guard bytes / a copy of the buffer (`virtio check` is not in this
 * tree yet).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hostile.h"
#include "kernel.h"
#include "kernel/tests/ktest.h"
#include "kernel/virtio/loopback.h"
#include "vdev.h"
#include "virtio.h"
#include "virtio_blk.h"
#include "virtqueue.h"

#define HD_BYTES 4096u
#define HD_GUARD 64u
#define HD_SECTOR 3000u
#define HD_TIMEOUT_NS 300000000ull       /* a victim request: 300 ms */
#define HD_LATE_TIMEOUT_NS 2000000000ull /* complete-late: 20-50 ms late */

enum hd_expect { HD_ANY, HD_DETECT, HD_TOLERATE };

struct hd {
    struct ktest *t;
    struct virtio_device *d;
    struct virtio_blk *blk;
    unsigned mode;
    uint8_t *buf; /* HD_BYTES + HD_GUARD */
    uint8_t *pat; /* what HD_SECTOR holds */
    uint64_t reinits, lost, irqs, cfg_irqs, dev_irqs;
    uint64_t overruns, no_progress, storms; /* virtio check / storm counters, queue 0 */
    bool detected;
    bool effect; /* the suite saw what the mode did (data modes) */
    char how[128];
};

static void hd_pattern(uint8_t *p, size_t n, uint32_t seed)
{
    for (size_t i = 0; i < n; i++)
        p[i] = (uint8_t)((seed * 2654435761u + i * 40503u) >> 7);
}

static uint64_t hd_dev_irqs(struct hd *h)
{
    struct vdev *vd = loopback_vdev(h->d);

    return vd ? vd->queues[0].stats.interrupts : 0;
}

static void hd_snapshot(struct hd *h)
{
    h->reinits = virtio_blk_get_stats(h->blk)->reinits;
    h->lost = h->d->lost_interrupts;
    h->irqs = h->d->interrupts;
    h->cfg_irqs = h->d->config_interrupts;
    h->dev_irqs = hd_dev_irqs(h);
    h->no_progress = h->d->vqs[0].irq_no_progress;
    h->storms = h->d->vqs[0].irq_storms;
}

static bool hd_was_reset(const struct hd *h)
{
    return virtio_blk_get_stats(h->blk)->reinits != h->reinits;
}

static int hd_set(struct hd *h, unsigned mode, uint32_t after)
{
    struct hostile_cfg cfg = {.mode = mode, .after = after, .seed = 1000 + h->mode};

    return loopback_set_hostile(h->d, &cfg);
}

static unsigned hd_count_diff(const uint8_t *a, const uint8_t *b, size_t n)
{
    unsigned k = 0;

    for (size_t i = 0; i < n; i++)
        k += a[i] != b[i];
    return k;
}

/*
 * One request (IN: read HD_SECTOR back, compare with the pattern; OUT: write
 * the pattern, check the buffer was not changed), bounded by timeout_ns.
 * Fills h->how and h->detected from what the driver reported.
 */
static void hd_victim(struct hd *h, uint32_t type, uint64_t timeout_ns)
{
    struct vq_sg sg = {.buf = h->buf, .len = HD_BYTES};
    struct virtio_blk_req req = {.type = type, .nsegs = 1, .sector = HD_SECTOR, .segs = &sg};
    struct virtqueue *vq;
    uint64_t t0 = timer_ns(), ms;
    unsigned bad_data, bad_guard;
    uint64_t overruns0, overruns = 0;
    int r;

    if (type == VIRTIO_BLK_T_IN)
        memset(h->buf, 0, HD_BYTES);
    else
        memcpy(h->buf, h->pat, HD_BYTES);
    memset(h->buf + HD_BYTES, 0xcc, HD_GUARD);
    vq = virtio_vq(h->d, 0);
    overruns0 = vq ? vq_get_stats(vq)->check_overruns : 0;
    r = virtio_blk_submit(h->blk, &req);
    if (r == 0)
        r = virtio_blk_wait(h->blk, &req, timeout_ns);
    ms = (timer_ns() - t0) / 1000000;
    /* A late violation (a duplicate after a good element) shows at the next look. */
    (void)virtio_blk_poll(h->blk);
    vq = virtio_vq(h->d, 0);
    if (vq)
        overruns = vq_get_stats(vq)->check_overruns - overruns0;
    if (r == 0 && (!vq || vq_is_broken(vq) || h->d->needs_reset))
        (void)virtio_blk_reinit(h->blk);
    bad_data = hd_count_diff(h->buf, h->pat, HD_BYTES);
    bad_guard = 0;
    for (unsigned i = 0; i < HD_GUARD; i++)
        bad_guard += h->buf[HD_BYTES + i] != 0xcc;
    if (r == -ETIMEDOUT) {
        h->detected = true;
        snprintf(h->how, sizeof(h->how), "no completion in %llu ms: timeout, device reset",
                 (unsigned long long)ms);
    } else if (r != 0) {
        h->detected = true;
        snprintf(h->how, sizeof(h->how), "request ended %d%s", r,
                 hd_was_reset(h) ? ", device reset and re-initialised" : ", device kept");
    } else if (hd_was_reset(h)) {
        h->detected = true;
        snprintf(h->how, sizeof(h->how),
                 "request completed, then the ring was found broken: device reset");
    } else if (overruns) {
        /* The suite runs with `virtio check on`: the write landed in the
         * driver's guard bytes after its bounce buffer, not in ours. */
        h->detected = h->effect = true;
        snprintf(h->how, sizeof(h->how),
                 "virtio check: the device wrote past the writable buffer (%llu chain%s); "
                 "request said OK",
                 (unsigned long long)overruns, overruns == 1 ? "" : "s");
    } else if (bad_guard) {
        h->detected = h->effect = true;
        snprintf(h->how, sizeof(h->how),
                 "%u guard bytes after the buffer overwritten; request said OK (seen by the suite)",
                 bad_guard);
    } else if (bad_data) {
        h->effect = true;
        snprintf(h->how, sizeof(h->how),
                 type == VIRTIO_BLK_T_IN
                     ? "completed OK with %u data bytes wrong: undetectable by a driver"
                     : "completed OK; %u bytes of the device-readable buffer changed "
                       "(seen by the suite)",
                 bad_data);
        h->detected = type != VIRTIO_BLK_T_IN;
    } else if (h->d->vqs[0].irq_storms > h->storms) {
        h->detected = true;
        snprintf(h->how, sizeof(h->how),
                 "interrupt storm: %llu no-progress interrupts, source masked %llu time(s), "
                 "data verified",
                 (unsigned long long)(h->d->vqs[0].irq_no_progress - h->no_progress),
                 (unsigned long long)(h->d->vqs[0].irq_storms - h->storms));
    } else {
        snprintf(h->how, sizeof(h->how),
                 "completed in %llu ms, data verified; %llu device irqs, %llu handled "
                 "(%llu without progress), %llu config, %llu lost",
                 (unsigned long long)ms, (unsigned long long)(hd_dev_irqs(h) - h->dev_irqs),
                 (unsigned long long)(h->d->interrupts - h->irqs),
                 (unsigned long long)(h->d->vqs[0].irq_no_progress - h->no_progress),
                 (unsigned long long)(h->d->config_interrupts - h->cfg_irqs),
                 (unsigned long long)(h->d->lost_interrupts - h->lost));
    }
}

static void hd_scenario(struct hd *h)
{
    uint64_t cap, cap_drv;
    uint32_t size0, size1;
    int r;

    switch (h->mode) {
    case HOSTILE_USED_ID_STALE:
        /* A good request (its head is remembered), a reset, the victim. */
        hd_victim(h, VIRTIO_BLK_T_IN, HD_TIMEOUT_NS);
        if ((r = virtio_blk_reinit(h->blk)) != 0)
            KT_FAIL(h->t, "re-init before the stale head: %d", r);
        hd_snapshot(h);
        hd_victim(h, VIRTIO_BLK_T_IN, HD_TIMEOUT_NS);
        return;
    case HOSTILE_COMPLETE_LATE:
        hd_victim(h, VIRTIO_BLK_T_IN, HD_LATE_TIMEOUT_NS);
        return;
    case HOSTILE_WRITE_READABLE:
        hd_victim(h, VIRTIO_BLK_T_OUT, HD_TIMEOUT_NS);
        return;
    case HOSTILE_CONFIG_GEN_CHURN:
        r = virtio_cread(h->d, 0, &cap, sizeof(cap));
        h->detected = r != 0;
        snprintf(h->how, sizeof(h->how), "%s",
                 r ? "config generation never settled: the read was refused (-EAGAIN)"
                   : "config read accepted although the generation moved");
        return;
    case HOSTILE_CAPACITY_SILENT:
        hd_victim(h, VIRTIO_BLK_T_IN, HD_TIMEOUT_NS);
        if (h->detected)
            return;
        cap_drv = virtio_blk_capacity(h->blk);
        if ((r = virtio_cread(h->d, 0, &cap, sizeof(cap))) != 0)
            KT_FAIL(h->t, "config read: %d", r);
        h->effect = cap != cap_drv;
        snprintf(h->how, sizeof(h->how),
                 "driver keeps capacity %llu, config space now says %llu, no interrupt came",
                 (unsigned long long)cap_drv, (unsigned long long)cap);
        return;
    case HOSTILE_FEATURES_WITHDRAWN:
        r = virtio_blk_reinit(h->blk);
        h->detected = r != 0;
        snprintf(h->how, sizeof(h->how), "re-init %s (%d)",
                 r ? "refused: FEATURES_OK not kept" : "went on without FEATURES_OK", r);
        return;
    case HOSTILE_QUEUE_SIZE_CHANGE:
        size0 = vq_get_size(virtio_vq(h->d, 0));
        r = virtio_blk_reinit(h->blk);
        hd_snapshot(h);
        if (r) {
            h->detected = true;
            snprintf(h->how, sizeof(h->how), "re-init refused (%d)", r);
            return;
        }
        size1 = vq_get_size(virtio_vq(h->d, 0));
        hd_victim(h, VIRTIO_BLK_T_IN, HD_TIMEOUT_NS);
        if (!h->detected) {
            h->effect = size1 != size0 && (size1 & (size1 - 1)) == 0;
            snprintf(h->how, sizeof(h->how),
                     "queue %u -> %u after re-init (rounded to a power of two), data verified",
                     size0, size1);
        }
        return;
    default:
        hd_victim(h, VIRTIO_BLK_T_IN, HD_TIMEOUT_NS);
        return;
    }
}

static enum hd_expect hd_expect(unsigned mode)
{
    switch (mode) {
    case HOSTILE_USED_ID_RANGE:
    case HOSTILE_USED_ID_NOT_HEAD:
    case HOSTILE_USED_ID_DUP:
    case HOSTILE_USED_ID_STALE:
    case HOSTILE_USED_LEN_OVER:
    case HOSTILE_USED_LEN_UNDER:
    case HOSTILE_USED_IDX_JUMP:
    case HOSTILE_USED_IDX_BACK:
    case HOSTILE_USED_IDX_EARLY:
    case HOSTILE_NEVER_COMPLETE:
    case HOSTILE_STATUS_GARBAGE:
    case HOSTILE_NEEDS_RESET:
    case HOSTILE_CONFIG_GEN_CHURN:
    case HOSTILE_FEATURES_WITHDRAWN:
        return HD_DETECT;
    case HOSTILE_COMPLETE_LATE:
    case HOSTILE_IRQ_LOST:
    case HOSTILE_IRQ_UNSUPPRESSED:
    case HOSTILE_ISR_MISROUTE:
    case HOSTILE_ISR_SPURIOUS_CONFIG:
    case HOSTILE_CAPACITY_SILENT:
    case HOSTILE_QUEUE_SIZE_CHANGE:
        return HD_TOLERATE;
    default:
        return HD_ANY; /* storms: section 2 may add masking */
    }
}

static bool hd_needs_effect(unsigned mode)
{
    return mode == HOSTILE_DATA_CORRUPT || mode == HOSTILE_WRITE_PAST ||
           mode == HOSTILE_WRITE_READABLE || mode == HOSTILE_CAPACITY_SILENT ||
           mode == HOSTILE_QUEUE_SIZE_CHANGE;
}

/* Mode off, reset + re-init in the default mode, a good write + read. */
static void hd_recover(struct hd *h)
{
    int r;

    if (hd_set(h, HOSTILE_OFF, 0))
        KT_FAIL(h->t, "mode off refused");
    r = loopback_set_mode(h->d, false, true, 0);
    if (r)
        KT_FAIL(h->t, "re-init with the mode off: %d", r);
    hd_pattern(h->pat, HD_BYTES, 77 + h->mode);
    if ((r = virtio_blk_write(h->blk, HD_SECTOR + 16, h->pat, HD_BYTES / 512)) != 0)
        KT_FAIL(h->t, "write after recovery: %d", r);
    memset(h->buf, 0, HD_BYTES);
    if ((r = virtio_blk_read(h->blk, HD_SECTOR + 16, h->buf, HD_BYTES / 512)) != 0)
        KT_FAIL(h->t, "read after recovery: %d", r);
    if (memcmp(h->buf, h->pat, HD_BYTES))
        KT_FAIL(h->t, "data after recovery differs");
}

static void hd_run(struct ktest *t, unsigned mode)
{
    const char *name = hostile_info(mode)->name;
    struct hostile st;
    struct hd h;
    enum hd_expect want = hd_expect(mode);
    bool was_checking = vq_is_checking();
    int r;

    memset(&h, 0, sizeof(h));
    h.t = t;
    h.mode = mode;
    if (loopback_init())
        KT_FAIL(t, "loopback_init failed");
    h.d = virtio_find("lblk0");
    if (!h.d || !h.d->driver_priv)
        KT_FAIL(t, "no lblk0");
    h.blk = h.d->driver_priv;
    h.buf = malloc(HD_BYTES + HD_GUARD);
    h.pat = malloc(HD_BYTES);
    if (!h.buf || !h.pat) {
        ktest_fail(t, __FILE__, __LINE__, "out of memory");
        goto out;
    }
    /* Polled with callbacks off: the only way a driver suppresses interrupts. */
    if (mode == HOSTILE_IRQ_UNSUPPRESSED && loopback_set_mode(h.d, true, true, 0)) {
        ktest_fail(t, __FILE__, __LINE__, "polled mode refused");
        goto out;
    }
    /* Issue 10: the suite runs in checking mode (guard bytes after every
     * device-writable buffer, drivers/virtio/vq_check.h); restored below. */
    was_checking = vq_is_checking();
    vq_set_checking(true);
    hd_pattern(h.pat, HD_BYTES, mode);
    if ((r = virtio_blk_write(h.blk, HD_SECTOR, h.pat, HD_BYTES / 512)) != 0) {
        ktest_fail(t, __FILE__, __LINE__, "pattern write: %d", r);
        goto out;
    }
    hd_snapshot(&h);
    if (hd_set(&h, mode, 0)) {
        ktest_fail(t, __FILE__, __LINE__, "mode %s refused", name);
        goto out;
    }
    hd_scenario(&h);
    loopback_get_hostile(h.d, &st);
    if (!t->failed) {
        ktest_diag("verdict %s: %s (%s)", name, h.detected ? "detected" : "tolerated", h.how);
        if (st.fired == 0)
            ktest_fail(t, __FILE__, __LINE__, "%s never fired", name);
        else if (want == HD_DETECT && !h.detected)
            ktest_fail(t, __FILE__, __LINE__, "%s not detected: %s", name, h.how);
        else if (want == HD_TOLERATE && h.detected)
            ktest_fail(t, __FILE__, __LINE__, "%s should be tolerated: %s", name, h.how);
        else if (hd_needs_effect(mode) && !h.effect)
            ktest_fail(t, __FILE__, __LINE__, "%s left no trace: %s", name, h.how);
    }
out:
    if (h.buf && h.pat)
        hd_recover(&h);
    else
        (void)hd_set(&h, HOSTILE_OFF, 0);
    vq_set_checking(was_checking);
    free(h.buf);
    free(h.pat);
}

#define HD_CASE(fn, mode)                                                                          \
    static void fn(struct ktest *t)                                                                \
    {                                                                                              \
        hd_run(t, mode);                                                                           \
    }
HD_CASE(t_used_id_range, HOSTILE_USED_ID_RANGE)
HD_CASE(t_used_id_not_head, HOSTILE_USED_ID_NOT_HEAD)
HD_CASE(t_used_id_dup, HOSTILE_USED_ID_DUP)
HD_CASE(t_used_id_stale, HOSTILE_USED_ID_STALE)
HD_CASE(t_used_len_over, HOSTILE_USED_LEN_OVER)
HD_CASE(t_used_len_under, HOSTILE_USED_LEN_UNDER)
HD_CASE(t_used_idx_jump, HOSTILE_USED_IDX_JUMP)
HD_CASE(t_used_idx_back, HOSTILE_USED_IDX_BACK)
HD_CASE(t_used_idx_early, HOSTILE_USED_IDX_EARLY)
HD_CASE(t_never_complete, HOSTILE_NEVER_COMPLETE)
HD_CASE(t_complete_late, HOSTILE_COMPLETE_LATE)
HD_CASE(t_irq_storm, HOSTILE_IRQ_STORM)
HD_CASE(t_irq_lost, HOSTILE_IRQ_LOST)
HD_CASE(t_irq_unsuppressed, HOSTILE_IRQ_UNSUPPRESSED)
HD_CASE(t_status_garbage, HOSTILE_STATUS_GARBAGE)
HD_CASE(t_data_corrupt, HOSTILE_DATA_CORRUPT)
HD_CASE(t_write_past, HOSTILE_WRITE_PAST)
HD_CASE(t_write_readable, HOSTILE_WRITE_READABLE)
HD_CASE(t_needs_reset, HOSTILE_NEEDS_RESET)
HD_CASE(t_config_gen_churn, HOSTILE_CONFIG_GEN_CHURN)
HD_CASE(t_capacity_silent, HOSTILE_CAPACITY_SILENT)
HD_CASE(t_features_withdrawn, HOSTILE_FEATURES_WITHDRAWN)
HD_CASE(t_queue_size_change, HOSTILE_QUEUE_SIZE_CHANGE)
HD_CASE(t_isr_misroute, HOSTILE_ISR_MISROUTE)
HD_CASE(t_isr_spurious_config, HOSTILE_ISR_SPURIOUS_CONFIG)

/* Every catalogue mode has a case here (a new mode without one fails). */
static void t_catalogue_covered(struct ktest *t)
{
    KT_ASSERT_EQ(t, HOSTILE_NMODES, 26);
    for (unsigned m = 0; m < HOSTILE_NMODES; m++)
        KT_ASSERT(t, hostile_find(hostile_info(m)->name) == (int)m);
}

KTEST_SUITE(hostile_suite, "hostile-device", {"catalogue", t_catalogue_covered},
            {"used_id_range", t_used_id_range}, {"used_id_not_head", t_used_id_not_head},
            {"used_id_dup", t_used_id_dup}, {"used_id_stale", t_used_id_stale},
            {"used_len_over", t_used_len_over}, {"used_len_under", t_used_len_under},
            {"used_idx_jump", t_used_idx_jump}, {"used_idx_back", t_used_idx_back},
            {"used_idx_early", t_used_idx_early}, {"never_complete", t_never_complete},
            {"complete_late", t_complete_late}, {"irq_storm", t_irq_storm},
            {"irq_lost", t_irq_lost}, {"irq_unsuppressed", t_irq_unsuppressed},
            {"status_garbage", t_status_garbage}, {"data_corrupt", t_data_corrupt},
            {"write_past", t_write_past}, {"write_readable", t_write_readable},
            {"needs_reset", t_needs_reset}, {"config_gen_churn", t_config_gen_churn},
            {"capacity_silent", t_capacity_silent}, {"features_withdrawn", t_features_withdrawn},
            {"queue_size_change", t_queue_size_change}, {"isr_misroute", t_isr_misroute},
            {"isr_spurious_config", t_isr_spurious_config});
