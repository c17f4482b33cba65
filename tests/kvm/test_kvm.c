/* SPDX-License-Identifier: MIT */
/*
 * Integration tests of the x86_64 KVM backend: each test guest (guests/x86_64/) runs on
 * the real /dev/kvm through core/vcpu.c and the arch contract alone (no VM layer), and
 * the exact sequence of exits and their values is checked. Without /dev/kvm every case
 * is reported as skipped.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include <cvisor/errors.h>
#include <cvisor/guest_abi.h>
#include <cvisor/hal.h>

#include "../../guests/x86_64/test_abi.h"
#include "harness.h"

#define LOAD	       CV_X86_GUEST_LOAD_GPA
#define SMP_CONTEXT_ID 0xc0ffee0012345678ull /* guests/x86_64/smp.c */

static const uint64_t all_rwx = CV_MAP_READ | CV_MAP_WRITE | CV_MAP_EXEC;

static bool expect_io_write(struct vcpu *v, uint16_t port, unsigned width, uint32_t data, const char *file, int line)
{
	struct vcpu_exit e;

	return kh_expect_kind(v, &e, VCPU_EXIT_IO_WRITE, file, line) &&
	       kt_check_eq(e.io_write.port, port, "IO_WRITE port", file, line) &&
	       kt_check_eq(e.io_write.width, width, "IO_WRITE width", file, line) &&
	       kt_check_eq(e.io_write.data, data, "IO_WRITE data", file, line);
}
#define EXPECT_IO_WRITE(v, port, width, data)                                                                          \
	KT_REQUIRE(expect_io_write((v), (port), (width), (data), __FILE__, __LINE__))

static bool expect_down(struct vcpu *v, enum system_down_reason reason, const char *file, int line)
{
	struct vcpu_exit e;

	return kh_expect_kind(v, &e, VCPU_EXIT_SYSTEM_DOWN, file, line) &&
	       kt_check_eq(e.system_down.reason, reason, "SYSTEM_DOWN reason", file, line);
}
#define EXPECT_DOWN(v, reason) KT_REQUIRE(expect_down((v), (reason), __FILE__, __LINE__))

/* hello: every byte of the line as a 1-byte OUT to COM1, then SYSTEM_OFF. */
static void test_hello(void)
{
	static const char line[] = "hello from x86_64\n";
	struct kh_vm h;
	size_t i;

	KT_REQUIRE_EQ(kh_vm_start(&h, "hello", 1, 0), 0);
	for (i = 0; i < sizeof(line) - 1; i++)
		EXPECT_IO_WRITE(h.vcpus[0], CV_X86_COM1_PORT, 1, (uint8_t)line[i]);
	EXPECT_DOWN(h.vcpus[0], SYSTEM_DOWN_OFF);
out:
	kh_vm_stop(&h);
	kt_case_end("hello: serial bytes on port 0x3f8, then SYSTEM_DOWN OFF");
}

static bool expect_io_read(struct vcpu *v, uint16_t port, unsigned width, const char *file, int line)
{
	struct vcpu_exit e;

	return kh_expect_kind(v, &e, VCPU_EXIT_IO_READ, file, line) &&
	       kt_check_eq(e.io_read.port, port, "IO_READ port", file, line) &&
	       kt_check_eq(e.io_read.width, width, "IO_READ width", file, line);
}
#define EXPECT_IO_READ(v, port, width) KT_REQUIRE(expect_io_read((v), (port), (width), __FILE__, __LINE__))

/* Port I/O of widths 1/2/4 both ways; the IN results reach the guest's rax. */
static void test_pio(void)
{
	struct vcpu_exit e;
	struct kh_vm h;
	struct vcpu *v;

	KT_REQUIRE_EQ(kh_vm_start(&h, "pio", 1, 0), 0);
	v = h.vcpus[0];
	EXPECT_IO_WRITE(v, CV_TEST_PIO_PORT8, 1, 0x5a);
	EXPECT_IO_WRITE(v, CV_TEST_PIO_PORT16, 2, 0xbeef);
	EXPECT_IO_WRITE(v, CV_TEST_PIO_PORT32, 4, 0xdeadbeef);
	/* Only the access width of the value reaches the guest (inb then movzbl). */
	EXPECT_IO_READ(v, CV_TEST_PIO_PORT8, 1);
	KT_REQUIRE_EQ(vcpu_set_gpr(v, 0, 0xffffffa5), 0);
	KH_REPORT_EQ(v, 0xa5);
	EXPECT_IO_READ(v, CV_TEST_PIO_PORT16, 2);
	KT_REQUIRE_EQ(vcpu_set_gpr(v, 0, 0x1234), 0);
	KH_REPORT_EQ(v, 0x1234);
	EXPECT_IO_READ(v, CV_TEST_PIO_PORT32, 4);
	/*
	 * A kick while an IN is pending (DESIGN.md: pause): the next KVM_RUN completes the
	 * IN with immediate_exit set and returns NOTHING; the value is not lost.
	 */
	KT_REQUIRE_EQ(vcpu_set_gpr(v, 0, 0xcafef00d), 0);
	vcpu_kick(v);
	KT_REQUIRE_EQ(kh_run(v, &e), 0);
	KT_REQUIRE_EQ(e.kind, VCPU_EXIT_NOTHING);
	KH_REPORT_EQ(v, 0xcafef00d);
	EXPECT_DOWN(v, SYSTEM_DOWN_OFF);
out:
	kh_vm_stop(&h);
	kt_case_end("port I/O: OUT and IN of widths 1, 2, 4; IN results reach rax, also across a kick");
}

/*
 * String port I/O: KVM's emulator gives `rep outsb` to user space one byte per exit,
 * which is ordinary; `rep insb` arrives as one exit for several items, which the backend
 * refuses with an error, never half done; the vCPU is then INVALID.
 */
static void test_pio_string(void)
{
	struct vcpu_exit e;
	struct kh_vm h;

	KT_REQUIRE_EQ(kh_vm_start(&h, "pio", 1, 1), 0);
	EXPECT_IO_WRITE(h.vcpus[0], CV_TEST_PIO_PORT8, 1, 'a');
	EXPECT_IO_WRITE(h.vcpus[0], CV_TEST_PIO_PORT8, 1, 'b');
	EXPECT_IO_WRITE(h.vcpus[0], CV_TEST_PIO_PORT8, 1, 'c');
	EXPECT_IO_WRITE(h.vcpus[0], CV_TEST_PIO_PORT8, 1, 'd');
	KT_REQUIRE_EQ(kh_run(h.vcpus[0], &e), -CV_ENOTSUP);
	KT_REQUIRE_EQ(vcpu_state(h.vcpus[0]), VCPU_STATE_INVALID);
out:
	kh_vm_stop(&h);
	kt_case_end("string port I/O: rep outsb byte by byte, rep insb of 4 refused with -CV_ENOTSUP");
}

