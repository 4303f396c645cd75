# SPDX-License-Identifier: Apache-2.0
"""Replays every serial-console script in tests/scripts/*.txt as its own test.

The format is in tests/scripts/README.md and tests/rlscript.py. Scripts are
run in name order; consecutive scripts with the same header share a machine
(the pool in tests/ringloop_console.py), so keep headers identical where you
can. A malformed script fails its own test with the line number.
"""

import glob
import os

import pytest

import rlscript
from ringloop_console import REPO

SCRIPT_DIR = os.path.join(REPO, "tests", "scripts")
SCRIPTS = sorted(glob.glob(os.path.join(SCRIPT_DIR, "*.txt")))


@pytest.mark.parametrize("path", SCRIPTS, ids=[os.path.basename(p)[:-4] for p in SCRIPTS])
def test_script(path, boot, tmp_path):
    name = os.path.relpath(path, REPO)
    with open(path, encoding="utf-8") as f:
        text = f.read()
    try:
        script = rlscript.parse(text, name=name)
    except rlscript.ScriptError as e:
        pytest.fail("%s: %s" % (name, e), pytrace=False)
    subst = {"tmp": str(tmp_path), "build": os.path.join(REPO, "build"), "repo": REPO}
    console = boot(script.run_args(subst))
    failures = rlscript.replay(script, console)
    if failures:
        pytest.fail("\n".join(failures), pytrace=False)


def test_there_are_scripts():
    assert SCRIPTS, "no tests/scripts/*.txt found"
