/* SPDX-License-Identifier: MIT */
/*
 * The HAL's tasks and wait queues on bare metal: a cooperative scheduler per physical
 * CPU. A task is pinned to one CPU (the first online CPU of its mask, or spread when the
 * mask is 0) and runs until it blocks in hal_wait_until or returns; each CPU's boot
 * context is its idle task, which sleeps in WFI when nothing is runnable. Waking a task
 * of another CPU puts it on that CPU's run queue and sends it an SGI.
 *
 * Time slices: a task is only ever switched out at a scheduling point (it blocks, returns,
 * or calls hal_wait_until, which on this host always passes through the scheduler).
 * Guest code is the only long-running code, so a vCPU task is preempted like this: when
 * other tasks wait for its CPU, the EL2 timer is armed for the end of the slice; its
 * interrupt ends the guest's run (HCR_EL2.IMO), and the backend calls hal_wait_until on
 * every IRQ exit. A task woken from another CPU gets there through the wake-up SGI.
 *
 * Lock order: a wait queue's lock, then a CPU's run-queue lock (wake-ups happen under
 * the wait queue's lock, so a sleeper that has checked its condition and published
 * itself as BLOCKED cannot miss one). A task's state and queued flag belong to the
 * run-queue lock of its CPU. Only a task's own CPU takes it off the run queue, so a task
 * woken before it has switched away is never resumed on a half-saved context.
 */
#include <cvisor/errors.h>

#include "platform.h"

#define DEFAULT_STACK (64u * 1024u)

struct hal_waitq {
	spinlock_t lock; /* protects head */
	struct hal_task *head;
};

static struct percpu *cpu_of(unsigned cpu)
{
	return &plat_percpu[cpu];
}

static uint64_t counter_freq(void)
{
	return read_sysreg(cntfrq_el0);
}

static uint64_t now_ticks(void)
{
	isb();
	return read_sysreg(cntpct_el0);
}

uint64_t hal_now_ns(void)
{
	uint64_t c = now_ticks(), f = counter_freq();

	return (c / f) * 1000000000ull + ((c % f) * 1000000000ull) / f;
}

static uint64_t ns_to_ticks(uint64_t ns)
{
	return (ns / 1000u) * counter_freq() / 1000000u + 1;
}

unsigned hal_cpu_id(void)
{
	return this_cpu()->id;
}

unsigned hal_cpu_count(void)
{
	return plat_ncpus;
}

/*
 * Per task: a vCPU task may be switched out inside arch_vcpu_run (time slice), and the
 * task that runs next on the CPU operates on its own vCPU (DESIGN.md asks per CPU; with
 * preemption per task is the same rule, as per thread is when hosted).
 */
struct vcpu **hal_current_vcpu_slot(void)
{
	return &this_cpu()->current->vcpu_slot;
}

/* Caller holds pc->rq_lock. */
static void rq_push(struct percpu *pc, struct hal_task *t)
{
	if (t->queued || t->idle)
		return;
	t->queued = true;
	t->rq_next = NULL;
	if (pc->rq_tail)
		pc->rq_tail->rq_next = t;
	else
		pc->rq_head = t;
	pc->rq_tail = t;
}

static struct hal_task *rq_pop(struct percpu *pc)
{
	struct hal_task *t = pc->rq_head;

	if (!t)
		return NULL;
	pc->rq_head = t->rq_next;
	if (!pc->rq_head)
		pc->rq_tail = NULL;
	t->queued = false;
	return t;
}

static void all_remove(struct percpu *pc, struct hal_task *t)
{
	for (struct hal_task **pp = &pc->all_tasks; *pp; pp = &(*pp)->all_next) {
		if (*pp == t) {
			*pp = t->all_next;
			return;
		}
	}
}

/* Caller holds pc->rq_lock: the earliest deadline of a timed sleeper (0: none). */
static uint64_t earliest_deadline(struct percpu *pc)
{
	uint64_t earliest = 0;

	for (struct hal_task *t = pc->all_tasks; t; t = t->all_next)
		if (t->state == TASK_BLOCKED && t->deadline && (!earliest || t->deadline < earliest))
			earliest = t->deadline;
	return earliest;
}

