/* SPDX-License-Identifier: MIT */
/*
 * Hypercalls: CV_HC_TEST_SUM with six arguments (a HYPERCALL exit; the test's result is
 * reported back), then PSCI calls the backend answers in place (no exit): VERSION,
 * FEATURES(CPU_ON), FEATURES of an unknown ID, and an SMCCC architecture call.
 */
#include "rt.h"

void guest_main(uint64_t boot_arg)
{
	(void)boot_arg;
	cv_report(cv_hypercall(CV_HC_TEST_SUM, 0x1111, 0x2222000000000000ull, 0x3333, 0x4444, 0x5555, 0x6666));
	cv_report(cv_hypercall(PSCI_VERSION, 0, 0, 0, 0, 0, 0));
	cv_report(cv_hypercall(PSCI_FEATURES, PSCI_CPU_ON_64, 0, 0, 0, 0, 0));
	cv_report(cv_hypercall(PSCI_FEATURES, 0x8400001fu, 0, 0, 0, 0, 0));
	cv_report(cv_hypercall(SMCCC_ARCH_BASE, 0, 0, 0, 0, 0, 0));
}
