/* SPDX-License-Identifier: Apache-2.0 */
/*
 * test_vhost_user.c - suite "vhost-user": a frontend in the image drives a
 * blk loopback device through the vhost-user handler over the in-memory
 * channel (kernel/virtio/vhost_user_chan.c), with the driver ring
 * (drivers/virtio/virtqueue.c) on identity-mapped memory. The cases run in
 * order and share the device: negotiate, activate + traffic, reset +
 * re-activate, sleep (GET_VRING_BASE) + snapshot + wake, then a new
 * handler restores that snapshot and carries on; requests made while no
 * backend existed are served exactly once. Every request carries a
 * sequence number in its data and is checked done exactly once. Then the
 * error cases, each on a fresh channel: out of order, bad sizes, unknown
 * request, index out of range; each must end in an error reply or a close
 * verdict, leave no fd referenced, and never crash.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "kernel/tests/ktest.h"
#include "snap_le.h"
#include "vhost_user.h"
#include "kernel/virtio/vhost_user_chan.h"
#include "vhost_user_front.h"
#include "virtio_config.h"
#include "virtio_platform.h"
#include "virtqueue.h"

#define VT_QNUM 64
#define VT_NREQ 32
#define VT_BYTES 4096
#define VT_DISK_BYTES (1u << 20)
#define VT_UA_OFFSET 0x7f0000000000ull /* the frontend's "user" addresses */

struct vt_req {
    uint8_t hdr[16];
    uint8_t status;
    uint8_t done; /* completions seen: must end at exactly 1 */
    uint8_t pad[46];
    uint8_t data[VT_BYTES];
};

struct vt {
    struct vuchan ch;
    uint8_t msg[VU_MAX_MSG];
    const struct vu_reply *r;
    int mem, kick, call;
    struct virtqueue *vq;
    uint8_t *disk;
    struct vt_req *reqs;
    uint64_t features;
    uint32_t served; /* requests completed on the current ring */
    uint8_t *snap;
    size_t snap_len;
    uint32_t seq; /* next sequence number written */
};

static struct vt vt;

/* ---- frontend helpers (a failing one records the reason, returns false) ---- */

static int vt_send(struct vt *v, size_t len, const int *fds, unsigned nfds)
{
    return vuchan_send(&v->ch, v->msg, len, fds, nfds, &v->r);
}

/* NEED_REPLY (REPLY_ACK negotiated): the ack, or -1 when none came. */
static int64_t vt_acked(struct vt *v, size_t len, const int *fds, unsigned nfds)
{
    snap_put32(v->msg + 4, snap_get32(v->msg + 4) | VU_FLAG_NEED_REPLY);
    if (vt_send(v, len, fds, nfds) || !v->r || v->r->len != VU_HDR_BYTES + 8)
        return -1;
    return (int64_t)vuf_reply_u64(v->r);
}

static int64_t vt_get(struct vt *v, uint32_t req)
{
    if (vt_send(v, vuf_none(v->msg, req, 0), NULL, 0) || !v->r || v->r->len != VU_HDR_BYTES + 8)
        return -1;
    return (int64_t)vuf_reply_u64(v->r);
}

