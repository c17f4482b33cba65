/* SPDX-License-Identifier: MIT */
/*
 * cvisor-boot: the boot/ code from the command line, for scripts and tests.
 *   cvisor-boot image IMAGE [OUT]      check an arm64 Image (gunzipped if needed), print its
 *                                      header; with OUT, write the raw Image there
 *   cvisor-boot layout IMAGE RAM_BASE RAM_SIZE INITRD_SIZE DTB_SIZE
 *                                      print where boot/linux-arm64.c puts everything
 *   cvisor-boot dtb OUT [--cpus N] [--mem BASE:SIZE] [--bootargs STR] [--initrd START:SIZE]
 *                                      write a guest device tree (QEMU virt's layout)
 *   cvisor-boot hostdtb DTB            print what the host-DTB reader finds
 * Numbers take C syntax (0x...) and an optional K, M or G suffix. Status: 0 done, 1 the
 * input was refused (one line on stderr naming the file and the reason), 2 usage error.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cvisor/boot.h>
#include <cvisor/errors.h>

#include "host.h"

static int usage(void)
{
	fprintf(stderr, "usage: cvisor-boot image IMAGE [OUT] | layout IMAGE RAM_BASE RAM_SIZE INITRD_SIZE DTB_SIZE |\n"
			"       dtb OUT [--cpus N] [--mem BASE:SIZE] [--bootargs STR] [--initrd START:SIZE] |\n"
			"       hostdtb DTB\n");
	return 2;
}

static int parse_num(const char *s, uint64_t *v)
{
	char *end;
	unsigned long long n = strtoull(s, &end, 0);

	if (end == s)
		return -1;
	switch (*end) {
	case 'K':
		n <<= 10, end++;
		break;
	case 'M':
		n <<= 20, end++;
		break;
	case 'G':
		n <<= 30, end++;
		break;
	default:
		break;
	}
	if (*end)
		return -1;
	*v = n;
	return 0;
}

/* "BASE:SIZE" */
static int parse_range(const char *s, uint64_t *base, uint64_t *size)
{
	char buf[64];
	char *colon;

	if (strlen(s) >= sizeof(buf))
		return -1;
	strcpy(buf, s);
	colon = strchr(buf, ':');
	if (!colon)
		return -1;
	*colon = '\0';
	return parse_num(buf, base) || parse_num(colon + 1, size) ? -1 : 0;
}

static int cmd_image(int argc, char **argv)
{
	struct arm64_image img;
	char err[512];
	void *buf;
	size_t len;
	FILE *f;

	if (argc < 1 || argc > 2)
		return usage();
	if (boot_host_load_image(argv[0], &buf, &len, &img, err, sizeof(err))) {
		fprintf(stderr, "cvisor-boot: %s\n", err);
		return 1;
	}
	printf("%s: arm64 Image, text_offset 0x%llx, image_size 0x%llx, flags 0x%llx, page %u, %s, %s, %zu bytes\n",
	       argv[0], (unsigned long long)img.text_offset, (unsigned long long)img.image_size,
	       (unsigned long long)img.flags, img.page_size, img.anywhere ? "anywhere" : "near RAM start",
	       img.efi ? "EFI stub" : "no EFI stub", len);
	if (argc == 2) {
		f = fopen(argv[1], "wb");
		if (!f || fwrite(buf, 1, len, f) != len || fclose(f) != 0) {
			fprintf(stderr, "cvisor-boot: %s: cannot write\n", argv[1]);
			free(buf);
			return 1;
		}
	}
	free(buf);
	return 0;
}

static int cmd_layout(int argc, char **argv)
{
	struct arm64_boot_layout l;
	struct arm64_boot_regs r;
	struct arm64_image img;
	uint64_t v[4];
	const char *why;
	char err[512];
	void *buf;
	size_t len;

	if (argc != 5)
		return usage();
	for (int i = 0; i < 4; i++)
		if (parse_num(argv[i + 1], &v[i]))
			return usage();
	if (boot_host_load_image(argv[0], &buf, &len, &img, err, sizeof(err))) {
		fprintf(stderr, "cvisor-boot: %s\n", err);
		return 1;
	}
	free(buf);
	if (arm64_boot_layout(&img, gpa(v[0]), v[1], v[2], v[3], &l, &why)) {
		fprintf(stderr, "cvisor-boot: %s: %s\n", argv[0], why);
		return 1;
	}
	arm64_boot_regs(&l, &r);
	printf("kernel=0x%llx kernel_size=0x%llx initrd=0x%llx dtb=0x%llx pc=0x%llx x0=0x%llx spsr=0x%llx\n",
	       (unsigned long long)l.kernel.v, (unsigned long long)l.kernel_size, (unsigned long long)l.initrd.v,
	       (unsigned long long)l.dtb.v, (unsigned long long)r.pc, (unsigned long long)r.x[0],
	       (unsigned long long)r.spsr);
	return 0;
}

