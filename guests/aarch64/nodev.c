/* SPDX-License-Identifier: MIT */
/*
 * Expected: a load from a guest-physical address with no device gets a synchronous
 * external abort (the AArch64 default `abort` policy), which the guest handles and steps
 * over; then a jump outside guest RAM is a stage-2 fault on an instruction fetch, which
 * stops the VM: cvisor exits 1.
 */
#include "lib.h"

void guest_exception(uint64_t vector)
{
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
