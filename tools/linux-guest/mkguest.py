#!/usr/bin/python3
# SPDX-License-Identifier: Apache-2.0
"""tools/linux-guest/mkguest.py - the tiny Linux guest, from Debian packages only.

Downloads (once, cached in build/linux/debs/) Debian 12's current
linux-image-<version>-amd64 (the package linux-image-amd64 depends on) and
busybox-static, unpacks them with `dpkg -x` into build/linux/x/<package>/,
runs `depmod -b` on the kernel tree, and builds:

  build/linux/vmlinux-<kver>     the uncompressed kernel, taken out of the
                                 bzImage: QEMU boots it through its PVH entry,
                                 which saves the ~4 s the bzImage spends
                                 decompressing itself under TCG
  build/linux/initramfs.cpio     busybox, the virtio modules (dependencies
                                 from modules.dep, in load order), /init,
                                 rl.sh (result lines), rl-dio (dio.c: O_DIRECT
                                 I/O, built here with gcc -static)
  build/linux/initrd-<hash>.cpio initramfs.cpio + an overlay archive of extra
                                 files (the kernel unpacks concatenated cpio
                                 archives in order), one per set of extras

/init (tools/linux-guest/init) loads the modules, mounts proc/sys/dev, runs
/rl/tests/<rl.test> (rl.test=NAME on the kernel command line; every rl.KEY=V
also becomes $RL_KEY in its environment), prints tagged `RL: ` lines on the
serial console and powers off. The tag grammar and the verdicts are in
tests/linux/linux_guest.py, which also boots it.

`apt-get download` works as any user on Debian (as root the _apt sandbox
is skipped); if it fails, the error names the exact command to run.
Everything is rebuilt only when its inputs change (package version, source
files, the set of extras). Usage:

  tools/linux-guest/mkguest.py                       # build, print the paths
  tools/linux-guest/mkguest.py --add SRC:DEST ...    # plus extra files
  tools/linux-guest/mkguest.py --package fio --binary /usr/bin/fio
                      # plus a Debian binary and the shared libraries it needs
  tools/linux-guest/mkguest.py --with-fio            # the same, FIO_PACKAGES' set

As a module: build(extra_files=..., packages=..., binaries=...) -> Guest.
"""

import argparse
import hashlib
import json
import lzma
import os
import re
import shutil
import struct
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
OUT = os.path.join(REPO, "build", "linux")
DEBS = os.path.join(OUT, "debs")
KERNEL_META = "linux-image-amd64"
BUSYBOX = "busybox-static"
# The guest's modules, by name (modules.dep supplies what they need). Debian's
# config-* has these as =m; PCI, the 8250 console, ACPI and devtmpfs are =y.
MODULES = ["virtio_pci", "virtio_mmio", "virtio_blk", "virtio_net", "virtio_console",
           "virtio-rng"]
# Where a dynamically linked binary's libraries are looked for, in each
# unpacked package tree and then on this (Debian 12) host.
LIB_DIRS = ["lib/x86_64-linux-gnu", "usr/lib/x86_64-linux-gnu", "lib64", "lib", "usr/lib"]
# fio (issue 13): Debian's binary and the packages of the libraries it links
# that a host with tools/deps.sh's set lacks (`apt-cache depends fio`, then
# readelf's NEEDED transitively); every other library comes from the host
# (same Debian release). The initrd grows to ~85 MiB (ceph, gluster and ICU
# libraries: fio links them all). --with-fio; linux_guest.FIO.
FIO_PACKAGES = ["fio", "libgfapi0", "libglusterfs0", "libgfrpc0", "libgfxdr0", "libnbd0",
                "libpmemblk1", "libboost-thread1.74.0", "librados2", "librbd1"]
FIO_BINARY = "/usr/bin/fio"


class BuildError(Exception):
    pass


class Guest:
    """What a boot needs: the kernel, the initrd, and what went into them."""

    def __init__(self, kernel, initrd, kver, packages):
        self.kernel = kernel
        self.initrd = initrd
        self.kver = kver
        self.packages = packages  # {package: version}

    def __repr__(self):
        return "Guest(kernel=%r, initrd=%r)" % (self.kernel, self.initrd)


def log(msg):
    print("linux-guest: " + msg, file=sys.stderr, flush=True)


def _out(cmd):
    try:
        return subprocess.run(cmd, check=True, capture_output=True, text=True).stdout
    except FileNotFoundError:
        raise BuildError("%s not found: run tools/deps.sh" % cmd[0])
    except subprocess.CalledProcessError as e:
        raise BuildError("%s failed: %s" % (" ".join(cmd), e.stderr.strip()))


