/* SPDX-License-Identifier: MIT */
/* Unit tests of devices/uart8250.c: the 16550A registers, and the UART on a VM's bus. */
#define _GNU_SOURCE
#include <pthread.h>
#include <string.h>

#include <cvisor/errors.h>
#include <cvisor/guest_abi.h>
#include <cvisor/uart8250.h>
#include <cvisor/vm.h>

#include "support/unit.h"

struct sink {
	char buf[4096];
	_Atomic unsigned len;
	unsigned irq_changes;
	bool irq;
};

static void sink_tx(void *ctx, uint8_t byte)
{
	struct sink *s = ctx;
	unsigned n = atomic_load(&s->len);

	if (n < sizeof(s->buf))
		s->buf[n] = (char)byte;
	atomic_store(&s->len, n + 1); /* called under the UART's lock: one writer at a time */
}

static void sink_irq(void *ctx, bool level)
{
	struct sink *s = ctx;

	s->irq_changes++;
	s->irq = level;
}

static struct uart8250 *new_uart(struct sink *s)
{
	struct uart8250_config cfg = {sink_tx, sink_irq, s};
	struct uart8250 *u = NULL;

	memset(s, 0, sizeof(*s));
	assert_int_equal(uart8250_create(&u, &cfg), 0);
	return u;
}

static uint8_t rd(struct uart8250 *u, unsigned reg)
{
	uint64_t v = 0xdead;

	assert_int_equal(uart8250_ops.read(u, 0, reg, ACCESS_WIDTH_1, &v), 0);
	assert_true(v <= 0xff);
	return (uint8_t)v;
}

static void wr(struct uart8250 *u, unsigned reg, uint8_t v)
{
	assert_int_equal(uart8250_ops.write(u, 0, reg, ACCESS_WIDTH_1, v), 0);
}

static void test_reset_and_tx(void **state)
{
	struct sink s;
	struct uart8250 *u = new_uart(&s);
	uint64_t v;

	(void)state;
	assert_int_equal(rd(u, 1), 0);	  /* IER */
	assert_int_equal(rd(u, 2), 0x01); /* IIR: nothing pending, no FIFOs */
	assert_int_equal(rd(u, 3), 0);	  /* LCR */
	assert_int_equal(rd(u, 4), 0);	  /* MCR */
	assert_int_equal(rd(u, 5), 0x60); /* LSR: THRE | TEMT, so polling drivers proceed */
	assert_int_equal(rd(u, 6), 0xb0); /* MSR: DCD | DSR | CTS, no deltas */
	wr(u, 0, 'h');
	wr(u, 0, 'i');
	assert_int_equal(atomic_load(&s.len), 2);
	assert_memory_equal(s.buf, "hi", 2);
	assert_int_equal(rd(u, 5), 0x60);
	/* RBR with nothing received reads 0. */
	assert_int_equal(rd(u, 0), 0);
	/* Out-of-window offsets are the bus's business, but refused here too. */
	assert_int_equal(uart8250_ops.read(u, 0, 8, ACCESS_WIDTH_1, &v), -CV_ERANGE);
	assert_int_equal(uart8250_ops.write(u, 0, 8, ACCESS_WIDTH_1, 0), -CV_ERANGE);
	/* A wider access uses the low byte. */
	assert_int_equal(uart8250_ops.write(u, 0, 0, ACCESS_WIDTH_4, 0x12345621), 0);
	assert_int_equal(s.buf[2], '!');
	uart8250_destroy(u);

	struct uart8250_config nosink = {0};
	assert_int_equal(uart8250_create(&u, &nosink), -CV_EINVAL);
}

static void test_dlab_and_scratch(void **state)
{
	struct sink s;
	struct uart8250 *u = new_uart(&s);

	(void)state;
	wr(u, 3, 0x83); /* DLAB, 8N1 */
	wr(u, 0, 0x0c); /* DLL: 9600 baud */
	wr(u, 1, 0x01); /* DLM */
	assert_int_equal(rd(u, 0), 0x0c);
	assert_int_equal(rd(u, 1), 0x01);
	assert_int_equal(atomic_load(&s.len), 0); /* DLL writes are not data */
	assert_int_equal(rd(u, 1), 0x01);
	wr(u, 3, 0x03);
	assert_int_equal(rd(u, 3), 0x03);
	assert_int_equal(rd(u, 1), 0x00); /* IER again, untouched by the DLM write */
	wr(u, 0, 'x');
	assert_int_equal(atomic_load(&s.len), 1);
	wr(u, 1, 0xff);
	assert_int_equal(rd(u, 1), 0x0f); /* IER bits 7:4 are zero */
	wr(u, 7, 0xa5);
	assert_int_equal(rd(u, 7), 0xa5);
	wr(u, 5, 0x00); /* LSR and MSR writes do nothing */
	wr(u, 6, 0x00);
	assert_int_equal(rd(u, 5), 0x60);
	wr(u, 3, 0x83);
	assert_int_equal(rd(u, 0), 0x0c); /* the divisor latch kept its value */
	uart8250_destroy(u);
}

