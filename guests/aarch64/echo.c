/* SPDX-License-Identifier: MIT */
/*
 * Expected (with the vGIC, input piped into QEMU's serial port): what the user types
 * reaches the guest through the emulated PL011's receive FIFO and its interrupt (SPI 33
 * in the vGIC), as Linux's amba-pl011 driver takes it: the UART set up with the FIFO
 * on, RXIM | RTIM unmasked, the FIFO drained only in the interrupt handler. Each line is
 * echoed back ("echo: <line>"); "quit" ends the run with a summary: every byte arrived
 * through an interrupt, none was lost, and the line dropped once the FIFO was empty.
 */
#include <stdbool.h>

#include "lib.h"

#define GICD	   0x08000000ul
#define GICR	   0x080a0000ul
#define SGI_BASE   0x10000ul
#define GICR_WAKER 0x0014
#define UART_DR	   0x000
#define UART_FR	   0x018
#define UART_LCRH  0x02c
#define UART_CR	   0x030
#define UART_IMSC  0x038
#define UART_MIS   0x040
#define UART_ICR   0x044
#define FR_RXFE	   (1u << 4)

static volatile uint32_t irqs, bytes, done, stuck;
static char line[128];
static volatile unsigned len;

static void wr32(uint64_t a, uint32_t v)
{
	*(volatile uint32_t *)a = v;
}

static uint32_t rd32(uint64_t a)
{
	return *(volatile uint32_t *)a;
}

static void wr64(uint64_t a, uint64_t v)
{
	*(volatile uint64_t *)a = v;
}

static bool is_quit(void)
{
	return len == 4 && line[0] == 'q' && line[1] == 'u' && line[2] == 'i' && line[3] == 't';
}

static void rx_chars(void)
{
	while (!(rd32(UART_BASE + UART_FR) & FR_RXFE)) {
		char c = (char)(rd32(UART_BASE + UART_DR) & 0xff);

		bytes++;
		if (c == '\r')
			continue;
		if (c != '\n') {
			if (len < sizeof(line) - 1)
				line[len++] = c;
			continue;
		}
		line[len] = 0;
		gprintf("echo: %s\n", line);
		if (is_quit())
			done = 1;
		len = 0;
	}
}

void guest_exception(uint64_t vector)
{
	uint64_t intid;

	if (vector != 5) {
		gprintf("guest: unexpected exception (vector %u): ESR_EL1 %#lx\n", (unsigned)vector,
			read_sysreg(esr_el1));
		psci_system_off();
	}
	intid = read_sysreg(S3_0_C12_C12_0);
	if (intid == 33) {
		irqs++;
		rx_chars();
		/* The line is a level of the FIFO: drained, it must be down. */
		if (rd32(UART_BASE + UART_MIS))
			stuck++;
	}
	if (intid < 1020)
		write_sysreg(intid, S3_0_C12_C12_1);
}

void guest_main(uint64_t vcpu, uint64_t boot_arg)
{
	(void)vcpu, (void)boot_arg;
	gprintf("echo: ready\n");
	/* The distributor: affinity routing, group 1; SPI 33 group 1, routed to us, enabled. */
	wr32(GICD + 0x0000, 0x13);
	wr32(GICD + 0x0084, ~0u);	      /* IGROUPR1: SPIs 32-63 group 1 */
	wr32(GICD + 0x0420, 0xa0a0a0a0);      /* IPRIORITYR for 32-35 */
	wr64(GICD + 0x6000 + 8 * 33, 0);      /* IROUTER33: Aff 0.0.0.0 */
	wr32(GICD + 0x0104, 1u << (33 - 32)); /* ISENABLER1 */
	wr32(GICR + GICR_WAKER, rd32(GICR + GICR_WAKER) & ~2u);
	while (rd32(GICR + GICR_WAKER) & 4)
		;
	write_sysreg(0xff, S3_0_C4_C6_0);
	write_sysreg(1, S3_0_C12_C12_7);
	/* The UART as Linux's driver leaves it: FIFO on, 8 bits, enabled, RX and timeout unmasked. */
	wr32(UART_BASE + UART_LCRH, 0x70);
	wr32(UART_BASE + UART_CR, 0x301);
	wr32(UART_BASE + UART_ICR, 0x7ff);
	wr32(UART_BASE + UART_IMSC, 0x50);
	/* Checked and slept masked: the last line's interrupt between the check and a WFI would be missed. */
	__asm__ volatile("isb; msr daifset, #2; isb" ::: "memory");
	while (!done)
		__asm__ volatile("wfi; msr daifclr, #2; isb; msr daifset, #2; isb" ::: "memory");
	__asm__ volatile("msr daifclr, #2; isb" ::: "memory");
	gprintf("echo: %u bytes, all taken in interrupts, the line down once drained: %s\n", bytes,
		!stuck && irqs > 0 ? "yes" : "NO");
	gprintf("echo-stats: %u bytes in %u interrupts\n", bytes, irqs);
}
