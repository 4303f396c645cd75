/* SPDX-License-Identifier: Apache-2.0 */
/*
 * ringbench.c - ring throughput benchmark: the real driver side
 * (virtqueue.c, virtqueue_packed.c) on CPU 0 against the real device side
 * (vdq.c, vdq_packed.c) on CPU 1, split ring (virtio 1.2 2.7) or, with
 * --packed, packed ring (2.8) through the same two APIs,
 * shaped like Linux's tools/virtio/ringtest: the driver keeps up to --ring
 * requests outstanding and kicks every --batch adds; the device returns each
 * request with len 0 and signals every --batch completions.
 *
 *   --notify  idle sides sleep on eventfds (kick: driver -> device,
 *             call: device -> driver), with notification suppression
 *             (EVENT_IDX, or the flags with --no-event-idx);
 *   --poll    both sides spin; notifications stay disabled.
 *
 * Before each run the one-way cache-line transfer latency between the two
 * CPUs is measured in-process (ping-pong on one line); the line printed per
 * run gives ns/req, kicks/req, calls/req, that latency and their ratio
 * ("line transfers per request"), which compares across noisy machines.
 * Numbers are printed, never asserted.
 *
 *   --single  both sides in one thread: the code's own cost per request.
 *   --spin-ns N  with --notify, poll N ns before sleeping (default 0).
 *   --burst   publish ring indices once per batch on both sides.
 *   --packed  the packed layout (VIRTIO_F_RING_PACKED); any ring size
 *             1..32768. --sweep runs both layouts unless --packed or
 *             --split says which.
 *   --buffers N  cycle through N distinct data buffers (default 1: every
 *             request reuses one buffer, so descriptors do not change and
 *             the driver's unchanged-descriptor skip applies; N = 2 * ring
 *             makes every descriptor write a real one).
 *
 *   ringbench [--ring N] [--batch N] [--requests N] [--poll|--notify|--single]
 *             [--packed|--split] [--no-event-idx] [--indirect] [--spin-ns N] [--burst]
 *             [--repeat N] [--buffers N] [--sweep] [--csv FILE]
 */
#define _GNU_SOURCE
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <sched.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "vdq.h"
#include "virtio_platform.h"
#include "virtqueue.h"

struct bench_cfg {
    uint32_t ring;
    uint32_t batch;
    uint64_t requests;
    bool poll;
    bool event_idx;
    bool indirect;
    uint32_t spin_ns; /* --notify: poll this long before going to sleep */
    bool burst;       /* publish indices per batch (publish_on_kick/_on_interrupt) */
    uint32_t repeat;  /* runs per configuration; the fastest is reported */
    bool single;      /* both sides in one thread: code cost only */
    uint32_t buffers; /* distinct 128-byte buffers cycled through (>= 1) */
    bool packed;      /* packed layout (2.8) on both sides */
};

struct bench_result {
    double ns_per_req;
    double kicks_per_req;
    double calls_per_req;
    double line_ns;
};

/*
 * Grouped by writer so no cache line is written by one thread while the
 * other reads it (false sharing would cost a line transfer per request).
 */
struct bench {
    /* Set up before the threads start, then only read. */
    struct bench_cfg cfg;
    struct virtqueue *vq;
    struct vdq_mem_region region;
    struct vdq_mem mem;
    int kick_fd, call_fd;
    uint8_t *data;
    void **tokens;
    /* Written by the driver thread only. */
    uint64_t kicks __attribute__((aligned(64)));
    /* Written by the device thread only. */
    struct vdq q __attribute__((aligned(64)));
    uint64_t calls;
    /* Written once by the driver at the end. */
    volatile bool stop __attribute__((aligned(64)));
};

static void pin_cpu(int cpu)
{
    cpu_set_t set;

    CPU_ZERO(&set);
    CPU_SET(cpu % (int)sysconf(_SC_NPROCESSORS_ONLN), &set);
    pthread_setaffinity_np(pthread_self(), sizeof(set), &set);
}

static inline void cpu_pause(void)
{
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#endif
}

static void fd_signal(int fd)
{
    uint64_t one = 1;

    if (write(fd, &one, sizeof(one)) != sizeof(one))
        abort();
}

