/* SPDX-License-Identifier: MIT */
/*
 * The device bus (seed 003's MMIO / port-I/O device lists): emulated devices register
 * address ranges in one of a VM's address spaces; vm_run_vcpu routes MMIO, port-I/O and
 * system-register exits to them. A bus is filled while its VM is being built and only
 * read once the VM runs, so lookups take no lock; a device protects its own state.
 */
#ifndef CVISOR_DEVICE_H
#define CVISOR_DEVICE_H

#include <cvisor/exit.h>
#include <cvisor/types.h>

/* The address spaces a VM's devices live in. */
enum bus_space {
	BUS_MMIO,   /* guest-physical addresses (MMIO_READ / MMIO_WRITE exits) */
	BUS_PIO,    /* x86 I/O ports 0..0xffff (IO_READ / IO_WRITE exits) */
	BUS_SYSREG, /* backend register encodings (AArch64 ISS Op0..Op2, x86 MSR numbers), one
		     * address per register; every access is 8 bytes wide */
	BUS_SPACE_COUNT
};

/*
 * A device's handlers. offset is from the start of the registered range and the whole
 * access [offset, offset + width) lies inside it. vcpu_id is the accessing vCPU (banked
 * registers such as GIC redistributors need it). Both return 0 or a negative CV_E*
 * code; an error is a host failure and stops the VM (a guest mistake is not an error:
 * answer it as the hardware would). read stores the value in *val; the bus masks it to
 * width. Handlers run on vCPU tasks, possibly several at once.
 */
struct device_ops {
	int (*read)(void *dev, uint32_t vcpu_id, uint64_t offset, enum access_width width, uint64_t *val);
	int (*write)(void *dev, uint32_t vcpu_id, uint64_t offset, enum access_width width, uint64_t val);
	/* Optional: frees dev when its bus goes away. A device with several ranges sets it on one. */
	void (*release)(void *dev);
};

#define BUS_MAX_RANGES 64

struct bus_range {
	uint64_t base;
	uint64_t size;
	const struct device_ops *ops;
	void *dev;
	const char *name; /* static string, for logs */
};

/* One address space: ranges sorted by base, disjoint. Zeroed memory is an empty bus. */
struct bus {
	unsigned n;
	struct bus_range ranges[BUS_MAX_RANGES];
};

/*
 * Adds [base, base + size) served by ops/dev. -CV_EINVAL for a zero size, a range that
 * wraps, or missing read/write handlers; -CV_EEXIST when it overlaps a registered range;
 * -CV_ENOMEM when the bus is full. On error the caller still owns dev.
 */
int bus_register(struct bus *bus, uint64_t base, uint64_t size, const struct device_ops *ops, void *dev,
		 const char *name);

/* The range holding every byte of [addr, addr + len), or NULL (no device, or straddling). */
const struct bus_range *bus_find(const struct bus *bus, uint64_t addr, uint64_t len);

/*
 * A read / write of width bytes at addr. -CV_ENODEV when no single range holds the whole
 * access, -CV_ERANGE for a bad width, else the device's result. *val is masked to width.
 */
int bus_read(const struct bus *bus, uint32_t vcpu_id, uint64_t addr, enum access_width width, uint64_t *val);
int bus_write(const struct bus *bus, uint32_t vcpu_id, uint64_t addr, enum access_width width, uint64_t val);

/* Calls every range's release (if any) and empties the bus. */
void bus_release(struct bus *bus);

#endif /* CVISOR_DEVICE_H */
