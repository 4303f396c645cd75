# SPDX-License-Identifier: Apache-2.0
"""tools/snapshot-inspect against snapshots the hosted build writes.

build/host/snapshot-tool (tests/host/snapshot_tool.c) saves a reference
snapshot of each device model with traffic in flight and prints, as
key=value lines, what the C side knows (features, queue addresses and
indices, net backlog). The decoder must agree field by field, check every
CRC, and refuse every single-bit flip and every truncation with a message
and exit status 1.

Hosted only: no QEMU. Run with /usr/bin/python3 -m pytest tests/test_snapshot_inspect.py
(`make check-snapshot` builds the tool first).
"""

import importlib.machinery
import importlib.util
import json
import os
import subprocess

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
INSPECT = os.path.join(ROOT, "tools", "snapshot-inspect")
TOOL = os.path.join(ROOT, "build", "host", "snapshot-tool")
KINDS = ["blk", "net", "rng", "console", "pmem"]


def _load_inspect():
    loader = importlib.machinery.SourceFileLoader("snapshot_inspect", INSPECT)
    spec = importlib.util.spec_from_loader("snapshot_inspect", loader)
    mod = importlib.util.module_from_spec(spec)
    loader.exec_module(mod)
    return mod


inspect = _load_inspect()


@pytest.fixture(scope="module")
def tool():
    if not os.path.exists(TOOL):
        subprocess.run(["make", "-s", "-C", ROOT, "build/host/snapshot-tool"], check=True)
    return TOOL


def _make(tool, tmp_path, kind, content=False, packed=False):
    path = tmp_path / ("%s%s%s.snap" % (kind, "-content" if content else "",
                                         "-packed" if packed else ""))
    cmd = ([tool, "--kind", kind] + (["--content"] if content else []) +
           (["--packed"] if packed else []) + [str(path)])
    out = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout
    facts = dict(line.split("=", 1) for line in out.split())
    return path, facts


def _run_inspect(*args):
    return subprocess.run(["/usr/bin/python3", INSPECT] + list(args), capture_output=True,
                          text=True)


def _sections(snap, tag):
    return [s["fields"] for s in snap["sections"] if s["tag"] == tag]


def test_crc32c_check_value():
    assert inspect.crc32c(b"123456789") == 0xE3069283


@pytest.mark.parametrize("kind", KINDS)
def test_fields_match_the_device(tool, tmp_path, kind):
    path, facts = _make(tool, tmp_path, kind)
    r = _run_inspect("--json", str(path))
    assert r.returncode == 0, r.stderr
    snap = json.loads(r.stdout)
    assert snap["header"]["version"] == "1.1"
    assert snap["header"]["file_len"] == int(facts["file_len"]) == path.stat().st_size
    (devc,) = _sections(snap, "DEVC")
    assert devc["device"] == kind
    assert devc["device_id"] == int(facts["device_id"])
    assert devc["num_queues"] == int(facts["num_queues"])
    assert devc["avail_features"] == int(facts["avail_features"], 16)
    assert devc["acked_features"] == int(facts["acked_features"], 16)
    assert devc["activated"] and not devc["needs_reset"]
    (trns,) = _sections(snap, "TRNS")
    assert trns["interrupt_status"] == devc["interrupt_status"] == int(facts["interrupt_status"])
    assert trns["device_status"] == 0xF  # ACKNOWLEDGE|DRIVER|FEATURES_OK|DRIVER_OK
    queues = _sections(snap, "QUEU")
    assert [q["index"] for q in queues] == list(range(devc["num_queues"]))
    for q in queues:
        i = q["index"]
        for k in ("size", "max_size", "next_avail", "next_used"):
            assert q[k] == int(facts["q%d.%s" % (i, k)]), (i, k)
        for k in ("desc", "avail", "used"):
            assert q[k] == int(facts["q%d.%s" % (i, k)], 16), (i, k)
        assert q["live"] and q["ready"] == 1 and q["event_idx"] and q["indirect"]
        assert q["n_inflight"] == 0 and not q["broken"]
    (modl,) = _sections(snap, "MODL")
    if kind == "net":
        assert modl["backlog_frames"] == int(facts["backlog"]) == 3
        assert modl["frame_lens"] == [20, 21, 22]
        assert modl["frame_csum"] == [None, None, None]
        assert modl["rx_filter"]["promisc"] and modl["rx_filter"]["uni"] == []
    elif kind == "console":
        text = "a" * 32 + "b" * 33 + "c" * 34
        assert modl["out"] == modl["in"] == text
    elif kind == "blk":
        assert modl["serial"] == "snapshot-tool" and modl["disk_bytes"] == 64 * 512
    elif kind == "rng":
        assert modl["used"] <= 8 and modl["produced"] == 3 * 513
    elif kind == "pmem":
        assert modl["start"] == 0x40200000 and modl["size"] == 2 << 20
    assert not _sections(snap, "CONT")


