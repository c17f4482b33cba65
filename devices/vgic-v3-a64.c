/* SPDX-License-Identifier: MIT */
/*
 * The emulated GICv3 on a bare-metal AArch64 VM: devices/vgic-v3.c put on the VM's MMIO
 * bus, notifying through the VM, and hooked to every vCPU's list registers through the
 * backend's small GIC header (cvisor/a64_gic.h). AArch64 builds only.
 */
#include <cvisor/a64_gic.h>
#include <cvisor/errors.h>
#include <cvisor/vcpu.h>
#include <cvisor/vgic.h>
#include <cvisor/vm.h>

/* Kick when running, wake when halted: vm_inject_interrupt's vector only makes it enter again. */
static void notify_vm(void *ctx, uint32_t vcpu_id, uint32_t intid)
{
	vm_inject_interrupt(ctx, vcpu_id, intid < VM_MAX_IRQS ? intid : 0);
}

static uint64_t hook_flush(void *ctx, uint32_t vcpu_id, uint64_t *lr, unsigned nr_lrs)
{
	return vgic_flush_lrs(ctx, vcpu_id, lr, nr_lrs);
}

static bool hook_pending(void *ctx, uint32_t vcpu_id, const uint64_t *lr, unsigned nr_lrs, uint64_t vmcr)
{
	return vgic_vcpu_pending(ctx, vcpu_id, lr, nr_lrs, vmcr);
}

static const struct a64_vgic_hook hook = {.flush = hook_flush, .pending = hook_pending};

int vm_add_vgic_v3(struct vm *vm, uint64_t gicd, uint64_t gicr, unsigned spi_blocks, struct vgic **out)
{
	unsigned n = vm_vcpu_count(vm);
	struct vgic *v;
	int ret;

	ret = vgic_create(&v, n, spi_blocks, notify_vm, vm);
	if (ret < 0)
		return ret;
	/* The GICD range owns the vGIC (its release frees it), so it goes first. */
	ret = vm_add_device(vm, BUS_MMIO, gicd, VGIC_GICD_SIZE, &vgic_dist_ops, v, "gicv3-dist");
	if (ret < 0) {
		vgic_destroy(v);
		return ret;
	}
	ret = vm_add_device(vm, BUS_MMIO, gicr, n * VGIC_GICR_STRIDE, &vgic_redist_ops, v, "gicv3-redist");
	if (ret < 0)
		return ret; /* the VM frees the vGIC with its bus */
	for (unsigned i = 0; i < n; i++)
		a64_vgic_attach(&vm_vcpu(vm, i)->arch, &hook, v);
	if (out)
		*out = v;
	return 0;
}
