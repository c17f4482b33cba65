/* SPDX-License-Identifier: MIT */
/*
 * Stress tests of core/vmm.c and core/vm.c on the fake arch with real HAL tasks: every
 * vCPU runs a random guest program (HALT, CPU_OFF, CPU_ON of any target, barriers,
 * IPIs, spinning until kicked, power-off) while the host injects interrupts, suspends
 * and resumes, and then stops the VM at a random moment. Whatever the interleaving, the
 * VM must stop within a bound, every task must leave and every vCPU end FREE. Bounded in
 * time (each test stops starting iterations after a budget); TSan (the fake-tsan build)
 * checks the locking.
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

#define MS  1000000ull
#define SEC 1000000000ull
/* Time each stress test may spend starting new iterations. */
#define BUDGET_NS (600 * MS)
#define MAX_CPUS  4
/* VMs each stress test runs even when the budget is spent (a loaded host). */
#define MIN_VMS 5
/*
 * How long a stop may take before the test calls the VM stuck. A stop takes well under
 * 10 ms on a quiet host and has taken over 100 ms under TSan on a loaded one; a VM that
 * is really stuck never stops, so a generous bound costs nothing when all is well.
 */
#define STOP_BOUND_NS (10 * SEC)

static uint64_t xorshift(uint64_t *s)
{
	uint64_t x = *s;

	x ^= x << 13;
	x ^= x >> 7;
	x ^= x << 17;
	return *s = x;
}

static void sleep_us(unsigned us)
{
	struct timespec ts = {0, (long)us * 1000L};

	nanosleep(&ts, NULL);
}

/* A vCPU's random program: what arch_vcpu_run returns once its script is used up. */
struct prog {
	uint64_t rng;
	unsigned ncpus;
	unsigned power_off_pct; /* chance (per mille) of SYSTEM_OFF per exit */
	bool never_parks;	/* no HALT, CPU_OFF or barrier: it stays on to power the VM off */
	struct vm *vm;
};

/* Kicks the VM owed a spinning vCPU and never sent (a stop or suspend it did not see). */
static _Atomic unsigned lost_kicks;

static bool take_kick(struct vcpu_arch *arch)
{
	return __atomic_exchange_n(&arch->kick_pending, 0, __ATOMIC_SEQ_CST);
}

/*
 * A guest spinning in guest mode until something kicks it out (bounded: 20 ms). A VM
 * that has left RUNNING owes it a kick (DESIGN.md: state, then kick): if none comes
 * within 5 s more (the host thread that changed the state may wait for a CPU on a
 * loaded host, but not for seconds), the kick was lost.
 */
static void spin_until_kicked(struct prog *p, struct vcpu_arch *arch)
{
	for (unsigned i = 0; i < 200; i++) {
		if (take_kick(arch))
			return;
		sleep_us(100);
	}
	if (vm_status(p->vm) == VM_STATUS_RUNNING)
		return;
	for (unsigned i = 0; i < 5000; i++) {
		if (take_kick(arch))
			return;
		sleep_us(1000);
	}
	atomic_fetch_add(&lost_kicks, 1);
}

static uint64_t random_target(struct prog *p)
{
	uint64_t r = xorshift(&p->rng) % 8;

	switch (r) {
	case 0:
		return 0x10; /* Aff0 = 16: names no vCPU */
	case 1:
		return 0x10000; /* Aff2 set */
	case 2:
		return 0xff00000000ull | 1; /* Aff3 set */
	default:
		return xorshift(&p->rng) % (p->ncpus + 1); /* one past the last included */
	}
}

static int random_run(struct vcpu_arch *arch, struct vcpu_exit *exit, void *ctx)
{
	struct prog *p = ctx;
	unsigned r = (unsigned)(xorshift(&p->rng) % 1000);

	memset(exit, 0, sizeof(*exit));
	if (r < p->power_off_pct) {
		exit->kind = VCPU_EXIT_SYSTEM_DOWN;
		exit->system_down.reason = SYSTEM_DOWN_OFF;
		return 0;
	}
	r = (unsigned)(xorshift(&p->rng) % 100);
	if (p->never_parks && r >= 25 && r < 53)
		r = 0;
	if (r < 25) {
		exit->kind = VCPU_EXIT_NOTHING;
	} else if (r < 37) {
		exit->kind = VCPU_EXIT_HALT;
	} else if (r < 47) {
		exit->kind = VCPU_EXIT_HYPERCALL;
		exit->hypercall.nr = CV_HC_BARRIER;
	} else if (r < 53) {
		exit->kind = VCPU_EXIT_CPU_DOWN;
	} else if (r < 68) {
		exit->kind = VCPU_EXIT_CPU_UP;
		exit->cpu_up.target_cpu = random_target(p);
		exit->cpu_up.entry_point = gpa(0x2000);
		exit->cpu_up.arg = p->rng;
	} else if (r < 78) {
		exit->kind = VCPU_EXIT_SEND_IPI;
		exit->send_ipi.target_cpu = random_target(p);
		exit->send_ipi.send_to_all = xorshift(&p->rng) % 4 == 0;
		exit->send_ipi.send_to_self = xorshift(&p->rng) % 4 == 0;
		exit->send_ipi.vector = 32 + xorshift(&p->rng) % 32;
	} else if (r < 84) {
		exit->kind = VCPU_EXIT_HYPERCALL;
		exit->hypercall.nr = PSCI_AFFINITY_INFO;
		exit->hypercall.args[0] = random_target(p);
	} else if (r < 90) {
		spin_until_kicked(p, arch);
		exit->kind = VCPU_EXIT_NOTHING;
	} else {
		exit->kind = VCPU_EXIT_HYPERCALL;
		exit->hypercall.nr = CV_HC_TEST_SUM;
	}
	return 0;
}