static void test_thre_interrupt(void **state)
{
	struct sink s;
	struct uart8250 *u = new_uart(&s);

	(void)state;
	wr(u, 4, 0x08); /* OUT2: the interrupt reaches the line */
	assert_false(s.irq);
	wr(u, 1, 0x02); /* ETBEI with THR empty: THRE at once */
	assert_true(s.irq);
	assert_int_equal(rd(u, 2), 0x02);
	/* Reading IIR with THRE the source clears it. */
	assert_false(s.irq);
	assert_int_equal(rd(u, 2), 0x01);
	/* Each transmitted byte empties THR again. */
	wr(u, 0, 'a');
	assert_true(s.irq);
	assert_int_equal(rd(u, 2), 0x02);
	/* Without OUT2 the interrupt is pending but the line stays low. */
	wr(u, 4, 0x00);
	wr(u, 0, 'b');
	assert_false(s.irq);
	assert_int_equal(rd(u, 2), 0x02);
	/* Disabling ETBEI hides it. */
	wr(u, 0, 'c');
	wr(u, 1, 0x00);
	assert_int_equal(rd(u, 2), 0x01);
	/* FIFOs on: IIR bits 7:6 say so. */
	wr(u, 2, 0x07);
	assert_int_equal(rd(u, 2), 0xc1);
	wr(u, 2, 0x00);
	assert_int_equal(rd(u, 2), 0x01);
	uart8250_destroy(u);
}

static void test_receive(void **state)
{
	struct sink s;
	struct uart8250 *u = new_uart(&s);

	(void)state;
	wr(u, 4, 0x08);
	wr(u, 1, 0x03); /* ERBFI | ETBEI */
	assert_int_equal(rd(u, 2), 0x02);
	assert_true(uart8250_receive(u, 'k'));
	assert_true(s.irq);
	assert_int_equal(rd(u, 5), 0x61);	/* DR */
	assert_int_equal(rd(u, 2), 0x04);	/* RDA outranks THRE */
	assert_false(uart8250_receive(u, 'l')); /* no FIFO: one byte, then overrun */
	assert_int_equal(rd(u, 0), 'k');
	assert_int_equal(rd(u, 5), 0x62); /* OE, no data */
	assert_int_equal(rd(u, 5), 0x60); /* OE clears on read */
	assert_false(s.irq);
	/* With FIFOs, sixteen bytes fit, in order. */
	wr(u, 2, 0x01);
	for (unsigned i = 0; i < UART8250_FIFO_SIZE; i++)
		assert_true(uart8250_receive(u, (uint8_t)('A' + i)));
	assert_false(uart8250_receive(u, '!'));
	for (unsigned i = 0; i < UART8250_FIFO_SIZE; i++)
		assert_int_equal(rd(u, 0), 'A' + i);
	assert_int_equal(rd(u, 5) & 0x01, 0);
	/* FCR's clear-RX bit empties the FIFO. */
	assert_true(uart8250_receive(u, 'z'));
	wr(u, 2, 0x03);
	assert_int_equal(rd(u, 5) & 0x01, 0);
	uart8250_destroy(u);
}

static void test_loopback_and_msr(void **state)
{
	struct sink s;
	struct uart8250 *u = new_uart(&s);

	(void)state;
	/* Linux's 8250 probe: loopback with the outputs set must show in MSR. */
	wr(u, 4, 0x1f); /* LOOP | OUT2 | OUT1 | RTS | DTR */
	assert_int_equal(rd(u, 6) & 0xf0, 0xf0);
	wr(u, 4, 0x10); /* LOOP, all outputs off */
	uint8_t msr = rd(u, 6);
	assert_int_equal(msr & 0xf0, 0x00);
	assert_int_equal(msr & 0x0f, 0x0f);   /* CTS, DSR, DCD changed; RI fell (TERI) */
	assert_int_equal(rd(u, 6) & 0x0f, 0); /* deltas clear on read */
	/* Loopback: what is sent is received, not shown. */
	wr(u, 0, 'q');
	assert_int_equal(atomic_load(&s.len), 0);
	assert_int_equal(rd(u, 5), 0x61);
	assert_int_equal(rd(u, 0), 'q');
	/* Modem-status interrupt; the line stays low in loopback. */
	wr(u, 1, 0x08);
	wr(u, 4, 0x12); /* RTS -> CTS changes */
	assert_int_equal(rd(u, 2), 0x00);
	assert_false(s.irq);
	assert_int_equal(rd(u, 6), 0x11); /* CTS, DCTS */
	assert_int_equal(rd(u, 2), 0x01);
	wr(u, 4, 0x00);
	assert_int_equal(rd(u, 6) & 0xf0, 0xb0);
	uart8250_destroy(u);
}

