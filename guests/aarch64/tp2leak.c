/* SPDX-License-Identifier: MIT */
/*
 * Expected: EL1 and EL0 registers that cvisor does not emulate are either switched per
 * vCPU or kept from the guest, so nothing leaks from one vCPU (or VM) to the next on a
 * physical CPU. Run with both vCPUs on one QEMU CPU:
 *  - TPIDR2_EL0 (present wherever the CPU has FEAT_SME, hidden or not): vCPU 0 sets it,
 *    vCPU 1 (fresh from CPU_ON) must read 0, and vCPU 0 must read its own value back;
 *  - LORegions: ID_AA64MMFR1_EL1.LO reads 0 and LORC_EL1 is an undefined instruction;
 *  - ACTLR_EL1 (implementation defined): a write is ignored.
 * A review finding: vCPU 1 read vCPU 0's TPIDR2_EL0, and LO was shown and LORC_EL1
 * writable. On a CPU without SME, TPIDR2_EL0 is undefined: that is reported as such.
 */
#include "lib.h"

static volatile int done;
static volatile unsigned undefs;

/* A synchronous exception from EL1: an undefined instruction is counted and stepped over. */
void guest_exception(uint64_t vector)
{
	uint64_t esr = read_sysreg(esr_el1);

	if (vector != 4 || (esr >> 26) != 0) {
		gprintf("guest: unexpected exception (vector %u): ESR_EL1 %#lx\n", (unsigned)vector, esr);
		psci_system_off();
	}
	undefs++;
	write_sysreg(read_sysreg(elr_el1) + 4, elr_el1);
}

/* Each runs one access; true when it was an undefined instruction. */
static int read_tpidr2(uint64_t *v)
{
	unsigned u = undefs;

	*v = 0;
	__asm__ volatile("mrs %0, S3_3_C13_C0_5; isb" : "+r"(*v) : : "memory");
	return undefs != u;
}

static int write_tpidr2(uint64_t v)
{
	unsigned u = undefs;

	__asm__ volatile("msr S3_3_C13_C0_5, %0; isb" : : "r"(v) : "memory");
	return undefs != u;
}

static int write_lorc(uint64_t v)
{
	unsigned u = undefs;

	__asm__ volatile("msr S3_0_C10_C4_3, %0; isb" : : "r"(v) : "memory");
	return undefs != u;
}

static uint64_t tp2_seen;
static int tp2_undef;

void guest_secondary(uint64_t vcpu, uint64_t ctx, uint64_t sctlr, uint64_t daif)
{
	uint64_t v = 0;

	(void)vcpu, (void)ctx, (void)sctlr, (void)daif;
	tp2_undef = read_tpidr2(&v);
	tp2_seen = v;
	done = 1;
	psci_cpu_off();
}

void guest_main(uint64_t vcpu, uint64_t boot_arg)
{
	uint64_t v = 0, actlr, actlr2;
	int undef;

	(void)vcpu, (void)boot_arg;
	gprintf("vcpu 0: ID_AA64MMFR1_EL1.LO %lu\n", (read_sysreg(id_aa64mmfr1_el1) >> 16) & 0xf);
	undef = write_lorc(0);
	gprintf("vcpu 0: LORC_EL1 write: %s\n", undef ? "undefined" : "ACCEPTED");
	actlr = read_sysreg(actlr_el1);
	write_sysreg(~actlr, actlr_el1);
	__asm__ volatile("isb");
	actlr2 = read_sysreg(actlr_el1);
	write_sysreg(actlr, actlr_el1);
	gprintf("vcpu 0: ACTLR_EL1 write: %s\n", actlr2 == actlr ? "ignored" : "TOOK EFFECT");

	undef = write_tpidr2(0x5ec7e7);
	psci_cpu_on(1, secondary_entry, 0);
	while (!done)
		__asm__ volatile("wfe");
	if (undef) {
		gprintf("vcpu 0: TPIDR2_EL0: undefined (no SME here)\n");
		return;
	}
	read_tpidr2(&v);
	gprintf("vcpu 1 (fresh): TPIDR2_EL0 %s\n", tp2_undef ? "UNDEFINED" : tp2_seen == 0 ? "0: ok" : "LEAKED");
	gprintf("vcpu 0: TPIDR2_EL0 %s\n", v == 0x5ec7e7 ? "kept: ok" : "LOST");
}
