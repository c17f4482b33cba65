/* SPDX-License-Identifier: MIT */
/*
 * Unit tests of core/vmm.c on the fake arch with real HAL tasks (pthreads): the exit
 * table of seed 004, CPU_ON / CPU_OFF / HALT, bounded shutdown, and a create/run/destroy
 * loop (issue #4).
 */
#define _GNU_SOURCE
#include <pthread.h>
#include <sched.h>
#include <string.h>
#include <time.h>

#include <cvisor/errors.h>
#include <cvisor/guest_abi.h>
#include <cvisor/hal.h>
#include <cvisor/vmm.h>

#include "support/unit.h"

#define SEC		   1000000000ull
#define HC_WAIT_V1_OFF	   0xC6000100u /* test hook: wait until vCPU 1 is off */
#define HC_WAIT_V1_BLOCKED 0xC6000101u /* test hook: wait until vCPU 1 is halted and BLOCKED */
#define HC_HOOKED	   0xC6000102u /* test hook: answers 0x600d */
#define HC_IRQ_V1	   0xC6000103u /* test hook: interrupt vCPU 1; 1 if it stays off 10 ms */

static struct vm *new_vm(unsigned ncpus)
{
	struct vm_config cfg;
	struct vm *vm = NULL;

	memset(&cfg, 0, sizeof(cfg));
	cfg.id = 3;
	strcpy(cfg.name, "vmm-test");
	cfg.cpu_num = ncpus;
	cfg.has_entry_point = true;
	cfg.entry_point = 0x1000;
	cfg.nregions = 1;
	cfg.regions[0] = (struct vm_mem_region){.gpa = 0, .size = 0x10000};
	cfg.unmapped_access = UNMAPPED_IGNORE;
	assert_int_equal(vm_create(&vm, &cfg), 0);
	return vm;
}

static struct vcpu_arch *arch_of(struct vm *vm, uint32_t id)
{
	return &vm_vcpu(vm, id)->arch;
}

static void script(struct vm *vm, uint32_t id, struct vcpu_exit e)
{
	assert_true(fake_script_exit(arch_of(vm, id), &e));
}

static struct vcpu_exit hc(uint64_t nr)
{
	return (struct vcpu_exit){.kind = VCPU_EXIT_HYPERCALL, .hypercall = {.nr = nr}};
}

static struct vcpu_exit hc2(uint64_t nr, uint64_t a0, uint64_t a1)
{
	return (struct vcpu_exit){.kind = VCPU_EXIT_HYPERCALL, .hypercall = {.nr = nr, .args = {a0, a1}}};
}

static struct vcpu_exit cpu_up(uint64_t target, uint64_t entry, uint64_t arg)
{
	return (struct vcpu_exit){.kind = VCPU_EXIT_CPU_UP, .cpu_up = {target, gpa(entry), arg}};
}

static struct vcpu_exit down(enum system_down_reason r)
{
	return (struct vcpu_exit){.kind = VCPU_EXIT_SYSTEM_DOWN, .system_down = {r}};
}

static struct vcpu_exit simple(enum vcpu_exit_kind k)
{
	return (struct vcpu_exit){.kind = k};
}

static uint64_t psci(int v)
{
	return (uint64_t)(int64_t)v;
}

static void sleep_ms(unsigned ms)
{
	struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};

	nanosleep(&ts, NULL);
}

/* Polls cond for up to 5 s. */
static bool eventually(bool (*cond)(void *), void *arg)
{
	for (unsigned i = 0; i < 5000; i++) {
		if (cond(arg))
			return true;
		sleep_ms(1);
	}
	return false;
}

/* The VMM under test; published after vmm_start returns, read by the hooks on vCPU tasks. */
static struct vmm_vm *_Atomic cur_vv;

static struct vmm_vm *vv_now(void)
{
	struct vmm_vm *vv;

	while (!(vv = atomic_load(&cur_vv)))
		sched_yield();
	return vv;
}

static bool v1_off(void *p)
{
	(void)p;
	return vmm_vcpu_power(vv_now(), 1) == VMM_VCPU_OFF;
}

static bool v1_blocked(void *p)
{
	(void)p;
	return vmm_vcpu_power(vv_now(), 1) == VMM_VCPU_HALTED &&
	       vcpu_state(vm_vcpu(vmm_get_vm(vv_now()), 1)) == VCPU_STATE_BLOCKED;
}

static bool test_hypercall_hook(void *ctx, struct vm *vm, uint32_t vcpu_id, uint64_t nr, const uint64_t args[6],
				uint64_t *ret)
{
	(void)ctx;
	(void)vcpu_id;
	(void)args;
	switch (nr) {
	case HC_WAIT_V1_OFF:
		*ret = eventually(v1_off, NULL);
		return true;
	case HC_WAIT_V1_BLOCKED:
		*ret = eventually(v1_blocked, NULL);
		return true;
	case HC_HOOKED:
		*ret = 0x600d;
		return true;
	case HC_IRQ_V1:
		/* CPU_OFF is not HALT: an interrupt must not wake the vCPU (PSCI DEN0022 5.1.3). */
		*ret = vm_inject_interrupt(vm, 1, 60) == 0;
		sleep_ms(10);
		*ret &= vmm_vcpu_power(vv_now(), 1) == VMM_VCPU_OFF && vcpu_state(vm_vcpu(vm, 1)) == VCPU_STATE_BLOCKED;
		return true;
	default:
		return false;
	}
}

