# SPDX-License-Identifier: Apache-2.0
"""The in-image KTAP suites, one pytest item per case and machine.

Collection boots each machine once (q35 is the same machine the other
tests then use) and asks `test list` for `<suite>: <case> <case> ...` lines;
every case becomes test_case[<suite>.<case>] on q35 and
test_case[microvm:<suite>.<case>] on microvm, so `pytest -k libc` selects the
libc suite (RINGLOOP_MACHINES=q35 limits the machines). The first selected
case of a suite runs `test <suite>` once; every case of that suite then reads
its own result from the parsed KTAP: `not ok` fails exactly that item,
`# SKIP` skips it, a missing result fails it. If the suite crashes, the cases
that reported before the crash keep their results; the case that was running
and the ones after it fail.

In a full run (test_all_is_nested_ktap selected too) each machine runs
`test all` once instead, and every case reads its result from its suite's
subtest; test_one_suite_is_plain_ktap keeps `test <suite>` covered.

If a machine cannot be booted at collection, one item
(test_case[<machine>:collect]) fails with the reason, so a broken image never
looks like "no tests".
"""

import os
import re

import pytest

import ktap
from ringloop_console import LOG_DIR, MACHINES, POOL, ConsoleError, log_path, machine_args

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


# Items on q35 are named test_case[<suite>.<case>], on another machine
# test_case[<machine>:<suite>.<case>] (MACHINES: ringloop_console).


def case_id(machine, suite, case):
    return ("%s.%s" % (suite, case)) if machine == "q35" else ("%s:%s.%s" % (machine, suite, case))


_listings = {}


def suite_listing(machine="q35"):
    """[(suite, [cases])] from `test list` on `machine`, or raise ConsoleError."""
    if machine not in _listings:
        os.makedirs(LOG_DIR, exist_ok=True)
        with open(os.path.join(LOG_DIR, "collect.test-list.%s.log" % machine), "w") as log:
            c = POOL.get(machine_args(machine))
            log.write(c.boot_text)
            c.set_log(log)
            try:
                out = c.run("test list")
            finally:
                c.set_log(None)
        listing = parse_list(out)
        if not listing:
            raise ConsoleError("`test list` printed no `<suite>: <cases>` lines:\n" + out)
        _listings[machine] = listing
    return _listings[machine]


def pytest_generate_tests(metafunc):
    if "ktap_case" in metafunc.fixturenames:
        params = []
        # Collect on the other machines first so the q35 machine, which the
        # first items use, is the one left running.
        for m in sorted(MACHINES, key=lambda m: m == "q35"):
            try:
                params += [pytest.param((m, s, c), id=case_id(m, s, c))
                           for s, cases in suite_listing(m) for c in cases]
            except ConsoleError as e:
                params.append(pytest.param((m, "", str(e)), id="%s:collect" % m))
        params.sort(key=lambda p: p.values[0][0] != "q35")  # q35 items first
        metafunc.parametrize("ktap_case", params)
    if "ktap_machine" in metafunc.fixturenames:
        # After the cases (q35 then the others) the live machine is the last
        # of the others: run there first and end on q35, which the modules
        # after this one use, so no boot is wasted.
        metafunc.parametrize("ktap_machine", sorted(MACHINES, key=lambda m: m == "q35"))


class SuiteRun:
    def __init__(self, machine, suite, doc, output, crash, log):
        self.machine = machine
        self.suite = suite
        self.doc = doc
        self.output = output
        self.crash = crash  # why the run ended early, or None
        self.log = log      # the per-test log that holds the suite's output


_runs = {}      # (machine, suite) -> SuiteRun
_all_runs = {}  # machine -> (output, crash) of `test all`


def _run_catching(console, cmd, timeout):
    """(output, crash) of a test command; a crash (panic, QEMU gone, timeout)
    is recorded, not raised: the case that was running reports it."""
    mark = console.mark()
    console.expect_panic = True
    crash = None
    try:
        out = console.run(cmd, timeout=timeout)
    except ConsoleError as e:
        out = console.since(mark).replace("\r", "")
        crash = str(e).splitlines()[0]
    if crash is None and "PANIC:" in console.since(mark):
        crash = "PANIC during `%s`" % cmd
    if crash:
        POOL.discard()  # replaced before the next test
    else:
        console.expect_panic = False
    return out, crash


def run_suite(console, suite, log, machine="q35"):
    """Run `test <suite>` once per session and machine."""
    if (machine, suite) not in _runs:
        out, crash = _run_catching(console, "test " + suite, SUITE_TIMEOUT)
        _runs[(machine, suite)] = SuiteRun(machine, suite, ktap.parse(out), out, crash, log)
    return _runs[(machine, suite)]


