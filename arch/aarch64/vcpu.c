/* SPDX-License-Identifier: MIT */
/*
 * The AArch64 EL2 backend (seed 002, arm_vcpu): the arch contract on bare metal.
 *
 * A run: publish the physical CPU the vCPU is on (for kicks), switch FP/SIMD in lazily,
 * restore the guest's EL1 system registers and GIC list registers, enter the guest
 * (entry.S), save them again, and decode the exit. Exits come from ESR_EL2 through a
 * static table indexed by exception class with a default in every slot (STYLE.md 4).
 * Traps answered here (PSCI in place, ID registers, cache maintenance to MMIO) re-enter
 * the guest without going back to the VMM. A guest can never make this code panic:
 * what it cannot do becomes an exception injected into it, or an exit.
 */
#include <stddef.h>

#include <cvisor/a64_gic.h>
#include <cvisor/arch.h>
#include <cvisor/arch_vcpu.h>
#include <cvisor/errors.h>
#include <cvisor/hal.h>
#include <cvisor/psci.h>

#include "asm-offsets.h"
#include "sysreg.h"
#include "timer.h"

_Static_assert(sizeof(struct a64_trap_frame) == TF_SIZE, "trap frame is 0x110 bytes (seed 002)");
_Static_assert(offsetof(struct vcpu_arch, ctx) == 0, "entry.S: trap frame at offset 0");
_Static_assert(offsetof(struct a64_trap_frame, sp_el0) == TF_SP_EL0, "entry.S: sp_el0 offset");
_Static_assert(offsetof(struct a64_trap_frame, elr) == TF_ELR, "entry.S: elr offset");
_Static_assert(offsetof(struct a64_trap_frame, spsr) == TF_SPSR, "entry.S: spsr offset");
_Static_assert(offsetof(struct vcpu_arch, host_stack_top) == VCPU_HOST_STACK_TOP,
	       "entry.S: host_stack_top right after the trap frame");
_Static_assert(offsetof(struct a64_fp_state, fpsr) == 512 && offsetof(struct a64_fp_state, fpcr) == 520,
	       "entry.S: FP state layout");

uint64_t a64_guest_enter(struct vcpu_arch *arch);
void a64_fp_save(struct a64_fp_state *s);
void a64_fp_restore(const struct a64_fp_state *s);
extern char a64_el2_vectors[];

/*
 * ---- The EL2 configuration, in one place (ARM ARM D13.2, non-E2H layouts) ----
 *
 * HCR_EL2 while a guest runs:
 *   VM    (0)  stage-2 translation on
 *   SWIO  (1)  data cache invalidate by set/way behaves as clean+invalidate
 *   FMO   (3)  physical FIQs to EL2, virtual FIQs enabled
 *   IMO   (4)  physical IRQs to EL2, virtual IRQs enabled; also traps ICC_SGI1R_EL1
 *   AMO   (5)  physical SErrors to EL2
 *   FB    (9)  TLB and I-cache maintenance broadcast in the inner shareable domain
 *   BSU  (11:10) = 1  barriers upgraded to inner shareable (a vCPU may run on any pCPU)
 *   TWI   (13) WFI traps: HALT
 *   TID3  (18) ID registers trap: the guest reads sanitised values (id_register below)
 *   TSC   (19) SMC traps: PSCI by SMC works like HVC, and never reaches the firmware
 *   TIDCP (20) implementation-defined registers trap (UNDEFINED to the guest)
 *   TACR  (21) ACTLR_EL1 traps: implementation-defined and not switched, so the guest reads
 *              the hardware's value and its writes are ignored (handle_sys64), never
 *              reaching another vCPU or VM on this CPU
 *   RW    (31) EL1 is AArch64
 *   TLOR  (35) LORegions registers trap (ID_AA64MMFR1_EL1.LO hidden; they are not switched)
 *   TERR  (36) RAS error records trap (RAS is hidden)
 *   clear: E2H, TGE (EL2 is a plain hypervisor), API and APK (pointer authentication is
 *   hidden and its instructions trap), ATA (MTE hidden and trapped), TWE, TVM, DC.
 */
#define HCR_GUEST                                                                                                      \
	((1ull << 0) | (1ull << 1) | (1ull << 3) | (1ull << 4) | (1ull << 5) | (1ull << 9) | (1ull << 10) |            \
	 (1ull << 13) | (1ull << 18) | (1ull << 19) | (1ull << 20) | (1ull << 21) | (1ull << 31) | (1ull << 35) |      \
	 (1ull << 36))
/* HCR_EL2 while no guest runs: only RW, so nothing of the guest's configuration applies. */
#define HCR_HOST (1ull << 31)

/*
 * CPTR_EL2: RES1 bits 7:0, 9 and 13; TZ (8) traps SVE and TSM (12) traps SME (both hidden
 * from the guest); TFP (10) clear: the guest owns FP/SIMD, switched per vCPU; TTA (20)
 * traps trace registers; TAM (30) traps activity monitors; TCPAC (31) clear.
 */
#define CPTR_VALUE (0x33ffull | (1ull << 20) | (1ull << 30))

/*
 * CNTHCTL_EL2: EL1PCTEN (0) and EL1PCEN (1): the guest reads the counter and owns the EL1
 * physical timer (switched per vCPU; its PPI 30 is not delivered). The virtual counter and
 * timer are EL1's without any control: the timer Linux uses at EL1 (timer.c).
 */
#define CNTHCTL_VALUE ((1ull << 0) | (1ull << 1))

/*
 * MDCR_EL2: HPMN (4:0) kept from reset; TPMCR (5) and TPM (6) trap the PMU; TDA (9),
 * TDOSA (10) and TDRA (11) trap the debug registers (a guest access becomes a SYSREG exit);
 * TPMS (14) traps SPE; TTRF (19) traps trace filter control.
 */
#define MDCR_TRAPS ((1ull << 5) | (1ull << 6) | (1ull << 9) | (1ull << 10) | (1ull << 11) | (1ull << 14) | (1ull << 19))

/* ICC_SRE_EL2: SRE (0), DFB (1), DIB (2), Enable (3): EL1 uses the system-register GIC interface. */
#define ICC_SRE_EL2_VALUE 0xfull

/*
 * ICH_HCR_EL2: En (0): the virtual CPU interface delivers list-register interrupts.
 * NPIE (3) is added while interrupts wait in software for a list register: the
 * maintenance interrupt (PPI 25) then ends the guest's run once no LR is pending.
 * With an emulated GIC attached (cvisor/a64_gic.h) its flush says what to add: NPIE,
 * or UIE (1: at most one LR valid) when every LR is active and more wait.
 */
#define ICH_HCR_VALUE 1ull
#define ICH_HCR_NPIE  (1ull << 3)

/* SCTLR_EL1 at reset of a vCPU: MMU and caches off, the RES1 bits (seed 002). */
#define SCTLR_EL1_RESET 0x30C50830ull

#define MAX_PCPUS     64
#define LR_STATE_MASK (3ull << 62)
#define LR_PENDING    (1ull << 62)
#define LR_GROUP1     (1ull << 60)
#define LR_PRIO(p)    ((uint64_t)(p) << 48)
#define LR_EOI	      (1ull << 41)

/* The vCPU whose FP/SIMD registers are live on each physical CPU (lazy switch). */
static struct vcpu_arch *_Atomic fp_owner[MAX_PCPUS];

/*
 * The vCPU whose EL1 registers are live on each physical CPU. EL2 never uses the EL1&0
 * regime, so when the same vCPU enters again on the same CPU and nothing rewrote its
 * saved copy (sys_dirty), the registers are still right and are not written again:
 * under QEMU, writing SCTLR_EL1, TCR_EL1 or HCR_EL2.VM flushes its whole TLB.
 */
