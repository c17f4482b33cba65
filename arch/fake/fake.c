/* SPDX-License-Identifier: MIT */
/*
 * The scripted fake backend for host unit tests of core/. When a vCPU's script is empty,
 * arch_vcpu_run returns HALT, so a test that forgets a step sees a parked vCPU, not a
 * busy loop.
 */
#define _GNU_SOURCE
#include <pthread.h>
#include <string.h>
#include <time.h>

#include <cvisor/arch.h>
#include <cvisor/errors.h>
#include <cvisor/vcpu.h>

#define FAKE_LOG_MAX 4096

static pthread_mutex_t log_lock = PTHREAD_MUTEX_INITIALIZER;
static struct fake_call call_log[FAKE_LOG_MAX];
static unsigned call_log_len;
static int fail_create;
static int fail_vm_create;
static int fail_vm_map;

static const char *const op_names[FAKE_OP_COUNT] = {
    [FAKE_OP_CREATE] = "create",
    [FAKE_OP_SET_ENTRY] = "set_entry",
    [FAKE_OP_SET_EPT_ROOT] = "set_ept_root",
    [FAKE_OP_SETUP] = "setup",
    [FAKE_OP_BIND] = "bind",
    [FAKE_OP_UNBIND] = "unbind",
    [FAKE_OP_RUN] = "run",
    [FAKE_OP_SET_GPR] = "set_gpr",
    [FAKE_OP_INJECT] = "inject_interrupt",
    [FAKE_OP_SET_RETURN] = "set_return_value",
    [FAKE_OP_KICK] = "kick",
    [FAKE_OP_DESTROY] = "destroy",
};

const char *fake_op_name(enum fake_op op)
{
	return (unsigned)op < FAKE_OP_COUNT ? op_names[op] : "?";
}

static void log_call(enum fake_op op, uint32_t vcpu_id)
{
	pthread_mutex_lock(&log_lock);
	if (call_log_len < FAKE_LOG_MAX)
		call_log[call_log_len++] = (struct fake_call){op, vcpu_id};
	pthread_mutex_unlock(&log_lock);
}

void fake_log_reset(void)
{
	pthread_mutex_lock(&log_lock);
	call_log_len = 0;
	pthread_mutex_unlock(&log_lock);
}

unsigned fake_log_len(void)
{
	unsigned n;

	pthread_mutex_lock(&log_lock);
	n = call_log_len;
	pthread_mutex_unlock(&log_lock);
	return n;
}

struct fake_call fake_log_at(unsigned i)
{
	struct fake_call c = {FAKE_OP_COUNT, 0};

	pthread_mutex_lock(&log_lock);
	if (i < call_log_len)
		c = call_log[i];
	pthread_mutex_unlock(&log_lock);
	return c;
}

/* Logs the call and returns the injected failure for it, consuming it. */
static int enter(struct vcpu_arch *arch, enum fake_op op)
{
	int err = arch->fail[op];

	arch->fail[op] = 0;
	arch->current_seen[op] = vcpu_current();
	log_call(op, arch->vcpu_id);
	return err;
}

bool fake_script_exit(struct vcpu_arch *arch, const struct vcpu_exit *exit)
{
	if (arch->script_len >= FAKE_SCRIPT_MAX)
		return false;
	arch->script[arch->script_len].err = 0;
	arch->script[arch->script_len].wait_kick = false;
	arch->script[arch->script_len].exit = *exit;
	arch->script_len++;
	return true;
}

bool fake_script_error(struct vcpu_arch *arch, int err)
{
	if (arch->script_len >= FAKE_SCRIPT_MAX)
		return false;
	memset(&arch->script[arch->script_len], 0, sizeof(arch->script[0]));
	arch->script[arch->script_len].err = err;
	arch->script_len++;
	return true;
}

void fake_fail_next(struct vcpu_arch *arch, enum fake_op op, int err)
{
	if ((unsigned)op < FAKE_OP_COUNT)
		arch->fail[op] = err;
}

void fake_fail_next_create(int err)
{
	fail_create = err;
}

void fake_fail_next_vm_create(int err)
{
	fail_vm_create = err;
}

void fake_fail_next_vm_map(int err)
{
	fail_vm_map = err;
}

bool fake_script_wait_kick(struct vcpu_arch *arch, const struct vcpu_exit *exit)
{
	if (!fake_script_exit(arch, exit))
		return false;
	arch->script[arch->script_len - 1].wait_kick = true;
	return true;
}

void fake_set_run_fn(struct vcpu_arch *arch, fake_run_fn fn, void *ctx)
{
	arch->run_fn = fn;
	arch->run_ctx = ctx;
}

unsigned fake_kicks(const struct vcpu_arch *arch)
{
	return __atomic_load_n(&arch->nkicks, __ATOMIC_SEQ_CST);
}

/* Polls for a kick, as a guest in guest mode would be forced out by one. */
static int wait_for_kick(struct vcpu_arch *arch)
{
	struct timespec ts = {0, 100 * 1000};

	for (unsigned i = 0; i < 100000; i++) {
		if (__atomic_exchange_n(&arch->kick_pending, 0, __ATOMIC_SEQ_CST))
			return 0;
		nanosleep(&ts, NULL);
	}
	return -CV_ETIMEDOUT;
}

