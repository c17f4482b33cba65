#!/usr/bin/env bash
# Linux under cvisor (issue #7), the boot path: scripts/run-aarch64's options, the VM-config
# blob (tools/cvisor-vmdtb), the Image placed and entered at EL1 with the DTB cvisor writes.
# - Refusals before QEMU starts (status 2, one line naming the file and the reason): a
#   truncated Image, a config with an unknown key, duplicate VM ids, a pCPU the machine lacks,
#   a usage error. A gzip'd Image is decompressed host-side to the very bytes of the raw one.
# - The kernel entered: with earlycon on the command line its first lines reach the console
#   (boot protocol, DTB, PSCI over HVC, PL011 TX); the test asserts them. The initramfs has
#   no init the kernel can run, so it panics ("No working init found"); panic=-1 asks PSCI
#   SYSTEM_RESET, and --no-reboot makes that the end of the VM: status 1 and cvisor says why.
# - A reset without --no-reboot rebuilds the VM from the untouched loaded files: the second
#   boot prints the same lines as the first.
# One QEMU at a time.
set -u
cd "$(dirname "$0")/../.." || exit 1
. tests/linux/lib.sh
tmp=$(mktemp -d /tmp/cvisor-linux-boot.XXXXXX)
trap 'rm -rf "$tmp"' EXIT
PLAN=21
echo "1..$PLAN"

if ! guest_missing; then
	echo "# SKIPPED: $why"
	for t in $(seq 1 $PLAN); do skip "cvisor linux boot check $t" "$why"; done
	exit 0
fi
if ! command -v aarch64-linux-gnu-gcc >/dev/null || [ ! -f "${ARM64_LIBFDT_A:-}" ]; then
	why="aarch64-linux-gnu-gcc or the arm64 libfdt missing: run scripts/setup"
	echo "# SKIPPED: $why"
	for t in $(seq 1 $PLAN); do skip "cvisor linux boot check $t" "$why"; done
	exit 0
fi
RUN=scripts/run-aarch64
# Build once up front, so the refusals below are timed on their own.
flock build/.aarch64.lock make -s --no-print-directory ARCH=aarch64 PLATFORM=qemu-virt build/aarch64/cvisor.elf >&2
make -s --no-print-directory cvisor-vmdtb >&2

# refused NAME WANT-IN-STDERR CMD...: status 2, the message, and no cvisor line (nothing started).
refused() {
	local name=$1 want=$2 rc
	shift 2
	"$@" >"$tmp/out" 2>"$tmp/err" </dev/null
	rc=$?
	if [ $rc -eq 2 ] && grep -qF -- "$want" "$tmp/err" && ! grep -q "^cvisor: " "$tmp/out"; then
		ok "$name"
	else
		not_ok "$name" "status $rc, wanted 2 and '$want' on stderr" "stderr: $(head -c 400 "$tmp/err")"
	fi
}

# 1: a truncated Image (its header says 32 MiB, the file has 1 MiB).
head -c 1M "$ARM64_KERNEL" >"$tmp/Image.trunc"
refused "truncated Image refused before QEMU starts, naming the file" "$tmp/Image.trunc: " \
	$RUN --kernel "$tmp/Image.trunc" --timeout 20
# 2: not a kernel at all.
printf 'hello\n' >"$tmp/notimage"
refused "a file that is no arm64 Image refused" "$tmp/notimage" $RUN --kernel "$tmp/notimage" --timeout 20
# 3-5: bad configs, each named by file and key.
cat >"$tmp/bad.json" <<EOF
{ "base": { "id": 1, "name": "a", "cpu_num": 1, "colour": "red" },
  "kernel": { "kernel_path": "$ARM64_KERNEL", "memory_regions": [ { "gpa": "0x40000000", "size": "256M" } ] } }
EOF
refused "config with an unknown key refused" "$tmp/bad.json: base.colour" $RUN --config "$tmp/bad.json"
for v in a b; do
	cat >"$tmp/$v.json" <<EOF
{ "base": { "id": 7, "name": "$v", "cpu_num": 2, "phys_cpu_ids": [0, 5] },
  "kernel": { "kernel_path": "$ARM64_KERNEL", "memory_regions": [ { "gpa": "0x40000000", "size": "128M" } ] } }
