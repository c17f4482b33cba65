/* SPDX-License-Identifier: MIT */
/*
 * The x86_64 KVM vCPU: create, setup, bind/unbind, register writes and destroy (the
 * AxArchVCpu trait over api.rst 4.7 KVM_CREATE_VCPU). Running and exit decoding are in
 * run.c.
 *
 * Registers: after setup, kvm_run->s.regs.regs is the authoritative copy of the
 * general registers (KVM_CAP_SYNC_REGS): KVM writes it at every exit, set_gpr and
 * set_return_value edit it and mark it dirty, and KVM loads it at the next KVM_RUN, so
 * no exit costs a KVM_GET_REGS or KVM_SET_REGS.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stddef.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>

#include <cvisor/errors.h>
#include <cvisor/hal.h>
#include <cvisor/vcpu.h>

#include "kvm_private.h"

_Static_assert(sizeof(pthread_t) <= sizeof(uintptr_t), "pthread_t fits the thread field");

/* The contract's x86 register numbers (arch.h) to their place in struct kvm_regs. */
static const size_t gpr_offset[16] = {
    offsetof(struct kvm_regs, rax), offsetof(struct kvm_regs, rcx), offsetof(struct kvm_regs, rdx),
    offsetof(struct kvm_regs, rbx), offsetof(struct kvm_regs, rsp), offsetof(struct kvm_regs, rbp),
    offsetof(struct kvm_regs, rsi), offsetof(struct kvm_regs, rdi), offsetof(struct kvm_regs, r8),
    offsetof(struct kvm_regs, r9),  offsetof(struct kvm_regs, r10), offsetof(struct kvm_regs, r11),
    offsetof(struct kvm_regs, r12), offsetof(struct kvm_regs, r13), offsetof(struct kvm_regs, r14),
    offsetof(struct kvm_regs, r15),
};

