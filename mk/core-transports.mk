# SPDX-License-Identifier: Apache-2.0
# Issue 5, transports for QEMU's own devices: the virtio-mmio v2 protocol
# (microvm's virtio-*-device, and the register sequences the loopback
# transport shares).
CORE_SRCS += drivers/virtio/transport_mmio.c
