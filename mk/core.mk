# SPDX-License-Identifier: Apache-2.0
# The portable core: compiled unchanged into the image (mk/efi.mk) and into the
# hosted build (mk/host.mk). Nothing here may include x86, EFI or libc-specific
# headers beyond the freestanding C ones (plus string.h and errno.h, which both
# builds have); platform needs go through drivers/virtio/virtio_platform.h.
CORE_SRCS := drivers/virtio/virtqueue.c drivers/virtio/vq_check.c hostsim/vdq.c hostsim/vdq_packed.c hostsim/vdq_log.c
# The packed ring (2.8), driver side: virtqueue.c forwards packed queues to it.
CORE_SRCS += drivers/virtio/virtqueue_packed.c
# lib/: small helpers that are neither kernel nor virtio (CRC-32C, SHA-256).
CORE_SRCS += lib/crc32c.c lib/sha256.c
CORE_INCLUDES := -Idrivers/virtio -Ihostsim -Ilib
# Kernel-only glue: the kernel's virtio_platform.h and the in-image ring suite.
CORE_KERNEL_SRCS := kernel/virtio/virtio_platform_kernel.c kernel/tests/test_vring.c
# Issue 4 fragments: the device models and the drivers add their core sources
# (CORE_SRCS += ...) in their own files so parallel work does not collide.
-include mk/core-devices.mk mk/core-drivers.mk mk/core-snapshot.mk mk/core-transports.mk mk/core-vhost.mk
-include mk/core-hostile.mk mk/core-hdt.mk
