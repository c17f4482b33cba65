/* SPDX-License-Identifier: MIT */
/*
 * Expected: SGIs the guest sends itself through ICC_SGI1R_EL1 trap to EL2 (SEND_IPI),
 * come back through GICv3 list registers and are taken, acknowledged and ended through
 * the virtual CPU interface. First one SGI; then, with interrupts masked, eight at once:
 * more than QEMU's four list registers, so the rest wait in cvisor and are refilled.
 */
#include "lib.h"

static volatile uint32_t got, count;

void guest_exception(uint64_t vector)
{
	uint64_t intid;

	if (vector != 5) { /* IRQ, current EL with SP_ELx */
		gprintf("guest: unexpected exception (vector %u): ESR_EL1 %#lx\n", (unsigned)vector,
			read_sysreg(esr_el1));
		psci_system_off();
	}
	intid = read_sysreg(S3_0_C12_C12_0); /* ICC_IAR1_EL1 */
	if (intid < 16) {
		got |= 1u << intid;
		count++;
	}
	write_sysreg(intid, S3_0_C12_C12_1); /* ICC_EOIR1_EL1 */
}

static void send_self(unsigned sgi)
{
	write_sysreg(((uint64_t)sgi << 24) | 1, S3_0_C12_C11_5); /* ICC_SGI1R_EL1: Aff0 0 (ourselves) */
	__asm__ volatile("isb");
}

void guest_main(uint64_t vcpu, uint64_t boot_arg)
{
	(void)vcpu;
	(void)boot_arg;
	gprintf("guest: ICC_SRE_EL1.SRE %lu\n", read_sysreg(S3_0_C12_C12_5) & 1);
	write_sysreg(0xff, S3_0_C4_C6_0); /* ICC_PMR_EL1 */
	write_sysreg(1, S3_0_C12_C12_7);  /* ICC_IGRPEN1_EL1 */
	__asm__ volatile("isb; msr daifclr, #2; isb");
	send_self(3);
	while (count < 1)
		__asm__ volatile("wfi");
	gprintf("guest: took SGI mask %#x\n", got);
	got = count = 0;
	__asm__ volatile("msr daifset, #2; isb");
	for (unsigned sgi = 8; sgi < 16; sgi++)
		send_self(sgi);
	__asm__ volatile("msr daifclr, #2; isb");
	while (count < 8)
		__asm__ volatile("wfi");
	gprintf("guest: took SGI mask %#x, %u interrupts\n", got, count);
}
