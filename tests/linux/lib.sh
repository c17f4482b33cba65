# Helpers for tests/linux/*.sh: TAP output, the guest files, QEMU runs with timestamped
# console lines. Sourced with the repository root as the current directory.
# shellcheck shell=bash
. guests/linux/guest-env.sh

n=0 failed=0
ok() { n=$((n + 1)); echo "ok $n - $1"; }
not_ok() {
	n=$((n + 1)) failed=1
	echo "not ok $n - $1"
	shift
	local l
	for l in "$@"; do echo "# $l"; done
}
skip() { n=$((n + 1)); echo "ok $n - $1 # SKIP $2"; }
# check NAME CONDITION-COMMAND... : ok when the command succeeds.
check() {
	local name=$1
	shift
	if "$@"; then ok "$name"; else not_ok "$name" "failed: $*"; fi
}

# guest_missing: sets ARM64_KERNEL (and the rest of the guest env) and returns 0 when the
# arm64 guest (kernel, initramfs) and QEMU are there, else puts the reason in $why.
LINUX_INITRD=${LINUX_INITRD:-build/linux-guest/initrd.gz}
why=
guest_missing() {
	command -v qemu-system-aarch64 >/dev/null || { why="qemu-system-aarch64 missing: run scripts/setup"; return 1; }
	cvisor_guest_env || { why="no Debian arm64 kernel fetched: run scripts/setup (scripts/setup.d/10-arm64-guest)"; return 1; }
	[ -f "$LINUX_INITRD" ] || { why="$LINUX_INITRD missing: make linux-initrd"; return 1; }
}

# timestamp_lines: each input line prefixed with the host's wall clock (seconds, µs) and
# stripped of the console's carriage return.
timestamp_lines() {
	local line
	while IFS= read -r line; do
		printf '%s %s\n' "$EPOCHREALTIME" "${line%$'\r'}"
	done
}

# wait_for FILE PATTERN SECONDS: polls until FILE contains the fixed string PATTERN.
wait_for() {
	local deadline=$((SECONDS + $3))
	while [ $SECONDS -lt "$deadline" ]; do
		grep -qF -- "$2" "$1" 2>/dev/null && return 0
		sleep 0.2
	done
	return 1
}

# The console line (timestamp stripped) of LOG that starts with PREFIX, first match.
line_of() { sed -n "s/^[0-9.]* $2//p" "$1" | head -n 1; }
# The host timestamp of the first line of LOG that starts with PREFIX.
time_of() { grep -m 1 "^[0-9.]* $2" "$1" | cut -d ' ' -f 1; }

# The assertions on a cvisor.test=smp run (guests/linux/rootfs/lib/cvisor/test-smp.sh),
# shared by the direct boot and the boot under cvisor: check_smp_log LOG CPUS, on a log
# whose lines timestamp_lines stamped and whose CRs are gone.
check_smp_log() {
	# t0 (the sleep-start time) stays visible to the caller, which reports with it.
	local log=$1 smp=$2 got t1 u0 u1 host guest want bad i
	check "smp: /init ran" grep -q "cvisor-init: start" "$log"
	got=$(line_of "$log" "cvisor-test: model ")
	[ "$got" = "cvisor guest" ] && ok "smp: the kernel got cvisor's device tree" ||
		not_ok "smp: the kernel got cvisor's device tree" "model '$got'"
	got=$(line_of "$log" "cvisor-test: cpus ")
	[ "$got" = "$smp" ] && ok "smp: guest sees $smp CPUs" || not_ok "smp: guest sees $smp CPUs" "got '$got'"
	got=$(line_of "$log" "cvisor-test: online ")
	[ "$got" = "0-$((smp - 1))" ] && ok "smp: online 0-$((smp - 1))" || not_ok "smp: online 0-$((smp - 1))" "got '$got'"
	# sleep 2: 1.8-4 s apart on the host clock; the guest's uptime agrees within 0.5 s.
	t0=$(time_of "$log" "cvisor-test: sleep-start") t1=$(time_of "$log" "cvisor-test: sleep-end")
	u0=$(line_of "$log" "cvisor-test: sleep-start uptime=") u1=$(line_of "$log" "cvisor-test: sleep-end uptime=")
	if [ -n "$t0" ] && [ -n "$t1" ] && [ -n "$u0" ] && [ -n "$u1" ]; then
		host=$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.2f", b - a }')
		guest=$(awk -v a="$u0" -v b="$u1" 'BEGIN { printf "%.2f", b - a }')
		awk -v h="$host" 'BEGIN { exit !(h >= 1.8 && h <= 4) }' && ok "smp: sleep 2 took $host s on the host" ||
			not_ok "smp: sleep 2 took $host s on the host (want 1.8-4)"
		awk -v h="$host" -v g="$guest" 'BEGIN { d = h - g; if (d < 0) d = -d; exit !(d <= 0.5) }' &&
			ok "smp: guest uptime agrees ($guest s)" || not_ok "smp: guest uptime agrees" "host $host s, guest $guest s"
	else
		not_ok "smp: sleep 2 timed" "markers missing"
		not_ok "smp: guest uptime agrees" "markers missing"
	fi
	want=$(seq 1 50000 | md5sum | cut -d ' ' -f 1)
	bad=
	for ((i = 0; i < smp; i++)); do
		got=$(line_of "$log" "cvisor-test: work cpu=$i ")
		[ "$got" = "sum=$want ran-on=$i" ] || bad="$bad cpu$i:'$got'"
	done
	[ -z "$bad" ] && ok "smp: pinned work on each CPU, checksums right" || not_ok "smp: pinned work" "$bad"
	check "smp: test finished" grep -q "cvisor-test: done" "$log"
}
