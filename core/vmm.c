/* SPDX-License-Identifier: MIT */
/*
 * The VMM (seed 004, axvisor src/vmm/vcpus.rs): a task per vCPU, a wait queue per VM,
 * and the exit table of the seed with its lifecycle bugs fixed (halted and CPU_OFF
 * vCPUs are woken on shutdown; CPU_ON of a vCPU that is on answers ALREADY_ON instead
 * of spawning a second task; waits are bounded).
 *
 * Lock order (outermost first):
 *   vm hook_lock (core/vm.c, held while it calls vmm_wake)
 *     -> the VM's wait-queue lock (inside hal_wait_until / hal_notify_*; the wait
 *        conditions below run under it)
 *       -> vv->lock (this file's spinlock)
 * vv->lock protects every vmm_vcpu field marked "lock" and vv's counters; it is a leaf:
 * nothing is called with it held but atomic reads (vm_status). Notifications are made
 * after it is dropped.
 * Cross-vCPU requests (CPU_ON, barrier release, shutdown): write the state under
 * vv->lock (the unlock is the release barrier), then notify the wait queue / spawn the
 * task / kick; a sleeper re-checks its condition under the wait-queue lock, which the
 * notify takes, so no request is lost between its check and its sleep.
 */
#include <cvisor/check.h>
#include <cvisor/errors.h>
#include <cvisor/guest_abi.h>
#include <cvisor/hal.h>
#include <cvisor/spinlock.h>
#include <cvisor/vcpu.h>
#include <cvisor/vmm.h>

#define VCPU_TASK_STACK (256u * 1024u) /* the seed's vCPU task stack */
#define TASK_NAME_MAX 32

struct vmm_vcpu {
	struct vmm_vm *vv;
	uint32_t id;
	char name[TASK_NAME_MAX];
	enum vmm_power power;  /* lock */
	bool on_request;       /* lock: a CPU_ON not yet applied by the vCPU's own task */
	gpa_t entry;	       /* lock: CPU_ON entry point */
	uint64_t arg;	       /* lock: CPU_ON context id (gpr 0) */
	bool spawned;	       /* lock: a task was started (never a second one) */
	bool alive;	       /* lock: that task has not left yet */
	struct hal_task *task; /* written by the spawner before it leaves; joined by destroy */
};

struct vmm_vm {
	struct vm *vm;
	struct hal_waitq *wq;
	struct vmm_hooks hooks;
	struct cv_spinlock lock;
	unsigned alive;		  /* lock: tasks not yet left (seed: running_halting_vcpu_count) */
	unsigned barrier_arrived; /* lock: vCPUs waiting in CV_HC_BARRIER */
	uint64_t barrier_gen;	  /* lock: bumped when a barrier opens */
	unsigned nvcpus;
	struct vmm_vcpu vcpus[VM_MAX_VCPUS];
};

/* ---- helpers ---- */

static bool vm_stopping(const struct vm *vm)
{
	return vm_status(vm) >= VM_STATUS_STOPPING;
}

static void append(char *buf, size_t *len, const char *s)
{
	while (*s && *len + 1 < TASK_NAME_MAX)
		buf[(*len)++] = *s++;
	buf[*len] = '\0';
}

static void append_u32(char *buf, size_t *len, uint32_t v)
{
	char digits[11];
	int n = 0;

	do {
		digits[n++] = (char)('0' + v % 10);
		v /= 10;
	} while (v);
	while (n > 0 && *len + 1 < TASK_NAME_MAX)
		buf[(*len)++] = digits[--n];
	buf[*len] = '\0';
}

/* The seed's task name: VM[id]-VCpu[id]. */
static void make_name(char *buf, uint32_t vm_id, uint32_t vcpu_id)
{
	size_t len = 0;

	append(buf, &len, "VM[");
	append_u32(buf, &len, vm_id);
	append(buf, &len, "]-VCpu[");
	append_u32(buf, &len, vcpu_id);
	append(buf, &len, "]");
}

