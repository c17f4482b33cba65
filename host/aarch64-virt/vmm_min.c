/* SPDX-License-Identifier: MIT */
/*
 * TEMPORARY: a minimal VMM for the bare-metal build, standing in for core/vm.c and
 * core/vmm.c (issue #5's vm/vmm library) until they land; then this file goes and
 * plat_run_vms calls vm_create/vmm instead. It runs one VM built into the image
 * (guest_image.S, chosen at build time by GUEST=): one task per vCPU pinned to pCPU
 * (vCPU index mod CPU count), the emulated PL011 at the QEMU virt address, PSCI CPU_ON /
 * CPU_OFF / AFFINITY_INFO / SYSTEM_OFF, CV_HC_BARRIER and CV_HC_TEST_SUM, SEND_IPI by
 * list-register injection, trapped system registers read-as-zero / write-ignored.
 *
 * Locking: vm->lock protects the power states, the barrier, the pending-interrupt words
 * and the UART; it is a leaf except that hal_notify_all is called after it is dropped.
 */
#include <cvisor/errors.h>
#include <cvisor/guest_abi.h>
#include <cvisor/vcpu.h>

#include "../../devices/pl011.h"
#include "platform.h"

#define MAX_VCPUS	8
#define GUEST_RAM_GPA	0x40000000ul
#define GUEST_RAM_SIZE	(16ul << 20)
#define GUEST_UART_GPA	0x09000000ul
#define VCPU_STACK	(64u * 1024u)
#define JOIN_TIMEOUT_NS (30ull * 1000000000ull)

extern const char guest_image_start[], guest_image_end[];
extern const char guest_image_name[];
extern const unsigned guest_image_cpus;

enum power { POWER_OFF, POWER_ON };

struct mvm;

struct mvcpu {
	struct mvm *vm;
	unsigned idx;
	struct vcpu *vcpu;
	struct hal_task *task;
	enum power power; /* vm->lock */
	bool started;	  /* vm->lock: CPU_ON gave it an entry */
	gpa_t entry;	  /* vm->lock */
	uint64_t ctx_id;  /* vm->lock */
	uint32_t pending; /* vm->lock: SGIs (bit n = INTID n) to inject */
};

struct mvm {
	uint32_t id;
	const char *name;
	unsigned ncpus;
	struct vm_arch arch;
	void *ram;
	struct pl011 uart;
	spinlock_t lock;
	struct hal_waitq *wq;
	bool down;			     /* lock */
	int result;			     /* lock: 0 powered off, 1 failure */
	unsigned barrier_count, barrier_gen; /* lock */
	struct mvcpu vcpus[MAX_VCPUS];
};

static void console_sink(void *ctx, const char *line, size_t len)
{
	(void)ctx;
	/* DESIGN.md: a guest line that could pass for cvisor's own is marked. */
	if (len >= 8 && memcmp(line, "cvisor: ", 8) == 0) {
		char buf[PL011_LINE_MAX + 16];

		memcpy(buf, "[guest] ", 8);
		memcpy(buf + 8, line, len);
		console_write(buf, len + 8);
		return;
	}
	console_write(line, len);
}

static void vm_stop(struct mvm *vm, int result)
{
	spin_lock(&vm->lock);
	if (!vm->down) {
		vm->down = true;
		vm->result = result;
	} else if (result) {
		vm->result = result;
	}
	spin_unlock(&vm->lock);
	for (unsigned i = 0; i < vm->ncpus; i++)
		vcpu_kick(vm->vcpus[i].vcpu);
	hal_notify_all(vm->wq);
}

static bool is_down(struct mvm *vm)
{
	bool d;

	spin_lock(&vm->lock);
	d = vm->down;
	spin_unlock(&vm->lock);
	return d;
}

static bool started_or_down(void *arg)
{
	struct mvcpu *vc = arg;

	return vc->started || vc->vm->down;
}

static bool pending_or_down(void *arg)
{
	struct mvcpu *vc = arg;

	return vc->pending || vc->vm->down;
}

static bool down_cond(void *arg)
{
	return ((struct mvm *)arg)->down;
}

struct barrier_wait {
	struct mvm *vm;
	unsigned gen;
};

