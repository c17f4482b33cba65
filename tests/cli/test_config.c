// SPDX-License-Identifier: MIT
/*
 * Unit tests of the JSON VM config parser (tools/cvisor/config_json.c): good configs fill
 * struct vm_config exactly; each bad config fails with one line naming the file, the key
 * and the reason.
 */
#include <glob.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include <cvisor/arch.h>
#include <cvisor/errors.h>

#include "config_json.h"

#define BASE   "\"base\": {\"id\": 1, \"name\": \"t\", \"cpu_num\": 2}"
#define REGION "{\"gpa\": 0, \"size\": \"64M\"}"
#define KERNEL "\"kernel\": {\"memory_regions\": [" REGION "]}"

static struct vm_config cfg;
static char err[CONFIG_ERR_MAX];

static int load(const char *json)
{
	return config_load_string(json, "test.json", "/cfgdir", &cfg, err, sizeof(err));
}

static void test_minimal(void **state)
{
	(void)state;
	assert_int_equal(load("{" BASE ", " KERNEL "}"), 0);
	assert_string_equal(err, "");
	assert_int_equal(cfg.id, 1);
	assert_string_equal(cfg.name, "t");
	assert_int_equal(cfg.cpu_num, 2);
	assert_int_equal(cfg.n_phys_cpu_ids, 0);
	assert_int_equal(cfg.n_phys_cpu_sets, 0);
	assert_false(cfg.has_entry_point);
	assert_false(cfg.has_kernel_load_addr);
	assert_string_equal(cfg.kernel_path, "");
	assert_int_equal(cfg.nregions, 1);
	assert_int_equal(cfg.regions[0].gpa, 0);
	assert_int_equal(cfg.regions[0].size, 64ull << 20);
	assert_int_equal(cfg.regions[0].flags, 0);
	assert_int_equal(cfg.regions[0].map_type, VM_MAP_ALLOC);
	assert_int_equal(cfg.unmapped_access, UNMAPPED_DEFAULT);
}

static void test_full(void **state)
{
	static const char json[] =
	    "{\n"
	    "  \"base\": { \"id\": \"0x10\", \"name\": \"alpha-1.x_y\", \"cpu_num\": 3,\n"
	    "            \"phys_cpu_ids\": [0, \"1\", 2],\n"
	    "            \"phys_cpu_sets\": [1, \"2\", 3] },\n"
	    "  \"kernel\": {\n"
	    "    \"entry_point\": \"0x4008_0000\", \"kernel_load_addr\": \"0x4008_0000\",\n"
	    "    \"kernel_path\": \"Image\", \"ramdisk_path\": \"/abs/initrd.gz\",\n"
	    "    \"ramdisk_load_addr\": \"0x4800_0000\", \"dtb_path\": \"sub/vm.dtb\",\n"
	    "    \"dtb_load_addr\": 1207959552, \"cmdline\": \"console=ttyAMA0 quiet\",\n"
	    "    \"memory_regions\": [\n"
	    "      [\"0x4000_0000\", \"256M\", 7, 0],\n"
	    "      { \"gpa\": \"0x900_0000\", \"size\": \"4K\", \"flags\": \"0xb\", \"map_type\": "
	    "\"identical\" },\n"
	    "      [\"2G\", 4096]\n"
	    "    ] },\n"
	    "  \"devices\": { \"unmapped_access\": \"stop\", \"emu_devices\": [], "
	    "\"passthrough_devices\": [] }\n"
	    "}\n";

	(void)state;
	if (load(json) != 0)
		fail_msg("%s", err);
	assert_int_equal(cfg.id, 16);
	assert_string_equal(cfg.name, "alpha-1.x_y");
	assert_int_equal(cfg.cpu_num, 3);
	assert_int_equal(cfg.n_phys_cpu_ids, 3);
	assert_int_equal(cfg.phys_cpu_ids[1], 1);
	assert_int_equal(cfg.phys_cpu_ids[2], 2);
	assert_int_equal(cfg.n_phys_cpu_sets, 3);
	assert_int_equal(cfg.phys_cpu_sets[2], 3);
	assert_true(cfg.has_entry_point);
	assert_int_equal(cfg.entry_point, 0x40080000);
	assert_true(cfg.has_kernel_load_addr);
	assert_int_equal(cfg.kernel_load_addr, 0x40080000);
	assert_true(cfg.has_ramdisk_load_addr);
	assert_int_equal(cfg.ramdisk_load_addr, 0x48000000);
	assert_true(cfg.has_dtb_load_addr);
	assert_int_equal(cfg.dtb_load_addr, 0x48000000);
	assert_string_equal(cfg.kernel_path, "/cfgdir/Image");
	assert_string_equal(cfg.ramdisk_path, "/abs/initrd.gz");
	assert_string_equal(cfg.dtb_path, "/cfgdir/sub/vm.dtb");
	assert_string_equal(cfg.cmdline, "console=ttyAMA0 quiet");
	assert_int_equal(cfg.nregions, 3);
	assert_int_equal(cfg.regions[0].gpa, 0x40000000);
	assert_int_equal(cfg.regions[0].size, 256ull << 20);
	assert_int_equal(cfg.regions[0].flags, CV_MAP_READ | CV_MAP_WRITE | CV_MAP_EXEC);
	assert_int_equal(cfg.regions[0].map_type, VM_MAP_ALLOC);
	assert_int_equal(cfg.regions[1].gpa, 0x9000000);
	assert_int_equal(cfg.regions[1].size, 4096);
	assert_int_equal(cfg.regions[1].flags, CV_MAP_READ | CV_MAP_WRITE | CV_MAP_DEVICE);
	assert_int_equal(cfg.regions[1].map_type, VM_MAP_IDENTICAL);
	assert_int_equal(cfg.regions[2].gpa, 2ull << 30);
	assert_int_equal(cfg.regions[2].size, 4096);
	assert_int_equal(cfg.regions[2].flags, 0);
	assert_int_equal(cfg.unmapped_access, UNMAPPED_STOP);
}

