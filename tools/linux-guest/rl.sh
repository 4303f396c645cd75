# SPDX-License-Identifier: Apache-2.0
#
# Result lines for guest tests: `. /rl/rl.sh`, then
#   rl_tag NAME [key=value ...]   one `RL: NAME key=value ...` line
#   rl_ok NAME [key=value ...]    RL: ok NAME ...
#   rl_fail NAME [key=value ...]  RL: fail NAME ... (and rl_status becomes 1)
#   rl_run NAME cmd args...       runs cmd: ok NAME, or fail NAME rc=N (plus
#                                 io-error NAME when its stderr says EIO);
#                                 returns cmd's status
#   rl_status                     0 if nothing failed (the test's exit status)
# Lines go to /dev/kmsg at level 5 (notice): ordered with the kernel's own
# messages on the console and never cut off by poweroff. Values must not
# contain spaces (tests/linux/linux_guest.py splits on them).

rl_failed=0

rl_tag() {
    echo "<5>RL: $*" >/dev/kmsg
}

rl_ok() {
    rl_tag ok "$@"
}

rl_fail() {
    rl_failed=1
    rl_tag fail "$@"
}

rl_uptime() {
    cut -d' ' -f1 /proc/uptime
}

rl_run() {
    _name=$1
    shift
    "$@" 2>/tmp/rl_run.err
    _rc=$?
    if [ $_rc -eq 0 ]; then
        rl_ok "$_name"
        return 0
    fi
    cat /tmp/rl_run.err
    if grep -q "Input/output error" /tmp/rl_run.err; then
        rl_tag io-error "$_name"
    fi
    rl_fail "$_name" rc=$_rc
    return $_rc
}

rl_status() {
    return $rl_failed
}
