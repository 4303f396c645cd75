# SPDX-License-Identifier: Apache-2.0
"""ringloop_console - drive a booted ringloop over its serial console.

A Console is one QEMU started through tools/run (so the exit status is the
kernel's: `poweroff 7` -> 7, panic -> 99), talked to over pipes with pexpect.
It waits for the prompt, sends a command, waits for the command's echo and the
next prompt, and returns what was printed in between.

Every byte QEMU prints is kept in `transcript`. After each exchange the
transcript is checked for trouble: a kernel `PANIC:`, a firmware exception
(OVMF's `!!!! X64 Exception`), or a second boot banner. Trouble raises
ConsoleError (an AssertionError, so pytest reports a failure) unless the
caller said it expects it (`expect_panic=True`).

Invariant: between exchanges the console is "at the prompt": the prompt of
the last exchange has been consumed and nothing else was sent.
"""

import ctypes
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time

import pexpect
import pexpect.popen_spawn

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(REPO, "tools"))
import ringloop_qemu as rq  # noqa: E402

LOG_DIR = os.path.join(REPO, "build", "test-logs")
TOOLS_RUN = os.path.join(REPO, "tools", "run")
PROMPT = "ringloop> "
# `ringloop <version> <git hash>`; the prompt ("ringloop> ") does not match.
BANNER_RE = re.compile(r"ringloop (\d+\.\d+\.\d+\S*) ([0-9a-f]{7,40}|unknown)")
PANIC_RE = re.compile(r"PANIC:|!!!! X64 Exception|!!!! .*Exception Type")
BOOT_TIMEOUT = 60  # TCG boot to the prompt takes ~4 s; generous for a loaded CI box
CMD_TIMEOUT = 30
LINE_END = "\r"


def find_trouble(text, expect_panic=False, allowed_banners=0):
    """Why serial output `text` means the machine misbehaved, or None.

    A panic (or a firmware exception dump) unless expected; more boot banners
    than the one at boot plus `allowed_banners` (replies to `version`).
    """
    if not expect_panic:
        m = PANIC_RE.search(text)
        if m:
            return "kernel panic / CPU exception on the console: %r" % \
                text[m.start():m.start() + 160].splitlines()[0]
    if len(BANNER_RE.findall(text)) > 1 + allowed_banners:
        return "a second boot banner: the machine restarted"
    return None


class ConsoleError(AssertionError):
    """The console saw something a test did not expect (or saw nothing)."""


class _Tee:
    """pexpect's logfile_read: keep everything, and mirror it to a log file."""

    def __init__(self):
        self.chunks = []
        self.log = None

    def write(self, s):
        self.chunks.append(s)
        if self.log:
            self.log.write(s)
            self.log.flush()

    def flush(self):
        pass


def _die_with_parent():
    """tools/run gets SIGTERM (and stops its QEMU) if the test process dies."""
    try:
        ctypes.CDLL(None).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass


