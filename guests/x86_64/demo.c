/* SPDX-License-Identifier: MIT */
/*
 * The demo guest of `cvisor run`. vCPU 0 prints its line, starts vCPUs 1, 2, ... with
 * PSCI CPU_ON (context id = the vCPU's index) until the VMM answers anything but
 * SUCCESS (INVALID_PARAMETERS: no such vCPU), or until the count given as boot argument
 * (rsi) when that is 1-64. Every vCPU prints its line, all meet at CV_HC_BARRIER, then
 * vCPU 0 prints the last line and calls SYSTEM_OFF; the others CPU_OFF.
 *
 * Exact output with N vCPUs, one line per vCPU (lines never mix: a lock in guest memory
 * guards each line); "vcpu 0 up" comes first, the lines of vCPUs 1..N-1 follow in any
 * order, and the last line comes after all of them:
 *   vcpu 0 up
 *   vcpu 1 up
 *   ...
 *   vcpu <N-1> up
 *   demo: all <N> vCPUs met
 */
#include "rt.h"

#define MAX_VCPUS 64

static volatile uint32_t lines_done; /* secondaries that have printed their line */

static void say_up(uint64_t id)
{
	char num[21];

	cv_line("vcpu ", cv_utoa(id, num), " up");
}

void guest_secondary(uint64_t id)
{
	say_up(id);
	__atomic_fetch_add(&lines_done, 1, __ATOMIC_RELEASE);
	cv_hypercall(CV_HC_BARRIER, 0, 0, 0, 0, 0, 0);
	/* start.S turns this vCPU off on return. */
}

void guest_main(uint64_t boot_arg)
{
	uint64_t max = (boot_arg >= 1 && boot_arg <= MAX_VCPUS) ? boot_arg : MAX_VCPUS;
	uint64_t n = 1, ret;
	char num[21];

	say_up(0);
	while (n < max && cv_psci_cpu_on(cv_vcpu_to_cpu_id((unsigned)n), cv_secondary_entry, n) == PSCI_RET_SUCCESS)
		n++;
	ret = cv_hypercall(CV_HC_BARRIER, 0, 0, 0, 0, 0, 0);
	if (ret != 0)
		cv_line("demo: barrier returned ", cv_utoa(ret, num), NULL);
	/* The barrier orders the lines; this wait only guards against a VMM without one. */
	while (__atomic_load_n(&lines_done, __ATOMIC_ACQUIRE) < n - 1)
		cv_pause();
	cv_line("demo: all ", cv_utoa(n, num), " vCPUs met");
}
