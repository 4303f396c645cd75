#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
#
# Guest side of tests/linux/test_linux_verdicts.py: ends the way RL_END says,
# so each verdict of tests/linux/linux_guest.py is seen once for real.
#   ok     exit 0                     -> completed
#   fail   a failed step, exit 1      -> completed, status 1
#   hang   never returns              -> hung (the host's deadline)
#   panic  sysrq crash                -> panic
# io-error needs a device that fails: the test uses QEMU's blkdebug with blk.
. /rl/rl.sh

rl_tag verdict end="${RL_END:-}"
case "${RL_END:-}" in
ok) ;;
fail) rl_fail on-purpose ;;
hang)
    while :; do
        sleep 3600
    done
    ;;
panic) echo c >/proc/sysrq-trigger ;;
*) rl_fail verdict reason=unknown-rl.end ;;
esac
rl_status