static bool expect_mmio_write(struct vcpu *v, uint64_t addr, unsigned width, uint64_t data, const char *file, int line)
{
	struct vcpu_exit e;

	return kh_expect_kind(v, &e, VCPU_EXIT_MMIO_WRITE, file, line) &&
	       kt_check_eq(e.mmio_write.addr.v, addr, "MMIO_WRITE addr", file, line) &&
	       kt_check_eq(e.mmio_write.width, width, "MMIO_WRITE width", file, line) &&
	       kt_check_eq(e.mmio_write.data, data, "MMIO_WRITE data", file, line);
}
#define EXPECT_MMIO_WRITE(v, a, w, d) KT_REQUIRE(expect_mmio_write((v), (a), (w), (d), __FILE__, __LINE__))

/* An MMIO_READ of addr/width answered with val through the register the exit names. */
static bool answer_mmio_read(struct vcpu *v, uint64_t addr, unsigned width, uint64_t val, const char *file, int line)
{
	struct vcpu_exit e;

	return kh_expect_kind(v, &e, VCPU_EXIT_MMIO_READ, file, line) &&
	       kt_check_eq(e.mmio_read.addr.v, addr, "MMIO_READ addr", file, line) &&
	       kt_check_eq(e.mmio_read.width, width, "MMIO_READ width", file, line) &&
	       kt_check_eq(e.mmio_read.reg, X86_KVM_REG_MMIO_DATA, "MMIO_READ reg", file, line) &&
	       kt_check_eq(e.mmio_read.reg_width, width, "MMIO_READ reg_width", file, line) &&
	       kt_check_eq(vcpu_set_gpr(v, e.mmio_read.reg, val), 0, "set_gpr(MMIO data)", file, line);
}
#define ANSWER_MMIO_READ(v, a, w, val) KT_REQUIRE(answer_mmio_read((v), (a), (w), (val), __FILE__, __LINE__))

static void test_mmio(void)
{
	const uint64_t b = CV_TEST_MMIO_BASE;
	struct kh_vm h;
	struct vcpu *v;

	KT_REQUIRE_EQ(kh_vm_start(&h, "mmio", 1, 0), 0);
	v = h.vcpus[0];
	EXPECT_MMIO_WRITE(v, b + 0x0, 1, 0x12);
	EXPECT_MMIO_WRITE(v, b + 0x10, 2, 0x3456);
	EXPECT_MMIO_WRITE(v, b + 0x20, 4, 0x789abcde);
	EXPECT_MMIO_WRITE(v, b + 0x30, 8, 0x0123456789abcdefull);
	ANSWER_MMIO_READ(v, b + 0x100, 1, 0xfe);
	KH_REPORT_EQ(v, 0xfe);
	ANSWER_MMIO_READ(v, b + 0x110, 2, 0xfedc);
	KH_REPORT_EQ(v, 0xfedc);
	ANSWER_MMIO_READ(v, b + 0x120, 4, 0x89abcdef);
	KH_REPORT_EQ(v, 0x89abcdef);
	ANSWER_MMIO_READ(v, b + 0x130, 8, 0x1122334455667788ull);
	KH_REPORT_EQ(v, 0x1122334455667788ull);
	/* movsbq: the guest's instruction sign-extends what the VMM returned. */
	ANSWER_MMIO_READ(v, b + 0x140, 1, 0x80);
	KH_REPORT_EQ(v, 0xffffffffffffff80ull);
	EXPECT_DOWN(v, SYSTEM_DOWN_OFF);
out:
	kh_vm_stop(&h);
	kt_case_end("MMIO: writes and reads of widths 1, 2, 4, 8; read data reaches the guest");
}

/* A 6-argument hypercall with its result; PSCI calls answered in place (no exit). */
static void test_hypercall(void)
{
	static const uint64_t args[6] = {0x1111, 0x2222000000000000ull, 0x3333, 0x4444, 0x5555, 0x6666};
	struct vcpu_exit e;
	struct kh_vm h;
	struct vcpu *v;
	uint64_t sum = 0;
	int i;

	KT_REQUIRE_EQ(kh_vm_start(&h, "hypercall", 1, 0), 0);
	v = h.vcpus[0];
	KH_EXPECT(v, &e, VCPU_EXIT_HYPERCALL);
	KT_REQUIRE_EQ(e.hypercall.nr, CV_HC_TEST_SUM);
	for (i = 0; i < 6; i++) {
		KT_REQUIRE_EQ(e.hypercall.args[i], args[i]);
		sum += args[i];
	}
	KT_REQUIRE_EQ(vcpu_set_return_value(v, sum), 0);
	KH_REPORT_EQ(v, sum);
	KH_REPORT_EQ(v, PSCI_VERSION_1_0);
	KH_REPORT_EQ(v, (uint64_t)(int64_t)PSCI_RET_SUCCESS);	    /* FEATURES(CPU_ON_64) */
	KH_REPORT_EQ(v, (uint64_t)(int64_t)PSCI_RET_NOT_SUPPORTED); /* FEATURES(unknown) */
	KH_REPORT_EQ(v, (uint64_t)(int64_t)PSCI_RET_NOT_SUPPORTED); /* SMCCC architecture call */
	EXPECT_DOWN(v, SYSTEM_DOWN_OFF);
out:
	kh_vm_stop(&h);
	kt_case_end("hypercall: nr and 6 args in the exit, result in rax; PSCI VERSION/FEATURES answered in place");
}

static void test_hlt(void)
{
	struct vcpu_exit e;
	struct kh_vm h;

	KT_REQUIRE_EQ(kh_vm_start(&h, "hlt", 1, 0), 0);
	KH_EXPECT(h.vcpus[0], &e, VCPU_EXIT_HALT);
	KH_REPORT_EQ(h.vcpus[0], 1);
	EXPECT_DOWN(h.vcpus[0], SYSTEM_DOWN_OFF);
out:
	kh_vm_stop(&h);
	kt_case_end("HLT: a HALT exit, then the guest goes on after it");
}

static void test_triple_fault(void)
{
	struct kh_vm h;

	KT_REQUIRE_EQ(kh_vm_start(&h, "triple", 1, 0), 0);
	KH_REPORT_EQ(h.vcpus[0], 1);
	EXPECT_DOWN(h.vcpus[0], SYSTEM_DOWN_CRASH);
out:
	kh_vm_stop(&h);
	kt_case_end("triple fault: SYSTEM_DOWN CRASH");
}

static void test_system_off(void)
{
	struct kh_vm h;

	/* The boot argument arrives in rsi. */
	KT_REQUIRE_EQ(kh_vm_start(&h, "off", 1, 0x1234abcd5678ull), 0);
	KH_REPORT_EQ(h.vcpus[0], 0x1234abcd5678ull);
	EXPECT_DOWN(h.vcpus[0], SYSTEM_DOWN_OFF);
out:
	kh_vm_stop(&h);
	kt_case_end("PSCI SYSTEM_OFF: SYSTEM_DOWN OFF; boot_arg reached rsi");
}

