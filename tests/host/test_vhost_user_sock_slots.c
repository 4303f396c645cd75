/* SPDX-License-Identifier: Apache-2.0 */
/*
 * test_vhost_user_sock_slots.c - the daemon over its socket (the frontend
 * of vu_sock_fixture.c), for what issue 13 added: memory slots
 * (ADD/REM_MEM_REG, a region past its memfd's end refused by the daemon's
 * map), resize by SIGHUP with CONFIG_CHANGE_MSG on the back-end channel,
 * and both rings busy on their own threads while the memory table and a
 * call fd change under them. Split from test_vhost_user_sock.c by size.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <spawn.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "platform_host.h"
#include "vhost_user.h"
#include "vhost_user_front.h"
#include "virtio_config.h"
#include "virtio_platform.h"
#include "virtqueue.h"

#include "vu_sock_fixture.h"

/* ADD_MEM_REG / REM_MEM_REG against the daemon while ring 0 runs: a
 * region past the end of its memfd is refused by the daemon's map (it
 * would SIGBUS on first touch), a good one is added and removed, a region
 * not there is refused; I/O goes on throughout. */
static void test_mem_reg_over_socket(void **state)
{
    struct sfx *s = *state;
    uint64_t gpa;
    struct req *r = virt_dma_alloc(sizeof(*r), &gpa);
    struct vuf_region rg = {.gpa = GPA_BASE + MEM_BYTES + (1u << 20), .size = 128u << 10,
                            .uaddr = 0x7e0000000000ull, .mmap_offset = 0};
    int m2 = memfd_create("vu_dimm", MFD_CLOEXEC);

    assert_non_null(r);
    assert_true(m2 >= 0);
    assert_int_equal(ftruncate(m2, 64u << 10), 0);
    start_device(s);
    assert_int_equal(get_u64(s, VU_GET_MAX_MEM_SLOTS), VU_MAX_MEM_SLOTS);
    assert_int_not_equal(acked(s, vuf_mem_reg(s->msg, VU_ADD_MEM_REG, 0, &rg), &m2, 1), 0);
    assert_int_equal(one_req(s, r, VIRTIO_BLK_T_OUT, 3, false), VIRTIO_BLK_S_OK);
    rg.size = 64u << 10;
    assert_int_equal(acked(s, vuf_mem_reg(s->msg, VU_ADD_MEM_REG, 0, &rg), &m2, 1), 0);
    assert_int_equal(one_req(s, r, VIRTIO_BLK_T_IN, 3, true), VIRTIO_BLK_S_OK);
    assert_int_equal(acked(s, vuf_mem_reg(s->msg, VU_REM_MEM_REG, 0, &rg), NULL, 0), 0);
    assert_int_not_equal(acked(s, vuf_mem_reg(s->msg, VU_REM_MEM_REG, 0, &rg), NULL, 0), 0);
    assert_int_equal(one_req(s, r, VIRTIO_BLK_T_OUT, 4, false), VIRTIO_BLK_S_OK);
    close(m2);
}

/* The disk file grows and the daemon gets SIGHUP: CONFIG_CHANGE_MSG on
 * the back-end channel (a socketpair we gave it with SET_BACKEND_REQ_FD),
 * then GET_CONFIG says the new capacity. */
static void test_resize_sighup_over_socket(void **state)
{
    struct sfx *s = *state;
    uint8_t m[VU_HDR_BYTES];
    int sv[2], fd;

    assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
    start_device(s);
    assert_int_equal(acked(s, vuf_none(s->msg, VU_SET_BACKEND_REQ_FD, 0), &sv[1], 1), 0);
    close(sv[1]);
    fd = open(s->disk, O_WRONLY);
    assert_true(fd >= 0);
    assert_int_equal(ftruncate(fd, 2 * DISK_BYTES), 0);
    close(fd);
    kill(s->pid, SIGHUP);
    assert_int_equal(recv(sv[0], m, sizeof(m), MSG_WAITALL), (ssize_t)sizeof(m));
    assert_int_equal(snap_get32(m), VU_BACKEND_CONFIG_CHANGE_MSG);
    assert_int_equal(snap_get32(m + 4), VU_FLAG_VERSION); /* no NEED_REPLY */
    assert_int_equal(snap_get32(m + 8), 0);
    assert_int_equal(xfer(s, vuf_config(s->msg, VU_GET_CONFIG, 0, 0, 8, NULL), NULL, 0, true), 0);
    assert_int_equal(snap_get64(s->reply + VU_HDR_BYTES + VU_CONFIG_HDR_BYTES),
                     2 * DISK_BYTES / 512);
    close(sv[0]);
}

/* ---- both rings busy while the memory table and call fds change ---- */