class Console:
    def __init__(self, run_args=(), boot_timeout=BOOT_TIMEOUT, env=None):
        self.run_args = list(run_args)
        self.cmdline = [sys.executable, TOOLS_RUN] + self.run_args
        self._tee = _Tee()
        self.exit_status = None
        self.banner = None  # (version, hash) once booted
        self.allowed_banners = 0  # banner-shaped replies (e.g. `version`)
        self.expect_panic = False
        self.boot_seconds = None
        t0 = time.monotonic()
        self.child = pexpect.popen_spawn.PopenSpawn(
            self.cmdline, encoding="utf-8", codec_errors="replace", cwd=REPO,
            env=env, timeout=boot_timeout, preexec_fn=_die_with_parent)
        self.child.logfile_read = self._tee
        self._expect_prompt(boot_timeout, "the first prompt")
        self.boot_seconds = time.monotonic() - t0
        self.boot_text = self.transcript
        m = BANNER_RE.search(self.transcript)
        if not m:
            raise ConsoleError("no boot banner before the prompt\n" + self.tail())
        self.banner = (m.group(1), m.group(2))
        self.check()

    # ---- what was seen ----
    @property
    def transcript(self):
        return "".join(self._tee.chunks)

    def mark(self):
        """A position in the transcript, for since()."""
        return sum(len(c) for c in self._tee.chunks)

    def since(self, mark):
        return self.transcript[mark:]

    def tail(self, n=40):
        lines = self.transcript.replace("\r", "").splitlines()[-n:]
        return "--- last %d lines of serial output ---\n%s" % (len(lines), "\n".join(lines))

    def drain(self, wait=0.1):
        """Take in whatever QEMU printed unasked (e.g. a late panic), waiting
        up to `wait` s for it; it goes to the transcript and the log only."""
        deadline = time.monotonic() + wait
        while True:
            try:
                got = self.child.read_nonblocking(65536, timeout=0)
            except pexpect.EOF:
                self._reap()
                return
            if not got:
                if time.monotonic() >= deadline:
                    return
                time.sleep(0.02)

    def set_log(self, f):
        self._tee.log = f

    def trouble(self):
        """A description of unexpected trouble in the transcript, or None."""
        return find_trouble(self.transcript, self.expect_panic, self.allowed_banners)

    def check(self):
        why = self.trouble()
        if why:
            raise ConsoleError(why + "\n" + self.tail())

    # ---- talking ----
    def _expect_prompt(self, timeout, what):
        try:
            self.child.expect_exact(PROMPT, timeout=timeout)
        except pexpect.TIMEOUT:
            self.check()
            raise ConsoleError("timed out after %ss waiting for %s\n%s"
                               % (timeout, what, self.tail())) from None
        except pexpect.EOF:
            self._reap()
            self.check()
            raise ConsoleError("QEMU exited (status %s) while waiting for %s\n%s"
                               % (self.exit_status, what, self.tail())) from None

    def send(self, text):
        """Send raw text (no line end)."""
        self.child.send(text)

    def run(self, cmd, timeout=CMD_TIMEOUT, echo=True, end=LINE_END):
        """Run one shell command; return its output (no echo, no prompt, \\n line ends).

        echo=False: do not wait for the echo (e.g. when the shell may cut it).
        end: what ends the line ("\\r" like a terminal; "\\n" works too).
        """
        self.send_command(cmd, timeout=timeout, echo=echo, end=end)
        return self.wait_prompt(timeout, "the prompt after %r" % cmd[:60], cmd=cmd)

    def send_command(self, cmd, timeout=CMD_TIMEOUT, echo=True, end=LINE_END):
        """Type `cmd` and Enter, wait for the echo, and return at once: for
        tests that act on the host while the command runs. Finish with
        wait_prompt()."""
        self.child.send(cmd + end)
        if echo:
            try:
                self.child.expect_exact(cmd, timeout=timeout)
            except (pexpect.TIMEOUT, pexpect.EOF):
                self._reap_if_dead()
                self.check()
                raise ConsoleError("no echo of %r within %ss\n%s" % (cmd, timeout, self.tail())) \
                    from None

    def wait_prompt(self, timeout=CMD_TIMEOUT, what="the prompt", cmd=""):
        """Wait for the next prompt; return what was printed before it (as run())."""
        self._expect_prompt(timeout, what)
        out = self.child.before.replace("\r", "")
        if out.startswith("\n"):
            out = out[1:]
        if cmd.split()[:1] == ["version"]:
            self.allowed_banners += len(BANNER_RE.findall(out))
        self.check()
        return out.rstrip("\n")

    def run_until_exit(self, cmd, timeout=CMD_TIMEOUT, expect_panic=False):
        """Send a command after which the machine should stop; return tools/run's status."""
        self.expect_panic = self.expect_panic or expect_panic
        self.child.send(cmd + LINE_END)
        return self.wait_exit(timeout)

    def wait_exit(self, timeout=CMD_TIMEOUT):
        try:
            self.child.expect(pexpect.EOF, timeout=timeout)
        except pexpect.TIMEOUT:
            raise ConsoleError("QEMU still running %ss after it should have stopped\n%s"
                               % (timeout, self.tail())) from None
        self._reap()
        self.check()
        return self.exit_status

    # ---- life cycle ----
    @property
    def alive(self):
        return self.exit_status is None and self.child.proc.poll() is None

    def _reap(self):
        if self.exit_status is None:
            self.exit_status = self.child.wait()
        return self.exit_status

    def _reap_if_dead(self):
        if self.child.proc.poll() is not None:
            self._reap()

    def close(self):
        """Stop QEMU (tools/run forwards SIGTERM to it) and collect the status."""
        if self.exit_status is not None:
            return
        proc = self.child.proc
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        self.exit_status = proc.returncode
        for f in (proc.stdin, proc.stdout):
            try:
                f.close()
            except OSError:
                pass


