/* SPDX-License-Identifier: MIT */
/*
 * 16550A UART emulation. Register map and bit meanings from the PC16550D datasheet
 * (TI SNLS378, "Register Description", Table 2 and sections 8.4-8.8):
 *   0 RBR (read) / THR (write)      DLAB=1: DLL
 *   1 IER                           DLAB=1: DLM
 *   2 IIR (read) / FCR (write)
 *   3 LCR   4 MCR   5 LSR   6 MSR   7 SCR
 * Transmission is instantaneous: a THR write reaches the sink (or, in loopback, the
 * receiver) at once, so THR and the transmit shift register are always empty.
 * One spinlock per UART covers every register: vCPUs of one VM may touch it at once.
 */
#include <cvisor/errors.h>
#include <cvisor/hal.h>
#include <cvisor/spinlock.h>
#include <cvisor/uart8250.h>
#include <cvisor/vm.h>

/* Register offsets. */
#define UART_RX	 0 /* RBR / THR / DLL */
#define UART_IER 1 /* IER / DLM */
#define UART_IIR 2 /* IIR (read) / FCR (write) */
#define UART_LCR 3
#define UART_MCR 4
#define UART_LSR 5
#define UART_MSR 6
#define UART_SCR 7

#define IER_ERBFI 0x01 /* received data available */
#define IER_ETBEI 0x02 /* transmitter holding register empty */
#define IER_ELSI  0x04 /* receiver line status */
#define IER_EDSSI 0x08 /* modem status */

#define IIR_NO_INT  0x01
#define IIR_MSI	    0x00
#define IIR_THRI    0x02
#define IIR_RDI	    0x04
#define IIR_RLSI    0x06
#define IIR_FIFO_ON 0xc0 /* bits 7:6 set when the FIFOs are enabled (16550A) */

#define FCR_ENABLE   0x01
#define FCR_CLEAR_RX 0x02
#define FCR_CLEAR_TX 0x04

#define LCR_DLAB 0x80

#define MCR_DTR	 0x01
#define MCR_RTS	 0x02
#define MCR_OUT1 0x04
#define MCR_OUT2 0x08
#define MCR_LOOP 0x10
#define MCR_MASK 0x1f

#define LSR_DR	 0x01
#define LSR_OE	 0x02
#define LSR_THRE 0x20
#define LSR_TEMT 0x40

#define MSR_DCTS   0x01
#define MSR_DDSR   0x02
#define MSR_TERI   0x04
#define MSR_DDCD   0x08
#define MSR_CTS	   0x10
#define MSR_DSR	   0x20
#define MSR_RI	   0x40
#define MSR_DCD	   0x80
#define MSR_DELTAS 0x0f

struct uart8250 {
	struct cv_spinlock lock;
	struct uart8250_config cfg;
	uint8_t dll, dlm, ier, lcr, mcr, scr, fcr;
	uint8_t lsr_err;   /* OE until LSR is read */
	uint8_t msr;	   /* status bits 7:4 and delta bits 3:0 */
	bool thri_pending; /* the THRE interrupt (set on empty, cleared by IIR read / THR write) */
	bool irq_level;
	uint8_t rx[UART8250_FIFO_SIZE];
	unsigned rx_head, rx_len;
};

/* ---- state helpers (lock held) ---- */

/* The modem input lines: a connected terminal normally, MCR's outputs in loopback (8.6). */
static uint8_t modem_lines(const struct uart8250 *u)
{
	uint8_t m = 0;

	if (!(u->mcr & MCR_LOOP))
		return MSR_CTS | MSR_DSR | MSR_DCD;
	if (u->mcr & MCR_RTS)
		m |= MSR_CTS;
	if (u->mcr & MCR_DTR)
		m |= MSR_DSR;
	if (u->mcr & MCR_OUT1)
		m |= MSR_RI;
	if (u->mcr & MCR_OUT2)
		m |= MSR_DCD;
	return m;
}