static struct vcpu_arch *_Atomic el1_owner[MAX_PCPUS];

/*
 * FEAT_SME (ID_AA64PFR1_EL1.SME): SME itself is hidden and trapped (CPTR_EL2.TSM), but
 * TPIDR2_EL0 exists and is accessible at EL0 and EL1 without any trap this CPU may have
 * (FEAT_FGT's HFGRTR_EL2.nTPIDR2_EL0): switched per vCPU, or it leaks between vCPUs and VMs.
 */
static bool has_sme(void)
{
	static int sme = -1; /* the same on every CPU: a racing second computation is harmless */

	if (sme < 0)
		sme = ((read_sysreg(id_aa64pfr1_el1) >> 24) & 0xf) != 0;
	return sme;
}

static unsigned nr_lrs(void)
{
	return (unsigned)(read_sysreg(ICH_VTR_EL2) & 0x1f) + 1;
}

int arch_percpu_hardware_enable(unsigned cpu)
{
	uint64_t hpmn = read_sysreg(mdcr_el2) & 0x1f;

	if (cpu >= MAX_PCPUS)
		return -CV_ERANGE;
	write_sysreg(a64_el2_vectors, vbar_el2);
	write_sysreg(HCR_HOST, hcr_el2);
	write_sysreg(CPTR_VALUE, cptr_el2);
	write_sysreg(CNTHCTL_VALUE, cnthctl_el2);
	write_sysreg(hpmn | MDCR_TRAPS, mdcr_el2);
	write_sysreg(0, cntvoff_el2);
	write_sysreg(ICC_SRE_EL2_VALUE, ICC_SRE_EL2);
	write_sysreg(0, ICH_HCR_EL2);
	isb();
	return 0;
}

void arch_percpu_hardware_disable(unsigned cpu)
{
	(void)cpu;
	write_sysreg(HCR_HOST, hcr_el2);
	write_sysreg(0, ICH_HCR_EL2);
	isb();
}

/* ---- vCPU life cycle ---- */

static void fp_release(struct vcpu_arch *arch);

int arch_vcpu_create(struct vcpu_arch *arch, uint32_t vm_id, uint32_t vcpu_id, const struct arch_vcpu_create_cfg *cfg)
{
	if (!cfg || !cfg->vm)
		return -CV_EINVAL;
	arch->vm = cfg->vm;
	arch->vm_id = vm_id;
	arch->vcpu_id = vcpu_id;
	/* DESIGN.md: vCPU n is Aff1 = n / 16, Aff0 = n % 16; bit 31 is RES1 (ARM ARM D13.2.101). */
	arch->mpidr = (1ull << 31) | ((uint64_t)(vcpu_id / 16) << 8) | (vcpu_id % 16);
	arch->boot_arg = cfg->boot_arg;
	arch->ctx.x[0] = cfg->boot_arg;
	atomic_init(&arch->running_cpu, -1);
	atomic_init(&arch->running_mpidr, 0);
	atomic_init(&arch->kick_pending, false);
	arch->fp_cpu = -1;
	return hal_waitq_create(&arch->sched_wq);
}

/*
 * After PSCI CPU_OFF the next entry (CPU_ON) starts from reset EL1 state, as DEN0022 5.6
 * requires: registers zero, EL1h with DAIF masked, MMU and caches off, no pending
 * virtual interrupts. What identifies the vCPU and its VM (HCR, VTTBR, MPIDR) stays.
 */
static void reset_el1(struct vcpu_arch *arch)
{
	struct a64_guest_sysregs keep = arch->sys;

	arch->ctx = (struct a64_trap_frame){0};
	arch->sys = (struct a64_guest_sysregs){0};
	arch->sys.hcr_el2 = keep.hcr_el2;
	arch->sys.vttbr_el2 = keep.vttbr_el2;
	arch->sys.vmpidr_el2 = keep.vmpidr_el2;
	arch->sys.vpidr_el2 = keep.vpidr_el2;
	arch->sys.cntvoff_el2 = keep.cntvoff_el2;
	arch->sys.sctlr_el1 = SCTLR_EL1_RESET;
	arch->sys_dirty = true;
	arch->ctx.spsr = SPSR_EL1H_DAIF;
	for (unsigned i = 0; i < A64_MAX_LRS; i++)
		arch->vgic.lr[i] = 0;
	for (unsigned i = 0; i < 4; i++)
		arch->vgic.ap0r[i] = arch->vgic.ap1r[i] = 0;
	arch->vgic.vmcr = 0;
	for (unsigned i = 0; i < CV_ARRAY_SIZE(arch->vgic.overflow); i++)
		arch->vgic.overflow[i] = 0;
	fp_release(arch);
	arch->fp = (struct a64_fp_state){0};
	a64_timer_reset(arch);
}

int arch_vcpu_set_entry(struct vcpu_arch *arch, gpa_t entry)
{
	if (arch->off) {
		reset_el1(arch);
		arch->off = false;
	}
	arch->ctx.elr = entry.v;
	return 0;
}

int arch_vcpu_set_ept_root(struct vcpu_arch *arch, hpa_t root)
{
	if (!arch->vm || (root.v & 0xfff))
		return -CV_EINVAL;
	arch->sys.vttbr_el2 = root.v | ((uint64_t)arch->vm->vmid << 48);
	arch->sys_dirty = true;
	return 0;
}

int arch_vcpu_setup(struct vcpu_arch *arch, const struct arch_vcpu_setup_cfg *cfg)
{
	(void)cfg; /* pass-through interrupts and timer are not offered on this backend yet */
	arch->ctx.spsr = SPSR_EL1H_DAIF;
	arch->sys.sctlr_el1 = SCTLR_EL1_RESET;
	arch->sys.hcr_el2 = HCR_GUEST;
	arch->sys.vmpidr_el2 = arch->mpidr;
	arch->sys.vpidr_el2 = read_sysreg(midr_el1);
	arch->sys.cntvoff_el2 = 0;
	arch->sys_dirty = true;
	arch->vgic.hcr = ICH_HCR_VALUE;
	return 0;
}

int arch_vcpu_bind(struct vcpu_arch *arch)
{
	arch->bound = true;
	return 0;
}

/* Takes the vCPU's FP registers off whatever CPU holds them (that CPU is the caller's). */
static void fp_release(struct vcpu_arch *arch)
{
	int cpu = arch->fp_cpu;

	if (cpu < 0)
		return;
	if ((unsigned)cpu == hal_cpu_id() && atomic_load(&fp_owner[cpu]) == arch)
		a64_fp_save(&arch->fp);
	struct vcpu_arch *expected = arch;
	atomic_compare_exchange_strong(&fp_owner[cpu], &expected, NULL);
	arch->fp_cpu = -1;
}

int arch_vcpu_unbind(struct vcpu_arch *arch)
{
	unsigned cpu = hal_cpu_id();

	/* The task may now park or leave: an armed timer live here must not fire at the host. */
	if (cpu < MAX_PCPUS && atomic_load(&el1_owner[cpu]) == arch)
		a64_timer_quiesce(arch);
	fp_release(arch);
	arch->bound = false;
	return 0;
}

void arch_vcpu_destroy(struct vcpu_arch *arch)
{
	int cpu = arch->fp_cpu;

	/* Its memory may become another vCPU's: no CPU may believe it still holds its state. */
	for (unsigned i = 0; i < MAX_PCPUS; i++) {
		struct vcpu_arch *expected = arch;
		atomic_compare_exchange_strong(&el1_owner[i], &expected, NULL);
	}
	if (arch->sched_wq) {
		hal_waitq_destroy(arch->sched_wq);
		arch->sched_wq = NULL;
	}
	if (cpu >= 0) {
		struct vcpu_arch *expected = arch;
		atomic_compare_exchange_strong(&fp_owner[cpu], &expected, NULL);
	}
	arch->fp_cpu = -1;
}

