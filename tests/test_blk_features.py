# SPDX-License-Identifier: Apache-2.0
"""blk DISCARD / WRITE_ZEROES / CONFIG_WCE / RO (VIRTIO 1.2 5.2, issue 14)
against devices we did not write and against our daemon, checked from the
host: QEMU's virtio-blk-pci over a raw file pytest owns (discard=unmap, so
discards reach the file), and build/host/ringloop-vhost-user-blk behind
QEMU's vhost-user-blk-pci.

After `blk discard` the range is a hole in the file (os.lseek SEEK_HOLE /
SEEK_DATA) and reads back as zeroes; after `blk zeroes` it reads back as
zeroes from the host and the guest, with `unmap` a hole; nothing outside a
range changes. `cache.writeback=on|off` on the drive is what `blk wce` and
`virtio info` report, and `blk wce <dev> on|off` reaches QEMU's block layer
(QMP query-block) or the daemon (its SET_CONFIG line). The daemon's
--read-only makes every write fail in the guest before it is sent.

Every machine is booted per test (the disk file is part of its arguments);
each test owns its files under /tmp.
"""

import hashlib
import os
import random
import re
import shutil
import tempfile

import pytest

from qmp import qmp

from vhost_backend import DAEMON, Backend

SECTOR = 512
DISK_BYTES = 8 << 20
BLOCK = 4096  # host file system block: holes are whole blocks


def sha(data):
    return hashlib.sha256(data).hexdigest()


def ok(c, cmd, timeout=60):
    out = c.run(cmd, timeout=timeout)
    assert "error" not in out, "%r: %s" % (cmd, out)
    return out


def guest_sha(out):
    m = re.search(r"sha256 ([0-9a-f]{64})", out)
    assert m, out
    return m.group(1)


def vblk(c):
    out = ok(c, "devices")
    m = re.search(r"^\s*(vblk\d+)\s+blk\s+pci", out, re.M)
    assert m, "no PCI blk device: " + out
    return m.group(1)


def blk_info(c, dev):
    """The `  blk: k=v ...` line of `virtio info` as a dict."""
    out = ok(c, "virtio info %s" % dev)
    m = re.search(r"^\s*blk: (.*)$", out, re.M)
    assert m, out
    return dict(kv.split("=", 1) for kv in m.group(1).split())


def is_hole(path, start, length):
    """Is [start, start + length) all hole in the file?"""
    fd = os.open(path, os.O_RDONLY)
    try:
        if os.lseek(fd, start, os.SEEK_HOLE) != start:
            return False
        try:
            nxt = os.lseek(fd, start, os.SEEK_DATA)
        except OSError:  # ENXIO: no data after start at all
            return True
        return nxt >= start + length
    finally:
        os.close(fd)


def is_data(path, start):
    fd = os.open(path, os.O_RDONLY)
    try:
        return os.lseek(fd, start, os.SEEK_DATA) == start
    finally:
        os.close(fd)


def read_file(path):
    with open(path, "rb") as f:
        return f.read()


