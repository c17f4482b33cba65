/* SPDX-License-Identifier: MIT */
/*
 * The VMM (seed 004, axvisor src/vmm/vcpus.rs): one task per vCPU of a VM, coordinated
 * through a per-VM wait queue. Only vCPU 0's task starts with the VM; a guest CPU_ON
 * starts the others. The VMM answers the exits the VM hands back (HYPERCALL, CPU_UP,
 * CPU_DOWN, HALT, SYSTEM_DOWN, FAIL_ENTRY, ...) and shuts the VM down in a bounded time.
 *
 * Typical use (the CLI):
 *   vm_create(&vm, &cfg); load the image (vm_write_guest); vm_add_device(...);
 *   vmm_start(&vv, vm, &hooks);
 *   vmm_wait(vv, 0, &res);              // or a timeout, then vmm_shutdown + vmm_wait
 *   vmm_destroy(vv, 1s); vm_destroy(vm);
 *   res.reason.kind: POWER_OFF -> exit 0, RESET -> rebuild, CRASH / FAILED / HOST -> exit 1.
 */
#ifndef CVISOR_VMM_H
#define CVISOR_VMM_H

#include <cvisor/exit.h>
#include <cvisor/types.h>
#include <cvisor/vm.h>

struct vmm_vm;

/* What the embedder (CLI, bare-metal main) adds to the VMM. Every member may be NULL. */
struct vmm_hooks {
	/*
	 * A hypercall the VMM does not know (cvisor's own CV_HC_* and PSCI AFFINITY_INFO are
	 * answered first). Return true when handled, with the guest's result in *ret; false
	 * makes the answer CV_HC_RET_UNKNOWN. Runs on the vCPU's task, the vCPU not running.
	 */
	bool (*hypercall)(void *ctx, struct vm *vm, uint32_t vcpu_id, uint64_t nr, const uint64_t args[6],
			  uint64_t *ret);
	/*
	 * An exit the VMM has no rule of its own for: NESTED_PAGE_FAULT, SEND_IPI, and MMIO /
	 * IO / SYSREG exits returned under the ABORT unmapped-access policy. Return 0 when
	 * handled (the vCPU goes on), -CV_ENOTSUP to get the default (SEND_IPI: the vector is
	 * injected into the targets; MMIO / IO / SYSREG: the VM stops as under the STOP policy,
	 * VM_STOP_FAILED with -CV_ENODEV and the address; anything else: VM_STOP_FAILED with
	 * -CV_ENOTSUP), or another negative code to stop the VM with it (the detail is the
	 * address, port or register the exit names).
	 */
	int (*exit)(void *ctx, struct vm *vm, uint32_t vcpu_id, struct vcpu_exit *exit);
	void *ctx;
};

/* A vCPU's power state as the VMM sees it (PSCI AFFINITY_INFO answers from it). */
enum vmm_power {
	VMM_VCPU_OFF,	 /* never started, or CPU_OFF: wakes only on CPU_ON */
	VMM_VCPU_ON,	 /* running or about to (CPU_ON accepted) */
	VMM_VCPU_HALTED, /* HALT / CPU_SUSPEND: wakes on an interrupt */
};

/* How a VM ended, for the CLI's exit status. */
struct vmm_result {
	struct vm_stop_reason reason; /* POWER_OFF, RESET, CRASH, FAILED (error), HOST */
	unsigned stuck;		      /* vCPU tasks that had not left when the wait ended */
	uint64_t stuck_mask;	      /* bit n: vCPU n's task */
};

/*
 * Boots vm (LOADED -> RUNNING) and starts vCPU 0's task, named "VM[id]-VCpu[0]", on its
 * CPU mask. Takes a reference on vm until vmm_destroy frees the VMM. hooks is copied
 * (NULL: none). -CV_EBADSTATE when vm is not LOADED (a stopped VM is never re-booted),
 * -CV_ENOMEM, or the HAL's error from spawning (the VM is then stopped).
 */
int vmm_start(struct vmm_vm **out, struct vm *vm, const struct vmm_hooks *hooks);

/*
 * Waits until every vCPU task has left and the VM is STOPPED, at most timeout_ns (0:
 * without bound), and fills *res (may be NULL). -CV_ETIMEDOUT when the VM still runs or
 * a task is stuck: res->stuck_mask names the tasks still there. It does not stop the VM.
 */
int vmm_wait(struct vmm_vm *vv, uint64_t timeout_ns, struct vmm_result *res);

/* Asks the VM to stop (VM_STOP_HOST unless it is stopping already); does not wait. */
int vmm_shutdown(struct vmm_vm *vv);

/*
 * Stops the VM if needed, waits at most timeout_ns (0: one second) for every task to leave (each stuck
 * one is logged), joins them and frees the VMM, dropping its VM reference. -CV_ETIMEDOUT
 * when a task would not leave: nothing is freed, the call may be repeated later (or the
 * VMM leaked: a stuck task may still touch it).
 */
int vmm_destroy(struct vmm_vm *vv, uint64_t timeout_ns);

/* The VM this VMM runs. */
struct vm *vmm_get_vm(const struct vmm_vm *vv);

/* vCPU vcpu_id's power state (VMM_VCPU_OFF for an unknown id). */
enum vmm_power vmm_vcpu_power(struct vmm_vm *vv, uint32_t vcpu_id);

/* Number of vCPU tasks that are alive (seed: running_halting_vcpu_count). */
unsigned vmm_running_vcpus(struct vmm_vm *vv);

#endif /* CVISOR_VMM_H */
