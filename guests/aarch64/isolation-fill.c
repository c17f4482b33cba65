/* SPDX-License-Identifier: MIT */
/*
 * VM A of the isolation test (tests/aarch64/isolation.sh; issue #8): fills its RAM past
 * its own image with the pattern S (isolation.h), says "filled" and waits; when "die" is
 * typed to it, it loads from an address where it has no device, which its config's
 * unmapped_access "stop" turns into cvisor stopping the VM: a failed VM beside a running one.
 */
#include "isolation.h"

extern char __bss_end[];

void guest_main(uint64_t vcpu, uint64_t boot_arg)
{
	uint64_t from = ((uint64_t)(uintptr_t)__bss_end + 7) / 8, n = 0, found = 0;

	(void)vcpu, (void)boot_arg;
	for (uint64_t i = from - ISO_RAM_BASE / 8; i < ISO_WORDS; i++, n++)
		((volatile uint64_t *)ISO_RAM_BASE)[i] = iso_s(i);
	/* The detector of the probe guest, run where S is: it must find every word (a control). */
	for (uint64_t i = 0; i < ISO_WORDS; i++)
		if (iso_s_index(((volatile uint64_t *)ISO_RAM_BASE)[i]) < ISO_WORDS)
			found++;
	gprintf("isolation-fill: filled %lu words of its RAM with S (the detector finds %lu)\n", (unsigned long)n,
		(unsigned long)found);
	iso_wait_line("die");
	gprintf("isolation-fill: failing: a load where no device is\n");
	gprintf("isolation-fill: read %#lx\n", *(volatile uint64_t *)0x0a000000ul);
}
