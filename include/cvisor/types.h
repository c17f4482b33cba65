/* SPDX-License-Identifier: MIT */
/*
 * Basic types shared by every layer: typed addresses and checked range arithmetic.
 * Freestanding: only compiler-provided headers.
 */
#ifndef CVISOR_TYPES_H
#define CVISOR_TYPES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/*
 * Guest-physical and host-physical addresses are distinct struct types so that one
 * cannot be passed where the other is expected (Hafnium's paddr_t/ipaddr_t idea).
 * Host-virtual addresses are plain pointers.
 */
typedef struct {
	uint64_t v;
} gpa_t;

typedef struct {
	uint64_t v;
} hpa_t;

static inline gpa_t gpa(uint64_t v)
{
	return (gpa_t){ v };
}

static inline hpa_t hpa(uint64_t v)
{
	return (hpa_t){ v };
}

#define CV_ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

/*
 * True when [addr, addr + len) lies inside [base, base + size) with no wrap-around in
 * either range. Used on every guest-supplied address before it is dereferenced.
 */
static inline bool cv_range_within(uint64_t base, uint64_t size, uint64_t addr, uint64_t len)
{
	if (size == 0 || base + (size - 1) < base)
		return false;
	if (len == 0)
		return addr >= base && addr - base < size;
	if (addr + (len - 1) < addr)
		return false;
	return addr >= base && addr - base < size && len <= size - (addr - base);
}

#endif /* CVISOR_TYPES_H */
