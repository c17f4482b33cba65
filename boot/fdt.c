/* SPDX-License-Identifier: MIT */
/*
 * Device trees for AArch64 Linux guests, with libfdt: the guest's tree, written per VM
 * with libfdt's sequential-write API, and a reader of the host's tree. Bindings followed:
 * Linux Documentation/devicetree/bindings/ arm/cpus.yaml, arm/psci.yaml,
 * interrupt-controller/arm,gic-v3.yaml, timer/arm,arch_timer.yaml, serial/pl011.yaml,
 * clock/fixed-clock.yaml, and the Devicetree Specification v0.4 (memory, /chosen).
 *
 * Runs at EL2 too (linked with Debian's arm64 libfdt.a), so no libc call of its own:
 * node names are formatted here, not with snprintf.
 */
#include <libfdt.h>

#include <cvisor/boot.h>
#include <cvisor/errors.h>
#include <cvisor/guest_abi.h>

/* Device-tree interrupt specifiers for the GIC (arm,gic-v3.yaml): type, number, flags. */
#define GIC_SPI	       0u
#define GIC_PPI	       1u
#define IRQ_LEVEL_HIGH 4u

#define PHANDLE_GIC 1u
#define PHANDLE_CLK 2u

#define GICD_SIZE 0x10000ull
/* GICv3 IHI 0069 12.10: each redistributor is an RD_base and an SGI_base 64 KiB frame. */
#define GICR_STRIDE 0x20000ull

/* Sets *why and returns -err (err is a positive CV_E* code). */
static int fail(const char **why, const char *reason, int err)
{
	if (why)
		*why = reason;
	return -err;
}

void boot_fdt_guest_defaults(struct boot_fdt_guest *g, unsigned cpus)
{
	*g = (struct boot_fdt_guest){
	    .cpus = cpus,
	    .mem = {{gpa(0x40000000), 256ull << 20}},
	    .mem_count = 1,
	    .gicd = gpa(0x08000000),
	    .gicr = gpa(0x080a0000),
	    .uart = gpa(0x09000000),
	    .uart_size = 0x1000,
	    .uart_spi = 1,
	    .uart_clock_hz = 24000000,
	    .timer_ppi = {13, 14, 11, 10},
	};
}

/* "name@<hex addr>" into buf (node unit names: Devicetree Specification 2.2.1). */
static const char *unit_name(char *buf, size_t size, const char *name, uint64_t addr)
{
	size_t n = 0;
	int shift = 60;

	while (*name && n + 1 < size)
		buf[n++] = *name++;
	if (n + 1 < size)
		buf[n++] = '@';
	while (shift > 0 && ((addr >> shift) & 0xf) == 0)
		shift -= 4;
	for (; shift >= 0 && n + 1 < size; shift -= 4)
		buf[n++] = "0123456789abcdef"[(addr >> shift) & 0xf];
	buf[n] = '\0';
	return buf;
}

/* A property of 64-bit values as pairs of cells (#address-cells = #size-cells = 2). */
static int prop_u64s(void *fdt, const char *name, const uint64_t *v, unsigned count)
{
	fdt64_t cells[4];

	if (count > CV_ARRAY_SIZE(cells))
		return -FDT_ERR_INTERNAL;
	for (unsigned i = 0; i < count; i++)
		cells[i] = cpu_to_fdt64(v[i]);
	return fdt_property(fdt, name, cells, (int)(count * sizeof(cells[0])));
}

/* An "interrupts" property of n (type, number, flags) triples. */
static int prop_irqs(void *fdt, uint32_t type, const uint32_t *nums, unsigned n)
{
	fdt32_t cells[12];

	if (n * 3 > CV_ARRAY_SIZE(cells))
		return -FDT_ERR_INTERNAL;
	for (unsigned i = 0; i < n; i++) {
		cells[i * 3] = cpu_to_fdt32(type);
		cells[i * 3 + 1] = cpu_to_fdt32(nums[i]);
		cells[i * 3 + 2] = cpu_to_fdt32(IRQ_LEVEL_HIGH);
	}
	return fdt_property(fdt, "interrupts", cells, (int)(n * 3 * sizeof(cells[0])));
}

