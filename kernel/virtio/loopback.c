/* SPDX-License-Identifier: Apache-2.0 */
/*
 * loopback.c - the in-image loopback devices (see loopback.h): set-up of
 * the five device models and their register files, the device loop on
 * CPU 1, the interrupt path to CPU 0, and the drivers bound on CPU 0.
 *
 * Invariants:
 *  - guest memory for the device side is the kernel's identity map: a
 *    guest-physical address is the kernel address (virt_to_phys());
 *  - only CPU 1 calls vmmio_process(); CPU 0 only does register accesses
 *    (through the transport, with interrupts off) and handles the IPI;
 *  - hooks run with the register file's lock held and only set flags /
 *    send an IPI.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "hostile.h"
#include "kernel.h"
#include "kernel/virtio/loopback.h"
#include "transport_loopback.h"
#include "vdev.h"
#include "vdev_models.h"
#include "kernel/virtio/virtio_bind.h"
#include "virtio.h"
#include "virtio_blk.h"
#include "virtio_console.h"
#include "virtio_net.h"
#include "virtio_pmem.h"
#include "virtio_rng.h"
#include "vmmio.h"
#include "x86.h"

#define LB_NDEV 5
#define RFLAGS_IF (1u << 9)

struct lb_dev {
    const char *name;
    struct vdev vd;
    struct vmmio *m;
    struct virtio_device *dev;
    uint32_t doorbell;    /* set by hooks.notify (CPU 0), taken by CPU 1 */
    uint32_t irq_pending; /* set by hooks.interrupt (CPU 1), taken by CPU 0 */
    uint32_t irq_masked;  /* dev->irq_mask: no IPI, pending kept (storm) */
    bool probed;
};

static struct lb_dev lbs[LB_NDEV] = {
    {.name = "lblk0"}, {.name = "lnet0"}, {.name = "lrng0"}, {.name = "lcon0"}, {.name = "lpmem0"},
};
static const struct vdq_mem_region guest_region = {
    /* Identity map [4 KiB, 64 GiB): page 0 stays out of guest memory. */
    .gpa = 0x1000,
    .size = (64ull << 30) - 0x1000,
    .hva = (void *)0x1000,
};
static const struct vdq_mem guest_mem = {.regions = &guest_region, .nregions = 1};
static struct hostile lb_hostile[LB_NDEV]; /* attached to each model at creation */
static bool lb_up;
static int lb_vector = -1;
static uint64_t doorbells, ipis;
static void *disk;
static uint8_t *pmem_region;

/* ---- CPU 1: the device side ----
 *
 * The device loop runs on CPU 1 only while there is work: it returns after
 * LB_IDLE_NS without any, so CPU 1 stays available to other users
 * (smp_run_on) in between. Starting it is the doorbell's job. No doorbell
 * is lost: the loop clears `running`, then re-checks the doorbells (full
 * fence between); lb_notify sets a doorbell, then reads `running` (full
 * fence between). One of the two sees the other (store->load on both
 * sides: Dekker), and the CAS on `running` picks exactly one of them to
 * carry on or to start a new loop.
 */

#define LB_IDLE_NS 20000000ull  /* hybrid: loop leaves CPU 1 after 20 ms idle */
#define LB_POLL_IDLE_NS (~0ull) /* poll: the loop never leaves on its own */

/* How long the loop polls doorbells before it gives CPU 1 back; the next
 * doorbell then wakes CPU 1 with an IPI (smp_run_on). See loopback_set_wake(). */
static uint64_t lb_idle_ns = LB_IDLE_NS;
static enum loopback_wake lb_wake = LOOPBACK_WAKE_HYBRID;
#define LB_START_TIMEOUT_NS 10000000ull /* CPU 1 busy with another job */

static uint32_t loop_running; /* 1 from a loop's start until its final re-check */
static uint64_t loop_starts, start_failures;

static bool lb_has_work(void)
{
    for (unsigned i = 0; i < LB_NDEV; i++) {
        if (__atomic_load_n(&lbs[i].doorbell, __ATOMIC_ACQUIRE) || vmmio_has_pending(lbs[i].m))
            return true;
    }
    return false;
}

static bool lb_process_all(void)
{
    bool worked = false;

    for (unsigned i = 0; i < LB_NDEV; i++) {
        struct lb_dev *l = &lbs[i];

        /* acquire: pairs with the release in lb_notify */
        if (__atomic_exchange_n(&l->doorbell, 0, __ATOMIC_ACQUIRE) || vmmio_has_pending(l->m)) {
            vmmio_process(l->m);
            doorbells++;
            worked = true;
        }
    }
    return worked;
}

