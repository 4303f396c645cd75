/* SPDX-License-Identifier: Apache-2.0 */
/*
 * test_mm.c - suite "mm": the page allocator and DMA memory (kernel/mm.c).
 * Blocks must come back zeroed, never overlap, honour limits, and freed
 * pages must be handed out again; the free count must balance exactly.
 */
#include <stdint.h>
#include <string.h>

#include "kernel.h"
#include "kernel/tests/ktest.h"

static void fill(void *p, size_t n, uint64_t tag)
{
    uint64_t *w = p;
    for (size_t i = 0; i < n / 8; i += 64)
        w[i] = tag ^ i;
}

static bool check(const void *p, size_t n, uint64_t tag)
{
    const uint64_t *w = p;
    for (size_t i = 0; i < n / 8; i += 64)
        if (w[i] != (tag ^ i))
            return false;
    return true;
}

static bool is_zero(const void *p, size_t n)
{
    const uint64_t *w = p;
    for (size_t i = 0; i < n / 8; i++)
        if (w[i])
            return false;
    return true;
}

static void t_patterns(struct ktest *t)
{
    enum { N = 64 };
    void *b[N];
    size_t np[N];
    size_t before = page_free_count();
    for (int i = 0; i < N; i++) {
        np[i] = 1 + (size_t)((i * 37) % 17);
        b[i] = page_alloc(np[i]);
        if (!b[i])
            KT_FAIL(t, "page_alloc(%zu) failed", np[i]);
        if (virt_to_phys(b[i]) % PAGE_SIZE)
            KT_FAIL(t, "block %p not page aligned", b[i]);
        if (!is_zero(b[i], np[i] * PAGE_SIZE))
            KT_FAIL(t, "block %d not zeroed", i);
        fill(b[i], np[i] * PAGE_SIZE, 0x1234567800000000ULL + (uint64_t)i);
    }
    /* no overlap: every block still holds its own pattern, and ranges are disjoint */
    for (int i = 0; i < N; i++) {
        if (!check(b[i], np[i] * PAGE_SIZE, 0x1234567800000000ULL + (uint64_t)i))
            KT_FAIL(t, "block %d was overwritten by another allocation", i);
        uintptr_t a0 = (uintptr_t)b[i], a1 = a0 + np[i] * PAGE_SIZE;
        for (int j = 0; j < i; j++) {
            uintptr_t c0 = (uintptr_t)b[j], c1 = c0 + np[j] * PAGE_SIZE;
            if (a0 < c1 && c0 < a1)
                KT_FAIL(t, "blocks %d and %d overlap", i, j);
        }
    }
    /* free in an interleaved order, then the count must balance */
    for (int i = 0; i < N; i += 2)
        page_free(b[i], np[i]);
    for (int i = 1; i < N; i += 2)
        page_free(b[i], np[i]);
    KT_ASSERT_EQ(t, page_free_count(), before);
}

static void t_reuse(struct ktest *t)
{
    /* Take every free page, one at a time: then a freed page is the only one
     * left and must be what the next allocation returns. */
    size_t before = page_free_count();
    void **list = page_alloc(ALIGN_UP(before * sizeof(void *), PAGE_SIZE) / PAGE_SIZE);
    KT_ASSERT(t, list != NULL);
    size_t list_pages = ALIGN_UP(before * sizeof(void *), PAGE_SIZE) / PAGE_SIZE;
    size_t n = 0;
    void *p;
    while (n < before && (p = page_alloc(1)) != NULL)
        list[n++] = p;
    bool exhausted = page_alloc(1) == NULL;
    size_t left = page_free_count();
    void *victim = n > 10 ? list[n / 2] : NULL;
    void *again = NULL;
    if (victim) {
        page_free(victim, 1);
        again = page_alloc(1);
    }
    for (size_t i = 0; i < n; i++)
        if (list[i] != victim)
            page_free(list[i], 1);
    if (again)
        page_free(again, 1);
    page_free(list, list_pages);
    ktest_diag("allocated %zu single pages until exhaustion", n);
    KT_ASSERT(t, exhausted);
    KT_ASSERT_EQ(t, left, 0);
    KT_ASSERT(t, n + list_pages == before);
    KT_ASSERT(t, again == victim);
    KT_ASSERT_EQ(t, page_free_count(), before);
}

static void t_limits(struct ktest *t)
{
    void *low = page_alloc_below(1, 1ULL << 20);
    KT_ASSERT(t, low != NULL);
    KT_ASSERT(t, virt_to_phys(low) < (1ULL << 20) && virt_to_phys(low) != 0);
    page_free(low, 1);
    void *b4 = page_alloc_below(4, 1ULL << 32);
    KT_ASSERT(t, b4 != NULL && virt_to_phys(b4) + 4 * PAGE_SIZE <= (1ULL << 32));
    page_free(b4, 4);
    KT_ASSERT(t, page_alloc(0) == NULL);
    KT_ASSERT(t, page_alloc(page_total_count() + 1) == NULL);
}

static void t_dma(struct ktest *t)
{
    uint64_t pa = 0;
    size_t before = page_free_count();
    uint8_t *p = dma_alloc(10000, &pa);
    KT_ASSERT(t, p != NULL);
    KT_ASSERT_EQ(t, pa, virt_to_phys(p));
    KT_ASSERT_EQ(t, pa % PAGE_SIZE, 0);
    KT_ASSERT_EQ(t, before - page_free_count(), 3);
    KT_ASSERT(t, is_zero(p, 3 * PAGE_SIZE));
    p[9999] = 0xab; /* the whole size is usable */
    dma_free(p, 10000);
    KT_ASSERT_EQ(t, page_free_count(), before);
}

KTEST_SUITE(ktest_mm, "mm",
            {"patterns", t_patterns},
            {"reuse", t_reuse},
            {"limits", t_limits},
            {"dma", t_dma});
