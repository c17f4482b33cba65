/* SPDX-License-Identifier: MIT */
/*
 * The AArch64 EL2 backend's vCPU and VM state (seed 002, arm_vcpu): the trap frame at
 * offset 0 and host_stack_top right after it (entry.S depends on both; offsets checked
 * in vcpu.c against asm-offsets.h), the guest's EL1 system registers, its GICv3 virtual
 * CPU interface state and FP/SIMD registers.
 */
#ifndef CVISOR_ARCH_VCPU_H
#define CVISOR_ARCH_VCPU_H

#include <stdatomic.h>

#include <cvisor/arch.h>
#include <cvisor/exit.h>
#include <cvisor/types.h>

/* The seed's TrapFrame: x0-x30, sp_el0, elr, spsr (0x110 bytes). */
struct a64_trap_frame {
	uint64_t x[31];
	uint64_t sp_el0;
	uint64_t elr;  /* the guest's PC */
	uint64_t spsr; /* the guest's PSTATE */
};

/*
 * The seed's GuestSystemRegisters plus every EL1 register a simple guest (and its own
 * stage 1) uses, saved on exit and restored before entry.
 */
struct a64_guest_sysregs {
	/* seed list */
	uint64_t cntvoff_el2, cntkctl_el1, sp_el0_unused, sctlr_el1, hcr_el2, vttbr_el2, vmpidr_el2, vpidr_el2;
	/* EL1 execution state */
	uint64_t sp_el1, elr_el1, spsr_el1, vbar_el1, esr_el1, far_el1, afsr0_el1, afsr1_el1, par_el1;
	/* EL1 stage 1 */
	uint64_t ttbr0_el1, ttbr1_el1, tcr_el1, mair_el1, amair_el1, contextidr_el1;
	/* thread pointers, CPACR, cache selection */
	uint64_t tpidr_el0, tpidrro_el0, tpidr_el1, cpacr_el1, csselr_el1;
	/* the EL1 timers the guest owns */
	uint64_t cntv_ctl_el0, cntv_cval_el0, cntp_ctl_el0, cntp_cval_el0;
	/* FEAT_SME's thread pointer (switched only where SME is implemented, hidden or not) */
	uint64_t tpidr2_el0;
};

/* FP/SIMD state: V0-V31, FPSR, FPCR (switched lazily per physical CPU). */
struct a64_fp_state {
	uint64_t v[64];
	uint64_t fpsr, fpcr;
};

#define A64_MAX_LRS 16

struct a64_vgic_hook;

/* The GICv3 virtual CPU interface of the vCPU (IHI 0069 chapter 6). */
struct a64_vgic {
	uint64_t lr[A64_MAX_LRS];
	uint64_t vmcr, hcr;
	uint64_t ap0r[4], ap1r[4]; /* ICH_AP0R<n>/AP1R<n>_EL2: as many as ICH_VTR_EL2.PREbits needs */
	/* Pending INTIDs that found no free list register, refilled on entry (bit n = INTID n). */
	uint64_t overflow[1024 / 64];
	/* An emulated GIC that fills the LRs instead (cvisor/a64_gic.h), or NULL. */
	const struct a64_vgic_hook *hook;
	void *hook_ctx;
};

/*
 * The guest's EL1 virtual timer as the backend handles it (arch/aarch64/timer.c). Its
 * registers are the guest's (CNTV_CTL_EL0 / CNTV_CVAL_EL0 in struct a64_guest_sysregs,
 * CNTVOFF_EL2 per VM); this is what EL2 adds: its PPI taken at EL2 becomes virtual PPI
 * 27 of the vCPU, its PPI masked until the guest ends that interrupt.
 */
struct a64_vtimer {
	bool hv_masked; /* EL2 took the PPI: masked (ICC_PMR_EL1) while this vCPU runs, until the guest's EOI */
	bool hw_dirty;	/* the hardware CNTV_CTL_EL0 differs from sys: restore writes it */
	_Atomic bool in_wfi; /* waiting in WFI for its timer: a kick must wake the wait */
	/* Where the PPI goes: NULL = the backend's own list registers; else (the vGIC) fire(ctx, vcpu_id). */
	void (*fire)(void *ctx, uint32_t vcpu_id);
	void *fire_ctx;
	uint64_t fired, wfi_waits; /* statistics */
};

struct vm_arch {
	uint32_t vm_id;
	uint16_t vmid;	      /* VTTBR_EL2.VMID (8 or 16 bits, stage2.c), freed with the VM */
	uint64_t *root;	      /* stage-2 root table */
	unsigned start_level; /* first level of the stage-2 walk (0 or 1) */
	unsigned ipa_bits;
	uint64_t vtcr;
	bool created;
};

