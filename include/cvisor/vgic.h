/* SPDX-License-Identifier: MIT */
/*
 * The emulated GICv3 (ARM IHI 0069H) of an AArch64 VM: the distributor and one
 * redistributor per vCPU on the VM's MMIO bus (devices/vgic-v3.c), the CPU interface
 * being the hardware's virtual one (ICH_LR<n>_EL2, driven by the backend through the
 * flush hook below). What a guest sees: GICv3 with a single security state
 * (GICD_CTLR.DS = 1), affinity routing always on (ARE RAO/WI), no LPIs and no ITS,
 * 5 priority bits, SPIs 32 .. min(32 * (spi_blocks + 1), 1020) - 1, no 1-of-N routing (No1N).
 *
 * Interrupt sources (timer PPI, UART SPI, SGIs) call vgic_set_level / vgic_raise_edge /
 * vgic_send_sgi from any task; the vGIC updates its state and, when an interrupt becomes
 * deliverable, notifies the target vCPU (vm_inject_interrupt with the INTID as vector:
 * kick when running, wake when halted). The target's own task fills its list registers
 * on every entry (vgic_flush_lrs, called by the backend), highest priority first.
 *
 * INTIDs (IHI 0069 2.2.1): SGIs 0-15 and PPIs 16-31 are private to a vCPU (vcpu_id
 * names it); SPIs 32-1019 are shared (vcpu_id is ignored; IROUTER picks the target).
 * Freestanding; every function may be called from several tasks at once.
 */
#ifndef CVISOR_VGIC_H
#define CVISOR_VGIC_H

#include <cvisor/device.h>
#include <cvisor/exit.h>
#include <cvisor/types.h>

struct vm;
struct vgic;

#define VGIC_NR_PRIVATE	 32u
#define VGIC_MAX_INTID	 1020u /* 1020-1023 are special */
#define VGIC_MAX_VCPUS	 64u
#define VGIC_MAX_LRS	 16u
#define VGIC_GICD_SIZE	 0x10000ull
#define VGIC_GICR_STRIDE 0x20000ull /* RD_base frame + SGI_base frame, 64 KiB each (IHI 0069 12.10) */

/* ICH_LR<n>_EL2 fields (IHI 0069 12.5.10). */
#define VGIC_LR_STATE_SHIFT  62
#define VGIC_LR_PENDING	     (1ull << 62)
#define VGIC_LR_ACTIVE	     (1ull << 63)
#define VGIC_LR_HW	     (1ull << 61)
#define VGIC_LR_GROUP1	     (1ull << 60)
#define VGIC_LR_PRIO_SHIFT   48
#define VGIC_LR_EOI	     (1ull << 41) /* HW = 0: maintenance interrupt when the guest ends it */
#define VGIC_LR_PINTID_SHIFT 32		  /* HW = 1: the physical INTID, bits 44:32 */
#define VGIC_LR_VINTID_MASK  0xffffffffull

/* ICH_HCR_EL2 bits the flush asks for (IHI 0069 12.5.5). */
#define VGIC_HCR_UIE  (1ull << 1) /* underflow: at most one LR valid */
#define VGIC_HCR_NPIE (1ull << 3) /* no LR pending */

/*
 * Called (outside the vGIC's lock) when intid became deliverable to vcpu_id: the target
 * must leave guest mode or wake up and flush. vm_add_vgic_v3 sets vm_inject_interrupt.
 */
typedef void (*vgic_notify_fn)(void *ctx, uint32_t vcpu_id, uint32_t intid);

/*
 * Creates a vGIC for nvcpus vCPUs (1..VGIC_MAX_VCPUS; vCPU n has the MPIDR affinity
 * cv_vcpu_to_cpu_id(n)) with spi_blocks blocks of 32 SPIs (1..31; the last block stops
 * at INTID 1019), every interrupt at its reset state. -CV_EINVAL, -CV_ENOMEM.
 */
int vgic_create(struct vgic **out, unsigned nvcpus, unsigned spi_blocks, vgic_notify_fn notify, void *ctx);
void vgic_destroy(struct vgic *v);

/*
 * Register access, offset from the frame's base (GICD: 64 KiB; GICR: nvcpus * 128 KiB,
 * the frame of vCPU offset / 128 KiB), as the MMIO bus calls them (cvisor/device.h).
 * Every offset and width is accepted: a width or alignment the architecture does not
 * allow, and reserved registers, read as zero and ignore writes (IHI 0069 12.1). They
 * return 0 always, except -CV_EINVAL for a NULL argument.
 */
int vgic_dist_read(struct vgic *v, uint32_t vcpu_id, uint64_t offset, enum access_width width, uint64_t *val);
int vgic_dist_write(struct vgic *v, uint32_t vcpu_id, uint64_t offset, enum access_width width, uint64_t val);
int vgic_redist_read(struct vgic *v, uint32_t vcpu_id, uint64_t offset, enum access_width width, uint64_t *val);
int vgic_redist_write(struct vgic *v, uint32_t vcpu_id, uint64_t offset, enum access_width width, uint64_t val);

