# SPDX-License-Identifier: Apache-2.0
"""The packed ring (issue 11, driver side) against QEMU's own packed
devices: the same five virtio-*-pci devices as test_qemu_devices.py, each
with packed=on, checked from the host the same way (disk image, rng file,
UDP socket, console socket, pmem file).

The image boots with the packed ring off (the default): the devices offer
VIRTIO_F_RING_PACKED and the drivers start split. `virtio packed on` then
asks for it at every later init, so `virtio reset <dev> 1` re-initialises
each device packed (`virtio info` shows ring=packed); all traffic after
that runs over packed rings, and `virtio packed off` takes them back to
split.

Invariants: one machine shared by the tests in file order, left at the
prompt by each; the host files are compared only after the guest wrote.
"""

import re
import socket
import time

import pytest

from test_qemu_devices import DISK_BYTES, SECTOR, Rig, guest_sha, ok, sha

DEVICES = ("vblk0", "vrng0", "vnet0", "vcon0", "vpmem0")


class PackedRig(Rig):
    def __init__(self):
        super().__init__()
        self.qemu = [a + ",packed=on" if a.startswith("virtio-") and "-pci" in a else a
                     for a in self.qemu]


@pytest.fixture(scope="module")
def rig():
    r = PackedRig()
    yield r
    r.close()


@pytest.fixture
def m(boot, rig):
    return boot(rig.run_args)


def test_devices_go_packed_on_request(m, rig):
    for dev in DEVICES:
        assert "ring=packed" not in ok(m, "virtio info %s" % dev)  # default: split
    assert ok(m, "virtio packed on") == "packed ring on (from the next init of each device)"
    for dev in DEVICES:
        out = ok(m, "virtio reset %s 1" % dev, timeout=60)
        assert out.startswith("reset 1 cycles ok, status 0xf"), out
        assert "ring=packed" in ok(m, "virtio info %s" % dev), dev