/*
 * Caller holds pc->rq_lock and runs on pc: arms the EL2 timer for a task about to run
 * (or running): the end of its slice when others wait, or the earliest timed sleeper.
 * Rewriting it also quiets a timer that has fired (its interrupt is a level).
 */
static void arm_task_timer(struct percpu *pc)
{
	uint64_t when = pc->rq_head ? now_ticks() + ns_to_ticks(PLAT_SLICE_NS) : 0;
	uint64_t earliest = earliest_deadline(pc);

	if (earliest && (!when || earliest < when))
		when = earliest;
	if (when) {
		write_sysreg(when, cnthp_cval_el2);
		write_sysreg(1, cnthp_ctl_el2);
	} else {
		write_sysreg(0, cnthp_ctl_el2);
	}
	isb();
}

static void kick_cpu(unsigned cpu)
{
	struct percpu *pc;

	if (cpu != hal_cpu_id()) {
		gic_send_sgi(cpu_of(cpu)->mpidr, PLAT_SGI_WAKE);
		return;
	}
	/* Our own CPU: a running task must now share it, so its slice gets an end. */
	pc = this_cpu();
	if (!pc->current->idle) {
		spin_lock(&pc->rq_lock);
		arm_task_timer(pc);
		spin_unlock(&pc->rq_lock);
	}
}

/* Makes a blocked task runnable on its CPU. */
static void wake(struct hal_task *t)
{
	struct percpu *pc = cpu_of(t->cpu);
	bool woke = false;

	spin_lock(&pc->rq_lock);
	if (t->state == TASK_BLOCKED) {
		t->state = TASK_RUNNABLE;
		rq_push(pc, t);
		woke = true;
	}
	spin_unlock(&pc->rq_lock);
	if (woke)
		kick_cpu(t->cpu);
}

/* Caller holds pc->rq_lock: timed sleepers whose deadline passed become runnable. */
static void expire_deadlines(struct percpu *pc)
{
	uint64_t now = now_ticks();

	for (struct hal_task *t = pc->all_tasks; t; t = t->all_next) {
		if (t->state == TASK_BLOCKED && t->deadline && t->deadline <= now) {
			t->state = TASK_RUNNABLE;
			rq_push(pc, t);
		}
	}
}

/* Completes a switch on the new task's side: hands a migrating task to its new CPU, or
 * marks a dead one as gone so that hal_task_join may free its stack. */
static void finish_switch(struct hal_task *prev)
{
	if (prev->state == TASK_MIGRATING) {
		struct percpu *to = cpu_of(prev->cpu);

		spin_lock(&to->rq_lock);
		prev->state = TASK_RUNNABLE;
		prev->all_next = to->all_tasks;
		to->all_tasks = prev;
		rq_push(to, prev);
		spin_unlock(&to->rq_lock);
		kick_cpu(prev->cpu);
	} else if (prev->state == TASK_DEAD) {
		struct hal_waitq *wq = prev->join_wq;
		struct hal_task *w;

		spin_lock(&wq->lock);
		atomic_store(&prev->exited, true);
		while ((w = wq->head) != NULL) {
			wq->head = w->wq_next;
			w->wq_next = NULL;
			wake(w);
		}
		spin_unlock(&wq->lock);
	}
}

/* Runs the next runnable task of this CPU, if any other than the caller. */
static void schedule(void)
{
	struct percpu *pc = this_cpu();
	struct hal_task *cur = pc->current, *next, *prev;

	spin_lock(&pc->rq_lock);
	expire_deadlines(pc);
	if (cur->state == TASK_RUNNABLE)
		rq_push(pc, cur);
	next = rq_pop(pc);
	if (!next)
		next = &pc->idle;
	if (cur->state == TASK_DEAD || cur->state == TASK_MIGRATING)
		all_remove(pc, cur);
	if (!next->idle)
		arm_task_timer(pc); /* the idle loop arms its own */
	spin_unlock(&pc->rq_lock);
	if (next == cur)
		return;
	pc->current = next;
	prev = plat_switch(cur, next);
	finish_switch(prev);
}

