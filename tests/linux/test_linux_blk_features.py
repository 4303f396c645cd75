# SPDX-License-Identifier: Apache-2.0
"""Linux's own virtio_blk (Debian 12's kernel) uses the optional block
features of build/host/ringloop-vhost-user-blk (VIRTIO 1.2 5.2, issue 14)
through QEMU's vhost-user-blk-pci: DISCARD, WRITE_ZEROES with and without
unmap, CONFIG_WCE.

In the guest (tests/linux/guest/blkfeat.sh): the queue limits Linux took
from our config space; BLKDISCARD, BLKZEROOUT (WRITE_ZEROES, unmap clear)
and fallocate PUNCH_HOLE on the device (WRITE_ZEROES, unmap set) over ranges
it first filled with random bytes, each read back as zeroes with O_DIRECT;
the cache switched to write through and back. On the host: the discarded
and punched ranges are holes in the file (SEEK_HOLE / SEEK_DATA), every
range reads as zeroes, nothing else changed, and the daemon saw both
SET_CONFIG writes of `writeback`.
"""

import os

import linux_guest as lg
from conftest import DISK_BYTES

SECTOR = 512
DISCARD = (2048, 2048)   # 1 MiB
ZEROOUT = (5000, 100)    # not block-aligned
PUNCH = (8192, 1024)     # 512 KiB
DEADLINE = 180


def span(sector, count):
    return slice(sector * SECTOR, (sector + count) * SECTOR)


def is_hole(path, start, length):
    fd = os.open(path, os.O_RDONLY)
    try:
        if os.lseek(fd, start, os.SEEK_HOLE) != start:
            return False
        try:
            return os.lseek(fd, start, os.SEEK_DATA) >= start + length
        except OSError:  # ENXIO: no data after start
            return True
    finally:
        os.close(fd)


def test_linux_virtio_blk_discard_write_zeroes_wce(linux_guest, backend, guest_log):
    env = {"discard": "%d+%d" % DISCARD, "zeroout": "%d+%d" % ZEROOUT, "punch": "%d+%d" % PUNCH}
    res = linux_guest.run("blkfeat", qemu_args=backend.device_args(), deadline=DEADLINE,
                          env=env, log=guest_log)
    print(res.summary())
    tail = "\n".join(res.console.splitlines()[-30:])
    assert res.verdict == lg.COMPLETED, "%s\n%s" % (res.summary(), tail)
    assert res.status == 0 and not res.failures, "%s\n%s" % (res.summary(), tail)

    lim = res.tag("limits")
    assert lim is not None, tail
    # Linux took our limits (hostsim/dev_blk_ext.c defaults: 0x3fffff
    # sectors, 32 segments) and the write-back cache.
    assert int(lim["discard_max_bytes"]) == 0x3fffff * SECTOR, lim
    assert int(lim["max_discard_segments"]) == 32, lim
    assert int(lim["write_zeroes_max_bytes"]) == 0x3fffff * SECTOR, lim
    assert lim["cache_type"] == "write-back", lim
    for op in ("discard", "zeroout", "punch"):
        assert res.ok(op) and res.ok("zeroes-" + op), (op, res.failures)
    discards = {t["op"]: int(t["discards"]) for t in res.tags("requests")}
    assert discards["discard"] >= 1, discards
    cache = {t["step"]: t["cache_type"] for t in res.tags("cache")}
    assert cache == {"off": "write-through", "on": "write-back"}, cache

    assert backend.stop() == 0, backend.log_text()
    data = backend.file_bytes()
    expect = bytearray(backend.disk)
    for s, n in (DISCARD, ZEROOUT, PUNCH):
        expect[span(s, n)] = bytes(n * SECTOR)
    assert data == bytes(expect), "the file is not the original with the three ranges zeroed"
    assert is_hole(backend.disk_path, DISCARD[0] * SECTOR, DISCARD[1] * SECTOR)
    assert is_hole(backend.disk_path, PUNCH[0] * SECTOR, PUNCH[1] * SECTOR)
    log = backend.log_text()
    assert "SET_CONFIG: cache writethrough" in log, log
    assert "SET_CONFIG: cache writeback" in log, log