static void fd_wait(int fd)
{
    uint64_t v;

    if (read(fd, &v, sizeof(v)) != sizeof(v))
        abort();
}

/* ---- one-way cache-line transfer latency ---- */

static struct {
    volatile uint64_t v __attribute__((aligned(64)));
} pingpong;

static void *pong_main(void *arg)
{
    uint64_t iters = (uint64_t)(uintptr_t)arg, i;

    pin_cpu(1);
    for (i = 0; i < iters; i++) {
        while (__atomic_load_n(&pingpong.v, __ATOMIC_ACQUIRE) != 2 * i + 1)
            cpu_pause();
        __atomic_store_n(&pingpong.v, 2 * i + 2, __ATOMIC_RELEASE);
    }
    return NULL;
}

/* One-way latency: the fastest of 20 chunks of 10000 round trips, halved
 * (the minimum filters out chunks where a vCPU was descheduled). */
static double line_latency_ns(void)
{
    const uint64_t chunk = 10000, chunks = 20;
    double best = 1e18;
    pthread_t t;
    uint64_t i, k;

    pin_cpu(0);
    pingpong.v = 0;
    pthread_create(&t, NULL, pong_main, (void *)(uintptr_t)(chunk * chunks));
    for (k = 0; k < chunks; k++) {
        uint64_t t0 = virt_time_ns();
        double ns;

        for (i = k * chunk; i < (k + 1) * chunk; i++) {
            __atomic_store_n(&pingpong.v, 2 * i + 1, __ATOMIC_RELEASE);
            while (__atomic_load_n(&pingpong.v, __ATOMIC_ACQUIRE) != 2 * i + 2)
                cpu_pause();
        }
        ns = (double)(virt_time_ns() - t0) / (double)(2 * chunk);
        if (ns < best)
            best = ns;
    }
    pthread_join(t, NULL);
    return best;
}

/* ---- device (CPU 1) ---- */

static bool spin_until_avail(struct bench *b)
{
    uint64_t end;

    if (!b->cfg.spin_ns)
        return false;
    end = virt_time_ns() + b->cfg.spin_ns;
    do {
        for (int i = 0; i < 64; i++) {
            if (vdq_has_avail(&b->q) || b->stop)
                return true;
            cpu_pause();
        }
    } while (virt_time_ns() < end);
    return false;
}

/* Interrupt decision (also publishes used->idx with --burst); in --poll
 * mode the driver never sleeps, so nothing is signalled. */
static void device_call(struct bench *b)
{
    if (vdq_interrupt_prepare(&b->q)) {
        b->calls++;
        if (!b->cfg.poll)
            fd_signal(b->call_fd);
    }
}

static void *device_main(void *arg)
{
    struct bench *b = arg;
    struct vdq_iov iov[4];
    struct vdq_chain c = {.iov = iov, .max_iov = 4};
    uint32_t tocall = b->cfg.batch;

    pin_cpu(1);
    vdq_disable_notify(&b->q);
    for (;;) {
        while (vdq_pop(&b->q, &c) == 0) {
            vdq_push(&b->q, c.head, 0);
            if (--tocall == 0) {
                tocall = b->cfg.batch;
                device_call(b);
            }
        }
        device_call(b);
        if (b->stop)
            break;
        if (b->cfg.poll) {
            cpu_pause();
            continue;
        }
        /* Poll a little before sleeping (like vhost's busyloop): a driver
         * that adds again within spin_ns costs no kick and no wakeup. */
        if (spin_until_avail(b))
            continue;
        if (vdq_enable_notify(&b->q) == 0)
            fd_wait(b->kick_fd);
        vdq_disable_notify(&b->q);
    }
    return NULL;
}

/* ---- driver (CPU 0) ---- */

static void driver_kick(struct bench *b)
{
    if (vq_kick_prepare(b->vq)) {
        b->kicks++;
        if (!b->cfg.poll)
            fd_signal(b->kick_fd);
    }
}

static int driver_add(struct bench *b, uint64_t n)
{
    struct vq_sg sg[2] = {
        {.buf = b->data + (n % b->cfg.buffers) * 128, .len = 64},
        {.buf = b->data + (n % b->cfg.buffers) * 128 + 64, .len = 64},
    };

    return vq_add_sgs(b->vq, sg, 1, b->cfg.indirect ? 1 : 0, b->tokens[n % b->cfg.ring]);
}

