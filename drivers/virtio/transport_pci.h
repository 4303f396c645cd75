/* SPDX-License-Identifier: Apache-2.0 */
/*
 * transport_pci.h - the virtio PCI modern transport, portable part
 * (VIRTIO 1.2 4.1): the virtio core's ops implemented over the common
 * configuration structure (4.1.4.3), the notification area (4.1.4.4), the
 * ISR byte (4.1.4.5) and the device-specific configuration (4.1.4.6), each
 * already found and mapped by the platform. Finding the capabilities in
 * PCI config space, mapping BARs and programming MSI-X are the platform's
 * job (kernel/virtio/virtio_pci.c); this file only sees regions and an accessor.
 *
 * Invariants:
 *  - every region access is bounds-checked against the region's length
 *    (which the platform has already checked against the BAR size); an
 *    access that does not fit reads as all ones / is dropped;
 *  - a queue's notify address (4.1.4.4: cap.offset + queue_notify_off *
 *    notify_off_multiplier) is computed and checked once, in queue_setup;
 *    a queue whose address falls outside the notify region fails set-up;
 *  - queue_select is written before every queue register access (it is
 *    shared device state); callers serialise set-up of one device;
 *  - MSI-X vectors (when the platform gave any) are re-written after every
 *    reset and read back: the device may refuse one (4.1.5.1.2: it then
 *    reads VIRTIO_MSI_NO_VECTOR), which queue_setup / reset report.
 */
#ifndef RINGLOOP_TRANSPORT_PCI_H
#define RINGLOOP_TRANSPORT_PCI_H

#include <stdint.h>

#include "virtio.h"

/* 4.1.4 Virtio Structure PCI Capabilities: cfg_type values. */
#define VIRTIO_PCI_CAP_COMMON_CFG 1
#define VIRTIO_PCI_CAP_NOTIFY_CFG 2
#define VIRTIO_PCI_CAP_ISR_CFG 3
#define VIRTIO_PCI_CAP_DEVICE_CFG 4
#define VIRTIO_PCI_CAP_PCI_CFG 5

/* 4.1.4: the capability header (vendor-specific capability, ID 0x09). */
struct virtio_pci_cap {
    uint8_t cap_vndr; /* 0x09 */
    uint8_t cap_next;
    uint8_t cap_len;  /* >= 16 */
    uint8_t cfg_type; /* VIRTIO_PCI_CAP_* */
    uint8_t bar;      /* 0..5 */
    uint8_t id;
    uint8_t padding[2];
    uint32_t offset; /* le32, within the BAR */
    uint32_t length; /* le32 */
};
_Static_assert(sizeof(struct virtio_pci_cap) == 16, "4.1.4 virtio_pci_cap is 16 bytes");
/* 4.1.4.4: struct virtio_pci_notify_cap adds notify_off_multiplier here. */
#define VIRTIO_PCI_NOTIFY_CAP_MULT 16

/* 4.1.4.3 struct virtio_pci_common_cfg: field offsets. */
#define VIRTIO_PCI_COMMON_DFSELECT 0x00
#define VIRTIO_PCI_COMMON_DF 0x04
#define VIRTIO_PCI_COMMON_GFSELECT 0x08
#define VIRTIO_PCI_COMMON_GF 0x0c
#define VIRTIO_PCI_COMMON_MSIX 0x10 /* config_msix_vector */
#define VIRTIO_PCI_COMMON_NUMQ 0x12
#define VIRTIO_PCI_COMMON_STATUS 0x14
#define VIRTIO_PCI_COMMON_CFGGENERATION 0x15
#define VIRTIO_PCI_COMMON_Q_SELECT 0x16
#define VIRTIO_PCI_COMMON_Q_SIZE 0x18
#define VIRTIO_PCI_COMMON_Q_MSIX 0x1a
#define VIRTIO_PCI_COMMON_Q_ENABLE 0x1c
#define VIRTIO_PCI_COMMON_Q_NOFF 0x1e
#define VIRTIO_PCI_COMMON_Q_DESCLO 0x20
#define VIRTIO_PCI_COMMON_Q_DESCHI 0x24
#define VIRTIO_PCI_COMMON_Q_AVAILLO 0x28
#define VIRTIO_PCI_COMMON_Q_AVAILHI 0x2c
#define VIRTIO_PCI_COMMON_Q_USEDLO 0x30
#define VIRTIO_PCI_COMMON_Q_USEDHI 0x34
#define VIRTIO_PCI_COMMON_MIN_LEN 0x38 /* up to queue_device: what we use */

/* 4.1.5.1.2: "no vector" for config_msix_vector / queue_msix_vector. */
#define VIRTIO_MSI_NO_VECTOR 0xffff

/* A mapped piece of a BAR named by one capability. */
struct virtio_pci_region {
    volatile uint8_t *base; /* NULL: absent */
    uint32_t len;
};

/*
 * Register accesses (1, 2 or 4 bytes, naturally aligned, addr inside a
 * region). The kernel passes volatile loads/stores; a hosted test can pass
 * a fake device.
 */
struct virtio_pci_io {
    uint32_t (*read)(void *ctx, volatile uint8_t *addr, unsigned size);
    void (*write)(void *ctx, volatile uint8_t *addr, uint32_t val, unsigned size);
    void *ctx;
};

struct virtio_pci_layout {
    struct virtio_pci_region common; /* required, len >= COMMON_MIN_LEN */
    struct virtio_pci_region notify; /* required */
    struct virtio_pci_region isr;    /* required, len >= 1 */
    struct virtio_pci_region device; /* optional (len 0) */
    uint32_t notify_off_multiplier;
};

/*
 * Is [offset, offset+length) inside a BAR of bar_size bytes, and at least
 * min_len long? (4.1.4.1: the driver must ignore a capability that does
 * not fit; never trust the device.)
 */
bool virtio_pci_is_region_valid(uint64_t bar_size, uint32_t offset, uint32_t length,
                                uint32_t min_len);

/*
 * A new device called name on the given regions. -EINVAL (a required
 * region missing or too short), -ENOMEM.
 */
int virtio_pci_device_create(const struct virtio_pci_layout *l, const struct virtio_pci_io *io,
                             uint32_t device_id, const char *name, struct virtio_device **out);
void virtio_pci_device_destroy(struct virtio_device *dev);

/*
 * MSI-X routing the transport writes to the device (4.1.4.3
 * config_msix_vector, queue_msix_vector): entry numbers in the function's
 * MSI-X table, or VIRTIO_MSI_NO_VECTOR. Applied at the next reset (config)
 * and queue_setup (queues). nq may be 0 (no MSI-X: everything NO_VECTOR).
 */
void virtio_pci_device_set_msix(struct virtio_device *dev, uint16_t config_entry,
                                const uint16_t *queue_entries, unsigned nq);
/* What the device accepted at the last reset / queue_setup. */
uint16_t virtio_pci_config_vector(struct virtio_device *dev);
uint16_t virtio_pci_queue_vector(struct virtio_device *dev, unsigned q);
/* Queues the device offers (num_queues). */
unsigned virtio_pci_num_queues(struct virtio_device *dev);
/* Refused vectors since creation (readback != what was written). */
unsigned virtio_pci_refused_vectors(struct virtio_device *dev);

/* For hdt's raw accesses: the length of a mapped region (enum
 * virtio_reg_space, 0: absent) and the notify_off_multiplier (4.1.4.4). */
uint32_t virtio_pci_region_len(struct virtio_device *dev, unsigned space);
uint32_t virtio_pci_notify_multiplier(struct virtio_device *dev);

extern const struct virtio_transport_ops virtio_pci_transport_ops;

#endif
