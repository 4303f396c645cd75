# SPDX-License-Identifier: Apache-2.0
"""The verdicts of tests/linux/linux_guest.py, each produced for real once,
so a later run against a misbehaving device can trust them: completed
(status 0 and 1), io-error (QEMU's blkdebug fails every read of a
virtio-blk disk: Linux logs the errors, the guest test sees EIO), hung (a
guest that never ends, stopped at the deadline), panic (sysrq crash), died
(QEMU killed under the guest)."""

import signal

import linux_guest as lg

# Reads of a 16 MiB zero disk fail with EIO (the raw driver's read_aio
# event arms blkdebug on its file).
FAILING_DISK = ["-blockdev", "driver=raw,node-name=bad,file.driver=blkdebug,"
                "file.image.driver=null-co,file.image.size=16777216,file.image.read-zeroes=on,"
                "file.inject-error.0.event=read_aio,file.inject-error.0.errno=5",
                "-device", "virtio-blk-pci,drive=bad"]


def test_completed(linux_guest, guest_log):
    res = linux_guest.run("verdict", env={"end": "ok"}, log=guest_log)
    assert res.verdict == lg.COMPLETED and res.status == 0, res.summary()
    assert res.passed and res.powered_off
    assert res.tag("verdict")["end"] == "ok"
    assert res.boot_seconds is not None and res.init_uptime is not None
    print("boot to /init: %.2f s host wall, %.2f s guest uptime"
          % (res.boot_seconds, res.init_uptime))


def test_completed_with_a_failure(linux_guest, guest_log):
    res = linux_guest.run("verdict", env={"end": "fail"}, log=guest_log)
    assert res.verdict == lg.COMPLETED and res.status == 1, res.summary()
    assert not res.passed
    assert any("on-purpose" in f for f in res.failures), res.failures


def test_io_error(linux_guest, guest_log):
    res = linux_guest.run("blk", qemu_args=FAILING_DISK, env={"read": "0+8"}, log=guest_log)
    assert res.verdict == lg.IO_ERROR, res.summary()
    assert res.status == 1 and not res.ok("read"), res.summary()
    assert res.tags("io-error"), res.all_tags
    assert any("I/O error, dev vda" in line for line in res.io_errors), res.io_errors


def test_hung(linux_guest, guest_log):
    with linux_guest.boot("verdict", env={"end": "hang"}, log=guest_log) as b:
        assert b.wait_tag("verdict", timeout=120), "the guest test never started"
        res = b.result(deadline=(b.lines[-1][0] - b.t0) + 5)
    assert res.verdict == lg.HUNG, res.summary()
    assert res.status is None and not res.powered_off


def test_panic(linux_guest, guest_log):
    res = linux_guest.run("verdict", env={"end": "panic"}, log=guest_log)
    assert res.verdict == lg.PANIC, res.summary()
    assert "sysrq triggered crash" in res.panic, res.panic


def test_died(linux_guest, guest_log):
    with linux_guest.boot("verdict", env={"end": "hang"}, log=guest_log) as b:
        assert b.wait_tag("verdict", timeout=120), "the guest test never started"
        b.proc.send_signal(signal.SIGKILL)
        res = b.result(deadline=120)
    assert res.verdict == lg.DIED, res.summary()
    assert res.qemu_status == -signal.SIGKILL, res.summary()