static bool spin_until_used(struct bench *b)
{
    uint64_t end;

    if (!b->cfg.spin_ns)
        return false;
    end = virt_time_ns() + b->cfg.spin_ns;
    do {
        for (int i = 0; i < 64; i++) {
            if (vq_has_used(b->vq))
                return true;
            cpu_pause();
        }
    } while (virt_time_ns() < end);
    return false;
}

static void driver_run(struct bench *b)
{
    uint64_t started = 0, completed = 0;
    uint32_t tokick = b->cfg.batch;
    void *token;
    uint32_t len;

    vq_disable_cb(b->vq);
    for (;;) {
        int r;

        do {
            if (started < b->cfg.requests && started - completed < b->cfg.ring) {
                r = driver_add(b, started);
                if (r == 0) {
                    started++;
                    if (--tokick == 0) {
                        tokick = b->cfg.batch;
                        driver_kick(b);
                    }
                }
            } else {
                r = -1;
            }
            if (vq_get_buf(b->vq, &token, &len) == 0)
                completed++;
        } while (r == 0);
        if (tokick != b->cfg.batch) { /* stopped adding mid-batch: flush */
            tokick = b->cfg.batch;
            driver_kick(b);
        }
        if (completed == b->cfg.requests)
            break;
        if (b->cfg.poll) {
            while (!vq_has_used(b->vq))
                cpu_pause();
            continue;
        }
        if (spin_until_used(b))
            continue;
        if (vq_enable_cb_delayed(b->vq) == 0)
            fd_wait(b->call_fd);
        vq_disable_cb(b->vq);
    }
}

/* --single: both sides in this thread, batch by batch. No line ever
 * moves between CPUs, so this is the pure code cost per request. */
static void single_run(struct bench *b)
{
    struct vdq_iov iov[4];
    struct vdq_chain c = {.iov = iov, .max_iov = 4};
    uint64_t done = 0, started = 0;
    void *token;
    uint32_t len, n;

    vq_disable_cb(b->vq);
    vdq_disable_notify(&b->q);
    while (done < b->cfg.requests) {
        for (n = 0; n < b->cfg.batch && started < b->cfg.requests; n++, started++)
            if (driver_add(b, started) != 0)
                break;
        if (vq_kick_prepare(b->vq))
            b->kicks++;
        while (vdq_pop(&b->q, &c) == 0)
            vdq_push(&b->q, c.head, 0);
        if (vdq_interrupt_prepare(&b->q))
            b->calls++;
        while (vq_get_buf(b->vq, &token, &len) == 0)
            done++;
    }
}

