/* SPDX-License-Identifier: MIT */
/*
 * The HAL: what a host provides to core/ and to the backends (host/linux for the hosted
 * build, host/aarch64-virt on bare metal). One implementation is linked per build.
 */
#ifndef CVISOR_HAL_H
#define CVISOR_HAL_H

#include <cvisor/types.h>

struct vcpu;

/* ---- memory ---- */

/* Zeroed memory of size bytes, 16-byte aligned; NULL when out of memory. */
void *hal_alloc(size_t size);
/* Frees hal_alloc memory; NULL is ignored. */
void hal_free(void *p);
/* npages zeroed, page-aligned pages (4 KiB each); NULL when out of memory. */
void *hal_alloc_pages(size_t npages);
/* Frees hal_alloc_pages memory; NULL is ignored. */
void hal_free_pages(void *p, size_t npages);
/* Host-physical address of host memory (identity on the hosted build). */
hpa_t hal_virt_to_phys(const void *va);
/* Host-virtual address of host-physical memory. */
void *hal_phys_to_virt(hpa_t pa);

/* ---- time and CPUs ---- */

/* Monotonic nanoseconds. */
uint64_t hal_now_ns(void);
/* Index of the physical CPU running the caller. */
unsigned hal_cpu_id(void);
/* Number of physical CPUs usable by cvisor. */
unsigned hal_cpu_count(void);

/*
 * The per-CPU current-vCPU slot (per vCPU thread when hosted). Only core/vcpu.c writes
 * it; everyone else reads it through vcpu_current().
 */
struct vcpu **hal_current_vcpu_slot(void);

/* ---- tasks ---- */

struct hal_task;

/*
 * Starts fn(arg) as a task named name with a stack of stack_size bytes (0: default),
 * allowed on the CPUs in cpu_mask (bit n = CPU n; 0: any).
 */
int hal_task_spawn(struct hal_task **out, const char *name, size_t stack_size, uint64_t cpu_mask,
		   void (*fn)(void *), void *arg);

/*
 * Waits at most timeout_ns for the task to return, then frees it. -CV_ETIMEDOUT leaves
 * the task running and not freed (it is reported, never waited on forever).
 */
int hal_task_join(struct hal_task *task, uint64_t timeout_ns);

/* Restricts the calling task to cpu_mask (0: any CPU). */
int hal_task_pin_self(uint64_t cpu_mask);

/* ---- wait queues ---- */

struct hal_waitq;

int hal_waitq_create(struct hal_waitq **out);
void hal_waitq_destroy(struct hal_waitq *wq);

/*
 * Sleeps until cond(arg) is true, checked under the queue's lock after every notify.
 * timeout_ns of 0 waits without bound; on timeout returns -CV_ETIMEDOUT.
 */
int hal_wait_until(struct hal_waitq *wq, bool (*cond)(void *arg), void *arg, uint64_t timeout_ns);

/* Wakes one / every sleeper, which then re-checks its condition. */
void hal_notify_one(struct hal_waitq *wq);
void hal_notify_all(struct hal_waitq *wq);

/* ---- logging and fatal errors ---- */

enum hal_log_level { HAL_LOG_ERROR, HAL_LOG_WARN, HAL_LOG_INFO, HAL_LOG_DEBUG };

/* printf-style message on cvisor's own channel, prefixed "cvisor: ". */
void hal_log(enum hal_log_level level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Stops everything with msg: only for broken invariants (CV_BUG_ON). */
_Noreturn void hal_fatal(const char *msg);

#endif /* CVISOR_HAL_H */
