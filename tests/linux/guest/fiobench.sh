#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
#
# The IOPS bench (tests/linux/test_linux_bench.py; needs the guest built with
# linux_guest.FIO): 4 KiB random reads on /dev/vda with Debian's fio, O_DIRECT,
# libaio, one fio run per depth. Options from the kernel command line:
#   RL_DEPTHS=1,32 RL_JOBS=1 RL_RUNTIME=5
# Tags: fio version=... ; vda hw_queues=N (blk-mq's view of num-queues);
# fio-iops depth=D jobs=J read_iops=N lat_mean_us=X (terse v3 fields 8 and 40,
# --group_reporting: one line for all jobs); ok/fail fio-qdD.
. /rl/rl.sh

if ! command -v fio >/dev/null; then
    rl_fail fio reason=no-fio-in-this-initrd
    exit 1
fi
rl_tag fio version="$(fio --version)"
rl_tag vda hw_queues="$(ls /sys/block/vda/mq | wc -l)"
jobs=${RL_JOBS:-1}
for d in $(echo "${RL_DEPTHS:-1,32}" | tr ',' ' '); do
    rl_run "fio-qd$d" fio --name=r --filename=/dev/vda --direct=1 --ioengine=libaio \
        --rw=randread --bs=4k --iodepth="$d" --numjobs="$jobs" \
        --runtime="${RL_RUNTIME:-5}" --time_based --group_reporting \
        --output-format=terse --output=/tmp/fio.out || continue
    cat /tmp/fio.out
    rl_tag fio-iops depth="$d" jobs="$jobs" read_iops="$(cut -d';' -f8 /tmp/fio.out)" \
        lat_mean_us="$(cut -d';' -f40 /tmp/fio.out)"
done
rl_status
