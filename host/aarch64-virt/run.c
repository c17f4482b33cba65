/* SPDX-License-Identifier: MIT */
/*
 * The bare-metal embedder of the VM/VMM library, as tools/cvisor is the hosted one: the
 * VMM's vCPU loop (core/vmm.c) runs here unchanged, on the HAL's per-pCPU scheduler.
 * It builds the VM built into this image (guest_image.S: one image per guest, chosen at
 * build time), adds the emulated PL011 at QEMU virt's UART address, starts it with
 * vmm_start, waits, and returns the machine's exit code (0: powered off, 1: anything
 * else). A SYSTEM_RESET builds a new VM from the same config (DESIGN.md), a few times.
 *
 * What the AArch64 embedder adds through the VMM's hooks:
 * - SEND_IPI: ICC_SGI1R_EL1 names targets by Aff3.Aff2.Aff1 plus a 16-bit list of Aff0
 *   (arch_vcpu.h); each named vCPU gets the SGI, through the VM's emulated GICv3 when it
 *   has one (devices/vgic-v3.c, at QEMU virt's GIC addresses), else straight into its LRs.
 * - The `abort` unmapped-access policy (the AArch64 default): an MMIO access to no
 *   device gets a synchronous external abort, a system register no device serves an
 *   undefined instruction, as the hardware would give (a64_vcpu_inject_abort).
 * - The debug system registers (op0 = 2, trapped by MDCR_EL2.TDA/TDOSA/TDRA) are a
 *   read-as-zero / write-ignored device: the guest sees a PE with nothing to debug.
 * - CV_A64_HC_PCPU (tests): the physical CPU the calling vCPU runs on.
 */
#include <cvisor/errors.h>
#include <cvisor/guest_abi.h>
#include <cvisor/vcpu.h>
#include <cvisor/vm.h>
#include <cvisor/vmm.h>

#include <cvisor/pl011.h>
#include <cvisor/vgic.h>
#include <cvisor/vtimer.h>
#include "platform.h"

#define GUEST_RAM_GPA	   0x40000000ul
#define GUEST_RAM_SIZE	   (16ul << 20)
#define GUEST_UART_GPA	   0x09000000ul
#define GUEST_GICD_GPA	   0x08000000ul /* boot/fdt.c's guest GICv3 (QEMU virt's layout) */
#define GUEST_GICR_GPA	   0x080a0000ul
#define GUEST_SPI_BLOCKS   1 /* SPIs 32-63: the PL011's SPI 1 and room for more */
#define MAX_RESETS	   3
#define DESTROY_TIMEOUT_NS 1000000000ull
/* Test-only hypercalls of the bare-metal embedder (vendor hypervisor range, see guests/aarch64/lib.h). */
#define CV_A64_HC_PCPU	0xC6000100u
#define CV_A64_HC_BOOT	0xC6000101u
#define CV_A64_HC_YIELD 0xC6000102u /* bench: give the pCPU to the next runnable task (vCPU switch cost) */

static struct hal_waitq *yield_wq;

static bool always(void *arg)
{
	(void)arg;
	return true;
}

/* What the VMM's hooks of one VM see (vmm_hooks.ctx). */
struct run_ctx {
	struct vgic *vgic; /* the VM's emulated GIC, NULL when it has none */
	unsigned boot;	   /* how many times the VM was built before this one (resets) */
};

extern const char guest_image_start[], guest_image_end[];
extern const char guest_image_name[];
extern const unsigned guest_image_cpus;
extern const unsigned guest_image_vgic;

/* ctx: the VM's console port; lines are prefixed, marked and kept whole there (console.c). */
static void console_sink(void *ctx, const char *line, size_t len)
{
	console_port_write((int)(intptr_t)ctx, line, len);
}

/* The debug registers: read as zero, writes ignored. */
static int raz_read(void *dev, uint32_t vcpu_id, uint64_t offset, enum access_width width, uint64_t *val)
{
	(void)dev, (void)vcpu_id, (void)offset, (void)width;
	*val = 0;
	return 0;
}