int arch_vcpu_set_gpr(struct vcpu_arch *arch, unsigned reg, uint64_t val)
{
	if (reg == 31)
		return 0; /* XZR: an MMIO or system-register read into the zero register */
	if (reg > 31)
		return -CV_ERANGE;
	arch->ctx.x[reg] = val;
	return 0;
}

int arch_vcpu_set_return_value(struct vcpu_arch *arch, uint64_t val)
{
	arch->ctx.x[0] = val;
	return 0;
}

static bool overflow_empty(const struct a64_vgic *g)
{
	for (unsigned i = 0; i < CV_ARRAY_SIZE(g->overflow); i++)
		if (g->overflow[i])
			return false;
	return true;
}

/*
 * Makes vector pending in a list register, or in the software overflow set when every
 * LR is taken (IHI 0069 6.1: the hypervisor keeps the rest and refills). Runs on the
 * vCPU's own CPU outside the guest, so the saved LR copies are current.
 */
int arch_vcpu_inject_interrupt(struct vcpu_arch *arch, uint32_t vector)
{
	unsigned n = nr_lrs(), free_lr = A64_MAX_LRS;

	if (arch->vgic.hook)
		return 0;   /* the emulated GIC fills the LRs on the next entry */
	if (vector >= 1020) /* 1020-1023 are special INTIDs (IHI 0069 2.2.1) */
		return -CV_ERANGE;
	if (n > A64_MAX_LRS)
		n = A64_MAX_LRS;
	/*
	 * An LR the guest ended is invalid (state 00), but the timer's still carries LR.EOI
	 * until the next entry reads it (a64_timer_lr_eoi): that record is what lifts EL2's
	 * mask on PPI 27. Fold it now, or the LR chosen below could overwrite it and the
	 * timer would stay masked for good.
	 */
	a64_timer_lr_eoi(arch, n);
	for (unsigned i = 0; i < n; i++) {
		uint64_t lr = arch->vgic.lr[i];

		if ((lr & LR_STATE_MASK) == LR_PENDING && (uint32_t)lr == vector)
			return 0; /* already pending: interrupts are levels of "pending", not counts */
		if ((lr & LR_STATE_MASK) && (uint32_t)lr == vector) {
			/* Active: pending and active in the same LR (a vINTID may be in one LR only). */
			arch->vgic.lr[i] = lr | LR_PENDING;
			return 0;
		}
		if (!(lr & LR_STATE_MASK) && !(lr & LR_EOI) && free_lr == A64_MAX_LRS)
			free_lr = i;
	}
	if (free_lr == A64_MAX_LRS) {
		arch->vgic.overflow[vector / 64] |= 1ull << (vector % 64);
		return 0;
	}
	arch->vgic.lr[free_lr] = LR_PENDING | LR_GROUP1 | LR_PRIO(0xa0) | vector;
	/* The timer's PPI: its EOI is signalled (maintenance), so EL2's mask is lifted then (timer.c). */
	if (vector == A64_PPI_VTIMER)
		arch->vgic.lr[free_lr] |= LR_EOI;
	return 0;
}

/* Moves overflowed interrupts into free list registers, lowest INTID first. */
static void refill_lrs(struct vcpu_arch *arch, unsigned n)
{
	for (unsigned w = 0; w < CV_ARRAY_SIZE(arch->vgic.overflow); w++) {
		while (arch->vgic.overflow[w]) {
			uint32_t vector = w * 64 + (uint32_t)__builtin_ctzll(arch->vgic.overflow[w]);
			unsigned i;

			for (i = 0; i < n; i++)
				if (!(arch->vgic.lr[i] & LR_STATE_MASK))
					break;
			if (i == n)
				return;
			arch->vgic.overflow[w] &= arch->vgic.overflow[w] - 1;
			arch->vgic.lr[i] = LR_PENDING | LR_GROUP1 | LR_PRIO(0xa0) | vector;
		}
	}
}

void arch_vcpu_kick(struct vcpu_arch *arch)
{
	int cpu;

	/* Publish the request, then look where the vCPU runs (the run loop does the mirror image). */
	atomic_store(&arch->kick_pending, true);
	atomic_thread_fence(memory_order_seq_cst);
	a64_timer_kick(arch);
	cpu = atomic_load(&arch->running_cpu);
	if (cpu >= 0 && (unsigned)cpu != hal_cpu_id()) {
		uint64_t m = atomic_load(&arch->running_mpidr);
		uint64_t v = ((m >> 32) & 0xff) << 48 | ((m >> 16) & 0xff) << 32 | (uint64_t)A64_SGI_KICK << 24 |
			     ((m >> 8) & 0xff) << 16 | (((m & 0xff) >> 4) & 0xf) << 44 | (1ull << (m & 0xf));

		dsb(ishst);
		write_sysreg(v, ICC_SGI1R_EL1);
		isb();
	}
}

/* ---- state switching ---- */

#define LR_CASE(n, op)                                                                                                 \
	case n:                                                                                                        \
		op;                                                                                                    \
		break;

static void write_lr(unsigned i, uint64_t v)
{
	switch (i) {
		LR_CASE(0, write_sysreg(v, S3_4_C12_C12_0))
		LR_CASE(1, write_sysreg(v, S3_4_C12_C12_1))
		LR_CASE(2, write_sysreg(v, S3_4_C12_C12_2))
		LR_CASE(3, write_sysreg(v, S3_4_C12_C12_3))
		LR_CASE(4, write_sysreg(v, S3_4_C12_C12_4))
		LR_CASE(5, write_sysreg(v, S3_4_C12_C12_5))
		LR_CASE(6, write_sysreg(v, S3_4_C12_C12_6))
		LR_CASE(7, write_sysreg(v, S3_4_C12_C12_7))
		LR_CASE(8, write_sysreg(v, S3_4_C12_C13_0))
		LR_CASE(9, write_sysreg(v, S3_4_C12_C13_1))
		LR_CASE(10, write_sysreg(v, S3_4_C12_C13_2))
		LR_CASE(11, write_sysreg(v, S3_4_C12_C13_3))
		LR_CASE(12, write_sysreg(v, S3_4_C12_C13_4))
		LR_CASE(13, write_sysreg(v, S3_4_C12_C13_5))
		LR_CASE(14, write_sysreg(v, S3_4_C12_C13_6))
		LR_CASE(15, write_sysreg(v, S3_4_C12_C13_7))
	default:
		break;
	}
}

static uint64_t read_lr(unsigned i)
{
	uint64_t v = 0;

	switch (i) {
		LR_CASE(0, v = read_sysreg(S3_4_C12_C12_0))
		LR_CASE(1, v = read_sysreg(S3_4_C12_C12_1))
		LR_CASE(2, v = read_sysreg(S3_4_C12_C12_2))
		LR_CASE(3, v = read_sysreg(S3_4_C12_C12_3))
		LR_CASE(4, v = read_sysreg(S3_4_C12_C12_4))
		LR_CASE(5, v = read_sysreg(S3_4_C12_C12_5))
		LR_CASE(6, v = read_sysreg(S3_4_C12_C12_6))
		LR_CASE(7, v = read_sysreg(S3_4_C12_C12_7))
		LR_CASE(8, v = read_sysreg(S3_4_C12_C13_0))
		LR_CASE(9, v = read_sysreg(S3_4_C12_C13_1))
		LR_CASE(10, v = read_sysreg(S3_4_C12_C13_2))
		LR_CASE(11, v = read_sysreg(S3_4_C12_C13_3))
		LR_CASE(12, v = read_sysreg(S3_4_C12_C13_4))
		LR_CASE(13, v = read_sysreg(S3_4_C12_C13_5))
		LR_CASE(14, v = read_sysreg(S3_4_C12_C13_6))
		LR_CASE(15, v = read_sysreg(S3_4_C12_C13_7))
	default:
		break;
	}
	return v;
}

