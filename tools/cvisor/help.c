// SPDX-License-Identifier: MIT
/* `cvisor help [COMMAND]`, also reached as `cvisor --help`. */
#include <string.h>

#include "cvisor.h"

void cmd_help_help(FILE *out)
{
	fprintf(out, "usage: cvisor help [COMMAND]\n\n"
		     "Shows the list of commands, or COMMAND's options.\n");
}

enum cvisor_exit cmd_help(int argc, char **argv)
{
	const struct cvisor_cmd *cmd;

	if (argc < 2) {
		cvisor_usage(stdout);
		return CVISOR_EXIT_OK;
	}
	if (argc > 2) {
		cvisor_msg("help: too many arguments (usage: cvisor help [COMMAND])");
		return CVISOR_EXIT_USAGE;
	}
	if (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")) {
		cmd_help_help(stdout);
		return CVISOR_EXIT_OK;
	}
	cmd = cvisor_find_cmd(argv[1]);
	if (!cmd) {
		cvisor_msg("help: unknown command '%s' (see `cvisor --help`)", argv[1]);
		return CVISOR_EXIT_USAGE;
	}
	cmd->help(stdout);
	return CVISOR_EXIT_OK;
}
