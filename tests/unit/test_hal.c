/* SPDX-License-Identifier: MIT */
/*
 * Unit tests of the hosted HAL (host/linux): logging from several tasks at once, tasks,
 * joins and wait queues. The TSan build checks that none of it races.
 */
#define _GNU_SOURCE
#include <pthread.h>
#include <stdatomic.h>
#include <string.h>
#include <time.h>

#include <cvisor/errors.h>
#include <cvisor/hal.h>

#include "support/unit.h"

#define MS  1000000ull
#define SEC 1000000000ull

static _Atomic unsigned log_started;

static void log_task(void *arg)
{
	(void)arg;
	/* Start together, so that the first hal_log calls of the process race. */
	atomic_fetch_add(&log_started, 1);
	while (atomic_load(&log_started) < 4)
		;
	for (unsigned i = 0; i < 10; i++)
		hal_log(HAL_LOG_DEBUG, "log from a task (%u)", i);
}

/*
 * The first hal_log of the process reads CVISOR_LOG and caches the threshold; several
 * tasks may make that first call at once (a vCPU's first warning). Must be first in this
 * program: a later call would find the threshold cached already.
 */
static void test_first_log_from_tasks(void **state)
{
	struct hal_task *t[4];

	(void)state;
	for (unsigned i = 0; i < 4; i++)
		assert_int_equal(hal_task_spawn(&t[i], "log", 0, 0, log_task, NULL), 0);
	for (unsigned i = 0; i < 4; i++)
		assert_int_equal(hal_task_join(t[i], 5 * SEC), 0);
	assert_int_equal(atomic_load(&log_started), 4);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_first_log_from_tasks),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
