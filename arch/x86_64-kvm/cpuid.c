/* SPDX-License-Identifier: MIT */
/*
 * The guest's CPUID. KVM starts a vCPU with an empty CPUID table, so the backend sets
 * one with KVM_SET_CPUID2 before the first KVM_RUN (DESIGN.md "Hosted KVM specifics";
 * api.rst 4.73: changing it after KVM_RUN is refused by recent kernels). The table is
 * what the host KVM supports (KVM_GET_SUPPORTED_CPUID, api.rst 4.46), with the fields
 * that name the CPU made per vCPU.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>

#include <cvisor/errors.h>
#include <cvisor/hal.h>

#include "kvm_private.h"

#define CPUID_MAX_ENTRIES 4096u

static struct kvm_cpuid2 *cpuid_alloc(unsigned nent)
{
	struct kvm_cpuid2 *c = calloc(1, sizeof(*c) + nent * sizeof(struct kvm_cpuid_entry2));

	if (c)
		c->nent = nent;
	return c;
}

struct kvm_cpuid2 *x86_kvm_cpuid_supported(int kvm_fd)
{
	struct kvm_cpuid2 *c;
	unsigned nent;
	int err;

	/* The ioctl fails with E2BIG until the buffer holds every entry. */
	for (nent = 64; nent <= CPUID_MAX_ENTRIES; nent *= 2) {
		c = cpuid_alloc(nent);
		if (!c)
			return NULL;
		if (ioctl(kvm_fd, KVM_GET_SUPPORTED_CPUID, c) == 0)
			return c;
		err = errno;
		free(c);
		if (err != E2BIG) {
			hal_log(HAL_LOG_ERROR, "KVM_GET_SUPPORTED_CPUID: %s", strerror(err));
			return NULL;
		}
	}
	hal_log(HAL_LOG_ERROR, "KVM_GET_SUPPORTED_CPUID: more than %u entries", CPUID_MAX_ENTRIES);
	return NULL;
}

int x86_kvm_cpuid_set(struct vcpu_arch *arch)
{
	const struct kvm_cpuid2 *base = arch->vm->cpuid;
	struct kvm_cpuid2 *c;
	unsigned i;
	int ret = 0;

	c = cpuid_alloc(base->nent);
	if (!c)
		return -CV_ENOMEM;
	memcpy(c->entries, base->entries, base->nent * sizeof(c->entries[0]));
	for (i = 0; i < c->nent; i++) {
		struct kvm_cpuid_entry2 *e = &c->entries[i];

		switch (e->function) {
		case 1:
			/*
			 * SDM Vol. 2A CPUID leaf 01H: EBX[31:24] is the initial APIC id, which
			 * KVM also uses as this vCPU's id; ECX bit 31 says "running under a
			 * hypervisor" (reserved for that use by both vendors).
			 */
			e->ebx = (e->ebx & 0x00ffffffu) | (arch->vcpu_id << 24);
			e->ecx |= 1u << 31;
			break;
		case 0xb:
		case 0x1f:
			/* Extended topology: EDX is the x2APIC id at every level. */
			e->edx = arch->vcpu_id;
			break;
		default:
			break;
		}
	}
	if (ioctl(arch->fd, KVM_SET_CPUID2, c) < 0) {
		hal_log(HAL_LOG_ERROR, "vm %u vcpu %u: KVM_SET_CPUID2: %s", arch->vm_id, arch->vcpu_id,
			strerror(errno));
		ret = -CV_EIO;
	}
	free(c);
	return ret;
}
