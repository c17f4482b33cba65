/* SPDX-License-Identifier: MIT */
/* The KVM integration tests' harness (see harness.h). */
#define _GNU_SOURCE
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cvisor/errors.h>
#include <cvisor/guest_abi.h>
#include <cvisor/hal.h>

#include "../../guests/x86_64/test_abi.h"
#include "harness.h"

/* ---- embedded guests (guests.S) ---- */

#define GUEST_SYMS(n) extern const uint8_t guest_##n##_start[], guest_##n##_end[];
GUEST_SYMS(hello)
GUEST_SYMS(pio)
GUEST_SYMS(mmio)
GUEST_SYMS(hypercall)
GUEST_SYMS(hlt)
GUEST_SYMS(triple)
GUEST_SYMS(off)
GUEST_SYMS(smp)
GUEST_SYMS(irq)
GUEST_SYMS(spin)
GUEST_SYMS(fwait)
GUEST_SYMS(msr)
GUEST_SYMS(demo)

#define GUEST_ENTRY(n)                                                                                                 \
	{                                                                                                              \
#n, guest_##n##_start, guest_##n##_end                                                                 \
	}
static const struct {
	const char *name;
	const uint8_t *start, *end;
} guests[] = {
    GUEST_ENTRY(hello),	 GUEST_ENTRY(pio), GUEST_ENTRY(mmio), GUEST_ENTRY(hypercall), GUEST_ENTRY(hlt),
    GUEST_ENTRY(triple), GUEST_ENTRY(off), GUEST_ENTRY(smp),  GUEST_ENTRY(irq),	      GUEST_ENTRY(spin),
    GUEST_ENTRY(fwait),	 GUEST_ENTRY(msr), GUEST_ENTRY(demo),
};

bool kh_guest_image(const char *name, const uint8_t **data, uint64_t *size)
{
	size_t i;

	for (i = 0; i < CV_ARRAY_SIZE(guests); i++) {
		if (strcmp(guests[i].name, name) == 0) {
			*data = guests[i].start;
			*size = (uint64_t)(guests[i].end - guests[i].start);
			return true;
		}
	}
	return false;
}

bool kh_kvm_available(void)
{
	int fd = open("/dev/kvm", O_RDWR | O_CLOEXEC);

	if (fd < 0)
		return false;
	close(fd);
	return true;
}

/* ---- watchdog ---- */

#define WATCH_SLOTS 8

static pthread_mutex_t watch_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_once_t watch_once = PTHREAD_ONCE_INIT;
static struct {
	struct vcpu *vcpu;
	uint64_t deadline;
} watch[WATCH_SLOTS];

static void *watchdog(void *arg)
{
	struct timespec ts = {0, 20 * 1000 * 1000};
	unsigned i;

	(void)arg;
	for (;;) {
		nanosleep(&ts, NULL);
		pthread_mutex_lock(&watch_lock);
		for (i = 0; i < WATCH_SLOTS; i++) {
			if (watch[i].vcpu && hal_now_ns() > watch[i].deadline) {
				kt_diag("watchdog: vCPU %u did not exit in time, kicking it", vcpu_id(watch[i].vcpu));
				vcpu_kick(watch[i].vcpu);
				watch[i].deadline = UINT64_MAX;
			}
		}
		pthread_mutex_unlock(&watch_lock);
	}
	return NULL;
}

static void watch_start(void)
{
	pthread_t t;

	pthread_create(&t, NULL, watchdog, NULL);
	pthread_detach(t);
}

int kh_run(struct vcpu *v, struct vcpu_exit *exit)
{
	int slot = -1, i, ret;

	pthread_once(&watch_once, watch_start);
	pthread_mutex_lock(&watch_lock);
	for (i = 0; i < WATCH_SLOTS && slot < 0; i++)
		if (!watch[i].vcpu)
			slot = i;
	if (slot >= 0) {
		watch[slot].vcpu = v;
		watch[slot].deadline = hal_now_ns() + KH_RUN_TIMEOUT_NS;
	}
	pthread_mutex_unlock(&watch_lock);
	ret = vcpu_run(v, exit);
	if (slot >= 0) {
		pthread_mutex_lock(&watch_lock);
		watch[slot].vcpu = NULL;
		pthread_mutex_unlock(&watch_lock);
	}
	return ret;
}

int kh_run_exit(struct vcpu *v, struct vcpu_exit *exit)
{
	int i, ret = 0;

	/* A NOTHING is a kick or a stray signal; more than a few means the watchdog fired. */
	for (i = 0; i < 3; i++) {
		ret = kh_run(v, exit);
		if (ret < 0 || exit->kind != VCPU_EXIT_NOTHING)
			return ret;
	}
	return ret;
}

/* ---- VM ---- */

