/* SPDX-License-Identifier: MIT */
/*
 * The hosted `cvisor` command (DESIGN.md "The cvisor command (hosted)"): subcommands
 * dispatched from a static table in main.c, one file per subcommand (kvmtool's
 * builtin-*.c). Only this layer decides to end the process; the library never exits.
 */
#ifndef CVISOR_TOOLS_CVISOR_H
#define CVISOR_TOOLS_CVISOR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#include <cvisor/config.h>

#define CVISOR_VERSION "0.1.0"

/* The process exit status (DESIGN.md); nothing else is ever returned by main. */
enum cvisor_exit {
	CVISOR_EXIT_OK = 0,	/* every VM powered off */
	CVISOR_EXIT_FAILED = 1, /* a guest failed: triple fault, FAIL_ENTRY, a VM stopped by cvisor */
	CVISOR_EXIT_USAGE = 2,	/* usage or config error: nothing was started */
};

struct cvisor_cmd {
	const char *name;
	const char *summary;				 /* one line for `cvisor --help` */
	enum cvisor_exit (*main)(int argc, char **argv); /* argv[0] is the subcommand's name */
	void (*help)(FILE *out);			 /* the subcommand's --help text */
};

/* The subcommand called name, or NULL. */
const struct cvisor_cmd *cvisor_find_cmd(const char *name);
/* `cvisor --help`: the command list. */
void cvisor_usage(FILE *out);

/* cvisor's own messages: "cvisor: ..." on stderr, one line. */
void cvisor_msg(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

enum cvisor_exit cmd_run(int argc, char **argv);
void cmd_run_help(FILE *out);
enum cvisor_exit cmd_help(int argc, char **argv);
void cmd_help_help(FILE *out);
enum cvisor_exit cmd_version(int argc, char **argv);
void cmd_version_help(FILE *out);

/* ---- cvisor run: what the option parser hands to the part that runs VMs ---- */

#define RUN_MAX_VMS 8

struct run_vm {
	struct vm_config cfg;	  /* checked; entry point and load address filled in */
	char source[VM_PATH_MAX]; /* names the VM in messages: config file or "the built-in demo" */
	const void *image;	  /* the flat guest image, loaded at cfg.kernel_load_addr */
	size_t image_size;
	void *image_buf;   /* image when read from a file (freed by run_opts_free), else NULL */
	void *ramdisk_buf; /* kernel.ramdisk_path's contents, loaded at ramdisk_load_addr */
	size_t ramdisk_size;
};

struct run_opts {
	unsigned nvms;
	struct run_vm vms[RUN_MAX_VMS];
	bool stats;	    /* print each vCPU's exits by kind at the end */
	unsigned timeout_s; /* stop the VMs after this long (0: no limit) */
};

/*
 * The built-in demo guest (guests/x86_64/demo.c), embedded in the executable: its size
 * and *out, or 0 when this build has none.
 */
size_t cvisor_demo_image(const void **out);

/*
 * Builds every VM of o, boots them, waits until each has stopped (or the timeout ran out:
 * the VMs are then stopped) and returns the exit status: OK when every VM powered off,
 * FAILED otherwise. Defined in run_vms.c (over the VMM and KVM).
 */
enum cvisor_exit run_vms(struct run_opts *o);

#endif /* CVISOR_TOOLS_CVISOR_H */
