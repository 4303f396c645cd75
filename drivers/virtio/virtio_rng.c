/* SPDX-License-Identifier: Apache-2.0 */
/*
 * virtio_rng.c - virtio entropy driver (VIRTIO 1.2 5.4; see virtio_rng.h).
 *
 * 5.4.6: the driver places device-writable buffers on the requestq; the
 * device fills them with random bytes and reports how many. One request is
 * in flight at a time, in a driver-owned DMA bounce buffer.
 *
 * Invariants: the used length is at most VIRTIO_RNG_CHUNK (virtqueue.c
 * rejects anything longer than the writable buffer), so the copy out is
 * bounded; only bytes the device reported are copied.
 */
#include "virtio_rng.h"

#include <errno.h>
#include <string.h>

#include "virtio_driver.h"
#include "virtio_platform.h"

#define RNG_REQUESTQ 0
/* A device that keeps answering with 0 bytes is not waited on forever. */
#define RNG_MAX_EMPTY 64

struct virtio_rng {
    struct virtio_device *dev;
    struct virt_lock lock;
    void *bounce; /* VIRTIO_RNG_CHUNK bytes of DMA memory, written by device */
    struct virtio_rng_stats stats;
};

/* ---- life cycle (virtio_driver.h): one plain queue, nothing to set up ---- */

static const struct virtio_driver rng_driver = {
    VIRTIO_DRIVER_STATE(struct virtio_rng),
    .device_id = VIRTIO_ID_RNG,
    .nvqs = 1,
    .dma_offset = offsetof(struct virtio_rng, bounce),
    .dma_size = VIRTIO_RNG_CHUNK,
    .lock_offsets = {offsetof(struct virtio_rng, lock)},
    .nlocks = 1,
};

/* virtio_rng_probe(), virtio_rng_remove(), virtio_rng_reinit() */
VIRTIO_DRIVER_ENTRY_POINTS(rng, rng_driver)

/* ---- I/O ---- */

int virtio_rng_read(struct virtio_rng *rng, void *buf, size_t n)
{
    uint8_t *out = buf;
    size_t done = 0;
    unsigned empty = 0;
    int err = 0;

    if (n > INT32_MAX)
        return -EINVAL;
    virt_lock_acquire(&rng->lock);
    while (done < n) {
        uint32_t chunk = n - done > VIRTIO_RNG_CHUNK ? VIRTIO_RNG_CHUNK : (uint32_t)(n - done);
        struct vq_sg sg = {.buf = rng->bounce, .len = chunk};
        int len;

        len = virtio_vq_exec(rng->dev, RNG_REQUESTQ, &sg, 0, 1, VIRTIO_RNG_TIMEOUT_NS);
        if (len < 0) {
            err = len;
            if (err == -ETIMEDOUT || virtio_is_failed(rng->dev)) {
                virt_log(VIRT_LOG_ERR, "%s: request failed (%d), resetting", rng->dev->name, err);
                (void)virtio_driver_reinit(rng->dev, 1); /* lock held */
            }
            break;
        }
        rng->stats.requests++;
        if (len == 0) {
            rng->stats.empty++;
            if (++empty >= RNG_MAX_EMPTY) {
                err = -EIO;
                break;
            }
            continue;
        }
        memcpy(out + done, rng->bounce, (size_t)len);
        done += (size_t)len;
        rng->stats.bytes += (uint64_t)len;
    }
    virt_lock_release(&rng->lock);
    return err < 0 ? err : (int)done;
}

struct virtio_device *virtio_rng_device(struct virtio_rng *rng)
{
    return rng->dev;
}

const struct virtio_rng_stats *virtio_rng_get_stats(const struct virtio_rng *rng)
{
    return &rng->stats;
}
