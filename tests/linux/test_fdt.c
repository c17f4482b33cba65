/* SPDX-License-Identifier: MIT */
/*
 * boot/fdt.c: the guest device tree (checked with libfdt, with dtc's own checks, and read
 * back), and the host-DTB reader on QEMU's own virt tree (dumped by qemu-system-aarch64)
 * and on hand-made and damaged trees.
 */
#define _POSIX_C_SOURCE 200809L /* popen, mkdtemp */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>
#include <libfdt.h>

#include <cvisor/boot.h>
#include <cvisor/errors.h>

#include "../../boot/host/host.h"

static uint8_t blob[64 << 10];

static void make_default(unsigned cpus, struct boot_fdt_guest *g)
{
	const char *why = NULL;

	boot_fdt_guest_defaults(g, cpus);
	g->bootargs = "console=ttyAMA0 quiet";
	g->initrd = gpa(0x48000000);
	g->initrd_size = 0x123456;
	assert_int_equal(boot_fdt_make_guest(g, blob, sizeof(blob), &why), 0);
	assert_int_equal(fdt_check_full(blob, sizeof(blob)), 0);
}

static uint64_t prop_u64(const void *fdt, int node, const char *name, int index)
{
	int len;
	const fdt32_t *p = fdt_getprop(fdt, node, name, &len);

	assert_non_null(p);
	assert_true(len >= (index + 1) * 8);
	return (uint64_t)fdt32_ld(p + index * 2) << 32 | fdt32_ld(p + index * 2 + 1);
}

static uint32_t prop_cell(const void *fdt, int node, const char *name, int index)
{
	int len;
	const fdt32_t *p = fdt_getprop(fdt, node, name, &len);

	assert_non_null(p);
	assert_true(len >= (index + 1) * 4);
	return fdt32_ld(p + index);
}

static void guest_tree_with_libfdt(void **state)
{
	struct boot_fdt_guest g;
	int node, cpus, n = 0, len;
	const char *s;

	(void)state;
	make_default(4, &g);
	node = fdt_path_offset(blob, "/memory@40000000");
	assert_true(node >= 0);
	assert_string_equal(fdt_getprop(blob, node, "device_type", NULL), "memory");
	assert_int_equal(prop_u64(blob, node, "reg", 0), 0x40000000);
	assert_int_equal(prop_u64(blob, node, "reg", 1), 256u << 20);

	cpus = fdt_path_offset(blob, "/cpus");
	assert_true(cpus >= 0);
	assert_int_equal(prop_cell(blob, cpus, "#address-cells", 0), 1);
	fdt_for_each_subnode(node, blob, cpus)
	{
		assert_string_equal(fdt_getprop(blob, node, "device_type", NULL), "cpu");
		assert_string_equal(fdt_getprop(blob, node, "enable-method", NULL), "psci");
		assert_int_equal(prop_cell(blob, node, "reg", 0), n);
		n++;
	}
	assert_int_equal(n, 4);

	node = fdt_path_offset(blob, "/psci");
	assert_true(node >= 0);
	assert_int_equal(fdt_node_check_compatible(blob, node, "arm,psci-1.0"), 0);
	assert_int_equal(fdt_node_check_compatible(blob, node, "arm,psci-0.2"), 0);
	assert_string_equal(fdt_getprop(blob, node, "method", NULL), "hvc");

	node = fdt_node_offset_by_compatible(blob, -1, "arm,gic-v3");
	assert_true(node >= 0);
	assert_non_null(fdt_getprop(blob, node, "interrupt-controller", &len));
	assert_int_equal(prop_cell(blob, node, "#interrupt-cells", 0), 3);
	assert_int_equal(prop_u64(blob, node, "reg", 0), 0x08000000);
	assert_int_equal(prop_u64(blob, node, "reg", 1), 0x10000);
	assert_int_equal(prop_u64(blob, node, "reg", 2), 0x080a0000);
	assert_int_equal(prop_u64(blob, node, "reg", 3), 4 * 0x20000);
	assert_int_equal(fdt_get_phandle(blob, node), prop_cell(blob, 0, "interrupt-parent", 0));

	node = fdt_node_offset_by_compatible(blob, -1, "arm,armv8-timer");
	assert_true(node >= 0);
	for (int i = 0; i < 4; i++) {
		static const uint32_t ppi[4] = {13, 14, 11, 10};

		assert_int_equal(prop_cell(blob, node, "interrupts", i * 3), 1); /* PPI */
		assert_int_equal(prop_cell(blob, node, "interrupts", i * 3 + 1), ppi[i]);
		assert_int_equal(prop_cell(blob, node, "interrupts", i * 3 + 2), 4); /* level high */
	}

	node = fdt_node_offset_by_compatible(blob, -1, "arm,pl011");
	assert_true(node >= 0);
	assert_int_equal(fdt_node_check_compatible(blob, node, "arm,primecell"), 0);
	assert_int_equal(prop_u64(blob, node, "reg", 0), 0x09000000);
	assert_int_equal(prop_cell(blob, node, "interrupts", 0), 0); /* SPI */
	assert_int_equal(prop_cell(blob, node, "interrupts", 1), 1);
	{
		uint32_t clk = prop_cell(blob, node, "clocks", 0);
		int cnode = fdt_node_offset_by_phandle(blob, clk);

		assert_true(cnode >= 0);
		assert_int_equal(fdt_node_check_compatible(blob, cnode, "fixed-clock"), 0);
		assert_int_equal(prop_cell(blob, cnode, "clock-frequency", 0), 24000000);
		assert_int_equal(prop_cell(blob, node, "clocks", 1), clk);
		assert_int_equal(fdt_stringlist_search(blob, node, "clock-names", "apb_pclk"), 1);
	}

	node = fdt_path_offset(blob, "/chosen");
	assert_true(node >= 0);
	assert_string_equal(fdt_getprop(blob, node, "bootargs", NULL), "console=ttyAMA0 quiet");
	s = fdt_getprop(blob, node, "stdout-path", NULL);
	assert_non_null(s);
	assert_int_equal(fdt_path_offset(blob, s), fdt_node_offset_by_compatible(blob, -1, "arm,pl011"));
	assert_int_equal(prop_u64(blob, node, "linux,initrd-start", 0), 0x48000000);
	assert_int_equal(prop_u64(blob, node, "linux,initrd-end", 0), 0x48000000 + 0x123456);
}

