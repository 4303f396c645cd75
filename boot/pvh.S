/* SPDX-License-Identifier: Apache-2.0 */
/*
 * pvh.S - the PVH entry point, for `qemu -M microvm -kernel ringloop.elf`
 * (no firmware: QEMU loads the ELF and jumps here).
 *
 * Xen's PVH boot ABI (xen/include/public/arch-x86/hvm/start_info.h and
 * docs/misc/pvh.pandoc): the entry named by the XEN_ELFNOTE_PHYS32_ENTRY note
 * runs in 32-bit protected mode, paging off, flat CS/DS, interrupts off,
 * %ebx = physical address of struct hvm_start_info. We build a temporary
 * identity map of the first 4 GiB (2 MiB pages), enable SSE, PAE and long
 * mode, and call pvh_main(start_info) in 64-bit mode. kernel_main() later
 * replaces these tables with its own (kernel/mm.c).
 *
 * This file is linked only into build/efi/ringloop.elf (linker/pvh.lds, at a
 * fixed address); every other object is shared with the EFI image.
 */
#define XEN_ELFNOTE_PHYS32_ENTRY 18
#define CR0_PE (1 << 0)
#define CR0_MP (1 << 1)
#define CR0_EM (1 << 2)
#define CR0_PG (1 << 31)
#define CR4_PAE (1 << 5)
#define CR4_OSFXSR (1 << 9)
#define CR4_OSXMMEXCPT (1 << 10)
#define MSR_EFER 0xc0000080
#define EFER_LME (1 << 8)

    .section .note.Xen, "a", @note
    .balign 4
    .long 4                     /* name size: "Xen\0" */
    .long 4                     /* descriptor size */
    .long XEN_ELFNOTE_PHYS32_ENTRY
    .asciz "Xen"
    .balign 4
    .long pvh_start32
    .balign 4

    .section .text.pvh32, "ax"
    .code32
    .globl pvh_start32
pvh_start32:
    cli
    cld
    movl %ebx, %esi             /* start_info: survives into long mode */

    /* PD entries: 2048 x 2 MiB = 4 GiB, present | writable | large. */
    xorl %ecx, %ecx
1:  movl %ecx, %eax
    shll $21, %eax
    orl $0x83, %eax
    movl %eax, pvh_pd(, %ecx, 8)
    movl $0, pvh_pd + 4(, %ecx, 8)
    incl %ecx
    cmpl $2048, %ecx
    jb 1b
    /* PDPT[0..3] -> the four PDs; PML4[0] -> PDPT. */
    movl $pvh_pd + 3, %eax
    movl %eax, pvh_pdpt
    addl $4096, %eax
    movl %eax, pvh_pdpt + 8
    addl $4096, %eax
    movl %eax, pvh_pdpt + 16
    addl $4096, %eax
    movl %eax, pvh_pdpt + 24
    movl $pvh_pdpt + 3, %eax
    movl %eax, pvh_pml4

    movl %cr4, %eax
    orl $(CR4_PAE | CR4_OSFXSR | CR4_OSXMMEXCPT), %eax
    movl %eax, %cr4
    movl $pvh_pml4, %eax
    movl %eax, %cr3
    movl $MSR_EFER, %ecx
    rdmsr
    orl $EFER_LME, %eax
    wrmsr
    movl %cr0, %eax
    andl $~CR0_EM, %eax
    orl $(CR0_PG | CR0_MP | CR0_PE), %eax
    movl %eax, %cr0             /* long mode active (compatibility) */
    lgdt pvh_gdt_ptr
    ljmp $0x08, $pvh_start64

    .code64
pvh_start64:
    movw $0x10, %ax
    movw %ax, %ds
    movw %ax, %es
    movw %ax, %ss
    xorl %eax, %eax
    movw %ax, %fs
    movw %ax, %gs
    leaq pvh_stack_top(%rip), %rsp
    xorl %ebp, %ebp             /* ends the panic backtrace */
    movl %esi, %edi             /* zero-extends: struct hvm_start_info * */
    call pvh_main
2:  hlt
    jmp 2b

    .section .rodata.pvh, "a"
    .balign 8
pvh_gdt:
    .quad 0
    .quad 0x00af9a000000ffff    /* 0x08: 64-bit code */
    .quad 0x00cf92000000ffff    /* 0x10: data */
pvh_gdt_ptr:
    .word pvh_gdt_ptr - pvh_gdt - 1
    .long pvh_gdt

    .section .data.pvh, "aw"
    .balign 4096
pvh_pml4:
    .fill 512, 8, 0
pvh_pdpt:
    .fill 512, 8, 0
pvh_pd:
    .fill 2048, 8, 0
pvh_stack:
    .fill 65536, 1, 0
pvh_stack_top:

    .section .note.GNU-stack, "", @progbits
