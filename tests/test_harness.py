# SPDX-License-Identifier: Apache-2.0
"""Tests of the harness itself: the KTAP parser, the script parser, trouble
detection, tools/run's exit-status contract and tools/deps.sh. All but one
run without booting; the exception boots the firmware-floor app."""

import os
import re
import subprocess
import sys

import pytest

import ktap
import rlscript
from ringloop_console import REPO, find_trouble

sys.path.insert(0, os.path.join(REPO, "tools"))
import ringloop_qemu as rq  # noqa: E402

TOOLS_RUN = os.path.join(REPO, "tools", "run")

# ---- KTAP ----

SUITE = """\
some kernel noise
KTAP version 1
1..3
# starting
ok 1 printf
# got 41
not ok 2 strtol # libc/test.c:12: v == 42 (41 != 42)
ok 3 malloc # SKIP no heap
"""

ALL = """\
KTAP version 1
1..2
    KTAP version 1
    # Subtest: libc
    1..2
    ok 1 printf
    not ok 2 strtol # bad
not ok 1 libc
    KTAP version 1
    # Subtest: mm
    1..1
    ok 1 pages
ok 2 mm
"""


def test_ktap_parses_results_reasons_skips_and_diagnostics():
    doc = ktap.parse(SUITE)
    assert doc.version == 1 and doc.plan == 3 and not doc.problems()
    assert [(r.number, r.name, r.ok) for r in doc.results] == \
        [(1, "printf", True), (2, "strtol", False), (3, "malloc", True)]
    assert doc.find("strtol").reason == "libc/test.c:12: v == 42 (41 != 42)"
    assert doc.find("strtol").diagnostics == ["got 41"]
    assert doc.find("malloc").skipped and doc.find("malloc").reason == "no heap"
    assert not doc.find("printf").skipped
    assert doc.other == []  # noise before the version line is not part of the document


def test_ktap_nested_subtests_belong_to_the_next_result():
    doc = ktap.parse(ALL)
    assert not doc.problems()
    libc, mm = doc.results
    assert (libc.name, libc.ok, mm.name, mm.ok) == ("libc", False, "mm", True)
    assert libc.subtest.name == "libc" and [c.name for c in libc.subtest.results] == \
        ["printf", "strtol"]
    assert mm.subtest.name == "mm" and mm.subtest.results[0].ok


def test_ktap_unindented_log_line_inside_a_subtest_does_not_end_it():
    doc = ktap.parse(ALL.replace("    ok 1 printf\n",
                                 "    ok 1 printf\n# virtio err: broken\nkernel says hi\n"))
    assert not doc.problems(), doc.problems()
    assert [c.name for c in doc.results[0].subtest.results] == ["printf", "strtol"]


@pytest.mark.parametrize("text, problem", [
    ("KTAP version 1\nok 1 a\n", "no plan"),
    ("KTAP version 1\n1..2\nok 1 a\n", "plan says 2 cases, 1 reported"),
    ("KTAP version 1\n1..2\nok 1 a\nok 3 b\n", "numbered 3"),
    ("nothing here\n", "no \"KTAP version\" line"),
    ("KTAP version 1\n1..1\n    KTAP version 1\n    1..2\n    ok 1 x\nok 1 s\n",
     "s: plan says 2 cases, 1 reported"),
])
def test_ktap_reports_malformed_documents(text, problem):
    assert any(problem in p for p in ktap.parse(text).problems()), ktap.parse(text).problems()


def test_test_list_lines_parse():
    from test_ktap import parse_list
    assert parse_list("libc: printf strtol\r\nmm: pages\nnot a list line here\nempty:\n") == \
        [("libc", ["printf", "strtol"]), ("mm", ["pages"]), ("empty", [])]


# ---- scripts ----

