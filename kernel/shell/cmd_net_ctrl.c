/* SPDX-License-Identifier: Apache-2.0 */
/*
 * cmd_net_ctrl.c - shell commands for the net driver's control queue and
 * checksum offload (drivers/virtio/virtio_net.c, VIRTIO 1.2 5.1.6.5,
 * 5.1.6.2, 5.1.6.4):
 *
 *   net promisc <dev> on|off                 rx promisc on|off
 *   net rx <dev> <mode> on|off               rx <mode> on|off
 *        (mode: promisc allmulti alluni nomulti nouni nobcast)
 *   net mac <dev> [aa:bb:cc:dd:ee:ff]        mac <mac>  (set through the controlq)
 *   net mac-table <dev> [<mac> ...]          mac-table uni <n> multi <m>
 *        (addresses with the group bit go to the multicast table; none:
 *        both tables emptied)
 *   net filter <dev>                         the driver's record (see below)
 *   net csum <dev> <len> <byte> <start> <off>  sent <len> bytes csum offload|software
 *        (a frame of <byte>s whose checksum from <start> goes to
 *        <start> + <off>; the two bytes there are the pseudo-header sum)
 *   net recv-hdr <dev>                       len <n> flags 0x<f> csum_start <s>
 *                                            csum_offset <o> sha256 <hex>
 *
 * and the `virtio info` line for a net device:
 *
 *   net: mac=<mac> ctrl_vq=0|1 ctrl_rx=0|1 ctrl_rx_extra=0|1
 *        ctrl_mac_addr=0|1 csum=0|1 guest_csum=0|1 promisc=on|off|default
 *        allmulti=.. alluni=.. nomulti=.. nouni=.. nobcast=.. uni=<n>|default
 *        multi=<n>|default ctrl_cmds=<n> ctrl_errs=<n>   (one line)
 *
 * "default": not set since the device's last reset (the device's own
 * default applies). A command whose feature the device did not offer
 * says so: one "error: ..." line.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kernel/shell/cmd_net_ctrl.h"
#include "kernel/shell/cmd_virtio.h"
#include "kernel/shell/shell.h"
#include "sha256.h"
#include "virtio.h"
#include "virtio_net.h"

#define NC_RECV_TIMEOUT_NS 1000000000ull
#define NC_TABLE_MAX (SHELL_MAX_ARGS - 3)

static const char *const nc_modes[6] = {"promisc", "allmulti", "alluni",
                                        "nomulti", "nouni",    "nobcast"};

bool net_ctrl_is_subcommand(const char *sub)
{
    static const char *const subs[] = {"promisc", "rx",   "mac",     "mac-table",
                                       "filter",  "csum", "recv-hdr"};

    for (unsigned i = 0; i < sizeof(subs) / sizeof(subs[0]); i++)
        if (!strcmp(sub, subs[i]))
            return true;
    return false;
}

static int nc_error(const char *what, const char *name, int err)
{
    const char *why = err == -EOPNOTSUPP ? "feature not negotiated with the device"
                      : err == -EPROTO   ? "device answered VIRTIO_NET_ERR"
                      : err == -EINVAL   ? "invalid argument"
                                         : strerror(-err);

    printf("error: net %s %s: %s (%d)\n", what, name, why, err);
    return 1;
}

static int nc_hex(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

/* Exactly aa:bb:cc:dd:ee:ff (hex, either case). */
static int nc_parse_mac(const char *s, uint8_t mac[6])
{
    for (unsigned i = 0; i < 6; i++) {
        const char *p = s + 3 * i;
        int hi = nc_hex(p[0]), lo = hi < 0 ? -1 : nc_hex(p[1]);

        if (hi < 0 || lo < 0 || p[2] != (i == 5 ? '\0' : ':')) {
            printf("error: mac: '%s' is not aa:bb:cc:dd:ee:ff\n", s);
            return -EINVAL;
        }
        mac[i] = (uint8_t)(hi << 4 | lo);
    }
    return 0;
}

