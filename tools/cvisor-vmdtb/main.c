/* SPDX-License-Identifier: MIT */
/*
 * cvisor-vmdtb: JSON VM configs -> the VM-config blob of the bare-metal hypervisor
 * (include/cvisor/vmdtb.h), plus where QEMU's generic loader must put each file.
 *
 *   cvisor-vmdtb --out DIR [--pcpus N] [--no-reboot] CONFIG.json...
 *
 * Each config is read and checked by tools/cvisor/config_json.c (the parser `cvisor run
 * --config` uses), then for what the bare-metal build needs: a kernel (an arm64 Image,
 * gunzipped here when compressed, checked and laid out in the first memory region with
 * boot/linux-arm64.c; or a flat binary with kernel_load_addr), VM ids and names unique,
 * pCPUs that exist (with --pcpus), at most 16 GiB of VM memory in all. Every refusal is one
 * line "FILE: KEY: REASON" on stderr and status 1, so nothing starts; 2 is a usage error.
 *
 * --no-reboot: a guest's SYSTEM_RESET ends its VM as a failure instead of restarting it.
 * Writes DIR/vms.dtb (and DIR/kernel-<id>.Image for a gzip'd kernel) and prints, for the
 * run script:
 *   loader PATH ADDR       one per file, the blob first (-device loader,file=PATH,addr=ADDR)
 *   end ADDR               the first byte after the last loaded file
 *   guest-mem BYTES        the VMs' memory regions, summed
 *   vcpus N                the vCPUs of every VM, summed
 *   pcpus N                the highest pCPU index a config names, plus one (0: none named)
 */
#include <errno.h>
#include <libfdt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <cvisor/boot.h>
#include <cvisor/config.h>
#include <cvisor/errors.h>
#include <cvisor/vmdtb.h>

#include "../../boot/host/host.h"
#include "../cvisor/config_json.h"

#define MAX_VMS	       8	     /* PLAT_MAX_VMS (host/aarch64-virt/platform.h): what EL2 takes */
#define MAX_TOTAL_MEM  (16ull << 30) /* issue #8: more than 16 GiB of VM memory in all is refused */
#define BLOB_SIZE      (64u << 10)
#define GUEST_DTB_ROOM (64u << 10) /* what the hypervisor reserves for a guest DTB it writes */

struct vm_in {
	const char *file;
	struct vm_config cfg;
	bool linux_image;
	char kernel_file[VM_PATH_MAX + 64]; /* what QEMU loads: the raw Image */
	uint64_t kernel_size, ramdisk_size, dtb_size;
	uint64_t kernel_addr, ramdisk_addr, dtb_addr;
};

static int usage(void)
{
	fprintf(stderr, "usage: cvisor-vmdtb --out DIR [--pcpus N] [--no-reboot] CONFIG.json...\n");
	return 2;
}

static uint64_t align_up(uint64_t v, uint64_t a)
{
	return (v + a - 1) & ~(a - 1);
}

static int file_size(const char *path, uint64_t *size)
{
	struct stat st;

	if (stat(path, &st) != 0 || !S_ISREG(st.st_mode))
		return -1;
	*size = (uint64_t)st.st_size;
	return 0;
}

/* Reads the first bytes of path into h[0, 64); returns how many. */
static size_t file_head(const char *path, unsigned char h[64])
{
	FILE *f = fopen(path, "rb");
	size_t n = f ? fread(h, 1, 64, f) : 0;

	if (f)
		fclose(f);
	return n;
}

