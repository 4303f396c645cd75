/* SPDX-License-Identifier: Apache-2.0 */
/*
 * dev_rng.c - virtio-rng (entropy) device model (VIRTIO 1.2 5.4): one
 * requestq; each request's device-writable part is filled completely with
 * bytes of a deterministic splitmix64 stream seeded at create time (the
 * algorithm is spelled out in vdev_models.h), so tests can recompute every
 * byte the driver receives.
 *
 * Invariants:
 *  - the stream position only moves by the bytes handed out: byte n of
 *    the stream is the n-th byte the driver received, across requests;
 *  - the generator state (struct vdev_rng_state) is the whole device
 *    state: a snapshot saves it, reset keeps it (a reset must not replay
 *    entropy the driver has already seen).
 * A request without a writable part cannot carry entropy (5.4.6.1: "The
 * device MUST place one or more random bytes into the buffer"), and one
 * with device-readable buffers is not the device-writable buffer 5.4.6
 * asks for: either is counted as bad and returned with length 0, no byte
 * written and the stream not moved.
 */
#include <errno.h>
#include <string.h>

#include "snap_le.h"
#include "vdev_models.h"
#include "virtio_platform.h"

struct dev_rng {
    struct vdev_rng_state st;
};

static uint64_t rng_splitmix64(uint64_t *s)
{
    uint64_t z;

    *s += 0x9e3779b97f4a7c15ull;
    z = *s;
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

/* Next len bytes of the stream. */
static void rng_bytes(struct vdev_rng_state *st, uint8_t *out, uint32_t len)
{
    uint32_t i;

    for (i = 0; i < len; i++) {
        if (st->used >= 8) {
            st->word = rng_splitmix64(&st->s);
            st->used = 0;
        }
        out[i] = (uint8_t)(st->word >> (8 * st->used)); /* little-endian */
        st->used++;
    }
    st->produced += len;
}

static bool rng_chain(struct vdev *d, unsigned qi, const struct vdq_chain *c, uint32_t *written)
{
    struct dev_rng *r = d->priv;
    uint8_t buf[256];
    uint32_t off;

    (void)qi;
    if (c->in_len == 0 || c->out_len) {
        *written = 0;
        return true;
    }
    for (off = 0; off < c->in_len; off += sizeof(buf)) {
        uint32_t n = c->in_len - off < sizeof(buf) ? c->in_len - off : sizeof(buf);

        rng_bytes(&r->st, buf, n);
        vdq_chain_write(c, off, buf, n);
    }
    *written = c->in_len;
    return false;
}

static int rng_process(struct vdev *d, unsigned qi)
{
    return vdev_queue_drain(d, qi, rng_chain);
}

static void rng_destroy(struct vdev *d)
{
    virt_free(d->priv);
}

/* Snapshot blob (32 bytes, little-endian): s u64, word u64, used u32,
 * pad u32 (0), produced u64. */
#define RNG_STATE_BYTES 32

static uint32_t rng_state_size(const struct vdev *d)
{
    (void)d;
    return RNG_STATE_BYTES;
}

static void rng_state_save(const struct vdev *d, uint8_t *out)
{
    const struct dev_rng *r = d->priv;

    snap_put64(out, r->st.s);
    snap_put64(out + 8, r->st.word);
    snap_put32(out + 16, r->st.used);
    snap_put32(out + 20, 0);
    snap_put64(out + 24, r->st.produced);
}

static const char *rng_state_check(const struct vdev *d, const uint8_t *p, uint32_t len)
{
    (void)d;
    if (len != RNG_STATE_BYTES)
        return "rng state is not 32 bytes";
    if (snap_get32(p + 16) > 8)
        return "rng bytes used of the word above 8";
    if (snap_get32(p + 20) != 0)
        return "rng padding not zero";
    return NULL;
}

static void rng_state_load(struct vdev *d, const uint8_t *p, uint32_t len)
{
    struct dev_rng *r = d->priv;

    (void)len;
    r->st.s = snap_get64(p);
    r->st.word = snap_get64(p + 8);
    r->st.used = snap_get32(p + 16);
    r->st.produced = snap_get64(p + 24);
}

static const struct vdev_ops rng_ops = {
    .type = "rng",
    .device_id = VIRTIO_ID_RNG,
    .num_queues = 1,
    .queue_max_size = VDEV_RNG_QUEUE_MAX,
    .config_size = 0, /* 5.4.4: none */
    .process_queue = rng_process,
    .destroy = rng_destroy,
    .state_size = rng_state_size,
    .state_save = rng_state_save,
    .state_check = rng_state_check,
    .state_load = rng_state_load,
};

int vdev_rng_create(struct vdev *d, const struct vdq_mem *mem, uint64_t seed)
{
    uint64_t features = (1ull << VIRTIO_F_VERSION_1) | (1ull << VIRTIO_F_EVENT_IDX) |
                        (1ull << VIRTIO_F_INDIRECT_DESC);
    struct dev_rng *r;

    if (!d || !mem)
        return -EINVAL;
    r = virt_zalloc(sizeof(*r));
    if (!r)
        return -ENOMEM;
    r->st.s = seed;
    r->st.used = 8;
    vdev_init(d, &rng_ops, r, features, mem);
    return 0;
}

void vdev_rng_get_state(const struct vdev *d, struct vdev_rng_state *st)
{
    *st = ((const struct dev_rng *)d->priv)->st;
}

void vdev_rng_set_state(struct vdev *d, const struct vdev_rng_state *st)
{
    struct dev_rng *r = d->priv;

    r->st = *st;
    if (r->st.used > 8)
        r->st.used = 8;
}