/* Recomputes MSR's status bits and latches the deltas (MSR bits 3:0). */
static void update_msr(struct uart8250 *u)
{
	uint8_t now = modem_lines(u), old = u->msr & 0xf0, delta = 0;

	if ((now ^ old) & MSR_CTS)
		delta |= MSR_DCTS;
	if ((now ^ old) & MSR_DSR)
		delta |= MSR_DDSR;
	if ((now ^ old) & MSR_DCD)
		delta |= MSR_DDCD;
	if ((old & MSR_RI) && !(now & MSR_RI)) /* TERI: trailing edge of RI only */
		delta |= MSR_TERI;
	u->msr = (uint8_t)(now | (u->msr & MSR_DELTAS) | delta);
}

static unsigned rx_capacity(const struct uart8250 *u)
{
	/* Without FIFOs (16450 mode) RBR holds one byte. */
	return (u->fcr & FCR_ENABLE) ? UART8250_FIFO_SIZE : 1;
}

static bool rx_push(struct uart8250 *u, uint8_t byte)
{
	if (u->rx_len >= rx_capacity(u)) {
		u->lsr_err |= LSR_OE; /* the new byte is lost (8.4, overrun) */
		return false;
	}
	u->rx[(u->rx_head + u->rx_len) % UART8250_FIFO_SIZE] = byte;
	u->rx_len++;
	return true;
}

static uint8_t rx_pop(struct uart8250 *u)
{
	uint8_t b;

	if (u->rx_len == 0)
		return 0;
	b = u->rx[u->rx_head];
	u->rx_head = (u->rx_head + 1) % UART8250_FIFO_SIZE;
	u->rx_len--;
	return b;
}

/* The highest-priority pending interrupt's IIR id (Table 4), or IIR_NO_INT. */
static uint8_t pending_iir(const struct uart8250 *u)
{
	if ((u->ier & IER_ELSI) && (u->lsr_err & LSR_OE))
		return IIR_RLSI;
	if ((u->ier & IER_ERBFI) && u->rx_len)
		return IIR_RDI;
	if ((u->ier & IER_ETBEI) && u->thri_pending)
		return IIR_THRI;
	if ((u->ier & IER_EDSSI) && (u->msr & MSR_DELTAS))
		return IIR_MSI;
	return IIR_NO_INT;
}

/* The INTRPT pin reaches the PC's interrupt line through OUT2; loopback disconnects it. */
static void update_irq(struct uart8250 *u)
{
	bool level = pending_iir(u) != IIR_NO_INT && (u->mcr & MCR_OUT2) && !(u->mcr & MCR_LOOP);

	if (level != u->irq_level) {
		u->irq_level = level;
		if (u->cfg.irq)
			u->cfg.irq(u->cfg.ctx, level);
	}
}

static void transmit(struct uart8250 *u, uint8_t byte)
{
	if (u->mcr & MCR_LOOP)
		rx_push(u, byte); /* loopback: the transmitter feeds the receiver (8.6) */
	else
		u->cfg.tx(u->cfg.ctx, byte);
	/* The byte left at once: THR is empty again, which raises THRE anew. */
	u->thri_pending = true;
}

/* ---- register access ---- */

static uint8_t reg_read(struct uart8250 *u, unsigned reg)
{
	uint8_t v;

	switch (reg) {
	case UART_RX:
		if (u->lcr & LCR_DLAB)
			return u->dll;
		return rx_pop(u);
	case UART_IER:
		return (u->lcr & LCR_DLAB) ? u->dlm : u->ier;
	case UART_IIR:
		v = pending_iir(u);
		/* Reading IIR while THRE is the reported source clears it (Table 4). */
		if (v == IIR_THRI)
			u->thri_pending = false;
		return (uint8_t)(v | ((u->fcr & FCR_ENABLE) ? IIR_FIFO_ON : 0));
	case UART_LCR:
		return u->lcr;
	case UART_MCR:
		return u->mcr;
	case UART_LSR:
		v = (uint8_t)(LSR_THRE | LSR_TEMT | u->lsr_err | (u->rx_len ? LSR_DR : 0));
		u->lsr_err = 0; /* error bits clear on read */
		return v;
	case UART_MSR:
		v = u->msr;
		u->msr &= (uint8_t)~MSR_DELTAS; /* deltas clear on read */
		return v;
	case UART_SCR:
	default:
		return u->scr;
	}
}

