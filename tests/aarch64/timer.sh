#!/usr/bin/env bash
# The guest's virtual timer under cvisor (guests/aarch64/timer.c, timerwfi.c): exact console
# (tests/aarch64/expected/<guest>.out) with the timing lines ("timer-...") left out and
# shown as TAP comments; timerwfi's share of the CPU checked against a bound.
cd "$(dirname "$0")/../.." || exit 1
cases="timer:1 timerwfi:1"
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
trap 'rm -f "$tmp" "$tmp.diff"' EXIT
i=0 fail=0 share=
for c in $cases; do
	IFS=: read -r name cpus <<<"$c"
	i=$((i + 1))
	scripts/run-aarch64 --guest "$name" --smp "$cpus" --timeout 30 >"$tmp" 2>&1
	rc=$?
	tr -d '\r' <"$tmp" | grep '^timer-' | sed 's/^/# /'
	[ "$name" = timerwfi ] && share=$(tr -d '\r' <"$tmp" | sed -n 's/^timer-share: vcpu 1 lost \([0-9]*\) us of \([0-9]*\) us.*/\1 \2/p')
	got=$(tr -d '\r' <"$tmp" | grep -v '^timer-' | sed 's/VCpu\[[0-9]*\]: last vCPU left/VCpu[*]: last vCPU left/')
	if diff <(echo "$got") "tests/aarch64/expected/$name.out" >"$tmp.diff" 2>&1 && [ "$rc" = 0 ]; then
		echo "ok $i - aarch64 guest $name on $cpus CPU(s): exact console, exit $rc"
	else
		echo "not ok $i - aarch64 guest $name on $cpus CPU(s): exit $rc (want 0)"
		sed 's/^/# /' "$tmp.diff"
		fail=1
	fi
done
# A vCPU sleeping in WFI leaves its CPU: the spinning vCPU loses less than the half that
# time slicing with a busy one would take (what it loses is mostly the host machine's load).
read -r lost total <<<"$share"
if [ -n "$lost" ] && [ "$total" -gt 0 ] && [ $((lost * 2)) -lt "$total" ]; then
	echo "ok 3 - a vCPU in WFI leaves its pCPU to the other: vCPU 1 lost $lost of $total us"
else
	echo "not ok 3 - a vCPU in WFI leaves its pCPU to the other: vCPU 1 lost ${lost:-?} of ${total:-?} us"
	fail=1
fi
exit $fail
