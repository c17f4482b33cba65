/* SPDX-License-Identifier: MIT */
/*
 * The VM (seed 003, axvm src/vm.rs): vCPUs, guest RAM, device buses, status, run_vcpu.
 *
 * Locking (leaf locks only; none is held while calling out, except as noted):
 * - vm->lock protects the status transitions and the stop reason. The status is also an
 *   atomic so that vCPU tasks read it without the lock.
 * - vm->hook_lock protects the wake hook and is held while calling it, so that removing
 *   the hook waits for a call in progress. Order: hook_lock -> whatever the hook takes
 *   (the VMM's wait-queue lock). Nothing takes hook_lock while holding vm->lock.
 * - The buses are written only while LOADED and read only once RUNNING; the status
 *   store of vm_boot (seq_cst, under vm->lock) publishes them to the vCPU tasks.
 * - Per vCPU: `pending` is a bitmap written by any task (fetch_or) and drained by the
 *   vCPU's own task (exchange); `in_use` makes run/park exclusive per vCPU; the exit
 *   counters are written by the vCPU's task only and read by anyone (relaxed).
 * Cross-vCPU requests (interrupts, shutdown): write the state, full barrier (the seq_cst
 * read-modify-write), then kick / call the wake hook, so a vCPU that misses the kick
 * sees the state on its next check.
 */
#include <stdatomic.h>

#include <cvisor/arch.h>
#include <cvisor/check.h>
#include <cvisor/errors.h>
#include <cvisor/hal.h>
#include <cvisor/spinlock.h>
#include <cvisor/vcpu.h>
#include <cvisor/vm.h>

#define PAGE_SIZE 4096ull
#define IRQ_WORDS (VM_MAX_IRQS / 64)

struct vm_ram {
	uint64_t gpa;
	uint64_t size;
	uint8_t *host;
	size_t npages; /* 0: not ours to free (identity-mapped) */
};

struct vm_vcpu {
	struct vcpu *vcpu;
	_Atomic uint64_t pending[IRQ_WORDS];
	_Atomic bool in_use;
	_Atomic uint64_t exits[VCPU_EXIT_KIND_COUNT];
};

struct vm {
	uint32_t id;
	_Atomic uint32_t refs;
	_Atomic int status; /* enum vm_status; written under lock */
	struct cv_spinlock lock;
	struct vm_stop_reason stop; /* under lock */
	enum unmapped_policy policy;
	_Atomic uint64_t unmapped;
	_Atomic bool unmapped_logged;
	_Atomic bool inject_err_logged;

	struct cv_spinlock hook_lock;
	void (*wake_fn)(void *ctx, uint32_t vcpu_id);
	void *wake_ctx;

	struct vm_config cfg;
	struct vm_arch arch;
	bool arch_created;
	unsigned nram;
	struct vm_ram ram[VM_MAX_REGIONS];
	struct bus bus[BUS_SPACE_COUNT];
	unsigned nvcpus;
	struct vm_vcpu vcpus[VM_MAX_VCPUS];
};

/* ---- small helpers ---- */

static enum vm_status load_status(const struct vm *vm)
{
	return (enum vm_status)atomic_load(&((struct vm *)vm)->status);
}

static void copy_bytes(void *dst, const void *src, size_t n)
{
	__builtin_memcpy(dst, src, n);
}

/* What real hardware does when nothing answers: x86 buses float (reads all-ones is the
 * ISA answer, but DESIGN.md fixes reads-as-zero), AArch64 takes an external abort. */
static enum unmapped_policy resolve_policy(enum unmapped_policy p)
{
	if (p != UNMAPPED_DEFAULT)
		return p;
#if defined(__aarch64__)
	return UNMAPPED_ABORT;
#else
	return UNMAPPED_IGNORE;
#endif
}

/* ---- creation ---- */

