/* SPDX-License-Identifier: MIT */
/* Unit tests of core/vcpu.c and core/exit.c on the fake arch (issue #2). */
#include <string.h>

#include <cvisor/errors.h>
#include <cvisor/hal.h>

#include "support/unit.h"

enum op { OP_SETUP, OP_BIND, OP_RUN, OP_UNBIND, OP_BLOCK, OP_UNBLOCK, OP_COUNT };

static const char *const op_name[OP_COUNT] = { "setup", "bind", "run", "unbind", "block", "unblock" };

/* The only legal (state, op) pairs and where they lead; every other pair -> INVALID. */
static const struct {
	enum vcpu_state from;
	enum vcpu_state to;
} legal[OP_COUNT] = {
	[OP_SETUP] = { VCPU_STATE_CREATED, VCPU_STATE_FREE },
	[OP_BIND] = { VCPU_STATE_FREE, VCPU_STATE_READY },
	[OP_RUN] = { VCPU_STATE_READY, VCPU_STATE_READY },
	[OP_UNBIND] = { VCPU_STATE_READY, VCPU_STATE_FREE },
	[OP_BLOCK] = { VCPU_STATE_READY, VCPU_STATE_BLOCKED },
	[OP_UNBLOCK] = { VCPU_STATE_BLOCKED, VCPU_STATE_READY },
};

static int do_op(struct vcpu *v, enum op op)
{
	struct vcpu_exit exit;

	switch (op) {
	case OP_SETUP:
		return vcpu_setup(v, gpa(0x1000), hpa(0x2000), NULL);
	case OP_BIND:
		return vcpu_bind(v);
	case OP_RUN:
		return vcpu_run(v, &exit);
	case OP_UNBIND:
		return vcpu_unbind(v);
	case OP_BLOCK:
		return vcpu_block(v);
	case OP_UNBLOCK:
		return vcpu_unblock(v);
	default:
		return -CV_EINVAL;
	}
}

/* Every state x every operation: the result, the new state and whether the arch ran. */
static void test_state_matrix(void **state)
{
	(void)state;
	for (int s = VCPU_STATE_INVALID; s <= VCPU_STATE_BLOCKED; s++) {
		for (int op = 0; op < OP_COUNT; op++) {
			struct vcpu *v = unit_new_vcpu(0);
			bool ok = legal[op].from == (enum vcpu_state)s;
			unsigned log_before;
			int ret;

			vcpu_set_state_unchecked(v, (enum vcpu_state)s);
			fake_log_reset();
			log_before = fake_log_len();
			ret = do_op(v, (enum op)op);
			print_message("# %-7s x %-7s -> %d %s\n", vcpu_state_name((enum vcpu_state)s), op_name[op], ret,
				      vcpu_state_name(vcpu_state(v)));
			if (ok) {
				assert_int_equal(ret, 0);
				assert_int_equal(vcpu_state(v), legal[op].to);
			} else {
				assert_int_equal(ret, -CV_EBADSTATE);
				assert_int_equal(vcpu_state(v), VCPU_STATE_INVALID);
				/* A refused transition never reaches the backend. */
				assert_int_equal(fake_log_len(), log_before);
			}
			vcpu_destroy(v);
		}
	}
}

static void test_invalid_is_terminal(void **state)
{
	struct vcpu *v = unit_new_vcpu(0);

	(void)state;
	vcpu_set_state_unchecked(v, VCPU_STATE_INVALID);
	for (int op = 0; op < OP_COUNT; op++) {
		assert_int_equal(do_op(v, (enum op)op), -CV_EBADSTATE);
		assert_int_equal(vcpu_state(v), VCPU_STATE_INVALID);
	}
	/* Not even a transition that names INVALID as its source leaves it. */
	assert_int_equal(vcpu_transition_state(v, VCPU_STATE_INVALID, VCPU_STATE_CREATED), -CV_EBADSTATE);
	assert_int_equal(vcpu_state(v), VCPU_STATE_INVALID);
	assert_int_equal(vcpu_set_gpr(v, 0, 1), -CV_EBADSTATE);
	assert_int_equal(vcpu_set_entry(v, gpa(0)), -CV_EBADSTATE);
	assert_int_equal(vcpu_inject_interrupt(v, 1), -CV_EBADSTATE);
	assert_int_equal(vcpu_set_return_value(v, 1), -CV_EBADSTATE);
	vcpu_destroy(v);
}

