# SPDX-License-Identifier: Apache-2.0
"""QEMU's own virtio-mmio devices on microvm, driven by the same drivers
through the MMIO transport (PVH boot, build/efi/ringloop.elf), checked
from the host side: the disk image file, an rng source file, a UDP socket
and a chardev socket that this test owns.

Each test boots its own microvm (~0.2 s to the prompt under TCG).
"""

import hashlib
import os
import re
import socket
import struct
import tempfile
import time

import pytest

MICROVM = ["--machine", "microvm"]


def sha(data):
    return hashlib.sha256(data).hexdigest()


def boot_microvm(boot, *qemu_args):
    return boot(MICROVM + ["--"] + list(qemu_args))


def assert_interrupt_driven(c, dev):
    """Every completion came by interrupt: a dead IOAPIC route would still
    pass the data checks through the drivers' wait timeout."""
    info = c.run("virtio info " + dev)
    assert re.search(r"polled=0 interrupts=[1-9]\d* .*lost_interrupts=0", info), info


@pytest.fixture
def tmp():
    with tempfile.TemporaryDirectory(prefix="rl-microvm-") as d:
        yield d


def test_mmio_blk_read_write_host_file(boot, tmp):
    disk = os.path.join(tmp, "disk.img")
    sectors = 2048
    pattern = bytes((i * 7 + 3) & 0xFF for i in range(sectors * 512))
    with open(disk, "wb") as f:
        f.write(pattern)
    c = boot_microvm(boot, "-drive", "if=none,id=d0,format=raw,file=" + disk,
                     "-device", "virtio-blk-device,drive=d0")
    out = c.run("devices")
    assert "vblk0 blk mmio" in out, out
    # what the guest reads is what the host wrote
    out = c.run("blk read vblk0 0 8")
    assert "sha256 " + sha(pattern[:4096]) in out, out
    out = c.run("blk read vblk0 %d 8" % (sectors - 8))  # 4 KiB ending at the last sector
    assert "sha256 " + sha(pattern[-4096:]) in out, out
    out = c.run("blk read vblk0 %d 8" % (sectors - 4))  # runs past the end
    assert out.startswith("error:"), out
    out = c.run("blk read vblk0 1 1")  # the device is still usable
    assert "sha256 " + sha(pattern[512:1024]) in out, out
    assert_interrupt_driven(c, "vblk0")
    # what the guest writes reaches the file
    assert "wrote 8 sectors" in c.run("blk fill vblk0 16 8 171")
    assert "flushed" in c.run("blk flush vblk0")
    c.run_until_exit("poweroff 0")
    with open(disk, "rb") as f:
        data = f.read()
    assert data[16 * 512:24 * 512] == bytes([171]) * 4096
    assert data[:16 * 512] == pattern[:16 * 512]
    assert data[24 * 512:] == pattern[24 * 512:]


def test_mmio_rng_bytes_come_from_the_host_file(boot, tmp):
    src = os.path.join(tmp, "entropy.bin")
    data = os.urandom(1 << 16)
    with open(src, "wb") as f:
        f.write(data)
    c = boot_microvm(boot, "-object", "rng-random,id=r0,filename=" + src,
                     "-device", "virtio-rng-device,rng=r0")
    assert "vrng0 rng mmio" in c.run("devices")
    out = c.run("rng read vrng0 64")
    # rng-random reads the file in order: the guest's first bytes are its first bytes
    assert "sha256 " + sha(data[:64]) in out, out
    assert_interrupt_driven(c, "vrng0")


def test_mmio_net_echo_over_udp(boot, tmp):
    host = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    host.bind(("127.0.0.1", 0))
    host.settimeout(10)
    hport = host.getsockname()[1]
    probe = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    probe.bind(("127.0.0.1", 0))
    gport = probe.getsockname()[1]
    probe.close()  # QEMU binds it next
    c = boot_microvm(boot, "-netdev",
                     "dgram,id=n0,local.type=inet,local.host=127.0.0.1,local.port=%d,"
                     "remote.type=inet,remote.host=127.0.0.1,remote.port=%d" % (gport, hport),
                     "-device", "virtio-net-device,netdev=n0")
    assert "vnet0 net mmio" in c.run("devices")
    frames = []
    for i in range(5):
        payload = bytes((i * 31 + j) & 0xFF for j in range(60 + i * 100))
        frame = bytes.fromhex("525400123456") + bytes.fromhex("02000000000%d" % i) + \
            struct.pack(">H", 0x88B5) + payload
        frames.append(frame)
        host.sendto(frame, ("127.0.0.1", gport))
    time.sleep(0.2)
    out = c.run("net echo vnet0 5", timeout=30)
    assert "echoed 5 frames" in out, out
    got = [host.recvfrom(65536)[0] for _ in frames]
    assert got == frames
    assert_interrupt_driven(c, "vnet0")
    host.close()


def test_mmio_console_both_directions(boot, tmp):
    path = os.path.join(tmp, "con.sock")
    c = boot_microvm(boot, "-device", "virtio-serial-device",
                     "-chardev", "socket,id=c0,path=%s,server=on,wait=off" % path,
                     "-device", "virtconsole,chardev=c0")
    assert "vcon0 console mmio" in c.run("devices")
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.connect(path)
    s.settimeout(10)
    out = c.run("console write vcon0 hello from ringloop")
    assert "wrote" in out, out
    got = b""
    while b"hello from ringloop" not in got:
        got += s.recv(4096)
    s.sendall(b"greetings-from-host")
    time.sleep(0.3)
    out = c.run("console read vcon0")
    assert "greetings-from-host" in out, out
    assert_interrupt_driven(c, "vcon0")
    s.close()