static void restore_guest(struct vcpu_arch *a, unsigned cpu)
{
	const struct a64_guest_sysregs *s = &a->sys;
	unsigned n = nr_lrs();
	uint64_t hcr_extra;

	if (atomic_load(&el1_owner[cpu]) != a || a->sys_dirty) {
		bool other = atomic_load(&el1_owner[cpu]) != a;

		write_sysreg(a->vm->vtcr, vtcr_el2);
		write_sysreg(s->vttbr_el2, vttbr_el2);
		write_sysreg(s->vmpidr_el2, vmpidr_el2);
		write_sysreg(s->vpidr_el2, vpidr_el2);
		write_sysreg(s->cntvoff_el2, cntvoff_el2);
		write_sysreg(s->sctlr_el1, sctlr_el1);
		write_sysreg(s->cntkctl_el1, cntkctl_el1);
		write_sysreg(s->sp_el1, sp_el1);
		write_sysreg(s->elr_el1, elr_el1);
		write_sysreg(s->spsr_el1, spsr_el1);
		write_sysreg(s->vbar_el1, vbar_el1);
		write_sysreg(s->esr_el1, esr_el1);
		write_sysreg(s->far_el1, far_el1);
		write_sysreg(s->afsr0_el1, afsr0_el1);
		write_sysreg(s->afsr1_el1, afsr1_el1);
		write_sysreg(s->par_el1, par_el1);
		write_sysreg(s->ttbr0_el1, ttbr0_el1);
		write_sysreg(s->ttbr1_el1, ttbr1_el1);
		write_sysreg(s->tcr_el1, tcr_el1);
		write_sysreg(s->mair_el1, mair_el1);
		write_sysreg(s->amair_el1, amair_el1);
		write_sysreg(s->contextidr_el1, contextidr_el1);
		write_sysreg(s->tpidr_el0, tpidr_el0);
		write_sysreg(s->tpidrro_el0, tpidrro_el0);
		write_sysreg(s->tpidr_el1, tpidr_el1);
		if (has_sme())
			write_sysreg(s->tpidr2_el0, S3_3_C13_C0_5); /* TPIDR2_EL0 */
		write_sysreg(s->cpacr_el1, cpacr_el1);
		write_sysreg(s->csselr_el1, csselr_el1);
		write_sysreg(s->cntv_cval_el0, cntv_cval_el0);
		write_sysreg(s->cntv_ctl_el0, cntv_ctl_el0);
		write_sysreg(s->cntp_cval_el0, cntp_cval_el0);
		write_sysreg(s->cntp_ctl_el0, cntp_ctl_el0);
		if (other) {
			/*
			 * Another vCPU ran here last. If it was of the same VM (same VMID),
			 * this CPU's TLB may hold its stage-1 entries, which need not match
			 * ours: drop this VMID's entries here (as KVM does on a vCPU switch).
			 */
			write_sysreg(s->hcr_el2, hcr_el2);
			isb();
			__asm__ volatile("tlbi vmalle1" ::: "memory");
			dsb(nsh);
			atomic_store(&el1_owner[cpu], a);
		}
		a->sys_dirty = false;
	}
	if (n > A64_MAX_LRS)
		n = A64_MAX_LRS;
	if (a->vgic.hook) {
		hcr_extra = a->vgic.hook->flush(a->vgic.hook_ctx, a->vcpu_id, a->vgic.lr, n);
	} else {
		a64_timer_lr_eoi(a, n);
		refill_lrs(a, n);
		hcr_extra = overflow_empty(&a->vgic) ? 0 : ICH_HCR_NPIE;
	}
	for (unsigned i = 0; i < n; i++)
		write_lr(i, a->vgic.lr[i]);
	a64_vgic_restore_aprs(&a->vgic);
	write_sysreg(a->vgic.vmcr, ICH_VMCR_EL2);
	write_sysreg(a->vgic.hcr | hcr_extra, ICH_HCR_EL2);
	/* HCR_EL2 stays the guest's while EL2 runs (it only governs EL1&0): written when it differs. */
	if (read_sysreg(hcr_el2) != s->hcr_el2)
		write_sysreg(s->hcr_el2, hcr_el2);
	a64_timer_load(a);
	isb();
}

static void save_guest(struct vcpu_arch *a)
{
	struct a64_guest_sysregs *s = &a->sys;
	unsigned n = nr_lrs();

	s->sctlr_el1 = read_sysreg(sctlr_el1);
	s->cntkctl_el1 = read_sysreg(cntkctl_el1);
	s->sp_el1 = read_sysreg(sp_el1);
	s->elr_el1 = read_sysreg(elr_el1);
	s->spsr_el1 = read_sysreg(spsr_el1);
	s->vbar_el1 = read_sysreg(vbar_el1);
	s->esr_el1 = read_sysreg(esr_el1);
	s->far_el1 = read_sysreg(far_el1);
	s->afsr0_el1 = read_sysreg(afsr0_el1);
	s->afsr1_el1 = read_sysreg(afsr1_el1);
	s->par_el1 = read_sysreg(par_el1);
	s->ttbr0_el1 = read_sysreg(ttbr0_el1);
	s->ttbr1_el1 = read_sysreg(ttbr1_el1);
	s->tcr_el1 = read_sysreg(tcr_el1);
	s->mair_el1 = read_sysreg(mair_el1);
	s->amair_el1 = read_sysreg(amair_el1);
	s->contextidr_el1 = read_sysreg(contextidr_el1);
	s->tpidr_el0 = read_sysreg(tpidr_el0);
	s->tpidrro_el0 = read_sysreg(tpidrro_el0);
	s->tpidr_el1 = read_sysreg(tpidr_el1);
	if (has_sme())
		s->tpidr2_el0 = read_sysreg(S3_3_C13_C0_5); /* TPIDR2_EL0 */
	s->cpacr_el1 = read_sysreg(cpacr_el1);
	s->csselr_el1 = read_sysreg(csselr_el1);
	s->cntv_ctl_el0 = read_sysreg(cntv_ctl_el0);
	s->cntv_cval_el0 = read_sysreg(cntv_cval_el0);
	s->cntp_ctl_el0 = read_sysreg(cntp_ctl_el0);
	s->cntp_cval_el0 = read_sysreg(cntp_cval_el0);
	/*
	 * The guest's timers stay armed across a short exit: a virtual timer PPI (27) that
	 * fires meanwhile is taken right after the next entry. A longer absence (unbind, a
	 * WFI wait) switches it off (timer.c). PPI 30 (EL1 physical timer) is not enabled at
	 * the host, so it never interrupts it.
	 */
	for (unsigned i = 0; i < n && i < A64_MAX_LRS; i++)
		a->vgic.lr[i] = read_lr(i);
	a64_vgic_save_aprs(&a->vgic);
	a->vgic.vmcr = read_sysreg(ICH_VMCR_EL2);
	/* No virtual interrupt or maintenance interrupt while EL2 runs. */
	write_sysreg(0, ICH_HCR_EL2);
	isb();
}

/* Makes the vCPU's FP/SIMD registers the live ones on this CPU (saving the previous owner's). */
static void fp_switch_in(struct vcpu_arch *arch, unsigned cpu)
{
	struct vcpu_arch *owner = atomic_load(&fp_owner[cpu]);

	if (owner == arch)
		return;
	if (owner) {
		a64_fp_save(&owner->fp);
		owner->fp_cpu = -1;
	}
	a64_fp_restore(&arch->fp);
	atomic_store(&fp_owner[cpu], arch);
	arch->fp_cpu = (int)cpu;
}