static int cmd_dtb(int argc, char **argv)
{
	static unsigned char buf[64 << 10];
	struct boot_fdt_guest g;
	const char *why;
	uint64_t v, base, size;
	FILE *f;
	size_t total;

	if (argc < 1)
		return usage();
	boot_fdt_guest_defaults(&g, 1);
	for (int i = 1; i < argc; i += 2) {
		if (i + 1 >= argc)
			return usage();
		if (!strcmp(argv[i], "--cpus") && !parse_num(argv[i + 1], &v) && v <= BOOT_FDT_MAX_CPUS) {
			g.cpus = (unsigned)v;
		} else if (!strcmp(argv[i], "--mem") && !parse_range(argv[i + 1], &base, &size)) {
			g.mem[0].base = gpa(base);
			g.mem[0].size = size;
		} else if (!strcmp(argv[i], "--bootargs")) {
			g.bootargs = argv[i + 1];
		} else if (!strcmp(argv[i], "--initrd") && !parse_range(argv[i + 1], &base, &size)) {
			g.initrd = gpa(base);
			g.initrd_size = size;
		} else {
			return usage();
		}
	}
	if (boot_fdt_make_guest(&g, buf, sizeof(buf), &why)) {
		fprintf(stderr, "cvisor-boot: %s: %s\n", argv[0], why);
		return 1;
	}
	total = (size_t)buf[4] << 24 | (size_t)buf[5] << 16 | (size_t)buf[6] << 8 | buf[7];
	f = fopen(argv[0], "wb");
	if (!f || fwrite(buf, 1, total, f) != total || fclose(f) != 0) {
		fprintf(stderr, "cvisor-boot: %s: cannot write\n", argv[0]);
		return 1;
	}
	return 0;
}

static int cmd_hostdtb(int argc, char **argv)
{
	struct boot_host_info h;
	const char *why;
	void *buf;
	size_t len;
	int ret;

	if (argc != 1)
		return usage();
	ret = boot_host_read_file(argv[0], 1u << 24, &buf, &len);
	if (ret) {
		fprintf(stderr, "cvisor-boot: %s: %s\n", argv[0], cv_strerror(ret));
		return 1;
	}
	ret = boot_fdt_read_host(buf, len, &h, &why);
	if (ret) {
		fprintf(stderr, "cvisor-boot: %s: %s\n", argv[0], why);
		free(buf);
		return 1;
	}
	for (unsigned i = 0; i < h.mem_count; i++)
		printf("mem 0x%llx 0x%llx\n", (unsigned long long)h.mem[i].base.v, (unsigned long long)h.mem[i].size);
	for (unsigned i = 0; i < h.cpu_count; i++)
		printf("cpu 0x%llx\n", (unsigned long long)h.cpu_mpidr[i]);
	printf("gicd 0x%llx 0x%llx\n", (unsigned long long)h.gicd.base.v, (unsigned long long)h.gicd.size);
	for (unsigned i = 0; i < h.gicr_count; i++)
		printf("gicr 0x%llx 0x%llx\n", (unsigned long long)h.gicr[i].base.v,
		       (unsigned long long)h.gicr[i].size);
	printf("gic-maint-ppi %u\n", h.gic_maint_ppi);
	printf("timer-ppi %u %u %u %u\n", h.timer_ppi[0], h.timer_ppi[1], h.timer_ppi[2], h.timer_ppi[3]);
	if (h.uart.size)
		printf("uart 0x%llx 0x%llx spi %u\n", (unsigned long long)h.uart.base.v,
		       (unsigned long long)h.uart.size, h.uart_spi);
	if (h.psci_found)
		printf("psci %s\n", h.psci_smc ? "smc" : "hvc");
	if (h.bootargs)
		printf("bootargs %s\n", h.bootargs);
	if (h.initrd.size)
		printf("initrd 0x%llx 0x%llx\n", (unsigned long long)h.initrd.base.v,
		       (unsigned long long)h.initrd.size);
	free(buf);
	return 0;
}

int main(int argc, char **argv)
{
	if (argc < 2)
		return usage();
	if (!strcmp(argv[1], "image"))
		return cmd_image(argc - 2, argv + 2);
	if (!strcmp(argv[1], "layout"))
		return cmd_layout(argc - 2, argv + 2);
	if (!strcmp(argv[1], "dtb"))
		return cmd_dtb(argc - 2, argv + 2);
	if (!strcmp(argv[1], "hostdtb"))
		return cmd_hostdtb(argc - 2, argv + 2);
	return usage();
}