static void many_cpus_mpidr(void **state)
{
	struct boot_fdt_guest g;
	int cpus, node, n = 0;

	(void)state;
	make_default(20, &g);
	cpus = fdt_path_offset(blob, "/cpus");
	fdt_for_each_subnode(node, blob, cpus)
	{
		/* vCPU n: Aff1 = n / 16, Aff0 = n % 16. */
		assert_int_equal(prop_cell(blob, node, "reg", 0), (uint32_t)((n / 16) << 8 | (n % 16)));
		n++;
	}
	assert_int_equal(n, 20);
	assert_true(fdt_path_offset(blob, "/cpus/cpu@103") >= 0);
	node = fdt_node_offset_by_compatible(blob, -1, "arm,gic-v3");
	assert_int_equal(prop_u64(blob, node, "reg", 3), 20 * 0x20000);

	/* The most vCPUs: their redistributors need room beyond QEMU's first GICR window. */
	boot_fdt_guest_defaults(&g, BOOT_FDT_MAX_CPUS);
	g.gicr = gpa(0x0a000000);
	assert_int_equal(boot_fdt_make_guest(&g, blob, sizeof(blob), NULL), 0);
	node = fdt_path_offset(blob, "/cpus/cpu@70f");
	assert_true(node >= 0);
	assert_int_equal(prop_cell(blob, node, "reg", 0), 0x70f);
}