static void reg_write(struct uart8250 *u, unsigned reg, uint8_t v)
{
	switch (reg) {
	case UART_RX:
		if (u->lcr & LCR_DLAB)
			u->dll = v;
		else
			transmit(u, v);
		break;
	case UART_IER:
		if (u->lcr & LCR_DLAB) {
			u->dlm = v;
			break;
		}
		/* Enabling ETBEI while THR is empty raises THRE at once (16550A behaviour). */
		if ((v & IER_ETBEI) && !(u->ier & IER_ETBEI))
			u->thri_pending = true;
		u->ier = v & 0x0f;
		break;
	case UART_IIR: /* FCR */
		if ((v & FCR_ENABLE) != (u->fcr & FCR_ENABLE) || (v & FCR_CLEAR_RX))
			u->rx_head = u->rx_len = 0; /* changing FIFO mode resets the FIFOs */
		u->fcr = v & (FCR_ENABLE | 0xc0);   /* CLEAR bits self-clear; trigger level kept */
		break;
	case UART_LCR:
		u->lcr = v;
		break;
	case UART_MCR:
		u->mcr = v & MCR_MASK;
		update_msr(u);
		break;
	case UART_LSR: /* factory test only */
	case UART_MSR: /* read-only */
		break;
	case UART_SCR:
	default:
		u->scr = v;
		break;
	}
}

static int uart_read(void *dev, uint32_t vcpu_id, uint64_t offset, enum access_width width, uint64_t *val)
{
	struct uart8250 *u = dev;

	(void)vcpu_id;
	(void)width;
	if (offset >= UART8250_NREGS)
		return -CV_ERANGE;
	cv_spin_lock(&u->lock);
	*val = reg_read(u, (unsigned)offset);
	update_irq(u);
	cv_spin_unlock(&u->lock);
	return 0;
}

static int uart_write(void *dev, uint32_t vcpu_id, uint64_t offset, enum access_width width, uint64_t val)
{
	struct uart8250 *u = dev;

	(void)vcpu_id;
	(void)width;
	if (offset >= UART8250_NREGS)
		return -CV_ERANGE;
	cv_spin_lock(&u->lock);
	reg_write(u, (unsigned)offset, (uint8_t)val);
	update_irq(u);
	cv_spin_unlock(&u->lock);
	return 0;
}

static void uart_release(void *dev)
{
	uart8250_destroy(dev);
}

const struct device_ops uart8250_ops = {
    .read = uart_read,
    .write = uart_write,
    .release = uart_release,
};

int uart8250_create(struct uart8250 **out, const struct uart8250_config *cfg)
{
	struct uart8250 *u;

	if (!out || !cfg || !cfg->tx)
		return -CV_EINVAL;
	u = hal_alloc(sizeof(*u));
	if (!u)
		return -CV_ENOMEM;
	u->cfg = *cfg;
	/* Reset values (Table 5): all zero but LSR (computed) and MSR (the input lines). */
	update_msr(u);
	u->msr &= (uint8_t)~MSR_DELTAS;
	*out = u;
	return 0;
}

void uart8250_destroy(struct uart8250 *u)
{
	hal_free(u);
}

int vm_add_uart8250(struct vm *vm, enum bus_space space, uint64_t base, const struct uart8250_config *cfg,
		    struct uart8250 **out)
{
	struct uart8250 *u;
	int ret;

	ret = uart8250_create(&u, cfg);
	if (ret < 0)
		return ret;
	ret = vm_add_device(vm, space, base, UART8250_NREGS, &uart8250_ops, u, "uart8250");
	if (ret < 0) {
		uart8250_destroy(u);
		return ret;
	}
	if (out)
		*out = u;
	return 0;
}

bool uart8250_receive(struct uart8250 *u, uint8_t byte)
{
	bool ok;

	cv_spin_lock(&u->lock);
	ok = rx_push(u, byte);
	update_irq(u);
	cv_spin_unlock(&u->lock);
	return ok;
}
