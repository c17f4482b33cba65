/* SPDX-License-Identifier: MIT */
/*
 * The vCPU state machine of seed 000 (axvcpu src/vcpu.rs).
 *
 * Concurrency: a vCPU is operated on by one task at a time (its own vCPU task, or the
 * VMM before that task exists); the state word is atomic so that other threads may read
 * it and so that a racing or out-of-order operation is caught, not silently accepted.
 * The compare-exchange is done after the callback, so that a vCPU is seen RUNNING for
 * the whole of arch_vcpu_run and READY only once it has returned.
 */
#include <cvisor/arch.h>
#include <cvisor/check.h>
#include <cvisor/errors.h>
#include <cvisor/hal.h>
#include <cvisor/vcpu.h>

int vcpu_create(struct vcpu **out, uint32_t vm_id, uint32_t vcpu_id, uint32_t favor_phys_cpu,
		uint64_t phys_cpu_set, const struct arch_vcpu_create_cfg *cfg)
{
	struct vcpu *vcpu;
	int ret;

	if (!out || !cfg)
		return -CV_EINVAL;
	vcpu = hal_alloc(sizeof(*vcpu));
	if (!vcpu)
		return -CV_ENOMEM;
	vcpu->id = vcpu_id;
	vcpu->vm_id = vm_id;
	vcpu->favor_phys_cpu = favor_phys_cpu;
	vcpu->phys_cpu_set = phys_cpu_set;
	atomic_init(&vcpu->refs, 1);
	atomic_init(&vcpu->state, VCPU_STATE_INVALID);

	/* The backend may look at the current vCPU while creating its state. */
	vcpu_set_current(vcpu);
	ret = arch_vcpu_create(&vcpu->arch, vm_id, vcpu_id, cfg);
	vcpu_clear_current();
	if (ret < 0) {
		arch_vcpu_destroy(&vcpu->arch);
		hal_free(vcpu);
		return ret;
	}
	atomic_store(&vcpu->state, VCPU_STATE_CREATED);
	*out = vcpu;
	return 0;
}

int vcpu_with_state_transition(struct vcpu *vcpu, enum vcpu_state from, enum vcpu_state to, vcpu_fn fn,
			       void *ctx)
{
	int expected = (int)from;
	int ret;

	/* INVALID is terminal: nothing transitions out of it. */
	if (from == VCPU_STATE_INVALID || atomic_load(&vcpu->state) != expected) {
		atomic_store(&vcpu->state, VCPU_STATE_INVALID);
		return -CV_EBADSTATE;
	}
	if (fn) {
		ret = fn(vcpu, ctx);
		if (ret < 0) {
			atomic_store(&vcpu->state, VCPU_STATE_INVALID);
			return ret;
		}
	}
	if (!atomic_compare_exchange_strong(&vcpu->state, &expected, (int)to)) {
		atomic_store(&vcpu->state, VCPU_STATE_INVALID);
		return -CV_EBADSTATE;
	}
	return 0;
}

int vcpu_transition_state(struct vcpu *vcpu, enum vcpu_state from, enum vcpu_state to)
{
	return vcpu_with_state_transition(vcpu, from, to, NULL, NULL);
}

struct arch_call {
	vcpu_arch_fn fn;
	void *ctx;
};

static int call_arch(struct vcpu *vcpu, void *ctx)
{
	struct arch_call *call = ctx;

	return call->fn(&vcpu->arch, call->ctx);
}

static int call_arch_with_current(struct vcpu *vcpu, void *ctx)
{
	return vcpu_with_current_set(vcpu, call_arch, ctx);
}

int vcpu_manipulate_arch(struct vcpu *vcpu, enum vcpu_state from, enum vcpu_state to, vcpu_arch_fn fn,
			 void *ctx)
{
	struct arch_call call = { fn, ctx };

	return vcpu_with_state_transition(vcpu, from, to, call_arch_with_current, &call);
}

struct setup_args {
	gpa_t entry;
	hpa_t ept_root;
	const struct arch_vcpu_setup_cfg *cfg;
};

/* The seed's order: set_entry, set_ept_root, then setup. */
static int do_setup(struct vcpu_arch *arch, void *ctx)
{
	struct setup_args *a = ctx;
	int ret;

	ret = arch_vcpu_set_entry(arch, a->entry);
	if (ret < 0)
		return ret;
	ret = arch_vcpu_set_ept_root(arch, a->ept_root);
	if (ret < 0)
		return ret;
	return arch_vcpu_setup(arch, a->cfg);
}

int vcpu_setup(struct vcpu *vcpu, gpa_t entry, hpa_t ept_root, const struct arch_vcpu_setup_cfg *cfg)
{
	static const struct arch_vcpu_setup_cfg default_cfg;
	struct setup_args a = { entry, ept_root, cfg ? cfg : &default_cfg };

	return vcpu_manipulate_arch(vcpu, VCPU_STATE_CREATED, VCPU_STATE_FREE, do_setup, &a);
}

static int do_bind(struct vcpu_arch *arch, void *ctx)
{
	(void)ctx;
	return arch_vcpu_bind(arch);
}

static int do_unbind(struct vcpu_arch *arch, void *ctx)
{
	(void)ctx;
	return arch_vcpu_unbind(arch);
}

static int do_run(struct vcpu_arch *arch, void *ctx)
{
	return arch_vcpu_run(arch, ctx);
}

int vcpu_bind(struct vcpu *vcpu)
{
	return vcpu_manipulate_arch(vcpu, VCPU_STATE_FREE, VCPU_STATE_READY, do_bind, NULL);
}