/* ---- exits ---- */

enum trap_result {
	TRAP_RESUME, /* handled here: enter the guest again */
	TRAP_EXIT,   /* *exit is filled: return to the VMM */
	TRAP_FAIL,   /* the vCPU cannot go on */
};

struct trap {
	uint64_t esr, far, hpfar;
};

typedef enum trap_result (*ec_handler)(struct vcpu_arch *arch, const struct trap *t, struct vcpu_exit *exit);

static void skip_instruction(struct vcpu_arch *arch, const struct trap *t)
{
	arch->ctx.elr += (t->esr & ESR_IL) ? 4 : 2;
}

static uint64_t gpr(const struct vcpu_arch *arch, unsigned r)
{
	return r < 31 ? arch->ctx.x[r] : 0; /* 31 is XZR in these encodings */
}

/* PSTATE bits (SPSR_EL1 layout from AArch64; ARM ARM C5.2.18). */
#define PSTATE_BTYPE	(3ull << 10)
#define PSTATE_SSBS	(1ull << 12)
#define PSTATE_PAN	(1ull << 22)
#define PSTATE_DIT	(1ull << 24)
#define PSTATE_TCO	(1ull << 25)
#define PSTATE32_DIT	(1ull << 21) /* from AArch32: DIT sits elsewhere in the SPSR */
#define SCTLR_EL1_SPAN	(1ull << 23)
#define SCTLR_EL1_DSSBS (1ull << 44)

/* What the CPU implements of the PSTATE fields an exception entry sets (read once; the same on every CPU). */
static uint64_t pstate_features(void)
{
	static uint64_t f = ~0ull;

	if (f == ~0ull) {
		uint64_t v = 0;

		if ((read_sysreg(id_aa64mmfr1_el1) >> 20) & 0xf)
			v |= PSTATE_PAN; /* FEAT_PAN */
		if ((read_sysreg(id_aa64pfr1_el1) >> 4) & 0xf)
			v |= PSTATE_SSBS; /* FEAT_SSBS */
		if ((read_sysreg(id_aa64pfr1_el1) >> 8) & 0xf)
			v |= PSTATE_TCO; /* FEAT_MTE (hidden from the guest, but the hardware's entry sets TCO) */
		f = v;
	}
	return f;
}

/*
 * PSTATE on taking an exception to EL1 from the interrupted state spsr, as the
 * AArch64.TakeException pseudocode has it: EL1h, D, A, I and F masked, SS, IL and BTYPE
 * (FEAT_BTI) cleared, UAO cleared; PAN set when SCTLR_EL1.SPAN is 0 (FEAT_PAN), else
 * kept; SSBS from SCTLR_EL1.DSSBS (FEAT_SSBS); TCO set (FEAT_MTE); DIT kept. FEAT_NMI's
 * ALLINT is not handled: the CPUs this runs on do not have it.
 */
static uint64_t exception_pstate(uint64_t spsr, uint64_t sctlr)
{
	uint64_t feat = pstate_features(), p = SPSR_EL1H_DAIF;
	bool aarch32 = spsr & 0x10;

	if (spsr & (aarch32 ? PSTATE32_DIT : PSTATE_DIT))
		p |= PSTATE_DIT;
	if (feat & PSTATE_PAN)
		p |= (!(sctlr & SCTLR_EL1_SPAN) || (spsr & PSTATE_PAN)) ? PSTATE_PAN : 0; /* PAN: bit 22 in both */
	if ((feat & PSTATE_SSBS) && (sctlr & SCTLR_EL1_DSSBS))
		p |= PSTATE_SSBS;
	p |= feat & PSTATE_TCO;
	return p;
}

/*
 * Takes a synchronous exception to the guest's EL1 (ARM ARM D1.10.2 and the
 * AArch64.TakeException pseudocode): ELR_EL1/SPSR_EL1 get the interrupted state, the
 * vector offset depends on where the guest was, and it continues in EL1h with the
 * PSTATE exception_pstate gives.
 */
static void inject_sync(struct vcpu_arch *arch, uint64_t esr_el1, bool set_far, uint64_t far)
{
	uint64_t spsr = arch->ctx.spsr, offset;

	if (spsr & 0x10)
		offset = 0x600; /* from AArch32 EL0 */
	else if ((spsr & 0xf) == 0x0)
		offset = 0x400; /* from EL0 */
	else if ((spsr & 0xf) == 0x4)
		offset = 0x000; /* EL1t */
	else
		offset = 0x200; /* EL1h */
	arch->sys.elr_el1 = arch->ctx.elr;
	arch->sys.spsr_el1 = spsr;
	arch->sys.esr_el1 = esr_el1;
	if (set_far)
		arch->sys.far_el1 = far;
	arch->ctx.spsr = exception_pstate(spsr, arch->sys.sctlr_el1);
	arch->ctx.elr = arch->sys.vbar_el1 + offset;
	arch->sys_dirty = true;
}

static bool from_el0(const struct vcpu_arch *arch)
{
	return (arch->ctx.spsr & 0x10) || (arch->ctx.spsr & 0xf) == 0;
}

static void inject_undef(struct vcpu_arch *arch)
{
	inject_sync(arch, (uint64_t)EC_UNKNOWN << 26 | ESR_IL, false, 0);
}

/* A synchronous external abort on a data access (DFSC 0x10), as hardware reports a bus error. */
static void inject_dabt(struct vcpu_arch *arch, uint64_t far, bool write)
{
	uint64_t ec = from_el0(arch) ? EC_DABT_LOW : EC_DABT_CUR;

	inject_sync(arch, ec << 26 | ESR_IL | (write ? DABT_WNR : 0) | DFSC_SYNC_EXTERNAL, true, far);
}

/* The same on an instruction fetch (EC 0x20 / 0x21, IFSC 0x10; ARM ARM D13.2.37), FAR the fetch's address. */
static void inject_iabt(struct vcpu_arch *arch, uint64_t far)
{
	uint64_t ec = from_el0(arch) ? EC_IABT_LOW : EC_IABT_CUR;

	inject_sync(arch, ec << 26 | ESR_IL | DFSC_SYNC_EXTERNAL, true, far);
}

static enum trap_result handle_unknown(struct vcpu_arch *arch, const struct trap *t, struct vcpu_exit *exit)
{
	static _Atomic unsigned reports;

	(void)exit;
	if (atomic_fetch_add(&reports, 1) < 16)
		hal_log(HAL_LOG_WARN,
			"vm %u vcpu %u: unhandled trap (EC %#x, ESR %#lx) at PC %#lx: undefined instruction injected",
			arch->vm_id, arch->vcpu_id, (unsigned)ESR_EC(t->esr), t->esr, arch->ctx.elr);
	inject_undef(arch);
	return TRAP_RESUME;
}

