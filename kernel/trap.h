/* SPDX-License-Identifier: Apache-2.0 */
/*
 * trap.h - the register frame boot/isr.S builds for every interrupt and
 * exception, in push order reversed (lowest address first).
 */
#ifndef RINGLOOP_TRAP_H
#define RINGLOOP_TRAP_H

#include <stdint.h>

struct trap_frame {
    uint64_t r15, r14, r13, r12, r11, r10, r9, r8;
    uint64_t rbp, rdi, rsi, rdx, rcx, rbx, rax;
    uint64_t vector, error;
    uint64_t rip, cs, rflags, rsp, ss; /* pushed by the CPU */
};

_Static_assert(sizeof(struct trap_frame) == 22 * 8, "trap_frame layout matches isr.S");

void isr_dispatch(struct trap_frame *f);
void cpu_tables_init(unsigned cpu);    /* GDT, TSS and IDT for this CPU */
void idt_init(void);                   /* builds the shared IDT once (BSP) */
__attribute__((noreturn)) void panic_trap(struct trap_frame *f);

#endif