static int check_config(const struct vm_config *cfg)
{
	if (cfg->cpu_num == 0 || cfg->cpu_num > VM_MAX_VCPUS) {
		hal_log(HAL_LOG_ERROR, "vm %u: cpu_num %u not in 1..%u", cfg->id, cfg->cpu_num, VM_MAX_VCPUS);
		return -CV_EINVAL;
	}
	if (cfg->n_phys_cpu_ids > cfg->cpu_num || cfg->n_phys_cpu_sets > cfg->cpu_num) {
		hal_log(HAL_LOG_ERROR, "vm %u: more phys_cpu_ids/phys_cpu_sets than vCPUs", cfg->id);
		return -CV_EINVAL;
	}
	for (unsigned i = 0; i < cfg->n_phys_cpu_ids; i++) {
		if (cfg->phys_cpu_ids[i] >= 64) {
			hal_log(HAL_LOG_ERROR, "vm %u: phys_cpu_ids[%u] = %llu is not a CPU index below 64", cfg->id, i,
				(unsigned long long)cfg->phys_cpu_ids[i]);
			return -CV_EINVAL;
		}
	}
	if (cfg->nregions == 0 || cfg->nregions > VM_MAX_REGIONS) {
		hal_log(HAL_LOG_ERROR, "vm %u: %u memory regions, need 1..%u", cfg->id, cfg->nregions, VM_MAX_REGIONS);
		return -CV_EINVAL;
	}
	for (unsigned i = 0; i < cfg->nregions; i++) {
		const struct vm_mem_region *r = &cfg->regions[i];

		if (r->size == 0 || (r->gpa | r->size) & (PAGE_SIZE - 1) || r->gpa + (r->size - 1) < r->gpa ||
		    (r->map_type != VM_MAP_ALLOC && r->map_type != VM_MAP_IDENTICAL)) {
			hal_log(HAL_LOG_ERROR,
				"vm %u: memory region %u (gpa %#llx size %#llx) is empty, unaligned or wraps", cfg->id,
				i, (unsigned long long)r->gpa, (unsigned long long)r->size);
			return -CV_EINVAL;
		}
		for (unsigned j = 0; j < i; j++) {
			const struct vm_mem_region *o = &cfg->regions[j];

			if (r->gpa <= o->gpa + (o->size - 1) && o->gpa <= r->gpa + (r->size - 1)) {
				hal_log(HAL_LOG_ERROR, "vm %u: memory regions %u and %u overlap", cfg->id, j, i);
				return -CV_EINVAL;
			}
		}
	}
	if (cfg->unmapped_access > UNMAPPED_STOP) {
		hal_log(HAL_LOG_ERROR, "vm %u: unknown unmapped_access policy %d", cfg->id, (int)cfg->unmapped_access);
		return -CV_EINVAL;
	}
	return 0;
}

static int create_ram(struct vm *vm)
{
	for (unsigned i = 0; i < vm->cfg.nregions; i++) {
		const struct vm_mem_region *r = &vm->cfg.regions[i];
		struct vm_ram *ram = &vm->ram[i];
		uint32_t flags = r->flags ? r->flags : CV_MAP_READ | CV_MAP_WRITE | CV_MAP_EXEC;
		int ret;

		ram->gpa = r->gpa;
		ram->size = r->size;
		if (r->map_type == VM_MAP_IDENTICAL) {
			/* The host range at the same physical address (bare metal pass-through). */
			ram->host = hal_phys_to_virt(hpa(r->gpa));
			ram->npages = 0;
		} else {
			if (r->size / PAGE_SIZE > SIZE_MAX)
				return -CV_ENOMEM;
			ram->npages = (size_t)(r->size / PAGE_SIZE);
			ram->host = hal_alloc_pages(ram->npages);
			if (!ram->host) {
				ram->npages = 0;
				return -CV_ENOMEM;
			}
		}
		vm->nram = i + 1;
		ret = arch_vm_map(&vm->arch, gpa(r->gpa), ram->host, r->size, flags);
		if (ret < 0)
			return ret;
	}
	return 0;
}

static int create_vcpus(struct vm *vm)
{
	const struct vm_config *cfg = &vm->cfg;
	struct arch_vcpu_create_cfg ccfg = {
	    .vm = &vm->arch,
	    .boot_arg = cfg->has_dtb_load_addr ? cfg->dtb_load_addr : 0,
	};
	hpa_t root = arch_vm_ept_root(&vm->arch);
	gpa_t bsp_entry = gpa(cfg->has_entry_point	  ? cfg->entry_point
			      : cfg->has_kernel_load_addr ? cfg->kernel_load_addr
							  : cfg->regions[0].gpa);
	int ret;

	for (uint32_t i = 0; i < cfg->cpu_num; i++) {
		uint32_t favor = 0;
		uint64_t mask = 0;
		struct vcpu *v;

		/* axvisor: phys_cpu_ids pin a vCPU to one CPU; phys_cpu_sets give a mask. */
		if (i < cfg->n_phys_cpu_ids) {
			favor = (uint32_t)cfg->phys_cpu_ids[i];
			mask = 1ull << favor;
		}
		if (i < cfg->n_phys_cpu_sets && cfg->phys_cpu_sets[i]) {
			mask = cfg->phys_cpu_sets[i];
			if (i >= cfg->n_phys_cpu_ids)
				favor = (uint32_t)__builtin_ctzll(mask);
		}
		ret = vcpu_create(&v, vm->id, i, favor, mask, &ccfg);
		if (ret < 0)
			return ret;
		v->owner = vm;
		vm->vcpus[i].vcpu = v;
		vm->nvcpus = i + 1;
		ret = vcpu_setup(v, i == 0 ? bsp_entry : gpa(0), root, NULL);
		if (ret < 0)
			return ret;
	}
	return 0;
}