int kh_vm_start(struct kh_vm *h, const char *name, unsigned nvcpus, uint64_t boot_arg)
{
	struct arch_vcpu_create_cfg cfg;
	const uint8_t *img;
	uint64_t size;
	unsigned i;
	int ret;

	memset(h, 0, sizeof(*h));
	if (nvcpus == 0 || nvcpus > KH_MAX_VCPUS || !kh_guest_image(name, &img, &size) || size > KH_RAM_SIZE)
		return -CV_EINVAL;
	ret = arch_vm_create(&h->vm, 1);
	if (ret < 0)
		return ret;
	h->vm_live = true;
	h->ram = hal_alloc_pages(KH_RAM_SIZE / 4096);
	if (!h->ram)
		return -CV_ENOMEM;
	memcpy(h->ram, img, size);
	ret = arch_vm_map(&h->vm, gpa(CV_X86_GUEST_LOAD_GPA), h->ram, KH_RAM_SIZE,
			  CV_MAP_READ | CV_MAP_WRITE | CV_MAP_EXEC);
	if (ret < 0)
		return ret;
	cfg.vm = &h->vm;
	cfg.boot_arg = boot_arg;
	for (i = 0; i < nvcpus; i++) {
		ret = vcpu_create(&h->vcpus[i], 1, i, 0, 0, &cfg);
		if (ret < 0)
			return ret;
		h->nvcpus = i + 1;
		ret = vcpu_setup(h->vcpus[i], gpa(CV_X86_GUEST_LOAD_GPA), arch_vm_ept_root(&h->vm), NULL);
		if (ret < 0)
			return ret;
	}
	return vcpu_bind(h->vcpus[0]);
}

void kh_vm_stop(struct kh_vm *h)
{
	unsigned i;

	for (i = 0; i < h->nvcpus; i++) {
		if (!h->vcpus[i])
			continue;
		if (vcpu_state(h->vcpus[i]) == VCPU_STATE_READY)
			vcpu_unbind(h->vcpus[i]);
		vcpu_destroy(h->vcpus[i]);
		h->vcpus[i] = NULL;
	}
	if (h->vm_live)
		arch_vm_destroy(&h->vm);
	h->vm_live = false;
	hal_free_pages(h->ram, KH_RAM_SIZE / 4096);
	h->ram = NULL;
}

void *kh_gpa(struct kh_vm *h, uint64_t addr, uint64_t len)
{
	if (!cv_range_within(CV_X86_GUEST_LOAD_GPA, KH_RAM_SIZE, addr, len))
		return NULL;
	return (uint8_t *)h->ram + (addr - CV_X86_GUEST_LOAD_GPA);
}

/* ---- TAP ---- */

static pthread_mutex_t tap_lock = PTHREAD_MUTEX_INITIALIZER;
static unsigned tap_n, tap_case_failed, tap_failures;

void kt_diag(const char *fmt, ...)
{
	char buf[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	pthread_mutex_lock(&tap_lock);
	printf("# %s\n", buf);
	fflush(stdout);
	pthread_mutex_unlock(&tap_lock);
}

bool kt_check(bool cond, const char *what, const char *file, int line)
{
	if (!cond) {
		kt_diag("%s:%d: check failed: %s", file, line, what);
		pthread_mutex_lock(&tap_lock);
		tap_case_failed++;
		pthread_mutex_unlock(&tap_lock);
	}
	return cond;
}

bool kt_check_eq(uint64_t got, uint64_t want, const char *what, const char *file, int line)
{
	if (got != want) {
		kt_diag("%s:%d: %s: got %#" PRIx64 ", want %#" PRIx64, file, line, what, got, want);
		pthread_mutex_lock(&tap_lock);
		tap_case_failed++;
		pthread_mutex_unlock(&tap_lock);
	}
	return got == want;
}

void kt_case_end(const char *name)
{
	pthread_mutex_lock(&tap_lock);
	tap_n++;
	if (tap_case_failed) {
		printf("not ok %u - %s\n", tap_n, name);
		tap_failures++;
	} else {
		printf("ok %u - %s\n", tap_n, name);
	}
	tap_case_failed = 0;
	fflush(stdout);
	pthread_mutex_unlock(&tap_lock);
}

void kt_skip(const char *name, const char *reason)
{
	pthread_mutex_lock(&tap_lock);
	tap_n++;
	printf("ok %u - %s # SKIP %s\n", tap_n, name, reason);
	fflush(stdout);
	pthread_mutex_unlock(&tap_lock);
}

unsigned kt_failures(void)
{
	return tap_failures;
}

/* ---- exits ---- */

bool kh_expect_kind(struct vcpu *v, struct vcpu_exit *exit, enum vcpu_exit_kind kind, const char *file, int line)
{
	int ret = kh_run_exit(v, exit);

	if (ret < 0) {
		kt_diag("%s:%d: vcpu_run failed: %s (wanted %s)", file, line, cv_strerror(ret), vcpu_exit_name(kind));
		return kt_check(false, "vcpu_run succeeds", file, line);
	}
	if (exit->kind != kind) {
		kt_diag("%s:%d: exit %s, wanted %s", file, line, vcpu_exit_name(exit->kind), vcpu_exit_name(kind));
		if (exit->kind == VCPU_EXIT_IO_WRITE)
			kt_diag("  (IO_WRITE port %#x width %u data %#x)", exit->io_write.port, exit->io_write.width,
				exit->io_write.data);
		return kt_check(false, "exit kind", file, line);
	}
	return true;
}

bool kh_expect_report(struct vcpu *v, uint64_t *val, const char *file, int line)
{
	struct vcpu_exit e;
	uint64_t half[2];
	int i;

	for (i = 0; i < 2; i++) {
		if (!kh_expect_kind(v, &e, VCPU_EXIT_IO_WRITE, file, line))
			return false;
		if (!kt_check_eq(e.io_write.port, CV_TEST_REPORT_PORT, "report port", file, line) ||
		    !kt_check_eq(e.io_write.width, 4, "report width", file, line))
			return false;
		half[i] = e.io_write.data;
	}
	*val = half[0] | half[1] << 32;
	return true;
}
