/* SPDX-License-Identifier: Apache-2.0 */
/*
 * mm.c - physical page allocator and the kernel's identity mapping.
 *
 * Pages: one bit per 4 KiB page from 0 up to the highest usable address in
 * the firmware memory map (bit set = not available). Only MEM_USABLE ranges
 * (EfiConventionalMemory) start free, so firmware data, the loaded image and
 * the firmware stack we still run on are never handed out. Allocation is
 * first-fit for a contiguous run starting from a rotating hint, under a lock;
 * every block comes back zeroed, so dma_alloc() memory is ready for rings.
 *
 * Paging: four-level tables built by us, identity-mapping [0, 64 GiB) with
 * 1 GiB pages when the CPU has them (else 2 MiB pages), so a kernel virtual
 * address is its physical address. mmio_map() adds uncached 2 MiB mappings
 * above that on demand (64-bit PCI BARs). The tables live below 4 GiB so an
 * AP can load CR3 while still in 32-bit mode.
 */
#include <string.h>

#include "boot_info.h"
#include "kernel.h"
#include "x86.h"

#define PTE_P (1ULL << 0)
#define PTE_W (1ULL << 1)
#define PTE_PWT (1ULL << 3)
#define PTE_PCD (1ULL << 4)
#define PTE_PS (1ULL << 7)
#define PTE_ADDR 0x000ffffffffff000ULL
#define IDENTITY_LIMIT (64ULL << 30)

static uint64_t *bitmap;      /* 1 = used/unavailable */
static size_t bitmap_pages;   /* pages covered */
static size_t free_pages, total_pages;
static size_t hint;
static struct spinlock mm_lock;
static uint64_t *pml4;
static struct spinlock map_lock; /* page-table updates; never held with mm_lock */
/* Free-RAM canary (mm_canary_*): 1 = the page was free, holds the canary
 * pattern and has not been allocated since. NULL: not armed. */
static uint64_t *canary_map;
static size_t canary_map_pages;
static uint64_t canary_seed;

static bool bit_get(size_t i)
{
    return bitmap[i / 64] & (1ULL << (i % 64));
}
static void bit_set(size_t i)
{
    bitmap[i / 64] |= 1ULL << (i % 64);
}
static void bit_clear(size_t i)
{
    bitmap[i / 64] &= ~(1ULL << (i % 64));
}

void mm_init(void)
{
    uint64_t top = 0;
    for (uint32_t i = 0; i < boot_info.nranges; i++) {
        const struct mem_range *r = &boot_info.ranges[i];
        if (r->kind == MEM_USABLE && r->base + r->npages * PAGE_SIZE > top)
            top = r->base + r->npages * PAGE_SIZE;
    }
    bitmap_pages = top / PAGE_SIZE;
    size_t bytes = ALIGN_UP((bitmap_pages + 63) / 64 * 8, PAGE_SIZE);

    /* Place the bitmap in the largest usable range that holds it (below 4 GiB
     * if possible; it does not matter for correctness). */
    struct mem_range *home = NULL;
    for (uint32_t i = 0; i < boot_info.nranges; i++) {
        struct mem_range *r = &boot_info.ranges[i];
        if (r->kind == MEM_USABLE && r->npages * PAGE_SIZE >= bytes &&
            (!home || r->npages > home->npages))
            home = r;
    }
    if (!home)
        panic("mm: no usable range holds the %zu-byte page bitmap", bytes);
    bitmap = phys_to_virt(home->base);
    memset(bitmap, 0xff, bytes);

    for (uint32_t i = 0; i < boot_info.nranges; i++) {
        const struct mem_range *r = &boot_info.ranges[i];
        if (r->kind != MEM_USABLE)
            continue;
        for (uint64_t p = 0; p < r->npages; p++) {
            size_t idx = r->base / PAGE_SIZE + p;
            if (idx == 0)
                continue; /* never hand out page 0: NULL must stay invalid */
            bit_clear(idx);
            free_pages++;
        }
    }
    /* The bitmap's own pages. */
    for (size_t p = 0; p < bytes / PAGE_SIZE; p++) {
        bit_set(home->base / PAGE_SIZE + p);
        free_pages--;
    }
    total_pages = free_pages;
    hint = 256; /* prefer memory above 1 MiB: low pages are for the AP trampoline */
}