def expect_only_zeroed(path, before, ranges):
    """The file equals before with each (lba, count) of ranges zeroed."""
    want = bytearray(before)
    for lba, count in ranges:
        want[lba * SECTOR:(lba + count) * SECTOR] = bytes(count * SECTOR)
    got = read_file(path)
    assert len(got) == len(want)
    if got != bytes(want):
        first = next(i for i in range(len(got)) if got[i] != want[i])
        pytest.fail("disk differs at byte %d (sector %d)" % (first, first // SECTOR))


class QemuDisk:
    """A raw file of random bytes behind QEMU's virtio-blk-pci, and QMP."""

    def __init__(self, writeback=True, seed=14, device_opts="", drive_opts=""):
        self.dir = tempfile.mkdtemp(prefix="blkfeat_")
        self.path = os.path.join(self.dir, "disk.img")
        self.disk = random.Random(seed).randbytes(DISK_BYTES)
        with open(self.path, "wb") as f:
            f.write(self.disk)
        self.qmp_path = os.path.join(self.dir, "qmp.sock")
        self.run_args = [
            "--",
            "-drive", "if=none,id=d0,format=raw,discard=unmap,cache.writeback=%s,file=%s%s"
            % ("on" if writeback else "off", self.path, drive_opts),
            "-device", "virtio-blk-pci,drive=d0" + device_opts,
            "-qmp", "unix:%s,server=on,wait=off" % self.qmp_path,
        ]

    def qmp(self, command, arguments=None):
        return qmp(self.qmp_path, command, arguments)

    def host_writeback(self):
        """QEMU's block layer: is drive d0's write cache on?"""
        for b in self.qmp("query-block")["return"]:
            if b["device"] == "d0":
                return b["inserted"]["cache"]["writeback"]
        raise AssertionError("no d0 in query-block")

    def close(self):
        shutil.rmtree(self.dir, ignore_errors=True)


@pytest.fixture
def qdisk():
    d = QemuDisk()
    yield d
    d.close()


@pytest.fixture
def qdisk_wt():
    d = QemuDisk(writeback=False)
    yield d
    d.close()


@pytest.fixture
def qdisk_limits():
    # Small limits and 4 KiB logical blocks: discard_sector_alignment 8,
    # physical 16 KiB (exp 2), min/opt I/O 2 / 16 blocks.
    d = QemuDisk(device_opts=",max-discard-sectors=1024,max-write-zeroes-sectors=512,"
                 "logical_block_size=4096,physical_block_size=16384,"
                 "min_io_size=8192,opt_io_size=65536")
    yield d
    d.close()


def discard_zeroes_checks(c, dev, path, before, info):
    """The same discard / write-zeroes checks on whichever device."""
    assert info["discard"] == "1" and info["write_zeroes"] == "1", info
    # Discard 128 KiB, block-aligned: a hole, zeroes from the guest.
    assert ok(c, "blk discard %s 2048 256" % dev).strip().endswith("discarded 256 sectors")
    assert is_hole(path, 2048 * SECTOR, 256 * SECTOR)
    assert is_data(path, 2048 * SECTOR - BLOCK)  # the block before is still data
    assert guest_sha(ok(c, "blk read %s 2048 256" % dev)) == sha(bytes(256 * SECTOR))
    # Write zeroes without unmap: zeroes, from both sides.
    assert "zeroed 64 sectors" in ok(c, "blk zeroes %s 4100 64" % dev)
    assert guest_sha(ok(c, "blk read %s 4100 64" % dev)) == sha(bytes(64 * SECTOR))
    # With unmap: a hole where whole blocks are covered.
    assert "zeroed 256 sectors (unmap)" in ok(c, "blk zeroes %s 6144 256 unmap" % dev)
    # A discard bigger than one request may carry (the driver splits it).
    n = int(info["max_discard_sectors"])
    big = min(8192, DISK_BYTES // SECTOR - 8192)
    assert "discarded %d sectors" % big in ok(c, "blk discard %s 8192 %d" % (dev, big))
    assert guest_sha(ok(c, "blk read %s 8192 %d" % (dev, big))) == sha(bytes(big * SECTOR))
    ok(c, "blk flush %s" % dev)
    expect_only_zeroed(path, before, [(2048, 256), (4100, 64), (6144, 256), (8192, big)])
    # Past the capacity: refused, one error line, the device still serves.
    cap = DISK_BYTES // SECTOR
    out = c.run("blk discard %s %d 16" % (dev, cap - 8))
    assert out.startswith("error: blk discard"), out
    assert guest_sha(ok(c, "blk read %s 0 8" % dev)) == sha(before[:8 * SECTOR])
    return n


def test_qemu_discard_write_zeroes_holes(boot, qdisk):
    c = boot(qdisk.run_args)
    dev = vblk(c)
    info = blk_info(c, dev)
    n = discard_zeroes_checks(c, dev, qdisk.path, qdisk.disk, info)
    assert n >= 1
    # QEMU punches holes for write zeroes with unmap (discard=unmap).
    assert is_hole(qdisk.path, 6144 * SECTOR, 256 * SECTOR)


def test_qemu_limits_split_and_alignment(boot, qdisk_limits):
    d = qdisk_limits
    c = boot(d.run_args)
    dev = vblk(c)
    info = blk_info(c, dev)
    assert (info["max_discard_sectors"], info["max_write_zeroes_sectors"]) == ("1024", "512"), info
    assert (info["blk_size"], info["discard_sector_alignment"]) == ("4096", "8"), info
    assert (info["topology"], info["physical_block_exp"]) == ("1", "2"), info
    assert (info["min_io_size"], info["opt_io_size"]) == ("2", "16"), info
    # 8192 sectors: 8 discard requests of 1024, 16 write-zeroes of 512; QEMU
    # (IOERR past its limits) takes them all.
    assert "discarded 8192 sectors" in ok(c, "blk discard %s 0 8192" % dev)
    assert is_hole(d.path, 0, 8192 * SECTOR)
    assert "zeroed 8192 sectors (unmap)" in ok(c, "blk zeroes %s 8192 8192 unmap" % dev)
    assert guest_sha(ok(c, "blk read %s 8192 8192" % dev)) == sha(bytes(8192 * SECTOR))
    # Off the 8-sector alignment: refused before sending, nothing changed.
    before = read_file(d.path)
    out = c.run("blk discard %s 12 8" % dev)
    assert "off the alignment" in out, out
    out = c.run("blk discard %s 16 12" % dev)
    assert "off the alignment" in out, out
    assert read_file(d.path) == before
    ok(c, "blk flush %s" % dev)
    expect_only_zeroed(d.path, d.disk, [(0, 8192), (8192, 8192)])


def test_qemu_wce_writeback_on(boot, qdisk):
    c = boot(qdisk.run_args)
    dev = vblk(c)
    info = blk_info(c, dev)
    assert info["wce"] == "1" and info["cache"] == "writeback", info
    assert ok(c, "blk wce %s" % dev).strip().endswith("cache writeback")
    assert qdisk.host_writeback() is True
    # The guest switches QEMU's cache to writethrough and back.
    assert ok(c, "blk wce %s off" % dev).strip().endswith("cache writethrough")
    assert qdisk.host_writeback() is False
    assert blk_info(c, dev)["cache"] == "writethrough"
    assert ok(c, "blk wce %s on" % dev).strip().endswith("cache writeback")
    assert qdisk.host_writeback() is True
    out = c.run("blk wce %s maybe" % dev)
    assert out.strip().startswith("error: usage: blk wce"), out


def test_qemu_wce_writeback_off(boot, qdisk_wt):
    c = boot(qdisk_wt.run_args)
    dev = vblk(c)
    assert qdisk_wt.host_writeback() is False
    info = blk_info(c, dev)
    assert info["cache"] == "writethrough", info
    assert ok(c, "blk wce %s" % dev).strip().endswith("cache writethrough")
    # Data written in writethrough mode is in the file at once.
    ok(c, "blk fill %s 100 8 0x5a" % dev)
    assert read_file(qdisk_wt.path)[100 * SECTOR:108 * SECTOR] == b"\x5a" * 8 * SECTOR


def test_qemu_read_only(boot):
    d = QemuDisk(seed=16, drive_opts=",readonly=on")
    try:
        c = boot(d.run_args)
        dev = vblk(c)
        assert blk_info(c, dev)["ro"] == "1"
        for cmd in ("blk fill %s 0 8 0x11" % dev, "blk discard %s 0 8" % dev,
                    "blk zeroes %s 0 8 unmap" % dev):
            out = c.run(cmd)
            assert "-30)" in out, (cmd, out)  # -EROFS, from the driver
        assert guest_sha(ok(c, "blk read %s 0 8" % dev)) == sha(d.disk[:8 * SECTOR])
        assert read_file(d.path) == d.disk
    finally:
        d.close()


pytestmark_daemon = pytest.mark.skipif(
    not os.path.exists(DAEMON), reason="build/host/ringloop-vhost-user-blk not built (make host)")


@pytest.fixture
def vub():
    b = Backend(seed=14)
    yield b
    b.close()


@pytestmark_daemon
def test_daemon_discard_write_zeroes_holes(boot, vub):
    c = boot(vub.run_args)
    dev = vblk(c)
    info = blk_info(c, dev)
    assert info["write_zeroes_may_unmap"] == "1", info
    discard_zeroes_checks(c, dev, vub.disk_path, vub.disk, info)
    # Our daemon punches for write zeroes with unmap.
    assert is_hole(vub.disk_path, 6144 * SECTOR, 256 * SECTOR)


@pytestmark_daemon
def test_daemon_wce_toggle(boot, vub):
    c = boot(vub.run_args)
    dev = vblk(c)
    assert blk_info(c, dev)["cache"] == "writeback"
    assert ok(c, "blk wce %s off" % dev).strip().endswith("cache writethrough")
    assert "SET_CONFIG: cache writethrough" in vub.log_text()
    ok(c, "blk fill %s 10 8 0x33" % dev)
    assert vub.file_bytes()[10 * SECTOR:18 * SECTOR] == b"\x33" * 8 * SECTOR
    assert ok(c, "blk wce %s on" % dev).strip().endswith("cache writeback")
    assert "SET_CONFIG: cache writeback" in vub.log_text()


@pytestmark_daemon
def test_daemon_read_only_writethrough(boot):
    b = Backend(seed=15, args=["--read-only", "--writethrough"])
    try:
        c = boot(b.run_args)
        dev = vblk(c)
        info = blk_info(c, dev)
        assert info["ro"] == "1" and info["cache"] == "writethrough", info
        for cmd in ("blk fill %s 0 8 0x11" % dev, "blk discard %s 0 8" % dev,
                    "blk zeroes %s 0 8" % dev):
            out = c.run(cmd)
            assert "read-only" in out or "Read-only" in out, (cmd, out)
        assert guest_sha(ok(c, "blk read %s 0 8" % dev)) == sha(b.disk[:8 * SECTOR])
        assert b.file_bytes() == b.disk
        assert "read-only" in b.log_text()
    finally:
        b.close()
