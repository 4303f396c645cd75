# SPDX-License-Identifier: Apache-2.0
"""Our virtio-blk driver across QEMU's own snapshot and migration (issue 13:
"QEMU's savevm/loadvm and migration with QEMU's built-in virtio-blk-pci
mid-I/O: our driver resumes with nothing lost"). This checks the driver,
not a backend: the device is QEMU's virtio-blk-pci on a qcow2 file.

The ringloop guest runs `blkverify` (rounds of writes then verified reads,
32 requests in flight) and, mid-run:
  (a) snapshot: QMP `snapshot-save` (the job form of HMP savevm) of the
      qcow2 disk and the VM state, a few more rounds, then `snapshot-load`
      (loadvm): RAM and disk go back to the snapshot together and the
      guest carries on from there, with the requests it had in flight (QEMU
      drains them into the used ring before saving the device state);
  (b) migration: `migrate` to a second QEMU waiting with
      `-incoming unix:...` over the same qcow2 file (shared storage: QEMU
      inactivates the image on the source before the destination takes it).
Checked: the operation happened mid-run (no "blkverify ok" before it), the
guest finishes every round with no I/O error and every block it reads
back verifies, and the qcow2 image holds the last round's pattern on
every block and zeros elsewhere. `snapshot-save` names the nodes so that
the firmware's raw ESP (which cannot hold a snapshot, and which HMP savevm
would refuse) is left out. Printed, never asserted: timings.
"""

import os
import re
import shutil
import subprocess
import sys
import time

import pexpect
import pexpect.popen_spawn
import pytest

from qmp import qmp
from ringloop_console import REPO, TOOLS_RUN
from test_vhost_user_reconnect import BLOCKS, DEPTH, LBA, SECTOR, SEED, pattern

QEMU_IMG = shutil.which("qemu-img")
DISK_BYTES = 16 << 20
ROUNDS = 150

pytestmark = pytest.mark.skipif(QEMU_IMG is None, reason="qemu-img (qemu-utils) not installed")


def make_disk(d):
    path = os.path.join(d, "disk.qcow2")
    subprocess.run([QEMU_IMG, "create", "-q", "-f", "qcow2", path, str(DISK_BYTES)], check=True)
    return path


def machine_args(disk, qmp_path, extra=()):
    return ["--",
            "-blockdev", "driver=file,node-name=file0,filename=%s" % disk,
            "-blockdev", "driver=qcow2,node-name=disk0,file=file0",
            "-device", "virtio-blk-pci,drive=disk0",
            "-qmp", "unix:%s,server=on,wait=off" % qmp_path] + list(extra)


def wait_path(path, timeout=30):
    t0 = time.monotonic()
    while not os.path.exists(path):
        assert time.monotonic() - t0 < timeout, "%s never appeared" % path
        time.sleep(0.05)


def run_job(qmp_path, command, args, timeout=120):
    """A QMP job (snapshot-save / snapshot-load) to its end: seconds taken."""
    t0 = time.monotonic()
    r = qmp(qmp_path, command, dict(args, **{"job-id": "j"}))
    assert "return" in r, r
    while True:
        jobs = {j["id"]: j for j in qmp(qmp_path, "query-jobs")["return"]}
        j = jobs.get("j")
        if j is None or j["status"] == "concluded":
            break
        assert time.monotonic() - t0 < timeout, j
        time.sleep(0.1)
    assert j is not None and "error" not in j, j
    assert "return" in qmp(qmp_path, "job-dismiss", {"id": "j"})
    return time.monotonic() - t0


def start_blkverify(c):
    out = c.run("devices", timeout=30)
    m = re.search(r"^\s*(vblk\d+)\s+blk\s+pci", out, re.M)
    assert m, out
    cmd = "blkverify %s %d %d %d %d %d 120" % (m.group(1), LBA, BLOCKS, DEPTH, ROUNDS, SEED)
    c.send(cmd + "\r")
    c.child.expect_exact(cmd, timeout=30)


def rounds_so_far(text):
    """blkverify prints nothing per round; the transcript has only its
    result line, so mid-run means: no result yet."""
    return "blkverify ok" not in text and "error: blkverify" not in text


def expect_ok(child, timeout=300):
    child.expect(r"(blkverify ok [^\r\n]*|error: [^\r\n]*)\r?\n", timeout=timeout)
    res = child.match.group(1)
    assert res.startswith("blkverify ok"), res + child.before[-2000:]
    ok = re.search(r"rounds=(\d+)", res)
    assert ok and int(ok.group(1)) == ROUNDS, res
    return res