static void test_system_reset(void)
{
	struct kh_vm h;

	KT_REQUIRE_EQ(kh_vm_start(&h, "off", 1, 1), 0);
	KH_REPORT_EQ(h.vcpus[0], 1);
	EXPECT_DOWN(h.vcpus[0], SYSTEM_DOWN_RESET);
out:
	kh_vm_stop(&h);
	kt_case_end("PSCI SYSTEM_RESET: SYSTEM_DOWN RESET");
}

static bool expect_cpu_up(struct vcpu *v, uint64_t target, uint64_t entry, uint64_t arg, const char *file, int line)
{
	struct vcpu_exit e;

	return kh_expect_kind(v, &e, VCPU_EXIT_CPU_UP, file, line) &&
	       kt_check_eq(e.cpu_up.target_cpu, target, "CPU_UP target", file, line) &&
	       kt_check_eq(e.cpu_up.entry_point.v, entry, "CPU_UP entry", file, line) &&
	       kt_check_eq(e.cpu_up.arg, arg, "CPU_UP arg", file, line);
}
#define EXPECT_CPU_UP(v, t, en, a) KT_REQUIRE(expect_cpu_up((v), (t), (en), (a), __FILE__, __LINE__))

/*
 * CPU_ON: vCPU 0 asks for vCPU 1 at the secondary entry with a context id; the test
 * plays the VMM (set_entry, then the id into rax as the seed does) and runs vCPU 1,
 * which reports its id and stores it for vCPU 0 to report; vCPU 1 is turned off and
 * started again at its entry with another id; a second CPU_ON gets the VMM's ALREADY_ON.
 */
static void test_cpu_on(void)
{
	const uint64_t entry = LOAD + CV_TEST_SECONDARY_ENTRY_OFFSET;
	struct vcpu_exit e;
	struct kh_vm h;
	struct vcpu *v0, *v1;

	KT_REQUIRE_EQ(kh_vm_start(&h, "smp", 2, 0), 0);
	v0 = h.vcpus[0];
	v1 = h.vcpus[1];
	EXPECT_CPU_UP(v0, 1, entry, SMP_CONTEXT_ID);
	KT_REQUIRE_EQ(vcpu_set_entry(v1, gpa(entry)), 0);
	KT_REQUIRE_EQ(vcpu_set_gpr(v1, 0, SMP_CONTEXT_ID), 0);
	KH_REPORT_EQ(v0, (uint64_t)(int64_t)PSCI_RET_SUCCESS); /* the backend's answer stands */
	KH_EXPECT(v0, &e, VCPU_EXIT_HALT);

	KT_REQUIRE_EQ(vcpu_bind(v1), 0);
	KH_REPORT_EQ(v1, SMP_CONTEXT_ID);
	KH_EXPECT(v1, &e, VCPU_EXIT_CPU_DOWN);
	/* Off, then on again (PSCI CPU_ON after CPU_OFF): a fresh entry with a new id. */
	KT_REQUIRE_EQ(vcpu_set_entry(v1, gpa(entry)), 0);
	KT_REQUIRE_EQ(vcpu_set_gpr(v1, 0, 0x77), 0);
	KH_REPORT_EQ(v1, 0x77);
	KH_EXPECT(v1, &e, VCPU_EXIT_CPU_DOWN);
	KT_REQUIRE_EQ(vcpu_unbind(v1), 0);

	KH_REPORT_EQ(v0, 0x77); /* what vCPU 1 stored last, seen by vCPU 0 */
	EXPECT_CPU_UP(v0, 1, entry, 1);
	KT_REQUIRE_EQ(vcpu_set_return_value(v0, (uint64_t)(int64_t)PSCI_RET_ALREADY_ON), 0);
	KH_REPORT_EQ(v0, (uint64_t)(int64_t)PSCI_RET_ALREADY_ON);
	EXPECT_DOWN(v0, SYSTEM_DOWN_OFF);
out:
	kh_vm_stop(&h);
	kt_case_end("CPU_ON: CPU_UP target/entry/arg; the secondary runs from entry with arg in rax; CPU_OFF");
}

/* Interrupts through the guest IDT: held while IF = 0, delivered in the window, wake HLT. */
static void test_interrupt(void)
{
	struct vcpu_exit e;
	struct kh_vm h;
	struct vcpu *v;

	KT_REQUIRE_EQ(kh_vm_start(&h, "irq", 1, 0), 0);
	v = h.vcpus[0];
	KT_REQUIRE_EQ(vcpu_inject_interrupt(v, 8), -CV_ERANGE); /* an exception vector */
	KT_REQUIRE_EQ(vcpu_inject_interrupt(v, 256), -CV_ERANGE);
	KH_REPORT_EQ(v, 1);
	KT_REQUIRE_EQ(vcpu_inject_interrupt(v, CV_TEST_IRQ_VECTOR), 0);
	KH_REPORT_EQ(v, 0); /* interrupts still off: not delivered */
	KH_REPORT_EQ(v, 1); /* delivered once the guest set IF */
	KH_EXPECT(v, &e, VCPU_EXIT_HALT);
	KT_REQUIRE_EQ(vcpu_inject_interrupt(v, CV_TEST_IRQ_VECTOR), 0);
	KH_REPORT_EQ(v, 2); /* woke from HLT through the handler */
	EXPECT_DOWN(v, SYSTEM_DOWN_OFF);
out:
	kh_vm_stop(&h);
	kt_case_end("interrupt: KVM_INTERRUPT through the guest IDT, interrupt window, wakes HLT");
}

/*
 * An interrupt queued while IF = 0, then `sti; hlt` (how Linux idles): the HLT is reached
 * in the STI shadow, before any window exit, and must not park the vCPU with its
 * interrupt still queued in the backend (nothing would wake it).
 */
static void test_interrupt_before_sti_hlt(void)
{
	struct kh_vm h;
	struct vcpu *v;

	KT_REQUIRE_EQ(kh_vm_start(&h, "irq", 1, 0), 0);
	v = h.vcpus[0];
	KH_REPORT_EQ(v, 1);
	KT_REQUIRE_EQ(vcpu_inject_interrupt(v, CV_TEST_IRQ_VECTOR), 0);
	KH_REPORT_EQ(v, 0);
	KH_REPORT_EQ(v, 1); /* reported with IF clear again */
	KT_REQUIRE_EQ(vcpu_inject_interrupt(v, CV_TEST_IRQ_VECTOR), 0);
	KH_REPORT_EQ(v, 2); /* no HALT exit in between: the queued interrupt ended the halt */
	EXPECT_DOWN(v, SYSTEM_DOWN_OFF);
out:
	kh_vm_stop(&h);
	kt_case_end("interrupt queued with IF = 0 before sti; hlt is delivered, not left behind a HALT");
}

/*
 * How much of its own CPU time the vCPU thread may spend after a kick before it returns.
 * Bounds on the vCPU thread's CPU time, not on the wall clock: on a loaded host the
 * thread may wait for a CPU for hundreds of ms after a kick (a 100 ms wall-clock bound
 * once failed at 203 ms), but only a missed kick keeps it running in the guest.
 */
