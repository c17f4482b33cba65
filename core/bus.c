/* SPDX-License-Identifier: MIT */
/*
 * The device bus: a sorted array of disjoint ranges per address space, searched by
 * binary search. Registration happens before the VM boots (vm_add_device checks the VM
 * status), so vCPU tasks only ever read it and need no lock; the VM's status store on
 * boot (release) publishes the ranges to them.
 */
#include <cvisor/device.h>
#include <cvisor/errors.h>

/* Index of the first range whose base is > addr (ranges[i-1] is the candidate). */
static unsigned upper_bound(const struct bus *bus, uint64_t addr)
{
	unsigned lo = 0, hi = bus->n;

	while (lo < hi) {
		unsigned mid = lo + (hi - lo) / 2;

		if (bus->ranges[mid].base <= addr)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

int bus_register(struct bus *bus, uint64_t base, uint64_t size, const struct device_ops *ops, void *dev,
		 const char *name)
{
	uint64_t last;
	unsigned i;

	if (!bus || !ops || !ops->read || !ops->write || size == 0)
		return -CV_EINVAL;
	last = base + (size - 1);
	if (last < base)
		return -CV_EINVAL;
	i = upper_bound(bus, base);
	/* The range before must end before base; the one after must start after last. */
	if (i > 0) {
		const struct bus_range *prev = &bus->ranges[i - 1];

		if (prev->base + (prev->size - 1) >= base)
			return -CV_EEXIST;
	}
	if (i < bus->n && bus->ranges[i].base <= last)
		return -CV_EEXIST;
	if (bus->n >= BUS_MAX_RANGES)
		return -CV_ENOMEM;
	for (unsigned j = bus->n; j > i; j--)
		bus->ranges[j] = bus->ranges[j - 1];
	bus->ranges[i] = (struct bus_range){base, size, ops, dev, name ? name : "device"};
	bus->n++;
	return 0;
}

const struct bus_range *bus_find(const struct bus *bus, uint64_t addr, uint64_t len)
{
	unsigned i = upper_bound(bus, addr);
	const struct bus_range *r;

	if (i == 0)
		return NULL;
	r = &bus->ranges[i - 1];
	return cv_range_within(r->base, r->size, addr, len) ? r : NULL;
}

int bus_read(const struct bus *bus, uint32_t vcpu_id, uint64_t addr, enum access_width width, uint64_t *val)
{
	const struct bus_range *r;
	uint64_t v = 0;
	int ret;

	if (!access_width_valid(width))
		return -CV_ERANGE;
	r = bus_find(bus, addr, width);
	if (!r)
		return -CV_ENODEV;
	ret = r->ops->read(r->dev, vcpu_id, addr - r->base, width, &v);
	if (ret < 0)
		return ret;
	*val = v & access_width_mask(width);
	return 0;
}

int bus_write(const struct bus *bus, uint32_t vcpu_id, uint64_t addr, enum access_width width, uint64_t val)
{
	const struct bus_range *r;

	if (!access_width_valid(width))
		return -CV_ERANGE;
	r = bus_find(bus, addr, width);
	if (!r)
		return -CV_ENODEV;
	return r->ops->write(r->dev, vcpu_id, addr - r->base, width, val & access_width_mask(width));
}

void bus_release(struct bus *bus)
{
	for (unsigned i = 0; i < bus->n; i++)
		if (bus->ranges[i].ops->release)
			bus->ranges[i].ops->release(bus->ranges[i].dev);
	bus->n = 0;
}
