/* SPDX-License-Identifier: MIT */
/*
 * A triple fault: a page fault with no IDT (the backend starts vCPUs with an empty IDT)
 * cannot be delivered, nor can the double fault that follows (SDM Vol. 3A 6.15).
 */
#include "rt.h"

void guest_main(uint64_t boot_arg)
{
	(void)boot_arg;
	cv_report(1);
	(void)*(volatile uint64_t *)CV_TEST_UNMAPPED_VA;
	cv_report(2); /* never reached */
}
