/* SPDX-License-Identifier: MIT */
/*
 * Invariant checks (Hafnium's check.h). CV_BUG_ON is for programming errors only, never
 * for guest- or user-controlled input. It does not depend on NDEBUG: the seeds panic on
 * these bugs in every build, and so do we.
 */
#ifndef CVISOR_CHECK_H
#define CVISOR_CHECK_H

#include <cvisor/hal.h>

#define CV_STR2(x) #x
#define CV_STR(x) CV_STR2(x)

#define CV_BUG_ON(cond, msg)                                                              \
	do {                                                                              \
		if (__builtin_expect(!!(cond), 0))                                        \
			hal_fatal(__FILE__ ":" CV_STR(__LINE__) ": " msg);                \
	} while (0)

#endif /* CVISOR_CHECK_H */
