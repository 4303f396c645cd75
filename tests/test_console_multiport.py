# SPDX-License-Identifier: Apache-2.0
"""The console driver's MULTIPORT (VIRTIO 1.2 5.3.6.2) against QEMU's own
virtio-serial-pci with two virtserialport devices, each on a Unix socket
this module owns (QEMU listens, the test connects), checked from the host:
the guest sees both ports with QEMU's names and the host ends' open state,
bytes written on a port arrive on that port's socket only, bytes the host
sends on a socket arrive on that port only, and a port whose host end
closed refuses writes (QEMU would hold them).

QEMU numbers virtserialports from 1 (port 0 is kept for a virtconsole), so
the two ports are 1 and 2 and port 0 is absent.
"""

import os
import re
import shutil
import socket
import tempfile
import time

import pytest

NAMES = {1: "org.ringloop.one", 2: "org.ringloop.two"}


class Rig:
    def __init__(self):
        self.dir = tempfile.mkdtemp(prefix="vser_")
        self.paths = {p: os.path.join(self.dir, "port%d.sock" % p) for p in NAMES}
        self.socks = {}
        self.qemu = ["-device", "virtio-serial-pci,max_ports=8"]
        for p, name in NAMES.items():
            self.qemu += ["-chardev", "socket,id=p%d,path=%s,server=on,wait=off"
                          % (p, self.paths[p]),
                          "-device", "virtserialport,chardev=p%d,name=%s,nr=%d" % (p, name, p)]

    def connect(self, port):
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        deadline = time.time() + 10
        while True:
            try:
                s.connect(self.paths[port])
                break
            except (FileNotFoundError, ConnectionRefusedError):
                if time.time() > deadline:
                    raise
                time.sleep(0.05)
        s.settimeout(5)
        self.socks[port] = s
        return s

    def recv_exactly(self, port, n):
        data = b""
        while len(data) < n:
            chunk = self.socks[port].recv(4096)
            assert chunk, "port %d socket closed" % port
            data += chunk
        return data

    def pending(self, port):
        s = self.socks[port]
        s.settimeout(0.3)
        try:
            return s.recv(4096)
        except (BlockingIOError, socket.timeout):
            return b""
        finally:
            s.settimeout(5)

    def close(self):
        for s in self.socks.values():
            s.close()
        shutil.rmtree(self.dir, ignore_errors=True)


@pytest.fixture(scope="module")
def rig():
    r = Rig()
    yield r
    r.close()


@pytest.fixture
def m(boot, rig):
    return boot(["--"] + rig.qemu)


def ok(c, cmd, timeout=60):
    out = c.run(cmd, timeout=timeout)
    assert "error" not in out, "%r: %s" % (cmd, out)
    return out


def port_line(out, p):
    mm = re.search(r"^port %d .*$" % p, out, re.M)
    assert mm, out
    return mm.group(0)


def wait_ports(m, want):
    """`console ports` until every port in want has host=<state> (QEMU sends
    PORT_OPEN when a socket connects or closes)."""
    deadline = time.time() + 10
    while True:
        out = ok(m, "console ports vcon0")
        if all("host=%s" % st in port_line(out, p) for p, st in want.items()):
            return out
        assert time.time() < deadline, out
        time.sleep(0.2)


def test_ports_announced_with_names(m, rig):
    for p in NAMES:
        rig.connect(p)
    out = wait_ports(m, {1: "open", 2: "open"})
    assert out.startswith("multiport yes ports 3"), out
    assert " absent " in port_line(out, 0), out
    for p, name in NAMES.items():
        line = port_line(out, p)
        assert re.search(r"present console=0 host=open guest=open .* name=%s$"
                         % re.escape(name), line), line


def test_each_port_its_own_stream_both_ways(m, rig):
    assert ok(m, "console write vcon0 -p 1 one-to-host") == "wrote 11 bytes"
    assert ok(m, "console write vcon0 -p 2 two-to-host-longer") == "wrote 18 bytes"
    assert rig.recv_exactly(1, 11) == b"one-to-host"
    assert rig.recv_exactly(2, 18) == b"two-to-host-longer"
    assert rig.pending(1) == b"" and rig.pending(2) == b""
    rig.socks[2].sendall(b"host-on-two")
    rig.socks[1].sendall(b"h1")
    time.sleep(0.3)
    assert ok(m, "console read vcon0 -p 2") == "read 11 bytes: host-on-two"
    assert ok(m, "console read vcon0 -p 1") == "read 2 bytes: h1"
    assert ok(m, "console read vcon0 -p 1") == "read 0 bytes: "
    # Port 0 does not exist on this device.
    out = m.run("console write vcon0 -p 0 nobody")
    assert out.startswith("error: console write vcon0:"), out


def test_closed_host_end_refuses_writes(m, rig):
    rig.socks.pop(1).close()
    wait_ports(m, {1: "closed", 2: "open"})
    out = m.run("console write vcon0 -p 1 into-the-void")
    assert out.startswith("error: console write vcon0:") and "not connected" in out, out
    # The other port is unaffected, and port 1 works again once reconnected.
    assert ok(m, "console write vcon0 -p 2 still-here") == "wrote 10 bytes"
    assert rig.recv_exactly(2, 10) == b"still-here"
    rig.connect(1)
    wait_ports(m, {1: "open"})
    assert ok(m, "console write vcon0 -p 1 back") == "wrote 4 bytes"
    assert rig.recv_exactly(1, 4) == b"back"
