/* SPDX-License-Identifier: MIT */
/*
 * Expected: vCPU 0 starts vCPUs 1-3 one at a time with PSCI CPU_ON; each reports its
 * MPIDR and context id and turns itself off; AFFINITY_INFO then says OFF, CPU_ON of a
 * running vCPU says ALREADY_ON and of a non-existent one INVALID_PARAMETERS.
 */
#include "lib.h"

static volatile uint32_t up[8];

void guest_secondary(uint64_t vcpu, uint64_t ctx)
{
	gprintf("vcpu %u: up, MPIDR_EL1 %#lx, context id %#lx\n", (unsigned)vcpu, read_sysreg(mpidr_el1), ctx);
	__atomic_store_n(&up[vcpu], 1, __ATOMIC_RELEASE);
	psci_cpu_off();
}

void guest_main(uint64_t vcpu, uint64_t boot_arg)
{
	(void)vcpu;
	(void)boot_arg;
	for (unsigned i = 1; i < 4; i++) {
		int64_t r = psci_cpu_on(i, secondary_entry, 0x100 + i);

		/* Print only once vCPU i is done, so the console order is fixed. */
		while (r == 0 && !__atomic_load_n(&up[i], __ATOMIC_ACQUIRE))
			;
		while (r == 0 && hvc_call(PSCI_AFFINITY_INFO_64, i, 0, 0, 0, 0, 0) != PSCI_AFFINITY_OFF)
			;
		gprintf("vcpu 0: CPU_ON(%u) = %ld, then AFFINITY_INFO(%u) = OFF\n", i, r, i);
	}
	gprintf("vcpu 0: CPU_ON(0) = %ld\n", psci_cpu_on(0, secondary_entry, 0));
	gprintf("vcpu 0: CPU_ON(0x10) = %ld\n", psci_cpu_on(0x10, secondary_entry, 0));
}