int vcpu_unbind(struct vcpu *vcpu)
{
	return vcpu_manipulate_arch(vcpu, VCPU_STATE_READY, VCPU_STATE_FREE, do_unbind, NULL);
}

int vcpu_run(struct vcpu *vcpu, struct vcpu_exit *exit)
{
	int ret;

	if (!exit)
		return -CV_EINVAL;
	ret = vcpu_transition_state(vcpu, VCPU_STATE_READY, VCPU_STATE_RUNNING);
	if (ret < 0)
		return ret;
	return vcpu_manipulate_arch(vcpu, VCPU_STATE_RUNNING, VCPU_STATE_READY, do_run, exit);
}

int vcpu_block(struct vcpu *vcpu)
{
	return vcpu_transition_state(vcpu, VCPU_STATE_READY, VCPU_STATE_BLOCKED);
}

int vcpu_unblock(struct vcpu *vcpu)
{
	return vcpu_transition_state(vcpu, VCPU_STATE_BLOCKED, VCPU_STATE_READY);
}

uint32_t vcpu_id(const struct vcpu *vcpu)
{
	return vcpu->id;
}

uint32_t vcpu_vm_id(const struct vcpu *vcpu)
{
	return vcpu->vm_id;
}

uint32_t vcpu_favor_phys_cpu(const struct vcpu *vcpu)
{
	return vcpu->favor_phys_cpu;
}

uint64_t vcpu_phys_cpu_set(const struct vcpu *vcpu)
{
	return vcpu->phys_cpu_set;
}

/* The bootstrap processor is vCPU 0, as in the seed. */
bool vcpu_is_bsp(const struct vcpu *vcpu)
{
	return vcpu->id == 0;
}

enum vcpu_state vcpu_state(const struct vcpu *vcpu)
{
	return (enum vcpu_state)atomic_load(&((struct vcpu *)vcpu)->state);
}

const char *vcpu_state_name(enum vcpu_state state)
{
	switch (state) {
	case VCPU_STATE_INVALID:
		return "INVALID";
	case VCPU_STATE_CREATED:
		return "CREATED";
	case VCPU_STATE_FREE:
		return "FREE";
	case VCPU_STATE_READY:
		return "READY";
	case VCPU_STATE_RUNNING:
		return "RUNNING";
	case VCPU_STATE_BLOCKED:
		return "BLOCKED";
	default:
		return "UNKNOWN";
	}
}

/* Register writes make sense on a vCPU that exists and is not inside arch_vcpu_run. */
static bool arch_accessible(const struct vcpu *vcpu)
{
	enum vcpu_state s = vcpu_state(vcpu);

	return s != VCPU_STATE_INVALID && s != VCPU_STATE_RUNNING;
}

int vcpu_set_gpr(struct vcpu *vcpu, unsigned reg, uint64_t val)
{
	if (!arch_accessible(vcpu))
		return -CV_EBADSTATE;
	return arch_vcpu_set_gpr(&vcpu->arch, reg, val);
}

int vcpu_set_entry(struct vcpu *vcpu, gpa_t entry)
{
	if (!arch_accessible(vcpu))
		return -CV_EBADSTATE;
	return arch_vcpu_set_entry(&vcpu->arch, entry);
}

int vcpu_inject_interrupt(struct vcpu *vcpu, uint32_t vector)
{
	if (!arch_accessible(vcpu))
		return -CV_EBADSTATE;
	return arch_vcpu_inject_interrupt(&vcpu->arch, vector);
}

int vcpu_set_return_value(struct vcpu *vcpu, uint64_t val)
{
	if (!arch_accessible(vcpu))
		return -CV_EBADSTATE;
	return arch_vcpu_set_return_value(&vcpu->arch, val);
}

void vcpu_kick(struct vcpu *vcpu)
{
	arch_vcpu_kick(&vcpu->arch);
}

void vcpu_set_state_unchecked(struct vcpu *vcpu, enum vcpu_state state)
{
	atomic_store(&vcpu->state, (int)state);
}

struct vcpu *vcpu_get(struct vcpu *vcpu)
{
	uint32_t old = atomic_fetch_add(&vcpu->refs, 1);

	CV_BUG_ON(old == 0, "vcpu_get on a destroyed vCPU");
	return vcpu;
}

void vcpu_put(struct vcpu *vcpu)
{
	uint32_t old;

	if (!vcpu)
		return;
	old = atomic_fetch_sub(&vcpu->refs, 1);
	CV_BUG_ON(old == 0, "vcpu_put on a destroyed vCPU");
	if (old != 1)
		return;
	CV_BUG_ON(vcpu_current() == vcpu, "destroying the current vCPU");
	arch_vcpu_destroy(&vcpu->arch);
	hal_free(vcpu);
}

void vcpu_destroy(struct vcpu *vcpu)
{
	vcpu_put(vcpu);
}

struct vcpu *vcpu_current(void)
{
	return *hal_current_vcpu_slot();
}

void vcpu_set_current(struct vcpu *vcpu)
{
	struct vcpu **slot = hal_current_vcpu_slot();

	/* Two vCPUs operated on at once by one CPU would corrupt both (seed: panic). */
	CV_BUG_ON(*slot != NULL, "nested vCPU operation: the current vCPU is already set");
	*slot = vcpu;
}

void vcpu_clear_current(void)
{
	*hal_current_vcpu_slot() = NULL;
}

int vcpu_with_current_set(struct vcpu *vcpu, vcpu_fn fn, void *ctx)
{
	int ret;

	vcpu_set_current(vcpu);
	ret = fn(vcpu, ctx);
	vcpu_clear_current();
	return ret;
}
