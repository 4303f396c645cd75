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
#include "kernel/shell/shell.h"
#include "kernel/virtio/loopback.h"
#include "kernel/virtio/virtio_mmio_probe.h"
#include "virtio.h"

static int cmd_loopback(int argc, char **argv)
{
    static const char *const names[] = {"hybrid", "poll", "ipi"};

    if (argc == 3 && strcmp(argv[1], "wake") == 0) {
        for (unsigned i = 0; i < 3; i++) {
            if (strcmp(argv[2], names[i]) == 0) {
                loopback_set_wake((enum loopback_wake)i);
                printf("loopback wake %s\n", names[i]);
                return 0;
            }
        }
    } else if (argc == 1) {
        printf("wake %s, doorbells %llu, device-loop starts %llu (failed %llu), "
               "interrupt IPIs %llu\n",
               names[loopback_get_wake()], (unsigned long long)loopback_doorbells(),
               (unsigned long long)loopback_loop_starts(),
               (unsigned long long)loopback_start_failures(),
               (unsigned long long)loopback_ipis());
        return 0;
    }
    printf("error: usage: loopback [wake hybrid|poll|ipi]\n");
    return -EINVAL;
}
SHELL_COMMAND(loopback, "loopback", "[wake hybrid|poll|ipi]",
              "how notifies reach the device side on CPU 1, and its counters", cmd_loopback);

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
        printf("0x%08lx size 0x%lx gsi %d %s %s\n", (unsigned long)s.base,
               (unsigned long)s.size, s.gsi, s.dev ? s.dev->name : "-",
               s.dev ? (s.is_polled ? "polled" : "irq") : "empty");
    return 0;
}
SHELL_COMMAND(mmio, "mmio", "", "virtio-mmio windows and their devices", cmd_mmio);
