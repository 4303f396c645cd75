# SPDX-License-Identifier: Apache-2.0
"""Linux's own virtio_blk driver (Debian 12's kernel, the tiny guest of
tests/linux/linux_guest.py) against build/host/ringloop-vhost-user-blk,
through QEMU's vhost-user-blk-pci.

In the guest (tests/linux/guest/blk.sh): the disk's size as Linux sees it;
an O_DIRECT read of the first MiB; O_DIRECT writes of random bytes to
regions of different sizes and alignments (one sector, one page, an odd
run across page boundaries, 1 MiB, the last sectors of the disk), each
read back with O_DIRECT and compared; an fsync of the device (a FLUSH).
On the host: the first MiB's hash is the file's, each region in the file
hashes to what the guest wrote, nothing else in the file changed, and the
daemon saw the device run and the disk synced.
"""

import hashlib
import os

import pytest

import linux_guest as lg
from conftest import DISK_BYTES

SECTOR = 512
SECTORS = DISK_BYTES // SECTOR
READ = (0, 2048)
# (first sector, sectors): unaligned single sector, one page, an odd run
# crossing page boundaries, 1 MiB, and the end of the disk.
# They do not overlap, so each one's bytes can be checked in the file.
REGIONS = [(7, 1), (100, 8), (5001, 37), (2048, 2048), (SECTORS - 8, 8)]
DEADLINE = 180  # s; ~7 s on an idle machine


def sha(data):
    return hashlib.sha256(data).hexdigest()


def span(sector, count):
    return slice(sector * SECTOR, (sector + count) * SECTOR)


def test_linux_virtio_blk_on_ringloop_vhost_user(linux_guest, backend, guest_log):
    ends = sorted((s, s + n) for s, n in REGIONS)
    assert all(a[1] <= b[0] for a, b in zip(ends, ends[1:])), "overlapping regions"
    res = linux_guest.run("blk", qemu_args=backend.device_args(), deadline=DEADLINE,
                          env={"read": "%d+%d" % READ,
                               "write": ",".join("%d+%d" % r for r in REGIONS)},
                          log=guest_log)
    print(res.summary())
    tail = "\n".join(res.console.splitlines()[-30:])
    assert res.verdict == lg.COMPLETED, "%s\n%s" % (res.summary(), tail)
    assert res.status == 0 and not res.failures, "%s\n%s" % (res.summary(), tail)
    assert res.powered_off, res.summary()

    disk = res.tag("disk")
    assert disk is not None, tail
    assert int(disk["sectors"]) == SECTORS and disk["lbs"] == "512", disk
    # Linux reads what the file holds.
    read = res.tag("read")
    assert read is not None and read["sha256"] == sha(backend.disk[span(*READ)]), read

    written = {int(t["region"]): t for t in res.tags("written")}
    readback = {int(t["region"]): t for t in res.tags("readback")}
    assert sorted(written) == list(range(len(REGIONS))), res.tags("written")
    for i, (sector, count) in enumerate(REGIONS):
        w = written[i]
        assert (int(w["sector"]), int(w["sectors"])) == (sector, count), w
        # O_DIRECT: the device had every sector when the write returned,
        # and the read back came from it, not from the page cache.
        assert int(w["device_sectors"]) == count, w
        assert int(readback[i]["device_sectors"]) == count, readback[i]
        assert res.ok("compare%d" % i), res.failures
    # fsync on a write-back cache is a FLUSH request.
    if disk["cache"] == "write-back":
        assert int(res.tag("flush")["count"]) >= 1, res.tag("flush")

    # After poweroff: the file holds each region's bytes and nothing else changed.
    assert backend.stop() == 0, backend.log_text()
    data = backend.file_bytes()
    assert len(data) == DISK_BYTES
    expect = bytearray(backend.disk)
    for i, (sector, count) in enumerate(REGIONS):
        assert sha(data[span(sector, count)]) == written[i]["sha256"], "region %d" % i
        expect[span(sector, count)] = data[span(sector, count)]
    assert data == bytes(expect), "bytes outside the written regions changed"
    log = backend.log_text()
    assert "device running" in log, log
    assert "disk synced" in log, log


@pytest.mark.skipif(os.environ.get("RINGLOOP_LINUX_FIO") != "1",
                    reason="fio in the guest is opt-in: RINGLOOP_LINUX_FIO=1 (~19 MB more "
                    "packages, an 85 MiB initrd)")
def test_fio_smoke(backend, guest_log):
    """Debian's fio (linux_guest.FIO) runs in the guest on the daemon's disk;
    IOPS printed, never asserted."""
    guest = lg.build(**lg.FIO)
    res = guest.run("fio", qemu_args=backend.device_args(), deadline=DEADLINE,
                    env={"rw": "randrw", "runtime": "5"}, log=guest_log)
    assert res.passed, res.summary()
    r = res.tag("fio-result")
    assert int(r["read_iops"]) > 0 and int(r["write_iops"]) > 0, r
    print("fio %s randrw 4k qd16: read %s IOPS, write %s IOPS"
          % (res.tag("fio")["version"], r["read_iops"], r["write_iops"]))
