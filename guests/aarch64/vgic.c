/* SPDX-License-Identifier: MIT */
/*
 * Expected: the emulated GICv3 programmed the way Linux's irq-gic-v3 driver does it, on two
 * vCPUs. vCPU 0 reads the distributor's identity, walks the redistributors until the one
 * marked Last (64-bit GICR_TYPER reads), sets up the distributor (groups, priorities,
 * ARE | EnableGrp1) and its own redistributor (the WAKER handshake), and starts vCPU 1,
 * which sets up its own. Then vCPU 1, asleep in WFI, takes an SGI vCPU 0 sends it through
 * ICC_SGI1R_EL1, then an SPI that IROUTER routes to it and GICD_ISPENDR makes pending;
 * then, with its interrupts masked, six SGIs of six priorities at once (more than the
 * four list registers): it takes them most urgent first. Bad widths and reserved
 * registers read as zero.
 */
#include "lib.h"

#define GICD		0x08000000ul
#define GICR(n)		(0x080a0000ul + (uint64_t)(n)*0x20000ul)
#define SGI_BASE	0x10000ul
#define GICD_CTLR	0x0000
#define GICD_TYPER	0x0004
#define GICD_IGROUPR	0x0080
#define GICD_ISENABLER	0x0100
#define GICD_ISPENDR	0x0200
#define GICD_ISACTIVER	0x0300
#define GICD_IPRIORITYR 0x0400
#define GICD_IROUTER	0x6000
#define PIDR2		0xffe8
#define GICR_TYPER	0x0008
#define GICR_WAKER	0x0014
#define GICR_IGROUPR0	(SGI_BASE + 0x0080)
#define GICR_ISENABLER0 (SGI_BASE + 0x0100)
#define GICR_IPRIORITYR (SGI_BASE + 0x0400)

#define ICC_PMR_EL1	S3_0_C4_C6_0
#define ICC_IAR1_EL1	S3_0_C12_C12_0
#define ICC_EOIR1_EL1	S3_0_C12_C12_1
#define ICC_CTLR_EL1	S3_0_C12_C12_4
#define ICC_IGRPEN1_EL1 S3_0_C12_C12_7
#define ICC_SGI1R_EL1	S3_0_C12_C11_5

/* Single loads and stores with a syndrome (ISV), as Linux's readl/writel/readq/writeq make them. */
static inline uint32_t rd32(uint64_t a)
{
	uint32_t v;

	__asm__ volatile("ldr %w0, [%1]" : "=r"(v) : "r"(a) : "memory");
	return v;
}
static inline void wr32(uint64_t a, uint32_t v)
{
	__asm__ volatile("str %w0, [%1]" : : "rZ"(v), "r"(a) : "memory");
}
static inline uint64_t rd64(uint64_t a)
{
	uint64_t v;

	__asm__ volatile("ldr %0, [%1]" : "=r"(v) : "r"(a) : "memory");
	return v;
}
static inline void wr64(uint64_t a, uint64_t v)
{
	__asm__ volatile("str %x0, [%1]" : : "rZ"(v), "r"(a) : "memory");
}
static inline uint8_t rd8(uint64_t a)
{
	uint8_t v;

	__asm__ volatile("ldrb %w0, [%1]" : "=r"(v) : "r"(a) : "memory");
	return v;
}
static inline void wr8(uint64_t a, uint8_t v)
{
	__asm__ volatile("strb %w0, [%1]" : : "rZ"(v), "r"(a) : "memory");
}
static inline uint16_t rd16(uint64_t a)
{
	uint16_t v;

	__asm__ volatile("ldrh %w0, [%1]" : "=r"(v) : "r"(a) : "memory");
	return v;
}

static volatile uint32_t step, taken[16], ntaken;

void guest_exception(uint64_t vector)
{
	uint32_t intid;

	if (vector != 5) { /* IRQ, current EL with SP_ELx */
		gprintf("guest: unexpected exception (vector %u): ESR_EL1 %#lx\n", (unsigned)vector,
			read_sysreg(esr_el1));
		psci_system_off();
	}
	intid = (uint32_t)read_sysreg(ICC_IAR1_EL1);
	if (intid < 1020 && ntaken < 16)
		taken[ntaken++] = intid;
	write_sysreg(intid, ICC_EOIR1_EL1);
}

/* gic_enable_redist + gic_cpu_config + gic_cpu_sys_reg_init, in short. */
static void cpu_init(unsigned vcpu)
{
	uint64_t r = GICR(vcpu);
	uint32_t before = rd32(r + GICR_WAKER);

	wr32(r + GICR_WAKER, before & ~2u); /* clear ProcessorSleep */
	while (rd32(r + GICR_WAKER) & 4)    /* wait for ChildrenAsleep to clear */
		;
	gprintf("vcpu %u: GICR_WAKER %#x -> %#x\n", vcpu, before, rd32(r + GICR_WAKER));
	wr32(r + GICR_IGROUPR0, ~0u);
	for (unsigned i = 0; i < 32; i += 4)
		wr32(r + GICR_IPRIORITYR + i, 0xa0a0a0a0);
	write_sysreg(0xf0, ICC_PMR_EL1);
	write_sysreg(0, ICC_CTLR_EL1); /* EOImode 0: EOI also deactivates */
	write_sysreg(1, ICC_IGRPEN1_EL1);
	__asm__ volatile("isb");
}

static void wait_step(uint32_t s)
{
	while (__atomic_load_n(&step, __ATOMIC_ACQUIRE) < s)
		;
}

static void set_step(uint32_t s)
{
	__atomic_store_n(&step, s, __ATOMIC_RELEASE);
}