static bool barrier_passed(void *arg)
{
	struct barrier_wait *b = arg;

	return b->vm->barrier_gen != b->gen || b->vm->down;
}

/* CV_HC_BARRIER: returns when every powered-on vCPU has arrived. */
static void barrier(struct mvm *vm)
{
	struct barrier_wait b = {vm, 0};
	unsigned online = 0;
	bool release;

	spin_lock(&vm->lock);
	for (unsigned i = 0; i < vm->ncpus; i++)
		online += vm->vcpus[i].power == POWER_ON;
	b.gen = vm->barrier_gen;
	release = ++vm->barrier_count >= online;
	if (release) {
		vm->barrier_count = 0;
		vm->barrier_gen++;
	}
	spin_unlock(&vm->lock);
	if (release)
		hal_notify_all(vm->wq);
	else
		hal_wait_until(vm->wq, barrier_passed, &b, 0);
}

static uint64_t hypercall(struct mvcpu *vc, const struct vcpu_exit *e)
{
	struct mvm *vm = vc->vm;
	uint64_t r = 0;

	switch (e->hypercall.nr) {
	case CV_HC_TEST_SUM:
		for (unsigned i = 0; i < 6; i++)
			r += e->hypercall.args[i];
		return r;
	case CV_HC_BARRIER:
		barrier(vm);
		return 0;
	case PSCI_AFFINITY_INFO:
	case PSCI_AFFINITY_INFO_64: {
		long t = cv_cpu_id_to_vcpu(e->hypercall.args[0]);

		if (e->hypercall.args[1] != 0 || t < 0 || (unsigned)t >= vm->ncpus)
			return (uint64_t)(int64_t)PSCI_RET_INVALID_PARAMETERS;
		spin_lock(&vm->lock);
		r = vm->vcpus[t].power == POWER_ON ? PSCI_AFFINITY_ON : PSCI_AFFINITY_OFF;
		spin_unlock(&vm->lock);
		return r;
	}
	default:
		return (uint64_t)(int64_t)CV_HC_RET_UNKNOWN;
	}
}

static int64_t cpu_up(struct mvcpu *vc, const struct vcpu_exit *e)
{
	struct mvm *vm = vc->vm;
	long t = cv_cpu_id_to_vcpu(e->cpu_up.target_cpu);
	int64_t r = PSCI_RET_SUCCESS;

	if (t < 0 || (unsigned)t >= vm->ncpus)
		return PSCI_RET_INVALID_PARAMETERS;
	spin_lock(&vm->lock);
	if (vm->vcpus[t].power == POWER_ON) {
		r = PSCI_RET_ALREADY_ON;
	} else if (vm->vcpus[t].started) {
		r = PSCI_RET_DENIED; /* once off, a vCPU stays off in this minimal VMM */
	} else {
		vm->vcpus[t].power = POWER_ON;
		vm->vcpus[t].entry = e->cpu_up.entry_point;
		vm->vcpus[t].ctx_id = e->cpu_up.arg;
		vm->vcpus[t].started = true;
	}
	spin_unlock(&vm->lock);
	if (r == PSCI_RET_SUCCESS)
		hal_notify_all(vm->wq);
	return r;
}

/* SEND_IPI: mark the SGI pending on every target and kick them. */
static void send_ipi(struct mvcpu *vc, const struct vcpu_exit *e)
{
	struct mvm *vm = vc->vm;
	uint64_t base = e->send_ipi.target_cpu;

	spin_lock(&vm->lock);
	for (unsigned i = 0; i < vm->ncpus; i++) {
		uint64_t id = cv_vcpu_to_cpu_id(i);
		bool hit;

		if (e->send_ipi.send_to_all)
			hit = i != vc->idx;
		else
			hit = (id & ~0xffull) == (base & ~0xffull) && (id & 0xff) >= (base & 0xff) &&
			      (id & 0xff) - (base & 0xff) < 16 &&
			      (e->send_ipi.target_cpu_aux >> ((id & 0xff) - (base & 0xff)) & 1);
		if (hit)
			vm->vcpus[i].pending |= 1u << (e->send_ipi.vector & 0xf);
	}
	spin_unlock(&vm->lock);
	for (unsigned i = 0; i < vm->ncpus; i++)
		if (i != vc->idx)
			vcpu_kick(vm->vcpus[i].vcpu);
	hal_notify_all(vm->wq);
}

