#!/usr/bin/env bash
# The main job on AArch64: the default image (`make ARCH=aarch64 PLATFORM=qemu-virt`) run by
# scripts/run-aarch64 --guest demo boots the demo VM (4 vCPUs; vCPU 0 starts the others with CPU_ON, each
# prints its id, they meet at CV_HC_BARRIER, SYSTEM_OFF) and QEMU ends by itself, status 0.
# The vCPUs print concurrently, so the lines are compared as a set, and the order that is
# fixed (every hello before the barrier line, "cvisor: exit 0" last) is checked apart.
cd "$(dirname "$0")/../.." || exit 1
echo "1..3"
if ! command -v qemu-system-aarch64 >/dev/null || ! command -v aarch64-linux-gnu-gcc >/dev/null; then
	for i in 1 2 3; do
		echo "ok $i - aarch64 demo # SKIP qemu-system-aarch64 or aarch64-linux-gnu-gcc missing: run scripts/setup"
	done
	exit 0
fi
tmp=$(mktemp)
trap 'rm -f "$tmp" "$tmp.err"' EXIT
start=$(date +%s.%N)
scripts/run-aarch64 --guest demo --timeout 30 >"$tmp" 2>"$tmp.err"
rc=$?
secs=$(awk -v a="$start" -v b="$(date +%s.%N)" 'BEGIN { printf "%.2f", b - a }')
# Which vCPU task leaves last varies with timing: that number is not compared.
got=$(tr -d '\r' <"$tmp" | sed 's/VCpu\[[0-9]*\]: last vCPU left/VCpu[*]: last vCPU left/')
fail=0
if [ "$rc" -eq 0 ]; then
	echo "ok 1 - demo: scripts/run-aarch64 exits 0 (${secs}s)"
else
	echo "not ok 1 - demo: scripts/run-aarch64 exits $rc"
	sed 's/^/# /' "$tmp.err"
	fail=1
fi
if diff <(echo "$got" | sort) <(sort tests/aarch64/expected/demo.out) >"$tmp.err" 2>&1; then
	echo "ok 2 - demo: console lines as expected"
else
	echo "not ok 2 - demo: console lines differ"
	sed 's/^/# /' "$tmp.err"
	fail=1
fi
last_hello=$(echo "$got" | grep -n '^hello from vCPU' | tail -n 1 | cut -d: -f1)
barrier=$(echo "$got" | grep -n '^all 4 vCPUs met at the barrier$' | cut -d: -f1)
if [ -n "$last_hello" ] && [ -n "$barrier" ] && [ "$last_hello" -lt "$barrier" ] &&
	[ "$(echo "$got" | tail -n 1)" = "cvisor: exit 0" ]; then
	echo "ok 3 - demo: every vCPU printed before the barrier line, cvisor: exit 0 last"
else
	echo "not ok 3 - demo: order wrong"
	echo "$got" | sed 's/^/# /'
	fail=1
fi
exit $fail
