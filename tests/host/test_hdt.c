/* SPDX-License-Identifier: Apache-2.0 */
/*
 * test_hdt.c - the hostile-driver catalogue (drivers/virtio/hdt*.c) against
 * our blk model behind the register file and the loopback transport, with
 * its device thread (lb_env.c), under ASan+UBSan: every case ends in PASS,
 * REJECT or NEEDS_RESET (a WEDGED or FAIL of our model is a bug), the
 * controls and "edge" cases are served with status OK, the same seed gives
 * the same verdicts, and the device is usable by the real driver after.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include <unistd.h>

#include "hdt.h"
#include "hdt_internal.h"
#include "lb_env.h"
#include "vdev_models.h"
#include "virtio_blk.h"

static void blk_attach(void)
{
    env.disk = calloc(DISK_SECTORS, VIRTIO_BLK_SECTOR_SIZE);
    assert_non_null(env.disk);
    assert_int_equal(vdev_blk_create(&env.lb.vd, &env.mem, env.disk,
                                     (uint64_t)DISK_SECTORS * VIRTIO_BLK_SECTOR_SIZE, "hdt"),
                     0);
    lb_attach("lblk0");
}

static bool starts_with(const char *s, const char *p)
{
    return strncmp(s, p, strlen(p)) == 0;
}

static void test_catalogue(void **state)
{
    unsigned i, j;

    (void)state;
    assert_true(hdt_count() >= 40);
    for (i = 0; i < hdt_count(); i++) {
        const struct hdt_case *k = hdt_case_at(i);

        assert_non_null(k->run);
        assert_true(strlen(k->desc) > 0 && strlen(k->clause) > 0);
        assert_ptr_equal(hdt_find(k->id), k);
        for (j = 0; j < i; j++)
            assert_string_not_equal(hdt_case_at(j)->id, k->id);
    }
    assert_null(hdt_find("split.no_such_case"));
    assert_null(hdt_case_at(hdt_count()));
}

static void run_all(uint64_t seed, struct hdt_result *res)
{
    unsigned i;

    for (i = 0; i < hdt_count(); i++)
        assert_int_equal(hdt_run_case(env.lb.dev, hdt_case_at(i), seed, &res[i]), 0);
    hdt_finish(env.lb.dev);
}

static void test_ours_all(void **state)
{
    struct hdt_result *res = calloc(hdt_count(), sizeof(*res));
    struct virtio_blk *blk = NULL;
    uint8_t *buf = dma_buf(512);
    unsigned i;

    (void)state;
    assert_non_null(res);
    blk_attach();
    run_all(1, res);
    for (i = 0; i < hdt_count(); i++) {
        const struct hdt_case *k = hdt_case_at(i);
        enum hdt_verdict v = res[i].verdict;

        if (getenv("HDT_VERBOSE"))
            print_message("%s %s %s\n", k->id, hdt_verdict_name(v), res[i].detail);
        /* PCI-only register cases cannot be expressed on the loopback. */
        if (v == HDT_SKIP && strstr(res[i].detail, "not a virtio-pci transport"))
            continue;
        if (v == HDT_SKIP && (k->flags & HDT_WANT_PACKED))
            continue; /* this mode's model does not offer the packed ring */
        /* Other device types' cases (test_hdt_dev.c) do not run on blk. */
        if (k->device_id && k->device_id != VIRTIO_ID_BLOCK) {
            assert_int_equal(v, HDT_SKIP);
            continue;
        }
        if (v != HDT_PASS && v != HDT_REJECT && v != HDT_NEEDS_RESET)
            fail_msg("%s %s %s", k->id, hdt_verdict_name(v), res[i].detail);
        if (starts_with(k->id, "ctl.") || starts_with(k->id, "edge.")) {
            if (v != HDT_PASS || !strstr(res[i].detail, "status 0"))
                fail_msg("%s %s %s", k->id, hdt_verdict_name(v), res[i].detail);
        }
        if (v == HDT_NEEDS_RESET)
            assert_true(res[i].recovered);
    }
    /* What the model does with an impossible avail entry (vdq.c). */
    assert_int_equal(res[hdt_index("split.desc_index_oob")].verdict,
                     HDT_NEEDS_RESET);
    /* The real driver takes the device over afterwards. */
    assert_int_equal(virtio_blk_probe(env.lb.dev, &blk), 0);
    assert_int_equal(virtio_blk_read(blk, 0, buf, 1), 0);
    virtio_blk_remove(blk);
    free(res);
}

