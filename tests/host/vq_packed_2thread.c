/* SPDX-License-Identifier: Apache-2.0 */
/*
 * vq_packed_2thread.c - the packed driver (drivers/virtio/virtqueue_packed.c
 * through virtqueue.h) in one thread against the spec-written fake device
 * (packed_fakedev.h) in another, over one memfd mapped twice: the driver
 * writes through mapping A and hands out guest addresses (GPA_BASE +
 * offset), the device reads and writes through mapping B. Kicks and
 * interrupts go through eventfds and both sides sleep when idle, each after
 * publishing its event suppression structure and re-checking the ring
 * (2.8.10), so a notification lost by either side's suppression logic or a
 * missing barrier shows up as a hang, reported after a timeout.
 *
 * Every request has a random shape (1..4 readable segments, 0..4 writable,
 * random lengths; fewer when the ring is smaller and the chain is direct)
 * and carries a header (sequence number, sizes). The device checks the
 * readable bytes against a pattern of the sequence number and writes a
 * pattern into a prefix of the writable part; the driver checks the used
 * length, the bytes, and that bytes past the length were left alone. The
 * device completes in batches, every other batch in reverse order (out of
 * order use, 2.8.2 note). The matrix: ring sizes 1, 3, 255, 256, 32768 x
 * EVENT_IDX on/off x indirect on/off, publish_on_kick and enable_cb_delayed
 * mixed in.
 *
 *   vq_packed_2thread [--requests N]   (total over the matrix, default 2M)
 * Ends with "vq_packed_2thread: P passed, F failed" (P+F configurations);
 * exit status 1 when any failed.
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
#include "virtio_platform.h"
#include "virtqueue.h"

static void fd_check_failed(const char *what);
#define FD_CHECK(c)                                                                                \
    do {                                                                                           \
        if (!(c))                                                                                  \
            fd_check_failed(#c);                                                                   \
    } while (0)
#define FD_MAX_SEGS 16
#include "packed_fakedev.h"

#define GPA_BASE 0x80000000ull
#define MEM_SIZE (64u << 20)
#define MAX_OUT 4
#define MAX_IN 4
#define SEG_MAX 1024
#define MAX_SLOTS 2048u /* requests in flight at most (memory) */
#define DEV_BATCH 32
#define HDR_MAGIC 0x5041434b45445251ull /* "PACKEDRQ" */
#define WAIT_MS 10000

struct req_hdr {
    uint64_t magic;
    uint64_t seq;
    uint32_t out_len;
    uint32_t in_len;
};

struct slot {
    uint8_t *out; /* MAX_OUT * SEG_MAX, in mapping A */
    uint8_t *in;  /* MAX_IN * SEG_MAX */
    uint64_t seq;
    uint32_t in_len;
    uint32_t nout;
    uint32_t nin;
    struct vq_sg sg[MAX_OUT + MAX_IN];
    bool busy;
};

struct run {
    uint32_t num;
    bool event_idx;
    bool indirect;
    bool burst;   /* publish_on_kick */
    bool delayed; /* the driver waits with enable_cb_delayed */
    uint64_t requests;
    struct virtqueue *vq;
    struct fdev d;
    int kick_fd, call_fd;
    volatile bool stop;
    const char *failure;
    uint64_t completed, seq_sum, kicks, calls;
};

static struct run *cur_run;

static void fail(struct run *r, const char *what)
{
    if (!r->failure)
        r->failure = what;
    r->stop = true;
}

/* The driver broke a 2.8 rule the device checks: stop hard (the device
 * must not go on with a chain it could not parse). */
static void fd_check_failed(const char *what)
{
    fprintf(stderr, "vq_packed_2thread: FAIL ring %u: device check failed: %s\n",
            cur_run ? cur_run->num : 0, what);
    abort();
}

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

