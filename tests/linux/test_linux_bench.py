# SPDX-License-Identifier: Apache-2.0
"""Issue 13 (speed), opt-in: RINGLOOP_LINUX_BENCH=1 (`make bench-vhost-linux`).

4 KiB random-read IOPS seen by Linux's virtio_blk driving Debian's fio
(tests/linux/guest/fiobench.sh: O_DIRECT, libaio, --group_reporting) on
QEMU's `-device vhost-user-blk-pci,chardev=vu,num-queues=N`, against
ringloop-vhost-user-blk (io_uring engine, and with --poll-us 50; --num-queues
N) and qemu-storage-daemon's vhost-user-blk export (num-queues=N), the same
QEMU command line for all, backends alternating within each round. One boot
per (backend, N): fio at --iodepth 1 and 32 with --numjobs N (each job on its
own vCPU, so on its own queue). Printed as a Markdown table, never asserted
(only that the runs completed and the guest saw N hardware queues).

RINGLOOP_LINUX_BENCH_ROUNDS=R alternates R rounds (medians);
RINGLOOP_LINUX_BENCH_RUNTIME=S is fio's --runtime (default 5 s).
"""

import os
import shutil
import statistics

import pytest

import linux_guest as lg
from vhost_backend import DAEMON, Backend

pytestmark = [
    pytest.mark.skipif(os.environ.get("RINGLOOP_LINUX_BENCH") != "1",
                       reason="the fio IOPS bench is opt-in: RINGLOOP_LINUX_BENCH=1 "
                       "(make bench-vhost-linux; minutes, an 85 MiB initrd)"),
    pytest.mark.skipif(shutil.which("qemu-storage-daemon") is None,
                       reason="no qemu-storage-daemon"),
]

DISK_BYTES = 64 << 20
DEPTHS = (1, 32)
QUEUES = (1, 2)
KINDS = [("ringloop io_uring", "ringloop", []),
         ("ringloop io_uring --poll-us 50", "ringloop", ["--poll-us", "50"]),
         ("qemu-storage-daemon", "qsd", [])]


def cell(xs):
    """The median, and with several rounds their range (TCG on shared cores
    is noisy: the spread says how far to trust a difference)."""
    if not xs:
        return "-"
    med = int(statistics.median(xs))
    return str(med) if len(xs) == 1 else "%d (%d-%d)" % (med, min(xs), max(xs))


def table(results, rounds, runtime, fio_version):
    """{(name, queues, depth): [iops]} -> Markdown lines."""
    cols = [(q, d) for q in QUEUES for d in DEPTHS]
    out = ["4 KiB random read IOPS, fio %s in the Linux guest (--direct=1 libaio, %s s, "
           "median (min-max) of %d round(s); queues = num-queues = --numjobs):" % (fio_version, runtime,
                                                                       rounds),
           "",
           "| backend | " + " | ".join("%dq qd%d" % c for c in cols) + " |",
           "|---|" + "---:|" * len(cols)]
    for name, _, _ in KINDS:
        cells = [cell(results.get((name, q, d))) for q, d in cols]
        out.append("| %s | %s |" % (name, " | ".join(cells)))
    return out


def test_fio_iops_vs_qemu_storage_daemon(guest_log):
    if not os.path.exists(DAEMON):
        pytest.fail("%s not built (make host)" % os.path.relpath(DAEMON), pytrace=False)
    try:
        guest = lg.build(**lg.FIO)
    except lg.mkguest.BuildError as e:
        pytest.fail("could not build the Linux guest with fio: %s" % e, pytrace=False)
    rounds = int(os.environ.get("RINGLOOP_LINUX_BENCH_ROUNDS", "1"))
    runtime = os.environ.get("RINGLOOP_LINUX_BENCH_RUNTIME", "5")
    results, report, version = {}, [], "?"
    for _ in range(rounds):
        for q in QUEUES:
            for name, kind, args in KINDS:
                extra = list(args) + (["--num-queues", str(q)] if kind == "ringloop" else [])
                b = Backend(kind, disk_bytes=DISK_BYTES, args=extra, num_queues=q)
                try:
                    # boot ~20 s under TCG with this initrd, then fio per depth
                    res = guest.run("fiobench", qemu_args=b.device_args(modern_only=True),
                                    env={"jobs": str(q), "runtime": runtime,
                                         "depths": ",".join(map(str, DEPTHS))},
                                    deadline=120 + len(DEPTHS) * (int(runtime) + 30),
                                    log=guest_log)
                    assert res.passed, "%s, %d queue(s): %s" % (name, q, res.summary())
                    hw = res.tag("vda")["hw_queues"]
                    assert hw == str(q), "%s: the guest has %s hw queues, not %d" % (name, hw, q)
                    version = res.tag("fio")["version"]
                    for t in res.tags("fio-iops"):
                        iops = int(float(t["read_iops"]))
                        results.setdefault((name, q, int(t["depth"])), []).append(iops)
                        report.append("%-32s %dq qd%-3s %8d IOPS  lat mean %s us"
                                      % (name, q, t["depth"], iops, t["lat_mean_us"]))
                    if kind == "ringloop":
                        b.stop()
                        report.append("  daemon: " + " | ".join(
                            l for l in b.log_text().splitlines() if "I/O engine" in l))
                finally:
                    b.close()
    print("\n" + "\n".join(report))
    print("\n" + "\n".join(table(results, rounds, runtime, version)))
