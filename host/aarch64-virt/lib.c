/* SPDX-License-Identifier: MIT */
/*
 * The few C library functions the compiler may call even in freestanding code (struct
 * copies and zeroing). Built with -fno-builtin -fno-tree-loop-distribute-patterns so the
 * loops below are not turned back into calls to themselves.
 */
#include "platform.h"

void *memcpy(void *d, const void *s, size_t n)
{
	uint8_t *dp = d;
	const uint8_t *sp = s;

	if ((((uintptr_t)dp | (uintptr_t)sp | n) & 7) == 0) {
		/* 64 bytes a round (ldp/stp pairs): a Linux Image is 32 MiB, copied on every VM build. */
		for (; n >= 64; n -= 64, dp += 64, sp += 64) {
			const uint64_t *s8 = (const uint64_t *)sp;
			uint64_t *d8 = (uint64_t *)dp;
			uint64_t a = s8[0], b = s8[1], c = s8[2], e = s8[3], f = s8[4], g = s8[5], h = s8[6], k = s8[7];

			d8[0] = a, d8[1] = b, d8[2] = c, d8[3] = e, d8[4] = f, d8[5] = g, d8[6] = h, d8[7] = k;
		}
		for (size_t i = 0; i < n; i += 8)
			*(uint64_t *)(dp + i) = *(const uint64_t *)(sp + i);
		return d;
	}
	for (size_t i = 0; i < n; i++)
		dp[i] = sp[i];
	return d;
}

/*
 * Zeroes [p, p + n) with DC ZVA, a cache-line-sized block per instruction (ARM ARM C5.3.21):
 * guest RAM is zeroed on every VM build (256 MiB for a Linux guest), which a store loop
 * makes a large part of a TCG boot. Only with the EL2 MMU on (DC ZVA on Device memory
 * faults) and when DCZID_EL0.DZP allows it; returns the bytes it did not zero (a tail).
 */
static size_t zero_blocks(uint8_t *p, size_t n)
{
	uint64_t dczid = read_sysreg(dczid_el0), block = 4ull << (dczid & 0xf);

	if ((dczid & (1u << 4)) || !(read_sysreg(sctlr_el2) & 1) || ((uintptr_t)p & (block - 1)))
		return n;
	for (; n >= block; n -= block, p += block)
		__asm__ volatile("dc zva, %0" : : "r"(p) : "memory");
	return n;
}

void *memset(void *d, int c, size_t n)
{
	uint8_t *dp = d;

	if (c == 0 && n >= 4096) {
		size_t rest = zero_blocks(dp, n);

		dp += n - rest;
		n = rest;
	}
	if ((((uintptr_t)dp | n) & 7) == 0 && c == 0) {
		for (size_t i = 0; i < n; i += 8)
			*(uint64_t *)(dp + i) = 0;
		return d;
	}
	for (size_t i = 0; i < n; i++)
		dp[i] = (uint8_t)c;
	return d;
}

int memcmp(const void *a, const void *b, size_t n)
{
	const uint8_t *x = a, *y = b;

	for (size_t i = 0; i < n; i++)
		if (x[i] != y[i])
			return x[i] < y[i] ? -1 : 1;
	return 0;
}

size_t strlen(const char *s)
{
	size_t n = 0;

	while (s[n])
		n++;
	return n;
}

/* ---- what Debian's arm64 libfdt.a needs besides (HOST-NOTES.md) ---- */

void *memmove(void *d, const void *s, size_t n)
{
	uint8_t *dp = d;
	const uint8_t *sp = s;

	if (dp == sp || n == 0)
		return d;
	if (dp < sp || dp >= sp + n)
		return memcpy(d, s, n);
	while (n--)
		dp[n] = sp[n];
	return d;
}

void *memchr(const void *s, int c, size_t n)
{
	const uint8_t *p = s;

	for (size_t i = 0; i < n; i++)
		if (p[i] == (uint8_t)c)
			return (void *)(uintptr_t)(p + i);
	return NULL;
}

size_t strnlen(const char *s, size_t max)
{
	size_t n = 0;

	while (n < max && s[n])
		n++;
	return n;
}

char *strchr(const char *s, int c)
{
	for (;; s++) {
		if (*s == (char)c)
			return (char *)(uintptr_t)s;
		if (!*s)
			return NULL;
	}
}

char *strrchr(const char *s, int c)
{
	const char *last = NULL;

	for (;; s++) {
		if (*s == (char)c)
			last = s;
		if (!*s)
			return (char *)(uintptr_t)last;
	}
}

/*
 * libfdt.a was built with -fstack-protector-strong: its functions compare a canary with
 * this word on return. A fixed value is enough to catch an overrun of libfdt's own frames.
 */
uintptr_t __stack_chk_guard = 0x5e3c1a2b9d4f6e70ull;
_Noreturn void __stack_chk_fail(void);
_Noreturn void __stack_chk_fail(void)
{
	hal_fatal("stack smashing detected in libfdt");
}