int arch_vm_create(struct vm_arch *vm, uint32_t vm_id)
{
	int err = fail_vm_create;

	fail_vm_create = 0;
	memset(vm, 0, sizeof(*vm));
	if (err)
		return err;
	vm->vm_id = vm_id;
	vm->created = true;
	return 0;
}

int arch_vm_map(struct vm_arch *vm, gpa_t gpa, void *host, uint64_t size, uint32_t flags)
{
	int err = fail_vm_map;

	fail_vm_map = 0;
	if (err)
		return err;
	if (!vm->created || !host || size == 0)
		return -CV_EINVAL;
	if (vm->nmaps < FAKE_MAX_MAPS)
		vm->maps[vm->nmaps] = (struct fake_map){gpa, host, size, flags};
	vm->nmaps++;
	return 0;
}

hpa_t arch_vm_ept_root(const struct vm_arch *vm)
{
	return hpa(0x1000ull * (vm->vm_id + 1));
}

void arch_vm_destroy(struct vm_arch *vm)
{
	vm->created = false;
}

int arch_vcpu_create(struct vcpu_arch *arch, uint32_t vm_id, uint32_t vcpu_id, const struct arch_vcpu_create_cfg *cfg)
{
	int err = fail_create;

	fail_create = 0;
	memset(arch, 0, sizeof(*arch));
	arch->vm = cfg->vm;
	arch->vm_id = vm_id;
	arch->vcpu_id = vcpu_id;
	arch->boot_arg = cfg->boot_arg;
	arch->current_seen[FAKE_OP_CREATE] = vcpu_current();
	log_call(FAKE_OP_CREATE, vcpu_id);
	return err;
}

int arch_vcpu_set_entry(struct vcpu_arch *arch, gpa_t entry)
{
	int err = enter(arch, FAKE_OP_SET_ENTRY);

	if (err)
		return err;
	arch->entry = entry;
	return 0;
}

int arch_vcpu_set_ept_root(struct vcpu_arch *arch, hpa_t root)
{
	int err = enter(arch, FAKE_OP_SET_EPT_ROOT);

	if (err)
		return err;
	arch->ept_root = root;
	return 0;
}

int arch_vcpu_setup(struct vcpu_arch *arch, const struct arch_vcpu_setup_cfg *cfg)
{
	int err = enter(arch, FAKE_OP_SETUP);

	(void)cfg;
	if (err)
		return err;
	arch->setup_done = true;
	return 0;
}

int arch_vcpu_bind(struct vcpu_arch *arch)
{
	int err = enter(arch, FAKE_OP_BIND);

	if (err)
		return err;
	arch->bound = true;
	return 0;
}

int arch_vcpu_unbind(struct vcpu_arch *arch)
{
	int err = enter(arch, FAKE_OP_UNBIND);

	if (err)
		return err;
	arch->bound = false;
	return 0;
}

int arch_vcpu_run(struct vcpu_arch *arch, struct vcpu_exit *exit)
{
	int err = enter(arch, FAKE_OP_RUN);
	struct fake_step *step;

	if (err)
		return err;
	if (arch->script_head == arch->script_len) {
		if (arch->run_fn)
			return arch->run_fn(arch, exit, arch->run_ctx);
		memset(exit, 0, sizeof(*exit));
		exit->kind = VCPU_EXIT_HALT;
		return 0;
	}
	step = &arch->script[arch->script_head++];
	if (step->err)
		return step->err;
	if (step->wait_kick) {
		err = wait_for_kick(arch);
		if (err)
			return err;
	}
	*exit = step->exit;
	return 0;
}

int arch_vcpu_set_gpr(struct vcpu_arch *arch, unsigned reg, uint64_t val)
{
	int err = enter(arch, FAKE_OP_SET_GPR);

	if (err)
		return err;
	if (reg >= FAKE_NGPRS)
		return -CV_ERANGE;
	arch->gprs[reg] = val;
	return 0;
}

int arch_vcpu_inject_interrupt(struct vcpu_arch *arch, uint32_t vector)
{
	int err = enter(arch, FAKE_OP_INJECT);

	if (err)
		return err;
	if (vector > 255)
		return -CV_ERANGE;
	arch->injected[vector / 64] |= 1ull << (vector % 64);
	arch->ninjected++;
	return 0;
}

int arch_vcpu_set_return_value(struct vcpu_arch *arch, uint64_t val)
{
	int err = enter(arch, FAKE_OP_SET_RETURN);

	if (err)
		return err;
	arch->return_value = val;
	if (arch->nreturns < FAKE_SCRIPT_MAX)
		arch->returns[arch->nreturns++] = val;
	return 0;
}

void arch_vcpu_kick(struct vcpu_arch *arch)
{
	__atomic_fetch_add(&arch->nkicks, 1, __ATOMIC_SEQ_CST);
	__atomic_store_n(&arch->kick_pending, 1, __ATOMIC_SEQ_CST);
	log_call(FAKE_OP_KICK, arch->vcpu_id);
}

void arch_vcpu_destroy(struct vcpu_arch *arch)
{
	log_call(FAKE_OP_DESTROY, arch->vcpu_id);
}

int arch_percpu_hardware_enable(unsigned cpu)
{
	(void)cpu;
	return 0;
}

void arch_percpu_hardware_disable(unsigned cpu)
{
	(void)cpu;
}
