/* SPDX-License-Identifier: MIT */
/*
 * Booting Linux guests on AArch64 (DESIGN.md "Linux guests on AArch64"): the arm64 Image
 * header and boot protocol (boot/linux-arm64.c, freestanding) and the device trees
 * (boot/fdt.c, over libfdt): the guest's, made per VM, and the host's, read for RAM, CPUs,
 * GIC and UART. Called by the VMM when it builds a VM; nothing here touches guest memory:
 * the caller copies the bytes to the addresses computed here.
 *
 * Errors: 0 or a negative CV_E* code, and a fixed English reason in *why (never NULL after
 * a failure; the caller prefixes it with the file name). Guest- and user-supplied bytes
 * (images, DTBs) are untrusted: every offset is checked against the buffer's size.
 */
#ifndef CVISOR_BOOT_H
#define CVISOR_BOOT_H

#include <cvisor/types.h>

/* ---- arm64 Image (Linux Documentation/arch/arm64/booting.rst, section 4) ---- */

#define ARM64_IMAGE_HEADER_SIZE	 64u
#define ARM64_IMAGE_MAGIC_OFFSET 0x38u
#define ARM64_IMAGE_MAGIC	 0x644d5241u /* "ARM\x64", little endian */
/* The kernel goes text_offset bytes above a base aligned to this. */
#define ARM64_IMAGE_BASE_ALIGN 0x200000ull
/* booting.rst: the DTB is 8-byte aligned and at most 2 MiB. */
#define ARM64_DTB_ALIGN	   8u
#define ARM64_DTB_MAX_SIZE 0x200000u

/* flags (booting.rst): bit 0 big endian, bits 1-2 page size, bit 3 placement. */
#define ARM64_IMAGE_FLAG_BE	    (1ull << 0)
#define ARM64_IMAGE_FLAG_PAGE_SHIFT 1
#define ARM64_IMAGE_FLAG_PAGE_MASK  (3ull << 1)
#define ARM64_IMAGE_FLAG_ANYWHERE   (1ull << 3)

/* What a checked Image header says. */
struct arm64_image {
	uint64_t text_offset; /* load offset from the 2 MiB-aligned base */
	uint64_t image_size;  /* bytes the kernel occupies from its load address, bss included */
	uint64_t flags;	      /* the raw header flags */
	uint64_t file_size;   /* bytes in the file */
	uint64_t copy_size;   /* bytes to copy to the load address: min(file_size, image_size) */
	uint32_t page_size;   /* kernel page size from flags: 4096, 16384, 65536, or 0 if unspecified */
	bool anywhere;	      /* flags bit 3: the base may be anywhere in RAM, not just near its start */
	bool efi;	      /* has a PE/COFF header (EFI stub): file_size was checked against its sections */
};

/*
 * Checks the arm64 Image in file[0, size) and describes it in *img. Fails with -CV_EINVAL
 * (not an arm64 Image: bad magic, gzip-compressed, corrupt PE header), -CV_ERANGE (truncated:
 * shorter than its header or than its PE sections) or -CV_ENOTSUP (big-endian, or a pre-3.17
 * kernel whose image_size is 0, so its bss size is unknown).
 */
int arm64_image_parse(const void *file, size_t size, struct arm64_image *img, const char **why);

/* True when buf starts with a gzip member header (RFC 1952: 1f 8b, method 8 = deflate). */
bool boot_is_gzip(const void *buf, size_t size);

/* Where the kernel, the initrd and the DTB go in one guest RAM region. */
struct arm64_boot_layout {
	gpa_t kernel;	      /* load address = entry point: 2 MiB-aligned base + text_offset */
	uint64_t kernel_size; /* image_size: bytes reserved from kernel */
	gpa_t initrd;	      /* 2 MiB-aligned, above the kernel; meaningless when initrd_size is 0 */
	uint64_t initrd_size;
	gpa_t dtb; /* 2 MiB-aligned (so its 2 MiB block holds nothing else), above the initrd */
	uint64_t dtb_size;
};

/*
 * Places a kernel described by img, an initrd of initrd_size bytes (0: none) and a DTB of
 * up to dtb_size bytes in the guest RAM [ram_base, ram_base + ram_size): the kernel at the
 * lowest 2 MiB-aligned base in RAM (booting.rst: memory below the base is unusable unless
 * flags bit 3 is set), then the initrd, then the DTB, each from a fresh 2 MiB boundary.
 * Fails with -CV_ERANGE when they do not fit, the DTB exceeds 2 MiB, or the initrd falls
 * outside the 1 GiB-aligned 32 GiB window that covers the kernel (booting.rst, section 3).
 */
int arm64_boot_layout(const struct arm64_image *img, gpa_t ram_base, uint64_t ram_size, uint64_t initrd_size,
		      uint64_t dtb_size, struct arm64_boot_layout *layout, const char **why);

/* SPSR_EL2 for the first ERET into the kernel: AArch64 EL1h (SP_EL1), D, A, I, F masked. */
#define ARM64_BOOT_SPSR 0x3c5ull
/*
 * SCTLR_EL1 at entry: MMU (M, bit 0) and data cache (C, bit 2) off, little endian, only
 * the bits that are RES1 in ARMv8.0 set (11, 20, 22, 23, 28, 29; ARM ARM D17.2.118).
 */
#define ARM64_BOOT_SCTLR_EL1 0x30d00800ull

