# SPDX-License-Identifier: Apache-2.0
"""ringloop_qemu - how ringloop boots under QEMU, in one place.

tools/run (the command line), tests/ (the pytest console fixture) and
tools/bench-boot all build their QEMU command here, so a test boots exactly
what `make run` boots.

Exit status contract: the kernel writes status N to isa-debug-exit (port
0xf4); QEMU then exits with (N << 1) | 1. decode_exit() turns an odd code back
into N and passes even codes (QEMU's own, e.g. 0 after SIGINT) through. QEMU
also exits 1 when it fails to start; that is indistinguishable from guest
status 0 by the code alone, so callers that see 1 look at QEMU's stderr (see
is_qemu_error()) and report QEMU_FAILED instead.

Machines are rows in MACHINES (q35 boots the ESP through OVMF; microvm
boots the PVH ELF directly): a new machine is one row, callers do not change.
"""

import hashlib
import json
import os
import platform
import select
import shutil
import subprocess
import tempfile
import time

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BUILD = os.path.join(REPO, "build")
DEFAULT_IMAGE = os.path.join(BUILD, "efi", "esp.img")
PVH_IMAGE = os.path.join(BUILD, "efi", "ringloop.elf")
FLOOR_IMAGE = os.path.join(BUILD, "efi", "floor-esp.img")
PROBE_CACHE = os.path.join(BUILD, ".accel-probe")

QEMU = "qemu-system-x86_64"
# Debian's OVMF. The combined image as -bios boots measurably faster under TCG
# than split CODE/VARS pflash (about 3.5 s vs 5.5 s to the first line of an
# EFI app on our machines); variables then live in memory only, which is all a
# test boot needs. --pflash selects the split layout (a private VARS copy).
OVMF_BIOS = "/usr/share/ovmf/OVMF.fd"
OVMF_CODE = "/usr/share/OVMF/OVMF_CODE_4M.fd"
OVMF_VARS = "/usr/share/OVMF/OVMF_VARS_4M.fd"

DEBUG_EXIT_PORT = 0xF4
PANIC_EXIT_STATUS = 99  # kernel/kernel.h
QEMU_FAILED = 125  # tools/run's own "QEMU did not start" status
TIMED_OUT = 124  # like timeout(1)

DEFAULT_SMP = 2
DEFAULT_MEM_MB = 512
KVM_PROBE_SECONDS = 6.0  # TCG reaches the first line in ~3 s: KVM must beat that


class Options:
    """What a caller may choose; everything else is fixed policy."""

    def __init__(self, machine="q35", accel="auto", smp=DEFAULT_SMP, mem=DEFAULT_MEM_MB,
                 image=None, pflash=False, extra=()):
        self.machine = machine
        self.accel = accel
        self.smp = smp
        self.mem = mem
        # None: the machine's own (esp.img for q35, ringloop.elf for microvm)
        self.image = image or MACHINES.get(machine, (None, DEFAULT_IMAGE))[1]
        self.pflash = pflash
        self.extra = list(extra)


def _q35_args(opts, tmpdir):
    args = ["-M", "q35"]
    if opts.pflash:
        vars_copy = os.path.join(tmpdir, "OVMF_VARS.fd")
        shutil.copyfile(OVMF_VARS, vars_copy)
        args += ["-drive", "if=pflash,format=raw,unit=0,readonly=on,file=" + OVMF_CODE,
                 "-drive", "if=pflash,format=raw,unit=1,file=" + vars_copy]
    else:
        args += ["-bios", OVMF_BIOS]
    # The ESP on q35's AHCI controller (not virtio: the virtio devices on the
    # bus are the ones tests attach). Each run boots a private copy (8 MiB,
    # copied in a few ms): a rebuild during the run, a guest that writes to
    # its disk, or someone else's QEMU holding the image's write lock cannot
    # disturb it.
    # bootindex=0: OVMF boots the ESP even when a test attaches other
    # (perhaps bootable) disks, which it would otherwise try first.
    args += ["-drive", "if=none,id=esp,format=raw,file=%s" % private_copy(opts.image, tmpdir),
             "-device", "ide-hd,drive=esp,bus=ide.0,bootindex=0"]
    return args


