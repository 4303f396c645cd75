/* SPDX-License-Identifier: Apache-2.0 */
/*
 * spinlock.c - test-and-test-and-set spinlocks. The atomic exchange is a full
 * barrier on x86 (acquire); the release store is ordered after the critical
 * section by __ATOMIC_RELEASE.
 */
#include "kernel.h"

bool spin_trylock(struct spinlock *l)
{
    return __atomic_exchange_n(&l->locked, 1, __ATOMIC_ACQUIRE) == 0;
}

void spin_lock(struct spinlock *l)
{
    while (!spin_trylock(l)) {
        while (__atomic_load_n(&l->locked, __ATOMIC_RELAXED))
            cpu_relax();
    }
}

void spin_unlock(struct spinlock *l)
{
    __atomic_store_n(&l->locked, 0, __ATOMIC_RELEASE);
}
