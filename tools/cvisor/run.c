// SPDX-License-Identifier: MIT
/*
 * `cvisor run`: turns the command line into checked VM configs and guest images, then
 * hands them to run_vms (run_vms.c). Everything that can be wrong with the user's input
 * is found here, before any VM exists, so a usage or config error always exits 2 with
 * nothing started (DESIGN.md "The cvisor command").
 */
#include <errno.h>
#include <getopt.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cvisor/errors.h>
#include <cvisor/guest_abi.h>

#include "config_json.h"
#include "cvisor.h"

#define DEMO_CPUS 4
#define DEMO_MEM  (64ull << 20)
#define MEM_MAX	  (64ull << 30) /* a sanity bound for --mem, not a KVM limit */
#define IMAGE_MAX (1ull << 30)

void cmd_run_help(FILE *out)
{
	fprintf(out,
		"usage: cvisor run [OPTION]...\n"
		"\n"
		"Runs virtual machines on /dev/kvm until every one has stopped. With neither --config\n"
		"nor --guest it runs the built-in demo: vCPU 0 starts the others with PSCI CPU_ON, each\n"
		"prints its id, they meet at a hypercall barrier, and vCPU 0 powers the VM off.\n"
		"\n"
		"  --cpus N           vCPUs of the demo or --guest VM (1-%d; default %d)\n"
		"  --mem SIZE         RAM of the demo or --guest VM, at guest-physical 0 (default 64M;\n"
		"                     e.g. 128M, 1G, 0x800_0000)\n"
		"  --guest FILE       run FILE, a flat x86_64 binary loaded and entered at 0x%x\n"
		"  --config FILE      run the VM that FILE (a JSON VM config, see configs/) describes;\n"
		"                     give it once per VM (at most %d)\n"
		"  --stats            print each vCPU's exits by kind on stderr at the end\n"
		"  --timeout SECONDS  stop the VMs after SECONDS (exit status 1); default: no limit\n"
		"  -h, --help         show this help and exit\n"
		"\n"
		"The guest console (a 16550A UART at port 0x3f8) is written to stdout; cvisor's own\n"
		"messages go to stderr. Exit status: 0 every VM powered off; 1 a guest failed (triple\n"
		"fault, failed entry, a VM stopped by cvisor); 2 a usage or config error (nothing was\n"
		"started).\n",
		VM_MAX_VCPUS, DEMO_CPUS, CV_X86_GUEST_LOAD_GPA, RUN_MAX_VMS);
}

static enum cvisor_exit usage_error(const char *fmt, const char *arg)
{
	fputs("cvisor: run: ", stderr);
	fprintf(stderr, fmt, arg);
	fputs(" (see `cvisor run --help`)\n", stderr);
	return CVISOR_EXIT_USAGE;
}

/*
 * Reads a whole file (a guest image or ramdisk). src (the config file, or "run") and key
 * (the config key or option) name it in messages.
 */
static int read_file(const char *src, const char *key, const char *path, void **out, size_t *size)
{
	struct stat st;
	FILE *f;
	void *buf;

	f = fopen(path, "rb");
	if (!f) {
		cvisor_msg("%s: %s: cannot open %s: %s", src, key, path, strerror(errno));
		return -CV_ENOENT;
	}
	if (fstat(fileno(f), &st) < 0 || !S_ISREG(st.st_mode)) {
		cvisor_msg("%s: %s: %s is not a regular file", src, key, path);
		fclose(f);
		return -CV_EINVAL;
	}
	if (st.st_size == 0 || (uint64_t)st.st_size > IMAGE_MAX) {
		cvisor_msg("%s: %s: %s is %s (%lld bytes)", src, key, path,
			   st.st_size == 0 ? "empty" : "too large, over 1G", (long long)st.st_size);
		fclose(f);
		return -CV_EINVAL;
	}
	buf = malloc((size_t)st.st_size);
	if (!buf || fread(buf, 1, (size_t)st.st_size, f) != (size_t)st.st_size) {
		cvisor_msg("%s: %s: cannot read %s: %s", src, key, path, buf ? "short read" : "out of memory");
		free(buf);
		fclose(f);
		return -CV_EIO;
	}
	fclose(f);
	*out = buf;
	*size = (size_t)st.st_size;
	return 0;
}