static void test_parse_u64(void **state)
{
	static const struct {
		const char *s;
		uint64_t v;
	} good[] = {
	    {"0", 0},
	    {"42", 42},
	    {"0x4000_0000", 0x40000000},
	    {"0XfF", 255},
	    {"1_000", 1000},
	    {"4K", 4096},
	    {"4k", 4096},
	    {"256M", 256ull << 20},
	    {"1G", 1ull << 30},
	    {"2T", 2ull << 40},
	    {"0x10M", 16ull << 20},
	    {"18446744073709551615", UINT64_MAX},
	    {"0xffff_ffff_ffff_ffff", UINT64_MAX},
	    {"16777215T", 16777215ull << 40},
	};
	static const struct {
		const char *s;
		int rc;
		const char *why;
	} bad[] = {
	    {"", -CV_EINVAL, "empty"},
	    {"-1", -CV_EINVAL, "negative"},
	    {"+1", -CV_EINVAL, "not a number"},
	    {" 1", -CV_EINVAL, "not a number"},
	    {"1 ", -CV_EINVAL, "not a number"},
	    {"0x", -CV_EINVAL, "no digits"},
	    {"K", -CV_EINVAL, "not a number"},
	    {"_1", -CV_EINVAL, "'_'"},
	    {"1_", -CV_EINVAL, "'_'"},
	    {"1__0", -CV_EINVAL, "'_'"},
	    {"0x_1", -CV_EINVAL, "'_'"},
	    {"12abc", -CV_EINVAL, "not a number"},
	    {"1KB", -CV_EINVAL, "suffix"},
	    {"1.5G", -CV_EINVAL, "not a number"},
	    {"010", -CV_EINVAL, "leading zero"},
	    {"18446744073709551616", -CV_ERANGE, "too large"},
	    {"0x1_0000_0000_0000_0000", -CV_ERANGE, "too large"},
	    {"16777216T", -CV_ERANGE, "too large"},
	    {"0x10000000000000G", -CV_ERANGE, "too large"},
	};

	(void)state;
	for (size_t i = 0; i < CV_ARRAY_SIZE(good); i++) {
		uint64_t v = 12345;

		assert_int_equal(config_parse_u64(good[i].s, &v, NULL), 0);
		assert_int_equal(v, good[i].v);
	}
	for (size_t i = 0; i < CV_ARRAY_SIZE(bad); i++) {
		uint64_t v = 12345;
		const char *why = NULL;

		assert_int_equal(config_parse_u64(bad[i].s, &v, &why), bad[i].rc);
		assert_non_null(why);
		if (!strstr(why, bad[i].why))
			fail_msg("\"%s\": reason \"%s\" lacks \"%s\"", bad[i].s, why, bad[i].why);
		assert_int_equal(v, 12345);
	}
}

