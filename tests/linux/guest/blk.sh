#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
#
# Guest side of tests/linux/test_linux_blk.py: Linux's virtio_blk on /dev/vda.
#   RL_READ=S+N       sectors to read (O_DIRECT) and hash before writing
#   RL_WRITE=S+N,...  regions to fill with random bytes with O_DIRECT writes,
#                     read back with O_DIRECT and compare in the guest
# (S = first 512-byte sector, N = sectors; rl-dio does each as one request.)
# Tags (rl.sh): disk (with ios=, the requests Linux completed before this
# test: the boot's partition scan), read, written (with the sha256 of what was written and
# how many sectors the disk's own counters saw go out before rl-dio returned),
# readback, flush; ok/fail per step. The host checks the disk file.
. /rl/rl.sh

blk=vda
dev=/dev/$blk
if [ ! -b $dev ]; then
    rl_fail disk reason=no-$dev
    ls /sys/bus/virtio/devices /sys/block
    exit 1
fi

# /sys/block/*/stat: 1 = reads done, 3 = sectors read, 5 = writes done,
# 7 = sectors written, 16 = flushes done.
counter() {
    awk -v f="$1" '{ print $f }' /sys/block/$blk/stat
}

sha() {
    sha256sum "$1" | cut -d' ' -f1
}

rl_tag disk name=$blk sectors="$(cat /sys/block/$blk/size)" \
    lbs="$(cat /sys/block/$blk/queue/logical_block_size)" \
    cache="$(tr ' ' - </sys/block/$blk/queue/write_cache)" \
    ios=$(($(counter 1) + $(counter 5) + $(counter 16)))

if [ -n "${RL_READ:-}" ]; then
    s=${RL_READ%+*}
    n=${RL_READ#*+}
    if rl_run read rl-dio read $dev "$s" "$n" /tmp/check; then
        rl_tag read sector="$s" sectors="$n" sha256="$(sha /tmp/check)"
    fi
fi

i=0
for region in $(echo "${RL_WRITE:-}" | tr , ' '); do
    s=${region%+*}
    n=${region#*+}
    dd if=/dev/urandom of=/tmp/w$i bs=512 count="$n" iflag=fullblock 2>/dev/null
    w0=$(counter 7)
    rl_run write$i rl-dio write $dev "$s" "$n" /tmp/w$i || continue
    w1=$(counter 7)
    rl_tag written region=$i sector="$s" sectors="$n" device_sectors=$((w1 - w0)) \
        sha256="$(sha /tmp/w$i)"
    r0=$(counter 3)
    rl_run read$i rl-dio read $dev "$s" "$n" /tmp/r$i || continue
    r1=$(counter 3)
    rl_tag readback region=$i device_sectors=$((r1 - r0))
    rl_run compare$i cmp /tmp/w$i /tmp/r$i
    rm -f /tmp/w$i /tmp/r$i
    i=$((i + 1))
done

# fsync on the block device: the kernel sends a FLUSH when the cache is
# write back (VIRTIO_BLK_F_FLUSH).
f0=$(counter 16)
rl_run flush sync $dev
rl_tag flush count=$(($(counter 16) - f0))

rl_status
