/* SPDX-License-Identifier: MIT */
/*
 * A VM's configuration, mirroring axvisor's VM config sections (base, kernel, devices).
 * Fixed-size and allocation-free so that the same struct is filled from JSON by the
 * hosted tool and from the config device tree at EL2. Values here are already checked
 * for syntax; vm_create checks them for meaning.
 */
#ifndef CVISOR_CONFIG_H
#define CVISOR_CONFIG_H

#include <cvisor/types.h>

#define VM_MAX_VCPUS 64
#define VM_MAX_REGIONS 16
#define VM_NAME_MAX 32
#define VM_PATH_MAX 256
#define VM_CMDLINE_MAX 1024

/* What an access to no device does (DESIGN.md, devices.unmapped_access). */
enum unmapped_policy {
	UNMAPPED_DEFAULT, /* ignore on x86, abort on AArch64, as real hardware does */
	UNMAPPED_IGNORE,  /* reads as zero, writes dropped, counted and logged once */
	UNMAPPED_ABORT,   /* an external abort is injected into the guest */
	UNMAPPED_STOP,    /* the VM stops */
};

/* axvisor's map_type: memory cvisor allocates, or an identity-mapped host range. */
enum vm_map_type {
	VM_MAP_ALLOC = 0,
	VM_MAP_IDENTICAL = 1,
};

struct vm_mem_region {
	uint64_t gpa;
	uint64_t size;
	uint32_t flags; /* CV_MAP_* of cvisor/arch.h; 0 means read|write|exec */
	enum vm_map_type map_type;
};

struct vm_config {
	/* [base] */
	uint32_t id;
	char name[VM_NAME_MAX];
	uint32_t cpu_num;
	unsigned n_phys_cpu_ids; /* 0: not given */
	uint64_t phys_cpu_ids[VM_MAX_VCPUS];
	unsigned n_phys_cpu_sets; /* 0: not given */
	uint64_t phys_cpu_sets[VM_MAX_VCPUS];

	/* [kernel] */
	bool has_entry_point;
	uint64_t entry_point;
	bool has_kernel_load_addr;
	uint64_t kernel_load_addr;
	bool has_ramdisk_load_addr;
	uint64_t ramdisk_load_addr;
	bool has_dtb_load_addr;
	uint64_t dtb_load_addr;
	char kernel_path[VM_PATH_MAX]; /* absolute or relative to the process (resolved) */
	char ramdisk_path[VM_PATH_MAX];
	char dtb_path[VM_PATH_MAX];
	char cmdline[VM_CMDLINE_MAX];
	unsigned nregions;
	struct vm_mem_region regions[VM_MAX_REGIONS];

	/* [devices] */
	enum unmapped_policy unmapped_access;
};

#endif /* CVISOR_CONFIG_H */
