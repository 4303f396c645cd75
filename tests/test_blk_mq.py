# SPDX-License-Identifier: Apache-2.0
"""blk multiqueue (VIRTIO_BLK_F_MQ, VIRTIO 1.2 5.2.2-5.2.4) against devices
we did not write and against our daemon: the ringloop guest driver sets up
min(num_queues, 4) request queues, and `bench blk <dev> ... queues N`
spreads its requests over N of them from one CPU.

- QEMU's virtio-blk-pci with num-queues=2: `virtio info` says queues=2, and
  after the bench both queues submitted and completed requests; data
  written through the guest lands in the file.
- build/host/ringloop-vhost-user-blk --num-queues 2 behind vhost-user-blk-pci
  num-queues=2: both rings run ("device running (2 of 2 rings"), and the
  daemon's per-ring lines show each ring completed exactly what the guest
  says it completed on that queue.

Each test boots its own machine and owns its files.
"""

import os
import random
import re
import tempfile

import pytest

from vhost_backend import DAEMON, Backend

SECTOR = 512
DISK_BYTES = 8 << 20


def ok(c, cmd, timeout=60):
    out = c.run(cmd, timeout=timeout)
    assert "error" not in out, "%r: %s" % (cmd, out)
    return out


def vblk(c):
    out = ok(c, "devices")
    m = re.search(r"^\s*(vblk\d+)\s+blk\s+pci", out, re.M)
    assert m, "no PCI blk device: " + out
    return m.group(1)


def queue_counts(c, dev):
    """{queue: (submitted, completed, in_flight)} from `virtio info`."""
    out = ok(c, "virtio info %s" % dev)
    got = {int(q): (int(s), int(d), int(f)) for q, s, d, f in re.findall(
        r"^\s*q(\d+) blk submitted=(\d+) completed=(\d+) in_flight=(\d+)", out, re.M)}
    m = re.search(r"queues=(\d+)", out)
    assert m, out
    return int(m.group(1)), got


def bench_two_queues(c, dev):
    out = ok(c, "bench blk %s 8 1 queues 2" % dev, timeout=180)
    assert "2 of 2 queues" in out, out
    per = dict((int(q), int(n)) for q, n in
               re.findall(r"# queue (\d+): (\d+) requests submitted", out))
    assert set(per) == {0, 1}, out
    return per


def test_qemu_virtio_blk_pci_two_queues(boot):
    tmp = tempfile.mkdtemp(prefix="blkmq_")
    path = os.path.join(tmp, "disk.img")
    disk = random.Random(13).randbytes(DISK_BYTES)
    with open(path, "wb") as f:
        f.write(disk)
    c = boot(["--", "-drive", "if=none,id=d0,format=raw,file=%s" % path,
              "-device", "virtio-blk-pci,drive=d0,num-queues=2"])
    dev = vblk(c)
    nq, before = queue_counts(c, dev)
    assert nq == 2 and set(before) == {0, 1}, before
    per = bench_two_queues(c, dev)
    nq, after = queue_counts(c, dev)
    for q in (0, 1):
        sub, done, inflight = after[q]
        # Every request the bench put on queue q came back on queue q.
        assert sub - before[q][0] >= per[q] > 0, (q, before, after, per)
        assert sub == done and inflight == 0, after
    print("virtio-blk-pci num-queues=2, guest per queue: %s" % after)
    ok(c, "blk fill %s 300 16 0x4d" % dev)
    ok(c, "blk flush %s" % dev)
    c.run_until_exit("poweroff 0", timeout=60)
    with open(path, "rb") as f:
        data = f.read()
    assert data[300 * SECTOR:316 * SECTOR] == b"\x4d" * 16 * SECTOR


def test_qemu_virtio_blk_pci_one_queue(boot):
    """Without num-queues>1 QEMU offers no MQ: one queue, and asking the
    bench for two is a clear error."""
    tmp = tempfile.mkdtemp(prefix="blkmq_")
    path = os.path.join(tmp, "disk.img")
    with open(path, "wb") as f:
        f.write(bytes(DISK_BYTES))
    c = boot(["--", "-drive", "if=none,id=d0,format=raw,file=%s" % path,
              "-device", "virtio-blk-pci,drive=d0,num-queues=1"])
    dev = vblk(c)
    nq, counts = queue_counts(c, dev)
    assert nq == 1 and set(counts) == {0}, counts
    out = c.run("bench blk %s 8 1 queues 2" % dev, timeout=60)
    assert "error: bench blk: '%s' has 1 request queue, not 2" % dev in out, out


@pytest.mark.skipif(not os.path.exists(DAEMON),
                    reason="build/host/ringloop-vhost-user-blk not built (make host)")
def test_daemon_two_queues(boot):
    b = Backend(num_queues=2, args=["--num-queues", "2"])
    try:
        c = boot(b.run_args)
        dev = vblk(c)
        ok(c, "blk fill %s 1000 32 0x77" % dev)
        ok(c, "blk flush %s" % dev)
        per = bench_two_queues(c, dev)
        nq, counts = queue_counts(c, dev)
        assert nq == 2, counts
        c.run_until_exit("poweroff 0", timeout=60)
        assert b.stop() == 0, b.log_text()
        log = b.log_text()
        assert "device running (2 of 2 rings, mask 0x3)" in log, log
        rings = {int(q): int(n) for q, n in
                 re.findall(r"I/O engine \S+: ring (\d+): (\d+) requests", log)}
        assert set(rings) == {0, 1}, log
        for q in (0, 1):
            assert rings[q] > 0 and per[q] > 0, (rings, per)
        print("daemon rings: %s; guest bench per queue: %s" % (rings, per))
        data = b.file_bytes()
        assert data[1000 * SECTOR:1032 * SECTOR] == b"\x77" * 32 * SECTOR
    finally:
        b.close()
