# SPDX-License-Identifier: Apache-2.0
"""The drivers against QEMU's own virtio-*-pci devices (issue 5), checked
from the host side: pytest owns every backend (raw disk image, rng source
file, UDP socket behind the NIC, Unix socket behind the console, pmem
backing file, QMP socket) and compares what the guest reports with what it
wrote or reads back itself.

One machine carries all five devices (virtio PCI modern, MSI-X) and is
shared by the tests in file order; the last one powers it off and checks
the disk image. A second, small machine has MSI-X switched off
(vectors=0) to exercise the INTx + ISR path.

Invariants: the host files are written before the boot and only compared
after; each test leaves the machine at the prompt (except the last);
consuming tests (rng, net, console) drain what they caused.
"""

import hashlib
import os
import random
import re
import shutil
import socket
import tempfile
import time

import pytest

from qmp import qmp

SECTOR = 512
DISK_BYTES = 8 << 20
RNG_BYTES = 1 << 20
PMEM_BYTES = 4 << 20


def sha(data):
    return hashlib.sha256(data).hexdigest()


def free_udp_port():
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


class Rig:
    """Host-side ends of every device of the shared machine."""

    def __init__(self):
        self.dir = tempfile.mkdtemp(prefix="pci_qdev_")
        rnd = random.Random(5)
        self.disk_path = os.path.join(self.dir, "disk.img")
        self.disk = rnd.randbytes(DISK_BYTES)
        with open(self.disk_path, "wb") as f:
            f.write(self.disk)
        self.rng_path = os.path.join(self.dir, "rng.bin")
        self.rng = rnd.randbytes(RNG_BYTES)
        with open(self.rng_path, "wb") as f:
            f.write(self.rng)
        self.pmem_path = os.path.join(self.dir, "pmem.img")
        self.pmem = rnd.randbytes(PMEM_BYTES)
        with open(self.pmem_path, "wb") as f:
            f.write(self.pmem)
        # NIC: QEMU's dgram netdev <-> our UDP socket.
        self.udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.udp.bind(("127.0.0.1", 0))
        self.udp.settimeout(5)
        self.host_port = self.udp.getsockname()[1]
        self.qemu_port = free_udp_port()
        # Console: QEMU connects to our listening Unix socket at start-up.
        self.con_path = os.path.join(self.dir, "con.sock")
        self.con_listen = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.con_listen.bind(self.con_path)
        self.con_listen.listen(4)
        self.con = None
        self.qmp_path = os.path.join(self.dir, "qmp.sock")
        self.qemu = [
            "-m", "512M,slots=2,maxmem=2G",
            "-drive", "if=none,id=d0,format=raw,cache=writeback,file=%s" % self.disk_path,
            "-device", "virtio-blk-pci,drive=d0",
            "-object", "rng-random,id=rng0,filename=%s" % self.rng_path,
            "-device", "virtio-rng-pci,rng=rng0",
            "-netdev", "dgram,id=n0,local.type=inet,local.host=127.0.0.1,local.port=%d,"
            "remote.type=inet,remote.host=127.0.0.1,remote.port=%d"
            % (self.qemu_port, self.host_port),
            "-device", "virtio-net-pci,netdev=n0",
            "-device", "virtio-serial-pci",
            "-chardev", "socket,id=con0,path=%s" % self.con_path,
            "-device", "virtconsole,chardev=con0",
            "-object", "memory-backend-file,id=pm0,share=on,mem-path=%s,size=%d"
            % (self.pmem_path, PMEM_BYTES),
            "-device", "virtio-pmem-pci,memdev=pm0",
            "-qmp", "unix:%s,server=on,wait=off" % self.qmp_path,
        ]

    @property
    def run_args(self):
        return ["--"] + self.qemu

    def console_sock(self):
        """The connection QEMU made for the console (the newest one)."""
        self.con_listen.settimeout(0)
        while True:
            try:
                conn, _ = self.con_listen.accept()
            except (BlockingIOError, socket.timeout):
                break
            if self.con:
                self.con.close()
            self.con = conn
        assert self.con is not None, "QEMU never connected to the console socket"
        self.con.settimeout(5)
        return self.con

    def udp_drain(self):
        self.udp.settimeout(0.2)
        got = []
        try:
            while True:
                got.append(self.udp.recv(65536))
        except (BlockingIOError, socket.timeout):
            pass
        self.udp.settimeout(5)
        return got

    def qmp(self, command, arguments=None):
        return qmp(self.qmp_path, command, arguments)

    def close(self):
        for s in (self.udp, self.con_listen, self.con):
            if s:
                s.close()
        shutil.rmtree(self.dir, ignore_errors=True)


@pytest.fixture(scope="module")
def rig():
    r = Rig()
    yield r
    r.close()


@pytest.fixture
def m(boot, rig):
    """The shared machine with every device."""
    return boot(rig.run_args)


def ok(c, cmd, timeout=60):
    out = c.run(cmd, timeout=timeout)
    assert "error" not in out, "%r: %s" % (cmd, out)
    return out