static void bad_parameters(void **state)
{
	struct boot_fdt_guest g;
	const char *why;

	(void)state;
	boot_fdt_guest_defaults(&g, 2);
	assert_int_equal(boot_fdt_make_guest(&g, blob, 200, &why), -CV_ERANGE);
	assert_non_null(strstr(why, "too small"));
	g.cpus = 0;
	assert_int_equal(boot_fdt_make_guest(&g, blob, sizeof(blob), &why), -CV_EINVAL);
	g.cpus = BOOT_FDT_MAX_CPUS + 1;
	assert_int_equal(boot_fdt_make_guest(&g, blob, sizeof(blob), &why), -CV_EINVAL);
	boot_fdt_guest_defaults(&g, 2);
	g.mem_count = 0;
	assert_int_equal(boot_fdt_make_guest(&g, blob, sizeof(blob), &why), -CV_EINVAL);
	boot_fdt_guest_defaults(&g, 2);
	g.mem[0].size = 0;
	assert_int_equal(boot_fdt_make_guest(&g, blob, sizeof(blob), &why), -CV_EINVAL);
	/* 124 vCPUs' redistributors (from 0x080a0000) run into the PL011 at 0x09000000. */
	boot_fdt_guest_defaults(&g, 124);
	assert_int_equal(boot_fdt_make_guest(&g, blob, sizeof(blob), &why), -CV_EINVAL);
	assert_non_null(strstr(why, "overlap"));
	boot_fdt_guest_defaults(&g, 2);
	g.gicr = gpa(0x08008000);
	assert_int_equal(boot_fdt_make_guest(&g, blob, sizeof(blob), &why), -CV_EINVAL);
	boot_fdt_guest_defaults(&g, 2);
	g.timer_ppi[2] = 16;
	assert_int_equal(boot_fdt_make_guest(&g, blob, sizeof(blob), &why), -CV_EINVAL);
	boot_fdt_guest_defaults(&g, 2);
	g.uart_spi = 988;
	assert_int_equal(boot_fdt_make_guest(&g, blob, sizeof(blob), &why), -CV_EINVAL);
	boot_fdt_guest_defaults(&g, 2);
	g.initrd = gpa(UINT64_MAX - 10);
	g.initrd_size = 100;
	assert_int_equal(boot_fdt_make_guest(&g, blob, sizeof(blob), &why), -CV_EINVAL);
	assert_int_equal(boot_fdt_make_guest(NULL, blob, sizeof(blob), &why), -CV_EINVAL);
}

/* Runs cmd; returns its stdout and stderr (the first 256 KiB, in a static buffer) and status. */
static char *run(const char *cmd, int *status)
{
	static char out[256 << 10];
	FILE *p = popen(cmd, "r");
	size_t len = 0, n;

	assert_non_null(p);
	while (len + 1 < sizeof(out) && (n = fread(out + len, 1, sizeof(out) - len - 1, p)) > 0)
		len += n;
	out[len] = '\0';
	*status = pclose(p);
	return out;
}

static char tmpdir[] = "/tmp/cvisor-test-fdt.XXXXXX";

static void write_blob(const char *path, const void *fdt)
{
	FILE *f = fopen(path, "wb");

	assert_non_null(f);
	assert_int_equal(fwrite(fdt, 1, fdt_totalsize(fdt), f), fdt_totalsize(fdt));
	assert_int_equal(fclose(f), 0);
}

/* dtc decompiles the tree with all its checks on: no warning, and the expected source. */
static void guest_tree_with_dtc(void **state)
{
	struct boot_fdt_guest g;
	char path[256], cmd[600];
	char *out;
	int status;

	(void)state;
	make_default(3, &g);
	snprintf(path, sizeof(path), "%s/guest.dtb", tmpdir);
	write_blob(path, blob);
	snprintf(cmd, sizeof(cmd), "dtc -I dtb -O dts %s 2>&1", path);
	out = run(cmd, &status);
	assert_int_equal(status, 0);
	if (strstr(out, "Warning") || strstr(out, "ERROR"))
		fail_msg("dtc complained:\n%s", out);
	assert_non_null(strstr(out, "compatible = \"arm,psci-1.0\\0arm,psci-0.2\";"));
	assert_non_null(strstr(out, "method = \"hvc\";"));
	assert_non_null(strstr(out, "cpu@2 {"));
	assert_non_null(strstr(out, "enable-method = \"psci\";"));
	assert_non_null(strstr(out, "compatible = \"arm,gic-v3\";"));
	assert_non_null(strstr(out, "reg = <0x00 0x8000000 0x00 0x10000 0x00 0x80a0000 0x00 0x60000>;"));
	assert_non_null(strstr(out, "compatible = \"arm,armv8-timer\";"));
	assert_non_null(strstr(out, "interrupts = <0x01 0x0d 0x04 0x01 0x0e 0x04 0x01 0x0b 0x04 0x01 0x0a 0x04>;"));
	assert_non_null(strstr(out, "compatible = \"arm,pl011\\0arm,primecell\";"));
	assert_non_null(strstr(out, "clock-names = \"uartclk\\0apb_pclk\";"));
	assert_non_null(strstr(out, "stdout-path = \"/pl011@9000000\";"));
	assert_non_null(strstr(out, "bootargs = \"console=ttyAMA0 quiet\";"));
}

