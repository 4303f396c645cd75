/* SPDX-License-Identifier: Apache-2.0 */
/*
 * smp.h - SMP services beyond kernel.h (cpu_id, cpu_count, smp_run_on,
 * smp_wait, smp_is_idle, cpu_apic_id): wake-ups and per-CPU state for the
 * shell and tests. Platform code only.
 */
#ifndef RINGLOOP_SMP_H
#define RINGLOOP_SMP_H

#include <stdbool.h>
#include <stdint.h>

enum cpu_state {
    CPU_OFFLINE = 0, /* not (yet) started */
    CPU_ONLINE,      /* the BSP: runs the shell, takes no mailbox work */
    CPU_IDLE,        /* parked AP, mailbox empty */
    CPU_BUSY,        /* parked AP with a job posted or running */
};

enum cpu_state smp_state(unsigned cpu);
/*
 * Doorbell sleep/wake, for a job that polls memory (e.g. a device loop on
 * CPU 1) and wants to sleep when there is nothing to do:
 *   sleeper (on its own CPU):  while (!has_work(x)) smp_sleep(has_work, x);
 *   waker (any CPU):           write the doorbell; smp_wake(cpu);
 * smp_sleep() marks the CPU sleeping, fences, calls is_ready(ctx) and halts
 * only if it returned false; smp_wake() fences after the caller's doorbell
 * store and sends an IPI (APIC_WAKE_VECTOR) only if the target is marked
 * sleeping, so a spinning target costs no IPI and no wake-up is lost.
 * smp_sleep() may return early (any interrupt): callers loop. is_ready must
 * only read memory.
 */
void smp_sleep(bool (*is_ready)(void *ctx), void *ctx);
void smp_wake(unsigned cpu);
/* True while `cpu` sits in hlt in its parked loop (a job needs an IPI to start). */
bool smp_is_sleeping(unsigned cpu);
/* Jobs run and hlt wake-ups of a parked CPU (statistics for `cpus`/tests). */
uint64_t smp_jobs_run(unsigned cpu);
uint64_t smp_wakeups(unsigned cpu);
/* Microseconds smp_init() took to bring every AP up. */
uint64_t smp_bringup_us(void);
/* APs listed in the MADT that did not answer INIT-SIPI-SIPI (for `cpus`). */
unsigned smp_failed_count(void);
uint32_t smp_failed_apic_id(unsigned i);

#endif
