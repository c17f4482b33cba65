/* SPDX-License-Identifier: MIT */
/* Unit tests of include/cvisor/vtimer.h: the generic timer's condition, output and time arithmetic. */
#include <cvisor/vtimer.h>

#include "support/unit.h"

/* ARM ARM D11.2.4: met when CNTVCT >= CVAL, as unsigned 64-bit values. */
static void test_condition(void **state)
{
	(void)state;
	assert_false(vtimer_condition(100, 99));
	assert_true(vtimer_condition(100, 100));
	assert_true(vtimer_condition(100, 101));
	assert_true(vtimer_condition(0, 0));
	/* A CVAL at the top of the range is met only there: no signed wrap-around. */
	assert_false(vtimer_condition(UINT64_MAX, 0));
	assert_false(vtimer_condition(UINT64_MAX, UINT64_MAX - 1));
	assert_true(vtimer_condition(UINT64_MAX, UINT64_MAX));
	assert_true(vtimer_condition(0, UINT64_MAX));
}

/* The interrupt output: ENABLE and not IMASK and the condition (ISTATUS is the condition only). */
static void test_output(void **state)
{
	(void)state;
	assert_true(vtimer_output(VTIMER_CTL_ENABLE, 10, 10));
	assert_false(vtimer_output(VTIMER_CTL_ENABLE, 10, 9));
	assert_false(vtimer_output(0, 10, 10));
	assert_false(vtimer_output(VTIMER_CTL_ENABLE | VTIMER_CTL_IMASK, 10, 10));
	assert_false(vtimer_output(VTIMER_CTL_ISTATUS, 10, 10));
	assert_true(vtimer_output(VTIMER_CTL_ENABLE | VTIMER_CTL_ISTATUS, 10, 11));
	assert_true(vtimer_armed(VTIMER_CTL_ENABLE));
	assert_true(vtimer_armed(VTIMER_CTL_ENABLE | VTIMER_CTL_ISTATUS));
	assert_false(vtimer_armed(VTIMER_CTL_ENABLE | VTIMER_CTL_IMASK));
	assert_false(vtimer_armed(0));
}

static void test_ticks_left(void **state)
{
	(void)state;
	assert_int_equal(vtimer_ticks_left(1000, 400), 600);
	assert_int_equal(vtimer_ticks_left(1000, 1000), 0);
	assert_int_equal(vtimer_ticks_left(1000, 5000), 0);
	assert_int_equal(vtimer_ticks_left(UINT64_MAX, 0), UINT64_MAX);
}

/* Ticks to nanoseconds, rounded up, at QEMU virt's 62.5 MHz and a few other rates. */
static void test_ticks_to_ns(void **state)
{
	(void)state;
	assert_int_equal(vtimer_ticks_to_ns(0, 62500000), 0);
	assert_int_equal(vtimer_ticks_to_ns(1, 62500000), 16);
	assert_int_equal(vtimer_ticks_to_ns(62500, 62500000), 1000000);	      /* 1 ms */
	assert_int_equal(vtimer_ticks_to_ns(62500001, 62500000), 1000000016); /* 1 s + 1 tick */
	assert_int_equal(vtimer_ticks_to_ns(3, 24000000), 125);
	assert_int_equal(vtimer_ticks_to_ns(1, 3), 333333334); /* rounded up, never early */
	assert_int_equal(vtimer_ticks_to_ns(1000000000, 1000000000), 1000000000);
	/* Large values saturate instead of wrapping. */
	assert_int_equal(vtimer_ticks_to_ns(UINT64_MAX, 62500000), VTIMER_NS_MAX);
	assert_int_equal(vtimer_ticks_to_ns(UINT64_MAX, 1), VTIMER_NS_MAX);
	assert_int_equal(vtimer_ticks_to_ns(5, 0), VTIMER_NS_MAX);
	/* Just below saturation: exact. */
	assert_true(vtimer_ticks_to_ns(62500000ull * 1000000000ull, 62500000) == 1000000000ull * 1000000000ull);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_condition),
	    cmocka_unit_test(test_output),
	    cmocka_unit_test(test_ticks_left),
	    cmocka_unit_test(test_ticks_to_ns),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
