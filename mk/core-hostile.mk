# SPDX-License-Identifier: Apache-2.0
# Issue 10 section 3: the hostile device catalogue (hostsim/hostile.c), in
# both builds: the image's `loopback hostile` and the daemon's --hostile.
CORE_SRCS += hostsim/hostile.c
