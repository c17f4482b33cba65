// SPDX-License-Identifier: MIT
/*
 * Stand-in for run_vms.c while the VMM (include/cvisor/vmm.h) and the KVM backend are not
 * in the tree: option and config checking work, running a VM reports that it cannot.
 */
#include "cvisor.h"

size_t cvisor_demo_image(const void **out)
{
	*out = NULL;
	return 0;
}

enum cvisor_exit run_vms(struct run_opts *o)
{
	(void)o;
	cvisor_msg("run: this build has no VMM yet: cannot start VMs");
	return CVISOR_EXIT_FAILED;
}
