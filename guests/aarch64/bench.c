/* SPDX-License-Identifier: MIT */
/*
 * Not a test (timings vary): the cost of each kind of exit, measured by the guest with
 * the virtual counter. Run: scripts/run-aarch64 --guest bench --smp 1
 */
#include "lib.h"

#define N 20000u

static uint64_t ns_per_op(uint64_t ticks)
{
	return ticks * 1000000000ull / read_sysreg(cntfrq_el0) / N;
}

void guest_main(uint64_t vcpu, uint64_t boot_arg)
{
	volatile uint32_t *fr = (volatile uint32_t *)(UART_BASE + 0x18);
	uint64_t t0, sink = 0;

	(void)vcpu;
	(void)boot_arg;
	t0 = read_sysreg(cntvct_el0);
	for (unsigned i = 0; i < N; i++)
		sink += hvc_call(PSCI_VERSION, 0, 0, 0, 0, 0, 0);
	gprintf("PSCI_VERSION (answered at EL2):       %lu ns\n", ns_per_op(read_sysreg(cntvct_el0) - t0));
	t0 = read_sysreg(cntvct_el0);
	for (unsigned i = 0; i < N; i++)
		sink += read_sysreg(id_aa64pfr0_el1);
	gprintf("ID register read (answered at EL2):   %lu ns\n", ns_per_op(read_sysreg(cntvct_el0) - t0));
	t0 = read_sysreg(cntvct_el0);
	for (unsigned i = 0; i < N; i++)
		sink += hvc_call(CV_HC_TEST_SUM, i, 0, 0, 0, 0, 0);
	gprintf("CV_HC_TEST_SUM (HYPERCALL to the VMM): %lu ns\n", ns_per_op(read_sysreg(cntvct_el0) - t0));
	t0 = read_sysreg(cntvct_el0);
	for (unsigned i = 0; i < N; i++)
		sink += *fr;
	gprintf("PL011 FR read (MMIO via the VM bus):  %lu ns\n", ns_per_op(read_sysreg(cntvct_el0) - t0));
	t0 = read_sysreg(cntvct_el0);
	for (unsigned i = 0; i < N; i++)
		sink += read_sysreg(mdscr_el1);
	gprintf("MDSCR_EL1 read (SYSREG via the bus):  %lu ns\n", ns_per_op(read_sysreg(cntvct_el0) - t0));
	gprintf("(%lu)\n", sink & 1);
}
