/* SPDX-License-Identifier: Apache-2.0 */
/*
 * bench_blk.c - `bench blk <dev> [depth] [seconds]`: 4 KiB random reads on
 * any virtio-blk device (meant for QEMU's virtio-blk-pci on a null-co
 * drive), interrupt-driven, for `seconds` (default 2) at queue depth 1 and
 * 32, or only at `depth` when given, each three ways: waiting in hlt
 * between completions (as an OS idle loop does), in the driver's own
 * spinning wait (virtio_blk_wait), and with the device re-initialised in
 * polled mode (no interrupts at all; back to interrupts after). With
 * `queues N` (VIRTIO_BLK_F_MQ) the requests are spread round robin over the
 * first N request queues (request slot i always on queue i % N), so one
 * CPU drives N rings; the requests each queue carried are printed after. Prints IOPS, kicks/request (driver
 * notifications actually written to the device) and interrupts/request (used-buffer interrupts the
 * queue saw). Numbers only: nothing asserted. Invariant: every request is complete (or the device
 * re-initialised by the driver) when the command returns.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "apic.h"
#include "kernel.h"
#include "kernel/shell/shell.h"
#include "virtio.h"
#include "virtio_blk.h"
#include "x86.h"

#define BB_MAX_QD 128u
#define BB_IO_BYTES 4096u
#define BB_SECTORS (BB_IO_BYTES / VIRTIO_BLK_SECTOR_SIZE)
#define RFLAGS_IF (1u << 9)
#define BB_SAFETY_TICKS 200000u /* LAPIC one-shot: a hlt never outlasts ~ms */

static int bb_timer_vector = -1;
static uint32_t bb_timer_armed;

static void bb_timer_irq(unsigned vector, void *ctx)
{
    (void)vector;
    (void)ctx;
    __atomic_store_n(&bb_timer_armed, 0, __ATOMIC_RELAXED);
    lapic_eoi();
}

/* How the bench waits for a completion. */
enum bb_wait {
    BB_HLT,  /* interrupt, vCPU in hlt meanwhile */
    BB_SPIN, /* interrupt, the driver's spinning wait */
    BB_POLL, /* no interrupts: device re-initialised polled */
    BB_NWAITS
};
static const char *const bb_wait_names[BB_NWAITS] = {"hlt", "spin", "poll"};

struct bb_result {
    uint64_t reqs, ns, kicks, irqs;
    int err;
};

/* xorshift64: cheap and reproducible. */
static uint64_t bb_next_sector(uint64_t *state, uint64_t blocks)
{
    uint64_t x = *state;

    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    *state = x;
    return (x % blocks) * BB_SECTORS;
}

/*
 * Wait for req like an OS idle loop would: take what is used, re-arm the
 * queue's interrupt (vq_enable_cb re-checks the used ring), then sleep in
 * hlt until an interrupt. The check and the hlt are atomic with respect to
 * the interrupt (cli ... "sti; hlt": STI's shadow keeps it pending until
 * hlt has begun); the LAPIC one-shot bounds each sleep. A spinning vCPU
 * would take host CPU time QEMU's I/O thread needs to complete requests.
 */
static int bb_wait_hlt(struct virtio_device *d, struct virtio_blk *blk, struct virtio_blk_req *req)
{
    uint64_t start = timer_ns();
    int r;

    for (;;) {
        r = virtio_blk_poll(blk);
        if (r < 0)
            return r;
        r = __atomic_load_n(&req->result, __ATOMIC_ACQUIRE);
        if (r != -EINPROGRESS)
            return r;
        if (timer_ns() - start > VIRTIO_BLK_TIMEOUT_NS || d->polled || !virtio_vq(d, req->queue))
            return virtio_blk_wait(blk, req, VIRTIO_BLK_TIMEOUT_NS); /* its recovery */
        irq_disable();
        if (vq_enable_cb(virtio_vq(d, req->queue)) != 0) {
            irq_enable(); /* buffers already used (or broken): look again */
            continue;
        }
        if (!bb_timer_armed) {
            bb_timer_armed = 1;
            lapic_timer_oneshot((uint8_t)bb_timer_vector, BB_SAFETY_TICKS);
        }
        __asm__ volatile("sti; hlt" ::: "memory");
    }
}