static bool vt_negotiate(struct ktest *t, struct vt *v)
{
    struct vuf_region rg = {
        .gpa = VUCHAN_MEM_GPA, .size = VUCHAN_MEM_SIZE, .uaddr = VT_UA_OFFSET + VUCHAN_MEM_GPA};
    int64_t f, pf;

    f = vt_get(v, VU_GET_FEATURES);
    pf = vt_get(v, VU_GET_PROTOCOL_FEATURES);
    if (f < 0 || pf < 0 || !(f & (1ll << VU_F_PROTOCOL_FEATURES))) {
        ktest_fail(t, __FILE__, __LINE__, "features %llx / %llx", (long long)f, (long long)pf);
        return false;
    }
    if (vt_send(v, vuf_u64(v->msg, VU_SET_PROTOCOL_FEATURES, 0, (uint64_t)pf), NULL, 0) ||
        vt_acked(v, vuf_none(v->msg, VU_SET_OWNER, 0), NULL, 0) != 0 ||
        vt_get(v, VU_GET_QUEUE_NUM) != 1) {
        ktest_fail(t, __FILE__, __LINE__, "protocol features / owner / queue num");
        return false;
    }
    v->features = (uint64_t)f & ((1ull << VU_F_PROTOCOL_FEATURES) | (1ull << VIRTIO_F_VERSION_1) |
                                 (1ull << VIRTIO_F_EVENT_IDX) | (1ull << VIRTIO_F_INDIRECT_DESC) |
                                 (1ull << VIRTIO_BLK_F_FLUSH));
    if (vt_acked(v, vuf_u64(v->msg, VU_SET_FEATURES, 0, v->features), NULL, 0) != 0 ||
        vt_acked(v, vuf_mem_table(v->msg, 0, &rg, 1), &v->mem, 1) != 0) {
        ktest_fail(t, __FILE__, __LINE__, "SET_FEATURES / SET_MEM_TABLE refused");
        return false;
    }
    return true;
}

static void vt_notify(struct virtqueue *vq, void *priv)
{
    struct vt *v = priv;

    (void)vq;
    vuchan_event_signal(&v->ch, v->kick);
}

static bool vt_vq_new(struct ktest *t, struct vt *v)
{
    struct vq_config cfg = {
        .num = VT_QNUM,
        .event_idx = (v->features >> VIRTIO_F_EVENT_IDX) & 1,
        .indirect = (v->features >> VIRTIO_F_INDIRECT_DESC) & 1,
        .notify = vt_notify,
        .priv = v,
    };
    int err;

    if (v->vq)
        vq_destroy(v->vq);
    v->vq = NULL;
    err = vq_create(&cfg, &v->vq);
    if (err)
        ktest_fail(t, __FILE__, __LINE__, "vq_create: %d", err);
    return !err;
}

/* Ring 0 on v->vq at base, then enabled: the device must be running.
 * was_enabled: the ring was enabled before (a restart after a stop). */
static bool vt_ring_start(struct ktest *t, struct vt *v, uint16_t base, bool was_enabled)
{
    uint64_t d, a, u;

    vq_get_ring_addrs(v->vq, &d, &a, &u);
    if (vt_acked(v, vuf_state(v->msg, VU_SET_VRING_NUM, 0, 0, VT_QNUM), NULL, 0) != 0 ||
        vt_acked(v, vuf_state(v->msg, VU_SET_VRING_BASE, 0, 0, base), NULL, 0) != 0 ||
        vt_acked(v, vuf_addr(v->msg, 0, 0, VT_UA_OFFSET + d, VT_UA_OFFSET + u, VT_UA_OFFSET + a),
                 NULL, 0) != 0 ||
        vt_acked(v, vuf_u64(v->msg, VU_SET_VRING_CALL, 0, 0), &v->call, 1) != 0 ||
        vt_acked(v, vuf_u64(v->msg, VU_SET_VRING_KICK, 0, 0), &v->kick, 1) != 0) {
        ktest_fail(t, __FILE__, __LINE__, "ring setup refused");
        return false;
    }
    /* A new ring starts disabled (PROTOCOL_FEATURES); a stopped one keeps
     * its enable state (a restart needs only the kick). */
    if (vu_is_running(v->ch.b) != was_enabled) {
        ktest_fail(t, __FILE__, __LINE__, "running %d before SET_VRING_ENABLE",
                   vu_is_running(v->ch.b));
        return false;
    }
    if (vt_acked(v, vuf_state(v->msg, VU_SET_VRING_ENABLE, 0, 0, 1), NULL, 0) != 0 ||
        !vu_is_running(v->ch.b)) {
        ktest_fail(t, __FILE__, __LINE__, "device not running after enable");
        return false;
    }
    return true;
}