/* WFI or a PSCI standby: true when it ends here (an interrupt is pending, or the timer woke it). */
static bool standby_ends_here(struct vcpu_arch *arch)
{
	unsigned n = nr_lrs() < A64_MAX_LRS ? nr_lrs() : A64_MAX_LRS;

	/*
	 * First take in what the guest did with the LRs, as the next entry would: a guest EOI
	 * of the timer's PPI 27 may not have raised its maintenance interrupt yet (it is
	 * asynchronous to the EOI on hardware) when the guest's next WFI traps. Unfolded, the
	 * timer's EL2 mask (hv_masked) would still be set, a64_timer_wfi would not wait for the
	 * timer, and the vCPU would halt past its deadline with its timer switched off. The
	 * vGIC's flush folds and resamples (a64_vcpu_timer_resample); a second flush at entry
	 * finds nothing changed and keeps the LRs.
	 */
	if (arch->vgic.hook)
		arch->vgic.hook->flush(arch->vgic.hook_ctx, arch->vcpu_id, arch->vgic.lr, n);
	else
		a64_timer_lr_eoi(arch, n); /* may make PPI 27 pending again (still asserted): seen below */
	/* WFI completes at once with an interrupt pending, even a masked one (ARM ARM D1.16.2). */
	if (arch->vgic.hook) {
		if (arch->vgic.hook->pending(arch->vgic.hook_ctx, arch->vcpu_id, arch->vgic.lr, n, arch->vgic.vmcr))
			return true;
	} else if (!overflow_empty(&arch->vgic)) {
		return true;
	} else {
		/* The backend's own LRs: a pending one (a trapped WFI never sees one, CPU_SUSPEND may). */
		for (unsigned i = 0; i < n; i++)
			if (arch->vgic.lr[i] & LR_PENDING)
				return true;
	}
	return a64_timer_wfi(arch); /* the timer woke it (or a kick ended the wait) */
}

static enum trap_result handle_wfx(struct vcpu_arch *arch, const struct trap *t, struct vcpu_exit *exit)
{
	skip_instruction(arch, t);
	if ((ESR_ISS(t->esr) & 3) == 0) { /* TI = 0: WFI */
		if (standby_ends_here(arch))
			return TRAP_RESUME;
		exit->kind = VCPU_EXIT_HALT;
		return TRAP_EXIT;
	}
	return TRAP_RESUME; /* WFE (not trapped by our HCR_EL2, but harmless) */
}

/* HVC and SMC: PSCI answered in place or as an exit, anything else a HYPERCALL (DESIGN.md). */
static enum trap_result do_call(struct vcpu_arch *arch, struct vcpu_exit *exit)
{
	const uint64_t args[3] = {arch->ctx.x[1], arch->ctx.x[2], arch->ctx.x[3]};
	uint64_t answer;

	switch (psci_decode(arch->ctx.x[0], args, exit, &answer)) {
	case PSCI_ACT_ANSWER:
		arch->ctx.x[0] = answer;
		return TRAP_RESUME;
	case PSCI_ACT_EXIT:
		arch->ctx.x[0] = answer;
		/* CPU_SUSPEND is a standby: like WFI, its timer wakes it (DEN0022 5.4). */
		if (exit->kind == VCPU_EXIT_HALT && standby_ends_here(arch))
			return TRAP_RESUME;
		return TRAP_EXIT;
	case PSCI_ACT_HYPERCALL:
	default:
		exit->kind = VCPU_EXIT_HYPERCALL;
		exit->hypercall.nr = arch->ctx.x[0];
		for (unsigned i = 0; i < 6; i++)
			exit->hypercall.args[i] = arch->ctx.x[1 + i];
		return TRAP_EXIT;
	}
}

/* HVC: the preferred return address is already the next instruction (ARM ARM D1.10.1). */
static enum trap_result handle_hvc(struct vcpu_arch *arch, const struct trap *t, struct vcpu_exit *exit)
{
	(void)t;
	return do_call(arch, exit);
}

/* A trapped SMC (HCR_EL2.TSC) returns to the SMC itself: step over it. */
static enum trap_result handle_smc(struct vcpu_arch *arch, const struct trap *t, struct vcpu_exit *exit)
{
	skip_instruction(arch, t);
	return do_call(arch, exit);
}

/*
 * The ID registers the guest reads (HCR_EL2.TID3): the hardware's values with every
 * feature cvisor does not switch taken out (DESIGN.md). Unknown encodings in the ID space
 * read as zero, as the architecture defines reserved ID registers.
 */
static uint64_t field_clear(uint64_t v, unsigned lsb)
{
	return v & ~(0xfull << lsb);
}

static uint64_t id_register(struct vcpu_arch *arch, unsigned crm, unsigned op2)
{
	uint64_t v;

	switch (crm << 3 | op2) {
	case 4 << 3 | 0: /* ID_AA64PFR0_EL1 */
		v = read_sysreg(id_aa64pfr0_el1);
		v = field_clear(v, 28); /* RAS */
		v = field_clear(v, 32); /* SVE */
		v = field_clear(v, 36); /* SEL2 */
		v = field_clear(v, 40); /* MPAM */
		v = field_clear(v, 44); /* AMU */
		return v;
	case 4 << 3 | 1: /* ID_AA64PFR1_EL1: keep BT and SSBS only (no MTE, SME, RAS/MPAM fractions, ...) */
		return read_sysreg(id_aa64pfr1_el1) & 0xff;
	case 4 << 3 | 4: /* ID_AA64ZFR0_EL1: SVE hidden */
	case 4 << 3 | 5: /* ID_AA64SMFR0_EL1: SME hidden */
		return 0;
	case 5 << 3 | 0: /* ID_AA64DFR0_EL1: DebugVer and the breakpoint/watchpoint counts only */
		v = read_sysreg(id_aa64dfr0_el1);
		return v & (0xfull | 0xfull << 12 | 0xfull << 20 | 0xfull << 28);
	case 5 << 3 | 1:
		return 0; /* ID_AA64DFR1_EL1 */
	case 5 << 3 | 4:
	case 5 << 3 | 5:
		return 0; /* ID_AA64AFR0/1_EL1 */
	case 6 << 3 | 0:
		return read_sysreg(id_aa64isar0_el1);
	case 6 << 3 | 1: /* ID_AA64ISAR1_EL1: pointer authentication hidden (APA, API, GPA, GPI) */
		v = read_sysreg(id_aa64isar1_el1);
		return field_clear(field_clear(field_clear(field_clear(v, 4), 8), 24), 28);
	case 6 << 3 | 2: /* ID_AA64ISAR2_EL1: GPA3, APA3 hidden */
		v = read_sysreg(S3_0_C0_C6_2);
		return field_clear(field_clear(v, 8), 12);
	case 7 << 3 | 0: { /* ID_AA64MMFR0_EL1: PARange no larger than the stage-2 IPA size */
		static const unsigned bits[] = {32, 36, 40, 42, 44, 48, 52};
		uint64_t pa = 0;

		v = read_sysreg(id_aa64mmfr0_el1);
		while (pa + 1 < CV_ARRAY_SIZE(bits) && bits[pa + 1] <= arch->vm->ipa_bits && pa + 1 <= (v & 0xf))
			pa++;
		return (v & ~0xfull) | pa;
	}
	case 7 << 3 | 1: /* ID_AA64MMFR1_EL1: LORegions hidden (HCR_EL2.TLOR traps them) */
		return field_clear(read_sysreg(id_aa64mmfr1_el1), 16);
	case 7 << 3 | 2:
		return read_sysreg(id_aa64mmfr2_el1);
	case 1 << 3 | 0:
		return read_sysreg(id_pfr0_el1);
	case 1 << 3 | 1:
		return read_sysreg(id_pfr1_el1);
	case 1 << 3 | 2:
		return read_sysreg(id_dfr0_el1) & ~(0xfull << 24); /* PerfMon hidden */
	case 1 << 3 | 4:
		return read_sysreg(id_mmfr0_el1);
	case 1 << 3 | 5:
		return read_sysreg(id_mmfr1_el1);
	case 1 << 3 | 6:
		return read_sysreg(id_mmfr2_el1);
	case 1 << 3 | 7:
		return read_sysreg(id_mmfr3_el1);
	case 2 << 3 | 0:
		return read_sysreg(id_isar0_el1);
	case 2 << 3 | 1:
		return read_sysreg(id_isar1_el1);
	case 2 << 3 | 2:
		return read_sysreg(id_isar2_el1);
	case 2 << 3 | 3:
		return read_sysreg(id_isar3_el1);
	case 2 << 3 | 4:
		return read_sysreg(id_isar4_el1);
	case 2 << 3 | 5:
		return read_sysreg(id_isar5_el1);
	case 3 << 3 | 0:
		return read_sysreg(mvfr0_el1);
	case 3 << 3 | 1:
		return read_sysreg(mvfr1_el1);
	case 3 << 3 | 2:
		return read_sysreg(mvfr2_el1);
	default:
		return 0;
	}
}

