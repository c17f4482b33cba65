/* SPDX-License-Identifier: MIT */
/*
 * cvisor's console: the board's PL011 (polled; ARM DDI 0183 3.3), a small printf, hal_log
 * and hal_fatal. Output goes out in whole lines under one lock, so the lines of different
 * CPUs and of the guests never interleave. Input goes to the VM that owns the console
 * (console_set_input): a task on CPU 0 polls the UART's receive FIFO every few ms and
 * hands bytes on only while the guest's UART has room, so nothing typed is lost (QEMU
 * and a real UART's flow control hold the rest), and hands over a guest's partial line
 * (a shell prompt) once the guest stops writing.
 */
#include "platform.h"

#define UART_DR	     0x000
#define UART_FR	     0x018
#define UART_FR_RXFE (1u << 4)
#define UART_FR_TXFF (1u << 5)

#define INPUT_POLL_NS	   10000000ull /* 10 ms between looks at an idle line */
#define INPUT_BUSY_NS	   1000000ull  /* 1 ms while bytes flow (pasted text, tests) */
#define PARTIAL_LINE_IDLE_NS 20000000ull /* a guest's unterminated line goes out after 20 ms of quiet */

/* QEMU virt's UART; replaced by the DTB's "arm,pl011" node when there is one. */
static volatile uint8_t *uart = (volatile uint8_t *)0x09000000;
static spinlock_t console_lock = SPINLOCK_INIT;

void console_init(uint64_t uart_base)
{
	if (uart_base)
		uart = (volatile uint8_t *)uart_base;
}

static void uart_putc(char c)
{
	while (*(volatile uint32_t *)(uart + UART_FR) & UART_FR_TXFF)
		;
	*(volatile uint32_t *)(uart + UART_DR) = (uint8_t)c;
}

static void write_locked(const char *s, size_t len)
{
	for (size_t i = 0; i < len; i++) {
		if (s[i] == '\n')
			uart_putc('\r');
		uart_putc(s[i]);
	}
}

void console_write(const char *s, size_t len)
{
	spin_lock(&console_lock);
	write_locked(s, len);
	spin_unlock(&console_lock);
}

/* ---- input ---- */

static spinlock_t input_lock = SPINLOCK_INIT; /* protects input_* and held */
static const struct console_input *input_ops;
static void *input_ctx;
static int held = -1; /* a byte read from the UART that the guest had no room for yet */
static struct hal_task *input_task;
static struct hal_waitq *input_wq;

static bool never(void *arg)
{
	(void)arg;
	return false;
}

/* One look: returns true when bytes moved. Caller holds input_lock. */
static bool input_poll_locked(void)
{
	bool moved = false;

	input_ops->idle(input_ctx, hal_now_ns(), PARTIAL_LINE_IDLE_NS);
	for (;;) {
		if (held < 0) {
			if (*(volatile uint32_t *)(uart + UART_FR) & UART_FR_RXFE)
				break;
			held = (int)(*(volatile uint32_t *)(uart + UART_DR) & 0xff);
		}
		if (!input_ops->put(input_ctx, (uint8_t)held))
			break; /* the guest's FIFO is full: keep it, try again next time */
		held = -1;
		moved = true;
	}
	return moved;
}

static void input_main(void *arg)
{
	bool busy = false;

	(void)arg;
	for (;;) {
		hal_wait_until(input_wq, never, NULL, busy ? INPUT_BUSY_NS : INPUT_POLL_NS);
		spin_lock(&input_lock);
		busy = input_ops && input_poll_locked();
		spin_unlock(&input_lock);
	}
}

int console_set_input(const struct console_input *ops, void *ctx)
{
	int ret;

	if (ops && !input_task) {
		ret = hal_waitq_create(&input_wq);
		if (ret < 0)
			return ret;
		ret = hal_task_spawn(&input_task, "console-input", 0, 1, input_main, NULL);
		if (ret < 0)
			return ret;
	}
	/* Under the lock: once it returns, no call into the previous owner is in progress. */
	spin_lock(&input_lock);
	input_ops = ops;
	input_ctx = ctx;
	spin_unlock(&input_lock);
	return 0;
}

/* ---- printf: %[-0][width][l|ll|z](d|i|u|x|p|s|c|%) and '#' for 0x ---- */

struct out {
	char *buf;
	size_t size, len;
};

static void put(struct out *o, char c)
{
	if (o->len + 1 < o->size)
		o->buf[o->len] = c;
	o->len++;
}

static void put_num(struct out *o, uint64_t v, unsigned base, bool neg, int width, bool zero, bool left, bool alt)
{
	char tmp[24];
	int n = 0, total;

	do {
		unsigned d = (unsigned)(v % base);
		tmp[n++] = (char)(d < 10 ? '0' + d : 'a' + d - 10);
		v /= base;
	} while (v);
	total = n + (neg ? 1 : 0) + (alt ? 2 : 0);
	if (!left && !zero)
		for (; total < width; total++)
			put(o, ' ');
	if (neg)
		put(o, '-');
	if (alt) {
		put(o, '0');
		put(o, 'x');
	}
	if (!left && zero)
		for (; total < width; total++)
			put(o, '0');
	while (n)
		put(o, tmp[--n]);
	if (left)
		for (; total < width; total++)
			put(o, ' ');
}