static int64_t vt_vring_base(struct vt *v)
{
    if (vt_send(v, vuf_state(v->msg, VU_GET_VRING_BASE, 0, 0, 0), NULL, 0) || !v->r ||
        v->r->len != VU_HDR_BYTES + VU_STATE_BYTES)
        return -1;
    return snap_get32(v->r->buf + VU_HDR_BYTES + 4);
}

/* Queue n requests of type on sectors [first, ...), 8 sectors each; writes
 * carry sequence numbers from v->seq. No kick yet. */
static bool vt_submit(struct ktest *t, struct vt *v, unsigned n, uint32_t type, unsigned first)
{
    unsigned i;

    for (i = 0; i < n; i++) {
        struct vt_req *r = &v->reqs[i];
        struct vq_sg sg[3] = {{.buf = r->hdr, .len = 16},
                              {.buf = r->data, .len = VT_BYTES},
                              {.buf = &r->status, .len = 1}};
        int err;

        snap_put32(r->hdr, type);
        snap_put32(r->hdr + 4, 0);
        snap_put64(r->hdr + 8, (uint64_t)(first + i) * (VT_BYTES / 512));
        r->status = 0xee;
        r->done = 0;
        if (type == VIRTIO_BLK_T_OUT) {
            memset(r->data, (uint8_t)v->seq, VT_BYTES);
            snap_put32(r->data, v->seq++);
            err = vq_add_sgs(v->vq, sg, 2, 1, r);
        } else {
            memset(r->data, 0, VT_BYTES);
            err = vq_add_sgs(v->vq, sg, 1, 2, r);
        }
        if (err) {
            ktest_fail(t, __FILE__, __LINE__, "vq_add_sgs: %d", err);
            return false;
        }
    }
    return true;
}

/* Kick, let the carrier run, and collect n completions, each exactly once. */
static bool vt_complete(struct ktest *t, struct vt *v, unsigned n)
{
    unsigned got = 0, i, spins;
    void *tok;
    uint32_t len;

    vq_kick(v->vq);
    for (spins = 0; got < n && spins < 1000; spins++) {
        vuchan_run(&v->ch);
        while (vq_get_buf(v->vq, &tok, &len) == 0) {
            struct vt_req *r = tok;

            r->done++;
            got++;
        }
    }
    if (got != n) {
        ktest_fail(t, __FILE__, __LINE__, "%u of %u requests completed", got, n);
        return false;
    }
    for (i = 0; i < n; i++) {
        if (v->reqs[i].done != 1 || v->reqs[i].status != VIRTIO_BLK_S_OK) {
            ktest_fail(t, __FILE__, __LINE__, "request %u: done %u status %u", i, v->reqs[i].done,
                       v->reqs[i].status);
            return false;
        }
    }
    v->served += n;
    return true;
}

/* Read back n blocks from first: block i must hold sequence seq0 + i. */
static bool vt_verify(struct ktest *t, struct vt *v, unsigned n, unsigned first, uint32_t seq0)
{
    unsigned i;

    if (!vt_submit(t, v, n, VIRTIO_BLK_T_IN, first) || !vt_complete(t, v, n))
        return false;
    for (i = 0; i < n; i++) {
        const uint8_t *d = v->reqs[i].data;
        uint32_t seq = snap_get32(d);

        if (seq != seq0 + i || d[VT_BYTES - 1] != (uint8_t)seq) {
            ktest_fail(t, __FILE__, __LINE__, "block %u holds seq %u, want %u", first + i, seq,
                       seq0 + i);
            return false;
        }
        if (memcmp(v->disk + (size_t)(first + i) * VT_BYTES, d, VT_BYTES)) {
            ktest_fail(t, __FILE__, __LINE__, "block %u differs from the RAM disk", first + i);
            return false;
        }
    }
    return true;
}

/* ---- the lifecycle, case by case (they share vt) ---- */

