# SPDX-License-Identifier: Apache-2.0
"""ktap - a parser for the KTAP v1 the in-image test suites print.

    KTAP version 1
    1..2
    # a diagnostic for the next case
    ok 1 first
    not ok 2 second # reason
        KTAP version 1          <- a subtest, indented 4 more spaces,
        # Subtest: libc            attached to the next result line
        1..3                       of the enclosing level
        ...
    ok 3 libc

Lines that are not KTAP (kernel messages interleaved with the output) are
kept in `other` and otherwise ignored. problems() lists what makes a
document malformed (missing plan, count mismatch, numbers out of order).
"""

import re

VERSION_RE = re.compile(r"^K?TAP version (\d+)$")
PLAN_RE = re.compile(r"^1\.\.(\d+)$")
RESULT_RE = re.compile(r"^(ok|not ok) (\d+)(?: -)?(?: ([^#]*?))?\s*(?:#\s*(.*))?$")


class Result:
    def __init__(self, ok, number, name, directive, reason, diagnostics, subtest):
        self.ok = ok
        self.number = number
        self.name = name
        self.directive = directive  # "SKIP", "TODO" or None
        self.reason = reason        # text after '#' (without the directive word)
        self.diagnostics = diagnostics  # '# ...' lines printed before this result
        self.subtest = subtest      # a Doc, or None

    @property
    def skipped(self):
        return self.directive == "SKIP"

    def __repr__(self):
        return "Result(%s %d %s%s)" % ("ok" if self.ok else "not ok", self.number, self.name,
                                       " # " + self.reason if self.reason else "")


class Doc:
    def __init__(self):
        self.version = None
        self.name = None  # from "# Subtest: name"
        self.plan = None
        self.results = []
        self.diagnostics = []
        self.other = []
        # A subtest the output stopped in (no result line for it followed),
        # e.g. the suite that was running when the machine crashed.
        self.unfinished = None

    def find(self, name):
        for r in self.results:
            if r.name == name:
                return r
        return None

    def problems(self):
        out = []
        if self.version is None:
            out.append('no "KTAP version" line')
        if self.plan is None:
            out.append("no plan line (1..N)")
        elif self.plan != len(self.results):
            out.append("plan says %d cases, %d reported" % (self.plan, len(self.results)))
        for i, r in enumerate(self.results, 1):
            if r.number != i:
                out.append("result %r numbered %d, expected %d" % (r.name, r.number, i))
                break
        for r in self.results:
            if r.subtest is not None:
                out += ["%s: %s" % (r.name, p) for p in r.subtest.problems()]
        return out


def _indent(line):
    return len(line) - len(line.lstrip(" "))


def parse(text):
    """Parse the first KTAP document in `text` (a Doc; check problems())."""
    lines = [ln.rstrip() for ln in text.replace("\r", "").replace("\t", "    ").split("\n")]
    for i, ln in enumerate(lines):
        if VERSION_RE.match(ln.strip()):
            doc, _ = _block(lines, i, _indent(ln))
            return doc
    doc = Doc()
    doc.other = [ln for ln in lines if ln.strip()]
    return doc


def _block(lines, i, indent):
    doc = Doc()
    doc.version = int(VERSION_RE.match(lines[i].strip()).group(1))
    i += 1
    pending_sub = None
    pending_name = None
    pending_diag = []
    while i < len(lines):
        ln = lines[i]
        s = ln.strip()
        if not s:
            i += 1
            continue
        ind = _indent(ln)
        if ind < indent:
            if VERSION_RE.match(s) or PLAN_RE.match(s) or RESULT_RE.match(s):
                break  # the enclosing level goes on
            # A kernel message or an outer '#' line printed while this
            # subtest runs (e.g. a driver's log line): not the end of it.
            doc.other.append(s)
            i += 1
            continue
        if ind > indent:
            if VERSION_RE.match(s):
                pending_sub, i = _block(lines, i, ind)
                if pending_sub.name is None:
                    pending_sub.name = pending_name
                continue
            if s.startswith("# Subtest:"):  # may also come before the version line
                pending_name = s[len("# Subtest:"):].strip()
                i += 1
            else:
                doc.other.append(s)
                i += 1
            continue
        if VERSION_RE.match(s):
            break  # a second document at this level
        m_plan = PLAN_RE.match(s)
        m_res = RESULT_RE.match(s)
        if m_plan and doc.plan is None:
            doc.plan = int(m_plan.group(1))
        elif m_res:
            ok = m_res.group(1) == "ok"
            tail = (m_res.group(4) or "").strip()
            directive = None
            for d in ("SKIP", "TODO"):
                if tail.upper().startswith(d):
                    directive = d
                    tail = tail[len(d):].strip()
            doc.results.append(Result(ok, int(m_res.group(2)), (m_res.group(3) or "").strip(),
                                      directive, tail, pending_diag, pending_sub))
            pending_sub, pending_diag, pending_name = None, [], None
        elif s.startswith("#"):
            body = s[1:].strip()
            if body.startswith("Subtest:") and doc.name is None and not doc.results:
                doc.name = body[len("Subtest:"):].strip()
            else:
                doc.diagnostics.append(body)
                pending_diag.append(body)
        else:
            doc.other.append(s)
        i += 1
    if pending_sub is not None:
        if pending_sub.name is None:
            pending_sub.name = pending_name
        doc.unfinished = pending_sub
    return doc, i