int arch_vcpu_create(struct vcpu_arch *arch, uint32_t vm_id, uint32_t vcpu_id, const struct arch_vcpu_create_cfg *cfg)
{
	struct vm_arch *vm = cfg ? cfg->vm : NULL;
	void *run;
	int fd, ret;

	memset(arch, 0, sizeof(*arch));
	atomic_flag_clear(&arch->kick_lock);
	arch->fd = -1;
	arch->vm_id = vm_id;
	arch->vcpu_id = vcpu_id;
	if (!vm || !vm->live)
		return -CV_EINVAL;
	arch->vm = vm;
	arch->boot_arg = cfg->boot_arg;

	/* The vCPU id is also its initial APIC id (api.rst 4.7). */
	fd = ioctl(vm->vm_fd, KVM_CREATE_VCPU, (unsigned long)vcpu_id);
	if (fd < 0) {
		int err = errno; /* hal_log may change errno */

		hal_log(HAL_LOG_ERROR, "vm %u vcpu %u: KVM_CREATE_VCPU: %s", vm_id, vcpu_id, strerror(err));
		return err == EINVAL ? -CV_ERANGE : -CV_EIO;
	}
	arch->fd = fd;
	arch->has_fd = true;
	run = mmap(NULL, vm->run_size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (run == MAP_FAILED) {
		hal_log(HAL_LOG_ERROR, "vm %u vcpu %u: mmap kvm_run: %s", vm_id, vcpu_id, strerror(errno));
		return -CV_EIO;
	}
	arch->run = run;
	arch->run_size = vm->run_size;
	/* Ask KVM to store the general registers into kvm_run at every exit. */
	arch->run->kvm_valid_regs = KVM_SYNC_X86_REGS;
	ret = x86_kvm_cpuid_set(arch);
	if (ret < 0)
		return ret; /* core calls arch_vcpu_destroy after a failed create */
	return 0;
}

int arch_vcpu_set_entry(struct vcpu_arch *arch, gpa_t entry)
{
	arch->entry = entry;
	/*
	 * After setup this is a restart (PSCI CPU_ON of an off vCPU): the long-mode entry
	 * state again, at the new entry. The general registers are kept, so that CPU_ON's
	 * context id may be written before or after (PSCI leaves the others unknown).
	 */
	if (arch->setup_done)
		return x86_kvm_enter_long_mode(arch, false);
	return 0;
}

int arch_vcpu_set_ept_root(struct vcpu_arch *arch, hpa_t root)
{
	/* The root is the VM's arch state (arch_vm_ept_root): it must be this vCPU's VM. */
	if (root.v != (uint64_t)(uintptr_t)arch->vm)
		return -CV_EINVAL;
	return 0;
}

int arch_vcpu_setup(struct vcpu_arch *arch, const struct arch_vcpu_setup_cfg *cfg)
{
	int ret;

	/* No physical interrupt or timer reaches a KVM guest except through user space. */
	if (cfg && (cfg->passthrough_interrupt || cfg->passthrough_timer))
		return -CV_ENOTSUP;
	if (!arch->run)
		return -CV_EBADSTATE;
	ret = x86_kvm_boot_area_prepare(arch->vm);
	if (ret < 0)
		return ret;
	ret = x86_kvm_enter_long_mode(arch, true);
	if (ret < 0)
		return ret;
	arch->setup_done = true;
	return 0;
}

static void kick_lock(struct vcpu_arch *arch)
{
	while (atomic_flag_test_and_set_explicit(&arch->kick_lock, memory_order_acquire))
		__builtin_ia32_pause();
}

static void kick_unlock(struct vcpu_arch *arch)
{
	atomic_flag_clear_explicit(&arch->kick_lock, memory_order_release);
}

/*
 * The CPUs the calling thread may use now (the first 64, as the HAL's masks), so that
 * unbind gives back exactly what bind took away (a VMM task may have its own mask).
 */
static uint64_t thread_cpu_mask(void)
{
	cpu_set_t set;
	uint64_t mask = 0;
	unsigned cpu;

	if (sched_getaffinity(0, sizeof(set), &set) < 0)
		return 0;
	for (cpu = 0; cpu < 64; cpu++)
		if (CPU_ISSET(cpu, &set))
			mask |= 1ull << cpu;
	return mask;
}

int arch_vcpu_bind(struct vcpu_arch *arch)
{
	struct vcpu *self = vcpu_current();
	uint64_t mask = self ? vcpu_phys_cpu_set(self) : 0;
	sigset_t set;

	if (!arch->setup_done)
		return -CV_EBADSTATE;
	/* A mask naming no CPU of this host is not fatal: the vCPU floats (as hal_task_spawn). */
	if (mask) {
		arch->saved_cpu_mask = thread_cpu_mask();
		if (hal_task_pin_self(mask) < 0)
			hal_log(HAL_LOG_WARN, "vm %u vcpu %u: CPU set %#llx not usable here, not pinned", arch->vm_id,
				arch->vcpu_id, (unsigned long long)mask);
		else
			arch->pinned = true;
	}
	/* The kick signal must reach this thread: make sure it is not blocked here. */
	sigemptyset(&set);
	sigaddset(&set, x86_kvm_kick_signal());
	pthread_sigmask(SIG_UNBLOCK, &set, NULL);
	kick_lock(arch);
	arch->thread = (uintptr_t)pthread_self();
	arch->thread_valid = true;
	kick_unlock(arch);
	return 0;
}

void x86_kvm_forget_thread(struct vcpu_arch *arch)
{
	kick_lock(arch);
	arch->thread_valid = false;
	kick_unlock(arch);
}

int arch_vcpu_unbind(struct vcpu_arch *arch)
{
	x86_kvm_forget_thread(arch);
	if (arch->pinned) {
		arch->pinned = false;
		if (arch->saved_cpu_mask && hal_task_pin_self(arch->saved_cpu_mask) < 0)
			hal_log(HAL_LOG_WARN, "vm %u vcpu %u: could not unpin the thread", arch->vm_id, arch->vcpu_id);
	}
	return 0;
}

void x86_kvm_signal_thread(struct vcpu_arch *arch)
{
	kick_lock(arch);
	if (arch->thread_valid)
		pthread_kill((pthread_t)arch->thread, x86_kvm_kick_signal());
	kick_unlock(arch);
}

int arch_vcpu_set_gpr(struct vcpu_arch *arch, unsigned reg, uint64_t val)
{
	uint8_t *data;

	if (!arch->run)
		return -CV_EBADSTATE;
	/*
	 * After an IO_READ exit rax is the IN's destination: KVM merges the run area's data
	 * into rax at the next KVM_RUN (api.rst KVM_EXIT_IO), keeping rax's upper bytes for
	 * 1- and 2-byte reads as the CPU does (SDM Vol. 2A IN).
	 */
	if (reg == 0 && arch->pending == X86_KVM_PENDING_IO_IN) {
		data = (uint8_t *)arch->run + arch->run->io.data_offset;
		memcpy(data, &val, arch->pending_width);
		return 0;
	}
	if (reg == X86_KVM_REG_MMIO_DATA) {
		if (arch->pending != X86_KVM_PENDING_MMIO_IN)
			return -CV_EBADSTATE;
		memcpy(arch->run->mmio.data, &val, arch->pending_width);
		return 0;
	}
	if (reg == X86_KVM_REG_MSR_DATA) {
		if (arch->pending != X86_KVM_PENDING_MSR_IN)
			return -CV_EBADSTATE;
		arch->run->msr.data = val;
		return 0;
	}
	if (reg >= CV_ARRAY_SIZE(gpr_offset))
		return -CV_ERANGE;
	*(uint64_t *)((char *)&arch->run->s.regs.regs + gpr_offset[reg]) = val;
	arch->run->kvm_dirty_regs |= KVM_SYNC_X86_REGS;
	return 0;
}

int arch_vcpu_set_return_value(struct vcpu_arch *arch, uint64_t val)
{
	if (!arch->run)
		return -CV_EBADSTATE;
	/* The doorbell is an OUT: nothing else writes rax when KVM completes it. */
	arch->run->s.regs.regs.rax = val;
	arch->run->kvm_dirty_regs |= KVM_SYNC_X86_REGS;
	return 0;
}

int arch_vcpu_inject_interrupt(struct vcpu_arch *arch, uint32_t vector)
{
	/* Vectors 0-31 are exceptions (SDM Vol. 3A 6.2), not external interrupts. */
	if (vector < 32 || vector > 255)
		return -CV_ERANGE;
	if (!arch->run)
		return -CV_EBADSTATE;
	/* Queued here; run.c hands it to KVM_INTERRUPT when the guest can take it. */
	arch->irq_pending[vector / 64] |= 1ull << (vector % 64);
	return 0;
}

void arch_vcpu_destroy(struct vcpu_arch *arch)
{
	if (arch->run)
		munmap(arch->run, arch->run_size);
	if (arch->has_fd)
		close(arch->fd);
	arch->run = NULL;
	arch->has_fd = false;
	arch->fd = -1;
	arch->setup_done = false;
}
