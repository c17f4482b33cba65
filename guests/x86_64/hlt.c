/* SPDX-License-Identifier: MIT */
/* HLT with interrupts off: a HALT exit; after it the guest goes on (reports 1). */
#include "rt.h"

void guest_main(uint64_t boot_arg)
{
	(void)boot_arg;
	__asm__ volatile("hlt" : : : "memory");
	cv_report(1);
}
