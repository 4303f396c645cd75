# SPDX-License-Identifier: Apache-2.0
# Issue 6, vhost-user: the request handler (portable core: built into the
# image and into the hosted build): message framing, validation and
# dispatch; the memory table; the rings and the device's life.
CORE_SRCS += hostsim/vhost_user.c hostsim/vhost_user_mem.c hostsim/vhost_user_vring.c
# Dirty logging for live migration (SET_LOG_BASE, VHOST_F_LOG_ALL).
CORE_SRCS += hostsim/vhost_user_log.c
# Inflight I/O tracking (INFLIGHT_SHMFD): vdq.c calls it, so it is core.
CORE_SRCS += hostsim/vdq_inflight.c hostsim/vdq_inflight_packed.c hostsim/vhost_user_inflight.c
