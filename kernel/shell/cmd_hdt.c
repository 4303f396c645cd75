/* SPDX-License-Identifier: Apache-2.0 */
/*
 * cmd_hdt.c - `hdt`: the hostile-driver device tester (issue 12,
 * drivers/virtio/hdt.h) against any registered blk device, ours on the
 * loopback (lblk0) or a VMM's (vblk0 on PCI/MMIO).
 *
 *   hdt list                         one line per case: id, clause, text
 *   hdt run <dev> [<case>...|all] [seed N] [ramcanary]
 *   (a <case> ending in '*' picks every id starting with the rest: packed.*)
 *   hdt random <dev> seed N [count K]   seeded random mode (hdt_random.h)
 *
 * ramcanary: every free physical page is filled with a pattern before the
 * run and checked after every case (kernel/mm.c mm_canary_*): a device
 * that wrote anywhere in free RAM gets FAIL. Slow under TCG: opt-in.
 *
 * run prints "<id> <VERDICT> <detail>" per case and one summary line
 * "hdt: <dev> N cases: P PASS, R REJECT, ..."; the device's driver is
 * re-initialised afterwards (virtio_bind_reinit), so the device is usable
 * again exactly when that line says "driver back".
 */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "hdt.h"
#include "hdt_random.h"
#include "kernel.h"
#include "kernel/shell/shell.h"
#include "kernel/virtio/loopback.h"
#include "kernel/virtio/virtio_bind.h"
#include "virtio.h"

/* "packed.*": a word ending in '*' picks every case whose id starts with
 * the rest (at least one must). */
static bool hdt_prefix_pick(const char *w, const char *id)
{
    size_t n = strlen(w);

    return n > 1 && w[n - 1] == '*' && strncmp(w, id, n - 1) == 0;
}

static bool hdt_prefix_matches(const char *w)
{
    unsigned i;

    for (i = 0; i < hdt_count(); i++) {
        if (hdt_prefix_pick(w, hdt_case_at(i)->id))
            return true;
    }
    return false;
}

/* The free-RAM canary after a case (mm_canary_check): every free page
 * outside what the case allocated (its arena is allocated, so not
 * checked; the arena has hdt's own canary) must hold its pattern. The
 * device was reset at the end of the case, so nothing may come later. */
static void ram_canary_judge(struct hdt_result *r)
{
    uint64_t first;
    size_t pages;
    size_t bad = mm_canary_check(&first, &pages);
    char buf[96];

    if (!bad)
        return;
    r->verdict = HDT_FAIL;
    snprintf(buf, sizeof(buf), "; device wrote %zu word(s) of free RAM in %zu page(s), first at %#llx",
             bad, pages, (unsigned long long)first);
    strncat(r->detail, buf, sizeof(r->detail) - strlen(r->detail) - 1);
}

static int cmd_hdt_run(int argc, char **argv)
{
    struct virtio_device *dev;
    const char *which[SHELL_MAX_ARGS];
    unsigned nwhich = 0, j;
    bool pick;
    unsigned long long seed = 1;
    bool ramcanary = false;
    unsigned counts[HDT_NV] = {0};
    unsigned i, n = 0, v;
    int a, err;

    /* Our loopback devices come up on first use (like `devices`). */
    if (argv[2][0] == 'l' && !loopback_is_up())
        (void)loopback_init();
    dev = virtio_find(argv[2]);
    if (!dev) {
        printf("error: hdt: no device '%s' (`devices`)\n", argv[2]);
        return 1;
    }
    for (a = 3; a < argc; a++) {
        if (strcmp(argv[a], "seed") == 0 && a + 1 < argc) {
            if (shell_parse_u64("seed", argv[++a], ~0ull, &seed))
                return 1;
        } else if (strcmp(argv[a], "ramcanary") == 0) {
            ramcanary = true;
        } else if (strcmp(argv[a], "all") == 0) {
            nwhich = 0;
        } else if ((hdt_find(argv[a]) || hdt_prefix_matches(argv[a])) &&
                   nwhich < SHELL_MAX_ARGS) {
            which[nwhich++] = argv[a];
        } else {
            printf("error: hdt: unknown case '%s' (`hdt list`)\n", argv[a]);
            return 1;
        }
    }
    if (ramcanary && mm_canary_arm(seed) < 0) {
        printf("error: hdt: no memory for the RAM canary map\n");
        return 1;
    }
    for (i = 0; i < hdt_count(); i++) {
        const struct hdt_case *k = hdt_case_at(i);
        struct hdt_result r;

        /* all: the cases of this device type and the device-independent ones. */
        pick = nwhich == 0 && (k->device_id == 0 || k->device_id == dev->device_id);
        for (j = 0; j < nwhich; j++)
            pick |= strcmp(which[j], k->id) == 0 || hdt_prefix_pick(which[j], k->id);
        if (!pick)
            continue;
        err = hdt_run_case(dev, k, seed, &r);
        if (err < 0) {
            printf("error: hdt: %s: %d\n", k->id, err);
            break;
        }
        if (ramcanary)
            ram_canary_judge(&r);
        printf("%s %s %s\n", k->id, hdt_verdict_name(r.verdict), r.detail);
        counts[r.verdict]++;
        n++;
    }
    hdt_finish(dev);
    if (ramcanary)
        mm_canary_disarm();
    err = virtio_bind_reinit(dev);
    printf("hdt: %s %u cases:", dev->name, n);
    for (v = 0; v < HDT_NV; v++)
        printf("%s %u %s", v ? "," : "", counts[v], hdt_verdict_name(v));
    printf("; driver %s\n", err == 0 ? "back" : "NOT back");
    return err == 0 ? 0 : 1;
}

