/* SPDX-License-Identifier: MIT */
/*
 * The x86_64 KVM backend's vCPU and VM state, embedded by value in struct vcpu and in
 * the VM. core/ sees this header only as a complete type: the KVM structures stay in
 * the backend's .c files (<linux/kvm.h> is not included here), the kvm_run mapping is an
 * opaque pointer, and the host thread is kept as an integer.
 */
#ifndef CVISOR_ARCH_VCPU_H
#define CVISOR_ARCH_VCPU_H

#include <stdatomic.h>

#include <cvisor/arch.h>
#include <cvisor/types.h>

struct kvm_run;	   /* <linux/kvm.h>: the vCPU's shared run area, mmap()ed from its fd */
struct kvm_cpuid2; /* <linux/kvm.h>: the CPUID table of KVM_GET_SUPPORTED_CPUID */

/* Memslots per VM: cvisor's own bound, far below KVM's (KVM_CAP_NR_MEMSLOTS). */
#define X86_KVM_MAX_SLOTS 32

/*
 * The pseudo-register an MMIO_READ exit names: KVM emulates the load itself and takes the
 * value from kvm_run->mmio.data, so set_gpr(X86_KVM_REG_MMIO_DATA, v) writes there
 * (api.rst, KVM_EXIT_MMIO). Outside the real register numbers 0-15.
 */
#define X86_KVM_REG_MMIO_DATA 16u

/*
 * The pseudo-register a SYSREG_READ exit (RDMSR of an MSR KVM does not know) names:
 * set_gpr(X86_KVM_REG_MSR_DATA, v) writes kvm_run->msr.data, which KVM puts in edx:eax
 * (api.rst KVM_EXIT_X86_RDMSR).
 */
#define X86_KVM_REG_MSR_DATA 17u

struct x86_kvm_slot {
	uint64_t gpa;
	uint64_t size;
	void *host;
	uint32_t flags; /* CV_MAP_* */
	bool own;	/* the backend's boot-area pages, freed with the VM */
};

struct vm_arch {
	bool live;  /* arch_vm_create succeeded and arch_vm_destroy has not run */
	int kvm_fd; /* /dev/kvm */
	int vm_fd;  /* KVM_CREATE_VM */
	uint32_t vm_id;
	size_t run_size;	  /* KVM_GET_VCPU_MMAP_SIZE */
	bool readonly_mem;	  /* KVM_CAP_READONLY_MEM: mappings without CV_MAP_WRITE work */
	bool user_msrs;		  /* KVM_CAP_X86_USER_SPACE_MSR on: unknown MSRs are SYSREG exits */
	struct kvm_cpuid2 *cpuid; /* supported CPUID, the base of every vCPU's table */
	/*
	 * lock protects slots, nslots and boot_ready: arch_vm_map and the first
	 * arch_vcpu_setup may run on different threads. A leaf lock, never held across
	 * anything that sleeps long.
	 */
	atomic_flag lock;
	unsigned nslots;
	struct x86_kvm_slot slots[X86_KVM_MAX_SLOTS];
	bool boot_ready; /* the boot area (guest_abi.h) is written and mapped */
};

/* What the last exit left for set_gpr / set_return_value to complete (api.rst: KVM_RUN). */
enum x86_kvm_pending {
	X86_KVM_PENDING_NONE,
	X86_KVM_PENDING_IO_IN,	 /* set_gpr(0, v): v goes to the run area's I/O data */
	X86_KVM_PENDING_MMIO_IN, /* set_gpr(X86_KVM_REG_MMIO_DATA, v): v goes to run->mmio.data */
	X86_KVM_PENDING_MSR_IN,	 /* set_gpr(X86_KVM_REG_MSR_DATA, v): v goes to run->msr.data */
};

struct vcpu_arch {
	bool has_fd;	     /* fd is open (create got that far) */
	bool setup_done;     /* arch_vcpu_setup succeeded */
	int fd;		     /* KVM_CREATE_VCPU */
	struct kvm_run *run; /* mmap of fd, run_size bytes; NULL when not mapped */
	size_t run_size;
	struct vm_arch *vm;
	uint32_t vm_id;
	uint32_t vcpu_id;
	uint64_t boot_arg; /* rsi at the first entry */
	gpa_t entry;
	enum x86_kvm_pending pending;
	unsigned pending_width;	 /* bytes of the pending IO_IN / MMIO_IN */
	uint64_t irq_pending[4]; /* vectors 0-255 waiting for an interrupt window */
	/*
	 * The kick: kick_lock guards thread/thread_valid, so that a kick from another thread
	 * never signals a thread that has unbound (and may be gone). A leaf lock.
	 */
	atomic_flag kick_lock;
	bool thread_valid;
	uintptr_t thread;	 /* pthread_t of the bound thread */
	bool pinned;		 /* bind restricted the thread's CPUs; unbind restores them */
	uint64_t saved_cpu_mask; /* the thread's CPUs before bind (0: unknown) */
};

#endif /* CVISOR_ARCH_VCPU_H */
