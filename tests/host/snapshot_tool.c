/* SPDX-License-Identifier: Apache-2.0 */
/*
 * snapshot_tool.c - build/host/snapshot-tool: writes a reference snapshot
 * of a loopback device model with traffic in flight, for
 * tools/snapshot-inspect and its pytest (tests/test_snapshot_inspect.py).
 *
 *   snapshot-tool [--kind blk|net|rng|console|pmem] [--content] OUT
 *
 * The device is started through the register file by the real driver
 * virtqueue (dev_fixture), does some completed traffic, then is put to
 * sleep with requests made available and kicked but not processed (net:
 * frames waiting in its backlog; console: bytes in its FIFOs), and saved.
 * On stdout, key=value lines of what the C side knows, for the pytest to
 * compare with the decoder's output.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "dev_fixture.h"
#include "snapshot.h"
#include "vdev_models.h"
#include "virtio_platform.h"

#define QSIZE 16
#define DISK_BYTES (64 * 512)
#define PMEM_START (FX_GPA_BASE + (2u << 20))
#define PMEM_SIZE (2u << 20)

static void *galloc(struct dev_fixture *f, size_t n)
{
    return fx_alloc(&f->fx, n, NULL);
}

/* n chains of a readable 16-byte header + writable 513 bytes (blk: a
 * 1-sector read; pmem: a bad request), or, with writable_only, the 513
 * writable bytes alone (rng: 513 bytes wanted; rng refuses a request with
 * readable buffers). */
static void add_requests(struct dev_fixture *f, unsigned qi, unsigned n, bool writable_only)
{
    unsigned i;

    for (i = 0; i < n; i++) {
        uint8_t *b = galloc(f, 1024);
        struct vq_sg sg[2] = {{.buf = b, .len = 16}, {.buf = b + 64, .len = 513}};

        if (vq_add_sgs(f->vq[qi], writable_only ? sg + 1 : sg, writable_only ? 0 : 1, 1, b)) {
            fprintf(stderr, "snapshot-tool: vq_add_sgs failed\n");
            exit(1);
        }
    }
    vq_kick(f->vq[qi]);
}

static void drain(struct dev_fixture *f)
{
    while (vmmio_has_pending(f->m))
        vmmio_process(f->m);
}

int main(int argc, char **argv)
{
    static struct dev_fixture fix;
    struct dev_fixture *f = &fix;
    const char *kind = "blk", *out = NULL;
    unsigned flags = 0, i, qi;
    bool packed = false;
    uint8_t *disk = NULL, *buf;
    size_t len;
    FILE *fp;
    int rc;

    for (i = 1; i < (unsigned)argc; i++) {
        if (!strcmp(argv[i], "--kind") && i + 1 < (unsigned)argc)
            kind = argv[++i];
        else if (!strcmp(argv[i], "--content"))
            flags |= SNAP_F_CONTENT;
        else if (!strcmp(argv[i], "--packed"))
            packed = true; /* offer VIRTIO_F_RING_PACKED: packed queues (format 1.1) */
        else
            out = argv[i];
    }
    if (!out) {
        fprintf(
            stderr,
            "usage: snapshot-tool [--kind blk|net|rng|console|pmem] [--content] [--packed] OUT\n");
        return 2;
    }
    dfx_arena(f);
    if (!strcmp(kind, "blk")) {
        disk = calloc(1, DISK_BYTES);
        for (i = 0; i < DISK_BYTES; i++)
            disk[i] = (uint8_t)(i / 512);
        rc = vdev_blk_create(&f->dev, &f->fx.mem, disk, DISK_BYTES, "snapshot-tool");
    } else if (!strcmp(kind, "net")) {
        rc = vdev_net_create(&f->dev, &f->fx.mem, NULL);
    } else if (!strcmp(kind, "rng")) {
        rc = vdev_rng_create(&f->dev, &f->fx.mem, 42);
    } else if (!strcmp(kind, "console")) {
        rc = vdev_console_create(&f->dev, &f->fx.mem, 80, 25);
    } else if (!strcmp(kind, "pmem")) {
        rc = vdev_pmem_create(&f->dev, &f->fx.mem, PMEM_START, PMEM_SIZE, NULL, NULL);
    } else {
        fprintf(stderr, "snapshot-tool: unknown kind %s\n", kind);
        return 2;
    }
    if (rc) {
        fprintf(stderr, "snapshot-tool: create failed (%d)\n", rc);
        return 1;
    }
    vdev_set_offer_packed(&f->dev, packed);
    dfx_attach(f);
    dfx_start(f, dfx_device_features(f), QSIZE);

    if (!strcmp(kind, "net") || !strcmp(kind, "console")) {
        /* TX frames / bytes that wait in the device (no RX buffers). */
        for (i = 0; i < 3; i++) {
            uint8_t *b = galloc(f, 256);
            struct vq_sg sg = {.buf = b, .len = 12 + 20 + i};

            memset(b, 'a' + (int)i, 256);
            if (!strcmp(kind, "net"))
                memset(b, 0, 12); /* a plain header (no NEEDS_CSUM: 5.1.6.2) */
            if (vq_add_sgs(f->vq[1], &sg, 1, 0, b))
                return 1;
            vq_kick(f->vq[1]);
            drain(f);
        }
    } else {
        add_requests(f, 0, 3, !strcmp(kind, "rng")); /* completed */
        drain(f);
    }
    vmmio_sleep(f->m);
    /* In flight: made available and kicked, not processed. */
    add_requests(f, 0, 2, !strcmp(kind, "rng"));

    len = snap_size(f->m, flags);
    buf = malloc(len);
    rc = snap_save(f->m, flags, buf, len, &len);
    if (rc) {
        fprintf(stderr, "snapshot-tool: save failed (%d)\n", rc);
        return 1;
    }
    fp = fopen(out, "wb");
    if (!fp || fwrite(buf, 1, len, fp) != len || fclose(fp)) {
        perror(out);
        return 1;
    }
    printf("kind=%s\n", kind);
    printf("file_len=%zu\n", len);
    printf("device_id=%u\n", f->dev.ops->device_id);
    printf("num_queues=%u\n", f->dev.ops->num_queues);
    printf("avail_features=0x%llx\n", (unsigned long long)f->dev.avail_features);
    printf("acked_features=0x%llx\n", (unsigned long long)f->dev.acked_features);
    printf("interrupt_status=%u\n", f->dev.interrupt_status);
    for (qi = 0; qi < f->dev.ops->num_queues; qi++) {
        const struct vdev_queue *vq = &f->dev.queues[qi];

        printf("q%u.size=%u\n", qi, vq->size);
        printf("q%u.max_size=%u\n", qi, vq->max_size);
        printf("q%u.desc=0x%llx\n", qi, (unsigned long long)vq->desc_gpa);
        printf("q%u.avail=0x%llx\n", qi, (unsigned long long)vq->avail_gpa);
        printf("q%u.used=0x%llx\n", qi, (unsigned long long)vq->used_gpa);
        printf("q%u.next_avail=%u\n", qi, vq->q.next_avail);
        printf("q%u.next_used=%u\n", qi, vq->q.next_used);
    }
    if (!strcmp(kind, "net"))
        printf("backlog=%u\n", vdev_net_backlog_len(&f->dev));
    free(buf);
    dfx_teardown(f);
    free(disk);
    return 0;
}
