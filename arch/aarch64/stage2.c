/* SPDX-License-Identifier: MIT */
/*
 * Stage-2 translation (ARM ARM D8, "VMSAv8-64 translation"): 4 KiB granule, page
 * mappings at level 3, tables allocated on demand. The IPA size follows
 * ID_AA64MMFR0_EL1.PARange, clamped to 48 bits: 52-bit output needs LPA2 descriptors
 * with a 4 KiB granule, which we do not use (-cpu max reports 52 bits; HOST-NOTES.md).
 * Regions the VMM does not map (device windows) fault to EL2 and become MMIO exits.
 */
#include <stdatomic.h>

#include <cvisor/arch.h>
#include <cvisor/arch_vcpu.h>
#include <cvisor/errors.h>
#include <cvisor/hal.h>

#include "sysreg.h"

#define PTE_VALID		(1ull << 0)
#define PTE_TABLE		(1ull << 1) /* table at levels 0-2, page at level 3 */
#define PTE_ADDR_MASK		0x0000fffffffff000ull
#define S2_MEMATTR_NORMAL_WB	(0xfull << 2) /* MemAttr[3:0] = 0b1111, HCR_EL2.FWB = 0 */
#define S2_MEMATTR_DEVICE_nGnRE (0x1ull << 2)
#define S2_AP_R			(1ull << 6)
#define S2_AP_W			(1ull << 7)
#define S2_SH_INNER		(3ull << 8)
#define S2_AF			(1ull << 10)
#define S2_XN			(1ull << 54)

/*
 * VMIDs (VTTBR_EL2.VMID, ARM ARM D8.13 "Translation Lookaside Buffers"): one per live VM,
 * freed in arch_vm_destroy once the VM's TLB entries are gone, so a guest that resets
 * forever (a new VM each boot) never runs out. 16 bits when ID_AA64MMFR1_EL1.VMIDBits
 * says so (VTCR_EL2.VS = 1), else 8. VMID 0 is never handed out: it is VTTBR_EL2's value
 * while no VM has run on a CPU.
 */
#define VMID_MAX_16 65536u
static _Atomic uint64_t vmid_map[VMID_MAX_16 / 64];

static bool vmid_16bit(void)
{
	/* ID_AA64MMFR1_EL1.VMIDBits, bits [7:4]: 0b0010 = 16-bit VMIDs supported. */
	return (read_sysreg(id_aa64mmfr1_el1) >> 4 & 0xf) == 2;
}

/* A free VMID in [1, limit), or 0 when every one is in use. */
static unsigned vmid_alloc(unsigned limit)
{
	for (unsigned w = 0; w < limit / 64; w++) {
		uint64_t cur = atomic_load(&vmid_map[w]);

		if (w == 0)
			cur |= 1; /* VMID 0 stays reserved */
		while (~cur) {
			unsigned bit = (unsigned)__builtin_ctzll(~cur);
			uint64_t was = atomic_fetch_or(&vmid_map[w], 1ull << bit);

			if (!(was & 1ull << bit))
				return w * 64 + bit;
			cur = was | (w == 0);
		}
	}
	return 0;
}

static void vmid_free(unsigned vmid)
{
	if (vmid && vmid < VMID_MAX_16)
		atomic_fetch_and(&vmid_map[vmid / 64], ~(1ull << (vmid % 64)));
}

int arch_vm_create(struct vm_arch *vm, uint32_t vm_id)
{
	static const unsigned pa_bits[] = {32, 36, 40, 42, 44, 48};
	unsigned parange = (unsigned)(read_sysreg(id_aa64mmfr0_el1) & 0xf), vmid, t0sz, sl0;
	bool vs16;

	if (!vm)
		return -CV_EINVAL;
	vs16 = vmid_16bit();
	vmid = vmid_alloc(vs16 ? VMID_MAX_16 : 256);
	if (!vmid)
		return -CV_EBUSY; /* every VMID belongs to a live VM */
	if (parange >= CV_ARRAY_SIZE(pa_bits))
		parange = CV_ARRAY_SIZE(pa_bits) - 1; /* 52 bits (and reserved values) -> 48 */
	vm->ipa_bits = pa_bits[parange];
	t0sz = 64 - vm->ipa_bits;
	/* 4 KiB granule: start at level 0 for IPAs over 39 bits (SL0 = 2), else level 1 (SL0 = 1). */
	vm->start_level = vm->ipa_bits > 39 ? 0 : 1;
	sl0 = vm->start_level == 0 ? 2 : 1;
	/*
	 * VTCR_EL2: T0SZ; SL0; IRGN0 = ORGN0 = 1 (write-back walks); SH0 = 3 (inner
	 * shareable); TG0 = 0 (4 KiB); PS = the clamped PARange; VS (bit 19) = 16-bit VMIDs
	 * when the CPU has them; bit 31 RES1.
	 */
	vm->vtcr = t0sz | (uint64_t)sl0 << 6 | 1ull << 8 | 1ull << 10 | 3ull << 12 | (uint64_t)parange << 16 |
		   (uint64_t)vs16 << 19 | 1ull << 31;
	vm->root = hal_alloc_pages(1);
	if (!vm->root) {
		vmid_free(vmid);
		return -CV_ENOMEM;
	}
	vm->vm_id = vm_id;
	vm->vmid = (uint16_t)vmid;
	vm->created = true;
	return 0;
}