static void vt_fail_if_not_up(struct ktest *t, struct vt *v)
{
    if (!v->ch.b)
        ktest_fail(t, __FILE__, __LINE__, "no channel (an earlier case failed)");
}

static void case_negotiate(struct ktest *t)
{
    struct vt *v = &vt;
    int err;

    if (v->ch.b)
        vuchan_close(&v->ch);
    if (v->vq)
        vq_destroy(v->vq);
    /* A second `test vhost-user` starts over without leaking the first's. */
    free(v->disk);
    free(v->snap);
    if (v->reqs)
        virt_dma_free(v->reqs, VT_NREQ * sizeof(*v->reqs));
    memset(v, 0, sizeof(*v));
    v->disk = calloc(1, VT_DISK_BYTES);
    v->reqs = virt_dma_alloc(VT_NREQ * sizeof(*v->reqs), &(uint64_t){0});
    v->snap = malloc(VU_STATE_MAX_BYTES);
    KT_ASSERT(t, v->disk && v->reqs && v->snap);
    err = vuchan_open(&v->ch, v->disk, VT_DISK_BYTES);
    KT_ASSERT_EQ(t, err, 0);
    v->mem = vuchan_fd_new(&v->ch, VUCHAN_MEM);
    v->kick = vuchan_fd_new(&v->ch, VUCHAN_EVENT);
    v->call = vuchan_fd_new(&v->ch, VUCHAN_EVENT);
    KT_ASSERT(t, v->mem > 0 && v->kick > 0 && v->call > 0);
    if (!vt_negotiate(t, v))
        return;
    KT_ASSERT(t, !vu_is_running(v->ch.b));
}

static void case_activate_traffic(struct ktest *t)
{
    struct vt *v = &vt;

    vt_fail_if_not_up(t, v);
    if (t->failed || !vt_vq_new(t, v) || !vt_ring_start(t, v, 0, false))
        return;
    if (!vt_submit(t, v, VT_NREQ, VIRTIO_BLK_T_OUT, 0) || !vt_complete(t, v, VT_NREQ))
        return;
    if (!vt_verify(t, v, VT_NREQ, 0, 0))
        return;
    KT_ASSERT(t, vuchan_event_take(&v->ch, v->call) > 0); /* calls were signalled */
    ktest_diag("%u requests served, data verified", v->served);
}

static void case_reset_reactivate(struct ktest *t)
{
    struct vt *v = &vt;

    vt_fail_if_not_up(t, v);
    if (t->failed)
        return;
    KT_ASSERT_EQ(t, vt_acked(v, vuf_none(v->msg, VU_RESET_DEVICE, 0), NULL, 0), 0);
    KT_ASSERT(t, !vu_is_running(v->ch.b));
    KT_ASSERT(t, !v->ch.dev.activated);
    /* The driver starts over: features again, fresh rings at index 0. */
    KT_ASSERT_EQ(t, vt_acked(v, vuf_u64(v->msg, VU_SET_FEATURES, 0, v->features), NULL, 0), 0);
    v->served = 0;
    if (!vt_vq_new(t, v) || !vt_ring_start(t, v, 0, false))
        return;
    if (!vt_verify(t, v, VT_NREQ, 0, 0)) /* the disk survived the reset */
        return;
    if (!vt_submit(t, v, VT_NREQ, VIRTIO_BLK_T_OUT, VT_NREQ) || !vt_complete(t, v, VT_NREQ))
        return;
    vt_verify(t, v, VT_NREQ, VT_NREQ, VT_NREQ);
}

