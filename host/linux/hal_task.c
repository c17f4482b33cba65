/* SPDX-License-Identifier: MIT */
/*
 * The hosted HAL's tasks (one pthread each) and wait queues (a mutex and a condition
 * variable). Lock order: a wait queue's mutex is a leaf; nothing is taken while held.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cvisor/errors.h>
#include <cvisor/hal.h>

#define DEFAULT_STACK (256u * 1024u) /* the seed's vCPU task stack */

struct hal_task {
	pthread_t thread;
	void (*fn)(void *);
	void *arg;
	uint64_t cpu_mask;
	char name[16]; /* pthread names are at most 15 characters */
};

/* The CPUs of cpu_mask this machine has; false when none (the task then floats). */
static bool mask_to_set(uint64_t cpu_mask, cpu_set_t *set)
{
	unsigned cpu, ncpus = hal_cpu_count();
	bool any = false;

	CPU_ZERO(set);
	for (cpu = 0; cpu < 64 && cpu < ncpus; cpu++) {
		if (cpu_mask & (1ull << cpu)) {
			CPU_SET(cpu, set);
			any = true;
		}
	}
	return any;
}

static int set_affinity(pthread_t thread, uint64_t cpu_mask)
{
	cpu_set_t set;

	if (cpu_mask == 0)
		return 0;
	if (!mask_to_set(cpu_mask, &set))
		return -CV_EINVAL;
	return pthread_setaffinity_np(thread, sizeof(set), &set) == 0 ? 0 : -CV_EINVAL;
}

/* The absolute time timeout_ns from now on clock clk. */
static struct timespec deadline_after(clockid_t clk, uint64_t timeout_ns)
{
	struct timespec ts;

	clock_gettime(clk, &ts);
	ts.tv_sec += (time_t)(timeout_ns / 1000000000ull);
	ts.tv_nsec += (long)(timeout_ns % 1000000000ull);
	if (ts.tv_nsec >= 1000000000L) {
		ts.tv_sec++;
		ts.tv_nsec -= 1000000000L;
	}
	return ts;
}

static void *task_main(void *p)
{
	struct hal_task *t = p;

	pthread_setname_np(pthread_self(), t->name);
	t->fn(t->arg);
	return NULL;
}

int hal_task_spawn(struct hal_task **out, const char *name, size_t stack_size, uint64_t cpu_mask, void (*fn)(void *),
		   void *arg)
{
	struct hal_task *t;
	pthread_attr_t attr;
	cpu_set_t set;
	int ret;

	t = calloc(1, sizeof(*t));
	if (!t)
		return -CV_ENOMEM;
	t->fn = fn;
	t->arg = arg;
	t->cpu_mask = cpu_mask;
	strncpy(t->name, name ? name : "cvisor", sizeof(t->name) - 1);
	pthread_attr_init(&attr);
	pthread_attr_setstacksize(&attr, stack_size ? stack_size : DEFAULT_STACK);
	/*
	 * The mask is part of the attributes so the task never runs outside it, not even
	 * for its first instructions. A mask naming only CPUs this machine lacks is not
	 * fatal: the task floats, and says so.
	 */
	if (cpu_mask && mask_to_set(cpu_mask, &set))
		pthread_attr_setaffinity_np(&attr, sizeof(set), &set);
	else if (cpu_mask)
		hal_log(HAL_LOG_WARN, "task %s: CPU mask %#llx not usable here, not pinned", t->name,
			(unsigned long long)cpu_mask);
	ret = pthread_create(&t->thread, &attr, task_main, t);
	pthread_attr_destroy(&attr);
	if (ret != 0) {
		free(t);
		/* EAGAIN: no memory or a thread limit; EINVAL: e.g. a CPU mask of offline CPUs. */
		return ret == EAGAIN ? -CV_ENOMEM : ret == EINVAL ? -CV_EINVAL : -CV_EIO;
	}
	*out = t;
	return 0;
}

int hal_task_join(struct hal_task *task, uint64_t timeout_ns)
{
	struct timespec ts;

	if (!task)
		return -CV_EINVAL;
	if (timeout_ns == 0) {
		pthread_join(task->thread, NULL);
	} else {
		/* pthread_timedjoin_np measures against CLOCK_REALTIME. */
		ts = deadline_after(CLOCK_REALTIME, timeout_ns);
		if (pthread_timedjoin_np(task->thread, NULL, &ts) != 0)
			return -CV_ETIMEDOUT;
	}
	free(task);
	return 0;
}

int hal_task_pin_self(uint64_t cpu_mask)
{
	return set_affinity(pthread_self(), cpu_mask);
}

struct hal_waitq {
	pthread_mutex_t lock;
	pthread_cond_t cond;
};

int hal_waitq_create(struct hal_waitq **out)
{
	struct hal_waitq *wq = calloc(1, sizeof(*wq));
	pthread_condattr_t ca;

	if (!wq)
		return -CV_ENOMEM;
	pthread_mutex_init(&wq->lock, NULL);
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&wq->cond, &ca);
	pthread_condattr_destroy(&ca);
	*out = wq;
	return 0;
}

void hal_waitq_destroy(struct hal_waitq *wq)
{
	if (!wq)
		return;
	pthread_cond_destroy(&wq->cond);
	pthread_mutex_destroy(&wq->lock);
	free(wq);
}

int hal_wait_until(struct hal_waitq *wq, bool (*cond)(void *arg), void *arg, uint64_t timeout_ns)
{
	struct timespec ts;
	int ret = 0;

	if (timeout_ns)
		ts = deadline_after(CLOCK_MONOTONIC, timeout_ns); /* the condition variable's clock */
	pthread_mutex_lock(&wq->lock);
	while (!cond(arg)) {
		if (!timeout_ns) {
			pthread_cond_wait(&wq->cond, &wq->lock);
		} else if (pthread_cond_timedwait(&wq->cond, &wq->lock, &ts) == ETIMEDOUT) {
			ret = cond(arg) ? 0 : -CV_ETIMEDOUT;
			break;
		}
	}
	pthread_mutex_unlock(&wq->lock);
	return ret;
}

/*
 * The waker changed the condition's state before calling notify; taking the lock here
 * orders that change against a sleeper that is between its check and its wait, so no
 * wake-up is lost.
 */
void hal_notify_one(struct hal_waitq *wq)
{
	pthread_mutex_lock(&wq->lock);
	pthread_cond_signal(&wq->cond);
	pthread_mutex_unlock(&wq->lock);
}

void hal_notify_all(struct hal_waitq *wq)
{
	pthread_mutex_lock(&wq->lock);
	pthread_cond_broadcast(&wq->cond);
	pthread_mutex_unlock(&wq->lock);
}
