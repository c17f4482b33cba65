/* SPDX-License-Identifier: MIT */
/*
 * MMIO of every width to an address nothing backs: stores of 1, 2, 4 and 8 bytes, then
 * loads of 1, 2, 4 and 8 bytes and one sign-extending byte load, each value reported.
 */
#include "rt.h"

void guest_main(uint64_t boot_arg)
{
	uint64_t b = CV_TEST_MMIO_BASE;

	(void)boot_arg;
	cv_mmio_write8(b + 0x0, 0x12);
	cv_mmio_write16(b + 0x10, 0x3456);
	cv_mmio_write32(b + 0x20, 0x789abcde);
	cv_mmio_write64(b + 0x30, 0x0123456789abcdefull);
	cv_report(cv_mmio_read8(b + 0x100));
	cv_report(cv_mmio_read16(b + 0x110));
	cv_report(cv_mmio_read32(b + 0x120));
	cv_report(cv_mmio_read64(b + 0x130));
	/* movsbq: KVM's emulator sign-extends into the destination itself. */
	cv_report((uint64_t)(int64_t) * (volatile int8_t *)(b + 0x140));
}
