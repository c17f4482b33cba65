#!/usr/bin/env bash
# boot/ runs inside the EL2 hypervisor too (DESIGN.md): boot/linux-arm64.c must build with no
# libc at all, and boot/fdt.c, linked with Debian's arm64 libfdt.a (scripts/setup.d/
# 10-arm64-guest), may need only the few C-library symbols listed below, which the EL2
# runtime provides. Built with the hypervisor's code-generation flags (mk/aarch64.mk).
set -u
cd "$(dirname "$0")/../.." || exit 1
. guests/linux/guest-env.sh
echo "1..3"
CC=${CROSS_COMPILE:-aarch64-linux-gnu-}gcc
LD=${CROSS_COMPILE:-aarch64-linux-gnu-}ld
NM=${CROSS_COMPILE:-aarch64-linux-gnu-}nm
WARN="-Wall -Wextra -Werror -Wmissing-prototypes -Wstrict-prototypes -Wshadow -Wundef -Wvla -Wswitch-default"
EL2="-O2 -ffreestanding -mgeneral-regs-only -mstrict-align -mno-outline-atomics -fno-stack-protector -fno-pic -fno-pie"
# What libfdt and boot/fdt.c may ask of the EL2 runtime (HOST-NOTES.md: libfdt's objects also
# want the stack protector's pair).
ALLOWED="memchr memcmp memcpy memmove memset strlen strnlen strrchr __stack_chk_fail __stack_chk_guard"
tmp=$(mktemp -d /tmp/cvisor-boot-fs.XXXXXX)
trap 'rm -rf "$tmp"' EXIT

if ! command -v "$CC" >/dev/null; then
	for i in 1 2 3; do echo "ok $i - boot/ freestanding # SKIP $CC missing: run scripts/setup"; done
	exit 0
fi

# 1, 2: linux-arm64.c with no headers but the compiler's, for the host and for AArch64 EL2.
if out=$(gcc -std=c11 $WARN -O2 -ffreestanding -nostdinc -isystem "$(gcc -print-file-name=include)" -Iinclude \
	-c boot/linux-arm64.c -o "$tmp/host.o" 2>&1) && [ -z "$(nm -u "$tmp/host.o")" ]; then
	echo "ok 1 - boot/linux-arm64.c builds freestanding for the host, no undefined symbols"
else
	echo "$out" | sed 's/^/# /'; nm -u "$tmp/host.o" 2>/dev/null | sed 's/^/# undefined: /'
	echo "not ok 1 - boot/linux-arm64.c builds freestanding for the host"
fi
if out=$($CC -std=c11 $WARN $EL2 -nostdinc -isystem "$($CC -print-file-name=include)" -Iinclude \
	-c boot/linux-arm64.c -o "$tmp/la.o" 2>&1) && [ -z "$($NM -u "$tmp/la.o")" ]; then
	echo "ok 2 - boot/linux-arm64.c builds freestanding for AArch64 EL2, no undefined symbols"
else
	echo "$out" | sed 's/^/# /'; $NM -u "$tmp/la.o" 2>/dev/null | sed 's/^/# undefined: /'
	echo "not ok 2 - boot/linux-arm64.c builds freestanding for AArch64 EL2"
fi

# 3: fdt.c against the arm64 libfdt (its libfdt_env.h includes the C library's headers).
if ! cvisor_guest_env || [ ! -f "${ARM64_LIBFDT_A:-}" ]; then
	echo "ok 3 - boot/fdt.c with arm64 libfdt.a # SKIP arm64 libfdt not fetched: run scripts/setup"
	exit 0
fi
if ! out=$($CC -std=c11 $WARN $EL2 -Iinclude -I"$ARM64_LIBFDT_INCLUDE" -c boot/fdt.c -o "$tmp/fdt.o" 2>&1) ||
	! out=$($LD -r -o "$tmp/all.o" "$tmp/fdt.o" "$tmp/la.o" "$ARM64_LIBFDT_A" 2>&1); then
	echo "$out" | sed 's/^/# /'
	echo "not ok 3 - boot/fdt.c builds and links with arm64 libfdt.a"
	exit 1
fi
need=$($NM -u "$tmp/all.o" | awk '{ print $2 }' | sort | tr '\n' ' ')
extra=
for s in $need; do
	case " $ALLOWED " in *" $s "*) ;; *) extra="$extra $s" ;; esac
done
if [ -z "$extra" ]; then
	echo "ok 3 - boot/ + arm64 libfdt.a need only: $need"
else
	echo "not ok 3 - boot/ + arm64 libfdt.a need symbols the EL2 runtime lacks:$extra"
	exit 1
fi
