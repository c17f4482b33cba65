/* SPDX-License-Identifier: MIT */
/*
 * A tiny test-and-test-and-set spinlock for short critical sections in core/ and devices/
 * (a few loads and stores, never a sleep, never a call out). Freestanding: the HAL has
 * wait queues but no mutex, and these sections are too short to sleep in. Zeroed memory
 * is an unlocked lock.
 */
#ifndef CVISOR_SPINLOCK_H
#define CVISOR_SPINLOCK_H

#include <stdatomic.h>
#include <stdbool.h>

struct cv_spinlock {
	_Atomic bool locked;
};

#define CV_SPINLOCK_INIT                                                                                               \
	{                                                                                                              \
		false                                                                                                  \
	}

static inline void cv_cpu_relax(void)
{
#if defined(__x86_64__) || defined(__i386__)
	__builtin_ia32_pause();
#elif defined(__aarch64__)
	__asm__ volatile("yield" ::: "memory");
#endif
}

static inline void cv_spin_lock(struct cv_spinlock *l)
{
	while (atomic_exchange_explicit(&l->locked, true, memory_order_acquire))
		while (atomic_load_explicit(&l->locked, memory_order_relaxed))
			cv_cpu_relax();
}

static inline void cv_spin_unlock(struct cv_spinlock *l)
{
	atomic_store_explicit(&l->locked, false, memory_order_release);
}

#endif /* CVISOR_SPINLOCK_H */