static void stop_vm(struct vmm_vm *vv, enum vm_stop_kind kind, int err, uint32_t vcpu_id, uint64_t detail)
{
	struct vm_stop_reason why = {.kind = kind, .error = err, .vcpu_id = vcpu_id, .detail = detail};

	/* -CV_EBADSTATE: already stopping, the first reason stays. */
	vm_shutdown(vv->vm, &why);
}

/* Called by the VM (its hook lock held) when an interrupt is queued, or on shutdown. */
static void vmm_wake(void *ctx, uint32_t vcpu_id)
{
	struct vmm_vm *vv = ctx;

	(void)vcpu_id; /* one queue per VM: every sleeper re-checks its own condition */
	hal_notify_all(vv->wq);
}

/* ---- the barrier hypercall ---- */

static unsigned count_on_locked(const struct vmm_vm *vv)
{
	unsigned n = 0;

	for (unsigned i = 0; i < vv->nvcpus; i++)
		n += vv->vcpus[i].power != VMM_VCPU_OFF;
	return n;
}

/* Opens the barrier when every vCPU that is on has arrived; true when it did. */
static bool barrier_check_locked(struct vmm_vm *vv)
{
	if (vv->barrier_arrived == 0 || vv->barrier_arrived < count_on_locked(vv))
		return false;
	vv->barrier_arrived = 0;
	vv->barrier_gen++;
	return true;
}

struct barrier_wait {
	struct vmm_vm *vv;
	uint64_t gen;
};

static bool barrier_passed(void *p)
{
	struct barrier_wait *w = p;
	bool passed;

	cv_spin_lock(&w->vv->lock);
	passed = w->vv->barrier_gen != w->gen;
	cv_spin_unlock(&w->vv->lock);
	return passed || vm_stopping(w->vv->vm);
}

/* CV_HC_BARRIER: returns when every vCPU that is on (running or halted) has called it. */
static uint64_t hc_barrier(struct vmm_vcpu *vc)
{
	struct vmm_vm *vv = vc->vv;
	struct barrier_wait w = {vv, 0};
	bool opened;

	cv_spin_lock(&vv->lock);
	w.gen = vv->barrier_gen;
	vv->barrier_arrived++;
	opened = barrier_check_locked(vv);
	cv_spin_unlock(&vv->lock);
	if (opened)
		hal_notify_all(vv->wq);
	else
		hal_wait_until(vv->wq, barrier_passed, &w, 0);
	return 0;
}

/* ---- PSCI ---- */

/* AFFINITY_INFO (DEN0022 5.1.5): ON, OFF or ON_PENDING for the target vCPU. */
static int64_t psci_affinity_info(struct vmm_vm *vv, uint64_t nr, const uint64_t args[6])
{
	uint64_t target = args[0], level = args[1];
	struct vmm_vcpu *t;
	int64_t ret;
	long idx;

	/* SMC32 calls carry 32-bit arguments (SMCCC 2.6). */
	if (!(nr & 0x40000000u)) {
		target &= 0xffffffffu;
		level &= 0xffffffffu;
	}
	idx = cv_cpu_id_to_vcpu(target);
	if (level != 0 || idx < 0 || (unsigned long)idx >= vv->nvcpus)
		return PSCI_RET_INVALID_PARAMETERS;
	t = &vv->vcpus[idx];
	cv_spin_lock(&vv->lock);
	if (t->power == VMM_VCPU_OFF)
		ret = PSCI_AFFINITY_OFF;
	else if (t->on_request)
		ret = PSCI_AFFINITY_ON_PENDING;
	else
		ret = PSCI_AFFINITY_ON;
	cv_spin_unlock(&vv->lock);
	return ret;
}

static void vcpu_task(void *arg);

static int spawn_task(struct vmm_vcpu *vc)
{
	struct vcpu *v = vm_vcpu(vc->vv->vm, vc->id);

	return hal_task_spawn(&vc->task, vc->name, VCPU_TASK_STACK, vcpu_phys_cpu_set(v), vcpu_task, vc);
}

/*
 * CPU_ON (DEN0022 5.1.4): starts the target at entry with arg in gpr 0; a target that is
 * on answers ALREADY_ON, one whose CPU_ON is still being applied ON_PENDING, an entry
 * outside guest RAM INVALID_ADDRESS. The request is
 * written under the lock; then the target's task is spawned (first start) or the wait
 * queue notified (a vCPU parked by CPU_OFF); the target applies it on its own task.
 */
