# SPDX-License-Identifier: Apache-2.0
"""rlscript - serial-console test scripts (tests/scripts/*.txt), parsed and replayed.

The format is documented in tests/scripts/README.md. In short:

    # comment
    smp: 2                      header (before the first '>'): smp, mem, qemu, timeout
    qemu: -device virtio-rng-pci
    > lspci                     a command typed at the prompt
    00:00.0 8086:29c0           its output must contain this text
    ~ virtio-rng|rng            ... must match this regular expression
    ! error:                    ... must not contain this text
    !~ PANIC                    ... must not match this regular expression
    > poweroff 3
    @exit 3                     the command stops the machine; tools/run exits 3

parse() turns a file into a Script; replay() runs it on a Console and returns
a list of failure messages (empty when the script passed).
"""

import re
import shlex

HEADER_KEYS = ("smp", "mem", "qemu", "timeout", "machine")


class ScriptError(ValueError):
    """The script itself is malformed."""


class Check:
    def __init__(self, lineno, kind, text):
        self.lineno = lineno
        self.kind = kind  # "has", "re", "not", "not-re"
        self.text = text
        if kind in ("re", "not-re"):
            try:
                self.regex = re.compile(text, re.MULTILINE)
            except re.error as e:
                raise ScriptError("line %d: bad regular expression %r: %s" % (lineno, text, e))

    def failure(self, output):
        """None if `output` satisfies the check, else why not."""
        if self.kind == "has" and self.text not in output:
            return "expected text %r" % self.text
        if self.kind == "not" and self.text in output:
            return "unexpected text %r" % self.text
        if self.kind == "re" and not self.regex.search(output):
            return "expected a match for /%s/" % self.text
        if self.kind == "not-re":
            m = self.regex.search(output)
            if m:
                return "unexpected match for /%s/: %r" % (self.text, m.group(0))
        return None


class Step:
    def __init__(self, lineno, command, timeout):
        self.lineno = lineno
        self.command = command
        self.timeout = timeout
        self.checks = []
        self.exit_status = None  # set by @exit: the machine stops after this command


class Script:
    def __init__(self, name):
        self.name = name
        self.smp = None
        self.mem = None
        self.machine = None
        self.qemu_args = []
        self.steps = []

    def run_args(self, subst):
        """tools/run arguments for this script's header; `subst` fills {tmp} etc."""
        args = []
        if self.machine:
            args += ["--machine", self.machine]
        if self.smp:
            args += ["--smp", str(self.smp)]
        if self.mem:
            args += ["--mem", str(self.mem)]
        if self.qemu_args:
            args += ["--"] + [a.format(**subst) for a in self.qemu_args]
        return args


def _int(lineno, key, value):
    try:
        n = int(value)
    except ValueError:
        raise ScriptError("line %d: %s needs a number, not %r" % (lineno, key, value)) from None
    if n < 0:
        raise ScriptError("line %d: %s must not be negative" % (lineno, key))
    return n


def parse(text, name="<script>", default_timeout=30):
    script = Script(name)
    timeout = default_timeout
    step = None
    for lineno, raw in enumerate(text.splitlines(), 1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        if line.startswith(">"):
            cmd = line[1:].strip()
            if not cmd:
                raise ScriptError("line %d: '>' without a command" % lineno)
            if step is not None and step.exit_status is not None:
                raise ScriptError("line %d: command after @exit (the machine has stopped)" % lineno)
            step = Step(lineno, cmd, timeout)
            script.steps.append(step)
            continue
        if line.startswith("@"):
            word, _, arg = line[1:].partition(" ")
            arg = arg.strip()
            if word == "exit":
                if step is None:
                    raise ScriptError("line %d: @exit before any command" % lineno)
                step.exit_status = _int(lineno, "@exit", arg)
            elif word == "timeout":
                timeout = _int(lineno, "@timeout", arg)
            else:
                raise ScriptError("line %d: unknown directive @%s" % (lineno, word))
            continue
        if step is None:
            key, sep, value = line.partition(":")
            key = key.strip().lower()
            if not sep or key not in HEADER_KEYS:
                raise ScriptError("line %d: expected a header line (%s: ...) or '> command', "
                                  "got %r" % (lineno, ", ".join(HEADER_KEYS), line))
            value = value.strip()
            if key == "qemu":
                script.qemu_args += shlex.split(value)
            elif key == "smp":
                script.smp = _int(lineno, key, value)
            elif key == "mem":
                script.mem = _int(lineno, key, value)
            elif key == "timeout":
                timeout = _int(lineno, key, value)
            elif key == "machine":
                script.machine = value
            continue
        if line.startswith("!~"):
            step.checks.append(Check(lineno, "not-re", line[2:].strip()))
        elif line.startswith("!"):
            step.checks.append(Check(lineno, "not", line[1:].strip()))
        elif line.startswith("~"):
            step.checks.append(Check(lineno, "re", line[1:].strip()))
        else:
            if line.startswith("\\"):
                line = line[1:]  # \> \! \~ \# \@ : a literal leading character
            step.checks.append(Check(lineno, "has", line))
    if not script.steps:
        raise ScriptError("%s: no '> command' lines" % name)
    return script


def replay(script, console):
    """Run every step on `console`; return failure messages (empty: passed)."""
    failures = []
    for step in script.steps:
        where = "%s:%d" % (script.name, step.lineno)
        if step.exit_status is not None:
            mark = console.mark()
            status = console.run_until_exit(step.command, timeout=step.timeout,
                                            expect_panic=step.exit_status == 99)
            output = console.since(mark).replace("\r", "")
            if status != step.exit_status:
                failures.append("%s: `%s`: tools/run exited %s, expected %d"
                                % (where, step.command, status, step.exit_status))
        else:
            output = console.run(step.command, timeout=step.timeout)
        for check in step.checks:
            why = check.failure(output)
            if why:
                failures.append("%s:%d: `%s`: %s\n  output was:\n%s" % (
                    script.name, check.lineno, step.command, why,
                    "\n".join("    | " + ln for ln in output.splitlines()) or "    (empty)"))
    return failures
