// SPDX-License-Identifier: MIT
/*
 * cvisor's entry point: finds the subcommand in a static table (kvmtool's
 * builtin-*.c dispatch) and maps every outcome to DESIGN.md's exit status: 0 every VM
 * powered off, 1 a guest failed, 2 a usage or config error.
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "cvisor.h"

static const struct cvisor_cmd cmds[] = {
    {"run", "run virtual machines (the built-in demo, a flat guest, or JSON VM configs)", cmd_run, cmd_run_help},
    {"help", "show help for cvisor or one of its commands", cmd_help, cmd_help_help},
    {"version", "print cvisor's version", cmd_version, cmd_version_help},
};

const struct cvisor_cmd *cvisor_find_cmd(const char *name)
{
	for (size_t i = 0; i < sizeof(cmds) / sizeof(cmds[0]); i++)
		if (!strcmp(cmds[i].name, name))
			return &cmds[i];
	return NULL;
}

void cvisor_usage(FILE *out)
{
	fprintf(out, "usage: cvisor [--help | --version] COMMAND [OPTION]...\n\n"
		     "cvisor runs virtual machines over Linux /dev/kvm: one thread per vCPU, the\n"
		     "guest console on stdout, cvisor's own messages on stderr.\n\n"
		     "Commands:\n");
	for (size_t i = 0; i < sizeof(cmds) / sizeof(cmds[0]); i++)
		fprintf(out, "  %-9s %s\n", cmds[i].name, cmds[i].summary);
	fprintf(out, "\n`cvisor COMMAND --help` shows a command's options. Run `cvisor run` for the demo.\n"
		     "Exit status: 0 every VM powered off; 1 a guest failed; 2 a usage or config error.\n");
}

void cvisor_msg(const char *fmt, ...)
{
	va_list ap;

	fputs("cvisor: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

int main(int argc, char **argv)
{
	const struct cvisor_cmd *cmd;

	if (argc < 2) {
		cvisor_msg("no command given (try `cvisor run`, or `cvisor --help`)");
		return CVISOR_EXIT_USAGE;
	}
	if (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h"))
		return cmd_help(argc - 1, argv + 1);
	if (!strcmp(argv[1], "--version") || !strcmp(argv[1], "-V"))
		return cmd_version(argc - 1, argv + 1);
	if (argv[1][0] == '-') {
		cvisor_msg("unknown option '%s' (see `cvisor --help`)", argv[1]);
		return CVISOR_EXIT_USAGE;
	}
	cmd = cvisor_find_cmd(argv[1]);
	if (!cmd) {
		cvisor_msg("unknown command '%s' (see `cvisor --help`)", argv[1]);
		return CVISOR_EXIT_USAGE;
	}
	return cmd->main(argc - 1, argv + 1);
}
