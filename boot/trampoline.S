/* SPDX-License-Identifier: Apache-2.0 */
/*
 * trampoline.S - where an application processor starts after INIT-SIPI-SIPI.
 *
 * kernel/smp.c copies [smp_tramp_start, smp_tramp_end) to a free page P
 * below 1 MiB and sends STARTUP with vector P >> 12: the AP starts in real
 * mode at CS:IP = (P >> 4):0000 (Intel SDM vol. 3 §9.4.4.1-2), so every
 * real-mode reference here is an offset from smp_tramp_start through CS/DS.
 * The blob holds no relocations: what needs an absolute address (the GDT
 * base, the 64-bit far-jump target, CR3, EFER, stack, C entry, CPU index)
 * lives in the parameter block at its end, patched by smp.c at copy time
 * (the image is position-independent and loaded wherever the firmware
 * likes).
 *
 * Real mode goes directly to long mode: CR4.PAE, CR3, EFER.LME, then CR0.PE
 * and CR0.PG in one write, then a far jump into a 64-bit (L=1) code segment.
 * (The SDM's §10.8.5 recipe passes through protected mode; setting PE and PG
 * together with LME from real mode is accepted by Intel, AMD and QEMU and is
 * what the brief asks for.) CR3 is the kernel's PML4, below 4 GiB
 * (paging_init), so a 32-bit mov reaches it. CR0.MP=1, EM=0, NE=1 and
 * CR4.OSFXSR|OSXMMEXCPT are set here so C code may use SSE from its first
 * instruction. The stack and entry point are per AP; smp.c brings APs up one
 * at a time, so one parameter block suffices.
 */
    .text
    .balign 16
    .globl smp_tramp_start, smp_tramp_end
    .globl smp_tramp_gdtr, smp_tramp_farptr, smp_tramp_cr3, smp_tramp_efer
    .globl smp_tramp_stack, smp_tramp_entry, smp_tramp_cpu
    .globl smp_tramp_long, smp_tramp_gdt

#define OFF(x) ((x) - smp_tramp_start)

    .code16
smp_tramp_start:
    cli
    cld
    movw %cs, %ax
    movw %ax, %ds                   /* DS base = P: OFF() addresses the blob */
    lgdtl OFF(smp_tramp_gdtr)       /* 32-bit base, patched to P + OFF(smp_tramp_gdt) */
    movl $0x620, %eax               /* CR4.PAE | OSFXSR | OSXMMEXCPT */
    movl %eax, %cr4
    movl OFF(smp_tramp_cr3), %eax
    movl %eax, %cr3
    movl $0xc0000080, %ecx          /* IA32_EFER: LME (+ NXE if the BSP has it) */
    movl OFF(smp_tramp_efer), %eax
    xorl %edx, %edx
    wrmsr
    movl $0x80000023, %eax          /* CR0.PG | NE | MP | PE; EM = 0 */
    movl %eax, %cr0
    ljmpl *OFF(smp_tramp_farptr)    /* -> 0x08:P + OFF(smp_tramp_long), 64-bit */

    .code64
smp_tramp_long:
    movl $0x10, %eax
    movw %ax, %ds
    movw %ax, %es
    movw %ax, %ss
    xorl %eax, %eax
    movw %ax, %fs
    movw %ax, %gs
    fninit                          /* x87 control word to its default */
    movq tr_stack(%rip), %rsp       /* RIP-relative: fine wherever the copy is */
    movq tr_cpu(%rip), %rdi
    movq tr_entry(%rip), %rax
    xorl %ebp, %ebp                 /* ends the panic backtrace */
    callq *%rax                     /* smp_ap_entry(cpu): never returns */
1:  cli
    hlt
    jmp 1b

    .balign 16
smp_tramp_gdt:
    .quad 0
    .quad 0x00af9a000000ffff        /* 0x08: 64-bit code, DPL 0 */
    .quad 0x00cf92000000ffff        /* 0x10: data */
tramp_gdt_end:

    .balign 8
smp_tramp_gdtr:
    .word tramp_gdt_end - smp_tramp_gdt - 1
    .long 0                         /* patched: P + OFF(smp_tramp_gdt) */
    .balign 8
smp_tramp_farptr:
    .long 0                         /* patched: P + OFF(smp_tramp_long) */
    .word 0x08
    .balign 8
smp_tramp_cr3:
    .long 0
smp_tramp_efer:
    .long 0
smp_tramp_stack:
tr_stack:
    .quad 0
smp_tramp_entry:
tr_entry:
    .quad 0
smp_tramp_cpu:
tr_cpu:
    .quad 0
smp_tramp_end:

    .section .note.GNU-stack,"",@progbits