void sched_task_start(struct hal_task *prev)
{
	struct percpu *pc;
	struct hal_task *self;

	finish_switch(prev);
	self = this_cpu()->current;
	self->fn(self->arg);
	pc = this_cpu();
	spin_lock(&pc->rq_lock);
	self->state = TASK_DEAD;
	spin_unlock(&pc->rq_lock);
	schedule();
	hal_fatal("a dead task was resumed");
}

void sched_init_cpu(struct percpu *pc)
{
	pc->idle.idle = true;
	pc->idle.cpu = pc->id;
	pc->idle.state = TASK_RUNNABLE;
	plat_snprintf(pc->idle.name, sizeof(pc->idle.name), "idle/%u", pc->id);
	pc->current = &pc->idle;
}

_Noreturn void sched_idle_loop(void)
{
	struct percpu *pc = this_cpu();

	for (;;) {
		uint64_t earliest;
		bool runnable;

		schedule();
		spin_lock(&pc->rq_lock);
		expire_deadlines(pc);
		runnable = pc->rq_head != NULL;
		earliest = earliest_deadline(pc);
		spin_unlock(&pc->rq_lock);
		if (runnable)
			continue;
		/*
		 * Sleep until an SGI (a wake-up from another CPU) or the EL2 timer for the
		 * earliest timed sleeper. WFI wakes on a pending interrupt even with PSTATE.I
		 * set (ARM ARM D1.16.2), so an SGI sent after the check above is not lost.
		 */
		if (earliest) {
			write_sysreg(earliest, cnthp_cval_el2);
			write_sysreg(1, cnthp_ctl_el2);
		} else {
			write_sysreg(0, cnthp_ctl_el2);
		}
		isb();
		__asm__ volatile("dsb sy; wfi" ::: "memory");
		write_sysreg(0, cnthp_ctl_el2);
		gic_drain();
	}
}

static unsigned pick_cpu(uint64_t mask)
{
	static _Atomic unsigned rr;

	for (unsigned c = 0; c < plat_ncpus; c++)
		if ((!mask || (mask >> c & 1)) && atomic_load(&cpu_of(c)->online))
			return mask ? c : (atomic_fetch_add(&rr, 1) % plat_ncpus);
	return UINT32_MAX;
}

int hal_task_spawn(struct hal_task **out, const char *name, size_t stack_size, uint64_t cpu_mask, void (*fn)(void *),
		   void *arg)
{
	struct hal_task *t;
	struct percpu *pc;
	unsigned cpu = pick_cpu(cpu_mask);
	int ret;

	if (!out || !fn)
		return -CV_EINVAL;
	if (cpu == UINT32_MAX)
		return -CV_EINVAL; /* no online CPU in the mask */
	t = hal_alloc(sizeof(*t));
	if (!t)
		return -CV_ENOMEM;
	ret = hal_waitq_create(&t->join_wq);
	if (ret < 0)
		goto err_task;
	t->stack_pages = ((stack_size ? stack_size : DEFAULT_STACK) + PLAT_PAGE_SIZE - 1) / PLAT_PAGE_SIZE;
	t->stack = hal_alloc_pages(t->stack_pages);
	if (!t->stack) {
		ret = -CV_ENOMEM;
		goto err_wq;
	}
	plat_snprintf(t->name, sizeof(t->name), "%s", name ? name : "task");
	t->fn = fn;
	t->arg = arg;
	t->cpu = cpu;
	t->cpu_mask = cpu_mask;
	t->ctx.sp = (uint64_t)(uintptr_t)t->stack + t->stack_pages * PLAT_PAGE_SIZE;
	t->ctx.lr = (uint64_t)(uintptr_t)plat_task_trampoline;
	t->state = TASK_RUNNABLE;
	*out = t;
	pc = cpu_of(cpu);
	spin_lock(&pc->rq_lock);
	t->all_next = pc->all_tasks;
	pc->all_tasks = t;
	rq_push(pc, t);
	spin_unlock(&pc->rq_lock);
	kick_cpu(cpu);
	return 0;
err_wq:
	hal_waitq_destroy(t->join_wq);
err_task:
	hal_free(t);
	return ret;
}

