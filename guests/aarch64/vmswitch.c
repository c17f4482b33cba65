/* SPDX-License-Identifier: MIT */
/*
 * Bench guest (bench/linux/multivm.sh; issue #8): the cost of a vCPU switch on one pCPU.
 * Each vCPU (vCPU 0, and vCPU 1 when its VM has one: PSCI CPU_ON) makes VMSWITCH_ITERS
 * CV_A64_HC_YIELD hypercalls, each of which hands the pCPU to the next runnable task, and
 * times the middle half of them with the virtual counter (the vCPUs sharing the pCPU
 * start a little apart; in the middle all of them are in the loop). Alone on its pCPU a
 * yield comes straight back (a hypercall's cost); with two vCPUs (of one VM or of two)
 * each yield is a switch to the other. Prints the middle half's ns per yield.
 */
#include <stdbool.h>

#include "lib.h"

#define VMSWITCH_ITERS	10000u
#define CV_A64_HC_YIELD 0xC6000102u

static void run(uint64_t vcpu)
{
	uint64_t freq = read_sysreg(cntfrq_el0), t0 = 0, t1 = 0;

	for (unsigned i = 0; i < VMSWITCH_ITERS; i++) {
		if (i == VMSWITCH_ITERS / 4) {
			__asm__ volatile("isb");
			t0 = read_sysreg(cntvct_el0);
		}
		if (i == VMSWITCH_ITERS * 3 / 4) {
			__asm__ volatile("isb");
			t1 = read_sysreg(cntvct_el0);
		}
		hvc_call(CV_A64_HC_YIELD, 0, 0, 0, 0, 0, 0);
	}
	gprintf("vmswitch: vcpu %lu: %lu ns per yield\n", (unsigned long)vcpu,
		(unsigned long)((t1 - t0) * 1000000000ull / freq / (VMSWITCH_ITERS / 2)));
}

static volatile unsigned done;

void guest_secondary(uint64_t vcpu, uint64_t ctx, uint64_t sctlr, uint64_t daif)
{
	(void)ctx, (void)sctlr, (void)daif;
	run(vcpu);
	__atomic_fetch_add(&done, 1, __ATOMIC_SEQ_CST);
	psci_cpu_off();
}

void guest_main(uint64_t vcpu, uint64_t boot_arg)
{
	bool two;

	(void)boot_arg;
	two = psci_cpu_on(1, secondary_entry, 0) == 0; /* fails when the VM has one vCPU */
	run(vcpu);
	while (two && !__atomic_load_n(&done, __ATOMIC_SEQ_CST))
		hvc_call(CV_A64_HC_YIELD, 0, 0, 0, 0, 0, 0);
	psci_system_off();
}
