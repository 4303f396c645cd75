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
/* Wake `cpu` if it sleeps in its parked loop (an IPI on APIC_WAKE_VECTOR);
 * cheap no-op when it is spinning. For doorbells that were written to memory
 * the parked CPU (or a job on it) polls. */
void smp_wake(unsigned cpu);
/* True while `cpu` sits in hlt in its parked loop (a job needs an IPI to start). */
bool smp_is_sleeping(unsigned cpu);
/* Jobs run and hlt wake-ups of a parked CPU (statistics for `cpus`/tests). */
uint64_t smp_jobs_run(unsigned cpu);
uint64_t smp_wakeups(unsigned cpu);
/* Microseconds smp_init() took to bring every AP up. */
uint64_t smp_bringup_us(void);

#endif