/* Each bad config, the key its error must name and a word of the reason. */
static const struct {
	const char *json;
	const char *key;
	const char *reason;
} bad_configs[] = {
    /* Syntax and shape. */
    {"", "test.json:1:1: (JSON syntax)", "not valid JSON"},
    {"{\n  \"base\": {,\n}", "test.json:2:13: (JSON syntax)", "not valid JSON"},
    {"{" BASE ", " KERNEL "} trailing", "test.json:1:", "not valid JSON"},
    {"[]", "(top level)", "must be an object"},
    {"{" KERNEL "}", "base", "missing"},
    {"{" BASE "}", "kernel", "missing"},
    {"{" BASE ", " KERNEL ", \"extra\": 1}", "extra", "unknown key (expected one of: base, kernel, devices)"},
    {"{" BASE ", " KERNEL ", " BASE "}", "base", "given twice"},
    {"{\"base\": [], " KERNEL "}", "base", "must be an object, not an array"},
    /* base */
    {"{\"base\": {\"name\": \"t\", \"cpu_num\": 1}, " KERNEL "}", "base.id", "missing"},
    {"{\"base\": {\"id\": 1, \"cpu_num\": 1}, " KERNEL "}", "base.name", "missing"},
    {"{\"base\": {\"id\": 1, \"name\": \"t\"}, " KERNEL "}", "base.cpu_num", "missing"},
    {"{\"base\": {\"id\": 1, \"name\": \"t\", \"cpu_num\": 1, \"cpus\": 2}, " KERNEL "}", "base.cpus", "unknown key"},
    {"{\"base\": {\"id\": 1, \"name\": \"t\", \"cpu_num\": 1, \"cpu_num\": 2}, " KERNEL "}", "base.cpu_num",
     "given twice"},
    {"{\"base\": {\"id\": -1, \"name\": \"t\", \"cpu_num\": 1}, " KERNEL "}", "base.id", "must not be negative"},
    {"{\"base\": {\"id\": 4294967296, \"name\": \"t\", \"cpu_num\": 1}, " KERNEL "}", "base.id",
     "too large (at most 4294967295)"},
    {"{\"base\": {\"id\": 1.5, \"name\": \"t\", \"cpu_num\": 1}, " KERNEL "}", "base.id", "whole number"},
    {"{\"base\": {\"id\": true, \"name\": \"t\", \"cpu_num\": 1}, " KERNEL "}", "base.id",
     "must be a number or a string"},
    {"{\"base\": {\"id\": \"one\", \"name\": \"t\", \"cpu_num\": 1}, " KERNEL "}", "base.id",
     "not a number (expected digits, then optionally K, M, G or T) (got \"one\")"},
    {"{\"base\": {\"id\": 1, \"name\": 7, \"cpu_num\": 1}, " KERNEL "}", "base.name", "must be a string"},
    {"{\"base\": {\"id\": 1, \"name\": \"\", \"cpu_num\": 1}, " KERNEL "}", "base.name", "must not be empty"},
    {"{\"base\": {\"id\": 1, \"name\": \"a-name-that-is-far-too-long-for-cvisor\", \"cpu_num\": 1}, " KERNEL "}",
     "base.name", "too long (38 bytes, at most 31)"},
    {"{\"base\": {\"id\": 1, \"name\": \"two words\", \"cpu_num\": 1}, " KERNEL "}", "base.name",
     "only letters, digits"},
    {"{\"base\": {\"id\": 1, \"name\": \"t\", \"cpu_num\": 0}, " KERNEL "}", "base.cpu_num",
     "must be between 1 and 64 (got 0)"},
    {"{\"base\": {\"id\": 1, \"name\": \"t\", \"cpu_num\": 65}, " KERNEL "}", "base.cpu_num",
     "must be between 1 and 64 (got 65)"},
    {"{\"base\": {\"id\": 1, \"name\": \"t\", \"cpu_num\": 2, \"phys_cpu_ids\": [0]}, " KERNEL "}", "base.phys_cpu_ids",
     "has 1 entries but base.cpu_num is 2"},
    {"{\"base\": {\"id\": 1, \"name\": \"t\", \"cpu_num\": 1, \"phys_cpu_ids\": 0}, " KERNEL "}", "base.phys_cpu_ids",
     "must be an array"},
    {"{\"base\": {\"id\": 1, \"name\": \"t\", \"cpu_num\": 2, \"phys_cpu_ids\": [0, \"x\"]}, " KERNEL "}",
     "base.phys_cpu_ids[1]", "not a number"},
    {"{\"base\": {\"id\": 1, \"name\": \"t\", \"cpu_num\": 2, \"phys_cpu_sets\": [1, 2, 3]}, " KERNEL "}",
     "base.phys_cpu_sets", "has 3 entries but base.cpu_num is 2"},
    {"{\"base\": {\"id\": 1, \"name\": \"t\", \"cpu_num\": 2, \"phys_cpu_sets\": [1, 0]}, " KERNEL "}",
     "base.phys_cpu_sets[1]", "must not be 0"},
    /* kernel */
    {"{" BASE ", \"kernel\": {}}", "kernel.memory_regions", "missing"},
    {"{" BASE ", \"kernel\": {\"memory_regions\": []}}", "kernel.memory_regions", "at least one region"},
    {"{" BASE ", \"kernel\": {\"memory_regions\": {}}}", "kernel.memory_regions", "must be an array"},
    {"{" BASE ", \"kernel\": {\"memory_region\": [" REGION "]}}", "kernel.memory_region", "unknown key"},
    {"{" BASE ", \"kernel\": {\"memory_regions\": [" REGION ", 5]}}", "kernel.memory_regions[1]", "must be an object"},
    {"{" BASE ", \"kernel\": {\"memory_regions\": [[0]]}}", "kernel.memory_regions[0]", "not 1 values"},
    {"{" BASE ", \"kernel\": {\"memory_regions\": [[0, 4096, 7, 0, 1]]}}", "kernel.memory_regions[0]", "not 5 values"},
    {"{" BASE ", \"kernel\": {\"memory_regions\": [{\"gpa\": 0}]}}", "kernel.memory_regions[0].size", "missing"},
    {"{" BASE ", \"kernel\": {\"memory_regions\": [{\"size\": 4096}]}}", "kernel.memory_regions[0].gpa", "missing"},
    {"{" BASE ", \"kernel\": {\"memory_regions\": [{\"gpa\": 0, \"size\": 4096, \"sz\": 1}]}}",
     "kernel.memory_regions[0].sz", "unknown key (expected one of: gpa, size, flags, map_type)"},
    {"{" BASE ", \"kernel\": {\"memory_regions\": [" REGION ", {\"gpa\": \"1G\", \"size\": \"-4K\"}]}}",
     "kernel.memory_regions[1].size", "must not be negative"},
    {"{" BASE ", \"kernel\": {\"memory_regions\": [[0, \"0x1_0000_0000_0000_0000\"]]}}",
     "kernel.memory_regions[0][1] (size)", "too large (more than 64 bits)"},
    {"{" BASE ", \"kernel\": {\"memory_regions\": [[0, 18446744073709551615]]}}", "kernel.memory_regions[0][1] (size)",
     "write it as a string"},
    {"{" BASE ", \"kernel\": {\"memory_regions\": [[\"0x1001\", \"4K\"]]}}", "kernel.memory_regions[0]",
     "gpa 0x1001 is not a multiple of the page size"},
    {"{" BASE ", \"kernel\": {\"memory_regions\": [[0, \"4097\"]]}}", "kernel.memory_regions[0]",
     "size 0x1001 is not a multiple of the page size"},
    {"{" BASE ", \"kernel\": {\"memory_regions\": [[0, 0]]}}", "kernel.memory_regions[0]", "size must not be 0"},
    {"{" BASE ", \"kernel\": {\"memory_regions\": [[\"0xffff_ffff_ffff_f000\", \"8K\"]]}}", "kernel.memory_regions[0]",
     "runs past the end"},
    {"{" BASE ", \"kernel\": {\"memory_regions\": [[0, \"64M\"], [\"32M\", \"64M\"]]}}", "kernel.memory_regions[1]",
     "overlaps kernel.memory_regions[0] [0x0, 0x3ffffff]"},
    {"{" BASE ", \"kernel\": {\"memory_regions\": [[\"32M\", \"64M\"], [0, \"128M\"]]}}", "kernel.memory_regions[1]",
     "overlaps kernel.memory_regions[0]"},
    {"{" BASE ", \"kernel\": {\"memory_regions\": [[0, \"4K\", \"0x37\"]]}}", "kernel.memory_regions[0][2] (flags)",
     "unknown flag bits 0x30"},
    {"{" BASE ", \"kernel\": {\"memory_regions\": [[0, \"4K\", 7, 2]]}}", "kernel.memory_regions[0][3] (map_type)",
     "must be 0 or \"alloc\", or 1 or \"identical\" (got 2)"},
    {"{" BASE ", \"kernel\": {\"memory_regions\": [[0, \"4K\", 7, \"mapped\"]]}}",
     "kernel.memory_regions[0][3] (map_type)", "must be 0 or \"alloc\""},
    {"{" BASE ", \"kernel\": {\"memory_regions\": [" REGION "], \"entry_point\": \"1G\"}}", "kernel.entry_point",
     "0x40000000 is outside every memory region"},
    {"{" BASE ", \"kernel\": {\"memory_regions\": [" REGION "], \"kernel_load_addr\": \"64M\"}}",
     "kernel.kernel_load_addr", "outside every memory region"},
    {"{" BASE ", \"kernel\": {\"memory_regions\": [" REGION "], \"ramdisk_load_addr\": \"1M\"}}",
     "kernel.ramdisk_load_addr", "given without kernel.ramdisk_path"},
    {"{" BASE ", \"kernel\": {\"memory_regions\": [" REGION "], \"dtb_load_addr\": \"1M\"}}", "kernel.dtb_load_addr",
     "given without kernel.dtb_path"},
    {"{" BASE ", \"kernel\": {\"memory_regions\": [" REGION "], \"kernel_path\": \"\"}}", "kernel.kernel_path",
     "must not be empty"},
    {"{" BASE ", \"kernel\": {\"memory_regions\": [" REGION "], \"kernel_path\": 3}}", "kernel.kernel_path",
     "must be a string (a file path)"},
    {"{" BASE ", \"kernel\": {\"memory_regions\": [" REGION "], \"cmdline\": null}}", "kernel.cmdline",
     "must be a string, not null"},
    /* devices */
    {"{" BASE ", " KERNEL ", \"devices\": {\"unmapped_access\": \"panic\"}}", "devices.unmapped_access",
     "must be \"ignore\", \"abort\" or \"stop\" (got \"panic\")"},
    {"{" BASE ", " KERNEL ", \"devices\": {\"unmapped_access\": \"bad\\nline\"}}", "devices.unmapped_access",
     "(got \"bad?line\")"},
    {"{" BASE ", " KERNEL ", \"devices\": {\"unmapped_access\": 1}}", "devices.unmapped_access",
     "\"stop\", not a number"},
    {"{" BASE ", " KERNEL ", \"devices\": {\"emu_devices\": [[\"uart\", 1016, 8]]}}", "devices.emu_devices",
     "not supported yet"},
    {"{" BASE ", " KERNEL ", \"devices\": {\"passthrough_devices\": {}}}", "devices.passthrough_devices",
     "must be an array"},
    {"{" BASE ", " KERNEL ", \"devices\": {\"uart\": true}}", "devices.uart",
     "unknown key (expected one of: unmapped_access, emu_devices, passthrough_devices)"},
    {"{" BASE ", " KERNEL ", \"devices\": []}", "devices", "must be an object"},
};

