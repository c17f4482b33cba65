#!/usr/bin/env bash
# Console input reaches a guest (guests/aarch64/echo.c, with the vGIC): text piped into
# QEMU's serial port goes through cvisor's console to the guest's emulated PL011 and its
# interrupt; the guest echoes each line. Exact console (tests/aarch64/expected/echo.out)
# without the "echo-stats" line (shown as a comment), and the exit status.
cd "$(dirname "$0")/../.." || exit 1
echo "1..2"
if ! command -v qemu-system-aarch64 >/dev/null || ! command -v aarch64-linux-gnu-gcc >/dev/null; then
	for i in 1 2; do echo "ok $i - aarch64 console input # SKIP qemu-system-aarch64 or aarch64-linux-gnu-gcc missing: run scripts/setup"; done
	exit 0
fi
mkdir -p build
if ! out=$(flock build/.aarch64.lock make -s --no-print-directory ARCH=aarch64 PLATFORM=qemu-virt build/aarch64/cvisor-echo.elf 2>&1); then
	echo "$out" | tail -n 20 | sed 's/^/# /'
	for i in 1 2; do echo "not ok $i - aarch64 console input (build failed)"; done
	exit 1
fi
tmp=$(mktemp)
trap 'rm -f "$tmp" "$tmp.diff"' EXIT
# Two lines, then a long one (more than the guest's 32-byte FIFO: flow control), then quit.
long=$(printf 'x%.0s' $(seq 1 100))
printf 'hello world\nsecond line\n%s\nquit\n' "$long" |
	timeout --kill-after=5 30 qemu-system-aarch64 -M virt,virtualization=on,gic-version=3 \
		-cpu max,pauth-impdef=on -smp 1 -m 128M -nographic -no-reboot \
		-kernel build/aarch64/cvisor-echo.elf >"$tmp" 2>&1
rc=$?
tr -d '\r' <"$tmp" | grep '^echo-stats' | sed 's/^/# /'
got=$(tr -d '\r' <"$tmp" | grep -v '^echo-stats')
if [ $rc = 0 ] && echo "$got" | grep -qx 'cvisor: exit 0'; then
	echo "ok 1 - echo guest: QEMU exit 0, cvisor: exit 0"
else
	echo "not ok 1 - echo guest: QEMU exit $rc"
	echo "$got" | tail -n 20 | sed 's/^/# /'
fi
want=$(sed "s/@LONG@/$long/" tests/aarch64/expected/echo.out)
if diff <(echo "$got") <(echo "$want") >"$tmp.diff"; then
	echo "ok 2 - typed lines reach the guest through its UART's interrupt and come back: exact console"
else
	echo "not ok 2 - typed lines reach the guest through its UART's interrupt and come back"
	sed 's/^/# /' "$tmp.diff"
	exit 1
fi
[ $rc = 0 ]
