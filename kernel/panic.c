/* SPDX-License-Identifier: Apache-2.0 */
/*
 * panic.c - fatal errors: CPU exceptions and panic().
 *
 * Prints "PANIC:" with the vector, error code, a register dump and a
 * frame-pointer backtrace (the kernel is built with -fno-omit-frame-pointer),
 * then leaves QEMU through isa-debug-exit with PANIC_EXIT_STATUS. Addresses
 * are printed both absolute and relative to the image base, so
 * `addr2line -e build/efi/ringloop.so <offset>` resolves them. The output
 * path takes no locks and calls no allocator: it must work from any state
 * (serial_write_unlocked, not the console's line buffers; it first sends
 * what this CPU's buffers hold so no half line is lost).
 */
#include <stdarg.h>
#include <stdio.h>

#include "boot_info.h"
#include "kernel.h"
#include "trap.h"
#include "x86.h"

static volatile int panicking;

static void pout(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void pout(const char *fmt, ...)
{
    char buf[256];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(buf, sizeof(buf), fmt, ap);
    va_end(ap);
    if (n > (int)sizeof(buf) - 1)
        n = sizeof(buf) - 1;
    if (n > 0)
        serial_write_unlocked(buf, (size_t)n);
}

void machine_exit(int status)
{
    irq_disable();
    /* isa-debug-exit (iobase 0xf4): QEMU exits with (status << 1) | 1. */
    outl(0xf4, (uint32_t)status);
    for (;;)
        hlt();
}

static const char *const exc_names[32] = {
    "#DE divide error", "#DB debug", "NMI", "#BP breakpoint", "#OF overflow",
    "#BR bound range", "#UD invalid opcode", "#NM device not available",
    "#DF double fault", "coprocessor overrun", "#TS invalid TSS", "#NP segment not present",
    "#SS stack fault", "#GP general protection", "#PF page fault", "reserved",
    "#MF x87 error", "#AC alignment check", "#MC machine check", "#XM SIMD error",
    "#VE virtualization", "#CP control protection",
};

static void backtrace(uint64_t rip, uint64_t rbp)
{
    uint64_t base = boot_info.image_base;
    pout("backtrace (image base 0x%lx; addr2line -e build/efi/%s OFFSET):\n",
         (unsigned long)base,
         boot_info.entry && boot_info.entry[0] == 'p' ? "ringloop.elf" : "ringloop.so");
    pout("  #0 0x%016lx (+0x%lx)\n", (unsigned long)rip, (unsigned long)(rip - base));
    for (int i = 1; i < 20; i++) {
        /* Only follow frame pointers that look like stack memory we can read. */
        if (rbp < 0x1000 || (rbp & 7) || rbp > (64ULL << 30))
            break;
        const uint64_t *fp = (const uint64_t *)(uintptr_t)rbp;
        uint64_t ret = fp[1];
        if (ret < 0x1000)
            break;
        pout("  #%d 0x%016lx (+0x%lx)\n", i, (unsigned long)ret, (unsigned long)(ret - base));
        if (fp[0] <= rbp)
            break; /* frames must move up the stack */
        rbp = fp[0];
    }
}

static void enter_panic(void)
{
    irq_disable();
    if (__atomic_exchange_n(&panicking, 1, __ATOMIC_ACQ_REL)) {
        /* Another CPU is already reporting; let it finish and exit QEMU. */
        for (;;)
            hlt();
    }
    console_flush_unlocked(); /* this CPU's unfinished lines, before the report */
}

void panic_trap(struct trap_frame *f)
{
    enter_panic();
    unsigned v = (unsigned)f->vector;
    const char *name = v < 32 && exc_names[v] ? exc_names[v] : "exception";
    pout("\nPANIC: CPU exception vector %u (%s) error 0x%lx on cpu %u\n", v, name,
         (unsigned long)f->error, cpu_id());
    pout("RIP=%016lx CS=%04lx RFLAGS=%016lx RSP=%016lx SS=%04lx\n", (unsigned long)f->rip,
         (unsigned long)f->cs, (unsigned long)f->rflags, (unsigned long)f->rsp,
         (unsigned long)f->ss);
    pout("RAX=%016lx RBX=%016lx RCX=%016lx RDX=%016lx\n", (unsigned long)f->rax,
         (unsigned long)f->rbx, (unsigned long)f->rcx, (unsigned long)f->rdx);
    pout("RSI=%016lx RDI=%016lx RBP=%016lx R8 =%016lx\n", (unsigned long)f->rsi,
         (unsigned long)f->rdi, (unsigned long)f->rbp, (unsigned long)f->r8);
    pout("R9 =%016lx R10=%016lx R11=%016lx R12=%016lx\n", (unsigned long)f->r9,
         (unsigned long)f->r10, (unsigned long)f->r11, (unsigned long)f->r12);
    pout("R13=%016lx R14=%016lx R15=%016lx\n", (unsigned long)f->r13, (unsigned long)f->r14,
         (unsigned long)f->r15);
    pout("CR0=%016lx CR2=%016lx CR3=%016lx CR4=%016lx\n", (unsigned long)read_cr0(),
         (unsigned long)read_cr2(), (unsigned long)read_cr3(), (unsigned long)read_cr4());
    backtrace(f->rip, f->rbp);
    machine_exit(PANIC_EXIT_STATUS);
}

void panic(const char *fmt, ...)
{
    enter_panic();
    char buf[256];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof(buf), fmt, ap);
    va_end(ap);
    pout("\nPANIC: %s (cpu %u)\n", buf, cpu_id());
    /* Start at our caller: its return address and its saved frame pointer. */
    const uint64_t *fp = (const uint64_t *)__builtin_frame_address(0);
    backtrace(fp[1], fp[0]);
    machine_exit(PANIC_EXIT_STATUS);
}
