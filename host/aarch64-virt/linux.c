/* SPDX-License-Identifier: MIT */
/*
 * A configured VM's boot images at EL2: the kernel, initramfs and device tree QEMU's loader
 * put in RAM (host/aarch64-virt/vmconfig.c), placed in the VM's guest RAM.
 *
 * linux_prepare() runs once per VM, from the main task before any guest runs (it calls
 * libfdt: see vmconfig.c): it checks the arm64 Image header (boot/linux-arm64.c), computes
 * the boot layout in the first memory region (kernel text_offset above a 2 MiB-aligned
 * base, then initrd, then DTB), writes the guest's device tree (boot/fdt.c: memory, cpus
 * with their MPIDR, PSCI over HVC, GICv3 with a redistributor per vCPU, timer, PL011,
 * /chosen bootargs and initrd) into a buffer of its own, and fills the config so vm_create
 * starts vCPU 0 at the kernel's entry with x0 = the DTB (x1-x3 = 0, EL1h, DAIF masked,
 * MMU and caches off: the backend's reset state; booting.rst section 5).
 *
 * linux_load() runs on every build of the VM, the first and each after a SYSTEM_RESET: it
 * copies from those originals, which no guest can reach (they are outside every stage-2
 * map), so a reset restarts from untouched kernel, initramfs and DTB. Each copy is cleaned
 * to the point of coherency: the kernel starts with its MMU and D-cache off and reads RAM
 * directly (booting.rst: "the kernel image ... must be cleaned to the PoC").
 */
#include <cvisor/boot.h>
#include <cvisor/errors.h>
#include <cvisor/vm.h>

#include "platform.h"

#define GUEST_DTB_MAX (64u << 10) /* what cvisor-vmdtb reserves in its layout check too */

#ifndef CVISOR_NO_LIBFDT
static int prepare_linux(struct vm_spec *s)
{
	struct vm_config *c = &s->cfg;
	const void *kernel = hal_phys_to_virt(hpa(s->kernel_hpa));
	struct boot_fdt_guest g;
	struct arm64_image img;
	const char *why = NULL;
	int ret;

	ret = arm64_image_parse(kernel, s->kernel_size, &img, &why);
	if (ret < 0) {
		hal_log(HAL_LOG_ERROR, "vm %u (%s): kernel: %s", c->id, c->name, why);
		return ret;
	}
	ret = arm64_boot_layout(&img, gpa(c->regions[0].gpa), c->regions[0].size, s->ramdisk_size,
				s->dtb_size ? s->dtb_size : GUEST_DTB_MAX, &s->layout, &why);
	if (ret < 0) {
		hal_log(HAL_LOG_ERROR, "vm %u (%s): memory_regions[0]: %s", c->id, c->name, why);
		return ret;
	}
	s->copy_size = img.copy_size;
	if (s->dtb_size) {
		/* The config's own device tree, used as it is. */
		s->guest_dtb = hal_phys_to_virt(hpa(s->dtb_hpa));
		s->guest_dtb_size = s->dtb_size;
	} else {
		if (c->nregions > BOOT_FDT_MAX_MEM) {
			hal_log(HAL_LOG_ERROR, "vm %u (%s): more than %u memory regions for a generated device tree",
				c->id, c->name, BOOT_FDT_MAX_MEM);
			return -CV_ERANGE;
		}
		/* QEMU virt's layout (boot_fdt_guest_defaults): the devices run.c adds are there. */
		boot_fdt_guest_defaults(&g, c->cpu_num);
		for (unsigned i = 0; i < c->nregions; i++)
			g.mem[i] = (struct boot_gpa_range){gpa(c->regions[i].gpa), c->regions[i].size};
		g.mem_count = c->nregions;
		g.bootargs = c->cmdline;
		if (s->ramdisk_size) {
			g.initrd = s->layout.initrd;
			g.initrd_size = s->ramdisk_size;
		}
		uint8_t *h = hal_alloc(GUEST_DTB_MAX);

		if (!h)
			return -CV_ENOMEM;
		ret = boot_fdt_make_guest(&g, h, GUEST_DTB_MAX, &why);
		if (ret < 0) {
			hal_log(HAL_LOG_ERROR, "vm %u (%s): device tree: %s", c->id, c->name, why);
			hal_free(h);
			return ret;
		}
		/* fdt_totalsize: the big-endian word at offset 4 of the header. */
		s->guest_dtb = h;
		s->guest_dtb_size = (size_t)h[4] << 24 | (size_t)h[5] << 16 | (size_t)h[6] << 8 | h[7];
	}
	/* Where the guest finds everything: vm_create starts vCPU 0 there with x0 = the DTB. */
	c->has_entry_point = true;
	c->entry_point = s->layout.kernel.v;
	c->has_kernel_load_addr = true;
	c->kernel_load_addr = s->layout.kernel.v;
	c->has_dtb_load_addr = true;
	c->dtb_load_addr = s->layout.dtb.v;
	c->has_ramdisk_load_addr = s->ramdisk_size != 0;
	c->ramdisk_load_addr = s->ramdisk_size ? s->layout.initrd.v : 0;
	hal_log(HAL_LOG_INFO, "vm %u (%s): Linux Image at %#lx (%lu KiB), initrd at %#lx (%lu KiB), DTB at %#lx", c->id,
		c->name, (unsigned long)s->layout.kernel.v, (unsigned long)(s->copy_size >> 10),
		(unsigned long)s->layout.initrd.v, (unsigned long)(s->ramdisk_size >> 10),
		(unsigned long)s->layout.dtb.v);
	return 0;
}
#endif

