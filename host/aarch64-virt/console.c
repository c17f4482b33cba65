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
#include <cvisor/errors.h>

#include "platform.h"

#define UART_DR	     0x000
#define UART_FR	     0x018
#define UART_FR_RXFE (1u << 4)
#define UART_FR_TXFF (1u << 5)

#define INPUT_POLL_NS	     10000000ull  /* 10 ms between looks at an idle line */
#define INPUT_BUSY_NS	     1000000ull	  /* 1 ms while bytes flow (pasted text, tests) */
#define PARTIAL_LINE_IDLE_NS 100000000ull /* a guest's unterminated line goes out after 100 ms of quiet (#8) */

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

/* ---- guest consoles: one port per VM ---- */

/*
 * Every VM has a port (console_port_add, in the order of the configs). With more than one,
 * each guest line goes out behind "[name] " (issue #8). The physical console's current
 * line is tracked so that lines never mix: a guest's partial line (a prompt, handed over
 * after PARTIAL_LINE_IDLE_NS of quiet) is ended with a newline before anyone else writes,
 * and its owner's next bytes start a fresh, prefixed line. A guest line whose text, after
 * any C0 control characters (a '\r' would put it at column 0), starts with "cvisor: ", or
 * could still become that (the guest stopped mid-word), gets "[guest] " first: nothing a
 * guest prints passes for cvisor (DESIGN.md). Protected by console_lock.
 */
#define NO_PORT -1

struct port {
	unsigned vm_id;
	char name[32];
	const struct console_input *ops;
	void *ctx;
};

static struct port ports[PLAT_MAX_VMS];
static unsigned nports;
static int open_line = NO_PORT; /* the port whose partial line the console shows, or NO_PORT */
static bool open_text;		/* that line showed something other than control characters */

static bool is_c0(char c)
{
	return (unsigned char)c < 0x20 || c == 0x7f;
}

/* Ends a guest's partial line on the console, so that what follows starts a line. Caller holds console_lock. */
static void end_open_line_locked(void)
{
	if (open_line != NO_PORT) {
		write_locked("\n", 1);
		open_line = NO_PORT;
	}
}

void console_write(const char *s, size_t len)
{
	spin_lock(&console_lock);
	end_open_line_locked();
	write_locked(s, len);
	spin_unlock(&console_lock);
}

/* Whether text (after the line's control characters) is or may become "cvisor: ". */
static bool passes_for_cvisor(const char *s, size_t len)
{
	static const char me[] = "cvisor: ";
	size_t i = 0;

	while (i < len && is_c0(s[i]) && s[i] != '\n')
		i++;
	if (i == len || s[i] == '\n')
		return false; /* nothing visible yet: decided by what comes next */
	for (size_t k = 0; k < sizeof(me) - 1; k++, i++) {
		if (i == len)
			return true; /* cut short where it still matches: mark it to be safe */
		if (s[i] != me[k])
			return false;
	}
	return true;
}

void console_port_write(int port, const char *s, size_t len)
{
	const struct port *p;

	if (port < 0 || (unsigned)port >= nports || !len)
		return;
	p = &ports[port];
	spin_lock(&console_lock);
	if (open_line != port) {
		end_open_line_locked();
		if (nports > 1) {
			write_locked("[", 1);
			write_locked(p->name, strlen(p->name));
			write_locked("] ", 2);
		}
		open_text = false;
	}
	if (!open_text) {
		if (passes_for_cvisor(s, len))
			write_locked("[guest] ", 8);
		for (size_t i = 0; i < len && !open_text; i++)
			open_text = !is_c0(s[i]);
	}
	write_locked(s, len);
	open_line = s[len - 1] == '\n' ? NO_PORT : port;
	spin_unlock(&console_lock);
}

int console_port_add(unsigned vm_id, const char *name)
{
	if (nports >= PLAT_MAX_VMS)
		return -CV_ENOMEM;
	ports[nports].vm_id = vm_id;
	plat_snprintf(ports[nports].name, sizeof(ports[nports].name), "%s", name);
	return (int)nports++;
}

/* ---- input ---- */

#define CTRL_RBRACKET 0x1d /* Ctrl-]: the next digits name the VM that gets the input */

