#!/usr/bin/env bash
# The guest's virtual timer under cvisor (guests/aarch64/timer.c, timerwfi.c): exact console
# (tests/aarch64/expected/<guest>.out, which holds each guest's own checks) with the timing
# lines ("timer-...") left out and shown as TAP comments.
cd "$(dirname "$0")/../.." || exit 1
cases="timer:1 timerwfi:1 timergic:1"
echo "1..3"
if ! command -v qemu-system-aarch64 >/dev/null || ! command -v aarch64-linux-gnu-gcc >/dev/null; then
	for i in 1 2 3; do echo "ok $i - aarch64 virtual timer # SKIP qemu-system-aarch64 or aarch64-linux-gnu-gcc missing: run scripts/setup"; done
	exit 0
fi
mkdir -p build
if ! out=$(flock build/.aarch64.lock make -s --no-print-directory ARCH=aarch64 PLATFORM=qemu-virt aarch64-images 2>&1); then
	echo "$out" | tail -n 20 | sed 's/^/# /'
	for i in 1 2 3; do echo "not ok $i - aarch64 virtual timer (build failed)"; done
	exit 1
fi
tmp=$(mktemp)
trap 'rm -f "$tmp" "$tmp.diff" "$tmp.err"' EXIT
i=0 fail=0
for c in $cases; do
	IFS=: read -r name cpus <<<"$c"
	i=$((i + 1))
	scripts/run-aarch64 --guest "$name" --smp "$cpus" --timeout 30 >"$tmp" 2>"$tmp.err"
	rc=$?
	tr -d '\r' <"$tmp" | grep '^timer-' | sed 's/^/# /'
	got=$(tr -d '\r' <"$tmp" | grep -v '^timer-' | sed 's/VCpu\[[0-9]*\]: last vCPU left/VCpu[*]: last vCPU left/')
	if diff <(echo "$got") "tests/aarch64/expected/$name.out" >"$tmp.diff" 2>&1 && [ "$rc" = 0 ]; then
		echo "ok $i - aarch64 guest $name on $cpus CPU(s): exact console, exit $rc"
	else
		echo "not ok $i - aarch64 guest $name on $cpus CPU(s): exit $rc (want 0)"
		sed 's/^/# /' "$tmp.diff" "$tmp.err"
		fail=1
	fi
done
exit $fail