static const struct vmm_hooks hooks = {.hypercall = test_hypercall_hook};

/* Starts vm under the VMM, waits for it to stop (5 s at most), frees the VMM. */
static struct vmm_result run_vm(struct vm *vm, const struct vmm_hooks *h)
{
	struct vmm_result res;
	struct vmm_vm *vv;

	assert_int_equal(vmm_start(&vv, vm, h), 0);
	atomic_store(&cur_vv, vv);
	assert_int_equal(vmm_wait(vv, 5 * SEC, &res), 0);
	assert_int_equal(res.stuck, 0);
	assert_int_equal(vm_status(vm), VM_STATUS_STOPPED);
	assert_int_equal(vmm_running_vcpus(vv), 0);
	assert_int_equal(vmm_destroy(vv, SEC), 0);
	atomic_store(&cur_vv, NULL);
	return res;
}

static unsigned runs_of(uint32_t vcpu_id)
{
	unsigned n = 0;

	for (unsigned i = 0; i < fake_log_len(); i++)
		n += fake_log_at(i).op == FAKE_OP_RUN && fake_log_at(i).vcpu_id == vcpu_id;
	return n;
}

/* SYSTEM_DOWN's three reasons; only the primary's task ever ran. */
static void test_system_down(void **state)
{
	static const struct {
		enum system_down_reason r;
		enum vm_stop_kind want;
	} cases[] = {
	    {SYSTEM_DOWN_OFF, VM_STOP_POWER_OFF},
	    {SYSTEM_DOWN_RESET, VM_STOP_RESET},
	    {SYSTEM_DOWN_CRASH, VM_STOP_CRASH},
	};

	(void)state;
	for (unsigned i = 0; i < CV_ARRAY_SIZE(cases); i++) {
		struct vm *vm = new_vm(2);
		struct vmm_result res;

		script(vm, 0, simple(VCPU_EXIT_NOTHING));
		script(vm, 0, simple(VCPU_EXIT_EXTERNAL_INTERRUPT));
		script(vm, 0, down(cases[i].r));
		fake_log_reset();
		res = run_vm(vm, NULL);
		assert_int_equal(res.reason.kind, cases[i].want);
		assert_int_equal(res.reason.vcpu_id, 0);
		assert_int_equal(runs_of(0), 3);
		assert_int_equal(runs_of(1), 0);
		assert_int_equal(vm_exit_count(vm, 0, VCPU_EXIT_NOTHING), 1);
		assert_int_equal(vm_exit_count(vm, 0, VCPU_EXIT_EXTERNAL_INTERRUPT), 1);
		assert_int_equal(vm_exit_count(vm, 0, VCPU_EXIT_SYSTEM_DOWN), 1);
		/* A stopped VM is never started again. */
		struct vmm_vm *vv;
		assert_int_equal(vmm_start(&vv, vm, NULL), -CV_EBADSTATE);
		vm_destroy(vm);
	}
}

static void test_fail_entry(void **state)
{
	struct vm *vm = new_vm(1);
	struct vmm_result res;

	(void)state;
	script(vm, 0, (struct vcpu_exit){.kind = VCPU_EXIT_FAIL_ENTRY, .fail_entry = {0x21}});
	res = run_vm(vm, NULL);
	assert_int_equal(res.reason.kind, VM_STOP_FAILED);
	assert_int_equal(res.reason.error, -CV_EGUEST);
	assert_int_equal(res.reason.detail, 0x21);
	vm_destroy(vm);
}

static void test_arch_error(void **state)
{
	struct vm *vm = new_vm(1);
	struct vmm_result res;

	(void)state;
	assert_true(fake_script_error(arch_of(vm, 0), -CV_EIO));
	res = run_vm(vm, NULL);
	assert_int_equal(res.reason.kind, VM_STOP_FAILED);
	assert_int_equal(res.reason.error, -CV_EIO);
	assert_int_equal(vcpu_state(vm_vcpu(vm, 0)), VCPU_STATE_INVALID);
	vm_destroy(vm);
}

