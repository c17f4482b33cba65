/* SPDX-License-Identifier: MIT */
/*
 * The EL1 virtual timer of an AArch64 VM, as a device of the VM (AArch64 builds only):
 * one CNTVOFF_EL2 for all its vCPUs and where the timer's PPI goes. The hardware side
 * (taking the PPI at EL2, masking, waking a vCPU in WFI) is the backend's
 * (arch/aarch64/timer.c, which explains the choices); include/cvisor/vtimer.h has the API.
 */
#include <cvisor/errors.h>
#include <cvisor/vcpu.h>
#include <cvisor/vgic.h>
#include <cvisor/vm.h>
#include <cvisor/vtimer.h>

static uint64_t physical_count(void)
{
	uint64_t v;

	__asm__ volatile("isb; mrs %0, cntpct_el0" : "=r"(v));
	return v;
}

/* The timer fired (the backend took its PPI): the line goes high in the vGIC. */
static void raise_in_vgic(void *vgic, uint32_t vcpu_id)
{
	vgic_set_level(vgic, vcpu_id, VTIMER_INTID, true);
}

/* The guest ended the timer's interrupt: the line stays high while the timer asserts it. */
static bool resample(void *vm, uint32_t vcpu_id)
{
	struct vcpu *v = vm_vcpu(vm, vcpu_id);

	return v ? a64_vcpu_timer_resample(&v->arch) : false;
}

int vm_add_vtimer(struct vm *vm, struct vgic *vgic)
{
	uint64_t off;
	int ret;

	if (!vm)
		return -CV_EINVAL;
	if (vm_status(vm) != VM_STATUS_LOADED)
		return -CV_EBADSTATE; /* vCPUs may run: their registers are not ours to change */
	/*
	 * The guest's virtual counter starts at 0 when the VM is built, as a machine's does
	 * at reset, and is one counter for every vCPU (Linux checks its clocksource is
	 * monotonic across CPUs). The guest's uptime then matches the host's wall time.
	 */
	off = physical_count();
	for (unsigned i = 0; i < vm_vcpu_count(vm); i++) {
		struct vcpu *v = vm_vcpu(vm, i);

		if (!v)
			return -CV_EINVAL;
		a64_vcpu_set_cntvoff(&v->arch, off);
		if (!vgic) {
			a64_vcpu_set_timer_hook(&v->arch, NULL, NULL);
			continue;
		}
		ret = vgic_set_resample(vgic, i, VTIMER_INTID, resample, vm);
		if (ret < 0)
			return ret;
		a64_vcpu_set_timer_hook(&v->arch, raise_in_vgic, vgic);
	}
	return 0;
}
