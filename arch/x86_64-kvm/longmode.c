/* SPDX-License-Identifier: MIT */
/*
 * The x86 analogue of arm_vcpu's init_vm_context: a vCPU starts directly in 64-bit long
 * mode, as if firmware had done the switch of Intel SDM Vol. 3A 10.8.5 ("Initializing
 * IA-32e Mode"): CR0.PE+PG, CR4.PAE, EFER.LME+LMA, CR3 on identity page tables, CS a
 * 64-bit code segment. The tables, the GDT and a TSS live in the boot area whose layout
 * guest_abi.h fixes; the registers are set with KVM_SET_SREGS and through the sync-regs
 * copy in kvm_run (api.rst 4.12, KVM_CAP_SYNC_REGS).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <string.h>
#include <sys/ioctl.h>

#include <cvisor/errors.h>
#include <cvisor/guest_abi.h>
#include <cvisor/hal.h>

#include "kvm_private.h"

#define PAGE_SIZE 4096u

/* Control-register bits (SDM Vol. 3A 2.5, 2.2.1 for EFER). */
#define CR0_PE	       (1ull << 0)
#define CR0_MP	       (1ull << 1)
#define CR0_ET	       (1ull << 4)
#define CR0_NE	       (1ull << 5)
#define CR0_WP	       (1ull << 16)
#define CR0_PG	       (1ull << 31)
#define CR4_PAE	       (1ull << 5)
#define CR4_OSFXSR     (1ull << 9) /* the guest may use SSE (compilers emit it) */
#define CR4_OSXMMEXCPT (1ull << 10)
#define EFER_LME       (1ull << 8)
#define EFER_LMA       (1ull << 10)

/* Page-table entry bits (SDM Vol. 3A 4.5). */
#define PTE_P  (1ull << 0)
#define PTE_RW (1ull << 1)
#define PTE_A  (1ull << 5)
#define PTE_D  (1ull << 6) /* in a PDE that maps a page */
#define PTE_PS (1ull << 7) /* in a PDE: a 2 MiB page */

#define TSS_LIMIT 0x67u /* a 64-bit TSS is 104 bytes (SDM Vol. 3A 8.7) */

/* Segment descriptors (SDM Vol. 3A 3.4.5): base 0, limit 0xfffff, G = 1, accessed set. */
#define DESC_CODE64	  0x00af9b000000ffffull /* P, DPL 0, S, type 0xb (execute/read), L = 1 */
#define DESC_DATA	  0x00cf93000000ffffull /* P, DPL 0, S, type 0x3 (read/write), D/B = 1 */
#define SEG_TYPE_TSS_BUSY 0xbu			/* 64-bit TSS, busy: what TR must hold (SDM 3A 28.3.1.2) */

/* The GDT's five 8-byte slots: null, code64, data, and the 16-byte TSS descriptor. */
#define GDT_BYTES 40u

_Static_assert(CV_X86_GDT_GPA == CV_X86_BOOT_AREA_GPA, "the GDT opens the boot area");
_Static_assert(CV_X86_PD_GPA + 4 * PAGE_SIZE <= CV_X86_BOOT_AREA_GPA + CV_X86_BOOT_AREA_SIZE,
	       "the page directories fit the boot area");
_Static_assert(CV_X86_TSS_GPA + TSS_LIMIT < CV_X86_PML4_GPA, "the TSS fits before the PML4");
_Static_assert(CV_X86_IDENTITY_MAP_SIZE == 4ull * 512 * (2u << 20), "4 page directories of 2 MiB pages");
_Static_assert(CV_X86_SEL_TSS / 8 * 8 + 16 <= GDT_BYTES, "the TSS descriptor is inside the GDT");

/* Fills the boot area image at host address area (CV_X86_BOOT_AREA_SIZE bytes). */
static void write_boot_area(uint8_t *area)
{
	uint64_t *gdt = (uint64_t *)(area + (CV_X86_GDT_GPA - CV_X86_BOOT_AREA_GPA));
	uint64_t *pml4 = (uint64_t *)(area + (CV_X86_PML4_GPA - CV_X86_BOOT_AREA_GPA));
	uint64_t *pdpt = (uint64_t *)(area + (CV_X86_PDPT_GPA - CV_X86_BOOT_AREA_GPA));
	uint64_t *pd = (uint64_t *)(area + (CV_X86_PD_GPA - CV_X86_BOOT_AREA_GPA));
	uint64_t tss = CV_X86_TSS_GPA;
	unsigned i;

	memset(area, 0, CV_X86_BOOT_AREA_SIZE);
	gdt[0] = 0;
	gdt[CV_X86_SEL_CODE64 / 8] = DESC_CODE64;
	gdt[CV_X86_SEL_DATA / 8] = DESC_DATA;
	/* A system descriptor is 16 bytes in IA-32e mode (SDM Vol. 3A 8.2.3). */
	gdt[CV_X86_SEL_TSS / 8] = TSS_LIMIT | (tss & 0xffffff) << 16 | (uint64_t)(0x80u | SEG_TYPE_TSS_BUSY) << 40 |
				  ((tss >> 24) & 0xff) << 56;
	gdt[CV_X86_SEL_TSS / 8 + 1] = tss >> 32;
	/* The TSS stays zero: no stack switch, no I/O bitmap (its base lies past the limit). */
	area[CV_X86_TSS_GPA - CV_X86_BOOT_AREA_GPA + 0x66] = TSS_LIMIT + 1;

	/*
	 * Accessed and Dirty are set from the start (software may, SDM Vol. 3A 4.8): the CPU
	 * never writes to these tables then, and a shadow MMU (PVM) has no A/D updates to
	 * emulate.
	 */
	pml4[0] = CV_X86_PDPT_GPA | PTE_P | PTE_RW | PTE_A;
	for (i = 0; i < 4; i++)
		pdpt[i] = (CV_X86_PD_GPA + i * PAGE_SIZE) | PTE_P | PTE_RW | PTE_A;
	for (i = 0; i < 4 * 512; i++)
		pd[i] = ((uint64_t)i << 21) | PTE_P | PTE_RW | PTE_A | PTE_D | PTE_PS;
}