static int bench_run(const struct bench_cfg *cfg, struct bench_result *res)
{
    struct vq_config vcfg = {.num = cfg->ring,
                             .event_idx = cfg->event_idx,
                             .indirect = cfg->indirect,
                             .packed = cfg->packed,
                             .publish_on_kick = cfg->burst};
    struct vdq_config dcfg = {.num = cfg->ring,
                              .event_idx = cfg->event_idx,
                              .indirect = cfg->indirect,
                              .packed = cfg->packed,
                              .publish_on_interrupt = cfg->burst};
    uint16_t *packed_ids = NULL;
    struct bench *b = aligned_alloc(64, (sizeof(struct bench) + 63) & ~(size_t)63);
    uint64_t dma, t0, t1;
    pthread_t dev;
    uint32_t i;

    if (!b)
        return -ENOMEM;
    memset(b, 0, sizeof(*b));
    b->cfg = *cfg;
    res->line_ns = cfg->single ? 0 : line_latency_ns(); /* no CPU-to-CPU traffic */
    /* Without a DMA arena the hosted platform uses identity addresses:
     * guest memory is our whole address space except page 0. */
    b->region = (struct vdq_mem_region){
        .gpa = 4096, .size = (1ull << 47) - 4096, .hva = (void *)(uintptr_t)4096};
    b->mem = (struct vdq_mem){.regions = &b->region, .nregions = 1};
    b->kick_fd = eventfd(0, EFD_CLOEXEC);
    b->call_fd = eventfd(0, EFD_CLOEXEC);
    b->data = virt_dma_alloc((size_t)cfg->buffers * 128, &dma);
    b->tokens = calloc(cfg->ring, sizeof(*b->tokens));
    if (vq_create(&vcfg, &b->vq) != 0)
        return -EINVAL;
    for (i = 0; i < cfg->ring; i++)
        b->tokens[i] = &b->tokens[i];
    vq_get_ring_addrs(b->vq, &dcfg.desc_gpa, &dcfg.avail_gpa, &dcfg.used_gpa);
    if (cfg->packed && cfg->ring > VDQ_PACKED_IDS_INLINE) {
        /* Per-id storage the device side needs past its inline table. */
        packed_ids = calloc(cfg->ring, sizeof(*packed_ids));
        dcfg.packed_ids = packed_ids;
    }
    if (vdq_init(&b->q, &b->mem, &dcfg) != 0)
        return -EINVAL;

    pin_cpu(0);
    if (cfg->single) {
        t0 = virt_time_ns();
        single_run(b);
        t1 = virt_time_ns();
    } else {
        pthread_create(&dev, NULL, device_main, b);
        t0 = virt_time_ns();
        driver_run(b);
        t1 = virt_time_ns();
        b->stop = true;
        fd_signal(b->kick_fd);
        pthread_join(dev, NULL);
    }

    res->ns_per_req = (double)(t1 - t0) / (double)cfg->requests;
    res->kicks_per_req = (double)b->kicks / (double)cfg->requests;
    res->calls_per_req = (double)b->calls / (double)cfg->requests;
    vq_destroy(b->vq);
    virt_dma_free(b->data, (size_t)cfg->buffers * 128);
    free(b->tokens);
    free(packed_ids);
    close(b->kick_fd);
    close(b->call_fd);
    free(b);
    return 0;
}

/* The fastest of cfg->repeat runs (noisy shared machines). */
static int bench_best(const struct bench_cfg *cfg, struct bench_result *best)
{
    uint32_t n;

    for (n = 0; n < (cfg->repeat ? cfg->repeat : 1); n++) {
        struct bench_result r;

        if (bench_run(cfg, &r) != 0)
            return -1;
        if (n == 0 || r.ns_per_req < best->ns_per_req)
            *best = r;
    }
    return 0;
}

static const char *mode_name(const struct bench_cfg *c)
{
    return c->single ? "single" : c->poll ? "poll" : "notify";
}

static void report(FILE *csv, const struct bench_cfg *c, const struct bench_result *r)
{
    double ratio = r->line_ns > 0 ? r->ns_per_req / r->line_ns : 0.0;

    printf("%-6s ring %4u batch %2u %-6s event_idx %d indirect %d spin %u burst %d bufs %u: "
           "%7.1f ns/req  kicks/req %.4f  calls/req %.4f  line %.1f ns  "
           "line transfers/req %.2f\n",
           c->packed ? "packed" : "split", c->ring, c->batch, mode_name(c), c->event_idx,
           c->indirect, c->spin_ns, c->burst, c->buffers, r->ns_per_req, r->kicks_per_req,
           r->calls_per_req, r->line_ns, ratio);
    fflush(stdout);
    if (csv)
        fprintf(csv, "%s,%u,%u,%s,%d,%d,%u,%d,%u,%" PRIu64 ",%.2f,%.6f,%.6f,%.2f,%.3f\n",
                c->packed ? "packed" : "split", c->ring, c->batch, mode_name(c), c->event_idx,
                c->indirect, c->spin_ns, c->burst, c->buffers, c->requests, r->ns_per_req,
                r->kicks_per_req, r->calls_per_req, r->line_ns, ratio);
}

static int usage(const char *prog)
{
    fprintf(stderr,
            "usage: %s [--ring N] [--batch N] [--requests N] [--poll|--notify]\n"
            "          [--packed|--split] [--no-event-idx] [--indirect] [--spin-ns N] [--burst] [--repeat N]\n"
            "          [--single] [--buffers N] [--sweep] [--csv FILE]\n",
            prog);
    return 2;
}

