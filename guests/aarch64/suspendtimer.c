/* SPDX-License-Identifier: MIT */
/*
 * Expected: PSCI CPU_SUSPEND (a standby power state) returns when the vCPU's own armed
 * virtual timer fires (DEN0022 5.4.2: a wake-up event ends the standby), even with
 * PSTATE.I masked and no other interrupt coming: not before the deadline, and well
 * before the test's timeout. A review finding: it used to be a plain HALT that only an
 * interrupt queued by the VMM could end, so the vCPU slept for good.
 */
#include "lib.h"

void guest_exception(uint64_t vector)
{
	gprintf("guest: unexpected exception (vector %u): ESR_EL1 %#lx\n", (unsigned)vector, read_sysreg(esr_el1));
	psci_system_off();
}

void guest_main(uint64_t vcpu, uint64_t boot_arg)
{
	uint64_t freq = read_sysreg(cntfrq_el0), t0, t1;
	int64_t r;

	(void)vcpu;
	(void)boot_arg;
	write_sysreg(0xff, S3_0_C4_C6_0);
	write_sysreg(1, S3_0_C12_C12_7);
	__asm__ volatile("msr daifset, #2; isb"); /* masked: CPU_SUSPEND must still return (a wake-up event) */
	t0 = read_sysreg(cntvct_el0);
	write_sysreg(t0 + freq / 100, cntv_cval_el0); /* 10 ms */
	write_sysreg(1, cntv_ctl_el0);
	__asm__ volatile("isb");
	gprintf("guest: CPU_SUSPEND(standby) with the timer 10 ms ahead\n");
	r = (int64_t)hvc_call(PSCI_CPU_SUSPEND_64, 0, 0, 0, 0, 0, 0);
	t1 = read_sysreg(cntvct_el0);
	/* The bound is loose: a loaded host may run the vCPU late, never early. */
	gprintf("guest: CPU_SUSPEND returned %ld, %s\n", (long)r,
		t1 - t0 < freq / 100 ? "BEFORE the deadline"
		: t1 - t0 > 5 * freq ? "more than 5 s late"
				     : "at the timer");
}
