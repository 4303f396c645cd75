/* SPDX-License-Identifier: Apache-2.0 */
/*
 * cpu_tables.c - the kernel's own GDT, per-CPU TSS and the IDT.
 *
 * GDT layout (Intel SDM vol. 3 §3.4.5, §7.2.3 for the 16-byte TSS descriptor):
 *   0x00 null, 0x08 64-bit code, 0x10 data, 0x18 + 16*cpu: TSS of that CPU.
 * Each TSS has IST1 pointing at a private stack used for #DF, NMI and #MC, so
 * a kernel stack overflow still reaches the panic handler.
 * The IDT is shared; vectors 0-31 are exceptions, the rest go to handlers
 * registered with irq_alloc_vector().
 */
#include <stdio.h>
#include <string.h>

#include "kernel.h"
#include "trap.h"
#include "x86.h"

#define KERNEL_CS 0x08
#define KERNEL_DS 0x10
#define TSS_SEL(cpu) (0x18 + 16 * (cpu))
#define IST_STACK_SIZE (16 * 1024)

struct tss {
    uint32_t reserved0;
    uint64_t rsp[3];
    uint64_t reserved1;
    uint64_t ist[7];
    uint64_t reserved2;
    uint16_t reserved3;
    uint16_t iomap_base;
} __attribute__((packed));
_Static_assert(sizeof(struct tss) == 104, "TSS is 104 bytes");

struct idt_entry {
    uint16_t off_lo;
    uint16_t sel;
    uint8_t ist;
    uint8_t type_attr;
    uint16_t off_mid;
    uint32_t off_hi;
    uint32_t zero;
};
_Static_assert(sizeof(struct idt_entry) == 16, "IDT gate is 16 bytes");

struct table_ptr {
    uint16_t limit;
    uint64_t base;
} __attribute__((packed));

static uint64_t gdt[3 + 2 * MAX_CPUS] __attribute__((aligned(16)));
static struct tss tss[MAX_CPUS] __attribute__((aligned(16)));
/* The BSP's IST stack is static (its tables load before the page allocator
 * exists); each AP's comes from page_alloc. Static arrays are file bytes in
 * the EFI image (no .bss there), and image size is boot time. */
static uint8_t bsp_ist_stack[IST_STACK_SIZE] __attribute__((aligned(16)));
static struct idt_entry idt[256] __attribute__((aligned(16)));

extern char isr_stubs[];

static void set_gate(unsigned vec, uint8_t ist)
{
    uint64_t a = (uint64_t)(uintptr_t)(isr_stubs + 16 * vec);
    idt[vec] = (struct idt_entry){
        .off_lo = (uint16_t)a,
        .sel = KERNEL_CS,
        .ist = ist,
        .type_attr = 0x8e, /* present, DPL 0, 64-bit interrupt gate */
        .off_mid = (uint16_t)(a >> 16),
        .off_hi = (uint32_t)(a >> 32),
    };
}

void idt_init(void)
{
    gdt[0] = 0;
    gdt[1] = 0x00af9a000000ffffULL; /* code: present, DPL0, L=1 */
    gdt[2] = 0x00cf92000000ffffULL; /* data: present, writable */
    for (unsigned v = 0; v < 256; v++)
        set_gate(v, (v == 2 || v == 8 || v == 18) ? 1 : 0);
}

static void load_tss_descriptor(unsigned cpu)
{
    uint64_t base = (uint64_t)(uintptr_t)&tss[cpu];
    uint64_t limit = sizeof(struct tss) - 1;
    unsigned i = 3 + 2 * cpu;
    gdt[i] = (limit & 0xffff) | ((base & 0xffffff) << 16) | (0x89ULL << 40) |
             (((limit >> 16) & 0xf) << 48) | (((base >> 24) & 0xff) << 56);
    gdt[i + 1] = base >> 32;
}

void cpu_tables_init(unsigned cpu)
{
    memset(&tss[cpu], 0, sizeof(tss[cpu]));
    uint8_t *ist = cpu == 0 ? bsp_ist_stack : page_alloc(IST_STACK_SIZE / PAGE_SIZE);
    if (!ist)
        panic("cpu %u: no memory for its IST stack", cpu);
    tss[cpu].ist[0] = (uint64_t)(uintptr_t)(ist + IST_STACK_SIZE);
    tss[cpu].iomap_base = sizeof(struct tss);
    load_tss_descriptor(cpu);

    struct table_ptr g = {sizeof(gdt) - 1, (uint64_t)(uintptr_t)gdt};
    __asm__ volatile("lgdt %0\n\t"
                     /* reload CS with a far return into the next instruction */
                     "leaq 1f(%%rip), %%rax\n\t"
                     "pushq %1\n\t"
                     "pushq %%rax\n\t"
                     "lretq\n"
                     "1:\n\t"
                     "movw %w2, %%ax\n\t"
                     "movw %%ax, %%ds\n\t"
                     "movw %%ax, %%es\n\t"
                     "movw %%ax, %%ss\n\t"
                     /* FS/GS are left alone: loading a selector would clear
                      * the GS base that cpu_id() reads (kernel/smp.c). */
                     :
                     : "m"(g), "i"(KERNEL_CS), "i"(KERNEL_DS)
                     : "rax", "memory");
    uint16_t sel = TSS_SEL(cpu);
    __asm__ volatile("ltr %0" : : "r"(sel));
    struct table_ptr i = {sizeof(idt) - 1, (uint64_t)(uintptr_t)idt};
    __asm__ volatile("lidt %0" : : "m"(i));
}

/* ---- device interrupt vectors ---- */

#define FIRST_DYN_VECTOR 0x30
static irq_handler_t handlers[256];
static void *handler_ctx[256];
static struct spinlock vec_lock;

int irq_alloc_vector(irq_handler_t h, void *ctx)
{
    int v = -1;
    spin_lock(&vec_lock);
    for (unsigned i = FIRST_DYN_VECTOR; i < 0xf0; i++) {
        if (!handlers[i]) {
            handler_ctx[i] = ctx;
            handlers[i] = h;
            v = (int)i;
            break;
        }
    }
    spin_unlock(&vec_lock);
    return v;
}

/* Fixed vectors the kernel itself uses (spurious, IPIs) register here too. */
void irq_set_handler(unsigned vec, irq_handler_t h, void *ctx)
{
    handler_ctx[vec] = ctx;
    handlers[vec] = h;
}

static uint64_t unexpected_irqs;
/* Per CPU, only ever changed by that CPU and restored before it returns to
 * what it interrupted, so a plain read from thread context is exact. */
static uint32_t irq_depth[MAX_CPUS];

bool in_interrupt(void)
{
    return irq_depth[cpu_id()] != 0;
}

void isr_dispatch(struct trap_frame *f)
{
    unsigned v = (unsigned)f->vector;
    if (v < 32)
        panic_trap(f);
    unsigned cpu = cpu_id();
    irq_depth[cpu]++;
    irq_handler_t h = handlers[v];
    if (h) {
        h(v, handler_ctx[v]);
    } else {
        unexpected_irqs++;
        lapic_eoi();
    }
    console_flush(); /* an interrupt's output ends with its handler */
    irq_depth[cpu]--;
}