/* The reader on our own tree finds what the writer put there. */
static void read_back_guest_tree(void **state)
{
	struct boot_fdt_guest g;
	struct boot_host_info h;
	const char *why = NULL;

	(void)state;
	make_default(18, &g);
	assert_int_equal(boot_fdt_read_host(blob, fdt_totalsize(blob), &h, &why), 0);
	assert_int_equal(h.mem_count, 1);
	assert_int_equal(h.mem[0].base.v, 0x40000000);
	assert_int_equal(h.mem[0].size, 256u << 20);
	assert_int_equal(h.cpu_count, 18);
	assert_int_equal(h.cpu_mpidr[15], 15);
	assert_int_equal(h.cpu_mpidr[16], 0x100);
	assert_int_equal(h.cpu_mpidr[17], 0x101);
	assert_int_equal(h.gicd.base.v, 0x08000000);
	assert_int_equal(h.gicr_count, 1);
	assert_int_equal(h.gicr[0].size, 18 * 0x20000);
	assert_int_equal(h.gic_maint_ppi, 0);
	assert_int_equal(h.uart.base.v, 0x09000000);
	assert_int_equal(h.uart_spi, 1);
	assert_true(h.psci_found);
	assert_false(h.psci_smc);
	assert_string_equal(h.bootargs, "console=ttyAMA0 quiet");
	assert_int_equal(h.initrd.base.v, 0x48000000);
	assert_int_equal(h.initrd.size, 0x123456);
	assert_int_equal(h.timer_ppi[3], 10);

	/* Truncated or damaged copies are refused, never read past. */
	for (size_t len = 0; len < fdt_totalsize(blob); len += 97) {
		uint8_t *p = malloc(len ? len : 1);

		memcpy(p, blob, len);
		assert_int_equal(boot_fdt_read_host(p, len, &h, &why), -CV_EINVAL);
		free(p);
	}
	blob[fdt_off_dt_struct(blob) + 9] ^= 0xff;
	assert_int_not_equal(boot_fdt_read_host(blob, fdt_totalsize(blob), &h, &why), 0);
}

