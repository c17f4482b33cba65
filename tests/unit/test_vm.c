/* SPDX-License-Identifier: MIT */
/* Unit tests of core/vm.c and core/bus.c on the fake arch (issue #4). */
#define _GNU_SOURCE
#include <pthread.h>
#include <string.h>
#include <time.h>

#include <cvisor/device.h>
#include <cvisor/errors.h>
#include <cvisor/hal.h>
#include <cvisor/vm.h>

#include "support/unit.h"

#define TOP_PAGE 0xFFFFFFFFFFFFF000ull

static void base_config(struct vm_config *cfg, unsigned ncpus, enum unmapped_policy policy)
{
	memset(cfg, 0, sizeof(*cfg));
	cfg->id = 3;
	strcpy(cfg->name, "test");
	cfg->cpu_num = ncpus;
	cfg->has_entry_point = true;
	cfg->entry_point = 0x8000;
	/* Two adjacent regions and one page at the very top of the address space. */
	cfg->nregions = 3;
	cfg->regions[0] = (struct vm_mem_region){.gpa = 0, .size = 0x10000};
	cfg->regions[1] = (struct vm_mem_region){.gpa = 0x10000, .size = 0x10000, .flags = CV_MAP_READ};
	cfg->regions[2] = (struct vm_mem_region){.gpa = TOP_PAGE, .size = 0x1000};
	cfg->unmapped_access = policy;
}

static struct vm *new_vm(unsigned ncpus, enum unmapped_policy policy)
{
	struct vm_config cfg;
	struct vm *vm = NULL;

	base_config(&cfg, ncpus, policy);
	assert_int_equal(vm_create(&vm, &cfg), 0);
	assert_non_null(vm);
	return vm;
}

/* A test device: answers reads with `value`, records the last access. */
struct tdev {
	uint64_t value;
	uint64_t last_off, last_val;
	enum access_width last_width;
	uint32_t last_vcpu;
	unsigned reads, writes, releases;
	int err;
};

static int tdev_read(void *dev, uint32_t vcpu_id, uint64_t offset, enum access_width width, uint64_t *val)
{
	struct tdev *d = dev;

	d->reads++;
	d->last_off = offset;
	d->last_width = width;
	d->last_vcpu = vcpu_id;
	*val = d->value; /* deliberately unmasked: the bus masks */
	return d->err;
}

static int tdev_write(void *dev, uint32_t vcpu_id, uint64_t offset, enum access_width width, uint64_t val)
{
	struct tdev *d = dev;

	d->writes++;
	d->last_off = offset;
	d->last_width = width;
	d->last_val = val;
	d->last_vcpu = vcpu_id;
	return d->err;
}

static void tdev_release(void *dev)
{
	((struct tdev *)dev)->releases++;
}

static const struct device_ops tdev_ops = {tdev_read, tdev_write, tdev_release};
static const struct device_ops tdev_ops_norel = {tdev_read, tdev_write, NULL};

static void script(struct vm *vm, uint32_t id, struct vcpu_exit e)
{
	assert_true(fake_script_exit(&vm_vcpu(vm, id)->arch, &e));
}

static struct vcpu_exit hypercall(uint64_t nr)
{
	return (struct vcpu_exit){.kind = VCPU_EXIT_HYPERCALL, .hypercall = {.nr = nr}};
}

static void test_create(void **state)
{
	struct vm_config cfg;
	struct vm *vm;

	(void)state;
	base_config(&cfg, 4, UNMAPPED_DEFAULT);
	cfg.n_phys_cpu_ids = 2;
	cfg.phys_cpu_ids[0] = 1;
	cfg.phys_cpu_ids[1] = 0;
	cfg.n_phys_cpu_sets = 3;
	cfg.phys_cpu_sets[2] = 0xc;
	cfg.has_dtb_load_addr = true;
	cfg.dtb_load_addr = 0x4000;
	assert_int_equal(vm_create(&vm, &cfg), 0);
	assert_int_equal(vm_status(vm), VM_STATUS_LOADED);
	assert_int_equal(vm_id(vm), 3);
	assert_string_equal(vm_name(vm), "test");
	assert_int_equal(vm_vcpu_count(vm), 4);
	assert_int_equal(vm_unmapped_policy(vm), UNMAPPED_IGNORE); /* the x86 default */
	for (uint32_t i = 0; i < 4; i++) {
		struct vcpu *v = vm_vcpu(vm, i);

		assert_non_null(v);
		assert_int_equal(vcpu_id(v), i);
		assert_int_equal(vcpu_vm_id(v), 3);
		assert_int_equal(vcpu_state(v), VCPU_STATE_FREE);
		assert_true(v->arch.setup_done);
		assert_int_equal(v->arch.entry.v, i == 0 ? 0x8000 : 0);
		assert_int_equal(v->arch.ept_root.v, 0x4000); /* fake: 0x1000 * (vm_id + 1) */
		assert_int_equal(v->arch.boot_arg, 0x4000);
	}
	assert_null(vm_vcpu(vm, 4));
	assert_int_equal(vcpu_favor_phys_cpu(vm_vcpu(vm, 0)), 1);
	assert_int_equal(vcpu_phys_cpu_set(vm_vcpu(vm, 0)), 0x2);
	assert_int_equal(vcpu_favor_phys_cpu(vm_vcpu(vm, 1)), 0);
	assert_int_equal(vcpu_phys_cpu_set(vm_vcpu(vm, 1)), 0x1);
	assert_int_equal(vcpu_favor_phys_cpu(vm_vcpu(vm, 2)), 2);
	assert_int_equal(vcpu_phys_cpu_set(vm_vcpu(vm, 2)), 0xc);
	assert_int_equal(vcpu_phys_cpu_set(vm_vcpu(vm, 3)), 0); /* floats */
	/* RAM is zeroed and mapped where the config says, with its flags. */
	void *p;
	assert_int_equal(vm_guest_ptr(vm, gpa(0x10000), 0x10000, &p), 0);
	for (unsigned i = 0; i < 0x10000; i++)
		assert_int_equal(((uint8_t *)p)[i], 0);
	vm_destroy(vm);
}