def guest_sha(out):
    mm = re.search(r"sha256 ([0-9a-f]{64})", out)
    assert mm, out
    return mm.group(1)


def capacity(c, dev="vblk0"):
    mm = re.search(r"capacity=(\d+)", ok(c, "virtio info %s" % dev))
    assert mm
    return int(mm.group(1))


def test_devices_on_pci_with_msix(m):
    out = ok(m, "devices")
    for name, typ in (("vblk0", "blk"), ("vnet0", "net"), ("vrng0", "rng"), ("vcon0", "console")):
        assert re.search(r"^%s %s pci features=0x[0-9a-f]+ queues=\d+ irq=msix config=0x[0-9a-f]+ "
                         r"q0=0x[0-9a-f]+" % (name, typ), out, re.M), out
    # net: one entry per queue (receive, transmit, and the control queue
    # with CTRL_VQ); console (QEMU gives it 2 entries): queues share entry 1
    assert re.search(r"^vnet0 .* q0=(0x[0-9a-f]+) q1=(?!\1)(0x[0-9a-f]+) q2=(?!\1|\2)0x[0-9a-f]+$",
                     out, re.M), out
    # QEMU's virtio-pmem-pci has no MSI-X capability: INTx on a q35 PIRQ E-H GSI
    assert re.search(r"^vpmem0 pmem pci .* irq=intx gsi=2[0-3] vector=0x[0-9a-f]+$", out, re.M), out
    lspci = ok(m, "lspci")
    assert re.search(r"^\s+virtio vblk0 transport pci irq=msix", lspci, re.M), lspci


def test_blk_reads_the_host_pattern(m, rig):
    assert capacity(m) == DISK_BYTES // SECTOR
    assert guest_sha(ok(m, "blk read vblk0 0 2048")) == sha(rig.disk[:1 << 20])
    assert guest_sha(ok(m, "blk read vblk0 5000 24")) == sha(rig.disk[5000 * SECTOR:5024 * SECTOR])


def test_blk_requests_in_flight(m, rig):
    out = ok(m, "virtio inflight vblk0 64 48 16")
    assert guest_sha(out) == sha(rig.disk[64 * SECTOR:64 * SECTOR + 48 * 4096])
    assert int(re.search(r"max_in_flight=(\d+)", out).group(1)) == 16


def test_blk_edge_of_disk(m, rig):
    cap = DISK_BYTES // SECTOR
    # the last 4 KiB: fine, and the bytes are the file's last 4 KiB
    assert guest_sha(ok(m, "blk read vblk0 %d 8" % (cap - 8))) == sha(rig.disk[-4096:])
    # a 4 KiB request at the last sector, and one just past the end: errors
    for lba in (cap - 1, cap):
        out = m.run("blk read vblk0 %d 8" % lba)
        assert out.startswith("error: blk read vblk0"), out
    # still usable
    assert guest_sha(ok(m, "blk read vblk0 0 8")) == sha(rig.disk[:4096])


def test_rng_bytes_come_from_the_host_file(m, rig):
    # rng-random reads the file sequentially: this is the first consumer
    assert guest_sha(ok(m, "rng read vrng0 4096")) == sha(rig.rng[:4096])
    assert guest_sha(ok(m, "rng read vrng0 1000")) == sha(rig.rng[4096:5096])


def test_net_echo_over_udp(m, rig):
    rig.udp_drain()
    frames = []
    for i, n in enumerate((60, 333, 1514)):
        body = bytes((i * 7 + k) & 0xff for k in range(n - 14))
        frames.append(b"\xff" * 6 + bytes([0x52, 0x54, 0, 0x12, 0x34, i]) + b"\x88\xb5" + body)
    for f in frames:
        rig.udp.sendto(f, ("127.0.0.1", rig.qemu_port))
    ok(m, "net echo vnet0 3")
    got = [rig.udp.recv(65536) for _ in frames]
    assert got == frames


def test_console_both_directions(m, rig):
    con = rig.console_sock()
    assert ok(m, "console write vcon0 hello-from-guest") == "wrote 16 bytes"
    data = b""
    while len(data) < 16:
        data += con.recv(4096)
    assert data == b"hello-from-guest"
    con.sendall(b"ping-from-host")
    time.sleep(0.2)
    assert ok(m, "console read vcon0") == "read 14 bytes: ping-from-host"


def test_pmem_fill_flush_reaches_the_host_file(m, rig):
    assert guest_sha(ok(m, "pmem read vpmem0 0 65536")) == sha(rig.pmem[:65536])
    ok(m, "pmem fill vpmem0 8192 12288 0x5a")
    assert ok(m, "pmem flush vpmem0") == "flushed"
    with open(rig.pmem_path, "rb") as f:
        host = f.read()
    assert host[8192:20480] == b"\x5a" * 12288
    assert host[:8192] == rig.pmem[:8192] and host[20480:] == rig.pmem[20480:]


