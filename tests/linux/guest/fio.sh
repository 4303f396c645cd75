#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
#
# fio on /dev/vda (needs the guest built with linux_guest.FIO). Options from
# the kernel command line, with defaults:
#   RL_RW=randread RL_BS=4k RL_DEPTH=16 RL_RUNTIME=5 RL_ENGINE=libaio
# Tags: fio version=... ; fio-result read_iops=N write_iops=N (terse v3
# fields 8 and 49), ok/fail fio.
. /rl/rl.sh

if ! command -v fio >/dev/null; then
    rl_fail fio reason=no-fio-in-this-initrd
    exit 1
fi
rl_tag fio version="$(fio --version)"
rl_run fio fio --name=rl --filename=/dev/vda --direct=1 --rw="${RL_RW:-randread}" \
    --bs="${RL_BS:-4k}" --iodepth="${RL_DEPTH:-16}" --ioengine="${RL_ENGINE:-libaio}" \
    --runtime="${RL_RUNTIME:-5}" --time_based --output-format=terse --output=/tmp/fio.out
cat /tmp/fio.out
rl_tag fio-result read_iops="$(cut -d';' -f8 /tmp/fio.out)" \
    write_iops="$(cut -d';' -f49 /tmp/fio.out)"
rl_status
