/* SPDX-License-Identifier: MIT */
/*
 * Memory: the EL2 identity map and a page allocator over the RAM after the image.
 *
 * EL2 stage 1 (ARM ARM D8): 4 KiB granule, TCR_EL2.T0SZ = 25 (39-bit VA), the walk
 * starts at level 1 and maps 1 GiB blocks: the first GiB (flash, GIC, UART, PCIe MMIO on
 * QEMU virt) as Device-nGnRnE, every GiB holding RAM as Normal write-back. Normal memory
 * is what makes exclusives (spinlocks) and the compiler's accesses well defined.
 *
 * The page allocator is a bitmap, first fit, under one spinlock; hal_alloc is page
 * granular with a 16-byte header holding the page count (the objects are few and large).
 */
#include <cvisor/errors.h>

#include "platform.h"

#define L1_ENTRIES	512
#define DESC_BLOCK	0x1ull
#define DESC_AF		(1ull << 10)
#define DESC_SH_INNER	(3ull << 8)
#define DESC_ATTR(i)	((uint64_t)(i) << 2)
#define DESC_XN		(1ull << 54)
#define MAIR_DEVICE_IDX 0 /* attr 0x00: Device-nGnRnE */
#define MAIR_NORMAL_IDX 1 /* attr 0xff: Normal, inner/outer write-back, read/write allocate */
#define GIB		(1ull << 30)

static uint64_t el2_l1[L1_ENTRIES] __attribute__((aligned(4096)));
uint64_t plat_el2_ttbr, plat_el2_tcr, plat_el2_mair;

void mm_build_el2_tables(uint64_t ram_base, uint64_t ram_size)
{
	uint64_t first = ram_base / GIB, last = (ram_base + ram_size - 1) / GIB;

	el2_l1[0] = 0 | DESC_BLOCK | DESC_AF | DESC_ATTR(MAIR_DEVICE_IDX) | DESC_XN;
	for (uint64_t i = first; i <= last && i < L1_ENTRIES; i++)
		if (i != 0)
			el2_l1[i] = (i * GIB) | DESC_BLOCK | DESC_AF | DESC_SH_INNER | DESC_ATTR(MAIR_NORMAL_IDX);
	plat_el2_ttbr = (uint64_t)(uintptr_t)el2_l1;
	plat_el2_mair = 0xffull << (8 * MAIR_NORMAL_IDX);
	/*
	 * TCR_EL2 (non-E2H layout): T0SZ=25; IRGN0=ORGN0=1 (write-back walks); SH0=3 (inner
	 * shareable); TG0=0 (4 KiB); PS=2 (40-bit PA, covers QEMU virt's RAM); bits 23 and
	 * 31 are RES1.
	 */
	plat_el2_tcr = 25 | (1ull << 8) | (1ull << 10) | (3ull << 12) | (2ull << 16) | (1ull << 23) | (1ull << 31);
}

static spinlock_t mm_lock = SPINLOCK_INIT;
static uint64_t *bitmap;
static uint64_t pool_base, pool_pages, next_hint;

void mm_init(uint64_t ram_base, uint64_t ram_size, uint64_t free_start)
{
	uint64_t end = ram_base + ram_size, bitmap_bytes;

	free_start = (free_start + PLAT_PAGE_SIZE - 1) & ~(PLAT_PAGE_SIZE - 1);
	pool_pages = (end - free_start) / PLAT_PAGE_SIZE;
	bitmap_bytes = ((pool_pages + 63) / 64) * 8;
	bitmap = (uint64_t *)(uintptr_t)free_start;
	memset(bitmap, 0, bitmap_bytes);
	free_start += (bitmap_bytes + PLAT_PAGE_SIZE - 1) & ~(PLAT_PAGE_SIZE - 1);
	pool_pages = (end - free_start) / PLAT_PAGE_SIZE;
	pool_base = free_start;
}

static void mark(uint64_t first, uint64_t n, bool used);

