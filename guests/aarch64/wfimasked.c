/* SPDX-License-Identifier: MIT */
/*
 * Expected: a WFI with PSTATE.I masked completes while a virtual interrupt is pending
 * (ARM ARM D1.16.2: WFI wakes on a pending interrupt whatever its PSTATE mask), with no
 * emulated GIC (the SGI sits in one of the backend's list registers), and the interrupt
 * is taken once the guest unmasks. Hanging in the WFI is the failure (the run times out).
 */
#include "lib.h"

static volatile uint32_t count;

void guest_exception(uint64_t vector)
{
	uint64_t intid;

	if (vector != 5) {
		gprintf("guest: unexpected exception (vector %u): ESR_EL1 %#lx\n", (unsigned)vector,
			read_sysreg(esr_el1));
		psci_system_off();
	}
	intid = read_sysreg(S3_0_C12_C12_0);
	if (intid < 16)
		count++;
	write_sysreg(intid, S3_0_C12_C12_1);
}

void guest_main(uint64_t vcpu, uint64_t boot_arg)
{
	(void)vcpu;
	(void)boot_arg;
	write_sysreg(0xff, S3_0_C4_C6_0);
	write_sysreg(1, S3_0_C12_C12_7);
	__asm__ volatile("msr daifset, #2; isb");
	write_sysreg(((uint64_t)3 << 24) | 1, S3_0_C12_C11_5); /* SGI 3 to ourselves */
	__asm__ volatile("isb");
	for (volatile int i = 0; i < 100000; i++)
		;
	gprintf("guest: WFI with I masked and SGI 3 pending...\n");
	__asm__ volatile("wfi");
	gprintf("guest: WFI returned\n");
	__asm__ volatile("msr daifclr, #2; isb");
	while (count < 1)
		;
	gprintf("guest: took it\n");
}