def test_packed_blk_reads_and_writes(m, rig):
    assert guest_sha(ok(m, "blk read vblk0 0 2048")) == sha(rig.disk[:1 << 20])
    out = ok(m, "virtio inflight vblk0 64 48 16")
    assert guest_sha(out) == sha(rig.disk[64 * SECTOR:64 * SECTOR + 48 * 4096])
    assert int(re.search(r"max_in_flight=(\d+)", out).group(1)) == 16
    ok(m, "blk fill vblk0 100 24 0xa5")
    assert ok(m, "blk flush vblk0") == "flushed"
    with open(rig.disk_path, "rb") as f:
        host = f.read()
    assert host[100 * SECTOR:124 * SECTOR] == b"\xa5" * (24 * SECTOR)
    assert host[:100 * SECTOR] == rig.disk[:100 * SECTOR]
    assert host[124 * SECTOR:] == rig.disk[124 * SECTOR:]
    # past the end: an error, and the queue still works
    out = m.run("blk read vblk0 %d 8" % (DISK_BYTES // SECTOR))
    assert out.startswith("error: blk read vblk0"), out
    assert guest_sha(ok(m, "blk read vblk0 0 8")) == sha(rig.disk[:4096])


def test_packed_rng_net_console_pmem(m, rig):
    # rng-random reads the file in order; the first consumer was the reset's
    # one request, so compare against what follows whatever it took
    got = guest_sha(ok(m, "rng read vrng0 4096"))
    assert got in {sha(rig.rng[o:o + 4096]) for o in range(0, 4096 * 4 + 1)}
    rig.udp_drain()
    frames = []
    for i, n in enumerate((60, 333, 1514)):
        body = bytes((i * 5 + k) & 0xff for k in range(n - 14))
        frames.append(b"\xff" * 6 + bytes([0x52, 0x54, 0, 0x12, 0x34, i]) + b"\x88\xb5" + body)
    for f in frames:
        rig.udp.sendto(f, ("127.0.0.1", rig.qemu_port))
    ok(m, "net echo vnet0 3")
    assert [rig.udp.recv(65536) for _ in frames] == frames
    con = rig.console_sock()
    con.settimeout(0.2)
    try:
        while con.recv(4096):
            pass
    except socket.timeout:
        pass
    con.settimeout(5)
    assert ok(m, "console write vcon0 packed-guest") == "wrote 12 bytes"
    data = b""
    while len(data) < 12:
        data += con.recv(4096)
    assert data == b"packed-guest"
    con.sendall(b"packed-host")
    time.sleep(0.2)
    assert ok(m, "console read vcon0") == "read 11 bytes: packed-host"
    assert guest_sha(ok(m, "pmem read vpmem0 0 65536")) == sha(rig.pmem[:65536])
    ok(m, "pmem fill vpmem0 8192 4096 0x3c")
    assert ok(m, "pmem flush vpmem0") == "flushed"
    with open(rig.pmem_path, "rb") as f:
        assert f.read()[8192:12288] == b"\x3c" * 4096


def test_packed_reset_cycles_then_back_to_split(m, rig):
    for dev in DEVICES:
        out = ok(m, "virtio reset %s 20" % dev, timeout=120)
        assert out.startswith("reset 20 cycles ok, status 0xf"), out
        info = ok(m, "virtio info %s" % dev)
        assert "ring=packed" in info, info
        assert re.search(r"polled=0 interrupts=[1-9]\d* .*lost_interrupts=0", info), info
    assert ok(m, "virtio packed off") == "packed ring off (from the next init of each device)"
    out = ok(m, "virtio reset vblk0 1", timeout=60)
    assert "ring=packed" not in ok(m, "virtio info vblk0")
    with open(rig.disk_path, "rb") as f:
        host = f.read()
    assert guest_sha(ok(m, "blk read vblk0 0 256")) == sha(host[:256 * SECTOR])


def test_mmio_packed_on_microvm(boot, tmp_path):
    """virtio-mmio (microvm, PVH) with packed=on: same three addresses in
    QueueDesc / QueueDriver / QueueDevice, blk and rng checked against the
    host files."""
    disk = str(tmp_path / "disk.img")
    pattern = bytes((i * 11 + 5) & 0xFF for i in range(2048 * SECTOR))
    with open(disk, "wb") as f:
        f.write(pattern)
    src = str(tmp_path / "entropy.bin")
    entropy = bytes((i * 29 + 1) & 0xFF for i in range(1 << 14))
    with open(src, "wb") as f:
        f.write(entropy)
    c = boot(["--machine", "microvm", "--",
              "-drive", "if=none,id=d0,format=raw,file=" + disk,
              "-device", "virtio-blk-device,drive=d0,packed=on",
              "-object", "rng-random,id=r0,filename=" + src,
              "-device", "virtio-rng-device,rng=r0,packed=on"])
    assert "vblk0 blk mmio" in ok(c, "devices")
    ok(c, "virtio packed on")
    for dev in ("vblk0", "vrng0"):
        assert ok(c, "virtio reset %s 1" % dev).startswith("reset 1 cycles ok, status 0xf")
        assert "ring=packed" in ok(c, "virtio info %s" % dev)
    assert guest_sha(ok(c, "blk read vblk0 0 256")) == sha(pattern[:256 * SECTOR])
    assert "wrote 8 sectors" in ok(c, "blk fill vblk0 16 8 171")
    assert ok(c, "blk flush vblk0") == "flushed"
    got = guest_sha(ok(c, "rng read vrng0 64"))
    assert got in {sha(entropy[o:o + 64]) for o in range(0, 8192)}
    for dev in ("vblk0", "vrng0"):
        info = ok(c, "virtio info %s" % dev)
        assert re.search(r"polled=0 interrupts=[1-9]\d* .*lost_interrupts=0", info), info
    c.run_until_exit("poweroff 0")
    with open(disk, "rb") as f:
        data = f.read()
    assert data[16 * SECTOR:24 * SECTOR] == bytes([171]) * 4096
    assert data[:16 * SECTOR] == pattern[:16 * SECTOR]
    assert data[24 * SECTOR:] == pattern[24 * SECTOR:]
