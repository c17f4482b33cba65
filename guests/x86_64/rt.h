/* SPDX-License-Identifier: MIT */
/*
 * The freestanding runtime of the x86_64 test guests: port and MMIO access, the cvisor
 * hypercall doorbell and PSCI (include/cvisor/guest_abi.h), and a serial console on
 * COM1. Header-only helpers are inline so that each access is one instruction.
 */
#ifndef CVISOR_GUEST_X86_RT_H
#define CVISOR_GUEST_X86_RT_H

#include <stddef.h>
#include <stdint.h>

#include <cvisor/guest_abi.h>

#include "test_abi.h"

/* Entry points the guest provides: vCPU 0, and vCPUs started with cv_secondary_entry. */
void guest_main(uint64_t boot_arg);
void guest_secondary(uint64_t arg);

/* start.S's entry for CPU_ON (at a fixed offset of the image). */
void cv_secondary_entry(void);

static inline void cv_outb(uint16_t port, uint8_t v)
{
	__asm__ volatile("outb %0, %1" : : "a"(v), "Nd"(port) : "memory");
}

static inline void cv_outw(uint16_t port, uint16_t v)
{
	__asm__ volatile("outw %0, %1" : : "a"(v), "Nd"(port) : "memory");
}

static inline void cv_outl(uint16_t port, uint32_t v)
{
	__asm__ volatile("outl %0, %1" : : "a"(v), "Nd"(port) : "memory");
}

static inline uint8_t cv_inb(uint16_t port)
{
	uint8_t v;

	__asm__ volatile("inb %1, %0" : "=a"(v) : "Nd"(port) : "memory");
	return v;
}

static inline uint16_t cv_inw(uint16_t port)
{
	uint16_t v;

	__asm__ volatile("inw %1, %0" : "=a"(v) : "Nd"(port) : "memory");
	return v;
}

static inline uint32_t cv_inl(uint16_t port)
{
	uint32_t v;

	__asm__ volatile("inl %1, %0" : "=a"(v) : "Nd"(port) : "memory");
	return v;
}

/* MMIO: volatile accesses of exactly the given width (one mov each). */
static inline void cv_mmio_write8(uint64_t a, uint8_t v)
{
	*(volatile uint8_t *)a = v;
}

static inline void cv_mmio_write16(uint64_t a, uint16_t v)
{
	*(volatile uint16_t *)a = v;
}

static inline void cv_mmio_write32(uint64_t a, uint32_t v)
{
	*(volatile uint32_t *)a = v;
}

static inline void cv_mmio_write64(uint64_t a, uint64_t v)
{
	*(volatile uint64_t *)a = v;
}

static inline uint8_t cv_mmio_read8(uint64_t a)
{
	return *(volatile uint8_t *)a;
}

static inline uint16_t cv_mmio_read16(uint64_t a)
{
	return *(volatile uint16_t *)a;
}

static inline uint32_t cv_mmio_read32(uint64_t a)
{
	return *(volatile uint32_t *)a;
}

static inline uint64_t cv_mmio_read64(uint64_t a)
{
	return *(volatile uint64_t *)a;
}

/*
 * The cvisor hypercall (guest_abi.h): `out %eax, $CV_X86_HC_PORT` with the function id
 * in rax and six arguments in rdi, rsi, rdx, rcx, r8, r9; the result comes back in rax.
 */
static inline uint64_t cv_hypercall(uint64_t fn, uint64_t a0, uint64_t a1, uint64_t a2, uint64_t a3, uint64_t a4,
				    uint64_t a5)
{
	register uint64_t r8 __asm__("r8") = a4;
	register uint64_t r9 __asm__("r9") = a5;
	uint64_t ret;

	__asm__ volatile("outl %%eax, %[port]"
			 : "=a"(ret)
			 : "a"(fn), "D"(a0), "S"(a1), "d"(a2), "c"(a3), "r"(r8), "r"(r9), [port] "i"(CV_X86_HC_PORT)
			 : "memory");
	return ret;
}

static inline int64_t cv_psci_cpu_on(uint64_t target, void (*entry)(void), uint64_t context_id)
{
	return (int64_t)cv_hypercall(PSCI_CPU_ON_64, target, (uint64_t)entry, context_id, 0, 0, 0);
}

static inline void cv_pause(void)
{
	__asm__ volatile("pause" : : : "memory");
}

/* A 64-bit value to the test through CV_TEST_REPORT_PORT: low half, then high half. */
static inline void cv_report(uint64_t v)
{
	cv_outl(CV_TEST_REPORT_PORT, (uint32_t)v);
	cv_outl(CV_TEST_REPORT_PORT, (uint32_t)(v >> 32));
}

/* PSCI SYSTEM_OFF / CPU_OFF; they do not return (a halt loop if the VMM lets them). */
_Noreturn void cv_system_off(void);
_Noreturn void cv_cpu_off(void);

/* Console on COM1: one OUT per byte (the 16550's THR; no status polling). */
void cv_putc(char c);
void cv_puts(const char *s);

/*
 * A whole line under a lock in guest memory, so that lines of several vCPUs never mix.
 * The line is a, b and c one after the other (any may be NULL), then a newline.
 */
void cv_line(const char *a, const char *b, const char *c);

/* Decimal text of v into buf (at least 21 bytes); returns buf. */
char *cv_utoa(uint64_t v, char *buf);

#endif /* CVISOR_GUEST_X86_RT_H */