def run_all(console, log, machine="q35"):
    """Run `test all` once and split it into a SuiteRun per suite.

    Used when test_all_is_nested_ktap is selected too (a full run): every
    suite then runs once, not twice; its cases read their subtest."""
    if machine in _all_runs:
        return
    out, crash = _run_catching(console, "test all", SUITE_TIMEOUT * 3)
    _all_runs[machine] = (out, crash)
    doc = ktap.parse(out)
    subs = {r.name: r.subtest for r in doc.results if r.subtest is not None}
    if doc.unfinished is not None and doc.unfinished.name:
        subs.setdefault(doc.unfinished.name, doc.unfinished)  # where it crashed
    for suite, _ in suite_listing(machine):
        sub = subs.get(suite, ktap.Doc())
        _runs[(machine, suite)] = SuiteRun(machine, suite, sub, out, crash, log)


def case_verdict(run, case):
    """("pass" | "fail" | "skip", message) for one case of a SuiteRun."""
    doc = run.doc
    where = "suite %s on %s (output in %s)" % (run.suite, run.machine, run.log)
    res = doc.find(case)
    if res is None:
        if run.crash:
            return "fail", "%s: no result for %s; the suite stopped early: %s\n%s" % (
                where, case, run.crash, run.output[-3000:])
        return "fail", "%s: no result line for case %r (KTAP problems: %s)\n%s" % (
            where, case, "; ".join(doc.problems()) or "none", run.output[-3000:])
    if res.skipped:
        return "skip", "%s: %s" % (case_id(run.machine, run.suite, case), res.reason or "skipped")
    if not res.ok:
        diag = "".join("\n# " + d for d in res.diagnostics)
        return "fail", "not ok %d %s # %s%s" % (res.number, case, res.reason, diag)
    # A malformed document (missing plan, cases missing) fails the cases
    # without a result above; test_all_is_nested_ktap checks the shape.
    return "pass", ""


def test_case(ktap_case, boot, request):
    machine, suite, case = ktap_case
    if suite == "":
        pytest.fail("could not collect the in-image suites on %s: %s" % (machine, case),
                    pytrace=False)
    if (machine, suite) not in _runs:
        console = boot(machine_args(machine))
        log = os.path.relpath(log_path(request.node.nodeid))
        all_too = "test_all_is_nested_ktap[%s]" % machine in \
            {item.name for item in request.session.items}
        if all_too:
            run_all(console, log, machine)
        else:
            run_suite(console, suite, log, machine)
    run = _runs[(machine, suite)]
    boot.note("result of %s.%s on %s taken from the run whose output is in %s"
              % (suite, case, machine, run.log))
    verdict, msg = case_verdict(run, case)
    if verdict == "skip":
        pytest.skip(msg)
    if verdict == "fail":
        pytest.fail(msg, pytrace=False)


def test_all_is_nested_ktap(ktap_machine, boot, request):
    """`test all`: one top-level KTAP document, each suite an indented subtest
    whose cases are those of `test list`, the suite's line `ok` exactly when
    none of its cases is `not ok`. (Case failures are reported by test_case;
    this checks only the shape, so one failing case fails one item there.)"""
    listing = suite_listing(ktap_machine)
    if ktap_machine not in _all_runs:
        run_all(boot(machine_args(ktap_machine)),
                os.path.relpath(log_path(request.node.nodeid)), ktap_machine)
    else:
        boot.note("checking the `test all` output the test_case items used")
    out, crash = _all_runs[ktap_machine]
    assert crash is None, "`test all` did not finish: %s" % crash
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


def test_one_suite_is_plain_ktap(ktap_machine, boot):
    """`test <suite>` (libc, or the smallest suite) prints a top-level KTAP document
    whose cases are those of `test list`; in a full run the cases come from
    `test all`, so this keeps the single-suite path covered."""
    listing = dict(suite_listing(ktap_machine))
    # libc is quick and always there; otherwise the suite with fewest cases
    suite = "libc" if "libc" in listing else min(listing, key=lambda s: len(listing[s]))
    cases = listing[suite]
    console = boot(machine_args(ktap_machine))
    out = console.run("test " + suite, timeout=SUITE_TIMEOUT)
    doc = ktap.parse(out)
    assert doc.version == 1 and not doc.problems(), (doc.problems(), out)
    assert [r.name for r in doc.results] == cases
    assert all(r.subtest is None for r in doc.results), out
    assert not out.startswith(" "), "a single suite is not indented:\n" + out
