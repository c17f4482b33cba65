/* SPDX-License-Identifier: MIT */
/* Expected: a load from a guest-physical address with no device stops the VM: cvisor exits 1. */
#include "lib.h"

void guest_main(uint64_t vcpu, uint64_t boot_arg)
{
	(void)vcpu;
	(void)boot_arg;
	gprintf("guest: loading from 0xa000000, where no device is\n");
	gprintf("guest: read %#x\n", *(volatile uint32_t *)0x0a000000ul);
}