static void test_bad_configs(void **state)
{
	(void)state;
	for (size_t i = 0; i < CV_ARRAY_SIZE(bad_configs); i++) {
		char want[256];
		int rc = load(bad_configs[i].json);

		if (strncmp(bad_configs[i].key, "test.json", 9) == 0)
			snprintf(want, sizeof(want), "%s", bad_configs[i].key);
		else
			snprintf(want, sizeof(want), "test.json: %s: ", bad_configs[i].key);
		print_message("# config %zu: %s\n", i, err);
		if (rc >= 0)
			fail_msg("config %zu was accepted: %s", i, bad_configs[i].json);
		if (strncmp(err, want, strlen(want)) != 0)
			fail_msg("config %zu: \"%s\" does not start with \"%s\"", i, err, want);
		if (!strstr(err, bad_configs[i].reason))
			fail_msg("config %zu: \"%s\" lacks \"%s\"", i, err, bad_configs[i].reason);
		assert_null(strchr(err, '\n'));
	}
}

/* Limits at the edges: the largest accepted sizes and counts, and one past them. */
static void test_limits(void **state)
{
	char json[8192];
	size_t n;

	(void)state;
	/* 64 vCPUs with 64 phys_cpu_ids: accepted. */
	n = (size_t)snprintf(json, sizeof(json),
			     "{\"base\": {\"id\": 1, \"name\": \"t\", \"cpu_num\": 64, "
			     "\"phys_cpu_ids\": [");
	for (int i = 0; i < 64; i++)
		n += (size_t)snprintf(json + n, sizeof(json) - n, "%s%d", i ? ", " : "", i % 2);
	snprintf(json + n, sizeof(json) - n, "]}, " KERNEL "}");
	assert_int_equal(load(json), 0);
	assert_int_equal(cfg.n_phys_cpu_ids, 64);
	assert_int_equal(cfg.phys_cpu_ids[63], 1);

	/* 65 phys_cpu_ids: refused before anything is written past the array. */
	n = (size_t)snprintf(json, sizeof(json),
			     "{\"base\": {\"id\": 1, \"name\": \"t\", \"cpu_num\": 64, "
			     "\"phys_cpu_ids\": [");
	for (int i = 0; i < 65; i++)
		n += (size_t)snprintf(json + n, sizeof(json) - n, "%s0", i ? ", " : "");
	snprintf(json + n, sizeof(json) - n, "]}, " KERNEL "}");
	assert_int_equal(load(json), -CV_ERANGE);
	assert_non_null(strstr(err, "test.json: base.phys_cpu_ids: too many entries (65, at most 64)"));

	/* 16 regions accepted, 17 refused. */
	for (int count = 16; count <= 17; count++) {
		n = (size_t)snprintf(json, sizeof(json), "{" BASE ", \"kernel\": {\"memory_regions\": [");
		for (int i = 0; i < count; i++)
			n += (size_t)snprintf(json + n, sizeof(json) - n, "%s[\"%dM\", \"1M\"]", i ? ", " : "", i);
		snprintf(json + n, sizeof(json) - n, "]}}");
		if (count == 16) {
			assert_int_equal(load(json), 0);
			assert_int_equal(cfg.nregions, 16);
			assert_int_equal(cfg.regions[15].gpa, 15ull << 20);
		} else {
			assert_int_equal(load(json), -CV_ERANGE);
			assert_non_null(strstr(err, "kernel.memory_regions: too many regions (17, at most 16)"));
		}
	}

	/* A 31-byte name is the longest; a cmdline of 1023 bytes fits, 1024 does not. */
	assert_int_equal(
	    load("{\"base\": {\"id\": 1, \"name\": \"abcdefghijabcdefghijabcdefghij1\", \"cpu_num\": 1}, " KERNEL "}"),
	    0);
	for (int len = 1023; len <= 1024; len++) {
		n = (size_t)snprintf(json, sizeof(json),
				     "{" BASE ", \"kernel\": {\"memory_regions\": [" REGION "], "
				     "\"cmdline\": \"");
		memset(json + n, 'c', (size_t)len);
		n += (size_t)len;
		snprintf(json + n, sizeof(json) - n, "\"}}");
		if (len == 1023) {
			assert_int_equal(load(json), 0);
			assert_int_equal(strlen(cfg.cmdline), 1023);
		} else {
			assert_int_equal(load(json), -CV_ERANGE);
			assert_non_null(strstr(err, "test.json: kernel.cmdline: too long (1024 bytes, at most 1023)"));
		}
	}

	/* 2^53 is the largest JSON number taken as is. */
	assert_int_equal(load("{" BASE ", \"kernel\": {\"memory_regions\": [[0, 9007199254740992]]}}"), 0);
	assert_int_equal(cfg.regions[0].size, 9007199254740992ull);
	assert_int_equal(load("{" BASE ", \"kernel\": {\"memory_regions\": [[0, 1e300]]}}"), -CV_ERANGE);
}

