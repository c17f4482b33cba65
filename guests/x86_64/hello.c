/* SPDX-License-Identifier: MIT */
/* Prints one line on COM1 and powers off (start.S): IO_WRITE exits, then SYSTEM_DOWN OFF. */
#include "rt.h"

void guest_main(uint64_t boot_arg)
{
	(void)boot_arg;
	cv_puts("hello from x86_64\n");
}