static int wi_write(void *dev, uint32_t vcpu_id, uint64_t offset, enum access_width width, uint64_t val)
{
	(void)dev, (void)vcpu_id, (void)offset, (void)width, (void)val;
	return 0;
}

static const struct device_ops raz_wi_ops = {.read = raz_read, .write = wi_write};

static bool hypercall_hook(void *ctx, struct vm *vm, uint32_t vcpu_id, uint64_t nr, const uint64_t args[6],
			   uint64_t *ret)
{
	const struct run_ctx *rc = ctx;

	(void)vm, (void)vcpu_id, (void)args;
	if (nr == CV_A64_HC_PCPU) {
		*ret = hal_cpu_id(); /* the hook runs on the vCPU's task, pinned to its pCPU */
		return true;
	}
	if (nr == CV_A64_HC_YIELD && yield_wq) {
		/* A wait whose condition holds is a scheduling point (sched.c): the pCPU goes round robin. */
		hal_wait_until(yield_wq, always, NULL, 0);
		*ret = 0;
		return true;
	}
	if (nr == CV_A64_HC_BOOT) {
		*ret = rc->boot; /* a resetting test guest counts its boots here: its RAM does not survive */
		return true;
	}
	return false;
}

/* ICC_SGI1R_EL1's targets (IHI 0069 12.2.21): every vCPU whose Aff0 is in the list. */
static void send_sgi(struct vm *vm, uint32_t from, const struct vcpu_exit *e)
{
	uint64_t base = e->send_ipi.target_cpu, list = e->send_ipi.target_cpu_aux;
	unsigned n = vm_vcpu_count(vm);

	for (uint32_t i = 0; i < n; i++) {
		uint64_t id = cv_vcpu_to_cpu_id(i), aff0 = id & 0xff;
		bool hit;

		if (e->send_ipi.send_to_all)
			hit = i != from;
		else
			hit = (id & ~0xffull) == (base & ~0xffull) && aff0 >= (base & 0xff) &&
			      aff0 - (base & 0xff) < 16 && (list >> (aff0 - (base & 0xff)) & 1);
		if (hit)
			vm_inject_interrupt(vm, i, (uint32_t)e->send_ipi.vector);
	}
}

/* ctx: the run's struct run_ctx. */
static int exit_hook(void *ctx, struct vm *vm, uint32_t vcpu_id, struct vcpu_exit *e)
{
	struct vgic *vgic = ((struct run_ctx *)ctx)->vgic;
	struct vcpu *v;

	switch (e->kind) {
	case VCPU_EXIT_SEND_IPI:
		if (vgic)
			return vgic_send_sgi(vgic, vcpu_id, e) == 0 ? 0 : -CV_ENOTSUP;
		send_sgi(vm, vcpu_id, e);
		return 0;
	case VCPU_EXIT_MMIO_READ:
	case VCPU_EXIT_MMIO_WRITE:
	case VCPU_EXIT_SYSREG_READ:
	case VCPU_EXIT_SYSREG_WRITE:
		/* Only under the abort policy does the VM hand these back. */
		v = vm_vcpu(vm, vcpu_id);
		if (!v || vm_unmapped_policy(vm) != UNMAPPED_ABORT)
			return -CV_ENOTSUP;
		if (e->kind == VCPU_EXIT_MMIO_READ || e->kind == VCPU_EXIT_MMIO_WRITE)
			hal_log(HAL_LOG_WARN, "vm %u vcpu %u: %s at %#lx: no device there; external abort injected",
				vm_id(vm), vcpu_id, e->kind == VCPU_EXIT_MMIO_READ ? "MMIO read" : "MMIO write",
				e->kind == VCPU_EXIT_MMIO_READ ? e->mmio_read.addr.v : e->mmio_write.addr.v);
		else
			hal_log(HAL_LOG_WARN,
				"vm %u vcpu %u: system register %#lx has no device; undefined instruction injected",
				vm_id(vm), vcpu_id,
				e->kind == VCPU_EXIT_SYSREG_READ ? e->sysreg_read.addr : e->sysreg_write.addr);
		return a64_vcpu_inject_abort(&v->arch);
	case VCPU_EXIT_NESTED_PAGE_FAULT:
		/*
		 * A fetch from, or a stage-1 walk into, an IPA with no memory: under the abort
		 * policy the guest gets the bus error (the backend says which faults qualify).
		 */
		v = vm_vcpu(vm, vcpu_id);
		if (!v || vm_unmapped_policy(vm) != UNMAPPED_ABORT || a64_vcpu_inject_abort(&v->arch) < 0)
			return -CV_ENOTSUP;
		hal_log(HAL_LOG_WARN, "vm %u vcpu %u: %s at IPA %#lx: no memory there; external abort injected",
			vm_id(vm), vcpu_id,
			e->nested_page_fault.access_flags == CV_MAP_EXEC ? "instruction fetch" : "stage-1 table walk",
			e->nested_page_fault.addr.v);
		return 0;
	default:
		return -CV_ENOTSUP;
	}
}

