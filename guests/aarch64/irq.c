/* SPDX-License-Identifier: MIT */
/*
 * Expected: an SGI the guest sends itself through ICC_SGI1R_EL1 traps to EL2 (SEND_IPI),
 * comes back through a GICv3 list register and is taken, acknowledged and ended through
 * the virtual CPU interface.
 */
#include "lib.h"

static volatile uint32_t got;

void guest_exception(uint64_t vector)
{
	uint64_t intid;

	if (vector != 5) { /* IRQ, current EL with SP_ELx */
		gprintf("guest: unexpected exception (vector %u): ESR_EL1 %#lx\n", (unsigned)vector,
			read_sysreg(esr_el1));
		psci_system_off();
	}
	intid = read_sysreg(S3_0_C12_C12_0); /* ICC_IAR1_EL1 */
	gprintf("guest: irq %lu\n", intid);
	write_sysreg(intid, S3_0_C12_C12_1); /* ICC_EOIR1_EL1 */
	got = 1;
}

void guest_main(uint64_t vcpu, uint64_t boot_arg)
{
	(void)vcpu;
	(void)boot_arg;
	gprintf("guest: ICC_SRE_EL1.SRE %lu\n", read_sysreg(S3_0_C12_C12_5) & 1);
	write_sysreg(0xff, S3_0_C4_C6_0); /* ICC_PMR_EL1 */
	write_sysreg(1, S3_0_C12_C12_7);  /* ICC_IGRPEN1_EL1 */
	__asm__ volatile("isb; msr daifclr, #2; isb");
	write_sysreg((3ul << 24) | 1, S3_0_C12_C11_5); /* ICC_SGI1R_EL1: SGI 3 to Aff0 0 (ourselves) */
	__asm__ volatile("isb");
	while (!got)
		__asm__ volatile("wfi");
	gprintf("guest: irq handled\n");
}
