/* SPDX-License-Identifier: MIT */
/*
 * The guest-facing emulated PL011 UART (ARM DDI 0183): enough of the register file for
 * a polling guest (DR, RSR/ECR, FR, ILPR, IBRD, FBRD, LCR_H, CR, IFLS, IMSC, RIS, MIS,
 * ICR, DMACR, the PrimeCell ID registers). TX only: received data is never available,
 * and the interrupt line is not wired. Output goes to a sink one line at a time,
 * so lines of several vCPUs never mix. Freestanding (the AArch64 guests' UART; unit-tested hosted).
 */
#ifndef CVISOR_PL011_H
#define CVISOR_PL011_H

#include <cvisor/device.h>
#include <cvisor/exit.h>
#include <cvisor/spinlock.h>
#include <cvisor/types.h>

struct vm;

#define PL011_SIZE     0x1000u
#define PL011_LINE_MAX 256u

struct pl011 {
	struct cv_spinlock lock; /* protects everything below: vCPUs access it concurrently */
	uint32_t ilpr, ibrd, fbrd, lcrh, cr, ifls, imsc, ris, dmacr;
	char line[PL011_LINE_MAX];
	size_t len;
	/* Gets whole lines ('\n' included, or PL011_LINE_MAX bytes), called with the lock held. */
	void (*sink)(void *ctx, const char *line, size_t len);
	void *ctx;
};

/* Resets the UART (PL011 reset values: CR = 0x300, IFLS = 0x12). */
void pl011_init(struct pl011 *u, void (*sink)(void *ctx, const char *line, size_t len), void *ctx);

/* Register read at offset; -CV_ERANGE for a bad width or an access outside the window. */
int pl011_read(struct pl011 *u, uint64_t offset, enum access_width width, uint64_t *val);

/* Register write at offset; a DR write queues one character (a full line goes to the sink). */
int pl011_write(struct pl011 *u, uint64_t offset, enum access_width width, uint64_t val);

/* Hands a partial line to the sink. */
void pl011_flush(struct pl011 *u);

/* Its device handlers (cvisor/device.h): dev is a hal_alloc'd struct pl011, freed by release. */
extern const struct device_ops pl011_ops;

/*
 * Creates a PL011 and registers it at base (4 KiB) on vm's MMIO bus; the VM then owns it
 * (a partial line is flushed when the VM releases it). -CV_ENOMEM, or vm_add_device's error.
 */
int vm_add_pl011(struct vm *vm, uint64_t base, void (*sink)(void *ctx, const char *line, size_t len), void *ctx);

#endif /* CVISOR_PL011_H */
