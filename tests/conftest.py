# SPDX-License-Identifier: Apache-2.0
"""pytest fixtures for the in-image tests.

    def test_something(console):          # the shared booted machine
        out = console.run("lspci")

    def test_other(boot):                 # a machine booted with other tools/run args
        c = boot(["--smp", "1"])

Both come from one Pool (tests/ringloop_console.py): consecutive tests with
the same arguments share one QEMU; a test that stops the machine, fails, or
leaves trouble on the console gets it replaced for the next test.

Every test writes build/test-logs/<module>.<test>.log: the boot transcript of
the machine it used, then everything the console printed during the test.
Panics and second banners fail the test (in the call, or at teardown if the
text arrived after the last command) unless the test set expect_panic.

Run with Debian's Python (`/usr/bin/python3 -m pytest tests`): pexpect comes
from python3-pexpect. QEMU options for every boot: RINGLOOP_RUN_ARGS (e.g.
"--accel tcg"); ACCEL=tcg|kvm|auto works as for tools/run.
"""

import os
import sys

import pytest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from ringloop_console import IMAGES, LOG_DIR, POOL, log_path  # noqa: E402

# tests/linux/ boots Debian's kernel (`make check-linux`, which downloads it):
# opt-in, so `pytest tests` (make check-image) leaves it out; naming it,
# `pytest tests/linux`, collects it.
collect_ignore = ["linux"]


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    """Keep each phase's report on the item so fixtures can see if the test failed."""
    outcome = yield
    rep = outcome.get_result()
    setattr(item, "rep_" + rep.when, rep)


def pytest_sessionfinish(session, exitstatus):
    POOL.discard()
    IMAGES.cleanup()


def pytest_terminal_summary(terminalreporter):
    if POOL.boots:
        terminalreporter.write_line("ringloop: %d QEMU boot(s); serial logs in %s"
                                    % (POOL.boots, os.path.relpath(LOG_DIR)))


def pytest_report_header(config):
    return "ringloop: serial logs in %s" % os.path.relpath(LOG_DIR)


class _Booter:
    """Hands out pooled consoles for one test and keeps its log."""

    def __init__(self, request):
        self.request = request
        self.consoles = []
        os.makedirs(LOG_DIR, exist_ok=True)
        self.log = open(log_path(request.node.nodeid), "w", encoding="utf-8")
        self.log.write("### %s\n" % request.node.nodeid)

    def __call__(self, run_args=()):
        if self.consoles:
            self.consoles[-1].set_log(None)
        c = POOL.get(run_args, user=self.request.node.nodeid)  # may raise: the test fails
        c.expect_panic = False
        self.log.write("### machine: tools/run %s (boot took %.1f s)\n### boot transcript:\n"
                       % (" ".join(c.run_args), c.boot_seconds or 0))
        self.log.write(c.boot_text)
        self.log.write("\n### test starts here\n")
        c.set_log(self.log)
        self.consoles.append(c)
        return c

    def note(self, text):
        """A '### ' line in this test's log (not serial output)."""
        self.log.write("\n### %s\n" % text)

    def finish(self):
        failed = any(getattr(self.request.node, "rep_" + w, None) is not None and
                     getattr(self.request.node, "rep_" + w).failed for w in ("setup", "call"))
        trouble = None
        for c in self.consoles:
            if c.alive:
                c.drain()  # a panic printed just after the last command is this test's
            c.set_log(None)
            t = c.trouble()
            if t and trouble is None:
                trouble = t
            if POOL.console is c and (failed or t or not c.alive):
                POOL.discard()
            if c.exit_status is not None:
                self.log.write("\n### tools/run exited with status %s\n" % c.exit_status)
        self.log.close()
        if trouble and not failed:
            pytest.fail("after the test: %s (see %s)"
                        % (trouble, os.path.relpath(log_path(self.request.node.nodeid))),
                        pytrace=False)


@pytest.fixture
def boot(request):
    """boot(run_args=()) -> a Console booted with those extra tools/run arguments."""
    b = _Booter(request)
    yield b
    b.finish()


@pytest.fixture
def console(boot):
    """The shared machine booted with the default arguments (q35, -smp 2)."""
    return boot()
