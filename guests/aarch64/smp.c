/* SPDX-License-Identifier: MIT */
/*
 * Expected: vCPU 0 starts vCPUs 1-3 one at a time with PSCI CPU_ON; each reports the
 * physical CPU it runs on, its MPIDR and context id, and the reset state it entered in,
 * then turns itself off; AFFINITY_INFO then says OFF. vCPU 1 is started a second time
 * after its CPU_OFF, with a new context id, from reset state again (DEN0022 5.6). CPU_ON
 * of a running vCPU says ALREADY_ON, of a non-existent one INVALID_PARAMETERS.
 */
#include "lib.h"

static volatile uint32_t up[8];

void guest_secondary(uint64_t vcpu, uint64_t ctx, uint64_t sctlr, uint64_t daif)
{
	gprintf("vcpu %u: up on pCPU %lu, MPIDR_EL1 %#lx, context id %#lx, entered with MMU %s, DAIF %#lx\n",
		(unsigned)vcpu, hvc_call(CV_A64_HC_PCPU, 0, 0, 0, 0, 0, 0), read_sysreg(mpidr_el1), ctx,
		(sctlr & 1) ? "on" : "off", daif);
	__atomic_store_n(&up[vcpu], 1, __ATOMIC_RELEASE);
	psci_cpu_off();
}

static void start_and_wait(unsigned i, uint64_t ctx)
{
	int64_t r;

	up[i] = 0;
	r = psci_cpu_on(i, secondary_entry, ctx);
	/* Print only once vCPU i is done, so the console order is fixed. */
	while (r == 0 && !__atomic_load_n(&up[i], __ATOMIC_ACQUIRE))
		;
	while (r == 0 && hvc_call(PSCI_AFFINITY_INFO_64, i, 0, 0, 0, 0, 0) != PSCI_AFFINITY_OFF)
		;
	gprintf("vcpu 0: CPU_ON(%u) = %ld, then AFFINITY_INFO(%u) = OFF\n", i, r, i);
}

void guest_main(uint64_t vcpu, uint64_t boot_arg)
{
	(void)vcpu;
	(void)boot_arg;
	gprintf("vcpu 0: on pCPU %lu\n", hvc_call(CV_A64_HC_PCPU, 0, 0, 0, 0, 0, 0));
	for (unsigned i = 1; i < 4; i++)
		start_and_wait(i, 0x100 + i);
	start_and_wait(1, 0x201);
	gprintf("vcpu 0: CPU_ON(0) = %ld\n", psci_cpu_on(0, secondary_entry, 0));
	gprintf("vcpu 0: CPU_ON(0x10) = %ld\n", psci_cpu_on(0x10, secondary_entry, 0));
}
