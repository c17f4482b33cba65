#!/usr/bin/env bash
# VMIDs are reused and a VM's RAM is zeroed (review item 1, issue #8): the resetloop test
# guest (guests/aarch64/resetloop.c), run from a config so that cvisor builds a new VM on
# every PSCI SYSTEM_RESET, resets itself 300 times and boots a 301st time; every boot it
# checks that its RAM past its image reads zero and then dirties it. Before VMIDs were
# freed with their VM, the 256th build failed ("create failed: busy"). One QEMU, ~2 s.
set -u
cd "$(dirname "$0")/../.." || exit 1
PLAN=4
echo "1..$PLAN"
n=0 failed=0
ok() { n=$((n + 1)); echo "ok $n - $1"; }
not_ok() { n=$((n + 1)) failed=1; echo "not ok $n - $1"; }
if ! command -v qemu-system-aarch64 >/dev/null || ! command -v aarch64-linux-gnu-gcc >/dev/null; then
	for t in $(seq 1 $PLAN); do echo "ok $t - vmid reuse $t # SKIP qemu-system-aarch64 or aarch64-linux-gnu-gcc missing: run scripts/setup"; done
	exit 0
fi
mkdir -p build
tmp=$(mktemp -d /tmp/cvisor-vmid.XXXXXX)
trap 'rm -rf "$tmp"' EXIT
if ! out=$( (flock build/.aarch64.lock make -s --no-print-directory ARCH=aarch64 PLATFORM=qemu-virt \
	build/aarch64/cvisor.elf build/aarch64/guests/resetloop.bin && make -s --no-print-directory cvisor-vmdtb) 2>&1); then
	echo "$out" | tail -n 20 | sed 's/^/# /'
	for t in $(seq 1 $PLAN); do echo "not ok $t - vmid reuse (build failed)"; done
	exit 1
fi
cat >"$tmp/resetloop.json" <<EOF
{ "base": { "id": 3, "name": "resetloop", "cpu_num": 1 },
  "kernel": { "kernel_path": "$PWD/build/aarch64/guests/resetloop.bin", "kernel_load_addr": "0x4000_0000",
              "entry_point": "0x4000_0000", "memory_regions": [ { "gpa": "0x4000_0000", "size": "1M" } ] } }
EOF
start=$EPOCHREALTIME
scripts/run-aarch64 --config "$tmp/resetloop.json" --timeout 60 </dev/null 2>&1 | tr -d '\r' >"$tmp/log"
rc=${PIPESTATUS[0]}
secs=$(awk -v a="$start" -v b="$EPOCHREALTIME" 'BEGIN { printf "%.1f", b - a }')
log=$tmp/log
resets=$(grep -c "^cvisor: vm 3 (resetloop): reset: building it again$" "$log")
[ "$resets" = 300 ] && ok "300 resets, each a new VM" || not_ok "300 resets, each a new VM (got $resets)"
grep -q "^resetloop: booted 301 times, RAM zero every time$" "$log" &&
	ok "the 301st boot runs, and every boot found its RAM zeroed" || not_ok "the 301st boot runs, RAM zeroed every time"
grep -q "busy\|cannot build\|words not zero" "$log" && not_ok "no VM creation refused" || ok "no VM creation refused"
[ "$rc" = 0 ] && ok "status 0 (${secs}s)" || not_ok "status 0 (got $rc)"
[ $failed = 0 ] || grep -v "reset\|last vCPU left" "$log" | tail -n 20 | sed 's/^/# /'
exit $failed
