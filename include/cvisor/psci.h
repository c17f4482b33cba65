/* SPDX-License-Identifier: MIT */
/*
 * PSCI 1.0 decoding shared by the backends (Arm DEN0022): a pure function from a call's
 * function ID and arguments to "answer in place" or "exit to the VMM", so that every
 * backend answers the same IDs the same way. Header-only because a backend may not call
 * into core/.
 */
#ifndef CVISOR_PSCI_H
#define CVISOR_PSCI_H

#include <cvisor/exit.h>
#include <cvisor/guest_abi.h>
#include <cvisor/types.h>

enum psci_action {
	PSCI_ACT_ANSWER,    /* write *answer to the result register and resume the guest */
	PSCI_ACT_EXIT,      /* write *answer to the result register, then return *exit */
	PSCI_ACT_HYPERCALL, /* not answered here: a HYPERCALL exit for the VMM */
};

static inline bool psci_is_supported_fn(uint32_t fn)
{
	switch (fn) {
	case PSCI_VERSION:
	case PSCI_CPU_SUSPEND:
	case PSCI_CPU_SUSPEND_64:
	case PSCI_CPU_OFF:
	case PSCI_CPU_ON:
	case PSCI_CPU_ON_64:
	case PSCI_AFFINITY_INFO:
	case PSCI_AFFINITY_INFO_64:
	case PSCI_MIGRATE_INFO_TYPE:
	case PSCI_SYSTEM_OFF:
	case PSCI_SYSTEM_RESET:
	case PSCI_FEATURES:
		return true;
	default:
		return false;
	}
}

/*
 * Decodes call fn with arguments args[0..2] (x1..x3 / the first three argument
 * registers). SMC32 IDs (bit 30 clear) take 32-bit arguments (SMCCC 2.6): the upper
 * halves are ignored.
 */
static inline enum psci_action psci_decode(uint64_t fn64, const uint64_t args[3], struct vcpu_exit *exit,
					   uint64_t *answer)
{
	uint32_t fn = (uint32_t)fn64;
	uint64_t a0 = args[0], a1 = args[1], a2 = args[2];
	bool in_psci = (fn >= PSCI_0_2_FN_BASE && fn < PSCI_0_2_FN_BASE + PSCI_FN_COUNT) ||
		       (fn >= PSCI_0_2_FN64_BASE && fn < PSCI_0_2_FN64_BASE + PSCI_FN_COUNT);

	*answer = (uint64_t)(int64_t)PSCI_RET_SUCCESS;
	if (fn64 >> 32)
		return PSCI_ACT_HYPERCALL;
	if (!(fn & 0x40000000u)) {
		a0 &= 0xffffffffu;
		a1 &= 0xffffffffu;
		a2 &= 0xffffffffu;
	}
	switch (fn) {
	case PSCI_VERSION:
		*answer = PSCI_VERSION_1_0;
		return PSCI_ACT_ANSWER;
	case PSCI_CPU_SUSPEND:
	case PSCI_CPU_SUSPEND_64:
		/* A standby state: returns SUCCESS after a wake-up, like WFI (DEN0022 5.4). */
		exit->kind = VCPU_EXIT_HALT;
		return PSCI_ACT_EXIT;
	case PSCI_CPU_OFF:
		exit->kind = VCPU_EXIT_CPU_DOWN;
		exit->cpu_down.state = 0;
		return PSCI_ACT_EXIT;
	case PSCI_CPU_ON:
	case PSCI_CPU_ON_64:
		exit->kind = VCPU_EXIT_CPU_UP;
		exit->cpu_up.target_cpu = a0;
		exit->cpu_up.entry_point = gpa(a1);
		exit->cpu_up.arg = a2;
		return PSCI_ACT_EXIT;
	case PSCI_AFFINITY_INFO:
	case PSCI_AFFINITY_INFO_64:
		/* Needs every vCPU's power state: the VMM answers it. */
		return PSCI_ACT_HYPERCALL;
	case PSCI_MIGRATE_INFO_TYPE:
		*answer = PSCI_MIGRATE_INFO_NO_TOS;
		return PSCI_ACT_ANSWER;
	case PSCI_SYSTEM_OFF:
		exit->kind = VCPU_EXIT_SYSTEM_DOWN;
		exit->system_down.reason = SYSTEM_DOWN_OFF;
		return PSCI_ACT_EXIT;
	case PSCI_SYSTEM_RESET:
		exit->kind = VCPU_EXIT_SYSTEM_DOWN;
		exit->system_down.reason = SYSTEM_DOWN_RESET;
		return PSCI_ACT_EXIT;
	case PSCI_FEATURES:
		*answer = psci_is_supported_fn((uint32_t)a0) ? (uint64_t)(int64_t)PSCI_RET_SUCCESS
							      : (uint64_t)(int64_t)PSCI_RET_NOT_SUPPORTED;
		return PSCI_ACT_ANSWER;
	default:
		break;
	}
	if (in_psci || (fn >= SMCCC_ARCH_BASE && fn <= SMCCC_ARCH_END)) {
		*answer = (uint64_t)(int64_t)PSCI_RET_NOT_SUPPORTED;
		return PSCI_ACT_ANSWER;
	}
	return PSCI_ACT_HYPERCALL;
}

#endif /* CVISOR_PSCI_H */
