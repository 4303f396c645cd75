/* SPDX-License-Identifier: Apache-2.0 */
/*
 * serial.c - the COM1 UART (16550 at I/O port 0x3f8, 115200 8N1) under the
 * console (kernel/console.c).
 *
 * Output: serial_write() sends one run of bytes, polled, holding the console
 * lock with interrupts off, so nothing from another CPU or from an interrupt
 * handler lands inside it; "\n" goes out as "\r\n" for terminals. Callers
 * hand it whole lines: kernel/console.c collects printf, virt_log and
 * write(1|2) output per CPU and context (thread, interrupt) and sends each
 * line in one call. Because the lock is only taken with interrupts off, it is
 * never held by code an interrupt on the same CPU interrupted: a handler
 * waits at most for another CPU's line. panic() uses
 * serial_write_unlocked(), which takes no lock at all.
 *
 * Input is read from the receive register by polling LSR (the shell is the
 * only reader). Once apic_init() has routed ISA IRQ 4 (serial_irq_init), a
 * reader with nothing to read sleeps in hlt until the receive interrupt (or a
 * ~30 ms LAPIC timer safety net) wakes it, then polls again; the interrupt
 * handler only sends EOI, so no byte is ever consumed in interrupt context
 * and none can be lost. Without the IRQ, serial_getc() spins as before.
 */
#include "apic.h"
#include "kernel.h"
#include "x86.h"

#define COM1 0x3f8
#define UART_DATA 0
#define UART_IER 1
#define UART_FCR 2
#define UART_LCR 3
#define UART_MCR 4
#define UART_LSR 5
#define IER_RX_AVAILABLE 0x01
#define FCR_ENABLE_TRIGGER_1 0x01 /* FIFO on, RX trigger level 1, no clearing */
#define LSR_DATA_READY 0x01
#define COM1_ISA_IRQ 4
#define RX_SAFETY_TICKS 0x200000 /* LAPIC timer /16: ~34 ms at QEMU's 1 GHz */
#define LSR_THR_EMPTY 0x20

static struct spinlock console_lock; /* the UART's transmit side */
static void (*volatile serial_tap)(const char *s, size_t n);

void serial_init(void)
{
    outb(COM1 + UART_IER, 0x00);       /* no interrupts while we set up */
    outb(COM1 + UART_LCR, 0x80);       /* DLAB on: divisor follows */
    outb(COM1 + UART_DATA, 0x01);      /* 115200 = 115200 / 1 */
    outb(COM1 + UART_IER, 0x00);
    outb(COM1 + UART_LCR, 0x03);       /* 8 bits, no parity, one stop bit */
    outb(COM1 + UART_FCR, 0xc7);       /* FIFO on, cleared, 14-byte threshold */
    outb(COM1 + UART_MCR, 0x0b);       /* DTR, RTS, OUT2 */
}

static void uart_put(char c)
{
    /* Bounded wait: a wedged UART must not hang the kernel forever. */
    for (int i = 0; i < 1000000 && !(inb(COM1 + UART_LSR) & LSR_THR_EMPTY); i++)
        cpu_relax();
    outb(COM1 + UART_DATA, (uint8_t)c);
}

static void serial_putc(char c)
{
    if (c == '\n')
        uart_put('\r');
    uart_put(c);
}

void serial_write(const char *s, size_t n)
{
    bool was_on = read_rflags() & (1u << 9);
    irq_disable();
    spin_lock(&console_lock);
    void (*tap)(const char *, size_t) = serial_tap;
    if (tap)
        tap(s, n);
    for (size_t i = 0; i < n; i++)
        serial_putc(s[i]);
    spin_unlock(&console_lock);
    if (was_on)
        irq_enable();
}

void serial_set_tap(void (*tap)(const char *s, size_t n))
{
    serial_tap = tap;
}

/* Used by panic(): never waits on a lock another CPU may hold forever. */
void serial_write_unlocked(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++)
        serial_putc(s[i]);
}

int serial_getc_nonblock(void)
{
    if (!(inb(COM1 + UART_LSR) & LSR_DATA_READY))
        return -1;
    return inb(COM1 + UART_DATA);
}

static bool has_rx_irq;
static int timer_vector = -1;
static volatile uint64_t rx_irqs;

static void rx_irq(unsigned vec, void *ctx)
{
    (void)vec;
    (void)ctx;
    rx_irqs++;
    lapic_eoi(); /* the data is read by serial_getc's polling, not here */
}

/* Called by apic_init() on the BSP once the IOAPIC is ready. Edge-triggered:
 * the UART raises its line when data arrives and drops it when the FIFO is
 * read empty, so a sleeper (which only sleeps with the FIFO empty) always
 * sees a fresh edge. */
void serial_irq_init(void)
{
    int v = irq_alloc_vector(rx_irq, NULL);
    timer_vector = irq_alloc_vector(rx_irq, NULL);
    if (v < 0 || timer_vector < 0)
        return;
    struct ioapic_isa_route r = ioapic_isa_lookup(COM1_ISA_IRQ);
    if (ioapic_route_flags(r.gsi, (uint8_t)v, lapic_id(), r.is_active_low, r.is_level))
        return;
    outb(COM1 + UART_FCR, FCR_ENABLE_TRIGGER_1); /* interrupt on the first byte */
    outb(COM1 + UART_IER, IER_RX_AVAILABLE);
    has_rx_irq = true;
}

int serial_getc(void)
{
    int c;
    while ((c = serial_getc_nonblock()) < 0) {
        if (!has_rx_irq || cpu_id() != 0) {
            cpu_relax(); /* no IRQ (or not the CPU it goes to): poll */
            continue;
        }
        bool was_on = read_rflags() & (1u << 9);
        irq_disable();
        /* Re-check with interrupts off: a byte that arrives from here on
         * leaves its interrupt pending, and "sti; hlt" takes it only once
         * hlt has begun (STI interrupt shadow), so the wake-up is not lost. */
        if ((c = serial_getc_nonblock()) >= 0) {
            if (was_on)
                irq_enable();
            return c;
        }
        lapic_timer_oneshot((uint8_t)timer_vector, RX_SAFETY_TICKS);
        __asm__ volatile("sti; hlt" ::: "memory");
        lapic_timer_oneshot(0, 0);
        if (!was_on)
            irq_disable();
    }
    return c;
}
