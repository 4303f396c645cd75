# SPDX-License-Identifier: Apache-2.0
"""tools/hdt-run, the host-side runner of the hostile-driver suite (issue 12):
against our loopback lblk0 and QEMU's virtio-blk-pci with a few cases, in one
--compare run. Its JSON and JUnit must be well-formed and say what the image
itself says for the same cases (checked by running `hdt run` in-image), the
table must mark the case where ours and QEMU differ
(state.notify_before_driver_ok: ours ignores the doorbell before DRIVER_OK,
QEMU 7.2 serves it), and every non-PASS/REJECT case gets the command that
re-runs it alone.
"""
import json
import os
import re
import subprocess
import sys
import xml.etree.ElementTree as ET

import pytest

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
RUNNER = os.path.join(REPO, "tools", "hdt-run")
DAEMON = os.path.join(REPO, "build", "host", "ringloop-vhost-user-blk")
CASES = ["ctl.read", "split.next_loop", "state.notify_before_driver_ok", "blk.bad_type"]
LINE_RE = re.compile(r"^(\S+) (PASS|REJECT|NEEDS_RESET|WEDGED|FAIL|SKIP) ?(.*)$", re.M)
# The runner's own lines: the id and the verdict padded into columns.
OUT_RE = re.compile(r"^(\S+) +(PASS|REJECT|NEEDS_RESET|WEDGED|HUNG|CRASH|FAIL|SKIP) +(.*)$", re.M)


def runner(*args, timeout=120):
    return subprocess.run([sys.executable, RUNNER] + list(args), cwd=REPO, capture_output=True,
                          text=True, timeout=timeout)


def in_image(c, dev):
    out = c.run("hdt run %s %s" % (dev, " ".join(CASES)), timeout=60)
    return {m.group(1): (m.group(2), m.group(3)) for m in LINE_RE.finditer(out)}


@pytest.fixture(scope="module")
def compared(tmp_path_factory):
    d = tmp_path_factory.mktemp("hdtrun")
    j, x = str(d / "r.json"), str(d / "r.xml")
    # --machine: loopback on microvm (no firmware: a faster boot).
    args = ["--compare", "loopback,qemu-pci", "--machine", "microvm", "--json", j, "--junit", x]
    for c in CASES:
        args += ["--case", c]
    p = runner(*args)
    with open(j) as f:
        doc = json.load(f)
    return p, doc, ET.parse(x).getroot()


def by_target(doc):
    return {t["target"]: {r["id"]: r for r in t["cases"]} for t in doc["targets"]}


def test_compare_table_and_exit(compared):
    p, doc, _ = compared
    assert "\033[" not in p.stdout  # no colour when not on a terminal
    # QEMU's FAIL (it serves a buffer before DRIVER_OK) makes the run fail.
    assert p.returncode == 1, p.stdout + p.stderr
    rows = {}
    for line in p.stdout.splitlines():
        m = re.match(r"^([* ]) (\S+)\s+(\S+)\s+(\S+)\s*$", line)
        if m and m.group(2) in CASES:
            rows[m.group(2)] = (m.group(1) == "*", m.group(3), m.group(4))
    assert sorted(rows) == sorted(CASES), p.stdout
    assert rows["state.notify_before_driver_ok"] == (True, "PASS", "FAIL"), p.stdout
    assert rows["ctl.read"] == (False, "PASS", "PASS"), p.stdout
    assert rows["split.next_loop"] == (True, "PASS", "NEEDS_RESET"), p.stdout
    assert doc["differ"] == ["split.next_loop", "state.notify_before_driver_ok"]
    assert "2 of 4 cases differ across loopback, qemu-pci" in p.stdout
    # A re-run line for every non-PASS/REJECT verdict, none for the others.
    rerun = re.findall(r"^  re-run (\S+) \((\S+)\): (.*)$", p.stdout, re.M)
    assert ("state.notify_before_driver_ok", "FAIL",
            "tools/hdt-run --target qemu-pci --case state.notify_before_driver_ok") in rerun
    assert ("split.next_loop", "NEEDS_RESET",
            "tools/hdt-run --target qemu-pci --case split.next_loop") in rerun
    assert not [r for r in rerun if r[1] in ("PASS", "REJECT")], rerun


