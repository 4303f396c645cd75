/* SPDX-License-Identifier: Apache-2.0 */
/*
 * fuzz_vmmio.c - libFuzzer target for the device side as a hostile driver
 * sees it: a device model (one of the five, chosen by the first byte)
 * behind the virtio-mmio register file, driven by an arbitrary sequence of
 * register reads and writes, guest-memory pokes, "driver adds" (a
 * descriptor and an avail entry written into guest memory), device-CPU
 * runs (vmmio_process) and device-side calls (console inject/take, blk
 * resize). Nothing may crash, hang, touch memory outside guest memory or
 * trip a sanitizer, whatever the driver does.
 *
 * Input: byte 0 selects the model; then ops, each an opcode byte and its
 * operands (missing operand bytes read as 0). Guest memory is GMEM_SIZE
 * bytes at GMEM_GPA, zeroed per input; op INIT places queue q's rings at
 * q * 8192 (+4096 avail, +6144 used) so the deep paths are reached fast.
 */
#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "platform_host.h"
#include "vdev_models.h"
#include "virtio_mmio.h"
#include "virtio_platform.h"
#include "vmmio.h"

#define GMEM_GPA 0x10000ull
#define GMEM_SIZE 65536u
#define DISK_SIZE 16384u

enum { OP_WRITE, OP_READ, OP_PROCESS, OP_POKE, OP_INIT, OP_ADD, OP_SIDE, OP_ACK, OP_COUNT };

struct fuzz_in {
    const uint8_t *p;
    size_t left;
};

static uint8_t gmem[GMEM_SIZE] __attribute__((aligned(4096)));
static uint8_t disk[2 * DISK_SIZE];

static uint8_t in_u8(struct fuzz_in *in)
{
    if (!in->left)
        return 0;
    in->left--;
    return *in->p++;
}

static uint16_t in_u16(struct fuzz_in *in)
{
    uint16_t lo = in_u8(in);

    return (uint16_t)(lo | in_u8(in) << 8);
}

static uint32_t in_u32(struct fuzz_in *in)
{
    uint32_t lo = in_u16(in);

    return lo | (uint32_t)in_u16(in) << 16;
}

static int fuzz_device_create(struct vdev *d, const struct vdq_mem *mem, unsigned kind)
{
    switch (kind % 6) {
    case 0:
        return vdev_blk_create(d, mem, disk, DISK_SIZE, NULL);
    case 1:
        return vdev_rng_create(d, mem, 42);
    case 2:
        return vdev_net_create(d, mem, NULL);
    case 3:
        return vdev_console_create(d, mem, 80, 25);
    case 5: /* MULTIPORT: the control queues and ports 1, 2 */
        return vdev_console_create_ports(d, mem, 80, 25, VDEV_CONSOLE_MAX_PORTS);
    default:
        return vdev_pmem_create(d, mem, 1ull << 32, 2u << 20, NULL, NULL);
    }
}

/* A well-behaved initialisation, with a few knobs from the input. */
static void fuzz_init(struct vmmio *m, struct fuzz_in *in)
{
    uint8_t knobs = in_u8(in);
    uint32_t num = 1u << (knobs % 7), q, nq = vmmio_vdev(m)->ops->num_queues;
    uint64_t feat;

    vmmio_write(m, VIRTIO_MMIO_STATUS, 0, 4);
    vmmio_write(m, VIRTIO_MMIO_STATUS, VIRTIO_STATUS_ACKNOWLEDGE, 4);
    vmmio_write(m, VIRTIO_MMIO_STATUS, VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER, 4);
    vmmio_write(m, VIRTIO_MMIO_DEVICE_FEATURES_SEL, 0, 4);
    feat = vmmio_read(m, VIRTIO_MMIO_DEVICE_FEATURES, 4);
    vmmio_write(m, VIRTIO_MMIO_DEVICE_FEATURES_SEL, 1, 4);
    feat |= (uint64_t)vmmio_read(m, VIRTIO_MMIO_DEVICE_FEATURES, 4) << 32;
    if (knobs & 0x80)
        feat &= ~(1ull << VIRTIO_F_EVENT_IDX);
    if (knobs & 0x40)
        feat &= ~(1ull << VIRTIO_F_INDIRECT_DESC);
    vmmio_write(m, VIRTIO_MMIO_DRIVER_FEATURES_SEL, 0, 4);
    vmmio_write(m, VIRTIO_MMIO_DRIVER_FEATURES, (uint32_t)feat, 4);
    vmmio_write(m, VIRTIO_MMIO_DRIVER_FEATURES_SEL, 1, 4);
    vmmio_write(m, VIRTIO_MMIO_DRIVER_FEATURES, (uint32_t)(feat >> 32), 4);
    vmmio_write(m, VIRTIO_MMIO_STATUS,
                VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER | VIRTIO_STATUS_FEATURES_OK, 4);
    for (q = 0; q < nq && q < 4; q++) {
        uint64_t base = GMEM_GPA + q * 8192ull;

        vmmio_write(m, VIRTIO_MMIO_QUEUE_SEL, q, 4);
        vmmio_write(m, VIRTIO_MMIO_QUEUE_NUM, num, 4);
        vmmio_write(m, VIRTIO_MMIO_QUEUE_DESC_LOW, (uint32_t)base, 4);
        vmmio_write(m, VIRTIO_MMIO_QUEUE_DRIVER_LOW, (uint32_t)(base + 4096), 4);
        vmmio_write(m, VIRTIO_MMIO_QUEUE_DEVICE_LOW, (uint32_t)(base + 6144), 4);
        vmmio_write(m, VIRTIO_MMIO_QUEUE_READY, 1, 4);
    }
    vmmio_write(m, VIRTIO_MMIO_STATUS,
                VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER | VIRTIO_STATUS_FEATURES_OK |
                    VIRTIO_STATUS_DRIVER_OK,
                4);
}