static void test_create_maps(void **state)
{
	struct vm *vm = new_vm(1, UNMAPPED_DEFAULT);
	struct vm_arch *arch = vm_vcpu(vm, 0)->arch.vm;
	void *p;

	(void)state;
	assert_non_null(arch);
	assert_true(arch->created);
	assert_int_equal(arch->nmaps, 3);
	assert_int_equal(arch->maps[0].gpa.v, 0);
	assert_int_equal(arch->maps[0].size, 0x10000);
	assert_int_equal(arch->maps[0].flags, CV_MAP_READ | CV_MAP_WRITE | CV_MAP_EXEC); /* 0 = rwx */
	assert_int_equal(arch->maps[1].gpa.v, 0x10000);
	assert_int_equal(arch->maps[1].flags, CV_MAP_READ);
	assert_int_equal(arch->maps[2].gpa.v, TOP_PAGE);
	/* The host memory mapped is what the guest-memory helpers reach. */
	assert_int_equal(vm_guest_ptr(vm, gpa(0x10010), 1, &p), 0);
	assert_ptr_equal(p, (uint8_t *)arch->maps[1].host + 0x10);
	vm_destroy(vm);
}

static void test_create_errors(void **state)
{
	struct vm_config cfg;
	struct vm *vm = (struct vm *)1;

	(void)state;
	base_config(&cfg, 0, UNMAPPED_DEFAULT);
	assert_int_equal(vm_create(&vm, &cfg), -CV_EINVAL);
	assert_null(vm);
	base_config(&cfg, VM_MAX_VCPUS + 1, UNMAPPED_DEFAULT);
	assert_int_equal(vm_create(&vm, &cfg), -CV_EINVAL);
	base_config(&cfg, 1, UNMAPPED_DEFAULT);
	cfg.regions[1].gpa = 0x8000; /* overlaps region 0 */
	assert_int_equal(vm_create(&vm, &cfg), -CV_EINVAL);
	base_config(&cfg, 1, UNMAPPED_DEFAULT);
	cfg.regions[1].size = 0x123; /* unaligned */
	assert_int_equal(vm_create(&vm, &cfg), -CV_EINVAL);
	base_config(&cfg, 1, UNMAPPED_DEFAULT);
	cfg.regions[2].size = 0x2000; /* wraps past 2^64 */
	assert_int_equal(vm_create(&vm, &cfg), -CV_EINVAL);
	base_config(&cfg, 1, UNMAPPED_DEFAULT);
	cfg.nregions = 0;
	assert_int_equal(vm_create(&vm, &cfg), -CV_EINVAL);
	base_config(&cfg, 1, UNMAPPED_DEFAULT);
	cfg.n_phys_cpu_ids = 1;
	cfg.phys_cpu_ids[0] = 64;
	assert_int_equal(vm_create(&vm, &cfg), -CV_EINVAL);
	base_config(&cfg, 1, UNMAPPED_DEFAULT);
	cfg.n_phys_cpu_ids = 2;
	assert_int_equal(vm_create(&vm, &cfg), -CV_EINVAL);
	assert_int_equal(vm_create(NULL, &cfg), -CV_EINVAL);
	assert_int_equal(vm_create(&vm, NULL), -CV_EINVAL);

	/* Backend failures at each step unwind everything (ASan checks the leaks). */
	base_config(&cfg, 3, UNMAPPED_DEFAULT);
	fake_fail_next_vm_create(-CV_EIO);
	assert_int_equal(vm_create(&vm, &cfg), -CV_EIO);
	fake_fail_next_vm_map(-CV_ENOMEM);
	assert_int_equal(vm_create(&vm, &cfg), -CV_ENOMEM);
	fake_fail_next_create(-CV_EIO);
	assert_int_equal(vm_create(&vm, &cfg), -CV_EIO);
	assert_null(vm);
}

/* Reaches each status a test can name, from a fresh VM. */
static struct vm *vm_in(enum vm_status st)
{
	struct vm *vm = new_vm(1, UNMAPPED_DEFAULT);

	if (st >= VM_STATUS_RUNNING)
		assert_int_equal(vm_boot(vm), 0);
	if (st == VM_STATUS_SUSPENDED)
		assert_int_equal(vm_suspend(vm), 0);
	if (st >= VM_STATUS_STOPPING)
		assert_int_equal(vm_shutdown(vm, NULL), 0);
	if (st == VM_STATUS_STOPPED)
		assert_int_equal(vm_mark_stopped(vm), 0);
	assert_int_equal(vm_status(vm), st);
	return vm;
}

static void test_status_matrix(void **state)
{
	enum vop { BOOT, SUSPEND, RESUME, SHUTDOWN, MARK_STOPPED, VOP_COUNT };
	static const char *const names[] = {"boot", "suspend", "resume", "shutdown", "mark_stopped"};
	/* to[op][from]: the status after a legal op, or -1 when the op is refused. */
	static const int to[VOP_COUNT][VM_STATUS_STOPPED + 1] = {
	    [BOOT] = {-1, VM_STATUS_RUNNING, -1, -1, -1, -1},
	    [SUSPEND] = {-1, -1, VM_STATUS_SUSPENDED, -1, -1, -1},
	    [RESUME] = {-1, -1, -1, VM_STATUS_RUNNING, -1, -1},
	    [SHUTDOWN] = {-1, VM_STATUS_STOPPING, VM_STATUS_STOPPING, VM_STATUS_STOPPING, -1, -1},
	    [MARK_STOPPED] = {-1, -1, -1, -1, VM_STATUS_STOPPED, -1},
	};

	(void)state;
	for (int st = VM_STATUS_LOADED; st <= VM_STATUS_STOPPED; st++) {
		for (int op = 0; op < VOP_COUNT; op++) {
			struct vm *vm = vm_in((enum vm_status)st);
			int ret;

			switch (op) {
			case BOOT:
				ret = vm_boot(vm);
				break;
			case SUSPEND:
				ret = vm_suspend(vm);
				break;
			case RESUME:
				ret = vm_resume(vm);
				break;
			case SHUTDOWN:
				ret = vm_shutdown(vm, NULL);
				break;
			default:
				ret = vm_mark_stopped(vm);
				break;
			}
			print_message("# %-9s x %-12s -> %d %s\n", vm_status_name((enum vm_status)st), names[op], ret,
				      vm_status_name(vm_status(vm)));
			if (to[op][st] < 0) {
				assert_int_equal(ret, -CV_EBADSTATE);
				assert_int_equal(vm_status(vm), st);
			} else {
				assert_int_equal(ret, 0);
				assert_int_equal(vm_status(vm), to[op][st]);
			}
			vm_destroy(vm);
		}
	}
}

