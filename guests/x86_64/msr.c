/* SPDX-License-Identifier: MIT */
/*
 * MSRs KVM does not implement: a WRMSR (SYSREG_WRITE exit), a RDMSR the test answers
 * (SYSREG_READ; the value is reported), and a RDMSR nobody answers (reads 0).
 */
#include "rt.h"

static inline void wrmsr(uint32_t msr, uint64_t v)
{
	__asm__ volatile("wrmsr" : : "c"(msr), "a"((uint32_t)v), "d"((uint32_t)(v >> 32)) : "memory");
}

static inline uint64_t rdmsr(uint32_t msr)
{
	uint32_t lo, hi;

	__asm__ volatile("rdmsr" : "=a"(lo), "=d"(hi) : "c"(msr) : "memory");
	return (uint64_t)hi << 32 | lo;
}

void guest_main(uint64_t boot_arg)
{
	(void)boot_arg;
	wrmsr(CV_TEST_MSR, 0x1122334455667788ull);
	cv_report(rdmsr(CV_TEST_MSR));
	cv_report(rdmsr(CV_TEST_MSR + 1));
}