/* True when [addr, addr + len) lies inside one memory region of cfg. */
static bool fits_in_ram(const struct vm_config *cfg, uint64_t addr, uint64_t len)
{
	for (unsigned i = 0; i < cfg->nregions; i++)
		if (cv_range_within(cfg->regions[i].gpa, cfg->regions[i].size, addr, len))
			return true;
	return false;
}

/*
 * What this host cannot do with a valid config: identity-mapped regions (there is no
 * host-physical memory to map under KVM), a region holding part of the boot area, pCPUs
 * this machine lacks, device trees and command lines (flat x86_64 guests have neither).
 */
static int check_hosted(const struct run_vm *v)
{
	const struct vm_config *cfg = &v->cfg;
	long ncpus = sysconf(_SC_NPROCESSORS_CONF);
	uint64_t host_mask;

	if (ncpus < 1)
		ncpus = 1;
	host_mask = ncpus >= 64 ? UINT64_MAX : (1ull << ncpus) - 1;
	for (unsigned i = 0; i < cfg->nregions; i++) {
		if (cfg->regions[i].map_type == VM_MAP_IDENTICAL) {
			cvisor_msg("%s: kernel.memory_regions[%u]: map_type identical (1) is not possible when hosted: "
				   "use 0 (alloc)",
				   v->source, i);
			return -CV_ENOTSUP;
		}
	}
	/*
	 * The KVM backend puts the boot GDT, TSS and page tables at CV_X86_BOOT_AREA_GPA: in a
	 * region that holds the whole area, or in pages of its own when no region touches it.
	 * A region holding part of it is refused (guest_abi.h); say so here, by key.
	 */
	for (unsigned i = 0; i < cfg->nregions; i++) {
		const struct vm_mem_region *r = &cfg->regions[i];
		uint64_t a = CV_X86_BOOT_AREA_GPA, a_end = a + CV_X86_BOOT_AREA_SIZE;

		if (r->gpa < a_end && a < r->gpa + r->size && !cv_range_within(r->gpa, r->size, a, a_end - a)) {
			cvisor_msg("%s: kernel.memory_regions[%u]: holds part of the x86 boot area [0x%llx, 0x%llx): "
				   "a region must hold all of it or none",
				   v->source, i, (unsigned long long)a, (unsigned long long)a_end);
			return -CV_EINVAL;
		}
	}
	for (unsigned i = 0; i < cfg->n_phys_cpu_ids; i++) {
		if (cfg->phys_cpu_ids[i] >= (uint64_t)ncpus) {
			cvisor_msg("%s: base.phys_cpu_ids[%u]: host CPU %llu does not exist (this host has %ld: 0-%ld)",
				   v->source, i, (unsigned long long)cfg->phys_cpu_ids[i], ncpus, ncpus - 1);
			return -CV_EINVAL;
		}
	}
	for (unsigned i = 0; i < cfg->n_phys_cpu_sets; i++) {
		if (!(cfg->phys_cpu_sets[i] & host_mask)) {
			cvisor_msg("%s: base.phys_cpu_sets[%u]: mask 0x%llx names no CPU of this host (it has %ld)",
				   v->source, i, (unsigned long long)cfg->phys_cpu_sets[i], ncpus);
			return -CV_EINVAL;
		}
	}
	if (cfg->dtb_path[0]) {
		cvisor_msg("%s: kernel.dtb_path: x86_64 guests take no device tree", v->source);
		return -CV_ENOTSUP;
	}
	if (cfg->cmdline[0]) {
		cvisor_msg("%s: kernel.cmdline: flat x86_64 guests take no command line", v->source);
		return -CV_ENOTSUP;
	}
	if (cfg->ramdisk_path[0] && !cfg->has_ramdisk_load_addr) {
		cvisor_msg("%s: kernel.ramdisk_path: needs kernel.ramdisk_load_addr (flat guests have no boot protocol "
			   "to place it)",
			   v->source);
		return -CV_EINVAL;
	}
	return 0;
}

