#!/usr/bin/env bash
# One physical console, several VMs (issue #8; host/aarch64-virt/console.c): two VMs of
# the multicon test guest (guests/aarch64/multicon.c), one per config and pCPU, print 40
# lines each at the same time, a spoofed "\rcvisor: exit 7" and a prompt with no newline,
# then answer what is typed. Asserted: every guest line is whole and behind its VM's
# "[name] "; the spoof is marked "[guest] " (review item 5); each prompt is shown while the
# guest waits (not held back for a newline); cvisor says once how input is switched; input
# goes to the first config's VM, Ctrl-] 2 sends it to VM 2 only, Ctrl-] 1 back; QEMU's
# status is 0. Then one VM alone: no prefix, the spoof still marked. Input through a pipe.
set -u
cd "$(dirname "$0")/../.." || exit 1
. tests/linux/lib.sh
PLAN=12
echo "1..$PLAN"
if ! command -v qemu-system-aarch64 >/dev/null || ! command -v aarch64-linux-gnu-gcc >/dev/null; then
	for t in $(seq 1 $PLAN); do skip "multi-VM console $t" "qemu-system-aarch64 or aarch64-linux-gnu-gcc missing: run scripts/setup"; done
	exit 0
fi
mkdir -p build
if ! out=$( (flock build/.aarch64.lock make -s --no-print-directory ARCH=aarch64 PLATFORM=qemu-virt \
	build/aarch64/cvisor.elf build/aarch64/guests/multicon.bin && make -s --no-print-directory cvisor-vmdtb) 2>&1); then
	echo "$out" | tail -n 20 | sed 's/^/# /'
	for t in $(seq 1 $PLAN); do not_ok "multi-VM console $t (build failed)"; done
	exit 1
fi
tmp=$(mktemp -d /tmp/cvisor-multicon.XXXXXX)
pid=
trap 'exec 3>&- 2>/dev/null; [ -n "$pid" ] && kill -- -$pid 2>/dev/null; rm -rf "$tmp"' EXIT
for v in 1:a:0 2:b:1; do
	IFS=: read -r id name pcpu <<<"$v"
	cat >"$tmp/$name.json" <<EOF
{ "base": { "id": $id, "name": "$name", "cpu_num": 1, "phys_cpu_ids": [$pcpu] },
  "kernel": { "kernel_path": "$PWD/build/aarch64/guests/multicon.bin", "kernel_load_addr": "0x4000_0000",
              "entry_point": "0x4000_0000", "memory_regions": [ { "gpa": "0x4000_0000", "size": "1M" } ] } }
EOF
done
mkfifo "$tmp/in"
setsid scripts/run-aarch64 --config "$tmp/a.json" --config "$tmp/b.json" --timeout 40 <"$tmp/in" >"$tmp/raw" 2>&1 &
pid=$!
exec 3>"$tmp/in"
# The prompts come with no newline: seen only if cvisor hands partial lines over.
if wait_for "$tmp/raw" "[a] multicon> " 20 && wait_for "$tmp/raw" "[b] multicon> " 5; then
	ok "both prompts shown while their guests wait for input"
else
	not_ok "both prompts shown while their guests wait for input"
fi
printf 'to-a\n' >&3
wait_for "$tmp/raw" "multicon: got to-a" 10
printf '\0352to-b\n' >&3
wait_for "$tmp/raw" "multicon: got to-b" 10
printf 'quit\n' >&3
wait_for "$tmp/raw" "[b] multicon: bye" 10
printf '\0351quit\n' >&3
wait "$pid"
rc=$?
pid=
exec 3>&-
tr -d '\r' <"$tmp/raw" >"$tmp/log"
log=$tmp/log
# A guest's line is cut only where that guest was quiet for ~100 ms (a loaded host can
# stall a vCPU that long); the pieces, each on a line of its own behind the same prefix,
# must then make up the guest's lines in order. Clean lines are counted as a diagnostic.
expect=$(for i in $(seq 0 39); do printf 'multicon: line %d: 0123456789abcdefghijklmnopqrstuvwxyz' "$i"; done)
for name in a b; do
	joined=$(grep "^\[$name\] " "$log" | sed "s/^\[$name\] //" | grep -v '^\[guest\]\|^multicon>\|^multicon: got\|^multicon: bye\|^to-\|^quit' |
		tr -d '\n' | head -c ${#expect})
	clean=$(grep -c "^\[$name\] multicon: line [0-9]*: 0123456789abcdefghijklmnopqrstuvwxyz$" "$log")
	[ "$joined" = "$expect" ] && ok "vm $name: its 40 lines, in order, behind [$name] ($clean of 40 uncut)" ||
		not_ok "vm $name: its 40 lines, in order, behind [$name]"
done
# No console line holds two VMs' text: every piece of a line is a piece of its VM's text.
bad=$(grep -c 'multicon: line.*multicon: line\|z[0-9]\|z\[' "$log")
[ "$bad" = 0 ] && ok "no guest line mixed with another" || not_ok "no guest line mixed with another ($bad)"
check "a guest's '\\rcvisor: exit 7' is marked [guest] (both VMs)" \
	test "$(grep -c '^\[[ab]\] \[guest\] cvisor: exit 7$' "$log")" = 2
check "cvisor says once how input is switched" \
	test "$(grep -c "^cvisor: console input goes to vm 1 (a); Ctrl-\] then a VM's id switches it$" "$log")" = 1
check "input goes to the first config's VM" grep -q '^\[a\] multicon: got to-a$' "$log"
check "Ctrl-] 2 switches input to vm 2 only" sh -c "grep -q '^\[b\] multicon: got to-b$' '$log' && ! grep -q '^\[a\] multicon: got to-b' '$log'"
check "Ctrl-] 1 switches it back" grep -q '^\[a\] multicon: got quit$' "$log"
check "every line is cvisor's or behind a VM's name" sh -c "! grep -v '^cvisor: \|^\[[ab]\] \|^$' '$log' | grep -q ."
[ "$rc" = 0 ] && ok "both VMs powered off: status 0" || not_ok "both VMs powered off: status 0 (got $rc)"
[ $failed = 0 ] || sed 's/^/# /' "$log" | grep -v "multicon: line" | tail -n 30

# One VM alone: its lines as they are, the spoof still marked.
printf 'quit\n' | scripts/run-aarch64 --config "$tmp/a.json" --timeout 20 2>&1 | tr -d '\r' >"$tmp/one"
check "one VM: no prefix, the spoof marked [guest]" sh -c "grep -q '^multicon: line 39: ' '$tmp/one' && grep -q '^\[guest\] cvisor: exit 7$' '$tmp/one' && ! grep -q '^\[a\]' '$tmp/one'"
[ $n -eq $PLAN ] || not_ok "planned $PLAN results, printed $n"
exit $failed