static void vm_free(struct vm *vm)
{
	for (unsigned s = 0; s < BUS_SPACE_COUNT; s++)
		bus_release(&vm->bus[s]);
	for (unsigned i = 0; i < vm->nvcpus; i++)
		vcpu_put(vm->vcpus[i].vcpu);
	if (vm->arch_created)
		arch_vm_destroy(&vm->arch);
	for (unsigned i = 0; i < vm->nram; i++)
		if (vm->ram[i].npages)
			hal_free_pages(vm->ram[i].host, vm->ram[i].npages);
	hal_free(vm);
}

int vm_create(struct vm **out, const struct vm_config *cfg)
{
	struct vm *vm;
	int ret;

	if (!out || !cfg)
		return -CV_EINVAL;
	*out = NULL;
	ret = check_config(cfg);
	if (ret < 0)
		return ret;
	vm = hal_alloc(sizeof(*vm));
	if (!vm)
		return -CV_ENOMEM;
	vm->cfg = *cfg;
	vm->cfg.name[VM_NAME_MAX - 1] = '\0';
	vm->id = cfg->id;
	vm->policy = resolve_policy(cfg->unmapped_access);
	atomic_init(&vm->refs, 1);
	atomic_init(&vm->status, VM_STATUS_LOADING);

	ret = arch_vm_create(&vm->arch, vm->id);
	if (ret < 0)
		goto fail;
	vm->arch_created = true;
	ret = create_ram(vm);
	if (ret < 0)
		goto fail;
	ret = create_vcpus(vm);
	if (ret < 0)
		goto fail;
	atomic_store(&vm->status, VM_STATUS_LOADED);
	*out = vm;
	return 0;
fail:
	hal_log(HAL_LOG_ERROR, "vm %u: create failed: %s", cfg->id, cv_strerror(ret));
	vm_free(vm);
	return ret;
}

struct vm *vm_get(struct vm *vm)
{
	uint32_t old = atomic_fetch_add(&vm->refs, 1);

	CV_BUG_ON(old == 0, "vm_get on a destroyed VM");
	return vm;
}

void vm_put(struct vm *vm)
{
	uint32_t old;

	if (!vm)
		return;
	old = atomic_fetch_sub(&vm->refs, 1);
	CV_BUG_ON(old == 0, "vm_put on a destroyed VM");
	if (old == 1)
		vm_free(vm);
}

void vm_destroy(struct vm *vm)
{
	vm_put(vm);
}

/* ---- identity ---- */

uint32_t vm_id(const struct vm *vm)
{
	return vm->id;
}

const char *vm_name(const struct vm *vm)
{
	return vm->cfg.name;
}

unsigned vm_vcpu_count(const struct vm *vm)
{
	return vm->nvcpus;
}

const struct vm_config *vm_config(const struct vm *vm)
{
	return &vm->cfg;
}

enum unmapped_policy vm_unmapped_policy(const struct vm *vm)
{
	return vm->policy;
}

/* ---- status ---- */

enum vm_status vm_status(const struct vm *vm)
{
	return load_status(vm);
}

const char *vm_status_name(enum vm_status status)
{
	switch (status) {
	case VM_STATUS_LOADING:
		return "Loading";
	case VM_STATUS_LOADED:
		return "Loaded";
	case VM_STATUS_RUNNING:
		return "Running";
	case VM_STATUS_SUSPENDED:
		return "Suspended";
	case VM_STATUS_STOPPING:
		return "Stopping";
	case VM_STATUS_STOPPED:
		return "Stopped";
	default:
		return "Unknown";
	}
}

const char *vm_stop_kind_name(enum vm_stop_kind kind)
{
	switch (kind) {
	case VM_STOP_NONE:
		return "running";
	case VM_STOP_POWER_OFF:
		return "powered off";
	case VM_STOP_RESET:
		return "reset";
	case VM_STOP_CRASH:
		return "crashed";
	case VM_STOP_FAILED:
		return "failed";
	case VM_STOP_HOST:
		return "stopped by the host";
	default:
		return "unknown";
	}
}

