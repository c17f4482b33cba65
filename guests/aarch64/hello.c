/* SPDX-License-Identifier: MIT */
/* Expected: a greeting through the emulated PL011, its ID registers (sign-extending loads), SYSTEM_OFF. */
#include "lib.h"

void guest_main(uint64_t vcpu, uint64_t boot_arg)
{
	volatile uint8_t *u = (volatile uint8_t *)UART_BASE;
	int8_t cell3 = *(volatile int8_t *)(u + 0xffc); /* LDRSB Wt: SSE=1, SF=0 */
	uint64_t cell3_x;

	__asm__ volatile("ldrsb %0, [%1]" : "=r"(cell3_x) : "r"(u + 0xffc)); /* LDRSB Xt: SSE=1, SF=1 */
	gprintf("hello from the guest: vCPU %u, boot argument %#lx\n", (unsigned)vcpu, boot_arg);
	gprintf("pl011: FR %#x, periph id %#x %#x, cell id 3 as int8 %d, as int64 %#lx\n",
		*(volatile uint32_t *)(u + 0x18), u[0xfe0], u[0xfe4], cell3, cell3_x);
	gprintf("cvisor: this line comes from the guest\n");
}
