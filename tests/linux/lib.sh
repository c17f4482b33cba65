# Helpers for tests/linux/*.sh: TAP output, the guest files, QEMU runs with timestamped
# console lines. Sourced with the repository root as the current directory.
# shellcheck shell=bash
. guests/linux/guest-env.sh

n=0 failed=0
ok() { n=$((n + 1)); echo "ok $n - $1"; }
not_ok() {
	n=$((n + 1)) failed=1
	echo "not ok $n - $1"
	shift
	local l
	for l in "$@"; do echo "# $l"; done
}
skip() { n=$((n + 1)); echo "ok $n - $1 # SKIP $2"; }
# check NAME CONDITION-COMMAND... : ok when the command succeeds.
check() {
	local name=$1
	shift
	if "$@"; then ok "$name"; else not_ok "$name" "failed: $*"; fi
}

# guest_missing: sets ARM64_KERNEL (and the rest of the guest env) and returns 0 when the
# arm64 guest (kernel, initramfs) and QEMU are there, else puts the reason in $why.
LINUX_INITRD=${LINUX_INITRD:-build/linux-guest/initrd.gz}
why=
guest_missing() {
	command -v qemu-system-aarch64 >/dev/null || { why="qemu-system-aarch64 missing: run scripts/setup"; return 1; }
	cvisor_guest_env || { why="no Debian arm64 kernel fetched: run scripts/setup (scripts/setup.d/10-arm64-guest)"; return 1; }
	[ -f "$LINUX_INITRD" ] || { why="$LINUX_INITRD missing: make linux-initrd"; return 1; }
}

# timestamp_lines: each input line prefixed with the host's wall clock (seconds, µs) and
# stripped of the console's carriage return.
timestamp_lines() {
	local line
	while IFS= read -r line; do
		printf '%s %s\n' "$EPOCHREALTIME" "${line%$'\r'}"
	done
}

# wait_for FILE PATTERN SECONDS: polls until FILE contains the fixed string PATTERN.
wait_for() {
	local deadline=$((SECONDS + $3))
	while [ $SECONDS -lt "$deadline" ]; do
		grep -qF -- "$2" "$1" 2>/dev/null && return 0
		sleep 0.2
	done
	return 1
}

# The console line (timestamp stripped) of LOG that starts with PREFIX, first match.
line_of() { sed -n "s/^[0-9.]* $2//p" "$1" | head -n 1; }
# The host timestamp of the first line of LOG that starts with PREFIX.
time_of() { grep -m 1 "^[0-9.]* $2" "$1" | cut -d ' ' -f 1; }
