# SPDX-License-Identifier: Apache-2.0
"""A vhost-user-blk backend process for tests that boot QEMU against one:
build/host/ringloop-vhost-user-blk (or qemu-storage-daemon's export) over a
disk file of seeded random bytes, in its own /tmp/vu_py_* directory.

    b = Backend(disk_bytes=16 << 20, args=["--verbose"])
    qemu += b.device_args()     # -chardev socket + -device vhost-user-blk-pci
    ...
    b.file_bytes(), b.log_text(), b.stop(), b.close()

Guest memory must be shared with the backend (memory-backend-memfd,
share=on); run_args/qemu_args() give tools/run the whole set.
Used by tests/test_vhost_user.py (the ringloop image) and tests/linux/
(Linux's virtio_blk).
"""

import os
import random
import shutil
import signal
import socket
import subprocess
import tempfile
import time

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DAEMON = os.path.join(REPO, "build", "host", "ringloop-vhost-user-blk")
DISK_BYTES = 8 << 20


def wait_socket(path, proc, timeout=10):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if proc.poll() is not None:
            raise AssertionError("backend exited with %s" % proc.returncode)
        if os.path.exists(path):
            s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            try:
                s.connect(path)
                s.close()
                return
            except OSError:
                pass
            finally:
                s.close()
        time.sleep(0.05)
    raise AssertionError("backend socket %s never came up" % path)


class Backend:
    """A vhost-user-blk backend process over a disk file of random bytes.
    kind: "ringloop" (our daemon; ARGS are added to its command line) or
    "qsd" (qemu-storage-daemon)."""

    def __init__(self, kind="ringloop", seed=1, disk_bytes=DISK_BYTES, args=(), num_queues=1,
                 direct=False):
        """num_queues: QEMU's num-queues property, None for QEMU's default
        (one per vCPU: the stock `-device vhost-user-blk-pci,chardev=vu`).
        direct: qemu-storage-daemon with cache.direct=on (ours: --direct
        in args). qemu-storage-daemon exports num_queues rings (1 for None);
        ours takes --num-queues in args."""
        self.num_queues = num_queues
        self.dir = tempfile.mkdtemp(prefix="vu_py_")
        self.sock = os.path.join(self.dir, "vu.sock")
        self.disk_path = os.path.join(self.dir, "disk.img")
        self.disk = random.Random(seed).randbytes(disk_bytes)
        with open(self.disk_path, "wb") as f:
            f.write(self.disk)
        self.log = open(os.path.join(self.dir, "backend.log"), "w")
        if kind == "ringloop":
            cmd = [DAEMON, "--socket", self.sock, "--disk", self.disk_path] + list(args)
        else:
            cmd = ["qemu-storage-daemon",
                   "--blockdev", "driver=file,node-name=file0,filename=%s,cache.direct=%s"
                   % (self.disk_path, "on" if direct else "off"),
                   "--blockdev", "driver=raw,node-name=disk0,file=file0",
                   "--export", "type=vhost-user-blk,id=e0,node-name=disk0,addr.type=unix,"
                   "addr.path=%s,writable=on,num-queues=%d" % (self.sock, num_queues or 1)]
        self.proc = subprocess.Popen(cmd, stdout=self.log, stderr=subprocess.STDOUT)
        wait_socket(self.sock, self.proc)

    def device_args(self, modern_only=False, chardev="vu"):
        """QEMU's side of the connection: the socket and the PCI device."""
        dev = "vhost-user-blk-pci,chardev=%s" % chardev
        if self.num_queues is not None:
            dev += ",num-queues=%d" % self.num_queues
        if modern_only:
            # libvhost-user (qemu-storage-daemon) refuses a legacy driver,
            # and OVMF drives a transitional device as legacy.
            dev += ",disable-legacy=on"
        return ["-chardev", "socket,id=%s,path=%s" % (chardev, self.sock), "-device", dev]

    def qemu_args(self, modern_only=False, extra=()):
        """tools/run arguments: shared guest memory, then device_args(),
        then extra QEMU arguments."""
        return ["--",
                "-object", "memory-backend-memfd,id=mem,size=512M,share=on",
                "-numa", "node,memdev=mem"] + self.device_args(modern_only) + list(extra)

    @property
    def run_args(self):
        return self.qemu_args()

    def file_bytes(self):
        with open(self.disk_path, "rb") as f:
            return f.read()

    def log_text(self):
        self.log.flush()
        with open(self.log.name) as f:
            return f.read()

    def stop(self, sig=signal.SIGTERM):
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        return self.proc.returncode

    def close(self):
        self.stop(signal.SIGKILL)
        self.log.close()
        shutil.rmtree(self.dir, ignore_errors=True)