void mm_reserve(uint64_t start, uint64_t end)
{
	uint64_t first, last;

	start &= ~(PLAT_PAGE_SIZE - 1);
	end = (end + PLAT_PAGE_SIZE - 1) & ~(PLAT_PAGE_SIZE - 1);
	if (end <= pool_base)
		return;
	if (start < pool_base)
		start = pool_base;
	first = (start - pool_base) / PLAT_PAGE_SIZE;
	last = (end - pool_base) / PLAT_PAGE_SIZE;
	if (last > pool_pages)
		last = pool_pages;
	if (first >= last)
		return;
	spin_lock(&mm_lock);
	mark(first, last - first, true);
	spin_unlock(&mm_lock);
}

static bool page_used(uint64_t i)
{
	return bitmap[i / 64] >> (i % 64) & 1;
}

static void mark(uint64_t first, uint64_t n, bool used)
{
	for (uint64_t i = first; i < first + n; i++) {
		if (used)
			bitmap[i / 64] |= 1ull << (i % 64);
		else
			bitmap[i / 64] &= ~(1ull << (i % 64));
	}
}

void *hal_alloc_pages(size_t npages)
{
	uint64_t run = 0, start = 0, found = UINT64_MAX;
	void *p;

	if (npages == 0 || npages > pool_pages)
		return NULL;
	spin_lock(&mm_lock);
	for (uint64_t pass = 0; pass < 2 && found == UINT64_MAX; pass++) {
		uint64_t from = pass == 0 ? next_hint : 0, to = pass == 0 ? pool_pages : next_hint + npages;

		if (to > pool_pages)
			to = pool_pages;
		run = 0;
		for (uint64_t i = from; i < to; i++) {
			if (page_used(i)) {
				run = 0;
				continue;
			}
			if (run++ == 0)
				start = i;
			if (run == npages) {
				found = start;
				break;
			}
		}
	}
	if (found != UINT64_MAX) {
		mark(found, npages, true);
		next_hint = found + npages;
	}
	spin_unlock(&mm_lock);
	if (found == UINT64_MAX)
		return NULL;
	p = (void *)(uintptr_t)(pool_base + found * PLAT_PAGE_SIZE);
	memset(p, 0, npages * PLAT_PAGE_SIZE);
	return p;
}

void hal_free_pages(void *p, size_t npages)
{
	uint64_t first;

	if (!p)
		return;
	first = ((uint64_t)(uintptr_t)p - pool_base) / PLAT_PAGE_SIZE;
	if ((uint64_t)(uintptr_t)p < pool_base || first + npages > pool_pages)
		hal_fatal("hal_free_pages: pointer outside the page pool");
	/*
	 * Freed pages are zeroed here as well as when allocated: a VM's RAM (and its page
	 * tables) holds nothing of it once the VM has ended (issue #8), whoever gets it next.
	 */
	memset(p, 0, npages * PLAT_PAGE_SIZE);
	spin_lock(&mm_lock);
	mark(first, npages, false);
	if (first < next_hint)
		next_hint = first;
	spin_unlock(&mm_lock);
}

#define ALLOC_HDR 16u

void *hal_alloc(size_t size)
{
	size_t npages;
	uint8_t *p;

	if (size > SIZE_MAX - ALLOC_HDR - PLAT_PAGE_SIZE)
		return NULL;
	npages = (size + ALLOC_HDR + PLAT_PAGE_SIZE - 1) / PLAT_PAGE_SIZE;
	p = hal_alloc_pages(npages);
	if (!p)
		return NULL;
	*(uint64_t *)p = npages;
	return p + ALLOC_HDR;
}

void hal_free(void *ptr)
{
	uint8_t *p;

	if (!ptr)
		return;
	p = (uint8_t *)ptr - ALLOC_HDR;
	hal_free_pages(p, (size_t) * (uint64_t *)p);
}

/* The EL2 map is the identity. */
hpa_t hal_virt_to_phys(const void *va)
{
	return hpa((uint64_t)(uintptr_t)va);
}

void *hal_phys_to_virt(hpa_t pa)
{
	return (void *)(uintptr_t)pa.v;
}
