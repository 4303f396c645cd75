/* SPDX-License-Identifier: Apache-2.0 */
/*
 * test_vhost_user_sock.c - the vhost-user-blk daemon
 * (build/host/ringloop-vhost-user-blk) over its real Unix socket, with a
 * tiny frontend written here: guest memory is a memfd (passed with
 * SCM_RIGHTS, as QEMU's memory-backend-memfd,share=on would), kicks and
 * calls are eventfds, the driver side is the real driver virtqueue
 * (drivers/virtio/virtqueue.c) allocating its rings in that memfd. Checks:
 * negotiation and config, writes land in the disk file (read back with
 * pread), reads return them, FLUSH, GET_VRING_BASE, device state through a
 * pipe, a protocol error closes the connection and a new one is served,
 * SIGTERM ends the daemon cleanly, a corrupt ring is told on its err fd.
 * The frontend is vu_sock_fixture.c (shared with
 * test_vhost_user_sock_slots.c).
 *
 * The daemon path comes from VU_DAEMON (default
 * build/host/ringloop-vhost-user-blk); temp files are /tmp/vu_sock_<pid>.*.
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

static void test_blk_through_socket(void **state)
{
    struct sfx *s = *state;
    uint64_t gpa;
    struct req *r = virt_dma_alloc(NREQ * sizeof(*r), &gpa);
    uint8_t buf[REQ_BYTES];
    unsigned i;
    int fd, p[2];
    uint8_t snap[4096];
    ssize_t n;

    assert_non_null(r);
    start_device(s);
    for (i = 0; i < NREQ; i++)
        memset(r[i].data, 0x10 + i, REQ_BYTES);
    run_batch(s, r, NREQ, VIRTIO_BLK_T_OUT);
    run_batch(s, r, 1, VIRTIO_BLK_T_FLUSH);
    /* The disk file holds the data. */
    fd = open(s->disk, O_RDONLY);
    for (i = 0; i < NREQ; i++) {
        assert_int_equal(pread(fd, buf, REQ_BYTES, (off_t)i * REQ_BYTES), REQ_BYTES);
        assert_int_equal(buf[0], 0x10 + i);
        assert_int_equal(buf[REQ_BYTES - 1], 0x10 + i);
    }
    close(fd);
    for (i = 0; i < NREQ; i++)
        memset(r[i].data, 0, REQ_BYTES);
    run_batch(s, r, NREQ, VIRTIO_BLK_T_IN);
    for (i = 0; i < NREQ; i++)
        assert_int_equal(r[i].data[100], 0x10 + i);
    /* Stop: the base is every request made. */
    assert_int_equal(xfer(s, vuf_state(s->msg, VU_GET_VRING_BASE, 0, 0, 0), NULL, 0, true), 0);
    assert_int_equal(snap_get32(s->reply + VU_HDR_BYTES + 4), 2 * NREQ + 1);
    /* Device state through a pipe. */
    assert_int_equal(pipe(p), 0);
    assert_int_equal(xfer(s, vuf_device_state(s->msg, 0, VU_STATE_SAVE), &p[1], 1, true), 0);
    close(p[1]);
    assert_int_equal(reply_u64(s), VU_VRING_NOFD);
    n = read(p[0], snap, sizeof(snap));
    close(p[0]);
    assert_true(n > 24);
    assert_memory_equal(snap, "RLSNAP\r\n", 8);
    assert_int_equal(get_u64(s, VU_CHECK_DEVICE_STATE), 0);
}

static void test_protocol_error_closes_then_reconnect(void **state)
{
    struct sfx *s = *state;
    uint8_t b;

    /* Unknown request, no REPLY_ACK: the daemon hangs up... */
    assert_int_equal(xfer(s, vuf_none(s->msg, 63, 0), NULL, 0, false), 0);
    assert_int_equal(recv(s->conn, &b, 1, 0), 0);
    close(s->conn);
    /* ... and serves the next frontend from scratch. */
    s->conn = connect_sock(s);
    start_device(s);
    assert_int_equal(acked(s, vuf_state(s->msg, VU_SET_VRING_NUM, 0, 3, 64), NULL, 0), ERANGE);
}

