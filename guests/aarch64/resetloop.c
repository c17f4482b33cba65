/* SPDX-License-Identifier: MIT */
/*
 * Run from a config (a VM that resets as often as its guest asks): resets itself until
 * it has booted RESETLOOP_BOOTS times, then powers off. cvisor builds a new VM, with a
 * new VMID and freshly zeroed RAM, on every reset: the test is that VMIDs are reused
 * (review item 1: 8-bit VMIDs ran out after 255 boots) and that the RAM is zeroed.
 * The boot number comes from the embedder (CV_A64_HC_BOOT): the RAM does not survive.
 */
#include "lib.h"

extern char __bss_end[]; /* guest.ld: past this image, its stacks and its print lock */

#define RESETLOOP_BOOTS 301
#define CV_A64_HC_BOOT	0xC6000101u
#define RAM_BASE	0x40000000ul
#define RAM_SCAN_TO	(RAM_BASE + 0x100000ul) /* the config's 1 MiB */
#define DIRTY_PATTERN	0x5eedf00dcafe0001ull

void guest_main(uint64_t vcpu, uint64_t boot_arg)
{
	uint64_t boot = hvc_call(CV_A64_HC_BOOT, 0, 0, 0, 0, 0, 0);
	unsigned long dirty = 0;

	(void)vcpu;
	(void)boot_arg;
	/* What the last boot left in RAM must be gone: a fresh VM's RAM reads as zero. */
	for (volatile uint64_t *p = (volatile uint64_t *)(((uint64_t)(uintptr_t)__bss_end + 15) & ~15ull);
	     p < (volatile uint64_t *)RAM_SCAN_TO; p++) {
		if (*p)
			dirty++;
		*p = DIRTY_PATTERN;
	}
	if (dirty) {
		gprintf("resetloop: boot %lu: %lu words not zero\n", (unsigned long)boot, dirty);
		psci_system_off();
	}
	if (boot + 1 < RESETLOOP_BOOTS)
		hvc_call(PSCI_SYSTEM_RESET, 0, 0, 0, 0, 0, 0);
	gprintf("resetloop: booted %lu times, RAM zero every time\n", (unsigned long)boot + 1);
	psci_system_off();
}
