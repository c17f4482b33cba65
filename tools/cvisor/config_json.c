// SPDX-License-Identifier: MIT
/*
 * JSON VM configs (DESIGN.md "VM config"), read with cJSON into struct vm_config.
 *
 * The keys mirror axvisor's TOML VM configs (sections base, kernel, devices) so a user of
 * the seeds recognises every field. JSON has no hex literals and cJSON keeps numbers as
 * doubles, so every number may also be a string ("0x4000_0000", "256M"); a JSON number is
 * only accepted when it is a whole number a double holds exactly (at most 2^53), and a
 * larger one must be written as a string rather than be silently rounded.
 *
 * Parsing is strict on purpose: an unknown or duplicated key is an error (a misspelt
 * "memory_region" would otherwise give a VM with default memory), and every error is one
 * line "FILE: KEY: REASON" with KEY a dotted path such as kernel.memory_regions[1].size.
 */
#include "config_json.h"

#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <cjson/cJSON.h>

#include <cvisor/arch.h>
#include <cvisor/errors.h>

/* A config is a few hundred bytes; anything this large is not one (and is not read). */
#define CONFIG_FILE_MAX (1u << 20)
/* The largest integer a double holds exactly: 2^53. */
#define JSON_EXACT_MAX 9007199254740992.0
#define KEY_MAX	       96
#define CV_MAP_KNOWN   (CV_MAP_READ | CV_MAP_WRITE | CV_MAP_EXEC | CV_MAP_DEVICE)

struct pctx {
	const char *file;     /* names the source in every message */
	const char *base_dir; /* relative paths are resolved against it */
	char *err;
	size_t errlen;
};

