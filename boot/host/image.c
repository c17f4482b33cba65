/* SPDX-License-Identifier: MIT */
/*
 * Host side of the arm64 boot protocol: kernel images read from files, gunzipped with zlib
 * when they are compressed (Debian 12 ships a raw Image as vmlinuz; other releases gzip it),
 * then checked by the freestanding arm64_image_parse.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include <cvisor/boot.h>
#include <cvisor/errors.h>

#include "host.h"

int boot_host_gunzip(const void *in, size_t in_len, size_t max, void **out, size_t *out_len)
{
	z_stream zs = {0};
	size_t cap = in_len * 4 < (1u << 20) ? (1u << 20) : in_len * 4, len = 0;
	unsigned char *buf = NULL, *nbuf;
	int zr, ret = -CV_EINVAL;

	if (cap > max)
		cap = max;
	/* 16 + MAX_WBITS: a gzip wrapper, not zlib's (zlib.h, inflateInit2). */
	if (inflateInit2(&zs, 16 + MAX_WBITS) != Z_OK)
		return -CV_ENOMEM;
	zs.next_in = (unsigned char *)(uintptr_t)in;
	zs.avail_in = (uInt)in_len;
	buf = malloc(cap);
	if (!buf) {
		ret = -CV_ENOMEM;
		goto out;
	}
	for (;;) {
		if (len == cap) {
			if (cap == max) {
				ret = -CV_ERANGE;
				goto out;
			}
			cap = cap * 2 > max ? max : cap * 2;
			nbuf = realloc(buf, cap);
			if (!nbuf) {
				ret = -CV_ENOMEM;
				goto out;
			}
			buf = nbuf;
		}
		zs.next_out = buf + len;
		zs.avail_out = (uInt)(cap - len);
		zr = inflate(&zs, Z_NO_FLUSH);
		len = cap - zs.avail_out;
		if (zr == Z_STREAM_END) {
			/* Concatenated members (RFC 1952 2.2) decompress to the concatenation. */
			if (zs.avail_in == 0)
				break;
			if (inflateReset(&zs) != Z_OK)
				goto out;
			continue;
		}
		if (zr != Z_OK && !(zr == Z_BUF_ERROR && len == cap))
			goto out; /* corrupt, or ends before the end of the stream */
	}
	*out = buf;
	*out_len = len;
	buf = NULL;
	ret = 0;
out:
	inflateEnd(&zs);
	free(buf);
	return ret;
}

int boot_host_read_file(const char *path, size_t max, void **buf, size_t *len)
{
	FILE *f = fopen(path, "rb");
	unsigned char *data = NULL;
	long size;
	int ret = -CV_EIO;

	if (!f)
		return errno == ENOENT ? -CV_ENOENT : -CV_EIO;
	if (fseek(f, 0, SEEK_END) != 0 || (size = ftell(f)) < 0 || fseek(f, 0, SEEK_SET) != 0)
		goto out;
	if ((unsigned long)size > max) {
		ret = -CV_ERANGE;
		goto out;
	}
	data = malloc(size ? (size_t)size : 1);
	if (!data) {
		ret = -CV_ENOMEM;
		goto out;
	}
	if (fread(data, 1, (size_t)size, f) != (size_t)size)
		goto out;
	*buf = data;
	*len = (size_t)size;
	data = NULL;
	ret = 0;
out:
	free(data);
	fclose(f);
	return ret;
}

int boot_host_load_image(const char *path, void **buf, size_t *len, struct arm64_image *img, char *err, size_t errlen)
{
	void *file = NULL, *raw = NULL;
	size_t file_len = 0, raw_len = 0;
	const char *why = NULL;
	int ret;

	ret = boot_host_read_file(path, BOOT_HOST_MAX_IMAGE, &file, &file_len);
	if (ret) {
		snprintf(err, errlen, "%s: %s", path,
			 ret == -CV_ENOENT   ? "no such file"
			 : ret == -CV_ERANGE ? "larger than 256 MiB"
					     : "cannot be read");
		return ret;
	}
	if (boot_is_gzip(file, file_len)) {
		ret = boot_host_gunzip(file, file_len, BOOT_HOST_MAX_IMAGE, &raw, &raw_len);
		free(file);
		if (ret) {
			snprintf(err, errlen, "%s: %s", path,
				 ret == -CV_ERANGE ? "decompresses to more than 256 MiB"
						   : "gzip data is corrupt or truncated");
			return ret;
		}
		file = raw;
		file_len = raw_len;
	}
	ret = arm64_image_parse(file, file_len, img, &why);
	if (ret) {
		snprintf(err, errlen, "%s: %s", path, why);
		free(file);
		return ret;
	}
	*buf = file;
	*len = file_len;
	return 0;
}