static void test_stop_reason_first_wins(void **state)
{
	struct vm *vm = vm_in(VM_STATUS_RUNNING);
	struct vm_stop_reason off = {.kind = VM_STOP_POWER_OFF, .vcpu_id = 0};
	struct vm_stop_reason r;

	(void)state;
	vm_get_stop_reason(vm, &r);
	assert_int_equal(r.kind, VM_STOP_NONE);
	assert_int_equal(vm_shutdown(vm, &off), 0);
	assert_int_equal(vm_shutdown(vm, NULL), -CV_EBADSTATE);
	vm_get_stop_reason(vm, &r);
	assert_int_equal(r.kind, VM_STOP_POWER_OFF);
	assert_string_equal(vm_stop_kind_name(r.kind), "powered off");
	/* No re-init of a shut-down VM. */
	assert_int_equal(vm_mark_stopped(vm), 0);
	assert_int_equal(vm_boot(vm), -CV_EBADSTATE);
	assert_int_equal(vm_status(vm), VM_STATUS_STOPPED);
	vm_destroy(vm);
}

static void test_bus_overlap(void **state)
{
	static struct bus bus;
	struct tdev d = {0};

	(void)state;
	memset(&bus, 0, sizeof(bus));
	assert_int_equal(bus_register(&bus, 0x1000, 0x100, &tdev_ops_norel, &d, "a"), 0);
	assert_int_equal(bus_register(&bus, 0x1000, 0x100, &tdev_ops_norel, &d, "same"), -CV_EEXIST);
	assert_int_equal(bus_register(&bus, 0x0f80, 0x100, &tdev_ops_norel, &d, "left"), -CV_EEXIST);
	assert_int_equal(bus_register(&bus, 0x10ff, 0x10, &tdev_ops_norel, &d, "right"), -CV_EEXIST);
	assert_int_equal(bus_register(&bus, 0x0800, 0x1000, &tdev_ops_norel, &d, "around"), -CV_EEXIST);
	assert_int_equal(bus_register(&bus, 0x1010, 0x10, &tdev_ops_norel, &d, "inside"), -CV_EEXIST);
	/* Adjacent on both sides is fine. */
	assert_int_equal(bus_register(&bus, 0x0f00, 0x100, &tdev_ops_norel, &d, "below"), 0);
	assert_int_equal(bus_register(&bus, 0x1100, 0x100, &tdev_ops_norel, &d, "above"), 0);
	assert_int_equal(bus_register(&bus, 0x5000, 0, &tdev_ops_norel, &d, "empty"), -CV_EINVAL);
	assert_int_equal(bus_register(&bus, UINT64_MAX, 2, &tdev_ops_norel, &d, "wraps"), -CV_EINVAL);
	assert_int_equal(bus_register(&bus, UINT64_MAX, 1, &tdev_ops_norel, &d, "last byte"), 0);
	assert_int_equal(bus_register(&bus, 0x9000, 1, NULL, &d, "no ops"), -CV_EINVAL);
	assert_int_equal(bus.n, 4);
	for (unsigned i = 1; i < bus.n; i++)
		assert_true(bus.ranges[i - 1].base < bus.ranges[i].base);
	/* Lookups: inside, at both ends, straddling an end, in a gap. */
	assert_string_equal(bus_find(&bus, 0x1000, 4)->name, "a");
	assert_string_equal(bus_find(&bus, 0x10fc, 4)->name, "a");
	assert_null(bus_find(&bus, 0x10fe, 4)); /* straddles a and above */
	assert_string_equal(bus_find(&bus, 0x0f00, 1)->name, "below");
	assert_null(bus_find(&bus, 0x0eff, 1));
	assert_null(bus_find(&bus, 0x1200, 1));
	assert_string_equal(bus_find(&bus, UINT64_MAX, 1)->name, "last byte");
	assert_null(bus_find(&bus, UINT64_MAX, 2));
	uint64_t v;
	assert_int_equal(bus_read(&bus, 0, 0x1200, ACCESS_WIDTH_1, &v), -CV_ENODEV);
	assert_int_equal(bus_read(&bus, 0, 0x1000, (enum access_width)3, &v), -CV_ERANGE);
	/* Full. */
	for (unsigned i = bus.n; i < BUS_MAX_RANGES; i++)
		assert_int_equal(bus_register(&bus, 0x100000 + i * 0x10, 0x10, &tdev_ops_norel, &d, "fill"), 0);
	assert_int_equal(bus_register(&bus, 0x900000, 0x10, &tdev_ops_norel, &d, "one too many"), -CV_ENOMEM);
	bus_release(&bus);
	assert_int_equal(bus.n, 0);
}

/* A model of the bus: a plain list of ranges, searched linearly, with 128-bit ends. */
struct model_range {
	uint64_t base, size;
};

static bool model_overlaps(const struct model_range *m, unsigned n, uint64_t base, uint64_t size)
{
	for (unsigned i = 0; i < n; i++) {
		unsigned __int128 a0 = base, a1 = (unsigned __int128)base + size;
		unsigned __int128 b0 = m[i].base, b1 = (unsigned __int128)m[i].base + m[i].size;

		if (a0 < b1 && b0 < a1)
			return true;
	}
	return false;
}

/* The index of the model range holding all of [addr, addr + len), or -1. */
static int model_find(const struct model_range *m, unsigned n, uint64_t addr, uint64_t len)
{
	for (unsigned i = 0; i < n; i++)
		if (addr >= m[i].base && (unsigned __int128)addr + len <= (unsigned __int128)m[i].base + m[i].size)
			return (int)i;
	return -1;
}

static uint64_t bus_rng = 88172645463325252ull;

static uint64_t bus_rand(void)
{
	bus_rng ^= bus_rng << 13;
	bus_rng ^= bus_rng >> 7;
	bus_rng ^= bus_rng << 17;
	return bus_rng;
}

