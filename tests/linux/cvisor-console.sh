#!/usr/bin/env bash
# Linux under cvisor (issue #7): what the user types reaches the busybox shell. Boots the
# default guest (scripts/run-aarch64: Debian's kernel, the project's initramfs, 2 vCPUs)
# with its console on a pipe; once the shell is ready, types a command whose answer only
# the shell can compute, reads /proc/interrupts (the PL011's SPI 33 and the virtual
# timer's PPI 27 both counted), and types `poweroff`: QEMU ends with 0, cvisor: exit 0.
cd "$(dirname "$0")/../.." || exit 1
. tests/linux/lib.sh
echo "1..4"
if ! guest_missing; then
	for t in "typed command answered" "UART interrupts" "timer interrupts" "poweroff typed"; do skip "$t" "$why"; done
	exit 0
fi
tmp=$(mktemp -d)
trap 'exec 3>&- 2>/dev/null; kill -- -$pid 2>/dev/null; rm -rf "$tmp"' EXIT
mkfifo "$tmp/in"
# Its own session, so the run (script, timeout, QEMU) ends with one signal to its group.
setsid scripts/run-aarch64 --timeout 120 <"$tmp/in" >"$tmp/log" 2>"$tmp/err" &
pid=$!
exec 3>"$tmp/in" # held open: QEMU sees no end of input while we type
if ! wait_for "$tmp/log" "cvisor-init: shell ready" 90; then
	not_ok "typed command answered" "no shell within 90 s" "$(tail -n 5 "$tmp/log" | tr -d '\r')"
	for t in "UART interrupts" "timer interrupts" "poweroff typed"; do not_ok "$t" "no shell"; done
	exit 1
fi
sleep 0.5
printf 'echo typed-$((6*7))\n' >&3
if wait_for "$tmp/log" "typed-42" 20; then ok "typed command answered by the shell (typed-42)"; else
	not_ok "typed command answered" "no typed-42" "$(tail -n 5 "$tmp/log" | tr -d '\r')"
fi
# The tags are made by the shell, so the echoed command line never matches them.
printf 't=irq; grep -E " (27|33) " /proc/interrupts | sed "s/^/${t}-count:/"; echo "irq-$((1+1))-done"\n' >&3
wait_for "$tmp/log" "irq-2-done" 20
uart=$(tr -d '\r' <"$tmp/log" | sed -n 's/^irq-count: *[0-9]*: *\([0-9 ]*\)GICv3  *33 .*/\1/p' | head -n 1)
timer=$(tr -d '\r' <"$tmp/log" | sed -n 's/^irq-count: *[0-9]*: *\([0-9 ]*\)GICv3  *27 .*/\1/p' | head -n 1)
sum() { local s=0 v; for v in $1; do s=$((s + v)); done; echo $s; }
# every_cpu COUNTS: each CPU's count is above 10.
every_cpu() { local v c=0; for v in $1; do [ "$v" -gt 10 ] || return 1; c=$((c + 1)); done; [ $c = 2 ]; }
uart=$(echo $uart) timer=$(echo $timer)
if [ "$(sum "$uart")" -gt 0 ]; then ok "the typed bytes came through the PL011's interrupt (SPI 33: $uart)"; else
	not_ok "UART interrupts" "SPI 33 counts: '${uart}'"
fi
if every_cpu "$timer"; then ok "the virtual timer interrupts every vCPU (PPI 27: $timer)"; else
	not_ok "timer interrupts" "PPI 27 counts: '${timer}'"
fi
printf 'poweroff\n' >&3
wait $pid
rc=$?
exec 3>&-
if [ $rc = 0 ] && tr -d '\r' <"$tmp/log" | grep -qx 'cvisor: exit 0'; then ok "poweroff typed in the shell ends QEMU with 0"; else
	not_ok "poweroff typed" "run-aarch64 exit $rc" "$(tail -n 5 "$tmp/log" | tr -d '\r')" "$(tail -n 3 "$tmp/err")"
fi
exit $failed
