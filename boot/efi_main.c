/* SPDX-License-Identifier: Apache-2.0 */
/*
 * efi_main.c - the GNU-EFI entry point.
 *
 * Prints the banner on COM1, finds the ACPI RSDP in the EFI configuration
 * table, takes the memory map, exits boot services and hands over to
 * kernel_main(). After ExitBootServices nothing of the firmware is called
 * again: the kernel owns the CPU, its page tables, interrupts and memory.
 * The firmware's stack (boot-services memory) stays in use; the page
 * allocator only hands out EfiConventionalMemory, so it is never reused.
 */
#include <stdio.h>

#include <efi.h>
#include <efilib.h>

#include "boot_info.h"
#include "kernel.h"



static EFI_GUID acpi20_guid = ACPI_20_TABLE_GUID;
static EFI_GUID acpi10_guid = ACPI_TABLE_GUID;

static int guid_eq(const EFI_GUID *a, const EFI_GUID *b)
{
    const uint8_t *x = (const uint8_t *)a, *y = (const uint8_t *)b;
    for (unsigned i = 0; i < sizeof(EFI_GUID); i++)
        if (x[i] != y[i])
            return 0;
    return 1;
}

static uint64_t find_rsdp(EFI_SYSTEM_TABLE *st)
{
    uint64_t v1 = 0;
    for (UINTN i = 0; i < st->NumberOfTableEntries; i++) {
        EFI_CONFIGURATION_TABLE *t = &st->ConfigurationTable[i];
        if (guid_eq(&t->VendorGuid, &acpi20_guid))
            return (uint64_t)(uintptr_t)t->VendorTable;
        if (guid_eq(&t->VendorGuid, &acpi10_guid))
            v1 = (uint64_t)(uintptr_t)t->VendorTable;
    }
    return v1;
}

static uint32_t efi_kind(UINT32 type)
{
    switch (type) {
    case EfiConventionalMemory:
        return MEM_USABLE;
    case EfiACPIReclaimMemory:
        return MEM_ACPI_RECLAIM;
    case EfiMemoryMappedIO:
    case EfiMemoryMappedIOPortSpace:
        return MEM_MMIO;
    default:
        return MEM_RESERVED;
    }
}

static void convert_map(const uint8_t *map, UINTN size, UINTN desc_size)
{
    boot_info.nranges = 0;
    for (UINTN off = 0; off + desc_size <= size; off += desc_size) {
        const EFI_MEMORY_DESCRIPTOR *d = (const EFI_MEMORY_DESCRIPTOR *)(map + off);
        if (boot_info.nranges == BOOT_MAX_RANGES)
            break; /* the rest is lost to the allocator, not to correctness */
        struct mem_range *r = &boot_info.ranges[boot_info.nranges++];
        r->base = d->PhysicalStart;
        r->npages = d->NumberOfPages;
        r->efi_type = d->Type;
        r->kind = efi_kind(d->Type);
    }
}

/* Room for the map, from the firmware's pool (boot-services data, which the
 * page allocator never reuses), rather than file bytes in the image. */
#define EFI_MAP_BUF_SIZE (64 * 1024)

/* Called by GNU-EFI's crt0 (after _relocate) with the SysV ABI, so no EFIAPI. */
EFI_STATUS efi_main(EFI_HANDLE image, EFI_SYSTEM_TABLE *st)
{
    boot_info.entry_tsc = __builtin_ia32_rdtsc();
    serial_init(); /* printf works from here on (kernel/console.c, no heap needed) */
    printf("\nringloop %s %s\n", ringloop_version, ringloop_git_hash);

    EFI_LOADED_IMAGE *li = NULL;
    EFI_GUID lip = LOADED_IMAGE_PROTOCOL;
    if (st->BootServices->HandleProtocol(image, &lip, (void **)&li) == EFI_SUCCESS && li) {
        boot_info.image_base = (uint64_t)(uintptr_t)li->ImageBase;
        boot_info.image_size = li->ImageSize;
    }
    boot_info.rsdp = find_rsdp(st);
    boot_info.entry = "efi";

    /* ExitBootServices can fail with EFI_INVALID_PARAMETER when the map
     * changed since GetMemoryMap (UEFI 2.9 §7.4): fetch it again and retry. */
    uint8_t *efi_map_buf = NULL;
    EFI_STATUS s = st->BootServices->AllocatePool(EfiLoaderData, EFI_MAP_BUF_SIZE,
                                                  (void **)&efi_map_buf);
    for (int tries = 0; s == EFI_SUCCESS && tries < 4; tries++) {
        UINTN size = EFI_MAP_BUF_SIZE, key = 0, dsize = 0;
        UINT32 dver = 0;
        s = st->BootServices->GetMemoryMap(&size, (EFI_MEMORY_DESCRIPTOR *)efi_map_buf, &key,
                                           &dsize, &dver);
        if (s != EFI_SUCCESS)
            break;
        s = st->BootServices->ExitBootServices(image, key);
        if (s == EFI_SUCCESS) {
            convert_map(efi_map_buf, size, dsize);
            break;
        }
    }
    if (s != EFI_SUCCESS) {
        printf("PANIC: ExitBootServices failed: status 0x%lx\n", (unsigned long)s);
        machine_exit(PANIC_EXIT_STATUS);
    }
    kernel_main();
}