/* The guest starts with its MMU and caches off: what it reads first must be in RAM. */
void plat_clean_dcache(const void *p, size_t n)
{
	uint64_t line = 4u << (read_sysreg(ctr_el0) >> 16 & 0xf);

	for (uint64_t a = (uint64_t)(uintptr_t)p & ~(line - 1); a < (uint64_t)(uintptr_t)p + n; a += line)
		__asm__ volatile("dc cvac, %0" : : "r"(a) : "memory");
	dsb(sy);
}

static void make_config(struct vm_config *cfg)
{
	unsigned ncpus = guest_image_cpus;

	*cfg = (struct vm_config){0};
	cfg->id = 1;
	plat_snprintf(cfg->name, sizeof(cfg->name), "%s", guest_image_name);
	cfg->cpu_num = ncpus;
	/* vCPU n on pCPU n mod the CPU count (phys_cpu_ids: favour and pin). */
	cfg->n_phys_cpu_ids = ncpus;
	for (unsigned i = 0; i < ncpus && i < VM_MAX_VCPUS; i++)
		cfg->phys_cpu_ids[i] = i % hal_cpu_count();
	cfg->has_entry_point = true;
	cfg->entry_point = GUEST_RAM_GPA;
	cfg->nregions = 1;
	cfg->regions[0] =
	    (struct vm_mem_region){.gpa = GUEST_RAM_GPA, .size = GUEST_RAM_SIZE, .flags = 0, .map_type = VM_MAP_ALLOC};
	cfg->unmapped_access = UNMAPPED_DEFAULT; /* abort on AArch64 */
}

/*
 * Whether the VM gets the emulated GICv3: every Linux VM of the config blob (the kernel
 * needs its interrupt controller), and the built-in test guests that ask for it
 * (A64_VGIC_<guest>); the others keep the backend's own list-register injection.
 */
static bool wants_vgic(const struct vm_spec *spec)
{
	return spec || guest_image_vgic;
}

/*
 * Builds the VM and fills its RAM: from a VM spec of the config blob (spec), else with the
 * guest built into this image; *vgic is its emulated GIC or NULL. The VM is LOADED on success.
 */
/* The guest UART's interrupt line: SPI 33 of the vGIC (QEMU virt's layout, boot/fdt.c). */
static void uart_irq(void *vgic, bool level)
{
	vgic_set_level(vgic, 0, PL011_VIRT_INTID, level);
}

static bool uart_put(void *uart, uint8_t byte)
{
	return pl011_receive(uart, byte);
}

static void uart_idle(void *uart, uint64_t now_ns, uint64_t idle_ns)
{
	pl011_flush_idle(uart, now_ns, idle_ns);
}

static const struct console_input uart_input = {.put = uart_put, .idle = uart_idle};

static int build_vm(const struct vm_config *cfg, const struct vm_spec *spec, int port, struct vm **out,
		    struct vgic **vgic, struct pl011 **uart)
{
	size_t image = (size_t)(guest_image_end - guest_image_start);
	struct vm *vm;
	void *ram;
	int ret;