static void test_hypercalls(void **state)
{
	struct vm *vm = new_vm(2);
	struct vcpu_arch *a;
	struct vmm_result res;

	(void)state;
	script(vm, 0,
	       (struct vcpu_exit){.kind = VCPU_EXIT_HYPERCALL,
				  .hypercall = {CV_HC_TEST_SUM, {1, 2, 3, 4, 5, 0x1000000000ull}}});
	script(vm, 0, hc(HC_HOOKED));
	script(vm, 0, hc(0xC6001234u));
	script(vm, 0, hc2(PSCI_AFFINITY_INFO_64, 0, 0)); /* itself: ON */
	script(vm, 0, hc2(PSCI_AFFINITY_INFO, 1, 0));	 /* never started: OFF */
	script(vm, 0, hc2(PSCI_AFFINITY_INFO, 2, 0));	 /* no such vCPU */
	script(vm, 0, hc2(PSCI_AFFINITY_INFO, 0, 1));	 /* level 1: not supported here */
	/* SMC32: the upper half of the target is ignored (SMCCC 2.6). */
	script(vm, 0, hc2(PSCI_AFFINITY_INFO, 0xffffffff00000001ull, 0));
	script(vm, 0, hc(CV_HC_BARRIER)); /* alone: opens at once */
	script(vm, 0, down(SYSTEM_DOWN_OFF));
	res = run_vm(vm, &hooks);
	assert_int_equal(res.reason.kind, VM_STOP_POWER_OFF);
	a = arch_of(vm, 0);
	assert_int_equal(a->nreturns, 9);
	assert_int_equal(a->returns[0], 0x100000000full);
	assert_int_equal(a->returns[1], 0x600d);
	assert_int_equal(a->returns[2], psci(CV_HC_RET_UNKNOWN));
	assert_int_equal(a->returns[3], PSCI_AFFINITY_ON);
	assert_int_equal(a->returns[4], PSCI_AFFINITY_OFF);
	assert_int_equal(a->returns[5], psci(PSCI_RET_INVALID_PARAMETERS));
	assert_int_equal(a->returns[6], psci(PSCI_RET_INVALID_PARAMETERS));
	assert_int_equal(a->returns[7], PSCI_AFFINITY_OFF);
	assert_int_equal(a->returns[8], 0);
	assert_int_equal(vm_exit_count(vm, 0, VCPU_EXIT_HYPERCALL), 9);
	vm_destroy(vm);
}

static char v1_name[32];
static cpu_set_t v1_cpus;
static unsigned v1_calls;
static int v1_probe(struct vcpu_arch *arch, struct vcpu_exit *exit, void *ctx)
{
	(void)ctx;
	memset(exit, 0, sizeof(*exit));
	if (v1_calls++ == 0) {
		pthread_getname_np(pthread_self(), v1_name, sizeof(v1_name));
		exit->kind = VCPU_EXIT_HYPERCALL;
		exit->hypercall.nr = CV_HC_BARRIER;
		return 0;
	}
	/*
	 * After the barrier: vCPU 0 has returned from spawning this task, so the HAL has
	 * applied the CPU mask (host/linux pins a thread just after creating it).
	 */
	pthread_getaffinity_np(pthread_self(), sizeof(v1_cpus), &v1_cpus);
	fake_set_run_fn(arch, NULL, NULL); /* then HALT, as an empty script does */
	exit->kind = VCPU_EXIT_HALT;
	return 0;
}

/*
 * CPU_ON: the target starts at entry with arg in gpr 0, in a task named VM[3]-VCpu[1] on
 * its CPU mask; a second CPU_ON is ON_PENDING or ALREADY_ON; unknown targets INVALID_PARAMETERS; the
 * barrier waits for the started vCPU; shutdown wakes it from HALT.
 */
static void test_cpu_on(void **state)
{
	struct vm_config cfg;
	struct vm *vm = NULL;
	struct vcpu_arch *a0, *a1;
	struct vmm_result res;
	bool two_cpus = hal_cpu_count() >= 2;

	(void)state;
	memset(&cfg, 0, sizeof(cfg));
	cfg.id = 3;
	cfg.cpu_num = 2;
	cfg.nregions = 1;
	cfg.regions[0] = (struct vm_mem_region){.gpa = 0, .size = 0x10000};
	if (two_cpus) {
		cfg.n_phys_cpu_ids = 2;
		cfg.phys_cpu_ids[1] = 1;
	}
	assert_int_equal(vm_create(&vm, &cfg), 0);
	v1_calls = 0;
	fake_set_run_fn(arch_of(vm, 1), v1_probe, NULL);
	script(vm, 0, cpu_up(1, 0x2000, 0x77));
	script(vm, 0, cpu_up(1, 0x3000, 0x88));
	script(vm, 0, cpu_up(2, 0x3000, 0));	 /* cpu_num is 2 */
	script(vm, 0, cpu_up(0x10, 0x3000, 0));	 /* Aff0 16: names no vCPU */
	script(vm, 0, cpu_up(0x100, 0x3000, 0)); /* vCPU 16 */
	script(vm, 0, cpu_up(0, 0x3000, 0));	 /* itself */
	script(vm, 0, hc(CV_HC_BARRIER));
	script(vm, 0, hc2(PSCI_AFFINITY_INFO, 1, 0));
	script(vm, 0, hc(HC_WAIT_V1_BLOCKED));
	script(vm, 0, hc2(PSCI_AFFINITY_INFO, 1, 0)); /* halted is still on */
	script(vm, 0, down(SYSTEM_DOWN_OFF));
	res = run_vm(vm, &hooks);
	assert_int_equal(res.reason.kind, VM_STOP_POWER_OFF);
	a0 = arch_of(vm, 0);
	a1 = arch_of(vm, 1);
	assert_int_equal(a0->nreturns, 10);
	assert_int_equal(a0->returns[0], psci(PSCI_RET_SUCCESS));
	/* ON_PENDING until vCPU 1's task has applied the first CPU_ON (test_spawn pins that down). */
	assert_true(a0->returns[1] == psci(PSCI_RET_ALREADY_ON) || a0->returns[1] == psci(PSCI_RET_ON_PENDING));
	assert_int_equal(a0->returns[2], psci(PSCI_RET_INVALID_PARAMETERS));
	assert_int_equal(a0->returns[3], psci(PSCI_RET_INVALID_PARAMETERS));
	assert_int_equal(a0->returns[4], psci(PSCI_RET_INVALID_PARAMETERS));
	assert_int_equal(a0->returns[5], psci(PSCI_RET_ALREADY_ON));
	assert_int_equal(a0->returns[6], 0);
	assert_int_equal(a0->returns[7], PSCI_AFFINITY_ON);
	assert_int_equal(a0->returns[8], 1);
	assert_int_equal(a0->returns[9], PSCI_AFFINITY_ON);
	assert_int_equal(a1->entry.v, 0x2000);
	assert_int_equal(a1->gprs[0], 0x77);
	assert_string_equal(v1_name, "VM[3]-VCpu[1]");
	if (two_cpus) {
		assert_int_equal(CPU_COUNT(&v1_cpus), 1);
		assert_true(CPU_ISSET(1, &v1_cpus));
	}
	assert_int_equal(vcpu_state(vm_vcpu(vm, 1)), VCPU_STATE_FREE);
	vm_destroy(vm);
}

