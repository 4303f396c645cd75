/* SPDX-License-Identifier: Apache-2.0 */
/*
 * fuzz_vq_packed.c - libFuzzer target for the packed driver
 * (drivers/virtio/virtqueue_packed.c through virtqueue.h) under a device
 * that writes anything: the input is a program of driver calls, honest
 * device steps (packed_fakedev.h: pop the next chain, mark it used) and raw
 * device writes (any id/len/flags into any descriptor, any event
 * suppression value). The driver may not crash, hang, trip a sanitizer,
 * hand back a token that is not in flight or twice, report a used length
 * past the chain's writable bytes, or talk to the device once broken; and
 * vq_detach_unused() gives back exactly the tokens still out.
 *
 * Input: 2 header bytes (size, flags), then ops (see fuzz_one()).
 */
#include <errno.h>
#include <setjmp.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "platform_host.h"
#include "virtio_platform.h"
#include "virtqueue.h"

static jmp_buf fd_jmp;
/* The fake device found the ring in a state it cannot parse (after raw
 * writes): it stops being honest for this input. */
#define FD_CHECK(c)                                                                                \
    do {                                                                                           \
        if (!(c))                                                                                  \
            longjmp(fd_jmp, 1);                                                                    \
    } while (0)
#define FD_MAX_SEGS 32
#include "packed_fakedev.h"

#define ARENA_GPA 0x40000000ull
#define ARENA_SIZE (1u << 20)
#define MAX_NUM 64u

static uint8_t arena[ARENA_SIZE] __attribute__((aligned(4096)));

struct tok {
    bool out;
    uint32_t in_len;
};

static struct tok toks[MAX_NUM * 2];

static void die(void)
{
    abort();
}
#define CHECK(c)                                                                                   \
    do {                                                                                           \
        if (!(c))                                                                                  \
            die();                                                                                 \
    } while (0)

static struct tok *take_token(void *t)
{
    struct tok *k = t;

    CHECK(k >= toks && k < toks + MAX_NUM * 2 && k->out);
    k->out = false;
    return k;
}

