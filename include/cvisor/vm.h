/* SPDX-License-Identifier: MIT */
/*
 * The VM (seed 003, axvm's AxVM): a set of vCPUs, guest memory, a device bus per address
 * space, a status, and run_vcpu. Built from a struct vm_config; driven by the VMM
 * (cvisor/vmm.h) or, in tests, directly.
 *
 * Status: LOADING -> LOADED (vm_create) -> RUNNING (vm_boot) <-> SUSPENDED ->
 * STOPPING (vm_shutdown) -> STOPPED (vm_mark_stopped). Every other transition is
 * refused with -CV_EBADSTATE; a stopped VM is never booted again (DESIGN.md: a reset
 * builds a new VM from the same config).
 *
 * Lifetime: counted (vm_get / vm_put); vm_create returns one reference, vm_destroy drops
 * it, the last put frees everything. Whoever runs vCPUs of a VM holds a reference.
 */
#ifndef CVISOR_VM_H
#define CVISOR_VM_H

#include <cvisor/config.h>
#include <cvisor/device.h>
#include <cvisor/exit.h>
#include <cvisor/types.h>

struct vcpu;
struct vm;

enum vm_status {
	VM_STATUS_LOADING,   /* vm_create in progress */
	VM_STATUS_LOADED,    /* built: devices may be added, guest memory filled */
	VM_STATUS_RUNNING,   /* booted: vCPUs may run */
	VM_STATUS_SUSPENDED, /* vCPUs are kept out of guest mode until vm_resume */
	VM_STATUS_STOPPING,  /* shutting down: vCPUs leave; nothing runs again */
	VM_STATUS_STOPPED,   /* no vCPU runs any more; only destroy is left */
};

/* Why a VM stopped: what the CLI maps to its exit status. */
enum vm_stop_kind {
	VM_STOP_NONE,	   /* not stopped (yet) */
	VM_STOP_POWER_OFF, /* the guest powered off (PSCI SYSTEM_OFF) */
	VM_STOP_RESET,	   /* the guest asked for a reset (PSCI SYSTEM_RESET): rebuild it */
	VM_STOP_CRASH,	   /* the guest can go no further (triple fault) */
	VM_STOP_FAILED,	   /* a vCPU failed: arch error, FAIL_ENTRY, device error, unmapped access */
	VM_STOP_HOST,	   /* the host asked (vm_shutdown with no reason, vmm_shutdown) */
};

struct vm_stop_reason {
	enum vm_stop_kind kind;
	int error;	  /* FAILED: the negative CV_E* code (-CV_EGUEST for FAIL_ENTRY) */
	uint32_t vcpu_id; /* the vCPU that caused it (POWER_OFF, RESET, CRASH, FAILED) */
	uint64_t detail;  /* FAIL_ENTRY: hw_reason; unmapped access: the address or port */
};

/* Interrupt vectors / INTIDs vm_inject_interrupt accepts: 0 .. VM_MAX_IRQS - 1. */
#define VM_MAX_IRQS 1024

/* vcpu_id of a wake hook call meaning "every vCPU" (shutdown, resume). */
#define VM_WAKE_ALL UINT32_MAX

/* ---- lifetime ---- */

/*
 * Builds a VM from cfg (copied): guest RAM for each memory region (zeroed), the arch VM
 * with the RAM mapped, cfg->cpu_num vCPUs with their affinities (phys_cpu_ids: favour
 * that CPU, allowed only there; phys_cpu_sets: the mask), all set up: the BSP (vCPU 0)
 * at the config's entry point (entry_point, else kernel_load_addr, else the first
 * region), the others at 0 until CPU_ON gives them an entry. The boot argument of every
 * vCPU is dtb_load_addr when given. Status LOADED on success. -CV_EINVAL for a config
 * that makes no sense (logged), -CV_ENOMEM, or the backend's error.
 */
int vm_create(struct vm **out, const struct vm_config *cfg);

struct vm *vm_get(struct vm *vm);
/* Drops a reference; the last one releases the devices, the vCPUs, the arch VM and RAM. */
void vm_put(struct vm *vm);
/* Drops the creator's reference (vm_put). NULL is ignored. */
void vm_destroy(struct vm *vm);

/* ---- identity ---- */

uint32_t vm_id(const struct vm *vm);
const char *vm_name(const struct vm *vm);
unsigned vm_vcpu_count(const struct vm *vm);
const struct vm_config *vm_config(const struct vm *vm);
/* The unmapped-access policy in force (UNMAPPED_DEFAULT resolved for this arch). */
enum unmapped_policy vm_unmapped_policy(const struct vm *vm);

/* ---- status ---- */

enum vm_status vm_status(const struct vm *vm);
const char *vm_status_name(enum vm_status status);
const char *vm_stop_kind_name(enum vm_stop_kind kind);

/* LOADED -> RUNNING. */
int vm_boot(struct vm *vm);
/* RUNNING -> SUSPENDED; every vCPU is kicked out of guest mode. */
int vm_suspend(struct vm *vm);
/* SUSPENDED -> RUNNING; sleepers are woken through the wake hook. */
int vm_resume(struct vm *vm);
/*
 * LOADED / RUNNING / SUSPENDED -> STOPPING, recording why (NULL: VM_STOP_HOST); every
 * vCPU is kicked and every sleeper woken. The first reason wins: a VM already stopping
 * answers -CV_EBADSTATE and keeps its reason.
 */