static void case_sleep_snapshot_wake(struct ktest *t)
{
    struct vt *v = &vt;
    const uint8_t *p;
    int64_t base;
    int sfd;

    vt_fail_if_not_up(t, v);
    if (t->failed)
        return;
    /* Sleep: GET_VRING_BASE on every ring (one here). */
    base = vt_vring_base(v);
    KT_ASSERT_EQ(t, base, v->served);
    KT_ASSERT(t, !vu_is_running(v->ch.b));
    /* Snapshot: the device state through a STATE fd. */
    sfd = vuchan_fd_new(&v->ch, VUCHAN_STATE);
    KT_ASSERT(t, sfd > 0);
    KT_ASSERT_EQ(t, vt_send(v, vuf_device_state(v->msg, 0, VU_STATE_SAVE), &sfd, 1), 0);
    KT_ASSERT(t, v->r && vuf_reply_u64(v->r) == VU_VRING_NOFD);
    KT_ASSERT_EQ(t, vt_get(v, VU_CHECK_DEVICE_STATE), 0);
    KT_ASSERT_EQ(t, vuchan_state_get(&v->ch, sfd, &p, &v->snap_len), 0);
    KT_ASSERT(t, v->snap_len > 24 && v->snap_len <= VU_STATE_MAX_BYTES);
    KT_ASSERT(t, memcmp(p, "RLSNAP\r\n", 8) == 0);
    memcpy(v->snap, p, v->snap_len);
    vuchan_fd_close(&v->ch, sfd);
    ktest_diag("device state: %u bytes at base %lld", (unsigned)v->snap_len, (long long)base);
    /* Wake: restart the ring where it stopped. */
    if (!vt_ring_start(t, v, (uint16_t)base, true))
        return;
    /* Stop again before the frontend goes away (as QEMU does): nothing ran
     * in between, so the snapshot is still current. */
    KT_ASSERT_EQ(t, vt_vring_base(v), base);
}

static void case_restore_new_handler(struct ktest *t)
{
    struct vt *v = &vt;
    uint32_t seq_before;
    int sfd;

    vt_fail_if_not_up(t, v);
    if (t->failed)
        return;
    /* The old handler goes; the driver keeps making requests meanwhile. */
    vuchan_close(&v->ch);
    seq_before = v->seq;
    if (!vt_submit(t, v, VT_NREQ / 2, VIRTIO_BLK_T_OUT, 2 * VT_NREQ))
        return;
    vq_kick(v->vq); /* nobody listening: the kick is lost */
    /* A new handler and device instance restore the snapshot. */
    KT_ASSERT_EQ(t, vuchan_open(&v->ch, v->disk, VT_DISK_BYTES), 0);
    if (!vt_negotiate(t, v))
        return;
    sfd = vuchan_fd_new(&v->ch, VUCHAN_STATE);
    KT_ASSERT(t, sfd > 0);
    KT_ASSERT_EQ(t, vuchan_state_set(&v->ch, sfd, v->snap, v->snap_len), 0);
    KT_ASSERT_EQ(t, vt_send(v, vuf_device_state(v->msg, 0, VU_STATE_LOAD), &sfd, 1), 0);
    vuchan_fd_close(&v->ch, sfd);
    KT_ASSERT_EQ(t, vt_get(v, VU_CHECK_DEVICE_STATE), 0);
    KT_ASSERT(t, v->ch.dev.activated);
    /* The rings restart at the saved base; the requests made while away
     * are served once (wake processes the queue), none twice. */
    if (!vt_ring_start(t, v, (uint16_t)v->served, false))
        return;
    if (!vt_complete(t, v, VT_NREQ / 2))
        return;
    if (!vt_verify(t, v, VT_NREQ / 2, 2 * VT_NREQ, seq_before))
        return;
    if (!vt_verify(t, v, VT_NREQ, 0, 0) || !vt_verify(t, v, VT_NREQ, VT_NREQ, VT_NREQ))
        return;
    KT_ASSERT_EQ(t, vt_vring_base(v), v->served);
    ktest_diag("after restore: %u requests on the ring, 0 lost, 0 repeated", v->served);
    vuchan_close(&v->ch);
    vuchan_fd_close(&v->ch, v->mem);
    vuchan_fd_close(&v->ch, v->kick);
    vuchan_fd_close(&v->ch, v->call);
    KT_ASSERT_EQ(t, vuchan_fds_open(&v->ch), 0);
}

/* ---- error cases, each on a fresh channel ---- */

