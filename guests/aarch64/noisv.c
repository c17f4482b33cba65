/* SPDX-License-Identifier: MIT */
/*
 * Expected: a store pair to the UART has no instruction syndrome (ESR_EL2.ISV = 0), so
 * cvisor cannot emulate it: the guest receives a synchronous external abort at the
 * faulting address (ESR_EL1 EC 0x25, DFSC 0x10, WnR) and the hypervisor keeps running.
 */
#include "lib.h"

void guest_exception(uint64_t vector)
{
	gprintf("guest: data abort as expected (vector %u): ESR_EL1 %#lx FAR_EL1 %#lx\n", (unsigned)vector,
		read_sysreg(esr_el1), read_sysreg(far_el1));
	psci_system_off();
}

void guest_main(uint64_t vcpu, uint64_t boot_arg)
{
	(void)vcpu;
	(void)boot_arg;
	gprintf("guest: storing a register pair to the UART\n");
	__asm__ volatile("stp %1, %2, [%0]" : : "r"(UART_BASE + 0x100), "r"(1ul), "r"(2ul) : "memory");
	gprintf("guest: the store pair did not fault\n");
}
