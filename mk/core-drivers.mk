# SPDX-License-Identifier: Apache-2.0
# Issue 4, driver side: the virtio core, the loopback transport and the
# drivers, all portable (compiled into the image and the hosted build).
# The loopback transport calls the device-side register file
# (hostsim/vmmio.c); it joins the core only once that file exists, so the
# image keeps linking while the device side is being written.
CORE_DRIVER_SRCS := drivers/virtio/virtio.c drivers/virtio/virtio_driver.c \
	drivers/virtio/virtio_blk.c drivers/virtio/virtio_blk_ext.c drivers/virtio/virtio_rng.c \
	drivers/virtio/virtio_net.c drivers/virtio/virtio_console.c drivers/virtio/virtio_console_mp.c \
	drivers/virtio/virtio_pmem.c
CORE_SRCS += $(CORE_DRIVER_SRCS)
CORE_SRCS += $(if $(wildcard hostsim/vmmio.c),drivers/virtio/transport_loopback.c)
CORE_SRCS += drivers/virtio/transport_pci.c
