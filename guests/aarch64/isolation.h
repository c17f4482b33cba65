/* SPDX-License-Identifier: MIT */
/*
 * The pattern S of the isolation test (issue #8; tests/aarch64/isolation.sh): word i of
 * VM A's RAM (counted from the start of RAM) holds iso_s(i), a bijection of i (a seeded
 * add, two odd multiplies and two xor-shifts, each invertible mod 2^64). VM B never
 * makes S: it asks of every word w it reads whether iso_s_index(w) < ISO_WORDS, the
 * inverse computed in registers. So S is never in B's memory, and B recognises any word
 * of S, wherever it would show up.
 */
#ifndef GUEST_ISOLATION_H
#define GUEST_ISOLATION_H

#include <stdint.h>

#include "lib.h"

#define ISO_SEED     0x5eed15011a7e0000ull /* both guests know it; S itself is not in B */
#define ISO_RAM_BASE 0x40000000ull
#define ISO_RAM_SIZE (16ull << 20) /* the configs' memory_regions (both VMs: the same layout) */
#define ISO_WORDS    (ISO_RAM_SIZE / 8)
#define ISO_M1	     0x9e3779b97f4a7c15ull
#define ISO_M2	     0xbf58476d1ce4e5b9ull
#define ISO_M1_INV   0xf1de83e19937733dull /* ISO_M1 * ISO_M1_INV == 1 mod 2^64 */
#define ISO_M2_INV   0x96de1b173f119089ull

static inline uint64_t iso_s(uint64_t i)
{
	uint64_t x = (i + ISO_SEED) * ISO_M1;

	x ^= x >> 32;
	x *= ISO_M2;
	return x ^ (x >> 32);
}

/* The i with iso_s(i) == w (mod 2^64): w is a word of S when it is below ISO_WORDS. */
static inline uint64_t iso_s_index(uint64_t w)
{
	w ^= w >> 32;
	w *= ISO_M2_INV;
	w ^= w >> 32;
	return w * ISO_M1_INV - ISO_SEED;
}

#define UART_DR_OFF 0x000
#define UART_FR_OFF 0x018

/* Polls the UART until a line equal to word has been typed (other lines are ignored). */
static inline void iso_wait_line(const char *word)
{
	char line[16];
	unsigned len = 0;

	for (;;) {
		char c;

		if (*(volatile uint32_t *)(UART_BASE + UART_FR_OFF) & (1u << 4))
			continue;
		c = (char)(*(volatile uint32_t *)(UART_BASE + UART_DR_OFF) & 0xff);
		if (c == '\r')
			continue;
		if (c != '\n') {
			if (len < sizeof(line) - 1)
				line[len++] = c;
			continue;
		}
		line[len] = 0;
		for (unsigned i = 0;; i++) {
			if (line[i] != word[i])
				break;
			if (!word[i])
				return;
		}
		len = 0;
	}
}

#endif