/* Device handlers for vm_add_device: dev is the struct vgic; the GICD's release destroys it. */
extern const struct device_ops vgic_dist_ops;
extern const struct device_ops vgic_redist_ops;

/*
 * An interrupt line (level-sensitive source: UART SPI, a PPI): sets its level. With the
 * interrupt configured level-sensitive it is pending while the line is high; configured
 * edge-triggered, a rising edge makes it pending. -CV_ERANGE for an INTID this vGIC
 * does not have, -CV_ENOENT for an unknown vCPU (private INTIDs only).
 */
int vgic_set_level(struct vgic *v, uint32_t vcpu_id, uint32_t intid, bool level);

/* An edge (or a message, an SGI): makes intid pending once. Errors as vgic_set_level. */
int vgic_raise_edge(struct vgic *v, uint32_t vcpu_id, uint32_t intid);

/*
 * The SEND_IPI exit of a trapped ICC_SGI1R_EL1 / ICC_ASGI1R_EL1 / ICC_SGI0R_EL1 write
 * (IHI 0069 12.2.21, as arch/aarch64 decodes it: target_cpu = Aff3.Aff2.Aff1 and the
 * Aff0 base RS * 16 in MPIDR layout, target_cpu_aux = TargetList, send_to_all = IRM,
 * vector = INTID) sent by vCPU from: SGI vector becomes pending on every vCPU named
 * (IRM = 1: every vCPU but the sender). Names of no vCPU are ignored, as on hardware.
 * -CV_EINVAL when e is not SEND_IPI or vector is not an SGI.
 */
int vgic_send_sgi(struct vgic *v, uint32_t from, const struct vcpu_exit *e);

/*
 * Links private or shared intid of vcpu_id to the physical interrupt pintid (16..1019):
 * its list registers then carry HW = 1 and pINTID, so the guest's deactivation
 * deactivates the physical interrupt (IHI 0069 4.4.3; Linux KVM does it for the virtual
 * timer's PPI 27). The caller must leave the physical interrupt active (EOImode = 1,
 * priority drop only) and call vgic_raise_edge each time it takes it: the level is
 * tracked by the physical GIC. pintid 0 removes the link. -CV_ERANGE, -CV_ENOENT.
 */
int vgic_map_hw(struct vgic *v, uint32_t vcpu_id, uint32_t intid, uint32_t pintid);

/*
 * For a level-sensitive source that is not told when the guest has dealt with it (the
 * virtual timer without HW linking): when the guest ends intid (EOI of its list
 * register), the vGIC asks level(ctx, vcpu_id) for the line's level again, on the
 * vCPU's own task before its next entry, with the vGIC's lock held (level must not call
 * back into the vGIC). NULL removes it. -CV_ERANGE, -CV_ENOENT.
 */
int vgic_set_resample(struct vgic *v, uint32_t vcpu_id, uint32_t intid, bool (*level)(void *ctx, uint32_t vcpu_id),
		      void *ctx);

/*
 * The backend's hook, on vCPU vcpu_id's own task before each entry: lr[0, nr_lrs) holds
 * the list registers as the last exit left them; the vGIC takes back what the guest did
 * (acknowledged, ended, still pending), then rewrites them with the vCPU's interrupts:
 * active ones first, then pending and enabled ones by priority (lowest value first,
 * then lowest INTID). Returns the ICH_HCR_EL2 bits to add (VGIC_HCR_NPIE / UIE when
 * more interrupts wait than fit). Level-sensitive software interrupts carry LR.EOI, so
 * the guest's EOI ends its run (maintenance interrupt) and the line is sampled again.
 */
uint64_t vgic_flush_lrs(struct vgic *v, uint32_t vcpu_id, uint64_t *lr, unsigned nr_lrs);

/*
 * The backend's WFI check: true when vCPU vcpu_id has an interrupt the virtual CPU
 * interface would signal (a pending list register, or one waiting in software, of
 * higher priority than ICH_VMCR_EL2.VPMR in an enabled group), so WFI completes at once.
 */
bool vgic_vcpu_pending(struct vgic *v, uint32_t vcpu_id, const uint64_t *lr, unsigned nr_lrs, uint64_t vmcr);

/*
 * AArch64 builds only (devices/vgic-v3-a64.c): creates a vGIC for every vCPU of vm (LOADED),
 * registers the distributor at gicd (64 KiB) and the redistributors at gicr (128 KiB per
 * vCPU, the layout boot/fdt.c describes) on its MMIO bus, notifies through
 * vm_inject_interrupt, and hooks every vCPU's list registers to it. The VM owns it.
 * Route SEND_IPI exits to vgic_send_sgi. -CV_ENOMEM, or vm_add_device's error.
 */
int vm_add_vgic_v3(struct vm *vm, uint64_t gicd, uint64_t gicr, unsigned spi_blocks, struct vgic **out);

#endif /* CVISOR_VGIC_H */