static void lb_device_loop(void *arg)
{
    uint64_t idle_since = timer_ns();
    uint32_t zero = 0;

    (void)arg;
    for (;;) {
        if (lb_process_all()) {
            idle_since = timer_ns();
            continue;
        }
        if (timer_ns() - idle_since < __atomic_load_n(&lb_idle_ns, __ATOMIC_RELAXED)) {
            cpu_relax();
            continue;
        }
        __atomic_store_n(&loop_running, 0, __ATOMIC_RELAXED);
        /* running = 0 before the doorbell re-check; pairs with lb_notify */
        __atomic_thread_fence(__ATOMIC_SEQ_CST);
        if (!lb_has_work())
            return;
        /* A doorbell raced with us: go on, unless lb_notify already took
         * over (it then starts a new loop once this one has returned). */
        if (!__atomic_compare_exchange_n(&loop_running, &zero, 1, false, __ATOMIC_ACQUIRE,
                                         __ATOMIC_RELAXED))
            return;
        idle_since = timer_ns();
    }
}

/* Make sure a device loop runs (or will run) on CPU 1. */
static void lb_kick_device_cpu(void)
{
    uint32_t zero = 0;
    uint64_t start;

    /* our doorbell store before this load; pairs with the loop's fence */
    __atomic_thread_fence(__ATOMIC_SEQ_CST);
    if (__atomic_load_n(&loop_running, __ATOMIC_RELAXED))
        return;
    if (!__atomic_compare_exchange_n(&loop_running, &zero, 1, false, __ATOMIC_ACQUIRE,
                                     __ATOMIC_RELAXED))
        return;
    /* -EBUSY: the previous loop is returning, or another job holds CPU 1. */
    start = timer_ns();
    while (smp_run_on(LOOPBACK_CPU, lb_device_loop, NULL) != 0) {
        if (timer_ns() - start > LB_START_TIMEOUT_NS) {
            /* Give up for now; the next doorbell tries again. */
            __atomic_store_n(&loop_running, 0, __ATOMIC_RELEASE);
            start_failures++;
            return;
        }
        cpu_relax();
    }
    loop_starts++;
}

/* CPU 0, register lock held: ring the doorbell, start CPU 1 if needed. */
static void lb_notify(struct vmmio *m, unsigned queue, void *ctx)
{
    struct lb_dev *l = ctx;

    (void)m;
    (void)queue;
    __atomic_store_n(&l->doorbell, 1, __ATOMIC_RELEASE);
    lb_kick_device_cpu();
}

/* CPU 1, register lock held: raise the line to CPU 0. */
static void lb_interrupt(struct vmmio *m, uint32_t int_status, void *ctx)
{
    struct lb_dev *l = ctx;

    (void)m;
    (void)int_status;
    /* release: the used ring / status the device wrote before the flag;
     * seq_cst: the flag before the mask check, pairs with lb_irq_mask()
     * (Dekker: one of the two sends the IPI) */
    __atomic_store_n(&l->irq_pending, 1, __ATOMIC_SEQ_CST);
    if (__atomic_load_n(&l->irq_masked, __ATOMIC_SEQ_CST))
        return; /* held until unmasked, like a masked MSI-X entry */
    __atomic_fetch_add(&ipis, 1, __ATOMIC_RELAXED);
    lapic_send_ipi(cpu_apic_id(0), (uint8_t)lb_vector);
}

/* dev->irq_mask: the "line" to CPU 0 is the IPI lb_interrupt sends; while
 * masked the interrupt stays pending and goes out at unmask. */
static int lb_irq_mask(struct virtio_device *dev, unsigned q, bool masked)
{
    struct lb_dev *l = dev->irq_mask_ctx;

    (void)q;
    /* seq_cst: the mask store before the pending check; pairs with
     * lb_interrupt() */
    __atomic_store_n(&l->irq_masked, masked ? 1u : 0u, __ATOMIC_SEQ_CST);
    if (!masked && __atomic_load_n(&l->irq_pending, __ATOMIC_SEQ_CST)) {
        __atomic_fetch_add(&ipis, 1, __ATOMIC_RELAXED);
        lapic_send_ipi(cpu_apic_id(0), (uint8_t)lb_vector);
    }
    return 0;
}

/* ---- CPU 0: the interrupt ---- */

static void lb_irq(unsigned vector, void *ctx)
{
    (void)vector;
    (void)ctx;
    lapic_eoi();
    for (unsigned i = 0; i < LB_NDEV; i++) {
        /* A masked device's IPI may still be on its way: leave it pending. */
        if (lbs[i].dev && !__atomic_load_n(&lbs[i].irq_masked, __ATOMIC_ACQUIRE) &&
            __atomic_exchange_n(&lbs[i].irq_pending, 0, __ATOMIC_ACQUIRE))
            virtio_handle_interrupt(lbs[i].dev);
    }
}