#define KICK_PROMPT_CPU_NS (50 * 1000 * 1000ull)

struct kicker {
	struct vcpu *v;
	uint64_t delay_ns;
	uint64_t kicked_at;
	clockid_t vcpu_clock;
	uint64_t vcpu_cpu_at_kick; /* the vCPU thread's CPU time, read just after the kick */
};

static uint64_t clock_ns(clockid_t clk)
{
	struct timespec ts;

	if (clock_gettime(clk, &ts) < 0)
		return 0;
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static void *kick_later(void *p)
{
	struct kicker *k = p;
	struct timespec ts = {(time_t)(k->delay_ns / 1000000000ull), (long)(k->delay_ns % 1000000000ull)};

	nanosleep(&ts, NULL);
	k->kicked_at = hal_now_ns();
	vcpu_kick(k->v);
	/* After the kick: if this thread waits for a CPU here, the reading only comes later. */
	k->vcpu_cpu_at_kick = clock_ns(k->vcpu_clock);
	return NULL;
}

/* The vCPU thread's CPU time since the kick (0 if the kicker read its clock after the return). */
static uint64_t cpu_since_kick(const struct kicker *k, uint64_t cpu_at_return)
{
	return cpu_at_return > k->vcpu_cpu_at_kick ? cpu_at_return - k->vcpu_cpu_at_kick : 0;
}

/* A kick from another thread makes a guest that never exits return NOTHING promptly. */
static void test_kick(void)
{
	struct kicker k = {NULL, 100 * 1000 * 1000, 0, 0, 0};
	struct vcpu_exit e;
	struct kh_vm h;
	pthread_t t;
	uint64_t t0, t1, c0, c1;
	int ret;

	KT_REQUIRE_EQ(kh_vm_start(&h, "spin", 1, CV_SPIN_IDLE), 0);
	k.v = h.vcpus[0];
	KH_REPORT_EQ(k.v, CV_SPIN_IDLE);
	/* This thread runs the vCPU (kh_vm_start bound it here). */
	KT_REQUIRE_EQ(pthread_getcpuclockid(pthread_self(), &k.vcpu_clock), 0);
	t0 = hal_now_ns();
	KT_REQUIRE_EQ(pthread_create(&t, NULL, kick_later, &k), 0);
	ret = vcpu_run(k.v, &e); /* no watchdog: only the kick can end this */
	c1 = clock_ns(k.vcpu_clock);
	t1 = hal_now_ns();
	pthread_join(t, NULL);
	KT_REQUIRE_EQ(ret, 0);
	KT_REQUIRE_EQ(e.kind, VCPU_EXIT_NOTHING);
	KT_REQUIRE(t1 - t0 >= k.delay_ns);
	kt_diag("kick to return: %llu us, %llu us of vCPU CPU time", (unsigned long long)(t1 - k.kicked_at) / 1000,
		(unsigned long long)cpu_since_kick(&k, c1) / 1000);
	KT_REQUIRE(cpu_since_kick(&k, c1) < KICK_PROMPT_CPU_NS);
	KT_REQUIRE_EQ(vcpu_state(k.v), VCPU_STATE_READY);

	/* A kick before the run is not lost: the next run returns at once (no time in the guest) ... */
	vcpu_kick(k.v);
	c0 = clock_ns(k.vcpu_clock);
	KT_REQUIRE_EQ(kh_run(k.v, &e), 0);
	c1 = clock_ns(k.vcpu_clock);
	KT_REQUIRE_EQ(e.kind, VCPU_EXIT_NOTHING);
	KT_REQUIRE(c1 - c0 < KICK_PROMPT_CPU_NS);
	/* ... and only that one: the run after it is in the guest until the next kick. */
	k.delay_ns = 50 * 1000 * 1000;
	t0 = hal_now_ns();
	KT_REQUIRE_EQ(pthread_create(&t, NULL, kick_later, &k), 0);
	ret = vcpu_run(k.v, &e);
	t1 = hal_now_ns();
	pthread_join(t, NULL);
	KT_REQUIRE_EQ(ret, 0);
	KT_REQUIRE_EQ(e.kind, VCPU_EXIT_NOTHING);
	KT_REQUIRE(t1 - t0 >= k.delay_ns);
out:
	kh_vm_stop(&h);
	kt_case_end("kick: KVM_RUN returns NOTHING promptly; a kick before a run is kept for one run");
}

/* An instruction PVM fails to emulate: an error return, the process goes on. */
static void test_internal_error(void)
{
	struct vcpu_exit e;
	struct kh_vm h;
	int ret;

	KT_REQUIRE_EQ(kh_vm_start(&h, "fwait", 1, 0), 0);
	KH_REPORT_EQ(h.vcpus[0], 1);
	ret = kh_run(h.vcpus[0], &e);
	if (ret == 0) {
		/* This KVM runs fwait: nothing to see here. */
		KT_REQUIRE_EQ(e.kind, VCPU_EXIT_IO_WRITE);
		kh_vm_stop(&h);
		kt_skip("internal error: KVM_EXIT_INTERNAL_ERROR is an error return", "this KVM emulates fwait");
		return;
	}
	KT_REQUIRE_EQ(ret, -CV_EGUEST);
	KT_REQUIRE_EQ(vcpu_state(h.vcpus[0]), VCPU_STATE_INVALID);
out:
	kh_vm_stop(&h);
	kt_case_end("internal error: KVM_EXIT_INTERNAL_ERROR is an error return, never a crash");
}

/* Contract errors: bad register numbers, bad or overlapping mappings, a foreign root. */
static void test_contract_errors(void)
{
	struct arch_vcpu_create_cfg cfg;
	struct kh_vm h, other;
	struct vcpu *v = NULL;
	void *page = NULL;
	bool other_live = false;

	KT_REQUIRE_EQ(kh_vm_start(&h, "hello", 1, 0), 0);
	KT_REQUIRE_EQ(vcpu_set_gpr(h.vcpus[0], 18, 0), -CV_ERANGE);
	KT_REQUIRE_EQ(vcpu_set_gpr(h.vcpus[0], X86_KVM_REG_MSR_DATA, 0), -CV_EBADSTATE);
	KT_REQUIRE_EQ(vcpu_set_gpr(h.vcpus[0], X86_KVM_REG_MMIO_DATA, 0), -CV_EBADSTATE);
	page = hal_alloc_pages(1);
	KT_REQUIRE(page != NULL);
	KT_REQUIRE_EQ(arch_vm_map(&h.vm, gpa(LOAD), page, 4096, all_rwx), -CV_EEXIST);
	KT_REQUIRE_EQ(arch_vm_map(&h.vm, gpa(0x1001), page, 4096, all_rwx), -CV_EINVAL);
	KT_REQUIRE_EQ(arch_vm_map(&h.vm, gpa(0x40000000), page, 0, all_rwx), -CV_EINVAL);
	/* The boot area is the backend's once a vCPU is set up. */
	KT_REQUIRE_EQ(arch_vm_map(&h.vm, gpa(CV_X86_BOOT_AREA_GPA), page, 4096, all_rwx), -CV_EEXIST);
	KT_REQUIRE_EQ(arch_vm_map(&h.vm, gpa(0x40000000), page, 4096, all_rwx), 0);

	/* A vCPU of this VM set up with another VM's root is refused. */
	KT_REQUIRE_EQ(arch_vm_create(&other.vm, 2), 0);
	other_live = true;
	cfg.vm = &h.vm;
	cfg.boot_arg = 0;
	KT_REQUIRE_EQ(vcpu_create(&v, 1, 1, 0, 0, &cfg), 0);
	KT_REQUIRE_EQ(vcpu_setup(v, gpa(LOAD), arch_vm_ept_root(&other.vm), NULL), -CV_EINVAL);
	KT_REQUIRE_EQ(vcpu_state(v), VCPU_STATE_INVALID);
out:
	if (v)
		vcpu_destroy(v);
	if (other_live)
		arch_vm_destroy(&other.vm);
	kh_vm_stop(&h);
	hal_free_pages(page, 1);
	kt_case_end("contract errors: register index, mapping checks, foreign translation root");
}

/* RAM that covers the boot area gets the tables written into it; a partial cover is refused. */
static void test_boot_area_in_ram(void)
{
	static const uint64_t ram_size = 4u << 20;
	struct arch_vcpu_create_cfg cfg;
	struct vm_arch vm;
	struct vcpu *v = NULL;
	struct vcpu_exit e;
	const uint8_t *img;
	uint64_t img_size;
	uint8_t *ram;
	bool live = false;

	ram = hal_alloc_pages(ram_size / 4096);
	KT_REQUIRE(ram != NULL);
	KT_REQUIRE(kh_guest_image("off", &img, &img_size));
	memcpy(ram + LOAD, img, img_size);
	KT_REQUIRE_EQ(arch_vm_create(&vm, 3), 0);
	live = true;
	/* [0x9000, ...) would cut the boot area in two. */
	KT_REQUIRE_EQ(arch_vm_map(&vm, gpa(CV_X86_BOOT_AREA_GPA + 0x1000), ram, 0x1000, all_rwx), -CV_EEXIST);
	KT_REQUIRE_EQ(arch_vm_map(&vm, gpa(0), ram, ram_size, all_rwx), 0);
	cfg.vm = &vm;
	cfg.boot_arg = 42;
	KT_REQUIRE_EQ(vcpu_create(&v, 3, 0, 0, 0, &cfg), 0);
	KT_REQUIRE_EQ(vcpu_setup(v, gpa(LOAD), arch_vm_ept_root(&vm), NULL), 0);
	/* The page tables are in the VM's RAM now: PML4[0] points at the PDPT. */
	KT_REQUIRE_EQ(*(uint64_t *)(ram + CV_X86_PML4_GPA) & ~0xfffull, CV_X86_PDPT_GPA);
	KT_REQUIRE_EQ(vcpu_bind(v), 0);
	KH_REPORT_EQ(v, 42);
	KH_EXPECT(v, &e, VCPU_EXIT_SYSTEM_DOWN);
	KT_REQUIRE_EQ(vcpu_unbind(v), 0);
out:
	if (v)
		vcpu_destroy(v);
	if (live)
		arch_vm_destroy(&vm);
	hal_free_pages(ram, ram_size / 4096);
	kt_case_end("boot area: written into guest RAM that covers it; a partial cover is refused");
}

/*
 * The `cvisor run` demo guest on 4 vCPUs, with this test as a minimal VMM: a thread per
 * vCPU, CPU_ON starting the target's thread (INVALID_PARAMETERS past the last vCPU),
 * a barrier over the vCPUs that are on, COM1 bytes collected. Checks the output the
 * demo's comment promises.
 */
#define DEMO_VCPUS	4
#define DEMO_TIMEOUT_NS 10000000000ull

struct demo_vmm {
	struct kh_vm *h;
	pthread_mutex_t lock; /* protects everything below */
	pthread_cond_t cond;
	bool on[DEMO_VCPUS], done, failed;
	unsigned online, arrived, generation;
	char out[1024];
	size_t out_len;
};

static void demo_fail(struct demo_vmm *d, const char *what, unsigned id)
{
	kt_diag("demo: vCPU %u: %s", id, what);
	pthread_mutex_lock(&d->lock);
	d->failed = d->done = true;
	pthread_cond_broadcast(&d->cond);
	pthread_mutex_unlock(&d->lock);
}

static int demo_wait(struct demo_vmm *d, uint64_t deadline)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	if (hal_now_ns() >= deadline)
		return -1;
	ts.tv_nsec += 20 * 1000 * 1000;
	if (ts.tv_nsec >= 1000000000L) {
		ts.tv_sec++;
		ts.tv_nsec -= 1000000000L;
	}
	pthread_cond_timedwait(&d->cond, &d->lock, &ts);
	return 0;
}