/* A small tree by hand: two PL011s, stdout-path through an alias with options, two memory nodes. */
static void reader_follows_stdout_alias(void **state)
{
	static uint8_t t[4096];
	struct boot_host_info h;
	const char *why = NULL;
	fdt32_t reg1[] = {cpu_to_fdt32(0x40000000), cpu_to_fdt32(0x1000000)};
	fdt32_t reg2[] = {cpu_to_fdt32(0x80000000), cpu_to_fdt32(0x2000000)};
	fdt32_t gic[] = {cpu_to_fdt32(0x2f000000), cpu_to_fdt32(0x10000),    cpu_to_fdt32(0x2f100000),
			 cpu_to_fdt32(0x100000),   cpu_to_fdt32(0x2f300000), cpu_to_fdt32(0x100000)};
	fdt32_t u1[] = {cpu_to_fdt32(0x1c090000), cpu_to_fdt32(0x1000)};
	fdt32_t u2[] = {cpu_to_fdt32(0x1c0a0000), cpu_to_fdt32(0x1000)};
	fdt32_t irq[] = {cpu_to_fdt32(0), cpu_to_fdt32(6), cpu_to_fdt32(4)};
	fdt32_t cpu1 = cpu_to_fdt32(0x100);

	(void)state;
	assert_int_equal(fdt_create(t, sizeof(t)), 0);
	fdt_finish_reservemap(t);
	fdt_begin_node(t, "");
	fdt_property_cell(t, "#address-cells", 1);
	fdt_property_cell(t, "#size-cells", 1);
	fdt_begin_node(t, "aliases");
	fdt_property_string(t, "serial1", "/soc/uart@1c0a0000");
	fdt_end_node(t);
	fdt_begin_node(t, "chosen");
	fdt_property_string(t, "stdout-path", "serial1:115200n8");
	fdt_end_node(t);
	fdt_begin_node(t, "memory@40000000");
	fdt_property_string(t, "device_type", "memory");
	fdt_property(t, "reg", reg1, sizeof(reg1));
	fdt_end_node(t);
	fdt_begin_node(t, "memory@80000000");
	fdt_property_string(t, "device_type", "memory");
	fdt_property(t, "reg", reg2, sizeof(reg2));
	fdt_end_node(t);
	fdt_begin_node(t, "cpus");
	fdt_property_cell(t, "#address-cells", 1);
	fdt_property_cell(t, "#size-cells", 0);
	fdt_begin_node(t, "cpu-map");
	fdt_end_node(t);
	fdt_begin_node(t, "cpu@100");
	fdt_property_string(t, "device_type", "cpu");
	fdt_property(t, "reg", &cpu1, sizeof(cpu1));
	fdt_end_node(t);
	fdt_end_node(t);
	fdt_begin_node(t, "soc");
	fdt_property_cell(t, "#address-cells", 1);
	fdt_property_cell(t, "#size-cells", 1);
	fdt_property(t, "ranges", NULL, 0);
	fdt_begin_node(t, "interrupt-controller@2f000000");
	fdt_property_string(t, "compatible", "arm,gic-v3");
	fdt_property_cell(t, "#redistributor-regions", 2);
	fdt_property(t, "reg", gic, sizeof(gic));
	fdt_end_node(t);
	fdt_begin_node(t, "uart@1c090000");
	fdt_property_string(t, "compatible", "arm,pl011");
	fdt_property(t, "reg", u1, sizeof(u1));
	fdt_end_node(t);
	fdt_begin_node(t, "uart@1c0a0000");
	fdt_property_string(t, "compatible", "arm,pl011");
	fdt_property(t, "reg", u2, sizeof(u2));
	fdt_property(t, "interrupts", irq, sizeof(irq));
	fdt_end_node(t);
	fdt_end_node(t);
	fdt_end_node(t);
	assert_int_equal(fdt_finish(t), 0);

	assert_int_equal(boot_fdt_read_host(t, sizeof(t), &h, &why), 0);
	assert_int_equal(h.mem_count, 2);
	assert_int_equal(h.mem[1].base.v, 0x80000000);
	assert_int_equal(h.mem[1].size, 0x2000000);
	assert_int_equal(h.cpu_count, 1);
	assert_int_equal(h.cpu_mpidr[0], 0x100);
	assert_int_equal(h.gicd.base.v, 0x2f000000);
	assert_int_equal(h.gicr_count, 2);
	assert_int_equal(h.gicr[1].base.v, 0x2f300000);
	assert_int_equal(h.uart.base.v, 0x1c0a0000);
	assert_int_equal(h.uart_spi, 6);
	assert_false(h.psci_found);
	assert_null(h.bootargs);

	/* A bus that translates addresses is not followed silently. */
	{
		int soc = fdt_path_offset(t, "/soc");
		fdt32_t ranges[] = {cpu_to_fdt32(0), cpu_to_fdt32(0x10000000), cpu_to_fdt32(0x20000000)};

		assert_int_equal(fdt_open_into(t, t, sizeof(t)), 0);
		soc = fdt_path_offset(t, "/soc");
		assert_int_equal(fdt_setprop(t, soc, "ranges", ranges, sizeof(ranges)), 0);
		assert_int_equal(boot_fdt_read_host(t, sizeof(t), &h, &why), -CV_ENOTSUP);
		/* No GICv3 at all. */
		assert_int_equal(fdt_del_node(t, soc), 0);
		assert_int_equal(boot_fdt_read_host(t, sizeof(t), &h, &why), -CV_EINVAL);
		assert_non_null(strstr(why, "gic-v3"));
	}
}

