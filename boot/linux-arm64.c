/* SPDX-License-Identifier: MIT */
/*
 * The arm64 Linux boot protocol (Linux Documentation/arch/arm64/booting.rst): the Image
 * header check, where the kernel, initrd and DTB go in guest RAM, and the boot CPU's
 * registers. Freestanding (runs at EL2 too): no libc, and every multi-byte field is read a
 * byte at a time, since an image in memory need not be aligned and EL2 code is built with
 * -mstrict-align.
 */
#include <cvisor/boot.h>
#include <cvisor/errors.h>

static uint32_t le16(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8;
}

static uint32_t le32(const uint8_t *p)
{
	return le16(p) | (uint32_t)le16(p + 2) << 16;
}

static uint64_t le64(const uint8_t *p)
{
	return (uint64_t)le32(p) | (uint64_t)le32(p + 4) << 32;
}

/* Sets *why and returns -err (err is a positive CV_E* code). */
static int fail(const char **why, const char *reason, int err)
{
	if (why)
		*why = reason;
	return -err;
}

bool boot_is_gzip(const void *buf, size_t size)
{
	const uint8_t *p = buf;

	/* RFC 1952 2.3.1: ID1 = 0x1f, ID2 = 0x8b, CM = 8 (deflate); a member header is 10 bytes. */
	return buf && size >= 10 && p[0] == 0x1f && p[1] == 0x8b && p[2] == 8;
}

/*
 * PE/COFF offsets (Microsoft PE format: "COFF File Header", "Section Table"). An arm64
 * kernel with the EFI stub starts with "MZ" and keeps the PE header's offset at 0x3c (the
 * header's res5 field); its section table says how many bytes of the file the sections
 * fill, which catches a truncated Image that the arm64 header alone would not.
 */
#define PE_OFFSET_FIELD	 0x3c
#define PE_COFF_SIZE	 24u /* "PE\0\0" + the 20-byte COFF header */
#define PE_MACHINE_ARM64 0xaa64u
#define PE_SECTION_SIZE	 40u

static int check_pe(const uint8_t *p, size_t size, const char **why)
{
	uint64_t pe = le32(p + PE_OFFSET_FIELD);
	uint64_t nsec, opt, table, end = 0;

	if (pe > size || size - pe < PE_COFF_SIZE)
		return fail(why, "truncated: the file ends before its PE header", CV_ERANGE);
	if (p[pe] != 'P' || p[pe + 1] != 'E' || p[pe + 2] != 0 || p[pe + 3] != 0)
		return fail(why, "not an arm64 Image: \"MZ\" but no PE header", CV_EINVAL);
	if (le16(p + pe + 4) != PE_MACHINE_ARM64)
		return fail(why, "not an arm64 Image: its PE header is for another machine", CV_EINVAL);
	nsec = le16(p + pe + 6);
	opt = le16(p + pe + 20);
	table = pe + PE_COFF_SIZE + opt;
	if (table > size || (size - table) / PE_SECTION_SIZE < nsec)
		return fail(why, "truncated: the file ends inside its PE section table", CV_ERANGE);
	for (uint64_t i = 0; i < nsec; i++) {
		const uint8_t *s = p + table + i * PE_SECTION_SIZE;
		uint64_t raw_size = le32(s + 16), raw_ptr = le32(s + 20);

		/* Both are 32-bit: the sum cannot wrap a uint64_t. */
		if (raw_size && raw_ptr + raw_size > end)
			end = raw_ptr + raw_size;
	}
	if (end > size)
		return fail(why, "truncated: the file ends before the end of its PE sections", CV_ERANGE);
	return 0;
}

