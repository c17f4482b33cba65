/* SPDX-License-Identifier: MIT */
/*
 * Expected (run on one physical CPU): two vCPUs time-share it. Each fills V0-V31 and
 * FPCR with its own pattern and keeps the CPU busy across many time slices (cvisor
 * preempts a spinning guest with the EL2 timer), counting slices it notices through
 * the virtual counter; then each checks its registers, its TPIDR_EL1 and its VBAR_EL1:
 * lazy FP/SIMD switching and the EL1 register switch keep the two apart.
 */
#include "lib.h"

uint64_t fp_fill(uint64_t pattern);
uint64_t fp_check(uint64_t pattern);

static volatile uint32_t done[2];

static void work(uint64_t vcpu)
{
	uint64_t pattern = (vcpu + 1) << 32, freq = read_sysreg(cntfrq_el0), start, last, gaps = 0, bad;

	write_sysreg(read_sysreg(cpacr_el1) | (3ul << 20), cpacr_el1); /* CPACR_EL1.FPEN: FP at EL1 */
	__asm__ volatile("isb");
	write_sysreg(0x1000 + vcpu, tpidr_el1);
	fp_fill(pattern);
	start = last = read_sysreg(cntvct_el0);
	/* Busy for 300 ms of counter time; a jump over 2 ms means another vCPU ran meanwhile. */
	while (last - start < freq * 3 / 10) {
		uint64_t now = read_sysreg(cntvct_el0);

		if (now - last > freq / 500)
			gaps++;
		last = now;
	}
	bad = fp_check(pattern);
	gprintf("vcpu %u: FP/SIMD registers %s, TPIDR_EL1 %s, VBAR_EL1 %s, %s\n", (unsigned)vcpu,
		bad ? "CORRUPTED" : "intact", read_sysreg(tpidr_el1) == 0x1000 + vcpu ? "intact" : "CORRUPTED",
		read_sysreg(vbar_el1) ? "set" : "LOST", gaps >= 2 ? "was preempted" : "was NOT preempted");
	__atomic_store_n(&done[vcpu], 1, __ATOMIC_RELEASE);
}

void guest_secondary(uint64_t vcpu, uint64_t ctx, uint64_t sctlr, uint64_t daif)
{
	(void)ctx, (void)sctlr, (void)daif;
	work(vcpu);
	psci_cpu_off();
}

void guest_main(uint64_t vcpu, uint64_t boot_arg)
{
	(void)boot_arg;
	psci_cpu_on(1, secondary_entry, 0);
	work(vcpu);
	while (!__atomic_load_n(&done[1], __ATOMIC_ACQUIRE))
		;
	gprintf("vcpu 0: both done\n");
}