static void demo_barrier(struct demo_vmm *d, unsigned id, uint64_t deadline)
{
	unsigned gen;

	pthread_mutex_lock(&d->lock);
	gen = d->generation;
	if (++d->arrived == d->online) {
		d->arrived = 0;
		d->generation++;
		pthread_cond_broadcast(&d->cond);
	}
	while (d->generation == gen && !d->done)
		if (demo_wait(d, deadline) < 0) {
			pthread_mutex_unlock(&d->lock);
			demo_fail(d, "barrier timed out", id);
			return;
		}
	pthread_mutex_unlock(&d->lock);
}

/* Runs vCPU id until it is off or the system is down; the vCPU is bound by the caller. */
static void demo_vcpu_loop(struct demo_vmm *d, unsigned id)
{
	struct vcpu *v = d->h->vcpus[id];
	uint64_t deadline = hal_now_ns() + DEMO_TIMEOUT_NS;
	struct vcpu_exit e;
	long t;

	for (;;) {
		if (kh_run(v, &e) < 0 || hal_now_ns() > deadline)
			return demo_fail(d, "run failed or timed out", id);
		switch (e.kind) {
		case VCPU_EXIT_IO_WRITE:
			if (e.io_write.port != CV_X86_COM1_PORT)
				return demo_fail(d, "write to an unexpected port", id);
			pthread_mutex_lock(&d->lock);
			if (d->out_len < sizeof(d->out) - 1)
				d->out[d->out_len++] = (char)e.io_write.data;
			pthread_mutex_unlock(&d->lock);
			break;
		case VCPU_EXIT_CPU_UP:
			t = cv_cpu_id_to_vcpu(e.cpu_up.target_cpu);
			pthread_mutex_lock(&d->lock);
			if (t < 0 || t >= DEMO_VCPUS) {
				vcpu_set_return_value(v, (uint64_t)(int64_t)PSCI_RET_INVALID_PARAMETERS);
			} else if (d->on[t]) {
				vcpu_set_return_value(v, (uint64_t)(int64_t)PSCI_RET_ALREADY_ON);
			} else {
				/* Entry and context id before the target's thread may run it. */
				vcpu_set_entry(d->h->vcpus[t], e.cpu_up.entry_point);
				vcpu_set_gpr(d->h->vcpus[t], 0, e.cpu_up.arg);
				d->on[t] = true;
				d->online++;
				pthread_cond_broadcast(&d->cond);
			}
			pthread_mutex_unlock(&d->lock);
			break;
		case VCPU_EXIT_HYPERCALL:
			if (e.hypercall.nr != CV_HC_BARRIER)
				return demo_fail(d, "unexpected hypercall", id);
			demo_barrier(d, id, deadline);
			vcpu_set_return_value(v, 0);
			break;
		case VCPU_EXIT_CPU_DOWN:
			pthread_mutex_lock(&d->lock);
			d->online--;
			pthread_mutex_unlock(&d->lock);
			return;
		case VCPU_EXIT_SYSTEM_DOWN:
			pthread_mutex_lock(&d->lock);
			if (e.system_down.reason != SYSTEM_DOWN_OFF)
				d->failed = true;
			d->done = true;
			pthread_cond_broadcast(&d->cond);
			pthread_mutex_unlock(&d->lock);
			return;
		default:
			kt_diag("demo: vCPU %u: exit %s", id, vcpu_exit_name(e.kind));
			return demo_fail(d, "unexpected exit", id);
		}
	}
}

