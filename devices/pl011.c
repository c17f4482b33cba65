/* SPDX-License-Identifier: MIT */
/*
 * Emulated PL011 (ARM PrimeCell UART PL011 TRM, DDI 0183G, 3.2 "Summary of registers").
 *
 * Transmit is immediate: the TX FIFO is always empty (FR.TXFE) and never full (no
 * FR.TXFF), so a driver writes all it has at once. The TX interrupt (TXRIS) follows the
 * TRM's FIFO-level rule (3.4.3, UARTTXINTR: asserted while the FIFO is at or below its
 * trigger level, cleared by ICR or by filling the FIFO above the level, which never
 * happens here): it is raised by every transmit and when a driver unmasks TXIM (Linux's
 * amba-pl011 unmasks TXIM when it has more to send than fitted and waits for it),
 * cleared by ICR.TXIC.
 *
 * Receive: a FIFO of 32 bytes (LCR_H.FEN) or a single holding register. RXRIS is high
 * while the FIFO holds at least the IFLS RX trigger level (1/8 .. 7/8 of 32; 1 byte
 * without the FIFO), RTRIS (receive timeout) while it holds anything: the TRM raises it
 * after 32 bit periods without new data, and bytes from the host arrive in bursts long
 * after that. Both are levels of the FIFO, so reading it empty clears them (ICR cannot
 * hide data that is still waiting). The line (UARTINTR = MIS != 0) goes to an irq
 * callback on every change, as a level (the vGIC's SPI).
 */
#include <cvisor/errors.h>
#include <cvisor/hal.h>
#include <cvisor/vm.h>

#include <cvisor/pl011.h>

#define DR	 0x000
#define RSR	 0x004
#define FR	 0x018
#define ILPR	 0x020
#define IBRD	 0x024
#define FBRD	 0x028
#define LCRH	 0x02c
#define CR	 0x030
#define IFLS	 0x034
#define IMSC	 0x038
#define RIS	 0x03c
#define MIS	 0x040
#define ICR	 0x044
#define DMACR	 0x048
#define FR_RXFE	 (1u << 4)
#define FR_RXFF	 (1u << 6)
#define FR_TXFE	 (1u << 7)
#define LCRH_FEN (1u << 4)
#define INT_TX	 PL011_INT_TX
#define INT_RX	 PL011_INT_RX
#define INT_RT	 PL011_INT_RT

/* PrimeCell identification: PL011 r1p5 as QEMU models it (periph 0x00341011, cell 0xb105f00d). */
static const uint8_t id_regs[8] = {0x11, 0x10, 0x34, 0x00, 0x0d, 0xf0, 0x05, 0xb1};

void pl011_init(struct pl011 *u, void (*sink)(void *ctx, const char *line, size_t len), void *ctx)
{
	*u = (struct pl011){.cr = 0x300, .ifls = 0x12, .tx_int = true, .sink = sink, .ctx = ctx};
}

static unsigned fifo_depth(const struct pl011 *u)
{
	return (u->lcrh & LCRH_FEN) ? PL011_FIFO_DEPTH : 1;
}

/* IFLS.RXIFLSEL (bits 5:3): 1/8, 1/4, 1/2, 3/4, 7/8 full; the reserved values as 1/2. */
static unsigned rx_trigger(const struct pl011 *u)
{
	static const unsigned eighths[8] = {1, 2, 4, 6, 7, 4, 4, 4};

	if (!(u->lcrh & LCRH_FEN))
		return 1;
	return PL011_FIFO_DEPTH * eighths[(u->ifls >> 3) & 7] / 8;
}

static uint32_t raw_status(const struct pl011 *u)
{
	uint32_t ris = u->tx_int ? INT_TX : 0;

	if (u->rx_count >= rx_trigger(u))
		ris |= INT_RX;
	if (u->rx_count)
		ris |= INT_RT;
	return ris;
}