static int64_t psci_cpu_on(struct vmm_vcpu *caller, const struct vcpu_exit *e)
{
	struct vmm_vm *vv = caller->vv;
	long idx = cv_cpu_id_to_vcpu(e->cpu_up.target_cpu);
	struct vmm_vcpu *t;
	void *host;
	bool spawn;
	int ret;

	if (idx < 0 || (unsigned long)idx >= vv->nvcpus)
		return PSCI_RET_INVALID_PARAMETERS;
	/* An entry point outside guest RAM is known to be invalid (DEN0022 5.6.2, as TF-A checks). */
	if (vm_guest_ptr(vv->vm, e->cpu_up.entry_point, 1, &host) < 0)
		return PSCI_RET_INVALID_ADDRESS;
	t = &vv->vcpus[idx];
	cv_spin_lock(&vv->lock);
	if (vm_stopping(vv->vm)) {
		cv_spin_unlock(&vv->lock);
		return PSCI_RET_DENIED;
	}
	if (t->power != VMM_VCPU_OFF) {
		/* A CPU_ON its task has not applied yet is ON_PENDING, as AFFINITY_INFO says. */
		ret = t->on_request ? PSCI_RET_ON_PENDING : PSCI_RET_ALREADY_ON;
		cv_spin_unlock(&vv->lock);
		return ret;
	}
	t->power = VMM_VCPU_ON;
	t->on_request = true;
	t->entry = e->cpu_up.entry_point;
	t->arg = e->cpu_up.arg;
	spawn = !t->spawned;
	if (spawn) {
		t->spawned = true;
		t->alive = true;
		vv->alive++;
	}
	cv_spin_unlock(&vv->lock);

	if (!spawn) {
		hal_notify_all(vv->wq);
		return PSCI_RET_SUCCESS;
	}
	ret = spawn_task(t);
	if (ret < 0) {
		hal_log(HAL_LOG_ERROR, "%s: cannot start the task: %s", t->name, cv_strerror(ret));
		cv_spin_lock(&vv->lock);
		t->power = VMM_VCPU_OFF;
		t->on_request = false;
		t->spawned = false;
		t->alive = false;
		vv->alive--;
		cv_spin_unlock(&vv->lock);
		return PSCI_RET_INTERNAL_FAILURE;
	}
	return PSCI_RET_SUCCESS;
}

/* Applies a CPU_ON request on the target's own task (the vCPU is not running). */
static int apply_on_request(struct vmm_vcpu *vc)
{
	struct vcpu *v = vm_vcpu(vc->vv->vm, vc->id);
	bool req;
	gpa_t entry;
	uint64_t arg;
	int ret;

	cv_spin_lock(&vc->vv->lock);
	req = vc->on_request;
	entry = vc->entry;
	arg = vc->arg;
	cv_spin_unlock(&vc->vv->lock);
	if (!req)
		return 0;
	/* As the seed: the new entry, and the context id in the first argument register. */
	ret = vcpu_set_entry(v, entry);
	if (ret == 0)
		ret = vcpu_set_gpr(v, 0, arg);
	cv_spin_lock(&vc->vv->lock);
	vc->on_request = false;
	cv_spin_unlock(&vc->vv->lock);
	return ret;
}

/* ---- parking: HALT and CPU_DOWN ---- */

/*
 * A halted vCPU wakes for an interrupt (SDM Vol. 3A 8.10.2 HLT; ARM ARM D1.16.2 WFI) or
 * because the VM stops; a suspend keeps it parked, since it would not run anyway.
 */
static bool halt_over(void *p)
{
	struct vmm_vcpu *vc = p;

	return vm_interrupt_pending(vc->vv->vm, vc->id) || vm_stopping(vc->vv->vm);
}

static int wait_halt(void *p)
{
	struct vmm_vcpu *vc = p;

	return hal_wait_until(vc->vv->wq, halt_over, vc, 0);
}

