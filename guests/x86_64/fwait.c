/* SPDX-License-Identifier: MIT */
/*
 * An instruction PVM cannot emulate (HOST-NOTES.md: fwait gives KVM_EXIT_INTERNAL_ERROR):
 * the backend must report an error, not crash. Where fwait runs fine, it reports 2.
 */
#include "rt.h"

void guest_main(uint64_t boot_arg)
{
	(void)boot_arg;
	cv_report(1);
	__asm__ volatile("fwait" : : : "memory");
	cv_report(2);
}
