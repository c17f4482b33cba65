#!/usr/bin/env bash
# Builds cvisor's Linux guest initramfs: guests/linux/rootfs plus busybox-static, as a
# gzip-compressed cpio "newc" archive (the kernel's Documentation/driver-api/early-userspace/
# buffer-format.rst).
#   guests/linux/mkinitramfs.sh BUSYBOX OUT.cpio.gz
# No root needed: /dev/console, which the kernel opens for /init's stdio before /init
# can mount devtmpfs, is written as a hand-made newc header (a device node cannot be made
# without CAP_MKNOD); the kernel reads concatenated archives.
set -euo pipefail
[ $# -eq 2 ] || { echo "usage: $0 BUSYBOX OUT.cpio.gz" >&2; exit 2; }
busybox=$1 out=$2
here=$(cd "$(dirname "$0")" && pwd)
command -v cpio >/dev/null || { echo "$0: cpio is missing: run scripts/setup" >&2; exit 1; }
[ -f "$busybox" ] || { echo "$0: $busybox: no such file: run scripts/setup" >&2; exit 1; }

stage=$(mktemp -d)
trap 'rm -rf "$stage" "$out.tmp"' EXIT
cp -a "$here/rootfs/." "$stage/"
mkdir -p "$stage"/{bin,sbin,usr/bin,usr/sbin,proc,sys,dev,tmp,root}
cp "$busybox" "$stage/bin/busybox"
chmod 755 "$stage/bin/busybox" "$stage/init"

# One newc entry with no data: $1 name, $2 mode, $3 nlink, $4/$5 rdev major/minor.
newc_entry() {
	local namesize=$((${#1} + 1))
	printf '070701%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X' \
		0 "$2" 0 0 "$3" 0 0 0 0 "$4" "$5" "$namesize" 0
	printf '%s\0' "$1"
	# Header (110 bytes) plus name padded to a multiple of 4.
	head -c $(((4 - (110 + namesize) % 4) % 4)) /dev/zero
}
{
	newc_entry dev $((0040755)) 2 0 0
	newc_entry dev/console $((0020600)) 1 5 1
	newc_entry 'TRAILER!!!' 0 1 0 0
	(cd "$stage" && find . -mindepth 1 | LC_ALL=C sort | cpio -o -H newc -R 0:0 --quiet)
} | gzip -9 -n >"$out.tmp"
mv "$out.tmp" "$out"
trap 'rm -rf "$stage"' EXIT
