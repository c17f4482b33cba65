/* SPDX-License-Identifier: MIT */
/*
 * Expected: ID registers trapped (HCR_EL2.TID3) and sanitised (no SVE, SME, MTE, pointer
 * authentication, PMU), MPIDR from VMPIDR_EL2, and a debug register (MDCR_EL2.TDA) that
 * reaches the VMM as SYSREG_WRITE / SYSREG_READ exits (read-as-zero, write-ignored).
 */
#include "lib.h"

#define FIELD(v, lsb) ((unsigned)(((v) >> (lsb)) & 0xf))

void guest_main(uint64_t vcpu, uint64_t boot_arg)
{
	uint64_t pfr0 = read_sysreg(id_aa64pfr0_el1), pfr1 = read_sysreg(id_aa64pfr1_el1);
	uint64_t isar1 = read_sysreg(id_aa64isar1_el1), dfr0 = read_sysreg(id_aa64dfr0_el1);
	uint64_t zfr0 = read_sysreg(S3_0_C0_C4_4), mdscr;

	(void)vcpu;
	(void)boot_arg;
	gprintf("ID_AA64PFR0_EL1: SVE %u, AMU %u, EL1 %u\n", FIELD(pfr0, 32), FIELD(pfr0, 44), FIELD(pfr0, 4));
	gprintf("ID_AA64PFR1_EL1: MTE %u, SME %u\n", FIELD(pfr1, 8), FIELD(pfr1, 24));
	gprintf("ID_AA64ISAR1_EL1: APA %u, API %u, GPA %u, GPI %u\n", FIELD(isar1, 4), FIELD(isar1, 8),
		FIELD(isar1, 24), FIELD(isar1, 28));
	gprintf("ID_AA64DFR0_EL1: PMUVer %u; ID_AA64ZFR0_EL1 %#lx\n", FIELD(dfr0, 8), zfr0);
	gprintf("PARange %u\n", FIELD(read_sysreg(id_aa64mmfr0_el1), 0) <= 5 ? 1u : 0u);
	gprintf("MPIDR_EL1 %#lx\n", read_sysreg(mpidr_el1));
	write_sysreg(0x1234, mdscr_el1);
	mdscr = read_sysreg(mdscr_el1);
	gprintf("MDSCR_EL1 reads %#lx after writing 0x1234\n", mdscr);
}