/* Driver add: descriptor i of queue q, an avail entry for head, kick. The
 * ring placement is fuzz_init's; the queue size is whatever the device has. */
static void fuzz_add(struct vmmio *m, struct fuzz_in *in)
{
    unsigned q = in_u8(in) % 4;
    uint8_t i = in_u8(in), head = in_u8(in), flags = in_u8(in), next = in_u8(in);
    uint16_t off = in_u16(in), len = in_u16(in);
    struct vdev *d = vmmio_vdev(m);
    uint32_t num = d->queues[q].size ? d->queues[q].size : 1;
    struct virtq_desc *desc = (struct virtq_desc *)(gmem + q * 8192);
    struct virtq_avail *avail = (struct virtq_avail *)(gmem + q * 8192 + 4096);

    i %= num;
    desc[i].addr = GMEM_GPA + off;
    desc[i].len = len;
    desc[i].flags = flags & 7;
    desc[i].next = next;
    avail->ring[avail->idx % num] = head;
    avail->idx++;
    vmmio_write(m, VIRTIO_MMIO_QUEUE_NOTIFY, q, 4);
}

struct side_arg {
    uint8_t what;
    uint8_t buf[64];
};

static void fuzz_side_locked(struct vdev *d, void *arg)
{
    struct side_arg *a = arg;

    if (!strcmp(d->ops->type, "console")) {
        uint32_t port = (a->what >> 1) % VDEV_CONSOLE_MAX_PORTS; /* past nports: refused */

        if (a->what & 1)
            vdev_console_port_inject(d, port, a->buf, a->what % sizeof(a->buf));
        else
            vdev_console_port_take(d, port, a->buf, sizeof(a->buf));
    } else if (!strcmp(d->ops->type, "blk")) {
        vdev_blk_resize(d, disk, (a->what & 1) ? 2 * DISK_SIZE : DISK_SIZE);
    } else if (!strcmp(d->ops->type, "rng")) {
        struct vdev_rng_state st;

        vdev_rng_get_state(d, &st);
        vdev_rng_set_state(d, &st);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct vdq_mem_region region = {.gpa = GMEM_GPA, .size = GMEM_SIZE, .hva = gmem};
    struct vdq_mem mem = {.regions = &region, .nregions = 1};
    struct fuzz_in in = {.p = data, .left = size};
    struct vdev dev;
    struct vmmio *m;
    unsigned ops = 0;

    if (size < 1)
        return 0;
    host_log_level_set(-1);
    memset(gmem, 0, sizeof(gmem));
    if (fuzz_device_create(&dev, &mem, in_u8(&in)) != 0)
        return 0;
    if (vmmio_create(&dev, NULL, &m) != 0)
        goto out_dev;
    while (in.left && ops++ < 4096) {
        uint8_t op = in_u8(&in) % OP_COUNT;
        uint32_t off, v;
        uint8_t sz;

        switch (op) {
        case OP_WRITE:
            off = in_u16(&in) & 0x1ff;
            sz = in_u8(&in) % 6;
            v = in_u32(&in);
            vmmio_write(m, off, v, sz);
            break;
        case OP_READ:
            off = in_u16(&in) & 0x1ff;
            sz = in_u8(&in) % 6;
            (void)vmmio_read(m, off, sz);
            break;
        case OP_PROCESS:
            vmmio_process(m);
            break;
        case OP_POKE:
            off = in_u16(&in) % (GMEM_SIZE - 8);
            for (v = 0; v < 8; v++)
                gmem[off + v] = in_u8(&in);
            break;
        case OP_INIT:
            fuzz_init(m, &in);
            break;
        case OP_ADD:
            fuzz_add(m, &in);
            break;
        case OP_SIDE: {
            struct side_arg a = {.what = in_u8(&in)};

            memset(a.buf, 'k', sizeof(a.buf));
            vmmio_run_locked(m, fuzz_side_locked, &a);
            break;
        }
        default:
            vmmio_write(m, VIRTIO_MMIO_INTERRUPT_ACK, in_u8(&in), 4);
            break;
        }
    }
    vmmio_process(m);
    vmmio_destroy(m);
out_dev:
    vdev_destroy(&dev);
    return 0;
}
