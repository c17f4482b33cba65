/* SPDX-License-Identifier: MIT */
#include <cvisor/exit.h>

static const char *const exit_names[VCPU_EXIT_KIND_COUNT] = {
	[VCPU_EXIT_HYPERCALL] = "HYPERCALL",
	[VCPU_EXIT_MMIO_READ] = "MMIO_READ",
	[VCPU_EXIT_MMIO_WRITE] = "MMIO_WRITE",
	[VCPU_EXIT_SYSREG_READ] = "SYSREG_READ",
	[VCPU_EXIT_SYSREG_WRITE] = "SYSREG_WRITE",
	[VCPU_EXIT_IO_READ] = "IO_READ",
	[VCPU_EXIT_IO_WRITE] = "IO_WRITE",
	[VCPU_EXIT_EXTERNAL_INTERRUPT] = "EXTERNAL_INTERRUPT",
	[VCPU_EXIT_NESTED_PAGE_FAULT] = "NESTED_PAGE_FAULT",
	[VCPU_EXIT_HALT] = "HALT",
	[VCPU_EXIT_CPU_UP] = "CPU_UP",
	[VCPU_EXIT_CPU_DOWN] = "CPU_DOWN",
	[VCPU_EXIT_SYSTEM_DOWN] = "SYSTEM_DOWN",
	[VCPU_EXIT_NOTHING] = "NOTHING",
	[VCPU_EXIT_FAIL_ENTRY] = "FAIL_ENTRY",
	[VCPU_EXIT_SEND_IPI] = "SEND_IPI",
};

const char *vcpu_exit_name(enum vcpu_exit_kind kind)
{
	if ((unsigned)kind >= VCPU_EXIT_KIND_COUNT)
		return "UNKNOWN";
	return exit_names[kind];
}

const char *system_down_name(enum system_down_reason reason)
{
	switch (reason) {
	case SYSTEM_DOWN_OFF:
		return "OFF";
	case SYSTEM_DOWN_RESET:
		return "RESET";
	case SYSTEM_DOWN_CRASH:
		return "CRASH";
	default:
		return "UNKNOWN";
	}
}

bool access_width_valid(uint64_t bytes)
{
	return bytes == 1 || bytes == 2 || bytes == 4 || bytes == 8;
}

uint64_t access_width_mask(enum access_width w)
{
	switch (w) {
	case ACCESS_WIDTH_1:
		return 0xffull;
	case ACCESS_WIDTH_2:
		return 0xffffull;
	case ACCESS_WIDTH_4:
		return 0xffffffffull;
	case ACCESS_WIDTH_8:
		return ~0ull;
	default:
		return 0;
	}
}

uint64_t access_width_sign_extend(uint64_t v, enum access_width w)
{
	uint64_t mask = access_width_mask(w);
	uint64_t sign;

	if (mask == 0 || w == ACCESS_WIDTH_8)
		return mask & v;
	v &= mask;
	sign = (mask >> 1) + 1;
	return (v ^ sign) - sign;
}