static bool overlap(uint64_t a, uint64_t alen, uint64_t b, uint64_t blen)
{
	return a < b + blen && b < a + alen;
}

static int check_guest(const struct boot_fdt_guest *g, const char **why)
{
	uint64_t gicr_size;

	if (g->cpus == 0 || g->cpus > BOOT_FDT_MAX_CPUS)
		return fail(why, "the vCPU count is 0 or over BOOT_FDT_MAX_CPUS", CV_EINVAL);
	if (g->mem_count == 0 || g->mem_count > BOOT_FDT_MAX_MEM)
		return fail(why, "no memory region, or more than BOOT_FDT_MAX_MEM", CV_EINVAL);
	for (unsigned i = 0; i < g->mem_count; i++)
		if (g->mem[i].size == 0 || g->mem[i].base.v + g->mem[i].size < g->mem[i].base.v)
			return fail(why, "a memory region is empty or wraps around", CV_EINVAL);
	if (g->uart_size == 0 || g->uart_clock_hz == 0)
		return fail(why, "the PL011 needs an MMIO size and a clock", CV_EINVAL);
	/* SPIs are INTIDs 32-1019, PPIs 16-31 (GICv3 IHI 0069 2.2.1). */
	if (g->uart_spi > 1019 - 32)
		return fail(why, "the PL011's SPI is out of range", CV_EINVAL);
	for (unsigned i = 0; i < 4; i++)
		if (g->timer_ppi[i] > 15)
			return fail(why, "a timer PPI is out of range", CV_EINVAL);
	gicr_size = g->cpus * GICR_STRIDE;
	if (overlap(g->gicd.v, GICD_SIZE, g->gicr.v, gicr_size) ||
	    overlap(g->uart.v, g->uart_size, g->gicd.v, GICD_SIZE) ||
	    overlap(g->uart.v, g->uart_size, g->gicr.v, gicr_size))
		return fail(why, "the GIC distributor, redistributors and PL011 overlap", CV_EINVAL);
	if (g->initrd_size && g->initrd.v + g->initrd_size < g->initrd.v)
		return fail(why, "the initrd wraps around", CV_EINVAL);
	return 0;
}

