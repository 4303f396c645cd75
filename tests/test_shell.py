# SPDX-License-Identifier: Apache-2.0
"""The serial shell, black-box: real output of real commands, bad input
answered with one `error: ...` line and the shell still working after it.

Tests that stop the machine (panic, poweroff) are at the end of the module so
the shared machine serves everything before them.
"""

import re
import subprocess

import pytest

from ringloop_console import BANNER_RE, REPO, ConsoleError

COMMANDS = ["help", "version", "mem", "cpus", "lspci", "test", "bench", "logstress", "panic",
            "poweroff"]


def error_lines(out):
    return [ln for ln in out.splitlines() if ln.startswith("error: ")]


def assert_one_error(out):
    errs = error_lines(out)
    assert len(errs) == 1, "expected exactly one 'error: ' line, got:\n" + out
    return errs[0]


def assert_alive(console):
    """The shell still parses and runs a command after the bad input."""
    out = console.run("version")
    assert BANNER_RE.search(out), out


# ---- good input ----

def test_banner_is_version_and_a_real_commit(console):
    version, githash = console.banner
    makefile = open(REPO + "/Makefile").read()
    assert re.search(r"^VERSION\s*:=\s*%s\s*$" % re.escape(version), makefile, re.M), \
        "banner version %s is not the Makefile's VERSION" % version
    in_git = subprocess.run(["git", "-C", REPO, "rev-parse", "HEAD"],
                            capture_output=True).returncode == 0
    if githash == "unknown":  # the Makefile's fallback outside a git checkout
        assert not in_git, "built from a git checkout but the banner says 'unknown'"
        return
    r = subprocess.run(["git", "-C", REPO, "rev-parse", "--verify", "-q", githash + "^{commit}"],
                       capture_output=True, text=True)
    assert r.returncode == 0, "banner hash %s is not a commit of this repository" % githash


def test_version_prints_the_banner(console):
    out = console.run("version")
    assert out.strip() == "ringloop %s %s" % console.banner


def test_help_lists_every_command(console):
    out = console.run("help")
    names = [ln.split()[0] for ln in out.splitlines() if ln.strip()]
    for cmd in COMMANDS:
        assert cmd in names, "help does not list %r:\n%s" % (cmd, out)
    assert not error_lines(out)


def test_mem_reports_plausible_numbers(console):
    out = console.run("mem")
    m = re.search(r"(\d+) KiB usable", out)
    assert m, out
    usable_mib = int(m.group(1)) / 1024
    # tools/run gives the guest 512 MiB (ringloop_qemu.DEFAULT_MEM_MB); the
    # firmware keeps some, but most of it must be usable.
    assert 300 <= usable_mib <= 512, "usable %.0f MiB with -m 512" % usable_mib
    m = re.search(r"pages: (\d+) free of (\d+)", out)
    assert m, out
    free, total = int(m.group(1)), int(m.group(2))
    assert 0 < free <= total
    assert total * 4096 <= 512 << 20


def test_cpus_lists_two_cpus(console):
    out = console.run("cpus")
    assert not error_lines(out), out
    # One line per CPU, "cpu 0 ..." / "cpu0 ...", ids 0 and 1 with -smp 2.
    ids = re.findall(r"^\s*cpu\s*(\d+)\b", out, re.M | re.I)
    assert sorted(set(ids)) == ["0", "1"], "expected CPUs 0 and 1 (-smp 2):\n" + out


def test_lspci_lists_q35_host_bridge(console):
    out = console.run("lspci")
    assert re.search(r"^\s*00:00\.0\s+8086:29c0\b", out, re.M), out
    # q35's AHCI controller (the ESP disk) is always there too.
    assert re.search(r"^\s*00:1f\.2\s+8086:2922\b", out, re.M), out


def test_empty_line_just_prompts_again(console):
    out = console.run("")
    assert out.strip() == ""
    assert_alive(console)


def test_lf_also_ends_a_line(console):
    """Both CR and LF end a command (pexpect sends CR elsewhere)."""
    out = console.run("version", end="\n")
    assert out.strip() == "ringloop %s %s" % console.banner
    out = console.run("version", end="\r\n")  # CRLF is one line end, not two
    assert out.strip() == "ringloop %s %s" % console.banner
    assert_alive(console)


# ---- bad input: one error line, the shell survives ----

@pytest.mark.parametrize("line", [
    pytest.param("frobnicate", id="unknown-command"),
    pytest.param("test", id="test-without-argument"),
    pytest.param("bench", id="bench-without-argument"),
    pytest.param("test no-such-suite", id="unknown-suite"),
    pytest.param("poweroff lots", id="poweroff-not-a-number"),
    pytest.param("poweroff 1 2", id="poweroff-two-arguments"),
    pytest.param(" ".join(["x"] * 40), id="too-many-words"),
    pytest.param("logstress 0", id="logstress-zero-lines"),
    pytest.param("logstress 10 lots", id="logstress-period-not-a-number"),
])
def test_bad_input_gets_one_error_line(console, line):
    out = console.run(line)
    assert_one_error(out)
    assert_alive(console)


def test_overlong_line_is_rejected_not_run(console):
    # 300 characters: more than SHELL_MAX_LINE (256). The start is a valid
    # command so the test fails if the shell ran a truncated line.
    line = "version " + "y" * 292
    out = console.run(line, echo=False)
    err = assert_one_error(out)
    assert "too long" in err, err
    assert not BANNER_RE.search(out), "the truncated line was run:\n" + out
    assert_alive(console)


# ---- the machine stops: each of these costs the next test a fresh boot ----

def test_panic_is_caught_as_a_failure(console):
    """The harness must fail a test whose machine panics: run() raises
    ConsoleError naming the panic, and tools/run exits with status 99."""
    with pytest.raises(ConsoleError, match="panic"):
        console.run("panic")
    assert console.exit_status == 99, "tools/run exited %s" % console.exit_status
    assert "PANIC:" in console.transcript
    console.expect_panic = True  # seen and checked; do not fail teardown on it


def test_panic_prints_a_useful_report(console):
    status = console.run_until_exit("panic", expect_panic=True)
    assert status == 99
    text = console.transcript.replace("\r", "")
    report = text[text.index("PANIC:"):]
    assert re.search(r"vector|#PF|page fault", report, re.I), report
    assert re.search(r"rip", report, re.I), "no register dump:\n" + report
    assert re.search(r"backtrace|call trace", report, re.I), "no backtrace:\n" + report


def test_poweroff_status_becomes_tools_run_exit_status(console):
    assert console.run_until_exit("poweroff 7") == 7


def test_poweroff_defaults_to_status_zero(console):
    assert console.run_until_exit("poweroff") == 0
