/* SPDX-License-Identifier: MIT */
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>

#include "lib.h"

static volatile uint32_t *const uart = (volatile uint32_t *)UART_BASE;
static int print_lock;

static void uart_putc(char c)
{
	while (uart[0x18 / 4] & (1u << 5)) /* FR.TXFF */
		;
	uart[0] = (uint8_t)c;
}

static void put_num(char *buf, size_t *n, size_t cap, uint64_t v, unsigned base, int width, bool zero, bool alt)
{
	char tmp[24];
	int k = 0;

	do {
		unsigned d = v % base;
		tmp[k++] = (char)(d < 10 ? '0' + d : 'a' + d - 10);
		v /= base;
	} while (v);
	if (alt && *n + 2 < cap) {
		buf[(*n)++] = '0';
		buf[(*n)++] = 'x';
	}
	for (; width > k && *n < cap; width--)
		buf[(*n)++] = zero ? '0' : ' ';
	while (k && *n < cap)
		buf[(*n)++] = tmp[--k];
}

void gprintf(const char *fmt, ...)
{
	char buf[200];
	size_t n = 0, cap = sizeof(buf);
	va_list ap;

	va_start(ap, fmt);
	for (; *fmt && n < cap; fmt++) {
		bool zero = false, alt = false, lng = false;
		int width = 0;

		if (*fmt != '%') {
			buf[n++] = *fmt;
			continue;
		}
		fmt++;
		if (*fmt == '#') {
			alt = true;
			fmt++;
		}
		if (*fmt == '0')
			zero = true;
		while (*fmt >= '0' && *fmt <= '9')
			width = width * 10 + (*fmt++ - '0');
		while (*fmt == 'l') {
			lng = true;
			fmt++;
		}
		switch (*fmt) {
		case 's':
			for (const char *s = va_arg(ap, const char *); *s && n < cap; s++)
				buf[n++] = *s;
			break;
		case 'c':
			buf[n++] = (char)va_arg(ap, int);
			break;
		case 'd': {
			int64_t v = lng ? va_arg(ap, int64_t) : va_arg(ap, int);
			if (v < 0 && n < cap) {
				buf[n++] = '-';
				v = -v;
			}
			put_num(buf, &n, cap, (uint64_t)v, 10, width, zero, false);
			break;
		}
		case 'u':
			put_num(buf, &n, cap, lng ? va_arg(ap, uint64_t) : va_arg(ap, unsigned), 10, width, zero,
				false);
			break;
		case 'x':
			put_num(buf, &n, cap, lng ? va_arg(ap, uint64_t) : va_arg(ap, unsigned), 16, width, zero, alt);
			break;
		default:
			buf[n++] = *fmt;
			break;
		}
	}
	va_end(ap);
	while (__atomic_exchange_n(&print_lock, 1, __ATOMIC_ACQUIRE))
		;
	for (size_t i = 0; i < n; i++)
		uart_putc(buf[i]);
	__atomic_store_n(&print_lock, 0, __ATOMIC_RELEASE);
}

uint64_t hvc_call(uint64_t fn, uint64_t a1, uint64_t a2, uint64_t a3, uint64_t a4, uint64_t a5, uint64_t a6)
{
	register uint64_t x0 __asm__("x0") = fn, x1 __asm__("x1") = a1, x2 __asm__("x2") = a2, x3 __asm__("x3") = a3,
			     x4 __asm__("x4") = a4, x5 __asm__("x5") = a5, x6 __asm__("x6") = a6;

	__asm__ volatile("hvc #0"
			 : "+r"(x0), "+r"(x1), "+r"(x2), "+r"(x3), "+r"(x4), "+r"(x5), "+r"(x6)
			 :
			 : "x7", "x8", "x9", "x10", "x11", "x12", "x13", "x14", "x15", "x16", "x17", "memory");
	return x0;
}

uint64_t smc_call(uint64_t fn, uint64_t a1, uint64_t a2, uint64_t a3, uint64_t a4, uint64_t a5, uint64_t a6)
{
	register uint64_t x0 __asm__("x0") = fn, x1 __asm__("x1") = a1, x2 __asm__("x2") = a2, x3 __asm__("x3") = a3,
			     x4 __asm__("x4") = a4, x5 __asm__("x5") = a5, x6 __asm__("x6") = a6;

	__asm__ volatile("smc #0"
			 : "+r"(x0), "+r"(x1), "+r"(x2), "+r"(x3), "+r"(x4), "+r"(x5), "+r"(x6)
			 :
			 : "x7", "x8", "x9", "x10", "x11", "x12", "x13", "x14", "x15", "x16", "x17", "memory");
	return x0;
}

int64_t psci_cpu_on(uint64_t target, void (*entry)(void), uint64_t ctx)
{
	return (int64_t)hvc_call(PSCI_CPU_ON_64, target, (uint64_t)(uintptr_t)entry, ctx, 0, 0, 0);
}

void psci_cpu_off(void)
{
	hvc_call(PSCI_CPU_OFF, 0, 0, 0, 0, 0, 0);
	for (;;)
		__asm__ volatile("wfi");
}

void psci_system_off(void)
{
	hvc_call(PSCI_SYSTEM_OFF, 0, 0, 0, 0, 0, 0);
	for (;;)
		__asm__ volatile("wfi");
}

__attribute__((weak)) void guest_exception(uint64_t vector)
{
	gprintf("guest: exception (vector %u): ESR_EL1 %#lx FAR_EL1 %#lx\n", (unsigned)vector, read_sysreg(esr_el1),
		read_sysreg(far_el1));
	psci_system_off();
}

__attribute__((weak)) void guest_secondary(uint64_t vcpu, uint64_t ctx, uint64_t sctlr, uint64_t daif)
{
	(void)vcpu;
	(void)ctx;
	(void)sctlr;
	(void)daif;
	psci_cpu_off();
}

void *memset(void *d, int c, size_t n);
void *memset(void *d, int c, size_t n)
{
	volatile uint8_t *p = d;

	while (n--)
		*p++ = (uint8_t)c;
	return d;
}
