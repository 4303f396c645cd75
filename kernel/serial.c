/* SPDX-License-Identifier: Apache-2.0 */
/*
 * serial.c - the COM1 console (16550 UART at I/O port 0x3f8, 115200 8N1).
 *
 * Output is polled and serialised by a spinlock so lines from two CPUs do not
 * interleave inside a write; "\n" goes out as "\r\n" for terminals. Input is
 * polled from the receive register (the shell is the only reader).
 */
#include "kernel.h"
#include "x86.h"

#define COM1 0x3f8
#define UART_DATA 0
#define UART_IER 1
#define UART_FCR 2
#define UART_LCR 3
#define UART_MCR 4
#define UART_LSR 5
#define LSR_DATA_READY 0x01
#define LSR_THR_EMPTY 0x20

static struct spinlock serial_lock;

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

void serial_putc(char c)
{
    if (c == '\n')
        uart_put('\r');
    uart_put(c);
}

void serial_write(const char *s, size_t n)
{
    bool was_on = read_rflags() & (1u << 9);
    irq_disable();
    spin_lock(&serial_lock);
    for (size_t i = 0; i < n; i++)
        serial_putc(s[i]);
    spin_unlock(&serial_lock);
    if (was_on)
        irq_enable();
}

/* Used by panic(): never blocks on a lock another CPU may hold forever. */
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

int serial_getc(void)
{
    int c;
    while ((c = serial_getc_nonblock()) < 0)
        cpu_relax();
    return c;
}