/* Files: paths relative to the config's folder, unreadable files, missing files. */
static void test_files(void **state)
{
	char dir[] = "/tmp/cvisor-test-config-XXXXXX";
	char path[200], sub[200], img[240];
	FILE *f;

	(void)state;
	assert_non_null(mkdtemp(dir));
	snprintf(sub, sizeof(sub), "%s/vms", dir);
	assert_int_equal(mkdir(sub, 0700), 0);
	snprintf(img, sizeof(img), "%s/vms/guest.bin", dir);
	f = fopen(img, "w");
	assert_non_null(f);
	fputs("\xf4", f);
	fclose(f);

	snprintf(path, sizeof(path), "%s/vms/vm.json", dir);
	f = fopen(path, "w");
	assert_non_null(f);
	fputs("{" BASE ", \"kernel\": {\"kernel_path\": \"guest.bin\", \"memory_regions\": [" REGION "]}}\n", f);
	fclose(f);
	assert_int_equal(config_load_file(path, &cfg, err, sizeof(err)), 0);
	assert_string_equal(cfg.kernel_path, img);
	assert_int_equal(config_check_files(&cfg, path, err, sizeof(err)), 0);

	/* The image is missing: parsing is fine, the file check names the key and the path. */
	f = fopen(path, "w");
	assert_non_null(f);
	fputs("{" BASE ", \"kernel\": {\"kernel_path\": \"nope.bin\", \"memory_regions\": [" REGION "]}}\n", f);
	fclose(f);
	assert_int_equal(config_load_file(path, &cfg, err, sizeof(err)), 0);
	assert_int_equal(config_check_files(&cfg, path, err, sizeof(err)), -CV_ENOENT);
	assert_non_null(strstr(err, ": kernel.kernel_path: cannot open "));
	assert_non_null(strstr(err, "/vms/nope.bin: No such file or directory"));
	assert_int_equal(strncmp(err, path, strlen(path)), 0);

	/* A folder as ramdisk. */
	snprintf(cfg.ramdisk_path, sizeof(cfg.ramdisk_path), "%s", sub);
	cfg.kernel_path[0] = '\0';
	assert_int_equal(config_check_files(&cfg, path, err, sizeof(err)), -CV_EINVAL);
	assert_non_null(strstr(err, "kernel.ramdisk_path: "));
	assert_non_null(strstr(err, "is not a regular file"));

	/* Syntax errors carry line and column. */
	f = fopen(path, "w");
	assert_non_null(f);
	fputs("{\n\t\"base\": { \"id\": 1 \"name\": \"x\" }\n}\n", f);
	fclose(f);
	assert_int_equal(config_load_file(path, &cfg, err, sizeof(err)), -CV_EINVAL);
	snprintf(img, sizeof(img), "%s:2:20: (JSON syntax)", path);
	assert_int_equal(strncmp(err, img, strlen(img)), 0);

	/* No such config, and a folder given as a config. */
	snprintf(img, sizeof(img), "%s/missing.json", dir);
	assert_int_equal(config_load_file(img, &cfg, err, sizeof(err)), -CV_ENOENT);
	assert_non_null(strstr(err, "missing.json: (file): cannot open: No such file or directory"));
	assert_int_equal(config_load_file(sub, &cfg, err, sizeof(err)), -CV_EINVAL);
	assert_non_null(strstr(err, "(file): not a regular file"));

	/* A config in the current folder resolves paths against ".". */
	assert_int_equal(config_load_string("{" BASE
					    ", \"kernel\": {\"kernel_path\": \"k\", \"memory_regions\": [" REGION "]}}",
					    "vm.json", NULL, &cfg, err, sizeof(err)),
			 0);
	assert_string_equal(cfg.kernel_path, "k");

	unlink(path);
	snprintf(img, sizeof(img), "%s/vms/guest.bin", dir);
	unlink(img);
	rmdir(sub);
	rmdir(dir);
}

