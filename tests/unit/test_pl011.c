/* SPDX-License-Identifier: MIT */
/* Unit tests of devices/pl011.c: the PL011 registers, line output, and the UART on a VM's MMIO bus. */
#define _GNU_SOURCE
#include <pthread.h>
#include <string.h>

#include <cvisor/errors.h>
#include <cvisor/pl011.h>
#include <cvisor/vm.h>

#include "support/unit.h"

#define BASE 0x09000000ull

struct sink {
	char buf[8192];
	unsigned len;
	unsigned lines;
};

static void sink_line(void *ctx, const char *line, size_t len)
{
	struct sink *s = ctx; /* called under the UART's lock: one writer at a time */

	if (s->len + len <= sizeof(s->buf))
		memcpy(s->buf + s->len, line, len);
	s->len += (unsigned)len;
	s->lines++;
}

static uint64_t rd(struct pl011 *u, uint64_t off, enum access_width w)
{
	uint64_t v = 0xdeadbeef;

	assert_int_equal(pl011_ops.read(u, 0, off, w, &v), 0);
	return v;
}

static void wr(struct pl011 *u, uint64_t off, enum access_width w, uint64_t v)
{
	assert_int_equal(pl011_ops.write(u, 0, off, w, v), 0);
}

static void test_reset_and_ids(void **state)
{
	struct pl011 u;
	struct sink s = {0};

	(void)state;
	pl011_init(&u, sink_line, &s);
	assert_int_equal(rd(&u, 0x18, ACCESS_WIDTH_4), 0x90);  /* FR: TXFE | RXFE */
	assert_int_equal(rd(&u, 0x30, ACCESS_WIDTH_4), 0x300); /* CR reset value */
	assert_int_equal(rd(&u, 0x34, ACCESS_WIDTH_4), 0x12);  /* IFLS reset value */
	assert_int_equal(rd(&u, 0x00, ACCESS_WIDTH_4), 0);     /* nothing received */
	/* PrimeCell IDs: 0x00341011 and 0xb105f00d, one byte per word. */
	static const uint8_t ids[8] = {0x11, 0x10, 0x34, 0x00, 0x0d, 0xf0, 0x05, 0xb1};
	for (unsigned i = 0; i < 8; i++)
		assert_int_equal(rd(&u, 0xfe0 + 4 * i, ACCESS_WIDTH_4), ids[i]);
	assert_int_equal(rd(&u, 0x19, ACCESS_WIDTH_1), 0); /* byte 1 of FR */
	assert_int_equal(rd(&u, 0x30, ACCESS_WIDTH_2), 0x300);
}

static void test_registers(void **state)
{
	struct pl011 u;
	struct sink s = {0};

	(void)state;
	pl011_init(&u, sink_line, &s);
	wr(&u, 0x24, ACCESS_WIDTH_4, 0x12345); /* IBRD: 16 bits */
	wr(&u, 0x28, ACCESS_WIDTH_4, 0xff);    /* FBRD: 6 bits */
	wr(&u, 0x2c, ACCESS_WIDTH_4, 0x70);    /* LCR_H */
	wr(&u, 0x30, ACCESS_WIDTH_4, 0x301);   /* CR: UARTEN | TXE | RXE */
	wr(&u, 0x38, ACCESS_WIDTH_4, 0x20);    /* IMSC: TX */
	assert_int_equal(rd(&u, 0x24, ACCESS_WIDTH_4), 0x2345);
	assert_int_equal(rd(&u, 0x28, ACCESS_WIDTH_4), 0x3f);
	assert_int_equal(rd(&u, 0x2c, ACCESS_WIDTH_4), 0x70);
	assert_int_equal(rd(&u, 0x30, ACCESS_WIDTH_4), 0x301);
	assert_int_equal(rd(&u, 0x3c, ACCESS_WIDTH_4), 0x20); /* RIS: the TX FIFO is below its level */
	assert_int_equal(rd(&u, 0x40, ACCESS_WIDTH_4), 0x20); /* MIS = RIS & IMSC */
	wr(&u, 0x44, ACCESS_WIDTH_4, 0x7ff);		      /* ICR clears the TX interrupt (TRM 3.3.14) */
	assert_int_equal(rd(&u, 0x3c, ACCESS_WIDTH_4), 0);
	wr(&u, 0x00, ACCESS_WIDTH_4, 'x'); /* a transmit raises it again: the FIFO drained at once */
	assert_int_equal(rd(&u, 0x3c, ACCESS_WIDTH_4), 0x20);
	wr(&u, 0x18, ACCESS_WIDTH_4, 0); /* FR is read-only */
	assert_int_equal(rd(&u, 0x18, ACCESS_WIDTH_4), 0x90);
	/* Bad widths and offsets are the guest's mistake: reads give 0, writes are dropped. */
	assert_int_equal(rd(&u, 0x18, ACCESS_WIDTH_8), 0);
	assert_int_equal(pl011_read(&u, 0xffe, ACCESS_WIDTH_4, &(uint64_t){0}), -CV_ERANGE);
	assert_int_equal(pl011_write(&u, 0, ACCESS_WIDTH_8, 'y'), -CV_ERANGE);
	assert_int_equal(s.len, 0); /* "x" waits for its line */
	pl011_flush(&u);
	assert_int_equal(s.len, 1);
}