static void test_seed_reproducible(void **state)
{
    struct hdt_result *a = calloc(hdt_count(), sizeof(*a));
    struct hdt_result *b = calloc(hdt_count(), sizeof(*b));
    unsigned i;

    (void)state;
    assert_non_null(a);
    assert_non_null(b);
    blk_attach();
    run_all(7, a);
    run_all(7, b);
    for (i = 0; i < hdt_count(); i++) {
        if (a[i].verdict != b[i].verdict)
            fail_msg("%s: %s %s / %s %s", hdt_case_at(i)->id, hdt_verdict_name(a[i].verdict),
                     a[i].detail, hdt_verdict_name(b[i].verdict), b[i].detail);
        assert_string_equal(a[i].detail, b[i].detail);
    }
    free(a);
    free(b);
}

/* The packed class (hdt_cases_packed.c) against the model offering
 * VIRTIO_F_RING_PACKED (hostsim/vdq_packed.c): the same rules, nothing
 * skipped, and what the validated walk does with the impossible rings. */
static void test_ours_packed(void **state)
{
    struct hdt_result *res = calloc(hdt_count(), sizeof(*res));
    struct virtio_blk *blk = NULL;
    uint8_t *buf = dma_buf(512);
    unsigned i, npacked = 0;

    (void)state;
    assert_non_null(res);
    blk_attach();
    /* Only the packed class: this mode's device must never see a split
     * queue (lb_env's teardown checks it). */
    for (i = 0; i < hdt_count(); i++) {
        if (hdt_case_at(i)->flags & HDT_WANT_PACKED)
            assert_int_equal(hdt_run_case(env.lb.dev, hdt_case_at(i), 1, &res[i]), 0);
    }
    hdt_finish(env.lb.dev);
    for (i = 0; i < hdt_count(); i++) {
        const struct hdt_case *k = hdt_case_at(i);
        enum hdt_verdict v = res[i].verdict;

        if (!(k->flags & HDT_WANT_PACKED))
            continue;
        npacked++;
        if (getenv("HDT_VERBOSE"))
            printf("%s %s %s\n", k->id, hdt_verdict_name(v), res[i].detail);
        if (v != HDT_PASS && v != HDT_REJECT && v != HDT_NEEDS_RESET)
            fail_msg("%s %s %s", k->id, hdt_verdict_name(v), res[i].detail);
        if (starts_with(k->id, "ctl.") || starts_with(k->id, "edge.")) {
            if (v != HDT_PASS || !strstr(res[i].detail, "status 0"))
                fail_msg("%s %s %s", k->id, hdt_verdict_name(v), res[i].detail);
        }
        if (v == HDT_NEEDS_RESET && !res[i].recovered)
            fail_msg("%s %s %s", k->id, hdt_verdict_name(v), res[i].detail);
    }
    assert_true(npacked >= 25);
    /* vdq_packed.c: an id out of range or a list that never ends breaks
     * the queue; a descriptor that is not available is left alone; a bad
     * element is returned unprocessed. */
    assert_int_equal(res[hdt_index("packed.id_oob")].verdict, HDT_NEEDS_RESET);
    assert_int_equal(res[hdt_index("packed.chain_longer_than_queue")].verdict, HDT_NEEDS_RESET);
    assert_int_equal(res[hdt_index("packed.last_has_next")].verdict, HDT_NEEDS_RESET);
    assert_int_equal(res[hdt_index("packed.not_avail_both_set")].verdict, HDT_REJECT);
    assert_int_equal(res[hdt_index("packed.wrong_wrap_polarity")].verdict, HDT_REJECT);
    assert_int_equal(res[hdt_index("packed.stale_wrap_polarity")].verdict, HDT_REJECT);
    assert_int_equal(res[hdt_index("packed.rewind")].verdict, HDT_REJECT);
    assert_string_equal(res[hdt_index("packed.indirect_nested")].detail,
                        "returned unprocessed (len 0)");
    assert_true(strstr(res[hdt_index("packed.blk_bad_type")].detail, "served status 2") != NULL);
    assert_int_equal(virtio_blk_probe(env.lb.dev, &blk), 0);
    assert_int_equal(virtio_blk_read(blk, 0, buf, 1), 0);
    virtio_blk_remove(blk);
    free(res);
}

/* The packed oracle is no rubber stamp: the same well-formed read, with
 * the engine told a lie about it, gives FAIL for the reason it should. */
/* Kick and give the device (slow under ASan on a loaded box) 2 s to use
 * the list, so that the engine's own 300 ms wait finds it used. */
