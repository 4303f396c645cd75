/* SPDX-License-Identifier: Apache-2.0 */
/*
 * boot_info.h - what the entry path (GNU-EFI today, PVH later) hands to
 * kernel_main(): the firmware memory map in a neutral form, and the ACPI RSDP.
 */
#ifndef RINGLOOP_BOOT_INFO_H
#define RINGLOOP_BOOT_INFO_H

#include <stdint.h>

enum mem_kind {
    MEM_USABLE = 1,   /* free RAM the page allocator may hand out */
    MEM_RESERVED,     /* RAM in use: firmware, our image, ACPI, ... */
    MEM_ACPI_RECLAIM, /* ACPI tables (kept) */
    MEM_MMIO,
};

struct mem_range {
    uint64_t base;
    uint64_t npages; /* 4 KiB pages */
    uint32_t kind;   /* enum mem_kind */
    uint32_t efi_type;
};

#define BOOT_MAX_RANGES 512

struct boot_info {
    struct mem_range ranges[BOOT_MAX_RANGES];
    uint32_t nranges;
    uint32_t pad;
    uint64_t rsdp;       /* physical address of the ACPI RSDP, 0 if none */
    uint64_t image_base; /* where the firmware loaded us (for backtraces) */
    uint64_t image_size;
    const char *entry;   /* "efi" or "pvh" */
    uint64_t entry_tsc;  /* TSC when the entry point ran (boot-time report) */
    char cmdline[1024];  /* PVH: QEMU's -append plus what it adds (virtio_mmio.device=) */
};

extern struct boot_info boot_info;
__attribute__((noreturn)) void kernel_main(void);

#endif