static void call_wake_hook(struct vm *vm, uint32_t vcpu_id)
{
	cv_spin_lock(&vm->hook_lock);
	if (vm->wake_fn)
		vm->wake_fn(vm->wake_ctx, vcpu_id);
	cv_spin_unlock(&vm->hook_lock);
}

void vm_set_wake_hook(struct vm *vm, void (*fn)(void *ctx, uint32_t vcpu_id), void *ctx)
{
	cv_spin_lock(&vm->hook_lock);
	vm->wake_fn = fn;
	vm->wake_ctx = ctx;
	cv_spin_unlock(&vm->hook_lock);
}

void vm_kick_vcpu(struct vm *vm, uint32_t vcpu_id)
{
	if (vcpu_id == VM_WAKE_ALL) {
		for (unsigned i = 0; i < vm->nvcpus; i++)
			vcpu_kick(vm->vcpus[i].vcpu);
	} else if (vcpu_id < vm->nvcpus) {
		vcpu_kick(vm->vcpus[vcpu_id].vcpu);
	}
}

/* Moves from `from` (a bit set of statuses) to `to` under the lock. */
static int transition(struct vm *vm, unsigned from_mask, enum vm_status to, const struct vm_stop_reason *why)
{
	enum vm_status cur;

	cv_spin_lock(&vm->lock);
	cur = load_status(vm);
	if (!(from_mask & (1u << cur))) {
		cv_spin_unlock(&vm->lock);
		return -CV_EBADSTATE;
	}
	if (why)
		vm->stop = *why;
	atomic_store(&vm->status, (int)to);
	cv_spin_unlock(&vm->lock);
	return 0;
}

#define ST(s) (1u << (s))

int vm_boot(struct vm *vm)
{
	return transition(vm, ST(VM_STATUS_LOADED), VM_STATUS_RUNNING, NULL);
}

int vm_suspend(struct vm *vm)
{
	int ret = transition(vm, ST(VM_STATUS_RUNNING), VM_STATUS_SUSPENDED, NULL);

	if (ret == 0)
		vm_kick_vcpu(vm, VM_WAKE_ALL);
	return ret;
}

int vm_resume(struct vm *vm)
{
	int ret = transition(vm, ST(VM_STATUS_SUSPENDED), VM_STATUS_RUNNING, NULL);

	if (ret == 0)
		call_wake_hook(vm, VM_WAKE_ALL);
	return ret;
}

int vm_shutdown(struct vm *vm, const struct vm_stop_reason *why)
{
	struct vm_stop_reason host = {.kind = VM_STOP_HOST};
	int ret;

	if (!why || why->kind == VM_STOP_NONE)
		why = &host;
	ret = transition(vm, ST(VM_STATUS_LOADED) | ST(VM_STATUS_RUNNING) | ST(VM_STATUS_SUSPENDED), VM_STATUS_STOPPING,
			 why);
	if (ret < 0)
		return ret;
	if (why->kind == VM_STOP_FAILED)
		hal_log(HAL_LOG_ERROR, "vm %u: stopping: %s (vCPU %u, %s, detail %#llx)", vm->id,
			vm_stop_kind_name(why->kind), why->vcpu_id, cv_strerror(why->error),
			(unsigned long long)why->detail);
	else if (why->kind == VM_STOP_CRASH) /* a crash carries no error code */
		hal_log(HAL_LOG_ERROR, "vm %u: stopping: %s (vCPU %u)", vm->id, vm_stop_kind_name(why->kind),
			why->vcpu_id);
	else
		hal_log(HAL_LOG_INFO, "vm %u: stopping: %s", vm->id, vm_stop_kind_name(why->kind));
	/* The status store above was seq_cst: every vCPU that misses the kick sees it. */
	vm_kick_vcpu(vm, VM_WAKE_ALL);
	call_wake_hook(vm, VM_WAKE_ALL);
	return 0;
}

int vm_mark_stopped(struct vm *vm)
{
	return transition(vm, ST(VM_STATUS_STOPPING), VM_STATUS_STOPPED, NULL);
}

void vm_get_stop_reason(const struct vm *vm, struct vm_stop_reason *out)
{
	struct vm *m = (struct vm *)vm;

	cv_spin_lock(&m->lock);
	*out = m->stop;
	cv_spin_unlock(&m->lock);
}

/* ---- vCPUs ---- */