static void test_lines(void **state)
{
	struct pl011 u;
	struct sink s = {0};

	(void)state;
	pl011_init(&u, sink_line, &s);
	for (const char *p = "ab\ncd"; *p; p++)
		wr(&u, 0, ACCESS_WIDTH_1, (uint8_t)*p);
	assert_int_equal(s.lines, 1);
	assert_int_equal(s.len, 3);
	assert_memory_equal(s.buf, "ab\n", 3);
	pl011_flush(&u); /* the partial line */
	assert_int_equal(s.lines, 2);
	assert_memory_equal(s.buf + 3, "cd", 2);
	/* A line longer than the buffer is handed over in PL011_LINE_MAX pieces. */
	for (unsigned i = 0; i < PL011_LINE_MAX + 1; i++)
		wr(&u, 0, ACCESS_WIDTH_4, 0x100 | 'x'); /* only the data byte counts */
	assert_int_equal(s.lines, 3);
	assert_int_equal(s.len, 5 + PL011_LINE_MAX);
	assert_int_equal((uint8_t)s.buf[5], 'x');
}

/* On a VM's MMIO bus through vm_run_vcpu: writes become output, reads reach the register. */
static void test_on_vm(void **state)
{
	struct vm_config cfg;
	struct vm *vm = NULL;
	struct sink s = {0};
	struct vcpu_exit e;

	(void)state;
	memset(&cfg, 0, sizeof(cfg));
	cfg.id = 3;
	cfg.cpu_num = 1;
	cfg.nregions = 1;
	cfg.regions[0] = (struct vm_mem_region){.gpa = 0x40000000, .size = 0x1000};
	assert_int_equal(vm_create(&vm, &cfg), 0);
	assert_int_equal(vm_add_pl011(vm, BASE, sink_line, &s), 0);
	assert_int_equal(vm_add_pl011(vm, BASE + 0x800, sink_line, &s), -CV_EEXIST);
	assert_int_equal(vm_boot(vm), 0);
	for (const char *p = "hi\n"; *p; p++) {
		struct vcpu_exit fr = {.kind = VCPU_EXIT_MMIO_READ,
				       .mmio_read = {gpa(BASE + 0x18), ACCESS_WIDTH_4, 5, ACCESS_WIDTH_4, false}};
		struct vcpu_exit dr = {.kind = VCPU_EXIT_MMIO_WRITE,
				       .mmio_write = {gpa(BASE), ACCESS_WIDTH_1, (uint8_t)*p}};

		assert_true(fake_script_exit(&vm_vcpu(vm, 0)->arch, &fr));
		assert_true(fake_script_exit(&vm_vcpu(vm, 0)->arch, &dr));
	}
	assert_true(fake_script_exit(&vm_vcpu(vm, 0)->arch, &(struct vcpu_exit){.kind = VCPU_EXIT_HALT}));
	assert_int_equal(vm_run_vcpu(vm, 0, &e), 0);
	assert_int_equal(e.kind, VCPU_EXIT_HALT);
	assert_int_equal(vm_vcpu(vm, 0)->arch.gprs[5], 0x90);
	assert_int_equal(s.lines, 1);
	assert_memory_equal(s.buf, "hi\n", 3);
	/* A signed byte load of cell ID 3 (0xb1) into a W register: sign-extended to 32 bits. */
	assert_true(fake_script_exit(
	    &vm_vcpu(vm, 0)->arch,
	    &(struct vcpu_exit){.kind = VCPU_EXIT_MMIO_READ,
				.mmio_read = {gpa(BASE + 0xffc), ACCESS_WIDTH_1, 7, ACCESS_WIDTH_4, true}}));
	assert_int_equal(vm_run_vcpu(vm, 0, &e), 0);
	assert_int_equal(vm_vcpu(vm, 0)->arch.gprs[7], 0xffffffb1);
	vm_destroy(vm); /* frees the UART (ASan checks) */
}