static void test_full_lifecycle(void **state)
{
	struct vcpu *v = unit_new_vcpu(0);
	struct vcpu_exit e = { .kind = VCPU_EXIT_IO_WRITE, .io_write = { .port = 0x3f8, .width = 1, .data = 'A' } };
	struct vcpu_exit got;

	(void)state;
	assert_int_equal(vcpu_state(v), VCPU_STATE_CREATED);
	assert_int_equal(vcpu_setup(v, gpa(0x1000), hpa(0x2000), NULL), 0);
	assert_int_equal(vcpu_state(v), VCPU_STATE_FREE);
	assert_int_equal(v->arch.entry.v, 0x1000);
	assert_int_equal(v->arch.ept_root.v, 0x2000);
	assert_true(v->arch.setup_done);
	assert_int_equal(vcpu_bind(v), 0);
	assert_true(v->arch.bound);
	assert_true(fake_script_exit(&v->arch, &e));
	assert_int_equal(vcpu_run(v, &got), 0);
	assert_int_equal(got.kind, VCPU_EXIT_IO_WRITE);
	assert_int_equal(got.io_write.port, 0x3f8);
	assert_int_equal(got.io_write.data, 'A');
	assert_int_equal(vcpu_state(v), VCPU_STATE_READY);
	/* An empty script parks the vCPU rather than spinning. */
	assert_int_equal(vcpu_run(v, &got), 0);
	assert_int_equal(got.kind, VCPU_EXIT_HALT);
	assert_int_equal(vcpu_block(v), 0);
	assert_int_equal(vcpu_state(v), VCPU_STATE_BLOCKED);
	assert_int_equal(vcpu_unblock(v), 0);
	assert_int_equal(vcpu_unbind(v), 0);
	assert_false(v->arch.bound);
	assert_int_equal(vcpu_state(v), VCPU_STATE_FREE);
	assert_int_equal(vcpu_run(v, NULL), -CV_EINVAL);
	vcpu_destroy(v);
}

static void test_setup_call_order(void **state)
{
	struct vcpu *v = unit_new_vcpu(3);
	static const enum fake_op want[] = { FAKE_OP_SET_ENTRY, FAKE_OP_SET_EPT_ROOT, FAKE_OP_SETUP };

	(void)state;
	fake_log_reset();
	assert_int_equal(vcpu_setup(v, gpa(0x8000), hpa(0x9000), NULL), 0);
	assert_int_equal(fake_log_len(), 3);
	for (unsigned i = 0; i < 3; i++) {
		assert_int_equal(fake_log_at(i).op, want[i]);
		assert_int_equal(fake_log_at(i).vcpu_id, 3);
	}
	vcpu_destroy(v);
}

/* An error from the arch in any step leaves the vCPU INVALID with that error. */
static void test_arch_errors(void **state)
{
	static const struct {
		enum fake_op op;
		enum vcpu_state at;
		enum op call;
	} cases[] = {
		{ FAKE_OP_SET_ENTRY, VCPU_STATE_CREATED, OP_SETUP },
		{ FAKE_OP_SET_EPT_ROOT, VCPU_STATE_CREATED, OP_SETUP },
		{ FAKE_OP_SETUP, VCPU_STATE_CREATED, OP_SETUP },
		{ FAKE_OP_BIND, VCPU_STATE_FREE, OP_BIND },
		{ FAKE_OP_RUN, VCPU_STATE_READY, OP_RUN },
		{ FAKE_OP_UNBIND, VCPU_STATE_READY, OP_UNBIND },
	};

	(void)state;
	for (unsigned i = 0; i < CV_ARRAY_SIZE(cases); i++) {
		struct vcpu *v = unit_new_vcpu(0);

		vcpu_set_state_unchecked(v, cases[i].at);
		fake_fail_next(&v->arch, cases[i].op, -CV_EIO);
		assert_int_equal(do_op(v, cases[i].call), -CV_EIO);
		assert_int_equal(vcpu_state(v), VCPU_STATE_INVALID);
		/* The current vCPU is cleared even when the arch call failed. */
		assert_null(vcpu_current());
		vcpu_destroy(v);
	}
}

