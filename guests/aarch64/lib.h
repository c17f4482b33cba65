/* SPDX-License-Identifier: MIT */
/* The test guests' little library: console on the emulated PL011, a print lock, SMCCC calls. */
#ifndef GUEST_LIB_H
#define GUEST_LIB_H

#include <stdint.h>

#include <cvisor/guest_abi.h>

#define UART_BASE 0x09000000ul

/* printf subset: %s %c %d %u %x %lx %lu %ld, '#' and '0'/width; the line is printed whole under a lock. */
void gprintf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

struct smc_res {
	uint64_t x0;
};
uint64_t hvc_call(uint64_t fn, uint64_t a1, uint64_t a2, uint64_t a3, uint64_t a4, uint64_t a5, uint64_t a6);
uint64_t smc_call(uint64_t fn, uint64_t a1, uint64_t a2, uint64_t a3, uint64_t a4, uint64_t a5, uint64_t a6);
int64_t psci_cpu_on(uint64_t target, void (*entry)(void), uint64_t ctx);
void psci_cpu_off(void);
void psci_system_off(void);

void secondary_entry(void);
void guest_main(uint64_t vcpu, uint64_t boot_arg);
/* sctlr and daif: SCTLR_EL1 and DAIF as CPU_ON left them (MMU off, all masked). */
void guest_secondary(uint64_t vcpu, uint64_t ctx, uint64_t sctlr, uint64_t daif);
/* Test-only hypercall of the bare-metal embedder (host/aarch64-virt/run.c): the caller's physical CPU. */
#define CV_A64_HC_PCPU 0xC6000100u
/* Called from every exception vector; the default prints the syndrome and powers off. */
void guest_exception(uint64_t vector);

#define read_sysreg(r)                                                                                                 \
	({                                                                                                             \
		uint64_t __v;                                                                                          \
		__asm__ volatile("mrs %0, " #r : "=r"(__v));                                                           \
		__v;                                                                                                   \
	})
#define write_sysreg(v, r) __asm__ volatile("msr " #r ", %0" : : "r"((uint64_t)(v)))

#endif