@pytest.mark.parametrize("kind", KINDS)
def test_packed_queues(tool, tmp_path, kind):
    """Format 1.1: a packed device's queues decode with their wrap counters
    and device event suppression state; the ring offsets match the device."""
    path, facts = _make(tool, tmp_path, kind, packed=True)
    r = _run_inspect("--json", str(path))
    assert r.returncode == 0, r.stderr
    snap = json.loads(r.stdout)
    assert snap["header"]["version"] == "1.1"
    (devc,) = _sections(snap, "DEVC")
    assert devc["acked_features"] & (1 << 34)  # RING_PACKED
    for q in _sections(snap, "QUEU"):
        i = q["index"]
        assert q["packed"] and q["live"] and q["event_idx"]
        for k in ("size", "next_avail", "next_used"):
            assert q[k] == int(facts["q%d.%s" % (i, k)]), (i, k)
        assert q["avail_wrap"] == 1 and q["used_wrap"] == 1  # 16 entries, < 1 lap
        assert q["dev_event_flags"] in (0, 2) and q["n_inflight"] == 0 and q["inflight"] == []


def test_text_output_and_content(tool, tmp_path):
    path, _ = _make(tool, tmp_path, "blk", content=True)
    r = _run_inspect(str(path))
    assert r.returncode == 0, r.stderr
    for text in ("version 1.1", "(content)", "TRNS:", "DEVC:", "QUEU[0]:", "MODL:", "CONT:",
                 "device_status          0xf (ACKNOWLEDGE|DRIVER|DRIVER_OK|FEATURES_OK)",
                 "CRC", "ok"):
        assert text in r.stdout
    (cont,) = _sections(inspect.decode(path.read_bytes()), "CONT")
    disk = bytes(i // 512 for i in range(64 * 512))
    assert cont["bytes"] == len(disk) and cont["crc32c"] == inspect.crc32c(disk)


def test_cli_refuses_bad_files(tool, tmp_path):
    path, _ = _make(tool, tmp_path, "rng")
    data = path.read_bytes()
    bad = tmp_path / "bad.snap"
    cases = [
        (data[:-1], "truncated"),
        (data[:10], "header: truncated"),
        (b"", "empty"),
        (b"XXXX" + data[4:], "wrong magic"),
        (data[:-1] + bytes([data[-1] ^ 1]), "file: CRC mismatch"),
        (data + b"\0", "wrong length"),
    ]
    for blob, want in cases:
        bad.write_bytes(blob)
        r = _run_inspect(str(bad))
        assert r.returncode == 1, want
        assert want in r.stderr, (want, r.stderr)
    r = _run_inspect(str(tmp_path / "missing.snap"))
    assert r.returncode == 1 and "No such file" in r.stderr


@pytest.mark.parametrize("kind", ["net", "rng"])
def test_every_bit_flip_and_truncation_refused(tool, tmp_path, kind):
    path, _ = _make(tool, tmp_path, kind)
    data = path.read_bytes()
    inspect.decode(data)  # the original is fine
    for bit in range(8 * len(data)):
        b = bytearray(data)
        b[bit // 8] ^= 1 << (bit % 8)
        with pytest.raises(inspect.SnapshotError):
            inspect.decode(bytes(b))
    for n in range(len(data)):
        with pytest.raises(inspect.SnapshotError):
            inspect.decode(data[:n])