/* The kernel: an arm64 Image (raw or gzip'd), else a flat binary when the config says where it goes. */
static int check_kernel(struct vm_in *v, const char *dir, unsigned idx)
{
	struct vm_config *c = &v->cfg;
	struct arm64_boot_layout l;
	struct arm64_image img;
	uint64_t initrd = 0;
	unsigned char h[64];
	size_t n = file_head(c->kernel_path, h), len;
	bool gz = boot_is_gzip(h, n);
	const char *why;
	char err[CONFIG_ERR_MAX];
	void *buf;
	FILE *f;

	if (!c->kernel_path[0]) {
		fprintf(stderr, "%s: kernel.kernel_path: required by the bare-metal hypervisor\n", v->file);
		return -1;
	}
	if (boot_host_load_image(c->kernel_path, &buf, &len, &img, err, sizeof(err)) != 0) {
		/* Not an Image: a flat binary is fine only where the config places it itself, and
		 * only when nothing says it was meant to be an Image (gzip, or the arm64 magic). */
		bool magic = n >= 0x3c && h[0x38] == 'A' && h[0x39] == 'R' && h[0x3a] == 'M' && h[0x3b] == 0x64;

		if (gz || magic || !c->has_kernel_load_addr || file_size(c->kernel_path, &v->kernel_size) != 0) {
			fprintf(stderr, "%s: kernel.kernel_path: %s\n", v->file, err);
			return -1;
		}
		snprintf(v->kernel_file, sizeof(v->kernel_file), "%s", c->kernel_path);
		return 0;
	}
	v->linux_image = true;
	v->kernel_size = len;
	if (c->ramdisk_path[0] && file_size(c->ramdisk_path, &initrd) != 0) {
		fprintf(stderr, "%s: kernel.ramdisk_path: cannot read %s\n", v->file, c->ramdisk_path);
		free(buf);
		return -1;
	}
	/* The layout the hypervisor will compute, checked here so a misfit is named before QEMU starts. */
	if (arm64_boot_layout(&img, gpa(c->regions[0].gpa), c->regions[0].size, initrd, GUEST_DTB_ROOM, &l, &why) !=
	    0) {
		fprintf(stderr, "%s: kernel.memory_regions[0]: %s (kernel %s, %zu bytes)\n", v->file, why,
			c->kernel_path, len);
		free(buf);
		return -1;
	}
	if (gz) {
		/* QEMU's loader copies bytes: give it the decompressed Image. */
		snprintf(v->kernel_file, sizeof(v->kernel_file), "%s/kernel-%u.Image", dir, idx);
		f = fopen(v->kernel_file, "wb");
		if (!f || fwrite(buf, 1, len, f) != len || fclose(f) != 0) {
			fprintf(stderr, "cvisor-vmdtb: %s: cannot write\n", v->kernel_file);
			free(buf);
			return -1;
		}
	} else {
		snprintf(v->kernel_file, sizeof(v->kernel_file), "%s", c->kernel_path);
	}
	free(buf);
	return 0;
}

static int prop_u64(void *fdt, const char *name, uint64_t v)
{
	return fdt_property_u64(fdt, name, v);
}

static int prop_pair(void *fdt, const char *name, uint64_t a, uint64_t b)
{
	fdt64_t cells[2] = {cpu_to_fdt64(a), cpu_to_fdt64(b)};

	return fdt_property(fdt, name, cells, sizeof(cells));
}

static int prop_u64_list(void *fdt, const char *name, const uint64_t *vals, unsigned n)
{
	fdt64_t cells[VM_MAX_REGIONS * 4 > VM_MAX_VCPUS ? VM_MAX_REGIONS * 4 : VM_MAX_VCPUS];

	for (unsigned i = 0; i < n; i++)
		cells[i] = cpu_to_fdt64(vals[i]);
	return fdt_property(fdt, name, cells, n * sizeof(cells[0]));
}

static int write_vm(void *fdt, const struct vm_in *v)
{
	const struct vm_config *c = &v->cfg;
	uint64_t regions[VM_MAX_REGIONS * 4];
	char node[32];
	int r = 0;

	snprintf(node, sizeof(node), "vm@%x", c->id);
	for (unsigned i = 0; i < c->nregions; i++) {
		regions[4 * i] = c->regions[i].gpa;
		regions[4 * i + 1] = c->regions[i].size;
		regions[4 * i + 2] = c->regions[i].flags;
		regions[4 * i + 3] = (uint64_t)c->regions[i].map_type;
	}
	r = r ?: fdt_begin_node(fdt, node);
	r = r ?: fdt_property_u32(fdt, VMDTB_P_ID, c->id);
	r = r ?: fdt_property_string(fdt, VMDTB_P_NAME, c->name);
	r = r ?: fdt_property_u32(fdt, VMDTB_P_CPU_NUM, c->cpu_num);
	if (c->n_phys_cpu_ids)
		r = r ?: prop_u64_list(fdt, VMDTB_P_PHYS_CPU_IDS, c->phys_cpu_ids, c->n_phys_cpu_ids);
	if (c->n_phys_cpu_sets)
		r = r ?: prop_u64_list(fdt, VMDTB_P_PHYS_CPU_SETS, c->phys_cpu_sets, c->n_phys_cpu_sets);
	r = r ?: prop_u64_list(fdt, VMDTB_P_MEMORY_REGIONS, regions, 4 * c->nregions);
	r = r ?: fdt_property_string(fdt, VMDTB_P_CMDLINE, c->cmdline);
	if (c->has_entry_point)
		r = r ?: prop_u64(fdt, VMDTB_P_ENTRY_POINT, c->entry_point);
	if (c->has_kernel_load_addr)
		r = r ?: prop_u64(fdt, VMDTB_P_KERNEL_LOAD_ADDR, c->kernel_load_addr);
	if (c->has_ramdisk_load_addr)
		r = r ?: prop_u64(fdt, VMDTB_P_RAMDISK_LOAD_ADDR, c->ramdisk_load_addr);
	if (c->has_dtb_load_addr)
		r = r ?: prop_u64(fdt, VMDTB_P_DTB_LOAD_ADDR, c->dtb_load_addr);
	r = r ?: fdt_property_u32(fdt, VMDTB_P_UNMAPPED_ACCESS, (uint32_t)c->unmapped_access);
	r = r ?: fdt_property_string(fdt, VMDTB_P_KERNEL_FORMAT, v->linux_image ? "linux" : "raw");
	r = r ?: prop_pair(fdt, VMDTB_P_KERNEL, v->kernel_addr, v->kernel_size);
	if (v->ramdisk_size)
		r = r ?: prop_pair(fdt, VMDTB_P_RAMDISK, v->ramdisk_addr, v->ramdisk_size);
	if (v->dtb_size)
		r = r ?: prop_pair(fdt, VMDTB_P_DTB, v->dtb_addr, v->dtb_size);
	r = r ?: fdt_end_node(fdt);
	return r;
}