struct line {
	unsigned calls;
	bool level;
};

static void irq_line(void *ctx, bool level)
{
	struct line *l = ctx;

	l->calls++;
	l->level = level;
}

/* The receive FIFO: one holding register without LCR_H.FEN, 32 entries with it; FR's flags. */
static void test_rx_fifo(void **state)
{
	struct pl011 u;
	struct sink s = {0};

	(void)state;
	pl011_init(&u, sink_line, &s);
	assert_true(pl011_receive(&u, 'a'));
	assert_false(pl011_receive(&u, 'b'));		      /* full: refused, nothing lost or overrun */
	assert_int_equal(rd(&u, 0x18, ACCESS_WIDTH_4), 0xc0); /* TXFE | RXFF */
	assert_int_equal(rd(&u, 0x00, ACCESS_WIDTH_4), 'a');
	assert_int_equal(rd(&u, 0x18, ACCESS_WIDTH_4), 0x90); /* TXFE | RXFE */
	assert_int_equal(rd(&u, 0x00, ACCESS_WIDTH_4), 0);    /* empty: 0 */
	wr(&u, 0x2c, ACCESS_WIDTH_4, 0x70);		      /* LCR_H: FEN, 8 bits */
	for (unsigned i = 0; i < PL011_FIFO_DEPTH; i++)
		assert_true(pl011_receive(&u, (uint8_t)('A' + i)));
	assert_false(pl011_receive(&u, '!'));
	assert_int_equal(rd(&u, 0x18, ACCESS_WIDTH_4), 0xc0);
	for (unsigned i = 0; i < PL011_FIFO_DEPTH; i++) {
		assert_int_equal(rd(&u, 0x18, ACCESS_WIDTH_4) & 0x10, 0);
		assert_int_equal(rd(&u, 0x00, ACCESS_WIDTH_1), 'A' + i); /* in order, any access width */
	}
	assert_int_equal(rd(&u, 0x18, ACCESS_WIDTH_4), 0x90);
	assert_int_equal(rd(&u, 0x04, ACCESS_WIDTH_4), 0); /* RSR: no errors */
}

