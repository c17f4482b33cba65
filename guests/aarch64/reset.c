/* SPDX-License-Identifier: MIT */
/*
 * Expected: PSCI SYSTEM_RESET makes cvisor build a new VM from the same config
 * (DESIGN.md); this guest asks again on every boot, so after three boots cvisor gives up
 * and exits 1.
 */
#include "lib.h"

void guest_main(uint64_t vcpu, uint64_t boot_arg)
{
	(void)vcpu;
	(void)boot_arg;
	gprintf("guest: booted, asking for a reset\n");
	hvc_call(PSCI_SYSTEM_RESET, 0, 0, 0, 0, 0, 0);
	gprintf("guest: SYSTEM_RESET returned\n");
}
