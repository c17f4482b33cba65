/* SPDX-License-Identifier: MIT */
/*
 * PSCI CPU_ON of vCPU 1 at cv_secondary_entry with a context id. vCPU 0 reports the
 * CPU_ON result, then halts until the test has run vCPU 1; vCPU 1 records and reports
 * its context id (rax at entry) and turns itself off; vCPU 0 then reports what vCPU 1
 * stored, which proves vCPU 1 ran from its entry with its argument.
 */
#include "rt.h"

#define CONTEXT_ID 0xc0ffee0012345678ull

static volatile uint64_t seen_arg;

void guest_secondary(uint64_t arg)
{
	seen_arg = arg;
	cv_report(arg);
}

void guest_main(uint64_t boot_arg)
{
	(void)boot_arg;
	cv_report((uint64_t)cv_psci_cpu_on(cv_vcpu_to_cpu_id(1), cv_secondary_entry, CONTEXT_ID));
	__asm__ volatile("hlt" : : : "memory");
	cv_report(seen_arg);
	/* CPU_ON of a target that is on: the VMM's answer comes back. */
	cv_report((uint64_t)cv_psci_cpu_on(cv_vcpu_to_cpu_id(1), cv_secondary_entry, 1));
}
