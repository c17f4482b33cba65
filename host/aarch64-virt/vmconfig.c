/* SPDX-License-Identifier: MIT */
/*
 * The VM-config blob at EL2 (include/cvisor/vmdtb.h): the JSON configs, checked and turned
 * into a device tree by tools/cvisor-vmdtb, loaded by QEMU at VMDTB_ADDR with the kernels
 * and initramfs after it.
 *
 * Two steps, because of what libfdt (Debian's arm64 user-space build) needs (HOST-NOTES.md):
 * - vmconfig_reserved(), on CPU 0 at boot before the page allocator hands anything out: only
 *   the header and the memory reservation block, read byte by byte (big-endian, Devicetree
 *   Specification v0.4 5.2 and 5.3), so no libfdt and no FP/SIMD before CPTR_EL2 is set.
 * - vmconfig_read(), from the main task, with the MMU on (libfdt does unaligned loads) and
 *   CPTR_EL2.TFP clear, before any guest has run on this CPU (libfdt may use FP/SIMD
 *   registers, which would then hold a guest's state): every libfdt call of the hypervisor
 *   happens there or in linux_prepare(), right after it.
 * Everything in the blob is checked again here: it is input, even if our own tool wrote it.
 */
#include <cvisor/errors.h>
#include <cvisor/vmdtb.h>

#include "platform.h"

#define BLOB_MAGIC 0xd00dfeedu /* Devicetree Specification 5.2 */

static uint64_t be(const volatile uint8_t *p, unsigned n)
{
	uint64_t v = 0;

	for (unsigned i = 0; i < n; i++)
		v = v << 8 | p[i];
	return v;
}

bool vmconfig_reserved(uint64_t ram_base, uint64_t ram_size, uint64_t *start, uint64_t *end)
{
	const volatile uint8_t *h = (const volatile uint8_t *)(uintptr_t)VMDTB_ADDR;
	uint64_t ram_end = ram_base + ram_size, total, rsv;

	/* Not in RAM (a machine with less of it): no configs, the built-in guest runs. */
	if (VMDTB_ADDR < ram_base || VMDTB_ADDR + VMDTB_MAX_SIZE > ram_end)
		return false;
	if (be(h, 4) != BLOB_MAGIC)
		return false;
	total = be(h + 4, 4);
	rsv = be(h + 16, 4); /* off_mem_rsvmap */
	if (total > VMDTB_MAX_SIZE || rsv + 16 > total || (rsv & 7))
		return false;
	/* The tool writes one entry: the blob and every file after it. */
	*start = be(h + rsv, 8);
	*end = *start + be(h + rsv + 8, 8);
	if (*start != VMDTB_ADDR || *end < *start || *end > ram_end)
		return false;
	return true;
}

#ifndef CVISOR_NO_LIBFDT
#include <libfdt.h>

static int bad(const char *node, const char *prop, const char *why)
{
	hal_log(HAL_LOG_ERROR, "VM config blob: %s: %s: %s", node, prop, why);
	return -CV_EINVAL;
}

/* A property of exactly cells 32-bit cells (cells 0: any multiple of `multiple` cells, at most max). */
static const fdt32_t *prop_cells(const void *fdt, int node, const char *name, unsigned multiple, unsigned max,
				 unsigned *count)
{
	int len;
	const fdt32_t *p = fdt_getprop(fdt, node, name, &len);

	if (!p || len <= 0 || len % (4 * multiple) || (unsigned)len / 4 > max * multiple)
		return NULL;
	*count = (unsigned)len / (4 * multiple);
	return p;
}

static uint64_t u64_at(const fdt32_t *p, unsigned i)
{
	return (uint64_t)fdt32_to_cpu(p[2 * i]) << 32 | fdt32_to_cpu(p[2 * i + 1]);
}

static bool get_u64(const void *fdt, int node, const char *name, uint64_t *v)
{
	unsigned n;
	const fdt32_t *p = prop_cells(fdt, node, name, 2, 1, &n);

	if (!p)
		return false;
	*v = u64_at(p, 0);
	return true;
}

static bool get_u32(const void *fdt, int node, const char *name, uint32_t *v)
{
	unsigned n;
	const fdt32_t *p = prop_cells(fdt, node, name, 1, 1, &n);

	if (!p)
		return false;
	*v = fdt32_to_cpu(p[0]);
	return true;
}

