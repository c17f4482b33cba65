/* SPDX-License-Identifier: MIT */
/*
 * The arch contract: the seed's AxArchVCpu trait (plus the per-VM part the seeds keep in
 * axvm/axaddrspace) as C functions. Exactly one backend implements all of them per build
 * (arch/x86_64-kvm, arch/aarch64, or the arch/fake test double); a missing function fails
 * the link, there are no weak defaults.
 *
 * Every function returning int returns 0 or a negative CV_E* code (cvisor/errors.h).
 * The vCPU functions are called by core/vcpu.c with the vCPU's state already checked
 * and, for create/setup/bind/unbind/run, with the per-CPU current vCPU set to it.
 */
#ifndef CVISOR_ARCH_H
#define CVISOR_ARCH_H

#include <cvisor/exit.h>
#include <cvisor/types.h>

struct vcpu_arch; /* complete in <cvisor/arch_vcpu.h> of the backend being built */
struct vm_arch;

/* What the VM tells the backend when it creates a vCPU (the seed's AxVCpuCreateConfig). */
struct arch_vcpu_create_cfg {
	struct vm_arch *vm; /* the VM's arch part: KVM VM fd, EL2 VMID and stage-2 */
	uint64_t boot_arg;  /* first argument at entry: AArch64 x0 (the DTB), x86 rsi */
};

/* What the VM tells the backend at setup (the seed's AxVCpuSetupConfig). */
struct arch_vcpu_setup_cfg {
	bool passthrough_interrupt; /* physical interrupts go to the guest directly */
	bool passthrough_timer;     /* the guest owns the physical timer */
};

/* Mapping flags of arch_vm_map and of NESTED_PAGE_FAULT access_flags. */
#define CV_MAP_READ (1u << 0)
#define CV_MAP_WRITE (1u << 1)
#define CV_MAP_EXEC (1u << 2)
#define CV_MAP_DEVICE (1u << 3) /* device memory: uncached, no speculation */

/* ---- per-VM ---- */

/* Creates the arch part of VM vm_id in *vm (KVM_CREATE_VM; a VMID and empty stage-2). */
int arch_vm_create(struct vm_arch *vm, uint32_t vm_id);

/*
 * Maps size bytes of host memory at host (page aligned) at guest-physical gpa with the
 * CV_MAP_* flags. Overlapping an existing mapping is -CV_EEXIST.
 */
int arch_vm_map(struct vm_arch *vm, gpa_t gpa, void *host, uint64_t size, uint32_t flags);

/* The translation root handed to every vCPU's set_ept_root (EL2: VTTBR base). */
hpa_t arch_vm_ept_root(const struct vm_arch *vm);

/* Releases everything arch_vm_create and arch_vm_map took; the vCPUs are gone already. */
void arch_vm_destroy(struct vm_arch *vm);

/* ---- per-vCPU (the AxArchVCpu trait) ---- */

/* Creates vCPU vcpu_id of VM vm_id in *arch (the seed's new()). */
int arch_vcpu_create(struct vcpu_arch *arch, uint32_t vm_id, uint32_t vcpu_id,
		     const struct arch_vcpu_create_cfg *cfg);

/* Sets the guest-physical address the vCPU starts at. */
int arch_vcpu_set_entry(struct vcpu_arch *arch, gpa_t entry);

/* Sets the VM's translation root (from arch_vm_ept_root). */
int arch_vcpu_set_ept_root(struct vcpu_arch *arch, hpa_t root);

/* Completes initialisation: the register state the guest starts in. */
int arch_vcpu_setup(struct vcpu_arch *arch, const struct arch_vcpu_setup_cfg *cfg);

/* Prepares the current physical CPU (or host thread) to run this vCPU. */
int arch_vcpu_bind(struct vcpu_arch *arch);

/* Undoes bind: the vCPU may then be bound elsewhere. */
int arch_vcpu_unbind(struct vcpu_arch *arch);

/*
 * Runs the guest until an exit the backend does not handle in place, filling *exit.
 * An error (not an exit) means the vCPU cannot go on; the caller makes it INVALID.
 */
int arch_vcpu_run(struct vcpu_arch *arch, struct vcpu_exit *exit);

/*
 * Writes general-purpose register reg (backend numbering: AArch64 x0..x30, x86 rax=0,
 * rcx=1, rdx=2, rbx=3, rsp=4, rbp=5, rsi=6, rdi=7, r8..r15=8..15), also the register
 * named by an MMIO_READ / SYSREG_READ / IO_READ exit. A bad index is -CV_ERANGE.
 */
int arch_vcpu_set_gpr(struct vcpu_arch *arch, unsigned reg, uint64_t val);

/* Makes interrupt vector pending for the vCPU; called on the vCPU's own thread/pCPU. */
int arch_vcpu_inject_interrupt(struct vcpu_arch *arch, uint32_t vector);

/* Sets the result of the last HYPERCALL exit (AArch64 x0, x86 rax). */
int arch_vcpu_set_return_value(struct vcpu_arch *arch, uint64_t val);

/*
 * Forces the vCPU out of guest mode soon; safe from any thread or pCPU, a no-op when it
 * is not in guest mode. Kept in the contract (DESIGN.md lists kick in the HAL) because
 * the KVM half of a kick, kvm_run->immediate_exit, lives in backend state.
 */
void arch_vcpu_kick(struct vcpu_arch *arch);

/* Releases everything arch_vcpu_create took. Safe after a failed create. */
void arch_vcpu_destroy(struct vcpu_arch *arch);

/* ---- per physical CPU ---- */

/* Turns virtualisation on for physical CPU cpu (EL2 vectors; a no-op on KVM). */
int arch_percpu_hardware_enable(unsigned cpu);

/* Turns it off again. */
void arch_percpu_hardware_disable(unsigned cpu);

#endif /* CVISOR_ARCH_H */