static bool off_over(void *p)
{
	struct vmm_vcpu *vc = p;
	bool on;

	cv_spin_lock(&vc->vv->lock);
	on = vc->on_request;
	cv_spin_unlock(&vc->vv->lock);
	return on || vm_stopping(vc->vv->vm);
}

static int wait_off(void *p)
{
	struct vmm_vcpu *vc = p;

	return hal_wait_until(vc->vv->wq, off_over, vc, 0);
}

/* HALT (WFI, HLT, CPU_SUSPEND): BLOCKED until an interrupt is queued, or the VM stops. */
static int do_halt(struct vmm_vcpu *vc)
{
	struct vmm_vm *vv = vc->vv;
	int ret;

	cv_spin_lock(&vv->lock);
	vc->power = VMM_VCPU_HALTED;
	cv_spin_unlock(&vv->lock);
	ret = vm_park_vcpu(vv->vm, vc->id, wait_halt, vc);
	cv_spin_lock(&vv->lock);
	if (vc->power == VMM_VCPU_HALTED)
		vc->power = VMM_VCPU_ON;
	cv_spin_unlock(&vv->lock);
	return ret;
}

/* CPU_DOWN (PSCI CPU_OFF): BLOCKED until a CPU_ON names this vCPU, or the VM stops. */
static int do_cpu_off(struct vmm_vcpu *vc)
{
	struct vmm_vm *vv = vc->vv;
	bool opened;

	cv_spin_lock(&vv->lock);
	vc->power = VMM_VCPU_OFF;
	/* One vCPU fewer to wait for: a barrier the others are in may open now. */
	opened = barrier_check_locked(vv);
	cv_spin_unlock(&vv->lock);
	if (opened)
		hal_notify_all(vv->wq);
	return vm_park_vcpu(vv->vm, vc->id, wait_off, vc);
}

/* ---- the exit table (seed 004 vcpus.rs) ---- */

static int64_t handle_hypercall(struct vmm_vcpu *vc, const struct vcpu_exit *e)
{
	const uint64_t *a = e->hypercall.args;
	struct vmm_vm *vv = vc->vv;
	uint64_t ret;

	switch (e->hypercall.nr) {
	case CV_HC_BARRIER:
		return (int64_t)hc_barrier(vc);
	case CV_HC_TEST_SUM:
		return (int64_t)(a[0] + a[1] + a[2] + a[3] + a[4] + a[5]);
	case PSCI_AFFINITY_INFO:
	case PSCI_AFFINITY_INFO_64:
		return psci_affinity_info(vv, e->hypercall.nr, a);
	default:
		break;
	}
	if (vv->hooks.hypercall && vv->hooks.hypercall(vv->hooks.ctx, vv->vm, vc->id, e->hypercall.nr, a, &ret))
		return (int64_t)ret;
	return CV_HC_RET_UNKNOWN;
}

/* SEND_IPI with no hook: the vector is queued on every target vCPU. */
static void deliver_ipi(struct vmm_vcpu *vc, const struct vcpu_exit *e)
{
	struct vm *vm = vc->vv->vm;
	uint32_t vector = (uint32_t)e->send_ipi.vector;

	if (e->send_ipi.vector >= VM_MAX_IRQS)
		return;
	if (e->send_ipi.send_to_all) {
		for (uint32_t i = 0; i < vc->vv->nvcpus; i++)
			if (i != vc->id || e->send_ipi.send_to_self)
				vm_inject_interrupt(vm, i, vector);
	} else if (e->send_ipi.send_to_self) {
		vm_inject_interrupt(vm, vc->id, vector);
	} else {
		long t = cv_cpu_id_to_vcpu(e->send_ipi.target_cpu);

		/* An IPI to no vCPU is lost, as on hardware. */
		if (t >= 0 && (unsigned long)t < vc->vv->nvcpus)
			vm_inject_interrupt(vm, (uint32_t)t, vector);
	}
}

