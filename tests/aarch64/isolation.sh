#!/usr/bin/env bash
# Isolation of two VMs (issue #8): VM A (guests/aarch64/isolation-fill.c) fills its RAM
# with a pattern S and says "filled"; only then (the test types "go" to it, so the console
# order is fixed) VM B (isolation-probe.c), with the same guest-physical layout, reads all
# of its RAM and loads from 81 addresses outside it, recognising S by inverting its
# generator in registers (guests/aarch64/isolation.h: S is never in B's memory). Asserted:
# B never finds S, every probe gets an abort (counted by B's handler and by cvisor's log),
# A's own run of the detector finds all of S (it works); then A fails (a load where no
# device is, its config's unmapped_access "stop") and B still runs to its end; status 1.
set -u
cd "$(dirname "$0")/../.." || exit 1
PLAN=9
echo "1..$PLAN"
n=0 failed=0
ok() { n=$((n + 1)); echo "ok $n - $1"; }
not_ok() { n=$((n + 1)) failed=1; echo "not ok $n - $1"; }
check() { local name=$1; shift; if "$@"; then ok "$name"; else not_ok "$name"; fi; }
wait_for() {
	local deadline=$((SECONDS + $3))
	while [ $SECONDS -lt "$deadline" ]; do
		grep -qF -- "$2" "$1" 2>/dev/null && return 0
		sleep 0.1
	done
	return 1
}
if ! command -v qemu-system-aarch64 >/dev/null || ! command -v aarch64-linux-gnu-gcc >/dev/null; then
	for t in $(seq 1 $PLAN); do echo "ok $t - isolation $t # SKIP qemu-system-aarch64 or aarch64-linux-gnu-gcc missing: run scripts/setup"; done
	exit 0
fi
mkdir -p build
if ! out=$( (flock build/.aarch64.lock make -s --no-print-directory ARCH=aarch64 PLATFORM=qemu-virt build/aarch64/cvisor.elf \
	build/aarch64/guests/isolation-fill.bin build/aarch64/guests/isolation-probe.bin &&
	make -s --no-print-directory cvisor-vmdtb) 2>&1); then
	echo "$out" | tail -n 20 | sed 's/^/# /'
	for t in $(seq 1 $PLAN); do not_ok "isolation $t (build failed)"; done
	exit 1
fi
tmp=$(mktemp -d /tmp/cvisor-isolation.XXXXXX)
pid=
trap 'exec 3>&- 2>/dev/null; [ -n "$pid" ] && kill -- -$pid 2>/dev/null; rm -rf "$tmp"' EXIT
for v in 1:a:0:isolation-fill:stop 2:b:1:isolation-probe:abort; do
	IFS=: read -r id name pcpu guest policy <<<"$v"
	cat >"$tmp/$name.json" <<EOF
{ "base": { "id": $id, "name": "$name", "cpu_num": 1, "phys_cpu_ids": [$pcpu] },
  "kernel": { "kernel_path": "$PWD/build/aarch64/guests/$guest.bin", "kernel_load_addr": "0x4000_0000",
              "entry_point": "0x4000_0000", "memory_regions": [ { "gpa": "0x4000_0000", "size": "16M" } ] },
  "devices": { "unmapped_access": "$policy" } }
EOF
done
mkfifo "$tmp/in"
setsid scripts/run-aarch64 --config "$tmp/a.json" --config "$tmp/b.json" --timeout 40 <"$tmp/in" >"$tmp/raw" 2>&1 &
pid=$!
exec 3>"$tmp/in"
wait_for "$tmp/raw" "[a] isolation-fill: filled" 20 && wait_for "$tmp/raw" "[b] isolation-probe: waiting for go" 5
printf '\0352go\n' >&3 # Ctrl-] 2: input to B
wait_for "$tmp/raw" "S found" 20 && wait_for "$tmp/raw" "loads outside its RAM" 20
printf '\0351die\n' >&3
wait_for "$tmp/raw" "vm 1 (a): stopped" 20
printf '\0352end\n' >&3
wait "$pid"
rc=$?
pid=
exec 3>&-
tr -d '\r' <"$tmp/raw" >"$tmp/log"
log=$tmp/log
lineno() { grep -n -m 1 -- "$1" "$log" | cut -d: -f1; }
filled=$(lineno '^\[a\] isolation-fill: filled') scan=$(lineno '^\[b\] isolation-probe: scanning')
[ -n "$filled" ] && [ -n "$scan" ] && [ "$filled" -lt "$scan" ] && ok "B scans only after A said filled (console order)" ||
	not_ok "B scans only after A said filled (console order)"
words=$(sed -n 's/^\[a\] isolation-fill: filled \([0-9]*\) words of its RAM with S (the detector finds \([0-9]*\))$/\1 \2/p' "$log")
set -- $words
[ -n "${1:-}" ] && [ "$1" -gt 2000000 ] && [ "$1" = "${2:-}" ] && ok "A filled its RAM with S, and the detector finds all of it there ($1 words)" ||
	not_ok "A filled its RAM with S, and the detector finds all of it there ($words)"
check "B read all of its RAM and never found S" grep -q '^\[b\] isolation-probe: 2097152 words of its RAM read: S found 0 times$' "$log"
check "B's 81 loads outside its RAM all aborted, none saw S" \
	grep -q '^\[b\] isolation-probe: 81 loads outside its RAM: 81 aborts (counted by the handler: 81), S found 0 times$' "$log"
got=$(grep -c '^cvisor: warning: vm 2 vcpu 0: MMIO read at 0x[0-9a-f]*: no device there; external abort injected$' "$log")
[ "$got" = 81 ] && ok "cvisor injected the 81 aborts into B" || not_ok "cvisor injected the 81 aborts into B (got $got)"
check "A failed (stopped by cvisor)" grep -q '^cvisor: error: vm 1 (a): stopped: failed' "$log"
a_end=$(lineno '^cvisor: error: vm 1 (a): stopped') b_end=$(lineno '^\[b\] isolation-probe: end$')
[ -n "$a_end" ] && [ -n "$b_end" ] && [ "$a_end" -lt "$b_end" ] && ok "B ran to its end after A failed" ||
	not_ok "B ran to its end after A failed"
check "B powered off" grep -q '^cvisor: vm 2 (b): powered off$' "$log"
[ "$rc" = 1 ] && ok "status 1: a VM failed" || not_ok "status 1: a VM failed (got $rc)"
[ $failed = 0 ] || grep -v "external abort injected" "$log" | sed 's/^/# /' | tail -n 30
exit $failed