int plat_vsnprintf(char *buf, size_t size, const char *fmt, va_list ap)
{
	struct out o = {buf, size, 0};

	for (; *fmt; fmt++) {
		bool zero = false, left = false, alt = false;
		int width = 0, lng = 0;

		if (*fmt != '%') {
			put(&o, *fmt);
			continue;
		}
		fmt++;
		for (;; fmt++) {
			if (*fmt == '0')
				zero = true;
			else if (*fmt == '-')
				left = true;
			else if (*fmt == '#')
				alt = true;
			else
				break;
		}
		while (*fmt >= '0' && *fmt <= '9')
			width = width * 10 + (*fmt++ - '0');
		while (*fmt == 'l' || *fmt == 'z') {
			lng++;
			fmt++;
		}
		switch (*fmt) {
		case 'd':
		case 'i': {
			int64_t v = lng ? va_arg(ap, int64_t) : va_arg(ap, int);
			put_num(&o, v < 0 ? 0 - (uint64_t)v : (uint64_t)v, 10, v < 0, width, zero, left, false);
			break;
		}
		case 'u':
			put_num(&o, lng ? va_arg(ap, uint64_t) : va_arg(ap, unsigned), 10, false, width, zero, left,
				false);
			break;
		case 'x':
			put_num(&o, lng ? va_arg(ap, uint64_t) : va_arg(ap, unsigned), 16, false, width, zero, left,
				alt);
			break;
		case 'p':
			put_num(&o, (uint64_t)(uintptr_t)va_arg(ap, void *), 16, false, width, zero, left, true);
			break;
		case 'c':
			put(&o, (char)va_arg(ap, int));
			break;
		case 's': {
			const char *s = va_arg(ap, const char *);
			int n = 0;

			if (!s)
				s = "(null)";
			while (s[n])
				n++;
			if (!left)
				for (int i = n; i < width; i++)
					put(&o, ' ');
			for (int i = 0; i < n; i++)
				put(&o, s[i]);
			if (left)
				for (int i = n; i < width; i++)
					put(&o, ' ');
			break;
		}
		case '%':
			put(&o, '%');
			break;
		case '\0':
			fmt--;
			break;
		default:
			put(&o, '%');
			put(&o, *fmt);
			break;
		}
	}
	if (size)
		buf[o.len < size ? o.len : size - 1] = '\0';
	return (int)o.len;
}

int plat_snprintf(char *buf, size_t size, const char *fmt, ...)
{
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = plat_vsnprintf(buf, size, fmt, ap);
	va_end(ap);
	return n;
}

void plat_printf(const char *fmt, ...)
{
	char buf[256];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = plat_vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	if (n >= (int)sizeof(buf))
		n = sizeof(buf) - 1;
	console_write(buf, (size_t)n);
}

static int log_level = HAL_LOG_INFO;

void hal_log(enum hal_log_level level, const char *fmt, ...)
{
	char buf[256];
	va_list ap;
	size_t n = 0;
	int m;

	if ((int)level > log_level)
		return;
	n = (size_t)plat_snprintf(buf, sizeof(buf), "cvisor: %s",
				  level == HAL_LOG_ERROR  ? "error: "
				  : level == HAL_LOG_WARN ? "warning: "
							  : "");
	va_start(ap, fmt);
	m = plat_vsnprintf(buf + n, sizeof(buf) - n - 1, fmt, ap);
	va_end(ap);
	n += (size_t)m;
	if (n > sizeof(buf) - 2)
		n = sizeof(buf) - 2;
	buf[n++] = '\n';
	console_write(buf, n);
}

#define PSCI_SYSTEM_OFF_FN 0x84000008u

_Noreturn void plat_exit(int code)
{
	plat_printf("cvisor: exit %d\n", code);
	/* QEMU ends with status 0 on any SYSTEM_OFF: the line above carries the result. */
	plat_smc(PSCI_SYSTEM_OFF_FN, 0, 0, 0);
	for (;;)
		__asm__ volatile("wfi");
}

_Noreturn void hal_fatal(const char *msg)
{
	char buf[256];
	int n = plat_snprintf(buf, sizeof(buf), "cvisor: fatal: %s\n", msg);

	/* Take the console even if this CPU died holding it: the message matters more. */
	for (int i = 0; i < 1000000 && !spin_trylock(&console_lock); i++)
		;
	write_locked(buf, (size_t)(n < (int)sizeof(buf) ? n : (int)sizeof(buf) - 1));
	write_locked("cvisor: exit 1\n", 15);
	plat_smc(PSCI_SYSTEM_OFF_FN, 0, 0, 0);
	for (;;)
		__asm__ volatile("wfi");
}

void plat_early_trap(uint64_t vec, uint64_t esr, uint64_t elr, uint64_t far);
void plat_early_trap(uint64_t vec, uint64_t esr, uint64_t elr, uint64_t far)
{
	char buf[160];

	plat_snprintf(buf, sizeof(buf), "unexpected EL2 exception: vector %u ESR %#lx ELR %#lx FAR %#lx", (unsigned)vec,
		      esr, elr, far);
	hal_fatal(buf);
}