static struct vm *new_vm(unsigned ncpus, unsigned id)
{
	struct vm_config cfg;
	struct vm *vm = NULL;

	memset(&cfg, 0, sizeof(cfg));
	cfg.id = id;
	strcpy(cfg.name, "stress");
	cfg.cpu_num = ncpus;
	cfg.nregions = 1;
	cfg.regions[0] = (struct vm_mem_region){.gpa = 0, .size = 0x10000};
	cfg.unmapped_access = UNMAPPED_IGNORE;
	assert_int_equal(vm_create(&vm, &cfg), 0);
	return vm;
}

struct stress_opts {
	unsigned power_off_pct; /* per mille, per exit */
	bool host_injects;	/* the host injects interrupts while the VM runs */
	bool host_suspends;	/* the host suspends and resumes it */
	bool host_stops;	/* the host stops it after a random delay (else the guest must) */
};

/* One VM: random programs, random host activity, then a bounded stop. */
static void stress_once(uint64_t seed, const struct stress_opts *o, uint64_t *worst_stop_ns, unsigned *powered_off)
{
	struct prog progs[MAX_CPUS];
	uint64_t rng = seed * 0x9E3779B97F4A7C15ull + 1;
	unsigned ncpus = 2 + (unsigned)(xorshift(&rng) % (MAX_CPUS - 1));
	struct vm *vm = new_vm(ncpus, (unsigned)(seed % 1000));
	struct vmm_result res;
	struct vmm_vm *vv;
	uint64_t t0, until, dt;
	int ret;

	for (unsigned i = 0; i < ncpus; i++) {
		progs[i] = (struct prog){.rng = rng ^ (0x1234567ull * (i + 1)),
					 .ncpus = ncpus,
					 .power_off_pct = i == 0 || o->host_stops ? o->power_off_pct : 0,
					 .never_parks = i == 0 && !o->host_stops,
					 .vm = vm};
		fake_set_run_fn(&vm_vcpu(vm, i)->arch, random_run, &progs[i]);
	}
	assert_int_equal(vmm_start(&vv, vm, NULL), 0);
	until = hal_now_ns() + (xorshift(&rng) % 3000) * 1000;
	while (hal_now_ns() < until) {
		unsigned r = (unsigned)(xorshift(&rng) % 10);

		if (o->host_injects && r < 6)
			vm_inject_interrupt(vm, (uint32_t)(xorshift(&rng) % ncpus),
					    32 + (uint32_t)(xorshift(&rng) % 32));
		if (o->host_suspends && r == 9 && vm_suspend(vm) == 0) {
			sleep_us(50);
			vm_resume(vm);
		}
		sleep_us(50);
	}
	t0 = hal_now_ns();
	if (o->host_stops) {
		assert_int_equal(vmm_shutdown(vv), 0);
		ret = vmm_wait(vv, STOP_BOUND_NS, &res);
	} else {
		/*
		 * vCPU 0 never parks, so the guest powers itself off, well within a second
		 * (interrupts keep waking halted vCPUs meanwhile); else the host stops it.
		 */
		for (unsigned i = 0; i < 1000; i++) {
			ret = vmm_wait(vv, MS, &res);
			if (ret != -CV_ETIMEDOUT)
				break;
			vm_inject_interrupt(vm, (uint32_t)(xorshift(&rng) % ncpus), 32);
		}
		if (ret == -CV_ETIMEDOUT) {
			assert_int_equal(vmm_shutdown(vv), 0);
			ret = vmm_wait(vv, STOP_BOUND_NS, &res);
		}
		if (res.reason.kind == VM_STOP_POWER_OFF)
			(*powered_off)++;
	}
	dt = hal_now_ns() - t0;
	if (ret < 0 || res.stuck)
		print_message("# seed %llu: %u vCPUs, stop %s, stuck mask %#llx, reason %s\n", (unsigned long long)seed,
			      ncpus, cv_strerror(ret), (unsigned long long)res.stuck_mask,
			      vm_stop_kind_name(res.reason.kind));
	assert_int_equal(ret, 0);
	assert_int_equal(res.stuck, 0);
	if (res.reason.kind != VM_STOP_POWER_OFF && res.reason.kind != VM_STOP_HOST)
		print_message("# seed %llu: stopped %s: %s\n", (unsigned long long)seed,
			      vm_stop_kind_name(res.reason.kind), cv_strerror(res.reason.error));
	assert_true(res.reason.kind == VM_STOP_POWER_OFF || res.reason.kind == VM_STOP_HOST);
	assert_int_equal(vm_status(vm), VM_STATUS_STOPPED);
	assert_int_equal(atomic_load(&lost_kicks), 0);
	assert_int_equal(vmm_destroy(vv, STOP_BOUND_NS), 0);
	for (unsigned i = 0; i < ncpus; i++)
		assert_int_equal(vcpu_state(vm_vcpu(vm, i)), VCPU_STATE_FREE);
	if (o->host_stops && dt > *worst_stop_ns)
		*worst_stop_ns = dt;
	vm_destroy(vm);
}

