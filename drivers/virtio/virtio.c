/* SPDX-License-Identifier: Apache-2.0 */
/*
 * virtio.c - the virtio core, driver side (see virtio.h): device
 * initialisation in the order of VIRTIO 1.2 3.1.1, feature negotiation
 * (2.2, 6), config space with generation checks (2.5.1, 4.2.2), queue
 * set-up (4.2.3.2 for the register-level order, which the transport owns),
 * interrupt dispatch, the wait helper drivers complete requests with, and
 * the device registry.
 *
 * Invariants: the status register only ever moves through the 3.1.1
 * sequence (0 -> ACK -> ACK|DRIVER -> ... |FEATURES_OK -> ... |DRIVER_OK),
 * or to FAILED, or back to 0 by a reset; status bits are only ever added
 * by read-modify-write of what the device reports, never guessed.
 */
#include "virtio.h"

#include <errno.h>
#include <string.h>

#include "virtio_platform.h"

/* Feature bits the core itself understands (6 Reserved Feature Bits). */
#define VIRTIO_CORE_FEATURES                                                                       \
    ((1ull << VIRTIO_F_VERSION_1) | (1ull << VIRTIO_F_EVENT_IDX) | (1ull << VIRTIO_F_INDIRECT_DESC))

static struct virtio_device *registry_head;
static bool packed_default; /* virtio_set_packed_default() */

void virtio_set_packed_default(bool on)
{
    __atomic_store_n(&packed_default, on, __ATOMIC_RELAXED);
}

bool virtio_packed_default(void)
{
    return __atomic_load_n(&packed_default, __ATOMIC_RELAXED);
}

static void cpu_spin_hint(void)
{
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#else
    __atomic_signal_fence(__ATOMIC_SEQ_CST);
#endif
}

const char *virtio_type_name(uint32_t device_id)
{
    switch (device_id) {
    case VIRTIO_ID_NET:
        return "net";
    case VIRTIO_ID_BLOCK:
        return "blk";
    case VIRTIO_ID_CONSOLE:
        return "console";
    case VIRTIO_ID_RNG:
        return "rng";
    case VIRTIO_ID_PMEM:
        return "pmem";
    default:
        return "unknown";
    }
}

/* 3.1.1: "set the X status bit": read-modify-write. */
static void virtio_add_status(struct virtio_device *dev, uint8_t bits)
{
    dev->ops->set_status(dev, (uint8_t)(dev->ops->get_status(dev) | bits));
}

void virtio_device_fail(struct virtio_device *dev)
{
    virtio_add_status(dev, VIRTIO_STATUS_FAILED);
}

int virtio_reset(struct virtio_device *dev)
{
    int err = dev->ops->reset(dev);

    if (err < 0)
        virt_log(VIRT_LOG_ERR, "%s: reset did not complete (%d)", dev->name, err);
    else
        dev->needs_reset = false;
    return err;
}

/* 2.2, 6: what we accept out of what the device offers. */
static uint64_t virtio_accepted_features(const struct virtio_device *dev, uint64_t driver_features)
{
    uint64_t want = VIRTIO_CORE_FEATURES | driver_features;

    if (dev->no_event_idx)
        want &= ~(1ull << VIRTIO_F_EVENT_IDX);
    if (dev->no_indirect)
        want &= ~(1ull << VIRTIO_F_INDIRECT_DESC);
    /* 2.7 split by default; the packed ring (2.8) only when asked for
     * (dev->want_packed or the global default), whatever the driver's own
     * bits say. */
    if (dev->want_packed || virtio_packed_default())
        want |= 1ull << VIRTIO_F_RING_PACKED;
    else
        want &= ~(1ull << VIRTIO_F_RING_PACKED);
    want &= dev->device_features;
    /* 2.2.1: "The driver MUST NOT accept a feature which requires another
     * feature which was not accepted"; net's requirements (5.1.3.1) for the
     * bits our driver knows: the control-queue commands need CTRL_VQ. */
    if (dev->device_id == VIRTIO_ID_NET && !(want & (1ull << VIRTIO_NET_F_CTRL_VQ)))
        want &= ~((1ull << VIRTIO_NET_F_CTRL_RX) | (1ull << VIRTIO_NET_F_CTRL_RX_EXTRA) |
                  (1ull << VIRTIO_NET_F_CTRL_MAC_ADDR));
    return want;
}