int x86_kvm_boot_area_prepare(struct vm_arch *vm)
{
	void *area;
	int ret = 0;

	x86_kvm_vm_lock(vm);
	if (vm->boot_ready)
		goto out;
	area = x86_kvm_gpa_to_host_locked(vm, CV_X86_BOOT_AREA_GPA, CV_X86_BOOT_AREA_SIZE);
	if (area) {
		/* The VM's RAM covers the area (arch_vm_map refuses a partial cover). */
		write_boot_area(area);
	} else {
		area = hal_alloc_pages(CV_X86_BOOT_AREA_SIZE / PAGE_SIZE);
		if (!area) {
			ret = -CV_ENOMEM;
			goto out;
		}
		write_boot_area(area);
		ret = x86_kvm_add_slot_locked(vm, CV_X86_BOOT_AREA_GPA, area, CV_X86_BOOT_AREA_SIZE,
					      CV_MAP_READ | CV_MAP_WRITE | CV_MAP_EXEC, true);
		if (ret < 0) {
			hal_free_pages(area, CV_X86_BOOT_AREA_SIZE / PAGE_SIZE);
			goto out;
		}
	}
	vm->boot_ready = true;
out:
	x86_kvm_vm_unlock(vm);
	return ret;
}

static struct kvm_segment flat_segment(uint16_t sel, bool code)
{
	struct kvm_segment s;

	memset(&s, 0, sizeof(s));
	s.base = 0;
	s.limit = 0xffffffffu;
	s.selector = sel;
	s.present = 1;
	s.dpl = 0;
	s.s = 1;
	s.g = 1;
	if (code) {
		s.type = 0xb; /* execute/read, accessed */
		s.l = 1;      /* 64-bit code: L = 1 requires D = 0 (SDM Vol. 3A 5.2.1) */
	} else {
		s.type = 0x3; /* read/write, accessed */
		s.db = 1;
	}
	return s;
}

int x86_kvm_enter_long_mode(struct vcpu_arch *arch, bool regs_too)
{
	struct kvm_sregs sregs;
	struct kvm_regs *regs = &arch->run->s.regs.regs;

	if (ioctl(arch->fd, KVM_GET_SREGS, &sregs) < 0)
		goto fail;
	sregs.cs = flat_segment(CV_X86_SEL_CODE64, true);
	sregs.ds = sregs.es = sregs.fs = sregs.gs = sregs.ss = flat_segment(CV_X86_SEL_DATA, false);
	memset(&sregs.tr, 0, sizeof(sregs.tr));
	sregs.tr.base = CV_X86_TSS_GPA;
	sregs.tr.limit = TSS_LIMIT;
	sregs.tr.selector = CV_X86_SEL_TSS;
	sregs.tr.type = SEG_TYPE_TSS_BUSY;
	sregs.tr.present = 1;
	memset(&sregs.ldt, 0, sizeof(sregs.ldt));
	sregs.ldt.type = 0x2; /* LDT; selector 0: none loaded */
	sregs.ldt.present = 1;
	sregs.ldt.limit = 0xffff;
	sregs.gdt.base = CV_X86_GDT_GPA;
	sregs.gdt.limit = GDT_BYTES - 1;
	/* No IDT until the guest loads one: any exception then ends in a triple fault. */
	sregs.idt.base = 0;
	sregs.idt.limit = 0;
	sregs.cr0 = CR0_PE | CR0_MP | CR0_ET | CR0_NE | CR0_WP | CR0_PG;
	sregs.cr2 = 0;
	sregs.cr3 = CV_X86_PML4_GPA;
	sregs.cr4 = CR4_PAE | CR4_OSFXSR | CR4_OSXMMEXCPT;
	sregs.efer = EFER_LME | EFER_LMA;
	/* A reset drops an interrupt queued by KVM_INTERRUPT (api.rst 4.14, interrupt_bitmap). */
	memset(sregs.interrupt_bitmap, 0, sizeof(sregs.interrupt_bitmap));
	if (ioctl(arch->fd, KVM_SET_SREGS, &sregs) < 0)
		goto fail;

	/*
	 * run->s.regs.regs is the authoritative copy of the general registers from setup on:
	 * KVM refreshes it at every exit and loads it at the next KVM_RUN when marked dirty.
	 */
	if (regs_too) {
		memset(regs, 0, sizeof(*regs));
		regs->rsi = arch->boot_arg;
	}
	regs->rip = arch->entry.v;
	regs->rflags = 0x2; /* bit 1 is reserved and set; IF clear */
	arch->run->kvm_dirty_regs |= KVM_SYNC_X86_REGS;
	memset(arch->irq_pending, 0, sizeof(arch->irq_pending));
	arch->run->request_interrupt_window = 0;
	return 0;

fail:
	hal_log(HAL_LOG_ERROR, "vm %u vcpu %u: long-mode entry state: %s", arch->vm_id, arch->vcpu_id, strerror(errno));
	return -CV_EIO;
}
