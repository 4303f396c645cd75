# SPDX-License-Identifier: Apache-2.0
"""Live migration with the vhost-user-blk daemon (dirty logging: QEMU
docs/interop/vhost-user.rst "Migration", LOG_SHMFD, VHOST_F_LOG_ALL).

Two QEMU processes on this machine, each with its own ringloop daemon over
the same disk file: the source boots the ringloop guest, which runs
`blkverify` (rounds of writes then verified reads, 32 requests in flight);
the destination waits with `-incoming unix:...`; QMP `migrate` on the
source moves the guest over mid-workload. While it runs QEMU has our
daemon log every page it writes into guest memory (SET_LOG_BASE, LOG_ALL,
VHOST_VRING_F_LOG on the ring) and sends those pages again; at the switch
it stops the ring (GET_VRING_BASE, which finishes the I/O in flight first)
and the destination's daemon takes the ring over at that base.

Checked: the source's daemon was asked to log (its log says "dirty logging
on"), the migration completes, the workload carries on on the destination
with no I/O error and every block it reads back verifies (a read whose
data page was not logged would leave the destination's copy of the buffer
stale: a mismatch), the disk file holds the last round's pattern for every
block and nothing else changed. Printed (never asserted): migration time,
downtime, pages transferred.

About 25 s per mode here (one TCG boot; the migration itself takes 1-4 s,
the guest's RAM being mostly zero pages), so it runs with the rest.
"""

import os
import re
import subprocess
import sys
import time

import pexpect
import pexpect.popen_spawn
import pytest

from qmp import qmp
from ringloop_console import REPO, TOOLS_RUN
from test_vhost_user_reconnect import BLOCKS, DEPTH, LBA, SECTOR, SEED, pattern
from vhost_backend import DAEMON, Backend, wait_socket

# Rounds of blkverify: enough to outlast the migration (TCG here: ~15
# rounds/s with the normal daemon, the migration 1-8 s on a loaded machine);
# complete-late holds every request 20-50 ms (~0.4 s a round on the
# source), so it needs far fewer, and the rest run fast on the destination.
ROUNDS = {"plain": 400, "late": 150}

pytestmark = pytest.mark.skipif(not os.path.exists(DAEMON),
                                reason="build/host/ringloop-vhost-user-blk not built (make host)")


def machine_args(sock, qmp_path, extra=()):
    return ["--",
            "-object", "memory-backend-memfd,id=mem,size=512M,share=on",
            "-numa", "node,memdev=mem",
            "-chardev", "socket,id=vu,path=%s" % sock,
            "-device", "vhost-user-blk-pci,chardev=vu,num-queues=1",
            "-qmp", "unix:%s,server=on,wait=off" % qmp_path] + list(extra)


def wait_path(path, timeout=30):
    t0 = time.monotonic()
    while not os.path.exists(path):
        if time.monotonic() - t0 > timeout:
            raise AssertionError("%s never appeared" % path)
        time.sleep(0.05)