/* The boot CPU's state at the kernel's first instruction (booting.rst, section 5). */
struct arm64_boot_regs {
	uint64_t pc;	    /* the kernel's load address */
	uint64_t x[4];	    /* x0 = DTB guest-physical address, x1-x3 = 0 (reserved) */
	uint64_t spsr;	    /* ARM64_BOOT_SPSR */
	uint64_t sctlr_el1; /* ARM64_BOOT_SCTLR_EL1 */
};

/* Fills regs from a layout. */
void arm64_boot_regs(const struct arm64_boot_layout *layout, struct arm64_boot_regs *regs);

/* ---- device trees (boot/fdt.c; libfdt) ---- */

#define BOOT_FDT_MAX_MEM  4
#define BOOT_FDT_MAX_CPUS 128 /* MPIDR Aff1 0-7, Aff0 0-15 (guest_abi.h) */

struct boot_gpa_range {
	gpa_t base;
	uint64_t size;
};

struct boot_hpa_range {
	hpa_t base;
	uint64_t size;
};

/*
 * What a guest's device tree describes. Interrupt numbers are the GIC's per-type numbers
 * as device trees write them: SPI n is INTID 32 + n, PPI n is INTID 16 + n.
 */
struct boot_fdt_guest {
	unsigned cpus; /* 1..BOOT_FDT_MAX_CPUS; vCPU n has reg = MPIDR cv_vcpu_to_cpu_id(n) */
	struct boot_gpa_range mem[BOOT_FDT_MAX_MEM];
	unsigned mem_count;	/* 1..BOOT_FDT_MAX_MEM */
	gpa_t gicd;		/* GICv3 distributor, 64 KiB */
	gpa_t gicr;		/* redistributors: one 128 KiB frame pair per vCPU from here */
	gpa_t uart;		/* PL011 */
	uint64_t uart_size;	/* its MMIO window */
	uint32_t uart_spi;	/* its SPI (level high) */
	uint32_t uart_clock_hz; /* the fixed clock it is given */
	uint32_t timer_ppi[4];	/* arch timer: secure phys, non-secure phys, virtual, hyp phys */
	const char *bootargs;	/* /chosen/bootargs; NULL: none */
	gpa_t initrd;		/* linux,initrd-start */
	uint64_t initrd_size;	/* 0: no initrd properties */
};

/*
 * The defaults: QEMU virt's layout (hw/arm/virt.c), so the same guest kernel boots under
 * QEMU and cvisor alike: `cpus` vCPUs, RAM 256 MiB at 0x40000000, GICD 0x08000000,
 * GICR 0x080a0000, PL011 0x09000000 (4 KiB, SPI 1, 24 MHz), timer PPIs 13, 14, 11, 10,
 * no bootargs, no initrd.
 */
void boot_fdt_guest_defaults(struct boot_fdt_guest *g, unsigned cpus);

/*
 * Writes the guest's device tree into buf[0, size) (a few KiB suffice for 8 vCPUs); its
 * total size is then fdt_totalsize(buf). Fails with -CV_EINVAL on out-of-range parameters
 * (no CPU or memory, overlapping GIC frames) and -CV_ERANGE when buf is too small.
 */
int boot_fdt_make_guest(const struct boot_fdt_guest *g, void *buf, size_t size, const char **why);

#define BOOT_HOST_MAX_MEM  8
#define BOOT_HOST_MAX_CPUS 256
#define BOOT_HOST_MAX_GICR 4

/* What the host's device tree (from QEMU or the board's firmware) says. */
struct boot_host_info {
	struct boot_hpa_range mem[BOOT_HOST_MAX_MEM]; /* device_type = "memory" nodes, in tree order */
	unsigned mem_count;
	uint64_t cpu_mpidr[BOOT_HOST_MAX_CPUS]; /* /cpus/cpu@*: reg (MPIDR affinity fields), in tree order */
	unsigned cpu_count;
	struct boot_hpa_range gicd;			/* "arm,gic-v3": reg[0] */
	struct boot_hpa_range gicr[BOOT_HOST_MAX_GICR]; /* reg[1 .. #redistributor-regions] */
	unsigned gicr_count;
	uint32_t gic_maint_ppi;	    /* the GIC's "interrupts" (vGIC maintenance PPI); 0: absent */
	uint32_t timer_ppi[4];	    /* "arm,armv8-timer": secure, non-secure, virtual, hyp; 0: absent */
	struct boot_hpa_range uart; /* the PL011 /chosen/stdout-path names, else the first; size 0: none */
	uint32_t uart_spi;
	bool psci_smc; /* /psci method is "smc" (else "hvc"; psci_found false: no node) */
	bool psci_found;
	const char *bootargs;	      /* /chosen/bootargs inside the blob, or NULL */
	struct boot_hpa_range initrd; /* /chosen linux,initrd-start/end; size 0: none */
};

/*
 * Reads the host's device tree at fdt[0, size) into *info. Fails with -CV_EINVAL on a blob
 * libfdt rejects, or that lacks memory, CPUs or a GICv3, and -CV_ERANGE when it has more
 * than the BOOT_HOST_MAX_* of something. Addresses are taken as the nodes' parents write
 * them (parents with an empty "ranges", as on QEMU virt); a non-identity "ranges" is
 * -CV_ENOTSUP.
 */
int boot_fdt_read_host(const void *fdt, size_t size, struct boot_host_info *info, const char **why);

#endif /* CVISOR_BOOT_H */
