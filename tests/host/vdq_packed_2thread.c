/* SPDX-License-Identifier: Apache-2.0 */
/*
 * vdq_packed_2thread.c - the packed device queue (hostsim/vdq_packed.c) in
 * one thread against a packed driver in another, over one memfd mapped
 * twice at different addresses (the driver writes through mapping A and
 * hands out guest addresses GPA_BASE + offset, the device translates them
 * to mapping B). The driver is local to this test and written from the
 * spec (virtio 1.2 2.8.21 / 2.8.22), not drivers/virtio's packed code.
 *
 * Kicks and interrupts go through eventfds and both sides sleep when idle,
 * deciding through the event suppression structures (ENABLE / DISABLE, or
 * DESC with EVENT_IDX), so a notification lost by the barriers or the
 * suppression logic shows up as a wait that never ends, reported as a
 * failure after WAIT_MS (a watchdog, not a timing assertion).
 *
 * Every request has a random shape (1..3 readable segments, 0..3 writable,
 * random lengths; direct or, with INDIRECT, an indirect table) with a
 * header (sequence number, sizes). The device checks the readable bytes
 * against a pattern of the sequence number, writes a pattern into a prefix
 * of the writable part, and completes up to 8 held chains in a shuffled
 * order. The driver checks the id is in flight, the written length, the
 * written bytes and that the bytes past that length were left alone. The
 * matrix: sizes 1, 3, 4, 255, 256, 1000 x EVENT_IDX x INDIRECT, some with
 * publish_on_interrupt (the first element of a batch published last).
 *
 *   vdq_packed_2thread [--requests N]   (total over the matrix, default 2M)
 * Ends with "vdq_packed_2thread: P passed, F failed".
 */
#define _GNU_SOURCE
#include <errno.h>
#include <inttypes.h>
#include <poll.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <unistd.h>

#include "platform_host.h"
#include "vdq.h"
#include "virtio_platform.h"
#include "virtio_ring_packed.h"

#define GPA_BASE 0x80000000ull
#define MEM_SIZE (40u << 20)
#define MAX_OUT 3
#define MAX_IN 3
#define SEG_MAX 512
#define MAX_NUM 1024
#define HOLD 8
#define WAIT_MS 10000
#define HDR_MAGIC 0x5041434b45445130ull

struct req_hdr {
    uint64_t magic;
    uint64_t seq;
    uint32_t out_len;
    uint32_t in_len;
};

struct slot { /* one per buffer id */
    uint8_t *out, *in;         /* MAX_* x SEG_MAX each, mapping A */
    struct pvirtq_desc *table; /* indirect table, mapping A */
    uint64_t seq;
    uint32_t in_len;
    uint32_t in_lens[MAX_IN];
    uint32_t nin;
    uint16_t ring_desc; /* ring descriptors used (the skip) */
    bool busy;
};

struct run {
    uint32_t num;
    bool event_idx, indirect, batch;
    uint64_t requests;
    /* shared memory */
    uint8_t *a, *b; /* mapping A (driver), B (device) */
    struct vdq_mem_region region;
    struct vdq_mem mem;
    struct vdq q;
    uint16_t ids[MAX_NUM];
    int kick_fd, call_fd;
    volatile bool stop;
    const char *failure;
    /* driver */
    struct pvirtq_desc *ring;
    struct pvirtq_event_suppress *drv_ev, *dev_ev;
    uint16_t next_avail, next_used;
    bool avail_wrap, used_wrap;
    uint32_t free_desc;
    uint16_t kick_off; /* next_avail at the last kick decision */
    bool kick_wrap;
    struct slot slots[MAX_NUM];
    uint16_t free_ids[MAX_NUM];
    uint32_t nfree;
    uint64_t completed, kicks, calls;
};

