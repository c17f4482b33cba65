/* SPDX-License-Identifier: MIT */
/*
 * An emulated 16550A UART (TI/NS PC16550D datasheet): the x86 guests' console on
 * CV_X86_COM1_PORT. Transmitted bytes go to a sink callback at once, so the
 * transmitter is always empty (LSR THRE|TEMT) and polling drivers never wait; received
 * bytes come from uart8250_receive. DLAB, IER, IIR/FCR, LCR, MCR (with loopback), LSR,
 * MSR and SCR behave as the datasheet says, enough for Linux's 8250 driver and simple
 * polling code. Freestanding: linked into core-level tests and any build.
 */
#ifndef CVISOR_UART8250_H
#define CVISOR_UART8250_H

#include <cvisor/device.h>
#include <cvisor/types.h>

struct vm;
struct uart8250;

#define UART8250_NREGS	   8 /* register window: base .. base + 7 */
#define UART8250_FIFO_SIZE 16

struct uart8250_config {
	/* A byte the guest transmitted (not in loopback). Called with the UART's lock held:
	 * it must not call back into this UART. */
	void (*tx)(void *ctx, uint8_t byte);
	/* Optional: the interrupt line (IIR pending, gated by MCR.OUT2 as on PCs) changed.
	 * Called with the UART's lock held, like tx. */
	void (*irq)(void *ctx, bool level);
	void *ctx;
};

/* A UART with no VM (cfg copied). -CV_EINVAL without a tx sink, -CV_ENOMEM. */
int uart8250_create(struct uart8250 **out, const struct uart8250_config *cfg);
void uart8250_destroy(struct uart8250 *u);

/*
 * Its device handlers (cvisor/device.h), dev = the struct uart8250 *, offsets 0..7;
 * release destroys it. Accesses wider than a byte read / write the low byte only.
 */
extern const struct device_ops uart8250_ops;

/*
 * Creates a UART and registers it at base (8 registers) in space of vm (BUS_PIO on x86:
 * CV_X86_COM1_PORT); the VM then owns it. *out (may be NULL) lets the caller feed input.
 */
int vm_add_uart8250(struct vm *vm, enum bus_space space, uint64_t base, const struct uart8250_config *cfg,
		    struct uart8250 **out);

/* Queues a received byte (RBR, LSR.DR, the RDA interrupt); false and LSR.OE when full. */
bool uart8250_receive(struct uart8250 *u, uint8_t byte);

#endif /* CVISOR_UART8250_H */
