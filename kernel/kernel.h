/* SPDX-License-Identifier: Apache-2.0 */
/*
 * kernel.h - the services the ringloop kernel offers its own code (boot, shell,
 * in-image tests, and the kernel implementation of virtio_platform.h).
 *
 * Memory is identity-mapped by the kernel's own page tables, so a kernel
 * virtual address is its physical address; virt_to_phys() exists so callers
 * say what they mean and so a later non-identity layout only changes here.
 *
 * printf/malloc/string come from newlib (see libc/); this header only adds
 * what newlib does not have.
 */
#ifndef RINGLOOP_KERNEL_H
#define RINGLOOP_KERNEL_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define PAGE_SIZE 4096UL
#define ALIGN_UP(x, a) (((x) + ((a)-1)) & ~((__typeof__(x))(a)-1))
#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

/* ---- console (kernel/console.c over the COM1 UART in kernel/serial.c) ----
 * printf, vprintf, puts and putchar (libc/stdio.c), write(1|2) and virt_log
 * all end in console_write(): one line buffer per CPU and context (thread,
 * interrupt), sent to the UART a whole line at a time. Safe from any CPU and
 * from interrupt handlers (no floating-point formats there: newlib's dtoa
 * state is global and may allocate). */
void console_write(const char *s, size_t n);
int console_vprintf(const char *fmt, va_list ap) __attribute__((format(printf, 1, 0)));
/* Send this context's unfinished line now (e.g. a prompt); the _unlocked
 * variant sends all of this CPU's and takes no lock (panic only). */
void console_flush(void);
void console_flush_unlocked(void);

void serial_init(void);
/* One run of bytes to the UART, never split by another CPU or an interrupt
 * (the console lock, with interrupts off); "\n" goes out as "\r\n". The
 * _unlocked variant takes no lock (panic only). */
void serial_write(const char *s, size_t n);
void serial_write_unlocked(const char *s, size_t n);
/* Tests: tap(s, n) also sees every serial_write() run (under the lock, before
 * "\n" becomes "\r\n"); NULL removes it. */
void serial_set_tap(void (*tap)(const char *s, size_t n));
int serial_getc_nonblock(void); /* -1 when nothing is waiting */
int serial_getc(void);          /* blocks (hlt until the COM1 interrupt or a poll) */

/* ---- panic ---- */
#define PANIC_EXIT_STATUS 99
__attribute__((noreturn)) void panic(const char *fmt, ...)
    __attribute__((format(printf, 1, 2)));
/* Leave QEMU through isa-debug-exit: tools/run exits with `status`. */
__attribute__((noreturn)) void machine_exit(int status);

/* ---- physical pages (page allocator over the EFI memory map) ---- */
void *page_alloc(size_t npages);           /* zeroed, 4 KiB aligned, NULL when out */
void *page_alloc_below(size_t npages, uint64_t limit); /* whole block below limit */
void *page_alloc_raw(size_t npages);       /* like page_alloc, NOT zeroed */
void page_free(void *p, size_t npages);
size_t page_free_count(void);
size_t page_total_count(void);
/*
 * Free-RAM canary (hdt's `ramcanary`, issue 12): arm fills every free page
 * with a pattern of seed and physical address; check compares the pages
 * that stayed free since (pages allocated meanwhile are their owner's),
 * returns the 8-byte words found changed (first at *first_pa, in
 * *pages_hit pages), refills them and arms pages freed since. Slow (all
 * free RAM, twice per case under TCG): opt-in. 0 / -1 (no memory).
 */
int mm_canary_arm(uint64_t seed);
size_t mm_canary_check(uint64_t *first_pa, size_t *pages_hit);
void mm_canary_disarm(void);

/* DMA-able memory: page-aligned, zeroed, physically contiguous. */
void *dma_alloc(size_t size, uint64_t *phys);
void dma_free(void *p, size_t size);
static inline uint64_t virt_to_phys(const void *p)
{
    return (uint64_t)(uintptr_t)p;
}
static inline void *phys_to_virt(uint64_t pa)
{
    return (void *)(uintptr_t)pa;
}
/* Make [pa, pa+len) accessible, uncached (for MMIO above the RAM mapping). */
void *mmio_map(uint64_t pa, uint64_t len);

/* ---- time ---- */
uint64_t timer_ns(void);     /* monotonic ns since boot, from the calibrated TSC */
uint64_t tsc_hz(void);
uint64_t timer_tsc_to_ns(uint64_t tsc_delta);
void udelay(uint64_t us);

/* ---- locks ---- */
struct spinlock {
    volatile uint32_t locked;
};
void spin_lock(struct spinlock *l);
void spin_unlock(struct spinlock *l);
bool spin_trylock(struct spinlock *l);

/* ---- CPUs ---- */
#define MAX_CPUS 16
unsigned cpu_count(void);   /* CPUs online (BSP + APs that answered) */
unsigned cpu_id(void);      /* 0 for the BSP, 1.. for APs, in bring-up order */
/*
 * Hand `fn(arg)` to CPU `cpu` (>= 1). Returns 0, or -EBUSY if that CPU is still
 * running earlier work, -EINVAL if there is no such CPU. The AP runs it from its
 * parked loop; smp_wait() waits until it has returned.
 */
int smp_run_on(unsigned cpu, void (*fn)(void *), void *arg);
void smp_wait(unsigned cpu);
bool smp_is_idle(unsigned cpu);

/* ---- interrupts ---- */
typedef void (*irq_handler_t)(unsigned vector, void *ctx);
/* Allocate an IDT vector (>= 0x30) for a device interrupt; returns -1 when full. */
int irq_alloc_vector(irq_handler_t h, void *ctx);
/* True while this CPU runs an interrupt handler (isr_dispatch). Handlers run
 * with interrupts off (interrupt gates), so they never nest. */
bool in_interrupt(void);
/*
 * A periodic interrupt on the calling CPU (its LAPIC timer): fn(ctx) runs in
 * interrupt context every period_us until it returns false or the CPU calls
 * irq_tick_stop(). -EBUSY if this CPU already has one. The LAPIC timer is the
 * CPU's only one: serial_getc and `bench blk` use it one-shot, and stop a
 * tick running on the same CPU.
 */
int irq_tick_start(uint32_t period_us, bool (*fn)(void *ctx), void *ctx);
void irq_tick_stop(void);
void lapic_eoi(void);
uint32_t lapic_id(void);
void lapic_send_ipi(uint32_t apic_id, uint8_t vector);
void ioapic_route(unsigned gsi, uint8_t vector, uint32_t dest_apic_id);
uint32_t cpu_apic_id(unsigned cpu);
static inline void irq_enable(void)
{
    __asm__ volatile("sti" ::: "memory");
}
static inline void irq_disable(void)
{
    __asm__ volatile("cli" ::: "memory");
}
static inline void cpu_relax(void)
{
    __asm__ volatile("pause" ::: "memory");
}

/* ---- identity ---- */
extern const char ringloop_version[];
extern const char ringloop_git_hash[];

#endif
