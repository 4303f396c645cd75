/* SPDX-License-Identifier: Apache-2.0 */
/*
 * fuzz_vhost_user.c - libFuzzer target for the vhost-user message parser
 * and handler (hostsim/vhost_user*.c) as a hostile frontend sees it: an
 * arbitrary stream of messages, with fake fds, kicks and polls in between,
 * against a blk model. Nothing may crash, hang, trip a sanitizer, touch
 * memory outside the guest arena, close an fd twice or leak one (the fake
 * carrier, tests/host/vu_fixture.c, keeps count).
 *
 * Input: byte 0 bit 0: start from a negotiated backend (owner, features,
 * REPLY_ACK|CONFIG|MQ|RESET|DEVICE_STATE|CONFIGURE_MEM_SLOTS|BACKEND_REQ, a
 * memory table over the arena) so ring messages reach the deep paths;
 * bit 1: ack VIRTIO_F_RING_PACKED in that preamble (the device offers it),
 * so the rings are packed (SET/GET_VRING_BASE's packed encoding, any ring
 * size, hostsim/vdq_packed.c behind the kicks); bit 2: dirty logging on
 * in that preamble (LOG_SHMFD, VHOST_F_LOG_ALL, a SET_LOG_BASE over the
 * carrier's shared memory covering the arena), so every ring write and
 * request below is logged and SET_VRING_ADDR's VHOST_VRING_F_LOG and
 * log_guest_addr, SET_LOG_BASE and SET_LOG_FD reach their deep paths (a
 * SET_LOG_BASE of the input's passes shm fds with bit 7); then chunks, each a control byte (bits 0-1: fds to pass, bit 2: kick
 * ring 0 after, bit 3: poll after, bit 4: write the next 16 bytes into the
 * arena at the offset in the following byte * 64, bit 5: before the
 * message, an ADD_MEM_REG (bit 6 clear) or REM_MEM_REG (bit 6 set) of a
 * slice of the arena chosen by the next byte, so memory-slot changes land
 * between ring messages and kicks, bit 7: the fds passed are shared-memory
 * fds (a frontend handing an inflight region back with SET_INFLIGHT_FD)
 * and bit 4 writes into that shared memory instead of the arena, so the
 * region's contents are the fuzzer's) then one message: a 12-byte header
 * and as many payload bytes as its size field says (or what is left).
 * The carrier has shm_create (vufx_ops_shm): INFLIGHT_SHMFD is offered,
 * and the preamble negotiates it; a reply's fd (GET_INFLIGHT_FD) is closed
 * like a real carrier does once it is sent.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "platform_host.h"
#include "vdev_models.h"
#include "vhost_user.h"
#include "vhost_user_front.h"
#include "virtio_platform.h"
#include "vu_fixture.h"

#define ARENA_GPA 0x100000ull
#define ARENA_UA 0x7f0000100000ull
#define ARENA_SIZE 65536u
#define DISK_SIZE 16384u

static uint8_t arena[ARENA_SIZE] __attribute__((aligned(4096)));
static uint8_t disk[DISK_SIZE];
static struct vu_fake carrier; /* the fds, the device state */

static void carrier_broken(const char *what, int fd)
{
    (void)what, (void)fd;
    abort(); /* e.g. an fd closed twice, or never ours */
}

#define SHM_FUZZ_BYTES 8192u /* of the carrier's shm buffer the fuzzer uses */

static void send_msg(struct vu_backend *b, const uint8_t *m, size_t len, unsigned nfds, bool shm)
{
    static struct vu_reply r;
    int fds[3];
    unsigned i, n = 0;

    for (i = 0; i < nfds; i++) {
        int fd = shm ? vufx_shm_fd_new(&carrier) : vufx_fd_new(&carrier);

        if (fd > 0)
            fds[n++] = fd;
    }
    (void)vu_handle_msg(b, m, len, fds, n, &r);
    if (r.len > sizeof(r.buf) || (r.fd >= 0 && !r.len))
        abort();
    if (r.fd >= 0) { /* "sent": the carrier closes it */
        vufx_ops_shm.close_fd(&carrier, r.fd);
        carrier.shm_size = SHM_FUZZ_BYTES; /* keep later SETs reaching the map */
    }
}