/* An error scripted as a run result (not an exit) is the same as an arch failure. */
static void test_run_script_error(void **state)
{
	struct vcpu *v = unit_new_vcpu(0);
	struct vcpu_exit e;

	(void)state;
	vcpu_set_state_unchecked(v, VCPU_STATE_READY);
	assert_true(fake_script_error(&v->arch, -CV_EGUEST));
	assert_int_equal(vcpu_run(v, &e), -CV_EGUEST);
	assert_int_equal(vcpu_state(v), VCPU_STATE_INVALID);
	vcpu_destroy(v);
}

static void test_create_failure(void **state)
{
	struct arch_vcpu_create_cfg cfg = { 0 };
	struct vcpu *v = NULL;

	(void)state;
	fake_fail_next_create(-CV_ENOMEM);
	assert_int_equal(vcpu_create(&v, 1, 0, 0, 0, &cfg), -CV_ENOMEM);
	assert_null(v);
	assert_int_equal(vcpu_create(NULL, 1, 0, 0, 0, &cfg), -CV_EINVAL);
	assert_int_equal(vcpu_create(&v, 1, 0, 0, 0, NULL), -CV_EINVAL);
}

static void test_getters(void **state)
{
	struct arch_vcpu_create_cfg cfg = { .boot_arg = 0x44000000 };
	struct vcpu *bsp, *ap;

	(void)state;
	assert_int_equal(vcpu_create(&bsp, 7, 0, 2, 0x4, &cfg), 0);
	assert_int_equal(vcpu_create(&ap, 7, 1, 3, 0xc, &cfg), 0);
	assert_true(vcpu_is_bsp(bsp));
	assert_false(vcpu_is_bsp(ap));
	assert_int_equal(vcpu_id(ap), 1);
	assert_int_equal(vcpu_vm_id(ap), 7);
	assert_int_equal(vcpu_favor_phys_cpu(bsp), 2);
	assert_int_equal(vcpu_phys_cpu_set(bsp), 0x4);
	assert_int_equal(vcpu_favor_phys_cpu(ap), 3);
	assert_int_equal(vcpu_phys_cpu_set(ap), 0xc);
	assert_int_equal(ap->arch.boot_arg, 0x44000000);
	assert_int_equal(ap->arch.vm_id, 7);
	assert_int_equal(ap->arch.vcpu_id, 1);
	vcpu_destroy(bsp);
	vcpu_destroy(ap);
}

static void test_direct_calls(void **state)
{
	struct vcpu *v = unit_new_vcpu(0);

	(void)state;
	assert_int_equal(vcpu_set_gpr(v, 5, 0x55), 0);
	assert_int_equal(v->arch.gprs[5], 0x55);
	assert_int_equal(vcpu_set_gpr(v, FAKE_NGPRS, 1), -CV_ERANGE);
	assert_int_equal(vcpu_set_return_value(v, 42), 0);
	assert_int_equal(v->arch.return_value, 42);
	assert_int_equal(vcpu_inject_interrupt(v, 33), 0);
	assert_true(v->arch.injected[0] & (1ull << 33));
	assert_int_equal(vcpu_set_entry(v, gpa(0x1234)), 0);
	assert_int_equal(v->arch.entry.v, 0x1234);
	/* A state check on these is not a transition: a refused call does not poison the vCPU. */
	vcpu_set_state_unchecked(v, VCPU_STATE_RUNNING);
	assert_int_equal(vcpu_set_gpr(v, 1, 1), -CV_EBADSTATE);
	assert_int_equal(vcpu_state(v), VCPU_STATE_RUNNING);
	vcpu_kick(v);
	assert_int_equal(v->arch.nkicks, 1);
	vcpu_destroy(v);
}

static int count_calls;
static int note_call(struct vcpu *v, void *ctx)
{
	(void)v;
	count_calls++;
	return ctx ? *(int *)ctx : 0;
}

static void test_with_state_transition(void **state)
{
	struct vcpu *v = unit_new_vcpu(0);
	int err = -CV_EBUSY;

	(void)state;
	count_calls = 0;
	assert_int_equal(vcpu_with_state_transition(v, VCPU_STATE_CREATED, VCPU_STATE_FREE, note_call, NULL), 0);
	assert_int_equal(count_calls, 1);
	assert_int_equal(vcpu_state(v), VCPU_STATE_FREE);
	/* Mismatch: the callback is not run. */
	assert_int_equal(vcpu_with_state_transition(v, VCPU_STATE_CREATED, VCPU_STATE_FREE, note_call, NULL),
			 -CV_EBADSTATE);
	assert_int_equal(count_calls, 1);
	assert_int_equal(vcpu_state(v), VCPU_STATE_INVALID);
	vcpu_set_state_unchecked(v, VCPU_STATE_FREE);
	assert_int_equal(vcpu_with_state_transition(v, VCPU_STATE_FREE, VCPU_STATE_READY, note_call, &err),
			 -CV_EBUSY);
	assert_int_equal(vcpu_state(v), VCPU_STATE_INVALID);
	vcpu_destroy(v);
}