def log_path(nodeid):
    """build/test-logs/<module>.<test>.log for a pytest node id."""
    module, _, rest = nodeid.partition("::")
    module = os.path.splitext(os.path.basename(module))[0]
    name = "%s.%s" % (module, rest.replace("::", ".")) if rest else module
    return os.path.join(LOG_DIR, re.sub(r"[^A-Za-z0-9._\[\]=+-]", "_", name)[:200] + ".log")


# Machines the in-image tests run on (DESIGN.md §7: q35 + OVMF and microvm +
# PVH); RINGLOOP_MACHINES="q35" restricts the run.
MACHINES = os.environ.get("RINGLOOP_MACHINES", "q35 microvm").split()


def machine_args(machine):
    """tools/run arguments for `machine` (q35 is the default machine: no arguments,
    so its tests share the boot the shell tests use)."""
    return [] if machine == "q35" else ["--machine", machine]


def default_run_args():
    """tools/run arguments for every boot: $RINGLOOP_RUN_ARGS (e.g. "--accel tcg").
    ($ACCEL reaches tools/run through the environment by itself.)"""
    import shlex
    return shlex.split(os.environ.get("RINGLOOP_RUN_ARGS", ""))


def merge_run_args(*arg_lists):
    """Join tools/run argument lists, each maybe with "-- qemu args": options
    first, then one "--" and every list's QEMU arguments in order."""
    opts, qemu = [], []
    for args in arg_lists:
        args = list(args)
        sep = args.index("--") if "--" in args else len(args)
        opts += args[:sep]
        qemu += args[sep + 1:]
    return opts + (["--"] + qemu if qemu else [])


class BootFailed(ConsoleError):
    pass


class Pool:
    """At most one live QEMU at a time, reused by consecutive tests that boot
    with the same tools/run arguments (a TCG boot costs ~4 s; the machine has
    2 cores shared with other work). A console is dropped and the next test
    boots afresh when it stopped (poweroff, panic), when a test using it
    failed, or when trouble was seen. A boot that failed is not retried for
    the same arguments: the remaining tests fail at once with the same error.
    """

    def __init__(self):
        self.console = None
        self.key = None
        self.boots = 0
        self.failed_boots = {}
        self.last_user = None

    def get(self, run_args=(), user=None):
        args = merge_run_args(default_run_args(), run_args)
        sep = args.index("--") if "--" in args else len(args)
        args = merge_run_args(args, IMAGES.image_args(args[:sep]))
        key = tuple(args)
        c = self.console
        if c is not None and c.alive:
            c.drain(wait=0)
        if c is not None and c.alive and c.trouble():
            # Output that came after the last test's teardown: report it
            # rather than quietly booting a fresh machine.
            why = c.trouble()
            self.discard()
            raise ConsoleError("the machine %s left showed trouble afterwards: %s"
                               % (self.last_user or "the previous test", why))
        if c is not None and (self.key != key or not c.alive):
            self.discard()
        if self.console is None:
            if key in self.failed_boots:
                raise BootFailed("an earlier boot with tools/run %s failed:\n%s"
                                 % (" ".join(args), self.failed_boots[key]))
            self.boots += 1
            try:
                self.console = Console(args)
            except ConsoleError as e:
                self.failed_boots[key] = str(e)
                raise BootFailed("boot failed (tools/run %s):\n%s" % (" ".join(args), e)) \
                    from None
            self.key = key
        self.last_user = user
        return self.console

    def discard(self):
        if self.console is not None:
            self.console.close()
        self.console = None
        self.key = None


class ImageSnapshot:
    """The images this test session boots, copied once at first use: the
    checkout is shared, and an image rebuilt halfway through a run would
    otherwise mix two kernels in one report (e.g. a `test list` from one and
    suites from the other)."""

    def __init__(self):
        self.dir = None
        self.copies = {}

    def image_args(self, args):
        if "--image" in args:
            return []
        machine = args[args.index("--machine") + 1] if "--machine" in args[:-1] else "q35"
        if machine not in rq.MACHINES:
            return []
        src = rq.MACHINES[machine][1]
        if src not in self.copies:
            if not os.path.exists(src):
                return []  # tools/run says what is missing
            if self.dir is None:
                self.dir = tempfile.mkdtemp(prefix="ringloop-test-images-")
            dst = os.path.join(self.dir, os.path.basename(src))
            shutil.copyfile(src, dst)
            self.copies[src] = dst
        return ["--image", self.copies[src]]

    def cleanup(self):
        if self.dir:
            shutil.rmtree(self.dir, ignore_errors=True)
        self.dir, self.copies = None, {}


IMAGES = ImageSnapshot()
POOL = Pool()
