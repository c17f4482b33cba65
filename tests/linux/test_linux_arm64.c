/* SPDX-License-Identifier: MIT */
/*
 * boot/linux-arm64.c and boot/host/image.c: the arm64 Image header check (synthetic headers,
 * synthetic PE/COFF headers, Debian's real kernel and truncations of it), gzip detection and
 * decompression, the placement of kernel, initrd and DTB, and the boot registers.
 */
#define _POSIX_C_SOURCE 200809L /* mkstemp, fdopen, unlink */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>
#include <zlib.h>

#include <cvisor/boot.h>
#include <cvisor/errors.h>

#include "../../boot/host/host.h"
#include "guest_files.h"

static void put32(uint8_t *p, uint32_t v)
{
	for (int i = 0; i < 4; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

static void put64(uint8_t *p, uint64_t v)
{
	put32(p, (uint32_t)v);
	put32(p + 4, (uint32_t)(v >> 32));
}

/* A 64-byte header as booting.rst lays it out. */
static void make_header(uint8_t *h, uint64_t text_offset, uint64_t image_size, uint64_t flags)
{
	memset(h, 0, ARM64_IMAGE_HEADER_SIZE);
	put32(h, 0x14000010); /* code0: b +0x40 */
	put64(h + 8, text_offset);
	put64(h + 16, image_size);
	put64(h + 24, flags);
	put32(h + ARM64_IMAGE_MAGIC_OFFSET, ARM64_IMAGE_MAGIC);
}

static void synthetic_header_ok(void **state)
{
	uint8_t h[ARM64_IMAGE_HEADER_SIZE];
	struct arm64_image img;
	const char *why = NULL;

	(void)state;
	make_header(h, 0x80000, 0x1234000, 1 << 1);
	assert_int_equal(arm64_image_parse(h, sizeof(h), &img, &why), 0);
	assert_int_equal(img.text_offset, 0x80000);
	assert_int_equal(img.image_size, 0x1234000);
	assert_int_equal(img.page_size, 4096);
	assert_false(img.anywhere);
	assert_false(img.efi);
	assert_int_equal(img.file_size, sizeof(h));
	assert_int_equal(img.copy_size, sizeof(h));

	make_header(h, 0, 0x200000, (2 << 1) | ARM64_IMAGE_FLAG_ANYWHERE);
	assert_int_equal(arm64_image_parse(h, sizeof(h), &img, &why), 0);
	assert_int_equal(img.page_size, 16384);
	assert_true(img.anywhere);
	make_header(h, 0, 0x200000, 3 << 1);
	assert_int_equal(arm64_image_parse(h, sizeof(h), &img, &why), 0);
	assert_int_equal(img.page_size, 65536);
	make_header(h, 0, 0x200000, 0);
	assert_int_equal(arm64_image_parse(h, sizeof(h), &img, &why), 0);
	assert_int_equal(img.page_size, 0);
}

static void bad_headers_refused(void **state)
{
	uint8_t h[ARM64_IMAGE_HEADER_SIZE];
	struct arm64_image img;
	const char *why;

	(void)state;
	make_header(h, 0, 0x200000, 0);
	h[ARM64_IMAGE_MAGIC_OFFSET + 3] = 0x65;
	why = NULL;
	assert_int_equal(arm64_image_parse(h, sizeof(h), &img, &why), -CV_EINVAL);
	assert_non_null(strstr(why, "magic"));

	make_header(h, 0, 0x200000, ARM64_IMAGE_FLAG_BE);
	assert_int_equal(arm64_image_parse(h, sizeof(h), &img, &why), -CV_ENOTSUP);
	assert_non_null(strstr(why, "big-endian"));

	make_header(h, 0x80000, 0, 0);
	assert_int_equal(arm64_image_parse(h, sizeof(h), &img, &why), -CV_ENOTSUP);
	assert_non_null(strstr(why, "3.17"));

	make_header(h, 0x80001, 0x200000, 0);
	assert_int_equal(arm64_image_parse(h, sizeof(h), &img, &why), -CV_EINVAL);
	make_header(h, 0x200000, 0x200000, 0);
	assert_int_equal(arm64_image_parse(h, sizeof(h), &img, &why), -CV_EINVAL);
	make_header(h, 0, 16, 0);
	assert_int_equal(arm64_image_parse(h, sizeof(h), &img, &why), -CV_EINVAL);
	make_header(h, 0, UINT64_MAX, 0);
	assert_int_equal(arm64_image_parse(h, sizeof(h), &img, &why), -CV_EINVAL);

	assert_int_equal(arm64_image_parse(NULL, 64, &img, &why), -CV_EINVAL);
}

static void truncated_headers_refused(void **state)
{
	uint8_t h[ARM64_IMAGE_HEADER_SIZE];
	struct arm64_image img;

	(void)state;
	make_header(h, 0, 0x200000, 0);
	for (size_t len = 0; len < sizeof(h); len++) {
		/* A fresh copy of exactly len bytes, so ASan catches any read past it. */
		uint8_t *p = malloc(len ? len : 1);
		const char *why = NULL;

		memcpy(p, h, len);
		assert_int_equal(arm64_image_parse(p, len, &img, &why), -CV_ERANGE);
		assert_non_null(strstr(why, "truncated"));
		free(p);
	}
}

/*
 * An EFI-stub style image: "MZ", the PE header at 0x40 (its offset at 0x3c, which is also
 * the arm64 header's res5), an optional header of opt bytes and two sections whose raw data
 * ends at 0x3000.
 */
#define PE_FILE_END 0x3000u
static size_t make_pe_image(uint8_t *buf, uint16_t machine, uint16_t opt)
{
	uint8_t *pe = buf + 0x40, *sec;

	memset(buf, 0, PE_FILE_END);
	make_header(buf, 0, 0x10000, 1 << 1);
	buf[0] = 'M';
	buf[1] = 'Z';
	put32(buf + 0x3c, 0x40);
	memcpy(pe, "PE\0\0", 4);
	pe[4] = (uint8_t)machine;
	pe[5] = (uint8_t)(machine >> 8);
	pe[6] = 2; /* NumberOfSections */
	pe[20] = (uint8_t)opt;
	pe[21] = (uint8_t)(opt >> 8);
	sec = pe + 24 + opt;
	put32(sec + 16, 0x1000); /* .text: SizeOfRawData */
	put32(sec + 20, 0x1000); /* PointerToRawData */
	put32(sec + 40 + 16, 0x1000);
	put32(sec + 40 + 20, 0x2000);
	return PE_FILE_END;
}

static void pe_image_checked(void **state)
{
	static uint8_t buf[PE_FILE_END];
	struct arm64_image img;
	const char *why = NULL;
	size_t len = make_pe_image(buf, 0xaa64, 0xa0);

	(void)state;
	assert_int_equal(arm64_image_parse(buf, len, &img, &why), 0);
	assert_true(img.efi);
	/* Cut inside the last section, inside the section table, before the PE header. */
	assert_int_equal(arm64_image_parse(buf, len - 1, &img, &why), -CV_ERANGE);
	assert_non_null(strstr(why, "PE sections"));
	assert_int_equal(arm64_image_parse(buf, 0x40 + 24 + 0xa0 + 50, &img, &why), -CV_ERANGE);
	assert_non_null(strstr(why, "section table"));
	assert_int_equal(arm64_image_parse(buf, 0x50, &img, &why), -CV_ERANGE);
	assert_non_null(strstr(why, "PE header"));

	make_pe_image(buf, 0x8664, 0xa0); /* x86-64 */
	assert_int_equal(arm64_image_parse(buf, len, &img, &why), -CV_EINVAL);
	make_pe_image(buf, 0xaa64, 0xa0);
	buf[0x41] = 'X';
	assert_int_equal(arm64_image_parse(buf, len, &img, &why), -CV_EINVAL);
	/* A PE offset pointing far outside the file. */
	make_pe_image(buf, 0xaa64, 0xa0);
	put32(buf + 0x3c, 0xfffffff0);
	assert_int_equal(arm64_image_parse(buf, len, &img, &why), -CV_ERANGE);
	/* A huge optional-header size puts the section table past the end. */
	make_pe_image(buf, 0xaa64, 0);
	buf[0x40 + 20] = 0xff;
	buf[0x40 + 21] = 0xff;
	assert_int_equal(arm64_image_parse(buf, len, &img, &why), -CV_ERANGE);
}

static void gzip_detected(void **state)
{
	const uint8_t gz[10] = {0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 3};
	uint8_t h[ARM64_IMAGE_HEADER_SIZE] = {0x1f, 0x8b, 8};
	struct arm64_image img;
	const char *why = NULL;

	(void)state;
	assert_true(boot_is_gzip(gz, sizeof(gz)));
	assert_false(boot_is_gzip(gz, 9));
	assert_false(boot_is_gzip(NULL, 10));
	assert_false(boot_is_gzip("ARM\x64......", 10));
	assert_int_equal(arm64_image_parse(h, sizeof(h), &img, &why), -CV_EINVAL);
	assert_non_null(strstr(why, "gzip"));
}

/* gzip-compresses in[0, len) with zlib into a malloc'd buffer. */
static uint8_t *gzip_buf(const void *in, size_t len, size_t *out_len)
{
	z_stream zs = {0};
	size_t cap = compressBound(len) + 64;
	uint8_t *out = malloc(cap);

	assert_non_null(out);
	assert_int_equal(deflateInit2(&zs, 1, Z_DEFLATED, 16 + MAX_WBITS, 8, Z_DEFAULT_STRATEGY), Z_OK);
	zs.next_in = (uint8_t *)(uintptr_t)in;
	zs.avail_in = (uInt)len;
	zs.next_out = out;
	zs.avail_out = (uInt)cap;
	assert_int_equal(deflate(&zs, Z_FINISH), Z_STREAM_END);
	*out_len = cap - zs.avail_out;
	deflateEnd(&zs);
	return out;
}

static void gunzip_round_trip(void **state)
{
	size_t len = 3u << 20, gz_len, out_len;
	uint8_t *data = malloc(len), *gz, *two;
	void *out;

	(void)state;
	for (size_t i = 0; i < len; i++)
		data[i] = (uint8_t)(i * 7 + (i >> 12));
	gz = gzip_buf(data, len, &gz_len);
	assert_true(boot_is_gzip(gz, gz_len));
	assert_int_equal(boot_host_gunzip(gz, gz_len, 16u << 20, &out, &out_len), 0);
	assert_int_equal(out_len, len);
	assert_memory_equal(out, data, len);
	free(out);
	/* Larger than the limit; cut short; corrupt. */
	assert_int_equal(boot_host_gunzip(gz, gz_len, 1u << 20, &out, &out_len), -CV_ERANGE);
	assert_int_equal(boot_host_gunzip(gz, gz_len / 2, 16u << 20, &out, &out_len), -CV_EINVAL);
	assert_int_equal(boot_host_gunzip(gz, gz_len - 4, 16u << 20, &out, &out_len), -CV_EINVAL);
	gz[gz_len / 2] ^= 0x55;
	assert_int_not_equal(boot_host_gunzip(gz, gz_len, 16u << 20, &out, &out_len), 0);
	free(gz);
	/* Two members decompress to both parts. */
	gz = gzip_buf(data, 1000, &gz_len);
	two = malloc(gz_len * 2);
	memcpy(two, gz, gz_len);
	memcpy(two + gz_len, gz, gz_len);
	assert_int_equal(boot_host_gunzip(two, gz_len * 2, 16u << 20, &out, &out_len), 0);
	assert_int_equal(out_len, 2000);
	assert_memory_equal((uint8_t *)out + 1000, data, 1000);
	free(out);
	free(two);
	free(gz);
	free(data);
}

/* Debian's kernel, as fetched; main() leaves this out (with a SKIP line) before setup has run. */
static void real_kernel(void **state)
{
	char path[512], tpath[] = "/tmp/cvisor-test-image.XXXXXX", err[1024];
	struct arm64_image img, img2;
	const char *why = NULL;
	void *buf, *buf2;
	size_t len, len2, gz_len, cuts[5];
	uint8_t *gz;
	FILE *f;
	int fd;

	(void)state;
	assert_non_null(guest_file("ARM64_KERNEL", path, sizeof(path)));
	assert_int_equal(boot_host_read_file(path, BOOT_HOST_MAX_IMAGE, &buf, &len), 0);
	assert_int_equal(arm64_image_parse(buf, len, &img, &why), 0);
	assert_int_equal(img.page_size, 4096);
	assert_true(img.text_offset < ARM64_IMAGE_BASE_ALIGN);
	assert_true(img.image_size >= img.copy_size);
	assert_true(img.copy_size > (8u << 20)); /* a real kernel, not just a header */
	assert_true(img.efi);			 /* Debian builds the EFI stub in */

	/* Every truncation is refused, from inside the header to one byte short of the sections. */
	cuts[0] = 63;
	cuts[1] = 64;
	cuts[2] = 4096;
	cuts[3] = len / 2;
	cuts[4] = len - 1;
	for (size_t i = 0; i < 5; i++) {
		int ret = arm64_image_parse(buf, cuts[i], &img2, &why);

		/* The last cut may only drop the appended signature of a signed image. */
		if (i == 4 && ret == 0)
			continue;
		assert_int_equal(ret, -CV_ERANGE);
	}

	/* The host loader: the raw file, the same gzip'd, and a truncated copy naming the file. */
	assert_int_equal(boot_host_load_image(path, &buf2, &len2, &img2, err, sizeof(err)), 0);
	assert_int_equal(len2, len);
	free(buf2);
	gz = gzip_buf(buf, len, &gz_len);
	fd = mkstemp(tpath);
	assert_true(fd >= 0);
	f = fdopen(fd, "wb");
	assert_int_equal(fwrite(gz, 1, gz_len, f), gz_len);
	fclose(f);
	assert_int_equal(boot_host_load_image(tpath, &buf2, &len2, &img2, err, sizeof(err)), 0);
	assert_int_equal(len2, len);
	assert_memory_equal(buf2, buf, len);
	assert_int_equal(img2.image_size, img.image_size);
	free(buf2);
	f = fopen(tpath, "wb");
	assert_int_equal(fwrite(buf, 1, len / 2, f), len / 2);
	fclose(f);
	assert_int_equal(boot_host_load_image(tpath, &buf2, &len2, &img2, err, sizeof(err)), -CV_ERANGE);
	assert_non_null(strstr(err, tpath));
	assert_non_null(strstr(err, "truncated"));
	unlink(tpath);
	free(gz);
	free(buf);
}

static void layout_and_regs(void **state)
{
	uint8_t h[ARM64_IMAGE_HEADER_SIZE];
	struct arm64_image img;
	struct arm64_boot_layout l;
	struct arm64_boot_regs r;
	const char *why = NULL;

	(void)state;
	make_header(h, 0, 0x2010000, 0xa);
	assert_int_equal(arm64_image_parse(h, sizeof(h), &img, &why), 0);
	assert_int_equal(arm64_boot_layout(&img, gpa(0x40000000), 256u << 20, 1000000, 0x10000, &l, &why), 0);
	assert_int_equal(l.kernel.v, 0x40000000);
	assert_int_equal(l.kernel_size, 0x2010000);
	assert_int_equal(l.initrd.v, 0x42200000);
	assert_int_equal(l.initrd_size, 1000000);
	assert_int_equal(l.dtb.v, 0x42200000 + 0x200000);
	assert_int_equal(l.dtb.v % ARM64_DTB_ALIGN, 0);
	arm64_boot_regs(&l, &r);
	assert_int_equal(r.pc, 0x40000000);
	assert_int_equal(r.x[0], l.dtb.v);
	assert_int_equal(r.x[1], 0);
	assert_int_equal(r.x[2], 0);
	assert_int_equal(r.x[3], 0);
	assert_int_equal(r.spsr, 0x3c5);      /* EL1h, DAIF masked */
	assert_int_equal(r.sctlr_el1 & 5, 0); /* MMU and D-cache off */

	/* An unaligned RAM base and an old text_offset: base rounds up, entry is base + offset. */
	make_header(h, 0x80000, 0x1000000, 0x2);
	assert_int_equal(arm64_image_parse(h, sizeof(h), &img, &why), 0);
	assert_int_equal(arm64_boot_layout(&img, gpa(0x40001000), 64u << 20, 0, 4096, &l, &why), 0);
	assert_int_equal(l.kernel.v, 0x40280000);
	assert_int_equal(l.initrd.v, 0x41400000);
	assert_int_equal(l.dtb.v, 0x41400000);

	/* Does not fit: RAM too small for the kernel, the initrd, the DTB. */
	assert_int_equal(arm64_boot_layout(&img, gpa(0x40000000), 16u << 20, 0, 4096, &l, &why), -CV_ERANGE);
	assert_non_null(strstr(why, "kernel"));
	assert_int_equal(arm64_boot_layout(&img, gpa(0x40000000), 32u << 20, 32u << 20, 4096, &l, &why), -CV_ERANGE);
	assert_non_null(strstr(why, "initrd"));
	assert_int_equal(arm64_boot_layout(&img, gpa(0x40000000), 0x1200000, 0, 4096, &l, &why), -CV_ERANGE);
	assert_non_null(strstr(why, "device tree"));
	assert_int_equal(arm64_boot_layout(&img, gpa(0x40000000), 1u << 30, 0, 0x200001, &l, &why), -CV_ERANGE);
	assert_int_equal(arm64_boot_layout(&img, gpa(0x40000000), 1u << 30, 0, 0, &l, &why), -CV_ERANGE);
	/* The initrd must stay inside 32 GiB from the kernel's 1 GiB-aligned base. */
	assert_int_equal(arm64_boot_layout(&img, gpa(0x40000000), 64ull << 30, 32ull << 30, 4096, &l, &why),
			 -CV_ERANGE);
	assert_non_null(strstr(why, "32 GiB"));
	assert_int_equal(arm64_boot_layout(&img, gpa(0x40000000), 64ull << 30, 16ull << 30, 4096, &l, &why), 0);
	/* RAM regions that wrap or sit at the top of the address space. */
	assert_int_equal(arm64_boot_layout(&img, gpa(UINT64_MAX - 0xfffff), 0x100000, 0, 4096, &l, &why), -CV_EINVAL);
	assert_int_equal(arm64_boot_layout(&img, gpa(0xffffffffc0000000ull), 2ull << 30, 0, 4096, &l, &why),
			 -CV_EINVAL);
	assert_int_equal(arm64_boot_layout(&img, gpa(0xffffffffc0000000ull), 1ull << 30, 0, 4096, &l, &why),
			 -CV_EINVAL); /* ends at 2^64 */
	assert_int_equal(arm64_boot_layout(&img, gpa(0xffffffff80000000ull), 1ull << 30, 0, 4096, &l, &why), 0);
	assert_int_equal(l.kernel.v, 0xffffffff80080000ull);
	assert_int_equal(arm64_boot_layout(&img, gpa(0xffffffff80000000ull), 1ull << 30, 1ull << 30, 4096, &l, &why),
			 -CV_ERANGE);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(synthetic_header_ok),
	    cmocka_unit_test(bad_headers_refused),
	    cmocka_unit_test(truncated_headers_refused),
	    cmocka_unit_test(pe_image_checked),
	    cmocka_unit_test(gzip_detected),
	    cmocka_unit_test(gunzip_round_trip),
	    cmocka_unit_test(layout_and_regs),
	    cmocka_unit_test(real_kernel),
	};
	size_t count = sizeof(tests) / sizeof(tests[0]);
	char path[1024];

	/* cmocka's TAP writes a skipped test as "not ok": say SKIP ourselves and leave it out. */
	if (!guest_file("ARM64_KERNEL", path, sizeof(path)) || access(path, R_OK) != 0) {
		printf("ok - real_kernel # SKIP no Debian arm64 kernel: run scripts/setup\n");
		count--;
	}
	return _cmocka_run_group_tests("linux_arm64", tests, count, NULL, NULL);
}
