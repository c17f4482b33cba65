/* SPDX-License-Identifier: MIT */
/*
 * Expected: with no emulated GIC (the backend's own list registers), the virtual timer keeps
 * ticking while SGIs from the other vCPU arrive all the time. vCPU 0 runs 600 timer
 * periods of 0.5 ms, each ended with the timer's interrupt (WFI in between); vCPU 1 sends it
 * SGI 1 in a loop. The timer's list register carries LR.EOI: after the guest's EOI it is
 * invalid but still the record that makes EL2 unmask PPI 27 on the next entry. An SGI
 * injected in between must not take that LR, or the timer stays masked and a tick is lost
 * (a review finding: "tick N LOST" within the first few hundred periods).
 */
#include "lib.h"

#define TICKS 600u

static volatile uint32_t ticks, sgis, stop;

void guest_exception(uint64_t vector)
{
	uint64_t intid;

	if (vector != 5) {
		gprintf("guest: unexpected exception (vector %u): ESR_EL1 %#lx\n", (unsigned)vector,
			read_sysreg(esr_el1));
		psci_system_off();
	}
	intid = read_sysreg(S3_0_C12_C12_0); /* ICC_IAR1_EL1 */
	if (intid == 27) {
		write_sysreg(0, cntv_ctl_el0); /* quiet the level */
		__asm__ volatile("isb");
		ticks++;
	} else if (intid < 16) {
		sgis++;
	}
	write_sysreg(intid, S3_0_C12_C12_1); /* ICC_EOIR1_EL1 */
}

void guest_secondary(uint64_t vcpu, uint64_t ctx, uint64_t sctlr, uint64_t daif)
{
	(void)vcpu, (void)ctx, (void)sctlr, (void)daif;
	while (!stop) {
		write_sysreg(((uint64_t)1 << 24) | 1, S3_0_C12_C11_5); /* ICC_SGI1R_EL1: SGI 1 to vCPU 0 */
		__asm__ volatile("isb");
		for (volatile int i = 0; i < 200; i++)
			;
	}
	psci_cpu_off();
}

void guest_main(uint64_t vcpu, uint64_t boot_arg)
{
	uint64_t freq = read_sysreg(cntfrq_el0);

	(void)vcpu, (void)boot_arg;
	write_sysreg(0xff, S3_0_C4_C6_0); /* ICC_PMR_EL1 */
	write_sysreg(1, S3_0_C12_C12_7);  /* ICC_IGRPEN1_EL1 */
	__asm__ volatile("isb; msr daifclr, #2; isb");
	psci_cpu_on(1, secondary_entry, 0);
	for (unsigned i = 0; i < TICKS; i++) {
		uint32_t old = ticks;
		uint64_t start = read_sysreg(cntvct_el0);

		write_sysreg(start + freq / 2000, cntv_cval_el0); /* 0.5 ms */
		write_sysreg(1, cntv_ctl_el0);
		__asm__ volatile("isb");
		while (ticks == old) {
			if (read_sysreg(cntvct_el0) - start > freq) { /* 1 s late */
				gprintf("guest: tick %u LOST (CNTV_CTL %#lx, %u SGIs so far)\n", i,
					read_sysreg(cntv_ctl_el0), sgis);
				stop = 1;
				psci_system_off();
			}
			__asm__ volatile("wfi");
		}
	}
	stop = 1;
	/* The SGIs must really have come in between (their count varies from run to run). */
	gprintf("guest: %u timer ticks, SGIs taken in between: %s\n", TICKS, sgis >= 100 ? "ok" : "TOO FEW");
}