/* The whole tree, in one pass; any libfdt error comes back as its negative FDT_ERR_*. */
static int write_guest(const struct boot_fdt_guest *g, void *fdt, size_t size)
{
	char name[48], uart_path[48];
	uint64_t reg[4];
	int err = 0;

	/* Stop at the first libfdt error; every step below goes through TRY. */
#define TRY(call)                                                                                                      \
	do {                                                                                                           \
		err = (call);                                                                                          \
		if (err < 0)                                                                                           \
			return err;                                                                                    \
	} while (0)

	TRY(fdt_create(fdt, (int)size));
	TRY(fdt_finish_reservemap(fdt));
	TRY(fdt_begin_node(fdt, ""));
	TRY(fdt_property_string(fdt, "compatible", "linux,dummy-virt"));
	TRY(fdt_property_string(fdt, "model", "cvisor guest"));
	TRY(fdt_property_cell(fdt, "#address-cells", 2));
	TRY(fdt_property_cell(fdt, "#size-cells", 2));
	TRY(fdt_property_cell(fdt, "interrupt-parent", PHANDLE_GIC));

	unit_name(uart_path, sizeof(uart_path), "/pl011", g->uart.v);
	TRY(fdt_begin_node(fdt, "chosen"));
	if (g->bootargs)
		TRY(fdt_property_string(fdt, "bootargs", g->bootargs));
	TRY(fdt_property_string(fdt, "stdout-path", uart_path));
	if (g->initrd_size) {
		/* Linux reads either cell width; 64 bits hold any address. */
		TRY(fdt_property_u64(fdt, "linux,initrd-start", g->initrd.v));
		TRY(fdt_property_u64(fdt, "linux,initrd-end", g->initrd.v + g->initrd_size));
	}
	TRY(fdt_end_node(fdt));

	TRY(fdt_begin_node(fdt, "aliases"));
	TRY(fdt_property_string(fdt, "serial0", uart_path));
	TRY(fdt_end_node(fdt));

	for (unsigned i = 0; i < g->mem_count; i++) {
		TRY(fdt_begin_node(fdt, unit_name(name, sizeof(name), "memory", g->mem[i].base.v)));
		TRY(fdt_property_string(fdt, "device_type", "memory"));
		reg[0] = g->mem[i].base.v;
		reg[1] = g->mem[i].size;
		TRY(prop_u64s(fdt, "reg", reg, 2));
		TRY(fdt_end_node(fdt));
	}

	/* cpus.yaml: reg is MPIDR_EL1's affinity fields; one cell holds Aff2..Aff0. */
	TRY(fdt_begin_node(fdt, "cpus"));
	TRY(fdt_property_cell(fdt, "#address-cells", 1));
	TRY(fdt_property_cell(fdt, "#size-cells", 0));
	for (unsigned i = 0; i < g->cpus; i++) {
		uint32_t mpidr = (uint32_t)cv_vcpu_to_cpu_id(i);

		TRY(fdt_begin_node(fdt, unit_name(name, sizeof(name), "cpu", mpidr)));
		TRY(fdt_property_string(fdt, "device_type", "cpu"));
		TRY(fdt_property_string(fdt, "compatible", "arm,armv8"));
		TRY(fdt_property_cell(fdt, "reg", mpidr));
		TRY(fdt_property_string(fdt, "enable-method", "psci"));
		TRY(fdt_end_node(fdt));
	}
	TRY(fdt_end_node(fdt));

	/* psci.yaml: PSCI 0.2 and later need no function IDs; the conduit is HVC to cvisor. */
	TRY(fdt_begin_node(fdt, "psci"));
	TRY(fdt_property(fdt, "compatible", "arm,psci-1.0\0arm,psci-0.2", sizeof("arm,psci-1.0\0arm,psci-0.2")));
	TRY(fdt_property_string(fdt, "method", "hvc"));
	TRY(fdt_end_node(fdt));

	TRY(fdt_begin_node(fdt, unit_name(name, sizeof(name), "intc", g->gicd.v)));
	TRY(fdt_property_string(fdt, "compatible", "arm,gic-v3"));
	TRY(fdt_property_cell(fdt, "#interrupt-cells", 3));
	TRY(fdt_property(fdt, "interrupt-controller", NULL, 0));
	/* dtc wants #address-cells in an interrupt provider (interrupt-map parents); none are here. */
	TRY(fdt_property_cell(fdt, "#address-cells", 2));
	TRY(fdt_property_cell(fdt, "#size-cells", 2));
	TRY(fdt_property(fdt, "ranges", NULL, 0));
	TRY(fdt_property_cell(fdt, "#redistributor-regions", 1));
	reg[0] = g->gicd.v;
	reg[1] = GICD_SIZE;
	reg[2] = g->gicr.v;
	reg[3] = g->cpus * GICR_STRIDE;
	TRY(prop_u64s(fdt, "reg", reg, 4));
	TRY(fdt_property_cell(fdt, "phandle", PHANDLE_GIC));
	TRY(fdt_end_node(fdt));

	/* arch_timer.yaml: secure phys, non-secure phys, virtual, hyp phys PPIs, in that order. */
	TRY(fdt_begin_node(fdt, "timer"));
	TRY(fdt_property_string(fdt, "compatible", "arm,armv8-timer"));
	TRY(prop_irqs(fdt, GIC_PPI, g->timer_ppi, 4));
	TRY(fdt_property(fdt, "always-on", NULL, 0));
	TRY(fdt_end_node(fdt));

	TRY(fdt_begin_node(fdt, "apb-pclk"));
	TRY(fdt_property_string(fdt, "compatible", "fixed-clock"));
	TRY(fdt_property_cell(fdt, "#clock-cells", 0));
	TRY(fdt_property_cell(fdt, "clock-frequency", g->uart_clock_hz));
	TRY(fdt_property_string(fdt, "clock-output-names", "clk24mhz"));
	TRY(fdt_property_cell(fdt, "phandle", PHANDLE_CLK));
	TRY(fdt_end_node(fdt));

	/* pl011.yaml: the primecell bus probes it; uartclk and apb_pclk both from the fixed clock. */
	TRY(fdt_begin_node(fdt, uart_path + 1));
	TRY(fdt_property(fdt, "compatible", "arm,pl011\0arm,primecell", sizeof("arm,pl011\0arm,primecell")));
	reg[0] = g->uart.v;
	reg[1] = g->uart_size;
	TRY(prop_u64s(fdt, "reg", reg, 2));
	TRY(prop_irqs(fdt, GIC_SPI, &g->uart_spi, 1));
	{
		fdt32_t clocks[2] = {cpu_to_fdt32(PHANDLE_CLK), cpu_to_fdt32(PHANDLE_CLK)};

		TRY(fdt_property(fdt, "clocks", clocks, sizeof(clocks)));
	}
	TRY(fdt_property(fdt, "clock-names", "uartclk\0apb_pclk", sizeof("uartclk\0apb_pclk")));
	TRY(fdt_end_node(fdt));

	TRY(fdt_end_node(fdt));
	TRY(fdt_finish(fdt));
#undef TRY
	return err;
}