int virtio_device_init(struct virtio_device *dev, uint64_t driver_features)
{
    int err;

    dev->features = 0;
    /* 3.1.1 step 1; 4.2.3.1: write 0, wait until status reads 0. */
    err = virtio_reset(dev);
    if (err < 0)
        return err;
    /* Steps 2 and 3. */
    virtio_add_status(dev, VIRTIO_STATUS_ACKNOWLEDGE);
    virtio_add_status(dev, VIRTIO_STATUS_DRIVER);
    /* Step 4: read the feature bits, accept a subset. */
    dev->device_features = dev->ops->get_features(dev);
    if (!(dev->device_features & (1ull << VIRTIO_F_VERSION_1))) {
        /* 6.1: a modern-only driver must not drive a legacy device. */
        virt_log(VIRT_LOG_ERR, "%s: device does not offer VIRTIO_F_VERSION_1", dev->name);
        err = -ENODEV;
        goto err_fail;
    }
    dev->features = virtio_accepted_features(dev, driver_features);
    dev->ops->set_features(dev, dev->features);
    /* Steps 5 and 6: FEATURES_OK, then re-read: the device may refuse. */
    virtio_add_status(dev, VIRTIO_STATUS_FEATURES_OK);
    if (!(dev->ops->get_status(dev) & VIRTIO_STATUS_FEATURES_OK)) {
        virt_log(VIRT_LOG_ERR, "%s: device refused features 0x%llx", dev->name,
                 (unsigned long long)dev->features);
        err = -ENODEV;
        goto err_fail;
    }
    return 0;

err_fail:
    dev->features = 0;
    virtio_device_fail(dev);
    return err;
}

static void virtio_vq_notify(struct virtqueue *vq, void *priv)
{
    struct virtio_vq *v = priv;

    (void)vq;
    v->dev->ops->notify(v->dev, v->index);
}

/* Largest power of two <= x (x >= 1). */
static uint32_t pow2_floor(uint32_t x)
{
    uint32_t p = 1;

    while (p <= x / 2)
        p <<= 1;
    return p;
}

static int virtio_setup_vq(struct virtio_device *dev, unsigned q, const struct virtio_vq_spec *spec)
{
    struct virtio_vq *v = &dev->vqs[q];
    struct vq_config cfg;
    uint64_t desc, avail, used;
    uint32_t size;
    int err;

    /* 4.2.3.2 / 4.1.5.1.3: read the maximum, choose a size <= it. */
    size = dev->ops->queue_max(dev, q);
    if (size == 0)
        return -ENOENT;
    if (size > VIRTQ_MAX_SIZE)
        size = VIRTQ_MAX_SIZE; /* never trust the device: 2.7 max 32768 */
    if (spec->max_size && size > spec->max_size)
        size = spec->max_size;
    if (dev->queue_size_limit && size > dev->queue_size_limit)
        size = dev->queue_size_limit;
    memset(&cfg, 0, sizeof(cfg));
    cfg.packed = virtio_has_feature(dev, VIRTIO_F_RING_PACKED);
    /* 2.7: split queue sizes are powers of two; 2.8.10.1: packed ones
     * need not be. */
    if (!cfg.packed)
        size = pow2_floor(size);
    cfg.num = size;
    cfg.event_idx = virtio_has_feature(dev, VIRTIO_F_EVENT_IDX);
    cfg.indirect = virtio_has_feature(dev, VIRTIO_F_INDIRECT_DESC);
    cfg.name = dev->name;
    cfg.index = q;
    cfg.notify = virtio_vq_notify;
    cfg.priv = v;
    v->dev = dev;
    v->index = q;
    v->size = size;
    v->callback = spec->callback;
    v->irq_count = 0;
    /* A fresh ring: storm state starts over (totals stay), source unmasked. */
    (void)virtio_vq_storm_poll(dev, q, true);
    v->irq_used_idx = 0;
    v->storm_run = 0;
    v->mask_ns = 0;
    err = vq_create(&cfg, &v->vq);
    if (err < 0)
        return err;
    vq_get_ring_addrs(v->vq, &desc, &avail, &used);
    err = dev->ops->queue_setup(dev, q, size, desc, avail, used);
    if (err < 0)
        goto err_destroy;
    err = dev->ops->queue_enable(dev, q);
    if (err < 0)
        goto err_destroy;
    return 0;

err_destroy:
    vq_destroy(v->vq);
    v->vq = NULL;
    return err;
}

