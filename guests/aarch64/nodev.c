/* SPDX-License-Identifier: MIT */
/*
 * Expected: a load from a guest-physical address with no device gets a synchronous
 * external abort (the AArch64 default `abort` policy), which the guest handles and steps
 * over; then a jump outside guest RAM, a fetch from an IPA with no memory, gets the
 * instruction abort a bus error gives (EC 0x21, IFSC 0x10, FAR the target), after
 * which the guest powers off: cvisor exits 0. (It used to stop the VM.)
 */
#include "lib.h"

void guest_exception(uint64_t vector)
{
	if (read_sysreg(esr_el1) >> 26 == 0x21) { /* instruction abort: nothing to step over */
		gprintf("guest: instruction abort (vector %u): ESR_EL1 %#lx FAR_EL1 %#lx; powering off\n",
			(unsigned)vector, read_sysreg(esr_el1), read_sysreg(far_el1));
		psci_system_off();
	}
	gprintf("guest: exception (vector %u): ESR_EL1 %#lx FAR_EL1 %#lx; skipping the load\n", (unsigned)vector,
		read_sysreg(esr_el1), read_sysreg(far_el1));
	write_sysreg(read_sysreg(elr_el1) + 4, elr_el1);
}

void guest_main(uint64_t vcpu, uint64_t boot_arg)
{
	(void)vcpu;
	(void)boot_arg;
	gprintf("guest: loading from 0xa000000, where no device is\n");
	gprintf("guest: read %#x\n", *(volatile uint32_t *)0x0a000000ul);
	gprintf("guest: jumping to 0x41000000, outside guest RAM\n");
	((void (*)(void))0x41000000ul)();
}