static bool get_string(const void *fdt, int node, const char *name, char *buf, size_t size)
{
	int len;
	const char *s = fdt_getprop(fdt, node, name, &len);

	if (!s || len <= 0 || (size_t)len > size || s[len - 1] != '\0')
		return false;
	memcpy(buf, s, (size_t)len);
	return true;
}

/* A loaded file: inside the reserved range [lo, hi), which nothing else uses. */
static bool get_file(const void *fdt, int node, const char *name, uint64_t lo, uint64_t hi, uint64_t *addr,
		     uint64_t *size)
{
	unsigned n;
	const fdt32_t *p = prop_cells(fdt, node, name, 4, 1, &n);

	if (!p)
		return false;
	*addr = u64_at(p, 0);
	*size = u64_at(p, 1);
	return *size && *addr >= lo && *addr <= hi && *size <= hi - *addr;
}

static int read_vm(const void *fdt, int node, uint64_t lo, uint64_t hi, struct vm_spec *s)
{
	struct vm_config *c = &s->cfg;
	const char *nn = fdt_get_name(fdt, node, NULL);
	const fdt32_t *p;
	char fmt[16];
	uint32_t u;
	unsigned n;

	*s = (struct vm_spec){0};
	if (!nn)
		nn = "?";
	if (!get_u32(fdt, node, VMDTB_P_ID, &c->id))
		return bad(nn, VMDTB_P_ID, "missing");
	if (!get_string(fdt, node, VMDTB_P_NAME, c->name, sizeof(c->name)))
		return bad(nn, VMDTB_P_NAME, "missing or too long");
	if (!get_u32(fdt, node, VMDTB_P_CPU_NUM, &c->cpu_num) || c->cpu_num == 0 || c->cpu_num > VM_MAX_VCPUS)
		return bad(nn, VMDTB_P_CPU_NUM, "missing or out of range");
	if (fdt_getprop(fdt, node, VMDTB_P_PHYS_CPU_IDS, NULL)) {
		p = prop_cells(fdt, node, VMDTB_P_PHYS_CPU_IDS, 2, VM_MAX_VCPUS, &n);
		if (!p)
			return bad(nn, VMDTB_P_PHYS_CPU_IDS, "malformed");
		for (unsigned i = 0; i < n; i++) {
			c->phys_cpu_ids[i] = u64_at(p, i);
			if (c->phys_cpu_ids[i] >= hal_cpu_count())
				return bad(nn, VMDTB_P_PHYS_CPU_IDS, "names a pCPU this machine does not have");
		}
		c->n_phys_cpu_ids = n;
	}
	if (fdt_getprop(fdt, node, VMDTB_P_PHYS_CPU_SETS, NULL)) {
		p = prop_cells(fdt, node, VMDTB_P_PHYS_CPU_SETS, 2, VM_MAX_VCPUS, &n);
		if (!p)
			return bad(nn, VMDTB_P_PHYS_CPU_SETS, "malformed");
		for (unsigned i = 0; i < n; i++)
			c->phys_cpu_sets[i] = u64_at(p, i);
		c->n_phys_cpu_sets = n;
	}
	p = prop_cells(fdt, node, VMDTB_P_MEMORY_REGIONS, 8, VM_MAX_REGIONS, &n);
	if (!p)
		return bad(nn, VMDTB_P_MEMORY_REGIONS, "missing or malformed");
	for (unsigned i = 0; i < n; i++) {
		c->regions[i].gpa = u64_at(p, 4 * i);
		c->regions[i].size = u64_at(p, 4 * i + 1);
		c->regions[i].flags = (uint32_t)u64_at(p, 4 * i + 2);
		c->regions[i].map_type = VM_MAP_ALLOC; /* the tool refuses anything else */
	}
	c->nregions = n;
	if (!get_string(fdt, node, VMDTB_P_CMDLINE, c->cmdline, sizeof(c->cmdline)))
		return bad(nn, VMDTB_P_CMDLINE, "missing or too long");
	c->has_entry_point = get_u64(fdt, node, VMDTB_P_ENTRY_POINT, &c->entry_point);
	c->has_kernel_load_addr = get_u64(fdt, node, VMDTB_P_KERNEL_LOAD_ADDR, &c->kernel_load_addr);
	c->has_ramdisk_load_addr = get_u64(fdt, node, VMDTB_P_RAMDISK_LOAD_ADDR, &c->ramdisk_load_addr);
	c->has_dtb_load_addr = get_u64(fdt, node, VMDTB_P_DTB_LOAD_ADDR, &c->dtb_load_addr);
	if (!get_u32(fdt, node, VMDTB_P_UNMAPPED_ACCESS, &u) || u > UNMAPPED_STOP)
		return bad(nn, VMDTB_P_UNMAPPED_ACCESS, "missing or unknown");
	c->unmapped_access = (enum unmapped_policy)u;
	if (!get_string(fdt, node, VMDTB_P_KERNEL_FORMAT, fmt, sizeof(fmt)))
		return bad(nn, VMDTB_P_KERNEL_FORMAT, "missing");
	if (!memcmp(fmt, "linux", 6))
		s->linux_image = true;
	else if (memcmp(fmt, "raw", 4))
		return bad(nn, VMDTB_P_KERNEL_FORMAT, "neither \"linux\" nor \"raw\"");
	if (!get_file(fdt, node, VMDTB_P_KERNEL, lo, hi, &s->kernel_hpa, &s->kernel_size))
		return bad(nn, VMDTB_P_KERNEL, "missing, or outside the loaded files");
	if (fdt_getprop(fdt, node, VMDTB_P_RAMDISK, NULL) &&
	    !get_file(fdt, node, VMDTB_P_RAMDISK, lo, hi, &s->ramdisk_hpa, &s->ramdisk_size))
		return bad(nn, VMDTB_P_RAMDISK, "outside the loaded files");
	if (fdt_getprop(fdt, node, VMDTB_P_DTB, NULL) &&
	    !get_file(fdt, node, VMDTB_P_DTB, lo, hi, &s->dtb_hpa, &s->dtb_size))
		return bad(nn, VMDTB_P_DTB, "outside the loaded files");
	return 0;
}

