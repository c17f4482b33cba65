#!/usr/bin/env bash
# The Linux-guest baseline with no hypervisor (issue #7): Debian's own arm64 kernel and the
# project's initramfs booted straight under QEMU at EL1. Proves what the hypervisor's
# Linux tests build on: the kernel fetch, the initramfs (/init, busybox init, poweroff,
# console input), and the measurements the test guest prints (CPU count, online mask,
# sleep timing against the guest's uptime, per-CPU pinned work), and boot/fdt.c's device
# tree against a real kernel. Two QEMU runs at once.
set -u
cd "$(dirname "$0")/../.." || exit 1
. tests/linux/lib.sh
tmp=$(mktemp -d /tmp/cvisor-direct-boot.XXXXXX)
trap 'exec 3>&- 2>/dev/null; kill $(jobs -p) 2>/dev/null; rm -rf "$tmp"' EXIT
# Writing to the console fifo of a QEMU that has ended must fail, not kill the test.
trap '' PIPE
echo "1..13"

if ! guest_missing; then
	echo "# SKIPPED: $why"
	for t in $(seq 1 13); do skip "direct boot check $t" "$why"; done
	exit 0
fi

QEMU=(qemu-system-aarch64 -M virt,gic-version=3 -cpu max,pauth-impdef=on -m 256M -nographic -no-reboot
	-kernel "$ARM64_KERNEL" -initrd "$LINUX_INITRD")
CVISOR_BOOT=${CVISOR_BOOT:-build/x86_64/cvisor-boot}
LIMIT=45 # seconds per run: a run takes ~5-10 s on 2 cores with two at once

# Run 1 (background): the default /init on 2 CPUs, driven through the console: a typed
# command reaches the shell and `poweroff` (busybox init as PID 1) ends QEMU with 0.
mkfifo "$tmp/in1"
(
	timeout "$LIMIT" "${QEMU[@]}" -smp 2 -append "console=ttyAMA0 panic=-1 quiet" <"$tmp/in1" 2>&1 |
		timestamp_lines >"$tmp/run1.log"
	echo "${PIPESTATUS[0]}" >"$tmp/run1.rc"
) &
run1=$!
exec 3>"$tmp/in1"

# Run 2 (foreground): the device tree from boot/fdt.c (build/x86_64/cvisor-boot dtb) and
# no -append, so the kernel's command line, console (stdout-path), CPUs (PSCI over HVC,
# which is QEMU's conduit without EL2), GICv3, timer and PL011 all come from our tree;
# cvisor.test=smp powers off by itself. QEMU's CPU count must match the tree's: QEMU's
# GICR_TYPER.Last marks its own last redistributor.
smp=2
rc2=none
if "$CVISOR_BOOT" dtb "$tmp/guest.dtb" --cpus $smp --mem 0x40000000:256M \
	--bootargs "panic=-1 quiet cvisor.test=smp" >"$tmp/run2.log" 2>&1; then
	start2=$EPOCHREALTIME
	timeout "$LIMIT" "${QEMU[@]}" -smp $smp -dtb "$tmp/guest.dtb" </dev/null 2>&1 | timestamp_lines >"$tmp/run2.log"
	rc2=${PIPESTATUS[0]}
fi

# Back to run 1.
typed=no
if wait_for "$tmp/run1.log" "cvisor-init: shell ready" "$LIMIT"; then
	printf 'echo typed-$((6 * 7))\n' >&3
	wait_for "$tmp/run1.log" "typed-42" 10 && typed=yes
	printf 'poweroff\n' >&3
fi
wait "$run1"
exec 3>&-
rc1=$(cat "$tmp/run1.rc" 2>/dev/null || echo none)

log=$tmp/run1.log
check "default init: marker" grep -q "cvisor-init: start" "$log"
check "default init: busybox init started a shell" grep -q "cvisor-guest:" "$log"
[ $typed = yes ] && ok "default init: typed input reaches the shell" || not_ok "default init: typed input reaches the shell"
if [ "$rc1" = 0 ] && grep -q "reboot: Power down" "$log"; then ok "default init: poweroff ends QEMU with 0"; else
	not_ok "default init: poweroff ends QEMU with 0" "QEMU status $rc1"; fi
[ $failed -eq 0 ] || sed 's/^/# run1: /' "$log" | tail -n 30

log=$tmp/run2.log
f0=$failed
check_smp_log "$log" "$smp"
if [ "$rc2" = 0 ] && grep -q "reboot: Power down" "$log"; then ok "smp: poweroff -f ends QEMU with 0"; else
	not_ok "smp: poweroff -f ends QEMU with 0" "QEMU status $rc2"; fi
[ $failed -eq $f0 ] || sed 's/^/# run2: /' "$log" | tail -n 30

# For the record: QEMU start to the /init marker, with another QEMU running beside it.
[ -n "${start2:-}" ] && echo "# smp run: QEMU start to marker $(awk -v a="$start2" -v b="$(time_of "$log" "cvisor-init: start")" \
	'BEGIN { printf "%.1f", b - a }') s"
[ $n -eq 13 ] || not_ok "planned 13 results, printed $n"
exit $failed
