# SPDX-License-Identifier: Apache-2.0
"""The vhost-user backend on packed rings (issue 11): QEMU's
`-device vhost-user-blk-pci,chardev=vu,packed=on` against
build/host/ringloop-vhost-user-blk, which offers VIRTIO_F_RING_PACKED.

On q35 OVMF drives the device first (its virtio-blk driver knows the split
ring only), then the ringloop image starts it split as well: two ring
starts, both split, before `virtio packed on` + `virtio reset` brings the
ring up packed (QEMU acks RING_PACKED, SET_VRING_BASE carries the packed
encoding). A write/read workload runs over it, enough requests to wrap the
128-entry ring, with the data checked in the disk file from the host. A QMP
stop/cont in the middle stops the ring (GET_VRING_BASE: the daemon's packed
base, both offsets and wrap counters) and restarts it where QEMU was told
(SET_VRING_BASE with that value): the round trip of the encoding through
QEMU, after which I/O goes on.

Each test owns its daemon, socket and disk file (tests/vhost_backend.py).
"""

import os
import re
import time

import pytest

from qmp import qmp

from test_vhost_user import guest_sha, ok, sha, vblk, write_verify
from vhost_backend import DAEMON, DISK_BYTES, Backend

SECTOR = 512

pytestmark = pytest.mark.skipif(not os.path.exists(DAEMON),
                                reason="build/host/ringloop-vhost-user-blk not built (make host)")


def packed_args(b, extra=()):
    """b's tools/run arguments with packed=on on the vhost-user-blk-pci device."""
    args = b.qemu_args(extra=extra)
    return [a + ",packed=on" if a.startswith("vhost-user-blk-pci") else a for a in args]


def starts(log):
    """The layout of every device start, in order ("split" / "packed")."""
    return re.findall(r"device running \(\d+ of \d+ rings?, mask 0x[0-9a-f]+\), (split|packed) rings",
                      log)


def stop_bases(log):
    return [int(v, 16) for v in re.findall(r"ring 0 stopped at base (0x[0-9a-f]+|0)", log)]


def wait_log(b, cond, timeout=20):
    end = time.monotonic() + timeout
    while True:
        log = b.log_text()
        if cond(log) or time.monotonic() > end:
            return log
        time.sleep(0.05)


def check_quiet_packed_base(base):
    """A packed base after a stop with nothing in flight: the next avail
    offset and wrap counter (bits 0-15) equal the next used ones (bits
    16-31), and the ring has moved from its start (0x80008000)."""
    assert base >> 16 == base & 0xffff, hex(base)
    assert base != 0x80008000, hex(base)


def test_packed_on_q35_ovmf_with_stop_cont(boot):
    b = Backend()
    try:
        qmp_path = os.path.join(b.dir, "qmp.sock")
        c = boot(packed_args(b, ["-qmp", "unix:%s,server=on,wait=off" % qmp_path]))
        dev = vblk(c)
        log = wait_log(b, lambda t: len(starts(t)) >= 2)
        # Firmware and image both started the ring, split: nothing asked
        # for packed yet (QEMU offers it, the drivers did not ack it).
        assert starts(log)[:2] == ["split", "split"], log
        assert "packed" not in starts(log), log
        assert "ring=packed" not in ok(c, "virtio info %s" % dev)
        assert ok(c, "virtio packed on").startswith("packed ring on")
        out = ok(c, "virtio reset %s 1" % dev, timeout=60)
        assert out.startswith("reset 1 cycles ok"), out
        info = ok(c, "virtio info %s" % dev)
        assert "ring=packed" in info, info
        log = wait_log(b, lambda t: starts(t)[-1:] == ["packed"])
        assert starts(log)[-1] == "packed", log

        expect = bytearray(b.disk)
        assert guest_sha(ok(c, "blk read %s 0 2048" % dev)) == sha(b.disk[:1 << 20])
        # 48 reads of 4 KiB, 16 in flight, then writes: well past one lap
        # of the ring (so both wrap counters have flipped at least once).
        for lba in (64, 4096):
            out = ok(c, "virtio inflight %s %d 48 16" % (dev, lba), timeout=120)
            assert guest_sha(out) == sha(b.disk[lba * SECTOR:lba * SECTOR + 48 * 4096])
        for i in range(8):
            sector, count, byte = 100 + 200 * i, 64 + 8 * i, 0x30 + i
            write_verify(c, b, dev, sector, count, byte)
            expect[sector * SECTOR:(sector + count) * SECTOR] = bytes([byte]) * count * SECTOR

        # Stop the VM: QEMU stops the ring (GET_VRING_BASE), then restarts
        # it with the base we gave (SET_VRING_BASE).
        n_starts = len(starts(b.log_text()))
        assert "return" in qmp(qmp_path, "stop")
        assert "return" in qmp(qmp_path, "cont")
        # QMP answers before the daemon has read (and logged) the restart.
        log = wait_log(b, lambda t: len(starts(t)) > n_starts)
        bases = stop_bases(log)
        assert bases, log
        check_quiet_packed_base(bases[-1])
        assert starts(log)[n_starts:] == ["packed"], log

        for i in range(4):
            sector, count, byte = 3000 + 300 * i, 128, 0xa0 + i
            write_verify(c, b, dev, sector, count, byte)
            expect[sector * SECTOR:(sector + count) * SECTOR] = bytes([byte]) * count * SECTOR
        out = ok(c, "virtio inflight %s 8192 48 16" % dev, timeout=120)
        assert guest_sha(out) == sha(bytes(expect[8192 * SECTOR:8192 * SECTOR + 48 * 4096]))
        assert guest_sha(ok(c, "blk read %s 0 2048" % dev)) == sha(bytes(expect[:1 << 20]))

        c.run_until_exit("poweroff 0", timeout=60)
        assert b.stop() == 0, b.log_text()
        assert b.file_bytes() == bytes(expect)
        log = b.log_text()
        assert "ring refused" not in log and "broken" not in log, log
        assert "disk synced" in log, log
    finally:
        b.close()


def test_packed_stays_split_without_the_guest_asking(boot):
    """packed=on with a guest that never acks it: the daemon runs split, the
    data still lands (the offer alone changes nothing)."""
    b = Backend()
    try:
        c = boot(packed_args(b))
        dev = vblk(c)
        write_verify(c, b, dev, 500, 96, 0x5c)
        assert guest_sha(ok(c, "blk read %s 9000 24" % dev)) == \
            sha(b.disk[9000 * SECTOR:9024 * SECTOR])
        c.run_until_exit("poweroff 0", timeout=60)
        assert b.stop() == 0, b.log_text()
        assert set(starts(b.log_text())) == {"split"}, b.log_text()
        assert b.file_bytes()[500 * SECTOR:596 * SECTOR] == b"\x5c" * 96 * SECTOR
        assert len(b.file_bytes()) == DISK_BYTES
    finally:
        b.close()