int linux_prepare(struct vm_spec *s)
{
	struct vm_config *c = &s->cfg;

	if (s->linux_image) {
#ifndef CVISOR_NO_LIBFDT
		return prepare_linux(s);
#else
		return -CV_ENOTSUP;
#endif
	}
	/* A flat binary: where the config says (cvisor-vmdtb insists on kernel_load_addr). */
	if (!c->has_kernel_load_addr)
		return -CV_EINVAL;
	s->copy_size = s->kernel_size;
	s->layout.kernel = gpa(c->kernel_load_addr);
	s->layout.initrd = gpa(c->has_ramdisk_load_addr ? c->ramdisk_load_addr : 0);
	if (s->ramdisk_size && !c->has_ramdisk_load_addr)
		return -CV_EINVAL;
	if (s->dtb_size) {
		if (!c->has_dtb_load_addr)
			return -CV_EINVAL;
		s->guest_dtb = hal_phys_to_virt(hpa(s->dtb_hpa));
		s->guest_dtb_size = s->dtb_size;
		s->layout.dtb = gpa(c->dtb_load_addr);
	}
	return 0;
}

/* Copies n bytes to guest-physical at and cleans them to the PoC. */
static int put(struct vm *vm, gpa_t at, const void *src, size_t n)
{
	void *dst;
	int ret;

	if (n == 0)
		return 0;
	ret = vm_guest_ptr(vm, at, n, &dst);
	if (ret == 0) {
		memcpy(dst, src, n);
		plat_clean_dcache(dst, n);
		return 0;
	}
	/* Across adjacent regions: copy, then clean page by page. */
	ret = vm_write_guest(vm, at, src, n);
	for (uint64_t off = 0; ret == 0 && off < n; off += PLAT_PAGE_SIZE - ((at.v + off) & (PLAT_PAGE_SIZE - 1))) {
		uint64_t chunk = PLAT_PAGE_SIZE - ((at.v + off) & (PLAT_PAGE_SIZE - 1));

		if (chunk > n - off)
			chunk = n - off;
		ret = vm_guest_ptr(vm, gpa(at.v + off), chunk, &dst);
		if (ret == 0)
			plat_clean_dcache(dst, chunk);
	}
	return ret;
}

int linux_load(struct vm *vm, const struct vm_spec *s)
{
	int ret;

	ret = put(vm, s->layout.kernel, hal_phys_to_virt(hpa(s->kernel_hpa)), s->copy_size);
	if (ret == 0 && s->ramdisk_size)
		ret = put(vm, s->layout.initrd, hal_phys_to_virt(hpa(s->ramdisk_hpa)), s->ramdisk_size);
	if (ret == 0 && s->guest_dtb_size)
		ret = put(vm, s->layout.dtb, s->guest_dtb, s->guest_dtb_size);
	return ret;
}
