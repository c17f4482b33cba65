/* SPDX-License-Identifier: MIT */
/*
 * The EL1 virtual timer of AArch64 guests (ARM ARM D11.2 "The Generic Timer in
 * AArch64 state", D11.2.4 "Timers"). The timer's registers belong to the guest: EL1
 * programs CNTV_CVAL_EL0 / CNTV_CTL_EL0 directly, the backend switches them per vCPU and
 * CNTVOFF_EL2 per VM (arch/aarch64/timer.c). What cvisor adds is the interrupt: the
 * timer's PPI (27) fires at EL2 while the guest runs and is injected into the vCPU that
 * owns it, and a vCPU waiting in WFI with its timer armed is woken when it is due.
 *
 * The inline helpers below are the architecture's arithmetic, shared by the backend and
 * the host unit tests (tests/unit/test_vtimer.c). Freestanding.
 */
#ifndef CVISOR_VTIMER_H
#define CVISOR_VTIMER_H

#include <stdbool.h>
#include <stdint.h>

struct vm;
struct vgic;

/* CNTV_CTL_EL0 (ARM ARM D13.8.16). */
#define VTIMER_CTL_ENABLE  (1ull << 0)
#define VTIMER_CTL_IMASK   (1ull << 1)
#define VTIMER_CTL_ISTATUS (1ull << 2) /* read-only: the condition is met */

/* The INTID of the EL1 virtual timer's PPI on QEMU virt and every SBSA machine. */
#define VTIMER_INTID 27u

/* The timer condition (D11.2.4): CNTVCT - CVAL >= 0, both unsigned 64-bit, i.e. CNTVCT >= CVAL. */
static inline bool vtimer_condition(uint64_t cval, uint64_t cntvct)
{
	return cntvct >= cval;
}

/* The timer's interrupt output: enabled, not masked, condition met. */
static inline bool vtimer_output(uint64_t ctl, uint64_t cval, uint64_t cntvct)
{
	return (ctl & VTIMER_CTL_ENABLE) && !(ctl & VTIMER_CTL_IMASK) && vtimer_condition(cval, cntvct);
}

/* True when the timer can raise its interrupt at some point: enabled and not masked. */
static inline bool vtimer_armed(uint64_t ctl)
{
	return (ctl & VTIMER_CTL_ENABLE) && !(ctl & VTIMER_CTL_IMASK);
}

/* Counter ticks until the condition is met (0: met already). */
static inline uint64_t vtimer_ticks_left(uint64_t cval, uint64_t cntvct)
{
	return vtimer_condition(cval, cntvct) ? 0 : cval - cntvct;
}

/*
 * ticks at freq Hz in nanoseconds, rounded up (a wake-up is never early), saturating at
 * VTIMER_NS_MAX (about 146 years) instead of overflowing. freq 0 gives VTIMER_NS_MAX.
 */
#define VTIMER_NS_MAX (UINT64_MAX / 4)
static inline uint64_t vtimer_ticks_to_ns(uint64_t ticks, uint64_t freq)
{
	uint64_t secs, rest;

	if (!freq)
		return VTIMER_NS_MAX;
	secs = ticks / freq;
	rest = ticks % freq;
	if (secs >= VTIMER_NS_MAX / 1000000000ull)
		return VTIMER_NS_MAX;
	/* rest < freq < 2^34 (any real counter runs below 17 GHz), so rest * 10^9 < 2^64. */
	return secs * 1000000000ull + (rest * 1000000000ull + freq - 1) / freq;
}

/*
 * AArch64 builds only (devices/vtimer.c): gives every vCPU of vm (LOADED) one CNTVOFF_EL2,
 * the physical counter now, so the guest's virtual counter starts near 0 as after a
 * reset and is the same on all its vCPUs; and says where the timer's PPI goes: into
 * vgic (vgic_set_level of VTIMER_INTID, lowered again through vgic_set_resample when
 * the guest ends it and the timer no longer asserts it), or with vgic NULL into the
 * backend's own list registers (guests without an emulated GIC). Call it after
 * vm_add_vgic_v3. -CV_EINVAL (NULL vm), -CV_EBADSTATE (the VM is not LOADED), or
 * vgic_set_resample's error.
 */
int vm_add_vtimer(struct vm *vm, struct vgic *vgic);

#endif /* CVISOR_VTIMER_H */