static int settle(struct hdt_ctx *c)
{
    hdt_kick(c);
    (void)hdt_wait_used(c, (uint16_t)(c->used_seen + 1), 2000000000ull);
    return 0;
}

static int lie_status_readable(struct hdt_ctx *c)
{
    struct hdt_pseg s[3];
    unsigned n = hdt_pblk_req(c, s, VIRTIO_BLK_T_IN, 0, 512, VIRTQ_DESC_F_WRITE);

    c->nwr--; /* the status byte is not declared writable: the model writes it */
    (void)hdt_buf(c, 16, true, NULL); /* elsewhere: the used len stays plausible */
    c->status_mask = 0;
    (void)hdt_ppost(c, s, n, 0, 0);
    return settle(c);
}

static int lie_id(struct hdt_ctx *c)
{
    struct hdt_pseg s[3];
    unsigned n = hdt_pblk_req(c, s, VIRTIO_BLK_T_IN, 0, 512, VIRTQ_DESC_F_WRITE);

    /* The descriptors carry id 3, the engine records id 4. */
    s[0].id = s[1].id = s[2].id = 3;
    (void)hdt_ppost(c, s, n, 4, HDT_PP_SEG_IDS);
    return settle(c);
}

static int lie_len(struct hdt_ctx *c)
{
    struct hdt_pseg s[3];
    unsigned n = hdt_pblk_req(c, s, VIRTIO_BLK_T_IN, 0, 512, VIRTQ_DESC_F_WRITE);

    c->wr[0].len = 100; /* 512 written into "100" writable bytes */
    c->status_mask = 0;
    (void)hdt_ppost(c, s, n, 0, 0);
    return settle(c);
}

static void test_packed_oracle_fails(void **state)
{
    static const struct hdt_case lies[] = {
        {"t.status_readable", "-", "-", VIRTIO_ID_BLOCK, HDT_WANT_PACKED, lie_status_readable},
        {"t.id", "-", "-", VIRTIO_ID_BLOCK, HDT_WANT_PACKED, lie_id},
        {"t.len", "-", "-", VIRTIO_ID_BLOCK, HDT_WANT_PACKED, lie_len},
    };
    static const char *const why[] = {"outside writable buffers", "used id 3 was never made available",
                                      "used len 513 > writable bytes"};
    struct hdt_result r;
    unsigned i;

    (void)state;
    blk_attach();
    for (i = 0; i < 3; i++) {
        assert_int_equal(hdt_run_case(env.lb.dev, &lies[i], 1, &r), 0);
        if (r.verdict != HDT_FAIL || !strstr(r.detail, why[i]) || !r.recovered)
            fail_msg("%s %s %s", lies[i].id, hdt_verdict_name(r.verdict), r.detail);
    }
    /* ... and the truth passes on the same device. */
    assert_int_equal(hdt_run_case(env.lb.dev, hdt_find("ctl.packed_read"), 1, &r), 0);
    assert_int_equal(r.verdict, HDT_PASS);
    hdt_finish(env.lb.dev);
}

/* ---- the transport/state classes and the interrupt oracle ---- */

static void test_raw_regs(void **state)
{
    const struct virtio_transport_ops *ops;
    uint32_t v = 0;

    (void)state;
    blk_attach();
    ops = env.lb.dev->ops;
    assert_non_null(ops->reg_read);
    assert_int_equal(ops->reg_read(env.lb.dev, VIRTIO_REGS_MMIO, 0, 4, &v), 0);
    assert_int_equal(v, 0x74726976u); /* "virt" */
    assert_int_equal(ops->reg_read(env.lb.dev, VIRTIO_REGS_MMIO, 0x8, 4, &v), 0);
    assert_int_equal(v, VIRTIO_ID_BLOCK);
    /* Outside the window, a bad size, a space MMIO does not have. */
    assert_int_equal(ops->reg_read(env.lb.dev, VIRTIO_REGS_MMIO, 0x1fe, 4, &v), -EINVAL);
    assert_int_equal(ops->reg_read(env.lb.dev, VIRTIO_REGS_MMIO, 0, 8, &v), -EINVAL);
    assert_int_equal(ops->reg_write(env.lb.dev, VIRTIO_REGS_PCI_COMMON, 0, 4, 0), -ENOTSUP);
    /* A narrow read reaches the register file, which refuses it (0). */
    assert_int_equal(ops->reg_read(env.lb.dev, VIRTIO_REGS_MMIO, 0, 1, &v), 0);
    assert_int_equal(v, 0);
}

/* A case of the test's own, run by the engine like any other: it makes the
 * device side raise an interrupt nobody caused (the InterruptStatus bit
 * set behind the register file's back and the line raised). */
