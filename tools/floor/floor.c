/* SPDX-License-Identifier: Apache-2.0 */
/*
 * floor.c - the firmware floor for `make bench-boot`: the least an EFI
 * application can do. It prints one line on COM1 and leaves QEMU through
 * isa-debug-exit (port 0xf4, status 0), so the time QEMU needs to get here
 * is what OVMF costs before any of ringloop's own code runs. It is built
 * with the kernel's GNU-EFI flags (mk/test.mk) so the two images load alike.
 *
 * The UART is driven directly, as the kernel does: OVMF has already set COM1
 * up (115200 8N1) for its own console.
 */
#include <efi.h>
#include <efilib.h>

#define COM1 0x3f8
#define DEBUG_EXIT_PORT 0xf4

static inline void outb(UINT16 port, UINT8 v)
{
    __asm__ volatile("outb %0, %1" ::"a"(v), "Nd"(port));
}
static inline UINT8 inb(UINT16 port)
{
    UINT8 v;
    __asm__ volatile("inb %1, %0" : "=a"(v) : "Nd"(port));
    return v;
}

static void com1_puts(const char *s)
{
    for (; *s; s++) {
        while (!(inb(COM1 + 5) & 0x20)) /* LSR: transmit holding register empty */
            ;
        outb(COM1, (UINT8)*s);
    }
}

EFI_STATUS EFIAPI efi_main(EFI_HANDLE image, EFI_SYSTEM_TABLE *st)
{
    (void)image;
    (void)st;
    com1_puts("ringloop-floor\r\n");
    /* isa-debug-exit: QEMU exits with (0 << 1) | 1 = 1, tools/run reports 0. */
    __asm__ volatile("outl %0, %1" ::"a"((UINT32)0), "Nd"((UINT16)DEBUG_EXIT_PORT));
    for (;;)
        __asm__ volatile("hlt");
}