struct hammer {
    struct virtqueue *vq;
    int call;
    struct req *r; /* HAMMER_NREQ of them */
    uint64_t first_sector;
    unsigned rounds;
    unsigned failures; /* requests not OK, data not read back, waits timed out */
};

#define HAMMER_NREQ 8

/* One thread per ring, no cmocka calls (not thread-safe): write a round's
 * pattern, read it back, compare; count what went wrong. */
static void *hammer_main(void *arg)
{
    struct hammer *h = arg;
    unsigned round, i;

    for (round = 0; round < h->rounds; round++) {
        for (int pass = 0; pass < 2; pass++) {
            uint32_t type = pass ? VIRTIO_BLK_T_IN : VIRTIO_BLK_T_OUT;
            unsigned done = 0;

            for (i = 0; i < HAMMER_NREQ; i++) {
                struct req *r = &h->r[i];
                struct vq_sg sg[3] = {{.buf = r->hdr, .len = 16},
                                      {.buf = r->data, .len = REQ_BYTES},
                                      {.buf = &r->status, .len = 1}};

                snap_put32(r->hdr, type);
                snap_put32(r->hdr + 4, 0);
                snap_put64(r->hdr + 8, h->first_sector + (uint64_t)i * (REQ_BYTES / 512));
                memset(r->data, pass ? 0 : (uint8_t)(round * 16 + i), REQ_BYTES);
                r->status = 0xee;
                if (vq_add_sgs(h->vq, sg, pass ? 1 : 2, pass ? 2 : 1, r))
                    h->failures++;
            }
            vq_kick(h->vq);
            while (done < HAMMER_NREQ) {
                struct pollfd pf = {.fd = h->call, .events = POLLIN};
                uint64_t v;
                void *tok;
                uint32_t len;

                while (vq_get_buf(h->vq, &tok, &len) == 0) {
                    struct req *r = tok;

                    if (r->status != VIRTIO_BLK_S_OK ||
                        (pass && r->data[REQ_BYTES - 1] != (uint8_t)(round * 16 + (r - h->r))))
                        h->failures++;
                    done++;
                }
                if (done == HAMMER_NREQ)
                    break;
                if (poll(&pf, 1, 5000) != 1) {
                    h->failures++; /* a completion never signalled */
                    return NULL;
                }
                (void)!read(h->call, &v, 8);
            }
        }
    }
    return NULL;
}

/* Both rings busy on their own threads while this thread adds and
 * removes a memory region and re-sends ring 0's call fd, over and over:
 * every request completes OK, its data reads back, no completion goes
 * unsignalled (the daemon quiesces its ring workers across each table
 * change and swaps call fds under the register-file lock). */
static void test_rings_busy_while_memory_changes(void **state)
{
    struct sfx *s = *state;
    uint64_t gpa;
    struct req *r = virt_dma_alloc(2 * HAMMER_NREQ * sizeof(*r), &gpa);
    struct vuf_region rg = {.gpa = GPA_BASE + MEM_BYTES + (1u << 20), .size = 64u << 10,
                            .uaddr = 0x7e0000000000ull, .mmap_offset = 0};
    struct hammer h[2];
    pthread_t th[2];
    int m2 = memfd_create("vu_dimm", MFD_CLOEXEC);
    unsigned i, changes = 0;

    assert_non_null(r);
    assert_true(m2 >= 0);
    assert_int_equal(ftruncate(m2, 64u << 10), 0);
    start_two_rings(s);
    for (i = 0; i < 2; i++) {
        h[i] = (struct hammer){.vq = i ? s->vq1 : s->vq, .call = i ? s->call1 : s->call,
                               .r = r + i * HAMMER_NREQ, .first_sector = i * 1024u, .rounds = 40};
        assert_int_equal(pthread_create(&th[i], NULL, hammer_main, &h[i]), 0);
    }
    for (i = 0; i < 60; i++) {
        assert_int_equal(acked(s, vuf_mem_reg(s->msg, VU_ADD_MEM_REG, 0, &rg), &m2, 1), 0);
        assert_int_equal(acked(s, vuf_u64(s->msg, VU_SET_VRING_CALL, 0, 0), &s->call, 1), 0);
        assert_int_equal(acked(s, vuf_mem_reg(s->msg, VU_REM_MEM_REG, 0, &rg), NULL, 0), 0);
        changes += 2;
    }
    for (i = 0; i < 2; i++) {
        assert_int_equal(pthread_join(th[i], NULL), 0);
        assert_int_equal(h[i].failures, 0);
    }
    assert_int_equal(changes, 120);
    assert_int_equal(log_count(s, "memory region 1 added"), 60);
    close(m2);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_mem_reg_over_socket, setup, teardown),
        cmocka_unit_test_setup_teardown(test_resize_sighup_over_socket, setup, teardown),
        cmocka_unit_test_setup_teardown(test_rings_busy_while_memory_changes, setup_two_queues,
                                        teardown),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
