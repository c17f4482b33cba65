/* SPDX-License-Identifier: MIT */
/*
 * The arch-independent vCPU (seed axvcpu's AxVCpu): identity, affinity, the state
 * machine and the per-CPU current vCPU. The backend's state is embedded by value.
 */
#ifndef CVISOR_VCPU_H
#define CVISOR_VCPU_H

#include <stdatomic.h>

#include <cvisor/arch.h>
#include <cvisor/exit.h>
#include <cvisor/types.h>

#include <cvisor/arch_vcpu.h> /* struct vcpu_arch of the backend being built */

/* Values are fixed by the seed (VCpuState) and by DESIGN.md. */
enum vcpu_state {
	VCPU_STATE_INVALID = 0, /* an operation failed or was out of order: destroy only */
	VCPU_STATE_CREATED = 1, /* exists, needs setup */
	VCPU_STATE_FREE = 2,    /* set up, not bound to a physical CPU */
	VCPU_STATE_READY = 3,   /* bound, may run */
	VCPU_STATE_RUNNING = 4, /* in arch_vcpu_run on its physical CPU */
	VCPU_STATE_BLOCKED = 5, /* bound but parked by the VMM (halted or CPU_OFF) */
};

struct vcpu {
	/*
	 * First member: the AArch64 backend keeps its trap frame at offset 0 of the arch
	 * vCPU, so a struct vcpu pointer is also the trap-frame pointer.
	 */
	struct vcpu_arch arch;
	uint32_t id;
	uint32_t vm_id;
	uint32_t favor_phys_cpu;
	uint64_t phys_cpu_set; /* bit n = physical CPU n may run it; 0 = any (seed: None) */
	_Atomic int state;     /* enum vcpu_state; changed by one compare-exchange */
	_Atomic uint32_t refs; /* the seeds' Arc: the vCPU outlives every holder */
	void *owner;           /* opaque back pointer for the layer that owns the vCPU */
};

/* Result of a state-changing callback: 0 or a negative CV_E* code. */
typedef int (*vcpu_fn)(struct vcpu *vcpu, void *ctx);
typedef int (*vcpu_arch_fn)(struct vcpu_arch *arch, void *ctx);

/*
 * Creates a vCPU in state CREATED with one reference (seed new()). favor_phys_cpu is the
 * preferred physical CPU, phys_cpu_set the allowed ones (0: any).
 */
int vcpu_create(struct vcpu **out, uint32_t vm_id, uint32_t vcpu_id, uint32_t favor_phys_cpu,
		uint64_t phys_cpu_set, const struct arch_vcpu_create_cfg *cfg);

/* CREATED -> FREE: arch set_entry, set_ept_root, setup, in that order. */
int vcpu_setup(struct vcpu *vcpu, gpa_t entry, hpa_t ept_root, const struct arch_vcpu_setup_cfg *cfg);

/* FREE -> READY on the calling physical CPU / thread. */
int vcpu_bind(struct vcpu *vcpu);

/* READY -> FREE. */
int vcpu_unbind(struct vcpu *vcpu);

/* READY -> RUNNING -> READY; *exit says why the guest stopped. */
int vcpu_run(struct vcpu *vcpu, struct vcpu_exit *exit);

/* READY -> BLOCKED: the VMM parks the vCPU (HALT, CPU_DOWN). */
int vcpu_block(struct vcpu *vcpu);

/* BLOCKED -> READY: the VMM woke it. */
int vcpu_unblock(struct vcpu *vcpu);

/* Getters (seed: id, vm_id, favor_phys_cpu, phys_cpu_set, is_bsp, state). */
uint32_t vcpu_id(const struct vcpu *vcpu);
uint32_t vcpu_vm_id(const struct vcpu *vcpu);
uint32_t vcpu_favor_phys_cpu(const struct vcpu *vcpu);
uint64_t vcpu_phys_cpu_set(const struct vcpu *vcpu);
bool vcpu_is_bsp(const struct vcpu *vcpu);
enum vcpu_state vcpu_state(const struct vcpu *vcpu);
const char *vcpu_state_name(enum vcpu_state state);

/*
 * Direct arch calls (seed: set_gpr, set_entry, inject_interrupt, set_return_value).
 * Not state transitions; refused with -CV_EBADSTATE when INVALID or RUNNING.
 */
int vcpu_set_gpr(struct vcpu *vcpu, unsigned reg, uint64_t val);
int vcpu_set_entry(struct vcpu *vcpu, gpa_t entry);
int vcpu_inject_interrupt(struct vcpu *vcpu, uint32_t vector);
int vcpu_set_return_value(struct vcpu *vcpu, uint64_t val);

/* Forces the vCPU out of guest mode (any thread). */
void vcpu_kick(struct vcpu *vcpu);

/*
 * The seed's with_state_transition: when the state is `from`, runs fn (may be NULL) and
 * then moves to `to` with one compare-exchange. A state other than `from` (before fn or
 * at the exchange) makes the vCPU INVALID and returns -CV_EBADSTATE; fn failing makes
 * it INVALID and returns fn's error. INVALID is never left.
 */
int vcpu_with_state_transition(struct vcpu *vcpu, enum vcpu_state from, enum vcpu_state to, vcpu_fn fn,
			       void *ctx);

/* with_state_transition with no callback. */
int vcpu_transition_state(struct vcpu *vcpu, enum vcpu_state from, enum vcpu_state to);

/* with_state_transition whose callback runs fn on the arch vCPU with the current vCPU set. */
int vcpu_manipulate_arch(struct vcpu *vcpu, enum vcpu_state from, enum vcpu_state to, vcpu_arch_fn fn,
			 void *ctx);

/* Sets the state with no check (seed's unsafe set_state): recovery and tests only. */
void vcpu_set_state_unchecked(struct vcpu *vcpu, enum vcpu_state state);

/* Reference counting; the last vcpu_put destroys the vCPU (arch_vcpu_destroy, free). */
struct vcpu *vcpu_get(struct vcpu *vcpu);
void vcpu_put(struct vcpu *vcpu);

/* Drops the creator's reference: the same as vcpu_put, named for symmetry with create. */
void vcpu_destroy(struct vcpu *vcpu);

/* ---- per-CPU current vCPU ---- */

/* The vCPU the calling physical CPU (thread, hosted) is operating on, or NULL. */
struct vcpu *vcpu_current(void);

/* Sets the current vCPU; setting it while one is set is a fatal bug (the seeds panic). */
void vcpu_set_current(struct vcpu *vcpu);

/* Clears the current vCPU. */
void vcpu_clear_current(void);

/* Runs fn(vcpu, ctx) with the current vCPU set to vcpu, cleared afterwards. */
int vcpu_with_current_set(struct vcpu *vcpu, vcpu_fn fn, void *ctx);

#endif /* CVISOR_VCPU_H */