/* config_check on configs built in code (the command line's demo VM). */
static void test_check_direct(void **state)
{
	struct vm_config c;

	(void)state;
	memset(&c, 0, sizeof(c));
	strcpy(c.name, "demo");
	c.cpu_num = 4;
	c.nregions = 1;
	c.regions[0].size = 64ull << 20;
	assert_int_equal(config_check(&c, "command line", err, sizeof(err)), 0);
	c.cpu_num = 0;
	assert_int_equal(config_check(&c, "command line", err, sizeof(err)), -CV_ERANGE);
	assert_string_equal(err, "command line: base.cpu_num: must be between 1 and 64 (got 0)");
	c.cpu_num = 1;
	c.regions[0].map_type = (enum vm_map_type)7;
	assert_int_equal(config_check(&c, NULL, err, sizeof(err)), -CV_EINVAL);
	assert_string_equal(err, "(config): kernel.memory_regions[0]: unknown map_type 7");
	c.regions[0].map_type = VM_MAP_ALLOC;
	c.unmapped_access = (enum unmapped_policy)9;
	assert_int_equal(config_check(&c, "x", err, sizeof(err)), -CV_EINVAL);
	c.unmapped_access = UNMAPPED_ABORT;
	assert_int_equal(config_check(&c, "x", err, sizeof(err)), 0);
	assert_string_equal(config_unmapped_name(UNMAPPED_ABORT), "abort");
	assert_string_equal(config_unmapped_name(UNMAPPED_IGNORE), "ignore");
	assert_string_equal(config_unmapped_name(UNMAPPED_STOP), "stop");
	memset(c.name, 'n', sizeof(c.name));
	assert_int_equal(config_check(&c, "x", err, sizeof(err)), -CV_ERANGE);
	/* A tiny buffer is cut, never overrun. */
	c.name[0] = '\0';
	assert_int_equal(config_check(&c, "x", err, 8), -CV_EINVAL);
	assert_string_equal(err, "x: base");
}