static void run_stress(const char *name, const struct stress_opts *o, uint64_t seed0)
{
	uint64_t t0 = hal_now_ns(), worst = 0;
	unsigned n = 0, powered_off = 0;

	/*
	 * At least MIN_VMS whatever the time takes: under TSan on a loaded host a VM may take
	 * 200 ms, and a time budget alone once ended a test after 4 VMs (then "n >= 5" failed).
	 */
	while ((hal_now_ns() - t0 < BUDGET_NS && n < 400) || n < MIN_VMS)
		stress_once(seed0 + n++, o, &worst, &powered_off);
	print_message("# %s: %u VMs in %llu ms (%u powered off by a vCPU), slowest host stop %llu us\n", name, n,
		      (unsigned long long)((hal_now_ns() - t0) / MS), powered_off, (unsigned long long)(worst / 1000));
	if (!o->host_stops)
		assert_true(powered_off > 0);
}

/* The host stops the VM while its vCPUs halt, go off, wait in barriers, start each other. */
static void test_stress_host_stop(void **state)
{
	const struct stress_opts o = {.power_off_pct = 0, .host_injects = true, .host_stops = true};

	(void)state;
	run_stress("host stop", &o, 1);
}

/*
 * vCPU 0 (which stays on) powers the VM off while the others are halted, off, in a
 * barrier, spinning, or being started by CPU_ON.
 */
static void test_stress_guest_power_off(void **state)
{
	const struct stress_opts o = {.power_off_pct = 20, .host_injects = true};

	(void)state;
	run_stress("guest power-off", &o, 10000);
}

/* Suspend and resume racing with everything else. */
static void test_stress_suspend(void **state)
{
	const struct stress_opts o = {
	    .power_off_pct = 5, .host_injects = true, .host_suspends = true, .host_stops = true};

	(void)state;
	run_stress("suspend/resume", &o, 20000);
}

/*
 * Liveness: a guest that always makes progress must finish. vCPU 0 runs rounds: it
 * waits (AFFINITY_INFO) until every other vCPU is off, starts each with CPU_ON, meets
 * them at a barrier and sends them an IPI. Each other vCPU, once started, either goes
 * off at once (so the barrier must open without it) or meets the barrier, halts until
 * the IPI has come and goes off. A lost CPU_ON wake-up, barrier opening or IPI wake-up hangs the
 * guest, and the bounded wait fails.
 */
#define LIVE_ROUNDS 25

struct live {
	uint64_t rng;
	unsigned ncpus;
	unsigned round, target, step;
	unsigned seen;		 /* interrupts injected when the worker met the barrier */
	_Atomic unsigned errors; /* a CPU_ON that did not answer SUCCESS */
};

static struct vcpu_exit live_hc(uint64_t nr, uint64_t a0)
{
	return (struct vcpu_exit){.kind = VCPU_EXIT_HYPERCALL, .hypercall = {.nr = nr, .args = {a0}}};
}

