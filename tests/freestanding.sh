#!/usr/bin/env bash
# core/ builds freestanding with the host compiler and aarch64-linux-gnu-gcc (DESIGN.md).
cd "$(dirname "$0")/.." || exit 1
echo "1..1"
if ! command -v aarch64-linux-gnu-gcc >/dev/null; then
	echo "not ok 1 - freestanding core build # aarch64-linux-gnu-gcc missing: run scripts/setup"
	exit 1
fi
if out=$(make -s ARCH=x86_64 freestanding 2>&1); then
	echo "ok 1 - freestanding core build ($out)"
else
	echo "$out" | sed 's/^/# /'
	echo "not ok 1 - freestanding core build"
	exit 1
fi
