/* SPDX-License-Identifier: MIT */
/*
 * Port I/O of every width: OUTs of 1, 2 and 4 bytes, then INs of 1, 2 and 4 bytes whose
 * values are reported back (CV_TEST_REPORT_PORT), so the test sees that its answers
 * reached the guest's rax. With boot argument 1 it does a `rep outsb` of 4 bytes (KVM's
 * emulator hands it out one byte per exit) and then a `rep insb` of 4 bytes (KVM asks
 * for all four at once: the backend refuses it).
 */
#include "rt.h"

static const char four[4] = {'a', 'b', 'c', 'd'};

void guest_main(uint64_t boot_arg)
{
	if (boot_arg == 1) {
		const char *src = four;
		uint64_t n = sizeof(four);

		char buf[4];
		char *dst = buf;

		__asm__ volatile("rep outsb" : "+S"(src), "+c"(n) : "d"((uint16_t)CV_TEST_PIO_PORT8) : "memory");
		n = sizeof(buf);
		__asm__ volatile("rep insb" : "+D"(dst), "+c"(n) : "d"((uint16_t)CV_TEST_PIO_PORT8) : "memory");
		cv_report(0xdead);
		return;
	}
	cv_outb(CV_TEST_PIO_PORT8, 0x5a);
	cv_outw(CV_TEST_PIO_PORT16, 0xbeef);
	cv_outl(CV_TEST_PIO_PORT32, 0xdeadbeef);
	cv_report(cv_inb(CV_TEST_PIO_PORT8));
	cv_report(cv_inw(CV_TEST_PIO_PORT16));
	cv_report(cv_inl(CV_TEST_PIO_PORT32));
}