static unsigned level_index(uint64_t ipa, unsigned level)
{
	return (unsigned)(ipa >> (39 - 9 * level)) & 0x1ff;
}

/* The level-3 entry of ipa, allocating tables on the way when alloc; NULL if absent or out of memory. */
static uint64_t *walk(struct vm_arch *vm, uint64_t ipa, bool alloc)
{
	uint64_t *table = vm->root;

	for (unsigned level = vm->start_level; level < 3; level++) {
		uint64_t *e = &table[level_index(ipa, level)];

		if (!(*e & PTE_VALID)) {
			uint64_t *next;

			if (!alloc)
				return NULL;
			next = hal_alloc_pages(1);
			if (!next)
				return NULL;
			*e = hal_virt_to_phys(next).v | PTE_VALID | PTE_TABLE;
		}
		table = hal_phys_to_virt(hpa(*e & PTE_ADDR_MASK));
	}
	return &table[level_index(ipa, 3)];
}

int arch_vm_map(struct vm_arch *vm, gpa_t gpa_start, void *host, uint64_t size, uint32_t flags)
{
	uint64_t ipa = gpa_start.v, attrs = PTE_VALID | PTE_TABLE | S2_AF;

	if (!vm || !vm->created || !host || !size || (ipa | size | (uint64_t)(uintptr_t)host) & 0xfff)
		return -CV_EINVAL;
	if (ipa + size < ipa || ipa + size > (1ull << vm->ipa_bits))
		return -CV_ERANGE;
	if (!(flags & (CV_MAP_READ | CV_MAP_WRITE | CV_MAP_EXEC)))
		flags |= CV_MAP_READ | CV_MAP_WRITE | CV_MAP_EXEC;
	attrs |= (flags & CV_MAP_DEVICE) ? S2_MEMATTR_DEVICE_nGnRE : (S2_MEMATTR_NORMAL_WB | S2_SH_INNER);
	attrs |= (flags & CV_MAP_READ) ? S2_AP_R : 0;
	attrs |= (flags & CV_MAP_WRITE) ? S2_AP_W : 0;
	attrs |= (flags & CV_MAP_EXEC) && !(flags & CV_MAP_DEVICE) ? 0 : S2_XN;
	for (uint64_t off = 0; off < size; off += 4096) {
		uint64_t *e = walk(vm, ipa + off, false);

		if (e && (*e & PTE_VALID))
			return -CV_EEXIST;
	}
	for (uint64_t off = 0; off < size; off += 4096) {
		uint64_t *e = walk(vm, ipa + off, true);

		if (!e)
			return -CV_ENOMEM;
		*e = hal_virt_to_phys((char *)host + off).v | attrs;
	}
	/* New entries replace invalid ones: no TLB maintenance, only ordering before use. */
	dsb(ishst);
	return 0;
}

hpa_t arch_vm_ept_root(const struct vm_arch *vm)
{
	return hal_virt_to_phys(vm->root);
}

static void free_tables(uint64_t *table, unsigned level)
{
	if (level < 3) {
		for (unsigned i = 0; i < 512; i++)
			if (table[i] & PTE_VALID)
				free_tables(hal_phys_to_virt(hpa(table[i] & PTE_ADDR_MASK)), level + 1);
	}
	hal_free_pages(table, 1);
}

void arch_vm_destroy(struct vm_arch *vm)
{
	uint64_t saved;

	if (!vm || !vm->created)
		return;
	/* Drop the VM's stage-1+2 TLB entries on every CPU: TLBI by the VMID in VTTBR_EL2. */
	saved = read_sysreg(vttbr_el2);
	write_sysreg(hal_virt_to_phys(vm->root).v | (uint64_t)vm->vmid << 48, vttbr_el2);
	isb();
	__asm__ volatile("tlbi vmalls12e1is" ::: "memory");
	dsb(ish);
	write_sysreg(saved, vttbr_el2);
	isb();
	/* The VM's entries are gone from every TLB (the DSB ISH above): its VMID may be reused. */
	vmid_free(vm->vmid);
	free_tables(vm->root, vm->start_level);
	vm->root = NULL;
	vm->created = false;
}