static bool task_exited(void *arg)
{
	return atomic_load(&((struct hal_task *)arg)->exited);
}

int hal_task_join(struct hal_task *task, uint64_t timeout_ns)
{
	int ret;

	if (!task)
		return -CV_EINVAL;
	ret = hal_wait_until(task->join_wq, task_exited, task, timeout_ns);
	if (ret < 0)
		return ret;
	hal_free_pages(task->stack, task->stack_pages);
	hal_waitq_destroy(task->join_wq);
	hal_free(task);
	return 0;
}

int hal_task_pin_self(uint64_t cpu_mask)
{
	struct percpu *pc = this_cpu();
	struct hal_task *self = pc->current;
	unsigned target;

	if (self->idle)
		return -CV_EINVAL;
	self->cpu_mask = cpu_mask;
	if (!cpu_mask || (cpu_mask >> pc->id & 1))
		return 0;
	target = pick_cpu(cpu_mask);
	if (target == UINT32_MAX)
		return -CV_EINVAL;
	spin_lock(&pc->rq_lock);
	self->state = TASK_MIGRATING;
	self->cpu = target;
	spin_unlock(&pc->rq_lock);
	schedule(); /* resumes on the target CPU */
	return 0;
}

int hal_waitq_create(struct hal_waitq **out)
{
	struct hal_waitq *wq = hal_alloc(sizeof(*wq));

	if (!wq)
		return -CV_ENOMEM;
	*out = wq;
	return 0;
}

void hal_waitq_destroy(struct hal_waitq *wq)
{
	hal_free(wq);
}

static void wq_remove(struct hal_waitq *wq, struct hal_task *t)
{
	for (struct hal_task **pp = &wq->head; *pp; pp = &(*pp)->wq_next) {
		if (*pp == t) {
			*pp = t->wq_next;
			t->wq_next = NULL;
			return;
		}
	}
}

int hal_wait_until(struct hal_waitq *wq, bool (*cond)(void *arg), void *arg, uint64_t timeout_ns)
{
	struct percpu *pc = this_cpu();
	struct hal_task *self = pc->current;
	uint64_t deadline = timeout_ns ? now_ticks() + ns_to_ticks(timeout_ns) : 0;
	int ret = 0;

	if (self->idle)
		hal_fatal("hal_wait_until from a CPU's idle context");
	spin_lock(&wq->lock);
	if (cond(arg)) {
		/* Nothing to wait for: still a scheduling point, so a long-running vCPU task yields. */
		spin_unlock(&wq->lock);
		schedule();
		return 0;
	}
	while (!cond(arg)) {
		if (deadline && now_ticks() >= deadline) {
			ret = -CV_ETIMEDOUT;
			break;
		}
		self->wq_next = wq->head;
		wq->head = self;
		spin_lock(&pc->rq_lock);
		self->state = TASK_BLOCKED;
		self->deadline = deadline;
		spin_unlock(&pc->rq_lock);
		spin_unlock(&wq->lock);
		schedule();
		spin_lock(&wq->lock);
		wq_remove(wq, self);
	}
	self->deadline = 0;
	spin_unlock(&wq->lock);
	return ret;
}

void hal_notify_one(struct hal_waitq *wq)
{
	struct hal_task *t;

	spin_lock(&wq->lock);
	t = wq->head;
	if (t) {
		wq->head = t->wq_next;
		t->wq_next = NULL;
		wake(t);
	}
	spin_unlock(&wq->lock);
}

void hal_notify_all(struct hal_waitq *wq)
{
	struct hal_task *t;

	spin_lock(&wq->lock);
	while ((t = wq->head) != NULL) {
		wq->head = t->wq_next;
		t->wq_next = NULL;
		wake(t);
	}
	spin_unlock(&wq->lock);
}
