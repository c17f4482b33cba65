/* SPDX-License-Identifier: MIT */
/*
 * The VMM when the host cannot start a vCPU task (hal_task_spawn fails): vmm_start
 * reports the error and leaves a stopped VM, CPU_ON answers INTERNAL_FAILURE and the VM
 * goes on. This program interposes pthread_create (the hosted HAL's only way to start a
 * task) to make chosen calls fail, or to hold a new task back until the test lets it go.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cvisor/errors.h>
#include <cvisor/guest_abi.h>
#include <cvisor/hal.h>
#include <cvisor/vmm.h>

#include "support/unit.h"

#define SEC 1000000000ull

static _Atomic int fail_creates;	/* pthread_create calls still to fail */
static _Atomic int fail_errno = EAGAIN; /* with this error */
static _Atomic bool hold_creates;	/* new threads wait for `released` before running */
static _Atomic bool released;

struct held {
	void *(*fn)(void *);
	void *arg;
};

static void *held_start(void *p)
{
	struct held h = *(struct held *)p;

	free(p);
	while (!atomic_load(&released))
		sched_yield();
	return h.fn(h.arg);
}

int pthread_create(pthread_t *t, const pthread_attr_t *attr, void *(*fn)(void *), void *arg)
{
	static int (*real)(pthread_t *, const pthread_attr_t *, void *(*)(void *), void *);
	struct held *h;

	if (!real)
		*(void **)&real = dlsym(RTLD_NEXT, "pthread_create");
	if (atomic_load(&fail_creates) > 0) {
		atomic_fetch_sub(&fail_creates, 1);
		return atomic_load(&fail_errno);
	}
	if (!atomic_load(&hold_creates))
		return real(t, attr, fn, arg);
	h = malloc(sizeof(*h));
	if (!h)
		return EAGAIN;
	h->fn = fn;
	h->arg = arg;
	return real(t, attr, held_start, h);
}

static struct vm *new_vm(unsigned ncpus)
{
	struct vm_config cfg;
	struct vm *vm = NULL;

	memset(&cfg, 0, sizeof(cfg));
	cfg.id = 5;
	strcpy(cfg.name, "spawn");
	cfg.cpu_num = ncpus;
	cfg.nregions = 1;
	cfg.regions[0] = (struct vm_mem_region){.gpa = 0, .size = 0x10000};
	cfg.unmapped_access = UNMAPPED_IGNORE;
	assert_int_equal(vm_create(&vm, &cfg), 0);
	return vm;
}

static void script(struct vm *vm, uint32_t id, struct vcpu_exit e)
{
	assert_true(fake_script_exit(&vm_vcpu(vm, id)->arch, &e));
}

static struct vcpu_exit cpu_up(uint64_t target)
{
	return (struct vcpu_exit){.kind = VCPU_EXIT_CPU_UP, .cpu_up = {target, gpa(0x2000), 0}};
}

static struct vcpu_exit hc(uint64_t nr, uint64_t a0)
{
	return (struct vcpu_exit){.kind = VCPU_EXIT_HYPERCALL, .hypercall = {.nr = nr, .args = {a0}}};
}

/* vmm_start cannot start vCPU 0's task: the HAL's error, a stopped VM, nothing leaked. */
static void test_start_spawn_fails(void **state)
{
	struct vm *vm = new_vm(1);
	struct vm_stop_reason why;
	struct vmm_vm *vv = (struct vmm_vm *)1;

	(void)state;
	atomic_store(&fail_creates, 1);
	assert_int_equal(vmm_start(&vv, vm, NULL), -CV_ENOMEM);
	assert_null(vv);
	assert_int_equal(vm_status(vm), VM_STATUS_STOPPED);
	vm_get_stop_reason(vm, &why);
	assert_int_equal(why.kind, VM_STOP_FAILED);
	assert_int_equal(why.error, -CV_ENOMEM);
	assert_int_equal(vcpu_state(vm_vcpu(vm, 0)), VCPU_STATE_FREE);
	vm_destroy(vm);

	/* The HAL says why: EINVAL (say, a CPU mask of offline CPUs) is not "out of memory". */
	vm = new_vm(1);
	atomic_store(&fail_errno, EINVAL);
	atomic_store(&fail_creates, 1);
	assert_int_equal(vmm_start(&vv, vm, NULL), -CV_EINVAL);
	atomic_store(&fail_errno, EAGAIN);
	vm_get_stop_reason(vm, &why);
	assert_int_equal(why.error, -CV_EINVAL);
	vm_destroy(vm);
}

#define HC_FAIL_NEXT 0xC6000200u /* the next task start fails */
#define HC_HOLD	     0xC6000201u /* new tasks wait until HC_RELEASE */
#define HC_RELEASE   0xC6000202u