int virtio_find_vqs(struct virtio_device *dev, unsigned nvqs, const struct virtio_vq_spec *specs)
{
    unsigned q;
    int err;

    if (nvqs > VIRTIO_MAX_VQS)
        return -EINVAL;
    for (q = 0; q < nvqs; q++) {
        err = virtio_setup_vq(dev, q, &specs[q]);
        if (err < 0) {
            virt_log(VIRT_LOG_ERR, "%s: queue %u setup failed (%d)", dev->name, q, err);
            goto err_undo;
        }
        dev->nvqs = q + 1;
    }
    return 0;

err_undo:
    /* The device may already know the rings: reset before freeing them. */
    (void)virtio_reset(dev);
    virtio_del_vqs(dev);
    return err;
}

void virtio_del_vqs(struct virtio_device *dev)
{
    unsigned q;

    for (q = 0; q < VIRTIO_MAX_VQS; q++) {
        if (dev->vqs[q].vq)
            vq_destroy(dev->vqs[q].vq);
        dev->vqs[q].vq = NULL;
    }
    dev->nvqs = 0;
}

void virtio_device_ready(struct virtio_device *dev)
{
    unsigned q;

    /* 3.1.1 step 8. Interrupts before this point are not ours to take. */
    for (q = 0; q < dev->nvqs; q++) {
        if (dev->polled)
            vq_disable_cb(dev->vqs[q].vq);
    }
    virtio_add_status(dev, VIRTIO_STATUS_DRIVER_OK);
}

int virtio_cread(struct virtio_device *dev, uint32_t off, void *buf, uint32_t len)
{
    uint32_t before, after;
    unsigned tries;

    /* 2.5.1 / 4.2.2 ConfigGeneration: read the generation, the fields,
     * the generation again; equal means we saw one consistent version. */
    for (tries = 0; tries < VIRTIO_CONFIG_RETRIES; tries++) {
        before = dev->ops->config_generation(dev);
        dev->ops->read_config(dev, off, buf, len);
        after = dev->ops->config_generation(dev);
        if (before == after)
            return 0;
    }
    virt_log(VIRT_LOG_WARN,
             "%s: config generation never settled (%u tries reading %u bytes at offset %u)",
             dev->name, tries, len, off);
    return -EAGAIN;
}

void virtio_cwrite(struct virtio_device *dev, uint32_t off, const void *buf, uint32_t len)
{
    dev->ops->write_config(dev, off, buf, len);
}

/* ---- interrupt storms (virtio.h: VIRTIO_IRQ_STORM_*) ---- */

