/* SPDX-License-Identifier: Apache-2.0 */
/*
 * test_drvdetect.c - suite "drvdetect": the driver side's detections
 * (issue 10 section 2) on the loopback devices, drivers on CPU 0, device
 * side on CPU 1:
 *  - irq_storm_masked: the test raises lblk0's used-buffer interrupt over
 *    and over without the device pushing anything; the core counts the
 *    no-progress interrupts, masks the loopback line past
 *    VIRTIO_IRQ_STORM_RUN, blk I/O still completes (data verified) and
 *    the line is unmasked afterwards;
 *  - check_mode_clean: `virtio check on` over blk traffic (write, read,
 *    GET_ID): every writable segment bounced, data right, nothing
 *    reported. (Not rng: scripts that share the machine expect its stream
 *    from the seed.)
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "kernel.h"
#include "kernel/tests/ktest.h"
#include "kernel/virtio/loopback.h"
#include "vdev.h"
#include "virtio.h"
#include "virtio_blk.h"
#include "vmmio.h"

#define TD_SECTOR 100u
#define TD_BYTES 4096u

static struct virtio_device *td_dev(struct ktest *t, const char *name)
{
    struct virtio_device *d;

    if (loopback_init()) {
        ktest_fail(t, __FILE__, __LINE__, "loopback_init failed");
        return NULL;
    }
    d = virtio_find(name);
    if (!d || !d->driver_priv)
        ktest_fail(t, __FILE__, __LINE__, "no device %s", name);
    return d;
}

static void td_pattern(uint8_t *p, size_t n, uint32_t seed)
{
    for (size_t i = 0; i < n; i++)
        p[i] = (uint8_t)((seed * 2654435761u + i * 40503u) >> 7);
}

/* Device side of a storm, under the register-file lock: InterruptStatus
 * USED_BUFFER and the line raised, nothing pushed. */
static void td_raise(struct vdev *d, void *arg)
{
    (void)arg;
    __atomic_fetch_or(&d->interrupt_status, VIRTIO_INT_USED_BUFFER, __ATOMIC_RELAXED);
    d->irq(d, VIRTIO_INT_USED_BUFFER, d->irq_ctx);
}

static void t_irq_storm(struct ktest *t)
{
    struct virtio_device *d = td_dev(t, "lblk0");
    uint8_t *wbuf = malloc(TD_BYTES), *rbuf = malloc(TD_BYTES);
    struct virtio_vq *v;
    uint64_t no_progress0, storms0, start;
    unsigned raised = 0;

    if (!d)
        goto out;
    KT_ASSERT(t, wbuf && rbuf);
    KT_ASSERT(t, !d->polled);
    v = &d->vqs[0];
    td_pattern(wbuf, TD_BYTES, 10);
    KT_ASSERT_EQ(t, virtio_blk_write(d->driver_priv, TD_SECTOR, wbuf, TD_BYTES / 512), 0);
    no_progress0 = v->irq_no_progress;
    storms0 = v->irq_storms;
    /* Register lock taken with interrupts off (the lock holder must not be
     * interrupted by a handler that wants it); the IPI lands at enable. */
    while (__atomic_load_n(&v->irq_storms, __ATOMIC_RELAXED) == storms0 &&
           raised < 20 * VIRTIO_IRQ_STORM_RUN) {
        irq_disable();
        vmmio_run_locked(loopback_vmmio(d), td_raise, NULL);
        irq_enable();
        raised++;
    }
    ktest_diag("%u raised, %llu no-progress interrupts, storms %llu, masked %d", raised,
               (unsigned long long)(v->irq_no_progress - no_progress0),
               (unsigned long long)(v->irq_storms - storms0),
               __atomic_load_n(&v->irq_masked, __ATOMIC_RELAXED) ? 1 : 0);
    KT_ASSERT(t, v->irq_storms == storms0 + 1);
    KT_ASSERT(t, v->irq_no_progress - no_progress0 >= VIRTIO_IRQ_STORM_RUN);
    KT_ASSERT(t, __atomic_load_n(&v->irq_masked, __ATOMIC_ACQUIRE));
    /* Masked: the read completes by polling, data right. */
    memset(rbuf, 0, TD_BYTES);
    KT_ASSERT_EQ(t, virtio_blk_read(d->driver_priv, TD_SECTOR, rbuf, TD_BYTES / 512), 0);
    KT_ASSERT(t, memcmp(rbuf, wbuf, TD_BYTES) == 0);
    /* After the mask time a wait unmasks the line. */
    start = timer_ns();
    while (__atomic_load_n(&v->irq_masked, __ATOMIC_ACQUIRE)) {
        KT_ASSERT(t, timer_ns() - start < 5000000000ull);
        KT_ASSERT_EQ(t, virtio_blk_read(d->driver_priv, TD_SECTOR, rbuf, TD_BYTES / 512), 0);
    }
    memset(rbuf, 0, TD_BYTES);
    KT_ASSERT_EQ(t, virtio_blk_read(d->driver_priv, TD_SECTOR, rbuf, TD_BYTES / 512), 0);
    KT_ASSERT(t, memcmp(rbuf, wbuf, TD_BYTES) == 0);
out:
    free(wbuf);
    free(rbuf);
}

static void t_check_mode(struct ktest *t)
{
    struct virtio_device *d = td_dev(t, "lblk0");
    uint8_t *wbuf = malloc(TD_BYTES), *rbuf = malloc(TD_BYTES);
    char id[VIRTIO_BLK_ID_BYTES + 1];
    const struct vq_stats *bs;
    uint64_t b0, o0, p0;
    int wr, rd, gid;
    bool ok;

    if (!d)
        goto out;
    KT_ASSERT(t, wbuf && rbuf);
    bs = vq_get_stats(d->vqs[0].vq);
    b0 = bs->check_bounced;
    o0 = bs->check_overruns;
    p0 = bs->check_past_len;
    td_pattern(wbuf, TD_BYTES, 11);
    memset(rbuf, 0, TD_BYTES);
    /* Checking on only around the I/O: an assert must not leave it on. */
    vq_set_checking(true);
    wr = virtio_blk_write(d->driver_priv, TD_SECTOR, wbuf, TD_BYTES / 512);
    rd = virtio_blk_read(d->driver_priv, TD_SECTOR, rbuf, TD_BYTES / 512);
    ok = memcmp(rbuf, wbuf, TD_BYTES) == 0;
    gid = virtio_blk_get_id(d->driver_priv, id);
    vq_set_checking(false);
    ktest_diag("blk bounced %llu, id '%s'", (unsigned long long)(bs->check_bounced - b0),
               gid == 0 ? id : "?");
    KT_ASSERT_EQ(t, wr, 0);
    KT_ASSERT_EQ(t, rd, 0);
    KT_ASSERT(t, ok);
    KT_ASSERT_EQ(t, gid, 0);
    KT_ASSERT(t, strcmp(id, "ringloop-lblk0") == 0);
    /* write (status), read (data + status), GET_ID (id + status) */
    KT_ASSERT_EQ(t, bs->check_bounced - b0, 3);
    KT_ASSERT_EQ(t, bs->check_overruns, o0);
    KT_ASSERT_EQ(t, bs->check_past_len, p0);
out:
    vq_set_checking(false);
    free(wbuf);
    free(rbuf);
}

KTEST_SUITE(drvdetect_suite, "drvdetect", {"irq_storm_masked", t_irq_storm},
            {"check_mode_clean", t_check_mode});