int arm64_image_parse(const void *file, size_t size, struct arm64_image *img, const char **why)
{
	const uint8_t *p = file;
	int ret;

	if (!file || !img)
		return fail(why, "no image", CV_EINVAL);
	if (boot_is_gzip(file, size))
		return fail(why, "gzip-compressed: decompress it before loading", CV_EINVAL);
	if (size < ARM64_IMAGE_HEADER_SIZE)
		return fail(why, "truncated: shorter than the 64-byte arm64 Image header", CV_ERANGE);
	if (le32(p + ARM64_IMAGE_MAGIC_OFFSET) != ARM64_IMAGE_MAGIC)
		return fail(why, "not an arm64 Image: no \"ARM\\x64\" magic at offset 0x38", CV_EINVAL);

	img->text_offset = le64(p + 8);
	img->image_size = le64(p + 16);
	img->flags = le64(p + 24);
	img->file_size = size;
	img->efi = p[0] == 'M' && p[1] == 'Z';

	/* booting.rst: image_size 0 means a kernel older than 3.17, whose bss size is unknown. */
	if (img->image_size == 0)
		return fail(why, "unsupported: image_size is 0 (a kernel older than 3.17)", CV_ENOTSUP);
	if (img->image_size < ARM64_IMAGE_HEADER_SIZE)
		return fail(why, "not an arm64 Image: image_size is smaller than its header", CV_EINVAL);
	if (img->text_offset >= ARM64_IMAGE_BASE_ALIGN || img->text_offset % 4096 != 0)
		return fail(why, "not an arm64 Image: text_offset is not a page offset below 2 MiB", CV_EINVAL);
	if (img->image_size > (1ull << 40))
		return fail(why, "not an arm64 Image: image_size is over 1 TiB", CV_EINVAL);
	if (img->flags & ARM64_IMAGE_FLAG_BE)
		return fail(why, "unsupported: a big-endian kernel", CV_ENOTSUP);
	switch ((img->flags & ARM64_IMAGE_FLAG_PAGE_MASK) >> ARM64_IMAGE_FLAG_PAGE_SHIFT) {
	case 1:
		img->page_size = 4096;
		break;
	case 2:
		img->page_size = 16384;
		break;
	case 3:
		img->page_size = 65536;
		break;
	default:
		img->page_size = 0;
		break;
	}
	img->anywhere = (img->flags & ARM64_IMAGE_FLAG_ANYWHERE) != 0;
	if (img->efi) {
		ret = check_pe(p, size, why);
		if (ret)
			return ret;
	}
	/* A signed image carries its signature past the sections: it is not copied. */
	img->copy_size = size < img->image_size ? size : img->image_size;
	return 0;
}

static uint64_t align_up(uint64_t v, uint64_t a)
{
	return (v + a - 1) & ~(a - 1);
}

#define SZ_1G  (1ull << 30)
#define SZ_32G (32ull << 30)

int arm64_boot_layout(const struct arm64_image *img, gpa_t ram_base, uint64_t ram_size, uint64_t initrd_size,
		      uint64_t dtb_size, struct arm64_boot_layout *layout, const char **why)
{
	uint64_t ram_end, base, kernel, kernel_end, initrd, initrd_end, dtb;

	if (!img || !layout || ram_size == 0)
		return fail(why, "no image or no RAM", CV_EINVAL);
	if (ram_base.v + ram_size < ram_base.v || ram_base.v > UINT64_MAX - ARM64_IMAGE_BASE_ALIGN)
		return fail(why, "the RAM region wraps around", CV_EINVAL);
	if (dtb_size == 0 || dtb_size > ARM64_DTB_MAX_SIZE)
		return fail(why, "the device tree is empty or over 2 MiB (booting.rst)", CV_ERANGE);
	/* Each size below is checked against the RAM's size first, so no sum can wrap. */
	ram_end = ram_base.v + ram_size;
	base = align_up(ram_base.v, ARM64_IMAGE_BASE_ALIGN);
	kernel = base + img->text_offset;
	if (kernel >= ram_end || img->image_size > ram_end - kernel)
		return fail(why, "the kernel does not fit in guest RAM", CV_ERANGE);
	kernel_end = kernel + img->image_size;

	initrd = align_up(kernel_end, ARM64_IMAGE_BASE_ALIGN);
	if (initrd > ram_end || initrd_size > ram_end - initrd)
		return fail(why, "the initrd does not fit in guest RAM above the kernel", CV_ERANGE);
	initrd_end = initrd + initrd_size;
	/* booting.rst 3: the initrd lies in a 1 GiB-aligned window of at most 32 GiB that covers the kernel. */
	if (initrd_size && initrd_end - (kernel & ~(SZ_1G - 1)) > SZ_32G)
		return fail(why, "the initrd is not within 32 GiB of the kernel's 1 GiB-aligned base", CV_ERANGE);

	dtb = align_up(initrd_end, ARM64_IMAGE_BASE_ALIGN);
	if (dtb > ram_end || dtb_size > ram_end - dtb)
		return fail(why, "the device tree does not fit in guest RAM above the initrd", CV_ERANGE);

	layout->kernel = gpa(kernel);
	layout->kernel_size = img->image_size;
	layout->initrd = gpa(initrd);
	layout->initrd_size = initrd_size;
	layout->dtb = gpa(dtb);
	layout->dtb_size = dtb_size;
	return 0;
}

void arm64_boot_regs(const struct arm64_boot_layout *layout, struct arm64_boot_regs *regs)
{
	/* booting.rst 5: x0 = physical address of the DTB, x1-x3 = 0 (reserved for future use). */
	regs->pc = layout->kernel.v;
	regs->x[0] = layout->dtb.v;
	regs->x[1] = 0;
	regs->x[2] = 0;
	regs->x[3] = 0;
	regs->spsr = ARM64_BOOT_SPSR;
	regs->sctlr_el1 = ARM64_BOOT_SCTLR_EL1;
}