struct demo_thread {
	struct demo_vmm *d;
	unsigned id;
};

static void *demo_secondary(void *p)
{
	struct demo_thread *t = p;
	struct demo_vmm *d = t->d;
	uint64_t deadline = hal_now_ns() + DEMO_TIMEOUT_NS;

	pthread_mutex_lock(&d->lock);
	while (!d->on[t->id] && !d->done)
		if (demo_wait(d, deadline) < 0)
			break;
	if (!d->on[t->id] || d->done) {
		pthread_mutex_unlock(&d->lock);
		return NULL;
	}
	pthread_mutex_unlock(&d->lock);
	if (vcpu_bind(d->h->vcpus[t->id]) < 0) {
		demo_fail(d, "bind failed", t->id);
		return NULL;
	}
	demo_vcpu_loop(d, t->id);
	if (vcpu_state(d->h->vcpus[t->id]) == VCPU_STATE_READY)
		vcpu_unbind(d->h->vcpus[t->id]);
	return NULL;
}

static void test_demo(void)
{
	static const char *const middle[] = {"vcpu 1 up\n", "vcpu 2 up\n", "vcpu 3 up\n"};
	struct demo_thread th[DEMO_VCPUS];
	pthread_t tid[DEMO_VCPUS];
	struct demo_vmm d;
	struct kh_vm h;
	unsigned i, started = 0;
	const char *p;

	memset(&d, 0, sizeof(d));
	pthread_mutex_init(&d.lock, NULL);
	pthread_cond_init(&d.cond, NULL);
	KT_REQUIRE_EQ(kh_vm_start(&h, "demo", DEMO_VCPUS, 0), 0);
	d.h = &h;
	d.on[0] = true;
	d.online = 1;
	for (i = 1; i < DEMO_VCPUS; i++) {
		th[i] = (struct demo_thread){&d, i};
		KT_REQUIRE_EQ(pthread_create(&tid[i], NULL, demo_secondary, &th[i]), 0);
		started = i;
	}
	demo_vcpu_loop(&d, 0);
	pthread_mutex_lock(&d.lock);
	d.done = true;
	pthread_cond_broadcast(&d.cond);
	pthread_mutex_unlock(&d.lock);
	for (i = 1; i <= started; i++)
		pthread_join(tid[i], NULL);
	started = 0;
	d.out[d.out_len] = 0;
	for (p = d.out; *p; p = strchr(p, '\n') + 1) {
		kt_diag("demo| %.*s", (int)strcspn(p, "\n"), p);
		if (!strchr(p, '\n'))
			break;
	}
	KT_REQUIRE(!d.failed);
	/* "vcpu 0 up" first, vCPUs 1-3 in any order, the summary last. */
	KT_REQUIRE(strncmp(d.out, "vcpu 0 up\n", 10) == 0);
	for (i = 0; i < 3; i++) {
		p = strstr(d.out, middle[i]);
		KT_REQUIRE(p != NULL && p < strstr(d.out, "demo:"));
	}
	KT_REQUIRE(strlen(d.out) == 4 * 10 + strlen("demo: all 4 vCPUs met\n"));
	KT_REQUIRE(strcmp(d.out + 40, "demo: all 4 vCPUs met\n") == 0);
out:
	if (started) {
		pthread_mutex_lock(&d.lock);
		d.done = true;
		pthread_cond_broadcast(&d.cond);
		pthread_mutex_unlock(&d.lock);
		for (i = 1; i <= started; i++)
			pthread_join(tid[i], NULL);
	}
	kh_vm_stop(&h);
	pthread_cond_destroy(&d.cond);
	pthread_mutex_destroy(&d.lock);
	kt_case_end("demo guest: 4 vCPUs via CPU_ON, whole lines, barrier, SYSTEM_OFF");
}

/* A mapping without CV_MAP_WRITE: loads come from memory, stores exit as MMIO_WRITE. */
static void test_readonly_mapping(void)
{
	const uint64_t b = CV_TEST_MMIO_BASE;
	struct kh_vm h;
	struct vcpu *v;
	uint8_t *page = NULL;
	int ret;

	KT_REQUIRE_EQ(kh_vm_start(&h, "mmio", 1, 0), 0);
	v = h.vcpus[0];
	page = hal_alloc_pages(1);
	KT_REQUIRE(page != NULL);
	page[0x100] = 0xfe;
	*(uint16_t *)(page + 0x110) = 0xfedc;
	*(uint32_t *)(page + 0x120) = 0x89abcdef;
	*(uint64_t *)(page + 0x130) = 0x1122334455667788ull;
	page[0x140] = 0x80;
	ret = arch_vm_map(&h.vm, gpa(b), page, 4096, CV_MAP_READ);
	if (ret == -CV_ENOTSUP) {
		kh_vm_stop(&h);
		hal_free_pages(page, 1);
		kt_skip("read-only mapping", "KVM lacks KVM_CAP_READONLY_MEM");
		return;
	}
	KT_REQUIRE_EQ(ret, 0);
	EXPECT_MMIO_WRITE(v, b + 0x0, 1, 0x12);
	EXPECT_MMIO_WRITE(v, b + 0x10, 2, 0x3456);
	EXPECT_MMIO_WRITE(v, b + 0x20, 4, 0x789abcde);
	EXPECT_MMIO_WRITE(v, b + 0x30, 8, 0x0123456789abcdefull);
	KH_REPORT_EQ(v, 0xfe);
	KH_REPORT_EQ(v, 0xfedc);
	KH_REPORT_EQ(v, 0x89abcdef);
	KH_REPORT_EQ(v, 0x1122334455667788ull);
	KH_REPORT_EQ(v, 0xffffffffffffff80ull);
	EXPECT_DOWN(v, SYSTEM_DOWN_OFF);
	KT_REQUIRE_EQ(page[0], 0); /* the stores did not reach the memory */
out:
	kh_vm_stop(&h);
	hal_free_pages(page, 1);
	kt_case_end("read-only mapping: loads from memory without exits, stores exit as MMIO_WRITE");
}

