// SPDX-License-Identifier: MIT
/* `cvisor version`, also reached as `cvisor --version`. */
#include <string.h>

#include "cvisor.h"

void cmd_version_help(FILE *out)
{
	fprintf(out, "usage: cvisor version\n\nPrints cvisor's version.\n");
}

enum cvisor_exit cmd_version(int argc, char **argv)
{
	if (argc == 2 && (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h"))) {
		cmd_version_help(stdout);
		return CVISOR_EXIT_OK;
	}
	if (argc > 1) {
		cvisor_msg("version: unexpected argument '%s'", argv[1]);
		return CVISOR_EXIT_USAGE;
	}
	printf("cvisor %s (x86_64 over Linux KVM)\n", CVISOR_VERSION);
	return CVISOR_EXIT_OK;
}