static int mmio(struct mvcpu *vc, const struct vcpu_exit *e)
{
	struct mvm *vm = vc->vm;
	uint64_t val = 0;
	int ret;

	if (e->kind == VCPU_EXIT_MMIO_READ) {
		if (!pl011_claims(&vm->uart, e->mmio_read.addr.v, e->mmio_read.width))
			goto nodev;
		spin_lock(&vm->lock);
		ret = pl011_read(&vm->uart, e->mmio_read.addr.v - vm->uart.base, e->mmio_read.width, &val);
		spin_unlock(&vm->lock);
		if (ret < 0)
			return ret;
		if (e->mmio_read.signed_ext)
			val = access_width_sign_extend(val, e->mmio_read.width);
		val &= access_width_mask(e->mmio_read.reg_width);
		return vcpu_set_gpr(vc->vcpu, e->mmio_read.reg, val);
	}
	if (!pl011_claims(&vm->uart, e->mmio_write.addr.v, e->mmio_write.width))
		goto nodev;
	spin_lock(&vm->lock);
	ret = pl011_write(&vm->uart, e->mmio_write.addr.v - vm->uart.base, e->mmio_write.width, e->mmio_write.data);
	spin_unlock(&vm->lock);
	return ret;
nodev:
	hal_log(HAL_LOG_ERROR, "vm %u vcpu %u: %s at %#lx: no device there; VM stopped", vm->id, vc->idx,
		e->kind == VCPU_EXIT_MMIO_READ ? "MMIO read" : "MMIO write",
		e->kind == VCPU_EXIT_MMIO_READ ? e->mmio_read.addr.v : e->mmio_write.addr.v);
	return -CV_ENODEV;
}

static const char *sysreg_name(uint64_t addr, char *buf, size_t n)
{
	plat_snprintf(buf, n, "S%u_%u_C%u_C%u_%u", (unsigned)(addr >> 20 & 3), (unsigned)(addr >> 14 & 7),
		      (unsigned)(addr >> 10 & 15), (unsigned)(addr >> 1 & 15), (unsigned)(addr >> 17 & 7));
	return buf;
}

/* Handles one exit; false when the vCPU loop ends. */
static bool handle_exit(struct mvcpu *vc, struct vcpu_exit *e)
{
	struct mvm *vm = vc->vm;
	char name[32];
	int ret;

	switch (e->kind) {
	case VCPU_EXIT_MMIO_READ:
	case VCPU_EXIT_MMIO_WRITE:
		ret = mmio(vc, e);
		if (ret < 0) {
			vm_stop(vm, 1);
			return false;
		}
		return true;
	case VCPU_EXIT_SYSREG_READ:
		hal_log(HAL_LOG_INFO, "vm %u vcpu %u: read of system register %s: reads as zero", vm->id, vc->idx,
			sysreg_name(e->sysreg_read.addr, name, sizeof(name)));
		vcpu_set_gpr(vc->vcpu, e->sysreg_read.reg, 0);
		return true;
	case VCPU_EXIT_SYSREG_WRITE:
		hal_log(HAL_LOG_INFO, "vm %u vcpu %u: write of %#lx to system register %s: ignored", vm->id, vc->idx,
			e->sysreg_write.value, sysreg_name(e->sysreg_write.addr, name, sizeof(name)));
		return true;
	case VCPU_EXIT_HYPERCALL:
		vcpu_set_return_value(vc->vcpu, hypercall(vc, e));
		return true;
	case VCPU_EXIT_CPU_UP:
		vcpu_set_return_value(vc->vcpu, (uint64_t)cpu_up(vc, e));
		return true;
	case VCPU_EXIT_CPU_DOWN:
		spin_lock(&vm->lock);
		vc->power = POWER_OFF;
		spin_unlock(&vm->lock);
		hal_notify_all(vm->wq); /* a barrier may now be complete for the others */
		if (vcpu_block(vc->vcpu) == 0) {
			hal_wait_until(vm->wq, down_cond, vm, 0);
			vcpu_unblock(vc->vcpu);
		}
		return false;
	case VCPU_EXIT_HALT:
		hal_wait_until(vm->wq, pending_or_down, vc, 0);
		return true;
	case VCPU_EXIT_SYSTEM_DOWN:
		hal_log(HAL_LOG_INFO, "vm %u (%s): system %s by vcpu %u", vm->id, vm->name,
			e->system_down.reason == SYSTEM_DOWN_OFF ? "off" : system_down_name(e->system_down.reason),
			vc->idx);
		vm_stop(vm, e->system_down.reason == SYSTEM_DOWN_OFF ? 0 : 1);
		return false;
	case VCPU_EXIT_SEND_IPI:
		send_ipi(vc, e);
		return true;
	case VCPU_EXIT_EXTERNAL_INTERRUPT:
	case VCPU_EXIT_NOTHING:
		return true;
	case VCPU_EXIT_NESTED_PAGE_FAULT:
		hal_log(HAL_LOG_ERROR, "vm %u vcpu %u: stage-2 fault at %#lx; VM stopped", vm->id, vc->idx,
			e->nested_page_fault.addr.v);
		vm_stop(vm, 1);
		return false;
	case VCPU_EXIT_IO_READ:
	case VCPU_EXIT_IO_WRITE:
	case VCPU_EXIT_FAIL_ENTRY:
	case VCPU_EXIT_KIND_COUNT:
	default:
		hal_log(HAL_LOG_ERROR, "vm %u vcpu %u: unexpected exit %s; VM stopped", vm->id, vc->idx,
			vcpu_exit_name(e->kind));
		vm_stop(vm, 1);
		return false;
	}
}

