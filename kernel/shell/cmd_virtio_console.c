/* SPDX-License-Identifier: Apache-2.0 */
/*
 * cmd_virtio_console.c - the `console` shell command (virtio-console, 5.3):
 *
 *   console write <dev> [-p <port>] <text...>   wrote <n> bytes
 *   console read <dev> [-p <port>]              read <n> bytes: <text>
 *   console ports <dev>                         multiport <yes|no> ports <n>
 *                                               then per port:
 *     port <p> <present|absent> console=<0|1> host=<open|closed>
 *          guest=<open|closed> tx=<bytes> rx=<bytes> name=<name>
 *
 * Port 0 without -p. A port the device has not announced, or one the
 * driver has no queues for, is an error (-ENODEV); with MULTIPORT a port
 * whose device end is closed refuses writes (-ENOTCONN).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kernel/shell/cmd_virtio.h"
#include "kernel/shell/shell.h"
#include "virtio.h"
#include "virtio_console.h"

#define CONSOLE_READ_TIMEOUT_NS 200000000ull

static int con_ports(struct virtio_console *con)
{
    uint32_t p;

    printf("multiport %s ports %u\n", virtio_console_is_multiport(con) ? "yes" : "no",
           (unsigned)virtio_console_nports(con));
    for (p = 0; p < virtio_console_nports(con); p++) {
        struct virtio_console_port_info i;

        if (virtio_console_port_info(con, p, &i) < 0)
            return 1;
        printf("port %u %s console=%d host=%s guest=%s tx=%llu rx=%llu name=%s\n", (unsigned)p,
               i.exists ? "present" : "absent", i.is_console, i.host_open ? "open" : "closed",
               i.guest_open ? "open" : "closed", (unsigned long long)i.tx_bytes,
               (unsigned long long)i.rx_bytes, i.name[0] ? i.name : "-");
    }
    return 0;
}

static int con_write(struct virtio_console *con, const char *dev, uint32_t port, int argc,
                     char **argv)
{
    char text[SHELL_MAX_LINE + 1];
    size_t len = 0;
    int r;

    for (int i = 0; i < argc; i++) {
        size_t l = strlen(argv[i]);

        if (len + l + 1 > SHELL_MAX_LINE)
            break;
        if (i > 0)
            text[len++] = ' ';
        memcpy(text + len, argv[i], l);
        len += l;
    }
    r = virtio_console_port_write(con, port, text, len);
    if (r < 0) {
        shell_io_error("console write", dev, r);
        return 1;
    }
    printf("wrote %d bytes\n", r);
    return 0;
}

/* What has arrived: wait a little for the first byte, then take the rest. */
static int con_read(struct virtio_console *con, const char *dev, uint32_t port)
{
    char buf[1024];
    int r, n = virtio_console_port_read(con, port, buf, sizeof(buf) - 1, CONSOLE_READ_TIMEOUT_NS);

    if (n == -ETIMEDOUT)
        n = 0;
    if (n < 0) {
        shell_io_error("console read", dev, n);
        return 1;
    }
    while ((size_t)n < sizeof(buf) - 1) {
        r = virtio_console_port_read(con, port, buf + n, sizeof(buf) - 1 - (size_t)n, 0);
        if (r <= 0)
            break;
        n += r;
    }
    for (int i = 0; i < n; i++) {
        if (buf[i] < 0x20 || buf[i] > 0x7e)
            buf[i] = '.';
    }
    buf[n] = '\0';
    printf("read %d bytes: %s\n", n, buf);
    return 0;
}

static int cmd_console(int argc, char **argv)
{
    struct virtio_console *con;
    uint32_t port = 0;
    int next = 3;

    if (argc < 3 || (strcmp(argv[1], "write") && strcmp(argv[1], "read") &&
                     strcmp(argv[1], "ports"))) {
        printf("error: usage: console write <dev> [-p <port>] <text...> | "
               "console read <dev> [-p <port>] | console ports <dev>\n");
        return 1;
    }
    if (argc > 4 && !strcmp(argv[3], "-p")) {
        char *end;
        unsigned long v = strtoul(argv[4], &end, 10);

        if (*argv[4] == 0 || *end || v >= VIRTIO_CONSOLE_MAX_PORTS) {
            printf("error: console: port '%s' not in 0..%u\n", argv[4],
                   VIRTIO_CONSOLE_MAX_PORTS - 1);
            return 1;
        }
        port = (uint32_t)v;
        next = 5;
    }
    if ((!strcmp(argv[1], "read") || !strcmp(argv[1], "ports")) && argc != next) {
        printf("error: usage: console %s <dev>%s\n", argv[1],
               argv[1][0] == 'r' ? " [-p <port>]" : "");
        return 1;
    }
    con = shell_find_driver("console", argv[2], VIRTIO_ID_CONSOLE);
    if (!con)
        return 1;
    if (!strcmp(argv[1], "ports"))
        return con_ports(con);
    if (!strcmp(argv[1], "write"))
        return con_write(con, argv[2], port, argc - next, argv + next);
    return con_read(con, argv[2], port);
}
SHELL_COMMAND(console, "console",
              "write <dev> [-p <port>] <text...> | read <dev> [-p <port>] | ports <dev>",
              "virtio-console: write text to a port, read what arrived, list the ports",
              cmd_console);
