/* SPDX-License-Identifier: MIT */
/*
 * VM B of the isolation test (tests/aarch64/isolation.sh; issue #8). When "go" is typed
 * (the test types it once VM A has said "filled"), it reads every word of its own RAM and
 * loads from guest-physical addresses outside its only region (below it, above it up to
 * 2 GiB where the host's RAM lies on QEMU virt, and in GiB 2-7), asking of each word read
 * whether it belongs to S (isolation.h: computed in registers; S is never made here).
 * Every probe must get a synchronous external abort (the AArch64 `abort` policy), which
 * is counted and stepped over. Then it waits for "end", says so and powers off.
 */
#include <stdbool.h>

#include "isolation.h"

#define PROBE_LOW_STEP 0x01000000ull /* 16 MiB: every host page the host's RAM could give A */
#define EC_DABT_CUR    0x25

extern uint64_t guest_l1[];
static volatile unsigned aborts, other_exceptions;
static volatile bool in_probe;

void guest_exception(uint64_t vector)
{
	uint64_t esr = read_sysreg(esr_el1);

	if (in_probe && (esr >> 26) == EC_DABT_CUR) {
		aborts++;
		in_probe = false;
		write_sysreg(read_sysreg(elr_el1) + 4, elr_el1); /* step over the one load */
		return;
	}
	other_exceptions++;
	gprintf("isolation-probe: unexpected exception (vector %u): ESR_EL1 %#lx FAR_EL1 %#lx\n", (unsigned)vector, esr,
		read_sysreg(far_el1));
	psci_system_off();
}

/* One load from ipa: true when it aborted; else *found counts a word of S. */
static bool probe(uint64_t ipa, unsigned *found)
{
	uint64_t w;

	in_probe = true;
	__asm__ volatile("mov %0, #0\n\tldr %0, [%1]" : "=&r"(w) : "r"(ipa) : "memory");
	if (!in_probe)
		return true;
	in_probe = false;
	if (iso_s_index(w) < ISO_WORDS)
		(*found)++;
	return false;
}

void guest_main(uint64_t vcpu, uint64_t boot_arg)
{
	/* Below its RAM: flash, the virtio-mmio and PCIe windows, where no device of B is. */
	static const uint64_t low[] = {0x00100000, 0x04000000, 0x0a000000, 0x10000000, 0x20000000, 0x3f000000};
	unsigned ram_found = 0, probe_found = 0, probes = 0, aborted = 0;

	(void)vcpu, (void)boot_arg;
	gprintf("isolation-probe: waiting for go\n");
	iso_wait_line("go");
	gprintf("isolation-probe: scanning its RAM and probing outside it\n");
	for (uint64_t i = 0; i < ISO_WORDS; i++)
		if (iso_s_index(((volatile uint64_t *)ISO_RAM_BASE)[i]) < ISO_WORDS)
			ram_found++;
	/* GiB 2-7 as Device memory in the stage-1 map (start.S maps the first two). */
	for (uint64_t g = 2; g < 8; g++)
		guest_l1[g] = g << 30 | 0x401 | 3ull << 53;
	__asm__ volatile("dsb ishst; tlbi vmalle1; dsb nsh; isb" ::: "memory");
	for (unsigned k = 0; k < sizeof(low) / sizeof(low[0]); k++) {
		probes++;
		aborted += probe(low[k], &probe_found);
	}
	for (uint64_t a = ISO_RAM_BASE + ISO_RAM_SIZE; a < 0x80000000ull; a += PROBE_LOW_STEP) {
		probes++;
		aborted += probe(a, &probe_found);
	}
	for (uint64_t a = 0x80000000ull; a < 0x200000000ull; a += 0x20000000ull) {
		probes++;
		aborted += probe(a, &probe_found);
	}
	gprintf("isolation-probe: %lu words of its RAM read: S found %u times\n", (unsigned long)ISO_WORDS, ram_found);
	gprintf("isolation-probe: %u loads outside its RAM: %u aborts (counted by the handler: %u), S found %u times\n",
		probes, aborted, aborts, probe_found);
	iso_wait_line("end");
	gprintf("isolation-probe: end\n");
	psci_system_off();
}