static void random_line(void *arg, const struct hdt_random_step *st)
{
    (void)arg;
    printf("random.%u %s %s; %s\n", st->step, hdt_verdict_name(st->r.verdict), st->what,
           st->r.detail);
}

/* hdt random <dev> seed N [count K]: one line per step, then a summary
 * with the step to re-run from when the device stopped serving. */
static int cmd_hdt_random(int argc, char **argv)
{
    struct virtio_device *dev;
    unsigned long long seed = 0, count = 100;
    bool have_seed = false;
    unsigned counts[HDT_NV] = {0};
    int a, n, stopped, err;
    unsigned v;

    for (a = 3; a < argc; a++) {
        if (strcmp(argv[a], "seed") == 0 && a + 1 < argc) {
            if (shell_parse_u64("seed", argv[++a], ~0ull, &seed))
                return 1;
            have_seed = true;
        } else if (strcmp(argv[a], "count") == 0 && a + 1 < argc) {
            if (shell_parse_u64("count", argv[++a], 100000, &count))
                return 1;
        } else {
            printf("error: hdt random: unexpected '%s' (seed N [count K])\n", argv[a]);
            return 1;
        }
    }
    if (!have_seed) {
        printf("error: hdt random: seed N is required (the run is reproducible from it)\n");
        return 1;
    }
    if (argv[2][0] == 'l' && !loopback_is_up())
        (void)loopback_init();
    dev = virtio_find(argv[2]);
    if (!dev) {
        printf("error: hdt: no device '%s' (`devices`)\n", argv[2]);
        return 1;
    }
    n = hdt_random_run(dev, seed, (unsigned)count, random_line, NULL, &stopped, counts);
    if (n < 0) {
        printf("error: hdt random: %d\n", n);
        n = 0;
    }
    err = virtio_bind_reinit(dev);
    printf("hdt: random %s seed %llu %d steps:", dev->name, seed, n);
    for (v = 0; v < HDT_NV; v++)
        printf("%s %u %s", v ? "," : "", counts[v], hdt_verdict_name(v));
    if (stopped >= 0)
        printf("; stopped at step %d (re-run: hdt random %s seed %llu count %d)", stopped,
               dev->name, seed, stopped + 1);
    printf("; driver %s\n", err == 0 ? "back" : "NOT back");
    return err == 0 && stopped < 0 ? 0 : 1;
}

/* `hdt ramcanary-test`: the free-RAM canary against a write it must see
 * (a stray store into a page that is free, as a device's DMA would be). */
static int cmd_hdt_canary_test(void)
{
    uint64_t first = 0;
    size_t pages = 0, caught, after;
    volatile uint64_t *p;

    if (mm_canary_arm(12) < 0) {
        printf("error: hdt: no memory for the RAM canary map\n");
        return 1;
    }
    p = page_alloc(1);
    if (!p) {
        mm_canary_disarm();
        printf("error: hdt: no page\n");
        return 1;
    }
    page_free((void *)p, 1);
    (void)mm_canary_check(NULL, NULL); /* the freed page is armed again */
    p[5] = 0x1234; /* into a free page */
    caught = mm_canary_check(&first, &pages);
    after = mm_canary_check(NULL, NULL);
    mm_canary_disarm();
    printf("hdt: ram canary caught %zu word(s) in %zu page(s), %s; then %zu\n", caught, pages,
           first == virt_to_phys((const void *)(p + 5)) ? "at the poked address" : "ELSEWHERE",
           after);
    return caught == 1 && after == 0 ? 0 : 1;
}

static int cmd_hdt(int argc, char **argv)
{
    unsigned i;

    if (argc == 2 && strcmp(argv[1], "list") == 0) {
        for (i = 0; i < hdt_count(); i++) {
            const struct hdt_case *k = hdt_case_at(i);

            printf("%-34s %s [%s]\n", k->id, k->desc, k->clause);
        }
        printf("hdt: %u cases\n", hdt_count());
        return 0;
    }
    if (argc == 2 && strcmp(argv[1], "ramcanary-test") == 0)
        return cmd_hdt_canary_test();
    if (argc >= 3 && strcmp(argv[1], "run") == 0)
        return cmd_hdt_run(argc, argv);
    if (argc >= 3 && strcmp(argv[1], "random") == 0)
        return cmd_hdt_random(argc, argv);
    printf("error: usage: hdt list | ramcanary-test | run <dev> [<case>...|all] [seed N] "
           "[ramcanary] | random <dev> seed N [count K]\n");
    return 1;
}
SHELL_COMMAND(hdt, "hdt",
              "list | run <dev> [<case>...|all] [seed N] [ramcanary] | random <dev> seed N [count K]",
              "hostile-driver device tester (virtio 1.2 driver MUSTs broken on purpose)", cmd_hdt);
