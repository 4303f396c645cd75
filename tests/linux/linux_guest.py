# SPDX-License-Identifier: Apache-2.0
"""Boot the tiny Linux guest (tools/linux-guest/mkguest.py) under QEMU, run
one guest test in it, and read back what happened.

    import linux_guest as lg
    guest = lg.build()                         # builds what is out of date
    res = guest.run("blk", qemu_args=backend.device_args(),
                    env={"write": "0+8"}, deadline=120, log=path)
    res.verdict        # COMPLETED, IO_ERROR, HUNG, PANIC or DIED
    res.status         # the guest test's exit status (None unless it ended)
    res.tags("written")  # its `RL: written ...` lines, parsed

Guest tests are the executables in tests/linux/guest/ (NAME.sh runs as
rl.test=NAME); env={"key": "v"} becomes rl.key=v on the kernel command line
and $RL_KEY in the test. They report through /rl/rl.sh (`RL: NAME k=v ...`
lines via /dev/kmsg). build(extra_files=, packages=, binaries=) adds files,
Debian packages and binaries with their shared libraries to the initrd (see
mkguest.build); build(**FIO) is fio, as tests/linux/guest/fio.sh runs it.

Once per hostile mode (the same guest, a different backend each time):

    for mode in modes:
        b = Backend(args=["--hostile", mode])      # whatever the daemon grows
        res = guest.run("blk", qemu_args=b.device_args(), env=..., deadline=60)
        assert res.verdict in allowed[mode], res.summary()

The machine: q35, TCG (thread=multi), -cpu max, 2 CPUs, 256 MiB of guest
memory (more for a big initrd) as a shared memfd (so any vhost-user device
can be added with qemu_args), the uncompressed kernel booted through its PVH
entry, the serial console on stdout, -no-reboot with panic=-1 oops=panic (a
panic or an oops ends QEMU). The console loglevel must show notices (the
default loglevel=7; not `quiet`): the tags are printed at level 5.

Verdicts, for running the same guest against devices that misbehave:
  COMPLETED  the test ran to its end (`RL: done`), no I/O error seen
  IO_ERROR   it ran to its end, but the kernel logged a block request error
             or the test tagged an io-error (rl_run saw "I/O error")
  HUNG       no `RL: done` before the deadline; QEMU was stopped
  PANIC      Kernel panic / Oops / BUG: on the console
  DIED       QEMU ended without any of the above (exited, crashed)
"""

import os
import re
import subprocess
import sys
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
GUEST_TESTS = os.path.join(HERE, "guest")
sys.path.insert(0, os.path.join(REPO, "tools", "linux-guest"))
sys.path.insert(0, os.path.dirname(HERE))
import mkguest  # noqa: E402
from ringloop_console import _die_with_parent  # noqa: E402

COMPLETED, IO_ERROR, HUNG, PANIC, DIED = "completed", "io-error", "hung", "panic", "died"
QEMU = "qemu-system-x86_64"
CMDLINE = ["console=ttyS0", "panic=-1", "oops=panic", "loglevel=7", "printk.devkmsg=on"]
# `[   12.345678] RL: name words k=v ...`: a tag, after the printk timestamp.
TAG_RE = re.compile(r"(?:\[\s*(\d+\.\d+)\]\s+)?RL: (\S+)(.*)$")
PANIC_RE = re.compile(r"Kernel panic - not syncing|\bBUG: |\bOops: |kernel BUG at "
                      r"|general protection fault")
# blk_print_req_error(): "<status> error, dev vda, sector N op ..."; buffer heads.
IO_ERROR_RE = re.compile(r"\b[\w /]+ error, dev \w+, sector \d+|Buffer I/O error on dev")
POWEROFF_GRACE = 15  # s from `RL: done` to QEMU's exit before it is stopped
# The kernel could not unpack the whole initrd (too little memory for it):
# later files are missing, so the test may not even exist.
UNPACK_RE = re.compile(r"Initramfs unpacking failed.*")

# fio (issue 13): Debian's binary and its libraries (mkguest.FIO_PACKAGES,
# `mkguest.py --with-fio`).
FIO = {"packages": mkguest.FIO_PACKAGES, "binaries": [mkguest.FIO_BINARY]}


