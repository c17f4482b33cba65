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
#define FAKE_NGPRS 32

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
	struct vcpu_exit exit;
};

struct vm_arch {
	uint32_t vm_id;
	unsigned nmaps;
	bool created;
};

struct vcpu_arch {
	uint32_t vm_id;
	uint32_t vcpu_id;
	gpa_t entry;
	hpa_t ept_root;
	uint64_t boot_arg;
	bool bound;
	bool setup_done;
	uint64_t gprs[FAKE_NGPRS];
	uint64_t return_value;
	uint64_t injected[4]; /* bitmap of injected vectors 0..255 */
	unsigned ninjected;
	unsigned nkicks;
	int fail[FAKE_OP_COUNT]; /* error the next call of each op returns (0: none) */
	struct fake_step script[FAKE_SCRIPT_MAX];
	unsigned script_head, script_len;
	struct vcpu *current_seen[FAKE_OP_COUNT]; /* vcpu_current() at each op's last call */
};

/* Appends an exit to the vCPU's run script; false when the script is full. */
bool fake_script_exit(struct vcpu_arch *arch, const struct vcpu_exit *exit);

/* Appends an error to the vCPU's run script. */
bool fake_script_error(struct vcpu_arch *arch, int err);

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
