# SPDX-License-Identifier: Apache-2.0
# The portable core: compiled unchanged into the image (mk/efi.mk) and into the
# hosted build (mk/host.mk). Nothing here may include x86, EFI or libc-specific
# headers beyond the freestanding C ones; platform needs go through
# drivers/virtio/virtio_platform.h.
CORE_SRCS :=
CORE_INCLUDES := -Idrivers/virtio -Ihostsim