/* The guest address, port or register an exit names (0 for the others), for stop reasons. */
static uint64_t exit_address(const struct vcpu_exit *e)
{
	switch (e->kind) {
	case VCPU_EXIT_NESTED_PAGE_FAULT:
		return e->nested_page_fault.addr.v;
	case VCPU_EXIT_MMIO_READ:
		return e->mmio_read.addr.v;
	case VCPU_EXIT_MMIO_WRITE:
		return e->mmio_write.addr.v;
	case VCPU_EXIT_IO_READ:
		return e->io_read.port;
	case VCPU_EXIT_IO_WRITE:
		return e->io_write.port;
	case VCPU_EXIT_SYSREG_READ:
		return e->sysreg_read.addr;
	case VCPU_EXIT_SYSREG_WRITE:
		return e->sysreg_write.addr;
	default:
		return 0;
	}
}

static bool is_bus_exit(enum vcpu_exit_kind k)
{
	return k == VCPU_EXIT_MMIO_READ || k == VCPU_EXIT_MMIO_WRITE || k == VCPU_EXIT_IO_READ ||
	       k == VCPU_EXIT_IO_WRITE || k == VCPU_EXIT_SYSREG_READ || k == VCPU_EXIT_SYSREG_WRITE;
}

/* An exit with no rule of its own: the embedder's hook, else the default. */
static void handle_other(struct vmm_vcpu *vc, struct vcpu_exit *e)
{
	struct vmm_vm *vv = vc->vv;
	int ret = -CV_ENOTSUP;

	if (vv->hooks.exit)
		ret = vv->hooks.exit(vv->hooks.ctx, vv->vm, vc->id, e);
	if (ret == 0)
		return;
	if (ret == -CV_ENOTSUP && e->kind == VCPU_EXIT_SEND_IPI) {
		deliver_ipi(vc, e);
		return;
	}
	/*
	 * A bus exit reaches here only under the ABORT unmapped-access policy; with no one to
	 * inject the abort (hosted x86 has no such exception) the VM stops as under STOP.
	 */
	if (ret == -CV_ENOTSUP && is_bus_exit(e->kind))
		ret = -CV_ENODEV;
	hal_log(HAL_LOG_ERROR, "%s: unhandled %s exit: %s", vc->name, vcpu_exit_name(e->kind), cv_strerror(ret));
	stop_vm(vv, VM_STOP_FAILED, ret, vc->id, exit_address(e));
}

static enum vm_stop_kind down_kind(enum system_down_reason r)
{
	switch (r) {
	case SYSTEM_DOWN_OFF:
		return VM_STOP_POWER_OFF;
	case SYSTEM_DOWN_RESET:
		return VM_STOP_RESET;
	case SYSTEM_DOWN_CRASH:
	default:
		return VM_STOP_CRASH;
	}
}

/* Handles one exit vm_run_vcpu returned; a negative result ends the task's loop. */
static int handle_exit(struct vmm_vcpu *vc, struct vcpu_exit *e)
{
	struct vmm_vm *vv = vc->vv;
	struct vcpu *v = vm_vcpu(vv->vm, vc->id);
	int ret = 0;

	switch (e->kind) {
	case VCPU_EXIT_HYPERCALL:
		ret = vcpu_set_return_value(v, (uint64_t)handle_hypercall(vc, e));
		break;
	case VCPU_EXIT_CPU_UP:
		ret = vcpu_set_return_value(v, (uint64_t)psci_cpu_on(vc, e));
		break;
	case VCPU_EXIT_CPU_DOWN:
		ret = do_cpu_off(vc);
		break;
	case VCPU_EXIT_HALT:
		ret = do_halt(vc);
		break;
	case VCPU_EXIT_SYSTEM_DOWN:
		stop_vm(vv, down_kind(e->system_down.reason), 0, vc->id, 0);
		break;
	case VCPU_EXIT_FAIL_ENTRY:
		hal_log(HAL_LOG_ERROR, "%s: entry failed, hardware reason %#llx", vc->name,
			(unsigned long long)e->fail_entry.hw_reason);
		stop_vm(vv, VM_STOP_FAILED, -CV_EGUEST, vc->id, e->fail_entry.hw_reason);
		break;
	case VCPU_EXIT_EXTERNAL_INTERRUPT:
	case VCPU_EXIT_NOTHING:
		break;
	default:
		handle_other(vc, e);
		break;
	}
	if (ret == -CV_ESHUTDOWN)
		return ret;
	if (ret < 0) {
		hal_log(HAL_LOG_ERROR, "%s: %s exit: %s", vc->name, vcpu_exit_name(e->kind), cv_strerror(ret));
		stop_vm(vv, VM_STOP_FAILED, ret, vc->id, 0);
		return ret;
	}
	return 0;
}

