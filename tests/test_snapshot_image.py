# SPDX-License-Identifier: Apache-2.0
"""Snapshots taken by the image (issue 6), checked from the host and across
two boots.

Boot 1 writes a pattern to the loopback RAM disk (lblk0), reads entropy from
lrng0, and `snapshot save disk vblk0` writes a bundle of the five loopback
devices' snapshots (with contents) to a QEMU virtio-blk disk backed by a
file here. tools/snapshot-inspect decodes that file: every CRC checks, the
fields agree with what the guest did (the RAM disk holds the pattern, the
rng generator has handed out what we read). Still in boot 1, more traffic
on lblk0 makes the saved queue state stale: restoring it must be refused
(the used ring is ahead of the snapshot) and change nothing. Boot 2, from
the same disk, restores the bundle (another boot: device state and contents
only, the new drivers keep their queues): the RAM disk holds boot 1's data
again and the rng stream continues exactly where boot 1 left it.
"""

import hashlib
import importlib.machinery
import importlib.util
import os
import re
import subprocess

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
INSPECT = os.path.join(ROOT, "tools", "snapshot-inspect")
SECTOR = 512
SNAP_DISK_BYTES = 16 << 20
LOOPBACK_DISK_BYTES = 8 << 20
RNG_SEED = 42


def _load_inspect():
    loader = importlib.machinery.SourceFileLoader("snapshot_inspect", INSPECT)
    spec = importlib.util.spec_from_loader("snapshot_inspect", loader)
    mod = importlib.util.module_from_spec(spec)
    loader.exec_module(mod)
    return mod


inspect = _load_inspect()


def sha(data):
    return hashlib.sha256(data).hexdigest()


def rng_stream(seed, n):
    """hostsim/vdev_models.h: the loopback rng's splitmix64 byte stream."""
    m, s, out = (1 << 64) - 1, seed, b""
    while len(out) < n:
        s = (s + 0x9E3779B97F4A7C15) & m
        z = ((s ^ (s >> 30)) * 0xBF58476D1CE4E5B9) & m
        z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & m
        out += (z ^ (z >> 31)).to_bytes(8, "little")
    return out[:n]


def ok(c, cmd, timeout=120):
    out = c.run(cmd, timeout=timeout)
    assert "error" not in out, "%r: %s" % (cmd, out)
    return out


def guest_sha(out):
    mm = re.search(r"sha256 ([0-9a-f]{64})", out)
    assert mm, out
    return mm.group(1)


def section(snap, tag):
    return [s for s in snap["sections"] if s["tag"] == tag]


def test_snapshot_to_disk_inspect_and_restore_across_boots(boot, tmp_path):
    disk = tmp_path / "snap.img"
    disk.write_bytes(bytes(SNAP_DISK_BYTES))
    args = ["--", "-drive", "if=none,id=sd0,format=raw,file=%s" % disk,
            "-device", "virtio-blk-pci,drive=sd0"]

    # ---- boot 1: traffic, save to disk
    c = boot(args)
    ok(c, "blk fill lblk0 100 16 0x5a")
    pattern_sha = guest_sha(ok(c, "blk read lblk0 100 16"))
    assert pattern_sha == sha(b"\x5a" * 16 * SECTOR)
    rng1 = guest_sha(ok(c, "rng read lrng0 100"))
    out = ok(c, "snapshot save disk vblk0", timeout=300)
    mm = re.search(r"snapshot saved to vblk0: (\d+) bytes", out)
    assert mm, out
    total = int(mm.group(1))

    # More lblk0 traffic: the saved queue state is now behind the driver.
    ok(c, "blk read lblk0 0 1")
    out = c.run("snapshot restore disk vblk0", timeout=300)
    assert "error: snapshot restore refused: lblk0: QUEU[0]: used idx" in out, out
    assert "the rings moved on since this snapshot" in out, out
    assert guest_sha(ok(c, "blk read lblk0 100 16")) == pattern_sha  # unchanged, working
    assert c.run_until_exit("poweroff 0") == 0

    # ---- the host decodes the disk
    data = disk.read_bytes()
    r = subprocess.run(["/usr/bin/python3", INSPECT, str(disk)], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    assert "ringloop snapshot bundle, 5 devices, %d bytes" % total in r.stdout
    bundle = inspect.decode_bundle(data[:total])
    devs = {d["name"]: d for d in bundle["devices"]}
    assert sorted(devs) == sorted(["lblk0", "lnet0", "lrng0", "lcon0", "lpmem0"])
    for name, dev in devs.items():
        snap = dev["snapshot"]
        (devc,) = [s["fields"] for s in section(snap, "DEVC")]
        assert devc["activated"] and not devc["needs_reset"], name
        assert snap["header"]["content"] == (name in ("lblk0", "lpmem0")), name
        for q in [s["fields"] for s in section(snap, "QUEU")]:
            assert q["live"] and q["n_inflight"] == 0 and not q["broken"], name
            # the image's rings: identity-mapped kernel memory, aligned
            assert q["desc"] % 16 == 0 and q["used"] % 4 == 0, name
    blk = devs["lblk0"]
    (modl,) = [s["fields"] for s in section(blk["snapshot"], "MODL")]
    assert modl["disk_bytes"] == LOOPBACK_DISK_BYTES and modl["serial"] == "ringloop-lblk0"
    (cont,) = section(blk["snapshot"], "CONT")
    start = blk["offset"] + cont["offset"] + 8
    content = data[start:start + cont["length"]]
    assert len(content) == LOOPBACK_DISK_BYTES
    assert content[100 * SECTOR:116 * SECTOR] == b"\x5a" * 16 * SECTOR
    (rng,) = [s["fields"] for s in section(devs["lrng0"]["snapshot"], "MODL")]
    produced = rng["produced"]
    assert produced >= 100
    assert sha(rng_stream(RNG_SEED, produced)[produced - 100:]) == rng1

    # ---- boot 2: same disk, restore, carry on
    c2 = boot(args)
    assert guest_sha(ok(c2, "blk read lblk0 100 16")) == sha(bytes(16 * SECTOR))  # fresh RAM disk
    out = ok(c2, "snapshot restore disk vblk0", timeout=300)
    assert "snapshot from another boot" in out, out
    assert guest_sha(ok(c2, "blk read lblk0 100 16")) == pattern_sha
    assert guest_sha(ok(c2, "rng read lrng0 64")) == sha(rng_stream(RNG_SEED, produced + 64)[produced:])
    out = ok(c2, "test persist", timeout=300)
    assert "not ok" not in out and "ok 3 traffic" in out and "ok 4 packed" in out, out
    assert c2.run_until_exit("poweroff 0") == 0
