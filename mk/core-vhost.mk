# SPDX-License-Identifier: Apache-2.0
# Issue 6, vhost-user: the request handler (portable core: built into the
# image and into the hosted build).
CORE_SRCS += hostsim/vhost_user.c
