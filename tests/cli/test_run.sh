#!/usr/bin/env bash
# `cvisor run` on /dev/kvm, end to end: the built-in demo's output and exit status, --stats,
# --config, several VMs in one process, and the failure paths (triple fault, unmapped
# access under "stop", --timeout, SIGINT) exiting 1. Skips loudly without /dev/kvm.
set -u
cd "$(dirname "$0")/../.." || exit 1
CVISOR=${CVISOR:-build/x86_64/cvisor}
GUESTS=build/x86_64/guests/x86_64
tmp=$(mktemp -d /tmp/cvisor-test-run.XXXXXX)
trap 'rm -rf "$tmp"' EXIT
n=0 failed=0

ok() { n=$((n + 1)); echo "ok $n - $1"; }
not_ok() {
	n=$((n + 1)); failed=1; echo "not ok $n - $1"; shift
	for l in "$@"; do printf '%s\n' "$l" | sed 's/^/# /'; done
}

# run_cvisor ARGS...: runs cvisor with a 20 s bound; sets rc, out, err.
run_cvisor() {
	timeout -k 5 20 "$CVISOR" "$@" >"$tmp/out" 2>"$tmp/err"
	rc=$?
	out=$(cat "$tmp/out") err=$(cat "$tmp/err")
}

# demo_output_ok N: stdout is exactly the demo's output for N vCPUs: "vcpu 0 up" first,
# one line per other vCPU in any order, "demo: all N vCPUs met" last.
demo_output_ok() {
	local want_n=$1 lines
	lines=$(printf '%s\n' "$out" | wc -l)
	[ "$lines" -eq $((want_n + 1)) ] || return 1
	[ "$(printf '%s\n' "$out" | head -n 1)" = "vcpu 0 up" ] || return 1
	[ "$(printf '%s\n' "$out" | tail -n 1)" = "demo: all $want_n vCPUs met" ] || return 1
	for i in $(seq 1 $((want_n - 1))); do
		printf '%s\n' "$out" | grep -qx "vcpu $i up" || return 1
	done
}

TESTS=(demo demo_cpus stats config two_vms triple unmapped_stop timeout sigint guest_prefix reset)
if [ ! -x "$CVISOR" ]; then
	echo "not ok 1 - $CVISOR is not built"
	exit 1
fi
if [ ! -r /dev/kvm ] || [ ! -w /dev/kvm ]; then
	for t in "${TESTS[@]}"; do ok "$t # SKIP no /dev/kvm (or no access to it)"; done
	echo "1..$n"
	exit 0
fi

# The demo: 4 vCPUs by default, each one's line, the final line, exit 0.
run_cvisor run
if [ $rc -eq 0 ] && demo_output_ok 4; then
	ok "demo: every vCPU's line and the final line, exit 0"
else
	not_ok "demo: every vCPU's line and the final line, exit 0" "exit $rc" "stdout: $out" "stderr: $err"
fi

# --cpus 1 and --cpus 16 with --mem.
bad=""
for c in 1 16; do
	run_cvisor run --cpus $c --mem 32M
	{ [ $rc -eq 0 ] && demo_output_ok $c; } || bad="$bad --cpus $c: exit $rc, stdout: $out, stderr: $err;"
done
[ -z "$bad" ] && ok "demo with --cpus 1 and --cpus 16 --mem 32M" || not_ok "demo with --cpus 1 and --cpus 16 --mem 32M" "$bad"

# --stats: a table on stderr, a row per vCPU and a total row; stdout stays the console.
run_cvisor run --stats
rows=$(printf '%s\n' "$err" | grep -cE '^ +[0-3] ')
if [ $rc -eq 0 ] && demo_output_ok 4 && [[ "$err" == *"exits by kind per vCPU"* ]] &&
	printf '%s\n' "$err" | grep -qE '^ +vcpu .*CPU_UP.*total$' && [ "$rows" -eq 4 ] &&
	printf '%s\n' "$err" | grep -qE '^ +all '; then
	ok "--stats prints each vCPU's exits by kind on stderr"