struct vcpu_arch {
	struct a64_trap_frame ctx; /* offset 0: entry.S saves the guest here */
	uint64_t host_stack_top;   /* offset 0x110: the host's sp while the guest runs */
	struct a64_guest_sysregs sys;
	struct a64_vgic vgic;
	struct a64_fp_state fp;
	struct a64_vtimer vtimer;
	struct vm_arch *vm;
	uint32_t vm_id, vcpu_id;
	uint64_t mpidr; /* what the guest reads in MPIDR_EL1 (VMPIDR_EL2) */
	uint64_t boot_arg;
	_Atomic int running_cpu; /* physical CPU index while in guest mode, else -1 */
	_Atomic uint64_t running_mpidr;
	_Atomic bool kick_pending;
	struct hal_waitq *sched_wq; /* for the scheduling point after an IRQ exit */
	int fp_cpu;		    /* physical CPU holding this vCPU's FP registers live, or -1 */
	bool bound;
	bool sys_dirty;		       /* sys changed in software: restore it on the next entry */
	bool off;		       /* PSCI CPU_OFF: EL1 state is reset when CPU_ON gives a new entry */
	enum vcpu_exit_kind last_exit; /* the last exit returned and what caused it: */
	uint64_t last_exit_pc;	       /* the trapping instruction's address */
	uint64_t last_exit_far;	       /* FAR_EL2 (the access's virtual address) */
	bool last_exit_write;
	/* NESTED_PAGE_FAULT: what a64_vcpu_inject_abort may inject (A64_ABT_*). */
	enum { A64_ABT_NONE, A64_ABT_FETCH, A64_ABT_WALK } last_exit_abt;
};

/*
 * AArch64 only (for the bare-metal embedder, outside the arch contract, which has no
 * abort injection): makes the guest take the exception the hardware would give for the
 * access behind the last MMIO_READ / MMIO_WRITE exit (a synchronous external abort at
 * the access's address) or SYSREG_READ / SYSREG_WRITE exit (an undefined instruction),
 * returning to the trapping instruction, or NESTED_PAGE_FAULT exit for an instruction
 * fetch from an IPA with nothing mapped (an instruction abort) or a stage-1 table walk
 * into one (a data abort), both synchronous external aborts. That is DESIGN.md's `abort`
 * policy for an access to no device. -CV_EINVAL after any other exit (or a stage-2
 * permission fault).
 */
int a64_vcpu_inject_abort(struct vcpu_arch *arch);

/* The architected timers' PPIs (ARM ARM D11.2.4; QEMU virt and SBSA agree). */
#define A64_PPI_VTIMER 27u /* EL1 virtual timer: the guest's */
#define A64_PPI_PTIMER 30u /* EL1 physical timer */
/* The GICv3 maintenance interrupt (IHI 0069 4.8.2 recommends PPI 25; QEMU virt uses it). */
#define A64_PPI_MAINTENANCE 25u

/*
 * AArch64 only (devices/vtimer.c): sets CNTVOFF_EL2 of the vCPU (the VM's virtual counter
 * is the physical one minus off; every vCPU of a VM must get the same value). Call before
 * the vCPU first runs.
 */
void a64_vcpu_set_cntvoff(struct vcpu_arch *arch, uint64_t off);

/*
 * AArch64 only: routes the vCPU's timer interrupt to fire(ctx, vcpu_id) (the vGIC's
 * vgic_set_level(.., A64_PPI_VTIMER, true)), called on the vCPU's own task outside the
 * guest; NULL: the backend puts PPI 27 in its own list registers. Call before it runs.
 */
void a64_vcpu_set_timer_hook(struct vcpu_arch *arch, void (*fire)(void *ctx, uint32_t vcpu_id), void *ctx);

/*
 * AArch64 only, for a vGIC's resample on the guest's EOI of PPI 27 (vCPU's own task,
 * outside the guest): the timer's output level now (ENABLE, not IMASK, CVAL reached).
 * When it is low, the mask EL2 put on the timer's PPI when it took it is lifted.
 */
bool a64_vcpu_timer_resample(struct vcpu_arch *arch);

/* The SGI a kick sends (the host's wake-up SGI, so one interrupt serves both). */
#define A64_SGI_KICK 0u

/* SYSREG_READ/WRITE exit address: the ESR ISS of an MSR/MRS trap with Rt and direction masked. */
#define A64_SYSREG(op0, op1, crn, crm, op2)                                                                            \
	(((uint64_t)(op0) << 20) | ((uint64_t)(op2) << 17) | ((uint64_t)(op1) << 14) | ((uint64_t)(crn) << 10) |       \
	 ((uint64_t)(crm) << 1))

#endif /* CVISOR_ARCH_VCPU_H */
