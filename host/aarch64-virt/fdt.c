/* SPDX-License-Identifier: MIT */
/*
 * Just enough of a flattened device tree reader (Devicetree Specification v0.4, chapter
 * 5) to find RAM, the CPUs, the PL011 and the GICv3 in the DTB QEMU leaves at the start
 * of RAM. Runs with the MMU off: byte loads only, every offset checked against totalsize.
 */
#include "platform.h"

#define FDT_MAGIC      0xd00dfeedu
#define FDT_BEGIN_NODE 1u
#define FDT_END_NODE   2u
#define FDT_PROP       3u
#define FDT_NOP	       4u
#define FDT_END	       9u
#define MAX_DEPTH      8

static uint32_t be32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static uint64_t cells(const uint8_t *p, unsigned n)
{
	uint64_t v = 0;

	for (unsigned i = 0; i < n; i++)
		v = v << 32 | be32(p + 4 * i);
	return v;
}

static bool str_eq(const char *a, const char *b)
{
	while (*a && *a == *b) {
		a++;
		b++;
	}
	return *a == *b;
}

/* True when the string list (len bytes) contains s. */
static bool list_has(const char *list, uint32_t len, const char *s)
{
	uint32_t i = 0;

	while (i < len) {
		if (str_eq(list + i, s))
			return true;
		while (i < len && list[i])
			i++;
		i++;
	}
	return false;
}

struct node {
	const char *name;
	unsigned addr_cells, size_cells; /* for this node's children */
	const char *compat, *dev_type;
	uint32_t compat_len;
	const uint8_t *reg;
	uint32_t reg_len;
};

static void node_done(const struct node *n, const struct node *parent, unsigned depth, struct plat_info *info)
{
	unsigned ac = parent->addr_cells, sc = parent->size_cells, entry = 4 * (ac + sc);

	if (!n->reg || ac == 0 || ac > 2 || sc > 2 || n->reg_len < entry)
		return;
	if (depth == 1 && n->dev_type && str_eq(n->dev_type, "memory") && sc) {
		if (!info->ram_size) {
			info->ram_base = cells(n->reg, ac);
			info->ram_size = cells(n->reg + 4 * ac, sc);
		}
	} else if (depth == 2 && str_eq(parent->name, "cpus") && n->dev_type && str_eq(n->dev_type, "cpu")) {
		if (info->ncpus < PLAT_MAX_CPUS)
			info->cpu_mpidr[info->ncpus++] = cells(n->reg, ac);
	} else if (n->compat && list_has(n->compat, n->compat_len, "arm,pl011")) {
		if (!info->uart_base)
			info->uart_base = cells(n->reg, ac);
	} else if (n->compat && list_has(n->compat, n->compat_len, "arm,gic-v3")) {
		if (n->reg_len >= 2 * entry) {
			info->gicd_base = cells(n->reg, ac);
			info->gicr_base = cells(n->reg + entry, ac);
		}
	}
}

bool fdt_parse(const void *dtb, struct plat_info *out)
{
	const uint8_t *b = dtb;
	uint32_t total, off_struct, off_strings, size_struct, size_strings, pos, end;
	struct node stack[MAX_DEPTH + 1];
	struct plat_info info = {0};
	int depth = -1;

	if (be32(b) != FDT_MAGIC)
		return false;
	total = be32(b + 4);
	off_struct = be32(b + 8);
	off_strings = be32(b + 12);
	size_strings = be32(b + 32);
	size_struct = be32(b + 36);
	if (total > (64u << 20) || off_struct > total || size_struct > total - off_struct || off_strings > total ||
	    size_strings > total - off_strings)
		return false;
	pos = off_struct;
	end = off_struct + size_struct;
	while (pos + 4 <= end) {
		uint32_t tok = be32(b + pos);

		pos += 4;
		if (tok == FDT_BEGIN_NODE) {
			const char *name = (const char *)b + pos;
			uint32_t n = 0;

			while (pos + n < end && name[n])
				n++;
			pos = (pos + n + 1 + 3) & ~3u;
			if (++depth > MAX_DEPTH)
				return false;
			stack[depth] = (struct node){.name = name, .addr_cells = 2, .size_cells = 1};
		} else if (tok == FDT_END_NODE) {
			if (depth < 0)
				return false;
			if (depth >= 1)
				node_done(&stack[depth], &stack[depth - 1], (unsigned)depth, &info);
			depth--;
		} else if (tok == FDT_PROP) {
			uint32_t len, nameoff;
			const char *pname;
			const uint8_t *val;

			if (pos + 8 > end || depth < 0)
				return false;
			len = be32(b + pos);
			nameoff = be32(b + pos + 4);
			pos += 8;
			if (len > end - pos || nameoff >= size_strings)
				return false;
			pname = (const char *)b + off_strings + nameoff;
			val = b + pos;
			pos = (pos + len + 3) & ~3u;
			if (str_eq(pname, "#address-cells") && len == 4) {
				stack[depth].addr_cells = be32(val);
			} else if (str_eq(pname, "#size-cells") && len == 4) {
				stack[depth].size_cells = be32(val);
			} else if (str_eq(pname, "compatible") && len) {
				stack[depth].compat = (const char *)val;
				stack[depth].compat_len = len;
			} else if (str_eq(pname, "device_type") && len) {
				stack[depth].dev_type = (const char *)val;
			} else if (str_eq(pname, "reg")) {
				stack[depth].reg = val;
				stack[depth].reg_len = len;
			}
		} else if (tok == FDT_NOP) {
			continue;
		} else if (tok == FDT_END) {
			break;
		} else {
			return false;
		}
	}
	*out = info;
	return true;
}