static enum trap_result handle_sys64(struct vcpu_arch *arch, const struct trap *t, struct vcpu_exit *exit)
{
	uint32_t iss = (uint32_t)ESR_ISS(t->esr);
	bool read = iss & 1;
	unsigned rt = (iss >> 5) & 0x1f;
	unsigned op0 = (iss >> 20) & 3, op2 = (iss >> 17) & 7, op1 = (iss >> 14) & 7;
	unsigned crn = (iss >> 10) & 0xf, crm = (iss >> 1) & 0xf;
	uint64_t addr = A64_SYSREG(op0, op1, crn, crm, op2);

	if (op0 == 3 && op1 == 0 && crn == 0) { /* the ID register space (TID3) */
		if (!read) {
			inject_undef(arch);
			return TRAP_RESUME;
		}
		arch_vcpu_set_gpr(arch, rt, id_register(arch, crm, op2));
		skip_instruction(arch, t);
		return TRAP_RESUME;
	}
	if (op0 == 3 && op1 == 0 && crn == 1 && crm == 0 && op2 == 1) {
		/* ACTLR_EL1 (HCR_EL2.TACR): the hardware's value, writes ignored (as Linux KVM does). */
		if (read)
			arch_vcpu_set_gpr(arch, rt, read_sysreg(actlr_el1));
		skip_instruction(arch, t);
		return TRAP_RESUME;
	}
	if (op0 == 3 && op1 == 0 && crn == 12 && crm == 11 && op2 >= 5) {
		/* ICC_SGI1R_EL1, ICC_ASGI1R_EL1, ICC_SGI0R_EL1 (IHI 0069 12.2.21): trapped by IMO. */
		uint64_t v = gpr(arch, rt);

		if (read) {
			inject_undef(arch);
			return TRAP_RESUME;
		}
		skip_instruction(arch, t);
		exit->kind = VCPU_EXIT_SEND_IPI;
		/* target_cpu: Aff3.Aff2.Aff1 and the Aff0 base of the range (RS * 16). */
		exit->send_ipi.target_cpu = ((v >> 48) & 0xff) << 32 | ((v >> 32) & 0xff) << 16 |
					    ((v >> 16) & 0xff) << 8 | ((v >> 44) & 0xf) * 16;
		exit->send_ipi.target_cpu_aux = v & 0xffff; /* TargetList: bit n = Aff0 base + n */
		exit->send_ipi.send_to_all = (v >> 40) & 1; /* IRM: every PE but the sender */
		exit->send_ipi.send_to_self = false;
		exit->send_ipi.vector = (v >> 24) & 0xf;
		return TRAP_EXIT;
	}
	skip_instruction(arch, t);
	if (read) {
		exit->kind = VCPU_EXIT_SYSREG_READ;
		exit->sysreg_read.addr = addr;
		exit->sysreg_read.reg = rt;
	} else {
		exit->kind = VCPU_EXIT_SYSREG_WRITE;
		exit->sysreg_write.addr = addr;
		exit->sysreg_write.value = gpr(arch, rt);
	}
	return TRAP_EXIT;
}

/* The faulting IPA of a stage-2 abort: HPFAR_EL2.FIPA holds IPA[51:12], FAR_EL2 the page offset. */
static uint64_t fault_ipa(const struct trap *t)
{
	return ((t->hpfar & 0x00000ffffffffff0ull) << 8) | (t->far & 0xfff);
}

static enum trap_result handle_iabt(struct vcpu_arch *arch, const struct trap *t, struct vcpu_exit *exit)
{
	/* A fetch from (or a stage-1 walk into) an IPA with nothing mapped: under the abort policy, a bus error. */
	if (DFSC_TRANSLATION(DABT_DFSC((uint32_t)ESR_ISS(t->esr))))
		arch->last_exit_abt = A64_ABT_FETCH;
	exit->kind = VCPU_EXIT_NESTED_PAGE_FAULT;
	exit->nested_page_fault.addr = gpa(fault_ipa(t));
	exit->nested_page_fault.access_flags = CV_MAP_EXEC;
	return TRAP_EXIT;
}

static enum trap_result handle_dabt(struct vcpu_arch *arch, const struct trap *t, struct vcpu_exit *exit)
{
	uint32_t iss = (uint32_t)ESR_ISS(t->esr);
	uint64_t ipa = fault_ipa(t);
	bool write = iss & DABT_WNR;
	enum access_width width;
	unsigned srt;

	if ((iss & DABT_S1PTW) || !DFSC_TRANSLATION(DABT_DFSC(iss))) {
		/*
		 * A stage-1 walk into unmapped memory (under the abort policy a bus error on
		 * the walk), or a permission / access-flag fault (a stage-2 mapping cvisor
		 * made: never injected, the VM stops).
		 */
		if ((iss & DABT_S1PTW) && DFSC_TRANSLATION(DABT_DFSC(iss)))
			arch->last_exit_abt = A64_ABT_WALK;
		exit->kind = VCPU_EXIT_NESTED_PAGE_FAULT;
		exit->nested_page_fault.addr = gpa(ipa);
		exit->nested_page_fault.access_flags = write ? CV_MAP_WRITE : CV_MAP_READ;
		return TRAP_EXIT;
	}
	if (iss & DABT_CM) {
		/* Cache maintenance by VA on an emulated region: nothing to maintain. */
		skip_instruction(arch, t);
		return TRAP_RESUME;
	}
	if (!(iss & DABT_ISV)) {
		/*
		 * No syndrome (pair, post-indexed, or SIMD access; ARM ARM D13.2.37): the access
		 * cannot be emulated without decoding the instruction. It is the guest's fault,
		 * so it gets the abort a real bus would give, never a hypervisor panic.
		 */
		hal_log(
		    HAL_LOG_WARN,
		    "vm %u vcpu %u: data abort without ISV at IPA %#lx (ESR %#lx, PC %#lx): external abort injected",
		    arch->vm_id, arch->vcpu_id, ipa, t->esr, arch->ctx.elr);
		inject_dabt(arch, t->far, write);
		return TRAP_RESUME;
	}
	width = (enum access_width)(1u << DABT_SAS(iss));
	srt = DABT_SRT(iss);
	skip_instruction(arch, t);
	if (write) {
		exit->kind = VCPU_EXIT_MMIO_WRITE;
		exit->mmio_write.addr = gpa(ipa);
		exit->mmio_write.width = width;
		exit->mmio_write.data = gpr(arch, srt) & access_width_mask(width);
	} else {
		exit->kind = VCPU_EXIT_MMIO_READ;
		exit->mmio_read.addr = gpa(ipa);
		exit->mmio_read.width = width;
		exit->mmio_read.reg = srt;
		exit->mmio_read.reg_width = (iss & DABT_SF) ? ACCESS_WIDTH_8 : ACCESS_WIDTH_4;
		exit->mmio_read.signed_ext = iss & DABT_SSE;
	}
	return TRAP_EXIT;
}

