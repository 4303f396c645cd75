# SPDX-License-Identifier: Apache-2.0
"""Linux's virtio_blk against our hostile device (issue 10 section 4):
Debian's kernel (tests/linux/linux_guest.py) on
`ringloop-vhost-user-blk --hostile MODE,after=AFTER,count=1,seed=1`, one
item per ring mode the daemon lists (`--hostile bogus` prints them, so a
new mode is picked up), `off` first as the control.

Each boot runs tests/linux/guest/blk.sh: an O_DIRECT read, O_DIRECT writes
of random bytes read back and compared in the guest, a FLUSH; the host then
compares the disk file. The guest gets DEADLINE s from /init; past it the
boot is `hung`. Linux's verdict is recorded: completed (data verified),
wrong-data (it completed, but the guest's compare or the disk file says the
bytes are wrong), failed (completed, a step failed without an I/O error),
io-error, hung, panic, died. Asserted: the daemon is alive after every
mode and exits cleanly on SIGTERM (a daemon under any hostile mode never
crashes), the control completes with data verified, and every boot ends in
a verdict within its deadline. The rest is recorded, not asserted.

test_ringloop_driver boots the ringloop image once and runs the in-image
KTAP suite `hostile-device` (our driver against every catalogue mode) for
the other column. At the end of the module the table goes to
build/linux/hostile-verdicts.md (README "Hostile device verdicts").
"""

import hashlib
import os
import re
import subprocess
import time

import pytest

import linux_guest as lg
from conftest import DISK_BYTES
from ringloop_console import IMAGES, Console, default_run_args
from vhost_backend import DAEMON, REPO, Backend

SECTOR = 512
SECTORS = DISK_BYTES // SECTOR
READ = (0, 8)
# Non-overlapping (first sector, sectors): one sector, a page, an odd run
# across pages, the disk's end. Each is one request (rl-dio); with the read
# and the FLUSH the workload is 10 requests.
REGIONS = [(7, 1), (100, 8), (5001, 37), (SECTORS - 8, 8)]
# Linux's boot completes 3 requests on this disk before /init's test starts
# (the partition scan of the seeded random bytes: blk.sh's `disk ios=3`).
# after=3 puts the one misbehaviour (count=1) on the workload's first
# request: a fault during the scan would hang or fail insmod instead, and
# hide what the driver does with a request a test is waiting for. Each
# boot records where it landed (disk ios <= AFTER: in the workload).
AFTER = 3
INIT_TIMEOUT = 90  # s from QEMU's start to /init (3-4 s at load ~2)
DEADLINE = 20  # s from /init: the workload takes ~1 s; blk-mq would time out at 30 s
OUT = os.path.join(REPO, "build", "linux", "hostile-verdicts.md")
MODE_LINE_RE = re.compile(r"^\s+([a-z][a-z0-9-]*)\s+(\S.*?)\s*$")
VERDICT_RE = re.compile(r"^# verdict ([a-z0-9-]+): (detected|tolerated) \((.*)\)\s*$")
KTAP_RE = re.compile(r"^(not ok|ok) \d+ (\w+)")
# Kernel lines worth quoting about a boot: the driver, the ring, the block
# layer. Not the normal probe lines.
NOTE_RE = re.compile(r"virtio|vda|blk|I/O error|timed? ?out|hung|BUG|WARNING|Oops|panic",
                     re.I)
NORMAL_RE = re.compile(r"logical blocks|read/poll queues|RL: |rl-dio")
PRINTK_RE = re.compile(r"^\[\s*\d+\.\d+\]\s*")
WRONG_DATA, FAILED = "wrong-data", "failed"
# The daemon's last words under a hostile mode (host/vhost_user_blk.c).
FIRED_RE = re.compile(r"hostile mode \S+: (\d+) requests, (\d+) misbehaviours")


def daemon_modes():
    """[(mode, one-line)] in the daemon's order, from `--hostile bogus`."""
    if not os.path.exists(DAEMON):
        return []
    p = subprocess.run([DAEMON, "--hostile", "bogus"], capture_output=True, text=True,
                       timeout=30)
    modes = [m.groups() for m in map(MODE_LINE_RE.match, p.stderr.splitlines()) if m]
    return modes if p.returncode == 2 else []


MODES = daemon_modes()
DESC = dict(MODES)
# What the module saw: mode -> dict (linux), and the ringloop suite's run.
RESULTS = {}
RINGLOOP = {}


def sha(data):
    return hashlib.sha256(data).hexdigest()


def span(sector, count):
    return slice(sector * SECTOR, (sector + count) * SECTOR)