/* Interrupt context: mask the source of the queues in qmask. */
static void virtio_storm_mask(struct virtio_device *dev, uint32_t qmask, uint64_t now)
{
    struct virtio_vq *first = NULL;
    unsigned q;

    for (q = 0; q < dev->nvqs; q++) {
        struct virtio_vq *v = &dev->vqs[q];

        if (!(qmask & (1u << q)))
            continue;
        if (!v->mask_ns)
            v->mask_ns = VIRTIO_IRQ_STORM_MASK_NS;
        __atomic_store_n(&v->mask_until_ns, now + v->mask_ns, __ATOMIC_RELAXED);
        /* Release: a thread that sees the flag sees mask_until_ns. */
        __atomic_store_n(&v->irq_masked, true, __ATOMIC_RELEASE);
        if (dev->irq_mask)
            (void)dev->irq_mask(dev, q, true);
        /* Counted last, release: a thread that sees the new count (acquire)
         * sees the source already masked (the transport's own state). */
        __atomic_store_n(&v->irq_storms, v->irq_storms + 1, __ATOMIC_RELEASE);
        if (!first)
            first = v;
    }
    if (!first ||
        (first->storm_logged_ns && now - first->storm_logged_ns < VIRTIO_IRQ_STORM_LOG_NS))
        return;
    virt_log(VIRT_LOG_WARN,
             "%s: queue %u: interrupt storm: %llu interrupts without used-ring progress "
             "(%llu in all), %s for %llu ms, polling meanwhile",
             dev->name, first->index,
             (unsigned long long)(first->irq_no_progress - first->no_progress_logged),
             (unsigned long long)first->irq_no_progress, dev->irq_mask ? "masked" : "ignored",
             (unsigned long long)(first->mask_ns / 1000000));
    first->storm_logged_ns = now;
    first->no_progress_logged = first->irq_no_progress;
}

void virtio_vqs_interrupt(struct virtio_device *dev, uint32_t qmask)
{
    bool progress = false, storm = false;
    unsigned q;


    /* Progress: used->idx moved since the previous interrupt on any queue
     * of this source (a neighbour's completion is a good reason too). */
    for (q = 0; q < dev->nvqs; q++) {
        struct virtio_vq *v = &dev->vqs[q];
        uint16_t idx;

        if (!(qmask & (1u << q)) || !v->vq)
            continue;
        idx = vq_peek_used_idx(v->vq);
        if (idx != v->irq_used_idx) {
            v->irq_used_idx = idx;
            progress = true;
        }
    }
    for (q = 0; q < dev->nvqs; q++) {
        struct virtio_vq *v = &dev->vqs[q];

        if (!(qmask & (1u << q)))
            continue;
        if (progress) {
            v->storm_run = 0;
            v->mask_ns = 0; /* the next storm starts with the short mask */
        } else {
            v->irq_no_progress++;
            /* A source already masked (soft mask, or a message in flight)
             * does not count towards another storm. */
            if (++v->storm_run >= VIRTIO_IRQ_STORM_RUN &&
                !__atomic_load_n(&v->irq_masked, __ATOMIC_ACQUIRE))
                storm = true;
        }
        /* irq_count is release so a waiter seeing the new count also sees
         * what came before (the ack, the used ring). */
        __atomic_fetch_add(&v->irq_count, 1, __ATOMIC_RELEASE);
        if (v->callback)
            v->callback(dev, q);
    }
    if (storm)
        virtio_storm_mask(dev, qmask, virt_time_ns());
}

bool virtio_vq_storm_poll(struct virtio_device *dev, unsigned q, bool force)
{
    struct virtio_vq *v = &dev->vqs[q];
    uint64_t until;

    if (!__atomic_load_n(&v->irq_masked, __ATOMIC_ACQUIRE))
        return false;
    until = __atomic_load_n(&v->mask_until_ns, __ATOMIC_RELAXED);
    if (!force && virt_time_ns() < until)
        return true;
    v->storm_run = 0;
    /* Next storm without progress in between: mask twice as long. */
    if (v->mask_ns < VIRTIO_IRQ_STORM_MASK_MAX_NS)
        v->mask_ns *= 2;
    if (v->mask_ns > VIRTIO_IRQ_STORM_MASK_MAX_NS)
        v->mask_ns = VIRTIO_IRQ_STORM_MASK_MAX_NS;
    /* Clear the flag before unmasking: an interrupt the source delivers
     * on unmask is accounted normally. */
    __atomic_store_n(&v->irq_masked, false, __ATOMIC_RELEASE);
    if (dev->irq_mask)
        (void)dev->irq_mask(dev, q, false);
    return false;
}

void virtio_count_queue_interrupts(struct virtio_device *dev, uint32_t qmask)
{
    unsigned q;

    for (q = 0; q < VIRTIO_MAX_VQS; q++) {
        if (qmask & (1u << q))
            __atomic_fetch_add(&dev->queue_interrupts[q], 1, __ATOMIC_RELAXED);
    }
}