def test_script_format():
    s = rlscript.parse("""\
# comment
smp: 3
mem: 256
qemu: -device virtio-rng-pci,id=rng0 -object 'memory-backend-file,id=m,mem-path={tmp}/m'
> lspci
00:00.0 8086:29c0
~ ^\\s*00:1f\\.2
! error:
!~ PANIC
\\> literal
@timeout 5
> poweroff 3
@exit 3
""", name="t.txt")
    assert s.run_args({"tmp": "/T"}) == [
        "--smp", "3", "--mem", "256", "--", "-device", "virtio-rng-pci,id=rng0",
        "-object", "memory-backend-file,id=m,mem-path=/T/m"]
    lspci, off = s.steps
    assert lspci.command == "lspci" and lspci.exit_status is None and lspci.timeout == 30
    assert [(c.kind, c.text) for c in lspci.checks] == [
        ("has", "00:00.0 8086:29c0"), ("re", r"^\s*00:1f\.2"), ("not", "error:"),
        ("not-re", "PANIC"), ("has", "> literal")]
    assert off.exit_status == 3 and off.timeout == 5
    out = "  00:00.0 8086:29c0 host bridge\n  00:1f.2 8086:2922\n> literal"
    assert [c.failure(out) for c in lspci.checks] == [None] * 5
    assert lspci.checks[0].failure("nothing") is not None
    assert lspci.checks[2].failure("error: x") is not None
    assert lspci.checks[3].failure("PANIC: x") is not None


@pytest.mark.parametrize("text, msg", [
    ("lspci\n", "expected a header line"),
    ("smp: two\n> x\n", "needs a number"),
    ("> poweroff\n@exit 0\n> version\n", "command after @exit"),
    ("@exit 1\n", "before any command"),
    ("> x\n~ (unclosed\n", "bad regular expression"),
    ("# only comments\n", "no '> command'"),
    ("> x\n@frob\n", "unknown directive"),
])
def test_script_errors_are_reported(text, msg):
    with pytest.raises(rlscript.ScriptError, match=msg):
        rlscript.parse(text)


# ---- trouble on the console ----

def test_trouble_detection():
    boot = "BdsDxe: starting\r\nringloop 0.1.0 0123456789ab\r\nringloop> "
    assert find_trouble(boot) is None
    assert "panic" in find_trouble(boot + "PANIC: #PF at 0x0\n")
    assert find_trouble(boot + "PANIC: #PF at 0x0\n", expect_panic=True) is None
    assert "panic" in find_trouble(boot + "!!!! X64 Exception Type - 06(#UD - Invalid Opcode)")
    again = boot + "\nringloop 0.1.0 0123456789ab\r\n"
    assert "second boot banner" in find_trouble(again)
    assert find_trouble(again, allowed_banners=1) is None  # e.g. the reply to `version`


# ---- tools/run ----

@pytest.mark.parametrize("code, status", [(1, 0), (15, 7), (199, 99), (0, 0), (2, 2)])
def test_exit_code_decoding(code, status):
    assert rq.decode_exit(code) == status


def test_run_reports_qemu_start_failure():
    r = subprocess.run([sys.executable, TOOLS_RUN, "--accel", "tcg", "--image", TOOLS_RUN,
                        "--", "-no-such-qemu-option"], capture_output=True, text=True,
                       timeout=30)
    assert r.returncode == rq.QEMU_FAILED, r
    assert "QEMU failed to start" in r.stderr


def test_run_command_line():
    r = subprocess.run([sys.executable, TOOLS_RUN, "--dry-run", "--accel", "tcg", "--smp", "3",
                        "--mem", "256", "--", "-device", "virtio-rng-pci"],
                       capture_output=True, text=True, timeout=30)
    assert r.returncode == 0, r.stderr
    cmd = r.stdout.split()
    for want in (["-M", "q35"], ["-accel", "tcg,thread=multi"], ["-smp", "3"], ["-m", "256"],
                 ["-serial", "stdio"], ["-monitor", "none"], ["-nic", "none"],
                 ["-device", "isa-debug-exit,iobase=0xf4,iosize=0x04"]):
        assert any(cmd[i:i + 2] == want for i in range(len(cmd))), (want, cmd)
    assert "-no-reboot" in cmd and cmd[-2:] == ["-device", "virtio-rng-pci"]
    # the ESP boots first whatever else a test attaches
    assert any(a.startswith("ide-hd,drive=esp,") and "bootindex=0" in a for a in cmd), cmd


