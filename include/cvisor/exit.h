/* SPDX-License-Identifier: MIT */
/*
 * Why a vCPU left guest mode: the seed's AxVCpuExitReason as a tagged struct, same
 * kinds in the same order with the same fields, plus SYSTEM_DOWN's reason.
 */
#ifndef CVISOR_EXIT_H
#define CVISOR_EXIT_H

#include <cvisor/types.h>

/* Access widths in bytes (the seed's AccessWidth: Byte, Word, Dword, Qword). */
enum access_width {
	ACCESS_WIDTH_1 = 1,
	ACCESS_WIDTH_2 = 2,
	ACCESS_WIDTH_4 = 4,
	ACCESS_WIDTH_8 = 8,
};

enum vcpu_exit_kind {
	VCPU_EXIT_HYPERCALL,          /* hypercall not answered by the backend */
	VCPU_EXIT_MMIO_READ,          /* load from an unmapped guest-physical address */
	VCPU_EXIT_MMIO_WRITE,         /* store to an unmapped guest-physical address */
	VCPU_EXIT_SYSREG_READ,        /* trapped system-register read (MRS, RDMSR) */
	VCPU_EXIT_SYSREG_WRITE,       /* trapped system-register write (MSR, WRMSR) */
	VCPU_EXIT_IO_READ,            /* x86 port input */
	VCPU_EXIT_IO_WRITE,           /* x86 port output */
	VCPU_EXIT_EXTERNAL_INTERRUPT, /* a host interrupt arrived while in guest mode */
	VCPU_EXIT_NESTED_PAGE_FAULT,  /* stage-2 / EPT fault the backend could not resolve */
	VCPU_EXIT_HALT,               /* WFI / HLT: wait for an interrupt */
	VCPU_EXIT_CPU_UP,             /* PSCI CPU_ON */
	VCPU_EXIT_CPU_DOWN,           /* PSCI CPU_OFF */
	VCPU_EXIT_SYSTEM_DOWN,        /* PSCI SYSTEM_OFF / SYSTEM_RESET, triple fault */
	VCPU_EXIT_NOTHING,            /* nothing to do: re-enter (signal, kick, handled trap) */
	VCPU_EXIT_FAIL_ENTRY,         /* the hardware refused to enter the guest */
	VCPU_EXIT_SEND_IPI,           /* the guest sent an inter-processor interrupt */
	VCPU_EXIT_KIND_COUNT
};

/* Why the whole system went down; the seed has no such field, the VMM needs it. */
enum system_down_reason {
	SYSTEM_DOWN_OFF,   /* orderly power-off (PSCI SYSTEM_OFF) */
	SYSTEM_DOWN_RESET, /* reboot request (PSCI SYSTEM_RESET) */
	SYSTEM_DOWN_CRASH, /* the guest can go no further (x86 triple fault) */
};

struct vcpu_exit {
	enum vcpu_exit_kind kind;
	union {
		struct {
			uint64_t nr;      /* function ID */
			uint64_t args[6]; /* arguments, in calling-convention order */
		} hypercall;
		struct {
			gpa_t addr;
			enum access_width width;
			unsigned reg;              /* destination register index (backend numbering) */
			enum access_width reg_width; /* width of that register: 4 (Wn) or 8 (Xn) */
			bool signed_ext;           /* sign-extend the loaded value to reg_width */
		} mmio_read;
		struct {
			gpa_t addr;
			enum access_width width;
			uint64_t data; /* already masked to width */
		} mmio_write;
		struct {
			uint64_t addr; /* backend encoding of the register (AArch64 ISS Op0..Op2, x86 MSR) */
			unsigned reg;  /* destination general-purpose register */
		} sysreg_read;
		struct {
			uint64_t addr;
			uint64_t value;
		} sysreg_write;
		struct {
			uint16_t port;
			enum access_width width; /* 1, 2 or 4 */
		} io_read;
		struct {
			uint16_t port;
			enum access_width width;
			uint32_t data; /* already masked to width */
		} io_write;
		struct {
			uint64_t vector;
		} external_interrupt;
		struct {
			gpa_t addr;
			uint32_t access_flags; /* CV_MAP_READ / WRITE / EXEC of the faulting access */
		} nested_page_fault;
		struct {
			uint64_t target_cpu; /* MPIDR affinity (AArch64) or APIC/vCPU id (x86) */
			gpa_t entry_point;
			uint64_t arg;
		} cpu_up;
		struct {
			uint64_t state; /* PSCI power_state, unused by CPU_OFF */
		} cpu_down;
		struct {
			enum system_down_reason reason;
		} system_down;
		struct {
			uint64_t hw_reason;
		} fail_entry;
		struct {
			uint64_t target_cpu;
			uint64_t target_cpu_aux; /* AArch64: the SGI target list */
			bool send_to_all;
			bool send_to_self;
			uint64_t vector;
		} send_ipi;
	};
};

/* Upper-case name of an exit kind ("MMIO_READ"); "UNKNOWN" outside the enum. */
const char *vcpu_exit_name(enum vcpu_exit_kind kind);

/* Name of a SYSTEM_DOWN reason ("OFF", "RESET", "CRASH"). */
const char *system_down_name(enum system_down_reason reason);

/* True for 1, 2, 4 and 8. */
bool access_width_valid(uint64_t bytes);

/* All-ones mask of the width (0xff for 1 ... ~0 for 8); 0 for an invalid width. */
uint64_t access_width_mask(enum access_width w);

/* Sign-extends the low `w` bytes of v to 64 bits; v masked first. */
uint64_t access_width_sign_extend(uint64_t v, enum access_width w);

#endif /* CVISOR_EXIT_H */
