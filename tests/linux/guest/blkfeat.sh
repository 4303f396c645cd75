#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
#
# Guest side of tests/linux/test_linux_blk_features.py: Linux's virtio_blk
# uses our device's DISCARD, WRITE_ZEROES and CONFIG_WCE (VIRTIO 1.2 5.2).
#   RL_DISCARD=S+N  fill with random bytes, then BLKDISCARD
#   RL_ZEROOUT=S+N  fill, then BLKZEROOUT (WRITE_ZEROES, unmap clear)
#   RL_PUNCH=S+N    fill, then fallocate PUNCH_HOLE (WRITE_ZEROES, unmap set)
# Each range is read back with O_DIRECT and compared with zeroes. Then the
# cache mode is set to write through and back (cache_type: the config
# field writeback). Tags: limits (the queue limits Linux took from the
# config), requests (the disk's discard counter before/after), cache.
. /rl/rl.sh

blk=vda
dev=/dev/$blk
q=/sys/block/$blk/queue
if [ ! -b $dev ]; then
    rl_fail disk reason=no-$dev
    exit 1
fi
ct=/sys/block/$blk/cache_type
[ -e $ct ] || ct=/sys/block/$blk/device/cache_type

rl_tag limits discard_max_bytes="$(cat $q/discard_max_bytes)" \
    discard_granularity="$(cat $q/discard_granularity)" \
    max_discard_segments="$(cat $q/max_discard_segments)" \
    write_zeroes_max_bytes="$(cat $q/write_zeroes_max_bytes)" \
    write_cache="$(tr ' ' - <$q/write_cache)" cache_type="$(tr ' ' - <$ct)"

# /sys/block/*/stat field 12: discards completed.
discards() {
    awk '{ print $12 }' /sys/block/$blk/stat
}

one() { # NAME OP S+N
    s=${3%+*}
    n=${3#*+}
    dd if=/dev/urandom of=/tmp/fill bs=512 count="$n" iflag=fullblock 2>/dev/null
    dd if=/dev/zero of=/tmp/zero bs=512 count="$n" 2>/dev/null
    rl_run fill-$1 rl-dio write $dev "$s" "$n" /tmp/fill || return
    d0=$(discards)
    rl_run $1 rl-dio "$2" $dev "$s" "$n" || return
    d1=$(discards)
    rl_tag requests op=$1 discards=$((d1 - d0))
    rl_run read-$1 rl-dio read $dev "$s" "$n" /tmp/back || return
    rl_run zeroes-$1 cmp /tmp/zero /tmp/back
}

[ -n "${RL_DISCARD:-}" ] && one discard discard "$RL_DISCARD"
[ -n "${RL_ZEROOUT:-}" ] && one zeroout zeroout "$RL_ZEROOUT"
[ -n "${RL_PUNCH:-}" ] && one punch punch "$RL_PUNCH"

if rl_run wce-off sh -c "echo 'write through' >$ct"; then
    rl_tag cache step=off cache_type="$(tr ' ' - <$ct)"
fi
if rl_run wce-on sh -c "echo 'write back' >$ct"; then
    rl_tag cache step=on cache_type="$(tr ' ' - <$ct)"
fi
rl_run flush sync
rl_status
