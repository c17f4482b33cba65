#!/usr/bin/env bash
# make bench-linux, the rows of issue #8 (several VMs on the bare-metal hypervisor):
# - two-vm-boot: two Linux VMs (1 vCPU, 128 MiB each, Debian's kernel and the project's
#   initramfs) from QEMU's start until both have printed /init's first line, with their
#   vCPUs on two pCPUs (disjoint) and both on pCPU 0 (time-shared), QEMU -smp 2 in both;
#   BOOTS=N runs each (default 3; medians).
# - vcpu-switch: the vmswitch test guest (guests/aarch64/vmswitch.c) on one pCPU: ns per
#   CV_A64_HC_YIELD alone (the hypercall and a scheduler pass, no switch), with two vCPUs
#   of one VM and with two VMs of one vCPU each; a switch costs the difference. Prints
#   the switch between VMs in µs and its ratio to a switch between vCPUs of one VM.
# It reports; it does not fail on slow numbers. TCG on this machine: read as relative.
set -u
cd "$(dirname "$0")/../.." || exit 1
. guests/linux/guest-env.sh
boots=${BOOTS:-3}
initrd=build/linux-guest/initrd.gz
command -v qemu-system-aarch64 >/dev/null || { echo "bench-linux: qemu-system-aarch64 missing: run scripts/setup" >&2; exit 1; }
cvisor_guest_env || { echo "bench-linux: no Debian arm64 kernel: run scripts/setup" >&2; exit 1; }
[ -f "$initrd" ] || { echo "bench-linux: $initrd missing: make linux-initrd" >&2; exit 1; }
mkdir -p build
flock build/.aarch64.lock make -s --no-print-directory ARCH=aarch64 PLATFORM=qemu-virt build/aarch64/cvisor.elf \
	build/aarch64/guests/vmswitch.bin >&2 || exit 1
make -s --no-print-directory cvisor-vmdtb >&2 || exit 1
tmp=$(mktemp -d /tmp/cvisor-bench-multivm.XXXXXX)
trap 'rm -rf "$tmp"' EXIT
median() { sort -n | awk '{ v[NR] = $1 } END { if (NR == 0) print "nan"; else if (NR % 2) print v[(NR + 1) / 2]; else printf "%.3f\n", (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }

# linux_cfg NAME ID PCPU
linux_cfg() {
	cat >"$tmp/$1.json" <<EOF
{ "base": { "id": $2, "name": "$1", "cpu_num": 1, "phys_cpu_ids": [$3] },
  "kernel": { "kernel_path": "$ARM64_KERNEL", "ramdisk_path": "$PWD/$initrd",
              "cmdline": "console=ttyAMA0 quiet panic=-1 cvisor.test=poweroff",
              "memory_regions": [ { "gpa": "0x4000_0000", "size": "128M" } ] } }
EOF
}
# both_boot A.json B.json: seconds from QEMU's start to the second VM's /init line, or fail.
both_boot() {
	local start line t=fail seen=0
	rm -f "$tmp/stamp"
	start=$EPOCHREALTIME
	while IFS= read -r line; do
		if [[ "$line" == "["*"] cvisor-init: start"* ]]; then
			seen=$((seen + 1))
			if [ $seen = 2 ]; then
				[ -s "$tmp/stamp" ] && start=$(cat "$tmp/stamp")
				t=$(awk -v a="$start" -v b="$EPOCHREALTIME" 'BEGIN { printf "%.3f", b - a }')
			fi
		fi
	done < <(RUN_AARCH64_STAMP=$tmp/stamp scripts/run-aarch64 --config "$1" --config "$2" --pcpus 2 --no-reboot \
		--timeout 120 </dev/null 2>&1)
	echo "$t"
}
linux_cfg d1 1 0
linux_cfg d2 2 1
linux_cfg s1 1 0
linux_cfg s2 2 0
for ((i = 1; i <= boots; i++)); do
	t=$(both_boot "$tmp/d1.json" "$tmp/d2.json")
	echo "two VMs, disjoint pCPUs, boot $i: $t s" >&2
	[ "$t" = fail ] || echo "$t" >>"$tmp/disjoint"
	t=$(both_boot "$tmp/s1.json" "$tmp/s2.json")
	echo "two VMs, one pCPU shared, boot $i: $t s" >&2
	[ "$t" = fail ] || echo "$t" >>"$tmp/shared"
done
d=$(median <"$tmp/disjoint" 2>/dev/null || echo nan)
s=$(median <"$tmp/shared" 2>/dev/null || echo nan)
printf 'two-vm-boot: disjoint pCPUs %.2f s, one pCPU shared %.2f s (QEMU -smp 2), ratio %.2f\n' "$d" "$s" \
	"$(awk -v a="$s" -v b="$d" 'BEGIN { print (b > 0) ? a / b : 0 }')"

# vmswitch_cfg NAME ID VCPUS PCPUS
vmswitch_cfg() {
	cat >"$tmp/$1.json" <<EOF
{ "base": { "id": $2, "name": "$1", "cpu_num": $3, "phys_cpu_ids": [$4] },
  "kernel": { "kernel_path": "$PWD/build/aarch64/guests/vmswitch.bin", "kernel_load_addr": "0x4000_0000",
              "entry_point": "0x4000_0000", "memory_regions": [ { "gpa": "0x4000_0000", "size": "1M" } ] } }
EOF
}
vmswitch_cfg alone 1 1 0
vmswitch_cfg pair 1 2 0,0
vmswitch_cfg x 1 1 0
vmswitch_cfg y 2 1 0
# per_yield CONFIG...: the mean of the vCPUs' ns per yield.
per_yield() {
	local args=() c
	for c in "$@"; do args+=(--config "$tmp/$c.json"); done
	scripts/run-aarch64 "${args[@]}" --pcpus 1 --timeout 60 </dev/null 2>&1 | tr -d '\r' |
		sed -n 's/.*vmswitch: vcpu [0-9]*: \([0-9]*\) ns per yield$/\1/p' | awk '{ s += $1; n++ } END { if (n) print s / n; else print "nan" }'
}
# Three runs of each, interleaved; medians (TCG on a shared machine is noisy).
for ((i = 1; i <= 3; i++)); do
	per_yield alone >>"$tmp/alone"
	per_yield pair >>"$tmp/pair"
	per_yield x y >>"$tmp/two"
done
alone=$(median <"$tmp/alone") pair=$(median <"$tmp/pair") two=$(median <"$tmp/two")
echo "ns per yield: alone $alone, two vCPUs of one VM $pair, two VMs $two" >&2
awk -v a="$alone" -v p="$pair" -v t="$two" 'BEGIN {
	sv = (t - a) / 1000; sp = (p - a) / 1000
	printf "vcpu-switch: between VMs %.1f us, between vCPUs of one VM %.1f us, ratio %.2f (a yield with no switch: %.1f us)\n", sv, sp, (sp > 0) ? sv / sp : 0, a / 1000 }'
