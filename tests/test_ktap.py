# SPDX-License-Identifier: Apache-2.0
"""The in-image KTAP suites, one pytest item per case.

Collection boots the image once (the same machine the tests then use) and
asks `test list` for `<suite>: <case> <case> ...` lines; every case becomes
test_case[<suite>.<case>], so `pytest -k libc` selects the libc suite. The
first selected case of a suite runs `test <suite>` once; every case of that
suite then reads its own result from the parsed KTAP: `not ok` fails exactly
that item, `# SKIP` skips it, a missing result fails it. If the suite
crashes, the cases that reported before the crash keep their results; the
case that was running and the ones after it fail.

If the image cannot be booted at collection, one item (test_case[collect])
fails with the reason, so a broken image never looks like "no tests".
"""

import os
import re

import pytest

import ktap
from ringloop_console import LOG_DIR, POOL, ConsoleError

SUITE_TIMEOUT = 180
LIST_LINE_RE = re.compile(r"^([A-Za-z0-9_.-]+):((?:\s+\S+)*)\s*$")


def parse_list(text):
    """`test list` output -> [(suite, [cases])] (in the kernel's order)."""
    suites = []
    for line in text.replace("\r", "").splitlines():
        m = LIST_LINE_RE.match(line.strip())
        if m:
            suites.append((m.group(1), m.group(2).split()))
    return suites


_listing = None


def suite_listing():
    """[(suite, [cases])] from `test list` on the pooled machine, or raise ConsoleError."""
    global _listing
    if _listing is None:
        os.makedirs(LOG_DIR, exist_ok=True)
        with open(os.path.join(LOG_DIR, "collect.test-list.log"), "w") as log:
            c = POOL.get()
            log.write(c.boot_text)
            c.set_log(log)
            try:
                out = c.run("test list")
            finally:
                c.set_log(None)
        _listing = parse_list(out)
        if not _listing:
            raise ConsoleError("`test list` printed no `<suite>: <cases>` lines:\n" + out)
    return _listing


def pytest_generate_tests(metafunc):
    if "ktap_case" not in metafunc.fixturenames:
        return
    try:
        params = [pytest.param((s, c), id="%s.%s" % (s, c))
                  for s, cases in suite_listing() for c in cases]
    except ConsoleError as e:
        params = [pytest.param(("", str(e)), id="collect")]
    metafunc.parametrize("ktap_case", params)


class SuiteRun:
    def __init__(self, suite, doc, output, crash, log):
        self.suite = suite
        self.doc = doc
        self.output = output
        self.crash = crash  # why the run ended early, or None
        self.log = log      # the per-test log that holds the suite's output


_runs = {}


def run_suite(console, suite, log):
    """Run `test <suite>` once per session; a crash is recorded, not raised."""
    if suite in _runs:
        return _runs[suite]
    mark = console.mark()
    console.expect_panic = True  # a panic is attributed to a case below
    crash = None
    try:
        out = console.run("test " + suite, timeout=SUITE_TIMEOUT)
    except ConsoleError as e:
        out = console.since(mark).replace("\r", "")
        crash = str(e).splitlines()[0]
    if crash is None and "PANIC:" in console.since(mark):
        crash = "PANIC during the suite"
    if crash:
        # The crash is reported by the case that was running; this machine
        # is replaced before the next test.
        POOL.discard()
    else:
        console.expect_panic = False
    run = SuiteRun(suite, ktap.parse(out), out, crash, log)
    _runs[suite] = run
    return run


def test_case(ktap_case, console, request):
    suite, case = ktap_case
    if suite == "":
        pytest.fail("could not collect the in-image suites: %s" % case, pytrace=False)
    run = run_suite(console, suite, os.path.relpath(request.node.nodeid))
    doc = run.doc
    where = "suite %s (output in the log of %s)" % (suite, run.log)
    res = doc.find(case)
    if res is None:
        if run.crash:
            pytest.fail("%s: no result for %s; the suite stopped early: %s\n%s"
                        % (where, case, run.crash, run.output[-3000:]), pytrace=False)
        pytest.fail("%s: no result line for case %r (KTAP problems: %s)\n%s"
                    % (where, case, "; ".join(doc.problems()) or "none", run.output[-3000:]),
                    pytrace=False)
    diag = "\n".join("# " + d for d in res.diagnostics)
    if res.skipped:
        pytest.skip("%s.%s: %s" % (suite, case, res.reason or "skipped"))
    if not res.ok:
        pytest.fail("not ok %d %s # %s\n%s" % (res.number, case, res.reason, diag), pytrace=False)
    # The case passed; a malformed document still fails (it would hide cases).
    problems = doc.problems()
    if problems and not run.crash:
        pytest.fail("%s: malformed KTAP: %s" % (where, "; ".join(problems)), pytrace=False)


def test_all_is_nested_ktap(console):
    """`test all`: one top-level KTAP document, each suite an indented subtest
    whose cases are those of `test list`, the suite's line `ok` exactly when
    none of its cases is `not ok`. (Case failures are reported by test_case;
    this checks only the shape, so one failing case fails one item there.)"""
    listing = suite_listing()
    console.expect_panic = True
    out = console.run("test all", timeout=SUITE_TIMEOUT * 2)
    console.expect_panic = False
    assert "PANIC:" not in out, "a suite panicked under `test all`"
    doc = ktap.parse(out)
    assert doc.version == 1, out
    assert not doc.problems(), doc.problems()
    assert [r.name for r in doc.results] == [s for s, _ in listing]
    for (suite, cases), r in zip(listing, doc.results):
        sub = r.subtest
        assert sub is not None, "suite %s has no indented subtest" % suite
        assert sub.name in (None, suite), "subtest named %r under %s" % (sub.name, suite)
        assert [c.name for c in sub.results] == cases, suite
        assert r.ok == all(c.ok for c in sub.results), \
            "suite %s reported %s but its cases say otherwise" % (suite, "ok" if r.ok else "not ok")
