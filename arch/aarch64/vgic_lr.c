/* SPDX-License-Identifier: MIT */
/*
 * The backend side of the list-register interface (cvisor/a64_gic.h): attaching an
 * emulated GIC to a vCPU, and the active-priority registers of the virtual CPU interface.
 */
#include <cvisor/a64_gic.h>

#include "sysreg.h"

#define ICH_AP0R1_EL2 S3_4_C12_C8_1
#define ICH_AP0R2_EL2 S3_4_C12_C8_2
#define ICH_AP0R3_EL2 S3_4_C12_C8_3
#define ICH_AP1R1_EL2 S3_4_C12_C9_1
#define ICH_AP1R2_EL2 S3_4_C12_C9_2
#define ICH_AP1R3_EL2 S3_4_C12_C9_3

void a64_vgic_attach(struct vcpu_arch *arch, const struct a64_vgic_hook *hook, void *ctx)
{
	arch->vgic.hook = hook;
	arch->vgic.hook_ctx = ctx;
}

unsigned a64_vgic_nr_lrs(void)
{
	unsigned n = (unsigned)(read_sysreg(ICH_VTR_EL2) & 0x1f) + 1;

	return n > A64_MAX_LRS ? A64_MAX_LRS : n;
}

/*
 * ICH_VTR_EL2.PREbits (31:29) + 1 preemption bits give 2^bits levels, 32 per APR
 * register (IHI 0069 12.5.1): 5 bits need APnR0 only, 6 bits APnR0-1, 7 bits APnR0-3.
 */
static unsigned nr_aprs(void)
{
	static unsigned n; /* the same on every CPU: computed once, a racing second time is harmless */

	if (!n) {
		unsigned bits = (unsigned)(read_sysreg(ICH_VTR_EL2) >> 29 & 7) + 1;

		n = bits >= 7 ? 4 : bits == 6 ? 2 : 1;
	}
	return n;
}

void a64_vgic_save_aprs(struct a64_vgic *g)
{
	unsigned n = nr_aprs();

	g->ap0r[0] = read_sysreg(ICH_AP0R0_EL2);
	g->ap1r[0] = read_sysreg(ICH_AP1R0_EL2);
	if (n >= 2) {
		g->ap0r[1] = read_sysreg(ICH_AP0R1_EL2);
		g->ap1r[1] = read_sysreg(ICH_AP1R1_EL2);
	}
	if (n >= 4) {
		g->ap0r[2] = read_sysreg(ICH_AP0R2_EL2);
		g->ap1r[2] = read_sysreg(ICH_AP1R2_EL2);
		g->ap0r[3] = read_sysreg(ICH_AP0R3_EL2);
		g->ap1r[3] = read_sysreg(ICH_AP1R3_EL2);
	}
}

void a64_vgic_restore_aprs(const struct a64_vgic *g)
{
	unsigned n = nr_aprs();

	write_sysreg(g->ap0r[0], ICH_AP0R0_EL2);
	write_sysreg(g->ap1r[0], ICH_AP1R0_EL2);
	if (n >= 2) {
		write_sysreg(g->ap0r[1], ICH_AP0R1_EL2);
		write_sysreg(g->ap1r[1], ICH_AP1R1_EL2);
	}
	if (n >= 4) {
		write_sysreg(g->ap0r[2], ICH_AP0R2_EL2);
		write_sysreg(g->ap1r[2], ICH_AP1R2_EL2);
		write_sysreg(g->ap0r[3], ICH_AP0R3_EL2);
		write_sysreg(g->ap1r[3], ICH_AP1R3_EL2);
	}
}
