/* SPDX-License-Identifier: MIT */
/*
 * Runs one kind of exit forever, chosen by the boot argument (test_abi.h CV_SPIN_*):
 * none (a pause loop, for kicks), port I/O, MMIO, or cvisor hypercalls (the benchmark).
 */
#include "rt.h"

void guest_main(uint64_t mode)
{
	uint32_t i = 0;

	cv_report(mode);
	for (;;) {
		switch (mode) {
		case CV_SPIN_PIO:
			cv_outb(CV_TEST_PIO_PORT8, (uint8_t)i);
			break;
		case CV_SPIN_MMIO:
			cv_mmio_write32(CV_TEST_MMIO_BASE, i);
			break;
		case CV_SPIN_HC:
			cv_hypercall(CV_HC_TEST_SUM, i, 1, 2, 3, 4, 5);
			break;
		case CV_SPIN_IDLE:
		default:
			cv_pause();
			break;
		}
		i++;
	}
}
