/* SPDX-License-Identifier: MIT */
/*
 * PSCI power: reports its boot argument (rsi), then SYSTEM_RESET when that is 1, else
 * SYSTEM_OFF. Nothing after either call runs.
 */
#include "rt.h"

void guest_main(uint64_t boot_arg)
{
	cv_report(boot_arg);
	if (boot_arg == 1)
		cv_hypercall(PSCI_SYSTEM_RESET, 0, 0, 0, 0, 0, 0);
	else
		cv_hypercall(PSCI_SYSTEM_OFF, 0, 0, 0, 0, 0, 0);
	cv_report(0xdead);
}