def test_reset_cycles_with_traffic(m, rig):
    rig.udp_drain()
    con = rig.console_sock()
    for dev in ("vblk0", "vrng0", "vnet0", "vcon0", "vpmem0"):
        out = ok(m, "virtio reset %s 100" % dev, timeout=120)
        assert out.startswith("reset 100 cycles ok, status 0xf"), out
    # the traffic reached the host: 100 frames, 100 console bytes
    frames = rig.udp_drain()
    assert len([f for f in frames if f[12:14] == b"\x88\xb5"]) == 100
    dots = b""
    con.settimeout(2)
    try:
        while len(dots) < 100:
            chunk = con.recv(4096)
            if not chunk:
                break
            dots += chunk
    except socket.timeout:
        pass
    assert dots == b"." * 100
    # and every device still works
    assert guest_sha(ok(m, "blk read vblk0 0 8")) == sha(rig.disk[:4096])
    assert re.search(r"^vblk0 blk pci .* irq=msix", ok(m, "devices"), re.M)
    # every completion so far came by interrupt (MSI-X, pmem: INTx), none
    # was found only by a wait's timeout
    for dev in ("vblk0", "vrng0", "vnet0", "vcon0", "vpmem0"):
        info = ok(m, "virtio info %s" % dev)
        assert re.search(r"polled=0 interrupts=[1-9]\d* .*lost_interrupts=0", info), info


def test_block_resize_is_a_config_change(m, rig):
    before = int(re.search(r"config_interrupts=(\d+)", ok(m, "virtio info vblk0")).group(1))
    r = rig.qmp("block_resize", {"device": "d0", "size": 2 * DISK_BYTES})
    assert "return" in r, r
    deadline = time.monotonic() + 10
    while capacity(m) != 2 * DISK_BYTES // SECTOR:
        assert time.monotonic() < deadline, "guest never saw the new capacity"
        time.sleep(0.2)
    after = int(re.search(r"config_interrupts=(\d+)", ok(m, "virtio info vblk0")).group(1))
    assert after > before
    # the new space is readable (zeroes past the old end)
    assert guest_sha(ok(m, "blk read vblk0 %d 8" % (DISK_BYTES // SECTOR))) == sha(bytes(4096))


def test_bench_blk_smoke(m, rig):
    # figures are printed, never asserted: only that every row ran
    out = ok(m, "bench blk vblk0 32 1", timeout=60)
    assert len(re.findall(r"^\s+32\s+(hlt|spin|poll)\s+[1-9]\d*\s+\d+\.\d{3}\s+\d+\.\d{3}$",
                          out, re.M)) == 3, out
    # the polled row re-initialised the device: back on MSI-X, still working
    assert re.search(r"^vblk0 blk pci .* irq=msix", ok(m, "devices"), re.M)
    assert guest_sha(ok(m, "blk read vblk0 0 8")) == sha(rig.disk[:4096])


def test_blk_fill_flush_is_in_the_file_after_exit(m, rig):
    ok(m, "blk fill vblk0 100 24 0xa5")
    assert ok(m, "blk flush vblk0") == "flushed"
    assert m.run_until_exit("poweroff 0") == 0
    with open(rig.disk_path, "rb") as f:
        host = f.read()
    assert host[100 * SECTOR:124 * SECTOR] == b"\xa5" * (24 * SECTOR)
    assert host[:100 * SECTOR] == rig.disk[:100 * SECTOR]
    assert host[124 * SECTOR:DISK_BYTES] == rig.disk[124 * SECTOR:]


def test_intx_fallback_without_msix(boot, tmp_path):
    d = tempfile.mkdtemp(prefix="pci_intx_")
    try:
        disk = random.Random(9).randbytes(1 << 20)
        with open(os.path.join(d, "disk.img"), "wb") as f:
            f.write(disk)
        rng = random.Random(10).randbytes(8192)
        with open(os.path.join(d, "rng.bin"), "wb") as f:
            f.write(rng)
        c = boot(["--",
                  "-drive", "if=none,id=d1,format=raw,file=%s" % os.path.join(d, "disk.img"),
                  "-device", "virtio-blk-pci,drive=d1,vectors=0",
                  "-object", "rng-random,id=r1,filename=%s" % os.path.join(d, "rng.bin"),
                  "-device", "virtio-rng-pci,rng=r1,vectors=0"])
        out = ok(c, "devices")
        assert re.search(r"^vblk0 blk pci .* irq=intx gsi=2[0-3] vector=0x[0-9a-f]+$", out, re.M), out
        assert re.search(r"^vrng0 rng pci .* irq=intx gsi=2[0-3]", out, re.M), out
        assert guest_sha(ok(c, "blk read vblk0 0 256")) == sha(disk[:256 * SECTOR])
        assert guest_sha(ok(c, "rng read vrng0 4096")) == sha(rng[:4096])
        info = ok(c, "virtio info vblk0")
        # completions came by interrupt, not by the wait's timeout
        assert re.search(r"polled=0 interrupts=[1-9]\d* .*lost_interrupts=0", info), info
        assert c.run_until_exit("poweroff 0") == 0
    finally:
        shutil.rmtree(d, ignore_errors=True)