static void *alloc_locked(size_t npages, size_t lo, size_t hi)
{
    if (npages == 0 || hi > bitmap_pages || lo >= hi)
        return NULL;
    for (int pass = 0; pass < 2; pass++) {
        size_t start = pass == 0 ? (hint > lo && hint < hi ? hint : lo) : lo;
        size_t end = pass == 0 ? hi : (hint > lo && hint < hi ? hint + npages : hi);
        if (end > hi)
            end = hi;
        size_t run = 0;
        for (size_t i = start; i < end; i++) {
            if (i % 64 == 0 && run == 0 && i + 64 <= end && bitmap[i / 64] == ~0ULL) {
                i += 63; /* skip a full word */
                continue;
            }
            if (bit_get(i)) {
                run = 0;
                continue;
            }
            if (++run == npages) {
                size_t first = i + 1 - npages;
                for (size_t j = first; j <= i; j++) {
                    bit_set(j);
                    if (canary_map) /* its new owner may write it */
                        canary_map[j / 64] &= ~(1ULL << (j % 64));
                }
                free_pages -= npages;
                hint = i + 1;
                return phys_to_virt((uint64_t)first * PAGE_SIZE);
            }
        }
    }
    return NULL;
}

/* Not zeroed: for the heap reservation, where zeroing 100+ MiB at boot would
 * cost more than the rest of the boot (malloc does not promise zeroes). */
void *page_alloc_raw(size_t npages)
{
    spin_lock(&mm_lock);
    void *p = alloc_locked(npages, 1, bitmap_pages);
    spin_unlock(&mm_lock);
    return p;
}

void *page_alloc_below(size_t npages, uint64_t limit)
{
    size_t hi = limit / PAGE_SIZE;
    if (hi > bitmap_pages)
        hi = bitmap_pages;
    spin_lock(&mm_lock);
    void *p = alloc_locked(npages, 1, hi);
    spin_unlock(&mm_lock);
    if (p)
        memset(p, 0, npages * PAGE_SIZE);
    return p;
}

void *page_alloc(size_t npages)
{
    return page_alloc_below(npages, (uint64_t)bitmap_pages * PAGE_SIZE);
}

void page_free(void *p, size_t npages)
{
    size_t first = virt_to_phys(p) / PAGE_SIZE;
    if (!p || virt_to_phys(p) % PAGE_SIZE || first + npages > bitmap_pages)
        panic("page_free: bad block %p (%zu pages)", p, npages);
    spin_lock(&mm_lock);
    for (size_t i = first; i < first + npages; i++) {
        if (!bit_get(i)) {
            spin_unlock(&mm_lock);
            panic("page_free: page 0x%lx freed twice", (unsigned long)i * PAGE_SIZE);
        }
        bit_clear(i);
    }
    free_pages += npages;
    spin_unlock(&mm_lock);
}

size_t page_free_count(void)
{
    return free_pages;
}

size_t page_total_count(void)
{
    return total_pages;
}

void *dma_alloc(size_t size, uint64_t *phys)
{
    void *p = page_alloc(ALIGN_UP(size, PAGE_SIZE) / PAGE_SIZE);
    if (p && phys)
        *phys = virt_to_phys(p);
    return p;
}

void dma_free(void *p, size_t size)
{
    if (p)
        page_free(p, ALIGN_UP(size, PAGE_SIZE) / PAGE_SIZE);
}

/* ---- free-RAM canary ---- */

static uint64_t canary_word(uint64_t pa)
{
    return ((pa ^ canary_seed) * 0x9e3779b97f4a7c15ULL) | 1;
}

/* mm_lock held, page i free: fill it and mark it armed. */
static void canary_fill_page(size_t i)
{
    uint64_t *w = phys_to_virt((uint64_t)i * PAGE_SIZE);

    for (size_t k = 0; k < PAGE_SIZE / 8; k++)
        w[k] = canary_word((uint64_t)i * PAGE_SIZE + k * 8);
    canary_map[i / 64] |= 1ULL << (i % 64);
}