def private_copy(image, tmpdir):
    dst = os.path.join(tmpdir, os.path.basename(image))
    if os.path.exists(image):
        shutil.copyfile(image, dst)
    return dst


def _microvm_args(opts, tmpdir):
    # No firmware to speak of: QEMU loads the PVH ELF (build/efi/ringloop.elf,
    # same objects as the EFI image) and enters it through its Xen PVH note.
    # Virtio devices attach as virtio-mmio (-device virtio-blk-device,...);
    # QEMU's virtio-mmio is legacy (version 1) unless told otherwise, and our
    # MMIO transport speaks version 2 only (VIRTIO 1.2 4.2.2).
    return ["-M", "microvm", "-global", "virtio-mmio.force-legacy=false",
            "-kernel", private_copy(opts.image, tmpdir)]


# machine -> (QEMU arguments builder, default image)
MACHINES = {
    "q35": (_q35_args, DEFAULT_IMAGE),
    "microvm": (_microvm_args, PVH_IMAGE),
}


def accel_args(accel):
    if accel == "kvm":
        return ["-accel", "kvm"]
    if accel == "tcg":
        return ["-accel", "tcg,thread=multi"]
    raise ValueError("accel must be kvm or tcg after resolution, not %r" % accel)


def build_command(opts, tmpdir, accel):
    """The QEMU argv for `opts` with a resolved accelerator ('kvm' or 'tcg')."""
    if opts.machine not in MACHINES:
        raise ValueError("unknown machine %r (have: %s)" % (opts.machine, ", ".join(MACHINES)))
    argv = [QEMU]
    argv += MACHINES[opts.machine][0](opts, tmpdir)
    argv += accel_args(accel)
    argv += ["-cpu", "max", "-smp", str(opts.smp), "-m", str(opts.mem)]
    argv += [
        # -nodefaults: no VGA, no empty CD-ROM for the firmware to try first;
        # the machine's own devices (host bridge, LPC, AHCI, SMBus) remain.
        "-nodefaults",
        "-serial", "stdio", "-display", "none", "-monitor", "none",
        "-device", "isa-debug-exit,iobase=0x%x,iosize=0x04" % DEBUG_EXIT_PORT,
        "-nic", "none",  # no NIC, so no PXE option ROM delaying the boot
        "-no-reboot",    # a triple fault exits instead of looping
    ]
    argv += opts.extra
    return argv


def decode_exit(code):
    """QEMU's exit code -> the guest's status (odd codes) or the code itself."""
    if code is not None and code > 0 and code & 1:
        return code >> 1
    return code


def is_qemu_error(stderr_text):
    """True when QEMU's stderr says it failed (as opposed to warned)."""
    for line in stderr_text.splitlines():
        if line.startswith(QEMU + ":") and "warning:" not in line:
            return True
    return False


def qemu_version():
    try:
        out = subprocess.run([QEMU, "--version"], capture_output=True, text=True, check=False)
        return out.stdout.splitlines()[0] if out.stdout else "unknown"
    except OSError:
        return "missing"


def _probe_key(machine):
    u = platform.uname()
    parts = [u.release, u.version, qemu_version(), machine, OVMF_BIOS]
    try:
        parts.append(str(os.stat(OVMF_BIOS).st_mtime_ns))
    except OSError:
        pass
    return hashlib.sha256("\n".join(parts).encode()).hexdigest()[:16]


