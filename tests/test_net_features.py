# SPDX-License-Identifier: Apache-2.0
"""virtio-net features (issue 14, VIRTIO 1.2 5.1) against QEMU's own
virtio-net-pci on a dgram netdev whose other end is a UDP socket pytest
owns: mergeable receive buffers (mrg_rxbuf=on) and MTU (host_mtu=3000) are
negotiated, a frame larger than one 2048-byte receive buffer sent from the
host comes back intact through the guest (`net echo`), the guest's largest
frame (mtu + 14) reaches the host and one byte more is refused, and QMP
`set_link` reaches the driver as a config interrupt (`net link`)."""
import os
import re
import shutil
import socket
import tempfile

import pytest

from qmp import qmp

MTU = 3000


def free_udp_port():
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


class NetRig:
    def __init__(self):
        self.dir = tempfile.mkdtemp(prefix="netfeat_")
        self.udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.udp.bind(("127.0.0.1", 0))
        self.udp.settimeout(5)
        self.host_port = self.udp.getsockname()[1]
        self.qemu_port = free_udp_port()
        self.qmp_path = os.path.join(self.dir, "qmp.sock")
        self.qemu = [
            "-netdev", "dgram,id=n0,local.type=inet,local.host=127.0.0.1,local.port=%d,"
            "remote.type=inet,remote.host=127.0.0.1,remote.port=%d"
            % (self.qemu_port, self.host_port),
            "-device", "virtio-net-pci,netdev=n0,id=nic0,mrg_rxbuf=on,host_mtu=%d" % MTU,
            "-qmp", "unix:%s,server=on,wait=off" % self.qmp_path,
        ]

    def drain(self):
        self.udp.settimeout(0.2)
        try:
            while True:
                self.udp.recv(65536)
        except (BlockingIOError, socket.timeout):
            pass
        self.udp.settimeout(5)

    def qmp(self, command, arguments=None):
        return qmp(self.qmp_path, command, arguments)

    def close(self):
        self.udp.close()
        shutil.rmtree(self.dir, ignore_errors=True)


@pytest.fixture(scope="module")
def rig():
    r = NetRig()
    yield r
    r.close()


@pytest.fixture
def m(boot, rig):
    return boot(["--"] + rig.qemu)


def ok(c, cmd, timeout=60):
    out = c.run(cmd, timeout=timeout)
    assert "error" not in out, "%r: %s" % (cmd, out)
    return out


def link(c):
    mm = re.search(r"link (up|down) changes (\d+) mtu (\d+) mrg (on|off)", ok(c, "net link vnet0"))
    assert mm
    return mm.group(1), int(mm.group(2)), int(mm.group(3)), mm.group(4)


def frame(n, tag):
    body = bytes((tag * 11 + k * 7 + (k >> 8)) & 0xff for k in range(n - 14))
    return b"\xff" * 6 + bytes([0x52, 0x54, 0, 0x12, 0x34, tag]) + b"\x88\xb5" + body


def test_mrg_and_mtu_negotiated(m, rig):
    state, _, mtu, mrg = link(m)
    assert (state, mtu, mrg) == ("up", MTU, "on")


def test_frames_larger_than_one_buffer_echo(m, rig):
    rig.drain()
    # 3014 = mtu + 14 takes two 2048-byte buffers; 2037 just more than one.
    frames = [frame(n, i) for i, n in enumerate((MTU + 14, 2037, 60, 2036))]
    for f in frames:
        rig.udp.sendto(f, ("127.0.0.1", rig.qemu_port))
    ok(m, "net echo vnet0 %d" % len(frames))
    got = [rig.udp.recv(65536) for _ in frames]
    assert got == frames


def test_guest_sends_mtu_sized_frame(m, rig):
    rig.drain()
    assert "sent %d bytes" % (MTU + 14) in ok(m, "net send vnet0 %d 90" % (MTU + 14))
    assert rig.udp.recv(65536) == bytes([90]) * (MTU + 14)
    out = m.run("net send vnet0 %d 90" % (MTU + 15))
    assert "error" in out, out


def test_set_link_is_a_config_change(m, rig):
    _, c0, _, _ = link(m)
    assert "error" not in rig.qmp("set_link", {"name": "nic0", "up": False})
    state, c1, _, _ = link(m)
    assert (state, c1) == ("down", c0 + 1)
    assert "error" not in rig.qmp("set_link", {"name": "nic0", "up": True})
    state, c2, _, _ = link(m)
    assert (state, c2) == ("up", c0 + 2)
    # Traffic still flows after the link came back.
    rig.drain()
    f = frame(MTU + 14, 9)
    rig.udp.sendto(f, ("127.0.0.1", rig.qemu_port))
    ok(m, "net echo vnet0 1")
    assert rig.udp.recv(65536) == f
