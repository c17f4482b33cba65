/* SPDX-License-Identifier: MIT */
/*
 * The guest ABI, one for every arch (DESIGN.md "Guest ABI"): PSCI 1.0 function IDs and
 * results (Arm DEN0022), cvisor's own hypercall IDs, and the x86 hypercall doorbell.
 * Shared by the VMM, the backends and the test guests: plain C, no cvisor includes,
 * usable from guest code built freestanding.
 */
#ifndef CVISOR_GUEST_ABI_H
#define CVISOR_GUEST_ABI_H

/* PSCI function IDs (DEN0022 5.1). 0x84... are SMC32, 0xC4... SMC64. */
#define PSCI_0_2_FN_BASE 0x84000000u
#define PSCI_0_2_FN64_BASE 0xC4000000u
#define PSCI_FN_COUNT 0x20u /* IDs base..base+0x1f belong to PSCI */
#define PSCI_VERSION 0x84000000u
#define PSCI_CPU_SUSPEND 0x84000001u
#define PSCI_CPU_SUSPEND_64 0xC4000001u
#define PSCI_CPU_OFF 0x84000002u
#define PSCI_CPU_ON 0x84000003u
#define PSCI_CPU_ON_64 0xC4000003u
#define PSCI_AFFINITY_INFO 0x84000004u
#define PSCI_AFFINITY_INFO_64 0xC4000004u
#define PSCI_MIGRATE_INFO_TYPE 0x84000006u
#define PSCI_SYSTEM_OFF 0x84000008u
#define PSCI_SYSTEM_RESET 0x84000009u
#define PSCI_FEATURES 0x8400000Au

/* SMCCC architecture calls (owner 0): answered NOT_SUPPORTED. */
#define SMCCC_ARCH_BASE 0x80000000u
#define SMCCC_ARCH_END 0x8000FFFFu

/* PSCI return codes (DEN0022 5.2.2), as the signed values the guest sees. */
#define PSCI_RET_SUCCESS 0
#define PSCI_RET_NOT_SUPPORTED (-1)
#define PSCI_RET_INVALID_PARAMETERS (-2)
#define PSCI_RET_DENIED (-3)
#define PSCI_RET_ALREADY_ON (-4)
#define PSCI_RET_ON_PENDING (-5)
#define PSCI_RET_INTERNAL_FAILURE (-6)
#define PSCI_RET_NOT_PRESENT (-7)
#define PSCI_RET_DISABLED (-8)
#define PSCI_RET_INVALID_ADDRESS (-9)

/* PSCI_VERSION answer: major 1, minor 0. */
#define PSCI_VERSION_1_0 0x00010000u

/* AFFINITY_INFO results. */
#define PSCI_AFFINITY_ON 0
#define PSCI_AFFINITY_OFF 1
#define PSCI_AFFINITY_ON_PENDING 2

/* MIGRATE_INFO_TYPE: 2 = no Trusted OS, no migration needed. */
#define PSCI_MIGRATE_INFO_NO_TOS 2

/*
 * cvisor's hypercalls: SMCCC fast calls, SMC64, owner 6 (vendor-specific hypervisor
 * service), so they fall outside the PSCI and SMCCC-architecture ranges and reach the VMM
 * as HYPERCALL exits. Unknown numbers are answered CV_HC_RET_UNKNOWN.
 */
#define CV_HC_BASE 0xC6000000u
#define CV_HC_BARRIER 0xC6000001u  /* wait until every online vCPU of the VM has called it */
#define CV_HC_TEST_SUM 0xC6000002u /* returns the sum of the six arguments (tests) */
#define CV_HC_RET_UNKNOWN (-1)

/*
 * x86_64 under KVM: vmcall never reaches user space, so the hypercall instruction is
 * `out %eax, $CV_X86_HC_PORT` (the immediate form, so rdx stays free for an argument).
 * Function ID in rax, arguments in rdi, rsi, rdx, rcx, r8, r9, result in rax.
 */
#define CV_X86_HC_PORT 0xE0u

/*
 * CPU ids in the guest ABI (CPU_ON's target, AFFINITY_INFO, SEND_IPI) are MPIDR affinity
 * values on every arch: vCPU n is Aff1 = n / 16, Aff0 = n % 16 (DESIGN.md), so vCPUs 0-15
 * are simply 0-15. Only the affinity fields count: (id & 0xff00ffffff).
 */
#define CV_CPU_ID_AFF_MASK 0xff00ffffffull
static inline unsigned long long cv_vcpu_to_cpu_id(unsigned n)
{
	return ((unsigned long long)(n / 16u) << 8) | (n % 16u);
}
/* vCPU index of a CPU id, or -1 when it names no vCPU (Aff0 >= 16, Aff2/Aff3 set). */
static inline long cv_cpu_id_to_vcpu(unsigned long long id)
{
	id &= CV_CPU_ID_AFF_MASK;
	if ((id & 0xff) >= 16 || (id >> 16) != 0)
		return -1;
	return (long)((id >> 8) * 16 + (id & 0xff));
}

/* The 16550A console port of x86 guests. */
#define CV_X86_COM1_PORT 0x3F8u

/*
 * x86_64 guest-physical layout of the hosted KVM backend. A vCPU starts in 64-bit long
 * mode (Intel SDM Vol. 3A 9.8.5: CR0.PG+PE, CR4.PAE, EFER.LME/LMA, a 64-bit code segment)
 * with paging through identity page tables, so [0, CV_X86_IDENTITY_MAP_SIZE) reads as
 * physical memory. The backend writes the GDT, a TSS and those tables into the boot area:
 * into the VM's RAM when one of its regions covers the whole area, else into pages of its
 * own mapped there. A guest region that covers only part of the area is refused. The
 * guest may replace all of it (lgdt, mov cr3) once running.
 */
#define CV_X86_BOOT_AREA_GPA 0x8000u   /* page aligned, below 1 MiB */
#define CV_X86_BOOT_AREA_SIZE 0x8000u  /* 8 pages */
#define CV_X86_GDT_GPA 0x8000u         /* the GDT: null, code64, data, TSS (16 bytes) */
#define CV_X86_TSS_GPA 0x8800u         /* a 104-byte 64-bit TSS (SDM 3A 8.7) */
#define CV_X86_PML4_GPA 0x9000u        /* CR3 */
#define CV_X86_PDPT_GPA 0xA000u        /* 4 entries, each to one page directory */
#define CV_X86_PD_GPA 0xB000u          /* 4 page directories of 2 MiB pages: 0xB000-0xEFFF */
#define CV_X86_IDENTITY_MAP_SIZE 0x100000000ull /* [0, 4 GiB) mapped 1:1, writable, 2 MiB pages */
#define CV_X86_SEL_CODE64 0x08u        /* CS at entry: 64-bit, DPL 0 */
#define CV_X86_SEL_DATA 0x10u          /* DS, ES, SS, FS, GS at entry: flat read/write */
#define CV_X86_SEL_TSS 0x18u           /* TR at entry */

/*
 * Where flat x86_64 guest images (guests/x86_64/) are linked, loaded and entered. At
 * first entry: rip = entry, rsi = the VM's boot argument, rflags = 0x2 (interrupts off),
 * the other general registers 0. A vCPU started by PSCI CPU_ON enters at its entry in
 * the same long-mode state with its context id in rax; as in PSCI (DEN0022 6.4), its
 * other general registers are unknown.
 */
#define CV_X86_GUEST_LOAD_GPA 0x100000u

#endif /* CVISOR_GUEST_ABI_H */