struct vcpu *vm_vcpu(struct vm *vm, uint32_t vcpu_id)
{
	return vcpu_id < vm->nvcpus ? vm->vcpus[vcpu_id].vcpu : NULL;
}

int vm_vcpu_get(struct vm *vm, uint32_t vcpu_id, struct vcpu **out)
{
	if (!out || vcpu_id >= vm->nvcpus)
		return -CV_ENOENT;
	*out = vcpu_get(vm->vcpus[vcpu_id].vcpu);
	return 0;
}

/* A vCPU failed (arch error or device error): it stops, and so does the VM. */
static void fail_vcpu(struct vm *vm, uint32_t vcpu_id, int err, uint64_t detail)
{
	struct vm_stop_reason why = {.kind = VM_STOP_FAILED, .error = err, .vcpu_id = vcpu_id, .detail = detail};

	hal_log(HAL_LOG_ERROR, "vm %u: vCPU %u failed: %s (state %s)", vm->id, vcpu_id, cv_strerror(err),
		vcpu_state_name(vcpu_state(vm->vcpus[vcpu_id].vcpu)));
	vm_shutdown(vm, &why);
}

static void count_exit(struct vm_vcpu *vc, enum vcpu_exit_kind kind)
{
	if ((unsigned)kind < VCPU_EXIT_KIND_COUNT)
		atomic_store_explicit(&vc->exits[kind],
				      atomic_load_explicit(&vc->exits[kind], memory_order_relaxed) + 1,
				      memory_order_relaxed);
}

/* Injects the queued interrupts; runs on the vCPU's own task with the vCPU READY. */
static void drain_interrupts(struct vm *vm, struct vm_vcpu *vc)
{
	for (unsigned w = 0; w < IRQ_WORDS; w++) {
		uint64_t bits;

		if (!atomic_load_explicit(&vc->pending[w], memory_order_relaxed))
			continue;
		bits = atomic_exchange(&vc->pending[w], 0);
		while (bits) {
			unsigned b = (unsigned)__builtin_ctzll(bits);
			uint32_t vector = w * 64 + b;
			int ret;

			bits &= bits - 1;
			ret = vcpu_inject_interrupt(vc->vcpu, vector);
			/* A vector this arch cannot take is a device's mistake, not the vCPU's. */
			if (ret < 0 && !atomic_exchange(&vm->inject_err_logged, true))
				hal_log(HAL_LOG_WARN, "vm %u: vCPU %u: interrupt %u dropped: %s", vm->id,
					vcpu_id(vc->vcpu), vector, cv_strerror(ret));
		}
	}
}

enum bus_result {
	BUS_HANDLED,  /* answered: run the vCPU again */
	BUS_NOT_OURS, /* not a bus exit, or an unmapped access under ABORT: return it */
};

/* An access no device answered, per the VM's policy (DESIGN.md, devices.unmapped_access). */
static int unmapped(struct vm *vm, uint32_t vcpu_id, const char *what, uint64_t addr, enum bus_result *res)
{
	switch (vm->policy) {
	case UNMAPPED_STOP: {
		struct vm_stop_reason why = {
		    .kind = VM_STOP_FAILED, .error = -CV_ENODEV, .vcpu_id = vcpu_id, .detail = addr};

		hal_log(HAL_LOG_ERROR, "vm %u: vCPU %u: %s %#llx: no device, stopping the VM", vm->id, vcpu_id, what,
			(unsigned long long)addr);
		vm_shutdown(vm, &why);
		return -CV_ENODEV;
	}
	case UNMAPPED_ABORT:
		*res = BUS_NOT_OURS;
		return 0;
	case UNMAPPED_IGNORE:
	case UNMAPPED_DEFAULT:
	default:
		atomic_fetch_add_explicit(&vm->unmapped, 1, memory_order_relaxed);
		if (!atomic_exchange(&vm->unmapped_logged, true))
			hal_log(HAL_LOG_WARN, "vm %u: vCPU %u: %s %#llx: no device (ignored; logged once)", vm->id,
				vcpu_id, what, (unsigned long long)addr);
		*res = BUS_HANDLED;
		return 0;
	}
}

/*
 * The value an MMIO load leaves in its destination register: the device's value masked
 * to the access width, sign-extended to 64 bits for a signed load (AArch64 LDRSB/LDRSH/
 * LDRSW, ISS.SSE), then cut to the register's width: a W register write zeroes the
 * upper 32 bits (ARM ARM C1.2.5, ISS.SF = 0).
 */