/*
 * CPU_ON at an entry outside guest RAM (the VM has [0, 64K)): INVALID_ADDRESS, checked
 * after the target (INVALID_PARAMETERS first, as TF-A), and the target stays off.
 */
static void test_cpu_on_bad_entry(void **state)
{
	struct vm *vm = new_vm(2);
	struct vcpu_arch *a0;
	struct vmm_result res;

	(void)state;
	script(vm, 0, cpu_up(1, 0x10000, 0));
	script(vm, 0, cpu_up(1, UINT64_MAX, 0));
	script(vm, 0, cpu_up(5, 0x10000, 0));
	script(vm, 0, hc2(PSCI_AFFINITY_INFO, 1, 0));
	script(vm, 0, cpu_up(1, 0xfffc, 0)); /* the last word of RAM is fine */
	script(vm, 0, down(SYSTEM_DOWN_OFF));
	res = run_vm(vm, &hooks);
	assert_int_equal(res.reason.kind, VM_STOP_POWER_OFF);
	a0 = arch_of(vm, 0);
	assert_int_equal(a0->nreturns, 5);
	assert_int_equal(a0->returns[0], psci(-9));
	assert_int_equal(a0->returns[1], psci(-9));
	assert_int_equal(a0->returns[2], psci(PSCI_RET_INVALID_PARAMETERS));
	assert_int_equal(a0->returns[3], PSCI_AFFINITY_OFF);
	assert_int_equal(a0->returns[4], psci(PSCI_RET_SUCCESS));
	vm_destroy(vm);
}

/*
 * CPU_OFF parks the vCPU until CPU_ON, which restarts the same task at the new entry
 * with the new argument (a second task would make vm_run_vcpu fail with EBUSY).
 */
static void test_cpu_off_then_on(void **state)
{
	struct vm *vm = new_vm(2);
	struct vcpu_arch *a0, *a1;
	struct vmm_result res;

	(void)state;
	script(vm, 0, cpu_up(1, 0x2000, 1));
	script(vm, 0, hc(CV_HC_BARRIER));
	script(vm, 0, hc(HC_WAIT_V1_OFF));
	script(vm, 0, hc2(PSCI_AFFINITY_INFO, 1, 0));
	script(vm, 0, hc(HC_IRQ_V1));
	script(vm, 0, cpu_up(1, 0x4000, 2));
	script(vm, 0, hc(CV_HC_BARRIER));
	script(vm, 0, down(SYSTEM_DOWN_OFF));
	script(vm, 1, hc(CV_HC_BARRIER));
	script(vm, 1, simple(VCPU_EXIT_CPU_DOWN));
	script(vm, 1, hc(CV_HC_BARRIER));
	res = run_vm(vm, &hooks);
	assert_int_equal(res.reason.kind, VM_STOP_POWER_OFF);
	a0 = arch_of(vm, 0);
	a1 = arch_of(vm, 1);
	assert_int_equal(a0->returns[2], 1); /* vCPU 1 was seen off */
	assert_int_equal(a0->returns[3], PSCI_AFFINITY_OFF);
	assert_int_equal(a0->returns[4], 1); /* the interrupt did not wake it */
	assert_int_equal(a0->returns[5], psci(PSCI_RET_SUCCESS));
	assert_int_equal(a1->entry.v, 0x4000);
	assert_int_equal(a1->gprs[0], 2);
	assert_true(a1->injected[0] & (1ull << 60)); /* delivered once it was on again */
	assert_int_equal(vm_exit_count(vm, 1, VCPU_EXIT_CPU_DOWN), 1);
	vm_destroy(vm);
}

