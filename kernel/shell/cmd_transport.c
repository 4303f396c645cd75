/* SPDX-License-Identifier: Apache-2.0 */
/*
 * cmd_transport.c - shell commands about how devices are attached rather
 * than what they do: `loopback` (the CPU-1 device loop's wake mode and
 * counters, kernel/virtio/loopback.c) and `mmio` (the virtio-mmio windows
 * found at boot, kernel/virtio/virtio_mmio_probe.c).
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "boot_info.h"
#include "hostile.h"
#include "kernel/shell/shell.h"
#include "kernel/virtio/loopback.h"
#include "kernel/virtio/virtio_mmio_probe.h"
#include "virtio.h"

static void hostile_list_line(const struct hostile_info *info, void *ctx)
{
    (void)ctx;
    printf("%-20s %s%s\n", info->name, info->desc,
           info->where & HOSTILE_AT_MMIO ? " [register file]" : "");
}

/* loopback hostile list | <dev> off | <dev> <mode> [after N] [count K] [seed S] */
static int cmd_loopback_hostile(int argc, char **argv)
{
    struct hostile_cfg cfg = {0};
    struct virtio_device *dev;
    unsigned long long v;
    int mode, err, i;

    if (argc == 3 && strcmp(argv[2], "list") == 0) {
        hostile_list(hostile_list_line, NULL);
        return 0;
    }
    if (argc < 4 || (argc % 2) != 0)
        goto usage;
    err = loopback_init();
    if (err)
        return err;
    dev = virtio_find(argv[2]);
    if (!dev || !loopback_vmmio(dev)) {
        printf("error: loopback hostile: %s is not a loopback device\n", argv[2]);
        return -ENODEV;
    }
    mode = hostile_find(argv[3]);
    if (mode < 0) {
        printf("error: loopback hostile: unknown mode '%s' (`loopback hostile list`)\n", argv[3]);
        return -EINVAL;
    }
    cfg.mode = (uint32_t)mode;
    for (i = 4; i + 1 < argc; i += 2) {
        bool seed = strcmp(argv[i], "seed") == 0;

        if (!seed && strcmp(argv[i], "after") != 0 && strcmp(argv[i], "count") != 0)
            goto usage;
        err = shell_parse_u64(argv[i], argv[i + 1], seed ? ~0ull : 0xffffffffull, &v);
        if (err)
            return err;
        if (seed)
            cfg.seed = v;
        else if (argv[i][0] == 'a')
            cfg.after = (uint32_t)v;
        else
            cfg.count = (uint32_t)v;
    }
    err = loopback_set_hostile(dev, &cfg);
    if (err)
        return err;
    printf("%s hostile %s after %u count %u seed %llu\n", dev->name, hostile_info(cfg.mode)->name,
           cfg.after, cfg.count, (unsigned long long)cfg.seed);
    return 0;
usage:
    printf("error: usage: loopback hostile list | <dev> off | <dev> <mode> [after N] [count K] "
           "[seed S]\n");
    return -EINVAL;
}

static int cmd_loopback(int argc, char **argv)
{
    static const char *const names[] = {"hybrid", "poll", "ipi"};

    if (argc >= 2 && strcmp(argv[1], "hostile") == 0)
        return cmd_loopback_hostile(argc, argv);
    if (argc == 3 && strcmp(argv[1], "packed") == 0 &&
        (strcmp(argv[2], "on") == 0 || strcmp(argv[2], "off") == 0)) {
        loopback_set_offer_packed(argv[2][1] == 'n');
        printf("loopback devices %s the packed ring (from the next driver init)\n",
               loopback_offer_packed() ? "offer" : "do not offer");
        return 0;
    }
    if (argc == 3 && strcmp(argv[1], "wake") == 0) {
        for (unsigned i = 0; i < 3; i++) {
            if (strcmp(argv[2], names[i]) == 0) {
                loopback_set_wake((enum loopback_wake)i);
                printf("loopback wake %s\n", names[i]);
                return 0;
            }
        }
    } else if (argc == 1) {
        printf("packed ring %s, wake %s, doorbells %llu, device-loop starts %llu (failed %llu), "
               "interrupt IPIs %llu\n",
               loopback_offer_packed() ? "offered" : "not offered", names[loopback_get_wake()],
               (unsigned long long)loopback_doorbells(),
               (unsigned long long)loopback_loop_starts(),
               (unsigned long long)loopback_start_failures(), (unsigned long long)loopback_ipis());
        return 0;
    }
    printf("error: usage: loopback [wake hybrid|poll|ipi] | packed on|off | hostile ...\n");
    return -EINVAL;
}
SHELL_COMMAND(
    loopback, "loopback",
    "[wake hybrid|poll|ipi] | packed on|off | hostile list | hostile <dev> <mode>|off [after N] [count K] "
    "[seed S]",
    "how notifies reach the device side on CPU 1, its counters; packed-ring offer; a "
    "misbehaving device",
    cmd_loopback);

static int cmd_mmio(int argc, char **argv)
{
    (void)argv;
    if (argc != 1) {
        printf("error: usage: mmio\n");
        return -EINVAL;
    }
    printf("command line: %s\n", boot_info.cmdline[0] ? boot_info.cmdline : "(empty)");
    if (virtio_mmio_slot_count() == 0)
        printf("no virtio-mmio devices\n");
    struct virtio_mmio_slot_info s;
    for (unsigned i = 0; virtio_mmio_slot_get(i, &s) == 0; i++)
        printf("0x%08lx size 0x%lx gsi %d %s %s\n", (unsigned long)s.base, (unsigned long)s.size,
               s.gsi, s.dev ? s.dev->name : "-",
               s.dev ? (s.is_polled ? "polled" : "irq") : "empty");
    return 0;
}
SHELL_COMMAND(mmio, "mmio", "", "virtio-mmio windows and their devices", cmd_mmio);