static uint64_t mmio_load_value(uint64_t raw, enum access_width width, enum access_width reg_width, bool signed_ext)
{
	uint64_t v = raw & access_width_mask(width);

	if (signed_ext)
		v = access_width_sign_extend(v, width);
	return v & access_width_mask(reg_width);
}

/*
 * System registers are named, not byte-addressed: a range of BUS_SYSREG counts one per
 * register encoding, and every access is a whole 64-bit register.
 */
static int sysreg_access(struct vm *vm, uint32_t vcpu_id, uint64_t addr, bool write, uint64_t *val)
{
	const struct bus_range *r = bus_find(&vm->bus[BUS_SYSREG], addr, 1);

	if (!r)
		return -CV_ENODEV;
	if (write)
		return r->ops->write(r->dev, vcpu_id, addr - r->base, ACCESS_WIDTH_8, *val);
	return r->ops->read(r->dev, vcpu_id, addr - r->base, ACCESS_WIDTH_8, val);
}

/* Answers MMIO / port-I/O / system-register exits from the bus. */
static int handle_bus_exit(struct vm *vm, struct vm_vcpu *vc, const struct vcpu_exit *e, enum bus_result *res)
{
	uint32_t id = vcpu_id(vc->vcpu);
	uint64_t val = 0;
	int ret;

	*res = BUS_HANDLED;
	switch (e->kind) {
	case VCPU_EXIT_MMIO_READ:
		if (!access_width_valid(e->mmio_read.width) || !access_width_valid(e->mmio_read.reg_width))
			return -CV_ERANGE;
		ret = bus_read(&vm->bus[BUS_MMIO], id, e->mmio_read.addr.v, e->mmio_read.width, &val);
		if (ret == -CV_ENODEV) {
			ret = unmapped(vm, id, "MMIO read", e->mmio_read.addr.v, res);
			val = 0;
		}
		if (ret < 0 || *res != BUS_HANDLED)
			return ret;
		return vcpu_set_gpr(
		    vc->vcpu, e->mmio_read.reg,
		    mmio_load_value(val, e->mmio_read.width, e->mmio_read.reg_width, e->mmio_read.signed_ext));
	case VCPU_EXIT_MMIO_WRITE:
		ret = bus_write(&vm->bus[BUS_MMIO], id, e->mmio_write.addr.v, e->mmio_write.width, e->mmio_write.data);
		if (ret == -CV_ENODEV)
			ret = unmapped(vm, id, "MMIO write", e->mmio_write.addr.v, res);
		return ret;
	case VCPU_EXIT_IO_READ:
		if (e->io_read.width == ACCESS_WIDTH_8)
			return -CV_ERANGE;
		ret = bus_read(&vm->bus[BUS_PIO], id, e->io_read.port, e->io_read.width, &val);
		if (ret == -CV_ENODEV) {
			ret = unmapped(vm, id, "port read", e->io_read.port, res);
			val = 0;
		}
		if (ret < 0 || *res != BUS_HANDLED)
			return ret;
		/* IN writes AL / AX / EAX (register 0); the backend merges the width. */
		return vcpu_set_gpr(vc->vcpu, 0, val & access_width_mask(e->io_read.width));
	case VCPU_EXIT_IO_WRITE:
		if (e->io_write.width == ACCESS_WIDTH_8)
			return -CV_ERANGE;
		ret = bus_write(&vm->bus[BUS_PIO], id, e->io_write.port, e->io_write.width, e->io_write.data);
		if (ret == -CV_ENODEV)
			ret = unmapped(vm, id, "port write", e->io_write.port, res);
		return ret;
	case VCPU_EXIT_SYSREG_READ:
		ret = sysreg_access(vm, id, e->sysreg_read.addr, false, &val);
		if (ret == -CV_ENODEV) {
			ret = unmapped(vm, id, "system register read", e->sysreg_read.addr, res);
			val = 0;
		}
		if (ret < 0 || *res != BUS_HANDLED)
			return ret;
		return vcpu_set_gpr(vc->vcpu, e->sysreg_read.reg, val);
	case VCPU_EXIT_SYSREG_WRITE:
		val = e->sysreg_write.value;
		ret = sysreg_access(vm, id, e->sysreg_write.addr, true, &val);
		if (ret == -CV_ENODEV)
			ret = unmapped(vm, id, "system register write", e->sysreg_write.addr, res);
		return ret;
	default:
		*res = BUS_NOT_OURS;
		return 0;
	}
}

/*
 * Claims vCPU vcpu_id of a running (or suspended) VM for the calling task: run and park
 * are exclusive per vCPU. Released by storing false into in_use.
 */