# ---- packages ----

def _apt_state():
    """What apt's answers depend on: its package lists (apt-get update) and
    its configuration. Without a pkgcache.bin (as here) each apt-cache call
    costs about a second, so answers are cached under this key."""
    h = hashlib.sha256()
    for d in ("/var/lib/apt/lists", "/etc/apt", "/etc/apt/sources.list.d",
              "/etc/apt/preferences.d", "/etc/apt/apt.conf.d"):
        try:
            names = sorted(os.listdir(d))
        except OSError:
            continue
        for n in names:
            try:
                st = os.stat(os.path.join(d, n))
            except OSError:
                continue
            h.update(("%s/%s %d %d\n" % (d, n, st.st_size, st.st_mtime_ns)).encode())
    return h.hexdigest()


class Apt:
    """apt-cache answers (the kernel package's name, candidate versions),
    cached in build/linux/apt.json until apt's lists or configuration change."""

    def __init__(self):
        self.path = os.path.join(OUT, "apt.json")
        self.key = _apt_state()
        try:
            with open(self.path) as f:
                saved = json.load(f)
        except (OSError, ValueError):
            saved = {}
        self.data = saved if saved.get("key") == self.key else {"key": self.key}

    def _save(self):
        with open(self.path + ".tmp", "w") as f:
            json.dump(self.data, f, indent=1, sort_keys=True)
        os.replace(self.path + ".tmp", self.path)

    def kernel_package(self):
        """linux-image-amd64 depends on exactly one linux-image-<abi>-amd64."""
        if "kernel" not in self.data:
            deps = _out(["apt-cache", "depends", KERNEL_META])
            m = re.search(r"Depends: (linux-image-\d\S*-amd64)\b", deps)
            if not m:
                raise BuildError("apt-cache depends %s names no linux-image-*-amd64:\n%s"
                                 % (KERNEL_META, deps))
            self.data["kernel"] = m.group(1)
            self._save()
        return self.data["kernel"]

    def versions(self, pkgs):
        """{package: candidate version}, one apt-cache call for the unknown ones."""
        known = self.data.setdefault("versions", {})
        ask = [p for p in pkgs if p not in known]
        if ask:
            text = _out(["apt-cache", "show", "--no-all-versions"] + ask)
            for stanza in text.split("\n\n"):
                name = re.search(r"^Package: (\S+)$", stanza, re.M)
                ver = re.search(r"^Version: (\S+)$", stanza, re.M)
                if name and ver:
                    known[name.group(1)] = ver.group(1)
            lost = [p for p in ask if p not in known]
            if lost:
                raise BuildError("apt-cache show: no candidate for %s" % " ".join(lost))
            self._save()
        return {p: known[p] for p in pkgs}


def cached_deb(pkg, version):
    """build/linux/debs/<pkg>_<version>_<arch>.deb if it is there (apt-get
    download spells an epoch's ':' as %3a; arch is amd64 or all)."""
    stem = os.path.join(DEBS, "%s_%s_" % (pkg, version.replace(":", "%3a")))
    return next((stem + a + ".deb" for a in ("amd64", "all") if os.path.exists(stem + a + ".deb")),
                None)


def download(pkg, version):
    """The package's .deb in build/linux/debs/, downloaded if missing."""
    path = cached_deb(pkg, version)
    if path:
        return path
    os.makedirs(DEBS, exist_ok=True)
    tmp = os.path.join(DEBS, ".partial")
    shutil.rmtree(tmp, ignore_errors=True)
    os.makedirs(tmp)
    cmd = ["apt-get", "download", "-q", "%s=%s" % (pkg, version)]
    if os.geteuid() == 0:  # root: no _apt sandbox (it could not write here)
        cmd[2:2] = ["-o", "APT::Sandbox::User=root"]
    log("downloading %s %s" % (pkg, version))
    r = subprocess.run(cmd, cwd=tmp, capture_output=True, text=True)
    got = [n for n in os.listdir(tmp) if n.endswith(".deb")]
    if r.returncode != 0 or len(got) != 1:
        hint = "" if os.geteuid() == 0 else " (as root if apt needs it here)"
        raise BuildError("could not download %s:\n%s\nrun%s:\n  cd %s && apt-get download %s"
                         % (pkg, (r.stderr or r.stdout).strip(), hint, DEBS, pkg))
    path = os.path.join(DEBS, got[0])
    os.replace(os.path.join(tmp, got[0]), path)
    shutil.rmtree(tmp, ignore_errors=True)
    return path