/* Addresses that bunch up at 0, near 4 GiB and at the very top, where the edge cases are. */
static uint64_t bus_addr(void)
{
	static const uint64_t bases[] = {0, 0xfff00000ull, 0xfffffffffff00000ull, 0xffffffffffffff00ull};

	return bases[bus_rand() % 4] + bus_rand() % 0x100000;
}

/*
 * bus_register / bus_find / bus_read against the model: thousands of random
 * registrations (sizes 0 and 1 to the end of the address space included) and lookups
 * of every width, at the top of the address space too.
 */
static void test_bus_model(void **state)
{
	static struct bus bus;
	struct model_range m[BUS_MAX_RANGES];
	struct tdev d = {0};

	(void)state;
	for (unsigned round = 0; round < 40; round++) {
		unsigned n = 0;

		memset(&bus, 0, sizeof(bus));
		for (unsigned i = 0; i < 300; i++) {
			uint64_t base = bus_addr(), size;
			int want, got;

			switch (bus_rand() % 4) {
			case 0:
				size = bus_rand() % 3;
				break;
			case 1:
				size = 0 - base; /* to the end of the address space (0 when base is 0) */
				break;
			default:
				size = 1 + bus_rand() % 0x2000;
				break;
			}
			if (size == 0 || base + (size - 1) < base)
				want = -CV_EINVAL;
			else if (model_overlaps(m, n, base, size))
				want = -CV_EEXIST;
			else if (n == BUS_MAX_RANGES)
				want = -CV_ENOMEM;
			else
				want = 0;
			got = bus_register(&bus, base, size, &tdev_ops_norel, &d, "r");
			if (got != want)
				fail_msg("register [%#llx, +%#llx): %d, model says %d", (unsigned long long)base,
					 (unsigned long long)size, got, want);
			if (got == 0)
				m[n++] = (struct model_range){base, size};
		}
		assert_int_equal(bus.n, n);
		for (unsigned i = 1; i < bus.n; i++)
			assert_true(bus.ranges[i - 1].base + (bus.ranges[i - 1].size - 1) < bus.ranges[i].base);
		for (unsigned i = 0; i < 2000; i++) {
			static const uint64_t lens[] = {1, 2, 4, 8};
			uint64_t addr = i % 3 == 0 && n ? m[bus_rand() % n].base + bus_rand() % 16 - 8 : bus_addr();
			uint64_t len = lens[bus_rand() % 4];
			const struct bus_range *r = bus_find(&bus, addr, len);
			int k = model_find(m, n, addr, len);
			uint64_t v = 0;

			if (k < 0) {
				assert_null(r);
				assert_int_equal(bus_read(&bus, 0, addr, (enum access_width)len, &v), -CV_ENODEV);
			} else {
				assert_non_null(r);
				assert_int_equal(r->base, m[k].base);
				assert_int_equal(bus_read(&bus, 0, addr, (enum access_width)len, &v), 0);
				assert_int_equal(d.last_off, addr - m[k].base);
			}
		}
	}
}

static void test_add_device(void **state)
{
	struct vm *vm = new_vm(1, UNMAPPED_DEFAULT);
	struct tdev d = {0};

	(void)state;
	assert_int_equal(vm_add_device(vm, BUS_MMIO, 0x9000000, 0x1000, &tdev_ops, &d, "dev"), 0);
	assert_int_equal(vm_add_device(vm, BUS_MMIO, 0x9000800, 0x1000, &tdev_ops_norel, &d, "dup"), -CV_EEXIST);
	assert_int_equal(vm_add_device(vm, BUS_PIO, 0xfff0, 0x20, &tdev_ops_norel, &d, "past 64K"), -CV_EINVAL);
	assert_int_equal(vm_add_device(vm, BUS_SPACE_COUNT, 0, 1, &tdev_ops_norel, &d, "space"), -CV_EINVAL);
	/* The same address in another space does not collide. */
	assert_int_equal(vm_add_device(vm, BUS_SYSREG, 0x9000000, 1, &tdev_ops_norel, &d, "reg"), 0);
	assert_int_equal(vm_boot(vm), 0);
	assert_int_equal(vm_add_device(vm, BUS_PIO, 0x3f8, 8, &tdev_ops_norel, &d, "late"), -CV_EBADSTATE);
	vm_destroy(vm);
	assert_int_equal(d.releases, 1);
}