static bool wait_fd(struct run *r, int fd)
{
    struct pollfd p = {.fd = fd, .events = POLLIN};
    uint64_t v;
    int waited = 0;

    while (!r->stop) {
        int n = poll(&p, 1, 100);

        if (n > 0)
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

/* ---- device thread ---- */

static bool device_check_and_fill(struct run *r, struct fd_chain *c, uint32_t *written)
{
    struct req_hdr h;
    uint32_t i, j, off = 0, out_len = 0, w, left;

    if (c->nsegs == 0 || c->segs[0].write || c->segs[0].len < sizeof(h)) {
        fail(r, "device: no readable header");
        return false;
    }
    memcpy(&h, c->segs[0].buf, sizeof(h));
    for (i = 0; i < c->nsegs && !c->segs[i].write; i++)
        out_len += c->segs[i].len;
    if (h.magic != HDR_MAGIC || h.out_len != out_len || h.in_len != c->in_len) {
        fail(r, "device: bad request header or sizes");
        return false;
    }
    for (i = 0; i < c->nsegs && !c->segs[i].write; i++) {
        const uint8_t *b = c->segs[i].buf;

        for (j = 0; j < c->segs[i].len; j++, off++)
            if (off >= sizeof(h) && b[j] != pattern(h.seq, off, 0x11)) {
                fail(r, "device: readable data corrupted");
                return false;
            }
    }
    w = expected_written(h.seq, c->in_len);
    left = w;
    off = 0;
    for (; i < c->nsegs && left; i++) {
        uint8_t *b = c->segs[i].buf;
        uint32_t n = c->segs[i].len < left ? c->segs[i].len : left;

        for (j = 0; j < n; j++, off++)
            b[j] = pattern(h.seq, off, 0x77);
        left -= n;
    }
    *written = w;
    return true;
}

struct done {
    uint16_t id;
    uint16_t ndescs;
    uint32_t len;
};

/* Write the batch's used descriptors (every other batch reversed), then
 * decide the interrupt over the descriptors it covered. */
static void device_flush(struct run *r, struct done *b, unsigned n, bool reverse)
{
    uint32_t descs = 0;
    unsigned i;

    for (i = 0; i < n; i++) {
        struct done *x = &b[reverse ? n - 1 - i : i];

        fd_push_raw(&r->d, x->id, x->len, x->ndescs,
                    (uint16_t)(pvirtq_used_flags(r->d.used_wrap) |
                               (x->len ? VIRTQ_DESC_F_WRITE : 0)));
        descs += x->ndescs;
    }
    if (n && fd_need_interrupt(&r->d, (uint16_t)(descs < r->num ? descs : r->num))) {
        r->calls++;
        signal_fd(r->call_fd);
    }
}

static void *device_main(void *arg)
{
    struct run *r = arg;
    static struct fd_chain c;
    struct done batch[DEV_BATCH];
    unsigned n = 0, flushes = 0;

    fd_set_event(&r->d, RING_EVENT_FLAGS_DISABLE, 0, false);
    while (!r->stop) {
        if (fd_pop(&r->d, &c)) {
            uint32_t written;

            if (!device_check_and_fill(r, &c, &written))
                break;
            batch[n++] = (struct done){c.id, c.ndescs, written};
            if (n == DEV_BATCH) {
                device_flush(r, batch, n, flushes++ & 1);
                n = 0;
            }
            continue;
        }
        device_flush(r, batch, n, flushes++ & 1);
        n = 0;
        /* Idle: ask for kicks (EVENT_IDX: at the next descriptor we will
         * poll), full fence, re-check, sleep. The fence orders our event
         * stores before the flags load; pairs with the driver's full
         * barrier in vq_kick_prepare(). */
        if (r->event_idx)
            fd_set_event(&r->d, RING_EVENT_FLAGS_DESC, r->d.avail_off, r->d.avail_wrap);
        else
            fd_set_event(&r->d, RING_EVENT_FLAGS_ENABLE, 0, false);
        __atomic_thread_fence(__ATOMIC_SEQ_CST);
        if (!fd_has_avail(&r->d)) {
            if (!wait_fd(r, r->kick_fd))
                break;
        }
        fd_set_event(&r->d, RING_EVENT_FLAGS_DISABLE, 0, false);
    }
    return NULL;
}

/* ---- driver (the calling thread) ---- */

static void driver_notify(struct virtqueue *vq, void *priv)
{
    struct run *r = priv;

    (void)vq;
    r->kicks++;
    signal_fd(r->kick_fd);
}

static uint32_t seg_len(uint64_t *rng, uint32_t min)
{
    uint64_t x = splitmix(rng);
    uint32_t len =
        (x & 63) == 0 ? (uint32_t)((x >> 8) % SEG_MAX) + 1 : (uint32_t)((x >> 8) % 64) + 1;

    return len < min ? min : len;
}

static void driver_build(struct slot *s, uint64_t seq, uint64_t *rng, unsigned max_segs,
                         unsigned *nout, unsigned *nin)
{
    struct req_hdr h = {.magic = HDR_MAGIC, .seq = seq};
    uint64_t x = splitmix(rng);
    unsigned o = 1 + (unsigned)(x % MAX_OUT), n = (unsigned)((x >> 8) % (MAX_IN + 1)), i;
    uint32_t off = 0, j;

    if (o > max_segs)
        o = max_segs;
    if (o + n > max_segs)
        n = max_segs - o;
    for (i = 0; i < o; i++) {
        s->sg[i].buf = s->out + i * SEG_MAX;
        s->sg[i].len = seg_len(rng, i == 0 ? sizeof(h) : 1);
        h.out_len += s->sg[i].len;
    }
    for (i = 0; i < n; i++) {
        s->sg[o + i].buf = s->in + i * SEG_MAX;
        s->sg[o + i].len = seg_len(rng, 1);
        h.in_len += s->sg[o + i].len;
        memset(s->sg[o + i].buf, 0xee, s->sg[o + i].len);
    }
    for (i = 0; i < o; i++) {
        uint8_t *b = s->sg[i].buf;

        for (j = 0; j < s->sg[i].len; j++, off++)
            b[j] = pattern(seq, off, 0x11);
    }
    memcpy(s->out, &h, sizeof(h));
    s->seq = seq;
    s->in_len = h.in_len;
    s->nout = o;
    s->nin = n;
    *nout = o;
    *nin = n;
}

static bool driver_check(struct run *r, struct slot *s, uint32_t len)
{
    uint32_t i, j, off = 0, o = s->nout;

    if (len != expected_written(s->seq, s->in_len)) {
        fail(r, "driver: used len differs from what the device wrote");
        return false;
    }
    for (i = 0; i < s->nin; i++) {
        const uint8_t *b = s->sg[o + i].buf;

        for (j = 0; j < s->sg[o + i].len; j++, off++) {
            uint8_t want = off < len ? pattern(s->seq, off, 0x77) : 0xee;

            if (b[j] != want) {
                fail(r, "driver: writable data wrong (or written past len)");
                return false;
            }
        }
    }
    return true;
}

static void driver_run(struct run *r, struct slot *slots, uint32_t nslots, uint64_t seed)
{
    uint64_t rng = seed, submitted = 0;
    uint32_t *free_slots = calloc(nslots, sizeof(*free_slots)), nfree = nslots, i;

    for (i = 0; i < nslots; i++)
        free_slots[i] = nslots - 1 - i;
    vq_disable_cb(r->vq);
    while (r->completed < r->requests && !r->stop) {
        uint32_t batch = 1 + (uint32_t)(splitmix(&rng) % (r->num < 64 ? r->num : 64));
        void *token;
        uint32_t len;
        bool progress = false;
        int rc;

        while (batch-- && nfree && submitted < r->requests) {
            struct slot *s = &slots[free_slots[nfree - 1]];
            unsigned nout, nin;

            driver_build(s, submitted, &rng, r->indirect ? MAX_OUT + MAX_IN : r->num, &nout, &nin);
            rc = vq_add_sgs(r->vq, s->sg, nout, nin, s);
            if (rc == -ENOSPC)
                break;
            if (rc) {
                fail(r, "driver: vq_add_sgs failed");
                goto out;
            }
            s->busy = true;
            nfree--;
            submitted++;
            progress = true;
        }
        if (vq_kick_prepare(r->vq))
            vq_notify(r->vq);
        while (vq_get_buf(r->vq, &token, &len) == 0) {
            struct slot *s = token;

            if (!s->busy || !driver_check(r, s, len)) {
                fail(r, "driver: token not in flight or data wrong");
                goto out;
            }
            s->busy = false;
            free_slots[nfree++] = (uint32_t)(s - slots);
            r->completed++;
            r->seq_sum += s->seq;
            progress = true;
        }
        if (vq_is_broken(r->vq)) {
            fail(r, "driver: queue broken");
            goto out;
        }
        if (progress && nfree && submitted < r->requests)
            continue;
        if (r->completed >= r->requests)
            break;
        /* Nothing to add: ask for an interrupt, re-check, sleep. */
        rc = r->delayed && (submitted & 1) ? vq_enable_cb_delayed(r->vq) : vq_enable_cb(r->vq);
        if (rc == 0)
            wait_fd(r, r->call_fd);
        else if (rc != -EAGAIN)
            fail(r, "driver: enable_cb failed");
        vq_disable_cb(r->vq);
    }
out:
    free(free_slots);
}

static bool run_one(struct run *r, uint8_t *map_drv, uint8_t *map_dev, uint64_t seed)
{
    struct vq_config cfg = {.packed = true,
                            .num = r->num,
                            .event_idx = r->event_idx,
                            .indirect = r->indirect,
                            .indirect_max = MAX_OUT + MAX_IN,
                            .notify = driver_notify,
                            .priv = r,
                            .publish_on_kick = r->burst,
                            .name = "p2t"};
    uint32_t nslots = r->num < MAX_SLOTS ? r->num : MAX_SLOTS, i;
    struct slot *slots;
    pthread_t dev;
    uint64_t want_sum, t0;
    bool ok;

    cur_run = r;
    host_dma_arena_setup(map_drv, MEM_SIZE, GPA_BASE);
    fd_mem = (struct fd_xlate){.gpa = GPA_BASE, .size = MEM_SIZE, .hva = map_dev};
    r->kick_fd = eventfd(0, EFD_CLOEXEC);
    r->call_fd = eventfd(0, EFD_CLOEXEC);
    if (r->kick_fd < 0 || r->call_fd < 0 || vq_create(&cfg, &r->vq) != 0)
        return false;
    fd_init(&r->d, r->vq);
    slots = calloc(nslots, sizeof(*slots));
    for (i = 0; i < nslots; i++) {
        uint64_t dma;

        slots[i].out = virt_dma_alloc(MAX_OUT * SEG_MAX, &dma);
        slots[i].in = virt_dma_alloc(MAX_IN * SEG_MAX, &dma);
        if (!slots[i].out || !slots[i].in)
            return false;
    }
    t0 = virt_time_ns();
    pthread_create(&dev, NULL, device_main, r);
    driver_run(r, slots, nslots, seed);
    r->stop = true;
    signal_fd(r->kick_fd);
    pthread_join(dev, NULL);

    want_sum = r->requests * (r->requests - 1) / 2;
    ok = !r->failure && r->completed == r->requests && r->seq_sum == want_sum &&
         vq_num_free(r->vq) == r->num && !vq_is_broken(r->vq);
    printf("%-4s ring %5u event_idx %d indirect %d burst %d delayed %d: %8" PRIu64
           " requests %7.1f ns/req kicks/req %.4f calls/req %.4f indirect %" PRIu64 "%s%s\n",
           ok ? "ok" : "FAIL", r->num, r->event_idx, r->indirect, r->burst, r->delayed,
           r->completed, (double)(virt_time_ns() - t0) / (double)(r->completed ? r->completed : 1),
           (double)r->kicks / (double)(r->completed ? r->completed : 1),
           (double)r->calls / (double)(r->completed ? r->completed : 1),
           vq_get_stats(r->vq)->indirect_adds, r->failure ? " - " : "",
           r->failure ? r->failure : "");
    fflush(stdout);
    vq_destroy(r->vq);
    free(slots);
    close(r->kick_fd);
    close(r->call_fd);
    host_dma_arena_clear();
    return ok;
}

int main(int argc, char **argv)
{
    static const uint32_t sizes[] = {1, 3, 255, 256, 32768};
    uint64_t total = 2000000, done = 0;
    uint8_t *a, *b;
    int fd, i, passed = 0, failed = 0;

    for (i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--requests") && i + 1 < argc) {
            total = strtoull(argv[++i], NULL, 0);
        } else {
            fprintf(stderr, "usage: %s [--requests N]\n", argv[0]);
            return 2;
        }
    }
    fd = memfd_create("ringloop-guest-mem", MFD_CLOEXEC);
    if (fd < 0 || ftruncate(fd, MEM_SIZE) != 0) {
        perror("memfd");
        return 1;
    }
    /* The same pages twice, at two different addresses. */
    a = mmap(NULL, MEM_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    b = mmap(NULL, MEM_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    if (a == MAP_FAILED || b == MAP_FAILED || a == b) {
        perror("mmap");
        return 1;
    }
    printf("vq_packed_2thread: driver maps guest memory at %p, device at %p, %" PRIu64
           " requests\n",
           (void *)a, (void *)b, total);
    for (i = 0; i < 20; i++) {
        struct run r = {
            .num = sizes[i / 4],
            .event_idx = (i & 1) != 0,
            .indirect = (i & 2) != 0,
            .burst = (i % 3) == 0,
            .delayed = (i % 5) >= 2,
            .requests = total / 20 + (i < (int)(total % 20) ? 1 : 0),
        };

        memset(a, 0, MEM_SIZE);
        if (r.requests == 0)
            r.requests = 1;
        if (run_one(&r, a, b, 0x5eed + (uint64_t)i))
            passed++;
        else
            failed++;
        done += r.completed;
    }
    printf("vq_packed_2thread: %" PRIu64 " requests verified in total\n", done);
    printf("vq_packed_2thread: %d passed, %d failed\n", passed, failed);
    munmap(a, MEM_SIZE);
    munmap(b, MEM_SIZE);
    close(fd);
    return failed ? 1 : 0;
}