/* snprintf for key paths: a cut key is still a usable message, so truncation is fine. */
static void keyf(char *buf, size_t n, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void keyf(char *buf, size_t n, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(buf, n, fmt, ap);
	va_end(ap);
}

/* Writes "FILE: KEY: REASON" and returns code (negative). */
static int fail(const struct pctx *c, const char *key, int code, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static int fail(const struct pctx *c, const char *key, int code, const char *fmt, ...)
{
	char why[CONFIG_ERR_MAX];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(why, sizeof(why), fmt, ap);
	va_end(ap);
	if (c->err && c->errlen)
		snprintf(c->err, c->errlen, "%s: %s: %s", c->file, key, why);
	return code;
}

/*
 * A user string shown inside a message: at most 40 bytes, anything but printable ASCII
 * (a newline in a JSON string) replaced by '?', so the message stays one line.
 */
static const char *shown(const char *s, char *buf, size_t n)
{
	size_t i = 0;

	for (; *s && i + 4 < n && i < 40; s++)
		buf[i++] = (*s >= 0x20 && *s < 0x7f) ? *s : '?';
	if (*s && i + 4 <= n) {
		memcpy(buf + i, "...", 3);
		i += 3;
	}
	buf[i] = '\0';
	return buf;
}

static const char *json_type_name(const cJSON *item)
{
	if (cJSON_IsString(item))
		return "a string";
	if (cJSON_IsNumber(item))
		return "a number";
	if (cJSON_IsBool(item))
		return "a boolean";
	if (cJSON_IsNull(item))
		return "null";
	if (cJSON_IsArray(item))
		return "an array";
	if (cJSON_IsObject(item))
		return "an object";
	return "an invalid value";
}

int config_parse_u64(const char *s, uint64_t *out, const char **why)
{
	const char *p = s;
	const char *dummy;
	unsigned base = 10;
	uint64_t v = 0;
	bool any = false, prev_us = false;
	unsigned shift = 0;

	if (!why)
		why = &dummy;
	if (!s || !*s) {
		*why = "empty";
		return -CV_EINVAL;
	}
	if (*p == '-') {
		*why = "must not be negative";
		return -CV_EINVAL;
	}
	if (p[0] == '0' && (p[1] == 'x' || p[1] == 'X')) {
		base = 16;
		p += 2;
	} else if (p[0] == '0' && p[1] >= '0' && p[1] <= '9') {
		/* C would read it as octal, TOML forbids it: refuse rather than guess. */
		*why = "leading zero (write hex as 0x...)";
		return -CV_EINVAL;
	}
	for (; *p; p++) {
		unsigned d;

		if (*p == '_') {
			if (!any || prev_us) {
				*why = "'_' is allowed only between digits";
				return -CV_EINVAL;
			}
			prev_us = true;
			continue;
		}
		if (*p >= '0' && *p <= '9')
			d = (unsigned)(*p - '0');
		else if (base == 16 && *p >= 'a' && *p <= 'f')
			d = (unsigned)(*p - 'a' + 10);
		else if (base == 16 && *p >= 'A' && *p <= 'F')
			d = (unsigned)(*p - 'A' + 10);
		else
			break;
		if (v > (UINT64_MAX - d) / base) {
			*why = "too large (more than 64 bits)";
			return -CV_ERANGE;
		}
		v = v * base + d;
		any = true;
		prev_us = false;
	}
	if (!any) {
		*why =
		    base == 16 ? "no digits after 0x" : "not a number (expected digits, then optionally K, M, G or T)";
		return -CV_EINVAL;
	}
	if (prev_us) {
		*why = "'_' is allowed only between digits";
		return -CV_EINVAL;
	}
	if (*p) {
		switch (*p) {
		case 'k':
		case 'K':
			shift = 10;
			break;
		case 'm':
		case 'M':
			shift = 20;
			break;
		case 'g':
		case 'G':
			shift = 30;
			break;
		case 't':
		case 'T':
			shift = 40;
			break;
		default:
			*why = "not a number (expected digits, then optionally K, M, G or T)";
			return -CV_EINVAL;
		}
		if (p[1]) {
			*why = "not a number (nothing may follow the K, M, G or T suffix)";
			return -CV_EINVAL;
		}
		if (v > (UINT64_MAX >> shift)) {
			*why = "too large (more than 64 bits)";
			return -CV_ERANGE;
		}
		v <<= shift;
	}
	*out = v;
	return 0;
}

/* A number or a number-string at key, at most max. */
static int get_u64(const struct pctx *c, const cJSON *item, const char *key, uint64_t max, uint64_t *out)
{
	uint64_t v;

	if (cJSON_IsNumber(item)) {
		double d = item->valuedouble;

		if (d < 0)
			return fail(c, key, -CV_EINVAL, "must not be negative");
		if (d > JSON_EXACT_MAX)
			return fail(
			    c, key, -CV_ERANGE,
			    "too large for an exact JSON number: write it as a string, e.g. \"0x1_0000_0000_0000\"");
		v = (uint64_t)d;
		if ((double)v != d)
			return fail(c, key, -CV_EINVAL, "must be a whole number");
	} else if (cJSON_IsString(item)) {
		const char *why = "";
		char buf[48];
		int rc = config_parse_u64(item->valuestring, &v, &why);

		if (rc < 0)
			return fail(c, key, rc, "%s (got \"%s\")", why, shown(item->valuestring, buf, sizeof(buf)));
	} else {
		return fail(c, key, -CV_EINVAL,
			    "must be a number or a string such as \"0x4000_0000\" or \"256M\", not %s",
			    json_type_name(item));
	}
	if (v > max)
		return fail(c, key, -CV_ERANGE, "too large (at most %llu)", (unsigned long long)max);
	*out = v;
	return 0;
}

static int get_string(const struct pctx *c, const cJSON *item, const char *key, char *buf, size_t size)
{
	size_t len;

	if (!cJSON_IsString(item))
		return fail(c, key, -CV_EINVAL, "must be a string, not %s", json_type_name(item));
	len = strlen(item->valuestring);
	if (len >= size)
		return fail(c, key, -CV_ERANGE, "too long (%zu bytes, at most %zu)", len, size - 1);
	memcpy(buf, item->valuestring, len + 1);
	return 0;
}

/* A file path, resolved against the config file's folder unless absolute. */
static int get_path(const struct pctx *c, const cJSON *item, const char *key, char *buf, size_t size)
{
	const char *s;
	int n;

	if (!cJSON_IsString(item))
		return fail(c, key, -CV_EINVAL, "must be a string (a file path), not %s", json_type_name(item));
	s = item->valuestring;
	if (!*s)
		return fail(c, key, -CV_EINVAL, "must not be empty");
	if (s[0] == '/' || !c->base_dir || !strcmp(c->base_dir, "."))
		n = snprintf(buf, size, "%s", s);
	else
		n = snprintf(buf, size, "%s/%s", c->base_dir, s);
	if (n < 0 || (size_t)n >= size)
		return fail(c, key, -CV_ERANGE, "path too long (%d bytes once resolved, at most %zu)", n, size - 1);
	return 0;
}

/*
 * Refuses keys outside allowed[] and keys given twice (cJSON keeps both; the second
 * would silently lose), naming the first offending key.
 */
static int check_keys(const struct pctx *c, const cJSON *obj, const char *where, const char *const *allowed)
{
	const cJSON *it, *other;
	char key[KEY_MAX], buf[48];

	cJSON_ArrayForEach(it, obj)
	{
		bool known = false;

		for (const char *const *a = allowed; *a; a++)
			known |= !strcmp(*a, it->string);
		keyf(key, sizeof(key), "%s%s%s", where, *where ? "." : "", shown(it->string, buf, sizeof(buf)));
		if (!known) {
			char list[256] = "";
			size_t used = 0;

			for (const char *const *a = allowed; *a; a++) {
				int n =
				    snprintf(list + used, sizeof(list) - used, "%s%s", a == allowed ? "" : ", ", *a);

				if (n < 0 || (size_t)n >= sizeof(list) - used)
					break;
				used += (size_t)n;
			}
			return fail(c, key, -CV_EINVAL, "unknown key (expected one of: %s)", list);
		}
		for (other = it->next; other; other = other->next)
			if (!strcmp(other->string, it->string))
				return fail(c, key, -CV_EEXIST, "given twice");
	}
	return 0;
}

static int need_object(const struct pctx *c, const cJSON *item, const char *key)
{
	if (!cJSON_IsObject(item))
		return fail(c, key, -CV_EINVAL, "must be an object, not %s", json_type_name(item));
	return 0;
}

static const cJSON *member(const cJSON *obj, const char *name)
{
	return cJSON_GetObjectItemCaseSensitive(obj, name);
}

/* A list of numbers (phys_cpu_ids, phys_cpu_sets), at most VM_MAX_VCPUS of them. */
static int get_u64_list(const struct pctx *c, const cJSON *item, const char *key, uint64_t *vals, unsigned *count)
{
	const cJSON *it;
	unsigned n = 0;
	char ekey[KEY_MAX];
	int rc;

	if (!cJSON_IsArray(item))
		return fail(c, key, -CV_EINVAL, "must be an array, not %s", json_type_name(item));
	if (cJSON_GetArraySize(item) > VM_MAX_VCPUS)
		return fail(c, key, -CV_ERANGE, "too many entries (%d, at most %d)", cJSON_GetArraySize(item),
			    VM_MAX_VCPUS);
	cJSON_ArrayForEach(it, item)
	{
		keyf(ekey, sizeof(ekey), "%s[%u]", key, n);
		rc = get_u64(c, it, ekey, UINT64_MAX, &vals[n]);
		if (rc < 0)
			return rc;
		n++;
	}
	*count = n;
	return 0;
}

static int parse_base(const struct pctx *c, const cJSON *base, struct vm_config *cfg)
{
	static const char *const keys[] = {"id", "name", "cpu_num", "phys_cpu_ids", "phys_cpu_sets", NULL};
	const cJSON *it;
	uint64_t v;
	int rc;

	rc = need_object(c, base, "base");
	if (rc < 0)
		return rc;
	rc = check_keys(c, base, "base", keys);
	if (rc < 0)
		return rc;

	it = member(base, "id");
	if (!it)
		return fail(c, "base.id", -CV_EINVAL, "missing (required: the VM's number)");
	rc = get_u64(c, it, "base.id", UINT32_MAX, &v);
	if (rc < 0)
		return rc;
	cfg->id = (uint32_t)v;

	it = member(base, "name");
	if (!it)
		return fail(c, "base.name", -CV_EINVAL, "missing (required: the VM's name)");
	rc = get_string(c, it, "base.name", cfg->name, sizeof(cfg->name));
	if (rc < 0)
		return rc;

	it = member(base, "cpu_num");
	if (!it)
		return fail(c, "base.cpu_num", -CV_EINVAL, "missing (required: the number of vCPUs)");
	rc = get_u64(c, it, "base.cpu_num", UINT32_MAX, &v);
	if (rc < 0)
		return rc;
	cfg->cpu_num = (uint32_t)v;

	it = member(base, "phys_cpu_ids");
	if (it) {
		rc = get_u64_list(c, it, "base.phys_cpu_ids", cfg->phys_cpu_ids, &cfg->n_phys_cpu_ids);
		if (rc < 0)
			return rc;
	}
	it = member(base, "phys_cpu_sets");
	if (it) {
		rc = get_u64_list(c, it, "base.phys_cpu_sets", cfg->phys_cpu_sets, &cfg->n_phys_cpu_sets);
		if (rc < 0)
			return rc;
	}
	return 0;
}

static int get_map_type(const struct pctx *c, const cJSON *item, const char *key, enum vm_map_type *out)
{
	uint64_t v;
	int rc;

	if (cJSON_IsString(item) && !strcmp(item->valuestring, "alloc")) {
		*out = VM_MAP_ALLOC;
		return 0;
	}
	if (cJSON_IsString(item) && !strcmp(item->valuestring, "identical")) {
		*out = VM_MAP_IDENTICAL;
		return 0;
	}
	if (cJSON_IsString(item) && config_parse_u64(item->valuestring, &v, NULL) < 0)
		return fail(c, key, -CV_EINVAL, "must be 0 or \"alloc\", or 1 or \"identical\"");
	rc = get_u64(c, item, key, UINT32_MAX, &v);
	if (rc < 0)
		return rc;
	if (v > VM_MAP_IDENTICAL)
		return fail(c, key, -CV_EINVAL, "must be 0 or \"alloc\", or 1 or \"identical\" (got %llu)",
			    (unsigned long long)v);
	*out = (enum vm_map_type)v;
	return 0;
}

/* One region: {"gpa", "size", "flags", "map_type"} or axvisor's [gpa, size, flags, map_type]. */
static int parse_region(const struct pctx *c, const cJSON *item, unsigned idx, struct vm_mem_region *r)
{
	static const char *const names[] = {"gpa", "size", "flags", "map_type"};
	static const char *const keys[] = {"gpa", "size", "flags", "map_type", NULL};
	const cJSON *field[4] = {NULL, NULL, NULL, NULL};
	char where[KEY_MAX], key[KEY_MAX];
	bool array_form = cJSON_IsArray(item);
	uint64_t v;
	int rc;

	keyf(where, sizeof(where), "kernel.memory_regions[%u]", idx);
	if (array_form) {
		int n = cJSON_GetArraySize(item);

		if (n < 2 || n > 4)
			return fail(c, where, -CV_EINVAL,
				    "must be [gpa, size, flags, map_type] (flags and map_type "
				    "may be left out), not %d values",
				    n);
		for (int i = 0; i < n; i++)
			field[i] = cJSON_GetArrayItem(item, i);
	} else if (cJSON_IsObject(item)) {
		rc = check_keys(c, item, where, keys);
		if (rc < 0)
			return rc;
		for (int i = 0; i < 4; i++)
			field[i] = member(item, names[i]);
	} else {
		return fail(c, where, -CV_EINVAL,
			    "must be an object {\"gpa\", \"size\", \"flags\", \"map_type\"} or an array "
			    "[gpa, size, flags, map_type], not %s",
			    json_type_name(item));
	}

	for (int i = 0; i < 4; i++) {
		if (array_form)
			keyf(key, sizeof(key), "%s[%d] (%s)", where, i, names[i]);
		else
			keyf(key, sizeof(key), "%s.%s", where, names[i]);
		if (!field[i]) {
			if (i < 2)
				return fail(c, key, -CV_EINVAL, "missing (required)");
			continue;
		}
		switch (i) {
		case 0:
			rc = get_u64(c, field[i], key, UINT64_MAX, &r->gpa);
			break;
		case 1:
			rc = get_u64(c, field[i], key, UINT64_MAX, &r->size);
			break;
		case 2:
			rc = get_u64(c, field[i], key, UINT32_MAX, &v);
			if (rc == 0 && (v & ~(uint64_t)CV_MAP_KNOWN))
				rc = fail(c, key, -CV_EINVAL,
					  "unknown flag bits 0x%llx (known: 0x1 read, 0x2 write, 0x4 exec, 0x8 device)",
					  (unsigned long long)(v & ~(uint64_t)CV_MAP_KNOWN));
			r->flags = (uint32_t)v;
			break;
		default:
			rc = get_map_type(c, field[i], key, &r->map_type);
			break;
		}
		if (rc < 0)
			return rc;
	}
	return 0;
}

static int parse_kernel(const struct pctx *c, const cJSON *kernel, struct vm_config *cfg)
{
	static const char *const keys[] = {
	    "entry_point", "kernel_load_addr", "kernel_path", "ramdisk_path",	"ramdisk_load_addr",
	    "dtb_path",	   "dtb_load_addr",    "cmdline",     "memory_regions", NULL};
	/* The optional addresses: key, value, "given" flag. */
	const struct {
		const char *name;
		uint64_t *val;
		bool *has;
	} addrs[] = {
	    {"entry_point", &cfg->entry_point, &cfg->has_entry_point},
	    {"kernel_load_addr", &cfg->kernel_load_addr, &cfg->has_kernel_load_addr},
	    {"ramdisk_load_addr", &cfg->ramdisk_load_addr, &cfg->has_ramdisk_load_addr},
	    {"dtb_load_addr", &cfg->dtb_load_addr, &cfg->has_dtb_load_addr},
	};
	const struct {
		const char *name;
		char *buf;
	} paths[] = {
	    {"kernel_path", cfg->kernel_path},
	    {"ramdisk_path", cfg->ramdisk_path},
	    {"dtb_path", cfg->dtb_path},
	};
	const cJSON *it, *regions;
	char key[KEY_MAX];
	unsigned n = 0;
	int rc;

	rc = need_object(c, kernel, "kernel");
	if (rc < 0)
		return rc;
	rc = check_keys(c, kernel, "kernel", keys);
	if (rc < 0)
		return rc;

	for (size_t i = 0; i < CV_ARRAY_SIZE(addrs); i++) {
		it = member(kernel, addrs[i].name);
		if (!it)
			continue;
		keyf(key, sizeof(key), "kernel.%s", addrs[i].name);
		rc = get_u64(c, it, key, UINT64_MAX, addrs[i].val);
		if (rc < 0)
			return rc;
		*addrs[i].has = true;
	}
	for (size_t i = 0; i < CV_ARRAY_SIZE(paths); i++) {
		it = member(kernel, paths[i].name);
		if (!it)
			continue;
		keyf(key, sizeof(key), "kernel.%s", paths[i].name);
		rc = get_path(c, it, key, paths[i].buf, VM_PATH_MAX);
		if (rc < 0)
			return rc;
	}
	it = member(kernel, "cmdline");
	if (it) {
		rc = get_string(c, it, "kernel.cmdline", cfg->cmdline, sizeof(cfg->cmdline));
		if (rc < 0)
			return rc;
	}

	regions = member(kernel, "memory_regions");
	if (!regions)
		return fail(c, "kernel.memory_regions", -CV_EINVAL, "missing (required: the guest's memory)");
	if (!cJSON_IsArray(regions))
		return fail(c, "kernel.memory_regions", -CV_EINVAL, "must be an array of regions, not %s",
			    json_type_name(regions));
	if (cJSON_GetArraySize(regions) > VM_MAX_REGIONS)
		return fail(c, "kernel.memory_regions", -CV_ERANGE, "too many regions (%d, at most %d)",
			    cJSON_GetArraySize(regions), VM_MAX_REGIONS);
	cJSON_ArrayForEach(it, regions)
	{
		rc = parse_region(c, it, n, &cfg->regions[n]);
		if (rc < 0)
			return rc;
		n++;
	}
	cfg->nregions = n;
	return 0;
}

/* emu_devices and passthrough_devices: the keys exist (axvisor has them), entries come later. */
static int parse_device_list(const struct pctx *c, const cJSON *devices, const char *name)
{
	const cJSON *it = member(devices, name);
	char key[KEY_MAX];

	if (!it)
		return 0;
	keyf(key, sizeof(key), "devices.%s", name);
	if (!cJSON_IsArray(it))
		return fail(c, key, -CV_EINVAL, "must be an array, not %s", json_type_name(it));
	if (cJSON_GetArraySize(it) != 0)
		return fail(c, key, -CV_ENOTSUP,
			    "not supported yet: leave it empty (cvisor attaches its console UART itself)");
	return 0;
}

static int parse_devices(const struct pctx *c, const cJSON *devices, struct vm_config *cfg)
{
	static const char *const keys[] = {"unmapped_access", "emu_devices", "passthrough_devices", NULL};
	static const struct {
		const char *name;
		enum unmapped_policy p;
	} policies[] = {{"ignore", UNMAPPED_IGNORE}, {"abort", UNMAPPED_ABORT}, {"stop", UNMAPPED_STOP}};
	const cJSON *it;
	int rc;

	rc = need_object(c, devices, "devices");
	if (rc < 0)
		return rc;
	rc = check_keys(c, devices, "devices", keys);
	if (rc < 0)
		return rc;
	it = member(devices, "unmapped_access");
	if (it) {
		bool found = false;
		char buf[48];

		if (!cJSON_IsString(it))
			return fail(c, "devices.unmapped_access", -CV_EINVAL,
				    "must be \"ignore\", \"abort\" or \"stop\", not %s", json_type_name(it));
		for (size_t i = 0; i < CV_ARRAY_SIZE(policies); i++) {
			if (!strcmp(it->valuestring, policies[i].name)) {
				cfg->unmapped_access = policies[i].p;
				found = true;
			}
		}
		if (!found)
			return fail(c, "devices.unmapped_access", -CV_EINVAL,
				    "must be \"ignore\", \"abort\" or \"stop\" (got \"%s\")",
				    shown(it->valuestring, buf, sizeof(buf)));
	}
	rc = parse_device_list(c, devices, "emu_devices");
	if (rc < 0)
		return rc;
	return parse_device_list(c, devices, "passthrough_devices");
}

/* Line and column (1-based) of pos in text, for JSON syntax errors. */
static void line_col(const char *text, const char *pos, unsigned *line, unsigned *col)
{
	*line = 1;
	*col = 1;
	for (const char *p = text; p < pos && *p; p++) {
		if (*p == '\n') {
			(*line)++;
			*col = 1;
		} else {
			(*col)++;
		}
	}
}

static int parse_text(const struct pctx *c, const char *text, struct vm_config *cfg)
{
	static const char *const keys[] = {"base", "kernel", "devices", NULL};
	const char *end = NULL;
	const cJSON *it;
	cJSON *root;
	int rc;

	root = cJSON_ParseWithOpts(text, &end, true);
	if (!root) {
		unsigned line, col;

		if (!end)
			end = text;
		line_col(text, end, &line, &col);
		if (c->err && c->errlen) {
			char buf[48];

			snprintf(c->err, c->errlen, "%s:%u:%u: (JSON syntax): not valid JSON %s%s%s", c->file, line,
				 col, *end ? "near \"" : "(the text ends early)", *end ? shown(end, buf, 24) : "",
				 *end ? "\"" : "");
		}
		return -CV_EINVAL;
	}
	if (!cJSON_IsObject(root)) {
		rc = fail(c, "(top level)", -CV_EINVAL, "must be an object with base, kernel and devices, not %s",
			  json_type_name(root));
		goto out;
	}
	rc = check_keys(c, root, "", keys);
	if (rc < 0)
		goto out;
	it = member(root, "base");
	if (!it) {
		rc = fail(c, "base", -CV_EINVAL, "missing (required section)");
		goto out;
	}
	rc = parse_base(c, it, cfg);
	if (rc < 0)
		goto out;
	it = member(root, "kernel");
	if (!it) {
		rc = fail(c, "kernel", -CV_EINVAL, "missing (required section)");
		goto out;
	}
	rc = parse_kernel(c, it, cfg);
	if (rc < 0)
		goto out;
	it = member(root, "devices");
	if (it) {
		rc = parse_devices(c, it, cfg);
		if (rc < 0)
			goto out;
	}
	rc = config_check(cfg, c->file, c->err, c->errlen);
out:
	cJSON_Delete(root);
	return rc;
}

int config_load_string(const char *text, const char *file, const char *base_dir, struct vm_config *cfg, char *err,
		       size_t errlen)
{
	struct pctx c = {.file = file ? file : "(config)", .base_dir = base_dir, .err = err, .errlen = errlen};

	memset(cfg, 0, sizeof(*cfg));
	if (err && errlen)
		err[0] = '\0';
	return parse_text(&c, text, cfg);
}

int config_load_file(const char *path, struct vm_config *cfg, char *err, size_t errlen)
{
	struct pctx c = {.file = path, .err = err, .errlen = errlen};
	char *text = NULL, *dir = NULL, *slash;
	struct stat st;
	size_t len;
	FILE *f;
	int rc;

	memset(cfg, 0, sizeof(*cfg));
	if (err && errlen)
		err[0] = '\0';
	f = fopen(path, "r");
	if (!f)
		return fail(&c, "(file)", -CV_ENOENT, "cannot open: %s", strerror(errno));
	if (fstat(fileno(f), &st) < 0 || !S_ISREG(st.st_mode)) {
		rc = fail(&c, "(file)", -CV_EINVAL, "not a regular file");
		goto out;
	}
	if ((uint64_t)st.st_size > CONFIG_FILE_MAX) {
		rc = fail(&c, "(file)", -CV_ERANGE, "too large for a VM config (%lld bytes, at most %u)",
			  (long long)st.st_size, CONFIG_FILE_MAX);
		goto out;
	}
	text = malloc((size_t)st.st_size + 1);
	if (!text) {
		rc = fail(&c, "(file)", -CV_ENOMEM, "out of memory");
		goto out;
	}
	len = fread(text, 1, (size_t)st.st_size, f);
	if (ferror(f)) {
		rc = fail(&c, "(file)", -CV_EIO, "read error: %s", strerror(errno));
		goto out;
	}
	text[len] = '\0';
	if (strlen(text) != len) {
		rc = fail(&c, "(file)", -CV_EINVAL, "contains a NUL byte: not a JSON text");
		goto out;
	}

	/* Relative paths in the file are relative to the file's folder (DESIGN.md). */
	dir = strdup(path);
	if (!dir) {
		rc = fail(&c, "(file)", -CV_ENOMEM, "out of memory");
		goto out;
	}
	slash = strrchr(dir, '/');
	if (!slash)
		strcpy(dir, ".");
	else if (slash == dir)
		dir[1] = '\0';
	else
		*slash = '\0';
	c.base_dir = dir;
	rc = parse_text(&c, text, cfg);
out:
	free(dir);
	free(text);
	fclose(f);
	return rc;
}

int config_check(const struct vm_config *cfg, const char *file, char *err, size_t errlen)
{
	struct pctx c = {.file = file ? file : "(config)", .err = err, .errlen = errlen};
	const struct {
		const char *name;
		uint64_t val;
		bool has;
	} addrs[] = {
	    {"kernel.entry_point", cfg->entry_point, cfg->has_entry_point},
	    {"kernel.kernel_load_addr", cfg->kernel_load_addr, cfg->has_kernel_load_addr},
	    {"kernel.ramdisk_load_addr", cfg->ramdisk_load_addr, cfg->has_ramdisk_load_addr},
	    {"kernel.dtb_load_addr", cfg->dtb_load_addr, cfg->has_dtb_load_addr},
	};
	char key[KEY_MAX];
	size_t nlen = strnlen(cfg->name, sizeof(cfg->name));

	/* Names appear in task names and messages: keep them short and plain. */
	if (nlen == 0)
		return fail(&c, "base.name", -CV_EINVAL, "must not be empty");
	if (nlen >= sizeof(cfg->name))
		return fail(&c, "base.name", -CV_ERANGE, "too long (at most %zu bytes)", sizeof(cfg->name) - 1);
	for (size_t i = 0; i < nlen; i++) {
		char ch = cfg->name[i];

		if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') || ch == '-' ||
		      ch == '_' || ch == '.'))
			return fail(&c, "base.name", -CV_EINVAL,
				    "may hold only letters, digits, '-', '_' and '.' (byte %zu is not one)", i);
	}
	if (cfg->cpu_num < 1 || cfg->cpu_num > VM_MAX_VCPUS)
		return fail(&c, "base.cpu_num", -CV_ERANGE, "must be between 1 and %d (got %u)", VM_MAX_VCPUS,
			    cfg->cpu_num);
	if (cfg->n_phys_cpu_ids && cfg->n_phys_cpu_ids != cfg->cpu_num)
		return fail(&c, "base.phys_cpu_ids", -CV_EINVAL,
			    "has %u entries but base.cpu_num is %u: give one per vCPU", cfg->n_phys_cpu_ids,
			    cfg->cpu_num);
	if (cfg->n_phys_cpu_sets && cfg->n_phys_cpu_sets != cfg->cpu_num)
		return fail(&c, "base.phys_cpu_sets", -CV_EINVAL,
			    "has %u entries but base.cpu_num is %u: give one per vCPU", cfg->n_phys_cpu_sets,
			    cfg->cpu_num);
	for (unsigned i = 0; i < cfg->n_phys_cpu_sets; i++) {
		if (cfg->phys_cpu_sets[i] == 0) {
			keyf(key, sizeof(key), "base.phys_cpu_sets[%u]", i);
			return fail(&c, key, -CV_EINVAL, "must not be 0 (a mask with no physical CPU)");
		}
	}

	if (cfg->nregions == 0)
		return fail(&c, "kernel.memory_regions", -CV_EINVAL, "must hold at least one region");
	if (cfg->nregions > VM_MAX_REGIONS)
		return fail(&c, "kernel.memory_regions", -CV_ERANGE, "too many regions (%u, at most %d)", cfg->nregions,
			    VM_MAX_REGIONS);
	for (unsigned i = 0; i < cfg->nregions; i++) {
		const struct vm_mem_region *r = &cfg->regions[i];

		keyf(key, sizeof(key), "kernel.memory_regions[%u]", i);
		if (r->gpa % CONFIG_PAGE_SIZE)
			return fail(&c, key, -CV_EINVAL, "gpa 0x%llx is not a multiple of the page size (4K)",
				    (unsigned long long)r->gpa);
		if (r->size == 0)
			return fail(&c, key, -CV_EINVAL, "size must not be 0");
		if (r->size % CONFIG_PAGE_SIZE)
			return fail(&c, key, -CV_EINVAL, "size 0x%llx is not a multiple of the page size (4K)",
				    (unsigned long long)r->size);
		if (r->gpa + (r->size - 1) < r->gpa)
			return fail(&c, key, -CV_ERANGE,
				    "gpa 0x%llx + size 0x%llx runs past the end of the address space",
				    (unsigned long long)r->gpa, (unsigned long long)r->size);
		if (r->flags & ~(uint32_t)CV_MAP_KNOWN)
			return fail(&c, key, -CV_EINVAL, "unknown flag bits 0x%x", r->flags & ~(uint32_t)CV_MAP_KNOWN);
		if (r->map_type != VM_MAP_ALLOC && r->map_type != VM_MAP_IDENTICAL)
			return fail(&c, key, -CV_EINVAL, "unknown map_type %d", (int)r->map_type);
		for (unsigned j = 0; j < i; j++) {
			const struct vm_mem_region *o = &cfg->regions[j];

			/* Both ranges are wrap-free (checked above), so last addresses compare safely. */
			if (r->gpa <= o->gpa + (o->size - 1) && o->gpa <= r->gpa + (r->size - 1))
				return fail(&c, key, -CV_EEXIST, "overlaps kernel.memory_regions[%u] [0x%llx, 0x%llx]",
					    j, (unsigned long long)o->gpa,
					    (unsigned long long)(o->gpa + (o->size - 1)));
		}
	}

	for (size_t i = 0; i < CV_ARRAY_SIZE(addrs); i++) {
		bool inside = false;

		if (!addrs[i].has)
			continue;
		for (unsigned j = 0; j < cfg->nregions; j++)
			inside |= cv_range_within(cfg->regions[j].gpa, cfg->regions[j].size, addrs[i].val, 1);
		if (!inside)
			return fail(&c, addrs[i].name, -CV_EFAULT, "0x%llx is outside every memory region",
				    (unsigned long long)addrs[i].val);
	}
	if (cfg->has_ramdisk_load_addr && !cfg->ramdisk_path[0])
		return fail(&c, "kernel.ramdisk_load_addr", -CV_EINVAL, "given without kernel.ramdisk_path");
	if (cfg->has_dtb_load_addr && !cfg->dtb_path[0])
		return fail(&c, "kernel.dtb_load_addr", -CV_EINVAL,
			    "given without kernel.dtb_path (a generated device tree is placed by cvisor)");
	if (strnlen(cfg->cmdline, sizeof(cfg->cmdline)) >= sizeof(cfg->cmdline))
		return fail(&c, "kernel.cmdline", -CV_ERANGE, "not terminated");
	switch (cfg->unmapped_access) {
	case UNMAPPED_DEFAULT:
	case UNMAPPED_IGNORE:
	case UNMAPPED_ABORT:
	case UNMAPPED_STOP:
		break;
	default:
		return fail(&c, "devices.unmapped_access", -CV_EINVAL, "unknown policy %d", (int)cfg->unmapped_access);
	}
	return 0;
}