int boot_fdt_make_guest(const struct boot_fdt_guest *g, void *buf, size_t size, const char **why)
{
	int ret;

	if (!g || !buf)
		return fail(why, "no parameters or no buffer", CV_EINVAL);
	if (size > INT32_MAX)
		size = INT32_MAX;
	ret = check_guest(g, why);
	if (ret)
		return ret;
	ret = write_guest(g, buf, size);
	if (ret == -FDT_ERR_NOSPACE)
		return fail(why, "the device-tree buffer is too small", CV_ERANGE);
	if (ret < 0)
		return fail(why, "libfdt failed to write the device tree", CV_EINVAL);
	return 0;
}

/* ---- the host's tree ---- */

/* A value of `cells` (1 or 2) big-endian cells at p. */
static uint64_t read_cells(const fdt32_t *p, int cells)
{
	uint64_t v = 0;

	for (int i = 0; i < cells; i++)
		v = v << 32 | fdt32_ld(p + i);
	return v;
}

/*
 * The cell counts of node's parent, for its reg; addresses are used as written, so a
 * parent must be the root or map its children 1:1 (an empty "ranges").
 */
static int reg_cells(const void *fdt, int node, int *ac, int *sc, const char **why)
{
	int parent = fdt_parent_offset(fdt, node);
	int len;

	if (parent < 0)
		return fail(why, "a node has no parent", CV_EINVAL);
	if (parent != 0 && (fdt_getprop(fdt, parent, "ranges", &len) == NULL || len != 0))
		return fail(why, "a device sits behind a bus with non-identity \"ranges\"", CV_ENOTSUP);
	*ac = fdt_address_cells(fdt, parent);
	*sc = fdt_size_cells(fdt, parent);
	if (*ac < 1 || *ac > 2 || *sc < 0 || *sc > 2)
		return fail(why, "#address-cells or #size-cells is not 1 or 2", CV_EINVAL);
	return 0;
}

/* Entry i of node's reg into *r; CV_ENOENT when reg has fewer entries. */
static int read_reg(const void *fdt, int node, int i, struct boot_hpa_range *r, const char **why)
{
	const fdt32_t *reg;
	int ac, sc, len, ret;

	ret = reg_cells(fdt, node, &ac, &sc, why);
	if (ret)
		return ret;
	reg = fdt_getprop(fdt, node, "reg", &len);
	if (!reg || len < 0 || len % (int)((ac + sc) * sizeof(*reg)) != 0)
		return fail(why, "a \"reg\" property is missing or malformed", CV_EINVAL);
	if (i >= len / (int)((ac + sc) * sizeof(*reg)))
		return -CV_ENOENT;
	reg += i * (ac + sc);
	r->base = hpa(read_cells(reg, ac));
	r->size = sc ? read_cells(reg + ac, sc) : 0;
	return 0;
}