/* MMIO loads: every width x signed x destination width, from one device value. */
static void test_mmio_read_widths(void **state)
{
	static const struct {
		enum access_width w, reg_w;
		bool sext;
		uint64_t want;
	} cases[] = {
	    {ACCESS_WIDTH_1, ACCESS_WIDTH_8, false, 0xf8},
	    {ACCESS_WIDTH_1, ACCESS_WIDTH_8, true, 0xfffffffffffffff8ull},
	    {ACCESS_WIDTH_1, ACCESS_WIDTH_4, true, 0xfffffff8ull},
	    {ACCESS_WIDTH_2, ACCESS_WIDTH_8, false, 0xf7f8},
	    {ACCESS_WIDTH_2, ACCESS_WIDTH_8, true, 0xfffffffffffff7f8ull},
	    {ACCESS_WIDTH_2, ACCESS_WIDTH_4, true, 0xfffff7f8ull},
	    {ACCESS_WIDTH_4, ACCESS_WIDTH_8, false, 0xf5f6f7f8ull},
	    {ACCESS_WIDTH_4, ACCESS_WIDTH_8, true, 0xfffffffff5f6f7f8ull},
	    {ACCESS_WIDTH_4, ACCESS_WIDTH_4, true, 0xf5f6f7f8ull},
	    {ACCESS_WIDTH_8, ACCESS_WIDTH_8, false, 0xf1f2f3f4f5f6f7f8ull},
	    {ACCESS_WIDTH_8, ACCESS_WIDTH_8, true, 0xf1f2f3f4f5f6f7f8ull},
	    {ACCESS_WIDTH_8, ACCESS_WIDTH_4, false, 0xf5f6f7f8ull},
	};
	struct tdev d = {.value = 0xf1f2f3f4f5f6f7f8ull};
	struct vm *vm = new_vm(1, UNMAPPED_DEFAULT);
	struct vcpu *v = vm_vcpu(vm, 0);
	struct vcpu_exit e;

	(void)state;
	assert_int_equal(vm_add_device(vm, BUS_MMIO, 0x9000000, 0x1000, &tdev_ops, &d, "dev"), 0);
	assert_int_equal(vm_boot(vm), 0);
	for (unsigned i = 0; i < CV_ARRAY_SIZE(cases); i++) {
		v->arch.gprs[7] = 0x5555555555555555ull;
		script(vm, 0,
		       (struct vcpu_exit){.kind = VCPU_EXIT_MMIO_READ,
					  .mmio_read = {gpa(0x9000010), cases[i].w, 7, cases[i].reg_w, cases[i].sext}});
		script(vm, 0, hypercall(i));
		assert_int_equal(vm_run_vcpu(vm, 0, &e), 0);
		assert_int_equal(e.kind, VCPU_EXIT_HYPERCALL);
		assert_int_equal(e.hypercall.nr, i);
		print_message("# width %d signed %d reg %d -> %#llx\n", cases[i].w, cases[i].sext, cases[i].reg_w,
			      (unsigned long long)v->arch.gprs[7]);
		assert_int_equal(v->arch.gprs[7], cases[i].want);
		assert_int_equal(d.last_off, 0x10);
		assert_int_equal(d.last_width, cases[i].w);
	}
	/* A bad width from the backend is an error that stops the VM, not a guess. */
	script(vm, 0,
	       (struct vcpu_exit){.kind = VCPU_EXIT_MMIO_READ,
				  .mmio_read = {gpa(0x9000010), (enum access_width)3, 7, ACCESS_WIDTH_8, false}});
	assert_int_equal(vm_run_vcpu(vm, 0, &e), -CV_ERANGE);
	assert_int_equal(vm_status(vm), VM_STATUS_STOPPING);
	vm_destroy(vm);
}

/* Every bus exit kind reaches its device and the register it names; others come back. */
static void test_bus_exits(void **state)
{
	struct tdev mmio = {.value = 0x1122334455667788ull}, pio = {.value = 0xabcd1234}, reg = {.value = 77};
	struct vm *vm = new_vm(2, UNMAPPED_DEFAULT);
	struct vcpu *v = vm_vcpu(vm, 1);
	struct vcpu_exit e;

	(void)state;
	assert_int_equal(vm_add_device(vm, BUS_MMIO, 0x9000000, 0x1000, &tdev_ops, &mmio, "mmio"), 0);
	assert_int_equal(vm_add_device(vm, BUS_PIO, 0x3f8, 8, &tdev_ops, &pio, "pio"), 0);
	assert_int_equal(vm_add_device(vm, BUS_SYSREG, 0x30c, 1, &tdev_ops, &reg, "sysreg"), 0);
	assert_int_equal(vm_boot(vm), 0);
	script(vm, 1,
	       (struct vcpu_exit){.kind = VCPU_EXIT_MMIO_WRITE,
				  .mmio_write = {gpa(0x9000ff8), ACCESS_WIDTH_8, 0xdeadbeefcafef00dull}});
	script(vm, 1, (struct vcpu_exit){.kind = VCPU_EXIT_IO_READ, .io_read = {0x3fd, ACCESS_WIDTH_2}});
	script(vm, 1, (struct vcpu_exit){.kind = VCPU_EXIT_IO_WRITE, .io_write = {0x3f8, ACCESS_WIDTH_1, 'A'}});
	script(vm, 1, (struct vcpu_exit){.kind = VCPU_EXIT_SYSREG_READ, .sysreg_read = {0x30c, 9}});
	script(vm, 1, (struct vcpu_exit){.kind = VCPU_EXIT_SYSREG_WRITE, .sysreg_write = {0x30c, 0x99}});
	script(vm, 1, (struct vcpu_exit){.kind = VCPU_EXIT_CPU_DOWN});
	fake_log_reset();
	assert_int_equal(vm_run_vcpu(vm, 1, &e), 0);
	assert_int_equal(e.kind, VCPU_EXIT_CPU_DOWN);
	assert_int_equal(mmio.writes, 1);
	assert_int_equal(mmio.last_off, 0xff8);
	assert_int_equal(mmio.last_val, 0xdeadbeefcafef00dull);
	assert_int_equal(mmio.last_vcpu, 1);
	assert_int_equal(pio.reads, 1);
	assert_int_equal(v->arch.gprs[0], 0x1234); /* masked to the 2-byte access */
	assert_int_equal(pio.writes, 1);
	assert_int_equal(pio.last_off, 0);
	assert_int_equal(pio.last_val, 'A');
	assert_int_equal(reg.reads, 1);
	assert_int_equal(v->arch.gprs[9], 77);
	assert_int_equal(reg.writes, 1);
	assert_int_equal(reg.last_val, 0x99);
	/* Bound once, six runs, unbound once; the vCPU is FREE again. */
	assert_int_equal(fake_log_at(0).op, FAKE_OP_BIND);
	assert_int_equal(fake_log_at(fake_log_len() - 1).op, FAKE_OP_UNBIND);
	assert_int_equal(vcpu_state(v), VCPU_STATE_FREE);
	/* Counters by kind include the exits the VM answered itself. */
	assert_int_equal(vm_exit_count(vm, 1, VCPU_EXIT_MMIO_WRITE), 1);
	assert_int_equal(vm_exit_count(vm, 1, VCPU_EXIT_IO_READ), 1);
	assert_int_equal(vm_exit_count(vm, 1, VCPU_EXIT_CPU_DOWN), 1);
	assert_int_equal(vm_exit_count(vm, 0, VCPU_EXIT_CPU_DOWN), 0);
	assert_int_equal(vm_exit_count(vm, 5, VCPU_EXIT_CPU_DOWN), 0);
	/* A device error stops the VM with that error. */
	pio.err = -CV_EIO;
	script(vm, 1, (struct vcpu_exit){.kind = VCPU_EXIT_IO_WRITE, .io_write = {0x3f8, ACCESS_WIDTH_1, 'B'}});
	assert_int_equal(vm_run_vcpu(vm, 1, &e), -CV_EIO);
	assert_int_equal(vcpu_state(v), VCPU_STATE_FREE);
	struct vm_stop_reason r;
	vm_get_stop_reason(vm, &r);
	assert_int_equal(r.kind, VM_STOP_FAILED);
	assert_int_equal(r.error, -CV_EIO);
	assert_int_equal(r.vcpu_id, 1);
	vm_destroy(vm);
}