/* The CPUs the calling thread may run on, as a mask of the first 64. */
static uint64_t thread_cpu_mask(void)
{
	cpu_set_t set;
	uint64_t mask = 0;
	unsigned i;

	if (sched_getaffinity(0, sizeof(set), &set) < 0)
		return 0;
	for (i = 0; i < 64; i++)
		if (CPU_ISSET(i, &set))
			mask |= 1ull << i;
	return mask;
}

/* bind pins the thread to the vCPU's phys_cpu_set; unbind lets it float again. */
static void test_bind_pins(void)
{
	unsigned last = hal_cpu_count() - 1;
	struct arch_vcpu_create_cfg cfg;
	struct vcpu *v = NULL;
	struct kh_vm h;
	uint64_t before, orig = 0;

	KT_REQUIRE_EQ(kh_vm_start(&h, "hello", 1, 0), 0);
	cfg.vm = &h.vm;
	cfg.boot_arg = 0;
	KT_REQUIRE_EQ(vcpu_create(&v, 1, 1, last, 1ull << last, &cfg), 0);
	KT_REQUIRE_EQ(vcpu_setup(v, gpa(LOAD), arch_vm_ept_root(&h.vm), NULL), 0);
	/* The thread has a mask of its own (CPU 0 when there are two or more): unbind restores it. */
	orig = thread_cpu_mask();
	if (last > 0)
		KT_REQUIRE_EQ(hal_task_pin_self(1), 0);
	before = thread_cpu_mask();
	KT_REQUIRE_EQ(vcpu_bind(v), 0);
	KT_REQUIRE_EQ(thread_cpu_mask(), 1ull << last);
	EXPECT_IO_WRITE(v, CV_X86_COM1_PORT, 1, 'h');
	KT_REQUIRE_EQ(hal_cpu_id(), last);
	KT_REQUIRE_EQ(vcpu_unbind(v), 0);
	KT_REQUIRE_EQ(thread_cpu_mask(), before);
out:
	if (orig)
		hal_task_pin_self(orig);
	if (v) {
		if (vcpu_state(v) == VCPU_STATE_READY)
			vcpu_unbind(v);
		vcpu_destroy(v);
	}
	kh_vm_stop(&h);
	kt_case_end("bind pins the vCPU thread to phys_cpu_set, unbind restores its own CPU mask");
}

static unsigned open_fds(void)
{
	unsigned n = 0;
	DIR *d = opendir("/proc/self/fd");
	struct dirent *de;

	if (!d)
		return 0;
	while ((de = readdir(d)) != NULL)
		n += de->d_name[0] != '.';
	closedir(d);
	return n;
}

/* VMs built, run to their end and destroyed in a loop leave no file descriptor behind. */
static void test_no_fd_leak(void)
{
	unsigned before, i;
	struct kh_vm h;

	before = open_fds();
	for (i = 0; i < 50; i++) {
		KT_REQUIRE_EQ(kh_vm_start(&h, "off", 2, 100 + i), 0); /* 1 would be a reset */
		KH_REPORT_EQ(h.vcpus[0], 100 + i);
		EXPECT_DOWN(h.vcpus[0], SYSTEM_DOWN_OFF);
		kh_vm_stop(&h);
	}
	KT_REQUIRE_EQ(open_fds(), before);
out:
	kh_vm_stop(&h);
	kt_case_end("50 VMs created, run and destroyed leave no file descriptor open");
}

/* MSRs KVM does not know: WRMSR and RDMSR exit as SYSREG_WRITE / SYSREG_READ. */
static void test_msr(void)
{
	struct vcpu_exit e;
	struct kh_vm h;
	struct vcpu *v;

	KT_REQUIRE_EQ(kh_vm_start(&h, "msr", 1, 0), 0);
	if (!h.vm.user_msrs) {
		kh_vm_stop(&h);
		kt_skip("MSR exits", "KVM lacks KVM_CAP_X86_USER_SPACE_MSR");
		return;
	}
	v = h.vcpus[0];
	KH_EXPECT(v, &e, VCPU_EXIT_SYSREG_WRITE);
	KT_REQUIRE_EQ(e.sysreg_write.addr, CV_TEST_MSR);
	KT_REQUIRE_EQ(e.sysreg_write.value, 0x1122334455667788ull);
	KH_EXPECT(v, &e, VCPU_EXIT_SYSREG_READ);
	KT_REQUIRE_EQ(e.sysreg_read.addr, CV_TEST_MSR);
	KT_REQUIRE_EQ(e.sysreg_read.reg, X86_KVM_REG_MSR_DATA);
	KT_REQUIRE_EQ(vcpu_set_gpr(v, e.sysreg_read.reg, 0xaabbccdd00112233ull), 0);
	KH_REPORT_EQ(v, 0xaabbccdd00112233ull); /* edx:eax */
	KH_EXPECT(v, &e, VCPU_EXIT_SYSREG_READ);
	KT_REQUIRE_EQ(e.sysreg_read.addr, CV_TEST_MSR + 1);
	KH_REPORT_EQ(v, 0); /* not answered: reads as zero */
	KT_REQUIRE_EQ(vcpu_set_gpr(v, X86_KVM_REG_MSR_DATA, 1), -CV_EBADSTATE);
	EXPECT_DOWN(v, SYSTEM_DOWN_OFF);
out:
	kh_vm_stop(&h);
	kt_case_end("MSR exits: unknown WRMSR / RDMSR as SYSREG_WRITE / SYSREG_READ, result in edx:eax");
}

/*
 * DESIGN.md's kick protocol end to end, many times: a controller thread sets a request
 * word, then kicks; the vCPU thread reads the request after every vcpu_run and runs a
 * guest that never exits by itself. Odd rounds hold the vCPU thread for a while between
 * reading the request and entering KVM_RUN, so that the next request and its kick land
 * there (immediate_exit must end that KVM_RUN); even rounds enter at once, so the kick
 * mostly finds the thread inside KVM_RUN (the signal must end it).
 *
 * A lost kick leaves the vCPU thread in the guest with a request unread. What tells it
 * from a slow round is the vCPU thread's own CPU time, not the wall clock: on a loaded
 * host the thread may wait long for a CPU (a wall-clock bound of one second once
 * counted such a wait as a lost kick), but a thread that has spent KICK_LOST_CPU_NS of
 * CPU time after the kick without coming back was in the guest all along, kick missed.
 * The controller then counts it and kicks again. A wall-clock backstop, far beyond any
 * load, keeps a thread that gets no CPU time at all from hanging the test.
 */
