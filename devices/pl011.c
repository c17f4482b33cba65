/* SPDX-License-Identifier: MIT */
/*
 * Emulated PL011 (ARM PrimeCell UART PL011 TRM, DDI 0183G, 3.2 "Summary of registers").
 * Transmit is immediate: the FIFO is always empty (FR.TXFE) and never full, the receive
 * FIFO always empty (FR.RXFE). Interrupts are not wired: RIS only reflects the
 * always-ready transmitter for guests that look.
 */
#include <cvisor/errors.h>
#include <cvisor/hal.h>
#include <cvisor/vm.h>

#include <cvisor/pl011.h>

#define DR	0x000
#define RSR	0x004
#define FR	0x018
#define ILPR	0x020
#define IBRD	0x024
#define FBRD	0x028
#define LCRH	0x02c
#define CR	0x030
#define IFLS	0x034
#define IMSC	0x038
#define RIS	0x03c
#define MIS	0x040
#define ICR	0x044
#define DMACR	0x048
#define FR_RXFE (1u << 4)
#define FR_TXFE (1u << 7)
#define INT_TX	(1u << 5)

/* PrimeCell identification: PL011 r1p5 as QEMU models it (periph 0x00341011, cell 0xb105f00d). */
static const uint8_t id_regs[8] = {0x11, 0x10, 0x34, 0x00, 0x0d, 0xf0, 0x05, 0xb1};

void pl011_init(struct pl011 *u, void (*sink)(void *ctx, const char *line, size_t len), void *ctx)
{
	*u = (struct pl011){.cr = 0x300, .ifls = 0x12, .ris = INT_TX, .sink = sink, .ctx = ctx};
}

static bool width_ok(uint64_t offset, enum access_width width)
{
	return (width == ACCESS_WIDTH_1 || width == ACCESS_WIDTH_2 || width == ACCESS_WIDTH_4) &&
	       offset + (uint64_t)width <= PL011_SIZE;
}

static int do_read(struct pl011 *u, uint64_t offset, enum access_width width, uint64_t *val)
{
	uint32_t v = 0;

	if (!width_ok(offset, width))
		return -CV_ERANGE;
	switch (offset & ~3ull) {
	case DR:
	case RSR:
		v = 0; /* nothing received, no errors */
		break;
	case FR:
		v = FR_TXFE | FR_RXFE;
		break;
	case ILPR:
		v = u->ilpr;
		break;
	case IBRD:
		v = u->ibrd;
		break;
	case FBRD:
		v = u->fbrd;
		break;
	case LCRH:
		v = u->lcrh;
		break;
	case CR:
		v = u->cr;
		break;
	case IFLS:
		v = u->ifls;
		break;
	case IMSC:
		v = u->imsc;
		break;
	case RIS:
		v = u->ris;
		break;
	case MIS:
		v = u->ris & u->imsc;
		break;
	case DMACR:
		v = u->dmacr;
		break;
	default:
		if (offset >= 0xfe0 && offset < 0x1000)
			v = id_regs[(offset - 0xfe0) / 4];
		break;
	}
	*val = (v >> (8 * (offset & 3))) & access_width_mask(width);
	return 0;
}

static void flush_locked(struct pl011 *u)
{
	if (u->len && u->sink)
		u->sink(u->ctx, u->line, u->len);
	u->len = 0;
}

static int do_write(struct pl011 *u, uint64_t offset, enum access_width width, uint64_t val)
{
	uint32_t v = (uint32_t)(val & access_width_mask(width));

	if (!width_ok(offset, width))
		return -CV_ERANGE;
	switch (offset) {
	case DR:
		/* Transmit only while the UART and its transmitter are enabled (CR.UARTEN, CR.TXE)... */
		/* ...but firmware-less guests often skip CR: QEMU transmits regardless, and so do we. */
		u->line[u->len++] = (char)v;
		if ((char)v == '\n' || u->len == PL011_LINE_MAX)
			flush_locked(u);
		break;
	case RSR:
		break; /* ECR: clears errors; there are none */
	case ILPR:
		u->ilpr = v & 0xff;
		break;
	case IBRD:
		u->ibrd = v & 0xffff;
		break;
	case FBRD:
		u->fbrd = v & 0x3f;
		break;
	case LCRH:
		u->lcrh = v & 0xff;
		break;
	case CR:
		u->cr = v & 0xff87;
		break;
	case IFLS:
		u->ifls = v & 0x3f;
		break;
	case IMSC:
		u->imsc = v & 0x7ff;
		break;
	case ICR:
		u->ris &= ~(v & 0x7ff & ~INT_TX); /* the transmitter stays ready */
		break;
	case DMACR:
		u->dmacr = v & 7;
		break;
	default:
		break; /* read-only and reserved registers ignore writes */
	}
	return 0;
}

int pl011_read(struct pl011 *u, uint64_t offset, enum access_width width, uint64_t *val)
{
	int ret;

	cv_spin_lock(&u->lock);
	ret = do_read(u, offset, width, val);
	cv_spin_unlock(&u->lock);
	return ret;
}

int pl011_write(struct pl011 *u, uint64_t offset, enum access_width width, uint64_t val)
{
	int ret;

	cv_spin_lock(&u->lock);
	ret = do_write(u, offset, width, val);
	cv_spin_unlock(&u->lock);
	return ret;
}

void pl011_flush(struct pl011 *u)
{
	cv_spin_lock(&u->lock);
	flush_locked(u);
	cv_spin_unlock(&u->lock);
}

static int ops_read(void *dev, uint32_t vcpu_id, uint64_t offset, enum access_width width, uint64_t *val)
{
	(void)vcpu_id;
	/* A bad width is a guest mistake, not a host error: it reads as zero, like a bus would. */
	if (pl011_read(dev, offset, width, val) < 0)
		*val = 0;
	return 0;
}

static int ops_write(void *dev, uint32_t vcpu_id, uint64_t offset, enum access_width width, uint64_t val)
{
	(void)vcpu_id;
	pl011_write(dev, offset, width, val); /* a bad width is dropped */
	return 0;
}

static void ops_release(void *dev)
{
	pl011_flush(dev);
	hal_free(dev);
}

const struct device_ops pl011_ops = {
    .read = ops_read,
    .write = ops_write,
    .release = ops_release,
};

int vm_add_pl011(struct vm *vm, uint64_t base, void (*sink)(void *ctx, const char *line, size_t len), void *ctx)
{
	struct pl011 *u = hal_alloc(sizeof(*u));
	int ret;

	if (!u)
		return -CV_ENOMEM;
	pl011_init(u, sink, ctx);
	ret = vm_add_device(vm, BUS_MMIO, base, PL011_SIZE, &pl011_ops, u, "pl011");
	if (ret < 0)
		hal_free(u);
	return ret;
}
