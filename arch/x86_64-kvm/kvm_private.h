/* SPDX-License-Identifier: MIT */
/*
 * Internal interfaces between the files of the x86_64 KVM backend (not part of the arch
 * contract): each .c file has one job, this header is how they meet.
 *   vm.c        /dev/kvm, the VM fd, memslots
 *   vcpu.c      vCPU create / setup / bind / unbind / registers / destroy
 *   cpuid.c     the guest's CPUID table
 *   longmode.c  the boot area (GDT, TSS, identity page tables) and the long-mode entry state
 *   run.c       KVM_RUN, exit decoding, interrupt windows, the kick
 */
#ifndef CVISOR_X86_KVM_PRIVATE_H
#define CVISOR_X86_KVM_PRIVATE_H

#include <linux/kvm.h>

#include <cvisor/arch.h>
#include <cvisor/arch_vcpu.h>

/* A VM-wide spin lock for struct vm_arch's slot table (short critical sections only). */
void x86_kvm_vm_lock(struct vm_arch *vm);
void x86_kvm_vm_unlock(struct vm_arch *vm);

/* The host memory backing [gpa, gpa + len) inside one memslot, or NULL; call with the lock held. */
void *x86_kvm_gpa_to_host_locked(struct vm_arch *vm, uint64_t gpa, uint64_t len);

/* Adds a KVM memslot; the lock is held. own: the backend's pages, freed with the VM. */
int x86_kvm_add_slot_locked(struct vm_arch *vm, uint64_t gpa, void *host, uint64_t size, uint32_t flags, bool own);

/* Reads KVM_GET_SUPPORTED_CPUID into a new table; NULL on failure (logged). */
struct kvm_cpuid2 *x86_kvm_cpuid_supported(int kvm_fd);

/* Sets the vCPU's CPUID (KVM_SET_CPUID2) from the VM's table, with its own APIC id. */
int x86_kvm_cpuid_set(struct vcpu_arch *arch);

/* Writes and, if needed, maps the boot area of guest_abi.h once per VM. */
int x86_kvm_boot_area_prepare(struct vm_arch *vm);

/*
 * Puts the vCPU in the long-mode entry state at arch->entry (KVM_SET_SREGS, rip and
 * rflags). regs_too: also sets every general register (0, rsi = boot_arg): first entry.
 */
int x86_kvm_enter_long_mode(struct vcpu_arch *arch, bool regs_too);

/* Installs the kick signal's empty handler (once per process). */
int x86_kvm_kick_signal_init(void);

/* Sends the kick signal to the vCPU's bound thread, if any (vcpu.c owns the thread). */
void x86_kvm_signal_thread(struct vcpu_arch *arch);

/* Forgets the bound thread, so no later kick signals it (unbind, a failed run). */
void x86_kvm_forget_thread(struct vcpu_arch *arch);

/* The real-time signal that kicks a vCPU thread out of KVM_RUN. */
int x86_kvm_kick_signal(void);

#endif /* CVISOR_X86_KVM_PRIVATE_H */
