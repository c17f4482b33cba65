/* SPDX-License-Identifier: MIT */
/* Expected: hypercalls with six arguments by HVC and SMC, PSCI answered in place, unknown IDs refused. */
#include "lib.h"

void guest_main(uint64_t vcpu, uint64_t boot_arg)
{
	(void)vcpu;
	(void)boot_arg;
	gprintf("hvc TEST_SUM(1..6) = %lu\n", hvc_call(CV_HC_TEST_SUM, 1, 2, 3, 4, 5, 6));
	gprintf("smc TEST_SUM(10..60) = %lu\n", smc_call(CV_HC_TEST_SUM, 10, 20, 30, 40, 50, 60));
	gprintf("PSCI_VERSION = %#lx\n", hvc_call(PSCI_VERSION, 0, 0, 0, 0, 0, 0));
	gprintf("PSCI_FEATURES(CPU_ON_64) = %ld\n", (int64_t)hvc_call(PSCI_FEATURES, PSCI_CPU_ON_64, 0, 0, 0, 0, 0));
	gprintf("PSCI_FEATURES(0x8400001f) = %ld\n", (int64_t)hvc_call(PSCI_FEATURES, 0x8400001f, 0, 0, 0, 0, 0));
	gprintf("MIGRATE_INFO_TYPE = %ld\n", (int64_t)hvc_call(PSCI_MIGRATE_INFO_TYPE, 0, 0, 0, 0, 0, 0));
	gprintf("SMCCC_VERSION = %ld\n", (int64_t)hvc_call(SMCCC_ARCH_BASE, 0, 0, 0, 0, 0, 0));
	gprintf("AFFINITY_INFO(0) = %ld\n", (int64_t)hvc_call(PSCI_AFFINITY_INFO_64, 0, 0, 0, 0, 0, 0));
	gprintf("unknown hypercall 0xc6000099 = %ld\n", (int64_t)hvc_call(0xc6000099, 0, 0, 0, 0, 0, 0));
}