def extract(deb):
    """dpkg -x DEB into build/linux/x/<package>/ unless that is already it."""
    pkg = os.path.basename(deb).split("_")[0]
    dest = os.path.join(OUT, "x", pkg)
    stamp = os.path.join(dest, ".from")
    if _read(stamp) == os.path.basename(deb):
        return dest
    log("unpacking " + os.path.basename(deb))
    shutil.rmtree(dest, ignore_errors=True)
    tmp = dest + ".tmp"
    shutil.rmtree(tmp, ignore_errors=True)
    os.makedirs(tmp)
    _out(["dpkg", "-x", deb, tmp])
    os.replace(tmp, dest)
    with open(stamp, "w") as f:
        f.write(os.path.basename(deb))
    return dest


def package_trees(apt, pkgs):
    """{package: (tree, version)}: each downloaded if missing and unpacked."""
    return {p: (extract(download(p, v)), v) for p, v in apt.versions(pkgs).items()}


def _read(path):
    try:
        with open(path) as f:
            return f.read()
    except OSError:
        return None


# ---- kernel ----

def kernel_version(tree):
    kvers = os.listdir(os.path.join(tree, "lib", "modules"))
    if len(kvers) != 1:
        raise BuildError("expected one kernel in %s/lib/modules: %s" % (tree, kvers))
    return kvers[0]


def modules_dep(tree, kver):
    """{name: (path, [dependency paths])}, from modules.dep (depmod -b)."""
    mdir = os.path.join(tree, "lib", "modules", kver)
    dep = os.path.join(mdir, "modules.dep")
    if not os.path.exists(dep):  # Debian runs depmod in postinst; dpkg -x does not
        _out(["depmod", "-b", tree, kver])
    mods = {}
    with open(dep) as f:
        for line in f:
            path, _, deps = line.partition(":")
            name = os.path.basename(path)[:-len(".ko")].replace("-", "_")
            mods[name] = (os.path.join(mdir, path), [os.path.join(mdir, d) for d in deps.split()])
    return mods


def load_order(mods, wanted):
    """Module files for WANTED with every dependency before its user."""
    by_path = {p: n for n, (p, _) in mods.items()}
    order, seen = [], set()

    def visit(name):
        if name in seen:
            return
        seen.add(name)
        for d in mods[name][1]:
            visit(by_path[d])
        order.append(mods[name][0])

    for w in wanted:
        name = w.replace("-", "_")
        if name not in mods:
            raise BuildError("module %s is not in modules.dep (built in? see config-*)" % w)
        visit(name)
    return order


def vmlinux(tree, kver):
    """The ELF kernel inside the bzImage (its xz payload, boot protocol 2.08+)."""
    bz = os.path.join(tree, "boot", "vmlinuz-" + kver)
    out = os.path.join(OUT, "vmlinux-" + kver)
    if os.path.exists(out) and os.path.getmtime(out) >= os.path.getmtime(bz):
        return out
    with open(bz, "rb") as f:
        img = f.read()
    setup_sects = img[0x1f1] or 4
    offset, length = struct.unpack_from("<II", img, 0x248)  # payload_offset, payload_length
    start = (setup_sects + 1) * 512 + offset
    payload = img[start:start + length]
    if not payload.startswith(b"\xfd7zXZ\x00"):
        raise BuildError("%s: payload is not xz (CONFIG_KERNEL_XZ changed?)" % bz)
    elf = lzma.LZMADecompressor(format=lzma.FORMAT_XZ).decompress(payload)
    if not elf.startswith(b"\x7fELF"):
        raise BuildError("%s: the payload is not an ELF" % bz)
    with open(out + ".tmp", "wb") as f:
        f.write(elf)
    os.replace(out + ".tmp", out)
    return out


# ---- shared libraries of a Debian binary ----

def _dynamic(path):
    """(NEEDED sonames, RUNPATH/RPATH dirs, program interpreter or None) of an ELF."""
    dyn = _out(["readelf", "-d", "-l", "-W", path])
    needed = re.findall(r"\(NEEDED\)\s+Shared library: \[([^]]+)\]", dyn)
    runpath = [d for m in re.findall(r"\((?:RUNPATH|RPATH)\)\s+Library r\w*path: \[([^]]+)\]", dyn)
               for d in m.split(":")]
    interp = re.search(r"Requesting program interpreter: ([^]]+)\]", dyn)
    return needed, runpath, interp.group(1) if interp else None


