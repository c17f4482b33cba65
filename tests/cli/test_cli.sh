#!/usr/bin/env bash
# The cvisor command's behaviour that needs no guest: --help and --version exit 0, usage
# errors and bad configs exit 2 with one message on stderr naming the file and the key,
# and nothing on stdout (the guest console's channel).
set -u
cd "$(dirname "$0")/../.." || exit 1
CVISOR=${CVISOR:-build/x86_64/cvisor}
tmp=$(mktemp -d /tmp/cvisor-test-cli.XXXXXX)
trap 'rm -rf "$tmp"' EXIT
n=0 failed=0

ok() { n=$((n + 1)); echo "ok $n - $1"; }
not_ok() { n=$((n + 1)); failed=1; echo "not ok $n - $1"; shift; for l in "$@"; do echo "# $l"; done; }

# expect NAME RC STDERR_SUBSTRING STDOUT_SUBSTRING -- ARGS...: runs cvisor ARGS, checks the
# exit status and that stderr / stdout contain the substrings ("" for don't care, "-" for
# must be empty).
expect() {
	local name=$1 rc=$2 err_want=$3 out_want=$4
	shift 5
	timeout 20 "$CVISOR" "$@" >"$tmp/out" 2>"$tmp/err"
	local got=$?
	local out err
	out=$(cat "$tmp/out") err=$(cat "$tmp/err")
	if [ "$got" -ne "$rc" ]; then
		not_ok "$name" "cvisor $* exited $got, wanted $rc" "stderr: $err"
	elif [ "$err_want" = "-" ] && [ -n "$err" ]; then
		not_ok "$name" "stderr should be empty: $err"
	elif [ "$err_want" != "-" ] && [ -n "$err_want" ] && [[ "$err" != *"$err_want"* ]]; then
		not_ok "$name" "stderr lacks '$err_want'" "stderr: $err"
	elif [ "$out_want" = "-" ] && [ -n "$out" ]; then
		not_ok "$name" "stdout should be empty: $out"
	elif [ "$out_want" != "-" ] && [ -n "$out_want" ] && [[ "$out" != *"$out_want"* ]]; then
		not_ok "$name" "stdout lacks '$out_want'" "stdout: $out"
	elif [ "$rc" -eq 2 ] && [ "$(wc -l <"$tmp/err")" -ne 1 ]; then
		not_ok "$name" "a usage error is one line on stderr" "stderr: $err"
	else
		ok "$name"
	fi
}

if [ ! -x "$CVISOR" ]; then
	echo "not ok 1 - $CVISOR is not built"
	exit 1
fi

expect "--help exits 0, text on stdout" 0 - "usage: cvisor" -- --help
expect "-h exits 0" 0 - "Commands:" -- -h
expect "help run" 0 - "--config FILE" -- help run
expect "--version exits 0" 0 - "cvisor 0." -- --version
expect "version" 0 - "cvisor 0." -- version
expect "run --help exits 0" 0 - "usage: cvisor run" -- run --help
expect "run -h exits 0" 0 - "--stats" -- run -h
expect "no command: usage error" 2 "no command given" - --
expect "unknown command" 2 "unknown command 'frobnicate'" - -- frobnicate
expect "unknown top-level option" 2 "unknown option '--frob'" - -- --frob
expect "help on an unknown command" 2 "help: unknown command 'nope'" - -- help nope
expect "run: unknown option" 2 "unknown option '--frob'" - -- run --frob
expect "run: unexpected argument" 2 "unexpected argument 'extra'" - -- run extra
expect "run: --cpus without a value" 2 "--cpus needs a value" - -- run --cpus
expect "run: --cpus 0" 2 "--cpus '0'" - -- run --cpus 0
expect "run: --cpus 65" 2 "--cpus '65'" - -- run --cpus 65
expect "run: --cpus garbage" 2 "--cpus 'four'" - -- run --cpus four
expect "run: --mem not a size" 2 "--mem '12Q'" - -- run --mem 12Q
expect "run: --mem not page aligned" 2 "--mem '5000': give a multiple of 4K" - -- run --mem 5000
expect "run: --mem negative" 2 "--mem '-64M'" - -- run --mem -64M
expect "run: --timeout 0" 2 "--timeout '0'" - -- run --timeout 0
expect "run: --guest twice" 2 "--guest given twice" - -- run --guest a --guest b
expect "run: missing --guest file" 2 "run: --guest: cannot open $tmp/none.bin" - -- run --guest "$tmp/none.bin"
expect "run: --guest a folder" 2 "is not a regular file" - -- run --guest "$tmp"
: >"$tmp/empty.bin"
expect "run: --guest an empty file" 2 "is empty" - -- run --guest "$tmp/empty.bin"
head -c 8192 /dev/zero >"$tmp/8k.bin"
expect "run: --guest too large for --mem" 2 "run: --mem: the guest image (8192 bytes at 0x100000) does not fit" - \
	-- run --guest "$tmp/8k.bin" --mem 1M