EOF
done
refused "two VMs with one id refused" "$tmp/b.json: base.id: 7" $RUN --config "$tmp/a.json" --config "$tmp/b.json"
refused "a pCPU the machine lacks refused" "$tmp/a.json: base.phys_cpu_ids[1]" $RUN --pcpus 2 --config "$tmp/a.json"
# 6: usage.
refused "usage error" "--cpus" $RUN --cpus zero
# 7-10: the other checks made before any VM starts (issue #8), each naming file and key.
sed 's/"id": 7/"id": 8/' "$tmp/a.json" >"$tmp/c.json"
refused "two VMs with one name refused" "$tmp/c.json: base.name" $RUN --config "$tmp/a.json" --config "$tmp/c.json"
cat >"$tmp/big.json" <<EOF
{ "base": { "id": 9, "name": "big", "cpu_num": 1 },
  "kernel": { "kernel_path": "$ARM64_KERNEL", "memory_regions": [ { "gpa": "0x40000000", "size": "12G" } ] } }
EOF
sed 's/"id": 9, "name": "big"/"id": 10, "name": "big2"/; s/12G/5G/' "$tmp/big.json" >"$tmp/big2.json"
refused "more than 16 GiB of VM memory in all refused" "$tmp/big2.json: kernel.memory_regions: more than 16 GiB" \
	$RUN --config "$tmp/big.json" --config "$tmp/big2.json"
cat >"$tmp/overlap.json" <<EOF
{ "base": { "id": 11, "name": "ov", "cpu_num": 1 },
  "kernel": { "kernel_path": "$ARM64_KERNEL", "memory_regions": [ { "gpa": "0x40000000", "size": "256M" },
                                                                 { "gpa": "0x48000000", "size": "256M" } ] } }
EOF
refused "overlapping memory regions refused" "$tmp/overlap.json: kernel.memory_regions[1]: overlaps" $RUN --config "$tmp/overlap.json"
cat >"$tmp/fewids.json" <<EOF
{ "base": { "id": 12, "name": "few", "cpu_num": 2, "phys_cpu_ids": [0] },
  "kernel": { "kernel_path": "$ARM64_KERNEL", "memory_regions": [ { "gpa": "0x40000000", "size": "256M" } ] } }
EOF
refused "more vCPUs than phys_cpu_ids refused" "$tmp/fewids.json: base.phys_cpu_ids" $RUN --config "$tmp/fewids.json"
# 11: a gzip'd Image becomes the raw Image again, byte for byte, and is what QEMU loads.
gzip -1 -c "$ARM64_KERNEL" >"$tmp/Image.gz"
cat >"$tmp/gz.json" <<EOF
{ "base": { "id": 3, "name": "gz", "cpu_num": 1 },
  "kernel": { "kernel_path": "$tmp/Image.gz", "memory_regions": [ { "gpa": "0x40000000", "size": "128M" } ] } }
EOF
mkdir -p "$tmp/gz"
if build/x86_64/cvisor-vmdtb --out "$tmp/gz" "$tmp/gz.json" >"$tmp/gz.layout" 2>"$tmp/err" &&
	cmp -s "$tmp/gz/kernel-3.Image" "$ARM64_KERNEL" && grep -q "^loader $tmp/gz/kernel-3.Image 0x48200000$" "$tmp/gz.layout"; then
	ok "gzip'd Image decompressed host-side, loaded raw"
else
	not_ok "gzip'd Image decompressed host-side, loaded raw" "$(cat "$tmp/err" "$tmp/gz.layout")"
fi
rm -f "$tmp/Image.gz" "$tmp/gz/kernel-3.Image"

# 12-19: the kernel entered, one vCPU, to its panic. The initramfs holds only an /init that is
# not executable: the kernel cannot run it nor any of its fallbacks, and panics.
mkdir -p "$tmp/badroot"
printf 'not a program\n' >"$tmp/badroot/init"
chmod 644 "$tmp/badroot/init"
(cd "$tmp/badroot" && echo init | cpio --quiet -o -H newc | gzip) >"$tmp/bad-initrd.gz"
cmdline="console=ttyAMA0 earlycon=pl011,mmio32,0x09000000 panic=-1"
start=$EPOCHREALTIME
$RUN --cpus 1 --mem 192M --initrd "$tmp/bad-initrd.gz" --cmdline "$cmdline" --no-reboot --timeout 90 </dev/null 2>"$tmp/boot.err" |
	tr -d '\r' >"$tmp/boot.log"