def elf_closure(binary, trees):
    """[(src, dest)] for BINARY (a path inside one of TREES, or on the host)
    and every shared library it needs, transitively, looked up in its
    RUNPATH and the standard directories of TREES first, then of this host
    (the same Debian release). Each lands in the guest where it was found
    (/usr/lib/x86_64-linux-gnu/ceph/libceph-common.so.2 stays there), so
    the loader finds it as it would on Debian, without an ld.so.cache."""
    roots = list(trees) + ["/"]

    def find(rel):
        for t in roots:
            path = os.path.join(t, rel.lstrip("/"))
            if os.path.exists(path):
                return path
        return None

    src = find(binary)
    if src is None:
        raise BuildError("%s is in none of %s" % (binary, roots))
    files, todo, missing, seen = [(src, binary)], [(src, binary)], [], set()
    while todo:
        path, guest_path = todo.pop()
        needed, runpath, interp = _dynamic(path)
        if interp and interp not in seen:
            seen.add(interp)
            files.append((os.path.realpath(interp), interp))
        dirs = [d.replace("$ORIGIN", os.path.dirname(guest_path)) for d in runpath]
        for soname in needed:
            if soname in seen:
                continue
            seen.add(soname)
            rel = next((os.path.join(d, soname) for d in dirs + ["/" + d for d in LIB_DIRS]
                        if find(os.path.join(d, soname))), None)
            if rel is None:
                missing.append(soname)
                continue
            lib = find(rel)
            files.append((os.path.realpath(lib), os.path.normpath(rel)))
            todo.append((lib, os.path.normpath(rel)))
    if missing:
        raise BuildError("%s needs %s, found in no package given and not on this host"
                         % (binary, ", ".join(missing)))
    return files


# ---- our own guest programs ----

def static_program(name):
    """build/linux/<name>, from tools/linux-guest/<name without rl->.c, static."""
    src = os.path.join(HERE, name[len("rl-"):] + ".c")
    out = os.path.join(OUT, name)
    if os.path.exists(out) and os.path.getmtime(out) >= os.path.getmtime(src):
        return out
    _out(["gcc", "-static", "-O2", "-s", "-Wall", "-Wextra", "-Werror", "-o", out + ".tmp", src])
    os.replace(out + ".tmp", out)
    return out


# ---- cpio ----

def _digest(files, extra=""):
    """A hash of what goes into an archive: destinations, modes, contents' stats."""
    h = hashlib.sha256(extra.encode())
    for src, dest in sorted(files, key=lambda f: f[1]):
        st = os.stat(src)
        h.update(("%s\0%s\0%o\0%d\0%d\n" % (dest, src, st.st_mode, st.st_size,
                                           st.st_mtime_ns)).encode())
    return h.hexdigest()


def cpio(files, dirs, out):
    """A newc archive at OUT of FILES [(src, dest)] and empty DIRS, owned by
    root, unless OUT already holds exactly these (its .digest says so)."""
    digest = _digest(files, " ".join(dirs))
    if os.path.exists(out) and _read(out + ".digest") == digest:
        return out, False
    stage = out + ".d"
    shutil.rmtree(stage, ignore_errors=True)
    for d in dirs:
        os.makedirs(os.path.join(stage, d.lstrip("/")), exist_ok=True)
    for src, dest in files:
        path = os.path.join(stage, dest.lstrip("/"))
        os.makedirs(os.path.dirname(path), exist_ok=True)
        shutil.copy2(src, path)
    names = []
    for root, ds, fs in os.walk(stage):
        for n in ds + fs:
            names.append(os.path.relpath(os.path.join(root, n), stage))
    listing = "\n".join(sorted(names)) + "\n"
    with open(out + ".tmp", "wb") as f:
        try:
            subprocess.run(["cpio", "-o", "-H", "newc", "-R", "0:0", "--reproducible",
                            "--quiet"], input=listing.encode(), stdout=f, cwd=stage,
                           check=True)
        except FileNotFoundError:
            raise BuildError("cpio not found: run tools/deps.sh")
    os.replace(out + ".tmp", out)
    shutil.rmtree(stage, ignore_errors=True)
    with open(out + ".digest", "w") as f:
        f.write(digest)
    return out, True


# ---- the guest ----