def test_json_and_junit(compared):
    _, doc, root = compared
    t = by_target(doc)
    assert sorted(t) == ["loopback", "qemu-pci"]
    for s in doc["targets"]:
        assert [r["id"] for r in s["cases"]] == CASES  # catalogue order
        assert s["boots"] == 1 and s["error"] is None  # no case killed the device
        assert sum(s["counts"].values()) == len(CASES)
        assert s["cases_per_second"] > 0
    assert root.tag == "testsuites"
    suites = {s.get("name"): s for s in root.findall("testsuite")}
    assert sorted(suites) == ["hdt.loopback", "hdt.qemu-pci"]
    for name, s in suites.items():
        cases = {c.get("name"): c for c in s.findall("testcase")}
        assert sorted(cases) == sorted(CASES)
        target = name.split(".", 1)[1]
        fails = [k for k, c in cases.items() if c.find("failure") is not None]
        assert int(s.get("failures")) == len(fails)
        assert fails == [k for k in CASES if t[target][k]["verdict"] in ("WEDGED", "HUNG",
                                                                         "CRASH", "FAIL")]
    f = suites["hdt.qemu-pci"].find("testcase[@name='state.notify_before_driver_ok']/failure")
    assert f.get("type") == "FAIL" and "tools/hdt-run --target qemu-pci" in f.text


def test_verdicts_match_the_image(compared, console, boot, tmp_path):
    """What the runner reports is what `hdt run` in the image says."""
    _, doc, _ = compared
    disk = tmp_path / "disk.img"
    with open(disk, "wb") as f:
        f.truncate(8 << 20)
    t = by_target(doc)
    ours = in_image(console, "lblk0")
    assert {k: (r["verdict"], r["detail"]) for k, r in t["loopback"].items()} == ours
    c = boot(["--", "-drive", "if=none,id=d0,format=raw,file=%s" % disk,
              "-device", "virtio-blk-pci,drive=d0"])
    dev = re.search(r"^\s*(vblk\d+)\s+blk\s+pci", c.run("devices"), re.M).group(1)
    qemu = in_image(c, dev)
    assert {k: r["verdict"] for k, r in t["qemu-pci"].items()} == \
        {k: v[0] for k, v in qemu.items()}


def test_hung_and_parallel():
    """A case whose line does not come within --case-timeout is HUNG (the
    machine is dropped and the next case boots a new one), and -j 2 splits
    the cases over two boots with the verdicts of one."""
    # transport.notify_bad_queue idles 150 ms in the guest before its line.
    p = runner("--target", "loopback", "--machine", "microvm", "--case-timeout", "0.05",
               "--case", "transport.notify_bad_queue")
    assert p.returncode == 1, p.stdout + p.stderr
    assert re.search(r"^transport.notify_bad_queue +HUNG +no answer within 0.05s$", p.stdout,
                     re.M), p.stdout
    assert "re-run transport.notify_bad_queue (HUNG): tools/hdt-run --target loopback " \
        "--case transport.notify_bad_queue --machine microvm" in p.stdout
    one = runner("--target", "loopback", "--machine", "microvm", "--case", "blk.*")
    two = runner("--target", "loopback", "--machine", "microvm", "--case", "blk.*", "-j", "2")
    assert one.returncode == two.returncode == 0, one.stdout + two.stdout
    assert "1 boot(s)" in one.stdout and "2 boot(s)" in two.stdout, two.stdout
    assert OUT_RE.findall(one.stdout) == OUT_RE.findall(two.stdout)
    assert len(OUT_RE.findall(one.stdout)) >= 10


