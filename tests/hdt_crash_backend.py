#!/usr/bin/python3
# SPDX-License-Identifier: Apache-2.0
"""A vhost-user backend that dies once, for tests/test_hdt_runner.py:

    hdt_crash_backend.py ONCE_FILE N DAEMON ARGS...

runs DAEMON ARGS --verbose and, the first time ONCE_FILE does not exist,
SIGKILLs it at the N-th SET_VRING_ADDR it logs (QEMU sends one each time the
guest sets DRIVER_OK: at the driver's start and at every hdt session), creates
ONCE_FILE and exits 9. Otherwise it waits for the daemon and exits with its
status. The runner must call the case that was running CRASH.
"""
import os
import signal
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from ringloop_console import _die_with_parent  # noqa: E402


def main():
    once, n, cmd = sys.argv[1], int(sys.argv[2]), sys.argv[3:] + ["--verbose"]
    # The daemon goes when we do (the runner stops us with SIGTERM).
    p = subprocess.Popen(cmd, stderr=subprocess.PIPE, text=True, errors="replace",
                         preexec_fn=_die_with_parent)
    signal.signal(signal.SIGTERM, lambda *_: (p.terminate(), sys.exit(0)))
    seen = 0
    for line in p.stderr:
        if "SET_VRING_ADDR" in line:
            seen += 1
        if seen >= n and not os.path.exists(once):
            p.kill()
            p.wait()
            open(once, "w").close()
            return 9
    return p.wait()


if __name__ == "__main__":
    sys.exit(main())
