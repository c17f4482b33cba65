/* SPDX-License-Identifier: MIT */
/*
 * The VM-config blob (DESIGN.md "Bare-metal AArch64 specifics"): how the JSON VM configs reach
 * the EL2 hypervisor, which has no libc and no cJSON. The host-side tool cvisor-vmdtb
 * (tools/cvisor-vmdtb) reads the same files `cvisor run --config` takes, validates them
 * (every error named there), and writes one flattened device tree; QEMU's generic loader
 * (`-device loader,file=,addr=`) puts it at VMDTB_ADDR and every kernel, initramfs and DTB
 * file after it. The hypervisor reads it with libfdt (host/aarch64-virt/vmconfig.c).
 *
 * Layout of the blob:
 *   /memreserve/ VMDTB_ADDR .. the end of the last loaded file (the EL2 page allocator
 *                keeps out of it: those are the untouched originals a reset copies again)
 *   / { compatible = "cvisor,vm-configs";
 *       vm@<id> { one node per VM, in --config order; the properties below } }
 * Numbers are big-endian cells; a "u64" property is two cells (high, low).
 */
#ifndef CVISOR_VMDTB_H
#define CVISOR_VMDTB_H

/* Where the run script loads the blob: 128 MiB above the start of QEMU virt's RAM, so the
 * hypervisor image (0x40200000) and its first allocations stay below it. */
#define VMDTB_ADDR 0x48000000ull
/* Room reserved for the blob itself; the first file is loaded VMDTB_FILES_OFFSET above it. */
#define VMDTB_MAX_SIZE	   0x100000ull
#define VMDTB_FILES_OFFSET 0x200000ull
/* Every loaded file starts at a multiple of this. */
#define VMDTB_FILE_ALIGN 0x200000ull

#define VMDTB_COMPATIBLE "cvisor,vm-configs"

/* Properties of a vm@<id> node: struct vm_config's fields, under their JSON names. */
#define VMDTB_P_ID		  "id"		      /* u32 */
#define VMDTB_P_NAME		  "name"	      /* string */
#define VMDTB_P_CPU_NUM		  "cpu_num"	      /* u32 */
#define VMDTB_P_PHYS_CPU_IDS	  "phys_cpu_ids"      /* u64 per vCPU; absent: not given */
#define VMDTB_P_PHYS_CPU_SETS	  "phys_cpu_sets"     /* u64 per vCPU; absent: not given */
#define VMDTB_P_MEMORY_REGIONS	  "memory_regions"    /* u64 gpa, size, flags, map_type per region */
#define VMDTB_P_CMDLINE		  "cmdline"	      /* string */
#define VMDTB_P_ENTRY_POINT	  "entry_point"	      /* u64; absent: not given */
#define VMDTB_P_KERNEL_LOAD_ADDR  "kernel_load_addr"  /* u64; absent: not given */
#define VMDTB_P_RAMDISK_LOAD_ADDR "ramdisk_load_addr" /* u64; absent: not given */
#define VMDTB_P_DTB_LOAD_ADDR	  "dtb_load_addr"     /* u64; absent: not given */
#define VMDTB_P_UNMAPPED_ACCESS	  "unmapped_access"   /* u32: enum unmapped_policy */
/* Where QEMU's loader put the files: u64 host-physical address, u64 size in bytes. */
#define VMDTB_P_KERNEL	"kernel"  /* required */
#define VMDTB_P_RAMDISK "ramdisk" /* absent: no initramfs */
#define VMDTB_P_DTB	"dtb"	  /* absent: the hypervisor writes the guest's device tree */
/* "linux": an arm64 Image (placed by boot/linux-arm64.c's layout); "raw": a flat binary
 * copied to kernel_load_addr and entered at entry_point (the small test guests). */
#define VMDTB_P_KERNEL_FORMAT "kernel_format"

#endif /* CVISOR_VMDTB_H */
