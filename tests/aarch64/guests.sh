#!/usr/bin/env bash
# Boots cvisor under qemu-system-aarch64 once per test guest (guests/aarch64/<name>.c, one
# hypervisor image each) and asserts the exact console (tests/aarch64/expected/<name>.out)
# and the exit status scripts/run-aarch64 reports. One QEMU at a time.
cd "$(dirname "$0")/../.." || exit 1
# name:QEMU CPUs:expected exit status
cases="hello:1:0 hypercall:1:0 sysreg:1:0 noisv:1:0 irq:1:0 smp:4:0 nodev:1:1 reset:1:1"
n=$(echo $cases | wc -w)
echo "1..$n"
if ! command -v qemu-system-aarch64 >/dev/null || ! command -v aarch64-linux-gnu-gcc >/dev/null; then
	i=0
	for c in $cases; do
		i=$((i + 1))
		echo "ok $i - aarch64 guest ${c%%:*} # SKIP qemu-system-aarch64 or aarch64-linux-gnu-gcc missing: run scripts/setup"
	done
	exit 0
fi
mkdir -p build
if ! out=$(flock build/.aarch64.lock make -s --no-print-directory ARCH=aarch64 PLATFORM=qemu-virt aarch64-images 2>&1); then
	echo "$out" | tail -n 20 | sed 's/^/# /'
	i=0
	for c in $cases; do i=$((i + 1)); echo "not ok $i - aarch64 guest ${c%%:*} (build failed)"; done
	exit 1
fi
i=0 fail=0
tmp=$(mktemp)
trap 'rm -f "$tmp" "$tmp.err" "$tmp.diff"' EXIT
for c in $cases; do
	IFS=: read -r name cpus want <<<"$c"
	i=$((i + 1))
	start=$(date +%s.%N)
	# Each boot takes ~0.2 s; 20 s leaves room for a loaded machine.
	scripts/run-aarch64 --guest "$name" --smp "$cpus" --timeout 20 >"$tmp" 2>"$tmp.err"
	rc=$?
	# Which vCPU task leaves last varies with timing: that one number is not compared.
	got=$(tr -d '\r' <"$tmp" | sed 's/VCpu\[[0-9]*\]: last vCPU left/VCpu[*]: last vCPU left/')
	secs=$(awk -v a="$start" -v b="$(date +%s.%N)" 'BEGIN { printf "%.2f", b - a }')
	if diff <(echo "$got") "tests/aarch64/expected/$name.out" >"$tmp.diff" 2>&1 && [ "$rc" = "$want" ]; then
		echo "ok $i - aarch64 guest $name: exact console, exit $rc (${secs}s)"
	else
		echo "not ok $i - aarch64 guest $name: exit $rc (want $want)"
		sed 's/^/# /' "$tmp.diff" "$tmp.err"
		fail=1
	fi
done
exit $fail
