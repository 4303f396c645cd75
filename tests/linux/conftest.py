# SPDX-License-Identifier: Apache-2.0
"""Fixtures for the Linux-guest tests (`make check-linux`; not part of
`make test`: tests/conftest.py leaves this folder out of `pytest tests`
unless it is named, e.g. `pytest tests/linux`).

    def test_x(linux_guest, backend, guest_log):
        res = linux_guest.run("blk", qemu_args=backend.device_args(), log=guest_log)

linux_guest: the guest (tests/linux/linux_guest.py), built once per session
(the first build downloads ~72 MB of Debian packages into build/linux/debs/).
backend: ringloop-vhost-user-blk over a 16 MiB disk file of seeded bytes.
guest_log: build/test-logs/<module>.<test>.log, the console of every boot.
"""

import os

import pytest

import linux_guest as lg
from ringloop_console import LOG_DIR, log_path
from vhost_backend import DAEMON, Backend

DISK_BYTES = 16 << 20


@pytest.fixture(scope="session")
def linux_guest():
    try:
        return lg.build()
    except lg.mkguest.BuildError as e:
        pytest.fail("could not build the Linux guest: %s" % e, pytrace=False)


@pytest.fixture
def backend():
    if not os.path.exists(DAEMON):
        pytest.fail("%s not built (make host)" % os.path.relpath(DAEMON), pytrace=False)
    b = Backend(disk_bytes=DISK_BYTES)
    yield b
    b.close()


@pytest.fixture
def guest_log(request):
    os.makedirs(LOG_DIR, exist_ok=True)
    with open(log_path(request.node.nodeid), "w", encoding="utf-8") as f:
        f.write("### %s\n" % request.node.nodeid)
        yield f
