/* SPDX-License-Identifier: MIT */
/*
 * The per-VM part of the x86_64 KVM backend: /dev/kvm, KVM_CREATE_VM and the guest
 * memory map as KVM memslots (KVM api.rst 4.2 KVM_CREATE_VM, 4.35 KVM_SET_USER_MEMORY_REGION).
 *
 * Locking: vm->lock (a spin lock, leaf) protects the slot table and the boot-area flag;
 * it is taken by arch_vm_map and by the first vCPU setup, never across a blocking call
 * other than the memslot ioctl itself.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include <cvisor/errors.h>
#include <cvisor/guest_abi.h>
#include <cvisor/hal.h>

#include "kvm_private.h"

#define PAGE_SIZE 4096ull

void x86_kvm_vm_lock(struct vm_arch *vm)
{
	while (atomic_flag_test_and_set_explicit(&vm->lock, memory_order_acquire))
		__builtin_ia32_pause();
}

void x86_kvm_vm_unlock(struct vm_arch *vm)
{
	atomic_flag_clear_explicit(&vm->lock, memory_order_release);
}

/* KVM's capability check: the value, 0 when absent, negative when the ioctl failed. */
static int check_cap(int fd, long cap)
{
	return ioctl(fd, KVM_CHECK_EXTENSION, cap);
}

/*
 * RDMSR / WRMSR of an MSR KVM does not implement exit to user space instead of raising
 * #GP in the guest (api.rst 7.21 KVM_CAP_X86_USER_SPACE_MSR), so the VM's system-register
 * bus sees them as SYSREG exits. Optional: without it, such accesses #GP as before.
 */
static void enable_user_msrs(struct vm_arch *vm)
{
	struct kvm_enable_cap cap;

	if (check_cap(vm->vm_fd, KVM_CAP_X86_USER_SPACE_MSR) <= 0)
		return;
	memset(&cap, 0, sizeof(cap));
	cap.cap = KVM_CAP_X86_USER_SPACE_MSR;
	cap.args[0] = KVM_MSR_EXIT_REASON_UNKNOWN;
	vm->user_msrs = ioctl(vm->vm_fd, KVM_ENABLE_CAP, &cap) == 0;
}

int arch_vm_create(struct vm_arch *vm, uint32_t vm_id)
{
	int ret, n;

	if (!vm)
		return -CV_EINVAL;
	memset(vm, 0, sizeof(*vm));
	vm->kvm_fd = -1;
	vm->vm_fd = -1;
	vm->vm_id = vm_id;
	atomic_flag_clear(&vm->lock);

	vm->kvm_fd = open("/dev/kvm", O_RDWR | O_CLOEXEC);
	if (vm->kvm_fd < 0) {
		ret = errno == ENOENT ? -CV_ENOTSUP : -CV_EIO;
		hal_log(HAL_LOG_ERROR, "vm %u: cannot open /dev/kvm: %s", vm_id, strerror(errno));
		goto fail;
	}
	/* api.rst 4.1: 12 is the only stable API version. */
	n = ioctl(vm->kvm_fd, KVM_GET_API_VERSION, 0);
	if (n != KVM_API_VERSION) {
		hal_log(HAL_LOG_ERROR, "vm %u: KVM API version %d, need %d", vm_id, n, KVM_API_VERSION);
		ret = -CV_ENOTSUP;
		goto fail;
	}
	/*
	 * What the backend relies on: user memory slots, immediate_exit for the kick
	 * (api.rst 8.x KVM_CAP_IMMEDIATE_EXIT) and the general registers in kvm_run on every
	 * exit (KVM_CAP_SYNC_REGS returns the supported KVM_SYNC_X86_* mask).
	 */
	if (check_cap(vm->kvm_fd, KVM_CAP_USER_MEMORY) <= 0 || check_cap(vm->kvm_fd, KVM_CAP_IMMEDIATE_EXIT) <= 0 ||
	    !(check_cap(vm->kvm_fd, KVM_CAP_SYNC_REGS) & KVM_SYNC_X86_REGS)) {
		hal_log(HAL_LOG_ERROR, "vm %u: KVM lacks user memory, immediate_exit or sync regs", vm_id);
		ret = -CV_ENOTSUP;
		goto fail;
	}
	vm->readonly_mem = check_cap(vm->kvm_fd, KVM_CAP_READONLY_MEM) > 0;
	n = ioctl(vm->kvm_fd, KVM_GET_VCPU_MMAP_SIZE, 0);
	if (n < (int)sizeof(struct kvm_run)) {
		hal_log(HAL_LOG_ERROR, "vm %u: KVM_GET_VCPU_MMAP_SIZE: %d", vm_id, n);
		ret = -CV_EIO;
		goto fail;
	}
	vm->run_size = (size_t)n;
	vm->cpuid = x86_kvm_cpuid_supported(vm->kvm_fd);
	if (!vm->cpuid) {
		ret = -CV_EIO;
		goto fail;
	}
	vm->vm_fd = ioctl(vm->kvm_fd, KVM_CREATE_VM, 0);
	if (vm->vm_fd < 0) {
		hal_log(HAL_LOG_ERROR, "vm %u: KVM_CREATE_VM: %s", vm_id, strerror(errno));
		ret = -CV_EIO;
		goto fail;
	}
	enable_user_msrs(vm);
	ret = x86_kvm_kick_signal_init();
	if (ret < 0)
		goto fail;
	vm->live = true;
	return 0;

fail:
	if (vm->vm_fd >= 0)
		close(vm->vm_fd);
	free(vm->cpuid);
	if (vm->kvm_fd >= 0)
		close(vm->kvm_fd);
	vm->cpuid = NULL;
	vm->vm_fd = vm->kvm_fd = -1;
	return ret;
}

