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
        if (a[i].verdict != b[i].verdict || strcmp(a[i].detail, b[i].detail) != 0)
            fail_msg("%s: %s %s / %s %s", hdt_case_at(i)->id, hdt_verdict_name(a[i].verdict),
                     a[i].detail, hdt_verdict_name(b[i].verdict), b[i].detail);
        assert_int_equal(a[i].verdict, b[i].verdict);
        assert_string_equal(a[i].detail, b[i].detail);
    }
    free(a);
    free(b);
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
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
