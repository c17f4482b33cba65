# Sourced by scripts: finds the Debian arm64 guest files that scripts/setup.d/10-arm64-guest
# fetched and sets ARM64_KERNEL, ARM64_KERNEL_VERSION, ARM64_BUSYBOX, ARM64_LIBFDT_A,
# ARM64_LIBFDT_INCLUDE. Looks at $CVISOR_GUEST_ENV, then build/guest-cache/env of this
# checkout, then /var/cache/cvisor/arm64-guest/env. Returns 1 (variables unset) when none
# exists or its kernel file is gone.
cvisor_guest_env() {
	local repo f
	repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
	for f in "${CVISOR_GUEST_ENV:-}" "$repo/build/guest-cache/env" /var/cache/cvisor/arm64-guest/env; do
		[ -n "$f" ] && [ -f "$f" ] || continue
		# shellcheck disable=SC1090
		. "$f"
		[ -f "${ARM64_KERNEL:-}" ] && return 0
	done
	unset ARM64_KERNEL ARM64_BUSYBOX
	return 1
}