static void unmapped_script(struct vm *vm)
{
	script(vm, 0,
	       (struct vcpu_exit){.kind = VCPU_EXIT_MMIO_READ,
				  .mmio_read = {gpa(0xa000000), ACCESS_WIDTH_4, 3, ACCESS_WIDTH_8, true}});
	script(vm, 0, (struct vcpu_exit){.kind = VCPU_EXIT_IO_WRITE, .io_write = {0x80, ACCESS_WIDTH_1, 1}});
	script(vm, 0, (struct vcpu_exit){.kind = VCPU_EXIT_IO_READ, .io_read = {0x81, ACCESS_WIDTH_4}});
	script(vm, 0, (struct vcpu_exit){.kind = VCPU_EXIT_SYSREG_READ, .sysreg_read = {0x123, 4}});
	script(vm, 0, hypercall(42));
}

static void test_unmapped_ignore(void **state)
{
	struct vm *vm = new_vm(1, UNMAPPED_IGNORE);
	struct vcpu *v = vm_vcpu(vm, 0);
	struct vcpu_exit e;

	(void)state;
	assert_int_equal(vm_boot(vm), 0);
	v->arch.gprs[3] = v->arch.gprs[0] = v->arch.gprs[4] = 0x5555;
	unmapped_script(vm);
	assert_int_equal(vm_run_vcpu(vm, 0, &e), 0);
	assert_int_equal(e.kind, VCPU_EXIT_HYPERCALL);
	assert_int_equal(v->arch.gprs[3], 0); /* reads as zero */
	assert_int_equal(v->arch.gprs[0], 0);
	assert_int_equal(v->arch.gprs[4], 0);
	assert_int_equal(vm_unmapped_count(vm), 4);
	assert_int_equal(vm_status(vm), VM_STATUS_RUNNING);
	vm_destroy(vm);
}

static void test_unmapped_stop(void **state)
{
	struct vm *vm = new_vm(1, UNMAPPED_STOP);
	struct vm_stop_reason r;
	struct vcpu_exit e;

	(void)state;
	assert_int_equal(vm_boot(vm), 0);
	unmapped_script(vm);
	assert_int_equal(vm_run_vcpu(vm, 0, &e), -CV_ENODEV);
	assert_int_equal(vm_status(vm), VM_STATUS_STOPPING);
	vm_get_stop_reason(vm, &r);
	assert_int_equal(r.kind, VM_STOP_FAILED);
	assert_int_equal(r.error, -CV_ENODEV);
	assert_int_equal(r.detail, 0xa000000);
	assert_int_equal(vcpu_state(vm_vcpu(vm, 0)), VCPU_STATE_FREE);
	assert_int_equal(vm_unmapped_count(vm), 0);
	assert_int_equal(vm_run_vcpu(vm, 0, &e), -CV_ESHUTDOWN);
	vm_destroy(vm);
}

static void test_unmapped_abort(void **state)
{
	struct vm *vm = new_vm(1, UNMAPPED_ABORT);
	struct vcpu_exit e;

	(void)state;
	assert_int_equal(vm_boot(vm), 0);
	unmapped_script(vm);
	/* ABORT hands each unanswered access back to the caller. */
	assert_int_equal(vm_run_vcpu(vm, 0, &e), 0);
	assert_int_equal(e.kind, VCPU_EXIT_MMIO_READ);
	assert_int_equal(e.mmio_read.addr.v, 0xa000000);
	assert_int_equal(vm_run_vcpu(vm, 0, &e), 0);
	assert_int_equal(e.kind, VCPU_EXIT_IO_WRITE);
	assert_int_equal(vm_status(vm), VM_STATUS_RUNNING);
	vm_destroy(vm);
}

static void test_arch_errors(void **state)
{
	struct vm *vm = new_vm(2, UNMAPPED_DEFAULT);
	struct vm_stop_reason r;
	struct vcpu_exit e;

	(void)state;
	assert_int_equal(vm_run_vcpu(vm, 0, &e), -CV_EBADSTATE); /* not booted */
	assert_int_equal(vm_boot(vm), 0);
	assert_int_equal(vm_run_vcpu(vm, 2, &e), -CV_ENOENT);
	assert_int_equal(vm_run_vcpu(vm, 0, NULL), -CV_EINVAL);
	assert_true(fake_script_error(&vm_vcpu(vm, 1)->arch, -CV_EIO));
	fake_log_reset();
	assert_int_equal(vm_run_vcpu(vm, 1, &e), -CV_EIO);
	assert_int_equal(vcpu_state(vm_vcpu(vm, 1)), VCPU_STATE_INVALID);
	assert_int_equal(vm_status(vm), VM_STATUS_STOPPING);
	vm_get_stop_reason(vm, &r);
	assert_int_equal(r.kind, VM_STOP_FAILED);
	assert_int_equal(r.error, -CV_EIO);
	assert_int_equal(r.vcpu_id, 1);
	assert_int_equal(vm_run_vcpu(vm, 0, &e), -CV_ESHUTDOWN);
	vm_destroy(vm);

	/* A failing bind / unbind. */
	vm = new_vm(1, UNMAPPED_DEFAULT);
	assert_int_equal(vm_boot(vm), 0);
	fake_fail_next(&vm_vcpu(vm, 0)->arch, FAKE_OP_BIND, -CV_EBUSY);
	assert_int_equal(vm_run_vcpu(vm, 0, &e), -CV_EBUSY);
	assert_int_equal(vcpu_state(vm_vcpu(vm, 0)), VCPU_STATE_INVALID);
	assert_int_equal(vm_status(vm), VM_STATUS_STOPPING);
	vm_destroy(vm);
	vm = new_vm(1, UNMAPPED_DEFAULT);
	assert_int_equal(vm_boot(vm), 0);
	fake_fail_next(&vm_vcpu(vm, 0)->arch, FAKE_OP_UNBIND, -CV_EIO);
	script(vm, 0, hypercall(1));
	assert_int_equal(vm_run_vcpu(vm, 0, &e), -CV_EIO);
	assert_int_equal(vm_status(vm), VM_STATUS_STOPPING);
	vm_destroy(vm);
}