/* A vCPU that goes off while the others wait in a barrier opens it. */
static void test_barrier_opened_by_cpu_off(void **state)
{
	struct vm *vm = new_vm(2);
	struct vmm_result res;

	(void)state;
	script(vm, 0, cpu_up(1, 0x2000, 0));
	script(vm, 0, hc(CV_HC_BARRIER));
	script(vm, 0, down(SYSTEM_DOWN_OFF));
	script(vm, 1, simple(VCPU_EXIT_CPU_DOWN));
	res = run_vm(vm, &hooks);
	assert_int_equal(res.reason.kind, VM_STOP_POWER_OFF);
	vm_destroy(vm);
}

static bool v0_halted_blocked(void *p)
{
	struct vm *vm = p;

	return vmm_vcpu_power(vv_now(), 0) == VMM_VCPU_HALTED && vcpu_state(vm_vcpu(vm, 0)) == VCPU_STATE_BLOCKED;
}

/* An interrupt injected into a halted (BLOCKED) vCPU wakes it and is injected. */
static void test_interrupt_wakes_halted(void **state)
{
	struct vm *vm = new_vm(1);
	struct vmm_result res;
	struct vmm_vm *vv;

	(void)state;
	script(vm, 0, simple(VCPU_EXIT_HALT));
	script(vm, 0, down(SYSTEM_DOWN_OFF));
	assert_int_equal(vmm_start(&vv, vm, NULL), 0);
	atomic_store(&cur_vv, vv);
	assert_true(eventually(v0_halted_blocked, vm));
	sleep_ms(5); /* it stays asleep with nothing pending */
	assert_int_equal(vm_status(vm), VM_STATUS_RUNNING);
	assert_int_equal(vm_inject_interrupt(vm, 0, 40), 0);
	assert_int_equal(vmm_wait(vv, 5 * SEC, &res), 0);
	assert_int_equal(res.reason.kind, VM_STOP_POWER_OFF);
	assert_int_equal(vmm_destroy(vv, SEC), 0);
	atomic_store(&cur_vv, NULL);
	assert_true(arch_of(vm, 0)->injected[0] & (1ull << 40));
	assert_int_equal(vm_exit_count(vm, 0, VCPU_EXIT_HALT), 1);
	vm_destroy(vm);
}

static bool all_parked(void *p)
{
	struct vm *vm = p;

	return vmm_vcpu_power(vv_now(), 1) == VMM_VCPU_HALTED && vmm_vcpu_power(vv_now(), 2) == VMM_VCPU_OFF &&
	       vcpu_state(vm_vcpu(vm, 1)) == VCPU_STATE_BLOCKED && vcpu_state(vm_vcpu(vm, 2)) == VCPU_STATE_BLOCKED &&
	       vcpu_state(vm_vcpu(vm, 0)) == VCPU_STATE_RUNNING;
}

/* Shutdown with one vCPU in guest mode, one halted and one CPU_OFF: done within a second. */
static void test_shutdown_parked(void **state)
{
	struct vm *vm = new_vm(3);
	struct vmm_result res;
	struct vmm_vm *vv;
	uint64_t t0, dt;

	(void)state;
	script(vm, 0, cpu_up(1, 0x2000, 0));
	script(vm, 0, cpu_up(2, 0x2000, 0));
	assert_true(fake_script_wait_kick(arch_of(vm, 0), &(struct vcpu_exit){.kind = VCPU_EXIT_NOTHING}));
	script(vm, 1, simple(VCPU_EXIT_HALT));
	script(vm, 2, simple(VCPU_EXIT_CPU_DOWN));
	assert_int_equal(vmm_start(&vv, vm, NULL), 0);
	atomic_store(&cur_vv, vv);
	assert_true(eventually(all_parked, vm));
	/* Nothing would ever wake them but the shutdown. */
	assert_int_equal(vmm_wait(vv, 20 * 1000 * 1000, &res), -CV_ETIMEDOUT);
	assert_int_equal(res.stuck, 3);
	assert_int_equal(res.reason.kind, VM_STOP_NONE);
	t0 = hal_now_ns();
	assert_int_equal(vmm_shutdown(vv), 0);
	assert_int_equal(vmm_wait(vv, SEC, &res), 0);
	dt = hal_now_ns() - t0;
	print_message("# shutdown of 3 parked vCPUs took %llu us\n", (unsigned long long)(dt / 1000));
	assert_true(dt < SEC);
	assert_int_equal(res.reason.kind, VM_STOP_HOST);
	assert_int_equal(res.stuck, 0);
	assert_int_equal(vmm_destroy(vv, SEC), 0);
	atomic_store(&cur_vv, NULL);
	for (uint32_t i = 0; i < 3; i++)
		assert_int_equal(vcpu_state(vm_vcpu(vm, i)), VCPU_STATE_FREE);
	vm_destroy(vm);
}

