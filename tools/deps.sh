#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
#
# Install the Debian 12 packages ringloop needs, if any are missing.
#   - silent when everything is present (the common case: `make run`/`make test`
#     call this every time, so it must cost nothing then);
#   - runs `apt-get update` only when something is missing;
#   - not root: prints the exact apt-get line to run and exits 1.
# No sudo on purpose: CI runs as root, a developer decides for themselves.
set -eu

# What each package is for:
#   qemu-system-x86 qemu-utils ovmf   boot the image (tools/run), q35 + UEFI firmware
#   gnu-efi binutils gcc make         build the EFI application
#   newlib-source xz-utils            libc for the image (tools/build-newlib.sh)
#   mtools dosfstools                 the FAT ESP image without root mounts
#   python3 python3-pytest            the in-image test harness (tests/)
#   python3-pexpect                   the serial console fixture
#   python3-matplotlib                benchmark plots
#   libcmocka-dev                     hosted unit tests
#   liburing-dev                      the vhost-user-blk daemon's io_uring engine
#   clang libclang-rt-14-dev          hosted sanitizers and libFuzzer targets
#   git                               the banner's commit hash
#   cpio kmod libc6-dev               the Linux guest (tools/linux-guest/): its
#                                     initramfs, depmod, a static test helper
PACKAGES="qemu-system-x86 qemu-utils ovmf gnu-efi newlib-source mtools dosfstools
python3 python3-pytest python3-pexpect python3-matplotlib libcmocka-dev liburing-dev clang
libclang-rt-14-dev make gcc binutils git xz-utils cpio kmod libc6-dev"

missing=""
for p in $PACKAGES; do
    status=$(dpkg-query -W -f='${db:Status-Abbrev}' "$p" 2>/dev/null || true)
    case "$status" in
    ii*) ;;
    *) missing="$missing $p" ;;
    esac
done

[ -z "$missing" ] && exit 0

missing=${missing# }
if [ "$(id -u)" -ne 0 ]; then
    echo "deps: missing Debian packages: $missing" >&2
    echo "deps: run as root:" >&2
    echo "apt-get install -y $missing"
    exit 1
fi

echo "deps: installing $missing"
export DEBIAN_FRONTEND=noninteractive
apt-get update -q
# shellcheck disable=SC2086 # word splitting of the package list is wanted
apt-get install -y -q --no-install-recommends $missing