def test_run_floor_app_exits_zero():
    """The floor app writes status 0 to isa-debug-exit; QEMU exits 1; tools/run 0."""
    if not os.path.exists(rq.FLOOR_IMAGE):
        pytest.skip("build/efi/floor-esp.img not built (make floor)")
    r = subprocess.run([sys.executable, TOOLS_RUN, "--image", rq.FLOOR_IMAGE, "--smp", "1",
                        "--timeout", "60"], capture_output=True, text=True, timeout=90)
    assert "ringloop-floor" in r.stdout
    assert r.returncode == 0, (r.returncode, r.stderr)


def test_deps_is_quiet_when_everything_is_installed():
    r = subprocess.run([os.path.join(REPO, "tools", "deps.sh")], capture_output=True, text=True)
    assert (r.returncode, r.stdout, r.stderr) == (0, "", "")


# ---- KTAP cases -> pytest verdicts, with a fake console ----

class FakeConsole:
    """Plays back canned serial output for `test <suite>`; can die mid-way."""

    def __init__(self, output, dies=False):
        self.output, self.dies = output, dies
        self.expect_panic = False
        self.text = ""

    def mark(self):
        return len(self.text)

    def since(self, mark):
        return self.text[mark:]

    def trouble(self):
        return None

    def run(self, cmd, timeout=None):
        from ringloop_console import ConsoleError
        self.text += cmd + "\n" + self.output
        if self.dies:
            raise ConsoleError("QEMU exited (status 99) while waiting for the prompt")
        return self.output


def _verdicts(output, dies=False, cases=("a", "b", "c")):
    import test_ktap
    run = test_ktap.run_suite(FakeConsole(output, dies), "fake", "log", machine="fake")
    test_ktap._runs.pop(("fake", "fake"), None)
    return [test_ktap.case_verdict(run, c)[0] for c in cases]


def test_each_ktap_case_gets_its_own_verdict():
    out = "KTAP version 1\n1..3\nok 1 a\nnot ok 2 b # x.c:1: boom\nok 3 c # SKIP later\n"
    assert _verdicts(out) == ["pass", "fail", "skip"]


def test_a_missing_case_fails_only_itself():
    out = "KTAP version 1\n1..3\nok 1 a\nok 2 c\n"
    assert _verdicts(out, cases=("a", "b", "c")) == ["pass", "fail", "pass"]


def test_a_suite_that_panics_fails_the_running_case_and_later_ones():
    out = "KTAP version 1\n1..3\nok 1 a\nPANIC: #PF\n"
    assert _verdicts(out, dies=True) == ["pass", "fail", "fail"]


def test_deps_prints_the_apt_line_when_not_root():
    """Not root and a package missing: the exact apt-get line on stdout, exit 1,
    and no attempt to install (apt-get would fail as non-root anyway)."""
    src = open(os.path.join(REPO, "tools", "deps.sh")).read()
    fake = "ringloop-no-such-package"
    # append the fake package to the end of the PACKAGES list, whatever is last in it
    m = re.search(r'^PACKAGES="[^"]*"', src, re.M)
    assert m, "tools/deps.sh has no PACKAGES=\"...\" list"
    script = src[:m.end() - 1] + " " + fake + src[m.end() - 1:]
    cmd = ["sh", "-s"]  # the script on stdin: nobody may not read our temp dirs
    if os.getuid() == 0:  # drop to nobody to exercise the non-root path
        cmd = ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups"] + cmd
    r = subprocess.run(cmd, input=script,
                       capture_output=True, text=True, timeout=60, cwd="/")
    assert r.returncode == 1, r
    assert r.stdout == "apt-get install -y %s\n" % fake, r.stdout
    assert fake in r.stderr


def test_accel_probe_runs_once_and_is_cached(tmp_path, monkeypatch):
    calls = []

    def fake_probe(opts):
        calls.append(opts.machine)
        return False, ["KVM internal error. Suberror: 1"]

    monkeypatch.setattr(rq, "PROBE_CACHE", str(tmp_path / "accel-probe"))
    monkeypatch.setattr(rq, "_probe_kvm", fake_probe)
    monkeypatch.setattr(rq.os, "access", lambda path, mode: True)  # as if /dev/kvm were usable
    assert rq.resolve_accel(rq.Options(accel="auto")) == "tcg"
    assert rq.resolve_accel(rq.Options(accel="auto")) == "tcg"
    assert calls == ["q35"]  # the second run read the cache
    assert rq.resolve_accel(rq.Options(machine="microvm", accel="auto")) == "tcg"
    assert calls == ["q35", "microvm"]  # one verdict per machine
    assert rq.resolve_accel(rq.Options(accel="kvm")) == "kvm"  # explicit: no probe
    assert len(calls) == 2


