#!/usr/bin/env bash
# Debian's arm64 kernel with the project's initramfs under cvisor (issue #7's test list),
# two QEMU runs at once:
# - SMP: 3 vCPUs on 3 pCPUs, cvisor.test=smp: /init prints the device tree's model, the CPU
#   count and online mask, markers around `sleep 2` (timestamped here: 1.8-4 s apart, and
#   the guest's /proc/uptime agrees within 0.5 s), work pinned to each CPU with its
#   checksum, and powers off: every value asserted, and status 0 with cvisor's "powered off".
# - 1 vCPU, the default /init (busybox init and a shell): a line typed on the console reaches
#   the shell and its answer comes back; `poweroff` ends the VM and QEMU, status 0.
# (The panic, the refusals and the reset are in tests/linux/cvisor-boot.sh.)
set -u
cd "$(dirname "$0")/../.." || exit 1
. tests/linux/lib.sh
tmp=$(mktemp -d /tmp/cvisor-linux.XXXXXX)
trap 'exec 3>&- 2>/dev/null; [ -n "${run1:-}" ] && kill -TERM -- -"$run1" 2>/dev/null; rm -rf "$tmp"' EXIT
# Writing to the console fifo of a QEMU that has ended must fail, not kill the test.
trap '' PIPE
PLAN=14
echo "1..$PLAN"

skip_all() {
	echo "# SKIPPED: $1"
	for t in $(seq 1 $PLAN); do skip "cvisor linux check $t" "$1"; done
	exit 0
}
guest_missing || skip_all "$why"
command -v aarch64-linux-gnu-gcc >/dev/null && [ -f "${ARM64_LIBFDT_A:-}" ] ||
	skip_all "aarch64-linux-gnu-gcc or the arm64 libfdt missing: run scripts/setup"
RUN=scripts/run-aarch64
LIMIT=60 # seconds per run: each takes 13-20 s with two at once on 2 cores
flock build/.aarch64.lock make -s --no-print-directory ARCH=aarch64 PLATFORM=qemu-virt build/aarch64/cvisor.elf >&2
make -s --no-print-directory cvisor-vmdtb >&2

# Run 1 (background, its own session): 1 vCPU, the default /init, driven through the console.
mkfifo "$tmp/in1"
setsid bash -c 'scripts/run-aarch64 --cpus 1 --timeout "$1" <"$2" 2>&1 | (. tests/linux/lib.sh; timestamp_lines) >"$3"
	echo "${PIPESTATUS[0]}" >"$4"' _ "$LIMIT" "$tmp/in1" "$tmp/run1.log" "$tmp/run1.rc" &
run1=$!
exec 3>"$tmp/in1"

# Run 2 (foreground): SMP, 3 vCPUs on 3 pCPUs.
smp=3
start2=$EPOCHREALTIME
$RUN --cpus $smp --pcpus $smp --cmdline "console=ttyAMA0 panic=-1 quiet cvisor.test=smp" --no-reboot --timeout "$LIMIT" \
	</dev/null 2>&1 | timestamp_lines >"$tmp/run2.log"
rc2=${PIPESTATUS[0]}

# Back to run 1.
typed=no
if wait_for "$tmp/run1.log" "cvisor-init: shell ready" "$LIMIT"; then
	printf 'echo typed-$((6 * 7))\n' >&3
	wait_for "$tmp/run1.log" "typed-42" 20 && typed=yes
	printf 'poweroff\n' >&3
fi
wait "$run1"
exec 3>&-
rc1=$(cat "$tmp/run1.rc" 2>/dev/null || echo none)
run1=

# The guest ends its lines with CR LF and the console adds its own: drop every CR now that
# the lines are timestamped (stripping them in the pipe would buffer it).
for f in "$tmp/run1.log" "$tmp/run2.log"; do tr -d '\r' <"$f" >"$f.txt"; mv "$f.txt" "$f"; done
log=$tmp/run2.log
check_smp_log "$log" "$smp"
if [ "$rc2" = 0 ] && grep -q "cvisor: vm 1 (linux): powered off" "$log" && grep -q "cvisor: exit 0" "$log"; then
	ok "smp: poweroff -f ends the VM and QEMU, status 0"
else
	not_ok "smp: poweroff -f ends the VM and QEMU, status 0" "status $rc2"
fi
[ $failed -eq 0 ] || sed 's/^/# run2: /' "$log" | tail -n 40

log=$tmp/run1.log
f0=$failed
check "1 vCPU: /init ran" grep -q "cvisor-init: start" "$log"
check "1 vCPU: the guest sees 1 CPU" grep -q "cvisor-init: 1 CPUs, exec init" "$log"
check "1 vCPU: busybox init started a shell" grep -q "cvisor-init: shell ready" "$log"
[ $typed = yes ] && ok "1 vCPU: typed input reaches the shell and its answer comes back" ||
	not_ok "1 vCPU: typed input reaches the shell"
if [ "$rc1" = 0 ] && grep -q "cvisor: exit 0" "$log"; then ok "1 vCPU: poweroff ends QEMU with 0"; else
	not_ok "1 vCPU: poweroff ends QEMU with 0" "status $rc1"; fi
[ $failed -eq $f0 ] || sed 's/^/# run1: /' "$log" | tail -n 30

[ -n "$t0" ] && echo "# smp run: QEMU start to /init marker $(awk -v a="$start2" -v b="$(time_of "$tmp/run2.log" "cvisor-init: start")" \
	'BEGIN { printf "%.1f", b - a }') s (with another QEMU beside it)"
[ $n -eq $PLAN ] || not_ok "planned $PLAN results, printed $n"
exit $failed
