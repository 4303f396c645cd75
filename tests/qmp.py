# SPDX-License-Identifier: Apache-2.0
"""qmp - one QMP command over a QEMU monitor socket pytest owns.

qmp(path, "query-block") connects to the Unix socket QEMU listens on
(-qmp unix:PATH,server=on,wait=off), reads the greeting, negotiates
capabilities, sends the command and returns the reply object: a dict with
"return" or "error" (events in between are skipped). One connection per
command, so tests never share monitor state.
"""

import json
import socket


def qmp(path, command, arguments=None, timeout=30):
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(timeout)
    try:
        s.connect(path)
        f = s.makefile("rw")

        def reply():
            while True:
                line = f.readline()
                if not line:
                    raise ConnectionError("QMP %s: QEMU closed the monitor" % path)
                msg = json.loads(line)
                if "return" in msg or "error" in msg:
                    return msg

        json.loads(f.readline())  # greeting
        f.write(json.dumps({"execute": "qmp_capabilities"}) + "\n")
        f.flush()
        reply()
        cmd = {"execute": command}
        if arguments:
            cmd["arguments"] = arguments
        f.write(json.dumps(cmd) + "\n")
        f.flush()
        return reply()
    finally:
        s.close()