/* Every example config in configs/ parses (make check runs from the top of the tree). */
static void test_examples(void **state)
{
	glob_t g;

	(void)state;
	assert_int_equal(glob("configs/*.json", 0, NULL, &g), 0);
	assert_true(g.gl_pathc > 0);
	for (size_t i = 0; i < g.gl_pathc; i++) {
		if (config_load_file(g.gl_pathv[i], &cfg, err, sizeof(err)) < 0)
			fail_msg("%s", err);
		print_message("# %s: VM %u '%s', %u vCPUs, %u regions\n", g.gl_pathv[i], cfg.id, cfg.name, cfg.cpu_num,
			      cfg.nregions);
	}
	globfree(&g);
}

/* ---- fuzzing: mutated configs never crash, leak or give a malformed message ---- */

static uint64_t fuzz_rng = 0x2545F4914F6CDD1Dull;

static unsigned fuzz_rand(unsigned n)
{
	fuzz_rng ^= fuzz_rng << 13;
	fuzz_rng ^= fuzz_rng >> 7;
	fuzz_rng ^= fuzz_rng << 17;
	return (unsigned)(fuzz_rng % n);
}

/* Inserts s at pos of buf (length *len, capacity cap); false when it does not fit. */
static bool fuzz_insert(char *buf, size_t *len, size_t cap, size_t pos, const char *s, size_t n)
{
	if (*len + n + 1 > cap)
		return false;
	memmove(buf + pos + n, buf + pos, *len - pos + 1);
	memcpy(buf + pos, s, n);
	*len += n;
	return true;
}

/*
 * One random change of a JSON text: a byte, a cut, a copied run, a hostile token, an end,
 * or a value swapped for a hostile token with the syntax kept.
 */
static void fuzz_mutate(char *buf, size_t cap)
{
	static const char bytes[] = "{}[]\":,0123456789abcdefxXn_-.+eEMKGT \t\n\\/u\x01\x7f\xff";
	static const char *const tokens[] = {
	    "\"0xffffffffffffffff\"",
	    "1e400",
	    "-1",
	    "-0",
	    "18446744073709551616",
	    "9007199254740993",
	    "0.5",
	    "\"\\u0000\"",
	    "null",
	    "true",
	    "[]",
	    "{}",
	    "\"\"",
	    "\"0x_1\"",
	    "\"1T\"",
	    "\"99999999999T\"",
	    "\"0x\"",
	    "\"base\"",
	    "\"kernel\"",
	    "\"memory_regions\"",
	    "\"identical\"",
	    "[0, 4096, 7, 1]",
	    "\"stop\"",
	    "\"\\ud800\"",
	    "[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[",
	};
	size_t len = strlen(buf), pos = len ? fuzz_rand((unsigned)len + 1) : 0, n;
	char tmp[256];

	switch (fuzz_rand(8)) {
	case 6: /* a value (after ':' or inside an array) replaced, the syntax kept */
	case 7: {
		const char *t = tokens[fuzz_rand(CV_ARRAY_SIZE(tokens))];
		size_t end;

		while (pos < len && buf[pos] != ':' && buf[pos] != '[')
			pos++;
		if (pos == len)
			break;
		pos++;
		for (end = pos; end < len && !strchr(",}]", buf[end]); end++)
			if (buf[end] == '[' || buf[end] == '{')
				break;
		memmove(buf + pos, buf + end, len - end + 1);
		len -= end - pos;
		fuzz_insert(buf, &len, cap, pos, t, strlen(t));
		break;
	}
	case 0: /* one byte replaced */
		if (pos < len)
			buf[pos] = bytes[fuzz_rand(sizeof(bytes) - 1)];
		break;
	case 1: /* a run cut out */
		n = 1 + fuzz_rand(12);
		if (pos + n > len)
			n = len - pos;
		memmove(buf + pos, buf + pos + n, len - pos - n + 1);
		break;
	case 2: /* a run copied elsewhere */
		n = 1 + fuzz_rand(40);
		if (pos + n > len)
			n = len - pos;
		if (n > sizeof(tmp))
			n = sizeof(tmp);
		memcpy(tmp, buf + pos, n);
		fuzz_insert(buf, &len, cap, fuzz_rand((unsigned)len + 1), tmp, n);
		break;
	case 3: /* a hostile token */
	case 4: {
		const char *t = tokens[fuzz_rand(CV_ARRAY_SIZE(tokens))];

		if (fuzz_rand(8) == 0) {
			/* A string longer than any field (paths are 256 bytes, cmdline 1024). */
			static char long_str[1100];

			memset(long_str, 'a', sizeof(long_str) - 1);
			long_str[0] = long_str[sizeof(long_str) - 2] = '"';
			t = long_str;
		}
		fuzz_insert(buf, &len, cap, pos, t, strlen(t));
		break;
	}
	default: /* the text ends early */
		buf[pos] = '\0';
		break;
	}
}