def kernel_notes(res):
    """Kernel lines about the disk after /init (the first few, printk time cut)."""
    lines = res.console.splitlines()
    start = next((i for i, line in enumerate(lines) if "RL: init" in line), 0)
    notes = []
    for line in lines[start:]:
        if NOTE_RE.search(line) and not NORMAL_RE.search(line):
            notes.append(PRINTK_RE.sub("", line).strip())
    return notes


def data_check(res, backend):
    """Problems with the bytes: the guest's compares, then the disk file."""
    bad = [f for f in res.failures if "compare" in f]
    data = backend.file_bytes()
    read = res.tag("read")
    if read is not None and read["sha256"] != sha(backend.disk[span(*READ)]):
        bad.append("read of sectors %d+%d differs from the file" % READ)
    expect = bytearray(backend.disk)
    for t in res.tags("written"):
        s, n = int(t["sector"]), int(t["sectors"])
        if sha(data[span(s, n)]) != t["sha256"]:
            bad.append("file at %d+%d is not what the guest wrote" % (s, n))
        expect[span(s, n)] = data[span(s, n)]
    # Regions whose write did not return may hold old or new bytes.
    for i, (s, n) in enumerate(REGIONS):
        if not any(int(t["region"]) == i for t in res.tags("written")):
            expect[span(s, n)] = data[span(s, n)]
    if len(data) != DISK_BYTES or data != bytes(expect):
        bad.append("bytes outside the written regions changed")
    return bad


def linux_verdict(res, bad_data):
    if res.verdict != lg.COMPLETED:
        return res.verdict
    if bad_data:
        return WRONG_DATA
    if res.status != 0:
        return FAILED
    return lg.COMPLETED


def where(res):
    disk = res.tag("disk")
    if disk is None:
        return "before the test (no disk tag)"
    ios = int(disk["ios"])
    return "workload" if ios <= AFTER else "boot (%d requests before the test)" % ios


@pytest.fixture(scope="module", autouse=True)
def verdict_table():
    yield
    if RESULTS or RINGLOOP:
        write_table()


def test_ringloop_driver():
    """Our driver's verdicts: `test hostile-device` once in the ringloop image (q35)."""
    c = Console(default_run_args() + IMAGES.image_args(default_run_args()))
    try:
        listing = c.run("loopback hostile list")
        out = c.run("test hostile-device", timeout=300)
    finally:
        c.close()
        IMAGES.cleanup()
    for line in listing.splitlines():
        m = re.match(r"^([a-z][a-z0-9-]*)\s+(\S.*?)\s*$", line)
        if m:
            RINGLOOP.setdefault("desc", {})[m.group(1)] = m.group(2)
    verdicts, cases = {}, {}
    for line in out.splitlines():
        m = VERDICT_RE.match(line.strip())
        if m:
            verdicts[m.group(1)] = "%s (%s)" % (m.group(2), m.group(3))
        m = KTAP_RE.match(line.strip())
        if m:
            cases[m.group(2).replace("_", "-")] = m.group(1)
    RINGLOOP["verdicts"] = verdicts
    RINGLOOP["cases"] = cases
    assert verdicts, "no `# verdict` lines from test hostile-device:\n%s" % out[-2000:]
    failed = sorted(k for k, v in cases.items() if v != "ok")
    print("ringloop driver: %d verdicts, failed cases: %s" % (len(verdicts), failed))