def _children(pid):
    out = []
    for task in os.listdir("/proc/%d/task" % pid):
        with open("/proc/%d/task/%s/children" % (pid, task)) as f:
            out += [int(x) for x in f.read().split()]
    return out


def _gone(pid, timeout=10.0):
    import time
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with open("/proc/%d/stat" % pid) as f:
                if f.read().split(") ")[1].startswith("Z"):
                    return True  # dead, waiting to be reaped
        except FileNotFoundError:
            return True
        time.sleep(0.05)
    return False


@pytest.mark.skipif(not os.path.exists(rq.PVH_IMAGE), reason="build/efi/ringloop.elf not built")
def test_no_orphan_qemu_when_tools_run_is_killed():
    """tools/run killed with SIGKILL (no chance to clean up) takes QEMU with it,
    so a crashed test run never leaves QEMUs eating the shared cores."""
    import signal
    from ringloop_console import Console
    c = Console(["--machine", "microvm", "--accel", "tcg"])  # microvm: boots in ~1 s
    try:
        qemus = _children(c.child.pid)
        assert len(qemus) == 1, qemus
        os.kill(c.child.pid, signal.SIGKILL)
        assert _gone(qemus[0]), "QEMU %d outlived tools/run" % qemus[0]
    finally:
        c.close()


def test_test_all_split_per_suite_with_a_crash_inside_a_suite():
    """In a full run the cases read their results from one `test all`; a
    panic inside suite b keeps a's results and b's earlier cases, and fails
    b's later cases and all of c."""
    import test_ktap
    out = ("KTAP version 1\n1..3\n"
           "    KTAP version 1\n    # Subtest: a\n    1..1\n    ok 1 x\nok 1 a\n"
           "    KTAP version 1\n    # Subtest: b\n    1..2\n    ok 1 y\nPANIC: #GP\n")
    test_ktap._listings["fake"] = [("a", ["x"]), ("b", ["y", "z"]), ("c", ["w"])]
    try:
        test_ktap.run_all(FakeConsole(out, dies=True), "log", machine="fake")
        verdicts = [test_ktap.case_verdict(test_ktap._runs[("fake", s)], c)[0]
                    for s, c in (("a", "x"), ("b", "y"), ("b", "z"), ("c", "w"))]
        assert verdicts == ["pass", "pass", "fail", "fail"]
        assert "stopped early" in test_ktap.case_verdict(test_ktap._runs[("fake", "c")], "w")[1]
    finally:
        test_ktap._listings.pop("fake", None)
        test_ktap._all_runs.pop("fake", None)
        for s in "abc":
            test_ktap._runs.pop(("fake", s), None)


def test_an_image_that_never_prompts_fails_fast_and_once():
    """A boot that ends without a prompt is a failure naming the exit status;
    the pool does not boot the same broken image again for every test."""
    import time
    from ringloop_console import BootFailed, Pool
    if not os.path.exists(rq.FLOOR_IMAGE):
        pytest.skip("build/efi/floor-esp.img not built (make floor)")
    pool = Pool()
    args = ["--image", rq.FLOOR_IMAGE, "--smp", "1"]  # prints a line, exits 0
    with pytest.raises(BootFailed, match=r"QEMU exited \(status 0\) while waiting for the first"):
        pool.get(args)
    t0 = time.monotonic()
    with pytest.raises(BootFailed, match="an earlier boot"):
        pool.get(args)
    assert time.monotonic() - t0 < 1.0 and pool.boots == 1


def test_run_args_merge_keeps_qemu_arguments_last():
    from ringloop_console import merge_run_args
    assert merge_run_args(["--accel", "tcg", "--", "-d", "int"], ["--machine", "microvm"],
                          ["--", "-device", "x"]) == \
        ["--accel", "tcg", "--machine", "microvm", "--", "-d", "int", "-device", "x"]
    assert merge_run_args([], ["--smp", "1"]) == ["--smp", "1"]