/* The backend sees the vCPU as current during every state-changing call, and only then. */
static void test_current_during_arch_calls(void **state)
{
	struct vcpu *v = unit_new_vcpu(0);
	struct vcpu_exit e;

	(void)state;
	assert_null(vcpu_current());
	assert_int_equal(vcpu_setup(v, gpa(0), hpa(0), NULL), 0);
	assert_int_equal(vcpu_bind(v), 0);
	assert_int_equal(vcpu_run(v, &e), 0);
	assert_int_equal(vcpu_unbind(v), 0);
	assert_ptr_equal(v->arch.current_seen[FAKE_OP_CREATE], v);
	assert_ptr_equal(v->arch.current_seen[FAKE_OP_SET_ENTRY], v);
	assert_ptr_equal(v->arch.current_seen[FAKE_OP_SETUP], v);
	assert_ptr_equal(v->arch.current_seen[FAKE_OP_BIND], v);
	assert_ptr_equal(v->arch.current_seen[FAKE_OP_RUN], v);
	assert_ptr_equal(v->arch.current_seen[FAKE_OP_UNBIND], v);
	assert_null(vcpu_current());
	vcpu_destroy(v);
}

static struct vcpu *nest_outer;
static int nested_inner(struct vcpu *v, void *ctx)
{
	(void)ctx;
	(void)v;
	return vcpu_bind(nest_outer); /* sets the current vCPU again: must abort */
}

static void nest_child(void)
{
	nest_outer = unit_new_vcpu(0);
	vcpu_set_state_unchecked(nest_outer, VCPU_STATE_FREE);
	vcpu_with_current_set(unit_new_vcpu(1), nested_inner, NULL);
}

static void double_set_child(void)
{
	vcpu_set_current(unit_new_vcpu(0));
	vcpu_set_current(unit_new_vcpu(1));
}

static void test_nested_current_aborts(void **state)
{
	(void)state;
	assert_true(unit_child_aborts(nest_child));
	assert_true(unit_child_aborts(double_set_child));
	/* And the plain get/set/clear API round-trips. */
	struct vcpu *v = unit_new_vcpu(0);
	vcpu_set_current(v);
	assert_ptr_equal(vcpu_current(), v);
	vcpu_clear_current();
	assert_null(vcpu_current());
	vcpu_destroy(v);
}

static void test_refcount(void **state)
{
	struct vcpu *v = unit_new_vcpu(9);
	unsigned destroys = 0;

	(void)state;
	fake_log_reset();
	assert_ptr_equal(vcpu_get(v), v);
	vcpu_put(v);
	for (unsigned i = 0; i < fake_log_len(); i++)
		destroys += fake_log_at(i).op == FAKE_OP_DESTROY;
	assert_int_equal(destroys, 0);
	vcpu_put(v);
	for (unsigned i = 0; i < fake_log_len(); i++)
		destroys += fake_log_at(i).op == FAKE_OP_DESTROY;
	assert_int_equal(destroys, 1);
	vcpu_put(NULL);
}

