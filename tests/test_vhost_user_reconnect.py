# SPDX-License-Identifier: Apache-2.0
"""Reconnect without loss (INFLIGHT_SHMFD): QEMU's vhost-user-blk-pci on a
`-chardev socket,...,reconnect=1`, the ringloop guest running `blkverify`
(rounds of writes then verified reads, 32 requests in flight), and the
daemon killed with SIGKILL and started again, several times, mid-run.
QEMU keeps the inflight region the first daemon created (GET_INFLIGHT_FD)
and hands it to each new one (SET_INFLIGHT_FD); the new daemon resubmits
what the old one had fetched and not completed, before anything new.

Checked: the guest sees no I/O error (its requests just complete late),
every block it reads back verifies (blkverify), the disk file holds the
last round's pattern for every block and nothing else changed. Printed
(never asserted): requests in flight in the daemon at each kill (what the
next one resubmitted), requests the guest had in flight, and the time from
the kill to the new daemon running the ring again.
"""

import hashlib
import os
import re
import signal
import struct
import subprocess
import time

import pytest

from vhost_backend import DAEMON, Backend, wait_socket

SECTOR = 512
LBA = 2048
BLOCKS = 384   # 4 KiB each: 1.5 MiB
ROUNDS = {"plain": 600, "late": 15}  # both outlast the kills (~9 s: 3 x 1.5 s + restarts)
SEED = 7
DEPTH = 32
KILLS = 3

pytestmark = pytest.mark.skipif(not os.path.exists(DAEMON),
                                reason="build/host/ringloop-vhost-user-blk not built (make host)")


def pattern(sector, rnd, seed):
    """blkverify's sector pattern (kernel/shell/cmd_blk_verify.c)."""
    head = b"RLV1" + struct.pack("<III", seed, rnd, sector & 0xffffffff)
    base = sector * 131 + rnd * 7 + seed
    return head + bytes((base + i) & 0xff for i in range(16, SECTOR))


def restart(b, args):
    """A new daemon process on the same socket and disk (the old one is
    dead); its output appended to the same log."""
    b.log.write("---- restart ----\n")
    b.log.flush()
    b.proc = subprocess.Popen([DAEMON, "--socket", b.sock, "--disk", b.disk_path] + args,
                              stdout=b.log, stderr=subprocess.STDOUT)
    wait_socket(b.sock, b.proc)


def wait_log(b, start, needle, timeout):
    """Seconds until needle appears in the log after offset start."""
    t0 = time.monotonic()
    while time.monotonic() - t0 < timeout:
        if needle in b.log_text()[start:]:
            return time.monotonic()
        time.sleep(0.02)
    raise AssertionError("no %r in the daemon log: %s" % (needle, b.log_text()[start:]))


# "late": every daemon holds some completions back for 20-50 ms (its
# --hostile complete-late mode: the request is done on the disk, its used
# element not yet written), so a kill finds requests in flight in the
# daemon and the next one must resubmit them; "plain": the normal daemon,
# which completes each request before it takes the next (a kill rarely
# finds one in flight). "late-packed": "late" on packed rings (packed=on,
# `virtio packed on` + a reset in the guest): the packed inflight region
# (QueueRegionPacked), whose recovery also gives the ring positions.
@pytest.mark.parametrize("mode", ["plain", "late", "late-packed"])
def test_sigkill_restart_resubmits_inflight(boot, mode):
    packed = mode.endswith("-packed")
    mode = mode.replace("-packed", "")
    args = ["--verbose"]
    if mode == "late":
        args += ["--hostile", "complete-late,count=1000000"]
    b = Backend(args=args)
    try:
        argv = ["--",
                "-object", "memory-backend-memfd,id=mem,size=512M,share=on",
                "-numa", "node,memdev=mem",
                "-chardev", "socket,id=vu,path=%s,reconnect=1" % b.sock,
                "-device", "vhost-user-blk-pci,chardev=vu,num-queues=1" +
                (",packed=on" if packed else "")]
        c = boot(argv)
        out = c.run("devices", timeout=30)
        m = re.search(r"^\s*(vblk\d+)\s+blk\s+pci", out, re.M)
        assert m, out
        dev = m.group(1)
        if packed:
            out = c.run("virtio packed on", timeout=30)
            assert out.startswith("packed ring on"), out
            out = c.run("virtio reset %s 1" % dev, timeout=60)
            assert out.startswith("reset 1 cycles ok"), out
            assert "ring=packed" in c.run("virtio info %s" % dev, timeout=30)
            wait_log(b, 0, "inflight region created: 1 packed queues", 30)
        assert "INFLIGHT_FD" in b.log_text(), b.log_text()
        rounds = ROUNDS[mode]
        cmd = "blkverify %s %d %d %d %d %d 120" % (dev, LBA, BLOCKS, DEPTH, rounds, SEED)
        t_start = time.monotonic()
        c.send(cmd + "\r")
        c.child.expect_exact(cmd, timeout=30)
        figures = []
        for k in range(KILLS):
            time.sleep(1.5)
            mark = len(b.log_text())
            t_kill = time.monotonic()
            b.proc.send_signal(signal.SIGKILL)
            b.proc.wait()
            time.sleep(0.3)
            restart(b, args)
            t_run = wait_log(b, mark, "device running", 60)
            log = b.log_text()[mark:]
            assert "SET_INFLIGHT_FD" in log, log
            assert "GET_INFLIGHT_FD" not in log, log  # the old region, not a new one
            rm = re.search(r"ring 0: (\d+) requests? in flight before the restart", log)
            if packed:
                assert "packed rings" in log, log
            figures.append((int(rm.group(1)) if rm else 0, t_run - t_kill))
        c._expect_prompt(600, "blkverify to finish")
        took = time.monotonic() - t_start
        out = c.child.before.replace("\r", "")
        assert "error" not in out, out + b.log_text()
        ok = re.search(r"blkverify ok .*max_in_flight=(\d+) max_wait_ms=(\d+)", out)
        assert ok, out
        # The kills landed mid-run: some request waited out a restart.
        assert int(ok.group(2)) >= 500, out
        # The disk file: the last round's pattern on every block, the rest
        # as it was.
        data = b.file_bytes()
        for s in range(BLOCKS * 8):
            sec = LBA + s
            assert data[sec * SECTOR:(sec + 1) * SECTOR] == pattern(sec, rounds, SEED), sec
        assert data[:LBA * SECTOR] == b.disk[:LBA * SECTOR]
        end = (LBA + BLOCKS * 8) * SECTOR
        assert data[end:] == b.disk[end:]
        # And the guest reads the whole range back once more: same bytes.
        out = c.run("blk read %s %d %d" % (dev, LBA, BLOCKS * 8), timeout=60)
        assert hashlib.sha256(data[LBA * SECTOR:end]).hexdigest() in out, out
        for n, (inflight, resume) in enumerate(figures):
            print("kill %d: %d request(s) in flight in the daemon, resubmitted; "
                  "ring running again %.2f s after the kill" % (n + 1, inflight, resume))
        print("guest (%s%s): max_in_flight=%s max_wait_ms=%s, %d requests in %.1f s"
              % (mode, ", packed" if packed else "", ok.group(1), ok.group(2),
                 2 * rounds * BLOCKS, took))
        c.run_until_exit("poweroff 0", timeout=60)
    finally:
        b.close()