def check_disk(disk, d):
    """The image (read with -U: QEMU may still hold it) as raw bytes: the
    last round's pattern on every block, zeros before and after."""
    raw = os.path.join(d, "disk.raw")
    subprocess.run([QEMU_IMG, "convert", "-U", "-O", "raw", disk, raw], check=True)
    with open(raw, "rb") as f:
        data = f.read()
    for s in range(BLOCKS * 8):
        sec = LBA + s
        assert data[sec * SECTOR:(sec + 1) * SECTOR] == pattern(sec, ROUNDS, SEED), sec
    end = (LBA + BLOCKS * 8) * SECTOR
    assert data[:LBA * SECTOR] == bytes(LBA * SECTOR)
    assert data[end:] == bytes(len(data) - end)


def test_snapshot_save_load_mid_blkverify(boot, tmp_path):
    d = str(tmp_path)
    disk = make_disk(d)
    q = os.path.join(d, "qmp.sock")
    c = boot(machine_args(disk, q))
    start_blkverify(c)
    time.sleep(2)  # some rounds in, requests in flight
    assert rounds_so_far(c.transcript), c.transcript[-2000:]
    t_save = run_job(q, "snapshot-save", {"tag": "mid", "vmstate": "disk0",
                                          "devices": ["disk0"]})
    assert rounds_so_far(c.transcript), c.transcript[-2000:]
    snaps = subprocess.run([QEMU_IMG, "snapshot", "-U", "-l", disk], capture_output=True,
                           text=True, check=True).stdout
    assert re.search(r"\bmid\b", snaps), snaps
    time.sleep(1.5)  # the guest goes on past the snapshot: more writes
    mark = len(c.transcript)
    t_load = run_job(q, "snapshot-load", {"tag": "mid", "vmstate": "disk0",
                                          "devices": ["disk0"]})
    st = qmp(q, "query-status")["return"]
    if st["status"] != "running":  # the job leaves the VM as it was: running
        assert "return" in qmp(q, "cont"), st
    assert rounds_so_far(c.transcript[:mark]), c.transcript[-2000:]
    # Back at the snapshot, with the requests it had in flight then: the
    # rest of the rounds, verified.
    res = expect_ok(c.child)
    qmp(q, "stop")
    check_disk(disk, d)
    print("snapshot-save %.1f s, snapshot-load %.1f s; guest: %s" % (t_save, t_load, res))


def test_migrate_mid_blkverify(boot, tmp_path):
    d = str(tmp_path)
    disk = make_disk(d)
    q_src = os.path.join(d, "qmp-src.sock")
    q_dst = os.path.join(d, "qmp-dst.sock")
    mig = os.path.join(d, "mig.sock")
    c = boot(machine_args(disk, q_src))
    dst = pexpect.popen_spawn.PopenSpawn(
        [sys.executable, TOOLS_RUN] + machine_args(disk, q_dst, ["-incoming", "unix:%s" % mig]),
        encoding="utf-8", codec_errors="replace", cwd=REPO, timeout=300)
    try:
        wait_path(q_dst)
        wait_path(mig)
        start_blkverify(c)
        time.sleep(2)
        r = qmp(q_src, "migrate-set-parameters", {"max-bandwidth": 4 << 30,
                                                  "downtime-limit": 500})
        assert "return" in r, r
        t0 = time.monotonic()
        assert "return" in qmp(q_src, "migrate", {"uri": "unix:%s" % mig})
        while True:
            st = qmp(q_src, "query-migrate")["return"]
            if st.get("status") in ("completed", "failed", "cancelled"):
                break
            assert time.monotonic() - t0 < 240, st
            time.sleep(0.2)
        took = time.monotonic() - t0
        assert st["status"] == "completed", st
        assert rounds_so_far(c.transcript), c.transcript[-2000:]
        assert qmp(q_dst, "query-status")["return"]["status"] == "running"
        res = expect_ok(dst)
        qmp(q_dst, "stop")
        check_disk(disk, d)
        print("migration %.1f s (QEMU: total %s ms, downtime %s ms); guest: %s"
              % (took, st.get("total-time"), st.get("downtime"), res))
        qmp(q_dst, "quit")
        dst.expect(pexpect.EOF, timeout=60)
        qmp(q_src, "quit")
    finally:
        if dst.proc.poll() is None:
            dst.kill(15)
            try:
                dst.wait()
            except Exception:
                pass
