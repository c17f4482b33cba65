/* SPDX-License-Identifier: MIT */
/*
 * The guest-facing emulated PL011 UART (ARM DDI 0183): the register file Linux's
 * amba-pl011 driver and polling guests use (DR, RSR/ECR, FR, ILPR, IBRD, FBRD, LCR_H, CR,
 * IFLS, IMSC, RIS, MIS, ICR, DMACR, the PrimeCell ID registers), transmit and receive,
 * and the interrupt line (UARTINTR: RX, receive timeout and TX sources).
 * Transmit is immediate: output goes to a sink one line at a time, so lines of several
 * vCPUs never mix (pl011_flush_idle hands over a partial line, such as a shell's prompt,
 * once the guest has stopped writing). Received bytes come from pl011_receive into a
 * 32-entry FIFO (1 entry with LCR_H.FEN clear). Freestanding (unit-tested hosted).
 */
#ifndef CVISOR_PL011_H
#define CVISOR_PL011_H

#include <cvisor/device.h>
#include <cvisor/exit.h>
#include <cvisor/spinlock.h>
#include <cvisor/types.h>

struct vm;

#define PL011_SIZE	 0x1000u
#define PL011_LINE_MAX	 256u
#define PL011_FIFO_DEPTH 32u

/* RIS / MIS / IMSC / ICR bits (DDI 0183G 3.3.10-3.3.14). */
#define PL011_INT_RX (1u << 4)
#define PL011_INT_TX (1u << 5)
#define PL011_INT_RT (1u << 6)

/* The interrupt of QEMU virt's PL011: SPI 1, INTID 33 (what boot/fdt.c describes). */
#define PL011_VIRT_INTID 33u

struct pl011 {
	struct cv_spinlock lock; /* protects everything below: vCPUs and the host access it concurrently */
	uint32_t ilpr, ibrd, fbrd, lcrh, cr, ifls, imsc, dmacr;
	bool tx_int;  /* TXRIS: set by every transmit (the FIFO is at once below its level), cleared by ICR */
	bool line_up; /* UARTINTR as last reported to irq */
	uint8_t rx[PL011_FIFO_DEPTH];
	unsigned rx_head, rx_count;
	char line[PL011_LINE_MAX];
	size_t len;
	uint64_t last_tx_ns; /* when the guest last transmitted (pl011_flush_idle) */
	/* Gets whole lines ('\n' included, or PL011_LINE_MAX bytes), called with the lock held. */
	void (*sink)(void *ctx, const char *line, size_t len);
	void *ctx;
	/* Optional: UARTINTR (MIS != 0) changed; called with the lock held (must not call back in). */
	void (*irq)(void *ctx, bool level);
	void *irq_ctx;
};

/* Resets the UART (PL011 reset values: CR = 0x300, IFLS = 0x12), with no interrupt line. */
void pl011_init(struct pl011 *u, void (*sink)(void *ctx, const char *line, size_t len), void *ctx);

/* Connects the interrupt line (NULL: none); irq is called at once with the current level. */
void pl011_set_irq(struct pl011 *u, void (*irq)(void *ctx, bool level), void *ctx);

/* Register read at offset; -CV_ERANGE for a bad width or an access outside the window. */
int pl011_read(struct pl011 *u, uint64_t offset, enum access_width width, uint64_t *val);

/* Register write at offset; a DR write queues one character (a full line goes to the sink). */
int pl011_write(struct pl011 *u, uint64_t offset, enum access_width width, uint64_t val);

/*
 * A byte from the outside world: queued in the receive FIFO (RX and receive-timeout
 * interrupts per IFLS and IMSC). false when the FIFO is full: nothing is queued and
 * nothing is lost, the caller keeps the byte and offers it again later (flow control,
 * so the UART never reports an overrun).
 */
bool pl011_receive(struct pl011 *u, uint8_t byte);

/* Hands a partial line to the sink. */
void pl011_flush(struct pl011 *u);

/* Hands a partial line to the sink when the guest has transmitted nothing for idle_ns (now_ns: hal_now_ns). */
void pl011_flush_idle(struct pl011 *u, uint64_t now_ns, uint64_t idle_ns);

/* Its device handlers (cvisor/device.h): dev is a hal_alloc'd struct pl011, freed by release. */
extern const struct device_ops pl011_ops;

/*
 * Creates a PL011 and registers it at base (4 KiB) on vm's MMIO bus; the VM then owns it
 * (a partial line is flushed when the VM releases it). -CV_ENOMEM, or vm_add_device's error.
 */
int vm_add_pl011(struct vm *vm, uint64_t base, void (*sink)(void *ctx, const char *line, size_t len), void *ctx);

/*
 * The same, with the interrupt line connected (irq may be NULL) and the UART returned in
 * *out (may be NULL) for pl011_receive / pl011_flush_idle: valid until the VM is released.
 */
int vm_add_pl011_irq(struct vm *vm, uint64_t base, void (*sink)(void *ctx, const char *line, size_t len), void *ctx,
		     void (*irq)(void *ctx, bool level), void *irq_ctx, struct pl011 **out);

#endif /* CVISOR_PL011_H */
