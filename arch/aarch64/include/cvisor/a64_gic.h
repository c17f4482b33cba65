/* SPDX-License-Identifier: MIT */
/*
 * The AArch64 backend's list-register interface for an emulated GIC (devices/vgic-v3.c):
 * the small arch header DESIGN.md allows an AArch64-only device. A vCPU with a hook
 * attached no longer fills its list registers itself: before every entry the backend
 * hands the hook the LR values the last exit left (ICH_LR<n>_EL2 format, IHI 0069
 * 12.5.10) to fold back and rewrite, and adds the ICH_HCR_EL2 bits it returns; a trapped
 * WFI completes at once when the hook says an interrupt is pending; and
 * arch_vcpu_inject_interrupt only makes the vCPU go through an entry (the emulated GIC
 * decides what the LRs hold).
 */
#ifndef CVISOR_A64_GIC_H
#define CVISOR_A64_GIC_H

#include <cvisor/arch_vcpu.h>

struct a64_vgic_hook {
	/*
	 * On the vCPU's own CPU, right before entry, with the guest's state saved: lr[0,
	 * nr_lrs) to fold and rewrite; returns extra ICH_HCR_EL2 bits (NPIE, UIE).
	 */
	uint64_t (*flush)(void *ctx, uint32_t vcpu_id, uint64_t *lr, unsigned nr_lrs);
	/* After a trapped WFI: true when the guest has an interrupt to take (vmcr: ICH_VMCR_EL2). */
	bool (*pending)(void *ctx, uint32_t vcpu_id, const uint64_t *lr, unsigned nr_lrs, uint64_t vmcr);
};

/*
 * Attaches hook (static storage) with ctx to a vCPU that has not run yet; NULL detaches.
 * Only before the VM boots.
 */
void a64_vgic_attach(struct vcpu_arch *arch, const struct a64_vgic_hook *hook, void *ctx);

/* The number of list registers this CPU implements (ICH_VTR_EL2.ListRegs + 1), at most A64_MAX_LRS. */
unsigned a64_vgic_nr_lrs(void);

/*
 * The active-priority registers (ICH_AP0R<n>_EL2, ICH_AP1R<n>_EL2) of every implemented
 * preemption level (ICH_VTR_EL2.PREbits: 5 bits -> n = 0, 6 -> 0-1, 7 -> 0-3), saved and
 * restored with the list registers (backend use).
 */
void a64_vgic_save_aprs(struct a64_vgic *g);
void a64_vgic_restore_aprs(const struct a64_vgic *g);

#endif /* CVISOR_A64_GIC_H */
