/* SPDX-License-Identifier: Apache-2.0 */
/*
 * pvh_main.c - the C half of the PVH entry (boot/pvh.S): turns Xen's
 * struct hvm_start_info (start_info.h, version 1: with a memory map) into
 * boot_info and calls kernel_main(), exactly as efi_main() does for UEFI.
 *
 * The memory map marks the loaded image as RAM, so the image, page 0 and
 * the start_info/memmap/cmdline blocks are carved out of the usable ranges
 * before the page allocator sees them.
 */
#include <stdio.h>

#include "boot_info.h"
#include "kernel.h"

#define HVM_START_MAGIC 0x336ec578u

struct hvm_start_info {
    uint32_t magic;
    uint32_t version;
    uint32_t flags;
    uint32_t nr_modules;
    uint64_t modlist_paddr;
    uint64_t cmdline_paddr;
    uint64_t rsdp_paddr;
    uint64_t memmap_paddr;   /* version >= 1 */
    uint32_t memmap_entries; /* version >= 1 */
    uint32_t reserved;
};
_Static_assert(sizeof(struct hvm_start_info) == 56, "start_info.h layout");

struct hvm_memmap_table_entry {
    uint64_t addr;
    uint64_t size;
    uint32_t type; /* E820 types: 1 RAM, 2 reserved, 3 ACPI, 4 NVS, ... */
    uint32_t reserved;
};

extern char __kernel_start[], __kernel_end[];

static uint32_t e820_kind(uint32_t type)
{
    switch (type) {
    case 1:
        return MEM_USABLE;
    case 3:
        return MEM_ACPI_RECLAIM;
    default:
        return MEM_RESERVED;
    }
}

static void add_range(uint64_t base, uint64_t npages, uint32_t kind, uint32_t type)
{
    if (npages == 0 || boot_info.nranges == BOOT_MAX_RANGES)
        return;
    struct mem_range *r = &boot_info.ranges[boot_info.nranges++];
    r->base = base;
    r->npages = npages;
    r->kind = kind;
    r->efi_type = type;
}

/* Remove [lo, hi) from every usable range, splitting where needed. */
static void carve(uint64_t lo, uint64_t hi)
{
    lo &= ~(PAGE_SIZE - 1);
    hi = ALIGN_UP(hi, PAGE_SIZE);
    uint32_t n = boot_info.nranges;
    for (uint32_t i = 0; i < n; i++) {
        struct mem_range *r = &boot_info.ranges[i];
        uint64_t b = r->base, e = r->base + r->npages * PAGE_SIZE;
        if (r->kind != MEM_USABLE || hi <= b || lo >= e)
            continue;
        uint64_t cut_lo = lo > b ? lo : b, cut_hi = hi < e ? hi : e;
        r->npages = (cut_lo - b) / PAGE_SIZE; /* the part below the hole */
        add_range(cut_lo, (cut_hi - cut_lo) / PAGE_SIZE, MEM_RESERVED, 0);
        add_range(cut_hi, (e - cut_hi) / PAGE_SIZE, MEM_USABLE, 1);
    }
}

__attribute__((noreturn)) void pvh_main(const struct hvm_start_info *si);

void pvh_main(const struct hvm_start_info *si)
{
    boot_info.entry_tsc = __builtin_ia32_rdtsc();
    serial_init();
    printf("\nringloop %s %s\n", ringloop_version, ringloop_git_hash);
    if (si->magic != HVM_START_MAGIC || si->version < 1 || !si->memmap_paddr) {
        printf("PANIC: PVH start_info unusable (magic 0x%x version %u)\n", si->magic,
               si->version);
        machine_exit(PANIC_EXIT_STATUS);
    }
    boot_info.entry = "pvh";
    boot_info.rsdp = si->rsdp_paddr;
    boot_info.image_base = 0; /* linked at its run address: offsets are addresses */
    boot_info.image_size = (uint64_t)(__kernel_end - __kernel_start);

    const struct hvm_memmap_table_entry *mm =
        (const struct hvm_memmap_table_entry *)(uintptr_t)si->memmap_paddr;
    uint32_t n = si->memmap_entries;
    boot_info.nranges = 0;
    for (uint32_t i = 0; i < n && i < BOOT_MAX_RANGES / 2; i++) {
        uint64_t b = ALIGN_UP(mm[i].addr, PAGE_SIZE);
        uint64_t e = (mm[i].addr + mm[i].size) & ~(PAGE_SIZE - 1);
        if (e > b)
            add_range(b, (e - b) / PAGE_SIZE, e820_kind(mm[i].type), mm[i].type);
    }
    carve(0, PAGE_SIZE);
    carve((uint64_t)(uintptr_t)__kernel_start, (uint64_t)(uintptr_t)__kernel_end);
    carve((uint64_t)(uintptr_t)si, (uint64_t)(uintptr_t)si + sizeof(*si));
    carve(si->memmap_paddr, si->memmap_paddr + (uint64_t)n * sizeof(*mm));
    if (si->cmdline_paddr) {
        const char *cl = (const char *)(uintptr_t)si->cmdline_paddr;
        size_t i = 0;
        for (; i + 1 < sizeof(boot_info.cmdline) && cl[i]; i++)
            boot_info.cmdline[i] = cl[i];
        boot_info.cmdline[i] = 0;
        carve(si->cmdline_paddr, si->cmdline_paddr + i + 1);
    }
    kernel_main();
}