@pytest.mark.skipif(not os.path.exists(DAEMON), reason="make host builds the daemon")
def test_backend_crash(tmp_path):
    """A vhost-user backend (a --backend command) that dies during a case:
    the runner sees it from the host and calls that case CRASH, boots again
    for the rest, and they pass."""
    once = tmp_path / "killed"
    backend = "%s %s 3 %s --socket {socket} --disk {disk}" % (
        os.path.join(REPO, "tests", "hdt_crash_backend.py"), once, DAEMON)
    p = runner("--target", "vhost-user", "--backend", backend, "--case-timeout", "10",
               "--case", "ctl.read", "--case", "blk.bad_type")
    assert once.exists(), p.stdout + p.stderr
    assert p.returncode == 1, p.stdout + p.stderr
    got = dict((i, v) for i, v, _ in OUT_RE.findall(p.stdout))
    assert got == {"ctl.read": "CRASH", "blk.bad_type": "PASS"}, p.stdout
    assert re.search(r"^ctl.read +CRASH +backend exited with status 9", p.stdout, re.M)
    assert "2 boot(s)" in p.stdout, p.stdout


def test_errors():
    p = runner("--target", "loopback", "--machine", "microvm", "--case", "split.no_such_case")
    assert p.returncode == 2 and "no case matches 'split.no_such_case'" in p.stdout, p.stdout
    p = runner("--target", "nosuch")
    assert p.returncode != 0 and "unknown target 'nosuch'" in p.stderr
    p = runner("--target", "custom")
    assert p.returncode != 0 and "needs --qemu-args" in p.stderr


def test_device_presets():
    """The device-request presets: without --case a target runs its kind's
    cases (ours all PASS, exit 0); against QEMU 7.2's NIC a case that
    aborts QEMU is CRASH, the runner boots again for the rest."""
    p = runner("--target", "loopback-rng", "--machine", "microvm", timeout=300)
    got = dict((i, v) for i, v, _ in OUT_RE.findall(p.stdout))
    assert p.returncode == 0, p.stdout + p.stderr
    assert "ctl.rng_read" in got and "edge.rng_many_tiny" in got, p.stdout
    assert all(i.startswith(("rng.", "ctl.rng_", "edge.rng_")) for i in got), p.stdout
    assert set(got.values()) == {"PASS"}, p.stdout
    p = runner("--target", "qemu-net-mmio", "--case", "ctl.net_tx", "--case", "net.tx_short_hdr",
               "--case", "net.tx_gso_unknown", timeout=300)
    got = dict((i, v) for i, v, _ in OUT_RE.findall(p.stdout))
    assert p.returncode == 1, p.stdout + p.stderr
    # QEMU 7.2: util/iov.c iov_copy: Assertion `offset == 0' (SIGABRT).
    assert got == {"ctl.net_tx": "PASS", "net.tx_short_hdr": "CRASH",
                   "net.tx_gso_unknown": "PASS"}, p.stdout
    assert re.search(r"^net.tx_short_hdr +CRASH +QEMU exited", p.stdout, re.M), p.stdout
    assert "2 boot(s)" in p.stdout, p.stdout


@pytest.mark.skipif(not os.path.exists(DAEMON), reason="make host builds the daemon")
def test_our_daemon_whole_catalogue(tmp_path):
    """Issue 12 for our vhost-user-blk daemon: the whole catalogue gives
    only PASS/REJECT/NEEDS_RESET (SKIP where the transport cannot express
    a case), in one boot. Over vhost-user the backend has no
    DEVICE_NEEDS_RESET to set, so a corrupt ring waits (vdq corrupt_stall):
    the bad avail entry is not consumed (REJECT), a jumped or rewound
    avail idx leaves the ring serving the probe that follows (PASS); they
    were WEDGED while a corrupt ring broke the queue for good."""
    j = str(tmp_path / "r.json")
    p = runner("--target", "vhost-user", "--json", j, timeout=300)
    assert p.returncode == 0, p.stdout + p.stderr
    with open(j) as f:
        doc = json.load(f)
    (s,) = doc["targets"]
    assert s["boots"] == 1 and s["error"] is None, s
    got = {r["id"]: r["verdict"] for r in s["cases"]}
    assert len(got) >= 40, got
    bad = {k: v for k, v in got.items() if v not in ("PASS", "REJECT", "NEEDS_RESET", "SKIP")}
    assert not bad, p.stdout
    assert got["split.desc_index_oob"] == "REJECT", p.stdout
    assert got["split.avail_idx_jump"] == "PASS", p.stdout
    assert got["split.avail_idx_rewind"] == "PASS", p.stdout
    assert got["ctl.read"] == "PASS", p.stdout