/* ---- the vCPU task ---- */

static bool vm_started(void *p)
{
	struct vmm_vm *vv = p;

	return vm_status(vv->vm) >= VM_STATUS_RUNNING && vm_status(vv->vm) != VM_STATUS_SUSPENDED;
}

/* The last task to leave marks the VM stopped and wakes vmm_wait. */
static void leave(struct vmm_vcpu *vc)
{
	struct vmm_vm *vv = vc->vv;
	bool last;

	cv_spin_lock(&vv->lock);
	vc->alive = false;
	last = --vv->alive == 0;
	cv_spin_unlock(&vv->lock);
	if (last) {
		/* Tasks only leave a stopping VM; make sure even on an unexpected path. */
		stop_vm(vv, VM_STOP_HOST, 0, vc->id, 0);
		vm_mark_stopped(vv->vm);
		hal_log(HAL_LOG_INFO, "%s: last vCPU left, VM stopped", vc->name);
	}
	/* A barrier may be waiting for this vCPU; vmm_wait for the count. */
	hal_notify_all(vv->wq);
}

static void vcpu_task(void *arg)
{
	struct vmm_vcpu *vc = arg;
	struct vmm_vm *vv = vc->vv;
	struct vcpu_exit exit;
	int ret;

	/* Seed: a vCPU task waits until its VM is running. */
	hal_wait_until(vv->wq, vm_started, vv, 0);
	for (;;) {
		enum vm_status st = vm_status(vv->vm);

		if (st >= VM_STATUS_STOPPING)
			break;
		if (st == VM_STATUS_SUSPENDED) {
			hal_wait_until(vv->wq, vm_started, vv, 0);
			continue;
		}
		ret = apply_on_request(vc);
		if (ret < 0) {
			stop_vm(vv, VM_STOP_FAILED, ret, vc->id, 0);
			break;
		}
		ret = vm_run_vcpu(vv->vm, vc->id, &exit);
		if (ret < 0) {
			/* The VM has shut itself down for arch / device errors; make sure of it. */
			if (ret != -CV_ESHUTDOWN)
				stop_vm(vv, VM_STOP_FAILED, ret, vc->id, 0);
			break;
		}
		if (handle_exit(vc, &exit) < 0)
			break;
	}
	leave(vc);
}

/* ---- public ---- */

int vmm_start(struct vmm_vm **out, struct vm *vm, const struct vmm_hooks *hooks)
{
	struct vmm_vm *vv;
	struct vmm_vcpu *bsp;
	int ret;

	if (!out || !vm)
		return -CV_EINVAL;
	*out = NULL;
	vv = hal_alloc(sizeof(*vv));
	if (!vv)
		return -CV_ENOMEM;
	ret = hal_waitq_create(&vv->wq);
	if (ret < 0) {
		hal_free(vv);
		return ret;
	}
	if (hooks)
		vv->hooks = *hooks;
	vv->nvcpus = vm_vcpu_count(vm);
	for (uint32_t i = 0; i < vv->nvcpus; i++) {
		vv->vcpus[i].vv = vv;
		vv->vcpus[i].id = i;
		make_name(vv->vcpus[i].name, vm_id(vm), i);
	}
	ret = vm_boot(vm);
	if (ret < 0) {
		hal_waitq_destroy(vv->wq);
		hal_free(vv);
		return ret;
	}
	vv->vm = vm_get(vm);
	vm_set_wake_hook(vm, vmm_wake, vv);

	/* Only the primary vCPU starts with the VM; CPU_ON starts the others. */
	bsp = &vv->vcpus[0];
	bsp->power = VMM_VCPU_ON;
	bsp->spawned = true;
	bsp->alive = true;
	vv->alive = 1;
	ret = spawn_task(bsp);
	if (ret < 0) {
		hal_log(HAL_LOG_ERROR, "%s: cannot start the task: %s", bsp->name, cv_strerror(ret));
		stop_vm(vv, VM_STOP_FAILED, ret, 0, 0);
		vm_mark_stopped(vm);
		vm_set_wake_hook(vm, NULL, NULL);
		vm_put(vm);
		hal_waitq_destroy(vv->wq);
		hal_free(vv);
		return ret;
	}
	*out = vv;
	return 0;
}