static uint64_t lb_guard_enter(void *ctx)
{
    uint64_t flags = read_rflags();

    (void)ctx;
    irq_disable();
    return flags;
}

static void lb_guard_exit(void *ctx, uint64_t saved)
{
    (void)ctx;
    if (saved & RFLAGS_IF)
        irq_enable();
}

static const struct loopback_access_guard lb_guard = {lb_guard_enter, lb_guard_exit, NULL};

static void *lb_pmem_map(uint64_t start, uint64_t size, void *ctx)
{
    (void)size;
    (void)ctx;
    return phys_to_virt(start);
}

/* ---- set-up ---- */

/* VIRTIO_F_RING_PACKED offered by the five models (loopback_set_offer_packed):
 * on by default, as QEMU's packed=on; the driver still picks split unless
 * asked (`virtio packed on`). */
static bool lb_offer_packed = true;

/* Every model instance, a restored one too, gets the current offer. */
static int lb_offer(struct vdev *d, int err)
{
    if (!err)
        vdev_set_offer_packed(d, lb_offer_packed);
    return err;
}

/* A fresh model instance of loopback device i on d. */
static int lb_model_new(unsigned i, struct vdev *d)
{
    switch (i) {
    case 0:
        return lb_offer(d, vdev_blk_create(d, &guest_mem, disk, LOOPBACK_DISK_BYTES,
                                           "ringloop-lblk0"));
    case 1:
        return lb_offer(d, vdev_net_create(d, &guest_mem, NULL));
    case 2:
        return lb_offer(d, vdev_rng_create(d, &guest_mem, LOOPBACK_RNG_SEED));
    case 3:
        return lb_offer(d, vdev_console_create_ports(d, &guest_mem, 80, 25,
                                                     VDEV_CONSOLE_MAX_PORTS));
    default:
        return lb_offer(d, vdev_pmem_create(d, &guest_mem, virt_to_phys(pmem_region),
                                            LOOPBACK_PMEM_BYTES, NULL, NULL));
    }
}

static int lb_create_models(void)
{
    uint8_t *raw;
    uint64_t pa;
    int err;

    disk = page_alloc(LOOPBACK_DISK_BYTES / PAGE_SIZE);
    /* 5.19 / Firecracker: the region is 2 MiB aligned; over-allocate. */
    raw = page_alloc((LOOPBACK_PMEM_BYTES + VIRTIO_PMEM_ALIGN) / PAGE_SIZE);
    if (!disk || !raw)
        return -ENOMEM;
    pa = ALIGN_UP(virt_to_phys(raw), (uint64_t)VIRTIO_PMEM_ALIGN);
    pmem_region = phys_to_virt(pa);
    (void)pa;
    for (unsigned i = 0; i < LB_NDEV; i++) {
        err = lb_model_new(i, &lbs[i].vd);
        if (err)
            return err;
    }
    return 0;
}

static int lb_probe(struct lb_dev *l)
{
    return virtio_bind_driver(l->dev, lb_pmem_map, NULL);
}

int loopback_init(void)
{
    int err;

    if (lb_up)
        return 0;
    if (cpu_count() <= LOOPBACK_CPU) {
        printf("error: loopback: needs a second CPU for the device side\n");
        return -ENODEV;
    }
    if (lb_vector < 0) {
        lb_vector = irq_alloc_vector(lb_irq, NULL);
        if (lb_vector < 0)
            return -ENOSPC;
    }
    if (!lbs[0].m) {
        err = lb_create_models();
        if (err)
            return err;
        for (unsigned i = 0; i < LB_NDEV; i++) {
            struct vmmio_hooks hooks = {
                .notify = lb_notify, .interrupt = lb_interrupt, .ctx = &lbs[i]};

            lbs[i].vd.hostile = &lb_hostile[i]; /* mode off until `loopback hostile` */
            err = vmmio_create(&lbs[i].vd, &hooks, &lbs[i].m);
            if (err)
                return err;
            err = loopback_device_create(lbs[i].m, lbs[i].name, &lbs[i].dev);
            if (err)
                return err;
            loopback_device_set_guard(lbs[i].dev, &lb_guard);
            lbs[i].dev->irq_mask = lb_irq_mask;
            lbs[i].dev->irq_mask_ctx = &lbs[i];
        }
    }
    for (unsigned i = 0; i < LB_NDEV; i++) {
        if (lbs[i].probed)
            continue;
        err = lb_probe(&lbs[i]);
        if (err) {
            printf("error: loopback: %s: driver probe failed (%d)\n", lbs[i].name, err);
            return err;
        }
        lbs[i].probed = true;
        virtio_register(lbs[i].dev);
    }
    lb_up = true;
    return 0;
}