/* Dense hardware codes: a static table with a default in every slot (STYLE.md 4). The
 * range initialiser is then overridden on purpose, slot by slot. */
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Woverride-init"
/* clang-format off */
static const ec_handler ec_handlers[EC_MAX + 1] = {
	[0 ... EC_MAX]	= handle_unknown, /* includes PAC (0x09), SVE (0x19), SME (0x1d): hidden, UNDEF */
	[EC_WFX]	= handle_wfx,
	[EC_HVC64]	= handle_hvc,
	[EC_SMC64]	= handle_smc,
	[EC_SYS64]	= handle_sys64,
	[EC_IABT_LOW]	= handle_iabt,
	[EC_DABT_LOW]	= handle_dabt,
};
/* clang-format on */
#pragma GCC diagnostic pop

static bool always(void *arg)
{
	(void)arg;
	return true;
}

/*
 * A host interrupt: the scheduler's wake-up SGI or kick, the end of a time slice, the
 * vGIC maintenance interrupt. It is acknowledged here, then the task passes a scheduling
 * point: hal_wait_until with a true condition returns at once, after letting waiting
 * tasks of this CPU run on a host that time-shares CPUs (the bare-metal one does). The
 * guest's state is saved, so another vCPU may use this CPU meanwhile.
 */
static enum trap_result handle_irq(struct vcpu_arch *arch, struct vcpu_exit *exit)
{
	uint64_t intid = read_sysreg(ICC_IAR1_EL1) & 0xffffff;

	if (intid < 1020)
		write_sysreg(intid, ICC_EOIR1_EL1);
	if (intid == A64_PPI_VTIMER) {
		/* The guest's own timer: answered here, no trip through the VMM (timer.c). */
		a64_timer_irq(arch);
		return TRAP_RESUME;
	}
	if (intid == A64_PPI_MAINTENANCE || intid == 1023)
		/*
		 * The guest ended an interrupt that asked to be told (LR.EOI: the timer's, a
		 * vGIC level) or the list registers ran dry (NPIE): the next entry folds them
		 * and refills, which needs no trip through the VMM (the timer's EOI, once per tick).
		 * It mostly reads as spurious (1023): save_guest cleared ICH_HCR_EL2, which drops
		 * the level-sensitive maintenance PPI before the acknowledge. Every interrupt the
		 * VMM must see (the kick and wake SGIs, the slice timer) is still pending then.
		 */
		return TRAP_RESUME;
	hal_wait_until(arch->sched_wq, always, NULL, 0);
	/* Whatever it was, the VMM now looks at its requests: a pending kick is served. */
	atomic_store(&arch->kick_pending, false);
	exit->kind = VCPU_EXIT_EXTERNAL_INTERRUPT;
	exit->external_interrupt.vector = intid;
	return TRAP_EXIT;
}

int a64_vcpu_inject_abort(struct vcpu_arch *arch)
{
	switch (arch->last_exit) {
	case VCPU_EXIT_MMIO_READ:
	case VCPU_EXIT_MMIO_WRITE:
		arch->ctx.elr = arch->last_exit_pc;
		inject_dabt(arch, arch->last_exit_far, arch->last_exit_write);
		break;
	case VCPU_EXIT_SYSREG_READ:
	case VCPU_EXIT_SYSREG_WRITE:
		arch->ctx.elr = arch->last_exit_pc;
		inject_undef(arch);
		break;
	case VCPU_EXIT_NESTED_PAGE_FAULT:
		/*
		 * A fetch from an IPA with nothing mapped, or a stage-1 table walk into one: the
		 * bus error real memory would give. The walk's abort is reported as a plain
		 * external abort (FSC 0x10), not "on translation table walk, level n" (0x14 + n):
		 * the stage-1 level is not known without walking the guest's tables, and
		 * guests (Linux's do_sea) treat both alike. Its direction is not known
		 * either: reported as a read. Permission faults are not injected.
		 */
		arch->ctx.elr = arch->last_exit_pc;
		if (arch->last_exit_abt == A64_ABT_FETCH)
			inject_iabt(arch, arch->last_exit_far);
		else if (arch->last_exit_abt == A64_ABT_WALK)
			inject_dabt(arch, arch->last_exit_far, false);
		else
			return -CV_EINVAL;
		break;
	default:
		return -CV_EINVAL;
	}
	arch->last_exit = VCPU_EXIT_NOTHING; /* once per exit */
	return 0;
}

int arch_vcpu_run(struct vcpu_arch *arch, struct vcpu_exit *exit)
{
	unsigned cpu = hal_cpu_id();

	if (!arch->vm || cpu >= MAX_PCPUS)
		return -CV_EBADSTATE;
	for (;;) {
		enum trap_result r;
		struct trap t;
		uint64_t kind;

		atomic_store(&arch->running_mpidr, read_sysreg(mpidr_el1) & 0xff00ffffffull);
		atomic_store(&arch->running_cpu, (int)cpu);
		atomic_thread_fence(memory_order_seq_cst);
		if (atomic_exchange(&arch->kick_pending, false)) {
			atomic_store(&arch->running_cpu, -1);
			exit->kind = VCPU_EXIT_NOTHING;
			arch->last_exit = VCPU_EXIT_NOTHING;
			return 0;
		}
		fp_switch_in(arch, cpu);
		restore_guest(arch, cpu);
		kind = a64_guest_enter(arch);
		t.esr = read_sysreg(esr_el2);
		t.far = read_sysreg(far_el2);
		t.hpfar = read_sysreg(hpfar_el2);
		save_guest(arch);
		atomic_store(&arch->running_cpu, -1);

		arch->last_exit_pc = arch->ctx.elr;
		arch->last_exit_far = t.far;
		arch->last_exit_abt = A64_ABT_NONE;
		switch (kind) {
		case A64_TRAP_SYNC:
			r = ec_handlers[ESR_EC(t.esr)](arch, &t, exit);
			break;
		case A64_TRAP_IRQ:
			r = handle_irq(arch, exit);
			break;
		default:
			hal_log(HAL_LOG_ERROR, "vm %u vcpu %u: %s from the guest (ESR %#lx, PC %#lx): vCPU stopped",
				arch->vm_id, arch->vcpu_id, kind == A64_TRAP_FIQ ? "FIQ" : "SError", t.esr,
				arch->ctx.elr);
			r = TRAP_FAIL;
			break;
		}
		if (r == TRAP_EXIT) {
			arch->last_exit = exit->kind;
			arch->last_exit_write = exit->kind == VCPU_EXIT_MMIO_WRITE;
			if (exit->kind == VCPU_EXIT_CPU_DOWN)
				arch->off = true;
			return 0;
		}
		if (r == TRAP_FAIL)
			return -CV_EGUEST;
	}
}

/* Appends " name 0x<hex>" to the message at *p (bounded by end). */
static char *put_hex(char *p, char *end, const char *name, uint64_t v)
{
	int shift = 60;

	for (const char *s = name; *s && p < end; s++)
		*p++ = *s;
	while (shift > 0 && !((v >> shift) & 0xf))
		shift -= 4;
	for (; shift >= 0 && p < end; shift -= 4)
		*p++ = "0123456789abcdef"[(v >> shift) & 0xf];
	return p;
}

/*
 * An exception at EL2 is a hypervisor bug. The one message goes through hal_fatal alone:
 * hal_log takes the console lock without a time limit, and this CPU may have faulted
 * holding it (hal_fatal only tries it for a while), so the report is formatted here.
 */
void a64_hyp_trap(uint64_t vec, uint64_t esr, uint64_t elr, uint64_t far);
void a64_hyp_trap(uint64_t vec, uint64_t esr, uint64_t elr, uint64_t far)
{
	char msg[128], *p = msg, *end = msg + sizeof(msg) - 1;

	p = put_hex(p, end, "exception at EL2: vector 0x", vec);
	p = put_hex(p, end, ", ESR 0x", esr);
	p = put_hex(p, end, ", ELR 0x", elr);
	p = put_hex(p, end, ", FAR 0x", far);
	*p = 0;
	hal_fatal(msg);
}
