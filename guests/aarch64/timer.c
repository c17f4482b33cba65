/* SPDX-License-Identifier: MIT */
/*
 * Expected: the EL1 virtual timer (CNTV_*) is the guest's and its PPI 27 reaches it
 * through the virtual CPU interface. Four phases, each asserted here:
 *  1. wfi:   CNTV_CVAL a few ms ahead, WFI, the interrupt is taken in the vector and
 *            ended; 10 times. Every interrupt comes at or after its deadline.
 *  2. spin:  the same while the vCPU keeps running (the PPI ends the guest's run at EL2).
 *  3. level: the handler ends the interrupt without touching the timer: the level is
 *            still high, so it is taken again, until the handler disables the timer.
 *  4. cost:  deadline a little ahead while spinning; the delay from the deadline to the
 *            handler is printed (in µs) on a "timer-cost" line, not compared exactly.
 *  5. suspend: PSCI CPU_SUSPEND (a standby, like WFI) ends when the timer fires.
 * Timing lines start with "timer-" so the test script can leave them out of the comparison.
 * Built as timergic (TIMER_VGIC), the VM has the emulated GICv3: the guest first sets up
 * its distributor and redistributor as Linux does and enables PPI 27 there, and the
 * timer's interrupt goes through the vGIC (a level line, lowered when the guest's EOI
 * finds the timer quiet).
 */
#include <stdbool.h>

#include "lib.h"

#define CTL_ENABLE  1ul
#define CTL_IMASK   2ul
#define CTL_ISTATUS 4ul

static volatile uint32_t taken, level_mode, spurious;
static volatile uint64_t taken_at;
static uint64_t late_min;		  /* the smallest deadline-to-handler delay of the last periods() */
static volatile uint64_t eoi_ticks, eois; /* time spent in the timer's EOI (its maintenance exit) */

#ifdef TIMER_VGIC
#define GICD		0x08000000ul
#define GICR		0x080a0000ul /* vCPU 0's frame */
#define SGI_BASE	0x10000ul
#define GICR_WAKER	0x0014
#define GICR_IGROUPR0	(SGI_BASE + 0x0080)
#define GICR_ISENABLER0 (SGI_BASE + 0x0100)
#define GICR_IPRIORITYR (SGI_BASE + 0x0400)

static void wr32(uint64_t a, uint32_t v)
{
	*(volatile uint32_t *)a = v;
}

static uint32_t rd32(uint64_t a)
{
	return *(volatile uint32_t *)a;
}

static void gic_setup(void)
{
	wr32(GICD, 0x13); /* GICD_CTLR: ARE_NS | EnableGrp1A | EnableGrp1 */
	wr32(GICR + GICR_WAKER, rd32(GICR + GICR_WAKER) & ~2u);
	while (rd32(GICR + GICR_WAKER) & 4)
		;
	wr32(GICR + GICR_IGROUPR0, ~0u);
	for (unsigned i = 0; i < 32; i += 4)
		wr32(GICR + GICR_IPRIORITYR + i, 0xa0a0a0a0);
	wr32(GICR + GICR_ISENABLER0, 1u << 27);
	gprintf("gic: PPI 27 enabled at the redistributor: %s\n",
		rd32(GICR + GICR_ISENABLER0) & (1u << 27) ? "yes" : "NO");
}
#endif

static uint64_t vcount(void)
{
	__asm__ volatile("isb");
	return read_sysreg(cntvct_el0);
}

void guest_exception(uint64_t vector)
{
	uint64_t intid, ctl;

	if (vector != 5) { /* IRQ, current EL with SP_ELx */
		gprintf("guest: unexpected exception (vector %u): ESR_EL1 %#lx\n", (unsigned)vector,
			read_sysreg(esr_el1));
		psci_system_off();
	}
	intid = read_sysreg(S3_0_C12_C12_0); /* ICC_IAR1_EL1 */
	if (intid == 27) {
		uint64_t now = vcount();

		ctl = read_sysreg(cntv_ctl_el0);
		if (!(ctl & CTL_ISTATUS)) {
			spurious++;
		} else if (level_mode) {
			/* Leave the timer as it is: the level stays high; stop after three. */
			if (taken + 1 >= 3)
				write_sysreg(0, cntv_ctl_el0);
			taken_at = now;
			taken++;
		} else {
			/* What Linux does: mask the timer, then (main loop) program the next event. */
			write_sysreg(ctl | CTL_IMASK, cntv_ctl_el0);
			taken_at = now;
			taken++;
		}
	}
	if (intid == 27) {
		uint64_t t = vcount();

		write_sysreg(intid, S3_0_C12_C12_1); /* ICC_EOIR1_EL1 */
		eoi_ticks += vcount() - t;
		eois++;
	} else if (intid < 1020) {
		write_sysreg(intid, S3_0_C12_C12_1);
	}
}