static void test_exit_names(void **state)
{
	static const char *const want[VCPU_EXIT_KIND_COUNT] = {
		"HYPERCALL", "MMIO_READ", "MMIO_WRITE", "SYSREG_READ", "SYSREG_WRITE", "IO_READ",
		"IO_WRITE", "EXTERNAL_INTERRUPT", "NESTED_PAGE_FAULT", "HALT", "CPU_UP", "CPU_DOWN",
		"SYSTEM_DOWN", "NOTHING", "FAIL_ENTRY", "SEND_IPI",
	};

	(void)state;
	assert_int_equal(VCPU_EXIT_KIND_COUNT, 16);
	for (int k = 0; k < VCPU_EXIT_KIND_COUNT; k++)
		assert_string_equal(vcpu_exit_name((enum vcpu_exit_kind)k), want[k]);
	assert_string_equal(vcpu_exit_name(VCPU_EXIT_KIND_COUNT), "UNKNOWN");
	assert_string_equal(vcpu_exit_name((enum vcpu_exit_kind)-1), "UNKNOWN");
	assert_string_equal(system_down_name(SYSTEM_DOWN_OFF), "OFF");
	assert_string_equal(system_down_name(SYSTEM_DOWN_RESET), "RESET");
	assert_string_equal(system_down_name(SYSTEM_DOWN_CRASH), "CRASH");
	for (int s = VCPU_STATE_INVALID; s <= VCPU_STATE_BLOCKED; s++)
		assert_string_not_equal(vcpu_state_name((enum vcpu_state)s), "UNKNOWN");
	assert_int_equal(VCPU_STATE_INVALID, 0);
	assert_int_equal(VCPU_STATE_BLOCKED, 5);
}

static void test_access_width(void **state)
{
	(void)state;
	for (uint64_t w = 0; w <= 16; w++)
		assert_int_equal(access_width_valid(w), w == 1 || w == 2 || w == 4 || w == 8);
	assert_int_equal(access_width_mask(ACCESS_WIDTH_1), 0xff);
	assert_int_equal(access_width_mask(ACCESS_WIDTH_2), 0xffff);
	assert_int_equal(access_width_mask(ACCESS_WIDTH_4), 0xffffffff);
	assert_int_equal(access_width_mask(ACCESS_WIDTH_8), ~0ull);
	assert_int_equal(access_width_mask((enum access_width)3), 0);
	assert_int_equal(access_width_sign_extend(0x80, ACCESS_WIDTH_1), 0xffffffffffffff80ull);
	assert_int_equal(access_width_sign_extend(0x17f, ACCESS_WIDTH_1), 0x7f);
	assert_int_equal(access_width_sign_extend(0x8000, ACCESS_WIDTH_2), 0xffffffffffff8000ull);
	assert_int_equal(access_width_sign_extend(0x7fffffff, ACCESS_WIDTH_4), 0x7fffffff);
	assert_int_equal(access_width_sign_extend(0x80000000, ACCESS_WIDTH_4), 0xffffffff80000000ull);
	assert_int_equal(access_width_sign_extend(0x8000000000000000ull, ACCESS_WIDTH_8), 0x8000000000000000ull);
}

static void test_strerror_and_ranges(void **state)
{
	(void)state;
	for (int e = 0; e < CV_ERR_COUNT; e++) {
		assert_non_null(cv_strerror(e));
		assert_string_equal(cv_strerror(e), cv_strerror(-e));
		assert_string_not_equal(cv_strerror(e), "unknown error");
	}
	assert_string_equal(cv_strerror(CV_ERR_COUNT), "unknown error");
	assert_string_equal(cv_strerror(-1000), "unknown error");
	assert_true(cv_range_within(0x1000, 0x1000, 0x1000, 0x1000));
	assert_true(cv_range_within(0x1000, 0x1000, 0x1ff8, 8));
	assert_false(cv_range_within(0x1000, 0x1000, 0x1ff9, 8));
	assert_false(cv_range_within(0x1000, 0x1000, 0xfff, 1));
	assert_false(cv_range_within(0x1000, 0x1000, UINT64_MAX, 2));
	assert_false(cv_range_within(UINT64_MAX, 2, UINT64_MAX, 1));
	assert_false(cv_range_within(0, 0, 0, 1));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_state_matrix),
		cmocka_unit_test(test_invalid_is_terminal),
		cmocka_unit_test(test_full_lifecycle),
		cmocka_unit_test(test_setup_call_order),
		cmocka_unit_test(test_arch_errors),
		cmocka_unit_test(test_run_script_error),
		cmocka_unit_test(test_create_failure),
		cmocka_unit_test(test_getters),
		cmocka_unit_test(test_direct_calls),
		cmocka_unit_test(test_with_state_transition),
		cmocka_unit_test(test_current_during_arch_calls),
		cmocka_unit_test(test_nested_current_aborts),
		cmocka_unit_test(test_refcount),
		cmocka_unit_test(test_exit_names),
		cmocka_unit_test(test_access_width),
		cmocka_unit_test(test_strerror_and_ranges),
	};

	return cmocka_run_group_tests_name("vcpu", tests, NULL, NULL);
}