int loopback_set_mode(struct virtio_device *dev, bool polled, bool event_idx, uint32_t queue_limit)
{
    void *drv = dev->driver_priv;

    if (!drv)
        return -ENODEV;
    dev->polled = polled;
    dev->no_event_idx = !event_idx;
    dev->no_indirect = !event_idx;
    dev->queue_size_limit = queue_limit;
    return virtio_bind_reinit(dev);
}

bool loopback_is_up(void)
{
    return lb_up;
}

struct vdev *loopback_vdev(struct virtio_device *dev)
{
    for (unsigned i = 0; i < LB_NDEV; i++) {
        if (lbs[i].dev == dev)
            return vmmio_vdev(lbs[i].m); /* the current instance (vmmio_rebind) */
    }
    return NULL;
}

struct vmmio *loopback_vmmio(struct virtio_device *dev)
{
    for (unsigned i = 0; i < LB_NDEV; i++) {
        if (lbs[i].dev == dev)
            return lbs[i].m;
    }
    return NULL;
}

int loopback_model_create(struct virtio_device *dev, struct vdev *d)
{
    for (unsigned i = 0; i < LB_NDEV; i++) {
        if (dev && lbs[i].dev == dev)
            return lb_model_new(i, d);
    }
    return -ENODEV;
}

static void lb_offer_locked(struct vdev *d, void *arg)
{
    (void)arg;
    vdev_set_offer_packed(d, lb_offer_packed);
}

void loopback_set_offer_packed(bool on)
{
    lb_offer_packed = on;
    for (unsigned i = 0; i < LB_NDEV; i++) {
        if (lbs[i].m)
            vmmio_run_locked(lbs[i].m, lb_offer_locked, NULL);
    }
}

bool loopback_offer_packed(void)
{
    return lb_offer_packed;
}

static int lb_index(const struct virtio_device *dev)
{
    for (unsigned i = 0; i < LB_NDEV; i++) {
        if (dev && lbs[i].dev == dev)
            return (int)i;
    }
    return -ENODEV;
}

struct lb_hostile_arg {
    struct hostile *h;
    const struct hostile_cfg *cfg;
};

static void lb_hostile_set_locked(struct vdev *d, void *arg)
{
    struct lb_hostile_arg *a = arg;

    /* The current instance (a restored one too) gets the state. */
    d->hostile = a->h;
    hostile_set(a->h, a->cfg);
}

int loopback_set_hostile(struct virtio_device *dev, const struct hostile_cfg *cfg)
{
    int i = lb_index(dev);
    struct lb_hostile_arg a;

    if (i < 0)
        return i;
    if (!cfg || cfg->mode >= HOSTILE_NMODES)
        return -EINVAL;
    a.h = &lb_hostile[i];
    a.cfg = cfg;
    vmmio_run_locked(lbs[i].m, lb_hostile_set_locked, &a);
    return 0;
}

struct lb_hostile_copy {
    const struct hostile *src;
    struct hostile *dst;
};

static void lb_hostile_get_locked(struct vdev *d, void *arg)
{
    struct lb_hostile_copy *a = arg;

    (void)d;
    *a->dst = *a->src;
}

int loopback_get_hostile(struct virtio_device *dev, struct hostile *out)
{
    int i = lb_index(dev);
    struct lb_hostile_copy a;

    if (i < 0)
        return i;
    a.src = &lb_hostile[i];
    a.dst = out;
    vmmio_run_locked(lbs[i].m, lb_hostile_get_locked, &a);
    return 0;
}

uint64_t loopback_loop_starts(void)
{
    return loop_starts;
}

uint64_t loopback_start_failures(void)
{
    return start_failures;
}

uint64_t loopback_doorbells(void)
{
    return doorbells;
}

uint64_t loopback_ipis(void)
{
    return __atomic_load_n(&ipis, __ATOMIC_RELAXED);
}

int loopback_set_wake(enum loopback_wake mode)
{
    uint64_t idle;

    switch (mode) {
    case LOOPBACK_WAKE_POLL:
        idle = LB_POLL_IDLE_NS;
        break;
    case LOOPBACK_WAKE_IPI:
        idle = 0;
        break;
    case LOOPBACK_WAKE_HYBRID:
        idle = LB_IDLE_NS;
        break;
    default:
        return -EINVAL;
    }
    lb_wake = mode;
    __atomic_store_n(&lb_idle_ns, idle, __ATOMIC_RELAXED);
    return 0;
}

enum loopback_wake loopback_get_wake(void)
{
    return lb_wake;
}