static spinlock_t input_lock = SPINLOCK_INIT; /* protects ports[].ops/ctx, the input state and held */
static int input_port;			      /* the port that gets what is typed */
static int held = -1;			      /* a byte read from the UART that the guest had no room for yet */
static bool escape;			      /* after Ctrl-]: reading a VM id */
static unsigned escape_id, escape_digits;
static struct hal_task *input_task;
static struct hal_waitq *input_wq;

static bool never(void *arg)
{
	(void)arg;
	return false;
}

static int port_of_id(unsigned id)
{
	for (unsigned i = 0; i < nports; i++)
		if (ports[i].vm_id == id)
			return (int)i;
	return NO_PORT;
}

/* Whether some VM's id is longer than the digits read so far and starts with them. */
static bool id_may_grow(unsigned id, unsigned digits)
{
	for (unsigned i = 0; i < nports; i++) {
		unsigned v = ports[i].vm_id, d = 1;

		for (unsigned t = v; t >= 10; t /= 10)
			d++;
		if (d <= digits)
			continue;
		while (d-- > digits)
			v /= 10;
		if (v == id)
			return true;
	}
	return false;
}

static void switch_input(unsigned id)
{
	int p = port_of_id(id);

	if (p == NO_PORT) {
		hal_log(HAL_LOG_WARN, "console input: no VM with id %u; it stays with vm %u", id,
			ports[input_port].vm_id);
		return;
	}
	input_port = p;
	hal_log(HAL_LOG_INFO, "console input: vm %u (%s)", id, ports[p].name);
}

/*
 * A typed byte while switching (Ctrl-] then a VM's base.id): true when it was taken here.
 * The id ends at the first byte that is no digit (dropped) or as soon as no longer id
 * could follow. Ctrl-] twice sends one Ctrl-] to the guest.
 */
static bool input_escape(uint8_t c)
{
	if (!escape) {
		if (c != CTRL_RBRACKET || nports < 2)
			return false;
		escape = true;
		escape_id = escape_digits = 0;
		return true;
	}
	if (c == CTRL_RBRACKET && escape_digits == 0) {
		escape = false;
		return false; /* the guest gets this one */
	}
	if (c >= '0' && c <= '9' && escape_digits < 9) {
		escape_id = escape_id * 10 + (c - '0');
		escape_digits++;
		if (port_of_id(escape_id) != NO_PORT && !id_may_grow(escape_id, escape_digits)) {
			escape = false;
			switch_input(escape_id);
		}
		return true;
	}
	escape = false;
	if (escape_digits)
		switch_input(escape_id);
	return true;
}

/* One look: returns true when bytes moved. Caller holds input_lock. */
static bool input_poll_locked(void)
{
	bool moved = false;
	uint64_t now = hal_now_ns();

	for (unsigned i = 0; i < nports; i++)
		if (ports[i].ops)
			ports[i].ops->idle(ports[i].ctx, now, PARTIAL_LINE_IDLE_NS);
	for (;;) {
		struct port *p = &ports[input_port];

		if (held < 0) {
			if (*(volatile uint32_t *)(uart + UART_FR) & UART_FR_RXFE)
				break;
			held = (int)(*(volatile uint32_t *)(uart + UART_DR) & 0xff);
			moved = true;
			if (input_escape((uint8_t)held)) {
				held = -1;
				continue;
			}
		}
		if (!p->ops || !p->ops->put(p->ctx, (uint8_t)held))
			break; /* no guest UART now, or its FIFO is full: keep it, try again next time */
		held = -1;
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
		busy = nports && input_poll_locked();
		spin_unlock(&input_lock);
	}
}

int console_port_bind(int port, const struct console_input *ops, void *ctx)
{
	if (port < 0 || (unsigned)port >= nports)
		return -CV_EINVAL;
	/* Under the lock: once it returns, no call into the previous UART is in progress. */
	spin_lock(&input_lock);
	ports[port].ops = ops;
	ports[port].ctx = ctx;
	spin_unlock(&input_lock);
	return 0;
}

int console_ports_ready(void)
{
	int ret;

	ret = hal_waitq_create(&input_wq);
	if (ret == 0)
		ret = hal_task_spawn(&input_task, "console-input", 0, 1, input_main, NULL);
	if (ret < 0)
		return ret;
	if (nports > 1)
		hal_log(HAL_LOG_INFO, "console input goes to vm %u (%s); Ctrl-] then a VM's id switches it",
			ports[0].vm_id, ports[0].name);
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
	end_open_line_locked();
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
