/* SPDX-License-Identifier: Apache-2.0 */
/*
 * fuzz_vring.c - libFuzzer target for both ring readers: the device-side
 * chain walker (vdq_pop and friends over arbitrary guest memory and
 * indices) and the driver's used-ring reader (vq_get_buf and friends over an
 * arbitrary used ring). Neither may crash, hang, read outside guest memory
 * or trip a sanitizer, whatever the peer wrote.
 *
 * Input: struct fuzz_hdr, then bytes that become the guest memory image
 * (GMEM_SIZE bytes at guest address GMEM_GPA, zero-padded) and also the
 * driver's used ring image.
 */
#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "platform_host.h"
#include "vdq.h"
#include "virtio_platform.h"
#include "virtqueue.h"

#define GMEM_GPA 0x10000ull
#define GMEM_SIZE 16384u
#define MAX_IOV 64

struct fuzz_hdr {
    uint8_t log2num;     /* ring size 1 << (log2num % 10) */
    uint8_t flags;       /* bit0 event_idx, bit1 indirect, bit2 driver part,
                            bit3 corrupt_stall (vdq_set_corrupt_stall) */
    uint16_t next_avail; /* device starts here (as after a restore) */
    uint16_t desc_off;   /* ring placement inside guest memory */
    uint16_t avail_off;
    uint16_t used_off;
    uint16_t ops; /* bit pattern driving enable/disable/interrupt calls */
};

static uint8_t gmem[GMEM_SIZE] __attribute__((aligned(64)));

static void fuzz_device(const struct fuzz_hdr *h, uint32_t num)
{
    struct vdq_mem_region r = {.gpa = GMEM_GPA, .size = GMEM_SIZE, .hva = gmem};
    struct vdq_mem mem = {.regions = &r, .nregions = 1};
    struct vdq_state st = {
        .size = num,
        .desc_gpa = GMEM_GPA + h->desc_off,
        .avail_gpa = GMEM_GPA + h->avail_off,
        .used_gpa = GMEM_GPA + h->used_off,
        .next_avail = h->next_avail,
        .next_used = h->next_avail,
        .event_idx = h->flags & 1,
        .indirect = (h->flags >> 1) & 1,
    };
    struct vdq q;
    struct vdq_iov iov[MAX_IOV];
    struct vdq_chain c = {.iov = iov, .max_iov = MAX_IOV};
    uint8_t tmp[64];
    unsigned i;

    /* The avail ring's bytes in gmem; the device may write them (through
     * an overlapping used ring or a writable buffer placed on them), and
     * then the driver side of this image "added" more than num chains. */
    uint64_t av_lo = h->avail_off, av_hi = av_lo + 4 + 2ull * num + 2;
    uint64_t us_lo = h->used_off, us_hi = us_lo + 4 + 8ull * num + 2;
    bool avail_written = us_lo < av_hi && av_lo < us_hi;

    bool stall = (h->flags >> 3) & 1;

    if ((stall ? vdq_init_state_stall : vdq_init_state)(&q, &mem, &st) != 0)
        return;
    for (i = 0; i < 2 * num + 4; i++) {
        unsigned op = (h->ops >> (i % 16)) & 1;
        int rc = vdq_pop(&q, &c);

        if (rc == 0) {
            uint32_t n = vdq_chain_read(&c, 0, tmp, sizeof(tmp));
            uint32_t w = vdq_chain_write(&c, n % 7, tmp, n);

            for (unsigned k = c.nout; k < c.nout + c.nin; k++) {
                uint64_t lo = (uint64_t)((uint8_t *)c.iov[k].base - gmem);

                avail_written |= lo < av_hi && av_lo < lo + c.iov[k].len;
            }

            vdq_push(&q, c.head, op ? w : c.in_len);
        } else if (op) {
            vdq_disable_notify(&q);
        } else if (vdq_enable_notify(&q) != -EAGAIN) {
            break;
        }
        vdq_interrupt_prepare(&q);
        vdq_has_avail(&q);
    }
    /* Invariants whatever the input: the device returned every chain it
     * consumed (good ones by us, bad ones by vdq_pop itself), and, while
     * nothing the device wrote could move avail->idx, it consumed at most
     * what the ring held (one avail->idx, at most num ahead). */
    /* With corrupt_stall the entries it skipped (bad heads, the ones a
     * resync jumped over) were consumed without a used element, and a
     * resync may move next_avail by more than a ring. */
    vdq_get_state(&q, &st);
    if (st.next_avail != (uint16_t)(st.next_used + q.skipped_heads + q.resync_skipped))
        __builtin_trap();
    if (stall && vdq_is_broken(&q) && !q.cfg.packed)
        __builtin_trap(); /* a split queue with the policy never breaks on the ring */
    if (!stall && !avail_written && (uint16_t)(st.next_avail - h->next_avail) > num)
        __builtin_trap();
}

static void fuzz_driver(const struct fuzz_hdr *h, uint32_t num, const uint8_t *img, size_t len)
{
    struct vq_config cfg = {.num = num, .event_idx = h->flags & 1, .indirect = (h->flags >> 1) & 1};
    struct virtqueue *vq;
    static uint8_t bufs[8][32];
    struct vq_sg sg[3];
    uint64_t d, a, u;
    struct virtq_used *used;
    void *token;
    uint32_t ulen, i;

    if (vq_create(&cfg, &vq) != 0)
        return;
    /* Put a few requests in flight: one, two and three segments. */
    for (i = 0; i < num && i < 6; i++) {
        unsigned segs = 1 + i % 3, k;

        for (k = 0; k < segs; k++) {
            sg[k].buf = bufs[(i + k) % 8];
            sg[k].len = 8 + 8 * k;
        }
        vq_add_sgs(vq, sg, 1, segs - 1, bufs[i % 8]);
    }
    vq_kick_prepare(vq);
    /* The device's used ring is whatever the input says. */
    vq_get_ring_addrs(vq, &d, &a, &u);
    used = (struct virtq_used *)(uintptr_t)u; /* identity without an arena */
    memcpy(used, img, len < virtq_used_size(num) ? len : virtq_used_size(num));
    for (i = 0; i < num + 2; i++)
        if (vq_get_buf(vq, &token, &ulen) != 0)
            break;
    vq_has_used(vq);
    vq_enable_cb(vq);
    vq_disable_cb(vq);
    vq_add_sgs(vq, sg, 1, 0, bufs[0]);
    vq_kick_prepare(vq);
    if (vq_num_free(vq) > num)
        __builtin_trap();
    while (vq_detach_unused(vq))
        ;
    if (!vq_is_broken(vq) && vq_num_free(vq) != num)
        __builtin_trap(); /* detach gives every descriptor back */
    vq_destroy(vq);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct fuzz_hdr h;
    uint32_t num;
    size_t n;

    if (size < sizeof(h))
        return 0;
    memcpy(&h, data, sizeof(h));
    data += sizeof(h);
    size -= sizeof(h);
    host_log_level_set(-1);
    num = 1u << (h.log2num % 10);
    n = size < GMEM_SIZE ? size : GMEM_SIZE;
    memcpy(gmem, data, n);
    memset(gmem + n, 0, GMEM_SIZE - n);
    fuzz_device(&h, num);
    if (h.flags & 4)
        fuzz_driver(&h, num, data, size);
    return 0;
}