static void nc_print_mac(const uint8_t m[6])
{
    printf("%02x:%02x:%02x:%02x:%02x:%02x", m[0], m[1], m[2], m[3], m[4], m[5]);
}

static const char *nc_state(int v)
{
    return v < 0 ? "default" : v ? "on" : "off";
}

static int nc_onoff(const char *s, bool *on)
{
    if (strcmp(s, "on") && strcmp(s, "off")) {
        printf("error: expected on|off, got '%s'\n", s);
        return -EINVAL;
    }
    *on = !strcmp(s, "on");
    return 0;
}

static int nc_rx(struct virtio_net *net, const char *name, const char *mode, const char *val)
{
    unsigned m;
    bool on;
    int err;

    for (m = 0; m < 6 && strcmp(mode, nc_modes[m]); m++)
        ;
    if (m == 6) {
        printf("error: net rx: unknown mode '%s' (promisc allmulti alluni nomulti nouni "
               "nobcast)\n",
               mode);
        return 1;
    }
    if (nc_onoff(val, &on))
        return 1;
    err = virtio_net_set_rx_mode(net, m, on);
    if (err)
        return nc_error("rx", name, err);
    printf("rx %s %s\n", nc_modes[m], on ? "on" : "off");
    return 0;
}

static int nc_mac_table(struct virtio_net *net, int argc, char **argv)
{
    uint8_t uni[NC_TABLE_MAX][6], multi[NC_TABLE_MAX][6], mac[6];
    uint32_t nu = 0, nm = 0;
    int err;

    for (int i = 3; i < argc; i++) {
        if (nc_parse_mac(argv[i], mac))
            return 1;
        if (mac[0] & 1)
            memcpy(multi[nm++], mac, 6);
        else
            memcpy(uni[nu++], mac, 6);
    }
    err = virtio_net_set_mac_table(net, (const uint8_t(*)[6])uni, nu, (const uint8_t(*)[6])multi,
                                   nm);
    if (err)
        return nc_error("mac-table", argv[2], err);
    printf("mac-table uni %u multi %u\n", nu, nm);
    return 0;
}

static void nc_filter_fields(struct virtio_net *net)
{
    struct virtio_net_filter f;
    char nu[16], nm[16];

    virtio_net_get_filter(net, &f);
    for (unsigned m = 0; m < 6; m++)
        printf("%s%s=%s", m ? " " : "", nc_modes[m], nc_state(f.mode[m]));
    snprintf(nu, sizeof(nu), "%d", (int)f.n_uni);
    snprintf(nm, sizeof(nm), "%d", (int)f.n_multi);
    printf(" uni=%s multi=%s", f.n_uni < 0 ? "default" : nu, f.n_multi < 0 ? "default" : nm);
}

static int nc_csum(struct virtio_net *net, char **argv)
{
    unsigned long long len, b, start, off;
    uint8_t *frame;
    int err;

    if (shell_parse_u64("len", argv[3], virtio_net_max_frame(net), &len) ||
        shell_parse_u64("byte", argv[4], 255, &b) || shell_parse_u64("start", argv[5], 0xffff, &start) ||
        shell_parse_u64("offset", argv[6], 0xffff, &off))
        return 1;
    if (len == 0 || start + off + 2 > len) {
        printf("error: net csum: start + offset + 2 must be within len\n");
        return 1;
    }
    frame = malloc(len);
    if (!frame)
        return nc_error("csum", argv[2], -ENOMEM);
    memset(frame, (int)b, len);
    err = virtio_net_send_csum(net, frame, len, (uint16_t)start, (uint16_t)off);
    free(frame);
    if (err)
        return nc_error("csum", argv[2], err);
    printf("sent %llu bytes csum %s\n", len,
           virtio_has_feature(virtio_net_device(net), VIRTIO_NET_F_CSUM) ? "offload" : "software");
    return 0;
}