static void vcpu_task(void *arg)
{
	struct mvcpu *vc = arg;
	struct mvm *vm = vc->vm;
	struct vcpu_exit e;
	int ret;

	hal_wait_until(vm->wq, started_or_down, vc, 0);
	if (is_down(vm))
		return;
	spin_lock(&vm->lock);
	e.cpu_up.entry_point = vc->entry;
	e.cpu_up.arg = vc->ctx_id;
	spin_unlock(&vm->lock);
	hal_log(HAL_LOG_INFO, "vm %u (%s): vcpu %u runs on pcpu %u", vm->id, vm->name, vc->idx, hal_cpu_id());
	if (vcpu_set_entry(vc->vcpu, e.cpu_up.entry_point) < 0 || vcpu_set_gpr(vc->vcpu, 0, e.cpu_up.arg) < 0 ||
	    vcpu_bind(vc->vcpu) < 0) {
		hal_log(HAL_LOG_ERROR, "vm %u vcpu %u: cannot start", vm->id, vc->idx);
		vm_stop(vm, 1);
		return;
	}
	for (;;) {
		uint32_t pending;

		spin_lock(&vm->lock);
		pending = vc->pending;
		vc->pending = 0;
		spin_unlock(&vm->lock);
		for (unsigned v = 0; v < 16; v++)
			if (pending >> v & 1)
				vcpu_inject_interrupt(vc->vcpu, v);
		if (is_down(vm))
			break;
		ret = vcpu_run(vc->vcpu, &e);
		if (ret < 0) {
			hal_log(HAL_LOG_ERROR, "vm %u vcpu %u: run failed: %s; VM stopped", vm->id, vc->idx,
				cv_strerror(ret));
			vm_stop(vm, 1);
			return;
		}
		if (!handle_exit(vc, &e))
			break;
	}
	if (vcpu_state(vc->vcpu) == VCPU_STATE_READY)
		vcpu_unbind(vc->vcpu);
}

/* Cleans [p, p + n) to the point of coherency: the guest starts with its MMU and caches off. */
static void clean_dcache(const void *p, size_t n)
{
	uint64_t line = 4u << (read_sysreg(ctr_el0) >> 16 & 0xf);

	for (uint64_t a = (uint64_t)(uintptr_t)p & ~(line - 1); a < (uint64_t)(uintptr_t)p + n; a += line)
		__asm__ volatile("dc cvac, %0" : : "r"(a) : "memory");
	dsb(sy);
}