static struct vm *busy_vm;
static int busy_ret;
static int reenter_run(struct vcpu_arch *arch, struct vcpu_exit *exit, void *ctx)
{
	struct vcpu_exit e;

	(void)arch;
	(void)ctx;
	busy_ret = vm_run_vcpu(busy_vm, 0, &e);
	memset(exit, 0, sizeof(*exit));
	exit->kind = VCPU_EXIT_NOTHING;
	return 0;
}

static void test_run_is_exclusive(void **state)
{
	struct vcpu_exit e;

	(void)state;
	busy_vm = new_vm(1, UNMAPPED_DEFAULT);
	assert_int_equal(vm_boot(busy_vm), 0);
	fake_set_run_fn(&vm_vcpu(busy_vm, 0)->arch, reenter_run, NULL);
	assert_int_equal(vm_run_vcpu(busy_vm, 0, &e), 0);
	assert_int_equal(e.kind, VCPU_EXIT_NOTHING);
	assert_int_equal(busy_ret, -CV_EBUSY);
	assert_int_equal(vcpu_state(vm_vcpu(busy_vm, 0)), VCPU_STATE_FREE);
	vm_destroy(busy_vm);
}

static void test_guest_memory(void **state)
{
	struct vm *vm = new_vm(1, UNMAPPED_DEFAULT);
	uint8_t buf[64], out[64];
	void *p;

	(void)state;
	for (unsigned i = 0; i < sizeof(buf); i++)
		buf[i] = (uint8_t)(i + 1);
	assert_int_equal(vm_write_guest(vm, gpa(0x100), buf, sizeof(buf)), 0);
	assert_int_equal(vm_read_guest(vm, gpa(0x100), out, sizeof(out)), 0);
	assert_memory_equal(buf, out, sizeof(buf));
	assert_int_equal(vm_guest_ptr(vm, gpa(0x100), 4, &p), 0);
	assert_int_equal(((uint8_t *)p)[3], 4);
	/* Spanning the two adjacent regions is one guest range. */
	assert_int_equal(vm_write_guest(vm, gpa(0x10000 - 32), buf, sizeof(buf)), 0);
	memset(out, 0, sizeof(out));
	assert_int_equal(vm_read_guest(vm, gpa(0x10000 - 32), out, sizeof(out)), 0);
	assert_memory_equal(buf, out, sizeof(buf));
	/* ... but not for a single pointer. */
	assert_int_equal(vm_guest_ptr(vm, gpa(0x10000 - 32), 64, &p), -CV_EFAULT);
	/* Past the end of RAM: nothing is copied. */
	memset(out, 0xee, sizeof(out));
	assert_int_equal(vm_write_guest(vm, gpa(0x20000 - 32), buf, sizeof(buf)), -CV_EFAULT);
	assert_int_equal(vm_read_guest(vm, gpa(0x20000 - 32), out, sizeof(out)), -CV_EFAULT);
	assert_int_equal(out[0], 0xee);
	assert_int_equal(vm_read_guest(vm, gpa(0x20000 - 32), out, 32), 0);
	assert_int_equal(vm_read_guest(vm, gpa(0x30000), out, 1), -CV_EFAULT);
	/* The top page: in bounds up to the last byte, never wrapping to 0. */
	assert_int_equal(vm_write_guest(vm, gpa(UINT64_MAX - 3), buf, 4), 0);
	assert_int_equal(vm_read_guest(vm, gpa(UINT64_MAX - 1), out, 4), -CV_EFAULT);
	assert_int_equal(vm_write_guest(vm, gpa(UINT64_MAX - 1), buf, 4), -CV_EFAULT);
	assert_int_equal(vm_guest_ptr(vm, gpa(UINT64_MAX - 1), 4, &p), -CV_EFAULT);
	assert_int_equal(vm_guest_ptr(vm, gpa(UINT64_MAX - 1), 2, &p), 0);
	assert_int_equal(vm_guest_ptr(vm, gpa(UINT64_MAX), SIZE_MAX, &p), -CV_EFAULT);
	assert_int_equal(vm_read_guest(vm, gpa(0), out, SIZE_MAX), -CV_EFAULT);
	assert_int_equal(vm_read_guest(vm, gpa(1), out, 0), 0);
	assert_int_equal(vm_guest_ptr(vm, gpa(0), 0, &p), -CV_EINVAL);
	assert_int_equal(vm_read_guest(vm, gpa(0), NULL, 4), -CV_EINVAL);
	vm_destroy(vm);
}

static unsigned wake_calls;
static uint32_t wake_last;
static void wake_hook(void *ctx, uint32_t vcpu_id)
{
	(void)ctx;
	wake_calls++;
	wake_last = vcpu_id;
}