def _probe_kvm(opts):
    """Boot once under KVM with a deadline; True if an EFI app got to print.

    Boots the firmware-floor image when it exists (it does not change with
    the kernel), else the image being run. Success for the floor is a line
    starting with "ringloop" (all it prints); for the kernel it is the shell
    prompt, after SMP, the devices and SSE code have run: the banner alone
    comes before the code a software KVM fails on, and under load it was
    once seen in time and cached KVM as usable for microvm.
    """
    image = opts.image
    done = b"\nringloop> "
    if opts.machine == "q35" and os.path.exists(FLOOR_IMAGE):
        image = FLOOR_IMAGE
        done = b"\nringloop"
    probe = Options(machine=opts.machine, smp=1, mem=opts.mem, image=image)
    with tempfile.TemporaryDirectory(prefix="ringloop-probe-") as tmp:
        argv = build_command(probe, tmp, "kvm")
        p = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE)
        out = b""
        err = b""
        ok = False
        deadline = time.monotonic() + KVM_PROBE_SECONDS
        try:
            while time.monotonic() < deadline:
                r, _, _ = select.select([p.stdout, p.stderr], [], [], 0.1)
                for f in r:
                    chunk = os.read(f.fileno(), 4096)
                    if f is p.stdout:
                        out += chunk
                    else:
                        err += chunk
                if done in b"\n" + out.replace(b"\r", b""):
                    ok = True
                    break
                if b"KVM internal error" in err or b"emulation failure" in err:
                    break
                if p.poll() is not None and not r:
                    break
        finally:
            p.kill()
            p.wait()
        return ok, err.decode(errors="replace").strip().splitlines()[:1]


def resolve_accel(opts, log=None):
    """'auto' -> 'kvm' if a short KVM boot works here (verdict cached), else 'tcg'."""
    if opts.accel in ("kvm", "tcg"):
        return opts.accel
    if opts.accel != "auto":
        raise ValueError("accel must be auto, kvm or tcg, not %r" % opts.accel)
    if not os.access("/dev/kvm", os.R_OK | os.W_OK):
        return "tcg"
    key = _probe_key(opts.machine)
    verdicts = {}
    try:
        with open(PROBE_CACHE) as f:
            verdicts = json.load(f)
        cached = verdicts.get(key, {})
        if cached.get("accel") in ("kvm", "tcg"):
            return cached["accel"]
    except (OSError, ValueError, AttributeError):
        verdicts = {}
    if log:
        log("probing KVM with a %.0f s boot (once; verdict cached in %s)"
            % (KVM_PROBE_SECONDS, os.path.relpath(PROBE_CACHE, os.getcwd())))
    ok, why = _probe_kvm(opts)
    accel = "kvm" if ok else "tcg"
    if log:
        log("KVM %s: using %s%s" % ("works" if ok else "is not usable", accel,
                                    (" (" + why[0] + ")") if why and not ok else ""))
    os.makedirs(os.path.dirname(PROBE_CACHE), exist_ok=True)
    tmp = PROBE_CACHE + ".%d" % os.getpid()
    if not isinstance(verdicts, dict):
        verdicts = {}
    # One verdict per (host kernel, QEMU, firmware, machine): stale keys are
    # simply never asked for again.
    verdicts[key] = {"accel": accel, "machine": opts.machine, "qemu": qemu_version(),
                     "host_kernel": platform.release(), "why": why[0] if why else ""}
    with open(tmp, "w") as f:
        json.dump(verdicts, f, indent=1, sort_keys=True)
        f.write("\n")
    os.replace(tmp, PROBE_CACHE)
    return accel


def add_arguments(parser):
    """The options tools/run and tools/bench-boot share (argparse)."""
    parser.add_argument("--machine", default="q35", choices=sorted(MACHINES),
                        help="QEMU machine (default q35)")
    parser.add_argument("--accel", default=os.environ.get("ACCEL", "auto"),
                        choices=["auto", "kvm", "tcg"],
                        help="accelerator; auto probes KVM once and falls back to TCG "
                             "(default: $ACCEL or auto)")
    parser.add_argument("--smp", type=int, default=DEFAULT_SMP,
                        help="CPUs (default %d)" % DEFAULT_SMP)
    parser.add_argument("--mem", type=int, default=DEFAULT_MEM_MB,
                        help="memory in MiB (default %d)" % DEFAULT_MEM_MB)
    parser.add_argument("--image", default=None,
                        help="what to boot (default: build/efi/esp.img on q35, "
                             "build/efi/ringloop.elf on microvm)")
    parser.add_argument("--pflash", action="store_true",
                        help="split OVMF CODE/VARS pflash instead of -bios (slower)")


def options_from_args(args, extra=()):
    return Options(machine=args.machine, accel=args.accel, smp=args.smp, mem=args.mem,
                   image=args.image, pflash=args.pflash, extra=extra)
