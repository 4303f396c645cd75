# SPDX-License-Identifier: Apache-2.0
"""The console keeps lines whole from any CPU and any context.

`logstress N` (kernel/shell/cmd_console.c) has four sources print N lines
each at the same time: T0 (CPU 0, the shell's thread), I0 (CPU 0's periodic
tick interrupt, which interrupts T0), T1 (CPU 1, an smp job) and I1 (CPU 1's
tick). Each line is `LS <tag> <seq> <payload> <crc32c>`, printed in pieces
(printf, putchar), so a console that sends pieces rather than lines mixes
them. Read back from the serial log, every line must parse and carry its own
checksum, every source must have printed 0..N-1 exactly once, and every
line must end in "\\r\\n". On both machines (RINGLOOP_MACHINES).
"""

import importlib.machinery
import importlib.util
import os
import re

import pytest

from ringloop_console import MACHINES, REPO, machine_args

LINES = 300
TAGS = ("T0", "I0", "T1", "I1")
LINE_RE = re.compile(r"(LS (T0|I0|T1|I1) (\d{4}) [a-z]{8,39}) ([0-9a-f]{8})")
SUMMARY_RE = re.compile(r"logstress: (\d+) lines from each of T0 I0 T1 I1; "
                        r"while T0 ran: I0 (\d+), T1 (\d+), I1 (\d+)")


def _crc32c():
    """crc32c() of tools/snapshot-inspect (the same CRC as lib/crc32c.c)."""
    path = os.path.join(REPO, "tools", "snapshot-inspect")
    loader = importlib.machinery.SourceFileLoader("snapshot_inspect", path)
    mod = importlib.util.module_from_spec(importlib.util.spec_from_loader(loader.name, loader))
    loader.exec_module(mod)
    return mod.crc32c


crc32c = _crc32c()


def check_lines(out, n):
    """Every line of `logstress n` output whole, none missing, none twice."""
    body = out.splitlines()
    assert body and SUMMARY_RE.fullmatch(body[-1]), "no summary line at the end:\n" + out[-2000:]
    seen = {tag: [] for tag in TAGS}
    bad = []
    for ln in body[:-1]:
        m = LINE_RE.fullmatch(ln)
        if not m or crc32c(m.group(1).encode()) != int(m.group(4), 16):
            bad.append(ln)
            continue
        seen[m.group(2)].append(int(m.group(3)))
    assert not bad, "%d of %d lines mixed or broken, e.g.:\n%s" % (
        len(bad), len(body) - 1, "\n".join(repr(b) for b in bad[:12]))
    for tag in TAGS:
        missing = sorted(set(range(n)) - set(seen[tag]))
        twice = sorted(s for s in set(seen[tag]) if seen[tag].count(s) > 1)
        assert not missing and not twice and len(seen[tag]) == n, \
            "%s: missing %s, twice %s" % (tag, missing[:20], twice[:20])
    return SUMMARY_RE.fullmatch(body[-1])


@pytest.mark.parametrize("machine", sorted(MACHINES, key=lambda m: m == "q35"))
def test_concurrent_lines_stay_whole(boot, machine):
    c = boot(machine_args(machine))
    mark = c.mark()
    out = c.run("logstress %d" % LINES, timeout=120)
    summary = check_lines(out, LINES)
    assert int(summary.group(1)) == LINES
    # The sources really ran at once: all three others printed while T0 ran.
    during = [int(summary.group(i)) for i in (2, 3, 4)]
    assert all(d > 0 for d in during), "no overlap with T0 (I0, T1, I1): %s" % during
    # "\n" goes out as "\r\n", and a line end is never split.
    raw = c.since(mark)
    assert raw.count("\n") == raw.count("\r\n") == raw.count("\r"), \
        "line ends other than \\r\\n in the output"
