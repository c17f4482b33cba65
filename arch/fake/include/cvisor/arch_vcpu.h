/* SPDX-License-Identifier: MIT */
/*
 * The fake backend's vCPU and VM state: a scripted test double for the unit tests of
 * core/. It runs no guest: arch_vcpu_run returns the next scripted exit or error.
 * Never a product backend.
 */
#ifndef CVISOR_ARCH_VCPU_H
#define CVISOR_ARCH_VCPU_H

#include <cvisor/arch.h>
#include <cvisor/exit.h>
#include <cvisor/types.h>

#define FAKE_SCRIPT_MAX 64
#define FAKE_NGPRS	32

/* The contract operations, for failure injection and the call log. */
enum fake_op {
	FAKE_OP_CREATE,
	FAKE_OP_SET_ENTRY,
	FAKE_OP_SET_EPT_ROOT,
	FAKE_OP_SETUP,
	FAKE_OP_BIND,
	FAKE_OP_UNBIND,
	FAKE_OP_RUN,
	FAKE_OP_SET_GPR,
	FAKE_OP_INJECT,
	FAKE_OP_SET_RETURN,
	FAKE_OP_KICK,
	FAKE_OP_DESTROY,
	FAKE_OP_COUNT
};

/* One scripted step of arch_vcpu_run: an exit, or an error when err < 0. */
struct fake_step {
	int err;
	bool wait_kick; /* block in run until kicked (a guest spinning in guest mode) */
	struct vcpu_exit exit;
};

#define FAKE_MAX_MAPS 16

struct fake_map {
	gpa_t gpa;
	void *host;
	uint64_t size;
	uint32_t flags;
};

struct vm_arch {
	uint32_t vm_id;
	unsigned nmaps;
	bool created;
	struct fake_map maps[FAKE_MAX_MAPS];
};

struct vcpu_arch;
/* Called by arch_vcpu_run once the script is used up (instead of returning HALT). */
typedef int (*fake_run_fn)(struct vcpu_arch *arch, struct vcpu_exit *exit, void *ctx);

struct vcpu_arch {
	struct vm_arch *vm; /* from the create config */
	uint32_t vm_id;
	uint32_t vcpu_id;
	gpa_t entry;
	hpa_t ept_root;
	uint64_t boot_arg;
	bool bound;
	bool setup_done;
	uint64_t gprs[FAKE_NGPRS];
	uint64_t return_value;
	uint64_t returns[FAKE_SCRIPT_MAX]; /* every set_return_value, in order */
	unsigned nreturns;
	uint64_t injected[4]; /* bitmap of injected vectors 0..255 */
	unsigned ninjected;
	unsigned nkicks;       /* atomic (__atomic builtins): kicks from any thread */
	unsigned kick_pending; /* atomic: a kick not yet consumed by a wait_kick step */
	fake_run_fn run_fn;
	void *run_ctx;
	int fail[FAKE_OP_COUNT]; /* error the next call of each op returns (0: none) */
	struct fake_step script[FAKE_SCRIPT_MAX];
	unsigned script_head, script_len;
	struct vcpu *current_seen[FAKE_OP_COUNT]; /* vcpu_current() at each op's last call */
};

/* Appends an exit to the vCPU's run script; false when the script is full. */
bool fake_script_exit(struct vcpu_arch *arch, const struct vcpu_exit *exit);

/* Appends an error to the vCPU's run script. */
bool fake_script_error(struct vcpu_arch *arch, int err);

/*
 * Appends a step that blocks in arch_vcpu_run until the vCPU is kicked (a kick made
 * before the step also counts, as KVM's immediate_exit does), then returns exit. After
 * 10 s without a kick it returns -CV_ETIMEDOUT, so a lost kick fails a test, not hangs it.
 */
bool fake_script_wait_kick(struct vcpu_arch *arch, const struct vcpu_exit *exit);

/* What arch_vcpu_run does once the script is used up (NULL: return HALT). */
void fake_set_run_fn(struct vcpu_arch *arch, fake_run_fn fn, void *ctx);

/* Makes the next arch_vm_create / arch_vm_map fail with err. */
void fake_fail_next_vm_create(int err);
void fake_fail_next_vm_map(int err);

/* Number of kicks the vCPU received (any thread). */
unsigned fake_kicks(const struct vcpu_arch *arch);

/* Makes the next call of op on this vCPU fail with err (negative). */
void fake_fail_next(struct vcpu_arch *arch, enum fake_op op, int err);

/* Makes the next arch_vcpu_create fail with err (there is no vCPU to attach it to yet). */
void fake_fail_next_create(int err);

/* The global call log: (op, vcpu_id) in call order. */
struct fake_call {
	enum fake_op op;
	uint32_t vcpu_id;
};

void fake_log_reset(void);
unsigned fake_log_len(void);
struct fake_call fake_log_at(unsigned i);
const char *fake_op_name(enum fake_op op);

#endif /* CVISOR_ARCH_VCPU_H */
