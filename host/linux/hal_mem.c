/* SPDX-License-Identifier: MIT */
/* The hosted HAL's memory, time, CPU and logging services (Linux user space). */
#define _GNU_SOURCE
#include <limits.h>
#include <sched.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include <cvisor/hal.h>

#define PAGE_SIZE 4096u

void *hal_alloc(size_t size)
{
	/* calloc is 16-byte aligned on x86_64 glibc, as the HAL promises. */
	return calloc(1, size ? size : 1);
}

void hal_free(void *p)
{
	free(p);
}

void *hal_alloc_pages(size_t npages)
{
	void *p;

	if (npages == 0 || npages > SIZE_MAX / PAGE_SIZE)
		return NULL;
	/* Anonymous mappings are zeroed and page aligned; large guest RAM stays lazy. */
	p = mmap(NULL, npages * PAGE_SIZE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	return p == MAP_FAILED ? NULL : p;
}

void hal_free_pages(void *p, size_t npages)
{
	if (p)
		munmap(p, npages * PAGE_SIZE);
}

/* Hosted: KVM takes host-virtual addresses, so "physical" is the virtual address. */
hpa_t hal_virt_to_phys(const void *va)
{
	return hpa((uint64_t)(uintptr_t)va);
}

void *hal_phys_to_virt(hpa_t pa)
{
	return (void *)(uintptr_t)pa.v;
}

uint64_t hal_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

unsigned hal_cpu_id(void)
{
	int cpu = sched_getcpu();

	return cpu < 0 ? 0 : (unsigned)cpu;
}

unsigned hal_cpu_count(void)
{
	long n = sysconf(_SC_NPROCESSORS_ONLN);

	return n < 1 ? 1 : (unsigned)n;
}

/* Hosted, each vCPU runs on its own thread: the "per-CPU" slot is per thread. */
static _Thread_local struct vcpu *current_vcpu;

struct vcpu **hal_current_vcpu_slot(void)
{
	return &current_vcpu;
}

/*
 * CVISOR_LOG, read on the first call. Several vCPU threads may make that call at once:
 * the cached value is atomic (each computes the same value, so whichever store wins is fine).
 */
static enum hal_log_level log_threshold(void)
{
	static _Atomic int level = INT_MIN; /* not read yet */
	int l = atomic_load_explicit(&level, memory_order_relaxed);
	const char *env;

	if (l == INT_MIN) {
		env = getenv("CVISOR_LOG");
		l = env ? atoi(env) : HAL_LOG_WARN;
		atomic_store_explicit(&level, l, memory_order_relaxed);
	}
	return (enum hal_log_level)l;
}

void hal_log(enum hal_log_level level, const char *fmt, ...)
{
	char buf[512];
	va_list ap;

	if (level > log_threshold())
		return;
	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	/* One write per line so that lines from several vCPU threads never interleave. */
	fprintf(stderr, "cvisor: %s\n", buf);
}

_Noreturn void hal_fatal(const char *msg)
{
	fprintf(stderr, "cvisor: fatal: %s\n", msg);
	fflush(stderr);
	abort();
}