/* The number of the first "interrupts" triple of node, or 0 when it has none. */
static uint32_t first_irq(const void *fdt, int node, int index)
{
	const fdt32_t *p;
	int len;

	p = fdt_getprop(fdt, node, "interrupts", &len);
	if (!p || len < (index + 1) * 3 * (int)sizeof(*p))
		return 0;
	return fdt32_ld(p + index * 3 + 1);
}

static int read_mem(const void *fdt, struct boot_host_info *info, const char **why)
{
	int node = -1, ret;

	for (;;) {
		node = fdt_node_offset_by_prop_value(fdt, node, "device_type", "memory", sizeof("memory"));
		if (node < 0)
			break;
		for (int i = 0;; i++) {
			struct boot_hpa_range r;

			ret = read_reg(fdt, node, i, &r, why);
			if (ret == -CV_ENOENT)
				break;
			if (ret)
				return ret;
			if (r.size == 0)
				continue;
			if (info->mem_count == BOOT_HOST_MAX_MEM)
				return fail(why, "more memory regions than BOOT_HOST_MAX_MEM", CV_ERANGE);
			info->mem[info->mem_count++] = r;
		}
	}
	if (info->mem_count == 0)
		return fail(why, "no memory node", CV_EINVAL);
	return 0;
}

static int read_cpus(const void *fdt, struct boot_host_info *info, const char **why)
{
	int cpus = fdt_path_offset(fdt, "/cpus");
	int node, len;

	if (cpus < 0)
		return fail(why, "no /cpus node", CV_EINVAL);
	fdt_for_each_subnode(node, fdt, cpus)
	{
		const char *type = fdt_getprop(fdt, node, "device_type", &len);
		const fdt32_t *reg;
		int ac = fdt_address_cells(fdt, cpus);

		if (!type || len != sizeof("cpu") || type[0] != 'c' || type[1] != 'p' || type[2] != 'u')
			continue; /* cpu-map and friends */
		reg = fdt_getprop(fdt, node, "reg", &len);
		if (ac < 1 || ac > 2 || !reg || len != ac * (int)sizeof(*reg))
			return fail(why, "a cpu node's reg does not match /cpus #address-cells", CV_EINVAL);
		if (info->cpu_count == BOOT_HOST_MAX_CPUS)
			return fail(why, "more CPUs than BOOT_HOST_MAX_CPUS", CV_ERANGE);
		info->cpu_mpidr[info->cpu_count++] = read_cells(reg, ac);
	}
	if (info->cpu_count == 0)
		return fail(why, "no cpu node in /cpus", CV_EINVAL);
	return 0;
}

static int read_gic(const void *fdt, struct boot_host_info *info, const char **why)
{
	int node = fdt_node_offset_by_compatible(fdt, -1, "arm,gic-v3");
	const fdt32_t *p;
	unsigned regions = 1;
	int len, ret;

	if (node < 0)
		return fail(why, "no \"arm,gic-v3\" interrupt controller", CV_EINVAL);
	ret = read_reg(fdt, node, 0, &info->gicd, why);
	if (ret)
		return ret == -CV_ENOENT ? fail(why, "the GICv3 node has no reg", CV_EINVAL) : ret;
	p = fdt_getprop(fdt, node, "#redistributor-regions", &len);
	if (p && len == sizeof(*p))
		regions = fdt32_ld(p);
	if (regions == 0 || regions > BOOT_HOST_MAX_GICR)
		return fail(why, "#redistributor-regions is 0 or over BOOT_HOST_MAX_GICR", CV_ERANGE);
	for (unsigned i = 0; i < regions; i++) {
		ret = read_reg(fdt, node, (int)i + 1, &info->gicr[i], why);
		if (ret)
			return ret == -CV_ENOENT ? fail(why, "the GICv3 reg lacks a redistributor region", CV_EINVAL)
						 : ret;
	}
	info->gicr_count = regions;
	info->gic_maint_ppi = first_irq(fdt, node, 0);
	return 0;
}