static uint32_t inject_bits;

static int inject_irq(struct hdt_ctx *c)
{
    uint64_t q0 = c->dev->queue_interrupts[0], cfg = c->dev->config_interrupts;
    int i;

    __atomic_fetch_or(&env.lb.vd.interrupt_status, inject_bits, __ATOMIC_SEQ_CST);
    __atomic_store_n(&env.lb.irq_pending, 1, __ATOMIC_RELEASE);
    for (i = 0; i < 2000; i++) {
        if (__atomic_load_n(&c->dev->queue_interrupts[0], __ATOMIC_ACQUIRE) != q0 ||
            __atomic_load_n(&c->dev->config_interrupts, __ATOMIC_ACQUIRE) != cfg)
            break;
        usleep(1000);
    }
    c->need_consume = false;
    return 0;
}

static const struct hdt_case inject_case = {"test.inject_irq", "spurious interrupt", "-", 0, 0,
                                            inject_irq};

static void test_irq_oracle(void **state)
{
    struct hdt_result r;

    (void)state;
    blk_attach();
    /* Without an injection the case passes: the oracle is not trigger-happy. */
    inject_bits = 0;
    assert_int_equal(hdt_run_case(env.lb.dev, &inject_case, 1, &r), 0);
    assert_int_equal(r.verdict, HDT_PASS);
    inject_bits = VIRTIO_INT_USED_BUFFER;
    assert_int_equal(hdt_run_case(env.lb.dev, &inject_case, 1, &r), 0);
    if (r.verdict != HDT_FAIL || !strstr(r.detail, "with no used-ring progress"))
        fail_msg("%s %s", hdt_verdict_name(r.verdict), r.detail);
    inject_bits = VIRTIO_INT_CONFIG_CHANGE;
    assert_int_equal(hdt_run_case(env.lb.dev, &inject_case, 1, &r), 0);
    if (r.verdict != HDT_FAIL || !strstr(r.detail, "without a config change"))
        fail_msg("%s %s", hdt_verdict_name(r.verdict), r.detail);
    /* A real config change (the generation moves) is no FAIL. */
    inject_bits = 0;
    vmmio_config_changed(env.lb.m);
    assert_int_equal(hdt_run_case(env.lb.dev, &inject_case, 1, &r), 0);
    assert_int_equal(r.verdict, HDT_PASS);
    hdt_finish(env.lb.dev);
}

/* What our register file answers the transport and state classes with:
 * it refuses every out-of-protocol step it can see (REJECT) and breaks
 * the queue (NEEDS_RESET) on a size it cannot serve. */
static void test_ours_xport_state(void **state)
{
    static const struct {
        const char *id;
        enum hdt_verdict v;
    } want[] = {
        {"transport.mmio_narrow_status_write", HDT_REJECT},
        {"transport.mmio_write_magic", HDT_REJECT},
        {"transport.mmio_write_queue_num_max", HDT_REJECT},
        {"transport.queue_num_gt_max", HDT_NEEDS_RESET},
        {"transport.queue_num_zero", HDT_NEEDS_RESET},
        {"transport.queue_size_not_pow2", HDT_NEEDS_RESET},
        {"transport.queue_sel_oob_read", HDT_PASS},
        {"transport.feature_select_oob", HDT_PASS},
        {"transport.pci_msix_config_oob", HDT_SKIP},
        {"state.skip_acknowledge", HDT_REJECT},
        {"state.no_version_1", HDT_REJECT},
        {"state.queue_after_driver_ok", HDT_REJECT},
        {"state.reset_during_setup", HDT_REJECT},
        {"state.reset_mid_request", HDT_PASS},
        {"state.notify_after_reset", HDT_PASS},
    };
    struct hdt_result r;
    unsigned i;

    (void)state;
    blk_attach();
    for (i = 0; i < sizeof(want) / sizeof(want[0]); i++) {
        const struct hdt_case *k = hdt_find(want[i].id);

        assert_non_null(k);
        assert_int_equal(hdt_run_case(env.lb.dev, k, 1, &r), 0);
        if (r.verdict != want[i].v)
            fail_msg("%s %s %s", k->id, hdt_verdict_name(r.verdict), r.detail);
    }
    hdt_finish(env.lb.dev);
}

/* A storage backend that finishes what one processing round submitted
 * newest first (as QEMU's virtio-blk did with a full packed ring): used
 * descriptors then land on ring offsets other than the lists' heads. */
