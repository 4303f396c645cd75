/* SPDX-License-Identifier: Apache-2.0 */
/*
 * pci.h - PCI functions found by ECAM enumeration at boot (kernel/pci.c):
 * a device table other code looks up by vendor/device or class, config
 * space access, decoded BARs and a capability-list walker (virtio PCI caps,
 * MSI-X).
 *
 * The table is filled once by pci_init() on the BSP and never changes after
 * (BARs excepted: sized once, lazily, under a lock), so lookups need no lock. Config accesses are single aligned MMIO accesses
 * (atomic per access); read-modify-write sequences are the caller's to
 * serialise.
 */
#ifndef RINGLOOP_PCI_H
#define RINGLOOP_PCI_H

#include <stdbool.h>
#include <stdint.h>

#define PCI_MAX_DEVS 64

#define PCI_VENDOR_ID 0x00
#define PCI_DEVICE_ID 0x02
#define PCI_COMMAND 0x04
#define PCI_STATUS 0x06
#define PCI_CLASS_REV 0x08
#define PCI_HEADER_TYPE 0x0e
#define PCI_SECONDARY_BUS 0x19 /* type 1 header */
#define PCI_BAR0 0x10
#define PCI_SUBSYS_ID 0x2e
#define PCI_CAP_PTR 0x34
#define PCI_INTERRUPT_LINE 0x3c
#define PCI_INTERRUPT_PIN 0x3d

#define PCI_CMD_IO (1u << 0)
#define PCI_CMD_MEM (1u << 1)
#define PCI_CMD_MASTER (1u << 2)
#define PCI_CMD_INTX_DISABLE (1u << 10)
#define PCI_STATUS_CAP_LIST (1u << 4)

#define PCI_CAP_MSI 0x05
#define PCI_CAP_VENDOR 0x09
#define PCI_CAP_MSIX 0x11

enum pci_bar_kind {
    PCI_BAR_NONE = 0,
    PCI_BAR_IO,
    PCI_BAR_MEM32,
    PCI_BAR_MEM64,
};

struct pci_bar {
    uint64_t addr; /* bus address as programmed by the firmware (0 = unassigned) */
    uint64_t size; /* from the write-ones probe; 0 when the BAR is unimplemented */
    uint8_t kind;  /* enum pci_bar_kind */
    bool is_prefetchable;
};

struct pci_dev {
    uint16_t segment;
    uint8_t bus, dev, fn;
    uint16_t vendor, device;
    uint16_t subsys_vendor, subsys_id;
    uint8_t class_code, subclass, prog_if, revision;
    uint8_t header_type; /* without the multi-function bit */
    uint8_t irq_pin;     /* 0 none, 1..4 INTA..INTD */
    volatile uint8_t *cfg; /* this function's 4 KiB ECAM window */
    /* Use pci_bar_get(): filled on first use. A 64-bit BAR fills slot i,
     * slot i+1 stays NONE. */
    struct pci_bar bars[6];
    bool is_bars_probed;
};

unsigned pci_dev_count(void);
uint64_t pci_scan_us(void); /* how long pci_init's enumeration took */
/* BAR i (0-5) of d, sized on the first call for that device (briefly turns
 * its decode off: call before the device is in use). NULL if i > 5. */
const struct pci_bar *pci_bar_get(struct pci_dev *d, unsigned i);
struct pci_dev *pci_dev_get(unsigned index);
/* Next device after `prev` (NULL: from the start) matching vendor and device
 * (0xffff matches any), or NULL. */
struct pci_dev *pci_dev_find(uint16_t vendor, uint16_t device, struct pci_dev *prev);
struct pci_dev *pci_dev_find_bdf(uint8_t bus, uint8_t dev, uint8_t fn);

uint8_t pci_cfg_read8(const struct pci_dev *d, unsigned off);
uint16_t pci_cfg_read16(const struct pci_dev *d, unsigned off);
uint32_t pci_cfg_read32(const struct pci_dev *d, unsigned off);
void pci_cfg_write8(const struct pci_dev *d, unsigned off, uint8_t v);
void pci_cfg_write16(const struct pci_dev *d, unsigned off, uint16_t v);
void pci_cfg_write32(const struct pci_dev *d, unsigned off, uint32_t v);

/* Offset of the next capability with ID `cap_id` after offset `prev` (0: from
 * the start of the list), or 0 when there is none. The walk is bounded
 * (at most 48 entries, offsets inside 0x40..0xff, dword aligned), so a
 * looping or corrupt list ends it. */
unsigned pci_cap_find(const struct pci_dev *d, uint8_t cap_id, unsigned prev);

/* Set bits in the command register (PCI_CMD_*). */
void pci_command_set(const struct pci_dev *d, uint16_t bits);

/* "net", "blk", ... for virtio devices (vendor 0x1af4, device 0x1000-0x107f),
 * else a class name; never NULL. */
const char *pci_dev_name(const struct pci_dev *d);
bool pci_is_virtio(const struct pci_dev *d);
/* virtio device type (virtio 1.2 §5), 0 when not virtio. */
unsigned pci_virtio_type(const struct pci_dev *d);

#endif
