#!/usr/bin/env bash
# Two Linux VMs at once on 3 pCPUs with one pCPU shared (issue #8): VM la's 2 vCPUs on
# pCPUs 0 and 1, VM lb's 2 on pCPUs 1 and 2 (pCPU 1 time-shared by the per-pCPU
# scheduler), both with the same guest-physical layout and cvisor.test=smp; beside them
# a small test-guest VM (build/aarch64/guests/hello.bin) on pCPU 2. Asserted: both kernels
# reach /init with cvisor's device tree, each sees its own 2 CPUs online, runs pinned work
# on each and gets the right checksum, powers off; the test guest runs to its end; every
# guest line is behind its VM's name; cvisor: exit 0 and QEMU's status 0. One QEMU, ~20 s.
set -u
cd "$(dirname "$0")/../.." || exit 1
. tests/linux/lib.sh
PLAN=12
echo "1..$PLAN"
skip_all() {
	echo "# SKIPPED: $1"
	for t in $(seq 1 $PLAN); do skip "two Linux VMs $t" "$1"; done
	exit 0
}
guest_missing || skip_all "$why"
command -v aarch64-linux-gnu-gcc >/dev/null && [ -f "${ARM64_LIBFDT_A:-}" ] ||
	skip_all "aarch64-linux-gnu-gcc or the arm64 libfdt missing: run scripts/setup"
mkdir -p build
flock build/.aarch64.lock make -s --no-print-directory ARCH=aarch64 PLATFORM=qemu-virt build/aarch64/cvisor.elf \
	build/aarch64/guests/hello.bin >&2
make -s --no-print-directory cvisor-vmdtb >&2
tmp=$(mktemp -d /tmp/cvisor-multilinux.XXXXXX)
trap 'rm -rf "$tmp"' EXIT
for v in 1:la:0,1 2:lb:1,2; do
	IFS=: read -r id name pcpus <<<"$v"
	cat >"$tmp/$name.json" <<EOF
{ "base": { "id": $id, "name": "$name", "cpu_num": 2, "phys_cpu_ids": [$pcpus] },
  "kernel": { "kernel_path": "$ARM64_KERNEL", "ramdisk_path": "$PWD/$LINUX_INITRD",
              "cmdline": "console=ttyAMA0 quiet panic=-1 cvisor.test=smp",
              "memory_regions": [ { "gpa": "0x4000_0000", "size": "128M" } ] } }
EOF
done
cat >"$tmp/hello.json" <<EOF
{ "base": { "id": 3, "name": "hello", "cpu_num": 1, "phys_cpu_ids": [2] },
  "kernel": { "kernel_path": "$PWD/build/aarch64/guests/hello.bin", "kernel_load_addr": "0x4000_0000",
              "entry_point": "0x4000_0000", "memory_regions": [ { "gpa": "0x4000_0000", "size": "16M" } ] } }
EOF
start=$EPOCHREALTIME
scripts/run-aarch64 --config "$tmp/la.json" --config "$tmp/lb.json" --config "$tmp/hello.json" --no-reboot --timeout 150 \
	</dev/null 2>&1 | tr -d '\r' >"$tmp/log"
rc=${PIPESTATUS[0]}
secs=$(awk -v a="$start" -v b="$EPOCHREALTIME" 'BEGIN { printf "%.1f", b - a }')
log=$tmp/log
check "QEMU got the 3 pCPUs the configs name" grep -q "^cvisor: EL2 hypervisor on QEMU virt: 3 CPUs" "$log"
want=$(seq 1 50000 | md5sum | cut -d ' ' -f 1)
for name in la lb; do
	bad=
	grep -q "^\[$name\] cvisor-test: model cvisor guest$" "$log" || bad="$bad no-model"
	grep -q "^\[$name\] cvisor-test: cpus 2$" "$log" || bad="$bad cpus"
	grep -q "^\[$name\] cvisor-test: online 0-1$" "$log" || bad="$bad online"
	[ -z "$bad" ] && ok "$name: booted to /init, sees its own 2 CPUs online" || not_ok "$name: booted, sees its own 2 CPUs" "$bad"
	bad=
	for i in 0 1; do
		grep -q "^\[$name\] cvisor-test: work cpu=$i sum=$want ran-on=$i$" "$log" || bad="$bad cpu$i"
	done
	[ -z "$bad" ] && ok "$name: pinned work on each vCPU, checksums right" || not_ok "$name: pinned work" "$bad"
	check "$name: powered off" grep -q "^cvisor: vm [12] ($name): powered off$" "$log"
done
check "the test-guest VM beside them ran to its end" sh -c "grep -q '^\[hello\] hello from the guest: vCPU 0' '$log' && grep -q '^cvisor: vm 3 (hello): powered off$' '$log'"
check "every guest line behind its VM's name" sh -c "! grep -v '^cvisor: \|^\[la\] \|^\[lb\] \|^\[hello\] \|^$' '$log' | grep -q ."
check "the machine ends after the last VM: cvisor: exit 0" sh -c "tail -n 1 '$log' | grep -q '^cvisor: exit 0$'"
[ "$rc" = 0 ] && ok "status 0 (${secs}s)" || not_ok "status 0" "status $rc"
# README.md's two-VM example: its config files are accepted as they are.
make -s --no-print-directory build/linux-guest/vmlinuz >&2
mkdir -p "$tmp/example"
check "README's example configs (configs/linux-a.json, linux-b.json) are accepted" \
	sh -c "build/x86_64/cvisor-vmdtb --out '$tmp/example' configs/linux-a.json configs/linux-b.json | grep -qx 'pcpus 3'"
[ $failed -eq 0 ] || sed 's/^/# /' "$log" | tail -n 40
[ $n -eq $PLAN ] || not_ok "planned $PLAN results, printed $n"
exit $failed