static void fuzz_one(const uint8_t *data, size_t size)
{
    struct vq_config cfg = {0};
    struct virtqueue *vq;
    static struct fd_chain chain;
    static struct fdev d; /* static: defined after a longjmp */
    volatile bool honest = true;
    uint8_t *scratch;
    uint64_t dma;
    size_t i = 2;
    unsigned outstanding = 0, n;

    if (size < 2)
        return;
    memset(toks, 0, sizeof(toks));
    host_dma_arena_setup(arena, ARENA_SIZE, ARENA_GPA);
    fd_mem = (struct fd_xlate){.gpa = ARENA_GPA, .size = ARENA_SIZE, .hva = arena};
    cfg.packed = true;
    cfg.num = 1 + data[0] % MAX_NUM;
    cfg.event_idx = data[1] & 1;
    cfg.indirect = data[1] & 2;
    cfg.publish_on_kick = data[1] & 4;
    cfg.indirect_max = 4;
    if (vq_create(&cfg, &vq) != 0)
        die();
    scratch = virt_dma_alloc(4096, &dma);
    CHECK(scratch);
    fd_init(&d, vq);

    while (i < size) {
        uint8_t op = data[i++];
        uint8_t a = i < size ? data[i] : 0;
        bool broken = vq_is_broken(vq);

        switch (op & 7) {
        case 0: { /* add: (a & 3) readable, (a >> 2 & 3) writable segments */
            struct vq_sg sg[6];
            unsigned no = a & 3, ni = (a >> 2) & 3, k;
            struct tok *t = NULL;
            int rc;

            i++;
            for (k = 0; k < MAX_NUM * 2; k++)
                if (!toks[k].out) {
                    t = &toks[k];
                    break;
                }
            if (!t)
                break;
            for (k = 0; k < no + ni; k++)
                sg[k] = (struct vq_sg){scratch + 64 * k, 1 + ((a >> 4) + k) % 64, 0};
            rc = vq_add_sgs(vq, sg, no, ni, t);
            if (broken)
                CHECK(rc == -EIO);
            if (rc == 0) {
                t->out = true;
                t->in_len = 0;
                for (k = no; k < no + ni; k++)
                    t->in_len += sg[k].len;
                outstanding++;
            }
            break;
        }
        case 1: { /* get_buf */
            void *t;
            uint32_t len;
            int rc = vq_get_buf(vq, &t, &len);

            if (broken)
                CHECK(rc == -EIO);
            if (rc == 0) {
                struct tok *k = take_token(t);

                CHECK(len <= k->in_len);
                outstanding--;
            } else {
                CHECK(rc == -EAGAIN || rc == -EIO);
            }
            break;
        }
        case 2: /* honest device: pop one chain, use it with a length */
            i++;
            if (!honest)
                break;
            if (setjmp(fd_jmp)) {
                honest = false;
                break;
            }
            if (fd_pop(&d, &chain))
                fd_push(&d, &chain, chain.in_len ? a % (chain.in_len + 1) : 0);
            break;
        case 3: { /* raw used write: slot, id, len, flags from the input */
            uint8_t b[7] = {0};

            for (n = 0; n < 7 && i < size; n++)
                b[n] = data[i++];
            {
                struct pvirtq_desc *x = &d.desc[b[0] % d.num];

                x->id = (uint16_t)(b[1] | b[2] << 8) % (2 * d.num);
                x->len = b[3] | (uint32_t)b[4] << 6;
                __atomic_store_n(&x->flags, (uint16_t)(b[5] | b[6] << 8), __ATOMIC_RELEASE);
            }
            honest = false; /* its view of the ring no longer holds */
            break;
        }
        case 4: { /* kick_prepare */
            bool k = vq_kick_prepare(vq);

            if (broken)
                CHECK(!k && vq_notify(vq) == -EIO);
            break;
        }
        case 5: /* callbacks */
            i++;
            if ((a & 3) == 0) {
                vq_disable_cb(vq);
            } else {
                int rc = (a & 3) == 1 ? vq_enable_cb(vq) : vq_enable_cb_delayed(vq);

                CHECK(rc == 0 || rc == -EAGAIN || rc == -EIO);
                if (broken)
                    CHECK(rc == -EIO);
            }
            (void)vq_has_used(vq);
            (void)vq_peek_used_idx(vq);
            break;
        case 6: /* the device's event suppression structure, any value */
            i += 2;
            fd_set_event(&d, a & 3, (uint16_t)(a * 37u) & 0x7fff, a & 0x80);
            break;
        case 7: /* device reset: every token still out comes back once */
            if ((a & 0xf) != 0) {
                i++;
                break;
            }
            i++;
            {
                void *t;

                while ((t = vq_detach_unused(vq)) != NULL) {
                    take_token(t);
                    outstanding--;
                }
                CHECK(outstanding == 0);
                if (!vq_is_broken(vq)) {
                    CHECK(vq_num_free(vq) == vq_get_size(vq));
                    fd_init(&d, vq);
                    honest = true;
                }
            }
            break;
        }
        CHECK(vq_num_free(vq) <= vq_get_size(vq));
        if (broken)
            CHECK(vq_is_broken(vq)); /* no way back from broken */
    }
    /* Whatever happened, detach gives back every token still out. */
    {
        void *t;

        while ((t = vq_detach_unused(vq)) != NULL) {
            take_token(t);
            outstanding--;
        }
        CHECK(outstanding == 0);
    }
    vq_destroy(vq);
    host_dma_arena_clear();
    fd_mem.hva = NULL;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static bool quiet;

    if (!quiet) {
        host_log_level_set(-1);
        quiet = true;
    }
    fuzz_one(data, size);
    return 0;
}