int vm_shutdown(struct vm *vm, const struct vm_stop_reason *why);
/* STOPPING -> STOPPED: called once no vCPU runs any more (the VMM's last vCPU task). */
int vm_mark_stopped(struct vm *vm);
/* Why the VM stopped (kind VM_STOP_NONE while it has not). */
void vm_get_stop_reason(const struct vm *vm, struct vm_stop_reason *out);

/* ---- vCPUs ---- */

/* vCPU vcpu_id, borrowed (valid while the caller holds the VM), or NULL. */
struct vcpu *vm_vcpu(struct vm *vm, uint32_t vcpu_id);
/* The same with a reference of its own (vcpu_put it). -CV_ENOENT for an unknown id. */
int vm_vcpu_get(struct vm *vm, uint32_t vcpu_id, struct vcpu **out);

/*
 * Runs vCPU vcpu_id on the calling task (seed run_vcpu): binds it, then loops: pending
 * interrupts are injected, the vCPU runs, MMIO / port-I/O / system-register exits are
 * answered from the bus (a read's value masked to its width, sign-extended when the
 * load is signed, a 4-byte destination register keeping 32 bits), and any other exit is
 * returned in *exit with 0. Always unbinds before returning, on errors too (an INVALID
 * vCPU cannot be unbound: its host resources go with destroy).
 * An access to no device follows the VM's policy: IGNORE reads 0 and drops writes
 * (counted, logged once); STOP shuts the VM down (VM_STOP_FAILED, -CV_ENODEV) and
 * returns -CV_ENODEV; ABORT returns the MMIO / IO / SYSREG exit itself with 0, for the
 * caller to inject an abort or stop the VM (the arch contract has no abort injection).
 * When the VM leaves RUNNING (shutdown, suspend) it returns a NOTHING exit with 0.
 * Errors: -CV_ENOENT unknown vCPU, -CV_EBADSTATE VM not running, -CV_ESHUTDOWN VM
 * stopping or stopped, -CV_EBUSY vCPU already being run or parked by another task; an
 * arch error (the vCPU is then INVALID) or a device error, both of which also shut the
 * VM down (VM_STOP_FAILED).
 */
int vm_run_vcpu(struct vm *vm, uint32_t vcpu_id, struct vcpu_exit *exit);

/*
 * Parks vCPU vcpu_id on the calling task: bind, block (READY -> BLOCKED), wait(ctx),
 * unblock, unbind; always unbinds. Returns wait's result, or the state machine's error
 * (the vCPU is then INVALID and the VM shuts down). For the VMM's HALT and CPU_DOWN.
 */
int vm_park_vcpu(struct vm *vm, uint32_t vcpu_id, int (*wait)(void *ctx), void *ctx);

/*
 * Makes vector pending for vCPU vcpu_id, whatever it is doing: the bit is queued, then
 * (after a full barrier) the vCPU is kicked and the wake hook called, so a halted vCPU
 * wakes. The vCPU's own task injects it (vcpu_inject_interrupt) before its next run.
 * Any task may call it. -CV_ENOENT unknown vCPU, -CV_ERANGE vector >= VM_MAX_IRQS,
 * -CV_ESHUTDOWN when the VM is stopped.
 */
int vm_inject_interrupt(struct vm *vm, uint32_t vcpu_id, uint32_t vector);
/* True when vCPU vcpu_id has a queued interrupt not yet injected. */
bool vm_interrupt_pending(const struct vm *vm, uint32_t vcpu_id);
/* Forces vCPU vcpu_id out of guest mode (any task); VM_WAKE_ALL kicks every vCPU. */
void vm_kick_vcpu(struct vm *vm, uint32_t vcpu_id);

/*
 * The hook vm_inject_interrupt, vm_shutdown and vm_resume call so that whoever parks
 * vCPUs (the VMM) re-checks its sleepers; vcpu_id is the target or VM_WAKE_ALL. Called
 * with an internal leaf lock held: it must not call back into this VM. NULL removes it;
 * on return from a removal no call is in progress.
 */
void vm_set_wake_hook(struct vm *vm, void (*fn)(void *ctx, uint32_t vcpu_id), void *ctx);

/* ---- devices ---- */

/*
 * Registers a device range on the VM's bus for space (cvisor/device.h). Only while the
 * VM is LOADED (-CV_EBADSTATE after boot); the VM then owns dev (ops->release at destroy).
 */
int vm_add_device(struct vm *vm, enum bus_space space, uint64_t base, uint64_t size, const struct device_ops *ops,
		  void *dev, const char *name);

/* ---- guest memory ---- */

/*
 * Copies len bytes from / to guest-physical addr, which may span adjacent RAM regions.
 * -CV_EFAULT (and nothing copied) when any byte is outside guest RAM or the range wraps.
 * len 0 is a no-op.
 */
int vm_read_guest(struct vm *vm, gpa_t addr, void *buf, size_t len);
int vm_write_guest(struct vm *vm, gpa_t addr, const void *buf, size_t len);
/* Host pointer to [addr, addr + len) when it lies in one RAM region; -CV_EFAULT else. */
int vm_guest_ptr(struct vm *vm, gpa_t addr, size_t len, void **out);

/* ---- statistics ---- */

/* Exits of kind seen by vm_run_vcpu on vCPU vcpu_id (including those it answered). */
uint64_t vm_exit_count(const struct vm *vm, uint32_t vcpu_id, enum vcpu_exit_kind kind);
/* Accesses to no device answered by the IGNORE policy. */
uint64_t vm_unmapped_count(const struct vm *vm);

#endif /* CVISOR_VM_H */