/* The contract of a load: 0 with a config that checks, or one line "FILE..." and an error. */
static void fuzz_check(int rc, const char *file, const char *text)
{
	if (rc > 0)
		fail_msg("load returned %d for: %s", rc, text);
	if (rc == 0) {
		assert_string_equal(err, "");
		if (config_check(&cfg, file, err, sizeof(err)) != 0)
			fail_msg("accepted, then refused by config_check (%s): %s", err, text);
		assert_true(cfg.cpu_num >= 1 && cfg.cpu_num <= VM_MAX_VCPUS);
		assert_true(cfg.nregions >= 1 && cfg.nregions <= VM_MAX_REGIONS);
		assert_true(memchr(cfg.name, '\0', sizeof(cfg.name)) != NULL);
		assert_true(memchr(cfg.kernel_path, '\0', sizeof(cfg.kernel_path)) != NULL);
		return;
	}
	if (strncmp(err, file, strlen(file)) != 0 || strchr(err, '\n') || strlen(err) < strlen(file) + 3)
		fail_msg("malformed message \"%s\" for: %s", err, text);
}

/*
 * A few hundred configs mutated from good ones (1 to 4 changes each), some loaded from
 * files: no crash (the ASan build checks memory and leaks), and every answer keeps the
 * parser's contract.
 */
static void test_fuzz(void **state)
{
	static const char *const seeds[] = {
	    "{" BASE ", " KERNEL "}",
	    "{\"base\": {\"id\": \"0x10\", \"name\": \"a-1\", \"cpu_num\": 3, \"phys_cpu_ids\": [0, \"1\", 2],"
	    " \"phys_cpu_sets\": [1, \"2\", 3]}, \"kernel\": {\"entry_point\": \"0x4008_0000\","
	    " \"kernel_load_addr\": \"0x4008_0000\", \"kernel_path\": \"Image\", \"ramdisk_path\": \"/i.gz\","
	    " \"ramdisk_load_addr\": \"0x4800_0000\", \"dtb_path\": \"d/vm.dtb\", \"dtb_load_addr\": 1207959552,"
	    " \"cmdline\": \"console=ttyAMA0\", \"memory_regions\": [[\"0x4000_0000\", \"256M\", 7, 0],"
	    " {\"gpa\": \"0x900_0000\", \"size\": \"4K\", \"flags\": \"0xb\", \"map_type\": \"identical\"},"
	    " [\"2G\", 4096]]}, \"devices\": {\"unmapped_access\": \"stop\", \"emu_devices\": [],"
	    " \"passthrough_devices\": []}}",
	    "{\"base\": {\"id\": 2, \"name\": \"pinned\", \"cpu_num\": 2, \"phys_cpu_ids\": [0, 1]},"
	    " \"kernel\": {\"memory_regions\": [[\"0x0\", \"32M\", \"0x7\", 0]]}, \"devices\": {\"unmapped_access\":"
	    " \"ignore\"}}",
	};
	char dir[] = "/tmp/cvisor-test-fuzz-XXXXXX", path[64];
	unsigned accepted = 0, refused = 0;

	(void)state;
	assert_non_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/vm.json", dir);
	for (unsigned i = 0; i < 800; i++) {
		char text[8192];
		unsigned changes = 1 + fuzz_rand(4);
		int rc;

		snprintf(text, sizeof(text), "%s", seeds[i % CV_ARRAY_SIZE(seeds)]);
		for (unsigned c = 0; c < changes; c++)
			fuzz_mutate(text, sizeof(text));
		if (i % 8 == 0) {
			FILE *f = fopen(path, "w");

			assert_non_null(f);
			fputs(text, f);
			fclose(f);
			rc = config_load_file(path, &cfg, err, sizeof(err));
			fuzz_check(rc, path, text);
		} else {
			rc = load(text);
			fuzz_check(rc, "test.json", text);
		}
		if (rc == 0)
			accepted++;
		else
			refused++;
	}
	unlink(path);
	rmdir(dir);
	print_message("# fuzz: %u mutated configs accepted, %u refused\n", accepted, refused);
	assert_true(refused > 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_minimal),	 cmocka_unit_test(test_full),	  cmocka_unit_test(test_parse_u64),
	    cmocka_unit_test(test_bad_configs),	 cmocka_unit_test(test_limits),	  cmocka_unit_test(test_files),
	    cmocka_unit_test(test_check_direct), cmocka_unit_test(test_examples), cmocka_unit_test(test_fuzz),
	};

	return cmocka_run_group_tests_name("config", tests, NULL, NULL);
}