static int nc_recv_hdr(struct virtio_net *net, const char *name)
{
    struct virtio_net_rx_info info;
    uint8_t *frame = malloc(VIRTIO_NET_MAX_FRAME_CAP), d[SHA256_DIGEST_BYTES];
    char hex[2 * SHA256_DIGEST_BYTES + 1];
    struct sha256 s;
    int n;

    if (!frame)
        return nc_error("recv-hdr", name, -ENOMEM);
    n = virtio_net_recv_info(net, frame, VIRTIO_NET_MAX_FRAME_CAP, NC_RECV_TIMEOUT_NS, &info);
    if (n < 0) {
        free(frame);
        if (n == -ETIMEDOUT) {
            printf("error: net recv-hdr %s: no frame within 1 s\n", name);
            return 1;
        }
        return nc_error("recv-hdr", name, n);
    }
    sha256_init(&s);
    sha256_update(&s, frame, (size_t)n);
    sha256_final(&s, d);
    sha256_digest_to_hex(d, hex);
    free(frame);
    printf("len %d flags 0x%x csum_start %u csum_offset %u sha256 %s\n", n, info.flags,
           info.csum_start, info.csum_offset, hex);
    return 0;
}

int net_ctrl_command(struct virtio_net *net, int argc, char **argv)
{
    const char *sub = argv[1], *name = argv[2];
    uint8_t mac[6];
    int err;

    if (!strcmp(sub, "promisc") && argc == 4)
        return nc_rx(net, name, "promisc", argv[3]);
    if (!strcmp(sub, "rx") && argc == 5)
        return nc_rx(net, name, argv[3], argv[4]);
    if (!strcmp(sub, "mac") && (argc == 3 || argc == 4)) {
        if (argc == 4) {
            if (nc_parse_mac(argv[3], mac))
                return 1;
            err = virtio_net_set_mac(net, mac);
            if (err)
                return nc_error("mac", name, err);
        }
        virtio_net_get_mac(net, mac);
        printf("mac ");
        nc_print_mac(mac);
        printf("\n");
        return 0;
    }
    if (!strcmp(sub, "mac-table"))
        return nc_mac_table(net, argc, argv);
    if (!strcmp(sub, "filter") && argc == 3) {
        printf("filter ");
        nc_filter_fields(net);
        printf("\n");
        return 0;
    }
    if (!strcmp(sub, "csum") && argc == 7)
        return nc_csum(net, argv);
    if (!strcmp(sub, "recv-hdr") && argc == 3)
        return nc_recv_hdr(net, name);
    printf("error: usage: net promisc <dev> on|off | net rx <dev> <mode> on|off | net mac <dev> "
           "[mac] | net mac-table <dev> [mac...] | net filter <dev> | net csum <dev> <len> "
           "<byte> <start> <offset> | net recv-hdr <dev>\n");
    return 1;
}

void net_ctrl_info(struct virtio_net *net)
{
    struct virtio_device *d = virtio_net_device(net);
    const struct virtio_net_stats *st = virtio_net_get_stats(net);
    uint8_t mac[6];

    virtio_net_get_mac(net, mac);
    printf("  net: mac=");
    nc_print_mac(mac);
    printf(" ctrl_vq=%d ctrl_rx=%d ctrl_rx_extra=%d ctrl_mac_addr=%d csum=%d guest_csum=%d ",
           virtio_has_feature(d, VIRTIO_NET_F_CTRL_VQ), virtio_has_feature(d, VIRTIO_NET_F_CTRL_RX),
           virtio_has_feature(d, VIRTIO_NET_F_CTRL_RX_EXTRA),
           virtio_has_feature(d, VIRTIO_NET_F_CTRL_MAC_ADDR), virtio_has_feature(d, VIRTIO_NET_F_CSUM),
           virtio_has_feature(d, VIRTIO_NET_F_GUEST_CSUM));
    nc_filter_fields(net);
    printf(" ctrl_cmds=%llu ctrl_errs=%llu\n", (unsigned long long)st->ctrl_cmds,
           (unsigned long long)st->ctrl_errs);
}
