/* SPDX-License-Identifier: MIT */
/*
 * The guest-facing emulated PL011 UART (ARM DDI 0183): enough of the register file for
 * a polling guest (DR, RSR/ECR, FR, ILPR, IBRD, FBRD, LCR_H, CR, IFLS, IMSC, RIS, MIS,
 * ICR, DMACR, the ID registers). TX only: received data is never available. Output is
 * handed to a sink one line at a time. Freestanding; callers serialise accesses to one
 * UART (the VMM's device lock) or accept that concurrent writers share one line buffer.
 */
#ifndef CVISOR_DEVICES_PL011_H
#define CVISOR_DEVICES_PL011_H

#include <cvisor/exit.h>
#include <cvisor/types.h>

#define PL011_SIZE     0x1000u
#define PL011_LINE_MAX 256u

struct pl011 {
	uint64_t base;
	uint32_t ilpr, ibrd, fbrd, lcrh, cr, ifls, imsc, ris, dmacr;
	char line[PL011_LINE_MAX];
	size_t len;
	void (*sink)(void *ctx, const char *line, size_t len); /* gets whole lines, '\n' included */
	void *ctx;
};

/* Resets the UART at guest-physical base (PL011 reset values, CR = 0x300). */
void pl011_init(struct pl011 *u, uint64_t base, void (*sink)(void *ctx, const char *line, size_t len), void *ctx);

/* True when [addr, addr + width) is inside the UART's 4 KiB window. */
bool pl011_claims(const struct pl011 *u, uint64_t addr, enum access_width width);

/* Register read at offset; -CV_ERANGE for a bad width or an access outside the window. */
int pl011_read(struct pl011 *u, uint64_t offset, enum access_width width, uint64_t *val);

/* Register write at offset; a DR write queues one character (a full line goes to the sink). */
int pl011_write(struct pl011 *u, uint64_t offset, enum access_width width, uint64_t val);

/* Hands a partial line to the sink (at VM shutdown). */
void pl011_flush(struct pl011 *u);

#endif /* CVISOR_DEVICES_PL011_H */
