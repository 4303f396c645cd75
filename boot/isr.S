/* SPDX-License-Identifier: Apache-2.0 */
/*
 * isr.S - the 256 interrupt entry stubs and the common path.
 *
 * Each stub is 16 bytes apart (isr_stubs + 16 * vector) so the IDT is built
 * without a table of absolute addresses. A stub pushes a zero error code when
 * the CPU does not, then the vector number; isr_common saves the general
 * registers (struct trap_frame in kernel/trap.h), saves the FPU/SSE state
 * with fxsave on a 16-byte aligned area (C handlers may use SSE), calls
 * isr_dispatch(frame) and returns with iretq.
 */
    .text
    .code64
    .altmacro

/* vectors with a CPU-pushed error code: 8, 10-14, 17, 21, 29, 30 */
.macro STUB vec
    .balign 16
    .if (\vec == 8) || (\vec >= 10 && \vec <= 14) || (\vec == 17) || (\vec == 21) || (\vec == 29) || (\vec == 30)
    .else
    pushq $0
    .endif
    pushq $\vec
    jmp isr_common
.endm

    .balign 16
    .globl isr_stubs
isr_stubs:
    .set vec, 0
    .rept 256
    STUB %vec
    .set vec, vec + 1
    .endr

isr_common:
    pushq %rax
    pushq %rbx
    pushq %rcx
    pushq %rdx
    pushq %rsi
    pushq %rdi
    pushq %rbp
    pushq %r8
    pushq %r9
    pushq %r10
    pushq %r11
    pushq %r12
    pushq %r13
    pushq %r14
    pushq %r15
    movq %rsp, %rdi          /* struct trap_frame * */
    movq %rsp, %rbx          /* callee-saved: the frame, to come back to */
    subq $512, %rsp
    andq $-16, %rsp
    fxsave64 (%rsp)
    cld
    call isr_dispatch
    fxrstor64 (%rsp)
    movq %rbx, %rsp
    popq %r15
    popq %r14
    popq %r13
    popq %r12
    popq %r11
    popq %r10
    popq %r9
    popq %r8
    popq %rbp
    popq %rdi
    popq %rsi
    popq %rdx
    popq %rcx
    popq %rbx
    popq %rax
    addq $16, %rsp           /* vector and error code */
    iretq

    .section .note.GNU-stack,"",@progbits
