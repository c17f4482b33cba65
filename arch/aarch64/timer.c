/* SPDX-License-Identifier: MIT */
/*
 * The guest's EL1 virtual timer on the EL2 backend (ARM ARM D11.2; DESIGN.md "Linux
 * guests on AArch64": the timer belongs to the guest).
 *
 * Ownership. CNTV_CTL_EL0 and CNTV_CVAL_EL0 are switched per vCPU with the other EL1
 * registers (vcpu.c), CNTVOFF_EL2 is per VM (a64_vcpu_set_cntvoff). CNTHCTL_EL2 lets EL1
 * read the counters and use its timers without trapping, so programming the timer
 * costs the guest no exit.
 *
 * The interrupt. The timer's output is PPI 27 of the physical CPU the vCPU runs on. The
 * host enables it at its GIC, and HCR_EL2.IMO makes it end the guest's run (an IRQ
 * exit). The PPI is level-sensitive: once acknowledged at the host it would fire again
 * on entry, in a loop, until the guest dealt with it. Two ways out (IHI 0069 4.4):
 *  - a list register with HW = 1 linked to physical INTID 27, the host splitting
 *    priority drop from deactivation (ICC_CTLR_EL1.EOImode = 1): the physical interrupt
 *    stays active until the guest's EOI deactivates it. One exit per tick, but the
 *    physical active state then belongs to the vCPU: it must be saved and restored at
 *    the host's redistributor on every vCPU switch and migration (Linux KVM does), and
 *    the host's own interrupt handling changes to EOImode 1 throughout;
 *  - the older KVM way, chosen here: EL2 masks the PPI for this vCPU and injects
 *    virtual PPI 27; the mask is lifted when the guest ends that interrupt: its list
 *    register carries LR.EOI, so the guest's EOI raises the maintenance interrupt and
 *    the next entry unmasks (with a vGIC, its resample callback: a64_vcpu_timer_resample).
 *    If the timer still asserts then, the PPI fires again: a level, as the GIC specifies.
 *    The mask is not CNTV_CTL_EL0.IMASK (the guest's register: a guest that sets IMASK in
 *    its handler and reprograms after the EOI would have it cleared under it, and take
 *    the interrupt again forever) but the physical priority mask: the host gives PPI 27
 *    priority 0xc0, below its own interrupts (0xa0), and while the vCPU's timer interrupt
 *    is in the guest's hands ICC_PMR_EL1 is 0xb0 during its runs, 0xff otherwise. PMR is
 *    EL2's alone (with IMO the guest's ICC_PMR_EL1 is the virtual one), costs a system
 *    register write, needs no host GIC access and survives any vCPU switch: the cost is
 *    a second exit (the EOI) per timer interrupt.
 * The vGIC's vgic_map_hw offers the HW = 1 path for when the host moves to EOImode 1.
 *
 * WFI. HCR_EL2.TWI traps WFI. A vCPU whose timer is disabled or masked halts in the VMM
 * (HALT exit, BLOCKED until an interrupt is queued). One whose timer is armed waits
 * here, inside arch_vcpu_run, as Linux KVM's vCPU blocks inside KVM_RUN: a HAL timed
 * wait until CNTV_CVAL (converted through CNTVOFF), so its pCPU runs other tasks or
 * sleeps meanwhile; a kick (an interrupt queued for it, a stop) ends the wait early.
 * Meanwhile its hardware timer is switched off, so it cannot fire at the host.
 */
#include <cvisor/arch.h>
#include <cvisor/hal.h>
#include <cvisor/vtimer.h>

#include "sysreg.h"
#include "timer.h"

#define ICC_PMR_EL1 S3_0_C4_C6_0
/* Physical priority masks while a guest runs (the host gives PPI 27 a lower priority than its own interrupts). */
#define A64_PMR_OPEN	     0xffu /* every interrupt */
#define A64_PMR_TIMER_MASKED 0xb0u /* the host's (0xa0), not the guest timer's (0xc0) */
#define LR_STATE_MASK	     (3ull << 62)
#define LR_EOI		     (1ull << 41)

static uint64_t counter(void)
{
	isb();
	return read_sysreg(cntpct_el0);
}

/* The guest's virtual count now. */
static uint64_t guest_count(const struct vcpu_arch *arch)
{
	return counter() - arch->sys.cntvoff_el2;
}

void a64_vcpu_set_cntvoff(struct vcpu_arch *arch, uint64_t off)
{
	arch->sys.cntvoff_el2 = off;
	arch->sys_dirty = true;
}

void a64_vcpu_set_timer_hook(struct vcpu_arch *arch, void (*fire)(void *ctx, uint32_t vcpu_id), void *ctx)
{
	arch->vtimer.fire = fire;
	arch->vtimer.fire_ctx = ctx;
}