def base(apt, verbose=True):
    """(kernel, base initramfs, kver, {package: version})."""
    kpkg = apt.kernel_package()
    trees = package_trees(apt, [kpkg, BUSYBOX])
    (ktree, kversion), (btree, bversion) = trees[kpkg], trees[BUSYBOX]
    kver = kernel_version(ktree)
    kernel = vmlinux(ktree, kver)
    order = load_order(modules_dep(ktree, kver), MODULES)
    files = [(os.path.join(btree, "bin", "busybox"), "/bin/busybox"),
             (os.path.join(HERE, "init"), "/init"),
             (os.path.join(HERE, "rl.sh"), "/rl/rl.sh"),
             (static_program("rl-dio"), "/bin/rl-dio")]
    files += [(p, "/rl/modules/" + os.path.basename(p)) for p in order]
    listing = os.path.join(OUT, "modules.list")
    text = "".join(os.path.basename(p)[:-len(".ko")] + "\n" for p in order)
    if _read(listing) != text:
        with open(listing, "w") as f:
            f.write(text)
    files.append((listing, "/rl/modules.list"))
    initramfs, rebuilt = cpio(files, ["/proc", "/sys", "/dev", "/tmp", "/run", "/rl/tests"],
                              os.path.join(OUT, "initramfs.cpio"))
    if rebuilt and verbose:
        log("%s: %d KiB, modules: %s" % (os.path.relpath(initramfs, REPO),
                                        os.path.getsize(initramfs) // 1024,
                                        " ".join(os.path.basename(p) for p in order)))
    return kernel, initramfs, kver, {kpkg: kversion, BUSYBOX: bversion}


def build(extra_files=(), packages=(), binaries=(), verbose=True):
    """Build what is out of date and return a Guest.

    extra_files: [(src, dest)] host files copied into the guest at dest
    (e.g. tests/linux/guest/blk.sh -> /rl/tests/blk).
    packages: Debian packages to download and unpack (build/linux/x/<pkg>/),
    searched for binaries and their libraries.
    binaries: absolute paths of ELF programs (in those packages, or on the
    host) copied in with every shared library they need."""
    os.makedirs(OUT, exist_ok=True)
    apt = Apt()
    kernel, initramfs, kver, versions = base(apt, verbose)
    files = list(extra_files)
    trees = []
    for p, (tree, version) in package_trees(apt, list(packages)).items():
        versions[p] = version
        trees.append(tree)
    for b in binaries:
        files += elf_closure(b, trees)
    if not files:
        return Guest(kernel, initramfs, kver, versions)
    key = hashlib.sha256(json.dumps(sorted(d for _, d in files)).encode()).hexdigest()[:12]
    overlay, rebuilt = cpio(files, [], os.path.join(OUT, "overlay-%s.cpio" % key))
    initrd = os.path.join(OUT, "initrd-%s.cpio" % key)
    stamp = _digest([(initramfs, "base"), (overlay, "overlay")])
    if rebuilt or _read(initrd + ".digest") != stamp or not os.path.exists(initrd):
        with open(initrd + ".tmp", "wb") as f:
            for part in (initramfs, overlay):
                with open(part, "rb") as p:
                    shutil.copyfileobj(p, f)
        os.replace(initrd + ".tmp", initrd)
        with open(initrd + ".digest", "w") as f:
            f.write(stamp)
    return Guest(kernel, initrd, kver, versions)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--add", action="append", default=[], metavar="SRC:DEST",
                    help="copy a host file into the guest")
    ap.add_argument("--package", action="append", default=[],
                    help="a Debian package to unpack for --binary")
    ap.add_argument("--binary", action="append", default=[],
                    help="an ELF program (path in a --package) to copy in with its libraries")
    ap.add_argument("--with-fio", action="store_true",
                    help="Debian's fio and its libraries (FIO_PACKAGES, cached in build/linux/)")
    args = ap.parse_args()
    if args.with_fio:
        args.package += [p for p in FIO_PACKAGES if p not in args.package]
        args.binary += [FIO_BINARY] if FIO_BINARY not in args.binary else []
    extra = [tuple(a.split(":", 1)) for a in args.add]
    try:
        g = build(extra, args.package, args.binary)
    except BuildError as e:
        log("error: %s" % e)
        return 1
    print("kernel %s\ninitrd %s (%d KiB)\n%s" % (
        os.path.relpath(g.kernel, REPO), os.path.relpath(g.initrd, REPO),
        os.path.getsize(g.initrd) // 1024,
        "\n".join("package %s %s" % kv for kv in sorted(g.packages.items()))))
    return 0


if __name__ == "__main__":
    sys.exit(main())