else
	not_ok "--stats prints each vCPU's exits by kind on stderr" "exit $rc, $rows rows" "stderr: $err"
fi

# The example config runs the demo.
run_cvisor run --config configs/demo.json
if [ $rc -eq 0 ] && demo_output_ok 4; then
	ok "--config configs/demo.json"
else
	not_ok "--config configs/demo.json" "exit $rc" "stdout: $out" "stderr: $err"
fi

# Two VMs in one process (the two example configs): both consoles, lines prefixed by the
# VM's name, each VM's lines in its own order.
run_cvisor run --config configs/demo.json --config configs/demo-pinned.json
demo_lines=$(printf '%s\n' "$out" | grep -c '^\[demo\] ')
pinned_lines=$(printf '%s\n' "$out" | grep -c '^\[pinned\] ')
if [ $rc -eq 0 ] && [ "$demo_lines" -eq 5 ] && [ "$pinned_lines" -eq 3 ] &&
	printf '%s\n' "$out" | grep -qx '\[demo\] demo: all 4 vCPUs met' &&
	printf '%s\n' "$out" | grep -qx '\[pinned\] demo: all 2 vCPUs met' &&
	[ "$(printf '%s\n' "$out" | grep '^\[demo\] ' | tail -n 1)" = "[demo] demo: all 4 vCPUs met" ]; then
	ok "two --config VMs in one process"
else
	not_ok "two --config VMs in one process" "exit $rc" "stdout: $out" "stderr: $err"
fi

# A guest that triple-faults: exit 1, the reason on stderr (and no "success" error code in it).
run_cvisor run --guest "$GUESTS/triple.bin" --cpus 1
if [ $rc -eq 1 ] && [[ "$err" == *"the guest crashed (triple fault) on vCPU 0"* ]] && [[ "$err" != *success* ]]; then
	ok "a triple-faulting guest exits 1"
else
	not_ok "a triple-faulting guest exits 1" "exit $rc" "stderr: $err"
fi

# devices.unmapped_access "stop": the off guest's report port has no device, the VM stops.
cat >"$tmp/stop.json" <<JSON
{ "base": { "id": 3, "name": "stopper", "cpu_num": 1 },
  "kernel": { "kernel_path": "$PWD/$GUESTS/off.bin", "memory_regions": [ [0, "16M"] ] },
  "devices": { "unmapped_access": "stop" } }
JSON
run_cvisor run --config "$tmp/stop.json"
if [ $rc -eq 1 ] && [[ "$err" == *"VM 3 (stopper): vCPU 0 accessed no device at 0x500"* ]]; then
	ok "unmapped_access stop: the VM stops, exit 1"
else
	not_ok "unmapped_access stop: the VM stops, exit 1" "exit $rc" "stderr: $err"
fi

# devices.unmapped_access "abort": x86 has no abort to inject, so the VM stops the same
# way, and the report names the port and the policy.
sed 's/"stop"/"abort"/; s/stopper/aborter/' "$tmp/stop.json" >"$tmp/abort.json"
run_cvisor run --config "$tmp/abort.json"
if [ $rc -eq 1 ] && [[ "$err" == *"VM 3 (aborter): vCPU 0 accessed no device at 0x500 (devices.unmapped_access is \"abort\")"* ]]; then
	ok "unmapped_access abort: the VM stops, the port reported, exit 1"
else
	not_ok "unmapped_access abort: the VM stops, the port reported, exit 1" "exit $rc" "stderr: $err"
fi

# --timeout stops a guest that never ends: exit 1, within the grace time.
start=$(date +%s%N)
run_cvisor run --guest "$GUESTS/spin.bin" --cpus 1 --timeout 1
ms=$((($(date +%s%N) - start) / 1000000))
if [ $rc -eq 1 ] && [[ "$err" == *"stopped by cvisor (--timeout ran out)"* ]] && [ $ms -lt 4000 ]; then
	ok "--timeout 1 stops a spinning guest (exit 1 after ${ms} ms)"