class Tag:
    """One `RL: NAME word k=v ...` line: words in .words, k=v in .kv."""

    def __init__(self, name, rest, uptime, line):
        self.name = name
        self.words = []
        self.kv = {}
        for w in rest.split():
            k, eq, v = w.partition("=")
            if eq:
                self.kv[k] = v
            else:
                self.words.append(w)
        self.uptime = float(uptime) if uptime else None
        self.line = line

    def __getitem__(self, key):
        return self.kv[key]

    def get(self, key, default=None):
        return self.kv.get(key, default)

    def __repr__(self):
        return "Tag(%r)" % self.line


class Result:
    """What one boot showed: the verdict, the guest's tags, the console."""

    def __init__(self, lines, t0, qemu_status, stderr, timed_out, wall):
        self.console = "\n".join(line for _, line in lines)
        self.qemu_status = qemu_status  # None if it had to be stopped
        self.qemu_stderr = stderr
        self.wall_seconds = wall
        self.all_tags = []
        self.boot_seconds = None  # host wall time from starting QEMU to /init
        for t, line in lines:
            m = TAG_RE.search(line)
            if m:
                tag = Tag(m.group(2), m.group(3), m.group(1), line)
                self.all_tags.append(tag)
                if tag.name == "init" and self.boot_seconds is None:
                    self.boot_seconds = t - t0
        self.panic = next((line for _, line in lines if PANIC_RE.search(line)), None)
        self.io_errors = [line for _, line in lines if IO_ERROR_RE.search(line)]
        self.io_errors += [t.line for t in self.tags("io-error")]
        done = self.tag("done")
        self.status = int(done["status"]) if done is not None else None
        self.powered_off = qemu_status is not None
        if self.panic:
            self.verdict = PANIC
        elif done is not None:
            self.verdict = IO_ERROR if self.io_errors else COMPLETED
        elif timed_out:
            self.verdict = HUNG
        else:
            self.verdict = DIED
        init = self.tag("init")
        self.init_uptime = float(init["uptime"]) if init is not None else None
        m = UNPACK_RE.search(self.console)
        self.unpack_error = m.group(0) if m else None

    def tags(self, name):
        return [t for t in self.all_tags if t.name == name]

    def tag(self, name):
        return next(iter(self.tags(name)), None)

    def ok(self, step):
        return any(step in t.words for t in self.tags("ok"))

    @property
    def failures(self):
        return [t.line for t in self.tags("fail")]

    @property
    def passed(self):
        return self.verdict == COMPLETED and self.status == 0

    def summary(self):
        return ("verdict=%s status=%s boot=%s s wall=%.1f s failures=%s io_errors=%d panic=%r%s"
                % (self.verdict, self.status,
                   "%.2f" % self.boot_seconds if self.boot_seconds is not None else "?",
                   self.wall_seconds, self.failures, len(self.io_errors), self.panic,
                   " initrd: %s" % self.unpack_error if self.unpack_error else ""))


