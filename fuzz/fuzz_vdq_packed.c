/* SPDX-License-Identifier: Apache-2.0 */
/*
 * fuzz_vdq_packed.c - libFuzzer target for the packed device queue's chain
 * walker (hostsim/vdq_packed.c, virtio 1.2 section 2.8): vdq_pop and
 * friends over an arbitrary descriptor ring, indirect tables and event
 * suppression structures, at any queue size 1..1024 (packed sizes need not
 * be powers of two), from the start or from a restored position. It may
 * not crash, hang, read outside guest memory or trip a sanitizer, whatever
 * the driver wrote.
 *
 * Invariants checked (trap): the queue's count of ids in flight is the
 * number of chains we hold; once every chain is returned, the used side
 * (next_used, used wrap counter) has caught up exactly with the available
 * side (each push skips exactly the ring descriptors its pop consumed,
 * 2.8.6); every popped chain is pushed once (popped + bad == pushed).
 *
 * Input: struct fuzz_hdr, then the guest memory image (GMEM_SIZE bytes at
 * guest address GMEM_GPA, zero-padded). Seeds in fuzz/corpus/fuzz_vdq_packed.
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

#define GMEM_GPA 0x10000ull
#define GMEM_SIZE 20480u
#define MAX_IOV 64
#define MAX_HELD 16
#define MAX_NUM 1024u

struct fuzz_hdr {
    uint16_t num;   /* queue size 1 + num % MAX_NUM */
    uint8_t flags;  /* bit0 event_idx, bit1 indirect, bit2 publish_on_interrupt,
                     * bit3 restore at `start`, bit4 its wrap counters */
    uint8_t max_iov; /* 1 + max_iov % MAX_IOV */
    uint16_t start;  /* restored ring offset (% num) */
    uint16_t desc_off; /* placement inside guest memory */
    uint16_t drv_off;
    uint16_t dev_off;
    uint32_t ops; /* bit pattern: hold/complete order, enable/disable */
};

static uint8_t gmem[GMEM_SIZE] __attribute__((aligned(64)));
static uint16_t ids[MAX_NUM];
static struct vdq q; /* static: big (inline id table), and seen by a debugger */

static void check(bool ok)
{
    if (!ok)
        __builtin_trap();
}

static void fuzz_device(const struct fuzz_hdr *h)
{
    struct vdq_mem_region r = {.gpa = GMEM_GPA, .size = GMEM_SIZE, .hva = gmem};
    struct vdq_mem mem = {.regions = &r, .nregions = 1};
    uint32_t num = 1 + h->num % MAX_NUM;
    struct vdq_config cfg = {
        .num = num,
        .desc_gpa = GMEM_GPA + h->desc_off,
        .avail_gpa = GMEM_GPA + h->drv_off,
        .used_gpa = GMEM_GPA + h->dev_off,
        .event_idx = h->flags & 1,
        .indirect = (h->flags >> 1) & 1,
        .publish_on_interrupt = (h->flags >> 2) & 1,
        .packed = true,
        .packed_ids = ids,
    };
    struct vdq_iov iov[MAX_IOV];
    struct vdq_chain c = {.iov = iov, .max_iov = 1 + h->max_iov % MAX_IOV};
    uint16_t held[MAX_HELD];
    unsigned nheld = 0, i;
    uint8_t tmp[64];

    if (vdq_init(&q, &mem, &cfg) != 0)
        return;
    if ((h->flags & 8) && num <= VDQ_PACKED_IDS_INLINE) {
        struct vdq_state st;

        vdq_get_state(&q, &st);
        st.next_avail = st.next_used = (uint16_t)(h->start % num);
        st.avail_wrap = st.used_wrap = (h->flags >> 4) & 1;
        if (vdq_init_state(&q, &mem, &st) != 0)
            return;
    }
    for (i = 0; i < 2 * num + 8; i++) {
        unsigned op = (h->ops >> (i % 29)) & 7;
        int rc = vdq_pop(&q, &c);

        if (rc == 0) {
            uint32_t n = vdq_chain_read(&c, 0, tmp, sizeof(tmp));

            vdq_chain_write(&c, n % 7, tmp, n);
            check(c.head < num);
            check(c.nout + c.nin <= c.max_iov);
            if (nheld < MAX_HELD && (op & 1))
                held[nheld++] = c.head; /* complete later, out of order */
            else
                check(vdq_push(&q, c.head, op & 2 ? c.in_len : 0) == 0);
        } else if (rc == -EIO) {
            check(vdq_is_broken(&q));
            break;
        } else if (op & 2) {
            vdq_disable_notify(&q);
        } else if (vdq_enable_notify(&q) == 0 && nheld == 0) {
            break;
        }
        if (nheld && (op & 4)) {
            unsigned k = (i / 3) % nheld;

            check(vdq_push(&q, held[k], 1) == 0);
            check(vdq_push(&q, held[k], 1) == -EINVAL); /* not twice */
            held[k] = held[--nheld];
        }
        check(vdq_is_broken(&q) || q.inflight == nheld);
        vdq_interrupt_prepare(&q);
        vdq_has_avail(&q);
    }
    while (nheld)
        check(vdq_push(&q, held[--nheld], 0) == 0 || vdq_is_broken(&q));
    vdq_interrupt_prepare(&q);
    if (vdq_is_broken(&q))
        return;
    check(q.inflight == 0);
    check(q.next_used == q.next_avail && q.used_wrap == q.avail_wrap);
    check(q.stats.popped + q.stats.bad_chains == q.stats.pushed);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct fuzz_hdr h;
    size_t n;

    if (size < sizeof(h))
        return 0;
    memcpy(&h, data, sizeof(h));
    data += sizeof(h);
    size -= sizeof(h);
    host_log_level_set(-1);
    n = size < GMEM_SIZE ? size : GMEM_SIZE;
    memcpy(gmem, data, n);
    memset(gmem + n, 0, GMEM_SIZE - n);
    fuzz_device(&h);
    return 0;
}
