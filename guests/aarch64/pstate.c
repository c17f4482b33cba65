/* SPDX-License-Identifier: MIT */
/*
 * Expected: an exception cvisor injects (here the undefined instruction it gives for a
 * trapped system register no device serves, LORC_EL1) enters EL1 with the PSTATE the
 * hardware gives its own exceptions (a UDF taken straight to EL1), as the
 * AArch64.TakeException pseudocode has it: PAN set when SCTLR_EL1.SPAN is 0, else kept;
 * SSBS from SCTLR_EL1.DSSBS; D, A, I, F masked. DIT is checked against the pseudocode
 * alone (kept: it does not name DIT; Linux KVM keeps it too): QEMU 7.2's own exception
 * entry clears it. Three settings. A review finding: injected exceptions always entered
 * with PSTATE 0x3c5.
 */
#include "lib.h"

#define PAN_BIT	 (1ul << 22)
#define SSBS_BIT (1ul << 12)
#define DIT_BIT	 (1ul << 24)
#define SPAN	 (1ul << 23)
#define DSSBS	 (1ul << 44)

static volatile uint64_t seen;

/* A synchronous exception: what PSTATE is now (PAN, SSBS, DIT, DAIF), then step over the instruction. */
void guest_exception(uint64_t vector)
{
	uint64_t esr = read_sysreg(esr_el1);

	seen = (read_sysreg(S3_0_C4_C2_3) & PAN_BIT) | (read_sysreg(S3_3_C4_C2_6) & SSBS_BIT) |
	       (read_sysreg(S3_3_C4_C2_5) & DIT_BIT) | read_sysreg(daif);
	if (vector != 4 || (esr >> 26) != 0) {
		gprintf("guest: unexpected exception (vector %u): ESR_EL1 %#lx\n", (unsigned)vector, esr);
		psci_system_off();
	}
	write_sysreg(read_sysreg(elr_el1) + 4, elr_el1);
}

/* PSTATE before the exception: PAN, SSBS and DIT as given, D A I F as they are. */
static void set_pstate(uint64_t v)
{
	write_sysreg(v & PAN_BIT, S3_0_C4_C2_3);
	write_sysreg(v & SSBS_BIT, S3_3_C4_C2_6);
	write_sysreg(v & DIT_BIT, S3_3_C4_C2_5);
	__asm__ volatile("isb");
}

static void show(const char *what, uint64_t v)
{
	gprintf("  %s: PAN %u SSBS %u DIT %u DAIF %#lx\n", what, !!(v & PAN_BIT), !!(v & SSBS_BIT), !!(v & DIT_BIT),
		(v >> 6) & 0xf);
}

static void one(const char *name, uint64_t sctlr_set, uint64_t sctlr_clear, uint64_t before)
{
	uint64_t sctlr = read_sysreg(sctlr_el1), hw, inj;

	write_sysreg((sctlr | sctlr_set) & ~sctlr_clear, sctlr_el1);
	__asm__ volatile("isb");
	set_pstate(before);
	__asm__ volatile("udf #0" ::: "memory"); /* taken by the hardware */
	hw = seen;
	set_pstate(before);
	__asm__ volatile("msr S3_0_C10_C4_3, xzr" ::: "memory"); /* LORC_EL1: trapped, injected UNDEF */
	inj = seen;
	set_pstate(0);
	write_sysreg(sctlr, sctlr_el1);
	__asm__ volatile("isb");
	gprintf("guest: %s: injected exception's PAN, SSBS, DAIF %s the hardware's, DIT %s\n", name,
		(hw & ~DIT_BIT) == (inj & ~DIT_BIT) ? "are" : "DIFFER from",
		(inj & DIT_BIT) == (before & DIT_BIT) ? "kept" : "CHANGED");
	if ((hw & ~DIT_BIT) != (inj & ~DIT_BIT) || (inj & DIT_BIT) != (before & DIT_BIT)) {
		show("hardware", hw);
		show("injected", inj);
	}
}

void guest_main(uint64_t vcpu, uint64_t boot_arg)
{
	(void)vcpu, (void)boot_arg;
	one("SPAN 0, DSSBS 1, from PAN 0 SSBS 0 DIT 1", DSSBS, SPAN, DIT_BIT);
	one("SPAN 1, DSSBS 0, from PAN 1 SSBS 1 DIT 0", SPAN, DSSBS, PAN_BIT | SSBS_BIT);
	one("SPAN 1, DSSBS 1, from PAN 0 SSBS 0 DIT 0", SPAN | DSSBS, 0, 0);
}
