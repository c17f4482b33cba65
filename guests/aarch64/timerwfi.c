/* SPDX-License-Identifier: MIT */
/*
 * Expected (two vCPUs on one physical CPU): a vCPU waiting in WFI for its virtual timer
 * leaves the CPU to the other. vCPU 1 spins, counting, until vCPU 0 is done. vCPU 0
 * sleeps 4 x 40 ms in WFI, each wait ended by its timer's interrupt at or after the
 * deadline, and checks that vCPU 1 counted on during its sleeps (a WFI that kept the
 * CPU at EL2 would starve it in every one: EL2 is never preempted) and that it
 * never returned from WFI without an interrupt (a busy wait). vCPU 1 prints how much of
 * its time it lost ("timer-share" line: informative, the host machine's load shows in it
 * too). Then vCPU 0 halts with its timer off (the VMM parks it) until vCPU 1's SGI.
 */
#include "lib.h"

static volatile uint32_t taken, started1, done0, done1;
static volatile uint64_t taken_at, progress;

void guest_exception(uint64_t vector)
{
	uint64_t intid;

	if (vector != 5) {
		gprintf("guest: unexpected exception (vector %u): ESR_EL1 %#lx\n", (unsigned)vector,
			read_sysreg(esr_el1));
		psci_system_off();
	}
	intid = read_sysreg(S3_0_C12_C12_0);
	if (intid == 27) {
		__asm__ volatile("isb");
		taken_at = read_sysreg(cntvct_el0);
		write_sysreg(read_sysreg(cntv_ctl_el0) | 2, cntv_ctl_el0); /* IMASK */
		taken++;
	}
	if (intid < 1020)
		write_sysreg(intid, S3_0_C12_C12_1);
}

void guest_secondary(uint64_t vcpu, uint64_t ctx, uint64_t sctlr, uint64_t daif)
{
	uint64_t freq = read_sysreg(cntfrq_el0), start, last, stolen = 0, gaps = 0;

	(void)vcpu, (void)ctx, (void)sctlr, (void)daif;
	start = last = read_sysreg(cntvct_el0);
	started1 = 1;
	while (!done0) {
		uint64_t now = read_sysreg(cntvct_el0);

		if (now - last > freq / 10000) /* over 100 us: someone else had the CPU */
			stolen += now - last, gaps++;
		last = now;
		progress++;
	}
	gprintf("vcpu 1: spun until vCPU 0 was done\n");
	gprintf("timer-share: vcpu 1 lost %lu us of %lu us in %lu gaps\n", stolen * 1000000 / freq,
		(last - start) * 1000000 / freq, gaps);
	__atomic_store_n(&done1, 1, __ATOMIC_RELEASE);
	write_sysreg(1ul << 24 | 1, S3_0_C12_C11_5); /* ICC_SGI1R_EL1: SGI 1 to Aff0 0 (vCPU 0) */
	__asm__ volatile("isb");
	psci_cpu_off();
}

void guest_main(uint64_t vcpu, uint64_t boot_arg)
{
	uint64_t freq = read_sysreg(cntfrq_el0), period = freq * 40 / 1000;
	unsigned early = 0, wakes = 0, starved = 0;

	(void)vcpu, (void)boot_arg;
	write_sysreg(0xff, S3_0_C4_C6_0);
	write_sysreg(1, S3_0_C12_C12_7);
	__asm__ volatile("isb; msr daifclr, #2; isb");
	psci_cpu_on(1, secondary_entry, 0);
	while (!started1) /* until a time slice of ours ends and vCPU 1 runs */
		;
	for (unsigned i = 0; i < 4; i++) {
		uint64_t cval = read_sysreg(cntvct_el0) + period, before = progress;

		write_sysreg(cval, cntv_cval_el0);
		write_sysreg(1, cntv_ctl_el0);
		__asm__ volatile("isb");
		/* Checked and slept masked: an interrupt between the check and the WFI would be missed. */
		__asm__ volatile("msr daifset, #2; isb" ::: "memory");
		while (taken == i) {
			__asm__ volatile("wfi; msr daifclr, #2; isb; msr daifset, #2; isb" ::: "memory");
			wakes++;
		}
		__asm__ volatile("msr daifclr, #2; isb" ::: "memory");
		if (taken_at < cval)
			early++;
		if (progress == before)
			starved++;
	}
	write_sysreg(0, cntv_ctl_el0);
	gprintf("vcpu 0: slept 4 x 40 ms in WFI, woken by its timer %u times, %u early, %s\n", taken, early,
		wakes == 4 ? "never woken without an interrupt" : "WOKEN WITHOUT AN INTERRUPT");
	/* A WFI that kept the CPU at EL2 starves vCPU 1 in every sleep; a host stall may in one. */
	gprintf("vcpu 0: vCPU 1 ran while it slept: %s\n", starved <= 2 ? "yes" : "NO");
	gprintf("timer-sleeps: vCPU 1 ran during %u of the 4 sleeps\n", 4 - starved);
	done0 = 1; /* after our lines, so vCPU 1's come after them */
	/* Timer off: this WFI is a HALT, parked in the VMM until vCPU 1's SGI. */
	__asm__ volatile("msr daifset, #2; isb" ::: "memory");
	while (!__atomic_load_n(&done1, __ATOMIC_ACQUIRE))
		__asm__ volatile("wfi; msr daifclr, #2; isb; msr daifset, #2; isb" ::: "memory");
	__asm__ volatile("msr daifclr, #2; isb" ::: "memory");
	gprintf("vcpu 0: both done\n");
}