int plat_run_vms(void)
{
	static struct mvm vm;
	size_t image = (size_t)(guest_image_end - guest_image_start);
	struct arch_vcpu_create_cfg cfg = {.vm = &vm.arch, .boot_arg = 0};
	int ret, result = 1;
	unsigned i;

	vm.id = 1;
	vm.name = guest_image_name;
	vm.ncpus = guest_image_cpus < MAX_VCPUS ? guest_image_cpus : MAX_VCPUS;
	hal_log(HAL_LOG_INFO, "vm %u (%s): %u vCPU%s, %lu MiB at %#lx, PL011 at %#lx", vm.id, vm.name, vm.ncpus,
		vm.ncpus == 1 ? "" : "s", GUEST_RAM_SIZE >> 20, GUEST_RAM_GPA, GUEST_UART_GPA);
	if (image > GUEST_RAM_SIZE || hal_waitq_create(&vm.wq) < 0)
		return 1;
	pl011_init(&vm.uart, GUEST_UART_GPA, console_sink, &vm);
	ret = arch_vm_create(&vm.arch, vm.id);
	if (ret < 0)
		goto out;
	vm.ram = hal_alloc_pages(GUEST_RAM_SIZE / PLAT_PAGE_SIZE);
	if (!vm.ram) {
		ret = -CV_ENOMEM;
		goto out_vm;
	}
	memcpy(vm.ram, guest_image_start, image);
	clean_dcache(vm.ram, image);
	ret =
	    arch_vm_map(&vm.arch, gpa(GUEST_RAM_GPA), vm.ram, GUEST_RAM_SIZE, CV_MAP_READ | CV_MAP_WRITE | CV_MAP_EXEC);
	if (ret < 0)
		goto out_ram;
	for (i = 0; i < vm.ncpus; i++) {
		struct mvcpu *vc = &vm.vcpus[i];
		unsigned pcpu = i % hal_cpu_count();

		vc->vm = &vm;
		vc->idx = i;
		ret = vcpu_create(&vc->vcpu, vm.id, i, pcpu, 1ull << pcpu, &cfg);
		if (ret < 0)
			goto out_vcpus;
		ret = vcpu_setup(vc->vcpu, gpa(GUEST_RAM_GPA), arch_vm_ept_root(&vm.arch), NULL);
		if (ret < 0)
			goto out_vcpus;
	}
	/* vCPU 0 starts at the image's first byte; the others wait for CPU_ON. */
	vm.vcpus[0].power = POWER_ON;
	vm.vcpus[0].started = true;
	vm.vcpus[0].entry = gpa(GUEST_RAM_GPA);
	for (i = 0; i < vm.ncpus; i++) {
		char tname[24];

		plat_snprintf(tname, sizeof(tname), "vm%u-vcpu%u", vm.id, i);
		ret = hal_task_spawn(&vm.vcpus[i].task, tname, VCPU_STACK, vcpu_phys_cpu_set(vm.vcpus[i].vcpu),
				     vcpu_task, &vm.vcpus[i]);
		if (ret < 0) {
			vm_stop(&vm, 1);
			break;
		}
	}
	for (unsigned j = 0; j < i; j++) {
		if (hal_task_join(vm.vcpus[j].task, JOIN_TIMEOUT_NS) < 0) {
			hal_log(HAL_LOG_ERROR, "vm %u vcpu %u: task did not end", vm.id, j);
			vm_stop(&vm, 1);
			ret = -CV_ETIMEDOUT;
		}
	}
	pl011_flush(&vm.uart);
	spin_lock(&vm.lock);
	result = vm.result;
	spin_unlock(&vm.lock);
	if (ret < 0)
		result = 1;
	hal_log(HAL_LOG_INFO, "vm %u (%s): %s", vm.id, vm.name, result == 0 ? "powered off" : "stopped on a failure");
	i = vm.ncpus;
out_vcpus:
	for (unsigned j = 0; j < i && j < vm.ncpus; j++)
		if (vm.vcpus[j].vcpu)
			vcpu_destroy(vm.vcpus[j].vcpu);
	if (ret < 0 && result == 0)
		result = 1;
out_ram:
	hal_free_pages(vm.ram, GUEST_RAM_SIZE / PLAT_PAGE_SIZE);
out_vm:
	arch_vm_destroy(&vm.arch);
out:
	if (ret < 0)
		hal_log(HAL_LOG_ERROR, "vm %u (%s): %s", vm.id, vm.name, cv_strerror(ret));
	hal_waitq_destroy(vm.wq);
	return result;
}
