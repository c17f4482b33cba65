#!/usr/bin/env bash
# tests/cli/test_cli.sh and tests/cli/test_run.sh again, against cvisor built with
# ASan+UBSan: any memory error, undefined behaviour or leak on the command's paths
# (config errors, runs, resets, timeouts, signals) makes cvisor fail, and so the test.
cd "$(dirname "$0")/../.." || exit 1
export CVISOR=build/x86_64/cvisor-asan
export ASAN_OPTIONS=detect_leaks=1:abort_on_error=0:exitcode=99
export UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1
set -o pipefail
rc=0
tests/cli/test_cli.sh | sed 's/^\(\(not \)\?ok [0-9]* - \)/\1asan: /' || rc=1
tests/cli/test_run.sh | sed 's/^\(\(not \)\?ok [0-9]* - \)/\1asan: /' || rc=1
exit $rc