class Boot:
    """One running guest: QEMU started, its console read by a thread (and
    copied to LOG, a text file, if given). wait_tag() lets a test act in the
    middle (e.g. kill the backend once I/O started); result() ends it."""

    def __init__(self, guest, test, qemu_args=(), env=None, cmdline=(), mem_mib=None, smp=2,
                 log=None, accel="tcg,thread=multi"):
        if mem_mib is None:  # the initrd is in memory twice while it is unpacked
            mem_mib = max(256, 160 + 3 * (os.path.getsize(guest.initrd) >> 20))
        words = CMDLINE + ["rl.test=%s" % test]
        words += ["rl.%s=%s" % kv for kv in sorted((env or {}).items())] + list(cmdline)
        # -cpu max: TCG's RDRAND seeds the kernel's RNG at once (qemu64 has
        # none, and /dev/urandom then waits ~1 s for jitter entropy).
        self.cmd = [QEMU, "-M", "q35,memory-backend=mem", "-accel", accel, "-cpu", "max",
                    "-smp", str(smp), "-m", "%dM" % mem_mib,
                    "-object", "memory-backend-memfd,id=mem,size=%dM,share=on" % mem_mib,
                    "-nodefaults", "-display", "none", "-no-reboot", "-serial", "stdio",
                    "-kernel", guest.kernel, "-initrd", guest.initrd,
                    "-append", " ".join(words)] + list(qemu_args)
        self.log = log
        self.lines = []  # (host monotonic time, line)
        self.cond = threading.Condition()
        self.stderr = ""
        if log is not None:
            log.write("### %s\n" % " ".join(self.cmd))
            log.flush()
        self.t0 = time.monotonic()
        self.proc = subprocess.Popen(self.cmd, stdin=subprocess.DEVNULL,
                                     stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                     preexec_fn=_die_with_parent)  # SIGTERM if we die
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()
        self.err_reader = threading.Thread(target=self._read_err, daemon=True)
        self.err_reader.start()

    def _read(self):
        for raw in self.proc.stdout:
            line = raw.decode("utf-8", "replace").rstrip("\r\n")
            with self.cond:
                self.lines.append((time.monotonic(), line))
                self.cond.notify_all()
            if self.log is not None:
                self.log.write(line + "\n")
                self.log.flush()
        with self.cond:
            self.cond.notify_all()

    def _read_err(self):
        self.stderr = self.proc.stderr.read().decode("utf-8", "replace")

    def _find(self, name, start):
        for i in range(start, len(self.lines)):
            m = TAG_RE.search(self.lines[i][1])
            if m and m.group(2) == name:
                return i
        return None

    def wait_tag(self, name, timeout):
        """Block until an `RL: NAME` line (True), QEMU's end or TIMEOUT (False)."""
        end = time.monotonic() + timeout
        with self.cond:
            while True:
                if self._find(name, 0) is not None:
                    return True
                left = end - time.monotonic()
                if left <= 0 or (self.proc.poll() is not None and not self.reader.is_alive()):
                    return False
                self.cond.wait(min(left, 0.5))

    def stop(self):
        """SIGTERM (QEMU exits cleanly on it), SIGKILL if that is not enough."""
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()

    def result(self, deadline=120):
        """Wait for the guest to power off (or panic) up to DEADLINE seconds
        from the start; past it QEMU is stopped and the verdict is HUNG."""
        timed_out = False
        end = self.t0 + deadline
        while self.proc.poll() is None:
            if self.wait_tag("done", max(0.0, end - time.monotonic())):
                try:  # the guest said it is done: give poweroff a moment
                    self.proc.wait(timeout=POWEROFF_GRACE)
                except subprocess.TimeoutExpired:
                    pass
                break
            if time.monotonic() >= end:
                timed_out = self.proc.poll() is None
                break
        status = self.proc.poll()
        self.stop()
        self.reader.join(timeout=10)
        self.err_reader.join(timeout=10)
        res = Result(list(self.lines), self.t0, status, self.stderr, timed_out,
                     time.monotonic() - self.t0)
        if self.log is not None:
            if self.stderr:
                self.log.write("### qemu stderr:\n%s" % self.stderr)
            self.log.write("### %s\n" % res.summary())
            self.log.flush()
        return res

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.stop()


class Guest:
    """A built guest (kernel + initrd) that can be booted any number of times."""

    def __init__(self, built):
        self.kernel = built.kernel
        self.initrd = built.initrd
        self.kver = built.kver
        self.packages = built.packages

    def boot(self, test, **kw):
        """Start it (see Boot); the caller calls result() on what it returns."""
        return Boot(self, test, **kw)

    def run(self, test, deadline=120, **kw):
        """Boot, run TEST, and return its Result (QEMU is gone by then)."""
        with self.boot(test, **kw) as b:
            return b.result(deadline)


def guest_test_files():
    """[(src, dest)]: tests/linux/guest/NAME.sh as /rl/tests/NAME."""
    files = []
    for name in sorted(os.listdir(GUEST_TESTS)):
        if name.endswith(".sh"):
            files.append((os.path.join(GUEST_TESTS, name), "/rl/tests/" + name[:-3]))
    return files


def build(extra_files=(), packages=(), binaries=(), verbose=True):
    """The guest with every tests/linux/guest/ test, plus any extras (see
    mkguest.build), rebuilt only where its inputs changed. Raises
    mkguest.BuildError with what to do when it cannot."""
    return Guest(mkguest.build(guest_test_files() + list(extra_files), packages, binaries,
                               verbose))
