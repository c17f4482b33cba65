#!/usr/bin/env bash
# make bench-linux (issue #7): time from QEMU start to the first line of the guest's /init
# ("cvisor-init: start"), Debian's arm64 kernel with the project's initramfs, 2 vCPUs and
# 256 MiB, QEMU -smp 2 and the same -cpu in both: directly under QEMU at EL1, and under
# cvisor (scripts/run-aarch64) once it boots Linux. 5 boots each, interleaved; prints
#   boot-to-init: cvisor X.XX s, direct Y.YY s, ratio Z.ZZ
# (medians). It reports; it does not fail on a slow ratio. BOOTS=N changes the count.
set -u
cd "$(dirname "$0")/../.." || exit 1
. guests/linux/guest-env.sh
boots=${BOOTS:-5}
initrd=build/linux-guest/initrd.gz
cmdline="console=ttyAMA0 panic=-1 quiet cvisor.test=poweroff"
marker="cvisor-init: start"
command -v qemu-system-aarch64 >/dev/null || { echo "bench-linux: qemu-system-aarch64 missing: run scripts/setup" >&2; exit 1; }
cvisor_guest_env || { echo "bench-linux: no Debian arm64 kernel: run scripts/setup" >&2; exit 1; }
[ -f "$initrd" ] || { echo "bench-linux: $initrd missing: make linux-initrd" >&2; exit 1; }
tmp=$(mktemp -d /tmp/cvisor-bench-linux.XXXXXX)
trap 'rm -rf "$tmp"' EXIT

# Under cvisor only when scripts/run-aarch64 takes a Linux kernel (issue #7's options).
cvisor=no
if [ -x scripts/run-aarch64 ] && scripts/run-aarch64 --help 2>/dev/null | grep -q -- '--kernel'; then
	cvisor=yes
fi

# time_boot NAME CMD...: seconds from QEMU's start to the marker line, or "fail". Under
# cvisor, QEMU's start is when scripts/run-aarch64 launches it (RUN_AARCH64_STAMP), after
# its builds and config checks, so both columns time the same thing.
time_boot() {
	local name=$1 start line t=fail
	shift
	start=$EPOCHREALTIME
	rm -f "$tmp/stamp"
	while IFS= read -r line; do
		if [ "$t" = fail ] && [[ "$line" == "$marker"* ]]; then
			[ -s "$tmp/stamp" ] && start=$(cat "$tmp/stamp")
			t=$(awk -v a="$start" -v b="$EPOCHREALTIME" 'BEGIN { printf "%.3f", b - a }')
		fi
	done < <(RUN_AARCH64_STAMP=$tmp/stamp timeout 60 "$@" </dev/null 2>&1)
	echo "$t"
}

median() { sort -n | awk '{ v[NR] = $1 } END { if (NR == 0) print "nan"; else if (NR % 2) print v[(NR + 1) / 2]; else printf "%.3f\n", (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }

for ((i = 1; i <= boots; i++)); do
	t=$(time_boot direct qemu-system-aarch64 -M virt,gic-version=3 -cpu max,pauth-impdef=on -smp 2 -m 256M \
		-nographic -no-reboot -kernel "$ARM64_KERNEL" -initrd "$initrd" -append "$cmdline")
	echo "direct boot $i: $t s" >&2
	[ "$t" = fail ] || echo "$t" >>"$tmp/direct"
	if [ $cvisor = yes ]; then
		t=$(time_boot cvisor scripts/run-aarch64 --pcpus 2 --cpus 2 --mem 256M --kernel "$ARM64_KERNEL" \
			--initrd "$initrd" --cmdline "$cmdline" --no-reboot)
		echo "cvisor boot $i: $t s" >&2
		[ "$t" = fail ] || echo "$t" >>"$tmp/cvisor"
	fi
done
direct=$(median <"$tmp/direct" 2>/dev/null || echo nan)
if [ $cvisor = yes ] && [ -s "$tmp/cvisor" ]; then
	c=$(median <"$tmp/cvisor")
	printf 'boot-to-init: cvisor %.2f s, direct %.2f s, ratio %.2f\n' "$c" "$direct" \
		"$(awk -v a="$c" -v b="$direct" 'BEGIN { print a / b }')"
else
	why="scripts/run-aarch64 cannot boot a Linux kernel yet"
	[ $cvisor = yes ] && why="every cvisor boot failed"
	printf 'boot-to-init: cvisor n/a (%s), direct %.2f s\n' "$why" "$direct"
fi