static int read_uart(const void *fdt, struct boot_host_info *info, const char **why)
{
	const char *path;
	int chosen = fdt_path_offset(fdt, "/chosen");
	int node = -FDT_ERR_NOTFOUND, len, ret, n;

	/* stdout-path is a path or an alias, optionally followed by ":options" (DT spec 3.6). */
	path = chosen >= 0 ? fdt_getprop(fdt, chosen, "stdout-path", &len) : NULL;
	if (path && len > 0) {
		for (n = 0; n < len && path[n] && path[n] != ':'; n++)
			;
		if (path[0] != '/') {
			path = fdt_get_alias_namelen(fdt, path, n);
			n = path ? (int)strlen(path) : 0;
		}
		if (path)
			node = fdt_path_offset_namelen(fdt, path, n);
		if (node >= 0 && fdt_node_check_compatible(fdt, node, "arm,pl011") != 0)
			node = -FDT_ERR_NOTFOUND;
	}
	if (node < 0)
		node = fdt_node_offset_by_compatible(fdt, -1, "arm,pl011");
	if (node < 0)
		return 0; /* no PL011: the caller decides whether that matters */
	ret = read_reg(fdt, node, 0, &info->uart, why);
	if (ret)
		return ret == -CV_ENOENT ? fail(why, "the PL011 has no reg", CV_EINVAL) : ret;
	info->uart_spi = first_irq(fdt, node, 0);
	return 0;
}

static void read_misc(const void *fdt, struct boot_host_info *info)
{
	int node, len;
	const void *p, *q;

	node = fdt_node_offset_by_compatible(fdt, -1, "arm,armv8-timer");
	for (int i = 0; node >= 0 && i < 4; i++)
		info->timer_ppi[i] = first_irq(fdt, node, i);

	node = fdt_path_offset(fdt, "/psci");
	if (node >= 0) {
		const char *method = fdt_getprop(fdt, node, "method", &len);

		info->psci_found = true;
		info->psci_smc =
		    method && len == sizeof("smc") && method[0] == 's' && method[1] == 'm' && method[2] == 'c';
	}

	node = fdt_path_offset(fdt, "/chosen");
	if (node < 0)
		return;
	p = fdt_getprop(fdt, node, "bootargs", &len);
	if (p && len > 0 && ((const char *)p)[len - 1] == '\0')
		info->bootargs = p;
	/* linux,initrd-start/end: one or two cells each (Linux drivers/of/fdt.c reads both). */
	p = fdt_getprop(fdt, node, "linux,initrd-start", &len);
	q = fdt_getprop(fdt, node, "linux,initrd-end", NULL);
	if (p && q && (len == 4 || len == 8)) {
		uint64_t start = read_cells(p, len / 4), end = read_cells(q, len / 4);

		if (end > start) {
			info->initrd.base = hpa(start);
			info->initrd.size = end - start;
		}
	}
}

int boot_fdt_read_host(const void *fdt, size_t size, struct boot_host_info *info, const char **why)
{
	int ret;

	if (!fdt || !info)
		return fail(why, "no device tree", CV_EINVAL);
	*info = (struct boot_host_info){0};
	/* fdt_check_full walks the whole structure block, so later lookups meet no surprises. */
	if (size < sizeof(struct fdt_header) || fdt_check_full(fdt, size) != 0)
		return fail(why, "not a valid flattened device tree", CV_EINVAL);
	ret = read_mem(fdt, info, why);
	if (!ret)
		ret = read_cpus(fdt, info, why);
	if (!ret)
		ret = read_gic(fdt, info, why);
	if (!ret)
		ret = read_uart(fdt, info, why);
	if (ret)
		return ret;
	read_misc(fdt, info);
	return 0;
}