@pytest.mark.parametrize("mode", [m for m, _ in MODES] or ["no-daemon-modes"])
def test_linux_virtio_blk_against(linux_guest, guest_log, mode):
    assert MODES, "%s --hostile bogus listed no modes (make host)" % os.path.relpath(DAEMON)
    spec = "off" if mode == "off" else "%s,after=%d,count=1,seed=1" % (mode, AFTER)
    backend = Backend(disk_bytes=DISK_BYTES, args=["--hostile", spec])
    try:
        with linux_guest.boot("blk", qemu_args=backend.device_args(), log=guest_log,
                              env={"read": "%d+%d" % READ,
                                   "write": ",".join("%d+%d" % r for r in REGIONS)}) as b:
            b.wait_tag("init", INIT_TIMEOUT)
            init = next((t for t, line in b.lines if "RL: init" in line), None)
            deadline = (init - b.t0 if init is not None else INIT_TIMEOUT) + DEADLINE
            res = b.result(deadline=deadline)
        alive = backend.proc.poll() is None
        status = backend.stop()
        bad = data_check(res, backend)
        log = backend.log_text()
    finally:
        backend.close()
    verdict = linux_verdict(res, bad)
    notes = kernel_notes(res)
    m = FIRED_RE.search(log)
    fired = int(m.group(2)) if m else None
    RESULTS[mode] = {"verdict": verdict, "notes": notes, "bad": bad, "where": where(res),
                     "alive": alive, "status": status, "wall": res.wall_seconds,
                     "fired": fired, "summary": res.summary()}
    print("%s: Linux %s, %s, %s misbehaviours; daemon %s (exit %s); %s; kernel: %s"
          % (mode, verdict, where(res), fired, "alive" if alive else "GONE", status,
             res.summary(), notes[:3]))
    tail = "\n".join(log.splitlines()[-20:])
    assert alive, "the daemon died under --hostile %s (status %s):\n%s" % (spec, status, tail)
    assert status == 0, "the daemon exited %s on SIGTERM after --hostile %s:\n%s" \
        % (status, spec, tail)
    assert res.wall_seconds <= deadline + lg.POWEROFF_GRACE + 25, res.summary()
    if mode != "off":
        assert m, "the daemon did not say how often %s acted:\n%s" % (mode, tail)
    if mode == "off":
        assert verdict == lg.COMPLETED, "%s %s\n%s" % (res.summary(), bad, notes)
        assert len(res.tags("written")) == len(REGIONS), res.tags("written")
        assert all(res.ok("compare%d" % i) for i in range(len(REGIONS))), res.failures


def linux_cell(r):
    """One line for Linux's column."""
    v = r["verdict"]
    what = {lg.COMPLETED: "completed, data verified", WRONG_DATA: "completed with wrong data",
            FAILED: "completed, a step failed", lg.IO_ERROR: "I/O error", lg.HUNG: "hung",
            lg.PANIC: "panic", lg.DIED: "died"}.get(v, v)
    bits = []
    if r["fired"] == 0:
        bits.append("the device never misbehaved")
    if v == lg.HUNG:
        bits.append("no end %d s after /init" % DEADLINE)
    if r["bad"]:
        bits.append(r["bad"][0])
    if r["where"] != "workload" and r["fired"] != 0:
        bits.append("fault landed: " + r["where"])
    if v == lg.COMPLETED and r["fired"] and not r["notes"]:
        bits.append("nothing in the kernel log")
    if r["notes"]:
        note = r["notes"][0]
        more = len(r["notes"]) - 1
        bits.append("`%s`%s" % (note[:90].replace("|", "/"), " +%d lines" % more if more else ""))
    return "%s%s" % (what, " (%s)" % "; ".join(bits) if bits else "")


def write_table():
    rl = RINGLOOP.get("verdicts")
    desc = dict(RINGLOOP.get("desc", {}))
    desc.update(DESC)
    modes = [m for m, _ in MODES] + [m for m in desc if m not in DESC]
    rows = ["| mode | one-line | ringloop driver | Linux virtio_blk |",
            "|---|---|---|---|"]
    for m in modes:
        if rl is None:
            ours = "(not run in this session)"
        elif m == "off":
            ours = "no verdict line (the control: each case's recovery is checked on the " \
                "well-behaved device)"
        else:
            ours = rl.get(m, "no verdict from `test hostile-device`")
            if RINGLOOP["cases"].get(m, "ok") != "ok":
                ours += " [case failed]"
        if m not in DESC:
            linux = "not run: a register-file mode (vhost-user has none; the daemon refuses it)"
        elif m in RESULTS:
            linux = linux_cell(RESULTS[m])
        else:
            linux = "(not run in this session)"
        rows.append("| %s | %s | %s | %s |" % (m, desc.get(m, "").replace("|", "/"),
                                               ours.replace("|", "/"), linux))
    alive = [m for m, r in RESULTS.items() if r["alive"] and r["status"] == 0]
    text = ["# Hostile device verdicts", "",
            "Generated by tests/linux/test_linux_hostile.py on %s (Linux: Debian's kernel "
            "on `ringloop-vhost-user-blk --hostile MODE,after=%d,count=1,seed=1`, %d s "
            "from /init; ringloop: `test hostile-device` on q35)."
            % (time.strftime("%Y-%m-%d"), AFTER, DEADLINE), "",
            *rows, "",
            "Daemon alive after the boot and exit 0 on SIGTERM: %d of %d modes run."
            % (len(alive), len(RESULTS)), ""]
    os.makedirs(os.path.dirname(OUT), exist_ok=True)
    with open(OUT + ".tmp", "w", encoding="utf-8") as f:
        f.write("\n".join(text))
    os.replace(OUT + ".tmp", OUT)