/* RX, receive-timeout and TX interrupts, their masks and the line as the irq callback sees it. */
static void test_interrupts(void **state)
{
	struct pl011 u;
	struct sink s = {0};
	struct line l = {0};

	(void)state;
	pl011_init(&u, sink_line, &s);
	pl011_set_irq(&u, irq_line, &l);
	assert_int_equal(l.calls, 1); /* told the level at once */
	assert_false(l.level);
	wr(&u, 0x2c, ACCESS_WIDTH_4, 0x70);   /* FEN */
	wr(&u, 0x34, ACCESS_WIDTH_4, 2 << 3); /* IFLS: RX at 1/2 (16 bytes) */
	wr(&u, 0x38, ACCESS_WIDTH_4, 0x50);   /* IMSC: RXIM | RTIM (what Linux unmasks) */
	assert_false(l.level);
	assert_true(pl011_receive(&u, 'x'));
	assert_true(l.level);				      /* data waiting: receive timeout */
	assert_int_equal(rd(&u, 0x3c, ACCESS_WIDTH_4), 0x60); /* RIS: RT and the idle TX */
	assert_int_equal(rd(&u, 0x40, ACCESS_WIDTH_4), 0x40); /* MIS: RT */
	wr(&u, 0x44, ACCESS_WIDTH_4, 0x50);		      /* ICR cannot hide data still there */
	assert_true(l.level);
	for (unsigned i = 1; i < 16; i++)
		assert_true(pl011_receive(&u, 'x'));
	assert_int_equal(rd(&u, 0x40, ACCESS_WIDTH_4), 0x50); /* RX at the trigger level, and RT */
	for (unsigned i = 0; i < 15; i++)
		rd(&u, 0x00, ACCESS_WIDTH_4);
	assert_int_equal(rd(&u, 0x40, ACCESS_WIDTH_4), 0x40); /* below the level: RT only */
	assert_true(l.level);
	rd(&u, 0x00, ACCESS_WIDTH_4);
	assert_false(l.level); /* read empty: the line drops */
	assert_int_equal(rd(&u, 0x40, ACCESS_WIDTH_4), 0);

	/* TX: unmasking TXIM with the FIFO below its level raises it; ICR clears; a transmit raises it. */
	wr(&u, 0x44, ACCESS_WIDTH_4, 0x20);
	wr(&u, 0x38, ACCESS_WIDTH_4, 0x70);
	assert_true(l.level);
	assert_int_equal(rd(&u, 0x40, ACCESS_WIDTH_4), 0x20);
	wr(&u, 0x44, ACCESS_WIDTH_4, 0x20);
	assert_false(l.level);
	wr(&u, 0x00, ACCESS_WIDTH_4, 'y');
	assert_true(l.level);
	wr(&u, 0x38, ACCESS_WIDTH_4, 0x50); /* masked again: Linux's stop_tx */
	assert_false(l.level);
	/* Without the FIFO the RX interrupt needs one byte. */
	wr(&u, 0x2c, ACCESS_WIDTH_4, 0x60);
	assert_true(pl011_receive(&u, 'z'));
	assert_int_equal(rd(&u, 0x40, ACCESS_WIDTH_4), 0x50);
	pl011_set_irq(&u, NULL, NULL);
	rd(&u, 0x00, ACCESS_WIDTH_4);
	assert_true(l.level); /* disconnected: not called any more */
}

/* A partial line (a prompt) reaches the sink once the guest has stopped writing for a while. */
static void test_flush_idle(void **state)
{
	struct pl011 u;
	struct sink s = {0};
	uint64_t t;

	(void)state;
	pl011_init(&u, sink_line, &s);
	wr(&u, 0, ACCESS_WIDTH_1, '#');
	wr(&u, 0, ACCESS_WIDTH_1, ' ');
	t = u.last_tx_ns;
	pl011_flush_idle(&u, t + 1000, 10000000);
	assert_int_equal(s.lines, 0);
	pl011_flush_idle(&u, t + 10000000, 10000000);
	assert_int_equal(s.lines, 1);
	assert_memory_equal(s.buf, "# ", 2);
	pl011_flush_idle(&u, t + 20000000, 10000000); /* nothing left: nothing handed over */
	assert_int_equal(s.lines, 1);
}