	ret = vm_create(&vm, cfg);
	if (ret < 0)
		return ret;
	if (spec) {
		ret = linux_load(vm, spec);
	} else {
		ret = vm_write_guest(vm, gpa(GUEST_RAM_GPA), guest_image_start, image);
		if (ret == 0)
			ret = vm_guest_ptr(vm, gpa(GUEST_RAM_GPA), image, &ram);
		if (ret == 0)
			plat_clean_dcache(ram, image);
	}
	if (ret == 0)
		ret = vm_add_pl011_irq(vm, GUEST_UART_GPA, console_sink, (void *)(intptr_t)port, NULL, NULL, uart);
	if (ret == 0)
		ret = vm_add_device(vm, BUS_SYSREG, A64_SYSREG(2, 0, 0, 0, 0), 1ull << 20, &raz_wi_ops, NULL,
				    "debug-raz-wi");
	*vgic = NULL;
	if (ret == 0 && wants_vgic(spec))
		ret = vm_add_vgic_v3(vm, GUEST_GICD_GPA, GUEST_GICR_GPA, GUEST_SPI_BLOCKS, vgic);
	/* The timer's PPI goes into the vGIC when there is one, else into the backend's list registers. */
	if (ret == 0)
		ret = vm_add_vtimer(vm, *vgic);
	/* Without a vGIC the UART has no interrupt: such guests poll it. */
	if (ret == 0 && *vgic)
		pl011_set_irq(*uart, uart_irq, *vgic);
	if (ret < 0) {
		*vgic = NULL;
		vm_destroy(vm);
		return ret;
	}
	*out = vm;
	return 0;
}

/*
 * One VM's life: build, start, wait; a SYSTEM_RESET builds it again from the same config
 * (and, for a spec, from the untouched loaded files), unless resets are refused. Returns
 * the VM's part of the exit code: 0 powered off, 1 anything else.
 */
static int run_one(const struct vm_config *cfg, const struct vm_spec *spec, int port, unsigned max_resets)
{
	struct run_ctx rc = {0};
	const struct vmm_hooks hooks = {.hypercall = hypercall_hook, .exit = exit_hook, .ctx = &rc};
	struct vmm_result res = {0};
	int ret;

	for (unsigned boot = 0;; boot++) {
		struct pl011 *uart = NULL;
		struct vmm_vm *vv;
		struct vm *vm;

		rc.boot = boot;
		ret = build_vm(cfg, spec, port, &vm, &rc.vgic, &uart);
		if (ret < 0) {
			hal_log(HAL_LOG_ERROR, "vm %u (%s): cannot build: %s", cfg->id, cfg->name, cv_strerror(ret));
			return 1;
		}
		console_port_bind(port, &uart_input, uart);
		ret = vmm_start(&vv, vm, &hooks);
		if (ret < 0) {
			hal_log(HAL_LOG_ERROR, "vm %u (%s): cannot start: %s", cfg->id, cfg->name, cv_strerror(ret));
			console_port_bind(port, NULL, NULL);
			vm_destroy(vm);
			return 1;
		}
		ret = vmm_wait(vv, 0, &res);
		/* The UART goes with the VM: the console stops reaching it first. */
		console_port_bind(port, NULL, NULL);
		if (vmm_destroy(vv, DESTROY_TIMEOUT_NS) < 0)
			ret = -CV_ETIMEDOUT; /* a task is stuck: leak the VM rather than free it under it */
		else
			vm_destroy(vm);
		if (ret < 0) {
			hal_log(HAL_LOG_ERROR, "vm %u (%s): did not stop: %s", cfg->id, cfg->name, cv_strerror(ret));
			return 1;
		}
		if (res.reason.kind != VM_STOP_RESET)
			break;
		if (boot + 1 >= max_resets) {
			if (max_resets == 1)
				hal_log(HAL_LOG_ERROR, "vm %u (%s): the guest asked for a reset; --no-reboot: stopped",
					cfg->id, cfg->name);
			else
				hal_log(HAL_LOG_ERROR, "vm %u (%s): reset %u times; not again", cfg->id, cfg->name,
					max_resets);
			return 1;
		}
		hal_log(HAL_LOG_INFO, "vm %u (%s): reset: building it again", cfg->id, cfg->name);
	}
	if (res.reason.kind == VM_STOP_POWER_OFF) {
		hal_log(HAL_LOG_INFO, "vm %u (%s): powered off", cfg->id, cfg->name);
		return 0;
	}
	hal_log(HAL_LOG_ERROR, "vm %u (%s): stopped: %s%s%s", cfg->id, cfg->name, vm_stop_kind_name(res.reason.kind),
		res.reason.error ? ": " : "", res.reason.error ? cv_strerror(res.reason.error) : "");
	return 1;
}