static int npf_hook(void *ctx, struct vm *vm, uint32_t vcpu_id, struct vcpu_exit *exit)
{
	(void)vm;
	(void)vcpu_id;
	(*(unsigned *)ctx)++;
	return exit->kind == VCPU_EXIT_NESTED_PAGE_FAULT ? 0 : -CV_ENOTSUP;
}

/* Exits with no rule: the hook first; SEND_IPI's default delivers; others stop the VM. */
static void test_other_exits(void **state)
{
	struct vm *vm = new_vm(2);
	unsigned calls = 0;
	struct vmm_hooks h = {.hypercall = test_hypercall_hook, .exit = npf_hook, .ctx = &calls};
	struct vmm_result res;

	(void)state;
	script(vm, 0, cpu_up(1, 0x2000, 0));
	script(vm, 0, hc(HC_WAIT_V1_BLOCKED));
	script(vm, 0, simple(VCPU_EXIT_NESTED_PAGE_FAULT)); /* the hook handles it */
	script(vm, 0, (struct vcpu_exit){.kind = VCPU_EXIT_SEND_IPI, .send_ipi = {.target_cpu = 1, .vector = 50}});
	script(vm, 1, simple(VCPU_EXIT_HALT));
	script(vm, 1, down(SYSTEM_DOWN_OFF));
	res = run_vm(vm, &h);
	assert_int_equal(res.reason.kind, VM_STOP_POWER_OFF);
	assert_int_equal(res.reason.vcpu_id, 1);
	assert_int_equal(calls, 2);
	assert_true(arch_of(vm, 1)->injected[0] & (1ull << 50));
	vm_destroy(vm);

	/* No hook: a nested page fault stops the VM, reported with its address. */
	vm = new_vm(1);
	script(vm, 0,
	       (struct vcpu_exit){.kind = VCPU_EXIT_NESTED_PAGE_FAULT,
				  .nested_page_fault = {gpa(0xdead000), CV_MAP_WRITE}});
	res = run_vm(vm, NULL);
	assert_int_equal(res.reason.kind, VM_STOP_FAILED);
	assert_int_equal(res.reason.error, -CV_ENOTSUP);
	assert_int_equal(res.reason.detail, 0xdead000);
	vm_destroy(vm);

	/* SEND_IPI to all (not self) and to self. */
	vm = new_vm(2);
	script(vm, 0, cpu_up(1, 0x2000, 0));
	script(vm, 0, hc(HC_WAIT_V1_BLOCKED));
	script(vm, 0, (struct vcpu_exit){.kind = VCPU_EXIT_SEND_IPI, .send_ipi = {.send_to_all = true, .vector = 51}});
	script(vm, 0, (struct vcpu_exit){.kind = VCPU_EXIT_SEND_IPI, .send_ipi = {.send_to_self = true, .vector = 52}});
	/* Two barriers: vCPU 0 re-enters the guest (injecting 52) before the power-off. */
	script(vm, 0, hc(CV_HC_BARRIER));
	script(vm, 0, hc(CV_HC_BARRIER));
	script(vm, 1, simple(VCPU_EXIT_HALT));
	script(vm, 1, hc(CV_HC_BARRIER));
	script(vm, 1, hc(CV_HC_BARRIER));
	script(vm, 1, down(SYSTEM_DOWN_OFF));
	res = run_vm(vm, &hooks);
	assert_int_equal(res.reason.kind, VM_STOP_POWER_OFF);
	assert_true(arch_of(vm, 1)->injected[0] & (1ull << 51));
	assert_false(arch_of(vm, 1)->injected[0] & (1ull << 52));
	assert_true(arch_of(vm, 0)->injected[0] & (1ull << 52));
	assert_false(arch_of(vm, 0)->injected[0] & (1ull << 51));
	vm_destroy(vm);
}

/* Unmapped access under STOP: the VM stops, reported as failed. */
static void test_unmapped_stop_under_vmm(void **state)
{
	struct vm_config cfg;
	struct vm *vm;
	struct vmm_result res;

	(void)state;
	memset(&cfg, 0, sizeof(cfg));
	cfg.id = 4;
	cfg.cpu_num = 1;
	cfg.nregions = 1;
	cfg.regions[0] = (struct vm_mem_region){.gpa = 0, .size = 0x1000};
	cfg.unmapped_access = UNMAPPED_STOP;
	assert_int_equal(vm_create(&vm, &cfg), 0);
	script(vm, 0, (struct vcpu_exit){.kind = VCPU_EXIT_IO_WRITE, .io_write = {0x80, ACCESS_WIDTH_1, 0}});
	res = run_vm(vm, NULL);
	assert_int_equal(res.reason.kind, VM_STOP_FAILED);
	assert_int_equal(res.reason.error, -CV_ENODEV);
	assert_int_equal(res.reason.detail, 0x80);
	vm_destroy(vm);
}