uint32_t virtio_handle_interrupt(struct virtio_device *dev)
{
    uint32_t isr = dev->ops->interrupt_ack(dev);

    if (!isr)
        return 0;
    __atomic_fetch_add(&dev->interrupts, 1, __ATOMIC_RELAXED);
    /* One interrupt line for every queue (MMIO, loopback, INTx): each one
     * may have work, and they are one source for storm accounting. */
    if (isr & VIRTIO_INT_USED_BUFFER) {
        /* With per-queue vectors the ISR's queue bit is set by every queue
         * interrupt and read only here, on the config vector: stale, not
         * counted (the vector handler counts its queues). With the config
         * bit the queue bit is not counted either: QEMU raises 0x3 for
         * every config notification (virtio_notify_config), so it says
         * nothing about used buffers. Undercounting only blunts the
         * oracle; it never makes up an interrupt. */
        if (!dev->queue_irqs_per_vector && !(isr & VIRTIO_INT_CONFIG_CHANGE))
            virtio_count_queue_interrupts(dev, (1u << VIRTIO_MAX_VQS) - 1);
        virtio_vqs_interrupt(dev, (1u << VIRTIO_MAX_VQS) - 1); /* (only q < nvqs have vqs) */
    }
    if (isr & VIRTIO_INT_CONFIG_CHANGE) {
        __atomic_fetch_add(&dev->config_interrupts, 1, __ATOMIC_RELAXED);
        /* 2.1.2: the device signals DEVICE_NEEDS_RESET through a
         * configuration change notification. */
        if (dev->ops->get_status(dev) & VIRTIO_STATUS_DEVICE_NEEDS_RESET) {
            if (!dev->needs_reset)
                virt_log(VIRT_LOG_ERR, "%s: device needs reset", dev->name);
            __atomic_store_n(&dev->needs_reset, true, __ATOMIC_RELEASE);
        } else if (dev->config_changed) {
            dev->config_changed(dev);
        }
    }
    return isr;
}

static bool virtio_is_timed_out(uint64_t start, uint64_t timeout_ns)
{
    return virt_time_ns() - start > timeout_ns;
}

/* Polled mode has no config interrupt: look at the status register now and
 * then (2.1.2 DEVICE_NEEDS_RESET) so a failed device is not waited on. */
#define VIRTIO_POLL_STATUS_NS 1000000ull

static bool virtio_poll_needs_reset(struct virtio_device *dev)
{
    if (dev->ops->get_status(dev) & VIRTIO_STATUS_DEVICE_NEEDS_RESET) {
        if (!dev->needs_reset)
            virt_log(VIRT_LOG_ERR, "%s: device needs reset", dev->name);
        __atomic_store_n(&dev->needs_reset, true, __ATOMIC_RELEASE);
        return true;
    }
    return false;
}

int virtio_vq_wait(struct virtio_device *dev, unsigned q, int (*poll)(void *ctx), void *ctx,
                   uint64_t timeout_ns)
{
    struct virtio_vq *v;
    uint64_t start = virt_time_ns(), last_status = start;
    uint32_t seen;
    int r;

    if (q >= dev->nvqs)
        return -EINVAL;
    v = &dev->vqs[q];
    for (;;) {
        r = poll(ctx);
        if (r != 0)
            return r;
        if (vq_is_broken(v->vq) || __atomic_load_n(&dev->needs_reset, __ATOMIC_ACQUIRE))
            return -EIO;
        /* Polled mode, or the source masked for a storm: spin on the ring
         * (virtio_vq_storm_poll unmasks it when the time is up). */
        if (dev->polled || virtio_vq_storm_poll(dev, q, false)) {
            uint64_t now = virt_time_ns();

            if (now - start > timeout_ns)
                return -ETIMEDOUT;
            if (now - last_status > VIRTIO_POLL_STATUS_NS) {
                last_status = now;
                if (virtio_poll_needs_reset(dev))
                    return -EIO;
            }
            cpu_spin_hint();
            continue;
        }
        /* Interrupt mode: remember the count, re-arm; if buffers slipped in
         * meanwhile, vq_enable_cb says so (no interrupt promised for them). */
        seen = __atomic_load_n(&v->irq_count, __ATOMIC_ACQUIRE);
        r = vq_enable_cb(v->vq);
        if (r == -EAGAIN)
            continue;
        if (r < 0)
            return r;
        while (__atomic_load_n(&v->irq_count, __ATOMIC_ACQUIRE) == seen) {
            if (__atomic_load_n(&dev->needs_reset, __ATOMIC_ACQUIRE))
                return -EIO;
            if (virtio_is_timed_out(start, timeout_ns)) {
                /* Last look. Done without the interrupt we were promised:
                 * the interrupt path is broken somewhere (count it, say it
                 * once) but the request itself is fine. */
                r = poll(ctx);
                if (r > 0) {
                    if (dev->lost_interrupts++ == 0)
                        virt_log(VIRT_LOG_WARN, "%s: queue %u: completion without interrupt",
                                 dev->name, q);
                }
                return r ? r : -ETIMEDOUT;
            }
            cpu_spin_hint();
        }
    }
}