int main(int argc, char **argv)
{
	static struct vm_in vms[MAX_VMS];
	static char blob[BLOB_SIZE];
	const char *dir = NULL;
	char err[CONFIG_ERR_MAX], path[4096];
	uint64_t pcpus = 0, total_mem = 0, next, max_pcpu = 0, vcpus = 0;
	bool no_reboot = false;
	unsigned n = 0;
	int r = 0;
	FILE *f;

	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--out") && i + 1 < argc) {
			dir = argv[++i];
		} else if (!strcmp(argv[i], "--pcpus") && i + 1 < argc) {
			if (config_parse_u64(argv[++i], &pcpus, NULL) != 0 || pcpus == 0)
				return usage();
		} else if (!strcmp(argv[i], "--no-reboot")) {
			no_reboot = true;
		} else if (argv[i][0] == '-') {
			return usage();
		} else {
			if (n == MAX_VMS) {
				fprintf(stderr, "cvisor-vmdtb: more than %d configs\n", MAX_VMS);
				return 1;
			}
			vms[n++].file = argv[i];
		}
	}
	if (!dir || n == 0)
		return usage();

	for (unsigned i = 0; i < n; i++) {
		struct vm_in *v = &vms[i];
		struct vm_config *c = &v->cfg;

		if (config_load_file(v->file, c, err, sizeof(err)) != 0 ||
		    config_check_files(c, v->file, err, sizeof(err)) != 0) {
			fprintf(stderr, "%s\n", err);
			return 1;
		}
		for (unsigned j = 0; j < i; j++) {
			if (vms[j].cfg.id == c->id) {
				fprintf(stderr, "%s: base.id: %u is also the id of the VM of %s\n", v->file, c->id,
					vms[j].file);
				return 1;
			}
			if (!strcmp(vms[j].cfg.name, c->name)) {
				fprintf(stderr, "%s: base.name: \"%s\" is also the name of the VM of %s\n", v->file,
					c->name, vms[j].file);
				return 1;
			}
		}
		for (unsigned k = 0; k < c->n_phys_cpu_ids; k++) {
			if (pcpus && c->phys_cpu_ids[k] >= pcpus) {
				fprintf(stderr,
					"%s: base.phys_cpu_ids[%u]: pCPU %llu does not exist (the machine has %llu)\n",
					v->file, k, (unsigned long long)c->phys_cpu_ids[k], (unsigned long long)pcpus);
				return 1;
			}
			if (c->phys_cpu_ids[k] + 1 > max_pcpu)
				max_pcpu = c->phys_cpu_ids[k] + 1;
		}
		for (unsigned k = 0; k < c->n_phys_cpu_sets; k++) {
			uint64_t top = 64 - (uint64_t)__builtin_clzll(c->phys_cpu_sets[k]);

			if (pcpus && top > pcpus) {
				fprintf(stderr, "%s: base.phys_cpu_sets[%u]: names pCPU %llu, the machine has %llu\n",
					v->file, k, (unsigned long long)top - 1, (unsigned long long)pcpus);
				return 1;
			}
			if (top > max_pcpu)
				max_pcpu = top;
		}
		for (unsigned k = 0; k < c->nregions; k++) {
			if (c->regions[k].map_type != VM_MAP_ALLOC) {
				fprintf(stderr,
					"%s: kernel.memory_regions[%u].map_type: only allocated memory on bare metal\n",
					v->file, k);
				return 1;
			}
			total_mem += c->regions[k].size;
		}
		if (total_mem > MAX_TOTAL_MEM) {
			fprintf(stderr, "%s: kernel.memory_regions: more than 16 GiB of VM memory in all\n", v->file);
			return 1;
		}
		vcpus += c->cpu_num;
		if (check_kernel(v, dir, c->id) != 0)
			return 1;
		if (c->ramdisk_path[0] && file_size(c->ramdisk_path, &v->ramdisk_size) != 0) {
			fprintf(stderr, "%s: kernel.ramdisk_path: cannot read %s\n", v->file, c->ramdisk_path);
			return 1;
		}
		if (c->dtb_path[0]) {
			if (file_size(c->dtb_path, &v->dtb_size) != 0 || v->dtb_size > ARM64_DTB_MAX_SIZE) {
				fprintf(stderr, "%s: kernel.dtb_path: %s is not a readable file of at most 2 MiB\n",
					v->file, c->dtb_path);
				return 1;
			}
		}
	}

	/* The files after the blob, each on a fresh 2 MiB boundary. */
	next = VMDTB_ADDR + VMDTB_FILES_OFFSET;
	for (unsigned i = 0; i < n; i++) {
		struct vm_in *v = &vms[i];

		v->kernel_addr = next;
		next = align_up(next + v->kernel_size, VMDTB_FILE_ALIGN);
		if (v->ramdisk_size) {
			v->ramdisk_addr = next;
			next = align_up(next + v->ramdisk_size, VMDTB_FILE_ALIGN);
		}
		if (v->dtb_size) {
			v->dtb_addr = next;
			next = align_up(next + v->dtb_size, VMDTB_FILE_ALIGN);
		}
	}

	r = r ?: fdt_create(blob, sizeof(blob));
	r = r ?: fdt_add_reservemap_entry(blob, VMDTB_ADDR, next - VMDTB_ADDR);
	r = r ?: fdt_finish_reservemap(blob);
	r = r ?: fdt_begin_node(blob, "");
	r = r ?: fdt_property_string(blob, "compatible", VMDTB_COMPATIBLE);
	r = r ?: fdt_property_u32(blob, "#address-cells", 2);
	r = r ?: fdt_property_u32(blob, "#size-cells", 2);
	if (no_reboot)
		r = r ?: fdt_property(blob, "no-reboot", NULL, 0);
	for (unsigned i = 0; i < n && r == 0; i++)
		r = write_vm(blob, &vms[i]);
	r = r ?: fdt_end_node(blob);
	r = r ?: fdt_finish(blob);
	if (r != 0) {
		fprintf(stderr, "cvisor-vmdtb: cannot write the blob: %s\n", fdt_strerror(r));
		return 1;
	}
	snprintf(path, sizeof(path), "%s/vms.dtb", dir);
	f = fopen(path, "wb");
	if (!f || fwrite(blob, 1, fdt_totalsize(blob), f) != fdt_totalsize(blob) || fclose(f) != 0) {
		fprintf(stderr, "cvisor-vmdtb: %s: cannot write: %s\n", path, strerror(errno));
		return 1;
	}
	printf("loader %s 0x%llx\n", path, VMDTB_ADDR);
	for (unsigned i = 0; i < n; i++) {
		const struct vm_in *v = &vms[i];

		printf("loader %s 0x%llx\n", v->kernel_file, (unsigned long long)v->kernel_addr);
		if (v->ramdisk_size)
			printf("loader %s 0x%llx\n", v->cfg.ramdisk_path, (unsigned long long)v->ramdisk_addr);
		if (v->dtb_size)
			printf("loader %s 0x%llx\n", v->cfg.dtb_path, (unsigned long long)v->dtb_addr);
	}
	printf("end 0x%llx\nguest-mem %llu\nvcpus %llu\npcpus %llu\n", (unsigned long long)next,
	       (unsigned long long)total_mem, (unsigned long long)vcpus, (unsigned long long)max_pcpu);
	return 0;
}