static void test_broken_ring_err_fd_over_socket(void **state)
{
    struct sfx *s = *state;
    uint64_t gpa, d, a, u, v;
    struct req *r = virt_dma_alloc(8 * sizeof(*r), &gpa);
    uint8_t *avail_idx, saved[2];

    assert_non_null(r);
    start_two_rings(s);
    run_batch_on(s->vq, s->call, r, 4, VIRTIO_BLK_T_OUT);
    run_batch_on(s->vq1, s->call1, r + 4, 4, VIRTIO_BLK_T_IN);
    /* Ring 0's avail->idx jumps more than the ring size ahead. */
    vq_get_ring_addrs(s->vq, &d, &a, &u);
    avail_idx = s->mem + (a - GPA_BASE) + 2;
    memcpy(saved, avail_idx, 2);
    snap_put16(avail_idx, (uint16_t)(snap_get16(saved) + QNUM + 1));
    kick_fd(s->kick);
    assert_true(is_readable(s->err[0], 5000)); /* the frontend is told */
    assert_int_equal(read(s->err[0], &v, 8), 8);
    assert_false(is_readable(s->err[1], 0));
    /* Ring 1 and the connection are still served; more kicks of the
     * broken ring tell nothing new. */
    kick_fd(s->kick);
    run_batch_on(s->vq1, s->call1, r + 4, 4, VIRTIO_BLK_T_IN);
    assert_int_equal(get_u64(s, VU_GET_QUEUE_NUM), 2);
    assert_false(is_readable(s->err[0], 100));
    /* One line, naming the ring and the reason, and no other about it. */
    assert_int_equal(log_count(s, "ring 0 broken: avail idx more than the queue size ahead"), 1);
    assert_int_equal(log_count(s, "broken"), 1);
    assert_int_equal(log_count(s, "DEVICE_NEEDS_RESET"), 0);
    /* Repaired and restarted (GET_VRING_BASE, SET_VRING_BASE/ADDR/KICK):
     * ring 0 serves again, and ring 1 still does. */
    memcpy(avail_idx, saved, 2);
    assert_int_equal(ring_restart(s, 0, s->vq, s->kick, s->call), 4);
    run_batch_on(s->vq, s->call, r, 4, VIRTIO_BLK_T_IN);
    run_batch_on(s->vq1, s->call1, r + 4, 4, VIRTIO_BLK_T_OUT);
    assert_false(is_readable(s->err[0], 0));
    assert_int_equal(log_count(s, "ring 0 broken"), 1);
}

/* virtio 1.2 5.2.6 through the daemon: a read whose data is
 * device-readable, a write whose data is device-writable: IOERR, the disk
 * file and the buffers untouched. */
static void test_wrong_direction_over_socket(void **state)
{
    struct sfx *s = *state;
    uint64_t gpa;
    struct req *r = virt_dma_alloc(sizeof(*r), &gpa);
    uint8_t buf[REQ_BYTES];
    unsigned i;
    int fd;

    assert_non_null(r);
    start_device(s);
    memset(r->data, 0xab, REQ_BYTES);
    assert_int_equal(one_req(s, r, VIRTIO_BLK_T_OUT, 0, true), VIRTIO_BLK_S_IOERR);
    assert_int_equal(one_req(s, r, VIRTIO_BLK_T_IN, 0, false), VIRTIO_BLK_S_IOERR);
    for (i = 0; i < REQ_BYTES; i++)
        assert_int_equal(r->data[i], 0xab);
    fd = open(s->disk, O_RDONLY);
    assert_int_equal(pread(fd, buf, REQ_BYTES, 0), REQ_BYTES);
    close(fd);
    for (i = 0; i < REQ_BYTES; i++)
        assert_int_equal(buf[i], 0); /* the file is still all zeros */
    /* The right way round, the same buffer works. */
    assert_int_equal(one_req(s, r, VIRTIO_BLK_T_OUT, 0, false), VIRTIO_BLK_S_OK);
    memset(r->data, 0, REQ_BYTES);
    assert_int_equal(one_req(s, r, VIRTIO_BLK_T_IN, 0, true), VIRTIO_BLK_S_OK);
    assert_int_equal(r->data[REQ_BYTES - 1], 0xab);
}

static void test_sigterm_clean_exit(void **state)
{
    struct sfx *s = *state;
    int status;

    kill(s->pid, SIGTERM);
    assert_int_equal(waitpid(s->pid, &status, 0), s->pid);
    s->pid = 0;
    assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    assert_int_not_equal(access(s->sock, F_OK), 0); /* socket removed */
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_blk_through_socket, setup, teardown),
        cmocka_unit_test_setup_teardown(test_protocol_error_closes_then_reconnect, setup, teardown),
        cmocka_unit_test_setup_teardown(test_sigterm_clean_exit, setup, teardown),
        cmocka_unit_test_setup_teardown(test_wrong_direction_over_socket, setup, teardown),
        cmocka_unit_test_setup_teardown(test_broken_ring_err_fd_over_socket, setup_two_queues,
                                        teardown),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