/* vCPU 0's rounds: poll OFF, CPU_ON, (next target) ..., barrier, IPI, (next round). */
static int live_boss(struct vcpu_arch *arch, struct vcpu_exit *exit, void *ctx)
{
	struct live *l = ctx;

	memset(exit, 0, sizeof(*exit));
	for (;;) {
		switch (l->step) {
		case 0: /* poll until the target is off */
			if (l->target == 0)
				l->target = 1;
			if (l->target == l->ncpus) {
				l->step = 3;
				continue;
			}
			*exit = live_hc(PSCI_AFFINITY_INFO, l->target);
			l->step = 1;
			return 0;
		case 1: /* the answer to AFFINITY_INFO */
			if (arch->return_value != PSCI_AFFINITY_OFF) {
				l->step = 0;
				continue;
			}
			exit->kind = VCPU_EXIT_CPU_UP;
			exit->cpu_up.target_cpu = l->target;
			exit->cpu_up.entry_point = gpa(0x2000);
			exit->cpu_up.arg = l->round;
			l->step = 2;
			return 0;
		case 2: /* the answer to CPU_ON */
			if (arch->return_value != PSCI_RET_SUCCESS)
				atomic_fetch_add(&l->errors, 1);
			l->target++;
			l->step = 0;
			continue;
		case 3:
			*exit = live_hc(CV_HC_BARRIER, 0);
			l->step = 4;
			return 0;
		case 4:
			exit->kind = VCPU_EXIT_SEND_IPI;
			exit->send_ipi.send_to_all = true;
			exit->send_ipi.vector = 33;
			l->target = 0;
			l->step = 0;
			if (++l->round == LIVE_ROUNDS)
				l->step = 5;
			return 0;
		default:
			exit->kind = VCPU_EXIT_SYSTEM_DOWN;
			exit->system_down.reason = SYSTEM_DOWN_OFF;
			return 0;
		}
	}
}

/*
 * Another vCPU, each time it is started: [CPU_OFF] or [barrier, HALT until the IPI,
 * CPU_OFF]. Like a real guest it halts only while the IPI has not come (it may come, and
 * be injected, before the HALT); an IPI sent while it was off is injected at its next
 * start, before the barrier, and does not count.
 */
static int live_worker(struct vcpu_arch *arch, struct vcpu_exit *exit, void *ctx)
{
	struct live *l = ctx;

	memset(exit, 0, sizeof(*exit));
	if (l->step == 0 && xorshift(&l->rng) % 3 == 0)
		l->step = 2;
	switch (l->step) {
	case 0:
		*exit = live_hc(CV_HC_BARRIER, 0);
		l->seen = arch->ninjected;
		l->step = 1;
		break;
	case 1:
		if (arch->ninjected == l->seen) {
			exit->kind = VCPU_EXIT_HALT;
			break;
		}
		exit->kind = VCPU_EXIT_CPU_DOWN; /* the IPI came */
		l->step = 0;
		break;
	default:
		exit->kind = VCPU_EXIT_CPU_DOWN;
		l->step = 0; /* the next call comes after the next CPU_ON */
		break;
	}
	return 0;
}

static void test_stress_liveness(void **state)
{
	uint64_t t0 = hal_now_ns();
	unsigned n = 0;

	(void)state;
	while ((hal_now_ns() - t0 < BUDGET_NS && n < 50) || n < 3) {
		unsigned ncpus = 2 + n % (MAX_CPUS - 1);
		struct vm *vm = new_vm(ncpus, 100 + n);
		struct live lv[MAX_CPUS];
		struct vmm_result res;
		struct vmm_vm *vv;
		int ret;

		memset(lv, 0, sizeof(lv));
		for (unsigned i = 0; i < ncpus; i++) {
			lv[i].rng = 0x5DEECE66Dull * (n + 1) + i;
			lv[i].ncpus = ncpus;
			fake_set_run_fn(&vm_vcpu(vm, i)->arch, i ? live_worker : live_boss, &lv[i]);
		}
		assert_int_equal(vmm_start(&vv, vm, NULL), 0);
		ret = vmm_wait(vv, 5 * SEC, &res);
		if (ret < 0)
			print_message("# VM %u (%u vCPUs) hung in round %u (vCPU 0 step %u, target %u)\n", n, ncpus,
				      lv[0].round, lv[0].step, lv[0].target);
		assert_int_equal(ret, 0);
		assert_int_equal(res.reason.kind, VM_STOP_POWER_OFF);
		assert_int_equal(atomic_load(&lv[0].errors), 0);
		assert_int_equal(lv[0].round, LIVE_ROUNDS);
		assert_int_equal(vmm_destroy(vv, SEC), 0);
		vm_destroy(vm);
		n++;
	}
	print_message("# liveness: %u VMs of %u rounds in %llu ms\n", n, LIVE_ROUNDS,
		      (unsigned long long)((hal_now_ns() - t0) / MS));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_stress_host_stop),
	    cmocka_unit_test(test_stress_guest_power_off),
	    cmocka_unit_test(test_stress_suspend),
	    cmocka_unit_test(test_stress_liveness),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
