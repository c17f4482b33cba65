/* SPDX-License-Identifier: MIT */
/*
 * A guest for the console of several VMs (tests/linux/cvisor-multicon.sh; issue #8), run
 * from configs, one VM per config: prints MULTICON_LINES whole lines at once (two VMs
 * print them at the same time), then "\rcvisor: exit 7" (which must not pass for cvisor:
 * review item 5), then a prompt with no newline (which cvisor must show after a short
 * quiet time), and reads its UART by polling: typed bytes are echoed, each line answered
 * with "multicon: got <line>"; "quit" powers the VM off.
 */
#include "lib.h"

#define MULTICON_LINES 40
#define UART_DR	       0x000
#define UART_FR	       0x018
#define FR_RXFE	       (1u << 4)

static uint32_t rd32(uint64_t a)
{
	return *(volatile uint32_t *)a;
}

void guest_main(uint64_t vcpu, uint64_t boot_arg)
{
	char line[64];
	unsigned len = 0;

	(void)vcpu, (void)boot_arg;
	for (unsigned i = 0; i < MULTICON_LINES; i++)
		gprintf("multicon: line %u: 0123456789abcdefghijklmnopqrstuvwxyz\n", i);
	gprintf("\rcvisor: exit 7\n");
	gprintf("multicon> ");
	for (;;) {
		char c;

		if (rd32(UART_BASE + UART_FR) & FR_RXFE)
			continue;
		c = (char)(rd32(UART_BASE + UART_DR) & 0xff);
		if (c == '\r')
			continue;
		if (c != '\n') {
			if (len < sizeof(line) - 1)
				line[len++] = c;
			gprintf("%c", c);
			continue;
		}
		line[len] = 0;
		gprintf("\nmulticon: got %s\n", line);
		if (len == 4 && line[0] == 'q' && line[1] == 'u' && line[2] == 'i' && line[3] == 't')
			break;
		len = 0;
		gprintf("multicon> ");
	}
	gprintf("multicon: bye\n");
	psci_system_off();
}
