#!/usr/bin/env bash
# VMs from JSON config files on the bare-metal hypervisor (scripts/run-aarch64 --config; the
# blob of tools/cvisor-vmdtb read at EL2):
# - a flat-binary guest (build/aarch64/guests/hello.bin, no arm64 Image header) placed where
#   its config says (kernel_load_addr, entry_point) runs to its poweroff;
# - two Linux VMs at once, one per config, each pinned to its own pCPU (phys_cpu_ids), each
#   with its own RAM at the same guest-physical address: both reach /init and power off on
#   their own, and QEMU gets as many CPUs as the configs name (the highest pCPU plus one).
# One QEMU at a time.
set -u
cd "$(dirname "$0")/../.." || exit 1
. tests/linux/lib.sh
tmp=$(mktemp -d /tmp/cvisor-configs.XXXXXX)
trap 'rm -rf "$tmp"' EXIT
PLAN=9
echo "1..$PLAN"
skip_all() {
	echo "# SKIPPED: $1"
	for t in $(seq 1 $PLAN); do skip "cvisor config check $t" "$1"; done
	exit 0
}
guest_missing || skip_all "$why"
command -v aarch64-linux-gnu-gcc >/dev/null && [ -f "${ARM64_LIBFDT_A:-}" ] ||
	skip_all "aarch64-linux-gnu-gcc or the arm64 libfdt missing: run scripts/setup"
flock build/.aarch64.lock make -s --no-print-directory ARCH=aarch64 PLATFORM=qemu-virt build/aarch64/cvisor.elf \
	build/aarch64/guests/hello.bin >&2
make -s --no-print-directory cvisor-vmdtb >&2
RUN=scripts/run-aarch64

# 1-3: the flat binary.
cat >"$tmp/hello.json" <<EOF
{ "base": { "id": 5, "name": "hello", "cpu_num": 1 },
  "kernel": { "kernel_path": "$PWD/build/aarch64/guests/hello.bin", "kernel_load_addr": "0x4000_0000",
              "entry_point": "0x4000_0000", "memory_regions": [ { "gpa": "0x4000_0000", "size": "16M" } ] } }
EOF
$RUN --config "$tmp/hello.json" --timeout 30 </dev/null 2>&1 | tr -d '\r' >"$tmp/hello.log"
rc=${PIPESTATUS[0]}
log=$tmp/hello.log
check "flat binary: placed and entered where its config says" grep -q "^hello from the guest: vCPU 0" "$log"
check "flat binary: its VM is the config's (id 5, name hello)" grep -q "^cvisor: vm 5 (hello): powered off" "$log"
[ "$rc" = 0 ] && ok "flat binary: status 0" || not_ok "flat binary: status 0" "status $rc" "$(tail -n 5 "$log")"

# 4-9: two Linux VMs.
for v in 1 2; do
	cat >"$tmp/vm$v.json" <<EOF
{ "base": { "id": $v, "name": "vm$v", "cpu_num": 1, "phys_cpu_ids": [$((v - 1))] },
  "kernel": { "kernel_path": "$ARM64_KERNEL", "ramdisk_path": "$PWD/$LINUX_INITRD",
              "cmdline": "console=ttyAMA0 quiet panic=-1 cvisor.test=poweroff",
              "memory_regions": [ { "gpa": "0x4000_0000", "size": "128M" } ] } }
EOF
done
start=$EPOCHREALTIME
$RUN --config "$tmp/vm1.json" --config "$tmp/vm2.json" --no-reboot --timeout 90 </dev/null 2>&1 | tr -d '\r' >"$tmp/two.log"
rc=${PIPESTATUS[0]}
secs=$(awk -v a="$start" -v b="$EPOCHREALTIME" 'BEGIN { printf "%.1f", b - a }')
log=$tmp/two.log
check "two VMs: QEMU got the 2 pCPUs the configs name" grep -q "^cvisor: EL2 hypervisor on QEMU virt: 2 CPUs" "$log"
got=$(grep -c "^\[vm[12]\] cvisor-init: start" "$log")
[ "$got" = 2 ] && ok "two VMs: both reach /init" || not_ok "two VMs: both reach /init" "$got /init markers"
check "two VMs: vm1 powered off" grep -q "^cvisor: vm 1 (vm1): powered off" "$log"
check "two VMs: vm2 powered off" grep -q "^cvisor: vm 2 (vm2): powered off" "$log"
check "two VMs: the machine ends after the last one" sh -c "tail -n 1 '$log' | grep -q '^cvisor: exit 0$'"
[ "$rc" = 0 ] && ok "two VMs: status 0 (${secs}s)" || not_ok "two VMs: status 0" "status $rc"
[ $failed -eq 0 ] || sed 's/^/# /' "$log" | tail -n 30
[ $n -eq $PLAN ] || not_ok "planned $PLAN results, printed $n"
exit $failed