static int claim_vcpu(struct vm *vm, uint32_t vcpu_id, struct vm_vcpu **out)
{
	enum vm_status st;

	if (vcpu_id >= vm->nvcpus)
		return -CV_ENOENT;
	st = load_status(vm);
	if (st >= VM_STATUS_STOPPING)
		return -CV_ESHUTDOWN;
	if (st != VM_STATUS_RUNNING && st != VM_STATUS_SUSPENDED)
		return -CV_EBADSTATE;
	*out = &vm->vcpus[vcpu_id];
	if (atomic_exchange(&(*out)->in_use, true))
		return -CV_EBUSY;
	return 0;
}

/* Unbinds if the vCPU is still bound; an INVALID vCPU stays as it is. */
static int finish_unbind(struct vm *vm, uint32_t vcpu_id, int ret)
{
	struct vcpu *v = vm->vcpus[vcpu_id].vcpu;
	int r;

	if (vcpu_state(v) != VCPU_STATE_READY)
		return ret;
	r = vcpu_unbind(v);
	if (r < 0 && ret == 0) {
		fail_vcpu(vm, vcpu_id, r, 0);
		ret = r;
	}
	return ret;
}

int vm_run_vcpu(struct vm *vm, uint32_t vcpu_id, struct vcpu_exit *exit)
{
	struct vm_vcpu *vc;
	enum bus_result res;
	int ret;

	if (!vm || !exit)
		return -CV_EINVAL;
	ret = claim_vcpu(vm, vcpu_id, &vc);
	if (ret < 0)
		return ret;
	ret = vcpu_bind(vc->vcpu);
	if (ret < 0) {
		fail_vcpu(vm, vcpu_id, ret, 0);
		goto out;
	}
	for (;;) {
		if (load_status(vm) != VM_STATUS_RUNNING) {
			/* Shutdown or suspend: leave guest mode so the caller can see it. */
			__builtin_memset(exit, 0, sizeof(*exit));
			exit->kind = VCPU_EXIT_NOTHING;
			break;
		}
		drain_interrupts(vm, vc);
		ret = vcpu_run(vc->vcpu, exit);
		if (ret < 0) {
			fail_vcpu(vm, vcpu_id, ret, 0);
			break;
		}
		count_exit(vc, exit->kind);
		ret = handle_bus_exit(vm, vc, exit, &res);
		if (ret < 0) {
			/* -CV_ENODEV under STOP has shut the VM down already. */
			if (ret != -CV_ENODEV)
				fail_vcpu(vm, vcpu_id, ret, 0);
			break;
		}
		if (res == BUS_NOT_OURS)
			break;
	}
	ret = finish_unbind(vm, vcpu_id, ret);
out:
	atomic_store(&vc->in_use, false);
	return ret;
}

int vm_park_vcpu(struct vm *vm, uint32_t vcpu_id, int (*wait)(void *ctx), void *ctx)
{
	struct vm_vcpu *vc;
	int ret, r;

	if (!vm || !wait)
		return -CV_EINVAL;
	ret = claim_vcpu(vm, vcpu_id, &vc);
	if (ret < 0)
		return ret;
	ret = vcpu_bind(vc->vcpu);
	if (ret == 0)
		ret = vcpu_block(vc->vcpu);
	if (ret < 0) {
		fail_vcpu(vm, vcpu_id, ret, 0);
		goto out;
	}
	ret = wait(ctx);
	r = vcpu_unblock(vc->vcpu);
	if (r < 0) {
		fail_vcpu(vm, vcpu_id, r, 0);
		ret = r;
		goto out;
	}
	ret = finish_unbind(vm, vcpu_id, ret);
out:
	atomic_store(&vc->in_use, false);
	return ret;
}

int vm_inject_interrupt(struct vm *vm, uint32_t vcpu_id, uint32_t vector)
{
	struct vm_vcpu *vc;

	if (vcpu_id >= vm->nvcpus)
		return -CV_ENOENT;
	if (vector >= VM_MAX_IRQS)
		return -CV_ERANGE;
	if (load_status(vm) == VM_STATUS_STOPPED)
		return -CV_ESHUTDOWN;
	vc = &vm->vcpus[vcpu_id];
	/* Write the request, full barrier (seq_cst RMW), then kick and wake. */
	atomic_fetch_or(&vc->pending[vector / 64], 1ull << (vector % 64));
	vcpu_kick(vc->vcpu);
	call_wake_hook(vm, vcpu_id);
	return 0;
}

