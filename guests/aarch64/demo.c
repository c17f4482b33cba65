/* SPDX-License-Identifier: MIT */
/*
 * The demo `cvisor run` runs, on bare metal: vCPU 0 starts vCPUs 1-3 with PSCI CPU_ON,
 * every vCPU prints its id, they meet at CV_HC_BARRIER, and vCPU 0 powers the VM off.
 */
#include "lib.h"

#define NCPUS 4

void guest_secondary(uint64_t vcpu, uint64_t ctx, uint64_t sctlr, uint64_t daif)
{
	(void)ctx;
	(void)sctlr;
	(void)daif;
	gprintf("hello from vCPU %u\n", (unsigned)vcpu);
	hvc_call(CV_HC_BARRIER, 0, 0, 0, 0, 0, 0);
	psci_cpu_off();
}

void guest_main(uint64_t vcpu, uint64_t boot_arg)
{
	(void)boot_arg;
	gprintf("hello from vCPU %u\n", (unsigned)vcpu);
	for (unsigned i = 1; i < NCPUS; i++) {
		int64_t r = psci_cpu_on(i, secondary_entry, i);

		if (r)
			gprintf("vCPU 0: CPU_ON(%u) failed: %ld\n", i, r);
	}
	hvc_call(CV_HC_BARRIER, 0, 0, 0, 0, 0, 0);
	gprintf("all %u vCPUs met at the barrier\n", NCPUS);
}