static uint64_t splitmix(uint64_t *s)
{
    uint64_t z = (*s += 0x9e3779b97f4a7c15ull);

    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

static uint8_t pattern(uint64_t seq, uint32_t j, uint8_t salt)
{
    return (uint8_t)((seq * 0x9d) ^ (j * 0x3b) ^ (j >> 8) ^ salt);
}

static uint32_t expected_written(uint64_t seq, uint32_t in_len)
{
    uint32_t cut = (uint32_t)(seq % 5);

    return in_len - (cut < in_len ? cut : in_len);
}

static void fail(struct run *r, const char *what)
{
    if (!r->failure)
        r->failure = what;
    r->stop = true;
}

static bool wait_fd(struct run *r, int fd)
{
    struct pollfd p = {.fd = fd, .events = POLLIN};
    uint64_t v;
    int waited = 0;

    while (!r->stop) {
        if (poll(&p, 1, 100) > 0)
            return read(fd, &v, sizeof(v)) == sizeof(v);
        waited += 100;
        if (waited >= WAIT_MS) {
            fail(r, fd == r->kick_fd ? "device waited 10 s for a kick (lost notification?)"
                                     : "driver waited 10 s for an interrupt (lost interrupt?)");
            return false;
        }
    }
    return false;
}

static void signal_fd(int fd)
{
    uint64_t one = 1;

    if (write(fd, &one, sizeof(one)) != sizeof(one))
        abort();
}

static uint64_t gpa_of(struct run *r, const void *p)
{
    return GPA_BASE + (uint64_t)((const uint8_t *)p - r->a);
}

/* ---- device thread ---- */

static bool device_handle(struct run *r, struct vdq_chain *c, uint32_t *written)
{
    struct req_hdr h;
    uint32_t i, j, off = 0, w, left;

    if (c->nout == 0 || vdq_chain_read(c, 0, &h, sizeof(h)) != sizeof(h) || h.magic != HDR_MAGIC ||
        h.out_len != c->out_len || h.in_len != c->in_len) {
        fail(r, "device: bad request header or sizes");
        return false;
    }
    for (i = 0; i < c->nout; i++) {
        const uint8_t *b = c->iov[i].base;

        for (j = 0; j < c->iov[i].len; j++, off++)
            if (off >= sizeof(h) && b[j] != pattern(h.seq, off, 0x11)) {
                fail(r, "device: readable data corrupted");
                return false;
            }
    }
    w = expected_written(h.seq, c->in_len);
    left = w;
    off = 0;
    for (i = c->nout; i < c->nout + c->nin && left; i++) {
        uint8_t *b = c->iov[i].base;
        uint32_t n = c->iov[i].len < left ? c->iov[i].len : left;

        for (j = 0; j < n; j++, off++)
            b[j] = pattern(h.seq, off, 0x77);
        left -= n;
    }
    *written = w;
    return true;
}

static void *device_main(void *arg)
{
    struct run *r = arg;
    struct vdq_iov iov[MAX_OUT + MAX_IN];
    struct vdq_chain c = {.iov = iov, .max_iov = MAX_OUT + MAX_IN};
    uint16_t held[HOLD];
    uint32_t held_len[HOLD];
    uint64_t rnd = r->num * 77u + 1;

    while (!r->stop) {
        unsigned nh = 0;
        int rc;

        vdq_disable_notify(&r->q);
        while (nh < HOLD && (rc = vdq_pop(&r->q, &c)) == 0) {
            if (!device_handle(r, &c, &held_len[nh]))
                return NULL;
            held[nh++] = c.head;
        }
        if (vdq_is_broken(&r->q)) {
            fail(r, "device: queue broken");
            return NULL;
        }
        /* Complete in a shuffled order (2.8: out of order is allowed). */
        while (nh) {
            unsigned k = (unsigned)(splitmix(&rnd) % nh);

            if (vdq_push(&r->q, held[k], held_len[k]) != 0) {
                fail(r, "device: push refused");
                return NULL;
            }
            held[k] = held[--nh];
            held_len[k] = held_len[nh];
        }
        if (vdq_interrupt_prepare(&r->q)) {
            r->calls++;
            signal_fd(r->call_fd);
        }
        rc = vdq_enable_notify(&r->q);
        if (rc == -EAGAIN)
            continue;
        if (rc < 0) {
            fail(r, "device: enable_notify broken");
            return NULL;
        }
        wait_fd(r, r->kick_fd);
    }
    return NULL;
}

/* ---- driver (thread of main), from 2.8.21 / 2.8.22 ---- */

static void drv_put(struct run *r, uint64_t addr, uint32_t len, uint16_t id, uint16_t flags,
                    bool head, uint16_t *head_flags)
{
    struct pvirtq_desc *d = &r->ring[r->next_avail];

    flags |= pvirtq_avail_flags(r->avail_wrap);
    d->addr = addr;
    d->len = len;
    d->id = id;
    if (head)
        *head_flags = flags;
    else
        __atomic_store_n(&d->flags, flags, __ATOMIC_RELAXED);
    if (++r->next_avail == r->num) {
        r->next_avail = 0;
        r->avail_wrap = !r->avail_wrap;
    }
}

/* Add one random request; false when there is no room. */
static bool drv_add(struct run *r, uint64_t seq, uint64_t *rnd)
{
    unsigned nout = 1 + (unsigned)(splitmix(rnd) % MAX_OUT);
    unsigned nin = (unsigned)(splitmix(rnd) % (MAX_IN + 1)), k;
    bool ind = r->indirect && (splitmix(rnd) & 1);
    unsigned need;

    /* 2.8.17: a direct list no longer than the queue size. */
    if (!ind && nout + nin > r->num) {
        nout = nout < r->num ? nout : r->num;
        nin = r->num - nout < nin ? r->num - nout : nin;
    }
    need = ind ? 1 : nout + nin;
    uint32_t lens[MAX_OUT + MAX_IN], out_len = 0, in_len = 0, off = 0;
    uint16_t id, head = r->next_avail, head_flags = 0;
    struct slot *s;
    struct req_hdr h;

    if (need > r->free_desc || r->nfree == 0)
        return false;
    id = r->free_ids[--r->nfree];
    s = &r->slots[id];
    for (k = 0; k < nout + nin; k++) {
        lens[k] = 1 + (uint32_t)(splitmix(rnd) % SEG_MAX);
        if (k == 0 && lens[k] < sizeof(h))
            lens[k] = sizeof(h);
        if (k < nout)
            out_len += lens[k];
        else
            in_len += lens[k];
    }
    h = (struct req_hdr){HDR_MAGIC, seq, out_len, in_len};
    for (k = 0; k < nout; k++) {
        uint8_t *b = s->out + k * SEG_MAX;
        uint32_t j;

        for (j = 0; j < lens[k]; j++, off++)
            b[j] = pattern(seq, off, 0x11);
        if (k == 0)
            memcpy(b, &h, sizeof(h));
    }
    for (k = nout; k < nout + nin; k++)
        memset(s->in + (k - nout) * SEG_MAX, 0xee, SEG_MAX);
    for (k = 0; k < nout + nin; k++) {
        uint8_t *b = k < nout ? s->out + k * SEG_MAX : s->in + (k - nout) * SEG_MAX;
        uint16_t fl = k < nout ? 0 : VIRTQ_DESC_F_WRITE;

        if (ind) {
            /* 2.8.7: only WRITE is valid in the table. */
            s->table[k] = (struct pvirtq_desc){gpa_of(r, b), lens[k], 0, fl};
        } else {
            if (k + 1 < nout + nin)
                fl |= VIRTQ_DESC_F_NEXT;
            drv_put(r, gpa_of(r, b), lens[k], id, fl, k == 0, &head_flags);
        }
    }
    if (ind)
        drv_put(r, gpa_of(r, s->table), 16 * (nout + nin), id, VIRTQ_DESC_F_INDIRECT, true,
                &head_flags);
    s->seq = seq;
    s->in_len = in_len;
    s->nin = nin;
    for (k = 0; k < nin; k++)
        s->in_lens[k] = lens[nout + k];
    s->ring_desc = (uint16_t)need;
    s->busy = true;
    r->free_desc -= need;
    /* 2.8.21.1.1: the list before the head's flags (release). Pairs with
     * the device's load-acquire of the head's flags. */
    __atomic_store_n(&r->ring[head].flags, head_flags, __ATOMIC_RELEASE);
    return true;
}

/* After adding: full barrier, then the Device Event Suppression structure
 * (2.8.21 driver requirement). */
static void drv_kick_prepare(struct run *r)
{
    uint16_t flags, desc, n;
    bool kick;

    __atomic_thread_fence(__ATOMIC_SEQ_CST);
    flags = __atomic_load_n(&r->dev_ev->flags, __ATOMIC_RELAXED) & RING_EVENT_FLAGS_MASK;
    n = (uint16_t)((r->next_avail + (r->avail_wrap != r->kick_wrap ? r->num : 0)) - r->kick_off);
    if (flags == RING_EVENT_FLAGS_DISABLE) {
        kick = false;
    } else if (flags == RING_EVENT_FLAGS_DESC && r->event_idx) {
        __atomic_thread_fence(__ATOMIC_ACQUIRE); /* desc after flags */
        desc = __atomic_load_n(&r->dev_ev->desc, __ATOMIC_RELAXED);
        kick = n > r->num || pvirtq_need_event(desc, r->next_avail, r->avail_wrap, n, r->num);
    } else {
        kick = true;
    }
    r->kick_off = r->next_avail;
    r->kick_wrap = r->avail_wrap;
    if (kick && n) {
        r->kicks++;
        signal_fd(r->kick_fd);
    }
}

/* 2.8.22: one used element, checked; 1 got one, 0 none, -1 failure. */
static int drv_get_used(struct run *r)
{
    struct pvirtq_desc *d = &r->ring[r->next_used];
    uint16_t fl = __atomic_load_n(&d->flags, __ATOMIC_ACQUIRE), id;
    uint32_t len, w, j, k;
    struct slot *s;

    if (!pvirtq_is_used(fl, r->used_wrap))
        return 0;
    id = d->id;
    len = d->len;
    if (id >= r->num || !r->slots[id].busy) {
        fail(r, "driver: used id out of range or not in flight");
        return -1;
    }
    s = &r->slots[id];
    w = expected_written(s->seq, s->in_len);
    if (len != w || (!!(fl & VIRTQ_DESC_F_WRITE)) != (len != 0)) {
        fail(r, "driver: wrong used length or WRITE flag");
        return -1;
    }
    /* Written prefix has the device's pattern, everything else (the rest
     * of each segment and past it) is untouched. */
    for (k = 0, j = 0; k < s->nin; k++) {
        const uint8_t *b = s->in + k * SEG_MAX;
        uint32_t i;

        for (i = 0; i < SEG_MAX; i++) {
            bool in_seg = i < s->in_lens[k];

            if (in_seg && j < w ? b[i] != pattern(s->seq, j, 0x77) : b[i] != 0xee) {
                fail(r, "driver: written data wrong, or bytes past the used length touched");
                return -1;
            }
            j += in_seg;
        }
    }
    s->busy = false;
    r->free_ids[r->nfree++] = id;
    r->free_desc += s->ring_desc;
    j = r->next_used + s->ring_desc;
    if (j >= r->num) {
        j -= r->num;
        r->used_wrap = !r->used_wrap;
    }
    r->next_used = (uint16_t)j;
    r->completed++;
    return 1;
}

static void drv_enable_cb(struct run *r)
{
    if (r->event_idx) {
        __atomic_store_n(&r->drv_ev->desc, pvirtq_event_off_wrap(r->next_used, r->used_wrap),
                         __ATOMIC_RELAXED);
        __atomic_store_n(&r->drv_ev->flags, (uint16_t)RING_EVENT_FLAGS_DESC, __ATOMIC_RELEASE);
    } else {
        __atomic_store_n(&r->drv_ev->flags, (uint16_t)RING_EVENT_FLAGS_ENABLE, __ATOMIC_RELAXED);
    }
    /* Full barrier: our structure before re-reading the next used
     * descriptor; pairs with the device's virt_mb() in
     * vdq_interrupt_prepare(). */
    __atomic_thread_fence(__ATOMIC_SEQ_CST);
}

static bool run_one(struct run *r)
{
    int memfd = memfd_create("vdq_packed_2thread", 0);
    uint64_t rnd = r->num * 131u + r->event_idx * 7u + r->indirect * 3u, seq = 0;
    size_t used = 0;
    uint32_t i;
    pthread_t dev;
    struct vdq_config cfg = {0};

    if (memfd < 0 || ftruncate(memfd, MEM_SIZE) != 0)
        return false;
    r->a = mmap(NULL, MEM_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED, memfd, 0);
    r->b = mmap(NULL, MEM_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED, memfd, 0);
    close(memfd);
    if (r->a == MAP_FAILED || r->b == MAP_FAILED)
        return false;
    r->ring = (struct pvirtq_desc *)r->a;
    used = 16u * r->num;
    r->drv_ev = (void *)(r->a + used);
    r->dev_ev = (void *)(r->a + used + 4);
    used = (used + 8 + 63) & ~(size_t)63;
    for (i = 0; i < r->num; i++) {
        struct slot *s = &r->slots[i];

        s->out = r->a + used;
        s->in = s->out + MAX_OUT * SEG_MAX;
        s->table = (void *)(s->in + MAX_IN * SEG_MAX);
        used += (MAX_OUT + MAX_IN) * SEG_MAX + 16 * (MAX_OUT + MAX_IN);
        r->free_ids[i] = (uint16_t)(r->num - 1 - i);
    }
    if (used > MEM_SIZE)
        abort();
    r->nfree = r->num;
    r->free_desc = r->num;
    r->avail_wrap = r->used_wrap = r->kick_wrap = true; /* 2.8.1 */
    r->region = (struct vdq_mem_region){.gpa = GPA_BASE, .size = MEM_SIZE, .hva = r->b};
    r->mem = (struct vdq_mem){.regions = &r->region, .nregions = 1};
    cfg = (struct vdq_config){.num = r->num,
                              .desc_gpa = GPA_BASE,
                              .avail_gpa = GPA_BASE + 16u * r->num,
                              .used_gpa = GPA_BASE + 16u * r->num + 4,
                              .event_idx = r->event_idx,
                              .indirect = r->indirect,
                              .publish_on_interrupt = r->batch,
                              .packed = true,
                              .packed_ids = r->ids};
    r->kick_fd = eventfd(0, EFD_NONBLOCK);
    r->call_fd = eventfd(0, EFD_NONBLOCK);
    if (vdq_init(&r->q, &r->mem, &cfg) != 0 || r->kick_fd < 0 || r->call_fd < 0)
        return false;
    __atomic_store_n(&r->drv_ev->flags, (uint16_t)RING_EVENT_FLAGS_DISABLE, __ATOMIC_RELAXED);
    if (pthread_create(&dev, NULL, device_main, r) != 0)
        return false;
    while (!r->stop && r->completed < r->requests) {
        int got = 0, n;

        while (seq < r->requests && drv_add(r, seq, &rnd))
            seq++;
        drv_kick_prepare(r);
        while ((n = drv_get_used(r)) > 0)
            got++;
        if (n < 0)
            break;
        if (got || r->completed >= r->requests || r->nfree == r->num)
            continue;
        /* Nothing used: ask for an interrupt, re-check, sleep. */
        drv_enable_cb(r);
        if ((n = drv_get_used(r)) == 0)
            wait_fd(r, r->call_fd);
        __atomic_store_n(&r->drv_ev->flags, (uint16_t)RING_EVENT_FLAGS_DISABLE, __ATOMIC_RELAXED);
        if (n < 0)
            break;
    }
    r->stop = true;
    signal_fd(r->kick_fd);
    pthread_join(dev, NULL);
    if (!r->failure && (r->q.stats.bad_chains || r->q.inflight || r->nfree != r->num))
        fail(r, "chains left in flight or refused");
    close(r->kick_fd);
    close(r->call_fd);
    munmap(r->a, MEM_SIZE);
    munmap(r->b, MEM_SIZE);
    return !r->failure;
}

int main(int argc, char **argv)
{
    static const uint32_t sizes[] = {1, 3, 4, 255, 256, 1000};
    uint64_t total = 2000000;
    unsigned passed = 0, failed = 0, si, mode, nconf;

    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--requests") && i + 1 < argc)
            total = strtoull(argv[++i], NULL, 0);
        else {
            fprintf(stderr, "usage: %s [--requests N]\n", argv[0]);
            return 2;
        }
    }
    host_log_level_set(-1);
    nconf = (unsigned)(sizeof(sizes) / sizeof(sizes[0])) * 4;
    for (si = 0; si < sizeof(sizes) / sizeof(sizes[0]); si++)
        for (mode = 0; mode < 4; mode++) {
            static struct run r;

            memset(&r, 0, sizeof(r));
            r.num = sizes[si];
            r.event_idx = mode & 1;
            r.indirect = (mode >> 1) & 1;
            r.batch = (si + mode) % 3 == 0;
            r.requests = total / nconf + 1;
            if (run_one(&r)) {
                passed++;
            } else {
                failed++;
                fprintf(stderr, "FAIL num %u event_idx %d indirect %d batch %d: %s\n", r.num,
                        r.event_idx, r.indirect, r.batch, r.failure ? r.failure : "setup");
            }
            printf("num %4u event_idx %d indirect %d batch %d: %" PRIu64
                   " requests, %.3f kicks/req, %.3f calls/req\n",
                   r.num, r.event_idx, r.indirect, r.batch, r.completed,
                   r.completed ? (double)r.kicks / (double)r.completed : 0.0,
                   r.completed ? (double)r.calls / (double)r.completed : 0.0);
        }
    printf("vdq_packed_2thread: %u passed, %u failed\n", passed, failed);
    return failed ? 1 : 0;
}