static void test_inject_interrupt(void **state)
{
	struct vm *vm = new_vm(2, UNMAPPED_DEFAULT);
	struct vcpu *v = vm_vcpu(vm, 1);
	struct vcpu_exit e;
	unsigned kicks;

	(void)state;
	wake_calls = 0;
	vm_set_wake_hook(vm, wake_hook, NULL);
	assert_int_equal(vm_boot(vm), 0);
	kicks = fake_kicks(&v->arch);
	/* Queued for a vCPU that is not running, kicked, and the sleeper hook told. */
	assert_int_equal(vm_inject_interrupt(vm, 1, 33), 0);
	assert_int_equal(vm_inject_interrupt(vm, 1, 200), 0);
	assert_int_equal(fake_kicks(&v->arch), kicks + 2);
	assert_int_equal(wake_calls, 2);
	assert_int_equal(wake_last, 1);
	assert_true(vm_interrupt_pending(vm, 1));
	assert_false(vm_interrupt_pending(vm, 0));
	assert_int_equal(v->arch.ninjected, 0);
	assert_int_equal(vm_inject_interrupt(vm, 2, 1), -CV_ENOENT);
	assert_int_equal(vm_inject_interrupt(vm, 1, VM_MAX_IRQS), -CV_ERANGE);
	/* Injected on the vCPU's own task before it runs. */
	script(vm, 1, hypercall(0));
	fake_log_reset();
	assert_int_equal(vm_run_vcpu(vm, 1, &e), 0);
	assert_int_equal(v->arch.ninjected, 2);
	assert_true(v->arch.injected[0] & (1ull << 33));
	assert_true(v->arch.injected[3] & (1ull << (200 - 192)));
	assert_false(vm_interrupt_pending(vm, 1));
	assert_int_equal(fake_log_at(1).op, FAKE_OP_INJECT);
	assert_ptr_equal(v->arch.current_seen[FAKE_OP_RUN], v);
	/* A vector the arch refuses is dropped (logged), the vCPU goes on. */
	assert_int_equal(vm_inject_interrupt(vm, 1, 300), 0);
	script(vm, 1, hypercall(0));
	assert_int_equal(vm_run_vcpu(vm, 1, &e), 0);
	assert_int_equal(v->arch.ninjected, 2);
	assert_int_equal(vm_shutdown(vm, NULL), 0);
	assert_int_equal(wake_last, VM_WAKE_ALL);
	vm_set_wake_hook(vm, NULL, NULL);
	assert_int_equal(vm_mark_stopped(vm), 0);
	assert_int_equal(vm_inject_interrupt(vm, 1, 1), -CV_ESHUTDOWN);
	vm_destroy(vm);
}

static int park_saw_state;
static struct vm *park_vm;
static int park_wait(void *ctx)
{
	(void)ctx;
	park_saw_state = vcpu_state(vm_vcpu(park_vm, 0));
	return 7;
}

static void test_park(void **state)
{
	(void)state;
	park_vm = new_vm(1, UNMAPPED_DEFAULT);
	assert_int_equal(vm_park_vcpu(park_vm, 0, park_wait, NULL), -CV_EBADSTATE);
	assert_int_equal(vm_boot(park_vm), 0);
	assert_int_equal(vm_park_vcpu(park_vm, 0, park_wait, NULL), 7);
	assert_int_equal(park_saw_state, VCPU_STATE_BLOCKED);
	assert_int_equal(vcpu_state(vm_vcpu(park_vm, 0)), VCPU_STATE_FREE);
	assert_int_equal(vm_park_vcpu(park_vm, 1, park_wait, NULL), -CV_ENOENT);
	vm_destroy(park_vm);
}

struct runner {
	struct vm *vm;
	uint32_t id;
	int ret;
	struct vcpu_exit exit;
};

static void *runner_main(void *p)
{
	struct runner *r = p;

	r->ret = vm_run_vcpu(r->vm, r->id, &r->exit);
	return NULL;
}

/* A guest busy in guest mode (only MMIO exits, never a returned one) still stops. */
static void test_shutdown_kicks_running(void **state)
{
	struct vm *vm = new_vm(1, UNMAPPED_DEFAULT);
	struct runner r = {vm, 0, 1, {0}};
	struct timespec ts = {0, 20 * 1000 * 1000};
	pthread_t t;

	(void)state;
	assert_int_equal(vm_boot(vm), 0);
	assert_true(fake_script_wait_kick(
	    &vm_vcpu(vm, 0)->arch,
	    &(struct vcpu_exit){.kind = VCPU_EXIT_MMIO_WRITE, .mmio_write = {gpa(0xb000000), ACCESS_WIDTH_4, 1}}));
	assert_int_equal(pthread_create(&t, NULL, runner_main, &r), 0);
	nanosleep(&ts, NULL);
	assert_int_equal(vm_shutdown(vm, NULL), 0);
	assert_int_equal(pthread_join(t, NULL), 0);
	assert_int_equal(r.ret, 0);
	assert_int_equal(r.exit.kind, VCPU_EXIT_NOTHING);
	assert_int_equal(vcpu_state(vm_vcpu(vm, 0)), VCPU_STATE_FREE);
	assert_int_equal(vm_mark_stopped(vm), 0);
	vm_destroy(vm);
}

static void test_refcounts(void **state)
{
	struct vm *vm = new_vm(2, UNMAPPED_DEFAULT);
	struct vcpu *v = NULL;
	unsigned destroys = 0;

	(void)state;
	assert_ptr_equal(vm_get(vm), vm);
	vm_destroy(vm); /* one reference left */
	assert_int_equal(vm_status(vm), VM_STATUS_LOADED);
	assert_int_equal(vm_vcpu_get(vm, 1, &v), 0);
	assert_int_equal(vm_vcpu_get(vm, 2, &v), -CV_ENOENT);
	fake_log_reset();
	vm_put(vm);
	/* The VM is gone; vCPU 1 is not, until its holder lets go. */
	for (unsigned i = 0; i < fake_log_len(); i++)
		destroys += fake_log_at(i).op == FAKE_OP_DESTROY;
	assert_int_equal(destroys, 1);
	assert_int_equal(vcpu_id(v), 1);
	vcpu_put(v);
	vm_destroy(NULL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_create),
	    cmocka_unit_test(test_create_maps),
	    cmocka_unit_test(test_create_errors),
	    cmocka_unit_test(test_status_matrix),
	    cmocka_unit_test(test_stop_reason_first_wins),
	    cmocka_unit_test(test_bus_overlap),
	    cmocka_unit_test(test_bus_model),
	    cmocka_unit_test(test_add_device),
	    cmocka_unit_test(test_mmio_read_widths),
	    cmocka_unit_test(test_bus_exits),
	    cmocka_unit_test(test_unmapped_ignore),
	    cmocka_unit_test(test_unmapped_stop),
	    cmocka_unit_test(test_unmapped_abort),
	    cmocka_unit_test(test_arch_errors),
	    cmocka_unit_test(test_run_is_exclusive),
	    cmocka_unit_test(test_guest_memory),
	    cmocka_unit_test(test_inject_interrupt),
	    cmocka_unit_test(test_park),
	    cmocka_unit_test(test_shutdown_kicks_running),
	    cmocka_unit_test(test_refcounts),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