static void wait_taken(uint32_t n)
{
	while (__atomic_load_n(&ntaken, __ATOMIC_ACQUIRE) < n)
		__asm__ volatile("wfi");
}

static void send_sgi(unsigned sgi, unsigned target_list)
{
	write_sysreg((uint64_t)sgi << 24 | target_list, ICC_SGI1R_EL1); /* Aff3.Aff2.Aff1 0, RS 0 */
	__asm__ volatile("isb");
}

void guest_secondary(uint64_t vcpu, uint64_t ctx, uint64_t sctlr, uint64_t daif)
{
	static const uint8_t prio[7] = {0, 0x80, 0x40, 0xc0, 0x20, 0x60, 0x10};

	(void)ctx, (void)sctlr, (void)daif;
	cpu_init((unsigned)vcpu);
	wr32(GICR(1) + GICR_ISENABLER0, 1u << 5);
	__asm__ volatile("msr daifclr, #2; isb");
	set_step(1);
	/* 1: an SGI from vCPU 0, taken in WFI */
	wait_taken(1);
	gprintf("vcpu 1: took SGI %u\n", taken[0]);
	set_step(2);
	/* 2: an SPI routed here */
	wait_taken(2);
	gprintf("vcpu 1: took SPI %u\n", taken[1]);
	/* 3: six SGIs at once, interrupts masked, priorities as Linux writes them (bytes) */
	__asm__ volatile("msr daifset, #2; isb");
	for (unsigned i = 1; i <= 6; i++)
		wr8(GICR(1) + GICR_IPRIORITYR + i, prio[i]);
	wr32(GICR(1) + GICR_ISENABLER0, 0x7e);
	ntaken = 0;
	set_step(3);
	wait_step(4);
	/* WFI with them pending (and masked) does not sleep */
	__asm__ volatile("wfi");
	__asm__ volatile("msr daifclr, #2; isb");
	wait_taken(6);
	gprintf("vcpu 1: took SGIs %u %u %u %u %u %u (most urgent first)\n", taken[0], taken[1], taken[2], taken[3],
		taken[4], taken[5]);
	set_step(5);
	psci_cpu_off();
}

void guest_main(uint64_t vcpu, uint64_t boot_arg)
{
	uint32_t typer = rd32(GICD + GICD_TYPER);
	uint64_t r = GICR(0);

	(void)vcpu, (void)boot_arg;
	gprintf("vcpu 0: GICD_TYPER ITLinesNumber %u IDbits %u, ArchRev %u, GICD_CTLR %#x\n", typer & 0x1f,
		((typer >> 19) & 0x1f) + 1, (rd32(GICD + PIDR2) >> 4) & 0xf, rd32(GICD + GICD_CTLR));
	/* gic_iterate_rdists: frame by frame until GICR_TYPER.Last */
	for (unsigned i = 0; i < 8; i++, r += 0x20000) {
		uint64_t t = rd64(r + GICR_TYPER);

		gprintf("vcpu 0: redistributor %u: affinity %#lx, processor %lu, last %lu, ArchRev %u\n", i, t >> 32,
			(t >> 8) & 0xffff, (t >> 4) & 1, (rd32(r + PIDR2) >> 4) & 0xf);
		if (t & (1u << 4))
			break;
	}
	/* gic_dist_init */
	wr32(GICD + GICD_CTLR, 0);
	wr32(GICD + GICD_IGROUPR + 4, ~0u);
	for (unsigned i = 32; i < 64; i += 4)
		wr32(GICD + GICD_IPRIORITYR + i, 0xa0a0a0a0);
	wr32(GICD + GICD_CTLR, 0x13); /* ARE_NS | EnableGrp1A | EnableGrp1 */
	for (unsigned i = 32; i < 64; i++)
		wr64(GICD + GICD_IROUTER + 8 * i, 0); /* to vCPU 0 */
	gprintf("vcpu 0: GICD_CTLR %#x\n", rd32(GICD + GICD_CTLR));
	wr8(GICD + GICD_IPRIORITYR + 40, 0x11);
	gprintf("vcpu 0: IPRIORITYR byte 0x11 reads %#x; 16-bit GICD_CTLR %#x, reserved 0x0010 %#x, "
		"GICD_ISENABLER0 %#x\n",
		rd8(GICD + GICD_IPRIORITYR + 40), rd16(GICD + GICD_CTLR), rd32(GICD + 0x10),
		rd32(GICD + GICD_ISENABLER));
	wr8(GICD + GICD_IPRIORITYR + 40, 0xa0);
	cpu_init(0);
	psci_cpu_on(1, secondary_entry, 0);
	wait_step(1);
	/* vCPU 1 is in WFI (halted, most likely): the SGI wakes it */
	send_sgi(5, 1u << 1);
	wait_step(2);
	/* SPI 40 routed to vCPU 1 (Aff0 1), enabled, made pending by GICD_ISPENDR */
	wr64(GICD + GICD_IROUTER + 8 * 40, 1);
	wr32(GICD + GICD_ISENABLER + 4, 1u << 8);
	wr32(GICD + GICD_ISPENDR + 4, 1u << 8);
	wait_step(3);
	gprintf("vcpu 0: SPI 40 pending %u, active %u after vCPU 1 took it\n", (rd32(GICD + GICD_ISPENDR + 4) >> 8) & 1,
		(rd32(GICD + GICD_ISACTIVER + 4) >> 8) & 1);
	for (unsigned i = 1; i <= 6; i++)
		send_sgi(i, 1u << 1);
	set_step(4);
	wait_step(5);
	gprintf("vcpu 0: done\n");
}