/* QEMU's own tree for the machine the hypervisor runs on; main() leaves it out without QEMU. */
static void reader_on_qemu_virt(void **state)
{
	struct boot_host_info h;
	const char *why = NULL;
	char path[256], cmd[600], *out;
	void *dtb;
	size_t len;
	int status;

	(void)state;
	snprintf(path, sizeof(path), "%s/qemu-virt.dtb", tmpdir);
	snprintf(cmd, sizeof(cmd),
		 "timeout 30 qemu-system-aarch64 -M virt,gic-version=3,virtualization=on -cpu max -smp 4 -m 384M "
		 "-display none -machine dumpdtb=%s 2>&1",
		 path);
	out = run(cmd, &status);
	if (status != 0)
		fail_msg("qemu-system-aarch64 dumpdtb failed: %s", out);
	assert_int_equal(boot_host_read_file(path, 1u << 20, &dtb, &len), 0);
	assert_int_equal(boot_fdt_read_host(dtb, len, &h, &why), 0);
	assert_int_equal(h.mem_count, 1);
	assert_int_equal(h.mem[0].base.v, 0x40000000);
	assert_int_equal(h.mem[0].size, 384u << 20);
	assert_int_equal(h.cpu_count, 4);
	for (unsigned i = 0; i < 4; i++)
		assert_int_equal(h.cpu_mpidr[i], i);
	assert_int_equal(h.gicd.base.v, 0x08000000);
	assert_int_equal(h.gicd.size, 0x10000);
	assert_int_equal(h.gicr_count, 1);
	assert_int_equal(h.gicr[0].base.v, 0x080a0000);
	assert_true(h.gicr[0].size >= 4 * 0x20000);
	assert_int_equal(h.gic_maint_ppi, 9); /* virtualization=on: the vGIC maintenance PPI */
	assert_int_equal(h.timer_ppi[0], 13);
	assert_int_equal(h.timer_ppi[1], 14);
	assert_int_equal(h.timer_ppi[2], 11);
	assert_int_equal(h.timer_ppi[3], 10);
	assert_int_equal(h.uart.base.v, 0x09000000);
	assert_int_equal(h.uart.size, 0x1000);
	assert_int_equal(h.uart_spi, 1);
	assert_true(h.psci_found);
	assert_true(h.psci_smc); /* with EL2 on, QEMU's PSCI is reached by SMC */
	free(dtb);
}

static int have(const char *cmd)
{
	char buf[300];

	snprintf(buf, sizeof(buf), "command -v %s >/dev/null 2>&1", cmd);
	return system(buf) == 0;
}

int main(void)
{
	struct CMUnitTest tests[8];
	size_t n = 0;
	int ret;

	tests[n++] = (struct CMUnitTest)cmocka_unit_test(guest_tree_with_libfdt);
	tests[n++] = (struct CMUnitTest)cmocka_unit_test(many_cpus_mpidr);
	tests[n++] = (struct CMUnitTest)cmocka_unit_test(bad_parameters);
	tests[n++] = (struct CMUnitTest)cmocka_unit_test(read_back_guest_tree);
	tests[n++] = (struct CMUnitTest)cmocka_unit_test(reader_follows_stdout_alias);
	/* cmocka's TAP writes a skipped test as "not ok": say SKIP ourselves and leave it out. */
	if (have("dtc"))
		tests[n++] = (struct CMUnitTest)cmocka_unit_test(guest_tree_with_dtc);
	else
		printf("ok - guest_tree_with_dtc # SKIP dtc missing: run scripts/setup\n");
	if (have("qemu-system-aarch64"))
		tests[n++] = (struct CMUnitTest)cmocka_unit_test(reader_on_qemu_virt);
	else
		printf("ok - reader_on_qemu_virt # SKIP qemu-system-aarch64 missing: run scripts/setup\n");
	fflush(stdout);
	assert_non_null(mkdtemp(tmpdir));
	ret = _cmocka_run_group_tests("fdt", tests, n, NULL, NULL);
	snprintf((char *)blob, sizeof(blob), "rm -rf %s", tmpdir);
	if (system((char *)blob) != 0)
		ret = 1;
	return ret;
}