/* Kicks and interrupts over the first nq queues. */
static void bb_counts(struct virtio_device *d, unsigned nq, uint64_t *kicks, uint64_t *irqs)
{
    *kicks = *irqs = 0;
    for (unsigned q = 0; q < nq && q < d->nvqs; q++) {
        *kicks += vq_get_stats(d->vqs[q].vq)->kicks;
        *irqs += __atomic_load_n(&d->vqs[q].irq_count, __ATOMIC_RELAXED);
    }
}

static void bb_run(struct virtio_device *d, unsigned qd, unsigned nq, bool sleep, uint64_t ns,
                   uint8_t *bufs, struct bb_result *res)
{
    struct virtio_blk *blk = d->driver_priv;
    struct virtio_blk_req reqs[BB_MAX_QD];
    struct vq_sg sgs[BB_MAX_QD];
    uint64_t blocks = virtio_blk_capacity(blk) / BB_SECTORS, rnd = 0x9e3779b97f4a7c15ull;
    uint64_t kicks0, irqs0, kicks1, irqs1;
    uint64_t t0 = timer_ns(), done = 0, inflight = 0;
    unsigned head = 0;
    int err = 0;

    bb_counts(d, nq, &kicks0, &irqs0);
    for (unsigned i = 0; i < qd; i++) {
        sgs[i] = (struct vq_sg){.buf = bufs + (size_t)i * BB_IO_BYTES, .len = BB_IO_BYTES};
        reqs[i] = (struct virtio_blk_req){.type = VIRTIO_BLK_T_IN,
                                          .nsegs = 1,
                                          .sector = bb_next_sector(&rnd, blocks),
                                          .segs = &sgs[i]};
        err = virtio_blk_submit_queue(blk, i % nq, &reqs[i]);
        if (err)
            goto out;
        inflight++;
    }
    /* Keep the queue full until the time is up, then let it drain. */
    while (inflight) {
        err = sleep ? bb_wait_hlt(d, blk, &reqs[head])
                    : virtio_blk_wait(blk, &reqs[head], VIRTIO_BLK_TIMEOUT_NS);
        if (err)
            goto out;
        inflight--;
        done++;
        if (timer_ns() - t0 < ns) {
            reqs[head].sector = bb_next_sector(&rnd, blocks);
            err = virtio_blk_submit_queue(blk, head % nq, &reqs[head]);
            if (err)
                goto out;
            inflight++;
        }
        head = (head + 1) % qd;
    }
out:
    lapic_timer_oneshot(0, 0);
    bb_timer_armed = 0;
    res->ns = timer_ns() - t0;
    res->reqs = done;
    bb_counts(d, nq, &kicks1, &irqs1);
    res->kicks = kicks1 - kicks0;
    res->irqs = irqs1 - irqs0;
    res->err = err;
    if (err)
        (void)virtio_blk_drain(blk, VIRTIO_BLK_TIMEOUT_NS);
}

/* Re-initialise the device in polled mode (no interrupts: the driver spins
 * on the used ring) or back in interrupt mode. */
static int bb_set_polled(struct virtio_device *d, bool polled)
{
    d->polled = polled;
    return virtio_blk_reinit(d->driver_priv);
}

static void bb_print_ratio(uint64_t a, uint64_t n)
{
    uint64_t milli = n ? (a * 1000 + n / 2) / n : 0;

    printf(" %6llu.%03llu", (unsigned long long)(milli / 1000), (unsigned long long)(milli % 1000));
}