/*
 * Unmapped access under ABORT with no embedder hook to inject the abort (hosted x86 has
 * none): the VM stops as under STOP, -CV_ENODEV with the address, port or register.
 */
static void test_unmapped_abort_no_hook(void **state)
{
	const struct vcpu_exit exits[] = {
	    {.kind = VCPU_EXIT_IO_WRITE, .io_write = {0x80, ACCESS_WIDTH_1, 0}},
	    {.kind = VCPU_EXIT_IO_READ, .io_read = {0x81, ACCESS_WIDTH_2}},
	    {.kind = VCPU_EXIT_MMIO_READ, .mmio_read = {gpa(0x9000), ACCESS_WIDTH_4, 1, ACCESS_WIDTH_8, false}},
	    {.kind = VCPU_EXIT_MMIO_WRITE, .mmio_write = {gpa(0x9008), ACCESS_WIDTH_8, 7}},
	    {.kind = VCPU_EXIT_SYSREG_READ, .sysreg_read = {0x30c0, 2}},
	    {.kind = VCPU_EXIT_SYSREG_WRITE, .sysreg_write = {0x30c1, 5}},
	};
	static const uint64_t where[] = {0x80, 0x81, 0x9000, 0x9008, 0x30c0, 0x30c1};

	(void)state;
	for (unsigned i = 0; i < CV_ARRAY_SIZE(exits); i++) {
		struct vm_config cfg;
		struct vm *vm;
		struct vmm_result res;

		memset(&cfg, 0, sizeof(cfg));
		cfg.id = 4;
		cfg.cpu_num = 1;
		cfg.nregions = 1;
		cfg.regions[0] = (struct vm_mem_region){.gpa = 0, .size = 0x1000};
		cfg.unmapped_access = UNMAPPED_ABORT;
		assert_int_equal(vm_create(&vm, &cfg), 0);
		script(vm, 0, exits[i]);
		res = run_vm(vm, NULL);
		assert_int_equal(res.reason.kind, VM_STOP_FAILED);
		assert_int_equal(res.reason.error, -CV_ENODEV);
		assert_int_equal(res.reason.detail, where[i]);
		vm_destroy(vm);
	}
}

static _Atomic bool stuck_release;
static _Atomic bool stuck_entered;
static int stuck_run(struct vcpu_arch *arch, struct vcpu_exit *exit, void *ctx)
{
	(void)arch;
	(void)ctx;
	/* A backend that ignores kicks: stays "in guest mode" until the test lets go. */
	atomic_store(&stuck_entered, true);
	while (!atomic_load(&stuck_release))
		sleep_ms(1);
	memset(exit, 0, sizeof(*exit));
	exit->kind = VCPU_EXIT_NOTHING;
	return 0;
}

static bool stuck_in(void *p)
{
	(void)p;
	return atomic_load(&stuck_entered);
}

/* A vCPU that will not leave is reported, not waited on forever. */
static void test_stuck_vcpu(void **state)
{
	struct vm *vm = new_vm(1);
	struct vmm_vm *vv;
	struct vmm_result res;
	uint64_t t0;

	(void)state;
	atomic_store(&stuck_release, false);
	atomic_store(&stuck_entered, false);
	fake_set_run_fn(arch_of(vm, 0), stuck_run, NULL);
	assert_int_equal(vmm_start(&vv, vm, NULL), 0);
	assert_true(eventually(stuck_in, NULL));
	t0 = hal_now_ns();
	assert_int_equal(vmm_destroy(vv, 100 * 1000 * 1000), -CV_ETIMEDOUT);
	assert_true(hal_now_ns() - t0 < SEC);
	assert_int_equal(vmm_wait(vv, 1000, &res), -CV_ETIMEDOUT);
	assert_int_equal(res.stuck, 1);
	assert_int_equal(res.stuck_mask, 1);
	assert_int_equal(vm_status(vm), VM_STATUS_STOPPING);
	/* Once it lets go, the VMM can be freed after all. */
	atomic_store(&stuck_release, true);
	assert_int_equal(vmm_destroy(vv, 5 * SEC), 0);
	assert_int_equal(vm_status(vm), VM_STATUS_STOPPED);
	vm_destroy(vm);
}

static void test_start_errors(void **state)
{
	struct vm *vm = new_vm(1);
	struct vmm_vm *vv;

	(void)state;
	assert_int_equal(vmm_start(NULL, vm, NULL), -CV_EINVAL);
	assert_int_equal(vmm_start(&vv, NULL, NULL), -CV_EINVAL);
	assert_int_equal(vm_boot(vm), 0);
	assert_int_equal(vmm_start(&vv, vm, NULL), -CV_EBADSTATE);
	assert_int_equal(vmm_destroy(NULL, 0), 0);
	assert_int_equal(vm_shutdown(vm, NULL), 0);
	assert_int_equal(vm_mark_stopped(vm), 0);
	vm_destroy(vm);
}

