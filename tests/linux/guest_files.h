/* SPDX-License-Identifier: MIT */
/* tests/linux: where scripts/setup.d/10-arm64-guest put the Debian arm64 guest files. */
#ifndef CVISOR_TESTS_LINUX_GUEST_FILES_H
#define CVISOR_TESTS_LINUX_GUEST_FILES_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/*
 * The value of KEY in the first env file that has it ($CVISOR_GUEST_ENV, build/guest-cache/env,
 * /var/cache/cvisor/arm64-guest/env), copied into buf; NULL when none has it.
 */
static inline const char *guest_file(const char *key, char *buf, size_t size)
{
	const char *files[] = {getenv("CVISOR_GUEST_ENV"), "build/guest-cache/env",
			       "/var/cache/cvisor/arm64-guest/env"};
	char line[1024];
	size_t klen = strlen(key);

	for (size_t i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
		FILE *f = files[i] ? fopen(files[i], "r") : NULL;

		if (!f)
			continue;
		while (fgets(line, sizeof(line), f)) {
			if (strncmp(line, key, klen) == 0 && line[klen] == '=') {
				size_t n;

				line[strcspn(line, "\n")] = '\0';
				n = strlen(line + klen + 1);
				fclose(f);
				if (n >= size)
					return NULL;
				memcpy(buf, line + klen + 1, n + 1);
				return buf;
			}
		}
		fclose(f);
	}
	return NULL;
}

#endif