static struct vuchan *vt_fresh(struct ktest *t, struct vt *v)
{
    if (!v->disk)
        v->disk = calloc(1, VT_DISK_BYTES);
    if (v->ch.b)
        vuchan_close(&v->ch);
    memset(&v->ch, 0, sizeof(v->ch));
    if (!v->disk || vuchan_open(&v->ch, v->disk, VT_DISK_BYTES)) {
        ktest_fail(t, __FILE__, __LINE__, "cannot open a channel");
        return NULL;
    }
    /* REPLY_ACK so that refusals are visible. */
    if (vt_send(v, vuf_u64(v->msg, VU_SET_PROTOCOL_FEATURES, 0, 1ull << VU_PF_REPLY_ACK), NULL,
                0)) {
        ktest_fail(t, __FILE__, __LINE__, "SET_PROTOCOL_FEATURES refused");
        return NULL;
    }
    return &v->ch;
}

static void vt_fresh_done(struct ktest *t, struct vt *v)
{
    vuchan_close(&v->ch);
    if (vuchan_fds_open(&v->ch))
        ktest_fail(t, __FILE__, __LINE__, "%u fds still referenced", vuchan_fds_open(&v->ch));
}

static void case_err_out_of_order(struct ktest *t)
{
    struct vt *v = &vt;
    struct vuf_region rg = {.gpa = VUCHAN_MEM_GPA, .size = 1 << 20, .uaddr = VT_UA_OFFSET};
    int mem;

    if (!vt_fresh(t, v))
        return;
    mem = vuchan_fd_new(&v->ch, VUCHAN_MEM);
    /* Before SET_OWNER. */
    KT_ASSERT_EQ(t, vt_acked(v, vuf_mem_table(v->msg, 0, &rg, 1), &mem, 1), EPROTO);
    KT_ASSERT_EQ(t, vt_acked(v, vuf_state(v->msg, VU_SET_VRING_NUM, 0, 0, 64), NULL, 0), EPROTO);
    KT_ASSERT_EQ(t, vt_acked(v, vuf_none(v->msg, VU_SET_OWNER, 0), NULL, 0), 0);
    KT_ASSERT(t, vt_acked(v, vuf_none(v->msg, VU_SET_OWNER, 0), NULL, 0) > 0); /* twice */
    /* SET_VRING_ADDR before SET_MEM_TABLE. */
    KT_ASSERT_EQ(
        t, vt_acked(v, vuf_addr(v->msg, 0, 0, VT_UA_OFFSET, VT_UA_OFFSET, VT_UA_OFFSET), NULL, 0),
        EPROTO);
    /* SET_VRING_BASE while started is refused too (after a good start it
     * would be: here the ring never started, so it is accepted). */
    KT_ASSERT_EQ(t, vt_acked(v, vuf_state(v->msg, VU_SET_VRING_BASE, 0, 0, 3), NULL, 0), 0);
    /* CHECK_DEVICE_STATE needs its protocol feature: no answer, close. */
    KT_ASSERT(t, vt_send(v, vuf_none(v->msg, VU_CHECK_DEVICE_STATE, 0), NULL, 0) < 0);
    KT_ASSERT_EQ(t, vt_send(v, vuf_none(v->msg, VU_GET_FEATURES, 0), NULL, 0), -EPIPE);
    vuchan_fd_close(&v->ch, mem);
    vt_fresh_done(t, v);
}

