/* SPDX-License-Identifier: MIT */
/*
 * Expected (run on one physical CPU): two vCPUs time-share it. Each fills V0-V31 and
 * FPCR with its own pattern and keeps the CPU busy across time slices (cvisor preempts
 * a spinning guest with the EL2 timer) until it has seen the other vCPU run twice in
 * between (a jump of the virtual counter during which the other's progress count moved);
 * then each checks its registers, its TPIDR_EL1 and its VBAR_EL1: lazy FP/SIMD switching
 * and the EL1 register switch keep the two apart.
 *
 * Nothing here depends on the host's scheduling: a host stall of QEMU also makes the
 * counter jump, but the other vCPU made no progress in it, so it is not counted (a
 * fixed 300 ms of counter time once held only one real switch on a loaded host and
 * printed "was NOT preempted"); and the two finish in an order nothing fixes, so vCPU 0
 * prints both results once both are done, its own first.
 */
#include "lib.h"

uint64_t fp_fill(uint64_t pattern);
uint64_t fp_check(uint64_t pattern);

static volatile uint32_t done[2];
static volatile uint64_t progress[2];			   /* each vCPU's busy-loop count */
static uint64_t fp_bad[2], tpidr[2], vbar[2], switches[2]; /* each vCPU's results, for vCPU 0 to print */

static void work(uint64_t vcpu)
{
	uint64_t pattern = (vcpu + 1) << 32, freq = read_sysreg(cntfrq_el0), start, last, seen, n = 0;

	write_sysreg(read_sysreg(cpacr_el1) | (3ul << 20), cpacr_el1); /* CPACR_EL1.FPEN: FP at EL1 */
	__asm__ volatile("isb");
	write_sysreg(0x1000 + vcpu, tpidr_el1);
	fp_fill(pattern);
	start = last = read_sysreg(cntvct_el0);
	seen = progress[1 - vcpu];
	/*
	 * Busy until the other vCPU has run twice meanwhile: a jump over 2 ms with the other's
	 * count moved. Bounded by 10 s of counter time, so a vCPU never preempted says so.
	 */
	while (n < 2 && last - start < freq * 10) {
		uint64_t now = read_sysreg(cntvct_el0);

		if (now - last > freq / 500 && progress[1 - vcpu] != seen) {
			n++;
			seen = progress[1 - vcpu];
		}
		last = now;
		progress[vcpu]++;
	}
	fp_bad[vcpu] = fp_check(pattern);
	tpidr[vcpu] = read_sysreg(tpidr_el1);
	vbar[vcpu] = read_sysreg(vbar_el1);
	switches[vcpu] = n;
	__atomic_store_n(&done[vcpu], 1, __ATOMIC_RELEASE);
}

static void report(unsigned vcpu)
{
	gprintf("vcpu %u: FP/SIMD registers %s, TPIDR_EL1 %s, VBAR_EL1 %s, %s\n", vcpu,
		fp_bad[vcpu] ? "CORRUPTED" : "intact", tpidr[vcpu] == 0x1000 + vcpu ? "intact" : "CORRUPTED",
		vbar[vcpu] ? "set" : "LOST", switches[vcpu] >= 2 ? "was preempted" : "was NOT preempted");
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
	/* Still counting: vCPU 1 may need to see this vCPU run to finish its own work. */
	while (!__atomic_load_n(&done[1], __ATOMIC_ACQUIRE))
		progress[0]++;
	report(0);
	report(1);
	gprintf("vcpu 0: both done\n");
}