/* Fills in the image (and ramdisk) of v and checks that they fit in its RAM. */
static int attach_images(struct run_vm *v, const char *guest_path)
{
	struct vm_config *cfg = &v->cfg;
	const char *key = cfg->kernel_path[0] ? "kernel.kernel_path" : "--guest";
	const char *path = cfg->kernel_path[0] ? cfg->kernel_path : guest_path;
	bool from_config = cfg->kernel_path[0] != '\0';
	int rc;

	if (path) {
		rc = read_file(v->source, key, path, &v->image_buf, &v->image_size);
		if (rc < 0)
			return rc;
		v->image = v->image_buf;
	} else {
		v->image_size = cvisor_demo_image(&v->image);
		if (!v->image_size) {
			cvisor_msg("%s: this cvisor was built without the demo guest: give --guest FILE", v->source);
			return -CV_ENOENT;
		}
	}
	/* A flat image runs where it is loaded unless the config says otherwise. */
	if (!cfg->has_kernel_load_addr) {
		cfg->has_kernel_load_addr = true;
		cfg->kernel_load_addr = CV_X86_GUEST_LOAD_GPA;
	}
	if (!cfg->has_entry_point) {
		cfg->has_entry_point = true;
		cfg->entry_point = cfg->kernel_load_addr;
	}
	if (!fits_in_ram(cfg, cfg->kernel_load_addr, v->image_size)) {
		cvisor_msg("%s: %s: the guest image (%zu bytes at 0x%llx) does not fit in one memory region", v->source,
			   from_config ? "kernel.kernel_load_addr" : "--mem", v->image_size,
			   (unsigned long long)cfg->kernel_load_addr);
		return -CV_ERANGE;
	}
	if (!fits_in_ram(cfg, cfg->entry_point, 1)) {
		cvisor_msg("%s: kernel.entry_point: 0x%llx is outside guest memory", v->source,
			   (unsigned long long)cfg->entry_point);
		return -CV_EFAULT;
	}
	if (cfg->ramdisk_path[0]) {
		uint64_t r = cfg->ramdisk_load_addr, k = cfg->kernel_load_addr;

		rc = read_file(v->source, "kernel.ramdisk_path", cfg->ramdisk_path, &v->ramdisk_buf, &v->ramdisk_size);
		if (rc < 0)
			return rc;
		if (!fits_in_ram(cfg, r, v->ramdisk_size)) {
			cvisor_msg(
			    "%s: kernel.ramdisk_load_addr: the ramdisk (%zu bytes at 0x%llx) does not fit in one "
			    "memory region",
			    v->source, v->ramdisk_size, (unsigned long long)r);
			return -CV_ERANGE;
		}
		if (r < k + v->image_size && k < r + v->ramdisk_size) {
			cvisor_msg("%s: kernel.ramdisk_load_addr: the ramdisk at 0x%llx overlaps the guest image "
				   "[0x%llx, 0x%llx)",
				   v->source, (unsigned long long)r, (unsigned long long)k,
				   (unsigned long long)(k + v->image_size));
			return -CV_EEXIST;
		}
	}
	return 0;
}

static void run_opts_free(struct run_opts *o)
{
	for (unsigned i = 0; i < o->nvms; i++) {
		free(o->vms[i].image_buf);
		free(o->vms[i].ramdisk_buf);
	}
}

/* The VM of the demo or of --guest: one RAM region at 0, the image at the load address. */
static void default_vm(struct run_vm *v, unsigned cpus, uint64_t mem, const char *guest)
{
	struct vm_config *cfg = &v->cfg;

	memset(v, 0, sizeof(*v));
	snprintf(v->source, sizeof(v->source), "run");
	cfg->id = 0;
	snprintf(cfg->name, sizeof(cfg->name), "%s", guest ? "guest" : "demo");
	cfg->cpu_num = cpus;
	cfg->nregions = 1;
	cfg->regions[0].gpa = 0;
	cfg->regions[0].size = mem;
	cfg->unmapped_access = UNMAPPED_DEFAULT;
}

enum { OPT_CPUS = 256, OPT_MEM, OPT_GUEST, OPT_CONFIG, OPT_STATS, OPT_TIMEOUT };

enum cvisor_exit cmd_run(int argc, char **argv)
{
	static const struct option longopts[] = {
	    {"cpus", required_argument, NULL, OPT_CPUS},
	    {"mem", required_argument, NULL, OPT_MEM},
	    {"guest", required_argument, NULL, OPT_GUEST},
	    {"config", required_argument, NULL, OPT_CONFIG},
	    {"stats", no_argument, NULL, OPT_STATS},
	    {"timeout", required_argument, NULL, OPT_TIMEOUT},
	    {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0},
	};
	static struct run_opts o; /* large (VM configs): not on the stack */
	const char *configs[RUN_MAX_VMS];
	unsigned nconfigs = 0;
	const char *guest = NULL, *cpus_arg = NULL, *mem_arg = NULL;
	unsigned cpus = DEMO_CPUS;
	uint64_t mem = DEMO_MEM, v;
	const char *why;
	enum cvisor_exit status;
	char err[CONFIG_ERR_MAX];
	int opt;