bool vm_interrupt_pending(const struct vm *vm, uint32_t vcpu_id)
{
	struct vm_vcpu *vc;

	if (vcpu_id >= vm->nvcpus)
		return false;
	vc = &((struct vm *)vm)->vcpus[vcpu_id];
	for (unsigned w = 0; w < IRQ_WORDS; w++)
		if (atomic_load(&vc->pending[w]))
			return true;
	return false;
}

/* ---- devices ---- */

int vm_add_device(struct vm *vm, enum bus_space space, uint64_t base, uint64_t size, const struct device_ops *ops,
		  void *dev, const char *name)
{
	int ret;

	if ((unsigned)space >= BUS_SPACE_COUNT)
		return -CV_EINVAL;
	if (space == BUS_PIO && (base > 0xffff || size > 0x10000 - base))
		return -CV_EINVAL;
	/* The lock orders this against vm_boot: the bus is frozen once the VM runs. */
	cv_spin_lock(&vm->lock);
	if (load_status(vm) != VM_STATUS_LOADED)
		ret = -CV_EBADSTATE;
	else
		ret = bus_register(&vm->bus[space], base, size, ops, dev, name);
	cv_spin_unlock(&vm->lock);
	return ret;
}

/* ---- guest memory ---- */

/* The RAM region holding addr, or NULL. */
static struct vm_ram *ram_at(struct vm *vm, uint64_t addr)
{
	for (unsigned i = 0; i < vm->nram; i++)
		if (addr >= vm->ram[i].gpa && addr - vm->ram[i].gpa < vm->ram[i].size)
			return &vm->ram[i];
	return NULL;
}

/*
 * Walks [addr, addr + len) region by region; with copy false it only checks, so that a
 * bad range copies nothing. to_guest picks the direction.
 */
static int guest_walk(struct vm *vm, uint64_t addr, uint8_t *buf, size_t len, bool to_guest, bool copy)
{
	while (len) {
		struct vm_ram *r = ram_at(vm, addr);
		uint64_t off, chunk;

		if (!r)
			return -CV_EFAULT;
		off = addr - r->gpa;
		chunk = r->size - off;
		if (chunk > len)
			chunk = len;
		if (copy) {
			if (to_guest)
				copy_bytes(r->host + off, buf, (size_t)chunk);
			else
				copy_bytes(buf, r->host + off, (size_t)chunk);
			buf += chunk;
		}
		addr += chunk;
		len -= (size_t)chunk;
		/* A region ending at 2^64 with more to copy: the range wraps. */
		if (len && addr == 0)
			return -CV_EFAULT;
	}
	return 0;
}

static int guest_copy(struct vm *vm, uint64_t addr, uint8_t *buf, size_t len, bool to_guest)
{
	int ret;

	if (!vm || (!buf && len))
		return -CV_EINVAL;
	if (len == 0)
		return 0;
	if (addr + (len - 1) < addr)
		return -CV_EFAULT;
	ret = guest_walk(vm, addr, buf, len, to_guest, false);
	if (ret < 0)
		return ret;
	return guest_walk(vm, addr, buf, len, to_guest, true);
}

int vm_read_guest(struct vm *vm, gpa_t addr, void *buf, size_t len)
{
	return guest_copy(vm, addr.v, buf, len, false);
}

int vm_write_guest(struct vm *vm, gpa_t addr, const void *buf, size_t len)
{
	return guest_copy(vm, addr.v, (uint8_t *)(uintptr_t)buf, len, true);
}

int vm_guest_ptr(struct vm *vm, gpa_t addr, size_t len, void **out)
{
	if (!vm || !out || len == 0)
		return -CV_EINVAL;
	for (unsigned i = 0; i < vm->nram; i++) {
		struct vm_ram *r = &vm->ram[i];

		if (cv_range_within(r->gpa, r->size, addr.v, len)) {
			*out = r->host + (addr.v - r->gpa);
			return 0;
		}
	}
	return -CV_EFAULT;
}

/* ---- statistics ---- */

uint64_t vm_exit_count(const struct vm *vm, uint32_t vcpu_id, enum vcpu_exit_kind kind)
{
	if (vcpu_id >= vm->nvcpus || (unsigned)kind >= VCPU_EXIT_KIND_COUNT)
		return 0;
	return atomic_load_explicit(&((struct vm *)vm)->vcpus[vcpu_id].exits[kind], memory_order_relaxed);
}

uint64_t vm_unmapped_count(const struct vm *vm)
{
	return atomic_load_explicit(&((struct vm *)vm)->unmapped, memory_order_relaxed);
}