int config_check_files(const struct vm_config *cfg, const char *file, char *err, size_t errlen)
{
	struct pctx c = {.file = file ? file : "(config)", .err = err, .errlen = errlen};
	const struct {
		const char *key;
		const char *path;
	} files[] = {
	    {"kernel.kernel_path", cfg->kernel_path},
	    {"kernel.ramdisk_path", cfg->ramdisk_path},
	    {"kernel.dtb_path", cfg->dtb_path},
	};

	for (size_t i = 0; i < CV_ARRAY_SIZE(files); i++) {
		struct stat st;
		FILE *f;

		if (!files[i].path[0])
			continue;
		f = fopen(files[i].path, "rb");
		if (!f)
			return fail(&c, files[i].key, -CV_ENOENT, "cannot open %s: %s", files[i].path, strerror(errno));
		if (fstat(fileno(f), &st) < 0 || !S_ISREG(st.st_mode)) {
			fclose(f);
			return fail(&c, files[i].key, -CV_EINVAL, "%s is not a regular file", files[i].path);
		}
		fclose(f);
	}
	return 0;
}

const char *config_unmapped_name(enum unmapped_policy p)
{
	switch (p) {
	case UNMAPPED_IGNORE:
		return "ignore";
	case UNMAPPED_ABORT:
		return "abort";
	case UNMAPPED_STOP:
		return "stop";
	case UNMAPPED_DEFAULT:
		return "default";
	default:
		return "?";
	}
}