/* A host shutdown of a VM whose vCPU is busy in guest mode: kicked out. */
static void test_host_shutdown_running(void **state)
{
	struct vm *vm = new_vm(1);
	struct vmm_result res;
	struct vmm_vm *vv;

	(void)state;
	assert_true(fake_script_wait_kick(arch_of(vm, 0), &(struct vcpu_exit){.kind = VCPU_EXIT_NOTHING}));
	assert_int_equal(vmm_start(&vv, vm, NULL), 0);
	sleep_ms(5);
	assert_int_equal(vmm_destroy(vv, SEC), 0);
	vm_get_stop_reason(vm, &res.reason);
	assert_int_equal(res.reason.kind, VM_STOP_HOST);
	assert_int_equal(vm_status(vm), VM_STATUS_STOPPED);
	vm_destroy(vm);
}

static bool v0_out_of_guest(void *p)
{
	struct vm *vm = p;

	return vcpu_state(vm_vcpu(vm, 0)) == VCPU_STATE_FREE && vcpu_state(vm_vcpu(vm, 1)) == VCPU_STATE_BLOCKED;
}

static bool v0_in_guest(void *p)
{
	struct vm *vm = p;

	return vcpu_state(vm_vcpu(vm, 0)) == VCPU_STATE_RUNNING && vcpu_state(vm_vcpu(vm, 1)) == VCPU_STATE_BLOCKED;
}

/* Suspend takes the running vCPU out of guest mode and keeps it out; resume goes on. */
static void test_suspend_resume(void **state)
{
	struct vm *vm = new_vm(2);
	struct vmm_result res;
	struct vmm_vm *vv;

	(void)state;
	script(vm, 0, cpu_up(1, 0x2000, 0));
	assert_true(fake_script_wait_kick(arch_of(vm, 0), &(struct vcpu_exit){.kind = VCPU_EXIT_NOTHING}));
	script(vm, 0, hc(CV_HC_TEST_SUM));
	script(vm, 0, down(SYSTEM_DOWN_OFF));
	script(vm, 1, simple(VCPU_EXIT_HALT));
	assert_int_equal(vmm_start(&vv, vm, NULL), 0);
	atomic_store(&cur_vv, vv);
	assert_true(eventually(v0_in_guest, vm));
	assert_int_equal(vm_suspend(vm), 0);
	assert_true(eventually(v0_out_of_guest, vm));
	sleep_ms(10);
	assert_int_equal(vm_status(vm), VM_STATUS_SUSPENDED);
	assert_int_equal(vm_exit_count(vm, 0, VCPU_EXIT_HYPERCALL), 0);
	assert_int_equal(vmm_vcpu_power(vv, 1), VMM_VCPU_HALTED); /* still parked */
	assert_int_equal(vm_resume(vm), 0);
	assert_int_equal(vmm_wait(vv, 5 * SEC, &res), 0);
	assert_int_equal(res.reason.kind, VM_STOP_POWER_OFF);
	assert_int_equal(vm_exit_count(vm, 0, VCPU_EXIT_HYPERCALL), 1);
	assert_int_equal(vmm_destroy(vv, SEC), 0);
	atomic_store(&cur_vv, NULL);
	vm_destroy(vm);
}

/* 200 VMs created, run (CPU_ON, barrier, power-off) and destroyed: ASan sees any leak. */
static void test_many_vms(void **state)
{
	uint64_t t0 = hal_now_ns();

	(void)state;
	for (unsigned i = 0; i < 200; i++) {
		struct vm *vm = new_vm(2);
		struct vmm_result res;

		script(vm, 0, cpu_up(1, 0x2000, i));
		script(vm, 0, hc(CV_HC_BARRIER));
		script(vm, 0, down(SYSTEM_DOWN_OFF));
		script(vm, 1, hc(CV_HC_BARRIER));
		res = run_vm(vm, NULL);
		assert_int_equal(res.reason.kind, VM_STOP_POWER_OFF);
		assert_int_equal(arch_of(vm, 1)->gprs[0], i);
		vm_destroy(vm);
	}
	print_message("# 200 VMs in %llu ms\n", (unsigned long long)((hal_now_ns() - t0) / 1000000));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_system_down),
	    cmocka_unit_test(test_fail_entry),
	    cmocka_unit_test(test_arch_error),
	    cmocka_unit_test(test_hypercalls),
	    cmocka_unit_test(test_cpu_on),
	    cmocka_unit_test(test_cpu_on_bad_entry),
	    cmocka_unit_test(test_cpu_off_then_on),
	    cmocka_unit_test(test_barrier_opened_by_cpu_off),
	    cmocka_unit_test(test_interrupt_wakes_halted),
	    cmocka_unit_test(test_shutdown_parked),
	    cmocka_unit_test(test_other_exits),
	    cmocka_unit_test(test_unmapped_stop_under_vmm),
	    cmocka_unit_test(test_unmapped_abort_no_hook),
	    cmocka_unit_test(test_stuck_vcpu),
	    cmocka_unit_test(test_start_errors),
	    cmocka_unit_test(test_host_shutdown_running),
	    cmocka_unit_test(test_suspend_resume),
	    cmocka_unit_test(test_many_vms),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
