/* SPDX-License-Identifier: MIT */
#define _GNU_SOURCE
#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include "unit.h"

struct vcpu *unit_new_vcpu(uint32_t vcpu_id)
{
	struct arch_vcpu_create_cfg cfg = { .vm = NULL, .boot_arg = 0x4000 };
	struct vcpu *v = NULL;

	assert_int_equal(vcpu_create(&v, 1, vcpu_id, vcpu_id, 0, &cfg), 0);
	assert_non_null(v);
	return v;
}

bool unit_child_aborts(void (*fn)(void))
{
	int status, devnull;
	pid_t pid = fork();

	if (pid == 0) {
		/* Keep the expected fatal message out of the TAP stream. */
		devnull = open("/dev/null", O_WRONLY);
		if (devnull >= 0)
			dup2(devnull, 2);
		fn();
		_exit(0);
	}
	if (pid < 0 || waitpid(pid, &status, 0) != pid)
		return false;
	return WIFSIGNALED(status) && WTERMSIG(status) == SIGABRT;
}
