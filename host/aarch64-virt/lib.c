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
		for (size_t i = 0; i < n; i += 8)
			*(uint64_t *)(dp + i) = *(const uint64_t *)(sp + i);
		return d;
	}
	for (size_t i = 0; i < n; i++)
		dp[i] = sp[i];
	return d;
}

void *memset(void *d, int c, size_t n)
{
	uint8_t *dp = d;

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