expect "run: --config with --cpus" 2 "--cpus applies to the demo or --guest VM" - -- run --config configs/demo.json --cpus 2
expect "run: missing config" 2 "$tmp/none.json: (file): cannot open" - -- run --config "$tmp/none.json"

# Bad configs: each exits 2 with FILE: KEY: REASON.
bad_config() { # NAME JSON WANT
	printf '%s\n' "$2" >"$tmp/bad.json"
	expect "bad config: $1" 2 "cvisor: $tmp/bad.json: $3" - -- run --config "$tmp/bad.json"
}
R='{"gpa": 0, "size": "64M"}'
printf '{"base": {\n' >"$tmp/bad.json"
expect "bad config: syntax" 2 "cvisor: $tmp/bad.json:2:1: (JSON syntax)" - -- run --config "$tmp/bad.json"
bad_config "unknown key" '{"base": {"id": 1, "name": "a", "cpu_num": 1, "cpus": 1}, "kernel": {"memory_regions": ['"$R"']}}' \
	"base.cpus: unknown key"
bad_config "cpu_num 0" '{"base": {"id": 1, "name": "a", "cpu_num": 0}, "kernel": {"memory_regions": ['"$R"']}}' \
	"base.cpu_num: must be between 1 and 64"
bad_config "overlap" '{"base": {"id": 1, "name": "a", "cpu_num": 1}, "kernel": {"memory_regions": ['"$R"', ["32M", "4K"]]}}' \
	"kernel.memory_regions[1]: overlaps kernel.memory_regions[0]"
bad_config "size overflow" '{"base": {"id": 1, "name": "a", "cpu_num": 1}, "kernel": {"memory_regions": [[0, "99999999999999999999"]]}}' \
	"kernel.memory_regions[0][1] (size): too large"
bad_config "missing kernel file" '{"base": {"id": 1, "name": "a", "cpu_num": 1}, "kernel": {"kernel_path": "nope.bin", "memory_regions": ['"$R"']}}' \
	"kernel.kernel_path: cannot open $tmp/nope.bin"
bad_config "identical map_type when hosted" '{"base": {"id": 1, "name": "a", "cpu_num": 1}, "kernel": {"memory_regions": [[0, "64M", 7, 1]]}}' \
	"kernel.memory_regions[0]: map_type identical (1) is not possible when hosted"
bad_config "part of the x86 boot area" '{"base": {"id": 1, "name": "a", "cpu_num": 1}, "kernel": {"memory_regions": [["0xc000", "16M"]]}}' \
	"kernel.memory_regions[0]: holds part of the x86 boot area [0x8000, 0x10000)"
bad_config "phys_cpu_ids beyond the host" '{"base": {"id": 1, "name": "a", "cpu_num": 1, "phys_cpu_ids": [4096]}, "kernel": {"memory_regions": ['"$R"']}}' \
	"base.phys_cpu_ids[0]: host CPU 4096 does not exist"
bad_config "dtb on x86" '{"base": {"id": 1, "name": "a", "cpu_num": 1}, "kernel": {"dtb_path": "bad.json", "memory_regions": ['"$R"']}}' \
	"kernel.dtb_path: x86_64 guests take no device tree"
bad_config "image past RAM" '{"base": {"id": 1, "name": "a", "cpu_num": 1}, "kernel": {"kernel_path": "8k.bin", "kernel_load_addr": "0x3fff000", "memory_regions": ['"$R"']}}' \
	"kernel.kernel_load_addr: the guest image (8192 bytes at 0x3fff000) does not fit"
bad_config "emulated devices" '{"base": {"id": 1, "name": "a", "cpu_num": 1}, "kernel": {"memory_regions": ['"$R"']}, "devices": {"emu_devices": [1]}}' \
	"devices.emu_devices: not supported yet"
cp configs/demo.json "$tmp/a.json"
cp configs/demo.json "$tmp/b.json"
expect "two configs with one id" 2 "$tmp/b.json: base.id: 1 is also the id of $tmp/a.json's VM" - \
	-- run --config "$tmp/a.json" --config "$tmp/b.json"
args=()
for i in $(seq 9); do args+=(--config configs/demo.json); done
expect "more than 8 VMs" 2 "too many VMs (at most 8)" - -- run "${args[@]}"

echo "1..$n"
exit $failed