/* vm_add_pl011_irq: the UART on a VM, its line connected, input read back by the guest's DR load. */
static void test_on_vm_rx(void **state)
{
	struct vm_config cfg;
	struct vm *vm = NULL;
	struct pl011 *u = NULL;
	struct sink s = {0};
	struct line l = {0};
	struct vcpu_exit e;

	(void)state;
	memset(&cfg, 0, sizeof(cfg));
	cfg.id = 4;
	cfg.cpu_num = 1;
	cfg.nregions = 1;
	cfg.regions[0] = (struct vm_mem_region){.gpa = 0x40000000, .size = 0x1000};
	assert_int_equal(vm_create(&vm, &cfg), 0);
	assert_int_equal(vm_add_pl011_irq(vm, BASE, sink_line, &s, irq_line, &l, &u), 0);
	assert_non_null(u);
	assert_int_equal(l.calls, 1);
	assert_int_equal(vm_boot(vm), 0);
	assert_true(pl011_receive(u, 'k'));
	assert_true(fake_script_exit(
	    &vm_vcpu(vm, 0)->arch,
	    &(struct vcpu_exit){.kind = VCPU_EXIT_MMIO_WRITE, .mmio_write = {gpa(BASE + 0x38), ACCESS_WIDTH_4, 0x50}}));
	assert_true(
	    fake_script_exit(&vm_vcpu(vm, 0)->arch,
			     &(struct vcpu_exit){.kind = VCPU_EXIT_MMIO_READ,
						 .mmio_read = {gpa(BASE), ACCESS_WIDTH_4, 3, ACCESS_WIDTH_4, false}}));
	assert_true(fake_script_exit(&vm_vcpu(vm, 0)->arch, &(struct vcpu_exit){.kind = VCPU_EXIT_HALT}));
	assert_int_equal(vm_run_vcpu(vm, 0, &e), 0);
	assert_int_equal(e.kind, VCPU_EXIT_HALT);
	assert_int_equal(vm_vcpu(vm, 0)->arch.gprs[3], 'k');
	assert_int_equal(l.calls, 3); /* up when unmasked with data waiting, down when read */
	assert_false(l.level);
	vm_destroy(vm);
}

struct reader {
	struct pl011 *u;
	unsigned got;
};

static void *reader_main(void *p)
{
	struct reader *r = p;

	while (r->got < 1000) {
		uint64_t fr = 0, dr = 0;

		pl011_ops.read(r->u, 0, 0x18, ACCESS_WIDTH_4, &fr);
		if (fr & 0x10)
			continue;
		pl011_ops.read(r->u, 0, 0x00, ACCESS_WIDTH_4, &dr);
		assert_int_equal(dr, (uint8_t)r->got);
		r->got++;
	}
	return NULL;
}

/* The host feeding while a vCPU reads: every byte once, in order (TSan checks the locking). */
static void test_concurrent_rx(void **state)
{
	struct pl011 u;
	struct sink s = {0};
	struct reader r = {&u, 0};
	pthread_t t;

	(void)state;
	pl011_init(&u, sink_line, &s);
	wr(&u, 0x2c, ACCESS_WIDTH_4, 0x70);
	assert_int_equal(pthread_create(&t, NULL, reader_main, &r), 0);
	for (unsigned i = 0; i < 1000;)
		if (pl011_receive(&u, (uint8_t)i))
			i++;
	pthread_join(t, NULL);
	assert_int_equal(r.got, 1000);
}

struct writer {
	struct pl011 *u;
	char c;
};

static void *writer_main(void *p)
{
	struct writer *w = p;

	for (unsigned line = 0; line < 50; line++) {
		for (unsigned i = 0; i < 9; i++)
			pl011_ops.write(w->u, 0, 0, ACCESS_WIDTH_1, (uint8_t)w->c);
		pl011_ops.write(w->u, 0, 0, ACCESS_WIDTH_1, '\n');
	}
	return NULL;
}

/* Two vCPUs writing at once: the lock keeps the state consistent (TSan checks). */
static void test_concurrent_writers(void **state)
{
	struct pl011 u;
	struct sink s = {0};
	struct writer a = {&u, 'a'}, b = {&u, 'b'};
	pthread_t ta, tb;

	(void)state;
	pl011_init(&u, sink_line, &s);
	assert_int_equal(pthread_create(&ta, NULL, writer_main, &a), 0);
	assert_int_equal(pthread_create(&tb, NULL, writer_main, &b), 0);
	pthread_join(ta, NULL);
	pthread_join(tb, NULL);
	assert_int_equal(s.len, 2 * 50 * 10);
	assert_true(s.lines >= 100);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_reset_and_ids),
	    cmocka_unit_test(test_registers),
	    cmocka_unit_test(test_lines),
	    cmocka_unit_test(test_on_vm),
	    cmocka_unit_test(test_concurrent_writers),
	    cmocka_unit_test(test_rx_fifo),
	    cmocka_unit_test(test_interrupts),
	    cmocka_unit_test(test_flush_idle),
	    cmocka_unit_test(test_on_vm_rx),
	    cmocka_unit_test(test_concurrent_rx),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