static void preamble(struct vu_backend *b, bool packed, bool log)
{
    uint8_t m[VU_MAX_MSG];
    struct vuf_region rg = {.gpa = ARENA_GPA, .size = ARENA_SIZE, .uaddr = ARENA_UA};
    uint64_t pf = (1ull << VU_PF_MQ) | (1ull << VU_PF_REPLY_ACK) | (1ull << VU_PF_CONFIG) |
                  (1ull << VU_PF_RESET_DEVICE) | (1ull << VU_PF_DEVICE_STATE) |
                  (1ull << VU_PF_CONFIGURE_MEM_SLOTS) | (1ull << VU_PF_BACKEND_REQ) |
                  (1ull << VU_PF_INFLIGHT_SHMFD);
    uint64_t f = (1ull << VU_F_PROTOCOL_FEATURES) | (1ull << VIRTIO_F_VERSION_1) |
                 (1ull << VIRTIO_F_EVENT_IDX) | (1ull << VIRTIO_F_INDIRECT_DESC) |
                 (packed ? 1ull << VIRTIO_F_RING_PACKED : 0) | (log ? 1ull << VU_F_LOG_ALL : 0);

    if (log)
        pf |= 1ull << VU_PF_LOG_SHMFD;

    send_msg(b, m, vuf_u64(m, VU_SET_PROTOCOL_FEATURES, 0, pf), 0, false);
    send_msg(b, m, vuf_none(m, VU_SET_OWNER, 0), 0, false);
    send_msg(b, m, vuf_u64(m, VU_SET_FEATURES, 0, f), 0, false);
    send_msg(b, m, vuf_mem_table(m, 0, &rg, 1), 1, false);
    if (log) {
        /* Log description: size (covers [0, ARENA_GPA + ARENA_SIZE)), offset. */
        snap_put64(m + VU_HDR_BYTES, (ARENA_GPA + ARENA_SIZE) / 4096 / 8);
        snap_put64(m + VU_HDR_BYTES + 8, 4096);
        send_msg(b, m, vuf_hdr(m, VU_SET_LOG_BASE, 0, VU_LOG_BYTES), 1, true);
    }
}

/* A slice of the arena as one region: sel picks which of 16 slices and
 * where its guest / user addresses go (some overlap the preamble's). */
static void mem_slot_msg(struct vu_backend *b, uint8_t sel, bool rem)
{
    uint8_t m[VU_MAX_MSG];
    uint64_t slice = ARENA_SIZE / 16, i = sel & 15;
    struct vuf_region rg = {.gpa = (sel & 16 ? ARENA_GPA : 0x10000000ull) + i * slice,
                            .size = sel & 32 ? slice : slice * 2,
                            .uaddr = (sel & 64 ? ARENA_UA : 0x7f0010000000ull) + i * slice,
                            .mmap_offset = i * slice};

    send_msg(b, m, vuf_mem_reg(m, rem ? VU_REM_MEM_REG : VU_ADD_MEM_REG, VU_FLAG_NEED_REPLY, &rg),
             rem ? (sel >> 7) : 1, false);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static bool quiet;
    struct vu_backend *b;
    struct vdev dev;
    size_t pos = 1;

    if (!quiet) {
        host_log_level_set(-1);
        quiet = true;
    }
    if (size < 1)
        return 0;
    memset(arena, 0, sizeof(arena));
    vufx_init(&carrier, arena, ARENA_SIZE, 1, carrier_broken);
    memset(carrier.shm, 0, SHM_FUZZ_BYTES);
    carrier.shm_size = SHM_FUZZ_BYTES;
    if (vu_create(&vufx_ops_shm, &carrier, &b))
        abort();
    if (vdev_blk_create(&dev, vu_guest_mem(b), disk, DISK_SIZE, NULL))
        abort();
    vdev_set_offer_packed(&dev, true);
    if (vu_attach(b, &dev))
        abort();
    if (data[0] & 1)
        preamble(b, data[0] & 2, data[0] & 4);
    while (pos < size) {
        uint8_t ctl = data[pos++];
        uint32_t psize;
        size_t len;

        if ((ctl & 16) && pos + 17 <= size) {
            if (ctl & 128) /* the shared memory: an inflight region's contents */
                memcpy(carrier.shm + (size_t)data[pos] * 32 % (SHM_FUZZ_BYTES - 16), data + pos + 1,
                       16);
            else
                memcpy(arena + (size_t)data[pos] * 64 % (ARENA_SIZE - 16), data + pos + 1, 16);
            pos += 17;
        }
        if ((ctl & 32) && pos < size)
            mem_slot_msg(b, data[pos++], ctl & 64);
        len = size - pos;
        if (len >= VU_HDR_BYTES) {
            psize = (uint32_t)data[pos + 8] | (uint32_t)data[pos + 9] << 8 |
                    (uint32_t)data[pos + 10] << 16 | (uint32_t)data[pos + 11] << 24;
            if (psize <= VU_MAX_PAYLOAD && VU_HDR_BYTES + psize < len)
                len = VU_HDR_BYTES + psize;
        }
        if (len > VU_MAX_MSG)
            len = VU_MAX_MSG;
        send_msg(b, data + pos, len, ctl & 3, ctl & 128);
        pos += len;
        if (ctl & 4)
            (void)vu_kick(b, 0);
        if (ctl & 8)
            (void)vu_poll(b);
    }
    vu_destroy(b);
    vdev_destroy(&dev);
    if (vufx_first_open(&carrier) >= 0)
        abort(); /* leaked */
    return 0;
}