static int bench_blk_run(struct virtio_device *d, const unsigned *qds, unsigned nqd,
                         unsigned long long secs, unsigned nq)
{
    uint8_t *bufs = malloc((size_t)BB_MAX_QD * BB_IO_BYTES);
    int rc = 0;

    if (!bufs) {
        printf("error: bench blk: out of memory\n");
        return 1;
    }
    printf("%s: 4 KiB random reads, %llu s per row, %s, capacity %llu sectors, %u of %u "
           "queue%s\n",
           d->name, secs, d->polled ? "polled" : "interrupt-driven",
           (unsigned long long)virtio_blk_capacity(d->driver_priv), nq,
           virtio_blk_num_queues(d->driver_priv),
           virtio_blk_num_queues(d->driver_priv) == 1 ? "" : "s");
    printf("   qd  wait      IOPS  kicks/req   irqs/req\n");
    for (unsigned i = 0; i < BB_NWAITS * nqd && !rc; i++) {
        unsigned qd = qds[i / BB_NWAITS];
        enum bb_wait w = (enum bb_wait)(i % BB_NWAITS);
        struct bb_result r;

        if (w == BB_POLL && (d->polled || bb_set_polled(d, true))) {
            continue; /* already polled (no interrupts): the spin row says it */
        }
        bb_run(d, qd, nq, w == BB_HLT, secs * 1000000000ull, bufs, &r);
        if (w == BB_POLL && bb_set_polled(d, false)) {
            printf("error: bench blk: re-init after the polled row failed\n");
            rc = 1;
            break;
        }
        if (r.err) {
            printf("error: bench blk: qd %u: I/O error %d\n", qd, r.err);
            rc = 1;
            break;
        }
        printf("  %3u  %-4s %9llu", qd, bb_wait_names[w],
               (unsigned long long)(r.ns ? r.reqs * 1000000000ull / r.ns : 0));
        bb_print_ratio(r.kicks, r.reqs);
        printf("    ");
        bb_print_ratio(r.irqs, r.reqs);
        printf("\n");
    }
    for (unsigned q = 0; q < nq; q++) {
        struct virtio_blk_queue_stats qs;

        if (virtio_blk_get_queue_stats(d->driver_priv, q, &qs) == 0)
            printf("# queue %u: %llu requests submitted, %llu completed\n", q,
                   (unsigned long long)qs.submitted, (unsigned long long)qs.completed);
    }
    if (d->lost_interrupts)
        printf("# %llu completions found without their interrupt\n",
               (unsigned long long)d->lost_interrupts);
    free(bufs);
    return rc;
}

static int bench_blk(int argc, char **argv)
{
    static const unsigned both[] = {1, 32};
    unsigned long long depth = 0, secs = 2, nq = 1;
    bool was_on = read_rflags() & RFLAGS_IF;
    struct virtio_device *d;
    unsigned one;
    int rc;

    /* A trailing `queues N`. */
    if (argc >= 4 && strcmp(argv[argc - 2], "queues") == 0) {
        if (shell_parse_u64("queues", argv[argc - 1], VIRTIO_BLK_MAX_QUEUES, &nq))
            return 1;
        argc -= 2;
    }
    if (argc < 2 || argc > 4 || nq == 0) {
        printf("error: usage: bench blk <dev> [depth] [seconds] [queues N]\n");
        return 1;
    }
    if ((argc > 2 && shell_parse_u64("depth", argv[2], BB_MAX_QD, &depth)) ||
        (argc > 3 && shell_parse_u64("seconds", argv[3], 600, &secs)))
        return 1;
    d = virtio_find(argv[1]);
    if (!d || d->device_id != VIRTIO_ID_BLOCK || !d->driver_priv || d->nvqs < 1) {
        printf("error: bench blk: '%s' is not a usable blk device\n", argv[1]);
        return 1;
    }
    if (nq > virtio_blk_num_queues(d->driver_priv)) {
        printf("error: bench blk: '%s' has %u request queue%s, not %llu\n", argv[1],
               virtio_blk_num_queues(d->driver_priv),
               virtio_blk_num_queues(d->driver_priv) == 1 ? "" : "s", nq);
        return 1;
    }
    if (virtio_blk_capacity(d->driver_priv) < BB_SECTORS) {
        printf("error: bench blk: '%s' is smaller than 4 KiB\n", argv[1]);
        return 1;
    }
    if (secs == 0)
        secs = 1;
    if (bb_timer_vector < 0)
        bb_timer_vector = irq_alloc_vector(bb_timer_irq, NULL);
    if (bb_timer_vector < 0) {
        printf("error: bench blk: no interrupt vector left\n");
        return 1;
    }
    irq_enable(); /* completions arrive as interrupts */
    one = (unsigned)depth;
    rc = depth ? bench_blk_run(d, &one, 1, secs, (unsigned)nq)
               : bench_blk_run(d, both, 2, secs, (unsigned)nq);
    if (!was_on)
        irq_disable();
    return rc;
}
BENCH(blk, "blk",
      "<dev> [depth] [seconds] [queues N] 4 KiB random reads at qd 1 and 32 (on N request "
      "queues): IOPS, kicks/req, irqs/req",
      bench_blk);