rc=${PIPESTATUS[0]}
secs=$(awk -v a="$start" -v b="$EPOCHREALTIME" 'BEGIN { printf "%.1f", b - a }')
log=$tmp/boot.log
check "kernel entered: its first line on the console" grep -q "Booting Linux on physical CPU 0x0000000000 " "$log"
check "the kernel read cvisor's device tree" grep -q "Machine model: cvisor guest" "$log"
check "earlycon on the PL011 cvisor emulates" grep -q "earlycon: pl11 at MMIO32 0x0000000009000000" "$log"
check "command line from the config" grep -qF "Kernel command line: $cmdline" "$log"
check "memory from --mem: 192 MiB at 0x40000000" grep -qF "node   0: [mem 0x0000000040000000-0x000000004bffffff]" "$log"
check "PSCI 1.0 over HVC found" grep -q "psci: PSCIv1.0 detected in firmware" "$log"
if [ "$rc" -eq 1 ] && grep -q "^cvisor: error: vm 1 (linux): the guest asked for a reset; --no-reboot: stopped" "$log" &&
	tail -n 1 "$log" | grep -q "^cvisor: exit 1$"; then
	ok "panic=-1 with --no-reboot: status 1, cvisor says why (${secs}s)"
else
	not_ok "panic=-1 with --no-reboot: status 1, cvisor says why" "status $rc" "$(tail -n 5 "$log")"
fi
check "the bad init ends in the kernel's 'No working init found' panic" \
	grep -q "Kernel panic - not syncing: No working init found" "$log"
[ $failed -eq 0 ] || sed 's/^/# /' "$log" | tail -n 30

# 20-21: SYSTEM_RESET rebuilds the VM from the untouched originals: a second boot, the same lines.
# Its own session, so the whole run (script, timeout, QEMU) ends with one signal to its group.
# The file exists before the loop below reads it (the background job opens it later).
: >"$tmp/reset.raw"
setsid $RUN --cpus 1 --mem 128M --initrd "$tmp/bad-initrd.gz" --cmdline "$cmdline" --timeout 60 </dev/null >>"$tmp/reset.raw" 2>/dev/null &
pid=$!
deadline=$((SECONDS + 60))
while [ $SECONDS -lt $deadline ] && [ "$(grep -c "Kernel panic" "$tmp/reset.raw")" -lt 2 ]; do sleep 0.3; done
sleep 0.5
kill -TERM -- -"$pid" 2>/dev/null
wait "$pid" 2>/dev/null
tr -d '\r' <"$tmp/reset.raw" >"$tmp/reset.log"
log=$tmp/reset.log
if grep -q "^cvisor: vm 1 (linux): reset: building it again" "$log" && [ "$(grep -c "Machine model: cvisor guest" "$log")" -ge 2 ]; then
	ok "a guest reset builds the VM again and the kernel boots again"
else
	not_ok "a guest reset builds the VM again and the kernel boots again" "$(tail -n 5 "$log")"
fi
# The lines that show the kernel, its command line, its memory and the initramfs it unpacked.
same='Linux version|Kernel command line|node   0: |Machine model|Trying to unpack|Run /init|Failed to execute|Kernel panic'
boot_lines() { sed 's/^\[[^]]*\] //' | awk -v k="$1" '/Booting Linux/ { n++ } n == k' | grep -E "$same"; }
first=$(boot_lines 1 <"$log")
second=$(boot_lines 2 <"$log")
if [ -n "$first" ] && [ "$first" = "$second" ]; then
	ok "the second boot prints what the first did (untouched kernel, initramfs, DTB): $(echo "$first" | wc -l) lines"
else
	not_ok "the second boot prints what the first did" "$(diff <(echo "$first") <(echo "$second") | head -n 10)"
fi
[ $n -eq $PLAN ] || not_ok "planned $PLAN results, printed $n"
exit $failed