int main(int argc, char **argv)
{
    struct bench_cfg cfg = {
        .ring = 256, .batch = 32, .requests = 10000000, .event_idx = true, .buffers = 1};
    struct bench_result res;
    const char *csv_path = NULL;
    bool sweep = false, layout_given = false;
    FILE *csv = NULL;
    int i;

    for (i = 1; i < argc; i++) {
        const char *a = argv[i];

        if (!strcmp(a, "--ring") && i + 1 < argc)
            cfg.ring = (uint32_t)strtoul(argv[++i], NULL, 0);
        else if (!strcmp(a, "--batch") && i + 1 < argc)
            cfg.batch = (uint32_t)strtoul(argv[++i], NULL, 0);
        else if (!strcmp(a, "--requests") && i + 1 < argc)
            cfg.requests = strtoull(argv[++i], NULL, 0);
        else if (!strcmp(a, "--poll"))
            cfg.poll = true;
        else if (!strcmp(a, "--notify"))
            cfg.poll = false;
        else if (!strcmp(a, "--no-event-idx"))
            cfg.event_idx = false;
        else if (!strcmp(a, "--spin-ns") && i + 1 < argc)
            cfg.spin_ns = (uint32_t)strtoul(argv[++i], NULL, 0);
        else if (!strcmp(a, "--repeat") && i + 1 < argc)
            cfg.repeat = (uint32_t)strtoul(argv[++i], NULL, 0);
        else if (!strcmp(a, "--buffers") && i + 1 < argc)
            cfg.buffers = (uint32_t)strtoul(argv[++i], NULL, 0);
        else if (!strcmp(a, "--single"))
            cfg.single = true;
        else if (!strcmp(a, "--burst"))
            cfg.burst = true;
        else if (!strcmp(a, "--indirect"))
            cfg.indirect = true;
        else if (!strcmp(a, "--packed") || !strcmp(a, "--split")) {
            cfg.packed = a[2] == 'p';
            layout_given = true;
        }
        else if (!strcmp(a, "--sweep"))
            sweep = true;
        else if (!strcmp(a, "--csv") && i + 1 < argc)
            csv_path = argv[++i];
        else
            return usage(argv[0]);
    }
    if (!(cfg.packed ? pvirtq_is_valid_size(cfg.ring) : virtq_is_valid_size(cfg.ring)) ||
        (sweep && !layout_given && !virtq_is_valid_size(cfg.ring)) || cfg.batch == 0 || cfg.requests == 0 || cfg.buffers == 0)
        return usage(argv[0]);
    if (csv_path) {
        csv = fopen(csv_path, "w");
        if (!csv) {
            perror(csv_path);
            return 1;
        }
        fprintf(csv, "layout,ring,batch,mode,event_idx,indirect,spin_ns,burst,buffers,requests,ns_per_req,"
                     "kicks_per_req,"
                     "calls_per_req,line_ns,line_transfers_per_req\n");
    }
    if (!sweep) {
        if (bench_best(&cfg, &res) != 0)
            return 1;
        report(csv, &cfg, &res);
    } else {
        static const uint32_t batches[] = {1, 8, 32, 64};
        int m, e, k, l;

        /* Modes: notify as Linux does it (index published per add, sleep
         * at once), notify tuned (--burst, poll --spin-ns before sleeping,
         * 2000 ns unless given), and poll; each on split then packed
         * (or the one layout asked for), alternating per configuration so
         * both see the same machine. */
        for (m = 0; m < 3; m++)
            for (e = 1; e >= 0; e--)
                for (k = 0; k < 4; k++)
                    for (l = 0; l < 2; l++) {
                        struct bench_cfg c = cfg;

                        if (layout_given && (l == 1) != cfg.packed)
                            continue;
                        c.packed = l == 1;
                        c.poll = m == 2;
                        c.burst = m == 1;
                        c.spin_ns = m == 1 ? (cfg.spin_ns ? cfg.spin_ns : 2000) : 0;
                        c.event_idx = e;
                        c.batch = batches[k];
                        if (bench_best(&c, &res) != 0)
                            return 1;
                        report(csv, &c, &res);
                    }
    }
    if (csv)
        fclose(csv);
    return 0;
}
