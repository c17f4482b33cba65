/* SPDX-License-Identifier: MIT */
/* The x86_64 test guests' runtime: console, power, and the default secondary entry. */
#include "rt.h"

_Static_assert(PSCI_CPU_OFF == 0x84000002u && CV_X86_HC_PORT == 0xe0u, "start.S's copies of guest_abi.h values");

static volatile uint32_t console_lock;

void cv_putc(char c)
{
	cv_outb(CV_X86_COM1_PORT, (uint8_t)c);
}

void cv_puts(const char *s)
{
	while (*s)
		cv_putc(*s++);
}

void cv_line(const char *a, const char *b, const char *c)
{
	/* A test-and-set lock: xchg is atomic with memory (SDM Vol. 2B XCHG). */
	while (__atomic_exchange_n(&console_lock, 1, __ATOMIC_ACQUIRE))
		cv_pause();
	if (a)
		cv_puts(a);
	if (b)
		cv_puts(b);
	if (c)
		cv_puts(c);
	cv_putc('\n');
	__atomic_store_n(&console_lock, 0, __ATOMIC_RELEASE);
}

char *cv_utoa(uint64_t v, char *buf)
{
	char tmp[21];
	int n = 0, i = 0;

	do {
		tmp[n++] = (char)('0' + v % 10);
		v /= 10;
	} while (v);
	while (n)
		buf[i++] = tmp[--n];
	buf[i] = 0;
	return buf;
}

_Noreturn void cv_system_off(void)
{
	cv_hypercall(PSCI_SYSTEM_OFF, 0, 0, 0, 0, 0, 0);
	for (;;)
		__asm__ volatile("cli; hlt");
}

_Noreturn void cv_cpu_off(void)
{
	cv_hypercall(PSCI_CPU_OFF, 0, 0, 0, 0, 0, 0);
	for (;;)
		__asm__ volatile("cli; hlt");
}

/* Guests that start no secondary vCPU need not define it. */
__attribute__((weak)) void guest_secondary(uint64_t arg)
{
	(void)arg;
}
