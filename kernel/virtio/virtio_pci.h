/* SPDX-License-Identifier: Apache-2.0 */
/*
 * virtio_pci.h - virtio PCI functions bound at boot (kernel/virtio/virtio_pci.c):
 * what the shell prints about them.
 */
#ifndef RINGLOOP_VIRTIO_PCI_H
#define RINGLOOP_VIRTIO_PCI_H

#include <stddef.h>

#include "pci.h"
#include "virtio.h"

/* "irq=msix config=0x30 q0=0x31 ..." for a PCI virtio device; "" else. */
void virtio_pci_describe(struct virtio_device *dev, char *buf, size_t n);
/* The bound device on PCI function d, or NULL. */
struct virtio_device *virtio_pci_device_of(const struct pci_dev *d);

#endif
