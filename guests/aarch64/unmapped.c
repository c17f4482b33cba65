/* SPDX-License-Identifier: MIT */
/*
 * Expected: under the `abort` unmapped-access policy (the AArch64 default) a guest that
 * fetches an instruction from an IPA with no memory, or whose stage-1 table walk reads
 * one, gets the synchronous external abort a bus error gives, and goes on; the VM is
 * not stopped. A review finding: both stopped the VM (a NESTED_PAGE_FAULT exit).
 *  1. a branch to 0x20000000 (nothing there): instruction abort, EC 0x21, IFSC 0x10,
 *     FAR_EL1 the branch target;
 *  2. the same to the UART's page (a device, emulated, never executable);
 *  3. a stage-1 table whose level-1 entry for 0x80000000 points to a level-2 table at
 *     0x20000000: a load from 0x80000000 gives a data abort, EC 0x25, DFSC 0x10,
 *     FAR_EL1 0x80000000.
 */
#include "lib.h"

static volatile uint64_t resume, esr, far;
static uint64_t l1[512] __attribute__((aligned(4096)));

void guest_exception(uint64_t vector)
{
	esr = read_sysreg(esr_el1);
	far = read_sysreg(far_el1);
	if (vector != 4 || !resume) {
		gprintf("guest: unexpected exception (vector %u): ESR_EL1 %#lx FAR_EL1 %#lx\n", (unsigned)vector, esr,
			far);
		psci_system_off();
	}
	write_sysreg(resume, elr_el1);
	resume = 0;
}

/* Branches to target; the exception handler comes back to the label after the branch. */
static void jump(uint64_t target)
{
	__asm__ volatile("adr x9, 1f\n\tstr x9, [%0]\n\tdsb sy\n\tbr %1\n1:"
			 :
			 : "r"(&resume), "r"(target)
			 : "x9", "memory");
}

struct result {
	uint64_t esr, far;
};

static void report(const char *what, struct result r, uint64_t want_ec, uint64_t want_far)
{
	uint64_t ec = r.esr >> 26, fsc = r.esr & 0x3f;

	gprintf("guest: %s: EC %#lx FSC %#lx FAR %s\n", what, ec, fsc,
		ec == want_ec && fsc == 0x10 && r.far == want_far ? "as expected: ok" : "WRONG");
}

static void use_tables(uint64_t ttbr0)
{
	__asm__ volatile("dsb sy" ::: "memory");
	write_sysreg(ttbr0, ttbr0_el1);
	__asm__ volatile("isb; tlbi vmalle1; dsb nsh; isb" ::: "memory");
}

void guest_main(uint64_t vcpu, uint64_t boot_arg)
{
	uint64_t ttbr0 = read_sysreg(ttbr0_el1), v = 0;
	struct result r[3];

	(void)vcpu, (void)boot_arg;
	/*
	 * start.S's stage 1 maps 0-1 GiB as Device memory, which is never executable (a
	 * stage-1 permission fault). These tables (start.S's MAIR: Attr1 Normal) map 0-2 GiB as
	 * Normal memory, so the fetches reach stage 2, and 2-3 GiB through a level-2 table
	 * at 0x20000000, where there is nothing. Nothing is printed while they are in use.
	 */
	l1[0] = 0x00000000ul | (1ul << 10) | (3ul << 8) | (1ul << 2) | 1ul; /* block, AF, inner shareable, Attr1 */
	l1[1] = 0x40000000ul | (1ul << 10) | (3ul << 8) | (1ul << 2) | 1ul;
	l1[2] = 0x20000000ul | 3ul; /* table */
	use_tables((uint64_t)(uintptr_t)l1);
	jump(0x20000000);
	r[0] = (struct result){esr, far};
	jump(UART_BASE);
	r[1] = (struct result){esr, far};
	__asm__ volatile("adr x9, 1f\n\tstr x9, [%1]\n\tdsb sy\n\tldr %0, [%2]\n1:"
			 : "+r"(v)
			 : "r"(&resume), "r"(0x80000000ul)
			 : "x9", "memory");
	r[2] = (struct result){esr, far};
	use_tables(ttbr0);
	report("fetch from 0x20000000", r[0], 0x21, 0x20000000);
	report("fetch from the UART", r[1], 0x21, UART_BASE);
	report("load through a table at 0x20000000", r[2], 0x25, 0x80000000);
}
