/* SPDX-License-Identifier: MIT */
/*
 * Host-side (Linux user space) helpers for boot/: reading kernel images from files and
 * decompressing them with zlib. Never built into the EL2 hypervisor: the .c files of boot/ stay
 * freestanding, this folder does not.
 */
#ifndef CVISOR_BOOT_HOST_H
#define CVISOR_BOOT_HOST_H

#include <stddef.h>

/* Largest decompressed kernel accepted (Debian's arm64 Image is ~32 MiB). */
#define BOOT_HOST_MAX_IMAGE (256u << 20)

/*
 * Decompresses the gzip data in[0, in_len) (one or more members, RFC 1952) into a new
 * malloc'd buffer *out of *out_len bytes, at most max bytes. Returns 0, -CV_EINVAL (corrupt
 * or truncated data), -CV_ERANGE (larger than max) or -CV_ENOMEM.
 */
int boot_host_gunzip(const void *in, size_t in_len, size_t max, void **out, size_t *out_len);

/*
 * Reads the file at path into a malloc'd buffer, decompressing it when it is gzip'd, and
 * checks it as an arm64 Image (arm64_image_parse). On failure writes one line naming the
 * file and the reason into err[0, errlen) and returns a negative CV_E* code.
 */
struct arm64_image;
int boot_host_load_image(const char *path, void **buf, size_t *len, struct arm64_image *img, char *err, size_t errlen);

/* Reads a whole file into a malloc'd buffer (at most max bytes); -CV_ENOENT, -CV_EIO, -CV_ERANGE. */
int boot_host_read_file(const char *path, size_t max, void **buf, size_t *len);

#endif /* CVISOR_BOOT_HOST_H */