/* After any change: tells irq when UARTINTR moved. Caller holds the lock. */
static void update_line(struct pl011 *u)
{
	bool up = (raw_status(u) & u->imsc) != 0;

	if (up == u->line_up)
		return;
	u->line_up = up;
	if (u->irq)
		u->irq(u->irq_ctx, up);
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
		/* A read of any byte of DR pops the FIFO (error bits 11:8 are never set). */
		if (u->rx_count) {
			v = u->rx[u->rx_head];
			u->rx_head = (u->rx_head + 1) % PL011_FIFO_DEPTH;
			u->rx_count--;
			update_line(u);
		}
		break;
	case RSR:
		v = 0; /* no errors: flow control means no overrun */
		break;
	case FR:
		v = FR_TXFE | (u->rx_count ? 0 : FR_RXFE) | (u->rx_count >= fifo_depth(u) ? FR_RXFF : 0);
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
		v = raw_status(u);
		break;
	case MIS:
		v = raw_status(u) & u->imsc;
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
		u->last_tx_ns = hal_now_ns();
		u->tx_int = true; /* sent at once: the FIFO is below its level again */
		update_line(u);
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
		update_line(u); /* the RX trigger level depends on FEN */
		break;
	case CR:
		u->cr = v & 0xff87;
		break;
	case IFLS:
		u->ifls = v & 0x3f;
		update_line(u);
		break;
	case IMSC:
		/* Unmasking TXIM with the FIFO below its level: the TX interrupt is due (Linux waits for it). */
		if ((v & INT_TX) && !(u->imsc & INT_TX))
			u->tx_int = true;
		u->imsc = v & 0x7ff;
		update_line(u);
		break;
	case ICR:
		if (v & INT_TX)
			u->tx_int = false;
		update_line(u); /* RX and RT follow the FIFO; the modem and error sources never rise */
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

void pl011_flush_idle(struct pl011 *u, uint64_t now_ns, uint64_t idle_ns)
{
	cv_spin_lock(&u->lock);
	if (u->len && now_ns - u->last_tx_ns >= idle_ns)
		flush_locked(u);
	cv_spin_unlock(&u->lock);
}

void pl011_set_irq(struct pl011 *u, void (*irq)(void *ctx, bool level), void *ctx)
{
	cv_spin_lock(&u->lock);
	u->irq = irq;
	u->irq_ctx = ctx;
	u->line_up = (raw_status(u) & u->imsc) != 0;
	if (irq)
		irq(ctx, u->line_up);
	cv_spin_unlock(&u->lock);
}

bool pl011_receive(struct pl011 *u, uint8_t byte)
{
	bool ok;

	cv_spin_lock(&u->lock);
	ok = u->rx_count < fifo_depth(u);
	if (ok) {
		u->rx[(u->rx_head + u->rx_count) % PL011_FIFO_DEPTH] = byte;
		u->rx_count++;
		update_line(u);
	}
	cv_spin_unlock(&u->lock);
	return ok;
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

int vm_add_pl011_irq(struct vm *vm, uint64_t base, void (*sink)(void *ctx, const char *line, size_t len), void *ctx,
		     void (*irq)(void *ctx, bool level), void *irq_ctx, struct pl011 **out)
{
	struct pl011 *u = hal_alloc(sizeof(*u));
	int ret;

	if (!u)
		return -CV_ENOMEM;
	pl011_init(u, sink, ctx);
	if (irq)
		pl011_set_irq(u, irq, irq_ctx);
	ret = vm_add_device(vm, BUS_MMIO, base, PL011_SIZE, &pl011_ops, u, "pl011");
	if (ret < 0) {
		hal_free(u);
		return ret;
	}
	if (out)
		*out = u;
	return 0;
}

int vm_add_pl011(struct vm *vm, uint64_t base, void (*sink)(void *ctx, const char *line, size_t len), void *ctx)
{
	return vm_add_pl011_irq(vm, base, sink, ctx, NULL, NULL, NULL);
}