int vmconfig_read(struct vm_spec *specs, unsigned max, unsigned *count, bool *no_reboot)
{
	const void *fdt = (const void *)(uintptr_t)VMDTB_ADDR;
	uint64_t lo, hi;
	unsigned n = 0;
	int node, ret;

	*count = 0;
	if (!vmconfig_reserved(plat_info.ram_base, plat_info.ram_size, &lo, &hi))
		return -CV_ENOENT;
	ret = fdt_check_header(fdt);
	if (ret != 0 || fdt_totalsize(fdt) > VMDTB_MAX_SIZE)
		return bad("/", "header", ret ? fdt_strerror(ret) : "too large");
	if (fdt_node_check_compatible(fdt, 0, VMDTB_COMPATIBLE) != 0)
		return bad("/", "compatible", "not " VMDTB_COMPATIBLE);
	*no_reboot = fdt_getprop(fdt, 0, "no-reboot", NULL) != NULL;
	fdt_for_each_subnode(node, fdt, 0)
	{
		if (n == max)
			return bad("/", "vm", "too many VMs");
		ret = read_vm(fdt, node, hi > lo ? lo + VMDTB_FILES_OFFSET : lo, hi, &specs[n]);
		if (ret < 0)
			return ret;
		for (unsigned i = 0; i < n; i++)
			if (specs[i].cfg.id == specs[n].cfg.id)
				return bad(specs[n].cfg.name, VMDTB_P_ID, "duplicate");
		n++;
	}
	if (node < 0 && node != -FDT_ERR_NOTFOUND)
		return bad("/", "vm", fdt_strerror(node));
	if (n == 0)
		return bad("/", "vm", "no VM");
	*count = n;
	return 0;
}
#else
int vmconfig_read(struct vm_spec *specs, unsigned max, unsigned *count, bool *no_reboot)
{
	(void)specs, (void)max, (void)no_reboot;
	*count = 0;
	if (!vmconfig_reserved(plat_info.ram_base, plat_info.ram_size, &(uint64_t){0}, &(uint64_t){0}))
		return -CV_ENOENT;
	hal_log(HAL_LOG_ERROR, "VM config blob found, but this image was built without libfdt (run scripts/setup)");
	return -CV_ENOTSUP;
}
#endif
