/* SPDX-License-Identifier: MIT */
/*
 * The host's GICv3 (ARM IHI 0069): the distributor with affinity routing, this CPU's
 * redistributor (SGIs and the EL2 timer PPI, group 1), and the system-register CPU
 * interface. cvisor runs at EL2 with interrupts masked (PSTATE.I): interrupts only end
 * a WFI or a guest's run (HCR_EL2.IMO) and are then acknowledged here by polling, or by
 * the backend after a guest exit.
 */
#include "platform.h"

#define GICD_CTLR      0x0000
#define GICD_CTLR_RWP  (1u << 31)
#define GICD_CTLR_ARE  (1u << 4) /* ARE_NS / ARE when GICD_CTLR.DS = 1 (QEMU virt, secure=off) */
#define GICD_CTLR_GRP1 (1u << 1) /* EnableGrp1NS / EnableGrp1 */
#define GICD_CTLR_GRP0 (1u << 0)

#define GICR_TYPER	   0x0008
#define GICR_TYPER_LAST	   (1ull << 4)
#define GICR_TYPER_VLPIS   (1ull << 1)
#define GICR_WAKER	   0x0014
#define GICR_WAKER_PSLEEP  (1u << 1)
#define GICR_WAKER_CASLEEP (1u << 2)
#define GICR_SGI_BASE	   0x10000
#define GICR_IGROUPR0	   0x0080
#define GICR_ISENABLER0	   0x0100
#define GICR_ICENABLER0	   0x0180
#define GICR_IPRIORITYR	   0x0400

#define HOST_PRIO	0xa0u
#define GUEST_TIMER_PRIO 0xc0u

static inline uint32_t rd32(uint64_t a)
{
	return *(volatile uint32_t *)(uintptr_t)a;
}
static inline void wr32(uint64_t a, uint32_t v)
{
	*(volatile uint32_t *)(uintptr_t)a = v;
}
static inline uint64_t rd64(uint64_t a)
{
	return *(volatile uint64_t *)(uintptr_t)a;
}

void gic_init_distributor(void)
{
	uint64_t d = plat_info.gicd_base;

	wr32(d + GICD_CTLR, 0);
	while (rd32(d + GICD_CTLR) & GICD_CTLR_RWP)
		;
	wr32(d + GICD_CTLR, GICD_CTLR_ARE);
	while (rd32(d + GICD_CTLR) & GICD_CTLR_RWP)
		;
	wr32(d + GICD_CTLR, GICD_CTLR_ARE | GICD_CTLR_GRP1 | GICD_CTLR_GRP0);
	while (rd32(d + GICD_CTLR) & GICD_CTLR_RWP)
		;
}

/* This CPU's redistributor: the frame whose GICR_TYPER affinity matches MPIDR. */
static uint64_t find_redist(uint64_t mpidr)
{
	uint64_t aff = (mpidr & 0xffffff) | ((mpidr >> 32) & 0xff) << 24;
	uint64_t r = plat_info.gicr_base;

	for (unsigned i = 0; i < 64; i++) {
		uint64_t typer = rd64(r + GICR_TYPER);

		if ((typer >> 32) == aff)
			return r;
		if (typer & GICR_TYPER_LAST)
			break;
		r += (typer & GICR_TYPER_VLPIS) ? 0x40000 : 0x20000;
	}
	return 0;
}

void gic_init_cpu(void)
{
	uint64_t r = find_redist(this_cpu()->mpidr), sgi;

	if (!r)
		hal_fatal("GICv3: no redistributor for this CPU");
	sgi = r + GICR_SGI_BASE;
	wr32(r + GICR_WAKER, rd32(r + GICR_WAKER) & ~GICR_WAKER_PSLEEP);
	while (rd32(r + GICR_WAKER) & GICR_WAKER_CASLEEP)
		;
	wr32(sgi + GICR_ICENABLER0, 0xffffffffu);
	wr32(sgi + GICR_IGROUPR0, 0xffffffffu);
	for (unsigned i = 0; i < 32; i += 4)
		wr32(sgi + GICR_IPRIORITYR + i, HOST_PRIO * 0x01010101u);
	/* The guest's timer PPI ranks below the host's own: the backend masks it alone with PMR (arch/aarch64/timer.c). */
	wr32(sgi + GICR_IPRIORITYR + 24, (HOST_PRIO * 0x010101u) | (GUEST_TIMER_PRIO << 24));
	/*
	 * The GICv3 maintenance interrupt (PPI 25) ends a guest's run so list registers can be
	 * refilled; the guest's virtual timer (PPI 27) ends it so the backend injects it
	 * (arch/aarch64/timer.c: a vCPU's timer is off in hardware whenever it is not loaded).
	 */
	wr32(sgi + GICR_ISENABLER0, (1u << PLAT_SGI_WAKE) | (1u << PLAT_PPI_HYP_TIMER) | (1u << 25) | (1u << 27));

	/*
	 * ICC_SRE_EL2: SRE (system registers), DFB and DIB (no legacy bypass) and Enable (EL1
	 * may use ICC_SRE_EL1, so a guest sees the system-register interface).
	 */
	write_sysreg(0xf, S3_4_C12_C9_5); /* ICC_SRE_EL2 */
	isb();
	write_sysreg(0xff, S3_0_C4_C6_0); /* ICC_PMR_EL1: let every priority through */
	write_sysreg(0, S3_0_C12_C12_3);  /* ICC_BPR1_EL1 */
	write_sysreg(0, S3_0_C12_C12_4);  /* ICC_CTLR_EL1: EOImode 0, EOI also deactivates */
	write_sysreg(1, S3_0_C12_C12_7);  /* ICC_IGRPEN1_EL1 */
	isb();
}

void gic_send_sgi(uint64_t mpidr, unsigned sgi_id)
{
	uint64_t v = ((mpidr >> 32) & 0xff) << 48 | ((mpidr >> 16) & 0xff) << 32 | (uint64_t)(sgi_id & 0xf) << 24 |
		     ((mpidr >> 8) & 0xff) << 16 | (((mpidr & 0xff) >> 4) & 0xf) << 44 | (1ull << (mpidr & 0xf));

	/* The woken CPU must see what we wrote before it sees the interrupt. */
	dsb(ishst);
	write_sysreg(v, S3_0_C12_C11_5); /* ICC_SGI1R_EL1 */
	isb();
}

void gic_drain(void)
{
	for (;;) {
		uint64_t intid = read_sysreg(S3_0_C12_C12_0) & 0xffffff; /* ICC_IAR1_EL1 */

		if (intid >= 1020)
			break;
		if (intid == PLAT_PPI_HYP_TIMER)
			write_sysreg(0, cnthp_ctl_el2); /* level-triggered: quiet it before EOI */
		write_sysreg(intid, S3_0_C12_C12_1);	/* ICC_EOIR1_EL1 */
	}
	isb();
}
