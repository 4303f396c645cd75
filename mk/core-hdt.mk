# SPDX-License-Identifier: Apache-2.0
# Issue 12: the hostile-driver device tester (drivers/virtio/hdt*.c), portable:
# the image's `hdt` command runs it against any blk device.
CORE_SRCS += drivers/virtio/hdt.c drivers/virtio/hdt_cases.c drivers/virtio/hdt_catalogue.c
CORE_SRCS += drivers/virtio/hdt_packed.c drivers/virtio/hdt_cases_packed.c \
	drivers/virtio/hdt_cases_packed_el.c
# Device-request classes (net, console, rng, pmem) and the seeded random mode.
CORE_SRCS += drivers/virtio/hdt_dev.c drivers/virtio/hdt_cases_dev.c drivers/virtio/hdt_cases_net.c \
	drivers/virtio/hdt_random.c
CORE_SRCS += drivers/virtio/hdt_oracle.c drivers/virtio/hdt_cases_xport.c drivers/virtio/hdt_cases_pci.c \
	drivers/virtio/hdt_cases_state.c