#define LIFO_MAX 64
static struct {
    struct vdev_blk_io *io[LIFO_MAX];
    unsigned n;
    uint8_t *store;
} lifo;

static void lifo_finish_all(void)
{
    while (lifo.n) {
        struct vdev_blk_io *io = lifo.io[--lifo.n];
        uint64_t pos = io->pos;
        uint32_t i;

        for (i = 0; i < io->niov && io->op != VDEV_BLK_IO_FLUSH; i++) {
            if (io->op == VDEV_BLK_IO_READ)
                memcpy(io->iov[i].base, lifo.store + pos, io->iov[i].len);
            else
                memcpy(lifo.store + pos, io->iov[i].base, io->iov[i].len);
            pos += io->iov[i].len;
        }
        vdev_blk_io_done(io, 0);
    }
}

static int lifo_submit(void *ctx, struct vdev_blk_io *io)
{
    (void)ctx;
    if (lifo.n >= LIFO_MAX)
        return -EBUSY;
    lifo.io[lifo.n++] = io;
    return 0;
}

static void lifo_commit(void *ctx, unsigned qi)
{
    (void)ctx, (void)qi;
}

static void lifo_reap(void *ctx, unsigned qi, bool wait)
{
    (void)ctx, (void)qi, (void)wait;
    lifo_finish_all();
}

static int lifo_rw(void *ctx, uint64_t pos, void *buf, uint32_t len)
{
    (void)ctx, (void)pos, (void)buf, (void)len;
    return -EIO; /* never: IN/OUT go through submit */
}

static int lifo_wr(void *ctx, uint64_t pos, const void *buf, uint32_t len)
{
    (void)ctx, (void)pos, (void)buf, (void)len;
    return -EIO;
}

static void test_packed_out_of_order(void **state)
{
    static const char *const ids[] = {"ctl.packed_read", "edge.packed_ring_full",
                                      "edge.packed_out_of_order_ids", "packed.rewind"};
    struct vdev_blk_backend be = {.read = lifo_rw,
                                  .write = lifo_wr,
                                  .submit = lifo_submit,
                                  .commit = lifo_commit,
                                  .reap = lifo_reap};
    struct hdt_result r;
    unsigned i;

    (void)state;
    memset(&lifo, 0, sizeof(lifo));
    lifo.store = calloc(DISK_SECTORS, VIRTIO_BLK_SECTOR_SIZE);
    assert_non_null(lifo.store);
    assert_int_equal(vdev_blk_create_backend(&env.lb.vd, &env.mem,
                                             (uint64_t)DISK_SECTORS * VIRTIO_BLK_SECTOR_SIZE, &be,
                                             "hdt-lifo"),
                     0);
    lb_attach("lblk0");
    for (i = 0; i < sizeof(ids) / sizeof(ids[0]); i++) {
        assert_int_equal(hdt_run_case(env.lb.dev, hdt_find(ids[i]), 1, &r), 0);
        if (r.verdict != (i == 3 ? HDT_REJECT : HDT_PASS) ||
            (i < 3 && !strstr(r.detail, "status 0")))
            fail_msg("%s %s %s", ids[i], hdt_verdict_name(r.verdict), r.detail);
    }
    hdt_finish(env.lb.dev);
    env.disk = lifo.store; /* freed by the teardown */
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_catalogue),
        cmocka_unit_test_prestate_setup_teardown(test_ours_all, env_setup, env_teardown,
                                                 (void *)&mode_irq_evt),
        cmocka_unit_test_prestate_setup_teardown(test_seed_reproducible, env_setup, env_teardown,
                                                 (void *)&mode_irq_evt),
        cmocka_unit_test_prestate_setup_teardown(test_raw_regs, env_setup, env_teardown,
                                                 (void *)&mode_irq_evt),
        cmocka_unit_test_prestate_setup_teardown(test_irq_oracle, env_setup, env_teardown,
                                                 (void *)&mode_irq_evt),
        cmocka_unit_test_prestate_setup_teardown(test_ours_xport_state, env_setup, env_teardown,
                                                 (void *)&mode_irq_evt),
        cmocka_unit_test_prestate_setup_teardown(test_ours_packed, env_setup, env_teardown,
                                                 (void *)&mode_irq_evt_packed),
        cmocka_unit_test_prestate_setup_teardown(test_packed_oracle_fails, env_setup,
                                                 env_teardown, (void *)&mode_irq_evt_packed),
        cmocka_unit_test_prestate_setup_teardown(test_packed_out_of_order, env_setup,
                                                 env_teardown, (void *)&mode_irq_evt_packed),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
