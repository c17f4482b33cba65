/* SPDX-License-Identifier: MIT */
/* The guest's virtual timer in the backend (timer.c), private to arch/aarch64. */
#ifndef CVISOR_A64_TIMER_H
#define CVISOR_A64_TIMER_H

#include <cvisor/arch_vcpu.h>

/* PPI 27 was taken at EL2 while arch ran (its EL1 state is saved): mask and inject. */
void a64_timer_irq(struct vcpu_arch *arch);
/*
 * A trapped WFI. true: handled here (the timer was due, or the vCPU waited for it and
 * it is due now, or a kick ended the wait): resume the guest. false: the timer cannot
 * wake the vCPU (disabled or masked): a HALT exit, the VMM parks it until an interrupt.
 */
bool a64_timer_wfi(struct vcpu_arch *arch);
/* Before entry, after the list registers are in sys: a guest EOI of PPI 27 found in
 * lr[0, n) (LR.EOI, backend list-register mode) lifts EL2's mask. */
void a64_timer_lr_eoi(struct vcpu_arch *arch, unsigned n);
/* Last step before entry (EL1 state of arch live on this CPU): writes CNTV_CTL_EL0 when EL2 changed it. */
void a64_timer_load(struct vcpu_arch *arch);
/* The vCPU leaves the CPU for longer (unbind) with its EL1 state live here: its timer must not fire at the host. */
void a64_timer_quiesce(struct vcpu_arch *arch);
/* A kick: ends a WFI wait. */
void a64_timer_kick(struct vcpu_arch *arch);
/* PSCI CPU_ON reset. */
void a64_timer_reset(struct vcpu_arch *arch);

#endif