else
	not_ok "--timeout 1 stops a spinning guest" "exit $rc after $ms ms" "stderr: $err"
fi

# SIGINT stops every VM; exit 1.
"$CVISOR" run --guest "$GUESTS/spin.bin" --cpus 2 >"$tmp/out" 2>"$tmp/err" &
pid=$!
sleep 0.5
kill -INT $pid
for _ in $(seq 50); do kill -0 $pid 2>/dev/null || break; sleep 0.1; done
if kill -0 $pid 2>/dev/null; then
	kill -KILL $pid
	not_ok "SIGINT stops the VMs" "still running 5 s after SIGINT"
else
	wait $pid
	rc=$?
	err=$(cat "$tmp/err")
	if [ $rc -eq 1 ] && [[ "$err" == *"stopped by cvisor (interrupted (SIGINT))"* ]]; then
		ok "SIGINT stops the VMs, exit 1"
	else
		not_ok "SIGINT stops the VMs, exit 1" "exit $rc" "stderr: $err"
	fi
fi

# Hand-assembled flat guests (loaded and entered at 0x100000 in 64-bit mode):
#   66 ba f8 03       mov dx, 0x3f8         (COM1)
#   b0 XX ee          mov al, XX; out dx, al (one console byte)
#   b8 <id> e7 e0     mov eax, <PSCI id>; out 0xe0, eax (the hypercall doorbell)
#   eb fe             jmp .
psci() { # the 4 bytes of a PSCI function id, little endian, as printf escapes
	printf '\\x%02x\\x%02x\\x%02x\\x%02x' $(($1 & 255)) $((($1 >> 8) & 255)) $((($1 >> 16) & 255)) $((($1 >> 24) & 255))
}
say() { # console bytes for the string $1
	local i c
	printf '\\x66\\xba\\xf8\\x03'
	for ((i = 0; i < ${#1}; i++)); do
		c=$(printf '%d' "'${1:i:1}")
		printf '\\xb0\\x%02x\\xee' "$c"
	done
	printf '\\xb0\\x0a\\xee'
}

# A guest line that looks like cvisor's own gets "[guest] " in front; exit 0 on SYSTEM_OFF.
printf "$(say "cvisor: I am not cvisor")$(say "plain line")\\xb8$(psci 0x84000008)\\xe7\\xe0\\xeb\\xfe" >"$tmp/fake.bin"
run_cvisor run --guest "$tmp/fake.bin" --cpus 1
if [ $rc -eq 0 ] && [ "$out" = "[guest] cvisor: I am not cvisor
plain line" ]; then
	ok "a guest line starting 'cvisor: ' is shown as '[guest] cvisor: ...'"
else
	not_ok "a guest line starting 'cvisor: ' is shown as '[guest] cvisor: ...'" "exit $rc" "stdout: $out" "stderr: $err"
fi

# SYSTEM_RESET rebuilds the VM from its config; a guest that only resets is stopped after 16.
printf "$(say "boot")\\xb8$(psci 0x84000009)\\xe7\\xe0\\xeb\\xfe" >"$tmp/reset.bin"
run_cvisor run --guest "$tmp/reset.bin" --cpus 1
boots=$(printf '%s\n' "$out" | grep -cx boot)
rebuilds=$(printf '%s\n' "$err" | grep -c "the guest reset: rebuilding the VM")
if [ $rc -eq 1 ] && [ "$boots" -eq 17 ] && [ "$rebuilds" -eq 16 ] && [[ "$err" == *"kept resetting (16 times)"* ]]; then
	ok "SYSTEM_RESET rebuilds the VM (16 times, then exit 1)"
else
	not_ok "SYSTEM_RESET rebuilds the VM (16 times, then exit 1)" "exit $rc, $boots boots, $rebuilds rebuilds" "stderr: $err"
fi

echo "1..$n"
exit $failed
