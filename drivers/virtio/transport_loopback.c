/* SPDX-License-Identifier: Apache-2.0 */
/*
 * transport_loopback.c - the loopback transport (see transport_loopback.h):
 * the virtio-mmio v2 register protocol of transport_mmio.c, with register
 * accesses turned into vmmio_read()/vmmio_write() calls on a device-side
 * register file in the same address space, optionally bracketed by a guard.
 * It knows exactly what a real MMIO transport would know.
 */
#include "transport_loopback.h"

#include <errno.h>
#include <string.h>

#include "transport_mmio.h"
#include "virtio_platform.h"
#include "vmmio.h"

struct lb_priv {
    struct vmmio *m;
    struct loopback_access_guard guard; /* enter == NULL: none */
};

static uint32_t lb_read(void *ctx, uint32_t off, unsigned size)
{
    struct lb_priv *p = ctx;
    uint64_t saved = 0;
    uint32_t v;

    if (p->guard.enter)
        saved = p->guard.enter(p->guard.ctx);
    v = vmmio_read(p->m, off, size);
    if (p->guard.enter)
        p->guard.exit(p->guard.ctx, saved);
    return v;
}

static void lb_write(void *ctx, uint32_t off, uint32_t val, unsigned size)
{
    struct lb_priv *p = ctx;
    uint64_t saved = 0;

    if (p->guard.enter)
        saved = p->guard.enter(p->guard.ctx);
    vmmio_write(p->m, off, val, size);
    if (p->guard.enter)
        p->guard.exit(p->guard.ctx, saved);
}

static struct lb_priv *lb_priv_of(struct virtio_device *dev)
{
    return virtio_mmio_device_regs(dev)->ctx;
}

int loopback_device_create(struct vmmio *m, const char *name, struct virtio_device **out)
{
    struct lb_priv *p = virt_zalloc(sizeof(*p));
    int err;

    if (!p)
        return -ENOMEM;
    p->m = m;
    struct virtio_mmio_regs regs = {lb_read, lb_write, p};
    /* Probes magic, version 2 and device id (4.2.3.1.1) through the regs. */
    err = virtio_mmio_device_create(&regs, &loopback_transport_ops, name, out);
    if (err)
        virt_free(p);
    return err;
}

void loopback_device_set_guard(struct virtio_device *dev, const struct loopback_access_guard *g)
{
    struct lb_priv *p = lb_priv_of(dev);

    if (g)
        p->guard = *g;
    else
        memset(&p->guard, 0, sizeof(p->guard));
}

void loopback_device_destroy(struct virtio_device *dev)
{
    if (!dev)
        return;
    struct lb_priv *p = lb_priv_of(dev);
    virtio_mmio_device_destroy(dev);
    virt_free(p);
}

struct vmmio *loopback_device_vmmio(struct virtio_device *dev)
{
    return lb_priv_of(dev)->m;
}