static void case_err_bad_sizes(struct ktest *t)
{
    struct vt *v = &vt;
    int mem;

    if (!vt_fresh(t, v))
        return;
    KT_ASSERT_EQ(t, vt_acked(v, vuf_none(v->msg, VU_SET_OWNER, 0), NULL, 0), 0);
    vuf_hdr(v->msg, VU_SET_FEATURES, 0, 4);
    KT_ASSERT_EQ(t, vt_acked(v, VU_HDR_BYTES + 4, NULL, 0), EINVAL);
    vuf_hdr(v->msg, VU_SET_VRING_ADDR, 0, 16);
    KT_ASSERT_EQ(t, vt_acked(v, VU_HDR_BYTES + 16, NULL, 0), EINVAL);
    /* A memory table whose size field disagrees with its region count. */
    mem = vuchan_fd_new(&v->ch, VUCHAN_MEM);
    vuf_mem_table(v->msg, 0, &(struct vuf_region){.gpa = 0x1000, .size = 4096, .uaddr = 0x1000}, 1);
    snap_put32(v->msg + VU_HDR_BYTES, 2);
    KT_ASSERT_EQ(t, vt_acked(v, VU_HDR_BYTES + VU_MEM_HDR_BYTES + VU_MEM_REGION_BYTES, &mem, 1),
                 EINVAL);
    vuchan_fd_close(&v->ch, mem);
    /* Header size field past what came: close. */
    vuf_u64(v->msg, VU_SET_FEATURES, 0, 0);
    KT_ASSERT(t, vt_send(v, VU_HDR_BYTES + 2, NULL, 0) < 0);
    vt_fresh_done(t, v);
}

static void case_err_unknown_request(struct ktest *t)
{
    struct vt *v = &vt;

    if (!vt_fresh(t, v))
        return;
    KT_ASSERT_EQ(t, vt_acked(v, vuf_none(v->msg, 63, 0), NULL, 0), ENOSYS);
    /* A request the spec defines that we do not implement
     * (VHOST_USER_SET_VRING_ENDIAN, 23; SET_LOG_BASE is implemented now). */
    KT_ASSERT_EQ(t, vt_acked(v, vuf_u64(v->msg, 23, 0, 0), NULL, 0), ENOSYS);
    KT_ASSERT_EQ(t, vt_get(v, VU_GET_FEATURES) > 0, 1); /* still serving */
    /* Without REPLY_ACK: the connection is closed. */
    KT_ASSERT(t, vt_send(v, vuf_none(v->msg, 40, 0), NULL, 0) < 0);
    vt_fresh_done(t, v);
}

static void case_err_index_out_of_range(struct ktest *t)
{
    struct vt *v = &vt;
    int ev;

    if (!vt_fresh(t, v))
        return;
    KT_ASSERT_EQ(t, vt_acked(v, vuf_none(v->msg, VU_SET_OWNER, 0), NULL, 0), 0);
    KT_ASSERT_EQ(t, vt_acked(v, vuf_state(v->msg, VU_SET_VRING_NUM, 0, 4, 64), NULL, 0), ERANGE);
    KT_ASSERT_EQ(t, vt_acked(v, vuf_state(v->msg, VU_SET_VRING_ENABLE, 0, 0x80000000u, 1), NULL, 0),
                 ERANGE);
    ev = vuchan_fd_new(&v->ch, VUCHAN_EVENT);
    KT_ASSERT_EQ(t, vt_acked(v, vuf_u64(v->msg, VU_SET_VRING_KICK, 0, 9), &ev, 1), ERANGE);
    vuchan_fd_close(&v->ch, ev);
    KT_ASSERT_EQ(t, vuchan_fds_open(&v->ch), 0); /* the backend let go of it */
    KT_ASSERT(t, vt_send(v, vuf_state(v->msg, VU_GET_VRING_BASE, 0, 1, 0), NULL, 0) < 0);
    vt_fresh_done(t, v);
}

KTEST_SUITE(vhost_user_suite, "vhost-user", {"negotiate", case_negotiate},
            {"activate_traffic", case_activate_traffic},
            {"reset_reactivate", case_reset_reactivate},
            {"sleep_snapshot_wake", case_sleep_snapshot_wake},
            {"restore_new_handler", case_restore_new_handler},
            {"err_out_of_order", case_err_out_of_order}, {"err_bad_sizes", case_err_bad_sizes},
            {"err_unknown_request", case_err_unknown_request},
            {"err_index_out_of_range", case_err_index_out_of_range});