static bool all_left(void *p)
{
	struct vmm_vm *vv = p;
	unsigned alive;

	cv_spin_lock(&vv->lock);
	alive = vv->alive;
	cv_spin_unlock(&vv->lock);
	return alive == 0 && vm_status(vv->vm) == VM_STATUS_STOPPED;
}

static void fill_result(struct vmm_vm *vv, struct vmm_result *res)
{
	if (!res)
		return;
	vm_get_stop_reason(vv->vm, &res->reason);
	res->stuck = 0;
	res->stuck_mask = 0;
	cv_spin_lock(&vv->lock);
	for (unsigned i = 0; i < vv->nvcpus; i++) {
		if (vv->vcpus[i].alive) {
			res->stuck++;
			res->stuck_mask |= 1ull << i;
		}
	}
	cv_spin_unlock(&vv->lock);
}

int vmm_wait(struct vmm_vm *vv, uint64_t timeout_ns, struct vmm_result *res)
{
	int ret;

	if (!vv)
		return -CV_EINVAL;
	ret = hal_wait_until(vv->wq, all_left, vv, timeout_ns);
	fill_result(vv, res);
	return ret;
}

int vmm_shutdown(struct vmm_vm *vv)
{
	if (!vv)
		return -CV_EINVAL;
	/* Already stopping or stopped is fine: the first reason stays. */
	vm_shutdown(vv->vm, NULL);
	/* vm_shutdown kicked every vCPU and woke the queue through the hook. */
	return 0;
}

int vmm_destroy(struct vmm_vm *vv, uint64_t timeout_ns)
{
	struct vmm_result res;
	int ret;

	if (!vv)
		return 0;
	if (!timeout_ns)
		timeout_ns = 1000000000ull;
	vmm_shutdown(vv);
	ret = vmm_wait(vv, timeout_ns, &res);
	if (ret < 0) {
		for (unsigned i = 0; i < vv->nvcpus; i++) {
			if (res.stuck_mask & (1ull << i))
				hal_log(HAL_LOG_ERROR, "%s: did not stop (vCPU state %s); not waiting for it",
					vv->vcpus[i].name, vcpu_state_name(vcpu_state(vm_vcpu(vv->vm, i))));
		}
		return -CV_ETIMEDOUT;
	}
	/* Every task has passed its last use of vv; the join waits for its final return. */
	for (unsigned i = 0; i < vv->nvcpus; i++) {
		struct vmm_vcpu *vc = &vv->vcpus[i];

		if (!vc->task)
			continue;
		ret = hal_task_join(vc->task, timeout_ns);
		if (ret < 0) {
			hal_log(HAL_LOG_ERROR, "%s: task did not return; not waiting for it", vc->name);
			return ret;
		}
		vc->task = NULL;
	}
	vm_set_wake_hook(vv->vm, NULL, NULL);
	vm_put(vv->vm);
	hal_waitq_destroy(vv->wq);
	hal_free(vv);
	return 0;
}

struct vm *vmm_get_vm(const struct vmm_vm *vv)
{
	return vv->vm;
}

enum vmm_power vmm_vcpu_power(struct vmm_vm *vv, uint32_t vcpu_id)
{
	enum vmm_power p;

	if (vcpu_id >= vv->nvcpus)
		return VMM_VCPU_OFF;
	cv_spin_lock(&vv->lock);
	p = vv->vcpus[vcpu_id].power;
	cv_spin_unlock(&vv->lock);
	return p;
}

unsigned vmm_running_vcpus(struct vmm_vm *vv)
{
	unsigned n;

	cv_spin_lock(&vv->lock);
	n = vv->alive;
	cv_spin_unlock(&vv->lock);
	return n;
}