int virtio_vq_get_buf(struct virtqueue *vq, void **token, uint32_t *len)
{
    int r = vq_get_buf(vq, token, len);

    if (r == -EAGAIN)
        return 0;
    return r < 0 ? r : 1;
}

struct exec_ctx {
    struct virtqueue *vq;
    void *token;
    uint32_t len;
    uint32_t pad;
};

static int exec_poll(void *ctx)
{
    struct exec_ctx *e = ctx;
    void *token;
    uint32_t len;
    int r = virtio_vq_get_buf(e->vq, &token, &len);

    if (r <= 0)
        return r;
    if (token != e->token)
        return -EIO; /* nothing else was in flight: cannot happen */
    e->len = len;
    return 1;
}

int virtio_vq_exec(struct virtio_device *dev, unsigned q, const struct vq_sg *sgs, unsigned out_sgs,
                   unsigned in_sgs, uint64_t timeout_ns)
{
    struct exec_ctx e;
    int r;

    if (q >= dev->nvqs || dev->needs_reset)
        return -EIO;
    e.vq = dev->vqs[q].vq;
    e.token = &e;
    e.len = 0;
    r = vq_add_sgs(e.vq, sgs, out_sgs, in_sgs, e.token);
    if (r < 0)
        return r;
    r = vq_kick(e.vq);
    if (r < 0)
        return r;
    r = virtio_vq_wait(dev, q, exec_poll, &e, timeout_ns);
    if (r < 0)
        return r;
    return (int)(e.len > INT32_MAX ? INT32_MAX : e.len);
}

bool virtio_is_failed(struct virtio_device *dev)
{
    unsigned q;

    if (__atomic_load_n(&dev->needs_reset, __ATOMIC_ACQUIRE) || dev->nvqs == 0)
        return true;
    for (q = 0; q < dev->nvqs; q++) {
        if (!dev->vqs[q].vq || vq_is_broken(dev->vqs[q].vq))
            return true;
    }
    return false;
}

/* ---- registry ---- */

struct virtio_device *virtio_find(const char *name)
{
    struct virtio_device *d;

    for (d = registry_head; d; d = d->next) {
        if (strncmp(d->name, name, VIRTIO_NAME_MAX) == 0)
            return d;
    }
    return NULL;
}

int virtio_register(struct virtio_device *dev)
{
    struct virtio_device **pp;

    if (virtio_find(dev->name))
        return -EEXIST;
    /* Keep registration order: the shell lists devices as they came. */
    for (pp = &registry_head; *pp; pp = &(*pp)->next)
        ;
    dev->next = NULL;
    *pp = dev;
    return 0;
}

void virtio_unregister(struct virtio_device *dev)
{
    struct virtio_device **pp;

    for (pp = &registry_head; *pp; pp = &(*pp)->next) {
        if (*pp == dev) {
            *pp = dev->next;
            dev->next = NULL;
            return;
        }
    }
}

struct virtio_device *virtio_next(struct virtio_device *prev)
{
    return prev ? prev->next : registry_head;
}
