#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
#
# Build newlib (Debian's newlib-source) once for a freestanding x86_64 target,
# with the kernel's own code-generation flags, into $1 (build/newlib).
# There is no x86_64-elf cross compiler on Debian, but the host gcc emits the
# same code for -ffreestanding; we hand it to newlib's top-level configure as
# the "target" tools and build only target-newlib (libc + libm).
set -eu
out=$(realpath -m "$1")
tarball=$(ls /usr/src/newlib/newlib-*.tar.* 2>/dev/null | head -n1)
[ -n "$tarball" ] || { echo "build-newlib: newlib-source is not installed (run tools/deps.sh)" >&2; exit 1; }

rm -rf "$out/src" "$out/obj"
mkdir -p "$out/src" "$out/obj"
tar -xf "$tarball" -C "$out/src"
srcdir=$(find "$out/src" -mindepth 1 -maxdepth 1 -type d | head -n1)

# The flags must match the kernel's (DESIGN.md §6): position-independent code
# for the GNU-EFI image, no red zone (interrupts use the same stack), no
# stack protector (no TLS guard here).
NEWLIB_CFLAGS="-O2 -g -fpic -ffreestanding -mno-red-zone -fno-stack-protector"

cd "$out/obj"
"$srcdir/configure" --target=x86_64-elf --prefix="$out/install" \
    --disable-multilib --disable-newlib-supplied-syscalls --disable-libgloss \
    --enable-newlib-io-long-long --enable-newlib-io-c99-formats \
    --disable-newlib-fvwrite-in-streamio \
    CC_FOR_TARGET=gcc AR_FOR_TARGET=ar RANLIB_FOR_TARGET=ranlib AS_FOR_TARGET=as \
    LD_FOR_TARGET=ld NM_FOR_TARGET=nm OBJDUMP_FOR_TARGET=objdump \
    STRIP_FOR_TARGET=strip READELF_FOR_TARGET=readelf \
    CFLAGS_FOR_TARGET="$NEWLIB_CFLAGS" >"$out/configure.log" 2>&1 ||
    { echo "build-newlib: configure failed, see $out/configure.log" >&2; exit 1; }
make -j"$(nproc)" all-target-newlib >"$out/build.log" 2>&1 ||
    { tail -n 30 "$out/build.log" >&2; echo "build-newlib: build failed, see $out/build.log" >&2; exit 1; }
make install-target-newlib >"$out/install.log" 2>&1 ||
    { echo "build-newlib: install failed, see $out/install.log" >&2; exit 1; }
rm -rf "$out/src" "$out/obj"
echo "newlib: $(ls "$out/install/x86_64-elf/lib/libc.a")"
