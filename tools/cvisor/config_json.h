/* SPDX-License-Identifier: MIT */
/*
 * The JSON VM config (DESIGN.md "VM config"): a file mirroring axvisor's TOML VM config
 * sections (base, kernel, devices) read with cJSON into struct vm_config. Used by the
 * hosted `cvisor` command and, later, by the host-side tool that turns the same files into
 * a device tree blob for the bare-metal build, so nothing here depends on KVM or Linux.
 *
 * Every error is one line naming the file, the key as a dotted path
 * (kernel.memory_regions[1].size) and the reason, written into the caller's buffer.
 */
#ifndef CVISOR_TOOLS_CONFIG_JSON_H
#define CVISOR_TOOLS_CONFIG_JSON_H

#include <stddef.h>
#include <stdint.h>

#include <cvisor/config.h>

/* Room for one error line; longer messages are cut, never overflowed. */
#define CONFIG_ERR_MAX 512

/* The page size regions must be aligned to (4 KiB on both hosts). */
#define CONFIG_PAGE_SIZE 4096u

/*
 * Reads the JSON file at path into *cfg (zeroed first), then checks it for meaning
 * (config_check). Relative paths inside the file are resolved against the file's folder.
 * Returns 0, or a negative CV_E* code with a one-line message in err.
 */
int config_load_file(const char *path, struct vm_config *cfg, char *err, size_t errlen);

/*
 * As config_load_file for JSON text already in memory: file names the source in messages
 * and base_dir is the folder relative paths are resolved against ("." when NULL).
 */
int config_load_string(const char *text, const char *file, const char *base_dir, struct vm_config *cfg, char *err,
		       size_t errlen);

/*
 * Checks a filled config for meaning: cpu_num in 1..VM_MAX_VCPUS, phys_cpu_ids and
 * phys_cpu_sets one per vCPU, name, memory regions non-empty, page aligned, non-
 * overlapping, load addresses and the entry point inside guest memory. file names the
 * source in messages. Also used on configs built by the command line (the demo VM).
 */
int config_check(const struct vm_config *cfg, const char *file, char *err, size_t errlen);

/*
 * Checks that every file the config names (kernel, ramdisk, dtb) is a readable regular
 * file. Kept apart from parsing so that a config can be parsed on a machine without its
 * images (the AArch64 DTB tool places them with QEMU's loader).
 */
int config_check_files(const struct vm_config *cfg, const char *file, char *err, size_t errlen);

/*
 * Parses a size or address as the config and the command line write it: decimal or 0x
 * hex, '_' between digits, an optional binary suffix K, M, G or T (either case).
 * Rejects empty strings, signs, blanks, garbage and anything above UINT64_MAX.
 * Returns 0 or -CV_EINVAL / -CV_ERANGE; on error *why (if not NULL) says why in a few words.
 */
int config_parse_u64(const char *s, uint64_t *out, const char **why);

/* The name of an unmapped_access policy as written in configs ("ignore", ...). */
const char *config_unmapped_name(enum unmapped_policy p);

#endif /* CVISOR_TOOLS_CONFIG_JSON_H */