void *x86_kvm_gpa_to_host_locked(struct vm_arch *vm, uint64_t gpa, uint64_t len)
{
	unsigned i;

	for (i = 0; i < vm->nslots; i++) {
		struct x86_kvm_slot *s = &vm->slots[i];

		if (cv_range_within(s->gpa, s->size, gpa, len))
			return (char *)s->host + (gpa - s->gpa);
	}
	return NULL;
}

static bool overlaps(uint64_t a, uint64_t alen, uint64_t b, uint64_t blen)
{
	return a < b + blen && b < a + alen;
}

int x86_kvm_add_slot_locked(struct vm_arch *vm, uint64_t gpa, void *host, uint64_t size, uint32_t flags, bool own)
{
	struct kvm_userspace_memory_region region;
	unsigned i;

	for (i = 0; i < vm->nslots; i++)
		if (overlaps(gpa, size, vm->slots[i].gpa, vm->slots[i].size))
			return -CV_EEXIST;
	if (vm->nslots == X86_KVM_MAX_SLOTS)
		return -CV_ENOMEM;
	memset(&region, 0, sizeof(region));
	region.slot = vm->nslots;
	region.guest_phys_addr = gpa;
	region.memory_size = size;
	region.userspace_addr = (uint64_t)(uintptr_t)host;
	/*
	 * A mapping without CV_MAP_WRITE is a read-only slot: the guest's writes become MMIO
	 * exits (api.rst KVM_MEM_READONLY). x86 memslots cannot forbid execution.
	 */
	if (!(flags & CV_MAP_WRITE))
		region.flags |= KVM_MEM_READONLY;
	if (ioctl(vm->vm_fd, KVM_SET_USER_MEMORY_REGION, &region) < 0) {
		hal_log(HAL_LOG_ERROR, "vm %u: KVM_SET_USER_MEMORY_REGION gpa %#llx size %#llx: %s", vm->vm_id,
			(unsigned long long)gpa, (unsigned long long)size, strerror(errno));
		return -CV_EIO;
	}
	vm->slots[vm->nslots++] = (struct x86_kvm_slot){gpa, size, host, flags, own};
	return 0;
}

int arch_vm_map(struct vm_arch *vm, gpa_t gpa, void *host, uint64_t size, uint32_t flags)
{
	uint64_t boot_end = CV_X86_BOOT_AREA_GPA + CV_X86_BOOT_AREA_SIZE;
	int ret;

	if (!vm || !vm->live || !host)
		return -CV_EINVAL;
	if (size == 0 || (gpa.v | size | (uint64_t)(uintptr_t)host) & (PAGE_SIZE - 1) || gpa.v + size < gpa.v)
		return -CV_EINVAL;
	if (!(flags & (CV_MAP_READ | CV_MAP_WRITE | CV_MAP_EXEC)))
		return -CV_EINVAL;
	if (!(flags & CV_MAP_WRITE) && !vm->readonly_mem) {
		hal_log(HAL_LOG_ERROR, "vm %u: read-only mapping at %#llx: KVM lacks KVM_CAP_READONLY_MEM", vm->vm_id,
			(unsigned long long)gpa.v);
		return -CV_ENOTSUP;
	}
	x86_kvm_vm_lock(vm);
	/*
	 * The boot area (guest_abi.h) must lie wholly inside one region or outside all of
	 * them: the backend writes its tables into that region, or maps its own pages.
	 */
	if (overlaps(gpa.v, size, CV_X86_BOOT_AREA_GPA, CV_X86_BOOT_AREA_SIZE) &&
	    !(gpa.v <= CV_X86_BOOT_AREA_GPA && gpa.v + size >= boot_end))
		ret = -CV_EEXIST;
	else if (vm->boot_ready && overlaps(gpa.v, size, CV_X86_BOOT_AREA_GPA, CV_X86_BOOT_AREA_SIZE))
		ret = -CV_EEXIST; /* the tables are already in place elsewhere */
	else
		ret = x86_kvm_add_slot_locked(vm, gpa.v, host, size, flags, false);
	x86_kvm_vm_unlock(vm);
	return ret;
}

/*
 * KVM keeps the guest's second-stage tables in the kernel: the "root" handed to the
 * vCPUs is the VM's own arch state, which set_ept_root checks against the vCPU's VM.
 */
hpa_t arch_vm_ept_root(const struct vm_arch *vm)
{
	return hpa((uint64_t)(uintptr_t)vm);
}

void arch_vm_destroy(struct vm_arch *vm)
{
	unsigned i;

	if (!vm || !vm->live)
		return;
	/* Closing the VM fd drops every memslot before their memory is freed. */
	close(vm->vm_fd);
	for (i = 0; i < vm->nslots; i++)
		if (vm->slots[i].own)
			hal_free_pages(vm->slots[i].host, vm->slots[i].size / PAGE_SIZE);
	free(vm->cpuid);
	close(vm->kvm_fd);
	vm->nslots = 0;
	vm->cpuid = NULL;
	vm->vm_fd = vm->kvm_fd = -1;
	vm->live = false;
}

/* KVM needs no per-CPU enable: the kernel module owns VMX/SVM/PVM. */
int arch_percpu_hardware_enable(unsigned cpu)
{
	(void)cpu;
	return 0;
}

void arch_percpu_hardware_disable(unsigned cpu)
{
	(void)cpu;
}
