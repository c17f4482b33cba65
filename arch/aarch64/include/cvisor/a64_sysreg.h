/* SPDX-License-Identifier: MIT */
/*
 * System-register access and barriers for AArch64 code at EL2: the backend's own small
 * header for its hardware (DESIGN.md), shared by arch/aarch64 and host/aarch64-virt so
 * that both name registers and order accesses the same way.
 */
#ifndef CVISOR_A64_SYSREG_ACCESS_H
#define CVISOR_A64_SYSREG_ACCESS_H

#include <stdint.h>

#define read_sysreg(r)                                                                                                 \
	({                                                                                                             \
		uint64_t __v;                                                                                          \
		__asm__ volatile("mrs %0, " #r : "=r"(__v));                                                           \
		__v;                                                                                                   \
	})
#define write_sysreg(v, r)                                                                                             \
	do {                                                                                                           \
		uint64_t __v = (uint64_t)(v);                                                                          \
		__asm__ volatile("msr " #r ", %0" : : "r"(__v));                                                       \
	} while (0)
#define isb()	 __asm__ volatile("isb" ::: "memory")
#define dsb(opt) __asm__ volatile("dsb " #opt ::: "memory")

#endif /* CVISOR_A64_SYSREG_ACCESS_H */