# "late": the source daemon holds completions back 20-50 ms (--hostile
# complete-late: done on the disk, used element not yet written), so reads
# land in guest buffers well after the guest last touched them, across
# QEMU's dirty-bitmap syncs, and the switch finds requests in flight for
# GET_VRING_BASE to finish. Without the dirty log it fails about one run in
# two here (a stale used ring on the destination: "used id not in flight",
# an I/O error); "plain" is the normal daemon.
#
# It also caught a drain bug: complete-late's held chains stayed held
# across the stop, so the source's base counted chains used->idx did not;
# the destination (fresh inflight region) started at used->idx and
# re-served avail entries the source had completed out of order ("used id
# not in flight", 4 runs in 7). vdev_sleep now completes them
# (hostile_quiesce), and the destination says so if a base ever runs ahead
# of used->idx: asserted absent below.
@pytest.mark.parametrize("mode", ["plain", "late"])
def test_live_migration_under_blkverify(boot, mode):
    args = ["--verbose"]
    rounds = ROUNDS[mode]
    if mode == "late":
        args += ["--hostile", "complete-late,count=1000000"]
    src = Backend(args=args)
    d = src.dir
    dst_sock = os.path.join(d, "vu-dst.sock")
    dst_log = open(os.path.join(d, "backend-dst.log"), "w")
    dst_daemon = subprocess.Popen([DAEMON, "--socket", dst_sock, "--disk", src.disk_path,
                                   "--verbose"], stdout=dst_log, stderr=subprocess.STDOUT)
    dst = None
    try:
        wait_socket(dst_sock, dst_daemon)
        qmp_src = os.path.join(d, "qmp-src.sock")
        qmp_dst = os.path.join(d, "qmp-dst.sock")
        mig = os.path.join(d, "mig.sock")
        c = boot(machine_args(src.sock, qmp_src))
        out = c.run("devices", timeout=30)
        m = re.search(r"^\s*(vblk\d+)\s+blk\s+pci", out, re.M)
        assert m, out
        dev = m.group(1)
        # The destination: same machine, waiting for the guest.
        dst = pexpect.popen_spawn.PopenSpawn(
            [sys.executable, TOOLS_RUN] + machine_args(dst_sock, qmp_dst,
                                                       ["-incoming", "unix:%s" % mig]),
            encoding="utf-8", codec_errors="replace", cwd=REPO, timeout=300)
        wait_path(qmp_dst)
        wait_path(mig)
        cmd = "blkverify %s %d %d %d %d %d 120" % (dev, LBA, BLOCKS, DEPTH, rounds, SEED)
        c.send(cmd + "\r")
        c.child.expect_exact(cmd, timeout=30)
        time.sleep(2)  # some rounds in, requests in flight
        r = qmp(qmp_src, "migrate-set-parameters", {"max-bandwidth": 4 << 30,
                                                    "downtime-limit": 500})
        assert "return" in r, r
        t0 = time.monotonic()
        r = qmp(qmp_src, "migrate", {"uri": "unix:%s" % mig})
        assert "return" in r, r
        while True:
            st = qmp(qmp_src, "query-migrate")["return"]
            if st.get("status") in ("completed", "failed", "cancelled"):
                break
            assert time.monotonic() - t0 < 240, st
            time.sleep(0.2)
        took = time.monotonic() - t0
        assert st["status"] == "completed", (st, src.log_text())
        slog = src.log_text()
        assert "dirty logging on" in slog, slog
        # The switch came mid-run: the source guest had not finished.
        assert "blkverify ok" not in c.transcript, c.transcript[-2000:]
        # The guest goes on over there: the rest of the rounds, verified.
        st_dst = qmp(qmp_dst, "query-status")["return"]
        assert st_dst["status"] == "running", st_dst
        dst.expect(r"(blkverify ok [^\r\n]*|error: [^\r\n]*)\r?\n", timeout=900)
        res = dst.match.group(1)
        assert res.startswith("blkverify ok"), res + dst.before[-2000:]
        ok = re.search(r"rounds=(\d+)", res)
        assert ok and int(ok.group(1)) == rounds, res
        # It went on over there: the destination's daemon served requests.
        qmp(qmp_dst, "quit")
        dst.expect(pexpect.EOF, timeout=60)
        dst_daemon.terminate()
        dst_daemon.wait(timeout=10)
        dst_log.flush()
        with open(dst_log.name) as f:
            dlog = f.read()
        # The source drained at GET_VRING_BASE: the base it gave QEMU is
        # the used idx in memory, nothing popped and left unused.
        assert "past used idx" not in dlog, dlog
        dm = re.findall(r"io_uring: (\d+) reads, (\d+) writes", dlog)  # per connection
        assert dm and int(dm[-1][0]) > 0 and int(dm[-1][1]) > 0, dlog
        # The disk file: the last round's pattern on every block.
        data = src.file_bytes()
        for s in range(BLOCKS * 8):
            sec = LBA + s
            assert data[sec * SECTOR:(sec + 1) * SECTOR] == pattern(sec, rounds, SEED), sec
        assert data[:LBA * SECTOR] == src.disk[:LBA * SECTOR]
        end = (LBA + BLOCKS * 8) * SECTOR
        assert data[end:] == src.disk[end:]
        ram = st.get("ram", {})
        print("%s: migration: %.1f s (QEMU: total %s ms, downtime %s ms), %s pages sent, "
              "%s dirty-sync rounds; destination daemon: %s reads, %s writes; guest: %s"
              % (mode, took, st.get("total-time"), st.get("downtime"), ram.get("normal"),
                 ram.get("dirty-sync-count"), dm[-1][0], dm[-1][1], res))
        qmp(qmp_src, "quit")
    finally:
        if dst is not None and dst.proc.poll() is None:
            dst.kill(15)
            try:
                dst.wait()
            except Exception:
                pass
        dst_daemon.terminate()
        try:
            dst_daemon.wait(timeout=10)
        except subprocess.TimeoutExpired:
            dst_daemon.kill()
        dst_log.close()
        src.close()