	memset(&o, 0, sizeof(o));
	opterr = 0; /* our own messages, in our own format */
	optind = 1;
	while ((opt = getopt_long(argc, argv, "+:h", longopts, NULL)) != -1) {
		switch (opt) {
		case 'h':
			cmd_run_help(stdout);
			return CVISOR_EXIT_OK;
		case OPT_CPUS:
			cpus_arg = optarg;
			if (config_parse_u64(optarg, &v, &why) < 0 || v < 1 || v > VM_MAX_VCPUS)
				return usage_error("--cpus '%s': give a number of vCPUs from 1 to 64", optarg);
			cpus = (unsigned)v;
			break;
		case OPT_MEM:
			mem_arg = optarg;
			if (config_parse_u64(optarg, &v, &why) < 0)
				return usage_error("--mem '%s': not a size (e.g. 64M, 1G, 0x400_0000)", optarg);
			if (v == 0 || v % CONFIG_PAGE_SIZE || v > MEM_MAX)
				return usage_error("--mem '%s': give a multiple of 4K, at most 64G", optarg);
			mem = v;
			break;
		case OPT_GUEST:
			if (guest)
				return usage_error("--guest given twice ('%s'): one flat guest per run", optarg);
			guest = optarg;
			break;
		case OPT_CONFIG:
			if (nconfigs == RUN_MAX_VMS)
				return usage_error("--config '%s': too many VMs (at most 8)", optarg);
			configs[nconfigs++] = optarg;
			break;
		case OPT_STATS:
			o.stats = true;
			break;
		case OPT_TIMEOUT:
			if (config_parse_u64(optarg, &v, &why) < 0 || v == 0 || v > 86400)
				return usage_error("--timeout '%s': give whole seconds, 1 to 86400", optarg);
			o.timeout_s = (unsigned)v;
			break;
		case ':':
			return usage_error("%s needs a value", argv[optind - 1]);
		case '?':
		default:
			return usage_error("unknown option '%s'", argv[optind - 1]);
		}
	}
	if (optind < argc)
		return usage_error("unexpected argument '%s'", argv[optind]);
	if (nconfigs && (guest || cpus_arg || mem_arg))
		return usage_error("%s applies to the demo or --guest VM, not to --config VMs (set it in the config)",
				   guest      ? "--guest"
				   : cpus_arg ? "--cpus"
					      : "--mem");

	if (!nconfigs) {
		default_vm(&o.vms[0], cpus, mem, guest);
		o.nvms = 1;
		if (config_check(&o.vms[0].cfg, "command line", err, sizeof(err)) < 0) {
			cvisor_msg("%s", err);
			return CVISOR_EXIT_USAGE;
		}
		if (attach_images(&o.vms[0], guest) < 0) {
			status = CVISOR_EXIT_USAGE;
			goto out;
		}
	}
	for (unsigned i = 0; i < nconfigs; i++) {
		struct run_vm *vm = &o.vms[o.nvms++];

		snprintf(vm->source, sizeof(vm->source), "%s", configs[i]);
		if (config_load_file(configs[i], &vm->cfg, err, sizeof(err)) < 0 ||
		    config_check_files(&vm->cfg, configs[i], err, sizeof(err)) < 0) {
			cvisor_msg("%s", err);
			status = CVISOR_EXIT_USAGE;
			goto out;
		}
		for (unsigned j = 0; j < i; j++) {
			if (o.vms[j].cfg.id == vm->cfg.id) {
				cvisor_msg("%s: base.id: %u is also the id of %s's VM", vm->source, vm->cfg.id,
					   o.vms[j].source);
				status = CVISOR_EXIT_USAGE;
				goto out;
			}
		}
	}
	for (unsigned i = 0; i < nconfigs; i++) {
		if (check_hosted(&o.vms[i]) < 0 || attach_images(&o.vms[i], NULL) < 0) {
			status = CVISOR_EXIT_USAGE;
			goto out;
		}
	}
	status = run_vms(&o);
out:
	run_opts_free(&o);
	return status;
}