/* The timer asserts its output: mask its PPI for this vCPU (PMR, see above) and inject it. */
static void take(struct vcpu_arch *arch)
{
	arch->vtimer.hv_masked = true;
	arch->vtimer.fired++;
	/*
	 * Rewrite CNTV_CTL_EL0 (same value) before entry: QEMU updates ISTATUS only when its
	 * own timer callback runs or the register is written, and on a loaded host the
	 * guest could read a stale ISTATUS = 0 in its handler and drop the tick. Harmless
	 * on hardware, where ISTATUS is live.
	 */
	arch->vtimer.hw_dirty = true;
	if (arch->vtimer.fire)
		arch->vtimer.fire(arch->vtimer.fire_ctx, arch->vcpu_id);
	else
		arch_vcpu_inject_interrupt(arch, VTIMER_INTID);
}

void a64_timer_irq(struct vcpu_arch *arch)
{
	/*
	 * The saved CNTV_CTL_EL0 has ISTATUS as the exit left it. Without the output (the
	 * guest reprogrammed the timer just before the exit, or the PPI was a previous vCPU's
	 * level still latched) there is nothing to inject.
	 */
	if (vtimer_armed(arch->sys.cntv_ctl_el0) && (arch->sys.cntv_ctl_el0 & VTIMER_CTL_ISTATUS))
		take(arch);
}

/*
 * The guest ended PPI 27. If the timer still asserts its output (the guest left it
 * armed and due), the line stays high: the mask stays and the caller makes it pending
 * again. Else the mask goes, and the next time the timer fires its PPI reaches EL2.
 */
bool a64_vcpu_timer_resample(struct vcpu_arch *arch)
{
	if (vtimer_output(arch->sys.cntv_ctl_el0, arch->sys.cntv_cval_el0, guest_count(arch)))
		return true;
	arch->vtimer.hv_masked = false;
	return false;
}

void a64_timer_lr_eoi(struct vcpu_arch *arch, unsigned n)
{
	for (unsigned i = 0; i < n && i < A64_MAX_LRS; i++) {
		uint64_t lr = arch->vgic.lr[i];

		/* Invalid with EOI set: the guest ended it, and the maintenance interrupt said so. */
		if ((uint32_t)lr == VTIMER_INTID && (lr & LR_EOI) && !(lr & LR_STATE_MASK)) {
			arch->vgic.lr[i] = 0;
			if (a64_vcpu_timer_resample(arch))
				arch_vcpu_inject_interrupt(arch, VTIMER_INTID);
		}
	}
}

void a64_timer_load(struct vcpu_arch *arch)
{
	uint64_t pmr = arch->vtimer.hv_masked ? A64_PMR_TIMER_MASKED : A64_PMR_OPEN;

	if (arch->vtimer.hw_dirty) {
		write_sysreg(arch->sys.cntv_cval_el0, cntv_cval_el0);
		write_sysreg(arch->sys.cntv_ctl_el0, cntv_ctl_el0);
		arch->vtimer.hw_dirty = false;
	}
	if (read_sysreg(ICC_PMR_EL1) != pmr)
		write_sysreg(pmr, ICC_PMR_EL1);
}

void a64_timer_quiesce(struct vcpu_arch *arch)
{
	if (!vtimer_armed(arch->sys.cntv_ctl_el0))
		return;
	write_sysreg(0, cntv_ctl_el0);
	isb();
	arch->vtimer.hw_dirty = true;
}

void a64_timer_reset(struct vcpu_arch *arch)
{
	arch->vtimer.hv_masked = false;
	arch->vtimer.hw_dirty = true;
}

void a64_timer_kick(struct vcpu_arch *arch)
{
	/* The caller published kick_pending and fenced; the waiter publishes in_wfi, then tests it. */
	if (atomic_load(&arch->vtimer.in_wfi))
		hal_notify_all(arch->sched_wq);
}

static bool wfi_over(void *p)
{
	struct vcpu_arch *arch = p;

	return atomic_load(&arch->kick_pending) || vtimer_condition(arch->sys.cntv_cval_el0, guest_count(arch));
}

bool a64_timer_wfi(struct vcpu_arch *arch)
{
	uint64_t freq = read_sysreg(cntfrq_el0);

	/*
	 * Disabled or masked: nothing to wait for. Already taken and not yet ended (the
	 * interrupt is with the guest or its GIC, perhaps disabled there): the timer has
	 * nothing more to say either, and taking it again would turn WFI into a busy loop.
	 */
	if (!vtimer_armed(arch->sys.cntv_ctl_el0) || arch->vtimer.hv_masked)
		return false;
	if (!vtimer_condition(arch->sys.cntv_cval_el0, guest_count(arch))) {
		arch->vtimer.wfi_waits++;
		a64_timer_quiesce(arch);
		atomic_store(&arch->vtimer.in_wfi, true);
		while (!wfi_over(arch)) {
			uint64_t left = vtimer_ticks_left(arch->sys.cntv_cval_el0, guest_count(arch));

			/* A timed-out wait is no error here: the loop looks at the timer again. */
			hal_wait_until(arch->sched_wq, wfi_over, arch, vtimer_ticks_to_ns(left, freq) + 1);
		}
		atomic_store(&arch->vtimer.in_wfi, false);
	}
	if (vtimer_condition(arch->sys.cntv_cval_el0, guest_count(arch)))
		take(arch);
	return true;
}