/* The VMs of the config blob, each on a task of its own so that each ends (or resets) on its own. */
static struct vm_spec specs[PLAT_MAX_VMS];
static int spec_port[PLAT_MAX_VMS];
static int spec_result[PLAT_MAX_VMS];
static bool specs_no_reboot;

static void spec_task(void *arg)
{
	unsigned i = (unsigned)(uintptr_t)arg;

	/* A Linux VM reboots as often as its guest asks, like a machine; --no-reboot: never. */
	spec_result[i] = run_one(&specs[i].cfg, &specs[i], spec_port[i], specs_no_reboot ? 1 : UINT32_MAX);
}

static int run_specs(unsigned n)
{
	struct hal_task *tasks[PLAT_MAX_VMS] = {0};
	int code = 0;

	for (unsigned i = 0; i < n; i++) {
		const struct vm_config *c = &specs[i].cfg;
		int ret = linux_prepare(&specs[i]);

		if (ret < 0) {
			hal_log(HAL_LOG_ERROR, "vm %u (%s): cannot boot: %s", c->id, c->name, cv_strerror(ret));
			return 1;
		}
		hal_log(HAL_LOG_INFO, "vm %u (%s): %u vCPU%s, %lu MiB at %#lx, PL011 at %#lx, cmdline \"%s\"", c->id,
			c->name, c->cpu_num, c->cpu_num == 1 ? "" : "s", (unsigned long)(c->regions[0].size >> 20),
			(unsigned long)c->regions[0].gpa, GUEST_UART_GPA, c->cmdline);
		spec_port[i] = console_port_add(c->id, c->name);
	}
	if (console_ports_ready() < 0)
		hal_log(HAL_LOG_WARN, "console input unavailable");
	for (unsigned i = 0; i < n; i++) {
		spec_result[i] = 1;
		if (hal_task_spawn(&tasks[i], specs[i].cfg.name, 0, 1, spec_task, (void *)(uintptr_t)i) < 0) {
			hal_log(HAL_LOG_ERROR, "vm %u (%s): cannot start its task", specs[i].cfg.id, specs[i].cfg.name);
			tasks[i] = NULL;
		}
	}
	for (unsigned i = 0; i < n; i++) {
		if (tasks[i])
			hal_task_join(tasks[i], 0);
		if (spec_result[i])
			code = 1;
	}
	return code;
}

int plat_run_vms(void)
{
	struct vm_config cfg;
	unsigned n;
	int ret;

	if (hal_waitq_create(&yield_wq) < 0)
		yield_wq = NULL;
	ret = vmconfig_read(specs, PLAT_MAX_VMS, &n, &specs_no_reboot);
	if (ret == 0)
		return run_specs(n);
	if (ret != -CV_ENOENT)
		return 1;
	make_config(&cfg);
	hal_log(HAL_LOG_INFO, "vm %u (%s): %u vCPU%s, %lu MiB at %#lx, PL011 at %#lx", cfg.id, cfg.name, cfg.cpu_num,
		cfg.cpu_num == 1 ? "" : "s", GUEST_RAM_SIZE >> 20, GUEST_RAM_GPA, GUEST_UART_GPA);
	ret = console_port_add(cfg.id, cfg.name);
	if (console_ports_ready() < 0)
		hal_log(HAL_LOG_WARN, "console input unavailable");
	return run_one(&cfg, NULL, ret, MAX_RESETS);
}
