/* SPDX-License-Identifier: MIT */
/*
 * Boot of the bare-metal EL2 host on QEMU virt: every CPU comes through plat_cpu_main
 * with its index. CPU 0 reads the DTB, builds the EL2 identity map, sets up the
 * allocator and the GIC distributor, starts the other CPUs with PSCI CPU_ON to the
 * firmware, and runs the VMs in a task; each CPU then becomes its scheduler's idle loop.
 */
#include <cvisor/arch.h>

#include "platform.h"

#define PSCI_CPU_ON_64 0xC4000003u
#define QEMU_VIRT_DTB  0x40000000u /* QEMU puts the DTB at the start of RAM for ELF images */
#define MPIDR_AFF_MASK 0xff00ffffffull

struct percpu plat_percpu[PLAT_MAX_CPUS];
unsigned plat_ncpus;
/* QEMU virt's fixed layout, used when the DTB lacks a node. */
struct plat_info plat_info = {
    .ram_base = 0x40000000,
    .ram_size = 128ull << 20,
    .uart_base = 0x09000000,
    .gicd_base = 0x08000000,
    .gicr_base = 0x080a0000,
    .ncpus = 1,
};

extern char __image_end[];

static void main_task(void *arg)
{
	(void)arg;
	plat_exit(plat_run_vms());
}

void plat_cpu_main(uint64_t idx);
void plat_cpu_main(uint64_t idx)
{
	struct percpu *pc = &plat_percpu[idx];
	struct hal_task *task;

	uint64_t rsv_start, rsv_end;

	if (idx == 0) {
		struct plat_info dt;

		/* The MMU is off: fdt.c reads bytes only. */
		if (fdt_parse((const void *)(uintptr_t)QEMU_VIRT_DTB, &dt)) {
			if (dt.ram_size)
				plat_info.ram_base = dt.ram_base, plat_info.ram_size = dt.ram_size;
			if (dt.uart_base)
				plat_info.uart_base = dt.uart_base;
			if (dt.gicd_base)
				plat_info.gicd_base = dt.gicd_base, plat_info.gicr_base = dt.gicr_base;
			if (dt.ncpus) {
				plat_info.ncpus = dt.ncpus;
				for (unsigned i = 0; i < dt.ncpus; i++)
					plat_info.cpu_mpidr[i] = dt.cpu_mpidr[i];
			}
		}
		mm_build_el2_tables(plat_info.ram_base, plat_info.ram_size);
	}
	plat_mmu_on(plat_el2_ttbr, plat_el2_tcr, plat_el2_mair);
	pc->id = (unsigned)idx;
	pc->mpidr = read_sysreg(mpidr_el1) & MPIDR_AFF_MASK;
	write_sysreg(pc, tpidr_el2);
	if (idx == 0) {
		console_init(plat_info.uart_base);
		mm_init(plat_info.ram_base, plat_info.ram_size, (uint64_t)(uintptr_t)__image_end);
		/* The VM-config blob and the kernels / initramfs QEMU loaded after it (vmconfig.c). */
		if (vmconfig_reserved(plat_info.ram_base, plat_info.ram_size, &rsv_start, &rsv_end))
			mm_reserve(rsv_start, rsv_end);
		gic_init_distributor();
	}
	sched_init_cpu(pc);
	gic_init_cpu();
	if (arch_percpu_hardware_enable(pc->id) < 0)
		hal_fatal("arch_percpu_hardware_enable failed");
	atomic_store(&pc->online, true);
	if (idx == 0) {
		unsigned n = 1;

		for (unsigned i = 1; i < plat_info.ncpus && i < PLAT_MAX_CPUS; i++) {
			/* QEMU's PSCI rejects a target with MPIDR bit 31 set: affinity fields only. */
			int64_t r = (int64_t)plat_smc(PSCI_CPU_ON_64, plat_info.cpu_mpidr[i] & MPIDR_AFF_MASK,
						      (uint64_t)(uintptr_t)plat_secondary_entry, i);
			uint64_t t0 = hal_now_ns();

			if (r != 0) {
				hal_log(HAL_LOG_WARN, "PSCI CPU_ON of CPU %u failed (%d)", i, (int)r);
				break;
			}
			while (!atomic_load(&plat_percpu[i].online) && hal_now_ns() - t0 < 1000000000ull)
				;
			if (!atomic_load(&plat_percpu[i].online)) {
				hal_log(HAL_LOG_WARN, "CPU %u did not come up", i);
				break;
			}
			n++;
		}
		plat_ncpus = n;
		hal_log(HAL_LOG_INFO, "EL2 hypervisor on QEMU virt: %u CPUs, %lu MiB RAM", n, plat_info.ram_size >> 20);
		if (hal_task_spawn(&task, "main", 0, 1, main_task, NULL) < 0)
			hal_fatal("cannot start the main task");
	}
	sched_idle_loop();
}