static bool test_hook(void *ctx, struct vm *vm, uint32_t vcpu_id, uint64_t nr, const uint64_t args[6], uint64_t *ret)
{
	(void)ctx, (void)vm, (void)vcpu_id, (void)args;
	switch (nr) {
	case HC_FAIL_NEXT:
		atomic_store(&fail_creates, 1);
		break;
	case HC_HOLD:
		atomic_store(&released, false);
		atomic_store(&hold_creates, true);
		break;
	case HC_RELEASE:
		atomic_store(&hold_creates, false);
		atomic_store(&released, true);
		break;
	default:
		return false;
	}
	*ret = 0;
	return true;
}

/*
 * CPU_ON whose task cannot be started: INTERNAL_FAILURE, the target stays OFF (a later
 * CPU_ON starts it), and the VM runs on.
 */
static void test_cpu_on_spawn_fails(void **state)
{
	const struct vmm_hooks hooks = {.hypercall = test_hook};
	struct vm *vm = new_vm(2);
	struct vmm_result res;
	struct vmm_vm *vv;
	struct vcpu_arch *a0;

	(void)state;
	script(vm, 0, hc(HC_FAIL_NEXT, 0));
	script(vm, 0, cpu_up(1));
	script(vm, 0, hc(PSCI_AFFINITY_INFO, 1));
	script(vm, 0, cpu_up(1));
	script(vm, 0, hc(CV_HC_BARRIER, 0));
	script(vm, 0, (struct vcpu_exit){.kind = VCPU_EXIT_SYSTEM_DOWN, .system_down = {SYSTEM_DOWN_OFF}});
	script(vm, 1, hc(CV_HC_BARRIER, 0));
	assert_int_equal(vmm_start(&vv, vm, &hooks), 0);
	assert_int_equal(vmm_wait(vv, 5 * SEC, &res), 0);
	assert_int_equal(res.reason.kind, VM_STOP_POWER_OFF);
	assert_int_equal(vmm_destroy(vv, SEC), 0);
	a0 = &vm_vcpu(vm, 0)->arch;
	assert_int_equal(a0->nreturns, 5);
	assert_int_equal(a0->returns[1], (uint64_t)(int64_t)PSCI_RET_INTERNAL_FAILURE);
	assert_int_equal(a0->returns[2], PSCI_AFFINITY_OFF);
	assert_int_equal(a0->returns[3], PSCI_RET_SUCCESS);
	assert_int_equal(vm_exit_count(vm, 1, VCPU_EXIT_HYPERCALL), 1);
	vm_destroy(vm);
}

/*
 * A CPU_ON while the target's previous CPU_ON is still being applied (its task has not
 * started yet): ON_PENDING, as AFFINITY_INFO says (DEN0022 5.6: ALREADY_ON is for a core
 * that is on), and still never a second task.
 */
static void test_cpu_on_pending(void **state)
{
	const struct vmm_hooks hooks = {.hypercall = test_hook};
	struct vm *vm = new_vm(2);
	struct vmm_result res;
	struct vmm_vm *vv;
	struct vcpu_arch *a0;

	(void)state;
	script(vm, 0, hc(HC_HOLD, 0));
	script(vm, 0, cpu_up(1));
	script(vm, 0, hc(PSCI_AFFINITY_INFO, 1));
	script(vm, 0, cpu_up(1));
	script(vm, 0, hc(HC_RELEASE, 0));
	script(vm, 0, hc(CV_HC_BARRIER, 0));
	script(vm, 0, hc(PSCI_AFFINITY_INFO, 1));
	script(vm, 0, cpu_up(1));
	script(vm, 0, (struct vcpu_exit){.kind = VCPU_EXIT_SYSTEM_DOWN, .system_down = {SYSTEM_DOWN_OFF}});
	script(vm, 1, hc(CV_HC_BARRIER, 0));
	assert_int_equal(vmm_start(&vv, vm, &hooks), 0);
	assert_int_equal(vmm_wait(vv, 5 * SEC, &res), 0);
	assert_int_equal(res.reason.kind, VM_STOP_POWER_OFF);
	assert_int_equal(vmm_destroy(vv, SEC), 0);
	a0 = &vm_vcpu(vm, 0)->arch;
	assert_int_equal(a0->nreturns, 8);
	assert_int_equal(a0->returns[1], PSCI_RET_SUCCESS);
	assert_int_equal(a0->returns[2], PSCI_AFFINITY_ON_PENDING);
	assert_int_equal(a0->returns[3], (uint64_t)(int64_t)PSCI_RET_ON_PENDING);
	assert_int_equal(a0->returns[6], PSCI_AFFINITY_ON);
	assert_int_equal(a0->returns[7], (uint64_t)(int64_t)PSCI_RET_ALREADY_ON);
	assert_int_equal(vm_exit_count(vm, 1, VCPU_EXIT_HYPERCALL), 1);
	vm_destroy(vm);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_start_spawn_fails),
	    cmocka_unit_test(test_cpu_on_spawn_fails),
	    cmocka_unit_test(test_cpu_on_pending),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