int mm_canary_arm(uint64_t seed)
{
    size_t bytes = ALIGN_UP((bitmap_pages + 63) / 64 * 8, PAGE_SIZE);
    uint64_t *map;

    if (canary_map)
        return 0;
    map = page_alloc(bytes / PAGE_SIZE);
    if (!map)
        return -1;
    canary_seed = seed;
    canary_map_pages = bytes / PAGE_SIZE;
    spin_lock(&mm_lock);
    canary_map = map;
    spin_unlock(&mm_lock);
    (void)mm_canary_check(NULL, NULL); /* fills every free page */
    return 0;
}

size_t mm_canary_check(uint64_t *first_pa, size_t *pages_hit)
{
    size_t bad = 0, hit = 0;

    if (first_pa)
        *first_pa = 0;
    for (size_t i = 1; canary_map && i < bitmap_pages; i++) {
        /* One page at a time under the lock: the allocator (other CPUs)
         * goes on meanwhile, and a page is never both handed out and
         * compared or filled. */
        spin_lock(&mm_lock);
        if (!bit_get(i)) {
            if (canary_map[i / 64] & (1ULL << (i % 64))) {
                const uint64_t *w = phys_to_virt((uint64_t)i * PAGE_SIZE);
                size_t n = 0;

                for (size_t k = 0; k < PAGE_SIZE / 8; k++) {
                    uint64_t pa = (uint64_t)i * PAGE_SIZE + k * 8;

                    if (w[k] != canary_word(pa)) {
                        if (bad + n == 0 && first_pa)
                            *first_pa = pa;
                        n++;
                    }
                }
                if (n) {
                    bad += n;
                    hit++;
                    canary_fill_page(i); /* report each write once */
                }
            } else {
                canary_fill_page(i); /* freed since: armed from now on */
            }
        }
        spin_unlock(&mm_lock);
    }
    if (pages_hit)
        *pages_hit = hit;
    return bad;
}

void mm_canary_disarm(void)
{
    uint64_t *map;

    spin_lock(&mm_lock);
    map = canary_map;
    canary_map = NULL;
    spin_unlock(&mm_lock);
    if (map)
        page_free(map, canary_map_pages);
}

/* ---- paging ---- */

static bool has_1g_pages(void)
{
    uint32_t a, b, c, d;
    cpuid(0x80000001, 0, &a, &b, &c, &d);
    return d & (1u << 26);
}

static uint64_t *table_alloc(void)
{
    uint64_t *t = page_alloc_below(1, 1ULL << 32);
    if (!t)
        panic("mm: out of memory below 4 GiB for page tables");
    return t;
}

static uint64_t *next_level(uint64_t *table, unsigned idx)
{
    if (!(table[idx] & PTE_P))
        table[idx] = virt_to_phys(table_alloc()) | PTE_P | PTE_W;
    else if (table[idx] & PTE_PS)
        return NULL; /* already a large page */
    return phys_to_virt(table[idx] & PTE_ADDR);
}

void paging_init(void)
{
    pml4 = table_alloc();
    bool big = has_1g_pages();
    for (uint64_t a = 0; a < IDENTITY_LIMIT;) {
        uint64_t *pdpt = next_level(pml4, (a >> 39) & 511);
        if (big) {
            pdpt[(a >> 30) & 511] = a | PTE_P | PTE_W | PTE_PS;
            a += 1ULL << 30;
        } else {
            uint64_t *pd = next_level(pdpt, (a >> 30) & 511);
            pd[(a >> 21) & 511] = a | PTE_P | PTE_W | PTE_PS;
            a += 1ULL << 21;
        }
    }
    write_cr3(virt_to_phys(pml4));
}

uint64_t paging_root(void)
{
    return virt_to_phys(pml4);
}

void *mmio_map(uint64_t pa, uint64_t len)
{
    if (pa + len <= IDENTITY_LIMIT)
        return phys_to_virt(pa);
    spin_lock(&map_lock);
    for (uint64_t a = pa & ~((1ULL << 21) - 1); a < pa + len; a += 1ULL << 21) {
        uint64_t *pdpt = next_level(pml4, (a >> 39) & 511);
        uint64_t *pd = pdpt ? next_level(pdpt, (a >> 30) & 511) : NULL;
        if (pd && !(pd[(a >> 21) & 511] & PTE_P))
            pd[(a >> 21) & 511] = a | PTE_P | PTE_W | PTE_PS | PTE_PCD | PTE_PWT;
    }
    spin_unlock(&map_lock);
    write_cr3(read_cr3()); /* flush: cheap and rare */
    return phys_to_virt(pa);
}