/*
 * WFI until the handler has counted past n. Checked and slept with IRQs masked, then
 * unmasked to take what woke it: an interrupt taken between the check and the WFI would
 * leave the WFI nothing to wake it (WFI wakes on a pending interrupt even when masked,
 * ARM ARM D1.16.2).
 */
static void wait_taken(uint32_t n)
{
	__asm__ volatile("msr daifset, #2; isb" ::: "memory");
	while (taken == n)
		__asm__ volatile("wfi; msr daifclr, #2; isb; msr daifset, #2; isb" ::: "memory");
	__asm__ volatile("msr daifclr, #2; isb" ::: "memory");
}

static void arm(uint64_t cval)
{
	write_sysreg(cval, cntv_cval_el0);
	write_sysreg(CTL_ENABLE, cntv_ctl_el0);
	__asm__ volatile("isb");
}

/* Runs n timer periods of ticks each; returns how many came early. */
static unsigned periods(unsigned n, uint64_t ticks, bool wfi, uint64_t *late_sum)
{
	unsigned early = 0;

	taken = 0;
	*late_sum = 0;
	late_min = UINT64_MAX;
	for (unsigned i = 0; i < n; i++) {
		uint64_t start = vcount(), cval = start + ticks;

		arm(cval);
		if (wfi)
			wait_taken(i);
		while (taken == i)
			;
		if (taken_at < cval)
			early++;
		*late_sum += taken_at - cval;
		if (taken_at - cval < late_min)
			late_min = taken_at - cval;
	}
	write_sysreg(0, cntv_ctl_el0);
	return early;
}

void guest_main(uint64_t vcpu, uint64_t boot_arg)
{
	uint64_t freq = read_sysreg(cntfrq_el0), late, start, elapsed;
	unsigned early;

	(void)vcpu, (void)boot_arg;
#ifdef TIMER_VGIC
	gic_setup();
#endif
	write_sysreg(0xff, S3_0_C4_C6_0); /* ICC_PMR_EL1 */
	write_sysreg(1, S3_0_C12_C12_7);  /* ICC_IGRPEN1_EL1 */
	__asm__ volatile("isb; msr daifclr, #2; isb");

	start = vcount();
	early = periods(10, freq * 3 / 1000, true, &late);
	elapsed = vcount() - start;
	gprintf("wfi: %u interrupts, %u early, elapsed >= 10 x 3 ms: %s\n", taken, early,
		elapsed >= freq * 30 / 1000 ? "yes" : "NO");
	gprintf("timer-wfi: elapsed %lu ticks for 10 x %lu, mean lateness %lu us\n", elapsed, freq * 3 / 1000,
		late * 1000000 / freq / 10);

	early = periods(10, freq * 2 / 1000, false, &late);
	gprintf("spin: %u interrupts, %u early\n", taken, early);

	taken = 0;
	level_mode = 1;
	arm(vcount() + freq / 1000);
	start = vcount();
	while (taken < 3 && vcount() - start < 5 * freq) /* bounded: a missing re-assert fails, not hangs */
		;
	level_mode = 0;
	gprintf("level: taken %u times while the level stayed high, then the timer was disabled\n", taken);

	eoi_ticks = eois = 0;
	early = periods(50, freq / 10000, false, &late);
	gprintf("cost: %u interrupts, %u early\n", taken, early);
	gprintf("timer-cost: deadline to handler %lu ns mean, %lu ns min (50 interrupts, counter %lu Hz)\n",
		late * 1000000000 / freq / 50, late_min * 1000000000 / freq, freq);
	gprintf("timer-eoi: the handler's EOI (a maintenance exit) %lu ns mean\n",
		eois ? eoi_ticks * 1000000000 / freq / eois : 0);

	/* PSCI CPU_SUSPEND (standby) is a WFI: its timer ends it, then the interrupt is taken. */
	taken = 0;
	start = vcount();
	/* Masked, so the interrupt cannot come before the call: it must end the standby. */
	__asm__ volatile("msr daifset, #2; isb" ::: "memory");
	arm(start + freq * 3 / 1000);
	{
		int64_t r = (int64_t)hvc_call(0xC4000001u, 0, 0, 0, 0, 0, 0);

		__asm__ volatile("msr daifclr, #2; isb" ::: "memory");
		while (!taken && vcount() - start < 5 * freq)
			;
		gprintf("suspend: CPU_SUSPEND returned %ld, the timer's interrupt taken: %s, not early: %s\n", r,
			taken ? "yes" : "NO", taken_at >= start + freq * 3 / 1000 ? "yes" : "NO");
	}
	write_sysreg(0, cntv_ctl_el0);
	gprintf("spurious: %u\n", spurious);
}
