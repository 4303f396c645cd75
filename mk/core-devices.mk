# SPDX-License-Identifier: Apache-2.0
# Issue 4, device side: the generic device model, the virtio-mmio v2 register
# file in front of it, and the five loopback device models (portable core:
# built into the image and into the hosted build).
CORE_SRCS += hostsim/vdev.c hostsim/vmmio.c hostsim/vmmio_regs.c hostsim/dev_blk.c hostsim/dev_blk_ext.c hostsim/dev_blk_async.c hostsim/dev_rng.c \
	hostsim/dev_net.c hostsim/dev_net_ctrl.c hostsim/dev_console.c hostsim/dev_pmem.c
