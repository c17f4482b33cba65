#!/usr/bin/env bash
# Boots cvisor under qemu-system-aarch64 once per test guest (guests/aarch64/<name>.c, one
# hypervisor image each) and asserts the exact console (tests/aarch64/expected/<name>.out)
# and the exit status scripts/run-aarch64 reports. One QEMU at a time.
#   tests/aarch64/guests.sh --regen   rewrites the expected files from the current output
cd "$(dirname "$0")/../.." || exit 1
regen=0
[ "${1:-}" = --regen ] && regen=1
# What varies from run to run or build to build is not compared: which vCPU task leaves
# last (timing), and the guest PC in cvisor's no-ISV message (moves with guest code).
normalize() {
	tr -d '\r' | sed -e 's/VCpu\[[0-9]*\]: last vCPU left/VCpu[*]: last vCPU left/' \
		-e 's/, PC 0x[0-9a-f]*): external abort injected/, PC *): external abort injected/'
}
# name:QEMU CPUs:expected exit status; the expected console is expected/name-CPUs.out when
# that exists (the same guest on another CPU count), else expected/name.out.
cases="hello:1:0 hypercall:1:0 sysreg:1:0 noisv:1:0 irq:1:0 smp:4:0 smp:1:0 timeshare:1:0 nodev:1:0 reset:1:1
	timersgi:2:0 suspendtimer:1:0 wfimasked:1:0 tp2leak:1:0 pstate:1:0 unmapped:1:0"
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
	got=$(normalize <"$tmp")
	secs=$(awk -v a="$start" -v b="$(date +%s.%N)" 'BEGIN { printf "%.2f", b - a }')
	want_out=tests/aarch64/expected/$name-$cpus.out
	[ -f "$want_out" ] || want_out=tests/aarch64/expected/$name.out
	[ $regen = 1 ] && echo "$got" >"$want_out"
	if diff <(echo "$got") "$want_out" >"$tmp.diff" 2>&1 && [ "$rc" = "$want" ]; then
		echo "ok $i - aarch64 guest $name on $cpus CPU(s): exact console, exit $rc (${secs}s)"
	else
		echo "not ok $i - aarch64 guest $name on $cpus CPU(s): exit $rc (want $want)"
		sed 's/^/# /' "$tmp.diff" "$tmp.err"
		fail=1
	fi
done
exit $fail
