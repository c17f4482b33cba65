/* SPDX-License-Identifier: MIT */
/*
 * Runs one kind of exit forever, chosen by the boot argument (test_abi.h CV_SPIN_*):
 * none (a pause loop, for kicks), port I/O, MMIO, or cvisor hypercalls (the benchmark).
 * Each loop is two or three instructions, so that an exit's cost is mostly the exit's:
 * this host's PVM emulates supervisor-mode guest code at microseconds per instruction.
 */
#include "rt.h"

void guest_main(uint64_t mode)
{
	cv_report(mode);
	switch (mode) {
	case CV_SPIN_PIO:
		__asm__ volatile("1: outb %%al, %%dx; jmp 1b" : : "a"(0), "d"(CV_TEST_PIO_PORT8) : "memory");
		break;
	case CV_SPIN_MMIO:
		__asm__ volatile("1: movl %%eax, (%%rdi); jmp 1b" : : "a"(0), "D"(CV_TEST_MMIO_BASE) : "memory");
		break;
	case CV_SPIN_HC:
		/* rax comes back as the result: the ID is loaded again every time. */
		__asm__ volatile("1: movl %[fn], %%eax; outl %%eax, %[port]; jmp 1b"
				 :
				 : [fn] "i"(CV_HC_TEST_SUM), [port] "i"(CV_X86_HC_PORT), "D"(1), "S"(2), "d"(3), "c"(4)
				 : "rax", "memory");
		break;
	case CV_SPIN_IDLE:
	default:
		for (;;)
			cv_pause();
	}
}