/* The UART on a VM's port bus, reached through vm_run_vcpu. */
static void test_on_vm(void **state)
{
	struct vm_config cfg;
	struct vm *vm = NULL;
	struct uart8250 *u = NULL;
	struct sink s;
	struct uart8250_config ucfg = {sink_tx, NULL, &s};
	struct vcpu_exit e;
	const char *msg = "ok\n";

	(void)state;
	memset(&s, 0, sizeof(s));
	memset(&cfg, 0, sizeof(cfg));
	cfg.id = 9;
	cfg.cpu_num = 1;
	cfg.nregions = 1;
	cfg.regions[0] = (struct vm_mem_region){.gpa = 0, .size = 0x1000};
	assert_int_equal(vm_create(&vm, &cfg), 0);
	assert_int_equal(vm_add_uart8250(vm, BUS_PIO, CV_X86_COM1_PORT, &ucfg, &u), 0);
	assert_non_null(u);
	assert_int_equal(vm_add_uart8250(vm, BUS_PIO, CV_X86_COM1_PORT + 4, &ucfg, NULL), -CV_EEXIST);
	assert_int_equal(vm_boot(vm), 0);
	for (const char *p = msg; *p; p++) {
		struct vcpu_exit lsr = {.kind = VCPU_EXIT_IO_READ, .io_read = {CV_X86_COM1_PORT + 5, ACCESS_WIDTH_1}};
		struct vcpu_exit thr = {.kind = VCPU_EXIT_IO_WRITE,
					.io_write = {CV_X86_COM1_PORT, ACCESS_WIDTH_1, (uint8_t)*p}};

		assert_true(fake_script_exit(&vm_vcpu(vm, 0)->arch, &lsr));
		assert_true(fake_script_exit(&vm_vcpu(vm, 0)->arch, &thr));
	}
	assert_true(fake_script_exit(&vm_vcpu(vm, 0)->arch, &(struct vcpu_exit){.kind = VCPU_EXIT_HALT}));
	assert_int_equal(vm_run_vcpu(vm, 0, &e), 0);
	assert_int_equal(e.kind, VCPU_EXIT_HALT);
	assert_int_equal(atomic_load(&s.len), 3);
	assert_memory_equal(s.buf, "ok\n", 3);
	assert_int_equal(vm_vcpu(vm, 0)->arch.gprs[0], 0x60);
	assert_int_equal(vm_unmapped_count(vm), 0);
	/* Input reaches the guest through RBR. */
	assert_true(uart8250_receive(u, 'y'));
	assert_true(fake_script_exit(
	    &vm_vcpu(vm, 0)->arch,
	    &(struct vcpu_exit){.kind = VCPU_EXIT_IO_READ, .io_read = {CV_X86_COM1_PORT, ACCESS_WIDTH_1}}));
	assert_int_equal(vm_run_vcpu(vm, 0, &e), 0);
	assert_int_equal(vm_vcpu(vm, 0)->arch.gprs[0], 'y');
	vm_destroy(vm); /* frees the UART (ASan checks) */
}

struct writer {
	struct uart8250 *u;
	char c;
};

static void *writer_main(void *p)
{
	struct writer *w = p;

	for (unsigned i = 0; i < 1000; i++) {
		uint64_t lsr;

		uart8250_ops.read(w->u, 0, 5, ACCESS_WIDTH_1, &lsr);
		uart8250_ops.write(w->u, 0, 0, ACCESS_WIDTH_1, (uint8_t)w->c);
	}
	return NULL;
}

/* Two vCPUs printing at once: every byte arrives once (and TSan sees no race). */
static void test_concurrent_writers(void **state)
{
	static struct sink s;
	struct uart8250_config cfg = {sink_tx, NULL, &s};
	struct uart8250 *u;
	struct writer a, b;
	pthread_t ta, tb;
	unsigned na = 0, nb = 0;

	(void)state;
	memset(&s, 0, sizeof(s));
	assert_int_equal(uart8250_create(&u, &cfg), 0);
	a = (struct writer){u, 'a'};
	b = (struct writer){u, 'b'};
	assert_int_equal(pthread_create(&ta, NULL, writer_main, &a), 0);
	assert_int_equal(pthread_create(&tb, NULL, writer_main, &b), 0);
	pthread_join(ta, NULL);
	pthread_join(tb, NULL);
	assert_int_equal(atomic_load(&s.len), 2000);
	for (unsigned i = 0; i < 2000; i++) {
		na += s.buf[i] == 'a';
		nb += s.buf[i] == 'b';
	}
	assert_int_equal(na, 1000);
	assert_int_equal(nb, 1000);
	uart8250_destroy(u);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_reset_and_tx),       cmocka_unit_test(test_dlab_and_scratch),
	    cmocka_unit_test(test_thre_interrupt),     cmocka_unit_test(test_receive),
	    cmocka_unit_test(test_loopback_and_msr),   cmocka_unit_test(test_on_vm),
	    cmocka_unit_test(test_concurrent_writers),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