#define KICK_STORM_ROUNDS   2000
#define KICK_LOST_CPU_NS    (200 * 1000 * 1000ull)
#define KICK_BACKSTOP_NS    (60 * 1000 * 1000 * 1000ull)
#define KICK_STORM_DELAY_NS (20 * 1000ull)

struct kick_storm {
	struct vcpu *v;
	clockid_t vcpu_clock; /* the vCPU thread's CPU-time clock */
	_Atomic unsigned request, served;
	_Atomic bool done; /* the controller has sent every request */
	_Atomic bool stop; /* the vCPU side gave up: the controller leaves */
	unsigned lost, backstops;
	uint64_t worst_wall_ns, worst_cpu_ns; /* the slowest round in wall time; the most vCPU CPU time unserved */
};

static void *kick_storm_controller(void *p)
{
	struct kick_storm *k = p;
	uint64_t t0, c0, kicked_at, cpu;
	unsigned i;

	for (i = 1; i <= KICK_STORM_ROUNDS && !atomic_load(&k->stop); i++) {
		t0 = hal_now_ns();
		atomic_store(&k->request, i);
		vcpu_kick(k->v);
		/* After the kick: the vCPU's CPU time before it (or while this thread waited for a CPU) is no loss. */
		c0 = clock_ns(k->vcpu_clock);
		kicked_at = hal_now_ns();
		for (;;) {
			/* CPU time first, then served: time counted here was all spent before serving. */
			cpu = clock_ns(k->vcpu_clock) - c0;
			if (atomic_load(&k->served) == i || atomic_load(&k->stop))
				break;
			if (cpu > k->worst_cpu_ns)
				k->worst_cpu_ns = cpu;
			if (cpu > KICK_LOST_CPU_NS || hal_now_ns() - kicked_at > KICK_BACKSTOP_NS) {
				if (cpu > KICK_LOST_CPU_NS)
					k->lost++;
				else
					k->backstops++;
				vcpu_kick(k->v);
				c0 = clock_ns(k->vcpu_clock);
				kicked_at = hal_now_ns();
			}
			sched_yield();
		}
		t0 = hal_now_ns() - t0;
		if (t0 > k->worst_wall_ns)
			k->worst_wall_ns = t0;
	}
	atomic_store(&k->done, true);
	vcpu_kick(k->v);
	return NULL;
}

/* Busy for ns of wall time, in user space: the thread stays out of KVM_RUN meanwhile. */
static void spin_ns(uint64_t ns)
{
	uint64_t end = hal_now_ns() + ns;

	while (hal_now_ns() < end)
		;
}

static void test_kick_storm(void)
{
	struct kick_storm k;
	struct vcpu_exit e;
	struct kh_vm h;
	pthread_t t;
	unsigned runs = 0, r;
	bool started = false;
	int ret = 0;

	memset(&k, 0, sizeof(k));
	KT_REQUIRE_EQ(kh_vm_start(&h, "spin", 1, CV_SPIN_IDLE), 0);
	k.v = h.vcpus[0];
	KH_REPORT_EQ(k.v, CV_SPIN_IDLE);
	/* This thread runs the vCPU (kh_vm_start bound it here). */
	KT_REQUIRE_EQ(pthread_getcpuclockid(pthread_self(), &k.vcpu_clock), 0);
	KT_REQUIRE_EQ(pthread_create(&t, NULL, kick_storm_controller, &k), 0);
	started = true;
	while (!atomic_load(&k.done)) {
		r = atomic_load(&k.request); /* after vcpu_run's clear-and-fence */
		if (r != atomic_load(&k.served))
			atomic_store(&k.served, r);
		if (r % 2)
			spin_ns(KICK_STORM_DELAY_NS); /* request r + 1 and its kick come before KVM_RUN */
		ret = vcpu_run(k.v, &e);
		runs++;
		if (ret < 0 || e.kind != VCPU_EXIT_NOTHING)
			break;
	}
	atomic_store(&k.stop, true);
	pthread_join(t, NULL);
	started = false;
	kt_diag("kick storm: %u requests, %u runs, %u lost, %u wall-clock backstops; slowest round %llu us, "
		"at most %llu us of vCPU CPU time before a request was read",
		KICK_STORM_ROUNDS, runs, k.lost, k.backstops, (unsigned long long)k.worst_wall_ns / 1000,
		(unsigned long long)k.worst_cpu_ns / 1000);
	KT_REQUIRE_EQ(ret, 0);
	KT_REQUIRE_EQ(e.kind, VCPU_EXIT_NOTHING);
	KT_REQUIRE_EQ(atomic_load(&k.served), KICK_STORM_ROUNDS);
	KT_REQUIRE_EQ(k.lost, 0);
	KT_REQUIRE_EQ(k.backstops, 0);
out:
	if (started) {
		atomic_store(&k.stop, true);
		pthread_join(t, NULL);
	}
	kh_vm_stop(&h);
	kt_case_end("kick storm: 2000 request-then-kick rounds against a running guest (half of the kicks before "
		    "KVM_RUN), none lost");
}

static const struct {
	void (*fn)(void);
	const char *name;
} cases[] = {
    {test_hello, "hello"},
    {test_pio, "port I/O"},
    {test_pio_string, "string port I/O"},
    {test_mmio, "MMIO"},
    {test_hypercall, "hypercall"},
    {test_hlt, "HLT"},
    {test_triple_fault, "triple fault"},
    {test_system_off, "SYSTEM_OFF"},
    {test_system_reset, "SYSTEM_RESET"},
    {test_cpu_on, "CPU_ON"},
    {test_interrupt, "interrupt injection"},
    {test_interrupt_before_sti_hlt, "interrupt before sti; hlt"},
    {test_kick, "kick"},
    {test_internal_error, "internal error"},
    {test_contract_errors, "contract errors"},
    {test_boot_area_in_ram, "boot area in guest RAM"},
    {test_demo, "demo guest"},
    {test_readonly_mapping, "read-only mapping"},
    {test_bind_pins, "bind pins"},
    {test_no_fd_leak, "no fd leak"},
    {test_msr, "MSR exits"},
    {test_kick_storm, "kick storm"},
};

int main(void)
{
	size_t i;

	printf("1..%zu\n", CV_ARRAY_SIZE(cases));
	if (!kh_kvm_available()) {
		for (i = 0; i < CV_ARRAY_SIZE(cases); i++)
			kt_skip(cases[i].name, "no /dev/kvm");
		return 0;
	}
	for (i = 0; i < CV_ARRAY_SIZE(cases); i++) {
		uint64_t t0 = hal_now_ns();

		cases[i].fn();
		kt_diag("%s: %llu ms", cases[i].name, (unsigned long long)(hal_now_ns() - t0) / 1000000);
	}
	return kt_failures() ? 1 : 0;
}
